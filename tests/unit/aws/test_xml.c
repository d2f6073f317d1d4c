/*
 * XML hardening (billion laughs, external entities, size, depth), the
 * XPath-free helpers, AWS error parsing (XML and JSON), the throttling
 * classifier, and errors that never carry a signature's canonical
 * request (which holds the session token).
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
#include "http/http_private.h"

static cspf_http_response *response(int status, const char *headers,
	const char *body)
{
	cspf_http_response *r = cspf_http_response_alloc(false, 1 << 20);
	const char *p = headers;

	r->status = status;
	while (p && *p) {
		const char *e = strstr(p, "\r\n");

		cspf_http_response_header_line(r, p, (size_t)(e - p));
		p = e + 2;
	}
	cspf_http_response_append(r, body, strlen(body));
	cspf_http_response_finish(r);
	return r;
}

static void test_hardening(void **state)
{
	static const char laughs[] =
		"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
		"<!ENTITY lol \"lol\">\n"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		"<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		"]>\n<lolz>&lol4;</lolz>";
	static const char xxe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
		"\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
	static const char param[] =
		"<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM "
		"\"http://127.0.0.1:1/evil.dtd\"><r/>";
	cspf_aws_xml *x;
	char *deep;
	size_t i;

	(void)state;
	assert_int_equal(cspf_aws_xml_parse(&x, laughs, strlen(laughs)),
		CSPF_EINVALID);
	assert_null(x);
	assert_int_equal(cspf_aws_xml_parse(&x, xxe, strlen(xxe)),
		CSPF_EINVALID);
	assert_int_equal(cspf_aws_xml_parse(&x, param, strlen(param)),
		CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "DOCTYPE"));
	/* an entity reference without a declaration stays inert */
	assert_true(cspf_aws_xml_parse(&x, "<a>&x;</a>", 10) < 0);
	assert_int_equal(cspf_aws_xml_parse(&x, "<a><b>", 6), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "well-formed"));
	assert_int_equal(cspf_aws_xml_parse(&x, "x", CSPF_AWS_XML_MAX + 1u),
		CSPF_ETOOBIG);
	/* too deep */
	deep = malloc(20000);
	for (i = 0; i < 5000; i++)
		memcpy(deep + i * 3, "<a>", 3);
	assert_true(cspf_aws_xml_parse(&x, deep, 15000) < 0);
	free(deep);
}

static void test_helpers(void **state)
{
	static const char doc[] =
		"<ListUsersResponse xmlns=\"https://iam.amazonaws.com/doc/"
		"2010-05-08/\"><ListUsersResult><Users>"
		"<member><UserName>alice</UserName><Path>/</Path></member>"
		"<member><UserName>bob &amp; co</UserName></member>"
		"</Users><IsTruncated>true</IsTruncated><Marker>m1</Marker>"
		"</ListUsersResult><ResponseMetadata><RequestId>r</RequestId>"
		"</ResponseMetadata></ListUsersResponse>";
	cspf_aws_xml *x;
	const cspf_aws_xml_node *res, *m;
	cspf_secret *s;
	char *t;
	int n = 0;

	(void)state;
	assert_int_equal(cspf_aws_xml_parse(&x, doc, strlen(doc)), 0);
	res = cspf_aws_xml_path(cspf_aws_xml_root(x), "ListUsersResult");
	assert_non_null(res);
	for (m = cspf_aws_xml_path(res, "Users/member"); m;
		m = cspf_aws_xml_next(m, "member"))
		n++;
	assert_int_equal(n, 2);
	m = cspf_aws_xml_path(res, "Users/member");
	t = cspf_aws_xml_get(cspf_aws_xml_next(m, "member"), "UserName");
	assert_string_equal(t, "bob & co");
	free(t);
	t = cspf_aws_xml_get(res, "Marker");
	assert_string_equal(t, "m1");
	free(t);
	assert_null(cspf_aws_xml_get(res, "Nope/Deeper"));
	assert_string_equal(cspf_aws_xml_name(m), "member");
	assert_int_equal(cspf_aws_xml_text_secret(&s,
		cspf_aws_xml_path(res, "IsTruncated")), 0);
	assert_true(cspf_secret_equal_bytes(s, "true", 4));
	cspf_secret_free(s);
	cspf_aws_xml_free(x);
}

static void test_errors(void **state)
{
	cspf_http_response *r;
	cspf_aws_error e;
	const char *m;

	(void)state;
	/* IAM / STS */
	r = response(404, NULL, "<ErrorResponse xmlns=\"https://iam.amazonaws"
		".com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>"
		"NoSuchEntity</Code><Message>The user with name x cannot be "
		"found.</Message></Error><RequestId>r-1</RequestId>"
		"</ErrorResponse>");
	assert_int_equal(cspf_aws_error_parse(&e, r), 0);
	assert_string_equal(e.code, "NoSuchEntity");
	assert_string_equal(e.request_id, "r-1");
	assert_int_equal(cspf_aws_response_check(r, 0, "iam GetUser x"),
		CSPF_ENOTFOUND);
	m = cspf_error_last()->message;
	assert_string_equal(m, "iam GetUser x: HTTP 404 NoSuchEntity: The user "
		"with name x cannot be found. (request id r-1)");
	cspf_http_response_free(r);
	/* S3 */
	r = response(409, "x-amz-request-id: s3r\r\n", "<?xml version=\"1.0\" "
		"encoding=\"UTF-8\"?>\n<Error><Code>BucketAlreadyOwnedByYou"
		"</Code><Message>Yours.</Message></Error>");
	assert_int_equal(cspf_aws_response_check(r, 0, "s3"), CSPF_ECONFLICT);
	assert_non_null(strstr(cspf_error_last()->message, "(request id s3r)"));
	cspf_http_response_free(r);
	/* JSON 1.1 */
	r = response(400, "x-amzn-RequestId: j-1\r\n", "{\"__type\":\"com."
		"amazonaws.secretsmanager#ResourceNotFoundException\","
		"\"Message\":\"Secrets Manager can't find the secret.\"}");
	assert_int_equal(cspf_aws_error_parse(&e, r), 0);
	assert_string_equal(e.code, "ResourceNotFoundException");
	assert_string_equal(e.request_id, "j-1");
	assert_int_equal(cspf_aws_response_check(r, 0, "sm"), CSPF_ENOTFOUND);
	cspf_http_response_free(r);
	/* only the header */
	r = response(400, "x-amzn-ErrorType: ThrottlingException:http://"
		"internal.amazon.com/coral/\r\n", "");
	assert_int_equal(cspf_aws_error_parse(&e, r), 0);
	assert_string_equal(e.code, "ThrottlingException");
	assert_int_equal(cspf_aws_classify(r, NULL), CSPF_HTTP_CLASS_RETRY);
	cspf_http_response_free(r);
	/* access refused; a signature mismatch shows no canonical request */
	r = response(403, NULL, "<ErrorResponse><Error><Code>"
		"SignatureDoesNotMatch</Code><Message>The request signature we "
		"calculated does not match the signature you provided. Check "
		"your AWS Secret Access Key and signing method.\n\nThe "
		"Canonical String for this request should have been\n'POST\n/\n"
		"\nhost:sts.amazonaws.com\nx-amz-security-token:CANARYTOKEN\n'"
		"</Message></Error></ErrorResponse>");
	assert_int_equal(cspf_aws_response_check(r, 0, "sts"), CSPF_EAUTH);
	m = cspf_error_last()->message;
	assert_non_null(strstr(m, "SignatureDoesNotMatch"));
	assert_null(strstr(m, "CANARY"));
	assert_null(strstr(m, "Canonical"));
	cspf_http_response_free(r);
	/* no body at all */
	r = response(500, NULL, "oops");
	assert_int_equal(cspf_aws_error_parse(&e, r), CSPF_ENOTFOUND);
	assert_int_equal(cspf_aws_response_check(r, 0, "x"), CSPF_ERROR);
	assert_non_null(strstr(cspf_error_last()->message, "HTTP 500"));
	cspf_http_response_free(r);
	/* success and transport errors */
	r = response(200, NULL, "<ok/>");
	assert_int_equal(cspf_aws_response_check(r, 0, "x"), 0);
	assert_int_equal(cspf_aws_response_check(NULL, CSPF_ETOOBIG, "x"),
		CSPF_ETOOBIG);
	cspf_http_response_free(r);
}

static void test_classifier(void **state)
{
	static const char *const retry[] = {
		"<ErrorResponse><Error><Code>Throttling</Code></Error>"
		"</ErrorResponse>",
		"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
		"</Error></Errors><RequestID>x</RequestID></Response>",
		"<Error><Code>SlowDown</Code></Error>",
		"{\"__type\":\"TooManyRequestsException\"}",
		"{\"__type\":\"com.amazon#ProvisionedThroughputExceededException\"}",
		"<ErrorResponse><Error><Code>RequestThrottled</Code></Error>"
		"</ErrorResponse>",
		"{\"__type\":\"ThrottlingException\",\"message\":\"Rate\"}",
		"<ErrorResponse><Error><Code>IDPCommunicationError</Code>"
		"</Error></ErrorResponse>",
	};
	static const char *const final[] = {
		"<ErrorResponse><Error><Code>ValidationError</Code></Error>"
		"</ErrorResponse>",
		"{\"__type\":\"AccessDeniedException\"}",
		"<ErrorResponse><Error><Code>LimitExceeded</Code></Error>"
		"</ErrorResponse>",
		"not xml",
	};
	cspf_http_response *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(retry) / sizeof(*retry); i++) {
		r = response(400, NULL, retry[i]);
		if (cspf_aws_classify(r, NULL) != CSPF_HTTP_CLASS_RETRY)
			fail_msg("not retried: %s", retry[i]);
		cspf_http_response_free(r);
	}
	for (i = 0; i < sizeof(final) / sizeof(*final); i++) {
		r = response(400, NULL, final[i]);
		if (cspf_aws_classify(r, NULL) != CSPF_HTTP_CLASS_DEFAULT)
			fail_msg("retried: %s", final[i]);
		cspf_http_response_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hardening),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_classifier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
