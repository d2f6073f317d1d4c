/*
 * cspf - reports: the findings of a run, written for a person or a tool.
 *
 * A report is fed one checked file at a time, with that file's findings
 * (possibly none), and finished once.  Four formats:
 *
 *   text   path:line:col: error[rule]: message (at /pointer), one a line,
 *          then "N files checked, M with findings: E errors, W warnings".
 *   json   {"findings": [...], "summary": {...}}, written as it goes.
 *   sarif  SARIF 2.1.0 as GitHub code scanning takes it (held in memory,
 *          written by cspf_report_finish()).
 *   junit  JUnit XML, one testcase per file (held in memory too).
 *
 * The library never prints: the report writes only to the FILEs it is
 * given.  Nothing of a document's values goes in unless a finding's
 * message holds it.
 */
#ifndef CSPF_REPORT_H
#define CSPF_REPORT_H

#include <stdio.h>

#include "common.h"
#include "diag.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	CSPF_REPORT_TEXT = 0,
	CSPF_REPORT_JSON,
	CSPF_REPORT_SARIF,
	CSPF_REPORT_JUNIT,
} cspf_report_format;

/*
 * What a rule is, for SARIF's tool.driver.rules[].  Only `id` is
 * required; a finding whose rule is not listed gets an entry with its id
 * alone.  `help` is plain text (cspf turns it into Markdown as well).
 */
typedef struct cspf_rule_info {
	const char *id;                /* e.g. "schema" */
	const char *name;              /* e.g. "SchemaViolation"; may be NULL */
	const char *short_description; /* one sentence */
	const char *help;              /* what to do about it */
	const char *help_uri;          /* absolute URI, or NULL */
	cspf_severity default_severity; /* defaultConfiguration.level */
} cspf_rule_info;

typedef struct cspf_report_options {
	unsigned int version;
	cspf_report_format format;
	int color;                /* text: ANSI colours (others: unused) */
	const char *tool_name;    /* NULL: "cspf" */
	const char *tool_version; /* NULL: CSPF_VERSION */
	/*
	 * SARIF: file paths are made relative to this directory (relative
	 * paths are taken from the working directory) and given with
	 * uriBaseId "SRCROOT", which originalUriBaseIds maps to
	 * file:///base_dir/.  A path outside it is given as an absolute
	 * file: URI.  NULL: relative paths are used as they are, relative
	 * to SRCROOT, with no originalUriBaseIds; absolute ones as file: URIs.
	 */
	const char *base_dir;
	const cspf_rule_info *rules; /* SARIF rule metadata; may be NULL */
	size_t nrules;
	const char *tool_information_uri; /* SARIF driver.informationUri */
	/* text: where the summary line goes (e.g. stderr); NULL: `f` too */
	FILE *summary;
	int no_summary; /* text: leave the summary line out altogether */
} cspf_report_options;

#define CSPF_REPORT_OPTIONS_VERSION 1
#define CSPF_REPORT_OPTIONS_INIT { CSPF_REPORT_OPTIONS_VERSION, \
	CSPF_REPORT_TEXT, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0 }

/* The tallies so far; a getter, so lent (valid until the report is freed). */
typedef struct cspf_report_totals {
	size_t files;         /* files reported */
	size_t with_findings; /* of those, files with at least one finding */
	size_t errors;
	size_t warnings;
	size_t notes;
} cspf_report_totals;

typedef struct cspf_report cspf_report;

/*
 * Start a report written to `f` (which stays the caller's: it is neither
 * closed nor freed).  Every string and the rules array in `opts` are
 * copied.  Returns 0, or CSPF_EINVALID for a bad option (unknown version
 * or format, a rule without an id, two rules with one id), -1 when out of
 * memory.  Text and JSON write their beginning right away.
 */
int cspf_report_new(cspf_report **out, FILE *f,
	const cspf_report_options *opts);

/*
 * One checked file: `path` as the user named it, and its findings
 * (`diags` may be NULL or empty for a clean file).  A finding's own
 * `file`, when set, is shown in place of `path`.  Text and JSON are
 * written at once; SARIF and JUnit are kept until cspf_report_finish().
 * Returns 0, -1 on a write error or when out of memory.
 */
int cspf_report_file(cspf_report *r, const char *path,
	const cspf_diags *diags);

/*
 * Write the summary, close the document and flush.  Returns 0, or -1 when
 * writing failed at any point of the report.  Call it once.
 */
int cspf_report_finish(cspf_report *r);

const cspf_report_totals *cspf_report_totals_get(const cspf_report *r);

void cspf_report_free(cspf_report *r);

#ifdef __cplusplus
}
#endif
#endif
