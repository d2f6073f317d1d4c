/*
 * azure-app-secret: the client secret of a Microsoft Entra ID application
 * (identity {type azure-app, app_id, tenant_id, secret_id}), rotated
 * through Microsoft Graph:
 *
 *   create   POST /applications/{id}/addPassword with displayName
 *            "cspf <rotation id>" and endDateTime now + rotation.max_age;
 *            Entra ID makes the secret and shows it this once: it goes
 *            straight into guarded memory, its keyId is the key id;
 *   set      nothing: Entra ID accepts the secret as soon as it exists;
 *   test     a token by client credentials with the new secret at the
 *            tenant's token endpoint, tried again for a bounded while
 *            (Entra ID takes a moment to replicate a new secret; 180 s,
 *            or CSPF_AZURE_TEST_WAIT_S);
 *   retire   not final: nothing, Entra ID cannot disable a secret; final:
 *            removePassword of the previous keyId;
 *   undo     removePassword of the pending keyId;
 *   cleanup  removePassword of every secret whose displayName starts with
 *            "cspf " and whose keyId is none of current, pending and
 *            previous: a secret made by a run that died before staging
 *            it.  Secrets cspf did not make are never touched.  (So two
 *            registry credentials rotated by cspf must not share one
 *            application: each would see the other's secrets as orphans.)
 *
 * The value kept in the vault is a JSON object, what an application needs
 * to sign in: {"client_id": "<app_id>", "client_secret": "<secret>"}.
 *
 * Where: Graph is https://graph.microsoft.com/v1.0, or the graph_url of
 * providers.azure in cspf.json (CSPF_AZURE_GRAPH_URL overrides both, for
 * tests); the authority is AZURE_AUTHORITY_HOST, providers.azure's
 * authority_url or Entra ID.  cspf signs in to Graph as AZURE_CLIENT_ID
 * (or providers.azure.client_id) with AZURE_CLIENT_SECRET, in the
 * application's tenant; it needs Application.ReadWrite.OwnedBy (or
 * .All).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/time.h"
#include "http/http_private.h"
#include "rotate/rotator.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/banned.h"

#define GRAPH_DEFAULT "https://graph.microsoft.com"
#define GRAPH_SCOPE "https://graph.microsoft.com/.default"
#define NAME_PREFIX "cspf "
#define TEST_WAIT_S 180

struct az {
	const cspf_rotator_ctx *ctx;
	const char *app_id;
	const char *tenant;
	char *graph;     /* .../v1.0, no trailing '/' */
	char *authority; /* NULL: AZURE_AUTHORITY_HOST or Entra ID */
	cspf_http_oauth2 *ts;
	char *object_id; /* the application object's id */
	cJSON *creds;    /* its passwordCredentials */
};

static void az_dispose(struct az *a)
{
	cspf_http_oauth2_free(a->ts);
	free(a->graph);
	free(a->authority);
	free(a->object_id);
	cJSON_Delete(a->creds);
	memset(a, 0, sizeof(*a));
}

static void say(const cspf_rotator_ctx *ctx, const char *what, const char *id)
{
	if (ctx->log)
		ctx->log(ctx->log_payload, "%s: %s%s%s", ctx->credential_id,
			what, id ? " " : "", id ? id : "");
}

static bool is_guid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
				   (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

static const char *str_at(const cJSON *o, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(s) && *s->valuestring ? s->valuestring : NULL;
}

/* `s` without trailing '/', malloc'd. */
static char *trimmed(const char *s)
{
	char *d = strdup(s);
	size_t n = d ? strlen(d) : 0;

	while (n && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

/*
 * The settings of one call: the identity from the credential, where Graph
 * and Entra ID are, and (`graph`) a token source for Graph.
 */
static int az_setup(struct az *a, const cspf_rotator_ctx *ctx, bool graph)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(ctx->credential,
		"identity");
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(ctx->config, "providers"),
		"azure");
	const char *g = getenv("CSPF_AZURE_GRAPH_URL");
	const char *auth = getenv("AZURE_AUTHORITY_HOST");
	const char *client = getenv("AZURE_CLIENT_ID");
	cspf_secret *secret = NULL;
	cspf_buf b = CSPF_BUF_INIT;
	char *base;
	int r;

	memset(a, 0, sizeof(*a));
	a->ctx = ctx;
	if (!str_at(id, "type") || strcmp(str_at(id, "type"), "azure-app"))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: azure-app-secret rotates an identity of type azure-app",
			ctx->credential_id);
	a->app_id = str_at(id, "app_id");
	if (!is_guid(a->app_id))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: identity.app_id must be the application's client id (a GUID)",
			ctx->credential_id);
	a->tenant = str_at(id, "tenant_id");
	if (!a->tenant)
		a->tenant = str_at(prov, "tenant_id");
	if (!a->tenant)
		a->tenant = getenv("AZURE_TENANT_ID");
	if (!a->tenant || !*a->tenant)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: no tenant: set identity.tenant_id (or providers.azure.tenant_id in cspf.json)",
			ctx->credential_id);
	if (!g || !*g)
		g = str_at(prov, "graph_url");
	if (!g)
		g = GRAPH_DEFAULT;
	if (!auth || !*auth)
		auth = str_at(prov, "authority_url");
	if (!(base = trimmed(g)) || (auth && !(a->authority = trimmed(auth)))) {
		free(base);
		return cspf_error_set_oom();
	}
	cspf_buf_printf(&b, "%s/v1.0", base);
	free(base);
	if (!(a->graph = cspf_buf_detach(&b)))
		return cspf_error_set_oom();
	if (!graph)
		return 0;
	if (!client || !*client)
		client = str_at(prov, "client_id");
	if (!client ||
	    cspf_secret_from_env(&secret, "AZURE_CLIENT_SECRET") < 0)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"%s: cspf signs in to Microsoft Graph with AZURE_CLIENT_ID (or providers.azure.client_id) and AZURE_CLIENT_SECRET: set them",
			ctx->credential_id);
	r = cspf_http_oauth2_azure_new(&a->ts, ctx->http, a->authority,
		a->tenant, client, secret, GRAPH_SCOPE);
	cspf_secret_free(secret);
	return r;
}

static int bearer(cspf_http_request *req, void *payload)
{
	const cspf_secret *token = NULL;
	int r;

	if ((r = cspf_http_oauth2_token(&token, payload)) < 0)
		return r;
	return cspf_http_request_set_header_secret(req, "Authorization",
		"Bearer ", token);
}

/* Raise Graph's refusal of `what`: status, code, message.  Returns it. */
static int graph_fail(const struct az *a, const char *what,
	const cspf_http_response *resp)
{
	int status = cspf_http_response_status(resp);
	const char *body;
	size_t len;
	cJSON *j = NULL;
	const cJSON *e;
	const char *code, *msg;
	int rc;

	if (cspf_http_response_body_open(&body, &len, resp) == 0) {
		j = cJSON_ParseWithLength(body, len);
		cspf_http_response_body_close(resp);
	}
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	code = str_at(e, "code");
	msg = str_at(e, "message");
	rc = status == 401 || status == 403 ? CSPF_EAUTH :
		status == 404 ? CSPF_ENOTFOUND : CSPF_ERROR;
	cspf_error_set(rc, CSPF_ERRCLASS_INVALID,
		"%s: Microsoft Graph, %s of application %s: HTTP %d%s%s%s%.300s%s",
		a->ctx->credential_id, what, a->app_id, status,
		code ? ": " : "", code ? code : "", msg ? ": " : "",
		msg ? msg : "",
		rc == CSPF_EAUTH ? " (cspf's application needs Application.ReadWrite.OwnedBy or .All)" : "");
	cJSON_Delete(j);
	return rc;
}

/*
 * One Graph call; *out the response (any status).  `sensitive` keeps the
 * answer in guarded memory.
 */
static int graph_call(cspf_http_response **out, struct az *a,
	const char *method, const char *url, const char *body, bool sensitive)
{
	cspf_http_request *req = NULL;
	int r;

	*out = NULL;
	if ((r = cspf_http_request_new(&req, method, url)) < 0)
		return r;
	cspf_http_request_set_prepare(req, bearer, a->ts);
	if ((r = cspf_http_request_set_header(req, "Accept",
		     "application/json")) < 0)
		goto done;
	if (body && ((r = cspf_http_request_set_header(req, "Content-Type",
			      "application/json")) < 0 ||
			    (r = cspf_http_request_set_body(req, body,
				     strlen(body))) < 0))
		goto done;
	if (sensitive)
		cspf_http_request_set_sensitive(req, true);
	r = cspf_http_perform(out, a->ctx->http, req);
done:
	cspf_http_request_free(req);
	return r;
}

/* The application object by appId: its id and passwordCredentials. */
static int find_app(struct az *a)
{
	cspf_http_response *resp = NULL;
	char *url = NULL, *enc, filter[80];
	const cJSON *value;
	cJSON *app;
	const char *body, *oid;
	cspf_buf b = CSPF_BUF_INIT;
	cJSON *j = NULL;
	size_t len;
	int r;

	/* $filter and $select written out, as Graph's documents show them;
	 * app_id is a GUID (checked), its value encoded all the same. */
	snprintf(filter, sizeof(filter), "appId eq '%s'", a->app_id);
	if (!(enc = cspf_http_urlencode(filter, strlen(filter))))
		return cspf_error_set_oom();
	cspf_buf_printf(&b, "%s/applications?$filter=%s"
		"&$select=id,appId,passwordCredentials", a->graph, enc);
	free(enc);
	if (!(url = cspf_buf_detach(&b)))
		return cspf_error_set_oom();
	if ((r = graph_call(&resp, a, "GET", url, NULL, false)) < 0)
		goto done;
	if (cspf_http_response_status(resp) != 200) {
		r = graph_fail(a, "finding", resp);
		goto done;
	}
	body = cspf_http_response_body(resp, &len);
	j = body ? cJSON_ParseWithLength(body, len) : NULL;
	value = cJSON_GetObjectItemCaseSensitive(j, "value");
	app = cJSON_GetArrayItem(value, 0);
	if (!app || cJSON_GetArraySize(value) != 1 ||
	    !(oid = str_at(app, "id"))) {
		r = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"%s: Microsoft Graph knows no application %s in tenant %s: check identity.app_id and tenant_id",
			a->ctx->credential_id, a->app_id, a->tenant);
		goto done;
	}
	if (!(a->object_id = strdup(oid))) {
		r = cspf_error_set_oom();
		goto done;
	}
	a->creds = cJSON_DetachItemFromObjectCaseSensitive(app,
		"passwordCredentials");
	if (!a->creds)
		a->creds = cJSON_CreateArray();
	r = a->creds ? 0 : cspf_error_set_oom();
done:
	cJSON_Delete(j);
	cspf_http_response_free(resp);
	free(url);
	return r;
}

/* The passwordCredential with `key_id`, or NULL. */
static const cJSON *cred_by_key(const struct az *a, const char *key_id)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, a->creds) {
		const char *k = str_at(c, "keyId");

		if (k && key_id && !strcasecmp(k, key_id))
			return c;
	}
	return NULL;
}

/* removePassword of `key_id`; 0 when it is gone already. */
static int remove_password(struct az *a, const char *key_id)
{
	cspf_http_response *resp = NULL;
	cspf_buf url = CSPF_BUF_INIT, body = CSPF_BUF_INIT;
	int r, status;

	if (!cred_by_key(a, key_id))
		return 0;
	if (!is_guid(key_id))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: key id %s is not a GUID", a->ctx->credential_id,
			key_id);
	cspf_buf_printf(&url, "%s/applications/%s/removePassword", a->graph,
		a->object_id);
	cspf_buf_printf(&body, "{\"keyId\":\"%s\"}", key_id);
	if (cspf_buf_oom(&url) || cspf_buf_oom(&body)) {
		r = cspf_error_set_oom();
		goto done;
	}
	if ((r = graph_call(&resp, a, "POST", url.ptr, body.ptr, false)) < 0)
		goto done;
	status = cspf_http_response_status(resp);
	if (status != 204 && status != 200) {
		r = graph_fail(a, "removePassword", resp);
		goto done;
	}
	say(a->ctx, "removed client secret", key_id);
done:
	cspf_http_response_free(resp);
	cspf_buf_dispose(&url);
	cspf_buf_dispose(&body);
	return r;
}

static bool same_key(const char *a, const char *b)
{
	return a && b && !strcasecmp(a, b);
}

static int az_cleanup(const cspf_rotator_ctx *ctx, const char *current_key_id,
	const char *pending_key_id, const char *previous_key_id)
{
	struct az a;
	const cJSON *c;
	cJSON *orphans = NULL;
	int r;

	if ((r = az_setup(&a, ctx, true)) < 0 || (r = find_app(&a)) < 0)
		goto done;
	/* Collected first: removing changes the list. */
	if (!(orphans = cJSON_CreateArray())) {
		r = cspf_error_set_oom();
		goto done;
	}
	cJSON_ArrayForEach(c, a.creds) {
		const char *name = str_at(c, "displayName");
		const char *k = str_at(c, "keyId");

		if (!k || !name || strncmp(name, NAME_PREFIX,
					   strlen(NAME_PREFIX)) != 0)
			continue;
		if (same_key(k, current_key_id) ||
		    same_key(k, pending_key_id) ||
		    same_key(k, previous_key_id))
			continue;
		cJSON_AddItemToArray(orphans, cJSON_CreateString(k));
	}
	cJSON_ArrayForEach(c, orphans) {
		say(ctx, "client secret made by cspf and held by no version of the vault:",
			c->valuestring);
		if ((r = remove_password(&a, c->valuestring)) < 0)
			goto done;
	}
done:
	cJSON_Delete(orphans);
	az_dispose(&a);
	return r;
}

/* Append `len` bytes as JSON string contents into guarded memory. */
static void sbuf_put_json(cspf_sbuf *b, const unsigned char *p, size_t len)
{
	char esc[8];
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			cspf_sbuf_putc(b, '\\');
			cspf_sbuf_putc(b, (char)p[i]);
		} else if (p[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			cspf_sbuf_puts(b, esc);
		} else {
			cspf_sbuf_putc(b, (char)p[i]);
		}
	}
	sodium_memzero(esc, sizeof(esc));
}

/*
 * The value to keep from addPassword's answer (guarded): the JSON object
 * of the client id and secretText, built in guarded memory; the keyId.
 */
static int take_secret(cspf_secret **value, char **key_id, struct az *a,
	const cspf_http_response *resp)
{
	cspf_sbuf text = CSPF_SBUF_INIT, out = CSPF_SBUF_INIT;
	const char *body, *v;
	size_t len, n;
	bool str;
	int r = 0;

	if (cspf_http_response_body_open(&body, &len, resp) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
	if (cspf_http_json_member(&v, &n, &str, body, len, "keyId") < 0 ||
	    !str || !(*key_id = strndup(v, n)) || !is_guid(*key_id) ||
	    cspf_http_json_member(&v, &n, &str, body, len, "secretText") < 0 ||
	    !str || n == 0 || cspf_http_json_unescape(&text, v, n) < 0 ||
	    !text.ptr) {
		r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
			"%s: Microsoft Graph's addPassword answer has no keyId and secretText",
			a->ctx->credential_id);
		goto done;
	}
	cspf_sbuf_puts(&out, "{\"client_id\":\"");
	cspf_sbuf_puts(&out, a->app_id);
	cspf_sbuf_puts(&out, "\",\"client_secret\":\"");
	sbuf_put_json(&out, text.ptr, text.size);
	cspf_sbuf_puts(&out, "\"}");
	r = cspf_sbuf_to_secret(value, &out);
done:
	cspf_http_response_body_close(resp);
	cspf_sbuf_dispose(&text);
	cspf_sbuf_dispose(&out);
	if (r < 0) {
		free(*key_id);
		*key_id = NULL;
	}
	return r;
}

static int az_create(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	cspf_secret **value, char **key_id)
{
	struct az a;
	const cJSON *rot = cJSON_GetObjectItemCaseSensitive(ctx->credential,
		"rotation");
	const char *max_age = str_at(rot, "max_age");
	cspf_http_response *resp = NULL;
	cJSON *doc = NULL, *pc;
	char *body = NULL, end[CSPF_TIME_BUFSIZE], name[80];
	cspf_buf url = CSPF_BUF_INIT;
	int64_t until;
	int r;

	*value = NULL;
	*key_id = NULL;
	if ((r = az_setup(&a, ctx, true)) < 0 || (r = find_app(&a)) < 0)
		goto done;
	snprintf(name, sizeof(name), NAME_PREFIX "%s", ctx->rotation_id);
	if (!(doc = cJSON_CreateObject()) ||
	    !(pc = cJSON_AddObjectToObject(doc, "passwordCredential")) ||
	    !cJSON_AddStringToObject(pc, "displayName", name)) {
		r = cspf_error_set_oom();
		goto done;
	}
	if (max_age) {
		if (cspf_duration_add(&until, ctx->now, max_age) < 0) {
			r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"%s: rotation.max_age %s is not an ISO 8601 duration",
				ctx->credential_id, max_age);
			goto done;
		}
		cspf_time_format(end, until);
		if (!cJSON_AddStringToObject(pc, "endDateTime", end)) {
			r = cspf_error_set_oom();
			goto done;
		}
	}
	cspf_buf_printf(&url, "%s/applications/%s/addPassword", a.graph,
		a.object_id);
	if (cspf_buf_oom(&url) || !(body = cJSON_PrintUnformatted(doc))) {
		r = cspf_error_set_oom();
		goto done;
	}
	/* The answer holds the new secret: sensitive, read in place. */
	if ((r = graph_call(&resp, &a, "POST", url.ptr, body, true)) < 0)
		goto done;
	if (cspf_http_response_status(resp) != 200 &&
	    cspf_http_response_status(resp) != 201) {
		r = graph_fail(&a, "addPassword", resp);
		goto done;
	}
	if ((r = take_secret(value, key_id, &a, resp)) < 0)
		goto done;
	say(ctx, "added client secret", *key_id);
done:
	cspf_http_response_free(resp);
	cspf_buf_dispose(&url);
	cJSON_Delete(doc);
	free(body);
	az_dispose(&a);
	return r;
}

static int az_set(const cspf_rotator_ctx *ctx, const cspf_secret *pending,
	const cspf_secret *current)
{
	return 0;
}

static void sleep_s(unsigned int s)
{
	struct timespec ts = { (time_t)s, 0 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static int az_test(const cspf_rotator_ctx *ctx, const cspf_secret *pending)
{
	struct az a;
	cspf_secret *secret = NULL;
	cspf_http_oauth2 *ts = NULL;
	const cspf_secret *token;
	const char *w = getenv("CSPF_AZURE_TEST_WAIT_S");
	long wait_s = w && *w ? strtol(w, NULL, 10) : TEST_WAIT_S;
	unsigned int delay = 1;
	time_t start = time(NULL);
	int r;

	if ((r = az_setup(&a, ctx, false)) < 0)
		goto done;
	if ((r = cspf_rotator_json_field(&secret, pending,
		     "client_secret")) < 0)
		goto done;
	for (;;) {
		cspf_http_oauth2_free(ts);
		ts = NULL;
		if ((r = cspf_http_oauth2_azure_new(&ts, ctx->http,
			     a.authority, a.tenant, a.app_id, secret,
			     GRAPH_SCOPE)) < 0)
			goto done;
		r = cspf_http_oauth2_token(&token, ts);
		if (r != CSPF_EAUTH || time(NULL) - start >= wait_s)
			break;
		/* Entra ID replicates a new secret within minutes. */
		say(ctx, "the new client secret does not sign in yet; trying again", NULL);
		sleep_s(delay);
		if (delay < 16)
			delay *= 2;
	}
	if (r == 0)
		say(ctx, "the new client secret signs in as application",
			a.app_id);
done:
	cspf_http_oauth2_free(ts);
	cspf_secret_free(secret);
	az_dispose(&a);
	return r;
}

static int az_retire(const cspf_rotator_ctx *ctx, const cspf_secret *previous,
	const char *previous_key_id, bool final)
{
	struct az a;
	int r;

	if (!final) {
		/* Entra ID has no disabled state for a client secret: the
		 * previous one works until the end of the grace period. */
		say(ctx, "client secret stays until the grace period ends:",
			previous_key_id);
		return 0;
	}
	if (!previous_key_id)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: the vault's previous version names no key id: remove the old client secret in Entra ID by hand",
			ctx->credential_id);
	if ((r = az_setup(&a, ctx, true)) < 0 || (r = find_app(&a)) < 0)
		goto done;
	r = remove_password(&a, previous_key_id);
done:
	az_dispose(&a);
	return r;
}

static int az_undo(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	const cspf_secret *pending, const char *pending_key_id)
{
	struct az a;
	int r;

	if (!pending_key_id)
		return 0;
	if ((r = az_setup(&a, ctx, true)) < 0 || (r = find_app(&a)) < 0)
		goto done;
	r = remove_password(&a, pending_key_id);
done:
	az_dispose(&a);
	return r;
}

const cspf_rotator cspf_rotator_azure_app = {
	.version = CSPF_ROTATOR_VERSION,
	.name = "azure-app-secret",
	.provider_creates = true,
	.cleanup = az_cleanup,
	.create = az_create,
	.set = az_set,
	.test = az_test,
	.retire = az_retire,
	.undo = az_undo,
};
