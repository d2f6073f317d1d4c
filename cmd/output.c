/*
 * What the commands that report findings share: --format, and printing
 * the findings one report entry per file.
 */
#include <string.h>

#include "cmd.h"

int cmd_parse_format(cspf_report_format *out, const char *cmd,
	const char *arg)
{
	if (!strcmp(arg, "text"))
		*out = CSPF_REPORT_TEXT;
	else if (!strcmp(arg, "json"))
		*out = CSPF_REPORT_JSON;
	else if (!strcmp(arg, "sarif"))
		*out = CSPF_REPORT_SARIF;
	else if (!strcmp(arg, "junit"))
		*out = CSPF_REPORT_JUNIT;
	else
		return cmd_usage_error(cmd, "unknown --format '%s' (text, "
			"json, sarif or junit)", arg);
	return 0;
}

int cmd_report(const cspf_diags *diags, const cspf_report_options *po)
{
	cspf_report *rep = NULL;
	size_t i, start;
	int rc;

	if (cspf_report_new(&rep, stdout, po) < 0) {
		cmd_print_error(NULL);
		return EXIT_TROUBLE;
	}
	for (i = 0; i < diags->count; i = start) {
		const char *file = diags->items[i].file ?
			diags->items[i].file : "";
		cspf_diags one;
		for (start = i + 1; start < diags->count &&
		     !strcmp(diags->items[start].file ?
				     diags->items[start].file : "", file);
		     start++)
			;
		one.items = &diags->items[i];
		one.count = one.alloc = start - i;
		cspf_report_file(rep, file, &one);
	}
	rc = cspf_report_finish(rep) < 0 ? EXIT_TROUBLE :
		diags->count ? EXIT_FINDINGS : EXIT_CLEAN;
	if (rc == EXIT_TROUBLE)
		cmd_print_error(NULL);
	cspf_report_free(rep);
	return rc;
}
