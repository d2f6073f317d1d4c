/*
 * AWS endpoints: which URL a service has in a region, and which region
 * and name its requests are signed with.
 *
 * Partitions known: aws (amazonaws.com), aws-cn (amazonaws.com.cn) and
 * aws-us-gov (amazonaws.com, us-gov-* regions).  The ISO partitions are
 * refused.  AWS_USE_FIPS_ENDPOINT=true picks the FIPS hosts of aws and
 * aws-us-gov.  Not done: dual-stack endpoints, S3 virtual-host style,
 * the endpoint_url and services sections of ~/.aws/config.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_private.h"
#include "util/error.h"
#include "util/banned.h"

struct svc {
	const char *id;      /* SDK service id, lower case, no spaces */
	const char *env;     /* AWS_ENDPOINT_URL_<env> */
	const char *host;    /* host prefix */
	const char *signing; /* signing name */
	const char *version; /* query/JSON API version */
	bool global;         /* one endpoint per partition */
};

/* clang-format off */
static const struct svc services[] = {
	{ "iam",            "IAM",             "iam",            "iam",            "2010-05-08", true },
	{ "sts",            "STS",             "sts",            "sts",            "2011-06-15", false },
	{ "s3",             "S3",              "s3",             "s3",             NULL,         false },
	{ "cloudtrail",     "CLOUDTRAIL",      "cloudtrail",     "cloudtrail",     "2013-11-01", false },
	{ "secretsmanager", "SECRETS_MANAGER", "secretsmanager", "secretsmanager", "2017-10-17", false },
	{ "ec2",            "EC2",             "ec2",            "ec2",            "2016-11-15", false },
	{ "kms",            "KMS",             "kms",            "kms",            "2014-11-01", false },
};
/* clang-format on */

/* "Secrets Manager", "secrets-manager", "SECRETSMANAGER": one service. */
static const struct svc *lookup(const char *service)
{
	char norm[64];
	size_t i, n = 0;

	for (i = 0; service[i] && n + 1 < sizeof(norm); i++)
		if (service[i] != ' ' && service[i] != '-' && service[i] != '_')
			norm[n++] = (char)tolower((unsigned char)service[i]);
	norm[n] = '\0';
	for (i = 0; i < sizeof(services) / sizeof(*services); i++)
		if (!strcmp(services[i].id, norm))
			return &services[i];
	return NULL;
}

const char *cspf_aws_api_version(const char *service)
{
	const struct svc *s = lookup(service);

	return s ? s->version : NULL;
}

static bool name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
			*s != '-')
			return false;
	return true;
}

enum partition { AWS, AWS_CN, AWS_US_GOV, AWS_OTHER };

static enum partition partition_of(const char *region)
{
	if (!strncmp(region, "cn-", 3))
		return AWS_CN;
	if (!strncmp(region, "us-gov-", 7))
		return AWS_US_GOV;
	if (!strncmp(region, "us-iso", 6) || !strncmp(region, "eu-isoe-", 8))
		return AWS_OTHER;
	return AWS;
}

static bool fips(void)
{
	const char *v = getenv("AWS_USE_FIPS_ENDPOINT");

	return v && !strcasecmp(v, "true");
}

static bool env_endpoints_ignored(void)
{
	const char *v = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	return v && !strcasecmp(v, "true");
}

static int check_names(const char *service, const char *region)
{
	if (!service || !*service)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: no service named");
	if (!name_ok(region))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: \"%s\" is not a region name", region ? region : "");
	if (partition_of(region) == AWS_OTHER)
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"aws: region %s is in an isolated partition cspf does "
			"not know the endpoints of: give endpoint_url", region);
	return 0;
}

int cspf_aws_endpoint(char **out, const char *service, const char *region,
	const char *override)
{
	const struct svc *s;
	cspf_buf b = CSPF_BUF_INIT, var = CSPF_BUF_INIT;
	const char *v, *prefix, *suffix;
	enum partition p;
	bool f = fips();
	size_t i;
	int rc;

	*out = NULL;
	if (!region)
		region = "us-east-1";
	if (override && *override) {
		if (!cspf_http_url_allowed(override))
			return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
				"aws: endpoint_url must be https:// (or http:// "
				"to loopback)");
		*out = strdup(override);
		return *out ? 0 : cspf_error_set_oom();
	}
	if (!service || !*service)
		return check_names(service, region);
	s = lookup(service);
	if (!env_endpoints_ignored()) {
		cspf_buf_puts(&var, "AWS_ENDPOINT_URL_");
		if (s) {
			cspf_buf_puts(&var, s->env);
		} else {
			for (i = 0; service[i]; i++)
				cspf_buf_putc(&var, service[i] == ' ' ||
					service[i] == '-' ? '_' :
					(char)toupper((unsigned char)service[i]));
		}
		v = cspf_buf_oom(&var) ? NULL : getenv(var.ptr);
		if (!v || !*v)
			v = getenv("AWS_ENDPOINT_URL");
		if (v && *v) {
			if (!cspf_http_url_allowed(v)) {
				rc = cspf_error_set(CSPF_EINVALID,
					CSPF_ERRCLASS_URI,
					"aws: %s must be https:// (or http:// to "
					"loopback)", getenv(var.ptr) ? var.ptr :
					"AWS_ENDPOINT_URL");
				cspf_buf_dispose(&var);
				return rc;
			}
			cspf_buf_dispose(&var);
			*out = strdup(v);
			return *out ? 0 : cspf_error_set_oom();
		}
		cspf_buf_dispose(&var);
	}
	if ((rc = check_names(service, region)) < 0)
		return rc;
	p = partition_of(region);
	suffix = p == AWS_CN ? "amazonaws.com.cn" : "amazonaws.com";
	prefix = s ? s->host : service;
	if (s && s->global) {
		if (p == AWS_US_GOV)
			cspf_buf_puts(&b, "https://iam.us-gov.amazonaws.com");
		else if (p == AWS_CN)
			cspf_buf_puts(&b,
				"https://iam.cn-north-1.amazonaws.com.cn");
		else
			cspf_buf_printf(&b, "https://%s.amazonaws.com",
				f ? "iam-fips" : "iam");
	} else if (f && p == AWS_US_GOV && !strcmp(prefix, "sts")) {
		/* GovCloud's STS endpoints are FIPS endpoints already. */
		cspf_buf_printf(&b, "https://sts.%s.amazonaws.com", region);
	} else if (f && p != AWS_CN) {
		cspf_buf_printf(&b, "https://%s-fips.%s.%s", prefix, region,
			suffix);
	} else {
		cspf_buf_printf(&b, "https://%s.%s.%s", prefix, region, suffix);
	}
	*out = cspf_buf_detach(&b);
	return *out ? 0 : cspf_error_set_oom();
}

int cspf_aws_signing_scope(char **region_out, char **name_out,
	const char *service, const char *region)
{
	const struct svc *s;
	const char *r;
	char *name = NULL, *p;
	int rc;

	*region_out = *name_out = NULL;
	if (!region)
		region = "us-east-1";
	if ((rc = check_names(service, region)) < 0)
		return rc;
	s = lookup(service);
	r = region;
	if (s && s->global)
		r = partition_of(region) == AWS_US_GOV ? "us-gov-west-1" :
			partition_of(region) == AWS_CN ? "cn-north-1" :
			"us-east-1";
	if (s) {
		name = strdup(s->signing);
	} else if ((name = strdup(service))) {
		for (p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	*region_out = strdup(r);
	*name_out = name;
	if (!*region_out || !*name_out) {
		free(*region_out);
		free(*name_out);
		*region_out = *name_out = NULL;
		return cspf_error_set_oom();
	}
	return 0;
}
