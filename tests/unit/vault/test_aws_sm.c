/*
 * The aws-secrets-manager vault against the AWS emulator
 * (tests/emulators/test_aws_rotation.sh starts it and sets
 * CSPF_TEST_AWS_ENDPOINT and the credentials): every operation of
 * cspf/vault.h, their idempotent repeats, the labels as AWS keeps them
 * (checked through the vault and through the emulator's own state), the
 * rotation record's compare-and-swap, and no value in any error.
 * Without CSPF_TEST_AWS_ENDPOINT every test is skipped.
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

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cspf/secret.h"
#include "cspf/vault.h"

static const char *endpoint;
static cspf_vault *vault;
static char prefix[64];

static const char CANARY1[] = "canary-value-one-7f3a9c2e";
static const char CANARY2[] = "canary-value-two-\"quoted\"\\slash\n";
static const char CANARY3[] = "canary-value-three-b81d44";

static int before(void **state)
{
	cJSON *cfg;

	(void)state;
	if (!endpoint)
		return 0;
	cfg = cJSON_CreateObject();
	cJSON_AddStringToObject(cfg, "type", "aws-secrets-manager");
	cJSON_AddStringToObject(cfg, "region", "eu-west-1");
	cJSON_AddStringToObject(cfg, "endpoint_url", endpoint);
	cJSON_AddStringToObject(cfg, "prefix", prefix);
	if (cspf_vault_open(&vault, "sm", cfg, NULL) < 0)
		fail_msg("open: %s", cspf_error_last()->message);
	cJSON_Delete(cfg);
	return 0;
}

static int after(void **state)
{
	(void)state;
	cspf_vault_free(vault);
	vault = NULL;
	return 0;
}

#define NEED_EMULATOR() \
	do { \
		if (!endpoint) \
			skip(); \
	} while (0)

static cspf_secret *sec(const char *s)
{
	cspf_secret *out;

	assert_int_equal(cspf_secret_new(&out, s, strlen(s)), 0);
	return out;
}

/* A call that must succeed; its error, if not. */
#define OK(call) \
	do { \
		int rc_ = (call); \
		if (rc_ < 0) \
			fail_msg("%s: %d: %s", #call, rc_, \
				cspf_error_last()->message); \
	} while (0)

/* No canary in the last error. */
static void clean_error(void)
{
	const cspf_error *e = cspf_error_last();

	if (!e || !e->message)
		return;
	assert_null(strstr(e->message, "canary-value"));
}

/* The value labelled `label` is `want` (NULL: there is none). */
static void expect(const char *path, cspf_vault_label label,
	const char *want, const char *rotation_id, const char *key_id)
{
	cspf_vault_version info;
	cspf_secret *v = NULL;
	int rc;

	rc = cspf_vault_get(&v, &info, vault, path, label);
	if (!want) {
		assert_int_equal(rc, CSPF_ENOTFOUND);
		clean_error();
		return;
	}
	if (rc < 0)
		fail_msg("get %s %s: %s", path, cspf_vault_label_name(label),
			cspf_error_last()->message);
	assert_true(cspf_secret_equal_bytes(v, want, strlen(want)));
	assert_non_null(info.version);
	if (rotation_id)
		assert_string_equal(info.rotation_id, rotation_id);
	else
		assert_null(info.rotation_id);
	if (key_id)
		assert_string_equal(info.key_id, key_id);
	else
		assert_null(info.key_id);
	assert_true(info.created > 1600000000);
	cspf_vault_version_dispose(&info);
	cspf_secret_free(v);
}

static void test_missing(void **state)
{
	char *r, *t;

	(void)state;
	NEED_EMULATOR();
	expect("nothing/here", CSPF_VAULT_CURRENT, NULL, NULL, NULL);
	OK(cspf_vault_discard(vault, "nothing/here",
		"rot-00000001"));
	assert_int_equal(cspf_vault_promote(vault, "nothing/here",
		"rot-00000001"), CSPF_ENOTFOUND);
	assert_int_equal(cspf_vault_record_get(&r, &t, vault, "nothing/here"),
		CSPF_ENOTFOUND);
}

static void test_rotation(void **state)
{
	cspf_secret *a, *b, *c;
	const char *p = "app/db";

	(void)state;
	NEED_EMULATOR();
	a = sec(CANARY1);
	b = sec(CANARY2);
	c = sec(CANARY3);
	/* put: current; put again: the old one becomes previous. */
	OK(cspf_vault_put(vault, p, a, "AKIAFIRSTKEY00000001"));
	expect(p, CSPF_VAULT_CURRENT, CANARY1, NULL, "AKIAFIRSTKEY00000001");
	expect(p, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	expect(p, CSPF_VAULT_PREVIOUS, NULL, NULL, NULL);

	/* stage: pending, current untouched; twice is once. */
	OK(cspf_vault_stage(vault, p, "rot-0001", b,
		"AKIASECONDKEY0000002"));
	OK(cspf_vault_stage(vault, p, "rot-0001", b,
		"AKIASECONDKEY0000002"));
	expect(p, CSPF_VAULT_CURRENT, CANARY1, NULL, "AKIAFIRSTKEY00000001");
	expect(p, CSPF_VAULT_PENDING, CANARY2, "rot-0001",
		"AKIASECONDKEY0000002");

	/* promote: current, the old one previous, pending gone; twice ok. */
	OK(cspf_vault_promote(vault, p, "rot-0001"));
	OK(cspf_vault_promote(vault, p, "rot-0001"));
	expect(p, CSPF_VAULT_CURRENT, CANARY2, "rot-0001",
		"AKIASECONDKEY0000002");
	expect(p, CSPF_VAULT_PREVIOUS, CANARY1, NULL, "AKIAFIRSTKEY00000001");
	expect(p, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	/* Staging the promoted rotation again changes nothing. */
	OK(cspf_vault_stage(vault, p, "rot-0001", b,
		"AKIASECONDKEY0000002"));
	expect(p, CSPF_VAULT_PENDING, NULL, NULL, NULL);

	/* A second rotation, discarded: its value is no longer readable. */
	OK(cspf_vault_stage(vault, p,
		"rot-0002-a-much-longer-rotation-id-than-32-chars", c, NULL));
	expect(p, CSPF_VAULT_PENDING, CANARY3,
		"rot-0002-a-much-longer-rotation-id-than-32-chars", NULL);
	OK(cspf_vault_discard(vault, p,
		"rot-0002-a-much-longer-rotation-id-than-32-chars"));
	OK(cspf_vault_discard(vault, p,
		"rot-0002-a-much-longer-rotation-id-than-32-chars"));
	expect(p, CSPF_VAULT_PENDING, NULL, NULL, NULL);
	expect(p, CSPF_VAULT_CURRENT, CANARY2, "rot-0001",
		"AKIASECONDKEY0000002");
	assert_int_equal(cspf_vault_promote(vault, p,
		"rot-0002-a-much-longer-rotation-id-than-32-chars"),
		CSPF_ENOTFOUND);
	clean_error();
	/* Discarding current is a no-op. */
	OK(cspf_vault_discard(vault, p, "rot-0001"));
	expect(p, CSPF_VAULT_CURRENT, CANARY2, "rot-0001",
		"AKIASECONDKEY0000002");

	/* The same rotation id with another value is refused. */
	OK(cspf_vault_stage(vault, p, "rot-0003", a, NULL));
	OK(cspf_vault_discard(vault, p, "rot-0003"));
	assert_int_equal(cspf_vault_stage(vault, p, "rot-0003", c, NULL),
		CSPF_ECONFLICT);
	clean_error();
	/* ... and with its own value it comes back as pending. */
	OK(cspf_vault_stage(vault, p, "rot-0003", a, NULL));
	expect(p, CSPF_VAULT_PENDING, CANARY1, "rot-0003", NULL);
	OK(cspf_vault_discard(vault, p, "rot-0003"));

	cspf_secret_free(a);
	cspf_secret_free(b);
	cspf_secret_free(c);
}

static void test_stage_new_secret(void **state)
{
	cspf_secret *a;
	const char *p = "fresh/secret";

	(void)state;
	NEED_EMULATOR();
	a = sec(CANARY1);
	/* Staged into a secret that did not exist: pending, not current. */
	OK(cspf_vault_stage(vault, p, "rot-new-1", a,
		"AKIANEWKEY0000000001"));
	expect(p, CSPF_VAULT_PENDING, CANARY1, "rot-new-1",
		"AKIANEWKEY0000000001");
	expect(p, CSPF_VAULT_CURRENT, NULL, NULL, NULL);
	OK(cspf_vault_promote(vault, p, "rot-new-1"));
	expect(p, CSPF_VAULT_CURRENT, CANARY1, "rot-new-1",
		"AKIANEWKEY0000000001");
	expect(p, CSPF_VAULT_PREVIOUS, NULL, NULL, NULL);
	cspf_secret_free(a);
}

static void test_record(void **state)
{
	char *r = NULL, *t = NULL, *t1 = NULL, *t2 = NULL;
	const char *p = "app/db";

	(void)state;
	NEED_EMULATOR();
	/* The first record: only one writer creates it. */
	OK(cspf_vault_record_put(vault, p, "{\"n\":1}", NULL,
		&t1));
	assert_non_null(t1);
	assert_int_equal(cspf_vault_record_put(vault, p, "{\"n\":9}", NULL,
		NULL), CSPF_ECONFLICT);
	OK(cspf_vault_record_get(&r, &t, vault, p));
	assert_string_equal(r, "{\"n\":1}");
	assert_string_equal(t, t1);
	free(r);
	/* Two writers read the same tag: the first wins, the second loses. */
	OK(cspf_vault_record_put(vault, p, "{\"n\":2}", t,
		&t2));
	assert_string_not_equal(t2, t1);
	assert_int_equal(cspf_vault_record_put(vault, p, "{\"n\":3}", t,
		NULL), CSPF_ECONFLICT);
	free(t);
	OK(cspf_vault_record_get(&r, &t, vault, p));
	assert_string_equal(r, "{\"n\":2}");
	assert_string_equal(t, t2);
	free(r);
	free(t);
	/* A tag that never was. */
	assert_int_equal(cspf_vault_record_put(vault, p, "{\"n\":4}",
		"00000000-0000-4000-8000-000000000000", NULL), CSPF_ECONFLICT);
	/* The record does not disturb the secret's own versions. */
	expect(p, CSPF_VAULT_CURRENT, CANARY2, "rot-0001",
		"AKIASECONDKEY0000002");
	free(t1);
	free(t2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing, before, after),
		cmocka_unit_test_setup_teardown(test_rotation, before, after),
		cmocka_unit_test_setup_teardown(test_stage_new_secret, before,
			after),
		cmocka_unit_test_setup_teardown(test_record, before, after),
	};

	endpoint = getenv("CSPF_TEST_AWS_ENDPOINT");
	if (!endpoint || !*endpoint) {
		endpoint = NULL;
		printf("note: CSPF_TEST_AWS_ENDPOINT is not set: the "
			"aws-secrets-manager vault tests are skipped (they run "
			"from tests/emulators/test_aws_rotation.sh)\n");
	}
	/* A prefix of its own per run: runs never see each other's secrets. */
	snprintf(prefix, sizeof(prefix), "t%ld/", (long)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
