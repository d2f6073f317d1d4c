/*
 * The JSON report, written as it goes:
 *
 *   {
 *     "findings": [
 *       {"file": ..., "line": ..., "column": ..., "rule": ...,
 *        "severity": ..., "pointer": ..., "keyword": ...,
 *        "schemaLocation": ..., "message": ...},
 *       ...
 *     ],
 *     "summary": {"files": N, "withFindings": M, "errors": E,
 *                 "warnings": W, "notes": K}
 *   }
 *
 * One finding a line.  "line" and "column" are 0 when unknown; absent
 * strings are null.  Strings that are not UTF-8 get U+FFFD for each bad
 * byte, so the output is always valid JSON.
 */
#include "report/report_private.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "util/error.h"
#include "util/banned.h"

struct json_state {
	int any; /* a finding was written */
};

/* Add `s` (or null) under `key`; 0 or -1 when out of memory. */
static int add_str(cJSON *o, const char *key, const char *s)
{
	char *v;
	cJSON *item;

	if (!s)
		return cJSON_AddNullToObject(o, key) ? 0 : -1;
	v = cspf_report__utf8_dup(s);
	if (!v)
		return -1;
	item = cJSON_AddStringToObject(o, key, v);
	free(v);
	return item ? 0 : -1;
}

static int add_num(cJSON *o, const char *key, double n)
{
	return cJSON_AddNumberToObject(o, key, n) ? 0 : -1;
}

/* Print `o` unformatted after `lead`; frees `o`. */
static int write_obj(cspf_report *r, const char *lead, cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	int error = 0;

	cJSON_Delete(o);
	if (!s)
		return cspf_error_set_oom();
	if (fputs(lead, r->f) == EOF || fputs(s, r->f) == EOF)
		error = cspf_report__write_error();
	cJSON_free(s);
	return error;
}

static int json_begin(cspf_report *r)
{
	r->state = calloc(1, sizeof(struct json_state));
	if (!r->state)
		return cspf_error_set_oom();
	if (fputs("{\n  \"findings\": [", r->f) == EOF)
		return cspf_report__write_error();
	return 0;
}

static int json_file(cspf_report *r, const char *path,
	const cspf_diags *diags)
{
	struct json_state *st = r->state;
	size_t i;
	int error;

	for (i = 0; diags && i < diags->count; i++) {
		const cspf_diag *d = &diags->items[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || add_str(o, "file", d->file ? d->file : path) ||
			add_num(o, "line", d->line) ||
			add_num(o, "column", d->column) ||
			add_str(o, "rule", d->rule) ||
			add_str(o, "severity",
				cspf_report__severity_name(d->severity)) ||
			add_str(o, "pointer", d->pointer) ||
			add_str(o, "keyword", d->keyword) ||
			add_str(o, "schemaLocation", d->schema_location) ||
			add_str(o, "message", d->message)) {
			cJSON_Delete(o);
			return cspf_error_set_oom();
		}
		error = write_obj(r, st->any ? ",\n    " : "\n    ", o);
		if (error)
			return error;
		st->any = 1;
	}
	return 0;
}

static int json_finish(cspf_report *r)
{
	struct json_state *st = r->state;
	const cspf_report_totals *t = &r->totals;
	cJSON *o = cJSON_CreateObject();
	int error;

	if (!o || add_num(o, "files", (double)t->files) ||
		add_num(o, "withFindings", (double)t->with_findings) ||
		add_num(o, "errors", (double)t->errors) ||
		add_num(o, "warnings", (double)t->warnings) ||
		add_num(o, "notes", (double)t->notes)) {
		cJSON_Delete(o);
		return cspf_error_set_oom();
	}
	error = write_obj(r, st->any ? "\n  ],\n  \"summary\": " :
		"],\n  \"summary\": ", o);
	if (!error && fputs("\n}\n", r->f) == EOF)
		error = cspf_report__write_error();
	return error;
}

static void json_dispose(cspf_report *r)
{
	free(r->state);
	r->state = NULL;
}

const struct cspf_report_ops cspf_report__json_ops = {
	json_begin, json_file, json_finish, json_dispose,
};
