/*
 * The azure-app-secret rotator against the Azure emulator
 * (tests/emulators/test_azure_rotation.sh starts it and sets the
 * environment); skipped without it:
 *
 *   CSPF_TEST_AZURE_BASE        the emulator's https://127.0.0.1:PORT
 *   CSPF_TEST_AZURE_APP_ID      an application of its state
 *   CSPF_TEST_AZURE_OLD_KEY     the keyId of its secret made elsewhere
 *   CSPF_TEST_AZURE_PROPAGATION seconds before a new secret signs in
 *   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
 *   AZURE_AUTHORITY_HOST, CSPF_AZURE_GRAPH_URL, CURL_CA_BUNDLE
 *
 * The state is checked through the emulator's /_emulator/state, as a
 * user would look at the application's secrets in the portal.
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
#include "cspf/time.h"
#include "rotate/rotator.h"

static cspf_http_client *H;
static cJSON *CRED;
static cspf_rotator_ctx CTX;
static const cspf_rotator *R;

static void logline(void *payload, const char *fmt, ...)
{
	va_list ap;

	(void)payload;
	va_start(ap, fmt);
	fputs("rotator: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The application's passwordCredentials in the emulator's state. */
static cJSON *passwords(void)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	const char *app_id = getenv("CSPF_TEST_AZURE_APP_ID");
	char url[512];
	const char *body;
	size_t len;
	cJSON *doc, *app, *out = NULL;

	snprintf(url, sizeof(url), "%s/_emulator/state",
		getenv("CSPF_TEST_AZURE_BASE"));
	assert_int_equal(cspf_http_request_new(&req, "GET", url), 0);
	assert_int_equal(cspf_http_perform(&resp, H, req), 0);
	body = cspf_http_response_body(resp, &len);
	doc = cJSON_ParseWithLength(body, len);
	cJSON_ArrayForEach(app, cJSON_GetObjectItem(doc, "applications")) {
		const cJSON *id = cJSON_GetObjectItem(app, "appId");

		if (cJSON_IsString(id) && !strcmp(id->valuestring, app_id))
			out = cJSON_DetachItemFromObject(app,
				"passwordCredentials");
	}
	cJSON_Delete(doc);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	assert_non_null(out);
	return out;
}

/* The displayName of the password `key`, "" when it has none, NULL when
 * the application has no such password. */
static char *password_name(const char *key)
{
	cJSON *pw = passwords(), *p;
	char *out = NULL;

	cJSON_ArrayForEach(p, pw) {
		const cJSON *k = cJSON_GetObjectItem(p, "keyId");
		const cJSON *n = cJSON_GetObjectItem(p, "displayName");

		if (cJSON_IsString(k) && !strcmp(k->valuestring, key))
			out = strdup(cJSON_IsString(n) ? n->valuestring : "");
	}
	cJSON_Delete(pw);
	return out;
}

static bool has_password(const char *key)
{
	char *n = password_name(key);

	free(n);
	return n != NULL;
}

static int count_passwords(void)
{
	cJSON *pw = passwords();
	int n = cJSON_GetArraySize(pw);

	cJSON_Delete(pw);
	return n;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool ready(void)
{
	if (H)
		return true;
	fprintf(stderr, "SKIP: no Azure emulator (run by tests/emulators/test_azure_rotation.sh)\n");
	return false;
}

/* create → test → (promote in the vault) → retire → undo → cleanup. */
static void test_rotation(void **state)
{
	cspf_secret *v1 = NULL, *cs = NULL;
	char *k1 = NULL, *name;
	const char *old = getenv("CSPF_TEST_AZURE_OLD_KEY");
	const char *prop = getenv("CSPF_TEST_AZURE_PROPAGATION");
	const unsigned char *p;
	size_t n;
	double t0;
	cJSON *j;

	(void)state;
	if (!ready())
		skip();
	/* Nothing of cspf's yet: cleanup removes nothing. */
	assert_int_equal(R->cleanup(&CTX, old, NULL, NULL), 0);
	assert_true(has_password(old));

	CTX.rotation_id = "rot-az-00000001";
	assert_int_equal(R->create(&CTX, NULL, &v1, &k1), 0);
	assert_non_null(k1);
	name = password_name(k1);
	assert_non_null(name);
	assert_string_equal(name, "cspf rot-az-00000001");
	free(name);
	/* The value: {"client_id", "client_secret"}. */
	assert_int_equal(cspf_secret_open(&p, &n, v1), 0);
	j = cJSON_ParseWithLength((const char *)p, n);
	cspf_secret_close(v1);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "client_id")->valuestring,
		getenv("CSPF_TEST_AZURE_APP_ID"));
	assert_true(strlen(cJSON_GetObjectItem(j,
				   "client_secret")->valuestring) >= 16);
	cJSON_Delete(j);
	assert_int_equal(cspf_rotator_json_field(&cs, v1, "client_secret"), 0);
	cspf_secret_free(cs);

	assert_int_equal(R->set(&CTX, v1, NULL), 0);
	/* test waits for the propagation of the new secret */
	t0 = mono();
	if (R->test(&CTX, v1) < 0)
		fail_msg("test: %s", cspf_error_last()->message);
	if (prop && atof(prop) > 0)
		assert_true(mono() - t0 >= atof(prop) - 0.5);

	/* Retire the old secret: not final keeps it, final removes it. */
	assert_int_equal(R->retire(&CTX, NULL, old, false), 0);
	assert_true(has_password(old));
	assert_int_equal(R->retire(&CTX, NULL, old, true), 0);
	assert_false(has_password(old));
	assert_int_equal(R->retire(&CTX, NULL, old, true), 0);
	assert_true(has_password(k1));

	/* Undo of a second rotation removes its key only, twice. */
	{
		cspf_secret *v2 = NULL;
		char *k2 = NULL;

		CTX.rotation_id = "rot-az-00000002";
		assert_int_equal(R->create(&CTX, v1, &v2, &k2), 0);
		assert_true(has_password(k2));
		assert_int_equal(R->undo(&CTX, v1, v2, k2), 0);
		assert_false(has_password(k2));
		assert_int_equal(R->undo(&CTX, v1, v2, k2), 0);
		assert_true(has_password(k1));
		cspf_secret_free(v2);
		free(k2);
	}
	cspf_secret_free(v1);
	free(k1);
}

/*
 * A run that died between create and stage left a secret no version
 * holds: the next run's cleanup removes it, and nothing else.
 */
static void test_orphan(void **state)
{
	cspf_secret *cur = NULL, *orphan = NULL, *pend = NULL;
	char *kc = NULL, *ko = NULL, *kp = NULL;
	int before;

	(void)state;
	if (!ready())
		skip();
	/* The keys of the test before are no version's now. */
	assert_int_equal(R->cleanup(&CTX, NULL, NULL, NULL), 0);
	CTX.rotation_id = "rot-az-00000003";
	assert_int_equal(R->create(&CTX, NULL, &cur, &kc), 0);
	CTX.rotation_id = "rot-az-00000004";
	assert_int_equal(R->create(&CTX, cur, &pend, &kp), 0);
	CTX.rotation_id = "rot-az-00000005";
	assert_int_equal(R->create(&CTX, cur, &orphan, &ko), 0);
	/* ... and the run died here, before staging. */
	cspf_secret_free(orphan);
	before = count_passwords();
	CTX.rotation_id = "rot-az-00000006";
	assert_int_equal(R->cleanup(&CTX, kc, kp, NULL), 0);
	assert_false(has_password(ko));
	assert_true(has_password(kc));
	assert_true(has_password(kp));
	assert_int_equal(count_passwords(), before - 1);
	/* Idempotent. */
	assert_int_equal(R->cleanup(&CTX, kc, kp, NULL), 0);
	assert_int_equal(count_passwords(), before - 1);
	/* A previous key is spared as well; a run with kp current and kc
	 * previous leaves both. */
	assert_int_equal(R->cleanup(&CTX, kp, NULL, kc), 0);
	assert_true(has_password(kc));
	assert_true(has_password(kp));
	assert_int_equal(count_passwords(), before - 1);
	cspf_secret_free(cur);
	cspf_secret_free(pend);
	free(kc);
	free(ko);
	free(kp);
}

/* A secret that never signs in: test gives up after its bounded wait
 * with CSPF_EAUTH, and the error does not show the secret. */
static void test_refused(void **state)
{
	static const char bad[] = "{\"client_id\":\"x\",\"client_secret\":"
				  "\"canary-Never-Signs-In-8Q~zz\"}";
	cspf_secret *v = NULL;
	double t0;
	int r;

	(void)state;
	if (!ready())
		skip();
	setenv("CSPF_AZURE_TEST_WAIT_S", "2", 1);
	assert_int_equal(cspf_secret_new(&v, bad, strlen(bad)), 0);
	t0 = mono();
	r = R->test(&CTX, v);
	unsetenv("CSPF_AZURE_TEST_WAIT_S");
	assert_int_equal(r, CSPF_EAUTH);
	assert_true(mono() - t0 < 30);
	assert_null(strstr(cspf_error_last()->message, "canary"));
	assert_non_null(strstr(cspf_error_last()->message, "invalid_client"));
	cspf_secret_free(v);
}

/* Bad identities are refused before any call. */
static void test_identity(void **state)
{
	cspf_rotator_ctx c = CTX;
	cJSON *cred;
	cspf_secret *v = NULL;
	char *k = NULL;

	(void)state;
	/* No call is made: this runs without the emulator too. */
	cred = cJSON_Parse("{\"identity\":{\"type\":\"azure-app\","
			   "\"app_id\":\"x' or 1 eq 1\"}}");
	c.credential_id = "credentials/azure/test#bad";
	c.credential = cred;
	assert_int_equal(R->create(&c, NULL, &v, &k), CSPF_EINVALID);
	assert_null(v);
	assert_non_null(strstr(cspf_error_last()->message, "app_id"));
	cJSON_Delete(cred);
}

static int setup(void **state)
{
	const char *app = getenv("CSPF_TEST_AZURE_APP_ID");
	char doc[512];

	(void)state;
	R = cspf_rotator_find("azure-app-secret");
	if (!R || !R->provider_creates)
		return -1;
	if (!getenv("CSPF_TEST_AZURE_BASE") || !app)
		return 0;
	snprintf(doc, sizeof(doc),
		"{\"identity\":{\"type\":\"azure-app\",\"app_id\":\"%s\","
		"\"tenant_id\":\"%s\"},\"rotation\":{\"max_age\":\"P90D\","
		"\"rotator\":\"azure-app-secret\"}}",
		app, getenv("AZURE_TENANT_ID"));
	if (!(CRED = cJSON_Parse(doc)) || cspf_http_new(&H, NULL) < 0)
		return -1;
	CTX.credential_id = "credentials/azure/test#app";
	CTX.credential = CRED;
	CTX.now = (int64_t)time(NULL);
	CTX.http = H;
	CTX.log = logline;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cspf_http_free(H);
	cJSON_Delete(CRED);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_orphan),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
