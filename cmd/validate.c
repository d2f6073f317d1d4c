/*
 * cspf validate [DIR] [--rev R] [--base R] [--format F] [--jobs N]
 *
 * The registry's check on every commit: schemas, references, duplicate
 * ids, files of no kind, symbolic links; every finding of every file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/registry.h"
#include "cspf/report.h"
#include "cmd.h"


void cmd_validate_help(FILE *f)
{
	fputs(
"usage: cspf validate [DIR] [--rev REV] [--base REV] [--format FMT] [--jobs N] [--quiet]\n"
"\n"
"Validate a registry (default: the current directory): every file against\n"
"the schema of its kind, every reference, duplicate ids, files that belong\n"
"to no kind, symbolic links.  Findings are printed as\n"
"    path:line:col: error[rule-id]: message (at /pointer)\n"
"\n"
"Options:\n"
"      --rev REV         read the registry from this commit's tree, not the\n"
"                        work tree (no checkout: works in a bare repository\n"
"                        and in a pre-receive hook)\n"
"      --base REV        check only what changed since REV, and whatever a\n"
"                        deleted or renamed file could break\n"
"  -f, --format FMT      text (default), json, sarif or junit\n"
"  -j, --jobs N          threads (default: the number of cores)\n"
"      --no-formats      \"format\" as an annotation only\n"
"  -q, --quiet           no summary line\n"
"\n"
"Exit status: 0 no findings; 1 findings; 2 usage or environment error.\n",
		f);
}

static const cspf_rule_info rules[] = {
	{ "schema", "SchemaViolation", "The document does not match the "
	  "schema of its kind.", "Fix the value at the location shown; "
	  "docs/registry-format.md describes every field.", NULL,
	  CSPF_SEVERITY_ERROR },
	{ "json", "MalformedJson", "The file is not valid JSON.",
	  "Fix the syntax at the line and column shown.", NULL,
	  CSPF_SEVERITY_ERROR },
	{ "dangling-reference", "DanglingReference", "A reference names an "
	  "entity the registry does not have.", "Create the entity, or "
	  "correct the reference.", NULL, CSPF_SEVERITY_ERROR },
	{ "duplicate-id", "DuplicateId", "Two entries claim the same "
	  "identity.", "Keep one entry per account or credential.", NULL,
	  CSPF_SEVERITY_ERROR },
	{ "unknown-kind", "UnknownKind", "The file belongs to no kind of the "
	  "registry.", "Move it under accounts/, credentials/, assets/<kind>/, "
	  "teams/ or exceptions/.", NULL, CSPF_SEVERITY_ERROR },
	{ "symlink", "SymbolicLink", "A symbolic link in the registry.",
	  "Replace the link with the file.", NULL, CSPF_SEVERITY_ERROR },
	{ "unreadable", "Unreadable", "The file could not be read.",
	  "Check its permissions and size.", NULL, CSPF_SEVERITY_ERROR },
};

int cmd_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rev", required_argument, NULL, 'R' },
		{ "base", required_argument, NULL, 'B' },
		{ "format", required_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "no-formats", no_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cspf_registry_options ro = CSPF_REGISTRY_OPTIONS_INIT;
	cspf_report_options po = CSPF_REPORT_OPTIONS_INIT;
	cspf_registry_stats stats;
	cspf_diags diags = CSPF_DIAGS_INIT;
	const char *dir = ".";
	int c, quiet = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
			ro.rev = optarg;
			break;
		case 'B':
			ro.base = optarg;
			break;
		case 'f':
			if (cmd_parse_format(&po.format, "validate", optarg))
				return EXIT_TROUBLE;
			break;
		case 'j':
			if (cmd_parse_count(&ro.jobs, "validate", "--jobs",
				    optarg, 1, 256))
				return EXIT_TROUBLE;
			break;
		case 'F':
			ro.format_assert = 0;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			cmd_validate_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("validate", "bad option");
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		return cmd_usage_error("validate", "one registry at a time");
	if (cspf_registry_validate(&diags, &stats, dir, &ro) < 0) {
		cmd_print_error(NULL);
		cspf_diags_clear(&diags);
		return EXIT_TROUBLE;
	}
	po.color = po.format == CSPF_REPORT_TEXT && cmd_use_color(stdout);
	po.base_dir = dir;
	po.rules = rules;
	po.nrules = sizeof(rules) / sizeof(rules[0]);
	po.summary = stderr;
	po.no_summary = 1; /* ours, below, counts every file checked */
	rc = cmd_report(&diags, &po);
	if (!quiet && po.format == CSPF_REPORT_TEXT)
		fprintf(stderr, "cspf: %zu files, %zu entities, %zu checked, "
			"%zu finding%s\n", stats.files, stats.entities,
			stats.checked, diags.count,
			diags.count == 1 ? "" : "s");
	cspf_diags_clear(&diags);
	return rc;
}
