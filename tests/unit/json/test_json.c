/*
 * Unit tests for lib/json: strict parsing, error positions, the tree's
 * cJSON invariants, numbers, strings with U+0000, limits, JSON pointers
 * and their positions, loading files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cspf/json.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

static cspf_json_doc *parse_ok_at(
	const char *json, size_t len, const char *file, int line)
{
	cspf_json_doc *doc = NULL;
	int r = cspf_json_parse(&doc, json, len, "t.json", NULL);

	if (r != 0) {
		const cspf_error *e = cspf_error_last();

		fail_msg("%s:%d: parse failed (%d) at %u:%u: %s", file, line, r,
			e ? e->line : 0, e ? e->column : 0,
			e ? e->message : "(no error)");
	}
	assert_non_null(doc);
	return doc;
}
#define PARSE_OK(s) parse_ok_at((s), strlen(s), __FILE__, __LINE__)

/*
 * Parse `len` bytes that must fail with `code` at line:column, with a
 * message containing `needle`.
 */
static void check_error_at(const char *json, size_t len, int code,
	unsigned int eline, unsigned int ecol, const char *needle,
	const char *file, int line)
{
	cspf_json_doc *doc = NULL;
	const cspf_error *e;
	int r = cspf_json_parse(&doc, json, len, "t.json", NULL);

	if (r == 0) {
		cspf_json_doc_free(doc);
		fail_msg("%s:%d: parse succeeded, expected error %d", file,
			line, code);
	}
	assert_null(doc);
	e = cspf_error_last();
	assert_non_null(e);
	if (r != code || e->line != eline || e->column != ecol ||
		(needle && !strstr(e->message, needle)) ||
		e->klass != CSPF_ERRCLASS_JSON || !e->file ||
		strcmp(e->file, "t.json") != 0)
		fail_msg("%s:%d: got %d at %u:%u \"%s\"; expected %d at %u:%u "
			 "with \"%s\"",
			file, line, r, e->line, e->column, e->message, code,
			eline, ecol, needle ? needle : "");
}
/* For string literals, which may hold NUL bytes. */
#define ERR(lit, code, l, c, needle)                                           \
	check_error_at((lit), sizeof(lit) - 1, (code), (l), (c), (needle),     \
		__FILE__, __LINE__)
#define BAD(lit, l, c, needle) ERR(lit, CSPF_EINVALID, l, c, needle)

static const cJSON *root_of(const cspf_json_doc *doc)
{
	const cJSON *root = cspf_json_doc_root(doc);

	assert_non_null(root);
	return root;
}

/* Check cJSON 1.7.15's list invariants over the whole tree. */
static void check_links(const cJSON *item, unsigned int depth)
{
	const cJSON *c, *last = NULL;

	assert_true(depth < 20000);
	if (!item->child)
		return;
	for (c = item->child; c; c = c->next) {
		if (c != item->child)
			assert_ptr_equal(c->prev, last);
		if (cJSON_IsObject(item))
			assert_non_null(c->string);
		else
			assert_null(c->string);
		last = c;
		check_links(c, depth + 1);
	}
	assert_ptr_equal(item->child->prev, last);
}

static char *make_tempdir(void)
{
	char tmpl[] = "/tmp/cspf-json-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static char *write_file(
	const char *dir, const char *name, const char *data, size_t len)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *path = malloc(n);
	FILE *f;

	assert_non_null(path);
	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* ------------------------------------------------------------------ */
/* Valid documents and the tree                                       */

static void test_tree_is_plain_cjson(void **state)
{
	static const char text[] =
		"{\"name\": \"web\", \"port\": 443, \"tls\": true,\n"
		" \"off\": false, \"none\": null, \"tags\": [\"a\", \"b\", "
		"\"c\"],\n \"nested\": {\"x\": [], \"y\": {}}}";
	cspf_json_doc *doc = PARSE_OK(text);
	const cJSON *root = root_of(doc), *tags, *it;
	cJSON *copy, *extra;
	char *printed;
	int n = 0;

	(void)state;
	assert_true(cJSON_IsObject(root));
	check_links(root, 0);
	assert_string_equal(
		cJSON_GetObjectItemCaseSensitive(root, "name")->valuestring,
		"web");
	assert_int_equal(
		cJSON_GetObjectItemCaseSensitive(root, "port")->valueint, 443);
	assert_true(
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "tls")));
	assert_int_equal(
		cJSON_GetObjectItemCaseSensitive(root, "tls")->valueint, 1);
	assert_true(
		cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "off")));
	assert_true(
		cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "none")));
	tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
	assert_int_equal(cJSON_GetArraySize(tags), 3);
	cJSON_ArrayForEach(it, tags) n++;
	assert_int_equal(n, 3);
	assert_string_equal(cJSON_GetArrayItem(tags, 2)->valuestring, "c");
	printed = cJSON_PrintUnformatted(root);
	assert_string_equal(printed,
		"{\"name\":\"web\",\"port\":443,\"tls\":true,\"off\":false,"
		"\"none\":null,\"tags\":[\"a\",\"b\",\"c\"],\"nested\":{\"x\":"
		"[],\"y\":{}}}");
	cJSON_free(printed);

	/* cJSON's own appends rely on child->prev being the last item. */
	copy = cJSON_Duplicate(root, 1);
	assert_non_null(copy);
	extra = cJSON_CreateString("d");
	cJSON_AddItemToArray(
		cJSON_GetObjectItemCaseSensitive(copy, "tags"), extra);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
				 copy, "tags")),
		4);
	cJSON_Delete(copy);
	extra = cJSON_CreateString("d");
	cJSON_AddItemToArray((cJSON *)tags, extra);
	assert_ptr_equal(cJSON_GetArrayItem(tags, 3), extra);
	assert_ptr_equal(tags->child->prev, extra);
	/* The document frees its own nodes only: take the stranger back. */
	cJSON_Delete(cJSON_DetachItemViaPointer((cJSON *)tags, extra));

	assert_string_equal(cspf_json_doc_name(doc), "t.json");
	cspf_json_doc_free(doc);
}

static void test_scalars_and_whitespace(void **state)
{
	cspf_json_doc *doc;
	size_t len;

	(void)state;
	doc = PARSE_OK(" \t\r\n 42 \r\n");
	assert_true(cJSON_IsNumber(root_of(doc)));
	assert_string_equal(cspf_json_doc_text(doc, &len), " \t\r\n 42 \r\n");
	assert_int_equal(len, 10);
	cspf_json_doc_free(doc);
	doc = PARSE_OK("\"\"");
	assert_string_equal(root_of(doc)->valuestring, "");
	assert_int_equal(cspf_json_strlen(root_of(doc)), 0);
	cspf_json_doc_free(doc);
	doc = PARSE_OK("null");
	assert_true(cJSON_IsNull(root_of(doc)));
	cspf_json_doc_free(doc);
	doc = PARSE_OK("[[],{},[[]],{\"\":{}}]");
	check_links(root_of(doc), 0);
	cspf_json_doc_free(doc);
}

static void test_bom(void **state)
{
	cspf_json_doc *doc;

	(void)state;
	doc = PARSE_OK("\xEF\xBB\xBF{\"a\": 1}");
	assert_int_equal(
		cJSON_GetObjectItemCaseSensitive(root_of(doc), "a")->valueint,
		1);
	cspf_json_doc_free(doc);
	/* The BOM is not a column. */
	BAD("\xEF\xBB\xBF[x]", 1, 2, "'x'");
	BAD("\xEF\xBB\xBF", 1, 1, "empty document");
	/* Only at the very start. */
	BAD(" \xEF\xBB\xBF[]", 1, 2, "byte order mark");
	BAD("[\xEF\xBB\xBF]", 1, 2, "byte order mark");
	BAD("\xFF\xFE[\0]\0", 1, 1, "UTF-16");
}

static void test_empty(void **state)
{
	cspf_json_doc *doc = NULL;

	(void)state;
	BAD("", 1, 1, "empty document");
	BAD("  \n\t\r\n  ", 1, 1, "empty document");
	assert_int_equal(
		cspf_json_parse(&doc, NULL, 0, "t.json", NULL), CSPF_EINVALID);
	assert_null(doc);
	assert_string_equal(cspf_error_last()->message,
		"empty document: expected a JSON value");
}

/* ------------------------------------------------------------------ */
/* Rejections                                                         */

static void test_trailing_garbage(void **state)
{
	(void)state;
	BAD("{}\n  x", 2, 3, "after the end of the document");
	BAD("[1] [2]", 1, 5, "exactly one value");
	BAD("1 2", 1, 3, "'2'");
	BAD("\"a\"\"b\"", 1, 4, "'\"'");
	BAD("{}\0", 1, 3, "NUL byte");
	BAD("{} // done", 1, 4, "comments are not allowed");
	BAD("{}\x80", 1, 3, "continuation byte 0x80");
	BAD("truex", 1, 1, "'truex'");
	BAD("nullnull", 1, 1, "'nullnull'");
}

static void test_numbers_rejected(void **state)
{
	(void)state;
	BAD("01", 1, 1, "leading zeros");
	BAD("[1, -007]", 1, 5, "leading zeros");
	BAD("00", 1, 1, "leading zeros");
	BAD("+1", 1, 1, "'+'");
	BAD(".5", 1, 1, "put a 0 before it");
	BAD("[-.5]", 1, 3, "expected a digit after '-'");
	BAD("1.", 1, 3, "digit after the decimal point");
	BAD("[1.]", 1, 4, "invalid number '1.'");
	BAD("1.e5", 1, 3, "digit after the decimal point");
	BAD("1e", 1, 3, "exponent");
	BAD("[1e+]", 1, 5, "invalid number '1e+'");
	BAD("1E-", 1, 4, "exponent");
	BAD("-", 1, 2, "digit after '-'");
	BAD("- 1", 1, 2, "digit after '-'");
	BAD("NaN", 1, 1, "NaN and Infinity");
	BAD("[Infinity]", 1, 2, "NaN and Infinity");
	BAD("{\"a\": -Infinity}", 1, 7, "NaN and Infinity");
	BAD("-NaN", 1, 1, "NaN and Infinity");
	BAD("0x10", 1, 2, "'x10'");
	BAD("1.5.3", 1, 4, "'.'");
}

static void test_literals_and_quotes(void **state)
{
	(void)state;
	BAD("True", 1, 1, "lowercase");
	BAD("[NULL]", 1, 2, "lowercase");
	BAD("{\"a\": None}", 1, 7, "lowercase");
	BAD("[tru]", 1, 2, "'tru'");
	BAD("[undefined]", 1, 2, "double quotes");
	BAD("'a'", 1, 1, "not single quotes");
	BAD("{'a': 1}", 1, 2, "not single quotes");
	BAD("{a: 1}", 1, 2, "key in double quotes, found 'a'");
	BAD("{1: 1}", 1, 2, "key in double quotes");
	BAD("// c\n{}", 1, 1, "comments are not allowed");
	BAD("{/* c */}", 1, 2, "comments are not allowed");
	BAD("[1, # c\n]", 1, 5, "comments are not allowed");
	BAD("[1 /* c */]", 1, 4, "comments are not allowed");
	BAD("[1 2]", 1, 4,
		"expected ',' or ']' after an array item, found "
		"'2'");
	BAD("{\"a\": 1 \"b\": 2}", 1, 9, "expected ',' or '}'");
	BAD("{\"a\" 1}", 1, 6, "expected ':' after the key \"a\"");
	BAD("{\"a\":}", 1, 6, "expected a value");
	BAD("[,1]", 1, 2, "expected a value");
	BAD("{,}", 1, 2, "expected an object key");
	BAD("]", 1, 1, "']'");
}

static void test_trailing_commas(void **state)
{
	(void)state;
	BAD("[1, 2,]", 1, 6, "trailing comma before ']'");
	BAD("{\"a\": 1,\n}", 1, 8, "trailing comma before '}'");
	BAD("[1,,2]", 1, 4, "expected a value");
}

static void test_truncated(void **state)
{
	(void)state;
	BAD("{\"a\": 1", 1, 8,
		"unexpected end of file, expected ',' or '}' "
		"to close the object opened at line 1 column 1");
	BAD("{\n  \"list\": [1, {\"b\": 2}\n", 3, 1,
		"expected ',' or ']' to close the array opened at line 2 "
		"column 11");
	BAD("[", 1, 2,
		"expected a value; the array opened at line 1 column "
		"1 is not closed");
	BAD("{", 1, 2, "expected a key; the object opened at line 1 column 1");
	BAD("{\"a\"", 1, 5,
		"expected ':' after the key \"a\"; the object "
		"opened at line 1 column 1 is not closed");
	BAD("{\"a\":", 1, 6, "unexpected end of file, expected a value");
	BAD("[1,", 1, 4, "unexpected end of file, expected a value");
	BAD("[\"abc", 1, 6,
		"inside the string that starts at line 1 column "
		"2; close it with '\"'");
	BAD("\"ab\\", 1, 5, "unexpected end of file inside the string");
	BAD("\"\\u00", 1, 6, "unexpected end of file inside the string");
	BAD("\"\\ud83d", 1, 8, "unexpected end of file inside the string");
	BAD("\"\\ud83d\\", 1, 9, "unexpected end of file inside the string");
	BAD("[1.5e", 1, 6, "unexpected end of file in the number '1.5e'");
	BAD("[-", 1, 3, "unexpected end of file in the number '-'");
	BAD("{\"k\": tr", 1, 7, "'tr'");
}

static void test_control_characters(void **state)
{
	(void)state;
	BAD("\"a\tb\"", 1, 3, "U+0009 in a string; write it as \\t");
	BAD("[\"x\",\n \"line\none\"]", 2, 7, "line break inside a string");
	BAD("\"a\rb\"", 1, 3, "write it as \\r");
	BAD("\"\x01\"", 1, 2, "U+0001");
	BAD("\"\x1f\"", 1, 2, "write it as \\u001f");
	BAD("\"ab\0cd\"", 1, 4, "raw NUL byte");
	BAD("{\"k\0\": 1}", 1, 4, "raw NUL byte");
	BAD("[\0]", 1, 2, "NUL byte");
	BAD("[\x01]", 1, 2, "control character U+0001");
	/* DEL is not a control character for JSON. */
	cspf_json_doc_free(PARSE_OK("\"\x7f\""));
}

static void test_bad_escapes(void **state)
{
	(void)state;
	BAD("\"\\x\"", 1, 2, "backslash followed by 'x'");
	BAD("[\"ok\", \"C:\\dir\"]", 1, 11, "valid escapes are");
	BAD("\"\\'\"", 1, 2, "backslash followed by '''");
	BAD("\"\\u12G4\"", 1, 2, "four hexadecimal digits");
	BAD("\"\\u\"", 1, 2, "four hexadecimal digits");
	BAD("\"\\U0041\"", 1, 2, "'U'");
	BAD("\"\\\x01\"", 1, 2, "control character U+0001");
	BAD("\"\\\xff\"", 1, 3, "invalid UTF-8");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	/* overlong */
	BAD("\"\xC0\xAF\"", 1, 2, "overlong");
	BAD("\"\xC1\xBF\"", 1, 2, "overlong");
	BAD("\"\xE0\x80\xAF\"", 1, 2, "overlong");
	BAD("\"\xF0\x80\x80\xAF\"", 1, 2, "overlong");
	/* surrogate code points */
	BAD("\"\xED\xA0\x80\"", 1, 2, "surrogate U+D800");
	BAD("\"ab\xED\xBF\xBF\"", 1, 4, "surrogate U+DFFF");
	/* beyond U+10FFFF */
	BAD("\"\xF4\x90\x80\x80\"", 1, 2, "beyond U+10FFFF");
	BAD("\"\xF5\x80\x80\x80\"", 1, 2, "beyond U+10FFFF");
	BAD("\"\xFF\"", 1, 2, "never occurs");
	/* truncated */
	BAD("\"\xC3\"", 1, 2, "truncated");
	BAD("\"\xE2\x82\"", 1, 2, "truncated");
	BAD("\"\xF0\x9F\x98\"", 1, 2, "truncated");
	BAD("\"\xE2\x82", 1, 2, "truncated");
	BAD("\"\xC3", 1, 2, "truncated");
	/* stray continuation bytes */
	BAD("\"\x80\"", 1, 2, "continuation byte 0x80");
	BAD("\"\xC3\xA9\xA9\"", 1, 3, "continuation byte 0xA9");
	/* in keys, and outside strings */
	BAD("{\"k\xC3\": 1}", 1, 4, "truncated");
	BAD("[1,\xC3\xA9]", 1, 4, "unexpected 'é'");
	BAD("[1,\xC3]", 1, 4, "truncated");
	BAD("[1 \xFE]", 1, 4, "invalid UTF-8");
	BAD("{\"a\" \x80}", 1, 6, "continuation byte");
	/* after an escape: the decoded part does not hide bad bytes */
	BAD("\"\\n\xC0\xAF\"", 1, 4, "overlong");
}

static void test_valid_utf8(void **state)
{
	static const char text[] =
		"[\"\xC2\x80\", \"\xDF\xBF\", \"\xE0\xA0\x80\", "
		"\"\xED\x9F\xBF\", "
		"\"\xEE\x80\x80\", \"\xEF\xBF\xBF\", \"\xF0\x90\x80\x80\", "
		"\"\xF4\x8F\xBF\xBF\", \"caf\xC3\xA9 \xE2\x82\xAC\"]";
	cspf_json_doc *doc = PARSE_OK(text);

	(void)state;
	assert_int_equal(cJSON_GetArraySize(root_of(doc)), 9);
	assert_string_equal(cJSON_GetArrayItem(root_of(doc), 8)->valuestring,
		"caf\xC3\xA9 \xE2\x82\xAC");
	assert_int_equal(
		cspf_json_strlen(cJSON_GetArrayItem(root_of(doc), 7)), 4);
	cspf_json_doc_free(doc);
}

static void test_escapes_decoded(void **state)
{
	cspf_json_doc *doc;
	const cJSON *r;

	(void)state;
	doc = PARSE_OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	assert_string_equal(root_of(doc)->valuestring, "\"\\/\b\f\n\r\t");
	cspf_json_doc_free(doc);
	doc = PARSE_OK("[\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\", "
		       "\"\\ud834\\udd1e\", \"\\uFFFF\", \"x\\u0041y\"]");
	r = root_of(doc);
	assert_string_equal(cJSON_GetArrayItem(r, 0)->valuestring,
		"A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	assert_int_equal(cspf_json_strlen(cJSON_GetArrayItem(r, 0)), 10);
	assert_string_equal(
		cJSON_GetArrayItem(r, 1)->valuestring, "\xF0\x9D\x84\x9E");
	assert_string_equal(
		cJSON_GetArrayItem(r, 2)->valuestring, "\xEF\xBF\xBF");
	assert_string_equal(cJSON_GetArrayItem(r, 3)->valuestring, "xAy");
	cspf_json_doc_free(doc);
	/* Runs of escapes after a run that fills the scratch buffer. */
	{
		char s[1200];
		size_t o = 0, run;

		for (run = 200; run < 300; run += 7) {
			size_t i;

			o = 0;
			s[o++] = '"';
			for (i = 0; i < run; i++)
				s[o++] = 'a';
			for (i = 0; i < 60; i++) {
				memcpy(s + o, i % 2 ? "\\n" : "\\u00e9",
					i % 2 ? 2 : 6);
				o += i % 2 ? 2 : 6;
			}
			s[o++] = '"';
			doc = parse_ok_at(s, o, __FILE__, __LINE__);
			assert_int_equal(cspf_json_strlen(root_of(doc)),
				run + 30 * 2 + 30);
			cspf_json_doc_free(doc);
		}
	}
	/* A long string with an escape near the end grows the scratch. */
	{
		size_t n = 100000, i;
		char *s = malloc(n + 16);

		assert_non_null(s);
		s[0] = '"';
		for (i = 1; i < n; i++)
			s[i] = (char)('a' + i % 26);
		memcpy(s + n, "\\n\xC3\xA9\"", 5);
		doc = parse_ok_at(s, n + 5, __FILE__, __LINE__);
		assert_int_equal(cspf_json_strlen(root_of(doc)), n - 1 + 3);
		assert_memory_equal(root_of(doc)->valuestring, s + 1, n - 1);
		cspf_json_doc_free(doc);
		free(s);
	}
}

static void test_surrogates(void **state)
{
	(void)state;
	BAD("\"\\uD800\"", 1, 2, "lone high surrogate \\uD800");
	BAD("[\"ok\", \"x\\udbff y\"]", 1, 10, "lone high surrogate \\uDBFF");
	BAD("\"\\uDC00\"", 1, 2, "lone low surrogate \\uDC00");
	BAD("\"\\uDE00\\uD83D\"", 1, 2, "lone low surrogate");
	BAD("\"\\uD83D\\u0041\"", 1, 2,
		"\\uD83D is followed by \\u0041, which is not a low surrogate");
	BAD("\"\\uD83D\\uD83D\"", 1, 2, "not a low surrogate");
	BAD("\"\\uD83D\\n\"", 1, 2, "lone high surrogate");
	BAD("\"\\uD83D\\uZZZZ\"", 1, 8, "four hexadecimal digits");
}

static void test_strings_with_nul(void **state)
{
	cspf_json_doc *doc;
	const cJSON *s;
	cJSON *plain;

	(void)state;
	doc = PARSE_OK("{\"k\": \"a\\u0000b\", \"z\": \"\\u0000\"}");
	s = cJSON_GetObjectItemCaseSensitive(root_of(doc), "k");
	assert_true(cJSON_IsString(s));
	assert_int_equal(cspf_json_strlen(s), 3);
	assert_memory_equal(s->valuestring, "a\0b", 4);
	assert_int_equal(cspf_json_strlen(cJSON_GetObjectItemCaseSensitive(
				 root_of(doc), "z")),
		1);
	cspf_json_doc_free(doc);
	/* Nodes cJSON made itself fall back on strlen. */
	plain = cJSON_CreateString("hello");
	assert_int_equal(cspf_json_strlen(plain), 5);
	cJSON_Delete(plain);
	assert_int_equal(cspf_json_strlen(NULL), 0);
	/* Keys are C strings: \u0000 in one is refused. */
	ERR("{\"a\\u0000b\": 1}", CSPF_EUNSUPPORTED, 1, 4, "\\u0000");
	ERR("{\n  \"ok\": {\"\\u0000\": 1}}", CSPF_EUNSUPPORTED, 2, 11,
		"rename the key");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	BAD("{\"a\": 1, \"a\": 2}", 1, 10,
		"duplicate key \"a\" (first at "
		"line 1 column 2)");
	BAD("{\n  \"outer\": {\n    \"id\": 1,\n    \"name\": \"x\",\n"
	    "    \"id\": 2\n  }\n}",
		5, 5, "duplicate key \"id\" (first at line 3 column 5)");
	/* Same key once decoded. */
	BAD("{\"a\": 1, \"\\u0061\": 2}", 1, 10, "duplicate key \"a\"");
	BAD("{\"\\u0061\": 1, \"a\": 2}", 1, 15, "first at line 1 column 2");
	BAD("{\"\xC3\xA9\": 1, \"\\u00e9\": 2}", 1, 10, "duplicate key");
	/* Keys quoted in messages are escaped. */
	BAD("{\"a\\nb\": 1, \"a\\nb\": 2}", 1, 13, "duplicate key \"a\\nb\"");
	/* Long keys are cut in messages, escapes and all. */
	BAD("{\"kkkkk\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"
	    "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"
	    "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"
	    "\" 1}",
		1, 50, "\\u007f\\u007f...\"");
	BAD("{\"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
	    "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
	    "\": 1}",
		1, 3, "U+0001");
	/* Equal keys in different objects are fine. */
	cspf_json_doc_free(PARSE_OK("[{\"a\": 1}, {\"a\": {\"a\": 2}}]"));
	/* Prefixes are not duplicates. */
	cspf_json_doc_free(PARSE_OK("{\"a\": 1, \"ab\": 2, \"\": 3}"));
}

/* An object of `n` keys k0..k{n-1}, plus `extra` as the last member. */
static char *many_keys(size_t n, const char *extra, size_t *len)
{
	size_t cap = n * 24 + 64, o = 0, i;
	char *s = malloc(cap);

	assert_non_null(s);
	s[o++] = '{';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s\n  \"k%zu\": %zu",
			i ? "," : "", i, i);
	if (extra)
		o += (size_t)snprintf(s + o, cap - o, ",\n  %s", extra);
	o += (size_t)snprintf(s + o, cap - o, "\n}");
	*len = o;
	return s;
}

static void test_duplicate_keys_large(void **state)
{
	cspf_json_doc *doc = NULL;
	const cspf_error *e;
	struct timespec t0, t1;
	size_t len;
	char *s;
	double secs;

	(void)state;
	/* 1000 keys, a duplicate of the 500th at the end. */
	s = many_keys(1000, "\"k499\": 0", &len);
	assert_int_equal(
		cspf_json_parse(&doc, s, len, "big.json", NULL), CSPF_EINVALID);
	e = cspf_error_last();
	assert_int_equal(e->line, 1002);
	assert_int_equal(e->column, 3);
	assert_non_null(strstr(e->message,
		"duplicate key \"k499\" (first at line 501 column 3)"));
	free(s);

	/* The same object without the duplicate parses. */
	s = many_keys(1000, "\"last\": 0", &len);
	assert_int_equal(cspf_json_parse(&doc, s, len, "big.json", NULL), 0);
	assert_int_equal(cJSON_GetArraySize(root_of(doc)), 1001);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(root_of(doc), "k999"));
	check_links(root_of(doc), 0);
	cspf_json_doc_free(doc);
	free(s);

	/* 17 keys: the first to go through the hash set. */
	s = many_keys(16, "\"k0\": 1", &len);
	assert_int_equal(
		cspf_json_parse(&doc, s, len, "t", NULL), CSPF_EINVALID);
	assert_int_equal(cspf_error_last()->line, 18);
	free(s);
	s = many_keys(17, "\"k16\": 1", &len);
	assert_int_equal(
		cspf_json_parse(&doc, s, len, "t", NULL), CSPF_EINVALID);
	free(s);

	/* 100,000 keys: no quadratic blow-up. */
	s = many_keys(100000, NULL, &len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cspf_json_parse(&doc, s, len, "t", NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* generous, for sanitizer builds; quadratic would be minutes */
	assert_true(secs < 5.0);
	assert_int_equal(cJSON_GetArraySize(root_of(doc)), 100000);
	cspf_json_doc_free(doc);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Numbers                                                            */

static const cJSON *num(const cspf_json_doc *doc, int i)
{
	const cJSON *n = cJSON_GetArrayItem(root_of(doc), i);

	assert_non_null(n);
	assert_true(cJSON_IsNumber(n));
	return n;
}

static void test_numbers(void **state)
{
	cspf_json_doc *doc = PARSE_OK(
		"[12, 1.5, 1.0, 1e2, 18446744073709551616, 9007199254740992, "
		"9007199254740993, -9007199254740992, -0, 0, 3000000000, "
		"-3000000000, 1E-2, 1e400, 0.1, 123456789012345678901234567890,"
		" -12, 2147483647, -2147483648, 0e0]");

	(void)state;
	assert_null(cspf_json_number_text(num(doc, 0)));
	assert_true(num(doc, 0)->valuedouble == 12.0);
	assert_int_equal(num(doc, 0)->valueint, 12);
	assert_string_equal(cspf_json_number_text(num(doc, 1)), "1.5");
	assert_true(num(doc, 1)->valuedouble == 1.5);
	assert_int_equal(num(doc, 1)->valueint, 1);
	assert_string_equal(cspf_json_number_text(num(doc, 2)), "1.0");
	assert_string_equal(cspf_json_number_text(num(doc, 3)), "1e2");
	assert_true(num(doc, 3)->valuedouble == 100.0);
	assert_string_equal(
		cspf_json_number_text(num(doc, 4)), "18446744073709551616");
	assert_true(num(doc, 4)->valuedouble == 18446744073709551616.0);
	assert_null(cspf_json_number_text(num(doc, 5)));
	assert_true(num(doc, 5)->valuedouble == 9007199254740992.0);
	assert_string_equal(
		cspf_json_number_text(num(doc, 6)), "9007199254740993");
	assert_null(cspf_json_number_text(num(doc, 7)));
	assert_true(num(doc, 7)->valuedouble == -9007199254740992.0);
	assert_null(cspf_json_number_text(num(doc, 8)));
	assert_true(num(doc, 8)->valuedouble == 0.0);
	assert_true(signbit(num(doc, 8)->valuedouble));
	assert_null(cspf_json_number_text(num(doc, 9)));
	assert_int_equal(num(doc, 10)->valueint, INT_MAX);
	assert_null(cspf_json_number_text(num(doc, 10)));
	assert_int_equal(num(doc, 11)->valueint, INT_MIN);
	assert_string_equal(cspf_json_number_text(num(doc, 12)), "1E-2");
	assert_true(num(doc, 12)->valuedouble == 0.01);
	assert_string_equal(cspf_json_number_text(num(doc, 13)), "1e400");
	assert_true(isinf(num(doc, 13)->valuedouble));
	assert_int_equal(num(doc, 13)->valueint, INT_MAX);
	assert_true(num(doc, 14)->valuedouble == 0.1);
	assert_string_equal(cspf_json_number_text(num(doc, 15)),
		"123456789012345678901234567890");
	assert_true(num(doc, 16)->valuedouble == -12.0);
	assert_int_equal(num(doc, 16)->valueint, -12);
	assert_int_equal(num(doc, 17)->valueint, INT_MAX);
	assert_int_equal(num(doc, 18)->valueint, INT_MIN);
	assert_string_equal(cspf_json_number_text(num(doc, 19)), "0e0");
	/* Not a number: no text. */
	assert_null(
		cspf_json_number_text(cJSON_GetArrayItem(root_of(doc), 99)));
	cspf_json_doc_free(doc);
}

/* ------------------------------------------------------------------ */
/* Positions of errors                                                */

static void test_error_positions(void **state)
{
	(void)state;
	/* line 3 column 7 of a multi-line document */
	BAD("{\n  \"a\": 1,\n  \"b\": tru\n}", 3, 8, "'tru'");
	BAD("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, "expected ':'");
	/* columns count characters, not bytes */
	BAD("[\"\xC3\xA9\xC3\xA9\xC3\xA9\", 01]", 1, 9, "leading zeros");
	BAD("{\"\xE2\x82\xAC\": \"\xF0\x9F\x98\x80\", x}", 1, 12, "'x'");
	/* tabs are one character */
	BAD("[\t\t?]", 1, 4, "'?'");
	/* CR LF, and a lone CR, end a line */
	BAD("[\r\n1,\r\n?]", 3, 1, "'?'");
	BAD("[\r1,\r?]", 3, 1, "'?'");
}

static void test_offset_position(void **state)
{
	static const char t[] = "ab\n\xC3\xA9x\r\ny\rz";
	unsigned int l, c;

	(void)state;
	cspf_json_offset_position(&l, &c, t, sizeof(t) - 1, 0);
	assert_int_equal(l, 1);
	assert_int_equal(c, 1);
	cspf_json_offset_position(&l, &c, t, sizeof(t) - 1, 2);
	assert_int_equal(c, 3);
	cspf_json_offset_position(&l, &c, t, sizeof(t) - 1, 5);
	assert_int_equal(l, 2);
	assert_int_equal(c, 2);
	cspf_json_offset_position(&l, &c, t, sizeof(t) - 1, 8);
	assert_int_equal(l, 3);
	assert_int_equal(c, 1);
	cspf_json_offset_position(&l, &c, t, sizeof(t) - 1, 10);
	assert_int_equal(l, 4);
	assert_int_equal(c, 1);
	/* past the end: clamped */
	cspf_json_offset_position(&l, &c, t, sizeof(t) - 1, 1000);
	assert_int_equal(l, 4);
	assert_int_equal(c, 2);
	cspf_json_offset_position(&l, &c, "\xEF\xBB\xBFxy", 5, 4);
	assert_int_equal(l, 1);
	assert_int_equal(c, 2);
}

/* ------------------------------------------------------------------ */
/* Limits                                                             */

static char *nested(size_t depth, int close, size_t *len)
{
	char *s = malloc(2 * depth + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < depth; i++)
		s[i] = '[';
	*len = depth;
	if (close) {
		for (i = 0; i < depth; i++)
			s[depth + i] = ']';
		*len = 2 * depth;
	}
	s[*len] = '\0';
	return s;
}

static void test_depth(void **state)
{
	cspf_json_options opts = CSPF_JSON_OPTIONS_INIT;
	cspf_json_doc *doc = NULL;
	const cspf_error *e;
	size_t len;
	char *s;

	(void)state;
	/* 100,000 levels: a clean error, no stack overflow */
	s = nested(100000, 0, &len);
	assert_int_equal(
		cspf_json_parse(&doc, s, len, "deep.json", NULL), CSPF_ETOOBIG);
	e = cspf_error_last();
	assert_int_equal(e->line, 1);
	assert_int_equal(e->column, 513);
	assert_non_null(strstr(e->message, "nesting deeper than 512 levels"));
	free(s);

	/* exactly the limit is fine */
	s = nested(512, 1, &len);
	assert_int_equal(cspf_json_parse(&doc, s, len, "t", NULL), 0);
	cspf_json_doc_free(doc);
	free(s);
	s = nested(513, 1, &len);
	assert_int_equal(
		cspf_json_parse(&doc, s, len, "t", NULL), CSPF_ETOOBIG);
	free(s);

	/* objects count too */
	opts.max_depth = 2;
	assert_int_equal(
		cspf_json_parse(&doc, "{\"a\": {\"b\": {}}}", 16, "t", &opts),
		CSPF_ETOOBIG);
	assert_int_equal(cspf_error_last()->column, 13);
	assert_non_null(strstr(cspf_error_last()->message, "2 levels"));
	assert_int_equal(
		cspf_json_parse(&doc, "{\"a\": {\"b\": 1}}", 15, "t", &opts),
		0);
	cspf_json_doc_free(doc);

	/* the hard ceiling: 10,000 levels build, and free, fine */
	opts.max_depth = 20000; /* clamped to 10,000 */
	s = nested(CSPF_JSON_MAX_DEPTH_LIMIT, 1, &len);
	assert_int_equal(cspf_json_parse(&doc, s, len, "t", &opts), 0);
	check_links(root_of(doc), 0);
	cspf_json_doc_free(doc);
	free(s);
	s = nested(CSPF_JSON_MAX_DEPTH_LIMIT + 1, 1, &len);
	assert_int_equal(
		cspf_json_parse(&doc, s, len, "t", &opts), CSPF_ETOOBIG);
	assert_non_null(strstr(cspf_error_last()->message, "10000 levels"));
	free(s);
}

static void test_size_limit(void **state)
{
	cspf_json_options opts = CSPF_JSON_OPTIONS_INIT;
	cspf_json_doc *doc = NULL;
	size_t n = 20 * 1024 * 1024, i;
	char *s, *dir, *path;

	(void)state;
	opts.max_size = 10;
	assert_int_equal(cspf_json_parse(&doc, "[1,2,3,4,5]", 11, "t", &opts),
		CSPF_ETOOBIG);
	assert_null(doc);
	assert_non_null(strstr(cspf_error_last()->message, "limit of 10"));
	assert_int_equal(
		cspf_json_parse(&doc, "[1,2,3,45]", 10, "t", &opts), 0);
	cspf_json_doc_free(doc);

	/* A 20 MB string: over the default limit. */
	s = malloc(n + 3);
	assert_non_null(s);
	s[0] = '"';
	for (i = 1; i <= n; i++)
		s[i] = 'x';
	s[n + 1] = '"';
	s[n + 2] = '\0';
	assert_int_equal(
		cspf_json_parse(&doc, s, n + 2, "big", NULL), CSPF_ETOOBIG);
	dir = make_tempdir();
	path = write_file(dir, "big.json", s, n + 2);
	assert_int_equal(cspf_json_load_file(&doc, path, NULL), CSPF_ETOOBIG);
	assert_null(doc);
	assert_non_null(strstr(cspf_error_last()->message, "16777216"));
	assert_string_equal(cspf_error_last()->file, path);
	/* ... and under a raised one */
	opts.max_size = 32 * 1024 * 1024;
	assert_int_equal(cspf_json_load_file(&doc, path, &opts), 0);
	assert_int_equal(cspf_json_strlen(root_of(doc)), n);
	cspf_json_doc_free(doc);
	assert_int_equal(cspf_json_parse(&doc, s, n + 2, "big", &opts), 0);
	assert_int_equal(cspf_json_strlen(root_of(doc)), n);
	cspf_json_doc_free(doc);
	/* parse_owned checks too, and frees the buffer */
	opts.max_size = 1024;
	assert_int_equal(cspf_json_parse_owned(&doc, s, n + 2, "big", &opts),
		CSPF_ETOOBIG);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void test_options(void **state)
{
	cspf_json_options opts = CSPF_JSON_OPTIONS_INIT;
	cspf_json_doc *doc = NULL;

	(void)state;
	opts.version = 99;
	assert_int_equal(
		cspf_json_parse(&doc, "1", 1, "t", &opts), CSPF_EINVALID);
	assert_null(doc);
	assert_int_equal(cspf_error_last()->klass, CSPF_ERRCLASS_INVALID);
}

/* ------------------------------------------------------------------ */
/* Owned buffers and files                                            */

static void test_parse_owned(void **state)
{
	cspf_json_doc *doc = NULL;
	size_t len;
	char *buf = malloc(16);

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "[1, 2]XXXX", 10);
	assert_int_equal(cspf_json_parse_owned(&doc, buf, 6, NULL, NULL), 0);
	/* kept as the document's text, without a copy */
	assert_ptr_equal(cspf_json_doc_text(doc, &len), buf);
	assert_int_equal(len, 6);
	assert_string_equal(cspf_json_doc_text(doc, NULL), "[1, 2]");
	assert_null(cspf_json_doc_name(doc));
	cspf_json_doc_free(doc);

	/* freed on failure too (ASan would tell) */
	buf = malloc(8);
	assert_non_null(buf);
	memcpy(buf, "[1,", 3);
	assert_int_equal(
		cspf_json_parse_owned(&doc, buf, 3, "-", NULL), CSPF_EINVALID);
	assert_null(doc);
	assert_string_equal(cspf_error_last()->file, "-");
}

static void test_load_file(void **state)
{
	cspf_json_doc *doc = NULL;
	const cspf_error *e;
	char *dir, *good, *bad, *missing, *locked;
	size_t n;

	(void)state;
	dir = make_tempdir();
	good = write_file(dir, "good.json", "{\"a\": [1, 2]}\n", 14);
	assert_int_equal(cspf_json_load_file(&doc, good, NULL), 0);
	assert_string_equal(cspf_json_doc_name(doc), good);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
				 root_of(doc), "a")),
		2);
	cspf_json_doc_free(doc);

	bad = write_file(dir, "bad.json", "{\n  \"a\": [1, 2,]\n}\n", 19);
	assert_int_equal(cspf_json_load_file(&doc, bad, NULL), CSPF_EINVALID);
	e = cspf_error_last();
	assert_string_equal(e->file, bad);
	assert_int_equal(e->line, 2);
	assert_int_equal(e->column, 13);

	n = strlen(dir) + 32;
	missing = malloc(n);
	assert_non_null(missing);
	snprintf(missing, n, "%s/missing.json", dir);
	assert_int_equal(
		cspf_json_load_file(&doc, missing, NULL), CSPF_ENOTFOUND);
	assert_null(doc);
	assert_int_equal(cspf_error_last()->klass, CSPF_ERRCLASS_OS);
	assert_non_null(strstr(cspf_error_last()->message, "missing.json"));

	assert_int_equal(cspf_json_load_file(&doc, dir, NULL), CSPF_ERROR);
	assert_null(doc);
	assert_int_equal(cspf_error_last()->klass, CSPF_ERRCLASS_OS);
	assert_non_null(strstr(cspf_error_last()->message, "s a directory"));

	locked = write_file(dir, "locked.json", "{}", 2);
	assert_int_equal(chmod(locked, 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(
			cspf_json_load_file(&doc, locked, NULL), CSPF_ERROR);
		assert_null(doc);
		assert_int_equal(cspf_error_last()->klass, CSPF_ERRCLASS_OS);
		assert_non_null(
			strstr(cspf_error_last()->message, "ermission denied"));
	}

	/* an empty file */
	unlink(good);
	free(good);
	good = write_file(dir, "empty.json", "", 0);
	assert_int_equal(cspf_json_load_file(&doc, good, NULL), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "empty document"));

	/* not a regular file: read to the end all the same */
	assert_int_equal(
		cspf_json_load_file(&doc, "/dev/null", NULL), CSPF_EINVALID);

	unlink(good);
	unlink(bad);
	unlink(locked);
	rmdir(dir);
	free(good);
	free(bad);
	free(locked);
	free(missing);
	free(dir);
}

/* ------------------------------------------------------------------ */
/* JSON pointers                                                      */

static const char pos_doc[] =
	"\xEF\xBB\xBF  {\n"					/* 1 */
	"  \"name\": \"caf\xC3\xA9\",\n"			/* 2 */
	"  \"a/b\": 1, \"m~n\": 2,\n"				/* 3 */
	"  \"\\u0065sc\": [10, 20,\n"				/* 4 */
	"     {\"\xC3\xA9t\xC3\xA9\": true, \"\": null}],\n"	/* 5 */
	"  \"obj\": {\"x\": {\"y\": \"z\"}, \"q\\\"\": [ ]},\n" /* 6 */
	"  \"last\": \"\\\\\"\n"				/* 7 */
	"}\n";

static void expect_pos_at(const cspf_json_doc *doc, const char *ptr,
	cspf_json_pos_kind kind, int code, unsigned int el, unsigned int ec,
	int line)
{
	unsigned int l = 99, c = 99;
	int r = cspf_json_position(&l, &c, doc, ptr, kind);

	if (r != code || l != el || c != ec)
		fail_msg("line %d: position(\"%s\", %d) = %d at %u:%u; "
			 "expected %d at %u:%u",
			line, ptr, (int)kind, r, l, c, code, el, ec);
}
#define POS(ptr, el, ec)                                                       \
	expect_pos_at(doc, ptr, CSPF_JSON_POS_VALUE, 0, el, ec, __LINE__)
#define KEYPOS(ptr, el, ec)                                                    \
	expect_pos_at(doc, ptr, CSPF_JSON_POS_KEY, 0, el, ec, __LINE__)
#define NOPOS(ptr, el, ec)                                                     \
	expect_pos_at(doc, ptr, CSPF_JSON_POS_VALUE, CSPF_ENOTFOUND, el, ec,   \
		__LINE__)

static void test_positions(void **state)
{
	cspf_json_doc *doc =
		parse_ok_at(pos_doc, sizeof(pos_doc) - 1, __FILE__, __LINE__);

	(void)state;
	POS("", 1, 3);
	POS(NULL, 1, 3);
	POS("/name", 2, 11);
	KEYPOS("/name", 2, 3);
	POS("/a~1b", 3, 10);
	KEYPOS("/a~1b", 3, 3);
	POS("/m~0n", 3, 20);
	/* the key is written with an escape in the source */
	POS("/esc", 4, 15);
	KEYPOS("/esc", 4, 3);
	POS("/esc/0", 4, 16);
	POS("/esc/1", 4, 20);
	POS("/esc/2", 5, 6);
	/* KEY on an array item gives the item */
	KEYPOS("/esc/2", 5, 6);
	POS("/esc/2/\xC3\xA9t\xC3\xA9", 5, 14);
	KEYPOS("/esc/2/\xC3\xA9t\xC3\xA9", 5, 7);
	POS("/esc/2/", 5, 24);
	KEYPOS("/esc/2/", 5, 20);
	POS("/obj/x/y", 6, 22);
	KEYPOS("/obj/x/y", 6, 17);
	POS("/obj/q\"", 6, 35);
	POS("/last", 7, 11);

	/* not found: the deepest value reached */
	NOPOS("/nope", 1, 3);
	NOPOS("/obj/x/nope", 6, 16);
	NOPOS("/obj/x/y/deeper", 6, 22);
	NOPOS("/esc/3", 4, 15);
	NOPOS("/esc/01", 4, 15);
	NOPOS("/esc/-", 4, 15);
	NOPOS("/obj/q\"/0", 6, 35);
	NOPOS("/a", 1, 3);
	assert_int_equal(cspf_error_last()->klass, CSPF_ERRCLASS_JSON);
	/* malformed pointers */
	expect_pos_at(doc, "name", CSPF_JSON_POS_VALUE, CSPF_EINVALID, 1, 3,
		__LINE__);
	expect_pos_at(doc, "/m~2n", CSPF_JSON_POS_VALUE, CSPF_EINVALID, 1, 3,
		__LINE__);
	cspf_json_doc_free(doc);

	doc = PARSE_OK("[1, [2, [3, \"\xF0\x9F\x98\x80\", 4]]]");
	POS("/1/1/2", 1, 18);
	POS("/1/1/1", 1, 13);
	cspf_json_doc_free(doc);
}

static void test_pointer_get(void **state)
{
	cspf_json_doc *doc =
		parse_ok_at(pos_doc, sizeof(pos_doc) - 1, __FILE__, __LINE__);
	const cJSON *r = root_of(doc);

	(void)state;
	assert_ptr_equal(cspf_json_pointer_get(r, ""), r);
	assert_string_equal(
		cspf_json_pointer_get(r, "/name")->valuestring, "caf\xC3\xA9");
	assert_int_equal(cspf_json_pointer_get(r, "/a~1b")->valueint, 1);
	assert_int_equal(cspf_json_pointer_get(r, "/m~0n")->valueint, 2);
	assert_int_equal(cspf_json_pointer_get(r, "/esc/1")->valueint, 20);
	assert_true(cJSON_IsNull(cspf_json_pointer_get(r, "/esc/2/")));
	assert_string_equal(
		cspf_json_pointer_get(r, "/obj/x/y")->valuestring, "z");
	assert_true(cJSON_IsArray(cspf_json_pointer_get(r, "/obj/q\"")));
	assert_string_equal(
		cspf_json_pointer_get(r, "/last")->valuestring, "\\");
	assert_null(cspf_json_pointer_get(r, "/esc/01"));
	assert_null(cspf_json_pointer_get(r, "/esc/-"));
	assert_null(cspf_json_pointer_get(r, "/esc/3"));
	assert_null(cspf_json_pointer_get(r, "/esc/"));
	assert_null(cspf_json_pointer_get(r, "/esc/1x"));
	assert_null(cspf_json_pointer_get(r, "/esc/99999999999999999999999"));
	assert_null(cspf_json_pointer_get(r, "/m~2n"));
	assert_null(cspf_json_pointer_get(r, "/m~"));
	assert_null(cspf_json_pointer_get(r, "name"));
	assert_null(cspf_json_pointer_get(r, "/name/x"));
	assert_null(cspf_json_pointer_get(r, "/a"));
	assert_null(cspf_json_pointer_get(r, "/nam"));
	assert_null(cspf_json_pointer_get(r, "/namex"));
	assert_null(cspf_json_pointer_get(NULL, ""));
	assert_null(cspf_json_pointer_get(r, NULL));
	cspf_json_doc_free(doc);
}

static void test_null_and_getters(void **state)
{
	size_t len = 7;

	(void)state;
	cspf_json_doc_free(NULL);
	assert_null(cspf_json_doc_root(NULL));
	assert_null(cspf_json_doc_name(NULL));
	assert_null(cspf_json_doc_text(NULL, &len));
	assert_int_equal(len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_is_plain_cjson),
		cmocka_unit_test(test_scalars_and_whitespace),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_numbers_rejected),
		cmocka_unit_test(test_literals_and_quotes),
		cmocka_unit_test(test_trailing_commas),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_bad_escapes),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_valid_utf8),
		cmocka_unit_test(test_escapes_decoded),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_strings_with_nul),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_duplicate_keys_large),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_error_positions),
		cmocka_unit_test(test_offset_position),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_parse_owned),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_pointer_get),
		cmocka_unit_test(test_null_and_getters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
