#!/bin/bash
# The hashicorp vault backend against the Vault emulator, and the emulator
# against hvac (Debian's python3-hvac).  Starts the emulator on a free
# loopback port, checks its fidelity with hvac, runs the vault checks of
# tests/unit/vault/ against it (token and AppRole), checks that a reader of
# <mount>/data/<path> never sees a staged value, then faults: a 503 and a
# 429 retried, an emulator killed in the middle of a promotion and started
# again, and a canary value that must appear in no log and no output.
# Exit 77 (skipped) when Debian's python cannot import hvac.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.bash"

PY=/usr/bin/python3
EMU="$here/vault/vault_emulator.py"
BIN=$(dirname "$CSPF")/tests
DRIVER="$BIN/unit_vault_test_hashicorp"

if ! "$PY" -c 'import hvac' 2>/dev/null; then
	echo "SKIP: $PY cannot import hvac (Debian: apt-get install python3-hvac)"
	exit 77
fi
if [ ! -x "$DRIVER" ]; then
	echo "FAIL: $DRIVER is not built"
	exit 1
fi

ROOT=$("$PY" -c 'import secrets; print("hvs.root" + secrets.token_hex(12))')
ROLE_ID=cspf-role-1
SECRET_ID=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
CANARY="canary-$("$PY" -c 'import secrets; print(secrets.token_hex(10))')-zz"
export VAULT_DEV_ROOT_TOKEN_ID=$ROOT VEMU_SECRET_ID=$SECRET_ID
# No VAULT_* of the caller's may leak into the checks.
unset VAULT_ADDR VAULT_NAMESPACE VAULT_CACERT VAULT_TOKEN
export HOME="$T/home"
mkdir -p "$HOME"

EMU_PIDS=""
cleanup() {
	for p in $EMU_PIDS; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# start_emulator NAME ARGS...: in the background; sets PORT, PID, ADDR.
start_emulator() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	"$PY" "$EMU" --port-file "$T/$name.port" --log "$T/$name.log" \
		--approle "$ROLE_ID=VEMU_SECRET_ID" --approle "cspf-rotator=VEMU_SECRET_ID" "$@" >>"$T/$name.out" 2>&1 &
	PID=$!
	EMU_PIDS="$EMU_PIDS $PID"
	for _ in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$T/$name.port" ]; then
		echo "emulator $name did not start:"
		cat "$T/$name.out"
		exit 1
	fi
	PORT=$(cat "$T/$name.port")
	ADDR="http://127.0.0.1:$PORT"
}

check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@" >"$T/.check" 2>&1; then
		ok
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: $name"
		head -c 2000 "$T/.check"
		echo
	fi
}

faults() { # faults ADDR JSON
	curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "$2" "$1/_emulator/faults" | grep -qx 200
}

# drv OP ARGS...: the driver against $ADDR with the root token; stdin is
# the value; keeps stdout in $OUT, stderr in $ERR, the exit code in RC.
drv() {
	VAULT_TOKEN=$ROOT CSPF_TEST_VAULT_MAX_ATTEMPTS=${ATTEMPTS:-4} \
		CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$CFG_ADDR\",\"auth\":{\"method\":\"token\"}}" \
		"$DRIVER" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

hv() { # hv PYTHON: runs it with c = an hvac client of $ADDR
	VEMU_ADDR=$ADDR VEMU_TOKEN=$ROOT "$PY" -c "
import os, sys, hvac
c = hvac.Client(url=os.environ['VEMU_ADDR'], token=os.environ['VEMU_TOKEN'])
kv = c.secrets.kv.v2
$1"
}

# ---- fidelity with hvac

start_emulator main
MAIN_PID=$PID
VEMU_ADDR=$ADDR VEMU_TOKEN=$ROOT VEMU_ROLE_ID=$ROLE_ID VEMU_COUNTS="$T/fid.counts" \
	"$PY" "$here/vault/fidelity.py"
rc=$?
if [ -s "$T/fid.counts" ]; then
	read -r p f <"$T/fid.counts"
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { FAIL=$((FAIL + 1)); echo "FAIL: fidelity.py exit $rc"; }
else
	FAIL=$((FAIL + 1))
	echo "FAIL: fidelity.py did not finish (exit $rc)"
fi

# ---- the backend: vault checks with a token, then with AppRole

# cspf sends check-and-set on every write: make the server insist on it.
check "cas_required on the mount (root and team-b namespaces)" hv "
c.secrets.kv.v2.configure(cas_required=True)
hvac.Client(url=os.environ['VEMU_ADDR'], token=os.environ['VEMU_TOKEN'], namespace='team-b').secrets.kv.v2.configure(cas_required=True)
assert kv.read_configuration()['data']['cas_required'] is True
"

check "vault checks (token auth)" env VAULT_TOKEN="$ROOT" \
	CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\",\"auth\":{\"method\":\"token\"}}" \
	"$DRIVER"
check "vault checks (approle auth, mount \"secret\" by default)" env APP_SECRET_ID="$SECRET_ID" \
	CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\",\"auth\":{\"method\":\"approle\",\"role_id\":\"$ROLE_ID\",\"secret_id_env\":\"APP_SECRET_ID\"}}" \
	"$DRIVER"
check "vault checks in a namespace, VAULT_ADDR overriding the address" env VAULT_TOKEN="$ROOT" \
	VAULT_ADDR="$ADDR" VAULT_NAMESPACE=team-b \
	CSPF_TEST_VAULT_CONFIG='{"type":"hashicorp","address":"https://vault.invalid:8200","auth":{"method":"token"}}' \
	"$DRIVER"
check "the namespace run wrote into team-b" grep -q '"namespace": "team-b", "status": 200' "$T/main.log"
printf '%s\n' "$ROOT" >"$HOME/.vault-token"
chmod 600 "$HOME/.vault-token"
check "the token from ~/.vault-token" env \
	CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\"}" "$DRIVER"
rm -f "$HOME/.vault-token"
if [ -x "$BIN/unit_vault_test_vault" ]; then
	check "generic vault conformance (tests/unit/vault/test_vault.c)" env VAULT_TOKEN="$ROOT" \
		CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\",\"auth\":{\"method\":\"token\"}}" \
		"$BIN/unit_vault_test_vault"
else
	echo "note: $BIN/unit_vault_test_vault is not built here; the generic conformance checks did not run"
fi

CFG_ADDR=$ADDR
drv get any/path current
if [ "$RC" -eq 3 ]; then ok; else bad "get of a missing path: exit $RC, expected 3"; fi
VAULT_TOKEN=wrong CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\"}" \
	"$DRIVER" get any/path current >"$OUT" 2>"$ERR"
RC=$?
expect_rc 1 "a wrong token"
expect_err "permission denied (HTTP 403" "a wrong token says permission denied"
CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\",\"kv_version\":1}" \
	VAULT_TOKEN=$ROOT "$DRIVER" get any/path current >"$OUT" 2>"$ERR"
RC=$?
expect_rc 1 "kv_version 1"
expect_err "KV version 1" "kv_version 1 is refused with the reason"
CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\"}" \
	"$DRIVER" get any/path current >"$OUT" 2>"$ERR"
RC=$?
expect_rc 1 "no token anywhere"
expect_err "no Vault token: set VAULT_TOKEN" "no token: says where to put one"

# ---- invariant 1: a reader of secret/data/<path> never sees pending

drv put app/db AKIAOLD < <(printf '%s\n' "current-value")
expect_rc 0 "put app/db"
drv stage app/db rot-20260101-a AKIANEW < <(printf '%s\n' "$CANARY")
expect_rc 0 "stage the canary on app/db"
check "hvac reads current, not the staged value" hv "
r = kv.read_secret_version('app/db')['data']
assert r['data']['value'] == 'current-value', r['metadata']
"
check "LIST app/ does not show the pending entry" hv "
assert kv.list_secrets('app')['data']['keys'] == ['db']
"
drv get app/db pending
expect_rc 0 "get pending"
expect_out "rotation=rot-20260101-a key=AKIANEW" "pending carries its rotation and key id"
drv promote app/db rot-20260101-a
expect_rc 0 "promote"
check "hvac reads the promoted value and version 2" hv "
r = kv.read_secret_version('app/db')['data']
assert r['data']['value'] == '$CANARY' and r['metadata']['version'] == 2, r['metadata']
assert kv.read_secret_version('app/db', version=1)['data']['data']['value'] == 'current-value'
"
check "custom_metadata shows current's rotation id and key id" hv "
m = kv.read_secret_metadata('app/db')['data']['custom_metadata']
assert m == {'cspf_version': '2', 'cspf_rotation_id': 'rot-20260101-a', 'cspf_key_id': 'AKIANEW'}, m
"
check "the pending version is destroyed" hv "
m = kv.read_secret_metadata('_cspf/pending/app/db')['data']
assert m['versions'][str(m['current_version'])]['destroyed'] is True, m
"

# ---- the canary: in no log and no output
check "the emulator's request log has no canary" bash -c "! grep -qF '$CANARY' '$T/main.log'"
check "the emulator's output has no canary" bash -c "! grep -qF '$CANARY' '$T/main.out'"
echo "$CANARY-2" | VAULT_TOKEN=wrong CSPF_TEST_VAULT_CONFIG="{\"type\":\"hashicorp\",\"address\":\"$ADDR\"}" \
	"$DRIVER" stage app/db rot-20260101-b >"$OUT" 2>"$ERR"
RC=$?
expect_rc 1 "staging with a wrong token fails"
expect_no_out "$CANARY" "a refused stage prints no value"

# ---- cspf vault put/status on registry-example, whose vault "main" is
# hashicorp with AppRole role cspf-rotator; VAULT_ADDR points it here
REG="$CSPF_SOURCE_DIR/registry-example"
VAULT_ADDR=$ADDR CSPF_VAULT_SECRET_ID=$SECRET_ID run vault put --registry "$REG" --vault main \
	--key-id jira-token-7 cspf/jira/api-token < <(printf '%s\n' "$CANARY-cli")
expect_rc 0 "cspf vault put into the example's hashicorp vault"
expect_no_out "$CANARY" "cspf vault put prints no value"
check "hvac reads what cspf vault put wrote" hv "
r = kv.read_secret_version('cspf/jira/api-token')['data']['data']
assert r == {'value': '$CANARY-cli', 'cspf_key_id': 'jira-token-7'}, sorted(r)
"
VAULT_ADDR=$ADDR CSPF_VAULT_SECRET_ID=$SECRET_ID run vault status --registry "$REG" --vault main cspf/jira/api-token
expect_rc 0 "cspf vault status"
expect_out "jira-token-7" "cspf vault status shows the key id"
expect_no_out "$CANARY" "cspf vault status prints no value"
CSPF_VAULT_SECRET_ID=wrong VAULT_ADDR=$ADDR run vault status --registry "$REG" --vault main cspf/jira/api-token
expect_rc 2 "a wrong AppRole secret id"
expect_err "AppRole login at auth/approle as role cspf-rotator refused" "the refusal names the role"
expect_no_out "wrong" "the refusal does not echo the secret id"
check "the request log has no canary after cspf vault" bash -c "! grep -qF '$CANARY' '$T/main.log'"

# ---- retried faults
kv_calls() { curl -sS "$ADDR/_emulator/stats" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["injected"].get(sys.argv[1], 0))' "$1"; }
before=$(kv_calls fail)
check "503 once: set" faults "$ADDR" '{"fail_at":[1],"fail_status":503}'
drv get app/db current
expect_rc 0 "503 once is retried"
check "the 503 was served" test "$(kv_calls fail)" = $((before + 1))
before=$(kv_calls throttle)
check "429 once: set" faults "$ADDR" '{"throttle_at":[1],"retry_after_s":0}'
drv get app/db current
expect_rc 0 "429 once is retried"
check "the 429 was served" test "$(kv_calls throttle)" = $((before + 1))
check "latency 50 ms: set" faults "$ADDR" '{"latency_ms":50}'
drv get app/db previous
expect_rc 0 "a slow server"
expect_out "key=AKIAOLD" "previous is the value before the promotion"
check "503 on every call: set" faults "$ADDR" '{"fail_every":1,"fail_status":503}'
ATTEMPTS=2 drv get app/db current
expect_rc 1 "503 on every call fails"
expect_err "HTTP 503" "503 on every call: the error names the status"
expect_err "try again later" "503 on every call: the error says what to do"
check "faults off" faults "$ADDR" '{}'

# ---- killed in the middle of a promotion; nothing lost
start_emulator persist --persist "$T/persist.json"
P1=$PID
CFG_ADDR=$ADDR
drv put svc/api KEYOLD < <(printf '%s\n' "old-secret")
expect_rc 0 "persist: put"
drv stage svc/api rot-20260202-x KEYNEW < <(printf '%s\n' "new-secret")
expect_rc 0 "persist: stage"
# promote: 1 read current, 2 read pending, 3 write current <- dies after it
check "die after call 3: set" faults "$ADDR" '{"die_after":3}'
ATTEMPTS=2 drv promote svc/api rot-20260202-x
expect_rc 1 "promote with the server killed mid-way fails"
expect_err "vault test:" "the error names the vault"
expect_err "is the server at $ADDR up?" "the error says what to check"
wait "$P1" 2>/dev/null
check "the emulator died (exit 3)" bash -c "! kill -0 $P1 2>/dev/null"
start_emulator persist --persist "$T/persist.json"
CFG_ADDR="https://vault.invalid:8200"
VAULT_ADDR=$ADDR drv get svc/api pending
expect_rc 0 "after the restart pending is still there (VAULT_ADDR points at the new port)"
export VAULT_ADDR=$ADDR
drv get svc/api current --value
expect_out "value=new-secret" "the write before the death took effect"
drv promote svc/api rot-20260202-x
expect_rc 0 "promote again finishes"
drv get svc/api pending
if [ "$RC" -eq 3 ]; then ok; else bad "pending after the finished promotion: exit $RC, expected 3"; fi
drv get svc/api current --value
expect_out "value=new-secret" "current is the new value"
expect_out "rotation=rot-20260202-x key=KEYNEW" "current carries the rotation"
drv get svc/api previous --value
expect_out "value=old-secret" "previous is the old value"
# stage: dies before the write is applied
check "die at call 2: set" faults "$ADDR" '{"die_at":2}'
ATTEMPTS=2 drv stage svc/api rot-20260303-y < <(printf '%s\n' "third-secret")
expect_rc 1 "stage with the server killed fails"
start_emulator persist --persist "$T/persist.json"
export VAULT_ADDR=$ADDR
drv get svc/api pending
if [ "$RC" -eq 3 ]; then ok; else bad "nothing staged by the killed call: exit $RC, expected 3"; fi
drv stage svc/api rot-20260303-y < <(printf '%s\n' "third-secret")
expect_rc 0 "stage again after the restart"
drv get svc/api current --value
expect_out "value=new-secret" "current untouched by the staging"
unset VAULT_ADDR

# ---- clean stop
stop_within() {
	kill -TERM "$1" || return 1
	for _ in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.1
	done
	return 1
}
check "SIGTERM stops the emulator cleanly" stop_within "$MAIN_PID"
check "the emulator wrote no traceback" bash -c "! grep -l Traceback '$T'/*.out"
check "the request log is one JSON object a line, without bodies" "$PY" -c "
import json
for l in open('$T/main.log'):
    d = json.loads(l)
    assert set(d) == {'t', 'method', 'path', 'namespace', 'status'}, d
"

finish
