/*
 * Unit tests of lib/util/secret.c: guarded secrets, files that others
 * could read or write refused, nested opens, constant-time equality.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cspf/secret.h"
#include "util/secret.h"

#define CANARY "canary-5ecr3t-Zq9"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cspf-secret-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void no_canary_in_error(void)
{
	const cspf_error *e = cspf_error_last();

	if (e && e->message)
		assert_null(strstr(e->message, CANARY));
}

static void test_new_open_close(void **state)
{
	cspf_secret *s, *d;
	const unsigned char *p, *q;
	size_t n;

	(void)state;
	assert_int_equal(cspf_secret_new(&s, CANARY, strlen(CANARY)), 0);
	assert_int_equal(cspf_secret_len(s), strlen(CANARY));
	assert_int_equal(cspf_secret_open(&p, &n, s), 0);
	assert_int_equal(n, strlen(CANARY));
	assert_memory_equal(p, CANARY, n);
	assert_int_equal(p[n], '\0');
	/* nested */
	assert_int_equal(cspf_secret_open(&q, &n, s), 0);
	assert_ptr_equal(p, q);
	cspf_secret_close(s);
	assert_memory_equal(p, CANARY, n); /* still open once */
	cspf_secret_close(s);
	cspf_secret_close(s); /* one too many: harmless */

	assert_int_equal(cspf_secret_dup(&d, s), 0);
	assert_true(cspf_secret_equal(s, d));
	assert_true(cspf_secret_equal_bytes(s, CANARY, strlen(CANARY)));
	assert_false(cspf_secret_equal_bytes(s, CANARY, 3));
	assert_false(cspf_secret_equal_bytes(s, "canary-5ecr3t-Zq8", 17));
	cspf_secret_free(d);
	assert_int_equal(cspf_secret_new(&d, "other", 5), 0);
	assert_false(cspf_secret_equal(s, d));
	assert_false(cspf_secret_equal(s, NULL));
	assert_true(cspf_secret_equal(NULL, NULL));
	cspf_secret_free(d);
	cspf_secret_free(s);
	cspf_secret_free(NULL);

	assert_int_equal(cspf_secret_new(&s, NULL, 0), 0);
	assert_int_equal(cspf_secret_len(s), 0);
	assert_int_equal(cspf_secret_open(&p, &n, s), 0);
	assert_int_equal(p[0], '\0');
	cspf_secret_close(s);
	cspf_secret_free(s);
}

static void test_file(void **state)
{
	char path[512], link[512];
	cspf_secret *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/key", dir);
	write_file(path, CANARY "\n", 0600);
	assert_int_equal(cspf_secret_from_file(&s, path, 0), 0);
	assert_int_equal(cspf_secret_len(s), strlen(CANARY) + 1);
	cspf_secret_free(s);
	assert_int_equal(cspf_secret_from_file(&s, path,
		CSPF_SECRET_FILE_TRIM), 0);
	assert_true(cspf_secret_equal_bytes(s, CANARY, strlen(CANARY)));
	cspf_secret_free(s);

	/* group may read: fine */
	chmod(path, 0640);
	assert_int_equal(cspf_secret_from_file(&s, path, 0), 0);
	cspf_secret_free(s);

	/* anyone may read: refused unless asked for */
	chmod(path, 0644);
	assert_int_equal(cspf_secret_from_file(&s, path, 0), CSPF_EAUTH);
	assert_null(s);
	assert_non_null(strstr(cspf_error_last()->message, "chmod"));
	assert_non_null(strstr(cspf_error_last()->message, path));
	no_canary_in_error();
	assert_int_equal(cspf_secret_from_file(&s, path,
		CSPF_SECRET_FILE_READABLE), 0);
	cspf_secret_free(s);

	/* others or group may write: always refused */
	chmod(path, 0620);
	assert_int_equal(cspf_secret_from_file(&s, path,
		CSPF_SECRET_FILE_READABLE), CSPF_EAUTH);
	no_canary_in_error();
	chmod(path, 0602);
	assert_int_equal(cspf_secret_from_file(&s, path,
		CSPF_SECRET_FILE_READABLE), CSPF_EAUTH);
	no_canary_in_error();

	/* a symlink is not followed */
	chmod(path, 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(cspf_secret_from_file(&s, link, 0), CSPF_EAUTH);

	/* a directory, a missing file */
	assert_int_equal(cspf_secret_from_file(&s, dir, 0), CSPF_EAUTH);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(cspf_secret_from_file(&s, path, 0), CSPF_ENOTFOUND);
}

static void test_env(void **state)
{
	cspf_secret *s;

	(void)state;
	setenv("CSPF_TEST_SECRET", CANARY, 1);
	assert_int_equal(cspf_secret_from_env(&s, "CSPF_TEST_SECRET"), 0);
	assert_true(cspf_secret_equal_bytes(s, CANARY, strlen(CANARY)));
	cspf_secret_free(s);
	unsetenv("CSPF_TEST_SECRET");
	assert_int_equal(cspf_secret_from_env(&s, "CSPF_TEST_SECRET"),
		CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message,
		"CSPF_TEST_SECRET"));
}

static void test_sbuf(void **state)
{
	cspf_sbuf b = CSPF_SBUF_INIT;
	cspf_secret *s, *t;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		cspf_sbuf_puts(&b, "0123456789");
	cspf_sbuf_put_urlencoded(&b, "a b/+", 5);
	assert_false(b.oom);
	assert_int_equal(cspf_sbuf_to_secret(&s, &b), 0);
	assert_int_equal(cspf_secret_len(s), 10000 + 11);
	assert_null(b.ptr);
	cspf_sbuf_put_secret(&b, s);
	assert_int_equal(cspf_sbuf_to_secret(&t, &b), 0);
	assert_true(cspf_secret_equal(s, t));
	assert_true(cspf_secret_equal_bytes(t,
		"0123456789", 10) == false);
	cspf_secret_free(s);
	cspf_secret_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_open_close),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_sbuf),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
