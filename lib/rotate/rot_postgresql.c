/*
 * postgresql: the password of a PostgreSQL role (identity type
 * database-user, engine postgres), changed by the role itself.
 *
 * Strategy: AWS Secrets Manager's "single user" rotation.  The role logs
 * in with its current password and changes its own password; no admin
 * credential is needed.  The new password never reaches the server in
 * plain text: its SCRAM-SHA-256 verifier is computed here
 * (PQencryptPasswordConn) and the server is sent
 * ALTER ROLE "user" PASSWORD 'SCRAM-SHA-256$4096:...', which is all that
 * log_statement=all can write to the server's log.
 *
 * What that strategy costs, honestly: a role has one password, so from
 * the moment set() succeeds until the state machine promotes the pending
 * value (milliseconds, unless the run dies in between) the value the
 * vault calls current no longer logs in, and clients that connect in that
 * window with it are refused.  A run that dies there is finished by the
 * next one: set() sees that the current password is refused and the
 * pending one accepted, and takes the set as done.  Because the old
 * password stops working at set, retire() has nothing to do and there is
 * no grace period.  Where that window is not acceptable, use two roles
 * (the "alternating users" strategy) with another rotator.
 *
 * Connection: host, port (default 5432) and database (default: the
 * user's name, as libpq does) from the identity.  sslmode is verify-full
 * unless the host is loopback (localhost, 127.x, ::1) or a Unix socket
 * directory (a path), where it is prefer; there is no setting to lower
 * it.  The trusted roots are ctx->ca_file when given, else libpq's own
 * choice (PGSSLROOTCERT, ~/.postgresql/root.crt), else the system's
 * bundle.  The password goes to libpq through PQconnectdbParams' keyword
 * arrays straight from the open guarded secret (any character is fine
 * there; nothing is parsed), and never through a conninfo string or the
 * environment.  libpq keeps its own copy for the life of the connection
 * and does not zero it: each connection here is closed (PQfinish) as
 * soon as its work is done.  The server picks the authentication method:
 * with scram-sha-256 (or md5) no password crosses the wire at login;
 * with "password" (clear text) the server sees it at every login, as it
 * would from any client.
 *
 * Values: the password itself, or, when the credential's vault reference
 * names a "field", a JSON object whose member of that name is the
 * password (its other members are carried over by create()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "rotate/rotator.h"
#include "util/error.h"

#define CONNECT_TIMEOUT "10"
#define SYSTEM_ROOTS "/etc/ssl/certs/ca-certificates.crt"

/* Where and as whom to connect, lent from the credential. */
struct target {
	const char *user;
	const char *host;
	const char *dbname; /* NULL: libpq's default, the user's name */
	char port[8];
	const char *sslmode;
	const char *sslrootcert; /* NULL: libpq's default */
};

static void progress(const cspf_rotator_ctx *ctx, const char *what,
	const struct target *t)
{
	if (ctx->log)
		ctx->log(ctx->log_payload, "postgresql: %s: %s %s at %s:%s",
			ctx->credential_id, what, t->user, t->host, t->port);
}

static const char *string_member(const cJSON *o, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int is_loopback(const char *host)
{
	return host[0] == '/' || host[0] == '@' ||
		strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
		strncmp(host, "127.", 4) == 0;
}

/* The target of ctx's credential, or CSPF_EINVALID naming what is amiss. */
static int target_load(struct target *t, const cspf_rotator_ctx *ctx)
{
	const cJSON *id, *port;
	const char *engine;
	double p = 5432;

	memset(t, 0, sizeof(*t));
	id = cJSON_GetObjectItemCaseSensitive(ctx->credential, "identity");
	engine = string_member(id, "engine");
	if (!id || (engine && strcmp(engine, "postgres") != 0))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"postgresql: %s: the rotator needs an identity of type database-user with engine postgres",
			ctx->credential_id);
	if (!(t->user = string_member(id, "user")) || !t->user[0])
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"postgresql: %s: identity.user is missing",
			ctx->credential_id);
	if (!(t->host = string_member(id, "host")) || !t->host[0])
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"postgresql: %s: identity.host is missing: name the server to rotate the password on",
			ctx->credential_id);
	if ((port = cJSON_GetObjectItemCaseSensitive(id, "port"))) {
		if (!cJSON_IsNumber(port) || port->valuedouble < 1 ||
		    port->valuedouble > 65535)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"postgresql: %s: identity.port must be 1 to 65535",
				ctx->credential_id);
		p = port->valuedouble;
	}
	snprintf(t->port, sizeof(t->port), "%d", (int)p);
	t->dbname = string_member(id, "database");
	if (is_loopback(t->host)) {
		t->sslmode = "prefer";
	} else {
		t->sslmode = "verify-full";
		if (ctx->ca_file)
			t->sslrootcert = ctx->ca_file;
		else if (!getenv("PGSSLROOTCERT") &&
			 access(SYSTEM_ROOTS, R_OK) == 0)
			t->sslrootcert = PQlibVersion() >= 160000 ?
				"system" : SYSTEM_ROOTS;
	}
	return 0;
}

/* The password in `value`: a copy, or its vault.field member. */
static int password_of(cspf_secret **out, const cspf_rotator_ctx *ctx,
	const cspf_secret *value)
{
	const cJSON *vault;
	const char *field;
	const unsigned char *p;
	size_t n;
	int error;

	vault = cJSON_GetObjectItemCaseSensitive(ctx->credential, "vault");
	if ((field = string_member(vault, "field")))
		error = cspf_rotator_json_field(out, value, field);
	else
		error = cspf_secret_dup(out, value);
	if (error < 0)
		return error;
	if (cspf_secret_open(&p, &n, *out) < 0) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
		goto fail;
	}
	error = (n == 0 || memchr(p, '\0', n)) ? -1 : 0;
	cspf_secret_close(*out);
	if (error < 0) {
		error = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"postgresql: %s: the password in the vault is empty or holds a NUL byte",
			ctx->credential_id);
		goto fail;
	}
	return 0;
fail:
	cspf_secret_free(*out);
	*out = NULL;
	return error;
}

/* libpq's message on one line, without its trailing newline. */
static void one_line(char *out, size_t size, const char *msg)
{
	size_t i, n = 0;

	for (i = 0; msg && msg[i] && n + 1 < size; i++) {
		if (msg[i] == '\n') {
			if (msg[i + 1] == '\0')
				break;
			if (n + 2 < size) {
				out[n++] = ';';
				out[n++] = ' ';
			}
			continue;
		}
		out[n++] = msg[i];
	}
	out[n] = '\0';
}

/*
 * A connection as t->user with `password` (the plain password, not the
 * vault value), into *out; on failure NULL and libpq's reason, on one
 * line, into `why`.  The caller PQfinish()es the connection at once
 * after use.
 */
static int pg_connect(PGconn **out, char *why, size_t whysize,
	const struct target *t, const cspf_secret *password)
{
	const char *keys[12], *vals[12];
	const unsigned char *p;
	size_t n, k = 0;
	PGconn *conn;

	*out = NULL;
	if (cspf_secret_open(&p, &n, password) < 0) {
		snprintf(why, whysize, "cannot open guarded memory");
		return -1;
	}
	keys[k] = "host", vals[k++] = t->host;
	keys[k] = "port", vals[k++] = t->port;
	keys[k] = "user", vals[k++] = t->user;
	keys[k] = "password", vals[k++] = (const char *)p;
	if (t->dbname)
		keys[k] = "dbname", vals[k++] = t->dbname;
	keys[k] = "sslmode", vals[k++] = t->sslmode;
	if (t->sslrootcert)
		keys[k] = "sslrootcert", vals[k++] = t->sslrootcert;
	keys[k] = "connect_timeout", vals[k++] = CONNECT_TIMEOUT;
	keys[k] = "application_name", vals[k++] = "cspf-rotate";
	keys[k] = NULL, vals[k] = NULL;
	/* expand_dbname 0: a database name is never read as a conninfo. */
	conn = PQconnectdbParams(keys, vals, 0);
	cspf_secret_close(password);
	if (!conn) {
		snprintf(why, whysize, "out of memory");
		return -1;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		one_line(why, whysize, PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	*out = conn;
	return 0;
}

/*
 * ALTER ROLE t->user PASSWORD '<SCRAM verifier of `password`>' on
 * `conn`.  The verifier is made here; the plain password stays in this
 * process.
 */
static int set_password(const cspf_rotator_ctx *ctx, PGconn *conn,
	const struct target *t, const cspf_secret *password)
{
	const unsigned char *p;
	char *verifier = NULL, *ident = NULL, *literal = NULL, *sql = NULL;
	char why[512];
	PGresult *res = NULL;
	size_t n, len;
	int error = CSPF_ERROR;

	if (cspf_secret_open(&p, &n, password) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
	verifier = PQencryptPasswordConn(conn, (const char *)p, t->user,
		"scram-sha-256");
	cspf_secret_close(password);
	if (!verifier) {
		one_line(why, sizeof(why), PQerrorMessage(conn));
		cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: cannot compute the SCRAM verifier for %s at %s:%s: %s",
			ctx->credential_id, t->user, t->host, t->port, why);
		goto done;
	}
	ident = PQescapeIdentifier(conn, t->user, strlen(t->user));
	literal = PQescapeLiteral(conn, verifier, strlen(verifier));
	if (!ident || !literal) {
		one_line(why, sizeof(why), PQerrorMessage(conn));
		cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: cannot quote the statement for %s at %s:%s: %s",
			ctx->credential_id, t->user, t->host, t->port, why);
		goto done;
	}
	len = strlen(ident) + strlen(literal) + 32;
	if (!(sql = malloc(len))) {
		cspf_error_set_oom();
		goto done;
	}
	snprintf(sql, len, "ALTER ROLE %s PASSWORD %s", ident, literal);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		one_line(why, sizeof(why),
			res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: %s at %s:%s cannot change its own password: %s",
			ctx->credential_id, t->user, t->host, t->port, why);
		goto done;
	}
	error = 0;
done:
	PQclear(res);
	/* A verifier is not the password, but it can be attacked offline. */
	if (sql) {
		sodium_memzero(sql, strlen(sql));
		free(sql);
	}
	if (literal) {
		sodium_memzero(literal, strlen(literal));
		PQfreemem(literal);
	}
	if (verifier) {
		sodium_memzero(verifier, strlen(verifier));
		PQfreemem(verifier);
	}
	PQfreemem(ident);
	return error;
}

/* Zero every string of a parsed secret before it is freed. */
static void json_zero(cJSON *item)
{
	for (; item; item = item->next) {
		if (item->valuestring)
			sodium_memzero(item->valuestring,
				strlen(item->valuestring));
		json_zero(item->child);
	}
}

/*
 * `password` as the vault value: itself, or with vault.field, the
 * current JSON object (when there is one) with that member replaced.
 * Takes `password` in every case.
 */
static int wrap_value(cspf_secret **out, const cspf_rotator_ctx *ctx,
	const cspf_secret *current, cspf_secret *password)
{
	const cJSON *vault;
	const char *field;
	const unsigned char *p;
	cJSON *root = NULL, *item;
	char *text = NULL;
	size_t n;
	int error = CSPF_ERROR;

	vault = cJSON_GetObjectItemCaseSensitive(ctx->credential, "vault");
	if (!(field = string_member(vault, "field"))) {
		*out = password;
		return 0;
	}
	*out = NULL;
	if (current && cspf_secret_open(&p, &n, current) == 0) {
		root = cJSON_ParseWithLength((const char *)p, n);
		cspf_secret_close(current);
		if (root && !cJSON_IsObject(root)) {
			json_zero(root);
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root && !(root = cJSON_CreateObject()))
		goto oom;
	if (cspf_secret_open(&p, &n, password) < 0) {
		cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
		goto done;
	}
	item = cJSON_CreateString((const char *)p);
	cspf_secret_close(password);
	if (!item)
		goto oom;
	if (cJSON_GetObjectItemCaseSensitive(root, field)) {
		json_zero(cJSON_GetObjectItemCaseSensitive(root, field));
		cJSON_ReplaceItemInObjectCaseSensitive(root, field, item);
	} else if (!cJSON_AddItemToObject(root, field, item)) {
		json_zero(item);
		cJSON_Delete(item);
		goto oom;
	}
	if (!(text = cJSON_PrintUnformatted(root)))
		goto oom;
	error = cspf_secret_new(out, text, strlen(text));
	goto done;
oom:
	error = cspf_error_set_oom();
done:
	if (text) {
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	if (root) {
		json_zero(root->child);
		cJSON_Delete(root);
	}
	cspf_secret_free(password);
	return error;
}

static int pg_create(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	cspf_secret **value, char **key_id)
{
	cspf_secret *password;
	int error;

	*key_id = NULL;
	*value = NULL;
	/* Any character is fine: libpq gets it through keyword arrays. */
	if ((error = cspf_rotator_random_password(&password,
		     ctx->credential)) < 0)
		return error;
	return wrap_value(value, ctx, current, password);
}

/*
 * Make the role's password the pending one.  Logs in with the current
 * password; when that is refused but the pending one logs in, an earlier
 * run got this far already and this is a success.
 */
static int pg_set(const cspf_rotator_ctx *ctx, const cspf_secret *pending,
	const cspf_secret *current)
{
	cspf_secret *newpw = NULL, *oldpw = NULL;
	struct target t;
	PGconn *conn = NULL;
	char why[512], why2[512];
	int error;

	if ((error = target_load(&t, ctx)) < 0)
		return error;
	if ((error = password_of(&newpw, ctx, pending)) < 0 ||
	    (current && (error = password_of(&oldpw, ctx, current)) < 0))
		goto done;
	if (!oldpw)
		snprintf(why, sizeof(why), "the vault holds no current value");
	else if (pg_connect(&conn, why, sizeof(why), &t, oldpw) == 0) {
		progress(ctx, "setting the new password of", &t);
		error = set_password(ctx, conn, &t, newpw);
		PQfinish(conn);
		goto done;
	}
	if (pg_connect(&conn, why2, sizeof(why2), &t, newpw) == 0) {
		PQfinish(conn);
		progress(ctx, "the new password logs in already as", &t);
		error = 0;
		goto done;
	}
	error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
		"postgresql: %s: neither the current nor the pending password logs in as %s at %s:%s (current: %s)",
		ctx->credential_id, t.user, t.host, t.port, why);
done:
	cspf_secret_free(newpw);
	cspf_secret_free(oldpw);
	return error;
}

/* Log in with the pending password and check who the server says we are. */
static int pg_test(const cspf_rotator_ctx *ctx, const cspf_secret *pending)
{
	cspf_secret *pw = NULL;
	struct target t;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	char why[512];
	int error;

	if ((error = target_load(&t, ctx)) < 0)
		return error;
	if ((error = password_of(&pw, ctx, pending)) < 0)
		return error;
	if (pg_connect(&conn, why, sizeof(why), &t, pw) < 0) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: the pending password does not log in as %s at %s:%s: %s",
			ctx->credential_id, t.user, t.host, t.port, why);
		goto done;
	}
	res = PQexec(conn, "SELECT 1, current_user");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 2) {
		one_line(why, sizeof(why),
			res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: SELECT 1 as %s at %s:%s failed: %s",
			ctx->credential_id, t.user, t.host, t.port, why);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "1") != 0 ||
	    strcmp(PQgetvalue(res, 0, 1), t.user) != 0) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: logged in at %s:%s as %s, the server says current_user is %s",
			ctx->credential_id, t.host, t.port, t.user,
			PQgetvalue(res, 0, 1));
		goto done;
	}
	progress(ctx, "the new password works for", &t);
	error = 0;
done:
	PQclear(res);
	PQfinish(conn);
	cspf_secret_free(pw);
	return error;
}

/* The old password stopped working at set: see the top of this file. */
static int pg_retire(const cspf_rotator_ctx *ctx,
	const cspf_secret *previous, const char *previous_key_id, bool final)
{
	return 0;
}

/*
 * Make the current password the role's password again.  Nothing to do
 * when it logs in; otherwise log in with the pending one and set it back.
 */
static int pg_undo(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	const cspf_secret *pending, const char *pending_key_id)
{
	cspf_secret *newpw = NULL, *oldpw = NULL;
	struct target t;
	PGconn *conn = NULL;
	char why[512], why2[512];
	int error;

	if ((error = target_load(&t, ctx)) < 0)
		return error;
	if (!current)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"postgresql: %s: the vault holds no current value to set back for %s at %s:%s",
			ctx->credential_id, t.user, t.host, t.port);
	if ((error = password_of(&oldpw, ctx, current)) < 0)
		goto done;
	if (pg_connect(&conn, why, sizeof(why), &t, oldpw) == 0) {
		PQfinish(conn);
		progress(ctx, "the current password still logs in as", &t);
		goto done;
	}
	if (!pending) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: the current password does not log in as %s at %s:%s and there is no pending one to undo with: %s",
			ctx->credential_id, t.user, t.host, t.port, why);
		goto done;
	}
	if ((error = password_of(&newpw, ctx, pending)) < 0)
		goto done;
	if (pg_connect(&conn, why2, sizeof(why2), &t, newpw) < 0) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"postgresql: %s: neither the current nor the pending password logs in as %s at %s:%s (current: %s)",
			ctx->credential_id, t.user, t.host, t.port, why);
		goto done;
	}
	progress(ctx, "setting back the current password of", &t);
	error = set_password(ctx, conn, &t, oldpw);
	PQfinish(conn);
done:
	cspf_secret_free(newpw);
	cspf_secret_free(oldpw);
	return error;
}

const cspf_rotator cspf_rotator_postgresql = {
	.version = CSPF_ROTATOR_VERSION,
	.name = "postgresql",
	.provider_creates = false,
	.create = pg_create,
	.set = pg_set,
	.test = pg_test,
	.retire = pg_retire,
	.undo = pg_undo,
};
