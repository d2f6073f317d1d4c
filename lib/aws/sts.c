/*
 * STS: AssumeRole, AssumeRoleWithWebIdentity and GetCallerIdentity over
 * the query protocol.  The answers carry secret keys and session tokens:
 * the requests are sensitive, so the answers arrive in guarded memory,
 * are parsed by the scrubbing XML parser of xml.c, and go straight into
 * new secrets.  Temporary credentials keep what they need to renew
 * themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_private.h"
#include "util/error.h"
#include "util/banned.h"

struct renew {
	cspf_http_client *client;
	cspf_aws_credentials *base; /* AssumeRole; NULL for web identity */
	char *token_file;           /* web identity */
	char *role_arn, *session_name, *external_id, *region, *endpoint;
	unsigned int duration_s;
};

static void renew_free(void *p)
{
	struct renew *r = p;

	if (!r)
		return;
	cspf_aws_credentials_free(r->base);
	free(r->token_file);
	free(r->role_arn);
	free(r->session_name);
	free(r->external_id);
	free(r->region);
	free(r->endpoint);
	free(r);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Read <Result>/Credentials of an STS answer into new credentials. */
static int read_credentials(cspf_aws_credentials **out,
	const cspf_http_response *resp, const char *result, const char *source)
{
	cspf_aws_xml *x = NULL;
	const cspf_aws_xml_node *c;
	cspf_secret *key = NULL, *token = NULL;
	char *id = NULL, *exp = NULL;
	int64_t t;
	int rc;

	*out = NULL;
	if ((rc = cspf_aws_xml_parse_response(&x, resp)) < 0)
		return rc;
	c = cspf_aws_xml_path(cspf_aws_xml_root(x), result);
	c = cspf_aws_xml_child(c, "Credentials");
	id = cspf_aws_xml_get(c, "AccessKeyId");
	exp = cspf_aws_xml_get(c, "Expiration");
	if (!c || !id || !exp ||
		cspf_aws_xml_text_secret(&key,
			cspf_aws_xml_child(c, "SecretAccessKey")) < 0 ||
		cspf_aws_xml_text_secret(&token,
			cspf_aws_xml_child(c, "SessionToken")) < 0) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sts: the answer has no %s/Credentials", result);
		goto out;
	}
	t = cspf_aws_parse_time(exp);
	rc = cspf_aws_credentials_new(out, id, key, token, t > 0 ? t : 0,
		source);
out:
	free(id);
	free(exp);
	cspf_secret_free(key);
	cspf_secret_free(token);
	cspf_aws_xml_free(x);
	return rc;
}

static int set_common(cspf_http_request *r, const char *role_arn,
	const char *session_name, unsigned int duration_s)
{
	char num[16];
	int rc;

	snprintf(num, sizeof(num), "%u", duration_s ? duration_s : 3600);
	if ((rc = cspf_http_request_set_form_param(r, "RoleArn",
		role_arn)) < 0 ||
		(rc = cspf_http_request_set_form_param(r, "RoleSessionName",
			session_name)) < 0 ||
		(rc = cspf_http_request_set_form_param(r, "DurationSeconds",
			num)) < 0)
		return rc;
	return 0;
}

static char *default_session(void)
{
	char b[64];

	snprintf(b, sizeof(b), "cspf-%lld", (long long)time(NULL));
	return strdup(b);
}

static int assume(cspf_aws_credentials **out, struct renew *r)
{
	cspf_aws_service *sts = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cspf_buf what = CSPF_BUF_INIT, src = CSPF_BUF_INIT;
	int rc;

	*out = NULL;
	cspf_buf_printf(&what, "sts AssumeRole %s", r->role_arn);
	cspf_buf_printf(&src, "role %s from %s", r->role_arn,
		cspf_aws_credentials_source(r->base));
	if ((rc = cspf_aws_service_new(&sts, "sts", r->region, r->base,
		r->endpoint)) < 0 ||
		(rc = cspf_aws_query_new(&req, sts, "AssumeRole", NULL)) < 0 ||
		(rc = set_common(req, r->role_arn, r->session_name,
			r->duration_s)) < 0 ||
		(r->external_id && (rc = cspf_http_request_set_form_param(req,
			"ExternalId", r->external_id)) < 0))
		goto out;
	cspf_http_request_set_sensitive(req, true);
	rc = cspf_http_perform(&resp, r->client, req);
	if ((rc = cspf_aws_response_check(resp, rc, what.ptr)) < 0)
		goto out;
	rc = read_credentials(out, resp, "AssumeRoleResult", src.ptr);
out:
	cspf_buf_dispose(&what);
	cspf_buf_dispose(&src);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	cspf_aws_service_free(sts);
	return rc;
}

static int assume_web(cspf_aws_credentials **out, struct renew *r)
{
	cspf_aws_service *sts = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cspf_secret *token = NULL, *body = NULL;
	cspf_sbuf form = CSPF_SBUF_INIT;
	cspf_buf what = CSPF_BUF_INIT, src = CSPF_BUF_INIT;
	const unsigned char *b;
	size_t n;
	int rc;

	*out = NULL;
	cspf_buf_printf(&what, "sts AssumeRoleWithWebIdentity %s (token %s)",
		r->role_arn, r->token_file);
	cspf_buf_printf(&src, "role %s by web identity %s", r->role_arn,
		r->token_file);
	if ((rc = cspf_secret_from_file(&token, r->token_file,
		CSPF_SECRET_FILE_TRIM | CSPF_SECRET_FILE_READABLE)) < 0)
		goto out;
	/* unsigned: no credentials */
	if ((rc = cspf_aws_service_new(&sts, "sts", r->region, NULL,
		r->endpoint)) < 0 ||
		(rc = cspf_aws_query_new(&req, sts,
			"AssumeRoleWithWebIdentity", NULL)) < 0 ||
		(rc = set_common(req, r->role_arn, r->session_name,
			r->duration_s)) < 0)
		goto out;
	/* the form with the token, in guarded memory */
	if ((rc = cspf_http_request_body_open(&b, &n, req)) < 0)
		goto out;
	cspf_sbuf_put(&form, b, n);
	cspf_http_request_body_close(req);
	cspf_sbuf_puts(&form, "&WebIdentityToken=");
	if (cspf_secret_open(&b, &n, token) == 0) {
		cspf_sbuf_put_urlencoded(&form, b, n);
		cspf_secret_close(token);
	} else {
		form.oom = true;
	}
	if ((rc = cspf_sbuf_to_secret(&body, &form)) < 0 ||
		(rc = cspf_http_request_set_body_secret(req, body)) < 0)
		goto out;
	rc = cspf_http_perform(&resp, r->client, req);
	if ((rc = cspf_aws_response_check(resp, rc, what.ptr)) < 0)
		goto out;
	rc = read_credentials(out, resp, "AssumeRoleWithWebIdentityResult",
		src.ptr);
out:
	cspf_sbuf_dispose(&form);
	cspf_buf_dispose(&what);
	cspf_buf_dispose(&src);
	cspf_secret_free(token);
	cspf_secret_free(body);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	cspf_aws_service_free(sts);
	return rc;
}

static int renew(cspf_aws_credentials *c, void *state)
{
	struct renew *r = state;
	cspf_aws_credentials *fresh;
	int rc;

	if (r->base && (rc = cspf_aws_credentials_refresh(r->base)) < 0)
		return rc;
	rc = r->base ? assume(&fresh, r) : assume_web(&fresh, r);
	if (rc < 0)
		return rc;
	cspf_aws_credentials_replace(c, fresh);
	return 0;
}

static struct renew *renew_new(cspf_http_client *client,
	const cspf_aws_assume_role_options *o)
{
	struct renew *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->client = client;
	r->role_arn = strdup(o->role_arn);
	r->session_name = o->session_name ? strdup(o->session_name) :
		default_session();
	r->external_id = dup_or_null(o->external_id);
	r->region = dup_or_null(o->region);
	r->endpoint = dup_or_null(o->endpoint);
	r->duration_s = o->duration_s;
	if (!r->role_arn || !r->session_name ||
		(o->external_id && !r->external_id) ||
		(o->region && !r->region) || (o->endpoint && !r->endpoint)) {
		renew_free(r);
		return NULL;
	}
	return r;
}

static int check_opts(const cspf_aws_assume_role_options *o)
{
	if (!o || o->version != CSPF_AWS_ASSUME_ROLE_OPTIONS_VERSION ||
		!o->role_arn || !*o->role_arn)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sts: a role ARN is needed");
	return 0;
}

int cspf_aws_assume_role(cspf_aws_credentials **out, cspf_http_client *client,
	cspf_aws_credentials *base, const cspf_aws_assume_role_options *opts)
{
	struct renew *r;
	int rc;

	*out = NULL;
	if ((rc = check_opts(opts)) < 0)
		return rc;
	if (!client || !base)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sts: AssumeRole needs a client and credentials");
	if (!(r = renew_new(client, opts)))
		return cspf_error_set_oom();
	r->base = cspf_aws_credentials_ref(base);
	if ((rc = assume(out, r)) < 0) {
		renew_free(r);
		return rc;
	}
	(*out)->refresh = renew;
	(*out)->refresh_state = r;
	(*out)->refresh_free = renew_free;
	return 0;
}

int cspf_aws_assume_role_with_web_identity(cspf_aws_credentials **out,
	cspf_http_client *client, const char *token_file,
	const cspf_aws_assume_role_options *opts)
{
	struct renew *r;
	int rc;

	*out = NULL;
	if ((rc = check_opts(opts)) < 0)
		return rc;
	if (!client || !token_file)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sts: web identity needs a client and a token file");
	if (!(r = renew_new(client, opts)) ||
		!(r->token_file = strdup(token_file))) {
		renew_free(r);
		return cspf_error_set_oom();
	}
	if ((rc = assume_web(out, r)) < 0) {
		renew_free(r);
		return rc;
	}
	(*out)->refresh = renew;
	(*out)->refresh_state = r;
	(*out)->refresh_free = renew_free;
	return 0;
}

int cspf_aws_get_caller_identity(cspf_aws_identity *out,
	cspf_http_client *client, cspf_aws_credentials *creds,
	const char *region, const char *endpoint)
{
	cspf_aws_service *sts = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cspf_aws_xml *x = NULL;
	const cspf_aws_xml_node *n;
	char *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cspf_aws_service_new(&sts, "sts", region, creds,
		endpoint)) < 0 ||
		(rc = cspf_aws_query_new(&req, sts, "GetCallerIdentity",
			NULL)) < 0)
		goto out;
	rc = cspf_http_perform(&resp, client, req);
	if ((rc = cspf_aws_response_check(resp, rc,
		"sts GetCallerIdentity")) < 0 ||
		(rc = cspf_aws_xml_parse_response(&x, resp)) < 0)
		goto out;
	n = cspf_aws_xml_path(cspf_aws_xml_root(x), "GetCallerIdentityResult");
	if (!n) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sts: GetCallerIdentity answered without a result");
		goto out;
	}
#define GET(field, name) \
	if ((s = cspf_aws_xml_get(n, name))) { \
		snprintf(out->field, sizeof(out->field), "%s", s); \
		free(s); \
	}
	GET(account, "Account");
	GET(arn, "Arn");
	GET(user_id, "UserId");
#undef GET
out:
	cspf_aws_xml_free(x);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	cspf_aws_service_free(sts);
	return rc;
}
