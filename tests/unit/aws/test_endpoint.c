/*
 * Endpoint resolution: override > AWS_ENDPOINT_URL_<SERVICE> >
 * AWS_ENDPOINT_URL > AWS's own, by partition, FIPS; signing scopes.
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

static void want(const char *service, const char *region,
	const char *override, const char *url)
{
	char *got = NULL;
	int rc = cspf_aws_endpoint(&got, service, region, override);

	if (rc < 0 || strcmp(got, url))
		fail_msg("endpoint(%s, %s, %s) = %s, want %s", service,
			region ? region : "NULL", override ? override : "NULL",
			rc < 0 ? cspf_error_last()->message : got, url);
	free(got);
}

static void clear(void)
{
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_IAM");
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL_SECRETS_MANAGER");
	unsetenv("AWS_ENDPOINT_URL_CLOUDTRAIL");
	unsetenv("AWS_USE_FIPS_ENDPOINT");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
}

static void test_defaults(void **state)
{
	(void)state;
	clear();
	want("iam", "eu-west-1", NULL, "https://iam.amazonaws.com");
	want("sts", "eu-west-1", NULL, "https://sts.eu-west-1.amazonaws.com");
	want("sts", NULL, NULL, "https://sts.us-east-1.amazonaws.com");
	want("s3", "us-east-2", NULL, "https://s3.us-east-2.amazonaws.com");
	want("cloudtrail", "ap-southeast-2", NULL,
		"https://cloudtrail.ap-southeast-2.amazonaws.com");
	want("secretsmanager", "eu-west-1", NULL,
		"https://secretsmanager.eu-west-1.amazonaws.com");
	want("Secrets Manager", "eu-west-1", NULL,
		"https://secretsmanager.eu-west-1.amazonaws.com");
	/* GovCloud and China */
	want("iam", "us-gov-west-1", NULL, "https://iam.us-gov.amazonaws.com");
	want("sts", "us-gov-east-1", NULL,
		"https://sts.us-gov-east-1.amazonaws.com");
	want("s3", "us-gov-west-1", NULL,
		"https://s3.us-gov-west-1.amazonaws.com");
	want("iam", "cn-northwest-1", NULL,
		"https://iam.cn-north-1.amazonaws.com.cn");
	want("sts", "cn-north-1", NULL,
		"https://sts.cn-north-1.amazonaws.com.cn");
	/* FIPS */
	setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
	want("iam", "us-east-1", NULL, "https://iam-fips.amazonaws.com");
	want("sts", "us-east-1", NULL,
		"https://sts-fips.us-east-1.amazonaws.com");
	want("s3", "us-gov-west-1", NULL,
		"https://s3-fips.us-gov-west-1.amazonaws.com");
	want("sts", "us-gov-west-1", NULL,
		"https://sts.us-gov-west-1.amazonaws.com");
	want("iam", "us-gov-west-1", NULL, "https://iam.us-gov.amazonaws.com");
	clear();
}

static void test_precedence(void **state)
{
	char *u;

	(void)state;
	clear();
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
	want("iam", "eu-west-1", NULL, "http://127.0.0.1:9000");
	want("sts", "eu-west-1", NULL, "http://127.0.0.1:9000");
	setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:9001", 1);
	setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9002", 1);
	want("iam", "eu-west-1", NULL, "http://127.0.0.1:9001");
	want("sts", "eu-west-1", NULL, "http://127.0.0.1:9000");
	want("secretsmanager", "eu-west-1", NULL, "http://127.0.0.1:9002");
	want("iam", "eu-west-1", "https://emulator.example:8443",
		"https://emulator.example:8443");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	want("iam", "eu-west-1", NULL, "https://iam.amazonaws.com");
	clear();
	/* the same rules as every URL: no plain http off loopback */
	setenv("AWS_ENDPOINT_URL_STS", "http://sts.example", 1);
	assert_int_equal(cspf_aws_endpoint(&u, "sts", "eu-west-1", NULL),
		CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message,
		"AWS_ENDPOINT_URL_STS"));
	assert_int_equal(cspf_aws_endpoint(&u, "sts", "eu-west-1",
		"http://sts.example"), CSPF_EINVALID);
	clear();
	assert_int_equal(cspf_aws_endpoint(&u, "sts", "eu-west-1.evil.com/x",
		NULL), CSPF_EINVALID);
	assert_int_equal(cspf_aws_endpoint(&u, "sts", "us-iso-east-1", NULL),
		CSPF_EUNSUPPORTED);
}

static void test_signing_scope(void **state)
{
	char *r, *n;

	(void)state;
	assert_int_equal(cspf_aws_signing_scope(&r, &n, "iam", "eu-west-1"),
		0);
	assert_string_equal(r, "us-east-1");
	assert_string_equal(n, "iam");
	free(r);
	free(n);
	assert_int_equal(cspf_aws_signing_scope(&r, &n, "iam",
		"us-gov-east-1"), 0);
	assert_string_equal(r, "us-gov-west-1");
	free(r);
	free(n);
	assert_int_equal(cspf_aws_signing_scope(&r, &n, "Secrets Manager",
		"eu-west-1"), 0);
	assert_string_equal(r, "eu-west-1");
	assert_string_equal(n, "secretsmanager");
	free(r);
	free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_signing_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
