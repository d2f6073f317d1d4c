#!/bin/bash
# cspf schema validate: messages, exit codes, and every bad input of the
# foundation issue (each reported with file:line:col, the run going on).
. "$(dirname "$0")/lib.bash"
cd "$T"

cat > schema.json <<'J'
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["name"],
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
    "contact": {"type": "string", "format": "email"},
    "classification": {"enum": ["red", "blue", "green"]}
  }
}
J
printf '{"name": "ok-one", "contact": "a@example.com"}\n' > good.json
printf '{\n  "name": "Bad Name",\n  "classification": "purple",\n  "extra": 1\n}\n' > invalid.json

# --- the basics
run schema validate --schema schema.json good.json
expect_rc 0 "valid file"
[ ! -s "$OUT" ] && ok || bad "valid file prints nothing on stdout"

run schema validate --schema schema.json invalid.json good.json
expect_rc 1 "invalid file"
expect_out 'invalid.json:2:11: error: must match the pattern ^[a-z][a-z0-9-]*$ (at /name; schema #/properties/name/pattern)' "pattern error line"
expect_out 'invalid.json:3:21: error: must be one of: "red", "blue", "green" (at /classification; schema #/properties/classification/enum)' "enum error"
expect_out 'invalid.json:4:3: error: property "extra" is not allowed' "extra property at its key"
expect_err '2 files checked: 1 invalid' "summary"

run schema validate --schema schema.json --format json invalid.json
expect_rc 1 "json format"
/usr/bin/python3 - "$OUT" <<'P' && ok || bad "json output parses and has the fields"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["errors"]
assert len(e) == 3, e
assert {x["keyword"] for x in e} == {"pattern", "enum", "additionalProperties"}
for x in e:
    assert x["file"] == "invalid.json" and x["line"] > 0 and x["column"] > 0
    assert x["pointer"].startswith("/") and x["schemaLocation"] and x["message"]
assert d["summary"] == {"files": 1, "valid": 0, "invalid": 1, "unreadable": 0, "errors": 3}, d["summary"]
P

mkdir -p tree/sub
cp good.json tree/a.json; cp invalid.json tree/sub/b.json; echo 'not json' > tree/notes.txt
run schema validate --schema schema.json tree
expect_rc 1 "directory walk"
expect_out 'tree/sub/b.json:2:11:' "walks into subdirectories"
expect_no_out 'notes.txt' "only .json files"

run schema validate --schema schema.json - < invalid.json
expect_rc 1 "stdin"
expect_out '-:3:21:' "stdin is named -"

# --- bad input: each gets file:line:col, and the good file after it is still checked
printf '{"name": "abc",\n  "contact": "x@y.z"' > truncated.json
printf '{"name": "abc"} trailing' > trailing.json
printf '{"name": "abc",\n "name": "def"}' > dup.json
printf '{"name": "ab\xff"}' > badutf8.json
printf '{"name": "a\x00b"}' > nul.json
printf '{"name": "\\ud800"}' > surrogate.json
/usr/bin/python3 -c 'print("[" * 100000 + "]" * 100000)' > deep.json
/usr/bin/python3 -c '
import sys
sys.stdout.write("{\"name\": \"" + "a" * (100 * 1000 * 1000) + "\"}")' > huge.json
run schema validate --schema schema.json truncated.json trailing.json dup.json \
	badutf8.json nul.json surrogate.json deep.json huge.json invalid.json
expect_rc 1 "bad inputs"
expect_out 'truncated.json:2:' "truncated file"
expect_out 'trailing.json:1:17:' "trailing garbage"
expect_out 'dup.json:2:2:' "duplicate key at the second occurrence"
expect_out 'badutf8.json:1:' "invalid UTF-8"
expect_out 'nul.json:1:' "NUL byte"
expect_out 'surrogate.json:1:' "unpaired surrogate"
expect_out 'deep.json:1:' "deep nesting"
expect_out 'huge.json' "huge file"
expect_out 'invalid.json:2:11:' "the run goes on after bad files"
for f in truncated trailing dup badutf8 nul surrogate deep; do
	grep -q "^$f.json:[0-9]*:[0-9]*: error: ." "$OUT" && ok || bad "$f.json has a message with line:col"
done

# unreadable file and directory (root reads everything: use a missing one)
mkdir -p locked; echo '{}' > locked/x.json
run schema validate --schema schema.json missing.json good.json
expect_rc 2 "missing file is an environment error"
expect_err 'missing.json: error:' "missing file named"
if [ "$(id -u)" != 0 ]; then
	chmod 000 locked
	run schema validate --schema schema.json locked good.json
	expect_rc 2 "unreadable directory"
	expect_err 'locked' "unreadable directory named"
	chmod 755 locked
fi

# --- bad schemas: exit 2 with a clear reason
echo '{"$ref": "#"}' > loop.json
run schema validate --schema loop.json good.json
expect_rc 2 "self-referencing schema"
expect_err 'refers back to itself' "loop explained"
echo '{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}' > loop2.json
run schema validate --schema loop2.json good.json
expect_rc 2 "two-step \$ref loop"
echo '{"properties": {"name": {"pattern": "([a-z"}}}' > badre.json
run schema validate --schema badre.json good.json
expect_rc 2 "invalid regex"
expect_err 'pattern' "regex error names the keyword"
echo '{"$schema": "https://example.com/unknown", "type": "object"}' > dialect.json
run schema validate --schema dialect.json good.json
expect_rc 2 "unknown dialect"
expect_err 'unknown "$schema" dialect' "dialect error"
echo '{"type": "object",}' > broken-schema.json
run schema validate --schema broken-schema.json good.json
expect_rc 2 "malformed schema"
expect_err 'broken-schema.json:1:' "malformed schema with line:col"
echo '{"type": "strin"}' > meta.json
run schema validate --schema meta.json good.json
expect_rc 2 "schema invalid against the meta-schema"
expect_err '/type' "meta-schema error points at the keyword"

# --- $ref to another file, by relative path and by $id
cat > common.json <<'J'
{"$id": "https://example.com/common.json", "$defs": {"team": {"type": "string", "minLength": 2}}}
J
cat > uses.json <<'J'
{"properties": {"team": {"$ref": "https://example.com/common.json#/$defs/team"},
                "name": {"$ref": "local.json#/$defs/n"}}}
J
echo '{"$defs": {"n": {"type": "string"}}}' > local.json
echo '{"team": "x", "name": 5}' > refdoc.json
run schema validate --schema uses.json --ref common.json --ref local.json refdoc.json
expect_rc 1 "refs across files"
expect_out 'refdoc.json:1:10: error: must be at least 2 characters long (is 1) (at /team; schema common.json#/$defs/team/minLength)' "ref by \$id, shown as the file"
expect_out '(at /name; schema local.json#/$defs/n/type)' "ref by path, shown as the path"
run schema validate --schema uses.json refdoc.json
expect_rc 2 "missing ref"
expect_err '--ref' "missing ref says how to give it"

# --- usage
run schema validate good.json
expect_rc 2 "no --schema"
run schema validate --schema schema.json
expect_rc 2 "no files"
run schema validate --schema schema.json --format xml good.json
expect_rc 2 "bad --format"
run --version
expect_rc 0 "--version"
expect_out 'cspf ' "version printed"
run help schema
expect_rc 0 "help schema"
expect_out '--schema' "help lists options"
run frobnicate
expect_rc 2 "unknown command"

# --- threads give the same output as one
for i in $(seq 1 200); do
	if [ $((i % 7)) = 0 ]; then cp invalid.json "tree/many-$i.json"; else cp good.json "tree/many-$i.json"; fi
done
run schema validate --schema schema.json --jobs 1 tree; cp "$OUT" one.txt
run schema validate --schema schema.json --jobs 4 tree
cmp -s one.txt "$OUT" && ok || bad "--jobs 4 output equals --jobs 1 output"

finish
