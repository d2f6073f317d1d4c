/*
 * sink_files.c - tickets as files: DIR/<period start>/<report>--<recipient>
 * .md (for people), .csv (the complete list) and .json (the ticket, and
 * its state).  The JSON is written last: a ticket exists once its JSON
 * does, so a run that dies half way leaves nothing a re-run trips on.
 *
 * A person closes a ticket by setting "state": "closed" in its JSON (or
 * a script does, from whatever tracker the files feed); comments and
 * the escalation are kept there too, and in the Markdown.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cspf/registry.h"
#include "cspf/time.h"
#include "digest/digest_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

struct files {
	char *dir;
	int64_t now;
};

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(buf))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sink files:%s: not a usable directory name", path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return cspf_error_set_os("sink files: making %s", buf);
		buf[i] = path[i];
	}
	return 0;
}

static int files_open(void **state, const cspf_sink_config *cfg)
{
	struct files *f;

	if (!cfg->dir || !*cfg->dir)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sink files: no directory given");
	if (mkdir_p(cfg->dir) < 0)
		return -1;
	if (!(f = calloc(1, sizeof(*f))) || !(f->dir = strdup(cfg->dir))) {
		free(f);
		return cspf_error_set_oom();
	}
	f->now = cfg->now;
	*state = f;
	return 0;
}

static void files_close(void *state)
{
	struct files *f = state;

	if (f) {
		free(f->dir);
		free(f);
	}
}

/* "<kind>--<recipient>", with what a file name should not hold as '_'. */
static void ticket_name(char *out, size_t size, const cspf_ticket *t)
{
	const char *kind = t->unattributed ? "unattributed" :
		cspf_report_kind_name(t->kind);
	size_t n;
	char *p;

	snprintf(out, size, "%s--%s", kind, t->recipient);
	for (p = out + strlen(kind) + 2; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '@' ||
		      *p == '-' || *p == '+'))
			*p = '_';
	/* Long recipients (a URL): keep the name short (it is the
	 * ticket's id, 63 bytes at most), and unique. */
	if ((n = strlen(out)) > 63)
		snprintf(out + 46, size - 46, "-%s", t->key_hash);
}

static int path_of(cspf_buf *b, const struct files *f, const char *label,
	const char *name, const char *ext)
{
	cspf_buf_clear(b);
	cspf_buf_printf(b, "%s/%s/%s%s", f->dir, label, name, ext);
	return cspf_buf_oom(b) ? cspf_error_set_oom() : 0;
}

static int read_json(cJSON **out, const char *path)
{
	cspf_buf text = CSPF_BUF_INIT;
	char chunk[16384];
	size_t n;
	FILE *fp;

	*out = NULL;
	if (!(fp = fopen(path, "rb"))) {
		if (errno == ENOENT)
			return CSPF_ENOTFOUND;
		return cspf_error_set_os("sink files: reading %s", path);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		cspf_buf_put(&text, chunk, n);
	fclose(fp);
	if (cspf_buf_oom(&text))
		return cspf_error_set_oom();
	*out = cJSON_ParseWithLength(text.ptr, text.size);
	cspf_buf_dispose(&text);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_JSON,
			"sink files: %s is not a ticket's JSON: mend or "
			"remove it", path);
	}
	return 0;
}

static void copy(char *dst, size_t size, const cJSON *o, const char *name)
{
	const char *v = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(o, name));

	cspf_strlcpy(dst, v ? v : "", size);
}

static void ref_from(cspf_ticket_ref *ref, const cJSON *o, const char *name,
	const char *md_path)
{
	char stamp[64];

	memset(ref, 0, sizeof(*ref));
	snprintf(ref->id, sizeof(ref->id), "%s", name);
	snprintf(ref->url, sizeof(ref->url), "%s", md_path);
	copy(stamp, sizeof(stamp), o, "state");
	ref->open = strcmp(stamp, "closed") != 0;
	ref->escalated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
		"escalated"));
	copy(ref->key, sizeof(ref->key), o, "key");
	copy(ref->kind, sizeof(ref->kind), o, "kind");
	copy(ref->recipient, sizeof(ref->recipient), o, "recipient");
	copy(ref->team, sizeof(ref->team), o, "team");
	copy(ref->period, sizeof(ref->period), o, "period");
	copy(stamp, sizeof(stamp), o, "created");
	if (cspf_time_parse(&ref->created, stamp) < 0)
		ref->created = 0;
	copy(stamp, sizeof(stamp), o, "due");
	if (cspf_time_parse(&ref->due, stamp) < 0)
		ref->due = 0;
}

static int files_find(void *state, const cspf_ticket *t, cspf_ticket_ref *ref)
{
	struct files *f = state;
	cspf_buf json = CSPF_BUF_INIT, md = CSPF_BUF_INIT;
	char name[160];
	cJSON *o = NULL;
	int error;

	ticket_name(name, sizeof(name), t);
	if ((error = path_of(&json, f, t->period_label, name, ".json")) < 0 ||
	    (error = path_of(&md, f, t->period_label, name, ".md")) < 0)
		goto out;
	if ((error = read_json(&o, json.ptr)) < 0)
		goto out;
	ref_from(ref, o, name, md.ptr);
	if (strcmp(ref->key, t->key) != 0)
		error = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"sink files: %s holds ticket \"%s\", not \"%s\": move "
			"it away", json.ptr, ref->key, t->key);
out:
	cJSON_Delete(o);
	cspf_buf_dispose(&json);
	cspf_buf_dispose(&md);
	return error;
}

/*
 * `to` becomes a copy of `from`, atomically (temporary file beside it,
 * fsync, rename): a rename would not cross file systems.
 */
static int copy_file(const char *to, const char *from)
{
	cspf_buf tmp = CSPF_BUF_INIT;
	char chunk[65536];
	FILE *in, *out = NULL;
	size_t n;
	int error = -1;

	if (!(in = fopen(from, "rb")))
		return cspf_error_set_os("sink files: reading %s", from);
	cspf_buf_printf(&tmp, "%s.tmp.%ld", to, (long)getpid());
	if (cspf_buf_oom(&tmp)) {
		error = cspf_error_set_oom();
		goto out;
	}
	if (!(out = fopen(tmp.ptr, "wb"))) {
		error = cspf_error_set_os("sink files: writing %s", tmp.ptr);
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		if (fwrite(chunk, 1, n, out) != n)
			break;
	if (ferror(in) || ferror(out) || fflush(out) != 0 ||
	    fsync(fileno(out)) < 0) {
		error = cspf_error_set_os("sink files: writing %s", to);
		goto out;
	}
	if (fclose(out) != 0) {
		out = NULL;
		error = cspf_error_set_os("sink files: writing %s", to);
		goto out;
	}
	out = NULL;
	if (rename(tmp.ptr, to) < 0) {
		error = cspf_error_set_os("sink files: writing %s", to);
		goto out;
	}
	error = 0;
out:
	if (out)
		fclose(out);
	if (error < 0 && tmp.size)
		unlink(tmp.ptr);
	fclose(in);
	cspf_buf_dispose(&tmp);
	return error;
}

/* Write md, csv, then the JSON (state kept from `old`, if any). */
static int write_ticket(struct files *f, const cspf_ticket *t,
	const cJSON *old, cspf_ticket_ref *ref)
{
	cspf_buf path = CSPF_BUF_INIT, md = CSPF_BUF_INIT;
	char name[160], *text = NULL;
	cJSON *o = NULL, *comments;
	const cJSON *c;
	int error = -1;

	ticket_name(name, sizeof(name), t);
	cspf_buf_printf(&path, "%s/%s", f->dir, t->period_label);
	if (cspf_buf_oom(&path) || mkdir_p(path.ptr) < 0)
		goto out;
	if (!(o = cJSON_Parse(t->json)))
		goto oom;
	cJSON_AddStringToObject(o, "state", old ? (cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(old, "state")) ?
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(old,
		"state")) : "open") : "open");
	cJSON_AddBoolToObject(o, "escalated", old && cJSON_IsTrue(
		cJSON_GetObjectItemCaseSensitive(old, "escalated")));
	comments = cJSON_AddArrayToObject(o, "comments");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(old,
	    "comments"))
		cJSON_AddItemToArray(comments, cJSON_Duplicate(c, 1));
	cJSON_AddStringToObject(o, "markdown", name);

	/* The Markdown: the body, then the comments. */
	cspf_buf_puts(&md, t->body);
	cJSON_ArrayForEach(c, comments) {
		const char *when = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(c, "time"));
		const char *body = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(c, "body"));

		cspf_buf_printf(&md, "\n---\n\n**Comment, %s:** %s\n",
			when ? when : "", body ? body : "");
	}
	if (cspf_buf_oom(&md))
		goto oom;
	if (path_of(&path, f, t->period_label, name, ".md") < 0 ||
	    cspf_registry_write_file(path.ptr, md.ptr, md.size) < 0)
		goto out;
	if (path_of(&path, f, t->period_label, name, ".csv") < 0)
		goto out;
	if (t->csv_path && !t->csv) {
		if (copy_file(path.ptr, t->csv_path) < 0)
			goto out;
	} else if (cspf_registry_write_file(path.ptr, t->csv ? t->csv : "",
	    t->csv ? t->csv_len : 0) < 0) {
		goto out;
	}
	if (!(text = cJSON_Print(o)))
		goto oom;
	if (path_of(&path, f, t->period_label, name, ".json") < 0 ||
	    cspf_registry_write_file(path.ptr, text, strlen(text)) < 0)
		goto out;
	if (ref) {
		if (path_of(&path, f, t->period_label, name, ".md") < 0)
			goto out;
		ref_from(ref, o, name, path.ptr);
	}
	error = 0;
	goto out;
oom:
	error = cspf_error_set_oom();
out:
	cJSON_free(text);
	cJSON_Delete(o);
	cspf_buf_dispose(&path);
	cspf_buf_dispose(&md);
	return error;
}

static int files_create(void *state, const cspf_ticket *t,
	cspf_ticket_ref *ref)
{
	return write_ticket(state, t, NULL, ref);
}

static int files_update(void *state, const cspf_ticket_ref *ref,
	const cspf_ticket *t)
{
	struct files *f = state;
	cspf_buf json = CSPF_BUF_INIT;
	cJSON *old = NULL;
	char name[160];
	int error;

	ticket_name(name, sizeof(name), t);
	(void)ref;
	if ((error = path_of(&json, f, t->period_label, name, ".json")) == 0 &&
	    (error = read_json(&old, json.ptr)) == 0)
		error = write_ticket(f, t, old, NULL);
	cJSON_Delete(old);
	cspf_buf_dispose(&json);
	return error;
}

static int files_list(void *state, const char *period,
	int (*cb)(const cspf_ticket_ref *ref, void *payload), void *payload)
{
	struct files *f = state;
	cspf_buf dir = CSPF_BUF_INIT, path = CSPF_BUF_INIT;
	const char *slash = strchr(period, '/');
	struct dirent *de;
	cspf_ticket_ref ref;
	char **names = NULL;
	size_t n = 0, i;
	DIR *dh;
	int error = 0;

	cspf_buf_printf(&dir, "%s/%.*s", f->dir,
		(int)(slash ? (size_t)(slash - period) : strlen(period)),
		period);
	if (cspf_buf_oom(&dir))
		return cspf_error_set_oom();
	if (!(dh = opendir(dir.ptr))) {
		cspf_buf_dispose(&dir);
		return errno == ENOENT ? 0 :
			cspf_error_set_os("sink files: reading %s", dir.ptr);
	}
	while ((de = readdir(dh))) {
		size_t len = strlen(de->d_name);
		char **nn;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (!(nn = realloc(names, (n + 1) * sizeof(*nn))) ||
		    !(nn[n] = strndup(de->d_name, len - 5))) {
			if (nn)
				names = nn;
			error = cspf_error_set_oom();
			break;
		}
		names = nn;
		n++;
	}
	closedir(dh);
	/* In name order, so runs list alike. */
	for (i = 1; i < n; i++) {
		char *x = names[i];
		size_t j = i;

		for (; j > 0 && strcmp(names[j - 1], x) > 0; j--)
			names[j] = names[j - 1];
		names[j] = x;
	}
	for (i = 0; i < n && error == 0; i++) {
		cJSON *o = NULL;

		cspf_buf_clear(&path);
		cspf_buf_printf(&path, "%s/%s.json", dir.ptr, names[i]);
		if (cspf_buf_oom(&path)) {
			error = cspf_error_set_oom();
			break;
		}
		if (read_json(&o, path.ptr) < 0)
			continue; /* not a ticket: leave it */
		cspf_buf_clear(&path);
		cspf_buf_printf(&path, "%s/%s.md", dir.ptr, names[i]);
		ref_from(&ref, o, names[i], path.ptr);
		cJSON_Delete(o);
		if (strcmp(ref.period, period) != 0 || !ref.key[0])
			continue;
		error = cb(&ref, payload);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cspf_buf_dispose(&dir);
	cspf_buf_dispose(&path);
	return error;
}

static int files_comment(void *state, const cspf_ticket_ref *ref,
	const char *markdown, bool escalate)
{
	struct files *f = state;
	cspf_buf json = CSPF_BUF_INIT, md = CSPF_BUF_INIT;
	char label[16], t[CSPF_TIME_BUFSIZE], *text = NULL;
	cJSON *o = NULL, *c, *comments;
	int error;

	snprintf(label, sizeof(label), "%.10s", ref->period);
	if ((error = path_of(&json, f, label, ref->id, ".json")) < 0)
		goto out;
	if ((error = read_json(&o, json.ptr)) == CSPF_ENOTFOUND)
		error = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"sink files: %s is gone", json.ptr);
	if (error < 0)
		goto out;
	cspf_time_format(t, f->now);
	comments = cJSON_GetObjectItemCaseSensitive(o, "comments");
	if (!cJSON_IsArray(comments)) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "comments");
		comments = cJSON_AddArrayToObject(o, "comments");
	}
	if (!(c = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(c, "time", t) ||
	    !cJSON_AddStringToObject(c, "body", markdown) ||
	    !cJSON_AddBoolToObject(c, "escalation", escalate) ||
	    !cJSON_AddItemToArray(comments, c)) {
		error = cspf_error_set_oom();
		goto out;
	}
	if (escalate)
		cJSON_ReplaceItemInObjectCaseSensitive(o, "escalated",
			cJSON_CreateTrue());
	/* The comment at the end of the Markdown as well. */
	if ((error = path_of(&md, f, label, ref->id, ".md")) < 0)
		goto out;
	{
		FILE *fp = fopen(md.ptr, "a");
		bool bad = !fp;

		if (fp) {
			bad = fprintf(fp, "\n---\n\n**Comment, %s:** %s\n",
				t, markdown) < 0;
			bad = (fclose(fp) != 0) || bad;
		}
		if (bad) {
			error = cspf_error_set_os("sink files: writing %s",
				md.ptr);
			goto out;
		}
	}
	if (!(text = cJSON_Print(o))) {
		error = cspf_error_set_oom();
		goto out;
	}
	error = cspf_registry_write_file(json.ptr, text, strlen(text));
out:
	cJSON_free(text);
	cJSON_Delete(o);
	cspf_buf_dispose(&json);
	cspf_buf_dispose(&md);
	return error;
}

const cspf_sink_ops cspf_sink_files = {
	.type = "files",
	.open = files_open,
	.find = files_find,
	.create = files_create,
	.update = files_update,
	.list = files_list,
	.comment = files_comment,
	.close = files_close,
};
