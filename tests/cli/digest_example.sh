#!/bin/bash
# cspf digest on registry-example and its sample CloudTrail and Azure
# Activity Log files, as the README shows it: exactly the tickets that
# tests/data/digest/expected.json (gen_dataset.py's own model of
# docs/digest.md) says - recipient, report, count, due date - a re-run
# that opens nothing new, and malformed files (a truncated .json.gz, a
# broken record) each named with file and record while the rest is read.
. "$(dirname "$0")/lib.bash"
SRC=${CSPF_SOURCE_DIR:?the source tree}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY is missing"; exit 77; }
EX="$SRC/registry-example"
EV="cloudtrail:$EX/events/cloudtrail,azure-activity:$EX/events/azure-activity"
NOW=2026-11-23T12:00:00Z

# ---- the expected tickets, exactly ----
run digest "$EX" --period 2026-11-16/P14D --sources "$EV" \
	--sink "files:$T/tickets" --now $NOW --format json
expect_rc 0 "digest of the example"
cp "$OUT" "$T/first.json"
if "$PY" - "$OUT" "$SRC/tests/data/digest/expected.json" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))
g = {(t["kind"], t["recipient"]): t for t in got["tickets"]}
e = {(t["kind"], t["recipient"]): t["events"] for t in exp["tickets"]}
bad = []
for k in sorted(set(g) | set(e), key=str):
    if k not in g:
        bad.append("missing %s" % (k,))
    elif k not in e:
        bad.append("unexpected %s (%d events)" % (k, g[k]["events"]))
    elif g[k]["events"] != e[k]:
        bad.append("%s: %d events, expected %d" % (k, g[k]["events"], e[k]))
    elif g[k]["result"] != "created" or g[k]["due"] != "2026-11-28T12:00:00Z":
        bad.append("%s: %s, due %s" % (k, g[k]["result"], g[k].get("due")))
if got["events"] != exp["events_in_period"]:
    bad.append("events %d, expected %d" % (got["events"], exp["events_in_period"]))
if got["period"] != "2026-11-16/P14D":
    bad.append("period " + got["period"])
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
then ok; else bad "the tickets are not the expected ones"; fi
N=$(ls "$T/tickets/2026-11-16/"*.json | wc -l)
if [ "$N" = "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tickets"]))' "$SRC/tests/data/digest/expected.json")" ]; then ok; else bad "$N ticket files"; fi
# Every attachment has one row per event of its ticket (large ones go
# through a temporary file while the events are read).
if "$PY" - "$T/tickets/2026-11-16" <<'EOF'
import csv, glob, json, sys
bad = 0
for j in glob.glob(sys.argv[1] + "/*.json"):
    t = json.load(open(j))
    if t["kind"] in ("role-members", "user-roles"):
        continue
    rows = list(csv.reader(open(j[:-5] + ".csv")))
    if len(rows) - 1 != t["events"] or rows[0][0] != "time":
        print(j, len(rows) - 1, "rows for", t["events"], "events")
        bad += 1
sys.exit(1 if bad else 0)
EOF
then ok; else bad "attachments and their tickets disagree"; fi
# The unattributed events are listed, with why.
if grep -q 'unknown target' "$T"/tickets/2026-11-16/unattributed--*.csv &&
   grep -q 'unknown actor' "$T"/tickets/2026-11-16/unattributed--*.csv; then ok; else bad "unattributed tickets say why"; fi
# The root user's actions go to the account's root address.
if [ -s "$T/tickets/2026-11-16/user-actions--aws-root+payments-prod@example.com.csv" ]; then ok; else bad "root's actions"; fi

# ---- re-run: nothing new ----
run digest "$EX" --period 2026-11-16/P14D --sources "$EV" \
	--sink "files:$T/tickets" --now 2026-11-24T09:00:00Z
expect_rc 0 "re-run"
if grep -q '^created' "$OUT"; then bad "the re-run created tickets"; else ok; fi
expect_out "0 created, $N updated, 0 failed" "the re-run updated every ticket"

# ---- malformed files: named, the rest read ----
cp -r "$EX/events" "$T/events"
GZ=$(find "$T/events/cloudtrail" -name '*.json.gz' | sort | sed -n 5p)
SIZE=$(stat -c %s "$GZ")
head -c $((SIZE / 2)) "$GZ" > "$T/cut" && mv "$T/cut" "$GZ"
PLAIN=$(find "$T/events/cloudtrail" -name '*.json.gz' | sort | sed -n 9p)
zcat "$PLAIN" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
del d["Records"][1]["eventTime"]
json.dump(d, sys.stdout)' > "${PLAIN%.gz}"
rm "$PLAIN"
run digest "$EX" --period 2026-11-16/P14D \
	--sources "cloudtrail:$T/events/cloudtrail" --sink "files:$T/t2" --now $NOW
expect_rc 1 "malformed files: findings"
expect_err "$(basename "$GZ")" "the truncated file is named"
expect_err "$(basename "${PLAIN%.gz}")" "the file with the broken record is named"
expect_err "/Records/1" "the broken record's index"
expect_out "2 malformed" "the summary counts them"
if ls "$T"/t2/2026-11-16/resource-actions--payments@example.com.json > /dev/null 2>&1; then ok; else bad "the rest was read into tickets"; fi

finish
