/*
 * SigV4 against AWS's test suite (tests/unit/aws/vectors/), and the
 * signer as a prepare hook against a loopback server.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "cspf/aws.h"
#include "httpd.h"

#define VECTORS CSPF_TEST_UNIT "/vectors"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	s[n] = '\0';
	fclose(f);
	return s;
}

static char *file_of(const char *name, const char *ext)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s.%s", VECTORS, name, name, ext);
	return slurp(path);
}

static int check_vector(const char *name, const cspf_secret *key)
{
	char *req = file_of(name, "req"), *creq = file_of(name, "creq");
	char *sts = file_of(name, "sts"), *authz = file_of(name, "authz");
	cspf_aws_header h[16];
	cspf_aws_sigv4_request in = CSPF_AWS_SIGV4_REQUEST_INIT;
	cspf_aws_sigv4_result res;
	char *line, *next, *sp, *q, method[16], *target;
	size_t n = 0;
	int bad = 0;

	assert_non_null(req);
	assert_non_null(creq);
	/* request line: METHOD TARGET HTTP/1.1 (the target may hold spaces) */
	next = strchr(req, '\n');
	*next++ = '\0';
	sp = strchr(req, ' ');
	*sp = '\0';
	snprintf(method, sizeof(method), "%s", req);
	target = sp + 1;
	*strstr(target, " HTTP/1.1") = '\0';
	q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	/* headers until a blank line, then the body */
	while (next && *next && *next != '\n') {
		line = next;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		sp = strchr(line, ':');
		*sp = '\0';
		h[n].name = line;
		h[n++].value = sp + 1;
	}
	if (next && *next == '\n')
		next++;
	in.method = method;
	in.path = target;
	in.query = q;
	in.headers = h;
	in.nheaders = n;
	in.body = next ? next : "";
	in.body_len = next ? strlen(next) : 0;
	in.region = "us-east-1";
	in.service = "service";
	assert_int_equal(cspf_aws_sigv4_sign(&res, &in, "AKIDEXAMPLE", key,
		true), 0);
	if (strcmp(res.canonical_request, creq)) {
		print_message("%s: canonical request\n%s\nwant\n%s\n", name,
			res.canonical_request, creq);
		bad = 1;
	}
	if (strcmp(res.string_to_sign, sts)) {
		print_message("%s: string to sign\n%s\nwant\n%s\n", name,
			res.string_to_sign, sts);
		bad = 1;
	}
	if (strcmp(res.authorization, authz)) {
		print_message("%s: authorization\n%s\nwant\n%s\n", name,
			res.authorization, authz);
		bad = 1;
	}
	cspf_aws_sigv4_result_dispose(&res);
	free(req);
	free(creq);
	free(sts);
	free(authz);
	return bad;
}

static void test_suite(void **state)
{
	DIR *d = opendir(VECTORS);
	struct dirent *e;
	cspf_secret *key;
	int bad = 0, n = 0;

	(void)state;
	assert_non_null(d);
	assert_int_equal(cspf_secret_new(&key, SECRET, strlen(SECRET)), 0);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strchr(e->d_name, '.'))
			continue;
		bad += check_vector(e->d_name, key);
		n++;
	}
	closedir(d);
	cspf_secret_free(key);
	print_message("%d vectors\n", n);
	assert_true(n >= 25);
	assert_int_equal(bad, 0);
}

static void test_refuses(void **state)
{
	cspf_aws_sigv4_request in = CSPF_AWS_SIGV4_REQUEST_INIT;
	cspf_aws_sigv4_result res;
	cspf_aws_header h[] = { { "Host", "example.amazonaws.com" } };
	cspf_secret *key;

	(void)state;
	assert_int_equal(cspf_secret_new(&key, SECRET, strlen(SECRET)), 0);
	in.method = "GET";
	in.path = "/";
	in.headers = h;
	in.nheaders = 1;
	in.region = "us-east-1";
	in.service = "iam";
	assert_int_equal(cspf_aws_sigv4_sign(&res, &in, "AKIDEXAMPLE", key,
		false), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "X-Amz-Date"));
	cspf_secret_free(key);
}

/* S3: the path as it is (no dot removal), encoded once. */
static void test_s3_path(void **state)
{
	cspf_aws_sigv4_request in = CSPF_AWS_SIGV4_REQUEST_INIT;
	cspf_aws_sigv4_result res;
	cspf_aws_header h[] = { { "Host", "s3.amazonaws.com" },
		{ "X-Amz-Date", "20150830T123600Z" },
		{ "x-amz-content-sha256", "UNSIGNED-PAYLOAD" } };
	cspf_secret *key;

	(void)state;
	assert_int_equal(cspf_secret_new(&key, SECRET, strlen(SECRET)), 0);
	in.method = "GET";
	in.path = "/bucket/a%20b/./c+d";
	in.query = "acl";
	in.headers = h;
	in.nheaders = 3;
	in.payload_hash = "UNSIGNED-PAYLOAD";
	in.region = "us-east-1";
	in.service = "s3";
	in.flags = CSPF_AWS_SIGV4_S3;
	assert_int_equal(cspf_aws_sigv4_sign(&res, &in, "AKIDEXAMPLE", key,
		true), 0);
	assert_non_null(strstr(res.canonical_request,
		"GET\n/bucket/a%20b/./c%2Bd\nacl=\n"));
	cspf_aws_sigv4_result_dispose(&res);
	/* other services encode the wire path once more */
	in.flags = 0;
	in.service = "iam";
	in.path = "/a%20b";
	in.query = NULL;
	assert_int_equal(cspf_aws_sigv4_sign(&res, &in, "AKIDEXAMPLE", key,
		true), 0);
	assert_non_null(strstr(res.canonical_request, "GET\n/a%2520b\n\n"));
	cspf_aws_sigv4_result_dispose(&res);
	cspf_secret_free(key);
}

/*
 * The signer as a hook: the server re-signs what it received with the
 * pure function and compares.
 */
struct seen {
	int ok, bad, attempts;
	char date[4][32];
	int with_token;
};

static cspf_secret *server_key;

static void verify(const httpd_request *req, httpd_response *resp, void *p)
{
	struct seen *s = p;
	cspf_aws_header h[16];
	char names[16][64], values[16][2048], auth[1024], want[1024];
	const char *signed_headers, *end;
	cspf_aws_sigv4_request in = CSPF_AWS_SIGV4_REQUEST_INIT;
	cspf_aws_sigv4_result res;
	char path[4096], *q;
	size_t n = 0;

	if (!httpd_header(req, "Authorization", auth, sizeof(auth))) {
		s->bad++;
		resp->status = 403;
		return;
	}
	signed_headers = strstr(auth, "SignedHeaders=") + 14;
	end = strchr(signed_headers, ',');
	while (signed_headers < end) {
		const char *semi = memchr(signed_headers, ';',
			(size_t)(end - signed_headers));
		size_t len = (size_t)((semi ? semi : end) - signed_headers);

		snprintf(names[n], sizeof(names[n]), "%.*s", (int)len,
			signed_headers);
		if (!httpd_header(req, names[n], values[n], sizeof(values[n])))
			values[n][0] = '\0';
		h[n].name = names[n];
		h[n].value = values[n];
		n++;
		signed_headers += len + 1;
	}
	if (s->attempts < 4)
		httpd_header(req, "X-Amz-Date", s->date[s->attempts],
			sizeof(s->date[0]));
	s->with_token += httpd_header(req, "X-Amz-Security-Token", want,
		sizeof(want)) != NULL;
	snprintf(path, sizeof(path), "%s", req->target);
	q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	in.method = req->method;
	in.path = path;
	in.query = q;
	in.headers = h;
	in.nheaders = n;
	in.body = req->body;
	in.body_len = req->body_len;
	in.region = "us-east-1";
	in.service = "iam";
	if (cspf_aws_sigv4_sign(&res, &in, "AKIDSIGNER", server_key,
		false) == 0 && !strcmp(res.authorization, auth))
		s->ok++;
	else
		s->bad++;
	cspf_aws_sigv4_result_dispose(&res);
	/* the first attempt is throttled, to see a fresh signature */
	if (s->attempts++ == 0) {
		resp->status = 400;
		httpd_body(resp, "<ErrorResponse><Error><Code>Throttling</Code>"
			"<Message>Rate exceeded</Message></Error>"
			"</ErrorResponse>");
		strcpy(resp->headers, "Retry-After: 1\r\n");
		return;
	}
	httpd_body(resp, "<ListUsersResponse><ListUsersResult><Users/>"
		"</ListUsersResult></ListUsersResponse>");
}

static void test_signer_hook(void **state)
{
	struct seen s = { 0 };
	httpd *h = httpd_start(verify, &s);
	cspf_http_client *c;
	cspf_aws_credentials *creds;
	cspf_aws_service *iam;
	cspf_http_request *r;
	cspf_http_response *resp;
	cspf_secret *token;

	(void)state;
	assert_int_equal(cspf_secret_new(&server_key, "sk-CANARY-abc", 13), 0);
	assert_int_equal(cspf_secret_new(&token, "tok-CANARY-xyz", 14), 0);
	assert_int_equal(cspf_aws_credentials_new(&creds, "AKIDSIGNER",
		server_key, token, 0, "test"), 0);
	assert_int_equal(cspf_http_new(&c, NULL), 0);
	assert_int_equal(cspf_aws_service_new(&iam, "iam", "eu-west-1", creds,
		httpd_url(h)), 0);
	assert_string_equal(cspf_aws_service_region(iam), "us-east-1");
	assert_int_equal(cspf_aws_query_new(&r, iam, "ListUsers", NULL), 0);
	assert_int_equal(cspf_http_request_set_form_param(r, "MaxItems",
		"100"), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_aws_response_check(resp, 0, "iam ListUsers"), 0);
	assert_int_equal(cspf_http_response_attempts(resp), 2);
	assert_int_equal(s.ok, 2);
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.with_token, 2);
	/* a new X-Amz-Date for the retry, a second later */
	assert_string_not_equal(s.date[0], s.date[1]);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_aws_service_free(iam);
	cspf_aws_credentials_free(creds);
	cspf_secret_free(token);
	cspf_secret_free(server_key);
	cspf_http_free(c);
	httpd_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_s3_path),
		cmocka_unit_test(test_signer_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
