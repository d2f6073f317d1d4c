/*
 * The text report: a line per finding, written as each file comes, and a
 * summary line at the end.
 */
#include "report/report_private.h"

#include "util/error.h"
#include "util/banned.h"

static int text_file(cspf_report *r, const char *path,
	const cspf_diags *diags)
{
	cspf_buf b = CSPF_BUF_INIT;
	size_t i;
	int error;

	for (i = 0; diags && i < diags->count; i++)
		cspf_report__text_line(&b, path, &diags->items[i], r->color);
	if (cspf_buf_oom(&b))
		error = cspf_error_set_oom();
	else
		error = cspf_report__write(r->f, &b);
	cspf_buf_dispose(&b);
	return error;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static int text_finish(cspf_report *r)
{
	const cspf_report_totals *t = &r->totals;
	cspf_buf b = CSPF_BUF_INIT;
	int error;

	if (!r->summary)
		return 0;
	cspf_buf_printf(&b, "%zu file%s checked, %zu with findings: "
		"%zu error%s, %zu warning%s", t->files, plural(t->files),
		t->with_findings, t->errors, plural(t->errors), t->warnings,
		plural(t->warnings));
	if (t->notes)
		cspf_buf_printf(&b, ", %zu note%s", t->notes, plural(t->notes));
	cspf_buf_putc(&b, '\n');
	if (cspf_buf_oom(&b))
		error = cspf_error_set_oom();
	else
		error = cspf_report__write(r->summary, &b);
	cspf_buf_dispose(&b);
	return error;
}

const struct cspf_report_ops cspf_report__text_ops = {
	NULL, text_file, text_finish, NULL,
};
