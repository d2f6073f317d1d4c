/*
 * Checks of a vault backend through cspf/vault.h, against the vault whose
 * JSON configuration is in CSPF_TEST_VAULT_CONFIG (tests/emulators/
 * test_vault_hashicorp.sh runs them against the Vault emulator).  Without
 * it every test is skipped.  Each run works under a fresh random prefix.
 *
 * With arguments it is a small driver for that shell test, one operation
 * per run (a value to write is read from standard input, never argv):
 *
 *   put PATH [KEY_ID]          stage PATH ROTATION [KEY_ID]
 *   promote PATH ROTATION      discard PATH ROTATION
 *   get PATH LABEL [--value]   record-get PATH
 *   record-put PATH TAG|-      (the record on standard input)
 *
 * Exit 0 done, 3 not found, 4 conflict, 1 any other error (message on
 * stderr).  CSPF_TEST_VAULT_MAX_ATTEMPTS sets the attempts per call.
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

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "cspf/vault.h"

static char prefix[64];

static int open_vault(cspf_vault **out)
{
	cspf_vault_options opts = CSPF_VAULT_OPTIONS_INIT;
	const char *cfg = getenv("CSPF_TEST_VAULT_CONFIG");
	const char *att = getenv("CSPF_TEST_VAULT_MAX_ATTEMPTS");
	cJSON *j;
	int rc;

	*out = NULL;
	if (!cfg || !*cfg)
		return 1;
	if (!(j = cJSON_Parse(cfg))) {
		fprintf(stderr, "CSPF_TEST_VAULT_CONFIG is not JSON\n");
		return -1;
	}
	if (att)
		opts.max_attempts = (unsigned int)strtoul(att, NULL, 10);
	rc = cspf_vault_open(out, "test", j, &opts);
	cJSON_Delete(j);
	if (rc < 0)
		fprintf(stderr, "open: %s\n", cspf_error_last()->message);
	return rc;
}

static int setup(void **state)
{
	cspf_vault *v;
	int rc = open_vault(&v);

	if (rc == 1) {
		fprintf(stderr, "CSPF_TEST_VAULT_CONFIG is not set: skipped\n");
		*state = NULL;
		return 0;
	}
	*state = v;
	return rc < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	cspf_vault_free(*state);
	return 0;
}

/* The vault, or the test is skipped when none is configured. */
static cspf_vault *VAULT(void **state)
{
	if (!*state)
		skip();
	return *state;
}

static cspf_secret *S(const char *s)
{
	cspf_secret *x = NULL;

	assert_int_equal(cspf_secret_new(&x, s, strlen(s)), 0);
	return x;
}

static const char *P(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", prefix, name);
	return buf[i];
}

/* The value and facts of `label`, checked against what is expected. */
static void expect(cspf_vault *v, const char *path, cspf_vault_label label,
	const char *value, const char *rotation, const char *key_id)
{
	cspf_secret *got = NULL;
	cspf_vault_version info;
	int rc = cspf_vault_get(&got, &info, v, path, label);

	if (!value) {
		assert_int_equal(rc, CSPF_ENOTFOUND);
		assert_null(got);
		return;
	}
	if (rc < 0)
		fail_msg("get %s %s: %s", path, cspf_vault_label_name(label),
			cspf_error_last()->message);
	assert_true(cspf_secret_equal_bytes(got, value, strlen(value)));
	assert_non_null(info.version);
	if (rotation)
		assert_string_equal(info.rotation_id, rotation);
	else
		assert_null(info.rotation_id);
	if (key_id)
		assert_string_equal(info.key_id, key_id);
	else
		assert_null(info.key_id);
	assert_true(info.created > 1500000000);
	cspf_secret_free(got);
	cspf_vault_version_dispose(&info);
}

static char *version_of(cspf_vault *v, const char *path,
	cspf_vault_label label)
{
	cspf_vault_version info;
	char *out;

	assert_int_equal(cspf_vault_get(NULL, &info, v, path, label), 0);
	out = strdup(info.version);
	cspf_vault_version_dispose(&info);
	return out;
}

static void test_put_get(void **state)
{
	cspf_vault *v = VAULT(state);
	const char *p = P("put/db");
	cspf_secret *a = S("first \"value\"\n\\ é"), *b = S("second");
	char *v1, *v2;

	expect(v, p, CSPF_VAULT_CURRENT, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_put(v, p, a, "AKIAFIRST"), 0);
	expect(v, p, CSPF_VAULT_CURRENT, "first \"value\"\n\\ é", NULL,
		"AKIAFIRST");
	expect(v, p, CSPF_VAULT_PREVIOUS, NULL, NULL, NULL);
	v1 = version_of(v, p, CSPF_VAULT_CURRENT);
	/* Repeated: no new version. */
	assert_int_equal(cspf_vault_put(v, p, a, "AKIAFIRST"), 0);
	v2 = version_of(v, p, CSPF_VAULT_CURRENT);
	assert_string_equal(v1, v2);
	free(v2);
	assert_int_equal(cspf_vault_put(v, p, b, NULL), 0);
	expect(v, p, CSPF_VAULT_CURRENT, "second", NULL, NULL);
	expect(v, p, CSPF_VAULT_PREVIOUS, "first \"value\"\n\\ é", NULL,
		"AKIAFIRST");
	v2 = version_of(v, p, CSPF_VAULT_CURRENT);
	assert_string_not_equal(v1, v2);
	free(v1);
	free(v2);
	cspf_secret_free(a);
	cspf_secret_free(b);
}

static void test_rotation(void **state)
{
	cspf_vault *v = VAULT(state);
	const char *p = P("rot/db");
	const char *r1 = "rot-0001-aaaa", *r2 = "rot-0002-bbbb";
	cspf_secret *old = S("old-password"), *n1 = S("new-password-1");
	cspf_secret *n2 = S("new-password-2");
	char *pv1, *pv2;

	assert_int_equal(cspf_vault_put(v, p, old, "key-old"), 0);
	assert_int_equal(cspf_vault_promote(v, p, r1), CSPF_ENOTFOUND);
	assert_int_equal(cspf_vault_stage(v, p, r1, n1, "key-1"), 0);
	expect(v, p, CSPF_VAULT_PENDING, "new-password-1", r1, "key-1");
	/* Current is untouched while staged. */
	expect(v, p, CSPF_VAULT_CURRENT, "old-password", NULL, "key-old");
	/* Staging the same rotation again changes nothing. */
	pv1 = version_of(v, p, CSPF_VAULT_PENDING);
	assert_int_equal(cspf_vault_stage(v, p, r1, n2, "key-x"), 0);
	pv2 = version_of(v, p, CSPF_VAULT_PENDING);
	assert_string_equal(pv1, pv2);
	free(pv1);
	free(pv2);
	expect(v, p, CSPF_VAULT_PENDING, "new-password-1", r1, "key-1");

	assert_int_equal(cspf_vault_promote(v, p, r1), 0);
	expect(v, p, CSPF_VAULT_CURRENT, "new-password-1", r1, "key-1");
	expect(v, p, CSPF_VAULT_PREVIOUS, "old-password", NULL, "key-old");
	expect(v, p, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	/* Promoting again: already current. */
	assert_int_equal(cspf_vault_promote(v, p, r1), 0);
	expect(v, p, CSPF_VAULT_CURRENT, "new-password-1", r1, "key-1");
	expect(v, p, CSPF_VAULT_PREVIOUS, "old-password", NULL, "key-old");

	/* A second rotation, discarded. */
	assert_int_equal(cspf_vault_stage(v, p, r2, n2, NULL), 0);
	expect(v, p, CSPF_VAULT_PENDING, "new-password-2", r2, NULL);
	assert_int_equal(cspf_vault_discard(v, p, r1), 0);
	expect(v, p, CSPF_VAULT_PENDING, "new-password-2", r2, NULL);
	assert_int_equal(cspf_vault_discard(v, p, r2), 0);
	expect(v, p, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_discard(v, p, r2), 0);
	assert_int_equal(cspf_vault_promote(v, p, r2), CSPF_ENOTFOUND);
	expect(v, p, CSPF_VAULT_CURRENT, "new-password-1", r1, "key-1");

	/* Staged again after the discard, promoted. */
	assert_int_equal(cspf_vault_stage(v, p, r2, n2, "key-2"), 0);
	assert_int_equal(cspf_vault_promote(v, p, r2), 0);
	expect(v, p, CSPF_VAULT_CURRENT, "new-password-2", r2, "key-2");
	expect(v, p, CSPF_VAULT_PREVIOUS, "new-password-1", r1, "key-1");

	/* A first rotation of a secret that had no value. */
	assert_int_equal(cspf_vault_stage(v, P("rot/fresh"), r1, n1, NULL), 0);
	expect(v, P("rot/fresh"), CSPF_VAULT_CURRENT, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_promote(v, P("rot/fresh"), r1), 0);
	expect(v, P("rot/fresh"), CSPF_VAULT_CURRENT, "new-password-1", r1,
		NULL);
	expect(v, P("rot/fresh"), CSPF_VAULT_PREVIOUS, NULL, NULL, NULL);
	cspf_secret_free(old);
	cspf_secret_free(n1);
	cspf_secret_free(n2);
}

static void test_record(void **state)
{
	cspf_vault *v = VAULT(state);
	const char *p = P("rec/db");
	const char *doc1 = "{\"state\":\"claimed\",\"note\":\"a \\\"q\\\"\"}";
	char *rec = NULL, *tag = NULL, *t1 = NULL, *t2 = NULL;
	char big[CSPF_VAULT_RECORD_MAX + 1];

	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p),
		CSPF_ENOTFOUND);
	assert_int_equal(cspf_vault_record_put(v, p, doc1, NULL, &t1), 0);
	assert_non_null(t1);
	assert_int_equal(cspf_vault_record_put(v, p, "{}", NULL, NULL),
		CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, doc1);
	assert_string_equal(tag, t1);
	free(rec);
	free(tag);
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cspf_vault_record_put(v, p, big, t1, &t2), 0);
	assert_string_not_equal(t1, t2);
	/* The stale tag loses. */
	assert_int_equal(cspf_vault_record_put(v, p, "{}", t1, NULL),
		CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, big);
	assert_string_equal(tag, t2);
	free(rec);
	free(tag);
	free(t1);
	free(t2);
}

static void test_hashicorp_paths(void **state)
{
	cspf_vault *v = VAULT(state);
	cspf_secret *x = S("x");

	if (strcmp(cspf_vault_type(v), "hashicorp"))
		skip();
	assert_int_equal(cspf_vault_put(v, "_cspf/pending/a", x, NULL),
		CSPF_EINVALID);
	assert_int_equal(cspf_vault_put(v, "a//b", x, NULL), CSPF_EINVALID);
	assert_int_equal(cspf_vault_put(v, "a/../b", x, NULL), CSPF_EINVALID);
	cspf_secret_free(x);
}

/*
 * The driver.
 */

static int read_stdin(cspf_secret **out)
{
	unsigned char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf), stdin);
	int rc;

	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	rc = cspf_secret_new(out, buf, n);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int exit_for(int rc)
{
	if (rc == 0)
		return 0;
	fprintf(stderr, "%s\n", cspf_error_last()->message);
	return rc == CSPF_ENOTFOUND ? 3 : rc == CSPF_ECONFLICT ? 4 : 1;
}

static int drive(int argc, char **argv)
{
	cspf_vault *v = NULL;
	cspf_secret *val = NULL;
	const char *op = argv[1], *path = argc > 2 ? argv[2] : "";
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: see the top of test_hashicorp.c\n");
		return 2;
	}
	if ((rc = open_vault(&v)) != 0)
		return rc == 1 ? 2 : exit_for(rc);
	if (!strcmp(op, "put")) {
		if ((rc = read_stdin(&val)) == 0)
			rc = cspf_vault_put(v, path, val,
				argc > 3 ? argv[3] : NULL);
	} else if (!strcmp(op, "stage") && argc > 3) {
		if ((rc = read_stdin(&val)) == 0)
			rc = cspf_vault_stage(v, path, argv[3], val,
				argc > 4 ? argv[4] : NULL);
	} else if (!strcmp(op, "promote") && argc > 3) {
		rc = cspf_vault_promote(v, path, argv[3]);
	} else if (!strcmp(op, "discard") && argc > 3) {
		rc = cspf_vault_discard(v, path, argv[3]);
	} else if (!strcmp(op, "get") && argc > 3) {
		cspf_vault_label label = !strcmp(argv[3], "pending") ?
			CSPF_VAULT_PENDING : !strcmp(argv[3], "previous") ?
			CSPF_VAULT_PREVIOUS : CSPF_VAULT_CURRENT;
		bool show = argc > 4 && !strcmp(argv[4], "--value");
		cspf_vault_version info;

		rc = cspf_vault_get(show ? &val : NULL, &info, v, path, label);
		if (rc == 0) {
			printf("version=%s rotation=%s key=%s\n", info.version,
				info.rotation_id ? info.rotation_id : "-",
				info.key_id ? info.key_id : "-");
			if (show) {
				const unsigned char *p;
				size_t n;

				if (cspf_secret_open(&p, &n, val) == 0) {
					printf("value=%.*s\n", (int)n,
						(const char *)p);
					cspf_secret_close(val);
				}
			}
			cspf_vault_version_dispose(&info);
		}
	} else if (!strcmp(op, "record-get")) {
		char *rec = NULL, *tag = NULL;

		rc = cspf_vault_record_get(&rec, &tag, v, path);
		if (rc == 0)
			printf("tag=%s\n%s\n", tag, rec);
		free(rec);
		free(tag);
	} else if (!strcmp(op, "record-put") && argc > 3) {
		char buf[CSPF_VAULT_RECORD_MAX + 2], *tag = NULL;
		size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);

		buf[n] = '\0';
		rc = cspf_vault_record_put(v, path, buf,
			strcmp(argv[3], "-") ? argv[3] : NULL, &tag);
		if (rc == 0)
			printf("tag=%s\n", tag);
		free(tag);
	} else {
		fprintf(stderr, "unknown operation %s\n", op);
		rc = 2;
	}
	cspf_secret_free(val);
	cspf_vault_free(v);
	return rc == 2 ? 2 : exit_for(rc);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_hashicorp_paths),
	};
	unsigned char rnd[8];
	size_t i;

	if (sodium_init() < 0)
		return 1;
	if (argc > 1)
		return drive(argc, argv);
	randombytes_buf(rnd, sizeof(rnd));
	i = (size_t)snprintf(prefix, sizeof(prefix), "cspf-test/");
	for (size_t k = 0; k < sizeof(rnd); k++)
		i += (size_t)snprintf(prefix + i, sizeof(prefix) - i, "%02x",
			rnd[k]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
