#!/usr/bin/env bash
#
# The crash matrix of cspf rotate (test_rotate_hashicorp.sh is the model)
# for two more vault backends and rotators, each credential as
# registry-example configures it:
#
#   A. analytics-ingest (credentials/azure/data-analytics.json): the
#      azure-app-secret rotator, its value in the azure-key-vault vault
#      "azure-data", both played by tests/emulators/azure/azure_emulator.py
#      (https on 127.0.0.1, a new client secret signs in 1 s after
#      addPassword, as Entra ID's replication delay);
#   B. payments_app (credentials/db/payments-ledger.json): the
#      postgres-password (postgresql) rotator against a real PostgreSQL
#      server (tests/support/pg.sh), its value ({"username", "password"},
#      vault.field "password") in the file vault "local".
#
# Crash points: every step (A: cleanup, create, set, test, promote,
# retire; B: create, set, test, promote, retire) and every vault call
# (vault:1, vault:2, ... until a run is no longer killed; today a run
# makes 16 vault calls in A and 15 in B, so all of them are covered; the
# loop would stop at 40).  Each point: a run of cspf rotate (what is due,
# as a scheduled run: no --credential) killed there by
# CSPF_TEST_KILL_AT, then one run that must complete, then checks:
# current is a rotated version, nothing pending, the record "recorded",
# the registry committed and updated, `cspf audit verify` passes, the
# vault's current value WORKS with its consumer (A: it signs in at the
# token endpoint; B: psql logs in with it, and the first password no
# longer does), A's application holds exactly one secret made by cspf,
# the vault's current one (no orphan, no second rotation) and still the
# one made in the portal (grace period), and no secret is in an output,
# the emulator's log, the server's log or the registry.
#
# Every point has its own registry, Key Vault and application (A) or
# role (B), so points run at once: A $LANES at a time (an Azure run
# waits about 1.1 s at each record write, the Key Vault backend's
# compare-and-swap: a point takes some 20 s), B two at a time, both
# matrices together.  Run time on the loaded 2-core machine: 100 to 140 s.
#
# Exit 77 (skipped) without openssl, curl or git, or without Debian's
# PostgreSQL server binaries (A runs all the same, B is skipped).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CSPF=${CSPF:?the cspf binary}
SRC=${CSPF_SOURCE_DIR:?the source tree}
PY=/usr/bin/python3
EMU="$here/azure/azure_emulator.py"
PG_SH=$SRC/tests/support/pg.sh
LANES=${LANES:-8}
MAX_VAULT_POINTS=40
# Both credentials are due then (max_age P90D, notice P14D from
# 2026-11-16): the runs rotate what is due, as a scheduled run does.
NOW=2027-02-01T12:00:00Z
TENANT=c0ffee00-1234-4abc-9def-0123456789ab
CSPF_CLIENT=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d

[ -x "$PY" ] || { echo "SKIP: $PY is missing"; exit 77; }
for c in openssl curl git; do
	command -v $c > /dev/null ||
		{ echo "SKIP: $c is missing (Debian package $c)"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/cspf-rotaz.XXXXXX")
# The PostgreSQL server runs as postgres when this runs as root.
chmod 711 "$T"
EMU_PID="" PG_UP="" AZ_PID="" PG_PID=""
cleanup() {
	# A matrix still running after a failure of the other one: stopped
	# (its point then ends with its current run).
	for p in $AZ_PID $PG_PID; do
		kill "$p" 2> /dev/null && wait "$p" 2> /dev/null
	done
	[ -n "$EMU_PID" ] && kill "$EMU_PID" 2> /dev/null &&
		wait "$EMU_PID" 2> /dev/null
	[ -n "$PG_UP" ] && bash "$PG_SH" stop "$T/pg"
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
rand() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

export HOME=$T/home
mkdir -p "$HOME"
unset CSPF_TEST_KILL_AT CSPF_AZURE_TEST_WAIT_S
for v in HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy; do
	unset "$v"
done
SECONDS=0

# template DIR KEEP-FILE ARGS...: registry-example in DIR/registry with,
# of its credentials, only the file KEEP-FILE (the other credentials'
# vaults are real clouds, not reachable here), edited by the Python
# program on stdin (argv: the registry, then ARGS) and committed; a file
# vault key and an audit key in DIR/cspf-vault.  Each point copies it.
template() {
	local d=$1 keep=$2 f
	shift 2
	mkdir -p "$d/cspf-vault"
	cp -r "$SRC/registry-example" "$d/registry"
	for f in "$d"/registry/credentials/*/*.json; do
		[ "${f#"$d"/registry/}" = "$keep" ] || rm -f "$f"
	done
	"$PY" - "$d/registry" "$@" || fail "editing the registry"
	(cd "$d/registry" && git init -q && git add -A &&
		git -c user.name=T -c user.email=t@e commit -qm registry) ||
		fail "git"
	"$CSPF" vault keygen "$d/cspf-vault/vault.key" > /dev/null &&
		"$CSPF" audit keygen --out "$d/cspf-vault/audit.key" \
		> "$d/cspf-vault/audit.pub" 2> /dev/null || fail "keygen"
}

# run_points FUNC LANES POINTS...: FUNC I POINT for each point, LANES at
# once, until a run at a vault:N point is not killed (points started
# before that one was seen still finish).  FUNC prints "crashed" (killed,
# then finished by the next run, the checks passed), "finished" (not
# killed: the matrix is complete) or what failed; into $R/I.
run_points() {
	local fn=$1 lanes=$2 i=0 p pid running=0 done_="" bad=""
	local -A job
	shift 2
	reap() {
		wait -n -p pid
		running=$((running - 1))
		if ! grep -qx -e crashed -e finished "$R/${job[$pid]%%:*}"; then
			echo "FAIL: ${job[$pid]#*:}:" >&2
			grep -v ' Killed ' "$R/${job[$pid]%%:*}" >&2
			bad=1
		fi
		grep -qx finished "$R/${job[$pid]%%:*}" && done_=1
	}
	for p in "$@"; do
		while [ $running -ge "$lanes" ]; do reap; done
		[ -n "$done_$bad" ] && break
		i=$((i + 1))
		"$fn" "$i" "$p" > "$R/$i" 2>&1 &
		job[$!]=$i:$p
		running=$((running + 1))
	done
	while [ $running -gt 0 ]; do reap; done
	[ -z "$bad" ] || return 1
	[ -n "$done_" ] ||
		{ echo "FAIL: every vault:N point up to $MAX_VAULT_POINTS killed the run" >&2; return 1; }
	return 0
}

# ---- A. azure-app-secret in azure-key-vault

"$here/tls.sh" "$T/tls" > /dev/null || fail "tls.sh"
export CURL_CA_BUNDLE=$T/tls/ca.pem
NPOINTS=$((6 + MAX_VAULT_POINTS))
CSPF_SECRET=$(rand 24)
export AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CSPF_CLIENT
export AZURE_CLIENT_SECRET=$CSPF_SECRET

# The state: cspf's own client; for each point i a Key Vault data-kv-ci
# and an application ci with a secret made in the portal (its value in
# $T/az/old.i, its keyId in $T/az/key.i, the appId in $T/az/app.i).
mkdir -p "$T/az"
"$PY" - "$T/az" "$NPOINTS" "$TENANT" "$CSPF_CLIENT" > "$T/az/state.json" <<'EOF'
import json, os, secrets, sys, uuid
out, n, tenant, client = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
apps, vaults = [], {}
for i in range(1, n + 1):
    app, key, old = str(uuid.uuid4()), str(uuid.uuid4()), "Pt%d8Q~%s" % (i, secrets.token_urlsafe(24))
    for name, v in (("app", app), ("key", key), ("old", old)):
        fd = os.open("%s/%s.%d" % (out, name, i), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, v.encode())
        os.close(fd)
    apps.append({"id": str(uuid.uuid4()), "appId": app, "displayName": "analytics-ingest-c%d" % i,
                 "passwordCredentials": [{"keyId": key, "displayName": "rotated 2026-11-16",
                                          "startDateTime": "2026-11-16T10:30:00Z",
                                          "endDateTime": "2099-01-01T00:00:00Z", "secretText": old}]})
    vaults["data-kv-c%d" % i] = {"secrets": []}
print(json.dumps({"tenant_id": tenant, "propagation_s": 1,
                  "clients": [{"client_id": client, "client_secret": os.environ["AZURE_CLIENT_SECRET"]}],
                  "key_vaults": vaults, "applications": apps}))
EOF
[ -s "$T/az/state.json" ] || fail "the emulator's state"
"$PY" "$EMU" --state "$T/az/state.json" --port 0 --port-file "$T/az/port" \
	--log "$T/az/emu.log" --tls-cert "$T/tls/server.pem" \
	--tls-key "$T/tls/server.key" >> "$T/az/emu.out" 2>&1 &
EMU_PID=$!
for _ in $(seq 1 100); do
	[ -s "$T/az/port" ] && break
	kill -0 "$EMU_PID" 2> /dev/null || break
	sleep 0.1
done
[ -s "$T/az/port" ] || fail "the emulator did not start: $(cat "$T/az/emu.out")"
B=https://127.0.0.1:$(cat "$T/az/port")
export AZURE_AUTHORITY_HOST=$B CSPF_AZURE_GRAPH_URL=$B

AZ_PATH=analytics-ingest-client-secret

# The registry of every point (az_setup sets its own vault and
# application).
template "$T/az/template" credentials/azure/data-analytics.json <<'EOF'
EOF

# az_setup DIR I: the registry, its vault azure-data being the emulator's
# data-kv-cI, analytics-ingest being application cI; the secret made in
# the portal is the vault's current value.
az_setup() {
	local d=$1 i=$2
	cp -a "$T/az/template" "$d" || return 1
	"$PY" - "$d/registry" "$B/kv/data-kv-c$i/" "$(cat "$T/az/app.$i")" \
		"$(cat "$T/az/key.$i")" <<'EOF' || return 1
import json, sys
reg, url, app, key = sys.argv[1:]
p = reg + "/cspf.json"
c = json.load(open(p))
c["vaults"]["azure-data"]["vault_url"] = url
json.dump(c, open(p, "w"), indent=2)
p = reg + "/credentials/azure/data-analytics.json"
c = json.load(open(p))
e = next(x for x in c["credentials"] if x["username"] == "analytics-ingest")
e["identity"]["app_id"], e["identity"]["secret_id"] = app, key
json.dump(c, open(p, "w"), indent=2)
EOF
	(cd "$d/registry" && git -c user.name=T -c user.email=t@e \
		commit -qam "point $i") || return 1
	"$PY" -c 'import json, sys
print(json.dumps({"client_id": sys.argv[1], "client_secret": sys.stdin.read()}))' \
		"$(cat "$T/az/app.$i")" < "$T/az/old.$i" |
		"$CSPF" vault put --registry "$d/registry" --vault azure-data \
		--key-id "$(cat "$T/az/key.$i")" "$AZ_PATH" > /dev/null
}

# rotate DIR N ARGS...
az_rotate() {
	local d=$1 n=$2
	shift 2
	( cd "$d/registry" && "$CSPF" rotate --now "$NOW" --max-attempts 2 \
		--commit "$@" ) > "$d/out.$n" 2> "$d/err.$n"
}

# signs_in: the JSON value on stdin ({"client_id", "client_secret"}) gets
# a token from the emulator's Entra ID.
cat > "$T/az/signs_in.py" <<'EOF'
import json, ssl, sys, urllib.error, urllib.parse, urllib.request
base, tenant = sys.argv[1], sys.argv[2]
v = json.load(sys.stdin)
body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": v["client_id"],
    "client_secret": v["client_secret"], "scope": "https://graph.microsoft.com/.default"}).encode()
ctx = ssl.create_default_context(cafile=sys.argv[3])
try:
    with urllib.request.urlopen(base + "/" + tenant + "/oauth2/v2.0/token", body, context=ctx, timeout=30) as r:
        sys.exit(0 if "access_token" in json.load(r) else 1)
except urllib.error.HTTPError as e:
    print("token endpoint: HTTP %d" % e.code, file=sys.stderr)
    sys.exit(1)
EOF

# app_keys B APPID CA CANARIES: the application's secrets, "KEYID
# cspf|other" a line (no value); the values of those cspf made into the
# file CANARIES, to look for.
cat > "$T/az/app_keys.py" <<'EOF'
import json, os, ssl, sys, urllib.request
base, app, ca, canaries = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
with urllib.request.urlopen(base + "/_emulator/state", context=ctx, timeout=30) as r:
    st = json.load(r)
a = next(x for x in st["applications"] if x["appId"] == app)
fd = os.open(canaries, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
for p in a["passwordCredentials"]:
    ours = (p.get("displayName") or "").startswith("cspf ")
    print(p["keyId"], "cspf" if ours else "other")
    if ours:
        os.write(fd, (p["secretText"] + "\n").encode())
os.close(fd)
EOF

az_check() { # DIR I WHAT
	local d=$1 i=$2 what=$3 s key app
	app=$(cat "$T/az/app.$i")
	s=$("$CSPF" vault status --registry "$d/registry" --vault azure-data "$AZ_PATH") ||
		{ echo "$what: vault status failed"; return 1; }
	grep -q '^current .*rotation ' <<< "$s" ||
		{ echo "$what: current is not a rotated version: $s"; return 1; }
	grep -q '^pending' <<< "$s" &&
		{ echo "$what: a pending version is left: $s"; return 1; }
	grep -q '"step":"recorded"' <<< "$s" ||
		{ echo "$what: the record is not recorded: $s"; return 1; }
	key=$(sed -n 's/^current .*, key \([0-9a-f-]*\).*/\1/p' <<< "$s")
	"$CSPF" vault exec --registry "$d/registry" --vault azure-data "$AZ_PATH" \
		-- "$PY" "$T/az/signs_in.py" "$B" "$TENANT" "$CURL_CA_BUNDLE" ||
		{ echo "$what: the vault's current client secret does not sign in"; return 1; }
	"$PY" "$T/az/app_keys.py" "$B" "$app" "$CURL_CA_BUNDLE" "$d/canaries" \
		> "$d/keys" ||
		{ echo "$what: reading the application's secrets"; return 1; }
	[ "$(grep -c ' cspf$' "$d/keys")" -eq 1 ] ||
		{ echo "$what: the application has not exactly one secret made by cspf (an orphan, or two rotations):"; cat "$d/keys"; return 1; }
	grep -qx "$key cspf" "$d/keys" ||
		{ echo "$what: the vault's current key $key is not the application's secret made by cspf:"; cat "$d/keys"; return 1; }
	grep -qx "$(cat "$T/az/key.$i") other" "$d/keys" ||
		{ echo "$what: the secret made in the portal is gone before its grace period ended"; return 1; }
	(cd "$d/registry" && git diff --quiet HEAD &&
		git log --format=%s -1 | grep -q '^rotate: ' &&
		! grep -q '2026-11-16T10:30:00Z' credentials/azure/data-analytics.json) ||
		{ echo "$what: the registry does not record the rotation"; return 1; }
	"$CSPF" audit verify "$d/registry" \
		--public-key "$(cat "$d/cspf-vault/audit.pub")" > /dev/null ||
		{ echo "$what: the audit log does not verify"; return 1; }
	cat "$T/az/old.$i" >> "$d/canaries"
	echo >> "$d/canaries"
	echo "$CSPF_SECRET" >> "$d/canaries"
	sed -i '/^$/d' "$d/canaries"
	[ "$(wc -l < "$d/canaries")" -eq 3 ] ||
		{ echo "$what: not 3 canaries"; return 1; }
	if grep -r -a -q -F -f "$d/canaries" "$d"/out.* "$d"/err.* "$d/registry" \
		"$T/az/emu.log" "$T/az/emu.out"; then
		echo "$what: a secret leaked into an output, the emulator's log or the registry"
		return 1
	fi
	return 0
}

# az_point I POINT: prints "crashed" (checks passed) or "finished" (the
# run was not killed: the matrix is complete), or what failed.
az_point() {
	local i=$1 p=$2 d=$T/az/p$1 rc=0
	az_setup "$d" "$i" || { echo "$p: setup failed"; return; }
	CSPF_TEST_KILL_AT=$p az_rotate "$d" 0 || rc=$?
	if [ $rc -eq 0 ]; then
		case $p in
		vault:*)
			az_check "$d" "$i" "a run not killed ($p)" && echo finished
			return ;;
		esac
		echo "$p: the run was not killed: $(cat "$d/out.0")"
		return
	fi
	[ $rc -eq 137 ] ||
		{ echo "$p: exited $rc: $(cat "$d/out.0" "$d/err.0")"; return; }
	az_rotate "$d" 1 ||
		{ echo "$p: the next run exited $?: $(cat "$d/out.1" "$d/err.1")"; return; }
	az_check "$d" "$i" "after a crash at $p" && echo crashed
}

# ---- B. postgres-password in the file vault

rc=0
bash "$PG_SH" start "$T/pg" > "$T/pg.start" 2>&1 || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] ||
	fail "the PostgreSQL server did not start: $(cat "$T/pg.start")"
[ $rc -eq 0 ] && PG_UP=1
if [ -n "$PG_UP" ]; then
	set -a
	. "$T/pg/pg.env"
	set +a
	PSQL=("$CSPF_TEST_PG_BIN/psql" -X -q -w -h 127.0.0.1 \
		-p "$CSPF_TEST_PG_PORT")
	PGPASSFILE=$T/pg/su.pgpass "${PSQL[@]}" -v ON_ERROR_STOP=1 \
		-U postgres -d postgres -c "CREATE ROLE payments_app" \
		-c "CREATE DATABASE ledger OWNER payments_app" \
		> "$T/pg/setup.log" 2>&1 ||
		fail "creating the database ledger: $(cat "$T/pg/setup.log")"
	# payments_app as registry-example has it, on this server, its value
	# in the file vault "local" ({"username", "password"}).
	template "$T/pgm/template" credentials/db/payments-ledger.json \
		"$CSPF_TEST_PG_PORT" <<'EOF'
import json, sys
reg, port = sys.argv[1], int(sys.argv[2])
p = reg + "/credentials/db/payments-ledger.json"
c = json.load(open(p))
c["credentials"] = [x for x in c["credentials"] if x["username"] == "payments_app"]
e = c["credentials"][0]
e["identity"]["host"], e["identity"]["port"] = "127.0.0.1", port
e["vault"] = {"vault": "local", "path": "ledger/payments_app", "field": "password"}
json.dump(c, open(p, "w"), indent=2)
EOF
fi

# pg_logs_in PGPASSFILE ROLE: psql logs in as ROLE with the password in
# PGPASSFILE.
pg_logs_in() {
	[ "$(PGPASSFILE=$1 PGCONNECT_TIMEOUT=10 "${PSQL[@]}" -At -U "$2" \
		-d ledger -c 'SELECT current_user' 2> /dev/null)" = "$2" ]
}

# pg_setup DIR I: the registry, its payments_app being the role
# payments_app_I (a role a point: two points run at once), made here with
# a first password (its SCRAM verifier, computed here, is all the server
# sees), which goes into the file vault.
pg_setup() {
	local d=$1 role=payments_app_$2 v
	cp -a "$T/pgm/template" "$d" || return 1
	(umask 077 && rand 16 > "$d/first" &&
		printf '127.0.0.1:%s:ledger:%s:%s\n' "$CSPF_TEST_PG_PORT" \
		"$role" "$(cat "$d/first")" > "$d/first.pgpass") || return 1
	v=$("$PY" - "$d/first" "$d/registry" "$role" <<'EOF'
import base64, hashlib, hmac, json, os, sys
p = sys.argv[2] + "/credentials/db/payments-ledger.json"
c = json.load(open(p))
c["credentials"][0]["identity"]["user"] = sys.argv[3]
json.dump(c, open(p, "w"), indent=2)
pw = open(sys.argv[1], "rb").read()
salt, n = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", pw, salt, n)
ck = hmac.new(salted, b"Client Key", "sha256").digest()
sk = hmac.new(salted, b"Server Key", "sha256").digest()
b = lambda x: base64.b64encode(x).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (n, b(salt), b(hashlib.sha256(ck).digest()), b(sk)))
EOF
) || return 1
	(cd "$d/registry" && git -c user.name=T -c user.email=t@e \
		commit -qam "point $2") || return 1
	PGPASSFILE=$T/pg/su.pgpass "${PSQL[@]}" -U postgres -d postgres \
		-c "CREATE ROLE $role LOGIN PASSWORD '$v'" > /dev/null 2>&1 ||
		return 1
	pg_logs_in "$d/first.pgpass" "$role" || return 1
	printf '{"username": "%s", "password": "%s"}\n' "$role" \
		"$(cat "$d/first")" | "$CSPF" vault put --registry "$d/registry" \
		--vault local ledger/payments_app > /dev/null
}

pg_rotate() {
	local d=$1 n=$2
	shift 2
	( cd "$d/registry" && "$CSPF" rotate --now "$NOW" --max-attempts 2 \
		--commit "$@" ) > "$d/out.$n" 2> "$d/err.$n"
}

pg_check() { # DIR I WHAT
	local d=$1 role=payments_app_$2 what=$3 s
	s=$("$CSPF" vault status --registry "$d/registry" --vault local ledger/payments_app) ||
		{ echo "$what: vault status failed"; return 1; }
	grep -q '^current .*rotation ' <<< "$s" ||
		{ echo "$what: current is not a rotated version: $s"; return 1; }
	grep -q '^pending' <<< "$s" &&
		{ echo "$what: a pending version is left: $s"; return 1; }
	grep -q '"step":"recorded"' <<< "$s" ||
		{ echo "$what: the record is not recorded: $s"; return 1; }
	(umask 077 && "$CSPF" vault exec --registry "$d/registry" --vault local \
		ledger/payments_app -- "$PY" -c 'import json, sys
v = json.load(sys.stdin)
print("127.0.0.1:%s:ledger:%s:%s" % (sys.argv[1], v["username"], v["password"]))' \
		"$CSPF_TEST_PG_PORT" > "$d/new.pgpass") ||
		{ echo "$what: cspf vault exec"; return 1; }
	pg_logs_in "$d/new.pgpass" "$role" ||
		{ echo "$what: the vault's current password does not log in"; return 1; }
	pg_logs_in "$d/first.pgpass" "$role" &&
		{ echo "$what: the first password still logs in"; return 1; }
	(cd "$d/registry" && git diff --quiet HEAD &&
		git log --format=%s -1 | grep -q '^rotate: ' &&
		! grep -q '2026-11-16T03:00:00Z' credentials/db/payments-ledger.json) ||
		{ echo "$what: the registry does not record the rotation"; return 1; }
	"$CSPF" audit verify "$d/registry" \
		--public-key "$(cat "$d/cspf-vault/audit.pub")" > /dev/null ||
		{ echo "$what: the audit log does not verify"; return 1; }
	{ cat "$d/first"; echo; cut -d: -f5- "$d/new.pgpass"; } |
		sed '/^$/d' > "$d/canaries"
	[ "$(wc -l < "$d/canaries")" -eq 2 ] ||
		{ echo "$what: not 2 canaries"; return 1; }
	if grep -r -a -q -F -f "$d/canaries" "$d"/out.* "$d"/err.* "$d/registry" \
		"$CSPF_TEST_PG_LOG"; then
		echo "$what: a password leaked into an output, the server's log or the registry"
		return 1
	fi
	return 0
}

pg_point() {
	local i=$1 p=$2 d=$T/pgm/p$1 rc=0
	pg_setup "$d" "$i" || { echo "$p: setup failed"; return; }
	CSPF_TEST_KILL_AT=$p pg_rotate "$d" 0 || rc=$?
	if [ $rc -eq 0 ]; then
		case $p in
		vault:*)
			pg_check "$d" "$i" "a run not killed ($p)" && echo finished
			return ;;
		esac
		echo "$p: the run was not killed: $(cat "$d/out.0")"
		return
	fi
	[ $rc -eq 137 ] ||
		{ echo "$p: exited $rc: $(cat "$d/out.0" "$d/err.0")"; return; }
	pg_rotate "$d" 1 ||
		{ echo "$p: the next run exited $?: $(cat "$d/out.1" "$d/err.1")"; return; }
	pg_check "$d" "$i" "after a crash at $p" && echo crashed
}

# ---- the two matrices at once, each in a subshell of its own (wait -n
# there sees only its points): B one point at a time (its points take
# about a second), A's points $LANES at once.

if [ -n "$PG_UP" ]; then
	(
		R=$T/pgm/results
		mkdir -p "$R"
		points="step:create step:set step:test step:promote step:retire"
		for n in $(seq 1 $MAX_VAULT_POINTS); do points="$points vault:$n"; done
		run_points pg_point 2 $points || exit 1
		n=$(grep -lx crashed "$R"/* | wc -l)
		[ "$n" -ge 15 ] ||
			{ echo "FAIL: postgresql: only $n crash points were reached"; exit 1; }
		echo "file vault + postgres-password: $n crash points, each finished by the next run (${SECONDS}s)"
	) > "$T/pgm.out" 2>&1 &
	PG_PID=$!
fi

(
	R=$T/az/results
	mkdir -p "$R"
	points="step:cleanup step:create step:set step:test step:promote step:retire"
	for n in $(seq 1 $MAX_VAULT_POINTS); do points="$points vault:$n"; done
	run_points az_point "$LANES" $points || exit 1
	az_n=$(grep -lx crashed "$R"/* | wc -l)
	[ "$az_n" -ge 15 ] ||
		{ echo "FAIL: azure: only $az_n crash points were reached"; exit 1; }
	echo "azure-key-vault + azure-app-secret: $az_n crash points, each finished by the next run (${SECONDS}s)"
) > "$T/az.out" 2>&1 &
AZ_PID=$!
rc=0
wait "$AZ_PID" || rc=$?
AZ_PID=""
cat "$T/az.out"
[ $rc -eq 0 ] || fail "the azure-key-vault + azure-app-secret matrix"

if [ -z "$PG_UP" ]; then
	cat "$T/pg.start"
	echo "SKIP: the postgres-password matrix did not run: PostgreSQL's server binaries are needed (Debian package postgresql)"
	exit 77
fi
rc=0
wait "$PG_PID" || rc=$?
PG_PID=""
cat "$T/pgm.out"
[ $rc -eq 0 ] || fail "the postgres-password matrix"
echo ok
