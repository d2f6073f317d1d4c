#!/usr/bin/env bash
#
# cspf rotate through the HashiCorp Vault backend (the emulator, AppRole as
# registry-example's "main" vault declares it), with the generated and
# exec rotators: the crash matrix (cspf killed at every step and after
# every vault call, then run again), and a vault that goes away mid-run
# (nothing retired, a clear error, the next run completes).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CSPF=${CSPF:?the cspf binary}
SRC=${CSPF_SOURCE_DIR:?the source tree}
PY=/usr/bin/python3
EMU="$here/vault/vault_emulator.py"
T=$(mktemp -d)
EMU_PID=""
cleanup() {
	[ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$PY" ] || { echo "SKIP: $PY is missing"; exit 77; }
command -v curl > /dev/null || { echo "SKIP: curl is missing"; exit 77; }

ROOT=hvs.root$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export VEMU_SECRET_ID=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CSPF_VAULT_SECRET_ID=$VEMU_SECRET_ID VAULT_DEV_ROOT_TOKEN_ID=$ROOT
unset VAULT_TOKEN VAULT_NAMESPACE VAULT_CACERT
export HOME=$T/home
mkdir -p "$HOME"
NOW=2026-11-23T12:00:00Z

start_emulator() {
	rm -f "$T/port"
	"$PY" "$EMU" --port-file "$T/port" --log "$T/emu.log" \
		--persist "$T/state.json" --approle "cspf-rotator=VEMU_SECRET_ID" \
		${PORT:+--port "$PORT"} >> "$T/emu.out" 2>&1 &
	EMU_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$T/port" ] && break
		sleep 0.1
	done
	[ -s "$T/port" ] || fail "the emulator did not start: $(cat "$T/emu.out")"
	PORT=$(cat "$T/port")
	export VAULT_ADDR=http://127.0.0.1:$PORT
}
faults() {
	curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$1" \
		"$VAULT_ADDR/_emulator/faults" | grep -qx 200 || fail "faults $1"
}
start_emulator

# setup DIR TAG: registry-example in git, its "main" vault being the
# emulator, with two due credentials there under fault/TAG/.
setup() {
	local d=$1 tag=$2
	rm -rf "$d"
	mkdir -p "$d/system" "$d/cspf-vault"
	cp -r "$SRC/registry-example" "$d/registry"
	cat > "$d/registry/credentials/saas/vaulted.json" <<EOF
{
  "credentials": [
    {
      "username": "signing", "scope": "prod",
      "custodians": ["priya.patel@example.com"], "team": "payments",
      "credential_generated": "2026-05-01T08:00:00Z",
      "credential_expires": "2026-11-27T08:00:00Z",
      "vault": {"vault": "main", "path": "fault/$tag/signing"},
      "rotation": {"max_age": "P180D", "rotator": "generated"}
    },
    {
      "username": "partner", "scope": "prod",
      "custodians": ["priya.patel@example.com"], "team": "payments",
      "credential_generated": "2026-05-01T08:00:00Z",
      "credential_expires": "2026-11-27T08:00:00Z",
      "vault": {"vault": "main", "path": "fault/$tag/partner"},
      "rotation": {"max_age": "P180D", "rotator": "exec",
        "exec": {"set": ["sh", "-c", "cat > ../system/accepted.tmp && mv ../system/accepted.tmp ../system/accepted"],
                 "test": ["sh", "-c", "cmp -s - ../system/accepted"]}}
    }
  ]
}
EOF
	(cd "$d/registry" && git init -q && git add -A &&
		git -c user.name=T -c user.email=t@e commit -qm registry)
	"$CSPF" vault keygen "$d/cspf-vault/vault.key" > /dev/null
	"$CSPF" audit keygen --out "$d/cspf-vault/audit.key" \
		> "$d/cspf-vault/audit.pub" 2> /dev/null
	echo "first-signing-$tag" | "$CSPF" vault put --registry "$d/registry" \
		--vault main "fault/$tag/signing" > /dev/null || fail "vault put"
	printf 'first-partner-%s' "$tag" > "$d/system/accepted"
	printf 'first-partner-%s\n' "$tag" | "$CSPF" vault put --registry \
		"$d/registry" --vault main "fault/$tag/partner" > /dev/null ||
		fail "vault put"
}

rotate() { # DIR N ARGS...
	local d=$1 n=$2
	shift 2
	( cd "$d/registry" && "$CSPF" rotate --now "$NOW" --max-attempts 2 \
		--credential 'credentials/saas/vaulted#signing' \
		--credential 'credentials/saas/vaulted#partner' "$@" ) \
		> "$d/out.$n" 2> "$d/err.$n"
}

check() { # DIR TAG WHAT
	local d=$1 tag=$2 what=$3 s
	for c in signing partner; do
		s=$("$CSPF" vault status --registry "$d/registry" --vault main "fault/$tag/$c")
		grep -q '^current .*rotation ' <<< "$s" ||
			fail "$what: $c: current is not a rotated version: $s"
		grep -q '^pending' <<< "$s" && fail "$what: $c: a pending version is left"
		grep -q '"step":"recorded"' <<< "$s" ||
			fail "$what: $c: the record is not recorded: $s"
	done
	"$CSPF" vault exec --registry "$d/registry" --vault main \
		"fault/$tag/partner" -- cmp -s - "$d/system/accepted" ||
		fail "$what: the current secret of partner does not work"
	(cd "$d/registry" && git diff --quiet HEAD &&
		! grep -q '2026-05-01T08:00:00Z' credentials/saas/vaulted.json) ||
		fail "$what: the registry does not record the rotations"
	"$CSPF" audit verify "$d/registry" \
		--public-key "$(cat "$d/cspf-vault/audit.pub")" > /dev/null ||
		fail "$what: the audit log does not verify"
	grep -a -q -e "first-signing-$tag" -e "first-partner-$tag" \
		"$d/out."* "$d/err."* "$T/emu.log" &&
		fail "$what: a secret leaked into an output or the emulator's log"
	return 0
}

# 1. Crash matrix.
points="step:create step:set step:test step:promote step:retire"
for n in $(seq 1 60); do points="$points vault:$n"; done
crashes=0 i=0
for p in $points; do
	i=$((i + 1))
	d=$T/crash
	setup "$d" "c$i"
	rc=0
	CSPF_TEST_KILL_AT=$p rotate "$d" 0 --commit || rc=$?
	if [ $rc -eq 0 ]; then
		case $p in vault:*) break ;; esac
		fail "$p: the run was not killed"
	fi
	[ $rc -eq 137 ] || fail "$p: exited $rc: $(cat "$d/out.0" "$d/err.0")"
	crashes=$((crashes + 1))
	rotate "$d" 1 --commit ||
		fail "$p: the next run exited $?: $(cat "$d/out.1" "$d/err.1")"
	check "$d" "c$i" "after a crash at $p"
done
[ $crashes -ge 20 ] || fail "only $crashes crash points were reached"
echo "hashicorp crash matrix: $crashes crash points, each finished by the next run"

# 2. Writes that take effect but answer 500 (the answer lost): cspf
# retries them, and a rotation record that then "changed" is its own
# write, which it recognises; the run completes.
d=$T/lost
setup "$d" lost
faults "{\"lose_answer_at\": [$(seq -s, 1 2 41)]}"
rotate "$d" 0 --commit --max-attempts 3 ||
	fail "lost answers: exited $?: $(cat "$d/out.0" "$d/err.0")"
lost=$(curl -sS "$VAULT_ADDR/_emulator/stats")
grep -q '"lose_answer": [1-9]' <<< "$lost" || fail "lost answers: none injected: $lost"
faults '{}'
check "$d" lost "after lost answers"
echo "lost answers: the rotations completed"

# 3. The vault goes away mid-run: a clear error, nothing retired, and the
# next run (the vault back, its state kept) completes.
d=$T/away
setup "$d" away
faults '{"die_at": 12}' # the 12th call from now: mid-rotation
rc=0
rotate "$d" 0 --commit || rc=$?
[ $rc -eq 1 ] || fail "vault away: exited $rc, expected 1: $(cat "$d/out.0" "$d/err.0")"
grep -q 'failed' "$d/out.0" || fail "vault away: the summary does not say what failed"
grep -Eq 'connect|refused|could not|cannot|failed' "$d/out.0" "$d/err.0" ||
	fail "vault away: no clear error: $(cat "$d/out.0" "$d/err.0")"
wait "$EMU_PID" 2> /dev/null
(cd "$d/registry" && git diff --quiet HEAD -- credentials &&
	grep -q '2026-05-01T08:00:00Z' credentials/saas/vaulted.json) ||
	fail "vault away: the registry changed though nothing finished"
start_emulator
faults '{}'
rotate "$d" 1 --commit || fail "vault back: the next run exited $?: $(cat "$d/out.1" "$d/err.1")"
check "$d" away "after the vault came back"
echo "ok"
