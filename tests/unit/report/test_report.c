/*
 * Unit tests of lib/report: each format written to memory and read back
 * the way its consumer would read it: text line by line, JSON and SARIF
 * with cJSON (and SARIF against the OASIS schema with python3-jsonschema),
 * JUnit with libxml2's parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "cspf/json.h"
#include "cspf/report.h"
#include "cspf/schema.h"
#include "util/uri.h"

#ifndef CSPF_TEST_SHARED
#define CSPF_TEST_SHARED "../shared"
#endif
#define SARIF_SCHEMA CSPF_TEST_SHARED "/schemas/sarif-schema-2.1.0.json"
#define PYTHON "/usr/bin/python3"

extern char **environ;

/* A report writing to memory. */
struct mem {
	char *buf;
	size_t len;
	FILE *f;
	cspf_report *r;
};

static void mem_open(struct mem *m, cspf_report_options *o)
{
	memset(m, 0, sizeof(*m));
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	assert_int_equal(cspf_report_new(&m->r, m->f, o), 0);
	assert_non_null(m->r);
}

/* Finish the report; m->buf then holds all of it. */
static void mem_finish(struct mem *m)
{
	assert_int_equal(cspf_report_finish(m->r), 0);
	assert_int_equal(fflush(m->f), 0);
}

static void mem_close(struct mem *m)
{
	cspf_report_free(m->r);
	fclose(m->f);
	free(m->buf);
}

static cspf_diag *add(cspf_diags *l, cspf_severity sev, const char *rule,
	unsigned int line, unsigned int col, const char *ptr,
	const char *keyword, const char *message)
{
	cspf_diag *d = cspf_diags_add(l, sev, rule, NULL, ptr, keyword,
		keyword ? "https://cspf.example/account.json#/properties/x" :
			NULL, message);

	assert_non_null(d);
	d->line = line;
	d->column = col;
	return d;
}

/* The three findings most tests use: one of each severity. */
static void sample(cspf_diags *l)
{
	add(l, CSPF_SEVERITY_ERROR, "schema", 2, 11, "/name", "pattern",
		"must match the pattern ^[a-z]+$");
	add(l, CSPF_SEVERITY_WARNING, "naming", 0, 0, NULL, NULL,
		"file name should be lower case");
	add(l, CSPF_SEVERITY_NOTE, "style", 4, 0, "", NULL,
		"consider sorting keys");
}

static const cspf_rule_info rules[] = {
	{ "schema", "SchemaViolation", "The document breaks its schema.",
		"Fix the member the pointer names so that it matches the "
		"schema: see [schemaLocation].",
		"https://cspf.example/rules/schema", CSPF_SEVERITY_ERROR },
	{ "naming", NULL, "File names are lower case.", NULL, NULL,
		CSPF_SEVERITY_WARNING },
};

/* ---- text ---- */

static const char sample_text[] =
	"accounts/prod.json:2:11: error[schema]: must match the pattern "
	"^[a-z]+$ (at /name)\n"
	"accounts/prod.json: warning[naming]: file name should be lower "
	"case\n"
	"accounts/prod.json:4: note[style]: consider sorting keys (at \"\")\n";

static void test_text_lines(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	const cspf_report_totals *t;
	struct mem m;

	sample(&l);
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "accounts/good.json", NULL),
		0);
	assert_int_equal(cspf_report_file(m.r, "accounts/prod.json", &l), 0);
	/* streaming: the lines are out before the report is finished */
	fflush(m.f);
	assert_string_equal(m.buf, sample_text);
	mem_finish(&m);
	assert_string_equal(m.buf + strlen(sample_text),
		"2 files checked, 1 with findings: 1 error, 1 warning, "
		"1 note\n");
	assert_null(strchr(m.buf, '\033'));
	t = cspf_report_totals_get(m.r);
	assert_int_equal(t->files, 2);
	assert_int_equal(t->with_findings, 1);
	assert_int_equal(t->errors, 1);
	assert_int_equal(t->warnings, 1);
	assert_int_equal(t->notes, 1);
	mem_close(&m);
	cspf_diags_clear(&l);
}

static void test_text_clean_summary(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags empty = CSPF_DIAGS_INIT;
	struct mem m;

	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "a.json", &empty), 0);
	mem_finish(&m);
	assert_string_equal(m.buf,
		"1 file checked, 0 with findings: 0 errors, 0 warnings\n");
	mem_close(&m);

	/* no_summary: nothing at all for a clean run */
	o.no_summary = 1;
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "a.json", &empty), 0);
	mem_finish(&m);
	assert_int_equal(m.len, 0);
	assert_int_equal(cspf_report_totals_get(m.r)->files, 1);
	mem_close(&m);
}

static void test_text_color(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	struct mem m;

	sample(&l);
	o.color = 1;
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "accounts/prod.json", &l), 0);
	mem_finish(&m);
	assert_string_equal(m.buf,
		"\033[1maccounts/prod.json:2:11:\033[0m \033[1;31merror\033[0m"
		"[schema]: must match the pattern ^[a-z]+$ (at /name)\n"
		"\033[1maccounts/prod.json:\033[0m \033[1;33mwarning\033[0m"
		"[naming]: file name should be lower case\n"
		"\033[1maccounts/prod.json:4:\033[0m \033[1;36mnote\033[0m"
		"[style]: consider sorting keys (at \"\")\n"
		"1 file checked, 1 with findings: 1 error, 1 warning, "
		"1 note\n");
	mem_close(&m);
	cspf_diags_clear(&l);
}

static void test_text_summary_stream(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	char *sbuf = NULL;
	size_t slen = 0;
	struct mem m;

	sample(&l);
	o.summary = open_memstream(&sbuf, &slen);
	assert_non_null(o.summary);
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "accounts/prod.json", &l), 0);
	mem_finish(&m);
	assert_string_equal(m.buf, sample_text);
	fflush(o.summary);
	assert_string_equal(sbuf, "1 file checked, 1 with findings: "
		"1 error, 1 warning, 1 note\n");
	mem_close(&m);
	fclose(o.summary);
	free(sbuf);
	cspf_diags_clear(&l);
}

/* Nothing a document or a file name holds can drive the terminal. */
static void test_text_escapes(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	struct mem m;

	add(&l, CSPF_SEVERITY_ERROR, "schema", 1, 2, "/a\tb",
		"additionalProperties",
		"property \"\033[2J\r\nx\x7f\" (\xe2\x80\xae) is not allowed");
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "bad\xff\xc0name\x1b.json",
		&l), 0);
	mem_finish(&m);
	assert_string_equal(m.buf,
		"bad\\xff\\xc0name\\x1b.json:1:2: error[schema]: property "
		"\"\\x1b[2J\\r\\nx\\x7f\" (\\u202e) is not allowed (at "
		"/a\\tb)\n"
		"1 file checked, 1 with findings: 1 error, 0 warnings\n");
	mem_close(&m);
	cspf_diags_clear(&l);
}

/* ---- json ---- */

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(v);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static double num_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(v);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static void test_json(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT, l2 = CSPF_DIAGS_INIT;
	cJSON *doc, *f, *x, *s;
	struct mem m;

	sample(&l);
	add(&l2, CSPF_SEVERITY_ERROR, "json", 3, 1, NULL, NULL,
		"bad byte \xff in \"str\"\n");
	o.format = CSPF_REPORT_JSON;
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "a.json", NULL), 0);
	assert_int_equal(cspf_report_file(m.r, "accounts/prod.json", &l), 0);
	fflush(m.f);
	/* streaming: the first finding is out already */
	assert_non_null(strstr(m.buf, "\"file\":\"accounts/prod.json\""));
	assert_int_equal(cspf_report_file(m.r, "b.json", &l2), 0);
	mem_finish(&m);

	doc = cJSON_Parse(m.buf);
	assert_non_null(doc);
	f = cJSON_GetObjectItemCaseSensitive(doc, "findings");
	assert_true(cJSON_IsArray(f));
	assert_int_equal(cJSON_GetArraySize(f), 4);

	x = cJSON_GetArrayItem(f, 0);
	assert_string_equal(str_of(x, "file"), "accounts/prod.json");
	assert_int_equal(num_of(x, "line"), 2);
	assert_int_equal(num_of(x, "column"), 11);
	assert_string_equal(str_of(x, "rule"), "schema");
	assert_string_equal(str_of(x, "severity"), "error");
	assert_string_equal(str_of(x, "pointer"), "/name");
	assert_string_equal(str_of(x, "keyword"), "pattern");
	assert_string_equal(str_of(x, "schemaLocation"),
		"https://cspf.example/account.json#/properties/x");
	assert_string_equal(str_of(x, "message"),
		"must match the pattern ^[a-z]+$");
	/* the keys in the documented order */
	assert_string_equal(x->child->string, "file");
	assert_string_equal(x->child->next->next->next->next->string,
		"severity");

	x = cJSON_GetArrayItem(f, 1);
	assert_string_equal(str_of(x, "severity"), "warning");
	assert_int_equal(num_of(x, "line"), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(x, "pointer")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(x, "keyword")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(x, "schemaLocation")));
	x = cJSON_GetArrayItem(f, 2);
	assert_string_equal(str_of(x, "severity"), "note");
	assert_string_equal(str_of(x, "pointer"), "");

	/* a byte that is not UTF-8 becomes U+FFFD: the output stays JSON */
	x = cJSON_GetArrayItem(f, 3);
	assert_string_equal(str_of(x, "file"), "b.json");
	assert_string_equal(str_of(x, "message"),
		"bad byte \xef\xbf\xbd in \"str\"\n");
	assert_null(memchr(m.buf, 0xff, m.len));

	s = cJSON_GetObjectItemCaseSensitive(doc, "summary");
	assert_non_null(s);
	assert_int_equal(num_of(s, "files"), 3);
	assert_int_equal(num_of(s, "withFindings"), 2);
	assert_int_equal(num_of(s, "errors"), 2);
	assert_int_equal(num_of(s, "warnings"), 1);
	assert_int_equal(num_of(s, "notes"), 1);
	cJSON_Delete(doc);
	mem_close(&m);
	cspf_diags_clear(&l);
	cspf_diags_clear(&l2);
}

static void test_json_empty(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cJSON *doc;
	struct mem m;

	o.format = CSPF_REPORT_JSON;
	mem_open(&m, &o);
	mem_finish(&m);
	assert_string_equal(m.buf, "{\n  \"findings\": [],\n  \"summary\": "
		"{\"files\":0,\"withFindings\":0,\"errors\":0,\"warnings\":0,"
		"\"notes\":0}\n}\n");
	doc = cJSON_Parse(m.buf);
	assert_non_null(doc);
	cJSON_Delete(doc);
	mem_close(&m);
}

/* ---- sarif ---- */

static cJSON *get(const cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		fail_msg("no \"%s\"", key);
	return v;
}

/* A SARIF report of `files` (NULL-terminated) each with `l`, parsed. */
static cJSON *sarif_of(cspf_report_options *o, const char *const *files,
	const cspf_diags *l, char **text)
{
	struct mem m;
	cJSON *doc;

	o->format = CSPF_REPORT_SARIF;
	mem_open(&m, o);
	for (; *files; files++)
		assert_int_equal(cspf_report_file(m.r, *files, l), 0);
	mem_finish(&m);
	doc = cJSON_Parse(m.buf);
	assert_non_null(doc);
	if (text)
		*text = strdup(m.buf);
	mem_close(&m);
	return doc;
}

static cJSON *run_of(cJSON *doc)
{
	cJSON *runs = get(doc, "runs");

	assert_int_equal(cJSON_GetArraySize(runs), 1);
	return cJSON_GetArrayItem(runs, 0);
}

static const cJSON *artifact(const cJSON *result)
{
	cJSON *locs = get(result, "locations");

	assert_int_equal(cJSON_GetArraySize(locs), 1);
	return get(get(cJSON_GetArrayItem(locs, 0), "physicalLocation"),
		"artifactLocation");
}

static void test_sarif_structure(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	const char *files[] = { "/srv/reg/accounts/prod acct.json", NULL };
	cJSON *doc, *run, *driver, *rs, *res, *x, *phys, *region, *art;
	const char *fp;
	int i;

	sample(&l);
	add(&l, CSPF_SEVERITY_ERROR, "io", 0, 0, NULL, NULL, "");
	o.tool_version = "9.8.7";
	o.tool_information_uri = "https://cspf.example/";
	o.base_dir = "/srv/reg/";
	o.rules = rules;
	o.nrules = 2;
	doc = sarif_of(&o, files, &l, NULL);

	assert_string_equal(str_of(doc, "version"), "2.1.0");
	assert_string_equal(str_of(doc, "$schema"),
		"https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/"
		"schemas/sarif-schema-2.1.0.json");
	run = run_of(doc);
	driver = get(get(run, "tool"), "driver");
	assert_string_equal(str_of(driver, "name"), "cspf");
	assert_string_equal(str_of(driver, "version"), "9.8.7");
	assert_string_equal(str_of(driver, "informationUri"),
		"https://cspf.example/");
	assert_string_equal(str_of(get(get(run, "originalUriBaseIds"),
		"SRCROOT"), "uri"), "file:///srv/reg/");

	/* the given rules first, in order, then those findings named */
	rs = get(driver, "rules");
	assert_int_equal(cJSON_GetArraySize(rs), 4);
	x = cJSON_GetArrayItem(rs, 0);
	assert_string_equal(str_of(x, "id"), "schema");
	assert_string_equal(str_of(x, "name"), "SchemaViolation");
	assert_string_equal(str_of(get(x, "shortDescription"), "text"),
		"The document breaks its schema.");
	assert_string_equal(str_of(get(x, "fullDescription"), "text"),
		rules[0].help);
	assert_string_equal(str_of(get(x, "help"), "text"), rules[0].help);
	assert_string_equal(str_of(get(x, "help"), "markdown"),
		"Fix the member the pointer names so that it matches the "
		"schema: see \\[schemaLocation\\].\n\n"
		"[More about schema](https://cspf.example/rules/schema)");
	assert_string_equal(str_of(x, "helpUri"), rules[0].help_uri);
	assert_string_equal(str_of(get(x, "defaultConfiguration"), "level"),
		"error");
	x = cJSON_GetArrayItem(rs, 1);
	assert_string_equal(str_of(x, "id"), "naming");
	assert_null(cJSON_GetObjectItem(x, "name"));
	assert_null(cJSON_GetObjectItem(x, "helpUri"));
	assert_string_equal(str_of(get(x, "fullDescription"), "text"),
		"File names are lower case.");
	assert_string_equal(str_of(get(x, "defaultConfiguration"), "level"),
		"warning");
	assert_string_equal(str_of(cJSON_GetArrayItem(rs, 2), "id"),
		"style");
	assert_string_equal(str_of(get(cJSON_GetArrayItem(rs, 2),
		"defaultConfiguration"), "level"), "note");
	assert_string_equal(str_of(cJSON_GetArrayItem(rs, 3), "id"), "io");

	res = get(run, "results");
	assert_int_equal(cJSON_GetArraySize(res), 4);
	for (i = 0; i < 4; i++) {
		x = cJSON_GetArrayItem(res, i);
		/* ruleIndex points at the rule ruleId names */
		assert_string_equal(str_of(x, "ruleId"),
			str_of(cJSON_GetArrayItem(rs,
				(int)num_of(x, "ruleIndex")), "id"));
		art = (cJSON *)artifact(x);
		assert_string_equal(str_of(art, "uri"),
			"accounts/prod%20acct.json");
		assert_string_equal(str_of(art, "uriBaseId"), "SRCROOT");
		fp = str_of(get(x, "partialFingerprints"),
			"primaryLocationLineHash");
		assert_int_equal(strlen(fp), 34);
		assert_int_equal(strspn(fp, "0123456789abcdef"), 32);
		assert_string_equal(fp + 32, ":1");
	}

	x = cJSON_GetArrayItem(res, 0);
	assert_string_equal(str_of(x, "level"), "error");
	assert_string_equal(str_of(get(x, "message"), "text"),
		"must match the pattern ^[a-z]+$ (at /name)");
	phys = get(cJSON_GetArrayItem(get(x, "locations"), 0),
		"physicalLocation");
	region = get(phys, "region");
	assert_int_equal(num_of(region, "startLine"), 2);
	assert_int_equal(num_of(region, "startColumn"), 11);
	assert_string_equal(str_of(get(x, "properties"), "keyword"),
		"pattern");
	assert_string_equal(str_of(get(x, "properties"), "pointer"), "/name");

	/* line 0: the file's first line, as GitHub wants a region; column
	 * 0: no startColumn */
	x = cJSON_GetArrayItem(res, 1);
	assert_string_equal(str_of(x, "level"), "warning");
	phys = get(cJSON_GetArrayItem(get(x, "locations"), 0),
		"physicalLocation");
	region = get(phys, "region");
	assert_int_equal(cJSON_GetObjectItem(region, "startLine")->valueint, 1);
	assert_null(cJSON_GetObjectItem(region, "startColumn"));
	x = cJSON_GetArrayItem(res, 2);
	assert_string_equal(str_of(x, "level"), "note");
	region = get(get(cJSON_GetArrayItem(get(x, "locations"), 0),
		"physicalLocation"), "region");
	assert_int_equal(num_of(region, "startLine"), 4);
	assert_null(cJSON_GetObjectItem(region, "startColumn"));
	/* an empty message still has text */
	x = cJSON_GetArrayItem(res, 3);
	assert_string_equal(str_of(get(x, "message"), "text"), "io");

	cJSON_Delete(doc);
	cspf_diags_clear(&l);
}

static const char *uri_of(cJSON *doc, int i)
{
	return str_of(artifact(cJSON_GetArrayItem(get(run_of(doc),
		"results"), i)), "uri");
}

/* Paths become relative references, encoded, or file: URIs outside. */
static void test_sarif_uris(void **state)
{
	static const char *const files[] = {
		"/srv/reg/a/./b/../c.json",
		"/srv/reg//x:y/%20#?[].json",
		"/srv/registry/other.json",
		"/srv/reg/../reg/d\xc3\xa9j\xc3\xa0.json",
		"/srv/reg/../../srv/reg/e.json",
		NULL,
	};
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	cJSON *doc, *x;
	int i;

	add(&l, CSPF_SEVERITY_ERROR, "schema", 1, 1, "/a", "type", "bad");
	o.base_dir = "/srv/./reg";
	doc = sarif_of(&o, files, &l, NULL);
	assert_string_equal(uri_of(doc, 0), "a/c.json");
	assert_string_equal(uri_of(doc, 1), "x%3Ay/%2520%23%3F%5B%5D.json");
	assert_string_equal(uri_of(doc, 2), "file:///srv/registry/other.json");
	x = (cJSON *)artifact(cJSON_GetArrayItem(get(run_of(doc), "results"),
		2));
	assert_null(cJSON_GetObjectItem(x, "uriBaseId"));
	assert_string_equal(uri_of(doc, 3), "d%C3%A9j%C3%A0.json");
	assert_string_equal(uri_of(doc, 4), "e.json");
	for (i = 0; i < 5; i++)
		assert_true(cspf_uri_is_reference(uri_of(doc, i),
			strlen(uri_of(doc, i))));
	cJSON_Delete(doc);

	/* no base_dir: relative paths as they are, normalised */
	{
		static const char *const rel[] = { "./reg/x.json",
			"/abs/y.json", NULL };
		cspf_report_options o2 = CSPF_REPORT_OPTIONS_INIT;

		doc = sarif_of(&o2, rel, &l, NULL);
		assert_string_equal(uri_of(doc, 0), "reg/x.json");
		assert_string_equal(uri_of(doc, 1), "file:///abs/y.json");
		assert_null(cJSON_GetObjectItem(run_of(doc),
			"originalUriBaseIds"));
		cJSON_Delete(doc);
	}

	/* a relative base_dir and relative paths: both from the cwd */
	{
		static const char *const rel[] = { "sub/z.json", NULL };
		cspf_report_options o3 = CSPF_REPORT_OPTIONS_INIT;
		char *cwd = getcwd(NULL, 0);
		const char *base;

		o3.base_dir = ".";
		doc = sarif_of(&o3, rel, &l, NULL);
		assert_string_equal(uri_of(doc, 0), "sub/z.json");
		base = str_of(get(get(run_of(doc), "originalUriBaseIds"),
			"SRCROOT"), "uri");
		assert_true(strncmp(base, "file:///", 8) == 0);
		assert_true(base[strlen(base) - 1] == '/');
		if (!strpbrk(cwd, " %#?[]:"))
			assert_memory_equal(base + 7, cwd, strlen(cwd));
		free(cwd);
		cJSON_Delete(doc);
	}
	cspf_diags_clear(&l);
}

static const char *fingerprint(cJSON *doc, int i)
{
	return str_of(get(cJSON_GetArrayItem(get(run_of(doc), "results"), i),
		"partialFingerprints"), "primaryLocationLineHash");
}

/*
 * The fingerprint follows the finding, not its line: moved down by an
 * edit above it, it keeps it; on another pointer or file it changes;
 * repeats are counted.
 */
static void test_sarif_fingerprints(void **state)
{
	static const char *const one[] = { "reg/a.json", NULL };
	static const char *const two[] = { "reg/a.json", "reg/b.json", NULL };
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT, moved = CSPF_DIAGS_INIT;
	cJSON *d1, *d2, *d3;
	char *fp;

	add(&l, CSPF_SEVERITY_ERROR, "schema", 3, 5, "/owner", "required",
		"missing \"team\"");
	add(&l, CSPF_SEVERITY_ERROR, "schema", 9, 5, "/tags", "type",
		"must be an array");
	add(&l, CSPF_SEVERITY_ERROR, "schema", 3, 5, "/owner", "required",
		"missing \"email\"");
	add(&moved, CSPF_SEVERITY_ERROR, "schema", 30, 7, "/owner",
		"required", "missing \"team\"");
	d1 = sarif_of(&o, one, &l, NULL);
	d2 = sarif_of(&o, one, &moved, NULL);
	d3 = sarif_of(&o, two, &l, NULL);

	fp = strdup(fingerprint(d1, 0));
	assert_string_equal(fingerprint(d2, 0), fp);
	assert_string_not_equal(fingerprint(d1, 1), fp);
	/* the same rule, pointer and keyword again: the count goes up */
	assert_memory_equal(fingerprint(d1, 2), fp, 32);
	assert_string_equal(fingerprint(d1, 2) + 32, ":2");
	/* another file */
	assert_string_equal(fingerprint(d3, 0), fp);
	assert_memory_not_equal(fingerprint(d3, 3), fp, 32);
	assert_string_equal(fingerprint(d3, 3) + 32, ":1");
	free(fp);
	cJSON_Delete(d1);
	cJSON_Delete(d2);
	cJSON_Delete(d3);
	cspf_diags_clear(&l);
	cspf_diags_clear(&moved);
}

/*
 * Run python3-jsonschema's Draft4Validator (with its format checker, so
 * "uri" is checked too) on `doc` against the OASIS SARIF schema.
 */
static int validate_with_python(const char *doc, int quiet)
{
	static const char script[] =
		"import json, sys, jsonschema\n"
		"s = json.load(open(sys.argv[1]))\n"
		"d = json.load(open(sys.argv[2]))\n"
		"jsonschema.Draft4Validator(s, format_checker="
		"jsonschema.draft4_format_checker).validate(d)\n";
	char tmpl[] = "/tmp/cspf-sarif-XXXXXX";
	char *argv[] = { PYTHON, "-c", (char *)script, SARIF_SCHEMA, tmpl,
		NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int fd, status = -1;
	size_t len = strlen(doc);

	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, doc, len), (ssize_t)len);
	close(fd);
	posix_spawn_file_actions_init(&fa);
	if (quiet) /* a failure expected: spare the log its long report */
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
			O_WRONLY, 0);
	if (posix_spawn(&pid, PYTHON, &fa, NULL, argv, environ) == 0)
		waitpid(pid, &status, 0);
	posix_spawn_file_actions_destroy(&fa);
	unlink(tmpl);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * The same check with cspf's own engine (draft-04, formats asserted):
 * 0 valid, 1 invalid, with the first finding printed.
 */
static int validate_with_cspf(const char *doc)
{
	cspf_schema_options so = CSPF_SCHEMA_OPTIONS_INIT;
	cspf_schema_set *set = NULL;
	cspf_schema *schema = NULL;
	cspf_json_doc *sdoc = NULL, *log = NULL;
	cspf_diags l = CSPF_DIAGS_INIT;
	int rc;

	assert_int_equal(cspf_schema_set_new(&set), 0);
	assert_int_equal(cspf_json_load_file(&sdoc, SARIF_SCHEMA, NULL), 0);
	assert_int_equal(cspf_schema_set_add_doc(set, sdoc, NULL), 0);
	if (cspf_schema_compile(&schema, set, cspf_schema_set_last_uri(set),
		&so, NULL) < 0)
		fail_msg("the SARIF schema does not compile: %s",
			cspf_error_last()->message);
	assert_int_equal(cspf_json_parse(&log, doc, strlen(doc), "log.sarif",
		NULL), 0);
	rc = cspf_schema_validate_doc(&l, schema, log);
	if (rc == 1)
		print_message("cspf: %u:%u: %s (at %s)\n", l.items[0].line,
			l.items[0].column, l.items[0].message,
			l.items[0].pointer);
	cspf_diags_clear(&l);
	cspf_json_doc_free(log);
	cspf_schema_free(schema);
	cspf_schema_set_free(set);
	return rc;
}

/* Both validators on `text`: 0 when both accept it. */
static void check_sarif(const char *text, int python)
{
	if (python)
		assert_int_equal(validate_with_python(text, 0), 0);
	assert_int_equal(validate_with_cspf(text), 0);
}

static void test_sarif_schema(void **state)
{
	static const char *const files[] = { "/srv/reg/accounts/p q.json",
		"/elsewhere/x.json", "/srv/reg/d\xc3\xa9j\xc3\xa0:1.json",
		NULL };
	static const char *const none[] = { NULL };
	static const char not_sarif[] = "{\"version\": \"2.1.0\", "
		"\"runs\": [{}]}";
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_report_options bare = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	char *text;
	cJSON *doc;
	int python = access(PYTHON, X_OK) == 0;

	if (access(SARIF_SCHEMA, R_OK) != 0) {
		print_message("skipped: no SARIF schema at %s\n",
			SARIF_SCHEMA);
		skip();
	}
	if (!python)
		print_message("no %s: python3-jsonschema's check skipped, "
			"cspf's own still runs\n", PYTHON);
	sample(&l);
	add(&l, CSPF_SEVERITY_ERROR, NULL, 0, 0, NULL, NULL, NULL);
	o.tool_information_uri = "https://cspf.example/";
	o.base_dir = "/srv/reg";
	o.rules = rules;
	o.nrules = 2;
	doc = sarif_of(&o, files, &l, &text);
	check_sarif(text, python);
	cJSON_Delete(doc);
	free(text);

	/* no options at all, no results */
	doc = sarif_of(&bare, none, NULL, &text);
	assert_int_equal(cJSON_GetArraySize(get(run_of(doc), "results")), 0);
	assert_int_equal(cJSON_GetArraySize(get(get(get(run_of(doc), "tool"),
		"driver"), "rules")), 0);
	check_sarif(text, python);
	cJSON_Delete(doc);
	free(text);

	/* and each check does fail on a log that is not SARIF */
	if (python)
		assert_int_not_equal(validate_with_python(not_sarif, 1), 0);
	assert_int_equal(validate_with_cspf(not_sarif), 1);
	cspf_diags_clear(&l);
}

/* ---- junit ---- */

static const char *attr(xmlNodePtr n, const char *name, char *buf,
	size_t size)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);

	if (!v)
		fail_msg("<%s> has no %s", (const char *)n->name, name);
	snprintf(buf, size, "%s", (const char *)v);
	xmlFree(v);
	return buf;
}

static xmlNodePtr next_element(xmlNodePtr n)
{
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

static xmlNodePtr first_child(xmlNodePtr n)
{
	return next_element(n->children);
}

static void test_junit(void **state)
{
	static const char weird[] = "dir/<a&b>\"q\" 'r'.json";
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT, ctl = CSPF_DIAGS_INIT;
	xmlDocPtr doc;
	xmlNodePtr root, suite, tc, fail;
	xmlChar *body;
	char b[512];
	struct mem m;

	sample(&l);
	add(&ctl, CSPF_SEVERITY_ERROR, "schema", 1, 1, "/k", "const",
		"bell\a nul-less \x01\x1f esc\033 del\x7f </failure> & "
		"\xff ]]>");
	o.format = CSPF_REPORT_JUNIT;
	mem_open(&m, &o);
	assert_int_equal(cspf_report_file(m.r, "good.json", NULL), 0);
	assert_int_equal(cspf_report_file(m.r, "accounts/prod.json", &l), 0);
	assert_int_equal(cspf_report_file(m.r, weird, &ctl), 0);
	mem_finish(&m);
	/* the writer escaped, nobody by hand */
	assert_non_null(strstr(m.buf, "name=\"dir/&lt;a&amp;b&gt;&quot;q&quot;"
		" 'r'.json\""));

	doc = xmlReadMemory(m.buf, (int)m.len, "junit.xml", NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "testsuites");
	assert_string_equal(attr(root, "tests", b, sizeof(b)), "3");
	assert_string_equal(attr(root, "failures", b, sizeof(b)), "2");
	assert_string_equal(attr(root, "errors", b, sizeof(b)), "0");
	suite = first_child(root);
	assert_string_equal((const char *)suite->name, "testsuite");
	assert_string_equal(attr(suite, "name", b, sizeof(b)), "cspf");
	assert_string_equal(attr(suite, "tests", b, sizeof(b)), "3");
	assert_string_equal(attr(suite, "failures", b, sizeof(b)), "2");
	assert_string_equal(attr(suite, "errors", b, sizeof(b)), "0");
	assert_null(next_element(suite->next));

	tc = first_child(suite);
	assert_string_equal((const char *)tc->name, "testcase");
	assert_string_equal(attr(tc, "classname", b, sizeof(b)),
		"cspf.validate");
	assert_string_equal(attr(tc, "name", b, sizeof(b)), "good.json");
	assert_null(first_child(tc));

	tc = next_element(tc->next);
	assert_string_equal(attr(tc, "name", b, sizeof(b)),
		"accounts/prod.json");
	fail = first_child(tc);
	assert_string_equal((const char *)fail->name, "failure");
	assert_string_equal(attr(fail, "message", b, sizeof(b)),
		"3 findings");
	assert_string_equal(attr(fail, "type", b, sizeof(b)), "cspf");
	body = xmlNodeGetContent(fail);
	assert_string_equal((const char *)body, sample_text);
	xmlFree(body);

	/* <&"> come back as they were; control characters as escapes */
	tc = next_element(tc->next);
	assert_string_equal(attr(tc, "name", b, sizeof(b)), weird);
	fail = first_child(tc);
	assert_string_equal(attr(fail, "message", b, sizeof(b)),
		"1 finding");
	body = xmlNodeGetContent(fail);
	assert_string_equal((const char *)body,
		"dir/<a&b>\"q\" 'r'.json:1:1: error[schema]: bell\\x07 "
		"nul-less \\x01\\x1f esc\\x1b del\\x7f </failure> & \\xff ]]> "
		"(at /k)\n");
	xmlFree(body);
	assert_null(next_element(tc->next));
	xmlFreeDoc(doc);
	mem_close(&m);
	cspf_diags_clear(&l);
	cspf_diags_clear(&ctl);
}

static void test_junit_empty(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	xmlDocPtr doc;
	xmlNodePtr root;
	char b[64];
	struct mem m;

	o.format = CSPF_REPORT_JUNIT;
	mem_open(&m, &o);
	mem_finish(&m);
	doc = xmlReadMemory(m.buf, (int)m.len, "junit.xml", NULL,
		XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	assert_string_equal(attr(root, "tests", b, sizeof(b)), "0");
	assert_string_equal(attr(root, "failures", b, sizeof(b)), "0");
	assert_string_equal(attr(first_child(root), "tests", b, sizeof(b)),
		"0");
	xmlFreeDoc(doc);
	mem_close(&m);
}

/* ---- the calls themselves ---- */

static void test_bad_options(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_rule_info twice[] = { { "a", NULL, NULL, NULL, NULL, 0 },
		{ "a", NULL, NULL, NULL, NULL, 0 } };
	cspf_rule_info noid[] = { { NULL, "Name", NULL, NULL, NULL, 0 } };
	cspf_rule_info baduri[] = { { "a", NULL, NULL, NULL, "not a uri",
		0 } };
	cspf_report *r = (cspf_report *)&o;

	o.version = 99;
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	assert_null(r);
	o.version = CSPF_REPORT_OPTIONS_VERSION;
	o.format = (cspf_report_format)42;
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	o.format = CSPF_REPORT_SARIF;
	o.rules = twice;
	o.nrules = 2;
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "twice"));
	o.rules = noid;
	o.nrules = 1;
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	o.rules = baduri;
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	o.rules = NULL;
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	o.nrules = 0;
	o.tool_information_uri = "relative/only";
	assert_int_equal(cspf_report_new(&r, stdout, &o), CSPF_EINVALID);
	assert_int_equal(cspf_report_new(&r, NULL, NULL), CSPF_EINVALID);
	assert_null(r);
	cspf_report_free(NULL);
}

static void test_finish_once(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	struct mem m;

	o.format = CSPF_REPORT_JSON;
	mem_open(&m, &o);
	mem_finish(&m);
	assert_int_equal(cspf_report_finish(m.r), CSPF_EINVALID);
	assert_int_equal(cspf_report_file(m.r, "late.json", NULL),
		CSPF_EINVALID);
	mem_close(&m);
}

/* A full disk: finish says so, for every format. */
static void test_write_error(void **state)
{
	cspf_report_options o = CSPF_REPORT_OPTIONS_INIT;
	cspf_diags l = CSPF_DIAGS_INIT;
	cspf_report *r;
	FILE *f;
	int fmt;

	f = fopen("/dev/full", "w");
	if (!f) {
		print_message("skipped: no /dev/full\n");
		skip();
	}
	fclose(f);
	sample(&l);
	for (fmt = CSPF_REPORT_TEXT; fmt <= CSPF_REPORT_JUNIT; fmt++) {
		f = fopen("/dev/full", "w");
		assert_non_null(f);
		o.format = (cspf_report_format)fmt;
		assert_int_equal(cspf_report_new(&r, f, &o), 0);
		cspf_report_file(r, "a.json", &l);
		assert_true(cspf_report_finish(r) < 0);
		assert_non_null(strstr(cspf_error_last()->message,
			"cannot write the report"));
		cspf_report_free(r);
		fclose(f);
	}
	cspf_diags_clear(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_lines),
		cmocka_unit_test(test_text_clean_summary),
		cmocka_unit_test(test_text_color),
		cmocka_unit_test(test_text_summary_stream),
		cmocka_unit_test(test_text_escapes),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_empty),
		cmocka_unit_test(test_sarif_structure),
		cmocka_unit_test(test_sarif_uris),
		cmocka_unit_test(test_sarif_fingerprints),
		cmocka_unit_test(test_sarif_schema),
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_junit_empty),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_finish_once),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
