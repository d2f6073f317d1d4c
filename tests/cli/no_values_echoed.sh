#!/bin/bash
# Error messages name locations and expectations, never the document's
# values: a registry that wrongly holds a secret must not leak it into CI
# logs through cspf.  Plant a canary in every kind of failing value.
. "$(dirname "$0")/lib.bash"
cd "$T"
CANARY="AKIAZZCANARY7QX3V0RW"

cat > schema.json <<'J'
{"type": "object", "properties": {
  "p": {"type": "string", "pattern": "^[a-z]+$"},
  "f": {"type": "string", "format": "email"},
  "e": {"enum": ["red", "blue"]},
  "c": {"const": "x"},
  "m": {"type": "string", "maxLength": 3},
  "t": {"type": "integer"},
  "n": {"not": {"type": "string"}},
  "o": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
  "u": {"type": "array", "uniqueItems": true}
}}
J
cat > doc.json <<J
{"p": "$CANARY", "f": "$CANARY", "e": "$CANARY", "c": "$CANARY",
 "m": "$CANARY", "t": "$CANARY", "n": "$CANARY", "o": "$CANARY",
 "u": ["$CANARY", "$CANARY"]}
J
for fmt in text json; do
	run schema validate --schema schema.json --format $fmt doc.json
	expect_rc 1 "$fmt: the document is invalid"
	n=$(grep -c . "$OUT")
	[ "$n" -ge 9 ] && ok || bad "$fmt: expected every finding reported, got $n lines"
	expect_no_out "$CANARY" "$fmt: no value echoed"
	expect_no_out "CANARY" "$fmt: not even part of it"
done
finish
