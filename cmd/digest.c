/*
 * cspf digest: the fortnightly review digest (CSPF 7.7).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "cspf/digest.h"
#include "cspf/registry.h"
#include "cspf/time.h"

#define MAX_SOURCES CSPF_DIGEST_MAX_SOURCES

void cmd_digest_help(FILE *f)
{
	size_t i;

	fputs(
"usage: cspf digest [DIR] [--period START/P14D | --previous]\n"
"                   [--sources SRC[,SRC...]]... [--sink SINK] [--dry-run]\n"
"                   [--follow-up] [--read-only] [--inventory SNAPSHOT]\n"
"                   [--now TIME] [--ca-file PEM]\n"
"                   [--max-attempts N] [--rate N] [--format text|json] [-q]\n"
"\n"
"The fortnightly review digest (CSPF 7.7): reads what happened in the\n"
"period, attributes every event to the owners the registry in DIR\n"
"(default: .) names, and opens one ticket per recipient and report, due\n"
"five days later: actions against resources (to the resource's owner),\n"
"actions by roles and users assigned to roles (to the role's owner),\n"
"actions by their accounts (to each user), roles assigned to users (to\n"
"their manager), and what could not be attributed (to the account's\n"
"escalation contact).  A re-run updates its tickets, never duplicates\n"
"them.  docs/digest.md has the rules.\n"
"\n"
"  --period S/D        the period: START (a date) and a duration, e.g.\n"
"                      2026-11-16/P14D; default: the one holding now,\n"
"                      aligned to cspf.json digest.anchor (2024-01-01)\n"
"  --previous          the period before that one\n"
"  --sources LIST      where events come from (repeatable, comma-\n"
"                      separated; default: git,audit):\n", f);
	for (i = 0; i < cspf_digest_source_count(); i++) {
		const char *name, *summary;

		cspf_digest_source_info(i, &name, &summary);
		fprintf(f, "                        %-15s %s\n", name,
			summary ? summary : "");
	}
	fputs(
"  --sink SINK         files:DIR, github:OWNER/REPO (GITHUB_TOKEN,\n"
"                      GITHUB_API_URL), jira:URL/PROJECT (JIRA_API_TOKEN,\n"
"                      JIRA_USER), or a ticket_sinks name of cspf.json;\n"
"                      default: each team's sink, else the default one\n"
"  --dry-run           print the tickets it would open; open none\n"
"  --follow-up         instead: escalate the previous period's tickets\n"
"                      still open past their due date, and give each\n"
"                      team's completion rate\n"
"  --read-only         keep read-only events (Get*, List*, ...) too\n"
"  --inventory FILE    a cspf inventory snapshot: the IAM users each\n"
"                      role's trust policy names are its users too\n"
"  --now TIME          the time to run at (RFC 3339), for tests\n"
"  --ca-file PEM       certificates to trust besides the system's\n"
"  --max-attempts N    tries of each API call (6)\n"
"  --rate N            API sources: calls per second (CloudTrail: 2)\n"
"  --format F          text (default) or json\n"
"  -q, --quiet         print only tickets that failed, and then the summary\n"
"\n"
"Exit status: 0 every ticket opened or up to date; 1 some input was\n"
"malformed (each named, the rest read), a source or ticket failed, or a\n"
"follow-up found overdue tickets; 2 usage or environment error.\n", f);
}

struct out {
	bool json, quiet, progress;
	cJSON *tickets;         /* --format json */
	size_t shown;
};

static const char *outcome_name(cspf_digest_outcome o)
{
	switch (o) {
	case CSPF_DIGEST_WOULD_OPEN: return "would open";
	case CSPF_DIGEST_CREATED: return "created";
	case CSPF_DIGEST_UPDATED: return "updated";
	case CSPF_DIGEST_FAILED: return "failed";
	case CSPF_DIGEST_OVERDUE: return "overdue";
	case CSPF_DIGEST_ESCALATED: return "escalated";
	}
	return "?";
}

static void on_ticket(const cspf_digest_ticket_info *t, void *payload)
{
	struct out *o = payload;
	char due[CSPF_TIME_BUFSIZE] = "";

	if (t->due)
		cspf_time_format(due, t->due);
	if (o->json) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "result", outcome_name(t->outcome));
		cJSON_AddStringToObject(j, "kind", t->kind);
		cJSON_AddStringToObject(j, "recipient", t->recipient);
		if (t->team)
			cJSON_AddStringToObject(j, "team", t->team);
		if (t->sink)
			cJSON_AddStringToObject(j, "sink", t->sink);
		if (t->id)
			cJSON_AddStringToObject(j, "id", t->id);
		if (t->url)
			cJSON_AddStringToObject(j, "url", t->url);
		if (t->title)
			cJSON_AddStringToObject(j, "title", t->title);
		if (t->outcome != CSPF_DIGEST_OVERDUE &&
		    t->outcome != CSPF_DIGEST_ESCALATED)
			cJSON_AddNumberToObject(j, "events", (double)t->events);
		if (t->due)
			cJSON_AddStringToObject(j, "due", due);
		if (t->error)
			cJSON_AddStringToObject(j, "error", t->error);
		cJSON_AddItemToArray(o->tickets, j);
		return;
	}
	if (o->progress)
		fputs("\r\033[K", stderr);
	if (o->quiet && t->outcome != CSPF_DIGEST_FAILED)
		return;
	if (o->shown++ == 0)
		printf("%-10s %-16s %-40s %7s  %-10s  %s\n", "RESULT", "KIND",
			"RECIPIENT", "EVENTS", "DUE", "TICKET");
	{
		char events[32] = "-";

		if (t->outcome != CSPF_DIGEST_OVERDUE &&
		    t->outcome != CSPF_DIGEST_ESCALATED)
			snprintf(events, sizeof(events), "%zu", t->events);
		printf("%-10s %-16s %-40s %7s  %.10s  %s%s%s\n",
			outcome_name(t->outcome), t->kind, t->recipient,
			events, due, t->id ? t->id : "",
			t->url && t->id ? " " : "", t->url ? t->url : "");
	}
	if (t->error)
		printf("           %s\n", t->error);
	fflush(stdout);
}

static void on_progress(const cspf_digest_progress *p, void *payload)
{
	struct out *o = payload;

	if (!o->progress)
		return;
	if (strcmp(p->phase, "reading") == 0)
		fprintf(stderr, "\r\033[Kreading %s: %zu events",
			p->source ? p->source : "", p->events);
	else
		fprintf(stderr, "\r\033[K%s: %zu of %zu tickets", p->phase,
			p->tickets_done, p->tickets_total);
	fflush(stderr);
}

static void print_diags(const cspf_diags *diags)
{
	size_t i;

	for (i = 0; i < diags->count; i++) {
		const cspf_diag *d = &diags->items[i];

		fprintf(stderr, "cspf digest: ");
		if (d->file) {
			fprintf(stderr, "%s", d->file);
			if (d->line)
				fprintf(stderr, ":%u:%u", d->line, d->column);
			fputs(": ", stderr);
		}
		if (d->pointer && *d->pointer)
			fprintf(stderr, "%s: ", d->pointer);
		fprintf(stderr, "%s\n", d->message ? d->message : "");
	}
}

static cJSON *diags_json(const cspf_diags *diags)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; arr && i < diags->count; i++) {
		const cspf_diag *d = &diags->items[i];
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "rule", d->rule ? d->rule : "");
		if (d->file)
			cJSON_AddStringToObject(j, "file", d->file);
		if (d->line) {
			cJSON_AddNumberToObject(j, "line", d->line);
			cJSON_AddNumberToObject(j, "column", d->column);
		}
		if (d->pointer)
			cJSON_AddStringToObject(j, "pointer", d->pointer);
		cJSON_AddStringToObject(j, "message",
			d->message ? d->message : "");
		cJSON_AddItemToArray(arr, j);
	}
	return arr;
}

static void print_summary(const cspf_digest_result *res, bool follow_only)
{
	size_t i;

	for (i = 0; i < res->source_count; i++) {
		const cspf_digest_source_result *s = &res->sources[i];

		printf("source %s: ", s->name);
		if (s->failed)
			printf("FAILED (above); ");
		if (s->files)
			printf("%zu files, ", s->files);
		if (s->calls)
			printf("%zu calls, ", s->calls);
		printf("%zu records, %zu events in the period, %zu left out",
			s->records, s->events, s->skipped);
		if (s->bad)
			printf(", %zu malformed", s->bad);
		printf("\n");
	}
	if (!follow_only) {
		printf("period %s: %zu events, %zu attributed, %zu to "
			"escalation contacts\n", res->period, res->events,
			res->attributed, res->unattributed);
		printf("%zu tickets: %zu created, %zu updated, %zu failed\n",
			res->tickets, res->created, res->updated, res->failed);
	}
	if (res->follow_up_period[0]) {
		printf("follow-up of %s: %zu overdue, %zu escalated now\n",
			res->follow_up_period, res->overdue, res->escalated);
		if (res->team_count)
			printf("%-24s %6s %6s %7s %9s %5s\n", "TEAM", "OPENED",
				"CLOSED", "OVERDUE", "ESCALATED", "DONE");
		for (i = 0; i < res->team_count; i++) {
			const cspf_digest_team_result *t = &res->teams[i];

			printf("%-24s %6zu %6zu %7zu %9zu %4zu%%\n", t->team,
				t->opened, t->closed, t->overdue, t->escalated,
				t->opened ? 100 * t->closed / t->opened : 0);
		}
	}
}

static cJSON *result_json(const cspf_digest_result *res)
{
	cJSON *o = cJSON_CreateObject(), *arr, *j;
	size_t i;

	cJSON_AddStringToObject(o, "period", res->period);
	arr = cJSON_AddArrayToObject(o, "sources");
	for (i = 0; i < res->source_count; i++) {
		const cspf_digest_source_result *s = &res->sources[i];

		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "source", s->name);
		cJSON_AddBoolToObject(j, "failed", s->failed);
		cJSON_AddNumberToObject(j, "files", (double)s->files);
		cJSON_AddNumberToObject(j, "calls", (double)s->calls);
		cJSON_AddNumberToObject(j, "records", (double)s->records);
		cJSON_AddNumberToObject(j, "events", (double)s->events);
		cJSON_AddNumberToObject(j, "skipped", (double)s->skipped);
		cJSON_AddNumberToObject(j, "malformed", (double)s->bad);
		cJSON_AddItemToArray(arr, j);
	}
	cJSON_AddNumberToObject(o, "events", (double)res->events);
	cJSON_AddNumberToObject(o, "attributed", (double)res->attributed);
	cJSON_AddNumberToObject(o, "unattributed", (double)res->unattributed);
	j = cJSON_AddObjectToObject(o, "counts");
	cJSON_AddNumberToObject(j, "tickets", (double)res->tickets);
	cJSON_AddNumberToObject(j, "created", (double)res->created);
	cJSON_AddNumberToObject(j, "updated", (double)res->updated);
	cJSON_AddNumberToObject(j, "failed", (double)res->failed);
	if (res->follow_up_period[0]) {
		cJSON *f = cJSON_AddObjectToObject(o, "follow_up");

		cJSON_AddStringToObject(f, "period", res->follow_up_period);
		cJSON_AddNumberToObject(f, "overdue", (double)res->overdue);
		cJSON_AddNumberToObject(f, "escalated", (double)res->escalated);
		arr = cJSON_AddArrayToObject(f, "teams");
		for (i = 0; i < res->team_count; i++) {
			const cspf_digest_team_result *t = &res->teams[i];

			j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "team", t->team);
			cJSON_AddNumberToObject(j, "opened", (double)t->opened);
			cJSON_AddNumberToObject(j, "closed", (double)t->closed);
			cJSON_AddNumberToObject(j, "overdue",
				(double)t->overdue);
			cJSON_AddNumberToObject(j, "escalated",
				(double)t->escalated);
			cJSON_AddItemToArray(arr, j);
		}
	}
	return o;
}

int cmd_digest(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "previous", no_argument, NULL, 'P' },
		{ "sources", required_argument, NULL, 's' },
		{ "source", required_argument, NULL, 's' },
		{ "sink", required_argument, NULL, 'k' },
		{ "inventory", required_argument, NULL, 'I' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "follow-up", no_argument, NULL, 'F' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "now", required_argument, NULL, 'N' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "max-attempts", required_argument, NULL, 'M' },
		{ "rate", required_argument, NULL, 'R' },
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cspf_digest_options o = CSPF_DIGEST_OPTIONS_INIT;
	cspf_registry_options rgo = CSPF_REGISTRY_OPTIONS_INIT;
	cspf_digest_result res;
	cspf_diags diags = CSPF_DIAGS_INIT;
	const char *sources[MAX_SOURCES];
	char *lists[MAX_SOURCES];
	size_t nsources = 0, nlists = 0, i;
	struct out out = { 0 };
	cspf_registry *reg = NULL;
	const char *dir = ".";
	unsigned n;
	int c, rc = EXIT_TROUBLE;

	memset(&res, 0, sizeof(res));
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.period = optarg;
			break;
		case 'P':
			o.previous = true;
			break;
		case 's':
			{
				char *list, *tok, *save = NULL;

				if (nlists >= MAX_SOURCES ||
				    !(list = strdup(optarg))) {
					rc = cmd_usage_error("digest",
						"at most %d sources",
						MAX_SOURCES);
					goto done;
				}
				lists[nlists++] = list;
				for (tok = strtok_r(list, ",", &save); tok;
				     tok = strtok_r(NULL, ",", &save)) {
					if (nsources >= MAX_SOURCES) {
						rc = cmd_usage_error("digest",
							"at most %d sources",
							MAX_SOURCES);
						goto done;
					}
					sources[nsources++] = tok;
				}
			}
			break;
		case 'k':
			o.sink = optarg;
			break;
		case 'I':
			o.inventory = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'F':
			o.follow_up_only = true;
			break;
		case 'r':
			o.read_only = true;
			break;
		case 'N':
			if (cspf_time_parse(&o.now, optarg) < 0) {
				rc = cmd_usage_error("digest", "--now: \"%s\" "
					"is not an RFC 3339 time", optarg);
				goto done;
			}
			break;
		case 'c':
			o.ca_file = optarg;
			break;
		case 'M':
			if (cmd_parse_count(&n, "digest", "--max-attempts",
			    optarg, 1, 20))
				goto done;
			o.max_attempts = n;
			break;
		case 'R':
			if (cmd_parse_count(&n, "digest", "--rate", optarg, 1,
			    1000))
				goto done;
			o.rate = n;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0) {
				out.json = true;
			} else if (strcmp(optarg, "text") != 0) {
				rc = cmd_usage_error("digest",
					"--format is text or json");
				goto done;
			}
			break;
		case 'q':
			out.quiet = true;
			break;
		case 'h':
			cmd_digest_help(stdout);
			rc = EXIT_CLEAN;
			goto done;
		default:
			rc = cmd_usage_error("digest", "see cspf digest --help");
			goto done;
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc) {
		rc = cmd_usage_error("digest", "one registry directory at most");
		goto done;
	}
	if (o.period && o.previous) {
		rc = cmd_usage_error("digest", "--period or --previous, not "
			"both");
		goto done;
	}

	o.registry_dir = dir;
	o.sources = sources;
	o.source_count = nsources;
	o.on_ticket = on_ticket;
	o.ticket_payload = &out;
	o.progress = on_progress;
	o.progress_payload = &out;
	out.progress = !out.json && !out.quiet && isatty(STDERR_FILENO);
	if (out.json)
		out.tickets = cJSON_CreateArray();
	signal(SIGPIPE, SIG_IGN);

	if (cspf_registry_load(&reg, dir, &rgo) < 0) {
		cmd_print_error("digest: ");
		goto done;
	}
	if (cspf_registry_skipped(reg))
		fprintf(stderr, "cspf digest: %zu files of the registry could "
			"not be read; run cspf validate\n",
			cspf_registry_skipped(reg));
	if (cspf_digest_run(&res, &diags, reg, &o) < 0) {
		if (out.progress)
			fputs("\r\033[K", stderr);
		print_diags(&diags);
		cmd_print_error("digest: ");
		goto done;
	}
	if (out.progress)
		fputs("\r\033[K", stderr);
	print_diags(&diags);
	if (out.json) {
		cJSON *r = result_json(&res);
		char *text;

		cJSON_AddItemToObject(r, "tickets", out.tickets);
		out.tickets = NULL;
		cJSON_AddItemToObject(r, "problems", diags_json(&diags));
		if ((text = cJSON_Print(r)))
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(r);
	} else if (!out.quiet || res.failed) {
		if (out.shown)
			printf("\n");
		print_summary(&res, o.follow_up_only);
	}
	rc = diags.count || res.failed || res.overdue ? EXIT_FINDINGS :
		EXIT_CLEAN;
	for (i = 0; i < res.source_count; i++)
		if (res.sources[i].failed)
			rc = EXIT_FINDINGS;
done:
	if (fflush(stdout) != 0 && rc != EXIT_TROUBLE)
		rc = EXIT_TROUBLE;
	cJSON_Delete(out.tickets);
	cspf_digest_result_dispose(&res);
	cspf_diags_clear(&diags);
	cspf_registry_free(reg);
	for (i = 0; i < nlists; i++)
		free(lists[i]);
	return rc;
}
