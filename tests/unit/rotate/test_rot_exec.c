/*
 * Unit tests of lib/rotate/rot_exec.c, with shell scripts in a temporary
 * directory that plays the registry's root: the secret arrives on
 * standard input (also 1 MiB of it), never in argv or the environment,
 * which holds only the public facts; the command runs from the registry;
 * a failing command's last stderr line reaches the error with the secret
 * redacted; a command past its timeout is killed with its children; a
 * command that does not read its input does not kill cspf with SIGPIPE;
 * undo runs set with the current secret; retire runs only at the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cspf/secret.h"
#include "rotate/rotator.h"

#define ID "credentials/app/ledger#svc"
#define CANARY "Canary-exec-S3cret-7f3a"
#define CANARY2 "Canary-exec-Current-91bd"

static char dir[256];

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* The contents of dir/name (NULL when absent), and its length. */
static char *read_file(const char *name, size_t *len)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "r")))
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static bool has(const char *name, const void *needle, size_t n)
{
	size_t len;
	char *buf = read_file(name, &len);
	bool found;

	assert_non_null(buf);
	found = memmem(buf, len, needle, n) != NULL;
	free(buf);
	return found;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cspf-exec-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* set: keeps its input, its argv and its real environment */
	write_file("set.sh",
		"#!/bin/sh\n"
		"cat > ./state\n"
		"tr '\\0' '\\n' < /proc/$$/environ > ./environ.$CSPF_STEP\n"
		"tr '\\0' ' ' < /proc/$$/cmdline > ./cmdline.$CSPF_STEP\n"
		"pwd > ./pwd\n", 0755);
	/* test: exits 3 naming the secret when it is not the one set */
	write_file("test.sh",
		"#!/bin/sh\n"
		"pw=$(cat)\n"
		"if [ \"$pw\" != \"$(cat ./state)\" ]; then\n"
		"  echo 'checking the secret' >&2\n"
		"  echo \"refused: $pw is wrong ($pw)\" >&2\n"
		"  exit 3\n"
		"fi\n", 0755);
	write_file("retire.sh", "#!/bin/sh\ncat > ./retired\n", 0755);
	write_file("slow.sh",
		"#!/bin/sh\nsleep 30 &\necho $! > ./sleeper\nwait\n", 0755);
	write_file("deaf.sh", "#!/bin/sh\nexit 0\n", 0755);
	write_file("signal.sh", "#!/bin/sh\nkill -TERM $$\n", 0755);
	write_file("long.sh",
		"#!/bin/sh\npw=$(cat)\n"
		"printf 'x%s' \"$pw\" >&2\n"
		"head -c 6000 /dev/zero | tr '\\0' y >&2\nexit 4\n", 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A credential whose rotation.exec has these commands (NULL: none). */
static cJSON *credential(const char *set, const char *test,
	const char *retire, const char *timeout)
{
	cJSON *c = cJSON_CreateObject(), *rot, *ex;

	rot = cJSON_AddObjectToObject(c, "rotation");
	cJSON_AddStringToObject(rot, "rotator", "exec");
	ex = cJSON_AddObjectToObject(rot, "exec");
	if (set)
		cJSON_AddItemToObject(ex, "set",
			cJSON_CreateStringArray(&set, 1));
	if (test)
		cJSON_AddItemToObject(ex, "test",
			cJSON_CreateStringArray(&test, 1));
	if (retire)
		cJSON_AddItemToObject(ex, "retire",
			cJSON_CreateStringArray(&retire, 1));
	if (timeout)
		cJSON_AddStringToObject(ex, "timeout", timeout);
	return c;
}

static void ctx_init(cspf_rotator_ctx *ctx, const cJSON *cred)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->credential_id = ID;
	ctx->credential = cred;
	ctx->registry_dir = dir;
	ctx->rotation_id = "rot-20260601-1";
}

static cspf_secret *secret(const char *s)
{
	cspf_secret *out;

	assert_int_equal(cspf_secret_new(&out, s, strlen(s)), 0);
	return out;
}

static void no_canary_in_error(void)
{
	const char *m = cspf_error_last()->message;

	assert_null(strstr(m, CANARY));
	assert_null(strstr(m, CANARY2));
}

static void test_registered(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");

	(void)state;
	assert_non_null(r);
	assert_string_equal(r->name, "exec");
	assert_false(r->provider_creates);
}

/* set: stdin, cwd, argv and environment; test accepts and refuses. */
static void test_set_and_test(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	cspf_secret *pend = secret(CANARY), *cur = secret(CANARY2);
	cspf_rotator_ctx ctx;
	char *s, *env;
	const char *m;
	cJSON *c = credential("./set.sh", "./test.sh", NULL, NULL);

	(void)state;
	/* Something of cspf's own environment that must not be passed on. */
	setenv("CSPF_TEST_PARENT_ONLY", "inherited", 1);
	ctx_init(&ctx, c);
	assert_int_equal(r->set(&ctx, pend, cur), 0);
	s = read_file("state", NULL);
	assert_non_null(s);
	assert_string_equal(s, CANARY); /* exactly, no newline */
	free(s);
	s = read_file("pwd", NULL);
	assert_non_null(s);
	assert_non_null(strstr(s, dir));
	free(s);

	assert_false(has("cmdline.set", CANARY, strlen(CANARY)));
	assert_false(has("environ.set", CANARY, strlen(CANARY)));
	assert_false(has("environ.set", CANARY2, strlen(CANARY2)));
	env = read_file("environ.set", NULL);
	assert_non_null(strstr(env, "CSPF_STEP=set\n"));
	assert_non_null(strstr(env, "CSPF_CREDENTIAL_ID=" ID "\n"));
	assert_non_null(strstr(env, "CSPF_ROTATION_ID=rot-20260601-1\n"));
	assert_non_null(strstr(env, "PATH="));
	assert_null(strstr(env, "CSPF_TEST_PARENT_ONLY"));
	free(env);

	assert_int_equal(r->test(&ctx, pend), 0);
	/* The wrong secret: the last stderr line, redacted. */
	assert_int_equal(r->test(&ctx, cur), CSPF_ERROR);
	m = cspf_error_last()->message;
	assert_string_equal(m, "exec test for " ID " exited 3: refused: "
			       "[redacted] is wrong ([redacted])");
	no_canary_in_error();

	cspf_secret_free(pend);
	cspf_secret_free(cur);
	cJSON_Delete(c);
}

/* undo runs set with the current secret, as step undo. */
static void test_undo(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	cspf_secret *pend = secret(CANARY), *cur = secret(CANARY2);
	cspf_rotator_ctx ctx;
	char *s;
	cJSON *c = credential("./set.sh", "./test.sh", NULL, NULL);

	(void)state;
	ctx_init(&ctx, c);
	assert_int_equal(r->set(&ctx, pend, cur), 0);
	assert_int_equal(r->undo(&ctx, cur, pend, NULL), 0);
	s = read_file("state", NULL);
	assert_string_equal(s, CANARY2);
	free(s);
	assert_true(has("environ.undo", "CSPF_STEP=undo\n", 15));
	assert_int_equal(r->test(&ctx, cur), 0);
	assert_int_equal(r->test(&ctx, pend), CSPF_ERROR);
	no_canary_in_error();
	cspf_secret_free(pend);
	cspf_secret_free(cur);
	cJSON_Delete(c);
}

/* retire: only the final retirement runs it, and only when configured. */
static void test_retire(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	cspf_secret *prev = secret(CANARY2);
	cspf_rotator_ctx ctx;
	char path[512], *s;
	cJSON *c = credential("./set.sh", "./test.sh", "./retire.sh", NULL);
	cJSON *none = credential("./set.sh", "./test.sh", NULL, NULL);

	(void)state;
	snprintf(path, sizeof(path), "%s/retired", dir);
	unlink(path);
	ctx_init(&ctx, none);
	assert_int_equal(r->retire(&ctx, prev, NULL, true), 0);
	assert_int_equal(access(path, F_OK), -1);
	ctx_init(&ctx, c);
	assert_int_equal(r->retire(&ctx, prev, NULL, false), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(r->retire(&ctx, prev, NULL, true), 0);
	s = read_file("retired", NULL);
	assert_non_null(s);
	assert_string_equal(s, CANARY2);
	free(s);
	cspf_secret_free(prev);
	cJSON_Delete(c);
	cJSON_Delete(none);
}

/* Is process `pid` gone (or a zombie nobody reaps)? */
static bool gone(long pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool dead;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return true;
	dead = !fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')')) ||
		p[2] == 'Z' || p[2] == 'X';
	fclose(f);
	return dead;
}

/* Past its timeout, the command and what it started are killed. */
static void test_timeout(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	cspf_secret *pend = secret(CANARY);
	cspf_rotator_ctx ctx;
	struct timespec a, b;
	char *s;
	long sleeper;
	int i;
	cJSON *c = credential("./slow.sh", "./test.sh", NULL, "PT1S");

	(void)state;
	ctx_init(&ctx, c);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(r->set(&ctx, pend, NULL), CSPF_ERROR);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 5);
	assert_true(b.tv_sec - a.tv_sec >= 0);
	assert_non_null(strstr(cspf_error_last()->message,
		"exec set for " ID " did not finish within 1 s"));
	s = read_file("sleeper", NULL);
	assert_non_null(s);
	sleeper = strtol(s, NULL, 10);
	free(s);
	assert_true(sleeper > 1);
	for (i = 0; i < 100 && !gone(sleeper); i++)
		usleep(20000);
	assert_true(gone(sleeper));
	cspf_secret_free(pend);
	cJSON_Delete(c);
}

/* 1 MiB through the pipe; and a command that reads nothing. */
static void test_big_and_deaf(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	size_t n = CSPF_SECRET_MAX, len;
	cspf_secret *big;
	cspf_rotator_ctx ctx;
	char *buf, *s;
	cJSON *c = credential("./set.sh", "./test.sh", NULL, NULL);
	cJSON *deaf = credential("./deaf.sh", "./deaf.sh", NULL, NULL);

	(void)state;
	buf = malloc(n);
	assert_non_null(buf);
	memset(buf, 'k', n);
	memcpy(buf + n - strlen(CANARY), CANARY, strlen(CANARY));
	assert_int_equal(cspf_secret_new(&big, buf, n), 0);
	ctx_init(&ctx, c);
	assert_int_equal(r->set(&ctx, big, NULL), 0);
	s = read_file("state", &len);
	assert_int_equal(len, n);
	assert_memory_equal(s, buf, n);
	free(s);

	/* SIGPIPE would end this test program: it must not come. */
	ctx_init(&ctx, deaf);
	assert_int_equal(r->set(&ctx, big, NULL), 0);
	assert_int_equal(r->test(&ctx, big), 0);
	free(buf);
	cspf_secret_free(big);
	cJSON_Delete(c);
	cJSON_Delete(deaf);
}

/* Killed by a signal; a last line too long to show; no such command. */
static void test_failures(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	cspf_secret *pend = secret(CANARY);
	cspf_rotator_ctx ctx;
	const char *m;
	cJSON *sig = credential("./signal.sh", "./test.sh", NULL, NULL);
	cJSON *lng = credential("./long.sh", "./test.sh", NULL, NULL);
	cJSON *missing = credential("./no-such-command", "./test.sh", NULL,
		NULL);

	(void)state;
	ctx_init(&ctx, sig);
	assert_int_equal(r->set(&ctx, pend, NULL), CSPF_ERROR);
	assert_string_equal(cspf_error_last()->message,
		"exec set for " ID " was killed by signal 15");

	ctx_init(&ctx, lng);
	assert_int_equal(r->set(&ctx, pend, NULL), CSPF_ERROR);
	m = cspf_error_last()->message;
	assert_non_null(strstr(m, "exited 4: (its last line is longer"));
	no_canary_in_error();

	ctx_init(&ctx, missing);
	assert_true(r->set(&ctx, pend, NULL) < 0);
	assert_non_null(strstr(cspf_error_last()->message,
		"./no-such-command"));
	cspf_secret_free(pend);
	cJSON_Delete(sig);
	cJSON_Delete(lng);
	cJSON_Delete(missing);
}

/* Bad configuration: named, and refused before anything runs. */
static void test_config(void **state)
{
	const cspf_rotator *r = cspf_rotator_find("exec");
	cspf_secret *pend = secret(CANARY), *value = NULL;
	cspf_rotator_ctx ctx;
	char *key_id = (char *)"x";
	cJSON *noset = credential(NULL, "./test.sh", NULL, NULL);
	cJSON *badto = credential("./set.sh", "./test.sh", NULL, "soon");
	cJSON *field = credential("./set.sh", "./test.sh", NULL, NULL);
	cJSON *vault;

	(void)state;
	ctx_init(&ctx, noset);
	assert_int_equal(r->set(&ctx, pend, NULL), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message,
		"rotation.exec.set"));
	ctx_init(&ctx, badto);
	assert_int_equal(r->set(&ctx, pend, NULL), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message,
		"rotation.exec.timeout"));

	ctx_init(&ctx, field);
	assert_int_equal(r->create(&ctx, NULL, &value, &key_id), 0);
	assert_null(key_id);
	assert_int_equal(cspf_secret_len(value), 32);
	cspf_secret_free(value);
	vault = cJSON_AddObjectToObject(field, "vault");
	cJSON_AddStringToObject(vault, "field", "password");
	assert_int_equal(r->create(&ctx, NULL, &value, &key_id),
		CSPF_EUNSUPPORTED);
	assert_null(value);
	cspf_secret_free(pend);
	cJSON_Delete(noset);
	cJSON_Delete(badto);
	cJSON_Delete(field);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_set_and_test),
		cmocka_unit_test(test_undo),
		cmocka_unit_test(test_retire),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_big_and_deaf),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
