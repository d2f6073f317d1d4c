#!/bin/bash
# cspf drift: the registry against an inventory snapshot.  The snapshots
# come from tests/emulators/world.py, which builds the estate the
# registry describes and plants drift in it, one kind at a time: each
# plant must give exactly the findings it names, and nothing else.
. "$(dirname "$0")/lib.bash"
S=$CSPF_SOURCE_DIR
PY=/usr/bin/python3
NOW=2026-11-23T09:00:00Z
WORLD="$S/tests/emulators/world.py"
[ -x "$PY" ] || { echo "skip: $PY is missing"; exit 77; }

# The estate exactly as documented: no finding.
"$PY" "$WORLD" "$S/registry-example" --now $NOW --snapshot "$T/clean.json"
run drift "$S/registry-example" --snapshot "$T/clean.json" --now $NOW
expect_rc 0 "clean estate"
if [ -s "$OUT" ]; then bad "clean estate: findings printed"; else ok; fi
expect_err "4 accounts compared (0 not in full), 0 findings" "summary"

# Each plant: exactly its findings.
while read -r plant rules; do
	"$PY" "$WORLD" "$S/registry-example" --now $NOW --plant "$plant" \
		--snapshot "$T/s.json" --registry-out "$T/reg"
	run drift "$T/reg" --snapshot "$T/s.json" --now $NOW --quiet
	expect_rc 1 "$plant: exit"
	got=$(sed -n 's/.*: error\[\([^]]*\)\].*/\1/p' "$OUT" | sort | tr '\n' ' ')
	want=$(printf '%s\n' $rules | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then ok; else
		bad "$plant: findings [$got], expected [$want]"; fi
done < <("$PY" "$WORLD" --list-plants x --now $NOW)

# Line and column point at what to fix.
"$PY" "$WORLD" "$S/registry-example" --now $NOW --plant rotated-key \
	--snapshot "$T/s.json"
run drift "$S/registry-example" --snapshot "$T/s.json" --now $NOW
expect_out "credentials/aws/payments-prod.json:28:19: error[drift/mismatch]: the registry says IAM user 'svc-payments-api' has access key AKIAEXAMPLEPAYMENTS2" "rotated key: file:line:col"

# All plants at once: every finding, each once.
args=()
while read -r plant rules; do args+=(--plant "$plant"); done \
	< <("$PY" "$WORLD" --list-plants x --now $NOW)
"$PY" "$WORLD" "$S/registry-example" --now $NOW "${args[@]}" \
	--snapshot "$T/all.json" --registry-out "$T/reg"
run drift "$T/reg" --snapshot "$T/all.json" --now $NOW --quiet
expect_rc 1 "all plants"
n=$(grep -c ': error\[' "$OUT")
want=$("$PY" "$WORLD" --list-plants x --now $NOW | awk '{n += NF - 1} END {print n}')
if [ "$n" -eq "$want" ]; then ok; else bad "all plants: $n findings, expected $want"; fi

# An approved exception waives its finding, until it expires.
"$PY" "$WORLD" "$S/registry-example" --now $NOW --plant root-key \
	--snapshot "$T/s.json" --registry-out "$T/reg"
cat > "$T/reg/exceptions/2026-099.json" <<'JSON'
{
  "rule": "CSPF-4.4",
  "target": "accounts/aws/security-sandbox",
  "justification": "A vendor's tool in the sandbox needs the root key until it is replaced.",
  "approver": "maria.rossi@example.com",
  "approved": "2026-11-01",
  "expires": "2026-12-31T00:00:00Z"
}
JSON
run drift "$T/reg" --snapshot "$T/s.json" --now $NOW
expect_rc 0 "waived by an exception"
expect_err "0 findings, 1 waived by exceptions" "waived: counted"
run drift "$T/reg" --snapshot "$T/s.json" --now 2027-01-02T00:00:00Z
expect_out "error[CSPF-4.4]" "an expired exception waives nothing"

# Formats: SARIF and JSON carry the same findings.
"$PY" "$WORLD" "$S/registry-example" --now $NOW --plant no-mfa \
	--snapshot "$T/s.json"
run drift "$S/registry-example" --snapshot "$T/s.json" --now $NOW --format sarif
expect_rc 1 "sarif: exit"
if grep -Eq '"ruleId":[[:space:]]*"CSPF-4.6"' "$OUT"; then ok; else bad "sarif: rule id"; fi
run drift "$S/registry-example" --snapshot "$T/s.json" --now $NOW --format json
expect_out '"rule":"CSPF-4.6"' "json: rule"

# Offline Azure: what `az graph query` prints, as the inventory.
"$PY" "$WORLD" "$S/registry-example" --now $NOW --azure-state "$T/az.json"
"$PY" - "$T/az.json" "$T/graph.json" <<'PYEOF'
import json, sys
state = json.load(open(sys.argv[1]))
rows = [dict(r, subscriptionId=sub)
        for sub, s in state["subscriptions"].items() for r in s["resources"]]
rows.append({"id": "/subscriptions/3f2b8c4e-9a1d-4e6f-8b2a-5c7d9e0f1a2b/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/forgotten-vm",
             "name": "forgotten-vm", "type": "Microsoft.Compute/virtualMachines",
             "location": "westeurope", "resourceGroup": "rg",
             "subscriptionId": "3f2b8c4e-9a1d-4e6f-8b2a-5c7d9e0f1a2b", "tags": None})
json.dump({"count": len(rows), "data": rows, "skip_token": None,
           "total_records": len(rows)}, open(sys.argv[2], "w"))
PYEOF
run inventory "$S/registry-example" --az-graph "$T/graph.json" --out "$T/offline-az.json"
expect_rc 0 "az graph: snapshot"
run drift "$S/registry-example" --snapshot "$T/offline-az.json" --now $NOW --quiet
expect_rc 1 "az graph: findings"
got=$(sed -n 's/.*: error\[\([^]]*\)\].*/\1/p' "$OUT" | sort | tr '\n' ' ')
if [ "$got" = "drift/undocumented " ]; then ok; else bad "az graph: findings [$got]"; fi
expect_out "Azure resource 'forgotten-vm' (microsoft.compute/virtualmachines)" "az graph: the undocumented VM"
echo '{"value": []}' > "$T/notgraph.json"
run inventory "$S/registry-example" --az-graph "$T/notgraph.json"
expect_rc 2 "az graph: not its output"

# Bad input: one clear message, exit 2.
run drift "$S/registry-example"
expect_rc 2 "no snapshot"
expect_err "--snapshot" "no snapshot: says which option"
echo '{"accounts": [' > "$T/broken.json"
run drift "$S/registry-example" --snapshot "$T/broken.json"
expect_rc 2 "malformed snapshot"
expect_err "broken.json:2:1: error: unexpected end of file" "malformed snapshot: file:line:col"
echo '{"hello": 1}' > "$T/other.json"
run drift "$S/registry-example" --snapshot "$T/other.json"
expect_rc 2 "not a snapshot"
expect_err "not an inventory snapshot" "not a snapshot: says so"
run drift "$S/registry-example" --snapshot "$T/clean.json" --now yesterday
expect_rc 2 "bad --now"

finish
