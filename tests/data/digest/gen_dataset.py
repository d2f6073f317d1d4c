#!/usr/bin/python3
"""
The digest's test data set: CloudTrail log files and an Azure Activity Log
export for registry-example/, and the tickets `cspf digest` must make from
them for the period 2026-11-16/P14D (tests/data/digest/expected.json).

    /usr/bin/python3 tests/data/digest/gen_dataset.py [--check]

Deterministic: a fixed seed, gzip with mtime 0 and no file name, JSON with
sorted-free fixed member order: running it twice writes the same bytes.
--check writes nothing and fails when a file would change.

The expected tickets come from this file's own model of docs/digest.md,
applied to the records as written (parsed back from the JSON, not from the
generator's intentions) and to the registry as read from registry-example/.

Where docs/digest.md leaves a choice, this model takes the one below; the
data set is built so that most of them do not change the numbers, and
expected.json repeats them under "choices".

 1. sts:AssumeRole is read-only in CloudTrail ("readOnly": true, as AWS
    logs it).  Those events are left out of every *action* count (resource,
    role and user actions) like any read-only event, but the people seen
    assuming a registry role still count for role-members and user-roles:
    without that, "people seen assuming it" could never be seen without
    --read-only.
 2. role-members and user-roles count (role, person) pairs: a role's
    registry members plus the people (known persons only) who called
    sts:AssumeRole* on it in the period, each pair once.  A person acting
    through a role session with an e-mail session name is not counted as
    assuming it unless the AssumeRole call is there too (the data always
    has it).
 3. An event is *unattributed* when its account is known and its actor is
    no known person, service account, root, registry role or AWS service,
    or its target (in a known account) is declared by no asset or
    credential.  It is counted once in the unattributed ticket of its
    account, and ALSO in every report it does belong to (an unknown
    actor's write to a team's bucket is on that team's resource-actions
    ticket too).
 4. The unattributed ticket's recipient is the account's "escalation"
    value as written (a PagerDuty URL in registry-example: no e-mail is
    given for it); events of accounts the registry does not know make one
    ticket to cspf.json's digest.escalation, in the default sink
    ("jira").
 5. A target's account: the account in its ARN, else the event's
    (S3 and AMI ARNs name none).  Azure: the subscription in the resource
    id.
 6. Azure Activity Log: one record per operation (the EndRequest; the data
    set has no BeginRequest twins).  action = operationName.value, actor =
    caller, kind user with person = caller when it has an "@", else a
    service principal (kind role); target = resourceId; account =
    subscriptionId; read-only when the operation ends in "/read"; failed
    when status is "Failed".  A bucket "ACCOUNT/CONTAINER" on an Azure
    account declares .../storageAccounts/ACCOUNT/blobServices/default/
    containers/CONTAINER and every resource id below it.  A service
    principal whose id is a credential's identity.app_id is that
    credential's service account (as an IAM user that is a credential).
 7. A service account's team: the credential's "team", else its account's
    team; its user-actions go to that team's contact.
 8. Recipients of team reports are the team's "contact".
 9. An AWS service (userIdentity.type AWSService) is a known actor: it
    gets no user-actions ticket, and is never unattributed for itself.
10. Every in-period event of the data set names a target, so the
    "no target: the account is the target" rule never decides anything.
11. A credential entry of registry-example with no team on itself or its
    account (svc-security-scanner) would have no recipient: the data set
    has no event by it.
"""
import gzip
import io
import json
import os
import random
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
REG = os.path.join(ROOT, "registry-example")
OUT_CT = os.path.join(REG, "events", "cloudtrail")
OUT_AZ = os.path.join(REG, "events", "azure-activity")
EXPECTED = os.path.join(HERE, "expected.json")

SEED = 20261116
PERIOD = "2026-11-16/P14D"
START = datetime(2026, 11, 16, tzinfo=timezone.utc)
END = START + timedelta(days=14)
DATA_END = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
PREV_START = datetime(2026, 11, 2, tzinfo=timezone.utc)

PAY, PLAT, SEC = "314159265358", "271828182845", "499701123456"
UNKNOWN_ACCOUNT = "123456789012"
SUB = "3f2b8c4e-9a1d-4e6f-8b2a-5c7d9e0f1a2b"
TENANT = "c0ffee00-1234-4abc-9def-0123456789ab"
INGEST_APP = "8d4e2a71-5b3c-4f9e-a1d6-0c7b9e3f2a58"
UNKNOWN_SP = "0b7c6d5e-4f3a-4b2c-9d1e-8f7a6b5c4d3e"

rng = random.Random(SEED)


def rid():
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def alnum(n, chars="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return "".join(rng.choice(chars) for _ in range(n))


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def when(lo=START, hi=DATA_END):
    span = int((hi - lo).total_seconds())
    return lo + timedelta(seconds=rng.randrange(span))


# ------------------------------------------------------------ identities

SSO_ROLES = {
    PAY: "AWSReservedSSO_PaymentsEngineer_1a2b3c4d5e6f7a8b",
    PLAT: "AWSReservedSSO_PlatformAdmin_9f8e7d6c5b4a3f2e",
    SEC: "AWSReservedSSO_SecurityOps_0a9b8c7d6e5f4a3b",
}
ROLE_IDS = {}


def role_id(acc, name):
    key = (acc, name)
    if key not in ROLE_IDS:
        ROLE_IDS[key] = "AROA" + alnum(17)
    return ROLE_IDS[key]


def assumed(acc, role, session, path="", t=None, console=False):
    rarn = "arn:aws:iam::%s:role/%s%s" % (acc, path, role)
    rolid = role_id(acc, role)
    ident = {
        "type": "AssumedRole",
        "principalId": "%s:%s" % (rolid, session),
        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acc, role, session),
        "accountId": acc,
        "accessKeyId": "ASIA" + alnum(16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": rolid,
                "arn": rarn,
                "accountId": acc,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {
                "creationDate": iso((t or START) - timedelta(minutes=rng.randrange(1, 50))),
                "mfaAuthenticated": "false",
            },
        },
    }
    return ident, console


def sso(acc, email, t):
    return assumed(acc, SSO_ROLES[acc], email,
                   "aws-reserved/sso.amazonaws.com/eu-west-1/", t,
                   console=rng.random() < 0.5)


def role(acc, name, session, t):
    return assumed(acc, name, session, "", t)


USER_IDS = {}


def iam_user(acc, name, key=None):
    if (acc, name) not in USER_IDS:
        USER_IDS[(acc, name)] = ("AIDA" + alnum(17), key or "AKIA" + alnum(16))
    pid, k = USER_IDS[(acc, name)]
    return {
        "type": "IAMUser",
        "principalId": pid,
        "arn": "arn:aws:iam::%s:user/%s" % (acc, name),
        "accountId": acc,
        "accessKeyId": k,
        "userName": name,
    }, False


def root(acc):
    return {
        "type": "Root",
        "principalId": acc,
        "arn": "arn:aws:iam::%s:root" % acc,
        "accountId": acc,
        "accessKeyId": "ASIA" + alnum(16),
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": iso(START), "mfaAuthenticated": "true"},
        },
    }, True


def service(name):
    return {"type": "AWSService", "invokedBy": name}, False


# ------------------------------------------------------------ records

CT = []  # (account, region, record)

AGENTS = {
    "console": "AWS Internal",
    "cli": "aws-cli/2.17.42 md/awscrt#0.21.2 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#",
    "sdk": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2",
    "boto": "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144",
    "tf": "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.64.0 aws-sdk-go-v2/1.30.4",
}
HOSTS = {
    "s3": "%s.s3.%s.amazonaws.com",
}


def record(t, acc, region, who, source, name, params, resources=None,
           response=None, read_only=False, error=None, data=False,
           agent="cli", ip=None, extra=None):
    ident, console = who
    host = source.replace(".amazonaws.com", "") + "." + region + ".amazonaws.com"
    if source in ("iam.amazonaws.com",):
        host = "iam.amazonaws.com"
    if source == "s3.amazonaws.com" and params and "bucketName" in params:
        host = "%s.s3.%s.amazonaws.com" % (params["bucketName"], region)
    r = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip or (ident.get("invokedBy") or
                                  "%d.%d.%d.%d" % (203, 0, 113, rng.randrange(1, 250))),
        "userAgent": ident.get("invokedBy") or (AGENTS["console"] if console else AGENTS[agent]),
    }
    if ident["type"] == "IAMUser" or ident["type"] == "Root":
        r["eventVersion"] = "1.08"
    if error:
        r["errorCode"] = error
        r["errorMessage"] = "User: %s is not authorized to perform: %s:%s" % (
            ident.get("arn", "?"), source.split(".")[0], name)
    r["requestParameters"] = params
    r["responseElements"] = None if error else response
    if extra:
        r.update(extra)
    r["requestID"] = alnum(16) if source == "s3.amazonaws.com" else rid()
    r["eventID"] = rid()
    r["readOnly"] = read_only
    if resources is not None:
        r["resources"] = resources
    r["eventType"] = "AwsApiCall"
    r["managementEvent"] = not data
    r["recipientAccountId"] = acc
    if ident["type"] == "AWSService":
        r["sharedEventID"] = rid()
    r["eventCategory"] = "Data" if data else "Management"
    if ident["type"] != "AWSService":
        r["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host,
        }
    if console and ident["type"] in ("AssumedRole", "Root"):
        r["sessionCredentialFromConsole"] = "true"
    CT.append((acc, region, r))
    return r


def s3_put(t, acc, region, who, bucket, key, name="PutObject", error=None,
           vpce=None):
    extra = {
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": rng.randrange(400, 90000) if name == "PutObject" else 0,
            "SSEApplied": "SSE_KMS",
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": alnum(60, "abcdefghijklmnopqrstuvwxyz0123456789+/"),
            "bytesTransferredOut": 0,
        }
    }
    if vpce:
        extra["vpcEndpointId"] = vpce
        extra["vpcEndpointAccountId"] = acc
    owner = BUCKET_ACCOUNT.get(bucket, acc)
    return record(t, acc, region, who, "s3.amazonaws.com", name,
                  {"bucketName": bucket, "Host": "%s.s3.%s.amazonaws.com" % (bucket, region), "key": key},
                  [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)},
                   {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}],
                  {"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else None,
                  error=error, data=True, agent="sdk", extra=extra)


def s3_bucket(t, acc, region, who, name, bucket, more=None, error=None):
    params = {"bucketName": bucket, "Host": "%s.s3.%s.amazonaws.com" % (bucket, region)}
    params.update(more or {})
    return record(t, acc, region, who, "s3.amazonaws.com", name, params,
                  [{"accountId": acc, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}],
                  None, error=error, extra={"additionalEventData": {
                      "SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                      "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                      "x-amz-id-2": alnum(60, "abcdefghijklmnopqrstuvwxyz0123456789+/"),
                      "bytesTransferredOut": 0}})


def iam(t, acc, who, name, params, response=None, error=None):
    return record(t, acc, "us-east-1", who, "iam.amazonaws.com", name, params,
                  None, response, error=error, agent="tf" if rng.random() < 0.3 else "cli")


def ec2(t, acc, region, who, name, params, response=None, read_only=False,
        error=None):
    return record(t, acc, region, who, "ec2.amazonaws.com", name, params,
                  None, response if response is not None else {"requestId": rid(), "_return": True},
                  read_only=read_only, error=error)


def sg_ingress(t, acc, region, who, sg, cidr, revoke=False, error=None):
    name = "RevokeSecurityGroupIngress" if revoke else "AuthorizeSecurityGroupIngress"
    perm = {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                       "groups": {}, "ipRanges": {"items": [{"cidrIp": cidr}]},
                       "ipv6Ranges": {}, "prefixListIds": {}}]}
    return ec2(t, acc, region, who, name, {"groupId": sg, "ipPermissions": perm},
               {"requestId": rid(), "_return": True,
                "securityGroupRuleSet": {"items": [{"groupOwnerId": acc, "groupId": sg,
                                                    "securityGroupRuleId": "sgr-" + alnum(17, "0123456789abcdef"),
                                                    "isEgress": False, "ipProtocol": "tcp",
                                                    "fromPort": 443, "toPort": 443,
                                                    "cidrIpv4": cidr}]}} if not revoke else None,
               error=error)


def ami_attr(t, acc, region, who, ami):
    return ec2(t, acc, region, who, "ModifyImageAttribute",
               {"imageId": ami, "launchPermission": {"add": {"items": [{"userId": PAY}]}},
                "attributeType": "launchPermission"})


def rds(t, acc, region, who, name, db, more=None, read_only=False):
    params = {"dBInstanceIdentifier": db}
    params.update(more or {})
    resp = None if read_only else {"dBInstanceIdentifier": db, "dBInstanceClass": "db.r6g.large",
                                   "engine": "postgres", "dBInstanceStatus": "available",
                                   "dBInstanceArn": "arn:aws:rds:%s:%s:db:%s" % (region, acc, db)}
    return record(t, acc, region, who, "rds.amazonaws.com", name, params, None,
                  resp, read_only=read_only)


def assume_role(t, acc, who, role_arn, session):
    racc = role_arn.split(":")[4]
    return record(t, acc, "us-east-1", who, "sts.amazonaws.com", "AssumeRole",
                  {"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600},
                  [{"accountId": racc, "type": "AWS::IAM::Role", "ARN": role_arn}],
                  {"credentials": {"accessKeyId": "ASIA" + alnum(16),
                                   "expiration": (t + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p")},
                   "assumedRoleUser": {"assumedRoleId": "%s:%s" % (role_id(racc, role_arn.split("/")[-1]), session),
                                       "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (racc, role_arn.split("/")[-1], session)}},
                  read_only=True, agent="cli")


def kms(t, acc, region, who, name, key):
    return record(t, acc, region, who, "kms.amazonaws.com", name,
                  {"keyId": key, "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::example-payments-receipts-prod"},
                   "keySpec": "AES_256"},
                  [{"accountId": acc, "type": "AWS::KMS::Key", "ARN": key}],
                  None, read_only=True, agent="sdk")


# ------------------------------------------------------------ the registry

def load_registry():
    reg = {"accounts": {}, "teams": {}, "assets": {}, "credentials": []}
    for dirpath, dirs, files in os.walk(REG):
        dirs[:] = [d for d in dirs if d not in ("events", "audit") and not d.startswith(".")]
        for f in files:
            if not f.endswith(".json") or f == "cspf.json":
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, REG)[:-5]
            with open(path) as fh:
                doc = json.load(fh)
            top = rel.split("/")[0]
            if top == "accounts":
                reg["accounts"][rel] = doc
            elif top == "teams":
                reg["teams"][rel.split("/")[1]] = doc
            elif top == "assets":
                reg["assets"][rel] = doc
            elif top == "credentials":
                for c in doc.get("credentials", []):
                    reg["credentials"].append((rel + "#" + c["username"], c))
    with open(os.path.join(REG, "cspf.json")) as fh:
        reg["config"] = json.load(fh)
    return reg


REGISTRY = load_registry()
BUCKET_ACCOUNT = {}
for _id, _a in REGISTRY["assets"].items():
    if "bucket" in _a and _a.get("account", "").startswith("accounts/aws/"):
        BUCKET_ACCOUNT[_a["bucket"]] = REGISTRY["accounts"][_a["account"]]["accountid"]


class Model:
    """docs/digest.md, read independently of cspf's C code."""

    def __init__(self, reg):
        self.reg = reg
        self.no_account_recipient = reg["config"].get("digest", {}).get(
            "escalation", "no account: set digest.escalation")
        self.by_cloud = {a["accountid"].lower(): (aid, a) for aid, a in reg["accounts"].items()}
        self.person_team = {}
        for name, t in reg["teams"].items():
            for m in t.get("members", []):
                self.person_team[m.lower()] = name
            if t.get("manager"):
                self.person_team.setdefault(t["manager"].lower(), name)
        self.local = {}
        for p in self.person_team:
            self.local.setdefault(p.split("@")[0], p)
        self.roles = {}      # role ARN -> asset
        self.ids = {}        # exact ARN/id -> owner team
        self.buckets = {}    # bucket -> owner team (AWS)
        self.az_buckets = {} # (storage account, container) -> owner team
        self.images = {}
        self.sgs = {}
        self.dbs = {}
        for aid, a in reg["assets"].items():
            owner = self.owner(a)
            if "role" in a:
                self.roles[a["role"]] = a
                self.ids[a["role"]] = owner
            if "policy" in a:
                self.ids[a["policy"]] = owner
            for k in ("arn", "resource_id"):
                if k in a:
                    self.ids[a[k]] = owner
            if "bucket" in a:
                acc = reg["accounts"].get(a.get("account", ""), {})
                if acc.get("provider") == "azure":
                    sa, _, cont = a["bucket"].partition("/")
                    self.az_buckets[(sa.lower(), cont.lower())] = owner
                else:
                    self.buckets[a["bucket"]] = owner
            if "image_id" in a:
                self.images[a["image_id"]] = owner
            if "security_group" in a:
                self.sgs[a["security_group"]] = owner
            if aid.startswith("assets/database/"):
                self.dbs[a["name"]] = owner
        self.service_users = {}  # (account id, user) -> team
        self.service_apps = {}   # app id -> team
        for cid, c in reg["credentials"]:
            ident = c.get("identity") or {}
            acc = reg["accounts"].get(c.get("account", ""), {})
            team = c.get("team") or acc.get("team")
            if ident.get("user") and acc.get("accountid"):
                self.service_users[(acc["accountid"], ident["user"])] = team
                self.ids["arn:aws:iam::%s:user/%s" % (acc["accountid"], ident["user"])] = team
            if ident.get("arn"):
                self.ids[ident["arn"]] = team
            if ident.get("app_id"):
                self.service_apps[ident["app_id"].lower()] = team

    def owner(self, a):
        if isinstance(a.get("owner"), dict) and a["owner"].get("team"):
            return a["owner"]["team"]
        if a.get("team"):
            return a["team"]
        return self.reg["accounts"].get(a.get("account", ""), {}).get("team")

    def contact(self, team):
        return self.reg["teams"][team]["contact"]

    def manager(self, person):
        return self.reg["teams"][self.person_team[person]]["manager"]

    def resolve(self, target):
        """The owner team of a target, or None."""
        if target in self.ids:
            return self.ids[target]
        if target.startswith("arn:aws:s3:::"):
            return self.buckets.get(target[13:].split("/")[0])
        if ":image/" in target:
            return self.images.get(target.split("/")[-1])
        if ":security-group/" in target:
            return self.sgs.get(target.split("/")[-1])
        if target.startswith("arn:aws:rds:") and ":db:" in target:
            return self.dbs.get(target.split(":db:")[1])
        if target.startswith("/subscriptions/"):
            parts = target.split("/")
            low = [p.lower() for p in parts]
            if "storageaccounts" in low and "containers" in low:
                sa = low[low.index("storageaccounts") + 1]
                ci = low.index("containers")
                return self.az_buckets.get((sa, low[ci + 1]))
        return None

    def target_account(self, target, account):
        if target.startswith("arn:"):
            a = target.split(":")[4]
            return a or account
        if target.startswith("/subscriptions/"):
            return target.split("/")[2]
        return account


def normalise_ct(r):
    """One CloudTrail record as docs/digest.md's table maps it."""
    ui = r.get("userIdentity") or {}
    ev = {"time": r["eventTime"],
          "action": r["eventSource"].replace(".amazonaws.com", "") + ":" + r["eventName"],
          "account": r.get("recipientAccountId") or ui.get("accountId"),
          "person": None, "role": None, "assumed_role": None}
    ty = ui.get("type")
    if ty == "Root":
        ev["kind"], ev["actor"] = "root", ui["arn"]
    elif ty == "IAMUser":
        ev["kind"], ev["actor"] = "user", ui["arn"]
    elif ty == "AssumedRole":
        ev["actor"] = ui["arn"]
        ev["role"] = ui["sessionContext"]["sessionIssuer"]["arn"]
        session = ui["arn"].split("/")[-1]
        if "@" in session:
            ev["kind"], ev["person"] = "user", session
        else:
            ev["kind"] = "role"
    elif ty == "AWSService":
        ev["kind"], ev["actor"] = "service", ui["invokedBy"]
    else:
        raise ValueError(ty)
    rp = r.get("requestParameters") or {}
    acc, region = ev["account"], r["awsRegion"]
    target = None
    if r.get("resources"):
        target = r["resources"][0]["ARN"]
    elif "bucketName" in rp:
        target = "arn:aws:s3:::" + rp["bucketName"]
    elif "roleName" in rp:
        target = "arn:aws:iam::%s:role/%s" % (acc, rp["roleName"])
    elif "userName" in rp:
        target = "arn:aws:iam::%s:user/%s" % (acc, rp["userName"])
    elif "policyArn" in rp:
        target = rp["policyArn"]
    elif "roleArn" in rp:
        target = rp["roleArn"]
    elif "instanceId" in rp:
        target = "arn:aws:ec2:%s:%s:instance/%s" % (region, acc, rp["instanceId"])
    elif "groupId" in rp:
        target = "arn:aws:ec2:%s:%s:security-group/%s" % (region, acc, rp["groupId"])
    elif "imageId" in rp:
        target = "arn:aws:ec2:%s::image/%s" % (region, rp["imageId"])
    elif "dBInstanceIdentifier" in rp:
        target = "arn:aws:rds:%s:%s:db:%s" % (region, acc, rp["dBInstanceIdentifier"])
    elif "secretId" in rp:
        target = rp["secretId"]
    ev["target"] = target
    if ev["action"].startswith("sts:AssumeRole"):
        ev["assumed_role"] = rp.get("roleArn")
    name = r["eventName"]
    ev["read_only"] = bool(r.get("readOnly")) or name.startswith(
        ("Get", "List", "Describe", "Head", "Lookup"))
    ev["failed"] = "errorCode" in r
    ev["iam_user"] = ui.get("userName") if ty == "IAMUser" else None
    ev["app"] = None
    return ev


def normalise_az(r):
    caller = r["caller"]
    op = r["operationName"]["value"]
    ev = {"time": r["eventTimestamp"], "action": op, "actor": caller,
          "account": r["subscriptionId"], "target": r["resourceId"],
          "person": caller if "@" in caller else None,
          "kind": "user" if "@" in caller else "role",
          "role": None, "assumed_role": None, "iam_user": None,
          "app": None if "@" in caller else caller,
          "read_only": op.lower().endswith("/read"),
          "failed": r["status"]["value"] == "Failed"}
    return ev


def expected(model, events):
    tickets = {}
    pairs = set()

    def add(kind, recipient, n=1, **more):
        key = (kind, recipient, more.get("account"))
        t = tickets.setdefault(key, dict(kind=kind, recipient=recipient, events=0, **more))
        t["events"] += n

    in_period = 0
    for ev in events:
        t = datetime.strptime(ev["time"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        if not (START <= t < END):
            continue
        # Rule 1: the people seen assuming a role, read-only or not.
        known_person = ev["person"] and ev["person"].lower() in model.person_team
        if ev["kind"] == "user" and ev["iam_user"]:
            u = ev["iam_user"].lower()
            p = u if u in model.person_team else model.local.get(u)
            known_person = bool(p)
            if p:
                ev["person"] = p
        if ev["assumed_role"] in model.roles and known_person:
            pairs.add((ev["assumed_role"], ev["person"].lower()))
        if ev["read_only"]:
            continue
        in_period += 1
        acc = model.by_cloud.get((ev["account"] or "").lower())
        if not acc:
            add("unattributed", model.no_account_recipient, account=None,
                sink="jira")
            continue
        acc_id, acc_doc = acc
        unattributed = False
        # resource-actions
        assert ev["target"], ev
        owner = model.resolve(ev["target"])
        if owner:
            add("resource-actions", model.contact(owner))
        elif model.target_account(ev["target"], ev["account"]).lower() in model.by_cloud:
            unattributed = True
        # role-actions
        if ev["role"] in model.roles:
            add("role-actions", model.contact(model.owner(model.roles[ev["role"]])))
        # user-actions, and whether the actor is known
        if ev["kind"] == "root":
            add("user-actions", acc_doc["root"])
        elif ev["kind"] == "service":
            pass
        elif ev["kind"] == "user" and known_person:
            add("user-actions", ev["person"].lower())
        elif ev["kind"] == "user" and ev["iam_user"] and \
                (ev["account"], ev["iam_user"]) in model.service_users:
            add("user-actions", model.contact(model.service_users[(ev["account"], ev["iam_user"])]))
        elif ev["app"] and ev["app"].lower() in model.service_apps:
            add("user-actions", model.contact(model.service_apps[ev["app"].lower()]))
        elif ev["kind"] == "role" and ev["role"] in model.roles:
            pass
        else:
            unattributed = True
        if unattributed:
            add("unattributed", acc_doc.get("escalation") or acc_doc["contact"],
                account=acc_id)
    # role-members and user-roles: (role, person) pairs
    for arn, a in model.roles.items():
        for m in a.get("members", []):
            pairs.add((arn, m.lower()))
    by_owner, by_manager = {}, {}
    for arn, person in sorted(pairs):
        by_owner.setdefault(model.contact(model.owner(model.roles[arn])), set()).add((arn, person))
        by_manager.setdefault(model.manager(person), set()).add((arn, person))
    for rcpt, s in by_owner.items():
        add("role-members", rcpt, len(s))
    for rcpt, s in by_manager.items():
        add("user-roles", rcpt, len(s))
    out = sorted(tickets.values(), key=lambda t: (t["kind"], t["recipient"] or "", t.get("account") or ""))
    return out, in_period, sorted(pairs)


# ------------------------------------------------------------ the story

def people(team):
    return REGISTRY["teams"][team]["members"]


BUCKET_RECEIPTS = "example-payments-receipts-prod"
BUCKET_TRAIL = "example-cloudtrail-archive"
BUCKET_BACKUPS = "example-ledger-backups-use1"
BUCKET_ARTIFACTS = "example-build-artifacts"
AMI_BASE, AMI_PAY = "ami-0123456789abcdef0", "ami-0fedcba9876543210"
SG_PAY_HTTPS, SG_LEDGER, SG_BASTION = "sg-0a1b2c3d4e5f60718", "sg-0c3d4e5f607182930", "sg-0b2c3d4e5f6071829"
ROLE_RUNTIME = "arn:aws:iam::%s:role/payments-api-runtime" % PAY
ROLE_AMI = "arn:aws:iam::%s:role/user-ami-generator" % PLAT
ROLE_AUDITOR = "arn:aws:iam::%s:role/security-auditor" % SEC
INSTANCES = ["i-0%s" % alnum(16, "0123456789abcdef") for _ in range(6)]


def story(lo, hi, scale):
    """Every kind of event, between lo and hi; scale 1 is the period's."""
    def n(k):
        return max(1, int(round(k * scale))) if scale < 1 else k

    def T():
        return when(lo, hi)

    # payments-prod: the API's role writes receipts (role-actions, resource-actions)
    for _ in range(n(1400)):
        t = T()
        s3_put(t, PAY, "eu-west-1", role(PAY, "payments-api-runtime", rng.choice(INSTANCES), t),
               BUCKET_RECEIPTS, "receipts/%s/%s.json.enc" % (t.strftime("%Y/%m/%d"), rid()),
               vpce="vpce-0a1b2c3d4e5f60718")
    # the service account of the card network's drop
    for _ in range(n(350)):
        t = T()
        s3_put(t, PAY, "eu-west-1", iam_user(PAY, "svc-payments-api", "AKIAEXAMPLEPAYMENTS2"),
               BUCKET_RECEIPTS, "card-network/drop/%s/%s.csv" % (t.strftime("%Y%m%d"), alnum(8)))
    # the CI's service account (team platform) opens and closes the API's group
    for i in range(n(40)):
        t = T()
        sg_ingress(t, PAY, "eu-west-1", iam_user(PAY, "svc-ci-deploy", "AKIAEXAMPLECIDEPLOY3"),
                   SG_PAY_HTTPS, "198.51.100.24/32", revoke=i % 2 == 1)
    if scale < 1:
        for _ in range(n(900)):
            t = T()
            s3_put(t, PLAT, "us-east-1", service("cloudtrail.amazonaws.com"), BUCKET_TRAIL,
                   "AWSLogs/%s/CloudTrail/eu-west-1/%s/%s.json.gz" % (PAY, t.strftime("%Y/%m/%d"), alnum(16)))
        for _ in range(n(300)):
            t = T()
            s3_put(t, PLAT, "us-east-1", iam_user(PLAT, "svc-backup-copier", "AKIAEXAMPLEBACKUPS56"),
                   BUCKET_BACKUPS, "ledger/%s/base.tar.zst" % t.strftime("%Y%m%dT%H"))
        return
    # the payments team, through SSO
    for p, k, fn in [
        (None, 10, lambda t, w: rds(t, PAY, "eu-west-1", w, "ModifyDBInstance", "payments-ledger",
                                    {"applyImmediately": False, "backupRetentionPeriod": 14})),
        (None, 14, lambda t, w: rds(t, PAY, "eu-west-1", w, "CreateDBSnapshot", "payments-ledger",
                                    {"dBSnapshotIdentifier": "ledger-manual-" + alnum(6).lower()})),
        (None, 6, lambda t, w: s3_bucket(t, PAY, "eu-west-1", w, "PutBucketTagging", BUCKET_RECEIPTS,
                                         {"tagging": ""})),
        (None, 4, lambda t, w: iam(t, PAY, w, "PutRolePolicy",
                                   {"roleName": "payments-api-runtime", "policyName": "inline-receipts",
                                    "policyDocument": "{\"Version\":\"2012-10-17\"}"})),
        (None, 3, lambda t, w: iam(t, PAY, w, "CreatePolicyVersion",
                                   {"policyArn": "arn:aws:iam::%s:policy/payments-receipts-write" % PAY,
                                    "policyDocument": "{\"Version\":\"2012-10-17\"}", "setAsDefault": True})),
        (None, 5, lambda t, w: sg_ingress(t, PAY, "eu-west-1", w, SG_LEDGER, "10.20.16.0/20")),
        (None, 8, lambda t, w: rds(t, PAY, "eu-west-1", w, "DescribeDBInstances", "payments-ledger",
                                   read_only=True)),
    ]:
        for _ in range(k):
            t = T()
            fn(t, sso(PAY, rng.choice(people("payments")), t))
    # a person as an IAM user named after her e-mail's local part
    for _ in range(3):
        t = T()
        rds(t, PAY, "eu-west-1", iam_user(PAY, "priya.patel"), "RebootDBInstance", "payments-ledger")
    # a person assumes the API's role, then acts through it
    for _ in range(2):
        t = T()
        assume_role(t, PAY, sso(PAY, "priya.patel@example.com", t), ROLE_RUNTIME, "priya.patel@example.com")
        t2 = t + timedelta(minutes=3)
        s3_put(t2, PAY, "eu-west-1", role(PAY, "payments-api-runtime", "priya.patel@example.com", t),
               BUCKET_RECEIPTS, "receipts/debug/%s.json.enc" % rid(), name="DeleteObject")
    # EC2 assumes the API's role for its instances (a service, read-only)
    for _ in range(10):
        t = T()
        assume_role(t, PAY, service("ec2.amazonaws.com"), ROLE_RUNTIME, rng.choice(INSTANCES))
    # the role reads its key and secrets (read-only)
    for _ in range(20):
        t = T()
        kms(t, PAY, "eu-west-1", role(PAY, "payments-api-runtime", rng.choice(INSTANCES), t),
            "GenerateDataKey", "arn:aws:kms:eu-west-1:%s:key/%s" % (PAY, "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"))
    for _ in range(10):
        t = T()
        record(t, PAY, "eu-west-1", role(PAY, "payments-api-runtime", rng.choice(INSTANCES), t),
               "secretsmanager.amazonaws.com", "GetSecretValue",
               {"secretId": "payments-api/config"}, None, None, read_only=True, agent="sdk")
    # the root user of payments-prod
    t = T()
    s3_bucket(t, PAY, "eu-west-1", root(PAY), "PutBucketPolicy", BUCKET_RECEIPTS,
              {"bucketPolicy": {"Version": "2012-10-17"}, "policy": ""})
    t = T()
    s3_bucket(t, PAY, "eu-west-1", root(PAY), "PutBucketVersioning", BUCKET_RECEIPTS,
              {"VersioningConfiguration": {"Status": "Enabled", "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"},
               "versioning": ""})
    # unattributable in payments-prod: an instance and a bucket no asset
    # declares, an IAM user no registry person or credential is
    for _ in range(3):
        t = T()
        ec2(t, PAY, "eu-west-1", sso(PAY, "tomas.novak@example.com", t), "ModifyInstanceAttribute",
            {"instanceId": "i-0123abcd4567ef890", "disableApiTermination": {"value": False}})
    for _ in range(2):
        t = T()
        s3_bucket(t, PAY, "eu-west-1", sso(PAY, "liam.oconnor@example.com", t), "PutBucketPolicy",
                  "example-payments-scratch", {"bucketPolicy": {"Version": "2012-10-17"}, "policy": ""})
    for i in range(5):
        t = T()
        s3_put(t, PAY, "eu-west-1", iam_user(PAY, "jenkins-legacy"), BUCKET_RECEIPTS,
               "legacy/%s.csv" % alnum(10), error="AccessDenied" if i < 2 else None)

    # platform-shared: CloudTrail delivers every account's logs (a service)
    for _ in range(900):
        t = T()
        s3_put(t, PLAT, "us-east-1", service("cloudtrail.amazonaws.com"), BUCKET_TRAIL,
               "AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s.json.gz" % (
                   rng.choice([PAY, PLAT, SEC]), rng.choice(["eu-west-1", "us-east-1"]),
                   t.strftime("%Y/%m/%d"), alnum(12), alnum(16)))
    # the backup copier's service account writes payments' backups
    for _ in range(300):
        t = T()
        s3_put(t, PLAT, "us-east-1", iam_user(PLAT, "svc-backup-copier", "AKIAEXAMPLEBACKUPS56"),
               BUCKET_BACKUPS, "ledger/%s/%s.tar.zst" % (t.strftime("%Y%m%dT%H"), alnum(6)))
    # the image pipeline's role shares AMIs (role-actions platform;
    # resource-actions platform and payments)
    for ami, k in ((AMI_BASE, 40), (AMI_PAY, 20)):
        for _ in range(k):
            t = T()
            ami_attr(t, PLAT, "eu-west-1", role(PLAT, "user-ami-generator", "image-pipeline-%d" % rng.randrange(1000, 9999), t), ami)
    for _ in range(6):
        t = T()
        ec2(t, PLAT, "eu-west-1", role(PLAT, "user-ami-generator", "image-pipeline-%d" % rng.randrange(1000, 9999), t),
            "DescribeImages", {"imagesSet": {"items": [{"imageId": AMI_BASE}]}}, read_only=True)
    # the on-premises image builder's service account
    for _ in range(120):
        t = T()
        s3_put(t, PLAT, "eu-west-1", iam_user(PLAT, "svc-image-builder", "AKIAEXAMPLEIMAGES234"),
               BUCKET_ARTIFACTS, "images/debian-12/%s/%s.qcow2" % (t.strftime("%Y%m%d"), alnum(6)))
    for _ in range(8):
        t = T()
        ami_attr(t, PLAT, "eu-west-1", iam_user(PLAT, "svc-image-builder", "AKIAEXAMPLEIMAGES234"), AMI_BASE)
    # the platform team, through SSO
    for k, fn in [
        (4, lambda t, w: s3_bucket(t, PLAT, "eu-west-1", w, "PutBucketLifecycle", BUCKET_ARTIFACTS,
                                   {"lifecycle": ""})),
        (2, lambda t, w: s3_bucket(t, PLAT, "us-east-1", w, "PutBucketVersioning", BUCKET_TRAIL,
                                   {"versioning": ""})),
        (2, lambda t, w: iam(t, PLAT, w, "AttachRolePolicy",
                             {"roleName": "user-ami-generator",
                              "policyArn": "arn:aws:iam::%s:policy/image-builder-ec2" % PLAT})),
        (3, lambda t, w: iam(t, PLAT, w, "CreatePolicyVersion",
                             {"policyArn": "arn:aws:iam::%s:policy/image-builder-ec2" % PLAT,
                              "policyDocument": "{\"Version\":\"2012-10-17\"}", "setAsDefault": True})),
        (6, lambda t, w: sg_ingress(t, PLAT, "eu-west-1", w, SG_BASTION, "10.8.0.0/16")),
    ]:
        for _ in range(k):
            t = T()
            fn(t, sso(PLAT, rng.choice(people("platform")), t))
    # an undeclared security group (unattributed)
    for _ in range(3):
        t = T()
        sg_ingress(t, PLAT, "eu-west-1", sso(PLAT, "kwame.mensah@example.com", t),
                   "sg-0feedfacecafe1234", "0.0.0.0/0")
    # people assume the image role: two members, and one who is not
    for who, k in (("olivia.martin@example.com", 3), ("sofia.garcia@example.com", 2),
                   ("kwame.mensah@example.com", 2)):
        for _ in range(k):
            t = T()
            assume_role(t, PLAT, sso(PLAT, who, t), ROLE_AMI, who)
    for _ in range(3):
        t = T()
        ami_attr(t, PLAT, "eu-west-1", role(PLAT, "user-ami-generator", "olivia.martin@example.com", t), AMI_BASE)
    # a person as an IAM user named by her e-mail
    for _ in range(3):
        t = T()
        s3_bucket(t, PLAT, "eu-west-1", iam_user(PLAT, "sofia.garcia@example.com"), "PutBucketTagging",
                  BUCKET_ARTIFACTS, {"tagging": ""})
    # the root user of platform-shared
    t = T()
    s3_bucket(t, PLAT, "us-east-1", root(PLAT), "PutBucketPolicy", BUCKET_TRAIL,
              {"bucketPolicy": {"Version": "2012-10-17"}, "policy": ""})
    # unknown actors: an SSO user in no team, a role no asset declares
    for i in range(4):
        t = T()
        s3_put(t, PLAT, "eu-west-1", sso(PLAT, "dev.contractor@partner.example", t), BUCKET_ARTIFACTS,
               "images/tmp/%s" % alnum(8), name="DeleteObject", error="AccessDenied" if i < 2 else None)
    for _ in range(2):
        t = T()
        sg_ingress(t, PLAT, "eu-west-1", role(PLAT, "terraform-legacy", "tf-run-%d" % rng.randrange(1000, 9999), t),
                   SG_BASTION, "10.9.0.0/16")

    # security-sandbox: the auditor role (non-e-mail sessions)
    for name, k, params, ro in [
        ("TagRole", 6, {"roleName": "security-auditor", "tags": [{"key": "last-scan", "value": "ok"}]}, False),
        ("UpdateRoleDescription", 2, {"roleName": "security-auditor", "description": "Audits"}, False),
        ("GetAccountAuthorizationDetails", 6, {"filter": ["User", "Role"]}, True),
    ]:
        for _ in range(k):
            t = T()
            record(t, SEC, "us-east-1", role(SEC, "security-auditor", "cspf-scan-%04d" % rng.randrange(10000), t),
                   "iam.amazonaws.com", name, params, None, None, read_only=ro, agent="boto")
    for _ in range(6):
        t = T()
        ec2(t, SEC, "eu-west-1", role(SEC, "security-auditor", "cspf-scan-%04d" % rng.randrange(10000), t),
            "DescribeSecurityGroups", {"securityGroupSet": {}, "filterSet": {}}, read_only=True)
    # its members assume it
    for who, k in (("amir.haddad@example.com", 3), ("chen.wei@example.com", 2),
                   ("user1@example.com", 2), ("user2@example.com", 1)):
        for _ in range(k):
            t = T()
            assume_role(t, SEC, sso(SEC, who, t), ROLE_AUDITOR, who)
    for _ in range(2):
        t = T()
        iam(t, SEC, role(SEC, "security-auditor", "chen.wei@example.com", t), "TagRole",
            {"roleName": "security-auditor", "tags": [{"key": "incident", "value": "IR-311"}]})
    t = T()
    iam(t, SEC, sso(SEC, "amir.haddad@example.com", t), "AttachRolePolicy",
        {"roleName": "security-auditor", "policyArn": "arn:aws:iam::aws:policy/SecurityAudit"})
    for _ in range(2):
        t = T()
        sg_ingress(t, SEC, "eu-west-1", sso(SEC, "amir.haddad@example.com", t),
                   "sg-0badc0ffee0000001", "0.0.0.0/0", revoke=True)

    # an account the registry does not know
    t = T()
    s3_put(t, UNKNOWN_ACCOUNT, "eu-west-1", iam_user(UNKNOWN_ACCOUNT, "deploy-bot"),
           "example-unknown-bucket", "drop/%s" % alnum(8))


# ------------------------------------------------------------ Azure

AZ = []
RG = "rg-analytics"
SA_ID = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/exampleanalytics" % (SUB, RG)
CONTAINER = SA_ID + "/blobServices/default/containers/exports"


def az(t, caller, op, resource, status="Succeeded", method="PUT"):
    parts = resource.split("/providers/")[-1].split("/")
    provider = parts[0]
    rtype = "/".join([provider] + parts[1::2])
    ed = rid()
    ticks = int((t - datetime(1, 1, 1, tzinfo=timezone.utc)).total_seconds() * 10**7)
    claims = {"aud": "https://management.core.windows.net/",
              "iss": "https://sts.windows.net/%s/" % TENANT,
              "http://schemas.microsoft.com/identity/claims/tenantid": TENANT}
    if "@" in caller:
        claims.update({"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": caller,
                       "http://schemas.microsoft.com/identity/claims/objectidentifier": rid(),
                       "name": caller.split("@")[0].replace(".", " ").title()})
    else:
        claims.update({"appid": caller,
                       "http://schemas.microsoft.com/identity/claims/objectidentifier": caller,
                       "idtyp": "app"})
    ts = t.strftime("%Y-%m-%dT%H:%M:%S.") + "%07dZ" % rng.randrange(10**7)
    AZ.append({
        "authorization": {"action": op, "scope": resource},
        "caller": caller,
        "category": {"localizedValue": "Administrative", "value": "Administrative"},
        "claims": claims,
        "correlationId": rid(),
        "description": "",
        "eventDataId": ed,
        "eventName": {"localizedValue": "End request", "value": "EndRequest"},
        "eventTimestamp": ts,
        "httpRequest": {"clientIpAddress": "198.51.100.%d" % rng.randrange(1, 250),
                        "clientRequestId": rid(), "method": method},
        "id": "%s/events/%s/ticks/%d" % (resource, ed, ticks),
        "level": "Error" if status == "Failed" else "Informational",
        "operationId": rid(),
        "operationName": {"localizedValue": op, "value": op},
        "properties": {"statusCode": "Forbidden" if status == "Failed" else "OK",
                       "serviceRequestId": rid(), "eventCategory": "Administrative",
                       "entity": resource, "message": op},
        "relatedEvents": [],
        "resourceGroupName": RG,
        "resourceId": resource,
        "resourceProviderName": {"localizedValue": provider, "value": provider},
        "resourceType": {"localizedValue": rtype, "value": rtype},
        "status": {"localizedValue": status, "value": status},
        "subStatus": {"localizedValue": "Forbidden" if status == "Failed" else "",
                      "value": "Forbidden" if status == "Failed" else ""},
        "submissionTimestamp": ts,
        "subscriptionId": SUB,
        "tenantId": TENANT,
    })


def azure_story():
    cw = "Microsoft.Storage/storageAccounts/blobServices/containers/write"
    for who, op, res, k in [
        ("fatima.zahra@example.com", cw, CONTAINER, 4),
        ("fatima.zahra@example.com",
         "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies/write",
         CONTAINER + "/immutabilityPolicies/default", 2),
        ("lucas.silva@example.com", cw, CONTAINER, 3),
        ("lucas.silva@example.com", "Microsoft.Compute/virtualMachines/write",
         "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/vm-adhoc-01" % (SUB, RG), 3),
        ("lucas.silva@example.com", "Microsoft.Compute/virtualMachines/read",
         "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/vm-adhoc-01" % (SUB, RG), 3),
        (INGEST_APP, cw, CONTAINER, 25),
        (UNKNOWN_SP, cw, CONTAINER, 3),
        ("yuki.tanaka@example.com", "Microsoft.Authorization/roleAssignments/write",
         CONTAINER + "/providers/Microsoft.Authorization/roleAssignments/%s" % "7c1e9a52-3b4d-4e6f-8a9b-0c1d2e3f4a5b", 2),
    ]:
        for _ in range(k):
            t = when()
            az(t, who, op, res, method="GET" if op.endswith("/read") else "PUT")
    t = when()
    az(t, "fatima.zahra@example.com", "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
       CONTAINER, status="Failed", method="DELETE")
    # the previous period: left out
    for _ in range(3):
        az(when(PREV_START, START), "fatima.zahra@example.com", cw, CONTAINER)


# ------------------------------------------------------------ writing

def build():
    story(START, DATA_END, 1)
    # the edges: the first second of the period is in, the last of the
    # one before is out (and sits in a file of the 16th)
    s3_put(START, PAY, "eu-west-1", iam_user(PAY, "svc-payments-api", "AKIAEXAMPLEPAYMENTS2"),
           BUCKET_RECEIPTS, "card-network/drop/edge-in.csv")
    s3_put(START - timedelta(seconds=1), PAY, "eu-west-1",
           iam_user(PAY, "svc-payments-api", "AKIAEXAMPLEPAYMENTS2"),
           BUCKET_RECEIPTS, "card-network/drop/edge-out.csv")
    story(PREV_START, START, 0.04)
    azure_story()


def ct_files():
    """CloudTrail's layout: one file per account, region and 6 hours."""
    groups = {}
    for acc, region, r in CT:
        t = datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        slot = t.replace(hour=t.hour - t.hour % 6, minute=0, second=0)
        # delivered a few minutes after the slot's last event
        deliver = slot + timedelta(hours=6, minutes=5)
        if r["eventTime"] == iso(START - timedelta(seconds=1)):
            deliver = START + timedelta(minutes=5)
        groups.setdefault((acc, region, deliver), []).append(r)
    files = {}
    for (acc, region, deliver), recs in sorted(groups.items()):
        recs.sort(key=lambda r: (r["eventTime"], r["eventID"]))
        name = "%s_CloudTrail_%s_%s_%s.json.gz" % (acc, region, deliver.strftime("%Y%m%dT%H%MZ"), alnum(16))
        rel = os.path.join("AWSLogs", acc, "CloudTrail", region, deliver.strftime("%Y/%m/%d"), name)
        raw = json.dumps({"Records": recs}, separators=(",", ":")).encode()
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
            g.write(raw)
        files[os.path.join(OUT_CT, rel)] = buf.getvalue()
    return files


def choices():
    """The numbered choices of this file's docstring, one line each."""
    rest = __doc__.split("under \"choices\".")[1]
    items = re.split(r"\n *\d+\. ", "\n" + rest.strip())
    return [" ".join(i.split()) for i in items if i.strip()]


def main():
    check = "--check" in sys.argv[1:]
    build()
    files = ct_files()
    AZ.sort(key=lambda e: e["eventTimestamp"], reverse=True)  # az lists newest first
    files[os.path.join(OUT_AZ, "data-analytics_2026-11-02_2026-11-24.json")] = \
        (json.dumps(AZ, indent=2) + "\n").encode()
    model = Model(REGISTRY)
    events = [normalise_ct(r) for _, _, r in CT] + [normalise_az(r) for r in AZ]
    tickets, in_period, pairs = expected(model, events)
    doc = {
        "period": PERIOD,
        "sources": ["cloudtrail:events/cloudtrail", "azure-activity:events/azure-activity"],
        "generated_by": "tests/data/digest/gen_dataset.py",
        "records": {"cloudtrail": len(CT), "azure-activity": len(AZ)},
        "events_in_period": in_period,
        "read_only_in_period": sum(1 for e in events if e["read_only"] and
                                   START <= datetime.strptime(e["time"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc) < END),
        "role_user_pairs": [{"role": a, "user": p} for a, p in pairs],
        "choices": choices(),
        "tickets": tickets,
    }
    files[EXPECTED] = (json.dumps(doc, indent=2) + "\n").encode()
    changed = []
    for d in (OUT_CT, OUT_AZ):
        for dirpath, _, fs in os.walk(d):
            for f in fs:
                p = os.path.join(dirpath, f)
                if p not in files:
                    changed.append(p)  # left from another run
                    if not check:
                        os.unlink(p)
    for path, data in sorted(files.items()):
        try:
            with open(path, "rb") as fh:
                same = fh.read() == data
        except FileNotFoundError:
            same = False
        if same:
            continue
        changed.append(path)
        if not check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
    total = sum(len(d) for d in files.values())
    print("%d CloudTrail records (%d files), %d Azure records, %d events in the period, "
          "%d tickets, %d bytes; %d files %s" % (
              len(CT), len(files) - 2, len(AZ), in_period, len(tickets), total, len(changed),
              "differ" if check else "written"))
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
