#!/bin/sh
#
# docs/demo-rotate.sh - rotate a due credential of registry-example/ in the
# local file vault, as a new user would: a copy of the example registry in
# its own git repository, a file vault and an audit key beside it, then
# cspf rotate --commit, the registry commit, the audit record, and
# cspf audit verify (which then catches a hand-edited record).
#
# Usage: sh docs/demo-rotate.sh [CSPF]   (default: build/cspf)
set -eu

cspf=$(cd "$(dirname "${1:-build/cspf}")" && pwd)/$(basename "${1:-build/cspf}")
src=$(cd "$(dirname "$0")/.." && pwd)
demo=$(mktemp -d "${TMPDIR:-/tmp}/cspf-demo.XXXXXX")
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

cp -r "$src/registry-example" "$demo/registry"
mkdir "$demo/cspf-vault"
cd "$demo/registry"
git init -q
git add -A
git -c user.name="Example Ltd" -c user.email=registry@example.com \
	commit -qm "the registry"

step "cspf vault keygen ../cspf-vault/vault.key      # the file vault's key (0600)"
"$cspf" vault keygen ../cspf-vault/vault.key
step "cspf audit keygen --out ../cspf-vault/audit.key # signs the audit log"
pub=$("$cspf" audit keygen --out ../cspf-vault/audit.key 2> /dev/null)
echo "public key: $pub"
step "head -c 36 /dev/urandom | base64 | cspf vault put --vault local payments/webhook-signing"
head -c 36 /dev/urandom | base64 | "$cspf" vault put --vault local payments/webhook-signing
step "cspf rotate --plan"
"$cspf" rotate --plan
step "cspf rotate --commit --author 'cspf rotation <cspf@example.com>'"
"$cspf" rotate --commit --author 'cspf rotation <cspf@example.com>'
step "git show --stat HEAD"
git --no-pager show --stat HEAD
step "git show HEAD -- credentials/saas/webhooks.json | tail -n 8"
git --no-pager show HEAD -- credentials/saas/webhooks.json | tail -n 8
step "tail -n 1 audit/*.jsonl"
tail -n 1 audit/*.jsonl
step "cspf vault status --vault local payments/webhook-signing   # no values, ever"
"$cspf" vault status --vault local payments/webhook-signing
step "cspf audit verify --public-key $pub"
"$cspf" audit verify --public-key "$pub"
step "sed -i '2s/\"outcome\":\"ok\"/\"outcome\":\"failed\"/' audit/*.jsonl && cspf audit verify ...   # a hand edit"
sed -i '2s/"outcome":"ok"/"outcome":"failed"/' audit/*.jsonl
if "$cspf" audit verify --public-key "$pub"; then
	echo "cspf audit verify did not catch the edit" >&2
	exit 1
fi
git checkout -q -- audit
printf '\nThe demo registry, its vault and keys are in %s\n' "$demo"
