/*
 * libFuzzer target for what the HTTP and AWS layers read from the
 * network or from users: AWS XML and JSON errors (and the XML helpers),
 * the token scanner of OAuth answers, the SigV4 canonical request over
 * any path and query, and the URL parameter helpers.  The first byte
 * picks which; no input may crash or leak.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/aws.h"
#include "http/http_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void errors(const char *s, size_t n)
{
	cspf_http_response *r = cspf_http_response_alloc(false, 1 << 20);
	cspf_aws_xml *x;
	cspf_aws_error e;
	const cspf_aws_xml_node *m;
	char *t;

	r->status = 400;
	cspf_http_response_append(r, s, n);
	cspf_http_response_finish(r);
	cspf_aws_error_parse(&e, r);
	cspf_aws_classify(r, NULL);
	cspf_aws_response_check(r, 0, "fuzz");
	cspf_http_response_free(r);
	if (cspf_aws_xml_parse(&x, s, n) == 0) {
		for (m = cspf_aws_xml_child(cspf_aws_xml_root(x), NULL); m;
			m = cspf_aws_xml_next(m, NULL)) {
			t = cspf_aws_xml_get(m, "a/b");
			free(t);
			t = cspf_aws_xml_text(m);
			free(t);
		}
		cspf_aws_xml_free(x);
	}
}

static void token(const char *s, size_t n)
{
	const char *v;
	size_t len;
	bool str;
	cspf_sbuf b = CSPF_SBUF_INIT;

	if (cspf_http_json_member(&v, &len, &str, s, n, "access_token") == 0 &&
		str)
		cspf_http_json_unescape(&b, v, len);
	cspf_sbuf_dispose(&b);
	cspf_http_json_member(&v, &len, &str, s, n, "expires_in");
}

static void sign(const char *s)
{
	cspf_aws_sigv4_request in = CSPF_AWS_SIGV4_REQUEST_INIT;
	cspf_aws_sigv4_result res;
	cspf_aws_header h[] = { { "Host", "example.amazonaws.com" },
		{ "X-Amz-Date", "20150830T123600Z" }, { "X-Fuzz", s } };
	cspf_secret *key;
	char *path = strdup(s), *q;

	q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	if (cspf_secret_new(&key, "k", 1) < 0) {
		free(path);
		return;
	}
	in.method = "GET";
	in.path = path;
	in.query = q;
	in.headers = h;
	in.nheaders = 3;
	in.region = "us-east-1";
	in.service = (s[0] & 1) ? "s3" : "iam";
	in.flags = (s[0] & 1) ? CSPF_AWS_SIGV4_S3 : 0;
	if (cspf_aws_sigv4_sign(&res, &in, "AKID", key, true) == 0)
		cspf_aws_sigv4_result_dispose(&res);
	cspf_secret_free(key);
	free(path);
}

static void urls(const char *s)
{
	char *u = NULL;

	if (cspf_http_url_set_param(&u, s, "Marker", s) == 0)
		free(u);
	cspf_http_url_same_origin(s, "https://example.com/");
	cspf_http_url_allowed(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 20000)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0: errors(s, size - 1); break;
	case 1: token(s, size - 1); break;
	case 2: sign(s); break;
	default: urls(s); break;
	}
	free(s);
	return 0;
}
