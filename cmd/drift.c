/*
 * cspf drift [DIR] --snapshot FILE [--rev R] [--format F] [--now TIME]
 *
 * The registry against what runs in the cloud (an inventory snapshot):
 * undocumented, stale and mismatched entries, and the live CSPF checks.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/drift.h"
#include "cspf/inventory.h"
#include "cspf/json.h"
#include "cspf/registry.h"
#include "cspf/report.h"
#include "cmd.h"
#include "cspf/time.h"

void cmd_drift_help(FILE *f)
{
	fputs(
"usage: cspf drift [DIR] (--snapshot FILE | --live) [--rev REV] [--format FMT] [--now TIME] [--quiet]\n"
"\n"
"Compare the registry (default: the current directory) with an inventory\n"
"snapshot made by 'cspf inventory', or with the cloud itself (--live, or\n"
"the word live: the inventory runs first, in memory), and run the live\n"
"CSPF checks on it:\n"
"\n"
"  drift/undocumented  in the cloud, not in the registry (CSPF 1.1)\n"
"  drift/stale         in the registry, gone from the cloud\n"
"  drift/mismatch      the two disagree: key id, creation date, versioning,\n"
"                      logging, classification tag, expiry\n"
"  CSPF-4.4            root access keys present\n"
"  CSPF-4.5            an active key older than its maximum age (the\n"
"                      credential's rotation.max_age, else the policy's\n"
"                      credential_max_age, else six months)\n"
"  CSPF-4.6            a console user, or the root user, without MFA\n"
"  CSPF-5.1            no multi-region trail with log file validation\n"
"  CSPF-7.6            a key, password or role unused for the policy's\n"
"                      unused_permission_window (default 90 days)\n"
"  CSPF-11.2           a red or blue bucket without logging or versioning\n"
"  inventory/error     an account that could not be read (a warning)\n"
"\n"
"Findings sit on the registry file where the fix goes, as\n"
"    path:line:col: error[rule-id]: message (at /pointer)\n"
"An exception of the registry (exceptions/*.json) whose rule and target\n"
"match, and that has not expired, waives a finding.\n"
"\n"
"Options:\n"
"  -s, --snapshot FILE   the inventory snapshot ('-': standard input)\n"
"      --live            inventory the cloud now (as cspf inventory does;\n"
"                        with --provider, --concurrency, --ca-file)\n"
"      --rev REV         read the registry from this commit's tree\n"
"  -f, --format FMT      text (default), json, sarif or junit\n"
"      --now TIME        judge ages as at this RFC 3339 time (default: now)\n"
"  -q, --quiet           no summary line\n"
"\n"
"Exit status: 0 no findings; 1 findings; 2 usage or environment error.\n",
		f);
}

static cspf_rule_info *rule_infos(size_t *n)
{
	const cspf_drift_rule *r = cspf_drift_rules(n);
	cspf_rule_info *info = calloc(*n, sizeof(*info));
	size_t i;

	for (i = 0; info && i < *n; i++) {
		info[i].id = r[i].id;
		info[i].name = r[i].name;
		info[i].short_description = r[i].description;
		info[i].help = r[i].description;
		info[i].default_severity = strcmp(r[i].id, "inventory/error") ?
			CSPF_SEVERITY_ERROR : CSPF_SEVERITY_WARNING;
	}
	return info;
}

int cmd_drift(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "snapshot", required_argument, NULL, 's' },
		{ "rev", required_argument, NULL, 'R' },
		{ "format", required_argument, NULL, 'f' },
		{ "now", required_argument, NULL, 'N' },
		{ "live", no_argument, NULL, 'L' },
		{ "provider", required_argument, NULL, 'P' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "ca-file", required_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cspf_registry_options ro = CSPF_REGISTRY_OPTIONS_INIT;
	cspf_report_options po = CSPF_REPORT_OPTIONS_INIT;
	cspf_drift_options dopts = CSPF_DRIFT_OPTIONS_INIT;
	cspf_diags diags = CSPF_DIAGS_INIT;
	cspf_drift_stats stats;
	cspf_registry *reg = NULL;
	cspf_json_doc *snap = NULL;
	cspf_rule_info *rules = NULL;
	const char *dir = ".", *snapshot = NULL;
	cspf_inventory_options io = CSPF_INVENTORY_OPTIONS_INIT;
	cspf_json_options jo = CSPF_JSON_OPTIONS_INIT;
	int c, quiet = 0, live = 0, rc = EXIT_TROUBLE;
	size_t nrules = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:f:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snapshot = optarg;
			break;
		case 'R':
			ro.rev = optarg;
			break;
		case 'f':
			if (cmd_parse_format(&po.format, "drift", optarg))
				return EXIT_TROUBLE;
			break;
		case 'N':
			if (cspf_time_parse(&dopts.now, optarg) < 0)
				return cmd_usage_error("drift", "--now takes an "
					"RFC 3339 time, such as "
					"2026-11-23T09:00:00Z");
			break;
		case 'L':
			live = 1;
			break;
		case 'P':
			if (cmd_parse_providers(&io.providers, "drift",
				    optarg))
				return EXIT_TROUBLE;
			break;
		case 'c':
			if (cmd_parse_count(&io.concurrency, "drift",
				    "--concurrency", optarg, 1, 1024))
				return EXIT_TROUBLE;
			break;
		case 'K':
			io.ca_file = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			cmd_drift_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("drift", "bad option");
		}
	}
	/* "cspf drift live": the word, as the issue writes it. */
	for (c = optind; c < argc; c++)
		if (!strcmp(argv[c], "live")) {
			live = 1;
			memmove(&argv[c], &argv[c + 1],
				(size_t)(argc - c - 1) * sizeof(*argv));
			argc--;
			break;
		}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		return cmd_usage_error("drift", "one registry at a time");
	if (!snapshot == !live)
		return cmd_usage_error("drift", "which inventory? --snapshot "
			"FILE (made by cspf inventory --out FILE), or --live");
	/* A snapshot of thousands of accounts is bigger than a registry
	 * file may be. */
	jo.max_size = (size_t)2 << 30;
	if (snapshot && cspf_json_load_file(&snap, snapshot, &jo) < 0) {
		cmd_print_error("snapshot");
		return EXIT_TROUBLE;
	}
	if (cspf_registry_load(&reg, dir, &ro) < 0) {
		cmd_print_error(NULL);
		goto out;
	}
	if (live) {
		char *buf = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&buf, &len);
		cspf_inventory_stats istats;
		int r;

		io.now = dopts.now;
		r = mem ? cspf_inventory_run(&istats, mem, reg, &io) : -1;
		if (mem)
			fclose(mem);
		if (r < 0 || cspf_json_parse_owned(&snap, buf, len,
				     "live inventory", &jo) < 0) {
			if (r >= 0)
				buf = NULL; /* the parser took it */
			free(buf);
			cmd_print_error("inventory");
			goto out;
		}
		if (!quiet && po.format == CSPF_REPORT_TEXT)
			fprintf(stderr, "cspf: %zu account%s inventoried, %zu "
				"with errors; %zu calls\n", istats.accounts,
				istats.accounts == 1 ? "" : "s",
				istats.failed, istats.calls);
	}
	if (cspf_registry_skipped(reg))
		fprintf(stderr, "cspf: %zu registry file%s could not be read "
			"and %s left out: see cspf validate\n",
			cspf_registry_skipped(reg),
			cspf_registry_skipped(reg) == 1 ? "" : "s",
			cspf_registry_skipped(reg) == 1 ? "is" : "are");
	if (cspf_drift(&diags, &stats, reg, cspf_json_doc_root(snap),
		    &dopts) < 0) {
		cmd_print_error(snapshot);
		goto out;
	}
	cspf_diags_sort(&diags);
	if (!(rules = rule_infos(&nrules))) {
		fputs("cspf: out of memory\n", stderr);
		goto out;
	}
	po.color = po.format == CSPF_REPORT_TEXT && cmd_use_color(stdout);
	po.base_dir = dir;
	po.rules = rules;
	po.nrules = nrules;
	po.summary = stderr;
	po.no_summary = 1;
	rc = cmd_report(&diags, &po);
	if (!quiet && po.format == CSPF_REPORT_TEXT && rc != EXIT_TROUBLE)
		fprintf(stderr, "cspf: %zu account%s compared (%zu not in "
			"full), %zu finding%s, %zu waived by exceptions\n",
			stats.accounts, stats.accounts == 1 ? "" : "s",
			stats.unreadable, diags.count,
			diags.count == 1 ? "" : "s", stats.waived);
out:
	free(rules);
	cspf_diags_clear(&diags);
	cspf_registry_free(reg);
	cspf_json_doc_free(snap);
	return rc;
}
