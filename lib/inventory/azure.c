/*
 * The Azure provider: for each subscription of the registry, Resource
 * Graph's resources with their tags (paged by $skipToken), and the
 * secrets (metadata, never values) of the registry's Key Vaults that live
 * in it; then, once per tenant, Microsoft Graph's applications with their
 * passwordCredentials.  Tokens come from the client-credentials flow
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), one per
 * audience, cached until they expire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cspf/secret.h"
#include "cspf/time.h"
#include "inventory_private.h"
#include "util/buf.h"
#include "util/error.h"

#define GRAPH_QUERY                                                         \
	"Resources | project id, name, type, location, resourceGroup, tags"

struct azure {
	struct inv *inv;
	char *tenant;
	char *arm;       /* https://management.azure.com */
	char *graph;     /* https://graph.microsoft.com */
	cspf_http_oauth2 *arm_token, *graph_token, *vault_token;
	size_t subscriptions; /* how many the run has */
};

struct sub {
	struct azure *p;
	struct inv_account *a;
	cJSON *resources, *secrets;
};

struct page {
	struct sub *s;
	char *vault;     /* the vault's URL, for a secrets page */
};

static char *env_or(const char *env, const cJSON *conf, const char *key,
	const char *def)
{
	const char *e = env ? getenv(env) : NULL;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(conf, key);
	const char *v = e && *e ? e : cJSON_IsString(c) ? c->valuestring : def;
	char *s = v ? strdup(v) : NULL;
	size_t n = s ? strlen(s) : 0;

	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static int token_source(cspf_http_oauth2 **out, struct azure *p,
	const char *authority, const char *client, const cspf_secret *secret,
	const char *scope)
{
	return cspf_http_oauth2_azure_new(out, inv_http(p->inv), authority,
		p->tenant, client, secret, scope);
}

static int azure_setup(void **state, struct inv *inv)
{
	const cJSON *conf = inv_provider_config(inv, "azure");
	struct azure *p = calloc(1, sizeof(*p));
	char *authority = NULL, *client = NULL;
	cspf_secret *secret = NULL;
	const char *sv = getenv("AZURE_CLIENT_SECRET");
	int r = 0;

	*state = p;
	if (!p)
		return cspf_error_set_oom();
	p->inv = inv;
	p->tenant = env_or("AZURE_TENANT_ID", conf, "tenant_id", NULL);
	client = env_or("AZURE_CLIENT_ID", conf, "client_id", NULL);
	authority = env_or("AZURE_AUTHORITY_HOST", conf, "authority_url",
		"https://login.microsoftonline.com");
	p->arm = env_or(NULL, conf, "endpoint_url",
		"https://management.azure.com");
	p->graph = env_or(NULL, conf, "graph_url",
		"https://graph.microsoft.com");
	if (!p->tenant || !client) {
		r = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"no Azure identity: set AZURE_TENANT_ID and "
			"AZURE_CLIENT_ID (or providers.azure.tenant_id and "
			"client_id in cspf.json) and AZURE_CLIENT_SECRET");
		goto out;
	}
	if (!sv || !*sv) {
		r = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"no Azure client secret: set AZURE_CLIENT_SECRET for "
			"client %s", client);
		goto out;
	}
	if ((r = cspf_secret_new(&secret, sv, strlen(sv))) < 0)
		goto out;
	if ((r = token_source(&p->arm_token, p, authority, client, secret,
		     "https://management.azure.com/.default")) < 0 ||
	    (r = token_source(&p->graph_token, p, authority, client, secret,
		     "https://graph.microsoft.com/.default")) < 0 ||
	    (r = token_source(&p->vault_token, p, authority, client, secret,
		     "https://vault.azure.net/.default")) < 0)
		goto out;
out:
	cspf_secret_free(secret);
	free(authority);
	free(client);
	return r;
}

static void azure_teardown(void *state)
{
	struct azure *p = state;

	if (!p)
		return;
	cspf_http_oauth2_free(p->arm_token);
	cspf_http_oauth2_free(p->graph_token);
	cspf_http_oauth2_free(p->vault_token);
	free(p->tenant);
	free(p->arm);
	free(p->graph);
	free(p);
}

/* The prepare hook: a fresh bearer token before every attempt. */
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

static cspf_http_request *request(const char *method, const char *url,
	cspf_http_oauth2 *ts)
{
	cspf_http_request *req = NULL;

	if (cspf_http_request_new(&req, method, url) < 0)
		return NULL;
	cspf_http_request_set_prepare(req, bearer, ts);
	cspf_http_request_set_header(req, "Accept", "application/json");
	return req;
}

/* The answer as JSON, or NULL with why recorded. */
static cJSON *answer(struct inv_account *a, const char *what,
	cspf_http_response *resp, int error)
{
	const char *body;
	size_t len;
	cJSON *j = NULL;
	int status = resp ? cspf_http_response_status(resp) : 0;

	body = resp ? cspf_http_response_body(resp, &len) : NULL;
	if (error < 0 || !resp) {
		if (a)
			inv_error(a, "%s: %s", what, cspf_error_last() ?
				cspf_error_last()->message : "no answer");
		return NULL;
	}
	if (body)
		j = cJSON_ParseWithLength(body, len);
	if (status != 200) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e,
			"message");
		if (a)
			inv_error(a, "%s: HTTP %d%s%s%s%s", what, status,
				cJSON_IsString(code) ? ": " : "",
				cJSON_IsString(code) ? code->valuestring : "",
				cJSON_IsString(msg) ? ": " : "",
				cJSON_IsString(msg) ? msg->valuestring : "");
		cJSON_Delete(j);
		return NULL;
	}
	if (!j && a)
		inv_error(a, "%s: the answer is not JSON", what);
	return j;
}

/* ---- Key Vault ---- */

static void add_epoch(cJSON *o, const char *key, const cJSON *attrs,
	const char *akey)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, akey);

	if (cJSON_IsNumber(v))
		inv_add_time(o, key, (int64_t)v->valuedouble);
}

static int list_secrets(struct sub *s, const char *url, const char *vault);

static void on_secrets(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct page *pg = payload;
	char what[600];
	const cJSON *v;
	cJSON *j;

	(void)req;
	snprintf(what, sizeof(what), "Key Vault %s: list secrets", pg->vault);
	j = answer(a, what, resp, error);
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "value")) {
		const char *id = jstr(v, "id"), *name;
		const cJSON *at = cJSON_GetObjectItemCaseSensitive(v,
			"attributes");
		const cJSON *tags = cJSON_GetObjectItemCaseSensitive(v, "tags");
		cJSON *o;

		name = id ? strstr(id, "/secrets/") : NULL;
		if (!name)
			continue;
		name += 9;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(pg->s->secrets, o)) {
			cJSON_Delete(o);
			break;
		}
		cJSON_AddStringToObject(o, "vault", pg->vault);
		cJSON_AddStringToObject(o, "name", name);
		if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(at,
			    "enabled")))
			cJSON_AddBoolToObject(o, "enabled", cJSON_IsTrue(
				cJSON_GetObjectItemCaseSensitive(at,
					"enabled")));
		add_epoch(o, "created", at, "created");
		add_epoch(o, "updated", at, "updated");
		add_epoch(o, "expires", at, "exp");
		if (cJSON_IsObject(tags))
			cJSON_AddItemToObject(o, "tags",
				cJSON_Duplicate(tags, 1));
		else
			cJSON_AddObjectToObject(o, "tags");
	}
	if (jstr(j, "nextLink"))
		list_secrets(pg->s, jstr(j, "nextLink"), pg->vault);
	cJSON_Delete(j);
	free(pg->vault);
	free(pg);
}

static int list_secrets(struct sub *s, const char *url, const char *vault)
{
	struct page *pg = calloc(1, sizeof(*pg));
	cspf_http_request *req = request("GET", url, s->p->vault_token);

	if (!pg || !req || !(pg->vault = strdup(vault))) {
		free(pg);
		cspf_http_request_free(req);
		inv_error(s->a, "Key Vault %s: out of memory", vault);
		return -1;
	}
	pg->s = s;
	return inv_submit(s->a, req, on_secrets, pg);
}

/*
 * The registry's Key Vaults that live in this subscription (Resource
 * Graph lists them), or all of them when the run has one subscription.
 */
static void vaults_of(struct sub *s)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(
				      cspf_registry_config(
					      inv_registry(s->p->inv)),
				      "vaults")) {
		const char *type = jstr(v, "type"), *url = jstr(v, "vault_url");
		const cJSON *r;
		int here = s->p->subscriptions == 1;
		cspf_buf u = CSPF_BUF_INIT;
		size_t n;

		if (!type || strcmp(type, "azure-key-vault") || !url)
			continue;
		cJSON_ArrayForEach(r, s->resources) {
			const char *t = jstr(r, "type"), *nm = jstr(r, "name");
			const char *host = strstr(url, "://");
			if (t && nm && host &&
			    !strcasecmp(t, "microsoft.keyvault/vaults") &&
			    !strncasecmp(host + 3, nm, strlen(nm)) &&
			    host[3 + strlen(nm)] == '.')
				here = 1;
		}
		if (!here)
			continue;
		n = strlen(url);
		while (n && url[n - 1] == '/')
			n--;
		cspf_buf_put(&u, url, n);
		cspf_buf_puts(&u, "/");
		{
			char *base = strdup(u.ptr);
			cspf_buf_puts(&u, "secrets?api-version=7.4&maxresults=25");
			if (base && !cspf_buf_oom(&u))
				list_secrets(s, u.ptr, base);
			free(base);
		}
		cspf_buf_dispose(&u);
	}
}

/* ---- Resource Graph ---- */

/*
 * A Resource Graph row (as the API or `az graph query` gives it) as a
 * snapshot resource: type lower-cased, tags always an object.  NULL for a
 * row without an id, or out of memory.
 */
cJSON *inv_azure_resource(const cJSON *row)
{
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(row, "tags");
	cJSON *o, *type;
	size_t k;

	if (!jstr(row, "id") || !(o = cJSON_CreateObject()))
		return NULL;
	cJSON_AddStringToObject(o, "id", jstr(row, "id"));
	if (jstr(row, "name"))
		cJSON_AddStringToObject(o, "name", jstr(row, "name"));
	type = cJSON_AddStringToObject(o, "type", jstr(row, "type") ?
		jstr(row, "type") : "");
	for (k = 0; type && type->valuestring[k]; k++)
		if (type->valuestring[k] >= 'A' && type->valuestring[k] <= 'Z')
			type->valuestring[k] += 'a' - 'A';
	if (jstr(row, "location"))
		cJSON_AddStringToObject(o, "location", jstr(row, "location"));
	if (jstr(row, "resourceGroup"))
		cJSON_AddStringToObject(o, "resource_group",
			jstr(row, "resourceGroup"));
	cJSON_AddItemToObject(o, "tags", cJSON_IsObject(tags) ?
		cJSON_Duplicate(tags, 1) : cJSON_CreateObject());
	return o;
}

static int graph_page(struct sub *s, const char *skip);

static void on_resources(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct sub *s = payload;
	const cJSON *row, *data;
	cJSON *j;

	(void)req;
	j = answer(a, "Resource Graph", resp, error);
	data = cJSON_GetObjectItemCaseSensitive(j, "data");
	cJSON_ArrayForEach(row, data) {
		cJSON *o = inv_azure_resource(row);
		if (o && !cJSON_AddItemToArray(s->resources, o))
			cJSON_Delete(o);
	}
	if (jstr(j, "$skipToken"))
		graph_page(s, jstr(j, "$skipToken"));
	else if (j)
		vaults_of(s);
	cJSON_Delete(j);
}

static int graph_page(struct sub *s, const char *skip)
{
	cspf_buf url = CSPF_BUF_INIT;
	cJSON *body = cJSON_CreateObject(), *subs, *opts;
	cspf_http_request *req = NULL;
	char *text = NULL;
	int r = -1;

	cspf_buf_printf(&url, "%s/providers/Microsoft.ResourceGraph/"
		"resources?api-version=2021-03-01", s->p->arm);
	if (!body || cspf_buf_oom(&url))
		goto out;
	subs = cJSON_AddArrayToObject(body, "subscriptions");
	cJSON_AddItemToArray(subs, cJSON_CreateString(s->a->id));
	cJSON_AddStringToObject(body, "query", GRAPH_QUERY);
	opts = cJSON_AddObjectToObject(body, "options");
	cJSON_AddNumberToObject(opts, "$top", 1000);
	cJSON_AddStringToObject(opts, "resultFormat", "objectArray");
	if (skip)
		cJSON_AddStringToObject(opts, "$skipToken", skip);
	if (!(text = cJSON_PrintUnformatted(body)) ||
	    !(req = request("POST", url.ptr, s->p->arm_token)) ||
	    cspf_http_request_set_header(req, "Content-Type",
		    "application/json") < 0 ||
	    cspf_http_request_set_body(req, text, strlen(text)) < 0) {
		cspf_http_request_free(req);
		inv_error(s->a, "Resource Graph: could not make the request");
		goto out;
	}
	r = inv_submit(s->a, req, on_resources, s);
out:
	cJSON_free(text);
	cJSON_Delete(body);
	cspf_buf_dispose(&url);
	return r;
}

static int azure_start(void *state, struct inv_account *a)
{
	struct azure *p = state;
	struct sub *s = calloc(1, sizeof(*s));

	if (!s)
		return cspf_error_set_oom();
	a->state = s;
	s->p = p;
	s->a = a;
	s->resources = cJSON_CreateArray();
	s->secrets = cJSON_CreateArray();
	if (!s->resources || !s->secrets)
		return cspf_error_set_oom();
	if (!p->subscriptions) {
		/* How many subscriptions this run reads (for vaults_of()). */
		const cspf_registry *reg = inv_registry(p->inv);
		size_t i;
		for (i = 0; i < cspf_registry_count(reg); i++) {
			const cspf_entity *e = cspf_registry_entity(reg, i);
			if (e->kind == CSPF_KIND_ACCOUNT &&
			    e->provider && !strcmp(e->provider, "azure"))
				p->subscriptions++;
		}
	}
	return graph_page(s, NULL);
}

static void azure_finish(void *state, struct inv_account *a)
{
	struct sub *s = a->state;

	(void)state;
	if (!s)
		return;
	if (!a->fatal) {
		cJSON_AddItemToObject(a->json, "resources", s->resources);
		cJSON_AddItemToObject(a->json, "secrets", s->secrets);
		s->resources = s->secrets = NULL;
	}
	cJSON_Delete(s->resources);
	cJSON_Delete(s->secrets);
	free(s);
	a->state = NULL;
}

/* ---- Microsoft Graph: the tenant's applications ---- */

struct dir {
	struct azure *p;
	cJSON *apps, *errors;
	int pages;
};

static void on_apps(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload);

static int apps_page(struct dir *d, const char *url)
{
	cspf_http_request *req = request("GET", url, d->p->graph_token);

	if (!req)
		return cspf_error_set_oom();
	d->pages++;
	return cspf_http_submit(inv_http(d->p->inv), req, on_apps, d);
}

static void dir_error(struct dir *d, const char *what, int status,
	const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	char buf[600];

	snprintf(buf, sizeof(buf), "%s: %s%s%s", what,
		status ? "HTTP error" : (cspf_error_last() ?
			cspf_error_last()->message : "no answer"),
		jstr(e, "code") ? ": " : "",
		jstr(e, "code") ? jstr(e, "code") : "");
	cJSON_AddItemToArray(d->errors, cJSON_CreateString(buf));
}

static void on_apps(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct dir *d = payload;
	const char *body;
	size_t len;
	cJSON *j = NULL;
	const cJSON *app, *pw;
	int status = resp ? cspf_http_response_status(resp) : 0;

	(void)req;
	body = resp ? cspf_http_response_body(resp, &len) : NULL;
	if (body)
		j = cJSON_ParseWithLength(body, len);
	if (error < 0 || status != 200 || !j) {
		dir_error(d, "Microsoft Graph applications", error < 0 ? 0 :
							     status, j);
		cJSON_Delete(j);
		return;
	}
	cJSON_ArrayForEach(app, cJSON_GetObjectItemCaseSensitive(j, "value")) {
		cJSON *o = cJSON_CreateObject(), *secrets;
		if (!o || !jstr(app, "appId") ||
		    !cJSON_AddItemToArray(d->apps, o)) {
			cJSON_Delete(o);
			continue;
		}
		cJSON_AddStringToObject(o, "app_id", jstr(app, "appId"));
		if (jstr(app, "id"))
			cJSON_AddStringToObject(o, "object_id",
				jstr(app, "id"));
		if (jstr(app, "displayName"))
			cJSON_AddStringToObject(o, "name",
				jstr(app, "displayName"));
		secrets = cJSON_AddArrayToObject(o, "secrets");
		cJSON_ArrayForEach(pw, cJSON_GetObjectItemCaseSensitive(app,
					       "passwordCredentials")) {
			cJSON *s = cJSON_CreateObject();
			if (!s || !jstr(pw, "keyId") ||
			    !cJSON_AddItemToArray(secrets, s)) {
				cJSON_Delete(s);
				continue;
			}
			cJSON_AddStringToObject(s, "key_id",
				jstr(pw, "keyId"));
			if (jstr(pw, "displayName"))
				cJSON_AddStringToObject(s, "name",
					jstr(pw, "displayName"));
			inv_add_time_str(s, "start",
				jstr(pw, "startDateTime"));
			inv_add_time_str(s, "end", jstr(pw, "endDateTime"));
		}
	}
	if (jstr(j, "@odata.nextLink") && d->pages < 10000)
		apps_page(d, jstr(j, "@odata.nextLink"));
	cJSON_Delete(j);
}

static int azure_directories(void *state, struct inv *inv, cJSON *dirs)
{
	struct azure *p = state;
	struct dir d;
	cspf_buf url = CSPF_BUF_INIT;
	cJSON *o;
	int r;

	(void)inv;
	memset(&d, 0, sizeof(d));
	d.p = p;
	d.apps = cJSON_CreateArray();
	d.errors = cJSON_CreateArray();
	cspf_buf_printf(&url, "%s/v1.0/applications?$select=id,appId,"
		"displayName,passwordCredentials&$top=999", p->graph);
	if (!d.apps || !d.errors || cspf_buf_oom(&url)) {
		r = cspf_error_set_oom();
		goto out;
	}
	if ((r = apps_page(&d, url.ptr)) == 0)
		r = cspf_http_run(inv_http(p->inv));
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(dirs, o)) {
		cJSON_Delete(o);
		r = cspf_error_set_oom();
		goto out;
	}
	cJSON_AddStringToObject(o, "provider", "azure");
	cJSON_AddStringToObject(o, "id", p->tenant);
	cJSON_AddStringToObject(o, "status",
		cJSON_GetArraySize(d.errors) ?
			(cJSON_GetArraySize(d.apps) ? "partial" : "error") :
			"ok");
	if (cJSON_GetArraySize(d.errors)) {
		cJSON_AddItemToObject(o, "errors", d.errors);
		d.errors = NULL;
	}
	cJSON_AddItemToObject(o, "applications", d.apps);
	d.apps = NULL;
out:
	cJSON_Delete(d.apps);
	cJSON_Delete(d.errors);
	cspf_buf_dispose(&url);
	return r;
}

const struct inv_provider inv_azure_provider = {
	INV_PROVIDER_VERSION,
	"azure",
	CSPF_INVENTORY_AZURE,
	azure_setup,
	azure_start,
	azure_finish,
	azure_directories,
	azure_teardown,
};
