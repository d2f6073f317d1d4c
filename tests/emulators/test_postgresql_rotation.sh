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

echo "postgresql_rotation: $FAIL failed"
[ $FAIL -eq 0 ]
