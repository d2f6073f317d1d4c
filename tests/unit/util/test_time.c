/* lib/util/time.c: RFC 3339 times and ISO 8601 durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cspf/time.h"

static int64_t at(const char *s)
{
	int64_t t = 0;

	assert_int_equal(cspf_time_parse(&t, s), 0);
	return t;
}

static void test_parse(void **state)
{
	char buf[CSPF_TIME_BUFSIZE];
	int64_t t;

	(void)state;
	assert_int_equal(at("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(at("2026-06-01T09:00:00Z"), 1780304400);
	assert_int_equal(at("2026-06-01T11:00:00+02:00"), 1780304400);
	assert_int_equal(at("2026-06-01T09:00:00.123Z"), 1780304400);
	assert_int_equal(at("2026-06-01"), 1780272000);
	assert_int_equal(at("2024-02-29T00:00:00Z"), 1709164800);
	assert_int_equal(cspf_time_parse(&t, "2023-02-29T00:00:00Z"), -1);
	assert_int_equal(cspf_time_parse(&t, "2026-06-01T09:00:00"), -1);
	assert_int_equal(cspf_time_parse(&t, "2026-13-01"), -1);
	assert_int_equal(cspf_time_parse(&t, "yesterday"), -1);
	assert_int_equal(cspf_time_parse(&t, ""), -1);
	cspf_time_format(buf, 1780304400);
	assert_string_equal(buf, "2026-06-01T09:00:00Z");
	cspf_time_format(buf, -1);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
}

static void test_duration(void **state)
{
	char buf[CSPF_TIME_BUFSIZE];
	int64_t t;

	(void)state;
	assert_int_equal(cspf_duration_add(&t, 0, "P180D"), 0);
	assert_int_equal(t, 180 * 86400);
	assert_int_equal(cspf_duration_add(&t, 0, "PT12H30M"), 0);
	assert_int_equal(t, 12 * 3600 + 30 * 60);
	assert_int_equal(cspf_duration_add(&t, 0, "P2W"), 0);
	assert_int_equal(t, 14 * 86400);
	/* Months move the calendar, clamped to the month's end. */
	assert_int_equal(cspf_duration_add(&t, at("2026-08-31T10:00:00Z"),
				 "P6M"), 0);
	cspf_time_format(buf, t);
	assert_string_equal(buf, "2027-02-28T10:00:00Z");
	assert_int_equal(cspf_duration_add(&t, at("2026-06-01T09:00:00Z"),
				 "P1Y"), 0);
	cspf_time_format(buf, t);
	assert_string_equal(buf, "2027-06-01T09:00:00Z");
	assert_int_equal(cspf_duration_add(&t, 0, "P"), -1);
	assert_int_equal(cspf_duration_add(&t, 0, "180D"), -1);
	assert_int_equal(cspf_duration_add(&t, 0, "P1H"), -1);
	assert_int_equal(cspf_duration_add(&t, 0, "PT1D"), -1);
	assert_int_equal(cspf_duration_add(&t, 0, "P99999999999D"), -1);
	assert_int_equal(cspf_time_days(0, 86400 * 3 - 1), 2);
	assert_int_equal(cspf_time_days(86400, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
