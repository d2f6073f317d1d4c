/*
 * attribute.c - who the registry says owns what, indexed for the
 * digest's one lookup per event part.
 *
 * Identifiers of what entities declare, as keys of ix->owned:
 *
 *   "id:<entity id>"                 every asset and credential
 *   "<ARN>"                          role, policy, arn; a credential's
 *                                    identity.arn
 *   "<azure resource id>"            resource_id (lower case)
 *   "s3:<bucket>"                    an AWS bucket and its objects
 *   "azst:<storage account>"         an Azure bucket ("account/container")
 *   "res:<id>"                       image_id (ami-…), security_group (sg-…)
 *   "name:<cloud account>:<name>"    any asset, by its name in its account
 *   "user:<cloud account>:<name>"    a credential's identity.user
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "digest/core.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

static void *pool_add(struct dg_index *ix, void *p)
{
	if (!p)
		return NULL;
	if (ix->pool_count == ix->pool_alloc) {
		size_t n = ix->pool_alloc ? ix->pool_alloc * 2 : 64;
		void **np = realloc(ix->pool, n * sizeof(*np));

		if (!np) {
			free(p);
			return NULL;
		}
		ix->pool = np;
		ix->pool_alloc = n;
	}
	ix->pool[ix->pool_count++] = p;
	return p;
}

static void *pool_zalloc(struct dg_index *ix, size_t size)
{
	return pool_add(ix, calloc(1, size));
}

static char *pool_lower(struct dg_index *ix, const char *s)
{
	char *d = strdup(s), *p;

	if (d)
		for (p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return pool_add(ix, d);
}

static const char *str_of(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Put `key` (built in b) → value; the first entity to declare it wins. */
static int put_key(struct dg_index *ix, cspf_map *m, cspf_buf *b,
	void *value)
{
	if (cspf_buf_oom(b))
		return cspf_error_set_oom();
	if (cspf_map_get(m, b->ptr, b->size))
		return 0;
	if (cspf_map_put(m, b->ptr, b->size, value) < 0)
		return cspf_error_set_oom();
	(void)ix;
	return 0;
}

static int put_keyf(struct dg_index *ix, cspf_map *m, void *value,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int put_keyf(struct dg_index *ix, cspf_map *m, void *value,
	const char *fmt, ...)
{
	cspf_buf b = CSPF_BUF_INIT;
	va_list ap;
	int error;

	va_start(ap, fmt);
	cspf_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	error = put_key(ix, m, &b, value);
	cspf_buf_dispose(&b);
	return error;
}

static void lower_in_place(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

struct dg_team *dg_team_of(struct dg_index *ix, const cJSON *json)
{
	const cJSON *owner = cJSON_GetObjectItemCaseSensitive(json, "owner");
	const char *team = str_of(owner, "team");
	char id[256];

	if (!team)
		team = str_of(json, "team");
	if (!team)
		return NULL;
	if (strncmp(team, "teams/", 6) == 0)
		snprintf(id, sizeof(id), "%s", team);
	else
		snprintf(id, sizeof(id), "teams/%s", team);
	return cspf_map_gets(&ix->teams, id);
}

struct dg_person *dg_person_find(struct dg_index *ix, const char *email)
{
	char buf[320];
	size_t n = strlen(email);

	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, email, n + 1);
	lower_in_place(buf);
	return cspf_map_get(&ix->people, buf, n);
}

struct dg_account *dg_account_find(struct dg_index *ix, const char *cloud_id)
{
	char buf[128];
	size_t n;

	if (!cloud_id || (n = strlen(cloud_id)) >= sizeof(buf))
		return NULL;
	memcpy(buf, cloud_id, n + 1);
	lower_in_place(buf);
	return cspf_map_get(&ix->accounts, buf, n);
}

static int add_person(struct dg_index *ix, const char *email,
	struct dg_team *team)
{
	struct dg_person *p;
	char *lower, *at;
	void *old;

	if (dg_person_find(ix, email))
		return 0;
	if (!(p = pool_zalloc(ix, sizeof(*p))) ||
	    !(lower = pool_lower(ix, email)))
		return cspf_error_set_oom();
	p->email = lower;
	p->team = team;
	if (cspf_map_puts(&ix->people, lower, p) < 0)
		return cspf_error_set_oom();
	/* The local part, when no other person has it. */
	if ((at = strchr(lower, '@'))) {
		old = cspf_map_get(&ix->people, lower, (size_t)(at - lower));
		if (cspf_map_put(&ix->people, lower, (size_t)(at - lower),
		    old ? (void *)&ix->unknown_team : p) < 0)
			return cspf_error_set_oom();
	}
	return 0;
}

static int index_team(struct dg_index *ix, const cspf_entity *e)
{
	struct dg_team *t = pool_zalloc(ix, sizeof(*t));
	const cJSON *tickets, *a;
	const char *slash;

	if (!t)
		return cspf_error_set_oom();
	t->id = e->id;
	slash = strrchr(e->id, '/');
	t->name = str_of(e->json, "name");
	if (!t->name)
		t->name = slash ? slash + 1 : e->id;
	t->contact = str_of(e->json, "contact");
	t->manager = str_of(e->json, "manager");
	t->escalation = str_of(e->json, "escalation");
	tickets = cJSON_GetObjectItemCaseSensitive(e->json, "tickets");
	t->sink = str_of(tickets, "sink");
	t->queue = str_of(tickets, "queue");
	a = cJSON_GetObjectItemCaseSensitive(tickets, "assignees");
	if (cJSON_IsArray(a)) {
		const cJSON *it;
		size_t n = (size_t)cJSON_GetArraySize(a);

		if (!(t->assignees = pool_zalloc(ix, (n + 1) *
		    sizeof(*t->assignees))))
			return cspf_error_set_oom();
		cJSON_ArrayForEach(it, a)
			if (cJSON_IsString(it))
				t->assignees[t->assignee_count++] =
					it->valuestring;
	}
	if (cspf_map_puts(&ix->teams, e->id, t) < 0)
		return cspf_error_set_oom();
	return 0;
}

static int index_people(struct dg_index *ix, const cspf_entity *e)
{
	struct dg_team *t = cspf_map_gets(&ix->teams, e->id);
	const cJSON *m;
	const char *manager = str_of(e->json, "manager");

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(e->json,
	    "members"))
		if (cJSON_IsString(m) && add_person(ix, m->valuestring, t) < 0)
			return -1;
	/* A manager of no team of their own reports to their team's. */
	if (manager && add_person(ix, manager, t) < 0)
		return -1;
	return 0;
}

static int index_account(struct dg_index *ix, const cspf_entity *e)
{
	struct dg_account *a;
	const char *id = str_of(e->json, "accountid");
	char *lower;

	if (!id)
		return 0;
	if (!(a = pool_zalloc(ix, sizeof(*a))) ||
	    !(lower = pool_lower(ix, id)))
		return cspf_error_set_oom();
	a->entity = e;
	a->cloud_id = id;
	a->key = lower;
	a->name = str_of(e->json, "name");
	if (!a->name)
		a->name = e->id;
	a->team = dg_team_of(ix, e->json);
	a->escalation = str_of(e->json, "escalation");
	if (!a->escalation && a->team)
		a->escalation = a->team->escalation;
	a->root = str_of(e->json, "root");
	if (cspf_map_puts(&ix->accounts, lower, a) < 0)
		return cspf_error_set_oom();
	return 0;
}

static struct dg_account *account_of(struct dg_index *ix, const cJSON *json)
{
	const char *ref = str_of(json, "account");
	const cspf_entity *a;

	if (!ref || !(a = cspf_registry_find(ix->reg, ref)))
		return NULL;
	return dg_account_find(ix, str_of(a->json, "accountid"));
}

static int index_owned(struct dg_index *ix, const cspf_entity *e)
{
	struct dg_owned *o = pool_zalloc(ix, sizeof(*o));
	const char *acct, *v, *name;
	const cJSON *identity;
	char *slash;

	if (!o)
		return cspf_error_set_oom();
	o->entity = e;
	o->account = account_of(ix, e->json);
	acct = o->account ? o->account->key : "";
	o->owner = dg_team_of(ix, e->json);
	if (!o->owner && o->account)
		o->owner = o->account->team;
	if (e->kind == CSPF_KIND_TEAM)
		o->owner = cspf_map_gets(&ix->teams, e->id);
	if (e->kind == CSPF_KIND_ACCOUNT)
		o->account = dg_account_find(ix, str_of(e->json, "accountid"));
	if (!o->owner && o->account)
		o->owner = o->account->team;
	if (put_keyf(ix, &ix->owned, o, "id:%s", e->id) < 0)
		return -1;

	if (e->kind == CSPF_KIND_CREDENTIALS) {
		const char *hash = strchr(e->id, '#');

		o->credential = true;
		/* The file, as the git source names it: its first entry's
		 * owner. */
		if (hash && put_keyf(ix, &ix->owned, o, "id:%.*s",
		    (int)(hash - e->id), e->id) < 0)
			return -1;
		identity = cJSON_GetObjectItemCaseSensitive(e->json,
			"identity");
		if ((v = str_of(identity, "arn")) &&
		    put_keyf(ix, &ix->owned, o, "%s", v) < 0)
			return -1;
		if ((v = str_of(identity, "user")) &&
		    put_keyf(ix, &ix->owned, o, "user:%s:%s", acct, v) < 0)
			return -1;
		/* An Entra application: its service principal acts. */
		if ((v = str_of(identity, "app_id"))) {
			char *l = pool_lower(ix, v);

			if (!l || put_keyf(ix, &ix->owned, o, "app:%s", l) < 0)
				return -1;
		}
		return 0;
	}
	if (e->kind != CSPF_KIND_ASSET)
		return 0;
	o->role = e->asset_kind && strcmp(e->asset_kind, "iam-role") == 0;
	if (o->role) {
		const cspf_entity **r = realloc(ix->roles,
			(ix->role_count + 1) * sizeof(*r));

		if (!r)
			return cspf_error_set_oom();
		ix->roles = r;
		ix->roles[ix->role_count++] = e;
	}
	if ((v = str_of(e->json, "role")) &&
	    put_keyf(ix, &ix->owned, o, "%s", v) < 0)
		return -1;
	if ((v = str_of(e->json, "policy")) &&
	    put_keyf(ix, &ix->owned, o, "%s", v) < 0)
		return -1;
	if ((v = str_of(e->json, "arn")) &&
	    put_keyf(ix, &ix->owned, o, "%s", v) < 0)
		return -1;
	if ((v = str_of(e->json, "resource_id"))) {
		char *l = pool_lower(ix, v);

		if (!l || put_keyf(ix, &ix->owned, o, "%s", l) < 0)
			return -1;
	}
	if ((v = str_of(e->json, "image_id")) &&
	    put_keyf(ix, &ix->owned, o, "res:%s", v) < 0)
		return -1;
	if ((v = str_of(e->json, "security_group")) &&
	    put_keyf(ix, &ix->owned, o, "res:%s", v) < 0)
		return -1;
	if ((v = str_of(e->json, "bucket"))) {
		char *b = pool_lower(ix, v);
		bool azure = o->account && o->account->entity->provider &&
			strcmp(o->account->entity->provider, "azure") == 0;

		if (!b)
			return cspf_error_set_oom();
		if ((slash = strchr(b, '/')))
			*slash = '\0';
		if (put_keyf(ix, &ix->owned, o, "%s:%s", azure ? "azst" : "s3",
		    b) < 0)
			return -1;
	}
	if ((name = str_of(e->json, "name")) && *acct) {
		char *l = pool_lower(ix, name);

		if (!l || put_keyf(ix, &ix->owned, o, "name:%s:%s", acct,
		    l) < 0)
			return -1;
	}
	return 0;
}

int dg_index_build(struct dg_index *ix, const cspf_registry *reg)
{
	cspf_map strings = CSPF_MAP_STRINGS_INIT;
	const cspf_entity *e;
	size_t i, n = cspf_registry_count(reg);

	memset(ix, 0, sizeof(*ix));
	ix->reg = reg;
	ix->teams = strings;
	ix->people = strings;
	ix->accounts = strings;
	ix->owned = strings;
	/* Teams first, then people and accounts, then what they own. */
	for (i = 0; i < n; i++)
		if ((e = cspf_registry_entity(reg, i))->kind == CSPF_KIND_TEAM &&
		    index_team(ix, e) < 0)
			return -1;
	for (i = 0; i < n; i++) {
		e = cspf_registry_entity(reg, i);
		if (e->kind == CSPF_KIND_TEAM && index_people(ix, e) < 0)
			return -1;
		if (e->kind == CSPF_KIND_ACCOUNT && index_account(ix, e) < 0)
			return -1;
	}
	for (i = 0; i < n; i++) {
		e = cspf_registry_entity(reg, i);
		if (index_owned(ix, e) < 0)
			return -1;
	}
	return 0;
}

void dg_index_dispose(struct dg_index *ix)
{
	size_t i;

	for (i = 0; i < ix->pool_count; i++)
		free(ix->pool[i]);
	free(ix->pool);
	free(ix->roles);
	cspf_map_dispose(&ix->teams);
	cspf_map_dispose(&ix->people);
	cspf_map_dispose(&ix->accounts);
	cspf_map_dispose(&ix->owned);
	memset(ix, 0, sizeof(*ix));
}

static struct dg_owned *lookup(struct dg_index *ix, const char *s, size_t n)
{
	return cspf_map_get(&ix->owned, s, n);
}

static struct dg_owned *lookupf(struct dg_index *ix, char *buf, size_t size,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static struct dg_owned *lookupf(struct dg_index *ix, char *buf, size_t size,
	const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return NULL;
	return lookup(ix, buf, (size_t)n);
}

/* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE */
static struct dg_owned *find_arn(struct dg_index *ix, const char *arn,
	const char *account)
{
	const char *f[6], *p = arn, *res, *seg, *q;
	char buf[1024], name[512], acct[64];
	struct dg_owned *o;
	size_t i, n;

	for (i = 0; i < 5; i++) {
		f[i] = p;
		if (!(p = strchr(p, ':')))
			return NULL;
		p++;
	}
	res = p;
	/* The account of the ARN (none for S3, IAM's AWS-managed policies),
	 * else the event's. */
	n = (size_t)(res - 1 - f[4]);
	if (n > 0 && n < sizeof(acct)) {
		memcpy(acct, f[4], n);
		acct[n] = '\0';
		lower_in_place(acct);
		account = acct;
	}
	if ((size_t)(f[3] - f[2]) == 3 && memcmp(f[2], "s3:", 3) == 0) {
		/* arn:aws:s3:::bucket[/key] */
		n = strcspn(res, "/");
		if (n >= sizeof(name))
			return NULL;
		memcpy(name, res, n);
		name[n] = '\0';
		lower_in_place(name);
		return lookupf(ix, buf, sizeof(buf), "s3:%s", name);
	}
	/* A role with a path: arn:aws:iam::A:role/path/name. */
	if (strncmp(res, "role/", 5) == 0 && (seg = strrchr(res, '/')) &&
	    seg != res + 4 &&
	    (o = lookupf(ix, buf, sizeof(buf), "%.*srole%s",
	     (int)(res - arn), arn, seg)))
		return o;
	/* The resource's own id: after the last '/' or ':'. */
	seg = res;
	for (q = res; *q; q++)
		if (*q == '/' || *q == ':')
			seg = q + 1;
	if (!*seg)
		return NULL;
	if ((o = lookupf(ix, buf, sizeof(buf), "res:%s", seg)))
		return o;
	if (account && strlen(seg) < sizeof(name)) {
		snprintf(name, sizeof(name), "%s", seg);
		lower_in_place(name);
		return lookupf(ix, buf, sizeof(buf), "name:%s:%s", account,
			name);
	}
	return NULL;
}

/* /subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME[/...] */
static struct dg_owned *find_azure(struct dg_index *ix, const char *id,
	const char *account)
{
	char lower[1024], buf[1200], sub[64];
	const char *p, *ns, *name, *last;
	struct dg_owned *o;
	size_t n = strlen(id);

	if (n >= sizeof(lower))
		return NULL;
	memcpy(lower, id, n + 1);
	lower_in_place(lower);
	while (n > 1 && lower[n - 1] == '/')
		lower[--n] = '\0';
	if ((o = lookup(ix, lower, n)))
		return o;
	if (strncmp(lower, "/subscriptions/", 15) == 0) {
		p = lower + 15;
		n = strcspn(p, "/");
		if (n < sizeof(sub)) {
			memcpy(sub, p, n);
			sub[n] = '\0';
			account = sub;
		}
	}
	if (!(ns = strstr(lower, "/providers/")))
		return NULL;
	ns += 11;
	/* NS/TYPE/NAME */
	if (!(p = strchr(ns, '/')) || !(p = strchr(p + 1, '/')))
		return NULL;
	name = p + 1;
	n = strcspn(name, "/");
	if (strncmp(ns, "microsoft.storage/storageaccounts/", 34) == 0 &&
	    (o = lookupf(ix, buf, sizeof(buf), "azst:%.*s", (int)n, name)))
		return o;
	if (!account)
		return NULL;
	if ((o = lookupf(ix, buf, sizeof(buf), "name:%s:%.*s", account,
	    (int)n, name)))
		return o;
	last = strrchr(name, '/');
	if (last && last[1])
		return lookupf(ix, buf, sizeof(buf), "name:%s:%s", account,
			last + 1);
	return NULL;
}

struct dg_owned *dg_target_find(struct dg_index *ix, const char *target,
	const char *account)
{
	char buf[1200], acct[128];
	struct dg_owned *o;
	size_t n;

	if (!target || !*target)
		return NULL;
	if (account) {
		n = strlen(account);
		if (n >= sizeof(acct))
			return NULL;
		memcpy(acct, account, n + 1);
		lower_in_place(acct);
		account = acct;
	}
	if ((o = lookup(ix, target, strlen(target))))
		return o;
	if (strncmp(target, "arn:", 4) == 0)
		return find_arn(ix, target, account);
	if (target[0] == '/')
		return find_azure(ix, target, account);
	/* A registry entity id ("assets/bucket/x", "credentials/a#u"). */
	if ((o = lookupf(ix, buf, sizeof(buf), "id:%s", target)))
		return o;
	/* A bare id (ami-…, sg-…). */
	return lookupf(ix, buf, sizeof(buf), "res:%s", target);
}

struct dg_owned *dg_credential_user(struct dg_index *ix, const char *account,
	const char *name)
{
	char buf[512];

	return lookupf(ix, buf, sizeof(buf), "user:%s:%s",
		account ? account : "", name);
}

struct dg_owned *dg_credential_app(struct dg_index *ix, const char *id)
{
	char buf[160], low[128];
	size_t n;

	if (!id || (n = strlen(id)) >= sizeof(low))
		return NULL;
	memcpy(low, id, n + 1);
	lower_in_place(low);
	return lookupf(ix, buf, sizeof(buf), "app:%s", low);
}
