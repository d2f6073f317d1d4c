/*
 * Reports: the handle, its options, and the helpers every format shares.
 * The formats themselves are in text.c, json.c, sarif.c and junit.c.
 */
#include "report/report_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/uri.h"
#include "util/banned.h"

const char *cspf_report__severity_name(cspf_severity sev)
{
	switch (sev) {
	case CSPF_SEVERITY_ERROR:
		return "error";
	case CSPF_SEVERITY_WARNING:
		return "warning";
	case CSPF_SEVERITY_NOTE:
		return "note";
	}
	return "error";
}

size_t cspf_report__utf8_char(const unsigned char *s, size_t n,
	uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters shown escaped: they move the cursor, hide or reorder text. */
static int must_escape(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		(cp >= 0x200e && cp <= 0x200f) ||
		(cp >= 0x2028 && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069) ||
		cp == 0xfffe || cp == 0xffff;
}

int cspf_report__put_text(cspf_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len;
	uint32_t cp;

	while (n) {
		len = cspf_report__utf8_char(p, n, &cp);
		if (!len) {
			cspf_buf_printf(b, "\\x%02x", *p);
			len = 1;
		} else if (!must_escape(cp)) {
			cspf_buf_put(b, (const char *)p, len);
		} else if (cp == '\n') {
			cspf_buf_puts(b, "\\n");
		} else if (cp == '\r') {
			cspf_buf_puts(b, "\\r");
		} else if (cp == '\t') {
			cspf_buf_puts(b, "\\t");
		} else if (cp < 0x80) {
			cspf_buf_printf(b, "\\x%02x", (unsigned int)cp);
		} else {
			cspf_buf_printf(b, "\\u%04x", (unsigned int)cp);
		}
		p += len;
		n -= len;
	}
	return cspf_buf_oom(b) ? -1 : 0;
}

int cspf_report__put_utf8(cspf_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len;
	uint32_t cp;

	while (n) {
		len = cspf_report__utf8_char(p, n, &cp);
		if (!len) {
			cspf_buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
			len = 1;
		} else {
			cspf_buf_put(b, (const char *)p, len);
		}
		p += len;
		n -= len;
	}
	return cspf_buf_oom(b) ? -1 : 0;
}

char *cspf_report__utf8_dup(const char *s)
{
	cspf_buf b = CSPF_BUF_INIT;

	cspf_report__put_utf8(&b, s);
	return cspf_buf_detach(&b); /* NULL when out of memory */
}

/* clang-format off */
#define BOLD   "\033[1m"
#define RED    "\033[1;31m"
#define YELLOW "\033[1;33m"
#define CYAN   "\033[1;36m"
#define RESET  "\033[0m"
/* clang-format on */

int cspf_report__text_line(cspf_buf *b, const char *path,
	const cspf_diag *d, int color)
{
	const char *sev = cspf_report__severity_name(d->severity);
	const char *hue = d->severity == CSPF_SEVERITY_WARNING ? YELLOW :
		d->severity == CSPF_SEVERITY_NOTE ? CYAN : RED;

	if (color)
		cspf_buf_puts(b, BOLD);
	cspf_report__put_text(b, d->file ? d->file : path);
	if (d->line) {
		cspf_buf_printf(b, ":%u", d->line);
		if (d->column)
			cspf_buf_printf(b, ":%u", d->column);
	}
	cspf_buf_putc(b, ':');
	if (color)
		cspf_buf_printf(b, RESET " %s%s" RESET, hue, sev);
	else
		cspf_buf_printf(b, " %s", sev);
	if (d->rule) {
		cspf_buf_putc(b, '[');
		cspf_report__put_text(b, d->rule);
		cspf_buf_putc(b, ']');
	}
	cspf_buf_puts(b, ": ");
	cspf_report__put_text(b, d->message ? d->message : "");
	if (d->pointer) {
		cspf_buf_puts(b, " (at ");
		cspf_report__put_text(b, *d->pointer ? d->pointer : "\"\"");
		cspf_buf_putc(b, ')');
	}
	cspf_buf_putc(b, '\n');
	return cspf_buf_oom(b) ? -1 : 0;
}

int cspf_report__write_error(void)
{
	if (!errno)
		errno = EIO;
	return cspf_error_set_os("cannot write the report");
}

int cspf_report__write(FILE *f, const cspf_buf *b)
{
	if (b->size && fwrite(b->ptr, 1, b->size, f) != b->size)
		return cspf_report__write_error();
	return 0;
}

static int dup_opt(char **out, const char *s, const char *dflt)
{
	*out = NULL;
	if (!s)
		s = dflt;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -1;
}

static int is_uri(const char *s)
{
	return cspf_uri_is_uri(s, strlen(s));
}

static void free_rules(cspf_rule_info *rules, size_t n)
{
	size_t i;

	for (i = 0; rules && i < n; i++) {
		free((char *)rules[i].id);
		free((char *)rules[i].name);
		free((char *)rules[i].short_description);
		free((char *)rules[i].help);
		free((char *)rules[i].help_uri);
	}
	free(rules);
}

/* Deep copy of the rules; checks each has an id, and no id twice. */
static int copy_rules(cspf_report *r, const cspf_report_options *opts)
{
	size_t i, j;
	int fail = 0;

	if (!opts->nrules)
		return 0;
	if (!opts->rules)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: nrules is %zu but rules is NULL",
			opts->nrules);
	for (i = 0; i < opts->nrules; i++) {
		if (!opts->rules[i].id || !*opts->rules[i].id)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"report: rule %zu has no id", i);
		if (opts->rules[i].help_uri && !is_uri(opts->rules[i].help_uri))
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "report: rule \"%s\": "
				"help_uri is not an absolute URI",
				opts->rules[i].id);
		for (j = 0; j < i; j++)
			if (!strcmp(opts->rules[i].id, opts->rules[j].id))
				return cspf_error_set(CSPF_EINVALID,
					CSPF_ERRCLASS_INVALID,
					"report: rule \"%s\" is given twice",
					opts->rules[i].id);
	}
	r->rules = calloc(opts->nrules, sizeof(*r->rules));
	if (!r->rules)
		return cspf_error_set_oom();
	r->nrules = opts->nrules;
	for (i = 0; i < opts->nrules; i++) {
		const cspf_rule_info *src = &opts->rules[i];
		char *s;

		fail |= dup_opt(&s, src->id, NULL);
		r->rules[i].id = s;
		fail |= dup_opt(&s, src->name, NULL);
		r->rules[i].name = s;
		fail |= dup_opt(&s, src->short_description, NULL);
		r->rules[i].short_description = s;
		fail |= dup_opt(&s, src->help, NULL);
		r->rules[i].help = s;
		fail |= dup_opt(&s, src->help_uri, NULL);
		r->rules[i].help_uri = s;
		r->rules[i].default_severity = src->default_severity;
	}
	return fail ? cspf_error_set_oom() : 0;
}

int cspf_report_new(cspf_report **out, FILE *f,
	const cspf_report_options *opts)
{
	cspf_report *r;
	int error = 0;

	*out = NULL;
	if (!f || !opts)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: no FILE or no options");
	if (opts->version != CSPF_REPORT_OPTIONS_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: options version %u, expected %u",
			opts->version, CSPF_REPORT_OPTIONS_VERSION);
	if (opts->tool_information_uri && !is_uri(opts->tool_information_uri))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: tool_information_uri is not an absolute URI");
	r = calloc(1, sizeof(*r));
	if (!r)
		return cspf_error_set_oom();
	switch (opts->format) {
	case CSPF_REPORT_TEXT:
		r->ops = &cspf_report__text_ops;
		break;
	case CSPF_REPORT_JSON:
		r->ops = &cspf_report__json_ops;
		break;
	case CSPF_REPORT_SARIF:
		r->ops = &cspf_report__sarif_ops;
		break;
	case CSPF_REPORT_JUNIT:
		r->ops = &cspf_report__junit_ops;
		break;
	default:
		free(r);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: unknown format %d", (int)opts->format);
	}
	r->f = f;
	if (!opts->no_summary)
		r->summary = opts->summary ? opts->summary : f;
	r->format = opts->format;
	r->color = opts->color;
	if (dup_opt(&r->tool_name, opts->tool_name, "cspf") < 0 ||
		dup_opt(&r->tool_version, opts->tool_version,
			CSPF_VERSION) < 0 ||
		dup_opt(&r->tool_uri, opts->tool_information_uri, NULL) < 0 ||
		dup_opt(&r->base_dir, opts->base_dir, NULL) < 0)
		error = cspf_error_set_oom();
	if (!error)
		error = copy_rules(r, opts);
	if (!error && r->ops->begin)
		error = r->ops->begin(r);
	if (error) {
		cspf_report_free(r);
		return error;
	}
	*out = r;
	return 0;
}

int cspf_report_file(cspf_report *r, const char *path,
	const cspf_diags *diags)
{
	size_t i, n = diags ? diags->count : 0;

	if (!r || !path)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: no report or no path");
	if (r->finished)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: already finished");
	r->totals.files++;
	if (n)
		r->totals.with_findings++;
	for (i = 0; i < n; i++) {
		switch (diags->items[i].severity) {
		case CSPF_SEVERITY_WARNING:
			r->totals.warnings++;
			break;
		case CSPF_SEVERITY_NOTE:
			r->totals.notes++;
			break;
		default:
			r->totals.errors++;
		}
	}
	if (!r->ops->file)
		return 0;
	return r->ops->file(r, path, n ? diags : NULL);
}

int cspf_report_finish(cspf_report *r)
{
	int error = 0;

	if (!r)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: no report");
	if (r->finished)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"report: already finished");
	r->finished = 1;
	if (r->ops->finish)
		error = r->ops->finish(r);
	errno = 0;
	if (fflush(r->f) != 0 || ferror(r->f))
		return error ? error : cspf_report__write_error();
	if (r->summary && r->summary != r->f && (fflush(r->summary) != 0 ||
		ferror(r->summary)))
		return error ? error : cspf_report__write_error();
	return error;
}

const cspf_report_totals *cspf_report_totals_get(const cspf_report *r)
{
	return &r->totals;
}

void cspf_report_free(cspf_report *r)
{
	if (!r)
		return;
	if (r->ops && r->ops->dispose)
		r->ops->dispose(r);
	free(r->tool_name);
	free(r->tool_version);
	free(r->tool_uri);
	free(r->base_dir);
	free_rules(r->rules, r->nrules);
	free(r);
}
