#!/bin/bash
# The postgresql rotator against a real PostgreSQL server: Debian's, started
# for this test only by tests/support/pg.sh (127.0.0.1 on a free port and a
# Unix socket, SCRAM-SHA-256, log_statement=all).  The rotator's own test
# program (tests/unit/rotate/test_rot_postgresql.c) drives create, set,
# test, undo against it; this script then checks the server's log: the
# rotation happened (ALTER ROLE with a SCRAM verifier) and the role's
# first password never appears in it.
#
# Needs: /usr/lib/postgresql/*/bin (exit 77 without it), /usr/bin/python3.
set -u
: "${CSPF:?set CSPF to the cspf binary}"
: "${CSPF_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
PG_SH=$CSPF_SOURCE_DIR/tests/support/pg.sh
UNIT=$(dirname "$CSPF")/tests/unit_rotate_test_rot_postgresql
PY=/usr/bin/python3

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	echo "SKIP: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (Debian package postgresql)"
	exit 77
fi
if [ ! -x "$UNIT" ]; then
	echo "FAIL: $UNIT is not built"
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/cspf-pg.XXXXXX")
# The server runs as postgres when this runs as root: it must reach T/pg.
chmod 711 "$T"
cleanup() {
	bash "$PG_SH" stop "$T/pg"
	rm -rf "$T"
}
trap cleanup EXIT

FAIL=0
bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL: $*"
}

bash "$PG_SH" start "$T/pg"
rc=$?
if [ $rc -eq 77 ]; then exit 77; fi
if [ $rc -ne 0 ]; then
	echo "FAIL: the PostgreSQL server did not start"
	exit 1
fi
set -a
. "$T/pg/pg.env"
set +a

"$UNIT" >"$T/unit.out" 2>&1
rc=$?
cat "$T/unit.out"
[ $rc -eq 0 ] || bad "the rotator's tests against the server: exit $rc"
grep -q '\[  SKIPPED \]' "$T/unit.out" &&
	bad "tests were skipped although the server runs"

LOG=$CSPF_TEST_PG_LOG
FIRST=$(cat "$CSPF_TEST_PG_PASSWORD_FILE")
grep -q 'ALTER ROLE "app" PASSWORD' "$LOG" ||
	bad "the server's log shows no ALTER ROLE: did the rotation run?"
grep -q "PASSWORD 'SCRAM-SHA-256\$4096:" "$LOG" ||
	bad "the server's log shows no SCRAM verifier"
if grep -qF -- "$FIRST" "$LOG" "$T/unit.out"; then
	bad "the role's password is in the server's log or the test's output"
fi
# The role still has its first password: the tests undo what they do.
# (psql gets it from a 0600 pgpass file, never from argv or env.)
(umask 077 && printf '127.0.0.1:%s:appdb:app:%s\n' "$CSPF_TEST_PG_PORT" \
	"$FIRST" >"$T/app.pgpass")
got=$(PGPASSFILE=$T/app.pgpass PGCONNECT_TIMEOUT=10 \
	"$CSPF_TEST_PG_BIN/psql" -X -w -At -h 127.0.0.1 \
	-p "$CSPF_TEST_PG_PORT" -U app -d appdb -c 'SELECT current_user' \
	2>"$T/psql.err")
[ "$got" = app ] ||
	bad "the first password no longer logs in after the tests: $(cat "$T/psql.err")"

# --- cspf rotate, end to end: the example registry with a credential of
# the role app on this server, its value in a file vault as a JSON object
# ({"username", "password"}: vault.field), rotated and committed.
R=$T/registry
cp -r "$CSPF_SOURCE_DIR/registry-example" "$R"
mkdir -p "$T/cspf-vault"
cat >"$R/credentials/db/throwaway.json" <<EOF
{
  "credentials": [
    {
      "username": "app",
      "scope": "test",
      "custodians": ["priya.patel@example.com"],
      "credential_generated": "2026-05-01T08:00:00Z",
      "credential_expires": "2026-11-27T08:00:00Z",
      "description": "The role of a throwaway PostgreSQL server.",
      "team": "payments",
      "identity": {"type": "database-user", "engine": "postgres",
        "user": "app", "host": "127.0.0.1", "port": $CSPF_TEST_PG_PORT,
        "database": "appdb"},
      "vault": {"vault": "local", "path": "db/app", "field": "password"},
      "rotation": {"max_age": "P90D", "rotator": "postgresql"}
    }
  ]
}
EOF
(cd "$R" && git init -q && git add -A &&
	git -c user.name=Test -c user.email=test@example.com commit -qm registry)
"$CSPF" vault keygen "$T/cspf-vault/vault.key" >/dev/null
"$CSPF" audit keygen --out "$T/cspf-vault/audit.key" >/dev/null 2>&1 ||
	bad "cspf audit keygen"
printf '{"username": "app", "password": "%s"}\n' "$FIRST" |
	"$CSPF" vault put --registry "$R" --vault local db/app >/dev/null ||
	bad "cspf vault put"
(cd "$R" && "$CSPF" rotate --credential 'credentials/db/throwaway#app' \
	--commit --author 'cspf <cspf@example.com>') \
	>"$T/rotate.out" 2>"$T/rotate.err"
rc=$?
[ $rc -eq 0 ] ||
	bad "cspf rotate exited $rc: $(cat "$T/rotate.out" "$T/rotate.err")"
grep -q 'throwaway#app .*rotated' "$T/rotate.out" ||
	bad "cspf rotate did not rotate: $(cat "$T/rotate.out")"
# The vault's current value, from cspf vault exec's stdin into a 0600
# pgpass file: psql reads it from there.
(umask 077 && "$CSPF" vault exec --registry "$R" --vault local db/app -- \
	"$PY" -c 'import json, sys
v = json.load(sys.stdin)
print("127.0.0.1:%s:appdb:app:%s" % (sys.argv[1], v["password"]))' \
	"$CSPF_TEST_PG_PORT" >"$T/new.pgpass") || bad "cspf vault exec"
NEW=$(cut -d: -f5- "$T/new.pgpass")
[ ${#NEW} -eq 32 ] || bad "the new password is not 32 characters"
got=$(PGPASSFILE=$T/new.pgpass "$CSPF_TEST_PG_BIN/psql" -X -w -At \
	-h 127.0.0.1 -p "$CSPF_TEST_PG_PORT" -U app -d appdb \
	-c 'SELECT current_user' 2>"$T/psql.err")
[ "$got" = app ] ||
	bad "the vault's new password does not log in: $(cat "$T/psql.err")"
if PGPASSFILE=$T/app.pgpass "$CSPF_TEST_PG_BIN/psql" -X -w -At \
	-h 127.0.0.1 -p "$CSPF_TEST_PG_PORT" -U app -d appdb -c 'SELECT 1' \
	>/dev/null 2>&1; then
	bad "the first password still logs in after cspf rotate"
fi
for pw in "$FIRST" "$NEW"; do
	if grep -qF -- "$pw" "$LOG" "$T/rotate.out" "$T/rotate.err"; then
		bad "a password is in the server's log or cspf's output"
	fi
	if grep -rqaF -- "$pw" "$R"; then
		bad "a password is in the registry or its git objects"
	fi
done
(cd "$R" && git log --format=%s >"$T/gitlog")
grep -q '^rotate: ' "$T/gitlog" || bad "cspf rotate did not commit"
grep -q '2026-05-01T08:00:00Z' "$R/credentials/db/throwaway.json" &&
	bad "the registry does not record the rotation"

echo "postgresql_rotation: $FAIL failed"
[ $FAIL -eq 0 ]
