#!/usr/bin/env bash
#
# cspf rotate through the aws-secrets-manager vault backend, against the
# AWS emulator (tests/emulators/aws/aws_emulator.py), as registry-example
# configures it: its vault aws-payments and its credential
# svc-payments-api (rotator aws-iam-user: IAM makes the key), and beside
# it a credential of the generated rotator in the same vault.
#
#  1. The crash matrix: cspf killed (CSPF_TEST_KILL_AT) at each step
#     (create, cleanup, set, test, promote, retire: svc-payments-api's,
#     the first credential to reach them) and after vault calls: every
#     one, vault:1, vault:2, ..., until svc-payments-api is rotated, then
#     every other one (the generated credential's and the not-due
#     credentials' calls), up to the first N at which a run finishes:
#     30 points today, 6 steps and 24 vault calls of 35 (vault:1-14,
#     16, ..., 34); CSPF_TEST_FULL_MATRIX=1 takes every call (41 points).
#     A fresh emulator and registry for each point; --concurrency 1, so
#     that a point names the same instant on every run.  Right after the
#     kill, the vault's current key must still sign (invariant 1); the
#     next run must finish, and then: both currents are rotated
#     versions, nothing pending, the records "recorded", the registry
#     committed with the new dates and key id, `cspf audit verify`
#     passes, the key signs sts:GetCallerIdentity as svc-payments-api,
#     the generated secret is of its policy, IAM holds exactly the
#     vault's current key (Active) and previous one (Inactive): no orphan
#     key; one rotation only (the previous versions are the first values)
#     unless the killed run had recorded its rotation already
#     (--credential asks for another then); no secret in any output or in
#     the emulator's logs.
#  2. AWS goes away mid-run (every call from the 12th on gets no answer),
#     at the default concurrency: a clear error, nothing retired, the
#     registry unchanged; AWS back with its state, the next run finishes.
#
# Needs /usr/bin/python3 and git (exit 77 without them).  80 to 140 s
# measured on a 2-core machine at load 7 to 10.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CSPF=${CSPF:?the cspf binary}
SRC=${CSPF_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
PY=/usr/bin/python3
EMU="$here/aws/aws_emulator.py"
[ -x "$PY" ] || { echo "SKIP: $PY is missing"; exit 77; }
command -v git > /dev/null || { echo "SKIP: git is missing (the test registry is a git repository)"; exit 77; }
T=$(mktemp -d)
EMU_PID=""
stop_emulator() {
	if [ -n "$EMU_PID" ]; then
		kill "$EMU_PID" 2> /dev/null
		wait "$EMU_PID" 2> /dev/null
	fi
	EMU_PID=""
}
cleanup() {
	stop_emulator
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

PAY=314159265358
CSPF_KEY=AKIAROTATIONCSPF0002
CSPF_SECRET=rotCspf$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
PAY_KEY=AKIAEXAMPLEPAYMENTS2 # registry-example's identity.access_key_id
PAY_SECRET=paySecret$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
CRED_IAM='credentials/aws/payments-prod#svc-payments-api'
CRED_GEN='credentials/saas/payments-partner#partner-webhook-signing'
P_IAM=payments-api/aws-access-key
P_GEN=payments/partner-webhook-signing
NOW=2026-11-23T12:00:00Z
FIRST_GEN=firstGenerated$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n%s\n%s\n' "$CSPF_SECRET" "$PAY_SECRET" "$FIRST_GEN" > "$T/secrets"

# cspf acts with its own key in the payments account; nothing from the
# caller's environment.
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION \
	AWS_ENDPOINT_URL AWS_CA_BUNDLE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
	AWS_ENDPOINT_URL_SECRETS_MANAGER AWS_ENDPOINT_URL_STS \
	AWS_ENDPOINT_URL_IAM VAULT_TOKEN CSPF_VAULT_SECRET_ID AZURE_TENANT_ID \
	AZURE_CLIENT_ID AZURE_CLIENT_SECRET CSPF_TEST_KILL_AT
export AWS_ACCESS_KEY_ID=$CSPF_KEY AWS_SECRET_ACCESS_KEY=$CSPF_SECRET
export AWS_DEFAULT_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE=$T/none AWS_CONFIG_FILE=$T/none
export HOME=$T/home PYTHONDONTWRITEBYTECODE=1 CSPF_AWS_PROPAGATION_TIMEOUT=20
mkdir -p "$HOME"

# The world: cspf's principal, and svc-payments-api with the key that
# registry-example records.
cat > "$T/state.json" << EOF
{
 "principals": [{"access_key_id": "$CSPF_KEY", "secret_access_key": "$CSPF_SECRET",
                 "account": "$PAY", "arn": "arn:aws:iam::$PAY:user/cspf"}],
 "accounts": {"$PAY": {"users": [{"name": "svc-payments-api",
   "access_keys": [{"id": "$PAY_KEY", "secret": "$PAY_SECRET", "status": "Active",
                    "created": "2026-11-16T06:00:00Z"}]}]}},
 "faults": {}
}
EOF

start_emulator() { # STATE: on $PORT when set
	rm -f "$T/port"
	"$PY" "$EMU" --state "$1" --port "${PORT:-0}" --port-file "$T/port" \
		--save-state "$T/saved.json" --log "$T/requests.log" \
		2>> "$T/emu.log" &
	EMU_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$T/port" ] && break
		kill -0 "$EMU_PID" 2> /dev/null || break
		sleep 0.05
	done
	[ -s "$T/port" ] || fail "the emulator did not start: $(cat "$T/emu.log")"
	PORT=$(cat "$T/port")
	URL=http://127.0.0.1:$PORT
}
emu() { # METHOD PATH [BODY]
	"$PY" - "$URL" "$@" << 'EOF'
import sys, urllib.request
url, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, data=body, method=method,
                             headers={"Content-Type": "application/json"})
sys.stdout.write(urllib.request.urlopen(req, timeout=10).read().decode())
EOF
}

# setup DIR: registry-example in git, its AWS endpoints the emulator, the
# other clouds' vaults a closed loopback port; the two credentials' first
# values in the aws-payments vault.
setup() {
	local d=$1
	rm -rf "$d"
	mkdir -p "$d/cspf-vault"
	cp -r "$SRC/registry-example" "$d/registry"
	"$PY" - "$d/registry/cspf.json" "$URL" << 'EOF' || fail "cspf.json"
import json, sys
path, url = sys.argv[1:]
c = json.load(open(path))
c["providers"]["aws"]["endpoint_url"] = url
c["vaults"]["aws-payments"]["endpoint_url"] = url
closed = "http://127.0.0.1:9"
for v in c["vaults"].values():
    if v["type"] == "hashicorp":
        v["address"] = closed
    elif v["type"] == "azure-key-vault":
        v["vault_url"] = closed + "/"
az = c["providers"].get("azure")
if az:
    az["endpoint_url"] = az["authority_url"] = az["graph_url"] = closed
json.dump(c, open(path, "w"), indent=2)
EOF
	# registry-example's webhook-signing, but in the aws-payments vault.
	cat > "$d/registry/credentials/saas/payments-partner.json" << EOF
{
  "credentials": [
    {
      "username": "partner-webhook-signing", "scope": "prod",
      "custodians": ["priya.patel@example.com"], "team": "payments",
      "credential_generated": "2026-05-26T08:00:00Z",
      "credential_expires": "2026-11-22T08:00:00Z",
      "identity": {"type": "api-key", "issuer": "Example Ltd webhooks",
                   "key_id": "partner-webhook-signing-v1"},
      "vault": {"vault": "aws-payments", "path": "$P_GEN"},
      "rotation": {"max_age": "P180D", "notice": "P14D", "rotator": "generated",
                   "policy": {"length": 48, "alphabet": "base64url"}}
    }
  ]
}
EOF
	(cd "$d/registry" && git init -q && git add -A &&
		git -c user.name=T -c user.email=t@e commit -qm registry) ||
		fail "git init"
	"$CSPF" vault keygen "$d/cspf-vault/vault.key" > /dev/null
	"$CSPF" audit keygen --out "$d/cspf-vault/audit.key" \
		> "$d/cspf-vault/audit.pub" 2> /dev/null
	printf '{"access_key_id":"%s","secret_access_key":"%s"}' "$PAY_KEY" \
		"$PAY_SECRET" | "$CSPF" vault put --registry "$d/registry" \
		--vault aws-payments --key-id "$PAY_KEY" "$P_IAM" > /dev/null ||
		fail "vault put $P_IAM"
	echo "$FIRST_GEN" | "$CSPF" vault put --registry \
		"$d/registry" --vault aws-payments "$P_GEN" > /dev/null ||
		fail "vault put $P_GEN"
}

# rotate DIR N ARGS...: the run's output in DIR/out.N, DIR/err.N (and
# not bash's "Killed" when it dies).
rotate() {
	local d=$1 n=$2
	shift 2
	{ ( cd "$d/registry" && exec "$CSPF" rotate --now "$NOW" \
		--max-attempts 2 --credential "$CRED_IAM" \
		--credential "$CRED_GEN" --commit "$@" ) \
		> "$d/out.$n" 2> "$d/err.$n"; } 2> /dev/null
}

status() { # DIR PATH
	"$CSPF" vault status --registry "$1/registry" --vault aws-payments "$2"
}

# probe DIR: tests/emulators/aws/key_probe.py with the vault's current
# key of svc-payments-api: "arn ARN" when it signs, then "key ID STATUS"
# of each key IAM holds for the user; IAM's secrets go to $T/secrets.
probe() {
	"$CSPF" vault exec --registry "$1/registry" --vault aws-payments \
		"$P_IAM" -- "$PY" "$here/aws/key_probe.py" "$PORT" "$PAY" \
		svc-payments-api "$T/secrets" 2>&1
}
works() { # PROBE: the key signed as svc-payments-api
	grep -qx "arn arn:aws:iam::$PAY:user/svc-payments-api" <<< "$1"
}

check() { # DIR WHAT ONE (ONE: 1 when only one rotation may have run)
	local d=$1 what=$2 one=$3 s cur prev want p pr
	for p in "$P_IAM" "$P_GEN"; do
		s=$(status "$d" "$p")
		grep -q '^current .*rotation ' <<< "$s" ||
			fail "$what: $p: current is not a rotated version: $s"
		grep -q '^pending' <<< "$s" && fail "$what: $p: a pending version is left"
		grep -q '"step":"recorded"' <<< "$s" ||
			fail "$what: $p: the record is not recorded: $s"
		if [ "$one" = 1 ] && grep -q '^previous .*rotation ' <<< "$s"; then
			fail "$what: $p: rotated twice: $s"
		fi
		[ "$p" = "$P_IAM" ] || continue
		cur=$(sed -n 's/^current .* key \(AKIA[A-Z0-9]*\).*/\1/p' <<< "$s")
		prev=$(sed -n 's/^previous .* key \(AKIA[A-Z0-9]*\).*/\1/p' <<< "$s")
		[ -n "$cur" ] && [ -n "$prev" ] && [ "$cur" != "$PAY_KEY" ] ||
			fail "$what: the vault's keys: $s"
		[ "$one" = 1 ] && [ "$prev" != "$PAY_KEY" ] &&
			fail "$what: previous is $prev, not the first key: rotated twice"
	done
	pr=$(probe "$d")
	works "$pr" || fail "$what: the current key does not sign as svc-payments-api: $pr"
	want=$(printf 'key %s Active\nkey %s Inactive\n' "$cur" "$prev" | sort)
	[ "$(grep '^key ' <<< "$pr")" = "$want" ] ||
		fail "$what: IAM holds $(grep '^key ' <<< "$pr" | tr '\n' ' '), expected the vault's current key Active and its previous one Inactive, nothing else"
	# The generated secret is of its policy (sh builtins: the value on
	# no command line).
	"$CSPF" vault exec --registry "$d/registry" --vault aws-payments \
		"$P_GEN" -- sh -c 'v=$(cat); printf "%s\n" "$v" >> "$1"
		printf "%s" "$v" | grep -Eqx "[A-Za-z0-9_-]{48}"' sh \
		"$T/secrets" ||
		fail "$what: the current generated secret is not of its policy"
	(cd "$d/registry" && git diff --quiet HEAD &&
		! grep -q '2026-11-16T06:00:00Z' credentials/aws/payments-prod.json &&
		! grep -q '2026-05-26T08:00:00Z' credentials/saas/payments-partner.json &&
		grep -q "\"access_key_id\": \"$cur\"" credentials/aws/payments-prod.json) ||
		fail "$what: the registry does not record the rotations"
	"$CSPF" audit verify "$d/registry" \
		--public-key "$(cat "$d/cspf-vault/audit.pub")" > /dev/null ||
		fail "$what: the audit log does not verify"
	sort -u "$T/secrets" | grep . > "$T/secrets.u"
	grep -a -q -F -f "$T/secrets.u" "$d/out."* "$d/err."* "$T/emu.log" \
		"$T/requests.log" &&
		fail "$what: a secret leaked into an output or the emulator's log"
	return 0
}

# The registry and the emulator's state with the first values, made once:
# each point starts from copies (the emulator on the same port).
start_emulator "$T/state.json"
setup "$T/template"
stop_emulator
git -C "$T/template/registry" gc -q # one pack: a quicker copy
cp "$T/saved.json" "$T/base.json"

# 1. Crash matrix.
points="step:create step:cleanup step:set step:test step:promote step:retire"
for n in $(seq 1 80); do points="$points vault:$n"; done
crashes=0 last="" stride=1
for p in $points; do
	case $p in
	vault:*) [ $(( ${p#vault:} % stride )) -eq 0 ] || continue ;;
	esac
	d=$T/crash
	stop_emulator
	start_emulator "$T/base.json"
	rm -rf "$d"
	cp -a "$T/template" "$d"
	rc=0
	CSPF_TEST_KILL_AT=$p rotate "$d" 0 --concurrency 1 || rc=$?
	if [ $rc -eq 0 ]; then
		case $p in vault:*) last=$p; break ;; esac
		fail "$p: the run was not killed"
	fi
	[ $rc -eq 137 ] || fail "$p: exited $rc: $(cat "$d/out.0" "$d/err.0")"
	crashes=$((crashes + 1))
	# Invariant 1: whatever the instant, the current key works.
	pr=$(probe "$d")
	works "$pr" || fail "$p: right after the crash, the current key does not sign: $pr"
	# A rotation the killed run had recorded: --credential asks again.
	si=$(status "$d" "$P_IAM" | sed -n 's/.*"step":"\([a-z]*\)".*/\1/p')
	sg=$(status "$d" "$P_GEN" | sed -n 's/.*"step":"\([a-z]*\)".*/\1/p')
	echo "$p: killed with svc-payments-api ${si:-(no record)}, partner-webhook-signing ${sg:-(no record)}"
	one=1
	[ "$si" = recorded ] || [ "$sg" = recorded ] && one=0
	# svc-payments-api rotated: from here, every other vault call.
	case $si in retired | recorded) [ -n "${CSPF_TEST_FULL_MATRIX:-}" ] || stride=2 ;; esac
	rotate "$d" 1 --concurrency 1 ||
		fail "$p: the next run exited $?: $(cat "$d/out.1" "$d/err.1")"
	check "$d" "after a crash at $p" $one
done
[ -n "$last" ] || fail "every vault call up to vault:80 was killed: the matrix is cut short"
[ $crashes -ge 30 ] || fail "only $crashes crash points were reached"
echo "aws crash matrix: $crashes crash points (the run without a crash: $last), each finished by the next run"

# 2. AWS goes away mid-run, keeping its state: every call from the 12th
# on is dropped (no answer); then it answers again.
stop_emulator
start_emulator "$T/base.json"
d=$T/away
rm -rf "$d"
cp -a "$T/template" "$d"
emu POST /_emulator/faults "{\"propagation_delay_ms\": 300, \"drop_at\": [$(seq -s, 12 400)]}" > /dev/null
rc=0
rotate "$d" 0 || rc=$?
[ $rc -eq 1 ] || fail "AWS away: exited $rc, expected 1: $(cat "$d/out.0" "$d/err.0")"
grep -q 'failed' "$d/out.0" || fail "AWS away: the summary does not say what failed"
grep -Eiq 'connect|closed|empty|no answer|could not|cannot' "$d/out.0" "$d/err.0" ||
	fail "AWS away: no clear error: $(cat "$d/out.0" "$d/err.0")"
(cd "$d/registry" && git diff --quiet HEAD -- credentials &&
	grep -q '2026-11-16T06:00:00Z' credentials/aws/payments-prod.json) ||
	fail "AWS away: the registry changed though nothing finished"
emu POST /_emulator/faults '{"propagation_delay_ms": 300}' > /dev/null
pr=$(probe "$d")
grep -qx "key $PAY_KEY Active" <<< "$pr" || fail "AWS away: the first key was retired: $pr"
works "$pr" || fail "AWS away: the current key does not sign: $pr"
rotate "$d" 1 || fail "AWS back: the next run exited $?: $(cat "$d/out.1" "$d/err.1")"
check "$d" "after AWS came back" 1
echo "AWS away: nothing retired, the next run finished"
echo "ok"
