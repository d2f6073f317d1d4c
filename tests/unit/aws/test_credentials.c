/*
 * The credentials chain against temporary ~/.aws files, with a loopback
 * server playing STS (AWS_ENDPOINT_URL_STS): environment, profiles,
 * source_profile role chaining, web identity, renewal, refusals; and no
 * secret ever in an error or a trace line.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cspf/aws.h"
#include "httpd.h"

static char home[256];
static httpd *sts;
static cspf_http_client *client;

static char said[1 << 16];
static size_t said_len;

static void note(const char *s)
{
	size_t n = strlen(s);

	if (said_len + n + 2 < sizeof(said)) {
		memcpy(said + said_len, s, n);
		said_len += n;
		said[said_len++] = '\n';
		said[said_len] = '\0';
	}
}

static void note_error(void)
{
	if (cspf_error_last())
		note(cspf_error_last()->message);
}

static void trace(const cspf_http_trace *t, void *payload)
{
	char line[1024];

	(void)payload;
	snprintf(line, sizeof(line), "%s %s %s %d", t->method, t->url,
		t->action ? t->action : "-", t->status);
	note(line);
}

/* The STS double. */
struct call {
	char action[64];
	char role[256];
	char session[64];
	char signer[64];     /* access key id in the Authorization header */
	bool token;          /* X-Amz-Security-Token sent */
	bool signed_;
	char web_token[128];
};

static struct {
	struct call calls[32];
	int n;
	int issued;
	int lifetime_s;
} st;

static void form_value(const char *body, const char *name, char *out,
	size_t size)
{
	char key[64];
	const char *p;
	size_t i = 0;

	snprintf(key, sizeof(key), "%s=", name);
	out[0] = '\0';
	for (p = body; (p = strstr(p, key)); p++)
		if (p == body || p[-1] == '&')
			break;
	if (!p)
		return;
	p += strlen(key);
	while (*p && *p != '&' && i + 1 < size) {
		if (*p == '%' && p[1] && p[2]) {
			char hex[3] = { p[1], p[2], 0 };

			out[i++] = (char)strtol(hex, NULL, 16);
			p += 3;
		} else {
			out[i++] = *p++;
		}
	}
	out[i] = '\0';
}

static void fake_sts(const httpd_request *req, httpd_response *resp, void *p)
{
	struct call *c;
	char auth[1024], body[2048], exp[32];
	time_t t;
	struct tm tm;
	const char *cred;

	(void)p;
	httpd_lock(sts);
	c = &st.calls[st.n < 31 ? st.n++ : 31];
	memset(c, 0, sizeof(*c));
	form_value(req->body, "Action", c->action, sizeof(c->action));
	form_value(req->body, "RoleArn", c->role, sizeof(c->role));
	form_value(req->body, "RoleSessionName", c->session,
		sizeof(c->session));
	form_value(req->body, "WebIdentityToken", c->web_token,
		sizeof(c->web_token));
	c->signed_ = httpd_header(req, "Authorization", auth, sizeof(auth));
	if (c->signed_ && (cred = strstr(auth, "Credential=")))
		snprintf(c->signer, sizeof(c->signer), "%.*s",
			(int)strcspn(cred + 11, "/"), cred + 11);
	c->token = httpd_header(req, "X-Amz-Security-Token", body,
		sizeof(body)) != NULL;
	if (strstr(c->role, "denied")) {
		resp->status = 403;
		httpd_body(resp, "<ErrorResponse xmlns=\"https://sts.amazonaws."
			"com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>"
			"AccessDenied</Code><Message>User: arn:aws:iam::1:user/x "
			"is not authorized to perform: sts:AssumeRole</Message>"
			"</Error><RequestId>rid-1</RequestId></ErrorResponse>");
		httpd_unlock(sts);
		return;
	}
	if (!strcmp(c->action, "GetCallerIdentity")) {
		httpd_body(resp, "<GetCallerIdentityResponse xmlns=\"https://sts."
			"amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
			"<Arn>arn:aws:sts::123456789012:assumed-role/top/s</Arn>"
			"<UserId>AROAEXAMPLE:s</UserId><Account>123456789012"
			"</Account></GetCallerIdentityResult>"
			"</GetCallerIdentityResponse>");
		httpd_unlock(sts);
		return;
	}
	st.issued++;
	t = time(NULL) + st.lifetime_s;
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(body, sizeof(body), "<%sResponse xmlns=\"https://sts."
		"amazonaws.com/doc/2011-06-15/\"><%sResult><Credentials>"
		"<AccessKeyId>ASIA%d</AccessKeyId>"
		"<SecretAccessKey>CANARY-secret-%d</SecretAccessKey>"
		"<SessionToken>CANARY-token-%d</SessionToken>"
		"<Expiration>%s</Expiration></Credentials>"
		"</%sResult></%sResponse>", c->action, c->action, st.issued,
		st.issued, st.issued, exp, c->action, c->action);
	httpd_body(resp, body);
	httpd_unlock(sts);
}

static void write_file(const char *rel, const char *s, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	chmod(path, mode);
}

static void clear_env(void)
{
	static const char *const vars[] = { "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_ROLE_SESSION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT" };
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(*vars); i++)
		unsetenv(vars[i]);
}

static int setup(void **state)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	char dir[300];

	(void)state;
	clear_env();
	snprintf(home, sizeof(home), "/tmp/cspf-aws-home-XXXXXX");
	if (!mkdtemp(home))
		return -1;
	setenv("HOME", home, 1);
	snprintf(dir, sizeof(dir), "%s/.aws", home);
	mkdir(dir, 0700);
	write_file(".aws/credentials",
		"# test credentials\n"
		"[default]\n"
		"aws_access_key_id = AKIDDEFAULT\n"
		"aws_secret_access_key = CANARY-default\n"
		"\n"
		"[dev]\n"
		"aws_access_key_id=AKIDDEV\n"
		"aws_secret_access_key=CANARY-dev\n"
		"aws_session_token=CANARY-dev-token\n"
		"[base]\n"
		"aws_access_key_id = AKIDBASE\n"
		"aws_secret_access_key = CANARY-base\n"
		"[both]\n"
		"aws_access_key_id = AKIDFROMCREDS\n"
		"aws_secret_access_key = CANARY-both\n"
		"[half]\n"
		"aws_access_key_id = AKIDHALF\n", 0600);
	write_file(".aws/config",
		"[default]\n"
		"region = eu-central-1\n"
		"[profile dev]\n"
		"region = eu-west-1\n"
		"s3 =\n"
		"  max_concurrent_requests = 20\n"
		"[profile cfgonly]\n"
		"aws_access_key_id = AKIDCFG\n"
		"aws_secret_access_key = CANARY-cfg\n"
		"[profile both]\n"
		"aws_access_key_id = AKIDFROMCONFIG\n"
		"[profile mid]\n"
		"role_arn = arn:aws:iam::111111111111:role/mid\n"
		"source_profile = base\n"
		"[profile top]\n"
		"role_arn = arn:aws:iam::222222222222:role/top\n"
		"source_profile = mid\n"
		"role_session_name = cspf-test\n"
		"region = eu-west-1\n"
		"[profile loop-a]\n"
		"role_arn = arn:aws:iam::1:role/a\n"
		"source_profile = loop-b\n"
		"[profile loop-b]\n"
		"role_arn = arn:aws:iam::1:role/b\n"
		"source_profile = loop-a\n"
		"[profile denied]\n"
		"role_arn = arn:aws:iam::1:role/denied\n"
		"source_profile = base\n"
		"[profile fromenv]\n"
		"role_arn = arn:aws:iam::1:role/fromenv\n"
		"credential_source = Environment\n"
		"[profile mfa]\n"
		"role_arn = arn:aws:iam::1:role/mfa\n"
		"source_profile = base\n"
		"mfa_serial = arn:aws:iam::1:mfa/me\n"
		"[profile webid]\n"
		"role_arn = arn:aws:iam::333333333333:role/web\n"
		"web_identity_token_file = ~/token\n"
		"[profile sso]\n"
		"sso_session = corp\n", 0600);
	write_file("token", "CANARY-jwt.payload.sig\n", 0644);
	st.lifetime_s = 3600;
	sts = httpd_start(fake_sts, NULL);
	o.trace = trace;
	o.backoff_base_ms = 1;
	return cspf_http_new(&client, &o);
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	cspf_http_free(client);
	httpd_stop(sts);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	if (getenv("CSPF_TEST_VERBOSE"))
		fputs(said, stderr);
	assert_null(strstr(said, "CANARY"));
	return system(cmd);
}

static int before(void **state)
{
	(void)state;
	clear_env();
	setenv("AWS_ENDPOINT_URL_STS", httpd_url(sts), 1);
	st.n = 0;
	return 0;
}

static void test_environment(void **state)
{
	cspf_aws_credentials *c;

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "CANARY-env", 1);
	setenv("AWS_SESSION_TOKEN", "CANARY-env-token", 1);
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL), 0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c), "AKIDENV");
	assert_string_equal(cspf_aws_credentials_source(c), "environment");
	assert_true(cspf_secret_equal_bytes(cspf_aws_credentials_secret_key(c),
		"CANARY-env", 10));
	assert_non_null(cspf_aws_credentials_session_token(c));
	cspf_aws_credentials_free(c);
	/* a profile named explicitly wins over the environment */
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "dev"), 0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c), "AKIDDEV");
	cspf_aws_credentials_free(c);
	/* AWS_PROFILE does not */
	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL), 0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c), "AKIDENV");
	cspf_aws_credentials_free(c);
	/* half of a pair */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL),
		CSPF_EINVALID);
	note_error();
	assert_non_null(strstr(cspf_error_last()->message,
		"AWS_SECRET_ACCESS_KEY"));
}

static void test_profiles(void **state)
{
	cspf_aws_credentials *c;

	(void)state;
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL), 0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c),
		"AKIDDEFAULT");
	assert_null(cspf_aws_credentials_session_token(c));
	assert_non_null(strstr(cspf_aws_credentials_source(c),
		"profile default in"));
	cspf_aws_credentials_free(c);

	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL), 0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c), "AKIDDEV");
	assert_true(cspf_secret_equal_bytes(
		cspf_aws_credentials_session_token(c), "CANARY-dev-token", 16));
	cspf_aws_credentials_free(c);

	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "cfgonly"),
		0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c), "AKIDCFG");
	cspf_aws_credentials_free(c);
	/* the credentials file wins over the config file */
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "both"), 0);
	assert_string_equal(cspf_aws_credentials_access_key_id(c),
		"AKIDFROMCREDS");
	cspf_aws_credentials_free(c);

	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "half"),
		CSPF_EINVALID);
	note_error();
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "nope"),
		CSPF_ENOTFOUND);
	note_error();
	assert_non_null(strstr(cspf_error_last()->message, "nope"));
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "mfa"),
		CSPF_EUNSUPPORTED);
	note_error();
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "sso"),
		CSPF_EUNSUPPORTED);
	note_error();
	assert_int_equal(st.n, 0);
}

static void test_nothing_found(void **state)
{
	cspf_aws_credentials *c;
	char path[300];
	const char *m;

	(void)state;
	snprintf(path, sizeof(path), "%s/none", home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONFIG_FILE", path, 1);
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL),
		CSPF_ENOTFOUND);
	note_error();
	m = cspf_error_last()->message;
	assert_non_null(strstr(m, "environment"));
	assert_non_null(strstr(m, "web identity"));
	assert_non_null(strstr(m, path));
}

static void test_role_chain(void **state)
{
	cspf_aws_credentials *c;
	char *region;

	(void)state;
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "top"), 0);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.calls[0].action, "AssumeRole");
	assert_string_equal(st.calls[0].role,
		"arn:aws:iam::111111111111:role/mid");
	assert_string_equal(st.calls[0].signer, "AKIDBASE");
	assert_false(st.calls[0].token);
	assert_string_equal(st.calls[1].role,
		"arn:aws:iam::222222222222:role/top");
	assert_string_equal(st.calls[1].session, "cspf-test");
	assert_string_equal(st.calls[1].signer, "ASIA1");
	assert_true(st.calls[1].token);
	assert_string_equal(cspf_aws_credentials_access_key_id(c), "ASIA2");
	assert_true(cspf_secret_equal_bytes(cspf_aws_credentials_secret_key(c),
		"CANARY-secret-2", 15));
	assert_true(cspf_aws_credentials_expiration(c) > time(NULL) + 3000);
	assert_non_null(strstr(cspf_aws_credentials_source(c), "role/top"));
	/* not expiring: no renewal */
	assert_int_equal(cspf_aws_credentials_refresh(c), 0);
	assert_int_equal(st.n, 2);
	cspf_aws_credentials_free(c);

	assert_int_equal(cspf_aws_region_resolve(&region, "top"), 0);
	assert_string_equal(region, "eu-west-1");
	free(region);
	setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
	assert_int_equal(cspf_aws_region_resolve(&region, "top"), 0);
	assert_string_equal(region, "ap-south-1");
	free(region);
	setenv("AWS_REGION", "sa-east-1", 1);
	assert_int_equal(cspf_aws_region_resolve(&region, "top"), 0);
	assert_string_equal(region, "sa-east-1");
	free(region);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	assert_int_equal(cspf_aws_region_resolve(&region, "base"),
		CSPF_ENOTFOUND);
	note_error();
}

static void test_role_refusals(void **state)
{
	cspf_aws_credentials *c;
	const char *m;

	(void)state;
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "loop-a"),
		CSPF_EINVALID);
	note_error();
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "denied"),
		CSPF_EAUTH);
	note_error();
	m = cspf_error_last()->message;
	assert_non_null(strstr(m, "AccessDenied"));
	assert_non_null(strstr(m, "arn:aws:iam::1:role/denied"));
	assert_non_null(strstr(m, "rid-1"));
	/* credential_source = Environment */
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "fromenv"),
		CSPF_ENOTFOUND);
	note_error();
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "CANARY-env", 1);
	st.n = 0;
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "fromenv"),
		0);
	assert_string_equal(st.calls[0].signer, "AKIDENV");
	cspf_aws_credentials_free(c);
}

static void test_web_identity(void **state)
{
	cspf_aws_credentials *c;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/token", home);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::444444444444:role/pod", 1);
	setenv("AWS_ROLE_SESSION_NAME", "pod-session", 1);
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, NULL), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.calls[0].action, "AssumeRoleWithWebIdentity");
	assert_false(st.calls[0].signed_);
	assert_string_equal(st.calls[0].web_token, "CANARY-jwt.payload.sig");
	assert_string_equal(st.calls[0].session, "pod-session");
	assert_string_equal(st.calls[0].role,
		"arn:aws:iam::444444444444:role/pod");
	assert_true(strncmp(cspf_aws_credentials_access_key_id(c), "ASIA",
		4) == 0);
	cspf_aws_credentials_free(c);
	clear_env();
	setenv("AWS_ENDPOINT_URL_STS", httpd_url(sts), 1);

	/* from a profile */
	st.n = 0;
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "webid"), 0);
	assert_string_equal(st.calls[0].role,
		"arn:aws:iam::333333333333:role/web");
	assert_string_equal(st.calls[0].web_token, "CANARY-jwt.payload.sig");
	cspf_aws_credentials_free(c);

	/* a token file anyone may write is refused */
	snprintf(path, sizeof(path), "%s/token", home);
	chmod(path, 0666);
	assert_int_equal(cspf_aws_credentials_resolve(&c, client, "webid"),
		CSPF_EAUTH);
	note_error();
	chmod(path, 0644);
}

static void test_renewal(void **state)
{
	cspf_aws_credentials *base, *c;
	cspf_aws_assume_role_options o = CSPF_AWS_ASSUME_ROLE_OPTIONS_INIT;
	cspf_secret *key;
	cspf_aws_identity id;

	(void)state;
	assert_int_equal(cspf_secret_new(&key, "CANARY-static", 13), 0);
	assert_int_equal(cspf_aws_credentials_new(&base, "AKIDSTATIC", key,
		NULL, 0, "test"), 0);
	cspf_secret_free(key);
	st.lifetime_s = 120; /* inside the five-minute margin */
	o.role_arn = "arn:aws:iam::1:role/short";
	o.region = "eu-west-1";
	o.external_id = "ext-1";
	assert_int_equal(cspf_aws_assume_role(&c, client, base, &o), 0);
	cspf_aws_credentials_free(base); /* c keeps its own reference */
	assert_int_equal(st.n, 1);
	assert_non_null(strstr(st.calls[0].session, "cspf-"));
	assert_int_equal(cspf_aws_credentials_refresh(c), 0);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.calls[1].signer, "AKIDSTATIC");
	st.lifetime_s = 3600;

	/* the signer renews before signing, then signs with the new keys */
	assert_int_equal(cspf_aws_get_caller_identity(&id, client, c,
		"eu-west-1", NULL), 0);
	assert_string_equal(id.account, "123456789012");
	assert_string_equal(id.user_id, "AROAEXAMPLE:s");
	assert_int_equal(st.n, 4);
	assert_string_equal(st.calls[2].action, "AssumeRole");
	assert_string_equal(st.calls[3].action, "GetCallerIdentity");
	assert_string_equal(st.calls[3].signer,
		cspf_aws_credentials_access_key_id(c));
	assert_true(st.calls[3].token);
	cspf_aws_credentials_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_environment, before),
		cmocka_unit_test_setup(test_profiles, before),
		cmocka_unit_test_setup(test_nothing_found, before),
		cmocka_unit_test_setup(test_role_chain, before),
		cmocka_unit_test_setup(test_role_refusals, before),
		cmocka_unit_test_setup(test_web_identity, before),
		cmocka_unit_test_setup(test_renewal, before),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
