#!/bin/bash
# Rotation against the AWS emulator (tests/emulators/aws/aws_emulator.py):
#
#  1. fidelity of its Secrets Manager and of IAM access-key writes with the
#     official aws CLI (Debian's awscli): labels, ClientRequestToken
#     semantics, errors by their codes, the two-key limit, a new key that
#     STS refuses until it has propagated and whose signature it checks;
#  2. the aws-secrets-manager vault (tests/unit/vault/test_aws_sm.c, and
#     the generic conformance test tests/unit/vault/test_vault.c when this
#     build has it) against the emulator;
#  3. the aws-iam-access-key rotator (tests/unit/rotate/test_rot_aws_iam.c)
#     against the emulator, with a 2 s propagation delay;
#  4. cspf rotate, end to end, on registry-example's svc-payments-api: its
#     vault aws-payments (aws-secrets-manager) and its rotator
#     aws-iam-user, both against the emulator;
#  5. canaries: no secret access key the emulator handed out, and no value
#     the vault tests wrote, appears in the tests' output or the
#     emulator's request log.
#
# Needs: /usr/bin/aws (exit 77 without it), /usr/bin/python3.
AWS=/usr/bin/aws
PY=/usr/bin/python3
if [ ! -x "$AWS" ]; then
	echo "SKIP: $AWS is not installed (Debian package awscli); the AWS emulator's fidelity needs the official client"
	exit 77
fi
: "${CSPF:?set CSPF to the cspf binary}"
: "${CSPF_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$CSPF_SOURCE_DIR/tests/cli/lib.bash"
EMU_DIR=$CSPF_SOURCE_DIR/tests/emulators/aws
BIN=$(dirname "$CSPF")/tests

EMU_PID=
stop_emulator() {
	if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; fi
	EMU_PID=
}
cleanup() {
	stop_emulator
	rm -rf "$T"
}
trap cleanup EXIT

ACCT=111122223333
OTHER=222233334444
CSPF_KEY=AKIAROTATIONCSPF0001
CSPF_SECRET=rotCspfSecret/0001/abcdefghijklmnopqrstuv
APP_KEY=AKIASVCAPPKEY0000001
APP_SECRET=svcAppSecret/0001/abcdefghijklmnopqrstuvw
PAY=314159265358
PAY_CSPF_KEY=AKIAROTATIONCSPF0002
PAY_CSPF_SECRET=rotCspfSecret/0002/abcdefghijklmnopqrstuv
PAY_KEY=AKIAEXAMPLEPAYMENTS2
PAY_SECRET=paymentsSecret/0002/abcdefghijklmnopqrstu
cat >"$T/state.json" <<EOF
{
 "principals": [{"access_key_id": "$CSPF_KEY", "secret_access_key": "$CSPF_SECRET",
                 "account": "$ACCT", "arn": "arn:aws:iam::$ACCT:user/cspf"},
                {"access_key_id": "$PAY_CSPF_KEY", "secret_access_key": "$PAY_CSPF_SECRET",
                 "account": "$PAY", "arn": "arn:aws:iam::$PAY:user/cspf"}],
 "accounts": {
  "$ACCT": {
   "users": [
    {"name": "svc-app", "access_keys": [{"id": "$APP_KEY", "secret": "$APP_SECRET",
                                          "status": "Active", "created": "2026-01-01T00:00:00Z"}]},
    {"name": "cli-user", "path": "/automation/"}
   ]
  },
  "$PAY": {
   "users": [{"name": "svc-payments-api",
              "access_keys": [{"id": "$PAY_KEY", "secret": "$PAY_SECRET", "status": "Active",
                               "created": "2026-08-01T00:00:00Z"}]}]
  },
  "$OTHER": {
   "users": [{"name": "svc-other"}],
   "roles": [{"name": "cspf-rotation",
              "assume_role_policy": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": "arn:aws:iam::$ACCT:root"}}]}}]
  }
 }
}
EOF

# start_emulator: on a port of its choosing, logging every call.
start_emulator() {
	rm -f "$T/port"
	"$PY" "$EMU_DIR/aws_emulator.py" --state "$T/state.json" --port 0 \
		--port-file "$T/port" --save-state "$T/saved.json" \
		--log "$T/requests.log" 2>>"$T/emu.log" &
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
}
start_emulator

# --- the client: its own config and credentials, nothing from the caller's
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL \
	AWS_CA_BUNDLE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
	AWS_ENDPOINT_URL_SECRETS_MANAGER AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_IAM \
	AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST \
	VAULT_TOKEN CSPF_VAULT_SECRET_ID
export AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_CONFIG_FILE=$T/config
export AWS_DEFAULT_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER= AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=3
export HOME=$T
export PYTHONDONTWRITEBYTECODE=1
cat >"$T/credentials" <<EOF
[default]
aws_access_key_id = $CSPF_KEY
aws_secret_access_key = $CSPF_SECRET
EOF
printf '[default]\nregion = eu-west-1\noutput = json\n' >"$T/config"

aws() {
	"$AWS" --endpoint-url "$URL" --no-cli-pager --output json "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
# q EXPR: a value of the last JSON answer, EXPR in Python over dict d.
q() {
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$OUT" "$1" 2>/dev/null
}
# expect_q EXPR VALUE NAME
expect_q() {
	local got
	got=$(q "$1")
	if [ "$RC" -eq 0 ] && [ "$got" = "$2" ]; then ok; else bad "$3: rc $RC, $1 = '$got', expected '$2'"; fi
}
expect_error() {
	if [ "$RC" -ne 0 ] && grep -qF "($1)" "$ERR"; then ok; else bad "$2: rc $RC, expected error ($1)"; fi
}
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
stat() {
	emu GET /_emulator/stats | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

SM="secretsmanager"
TOK1=11111111-1111-4111-8111-111111111111
TOK2=22222222-2222-4222-8222-222222222222

# ============================================================ Secrets Manager
aws $SM create-secret --name app/db --secret-string first-value-canary-1 --description "the app's db"
expect_q 'd["Name"] + " " + str(d["ARN"].startswith("arn:aws:secretsmanager:eu-west-1:'$ACCT':secret:app/db-"))' "app/db True" "create-secret"
V1=$(q 'd["VersionId"]')
aws $SM create-secret --name app/db --secret-string other
expect_error ResourceExistsException "create-secret of an existing name"
aws $SM get-secret-value --secret-id app/db
expect_q 'd["SecretString"] + " " + ",".join(d["VersionStages"]) + " " + d["VersionId"]' "first-value-canary-1 AWSCURRENT $V1" "get-secret-value: AWSCURRENT by default"
aws $SM put-secret-value --secret-id app/db --secret-string second-value-canary-2 --client-request-token $TOK1 --version-stages AWSPENDING
expect_q 'd["VersionId"] + " " + ",".join(d["VersionStages"])' "$TOK1 AWSPENDING" "put-secret-value AWSPENDING with a ClientRequestToken"
aws $SM put-secret-value --secret-id app/db --secret-string second-value-canary-2 --client-request-token $TOK1 --version-stages AWSPENDING
expect_q 'd["VersionId"]' "$TOK1" "put-secret-value again, same token and value: idempotent"
aws $SM put-secret-value --secret-id app/db --secret-string third-value --client-request-token $TOK1 --version-stages AWSPENDING
expect_error ResourceExistsException "put-secret-value, same token, another value"
aws $SM get-secret-value --secret-id app/db
expect_q 'd["SecretString"]' "first-value-canary-1" "AWSPENDING leaves AWSCURRENT alone"
aws $SM get-secret-value --secret-id app/db --version-stage AWSPENDING
expect_q 'd["SecretString"]' "second-value-canary-2" "get-secret-value --version-stage AWSPENDING"
aws $SM get-secret-value --secret-id app/db --version-stage AWSPREVIOUS
expect_error ResourceNotFoundException "no AWSPREVIOUS yet"
aws $SM update-secret-version-stage --secret-id app/db --version-stage AWSCURRENT --move-to-version-id $TOK1
expect_error InvalidParameterException "moving AWSCURRENT without RemoveFromVersionId"
aws $SM update-secret-version-stage --secret-id app/db --version-stage AWSCURRENT --move-to-version-id $TOK1 --remove-from-version-id $TOK1
expect_error InvalidParameterException "moving AWSCURRENT with the wrong RemoveFromVersionId"
aws $SM update-secret-version-stage --secret-id app/db --version-stage AWSCURRENT --move-to-version-id $TOK1 --remove-from-version-id "$V1"
expect_q 'd["Name"]' app/db "update-secret-version-stage AWSCURRENT"
aws $SM describe-secret --secret-id app/db
expect_q 'sorted((k, sorted(v)) for k, v in d["VersionIdsToStages"].items()) == sorted([("'$TOK1'", ["AWSCURRENT", "AWSPENDING"]), ("'$V1'", ["AWSPREVIOUS"])])' True "AWSPREVIOUS follows AWSCURRENT by itself"
expect_q 'd["Description"]' "the app's db" "describe-secret: description"
aws $SM update-secret-version-stage --secret-id app/db --version-stage AWSPENDING --remove-from-version-id $TOK1
expect_q 'd["Name"]' app/db "update-secret-version-stage: remove AWSPENDING"
aws $SM get-secret-value --secret-id app/db --version-stage AWSPENDING
expect_error ResourceNotFoundException "AWSPENDING removed"
aws $SM get-secret-value --secret-id app/db --version-id "$V1"
expect_q 'd["SecretString"] + " " + ",".join(d["VersionStages"])' "first-value-canary-1 AWSPREVIOUS" "get-secret-value --version-id"
aws $SM put-secret-value --secret-id app/db --secret-string fourth --client-request-token $TOK2
expect_q '",".join(d["VersionStages"])' AWSCURRENT "put-secret-value without VersionStages: AWSCURRENT"
aws $SM list-secret-version-ids --secret-id app/db
expect_q 'sorted((v["VersionId"], ",".join(v.get("VersionStages", []))) for v in d["Versions"]) == sorted([("'$TOK1'", "AWSPREVIOUS"), ("'$TOK2'", "AWSCURRENT")])' True "list-secret-version-ids: the labelled versions"
aws $SM list-secret-version-ids --secret-id app/db --include-deprecated
expect_q 'len(d["Versions"])' 3 "list-secret-version-ids --include-deprecated"
aws $SM tag-resource --secret-id app/db --tags Key=cspf:v:$TOK1,Value="r=rot-1 k=AKIAEXAMPLE"
expect_rc 0 "tag-resource"
aws $SM tag-resource --secret-id app/db --tags Key=aws:reserved,Value=x
expect_error InvalidParameterException "tag keys starting with aws: are refused"
aws $SM describe-secret --secret-id app/db
expect_q 'd["Tags"]' "[{'Key': 'cspf:v:$TOK1', 'Value': 'r=rot-1 k=AKIAEXAMPLE'}]" "describe-secret: tags"
aws $SM untag-resource --secret-id app/db --tag-keys cspf:v:$TOK1
aws $SM describe-secret --secret-id app/db
expect_q '"Tags" in d' False "untag-resource"
# The first version of a secret is AWSCURRENT, whatever VersionStages say.
aws $SM create-secret --name app/empty
expect_q '"VersionId" in d' False "create-secret without a value: no version"
aws $SM put-secret-value --secret-id app/empty --secret-string v --client-request-token $TOK1 --version-stages AWSPENDING
expect_q 'sorted(d["VersionStages"])' "['AWSCURRENT', 'AWSPENDING']" "the first version is AWSCURRENT too"
aws $SM list-secrets
expect_q 'sorted(s["Name"] for s in d["SecretList"])' "['app/db', 'app/empty']" "list-secrets"
aws $SM get-secret-value --secret-id app/nothing
expect_error ResourceNotFoundException "get-secret-value of a secret that does not exist"
aws $SM delete-secret --secret-id app/empty --recovery-window-in-days 7
expect_q '"DeletionDate" in d' True "delete-secret with a recovery window"
aws $SM get-secret-value --secret-id app/empty
expect_error InvalidRequestException "a secret marked for deletion"
aws $SM delete-secret --secret-id app/empty --force-delete-without-recovery
aws $SM describe-secret --secret-id app/empty
expect_error ResourceNotFoundException "force-deleted"
# Another region is another store.
AWS_DEFAULT_REGION=us-east-1 aws $SM get-secret-value --secret-id app/db
expect_error ResourceNotFoundException "secrets are per region"
# Faults: throttling and a failed call are retried by the CLI.
faults '{"throttle_every": 2}'
aws $SM get-secret-value --secret-id app/db
expect_q 'd["SecretString"]' fourth "through throttle_every 2 (ThrottlingException, retried)"
faults '{"fail_at": [1]}'
aws $SM get-secret-value --secret-id app/db
expect_q 'd["SecretString"]' fourth "through fail_at [1] (InternalServiceError, retried)"
if [ "$(stat 's["injected_errors"]')" -ge 1 ]; then ok; else bad "fail_at injected no error"; fi
faults '{"fail_action": {"GetSecretValue": {"count": -1, "code": "AccessDeniedException", "status": 400}}}'
aws $SM get-secret-value --secret-id app/db
expect_error AccessDeniedException "fail_action with a chosen error"
faults '{}'
# A wrong secret: Secrets Manager's own signature error.
AWS_ACCESS_KEY_ID=$CSPF_KEY AWS_SECRET_ACCESS_KEY=wrong/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa aws $SM list-secrets
expect_error InvalidSignatureException "secretsmanager with a wrong secret"
AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000 AWS_SECRET_ACCESS_KEY=whatever aws $SM list-secrets
expect_error UnrecognizedClientException "secretsmanager with an unknown key"

# ==================================================== IAM access keys, STS
aws iam list-access-keys --user-name cli-user
expect_q 'len(d["AccessKeyMetadata"])' 0 "list-access-keys: none yet"
# A key STS does not know yet: refused until it has propagated.
faults '{"propagation_delay_ms": 600000}'
aws iam create-access-key --user-name cli-user
expect_q 'd["AccessKey"]["UserName"] + " " + d["AccessKey"]["Status"]' "cli-user Active" "create-access-key"
NEWKEY=$(q 'd["AccessKey"]["AccessKeyId"]')
NEWSECRET=$(q 'd["AccessKey"]["SecretAccessKey"]')
echo "$NEWSECRET" >>"$T/secrets"
AWS_ACCESS_KEY_ID=$NEWKEY AWS_SECRET_ACCESS_KEY=$NEWSECRET aws sts get-caller-identity
expect_error InvalidClientTokenId "a key not yet propagated"
faults '{}'
AWS_ACCESS_KEY_ID=$NEWKEY AWS_SECRET_ACCESS_KEY=$NEWSECRET aws sts get-caller-identity
expect_q 'd["Arn"] + " " + d["Account"]' "arn:aws:iam::$ACCT:user/automation/cli-user $ACCT" "sts get-caller-identity signed with the new key"
AWS_ACCESS_KEY_ID=$NEWKEY AWS_SECRET_ACCESS_KEY="${NEWSECRET%?}X" aws sts get-caller-identity
expect_error SignatureDoesNotMatch "the new key with a wrong secret"
aws iam list-access-keys --user-name cli-user
expect_q '[(k["AccessKeyId"], k["Status"]) for k in d["AccessKeyMetadata"]] == [("'$NEWKEY'", "Active")]' True "list-access-keys: the new key"
aws iam create-access-key --user-name cli-user
expect_rc 0 "create-access-key (second)"
q 'd["AccessKey"]["SecretAccessKey"]' >>"$T/secrets"
SECOND=$(q 'd["AccessKey"]["AccessKeyId"]')
aws iam create-access-key --user-name cli-user
expect_error LimitExceeded "create-access-key (third): two keys per user"
aws iam update-access-key --user-name cli-user --access-key-id "$NEWKEY" --status Inactive
expect_rc 0 "update-access-key Inactive"
AWS_ACCESS_KEY_ID=$NEWKEY AWS_SECRET_ACCESS_KEY=$NEWSECRET aws sts get-caller-identity
expect_error InvalidClientTokenId "an inactive key"
for k in "$NEWKEY" "$SECOND"; do
	aws iam delete-access-key --user-name cli-user --access-key-id "$k"
	expect_rc 0 "delete-access-key"
done
aws iam delete-access-key --user-name cli-user --access-key-id "$NEWKEY"
expect_error NoSuchEntity "delete-access-key of a deleted key"
AWS_ACCESS_KEY_ID=$NEWKEY AWS_SECRET_ACCESS_KEY=$NEWSECRET aws sts get-caller-identity
expect_error InvalidClientTokenId "a deleted key"

# ============================================ the vault and the rotator (C)
export AWS_ACCESS_KEY_ID=$CSPF_KEY AWS_SECRET_ACCESS_KEY=$CSPF_SECRET
export CSPF_TEST_AWS_ENDPOINT=$URL
emu POST /_emulator/stats/reset >/dev/null
"$BIN/unit_vault_test_aws_sm" >"$T/vault.out" 2>&1
RC=$?
if [ "$RC" -eq 0 ] && grep -q "PASSED.*4 test" "$T/vault.out"; then ok; else bad "the aws-secrets-manager vault tests: rc $RC"; cat "$T/vault.out"; fi
if [ "$(stat 's["by_service"].get("secretsmanager", 0)')" -gt 20 ]; then ok; else bad "the vault tests did not reach the emulator"; fi

# The generic conformance test of vault.h, when this build has it.
if [ -x "$BIN/unit_vault_test_vault" ]; then
	CSPF_TEST_VAULT_CONFIG='{"type":"aws-secrets-manager","region":"eu-west-1"}' \
		AWS_ENDPOINT_URL=$URL "$BIN/unit_vault_test_vault" >"$T/conformance.out" 2>&1
	RC=$?
	if [ "$RC" -eq 0 ]; then ok; else bad "vault conformance (test_vault) on aws-secrets-manager: rc $RC"; cat "$T/conformance.out"; fi
else
	echo "note: $BIN/unit_vault_test_vault is not in this build: the generic vault conformance test did not run"
fi

# The rotator, with IAM's propagation delay at 2 s.
faults '{"propagation_delay_ms": 2000}'
CSPF_TEST_AWS_ACCOUNT=$ACCT CSPF_TEST_AWS_USER=svc-app CSPF_TEST_AWS_USER_KEY=$APP_KEY \
	CSPF_TEST_AWS_USER_SECRET=$APP_SECRET CSPF_TEST_AWS_ROLE_ACCOUNT=$OTHER \
	CSPF_TEST_AWS_ROLE=cspf-rotation CSPF_TEST_AWS_ROLE_USER=svc-other \
	CSPF_AWS_PROPAGATION_TIMEOUT=20 CSPF_TEST_CANARY_FILE=$T/secrets \
	"$BIN/unit_rotate_test_rot_aws_iam" >"$T/rotator.out" 2>&1
RC=$?
if [ "$RC" -eq 0 ] && grep -q "PASSED.*4 test" "$T/rotator.out"; then ok; else bad "the aws-iam-access-key rotator tests: rc $RC"; cat "$T/rotator.out"; fi
if grep -q "^test waited [1-9]" "$T/rotator.out"; then ok; else bad "the rotator's test did not wait out the propagation delay"; fi
faults '{}'

# ============================================== cspf rotate, end to end
# registry-example, its AWS endpoints pointed at the emulator; cspf acts
# with its own key in the payments account.
cp -r "$CSPF_SOURCE_DIR/registry-example" "$T/registry"
"$PY" - "$T/registry/cspf.json" "$URL" <<'EOF'
import json, sys
path, url = sys.argv[1:]
c = json.load(open(path))
c["providers"]["aws"]["endpoint_url"] = url
c["vaults"]["aws-payments"]["endpoint_url"] = url
# The example's other vaults and clouds: nowhere but a closed loopback
# port, so that looking for rotations left half done sends nothing out.
closed = "http://127.0.0.1:9"
for name, v in c["vaults"].items():
    if v["type"] == "hashicorp":
        v["address"] = closed
    elif v["type"] == "azure-key-vault":
        v["vault_url"] = closed + "/"
az = c["providers"].get("azure")
if az:
    az["endpoint_url"] = az["authority_url"] = az["graph_url"] = closed
json.dump(c, open(path, "w"), indent=2)
EOF
# The audit log's signing key, where the example's cspf.json expects it.
mkdir -p "$T/cspf-vault"
"$CSPF" audit keygen --out "$T/cspf-vault/audit.key" >"$T/cspf-vault/audit.pub" 2>"$ERR"
CRED='credentials/aws/payments-prod#svc-payments-api'
VPATH=payments-api/aws-access-key
export AWS_ACCESS_KEY_ID=$PAY_CSPF_KEY AWS_SECRET_ACCESS_KEY=$PAY_CSPF_SECRET
faults '{"propagation_delay_ms": 2000}'
printf '{"access_key_id":"%s","secret_access_key":"%s"}' "$PAY_KEY" "$PAY_SECRET" |
	"$CSPF" vault put --registry "$T/registry" --vault aws-payments --key-id "$PAY_KEY" "$VPATH" >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0 "cspf vault put into the aws-secrets-manager vault"
(cd "$T/registry" && CSPF_AWS_PROPAGATION_TIMEOUT=20 "$CSPF" rotate --credential "$CRED" \
	--now 2026-11-23T12:00:00Z -v) >"$T/rotate.out" 2>"$T/rotate.err"
RC=$?
cp "$T/rotate.out" "$OUT"; cp "$T/rotate.err" "$ERR"
expect_rc 0 "cspf rotate of $CRED"
if grep -q "svc-payments-api  *rotated" "$T/rotate.out"; then ok; else bad "cspf rotate: $CRED not rotated"; fi
"$CSPF" vault status --registry "$T/registry" --vault aws-payments "$VPATH" >"$OUT" 2>"$ERR"
RC=$?
NEW=$(sed -n 's/^current .* key \(AKIA[A-Z0-9]*\).*/\1/p' "$OUT")
if [ -n "$NEW" ] && [ "$NEW" != "$PAY_KEY" ] && grep -q "^previous .* key $PAY_KEY" "$OUT" &&
	! grep -q "^pending" "$OUT" && grep -q '"step":"recorded"' "$OUT"; then ok; else bad "vault status after cspf rotate"; fi
aws iam list-access-keys --user-name svc-payments-api
expect_q 'sorted((k["AccessKeyId"], k["Status"]) for k in d["AccessKeyMetadata"]) == sorted([("'"$PAY_KEY"'", "Inactive"), ("'"$NEW"'", "Active")])' True "IAM after cspf rotate: the old key inactive (grace), the new one active"
# The new key, read from the vault on a pipe, signs as the user.
"$CSPF" vault exec --registry "$T/registry" --vault aws-payments "$VPATH" -- \
	"$PY" -c 'import json, sys, urllib.request
sys.path.insert(0, sys.argv[2])
from loadcheck import sign, form
v = json.load(sys.stdin)
with open(sys.argv[3], "a") as f:
    f.write(v["secret_access_key"] + "\n")
body = form(Action="GetCallerIdentity", Version="2011-06-15")
h = sign("POST", sys.argv[1][len("http://"):], body, v["access_key_id"], v["secret_access_key"], "eu-west-1", "sts")
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/", data=body, headers=h)).read().decode()
print(r.split("<Arn>")[1].split("</Arn>")[0])' "$URL" "$EMU_DIR" "$T/secrets" >"$OUT" 2>"$ERR"
RC=$?
expect_out "arn:aws:iam::$PAY:user/svc-payments-api" "the rotated key from the vault signs as svc-payments-api"
"$CSPF" audit verify "$T/registry" --public-key "$(cat "$T/cspf-vault/audit.pub")" >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0 "cspf audit verify after the rotation"
export AWS_ACCESS_KEY_ID=$CSPF_KEY AWS_SECRET_ACCESS_KEY=$CSPF_SECRET
faults '{}'

# die_at: the emulator dies mid-call; the client sees a transport error.
faults '{"die_at": [1]}'
aws $SM get-secret-value --secret-id app/db --cli-read-timeout 5
if [ "$RC" -ne 0 ]; then ok; else bad "die_at [1]: the call succeeded"; fi
sleep 0.2
if kill -0 "$EMU_PID" 2>/dev/null; then bad "die_at [1]: the emulator still runs"; else ok; fi
wait "$EMU_PID" 2>/dev/null
EMU_PID=

# ==================================================================== canaries
# $T/secrets: every secret access key IAM handed out here (the CLI's, and
# the rotator test's, which it writes to CSPF_TEST_CANARY_FILE); the
# values the vault tests stored all hold "canary-value".
n=$(grep -c . "$T/secrets")
if [ "$n" -ge 6 ]; then ok; else bad "only $n created secret access keys to look for"; fi
for f in "$T/requests.log" "$T/emu.log" "$T/vault.out" "$T/rotator.out" "$T/conformance.out" \
	"$T/rotate.out" "$T/rotate.err"; do
	[ -f "$f" ] || continue
	if grep -qE 'canary-value|first-value-canary|second-value-canary' "$f"; then
		bad "a stored value appears in $(basename "$f")"
	else
		ok
	fi
	while read -r s; do
		[ -n "$s" ] || continue
		if grep -qF -- "$s" "$f"; then bad "a created secret access key appears in $(basename "$f")"; else ok; fi
	done <"$T/secrets"
done
if grep -q "secretsmanager GetSecretValue" "$T/requests.log" && grep -q "iam CreateAccessKey" "$T/requests.log"; then ok; else bad "the request log lacks calls"; fi
if grep -qF -e "$CSPF_SECRET" -e "$PAY_CSPF_SECRET" -e "$PAY_SECRET" "$T/requests.log" "$T/emu.log" "$T/rotate.out" "$T/rotate.err"; then
	bad "a secret of the state appears in the emulator's logs or cspf's output"
else
	ok
fi

finish
