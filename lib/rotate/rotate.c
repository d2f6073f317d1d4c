/*
 * The rotation state machine (DESIGN.md, "Rotation: invariants").
 *
 * Each credential's state is its vault's rotation record, a small JSON
 * document written with compare-and-swap:
 *
 *   {"v":1, "id":"<rotation id>", "owner":"host:pid:start", "until":T,
 *    "step":"claimed|staged|set|tested|promoted|retired|recorded|failed",
 *    "reason":"expiring", "started_ms":T, "finished":T, "expires":T,
 *    "old_key":"AKIA...", "new_key":"AKIA...", "retire_at":T,
 *    "retired":false, "compromised":false, "error":"..."}
 *
 * claimed    the run owns the rotation until `until` (renewed at every
 *            step); a claim past `until`, or whose owner is a process of
 *            this host that is gone, may be taken over;
 * staged     the new secret is the vault's pending version;
 * set, tested  the system accepts it; it works;
 * promoted   it is current; the old one is previous;
 * retired    the old one is deactivated (deleted when compromised);
 *            the registry has still to record the rotation;
 * recorded   the registry has it; a run deletes the old key once
 *            `retire_at` has passed (`retired` true when done);
 * failed     set or test failed: the new secret was removed and the
 *            current one left working.
 *
 * A run reads the record of every rotatable credential, resumes what is
 * in progress (even when no longer due), and starts what is due.  Nothing
 * outside the vault and the provider is needed to go on: invariant 4.
 *
 * Workers are threads, each with its own HTTP client and vault handles;
 * an item belongs to one worker.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/http.h"
#include "cspf/rotate.h"
#include "cspf/time.h"
#include "cspf/vault.h"
#include "rotate/rotator.h"
#include "util/error.h"

#define DEFAULT_CONCURRENCY 4
#define DEFAULT_CLAIM_TTL 900
#define DEFAULT_NOTICE "P14D"
#define DEFAULT_GRACE "P7D"
#define MAX_WORKERS 256

/*
 * Test hook, as git's GIT_TEST_* are: CSPF_TEST_KILL_AT=vault:N kills the
 * process (SIGKILL) right after its N-th vault call returns;
 * CSPF_TEST_KILL_AT=step:NAME right after a rotation's step NAME did its
 * work and before the record says so.  The fault tests use it to crash a
 * run at every point and check that the next run puts things right.
 */
static atomic_uint vault_calls;
static const char *kill_at;
static pthread_once_t kill_once = PTHREAD_ONCE_INIT;

static void kill_init(void)
{
	kill_at = getenv("CSPF_TEST_KILL_AT");
	if (kill_at && !*kill_at)
		kill_at = NULL;
}

static void kill_point(const char *kind, const char *name)
{
	char want[64];

	pthread_once(&kill_once, kill_init);
	if (!kill_at)
		return;
	if (strcmp(kind, "vault") == 0) {
		unsigned int n = atomic_fetch_add(&vault_calls, 1) + 1;

		snprintf(want, sizeof(want), "vault:%u", n);
	} else {
		snprintf(want, sizeof(want), "step:%s", name);
	}
	if (strcmp(want, kill_at) == 0)
		raise(SIGKILL);
}

static int64_t wall_ms(void);

/*
 * The record.
 */
struct rec {
	char id[40];
	char owner[160];
	char step[16];
	char reason[16];
	char *old_key, *new_key, *error;
	int64_t until, finished, expires, retire_at;
	int64_t started_ms; /* wall clock: which run came first */
	bool retired, compromised;
};

static void rec_dispose(struct rec *r)
{
	free(r->old_key);
	free(r->new_key);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

static void copy_str(char *dst, size_t n, const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	dst[0] = '\0';
	if (cJSON_IsString(it) && strlen(it->valuestring) < n)
		strcpy(dst, it->valuestring);
}

static char *dup_str(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? strdup(it->valuestring) : NULL;
}

static int64_t get_int(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : 0;
}

static int rec_parse(struct rec *r, const char *text)
{
	cJSON *root = cJSON_Parse(text);

	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	copy_str(r->id, sizeof(r->id), root, "id");
	copy_str(r->owner, sizeof(r->owner), root, "owner");
	copy_str(r->step, sizeof(r->step), root, "step");
	copy_str(r->reason, sizeof(r->reason), root, "reason");
	r->old_key = dup_str(root, "old_key");
	r->new_key = dup_str(root, "new_key");
	r->error = dup_str(root, "error");
	r->until = get_int(root, "until");
	r->started_ms = get_int(root, "started_ms");
	r->finished = get_int(root, "finished");
	r->expires = get_int(root, "expires");
	r->retire_at = get_int(root, "retire_at");
	r->retired = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
		"retired"));
	r->compromised = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
		"compromised"));
	cJSON_Delete(root);
	return r->step[0] ? 0 : -1;
}

static char *rec_format(const struct rec *r)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "v", 1);
	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "owner", r->owner);
	cJSON_AddNumberToObject(o, "until", (double)r->until);
	cJSON_AddStringToObject(o, "step", r->step);
	cJSON_AddStringToObject(o, "reason", r->reason);
	cJSON_AddNumberToObject(o, "started_ms", (double)r->started_ms);
	if (r->finished)
		cJSON_AddNumberToObject(o, "finished", (double)r->finished);
	if (r->expires)
		cJSON_AddNumberToObject(o, "expires", (double)r->expires);
	if (r->old_key)
		cJSON_AddStringToObject(o, "old_key", r->old_key);
	if (r->new_key)
		cJSON_AddStringToObject(o, "new_key", r->new_key);
	if (r->retire_at)
		cJSON_AddNumberToObject(o, "retire_at", (double)r->retire_at);
	cJSON_AddBoolToObject(o, "retired", r->retired);
	cJSON_AddBoolToObject(o, "compromised", r->compromised);
	if (r->error) {
		char cut[512];

		snprintf(cut, sizeof(cut), "%s", r->error);
		cJSON_AddStringToObject(o, "error", cut);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static bool step_in_progress(const char *step)
{
	return !strcmp(step, "claimed") || !strcmp(step, "staged") ||
		!strcmp(step, "set") || !strcmp(step, "tested") ||
		!strcmp(step, "promoted");
}

/*
 * Workers.
 */
struct run {
	cspf_rotate_plan *plan;
	const cspf_registry *reg;
	const cspf_rotate_options *opts;
	const cJSON *vaults;   /* cspf.json "vaults" */
	const cJSON *config;
	char owner[160];
	atomic_size_t next;
	int64_t now;
	int64_t wall_start_ms; /* when this run started, by the wall clock */
	unsigned int ttl;
	bool record_pass;      /* cspf_rotate_mark_recorded() */
	int fatal;             /* a worker could not start */
};

struct vault_slot {
	char *name;
	cspf_vault *vault;
};

struct worker {
	struct run *run;
	cspf_http_client *http;
	struct vault_slot *vaults;
	size_t nvaults;
	/* Per item. */
	cspf_rotate_item *item;
	cspf_vault *vault;
	char *tag;
	struct rec rec;
};

static int64_t clock_now(const struct run *run)
{
	/* A fixed --now stays fixed; otherwise the wall clock. */
	return run->opts->now ? run->opts->now : (int64_t)time(NULL);
}

static void set_message(cspf_rotate_item *item, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_message(cspf_rotate_item *item, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(item->message);
	item->message = strdup(buf);
}

static void set_state(cspf_rotate_item *item, const char *state)
{
	free(item->state);
	item->state = strdup(state);
}

static const char *last_error(void)
{
	const cspf_error *e = cspf_error_last();

	return e && e->message ? e->message : "unknown error";
}

static void emit(struct worker *w, const char *step, const char *outcome,
	const char *detail)
{
	const cspf_rotate_options *o = w->run->opts;
	cspf_rotate_event ev;

	if (!o->on_event)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.item = w->item;
	ev.rotation_id = w->rec.id[0] ? w->rec.id : NULL;
	ev.step = step;
	ev.outcome = outcome;
	ev.old_key_id = w->rec.old_key;
	ev.new_key_id = w->rec.new_key;
	ev.detail = detail;
	ev.time = clock_now(w->run);
	o->on_event(&ev, o->payload);
}

static int worker_vault(cspf_vault **out, struct worker *w, const char *name)
{
	const cspf_rotate_options *o = w->run->opts;
	cspf_vault_options vo = CSPF_VAULT_OPTIONS_INIT;
	struct vault_slot *grown;
	cspf_vault *v;
	size_t i;
	int error;

	for (i = 0; i < w->nvaults; i++)
		if (strcmp(w->vaults[i].name, name) == 0) {
			*out = w->vaults[i].vault;
			return 0;
		}
	vo.base_dir = o->registry_dir;
	vo.ca_file = o->ca_file;
	vo.max_attempts = o->max_attempts;
	error = cspf_vault_open(&v, name,
		cJSON_GetObjectItemCaseSensitive(w->run->vaults, name), &vo);
	if (error < 0)
		return error;
	if (!(grown = realloc(w->vaults, (w->nvaults + 1) * sizeof(*grown))) ||
	    !(grown[w->nvaults].name = strdup(name))) {
		if (grown)
			w->vaults = grown;
		cspf_vault_free(v);
		return cspf_error_set_oom();
	}
	w->vaults = grown;
	grown[w->nvaults++].vault = v;
	*out = v;
	return 0;
}

/* Vault calls of the state machine, each a kill point for the tests. */
static int v_get(cspf_secret **value, cspf_vault_version *info,
	struct worker *w, cspf_vault_label label)
{
	int error = cspf_vault_get(value, info, w->vault, w->item->path,
		label);

	kill_point("vault", NULL);
	return error;
}

static int v_stage(struct worker *w, const cspf_secret *value,
	const char *key_id)
{
	int error = cspf_vault_stage(w->vault, w->item->path, w->rec.id,
		value, key_id);

	kill_point("vault", NULL);
	return error;
}

static int v_promote(struct worker *w)
{
	int error = cspf_vault_promote(w->vault, w->item->path, w->rec.id);

	kill_point("vault", NULL);
	return error;
}

static int v_discard(struct worker *w, const char *rotation_id)
{
	int error = cspf_vault_discard(w->vault, w->item->path, rotation_id);

	kill_point("vault", NULL);
	return error;
}

/*
 * Write the record (compare-and-swap on w->tag).  A conflict may be our
 * own write: one the vault made but whose answer was lost (a 5xx after
 * the commit, a dropped connection), which the HTTP layer then retried
 * against the old tag.  The record holds this run's owner and a fresh
 * "until", so a stored text equal to ours is ours: take its tag.
 */
static int rec_save(struct worker *w)
{
	char *text, *tag = NULL, *stored = NULL;
	int error;

	w->rec.until = clock_now(w->run) + w->run->ttl;
	if (!(text = rec_format(&w->rec)))
		return cspf_error_set_oom();
	error = cspf_vault_record_put(w->vault, w->item->path, text, w->tag,
		&tag);
	if (error == CSPF_ECONFLICT &&
	    cspf_vault_record_get(&stored, &tag, w->vault,
	    w->item->path) == 0 && strcmp(stored, text) == 0)
		error = 0;
	else if (error == CSPF_ECONFLICT)
		cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: the rotation record of %s changed under "
			"this run: another run took it over, or something "
			"else wrote it", w->item->vault, w->item->path);
	free(stored);
	free(text);
	kill_point("vault", NULL);
	if (error < 0) {
		free(tag);
		return error;
	}
	free(w->tag);
	w->tag = tag;
	return 0;
}

/*
 * "host:pid:start" of process `pid` of this host into out, where start is
 * its start time in clock ticks since boot (/proc/PID/stat, field 22):
 * a pid the system reuses gets another start.  Returns the start, 0 when
 * it cannot be read.
 */
static unsigned long long process_id(char out[160], long pid)
{
	char host[128] = "localhost", path[64], buf[1024];
	unsigned long long start = 0;
	FILE *f;
	char *p;
	int field;

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r"))) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[n] = '\0';
		/* After the command name, which may hold spaces and ")". */
		if ((p = strrchr(buf, ')'))) {
			for (field = 2; field < 22 && p; field++)
				p = strchr(p + 1, ' ');
			if (p)
				start = strtoull(p + 1, NULL, 10);
		}
	}
	snprintf(out, 160, "%s:%ld:%llu", host, pid, start);
	return start;
}

/* Is this claim held by a live run? */
static bool claim_live(const struct run *run, const struct rec *r,
	int64_t now)
{
	char host[128], other[160];
	const char *colon;
	long pid;

	if (r->until <= now)
		return false;
	if (strcmp(r->owner, run->owner) == 0)
		return false;
	/* A process of this host that no longer runs holds nothing. */
	if (gethostname(host, sizeof(host)) == 0 &&
	    (colon = strchr(r->owner, ':')) &&
	    (size_t)(colon - r->owner) == strlen(host) &&
	    strncmp(r->owner, host, strlen(host)) == 0) {
		pid = strtol(colon + 1, NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			return false;
		/* The same pid, but another process (pid reused). */
		if (pid > 0 && process_id(other, pid) &&
		    strcmp(other, r->owner) != 0)
			return false;
	}
	return true;
}

static int grace_of(int64_t *out, const cspf_rotate_item *item, int64_t from)
{
	const cJSON *rot = cJSON_GetObjectItemCaseSensitive(item->entity->json,
		"rotation");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(rot, "grace");

	return cspf_duration_add(out, from,
		cJSON_IsString(g) ? g->valuestring : DEFAULT_GRACE);
}

static int expires_of(int64_t *out, const cspf_rotate_item *item,
	int64_t from)
{
	const cJSON *rot = cJSON_GetObjectItemCaseSensitive(item->entity->json,
		"rotation");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(rot, "max_age");

	if (cJSON_IsString(m))
		return cspf_duration_add(out, from, m->valuestring);
	/* No max age: keep the period the registry had. */
	*out = item->expires > item->generated ?
		from + (item->expires - item->generated) : from;
	return 0;
}

static void random_id(char out[40])
{
	unsigned char b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40,
		"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void fill_item(cspf_rotate_item *item, const struct rec *r)
{
	free(item->rotation_id);
	item->rotation_id = r->id[0] ? strdup(r->id) : NULL;
	free(item->old_key_id);
	item->old_key_id = r->old_key ? strdup(r->old_key) : NULL;
	free(item->new_key_id);
	item->new_key_id = r->new_key ? strdup(r->new_key) : NULL;
	item->finished = r->finished;
	item->new_expires = r->expires;
}

/*
 * set or test failed: make current work again, remove the new secret.
 */
static int undo(struct worker *w, const cspf_rotator *rot,
	const cspf_rotator_ctx *ctx, const cspf_secret *current,
	const cspf_secret *pending, const char *failed_step,
	const char *why)
{
	char msg[1024];
	int error;

	snprintf(msg, sizeof(msg), "%s failed: %s", failed_step, why);
	emit(w, failed_step, "failed", msg);
	if ((error = rot->undo(ctx, current, pending, w->rec.new_key)) < 0) {
		set_message(w->item, "%s; undoing it failed too: %s "
			"(the rotation stays at %s; the next run tries again)",
			msg, last_error(), w->rec.step);
		set_state(w->item, w->rec.step);
		return -1;
	}
	if ((error = v_discard(w, w->rec.id)) < 0) {
		set_message(w->item, "%s; the pending secret could not be "
			"removed from vault %s: %s", msg, w->item->vault,
			last_error());
		set_state(w->item, w->rec.step);
		return -1;
	}
	strcpy(w->rec.step, "failed");
	free(w->rec.error);
	w->rec.error = strdup(msg);
	emit(w, "undo", "ok", msg);
	if (rec_save(w) < 0) {
		set_message(w->item, "%s; undone, but the rotation record "
			"could not be written: %s", msg, last_error());
		set_state(w->item, "undone");
		return -1;
	}
	set_message(w->item, "%s; undone: the current secret is unchanged",
		msg);
	set_state(w->item, "undone");
	return -1;
}

/* The audit log's step is one word: what failed goes into the detail. */
#define STEP_FAIL(what) do { \
	set_message(item, "%s: %s", what, last_error()); \
	set_state(item, w->rec.step); \
	emit(w, "fail", "failed", item->message); \
	goto done; \
} while (0)

/* Run the steps from w->rec.step to "retired". */
static int advance(struct worker *w, const cspf_rotator *rot)
{
	struct run *run = w->run;
	cspf_rotate_item *item = w->item;
	cspf_rotator_ctx ctx;
	cspf_secret *current = NULL, *pending = NULL, *previous = NULL;
	cspf_vault_version cur = { 0 }, pend = { 0 }, prev = { 0 };
	char *key_id = NULL;
	int error, r = -1;

	memset(&ctx, 0, sizeof(ctx));
	ctx.credential_id = item->entity->id;
	ctx.credential = item->entity->json;
	ctx.config = run->config;
	ctx.registry_dir = run->opts->registry_dir;
	ctx.rotation_id = w->rec.id;
	ctx.now = clock_now(run);
	ctx.compromised = w->rec.compromised;
	ctx.http = w->http;
	ctx.ca_file = run->opts->ca_file;
	{
		const cJSON *acct = cJSON_GetObjectItemCaseSensitive(
			item->entity->json, "account");
		const cspf_entity *a = cJSON_IsString(acct) ?
			cspf_registry_find(run->reg, acct->valuestring) : NULL;

		ctx.account = a ? a->json : NULL;
	}

	error = v_get(&current, &cur, w, CSPF_VAULT_CURRENT);
	if (error < 0 && error != CSPF_ENOTFOUND)
		STEP_FAIL("reading the current secret");

	if (strcmp(w->rec.step, "claimed") == 0) {
		error = v_get(NULL, &pend, w, CSPF_VAULT_PENDING);
		if (error < 0 && error != CSPF_ENOTFOUND)
			STEP_FAIL("reading the pending secret");
		if (error == 0 && pend.rotation_id &&
		    strcmp(pend.rotation_id, w->rec.id) == 0) {
			/* Staged before the run died: carry on from there. */
			free(w->rec.new_key);
			w->rec.new_key = pend.key_id ? strdup(pend.key_id) : NULL;
			strcpy(w->rec.step, "staged");
		} else {
			if (error == 0) {
				/* Another rotation's leftover: drop it. */
				if (v_discard(w, pend.rotation_id ?
						pend.rotation_id : "unknown0") < 0)
					STEP_FAIL("removing a stale pending secret");
				free(pend.key_id);
				pend.key_id = NULL;
			}
			if (rot->provider_creates) {
				/*
				 * The key before current is long past its grace
				 * period by now (a grace is days, a rotation
				 * months): delete it, to make room (IAM allows two
				 * keys), then every key no version holds.
				 */
				error = v_get(&previous, &prev, w,
					CSPF_VAULT_PREVIOUS);
				if (error < 0 && error != CSPF_ENOTFOUND)
					STEP_FAIL("reading the previous secret");
				if (error == 0 && prev.key_id &&
				    (!cur.key_id || strcmp(prev.key_id, cur.key_id)) &&
				    rot->retire(&ctx, previous, prev.key_id, true) < 0)
					STEP_FAIL("deleting the key before the current one");
				if (rot->cleanup(&ctx, cur.key_id, NULL, NULL) < 0)
					STEP_FAIL("removing keys no vault version holds");
				kill_point("step", "cleanup");
				cspf_secret_free(previous);
				previous = NULL;
				cspf_vault_version_dispose(&prev);
			}
			if (rot->create(&ctx, current, &pending, &key_id) < 0)
				STEP_FAIL("create");
			kill_point("step", "create");
			free(w->rec.new_key);
			w->rec.new_key = key_id;
			key_id = NULL;
			emit(w, "create", "ok", NULL);
			if (v_stage(w, pending, w->rec.new_key) < 0)
				STEP_FAIL("stage");
			strcpy(w->rec.step, "staged");
			emit(w, "stage", "ok", NULL);
			if (rec_save(w) < 0)
				STEP_FAIL("saving the rotation record");
		}
	}

	if (strcmp(w->rec.step, "staged") == 0 ||
	    strcmp(w->rec.step, "set") == 0 ||
	    strcmp(w->rec.step, "tested") == 0) {
		if (!pending) {
			cspf_vault_version_dispose(&pend);
			error = v_get(&pending, &pend, w, CSPF_VAULT_PENDING);
			if (error == CSPF_ENOTFOUND || (error == 0 &&
			    (!pend.rotation_id ||
			     strcmp(pend.rotation_id, w->rec.id) != 0))) {
				/*
				 * Promoted already (a run died between the
				 * promotion and its record)?
				 */
				if (cur.rotation_id &&
				    strcmp(cur.rotation_id, w->rec.id) == 0) {
					strcpy(w->rec.step, "promoted");
					emit(w, "promote", "ok", "the run that "
						"died had promoted it");
					goto promoted;
				}
				set_message(item, "the vault lost the pending "
					"secret of rotation %s; starting over",
					w->rec.id);
				strcpy(w->rec.step, "failed");
				free(w->rec.error);
				w->rec.error = strdup("pending secret missing");
				rec_save(w);
				set_state(item, "failed");
				goto done;
			}
			if (error < 0)
				STEP_FAIL("reading the pending secret");
		}
	}

	if (strcmp(w->rec.step, "staged") == 0) {
		if (rot->set(&ctx, pending, current) < 0) {
			undo(w, rot, &ctx, current, pending, "set",
				last_error());
			goto done;
		}
		kill_point("step", "set");
		strcpy(w->rec.step, "set");
		emit(w, "set", "ok", NULL);
		if (rec_save(w) < 0)
			STEP_FAIL("saving the rotation record");
	}

	if (strcmp(w->rec.step, "set") == 0) {
		if (rot->test(&ctx, pending) < 0) {
			undo(w, rot, &ctx, current, pending, "test",
				last_error());
			goto done;
		}
		kill_point("step", "test");
		strcpy(w->rec.step, "tested");
		emit(w, "test", "ok", NULL);
		if (rec_save(w) < 0)
			STEP_FAIL("saving the rotation record");
	}

	if (strcmp(w->rec.step, "tested") == 0) {
		if (v_promote(w) < 0)
			STEP_FAIL("promote");
		kill_point("step", "promote");
		strcpy(w->rec.step, "promoted");
		w->rec.finished = clock_now(run);
		if (expires_of(&w->rec.expires, item, w->rec.finished) < 0)
			STEP_FAIL("computing the new expiry");
		emit(w, "promote", "ok", NULL);
		if (rec_save(w) < 0)
			STEP_FAIL("saving the rotation record");
	}

promoted:
	if (strcmp(w->rec.step, "promoted") == 0) {
		if (!w->rec.finished) {
			w->rec.finished = clock_now(run);
			if (expires_of(&w->rec.expires, item,
					w->rec.finished) < 0)
				STEP_FAIL("computing the new expiry");
		}
		cspf_vault_version_dispose(&prev);
		error = v_get(&previous, &prev, w, CSPF_VAULT_PREVIOUS);
		if (error < 0 && error != CSPF_ENOTFOUND)
			STEP_FAIL("reading the previous secret");
		if (error == 0 && rot->retire(&ctx, previous,
				w->rec.old_key, false) < 0)
			STEP_FAIL("retire");
		if (error == 0 && w->rec.compromised &&
		    rot->retire(&ctx, previous, w->rec.old_key, true) < 0)
			STEP_FAIL("retire");
		kill_point("step", "retire");
		if (grace_of(&w->rec.retire_at, item, w->rec.finished) < 0)
			STEP_FAIL("computing the grace period");
		w->rec.retired = w->rec.compromised || error != 0;
		strcpy(w->rec.step, "retired");
		emit(w, "retire", "ok", w->rec.compromised ?
			"compromised: the old secret is deleted at once" : NULL);
		if (rec_save(w) < 0)
			STEP_FAIL("saving the rotation record");
	}
	r = 0;
	set_state(item, w->rec.step);
done:
	cspf_secret_free(current);
	cspf_secret_free(pending);
	cspf_secret_free(previous);
	cspf_vault_version_dispose(&cur);
	cspf_vault_version_dispose(&pend);
	cspf_vault_version_dispose(&prev);
	free(key_id);
	return r;
}

/* The old key's grace period is over: delete it. */
static void finish_retirement(struct worker *w, const cspf_rotator *rot)
{
	struct run *run = w->run;
	cspf_rotator_ctx ctx;
	cspf_secret *previous = NULL;
	cspf_vault_version prev = { 0 };
	int error;

	if (w->rec.retired || !w->rec.old_key || !w->rec.retire_at ||
	    w->rec.retire_at > clock_now(run))
		return;
	memset(&ctx, 0, sizeof(ctx));
	ctx.credential_id = w->item->entity->id;
	ctx.credential = w->item->entity->json;
	ctx.config = run->config;
	ctx.registry_dir = run->opts->registry_dir;
	ctx.rotation_id = w->rec.id;
	ctx.now = clock_now(run);
	ctx.http = w->http;
	ctx.ca_file = run->opts->ca_file;
	error = v_get(&previous, &prev, w, CSPF_VAULT_PREVIOUS);
	if (error == 0 || error == CSPF_ENOTFOUND) {
		if (rot->retire(&ctx, previous, w->rec.old_key, true) == 0) {
			w->rec.retired = true;
			if (rec_save(w) == 0)
				emit(w, "retire", "ok",
					"grace period over: the old key is deleted");
		}
	}
	cspf_secret_free(previous);
	cspf_vault_version_dispose(&prev);
}

static void rotate_item(struct worker *w)
{
	struct run *run = w->run;
	cspf_rotate_item *item = w->item;
	const cspf_rotator *rot = cspf_rotator_find(item->rotator);
	bool resumed = false;
	char *text = NULL;
	int attempt, error;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!rot && item->reason == CSPF_ROTATE_NOT_DUE) {
		item->status = CSPF_ROTATE_SKIPPED;
		set_state(item, "not due");
		return;
	}
	if (!rot) {
		item->status = CSPF_ROTATE_FAILED;
		set_state(item, "not started");
		set_message(item, "rotator \"%s\" is not part of this build of cspf",
			item->rotator);
		return;
	}
	if (worker_vault(&w->vault, w, item->vault) < 0) {
		set_state(item, "not started");
		set_message(item, "%s", last_error());
		if (item->reason == CSPF_ROTATE_NOT_DUE) {
			item->status = CSPF_ROTATE_SKIPPED;
			item->unchecked = true;
		} else {
			item->status = CSPF_ROTATE_FAILED;
		}
		return;
	}

	for (attempt = 0; attempt < 4; attempt++) {
		int64_t now = clock_now(run);

		rec_dispose(&w->rec);
		free(w->tag);
		w->tag = NULL;
		free(text);
		text = NULL;
		error = cspf_vault_record_get(&text, &w->tag, w->vault,
			item->path);
		kill_point("vault", NULL);
		if (error < 0 && error != CSPF_ENOTFOUND) {
			set_state(item, "not started");
			set_message(item, "reading the rotation record: %s",
				last_error());
			if (item->reason == CSPF_ROTATE_NOT_DUE) {
				item->status = CSPF_ROTATE_SKIPPED;
				item->unchecked = true;
			} else {
				item->status = CSPF_ROTATE_FAILED;
			}
			goto out;
		}
		if (error == 0 && rec_parse(&w->rec, text) < 0) {
			/* Not ours to interpret: never overwrite blindly. */
			item->status = CSPF_ROTATE_FAILED;
			set_state(item, "not started");
			set_message(item, "the rotation record in vault %s at %s "
				"is not one cspf wrote; remove it if nothing "
				"else uses it", item->vault, item->path);
			goto out;
		}

		if (error == 0 && step_in_progress(w->rec.step)) {
			if (run->record_pass)
				goto out;
			if (claim_live(run, &w->rec, now)) {
				char until[CSPF_TIME_BUFSIZE];

				cspf_time_format(until, w->rec.until);
				item->status = CSPF_ROTATE_SKIPPED;
				set_state(item, w->rec.step);
				set_message(item, "another run (%s) is rotating it; "
					"its claim lasts until %s", w->rec.owner,
					until);
				goto out;
			}
			snprintf(w->rec.owner, sizeof(w->rec.owner), "%s",
				run->owner);
			if ((error = rec_save(w)) == CSPF_ECONFLICT)
				continue;
			if (error < 0)
				goto save_failed;
			resumed = true;
			emit(w, "claim", "ok", "resuming a rotation a run left");
			break;
		}
		if (error == 0 && strcmp(w->rec.step, "retired") == 0) {
			/* Rotated; the registry has yet to record it. */
			fill_item(item, &w->rec);
			if (run->record_pass) {
				strcpy(w->rec.step, "recorded");
				if (rec_save(w) == CSPF_ECONFLICT)
					continue;
				goto out;
			}
			if (claim_live(run, &w->rec, now)) {
				/* The run that rotated it records it. */
				item->status = CSPF_ROTATE_SKIPPED;
				set_state(item, "retired");
				set_message(item, "rotated by another run (%s), "
					"which records it", w->rec.owner);
				goto out;
			}
			item->status = CSPF_ROTATE_RESUMED;
			set_state(item, "retired");
			set_message(item, "rotated at an earlier run; recording it");
			goto out;
		}
		if (run->record_pass)
			goto out;
		if (error == 0 && strcmp(w->rec.step, "recorded") == 0)
			finish_retirement(w, rot);

		if (item->reason == CSPF_ROTATE_NOT_DUE) {
			item->status = CSPF_ROTATE_SKIPPED;
			set_state(item, "not due");
			goto out;
		}
		if (error == 0 && !strcmp(w->rec.step, "recorded") &&
		    w->rec.started_ms >= run->wall_start_ms) {
			/* Two runs at once: the other one did it. */
			char at[CSPF_TIME_BUFSIZE];

			cspf_time_format(at, w->rec.finished);
			item->status = CSPF_ROTATE_SKIPPED;
			set_state(item, "recorded");
			set_message(item, "rotated by another run at %s", at);
			goto out;
		}
		if (error == 0 && !strcmp(w->rec.step, "recorded") &&
		    item->reason != CSPF_ROTATE_COMPROMISED &&
		    item->reason != CSPF_ROTATE_REQUESTED &&
		    w->rec.finished > item->generated) {
			char at[CSPF_TIME_BUFSIZE];

			cspf_time_format(at, w->rec.finished);
			item->status = CSPF_ROTATE_SKIPPED;
			set_state(item, "recorded");
			set_message(item, "rotated at %s, newer than the "
				"registry's credential_generated: update the "
				"registry (git pull)", at);
			goto out;
		}

		/* Claim a new rotation (w->tag: the record replaced, or NULL). */
		{
			cspf_vault_version cur = { 0 };
			struct rec fresh;

			memset(&fresh, 0, sizeof(fresh));
			random_id(fresh.id);
			snprintf(fresh.owner, sizeof(fresh.owner), "%s",
				run->owner);
			strcpy(fresh.step, "claimed");
			snprintf(fresh.reason, sizeof(fresh.reason), "%s",
				cspf_rotate_reason_name(item->reason));
			fresh.started_ms = wall_ms();
			fresh.compromised =
				item->reason == CSPF_ROTATE_COMPROMISED;
			error = v_get(NULL, &cur, w, CSPF_VAULT_CURRENT);
			if (error < 0 && error != CSPF_ENOTFOUND) {
				item->status = CSPF_ROTATE_FAILED;
				set_state(item, "not started");
				set_message(item, "reading the current secret: %s",
					last_error());
				goto out;
			}
			fresh.old_key = cur.key_id ? strdup(cur.key_id) : NULL;
			cspf_vault_version_dispose(&cur);
			rec_dispose(&w->rec);
			w->rec = fresh;
			if ((error = rec_save(w)) == CSPF_ECONFLICT)
				continue;
			if (error < 0)
				goto save_failed;
			emit(w, "claim", "ok", cspf_rotate_reason_name(
				item->reason));
			break;
		}
	}
	if (attempt == 4) {
		item->status = CSPF_ROTATE_SKIPPED;
		set_state(item, "not started");
		set_message(item, "other runs kept changing its rotation record");
		goto out;
	}

	if (advance(w, rot) < 0) {
		item->status = CSPF_ROTATE_FAILED;
		fill_item(item, &w->rec);
		goto out;
	}
	fill_item(item, &w->rec);
	item->status = resumed ? CSPF_ROTATE_RESUMED : CSPF_ROTATE_ROTATED;
	goto out;

save_failed:
	item->status = CSPF_ROTATE_FAILED;
	set_state(item, "not started");
	set_message(item, "writing the rotation record: %s", last_error());
out:
	free(text);
	free(w->tag);
	w->tag = NULL;
	rec_dispose(&w->rec);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	item->seconds += (double)(t1.tv_sec - t0.tv_sec) +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	size_t i;

	while ((i = atomic_fetch_add(&run->next, 1)) < run->plan->count) {
		w->item = &run->plan->items[i];
		if (run->record_pass &&
		    w->item->status != CSPF_ROTATE_ROTATED &&
		    w->item->status != CSPF_ROTATE_RESUMED)
			continue;
		rotate_item(w);
	}
	return NULL;
}

static void worker_dispose(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->nvaults; i++) {
		cspf_vault_free(w->vaults[i].vault);
		free(w->vaults[i].name);
	}
	free(w->vaults);
	cspf_http_free(w->http);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_workers(cspf_rotate_plan *plan, const cspf_registry *reg,
	const cspf_rotate_options *opts, bool record_pass)
{
	struct run run;
	struct worker *workers;
	pthread_t *threads;
	unsigned int n, i, started = 0;
	size_t k;
	int r = 0;

	memset(&run, 0, sizeof(run));
	run.plan = plan;
	run.reg = reg;
	run.opts = opts;
	run.config = cspf_registry_config(reg);
	run.vaults = cJSON_GetObjectItemCaseSensitive(run.config, "vaults");
	run.now = opts->now ? opts->now : (int64_t)time(NULL);
	run.wall_start_ms = wall_ms();
	run.ttl = opts->claim_ttl ? opts->claim_ttl : DEFAULT_CLAIM_TTL;
	run.record_pass = record_pass;
	atomic_init(&run.next, 0);
	process_id(run.owner, (long)getpid());

	n = opts->concurrency ? opts->concurrency : DEFAULT_CONCURRENCY;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	if (n > plan->count)
		n = plan->count ? (unsigned int)plan->count : 1;
	workers = calloc(n, sizeof(*workers));
	threads = calloc(n, sizeof(*threads));
	if (!workers || !threads) {
		free(workers);
		free(threads);
		return cspf_error_set_oom();
	}
	for (i = 0; i < n; i++) {
		cspf_http_options ho = CSPF_HTTP_OPTIONS_INIT;

		workers[i].run = &run;
		ho.concurrency = 4;
		ho.ca_file = opts->ca_file;
		ho.max_attempts = opts->max_attempts;
		if ((r = cspf_http_new(&workers[i].http, &ho)) < 0)
			break;
	}
	for (i = 0; r == 0 && i < n; i++) {
		if (pthread_create(&threads[i], NULL, worker_main,
				&workers[i]) != 0) {
			r = cspf_error_set_os("cannot start a rotation worker");
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < n; i++)
		worker_dispose(&workers[i]);
	free(workers);
	free(threads);
	if (r < 0)
		return r;
	for (k = 0; k < plan->count; k++)
		if (plan->items[k].status == CSPF_ROTATE_FAILED)
			return 1;
	return 0;
}

int cspf_rotate_run(cspf_rotate_plan *plan, const cspf_registry *reg,
	const cspf_rotate_options *opts)
{
	static const cspf_rotate_options defaults = CSPF_ROTATE_OPTIONS_INIT;

	if (!opts)
		opts = &defaults;
	if (opts->version != CSPF_ROTATE_OPTIONS_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"rotate options version %u, expected %u",
			opts->version, CSPF_ROTATE_OPTIONS_VERSION);
	return run_workers(plan, reg, opts, false);
}

int cspf_rotate_mark_recorded(cspf_rotate_plan *plan,
	const cspf_registry *reg, const cspf_rotate_options *opts)
{
	static const cspf_rotate_options defaults = CSPF_ROTATE_OPTIONS_INIT;
	int r;

	if (!opts)
		opts = &defaults;
	r = run_workers(plan, reg, opts, true);
	return r < 0 ? r : 0;
}

/*
 * The plan.
 */
const char *cspf_rotate_reason_name(cspf_rotate_reason r)
{
	switch (r) {
	case CSPF_ROTATE_NOT_DUE: return "not-due";
	case CSPF_ROTATE_EXPIRING: return "expiring";
	case CSPF_ROTATE_MAX_AGE: return "max-age";
	case CSPF_ROTATE_COMPROMISED: return "compromised";
	case CSPF_ROTATE_REQUESTED: return "requested";
	}
	return "?";
}

const char *cspf_rotate_status_name(cspf_rotate_status s)
{
	switch (s) {
	case CSPF_ROTATE_PLANNED: return "planned";
	case CSPF_ROTATE_ROTATED: return "rotated";
	case CSPF_ROTATE_RESUMED: return "resumed";
	case CSPF_ROTATE_SKIPPED: return "skipped";
	case CSPF_ROTATE_FAILED: return "failed";
	}
	return "?";
}

static bool listed(const char *const *ids, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

static const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int plan_item(cspf_rotate_item *item, const cspf_entity *e,
	const cJSON *policy, const cspf_rotate_options *opts, int64_t now)
{
	const cJSON *rot = cJSON_GetObjectItemCaseSensitive(e->json,
		"rotation");
	const cJSON *vref = cJSON_GetObjectItemCaseSensitive(e->json, "vault");
	const char *notice, *max_age, *s;
	int64_t window, aged;

	memset(item, 0, sizeof(*item));
	item->entity = e;
	item->rotator = jstr(rot, "rotator");
	item->vault = jstr(vref, "vault");
	item->path = jstr(vref, "path");
	if ((s = jstr(e->json, "credential_generated")))
		cspf_time_parse(&item->generated, s);
	if ((s = jstr(e->json, "credential_expires")))
		cspf_time_parse(&item->expires, s);

	notice = opts->due_within ? opts->due_within : jstr(rot, "notice");
	if (!notice)
		notice = jstr(policy, "credential_notice");
	if (!notice)
		notice = DEFAULT_NOTICE;
	if (cspf_duration_add(&window, now, notice) < 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: notice \"%s\" is not an ISO 8601 duration", e->id,
			notice);

	/* Due at expiry minus notice, or at max age minus notice. */
	item->due = item->expires ? item->expires - (window - now) : 0;
	if (item->expires && window >= item->expires)
		item->reason = CSPF_ROTATE_EXPIRING;
	max_age = jstr(rot, "max_age");
	if (max_age && item->generated &&
	    cspf_duration_add(&aged, item->generated, max_age) == 0) {
		if (!item->due || aged - (window - now) < item->due)
			item->due = aged - (window - now);
		if (item->reason == CSPF_ROTATE_NOT_DUE && aged <= window)
			item->reason = CSPF_ROTATE_MAX_AGE;
	}
	if (listed(opts->credentials, opts->credentials_count, e->id))
		item->reason = CSPF_ROTATE_REQUESTED;
	if (listed(opts->compromised, opts->compromised_count, e->id))
		item->reason = CSPF_ROTATE_COMPROMISED;
	return 0;
}

static int check_listed(const cspf_rotate_plan *plan,
	const char *const *ids, size_t n, const char *what)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < plan->count; k++)
			if (strcmp(plan->items[k].entity->id, ids[i]) == 0)
				break;
		if (k == plan->count)
			return cspf_error_set(CSPF_ENOTFOUND,
				CSPF_ERRCLASS_INVALID,
				"%s %s: no such credential with a rotator (ids look like credentials/aws/ops#svc-deploy; `cspf rotate --plan --all` lists them)",
				what, ids[i]);
	}
	return 0;
}

int cspf_rotate_plan_new(cspf_rotate_plan **out, const cspf_registry *reg,
	const cspf_rotate_options *opts)
{
	static const cspf_rotate_options defaults = CSPF_ROTATE_OPTIONS_INIT;
	const cJSON *policy;
	cspf_rotate_plan *plan;
	size_t i, n = cspf_registry_count(reg);
	int64_t now;
	int error = 0;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	now = opts->now ? opts->now : (int64_t)time(NULL);
	policy = cJSON_GetObjectItemCaseSensitive(cspf_registry_config(reg),
		"policy");
	if (!(plan = calloc(1, sizeof(*plan))) ||
	    !(plan->items = calloc(n ? n : 1, sizeof(*plan->items)))) {
		free(plan);
		return cspf_error_set_oom();
	}
	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(reg, i);
		const cJSON *rot;
		const char *rotator;
		cspf_rotate_item *item;

		if (e->kind != CSPF_KIND_CREDENTIALS)
			continue;
		rot = cJSON_GetObjectItemCaseSensitive(e->json, "rotation");
		rotator = jstr(rot, "rotator");
		if (!rotator)
			continue;
		item = &plan->items[plan->count];
		if ((error = plan_item(item, e, policy, opts, now)) < 0)
			break;
		if (strcmp(rotator, "manual") == 0) {
			if (item->reason == CSPF_ROTATE_EXPIRING ||
			    item->reason == CSPF_ROTATE_MAX_AGE)
				plan->manual_due++;
			memset(item, 0, sizeof(*item));
			continue;
		}
		if (!item->vault || !item->path) {
			error = cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"%s: rotator %s needs a vault reference (\"vault\": {\"vault\": ..., \"path\": ...})",
				e->id, rotator);
			break;
		}
		if (item->reason != CSPF_ROTATE_NOT_DUE)
			plan->due++;
		plan->count++;
	}
	if (error == 0)
		error = check_listed(plan, opts->credentials,
			opts->credentials_count, "--credential");
	if (error == 0)
		error = check_listed(plan, opts->compromised,
			opts->compromised_count, "--compromised");
	if (error < 0) {
		cspf_rotate_plan_free(plan);
		return error;
	}
	*out = plan;
	return 0;
}

void cspf_rotate_plan_free(cspf_rotate_plan *plan)
{
	size_t i;

	if (!plan)
		return;
	for (i = 0; i < plan->count; i++) {
		cspf_rotate_item *it = &plan->items[i];

		free(it->state);
		free(it->message);
		free(it->rotation_id);
		free(it->old_key_id);
		free(it->new_key_id);
	}
	free(plan->items);
	free(plan);
}
