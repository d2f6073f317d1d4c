/*
 * digest.c - the review digest (CSPF 7.7): events in, one ticket per
 * (period, report, recipient) out.
 *
 * Reading: every source hands its events to add_event(), which
 * attributes each part (target, actor, role, assumed role) through the
 * registry's index (attribute.c) and adds the event to the reports it
 * belongs to.  A report keeps counts and groups of (what, on what), never
 * the events: those are appended as CSV rows to the report's attachment,
 * which is buffered and spilled to a temporary file, so memory grows with
 * recipients and groups, not with events.
 *
 * Then: the role memberships (registry members, people seen assuming a
 * role) make the role-members and user-roles reports; every report
 * becomes a ticket, found again by its key in its sink and updated, or
 * created, due five days after it was first opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/digest.h"
#include "cspf/json.h"
#include "cspf/time.h"
#include "cspf/vault.h"
#include "digest/core.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

#define DAY 86400
#define DEFAULT_ANCHOR "2024-01-01T00:00:00Z"
#define MAX_GROUPS 2000        /* per report; more fold by action */
#define CSV_SPILL (64 * 1024)  /* attachment bytes kept in memory */
#define TOP_ACTIONS 10
#define DETAIL_ROWS 50

/* ------------------------------------------------------------ sources */

const cspf_source *const cspf_sources[] = {
	&cspf_source_cloudtrail,
	&cspf_source_cloudtrail_api,
	&cspf_source_azure_activity,
	&cspf_source_git,
	&cspf_source_audit,
	NULL,
};

const cspf_source *cspf_source_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; cspf_sources[i]; i++)
		if (strlen(cspf_sources[i]->name) == len &&
		    memcmp(cspf_sources[i]->name, name, len) == 0)
			return cspf_sources[i];
	return NULL;
}

size_t cspf_digest_source_count(void)
{
	size_t n = 0;

	while (cspf_sources[n])
		n++;
	return n;
}

void cspf_digest_source_info(size_t i, const char **name,
	const char **summary)
{
	*name = cspf_sources[i]->name;
	*summary = cspf_sources[i]->summary;
}

/* ------------------------------------------------------------ reports */

struct group {
	char *a, *b, *c;        /* what the report groups by */
	size_t count;
	int64_t first, last;
	char *actors[3];        /* a few of the actors */
	bool more_actors;       /* some actor is not among the three */
};

struct report {
	cspf_report_kind kind;
	bool unattributed;
	char *recipient;
	struct dg_team *team;   /* whose sink, queue, assignees */
	struct dg_account *account; /* unattributed: whose */
	size_t events;
	int64_t first, last;
	cspf_map groups;        /* group key → struct group */
	size_t group_count;
	bool folded;            /* past MAX_GROUPS: by action only */
	cspf_map actions;       /* action → count (a size_t in the pointer) */
	/* The attachment: CSV rows in memory, then in spill. */
	cspf_buf csv;
	char *spill;            /* path of the spilled rows, or NULL */
	size_t rows;
	size_t index;           /* in creation order: the spill's name */
};

struct pair {
	const cspf_entity *role;
	struct dg_owned *owned;
	char *user;
	bool registry;          /* a member by the registry */
	bool trusted;           /* its trust policy names them (inventory) */
	size_t assumed;         /* times seen assuming it */
	int64_t last;
};

struct digest {
	const cspf_registry *reg;
	const cspf_digest_options *opts;
	cspf_digest_result *res;
	cspf_diags *diags;
	struct dg_index ix;
	int64_t now, start, end;
	char period[64];        /* "2026-11-16/P14D" */
	char period_label[16];  /* "2026-11-16" */
	char period_dur[32];    /* "P14D" */
	int64_t due_after;
	cspf_map reports;       /* kind \x1f recipient → struct report */
	struct report **list;   /* in creation order */
	size_t count, alloc;
	cspf_map pairs;         /* role id \x1f user → struct pair */
	struct pair **pair_list;
	size_t pair_count, pair_alloc;
	char tmpdir[256];
	const char *escalation; /* digest.escalation: events of no account */
	size_t events_seen;
	int64_t row_time;       /* add_row()'s last formatted time */
	char row_stamp[CSPF_TIME_BUFSIZE];
	/*
	 * What a target string resolves to (an ARN is seen again and
	 * again): the dg_owned, or &target_none.  Emptied when it grows
	 * past TARGET_CACHE.
	 */
	cspf_map targets;
	cspf_http_client *http;
	int error;              /* first fatal error in a callback */
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct report *report_get(struct digest *d, cspf_report_kind kind,
	const char *recipient, struct dg_team *team, bool unattributed)
{
	struct report *r;
	cspf_buf key = CSPF_BUF_INIT;
	char fast[512];
	int n;

	/* The common case, without an allocation or a printf. */
	n = (int)strlen(recipient);
	if ((size_t)n + 3 < sizeof(fast)) {
		fast[0] = (char)('a' + (int)kind + (unattributed ? 10 : 0));
		fast[1] = '\x1f';
		memcpy(fast + 2, recipient, (size_t)n);
		if ((r = cspf_map_get(&d->reports, fast, (size_t)n + 2)))
			return r;
	}
	cspf_buf_putc(&key, (char)('a' + (int)kind + (unattributed ? 10 : 0)));
	cspf_buf_putc(&key, '\x1f');
	cspf_buf_puts(&key, recipient);
	if (cspf_buf_oom(&key))
		return NULL;
	if ((r = cspf_map_get(&d->reports, key.ptr, key.size))) {
		cspf_buf_dispose(&key);
		return r;
	}
	if (d->count == d->alloc) {
		size_t na = d->alloc ? 2 * d->alloc : 32;
		struct report **l = realloc(d->list, na * sizeof(*l));

		if (!l)
			goto oom;
		d->list = l;
		d->alloc = na;
	}
	if (!(r = calloc(1, sizeof(*r))) ||
	    !(r->recipient = strdup(recipient))) {
		free(r);
		goto oom;
	}
	r->kind = kind;
	r->team = team;
	r->unattributed = unattributed;
	r->groups = (cspf_map)CSPF_MAP_STRINGS_INIT;
	r->actions = (cspf_map)CSPF_MAP_STRINGS_INIT;
	r->csv = (cspf_buf)CSPF_BUF_INIT;
	if (cspf_map_put(&d->reports, key.ptr, key.size, r) < 0) {
		free(r->recipient);
		free(r);
		goto oom;
	}
	r->index = d->count;
	d->list[d->count++] = r;
	cspf_buf_dispose(&key);
	return r;
oom:
	cspf_buf_dispose(&key);
	cspf_error_set_oom();
	return NULL;
}

static void group_dispose(struct group *g)
{
	size_t i;

	free(g->a);
	free(g->b);
	free(g->c);
	for (i = 0; i < 3; i++)
		free(g->actors[i]);
	free(g);
}

static void report_free(struct report *r)
{
	cspf_map_entry *e;

	cspf_map_foreach(&r->groups, e)
		group_dispose(e->value);
	cspf_map_dispose(&r->groups);
	cspf_map_dispose(&r->actions);
	cspf_buf_dispose(&r->csv);
	if (r->spill) {
		unlink(r->spill);
		free(r->spill);
	}
	free(r->recipient);
	free(r);
}

/* RFC 4180: quote when needed; a leading = + - @ is defused for
 * spreadsheets (CSV injection). */
static void csv_field(cspf_buf *b, const char *s, bool last)
{
	const char *p;

	if (!s)
		s = "";
	if (strpbrk(s, ",\"\r\n") || strchr("=+-@", s[0]) != NULL) {
		cspf_buf_putc(b, '"');
		if (s[0] && strchr("=+-@", s[0]))
			cspf_buf_putc(b, '\'');
		for (p = s; *p; p++) {
			if (*p == '"')
				cspf_buf_putc(b, '"');
			cspf_buf_putc(b, *p);
		}
		cspf_buf_putc(b, '"');
	} else {
		cspf_buf_puts(b, s);
	}
	cspf_buf_putc(b, last ? '\n' : ',');
}

#define CSV_HEADER "time,actor,person,role,action,target,account,region," \
	"source,id,read_only,failed,why\n"

static int spill(struct digest *d, struct report *r)
{
	int fd;
	ssize_t w;
	size_t off = 0;

	if (!r->spill) {
		cspf_buf path = CSPF_BUF_INIT;

		cspf_buf_printf(&path, "%s/%zu.csv", d->tmpdir, r->index);
		if (cspf_buf_oom(&path))
			return cspf_error_set_oom();
		r->spill = cspf_buf_detach(&path);
	}
	if ((fd = open(r->spill, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		return cspf_error_set_os("writing %s", r->spill);
	while (off < r->csv.size) {
		w = write(fd, r->csv.ptr + off, r->csv.size - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return cspf_error_set_os("writing %s", r->spill);
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		return cspf_error_set_os("writing %s", r->spill);
	cspf_buf_clear(&r->csv);
	return 0;
}

static int add_row(struct digest *d, struct report *r, const cspf_event *ev,
	const char *why)
{
	cspf_buf *b = &r->csv;

	if (r->rows == 0 && !r->spill)
		cspf_buf_puts(b, CSV_HEADER);
	/* Events come in time order, mostly: format each second once. */
	if (ev->time != d->row_time || !d->row_stamp[0]) {
		cspf_time_format(d->row_stamp, ev->time);
		d->row_time = ev->time;
	}
	csv_field(b, d->row_stamp, false);
	csv_field(b, ev->actor, false);
	csv_field(b, ev->person, false);
	csv_field(b, ev->role, false);
	csv_field(b, ev->action, false);
	csv_field(b, ev->target, false);
	csv_field(b, ev->account, false);
	csv_field(b, ev->region, false);
	csv_field(b, ev->source, false);
	csv_field(b, ev->id, false);
	csv_field(b, ev->read_only ? "true" : "false", false);
	csv_field(b, ev->failed ? "true" : "false", false);
	csv_field(b, why, true);
	r->rows++;
	if (cspf_buf_oom(b))
		return cspf_error_set_oom();
	if (b->size >= CSV_SPILL)
		return spill(d, r);
	return 0;
}

static const char fold_label[] = "(more: see the attachment)";

static int add_group(struct report *r, const char *a, const char *b,
	const char *c, const char *actor, int64_t when)
{
	cspf_buf key = CSPF_BUF_INIT;
	struct group *g;
	size_t i;

	if (!a)
		a = "";
	if (!b)
		b = "";
	if (!c)
		c = "";
	{
		char fast[1024];
		size_t la = strlen(a), lb = strlen(b), lc = strlen(c);

		g = NULL;
		if (la + lb + lc + 2 < sizeof(fast)) {
			memcpy(fast, a, la);
			fast[la] = '\x1f';
			memcpy(fast + la + 1, b, lb);
			fast[la + 1 + lb] = '\x1f';
			memcpy(fast + la + 2 + lb, c, lc);
			g = cspf_map_get(&r->groups, fast, la + lb + lc + 2);
		}
	}
	if (!g && r->group_count >= MAX_GROUPS && a != fold_label) {
		/*
		 * Too many to list: the rest by action only (actions are
		 * few); the attachment has every event.
		 */
		r->folded = true;
		return add_group(r, fold_label, b, "", actor, when);
	}
	if (!g) {
		cspf_buf_puts(&key, a);
		cspf_buf_putc(&key, '\x1f');
		cspf_buf_puts(&key, b);
		cspf_buf_putc(&key, '\x1f');
		cspf_buf_puts(&key, c);
	}
	if (cspf_buf_oom(&key))
		return cspf_error_set_oom();
	if (!g && !(g = cspf_map_get(&r->groups, key.ptr, key.size))) {
		if (!(g = calloc(1, sizeof(*g))) || !(g->a = strdup(a)) ||
		    !(g->b = strdup(b)) || !(g->c = strdup(c)) ||
		    cspf_map_put(&r->groups, key.ptr, key.size, g) < 0) {
			if (g)
				group_dispose(g);
			cspf_buf_dispose(&key);
			return cspf_error_set_oom();
		}
		g->first = when;
		r->group_count++;
	}
	cspf_buf_dispose(&key);
	g->count++;
	if (when < g->first)
		g->first = when;
	if (when > g->last)
		g->last = when;
	if (actor && *actor) {
		for (i = 0; i < 3 && g->actors[i]; i++)
			if (strcmp(g->actors[i], actor) == 0)
				return 0;
		if (i == 3)
			g->more_actors = true;
		else if (!(g->actors[i] = strdup(actor)))
			return cspf_error_set_oom();
	}
	return 0;
}

static int add_to(struct digest *d, struct report *r, const cspf_event *ev,
	const char *a, const char *b, const char *c, const char *why)
{
	if (!r)
		return -1;
	r->events++;
	if (r->events == 1 || ev->time < r->first)
		r->first = ev->time;
	if (ev->time > r->last)
		r->last = ev->time;
	if (add_group(r, a, b, c, ev->actor, ev->time) < 0)
		return -1;
	return add_row(d, r, ev, why);
}

static const char *team_recipient(const struct dg_team *t)
{
	return t->contact ? t->contact : t->id;
}

enum { PAIR_ASSUMED, PAIR_REGISTRY, PAIR_TRUSTED };

static int add_pair(struct digest *d, const cspf_entity *role,
	struct dg_owned *owned, const char *user, int how, int64_t when)
{
	cspf_buf key = CSPF_BUF_INIT;
	struct pair *p;
	char *lower, *q;

	if (!(lower = strdup(user)))
		return cspf_error_set_oom();
	for (q = lower; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	cspf_buf_printf(&key, "%s\x1f%s", role->id, lower);
	if (cspf_buf_oom(&key)) {
		free(lower);
		return cspf_error_set_oom();
	}
	if (!(p = cspf_map_get(&d->pairs, key.ptr, key.size))) {
		if (d->pair_count == d->pair_alloc) {
			size_t n = d->pair_alloc ? 2 * d->pair_alloc : 32;
			struct pair **l = realloc(d->pair_list,
				n * sizeof(*l));

			if (!l)
				goto oom;
			d->pair_list = l;
			d->pair_alloc = n;
		}
		if (!(p = calloc(1, sizeof(*p))))
			goto oom;
		p->role = role;
		p->owned = owned;
		p->user = lower;
		lower = NULL;
		if (cspf_map_put(&d->pairs, key.ptr, key.size, p) < 0) {
			free(p->user);
			free(p);
			goto oom;
		}
		d->pair_list[d->pair_count++] = p;
	}
	free(lower);
	cspf_buf_dispose(&key);
	if (how == PAIR_REGISTRY)
		p->registry = true;
	else if (how == PAIR_TRUSTED)
		p->trusted = true;
	else
		p->assumed++;
	if (when > p->last)
		p->last = when;
	return 0;
oom:
	free(lower);
	cspf_buf_dispose(&key);
	return cspf_error_set_oom();
}

/* The unattributed report of ev's account. */
static struct report *unattributed(struct digest *d, struct dg_account *a)
{
	struct report *r;

	if (a)
		r = report_get(d, CSPF_REPORT_RESOURCE_ACTIONS,
			a->escalation ? a->escalation :
			a->team ? team_recipient(a->team) : a->entity->id,
			a->team, true);
	else
		r = report_get(d, CSPF_REPORT_RESOURCE_ACTIONS,
			d->escalation, NULL, true);
	if (r)
		r->account = a;
	return r;
}

#define TARGET_CACHE 65536
static char target_none;

/* dg_target_find() through d->targets. */
static struct dg_owned *target_find(struct digest *d, const char *target,
	const char *account)
{
	char key[1024];
	size_t tl, al;
	void *v;
	struct dg_owned *o;

	if (!target || !*target)
		return NULL;
	tl = strlen(target);
	al = account ? strlen(account) : 0;
	if (tl + al + 2 > sizeof(key))
		return dg_target_find(&d->ix, target, account);
	/* The account matters for names without one (an S3 ARN, a bare
	 * id): "account \x1f target". */
	memcpy(key, account ? account : "", al);
	key[al] = '\x1f';
	memcpy(key + al + 1, target, tl);
	if ((v = cspf_map_get(&d->targets, key, al + 1 + tl)))
		return v == &target_none ? NULL : v;
	o = dg_target_find(&d->ix, target, account);
	if (d->targets.count >= TARGET_CACHE) {
		cspf_map_dispose(&d->targets);
		d->targets = (cspf_map)CSPF_MAP_STRINGS_INIT;
	}
	/* Out of memory only costs the cache. */
	cspf_map_put(&d->targets, key, al + 1 + tl, o ? (void *)o :
		(void *)&target_none);
	return o;
}

/* The name after "user/" of an IAM user's ARN. */
static const char *iam_user_name(const char *arn)
{
	const char *p;

	if (!arn || strncmp(arn, "arn:", 4) != 0 ||
	    !(p = strstr(arn, ":user/")))
		return NULL;
	p += 6;
	/* A path: the name is the last part. */
	return strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
}

static int add_event(const cspf_event *ev, void *payload)
{
	struct digest *d = payload;
	struct dg_account *acct = dg_account_find(&d->ix, ev->account);
	struct dg_owned *target = NULL, *role = NULL, *cred = NULL;
	struct dg_person *person = NULL;
	const char *who = NULL, *name;
	bool actor_ok = false, target_ok = true;
	struct report *r;
	char why[64] = "";

	d->events_seen++;
	if (d->opts->progress && (d->events_seen & 0xffff) == 0) {
		cspf_digest_progress p = { "reading", NULL,
			d->events_seen, 0, 0 };

		d->opts->progress(&p, d->opts->progress_payload);
	}
	if (ev->target) {
		target = target_find(d, ev->target, ev->account);
		target_ok = target != NULL;
	}
	if (ev->role)
		role = target_find(d, ev->role, ev->account);
	if (role && !role->role)
		role = NULL;

	switch (ev->actor_kind) {
	case CSPF_ACTOR_ROOT:
		actor_ok = acct != NULL;
		who = acct ? (acct->root ? acct->root :
			acct->team ? team_recipient(acct->team) : NULL) : NULL;
		actor_ok = who != NULL;
		break;
	case CSPF_ACTOR_USER:
		if (ev->person)
			person = dg_person_find(&d->ix, ev->person);
		if (!person && (name = iam_user_name(ev->actor))) {
			cred = dg_credential_user(&d->ix,
				acct ? acct->key : NULL, name);
			if (!cred)
				person = dg_person_find(&d->ix, name);
		}
		if (!person && !cred && ev->actor && strchr(ev->actor, '@') &&
		    strncmp(ev->actor, "arn:", 4) != 0)
			person = dg_person_find(&d->ix, ev->actor);
		/* An ambiguous local part maps to a sentinel. */
		if (person == (void *)&d->ix.unknown_team)
			person = NULL;
		if (person)
			who = person->email;
		else if (cred && cred->owner)
			who = team_recipient(cred->owner);
		actor_ok = who != NULL;
		break;
	case CSPF_ACTOR_ROLE:
		/* An Entra application is a service account. */
		if (!role && (cred = dg_credential_app(&d->ix, ev->actor)) &&
		    cred->owner)
			who = team_recipient(cred->owner);
		actor_ok = role != NULL || who != NULL;
		break;
	case CSPF_ACTOR_SERVICE:
		actor_ok = true;
		break;
	default:
		break;
	}

	/*
	 * A read-only event the review leaves out still says who took
	 * which role (sts:AssumeRole is read-only in CloudTrail).
	 */
	if (ev->read_only && !d->opts->read_only) {
		if (ev->assumed_role && person) {
			struct dg_owned *ar = dg_target_find(&d->ix,
				ev->assumed_role, ev->account);

			if (ar && ar->role && add_pair(d, ar->entity, ar,
			    person->email, PAIR_ASSUMED, ev->time) < 0)
				goto fail;
		}
		return 0;
	}
	d->res->events++;
	if (target && target->owner) {
		r = report_get(d, CSPF_REPORT_RESOURCE_ACTIONS,
			team_recipient(target->owner), target->owner, false);
		if (add_to(d, r, ev, target->entity->id, ev->action, NULL,
		    NULL) < 0)
			goto fail;
	} else if (target) {
		target_ok = false;
	}
	if (role && role->owner) {
		r = report_get(d, CSPF_REPORT_ROLE_ACTIONS,
			team_recipient(role->owner), role->owner, false);
		if (add_to(d, r, ev, role->entity->id, ev->action,
		    ev->target, NULL) < 0)
			goto fail;
	}
	if (who) {
		r = report_get(d, CSPF_REPORT_USER_ACTIONS, who,
			person ? person->team : cred ? cred->owner :
			acct ? acct->team : NULL, false);
		if (add_to(d, r, ev, ev->actor, ev->action, ev->target,
		    NULL) < 0)
			goto fail;
	}
	if (ev->assumed_role && person) {
		struct dg_owned *ar = dg_target_find(&d->ix, ev->assumed_role,
			ev->account);

		if (ar && ar->role && add_pair(d, ar->entity, ar,
		    person->email, PAIR_ASSUMED, ev->time) < 0)
			goto fail;
	}

	if (!actor_ok || !target_ok) {
		snprintf(why, sizeof(why), "%s%s%s",
			!actor_ok ? "unknown actor" : "",
			!actor_ok && !target_ok ? ", " : "",
			!target_ok ? "unknown target" : "");
		r = unattributed(d, acct);
		if (add_to(d, r, ev, why, ev->action,
		    !target_ok ? ev->target : ev->actor, why) < 0)
			goto fail;
		d->res->unattributed++;
	} else {
		d->res->attributed++;
	}
	return 0;
fail:
	d->error = -1;
	return -1;
}

/* Registry members of every iam-role asset. */
static int add_registry_members(struct digest *d)
{
	char buf[1200];
	const cJSON *m;
	size_t i;

	for (i = 0; i < d->ix.role_count; i++) {
		const cspf_entity *e = d->ix.roles[i];
		struct dg_owned *o;

		snprintf(buf, sizeof(buf), "%s", e->id);
		o = dg_target_find(&d->ix, buf, NULL);
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(e->json,
		    "members"))
			if (cJSON_IsString(m) && add_pair(d, e, o,
			    m->valuestring, PAIR_REGISTRY, 0) < 0)
				return -1;
	}
	return 0;
}

/*
 * The principals each role's trust policy names, from an inventory
 * snapshot: IAM users that are people (by name, as the CloudTrail
 * source maps them) are the role's users too.
 */
static int add_inventory_members(struct digest *d)
{
	const cJSON *acct, *role, *arn;
	cspf_json_doc *doc = NULL;
	int error;

	if (!d->opts->inventory)
		return 0;
	if ((error = cspf_json_load_file(&doc, d->opts->inventory,
	    NULL)) < 0)
		return error;
	cJSON_ArrayForEach(acct, cJSON_GetObjectItemCaseSensitive(
	    cspf_json_doc_root(doc), "accounts"))
		cJSON_ArrayForEach(role, cJSON_GetObjectItemCaseSensitive(acct,
		    "roles")) {
			const char *ra = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(role, "arn"));
			struct dg_owned *o = ra ? target_find(d, ra, NULL) :
				NULL;

			if (!o || !o->role)
				continue;
			cJSON_ArrayForEach(arn, cJSON_GetObjectItemCaseSensitive(
			    role, "trusted")) {
				const char *name = cJSON_IsString(arn) ?
					iam_user_name(arn->valuestring) : NULL;
				struct dg_person *p = name ?
					dg_person_find(&d->ix, name) : NULL;

				if (!p || p == (void *)&d->ix.unknown_team)
					continue;
				if (add_pair(d, o->entity, o, p->email,
				    PAIR_TRUSTED, 0) < 0) {
					cspf_json_doc_free(doc);
					return -1;
				}
			}
		}
	cspf_json_doc_free(doc);
	return 0;
}

/* Pairs into role-members (the role's owner) and user-roles (the
 * user's manager) reports. */
static int pair_reports(struct digest *d)
{
	size_t i;

	for (i = 0; i < d->pair_count; i++) {
		struct pair *p = d->pair_list[i];
		struct dg_person *person = dg_person_find(&d->ix, p->user);
		char how[96];
		struct report *r;
		struct dg_team *mt;

		if (person == (void *)&d->ix.unknown_team)
			person = NULL;
		snprintf(how, sizeof(how), "%s%s%s", p->registry ?
			"registry member" : "not a registry member",
			p->trusted ? "; its trust policy names them" : "",
			p->assumed ? "; assumed it" : "");
		if (p->assumed)
			snprintf(how + strlen(how), sizeof(how) - strlen(how),
				" %zu times", p->assumed);
		if (p->owned && p->owned->owner) {
			r = report_get(d, CSPF_REPORT_ROLE_MEMBERS,
				team_recipient(p->owned->owner),
				p->owned->owner, false);
			if (!r || add_group(r, p->role->id, p->user, how, NULL,
			    p->last) < 0)
				return -1;
			r->events++;
		}
		mt = person ? person->team : NULL;
		if (mt && mt->manager) {
			r = report_get(d, CSPF_REPORT_USER_ROLES, mt->manager,
				mt, false);
			if (!r || add_group(r, p->user, p->role->id, how, NULL,
			    p->last) < 0)
				return -1;
			r->events++;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ period */

static int period_resolve(struct digest *d)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(
		cspf_registry_config(d->reg), "digest");
	const char *anchor_s = DEFAULT_ANCHOR, *dur = "P14D", *due = "P5D", *v;
	const char *spec = d->opts->period;
	int64_t anchor, len, k;
	char start_s[64];

	if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg,
	    "anchor"))))
		anchor_s = v;
	if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg,
	    "period"))))
		dur = v;
	if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg,
	    "due"))))
		due = v;
	if (spec) {
		const char *slash = strchr(spec, '/');
		size_t n = slash ? (size_t)(slash - spec) : strlen(spec);

		if (n == 0 || n >= sizeof(start_s) - 12)
			goto bad;
		memcpy(start_s, spec, n);
		start_s[n] = '\0';
		if (n == 10)
			memcpy(start_s + n, "T00:00:00Z", 11);
		if (cspf_time_parse(&d->start, start_s) < 0)
			goto bad;
		if (slash)
			dur = slash + 1;
		if (cspf_duration_add(&d->end, d->start, dur) < 0 ||
		    d->end <= d->start)
			goto bad;
	} else {
		char a[64];

		snprintf(a, sizeof(a), "%s%s", anchor_s,
			strlen(anchor_s) == 10 ? "T00:00:00Z" : "");
		if (cspf_time_parse(&anchor, a) < 0)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "cspf.json: "
				"digest.anchor \"%s\" is not a date "
				"(2024-01-01)", anchor_s);
		if (cspf_duration_add(&len, anchor, dur) < 0 ||
		    (len -= anchor) <= 0)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "cspf.json: "
				"digest.period \"%s\" is not a duration "
				"(P14D)", dur);
		k = (d->now - anchor) / len;
		if (d->now < anchor && (d->now - anchor) % len)
			k--;
		d->start = anchor + k * len;
		d->end = d->start + len;
	}
	if (d->opts->previous) {
		int64_t len2 = d->end - d->start;

		d->end = d->start;
		d->start -= len2;
	}
	d->escalation = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cfg, "escalation"));
	if (!d->escalation)
		d->escalation = "no account: set digest.escalation";
	if (cspf_duration_add(&d->due_after, 0, due) < 0 || d->due_after <= 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf.json: digest.due \"%s\" is not a duration (P5D)",
			due);
	{
		char t[CSPF_TIME_BUFSIZE];
		int64_t days = (d->end - d->start) / DAY;

		cspf_time_format(t, d->start);
		if ((d->end - d->start) % DAY == 0 && d->start % DAY == 0) {
			snprintf(d->period_label, sizeof(d->period_label),
				"%.10s", t);
			snprintf(d->period_dur, sizeof(d->period_dur),
				"P%lldD", (long long)days);
		} else {
			/* Not whole days: the label is the start's time. */
			snprintf(d->period_label, sizeof(d->period_label),
				"%.10s", t);
			snprintf(d->period_dur, sizeof(d->period_dur),
				"PT%lldS", (long long)(d->end - d->start));
		}
		snprintf(d->period, sizeof(d->period), "%s/%s",
			d->period_label, d->period_dur);
	}
	return 0;
bad:
	return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
		"--period \"%s\": give START/DURATION, as 2026-11-16/P14D",
		spec);
}

/* ------------------------------------------------------------ tickets */

static const char *const kind_titles[CSPF_REPORT_COUNT] = {
	"actions against your resources",
	"actions performed by your roles",
	"users assigned to your roles",
	"actions performed by your accounts",
	"roles assigned to your people",
};

static const char *const kind_asks[CSPF_REPORT_COUNT] = {
	"These actions were performed against resources your team owns. "
	"Confirm each was expected; act on any that was not.",
	"These actions were performed by roles your team owns. Confirm "
	"each is what the role is for; remove rights it does not need "
	"(CSPF 7.1, 7.6).",
	"These people are assigned to, or were seen assuming, roles your "
	"team owns. Confirm each still needs the role; remove those who "
	"do not (CSPF 7.4).",
	"These actions were performed with your accounts. Confirm you "
	"performed each; report any you did not to security at once.",
	"These roles are assigned to people you manage. Confirm each "
	"still needs them; ask the role's owner to remove those who do "
	"not (CSPF 7.5).",
};

static const char *const kind_columns[CSPF_REPORT_COUNT][3] = {
	{ "resource", "action", NULL },
	{ "role", "action", "target" },
	{ "role", "user", "how" },
	{ "actor", "action", "target" },
	{ "user", "role", "how" },
};

static int group_cmp(const void *pa, const void *pb)
{
	const struct group *a = *(struct group *const *)pa;
	const struct group *b = *(struct group *const *)pb;
	int c;

	if (a->last != b->last)
		return a->last > b->last ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if ((c = strcmp(a->a, b->a)) != 0)
		return c;
	if ((c = strcmp(a->b, b->b)) != 0)
		return c;
	return strcmp(a->c, b->c);
}

struct action_count {
	const char *action;
	size_t count;
};

static int action_cmp(const void *pa, const void *pb)
{
	const struct action_count *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->action, b->action);
}

/* Markdown table cell: | and newlines would break the table. */
static void md_cell(cspf_buf *b, const char *s)
{
	if (!s || !*s) {
		cspf_buf_puts(b, " ");
		return;
	}
	cspf_buf_putc(b, '`');
	for (; *s; s++) {
		if (*s == '|' || *s == '`')
			cspf_buf_putc(b, '\'');
		else if (*s == '\n' || *s == '\r')
			cspf_buf_putc(b, ' ');
		else
			cspf_buf_putc(b, *s);
	}
	cspf_buf_putc(b, '`');
}

struct rendered {
	cspf_ticket t;
	char key[512];
	char key_hash[17];
	char *title, *body, *json, *csv;
	size_t csv_len;
	const char *assignees[8];
	char csv_name[128];
};

static void rendered_dispose(struct rendered *x)
{
	free(x->title);
	free(x->body);
	free(x->json);
	sodium_memzero(x->key, sizeof(x->key));
	free(x->csv);
	memset(x, 0, sizeof(*x));
}

static int read_spill(struct rendered *x, const struct report *r)
{
	cspf_buf all = CSPF_BUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f;

	if (r->spill) {
		if (!(f = fopen(r->spill, "rb")))
			return cspf_error_set_os("reading %s", r->spill);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			cspf_buf_put(&all, chunk, n);
		fclose(f);
	}
	cspf_buf_put(&all, r->csv.ptr, r->csv.size);
	if (cspf_buf_oom(&all))
		return cspf_error_set_oom();
	x->csv_len = all.size;
	x->csv = cspf_buf_detach(&all);
	return 0;
}

/* CSV of the groups (role-members, user-roles have no events). */
static void groups_csv(cspf_buf *b, const struct report *r,
	struct group **gs, size_t n)
{
	const char *const *cols = kind_columns[r->kind];
	char t[CSPF_TIME_BUFSIZE];
	size_t i;

	cspf_buf_printf(b, "%s,%s,%s,last_seen\n", cols[0], cols[1],
		cols[2] ? cols[2] : "count");
	for (i = 0; i < n; i++) {
		csv_field(b, gs[i]->a, false);
		csv_field(b, gs[i]->b, false);
		csv_field(b, gs[i]->c, false);
		if (gs[i]->last) {
			cspf_time_format(t, gs[i]->last);
			csv_field(b, t, true);
		} else {
			csv_field(b, "", true);
		}
	}
}

static bool pair_kind(cspf_report_kind k)
{
	return k == CSPF_REPORT_ROLE_MEMBERS || k == CSPF_REPORT_USER_ROLES;
}

static int render(struct digest *d, struct rendered *x, struct report *r,
	int64_t created, int64_t due, bool dry_run, bool csv_file)
{
	cspf_buf b = CSPF_BUF_INIT, j = CSPF_BUF_INIT;
	const char *kname = cspf_report_kind_name(r->kind);
	struct group **gs = NULL;
	struct action_count *acs = NULL;
	cspf_map_entry *e;
	size_t ng = 0, na = 0, i, shown;
	char t1[CSPF_TIME_BUFSIZE], t2[CSPF_TIME_BUFSIZE];
	char dues[CSPF_TIME_BUFSIZE], s[CSPF_TIME_BUFSIZE];
	unsigned char hash[8];
	char *marker;
	const char *teamname = r->team ? r->team->name : NULL;
	int error = -1;

	memset(x, 0, sizeof(*x));
	if (r->unattributed)
		snprintf(x->key, sizeof(x->key), "%s:unattributed:%s",
			d->period, r->account ? r->account->entity->id :
			"unknown-accounts");
	else
		snprintf(x->key, sizeof(x->key), "%s:%s:%s", d->period, kname,
			r->recipient);
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)x->key,
		strlen(x->key), NULL, 0);
	sodium_bin2hex(x->key_hash, sizeof(x->key_hash), hash, sizeof(hash));

	cspf_map_dispose(&r->actions);
	r->actions = (cspf_map)CSPF_MAP_STRINGS_INIT;
	if (!(gs = malloc((r->group_count + 1) * sizeof(*gs))) ||
	    !(acs = malloc((r->group_count + 1) * sizeof(*acs))))
		goto oom;
	cspf_map_foreach(&r->groups, e)
		gs[ng++] = e->value;
	qsort(gs, ng, sizeof(*gs), group_cmp);
	/* The actions' counts, from the groups (the action is their
	 * second part). */
	if (!pair_kind(r->kind)) {
		cspf_map_foreach(&r->groups, e) {
			const struct group *g = e->value;
			size_t *cnt = cspf_map_gets(&r->actions, g->b);

			if (!cnt) {
				acs[na].action = g->b;
				acs[na].count = 0;
				cnt = &acs[na++].count;
				if (cspf_map_puts(&r->actions, g->b, cnt) < 0)
					goto oom;
			}
			*cnt += g->count;
		}
	}
	qsort(acs, na, sizeof(*acs), action_cmp);

	/* Title. */
	cspf_time_format(t1, d->start);
	cspf_time_format(t2, d->end - 1);
	if (r->unattributed)
		cspf_buf_printf(&b, "[cspf] Review %.10s to %.10s: unattributed "
			"activity in %s", t1, t2, r->account ?
			r->account->name : "accounts the registry does not "
			"know");
	else
		cspf_buf_printf(&b, "[cspf] Review %.10s to %.10s: %s (%s)",
			t1, t2, kind_titles[r->kind],
			teamname && r->kind != CSPF_REPORT_USER_ACTIONS ?
			teamname : r->recipient);
	if (cspf_buf_oom(&b))
		goto oom;
	x->title = cspf_buf_detach(&b);

	/* Body. */
	cspf_time_format(dues, due);
	cspf_buf_printf(&b, "## %s\n\n", x->title + 7);
	cspf_buf_printf(&b, "**To:** %s%s%s%s  \n", r->recipient,
		teamname ? " (" : "", teamname ? teamname : "",
		teamname ? ")" : "");
	cspf_buf_printf(&b, "**Period:** %.10s to %.10s (%s)  \n", t1, t2,
		d->period);
	cspf_buf_printf(&b, "**Due:** %.10s: confirm the review and close "
		"this ticket within five days (CSPF 7.7).\n\n", dues);
	if (r->unattributed)
		cspf_buf_printf(&b, "These events could not be attributed to "
			"an owner the registry names%s%s. As the escalation "
			"contact, find their owners, add them to the registry, "
			"and act on what was not expected.\n\n",
			r->account ? ": account " : "",
			r->account ? r->account->entity->id : "");
	else
		cspf_buf_printf(&b, "%s\n\n", kind_asks[r->kind]);
	if (pair_kind(r->kind))
		cspf_buf_printf(&b, "**%zu** assignments.\n\n", r->events);
	else {
		cspf_time_format(t1, r->first);
		cspf_time_format(t2, r->last);
		cspf_buf_printf(&b, "**%zu** events in %zu groups, from %s to "
			"%s.\n\n", r->events, r->group_count, t1, t2);
		cspf_buf_puts(&b, "### Top actions\n\n| action | events |\n"
			"|---|---:|\n");
		for (i = 0; i < na && i < TOP_ACTIONS; i++) {
			cspf_buf_puts(&b, "| ");
			md_cell(&b, acs[i].action);
			cspf_buf_printf(&b, " | %zu |\n", acs[i].count);
		}
		if (na > TOP_ACTIONS)
			cspf_buf_printf(&b, "\n%zu other actions.\n",
				na - TOP_ACTIONS);
		cspf_buf_puts(&b, "\n");
	}
	{
		const char *const *cols = kind_columns[r->kind];

		cspf_buf_printf(&b, "### Details, newest first\n\n| %s | %s |%s%s"
			"%s", r->unattributed ? "why" : cols[0],
			cols[1], cols[2] ? " " : "", cols[2] ? cols[2] : "",
			cols[2] ? " |" : "");
		if (pair_kind(r->kind))
			cspf_buf_puts(&b, " last seen |\n|---|---|---|---|\n");
		else
			cspf_buf_printf(&b, " events | last | actors |\n"
				"|---|---|%s---:|---|---|\n",
				cols[2] ? "---|" : "");
	}
	for (i = 0, shown = 0; i < ng && shown < DETAIL_ROWS; i++, shown++) {
		const struct group *g = gs[i];
		size_t k;

		cspf_buf_puts(&b, "| ");
		md_cell(&b, g->a);
		cspf_buf_puts(&b, " | ");
		md_cell(&b, g->b);
		if (kind_columns[r->kind][2]) {
			cspf_buf_puts(&b, " | ");
			if (pair_kind(r->kind))
				cspf_buf_puts(&b, g->c);
			else
				md_cell(&b, g->c);
		}
		if (g->last)
			cspf_time_format(s, g->last);
		else
			s[0] = '\0';
		if (pair_kind(r->kind)) {
			cspf_buf_printf(&b, " | %s |\n", s);
			continue;
		}
		cspf_buf_printf(&b, " | %zu | %s | ", g->count, s);
		for (k = 0; k < 3 && g->actors[k]; k++) {
			if (k)
				cspf_buf_puts(&b, ", ");
			md_cell(&b, g->actors[k]);
		}
		if (g->more_actors)
			cspf_buf_puts(&b, " and others (the attachment has "
				"them all)");
		cspf_buf_puts(&b, " |\n");
	}
	snprintf(x->csv_name, sizeof(x->csv_name), "%s-%s-%s.csv",
		r->unattributed ? "unattributed" : kname, d->period_label,
		x->key_hash);
	if (ng > shown)
		cspf_buf_printf(&b, "\n%zu more groups: every one is in the "
			"attachment.\n", ng - shown);
	cspf_buf_printf(&b, "\nThe complete list: attachment `%s` (%zu "
		"rows).\n\n", x->csv_name, pair_kind(r->kind) ? ng : r->rows);

	/* The ticket's fields, for the marker and the JSON. */
	x->t.key = x->key;
	x->t.key_hash = x->key_hash;
	x->t.kind = r->kind;
	x->t.recipient = r->recipient;
	x->t.team = r->team ? r->team->id : NULL;
	x->t.queue = r->team ? r->team->queue : NULL;
	if (r->team)
		for (i = 0; i < r->team->assignee_count && i < 8; i++)
			x->assignees[x->t.assignee_count++] =
				r->team->assignees[i];
	x->t.assignees = x->assignees;
	x->t.period = d->period;
	x->t.period_label = d->period_label;
	x->t.created = created;
	x->t.due = due;
	x->t.events = r->events;
	x->t.unattributed = r->unattributed;
	if (!(marker = cspf_ticket_marker_format(&x->t)))
		goto oom;
	cspf_buf_printf(&b, "%s\n", marker);
	free(marker);
	if (cspf_buf_oom(&b))
		goto oom;
	x->body = cspf_buf_detach(&b);
	x->t.title = x->title;
	x->t.body = x->body;

	/* JSON. */
	{
		cJSON *o = cJSON_CreateObject(), *arr, *g;
		char *text;

		if (!o)
			goto oom;
		cJSON_AddStringToObject(o, "key", x->key);
		cJSON_AddStringToObject(o, "kind", r->unattributed ?
			"unattributed" : kname);
		cJSON_AddStringToObject(o, "recipient", r->recipient);
		if (r->team)
			cJSON_AddStringToObject(o, "team", r->team->id);
		if (r->account)
			cJSON_AddStringToObject(o, "account",
				r->account->entity->id);
		cJSON_AddStringToObject(o, "period", d->period);
		cspf_time_format(s, created);
		cJSON_AddStringToObject(o, "created", s);
		cJSON_AddStringToObject(o, "due", dues);
		cJSON_AddStringToObject(o, "title", x->title);
		cJSON_AddNumberToObject(o, "events", (double)r->events);
		cJSON_AddNumberToObject(o, "groups", (double)ng);
		arr = cJSON_AddArrayToObject(o, "top_actions");
		for (i = 0; arr && i < na && i < TOP_ACTIONS; i++) {
			g = cJSON_CreateObject();
			cJSON_AddStringToObject(g, "action", acs[i].action);
			cJSON_AddNumberToObject(g, "events",
				(double)acs[i].count);
			cJSON_AddItemToArray(arr, g);
		}
		arr = cJSON_AddArrayToObject(o, "details");
		for (i = 0; arr && i < ng; i++) {
			const char *const *cols = kind_columns[r->kind];

			g = cJSON_CreateObject();
			cJSON_AddStringToObject(g, r->unattributed ? "why" :
				cols[0], gs[i]->a);
			cJSON_AddStringToObject(g, cols[1], gs[i]->b);
			if (cols[2])
				cJSON_AddStringToObject(g, cols[2], gs[i]->c);
			if (!pair_kind(r->kind))
				cJSON_AddNumberToObject(g, "events",
					(double)gs[i]->count);
			if (gs[i]->last) {
				cspf_time_format(s, gs[i]->last);
				cJSON_AddStringToObject(g, "last", s);
			}
			cJSON_AddItemToArray(arr, g);
		}
		text = cJSON_Print(o);
		cJSON_Delete(o);
		if (!text)
			goto oom;
		cspf_buf_puts(&j, text);
		cspf_buf_putc(&j, '\n');
		cJSON_free(text);
		if (cspf_buf_oom(&j))
			goto oom;
		x->json = cspf_buf_detach(&j);
		x->t.json = x->json;
	}

	/* The attachment (not needed to say what a dry run would do). */
	if (!dry_run) {
		if (pair_kind(r->kind)) {
			groups_csv(&b, r, gs, ng);
			if (cspf_buf_oom(&b))
				goto oom;
			x->csv_len = b.size;
			x->csv = cspf_buf_detach(&b);
		} else if (csv_file) {
			/* The sink copies it from the file. */
			if (spill(d, r) < 0)
				goto out;
			x->t.csv_path = r->spill;
		} else if (read_spill(x, r) < 0) {
			goto out;
		}
		x->t.csv = x->csv;
		x->t.csv_len = x->csv_len;
	}
	error = 0;
	goto out;
oom:
	error = cspf_error_set_oom();
out:
	cspf_buf_dispose(&b);
	cspf_buf_dispose(&j);
	free(gs);
	free(acs);
	return error;
}

/* ------------------------------------------------------------ sinks */

struct sink {
	char *label;            /* "files:DIR", "github:o/r", a config name */
	const cspf_sink_ops *ops;
	void *state;
	bool opened, failed;
	char *error;            /* why it could not be opened */
	cspf_secret *token;
	char *url, *project, *dir, *user, *name;
};

struct sinks {
	struct sink **list;
	size_t count;
};

static void sink_free(struct sink *s)
{
	if (s->opened && s->ops->close)
		s->ops->close(s->state);
	cspf_secret_free(s->token);
	free(s->label);
	free(s->error);
	free(s->url);
	free(s->project);
	free(s->dir);
	free(s->user);
	free(s->name);
	free(s);
}

static int token_from_env(cspf_secret **out, const char *var,
	const char *label)
{
	const char *v = getenv(var);

	if (!v || !*v)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"sink %s: set %s to an API token", label, var);
	return cspf_secret_from_env(out, var);
}

static int token_from_vault(struct digest *d, cspf_secret **out,
	const cJSON *ref, const char *label)
{
	const char *vname = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(ref, "vault"));
	const char *path = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(ref, "path"));
	const cJSON *vcfg = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cspf_registry_config(d->reg),
		"vaults"), vname ? vname : "");
	cspf_vault_options vo = CSPF_VAULT_OPTIONS_INIT;
	cspf_vault *v = NULL;
	int error;

	if (!vname || !path || !vcfg)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sink %s: its credentials name no vault of cspf.json",
			label);
	vo.base_dir = d->opts->registry_dir;
	vo.ca_file = d->opts->ca_file;
	vo.max_attempts = d->opts->max_attempts;
	if ((error = cspf_vault_open(&v, vname, vcfg, &vo)) == 0)
		error = cspf_vault_get(out, NULL, v, path, CSPF_VAULT_CURRENT);
	cspf_vault_free(v);
	return error;
}

/* Split "URL/PROJECT" at its last '/'. */
static int split_jira(struct sink *s, const char *spec)
{
	const char *slash = strrchr(spec, '/');

	if (!slash || slash == spec || !slash[1] ||
	    strncmp(spec, "http", 4) != 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"--sink jira:%s: give jira:URL/PROJECT, as "
			"jira:https://example.atlassian.net/SEC", spec);
	s->url = strndup(spec, (size_t)(slash - spec));
	s->project = strdup(slash + 1);
	return s->url && s->project ? 0 : cspf_error_set_oom();
}

/* A sink of the command line, or of cspf.json by name. */
static int sink_prepare(struct digest *d, struct sink *s, const char *spec)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cspf_registry_config(d->reg),
		"ticket_sinks"), spec);
	const char *type, *v;
	/* A dry run opens a sink only to read it (--follow-up lists). */
	bool dry = d->opts->dry_run && !d->opts->follow_up_only;

	if (!cfg && strncmp(spec, "files:", 6) == 0) {
		s->ops = &cspf_sink_files;
		s->dir = strdup(spec + 6);
		return s->dir && *s->dir ? 0 : cspf_error_set(CSPF_EINVALID,
			CSPF_ERRCLASS_INVALID, "--sink files:DIR: name the "
			"directory");
	}
	if (!cfg && strncmp(spec, "github:", 7) == 0) {
		s->ops = &cspf_sink_github;
		v = getenv("GITHUB_API_URL");
		s->url = strdup(v && *v ? v : "https://api.github.com");
		s->project = strdup(spec + 7);
		if (!s->url || !s->project)
			return cspf_error_set_oom();
		if (!strchr(s->project, '/'))
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "--sink %s: give "
				"github:OWNER/REPO", spec);
		return dry ? 0 : token_from_env(&s->token, "GITHUB_TOKEN",
			spec);
	}
	if (!cfg && strncmp(spec, "jira:", 5) == 0) {
		s->ops = &cspf_sink_jira;
		if (split_jira(s, spec + 5) < 0)
			return -1;
		if ((v = getenv("JIRA_USER")) && *v && !(s->user = strdup(v)))
			return cspf_error_set_oom();
		return dry ? 0 : token_from_env(&s->token, "JIRA_API_TOKEN",
			spec);
	}
	if (!cfg)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"--sink %s: give files:DIR, github:OWNER/REPO, "
			"jira:URL/PROJECT or a ticket_sinks name of cspf.json",
			spec);
	if (!(s->name = strdup(spec)))
		return cspf_error_set_oom();
	type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg,
		"type"));
	if (type && strcmp(type, "file") == 0) {
		const char *path = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cfg, "path"));
		cspf_buf b = CSPF_BUF_INIT;

		s->ops = &cspf_sink_files;
		if (path && path[0] != '/' && d->opts->registry_dir)
			cspf_buf_printf(&b, "%s/", d->opts->registry_dir);
		cspf_buf_puts(&b, path ? path : "tickets");
		if (cspf_buf_oom(&b))
			return cspf_error_set_oom();
		s->dir = cspf_buf_detach(&b);
		return 0;
	}
	if (!type || (strcmp(type, "github") && strcmp(type, "jira")))
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"ticket sink %s: type %s is not one cspf digest "
			"writes to yet (files, github, jira)", spec,
			type ? type : "(none)");
	s->ops = strcmp(type, "github") == 0 ? &cspf_sink_github :
		&cspf_sink_jira;
	v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "url"));
	s->url = xstrdup(v);
	v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg,
		"project"));
	s->project = xstrdup(v);
	if (!s->url || !s->project)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"ticket sink %s: give it a url and a project", spec);
	if (s->ops == &cspf_sink_jira && (v = getenv("JIRA_USER")) && *v &&
	    !(s->user = strdup(v)))
		return cspf_error_set_oom();
	if (dry)
		return 0;
	if (cJSON_GetObjectItemCaseSensitive(cfg, "credentials"))
		return token_from_vault(d, &s->token,
			cJSON_GetObjectItemCaseSensitive(cfg, "credentials"),
			spec);
	return token_from_env(&s->token, s->ops == &cspf_sink_github ?
		"GITHUB_TOKEN" : "JIRA_API_TOKEN", spec);
}

static int ensure_http(struct digest *d)
{
	cspf_http_options ho = CSPF_HTTP_OPTIONS_INIT;

	if (d->http)
		return 0;
	ho.ca_file = d->opts->ca_file;
	ho.max_attempts = d->opts->max_attempts;
	ho.timeout_ms = d->opts->timeout_ms;
	return cspf_http_new(&d->http, &ho);
}

static const char *last_message(void)
{
	const cspf_error *e = cspf_error_last();

	return e && e->message ? e->message : "unknown error";
}

/* The sink of `spec`, opened once; NULL (with s->error) when it cannot. */
static struct sink *sink_get(struct digest *d, struct sinks *ss,
	const char *spec)
{
	cspf_sink_config cfg;
	struct sink *s, **l;
	size_t i;

	for (i = 0; i < ss->count; i++)
		if (strcmp(ss->list[i]->label, spec) == 0)
			return ss->list[i];
	if (!(s = calloc(1, sizeof(*s))) || !(s->label = strdup(spec)) ||
	    !(l = realloc(ss->list, (ss->count + 1) * sizeof(*l)))) {
		if (s)
			free(s->label);
		free(s);
		cspf_error_set_oom();
		return NULL;
	}
	ss->list = l;
	ss->list[ss->count++] = s;
	if (sink_prepare(d, s, spec) < 0)
		goto failed;
	if (d->opts->dry_run && !d->opts->follow_up_only)
		return s;
	if (s->ops != &cspf_sink_files && ensure_http(d) < 0)
		goto failed;
	memset(&cfg, 0, sizeof(cfg));
	cfg.type = s->ops->type;
	cfg.name = s->name;
	cfg.url = s->url;
	cfg.project = s->project;
	cfg.dir = s->dir;
	cfg.token = s->token;
	cfg.user = s->user;
	cfg.http = s->ops == &cspf_sink_files ? NULL : d->http;
	cfg.max_attempts = d->opts->max_attempts;
	cfg.now = d->now;
	if (s->ops->open(&s->state, &cfg) < 0)
		goto failed;
	s->opened = true;
	return s;
failed:
	s->failed = true;
	s->error = strdup(last_message());
	return s;
}

/* Where a ticket of `team` goes. */
static const char *route(struct digest *d, const struct dg_team *team)
{
	const cJSON *sinks = cJSON_GetObjectItemCaseSensitive(
		cspf_registry_config(d->reg), "ticket_sinks");
	const cJSON *it;

	if (d->opts->sink)
		return d->opts->sink;
	if (team && team->sink &&
	    cJSON_GetObjectItemCaseSensitive(sinks, team->sink))
		return team->sink;
	cJSON_ArrayForEach(it, sinks)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
		    "default")))
			return it->string;
	return NULL;
}

static void tell(struct digest *d, cspf_digest_outcome outcome,
	const cspf_ticket *t, const char *kind, const struct sink *s,
	const cspf_ticket_ref *ref, const char *error)
{
	cspf_digest_ticket_info info;

	if (!d->opts->on_ticket)
		return;
	memset(&info, 0, sizeof(info));
	info.outcome = outcome;
	info.kind = kind;
	info.recipient = t ? t->recipient : ref->recipient;
	info.team = t ? t->team : ref->team[0] ? ref->team : NULL;
	info.sink = s ? s->label : NULL;
	info.id = ref && ref->id[0] ? ref->id : NULL;
	info.url = ref && ref->url[0] ? ref->url : NULL;
	info.title = t ? t->title : NULL;
	info.events = t ? t->events : 0;
	info.due = t ? t->due : ref->due;
	info.error = error;
	d->opts->on_ticket(&info, d->opts->ticket_payload);
}

static int report_order(const void *pa, const void *pb)
{
	const struct report *a = *(struct report *const *)pa;
	const struct report *b = *(struct report *const *)pb;
	int c;

	if (a->unattributed != b->unattributed)
		return a->unattributed ? 1 : -1;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if ((c = strcmp(a->recipient, b->recipient)) != 0)
		return c;
	return 0;
}

/*
 * A team's queue is a place in its own kind of sink ("PAY" in Jira,
 * "example/platform" on GitHub): it applies when the ticket goes to a
 * sink of the type of the team's.
 */
static const char *queue_for(struct digest *d, const struct dg_team *team,
	const struct sink *s)
{
	const cJSON *cfg;
	const char *type;

	if (!team || !team->queue || !team->sink)
		return NULL;
	cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		cspf_registry_config(d->reg), "ticket_sinks"), team->sink);
	type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg,
		"type"));
	if (!type)
		return NULL;
	if (strcmp(type, "file") == 0)
		type = "files";
	return strcmp(type, s->ops->type) == 0 ? team->queue : NULL;
}

static int one_ticket(struct digest *d, struct sinks *ss, struct report *r)
{
	const char *kind = r->unattributed ? "unattributed" :
		cspf_report_kind_name(r->kind);
	const char *spec = route(d, r->team);
	int64_t created = d->now, due = d->now + d->due_after;
	struct rendered x;
	cspf_ticket_ref ref;
	struct sink *s;
	int error;

	memset(&ref, 0, sizeof(ref));
	d->res->tickets++;
	if (render(d, &x, r, created, due, true, false) < 0)
		return -1;
	if (!spec) {
		d->res->failed++;
		tell(d, CSPF_DIGEST_FAILED, &x.t, kind, NULL, NULL,
			"no ticket sink: give --sink files:DIR, or mark a "
			"ticket_sinks entry of cspf.json \"default\": true");
		rendered_dispose(&x);
		return 0;
	}
	if (!(s = sink_get(d, ss, spec))) {
		rendered_dispose(&x);
		return -1;
	}
	if (d->opts->dry_run) {
		tell(d, CSPF_DIGEST_WOULD_OPEN, &x.t, kind, s, NULL, NULL);
		rendered_dispose(&x);
		return 0;
	}
	if (s->failed) {
		d->res->failed++;
		tell(d, CSPF_DIGEST_FAILED, &x.t, kind, s, NULL, s->error);
		rendered_dispose(&x);
		return 0;
	}
	x.t.queue = queue_for(d, r->team, s);
	error = s->ops->find(s->state, &x.t, &ref);
	if (error == 0) {
		/* Opened by an earlier run: its dates stay. */
		if (ref.created)
			created = ref.created;
		if (ref.due)
			due = ref.due;
	} else if (error != CSPF_ENOTFOUND) {
		goto failed;
	}
	rendered_dispose(&x);
	if (render(d, &x, r, created, due, false,
	    s->ops == &cspf_sink_files) < 0)
		return -1;
	x.t.queue = queue_for(d, r->team, s);
	if (error == 0) {
		if ((error = s->ops->update(s->state, &ref, &x.t)) < 0)
			goto failed;
		d->res->updated++;
		tell(d, CSPF_DIGEST_UPDATED, &x.t, kind, s, &ref, NULL);
	} else {
		memset(&ref, 0, sizeof(ref));
		if ((error = s->ops->create(s->state, &x.t, &ref)) < 0)
			goto failed;
		d->res->created++;
		tell(d, CSPF_DIGEST_CREATED, &x.t, kind, s, &ref, NULL);
	}
	rendered_dispose(&x);
	return 0;
failed:
	d->res->failed++;
	tell(d, CSPF_DIGEST_FAILED, &x.t, kind, s, NULL, last_message());
	rendered_dispose(&x);
	return 0;
}

/* ------------------------------------------------------------ follow-up */

static cspf_digest_team_result *team_result(cspf_digest_result *res,
	const char *team)
{
	cspf_digest_team_result *t;
	size_t i;

	if (!team || !*team)
		team = "(no team)";
	for (i = 0; i < res->team_count; i++)
		if (strcmp(res->teams[i].team, team) == 0)
			return &res->teams[i];
	if (!(t = realloc(res->teams, (res->team_count + 1) * sizeof(*t))))
		return NULL;
	res->teams = t;
	t = &res->teams[res->team_count++];
	memset(t, 0, sizeof(*t));
	snprintf(t->team, sizeof(t->team), "%s", team);
	return t;
}

struct follow {
	struct digest *d;
	struct sink *sink;
	int error;
};

static int follow_one(const cspf_ticket_ref *ref, void *payload)
{
	struct follow *f = payload;
	struct digest *d = f->d;
	cspf_digest_team_result *tr = team_result(d->res, ref->team);
	struct dg_team *team = ref->team[0] ?
		cspf_map_gets(&d->ix.teams, ref->team) : NULL;
	char due[CSPF_TIME_BUFSIZE];
	cspf_buf b = CSPF_BUF_INIT;
	int error;

	if (!tr)
		return cspf_error_set_oom();
	tr->opened++;
	if (!ref->open) {
		tr->closed++;
		return 0;
	}
	if (!ref->due || ref->due > d->now)
		return 0;
	tr->overdue++;
	d->res->overdue++;
	if (ref->escalated) {
		tell(d, CSPF_DIGEST_OVERDUE, NULL, ref->kind, f->sink, ref,
			"escalated before");
		return 0;
	}
	if (d->opts->dry_run) {
		tell(d, CSPF_DIGEST_OVERDUE, NULL, ref->kind, f->sink, ref,
			NULL);
		return 0;
	}
	cspf_time_format(due, ref->due);
	cspf_buf_printf(&b, "**Overdue.** This review was due on %.10s and is "
		"still open. Escalated to %s's escalation contact%s%s%s%s "
		"(CSPF 7.7): confirm the review and close this ticket.\n",
		due, team ? team->name : "the team",
		team && team->escalation ? " " : "",
		team && team->escalation ? team->escalation : "",
		team && team->manager ? " and manager " : "",
		team && team->manager ? team->manager : "");
	if (cspf_buf_oom(&b))
		return cspf_error_set_oom();
	error = f->sink->ops->comment(f->sink->state, ref, b.ptr, true);
	cspf_buf_dispose(&b);
	if (error < 0) {
		tell(d, CSPF_DIGEST_FAILED, NULL, ref->kind, f->sink, ref,
			last_message());
		d->res->failed++;
		return 0;
	}
	tr->escalated++;
	d->res->escalated++;
	tell(d, CSPF_DIGEST_ESCALATED, NULL, ref->kind, f->sink, ref, NULL);
	return 0;
}

static int follow_up(struct digest *d, struct sinks *ss)
{
	char label[16], prev[64], t[CSPF_TIME_BUFSIZE];
	int64_t len = d->end - d->start, start = d->start - len;
	struct follow f;
	size_t i, n;

	cspf_time_format(t, start);
	snprintf(label, sizeof(label), "%.10s", t);
	snprintf(prev, sizeof(prev), "%s/%s", label, d->period_dur);
	snprintf(d->res->follow_up_period, sizeof(d->res->follow_up_period),
		"%s", prev);
	/* Every sink tickets may be in. */
	if (d->opts->sink) {
		sink_get(d, ss, d->opts->sink);
	} else {
		/* Each team's, and the default one. */
		cspf_map_entry *e;

		cspf_map_foreach(&d->ix.teams, e)
			if (route(d, e->value))
				sink_get(d, ss, route(d, e->value));
		if (route(d, NULL))
			sink_get(d, ss, route(d, NULL));
	}
	n = ss->count;
	for (i = 0; i < n; i++) {
		struct sink *s = ss->list[i];

		if (s->failed) {
			cspf_diags_add(d->diags, CSPF_SEVERITY_ERROR,
				"digest-sink", NULL, NULL, NULL, NULL, s->error);
			d->res->failed++;
			continue;
		}
		if (!s->opened)
			continue;
		memset(&f, 0, sizeof(f));
		f.d = d;
		f.sink = s;
		if (s->ops->list(s->state, prev, follow_one, &f) < 0) {
			cspf_diags_add(d->diags, CSPF_SEVERITY_ERROR,
				"digest-sink", NULL, NULL, NULL, NULL,
				last_message());
			d->res->failed++;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ the run */

static int read_sources(struct digest *d)
{
	static const char *const defaults[] = { "git", "audit" };
	const char *const *specs = d->opts->sources;
	size_t n = d->opts->source_count, i;

	if (!n) {
		specs = defaults;
		n = 2;
	}
	if (n > CSPF_DIGEST_MAX_SOURCES)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"at most %d sources", CSPF_DIGEST_MAX_SOURCES);
	for (i = 0; i < n; i++) {
		const char *colon = strchr(specs[i], ':');
		size_t len = colon ? (size_t)(colon - specs[i]) :
			strlen(specs[i]);
		const cspf_source *src = cspf_source_find(specs[i], len);

		if (!src)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "--sources %s: no such "
				"source (cspf digest --help lists them)",
				specs[i]);
		if (src->needs_arg && (!colon || !colon[1]))
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "--sources %s: give "
				"%s:PATH", specs[i], src->name);
	}
	for (i = 0; i < n; i++) {
		const char *colon = strchr(specs[i], ':');
		size_t len = colon ? (size_t)(colon - specs[i]) :
			strlen(specs[i]);
		const cspf_source *src = cspf_source_find(specs[i], len);
		cspf_digest_source_result *sr = &d->res->sources[i];
		cspf_source_stats st;
		cspf_source_query q;

		memset(&st, 0, sizeof(st));
		memset(&q, 0, sizeof(q));
		q.start = d->start;
		q.end = d->end;
		q.read_only = d->opts->read_only;
		q.arg = colon && colon[1] ? colon + 1 : NULL;
		q.registry = d->reg;
		q.registry_dir = d->opts->registry_dir;
		q.ca_file = d->opts->ca_file;
		q.max_attempts = d->opts->max_attempts;
		q.rate = d->opts->rate;
		snprintf(sr->name, sizeof(sr->name), "%s", specs[i]);
		d->res->source_count = i + 1;
		if (strcmp(src->name, "cloudtrail-api") == 0) {
			if (ensure_http(d) < 0)
				return -1;
			q.http = d->http;
		}
		if (d->opts->progress) {
			cspf_digest_progress p = { "reading", specs[i],
				d->events_seen, 0, 0 };

			d->opts->progress(&p, d->opts->progress_payload);
		}
		if (src->read(&st, d->diags, &q, add_event, d) < 0) {
			if (d->error)
				return -1;
			sr->failed = true;
			cspf_diags_add(d->diags, CSPF_SEVERITY_ERROR,
				"digest-source", NULL, NULL, NULL, NULL,
				last_message());
		}
		sr->files = st.files;
		sr->records = st.records;
		sr->events = st.events;
		sr->skipped = st.skipped;
		sr->bad = st.bad;
		sr->calls = st.calls;
		sr->bytes = st.bytes;
	}
	return 0;
}

void cspf_digest_result_dispose(cspf_digest_result *res)
{
	free(res->teams);
	memset(res, 0, sizeof(*res));
}

int cspf_digest_run(cspf_digest_result *res, cspf_diags *diags,
	const cspf_registry *reg, const cspf_digest_options *opts)
{
	struct digest d;
	struct sinks ss = { NULL, 0 };
	const char *tmp = getenv("TMPDIR");
	size_t i;
	int error = -1;

	memset(res, 0, sizeof(*res));
	memset(&d, 0, sizeof(d));
	d.reg = reg;
	d.opts = opts;
	d.res = res;
	d.diags = diags;
	d.reports = (cspf_map)CSPF_MAP_STRINGS_INIT;
	d.pairs = (cspf_map)CSPF_MAP_STRINGS_INIT;
	d.targets = (cspf_map)CSPF_MAP_STRINGS_INIT;
	d.now = opts->now ? opts->now : (int64_t)time(NULL);
	if (sodium_init() < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"libsodium could not start");
	if (period_resolve(&d) < 0)
		return -1;
	snprintf(res->period, sizeof(res->period), "%s", d.period);
	res->start = d.start;
	res->end = d.end;
	snprintf(d.tmpdir, sizeof(d.tmpdir), "%s/cspf-digest-XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d.tmpdir))
		return cspf_error_set_os("making a temporary directory in %s",
			tmp && *tmp ? tmp : "/tmp");
	if (dg_index_build(&d.ix, reg) < 0)
		goto out;

	if (!opts->follow_up_only) {
		if (read_sources(&d) < 0)
			goto out;
		if (add_registry_members(&d) < 0 ||
		    add_inventory_members(&d) < 0 || pair_reports(&d) < 0)
			goto out;
		qsort(d.list, d.count, sizeof(*d.list), report_order);
		for (i = 0; i < d.count; i++) {
			if (opts->progress) {
				cspf_digest_progress p = { "tickets", NULL,
					d.events_seen, i, d.count };

				opts->progress(&p, opts->progress_payload);
			}
			if (one_ticket(&d, &ss, d.list[i]) < 0)
				goto out;
		}
	}
	if (opts->follow_up || opts->follow_up_only) {
		if (opts->progress) {
			cspf_digest_progress p = { "follow-up", NULL,
				d.events_seen, d.count, d.count };

			opts->progress(&p, opts->progress_payload);
		}
		if (follow_up(&d, &ss) < 0)
			goto out;
	}
	error = 0;
out:
	for (i = 0; i < ss.count; i++)
		sink_free(ss.list[i]);
	free(ss.list);
	for (i = 0; i < d.count; i++)
		report_free(d.list[i]);
	free(d.list);
	cspf_map_dispose(&d.reports);
	for (i = 0; i < d.pair_count; i++) {
		free(d.pair_list[i]->user);
		free(d.pair_list[i]);
	}
	free(d.pair_list);
	cspf_map_dispose(&d.pairs);
	cspf_map_dispose(&d.targets);
	dg_index_dispose(&d.ix);
	cspf_http_free(d.http);
	rmdir(d.tmpdir);
	return error;
}
