/*
 * cspf rotate: rotate the registry's static credentials that are due,
 * through their vaults, then record it in the registry.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "cspf/audit.h"
#include "cspf/registry.h"
#include "cspf/rotate.h"
#include "cspf/time.h"

#define MAX_IDS 1024

struct events {
	pthread_mutex_t lock;
	bool verbose;
	bool progress;           /* a line on a TTY, redrawn */
	size_t started, rotated, failed, due;
	cspf_audit_log *audit;
	const char *actor;
	size_t audit_failures;
};

void cmd_rotate_help(FILE *f)
{
	fputs(
"usage: cspf rotate [DIR] [--plan] [--due-within P14D] [--credential ID]...\n"
"                   [--compromised ID]... [--concurrency N] [--commit]\n"
"                   [--push REMOTE] [--author 'NAME <EMAIL>'] [--now TIME]\n"
"                   [--claim-ttl SECONDS] [--ca-file PEM] [--format text|json]\n"
"                   [-v] [-q]\n"
"\n"
"Rotates every static credential of the registry in DIR (default: .)\n"
"that is due - inside its notice window before credential_expires, or\n"
"past rotation.max_age - through the vault that holds it: create,\n"
"stage as pending, set, test, promote to current, retire the old one.\n"
"Then it writes the new credential_generated, credential_expires and key\n"
"id into the registry's files (--commit commits them with libgit2).\n"
"A run also finishes, or undoes, whatever an earlier run left half done.\n"
"\n"
"  --plan              print what would rotate and why; change nothing\n"
"  --due-within P      rotate what falls due within P (replaces each\n"
"                      credential's notice), e.g. P30D\n"
"  --credential ID     rotate this credential now (repeatable), e.g.\n"
"                      credentials/aws/ops#svc-deploy; only these\n"
"  --compromised ID    rotate now and delete the old secret at once (no\n"
"                      grace period); recorded as an incident (CSPF 3.4)\n"
"  --concurrency N     credentials rotated at once (default 4)\n"
"  --commit            commit the registry's changes through libgit2\n"
"  --push REMOTE       push the commit (implies --commit)\n"
"  --author 'N <E>'    the commit's author (default: git's user)\n"
"  --now TIME          the time to plan with (RFC 3339), for tests\n"
"  --claim-ttl S       seconds a run's claim on a credential lasts (900)\n"
"  --ca-file PEM       certificates to trust besides the system's\n"
"  --max-attempts N    tries of each call to a vault or cloud API (6)\n"
"  --format F          text (default) or json, for the summary\n"
"\n"
"Exit status: 0 all rotations done (or nothing due), 1 a rotation failed\n"
"(the summary says why and what state it was left in), 2 usage or\n"
"environment error.\n", f);
}

/* Every step of every rotation: a signed record in the audit log. */
static void on_event(const cspf_rotate_event *ev, void *payload)
{
	struct events *e = payload;
	cspf_audit_record rec = CSPF_AUDIT_RECORD_INIT;
	char detail[CSPF_AUDIT_DETAIL_MAX + 1];
	size_t n;

	rec.time = ev->time;
	rec.actor = e->actor;
	rec.credential = ev->item->entity->id;
	rec.rotation = ev->rotation_id;
	rec.step = ev->step;
	rec.outcome = ev->outcome;
	rec.key_old = ev->old_key_id;
	rec.key_new = ev->new_key_id;
	if (ev->detail) {
		/* Cut at a character boundary, control characters out. */
		snprintf(detail, sizeof(detail), "%s", ev->detail);
		n = strlen(detail);
		while (n && ((unsigned char)detail[n - 1] & 0xc0) == 0x80)
			n--;
		if (n && (unsigned char)detail[n - 1] >= 0xc0)
			n--;
		if (strlen(ev->detail) >= sizeof(detail))
			detail[n] = '\0';
		for (n = 0; detail[n]; n++)
			if ((unsigned char)detail[n] < 0x20)
				detail[n] = ' ';
		rec.detail = detail;
	}
	if (e->audit && cspf_audit_append(NULL, e->audit, &rec) < 0) {
		pthread_mutex_lock(&e->lock);
		e->audit_failures++;
		cmd_print_error("rotate: audit log: ");
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_lock(&e->lock);
	if (e->verbose)
		fprintf(stderr, "cspf rotate: %s: %s %s%s%s\n",
			ev->item->entity->id, ev->step, ev->outcome,
			ev->detail ? ": " : "", ev->detail ? ev->detail : "");
	if (e->progress) {
		if (!strcmp(ev->step, "claim"))
			e->started++;
		else if (!strcmp(ev->step, "promote") &&
			 !strcmp(ev->outcome, "ok"))
			e->rotated++;
		else if (!strcmp(ev->outcome, "failed"))
			e->failed++;
		fprintf(stderr, "\rcspf rotate: %zu of %zu due started, %zu rotated, %zu failed ",
			e->started, e->due, e->rotated, e->failed);
	}
	pthread_mutex_unlock(&e->lock);
}

/* The audit log files (audit/YYYY-MM.jsonl), to commit with the rest. */
static int audit_files(char ***files, size_t *nfiles, const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/audit", dir);
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **grown;

		if (len < 7 || strcmp(de->d_name + len - 6, ".jsonl") != 0)
			continue;
		if (!(grown = realloc(*files, (*nfiles + 2) * sizeof(*grown))))
			break;
		*files = grown;
		snprintf(path, sizeof(path), "audit/%s", de->d_name);
		if (!((*files)[*nfiles] = strdup(path)))
			break;
		(*nfiles)++;
	}
	closedir(d);
	return 0;
}

static const char *fmt_time(char buf[CSPF_TIME_BUFSIZE], int64_t t)
{
	if (!t)
		return "-";
	cspf_time_format(buf, t);
	return buf;
}

static void print_plan_text(const cspf_rotate_plan *plan, bool all)
{
	char due[CSPF_TIME_BUFSIZE];
	size_t i;

	printf("%-52s %-18s %-10s %-20s %s\n", "CREDENTIAL", "ROTATOR", "VAULT",
		"DUE", "REASON");
	for (i = 0; i < plan->count; i++) {
		const cspf_rotate_item *it = &plan->items[i];

		if (!all && it->reason == CSPF_ROTATE_NOT_DUE)
			continue;
		printf("%-52s %-18s %-10s %-20s %s\n", it->entity->id,
			it->rotator, it->vault, fmt_time(due, it->due),
			cspf_rotate_reason_name(it->reason));
	}
	printf("%zu of %zu rotatable credentials due", plan->due, plan->count);
	if (plan->manual_due)
		printf("; %zu manual credentials due (their custodians rotate them)",
			plan->manual_due);
	printf("\n");
}

static cJSON *item_json(const cspf_rotate_item *it, bool result)
{
	char t[CSPF_TIME_BUFSIZE];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "credential", it->entity->id);
	cJSON_AddStringToObject(o, "rotator", it->rotator);
	cJSON_AddStringToObject(o, "vault", it->vault);
	cJSON_AddStringToObject(o, "reason",
		cspf_rotate_reason_name(it->reason));
	if (it->due)
		cJSON_AddStringToObject(o, "due", fmt_time(t, it->due));
	if (!result)
		return o;
	cJSON_AddStringToObject(o, "result",
		cspf_rotate_status_name(it->status));
	if (it->state)
		cJSON_AddStringToObject(o, "state", it->state);
	if (it->message)
		cJSON_AddStringToObject(o, "message", it->message);
	if (it->rotation_id)
		cJSON_AddStringToObject(o, "rotation_id", it->rotation_id);
	if (it->old_key_id)
		cJSON_AddStringToObject(o, "old_key_id", it->old_key_id);
	if (it->new_key_id)
		cJSON_AddStringToObject(o, "new_key_id", it->new_key_id);
	if (it->finished)
		cJSON_AddStringToObject(o, "generated",
			fmt_time(t, it->finished));
	if (it->new_expires)
		cJSON_AddStringToObject(o, "expires",
			fmt_time(t, it->new_expires));
	return o;
}

static void print_json(const cspf_rotate_plan *plan, bool result, bool all,
	const char *commit)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *s;
	size_t i;

	arr = cJSON_AddArrayToObject(root, "credentials");
	for (i = 0; i < plan->count; i++) {
		const cspf_rotate_item *it = &plan->items[i];

		if (!all && it->reason == CSPF_ROTATE_NOT_DUE &&
		    (!result || it->status == CSPF_ROTATE_SKIPPED))
			continue;
		cJSON_AddItemToArray(arr, item_json(it, result));
	}
	cJSON_AddNumberToObject(root, "due", (double)plan->due);
	cJSON_AddNumberToObject(root, "rotatable", (double)plan->count);
	cJSON_AddNumberToObject(root, "manual_due", (double)plan->manual_due);
	if (commit)
		cJSON_AddStringToObject(root, "commit", commit);
	s = cJSON_Print(root);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(root);
}

static void print_summary(const cspf_rotate_plan *plan, bool verbose)
{
	size_t i, rotated = 0, failed = 0, skipped = 0, unchecked = 0;

	printf("%-52s %-9s %-10s %s\n", "CREDENTIAL", "RESULT", "STATE",
		"DETAIL");
	for (i = 0; i < plan->count; i++) {
		const cspf_rotate_item *it = &plan->items[i];
		char detail[1200];

		if (it->status == CSPF_ROTATE_SKIPPED && !it->message)
			continue;
		if (it->unchecked && (unchecked++, !verbose))
			continue;
		if (it->status == CSPF_ROTATE_ROTATED ||
		    it->status == CSPF_ROTATE_RESUMED) {
			rotated++;
			snprintf(detail, sizeof(detail), "%s%s%s%s%s",
				cspf_rotate_reason_name(it->reason),
				it->old_key_id || it->new_key_id ? ", key " : "",
				it->old_key_id ? it->old_key_id : "",
				it->old_key_id || it->new_key_id ? " -> " : "",
				it->new_key_id ? it->new_key_id : "");
		} else {
			if (it->status == CSPF_ROTATE_FAILED)
				failed++;
			else if (!it->unchecked)
				skipped++;
			snprintf(detail, sizeof(detail), "%s",
				it->message ? it->message : "");
		}
		printf("%-52s %-9s %-10s %s\n", it->entity->id,
			cspf_rotate_status_name(it->status),
			it->state ? it->state : "-", detail);
	}
	printf("%zu rotated, %zu failed, %zu skipped; %zu rotatable credentials\n",
		rotated, failed, skipped, plan->count);
	if (unchecked)
		printf("%zu not due whose vaults could not be read to look for rotations left half done%s\n",
			unchecked, verbose ? " (above)" : " (-v says why)");
}

static bool recorded(const cspf_rotate_item *it)
{
	return it->status == CSPF_ROTATE_ROTATED ||
		it->status == CSPF_ROTATE_RESUMED;
}

/*
 * Write the rotations into the credential files, each file read, edited
 * (one parse) and replaced once; the changed files out.
 */
static int record_in_registry(const cspf_rotate_plan *plan,
	const char *dir, char ***files_out, size_t *nfiles_out)
{
	static const char *const members[] = {
		"credential_generated", "credential_expires",
		"identity/access_key_id", "identity/secret_id",
		"identity/key_id",
	};
	enum { PER = sizeof(members) / sizeof(members[0]) };
	char **files = calloc(plan->count + 1, sizeof(*files));
	size_t nfiles = 0, i, k, e;
	int error = 0;

	*files_out = NULL;
	*nfiles_out = 0;
	if (!files)
		return -1;
	for (i = 0; i < plan->count && error == 0; i++) {
		const char *fpath = plan->items[i].entity->path;
		char full[4096], *text = NULL, *next = NULL;
		char (*times)[2][CSPF_TIME_BUFSIZE] = NULL;
		const char **ptrs = NULL, **vals = NULL;
		char **owned = NULL;
		size_t len, nlen, n = 0, m = 0;
		FILE *f;
		bool seen = false;

		if (!recorded(&plan->items[i]))
			continue;
		for (k = 0; k < nfiles; k++)
			if (strcmp(files[k], fpath) == 0)
				seen = true;
		if (seen)
			continue;
		/* Every rotated credential of this file. */
		for (k = i; k < plan->count; k++)
			if (recorded(&plan->items[k]) &&
			    strcmp(plan->items[k].entity->path, fpath) == 0)
				n++;
		ptrs = calloc(n * PER, sizeof(*ptrs));
		vals = calloc(n * PER, sizeof(*vals));
		owned = calloc(n * PER, sizeof(*owned));
		times = calloc(n, sizeof(*times));
		if (!ptrs || !vals || !owned || !times) {
			error = -1;
			goto next_file;
		}
		n = 0;
		for (k = i; k < plan->count; k++) {
			const cspf_rotate_item *it = &plan->items[k];

			if (!recorded(it) || strcmp(it->entity->path, fpath))
				continue;
			cspf_time_format(times[n][0], it->finished);
			cspf_time_format(times[n][1], it->new_expires);
			for (e = 0; e < PER; e++) {
				const char *v = e == 0 ? times[n][0] :
					e == 1 ? times[n][1] : it->new_key_id;
				size_t plen;

				if (!v)
					continue;
				plen = strlen(it->entity->pointer) +
					strlen(members[e]) + 2;
				if (!(owned[m] = malloc(plen))) {
					error = -1;
					goto next_file;
				}
				snprintf(owned[m], plen, "%s/%s",
					it->entity->pointer, members[e]);
				ptrs[m] = owned[m];
				vals[m++] = v;
			}
			n++;
		}
		snprintf(full, sizeof(full), "%s/%s", dir, fpath);
		if (!(f = fopen(full, "rb"))) {
			fprintf(stderr, "cspf rotate: cannot read %s to record its rotations\n",
				full);
			error = -1;
			goto next_file;
		}
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		rewind(f);
		text = malloc(len + 1);
		if (!text || fread(text, 1, len, f) != len) {
			fclose(f);
			error = -1;
			goto next_file;
		}
		fclose(f);
		text[len] = '\0';
		if (cspf_registry_edit_strings(&next, &nlen, text, len, fpath,
				ptrs, vals, m, NULL) < 0 ||
		    cspf_registry_write_file(full, next, nlen) < 0) {
			cmd_print_error("rotate: ");
			error = -1;
			goto next_file;
		}
		files[nfiles++] = strdup(fpath);
next_file:
		for (k = 0; owned && k < m; k++)
			free(owned[k]);
		free(owned);
		free(ptrs);
		free(vals);
		free(times);
		free(text);
		free(next);
	}
	*files_out = files;
	*nfiles_out = nfiles;
	return error;
}

static int parse_author(char **name, char **email, const char *arg)
{
	const char *lt = strchr(arg, '<'), *gt = strrchr(arg, '>');
	size_t n;

	if (!lt || !gt || gt < lt || lt == arg)
		return -1;
	n = (size_t)(lt - arg);
	while (n && arg[n - 1] == ' ')
		n--;
	*name = strndup(arg, n);
	*email = strndup(lt + 1, (size_t)(gt - lt - 1));
	return *name && *email && **name && **email ? 0 : -1;
}

/* audit/.lock is the log's lock, not part of it: git ignores it. */
static void ignore_lock(char ***files, size_t *nfiles, const char *dir)
{
	char path[4096];
	char **grown;
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit/.gitignore", dir);
	if (access(path, F_OK) == 0)
		return;
	if (!(f = fopen(path, "w")))
		return;
	fputs("# the audit log's lock file (cspf rotate)\n.lock\n", f);
	if (fclose(f) != 0)
		return;
	if (!(grown = realloc(*files, (*nfiles + 2) * sizeof(*grown))))
		return;
	*files = grown;
	if (((*files)[*nfiles] = strdup("audit/.gitignore")))
		(*nfiles)++;
}

int cmd_rotate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "plan", no_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "due-within", required_argument, NULL, 'd' },
		{ "credential", required_argument, NULL, 'c' },
		{ "compromised", required_argument, NULL, 'x' },
		{ "concurrency", required_argument, NULL, 'j' },
		{ "commit", no_argument, NULL, 'C' },
		{ "push", required_argument, NULL, 'P' },
		{ "author", required_argument, NULL, 'A' },
		{ "now", required_argument, NULL, 'n' },
		{ "claim-ttl", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'k' },
		{ "max-attempts", required_argument, NULL, 'M' },
		{ "format", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cspf_rotate_options ro = CSPF_ROTATE_OPTIONS_INIT;
	cspf_registry_options rgo = CSPF_REGISTRY_OPTIONS_INIT;
	const char *creds[MAX_IDS], *comp[MAX_IDS];
	size_t ncreds = 0, ncomp = 0;
	bool plan_only = false, all = false, commit = false, json = false;
	bool quiet = false;
	const char *push = NULL, *dir = ".";
	char *author_name = NULL, *author_email = NULL;
	char commit_id[64] = "";
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	cspf_registry *reg = NULL;
	cspf_rotate_plan *plan = NULL;
	cspf_audit_signer *signer = NULL;
	char **files = NULL;
	size_t nfiles = 0, i;
	unsigned n;
	int c, rc = EXIT_TROUBLE, r, lockfd = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "j:f:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			plan_only = true;
			break;
		case 'a':
			all = true;
			break;
		case 'd':
			{
				int64_t t;

				if (cspf_duration_add(&t, 0, optarg) < 0)
					return cmd_usage_error("rotate",
						"--due-within: \"%s\" is not an ISO 8601 duration such as P14D",
						optarg);
				ro.due_within = optarg;
			}
			break;
		case 'c':
		case 'x':
			if ((c == 'c' ? ncreds : ncomp) >= MAX_IDS)
				return cmd_usage_error("rotate",
					"at most %d credentials a run", MAX_IDS);
			if (c == 'c')
				creds[ncreds++] = optarg;
			else
				comp[ncomp++] = optarg;
			break;
		case 'j':
			if (cmd_parse_count(&n, "rotate", "--concurrency", optarg,
					1, 256))
				return EXIT_TROUBLE;
			ro.concurrency = n;
			break;
		case 'C':
			commit = true;
			break;
		case 'P':
			push = optarg;
			commit = true;
			break;
		case 'A':
			if (parse_author(&author_name, &author_email, optarg) < 0)
				return cmd_usage_error("rotate",
					"--author wants 'Name <email>'");
			break;
		case 'n':
			if (cspf_time_parse(&ro.now, optarg) < 0)
				return cmd_usage_error("rotate",
					"--now: \"%s\" is not an RFC 3339 time",
					optarg);
			break;
		case 't':
			if (cmd_parse_count(&n, "rotate", "--claim-ttl", optarg,
					1, 86400))
				return EXIT_TROUBLE;
			ro.claim_ttl = n;
			break;
		case 'k':
			ro.ca_file = optarg;
			break;
		case 'M':
			if (cmd_parse_count(&n, "rotate", "--max-attempts",
					optarg, 1, 20))
				return EXIT_TROUBLE;
			ro.max_attempts = n;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				json = true;
			else if (strcmp(optarg, "text") != 0)
				return cmd_usage_error("rotate",
					"--format is text or json");
			break;
		case 'v':
			ev.verbose = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			cmd_rotate_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("rotate", "see cspf rotate --help");
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		return cmd_usage_error("rotate", "one registry directory at most");
	if (plan_only && (commit || push))
		return cmd_usage_error("rotate", "--plan changes nothing: no --commit or --push with it");

	ro.credentials = creds;
	ro.credentials_count = ncreds;
	ro.compromised = comp;
	ro.compromised_count = ncomp;
	ro.registry_dir = dir;
	ro.on_event = on_event;
	ro.payload = &ev;

	if (cspf_registry_load(&reg, dir, &rgo) < 0) {
		cmd_print_error("rotate: ");
		goto done;
	}
	if (cspf_registry_skipped(reg))
		fprintf(stderr, "cspf rotate: %zu files of the registry could not be read; run cspf validate\n",
			cspf_registry_skipped(reg));
	if (cspf_rotate_plan_new(&plan, reg, &ro) < 0) {
		cmd_print_error("rotate: ");
		goto done;
	}
	/* Only the credentials asked for, when some are. */
	if (ncreds || ncomp)
		for (i = 0; i < plan->count; i++)
			if (plan->items[i].reason != CSPF_ROTATE_REQUESTED &&
			    plan->items[i].reason != CSPF_ROTATE_COMPROMISED)
				plan->items[i].reason = CSPF_ROTATE_NOT_DUE;
	if (plan_only) {
		if (json)
			print_json(plan, false, all, NULL);
		else
			print_plan_text(plan, all);
		rc = EXIT_CLEAN;
		goto done;
	}

	/* Every step is signed into audit/ (DESIGN.md, invariant 6). */
	{
		const cJSON *config = cspf_registry_config(reg);

		r = cspf_audit_signer_from_config(&signer,
			cJSON_GetObjectItemCaseSensitive(config, "audit"),
			cJSON_GetObjectItemCaseSensitive(config, "vaults"), dir);
		if (r == CSPF_ENOTFOUND) {
			fprintf(stderr, "cspf rotate: cspf.json names no audit.signing_key: every rotation is recorded in a signed audit log; make a key with `cspf audit keygen --out FILE` and set \"audit\": {\"signing_key\": {\"file\": FILE}}\n");
			goto done;
		}
		if (r < 0 || cspf_audit_open(&ev.audit, dir, signer) < 0) {
			cmd_print_error("rotate: audit log: ");
			goto done;
		}
		if (!(ev.actor = getenv("CSPF_ACTOR"))) {
			static char who[300];
			char host[128] = "localhost";
			const char *user = getenv("USER");

			gethostname(host, sizeof(host));
			host[sizeof(host) - 1] = '\0';
			snprintf(who, sizeof(who), "%s@%s",
				user && *user ? user : "cspf", host);
			ev.actor = who;
		}
	}

	/* Secrets are in memory from here: no core file may hold them. */
	signal(SIGPIPE, SIG_IGN);
	{
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
		/* Nor a debugger of another user, nor /proc/PID/mem. */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	ev.progress = !ev.verbose && !quiet && !json && isatty(STDERR_FILENO);
	ev.due = plan->due;
	r = cspf_rotate_run(plan, reg, &ro);
	if (ev.progress)
		fputs("\n", stderr);
	ev.progress = false;
	if (r < 0) {
		cmd_print_error("rotate: ");
		goto done;
	}
	rc = r ? EXIT_FINDINGS : EXIT_CLEAN;

	/*
	 * One run at a time writes the registry: two runs at once each
	 * rewrite the files they rotated and commit on the HEAD the other
	 * left.  (flock on the directory itself: nothing to clean up.)
	 */
	if ((lockfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    flock(lockfd, LOCK_EX) < 0) {
		fprintf(stderr, "cspf rotate: cannot lock %s: %s\n", dir,
			strerror(errno));
		rc = EXIT_TROUBLE;
		goto report;
	}
	if (record_in_registry(plan, dir, &files, &nfiles) < 0) {
		rc = EXIT_TROUBLE;
		goto report;
	}
	if (ev.audit_failures) {
		fprintf(stderr, "cspf rotate: %zu steps could not be written to the audit log (above)\n",
			ev.audit_failures);
		rc = EXIT_TROUBLE;
	}
	if (nfiles) {
		/* The record step: the registry has it, in these files. */
		for (i = 0; i < plan->count; i++) {
			const cspf_rotate_item *it = &plan->items[i];
			cspf_rotate_event e;
			char detail[600];

			if (it->status != CSPF_ROTATE_ROTATED &&
			    it->status != CSPF_ROTATE_RESUMED)
				continue;
			memset(&e, 0, sizeof(e));
			e.item = it;
			e.rotation_id = it->rotation_id;
			e.step = "record";
			e.outcome = "ok";
			e.old_key_id = it->old_key_id;
			e.new_key_id = it->new_key_id;
			snprintf(detail, sizeof(detail), "%s%s records it",
				it->entity->path, commit ? " (committed)" : "");
			e.detail = detail;
			e.time = it->finished;
			on_event(&e, &ev);
		}
		audit_files(&files, &nfiles, dir);
		ignore_lock(&files, &nfiles, dir);
	}
	if (commit && nfiles) {
		{
			char *msg;
			size_t cap = 256 + 160 * plan->count, len = 0;
			size_t rotated = 0;

			if (!(msg = malloc(cap)))
				goto report;
			for (i = 0; i < plan->count; i++)
				if (plan->items[i].status == CSPF_ROTATE_ROTATED ||
				    plan->items[i].status == CSPF_ROTATE_RESUMED)
					rotated++;
			len += (size_t)snprintf(msg + len, cap - len,
				"rotate: %zu credential%s%s\n\n", rotated,
				rotated == 1 ? "" : "s",
				ncomp ? " (incident: compromised)" : "");
			for (i = 0; i < plan->count && len < cap; i++) {
				const cspf_rotate_item *it = &plan->items[i];
				char t[CSPF_TIME_BUFSIZE];

				if (it->status != CSPF_ROTATE_ROTATED &&
				    it->status != CSPF_ROTATE_RESUMED)
					continue;
				len += (size_t)snprintf(msg + len, cap - len,
					"- %s (%s): rotation %s, expires %s%s%s%s\n",
					it->entity->id,
					cspf_rotate_reason_name(it->reason),
					it->rotation_id ? it->rotation_id : "-",
					fmt_time(t, it->new_expires),
					it->new_key_id ? ", key " : "",
					it->new_key_id ? it->new_key_id : "",
					it->reason == CSPF_ROTATE_COMPROMISED ?
					", old secret deleted at once" : "");
			}
			if (cspf_registry_commit(commit_id, dir,
					(const char *const *)files, nfiles, msg,
					author_name, author_email) < 0) {
				cmd_print_error("rotate: ");
				rc = EXIT_TROUBLE;
				free(msg);
				goto report;
			}
			free(msg);
		}
	}
	if (push && commit_id[0]) {
		if (cspf_registry_push(dir, push) < 0) {
			cmd_print_error("rotate: ");
			rc = EXIT_TROUBLE;
			goto report;
		}
	}
	/* The registry has it (in the work tree, or committed). */
	if (nfiles && cspf_rotate_mark_recorded(plan, reg, &ro) < 0)
		cmd_print_error("rotate: ");

report:
	if (lockfd >= 0)
		close(lockfd);
	if (json)
		print_json(plan, true, all, commit_id[0] ? commit_id : NULL);
	else if (!quiet || rc != EXIT_CLEAN) {
		print_summary(plan, ev.verbose);
		if (commit_id[0])
			printf("committed %.12s to the registry\n", commit_id);
	}
done:
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	cspf_rotate_plan_free(plan);
	cspf_registry_free(reg);
	cspf_audit_free(ev.audit);
	cspf_audit_signer_free(signer);
	free(author_name);
	free(author_email);
	return rc;
}
