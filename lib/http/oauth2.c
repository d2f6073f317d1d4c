/*
 * OAuth 2.0 client credentials: a token source that keeps its access
 * token in guarded memory and fetches a new one before it expires.
 *
 * The client secret goes into the form in guarded memory; the token
 * response is received into guarded memory (the request is sensitive)
 * and read there by the scanner of jscan.c.  Error texts from the server
 * are copied into messages only after every occurrence of the secret has
 * been cut out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http_private.h"
#include "util/error.h"
#include "util/banned.h"

struct cspf_http_oauth2 {
	cspf_http_client *client;
	char *token_url;
	char *client_id;
	char *scope;
	cspf_secret *client_secret;
	unsigned int margin_s;
	cspf_secret *token;
	uint64_t refresh_ms; /* monotonic: fetch again from then on */
	unsigned int fetches;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cspf_http_oauth2_new(cspf_http_oauth2 **out, cspf_http_client *client,
	const cspf_http_oauth2_options *opts)
{
	cspf_http_oauth2 *ts;

	*out = NULL;
	if (!opts || opts->version != CSPF_HTTP_OAUTH2_OPTIONS_VERSION ||
		!client || !opts->token_url || !opts->client_id ||
		!opts->client_secret)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"oauth2: token URL, client id and client secret are "
			"needed");
	if (!cspf_http_url_allowed(opts->token_url))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
			"oauth2: the token URL must be https://");
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return cspf_error_set_oom();
	ts->client = client;
	ts->margin_s = opts->refresh_margin_s ? opts->refresh_margin_s : 300;
	ts->token_url = strdup(opts->token_url);
	ts->client_id = strdup(opts->client_id);
	ts->scope = opts->scope ? strdup(opts->scope) : NULL;
	if (!ts->token_url || !ts->client_id || (opts->scope && !ts->scope) ||
		cspf_secret_dup(&ts->client_secret, opts->client_secret) < 0) {
		cspf_http_oauth2_free(ts);
		return cspf_error_set_oom();
	}
	*out = ts;
	return 0;
}

static bool tenant_ok(const char *t)
{
	if (!t || !*t)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
			(*t >= '0' && *t <= '9') || *t == '-' || *t == '.'))
			return false;
	return true;
}

int cspf_http_oauth2_azure_new(cspf_http_oauth2 **out,
	cspf_http_client *client, const char *authority, const char *tenant,
	const char *client_id, const cspf_secret *client_secret,
	const char *scope)
{
	cspf_http_oauth2_options o = CSPF_HTTP_OAUTH2_OPTIONS_INIT;
	cspf_buf url = CSPF_BUF_INIT;
	size_t n;
	int rc;

	*out = NULL;
	if (!tenant_ok(tenant))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"azure: the tenant id must be a GUID or a domain name");
	if (!authority || !*authority)
		authority = getenv("AZURE_AUTHORITY_HOST");
	if (!authority || !*authority)
		authority = "https://login.microsoftonline.com";
	n = strlen(authority);
	while (n && authority[n - 1] == '/')
		n--;
	cspf_buf_put(&url, authority, n);
	cspf_buf_printf(&url, "/%s/oauth2/v2.0/token", tenant);
	if (cspf_buf_oom(&url))
		return cspf_error_set_oom();
	o.token_url = url.ptr;
	o.client_id = client_id;
	o.client_secret = client_secret;
	o.scope = scope ? scope : "https://management.azure.com/.default";
	rc = cspf_http_oauth2_new(out, client, &o);
	cspf_buf_dispose(&url);
	return rc;
}

int cspf_http_oauth2_azure_from_env(cspf_http_oauth2 **out,
	cspf_http_client *client, const char *scope)
{
	const char *tenant = getenv("AZURE_TENANT_ID");
	const char *id = getenv("AZURE_CLIENT_ID");
	cspf_secret *secret = NULL;
	int rc;

	*out = NULL;
	if (!tenant || !*tenant || !id || !*id ||
		cspf_secret_from_env(&secret, "AZURE_CLIENT_SECRET") < 0)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"azure: set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
			"AZURE_CLIENT_SECRET (%s is missing)",
			!tenant || !*tenant ? "AZURE_TENANT_ID" :
			!id || !*id ? "AZURE_CLIENT_ID" : "AZURE_CLIENT_SECRET");
	rc = cspf_http_oauth2_azure_new(out, client, NULL, tenant, id, secret,
		scope);
	cspf_secret_free(secret);
	return rc;
}

void cspf_http_oauth2_free(cspf_http_oauth2 *ts)
{
	if (!ts)
		return;
	free(ts->token_url);
	free(ts->client_id);
	free(ts->scope);
	cspf_secret_free(ts->client_secret);
	cspf_secret_free(ts->token);
	free(ts);
}

void cspf_http_oauth2_invalidate(cspf_http_oauth2 *ts)
{
	cspf_secret_free(ts->token);
	ts->token = NULL;
}

unsigned int cspf_http_oauth2_fetches(const cspf_http_oauth2 *ts)
{
	return ts->fetches;
}

/* Replace every occurrence of `needle` in `b` by "[redacted]". */
static void redact(cspf_buf *b, const unsigned char *needle, size_t n)
{
	cspf_buf out = CSPF_BUF_INIT;
	size_t i = 0;

	if (!n || b->size < n)
		return;
	while (i < b->size) {
		if (i + n <= b->size && !memcmp(b->ptr + i, needle, n)) {
			cspf_buf_puts(&out, "[redacted]");
			i += n;
		} else {
			cspf_buf_putc(&out, b->ptr[i++]);
		}
	}
	sodium_memzero(b->ptr, b->size);
	cspf_buf_dispose(b);
	*b = out;
}

/* A short, printable copy of member `key` (a string) of the error body. */
static void error_field(cspf_buf *out, const char *body, size_t len,
	const char *key, const cspf_secret *secret)
{
	const char *v;
	size_t n, i;
	bool str;
	const unsigned char *sp;
	size_t sn;
	char *enc;

	if (cspf_http_json_member(&v, &n, &str, body, len, key) < 0 || !str)
		return;
	if (n > 400)
		n = 400;
	for (i = 0; i < n; i++)
		cspf_buf_putc(out, (unsigned char)v[i] < 0x20 ? ' ' : v[i]);
	if (cspf_secret_open(&sp, &sn, secret) == 0) {
		redact(out, sp, sn);
		enc = cspf_http_urlencode((const char *)sp, sn);
		if (enc) {
			redact(out, (const unsigned char *)enc, strlen(enc));
			sodium_memzero(enc, strlen(enc));
			free(enc);
		}
		cspf_secret_close(secret);
	}
}

static int refused(cspf_http_oauth2 *ts, const cspf_http_response *resp)
{
	cspf_buf err = CSPF_BUF_INIT, desc = CSPF_BUF_INIT;
	const char *body;
	size_t len;
	char *shown = cspf_http_url_display(ts->token_url);
	int status = cspf_http_response_status(resp), code;

	if (cspf_http_response_body_open(&body, &len, resp) == 0) {
		error_field(&err, body, len, "error", ts->client_secret);
		error_field(&desc, body, len, "error_description",
			ts->client_secret);
		cspf_http_response_body_close(resp);
	}
	code = status == 400 || status == 401 || status == 403 ?
		CSPF_EAUTH : CSPF_ERROR;
	if (err.size)
		cspf_error_set(code, CSPF_ERRCLASS_INVALID,
			"oauth2: %s refused client %s (HTTP %d): %s%s%s",
			shown ? shown : "the token endpoint", ts->client_id,
			status, err.ptr, desc.size ? ": " : "", desc.ptr);
	else
		cspf_error_set(code, CSPF_ERRCLASS_INVALID,
			"oauth2: %s answered HTTP %d to client %s",
			shown ? shown : "the token endpoint", status,
			ts->client_id);
	free(shown);
	cspf_buf_dispose(&err);
	cspf_buf_dispose(&desc);
	return code;
}

static int fetch(cspf_http_oauth2 *ts)
{
	cspf_sbuf form = CSPF_SBUF_INIT, tok = CSPF_SBUF_INIT;
	cspf_secret *body = NULL, *token = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	const unsigned char *sp;
	const char *b, *v;
	size_t sn, blen, vn;
	bool str;
	long long expires = 3600;
	char num[32];
	uint64_t margin;
	int rc;

	cspf_sbuf_puts(&form, "grant_type=client_credentials&client_id=");
	cspf_sbuf_put_urlencoded(&form, ts->client_id, strlen(ts->client_id));
	cspf_sbuf_puts(&form, "&client_secret=");
	if (cspf_secret_open(&sp, &sn, ts->client_secret) == 0) {
		cspf_sbuf_put_urlencoded(&form, sp, sn);
		cspf_secret_close(ts->client_secret);
	} else {
		form.oom = true;
	}
	if (ts->scope) {
		cspf_sbuf_puts(&form, "&scope=");
		cspf_sbuf_put_urlencoded(&form, ts->scope, strlen(ts->scope));
	}
	if ((rc = cspf_sbuf_to_secret(&body, &form)) < 0)
		goto out;
	if ((rc = cspf_http_request_new(&req, "POST", ts->token_url)) < 0 ||
		(rc = cspf_http_request_set_header(req, "Content-Type",
			"application/x-www-form-urlencoded")) < 0 ||
		(rc = cspf_http_request_set_header(req, "Accept",
			"application/json")) < 0 ||
		(rc = cspf_http_request_set_body_secret(req, body)) < 0 ||
		(rc = cspf_http_request_set_action(req, "oauth2 token")) < 0)
		goto out;
	if ((rc = cspf_http_perform(&resp, ts->client, req)) < 0)
		goto out;
	ts->fetches++;
	if (cspf_http_response_status(resp) != 200) {
		rc = refused(ts, resp);
		goto out;
	}
	if ((rc = cspf_http_response_body_open(&b, &blen, resp)) < 0)
		goto out;
	if (cspf_http_json_member(&v, &vn, &str, b, blen, "access_token") < 0 ||
		!str || !vn || cspf_http_json_unescape(&tok, v, vn) < 0) {
		cspf_http_response_body_close(resp);
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"oauth2: the answer of the token endpoint to client %s "
			"has no access_token", ts->client_id);
		goto out;
	}
	if (cspf_http_json_member(&v, &vn, &str, b, blen, "expires_in") == 0 &&
		vn < sizeof(num)) {
		memcpy(num, v, vn);
		num[vn] = '\0';
		expires = strtoll(num, NULL, 10);
		if (expires <= 0)
			expires = 60;
	}
	cspf_http_response_body_close(resp);
	if ((rc = cspf_sbuf_to_secret(&token, &tok)) < 0)
		goto out;
	cspf_secret_free(ts->token);
	ts->token = token;
	token = NULL;
	margin = ts->margin_s;
	if (margin > (uint64_t)expires / 2)
		margin = (uint64_t)expires / 2;
	ts->refresh_ms = mono_ms() + ((uint64_t)expires - margin) * 1000 -
		(margin ? 0 : 500);
	rc = 0;
out:
	cspf_sbuf_dispose(&form);
	cspf_sbuf_dispose(&tok);
	cspf_secret_free(body);
	cspf_secret_free(token);
	cspf_http_request_free(req);
	cspf_http_response_free(resp);
	return rc;
}

int cspf_http_oauth2_token(const cspf_secret **out, cspf_http_oauth2 *ts)
{
	int rc;

	*out = NULL;
	if (!ts->token || mono_ms() >= ts->refresh_ms) {
		if ((rc = fetch(ts)) < 0)
			return rc;
	}
	*out = ts->token;
	return 0;
}

int cspf_http_oauth2_authorize(cspf_http_oauth2 *ts, cspf_http_request *req)
{
	const cspf_secret *tok;
	int rc;

	if ((rc = cspf_http_oauth2_token(&tok, ts)) < 0)
		return rc;
	return cspf_http_request_set_header_secret(req, "Authorization",
		"Bearer ", tok);
}

int cspf_http_oauth2_prepare(cspf_http_request *req, void *payload)
{
	return cspf_http_oauth2_authorize(payload, req);
}
