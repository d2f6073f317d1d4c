#!/bin/bash
# Fidelity of the AWS emulator (tests/emulators/aws/aws_emulator.py): the
# official aws CLI from Debian (awscli 2.x, /usr/bin/aws) talks to it and
# must get what it would get from AWS: parsed results, paginated lists,
# service errors by their codes, SigV4 rejections, and its own retries must
# ride out throttling, server errors and dropped connections.
#
# Needs: /usr/bin/aws (exit 77 without it), /usr/bin/python3.
AWS=/usr/bin/aws
PY=/usr/bin/python3
if [ ! -x "$AWS" ]; then
	echo "SKIP: $AWS is not installed (Debian package awscli); the AWS emulator's fidelity needs the official client"
	exit 77
fi
# lib.bash wants $CSPF; this test drives the emulator, not cspf.
: "${CSPF:=unused}"
: "${CSPF_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$CSPF_SOURCE_DIR/tests/cli/lib.bash"
EMU_DIR=$CSPF_SOURCE_DIR/tests/emulators/aws

EMU_PID=
cleanup() {
	if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT

# --- the emulator, on a port of its choosing
cp "$EMU_DIR/example_state.json" "$T/state.json"
"$PY" "$EMU_DIR/aws_emulator.py" --state "$T/state.json" --port 0 \
	--port-file "$T/port" --save-state "$T/saved.json" 2>"$T/emu.log" &
EMU_PID=$!
for _ in $(seq 100); do
	[ -s "$T/port" ] && break
	kill -0 "$EMU_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$T/port" ]; then
	echo "FAIL: the emulator did not start"; cat "$T/emu.log"; exit 1
fi
URL=http://127.0.0.1:$(cat "$T/port")

# --- the client: its own config and credentials, nothing from the caller's
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL \
	AWS_CA_BUNDLE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_CONFIG_FILE=$T/config
export AWS_DEFAULT_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER= AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=3
export HOME=$T   # no ~/.aws of the caller's, no CLI cache
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree
cat >"$T/credentials" <<'EOF'
[default]
aws_access_key_id = AKIAEMULATORCSPF0001
aws_secret_access_key = cspfEmulatorSecret/0001/abcdefghijklmnopqrs
[scanner]
aws_access_key_id = AKIAEXAMPLESCANNER22
aws_secret_access_key = scannerSecret/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
[wrongsecret]
aws_access_key_id = AKIAEMULATORCSPF0001
aws_secret_access_key = notTheSecret/0001/abcdefghijklmnopqrstuvwxyz
[unknownkey]
aws_access_key_id = AKIAUNKNOWNKEY000000
aws_secret_access_key = whatever/abcdefghijklmnopqrstuvwxyz0123456
EOF
printf '[default]\nregion = eu-west-1\noutput = json\n' >"$T/config"

# aws ARGS...: runs the CLI against the emulator; keeps stdout, stderr, rc.
aws() {
	"$AWS" --endpoint-url "$URL" --no-cli-pager --output json "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
# awsq QUERY ARGS...: as aws, with --query QUERY, the scalar result printed
# as --output text would print it.  (With --output text the CLI applies the
# query to each page apart; with json it merges the pages first.)
awsq() {
	local q=$1; shift
	"$AWS" --endpoint-url "$URL" --no-cli-pager --output json --query "$q" "$@" >"$OUT.json" 2>"$ERR"
	RC=$?
	"$PY" -c 'import json,sys
v = json.load(open(sys.argv[1])) if open(sys.argv[1]).read().strip() else ""
print(v if isinstance(v, (str, bool, type(None))) else json.dumps(v))' "$OUT.json" >"$OUT" 2>/dev/null
}
# expect_is VALUE NAME: stdout is exactly VALUE (trailing newline aside).
expect_is() {
	local got
	got=$(cat "$OUT")
	if [ "$RC" -eq 0 ] && [ "$got" = "$1" ]; then ok; else bad "$2: rc $RC, got '$got', expected '$1'"; fi
}
# expect_prefix VALUE NAME: stdout starts with VALUE.
expect_prefix() {
	local got
	got=$(cat "$OUT")
	case "$got" in "$1"*) [ "$RC" -eq 0 ] && { ok; return; } ;; esac
	bad "$2: rc $RC, got '$got', expected it to start with '$1'"
}
# expect_error CODE NAME: the CLI failed and named the service's error code.
expect_error() {
	if [ "$RC" -ne 0 ] && grep -qF "($1)" "$ERR"; then ok; else bad "$2: rc $RC, expected error ($1)"; fi
}
# emu METHOD PATH [JSON]: the emulator's control endpoint; prints the answer.
emu() {
	"$PY" - "$URL" "$@" <<'EOF'
import sys, urllib.request
url, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, data=body, method=method,
                             headers={"Content-Type": "application/json"})
sys.stdout.write(urllib.request.urlopen(req).read().decode())
EOF
}
faults() { emu POST /_emulator/faults "$1" >/dev/null; }
# stat EXPR: a value of /_emulator/stats, EXPR in Python over dict s.
stat() {
	emu GET /_emulator/stats | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
# expect_stat EXPR VALUE NAME
expect_stat() {
	local got
	got=$(stat "$1")
	if [ "$got" = "$2" ]; then ok; else FAIL=$((FAIL + 1)); echo "FAIL: $3: stats $1 = $got, expected $2"; fi
}
SANDBOX=499701123456
PAYMENTS=314159265358

# ====================================================================== STS
awsq 'join(`,`, [Account, Arn])' sts get-caller-identity
expect_is "111122223333,arn:aws:iam::111122223333:user/cspf" "sts get-caller-identity of the cspf principal"
awsq 'join(`,`, Users[].Arn)' iam list-users
expect_is "arn:aws:iam::111122223333:user/cspf" "the principal is a user of its account"
awsq 'join(`,`, AccessKeyMetadata[].[UserName, AccessKeyId][])' iam list-access-keys
expect_is "cspf,AKIAEMULATORCSPF0001" "iam list-access-keys without UserName: the caller's own keys"
awsq 'join(`,`, [Account, Arn, UserId])' --profile scanner sts get-caller-identity
expect_is "$SANDBOX,arn:aws:iam::$SANDBOX:user/svc-security-scanner,AIDAEXAMPLESCANNER01" "sts get-caller-identity of a user key"

aws sts assume-role --role-arn "arn:aws:iam::$SANDBOX:role/cspf-inventory" --role-session-name cspf-test --duration-seconds 900
expect_rc 0 "sts assume-role cspf-inventory"
"$PY" - "$OUT" "$T/credentials" assumed <<'EOF' || bad "assume-role answer lacks temporary credentials"
import json, sys, re
d = json.load(open(sys.argv[1]))
c = d["Credentials"]
assert re.fullmatch(r"ASIA[A-Z2-7]{16}", c["AccessKeyId"]), c
assert c["SecretAccessKey"] and c["SessionToken"] and c["Expiration"]
assert d["AssumedRoleUser"]["Arn"].endswith(":assumed-role/cspf-inventory/cspf-test")
with open(sys.argv[2], "a") as f:
    f.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
            "aws_session_token = %s\n" % (sys.argv[3], c["AccessKeyId"],
                                          c["SecretAccessKey"], c["SessionToken"]))
EOF
awsq 'join(`,`, [Account, Arn])' --profile assumed sts get-caller-identity
expect_is "$SANDBOX,arn:aws:sts::$SANDBOX:assumed-role/cspf-inventory/cspf-test" "temporary credentials act in the assumed account"
awsq 'length(Users)' --profile assumed iam list-users
expect_is 7 "iam list-users with the assumed role sees the sandbox's users"
aws sts assume-role --role-arn "arn:aws:iam::$SANDBOX:role/security-auditor" --role-session-name x1
expect_error AccessDenied "assume-role a role whose trust policy does not name the caller"
aws sts assume-role --role-arn "arn:aws:iam::$SANDBOX:role/no-such-role" --role-session-name x1
expect_error AccessDenied "assume-role a role that does not exist"
aws sts assume-role --role-arn "arn:aws:iam::$SANDBOX:role/cspf-inventory" --role-session-name x1 --duration-seconds 7200
expect_error ValidationError "assume-role beyond the role's MaxSessionDuration"
# assumable_roles: a role listed by name only, trusting anyone
aws sts assume-role --role-arn "arn:aws:iam::$PAYMENTS:role/cspf-inventory" --role-session-name cspf
expect_rc 0 "assume-role a role from an account's assumable_roles"
"$PY" - "$OUT" "$T/credentials" payments <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["Credentials"]
with open(sys.argv[2], "a") as f:
    f.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
            "aws_session_token = %s\n" % (sys.argv[3], c["AccessKeyId"],
                                          c["SecretAccessKey"], c["SessionToken"]))
EOF
awsq 'join(`,`, Buckets[].Name)' --profile payments s3api list-buckets
expect_is "example-payments-receipts-prod" "s3api list-buckets in the second assumed account"
# web identity: unsigned, the token is the credential
aws sts assume-role-with-web-identity --role-arn "arn:aws:iam::$SANDBOX:role/cspf-inventory" \
	--role-session-name ci-runner --web-identity-token eyJhbGciOiJSUzI1NiJ9.ci-runner-token.sig
expect_rc 0 "sts assume-role-with-web-identity with a known token"
expect_out '"AccessKeyId": "ASIA' "assume-role-with-web-identity returns temporary credentials"
aws sts assume-role-with-web-identity --role-arn "arn:aws:iam::$SANDBOX:role/cspf-inventory" \
	--role-session-name ci-runner --web-identity-token not-a-token
expect_error InvalidIdentityToken "assume-role-with-web-identity with an unknown token"
aws sts assume-role-with-web-identity --role-arn "arn:aws:iam::$SANDBOX:role/cspf-inventory" \
	--role-session-name ci-runner --web-identity-token expired-oidc-token
expect_error ExpiredTokenException "assume-role-with-web-identity with an expired token"

# ====================================================================== IAM
awsq 'join(`,`, [to_string(SummaryMap.Users), to_string(SummaryMap.AccountAccessKeysPresent), to_string(SummaryMap.AccountMFAEnabled), to_string(SummaryMap.AccessKeysPerUserQuota)])' \
	--profile scanner iam get-account-summary
expect_is "7,1,0,2" "iam get-account-summary: Users, AccountAccessKeysPresent, AccountMFAEnabled"
awsq 'AccountAliases[0]' --profile scanner iam list-account-aliases
expect_is security-sandbox "iam list-account-aliases"

# Pagination: pages forced down to 2 items; the CLI must follow the markers.
faults '{"page_size": 2}'
emu POST /_emulator/stats/reset >/dev/null
awsq 'join(`,`, Users[].UserName)' --profile scanner iam list-users
expect_is "svc-security-scanner,amir.haddad,chen.wei,ops-bot-1,ops-bot-2,ops-bot-3,rotation-target" "iam list-users over forced pages of 2"
expect_stat 's["by_action"]["ListUsers"]' 4 "list-users took 4 pages of at most 2"
aws --profile scanner iam list-users --max-items 3
expect_rc 0 "iam list-users --max-items 3"
NEXT=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["Users"]) == 3, d; print(d["NextToken"])' "$OUT") ||
	bad "list-users --max-items 3 gave not 3 users and a NextToken"
awsq 'join(`,`, Users[].UserName)' --profile scanner iam list-users --starting-token "$NEXT"
expect_is "ops-bot-1,ops-bot-2,ops-bot-3,rotation-target" "iam list-users --starting-token resumes after the first 3"
awsq 'join(`,`, Users[].UserName)' --profile scanner iam list-users --path-prefix /automation/
expect_is "ops-bot-1,ops-bot-2,ops-bot-3" "iam list-users --path-prefix"
awsq 'join(`,`, [to_string(length(UserDetailList)), to_string(length(RoleDetailList))])' \
	--profile scanner iam get-account-authorization-details --filter User Role
expect_is "7,2" "iam get-account-authorization-details over forced pages"
awsq 'join(`,`, [to_string(length(UserDetailList)), RoleDetailList[1].RoleName, to_string(RoleDetailList[1].RoleLastUsed)])' \
	--profile scanner iam get-account-authorization-details --filter Role
expect_is "0,security-auditor,{}" "get-account-authorization-details --filter Role: roles only, RoleLastUsed empty when never used"
faults '{}'

awsq 'join(`,`, AccessKeyMetadata[].[AccessKeyId, Status][])' --profile scanner iam list-access-keys --user-name chen.wei
expect_is "AKIAEXAMPLECHENWEI01,Inactive,AKIAEXAMPLECHENWEI02,Active" "iam list-access-keys"
awsq 'join(`,`, [UserName, AccessKeyLastUsed.ServiceName, AccessKeyLastUsed.Region, AccessKeyLastUsed.LastUsedDate])' \
	--profile scanner iam get-access-key-last-used --access-key-id AKIAEXAMPLECHENWEI02
expect_is "chen.wei,ec2,us-east-1,2026-11-01T12:00:00+00:00" "iam get-access-key-last-used"
awsq 'join(`,`, [AccessKeyLastUsed.ServiceName, AccessKeyLastUsed.Region])' \
	--profile scanner iam get-access-key-last-used --access-key-id AKIAEXAMPLECHENWEI01
expect_is "N/A,N/A" "iam get-access-key-last-used of a key never used"
awsq 'MFADevices[0].SerialNumber' --profile scanner iam list-mfa-devices --user-name amir.haddad
expect_is "arn:aws:iam::$SANDBOX:mfa/amir.haddad" "iam list-mfa-devices"
awsq 'LoginProfile.UserName' --profile scanner iam get-login-profile --user-name amir.haddad
expect_is amir.haddad "iam get-login-profile of a user with a console password"
aws --profile scanner iam get-login-profile --user-name ops-bot-1
expect_error NoSuchEntity "iam get-login-profile of a user without one"
aws --profile scanner iam get-user --user-name nobody
expect_error NoSuchEntity "iam get-user of a user that does not exist"

aws --profile scanner iam list-roles
expect_rc 0 "iam list-roles"
"$PY" - "$OUT" <<'EOF' && ok || bad "list-roles: roles and policies as AWS gives them, without RoleLastUsed"
import json, sys
roles = json.load(open(sys.argv[1]))["Roles"]
assert [r["RoleName"] for r in roles] == ["cspf-inventory", "security-auditor"], roles
assert all("RoleLastUsed" not in r for r in roles), roles
assert roles[0]["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
EOF
# RoleLastUsed: the state said 2026-11-22 in eu-west-1; the assume-role
# calls above have used it since, as AWS would record.
awsq 'join(`,`, [Role.Arn, Role.RoleLastUsed.LastUsedDate])' --profile scanner iam get-role --role-name cspf-inventory
expect_prefix "arn:aws:iam::$SANDBOX:role/cspf-inventory,$(date -u +%Y-%m-%d)T" "iam get-role: RoleLastUsed records the assume-role"

aws --profile scanner iam get-credential-report
expect_error ReportNotPresent "iam get-credential-report before one is generated"
awsq State --profile scanner iam generate-credential-report
expect_is STARTED "iam generate-credential-report starts a report"
awsq State --profile scanner iam generate-credential-report
expect_is COMPLETE "iam generate-credential-report when one is fresh"
aws --profile scanner iam get-credential-report
expect_rc 0 "iam get-credential-report"
"$PY" - "$OUT" <<'EOF' && ok || bad "credential report: columns, root row first, user rows"
import base64, csv, io, json, sys
d = json.load(open(sys.argv[1]))
assert d["ReportFormat"] == "text/csv", d
rows = list(csv.DictReader(io.StringIO(base64.b64decode(d["Content"]).decode())))
cols = ("user,arn,user_creation_time,password_enabled,password_last_used,"
        "password_last_changed,password_next_rotation,mfa_active,"
        "access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
        "access_key_1_last_used_region,access_key_1_last_used_service,"
        "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
        "access_key_2_last_used_region,access_key_2_last_used_service,"
        "cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated").split(",")
assert list(rows[0].keys()) == cols, rows[0].keys()
assert len(rows) == 8, len(rows)
root = rows[0]
assert root["user"] == "<root_account>" and root["arn"] == "arn:aws:iam::499701123456:root"
assert root["password_enabled"] == "not_supported" and root["mfa_active"] == "false"
assert root["access_key_1_active"] == "true" and root["access_key_1_last_used_service"] == "iam"
u = {r["user"]: r for r in rows[1:]}
assert u["amir.haddad"]["password_enabled"] == "true" and u["amir.haddad"]["mfa_active"] == "true"
assert u["amir.haddad"]["password_last_used"] == "2026-11-19T09:12:00+00:00"
assert u["chen.wei"]["password_last_used"] == "no_information"
assert u["ops-bot-1"]["password_enabled"] == "false" and u["ops-bot-1"]["password_last_used"] == "N/A"
c = u["chen.wei"]
assert (c["access_key_1_active"], c["access_key_2_active"]) == ("false", "true"), c
assert c["access_key_2_last_used_service"] == "ec2" and c["access_key_1_last_used_date"] == "N/A"
assert u["ops-bot-1"]["access_key_1_active"] == "false" and u["ops-bot-1"]["access_key_1_last_rotated"] == "N/A"
EOF

# Rotation: create, limit, use, deactivate, delete.
aws --profile scanner iam create-access-key --user-name ops-bot-1
expect_rc 0 "iam create-access-key (first)"
"$PY" - "$OUT" "$T/credentials" newkey <<'EOF' || bad "create-access-key answer"
import json, sys
k = json.load(open(sys.argv[1]))["AccessKey"]
assert k["UserName"] == "ops-bot-1" and k["Status"] == "Active" and k["AccessKeyId"].startswith("AKIA")
with open(sys.argv[2], "a") as f:
    f.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
        sys.argv[3], k["AccessKeyId"], k["SecretAccessKey"]))
open(sys.argv[1] + ".id", "w").write(k["AccessKeyId"])
EOF
NEWKEY=$(cat "$OUT.id")
aws --profile scanner iam create-access-key --user-name ops-bot-1
expect_rc 0 "iam create-access-key (second)"
aws --profile scanner iam create-access-key --user-name ops-bot-1
expect_error LimitExceeded "iam create-access-key (third) hits the two-key limit"
awsq Arn --profile newkey sts get-caller-identity
expect_is "arn:aws:iam::$SANDBOX:user/automation/ops-bot-1" "a created key signs requests"
awsq 'AccessKeyLastUsed.ServiceName' --profile scanner iam get-access-key-last-used --access-key-id "$NEWKEY"
expect_is sts "the created key's last use is recorded"
aws --profile scanner iam update-access-key --user-name ops-bot-1 --access-key-id "$NEWKEY" --status Inactive
expect_rc 0 "iam update-access-key --status Inactive"
aws --profile newkey sts get-caller-identity
expect_error InvalidClientTokenId "an inactive key is refused"
aws --profile scanner iam delete-access-key --user-name ops-bot-1 --access-key-id "$NEWKEY"
expect_rc 0 "iam delete-access-key"
awsq 'length(AccessKeyMetadata)' --profile scanner iam list-access-keys --user-name ops-bot-1
expect_is 1 "list-access-keys after the delete"
aws --profile scanner iam delete-access-key --user-name ops-bot-1 --access-key-id "$NEWKEY"
expect_error NoSuchEntity "iam delete-access-key of a deleted key"
# propagation delay: a fresh key is refused for a while.  The first use is
# signed here, not by the CLI, whose start-up on a busy machine may outlast
# the delay.
faults '{"propagation_delay_ms": 5000}'
aws --profile scanner iam create-access-key --user-name ops-bot-2
"$PY" - "$OUT" "$T/credentials" fresh "$URL" "$EMU_DIR" <<'EOF' && ok || bad "a fresh key within propagation_delay_ms is refused (InvalidClientTokenId)"
import json, sys, urllib.request, urllib.error
out, creds, profile, url, emu_dir = sys.argv[1:6]
k = json.load(open(out))["AccessKey"]
sys.path.insert(0, emu_dir)
from loadcheck import sign, form
body = form(Action="GetCallerIdentity", Version="2011-06-15")
h = sign("POST", url[len("http://"):], body, k["AccessKeyId"], k["SecretAccessKey"], "eu-west-1", "sts")
try:
    urllib.request.urlopen(urllib.request.Request(url + "/", data=body, headers=h))
    sys.exit("the fresh key was accepted at once")
except urllib.error.HTTPError as e:
    assert e.code == 403 and b"<Code>InvalidClientTokenId</Code>" in e.read()
with open(creds, "a") as f:
    f.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
        profile, k["AccessKeyId"], k["SecretAccessKey"]))
EOF
sleep 5.1
awsq Arn --profile fresh sts get-caller-identity
expect_is "arn:aws:iam::$SANDBOX:user/automation/ops-bot-2" "the fresh key once propagated"
faults '{}'

# ======================================================================= S3
awsq 'join(`,`, Buckets[].Name)' --profile scanner s3api list-buckets
expect_is "example-security-findings,example-security-logs" "s3api list-buckets"
awsq Status --profile scanner s3api get-bucket-versioning --bucket example-security-findings
expect_is Enabled "s3api get-bucket-versioning (Enabled)"
aws --profile scanner s3api get-bucket-versioning --bucket example-security-logs
expect_rc 0 "s3api get-bucket-versioning (never enabled)"
expect_no_out Status "a never-versioned bucket has no Status"
awsq 'join(`,`, [LoggingEnabled.TargetBucket, LoggingEnabled.TargetPrefix])' --profile scanner s3api get-bucket-logging --bucket example-security-findings
expect_is "example-security-logs,findings/" "s3api get-bucket-logging"
aws --profile scanner s3api get-bucket-logging --bucket example-security-logs
expect_rc 0 "s3api get-bucket-logging (off)"
expect_no_out LoggingEnabled "a bucket without logging has no LoggingEnabled"
awsq LocationConstraint --profile scanner s3api get-bucket-location --bucket example-security-findings
expect_is eu-west-1 "s3api get-bucket-location"
awsq LocationConstraint --profile scanner s3api get-bucket-location --bucket example-security-logs
expect_is None "s3api get-bucket-location of a us-east-1 bucket is null"
aws --profile scanner s3api get-bucket-versioning --bucket no-such-bucket-anywhere
expect_error NoSuchBucket "s3api on a bucket that does not exist"
aws --profile scanner s3api get-bucket-versioning --bucket example-payments-receipts-prod
expect_error AccessDenied "s3api on another account's bucket"
aws --profile scanner s3api head-bucket --bucket example-security-findings
expect_rc 0 "s3api head-bucket"

# =============================================================== CloudTrail
awsq 'join(`,`, trailList[].[Name, HomeRegion, to_string(IsMultiRegionTrail), to_string(LogFileValidationEnabled), S3BucketName][])' \
	--profile scanner cloudtrail describe-trails
expect_is "org-audit,us-east-1,true,true,example-cloudtrail-archive,sandbox-local,eu-west-1,false,false,example-security-logs" \
	"cloudtrail describe-trails in eu-west-1: its trail and the multi-region shadow"
awsq 'join(`,`, trailList[].Name)' --profile scanner cloudtrail describe-trails --no-include-shadow-trails
expect_is "sandbox-local" "cloudtrail describe-trails --no-include-shadow-trails"
awsq 'join(`,`, trailList[].Name)' --profile scanner --region us-east-1 cloudtrail describe-trails
expect_is "org-audit" "cloudtrail describe-trails in us-east-1"
awsq IsLogging --profile scanner --region us-east-1 cloudtrail get-trail-status --name org-audit
expect_is True "cloudtrail get-trail-status (logging)"
awsq IsLogging --profile scanner cloudtrail get-trail-status --name sandbox-local
expect_is False "cloudtrail get-trail-status (not logging)"
aws --profile scanner cloudtrail get-trail-status --name org-audit
expect_error TrailNotFoundException "get-trail-status of a shadow trail by name"
awsq IsLogging --profile scanner cloudtrail get-trail-status --name "arn:aws:cloudtrail:us-east-1:$SANDBOX:trail/org-audit"
expect_is True "get-trail-status of a shadow trail by ARN"

# LookupEvents: records loaded through the control endpoint, served newest
# first.  Each CLI run makes at most two calls and waits a second first:
# the emulator, like AWS, allows 2 LookupEvents calls per second per
# account and region.
"$PY" - "$SANDBOX" >"$T/ct_events.json" <<'EOF'
import json, sys
acct = sys.argv[1]
def rec(i, name, ro, day, src="s3.amazonaws.com"):
    return {"eventVersion": "1.09", "eventID": "e%d" % i,
            "eventTime": "2026-11-%02dT10:00:00Z" % day,
            "eventSource": src, "eventName": name, "awsRegion": "eu-west-1",
            "readOnly": ro, "recipientAccountId": acct,
            "userIdentity": {"type": "IAMUser", "userName": "alice",
                             "accountId": acct, "accessKeyId": "AKIAALICE0000000000%d" % i,
                             "arn": "arn:aws:iam::%s:user/alice" % acct},
            "resources": [{"ARN": "arn:aws:s3:::bucket-%d" % i, "accountId": acct,
                           "type": "AWS::S3::Bucket"}]}
print(json.dumps({"account": acct, "region": "eu-west-1", "events": [
    rec(1, "PutBucketPolicy", False, 2), rec(2, "GetBucketPolicy", True, 3),
    rec(3, "PutBucketAcl", False, 4), rec(4, "DeleteBucket", False, 5),
    rec(5, "CreateBucket", False, 6)]}))
EOF
emu POST /_emulator/cloudtrail/events "$(cat "$T/ct_events.json")" >"$OUT"
if grep -q '"events": 5' "$OUT"; then ok; else bad "POST /_emulator/cloudtrail/events loads 5 events"; fi
emu POST /_emulator/stats/reset >/dev/null
CT_PERIOD="--start-time 2026-11-01T00:00:00Z --end-time 2026-11-15T00:00:00Z"
sleep 1
awsq 'join(`,`, Events[].EventId)' --profile scanner cloudtrail lookup-events $CT_PERIOD --page-size 3
expect_is "e5,e4,e3,e2,e1" "cloudtrail lookup-events: newest first, over two pages of 3"
expect_stat 's["lookup_events"]["'$SANDBOX'/eu-west-1"]["calls"]' 2 "lookup-events: one call per page"
expect_stat 's["throttled"]' 0 "lookup-events: two calls in a second are not throttled"
sleep 1
TZ=UTC awsq 'Events[?EventId==`e4`] | [0].[EventName, ReadOnly, Username, EventSource, AccessKeyId, Resources[0].ResourceType, Resources[0].ResourceName, EventTime]' \
	--profile scanner cloudtrail lookup-events $CT_PERIOD
expect_is '["DeleteBucket", "false", "alice", "s3.amazonaws.com", "AKIAALICE00000000004", "AWS::S3::Bucket", "arn:aws:s3:::bucket-4", "2026-11-05T10:00:00+00:00"]' \
	"lookup-events: the fields of an event (EventTime a timestamp)"
sleep 1
awsq 'Events[0].CloudTrailEvent' --profile scanner cloudtrail lookup-events $CT_PERIOD \
	--lookup-attributes AttributeKey=EventId,AttributeValue=e3
"$PY" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); assert r["eventID"]=="e3" and r["eventName"]=="PutBucketAcl" and r["userIdentity"]["type"]=="IAMUser", r' "$OUT" \
	&& ok || bad "lookup-events: CloudTrailEvent is the whole record as a JSON string"
sleep 1
awsq 'join(`,`, Events[].EventId)' --profile scanner cloudtrail lookup-events \
	--start-time 2026-11-03T10:00:00Z --end-time 2026-11-05T10:00:00Z
expect_is "e4,e3,e2" "lookup-events: StartTime and EndTime are inclusive"
sleep 1
awsq 'join(`,`, Events[].EventId)' --profile scanner cloudtrail lookup-events $CT_PERIOD \
	--lookup-attributes AttributeKey=ReadOnly,AttributeValue=false
expect_is "e5,e4,e3,e1" "lookup-events --lookup-attributes ReadOnly=false"
sleep 1
awsq 'join(`,`, Events[].EventId)' --profile scanner cloudtrail lookup-events $CT_PERIOD \
	--page-size 2 --max-items 2
expect_is "e5,e4" "lookup-events --max-items 2: the first two"
awsq NextToken --profile scanner cloudtrail lookup-events $CT_PERIOD --page-size 2 --max-items 2
CT_TOKEN=$(cat "$OUT")
if [ -n "$CT_TOKEN" ] && [ "$CT_TOKEN" != None ]; then ok; else bad "lookup-events --max-items 2: a NextToken to go on with"; fi
sleep 1
awsq 'join(`,`, Events[].EventId)' --profile scanner cloudtrail lookup-events $CT_PERIOD \
	--page-size 2 --starting-token "$CT_TOKEN"
expect_is "e3,e2,e1" "lookup-events --starting-token: the rest"
sleep 1
aws --profile scanner cloudtrail lookup-events --lookup-attributes AttributeKey=ReadOnly,AttributeValue=false \
	AttributeKey=EventName,AttributeValue=CreateBucket
expect_error InvalidLookupAttributesException "lookup-events with two lookup attributes"
aws --profile scanner cloudtrail lookup-events --start-time 2026-11-15T00:00:00Z --end-time 2026-11-01T00:00:00Z
expect_error InvalidTimeRangeException "lookup-events with the start after the end"
aws --profile scanner cloudtrail lookup-events --page-size 51
expect_error InvalidMaxResultsException "lookup-events --page-size 51 (MaxResults past 50)"
sleep 1
awsq 'length(Events)' --profile scanner --region us-east-1 cloudtrail lookup-events $CT_PERIOD
expect_is 0 "lookup-events in another region: its own events (none)"
# Past 2 calls per second: ThrottlingException (400), which a client
# without retries sees.
sleep 1
emu POST /_emulator/stats/reset >/dev/null
AWS_MAX_ATTEMPTS=1 aws --profile scanner cloudtrail lookup-events $CT_PERIOD --page-size 1
expect_error ThrottlingException "lookup-events, page after page without a pause: throttled past 2 calls/s"
expect_stat 's["lookup_events"]["'$SANDBOX'/eu-west-1"]["throttled"]' 1 "stats count the throttled lookup"

# ==================================================== signatures and tokens
emu POST /_emulator/stats/reset >/dev/null
aws --profile wrongsecret sts get-caller-identity
expect_error SignatureDoesNotMatch "sts with a wrong secret"
aws --profile wrongsecret iam list-users
expect_error SignatureDoesNotMatch "iam with a wrong secret"
aws --profile wrongsecret s3api list-buckets
expect_error SignatureDoesNotMatch "s3 with a wrong secret"
aws --profile wrongsecret cloudtrail describe-trails
expect_error InvalidSignatureException "cloudtrail with a wrong secret"
expect_stat 's["signature_failures"]' 4 "stats count the signature failures"
aws --profile unknownkey sts get-caller-identity
expect_error InvalidClientTokenId "sts with an unknown key"
aws --profile unknownkey s3api list-buckets
expect_error InvalidAccessKeyId "s3 with an unknown key"
aws --profile unknownkey cloudtrail describe-trails
expect_error UnrecognizedClientException "cloudtrail with an unknown key"
emu POST /_emulator/clock '{"advance_seconds": 7200}' >/dev/null
aws --profile assumed sts get-caller-identity
expect_error ExpiredToken "temporary credentials past their expiration"
emu POST /_emulator/clock '{"advance_seconds": -7200}' >/dev/null
awsq Account --profile assumed sts get-caller-identity
expect_is "$SANDBOX" "temporary credentials before their expiration"

# Below the CLI: a request signed 20 minutes ago, presigned URLs, no
# signature at all.
"$PY" - "$URL" "$EMU_DIR" <<'EOF' && ok || bad "skew, presigned URLs and unsigned requests"
import sys, urllib.request, urllib.error, subprocess, os
url, emu_dir = sys.argv[1:3]
sys.path.insert(0, emu_dir)
from loadcheck import sign, form
host = url[len("http://"):]
def post(body, headers):
    req = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        r = urllib.request.urlopen(req)
        return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
def get(u):
    try:
        r = urllib.request.urlopen(u)
        return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
key, secret = "AKIAEXAMPLESCANNER22", "scannerSecret/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
body = form(Action="GetCallerIdentity", Version="2011-06-15")
st, text = post(body, sign("POST", host, body, key, secret, "eu-west-1", "sts"))
assert st == 200 and "<Account>499701123456</Account>" in text, (st, text)
st, text = post(body, sign("POST", host, body, key, secret, "eu-west-1", "sts", skew=-1200))
assert st == 403 and "<Code>SignatureDoesNotMatch</Code>" in text and "Signature expired" in text, (st, text)
st, text = post(body, sign("POST", host, body, key, secret, "eu-west-1", "sts", skew=1200))
assert st == 403 and "Signature not yet current" in text, (st, text)
st, text = post(body, {"Content-Type": "application/x-www-form-urlencoded"})
assert st == 403 and "<Code>MissingAuthenticationToken</Code>" in text, (st, text)
# A body changed after signing no longer matches.
h = sign("POST", host, body, key, secret, "eu-west-1", "sts")
st, text = post(form(Action="GetCallerIdentity", Version="2011-06-15", X=1), h)
assert st == 403 and "<Code>SignatureDoesNotMatch</Code>" in text, (st, text)
env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
           AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_CONFIG_FILE="/dev/null")
u = subprocess.run(["/usr/bin/aws", "--endpoint-url", url, "s3", "presign",
                    "s3://example-security-findings/reports/a b.txt"],
                   env=env, capture_output=True, text=True, check=True).stdout.strip()
st, text = get(u)   # signature accepted; the emulator keeps no objects
assert st == 404 and "<Code>NoSuchKey</Code>" in text and "<Key>reports/a b.txt</Key>" in text, (st, text)
st, text = get(u.replace("a%20b.txt", "c.txt"))
assert st == 403 and "<Code>SignatureDoesNotMatch</Code>" in text, (st, text)
EOF

# =================================================================== faults
# Every 2nd call throttled: each CLI call after the first meets one throttle
# in its own service's format and must retry through it.
faults '{"throttle_every": 2}'
emu POST /_emulator/stats/reset >/dev/null
awsq Account --profile scanner sts get-caller-identity
expect_is "$SANDBOX" "sts through throttling"
awsq 'length(Users)' --profile scanner iam list-users
expect_is 7 "iam through throttling (Throttling 400)"
awsq 'length(Buckets)' --profile scanner s3api list-buckets
expect_is 2 "s3 through throttling (SlowDown 503)"
awsq 'length(trailList)' --profile scanner cloudtrail describe-trails
expect_is 2 "cloudtrail through throttling (ThrottlingException 400)"
expect_stat 's["throttled"]' 3 "stats show the throttles awscli retried"
expect_stat 's["requests"]' 7 "stats show 4 calls + 3 retries"
# Every 2nd call a server error (500 InternalFailure, 503 ServiceUnavailable).
faults '{"error_every": 2}'
emu POST /_emulator/stats/reset >/dev/null
awsq Account --profile scanner sts get-caller-identity
expect_is "$SANDBOX" "sts through server errors"
awsq 'length(Users)' --profile scanner iam list-users
expect_is 7 "iam through server errors"
awsq 'length(Buckets)' --profile scanner s3api list-buckets
expect_is 2 "s3 through server errors"
awsq 'length(trailList)' --profile scanner cloudtrail describe-trails
expect_is 2 "cloudtrail through server errors"
expect_stat 's["errors_5xx"]' 3 "stats show the server errors awscli retried"
expect_stat 'sorted(k for k in s["by_status"] if k[0] == "5")' "['500', '503']" "errors alternate 500 and 503"
# Both at once, over several calls: awscli's 3 attempts always suffice.
faults '{"throttle_every": 3, "error_every": 5}'
emu POST /_emulator/stats/reset >/dev/null
for i in 1 2 3; do
	awsq 'length(Users)' --profile scanner iam list-users
	expect_is 7 "iam list-users through throttles and errors ($i)"
	awsq Status --profile scanner s3api get-bucket-versioning --bucket example-security-findings
	expect_is Enabled "s3 through throttles and errors ($i)"
done
if [ "$(stat 's["throttled"] > 0 and s["injected_errors"] > 0')" = True ]; then ok; else bad "throttle_every/error_every injected nothing"; fi
# fail_action: the first N calls of one action fail.
faults '{"fail_action": {"GetAccountSummary": 2}}'
awsq 'SummaryMap.Users' --profile scanner iam get-account-summary
expect_is 7 "fail_action 2: the third attempt succeeds"
faults '{"fail_action": {"GetAccountSummary": 3}}'
aws --profile scanner iam get-account-summary
expect_error InternalFailure "fail_action 3: awscli gives up after 3 attempts"
faults '{"fail_action": {"ListBuckets": {"count": 1, "code": "AccessDenied", "status": 403}}}'
aws --profile scanner s3api list-buckets
expect_error AccessDenied "fail_action with a chosen error code"
# Dropped connections: awscli retries a request that got no answer.
faults '{"drop_at": [1]}'
emu POST /_emulator/stats/reset >/dev/null
awsq Account --profile scanner sts get-caller-identity
expect_is "$SANDBOX" "sts get-caller-identity after a dropped connection"
expect_stat 's["dropped"], s["by_action"]["GetCallerIdentity"]' "(1, 2)" "stats show the drop and the retry"
faults '{"page_size": 2, "drop_at": [3]}'
emu POST /_emulator/stats/reset >/dev/null
awsq 'length(Users)' --profile scanner iam list-users
expect_is 7 "iam list-users with a connection dropped mid-pagination"
expect_stat 's["dropped"], s["by_action"]["ListUsers"]' "(1, 5)" "4 pages + 1 retried page"
# Latency is added to every call.
faults '{"latency_ms": 1500}'
t0=$(date +%s%N)
awsq Account --profile scanner sts get-caller-identity
t1=$(date +%s%N)
expect_is "$SANDBOX" "a call with latency_ms"
if [ $(((t1 - t0) / 1000000)) -ge 1500 ]; then ok; else bad "latency_ms 1500: the call took $(((t1 - t0) / 1000000)) ms"; fi
faults '{}'
# A bad fault switch is refused, not ignored.
if emu POST /_emulator/faults '{"throttle_evry": 2}' >/dev/null 2>&1; then bad "a misspelt fault switch was accepted"; else ok; fi

# ======================================================= AWS_ENDPOINT_URL
# awscli honours AWS_ENDPOINT_URL from 2.13.0 on.  Debian's 2.9.19 does not:
# there the variable is ignored and the call goes to AWS itself, which this
# test checks too (no request reaches the emulator), so the day Debian's
# awscli starts to honour it this test shows it.
ver=$("$AWS" --version 2>&1 | sed -n 's,^aws-cli/\([0-9]*\)\.\([0-9]*\)\..*,\1 \2,p')
set -- $ver
emu POST /_emulator/stats/reset >/dev/null
if [ "${1:-0}" -gt 2 ] || { [ "${1:-0}" -eq 2 ] && [ "${2:-0}" -ge 13 ]; }; then
	AWS_ENDPOINT_URL=$URL "$AWS" --no-cli-pager --output text --query Account --profile scanner \
		sts get-caller-identity >"$OUT" 2>"$ERR"
	RC=$?
	expect_is "$SANDBOX" "sts get-caller-identity through AWS_ENDPOINT_URL"
else
	AWS_ENDPOINT_URL=$URL AWS_MAX_ATTEMPTS=1 timeout 30 "$AWS" --no-cli-pager --cli-connect-timeout 2 \
		--cli-read-timeout 2 --profile scanner sts get-caller-identity >"$OUT" 2>"$ERR"
	expect_stat 's["requests"]' 0 "awscli $1.$2 ignores AWS_ENDPOINT_URL (no request reached the emulator)"
	echo "note: awscli $1.$2 does not honour AWS_ENDPOINT_URL (2.13+ does); every call here uses --endpoint-url"
fi

# ================================================= clean stop, saved state
kill -TERM "$EMU_PID"
wait "$EMU_PID"
rc=$?
EMU_PID=
if [ "$rc" -eq 0 ]; then ok; else bad "the emulator's exit on SIGTERM: $rc"; cat "$T/emu.log"; fi
"$PY" - "$T/saved.json" <<'EOF' && ok || bad "--save-state keeps the keys created through the API"
import json, sys
s = json.load(open(sys.argv[1]))
users = {u["name"]: u for u in s["accounts"]["499701123456"]["users"]}
assert len(users["ops-bot-1"]["access_keys"]) == 1, users["ops-bot-1"]
assert len(users["ops-bot-2"]["access_keys"]) == 1, users["ops-bot-2"]
EOF

finish
