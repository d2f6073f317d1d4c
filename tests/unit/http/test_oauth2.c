/*
 * Unit tests of lib/http/oauth2.c against a loopback token endpoint:
 * the form sent, the token cached and refreshed after expiry, the Azure
 * token URL, and an invalid_client answer whose error names the client
 * and the AADSTS code but never the (canary) secret.
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

#include "cspf/http.h"
#include "httpd.h"

#define CANARY "canary+Oa/2Secret=zz"
#define CANARY_FORM "canary%2BOa%2F2Secret%3Dzz"
#define CLIENT "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

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

static void trace(const cspf_http_trace *t, void *payload)
{
	char line[1024];

	(void)payload;
	snprintf(line, sizeof(line), "%s %s %s %d", t->method, t->url,
		t->action ? t->action : "-", t->status);
	note(line);
}

struct idp {
	int tokens;        /* tokens issued */
	int api_calls;
	int bad_auth;
	int reject;        /* answer invalid_client */
	int expires_in;
	char path[4096];
};

static void idp(const httpd_request *req, httpd_response *resp, void *p)
{
	struct idp *s = p;
	char v[512], body[512];

	if (strstr(req->target, "/oauth2/v2.0/token")) {
		snprintf(s->path, sizeof(s->path), "%s", req->target);
		if (s->reject || !strstr(req->body, "client_secret="
			CANARY_FORM)) {
			resp->status = 401;
			httpd_body(resp, "{\"error\":\"invalid_client\","
				"\"error_description\":\"AADSTS7000215: Invalid "
				"client secret provided. Ensure the secret being "
				"sent is right, not '" CANARY "' nor '"
				CANARY_FORM "'.\\r\\nTrace ID: 0f\","
				"\"error_codes\":[7000215]}");
			return;
		}
		assert_non_null(strstr(req->body,
			"grant_type=client_credentials"));
		assert_non_null(strstr(req->body, "client_id=" CLIENT));
		assert_non_null(strstr(req->body, "scope=https%3A%2F%2F"
			"management.azure.com%2F.default"));
		httpd_header(req, "Content-Type", v, sizeof(v));
		assert_string_equal(v, "application/x-www-form-urlencoded");
		s->tokens++;
		snprintf(body, sizeof(body), "{\"token_type\":\"Bearer\","
			"\"expires_in\":%d,\"ext_expires_in\":3599,"
			"\"access_token\":\"tok\\/%d\"}", s->expires_in,
			s->tokens);
		httpd_body(resp, body);
		return;
	}
	s->api_calls++;
	snprintf(body, sizeof(body), "Bearer tok/%d", s->tokens);
	if (!httpd_header(req, "Authorization", v, sizeof(v)) ||
		strcmp(v, body)) {
		s->bad_auth++;
		resp->status = 401;
	}
	httpd_body(resp, "{}");
}


static cspf_http_client *client(void)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;

	o.trace = trace;
	o.backoff_base_ms = 1;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	return c;
}

static void done(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	(void)req;
	assert_int_equal(error, 0);
	assert_int_equal(cspf_http_response_status(resp), 200);
	(*(int *)payload)++;
}

static void test_cached_and_refreshed(void **state)
{
	struct idp s = { .expires_in = 2 };
	httpd *h = httpd_start(idp, &s);
	cspf_http_client *c = client();
	cspf_http_oauth2 *ts;
	cspf_secret *secret;
	const cspf_secret *tok;
	cspf_http_request *r;
	char url[256];
	int i, ok = 0;

	(void)state;
	assert_int_equal(cspf_secret_new(&secret, CANARY, strlen(CANARY)), 0);
	setenv("AZURE_AUTHORITY_HOST", httpd_url(h), 1);
	assert_int_equal(cspf_http_oauth2_azure_new(&ts, c, NULL,
		"c0ffee00-1234-4abc-9def-0123456789ab", CLIENT, secret, NULL),
		0);
	unsetenv("AZURE_AUTHORITY_HOST");
	assert_int_equal(cspf_http_oauth2_token(&tok, ts), 0);
	assert_true(cspf_secret_equal_bytes(tok, "tok/1", 5));
	assert_string_equal(s.path,
		"/c0ffee00-1234-4abc-9def-0123456789ab/oauth2/v2.0/token");
	assert_int_equal(cspf_http_oauth2_token(&tok, ts), 0);
	assert_int_equal(cspf_http_oauth2_fetches(ts), 1);

	/* Ten calls through the loop share the token. */
	snprintf(url, sizeof(url), "%s/subscriptions", httpd_url(h));
	for (i = 0; i < 10; i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET", url), 0);
		cspf_http_request_set_prepare(r, cspf_http_oauth2_prepare, ts);
		assert_int_equal(cspf_http_submit(c, r, done, &ok), 0);
	}
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(ok, 10);
	assert_int_equal(s.bad_auth, 0);
	assert_int_equal(cspf_http_oauth2_fetches(ts), 1);

	/* expires_in 2: refreshed after half its life */
	usleep(1100 * 1000);
	assert_int_equal(cspf_http_oauth2_token(&tok, ts), 0);
	assert_int_equal(cspf_http_oauth2_fetches(ts), 2);
	assert_true(cspf_secret_equal_bytes(tok, "tok/2", 5));
	cspf_http_oauth2_invalidate(ts);
	assert_int_equal(cspf_http_oauth2_token(&tok, ts), 0);
	assert_int_equal(cspf_http_oauth2_fetches(ts), 3);

	cspf_http_oauth2_free(ts);
	cspf_secret_free(secret);
	cspf_http_free(c);
	httpd_stop(h);
	assert_null(strstr(said, CANARY));
	assert_null(strstr(said, CANARY_FORM));
	assert_null(strstr(said, "tok/"));
}

static void test_invalid_client(void **state)
{
	struct idp s = { .expires_in = 3600, .reject = 1 };
	httpd *h = httpd_start(idp, &s);
	cspf_http_client *c = client();
	cspf_http_oauth2 *ts;
	const cspf_secret *tok;
	cspf_http_request *r;
	cspf_http_response *resp;
	const char *msg;
	char url[256];

	(void)state;
	setenv("AZURE_TENANT_ID", "c0ffee00-1234-4abc-9def-0123456789ab", 1);
	setenv("AZURE_CLIENT_ID", CLIENT, 1);
	setenv("AZURE_CLIENT_SECRET", CANARY, 1);
	setenv("AZURE_AUTHORITY_HOST", httpd_url(h), 1);
	assert_int_equal(cspf_http_oauth2_azure_from_env(&ts, c, NULL), 0);
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_AUTHORITY_HOST");

	assert_int_equal(cspf_http_oauth2_token(&tok, ts), CSPF_EAUTH);
	msg = cspf_error_last()->message;
	note(msg);
	assert_non_null(strstr(msg, CLIENT));
	assert_non_null(strstr(msg, "invalid_client"));
	assert_non_null(strstr(msg, "AADSTS7000215"));
	assert_null(strstr(msg, CANARY));
	assert_null(strstr(msg, CANARY_FORM));
	assert_null(strstr(msg, "Oa/2Secret"));

	/* the same through a prepare hook: the request ends with EAUTH */
	snprintf(url, sizeof(url), "%s/subscriptions", httpd_url(h));
	assert_int_equal(cspf_http_request_new(&r, "GET", url), 0);
	cspf_http_request_set_prepare(r, cspf_http_oauth2_prepare, ts);
	assert_int_equal(cspf_http_perform(&resp, c, r), CSPF_EAUTH);
	note(cspf_error_last()->message);
	assert_int_equal(s.api_calls, 0);
	cspf_http_request_free(r);

	/* missing settings are named */
	unsetenv("AZURE_CLIENT_ID");
	cspf_http_oauth2_free(ts);
	assert_int_equal(cspf_http_oauth2_azure_from_env(&ts, c, NULL),
		CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message, "AZURE_CLIENT_ID"));
	unsetenv("AZURE_TENANT_ID");

	cspf_http_free(c);
	httpd_stop(h);
	assert_null(strstr(said, CANARY));
	assert_null(strstr(said, CANARY_FORM));
}

static void test_refuses(void **state)
{
	cspf_http_client *c = client();
	cspf_http_oauth2 *ts;
	cspf_secret *secret;

	(void)state;
	assert_int_equal(cspf_secret_new(&secret, CANARY, strlen(CANARY)), 0);
	assert_int_equal(cspf_http_oauth2_azure_new(&ts, c,
		"http://login.example", "tenant", CLIENT, secret, NULL),
		CSPF_EINVALID);
	assert_int_equal(cspf_http_oauth2_azure_new(&ts, c, NULL,
		"../evil", CLIENT, secret, NULL), CSPF_EINVALID);
	cspf_secret_free(secret);
	cspf_http_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cached_and_refreshed),
		cmocka_unit_test(test_invalid_client),
		cmocka_unit_test(test_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
