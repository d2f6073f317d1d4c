#!/bin/bash
# Rotation on Azure against the Azure emulator: the azure-key-vault vault
# backend and the azure-app-secret rotator of cspf, and the emulator's Key
# Vault and Graph password calls checked with the official clients
# (Debian's python3-azure: azure.keyvault.secrets, azure.identity; and
# python3-msal).
#
#   1. fidelity: SecretClient set/get/list versions/update properties,
#      tags, a disabled latest version refused to readers; Graph
#      addPassword with a propagation delay, MSAL's
#      acquire_token_for_client with the new password only once it has
#      propagated, removePassword; fault switches fail_at and die_at;
#   2. the vault: tests/unit/vault/test_azure_kv (labels, resumed promote,
#      the record's compare-and-swap) and the vault conformance test
#      (tests/unit/vault/test_vault) when this build has it; what cspf
#      wrote, read back by the SDK as a consumer would;
#   3. concurrent record_put: rounds of N processes that all expect the
#      same tag; exactly one wins each round and the record is its;
#   4. the rotator: tests/unit/rotate/test_rot_azure_app (cleanup, create,
#      test with propagation, retire, undo, orphan cleanup after a crash);
#   5. the canary: no new secret text in any output or the emulator's log.
#
# Exit 77 (skipped) when Debian's python cannot import the Azure SDK or
# MSAL, or openssl/curl are missing.
: "${CSPF:?set CSPF to the cspf binary}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.bash"

PY=/usr/bin/python3
EMU="$here/azure/azure_emulator.py"
BIN=$(dirname "$CSPF")/tests
TENANT=c0ffee00-1234-4abc-9def-0123456789ab
CSPF_CLIENT=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
CSPF_SECRET=emulator-only-rotation-client-secret
APP_ID=8d4e2a71-5b3c-4f9e-a1d6-0c7b9e3f2a58
APP_OBJ=0b6c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d
OLD_KEY=5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9
OLD_SECRET=Old8Q~original-secret-made-in-the-portal-x
PROPAGATION=2

if ! "$PY" -c 'import azure.identity, azure.keyvault.secrets, azure.core, msal' 2>/dev/null; then
	echo "SKIP: $PY cannot import the Azure SDK and MSAL (Debian: apt-get install python3-azure python3-msal)"
	exit 77
fi
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
	echo "SKIP: openssl and curl are needed"
	exit 77
fi
for b in unit_vault_test_azure_kv unit_rotate_test_rot_azure_app; do
	if [ ! -x "$BIN/$b" ]; then
		echo "FAIL: $BIN/$b is not built"
		exit 1
	fi
done

EMU_PID=""
cleanup() {
	[ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# check NAME COMMAND...: one check that passes when COMMAND succeeds.
check() {
	local name=$1
	shift
	if "$@" >"$T/.check" 2>&1; then
		ok
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: $name"
		head -c 3000 "$T/.check"
		echo
	fi
}

cat >"$T/state.json" <<EOF
{
  "tenant_id": "$TENANT",
  "clients": [{"client_id": "$CSPF_CLIENT", "client_secret": "$CSPF_SECRET"}],
  "propagation_s": $PROPAGATION,
  "default_vault": "rot-kv",
  "key_vaults": {"rot-kv": {"secrets": []}},
  "applications": [{
    "id": "$APP_OBJ", "appId": "$APP_ID", "displayName": "analytics-ingest",
    "passwordCredentials": [{"keyId": "$OLD_KEY", "displayName": "made in the portal",
      "secretText": "$OLD_SECRET", "endDateTime": "2099-01-01T00:00:00Z"}]
  }]
}
EOF

# start_emulator: in the background; sets PORT, EMU_PID and B.
start_emulator() {
	rm -f "$T/emu.port"
	"$PY" "$EMU" --state "$T/state.json" --port 0 --port-file "$T/emu.port" \
		--log "$T/emu.log" --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key" \
		>>"$T/emu.out" 2>&1 &
	EMU_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$T/emu.port" ] && break
		kill -0 "$EMU_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$T/emu.port" ]; then
		echo "the emulator did not start:"
		cat "$T/emu.out"
		exit 1
	fi
	PORT=$(cat "$T/emu.port")
	B="https://127.0.0.1:$PORT"
}

"$here/tls.sh" "$T/tls" || { echo "tls.sh failed"; exit 1; }
start_emulator
C=(curl -sS --cacert "$T/tls/ca.pem" --max-time 20)
faults() { "${C[@]}" -o /dev/null -X POST "$B/_emulator/faults" -d "$1"; }

export AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CSPF_CLIENT
export AZURE_CLIENT_SECRET=$CSPF_SECRET AZURE_AUTHORITY_HOST=$B
export CURL_CA_BUNDLE="$T/tls/ca.pem"
export CSPF_AZURE_GRAPH_URL=$B
export CSPF_TEST_AZURE_BASE=$B
export CSPF_TEST_AZURE_KV_CONFIG="{\"type\":\"azure-key-vault\",\"vault_url\":\"$B/\"}"
for v in HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy; do
	unset "$v"
done

# ---- 1. fidelity of the emulator with the official clients

cat >"$T/fidelity.py" <<'EOF'
import json, logging, os, ssl, sys, time, urllib.request
B = os.environ["B"]
TENANT, CLIENT, SECRET = os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"]
APP_OBJ, APP_ID, PROP = os.environ["APP_OBJ"], os.environ["APP_ID"], float(os.environ["PROPAGATION"])
GRAPH = "https://graph.microsoft.com/.default"
logging.getLogger("azure.identity").setLevel(logging.ERROR)
from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
import msal

passed = failed = 0
def check(name, cond, why=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL - %s %s" % (name, why))
CTX = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
def control(method, path, doc=None):
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(B + path, data=data, method=method)
    with urllib.request.urlopen(req, context=CTX, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None

cred = ClientSecretCredential(TENANT, CLIENT, SECRET, authority=B, instance_discovery=False)
kv = SecretClient(vault_url=B + "/", credential=cred, verify_challenge_resource=False)

# Key Vault: what the azure-key-vault backend relies on.
a = kv.set_secret("sdk--probe", "first", tags={"cspf-key-id": "k1"})
b = kv.set_secret("sdk--probe", "second", tags={"cspf-key-id": "k2", "cspf-previous": a.properties.version})
check("set_secret makes a new version with its tags", a.properties.version != b.properties.version
      and b.properties.tags == {"cspf-key-id": "k2", "cspf-previous": a.properties.version})
g = kv.get_secret("sdk--probe")
check("get_secret reads the latest version", g.value == "second" and g.properties.version == b.properties.version)
check("get_secret by version", kv.get_secret("sdk--probe", a.properties.version).value == "first")
vs = list(kv.list_properties_of_secret_versions("sdk--probe", max_page_size=1))
check("list versions pages through nextLink, with tags and created",
      sorted(v.version for v in vs) == sorted([a.properties.version, b.properties.version])
      and all(v.created_on and v.tags for v in vs))
p = kv.update_secret_properties("sdk--probe", b.properties.version, enabled=False)
check("update_secret_properties disables a version", p.enabled is False)
try:
    kv.get_secret("sdk--probe")
    check("a disabled latest version is refused to a consumer", False, "no error")
except HttpResponseError as e:
    check("a disabled latest version is refused to a consumer (403)", e.status_code == 403 and "disabled" in str(e), str(e)[:200])
kv.update_secret_properties("sdk--probe", b.properties.version, enabled=True, tags={"x": "y"})
check("re-enabled, with new tags, the value unchanged", kv.get_secret("sdk--probe").value == "second"
      and kv.get_secret("sdk--probe").properties.tags == {"x": "y"})

# A fault switch seen by the SDK: fail_at [1] -> one 503, retried.
control("POST", "/_emulator/faults", {"fail_at": [1]})
control("DELETE", "/_emulator/stats")
check("fail_at: the SDK retries the 503 and succeeds", kv.get_secret("sdk--probe").value == "second")
st = control("GET", "/_emulator/stats")
check("fail_at: one injected failure", st["injected"].get("fail") == 1 and st["status"].get("503") == 1, json.dumps(st))
control("POST", "/_emulator/faults", {})

# Graph addPassword, then MSAL signs in with the new password only once
# it has propagated.
gc = PipelineClient(base_url=B, policies=[HeadersPolicy({"Accept": "application/json"}), RetryPolicy(),
                                          BearerTokenCredentialPolicy(cred, GRAPH)])
def graph(method, url, body=None):
    return gc.send_request(HttpRequest(method, B + url, json=body))
r = graph("GET", "/v1.0/applications?$filter=appId eq '%s'&$select=id,appId,passwordCredentials" % APP_ID)
apps = r.json()["value"]
check("Graph $filter=appId eq finds the application", r.status_code == 200 and len(apps) == 1 and apps[0]["id"] == APP_OBJ, r.text()[:200])
r = graph("POST", "/v1.0/applications/%s/addPassword" % APP_OBJ,
          {"passwordCredential": {"displayName": "cspf fidelity", "endDateTime": "2030-01-01T00:00:00Z"}})
new = r.json()
check("addPassword answers secretText and keyId", r.status_code == 200 and new["secretText"] and new["keyId"], r.text()[:100])
added = time.monotonic()
def msal_token(secret):
    app = msal.ConfidentialClientApplication(APP_ID, client_credential=secret, authority=B + "/" + TENANT,
                                             instance_discovery=False)
    return app.acquire_token_for_client(scopes=[GRAPH])
t = msal_token(new["secretText"])
check("MSAL: the new password is refused while it propagates (AADSTS7000215)",
      "access_token" not in t and t.get("error") == "invalid_client" and 7000215 in t.get("error_codes", []), str(t)[:200])
time.sleep(max(0.0, PROP - (time.monotonic() - added)) + 0.3)
t = msal_token(new["secretText"])
check("MSAL acquire_token_for_client with the new password after propagation", "access_token" in t, str(t)[:200])
r = graph("POST", "/v1.0/applications/%s/removePassword" % APP_OBJ, {"keyId": new["keyId"]})
check("removePassword answers 204", r.status_code == 204, str(r.status_code))
t = msal_token(new["secretText"])
check("MSAL: a removed password no longer signs in", "access_token" not in t and t.get("error") == "invalid_client", str(t)[:200])
print("fidelity: %d passed, %d failed" % (passed, failed))
with open(os.environ["COUNTS"], "w") as f:
    f.write("%d %d\n" % (passed, failed))
EOF
B=$B APP_OBJ=$APP_OBJ APP_ID=$APP_ID PROPAGATION=$PROPAGATION COUNTS="$T/fid.counts" \
	REQUESTS_CA_BUNDLE="$T/tls/ca.pem" SSL_CERT_FILE="$T/tls/ca.pem" "$PY" "$T/fidelity.py" >"$T/fid.out" 2>&1
rc=$?
if [ -s "$T/fid.counts" ]; then
	read -r p f <"$T/fid.counts"
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	[ "$f" -gt 0 ] && cat "$T/fid.out"
	[ "$rc" -eq 0 ] || { FAIL=$((FAIL + 1)); echo "FAIL: fidelity.py exit $rc"; cat "$T/fid.out"; }
else
	FAIL=$((FAIL + 1))
	echo "FAIL: fidelity.py did not finish (exit $rc)"
	cat "$T/fid.out"
fi

# ---- 2. the vault

check "vault: tests/unit/vault/test_azure_kv against the emulator" \
	"$BIN/unit_vault_test_azure_kv"
grep -q SKIP "$T/.check" && { FAIL=$((FAIL + 1)); echo "FAIL: test_azure_kv skipped"; cat "$T/.check"; }
cp "$T/.check" "$T/out.vault"; [ -n "${VERBOSE:-}" ] && cat "$T/out.vault"

# What cspf wrote, read by the SDK as a consumer reads it.
cat >"$T/consumer.py" <<'EOF'
import os, sys
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from azure.core.exceptions import HttpResponseError
B = os.environ["B"]
cred = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                              os.environ["AZURE_CLIENT_SECRET"], authority=B, instance_discovery=False)
kv = SecretClient(vault_url=B + "/", credential=cred, verify_challenge_resource=False)
names = [p.name for p in kv.list_properties_of_secrets() if p.name.startswith("unit--kv-")]
main = [n for n in names if "--cspf-" not in n and not n.endswith("--resume")]
assert len(main) == 1, names
s = kv.get_secret(main[0])
assert s.value == "pending-1", "consumer reads %r" % s.properties.version
assert s.properties.tags.get("cspf-rotation") == "rot-00000001", s.properties.tags
try:
    kv.get_secret(main[0] + "--cspf-pending")
    sys.exit("the discarded pending value is still readable")
except HttpResponseError as e:
    assert e.status_code == 403, e.status_code
print("ok")
EOF
check "the SDK, as a consumer, reads the promoted value and not the discarded one" \
	env B="$B" REQUESTS_CA_BUNDLE="$T/tls/ca.pem" "$PY" "$T/consumer.py"

if [ -x "$BIN/unit_vault_test_vault" ]; then
	check "vault conformance (tests/unit/vault/test_vault) on azure-key-vault" \
		env CSPF_TEST_VAULT_CONFIG="$CSPF_TEST_AZURE_KV_CONFIG" "$BIN/unit_vault_test_vault"
	cp "$T/.check" "$T/out.conformance"
else
	echo "note: this build has no tests/unit/vault/test_vault; conformance not run"
fi

# ---- 3. concurrent record_put: one winner per round

N=6
tag=none
for round in 1 2 3; do
	pids=""
	for i in $(seq 1 $N); do
		"$BIN/unit_vault_test_azure_kv" record-put race/claim "$tag" \
			"{\"round\":$round,\"writer\":$i}" >"$T/race.$round.$i" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
	winners=$(grep -l '^won ' "$T"/race.$round.* | wc -l)
	losers=$(grep -lx conflict "$T"/race.$round.* | wc -l)
	if [ "$winners" -eq 1 ] && [ "$losers" -eq $((N - 1)) ]; then
		ok
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: round $round: $winners winners, $losers conflicts of $N"
		head -n 3 "$T"/race.$round.*
	fi
	wfile=$(grep -l '^won ' "$T"/race.$round.* | head -n 1)
	wtag=$(awk '{print $2}' "$wfile")
	wi=${wfile##*.}
	"$BIN/unit_vault_test_azure_kv" record-get race/claim >"$T/race.get" 2>&1
	if [ "$(cat "$T/race.get")" = "$wtag {\"round\":$round,\"writer\":$wi}" ]; then
		ok
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: round $round: the record is not the winner's ($wtag, writer $wi):"
		cat "$T/race.get"
	fi
	tag=$wtag
done

# ---- 4. the rotator

check "rotator: tests/unit/rotate/test_rot_azure_app against the emulator" \
	env CSPF_TEST_AZURE_APP_ID=$APP_ID CSPF_TEST_AZURE_OLD_KEY=$OLD_KEY \
	CSPF_TEST_AZURE_PROPAGATION=$PROPAGATION "$BIN/unit_rotate_test_rot_azure_app"
grep -q SKIP "$T/.check" && { FAIL=$((FAIL + 1)); echo "FAIL: test_rot_azure_app skipped"; cat "$T/.check"; }
cp "$T/.check" "$T/out.rotator"
[ -n "${VERBOSE:-}" ] && cat "$T/out.rotator"

# ---- 5. canary: no secret text in any output or the emulator's log

"${C[@]}" "$B/_emulator/state" >"$T/final-state.json"
"$PY" - "$T/final-state.json" "$APP_ID" >"$T/canaries" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
app = next(a for a in d["applications"] if a["appId"] == sys.argv[2])
for p in app["passwordCredentials"]:
    if p.get("secretText") and (p.get("displayName") or "").startswith("cspf "):
        print(p["secretText"])
EOF
if [ "$(wc -l <"$T/canaries")" -ge 2 ]; then ok; else bad "the rotator left fewer than 2 secrets of its own to look for"; fi
echo "$OLD_SECRET" >>"$T/canaries"
echo "pending-1-again" >>"$T/canaries"
leak=0
while read -r c; do
	for f in "$T"/out.* "$T"/race.* "$T/emu.log" "$T/emu.out" "$T/fid.out"; do
		[ -f "$f" ] || continue
		if grep -qF -- "$c" "$f"; then
			leak=1
			echo "FAIL: a secret is in $(basename "$f")"
		fi
	done
done <"$T/canaries"
[ $leak -eq 0 ] && ok || FAIL=$((FAIL + 1))
check "the request log is one JSON object a line, without bodies" bash -c "
	$PY -c 'import json,sys; [json.loads(l) for l in open(\"$T/emu.log\")]' &&
	! grep -q '\"value\"' '$T/emu.log'"

# ---- die_at: the emulator dies at the call named

faults '{"die_at": 2}'
"${C[@]}" -o /dev/null "$B/v1.0/applications" 2>/dev/null
if "${C[@]}" -o /dev/null "$B/v1.0/applications" 2>/dev/null; then
	bad "die_at: the second call was answered"
else
	ok
fi
wait "$EMU_PID"
rc=$?
EMU_PID=""
if [ "$rc" -eq 70 ] && tail -n 1 "$T/emu.log" | grep -q '"status": 0'; then ok; else bad "die_at: exit $rc, log: $(tail -n 1 "$T/emu.log")"; fi

finish
