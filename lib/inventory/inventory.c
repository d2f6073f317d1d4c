/*
 * The inventory's core: which accounts, how many at once, and the
 * snapshot written in order as accounts finish (see inventory_private.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cspf/time.h"
#include "inventory_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/uri.h"
#include "util/map.h"

static const struct inv_provider *const providers[] = {
	&inv_aws_provider,
	&inv_azure_provider,
};
#define NPROVIDERS (sizeof(providers) / sizeof(providers[0]))

struct inv {
	const cspf_inventory_options *opts;
	const cspf_registry *reg;
	cspf_http_client *http;
	FILE *out;
	struct inv_account *accounts;
	size_t count;
	size_t next_start;  /* the next account to start */
	size_t next_write;  /* the next account to write */
	size_t open;        /* started and not yet written */
	size_t window;      /* at most this many open */
	void *state[NPROVIDERS];
	int ready[NPROVIDERS];  /* 1 set up, -1 failed */
	char *setup_error[NPROVIDERS];
	cspf_inventory_stats stats;
	cspf_inventory_progress progress;
	int write_error;
};

cspf_http_client *inv_http(struct inv *inv)
{
	return inv->http;
}

const cspf_registry *inv_registry(struct inv *inv)
{
	return inv->reg;
}

const cspf_inventory_options *inv_options(struct inv *inv)
{
	return inv->opts;
}

const cJSON *inv_provider_config(struct inv *inv, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cspf_registry_config(inv->reg),
			"providers"),
		name);
}

int inv_add_time(cJSON *obj, const char *key, int64_t t)
{
	char buf[CSPF_TIME_BUFSIZE];

	cspf_time_format(buf, t);
	return cJSON_AddStringToObject(obj, key, buf) ? 0 : -1;
}

int inv_add_time_str(cJSON *obj, const char *key, const char *s)
{
	int64_t t;

	if (!s || cspf_time_parse(&t, s) < 0)
		return 0;
	return inv_add_time(obj, key, t);
}

void inv_error(struct inv_account *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!a->errors)
		a->errors = cJSON_CreateArray();
	if (a->errors && cJSON_GetArraySize(a->errors) < 20)
		cJSON_AddItemToArray(a->errors, cJSON_CreateString(buf));
}

/* ---- writing ---- */

static void put(struct inv *inv, const char *s)
{
	if (fputs(s, inv->out) == EOF)
		inv->write_error = 1;
}

/* Status and errors go in once the account is complete. */
static void seal(struct inv_account *a)
{
	const char *status = a->fatal ? "error" :
			     a->errors ? "partial" : "ok";

	cJSON_DeleteItemFromObjectCaseSensitive(a->json, "status");
	cJSON_AddStringToObject(a->json, "status", status);
	if (a->errors) {
		cJSON_AddItemToObject(a->json, "errors", a->errors);
		a->errors = NULL;
	}
}

static void write_ready(struct inv *inv)
{
	while (inv->next_write < inv->count &&
	       inv->accounts[inv->next_write].finished) {
		struct inv_account *a = &inv->accounts[inv->next_write];
		char *text;

		if (a->fatal || a->errors)
			inv->stats.failed++;
		seal(a);
		text = cJSON_PrintUnformatted(a->json);
		if (!text) {
			inv->write_error = 1;
		} else {
			put(inv, inv->next_write ? ",\n    " : "\n    ");
			put(inv, text);
			cJSON_free(text);
		}
		cJSON_Delete(a->json);
		a->json = NULL;
		a->written = 1;
		inv->next_write++;
		inv->open--;
	}
}

static void start_more(struct inv *inv);

static void account_done(struct inv_account *a)
{
	struct inv *inv = a->inv;
	size_t p;

	for (p = 0; p < NPROVIDERS; p++)
		if (!strcmp(providers[p]->name, a->provider))
			break;
	if (p < NPROVIDERS && a->started && inv->ready[p] > 0)
		providers[p]->finish(inv->state[p], a);
	a->finished = 1;
	inv->progress.accounts_done++;
	if (a->fatal || a->errors)
		inv->progress.accounts_failed++;
	inv->progress.last = a->id;
	if (inv->opts->progress)
		inv->opts->progress(&inv->progress,
			inv->opts->progress_payload);
	write_ready(inv);
	start_more(inv);
}

/* ---- requests ---- */

struct sub {
	struct inv_account *a;
	inv_done_cb done;
	void *payload;
};

static void on_done(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct sub s = *(struct sub *)payload;

	free(payload);
	s.done(s.a, req, resp, error, s.payload);
	if (--s.a->pending == 0)
		account_done(s.a);
}

int inv_submit(struct inv_account *a, cspf_http_request *req,
	inv_done_cb done, void *payload)
{
	struct sub *s = malloc(sizeof(*s));
	int r;

	if (!s) {
		cspf_http_request_free(req);
		inv_error(a, "out of memory");
		return cspf_error_set_oom();
	}
	s->a = a;
	s->done = done;
	s->payload = payload;
	a->pending++;
	r = cspf_http_submit(a->inv->http, req, on_done, s);
	if (r < 0) {
		a->pending--;
		free(s);
		inv_error(a, "could not send a request: %s",
			cspf_error_last() ? cspf_error_last()->message : "?");
	}
	return r;
}

/* ---- accounts ---- */

static void start_account(struct inv *inv, struct inv_account *a)
{
	size_t p;

	a->started = 1;
	inv->open++;
	a->json = cJSON_CreateObject();
	if (!a->json) {
		a->fatal = 1;
		inv_error(a, "out of memory");
		a->started = 0;
		account_done(a);
		return;
	}
	cJSON_AddStringToObject(a->json, "provider", a->provider);
	cJSON_AddStringToObject(a->json, "id", a->id);
	cJSON_AddStringToObject(a->json, "registry_id", a->entity->id);
	cJSON_AddStringToObject(a->json, "source", "api");
	for (p = 0; p < NPROVIDERS; p++)
		if (!strcmp(providers[p]->name, a->provider))
			break;
	if (p == NPROVIDERS) {
		a->fatal = 1;
		inv_error(a, "cspf cannot inventory %s accounts",
			a->provider);
		a->started = 0;
		account_done(a);
		return;
	}
	if (!inv->ready[p]) {
		inv->ready[p] = providers[p]->setup(&inv->state[p], inv) == 0 ?
			1 : -1;
		if (inv->ready[p] < 0)
			inv->setup_error[p] = strdup(cspf_error_last() ?
				cspf_error_last()->message : "set-up failed");
	}
	if (inv->ready[p] < 0) {
		a->fatal = 1;
		inv_error(a, "%s", inv->setup_error[p] ?
			inv->setup_error[p] : "set-up failed");
		a->started = 0;
		account_done(a);
		return;
	}
	a->pending++; /* held while start() submits */
	if (providers[p]->start(inv->state[p], a) < 0 && !a->errors) {
		a->fatal = 1;
		inv_error(a, "%s", cspf_error_last() ?
			cspf_error_last()->message : "could not start");
	}
	if (--a->pending == 0)
		account_done(a);
}

static void start_more(struct inv *inv)
{
	while (inv->next_start < inv->count && inv->open < inv->window) {
		struct inv_account *a = &inv->accounts[inv->next_start++];
		start_account(inv, a);
	}
}

static unsigned mask_of(const char *provider)
{
	size_t p;

	for (p = 0; p < NPROVIDERS; p++)
		if (!strcmp(providers[p]->name, provider))
			return providers[p]->mask;
	return 0;
}

/*
 * Which shard (1..n) an account belongs to: a hash of provider and id,
 * the same on every machine and run, so N jobs each given K/N cover every
 * account exactly once.
 */
static unsigned shard_of(const char *provider, const char *id, unsigned n)
{
	uint64_t h = cspf_hash_bytes(provider, strlen(provider));

	h ^= cspf_hash_bytes(id, strlen(id)) * 0x9e3779b97f4a7c15ULL;
	return (unsigned)(h % n) + 1;
}

static int cmp_account(const void *x, const void *y)
{
	const struct inv_account *a = x, *b = y;
	int c = strcmp(a->provider, b->provider);

	return c ? c : strcmp(a->id, b->id);
}

static int list_accounts(struct inv *inv)
{
	const cspf_inventory_options *o = inv->opts;
	unsigned want = o->providers ? o->providers : CSPF_INVENTORY_ALL;
	size_t i, n = cspf_registry_count(inv->reg);

	inv->accounts = calloc(n ? n : 1, sizeof(*inv->accounts));
	if (!inv->accounts)
		return cspf_error_set_oom();
	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(inv->reg, i);
		const cJSON *id;
		struct inv_account *a;
		const char *prov;

		if (e->kind != CSPF_KIND_ACCOUNT)
			continue;
		id = cJSON_GetObjectItemCaseSensitive(e->json, "accountid");
		prov = e->provider ? e->provider : "";
		if (!cJSON_IsString(id) || !(mask_of(prov) & want))
			continue;
		if (o->account && strcasecmp(o->account, id->valuestring) &&
		    strcmp(o->account, e->id))
			continue;
		if (o->shards > 1 &&
		    shard_of(prov, id->valuestring, o->shards) != o->shard)
			continue;
		a = &inv->accounts[inv->count++];
		a->inv = inv;
		a->entity = e;
		a->provider = prov;
		a->id = id->valuestring;
	}
	qsort(inv->accounts, inv->count, sizeof(*inv->accounts), cmp_account);
	for (i = 0; i < inv->count; i++)
		inv->accounts[i].index = i;
	return 0;
}

static void trace(const cspf_http_trace *t, void *payload)
{
	struct inv *inv = payload;

	inv->stats.calls++;
	inv->progress.calls++;
	if (t->retry_in >= 0) {
		inv->stats.retries++;
		inv->progress.retries++;
	}
	if (inv->opts->trace)
		inv->opts->trace(t, inv->opts->trace_payload);
}

int cspf_inventory_run(cspf_inventory_stats *stats, FILE *out,
	const cspf_registry *reg, const cspf_inventory_options *opts)
{
	cspf_inventory_options defaults = CSPF_INVENTORY_OPTIONS_INIT;
	cspf_http_options ho = CSPF_HTTP_OPTIONS_INIT;
	char when[CSPF_TIME_BUFSIZE];
	struct inv inv;
	cJSON *dirs = NULL;
	size_t p, i;
	int r;

	memset(&inv, 0, sizeof(inv));
	inv.opts = opts ? opts : &defaults;
	inv.reg = reg;
	inv.out = out;
	if (inv.opts->shards > 1 &&
	    (inv.opts->shard < 1 || inv.opts->shard > inv.opts->shards))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"shard %u of %u: K must be from 1 to N",
			inv.opts->shard, inv.opts->shards);
	ho.concurrency = inv.opts->concurrency ? inv.opts->concurrency : 16;
	ho.ca_file = inv.opts->ca_file;
	ho.trace = trace;
	ho.trace_payload = &inv;
	ho.timeout_ms = inv.opts->timeout_ms;
	ho.max_attempts = inv.opts->max_attempts;
	if ((r = cspf_http_new(&inv.http, &ho)) < 0)
		return r;
	if ((r = list_accounts(&inv)) < 0)
		goto out;
	/* Enough accounts open to keep every connection busy, no more. */
	inv.window = ho.concurrency + 8;
	inv.progress.accounts_total = inv.count;
	cspf_time_format(when, inv.opts->now ? inv.opts->now :
					       (int64_t)time(NULL));
	put(&inv, "{\n  \"cspf_snapshot\": 1,\n  \"generated\": \"");
	put(&inv, when);
	put(&inv, "\",\n");
	if (inv.opts->shards > 1)
		fprintf(out, "  \"shards\": {\"count\": %u, \"included\": "
			"[%u]},\n", inv.opts->shards, inv.opts->shard);
	put(&inv, "  \"accounts\": [");
	start_more(&inv);
	while (inv.next_write < inv.count) {
		if ((r = cspf_http_run(inv.http)) < 0)
			goto out;
		/* Nothing in flight: whatever is left never started. */
		if (inv.next_write < inv.count && inv.next_start >= inv.count)
			for (i = inv.next_write; i < inv.count; i++)
				if (!inv.accounts[i].finished &&
				    !inv.accounts[i].pending)
					account_done(&inv.accounts[i]);
		start_more(&inv);
	}
	put(&inv, inv.count ? "\n  ],\n" : "],\n");
	dirs = cJSON_CreateArray();
	for (p = 0; dirs && p < NPROVIDERS; p++)
		if (inv.ready[p] > 0 && providers[p]->directories)
			providers[p]->directories(inv.state[p], &inv, dirs);
	{
		char *text = dirs ? cJSON_PrintUnformatted(dirs) : NULL;
		put(&inv, "  \"directories\": ");
		put(&inv, text ? text : "[]");
		put(&inv, "\n}\n");
		cJSON_free(text);
	}
	if (fflush(out) == EOF || ferror(out))
		inv.write_error = 1;
	if (inv.write_error)
		r = cspf_error_set_os("could not write the snapshot");
	inv.stats.accounts = inv.count;
	if (stats)
		*stats = inv.stats;
out:
	cJSON_Delete(dirs);
	for (i = 0; i < inv.count; i++) {
		cJSON_Delete(inv.accounts[i].json);
		cJSON_Delete(inv.accounts[i].errors);
	}
	free(inv.accounts);
	for (p = 0; p < NPROVIDERS; p++) {
		if (inv.ready[p] > 0 && providers[p]->teardown)
			providers[p]->teardown(inv.state[p]);
		free(inv.setup_error[p]);
	}
	cspf_http_free(inv.http);
	return r;
}

/* ---- offline and merged snapshots ---- */

int inv_write_snapshot(FILE *out, cJSON *accounts, cJSON *directories,
	int64_t now)
{
	cJSON *snap = cJSON_CreateObject();
	char when[CSPF_TIME_BUFSIZE];
	char *text;
	int r = 0;

	cspf_time_format(when, now ? now : (int64_t)time(NULL));
	if (!snap || !cJSON_AddNumberToObject(snap, "cspf_snapshot", 1) ||
	    !cJSON_AddStringToObject(snap, "generated", when)) {
		cJSON_Delete(snap);
		cJSON_Delete(accounts);
		cJSON_Delete(directories);
		return cspf_error_set_oom();
	}
	cJSON_AddItemToObject(snap, "accounts",
		accounts ? accounts : cJSON_CreateArray());
	cJSON_AddItemToObject(snap, "directories",
		directories ? directories : cJSON_CreateArray());
	text = cJSON_Print(snap);
	if (!text)
		r = cspf_error_set_oom();
	else if (fputs(text, out) == EOF || fputc('\n', out) == EOF ||
		 fflush(out) == EOF)
		r = cspf_error_set_os("could not write the snapshot");
	cJSON_free(text);
	cJSON_Delete(snap);
	return r;
}

static int cmp_json_account(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(a, "provider");
	const cJSON *pb = cJSON_GetObjectItemCaseSensitive(b, "provider");
	const cJSON *ia = cJSON_GetObjectItemCaseSensitive(a, "id");
	const cJSON *ib = cJSON_GetObjectItemCaseSensitive(b, "id");
	int c = strcmp(cJSON_IsString(pa) ? pa->valuestring : "",
		cJSON_IsString(pb) ? pb->valuestring : "");

	return c ? c : strcmp(cJSON_IsString(ia) ? ia->valuestring : "",
			       cJSON_IsString(ib) ? ib->valuestring : "");
}

int cspf_inventory_merge(FILE *out, const cJSON *const *snapshots,
	size_t count)
{
	cJSON *accounts = cJSON_CreateArray(), *dirs = cJSON_CreateArray();
	cJSON *included = cJSON_CreateArray();
	const cJSON **list = NULL;
	size_t i, n = 0, cap = 0;
	int shards = 0, r = 0;
	cspf_map seen = CSPF_MAP_STRINGS_INIT;

	if (!accounts || !dirs || !included) {
		r = cspf_error_set_oom();
		goto out;
	}
	for (i = 0; i < count; i++) {
		const cJSON *s = snapshots[i], *a, *k;
		const cJSON *sh = cJSON_GetObjectItemCaseSensitive(s, "shards");
		const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(sh, "count");
		int c = cJSON_IsNumber(cnt) ? cnt->valueint : 1;

		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(s,
			    "accounts"))) {
			r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"snapshot %zu is not an inventory snapshot",
				i + 1);
			goto out;
		}
		if (shards && c != shards) {
			r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"snapshot %zu is a shard of %d, the others of "
				"%d: they are not of one run", i + 1, c, shards);
			goto out;
		}
		shards = c;
		cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(sh,
					      "included")) {
			const cJSON *x;
			cJSON_ArrayForEach(x, included)
				if (x->valueint == k->valueint) {
					r = cspf_error_set(CSPF_EINVALID,
						CSPF_ERRCLASS_INVALID,
						"shard %d is in two of the "
						"snapshots", k->valueint);
					goto out;
				}
			cJSON_AddItemToArray(included,
				cJSON_CreateNumber(k->valueint));
		}
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(s,
					      "accounts")) {
			if (n == cap) {
				const cJSON **p;
				cap = cap ? cap * 2 : 64;
				p = realloc(list, cap * sizeof(*p));
				if (!p) {
					r = cspf_error_set_oom();
					goto out;
				}
				list = p;
			}
			list[n++] = a;
		}
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(s,
					      "directories")) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(a,
				"id");
			if (!cJSON_IsString(id) ||
			    cspf_map_gets(&seen, id->valuestring))
				continue;
			cspf_map_puts(&seen, id->valuestring, (void *)a);
			cJSON_AddItemToArray(dirs, cJSON_Duplicate(a, 1));
		}
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_json_account);
	for (i = 0; i < n; i++) {
		if (i && !cmp_json_account(&list[i - 1], &list[i]))
			continue; /* the same account in two shards */
		cJSON_AddItemToArray(accounts, cJSON_Duplicate(list[i], 1));
	}
	{
		const cJSON *first = count ? snapshots[0] : NULL;
		const cJSON *gen = cJSON_GetObjectItemCaseSensitive(first,
			"generated");
		int64_t t = 0;
		cJSON *snap = cJSON_CreateObject();
		char *text;

		if (cJSON_IsString(gen))
			cspf_time_parse(&t, gen->valuestring);
		cJSON_AddNumberToObject(snap, "cspf_snapshot", 1);
		inv_add_time(snap, "generated", t ? t : (int64_t)time(NULL));
		if (shards > 1) {
			cJSON *sh = cJSON_AddObjectToObject(snap, "shards");
			cJSON_AddNumberToObject(sh, "count", shards);
			cJSON_AddItemToObject(sh, "included", included);
			included = NULL;
		}
		cJSON_AddItemToObject(snap, "accounts", accounts);
		cJSON_AddItemToObject(snap, "directories", dirs);
		accounts = dirs = NULL;
		text = cJSON_Print(snap);
		if (!text || fputs(text, out) == EOF || fputc('\n', out) == EOF)
			r = cspf_error_set_os("could not write the snapshot");
		cJSON_free(text);
		cJSON_Delete(snap);
	}
out:
	cspf_map_dispose(&seen);
	free(list);
	cJSON_Delete(accounts);
	cJSON_Delete(dirs);
	cJSON_Delete(included);
	return r;
}

static bool allows_assume(const cJSON *action)
{
	const cJSON *a;

	if (cJSON_IsString(action))
		return strncmp(action->valuestring, "sts:AssumeRole", 14) == 0 ||
			strcmp(action->valuestring, "sts:*") == 0 ||
			strcmp(action->valuestring, "*") == 0;
	cJSON_ArrayForEach(a, action)
		if (allows_assume(a))
			return true;
	return false;
}

static void add_principals(cJSON *out, const cJSON *aws)
{
	const cJSON *p;

	if (cJSON_IsString(aws)) {
		cJSON_ArrayForEach(p, out)
			if (strcmp(p->valuestring, aws->valuestring) == 0)
				return;
		cJSON_AddItemToArray(out, cJSON_CreateString(aws->valuestring));
		return;
	}
	cJSON_ArrayForEach(p, aws)
		if (cJSON_IsString(p))
			add_principals(out, p);
}

/* One statement: its AWS principals, when it allows assuming the role. */
static void statement(cJSON *out, const cJSON *one)
{
	const char *effect = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(one, "Effect"));

	if (!effect || strcmp(effect, "Allow") != 0 ||
	    !allows_assume(cJSON_GetObjectItemCaseSensitive(one, "Action")))
		return;
	add_principals(out, cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(one, "Principal"), "AWS"));
}

void inv_add_trusted(cJSON *role, const cJSON *policy, const char *text)
{
	cJSON *parsed = NULL, *out;
	const cJSON *st, *one;
	char *plain = NULL;

	if (!policy && text) {
		/* IAM's query API returns it URL-encoded. */
		if (strchr(text, '%'))
			plain = cspf_uri_percent_decode(text, strlen(text));
		parsed = cJSON_Parse(plain ? plain : text);
		free(plain);
		policy = parsed;
	}
	st = cJSON_GetObjectItemCaseSensitive(policy, "Statement");
	if (st && (out = cJSON_CreateArray())) {
		if (cJSON_IsObject(st))
			statement(out, st);
		else
			cJSON_ArrayForEach(one, st)
				statement(out, one);
		if (cJSON_GetArraySize(out) > 0)
			cJSON_AddItemToObject(role, "trusted", out);
		else
			cJSON_Delete(out);
	}
	cJSON_Delete(parsed);
}
