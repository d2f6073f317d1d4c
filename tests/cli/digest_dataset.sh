#!/bin/bash
# The digest's test data set (registry-example/events/ and
# tests/data/digest/expected.json) is what its generator writes from the
# registry as it is now: a change to registry-example/ or to the generator
# without re-running it is caught here.
. "$(dirname "$0")/lib.bash"
S="$CSPF_SOURCE_DIR"
GEN="$S/tests/data/digest/gen_dataset.py"

if /usr/bin/python3 "$GEN" --check >"$OUT" 2>"$ERR"; then ok; else
	bad "the data set is not what gen_dataset.py writes: run /usr/bin/python3 tests/data/digest/gen_dataset.py and commit"
fi

bytes=$(find "$S/registry-example/events" "$S/tests/data/digest" -type f \
	-printf '%s\n' | awk '{ n += $1 } END { print n }')
if [ "$bytes" -lt 1500000 ]; then ok; else bad "the data set is $bytes bytes"; fi

# CloudTrail's layout and format: gzip without a time stamp, {"Records"}.
/usr/bin/python3 - "$S/registry-example/events/cloudtrail" >"$OUT" 2>"$ERR" <<'PY'
import gzip, json, os, re, sys
pat = re.compile(r"AWSLogs/(\d{12})/CloudTrail/([a-z0-9-]+)/2026/11/(\d\d)/"
                 r"\1_CloudTrail_\2_202611\3T\d{4}Z_[A-Z0-9]{16}\.json\.gz$")
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, sys.argv[1])
        assert pat.match(rel), rel
        raw = open(p, "rb").read()
        assert raw[4:8] == b"\0\0\0\0", rel + ": gzip mtime"
        for r in json.loads(gzip.decompress(raw))["Records"]:
            assert r["eventVersion"] in ("1.08", "1.09"), rel
            for k in ("userIdentity", "eventTime", "eventSource", "eventName",
                      "awsRegion", "eventID", "readOnly", "eventType",
                      "recipientAccountId", "eventCategory"):
                assert k in r, (rel, k)
            n += 1
print(n, "records")
PY
if [ $? -eq 0 ]; then ok; else bad "CloudTrail files"; fi
expect_out "3489 records" "every record read back"

finish
