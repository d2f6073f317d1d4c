/*
 * AWS services and their wire protocols (query, JSON 1.1, REST-XML), the
 * retry classifier that knows AWS's throttling codes, and AWS errors
 * turned into cspf errors.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "aws_private.h"
#include "util/error.h"
#include "util/buf.h"
#include "util/banned.h"

struct cspf_aws_service {
	char *id;
	char *endpoint;
	char *region;  /* signing region */
	char *version;
	cspf_aws_signer *signer;
};

int cspf_aws_service_new(cspf_aws_service **out, const char *service,
	const char *region, cspf_aws_credentials *creds, const char *override)
{
	cspf_aws_service *s;
	char *name = NULL;
	const char *v;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return cspf_error_set_oom();
	if ((rc = cspf_aws_endpoint(&s->endpoint, service, region,
		override)) < 0 ||
		(rc = cspf_aws_signing_scope(&s->region, &name, service,
			region)) < 0)
		goto fail;
	s->id = strdup(service);
	v = cspf_aws_api_version(service);
	s->version = v ? strdup(v) : NULL;
	if (!s->id || (v && !s->version)) {
		rc = cspf_error_set_oom();
		goto fail;
	}
	if (creds && (rc = cspf_aws_signer_new(&s->signer, creds, name,
		s->region, !strcmp(name, "s3") ? CSPF_AWS_SIGV4_S3 : 0)) < 0)
		goto fail;
	free(name);
	*out = s;
	return 0;
fail:
	free(name);
	cspf_aws_service_free(s);
	return rc;
}

const char *cspf_aws_service_endpoint(const cspf_aws_service *s)
{
	return s->endpoint;
}

const char *cspf_aws_service_region(const cspf_aws_service *s)
{
	return s->region;
}

cspf_aws_signer *cspf_aws_service_signer(const cspf_aws_service *s)
{
	return s->signer;
}

void cspf_aws_service_free(cspf_aws_service *s)
{
	if (!s)
		return;
	cspf_aws_signer_free(s->signer);
	free(s->id);
	free(s->endpoint);
	free(s->region);
	free(s->version);
	free(s);
}

static void hooks(cspf_http_request *req, const cspf_aws_service *svc)
{
	if (svc->signer)
		cspf_http_request_set_prepare(req, cspf_aws_signer_prepare,
			svc->signer);
	cspf_http_request_set_classify(req, cspf_aws_classify, NULL);
}

int cspf_aws_query_new(cspf_http_request **out, const cspf_aws_service *svc,
	const char *action, const char *version)
{
	cspf_http_request *r;
	cspf_buf b = CSPF_BUF_INIT;
	char *a, *v;
	int rc;

	*out = NULL;
	if (!version)
		version = svc->version;
	if (!action || !version)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: a query needs an action and an API version");
	if ((rc = cspf_http_request_new(&r, "POST", svc->endpoint)) < 0)
		return rc;
	a = cspf_http_urlencode(action, strlen(action));
	v = cspf_http_urlencode(version, strlen(version));
	cspf_buf_printf(&b, "Action=%s&Version=%s", a ? a : "", v ? v : "");
	free(a);
	free(v);
	if (cspf_buf_oom(&b) ||
		(rc = cspf_http_request_set_body(r, b.ptr, b.size)) < 0 ||
		(rc = cspf_http_request_set_header(r, "Content-Type",
			"application/x-www-form-urlencoded; charset=utf-8")) < 0 ||
		(rc = cspf_http_request_set_action(r, action)) < 0) {
		cspf_buf_dispose(&b);
		cspf_http_request_free(r);
		return rc < 0 ? rc : cspf_error_set_oom();
	}
	cspf_buf_dispose(&b);
	hooks(r, svc);
	*out = r;
	return 0;
}

static int json_common(cspf_http_request **out, const cspf_aws_service *svc,
	const char *target)
{
	cspf_http_request *r;
	const char *dot;
	int rc;

	*out = NULL;
	if (!target)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: no X-Amz-Target");
	if ((rc = cspf_http_request_new(&r, "POST", svc->endpoint)) < 0)
		return rc;
	dot = strrchr(target, '.');
	if ((rc = cspf_http_request_set_header(r, "X-Amz-Target", target)) < 0 ||
		(rc = cspf_http_request_set_header(r, "Content-Type",
			"application/x-amz-json-1.1")) < 0 ||
		(rc = cspf_http_request_set_action(r,
			dot ? dot + 1 : target)) < 0) {
		cspf_http_request_free(r);
		return rc;
	}
	hooks(r, svc);
	*out = r;
	return 0;
}

int cspf_aws_json_new(cspf_http_request **out, const cspf_aws_service *svc,
	const char *target, const char *json)
{
	int rc;

	if ((rc = json_common(out, svc, target)) < 0)
		return rc;
	if (!json)
		json = "{}";
	if ((rc = cspf_http_request_set_body(*out, json, strlen(json))) < 0) {
		cspf_http_request_free(*out);
		*out = NULL;
	}
	return rc;
}

int cspf_aws_json_new_secret(cspf_http_request **out,
	const cspf_aws_service *svc, const char *target,
	const cspf_secret *json)
{
	int rc;

	if ((rc = json_common(out, svc, target)) < 0)
		return rc;
	if ((rc = cspf_http_request_set_body_secret(*out, json)) < 0) {
		cspf_http_request_free(*out);
		*out = NULL;
	}
	return rc;
}

int cspf_aws_rest_new(cspf_http_request **out, const cspf_aws_service *svc,
	const char *method, const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	cspf_buf u = CSPF_BUF_INIT;
	size_t n = strlen(svc->endpoint);
	const char *p;
	int rc;

	*out = NULL;
	while (n && svc->endpoint[n - 1] == '/')
		n--;
	cspf_buf_put(&u, svc->endpoint, n);
	cspf_buf_putc(&u, '/');
	for (p = path ? path : ""; *p == '/'; p++)
		;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
			c == '/') {
			cspf_buf_putc(&u, (char)c);
		} else {
			cspf_buf_putc(&u, '%');
			cspf_buf_putc(&u, hex[c >> 4]);
			cspf_buf_putc(&u, hex[c & 15]);
		}
	}
	if (query && *query) {
		cspf_buf_putc(&u, '?');
		cspf_buf_puts(&u, query);
	}
	if (cspf_buf_oom(&u))
		return cspf_error_set_oom();
	rc = cspf_http_request_new(out, method, u.ptr);
	cspf_buf_dispose(&u);
	if (rc < 0)
		return rc;
	hooks(*out, svc);
	return 0;
}

/* Errors. */

static void copy(char *dst, size_t size, const char *s)
{
	cspf_strlcpy(dst, s ? s : "", size);
}

/*
 * Cut what must not be shown: AWS's SignatureDoesNotMatch messages
 * include the canonical request it expected, session token and all.
 * Also no control characters.
 */
static void sanitise(char *m)
{
	static const char *const cut[] = { "Canonical String",
		"canonical string", "String-to-Sign", "string-to-sign",
		"x-amz-security-token", "X-Amz-Security-Token" };
	size_t i;
	char *p;

	for (i = 0; i < sizeof(cut) / sizeof(*cut); i++)
		if ((p = strstr(m, cut[i])))
			*p = '\0';
	if ((p = strstr(m, "\n\n")))
		*p = '\0';
	for (p = m; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	i = strlen(m);
	while (i && m[i - 1] == ' ')
		m[--i] = '\0';
}

static void from_xml(cspf_aws_error *e, const char *body, size_t len)
{
	cspf_aws_xml *x;
	const cspf_aws_xml_node *root, *err;
	char *s;

	if (cspf_aws_xml_parse(&x, body, len) < 0) {
		cspf_error_clear();
		return;
	}
	root = cspf_aws_xml_root(x);
	err = root;
	if (!strcmp(cspf_aws_xml_name(root), "ErrorResponse"))
		err = cspf_aws_xml_child(root, "Error");
	else if (!strcmp(cspf_aws_xml_name(root), "Response"))
		err = cspf_aws_xml_path(root, "Errors/Error");
	else if (strcmp(cspf_aws_xml_name(root), "Error"))
		err = NULL;
	if (err) {
		if ((s = cspf_aws_xml_get(err, "Code"))) {
			copy(e->code, sizeof(e->code), s);
			free(s);
		}
		if ((s = cspf_aws_xml_get(err, "Message"))) {
			copy(e->message, sizeof(e->message), s);
			free(s);
		}
		s = cspf_aws_xml_get(root, "RequestId");
		if (!s)
			s = cspf_aws_xml_get(err, "RequestId");
		if (!s)
			s = cspf_aws_xml_get(root, "RequestID");
		if (s) {
			copy(e->request_id, sizeof(e->request_id), s);
			free(s);
		}
	}
	cspf_aws_xml_free(x);
}

static void from_json(cspf_aws_error *e, const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *t, *m;
	const char *h;

	if (!j)
		return;
	t = cJSON_GetObjectItemCaseSensitive(j, "__type");
	if (!cJSON_IsString(t))
		t = cJSON_GetObjectItemCaseSensitive(j, "code");
	if (cJSON_IsString(t)) {
		h = strrchr(t->valuestring, '#');
		copy(e->code, sizeof(e->code), h ? h + 1 : t->valuestring);
	}
	m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(j, "Message");
	if (cJSON_IsString(m))
		copy(e->message, sizeof(e->message), m->valuestring);
	cJSON_Delete(j);
}

int cspf_aws_error_parse(cspf_aws_error *e, const cspf_http_response *resp)
{
	const char *body, *h;
	size_t len, i = 0;
	char *colon;

	memset(e, 0, sizeof(*e));
	e->status = cspf_http_response_status(resp);
	if (cspf_http_response_body_open(&body, &len, resp) == 0) {
		while (i < len && isspace((unsigned char)body[i]))
			i++;
		if (i < len && body[i] == '<')
			from_xml(e, body + i, len - i);
		else if (i < len && body[i] == '{')
			from_json(e, body + i, len - i);
		cspf_http_response_body_close(resp);
	}
	if (!e->code[0] && (h = cspf_http_response_header(resp,
		"x-amzn-ErrorType"))) {
		copy(e->code, sizeof(e->code), h);
		if ((colon = strchr(e->code, ':')))
			*colon = '\0';
	}
	if (!e->request_id[0]) {
		h = cspf_http_response_header(resp, "x-amzn-RequestId");
		if (!h)
			h = cspf_http_response_header(resp, "x-amz-request-id");
		copy(e->request_id, sizeof(e->request_id), h);
	}
	sanitise(e->message);
	for (i = 0; e->code[i]; i++)
		if (!isalnum((unsigned char)e->code[i]) && e->code[i] != '.' &&
			e->code[i] != '_' && e->code[i] != '-')
			e->code[i] = '_';
	return e->code[0] ? 0 : CSPF_ENOTFOUND;
}

static bool in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(code, *list))
			return true;
	return false;
}

static const char *const throttling[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded",
	"BandwidthLimitExceeded", "RequestThrottled", "SlowDown",
	"PriorRequestNotComplete", "EC2ThrottledException", NULL,
};

static const char *const transient[] = {
	"RequestTimeout", "RequestTimeoutException", "IDPCommunicationError",
	"InternalError", "InternalFailure", "ServiceUnavailable", NULL,
};

cspf_http_class cspf_aws_classify(const cspf_http_response *resp,
	void *payload)
{
	cspf_aws_error e;

	(void)payload;
	if (cspf_http_response_status(resp) < 400)
		return CSPF_HTTP_CLASS_DEFAULT;
	if (cspf_aws_error_parse(&e, resp) < 0)
		return CSPF_HTTP_CLASS_DEFAULT;
	if (in(e.code, throttling) || in(e.code, transient))
		return CSPF_HTTP_CLASS_RETRY;
	return CSPF_HTTP_CLASS_DEFAULT;
}

static const char *const auth_codes[] = {
	"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
	"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
	"ExpiredTokenException", "UnrecognizedClientException",
	"InvalidAccessKeyId", "AuthFailure", "IncompleteSignature",
	"MissingAuthenticationToken", "InvalidIdentityToken",
	"RegionDisabledException", "NotAuthorized", NULL,
};

static const char *const notfound_codes[] = {
	"NoSuchEntity", "ResourceNotFoundException", "NoSuchBucket",
	"NoSuchKey", "NotFound", "TrailNotFoundException", NULL,
};

static const char *const conflict_codes[] = {
	"EntityAlreadyExists", "ResourceExistsException",
	"ConcurrentModification", "ConcurrentModificationException",
	"BucketAlreadyOwnedByYou", "ConditionalCheckFailedException",
	"PreconditionFailed", NULL,
};

int cspf_aws_response_check(const cspf_http_response *resp, int error,
	const char *what)
{
	cspf_aws_error e;
	int status, code = CSPF_ERROR;

	if (error < 0)
		return error;
	status = cspf_http_response_status(resp);
	if (status >= 200 && status < 300)
		return 0;
	cspf_aws_error_parse(&e, resp);
	if (in(e.code, auth_codes) || status == 401 || status == 403)
		code = CSPF_EAUTH;
	else if (in(e.code, notfound_codes) || status == 404)
		code = CSPF_ENOTFOUND;
	else if (in(e.code, conflict_codes) || status == 409 || status == 412)
		code = CSPF_ECONFLICT;
	return cspf_error_set(code, CSPF_ERRCLASS_INVALID,
		"%s: HTTP %d %s%s%s%s%s%s", what ? what : "aws", status,
		e.code[0] ? e.code : "(no error code)",
		e.message[0] ? ": " : "", e.message,
		e.request_id[0] ? " (request id " : "", e.request_id,
		e.request_id[0] ? ")" : "");
}
