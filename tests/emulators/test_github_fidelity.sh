#!/bin/bash
# The GitHub emulator against PyGithub (Debian's python3-github): starts
# the emulator on a free loopback port with a random token, runs
# github/fidelity.py (issues, pagination, pull requests in the list,
# comments, labels, and the errors GitHub gives: 401, 404, 422, rate
# limits), then checks that the request log holds one JSON object a line
# without bodies and never the token.
# Exit 77 (skipped) when Debian's python cannot import github.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.bash"

PY=/usr/bin/python3
EMU="$here/github/github_emulator.py"
REPO=cspf-test/reviews

if ! "$PY" -c 'import github' 2>/dev/null; then
	echo "SKIP: $PY cannot import github (Debian: apt-get install python3-github)"
	exit 77
fi

GEMU_TOKEN="ghp_canary$("$PY" -c 'import secrets; print(secrets.token_hex(12))')"
export GEMU_TOKEN
EMU_PID=""
cleanup() {
	[ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

"$PY" "$EMU" --token-env GEMU_TOKEN --port-file "$T/port" --log "$T/requests.log" \
	--repo "$REPO" --assignable alice-gh >"$T/emulator.out" 2>&1 &
EMU_PID=$!
for _ in $(seq 1 100); do
	[ -s "$T/port" ] && break
	kill -0 "$EMU_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$T/port" ]; then
	echo "FAIL: the emulator did not start:"
	cat "$T/emulator.out"
	exit 1
fi
ADDR="http://127.0.0.1:$(cat "$T/port")"

GEMU_ADDR=$ADDR GEMU_REPO=$REPO GEMU_COUNTS="$T/counts" "$PY" "$here/github/fidelity.py"
rc=$?
if [ -s "$T/counts" ]; then
	read -r p f <"$T/counts"
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { FAIL=$((FAIL + 1)); echo "FAIL: fidelity.py exit $rc"; }
else
	FAIL=$((FAIL + 1))
	echo "FAIL: fidelity.py did not finish (exit $rc)"
fi

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

check "the request log is one JSON object a line, without bodies" "$PY" -c "
import json
n = 0
for l in open('$T/requests.log'):
    d = json.loads(l)
    assert set(d) == {'t', 'method', 'path', 'route', 'status'}, d
    n += 1
assert n > 20, n
"
check "the token is in no log and no output" bash -c "! grep -qF '$GEMU_TOKEN' '$T/requests.log' '$T/emulator.out'"
check "the emulator wrote no traceback" bash -c "! grep -q Traceback '$T/emulator.out'"
kill "$EMU_PID"
check "SIGTERM stops the emulator cleanly" wait "$EMU_PID"
EMU_PID=""

finish
