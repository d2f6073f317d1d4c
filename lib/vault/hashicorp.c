/*
 * The hashicorp vault backend: a HashiCorp Vault KV version 2 secrets
 * engine over its HTTP API.
 *
 * Configuration (schema/config.json, $defs/vault_hashicorp): address,
 * mount ("secret"), kv_version (2; KV version 1 keeps no versions and has
 * no check-and-set, so it cannot hold a pending value apart from the
 * current one: refused), namespace, auth, ca_cert.  As with the Vault CLI,
 * VAULT_ADDR overrides the address, VAULT_NAMESPACE the namespace and
 * VAULT_CACERT the CA file.  Auth methods:
 *
 *   token    the token in $token_env (VAULT_TOKEN), else ~/.vault-token
 *            (what `vault login` writes; it must be mode 0600);
 *   approle  POST /v1/auth/<auth.mount|approle>/login with role_id and
 *            the secret id in $secret_id_env; the token is kept for the
 *            handle, fetched again when its lease ends or on a 403.
 *
 * The token goes out as X-Vault-Token (a secret header), the namespace as
 * X-Vault-Namespace.  Values and tokens travel in guarded memory; what
 * cJSON copies out of a response is zeroed before it is freed.
 *
 * Mapping.  A cspf path P of the vault is, under the mount M:
 *
 *   M/data/P                  consumers read this: its latest version is
 *                             always *current*.  Each version's data is
 *                             {"value": <the credential>,
 *                              "cspf_rotation_id": <rotation, if any>,
 *                              "cspf_key_id": <public key id, if any>}:
 *                             the facts sit in the same version as the
 *                             value, so they are never out of step.  A
 *                             later vault reference's `field` may read
 *                             another key; cspf writes "value".
 *   M/data/P, version N-1     *previous*: the version before current.
 *   M/data/_cspf/pending/P    *pending*: the staged value with the same
 *                             facts.  Kept apart from P so that no reader
 *                             of P ever sees it, and outside P's policy
 *                             globs (a policy for the paths under
 *                             M/data/app/ does not reach it).
 *   M/data/_cspf/rotation/P   the rotation record: {"record": "<text>"};
 *                             its compare-and-swap tag is the version.
 *   M/metadata/P              custom_metadata cspf_rotation_id,
 *                             cspf_key_id, cspf_version: the facts of
 *                             current, for people (`vault kv metadata
 *                             get`); cspf itself reads the data.
 *
 * Paths under "_cspf/" are cspf's own and refused as secret paths.
 *
 * Every write is a check-and-set (options.cas: 0 when the key must not
 * exist, else the version just read), so two writers never both win; a
 * loser reads again and finds out whether the winner did its work.
 *
 *   stage    pending of R already: nothing.  Else write pending with
 *            cas = its version.
 *   promote  current already of R: clean up.  Else read pending of R and
 *            write it as a new version of P with cas = current's
 *            version; then the custom_metadata; then destroy the pending
 *            version.  A run that died between any two steps repeats the
 *            call: it finds current of R and only cleans up.
 *   discard  destroys the pending version if it is R's.
 *   put      current already holds the same value and key id: nothing.
 *            Else a new version of P (cas), then custom_metadata.
 *
 * Retries of transient failures (5xx, 429, dropped connections) are the
 * HTTP layer's; a retried write that had taken effect comes back as a
 * check-and-set mismatch and is recognised by reading again.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/http.h"
#include "cspf/time.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "vault/vault_private.h"

#define HC_PREFIX "_cspf/"
#define HC_PENDING "_cspf/pending/"
#define HC_RECORD "_cspf/rotation/"

enum hc_auth { HC_AUTH_TOKEN, HC_AUTH_APPROLE };

struct hc_vault {
	struct cspf_vault base; /* first */
	cspf_http_client *http;
	char *addr;  /* no trailing '/' */
	char *mount;
	char *ns;    /* NULL: none */
	enum hc_auth method;
	cspf_secret *token;     /* NULL until an AppRole login */
	int64_t token_until;    /* monotonic seconds; 0: no expiry known */
	char *role_id;
	char *secret_id_env;
	char *auth_mount;
	cspf_secret *secret_id;
};

/* The facts and value of one version, as read. */
struct hc_version {
	int64_t version; /* 0 when unknown */
	int64_t created;
	cspf_secret *value;
	char *rotation_id;
	char *key_id;
};

static void hc_version_dispose(struct hc_version *v)
{
	cspf_secret_free(v->value);
	free(v->rotation_id);
	free(v->key_id);
	memset(v, 0, sizeof(*v));
}

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static const char *vname(const struct hc_vault *hv)
{
	return hv->base.name ? hv->base.name : "(hashicorp)";
}

/* Zero every string cJSON copied out of a document that held secrets. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

static void json_free_wiped(cJSON *j)
{
	json_wipe(j);
	cJSON_Delete(j);
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t c;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			c = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			c = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			c = s[i] & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
		    (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
		    (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Append `s` as a JSON string (with quotes) to a guarded buffer. */
static void sbuf_put_json(cspf_sbuf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[7];
	size_t i;

	cspf_sbuf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			cspf_sbuf_putc(b, '\\');
			cspf_sbuf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			cspf_sbuf_put(b, esc, 6);
		} else {
			cspf_sbuf_putc(b, (char)c);
		}
	}
	cspf_sbuf_putc(b, '"');
	sodium_memzero(esc, sizeof(esc));
}

/*
 * URLs.
 */

/* The path of the KV entry that holds `which` for cspf path `path`. */
static char *kv_path(const char *prefix, const char *path)
{
	cspf_buf b = CSPF_BUF_INIT;

	cspf_buf_puts(&b, prefix);
	cspf_buf_puts(&b, path);
	return cspf_buf_detach(&b);
}

/* addr/v1/mount/op/path[?version=N], each segment of path encoded. */
static int hc_url(char **out, const struct hc_vault *hv, const char *op,
	const char *path, int64_t version)
{
	cspf_buf b = CSPF_BUF_INIT;
	const char *p = path, *slash;
	char *enc;

	*out = NULL;
	cspf_buf_printf(&b, "%s/v1/%s/%s", hv->addr, hv->mount, op);
	while (p && *p) {
		slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!(enc = cspf_http_urlencode(p, n))) {
			cspf_buf_dispose(&b);
			return cspf_error_set_oom();
		}
		cspf_buf_putc(&b, '/');
		cspf_buf_puts(&b, enc);
		free(enc);
		p = slash ? slash + 1 : NULL;
	}
	if (version > 0)
		cspf_buf_printf(&b, "?version=%lld", (long long)version);
	if (cspf_buf_oom(&b)) {
		cspf_buf_dispose(&b);
		return cspf_error_set_oom();
	}
	*out = cspf_buf_detach(&b);
	return 0;
}

/* A cspf path must be plain segments and not one of cspf's own. */
static int check_path(const struct hc_vault *hv, const char *path)
{
	const char *p = path, *slash;
	size_t n;

	if (!strncmp(path, HC_PREFIX, strlen(HC_PREFIX)) ||
	    !strcmp(path, "_cspf"))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: paths under \"_cspf/\" are where cspf "
			"keeps pending values and rotation records; choose "
			"another path", vname(hv), path);
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"vault %s: %s: a secret's path is segments "
				"separated by single '/', none empty, \".\" or "
				"\"..\"", vname(hv), path);
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

/*
 * Requests.
 */

/* The first of Vault's "errors", printable and short, into `out`. */
static void server_words(cspf_buf *out, const cJSON *root)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *e = cJSON_IsArray(errs) ? errs->child : NULL;
	size_t i, n;

	if (!cJSON_IsString(e))
		return;
	n = strlen(e->valuestring);
	if (n > 300)
		n = 300;
	cspf_buf_puts(out, ": ");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e->valuestring[i];

		cspf_buf_putc(out, c < 0x20 ? ' ' : (char)c);
	}
}

static cJSON *parse_body(const cspf_http_response *resp)
{
	const char *body;
	size_t len;
	cJSON *root;

	if (cspf_http_response_body_open(&body, &len, resp) < 0)
		return NULL;
	root = len ? cJSON_ParseWithLength(body, len) : NULL;
	cspf_http_response_body_close(resp);
	return root;
}

static bool is_cas_mismatch(const cJSON *root)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *e;

	cJSON_ArrayForEach(e, errs)
		if (cJSON_IsString(e) && strstr(e->valuestring, "check-and-set"))
			return true;
	return false;
}

/*
 * The error for a response that is not what `what` (such as "read
 * secret/data/app/db") wanted.  Vault's own words are quoted unless the
 * request carried a secret (`quiet`).
 */
static int hc_status_error(const struct hc_vault *hv,
	const cspf_http_response *resp, const cJSON *root, const char *what,
	bool quiet)
{
	cspf_buf words = CSPF_BUF_INIT;
	int status = cspf_http_response_status(resp), code;
	unsigned int attempts = cspf_http_response_attempts(resp);

	if (!quiet && root)
		server_words(&words, root);
	if (status == 401 || status == 403) {
		code = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: permission denied (HTTP %d%s): check "
			"the token (auth in cspf.json, VAULT_TOKEN) and that "
			"its policy allows this path", vname(hv), what, status,
			words.ptr);
	} else if (status == 404) {
		code = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: not found (HTTP 404%s): check the "
			"address, the mount \"%s\" and the path", vname(hv),
			what, words.ptr, hv->mount);
	} else if (status == 429 || status >= 500) {
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: the server answered HTTP %d%s after %u "
			"attempt%s: try again later", vname(hv), what, status,
			words.ptr, attempts, attempts == 1 ? "" : "s");
	} else {
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: unexpected HTTP %d%s", vname(hv), what,
			status, words.ptr);
	}
	cspf_buf_dispose(&words);
	return code;
}

/* A transport failure: what the HTTP layer said, with the vault's name. */
static int hc_transport_error(const struct hc_vault *hv, int rc,
	const char *what)
{
	const cspf_error *e = cspf_error_last();
	char *deep = strdup(e && e->message ? e->message : "no answer");

	rc = cspf_error_set(rc, CSPF_ERRCLASS_OS,
		"vault %s: %s: %s: is the server at %s up?", vname(hv), what,
		deep ? deep : "no answer", hv->addr);
	free(deep);
	return rc;
}

static int approle_login(struct hc_vault *hv);

/*
 * One blocking call.  `body` is a secret (NULL: none) or `plain` is;
 * `sensitive` puts the answer in guarded memory.  *out is the response
 * whatever its status; negative only when no answer came.
 */
static int hc_call_once(cspf_http_response **out, struct hc_vault *hv,
	const char *method, const char *url, const char *ctype,
	const cspf_secret *body, const char *plain, bool sensitive,
	bool with_token)
{
	cspf_http_request *req = NULL;
	int rc;

	*out = NULL;
	if ((rc = cspf_http_request_new(&req, method, url)) < 0 ||
	    (rc = cspf_http_request_set_header(req, "X-Vault-Request",
		"true")) < 0 ||
	    (rc = cspf_http_request_set_header(req, "Accept",
		"application/json")) < 0 ||
	    (rc = cspf_http_request_set_action(req, method)) < 0)
		goto done;
	if (hv->ns && (rc = cspf_http_request_set_header(req,
		"X-Vault-Namespace", hv->ns)) < 0)
		goto done;
	/*
	 * Sent with every call: readable while the handle lives, so that
	 * each request shares it instead of copying and re-protecting it.
	 */
	if (with_token)
		cspf_secret_hold(hv->token);
	if (with_token && (rc = cspf_http_request_set_header_secret(req,
		"X-Vault-Token", NULL, hv->token)) < 0)
		goto done;
	if ((body || plain) && (rc = cspf_http_request_set_header(req,
		"Content-Type", ctype ? ctype : "application/json")) < 0)
		goto done;
	if (body && (rc = cspf_http_request_set_body_secret(req, body)) < 0)
		goto done;
	if (plain &&
	    (rc = cspf_http_request_set_body(req, plain, strlen(plain))) < 0)
		goto done;
	if (sensitive)
		cspf_http_request_set_sensitive(req, true);
	rc = cspf_http_perform(out, hv->http, req);
done:
	cspf_http_request_free(req);
	return rc;
}

/* A token that is valid now: an AppRole login when needed. */
static int hc_token(struct hc_vault *hv)
{
	if (hv->method == HC_AUTH_TOKEN)
		return 0;
	if (hv->token && (!hv->token_until || mono_s() < hv->token_until))
		return 0;
	return approle_login(hv);
}

/*
 * hc_call_once() with a token; an AppRole token refused with 403 (revoked,
 * expired early) is fetched again, once.
 */
static int hc_call(cspf_http_response **out, struct hc_vault *hv,
	const char *method, const char *url, const char *ctype,
	const cspf_secret *body, const char *plain, bool sensitive,
	const char *what)
{
	int rc;

	*out = NULL;
	if ((rc = hc_token(hv)) < 0)
		return rc;
	rc = hc_call_once(out, hv, method, url, ctype, body, plain, sensitive,
		true);
	if (rc == 0 && hv->method == HC_AUTH_APPROLE &&
	    cspf_http_response_status(*out) == 403) {
		cspf_http_response_free(*out);
		*out = NULL;
		cspf_secret_free(hv->token);
		hv->token = NULL;
		if ((rc = approle_login(hv)) < 0)
			return rc;
		rc = hc_call_once(out, hv, method, url, ctype, body, plain,
			sensitive, true);
	}
	if (rc < 0)
		return hc_transport_error(hv, rc, what);
	return 0;
}

static int approle_login(struct hc_vault *hv)
{
	cspf_sbuf form = CSPF_SBUF_INIT;
	cspf_secret *body = NULL;
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *auth, *tok, *lease;
	cspf_buf url = CSPF_BUF_INIT, what = CSPF_BUF_INIT;
	int rc;

	cspf_secret_free(hv->token);
	hv->token = NULL;
	cspf_buf_printf(&url, "%s/v1/auth/%s/login", hv->addr, hv->auth_mount);
	cspf_buf_printf(&what, "AppRole login at auth/%s as role %s",
		hv->auth_mount, hv->role_id);
	cspf_sbuf_puts(&form, "{\"role_id\":");
	sbuf_put_json(&form, (const unsigned char *)hv->role_id,
		strlen(hv->role_id));
	cspf_sbuf_puts(&form, ",\"secret_id\":");
	{
		const unsigned char *p;
		size_t n;

		if (cspf_secret_open(&p, &n, hv->secret_id) == 0) {
			sbuf_put_json(&form, p, n);
			cspf_secret_close(hv->secret_id);
		} else {
			form.oom = true;
		}
	}
	cspf_sbuf_putc(&form, '}');
	if (cspf_buf_oom(&url) || cspf_buf_oom(&what)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = cspf_sbuf_to_secret(&body, &form)) < 0)
		goto done;
	rc = hc_call_once(&resp, hv, "POST", url.ptr, NULL, body, NULL, true,
		false);
	if (rc < 0) {
		rc = hc_transport_error(hv, rc, what.ptr);
		goto done;
	}
	root = parse_body(resp);
	if (cspf_http_response_status(resp) != 200) {
		int status = cspf_http_response_status(resp);

		if (status == 400 || status == 401 || status == 403) {
			cspf_buf words = CSPF_BUF_INIT;

			server_words(&words, root);
			rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
				"vault %s: %s refused (HTTP %d%s): check "
				"role_id and the secret id in %s", vname(hv),
				what.ptr, status, words.ptr, hv->secret_id_env);
			cspf_buf_dispose(&words);
		} else {
			rc = hc_status_error(hv, resp, root, what.ptr, false);
		}
		goto done;
	}
	auth = cJSON_GetObjectItemCaseSensitive(root, "auth");
	tok = cJSON_GetObjectItemCaseSensitive(auth, "client_token");
	lease = cJSON_GetObjectItemCaseSensitive(auth, "lease_duration");
	if (!cJSON_IsString(tok) || !*tok->valuestring) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: the answer has no auth.client_token",
			vname(hv), what.ptr);
		goto done;
	}
	if ((rc = cspf_secret_new(&hv->token, tok->valuestring,
		strlen(tok->valuestring))) < 0)
		goto done;
	hv->token_until = 0;
	if (cJSON_IsNumber(lease) && lease->valuedouble > 0)
		hv->token_until = mono_s() +
			(int64_t)(lease->valuedouble * 0.9);
	rc = 0;
done:
	json_free_wiped(root);
	cspf_sbuf_dispose(&form);
	cspf_secret_free(body);
	cspf_http_response_free(resp);
	cspf_buf_dispose(&url);
	cspf_buf_dispose(&what);
	return rc;
}

/*
 * KV v2 operations.
 */

static char *dup_string(const cJSON *j)
{
	return cJSON_IsString(j) ? strdup(j->valuestring) : NULL;
}

/*
 * Read version `version` (0: latest) of KV entry `kvp` into *out: its
 * facts, and its "value" when `want_value`.  CSPF_ENOTFOUND (with no
 * error raised) when the entry, or that version, is absent, deleted or
 * destroyed; out->version then says the version Vault named, if any.
 */
static int kv_read(struct hc_version *out, struct hc_vault *hv,
	const char *kvp, int64_t version, bool want_value)
{
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *data, *kv, *meta, *j;
	char *url = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	int rc, status;

	memset(out, 0, sizeof(*out));
	cspf_buf_printf(&what, "read %s/data/%s", hv->mount, kvp);
	if ((rc = hc_url(&url, hv, "data", kvp, version)) < 0)
		goto done;
	if ((rc = hc_call(&resp, hv, "GET", url, NULL, NULL, NULL, true,
		what.ptr)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	root = parse_body(resp);
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	meta = cJSON_GetObjectItemCaseSensitive(data, "metadata");
	j = cJSON_GetObjectItemCaseSensitive(meta, "version");
	if (cJSON_IsNumber(j))
		out->version = (int64_t)j->valuedouble;
	if (status == 404) {
		rc = CSPF_ENOTFOUND;
		goto done;
	}
	if (status != 200) {
		rc = hc_status_error(hv, resp, root, what.ptr, true);
		goto done;
	}
	kv = cJSON_GetObjectItemCaseSensitive(data, "data");
	if (!cJSON_IsObject(kv) || !out->version) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: the answer is not a KV version 2 "
			"secret: is %s a KV v2 mount?", vname(hv), what.ptr,
			hv->mount);
		goto done;
	}
	j = cJSON_GetObjectItemCaseSensitive(meta, "created_time");
	if (cJSON_IsString(j) && cspf_time_parse(&out->created,
		j->valuestring) < 0)
		out->created = 0;
	out->rotation_id = dup_string(cJSON_GetObjectItemCaseSensitive(kv,
		"cspf_rotation_id"));
	out->key_id = dup_string(cJSON_GetObjectItemCaseSensitive(kv,
		"cspf_key_id"));
	if (want_value) {
		j = cJSON_GetObjectItemCaseSensitive(kv, "value");
		if (!cJSON_IsString(j)) {
			rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"vault %s: %s (version %lld) has no string "
				"\"value\": cspf keeps a credential under the "
				"key \"value\"", vname(hv), what.ptr + 5,
				(long long)out->version);
			goto done;
		}
		if ((rc = cspf_secret_new(&out->value, j->valuestring,
			strlen(j->valuestring))) < 0)
			goto done;
	}
	rc = 0;
done:
	if (rc < 0 && rc != CSPF_ENOTFOUND) {
		int64_t v = out->version;

		hc_version_dispose(out);
		out->version = v;
	}
	json_free_wiped(root);
	cspf_http_response_free(resp);
	free(url);
	cspf_buf_dispose(&what);
	return rc;
}

/*
 * The current_version of KV entry `kvp` from its metadata (0 when the
 * entry does not exist): the check-and-set value for the next write.
 */
static int kv_current_version(int64_t *out, struct hc_vault *hv,
	const char *kvp)
{
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *j;
	char *url = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	int rc;

	*out = 0;
	cspf_buf_printf(&what, "read %s/metadata/%s", hv->mount, kvp);
	if ((rc = hc_url(&url, hv, "metadata", kvp, 0)) < 0 ||
	    (rc = hc_call(&resp, hv, "GET", url, NULL, NULL, NULL, false,
		what.ptr)) < 0)
		goto done;
	root = parse_body(resp);
	if (cspf_http_response_status(resp) == 404) {
		rc = 0;
		goto done;
	}
	if (cspf_http_response_status(resp) != 200) {
		rc = hc_status_error(hv, resp, root, what.ptr, false);
		goto done;
	}
	j = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "data"),
		"current_version");
	if (!cJSON_IsNumber(j)) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: no current_version in the answer: is "
			"%s a KV v2 mount?", vname(hv), what.ptr, hv->mount);
		goto done;
	}
	*out = (int64_t)j->valuedouble;
	rc = 0;
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	free(url);
	cspf_buf_dispose(&what);
	return rc;
}

/*
 * Write a new version of `kvp` holding `value` and its facts, if its
 * current version is still `cas`.  CSPF_ECONFLICT (no error raised) when
 * it is not.  *written gets the new version.
 */
static int kv_write_value(int64_t *written, struct hc_vault *hv,
	const char *kvp, int64_t cas, const cspf_secret *value,
	const char *rotation_id, const char *key_id)
{
	cspf_sbuf b = CSPF_SBUF_INIT;
	cspf_secret *body = NULL;
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *j;
	const unsigned char *p;
	char *url = NULL;
	char num[32];
	cspf_buf what = CSPF_BUF_INIT;
	size_t n;
	int rc;

	*written = 0;
	cspf_buf_printf(&what, "write %s/data/%s", hv->mount, kvp);
	if (cspf_secret_open(&p, &n, value) < 0) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", vname(hv));
		goto done;
	}
	if (!utf8_valid(p, n)) {
		cspf_secret_close(value);
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: a KV secret holds JSON text, and this "
			"value is not UTF-8: encode it (base64) first",
			vname(hv), what.ptr);
		goto done;
	}
	snprintf(num, sizeof(num), "%lld", (long long)cas);
	cspf_sbuf_puts(&b, "{\"options\":{\"cas\":");
	cspf_sbuf_puts(&b, num);
	cspf_sbuf_puts(&b, "},\"data\":{\"value\":");
	sbuf_put_json(&b, p, n);
	cspf_secret_close(value);
	if (rotation_id) {
		cspf_sbuf_puts(&b, ",\"cspf_rotation_id\":");
		sbuf_put_json(&b, (const unsigned char *)rotation_id,
			strlen(rotation_id));
	}
	if (key_id) {
		cspf_sbuf_puts(&b, ",\"cspf_key_id\":");
		sbuf_put_json(&b, (const unsigned char *)key_id,
			strlen(key_id));
	}
	cspf_sbuf_puts(&b, "}}");
	if ((rc = cspf_sbuf_to_secret(&body, &b)) < 0 ||
	    (rc = hc_url(&url, hv, "data", kvp, 0)) < 0 ||
	    (rc = hc_call(&resp, hv, "POST", url, NULL, body, NULL, false,
		what.ptr)) < 0)
		goto done;
	root = parse_body(resp);
	if (cspf_http_response_status(resp) == 400 && is_cas_mismatch(root)) {
		rc = CSPF_ECONFLICT;
		goto done;
	}
	if (cspf_http_response_status(resp) != 200 &&
	    cspf_http_response_status(resp) != 204) {
		rc = hc_status_error(hv, resp, root, what.ptr, true);
		goto done;
	}
	j = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "data"), "version");
	if (cJSON_IsNumber(j))
		*written = (int64_t)j->valuedouble;
	rc = 0;
done:
	cJSON_Delete(root);
	cspf_sbuf_dispose(&b);
	cspf_secret_free(body);
	cspf_http_response_free(resp);
	free(url);
	cspf_buf_dispose(&what);
	return rc;
}

/* Destroy version `version` of `kvp` for good (POST destroy). */
static int kv_destroy(struct hc_vault *hv, const char *kvp, int64_t version)
{
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	char *url = NULL;
	char body[64];
	cspf_buf what = CSPF_BUF_INIT;
	int rc, status;

	cspf_buf_printf(&what, "destroy version %lld of %s/data/%s",
		(long long)version, hv->mount, kvp);
	snprintf(body, sizeof(body), "{\"versions\":[%lld]}",
		(long long)version);
	if ((rc = hc_url(&url, hv, "destroy", kvp, 0)) < 0 ||
	    (rc = hc_call(&resp, hv, "POST", url, NULL, NULL, body, false,
		what.ptr)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	if (status != 204 && status != 200 && status != 404) {
		root = parse_body(resp);
		rc = hc_status_error(hv, resp, root, what.ptr, false);
		goto done;
	}
	rc = 0;
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	free(url);
	cspf_buf_dispose(&what);
	return rc;
}

/*
 * The facts of current into P's custom_metadata (PATCH, JSON merge
 * patch: other keys stay).  A server without PATCH on metadata (before
 * Vault 1.10: 405) is let be: these keys are for people only.
 */
static int kv_note_current(struct hc_vault *hv, const char *path,
	const struct hc_version *cur)
{
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	cspf_buf b = CSPF_BUF_INIT, what = CSPF_BUF_INIT;
	char *url = NULL;
	int rc, status;

	cspf_buf_printf(&what, "update %s/metadata/%s", hv->mount, path);
	cspf_buf_printf(&b, "{\"custom_metadata\":{\"cspf_version\":\"%lld\""
		",\"cspf_rotation_id\":", (long long)cur->version);
	if (cur->rotation_id) {
		cspf_buf_putc(&b, '"');
		cspf_buf_put_json_escaped(&b, cur->rotation_id,
			strlen(cur->rotation_id));
		cspf_buf_putc(&b, '"');
	} else {
		cspf_buf_puts(&b, "null");
	}
	cspf_buf_puts(&b, ",\"cspf_key_id\":");
	if (cur->key_id && strlen(cur->key_id) <= 512) {
		cspf_buf_putc(&b, '"');
		cspf_buf_put_json_escaped(&b, cur->key_id,
			strlen(cur->key_id));
		cspf_buf_putc(&b, '"');
	} else {
		cspf_buf_puts(&b, "null");
	}
	cspf_buf_puts(&b, "}}");
	if (cspf_buf_oom(&b) || cspf_buf_oom(&what)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = hc_url(&url, hv, "metadata", path, 0)) < 0 ||
	    (rc = hc_call(&resp, hv, "PATCH", url,
		"application/merge-patch+json", NULL, b.ptr, false,
		what.ptr)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	if (status != 204 && status != 200 && status != 405) {
		root = parse_body(resp);
		rc = hc_status_error(hv, resp, root, what.ptr, false);
		goto done;
	}
	rc = 0;
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cspf_buf_dispose(&b);
	cspf_buf_dispose(&what);
	free(url);
	return rc;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/*
 * The backend's operations.
 */

static int hc_get(cspf_secret **value, cspf_vault_version *info,
	cspf_vault *v, const char *path, cspf_vault_label label)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	struct hc_version ver;
	char *kvp = NULL;
	int64_t cur = 0, want = 0;
	char num[32];
	int rc;

	memset(&ver, 0, sizeof(ver));
	if ((rc = check_path(hv, path)) < 0)
		return rc;
	if (!(kvp = kv_path(label == CSPF_VAULT_PENDING ? HC_PENDING : "",
		path)))
		return cspf_error_set_oom();
	if (label == CSPF_VAULT_PREVIOUS) {
		if ((rc = kv_current_version(&cur, hv, kvp)) < 0)
			goto done;
		want = cur - 1;
		if (want < 1) {
			rc = CSPF_ENOTFOUND;
			goto notfound;
		}
	}
	rc = kv_read(&ver, hv, kvp, want, value != NULL);
	if (rc == CSPF_ENOTFOUND)
		goto notfound;
	if (rc < 0)
		goto done;
	if (label == CSPF_VAULT_PENDING && !ver.rotation_id) {
		rc = CSPF_ENOTFOUND;
		goto notfound;
	}
	if (info) {
		snprintf(num, sizeof(num), "%lld", (long long)ver.version);
		info->version = strdup(num);
		info->rotation_id = ver.rotation_id;
		info->key_id = ver.key_id;
		info->created = ver.created;
		ver.rotation_id = ver.key_id = NULL;
		if (!info->version) {
			rc = cspf_error_set_oom();
			goto done;
		}
	}
	if (value) {
		*value = ver.value;
		ver.value = NULL;
	}
	rc = 0;
	goto done;
notfound:
	rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
		"vault %s: %s has no %s version (%s/data/%s)", vname(hv), path,
		cspf_vault_label_name(label), hv->mount, kvp);
done:
	hc_version_dispose(&ver);
	free(kvp);
	return rc;
}

static int hc_stage(cspf_vault *v, const char *path, const char *rotation_id,
	const cspf_secret *value, const char *key_id)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	struct hc_version pend;
	char *kvp = NULL;
	int64_t cas = 0, written;
	int rc;

	memset(&pend, 0, sizeof(pend));
	if ((rc = check_path(hv, path)) < 0)
		return rc;
	if (!(kvp = kv_path(HC_PENDING, path)))
		return cspf_error_set_oom();
	rc = kv_read(&pend, hv, kvp, 0, false);
	if (rc == 0 && same_str(pend.rotation_id, rotation_id))
		goto done;
	if (rc == 0)
		cas = pend.version;
	else if (rc == CSPF_ENOTFOUND)
		rc = kv_current_version(&cas, hv, kvp);
	if (rc < 0)
		goto done;
	rc = kv_write_value(&written, hv, kvp, cas, value, rotation_id,
		key_id);
	if (rc == CSPF_ECONFLICT) {
		/* Our own retried write, or another run's. */
		hc_version_dispose(&pend);
		rc = kv_read(&pend, hv, kvp, 0, false);
		if (rc == 0 && same_str(pend.rotation_id, rotation_id))
			goto done;
		if (rc == 0 || rc == CSPF_ENOTFOUND)
			rc = cspf_error_set(CSPF_ECONFLICT,
				CSPF_ERRCLASS_INVALID,
				"vault %s: %s: another writer staged a value "
				"at the same time as rotation %s: read the "
				"rotation record again", vname(hv), path,
				rotation_id);
	}
done:
	hc_version_dispose(&pend);
	free(kvp);
	return rc;
}

/* Promotion done (current is of `rotation_id`): drop its pending copy. */
static int promote_cleanup(struct hc_vault *hv, const char *path,
	const char *pkvp, const char *rotation_id,
	const struct hc_version *cur)
{
	struct hc_version pend;
	int rc;

	if ((rc = kv_note_current(hv, path, cur)) < 0)
		return rc;
	rc = kv_read(&pend, hv, pkvp, 0, false);
	if (rc == CSPF_ENOTFOUND)
		return 0;
	if (rc == 0 && same_str(pend.rotation_id, rotation_id))
		rc = kv_destroy(hv, pkvp, pend.version);
	hc_version_dispose(&pend);
	return rc;
}

static int hc_promote(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	struct hc_version cur, pend;
	char *pkvp = NULL;
	int64_t cas = 0, written;
	int rc;

	memset(&cur, 0, sizeof(cur));
	memset(&pend, 0, sizeof(pend));
	if ((rc = check_path(hv, path)) < 0)
		return rc;
	if (!(pkvp = kv_path(HC_PENDING, path)))
		return cspf_error_set_oom();
	rc = kv_read(&cur, hv, path, 0, false);
	if (rc == 0 && same_str(cur.rotation_id, rotation_id)) {
		rc = promote_cleanup(hv, path, pkvp, rotation_id, &cur);
		goto done;
	}
	if (rc == 0)
		cas = cur.version;
	else if (rc == CSPF_ENOTFOUND)
		rc = kv_current_version(&cas, hv, path);
	if (rc < 0)
		goto done;
	rc = kv_read(&pend, hv, pkvp, 0, true);
	if (rc == CSPF_ENOTFOUND ||
	    (rc == 0 && !same_str(pend.rotation_id, rotation_id))) {
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: no pending version belongs to rotation "
			"%s (%s/data/%s): stage it first", vname(hv), path,
			rotation_id, hv->mount, pkvp);
		goto done;
	}
	if (rc < 0)
		goto done;
	rc = kv_write_value(&written, hv, path, cas, pend.value, rotation_id,
		pend.key_id);
	hc_version_dispose(&cur);
	if (rc == CSPF_ECONFLICT) {
		rc = kv_read(&cur, hv, path, 0, false);
		if (rc == 0 && same_str(cur.rotation_id, rotation_id)) {
			rc = promote_cleanup(hv, path, pkvp, rotation_id, &cur);
			goto done;
		}
		if (rc == 0 || rc == CSPF_ENOTFOUND)
			rc = cspf_error_set(CSPF_ECONFLICT,
				CSPF_ERRCLASS_INVALID,
				"vault %s: %s changed while rotation %s was "
				"promoting it: read the rotation record again",
				vname(hv), path, rotation_id);
		goto done;
	}
	if (rc < 0)
		goto done;
	cur.version = written;
	cur.rotation_id = strdup(rotation_id);
	cur.key_id = pend.key_id ? strdup(pend.key_id) : NULL;
	if (!cur.rotation_id || (pend.key_id && !cur.key_id)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	rc = promote_cleanup(hv, path, pkvp, rotation_id, &cur);
done:
	hc_version_dispose(&cur);
	hc_version_dispose(&pend);
	free(pkvp);
	return rc;
}

static int hc_discard(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	struct hc_version pend;
	char *kvp = NULL;
	int rc;

	if ((rc = check_path(hv, path)) < 0)
		return rc;
	if (!(kvp = kv_path(HC_PENDING, path)))
		return cspf_error_set_oom();
	rc = kv_read(&pend, hv, kvp, 0, false);
	if (rc == CSPF_ENOTFOUND)
		rc = 0;
	else if (rc == 0 && same_str(pend.rotation_id, rotation_id))
		rc = kv_destroy(hv, kvp, pend.version);
	hc_version_dispose(&pend);
	free(kvp);
	return rc;
}

static int hc_put(cspf_vault *v, const char *path, const cspf_secret *value,
	const char *key_id)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	struct hc_version cur;
	int64_t cas = 0, written;
	int rc, attempt;

	memset(&cur, 0, sizeof(cur));
	if ((rc = check_path(hv, path)) < 0)
		return rc;
	for (attempt = 0; attempt < 2; attempt++) {
		rc = kv_read(&cur, hv, path, 0, true);
		if (rc == 0 && !cur.rotation_id &&
		    same_str(cur.key_id, key_id) &&
		    cspf_secret_equal(cur.value, value)) {
			/* Already there: a repeated put. */
			rc = kv_note_current(hv, path, &cur);
			goto done;
		}
		if (rc == 0)
			cas = cur.version;
		else if (rc == CSPF_ENOTFOUND)
			rc = kv_current_version(&cas, hv, path);
		if (rc < 0)
			goto done;
		hc_version_dispose(&cur);
		rc = kv_write_value(&written, hv, path, cas, value, NULL,
			key_id);
		if (rc != CSPF_ECONFLICT)
			break;
		/* A retry of ours that had landed shows as ours next time. */
	}
	if (rc == CSPF_ECONFLICT) {
		rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: %s changed while cspf was writing it: "
			"read it again and decide", vname(hv), path);
		goto done;
	}
	if (rc < 0)
		goto done;
	cur.version = written;
	if (key_id && !(cur.key_id = strdup(key_id))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	rc = kv_note_current(hv, path, &cur);
done:
	hc_version_dispose(&cur);
	return rc;
}

static int hc_record_get(char **record, char **tag, cspf_vault *v,
	const char *path)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *data, *rec, *ver;
	char *kvp = NULL, *url = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	char num[32];
	int rc, status;

	if ((rc = check_path(hv, path)) < 0)
		return rc;
	if (!(kvp = kv_path(HC_RECORD, path)))
		return cspf_error_set_oom();
	cspf_buf_printf(&what, "read %s/data/%s", hv->mount, kvp);
	if ((rc = hc_url(&url, hv, "data", kvp, 0)) < 0 ||
	    (rc = hc_call(&resp, hv, "GET", url, NULL, NULL, NULL, false,
		what.ptr)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	root = parse_body(resp);
	if (status == 404) {
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: %s has no rotation record (%s/data/%s)",
			vname(hv), path, hv->mount, kvp);
		goto done;
	}
	if (status != 200) {
		rc = hc_status_error(hv, resp, root, what.ptr, false);
		goto done;
	}
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	rec = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(data, "data"), "record");
	ver = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(data, "metadata"), "version");
	if (!cJSON_IsString(rec) || !cJSON_IsNumber(ver)) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: %s/data/%s is not a rotation record "
			"(no string \"record\"): delete it with `vault kv "
			"metadata delete` if nothing is rotating", vname(hv),
			hv->mount, kvp);
		goto done;
	}
	snprintf(num, sizeof(num), "%lld", (long long)ver->valuedouble);
	*record = strdup(rec->valuestring);
	*tag = strdup(num);
	rc = (*record && *tag) ? 0 : cspf_error_set_oom();
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cspf_buf_dispose(&what);
	free(url);
	free(kvp);
	return rc;
}

static int hc_record_put(cspf_vault *v, const char *path, const char *record,
	const char *tag, char **new_tag)
{
	struct hc_vault *hv = (struct hc_vault *)v;
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *ver;
	cspf_buf body = CSPF_BUF_INIT, what = CSPF_BUF_INIT;
	char *kvp = NULL, *url = NULL, *end;
	long long cas = 0;
	char num[32];
	int rc, status;

	if ((rc = check_path(hv, path)) < 0)
		return rc;
	if (tag) {
		cas = strtoll(tag, &end, 10);
		/* Not a tag this vault gave: it cannot be the current one. */
		if (!*tag || *end || cas < 1)
			return cspf_error_set(CSPF_ECONFLICT,
				CSPF_ERRCLASS_INVALID,
				"vault %s: %s: \"%.40s\" is not a tag of this "
				"vault (a version number)", vname(hv), path,
				tag);
	}
	if (!(kvp = kv_path(HC_RECORD, path)))
		return cspf_error_set_oom();
	cspf_buf_printf(&what, "write %s/data/%s", hv->mount, kvp);
	cspf_buf_printf(&body, "{\"options\":{\"cas\":%lld},"
		"\"data\":{\"record\":\"", cas);
	cspf_buf_put_json_escaped(&body, record, strlen(record));
	cspf_buf_puts(&body, "\"}}");
	if (cspf_buf_oom(&body) || cspf_buf_oom(&what)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = hc_url(&url, hv, "data", kvp, 0)) < 0 ||
	    (rc = hc_call(&resp, hv, "POST", url, NULL, NULL, body.ptr, false,
		what.ptr)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	root = parse_body(resp);
	if (status == 400 && is_cas_mismatch(root)) {
		rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: the rotation record of %s changed (%s "
			"expected %s): read it again and decide", vname(hv),
			path, tag ? "version" : "none", tag ? tag : "");
		goto done;
	}
	if (status != 200 && status != 204) {
		rc = hc_status_error(hv, resp, root, what.ptr, false);
		goto done;
	}
	ver = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "data"), "version");
	if (!cJSON_IsNumber(ver)) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: the answer has no version: is %s a KV "
			"v2 mount?", vname(hv), what.ptr, hv->mount);
		goto done;
	}
	if (new_tag) {
		snprintf(num, sizeof(num), "%lld", (long long)ver->valuedouble);
		if (!(*new_tag = strdup(num))) {
			rc = cspf_error_set_oom();
			goto done;
		}
	}
	rc = 0;
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cspf_buf_dispose(&body);
	cspf_buf_dispose(&what);
	free(url);
	free(kvp);
	return rc;
}

static void hc_free(cspf_vault *v)
{
	struct hc_vault *hv = (struct hc_vault *)v;

	if (!hv)
		return;
	cspf_http_free(hv->http);
	free(hv->addr);
	free(hv->mount);
	free(hv->ns);
	cspf_secret_free(hv->token);
	cspf_secret_free(hv->secret_id);
	free(hv->role_id);
	free(hv->secret_id_env);
	free(hv->auth_mount);
	free(hv);
}

/*
 * Opening.
 */

static const char *cfg_string(const cJSON *obj, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *e = getenv(name);

	return e && *e ? e : fallback;
}

/* A token that could break a header line is refused. */
static int check_token(const char *name, const cspf_secret *tok,
	const char *where)
{
	const unsigned char *p;
	size_t n, i;
	bool bad = false;

	if (cspf_secret_open(&p, &n, tok) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", name);
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] == 0x7f)
			bad = true;
	cspf_secret_close(tok);
	if (bad || !n)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"vault %s: the token in %s has spaces or control "
			"characters: it cannot be a Vault token", name, where);
	return 0;
}

static int open_token(struct hc_vault *hv, const char *name,
	const cJSON *auth)
{
	const char *env = cfg_string(auth, "token_env");
	const char *home = getenv("HOME");
	cspf_buf file = CSPF_BUF_INIT;
	int rc;

	if (!env)
		env = "VAULT_TOKEN";
	rc = cspf_secret_from_env(&hv->token, env);
	if (rc == 0)
		return check_token(name, hv->token, env);
	if (rc != CSPF_ENOTFOUND)
		return rc;
	if (home && *home) {
		cspf_buf_printf(&file, "%s/.vault-token", home);
		if (cspf_buf_oom(&file))
			return cspf_error_set_oom();
		rc = cspf_secret_from_file(&hv->token, file.ptr,
			CSPF_SECRET_FILE_TRIM);
		if (rc == 0)
			rc = check_token(name, hv->token, file.ptr);
		cspf_buf_dispose(&file);
		if (rc != CSPF_ENOTFOUND)
			return rc;
	}
	return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
		"vault %s: no Vault token: set %s, or log in with `vault "
		"login` (which writes ~/.vault-token)", name, env);
}

static int open_approle(struct hc_vault *hv, const char *name,
	const cJSON *auth)
{
	const char *role = cfg_string(auth, "role_id");
	const char *env = cfg_string(auth, "secret_id_env");
	const char *mount = cfg_string(auth, "mount");
	int rc;

	if (!role || !env)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: auth method approle needs \"role_id\" and "
			"\"secret_id_env\" in cspf.json", name);
	if (!(hv->role_id = strdup(role)) ||
	    !(hv->secret_id_env = strdup(env)) ||
	    !(hv->auth_mount = strdup(mount ? mount : "approle")))
		return cspf_error_set_oom();
	rc = cspf_secret_from_env(&hv->secret_id, env);
	if (rc == CSPF_ENOTFOUND)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"vault %s: no AppRole secret id: set %s", name, env);
	return rc;
}

static int hc_open(cspf_vault **out, const char *name, const cJSON *config,
	const cspf_vault_options *opts)
{
	cspf_http_options hopts = CSPF_HTTP_OPTIONS_INIT;
	struct hc_vault *hv;
	const cJSON *kvv, *auth;
	const char *addr, *mount, *ns, *method, *ca;
	cspf_buf cafile = CSPF_BUF_INIT;
	size_t n;
	int rc;

	*out = NULL;
	addr = env_or("VAULT_ADDR", cfg_string(config, "address"));
	mount = cfg_string(config, "mount");
	ns = env_or("VAULT_NAMESPACE", cfg_string(config, "namespace"));
	ca = env_or("VAULT_CACERT", cfg_string(config, "ca_cert"));
	kvv = cJSON_GetObjectItemCaseSensitive(config, "kv_version");
	auth = cJSON_GetObjectItemCaseSensitive(config, "auth");
	method = auth ? cfg_string(auth, "method") : "token";

	if (!addr || !*addr)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: no \"address\" in cspf.json and no "
			"VAULT_ADDR", name);
	if (!cspf_http_url_allowed(addr))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: address %s: cspf speaks https to Vault "
			"(plain http only to a loopback address)", name, addr);
	if (kvv && !(cJSON_IsNumber(kvv) && (kvv->valuedouble == 1 ||
		kvv->valuedouble == 2)))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: kv_version is 1 or 2", name);
	if (kvv && kvv->valuedouble == 1)
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"vault %s: a KV version 1 engine keeps one value per "
			"path, with no versions and no check-and-set, so it "
			"cannot hold a pending value apart from the current "
			"one or a previous one: use a KV version 2 mount "
			"(vault secrets enable -version=2 kv)", name);
	if (mount && (!*mount || strstr(mount, "..") || mount[0] == '/'))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: mount \"%s\" is not a mount path", name,
			mount);
	if (!method || (strcmp(method, "token") && strcmp(method, "approle")))
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"vault %s: auth method \"%s\" is not supported by this "
			"build of cspf: use token or approle", name,
			method ? method : "(none)");

	if (!(hv = calloc(1, sizeof(*hv))))
		return cspf_error_set_oom();
	if (!(hv->addr = strdup(addr)) ||
	    !(hv->mount = strdup(mount ? mount : "secret")) ||
	    (ns && *ns && !(hv->ns = strdup(ns)))) {
		rc = cspf_error_set_oom();
		goto fail;
	}
	n = strlen(hv->addr);
	while (n && hv->addr[n - 1] == '/')
		hv->addr[--n] = '\0';
	n = strlen(hv->mount);
	while (n && hv->mount[n - 1] == '/')
		hv->mount[--n] = '\0';

	if (!strcmp(method, "token")) {
		hv->method = HC_AUTH_TOKEN;
		rc = open_token(hv, name, auth);
	} else {
		hv->method = HC_AUTH_APPROLE;
		rc = open_approle(hv, name, auth);
	}
	if (rc < 0)
		goto fail;

	if (ca && ca[0] != '/' && opts->base_dir)
		cspf_buf_printf(&cafile, "%s/%s", opts->base_dir, ca);
	else if (ca)
		cspf_buf_puts(&cafile, ca);
	if (cspf_buf_oom(&cafile)) {
		rc = cspf_error_set_oom();
		goto fail;
	}
	hopts.ca_file = ca ? cafile.ptr : opts->ca_file;
	hopts.max_attempts = opts->max_attempts;
	hopts.timeout_ms = opts->timeout * 1000u;
	hopts.concurrency = 1;
	if ((rc = cspf_http_new(&hv->http, &hopts)) < 0)
		goto fail;
	cspf_buf_dispose(&cafile);
	*out = &hv->base;
	return 0;
fail:
	cspf_buf_dispose(&cafile);
	hc_free(&hv->base);
	return rc;
}

const struct cspf_vault_backend cspf_vault_hashicorp_backend = {
	.version = CSPF_VAULT_BACKEND_VERSION,
	.type = "hashicorp",
	.open = hc_open,
	.get = hc_get,
	.stage = hc_stage,
	.promote = hc_promote,
	.discard = hc_discard,
	.put = hc_put,
	.record_get = hc_record_get,
	.record_put = hc_record_put,
	.free = hc_free,
};
