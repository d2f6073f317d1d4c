/*
 * Unit tests of lib/schema/format.c, with the cases of the JSON Schema
 * Test Suite's optional/format tests and more from the RFCs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schema/format.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check(const char *format, const char *const *good, size_t ngood,
	const char *const *bad, size_t nbad)
{
	cspf_format_fn fn = cspf_format_lookup(format);
	size_t i;

	if (!fn)
		fail_msg("no checker for %s", format);
	assert_non_null(cspf_format_describe(format));
	for (i = 0; i < ngood; i++)
		if (!fn(good[i], strlen(good[i])))
			fail_msg("%s: rejected \"%s\"", format, good[i]);
	for (i = 0; i < nbad; i++)
		if (fn(bad[i], strlen(bad[i])))
			fail_msg("%s: accepted \"%s\"", format, bad[i]);
}

#define CHECK(name, good, bad) check(name, good, N(good), bad, N(bad))

static void test_lookup(void **state)
{
	static const char *const known[] = {
		"date-time", "date", "time", "duration", "email", "hostname",
		"ipv4", "ipv6", "uri", "uri-reference", "uuid", "regex",
		"json-pointer", "relative-json-pointer",
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(known); i++) {
		if (!cspf_format_lookup(known[i]))
			fail_msg("unknown: %s", known[i]);
		assert_non_null(cspf_format_describe(known[i]));
	}
	assert_null(cspf_format_lookup("idn-email"));
	assert_null(cspf_format_lookup("iri"));
	assert_null(cspf_format_lookup("uri-template"));
	assert_null(cspf_format_lookup("Date"));
	assert_null(cspf_format_lookup(""));
	assert_null(cspf_format_lookup(NULL));
	assert_null(cspf_format_describe("whatever"));
	assert_string_equal(cspf_format_describe("date-time"),
		"an RFC 3339 date-time such as 2024-01-31T12:00:00Z");
}

static void test_date_time(void **state)
{
	static const char *const good[] = {
		"1963-06-19T08:30:06.283185Z",
		"1963-06-19T08:30:06Z",
		"1937-01-01T12:00:27.87+00:20",
		"1990-12-31T15:59:50.123-08:00",
		"1998-12-31T23:59:60Z",
		"1998-12-31T15:59:60.123-08:00",
		"1963-06-19t08:30:06.283185z",
		"2020-02-29T00:00:00Z",
		"2000-02-29T00:00:00+23:59",
		"1999-01-01T00:29:60+00:30",
		"2024-01-31T12:00:00.000000000000001Z",
		"0000-01-01T00:00:00Z",
	};
	static const char *const bad[] = {
		"1998-12-31T23:58:60Z",
		"1998-12-31T22:59:60Z",
		"1998-12-31T23:59:61Z",
		"1998-12-31T23:59:60+01:00",
		"1990-02-31T15:59:59.123-08:00",
		"1990-12-31T15:59:59-24:00",
		"1990-12-31T15:59:59-23:60",
		"06/19/1963 08:30:06 PST",
		"2013-350T01:01:01",
		"1963-6-19T08:30:06.283185Z",
		"1963-06-1T08:30:06.283185Z",
		"1963-06-1\xe0\xa7\xaaT00:00:00Z",
		"1963-06-11T0\xe0\xa7\xaa:00:00Z",
		"1963-06-19 08:30:06Z",
		"1963-06-19T08:30:06",
		"1963-06-19T08:30:06.Z",
		"1963-06-19T08:30Z",
		"1963-06-19T24:00:00Z",
		"1963-06-19T08:60:00Z",
		"1963-06-19T08:30:06+0800",
		"1963-06-19T08:30:06+08",
		"1963-06-19T08:30:06ZZ",
		"1963-06-19T08:30:06,5Z",
		"2021-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"",
		"T",
	};

	(void)state;
	CHECK("date-time", good, bad);
	/* NUL bytes are characters: the length rules */
	assert_false(cspf_format_lookup("date-time")(
		"1963-06-19T08:30:06Z\0", 21));
}

static void test_date(void **state)
{
	static const char *const good[] = {
		"1963-06-19", "2020-01-31", "2021-02-28", "2020-02-29",
		"2000-02-29", "2020-03-31", "2020-04-30", "2020-05-31",
		"2020-06-30", "2020-07-31", "2020-08-31", "2020-09-30",
		"2020-10-31", "2020-11-30", "2020-12-31", "9999-12-31",
	};
	static const char *const bad[] = {
		"2020-01-32", "2021-02-29", "2020-02-30", "1900-02-29",
		"2020-03-32", "2020-04-31", "2020-05-32", "2020-06-31",
		"2020-07-32", "2020-08-32", "2020-09-31", "2020-10-32",
		"2020-11-31", "2020-12-32", "2020-13-01", "2020-00-10",
		"2020-01-00", "06/19/1963", "2013-350", "1998-1-20",
		"1998-01-1", "1998-13-01", "1998-04-31", "2020-W01",
		"2020-W01-07", "2022W527", "1963-06-1\xe0\xa7\xaa",
		"20230328", "2023-03-28T00:00:00Z", "", "+2020-01-01",
	};

	(void)state;
	CHECK("date", good, bad);
}

static void test_time(void **state)
{
	static const char *const good[] = {
		"08:30:06Z", "23:59:60Z", "23:59:60+00:00", "01:29:60+01:30",
		"15:59:60-08:00", "00:29:60+00:30", "08:30:06.283185Z",
		"08:30:06+00:20", "08:30:06-08:00", "08:30:06z",
		"23:20:50.52Z", "00:00:00-23:59",
	};
	static const char *const bad[] = {
		"22:59:60Z", "23:58:60Z", "23:59:60+01:00", "23:59:60-01:00",
		"12:00:00", "12:00:00.52", "08:30:06#00:20", "08:30:06 PST",
		"ab:cd:ef", "01:01:01,1111", "08:30:06-8:000", "1:02:03Z",
		"01:2:03Z", "01:02:3Z", "24:00:00Z", "00:60:00Z", "00:00:61Z",
		"01:02:03+24:00", "01:02:03+00:60", "01:02:03Z+00:30",
		"08:30:06.Z", "\xe0\xa7\xa8:00:00Z", "", "2020-01-01T00:00:00Z",
	};

	(void)state;
	CHECK("time", good, bad);
}

static void test_duration(void **state)
{
	static const char *const good[] = {
		"P4DT12H30M5S", "P1Y2M3DT4H5M6S", "P4Y", "PT0S", "P0D", "P1M",
		"PT1M", "PT36H", "P1DT12H", "P2W", "P1W", "P4W", "P180D",
		"P1Y2M", "P2M3D", "PT4H5M", "PT5M6S", "PT6S", "P10000Y",
	};
	static const char *const bad[] = {
		"PT1D", "P", "P1YT", "PT", "P2D1Y", "P1D2H", "P2S", "P1Y2W",
		"P2W1D", "P1WT1H", "P\xe0\xa7\xa8Y", "P1", "1D", "p1d", "P1d",
		"pT1M", "P1.5D", "PT1.5S", "P1Y1D", "PT1H1S", "P1D1M", "PT1S1M",
		"P-1D", "P1DT", "PT1H2H", "P W", "PW", "", "P1D ", " P1D",
		"P1Y1Y",
	};

	(void)state;
	CHECK("duration", good, bad);
}

static void test_email(void **state)
{
	static const char *const good[] = {
		"joe.bloggs@example.com", "te~st@example.com",
		"~test@example.com", "test~@example.com",
		"\"joe bloggs\"@example.com", "\"joe..bloggs\"@example.com",
		"\"joe@bloggs\"@example.com", "\"a\\\"b\"@example.com",
		"joe.bloggs@[127.0.0.1]", "joe.bloggs@[IPv6:::1]",
		"te.s.t@example.com", "a@b", "!#$%&'*+-/=?^_`{|}~@example.com",
		"user@localhost", "x@[IPv6:2001:db8::1]", "x@1.2.3.4",
	};
	static const char *const bad[] = {
		"2962", ".test@example.com", "test.@example.com",
		"te..st@example.com", "joe.bloggs@invalid=domain.com",
		"joe.bloggs@[127.0.0.300]", "@example.com", "joe@",
		"joe@@example.com", "joe@example..com", "joe@.example.com",
		"joe@example.com.", "joe@-example.com", "joe@exa_mple.com",
		"jo e@example.com", "\"joe\"x@example.com", "\"joe@example.com",
		"j\xc3\xb6@example.com", "joe@ex\xc3\xa4mple.com",
		"joe@[IPv6:1.2.3.4]", "joe@[IPv4:1.2.3.4]", "joe@[1.2.3]",
		"joe@[::1]", "joe@[x:y]", "joe@[]", "\"a\nb\"@example.com",
		"(comment)joe@example.com", "",
		/* 65 octets of local-part */
		("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"),
	};

	(void)state;
	CHECK("email", good, bad);
}

static void test_hostname(void **state)
{
	char label63[64], label64[65], longname[300];
	static const char *const good[] = {
		"www.example.com", "xn--4gbwdl.xn--wgbh1c", "hostname",
		"host-name", "h0stn4me", "1host", "hostnam3", "a.b",
		"example.", "a", "1.2.3.4", "xn--X", "xn--a-b",
	};
	static const char *const bad[] = {
		"-a-host-name-that-starts-with--", "not_a_valid_host_name",
		("a-vvvvvvvvvvvvvvvveeeeeeeeeeeeeeeerrrrrrrrrrrrrrrryyyyyyyyyyy"
		 "yyyyy-long-host-name-component"),
		"-hostname", "hostname-", "_hostname", "hostname_",
		"host_name", "-a-host", "", ".", ".example", "example..com",
		"example..", "a.-b", "a.b-", "ex ample", "ex\xc3\xa4mple.com",
		"a..", "a.b/c", "xn--",
	};
	cspf_format_fn fn = cspf_format_lookup("hostname");
	size_t n;

	(void)state;
	CHECK("hostname", good, bad);

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	assert_true(fn(label63, 63));
	assert_false(fn(label64, 64));

	/* 253 characters is the most: 4 labels of 63 and one of 1 */
	n = 0;
	while (n < 4 * 64) {
		memcpy(longname + n, label63, 63);
		longname[n + 63] = '.';
		n += 64;
	}
	longname[n++] = 'b';
	assert_int_equal(n, 257);
	/* trim to exactly 253 = 63.63.63.61 */
	memcpy(longname + 192, label63, 61);
	assert_true(fn(longname, 253));
	longname[253] = '.';
	assert_true(fn(longname, 254));
	memcpy(longname + 192, label63, 62);
	assert_false(fn(longname, 254));
	/* a NUL byte is not a letter */
	assert_false(fn("a\0b", 3));
}

static void test_ipv4(void **state)
{
	static const char *const good[] = {
		"192.168.0.1", "87.10.0.1", "0.0.0.0", "255.255.255.255",
		"1.2.3.4", "10.0.0.10",
	};
	static const char *const bad[] = {
		"127.0.0.0.1", "256.256.256.256", "0x7f000001", "087.10.0.1",
		"127.0", "192.168.1.0/24", ("1\xe0\xa7\xa8" "7.0.0.1"), "1",
		"1.2.3.", ".1.2.3", "1..2.3", "1.2.3.4 ", " 1.2.3.4",
		"01.2.3.4", "1.2.3.00", "1.2.3.256", "1.2.3.1000", "a.b.c.d",
		"", "1.2.3.-4", "+1.2.3.4",
	};

	(void)state;
	CHECK("ipv4", good, bad);
	assert_false(cspf_format_lookup("ipv4")("1.2.3.4\0", 8));
}

static void test_ipv6(void **state)
{
	static const char *const good[] = {
		"::1", "::abef", "::", "::42:ff:1", "d6::",
		"1::d6:192.168.0.1", "1:2::192.168.0.1", "::ffff:192.168.0.1",
		"::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "FFFF::", "fe80::1",
		"1000:1000:1000:1000:1000:1000:255.255.255.255",
		"1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::8", "0:0:0:0:0:0:0:0",
		"2001:DB8::abcd", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4",
	};
	static const char *const bad[] = {
		"12345::", "1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1", "::laptop",
		":2:3:4:5:6:7:8", "1:2:3:4:5:6:7:", ":2:3:4::8", "1::d6::42",
		"1::5::8", "::ffff:192.168.0.288", "1:2:3:4:5:::8",
		"1:2:3:4:5:6:7", "1", "127.0.0.1", "1:2:3:4:1.2.3",
		"::1:1.2.3", "  ::1", "::1  ", "fe80::/64", "fe80::a%eth1",
		"100:100:100:100:100:100:255.255.255.255.255",
		"100:100:100:100:100:100:100:255.255.255.255",
		"1:2:3:4:5:6:7:\xe0\xa7\xaa", "1:2::192.16\xe0\xa7\xaa.0.1",
		"1::2:192.168.ff.1", "1::2:192.168.01.1", ":::", ":", "",
		"1:2:3:4:5:6:7:8:9", "1::2::", "[::1]", "v1.x", "::1]@[::2",
		"1.2.3.4::", "::1.2.3.4:1", "1:2:3:4:5:6:7:1.2.3.4",
		"g::1",
	};

	(void)state;
	CHECK("ipv6", good, bad);
}

static void test_uri(void **state)
{
	static const char *const good[] = {
		"http://foo.bar/?baz=qux#quux",
		"http://foo.com/blah_(wikipedia)_blah#cite-1",
		"http://foo.bar/?q=Test%20URL-encoded%20stuff",
		"http://xn--nw2a.xn--j6w193g/",
		"http://-.~_!$&'()*+,;=:%40:80%2f::::::@example.com",
		"http://223.255.255.254", "ftp://ftp.is.co.za/rfc/rfc1808.txt",
		"http://www.ietf.org/rfc/rfc2396.txt",
		"ldap://[2001:db8::7]/c=GB?objectClass?one",
		"mailto:John.Doe@example.com",
		"news:comp.infosystems.www.servers.unix",
		"tel:+1-816-555-1212",
		"urn:oasis:names:specification:docbook:dtd:xml:4.1.2",
	};
	static const char *const bad[] = {
		"//foo.bar/?baz=qux#quux", "/abc", "abc", "",
		"\\\\WINDOWS\\fileshare", "http:// shouldfail.com",
		":// should fail", "bar,baz:foo",
		"https://[@example.org/test.txt",
		"https://example.org/foobar\\.txt",
		"https://example.org/foobar<>.txt",
		"https://example.org/foobar{}.txt",
		"https://example.org/foobar^.txt",
		"https://example.org/foobar`.txt",
		"https://example.org/foobar|.txt",
		"http://example.com/\xc3\xa9",
	};

	(void)state;
	CHECK("uri", good, bad);
}

static void test_uri_reference(void **state)
{
	static const char *const good[] = {
		"http://foo.bar/?baz=qux#quux", "//foo.bar/?baz=qux#quux",
		"/abc", "abc", "#fragment", "", "../x?y", "#/$defs/a",
	};
	static const char *const bad[] = {
		"\\\\WINDOWS\\fileshare", "#frag\\ment", "a b", "%zz",
		"http://[::1", "://x", "#a#b",
	};

	(void)state;
	CHECK("uri-reference", good, bad);
}

static void test_uuid(void **state)
{
	static const char *const good[] = {
		"2EB8AA08-AA98-11EA-B4AA-73B441D16380",
		"2eb8aa08-aa98-11ea-b4aa-73b441d16380",
		"2eb8aa08-AA98-11ea-B4Aa-73B441D16380",
		"00000000-0000-0000-0000-000000000000",
		"98d80576-482e-427f-8434-7f86890ab222",
		"99c17cbb-656f-564a-940f-1a4568f03487",
		"99c17cbb-656f-664a-940f-1a4568f03487",
		"99c17cbb-656f-f64a-940f-1a4568f03487",
		"123e4567-e89b-12d3-a456-426614174000",
	};
	static const char *const bad[] = {
		"2eb8aa08-aa98-11ea-b4aa-73b441d1638",
		"2eb8aa08-aa98-11ea-b4aa-73b441d163800",
		"2eb8aa08-aa98-11ea-b4aa-73b441d1638g",
		"2eb8aa08aa9811eab4aa73b441d16380",
		"2eb8aa08aa98-11ea-b4aa73b441d16380",
		"2eb8-aa08-aa98-11ea-b4aa73b441d16380",
		"2eb8aa08-aa98-11ea-b4aa-73b441d16380 ",
		"{2eb8aa08-aa98-11ea-b4aa-73b441d16380}",
		"urn:uuid:2eb8aa08-aa98-11ea-b4aa-73b441d16380", "",
	};

	(void)state;
	CHECK("uuid", good, bad);
}

static void test_regex(void **state)
{
	static const char *const good[] = {
		"([abc])+\\s+$", "^a*$", "\\p{Letter}cole", "^\\cC$", "[^]",
		"", "a{2,3}?", "(?<n>x)\\k<n>", "\\u{1F432}",
	};
	static const char *const bad[] = {
		"^(abc]", "\\a", "^\\S(|(.|\\n)*\\S)\\Z", "(?i)a", "a**",
		"[z-a]", "\\p{letter}", "(", ")", "{", "a{2", "\\",
	};

	(void)state;
	CHECK("regex", good, bad);
}

static void test_json_pointer(void **state)
{
	static const char *const good[] = {
		"/foo/bar~0/baz~1/%a", "/foo/baz", "/foo/bar/0", "", "/",
		"/ ", "/foo//bar", "/foo/bar/", "/~0~1", "/foo/-", "/a\"b",
		"/c%d", "/e^f", "/g|h", "/i\\j", "/k\"l", "/m~0n",
		"/\xc3\xa9",
	};
	static const char *const bad[] = {
		"/foo/bar~", "#", "#/", "#a", "/~0~", "/~0/~", "/~2", "/~-1",
		"/~~", "a", "0", "a/a", "foo", "foo/bar", "~0",
	};

	(void)state;
	CHECK("json-pointer", good, bad);
	assert_true(cspf_format_lookup("json-pointer")("/a\0b", 4));
}

static void test_relative_json_pointer(void **state)
{
	static const char *const good[] = {
		"1", "0/foo/bar", "2/0/baz/1/zip", "0#", "1/0", "120/foo/bar",
		"0", "10#", "0/", "3/~0~1",
	};
	static const char *const bad[] = {
		"/foo/bar", "-1/foo/bar", "+1/foo/bar", "0##", "01/a", "01#",
		"01", "", "#", "-1/foo", "1#/", "a", "0 ", "1/~", "0#0",
		"1a",
	};

	(void)state;
	CHECK("relative-json-pointer", good, bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_date_time),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_uri_reference),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_json_pointer),
		cmocka_unit_test(test_relative_json_pointer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
