#!/bin/bash
# A throwaway PostgreSQL server for tests, from Debian's binaries
# (/usr/lib/postgresql/<version>/bin):
#
#   pg.sh start DIR   initdb into DIR/data, listen on 127.0.0.1 (a free
#                     port) and on a Unix socket in DIR, SCRAM-SHA-256 for
#                     every login, log_statement=all into DIR/server.log;
#                     a role "app" (password in DIR/app.password, 0600)
#                     owning the database "appdb".  Writes DIR/pg.env
#                     (CSPF_TEST_PG_* lines a test sources).
#   pg.sh stop DIR    stop it (immediate); the caller removes DIR.
#
# Exit 77 when the PostgreSQL server binaries are not installed (Debian
# package postgresql).  initdb and postgres refuse to run as root: as root,
# they run as the user postgres (runuser) and DIR is handed to it.
#
# No password is ever on a command line or in an environment variable:
# the superuser's goes to initdb and psql through 0600 files, and the
# app role is created with a SCRAM verifier computed here, so the
# server's log never shows a plain password.
set -eu
PY=/usr/bin/python3

usage() {
	echo "usage: pg.sh start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
CMD=$1
DIR=$2

BIN=
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ] && BIN=$d
done
if [ -z "$BIN" ]; then
	echo "SKIP: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (Debian package postgresql)" >&2
	exit 77
fi

# as_pg CMD...: run as the owner of the cluster.
if [ "$(id -u)" -eq 0 ]; then
	if ! id postgres >/dev/null 2>&1; then
		echo "SKIP: running as root and there is no user postgres to run the server as" >&2
		exit 77
	fi
	as_pg() { runuser -u postgres -- "$@"; }
else
	as_pg() { "$@"; }
fi

# secret FILE: a random password of 24 letters and digits, mode 0600.
secret() {
	(umask 077 && "$PY" -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(24)), end="")' >"$1")
}

# scram FILE: the SCRAM-SHA-256 verifier of the password in FILE, as
# PostgreSQL stores it (RFC 7677; ASCII needs no SASLprep).
scram() {
	"$PY" - "$1" <<'EOF'
import base64, hashlib, hmac, os, sys
pw = open(sys.argv[1], "rb").read()
salt, n = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", pw, salt, n)
ck = hmac.new(salted, b"Client Key", "sha256").digest()
sk = hmac.new(salted, b"Server Key", "sha256").digest()
b = lambda x: base64.b64encode(x).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (n, b(salt), b(hashlib.sha256(ck).digest()), b(sk)))
EOF
}

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start() {
	mkdir -p "$DIR"
	chmod 700 "$DIR"
	secret "$DIR/su.password"
	secret "$DIR/app.password"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$DIR" "$DIR/su.password"
		if ! as_pg test -x "$DIR"; then
			echo "pg.sh: the user postgres cannot reach $DIR: make its parents searchable (chmod o+x)" >&2
			return 1
		fi
	fi
	as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --no-locale \
		--pwfile="$DIR/su.password" --auth-local=scram-sha-256 \
		--auth-host=scram-sha-256 -N >"$DIR/initdb.log" 2>&1 || {
		cat "$DIR/initdb.log" >&2
		return 1
	}
	cat >"$DIR/data/pg_hba.conf" <<EOF
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
EOF
	local port tries=0
	while :; do
		port=$(free_port)
		cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
password_encryption = 'scram-sha-256'
log_statement = 'all'
log_connections = on
logging_collector = off
fsync = off
EOF
		as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
			-t 60 start >"$DIR/pg_ctl.log" 2>&1 && break
		tries=$((tries + 1))
		if [ $tries -ge 3 ]; then
			cat "$DIR/pg_ctl.log" "$DIR/server.log" >&2
			return 1
		fi
	done

	# The superuser's password for psql, through a pgpass file.
	(umask 077 && printf '*:*:*:postgres:%s\n' \
		"$(cat "$DIR/su.password")" >"$DIR/su.pgpass")
	local verifier
	verifier=$(scram "$DIR/app.password")
	PGPASSFILE=$DIR/su.pgpass "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-c "CREATE ROLE app LOGIN PASSWORD '$verifier'" \
		-c "CREATE DATABASE appdb OWNER app" >"$DIR/psql.log" 2>&1 || {
		cat "$DIR/psql.log" >&2
		return 1
	}
	cat >"$DIR/pg.env" <<EOF
CSPF_TEST_PG_BIN=$BIN
CSPF_TEST_PG_HOST=127.0.0.1
CSPF_TEST_PG_PORT=$port
CSPF_TEST_PG_SOCKET=$DIR
CSPF_TEST_PG_DB=appdb
CSPF_TEST_PG_USER=app
CSPF_TEST_PG_PASSWORD_FILE=$DIR/app.password
CSPF_TEST_PG_LOG=$DIR/server.log
EOF
}

stop() {
	[ -f "$DIR/data/postmaster.pid" ] || return 0
	as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop \
		>/dev/null 2>&1 || true
}

case $CMD in
start) start ;;
stop) stop ;;
*) usage ;;
esac
