#!/bin/bash
# cspf validate on real git repositories: the work tree, --rev on a bare
# repository, --base on a branch that changed one file, a rename, and a
# deletion that breaks references; a pre-commit hook that rejects.
. "$(dirname "$0")/lib.bash"
command -v git >/dev/null || { echo "SKIP: git is not installed"; exit 77; }
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$T"
R="$T/reg"
cp -r "$CSPF_SOURCE_DIR/registry-example" "$R"
git -C "$R" init -q -b main && git -C "$R" add -A && git -C "$R" commit -qm "the example registry"

# --- the work tree and a commit's tree agree: clean
run validate "$R"
expect_rc 0 "the example registry is clean"
expect_err "0 findings" "summary"
git clone -q --bare "$R" "$T/bare.git"
run validate "$T/bare.git" --rev main
expect_rc 0 "--rev on a bare repository"

# --- a change on a branch: --base checks the one file
git -C "$R" checkout -q -b change
sed -i 's/"green"/"purple"/' "$R/accounts/aws/security-sandbox.json"
git -C "$R" commit -qam "classify the sandbox purple"
run validate "$R" --rev change --base main
expect_rc 1 "--base finds the broken file"
expect_out 'accounts/aws/security-sandbox.json:8:15: error[schema]: must be one of: "red", "blue", "green" (at /security)' "finding with line:col"
expect_err "1 checked" "only the changed file is checked"
git -C "$T/bare.git" fetch -q "$R" change:change
run validate "$T/bare.git" --rev change
expect_rc 1 "the same finding from the bare repository"
expect_out 'accounts/aws/security-sandbox.json:8:15:' "bare --rev finding"

# --- a deletion that breaks references, found with --base
git -C "$R" checkout -q main && git -C "$R" checkout -q -b drop-team
git -C "$R" rm -q teams/security.json && git -C "$R" commit -qm "drop the security team"
run validate "$R" --rev drop-team --base main
expect_rc 1 "a deleted team breaks what it owned"
expect_out 'accounts/aws/security-sandbox.json:5:11: error[dangling-reference]: team "security" does not exist' "dangling team"

# --- a rename: the old id dangles, the new file is checked
git -C "$R" checkout -q main && git -C "$R" checkout -q -b rename
git -C "$R" mv teams/security.json teams/secops.json && git -C "$R" commit -qm "rename the team"
run validate "$R" --rev rename --base main
expect_rc 1 "a renamed team"
expect_out 'error[dangling-reference]: team "security" does not exist' "the old name dangles"

# --- the work tree: stray file, symlink, malformed JSON, all reported
git -C "$R" checkout -q main
mkdir -p "$R/misc"; echo '{}' > "$R/misc/stray.json"
ln -s /etc/hostname "$R/teams/link.json"
printf '{"name": "x",\n  "team": }' > "$R/teams/broken.json"
run validate "$R"
expect_rc 1 "work tree problems"
expect_out 'misc/stray.json: error[unknown-kind]' "file of no kind"
expect_out 'teams/link.json: error[symlink]' "symlink"
expect_out 'teams/broken.json:2:11: error[json]' "malformed JSON with line:col"
for fmt in json sarif junit; do
	run validate "$R" --format $fmt
	expect_rc 1 "--format $fmt"
done
run validate "$R" --format sarif
cp "$OUT" "$T/out.sarif"
if [ -f "$CSPF_SHARED_DIR/schemas/sarif-schema-2.1.0.json" ]; then
	run schema validate --schema "$CSPF_SHARED_DIR/schemas/sarif-schema-2.1.0.json" "$T/out.sarif"
	expect_rc 0 "our SARIF passes the SARIF 2.1.0 schema, by our own engine"
fi
rm -rf "$R/misc" "$R/teams/link.json" "$R/teams/broken.json"

# --- a pre-commit hook rejects a bad commit
export CSPF
cp "$CSPF_SOURCE_DIR/docs/hooks/pre-commit" "$R/.git/hooks/pre-commit"
sed -i 's/"security": "green"/"security": "green", "extra": 1/' "$R/accounts/aws/security-sandbox.json"
git -C "$R" add -A
if git -C "$R" commit -qm "bad" >"$OUT" 2>"$ERR"; then bad "the hook let a bad commit through"; else ok; fi
expect_err 'property "extra" is not allowed' "the hook says why (git sends hook output to stderr)"
git -C "$R" checkout -q -- . 2>/dev/null; git -C "$R" reset -q --hard
echo '# note' > "$R/NOTES.md"; git -C "$R" add NOTES.md
if git -C "$R" commit -qm "fine" >"$OUT" 2>"$ERR"; then ok; else bad "the hook refused a good commit"; fi

# --- a git server's pre-receive hook refuses a bad push, takes a good one
git init -q --bare "$T/server.git"
cp "$CSPF_SOURCE_DIR/docs/hooks/pre-receive" "$T/server.git/hooks/pre-receive"
git -C "$R" push -q "$T/server.git" main >"$OUT" 2>"$ERR" && ok || bad "first push of a clean registry"
rm "$R/.git/hooks/pre-commit"
sed -i 's/"security": "green"/"security": "green", "extra": 1/' "$R/accounts/aws/security-sandbox.json"
git -C "$R" commit -qam "bad"
if git -C "$R" push -q "$T/server.git" main >"$OUT" 2>"$ERR"; then bad "pre-receive let a bad push through"; else ok; fi
expect_err 'accounts/aws/security-sandbox.json:8:' "pre-receive names the file and line"
expect_err 'push refused' "pre-receive says so"
git -C "$R" reset -q --hard HEAD~1
echo '# more' >> "$R/NOTES.md"; git -C "$R" commit -qam "fine"
git -C "$R" push -q "$T/server.git" main >"$OUT" 2>"$ERR" && ok || bad "a good push after a refused one"

# --- a secret is refused in every output format, never printed; the
#     allowlist in cspf.json silences exactly that finding
S2="$T/secret"
cp -r "$CSPF_SOURCE_DIR/registry-example" "$S2"
TOKEN=ghp_C4n4ryT0k3nN0tR34lAbCdEfGhIjKlMn0123
/usr/bin/python3 - "$S2/teams/data.json" "$TOKEN" <<'P'
import json, sys
d = json.load(open(sys.argv[1])); d["description"] = "Team notes. token " + sys.argv[2]
json.dump(d, open(sys.argv[1], "w"), indent=2)
P
for fmt in text json sarif junit; do
	run validate "$S2" --format $fmt
	expect_rc 1 "secret found ($fmt)"
	expect_no_out "$TOKEN" "the token is never printed ($fmt)"
	expect_no_out "${TOKEN:4}" "no part past its prefix ($fmt)"
done
run validate "$S2"
fp=$(sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p' "$OUT" | head -1)
[ -n "$fp" ] && ok || bad "the finding gives a fingerprint"
/usr/bin/python3 - "$S2/cspf.json" "$fp" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
d.setdefault("secrets", {}).setdefault("allow", []).append({"fingerprint": sys.argv[2], "reason": "test fixture"})
json.dump(d, open(sys.argv[1], "w"), indent=2)
P
run validate "$S2"
expect_rc 0 "allowlisted by fingerprint in cspf.json"

# --- cspf.json: kinds by glob (and ignore), the organisation's own schemas
O="$T/org"
cp -r "$CSPF_SOURCE_DIR/registry-example" "$O"
mkdir -p "$O/policies" "$O/notes/2026" "$O/people"
cat > "$O/policies/cost-centre.json" <<'J'
{"$schema": "https://json-schema.org/draft/2020-12/schema",
 "required": ["tags"],
 "properties": {"tags": {"required": ["cost_centre"],
   "properties": {"cost_centre": {"type": "string", "pattern": "^CC-[0-9]{4}$"}}}}}
J
echo '{"anything": true}' > "$O/notes/2026/minutes.json"
cp "$O/teams/data.json" "$O/people/data-team.json"
/usr/bin/python3 - "$O/cspf.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
d["kinds"] = {"notes/**/*.json": "ignore", "people/*.json": "team"}
d["extra_schemas"] = {"service": ["policies/cost-centre.json"]}
json.dump(d, open(sys.argv[1], "w"), indent=2)
P
run validate "$O"
expect_rc 1 "organisation rules apply"
expect_out 'assets/service/payments-api.json:1:1: error[schema]: missing required property "tags"' "extra schema on services"
expect_no_out 'notes/2026/minutes.json' "ignored by a glob"
expect_no_out 'people/data-team.json' "a team by a glob, and valid as one"
expect_no_out 'policies/cost-centre.json' "an extra schema is not an entity"
n=$(grep -c 'error\[schema\]: missing required property "tags"' "$OUT")
[ "$n" -ge 6 ] && ok || bad "every service lacks tags: got $n"
echo '{"nonsense": 1}' > "$O/people/bad.json"
run validate "$O"
expect_out 'people/bad.json:1:2: error[schema]: property "nonsense" is not allowed' "a glob's kind brings its schema"

# --- usage
run validate "$T/nonexistent"
expect_rc 2 "not a directory"
run validate "$R" --rev no-such-branch
expect_rc 2 "no such revision"
expect_err "no-such-branch" "names the revision"
finish
