/*
 * The schema engine beyond the JSON Schema Test Suite: the errors a
 * person reads (pointer, line:column, keyword location, message), exact
 * numbers, format assertions, refusals of broken schemas, threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cspf/json.h"
#include "cspf/schema.h"

static cspf_json_doc *parse(const char *text, const char *name)
{
	cspf_json_doc *doc = NULL;

	assert_int_equal(cspf_json_parse(&doc, text, strlen(text), name,
		NULL), 0);
	return doc;
}

/* Compile `schema_text`; returns the error code of compile. */
static int compile(cspf_schema_set **set, cspf_schema **schema,
	const char *schema_text, int formats)
{
	cspf_schema_options o = CSPF_SCHEMA_OPTIONS_INIT;

	o.format_assert = formats;
	assert_int_equal(cspf_schema_set_new(set), 0);
	assert_int_equal(cspf_schema_set_add_doc(*set,
		parse(schema_text, "schema.json"), "file:///t/schema.json"), 0);
	return cspf_schema_compile(schema, *set,
		cspf_schema_set_last_uri(*set), &o, NULL);
}

/* Validate `doc_text`; returns the verdict, fills `d`. */
static int check(const char *schema_text, const char *doc_text,
	cspf_diags *d, int formats)
{
	cspf_schema_set *set;
	cspf_schema *schema;
	cspf_json_doc *doc = parse(doc_text, "doc.json");
	int r, fast;

	assert_int_equal(compile(&set, &schema, schema_text, formats), 0);
	r = cspf_schema_validate_doc(d, schema, doc);
	fast = cspf_schema_validate(NULL, schema, cspf_json_doc_root(doc),
		NULL);
	assert_int_equal(r, fast);
	cspf_json_doc_free(doc);
	cspf_schema_free(schema);
	cspf_schema_set_free(set);
	return r;
}

static void test_errors_carry_everything(void **state)
{
	const char *schema = "{\n"
		"  \"type\": \"object\",\n"
		"  \"required\": [\"name\", \"owner\"],\n"
		"  \"additionalProperties\": false,\n"
		"  \"properties\": {\n"
		"    \"name\": {\"type\": \"string\", \"minLength\": 3},\n"
		"    \"classification\": {\"enum\": [\"red\", \"blue\", "
		"\"green\"]},\n"
		"    \"tags\": {\"type\": \"array\", \"items\": "
		"{\"type\": \"string\"}}\n"
		"  }\n"
		"}\n";
	const char *doc = "{\n"
		"  \"name\": \"ab\",\n"
		"  \"classification\": \"purple\",\n"
		"  \"tags\": [\"x\", 5],\n"
		"  \"extra\": true\n"
		"}\n";
	cspf_diags d = CSPF_DIAGS_INIT;
	size_t i;
	int seen = 0;

	(void)state;
	assert_int_equal(check(schema, doc, &d, 1), 1);
	assert_int_equal(d.count, 5);
	for (i = 0; i < d.count; i++) {
		const cspf_diag *x = &d.items[i];
		assert_string_equal(x->file, "doc.json");
		if (!strcmp(x->keyword, "required")) {
			assert_string_equal(x->pointer, "");
			assert_string_equal(x->message,
				"missing required property \"owner\"");
			assert_int_equal(x->line, 1);
			assert_int_equal(x->column, 1);
			assert_string_equal(x->schema_location,
				"file:///t/schema.json#/required");
			seen |= 1;
		} else if (!strcmp(x->keyword, "minLength")) {
			assert_string_equal(x->pointer, "/name");
			assert_int_equal(x->line, 2);
			assert_int_equal(x->column, 11);
			assert_string_equal(x->message,
				"must be at least 3 characters long (is 2)");
			seen |= 2;
		} else if (!strcmp(x->keyword, "enum")) {
			assert_string_equal(x->pointer, "/classification");
			assert_int_equal(x->line, 3);
			assert_string_equal(x->message, "must be one of: "
				"\"red\", \"blue\", \"green\"");
			seen |= 4;
		} else if (!strcmp(x->keyword, "type")) {
			assert_string_equal(x->pointer, "/tags/1");
			assert_int_equal(x->line, 4);
			assert_int_equal(x->column, 17);
			assert_string_equal(x->message,
				"must be a string, not a number");
			assert_string_equal(x->schema_location,
				"file:///t/schema.json#/properties/tags/items/"
				"type");
			seen |= 8;
		} else if (!strcmp(x->keyword, "additionalProperties")) {
			assert_string_equal(x->pointer, "/extra");
			/* points at the key, not the value */
			assert_int_equal(x->line, 5);
			assert_int_equal(x->column, 3);
			assert_non_null(strstr(x->message,
				"property \"extra\" is not allowed"));
			seen |= 16;
		}
	}
	assert_int_equal(seen, 31);
	cspf_diags_clear(&d);
}

static void test_valid_has_no_errors(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	(void)state;
	assert_int_equal(check("{\"type\": \"object\"}", "{}", &d, 1), 0);
	assert_int_equal(d.count, 0);
}

static void test_big_integers(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	const char *s = "{\"maximum\": 9007199254740992}";

	(void)state;
	/* 2^53 + 1 is above 2^53, though a double says they are equal */
	assert_int_equal(check(s, "9007199254740993", &d, 1), 1);
	cspf_diags_clear(&d);
	assert_int_equal(check(s, "9007199254740992", &d, 1), 0);
	assert_int_equal(check("{\"const\": 18446744073709551616}",
		"18446744073709551617", &d, 1), 1);
	cspf_diags_clear(&d);
	assert_int_equal(check("{\"const\": 18446744073709551616}",
		"1.8446744073709551616e19", &d, 1), 0);
	assert_int_equal(check("{\"type\": \"integer\"}",
		"123456789012345678901234567890", &d, 1), 0);
	assert_int_equal(check("{\"type\": \"integer\"}", "1.0", &d, 1), 0);
	assert_int_equal(check("{\"type\": \"integer\"}", "1.5", &d, 1), 1);
	cspf_diags_clear(&d);
}

static void test_multiple_of_fractions(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	(void)state;
	/* 0.3 / 0.1 is 2.9999999999999996 in doubles */
	assert_int_equal(check("{\"multipleOf\": 0.1}", "0.3", &d, 1), 0);
	assert_int_equal(check("{\"multipleOf\": 0.01}", "19.99", &d, 1), 0);
	assert_int_equal(check("{\"multipleOf\": 0.01}", "19.999", &d, 1), 1);
	cspf_diags_clear(&d);
	assert_int_equal(check("{\"multipleOf\": 0.0001}", "0.0075", &d, 1),
		0);
	assert_int_equal(check("{\"multipleOf\": 3}",
		"100000000000000000000000000001", &d, 1), 1);
	cspf_diags_clear(&d);
	assert_int_equal(check("{\"multipleOf\": 3}",
		"100000000000000000000000000002", &d, 1), 0);
	assert_int_equal(check("{\"multipleOf\": 0.123456789}", "1e308", &d,
		1), 1);
	cspf_diags_clear(&d);
}

static void test_formats_asserted(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	const char *s = "{\"properties\": {\"e\": {\"format\": \"email\"}, "
		"\"t\": {\"format\": \"date-time\"}}}";

	(void)state;
	assert_int_equal(check(s, "{\"e\": \"a@example.com\", "
		"\"t\": \"2024-02-29T12:00:00Z\"}", &d, 1), 0);
	assert_int_equal(check(s, "{\"e\": \"not an email\", "
		"\"t\": \"2023-02-29T12:00:00Z\"}", &d, 1), 1);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.items[0].keyword, "format");
	cspf_diags_clear(&d);
	/* annotation only when asked */
	assert_int_equal(check(s, "{\"e\": \"not an email\"}", &d, 0), 0);
}

static void test_refusals(void **state)
{
	cspf_schema_set *set;
	cspf_schema *schema = NULL;

	(void)state;
	/* a $ref loop that never reaches a value */
	assert_true(compile(&set, &schema, "{\"$ref\": \"#\"}", 1) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "refers back"));
	cspf_schema_set_free(set);
	assert_true(compile(&set, &schema, "{\"$defs\": {\"a\": {\"$ref\": "
		"\"#/$defs/b\"}, \"b\": {\"allOf\": [{\"$ref\": "
		"\"#/$defs/a\"}]}}, \"$ref\": \"#/$defs/a\"}", 1) < 0);
	cspf_schema_set_free(set);
	/* an invalid regex */
	assert_true(compile(&set, &schema, "{\"pattern\": \"(abc\"}", 1) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "pattern"));
	cspf_schema_set_free(set);
	/* an unknown dialect, an old one */
	assert_true(compile(&set, &schema, "{\"$schema\": "
		"\"https://example.com/my-dialect\"}", 1) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "dialect"));
	cspf_schema_set_free(set);
	assert_true(compile(&set, &schema, "{\"$schema\": "
		"\"https://json-schema.org/draft/2019-09/schema\"}", 1) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "2020-12"));
	cspf_schema_set_free(set);
	/* an unresolvable $ref, a keyword of the wrong type */
	assert_true(compile(&set, &schema,
		"{\"$ref\": \"other.json\"}", 1) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "--ref"));
	cspf_schema_set_free(set);
	assert_true(compile(&set, &schema, "{\"minLength\": \"3\"}", 1) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "minLength"));
	cspf_schema_set_free(set);
}

static void test_recursive_schema_ok(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	const char *s = "{\"$defs\": {\"node\": {\"type\": \"object\", "
		"\"properties\": {\"kids\": {\"type\": \"array\", \"items\": "
		"{\"$ref\": \"#/$defs/node\"}}, \"v\": {\"type\": "
		"\"integer\"}}}}, \"$ref\": \"#/$defs/node\"}";

	(void)state;
	assert_int_equal(check(s, "{\"kids\": [{\"kids\": [{\"v\": 1}]}]}",
		&d, 1), 0);
	assert_int_equal(check(s, "{\"kids\": [{\"kids\": [{\"v\": \"x\"}]}]}",
		&d, 1), 1);
	assert_string_equal(d.items[0].pointer, "/kids/0/kids/0/v");
	cspf_diags_clear(&d);
}

struct thread_arg {
	const cspf_schema *schema;
	const cJSON *good, *bad;
	int failures;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;
	int i;

	for (i = 0; i < 2000; i++) {
		cspf_diags d = CSPF_DIAGS_INIT;
		if (cspf_schema_validate(NULL, a->schema, a->good, NULL) != 0)
			a->failures++;
		if (cspf_schema_validate(&d, a->schema, a->bad, NULL) != 1 ||
		    d.count != 2)
			a->failures++;
		cspf_diags_clear(&d);
	}
	return NULL;
}

static void test_threads(void **state)
{
	cspf_schema_set *set;
	cspf_schema *schema;
	cspf_json_doc *good = parse("{\"id\": \"ab-12\", \"n\": 3}", "g");
	cspf_json_doc *bad = parse("{\"id\": \"AB\", \"n\": 0.5}", "b");
	struct thread_arg args[4];
	pthread_t th[4];
	int i;

	(void)state;
	assert_int_equal(compile(&set, &schema, "{\"properties\": {\"id\": "
		"{\"pattern\": \"^[a-z]+-[0-9]+$\"}, \"n\": {\"type\": "
		"\"integer\"}}}", 1), 0);
	for (i = 0; i < 4; i++) {
		args[i].schema = schema;
		args[i].good = cspf_json_doc_root(good);
		args[i].bad = cspf_json_doc_root(bad);
		args[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, hammer,
			&args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	cspf_json_doc_free(good);
	cspf_json_doc_free(bad);
	cspf_schema_free(schema);
	cspf_schema_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_carry_everything),
		cmocka_unit_test(test_valid_has_no_errors),
		cmocka_unit_test(test_big_integers),
		cmocka_unit_test(test_multiple_of_fractions),
		cmocka_unit_test(test_formats_asserted),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_recursive_schema_ok),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
