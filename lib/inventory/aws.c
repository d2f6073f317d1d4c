/*
 * The AWS provider: for each account, assume the inventory role, then at
 * once: GetAccountSummary; the IAM credential report (console passwords,
 * MFA, when each key was last used: one call instead of three per user);
 * ListUsers and each user's ListAccessKeys (key ids and creation dates,
 * which the report lacks); ListRoles and each role's GetRole (RoleLastUsed,
 * which ListRoles lacks); ListBuckets and each bucket's location,
 * versioning and logging; each region's DescribeTrails and each trail's
 * GetTrailStatus.  Every List* follows IsTruncated/Marker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "cspf/aws.h"
#include "cspf/time.h"
#include "inventory_private.h"
#include "util/buf.h"
#include "util/error.h"

struct aws {
	struct inv *inv;
	cspf_aws_credentials *base;
	char *role;        /* inventory_role, or NULL: the base credentials */
	char *partition;   /* "aws" */
	char *endpoint;    /* providers.aws.endpoint_url, or NULL */
	char **regions;
	size_t nregions;
};

/* One account's reading. */
struct acct {
	struct aws *p;
	struct inv_account *a;
	cspf_aws_credentials *creds;
	cspf_aws_service *iam, *sts; /* live as long as their requests */
	cspf_aws_service **s3;    /* per region, made when needed */
	cspf_aws_service **trail; /* per region */
	char **s3_region;
	size_t ns3;
	cJSON *root, *users, *roles, *buckets, *trails;
	char *report;             /* the credential report's CSV */
	int report_tries;
};

/* What a request is for: the account, and an object to fill. */
struct ctx {
	struct acct *x;
	cJSON *obj;        /* a user, role, bucket or trail */
	char *name;
	size_t region;
};

static struct ctx *ctx_new(struct acct *x, cJSON *obj, const char *name,
	size_t region)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->x = x;
	c->obj = obj;
	c->region = region;
	if (name && !(c->name = strdup(name))) {
		free(c);
		return NULL;
	}
	return c;
}

static void ctx_free(struct ctx *c)
{
	if (c)
		free(c->name);
	free(c);
}

/* ---- set-up ---- */

int cspf_inventory_aws_config_read(cspf_inventory_aws_config *out,
	const cJSON *aws)
{
	const cJSON *regions = cJSON_GetObjectItemCaseSensitive(aws, "regions");
	const char *role = jstr(aws, "inventory_role");
	const char *part = jstr(aws, "partition");
	const char *ep = jstr(aws, "endpoint_url");
	const cJSON *r;

	memset(out, 0, sizeof(*out));
	if ((role && !(out->role = strdup(role))) ||
	    !(out->partition = strdup(part ? part : "aws")) ||
	    (ep && !(out->endpoint = strdup(ep))))
		return cspf_error_set_oom();
	out->regions = calloc((size_t)cJSON_GetArraySize(regions) + 1,
		sizeof(*out->regions));
	if (!out->regions)
		return cspf_error_set_oom();
	cJSON_ArrayForEach(r, regions)
		if (cJSON_IsString(r) &&
		    (out->regions[out->nregions] = strdup(r->valuestring)))
			out->nregions++;
	if (!out->nregions) {
		char *region = NULL;
		if (cspf_aws_region_resolve(&region, NULL) < 0 || !region)
			region = strdup("us-east-1");
		cspf_error_clear();
		if (!region)
			return cspf_error_set_oom();
		out->regions[out->nregions++] = region;
	}
	return 0;
}

void cspf_inventory_aws_config_dispose(cspf_inventory_aws_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->role);
	free(c->partition);
	free(c->endpoint);
	for (i = 0; i < c->nregions; i++)
		free(c->regions[i]);
	free(c->regions);
	memset(c, 0, sizeof(*c));
}

int cspf_inventory_aws_role(char *arn, size_t arn_size, char *session,
	size_t session_size, const cspf_inventory_aws_config *c,
	const char *account, const char *purpose)
{
	if (!c->role)
		return CSPF_ENOTFOUND;
	snprintf(arn, arn_size, "arn:%s:iam::%s:role/%s", c->partition,
		account, c->role);
	snprintf(session, session_size, "cspf-%s-%s", purpose, account);
	return 0;
}

int cspf_inventory_aws_credentials(cspf_aws_credentials **out,
	cspf_http_client *http, cspf_aws_credentials *base,
	const cspf_inventory_aws_config *c, const char *account,
	const char *purpose)
{
	cspf_aws_assume_role_options ro = CSPF_AWS_ASSUME_ROLE_OPTIONS_INIT;
	char arn[300], session[64];

	*out = NULL;
	if (cspf_inventory_aws_role(arn, sizeof(arn), session,
		    sizeof(session), c, account, purpose) < 0) {
		*out = cspf_aws_credentials_ref(base);
		return 0;
	}
	ro.role_arn = arn;
	ro.session_name = session;
	ro.region = c->regions[0];
	ro.endpoint = c->endpoint;
	return cspf_aws_assume_role(out, http, base, &ro);
}

static int aws_setup(void **state, struct inv *inv)
{
	cspf_inventory_aws_config c;
	struct aws *p = calloc(1, sizeof(*p));
	int rc;

	*state = p;
	if (!p)
		return cspf_error_set_oom();
	p->inv = inv;
	if ((rc = cspf_aws_credentials_resolve(&p->base, inv_http(inv),
		     NULL)) < 0)
		return rc;
	rc = cspf_inventory_aws_config_read(&c, inv_provider_config(inv,
							"aws"));
	/* The provider's fields take the strings over. */
	p->role = c.role;
	p->partition = c.partition;
	p->endpoint = c.endpoint;
	p->regions = c.regions;
	p->nregions = c.nregions;
	return rc;
}

static void aws_teardown(void *state)
{
	struct aws *p = state;
	size_t i;

	if (!p)
		return;
	cspf_aws_credentials_free(p->base);
	free(p->role);
	free(p->partition);
	free(p->endpoint);
	for (i = 0; i < p->nregions; i++)
		free(p->regions[i]);
	free(p->regions);
	free(p);
}

/* ---- helpers ---- */

/*
 * The response as XML, or NULL with the failure recorded for the account
 * ("ListUsers: AccessDenied: ...").  *code gets the AWS error code.
 */
static cspf_aws_xml *xml_of(struct acct *x, const char *what,
	cspf_http_response *resp, int error, char code[128])
{
	cspf_aws_xml *doc = NULL;

	if (code)
		code[0] = '\0';
	if (cspf_aws_response_check(resp, error, what) < 0) {
		cspf_aws_error e;
		if (resp && cspf_aws_error_parse(&e, resp) == 0 && code)
			snprintf(code, 128, "%s", e.code);
		if (!code || (strcmp(code, "NoSuchEntity") &&
			     strcmp(code, "NoSuchBucketPolicy")))
			inv_error(x->a, "%s", cspf_error_last() ?
				cspf_error_last()->message : what);
		return NULL;
	}
	if (cspf_aws_xml_parse_response(&doc, resp) < 0) {
		inv_error(x->a, "%s: %s", what, cspf_error_last() ?
			cspf_error_last()->message : "unreadable XML");
		return NULL;
	}
	return doc;
}

static void add_text(cJSON *obj, const char *key,
	const cspf_aws_xml_node *n, const char *path)
{
	char *v = cspf_aws_xml_get(n, path);

	if (v && *v)
		cJSON_AddStringToObject(obj, key, v);
	free(v);
}

static void add_xml_time(cJSON *obj, const char *key,
	const cspf_aws_xml_node *n, const char *path)
{
	char *v = cspf_aws_xml_get(n, path);

	inv_add_time_str(obj, key, v);
	free(v);
}

/* "true" in the element at `path`. */
static int xml_true(const cspf_aws_xml_node *n, const char *path)
{
	char *v = cspf_aws_xml_get(n, path);
	int t = v && !strcmp(v, "true");

	free(v);
	return t;
}

/* A query request of the account's IAM, with a Marker if paging. */
static int iam_call(struct acct *x, const char *action, const char *name,
	const char *value, const char *marker, inv_done_cb done,
	struct ctx *c)
{
	cspf_http_request *req = NULL;

	if (!c || cspf_aws_query_new(&req, x->iam, action, NULL) < 0 ||
	    (name && cspf_http_request_set_form_param(req, name, value) < 0) ||
	    (marker && cspf_http_request_set_form_param(req, "Marker",
			       marker) < 0)) {
		cspf_http_request_free(req);
		ctx_free(c);
		inv_error(x->a, "%s: could not make the request", action);
		return -1;
	}
	return inv_submit(x->a, req, done, c);
}

/* The account's service `name` in region `i` (cached). */
static cspf_aws_service *regional(struct acct *x, cspf_aws_service **cache,
	const char *name, size_t i)
{
	if (!cache[i] && cspf_aws_service_new(&cache[i], name,
				 x->p->regions[i], x->creds,
				 x->p->endpoint) < 0) {
		inv_error(x->a, "%s in %s: %s", name, x->p->regions[i],
			cspf_error_last() ? cspf_error_last()->message : "?");
		return NULL;
	}
	return cache[i];
}

/* The account's S3 in a region no configured region may name. */
static cspf_aws_service *s3_in(struct acct *x, const char *region)
{
	size_t i;

	for (i = 0; i < x->p->nregions; i++)
		if (!strcmp(x->p->regions[i], region))
			return regional(x, x->s3, "s3", i);
	for (i = 0; i < x->ns3; i++)
		if (!strcmp(x->s3_region[i], region))
			return x->s3[x->p->nregions + i];
	{
		cspf_aws_service **s = realloc(x->s3,
			(x->p->nregions + x->ns3 + 1) * sizeof(*s));
		char **r = realloc(x->s3_region,
			(x->ns3 + 1) * sizeof(*r));
		if (s)
			x->s3 = s;
		if (r)
			x->s3_region = r;
		if (!s || !r)
			return NULL;
		s[x->p->nregions + x->ns3] = NULL;
		if (cspf_aws_service_new(&s[x->p->nregions + x->ns3], "s3",
			    region, x->creds, x->p->endpoint) < 0)
			return NULL;
		r[x->ns3] = strdup(region);
		return s[x->p->nregions + x->ns3++];
	}
}

/* ---- IAM ---- */

static void on_summary(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	cspf_aws_xml *doc = xml_of(x, "GetAccountSummary", resp, error, NULL);
	const cspf_aws_xml_node *e;

	(void)a;
	(void)req;
	if (doc) {
		e = cspf_aws_xml_path(cspf_aws_xml_root(doc),
			"GetAccountSummaryResult/SummaryMap");
		for (e = cspf_aws_xml_child(e, "entry"); e;
		     e = cspf_aws_xml_next(e, "entry")) {
			char *k = cspf_aws_xml_get(e, "key");
			char *v = cspf_aws_xml_get(e, "value");
			if (k && v && !strcmp(k, "AccountAccessKeysPresent"))
				cJSON_AddNumberToObject(x->root,
					"access_keys", atoi(v));
			if (k && v && !strcmp(k, "AccountMFAEnabled"))
				cJSON_AddBoolToObject(x->root, "mfa",
					!strcmp(v, "1"));
			free(k);
			free(v);
		}
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

/* The report is not ready yet: "retry" the Generate call, with backoff. */
static cspf_http_class report_state(const cspf_http_response *resp,
	void *payload)
{
	const char *body;
	size_t len;

	(void)payload;
	if (cspf_http_response_status(resp) != 200)
		return cspf_aws_classify(resp, NULL);
	body = cspf_http_response_body(resp, &len);
	if (body && (strstr(body, "<State>STARTED</State>") ||
		     strstr(body, "<State>INPROGRESS</State>")))
		return CSPF_HTTP_CLASS_RETRY;
	return CSPF_HTTP_CLASS_DONE;
}

static void on_report(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	cspf_aws_xml *doc = xml_of(x, "GetCredentialReport", resp, error,
		NULL);
	char *b64 = doc ? cspf_aws_xml_get(cspf_aws_xml_root(doc),
				  "GetCredentialReportResult/Content") :
			  NULL;

	(void)a;
	(void)req;
	if (b64) {
		size_t n = strlen(b64), got = 0;
		char *csv = malloc(n + 1);
		if (csv && sodium_base642bin((unsigned char *)csv, n, b64, n,
				   "\n\r ", &got, NULL,
				   sodium_base64_VARIANT_ORIGINAL) == 0) {
			csv[got] = '\0';
			x->report = csv;
			csv = NULL;
		} else {
			inv_error(x->a, "GetCredentialReport: the report is "
				"not base64");
		}
		free(csv);
	}
	free(b64);
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_generate(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	cspf_aws_xml *doc = xml_of(x, "GenerateCredentialReport", resp, error,
		NULL);

	(void)a;
	(void)req;
	if (doc)
		iam_call(x, "GetCredentialReport", NULL, NULL, NULL, on_report,
			ctx_new(x, NULL, NULL, 0));
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_keys(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	char what[200];
	cspf_aws_xml *doc;
	const cspf_aws_xml_node *res, *m;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "ListAccessKeys %s", c->name);
	doc = xml_of(x, what, resp, error, NULL);
	if (doc) {
		cJSON *keys = cJSON_GetObjectItemCaseSensitive(c->obj,
			"access_keys");
		res = cspf_aws_xml_path(cspf_aws_xml_root(doc),
			"ListAccessKeysResult");
		m = cspf_aws_xml_child(cspf_aws_xml_child(res,
					       "AccessKeyMetadata"), "member");
		for (; m; m = cspf_aws_xml_next(m, "member")) {
			cJSON *k = cJSON_CreateObject();
			if (!k || !cJSON_AddItemToArray(keys, k))
				break;
			add_text(k, "id", m, "AccessKeyId");
			add_text(k, "status", m, "Status");
			add_xml_time(k, "created", m, "CreateDate");
		}
		if (xml_true(res, "IsTruncated")) {
			char *mk = cspf_aws_xml_get(res, "Marker");
			iam_call(x, "ListAccessKeys", "UserName", c->name, mk,
				on_keys, ctx_new(x, c->obj, c->name, 0));
			free(mk);
		}
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_users(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	cspf_aws_xml *doc = xml_of(x, "ListUsers", resp, error, NULL);
	const cspf_aws_xml_node *res, *m;

	(void)a;
	(void)req;
	if (doc) {
		res = cspf_aws_xml_path(cspf_aws_xml_root(doc),
			"ListUsersResult");
		m = cspf_aws_xml_child(cspf_aws_xml_child(res, "Users"),
			"member");
		for (; m; m = cspf_aws_xml_next(m, "member")) {
			char *name = cspf_aws_xml_get(m, "UserName");
			cJSON *u = cJSON_CreateObject();
			if (!name || !u || !cJSON_AddItemToArray(x->users, u)) {
				free(name);
				cJSON_Delete(u);
				break;
			}
			cJSON_AddStringToObject(u, "name", name);
			add_text(u, "arn", m, "Arn");
			add_xml_time(u, "created", m, "CreateDate");
			add_xml_time(u, "password_last_used", m,
				"PasswordLastUsed");
			cJSON_AddArrayToObject(u, "access_keys");
			iam_call(x, "ListAccessKeys", "UserName", name, NULL,
				on_keys, ctx_new(x, u, name, 0));
			free(name);
		}
		if (xml_true(res, "IsTruncated")) {
			char *mk = cspf_aws_xml_get(res, "Marker");
			iam_call(x, "ListUsers", NULL, NULL, mk, on_users,
				ctx_new(x, NULL, NULL, 0));
			free(mk);
		}
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_role(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	char what[200];
	cspf_aws_xml *doc;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "GetRole %s", c->name);
	doc = xml_of(x, what, resp, error, NULL);
	if (doc)
		add_xml_time(c->obj, "last_used", cspf_aws_xml_root(doc),
			"GetRoleResult/Role/RoleLastUsed/LastUsedDate");
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_roles(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	cspf_aws_xml *doc = xml_of(x, "ListRoles", resp, error, NULL);
	const cspf_aws_xml_node *res, *m;

	(void)a;
	(void)req;
	if (doc) {
		res = cspf_aws_xml_path(cspf_aws_xml_root(doc),
			"ListRolesResult");
		m = cspf_aws_xml_child(cspf_aws_xml_child(res, "Roles"),
			"member");
		for (; m; m = cspf_aws_xml_next(m, "member")) {
			char *name = cspf_aws_xml_get(m, "RoleName");
			cJSON *r = cJSON_CreateObject();
			if (!name || !r || !cJSON_AddItemToArray(x->roles, r)) {
				free(name);
				cJSON_Delete(r);
				break;
			}
			cJSON_AddStringToObject(r, "name", name);
			add_text(r, "arn", m, "Arn");
			add_text(r, "path", m, "Path");
			add_xml_time(r, "created", m, "CreateDate");
			{
				char *policy = cspf_aws_xml_get(m,
					"AssumeRolePolicyDocument");

				if (policy)
					inv_add_trusted(r, NULL, policy);
				free(policy);
			}
			iam_call(x, "GetRole", "RoleName", name, NULL, on_role,
				ctx_new(x, r, name, 0));
			free(name);
		}
		if (xml_true(res, "IsTruncated")) {
			char *mk = cspf_aws_xml_get(res, "Marker");
			iam_call(x, "ListRoles", NULL, NULL, mk, on_roles,
				ctx_new(x, NULL, NULL, 0));
			free(mk);
		}
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

/* ---- S3 ---- */

static int s3_call(struct acct *x, cspf_aws_service *svc, const char *bucket,
	const char *sub, inv_done_cb done, struct ctx *c)
{
	cspf_http_request *req = NULL;

	if (!c || !svc || cspf_aws_rest_new(&req, svc, "GET",
				  bucket ? bucket : "", sub) < 0) {
		ctx_free(c);
		inv_error(x->a, "S3 %s: could not make the request",
			sub ? sub : "ListBuckets");
		return -1;
	}
	return inv_submit(x->a, req, done, c);
}

static void on_versioning(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	char what[300];
	cspf_aws_xml *doc;
	char *st;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "GetBucketVersioning %s", c->name);
	doc = xml_of(c->x, what, resp, error, NULL);
	if (doc) {
		st = cspf_aws_xml_get(cspf_aws_xml_root(doc), "Status");
		cJSON_AddStringToObject(c->obj, "versioning",
			st && !strcmp(st, "Enabled") ? "Enabled" :
			st && !strcmp(st, "Suspended") ? "Suspended" :
							 "Disabled");
		free(st);
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_logging(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	char what[300];
	cspf_aws_xml *doc;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "GetBucketLogging %s", c->name);
	doc = xml_of(c->x, what, resp, error, NULL);
	if (doc)
		cJSON_AddBoolToObject(c->obj, "logging",
			cspf_aws_xml_child(cspf_aws_xml_root(doc),
				"LoggingEnabled") != NULL);
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_location(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	char what[300];
	cspf_aws_xml *doc;
	cspf_aws_service *svc;
	char *loc;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "GetBucketLocation %s", c->name);
	doc = xml_of(x, what, resp, error, NULL);
	if (doc) {
		/* Empty means us-east-1; "EU" is eu-west-1 of old. */
		loc = cspf_aws_xml_text(cspf_aws_xml_root(doc));
		if (!loc || !*loc) {
			free(loc);
			loc = strdup("us-east-1");
		} else if (!strcmp(loc, "EU")) {
			free(loc);
			loc = strdup("eu-west-1");
		}
		if (loc) {
			cJSON_AddStringToObject(c->obj, "region", loc);
			svc = s3_in(x, loc);
			s3_call(x, svc, c->name, "versioning", on_versioning,
				ctx_new(x, c->obj, c->name, 0));
			s3_call(x, svc, c->name, "logging", on_logging,
				ctx_new(x, c->obj, c->name, 0));
		}
		free(loc);
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static void on_buckets(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	cspf_aws_xml *doc = xml_of(x, "ListBuckets", resp, error, NULL);
	const cspf_aws_xml_node *b;

	(void)a;
	(void)req;
	if (doc) {
		b = cspf_aws_xml_child(cspf_aws_xml_child(
					       cspf_aws_xml_root(doc),
					       "Buckets"),
			"Bucket");
		for (; b; b = cspf_aws_xml_next(b, "Bucket")) {
			char *name = cspf_aws_xml_get(b, "Name");
			cJSON *o = cJSON_CreateObject();
			if (!name || !o || !cJSON_AddItemToArray(x->buckets,
						   o)) {
				free(name);
				cJSON_Delete(o);
				break;
			}
			cJSON_AddStringToObject(o, "name", name);
			add_xml_time(o, "created", b, "CreationDate");
			s3_call(x, regional(x, x->s3, "s3", 0), name,
				"location", on_location,
				ctx_new(x, o, name, 0));
			free(name);
		}
	}
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

/* ---- CloudTrail (JSON 1.1) ---- */

#define TRAIL_TARGET "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

static cJSON *json_of(struct acct *x, const char *what,
	cspf_http_response *resp, int error)
{
	const char *body;
	size_t len;
	cJSON *j;

	if (cspf_aws_response_check(resp, error, what) < 0) {
		inv_error(x->a, "%s", cspf_error_last() ?
			cspf_error_last()->message : what);
		return NULL;
	}
	body = cspf_http_response_body(resp, &len);
	j = body ? cJSON_ParseWithLength(body, len) : NULL;
	if (!j)
		inv_error(x->a, "%s: the answer is not JSON", what);
	return j;
}

static void on_trail_status(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	char what[300];
	cJSON *j;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "GetTrailStatus %s", c->name);
	j = json_of(c->x, what, resp, error);
	if (j)
		cJSON_AddBoolToObject(c->obj, "logging",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j,
				"IsLogging")));
	cJSON_Delete(j);
	ctx_free(c);
}

static void on_trails(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	char what[100];
	const cJSON *t;
	cJSON *j;

	(void)a;
	(void)req;
	snprintf(what, sizeof(what), "DescribeTrails in %s",
		x->p->regions[c->region]);
	j = json_of(x, what, resp, error);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j,
				      "trailList")) {
		const char *name = jstr(t, "Name");
		const char *arn = jstr(t, "TrailARN");
		cJSON *o;
		cspf_aws_service *svc;
		char body[1200];
		cspf_http_request *r2 = NULL;

		if (!name)
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(x->trails, o)) {
			cJSON_Delete(o);
			break;
		}
		cJSON_AddStringToObject(o, "name", name);
		if (arn)
			cJSON_AddStringToObject(o, "arn", arn);
		if (jstr(t, "HomeRegion"))
			cJSON_AddStringToObject(o, "home_region",
				jstr(t, "HomeRegion"));
		cJSON_AddBoolToObject(o, "multi_region",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t,
				"IsMultiRegionTrail")));
		cJSON_AddBoolToObject(o, "log_file_validation",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t,
				"LogFileValidationEnabled")));
		if (jstr(t, "S3BucketName"))
			cJSON_AddStringToObject(o, "bucket",
				jstr(t, "S3BucketName"));
		svc = regional(x, x->trail, "cloudtrail", c->region);
		snprintf(body, sizeof(body), "{\"Name\":\"%s\"}",
			arn ? arn : name);
		if (svc && cspf_aws_json_new(&r2, svc,
				   TRAIL_TARGET "GetTrailStatus", body) == 0)
			inv_submit(x->a, r2, on_trail_status,
				ctx_new(x, o, name, c->region));
	}
	cJSON_Delete(j);
	ctx_free(c);
}

/* ---- the account ---- */

static void start_reading(struct acct *x)
{
	size_t i;

	if (cspf_aws_service_new(&x->iam, "iam", x->p->regions[0], x->creds,
		    x->p->endpoint) < 0) {
		x->a->fatal = 1;
		inv_error(x->a, "IAM: %s", cspf_error_last() ?
			cspf_error_last()->message : "?");
		return;
	}
	iam_call(x, "GetAccountSummary", NULL, NULL, NULL, on_summary,
		ctx_new(x, NULL, NULL, 0));
	{
		cspf_http_request *req = NULL;
		struct ctx *c = ctx_new(x, NULL, NULL, 0);
		if (c && cspf_aws_query_new(&req, x->iam,
				 "GenerateCredentialReport", NULL) == 0) {
			cspf_http_request_set_classify(req, report_state,
				NULL);
			inv_submit(x->a, req, on_generate, c);
		} else {
			ctx_free(c);
		}
	}
	iam_call(x, "ListUsers", NULL, NULL, NULL, on_users,
		ctx_new(x, NULL, NULL, 0));
	iam_call(x, "ListRoles", NULL, NULL, NULL, on_roles,
		ctx_new(x, NULL, NULL, 0));
	s3_call(x, regional(x, x->s3, "s3", 0), NULL, NULL, on_buckets,
		ctx_new(x, NULL, NULL, 0));
	for (i = 0; i < x->p->nregions; i++) {
		cspf_aws_service *svc = regional(x, x->trail, "cloudtrail", i);
		cspf_http_request *req = NULL;
		if (svc && cspf_aws_json_new(&req, svc,
				   TRAIL_TARGET "DescribeTrails",
				   "{\"includeShadowTrails\":false}") == 0)
			inv_submit(x->a, req, on_trails,
				ctx_new(x, NULL, NULL, i));
	}
}

static void on_assume(struct inv_account *a, cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload)
{
	struct ctx *c = payload;
	struct acct *x = c->x;
	char what[300];
	cspf_aws_xml *doc;
	const cspf_aws_xml_node *cr;

	(void)req;
	snprintf(what, sizeof(what), "AssumeRole %s", c->name);
	doc = xml_of(x, what, resp, error, NULL);
	cr = doc ? cspf_aws_xml_path(cspf_aws_xml_root(doc),
			   "AssumeRoleResult/Credentials") :
		   NULL;
	if (cr) {
		cspf_secret *key = NULL, *token = NULL;
		char *id = cspf_aws_xml_get(cr, "AccessKeyId");
		char *exp = cspf_aws_xml_get(cr, "Expiration");
		int64_t t = 0;

		if (exp)
			cspf_time_parse(&t, exp);
		if (id &&
		    cspf_aws_xml_text_secret(&key, cspf_aws_xml_child(cr,
					"SecretAccessKey")) == 0 &&
		    cspf_aws_xml_text_secret(&token, cspf_aws_xml_child(cr,
					"SessionToken")) == 0 &&
		    cspf_aws_credentials_new(&x->creds, id, key, token, t,
			    "assumed role") == 0)
			start_reading(x);
		else
			inv_error(a, "%s: the answer holds no credentials",
				what);
		cspf_secret_free(key);
		cspf_secret_free(token);
		free(id);
		free(exp);
	}
	if (!x->creds)
		a->fatal = 1;
	cspf_aws_xml_free(doc);
	ctx_free(c);
}

static int aws_start(void *state, struct inv_account *a)
{
	struct aws *p = state;
	struct acct *x = calloc(1, sizeof(*x));

	if (!x)
		return cspf_error_set_oom();
	a->state = x;
	x->p = p;
	x->a = a;
	x->s3 = calloc(p->nregions, sizeof(*x->s3));
	x->trail = calloc(p->nregions, sizeof(*x->trail));
	x->root = cJSON_CreateObject();
	x->users = cJSON_CreateArray();
	x->roles = cJSON_CreateArray();
	x->buckets = cJSON_CreateArray();
	x->trails = cJSON_CreateArray();
	if (!x->s3 || !x->trail || !x->root || !x->users || !x->roles ||
	    !x->buckets || !x->trails)
		return cspf_error_set_oom();
	if (p->role) {
		cspf_inventory_aws_config c = { p->role, p->partition,
			p->endpoint, p->regions, p->nregions };
		cspf_http_request *req = NULL;
		char arn[300], session[64];
		int r;

		cspf_inventory_aws_role(arn, sizeof(arn), session,
			sizeof(session), &c, a->id, "inventory");
		if ((r = cspf_aws_service_new(&x->sts, "sts", p->regions[0],
			     p->base, p->endpoint)) < 0)
			return r;
		r = cspf_aws_query_new(&req, x->sts, "AssumeRole", NULL);
		if (r < 0 ||
		    cspf_http_request_set_form_param(req, "RoleArn", arn) < 0 ||
		    cspf_http_request_set_form_param(req, "RoleSessionName",
			    session) < 0 ||
		    cspf_http_request_set_form_param(req, "DurationSeconds",
			    "3600") < 0) {
			cspf_http_request_free(req);
			return r < 0 ? r : cspf_error_set_oom();
		}
		return inv_submit(a, req, on_assume,
			ctx_new(x, NULL, arn, 0));
	}
	x->creds = cspf_aws_credentials_ref(p->base);
	start_reading(x);
	return 0;
}

/* ---- finishing: the credential report into the users ---- */

/* The fields of one CSV line (no quoting in IAM's report), in place. */
static size_t csv_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		f[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

static int col(char **head, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(head[i], name))
			return (int)i;
	return -1;
}

static const char *field(char **f, size_t n, int i)
{
	if (i < 0 || (size_t)i >= n || !strcmp(f[i], "N/A") ||
	    !strcmp(f[i], "no_information") || !strcmp(f[i], "not_supported"))
		return NULL;
	return f[i];
}

/*
 * Apply an IAM credential report (CSV) to `users` and `root`: console
 * password and when it was last used, MFA, and each key's last use (the
 * report's key 1 and 2 are matched to the keys by creation date).
 * Users the report has and `users` lacks are added when `add` is set
 * (offline: the report is all there is).
 */
int inv_aws_apply_report(cJSON *users, cJSON *root, char *csv, int add);

int inv_aws_apply_report(cJSON *users, cJSON *root, char *csv, int add)
{
	char *head[40], *f[40], *line, *save = NULL;
	size_t nh, n, k;
	int c_user, c_pw, c_pwused, c_mfa, c_created;
	int c_ka[2], c_kr[2], c_ku[2], c_kreg[2], c_ksvc[2];

	line = strtok_r(csv, "\r\n", &save);
	if (!line)
		return -1;
	nh = csv_fields(line, head, 40);
	c_user = col(head, nh, "user");
	c_pw = col(head, nh, "password_enabled");
	c_pwused = col(head, nh, "password_last_used");
	c_mfa = col(head, nh, "mfa_active");
	c_created = col(head, nh, "user_creation_time");
	for (k = 0; k < 2; k++) {
		char name[64];
		snprintf(name, sizeof(name), "access_key_%zu_active", k + 1);
		c_ka[k] = col(head, nh, name);
		snprintf(name, sizeof(name), "access_key_%zu_last_rotated",
			k + 1);
		c_kr[k] = col(head, nh, name);
		snprintf(name, sizeof(name), "access_key_%zu_last_used_date",
			k + 1);
		c_ku[k] = col(head, nh, name);
		snprintf(name, sizeof(name),
			"access_key_%zu_last_used_region", k + 1);
		c_kreg[k] = col(head, nh, name);
		snprintf(name, sizeof(name),
			"access_key_%zu_last_used_service", k + 1);
		c_ksvc[k] = col(head, nh, name);
	}
	if (c_user < 0)
		return -1;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		const char *user;
		cJSON *u = NULL, *x;

		n = csv_fields(line, f, 40);
		user = field(f, n, c_user);
		if (!user)
			continue;
		if (!strcmp(user, "<root_account>")) {
			if (!root)
				continue;
			if (!cJSON_GetObjectItemCaseSensitive(root, "mfa") &&
			    field(f, n, c_mfa))
				cJSON_AddBoolToObject(root, "mfa",
					!strcmp(field(f, n, c_mfa), "true"));
			inv_add_time_str(root, "password_last_used",
				field(f, n, c_pwused));
			if (!cJSON_GetObjectItemCaseSensitive(root,
				    "access_keys"))
				cJSON_AddNumberToObject(root, "access_keys",
					(field(f, n, c_ka[0]) &&
						!strcmp(field(f, n, c_ka[0]),
							"true")) +
					(field(f, n, c_ka[1]) &&
						!strcmp(field(f, n, c_ka[1]),
							"true")));
			continue;
		}
		cJSON_ArrayForEach(x, users) {
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x,
				"name");
			if (cJSON_IsString(nm) && !strcmp(nm->valuestring,
							user))
				u = x;
		}
		if (!u && add) {
			u = cJSON_CreateObject();
			if (!u || !cJSON_AddItemToArray(users, u))
				return -1;
			cJSON_AddStringToObject(u, "name", user);
			inv_add_time_str(u, "created", field(f, n, c_created));
			cJSON_AddArrayToObject(u, "access_keys");
		}
		if (!u)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(u, "password");
		cJSON_AddBoolToObject(u, "password", field(f, n, c_pw) &&
			!strcmp(field(f, n, c_pw), "true"));
		if (!cJSON_GetObjectItemCaseSensitive(u, "password_last_used"))
			inv_add_time_str(u, "password_last_used",
				field(f, n, c_pwused));
		if (field(f, n, c_mfa))
			cJSON_AddNumberToObject(u, "mfa",
				!strcmp(field(f, n, c_mfa), "true"));
		for (k = 0; k < 2; k++) {
			const char *rot = field(f, n, c_kr[k]);
			cJSON *keys = cJSON_GetObjectItemCaseSensitive(u,
				"access_keys"), *key = NULL, *y;
			int64_t tr, tc;

			if (!rot || cspf_time_parse(&tr, rot) < 0)
				continue;
			cJSON_ArrayForEach(y, keys) {
				const cJSON *cr =
					cJSON_GetObjectItemCaseSensitive(y,
						"created");
				if (cJSON_IsString(cr) &&
				    cspf_time_parse(&tc, cr->valuestring) ==
					    0 &&
				    tc - tr < 2 && tr - tc < 2)
					key = y;
			}
			if (!key && add) {
				/* Offline: no id, but the key is there. */
				key = cJSON_CreateObject();
				if (!key || !cJSON_AddItemToArray(keys, key))
					return -1;
				cJSON_AddStringToObject(key, "id",
					k ? "(key 2)" : "(key 1)");
				cJSON_AddStringToObject(key, "status",
					field(f, n, c_ka[k]) &&
							!strcmp(field(f, n,
									c_ka[k]),
								"true") ?
						"Active" :
						"Inactive");
				inv_add_time(key, "created", tr);
			}
			if (!key)
				continue;
			inv_add_time_str(key, "last_used",
				field(f, n, c_ku[k]));
			if (field(f, n, c_ksvc[k]))
				cJSON_AddStringToObject(key,
					"last_used_service",
					field(f, n, c_ksvc[k]));
			if (field(f, n, c_kreg[k]))
				cJSON_AddStringToObject(key,
					"last_used_region",
					field(f, n, c_kreg[k]));
		}
	}
	return 0;
}

static int cmp_name(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
	const cJSON *na = cJSON_GetObjectItemCaseSensitive(a, "name");
	const cJSON *nb = cJSON_GetObjectItemCaseSensitive(b, "name");

	return strcmp(cJSON_IsString(na) ? na->valuestring : "",
		cJSON_IsString(nb) ? nb->valuestring : "");
}

/* The array's items in name order (detach, sort, attach). */
void inv_sort_by_name(cJSON *array);

void inv_sort_by_name(cJSON *array)
{
	int n = cJSON_GetArraySize(array), i;
	cJSON **items;

	if (n < 2 || !(items = malloc((size_t)n * sizeof(*items))))
		return;
	for (i = 0; i < n; i++)
		items[i] = cJSON_DetachItemFromArray(array, 0);
	qsort(items, (size_t)n, sizeof(*items), cmp_name);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(array, items[i]);
	free(items);
}

static void aws_finish(void *state, struct inv_account *a)
{
	struct acct *x = a->state;
	size_t i;

	(void)state;
	if (!x)
		return;
	if (x->report) {
		if (inv_aws_apply_report(x->users, x->root, x->report, 0) < 0)
			inv_error(a, "GetCredentialReport: the report is not "
				"the CSV IAM writes");
	} else if (!a->fatal) {
		inv_error(a, "no credential report: console passwords, MFA "
			"and key use are unknown");
	}
	if (!a->fatal) {
		inv_sort_by_name(x->users);
		inv_sort_by_name(x->roles);
		inv_sort_by_name(x->buckets);
		inv_sort_by_name(x->trails);
		cJSON_AddItemToObject(a->json, "root", x->root);
		cJSON_AddItemToObject(a->json, "users", x->users);
		cJSON_AddItemToObject(a->json, "roles", x->roles);
		cJSON_AddItemToObject(a->json, "buckets", x->buckets);
		cJSON_AddItemToObject(a->json, "trails", x->trails);
		x->root = x->users = x->roles = x->buckets = x->trails = NULL;
	}
	cJSON_Delete(x->root);
	cJSON_Delete(x->users);
	cJSON_Delete(x->roles);
	cJSON_Delete(x->buckets);
	cJSON_Delete(x->trails);
	cspf_aws_service_free(x->iam);
	cspf_aws_service_free(x->sts);
	for (i = 0; i < x->p->nregions + x->ns3; i++)
		if (x->s3)
			cspf_aws_service_free(x->s3[i]);
	for (i = 0; x->trail && i < x->p->nregions; i++)
		cspf_aws_service_free(x->trail[i]);
	for (i = 0; i < x->ns3; i++)
		free(x->s3_region[i]);
	free(x->s3_region);
	free(x->s3);
	free(x->trail);
	if (x->report)
		sodium_memzero(x->report, strlen(x->report));
	free(x->report);
	cspf_aws_credentials_free(x->creds);
	free(x);
	a->state = NULL;
}

const struct inv_provider inv_aws_provider = {
	INV_PROVIDER_VERSION,
	"aws",
	CSPF_INVENTORY_AWS,
	aws_setup,
	aws_start,
	aws_finish,
	NULL,
	aws_teardown,
};
