/*
 * The azure-key-vault backend against the Azure emulator
 * (tests/emulators/test_azure_rotation.sh starts it and sets the
 * environment); skipped without it:
 *
 *   CSPF_TEST_AZURE_KV_CONFIG  the vault's configuration (JSON)
 *   CSPF_TEST_AZURE_BASE       the emulator's https://127.0.0.1:PORT
 *   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
 *   AZURE_AUTHORITY_HOST, CURL_CA_BUNDLE
 *
 * What a user would check: paths that cannot be Key Vault names are
 * refused; current/pending/previous through put, stage, promote and
 * discard, each repeated; consumers (GET of the latest version) never see
 * a pending value; a promote that died half-way is finished by the next;
 * the rotation record's compare-and-swap.
 *
 * With arguments it is a helper for the concurrency test of the shell
 * script, not a test:
 *   test_azure_kv record-get PATH          prints the tag (or "none")
 *   test_azure_kv record-put PATH TAG|none RECORD
 *       prints "won NEWTAG" (exit 0) or "conflict" (exit 3)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cspf/http.h"
#include "cspf/vault.h"

static cspf_vault *V;
static char P[64]; /* a fresh path per run */

static cspf_vault *open_vault(unsigned int attempts)
{
	const char *conf = getenv("CSPF_TEST_AZURE_KV_CONFIG");
	cspf_vault_options o = CSPF_VAULT_OPTIONS_INIT;
	cJSON *c = conf ? cJSON_Parse(conf) : NULL;
	cspf_vault *v = NULL;
	int r;

	o.max_attempts = attempts;
	r = cspf_vault_open(&v, "test-kv", c, &o);
	if (r < 0)
		fprintf(stderr, "open: %s\n", cspf_error_last()->message);
	cJSON_Delete(c);
	return v;
}

static cspf_secret *S(const char *s)
{
	cspf_secret *x = NULL;

	assert_int_equal(cspf_secret_new(&x, s, strlen(s)), 0);
	return x;
}

/* The value labelled `l` equals `want` (NULL: there is none). */
static void expect_label(const char *path, cspf_vault_label l,
	const char *want, const char *rotation, const char *key_id)
{
	cspf_secret *v = NULL;
	cspf_vault_version info;
	int r = cspf_vault_get(&v, &info, V, path, l);

	if (!want) {
		assert_int_equal(r, CSPF_ENOTFOUND);
		return;
	}
	if (r < 0)
		fprintf(stderr, "get %s: %s\n", cspf_vault_label_name(l),
			cspf_error_last()->message);
	assert_int_equal(r, 0);
	assert_true(cspf_secret_equal_bytes(v, want, strlen(want)));
	if (rotation)
		assert_string_equal(info.rotation_id, rotation);
	if (key_id)
		assert_string_equal(info.key_id, key_id);
	assert_non_null(info.version);
	assert_true(info.created > 0);
	cspf_vault_version_dispose(&info);
	cspf_secret_free(v);
}

static int emulator_faults(const char *json)
{
	cspf_http_client *c = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	char url[512];
	int r;

	snprintf(url, sizeof(url), "%s/_emulator/faults",
		getenv("CSPF_TEST_AZURE_BASE"));
	if ((r = cspf_http_new(&c, NULL)) < 0 ||
	    (r = cspf_http_request_new(&req, "POST", url)) < 0 ||
	    (r = cspf_http_request_set_body(req, json, strlen(json))) < 0 ||
	    (r = cspf_http_perform(&resp, c, req)) < 0)
		goto done;
	r = cspf_http_response_status(resp) == 200 ? 0 : -1;
done:
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	cspf_http_free(c);
	return r;
}

static void test_paths(void **state)
{
	static const char *bad[] = { "a//b", "a--b", "-a", "a-", "a_b",
		"a/b.c", "x/cspf-pending", "cspf-record", "/a", "a/",
		"Ünïcode", NULL };
	char longp[200];
	cspf_secret *v = S("x");
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		assert_int_equal(cspf_vault_put(V, bad[i], v, NULL),
			CSPF_EINVALID);
		assert_non_null(strstr(cspf_error_last()->message, bad[i]));
	}
	memset(longp, 'a', 113);
	longp[113] = '\0';
	assert_int_equal(cspf_vault_put(V, longp, v, NULL), CSPF_EINVALID);
	cspf_secret_free(v);
}

static void test_labels(void **state)
{
	const char *odd = "quote\" back\\slash\nnewline \x01 é";
	cspf_secret *a = S("value-a"), *b = S(odd), *p1 = S("pending-1"),
		    *p1b = S("pending-1-again"), *p2 = S("pending-2");
	(void)state;
	expect_label(P, CSPF_VAULT_CURRENT, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_put(V, P, a, "key-a"), 0);
	expect_label(P, CSPF_VAULT_CURRENT, "value-a", NULL, "key-a");
	expect_label(P, CSPF_VAULT_PREVIOUS, NULL, NULL, NULL);
	expect_label(P, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_put(V, P, b, "key-b"), 0);
	expect_label(P, CSPF_VAULT_CURRENT, odd, NULL, "key-b");
	expect_label(P, CSPF_VAULT_PREVIOUS, "value-a", NULL, "key-a");

	/* stage: consumers still read current; staging again is a no-op */
	assert_int_equal(cspf_vault_stage(V, P, "rot-00000001", p1, "key-p1"),
		0);
	expect_label(P, CSPF_VAULT_CURRENT, odd, NULL, "key-b");
	expect_label(P, CSPF_VAULT_PENDING, "pending-1", "rot-00000001",
		"key-p1");
	assert_int_equal(cspf_vault_stage(V, P, "rot-00000001", p1b,
				 "key-p1b"), 0);
	expect_label(P, CSPF_VAULT_PENDING, "pending-1", "rot-00000001",
		"key-p1");

	/* promote, twice */
	assert_int_equal(cspf_vault_promote(V, P, "rot-00000009"),
		CSPF_ENOTFOUND);
	assert_int_equal(cspf_vault_promote(V, P, "rot-00000001"), 0);
	expect_label(P, CSPF_VAULT_CURRENT, "pending-1", "rot-00000001",
		"key-p1");
	expect_label(P, CSPF_VAULT_PREVIOUS, odd, NULL, "key-b");
	expect_label(P, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_promote(V, P, "rot-00000001"), 0);
	expect_label(P, CSPF_VAULT_CURRENT, "pending-1", "rot-00000001", NULL);
	expect_label(P, CSPF_VAULT_PREVIOUS, odd, NULL, NULL);

	/* discard, twice; a discarded rotation cannot be promoted */
	assert_int_equal(cspf_vault_stage(V, P, "rot-00000002", p2, NULL), 0);
	expect_label(P, CSPF_VAULT_PENDING, "pending-2", "rot-00000002", NULL);
	assert_int_equal(cspf_vault_discard(V, P, "rot-00000003"), 0);
	expect_label(P, CSPF_VAULT_PENDING, "pending-2", "rot-00000002", NULL);
	assert_int_equal(cspf_vault_discard(V, P, "rot-00000002"), 0);
	expect_label(P, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	assert_int_equal(cspf_vault_discard(V, P, "rot-00000002"), 0);
	assert_int_equal(cspf_vault_promote(V, P, "rot-00000002"),
		CSPF_ENOTFOUND);
	expect_label(P, CSPF_VAULT_CURRENT, "pending-1", "rot-00000001", NULL);

	cspf_secret_free(a);
	cspf_secret_free(b);
	cspf_secret_free(p1);
	cspf_secret_free(p1b);
	cspf_secret_free(p2);
}

/* A promote whose last step (disabling the companion) fails, resumed. */
static void test_promote_resumed(void **state)
{
	cspf_vault *v2 = open_vault(1);
	cspf_secret *p3 = S("pending-3");
	char path[80];
	int r;

	(void)state;
	assert_non_null(v2);
	snprintf(path, sizeof(path), "%s/resume", P);
	assert_int_equal(cspf_vault_put(V, path, p3, NULL), 0);
	assert_int_equal(cspf_vault_stage(v2, path, "rot-00000003", p3, "k3"),
		0);
	assert_int_equal(emulator_faults(
		"{\"fail_route\":{\"kv.update\":{\"count\":5,\"status\":500}}}"), 0);
	r = cspf_vault_promote(v2, path, "rot-00000003");
	assert_int_equal(emulator_faults("{}"), 0);
	assert_true(r < 0);
	/* The value is current already; the companion still enabled. */
	expect_label(path, CSPF_VAULT_CURRENT, "pending-3", "rot-00000003",
		"k3");
	expect_label(path, CSPF_VAULT_PENDING, "pending-3", "rot-00000003",
		"k3");
	assert_int_equal(cspf_vault_promote(v2, path, "rot-00000003"), 0);
	expect_label(path, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	expect_label(path, CSPF_VAULT_CURRENT, "pending-3", "rot-00000003",
		"k3");
	cspf_secret_free(p3);
	cspf_vault_free(v2);
}

static void test_record(void **state)
{
	char *rec = NULL, *tag = NULL, *t1 = NULL, *t2 = NULL;

	(void)state;
	assert_int_equal(cspf_vault_record_get(&rec, &tag, V, P),
		CSPF_ENOTFOUND);
	assert_int_equal(cspf_vault_record_put(V, P, "{\"n\":1}", NULL, &t1),
		0);
	assert_non_null(t1);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, V, P), 0);
	assert_string_equal(rec, "{\"n\":1}");
	assert_string_equal(tag, t1);
	free(rec);
	free(tag);
	/* "only if there is no record yet": there is one */
	assert_int_equal(cspf_vault_record_put(V, P, "{\"n\":9}", NULL, NULL),
		CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_put(V, P, "{\"n\":2}", t1, &t2), 0);
	/* a stale tag */
	assert_int_equal(cspf_vault_record_put(V, P, "{\"n\":8}", t1, NULL),
		CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_put(V, P, "{\"n\":7}", "0123",
				 NULL), CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, V, P), 0);
	assert_string_equal(rec, "{\"n\":2}");
	assert_string_equal(tag, t2);
	free(rec);
	free(tag);
	free(t1);
	free(t2);
}

static int helper(int argc, char **argv)
{
	char *rec = NULL, *tag = NULL;
	int r;

	if (!(V = open_vault(0)))
		return 2;
	if (!strcmp(argv[1], "record-get") && argc == 3) {
		r = cspf_vault_record_get(&rec, &tag, V, argv[2]);
		if (r == CSPF_ENOTFOUND) {
			printf("none\n");
			r = 0;
		} else if (r == 0) {
			printf("%s %s\n", tag, rec);
		}
	} else if (!strcmp(argv[1], "record-put") && argc == 5) {
		r = cspf_vault_record_put(V, argv[2], argv[4],
			strcmp(argv[3], "none") ? argv[3] : NULL, &tag);
		if (r == 0)
			printf("won %s\n", tag);
		else if (r == CSPF_ECONFLICT)
			printf("conflict\n");
		if (r == CSPF_ECONFLICT)
			r = 3;
	} else {
		fprintf(stderr, "usage: record-get PATH | record-put PATH TAG RECORD\n");
		r = 2;
	}
	if (r < 0 && r != 3)
		fprintf(stderr, "%s\n", cspf_error_last()->message);
	free(rec);
	free(tag);
	cspf_vault_free(V);
	return r < 0 ? 1 : r;
}

static int setup(void **state)
{
	(void)state;
	if (!getenv("CSPF_TEST_AZURE_KV_CONFIG") ||
	    !getenv("CSPF_TEST_AZURE_BASE"))
		return 0;
	V = open_vault(2);
	return V ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cspf_vault_free(V);
	return 0;
}

#define NEED_EMULATOR()                                                     \
	do {                                                                \
		if (!V) {                                                   \
			fprintf(stderr, "SKIP: no Azure emulator (run by tests/emulators/test_azure_rotation.sh)\n"); \
			skip();                                             \
		}                                                           \
	} while (0)

static void t_paths(void **s)
{
	NEED_EMULATOR();
	test_paths(s);
}

static void t_labels(void **s)
{
	NEED_EMULATOR();
	test_labels(s);
}

static void t_resume(void **s)
{
	NEED_EMULATOR();
	test_promote_resumed(s);
}

static void t_record(void **s)
{
	NEED_EMULATOR();
	test_record(s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_paths),
		cmocka_unit_test(t_labels),
		cmocka_unit_test(t_resume),
		cmocka_unit_test(t_record),
	};

	if (argc > 1)
		return helper(argc, argv);
	snprintf(P, sizeof(P), "unit/kv-%ld", (long)time(NULL));
	return cmocka_run_group_tests(tests, setup, teardown);
}
