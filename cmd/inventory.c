/*
 * cspf inventory [DIR] [--provider P] [--account ID] [--out FILE]
 *                [--concurrency N] [--shard K/N]
 * cspf inventory --merge FILE... [--out FILE]
 * cspf inventory [DIR] --credential-report CSV --account ID
 *                [--authorization-details JSON] [--out FILE]
 * cspf inventory [DIR] --az-graph JSON [--out FILE]
 *
 * What really runs in the cloud, for every account of the registry, as a
 * snapshot for cspf drift.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cspf/inventory.h"
#include "cspf/json.h"
#include "cspf/registry.h"
#include "cspf/time.h"
#include "cmd.h"

void cmd_inventory_help(FILE *f)
{
	fputs(
"usage: cspf inventory [DIR] [--provider aws|azure|all] [--account ID] [--out FILE]\n"
"                      [--concurrency N] [--shard K/N] [--rev REV]\n"
"       cspf inventory --merge FILE... [--out FILE]\n"
"       cspf inventory [DIR] --credential-report CSV --account ID\n"
"                      [--authorization-details JSON] [--out FILE]\n"
"       cspf inventory [DIR] --az-graph JSON [--out FILE]\n"
"\n"
"Read what runs in the cloud for every account of the registry (default:\n"
"the current directory) and write it as one JSON snapshot for cspf drift\n"
"(format: docs/snapshot-format.md).  Never reads a secret's value.\n"
"\n"
"AWS: cspf's own credentials come from where the AWS CLI finds them\n"
"(AWS_ACCESS_KEY_ID..., AWS_PROFILE and ~/.aws/credentials, ~/.aws/config,\n"
"a web identity token file); in each account it assumes the role\n"
"providers.aws.inventory_role of cspf.json.  Endpoints: AWS_ENDPOINT_URL,\n"
"AWS_ENDPOINT_URL_<SERVICE>, or providers.aws.endpoint_url.\n"
"Azure: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; the sign-in\n"
"authority AZURE_AUTHORITY_HOST; providers.azure.endpoint_url and\n"
"graph_url for other clouds.\n"
"\n"
"Options:\n"
"      --provider P      aws, azure or all (default)\n"
"      --account ID      only this account (its id, or its registry id)\n"
"  -o, --out FILE        write the snapshot here (atomically), not to stdout\n"
"  -c, --concurrency N   HTTP requests at once (default 16)\n"
"      --shard K/N       only the K-th of N deterministic parts of the\n"
"                        accounts (N parallel jobs; merge with --merge)\n"
"      --merge FILE...   merge the shards' snapshots into one\n"
"      --credential-report CSV  offline: an IAM credential report (the\n"
"                        base64-decoded Content of get-credential-report)\n"
"      --authorization-details JSON  offline: get-account-authorization-details\n"
"      --az-graph JSON   offline: what az graph query printed\n"
"      --rev REV         read the registry from this commit's tree\n"
"      --ca-file FILE    trust these certificates too (PEM)\n"
"      --max-attempts N  tries of each call on throttling, 5xx and dropped\n"
"                        connections, with jittered backoff (default 6)\n"
"  -v, --verbose         one line per HTTP call on stderr\n"
"  -q, --quiet           no progress and no summary\n"
"\n"
"Exit status: 0 every account read; 1 the snapshot is written but some\n"
"accounts could not be read (in full); 2 usage or environment error.\n",
		f);
}

int cmd_parse_providers(unsigned *out, const char *cmd, const char *arg)
{
	if (!strcmp(arg, "aws"))
		*out = CSPF_INVENTORY_AWS;
	else if (!strcmp(arg, "azure"))
		*out = CSPF_INVENTORY_AZURE;
	else if (!strcmp(arg, "all"))
		*out = CSPF_INVENTORY_ALL;
	else
		return cmd_usage_error(cmd, "--provider is aws, azure or all");
	return 0;
}

struct progress {
	int tty;
	double last;
};

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void show(const cspf_inventory_progress *p, void *payload)
{
	struct progress *pr = payload;
	double t = now_s();

	if (!pr->tty || (t - pr->last < 0.1 &&
			    p->accounts_done < p->accounts_total))
		return;
	pr->last = t;
	fprintf(stderr, "\r\033[Kinventory: %zu/%zu accounts%s, %zu calls, "
		"%zu retries", p->accounts_done, p->accounts_total,
		p->accounts_failed ? " (some with errors)" : "", p->calls,
		p->retries);
	fflush(stderr);
}

static void trace(const cspf_http_trace *t, void *payload)
{
	(void)payload;
	fprintf(stderr, "cspf: %s %s%s%s -> %d%s%s (attempt %u, %.0f ms)%s\n",
		t->method, t->url, t->action ? " " : "",
		t->action ? t->action : "", t->status, t->error ? " " : "",
		t->error ? t->error : "", t->attempt, t->elapsed * 1000,
		t->retry_in >= 0 ? ", retrying" : "");
}

/* The snapshot goes to a temporary file beside FILE, renamed at the end. */
struct output {
	FILE *f;
	char *path, *tmp;
};

static int output_open(struct output *o, const char *path)
{
	int fd;

	o->path = NULL;
	o->tmp = NULL;
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (asprintf(&o->tmp, "%s.XXXXXX", path) < 0)
		return -1;
	fd = mkstemp(o->tmp);
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		fprintf(stderr, "cspf: cannot write '%s': %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	o->path = strdup(path);
	return 0;
}

static int output_close(struct output *o, int ok)
{
	int r = 0;

	if (o->f == stdout)
		return fflush(stdout) == EOF ? -1 : 0;
	if (fflush(o->f) == EOF || fsync(fileno(o->f)) < 0)
		ok = 0;
	fclose(o->f);
	if (ok && rename(o->tmp, o->path) < 0) {
		fprintf(stderr, "cspf: cannot write '%s': %s\n", o->path,
			strerror(errno));
		ok = 0;
	}
	if (!ok) {
		unlink(o->tmp);
		r = -1;
	}
	free(o->tmp);
	free(o->path);
	return r;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		fprintf(stderr, "cspf: cannot read '%s': %s\n", path,
			strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 1 > cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 131072);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (buf)
		buf[n] = '\0';
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

static int merge(char **files, int n, const char *out)
{
	cspf_json_doc **docs = calloc((size_t)n, sizeof(*docs));
	const cJSON **roots = calloc((size_t)n, sizeof(*roots));
	cspf_json_options jo = CSPF_JSON_OPTIONS_INIT;
	struct output o;
	int i, rc = EXIT_TROUBLE;

	if (!docs || !roots)
		goto out;
	jo.max_size = (size_t)2 << 30;
	for (i = 0; i < n; i++) {
		if (cspf_json_load_file(&docs[i], files[i], &jo) < 0) {
			cmd_print_error(NULL);
			goto out;
		}
		roots[i] = cspf_json_doc_root(docs[i]);
	}
	if (output_open(&o, out) < 0)
		goto out;
	if (cspf_inventory_merge(o.f, roots, (size_t)n) < 0) {
		cmd_print_error("merge");
		output_close(&o, 0);
		goto out;
	}
	rc = output_close(&o, 1) < 0 ? EXIT_TROUBLE : EXIT_CLEAN;
out:
	for (i = 0; docs && i < n; i++)
		cspf_json_doc_free(docs[i]);
	free(docs);
	free(roots);
	return rc;
}

int cmd_inventory(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "provider", required_argument, NULL, 'P' },
		{ "account", required_argument, NULL, 'A' },
		{ "out", required_argument, NULL, 'o' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "shard", required_argument, NULL, 'S' },
		{ "merge", no_argument, NULL, 'M' },
		{ "credential-report", required_argument, NULL, 'C' },
		{ "authorization-details", required_argument, NULL, 'D' },
		{ "az-graph", required_argument, NULL, 'G' },
		{ "rev", required_argument, NULL, 'R' },
		{ "ca-file", required_argument, NULL, 'K' },
		{ "now", required_argument, NULL, 'N' },
		{ "max-attempts", required_argument, NULL, 'X' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cspf_inventory_options io = CSPF_INVENTORY_OPTIONS_INIT;
	cspf_registry_options ro = CSPF_REGISTRY_OPTIONS_INIT;
	cspf_inventory_stats stats;
	cspf_registry *reg = NULL;
	struct progress pr = { 0, 0 };
	struct output o;
	const char *dir = ".", *out = NULL, *report = NULL, *details = NULL;
	const char *graph = NULL;
	int c, quiet = 0, verbose = 0, merging = 0, rc = EXIT_TROUBLE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:c:vqh", longopts, NULL)) !=
		-1) {
		switch (c) {
		case 'P':
			if (cmd_parse_providers(&io.providers, "inventory",
				    optarg))
				return EXIT_TROUBLE;
			break;
		case 'A':
			io.account = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			if (cmd_parse_count(&io.concurrency, "inventory",
				    "--concurrency", optarg, 1, 1024))
				return EXIT_TROUBLE;
			break;
		case 'S': {
			unsigned k, n;
			char extra;
			if (sscanf(optarg, "%u/%u%c", &k, &n, &extra) != 2 ||
			    n < 1 || k < 1 || k > n)
				return cmd_usage_error("inventory", "--shard "
					"takes K/N with 1 <= K <= N, such as "
					"2/8");
			io.shard = k;
			io.shards = n;
			break;
		}
		case 'M':
			merging = 1;
			break;
		case 'C':
			report = optarg;
			break;
		case 'D':
			details = optarg;
			break;
		case 'G':
			graph = optarg;
			break;
		case 'R':
			ro.rev = optarg;
			break;
		case 'K':
			io.ca_file = optarg;
			break;
		case 'N':
			if (cspf_time_parse(&io.now, optarg) < 0)
				return cmd_usage_error("inventory", "--now "
					"takes an RFC 3339 time");
			break;
		case 'X':
			if (cmd_parse_count(&io.max_attempts, "inventory",
				    "--max-attempts", optarg, 1, 50))
				return EXIT_TROUBLE;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			cmd_inventory_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("inventory", "bad option");
		}
	}
	if (merging) {
		if (optind >= argc)
			return cmd_usage_error("inventory", "--merge needs the "
				"snapshots to merge");
		return merge(argv + optind, argc - optind, out);
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		return cmd_usage_error("inventory", "one registry at a time");
	if ((report || details) && !io.account)
		return cmd_usage_error("inventory", "--credential-report needs "
			"--account ID: the report does not say whose it is");
	if (details && !report)
		return cmd_usage_error("inventory", "--authorization-details "
			"goes with --credential-report");
	if (cspf_registry_load(&reg, dir, &ro) < 0) {
		cmd_print_error(NULL);
		return EXIT_TROUBLE;
	}
	if (output_open(&o, out) < 0)
		goto out;
	if (report || graph) {
		size_t rlen = 0, dlen = 0, glen = 0;
		char *rbuf = report ? slurp(report, &rlen) : NULL;
		char *dbuf = details ? slurp(details, &dlen) : NULL;
		char *gbuf = graph ? slurp(graph, &glen) : NULL;
		cspf_json_doc *ddoc = NULL, *gdoc = NULL;
		int r = -1;

		if ((report && !rbuf) || (details && !dbuf) ||
		    (graph && !gbuf))
			;
		else if (details && cspf_json_parse(&ddoc, dbuf, dlen,
					    details, NULL) < 0)
			cmd_print_error(NULL);
		else if (graph && cspf_json_parse(&gdoc, gbuf, glen, graph,
					  NULL) < 0)
			cmd_print_error(NULL);
		else if (report && (r = cspf_inventory_aws_offline(o.f, reg,
					    io.account, rbuf, rlen,
					    ddoc ? cspf_json_doc_root(ddoc) :
						   NULL,
					    io.now)) < 0)
			cmd_print_error(report);
		else if (graph && (r = cspf_inventory_azure_offline(o.f, reg,
					   cspf_json_doc_root(gdoc),
					   io.now)) < 0)
			cmd_print_error(graph);
		cspf_json_doc_free(ddoc);
		cspf_json_doc_free(gdoc);
		free(rbuf);
		free(dbuf);
		free(gbuf);
		rc = output_close(&o, r == 0) < 0 || r < 0 ? EXIT_TROUBLE :
							     EXIT_CLEAN;
		goto out;
	}
	pr.tty = !quiet && isatty(STDERR_FILENO);
	io.progress = show;
	io.progress_payload = &pr;
	if (verbose) {
		io.trace = trace;
		pr.tty = 0;
	}
	if (cspf_inventory_run(&stats, o.f, reg, &io) < 0) {
		if (pr.tty)
			fputc('\n', stderr);
		cmd_print_error(NULL);
		output_close(&o, 0);
		goto out;
	}
	if (pr.tty)
		fputc('\n', stderr);
	if (output_close(&o, 1) < 0)
		goto out;
	if (!quiet)
		fprintf(stderr, "cspf: %zu account%s inventoried, %zu with "
			"errors; %zu calls, %zu retried\n", stats.accounts,
			stats.accounts == 1 ? "" : "s", stats.failed,
			stats.calls, stats.retries);
	rc = stats.failed ? EXIT_FINDINGS : EXIT_CLEAN;
out:
	cspf_registry_free(reg);
	return rc;
}
