#!/bin/bash
# cspf audit keygen and cspf audit verify on a real log: a key made by
# keygen, a log of five records across two months written by the library
# (the unit test's --make-log helper), verify passing, then the log edited
# with sed: exit 1 and the one line that names the bad record.
. "$(dirname "$0")/lib.bash"
HELPER="$(dirname "$CSPF")/tests/unit_audit_test_audit"
if [ ! -x "$HELPER" ]; then
	echo "SKIP: $HELPER not built (CSPF_TESTS off?)"
	exit 77
fi
R="$T/reg"
mkdir -p "$R"

# ---- keygen ----
run audit keygen --out "$T/audit.key"
expect_rc 0 "keygen"
PUB=$(cat "$OUT")
if [[ $PUB =~ ^[A-Za-z0-9+/]{43}=$ ]]; then ok; else bad "keygen prints a base64 public key"; fi
if [ "$(stat -c %a "$T/audit.key")" = 600 ]; then ok; else bad "the key file is mode 0600"; fi
expect_err "key id " "keygen names the key id"
ID=$(sed -n 's/.*key id \([0-9a-f]\{16\}\).*/\1/p' "$ERR")
SEED=$(head -c 44 "$T/audit.key")
run audit keygen --out "$T/audit.key"
expect_rc 2 "keygen over an existing file"
expect_err "exists" "keygen says the file exists"
if [ "$(head -c 44 "$T/audit.key")" = "$SEED" ]; then ok; else bad "the key file was overwritten"; fi
run audit keygen
expect_rc 2 "keygen without --out"
ln -s "$T/audit.key" "$T/link.key"
run audit keygen --out "$T/link.key"
expect_rc 2 "keygen through a symbolic link"
run audit keygen --out "$T/other.key"
expect_rc 0 "a second key"
OTHER=$(cat "$OUT")

# ---- a log across October and November 2026 ----
OCT29=1793232000 # 2026-10-29T00:00:00Z; records a day apart
if "$HELPER" --make-log "$R" "$T/audit.key" 5 "$OCT29"; then ok; else bad "make-log"; fi
if [ "$(wc -l < "$R/audit/2026-10.jsonl")" = 3 ] &&
	[ "$(wc -l < "$R/audit/2026-11.jsonl")" = 2 ]; then ok; else
	bad "3 records in October, 2 in November"
fi
if [ "$(stat -c %a "$R/audit/.lock")" = 600 ]; then ok; else bad "audit/.lock is mode 0600"; fi

run audit verify "$R" --public-key "$PUB"
expect_rc 0 "verify"
expect_out "audit: 5 records in 2 files, chain and signatures verified" "verify's summary"

run audit verify "$R" --public-key "$PUB" --format json
expect_rc 0 "verify --format json"
expect_out '{"ok":true,"records":5,"files":2}' "verify's JSON"

# the trusted keys of cspf.json, and verify run inside the registry
cat > "$R/cspf.json" <<EOF
{"version": 1, "audit": {"public_keys": ["$OTHER", "$PUB"],
 "signing_key": {"file": "$T/audit.key"}}}
EOF
run schema validate --schema "$CSPF_SOURCE_DIR/schema/config.json" --ref "$CSPF_SOURCE_DIR/schema/common.json" "$R/cspf.json"
if [ "$RC" -eq 0 ]; then ok; else bad "cspf.json with audit is valid against schema/config.json"; fi
(cd "$R" && "$CSPF" audit verify >"$OUT" 2>"$ERR"); RC=$?
expect_rc 0 "verify with cspf.json's keys"
expect_out "audit: 5 records in 2 files" "verify with cspf.json's keys"

# ---- the signing key kept in a file vault, as cspf.json names it ----
V="$T/vreg"
mkdir -p "$V"
run vault keygen "$T/vault.key"
expect_rc 0 "vault keygen"
cat > "$V/cspf.json" <<EOF
{"version": 1,
 "vaults": {"ops": {"type": "file", "path": "$T/vault.enc", "key_file": "$T/vault.key"}},
 "audit": {"public_keys": ["$PUB"],
  "signing_key": {"vault": "ops", "path": "cspf/audit-key"}}}
EOF
run schema validate --schema "$CSPF_SOURCE_DIR/schema/config.json" --ref "$CSPF_SOURCE_DIR/schema/common.json" "$V/cspf.json"
if [ "$RC" -eq 0 ]; then ok; else bad "cspf.json with a vault signing_key is valid"; fi
"$CSPF" vault put --registry "$V" --vault ops cspf/audit-key < "$T/audit.key" >"$OUT" 2>"$ERR"; RC=$?
expect_rc 0 "the signing key put into the vault"
if "$HELPER" --make-log "$V" config 3 2>"$ERR"; then ok; else bad "make-log with the key from the vault"; fi
run audit verify "$V"
expect_rc 0 "verify a log signed with the vault's key"
expect_out "audit: 3 records in 1 file, chain and signatures verified" "the vault's key signed"

# ---- usage and environment ----
mkdir "$T/nokeys"
run audit verify "$T/nokeys"
expect_rc 2 "verify without a trusted key"
expect_err "no trusted public key" "says what is missing"
run audit verify "$R" --public-key "not-a-key"
expect_rc 2 "a bad --public-key"
run audit verify "$T/no-such-dir" --public-key "$PUB"
expect_rc 2 "verify of a missing directory"
run audit verify "$R" --format sarif
expect_rc 2 "an unknown --format"
run audit frobnicate
expect_rc 2 "an unknown subcommand"
run help audit
expect_rc 0 "help audit"
expect_out "usage: cspf audit verify" "help audit"
run audit verify --help
expect_rc 0 "verify --help"

# ---- the log edited ----
NOV="$R/audit/2026-11.jsonl"
cp "$NOV" "$T/nov.bak"
sed -i '2s/"detail":"step 5"/"detail":"step 6"/' "$NOV"
if cmp -s "$NOV" "$T/nov.bak"; then bad "sed changed nothing"; else ok; fi
run audit verify "$R"
expect_rc 1 "verify of an edited record"
expect_out "audit/2026-11.jsonl:2: error[audit-signature]: the signature does not verify with key $ID: this record was changed after it was signed" "names the edited record"
if [ "$(wc -l < "$OUT")" = 1 ]; then ok; else bad "one line for the bad record"; fi
expect_err "4 records verified before the bad one" "counts the good ones"

run audit verify "$R" --format json
expect_rc 1 "verify --format json of an edited record"
expect_out '"error":{"file":"audit/2026-11.jsonl","line":2,"rule":"audit-signature"' "JSON names the record"

# a record removed: the next one no longer chains
cp "$T/nov.bak" "$NOV"
sed -i '1d' "$NOV"
run audit verify "$R"
expect_rc 1 "verify with a record removed"
expect_out "audit/2026-11.jsonl:1: error[audit-chain]: prev does not match the hash of the record before it (audit/2026-10.jsonl:3): record edited or removed before this line" "names the line after the gap"

# two records swapped
cp "$T/nov.bak" "$NOV"
sed -i -n '2p;1h;${x;p}' "$NOV"
run audit verify "$R"
expect_rc 1 "verify with records swapped"
expect_out "audit/2026-11.jsonl:1: error[audit-chain]:" "names the first swapped line"

# malformed JSON: line and column
cp "$T/nov.bak" "$NOV"
sed -i '2s/^{"v":1,"seq":5/{"v":1,"seq":5,,/' "$NOV"
run audit verify "$R"
expect_rc 1 "verify with malformed JSON"
expect_out "audit/2026-11.jsonl:2:16: error[audit-json]: not a JSON record:" "line and column of the JSON error"

# only the other key trusted
cp "$T/nov.bak" "$NOV"
run audit verify "$R/" --public-key "$OTHER"
expect_rc 0 "cspf.json still trusts both keys"
rm "$R/cspf.json"
run audit verify "$R" --public-key "$OTHER"
expect_rc 1 "verify with a stranger's key only"
expect_out "audit/2026-10.jsonl:1: error[audit-key]: signed by key $ID, which is not trusted" "names the key"

# ---- the signing key never shows ----
for f in "$OUT" "$ERR" "$R"/audit/*.jsonl; do
	if grep -qF -- "$SEED" "$f"; then bad "the signing key is in $f"; else ok; fi
done
run audit verify "$R" --public-key "${SEED}x"
expect_rc 2 "a --public-key that is no key"
expect_no_out "$SEED" "a bad --public-key is not echoed"
run audit verify "$R" --public-key "$SEED"
expect_rc 1 "the seed given as a public key: a stranger's key"
expect_no_out "$SEED" "the seed is not echoed"

finish
