/*
 * Inside the report module: the report handle, the table of functions
 * each format provides (one file each), and the helpers they share.
 */
#ifndef CSPF_REPORT_PRIVATE_H
#define CSPF_REPORT_PRIVATE_H

#include <stdint.h>

#include "cspf/report.h"
#include "util/buf.h"

/*
 * A format.  `begin` runs at the end of cspf_report_new(), `file` for
 * each file (after the totals are counted), `finish` once; each returns
 * 0 or -1 with the error raised.  `dispose` frees the format's `state`
 * and may be called whether or not `begin` ran.  Any may be NULL.
 */
struct cspf_report_ops {
	int (*begin)(cspf_report *r);
	int (*file)(cspf_report *r, const char *path,
		const cspf_diags *diags);
	int (*finish)(cspf_report *r);
	void (*dispose)(cspf_report *r);
};

struct cspf_report {
	FILE *f;
	FILE *summary; /* NULL: no summary */
	cspf_report_format format;
	int color;
	char *tool_name;
	char *tool_version;
	char *tool_uri;
	char *base_dir;
	cspf_rule_info *rules; /* deep copies of the options' */
	size_t nrules;
	cspf_report_totals totals;
	const struct cspf_report_ops *ops;
	void *state; /* the format's own */
	int finished;
};

extern const struct cspf_report_ops cspf_report__text_ops;
extern const struct cspf_report_ops cspf_report__json_ops;
extern const struct cspf_report_ops cspf_report__sarif_ops;
extern const struct cspf_report_ops cspf_report__junit_ops;

/* "error", "warning", "note" (SARIF's level names too). */
const char *cspf_report__severity_name(cspf_severity sev);

/*
 * Decode one UTF-8 character at `s` (`n` bytes left): its length, with
 * the code point in *cp, or 0 when the bytes there are not well-formed
 * UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
 */
size_t cspf_report__utf8_char(const unsigned char *s, size_t n,
	uint32_t *cp);

/*
 * Append `s` for a person to read on a terminal or in XML: control
 * characters (C0, DEL, C1), bidirectional overrides, the line and
 * paragraph separators and the non-characters U+FFFE/U+FFFF become
 * visible escapes ("\n", "\x1b", "\u202e"); a byte that is not UTF-8
 * becomes "\xNN".  The result is valid UTF-8 and valid XML 1.0 text.
 */
int cspf_report__put_text(cspf_buf *b, const char *s);

/*
 * Append `s` as valid UTF-8 for a JSON string: each byte that is not
 * well-formed UTF-8 becomes U+FFFD.  (The JSON printer escapes the rest.)
 */
int cspf_report__put_utf8(cspf_buf *b, const char *s);

/* Same as cspf_report__put_utf8, into a malloc'd string (NULL: no memory). */
char *cspf_report__utf8_dup(const char *s);

/*
 * Append the text line of one finding, newline included:
 *   path:line:col: error[rule]: message (at /pointer)
 * with ANSI colours when `color`.
 */
int cspf_report__text_line(cspf_buf *b, const char *path,
	const cspf_diag *d, int color);

/* Raise the error of a failed write to the report's FILE; returns -1. */
int cspf_report__write_error(void);

/* Write the buffer to `f`; 0, or -1 with the error raised. */
int cspf_report__write(FILE *f, const cspf_buf *b);

#endif
