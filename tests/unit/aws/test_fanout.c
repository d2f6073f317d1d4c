/*
 * How an inventory provider drives the client: per account, a small
 * state machine of callbacks.  ListUsers pages through Marker (the same
 * request submitted again), and each user found starts a ListAccessKeys
 * call; a fake IAM on loopback checks every request is signed and throws
 * in throttling now and then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cspf/aws.h"
#include "httpd.h"

#define USERS 23

static void form_value(const char *body, const char *name, char *out,
	size_t size)
{
	char key[64];
	const char *p = body;

	snprintf(key, sizeof(key), "%s=", name);
	out[0] = '\0';
	while ((p = strstr(p, key)) && p != body && p[-1] != '&')
		p++;
	if (p)
		snprintf(out, size, "%.*s", (int)strcspn(p + strlen(key), "&"),
			p + strlen(key));
}

static int unsigned_requests;

static void fake_iam(const httpd_request *req, httpd_response *resp, void *p)
{
	char action[64], marker[32], user[64], auth[512], body[8192];
	int start = 0, i, n;
	size_t len = 0;

	(void)p;
	if (!httpd_header(req, "Authorization", auth, sizeof(auth)) ||
		!strstr(auth, "/us-east-1/iam/aws4_request")) {
		unsigned_requests++;
		resp->status = 403;
		return;
	}
	if (req->n % 7 == 0) {
		resp->status = 400;
		httpd_body(resp, "<ErrorResponse><Error><Code>Throttling</Code>"
			"<Message>Rate exceeded</Message></Error>"
			"</ErrorResponse>");
		return;
	}
	form_value(req->body, "Action", action, sizeof(action));
	if (!strcmp(action, "ListUsers")) {
		form_value(req->body, "Marker", marker, sizeof(marker));
		if (marker[0])
			start = atoi(marker + 1);
		n = start + 5 < USERS ? 5 : USERS - start;
		len += (size_t)snprintf(body + len, sizeof(body) - len,
			"<ListUsersResponse xmlns=\"https://iam.amazonaws.com/"
			"doc/2010-05-08/\"><ListUsersResult><Users>");
		for (i = start; i < start + n; i++)
			len += (size_t)snprintf(body + len, sizeof(body) - len,
				"<member><UserName>user-%d</UserName></member>",
				i);
		if (start + n < USERS)
			len += (size_t)snprintf(body + len, sizeof(body) - len,
				"</Users><IsTruncated>true</IsTruncated><Marker>"
				"m%d</Marker>", start + n);
		else
			len += (size_t)snprintf(body + len, sizeof(body) - len,
				"</Users><IsTruncated>false</IsTruncated>");
		snprintf(body + len, sizeof(body) - len,
			"</ListUsersResult></ListUsersResponse>");
	} else {
		form_value(req->body, "UserName", user, sizeof(user));
		snprintf(body, sizeof(body), "<ListAccessKeysResponse>"
			"<ListAccessKeysResult><AccessKeyMetadata><member>"
			"<UserName>%s</UserName><AccessKeyId>AKIA%s</AccessKeyId>"
			"<Status>Active</Status></member></AccessKeyMetadata>"
			"</ListAccessKeysResult></ListAccessKeysResponse>", user,
			user);
	}
	httpd_body(resp, body);
}

/* One account's inventory. */
struct account {
	cspf_http_client *client;
	cspf_aws_service *iam;
	int users, keys, pages, failures;
};

static void on_keys(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct account *a = payload;
	cspf_aws_xml *x;
	const cspf_aws_xml_node *m;

	(void)req;
	if (cspf_aws_response_check(resp, error, "iam ListAccessKeys") < 0 ||
		cspf_aws_xml_parse_response(&x, resp) < 0) {
		a->failures++;
		return;
	}
	for (m = cspf_aws_xml_path(cspf_aws_xml_root(x),
		"ListAccessKeysResult/AccessKeyMetadata/member"); m;
		m = cspf_aws_xml_next(m, "member"))
		a->keys++;
	cspf_aws_xml_free(x);
}

static void on_users(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct account *a = payload;
	cspf_aws_xml *x;
	const cspf_aws_xml_node *res, *m;
	cspf_http_request *k;
	char *name, *truncated, *marker;

	if (cspf_aws_response_check(resp, error, "iam ListUsers") < 0 ||
		cspf_aws_xml_parse_response(&x, resp) < 0) {
		a->failures++;
		return;
	}
	a->pages++;
	res = cspf_aws_xml_path(cspf_aws_xml_root(x), "ListUsersResult");
	for (m = cspf_aws_xml_path(res, "Users/member"); m;
		m = cspf_aws_xml_next(m, "member")) {
		name = cspf_aws_xml_get(m, "UserName");
		a->users++;
		/* fan out: one call per user */
		if (cspf_aws_query_new(&k, a->iam, "ListAccessKeys", NULL) == 0 &&
			cspf_http_request_set_form_param(k, "UserName",
				name) == 0)
			cspf_http_submit(a->client, k, on_keys, a);
		free(name);
	}
	truncated = cspf_aws_xml_get(res, "IsTruncated");
	marker = cspf_aws_xml_get(res, "Marker");
	/* next page: the same request, with the marker */
	if (truncated && !strcmp(truncated, "true") && marker &&
		cspf_http_request_set_form_param(req, "Marker", marker) == 0)
		cspf_http_submit(a->client, req, on_users, a);
	free(truncated);
	free(marker);
	cspf_aws_xml_free(x);
}

static void test_fanout(void **state)
{
	httpd *h = httpd_start(fake_iam, NULL);
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_aws_credentials *creds;
	cspf_secret *key;
	cspf_http_request *r;
	struct account a = { 0 };

	(void)state;
	o.concurrency = 4;
	o.backoff_base_ms = 5;
	assert_int_equal(cspf_http_new(&a.client, &o), 0);
	assert_int_equal(cspf_secret_new(&key, "fanout-secret", 13), 0);
	assert_int_equal(cspf_aws_credentials_new(&creds, "AKIDFANOUT", key,
		NULL, 0, "test"), 0);
	cspf_secret_free(key);
	assert_int_equal(cspf_aws_service_new(&a.iam, "iam", "eu-west-1",
		creds, httpd_url(h)), 0);
	cspf_aws_credentials_free(creds); /* the service holds a reference */

	assert_int_equal(cspf_aws_query_new(&r, a.iam, "ListUsers", NULL), 0);
	assert_int_equal(cspf_http_request_set_form_param(r, "MaxItems", "5"),
		0);
	assert_int_equal(cspf_http_submit(a.client, r, on_users, &a), 0);
	assert_int_equal(cspf_http_run(a.client), 0);

	assert_int_equal(a.failures, 0);
	assert_int_equal(a.pages, 5);
	assert_int_equal(a.users, USERS);
	assert_int_equal(a.keys, USERS);
	assert_int_equal(unsigned_requests, 0);
	assert_true(httpd_requests(h) > (unsigned int)(USERS + 5));
	assert_true(httpd_max_inflight(h) <= 4);
	cspf_aws_service_free(a.iam);
	cspf_http_free(a.client);
	httpd_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fanout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
