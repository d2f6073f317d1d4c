#!/usr/bin/env bash
#
# cspf digest against the GitHub and Jira emulators, as a user runs it:
# the first run opens one ticket per key; a second run opens none and
# updates them all; a run whose sink fails half way (calls refused, a
# create that took effect but whose answer was lost) then a run that
# succeeds leave exactly one ticket per key; the follow-up escalates
# exactly the overdue tickets, once; the token never shows.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CSPF=${CSPF:?the cspf binary}
SRC=${CSPF_SOURCE_DIR:?the source tree}
PY=/usr/bin/python3
T=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$PY" ] || { echo "SKIP: $PY is missing"; exit 77; }
command -v curl > /dev/null || { echo "SKIP: curl is missing"; exit 77; }
command -v git > /dev/null || { echo "SKIP: git is missing"; exit 77; }

CANARY=tok-canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export EMU_TOKEN=$CANARY

# The registry, in git, with commits in the period under review
# (2026-11-16/P14D) and in the one before.
R=$T/reg
cp -r "$SRC/registry-example" "$R"
rm -rf "$R/events"
commit() { # DATE EMAIL MESSAGE
	(cd "$R" && git add -A && GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1 \
		git -c user.name=X -c user.email="$2" commit -qm "$3")
}
(cd "$R" && git init -q)
commit 2026-11-03T09:00:00Z liam.oconnor@example.com "before the period"
sed -i 's/"last_review": "2026-10-01"/"last_review": "2026-11-18"/' \
	"$R/assets/iam-role/payments-api-runtime.json"
commit 2026-11-18T10:00:00Z maria.rossi@example.com "review the runtime role"
sed -i 's/Sandbox for/The sandbox for/' "$R/accounts/aws/security-sandbox.json"
commit 2026-11-19T10:00:00Z stranger@elsewhere.example "an unknown author"

start() { # NAME SCRIPT ARGS...: starts an emulator; sets URL
	local name=$1 script=$2
	shift 2
	rm -f "$T/$name.port"
	"$PY" "$script" --token-env EMU_TOKEN --port-file "$T/$name.port" \
		--log "$T/$name.log" "$@" > "$T/$name.out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.1
	done
	[ -s "$T/$name.port" ] || fail "$name emulator did not start: $(cat "$T/$name.out")"
	URL=http://127.0.0.1:$(cat "$T/$name.port")
}
faults() { # URL JSON
	curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$2" \
		"$1/_emulator/faults" | grep -qx 200 || fail "faults $2"
}
digest() { # N ARGS...: cspf digest on the registry; output in out.N
	local n=$1
	shift
	"$CSPF" digest "$R" --sources git --max-attempts 2 "$@" \
		> "$T/out.$n" 2> "$T/err.$n"
}
# keys URL: "key count" for every cspf ticket the emulator holds
count_keys() {
	curl -sS "$1/_emulator/issues" | "$PY" -c '
import json, re, sys
d = json.load(sys.stdin)
issues = d["issues"] if isinstance(d, dict) else d
keys = {}
for i in issues:
    text = i.get("body") or i.get("description") or ""
    m = re.search(r"<!-- cspf-digest (\{.*?\}) -->", text)
    if m:
        k = json.loads(m.group(1))["key"]
        keys[k] = keys.get(k, 0) + 1
for k, n in sorted(keys.items()):
    print(n, k)
'
}

run_sink() { # NAME URL SINK
	local name=$1 url=$2 sink=$3 n created
	# 1. First run.
	digest "$name.1" --sink "$sink" --now 2026-11-23T12:00:00Z ||
		fail "$name: first run exited $?: $(cat "$T/out.$name.1" "$T/err.$name.1")"
	created=$(grep -c '^created' "$T/out.$name.1")
	[ "$created" -ge 6 ] || fail "$name: only $created tickets: $(cat "$T/out.$name.1")"
	count_keys "$url" > "$T/keys.$name.1"
	[ "$(wc -l < "$T/keys.$name.1")" = "$created" ] ||
		fail "$name: $created created, the sink holds: $(cat "$T/keys.$name.1")"
	grep -qv '^1 ' "$T/keys.$name.1" && fail "$name: a key twice: $(cat "$T/keys.$name.1")"
	# 2. Second run: nothing new.
	digest "$name.2" --sink "$sink" --now 2026-11-24T08:00:00Z ||
		fail "$name: second run exited $?: $(cat "$T/out.$name.2" "$T/err.$name.2")"
	grep -q '^created' "$T/out.$name.2" && fail "$name: the second run created tickets"
	[ "$(grep -c '^updated' "$T/out.$name.2")" = "$created" ] ||
		fail "$name: the second run did not update every ticket: $(cat "$T/out.$name.2")"
	count_keys "$url" | cmp -s - "$T/keys.$name.1" ||
		fail "$name: the second run changed the set of tickets"
	echo "$name: $created tickets, a second run created none"

	# 3. The sink fails half way through another period, then recovers.
	faults "$url" '{"fail_at": [3, 4, 9, 10, 11, 12], "lose_answer_at": [2, 6]}'
	digest "$name.3" --sink "$sink" --period 2026-11-02/P14D \
		--now 2026-11-10T12:00:00Z
	[ $? = 1 ] && grep -q '^failed' "$T/out.$name.3" ||
		fail "$name: the faults made no ticket fail: $(cat "$T/out.$name.3")"
	curl -sS "$url/_emulator/stats" | grep -q '"lose_answer": [1-9]' ||
		fail "$name: no answer was lost: $(curl -sS "$url/_emulator/stats")"
	faults "$url" '{}'
	digest "$name.4" --sink "$sink" --period 2026-11-02/P14D \
		--now 2026-11-10T13:00:00Z ||
		fail "$name: the run after the faults exited $?: $(cat "$T/out.$name.4" "$T/err.$name.4")"
	count_keys "$url" > "$T/keys.$name.4"
	grep -qv '^1 ' "$T/keys.$name.4" &&
		fail "$name: a key twice after the faults: $(cat "$T/keys.$name.4")"
	n=$(grep -c '2026-11-02/P14D' "$T/keys.$name.4")
	[ "$n" -ge 3 ] || fail "$name: $n tickets for 2026-11-02/P14D"
	[ "$n" = "$(grep -cE '^(created|updated)' "$T/out.$name.4")" ] ||
		fail "$name: the re-run does not account for every ticket: $(cat "$T/out.$name.4")"
	echo "$name: a sink failing half way, then a re-run: one ticket per key ($n)"

	# 4. Follow-up, past the due date, one ticket closed.
	close_one "$url"
	digest "$name.5" --sink "$sink" --follow-up --now 2026-12-01T09:00:00Z
	[ $? = 1 ] || fail "$name: follow-up with overdue tickets should exit 1"
	[ "$(grep -c '^escalated' "$T/out.$name.5")" = $((created - 1)) ] ||
		fail "$name: escalated $(grep -c '^escalated' "$T/out.$name.5") of $((created - 1)) overdue: $(cat "$T/out.$name.5")"
	grep -q "follow-up of 2026-11-16/P14D: $((created - 1)) overdue" "$T/out.$name.5" ||
		fail "$name: the follow-up summary: $(cat "$T/out.$name.5")"
	digest "$name.6" --sink "$sink" --follow-up --now 2026-12-02T09:00:00Z
	grep -q '^escalated' "$T/out.$name.6" && fail "$name: escalated twice"
	[ "$(curl -sS "$url/_emulator/issues" | grep -o 'Overdue' | wc -l)" = $((created - 1)) ] ||
		fail "$name: not one escalation comment per overdue ticket"
	echo "$name: follow-up escalated the $((created - 1)) overdue tickets, once"
}

# GitHub.
start github "$here/github/github_emulator.py" --repo example/reviews
GH=$URL
close_one() {
	local num
	num=$(curl -sS "$1/_emulator/issues" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
issues = d["issues"] if isinstance(d, dict) else d
print([i["number"] for i in issues if "2026-11-16/P14D:user-actions:maria.rossi" in (i.get("body") or "")][0])')
	curl -sS -o /dev/null -X PATCH -H "Authorization: Bearer $EMU_TOKEN" \
		-H 'Accept: application/vnd.github+json' -H 'User-Agent: test' \
		-H 'X-GitHub-Api-Version: 2022-11-28' -d '{"state": "closed"}' \
		"$1/repos/example/reviews/issues/$num"
}
export GITHUB_TOKEN=$CANARY GITHUB_API_URL=$GH
run_sink github "$GH" github:example/reviews

# Jira: the payments team's queue is PAY (registry-example).
start jira "$here/jira/jira_emulator.py" --user cspf-bot --project SEC --project PAY
JI=$URL
close_one() {
	local key
	key=$(curl -sS "$1/_emulator/issues" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
issues = d["issues"] if isinstance(d, dict) else d
print([i["key"] for i in issues if "2026-11-16/P14D:user-actions:maria.rossi" in (i.get("description") or "")][0])')
	curl -sS -o /dev/null -H 'Content-Type: application/json' \
		-d "{\"key\": \"$key\"}" "$1/_emulator/close"
}
export JIRA_API_TOKEN=$CANARY JIRA_USER=cspf-bot
run_sink jira "$JI" "jira:$JI/SEC"
curl -sS "$JI/_emulator/issues" | grep -q '"PAY-' ||
	fail "jira: the payments team's tickets are not in its queue PAY"

grep -rqF "$CANARY" "$T"/out.* "$T"/err.* "$T"/*.log &&
	fail "the token leaked into an output or a log"
echo ok
