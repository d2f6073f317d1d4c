#!/bin/bash
# cspf digest with the files sink on registry-example kept in git: the
# registry's own history as the events (commits in and out of the
# period, by team members and by someone the registry does not know),
# --dry-run, a first run that opens tickets due five days later, a re-run
# (a day later) that updates them and keeps their dates, the follow-up
# that escalates exactly the overdue ones once, and bad options.
. "$(dirname "$0")/lib.bash"
SRC=${CSPF_SOURCE_DIR:?the source tree}
R="$T/reg"
TK="$T/tickets"
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
NOW=2026-11-23T12:00:00Z

# ---- bad options ----
run digest "$R" --period yesterday --sink "files:$TK"
expect_rc 2 "a period that does not parse"
expect_err "2026-11-16/P14D" "the period error shows the form"
run digest "$R" --sources nosuch --sink "files:$TK"
expect_rc 2 "an unknown source"
expect_err "no such source" "the source error"
run digest "$R" --sink "ftp:x" --sources git --now $NOW
expect_rc 1 "a sink that is none"
expect_out "files:DIR" "the sink error lists the sinks"

# ---- dry run ----
run digest "$R" --sources git --sink "files:$TK" --now $NOW --dry-run
expect_rc 0 "dry run"
expect_out "would open" "dry run says what it would open"
expect_out "user-actions     maria.rossi@example.com" "maria's review"
expect_out "period 2026-11-16/P14D: 2 events" "two events in the period"
if [ -e "$TK" ]; then bad "dry run wrote tickets"; else ok; fi

# ---- first run ----
run digest "$R" --sources git --sink "files:$TK" --now $NOW
expect_rc 0 "first run"
P="$TK/2026-11-16"
expect_out "created    resource-actions payments@example.com" "the payments team's resources"
expect_out "created    user-actions     maria.rossi@example.com" "maria's actions"
expect_out "created    unattributed     https://example.pagerduty.com/escalation_policies#P1X2Y3Z" "the unknown author, to the account's escalation contact"
expect_out "created    role-members     security-ops@example.com" "security owns the auditor role, with members"
expect_out "created    user-roles       jonas.berg@example.com" "platform's manager gets their people's roles"
CREATED=$(grep -c '^created' "$OUT")
if [ "$CREATED" -ge 6 ]; then ok; else bad "first run opened $CREATED tickets"; fi
J="$P/user-actions--maria.rossi@example.com.json"
if grep -q '"due":	"2026-11-28T12:00:00Z"' "$J"; then ok; else bad "due five days after opening: $(grep due "$J")"; fi
if grep -q '"events":	1,' "$J"; then ok; else bad "maria's one event"; fi
if grep -q 'registry:update,assets/iam-role/payments-api-runtime' "$P/user-actions--maria.rossi@example.com.csv"; then ok; else bad "the attachment lists the event"; fi
if grep -q '<!-- cspf-digest {"key":"2026-11-16/P14D:user-actions:maria.rossi@example.com"' "$P/user-actions--maria.rossi@example.com.md"; then ok; else bad "the marker with the key"; fi
U=$(ls "$P"/unattributed--*.csv)
if grep -q 'stranger@elsewhere.example' "$U" && grep -q 'unknown actor' "$U"; then ok; else bad "the stranger's event is listed as unattributed"; fi
if grep -q '2026-11-03' "$P"/*.csv; then bad "an event before the period"; else ok; fi

# ---- re-run a day later: updated, nothing new, dates kept ----
run digest "$R" --sources git --sink "files:$TK" --now 2026-11-24T08:00:00Z
expect_rc 0 "re-run"
if grep -q '^created' "$OUT"; then bad "the re-run created tickets"; else ok; fi
UPDATED=$(grep -c '^updated' "$OUT")
if [ "$UPDATED" = "$CREATED" ]; then ok; else bad "re-run updated $UPDATED of $CREATED"; fi
if grep -q '"due":	"2026-11-28T12:00:00Z"' "$J"; then ok; else bad "the re-run moved the due date"; fi
N=$(ls "$P"/*.json | wc -l)
if [ "$N" = "$CREATED" ]; then ok; else bad "$N tickets on disk for $CREATED"; fi

# ---- follow-up in the next period ----
sed -i 's/"state":\t"open"/"state":\t"closed"/' "$J"
run digest "$R" --follow-up --sink "files:$TK" --now 2026-11-27T09:00:00Z
expect_rc 0 "follow-up before the due date: nothing overdue"
expect_out "0 overdue" "none overdue yet"
run digest "$R" --follow-up --previous --sink "files:$TK" --now 2026-12-01T09:00:00Z
expect_rc 0 "--previous of the next period is the one before it"
run digest "$R" --follow-up --dry-run --sink "files:$TK" --now 2026-12-01T09:00:00Z
expect_rc 1 "follow-up dry run: the overdue are findings"
if grep -q '^overdue' "$OUT" && ! grep -q '^escalated' "$OUT"; then ok; else bad "a dry run lists the overdue and escalates none"; fi
if grep -q 'Overdue' "$P/resource-actions--payments@example.com.md"; then bad "a dry run commented"; else ok; fi
run digest "$R" --follow-up --sink "files:$TK" --now 2026-12-01T09:00:00Z
expect_rc 1 "follow-up past the due date: findings"
ESC=$(grep -c '^escalated' "$OUT")
if [ "$ESC" = $((CREATED - 1)) ]; then ok; else bad "escalated $ESC, expected $((CREATED - 1)) (one closed)"; fi
expect_out "teams/security" "completion per team"
if grep -q 'Overdue' "$P/resource-actions--payments@example.com.md" &&
   grep -q '"escalated":	true' "$P/resource-actions--payments@example.com.json"; then ok; else bad "the escalation comment and flag"; fi
if grep -q 'Overdue' "$P/user-actions--maria.rossi@example.com.md"; then bad "a closed ticket was escalated"; else ok; fi
run digest "$R" --follow-up --sink "files:$TK" --now 2026-12-02T09:00:00Z
if grep -q '^escalated' "$OUT"; then bad "escalated twice"; else ok; fi
expect_out "0 escalated now" "the second follow-up escalates none"

# ---- an inventory snapshot: who a role's trust policy lets assume it ----
cat > "$T/snap.json" <<'EOF'
{"cspf_snapshot": 1, "generated": "2026-11-23T06:00:00Z", "accounts": [
 {"provider": "aws", "id": "314159265358", "status": "ok", "roles": [
  {"name": "payments-api-runtime",
   "arn": "arn:aws:iam::314159265358:role/payments-api-runtime",
   "trusted": ["arn:aws:iam::314159265358:user/priya.patel",
               "arn:aws:iam::314159265358:user/nobody",
               "arn:aws:iam::314159265358:root"]}]}]}
EOF
run digest "$R" --sources git --sink "files:$TK" --now $NOW --dry-run
if grep -q 'role-members     payments@example.com' "$OUT"; then bad "payments' role has users without the snapshot"; else ok; fi
run digest "$R" --sources git --sink "files:$T/tk-inv" --now $NOW --inventory "$T/snap.json"
expect_rc 0 "digest with an inventory snapshot"
expect_out "created    role-members     payments@example.com" "the trusted user is the role's user"
expect_out "created    user-roles       hannah.schmidt@example.com" "and her manager reviews her role"
if grep -q 'priya.patel@example.com.*its trust policy names them' "$T/tk-inv/2026-11-16/role-members--payments@example.com.md"; then ok; else bad "the ticket says why she is listed"; fi
if grep -q 'nobody' "$T/tk-inv/2026-11-16/role-members--payments@example.com.md"; then bad "a principal who is no person was listed"; else ok; fi
run digest "$R" --sources git --sink "files:$T/tk-inv" --now $NOW --inventory "$T/none.json"
expect_rc 2 "a snapshot that does not exist"

# ---- JSON output ----
run digest "$R" --sources git --sink "files:$TK" --now $NOW --dry-run --format json
expect_rc 0 "json"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["period"]=="2026-11-16/P14D"; assert all(t["result"]=="would open" for t in d["tickets"]); assert len(d["tickets"])>=6' "$OUT"; then ok; else bad "json output"; fi

finish
