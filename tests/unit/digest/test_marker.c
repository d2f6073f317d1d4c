/*
 * The ticket marker: what any sink reads back from a ticket's body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cspf/time.h"
#include "digest/digest_private.h"

static void test_round_trip(void **state)
{
	cspf_ticket t = { 0 };
	cspf_ticket_ref ref;
	char *line, body[2048];
	int64_t created;

	(void)state;
	assert_int_equal(cspf_time_parse(&created, "2026-11-23T12:00:00Z"), 0);
	t.key = "2026-11-16/P14D:user-roles:hannah.schmidt@example.com";
	t.kind = CSPF_REPORT_USER_ROLES;
	t.recipient = "hannah.schmidt@example.com";
	t.team = "teams/payments";
	t.period = "2026-11-16/P14D";
	t.created = created;
	t.due = created + 5 * 86400;
	line = cspf_ticket_marker_format(&t);
	assert_non_null(line);
	assert_true(strncmp(line, "<!-- cspf-digest {", 18) == 0);
	snprintf(body, sizeof(body), "# Review\n\nSome <b>text</b> <!-- other -->\n%s\nmore\n", line);
	memset(&ref, 0, sizeof(ref));
	assert_int_equal(cspf_ticket_marker_parse(&ref, body, strlen(body)), 0);
	assert_string_equal(ref.key, t.key);
	assert_string_equal(ref.kind, "user-roles");
	assert_string_equal(ref.recipient, t.recipient);
	assert_string_equal(ref.team, "teams/payments");
	assert_string_equal(ref.period, t.period);
	assert_true(ref.created == t.created);
	assert_true(ref.due == t.due);
	free(line);
}

static void test_absent_or_broken(void **state)
{
	cspf_ticket_ref ref;
	const char *cases[] = {
		"",
		"no marker here",
		"<!-- cspf-digest ",
		"<!-- cspf-digest {\"key\":\"x\"",
		"<!-- cspf-digest {not json} -->",
		"<!-- cspf-digest {\"kind\":\"user-roles\"} -->",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ref, 0, sizeof(ref));
		assert_int_equal(cspf_ticket_marker_parse(&ref, cases[i],
			strlen(cases[i])), CSPF_ENOTFOUND);
	}
	/* Only len bytes are read: the marker past them is not seen. */
	{
		const char *s = "<!-- cspf-digest {\"key\":\"k\"} -->";

		assert_int_equal(cspf_ticket_marker_parse(&ref, s,
			strlen(s) - 2), CSPF_ENOTFOUND);
		assert_int_equal(cspf_ticket_marker_parse(&ref, s,
			strlen(s)), 0);
		assert_string_equal(ref.key, "k");
	}
}

static void test_kind_names(void **state)
{
	cspf_report_kind k;
	int i;

	(void)state;
	for (i = 0; i < CSPF_REPORT_COUNT; i++) {
		assert_int_equal(cspf_report_kind_parse(&k,
			cspf_report_kind_name((cspf_report_kind)i)), 0);
		assert_int_equal(k, i);
	}
	assert_int_equal(cspf_report_kind_parse(&k, "roles"), CSPF_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_absent_or_broken),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
