#!/bin/bash
# A user's draft-04 schema: SARIF 2.1.0's own, with a SARIF log that
# passes and one that breaks two of its rules.
. "$(dirname "$0")/lib.bash"
SARIF_SCHEMA="$CSPF_SHARED_DIR/schemas/sarif-schema-2.1.0.json"
if [ ! -f "$SARIF_SCHEMA" ]; then
	echo "SKIP: $SARIF_SCHEMA is absent (it comes with ../shared/)"
	exit 77
fi
cd "$T"
cat > good.sarif <<'J'
{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "cspf", "version": "0.1.0",
  "rules": [{"id": "schema", "shortDescription": {"text": "JSON Schema"}}]}},
  "results": [{"ruleId": "schema", "level": "error", "message": {"text": "bad"},
    "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a/b.json", "uriBaseId": "SRCROOT"},
      "region": {"startLine": 2, "startColumn": 3}}}]}]}]}
J
run schema validate --schema "$SARIF_SCHEMA" good.sarif
expect_rc 0 "a valid SARIF log"
sed -e 's/"level": "error"/"level": "fatal"/' -e 's/"startLine": 2/"startLine": 0/' good.sarif > bad.sarif
run schema validate --schema "$SARIF_SCHEMA" bad.sarif
expect_rc 1 "an invalid SARIF log"
expect_out 'bad.sarif:3:45: error: must be one of: "none", "note", "warning", "error" (at /runs/0/results/0/level; schema #/definitions/result/properties/level/enum)' "enum of a draft-04 schema"
expect_out '(at /runs/0/results/0/locations/0/physicalLocation/region/startLine; schema #/definitions/region/properties/startLine/minimum)' "minimum"
finish
