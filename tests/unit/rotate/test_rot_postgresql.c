/*
 * Unit tests of lib/rotate/rot_postgresql.c.
 *
 * Without a server: the rotator is registered under both names, a bad
 * identity is refused, an unreachable server gives a message naming the
 * credential, the user and the host and no password.
 *
 * With a real PostgreSQL server (tests/emulators/test_postgresql_rotation.sh
 * starts one with tests/support/pg.sh and sets CSPF_TEST_PG_HOST, _PORT,
 * _SOCKET, _DB, _USER, _PASSWORD_FILE and _LOG; the tests that need it are
 * skipped otherwise): create, set, test (the new password logs in, the
 * old one is refused), set again is a no-op, undo brings the old one back,
 * the same through a vault field and through the Unix socket, and no
 * password ever reaches the server's log (log_statement=all), the
 * rotator's progress lines or its errors.  Every test leaves the role
 * with its first password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "cspf/secret.h"
#include "rotate/rotator.h"

#define ID "credentials/postgres/ledger#app"

static const char *host, *port, *sock, *db, *user, *pwfile, *logfile;
static char logged[8192]; /* the rotator's progress lines */

static bool live(void)
{
	return host && port && db && user && pwfile && logfile;
}

static void log_line(void *payload, const char *fmt, ...)
{
	size_t n = strlen(logged);
	va_list ap;

	(void)payload;
	va_start(ap, fmt);
	vsnprintf(logged + n, sizeof(logged) - n, fmt, ap);
	va_end(ap);
	n = strlen(logged);
	if (n + 1 < sizeof(logged)) {
		logged[n] = '\n';
		logged[n + 1] = '\0';
	}
}

/* A credential for `h`:`p` (p NULL: no port), vault.field when given. */
static cJSON *credential(const char *h, const char *p, const char *u,
	const char *field)
{
	char text[1024];
	cJSON *c;

	snprintf(text, sizeof(text),
		"{\"username\": \"%s\", \"identity\": {\"type\": \"database-user\", "
		"\"engine\": \"postgres\", \"user\": \"%s\"%s%s%s%s%s, "
		"\"database\": \"%s\"}, \"vault\": {\"vault\": \"v\", "
		"\"path\": \"db/app\"%s%s%s}, \"rotation\": {\"rotator\": "
		"\"postgresql\", \"max_age\": \"P90D\"}}",
		u, u, h ? ", \"host\": \"" : "", h ? h : "", h ? "\"" : "",
		p ? ", \"port\": " : "", p ? p : "", db ? db : "appdb",
		field ? ", \"field\": \"" : "", field ? field : "",
		field ? "\"" : "");
	c = cJSON_Parse(text);
	assert_non_null(c);
	return c;
}

static void ctx_init(cspf_rotator_ctx *ctx, const cJSON *cred)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->credential_id = ID;
	ctx->credential = cred;
	ctx->registry_dir = ".";
	ctx->rotation_id = "r-1";
	ctx->log = log_line;
	logged[0] = '\0';
}

/* The text of an open secret, copied (test code; freed by the caller). */
static char *text_of(const cspf_secret *s)
{
	const unsigned char *p;
	size_t n;
	char *t;

	assert_int_equal(cspf_secret_open(&p, &n, s), 0);
	t = strndup((const char *)p, n);
	cspf_secret_close(s);
	assert_non_null(t);
	return t;
}

/* Does `pw` log in as `user`, over TCP? */
static bool logs_in(const char *pw)
{
	const char *k[] = { "host", "port", "dbname", "user", "password",
		"connect_timeout", NULL };
	const char *v[] = { host, port, db, user, pw, "10", NULL };
	PGconn *c = PQconnectdbParams(k, v, 0);
	bool ok = PQstatus(c) == CONNECTION_OK;

	PQfinish(c);
	return ok;
}

/* The whole of a file, NUL-terminated. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Neither the last error nor the progress lines hold `pw`. */
static void not_leaked(const char *pw)
{
	const cspf_error *e = cspf_error_last();

	if (e && e->message)
		assert_null(strstr(e->message, pw));
	assert_null(strstr(logged, pw));
}

static void test_registered(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");

	(void)state;
	assert_non_null(r);
	assert_ptr_equal(cspf_rotator_find("postgres-password"), r);
	assert_string_equal(r->name, "postgresql");
	assert_int_equal(r->version, CSPF_ROTATOR_VERSION);
	assert_false(r->provider_creates);
	assert_non_null(r->create);
	assert_non_null(r->set);
	assert_non_null(r->test);
	assert_non_null(r->retire);
	assert_non_null(r->undo);
}

static void test_bad_identity(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");
	cspf_rotator_ctx ctx;
	cspf_secret *s;
	cJSON *c;

	(void)state;
	assert_int_equal(cspf_secret_new(&s, "pw-0123456789", 13), 0);
	c = credential(NULL, NULL, "app", NULL);
	ctx_init(&ctx, c);
	assert_int_equal(r->test(&ctx, s), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "identity.host"));
	assert_non_null(strstr(cspf_error_last()->message, ID));
	cJSON_Delete(c);

	c = credential("127.0.0.1", "5432", "app", NULL);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(c, "identity"),
		"engine", cJSON_CreateString("mysql"));
	ctx_init(&ctx, c);
	assert_int_equal(r->set(&ctx, s, s), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "engine postgres"));
	cJSON_Delete(c);

	c = credential("127.0.0.1", "70000", "app", NULL);
	ctx_init(&ctx, c);
	assert_int_equal(r->test(&ctx, s), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "identity.port"));
	cJSON_Delete(c);
	cspf_secret_free(s);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static void closed_port(char out[8])
{
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(out, 8, "%u", ntohs(a.sin_port));
	close(fd);
}

static void test_unreachable(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");
	const char *pw = "Unreachable-canary-4711", *pw2 = "Pending-canary-0815";
	cspf_secret *cur, *pend;
	cspf_rotator_ctx ctx;
	const char *msg;
	char p[8];
	cJSON *c;

	(void)state;
	closed_port(p);
	c = credential("127.0.0.1", p, "app", NULL);
	ctx_init(&ctx, c);
	assert_int_equal(cspf_secret_new(&cur, pw, strlen(pw)), 0);
	assert_int_equal(cspf_secret_new(&pend, pw2, strlen(pw2)), 0);
	assert_true(r->set(&ctx, pend, cur) < 0);
	msg = cspf_error_last()->message;
	assert_non_null(strstr(msg, ID));
	assert_non_null(strstr(msg, "app"));
	assert_non_null(strstr(msg, "127.0.0.1"));
	assert_non_null(strstr(msg, p));
	not_leaked(pw);
	not_leaked(pw2);
	assert_true(r->test(&ctx, pend) < 0);
	not_leaked(pw2);
	assert_true(r->undo(&ctx, cur, pend, NULL) < 0);
	not_leaked(pw);
	not_leaked(pw2);
	assert_int_equal(r->retire(&ctx, cur, NULL, true), 0);
	/* No current value in the vault: said, not a crash. */
	assert_true(r->set(&ctx, pend, NULL) < 0);
	assert_non_null(strstr(cspf_error_last()->message,
		"no current value"));
	assert_int_equal(r->undo(&ctx, NULL, pend, NULL), CSPF_EINVALID);
	cspf_secret_free(cur);
	cspf_secret_free(pend);
	cJSON_Delete(c);
}

/* create, set, test, set again, undo, undo again, against the server. */
static void test_rotation(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");
	cspf_secret *cur, *pend;
	cspf_rotator_ctx ctx;
	char *key_id = (char *)"x", *old, *new, *log;
	cJSON *c;

	(void)state;
	if (!live())
		skip();
	assert_int_equal(cspf_secret_from_file(&cur, pwfile,
				 CSPF_SECRET_FILE_TRIM), 0);
	old = text_of(cur);
	assert_true(logs_in(old));
	c = credential(host, port, user, NULL);
	ctx_init(&ctx, c);

	assert_int_equal(r->create(&ctx, cur, &pend, &key_id), 0);
	assert_null(key_id);
	assert_int_equal(cspf_secret_len(pend), 32);
	new = text_of(pend);
	assert_string_not_equal(new, old);

	/* set: the new password logs in, the old one is refused */
	assert_int_equal(r->set(&ctx, pend, cur), 0);
	assert_true(logs_in(new));
	assert_false(logs_in(old));
	assert_int_equal(r->test(&ctx, pend), 0);
	assert_true(r->test(&ctx, cur) < 0);
	assert_non_null(strstr(cspf_error_last()->message, ID));
	assert_non_null(strstr(cspf_error_last()->message, user));
	not_leaked(old);
	not_leaked(new);

	/* set again (a resumed run): done already, nothing changes */
	assert_int_equal(r->set(&ctx, pend, cur), 0);
	assert_non_null(strstr(logged, "logs in already"));
	assert_true(logs_in(new));
	assert_false(logs_in(old));
	assert_int_equal(r->retire(&ctx, cur, NULL, false), 0);
	assert_int_equal(r->retire(&ctx, cur, NULL, true), 0);
	assert_true(logs_in(new));

	/* undo: the old password is back, the new one refused; twice */
	assert_int_equal(r->undo(&ctx, cur, pend, NULL), 0);
	assert_true(logs_in(old));
	assert_false(logs_in(new));
	assert_int_equal(r->undo(&ctx, cur, pend, NULL), 0);
	assert_true(logs_in(old));
	assert_int_equal(r->test(&ctx, cur), 0);
	not_leaked(old);
	not_leaked(new);

	/* the server saw verifiers only (log_statement=all) */
	log = slurp(logfile);
	assert_non_null(strstr(log, "ALTER ROLE"));
	assert_non_null(strstr(log, "SCRAM-SHA-256$4096:"));
	assert_null(strstr(log, new));
	assert_null(strstr(log, old));
	free(log);

	free(old);
	free(new);
	cspf_secret_free(cur);
	cspf_secret_free(pend);
	cJSON_Delete(c);
}

/* Neither password logs in: set and undo fail and say so. */
static void test_both_refused(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");
	const char *a = "Wrong-canary-aaaa1111", *b = "Wrong-canary-bbbb2222";
	cspf_secret *cur, *pend;
	cspf_rotator_ctx ctx;
	cJSON *c;

	(void)state;
	if (!live())
		skip();
	c = credential(host, port, user, NULL);
	ctx_init(&ctx, c);
	assert_int_equal(cspf_secret_new(&cur, a, strlen(a)), 0);
	assert_int_equal(cspf_secret_new(&pend, b, strlen(b)), 0);
	assert_int_equal(r->set(&ctx, pend, cur), CSPF_ERROR);
	assert_non_null(strstr(cspf_error_last()->message,
		"neither the current nor the pending"));
	assert_non_null(strstr(cspf_error_last()->message,
		"password authentication failed"));
	not_leaked(a);
	not_leaked(b);
	assert_int_equal(r->undo(&ctx, cur, pend, NULL), CSPF_ERROR);
	not_leaked(a);
	not_leaked(b);
	assert_true(r->test(&ctx, pend) < 0);
	cspf_secret_free(cur);
	cspf_secret_free(pend);
	cJSON_Delete(c);
}

/* With vault.field the values are JSON objects; other members stay. */
static void test_field(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");
	cspf_secret *pw, *cur, *pend, *got;
	cspf_rotator_ctx ctx;
	char *key_id, *old, *value, *new, json[256];
	cJSON *c, *parsed;

	(void)state;
	if (!live())
		skip();
	assert_int_equal(cspf_secret_from_file(&pw, pwfile,
				 CSPF_SECRET_FILE_TRIM), 0);
	old = text_of(pw);
	snprintf(json, sizeof(json),
		"{\"username\": \"app\", \"password\": \"%s\"}", old);
	assert_int_equal(cspf_secret_new(&cur, json, strlen(json)), 0);
	c = credential(host, port, user, "password");
	ctx_init(&ctx, c);

	assert_int_equal(r->create(&ctx, cur, &pend, &key_id), 0);
	value = text_of(pend);
	parsed = cJSON_Parse(value);
	assert_non_null(parsed);
	assert_string_equal(cJSON_GetObjectItem(parsed, "username")->valuestring,
		"app");
	assert_int_equal(cspf_rotator_json_field(&got, pend, "password"), 0);
	new = text_of(got);
	assert_int_equal(strlen(new), 32);
	assert_string_not_equal(new, old);

	assert_int_equal(r->set(&ctx, pend, cur), 0);
	assert_true(logs_in(new));
	assert_false(logs_in(old));
	assert_int_equal(r->test(&ctx, pend), 0);
	assert_int_equal(r->undo(&ctx, cur, pend, NULL), 0);
	assert_true(logs_in(old));
	assert_false(logs_in(new));
	not_leaked(old);
	not_leaked(new);

	/* a value without the field is refused without showing it */
	assert_true(r->test(&ctx, pw) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "password"));
	not_leaked(old);

	cJSON_Delete(parsed);
	free(value);
	free(new);
	free(old);
	cspf_secret_free(got);
	cspf_secret_free(pw);
	cspf_secret_free(cur);
	cspf_secret_free(pend);
	cJSON_Delete(c);
}

/* A socket directory as the host: no TLS asked for, and it works. */
static void test_socket(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("postgresql");
	cspf_secret *cur;
	cspf_rotator_ctx ctx;
	cJSON *c;

	(void)state;
	if (!live() || !sock)
		skip();
	assert_int_equal(cspf_secret_from_file(&cur, pwfile,
				 CSPF_SECRET_FILE_TRIM), 0);
	c = credential(sock, port, user, NULL);
	ctx_init(&ctx, c);
	assert_int_equal(r->test(&ctx, cur), 0);
	assert_non_null(strstr(logged, sock));
	cspf_secret_free(cur);
	cJSON_Delete(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_bad_identity),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_both_refused),
		cmocka_unit_test(test_field),
		cmocka_unit_test(test_socket),
	};

	host = getenv("CSPF_TEST_PG_HOST");
	port = getenv("CSPF_TEST_PG_PORT");
	sock = getenv("CSPF_TEST_PG_SOCKET");
	db = getenv("CSPF_TEST_PG_DB");
	user = getenv("CSPF_TEST_PG_USER");
	pwfile = getenv("CSPF_TEST_PG_PASSWORD_FILE");
	logfile = getenv("CSPF_TEST_PG_LOG");
	if (!live())
		fprintf(stderr, "# no CSPF_TEST_PG_* server: the tests against a real PostgreSQL run from tests/emulators/test_postgresql_rotation.sh\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
