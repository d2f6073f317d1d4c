/*
 * cspf_registry_load(): the registry in memory, as drift, rotate and
 * digest use it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cspf/registry.h"

#define EXAMPLE CSPF_TEST_SOURCE "/registry-example"

static void test_example(void **state)
{
	cspf_registry *reg = NULL;
	const cspf_entity *e, *prev = NULL;
	size_t i, accounts = 0, creds = 0, assets = 0, teams = 0;

	(void)state;
	assert_int_equal(cspf_registry_load(&reg, EXAMPLE, NULL), 0);
	assert_int_equal(cspf_registry_skipped(reg), 0);
	for (i = 0; (e = cspf_registry_entity(reg, i)) != NULL; i++) {
		if (prev)
			assert_true(strcmp(prev->id, e->id) < 0);
		prev = e;
		accounts += e->kind == CSPF_KIND_ACCOUNT;
		creds += e->kind == CSPF_KIND_CREDENTIALS;
		assets += e->kind == CSPF_KIND_ASSET;
		teams += e->kind == CSPF_KIND_TEAM;
	}
	assert_int_equal(i, cspf_registry_count(reg));
	assert_int_equal(accounts, 4);
	assert_int_equal(teams, 4);
	assert_true(creds >= 10);
	assert_true(assets >= 20);

	e = cspf_registry_find(reg,
		"credentials/aws/security-ops#svc-security-scanner");
	assert_non_null(e);
	assert_int_equal(e->kind, CSPF_KIND_CREDENTIALS);
	assert_string_equal(e->path, "credentials/aws/security-ops.json");
	assert_string_equal(e->pointer, "/credentials/1");
	assert_string_equal(cJSON_GetObjectItem(e->json, "username")
				    ->valuestring, "svc-security-scanner");

	e = cspf_registry_find(reg, "assets/bucket/ledger-backups");
	assert_non_null(e);
	assert_string_equal(e->asset_kind, "bucket");
	assert_string_equal(e->pointer, "");
	assert_null(cspf_registry_find(reg, "assets/bucket/nope"));
	assert_null(e->provider);

	/* Accounts by their cloud id; the provider from the field or the
	 * folder (security-sandbox.json has no "provider"). */
	e = cspf_registry_find_account(reg, "499701123456");
	assert_non_null(e);
	assert_string_equal(e->id, "accounts/aws/security-sandbox");
	assert_string_equal(e->provider, "aws");
	e = cspf_registry_find_account(reg,
		"3F2B8C4E-9A1D-4E6F-8B2A-5C7D9E0F1A2B");
	assert_non_null(e);
	assert_string_equal(e->provider, "azure");
	assert_null(cspf_registry_find_account(reg, "000000000000"));
	assert_null(cspf_registry_find_account(reg, NULL));
	assert_non_null(cJSON_GetObjectItem(cspf_registry_config(reg),
		"providers"));
	cspf_registry_free(reg);
}

/* A file that does not parse is left out and counted, not fatal. */
static void test_broken_file(void **state)
{
	char dir[] = "/tmp/cspf-load.XXXXXX", p[256];
	cspf_registry *reg = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/teams", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/teams/a.json", dir);
	assert_non_null(f = fopen(p, "w"));
	fputs("{\"name\": \"a\"", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/teams/b.json", dir);
	assert_non_null(f = fopen(p, "w"));
	fputs("{\"name\": \"b\"}", f);
	fclose(f);
	assert_int_equal(cspf_registry_load(&reg, dir, NULL), 0);
	assert_int_equal(cspf_registry_skipped(reg), 1);
	assert_int_equal(cspf_registry_count(reg), 1);
	assert_string_equal(cspf_registry_entity(reg, 0)->id, "teams/b");
	cspf_registry_free(reg);
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);

	assert_true(cspf_registry_load(&reg, "/nonexistent/registry",
			    NULL) < 0);
	assert_null(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_broken_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
