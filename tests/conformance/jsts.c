/*
 * Runs the JSON Schema Test Suite (every tests/DRAFT file, required tests)
 * against cspf's engine, with the suite's remotes/ served from disk under
 * http://localhost:1234/.  Every test is run twice: once collecting
 * errors, once asking only for the verdict; both must agree with the
 * suite, and an invalid verdict must come with at least one error.
 *
 * Exit 0 when all pass (skips listed in the skip file, with reasons),
 * 1 on failures, 77 (skipped) when the suite is not there.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cspf/json.h"
#include "cspf/schema.h"

struct remote {
	char *uri;
	cspf_json_doc *doc;
};

static struct remote *remotes;
static size_t nremotes, aremotes;
static int verbose;

struct skip {
	char *file, *group, *test;
};
static struct skip *skips;
static size_t nskips;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t a = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == a) {
			a = a ? a * 2 : 32;
			names = realloc(names, a * sizeof(*names));
		}
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_str);
	return names;
}

static void load_remotes(const char *dir, const char *prefix)
{
	size_t n, i;
	char **names = list_dir(dir, &n);

	for (i = 0; i < n; i++) {
		char path[4096], uri[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(uri, sizeof(uri), "%s%s/", prefix, names[i]);
			load_remotes(path, uri);
		} else if (strstr(names[i], ".json")) {
			cspf_json_doc *doc;
			snprintf(uri, sizeof(uri), "%s%s", prefix, names[i]);
			if (cspf_json_load_file(&doc, path, NULL) < 0) {
				fprintf(stderr, "jsts: %s: %s\n", path,
					cspf_error_last()->message);
			} else {
				if (nremotes == aremotes) {
					aremotes = aremotes ? aremotes * 2 : 64;
					remotes = realloc(remotes, aremotes *
						sizeof(*remotes));
				}
				remotes[nremotes].uri = strdup(uri);
				remotes[nremotes++].doc = doc;
			}
		}
		free(names[i]);
	}
	free(names);
}

static void load_skips(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[2048];

	if (!f)
		return;
	/* file<TAB>group description<TAB>test description or *<TAB>reason */
	while (fgets(line, sizeof(line), f)) {
		char *a = line, *b, *c, *d;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!(b = strchr(a, '\t')) || !(c = strchr(b + 1, '\t')) ||
		    !(d = strchr(c + 1, '\t')))
			continue;
		*b++ = *c++ = *d = '\0';
		skips = realloc(skips, (nskips + 1) * sizeof(*skips));
		skips[nskips].file = strdup(a);
		skips[nskips].group = strdup(b);
		skips[nskips++].test = strdup(c);
	}
	fclose(f);
}

static int skipped(const char *file, const char *group, const char *test)
{
	size_t i;

	for (i = 0; i < nskips; i++) {
		if (strcmp(skips[i].file, file) == 0 &&
		    strcmp(skips[i].group, group) == 0 &&
		    (strcmp(skips[i].test, "*") == 0 ||
		     strcmp(skips[i].test, test) == 0))
			return 1;
	}
	return 0;
}

static size_t passed, failed, nskipped;
static const char *dialect; /* for schemas without "$schema" */

static void fail(const char *file, const char *group, const char *test,
	const char *why)
{
	failed++;
	printf("FAIL %s: %s: %s: %s\n", file, group, test, why);
}

static void run_group(const char *file, const cJSON *group)
{
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(group,
		"description");
	const cJSON *schema_json = cJSON_GetObjectItemCaseSensitive(group,
		"schema");
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");
	const cJSON *t;
	cspf_schema_set *set;
	cspf_schema *schema = NULL;
	cspf_schema_options opts = CSPF_SCHEMA_OPTIONS_INIT;
	size_t i;
	const char *gname = cJSON_IsString(desc) ? desc->valuestring : "?";

	opts.format_assert = 0; /* the specification's default */
	cspf_schema_set_new(&set);
	if (dialect)
		cspf_schema_set_default_dialect(set, dialect);
	for (i = 0; i < nremotes; i++)
		cspf_schema_set_add_json(set, cspf_json_doc_root(
			remotes[i].doc), remotes[i].uri);
	if (cspf_schema_set_add_json(set, schema_json, NULL) < 0 ||
	    cspf_schema_compile(&schema, set, cspf_schema_set_last_uri(set),
		    &opts, NULL) < 0) {
		char why[1200];
		snprintf(why, sizeof(why), "schema refused: %s",
			cspf_error_last()->message);
		cJSON_ArrayForEach(t, tests) {
			const cJSON *td = cJSON_GetObjectItemCaseSensitive(t,
				"description");
			const char *tname = cJSON_IsString(td) ?
				td->valuestring : "?";
			if (skipped(file, gname, tname))
				nskipped++;
			else
				fail(file, gname, tname, why);
		}
		cspf_schema_set_free(set);
		return;
	}
	cJSON_ArrayForEach(t, tests) {
		const cJSON *td = cJSON_GetObjectItemCaseSensitive(t,
			"description");
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(t, "data");
		const cJSON *valid = cJSON_GetObjectItemCaseSensitive(t,
			"valid");
		const char *tname = cJSON_IsString(td) ? td->valuestring : "?";
		cspf_diags diags = CSPF_DIAGS_INIT;
		int r1, r2, want = cJSON_IsTrue(valid) ? 0 : 1;

		if (skipped(file, gname, tname)) {
			nskipped++;
			continue;
		}
		r1 = cspf_schema_validate(&diags, schema, data, NULL);
		r2 = cspf_schema_validate(NULL, schema, data, NULL);
		if (r1 < 0 || r2 < 0) {
			char why[1200];
			snprintf(why, sizeof(why), "evaluation failed: %s",
				cspf_error_last()->message);
			fail(file, gname, tname, why);
		} else if (r1 != want || r2 != want) {
			char why[1200];
			snprintf(why, sizeof(why), "expected %s, got %s "
				"(verdict-only: %s)%s%s", want ? "invalid" :
				"valid", r1 ? "invalid" : "valid",
				r2 ? "invalid" : "valid",
				diags.count ? "; first error: " : "",
				diags.count ? diags.items[0].message : "");
			fail(file, gname, tname, why);
		} else if (r1 == 1 && diags.count == 0) {
			fail(file, gname, tname, "invalid without an error");
		} else if (r1 == 0 && diags.count) {
			fail(file, gname, tname, "valid with errors");
		} else {
			passed++;
			if (verbose)
				printf("ok   %s: %s: %s\n", file, gname, tname);
		}
		cspf_diags_clear(&diags);
	}
	cspf_schema_free(schema);
	cspf_schema_set_free(set);
}

int main(int argc, char **argv)
{
	const char *suite = NULL, *draft = "draft2020-12", *skipfile = NULL;
	const char *only = NULL;
	char dir[4096], path[8300];
	size_t n, i;
	char **names;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--suite") && a + 1 < argc)
			suite = argv[++a];
		else if (!strcmp(argv[a], "--draft") && a + 1 < argc)
			draft = argv[++a];
		else if (!strcmp(argv[a], "--skip-list") && a + 1 < argc)
			skipfile = argv[++a];
		else if (!strcmp(argv[a], "--only") && a + 1 < argc)
			only = argv[++a];
		else if (!strcmp(argv[a], "-v"))
			verbose = 1;
		else {
			fprintf(stderr, "usage: jsts --suite DIR [--draft D] "
				"[--skip-list F] [--only FILE] [-v]\n");
			return 2;
		}
	}
	snprintf(dir, sizeof(dir), "%s/tests/%s", suite ? suite : "", draft);
	if (!suite || !(names = list_dir(dir, &n))) {
		printf("SKIP: the JSON Schema Test Suite is not at %s (it "
			"comes with ../shared/ beside the clone)\n", dir);
		return 77;
	}
	if (skipfile)
		load_skips(skipfile);
	if (!strcmp(draft, "draft4"))
		dialect = "http://json-schema.org/draft-04/schema#";
	else if (!strcmp(draft, "draft6"))
		dialect = "http://json-schema.org/draft-06/schema#";
	else if (!strcmp(draft, "draft7"))
		dialect = "http://json-schema.org/draft-07/schema#";
	snprintf(path, sizeof(path), "%s/remotes", suite);
	load_remotes(path, "http://localhost:1234/");
	for (i = 0; i < n; i++) {
		cspf_json_doc *doc;
		const cJSON *group;
		if (!strstr(names[i], ".json") ||
		    (only && strcmp(only, names[i]))) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (cspf_json_load_file(&doc, path, NULL) < 0) {
			fail(names[i], "(file)", "(load)",
				cspf_error_last()->message);
		} else {
			cJSON_ArrayForEach(group, cspf_json_doc_root(doc))
				run_group(names[i], group);
			cspf_json_doc_free(doc);
		}
		free(names[i]);
	}
	free(names);
	for (i = 0; i < nremotes; i++) {
		free(remotes[i].uri);
		cspf_json_doc_free(remotes[i].doc);
	}
	free(remotes);
	for (i = 0; i < nskips; i++) {
		free(skips[i].file);
		free(skips[i].group);
		free(skips[i].test);
	}
	free(skips);
	printf("JSON Schema Test Suite %s: %zu passed, %zu failed, %zu "
		"skipped\n", draft, passed, failed, nskipped);
	printf("%zu passed, %zu failed, %zu skipped\n", passed, failed,
		nskipped);
	return failed ? 1 : 0;
}
