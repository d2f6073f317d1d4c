#!/bin/bash
# The registry's schemas, their documentation and the example registry:
# docs/registry-format.md is what `cspf schema docs` makes of schema/*.json
# (so it cannot drift); every file of registry-example/ is valid against
# the schema of its kind, every kind has an example; and the mistakes the
# schemas exist to catch are caught, at their line and column.
. "$(dirname "$0")/lib.bash"
S="$CSPF_SOURCE_DIR"
COMMON="$S/schema/common.json"

# ---- (a) the documentation is generated from the schemas ----

run schema docs --help
if [ "$RC" -ne 0 ] && grep -q "unknown subcommand" "$ERR"; then
	bad "'cspf schema docs' is not wired into cmd/schema.c"
fi
expect_rc 0 "docs --help"
expect_out "usage: cspf schema docs" "docs --help prints the usage"

run schema docs --title "Registry format" "$S"/schema/*.json
expect_rc 0 "docs of schema/*.json"
if cmp -s "$OUT" "$S/docs/registry-format.md"; then ok; else
	bad "docs/registry-format.md is stale: run" \
		"cspf schema docs --title 'Registry format'" \
		"--out docs/registry-format.md schema/*.json"
	diff -u "$S/docs/registry-format.md" "$OUT" | head -40
fi
if [ ! -s "$ERR" ]; then ok; else bad "docs: warnings (a property without a description?)"; fi

# the order of the operands does not matter; --out writes the same
mapfile -t rev < <(printf '%s\n' "$S"/schema/*.json | sort -r)
run schema docs --title "Registry format" --out "$T/doc.md" "${rev[@]}"
expect_rc 0 "docs --out"
if cmp -s "$T/doc.md" "$S/docs/registry-format.md"; then ok; else
	bad "docs --out, operands reversed: output differs"
fi

# a property without a description is reported (exit 1); a missing file is
# an environment error (exit 2)
cat > "$T/nodesc.json" <<'EOF'
{"title": "t", "description": "d", "type": "object",
 "properties": {"a": {"type": "string"}}}
EOF
run schema docs "$T/nodesc.json"
expect_rc 1 "docs: a property without a description"
expect_err "property a has no description" "docs names the property"
expect_out '| `a` | string | no |' "docs still writes the table"
run schema docs "$T/no-such-schema.json"
expect_rc 2 "docs: an unreadable schema"

# ---- (b) registry-example: every file valid against its kind's schema ----

kind_of() {
	local p=$1
	if [ "$p" = cspf.json ]; then echo config
	elif [[ $p =~ ^accounts/[^/]+/[^/]+\.json$ ]]; then echo account
	elif [[ $p =~ ^credentials/[^/]+/[^/]+\.json$ ]]; then echo credentials
	elif [[ $p =~ ^assets/([^/]+)/[^/]+\.json$ ]]; then echo "${BASH_REMATCH[1]}"
	elif [[ $p =~ ^teams/[^/]+\.json$ ]]; then echo team
	elif [[ $p =~ ^exceptions/[^/]+\.json$ ]]; then echo exception
	fi
}

declare -A files_of
while IFS= read -r rel; do
	k=$(kind_of "$rel")
	if [ -z "$k" ] || [ ! -f "$S/schema/$k.json" ]; then
		bad "registry-example/$rel belongs to no kind"
		continue
	fi
	files_of[$k]+="$S/registry-example/$rel"$'\n'
done < <(cd "$S/registry-example" &&
	# events/: the digest's test data, ignored by cspf.json's "kinds"
	find . -path ./events -prune -o -name '*.json' -type f -print |
	sed 's|^\./||' | LC_ALL=C sort)

for schema in "$S"/schema/*.json; do
	k=$(basename "$schema" .json)
	[ "$k" = common ] && continue
	if [ -z "${files_of[$k]:-}" ]; then
		bad "registry-example has no file of kind $k"
		continue
	fi
	mapfile -t list < <(printf '%s' "${files_of[$k]}")
	run schema validate -q --schema "$schema" --ref "$COMMON" "${list[@]}"
	expect_rc 0 "registry-example: every $k is valid"
done

# the two examples of the CSPF text, as they stand there (with real values
# in place of the redacted ones)
mkdir -p "$T/cspf"
cat > "$T/cspf/security-ops.json" <<'EOF'
{
 "credentials":
    [
      {
        "username": "security-ops@example.com",
        "scope": "root",
        "custodians": [
          "user1@example.com",
          "user2@example.com"
        ],
        "credential_generated": "2026-06-01T09:00:00Z",
        "credential_expires": "2027-06-01T09:00:00Z"
      }
    ]
}
EOF
run schema validate --schema "$S/schema/credentials.json" --ref "$COMMON" "$T/cspf/security-ops.json"
expect_rc 0 "the CSPF 3.2 example is valid"
run schema validate --schema "$S/schema/account.json" --ref "$COMMON" "$S/registry-example/accounts/aws/security-sandbox.json"
expect_rc 0 "the CSPF 1.1 example is valid"

# ---- (c) broken copies: caught, at the line and column ----

E="$S/registry-example"
mkdir -p "$T/bad"

# where FILE TEXT [AT]: line:column of the first line holding TEXT, at the
# first AT on that line (default: TEXT itself), so the expectations follow
# the example files when they are edited
where() {
	awk -v a="$2" -v b="${3:-$2}" \
		'index($0, a) { print NR ":" index($0, b); exit }' "$1"
}

# an asset without its owning team; an IAM role whose owner has no team
sed '/"team": "payments",/d' "$E/assets/service/payments-api.json" > "$T/bad/svc.json"
run schema validate --schema "$S/schema/service.json" --ref "$COMMON" "$T/bad/svc.json"
expect_rc 1 "an asset without a team"
expect_out 'svc.json:1:1: error: missing required property "team"' "missing team"
sed 's/"owner": {"team": "payments", "contact"/"owner": {"contact"/' \
	"$E/assets/iam-role/payments-api-runtime.json" > "$T/bad/role.json"
run schema validate --schema "$S/schema/iam-role.json" --ref "$COMMON" "$T/bad/role.json"
expect_rc 1 "an IAM role whose owner has no team"
expect_out "role.json:$(where "$T/bad/role.json" '"owner":' '{'): error: missing required property \"team\" (at /owner;" "missing owner team"

# a classification CSPF does not know
sed 's/"security": "red"/"security": "purple"/' "$E/assets/bucket/payments-receipts.json" > "$T/bad/purple.json"
run schema validate --schema "$S/schema/bucket.json" --ref "$COMMON" "$T/bad/purple.json"
expect_rc 1 "a bad classification"
expect_out "purple.json:$(where "$T/bad/purple.json" '"purple"'): error: must be one of: \"red\", \"blue\", \"green\" (at /security;" "classification"

# a typo: an extra property, in an account (additionalProperties) and in
# an asset (unevaluatedProperties, through the shared asset fields)
sed 's/"team": "payments",/"team": "payments",\n  "tem": "payments",/' \
	"$E/accounts/aws/payments-prod.json" > "$T/bad/account.json"
run schema validate --schema "$S/schema/account.json" --ref "$COMMON" "$T/bad/account.json"
expect_rc 1 "an account with an extra property"
expect_out "account.json:$(where "$T/bad/account.json" '"tem"'): error: property \"tem\" is not allowed" "extra account property"
sed 's/"versioning": true,/"versioning": true,\n  "versionning": true,/' \
	"$E/assets/bucket/payments-receipts.json" > "$T/bad/typo.json"
run schema validate --schema "$S/schema/bucket.json" --ref "$COMMON" "$T/bad/typo.json"
expect_rc 1 "a bucket with an extra property"
expect_out "typo.json:$(where "$T/bad/typo.json" '"versionning"'): error: property \"versionning\" is not allowed" "extra bucket property"

# CSPF 11.2: a red bucket logs access and keeps versions
sed 's/"logging": true,/"logging": false,/' "$E/assets/bucket/payments-receipts.json" > "$T/bad/nolog.json"
run schema validate --schema "$S/schema/bucket.json" --ref "$COMMON" "$T/bad/nolog.json"
expect_rc 1 "a red bucket without logging"
expect_out "nolog.json:$(where "$T/bad/nolog.json" '"logging"' false): error: must be true (at /logging;" "red bucket, logging false"
sed '/"logging": true,/d' "$E/assets/bucket/payments-receipts.json" > "$T/bad/nolog2.json"
run schema validate --schema "$S/schema/bucket.json" --ref "$COMMON" "$T/bad/nolog2.json"
expect_rc 1 "a red bucket that does not say it logs"
expect_out 'nolog2.json:1:1: error: missing required property "logging"' "red bucket, logging absent"
sed -e 's/"security": "red"/"security": "green"/' -e '/"logging": true,/d' \
	"$E/assets/bucket/payments-receipts.json" > "$T/bad/green.json"
run schema validate --schema "$S/schema/bucket.json" --ref "$COMMON" "$T/bad/green.json"
expect_rc 0 "a green bucket need not log"

# CSPF 9.4: open to the Internet without approval
sed '/"approval":/d' "$E/assets/firewall-rule/payments-api-https-ingress.json" > "$T/bad/fw.json"
run schema validate --schema "$S/schema/firewall-rule.json" --ref "$COMMON" "$T/bad/fw.json"
expect_rc 1 "an Internet-facing rule without approval"
expect_out 'fw.json:1:1: error: missing required property "approval"' "firewall approval"

# a credential cspf rotates says where its secret lives
sed '/"vault": {"vault": "aws-payments", "path": "payments-api/d' \
	"$E/credentials/aws/payments-prod.json" > "$T/bad/cred.json"
run schema validate --schema "$S/schema/credentials.json" --ref "$COMMON" "$T/bad/cred.json"
expect_rc 1 "a rotated credential without a vault"
# the error is at the credential's opening brace, the line above its username
l=$(where "$T/bad/cred.json" '"username": "svc-payments-api"')
l=$((${l%%:*} - 1))
c=$(awk -v n="$l" 'NR == n { print index($0, "{") }' "$T/bad/cred.json")
expect_out "cred.json:$l:$c: error: missing required property \"vault\" (at /credentials/1;" "credential vault"

# a vault's settings are those of its type
sed 's|"address": "https://vault.example.com:8200",|&\n      "key_file": "/etc/cspf/vault.key",|' \
	"$E/cspf.json" > "$T/bad/cspf.json"
run schema validate --schema "$S/schema/config.json" --ref "$COMMON" "$T/bad/cspf.json"
expect_rc 1 "a hashicorp vault with a file vault's setting"
expect_out "cspf.json:$(where "$T/bad/cspf.json" '"key_file"'): error: property \"key_file\" is not allowed" "vault settings"
finish
