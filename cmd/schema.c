/*
 * cspf schema validate --schema S.json [--ref R.json ...] FILE...
 *
 * Plain JSON Schema validation of any documents, in parallel, with every
 * error as file:line:col.  The order of the output is the order of the
 * files, whatever the number of threads.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cspf/json.h"
#include "cspf/schema.h"
#include "cmd.h"
#include "files.h"


void cmd_schema_help(FILE *f)
{
	fputs(
"usage: cspf schema validate --schema S.json [--ref R.json ...] [options] FILE|DIR...\n"
"       cspf schema docs [--title TEXT] [--out FILE] SCHEMA.json...\n"
"\n"
"Validate JSON documents against a JSON Schema (draft 2020-12). Directories\n"
"are searched recursively for *.json files; '-' reads standard input.\n"
"Every error is printed as\n"
"    file:line:col: error: message (at /pointer; schema #/location)\n"
"and a broken or unreadable file is reported without stopping the run.\n"
"\n"
"Options:\n"
"  -s, --schema FILE     the schema to validate against (required)\n"
"  -r, --ref FILE|DIR    another schema that $ref may point to; its \"$id\",\n"
"                        or else its file path, names it (repeatable)\n"
"  -f, --format FMT      text (default) or json\n"
"  -j, --jobs N          threads to use (default: the number of cores)\n"
"      --no-formats      treat \"format\" as an annotation only (by default\n"
"                        the formats cspf knows are asserted, as ajv-formats\n"
"                        does: date-time, date, time, duration, email,\n"
"                        hostname, ipv4, ipv6, uri, uri-reference, uuid,\n"
"                        regex, json-pointer, relative-json-pointer)\n"
"      --max-depth N     refuse documents nested deeper (default 512)\n"
"      --max-size BYTES  refuse larger documents (default 16 MiB)\n"
"  -q, --quiet           no summary line\n"
"  -v, --verbose         also list the files that are valid\n"
"\n"
"Exit status: 0 every document is valid; 1 some document is invalid or\n"
"malformed; 2 usage error, unusable schema, or a file could not be read.\n",
		f);
}

struct options {
	const char *schema_path;
	const char **refs;
	size_t nrefs;
	int json;
	unsigned jobs;
	int formats;
	int quiet, verbose;
	cspf_json_options jopts;
};

/* What one file gave: findings, or a failure to read it. */
struct result {
	cspf_diags diags;
	int unreadable; /* could not be read: environment error */
	int invalid;
	char *error;    /* message when unreadable */
};

struct job {
	const cspf_schema *schema;
	const struct options *opts;
	file_list *files;
	struct result *results;
	atomic_size_t next;
	atomic_size_t waiting; /* the file the printer waits for */
	atomic_uchar *done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* Map locations in schemas loaded from files back to the paths given. */
struct display_map {
	char **uris;
	char **paths;
	size_t n;
};

static struct display_map display;

static char *file_uri(const char *path)
{
	char *abs = realpath(path, NULL), *uri;
	size_t n;

	if (!abs)
		return NULL;
	n = strlen(abs) + 8;
	uri = malloc(n);
	if (uri)
		snprintf(uri, n, "file://%s", abs);
	free(abs);
	return uri;
}

static void display_add(const char *uri, const char *path)
{
	char **u = realloc(display.uris, (display.n + 1) * sizeof(*u));
	char **p;

	if (!u)
		return;
	display.uris = u;
	p = realloc(display.paths, (display.n + 1) * sizeof(*p));
	if (!p)
		return;
	display.paths = p;
	display.uris[display.n] = strdup(uri);
	display.paths[display.n] = strdup(path);
	if (display.uris[display.n] && display.paths[display.n])
		display.n++;
}

static void display_free(void)
{
	size_t i;

	for (i = 0; i < display.n; i++) {
		free(display.uris[i]);
		free(display.paths[i]);
	}
	free(display.uris);
	free(display.paths);
	memset(&display, 0, sizeof(display));
}

/* A schema location as the user knows it: "#/..." for the main schema. */
static void print_location(FILE *out, const char *loc)
{
	size_t i, n;

	for (i = 0; loc && i < display.n; i++) {
		n = strlen(display.uris[i]);
		if (strncmp(loc, display.uris[i], n) == 0 && loc[n] == '#') {
			if (i == 0)
				fputs(loc + n, out);
			else
				fprintf(out, "%s%s", display.paths[i],
					loc + n);
			return;
		}
	}
	fputs(loc ? loc : "", out);
}

/*
 * A schema that cannot be used: say where, with the line and column of
 * the offending keyword when the error names one.
 */
static void print_schema_error(const char *main_path)
{
	const cspf_error *e = cspf_error_last();
	const char *file = e && e->file ? e->file : main_path;
	cspf_json_doc *doc = NULL;
	unsigned line = 0, col = 0;
	char msg[1100];

	if (!e || !e->message || e->line) {
		cmd_print_error(main_path);
		return;
	}
	snprintf(msg, sizeof(msg), "%s", e->message);
	if (e->pointer && cspf_json_load_file(&doc, file, NULL) == 0)
		cspf_json_position(&line, &col, doc, e->pointer,
			CSPF_JSON_POS_VALUE);
	cspf_json_doc_free(doc);
	if (line)
		fprintf(stderr, "%s:%u:%u: error: %s\n", file, line, col, msg);
	else
		fprintf(stderr, "%s: error: %s\n", file, msg);
}

static int load_schema_file(cspf_schema_set *set, const char *path,
	const struct options *o, int is_main)
{
	cspf_json_doc *doc;
	cspf_json_options jo = CSPF_JSON_OPTIONS_INIT;
	char *uri;
	int r;

	r = cspf_json_load_file(&doc, path, &jo);
	if (r < 0) {
		cmd_print_error(path);
		return -1;
	}
	uri = file_uri(path);
	r = cspf_schema_set_add_doc(set, doc, uri);
	if (r < 0) {
		cmd_print_error(path);
		free(uri);
		return -1;
	}
	display_add(cspf_schema_set_last_uri(set), path);
	if (is_main && uri && strcmp(uri, cspf_schema_set_last_uri(set)))
		display_add(uri, path);
	free(uri);
	(void)o;
	return 0;
}

static void process(struct job *j, size_t i)
{
	const char *path = j->files->paths[i];
	struct result *res = &j->results[i];
	cspf_json_doc *doc = NULL;
	int r;

	if (strcmp(path, "-") == 0) {
		size_t len = 0, cap = 65536;
		char *buf = malloc(cap + 1);
		size_t got;
		while (buf && (got = fread(buf + len, 1, cap - len, stdin))) {
			len += got;
			if (len > j->opts->jopts.max_size + 1)
				break;
			if (len == cap) {
				char *nb = realloc(buf, cap * 2 + 1);
				if (!nb) {
					free(buf);
					buf = NULL;
					break;
				}
				buf = nb;
				cap *= 2;
			}
		}
		if (!buf) {
			res->unreadable = 1;
			res->error = strdup("out of memory reading stdin");
			return;
		}
		r = cspf_json_parse_owned(&doc, buf, len, "-",
			&j->opts->jopts);
	} else {
		r = cspf_json_load_file(&doc, path, &j->opts->jopts);
	}
	if (r < 0) {
		const cspf_error *e = cspf_error_last();
		if (e && e->klass == CSPF_ERRCLASS_JSON) {
			cspf_diag *d = cspf_diags_add(&res->diags,
				CSPF_SEVERITY_ERROR, "json", path, NULL,
				NULL, NULL, e->message);
			if (d) {
				d->line = e->line;
				d->column = e->column;
			}
			res->invalid = 1;
		} else {
			res->unreadable = 1;
			res->error = strdup(e && e->message ? e->message :
				"cannot read");
		}
		return;
	}
	r = cspf_schema_validate_doc(&res->diags, j->schema, doc);
	if (r < 0) {
		const cspf_error *e = cspf_error_last();
		cspf_diags_add(&res->diags, CSPF_SEVERITY_ERROR, "schema",
			path, "", NULL, NULL, e && e->message ? e->message :
			"validation failed");
		res->invalid = 1;
	} else {
		res->invalid = r == 1;
	}
	cspf_json_doc_free(doc);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->files->count) {
		process(j, i);
		atomic_store(&j->done[i], 1);
		/* Wake the printer only when it waits for this very file. */
		if (atomic_load(&j->waiting) == i) {
			pthread_mutex_lock(&j->lock);
			pthread_cond_broadcast(&j->cond);
			pthread_mutex_unlock(&j->lock);
		}
	}
	return NULL;
}

static void json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', out);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

struct totals {
	size_t files, invalid, unreadable, errors;
	int first_json;
};

static void emit(FILE *out, const struct options *o, const char *path,
	struct result *res, struct totals *t, int color)
{
	size_t k;

	t->files++;
	if (res->unreadable) {
		t->unreadable++;
		fprintf(stderr, "%s: error: %s\n", path, res->error);
		return;
	}
	if (res->invalid)
		t->invalid++;
	else if (o->verbose && !o->json)
		fprintf(out, "%s: valid\n", path);
	for (k = 0; k < res->diags.count; k++) {
		const cspf_diag *d = &res->diags.items[k];
		t->errors++;
		if (o->json) {
			fputs(t->first_json ? "\n    " : ",\n    ", out);
			t->first_json = 0;
			fputs("{\"file\": ", out);
			json_str(out, path);
			fprintf(out, ", \"line\": %u, \"column\": %u, "
				"\"rule\": ", d->line, d->column);
			json_str(out, d->rule);
			fputs(", \"pointer\": ", out);
			if (d->pointer)
				json_str(out, d->pointer);
			else
				fputs("null", out);
			fputs(", \"keyword\": ", out);
			if (d->keyword)
				json_str(out, d->keyword);
			else
				fputs("null", out);
			fputs(", \"schemaLocation\": ", out);
			if (d->schema_location)
				json_str(out, d->schema_location);
			else
				fputs("null", out);
			fputs(", \"message\": ", out);
			json_str(out, d->message);
			fputc('}', out);
			continue;
		}
		if (color)
			fprintf(out, "\033[1m%s:%u:%u:\033[0m \033[1;31merror:"
				"\033[0m %s", path, d->line, d->column,
				d->message);
		else
			fprintf(out, "%s:%u:%u: error: %s", path, d->line,
				d->column, d->message);
		if (d->pointer || d->schema_location) {
			fputs(" (", out);
			if (d->pointer)
				fprintf(out, "at %s", *d->pointer ?
					d->pointer : "\"\"");
			if (d->schema_location) {
				fputs(d->pointer ? "; schema " : "schema ",
					out);
				print_location(out, d->schema_location);
			}
			fputc(')', out);
		}
		fputc('\n', out);
	}
}

static int run_validate(const struct options *o, file_list *files)
{
	cspf_schema_set *set = NULL;
	cspf_schema *schema = NULL;
	cspf_schema_options so = CSPF_SCHEMA_OPTIONS_INIT;
	cspf_diags meta = CSPF_DIAGS_INIT;
	struct job j;
	struct totals t = { 0, 0, 0, 0, 1 };
	pthread_t *threads = NULL;
	unsigned nthreads = 0, ti;
	size_t i, k;
	int rc = EXIT_CLEAN, color = !o->json && cmd_use_color(stdout);
	char *main_uri = NULL;
	static char outbuf[1 << 16];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (cspf_schema_set_new(&set) < 0) {
		cmd_print_error(NULL);
		return EXIT_TROUBLE;
	}
	if (load_schema_file(set, o->schema_path, o, 1) < 0) {
		rc = EXIT_TROUBLE;
		goto out;
	}
	main_uri = strdup(cspf_schema_set_last_uri(set));
	for (i = 0; i < o->nrefs; i++) {
		file_list refs = { 0 };
		if (file_list_add(&refs, o->refs[i]) < 0 || refs.errors) {
			file_list_free(&refs);
			rc = EXIT_TROUBLE;
			goto out;
		}
		for (k = 0; k < refs.count; k++) {
			if (load_schema_file(set, refs.paths[k], o, 0) < 0)
				rc = EXIT_TROUBLE;
		}
		file_list_free(&refs);
		if (rc)
			goto out;
	}
	so.format_assert = o->formats;
	if (!main_uri ||
	    cspf_schema_compile(&schema, set, main_uri, &so, &meta) < 0) {
		print_schema_error(o->schema_path);
		for (k = 0; meta.count > 1 && k < meta.count && k < 20; k++)
			if (!meta.items[k].keyword ||
			    (strcmp(meta.items[k].keyword, "anyOf") &&
			     strcmp(meta.items[k].keyword, "oneOf")))
			fprintf(stderr, "%s: note: at %s: %s\n",
				o->schema_path, *meta.items[k].pointer ?
				meta.items[k].pointer : "the root",
				meta.items[k].message);
		rc = EXIT_TROUBLE;
		goto out;
	}

	memset(&j, 0, sizeof(j));
	j.schema = schema;
	j.opts = o;
	j.files = files;
	j.results = calloc(files->count ? files->count : 1,
		sizeof(*j.results));
	j.done = calloc(files->count ? files->count : 1, sizeof(*j.done));
	atomic_init(&j.next, 0);
	atomic_init(&j.waiting, SIZE_MAX);
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cond, NULL);
	if (!j.results || !j.done) {
		fprintf(stderr, "cspf: out of memory\n");
		rc = EXIT_TROUBLE;
		goto out_job;
	}
	if (o->json)
		fputs("{\n  \"errors\": [", stdout);
	/* The main thread validates too, and prints in file order. */
	nthreads = o->jobs > 1 && files->count > 1 ? o->jobs - 1 : 0;
	if (nthreads > files->count)
		nthreads = (unsigned)files->count;
	if (nthreads) {
		pthread_attr_t attr;
		threads = calloc(nthreads, sizeof(*threads));
		pthread_attr_init(&attr);
		/* Deep documents recurse: give workers room. */
		pthread_attr_setstacksize(&attr, (size_t)32 << 20);
		for (ti = 0; threads && ti < nthreads; ti++) {
			if (pthread_create(&threads[ti], &attr, worker, &j)) {
				nthreads = ti;
				break;
			}
		}
		pthread_attr_destroy(&attr);
	}
	for (i = 0; i < files->count; i++) {
		/*
		 * Until file i is done, take files off the queue like a
		 * worker; wait only when none is left.
		 */
		while (!atomic_load(&j.done[i])) {
			size_t mine = atomic_fetch_add(&j.next, 1);
			if (mine < files->count) {
				process(&j, mine);
				atomic_store(&j.done[mine], 1);
				continue;
			}
			pthread_mutex_lock(&j.lock);
			atomic_store(&j.waiting, i);
			while (!atomic_load(&j.done[i]))
				pthread_cond_wait(&j.cond, &j.lock);
			atomic_store(&j.waiting, SIZE_MAX);
			pthread_mutex_unlock(&j.lock);
		}
		emit(stdout, o, files->paths[i], &j.results[i], &t, color);
		cspf_diags_clear(&j.results[i].diags);
		free(j.results[i].error);
	}
	for (ti = 0; ti < nthreads; ti++)
		pthread_join(threads[ti], NULL);
	free(threads);
	t.unreadable += files->errors;
	if (o->json) {
		printf("%s  ],\n  \"summary\": {\"files\": %zu, \"valid\": "
			"%zu, \"invalid\": %zu, \"unreadable\": %zu, "
			"\"errors\": %zu}\n}\n", t.first_json ? "" : "\n",
			t.files, t.files - t.invalid - t.unreadable +
			files->errors, t.invalid, t.unreadable, t.errors);
	}
	fflush(stdout);
	if (!o->quiet && (t.invalid || t.unreadable || o->verbose))
		fprintf(stderr, "cspf: %zu file%s checked: %zu invalid, %zu "
			"unreadable, %zu error%s\n", t.files,
			t.files == 1 ? "" : "s", t.invalid, t.unreadable,
			t.errors, t.errors == 1 ? "" : "s");
	if (t.unreadable)
		rc = EXIT_TROUBLE;
	else if (t.invalid)
		rc = EXIT_FINDINGS;
out_job:
	pthread_mutex_destroy(&j.lock);
	pthread_cond_destroy(&j.cond);
	free(j.results);
	free((void *)j.done);
out:
	cspf_diags_clear(&meta);
	free(main_uri);
	cspf_schema_free(schema);
	cspf_schema_set_free(set);
	display_free();
	return rc;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = (size_t)v;
	return 0;
}

static int cmd_schema_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "schema", required_argument, NULL, 's' },
		{ "ref", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "no-formats", no_argument, NULL, 'F' },
		{ "max-depth", required_argument, NULL, 'D' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o;
	file_list files = { 0 };
	size_t n;
	int c, i, rc;

	memset(&o, 0, sizeof(o));
	o.formats = 1;
	o.jobs = cmd_ncpus();
	o.jopts = (cspf_json_options)CSPF_JSON_OPTIONS_INIT;
	o.jopts.max_size = CSPF_JSON_DEFAULT_MAX_SIZE;
	o.refs = calloc((size_t)argc, sizeof(*o.refs));
	if (!o.refs)
		return EXIT_TROUBLE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:f:j:qvh", longopts,
			NULL)) != -1) {
		switch (c) {
		case 's':
			o.schema_path = optarg;
			break;
		case 'r':
			o.refs[o.nrefs++] = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				o.json = 1;
			else if (strcmp(optarg, "text") != 0) {
				free(o.refs);
				return cmd_usage_error("schema", "unknown "
					"--format '%s' (text or json)",
					optarg);
			}
			break;
		case 'j':
			if (cmd_parse_count(&o.jobs, "schema", "--jobs",
				    optarg, 1, 256)) {
				free(o.refs);
				return EXIT_TROUBLE;
			}
			break;
		case 'F':
			o.formats = 0;
			break;
		case 'D':
			if (parse_size(optarg, &n) < 0 || n < 1 ||
			    n > CSPF_JSON_MAX_DEPTH_LIMIT) {
				free(o.refs);
				return cmd_usage_error("schema", "--max-depth "
					"takes a number from 1 to %u",
					CSPF_JSON_MAX_DEPTH_LIMIT);
			}
			o.jopts.max_depth = (unsigned)n;
			break;
		case 'S':
			if (parse_size(optarg, &n) < 0 || n < 1) {
				free(o.refs);
				return cmd_usage_error("schema", "--max-size "
					"takes a number of bytes");
			}
			o.jopts.max_size = n;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'h':
			free(o.refs);
			cmd_schema_help(stdout);
			return EXIT_CLEAN;
		default:
			free(o.refs);
			return cmd_usage_error("schema", "bad option");
		}
	}
	if (!o.schema_path) {
		free(o.refs);
		return cmd_usage_error("schema", "validate needs --schema "
			"FILE");
	}
	if (optind >= argc) {
		free(o.refs);
		return cmd_usage_error("schema", "validate needs the files "
			"to check");
	}
	for (i = optind; i < argc; i++) {
		if (file_list_add(&files, argv[i]) < 0) {
			fprintf(stderr, "cspf: out of memory\n");
			file_list_free(&files);
			free(o.refs);
			return EXIT_TROUBLE;
		}
	}
	rc = run_validate(&o, &files);
	file_list_free(&files);
	free(o.refs);
	return rc;
}

int cmd_schema(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		cmd_schema_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_TROUBLE : EXIT_CLEAN;
	}
	if (strcmp(argv[1], "validate") == 0)
		return cmd_schema_validate(argc - 1, argv + 1);
	if (strcmp(argv[1], "docs") == 0)
		return cmd_schema_docs(argc - 1, argv + 1);
	return cmd_usage_error("schema", "unknown subcommand '%s'", argv[1]);
}
