/*
 * The "audit" source: cspf's own rotation audit log (audit/YYYY-MM.jsonl,
 * include/cspf/audit.h).  Each rotation that finished — the step
 * "promote" with outcome "ok": from then on the new secret is the current
 * one — is a cspf:rotate event, once per rotation id (a run that resumes
 * a rotation another run promoted records the promotion again); each step
 * that failed is a cspf:rotate-failed event.  The other steps are left
 * out: they are the parts of those two.
 *
 * Signatures and the hash chain are not checked here: `cspf audit verify`
 * does that.  Only the month files that overlap the period are read.
 *
 * Optional argument: the audit directory (default <registry>/audit).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cspf/time.h"
#include "digest_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/map.h"
#include "util/banned.h"

/* A record is at most this long (audit.c writes far less). */
#define LINE_MAX_BYTES (64 * 1024)
#define MONTH_NAME_LEN 13 /* "2026-11.jsonl" */

struct audit_src {
	const cspf_source_query *q;
	cspf_source_stats *stats;
	cspf_diags *diags;
	cspf_event_cb cb;
	void *payload;
	cspf_map promoted; /* rotation ids already delivered */
};

static void diag(struct audit_src *s, const char *file, unsigned int line,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void diag(struct audit_src *s, const char *file, unsigned int line,
	const char *fmt, ...)
{
	cspf_buf m = CSPF_BUF_INIT;
	cspf_diag *d;
	va_list ap;

	va_start(ap, fmt);
	cspf_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	d = cspf_diags_add(s->diags, CSPF_SEVERITY_WARNING, "digest-source",
		file, NULL, NULL, NULL,
		cspf_buf_oom(&m) ? "malformed audit record" : m.ptr);
	if (d)
		d->line = line;
	cspf_buf_dispose(&m);
	s->stats->bad++;
}

static const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* The cloud id of the account of credential `id`, or NULL. */
static const char *account_of(const cspf_registry *reg, const char *id)
{
	const cspf_entity *e = reg ? cspf_registry_find(reg, id) : NULL;
	const char *ref;
	cspf_buf aid = CSPF_BUF_INIT;

	if (!e || !(ref = jstr(e->json, "account")))
		return NULL;
	if (strncmp(ref, "accounts/", 9) != 0)
		cspf_buf_puts(&aid, "accounts/");
	cspf_buf_puts(&aid, ref);
	e = cspf_buf_oom(&aid) ? NULL : cspf_registry_find(reg, aid.ptr);
	cspf_buf_dispose(&aid);
	return e && e->kind == CSPF_KIND_ACCOUNT ? jstr(e->json, "accountid") :
		NULL;
}

/*
 * The month of a file name "YYYY-MM.jsonl" as [*from, *to), or -1 when
 * the name is not one.
 */
static int month_of(int64_t *from, int64_t *to, const char *name)
{
	static const char pat[] = "dddd-dd.jsonl";
	struct tm tm;
	int y, m;
	size_t i;

	if (strlen(name) != MONTH_NAME_LEN)
		return -1;
	for (i = 0; i < MONTH_NAME_LEN; i++)
		if (pat[i] == 'd' ? (name[i] < '0' || name[i] > '9') :
				    name[i] != pat[i])
			return -1;
	y = (name[0] - '0') * 1000 + (name[1] - '0') * 100 +
		(name[2] - '0') * 10 + (name[3] - '0');
	m = (name[5] - '0') * 10 + (name[6] - '0');
	if (m < 1 || m > 12)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = 1;
	*from = (int64_t)timegm(&tm);
	tm.tm_mon = m == 12 ? 0 : m;
	tm.tm_year = m == 12 ? y + 1 - 1900 : y - 1900;
	*to = (int64_t)timegm(&tm);
	return 0;
}

/*
 * One line of a log file.  Returns what the callback returned when it
 * stops the source, else 0 (a malformed record is a diag).
 */
static int record(struct audit_src *s, const char *file, unsigned int lineno,
	const char *line, size_t len)
{
	cJSON *rec = cJSON_ParseWithLength(line, len);
	const char *time_s, *cred, *step, *outcome, *rot;
	const cJSON *seq;
	char id[32];
	cspf_event ev;
	int64_t t;
	int r = 0;

	s->stats->records++;
	if (!cJSON_IsObject(rec)) {
		diag(s, file, lineno, "line %u is not a JSON object: an audit "
			"record was cut or edited (run `cspf audit verify`); "
			"it is left out, the rest is read", lineno);
		goto done;
	}
	time_s = jstr(rec, "time");
	cred = jstr(rec, "credential");
	step = jstr(rec, "step");
	outcome = jstr(rec, "outcome");
	rot = jstr(rec, "rotation");
	seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
	if (!time_s || cspf_time_parse(&t, time_s) < 0 || !cred || !step ||
	    !outcome) {
		diag(s, file, lineno, "line %u is not an audit record (it "
			"needs a \"time\" in RFC 3339, a \"credential\", a "
			"\"step\" and an \"outcome\"): run `cspf audit "
			"verify`; it is left out, the rest is read", lineno);
		goto done;
	}
	if (t < s->q->start || t >= s->q->end) {
		s->stats->skipped++;
		goto done;
	}
	memset(&ev, 0, sizeof(ev));
	if (strcmp(outcome, "failed") == 0) {
		ev.action = "cspf:rotate-failed";
	} else if (strcmp(step, "promote") == 0 &&
		   strcmp(outcome, "ok") == 0) {
		if (rot && cspf_map_gets(&s->promoted, rot)) {
			s->stats->skipped++;
			goto done;
		}
		if (rot && cspf_map_puts(&s->promoted, rot, s) < 0) {
			r = cspf_error_set_oom();
			goto done;
		}
		ev.action = "cspf:rotate";
	} else {
		s->stats->skipped++;
		goto done;
	}
	if (cJSON_IsNumber(seq) && seq->valuedouble >= 1 &&
	    seq->valuedouble < 9007199254740992.0)
		snprintf(id, sizeof(id), "%" PRIu64,
			(uint64_t)seq->valuedouble);
	else
		snprintf(id, sizeof(id), "%u", lineno);
	ev.time = t;
	ev.actor_kind = CSPF_ACTOR_SERVICE;
	ev.actor = jstr(rec, "actor") ? jstr(rec, "actor") : "cspf";
	ev.target = cred;
	ev.account = account_of(s->q->registry, cred);
	ev.source = "audit";
	ev.id = id;
	s->stats->events++;
	r = s->cb(&ev, s->payload);
done:
	cJSON_Delete(rec);
	return r;
}

/* Every line of one month file. */
static int read_file(struct audit_src *s, const char *path, const char *name)
{
	char *buf = NULL, file[64];
	unsigned int lineno = 0;
	struct stat st;
	FILE *f;
	int r = 0;

	snprintf(file, sizeof(file), "audit/%s", name);
	if (!(f = fopen(path, "re"))) {
		diag(s, file, 0, "%s cannot be read (%s): its records are "
			"left out", path, strerror(errno));
		return 0;
	}
	if (fstat(fileno(f), &st) == 0)
		s->stats->bytes += (size_t)st.st_size;
	s->stats->files++;
	if (!(buf = malloc(LINE_MAX_BYTES + 2))) {
		fclose(f);
		return cspf_error_set_oom();
	}
	while (r == 0 && fgets(buf, LINE_MAX_BYTES + 2, f)) {
		size_t len = strlen(buf);

		lineno++;
		if (len && buf[len - 1] == '\n') {
			buf[--len] = '\0';
		} else if (!feof(f)) {
			int c;

			/* Too long to be a record: skip to its end. */
			while ((c = getc(f)) != EOF && c != '\n')
				;
			s->stats->records++;
			diag(s, file, lineno, "line %u is longer than any "
				"audit record (%d bytes): run `cspf audit "
				"verify`; it is left out, the rest is read",
				lineno, LINE_MAX_BYTES);
			continue;
		}
		r = record(s, file, lineno, buf, len);
	}
	if (r == 0 && ferror(f))
		diag(s, file, lineno, "%s: a read failed after line %u (%s): "
			"the rest of the file is left out", path, lineno,
			strerror(errno));
	free(buf);
	fclose(f);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int audit_read(cspf_source_stats *stats, cspf_diags *diags,
	const cspf_source_query *q, cspf_event_cb cb, void *payload)
{
	struct audit_src s;
	cspf_buf dir = CSPF_BUF_INIT, path = CSPF_BUF_INIT;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = NULL;
	int r = 0;

	memset(&s, 0, sizeof(s));
	s.q = q;
	s.stats = stats;
	s.diags = diags;
	s.cb = cb;
	s.payload = payload;
	s.promoted = (cspf_map)CSPF_MAP_STRINGS_INIT;
	if (q->arg && *q->arg)
		cspf_buf_puts(&dir, q->arg);
	else if (q->registry_dir)
		cspf_buf_printf(&dir, "%s/audit", q->registry_dir);
	else
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit source: no registry directory: name the audit "
			"directory, as in --sources audit:DIR");
	if (cspf_buf_oom(&dir)) {
		r = cspf_error_set_oom();
		goto done;
	}
	if (!(d = opendir(dir.ptr))) {
		/* A registry that never rotated has no log: nothing to read. */
		if (errno == ENOENT && !(q->arg && *q->arg))
			goto done;
		r = cspf_error_set_os("audit source: cannot read the audit "
			"directory %s (name another with --sources audit:DIR)",
			dir.ptr);
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t from, to;

		if (month_of(&from, &to, de->d_name) < 0 || to <= q->start ||
		    from >= q->end)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			char **grown = realloc(names, ncap * sizeof(*names));

			if (!grown) {
				r = cspf_error_set_oom();
				goto done;
			}
			names = grown;
			cap = ncap;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = cspf_error_set_oom();
			goto done;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && r == 0; i++) {
		cspf_buf_clear(&path);
		cspf_buf_printf(&path, "%s/%s", dir.ptr, names[i]);
		if (cspf_buf_oom(&path)) {
			r = cspf_error_set_oom();
			break;
		}
		r = read_file(&s, path.ptr, names[i]);
	}
done:
	if (d)
		closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cspf_map_dispose(&s.promoted);
	cspf_buf_dispose(&dir);
	cspf_buf_dispose(&path);
	return r;
}

const cspf_source cspf_source_audit = {
	"audit",
	"cspf's rotation audit log: each credential rotated, each rotation "
	"that failed (arg: the audit directory, default <registry>/audit)",
	false,
	audit_read,
};
