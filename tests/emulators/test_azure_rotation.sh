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

# ---- 2. the vault

check "vault: tests/unit/vault/test_azure_kv against the emulator" \
	"$BIN/unit_vault_test_azure_kv"
grep -q SKIP "$T/.check" && { FAIL=$((FAIL + 1)); echo "FAIL: test_azure_kv skipped"; cat "$T/.check"; }
cp "$T/.check" "$T/out.vault"; [ -n "${VERBOSE:-}" ] && cat "$T/out.vault"

finish
