#!/bin/bash
# The README's first command: the example registry validates against
# cspf's schemas, and a mistake in it is caught at its line.
. "$(dirname "$0")/lib.bash"
S="$CSPF_SOURCE_DIR"

run schema validate --schema "$S/schema/account.json" --ref "$S/schema/common.json" "$S/registry-example/accounts"
expect_rc 0 "example accounts are valid"
run schema validate --schema "$S/schema/credentials.json" --ref "$S/schema/common.json" "$S/registry-example/credentials"
expect_rc 0 "example credentials are valid"

# the README's first command
run validate "$S/registry-example"
expect_rc 0 "cspf validate registry-example is clean"
expect_err "0 findings" "and says so"

mkdir -p "$T/accounts/aws"
sed -e 's/"green"/"purple"/' -e 's/499701123456/49970112345/' \
	"$S/registry-example/accounts/aws/security-sandbox.json" > "$T/accounts/aws/bad.json"
run schema validate --schema "$S/schema/account.json" --ref "$S/schema/common.json" "$T/accounts"
expect_rc 1 "a broken account is caught"
expect_out "bad.json:2:16: error: must match at least one of the 3 alternatives" "account id"
expect_out "bad.json:8:15: error: must be one of: \"red\", \"blue\", \"green\"" "classification"

sed -e 's/2027-06-01T09:00:00Z/2027-06-01 09:00/' \
	"$S/registry-example/credentials/aws/security-ops.json" > "$T/cred.json"
run schema validate --schema "$S/schema/credentials.json" --ref "$S/schema/common.json" "$T/cred.json"
expect_rc 1 "a bad timestamp is caught"
expect_out "cred.json:12:31: error: must be an RFC 3339 date-time" "timestamp format"
finish
