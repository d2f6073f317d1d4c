#!/usr/bin/env bash
#
# cspf rotate on the file vault, end to end: the README's demo, --plan,
# the registry commit, the canary, the crash matrix (the process killed at
# every step and after every vault call, then run again), two runs at
# once on 100 due credentials, and a compromised credential.
set -euo pipefail

CSPF=${CSPF:?the cspf binary}
SRC=${CSPF_SOURCE_DIR:?the source tree}
work=$(mktemp -d); echo "work: $work"
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# A command that fails outside a check says where, instead of a silent exit.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND exited $?" >&2' ERR
NOW=2026-11-23T12:00:00Z
CANARY=canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# setup DIR: the example registry in its own git repository, its file
# vault beside it with a first secret (the canary), and an exec
# credential whose "system" is a file under DIR/system.
setup() {
	local d=$1
	rm -rf "$d"
	mkdir -p "$d/system" "$d/cspf-vault"
	cp -r "$SRC/registry-example" "$d/registry"
	cat > "$d/registry/credentials/saas/partner-api.json" <<'EOF'
{
  "credentials": [
    {
      "username": "partner-api",
      "scope": "prod",
      "custodians": ["priya.patel@example.com", "liam.oconnor@example.com"],
      "credential_generated": "2026-05-01T08:00:00Z",
      "credential_expires": "2026-11-27T08:00:00Z",
      "description": "The key partners call our API with; set and tested by the platform's own script.",
      "team": "payments",
      "vault": {"vault": "local", "path": "payments/partner-api"},
      "rotation": {"max_age": "P180D", "rotator": "exec",
        "exec": {"set": ["sh", "-c", "cat > ../system/accepted.tmp && mv ../system/accepted.tmp ../system/accepted"],
                 "test": ["sh", "-c", "cmp -s - ../system/accepted"]}}
    }
  ]
}
EOF
	(cd "$d/registry" && git init -q && git add -A &&
		git -c user.name=Test -c user.email=test@example.com \
			commit -qm "the registry")
	"$CSPF" vault keygen "$d/cspf-vault/vault.key" > /dev/null
	"$CSPF" audit keygen --out "$d/cspf-vault/audit.key" \
		> "$d/cspf-vault/audit.pub" 2> "$d/cspf-vault/audit.keygen.err"
	printf '%s\n' "$CANARY" | "$CSPF" vault put --registry "$d/registry" \
		--vault local payments/webhook-signing > /dev/null
	printf '%s-exec\n' "$CANARY" | "$CSPF" vault put --registry "$d/registry" \
		--vault local payments/partner-api > /dev/null
	printf '%s-exec' "$CANARY" > "$d/system/accepted"
}

rotate() { # DIR ARGS...: cspf rotate in DIR's registry, output in DIR/out.N
	local d=$1
	shift
	local n
	n=$(ls "$d" | grep -c '^out\.' || true)
	mkdir -p "$d/tmp"
	( cd "$d/registry" && TMPDIR=$d/tmp "$CSPF" rotate --now "$NOW" \
		--author 'cspf <cspf@example.com>' "$@" ) \
		> "$d/out.$n" 2> "$d/err.$n"
}

status() { # DIR PATH
	"$CSPF" vault status --registry "$1/registry" --vault local "$2"
}

# check DIR: the end state every run must reach.
check() {
	local d=$1 what=$2 s
	for p in payments/webhook-signing payments/partner-api; do
		s=$(status "$d" "$p")
		grep -q '^current .*rotation ' <<< "$s" ||
			fail "$what: $p: current is not a rotated version: $s"
		grep -q '^pending' <<< "$s" &&
			fail "$what: $p: a pending version is left: $s"
		grep -q '"step":"recorded"' <<< "$s" ||
			fail "$what: $p: the record is not recorded: $s"
	done
	# The current secret works where it is used.
	"$CSPF" vault exec --registry "$d/registry" --vault local \
		payments/partner-api -- cmp -s - "$d/system/accepted" ||
		fail "$what: the current secret of partner-api does not work"
	# The registry recorded both, in a commit, and still validates.
	(cd "$d/registry" &&
		git diff --quiet HEAD -- credentials &&
		! grep -q '2026-05-26T08:00:00Z' credentials/saas/webhooks.json &&
		! grep -q '2026-05-01T08:00:00Z' credentials/saas/partner-api.json &&
		git log --format=%s | grep "^rotate: " > /dev/null) ||
		fail "$what: the registry does not record the rotations"
	"$CSPF" validate -q "$d/registry" > /dev/null ||
		fail "$what: the registry no longer validates"
	# The audit log verifies, is committed, and agrees with the vault.
	"$CSPF" audit verify "$d/registry" \
		--public-key "$(cat "$d/cspf-vault/audit.pub")" > /dev/null ||
		fail "$what: cspf audit verify fails"
	(cd "$d/registry" && git diff --quiet HEAD -- audit &&
		[ -z "$(git status --porcelain -- audit)" ]) ||
		fail "$what: the audit log is not committed"
	for p in payments/webhook-signing payments/partner-api; do
		id=$(status "$d" "$p" | sed -n 's/^current .*rotation \([0-9a-f-]*\).*/\1/p')
		grep -h "\"rotation\":\"$id\",\"step\":\"promote\",\"outcome\":\"ok\"" \
			"$d"/registry/audit/*.jsonl > /dev/null ||
			fail "$what: $p: no promote of rotation $id in the audit log"
		grep -h "\"rotation\":\"$id\",\"step\":\"record\",\"outcome\":\"ok\"" \
			"$d"/registry/audit/*.jsonl > /dev/null ||
			fail "$what: $p: no record step of rotation $id in the audit log"
	done
	# The canary (the first secrets) is nowhere but the encrypted vault.
	if grep -r -l -a -e "$CANARY" "$d/out."* "$d/err."* "$d/registry" "$d/tmp" 2> /dev/null |
	    grep -v '/\.git/' ; then
		fail "$what: the canary secret leaked into the files above"
	fi
	(cd "$d/registry" && git cat-file --batch-all-objects --batch |
		grep -a -e "$CANARY" > /dev/null) && fail "$what: the canary is in a git object"
	grep -a -q -e "$CANARY" "$d/cspf-vault/vault.enc" &&
		fail "$what: the canary is in the vault file in clear"
	# Nor is the new secret (the exec rotator's system has it).
	local new
	new=$(cat "$d/system/accepted")
	[ ${#new} -ge 32 ] || fail "$what: the new secret is ${#new} bytes"
	if grep -r -l -a -F -e "$new" "$d/out."* "$d/err."* "$d/registry" \
	    "$d/tmp" "$d/cspf-vault" 2> /dev/null | grep -v '/\.git/'; then
		fail "$what: the new secret leaked into the files above"
	fi
	(cd "$d/registry" && git cat-file --batch-all-objects --batch |
		grep -a -F -e "$new" > /dev/null) &&
		fail "$what: the new secret is in a git object"
	return 0
}

# 1. --plan: says what is due and why, changes nothing.
d=$work/plan
setup "$d"
before=$(status "$d" payments/webhook-signing)
rotate "$d" --plan || fail "--plan exited $?"
grep -q 'credentials/saas/webhooks#webhook-signing .*generated .*local .*expiring' "$d/out.0" ||
	fail "--plan does not list the due credential: $(cat "$d/out.0")"
grep -q 'credentials/saas/partner-api#partner-api .*exec' "$d/out.0" ||
	fail "--plan does not list the exec credential"
[ "$before" = "$(status "$d" payments/webhook-signing)" ] ||
	fail "--plan changed the vault"
(cd "$d/registry" && git diff --quiet && [ "$(git rev-list --count HEAD)" = 1 ]) ||
	fail "--plan changed the registry"

# 2. A real run: rotates both, commits, and the next run has nothing to do.
rotate "$d" --commit || fail "rotate exited $?: $(cat "$d/err.1")"
grep -q 'webhook-signing .*rotated' "$d/out.1" || fail "no rotation: $(cat "$d/out.1")"
grep -q '^committed [0-9a-f]\{12\} to the registry' "$d/out.1" || fail "no commit line"
check "$d" "first run"
rotate "$d" --commit || fail "second run exited $?"
grep -q '^0 rotated, 0 failed' "$d/out.2" || fail "second run rotated again: $(cat "$d/out.2")"
[ "$(cd "$d/registry" && git rev-list --count HEAD)" = 2 ] || fail "second run committed"

# A hand-edited audit record is caught, and named.
cp "$d/registry/audit/2026-11.jsonl" "$d/audit.bak" 2> /dev/null ||
	cp "$d"/registry/audit/*.jsonl "$d/audit.bak"
for f in "$d"/registry/audit/*.jsonl; do break; done
sed -i '3s/"outcome":"ok"/"outcome":"failed"/' "$f"
rc=0
"$CSPF" audit verify "$d/registry" --public-key "$(cat "$d/cspf-vault/audit.pub")" \
	> "$d/verify.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "audit verify exited $rc on an edited record"
grep -q "audit/.*\.jsonl:3: error\[audit-signature\]" "$d/verify.out" ||
	fail "audit verify does not name the edited record: $(cat "$d/verify.out")"

# 3. The crash matrix: killed at every step, then after every vault call.
points="step:create step:set step:test step:promote step:retire"
for n in $(seq 1 40); do points="$points vault:$n"; done
crashes=0
for p in $points; do
	d=$work/crash
	setup "$d"
	rc=0
	CSPF_TEST_KILL_AT=$p rotate "$d" --commit || rc=$?
	if [ $rc -eq 0 ]; then
		# Past the last vault call: the run finished.
		case $p in vault:*) break ;; esac
		fail "$p: the run was not killed"
	fi
	[ $rc -eq 137 ] || fail "$p: exited $rc, not killed: $(cat "$d/err.0")"
	crashes=$((crashes + 1))
	# The next run, at once (the dead run's claim is taken over).
	rotate "$d" --commit || fail "$p: the run after the crash exited $?: $(cat "$d/out.1" "$d/err.1")"
	check "$d" "after a crash at $p"
done
[ $crashes -ge 15 ] || fail "only $crashes crash points were reached"
echo "crash matrix: $crashes crash points, each finished by the next run"

# 4. Two runs at once on 100 due credentials: each rotated exactly once.
d=$work/race
setup "$d"
{
	echo '{"credentials": ['
	for i in $(seq 1 100); do
		[ $i -gt 1 ] && echo ','
		printf '{"username": "svc-%03d", "scope": "test", "custodians": ["priya.patel@example.com"], "credential_generated": "2026-01-01T00:00:00Z", "credential_expires": "2026-11-30T00:00:00Z", "team": "payments", "vault": {"vault": "local", "path": "race/svc-%03d"}, "rotation": {"max_age": "P90D", "rotator": "generated"}}' "$i" "$i"
	done
	echo ']}'
} > "$d/registry/credentials/saas/race.json"
(cd "$d/registry" && git add -A && git -c user.name=T -c user.email=t@e commit -qm race)
race_run() { # N
	( cd "$d/registry" && "$CSPF" rotate --now "$NOW" --commit \
		--concurrency 8 ) > "$d/out.$1" 2> "$d/err.$1"
}
race_run 0 &
a=$!
race_run 1 &
b=$!
wait $a || fail "race: the first run exited $?"
wait $b || fail "race: the second run exited $?"
total=0
for i in $(seq 1 100); do
	s=$(status "$d" "race/svc-$(printf %03d "$i")")
	grep -q '^current   version 1,' <<< "$s" ||
		fail "race: svc-$i was not rotated exactly once: $s"
	grep -q '^previous' <<< "$s" && fail "race: svc-$i rotated twice: $s"
done
r1=$(sed -n 's/^\([0-9]*\) rotated.*/\1/p' "$d/out.0")
r2=$(sed -n 's/^\([0-9]*\) rotated.*/\1/p' "$d/out.1")
[ $((r1 + r2)) -eq 102 ] || fail "race: the runs rotated $r1 + $r2, not 100 + the 2 of setup"
(cd "$d/registry" && git diff --quiet HEAD && ! grep -q '2026-01-01T00:00:00Z' credentials/saas/race.json) ||
	fail "race: the registry does not record every rotation"
echo "race: $r1 + $r2 rotations, each credential once"

# 5. Compromised: now, whatever its dates, and said so in the commit.
d=$work/compromised
setup "$d"
rotate "$d" --commit || fail "compromised: first run"
rotate "$d" --commit --compromised 'credentials/saas/webhooks#webhook-signing' ||
	fail "compromised: exited $?: $(cat "$d/err.1")"
grep -q 'webhook-signing .*rotated .*compromised' "$d/out.1" || fail "compromised: $(cat "$d/out.1")"
(cd "$d/registry" && git log -1 --format=%B | grep "incident: compromised" > /dev/null) ||
	fail "compromised: the commit does not record the incident"
grep -q '"compromised":true' <<< "$(status "$d" payments/webhook-signing)" ||
	fail "compromised: the record does not say so"
rotate "$d" --compromised 'credentials/saas/nope#x' && fail "an unknown id was accepted"
grep -q 'no such credential' "$d/err.2" || fail "unknown id: $(cat "$d/err.2")"

# 6. --push: the remote moved meanwhile; the rotation commit is replayed
# on its new tip and pushed, never forced.
d=$work/push
setup "$d"
git clone -q --bare "$d/registry" "$d/remote.git"
(cd "$d/registry" && git remote add origin "$d/remote.git" &&
	git fetch -q origin && git branch -q -u origin/"$(git branch --show-current)")
git clone -q "$d/remote.git" "$d/other"
(cd "$d/other" && echo '# the platform team' >> teams/README.md &&
	git add teams/README.md &&
	git -c user.name=O -c user.email=o@e commit -qm "another change" &&
	git push -q origin HEAD)
rotate "$d" --push origin || fail "push: exited $?: $(cat "$d/err.0")"
(cd "$d/remote.git" && git log -2 --format=%s) > "$d/remote.log"
grep -q '^rotate: 2 credentials' "$d/remote.log" && grep -q '^another change' "$d/remote.log" ||
	fail "push: the remote does not have both commits: $(cat "$d/remote.log")"
(cd "$d/registry" && [ -f teams/README.md ] && git diff --quiet HEAD) ||
	fail "push: the work tree does not follow the replayed branch"
check "$d" "after --push"

echo "ok"
