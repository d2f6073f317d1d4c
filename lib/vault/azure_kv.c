/*
 * azure-key-vault: the secrets of an Azure Key Vault, through its REST
 * API (api-version 7.4), with a token from Entra ID's client-credentials
 * flow (AZURE_TENANT_ID or the vault's tenant_id, AZURE_CLIENT_ID,
 * AZURE_CLIENT_SECRET; AZURE_AUTHORITY_HOST) for https://vault.azure.net.
 *
 * Names.  A Key Vault secret name is [0-9a-zA-Z-]{1,127}; a cspf path is
 * segments joined by '/'.  Each '/' becomes "--", so "payments/db" is the
 * secret "payments--db" and a path without '/' is its own name.  To keep
 * that reversible a segment must be [0-9a-zA-Z-]+, must not start or end
 * with '-' and must not hold "--".  The last segment may not be
 * "cspf-pending" or "cspf-record" (the companions below), and the name is
 * at most 112 characters so that a companion's name still fits.  Other
 * paths are refused (CSPF_EINVALID).
 *
 * Labels.  Consumers read GET /secrets/{name}: the latest version, which
 * must be enabled (a disabled latest version answers 403 to them).  So:
 *
 *   current   the latest version of {name};
 *   previous  the version named by current's tag cspf-previous (set by
 *             every promote and put); for a secret cspf never wrote, the
 *             newest other version created no later than current;
 *   pending   never a version of {name}: the latest version of the
 *             companion secret {name}--cspf-pending, when it is enabled
 *             and tagged cspf-rotation.
 *
 * Every version cspf writes is tagged cspf-rotation (the rotation id, when
 * a rotation wrote it), cspf-key-id (the credential's public id) and
 * cspf-previous (the version it replaced); tags hold public facts only.
 *
 *   stage     PUT a new version of the companion, then disable the
 *             companion version it supersedes;
 *   promote   PUT the pending value as a new version of {name} (tags
 *             copied, exp copied), then disable the companion version.  A
 *             run that died in between finds current tagged with its
 *             rotation id and only disables the companion;
 *   discard   disable the companion version (a disabled version's value
 *             cannot be read: GET answers 403).  Nothing is deleted:
 *             Key Vault's soft delete would keep the name taken until a
 *             purge, which needs a permission cspf should not need.
 *
 * The rotation record and its compare-and-swap.  Key Vault has no
 * conditional write on secrets (no ETag, no If-Match), so the claim is
 * built from what it does guarantee: a PUT makes a new version with a
 * server-assigned id and creation time, and listing a secret's versions
 * shows every version written before.  The record lives in the companion
 * {name}--cspf-record; each version holds one record and the tags
 * cspf-expect (the tag its writer read, "none" for the first) and
 * cspf-writer (a random nonce).  The tag of a record is its version id.
 *
 * The valid history is a chain, computed the same way by every reader:
 * start from "none"; the successor of tag T is, among the versions whose
 * cspf-expect is T, the one created first (ties, within one second,
 * broken by the smaller version id); repeat.  The record is the chain's
 * last version.  A writer PUTs its version, waits until the server's
 * clock has left the second its version was created in (1.1 s after the
 * answer: any later PUT gets a later creation time, so nobody can come
 * before it any more), lists the versions, and has won exactly when its
 * version is on the chain; otherwise CSPF_ECONFLICT.  Two writers that
 * expect the same tag both see each other after their waits and agree on
 * one winner.  A reader that finds the chain's end created in the last
 * second waits as well and reads again, so it never reports a version
 * that a writer still in its wait could lose.
 *
 * Limits, honestly: the argument relies on Key Vault assigning `created`
 * from a clock that does not go backwards and on a list reflecting every
 * version whose PUT has been answered (read-after-write in one region);
 * a record_put costs a PUT, a wait of about a second and a list; every
 * record_put, lost ones included, leaves a version, and lists grow with
 * them (25 a page); a writer that dies after its PUT may still have won
 * (its record is then the claim, with the expiry the rotate module gives
 * claims).  A writer whose clock stalls for more than the wait can still
 * only lose: it never wins by mistake, since the decision is the chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/http.h"
#include "http/http_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "vault/vault_private.h"
#include "util/banned.h"

#define API_VERSION "7.4"
#define KV_SCOPE "https://vault.azure.net/.default"
#define NAME_MAX_LEN 112
#define PENDING_SUFFIX "--cspf-pending"
#define RECORD_SUFFIX "--cspf-record"
#define TAG_ROTATION "cspf-rotation"
#define TAG_KEY_ID "cspf-key-id"
#define TAG_PREVIOUS "cspf-previous"
#define TAG_EXPECT "cspf-expect"
#define TAG_WRITER "cspf-writer"
#define EXPECT_NONE "none"
#define SETTLE_MS 1100

struct azkv {
	struct cspf_vault base; /* first */
	cspf_http_client *http;
	cspf_http_oauth2 *token;
	char *url; /* the vault's URL, no trailing '/' */
	const char *vname; /* for messages before vault.c sets base.name */
};

/* The public facts of one Key Vault version. */
struct kvv {
	char *version;
	char *rotation, *key_id, *previous, *expect;
	int64_t created;
	int64_t exp; /* 0: none */
	bool enabled;
};

struct kvv_list {
	struct kvv *v;
	size_t n, alloc;
	int64_t server_now; /* the Date of the last page, 0 when unknown */
};

static void kvv_dispose(struct kvv *v)
{
	free(v->version);
	free(v->rotation);
	free(v->key_id);
	free(v->previous);
	free(v->expect);
	memset(v, 0, sizeof(*v));
}

static void kvv_list_dispose(struct kvv_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		kvv_dispose(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static const char *vname(const struct azkv *k)
{
	return k->base.name ? k->base.name : k->vname;
}

/* ---- names ---- */

static bool seg_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z') || c == '-';
}

/*
 * The Key Vault name of `path` plus `suffix` into *out (malloc'd), or
 * CSPF_EINVALID naming the rule the path breaks.
 */
static int kv_name(char **out, const struct azkv *k, const char *path,
	const char *suffix)
{
	cspf_buf b = CSPF_BUF_INIT;
	const char *seg = path, *p;
	size_t n;

	*out = NULL;
	for (;;) {
		p = strchr(seg, '/');
		n = p ? (size_t)(p - seg) : strlen(seg);
		if (n == 0 || seg[0] == '-' || seg[n - 1] == '-')
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!seg_char(seg[i]) ||
			    (seg[i] == '-' && i + 1 < n && seg[i + 1] == '-'))
				goto bad;
		if (!p && ((n == 12 && !memcmp(seg, "cspf-pending", 12)) ||
			    (n == 11 && !memcmp(seg, "cspf-record", 11))))
			goto reserved;
		cspf_buf_put(&b, seg, n);
		if (!p)
			break;
		cspf_buf_puts(&b, "--");
		seg = p + 1;
	}
	if (b.size > NAME_MAX_LEN) {
		cspf_buf_dispose(&b);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: path %s: too long for Key Vault (at most %d characters once each '/' is \"--\")",
			vname(k), path, NAME_MAX_LEN);
	}
	cspf_buf_puts(&b, suffix);
	if (cspf_buf_oom(&b))
		return cspf_error_set_oom();
	*out = cspf_buf_detach(&b);
	return 0;
bad:
	cspf_buf_dispose(&b);
	return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
		"vault %s: path %s cannot be a Key Vault secret name: use segments of [0-9a-zA-Z-] joined by '/', without \"--\" and not starting or ending with '-'",
		vname(k), path);
reserved:
	cspf_buf_dispose(&b);
	return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
		"vault %s: path %s: cspf-pending and cspf-record are reserved for cspf's own companion secrets",
		vname(k), path);
}

/* ---- HTTP ---- */

static int bearer(cspf_http_request *req, void *payload)
{
	cspf_http_oauth2 *ts = payload;
	const cspf_secret *token = NULL;
	int r;

	if ((r = cspf_http_oauth2_token(&token, ts)) < 0)
		return r;
	return cspf_http_request_set_header_secret(req, "Authorization",
		"Bearer ", token);
}

/* {vault}/secrets/{name}[/{rest}]?api-version=7.4, malloc'd. */
static char *kv_url(const struct azkv *k, const char *name, const char *rest)
{
	cspf_buf b = CSPF_BUF_INIT;

	cspf_buf_printf(&b, "%s/secrets/%s%s%s?api-version=" API_VERSION,
		k->url, name, rest ? "/" : "", rest ? rest : "");
	return cspf_buf_detach(&b);
}

/*
 * One call to Key Vault.  `sbody` (a secret body) or `body` (plain JSON)
 * may be given; `sensitive` puts the answer in guarded memory.  *out is
 * the response, whatever its status; after a 401 the token is fetched
 * again once.
 */
static int kv_call(cspf_http_response **out, struct azkv *k,
	const char *method, const char *url, const cspf_secret *sbody,
	const char *body, bool sensitive)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	int r, tries;

	*out = NULL;
	for (tries = 0; tries < 2; tries++) {
		if ((r = cspf_http_request_new(&req, method, url)) < 0)
			return r;
		cspf_http_request_set_prepare(req, bearer, k->token);
		if ((r = cspf_http_request_set_header(req, "Accept",
			     "application/json")) < 0)
			goto done;
		if (sbody || body) {
			if ((r = cspf_http_request_set_header(req,
				     "Content-Type", "application/json")) < 0)
				goto done;
			r = sbody ? cspf_http_request_set_body_secret(req,
					    sbody) :
				    cspf_http_request_set_body(req, body,
					    strlen(body));
			if (r < 0)
				goto done;
		}
		if (sensitive)
			cspf_http_request_set_sensitive(req, true);
		if ((r = cspf_http_perform(&resp, k->http, req)) < 0)
			goto done;
		cspf_http_request_free(req);
		req = NULL;
		if (cspf_http_response_status(resp) != 401 || tries == 1)
			break;
		cspf_http_response_free(resp);
		resp = NULL;
		cspf_http_oauth2_invalidate(k->token);
	}
	*out = resp;
	return 0;
done:
	cspf_http_request_free(req);
	return r;
}

/* Copy a short printable part of JSON string member `key` of `obj`. */
static void err_field(cspf_buf *b, const cJSON *obj, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
	size_t i, n;

	if (!cJSON_IsString(s))
		return;
	n = strlen(s->valuestring);
	if (n > 300)
		n = 300;
	if (b->size)
		cspf_buf_puts(b, ": ");
	for (i = 0; i < n; i++)
		cspf_buf_putc(b, (unsigned char)s->valuestring[i] < 0x20 ?
				' ' : s->valuestring[i]);
}

/*
 * Raise the error of a failed answer: the vault, the path, what was
 * done, the status and Key Vault's code and message (which never hold a
 * value), and what to do.  Returns the code.
 */
static int kv_fail(const struct azkv *k, const char *path, const char *what,
	const cspf_http_response *resp)
{
	int status = cspf_http_response_status(resp), code = CSPF_ERROR;
	cspf_buf why = CSPF_BUF_INIT;
	const char *body, *hint = "";
	size_t len;
	cJSON *j = NULL;
	const cJSON *e;

	if (cspf_http_response_body_open(&body, &len, resp) == 0) {
		j = cJSON_ParseWithLength(body, len);
		cspf_http_response_body_close(resp);
	}
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	err_field(&why, e, "code");
	err_field(&why, cJSON_GetObjectItemCaseSensitive(e, "innererror"),
		"code");
	err_field(&why, e, "message");
	switch (status) {
	case 401:
	case 403:
		code = CSPF_EAUTH;
		hint = " (check that cspf's application may get, list and set secrets of this vault)";
		break;
	case 404:
		code = CSPF_ENOTFOUND;
		break;
	case 409:
		hint = " (a deleted secret keeps its name until it is recovered or purged)";
		break;
	}
	cspf_error_set(code, CSPF_ERRCLASS_INVALID,
		"vault %s: %s %s: HTTP %d%s%s%s", vname(k), what, path, status,
		why.size ? ": " : "", why.size ? why.ptr : "", hint);
	cspf_buf_dispose(&why);
	cJSON_Delete(j);
	return code;
}

static char *dup_tag(const cJSON *tags, const char *key)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(tags, key);

	return cJSON_IsString(t) && *t->valuestring ?
		strdup(t->valuestring) : NULL;
}

/* The facts of a version from its id, attributes and tags. */
static int kvv_from(struct kvv *out, const char *id, const cJSON *attrs,
	const cJSON *tags)
{
	const cJSON *x;
	const char *slash = id ? strrchr(id, '/') : NULL;

	memset(out, 0, sizeof(*out));
	if (!slash || !slash[1])
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
			"Key Vault answered a secret without a version id");
	if (!(out->version = strdup(slash + 1)))
		return cspf_error_set_oom();
	x = cJSON_GetObjectItemCaseSensitive(attrs, "created");
	out->created = cJSON_IsNumber(x) ? (int64_t)x->valuedouble : 0;
	x = cJSON_GetObjectItemCaseSensitive(attrs, "exp");
	out->exp = cJSON_IsNumber(x) ? (int64_t)x->valuedouble : 0;
	x = cJSON_GetObjectItemCaseSensitive(attrs, "enabled");
	out->enabled = !cJSON_IsFalse(x);
	out->rotation = dup_tag(tags, TAG_ROTATION);
	out->key_id = dup_tag(tags, TAG_KEY_ID);
	out->previous = dup_tag(tags, TAG_PREVIOUS);
	out->expect = dup_tag(tags, TAG_EXPECT);
	return 0;
}

/*
 * The facts (and, when `value` is not NULL, the value into guarded
 * memory) of a secret bundle answer.  The value is read in place in the
 * guarded body, never copied into ordinary memory.
 */
static int parse_bundle(struct kvv *meta, cspf_secret **value,
	const cspf_http_response *resp)
{
	const char *body, *v;
	size_t len, n;
	bool str;
	cJSON *attrs = NULL, *tags = NULL;
	char *id = NULL;
	cspf_sbuf sb = CSPF_SBUF_INIT;
	int r = 0;

	if (value)
		*value = NULL;
	if (cspf_http_response_body_open(&body, &len, resp) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
	if (cspf_http_json_member(&v, &n, &str, body, len, "id") < 0 || !str) {
		r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
			"Key Vault answered a secret without an id");
		goto done;
	}
	if (!(id = strndup(v, n))) {
		r = cspf_error_set_oom();
		goto done;
	}
	if (cspf_http_json_member(&v, &n, &str, body, len, "attributes") == 0
		&& !str)
		attrs = cJSON_ParseWithLength(v, n);
	if (cspf_http_json_member(&v, &n, &str, body, len, "tags") == 0 &&
	    !str)
		tags = cJSON_ParseWithLength(v, n);
	if (meta && (r = kvv_from(meta, id, attrs, tags)) < 0)
		goto done;
	if (value) {
		if (cspf_http_json_member(&v, &n, &str, body, len, "value") < 0 ||
		    !str || cspf_http_json_unescape(&sb, v, n) < 0) {
			r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
				"Key Vault answered a secret without a value");
			goto done;
		}
		if (!sb.ptr)
			cspf_sbuf_put(&sb, "", 0);
		if ((r = cspf_sbuf_to_secret(value, &sb)) < 0)
			goto done;
	}
done:
	cspf_http_response_body_close(resp);
	cspf_sbuf_dispose(&sb);
	cJSON_Delete(attrs);
	cJSON_Delete(tags);
	free(id);
	if (r < 0 && meta)
		kvv_dispose(meta);
	return r;
}

/*
 * GET a version of `name` (`version` NULL: the latest).  CSPF_ENOTFOUND
 * for a missing secret or version, and for a disabled one (*disabled
 * then true, when given).
 */
static int kv_get(struct kvv *meta, cspf_secret **value, bool *disabled,
	struct azkv *k, const char *path, const char *name, const char *version)
{
	cspf_http_response *resp = NULL;
	char *url = kv_url(k, name, version ? version : "");
	int r, status;

	if (disabled)
		*disabled = false;
	if (!url)
		return cspf_error_set_oom();
	/* Always sensitive: the answer holds the value even when unwanted. */
	if ((r = kv_call(&resp, k, "GET", url, NULL, NULL, true)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	if (status == 403) {
		const char *b;
		size_t n;

		if (cspf_http_response_body_open(&b, &n, resp) == 0) {
			bool dis = memmem(b, n, "SecretDisabled", 14) ||
				memmem(b, n, "disabled secret", 15);
			cspf_http_response_body_close(resp);
			if (dis) {
				if (disabled)
					*disabled = true;
				r = cspf_error_set(CSPF_ENOTFOUND,
					CSPF_ERRCLASS_INVALID,
					"vault %s: %s: the version is disabled",
					vname(k), path);
				goto done;
			}
		}
	}
	if (status != 200) {
		r = kv_fail(k, path, "reading", resp);
		goto done;
	}
	r = parse_bundle(meta, value, resp);
done:
	cspf_http_response_free(resp);
	free(url);
	return r;
}

/* Append `len` bytes as JSON string contents into guarded memory. */
static void sbuf_put_json(cspf_sbuf *b, const unsigned char *p, size_t len)
{
	char esc[8];
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			cspf_sbuf_putc(b, '\\');
			cspf_sbuf_putc(b, (char)c);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			cspf_sbuf_puts(b, esc);
		} else {
			cspf_sbuf_putc(b, (char)c);
		}
	}
	sodium_memzero(esc, sizeof(esc));
}

/* A tags object: pairs of key, value, NULL-terminated; NULL values skipped. */
static cJSON *tags_new(const char *const *kv)
{
	cJSON *t = cJSON_CreateObject();

	for (; t && kv[0]; kv += 2)
		if (kv[1] && !cJSON_AddStringToObject(t, kv[0], kv[1])) {
			cJSON_Delete(t);
			return NULL;
		}
	return t;
}

/*
 * PUT `value` as a new version of `name` with `tags` (taken) and, when
 * `exp` is not 0, that expiry.  The new version's facts go to *meta when
 * it is not NULL.  The body is built in guarded memory.
 */
static int kv_put(struct kvv *meta, struct azkv *k, const char *path,
	const char *name, const cspf_secret *value, cJSON *tags, int64_t exp)
{
	cJSON *rest = cJSON_CreateObject(), *attrs;
	cspf_sbuf sb = CSPF_SBUF_INIT;
	cspf_secret *body = NULL;
	cspf_http_response *resp = NULL;
	const unsigned char *p;
	char *text = NULL, *url = NULL;
	size_t n;
	int r;

	if (!rest || !tags) {
		cJSON_Delete(tags);
		r = cspf_error_set_oom();
		goto done;
	}
	cJSON_AddItemToObject(rest, "tags", tags);
	if (exp > 0) {
		if (!(attrs = cJSON_AddObjectToObject(rest, "attributes")) ||
		    !cJSON_AddNumberToObject(attrs, "exp", (double)exp)) {
			r = cspf_error_set_oom();
			goto done;
		}
	}
	if (!(text = cJSON_PrintUnformatted(rest)) ||
	    !(url = kv_url(k, name, NULL))) {
		r = cspf_error_set_oom();
		goto done;
	}
	if (cspf_secret_open(&p, &n, value) < 0) {
		r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
		goto done;
	}
	cspf_sbuf_puts(&sb, "{\"value\":\"");
	sbuf_put_json(&sb, p, n);
	cspf_secret_close(value);
	cspf_sbuf_puts(&sb, "\",");
	cspf_sbuf_puts(&sb, text + 1); /* the rest, its '{' dropped */
	if ((r = cspf_sbuf_to_secret(&body, &sb)) < 0)
		goto done;
	if ((r = kv_call(&resp, k, "PUT", url, body, NULL, true)) < 0)
		goto done;
	if (cspf_http_response_status(resp) != 200) {
		r = kv_fail(k, path, "writing", resp);
		goto done;
	}
	r = meta ? parse_bundle(meta, NULL, resp) : 0;
done:
	cspf_http_response_free(resp);
	cspf_secret_free(body);
	cspf_sbuf_dispose(&sb);
	cJSON_Delete(rest);
	free(text);
	free(url);
	return r;
}

/* PATCH a version of `name`: enabled false. */
static int kv_disable(struct azkv *k, const char *path, const char *name,
	const char *version)
{
	cspf_http_response *resp = NULL;
	char *url = kv_url(k, name, version);
	int r;

	if (!url)
		return cspf_error_set_oom();
	r = kv_call(&resp, k, "PATCH", url, NULL,
		"{\"attributes\":{\"enabled\":false}}", false);
	if (r == 0 && cspf_http_response_status(resp) != 200)
		r = kv_fail(k, path, "disabling a version of", resp);
	cspf_http_response_free(resp);
	free(url);
	return r;
}

/* Seconds since the epoch of an HTTP Date header, or 0. */
static int64_t http_date(const cspf_http_response *resp)
{
	const char *v = cspf_http_response_header(resp, "Date");
	struct tm tm;
	const char *end;

	if (!v)
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return end && !*end ? (int64_t)timegm(&tm) : 0;
}

static int list_add(struct kvv_list *l, const cJSON *item)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");

	if (l->n == l->alloc) {
		size_t na = l->alloc ? l->alloc * 2 : 16;
		struct kvv *nv = realloc(l->v, na * sizeof(*nv));

		if (!nv)
			return cspf_error_set_oom();
		l->v = nv;
		l->alloc = na;
	}
	if (kvv_from(&l->v[l->n], cJSON_IsString(id) ? id->valuestring : NULL,
		    cJSON_GetObjectItemCaseSensitive(item, "attributes"),
		    cJSON_GetObjectItemCaseSensitive(item, "tags")) < 0)
		return -1;
	l->n++;
	return 0;
}

/* Every version of `name` (all pages).  CSPF_ENOTFOUND: no such secret. */
static int kv_versions(struct kvv_list *out, struct azkv *k, const char *path,
	const char *name)
{
	cspf_http_response *resp = NULL;
	char *url = kv_url(k, name, "versions"), *next = NULL;
	const char *body;
	const cJSON *item, *nl;
	cJSON *j = NULL;
	size_t len;
	int r = 0, pages = 0;

	memset(out, 0, sizeof(*out));
	if (!url)
		return cspf_error_set_oom();
	while (url) {
		if (++pages > 1000) {
			r = cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
				"vault %s: %s: more than 1000 pages of versions",
				vname(k), path);
			goto done;
		}
		if ((r = kv_call(&resp, k, "GET", url, NULL, NULL, false)) < 0)
			goto done;
		if (cspf_http_response_status(resp) != 200) {
			r = kv_fail(k, path, "listing the versions of", resp);
			goto done;
		}
		out->server_now = http_date(resp);
		body = cspf_http_response_body(resp, &len);
		if (!body || !(j = cJSON_ParseWithLength(body, len))) {
			r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
				"vault %s: %s: the list of versions is not JSON",
				vname(k), path);
			goto done;
		}
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j,
						 "value"))
			if ((r = list_add(out, item)) < 0)
				goto done;
		nl = cJSON_GetObjectItemCaseSensitive(j, "nextLink");
		next = NULL;
		if (cJSON_IsString(nl) && *nl->valuestring) {
			if (!cspf_http_url_same_origin(url, nl->valuestring)) {
				r = cspf_error_set(CSPF_ERROR,
					CSPF_ERRCLASS_URI,
					"vault %s: %s: Key Vault's nextLink points to another host",
					vname(k), path);
				goto done;
			}
			if (!(next = strdup(nl->valuestring))) {
				r = cspf_error_set_oom();
				goto done;
			}
		}
		free(url);
		url = next;
		cJSON_Delete(j);
		j = NULL;
		cspf_http_response_free(resp);
		resp = NULL;
	}
done:
	cJSON_Delete(j);
	cspf_http_response_free(resp);
	free(url);
	if (r < 0)
		kvv_list_dispose(out);
	return r;
}

/* a before b: created first, then the smaller version id. */
static bool kvv_before(const struct kvv *a, const struct kvv *b)
{
	if (a->created != b->created)
		return a->created < b->created;
	return strcmp(a->version, b->version) < 0;
}

/* ---- open and free ---- */

static int azkv_open(cspf_vault **out, const char *name, const cJSON *config,
	const cspf_vault_options *opts)
{
	cspf_http_options ho = CSPF_HTTP_OPTIONS_INIT;
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(config,
		"vault_url");
	const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(config,
		"tenant_id");
	struct azkv *k;
	cspf_secret *secret = NULL;
	const char *client = getenv("AZURE_CLIENT_ID");
	size_t n;
	int r;

	*out = NULL;
	if (!cJSON_IsString(url) || !cspf_http_url_allowed(url->valuestring))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: vault_url must be the vault's https:// URL, such as https://payments-kv.vault.azure.net/",
			name);
	if (tenant && !cJSON_IsString(tenant))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: tenant_id must be a string", name);
	if (!(k = calloc(1, sizeof(*k))))
		return cspf_error_set_oom();
	k->vname = name;
	if (!(k->url = strdup(url->valuestring))) {
		r = cspf_error_set_oom();
		goto fail;
	}
	n = strlen(k->url);
	while (n && k->url[n - 1] == '/')
		k->url[--n] = '\0';
	ho.ca_file = opts->ca_file;
	ho.max_attempts = opts->max_attempts;
	ho.timeout_ms = opts->timeout * 1000;
	if ((r = cspf_http_new(&k->http, &ho)) < 0)
		goto fail;
	if (tenant) {
		if (!client || !*client ||
		    cspf_secret_from_env(&secret, "AZURE_CLIENT_SECRET") < 0) {
			r = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
				"vault %s: set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to sign in to tenant %s",
				name, tenant->valuestring);
			goto fail;
		}
		r = cspf_http_oauth2_azure_new(&k->token, k->http, NULL,
			tenant->valuestring, client, secret, KV_SCOPE);
		cspf_secret_free(secret);
	} else {
		r = cspf_http_oauth2_azure_from_env(&k->token, k->http,
			KV_SCOPE);
	}
	if (r < 0)
		goto fail;
	*out = &k->base;
	return 0;
fail:
	cspf_http_oauth2_free(k->token);
	cspf_http_free(k->http);
	free(k->url);
	free(k);
	return r;
}

static void azkv_free(cspf_vault *v)
{
	struct azkv *k = (struct azkv *)v;

	cspf_http_oauth2_free(k->token);
	cspf_http_free(k->http);
	free(k->url);
	free(k);
}

/* ---- labels ---- */

static int info_from(cspf_vault_version *info, const struct kvv *m)
{
	if (!info)
		return 0;
	info->created = m->created;
	if (!(info->version = strdup(m->version)) ||
	    (m->rotation && !(info->rotation_id = strdup(m->rotation))) ||
	    (m->key_id && !(info->key_id = strdup(m->key_id))))
		return cspf_error_set_oom();
	return 0;
}

/* The version before `cur` when no cspf-previous tag names it. */
static int previous_by_time(char **out, struct azkv *k, const char *path,
	const char *name, const struct kvv *cur)
{
	struct kvv_list l;
	const struct kvv *best = NULL;
	size_t i;
	int r;

	*out = NULL;
	if ((r = kv_versions(&l, k, path, name)) < 0)
		return r;
	for (i = 0; i < l.n; i++) {
		const struct kvv *v = &l.v[i];

		if (!strcmp(v->version, cur->version) || v->created > cur->created)
			continue;
		if (!best || kvv_before(best, v))
			best = v;
	}
	if (best && !(*out = strdup(best->version)))
		r = cspf_error_set_oom();
	kvv_list_dispose(&l);
	if (r == 0 && !*out)
		r = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: %s has no previous version", vname(k), path);
	return r;
}

static int azkv_get(cspf_secret **value, cspf_vault_version *info,
	cspf_vault *v, const char *path, cspf_vault_label label)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv m = { 0 }, cur = { 0 };
	char *name = NULL, *comp = NULL, *prev = NULL;
	int r;

	if ((r = kv_name(&name, k, path, "")) < 0)
		return r;
	switch (label) {
	case CSPF_VAULT_CURRENT:
		if ((r = kv_get(&m, value, NULL, k, path, name, NULL)) < 0)
			goto done;
		break;
	case CSPF_VAULT_PENDING:
		if ((r = kv_name(&comp, k, path, PENDING_SUFFIX)) < 0 ||
		    (r = kv_get(&m, value, NULL, k, path, comp, NULL)) < 0) {
			if (r == CSPF_ENOTFOUND)
				cspf_error_set(CSPF_ENOTFOUND,
					CSPF_ERRCLASS_INVALID,
					"vault %s: %s has no pending version",
					vname(k), path);
			goto done;
		}
		if (!m.rotation) {
			r = cspf_error_set(CSPF_ENOTFOUND,
				CSPF_ERRCLASS_INVALID,
				"vault %s: %s has no pending version",
				vname(k), path);
			goto done;
		}
		break;
	case CSPF_VAULT_PREVIOUS:
		if ((r = kv_get(&cur, NULL, NULL, k, path, name, NULL)) < 0)
			goto done;
		if (cur.previous) {
			prev = strdup(cur.previous);
			if (!prev) {
				r = cspf_error_set_oom();
				goto done;
			}
		} else if ((r = previous_by_time(&prev, k, path, name,
				    &cur)) < 0) {
			goto done;
		}
		if ((r = kv_get(&m, value, NULL, k, path, name, prev)) < 0)
			goto done;
		break;
	default:
		r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: unknown label %d", vname(k), (int)label);
		goto done;
	}
	r = info_from(info, &m);
done:
	kvv_dispose(&m);
	kvv_dispose(&cur);
	free(name);
	free(comp);
	free(prev);
	return r;
}

static int azkv_stage(cspf_vault *v, const char *path,
	const char *rotation_id, const cspf_secret *value, const char *key_id)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv old = { 0 };
	char *comp = NULL;
	bool have_old = false;
	int r;

	if ((r = kv_name(&comp, k, path, PENDING_SUFFIX)) < 0)
		return r;
	r = kv_get(&old, NULL, NULL, k, path, comp, NULL);
	if (r < 0 && r != CSPF_ENOTFOUND)
		goto done;
	have_old = r == 0;
	if (have_old && old.rotation && !strcmp(old.rotation, rotation_id)) {
		r = 0; /* staged already */
		goto done;
	}
	{
		const char *t[] = { TAG_ROTATION, rotation_id, TAG_KEY_ID,
			key_id, NULL };

		if ((r = kv_put(NULL, k, path, comp, value, tags_new(t), 0)) < 0)
			goto done;
	}
	/* The superseded pending value goes out of reach. */
	r = have_old ? kv_disable(k, path, comp, old.version) : 0;
done:
	kvv_dispose(&old);
	free(comp);
	return r;
}

static int azkv_promote(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv cur = { 0 }, pend = { 0 };
	cspf_secret *value = NULL;
	char *name = NULL, *comp = NULL;
	bool have_cur;
	int r;

	if ((r = kv_name(&name, k, path, "")) < 0 ||
	    (r = kv_name(&comp, k, path, PENDING_SUFFIX)) < 0)
		goto done;
	r = kv_get(&cur, NULL, NULL, k, path, name, NULL);
	if (r < 0 && r != CSPF_ENOTFOUND)
		goto done;
	have_cur = r == 0;
	r = kv_get(&pend, NULL, NULL, k, path, comp, NULL);
	if (r < 0 && r != CSPF_ENOTFOUND)
		goto done;
	if (have_cur && cur.rotation && !strcmp(cur.rotation, rotation_id)) {
		/* Promoted already; a run that died may have left the
		 * companion enabled. */
		r = 0;
		if (pend.version && pend.rotation &&
		    !strcmp(pend.rotation, rotation_id))
			r = kv_disable(k, path, comp, pend.version);
		goto done;
	}
	if (!pend.version || !pend.rotation ||
	    strcmp(pend.rotation, rotation_id) != 0) {
		r = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: %s has no pending version of rotation %s to promote",
			vname(k), path, rotation_id);
		goto done;
	}
	kvv_dispose(&pend);
	if ((r = kv_get(&pend, &value, NULL, k, path, comp, NULL)) < 0)
		goto done;
	{
		const char *t[] = { TAG_ROTATION, rotation_id, TAG_KEY_ID,
			pend.key_id, TAG_PREVIOUS,
			have_cur ? cur.version : NULL, NULL };

		if ((r = kv_put(NULL, k, path, name, value, tags_new(t),
			     pend.exp)) < 0)
			goto done;
	}
	r = kv_disable(k, path, comp, pend.version);
done:
	cspf_secret_free(value);
	kvv_dispose(&cur);
	kvv_dispose(&pend);
	free(name);
	free(comp);
	return r;
}

static int azkv_discard(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv pend = { 0 };
	char *comp = NULL;
	int r;

	if ((r = kv_name(&comp, k, path, PENDING_SUFFIX)) < 0)
		return r;
	r = kv_get(&pend, NULL, NULL, k, path, comp, NULL);
	if (r == CSPF_ENOTFOUND)
		r = 0; /* nothing pending, or disabled already */
	else if (r == 0 && pend.rotation && !strcmp(pend.rotation, rotation_id))
		r = kv_disable(k, path, comp, pend.version);
	kvv_dispose(&pend);
	free(comp);
	return r;
}

static int azkv_put(cspf_vault *v, const char *path, const cspf_secret *value,
	const char *key_id)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv cur = { 0 };
	char *name = NULL;
	int r;

	if ((r = kv_name(&name, k, path, "")) < 0)
		return r;
	r = kv_get(&cur, NULL, NULL, k, path, name, NULL);
	if (r < 0 && r != CSPF_ENOTFOUND)
		goto done;
	{
		const char *t[] = { TAG_KEY_ID, key_id, TAG_PREVIOUS,
			cur.version, NULL };

		r = kv_put(NULL, k, path, name, value, tags_new(t), 0);
	}
done:
	kvv_dispose(&cur);
	free(name);
	return r;
}

/* ---- the rotation record ---- */

/*
 * The last version of the record's chain (see the top of this file) in
 * `l`, or NULL when the chain is empty; *on_chain tells whether version
 * `mine` is on it.
 */
static const struct kvv *chain_end(const struct kvv_list *l,
	const char *mine, bool *on_chain)
{
	const struct kvv *end = NULL, *next;
	const char *want = EXPECT_NONE;
	size_t i, steps;

	if (on_chain)
		*on_chain = false;
	for (steps = 0; steps <= l->n; steps++) {
		next = NULL;
		for (i = 0; i < l->n; i++) {
			const struct kvv *v = &l->v[i];

			if (!v->expect || strcmp(v->expect, want) != 0)
				continue;
			if (!next || kvv_before(v, next))
				next = v;
		}
		if (!next)
			break;
		end = next;
		want = next->version;
		if (mine && on_chain && !strcmp(next->version, mine))
			*on_chain = true;
	}
	return end;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static int azkv_record_get(char **record, char **tag, cspf_vault *v,
	const char *path)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv_list l = { 0 };
	const struct kvv *end = NULL;
	cspf_http_response *resp = NULL;
	char *name = NULL, *url = NULL;
	const cJSON *val;
	cJSON *j = NULL;
	const char *body;
	size_t len;
	int r, round;

	if ((r = kv_name(&name, k, path, RECORD_SUFFIX)) < 0)
		return r;
	for (round = 0; round < 2; round++) {
		kvv_list_dispose(&l);
		r = kv_versions(&l, k, path, name);
		if (r == CSPF_ENOTFOUND)
			goto none;
		if (r < 0)
			goto done;
		end = chain_end(&l, NULL, NULL);
		if (!end)
			goto none;
		/* Created in the server's last second: a writer may still be
		 * deciding; read again once its wait is over. */
		if (round == 0 && (!l.server_now ||
					  end->created + 1 >= l.server_now))
			sleep_ms(SETTLE_MS);
		else
			break;
	}
	if (!(url = kv_url(k, name, end->version))) {
		r = cspf_error_set_oom();
		goto done;
	}
	if ((r = kv_call(&resp, k, "GET", url, NULL, NULL, false)) < 0)
		goto done;
	if (cspf_http_response_status(resp) != 200) {
		r = kv_fail(k, path, "reading the rotation record of", resp);
		goto done;
	}
	body = cspf_http_response_body(resp, &len);
	j = body ? cJSON_ParseWithLength(body, len) : NULL;
	val = cJSON_GetObjectItemCaseSensitive(j, "value");
	if (!cJSON_IsString(val)) {
		r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
			"vault %s: %s: the rotation record has no value",
			vname(k), path);
		goto done;
	}
	if (!(*record = strdup(val->valuestring)) ||
	    !(*tag = strdup(end->version)))
		r = cspf_error_set_oom();
	goto done;
none:
	r = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
		"vault %s: %s has no rotation record", vname(k), path);
done:
	cJSON_Delete(j);
	cspf_http_response_free(resp);
	kvv_list_dispose(&l);
	free(name);
	free(url);
	return r;
}

static int azkv_record_put(cspf_vault *v, const char *path,
	const char *record, const char *tag, char **new_tag)
{
	struct azkv *k = (struct azkv *)v;
	struct kvv mine = { 0 };
	struct kvv_list l = { 0 };
	cspf_secret *value = NULL;
	unsigned char nb[16];
	char nonce[33];
	bool won = false;
	char *name = NULL;
	int r;

	if ((r = kv_name(&name, k, path, RECORD_SUFFIX)) < 0)
		return r;
	randombytes_buf(nb, sizeof(nb));
	sodium_bin2hex(nonce, sizeof(nonce), nb, sizeof(nb));
	if ((r = cspf_secret_new(&value, record, strlen(record))) < 0)
		goto done;
	{
		const char *t[] = { TAG_EXPECT, tag ? tag : EXPECT_NONE,
			TAG_WRITER, nonce, NULL };

		if ((r = kv_put(&mine, k, path, name, value, tags_new(t),
			     0)) < 0)
			goto done;
	}
	/* From now on every new version is created in a later second. */
	sleep_ms(SETTLE_MS);
	if ((r = kv_versions(&l, k, path, name)) < 0)
		goto done;
	chain_end(&l, mine.version, &won);
	if (!won) {
		r = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: another run changed the rotation record first; read it again",
			vname(k), path);
		goto done;
	}
	if (new_tag && !(*new_tag = strdup(mine.version)))
		r = cspf_error_set_oom();
done:
	kvv_list_dispose(&l);
	kvv_dispose(&mine);
	cspf_secret_free(value);
	free(name);
	return r;
}

const struct cspf_vault_backend cspf_vault_azure_kv_backend = {
	.version = CSPF_VAULT_BACKEND_VERSION,
	.type = "azure-key-vault",
	.open = azkv_open,
	.get = azkv_get,
	.stage = azkv_stage,
	.promote = azkv_promote,
	.discard = azkv_discard,
	.put = azkv_put,
	.record_get = azkv_record_get,
	.record_put = azkv_record_put,
	.free = azkv_free,
};
