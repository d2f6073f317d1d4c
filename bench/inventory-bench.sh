#!/bin/bash
# How close cspf inventory comes to the latency bound.
#
#   bench/inventory-bench.sh [ACCOUNTS [USERS]]    default 1000 accounts x 50 users
#   bench/inventory-bench.sh --quick               100 accounts x 50 users
#
# The AWS emulator (tests/emulators/aws) serves ACCOUNTS accounts of USERS
# users each, and answers every call 20 ms late.  cspf inventory reads them
# all at concurrency 1, 16 and 64.  The bound is what no client can beat:
# calls x 20 ms / concurrency (the calls counted by cspf itself).  The
# target: at most 1.3x the bound at concurrency 64.  Concurrency 1 would
# take calls x 20 ms (20 minutes for 1,000 accounts): it runs on the first
# 50 accounts, and its ratio is what matters.  Peak RSS at a quarter of the
# accounts and at all of them shows whether memory stays flat.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
CSPF=${CSPF:-$src/build/cspf}
PY=/usr/bin/python3
TIME=${TIME:-/usr/bin/time}
LATENCY_MS=${LATENCY_MS:-20}
WORKERS=${WORKERS:-4}
accounts=1000
users=50
if [ "${1:-}" = --quick ]; then
	accounts=100
elif [ -n "${1:-}" ]; then
	accounts=$1
	users=${2:-50}
fi
out=$here/out/inventory-$accounts-$users
mkdir -p "$out"
[ -x "$CSPF" ] || { echo "build cspf first (cmake --build build): $CSPF"; exit 2; }

echo "== state: $accounts accounts x $users users"
"$PY" "$src/tests/emulators/aws/gen_state.py" --accounts "$accounts" \
	--users "$users" --out "$out/state.json"
"$PY" - "$out" "$accounts" "$LATENCY_MS" <<'EOF'
import json, os, sys
out, n, latency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
state = json.load(open(out + "/state.json"))
state["faults"] = {"latency_ms": latency}
json.dump(state, open(out + "/state.json", "w"), separators=(",", ":"))
p = state["principals"][0]
open(out + "/creds", "w").write("%s %s\n" % (p["access_key_id"],
                                             p["secret_access_key"]))
ids = sorted(a for a in state["accounts"] if a != "100000000000")
# Registries of all the accounts, a quarter, and the first 50.
for name, sub in (("all", ids), ("quarter", ids[:max(1, len(ids) // 4)]),
                  ("fifty", ids[:50])):
    reg = "%s/registry-%s" % (out, name)
    os.makedirs(reg + "/accounts/aws", exist_ok=True)
    json.dump({"version": 1, "providers": {"aws": {
        "regions": ["us-east-1"], "inventory_role": "cspf-inventory"}}},
        open(reg + "/cspf.json", "w"))
    for i in sub:
        json.dump({"accountid": i, "provider": "aws", "name": "bench-" + i,
                   "contact": "ops@example.com", "team": "ops",
                   "escalation": "https://example.com/escalation",
                   "description": "A benchmark account.",
                   "security": "green"},
                  open("%s/accounts/aws/bench-%s.json" % (reg, i), "w"))
EOF
read -r key secret <"$out/creds"

rm -f "$out/port"
"$PY" "$src/tests/emulators/aws/aws_emulator.py" --state "$out/state.json" \
	--port 0 --port-file "$out/port" --workers "$WORKERS" >"$out/emulator.log" 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 200); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { echo "the emulator did not start"; cat "$out/emulator.log"; exit 2; }
export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret
export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$out/port") AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

# CPU seconds the emulator's processes have used so far.
emu_cpu() {
	local p t=0
	for p in $(pgrep -f "port-file $out/port"); do
		t=$(awk -v t="$t" '{print t + ($14 + $15) / 100}' "/proc/$p/stat" 2>/dev/null || echo "$t")
	done
	echo "$t"
}
printf '\n%-12s %-8s %8s %8s %9s %9s %7s %9s %10s %9s\n' registry conc. accounts calls wall_s bound_s ratio rss_mib cspf_cpu_s emu_cpu_s
# run REGISTRY CONCURRENCY
run() {
	local reg=$1 c=$2 t0 t1 wall calls rss n bound
	local e0 e1 cpu
	e0=$(emu_cpu)
	t0=$EPOCHREALTIME
	"$TIME" -o "$out/time" -f 'RSS %M CPU %U %S' "$CSPF" inventory "$out/registry-$reg" \
		--concurrency "$c" --out "$out/snap-$reg-$c.json" 2>"$out/err-$reg-$c"
	local rc=$?
	t1=$EPOCHREALTIME
	e1=$(emu_cpu)
	cpu=$(awk '$1=="RSS"{printf "%.2f", $4 + $5}' "$out/time")
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
	calls=$(sed -n 's/.*; \([0-9]*\) calls.*/\1/p' "$out/err-$reg-$c" | tail -1)
	n=$(sed -n 's/^cspf: \([0-9]*\) accounts\{0,1\} inventoried, \([0-9]*\) with errors.*/\1 (\2 errors)/p' "$out/err-$reg-$c")
	rss=$(awk '$1=="RSS"{printf "%.1f", $2/1024}' "$out/time")
	bound=$(awk -v k="$calls" -v c="$c" -v l="$LATENCY_MS" 'BEGIN{printf "%.2f", k*l/1000/c}')
	printf '%-12s %-8s %8s %8s %9s %9s %7s %9s %10s %9s\n' "$reg" "$c" "${n%% *}" "$calls" "$wall" "$bound" \
		"$(awk -v a="$wall" -v b="$bound" 'BEGIN{printf "%.2f", a/b}')" "$rss" "$cpu" \
		"$(awk -v a="$e0" -v b="$e1" 'BEGIN{printf "%.2f", b-a}')"
	[ "$rc" -eq 0 ] || { echo "  exit $rc: $(tail -2 "$out/err-$reg-$c")"; }
	eval "WALL_${reg}_$c=$wall BOUND_${reg}_$c=$bound RSS_${reg}_$c=$rss"
}
run fifty 1
run all 16
run all 64
run quarter 64
echo
r=$(awk -v a="$WALL_all_64" -v b="$BOUND_all_64" 'BEGIN{printf "%.2f", a/b}')
echo "target: concurrency 64 within 1.3x the latency bound: ${r}x ($(awk -v r="$r" 'BEGIN{print (r <= 1.3) ? "met" : "MISSED"}'))"
echo "memory: peak RSS ${RSS_quarter_64} MiB at $((accounts / 4)) accounts, ${RSS_all_64} MiB at $accounts"
echo "cores: $(nproc); the emulator and cspf share them (emu_cpu_s near cores x wall_s: the emulator is the limit)"
