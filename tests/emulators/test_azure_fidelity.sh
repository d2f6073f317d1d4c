#!/bin/bash
# The Azure emulator against real clients: the official Azure SDK for
# Python from Debian (azure/fidelity.py) and curl, which speaks HTTP the
# way cspf's libcurl does.  Starts the emulator over TLS on a free port,
# checks the URL layout clients are told to use, then the SDK, then a
# clean stop on SIGTERM.  Exit 77 (skipped) when Debian's python cannot
# import the Azure SDK.
: "${CSPF:=/bin/true}"   # lib.bash wants it; these checks do not run cspf
export CSPF
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.bash"

PY=/usr/bin/python3
EMU="$here/azure/azure_emulator.py"
STATE="$here/azure/example_state.json"
TENANT=c0ffee00-1234-4abc-9def-0123456789ab

if ! "$PY" -c 'import azure.identity, azure.keyvault.secrets, azure.mgmt.resourcegraph, azure.core, msal' 2>/dev/null; then
	echo "SKIP: $PY cannot import the Azure SDK (Debian: apt-get install python3-azure python3-msal)"
	exit 77
fi
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
	echo "SKIP: openssl and curl are needed"
	exit 77
fi

EMU_PIDS=""
cleanup() {
	for p in $EMU_PIDS; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# start_emulator NAME ARGS...: starts one in the background, waits for its
# port file; sets PORT and PID.
start_emulator() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	"$PY" "$EMU" --port 0 --port-file "$T/$name.port" --log "$T/$name.log" "$@" \
		>"$T/$name.out" 2>&1 &
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
}

# j FILE EXPR: prints a value from a JSON file (EXPR in python, d = doc).
j() {
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# check NAME COMMAND...: one check that passes when COMMAND succeeds.
check() {
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

"$here/tls.sh" "$T/tls" data-kv.localhost || { echo "tls.sh failed"; exit 1; }
start_emulator tls --state "$STATE" --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key"
TLS_PID=$PID
B="https://127.0.0.1:$PORT"
C=(curl -sS --cacert "$T/tls/ca.pem" --max-time 20)

# ---- the URL layout, with curl (what cspf's libcurl sends)

token() { # token SCOPE [curl args...]: prints an access token
	local scope=$1
	shift
	"${C[@]}" "$B/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
		--data-urlencode "scope=$scope" "$@" >"$T/tok.json" &&
		j "$T/tok.json" 'd["access_token"]'
}

check "port file holds a number" grep -qE '^[0-9]+$' "$T/tls.port"
check "certificate verified for 127.0.0.1" "${C[@]}" -o /dev/null "$B/_emulator/health"
check "plain http refused on the TLS port" bash -c "! curl -sS --max-time 5 -o /dev/null http://127.0.0.1:$PORT/_emulator/health"

check "OIDC discovery names the emulator's token endpoint" bash -c "
	${C[*]} '$B/$TENANT/v2.0/.well-known/openid-configuration' >'$T/oidc.json' &&
	[ \"\$($PY -c 'import json;print(json.load(open(\"$T/oidc.json\"))[\"token_endpoint\"])')\" = '$B/$TENANT/oauth2/v2.0/token' ]"

KVTOK=$(token https://vault.azure.net/.default -d client_id=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d \
	--data-urlencode client_secret=emulator-only-cspf-client-secret)
check "token (client_secret_post) is a Bearer token with expires_in 3599" \
	bash -c "[ -n '$KVTOK' ] && [ \"\$($PY -c 'import json;d=json.load(open(\"$T/tok.json\"));print(d[\"token_type\"], d[\"expires_in\"])')\" = 'Bearer 3599' ]"
ARMTOK=$(token https://management.azure.com/.default \
	-u 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d:emulator-only-cspf-client-secret)
check "token (client_secret_basic) works too" test -n "$ARMTOK"
GRTOK=$(token https://graph.microsoft.com/.default -d client_id=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d \
	--data-urlencode client_secret=emulator-only-cspf-client-secret)

check "wrong secret: 401 invalid_client AADSTS7000215" bash -c "
	code=\$(${C[*]} -o '$T/bad.json' -w '%{http_code}' '$B/$TENANT/oauth2/v2.0/token' -d grant_type=client_credentials \
		-d client_id=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d -d client_secret=nope --data-urlencode scope=https://vault.azure.net/.default)
	[ \"\$code\" = 401 ] && grep -q '\"error\": \"invalid_client\"' '$T/bad.json' && grep -q '\"error_codes\": \[7000215\]' '$T/bad.json'"
check "a scope without /.default: 400 invalid_scope" bash -c "
	code=\$(${C[*]} -o /dev/null -w '%{http_code}' '$B/$TENANT/oauth2/v2.0/token' -d grant_type=client_credentials \
		-d client_id=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d -d client_secret=emulator-only-cspf-client-secret --data-urlencode scope=https://graph.microsoft.com/User.Read)
	[ \"\$code\" = 400 ]"

check "Resource Graph POST with \$top pages with \$skipToken" bash -c "
	${C[*]} -H 'Authorization: Bearer $ARMTOK' -H 'Content-Type: application/json' \
		'$B/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01' \
		-d '{\"subscriptions\":[\"3f2b8c4e-9a1d-4e6f-8b2a-5c7d9e0f1a2b\"],\"query\":\"Resources | where type =~ \\\"microsoft.sql/servers\\\" or type =~ \\\"microsoft.storage/storageaccounts\\\" | project id, name\",\"options\":{\"\$top\":1}}' >'$T/rg.json' &&
	$PY -c 'import json,sys; d=json.load(open(\"$T/rg.json\")); sys.exit(not (d[\"totalRecords\"]==2 and d[\"count\"]==1 and d[\"\$skipToken\"] and d[\"resultTruncated\"]==\"false\" and d[\"facets\"]==[]))'"
check "Resource Graph with a Key Vault token: 401 InvalidAuthenticationTokenAudience" bash -c "
	${C[*]} -H 'Authorization: Bearer $KVTOK' -H 'Content-Type: application/json' \
		'$B/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01' -d '{\"query\":\"Resources\"}' | grep -q InvalidAuthenticationTokenAudience"

check "Key Vault without a token: 401 with the Bearer challenge" bash -c "
	${C[*]} -D - -o /dev/null '$B/secrets?api-version=7.4' | tr -d '\r' |
	grep -qx 'WWW-Authenticate: Bearer authorization=\"$B/$TENANT\", resource=\"https://vault.azure.net\"'"
check "Key Vault list: maxresults and nextLink, exp in epoch seconds" bash -c "
	${C[*]} -H 'Authorization: Bearer $KVTOK' '$B/secrets?api-version=7.4&maxresults=2' >'$T/kv1.json' &&
	next=\$($PY -c 'import json; print(json.load(open(\"$T/kv1.json\"))[\"nextLink\"])') &&
	case \$next in '$B/secrets?api-version=7.4&\$skiptoken='*'&maxresults=2') ;; *) echo \"nextLink \$next\"; exit 1 ;; esac &&
	${C[*]} -H 'Authorization: Bearer $KVTOK' \"\$next\" >'$T/kv2.json' &&
	$PY -c 'import json,sys; a=json.load(open(\"$T/kv1.json\")); b=json.load(open(\"$T/kv2.json\")); v=a[\"value\"]+b[\"value\"]; sys.exit(not (len(v)==3 and b[\"nextLink\"] is None and v[0][\"attributes\"][\"exp\"]==1802601000))'"
check "Key Vault by host name: https://data-kv.localhost:PORT/ (curl resolves *.localhost)" bash -c "
	${C[*]} -H 'Authorization: Bearer $KVTOK' 'https://data-kv.localhost:$PORT/secrets/exports-sas-token?api-version=7.4' |
	grep -q '\"id\": \"https://data-kv.localhost:$PORT/secrets/exports-sas-token/a1b2c3d4e5f60718293a4b5c6d7e8f90\"'"
check "Key Vault by path prefix: $B/kv/data-kv/ keeps the prefix in ids" bash -c "
	${C[*]} -H 'Authorization: Bearer $KVTOK' '$B/kv/data-kv/secrets/exports-sas-token?api-version=7.4' |
	grep -q '\"id\": \"$B/kv/data-kv/secrets/exports-sas-token/'"
check "Key Vault with a Graph token: 401 AKV10022" bash -c "
	${C[*]} -H 'Authorization: Bearer $GRTOK' '$B/secrets?api-version=7.4' | grep -q AKV10022"
check "Graph list: @odata.nextLink with \$top=1" bash -c "
	${C[*]} -H 'Authorization: Bearer $GRTOK' '$B/v1.0/applications?\$top=1&\$select=id,appId,passwordCredentials' >'$T/g.json' &&
	$PY -c 'import json,sys; d=json.load(open(\"$T/g.json\")); sys.exit(not (len(d[\"value\"])==1 and d[\"@odata.nextLink\"].startswith(\"$B/v1.0/applications?\")))'"

# ---- the official SDK

AZEMU_BASE="$B" AZEMU_STATE="$STATE" AZEMU_COUNTS="$T/sdk.counts" \
	REQUESTS_CA_BUNDLE="$T/tls/ca.pem" SSL_CERT_FILE="$T/tls/ca.pem" \
	"$PY" "$here/azure/fidelity.py"
rc=$?
if [ -s "$T/sdk.counts" ]; then
	read -r p f <"$T/sdk.counts"
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { FAIL=$((FAIL + 1)); echo "FAIL: fidelity.py exit $rc"; }
else
	FAIL=$((FAIL + 1))
	echo "FAIL: fidelity.py did not finish (exit $rc)"
fi

# ---- plain http on loopback, a generated state, and clean stops

"$PY" "$here/azure/gen_state.py" --subscriptions 3 --resources 40 --seed 11 --secrets 7 --applications 5 --out "$T/gen1.json"
"$PY" "$here/azure/gen_state.py" --subscriptions 3 --resources 40 --seed 11 --secrets 7 --applications 5 --out "$T/gen2.json"
check "gen_state.py is deterministic" cmp "$T/gen1.json" "$T/gen2.json"
start_emulator plain --state "$T/gen1.json" --workers 4
PLAIN_PID=$PID
P2="http://127.0.0.1:$PORT"
check "plain http emulator on a generated state counts 120 resources" bash -c "
	tok=\$(curl -sS '$P2/$TENANT/oauth2/v2.0/token' -d grant_type=client_credentials -d client_id=00000000-0000-4000-8000-00000000c5f0 \
		-d client_secret=bench-client-secret --data-urlencode scope=https://management.azure.com/.default |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])') &&
	curl -sS -H \"Authorization: Bearer \$tok\" -H 'Content-Type: application/json' \
		'$P2/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01' -d '{\"query\":\"Resources | count\"}' |
	$PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d[\"data\"][0][\"Count\"] != 120)'"

stop_within() { # stop_within PID SECONDS: SIGTERM, exits 0 in time
	kill -TERM "$1" || return 1
	for _ in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.1
	done
	echo "still running after $2 s"
	return 1
}
check "SIGTERM stops the TLS emulator cleanly (exit 0)" stop_within "$TLS_PID" 5
check "SIGTERM stops the plain emulator cleanly (exit 0)" stop_within "$PLAIN_PID" 5
check "the request log is one JSON object a line" bash -c "
	$PY -c 'import json,sys; [json.loads(l) for l in open(\"$T/tls.log\")]' && [ \$(wc -l <'$T/tls.log') -gt 100 ]"
check "the emulator wrote no traceback" bash -c "! grep -l Traceback '$T/tls.out' '$T/plain.out'"
EMU_PIDS=""

finish
