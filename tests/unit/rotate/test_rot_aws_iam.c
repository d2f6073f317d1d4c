/*
 * The aws-iam-access-key rotator against the AWS emulator, in the order
 * the state machine calls it: cleanup, create, test (which must wait out
 * IAM's propagation delay), retire (deactivate, then delete), undo; the
 * two-key limit; the orphan a run leaves when it dies between create and
 * stage; the rotation role.  tests/emulators/test_aws_rotation.sh starts
 * the emulator and sets, besides cspf's own AWS credentials:
 *
 *   CSPF_TEST_AWS_ENDPOINT       the emulator's URL
 *   CSPF_TEST_AWS_ACCOUNT        the account of cspf's own key
 *   CSPF_TEST_AWS_USER           a user there with one key:
 *   CSPF_TEST_AWS_USER_KEY       its access key id
 *   CSPF_TEST_AWS_USER_SECRET    and secret (a test value)
 *   CSPF_TEST_AWS_ROLE_ACCOUNT   another account, with
 *   CSPF_TEST_AWS_ROLE           a role cspf may assume there, and
 *   CSPF_TEST_AWS_ROLE_USER      a user without keys.
 *
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
#include <time.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cspf/aws.h"
#include "cspf/http.h"
#include "rotate/rotator.h"

static const char *endpoint;
static const cspf_rotator *rot;
static cspf_http_client *http;
static char logbuf[1 << 16];
static size_t loglen;

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		fail_msg("%s is not set", name);
	return v;
}

static void logger(void *payload, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)payload;
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
	va_end(ap);
	if (n > 0 && loglen + (size_t)n + 2 < sizeof(logbuf)) {
		loglen += (size_t)n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
	fputs("log: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A context for `user` in `account`, with rotation_role `role`. */
struct fixture {
	cJSON *credential, *account, *config;
	cspf_rotator_ctx ctx;
};

static void fixture_init(struct fixture *f, const char *user,
	const char *account, const char *role)
{
	cJSON *id, *aws;

	memset(f, 0, sizeof(*f));
	f->credential = cJSON_CreateObject();
	id = cJSON_AddObjectToObject(f->credential, "identity");
	cJSON_AddStringToObject(id, "type", "aws-iam-user");
	cJSON_AddStringToObject(id, "user", user);
	f->account = cJSON_CreateObject();
	cJSON_AddStringToObject(f->account, "accountid", account);
	f->config = cJSON_CreateObject();
	aws = cJSON_AddObjectToObject(cJSON_AddObjectToObject(f->config,
		"providers"), "aws");
	cJSON_AddItemToObject(aws, "regions", cJSON_CreateStringArray(
		(const char *[]){ "eu-west-1" }, 1));
	cJSON_AddStringToObject(aws, "endpoint_url", endpoint);
	if (role)
		cJSON_AddStringToObject(aws, "rotation_role", role);
	f->ctx.credential_id = "credentials/aws/test#user";
	f->ctx.credential = f->credential;
	f->ctx.account = f->account;
	f->ctx.config = f->config;
	f->ctx.rotation_id = "rot-test-0001";
	f->ctx.now = (int64_t)time(NULL);
	f->ctx.http = http;
	f->ctx.log = logger;
}

static void fixture_dispose(struct fixture *f)
{
	cJSON_Delete(f->credential);
	cJSON_Delete(f->account);
	cJSON_Delete(f->config);
}

#define OK(call) \
	do { \
		int rc_ = (call); \
		if (rc_ < 0) \
			fail_msg("%s: %d: %s", #call, rc_, \
				cspf_error_last()->message); \
	} while (0)

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many keys (of `status`, NULL: any) IAM lists for `user`, asked
 * with cspf's credentials: the test checks IAM itself. */
static int count_keys(const char *user, const char *status)
{
	cspf_aws_credentials *creds = NULL;
	cspf_aws_service *iam = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cspf_aws_xml *doc = NULL;
	const cspf_aws_xml_node *m;
	int n = 0;
	char *s;

	OK(cspf_aws_credentials_resolve(&creds, http, NULL));
	OK(cspf_aws_service_new(&iam, "iam", "us-east-1", creds, endpoint));
	OK(cspf_aws_query_new(&req, iam, "ListAccessKeys", NULL));
	OK(cspf_http_request_set_form_param(req, "UserName", user));
	OK(cspf_http_perform(&resp, http, req));
	OK(cspf_aws_response_check(resp, 0, "ListAccessKeys"));
	OK(cspf_aws_xml_parse_response(&doc, resp));
	m = cspf_aws_xml_child(cspf_aws_xml_path(cspf_aws_xml_root(doc),
		"ListAccessKeysResult/AccessKeyMetadata"), "member");
	for (; m; m = cspf_aws_xml_next(m, "member")) {
		s = cspf_aws_xml_get(m, "Status");
		if (!status || (s && !strcmp(s, status)))
			n++;
		free(s);
	}
	cspf_aws_xml_free(doc);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	cspf_aws_service_free(iam);
	cspf_aws_credentials_free(creds);
	return n;
}

/* GetCallerIdentity signed with key `id`/`secret`: 0 or the error. */
static int whoami(const char *id, const char *secret)
{
	cspf_aws_credentials *c = NULL;
	cspf_aws_identity who;
	cspf_secret *s = NULL;
	int rc;

	OK(cspf_secret_new(&s, secret, strlen(secret)));
	OK(cspf_aws_credentials_new(&c, id, s, NULL, 0, "test"));
	rc = cspf_aws_get_caller_identity(&who, http, c, "eu-west-1",
		endpoint);
	cspf_aws_credentials_free(c);
	cspf_secret_free(s);
	return rc;
}

/* A field of a value, as a plain string (test only). */
static char *field(const cspf_secret *v, const char *name)
{
	cspf_secret *f = NULL;
	const unsigned char *p;
	const char *canary;
	size_t n;
	char *out;
	FILE *fp;

	OK(cspf_rotator_json_field(&f, v, name));
	assert_int_equal(cspf_secret_open(&p, &n, f), 0);
	out = strndup((const char *)p, n);
	cspf_secret_close(f);
	cspf_secret_free(f);
	/* The shell test looks for each secret in every output and log. */
	if (!strcmp(name, "secret_access_key") &&
		(canary = getenv("CSPF_TEST_CANARY_FILE")) &&
		(fp = fopen(canary, "a"))) {
		fprintf(fp, "%s\n", out);
		fclose(fp);
	}
	return out;
}

/* The last error and the log name no secret `s`. */
static void no_secret(const char *s)
{
	const cspf_error *e = cspf_error_last();

	assert_null(strstr(logbuf, s));
	if (e && e->message)
		assert_null(strstr(e->message, s));
}

#define NEED_EMULATOR() \
	do { \
		if (!endpoint) \
			skip(); \
	} while (0)

static void test_cycle(void **state)
{
	const char *user, *k0, *s0;
	struct fixture f;
	cspf_secret *v1 = NULL, *bad = NULL, *v2 = NULL;
	char *k1 = NULL, *k2 = NULL, *s1, *id1;
	char badjson[256];
	double t0, took;

	(void)state;
	NEED_EMULATOR();
	user = env("CSPF_TEST_AWS_USER");
	k0 = env("CSPF_TEST_AWS_USER_KEY");
	s0 = env("CSPF_TEST_AWS_USER_SECRET");
	fixture_init(&f, user, env("CSPF_TEST_AWS_ACCOUNT"), NULL);

	/* cleanup: the current key stays. */
	OK(rot->cleanup(&f.ctx, k0, NULL, NULL));
	assert_int_equal(count_keys(user, NULL), 1);

	/* create: a second key, its secret in the value. */
	OK(rot->create(&f.ctx, NULL, &v1, &k1));
	assert_non_null(k1);
	assert_int_equal(strncmp(k1, "AKIA", 4), 0);
	assert_int_equal(count_keys(user, "Active"), 2);
	id1 = field(v1, "access_key_id");
	assert_string_equal(id1, k1);
	s1 = field(v1, "secret_access_key");
	assert_true(strlen(s1) >= 16);
	no_secret(s1);

	/* set: nothing to do. */
	OK(rot->set(&f.ctx, v1, NULL));

	/* test: refused while IAM propagates, then accepted. */
	t0 = mono();
	OK(rot->test(&f.ctx, v1));
	took = mono() - t0;
	printf("test waited %.2f s for propagation\n", took);
	assert_true(took >= 1.0);
	no_secret(s1);

	/* test with a wrong secret fails at once: SignatureDoesNotMatch. */
	snprintf(badjson, sizeof(badjson),
		"{\"access_key_id\":\"%s\",\"secret_access_key\":\"%s\"}", k1,
		"wrongSecret/0000000000000000000000000000000");
	OK(cspf_secret_new(&bad, badjson, strlen(badjson)));
	t0 = mono();
	assert_int_equal(rot->test(&f.ctx, bad), CSPF_EAUTH);
	assert_non_null(strstr(cspf_error_last()->message,
		"SignatureDoesNotMatch"));
	assert_true(mono() - t0 < 5.0);
	no_secret(s1);

	/* retire: deactivate the old key (it stops working), then delete. */
	assert_int_equal(whoami(k0, s0), 0);
	OK(rot->retire(&f.ctx, NULL, k0, false));
	OK(rot->retire(&f.ctx, NULL, k0, false));
	assert_int_equal(count_keys(user, "Inactive"), 1);
	assert_int_equal(whoami(k0, s0), CSPF_EAUTH);
	OK(rot->retire(&f.ctx, NULL, k0, true));
	OK(rot->retire(&f.ctx, NULL, k0, true));
	OK(rot->retire(&f.ctx, NULL, k0, false));
	assert_int_equal(count_keys(user, NULL), 1);
	/* the new key still works */
	assert_int_equal(whoami(k1, s1), 0);

	/* undo: a pending key is deleted, twice is once. */
	OK(rot->create(&f.ctx, v1, &v2, &k2));
	assert_int_equal(count_keys(user, NULL), 2);
	OK(rot->undo(&f.ctx, v1, v2, k2));
	OK(rot->undo(&f.ctx, v1, v2, k2));
	OK(rot->undo(&f.ctx, v1, v2, NULL));
	assert_int_equal(count_keys(user, NULL), 1);
	assert_int_equal(whoami(k1, s1), 0);
	no_secret(s1);

	/* Leave the user with its new key only, for the next test. */
	setenv("CSPF_TEST_AWS_USER_KEY", k1, 1);
	setenv("CSPF_TEST_AWS_USER_SECRET", s1, 1);
	free(s1);
	free(id1);
	free(k1);
	free(k2);
	cspf_secret_free(v1);
	cspf_secret_free(v2);
	cspf_secret_free(bad);
	fixture_dispose(&f);
}

static void test_limit_and_orphan(void **state)
{
	const char *user, *k1;
	struct fixture f;
	cspf_secret *v2 = NULL, *v3 = NULL, *v4 = NULL;
	char *k2 = NULL, *k3 = NULL, *k4 = NULL, *s2;

	(void)state;
	NEED_EMULATOR();
	user = env("CSPF_TEST_AWS_USER");
	k1 = env("CSPF_TEST_AWS_USER_KEY");
	fixture_init(&f, user, env("CSPF_TEST_AWS_ACCOUNT"), NULL);
	assert_int_equal(count_keys(user, NULL), 1);

	/* A run creates k2 and dies before it stages it. */
	OK(rot->create(&f.ctx, NULL, &v2, &k2));
	s2 = field(v2, "secret_access_key");
	/* The next run: with two keys, create is refused, clearly. */
	assert_int_equal(rot->create(&f.ctx, NULL, &v3, &k3), CSPF_ETOOBIG);
	assert_null(v3);
	assert_null(k3);
	assert_non_null(strstr(cspf_error_last()->message, "LimitExceeded"));
	assert_non_null(strstr(cspf_error_last()->message, user));
	no_secret(s2);
	/* cleanup finds k2 in no vault version and deletes it. */
	OK(rot->cleanup(&f.ctx, k1, NULL, NULL));
	assert_int_equal(count_keys(user, NULL), 1);
	assert_non_null(strstr(logbuf, k2));
	/* Without a current key id, cleanup touches nothing. */
	OK(rot->create(&f.ctx, NULL, &v3, &k3));
	OK(rot->cleanup(&f.ctx, NULL, NULL, NULL));
	assert_int_equal(count_keys(user, NULL), 2);
	/* cleanup spares current, pending and previous. */
	OK(rot->cleanup(&f.ctx, k1, k3, NULL));
	assert_int_equal(count_keys(user, NULL), 2);
	OK(rot->cleanup(&f.ctx, k3, NULL, k1));
	assert_int_equal(count_keys(user, NULL), 2);
	/* ... and the key the registry names, whatever the vault says. */
	cJSON_AddStringToObject(cJSON_GetObjectItem(f.credential, "identity"),
		"access_key_id", k3);
	OK(rot->cleanup(&f.ctx, k1, NULL, NULL));
	assert_int_equal(count_keys(user, NULL), 2);
	OK(rot->undo(&f.ctx, NULL, v3, k3));
	assert_int_equal(count_keys(user, NULL), 1);
	(void)v4;
	(void)k4;
	free(s2);
	free(k2);
	free(k3);
	cspf_secret_free(v2);
	cspf_secret_free(v3);
	fixture_dispose(&f);
}

static void test_role(void **state)
{
	const char *user;
	struct fixture f;
	cspf_secret *v = NULL;
	char *k = NULL, *s;

	(void)state;
	NEED_EMULATOR();
	user = env("CSPF_TEST_AWS_ROLE_USER");
	/* cspf's own key cannot see that account's user... */
	fixture_init(&f, user, env("CSPF_TEST_AWS_ROLE_ACCOUNT"), NULL);
	assert_int_equal(rot->create(&f.ctx, NULL, &v, &k), CSPF_ENOTFOUND);
	fixture_dispose(&f);
	/* ... the rotation role in that account can. */
	fixture_init(&f, user, env("CSPF_TEST_AWS_ROLE_ACCOUNT"),
		env("CSPF_TEST_AWS_ROLE"));
	OK(rot->create(&f.ctx, NULL, &v, &k));
	s = field(v, "secret_access_key");
	OK(rot->test(&f.ctx, v));
	OK(rot->undo(&f.ctx, NULL, v, k));
	no_secret(s);
	cspf_secret_free(v);
	free(k);
	v = NULL;
	k = NULL;
	/* A role but no account to assume it in: a clear error. */
	cJSON_DeleteItemFromObject(f.account, "accountid");
	assert_int_equal(rot->create(&f.ctx, NULL, &v, &k), CSPF_EINVALID);
	free(s);
	free(k);
	cspf_secret_free(v);
	fixture_dispose(&f);
}

static void test_table(void **state)
{
	(void)state;
	assert_ptr_equal(cspf_rotator_find("aws-iam-access-key"), rot);
	assert_ptr_equal(cspf_rotator_find("aws-iam-user"), rot);
	assert_true(rot->provider_creates);
	assert_int_equal(rot->version, CSPF_ROTATOR_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_limit_and_orphan),
		cmocka_unit_test(test_role),
	};
	int rc;

	rot = cspf_rotator_find("aws-iam-access-key");
	endpoint = getenv("CSPF_TEST_AWS_ENDPOINT");
	if (!endpoint || !*endpoint) {
		endpoint = NULL;
		printf("note: CSPF_TEST_AWS_ENDPOINT is not set: the rotator "
			"tests against the emulator are skipped (they run from "
			"tests/emulators/test_aws_rotation.sh)\n");
	}
	if (cspf_http_new(&http, NULL) < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cspf_http_free(http);
	return rc;
}
