# Helpers for the command-line tests: each test script sources this,
# runs the real binary ($CSPF) and states what a user would check.
set -u
: "${CSPF:?set CSPF to the cspf binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/cspf-cli.XXXXXX")
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
PASS=0
FAIL=0
OUT="$T/.out"
ERR="$T/.err"

# run ARGS...: runs cspf, keeps stdout, stderr and the exit code.
run() {
	"$CSPF" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

ok() { PASS=$((PASS + 1)); }
bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL: $*"
	echo "--- stdout"; head -c 2000 "$OUT"
	echo "--- stderr"; head -c 2000 "$ERR"
	echo "---"
}

# expect_rc N NAME
expect_rc() {
	if [ "$RC" -eq "$1" ]; then ok; else bad "$2: exit $RC, expected $1"; fi
}

# expect_out FIXED-STRING NAME: stdout has the line/fragment
expect_out() {
	if grep -qF -- "$1" "$OUT"; then ok; else bad "$2: stdout lacks: $1"; fi
}
expect_err() {
	if grep -qF -- "$1" "$ERR"; then ok; else bad "$2: stderr lacks: $1"; fi
}
expect_no_out() {
	if grep -qF -- "$1" "$OUT" "$ERR"; then bad "$2: output has: $1"; else ok; fi
}

finish() {
	echo "$(basename "$0" .sh): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
