#!/usr/bin/python3
"""Write synthetic CloudTrail log files, as AWS delivers them to S3.

    /usr/bin/python3 bench/gen-cloudtrail.py --out DIR [--events N]
        [--accounts 111111111111,222222222222] [--start 2026-11-16T00:00:00Z]
        [--days 7] [--seed S] [--level 6]

Writes N records into gzip files of 1000 to 5000 records each, laid out as
CloudTrail lays them out:

    DIR/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
        ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_XXXXXXXXXXXXXXXX.json.gz

each file one line of compact JSON, {"Records":[...]}.  A record is what
CloudTrail writes for the call it stands for (0.9 to 2.3 KB, 1.56 KB on
average): userIdentity
with sessionContext, requestParameters, responseElements, resources,
tlsDetails, a browser's or an SDK's userAgent.  The mix: S3 object reads
and writes by application roles, EC2/IAM/RDS/KMS/Secrets Manager calls by
SSO people (AssumedRole sessions named by e-mail), IAM users, SAML
federation, AWS services, a root console login now and then, and about
2 % refused calls (errorCode AccessDenied).  Each file's records fall in
the few minutes before its delivery time, spread over the period.

Deterministic: the same options give byte-identical files (seeded
random.Random, no clock; gzip headers carry no name and mtime 0).
Standard library only.  Prints the number of files and records.
"""

import argparse
import datetime
import json
import os
import random
import sys
import zlib

REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "us-west-2"]
PEOPLE = [
    "alice.martin@example.com", "bob.nguyen@example.com",
    "carol.jones@example.com", "dave.okafor@example.com",
    "erin.schmidt@example.com", "frank.lopez@example.com",
    "grace.kim@example.com", "heidi.novak@example.com",
]
SSO_ROLES = [
    "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
    "AWSReservedSSO_PowerUserAccess_fedcba9876543210",
    "AWSReservedSSO_ReadOnlyAccess_00aa11bb22cc33dd",
]
APP_ROLES = ["payments-api", "ledger-worker", "ingest-lambda",
             "reporting-batch", "backup-agent"]
IAM_USERS = ["ci-deploy", "terraform", "legacy-export",
             "grace.kim@example.com"]
BUCKETS = ["payments-invoices", "ledger-archive", "ingest-landing",
           "reports-monthly", "backups-db"]
AGENTS_SDK = [
    "aws-sdk-go-v2/1.24.1 os/linux lang/go#1.21.6 md/GOOS#linux "
    "md/GOARCH#amd64 api/s3#1.48.1",
    "Boto3/1.34.14 md/Botocore#1.34.14 ua/2.0 os/linux#5.10.205 "
    "md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode"
    "#legacy Botocore/1.34.14",
    "aws-sdk-java/2.21.46 Linux/5.10.205-195.807.amzn2.x86_64 "
    "OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc."
    " io/sync http/Apache cfg/retry-mode/legacy",
]
AGENTS_PEOPLE = [
    "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0-14-generic exe/x86_64.ubuntu"
    ".22 prompt/off command/ec2.describe-instances",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/"
    "5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go/1.49.13 (go1.21.5; linux; amd64)",
]
CIPHERS = ["TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]
KEYCHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Gen:
    def __init__(self, rng, accounts):
        self.r = rng
        self.accounts = accounts

    def hexid(self, n):
        return "%0*x" % (n, self.r.getrandbits(4 * n))

    def uuid(self):
        h = self.hexid(32)
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20],
                                   h[20:])

    def akid(self, prefix="ASIA"):
        return prefix + "".join(self.r.choice(KEYCHARS) for _ in range(16))

    def ip(self):
        r = self.r
        return "%d.%d.%d.%d" % (r.randint(3, 223), r.randint(0, 255),
                                r.randint(0, 255), r.randint(1, 254))

    # --- who -----------------------------------------------------------

    def session(self, account, role, name, created):
        pid = "AROA" + self.hexid(17).upper()
        path = "/aws-reserved/sso.amazonaws.com/" if role.startswith(
            "AWSReservedSSO") else "/"
        return {
            "type": "AssumedRole",
            "principalId": "%s:%s" % (pid, name),
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role,
                                                           name),
            "accountId": account,
            "accessKeyId": self.akid(),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": pid,
                    "arn": "arn:aws:iam::%s:role%s%s" % (account, path, role),
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {
                    "creationDate": created,
                    "mfaAuthenticated": "false",
                },
            },
        }

    def identity(self, account, when):
        r = self.r.random()
        created = when
        if r < 0.40:
            role = self.r.choice(APP_ROLES)
            return self.session(account, role, "i-" + self.hexid(17),
                                created), "app"
        if r < 0.75:
            ident = self.session(account, self.r.choice(SSO_ROLES),
                                 self.r.choice(PEOPLE), created)
            return ident, "person"
        if r < 0.88:
            user = self.r.choice(IAM_USERS)
            return {
                "type": "IAMUser",
                "principalId": "AIDA" + self.hexid(17).upper(),
                "arn": "arn:aws:iam::%s:user/%s" % (account, user),
                "accountId": account,
                "accessKeyId": self.akid("AKIA"),
                "userName": user,
            }, "user"
        if r < 0.93:
            return {
                "type": "SAMLUser",
                "principalId": "SxTw6c1dvq0zuHLAK2ROUi8bZVI=:%s"
                % self.r.choice(PEOPLE),
                "userName": self.r.choice(PEOPLE),
                "identityProvider": "SxTw6c1dvq0zuHLAK2ROUi8bZVI=",
            }, "saml"
        if r < 0.995:
            return {
                "type": "AWSService",
                "invokedBy": self.r.choice(["ec2.amazonaws.com",
                                            "lambda.amazonaws.com",
                                            "cloudformation.amazonaws.com"]),
            }, "service"
        return {
            "type": "Root",
            "principalId": account,
            "arn": "arn:aws:iam::%s:root" % account,
            "accountId": account,
            "accessKeyId": "",
        }, "root"

    # --- what ----------------------------------------------------------

    def call(self, account, region, kind):
        """(eventSource, eventName, readOnly, requestParameters,
        responseElements, resources, management)"""
        r = self.r
        if kind == "service":
            role = r.choice(APP_ROLES)
            return ("sts.amazonaws.com", "AssumeRole", False, {
                "roleArn": "arn:aws:iam::%s:role/%s" % (account, role),
                "roleSessionName": "i-" + self.hexid(17),
            }, {
                "credentials": {
                    "accessKeyId": self.akid(),
                    "sessionToken": "<sessionToken>",
                    "expiration": "Nov 17, 2026, 3:10:05 PM",
                },
            }, [{"accountId": account, "type": "AWS::IAM::Role",
                 "ARN": "arn:aws:iam::%s:role/%s" % (account, role)}], True)
        if kind == "root":
            return ("signin.amazonaws.com", "ConsoleLogin", False, None,
                    {"ConsoleLogin": "Success"}, None, True)
        if kind == "saml":
            role = r.choice(SSO_ROLES)
            return ("sts.amazonaws.com", "AssumeRoleWithSAML", False, {
                "sAMLAssertionID": "_" + self.hexid(32),
                "roleSessionName": r.choice(PEOPLE),
                "principalArn": "arn:aws:iam::%s:saml-provider/Okta"
                % account,
                "roleArn": "arn:aws:iam::%s:role/%s" % (account, role),
                "durationSeconds": 3600,
            }, {
                "subjectType": "persistent",
                "issuer": "http://www.okta.com/exk" + self.hexid(16),
                "audience": "https://signin.aws.amazon.com/saml",
                "credentials": {"accessKeyId": self.akid(),
                                "sessionToken": "<sessionToken>",
                                "expiration": "Nov 17, 2026, 3:10:05 PM"},
            }, None, True)
        x = r.random()
        if kind == "app" or x < 0.25:
            bucket = r.choice(BUCKETS)
            key = "%s/%04d/%s.json" % (r.choice(["in", "out", "tmp"]),
                                       r.randint(0, 9999), self.hexid(12))
            name = r.choice(["PutObject", "GetObject", "GetObject",
                             "HeadObject", "DeleteObject"])
            params = {
                "bucketName": bucket,
                "Host": "%s.s3.%s.amazonaws.com" % (bucket, region),
                "key": key,
            }
            if name == "PutObject":
                params["x-amz-server-side-encryption"] = "aws:kms"
            resp = None
            if name == "PutObject":
                resp = {
                    "x-amz-server-side-encryption": "aws:kms",
                    "x-amz-server-side-encryption-aws-kms-key-id":
                    "arn:aws:kms:%s:%s:key/%s" % (region, account,
                                                  self.uuid()),
                }
            return ("s3.amazonaws.com", name, name[0] in "GH", params, resp,
                    [{"type": "AWS::S3::Object",
                      "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)},
                     {"accountId": account, "type": "AWS::S3::Bucket",
                      "ARN": "arn:aws:s3:::%s" % bucket}], False)
        if x < 0.45:
            iid = "i-" + self.hexid(17)
            return ("ec2.amazonaws.com", "DescribeInstances", True, {
                "instancesSet": {"items": [{"instanceId": iid}]},
                "filterSet": {},
                "includeAllInstances": False,
            }, None, None, True)
        if x < 0.55:
            iid = "i-" + self.hexid(17)
            name = r.choice(["StopInstances", "StartInstances",
                             "ModifyInstanceAttribute"])
            return ("ec2.amazonaws.com", name, False, {
                "instanceId": iid,
                "instancesSet": {"items": [{"instanceId": iid}]},
                "force": False,
            }, {
                "requestId": self.uuid(),
                "instancesSet": {"items": [{
                    "instanceId": iid,
                    "currentState": {"code": 64, "name": "stopping"},
                    "previousState": {"code": 16, "name": "running"},
                }]},
            }, None, True)
        if x < 0.62:
            return ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
                    False, {
                        "groupId": "sg-" + self.hexid(17),
                        "ipPermissions": {"items": [{
                            "ipProtocol": "tcp", "fromPort": 443,
                            "toPort": 443, "groups": {},
                            "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]},
                            "ipv6Ranges": {}, "prefixListIds": {}}]},
                    }, {"requestId": self.uuid(), "_return": True},
                    None, True)
        if x < 0.72:
            role = r.choice(APP_ROLES)
            name = r.choice(["AttachRolePolicy", "PutRolePolicy",
                             "UpdateAssumeRolePolicy", "GetRole"])
            return ("iam.amazonaws.com", name, name == "GetRole", {
                "roleName": role,
                "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            }, None, None, True)
        if x < 0.78:
            user = r.choice(IAM_USERS)
            return ("iam.amazonaws.com", "CreateAccessKey", False,
                    {"userName": user}, {"accessKey": {
                        "accessKeyId": self.akid("AKIA"), "status": "Active",
                        "userName": user,
                        "createDate": "Nov 17, 2026 9:05:12 AM"}},
                    None, True)
        if x < 0.86:
            sid = "arn:aws:secretsmanager:%s:%s:secret:%s/db-%s" % (
                region, account, r.choice(APP_ROLES), self.hexid(6))
            name = r.choice(["GetSecretValue", "PutSecretValue",
                             "DescribeSecret"])
            return ("secretsmanager.amazonaws.com", name, name != "PutSecretValue",
                    {"secretId": sid}, None, None, True)
        if x < 0.92:
            return ("rds.amazonaws.com", "ModifyDBInstance", False, {
                "dBInstanceIdentifier": r.choice(["payments-db", "ledger-db",
                                                  "reports-db"]),
                "backupRetentionPeriod": 14,
                "applyImmediately": True,
            }, None, None, True)
        if x < 0.97:
            key = "arn:aws:kms:%s:%s:key/%s" % (region, account, self.uuid())
            return ("kms.amazonaws.com", "Decrypt", True, {
                "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::%s"
                                      % r.choice(BUCKETS)},
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            }, None, [{"accountId": account, "type": "AWS::KMS::Key",
                       "ARN": key}], True)
        role = r.choice(APP_ROLES)
        return ("sts.amazonaws.com", "AssumeRole", False, {
            "roleArn": "arn:aws:iam::%s:role/%s" % (account, role),
            "roleSessionName": "botocore-session-%d" % r.randint(1e9, 2e9),
        }, {"credentials": {"accessKeyId": self.akid(),
                            "sessionToken": "<sessionToken>",
                            "expiration": "Nov 17, 2026, 3:10:05 PM"}},
            [{"accountId": account, "type": "AWS::IAM::Role",
              "ARN": "arn:aws:iam::%s:role/%s" % (account, role)}], True)

    def record(self, account, region, t):
        r = self.r
        when = fmt_time(t)
        ident, kind = self.identity(account, fmt_time(t - r.randint(60,
                                                                    3000)))
        src, name, ro, params, resp, res, mgmt = self.call(account, region,
                                                           kind)
        rec = {
            "eventVersion": "1.09",
            "userIdentity": ident,
            "eventTime": when,
            "eventSource": src,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": (ident.get("invokedBy") or self.ip()),
            "userAgent": (ident.get("invokedBy") or r.choice(
                AGENTS_PEOPLE if kind in ("person", "user", "root", "saml")
                else AGENTS_SDK)),
        }
        if r.random() < 0.02:
            rec["errorCode"] = "AccessDenied"
            rec["errorMessage"] = (
                "User: %s is not authorized to perform: %s:%s because no "
                "identity-based policy allows the %s:%s action" % (
                    ident.get("arn", "unknown"), src.split(".")[0], name,
                    src.split(".")[0], name))
            resp = None
        rec["requestParameters"] = params
        rec["responseElements"] = resp
        if src == "s3.amazonaws.com" and r.random() < 0.4:
            rec["additionalEventData"] = {
                "SignatureVersion": "SigV4",
                "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": r.randint(0, 200000),
                "AuthenticationMethod": "AuthHeader",
                "bytesTransferredOut": 0,
            }
        rec["requestID"] = self.uuid()
        rec["eventID"] = self.uuid()
        rec["readOnly"] = ro
        if res:
            rec["resources"] = res
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = mgmt
        rec["recipientAccountId"] = account
        rec["eventCategory"] = "Management" if mgmt else "Data"
        if kind != "service":
            host = src.replace("amazonaws.com", region + ".amazonaws.com")
            rec["tlsDetails"] = {
                "tlsVersion": "TLSv1.3" if r.random() < 0.7 else "TLSv1.2",
                "cipherSuite": r.choice(CIPHERS),
                "clientProvidedHostHeader": host,
            }
        if kind == "person" and r.random() < 0.3:
            rec["sessionCredentialFromConsole"] = "true"
        return rec


def fmt_time(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gzip_bytes(data, level):
    """A gzip member with no name and mtime 0, so output is reproducible."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--accounts", default="111111111111,222222222222,"
                    "333333333333")
    ap.add_argument("--start", default="2026-11-16T00:00:00Z")
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--level", type=int, default=6,
                    help="gzip level (1-9)")
    a = ap.parse_args()

    accounts = [x for x in a.accounts.split(",") if x]
    if not accounts or any(len(x) != 12 or not x.isdigit()
                           for x in accounts):
        sys.exit("gen-cloudtrail: --accounts takes 12-digit account ids")
    start = int(datetime.datetime.strptime(
        a.start, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp())
    rng = random.Random(a.seed)
    gen = Gen(rng, accounts)

    sizes = []
    left = a.events
    while left > 0:
        n = min(left, rng.randint(1000, 5000))
        sizes.append(n)
        left -= n
    span = a.days * 86400.0 / max(1, len(sizes))
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    total = 0
    for i, n in enumerate(sizes):
        account = accounts[i % len(accounts)]
        region = REGIONS[(i // len(accounts)) % len(REGIONS)]
        lo = start + int(i * span)
        hi = max(lo + 1, start + int((i + 1) * span))
        delivered = hi + rng.randint(60, 600)
        recs = [dumps(gen.record(account, region, rng.randrange(lo, hi)))
                for _ in range(n)]
        body = ('{"Records":[' + ",".join(recs) + "]}").encode()
        d = datetime.datetime.fromtimestamp(delivered, datetime.timezone.utc)
        rel = os.path.join("AWSLogs", account, "CloudTrail", region,
                           d.strftime("%Y"), d.strftime("%m"),
                           d.strftime("%d"))
        name = "%s_CloudTrail_%s_%s_%s.json.gz" % (
            account, region, d.strftime("%Y%m%dT%H%MZ"),
            "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                               "qrstuvwxyz0123456789") for _ in range(16)))
        os.makedirs(os.path.join(a.out, rel), exist_ok=True)
        with open(os.path.join(a.out, rel, name), "wb") as f:
            f.write(gzip_bytes(body, a.level))
        total += n
    print("gen-cloudtrail: %d files, %d records in %s" % (len(sizes), total,
                                                          a.out))


if __name__ == "__main__":
    main()
