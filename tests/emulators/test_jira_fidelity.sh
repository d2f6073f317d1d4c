#!/bin/bash
# The Jira emulator against python3-jira, Debian's package of the jira
# client library: tests/emulators/jira/fidelity.py creates, searches (JQL,
# pages), attaches, edits, comments on and closes issues through it, with
# Basic and Bearer auth, refused credentials, throttling and a lost answer.
# Then the token, a canary, must be in no log and no output.
# Exit 77 (skipped) when Debian's python cannot import jira.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.bash"

PY=/usr/bin/python3
EMU="$here/jira/jira_emulator.py"

if ! "$PY" -c 'import jira' 2>/dev/null; then
	echo "SKIP: $PY cannot import jira (Debian: apt-get install python3-jira)"
	exit 77
fi

CANARY="canary-jira-$("$PY" -c 'import secrets; print(secrets.token_hex(10))')-zz"
USER=cspf-bot@example.com
export JEMU_TOKEN=$CANARY

PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

"$PY" "$EMU" --port-file "$T/port" --log "$T/emu.log" --token-env JEMU_TOKEN \
	--user "$USER" --project SEC --project PAY --max-results 2 \
	--assignable alice@example.com >"$T/emu.out" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
	[ -s "$T/port" ] && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$T/port" ]; then
	echo "FAIL: the emulator did not start:"
	cat "$T/emu.out"
	exit 1
fi
ADDR="http://127.0.0.1:$(cat "$T/port")"

JEMU_ADDR=$ADDR JEMU_USER=$USER "$PY" "$here/jira/fidelity.py" >"$OUT" 2>"$ERR"
RC=$?
cat "$OUT"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT" | tail -1)
if [ -n "$line" ]; then
	PASS=$((PASS + ${line%% passed*}))
	f=${line#*passed, }
	FAIL=$((FAIL + ${f%% failed}))
	[ "$RC" -eq 0 ] || [ "${f%% failed}" -gt 0 ] || bad "fidelity.py exit $RC"
else
	bad "fidelity.py did not finish (exit $RC)"
fi

# The emulator's log: one line per call, no bodies, no token.
if grep -q '"path": "/rest/api/2/issue", "auth": "basic", "status": 201' "$T/emu.log"; then
	ok
else
	bad "the log has the creates"
fi
for f in "$T/emu.log" "$T/emu.out" "$OUT" "$ERR"; do
	if grep -qF -- "$CANARY" "$f"; then bad "the token is in $(basename "$f")"; else ok; fi
done

finish
