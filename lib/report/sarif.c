/*
 * The SARIF 2.1.0 report, for GitHub code scanning and other SARIF
 * viewers.  The whole log is built as a cJSON tree and printed when the
 * report is finished (the rules array can only be complete then).
 *
 * What code scanning needs and how it is met:
 *  - every result has one location with an artifactLocation whose uri is
 *    relative to the repository (base_dir) with uriBaseId "SRCROOT",
 *    percent-encoded as an RFC 3986 relative reference;
 *  - ruleId plus ruleIndex into tool.driver.rules, which lists every rule
 *    a result names;
 *  - partialFingerprints.primaryLocationLineHash, a hash of what the
 *    finding is about (rule, file, JSON pointer, keyword), not of its line,
 *    so that an alert survives edits above it; ":N" counts repeats of one
 *    hash, as GitHub's own fingerprints do.
 * Columns are cspf's, in characters: run.columnKind says so.
 */
#include "report/report_private.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "util/error.h"
#include "util/map.h"
#include "util/banned.h"

#define SARIF_SCHEMA "https://docs.oasis-open.org/sarif/sarif/v2.1.0/" \
	"errata01/os/schemas/sarif-schema-2.1.0.json"
#define SRCROOT "SRCROOT"
#define FINGERPRINT_BYTES 16

/* A rule that findings name but the options did not list. */
struct extra_rule {
	char *id;
	cspf_severity severity; /* of its first finding */
};

struct sarif_state {
	cJSON *root;
	cJSON *driver;
	cJSON *results;
	cspf_map rule_index; /* id -> (index in driver.rules) + 1 */
	struct extra_rule *extra;
	size_t nextra, aextra;
	cspf_map seen; /* fingerprint hex -> times seen so far */
	char *base;    /* absolute normalised base_dir, or NULL */
	char *cwd;     /* the working directory, fetched when first needed */
};

/*
 * Append `p` to `out` with "." segments, empty segments and ".." resolved
 * lexically (symbolic links are not followed: the paths need not exist).
 * An absolute path keeps its leading '/', and ".." stops at the root; a
 * relative one keeps the ".." it cannot resolve.  No trailing '/', except
 * for the root itself; an empty result is ".".
 */
static void normalise(cspf_buf *out, const char *p)
{
	size_t start = out->size, seg_len, len, k;
	int absolute = *p == '/';
	const char *seg, *last;
	char *slash;

	if (absolute)
		cspf_buf_putc(out, '/');
	while (*p) {
		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		seg_len = (size_t)(p - seg);
		if (!seg_len || (seg_len == 1 && seg[0] == '.'))
			continue;
		if (seg_len == 2 && seg[0] == '.' && seg[1] == '.') {
			/* drop the last segment, unless it is ".." too */
			len = out->size - start;
			slash = memrchr(out->ptr + start, '/', len);
			last = slash ? slash + 1 : out->ptr + start;
			if (len > (size_t)absolute && strcmp(last, "..")) {
				k = slash ? (size_t)(slash - out->ptr) - start
					: 0;
				cspf_buf_truncate(out, start +
					(k == 0 && absolute ? 1 : k));
				continue;
			}
			if (absolute)
				continue; /* "/.." is "/" */
		}
		if (out->size > start + absolute)
			cspf_buf_putc(out, '/');
		cspf_buf_put(out, seg, seg_len);
	}
	if (out->size == start)
		cspf_buf_putc(out, '.');
}

/* Absolute normalised form of `p` into `out`; -1 with error raised. */
static int absolute(struct sarif_state *st, cspf_buf *out, const char *p)
{
	cspf_buf tmp = CSPF_BUF_INIT;

	if (*p == '/') {
		normalise(out, p);
	} else {
		if (!st->cwd) {
			st->cwd = getcwd(NULL, 0);
			if (!st->cwd)
				return cspf_error_set_os(
					"report: cannot get the working "
					"directory");
		}
		cspf_buf_printf(&tmp, "%s/%s", st->cwd, p);
		normalise(out, tmp.ptr);
		cspf_buf_dispose(&tmp);
	}
	return cspf_buf_oom(out) || cspf_buf_oom(&tmp) ?
		cspf_error_set_oom() : 0;
}

/*
 * Percent-encode a path for a URI: RFC 3986 unreserved characters, the
 * sub-delims, '@' and '/' stay; everything else, ':' included (it would
 * read as a scheme in a relative reference's first segment), is %XX.
 */
static void put_uri_path(cspf_buf *b, const char *p)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)p;

	for (; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("-._~!$&'()*+,;=@/",
				*s)) {
			cspf_buf_putc(b, (char)*s);
		} else {
			cspf_buf_putc(b, '%');
			cspf_buf_putc(b, hex[*s >> 4]);
			cspf_buf_putc(b, hex[*s & 15]);
		}
	}
}

/*
 * The artifactLocation for `path`: *relative is set when the uri is
 * relative to SRCROOT, cleared when it is an absolute file: URI (a path
 * outside base_dir, or an absolute path when there is no base_dir).
 */
static int artifact_uri(struct sarif_state *st, cspf_buf *uri,
	const char *path, int *relative)
{
	cspf_buf abs = CSPF_BUF_INIT, rel = CSPF_BUF_INIT;
	size_t n;
	int error = 0;

	*relative = 1;
	if (!st->base) {
		normalise(&rel, path);
		if (rel.ptr[0] == '/') {
			*relative = 0;
			cspf_buf_puts(uri, "file://");
		}
		put_uri_path(uri, rel.ptr);
		goto done;
	}
	error = absolute(st, &abs, path);
	if (error)
		goto done;
	n = strlen(st->base);
	if (n == 1) /* the base is "/" */
		n = 0;
	if (strncmp(abs.ptr, st->base, n) == 0 && abs.ptr[n] == '/' &&
		abs.ptr[n + 1]) {
		put_uri_path(uri, abs.ptr + n + 1);
	} else {
		*relative = 0;
		cspf_buf_puts(uri, "file://");
		put_uri_path(uri, abs.ptr);
	}
done:
	if (!error && (cspf_buf_oom(&rel) || cspf_buf_oom(uri)))
		error = cspf_error_set_oom();
	cspf_buf_dispose(&abs);
	cspf_buf_dispose(&rel);
	return error;
}

/* Add a copy of `s`, made valid UTF-8, under `key`; NULL: out of memory. */
static cJSON *add_str(cJSON *o, const char *key, const char *s)
{
	char *v = cspf_report__utf8_dup(s);
	cJSON *item;

	if (!v)
		return NULL;
	item = cJSON_AddStringToObject(o, key, v);
	free(v);
	return item;
}

/* {"text": s} under `key`. */
static cJSON *add_message(cJSON *o, const char *key, const char *s)
{
	cJSON *m = cJSON_AddObjectToObject(o, key);

	return m && add_str(m, "text", s) ? m : NULL;
}

/*
 * Markdown for plain text: escape what CommonMark would read as emphasis,
 * code, links, HTML, headings or tables.  (A line that starts "1." or
 * "- " still becomes a list: harmless in a help text.)
 */
static void put_markdown(cspf_buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\`*_[]<>#|~", *s))
			cspf_buf_putc(b, '\\');
		cspf_buf_putc(b, *s);
	}
}

static int add_rule(cJSON *rules, const cspf_rule_info *ri)
{
	cJSON *o = cJSON_CreateObject(), *help, *conf;
	const char *brief, *full;
	cspf_buf md = CSPF_BUF_INIT;
	int ok;

	if (!o || !cJSON_AddItemToArray(rules, o)) {
		cJSON_Delete(o);
		return -1;
	}
	brief = ri->short_description ? ri->short_description :
		ri->name ? ri->name : ri->id;
	full = ri->help ? ri->help : brief;
	ok = add_str(o, "id", ri->id) &&
		(!ri->name || add_str(o, "name", ri->name)) &&
		add_message(o, "shortDescription", brief) &&
		add_message(o, "fullDescription", full);
	if (!ok)
		return -1;
	put_markdown(&md, full);
	if (ri->help_uri) {
		cspf_buf_puts(&md, "\n\n[More about ");
		put_markdown(&md, ri->id);
		cspf_buf_printf(&md, "](%s)", ri->help_uri);
	}
	help = add_message(o, "help", full);
	ok = help && !cspf_buf_oom(&md) && add_str(help, "markdown", md.ptr);
	cspf_buf_dispose(&md);
	if (!ok || (ri->help_uri && !add_str(o, "helpUri", ri->help_uri)))
		return -1;
	conf = cJSON_AddObjectToObject(o, "defaultConfiguration");
	if (!conf || !add_str(conf, "level",
		cspf_report__severity_name(ri->default_severity)))
		return -1;
	return 0;
}

/* The index of rule `id` in driver.rules, adding it if it is new. */
static int rule_index(cspf_report *r, const char *id, cspf_severity sev,
	size_t *out)
{
	struct sarif_state *st = r->state;
	struct extra_rule *e;
	void *v = cspf_map_gets(&st->rule_index, id);
	size_t n;

	if (v) {
		*out = (size_t)(uintptr_t)v - 1;
		return 0;
	}
	if (st->nextra == st->aextra) {
		n = st->aextra ? st->aextra * 2 : 8;
		e = realloc(st->extra, n * sizeof(*e));
		if (!e)
			return cspf_error_set_oom();
		st->extra = e;
		st->aextra = n;
	}
	e = &st->extra[st->nextra];
	e->id = strdup(id);
	e->severity = sev;
	*out = r->nrules + st->nextra;
	if (!e->id || cspf_map_puts(&st->rule_index, id,
		(void *)(uintptr_t)(*out + 1)) < 0) {
		free(e->id);
		return cspf_error_set_oom();
	}
	st->nextra++;
	return 0;
}

/*
 * The partial fingerprint of a finding: BLAKE2b-128 of rule, file URI,
 * pointer and keyword (each NUL-terminated, so no two tuples collide by
 * concatenation), in hex, then ":N" for the Nth finding with that hash.
 */
static int fingerprint(struct sarif_state *st, cspf_buf *out,
	const char *rule, const char *uri, const cspf_diag *d)
{
	cspf_buf in = CSPF_BUF_INIT;
	unsigned char h[FINGERPRINT_BYTES];
	char hex[FINGERPRINT_BYTES * 2 + 1];
	size_t seen;

	cspf_buf_put(&in, rule, strlen(rule) + 1);
	cspf_buf_put(&in, uri, strlen(uri) + 1);
	cspf_buf_put(&in, d->pointer ? d->pointer : "",
		strlen(d->pointer ? d->pointer : "") + 1);
	cspf_buf_put(&in, d->keyword ? d->keyword : "",
		strlen(d->keyword ? d->keyword : "") + 1);
	if (cspf_buf_oom(&in)) {
		cspf_buf_dispose(&in);
		return cspf_error_set_oom();
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)in.ptr,
		in.size, NULL, 0);
	cspf_buf_dispose(&in);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	seen = (size_t)(uintptr_t)cspf_map_gets(&st->seen, hex) + 1;
	if (cspf_map_puts(&st->seen, hex, (void *)(uintptr_t)seen) < 0)
		return cspf_error_set_oom();
	cspf_buf_printf(out, "%s:%zu", hex, seen);
	return cspf_buf_oom(out) ? cspf_error_set_oom() : 0;
}

static int add_result(cspf_report *r, const char *uri, int relative,
	const cspf_diag *d)
{
	struct sarif_state *st = r->state;
	const char *rule = d->rule && *d->rule ? d->rule : "unknown";
	cspf_buf text = CSPF_BUF_INIT, fp = CSPF_BUF_INIT;
	cJSON *res, *locs, *loc = NULL, *phys = NULL, *art, *region, *pf;
	cJSON *props;
	size_t index = 0;
	int error, ok;

	error = rule_index(r, rule, d->severity, &index);
	if (error)
		return error;
	error = fingerprint(st, &fp, rule, uri, d);
	if (error) {
		cspf_buf_dispose(&fp);
		return error;
	}
	cspf_buf_puts(&text, d->message && *d->message ? d->message : rule);
	if (d->pointer)
		cspf_buf_printf(&text, " (at %s)", *d->pointer ?
			d->pointer : "\"\"");

	res = cJSON_CreateObject();
	ok = res && cJSON_AddItemToArray(st->results, res);
	if (!ok)
		cJSON_Delete(res);
	ok = ok && add_str(res, "ruleId", rule) &&
		cJSON_AddNumberToObject(res, "ruleIndex", (double)index) &&
		add_str(res, "level",
			cspf_report__severity_name(d->severity)) &&
		!cspf_buf_oom(&text) && add_message(res, "message", text.ptr);
	ok = ok && (locs = cJSON_AddArrayToObject(res, "locations")) &&
		(loc = cJSON_CreateObject()) &&
		cJSON_AddItemToArray(locs, loc) &&
		(phys = cJSON_AddObjectToObject(loc, "physicalLocation")) &&
		(art = cJSON_AddObjectToObject(phys, "artifactLocation")) &&
		add_str(art, "uri", uri) &&
		(!relative || add_str(art, "uriBaseId", SRCROOT));
	/*
	 * A finding on a whole file (a symlink, a file of no kind) points
	 * at its first line: GitHub code scanning wants a region on every
	 * location to show it.
	 */
	if (ok) {
		ok = (region = cJSON_AddObjectToObject(phys, "region")) &&
			cJSON_AddNumberToObject(region, "startLine",
				d->line ? d->line : 1) &&
			(!d->column || cJSON_AddNumberToObject(region,
				"startColumn", d->column));
	}
	ok = ok && (pf = cJSON_AddObjectToObject(res,
			"partialFingerprints")) &&
		add_str(pf, "primaryLocationLineHash", fp.ptr);
	if (ok && (d->pointer || d->keyword || d->schema_location)) {
		ok = (props = cJSON_AddObjectToObject(res, "properties")) &&
			(!d->pointer || add_str(props, "pointer",
				d->pointer)) &&
			(!d->keyword || add_str(props, "keyword",
				d->keyword)) &&
			(!d->schema_location || add_str(props,
				"schemaLocation", d->schema_location));
	}
	cspf_buf_dispose(&text);
	cspf_buf_dispose(&fp);
	return ok ? 0 : cspf_error_set_oom();
}

static int sarif_file(cspf_report *r, const char *path,
	const cspf_diags *diags)
{
	struct sarif_state *st = r->state;
	cspf_buf uri = CSPF_BUF_INIT, own = CSPF_BUF_INIT;
	size_t i;
	int relative = 1, own_relative, error = 0;

	if (!diags)
		return 0;
	error = artifact_uri(st, &uri, path, &relative);
	for (i = 0; !error && i < diags->count; i++) {
		const cspf_diag *d = &diags->items[i];

		if (!d->file || !strcmp(d->file, path)) {
			error = add_result(r, uri.ptr, relative, d);
			continue;
		}
		cspf_buf_clear(&own);
		error = artifact_uri(st, &own, d->file, &own_relative);
		if (!error)
			error = add_result(r, own.ptr, own_relative, d);
	}
	cspf_buf_dispose(&uri);
	cspf_buf_dispose(&own);
	return error;
}

static int sarif_begin(cspf_report *r)
{
	struct sarif_state *st;
	cJSON *runs, *run = NULL, *tool, *bases, *root_base;
	cspf_buf base = CSPF_BUF_INIT, uri = CSPF_BUF_INIT;
	size_t i;
	int ok, error;

	if (sodium_init() < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"report: libsodium cannot start");
	st = calloc(1, sizeof(*st));
	if (!st)
		return cspf_error_set_oom();
	r->state = st;
	st->rule_index = (cspf_map)CSPF_MAP_STRINGS_INIT;
	st->seen = (cspf_map)CSPF_MAP_STRINGS_INIT;
	for (i = 0; i < r->nrules; i++)
		if (cspf_map_puts(&st->rule_index, r->rules[i].id,
			(void *)(uintptr_t)(i + 1)) < 0)
			return cspf_error_set_oom();
	if (r->base_dir) {
		error = absolute(st, &base, r->base_dir);
		if (error)
			return error;
		st->base = cspf_buf_detach(&base);
		if (!st->base)
			return cspf_error_set_oom();
	}

	st->root = cJSON_CreateObject();
	ok = st->root && cJSON_AddStringToObject(st->root, "$schema",
		SARIF_SCHEMA) &&
		cJSON_AddStringToObject(st->root, "version", "2.1.0") &&
		(runs = cJSON_AddArrayToObject(st->root, "runs")) &&
		(run = cJSON_CreateObject()) &&
		cJSON_AddItemToArray(runs, run) &&
		(tool = cJSON_AddObjectToObject(run, "tool")) &&
		(st->driver = cJSON_AddObjectToObject(tool, "driver")) &&
		add_str(st->driver, "name", r->tool_name) &&
		add_str(st->driver, "version", r->tool_version) &&
		(!r->tool_uri || add_str(st->driver, "informationUri",
			r->tool_uri));
	if (ok && st->base) {
		/* "file://" + path + "/": SARIF wants the trailing slash */
		cspf_buf_puts(&uri, "file://");
		put_uri_path(&uri, st->base);
		if (uri.ptr[uri.size - 1] != '/')
			cspf_buf_putc(&uri, '/');
		ok = !cspf_buf_oom(&uri) &&
			(bases = cJSON_AddObjectToObject(run,
				"originalUriBaseIds")) &&
			(root_base = cJSON_AddObjectToObject(bases,
				SRCROOT)) &&
			add_str(root_base, "uri", uri.ptr);
		cspf_buf_dispose(&uri);
	}
	ok = ok && cJSON_AddStringToObject(run, "columnKind",
			"unicodeCodePoints") &&
		(st->results = cJSON_AddArrayToObject(run, "results"));
	return ok ? 0 : cspf_error_set_oom();
}

static int sarif_finish(cspf_report *r)
{
	struct sarif_state *st = r->state;
	cJSON *rules = cJSON_AddArrayToObject(st->driver, "rules");
	char *text;
	size_t i;
	int error = 0;

	if (!rules)
		return cspf_error_set_oom();
	for (i = 0; i < r->nrules; i++)
		if (add_rule(rules, &r->rules[i]) < 0)
			return cspf_error_set_oom();
	for (i = 0; i < st->nextra; i++) {
		cspf_rule_info ri = { st->extra[i].id, NULL, NULL, NULL, NULL,
			st->extra[i].severity };
		if (add_rule(rules, &ri) < 0)
			return cspf_error_set_oom();
	}
	text = cJSON_Print(st->root);
	if (!text)
		return cspf_error_set_oom();
	if (fputs(text, r->f) == EOF || fputc('\n', r->f) == EOF)
		error = cspf_report__write_error();
	cJSON_free(text);
	return error;
}

static void sarif_dispose(cspf_report *r)
{
	struct sarif_state *st = r->state;
	size_t i;

	if (!st)
		return;
	cJSON_Delete(st->root);
	cspf_map_dispose(&st->rule_index);
	cspf_map_dispose(&st->seen);
	for (i = 0; i < st->nextra; i++)
		free(st->extra[i].id);
	free(st->extra);
	free(st->base);
	free(st->cwd);
	free(st);
	r->state = NULL;
}

const struct cspf_report_ops cspf_report__sarif_ops = {
	sarif_begin, sarif_file, sarif_finish, sarif_dispose,
};
