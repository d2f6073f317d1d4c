#!/bin/bash
# How close cspf rotate comes to the latency bound.
#
#   bench/rotate-bench.sh [N [N1]]    N credentials at concurrency 32 (default
#                                     1000), N1 at concurrency 1 (default 150)
#   bench/rotate-bench.sh --quick     200 at concurrency 32, 50 at 1
#
# The HashiCorp Vault emulator (tests/emulators/vault, KV v2, token auth)
# answers every call 10 ms late.  A registry made from registry-example/
# holds N due credentials with the `generated` rotator in that vault; cspf
# rotate rotates them all at concurrency 32, and N1 of them at concurrency
# 1 (1,000 at concurrency 1 would take minutes: its ratio is what matters,
# and per-credential figures compare).  The bound is what no client can
# beat: the HTTP calls the emulator served during the run (its
# /_emulator/stats counter) x 10 ms / concurrency.  The target: at most
# 1.5x the bound at concurrency 32.  Every run has its own emulator and
# its own copy of the registry, and is run without --commit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
CSPF=${CSPF:-$src/build/cspf}
PY=/usr/bin/python3
TIME=${TIME:-/usr/bin/time}
LATENCY_MS=${LATENCY_MS:-10}
NOW=2026-11-23T12:00:00Z
n32=1000
n1=150
if [ "${1:-}" = --quick ]; then
	n32=200
	n1=50
elif [ -n "${1:-}" ]; then
	n32=$1
	n1=${2:-150}
fi
case "$n32$n1" in *[!0-9]*) echo "usage: $0 [N [N1]] | --quick"; exit 2 ;; esac
[ "$n32" -ge 1 ] && [ "$n1" -ge 1 ] && [ "$n32" -le 9999 ] && [ "$n1" -le 9999 ] ||
	{ echo "N and N1: 1 to 9999"; exit 2; }
[ -x "$CSPF" ] || { echo "build cspf first (cmake --build build): $CSPF"; exit 2; }
command -v git >/dev/null || { echo "needs git"; exit 2; }
command -v curl >/dev/null || { echo "needs curl"; exit 2; }
have_time=1
"$TIME" -f %M true >/dev/null 2>&1 || { have_time=0; echo "(no GNU time at $TIME: no peak RSS)"; }

out=$here/out/rotate
rm -rf "$out"
mkdir -p "$out"
ROOT=$("$PY" -c 'import secrets; print("hvs.bench" + secrets.token_hex(12))')
export VAULT_DEV_ROOT_TOKEN_ID=$ROOT VAULT_TOKEN=$ROOT
unset VAULT_ADDR VAULT_NAMESPACE VAULT_CACERT

EMU=""
stop_emulator() {
	[ -n "$EMU" ] || return 0
	kill "$EMU" 2>/dev/null
	wait "$EMU" 2>/dev/null
	EMU=""
}
trap stop_emulator EXIT

# start_emulator DIR: a fresh emulator (empty vault) logging to DIR; sets ADDR.
start_emulator() {
	local d=$1
	rm -f "$d/port"
	"$PY" "$src/tests/emulators/vault/vault_emulator.py" --port 0 \
		--port-file "$d/port" --log "$d/requests.log" >"$d/emulator.out" 2>&1 &
	EMU=$!
	for _ in $(seq 100); do
		[ -s "$d/port" ] && break
		kill -0 "$EMU" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$d/port" ] || { echo "the emulator did not start"; cat "$d/emulator.out"; exit 2; }
	ADDR=http://127.0.0.1:$(cat "$d/port")
	[ "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"latency_ms\": $LATENCY_MS}" "$ADDR/_emulator/faults")" = 200 ] ||
		{ echo "could not set the emulator's latency"; exit 2; }
}

# emu_cpu: CPU seconds the emulator has used so far.
emu_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$EMU/stat" 2>/dev/null || echo 0; }

# calls: API calls the emulator has served (control calls not counted).
calls() {
	curl -sS --max-time 10 "$ADDR/_emulator/stats" |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin)["total"])'
}

# make_registry DIR N: registry-example plus N due credentials in vault
# "bench" (the emulator at ADDR), an audit key, the local vault's key; a
# git repository with one commit.
make_registry() {
	local d=$1 n=$2
	mkdir -p "$d/cspf-vault"
	cp -r "$src/registry-example" "$d/registry"
	"$CSPF" audit keygen --out "$d/cspf-vault/audit.key" >"$d/keygen.out" 2>&1 &&
		"$CSPF" vault keygen "$d/cspf-vault/vault.key" >>"$d/keygen.out" 2>&1 ||
		{ echo "keygen failed:"; cat "$d/keygen.out"; exit 2; }
	"$PY" - "$d" "$n" "$ADDR" <<'EOF' || exit 2
import json, sys
d, n, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
reg = d + "/registry"
cfg = json.load(open(reg + "/cspf.json"))
cfg["vaults"]["bench"] = {"type": "hashicorp", "address": addr,
                          "auth": {"method": "token"}}
cfg["audit"] = {"signing_key": {"file": d + "/cspf-vault/audit.key"}}
json.dump(cfg, open(reg + "/cspf.json", "w"), indent=2)
creds = [{
    "username": "svc-%04d" % i,
    "scope": "test",
    "custodians": ["priya.patel@example.com"],
    "team": "payments",
    "credential_generated": "2026-01-01T00:00:00Z",
    "credential_expires": "2026-11-30T00:00:00Z",
    "vault": {"vault": "bench", "path": "bench/svc-%04d" % i},
    "rotation": {"max_age": "P90D", "rotator": "generated"},
} for i in range(n)]
json.dump({"credentials": creds}, open(reg + "/credentials/saas/bench.json", "w"), indent=2)
EOF
	git -C "$d/registry" init -q -b main &&
		git -C "$d/registry" add -A &&
		git -C "$d/registry" -c user.name=bench -c user.email=bench@example.com \
			commit -q -m "bench registry" || { echo "git failed"; exit 2; }
}

FAILED=0
# run CONCURRENCY N
run() {
	local c=$1 n=$2 d=$out/c$1-n$2 t0 t1 wall k0 k1 k e0 e1 bound rss="-" cpu="-" rc line rot fail
	mkdir -p "$d"
	start_emulator "$d"
	make_registry "$d" "$n"
	k0=$(calls)
	e0=$(emu_cpu)
	t0=$EPOCHREALTIME
	if [ "$have_time" = 1 ]; then
		"$TIME" -o "$d/time" -f 'RSS %M CPU %U %S' "$CSPF" rotate "$d/registry" \
			--now "$NOW" --concurrency "$c" >"$d/rotate.out" 2>"$d/rotate.err"
	else
		"$CSPF" rotate "$d/registry" --now "$NOW" --concurrency "$c" >"$d/rotate.out" 2>"$d/rotate.err"
	fi
	rc=$?
	t1=$EPOCHREALTIME
	k1=$(calls)
	e1=$(emu_cpu)
	stop_emulator
	k=$((k1 - k0))
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
	bound=$(awk -v k="$k" -v c="$c" -v l="$LATENCY_MS" 'BEGIN{printf "%.2f", k*l/1000/c}')
	if [ "$have_time" = 1 ]; then
		rss=$(awk '$1=="RSS"{printf "%.1f", $2/1024}' "$d/time")
		cpu=$(awk '$1=="RSS"{printf "%.2f", $4 + $5}' "$d/time")
	fi
	printf '%-6s %6s %8s %10s %9s %9s %7s %10s %8s %8s %9s %10s\n' "$c" "$n" "$k" \
		"$(awk -v k="$k" -v n="$n" 'BEGIN{printf "%.1f", k/n}')" "$wall" "$bound" \
		"$(awk -v a="$wall" -v b="$bound" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')" \
		"$(awk -v w="$wall" -v n="$n" 'BEGIN{printf "%.2f", w*1000/n}')" "$rss" "$cpu" \
		"$(awk -v a="$e0" -v b="$e1" 'BEGIN{printf "%.2f", b-a}')" \
		"$(cat "$d"/registry/audit/*.jsonl 2>/dev/null | wc -l)"
	# The summary: "X rotated, Y failed" (registry-example's own due
	# credential, in the local file vault, is one of them).
	line=$(grep -Eh '[0-9]+ rotated, [0-9]+ failed' "$d/rotate.out" "$d/rotate.err" | tail -1)
	rot=$(sed -nE 's/^(.*[^0-9])?([0-9]+) rotated, ([0-9]+) failed.*/\2/p' <<<"$line")
	fail=$(sed -nE 's/^(.*[^0-9])?([0-9]+) rotated, ([0-9]+) failed.*/\3/p' <<<"$line")
	if [ "$rc" -ne 0 ] || [ "${rot:-0}" -ne $((n + 1)) ] || [ "${fail:-1}" -ne 0 ]; then
		echo "  NOT ALL ROTATED (exit $rc, expected $((n + 1)) rotated): ${line:-no summary line}"
		tail -3 "$d/rotate.err"
		FAILED=1
	fi
	eval "WALL_$c=$wall BOUND_$c=$bound"
}

echo "== cspf rotate, generated rotator, HashiCorp Vault emulator at $LATENCY_MS ms a call ($(nproc) cores)"
printf '\n%-6s %6s %8s %10s %9s %9s %7s %10s %8s %8s %9s %10s\n' conc. N calls calls/cred wall_s bound_s ratio ms/cred rss_mib cpu_s emu_cpu_s audit_recs
run 1 "$n1"
run 32 "$n32"
echo
r=$(awk -v a="$WALL_32" -v b="$BOUND_32" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
echo "target: concurrency 32 within 1.5x the latency bound: ${r}x ($(awk -v r="$r" 'BEGIN{print (r <= 1.5) ? "met" : "MISSED"}'))"
echo "N counts the bench credentials; each run also rotates registry-example's one due credential (local file vault, no HTTP)."
echo "outputs in $out"
exit "$FAILED"
