/*
 * Unit tests of lib/util/uri.c: the RFC 3986 grammar, and resolution with
 * every example of RFC 3986 section 5.4.
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

#include "util/uri.h"

struct pair {
	const char *ref;
	const char *want;
};

static void check_resolve(const char *base, const struct pair *p, size_t n)
{
	size_t i;
	char *got, msg[512];
	bool ok;

	for (i = 0; i < n; i++) {
		got = cspf_uri_resolve(base, p[i].ref);
		ok = got && strcmp(got, p[i].want) == 0;
		snprintf(msg, sizeof(msg), "resolve(\"%s\", \"%s\") = \"%s\"",
			base ? base : "(null)", p[i].ref, got ? got : "(null)");
		free(got);
		if (!ok)
			fail_msg("%s, want \"%s\"", msg, p[i].want);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 3986 section 5.4.1 */
static void test_rfc3986_normal(void **state)
{
	static const struct pair p[] = {
		{ "g:h", "g:h" },
		{ "g", "http://a/b/c/g" },
		{ "./g", "http://a/b/c/g" },
		{ "g/", "http://a/b/c/g/" },
		{ "/g", "http://a/g" },
		{ "//g", "http://g" },
		{ "?y", "http://a/b/c/d;p?y" },
		{ "g?y", "http://a/b/c/g?y" },
		{ "#s", "http://a/b/c/d;p?q#s" },
		{ "g#s", "http://a/b/c/g#s" },
		{ "g?y#s", "http://a/b/c/g?y#s" },
		{ ";x", "http://a/b/c/;x" },
		{ "g;x", "http://a/b/c/g;x" },
		{ "g;x?y#s", "http://a/b/c/g;x?y#s" },
		{ "", "http://a/b/c/d;p?q" },
		{ ".", "http://a/b/c/" },
		{ "./", "http://a/b/c/" },
		{ "..", "http://a/b/" },
		{ "../", "http://a/b/" },
		{ "../g", "http://a/b/g" },
		{ "../..", "http://a/" },
		{ "../../", "http://a/" },
		{ "../../g", "http://a/g" },
	};

	(void)state;
	check_resolve("http://a/b/c/d;p?q", p, N(p));
}

/* RFC 3986 section 5.4.2 */
static void test_rfc3986_abnormal(void **state)
{
	static const struct pair p[] = {
		{ "../../../g", "http://a/g" },
		{ "../../../../g", "http://a/g" },
		{ "/./g", "http://a/g" },
		{ "/../g", "http://a/g" },
		{ "g.", "http://a/b/c/g." },
		{ ".g", "http://a/b/c/.g" },
		{ "g..", "http://a/b/c/g.." },
		{ "..g", "http://a/b/c/..g" },
		{ "./../g", "http://a/b/g" },
		{ "./g/.", "http://a/b/c/g/" },
		{ "g/./h", "http://a/b/c/g/h" },
		{ "g/../h", "http://a/b/c/h" },
		{ "g;x=1/./y", "http://a/b/c/g;x=1/y" },
		{ "g;x=1/../y", "http://a/b/c/y" },
		{ "g?y/./x", "http://a/b/c/g?y/./x" },
		{ "g?y/../x", "http://a/b/c/g?y/../x" },
		{ "g#s/./x", "http://a/b/c/g#s/./x" },
		{ "g#s/../x", "http://a/b/c/g#s/../x" },
		{ "http:g", "http:g" },
	};

	(void)state;
	check_resolve("http://a/b/c/d;p?q", p, N(p));
}

static void test_resolve_misc(void **state)
{
	static const struct pair dotted[] = {
		/* section 5.2.4's own walk-throughs */
		{ "/a/b/c/./../../g", "http://x/a/g" },
		{ "mid/content=5/../6", "http://x/mid/6" },
		/* a base fragment is dropped, an empty reference keeps none */
		{ "#", "http://x/y#" },
	};
	static const struct pair noslash[] = {
		/* merge with an authority and an empty base path */
		{ "g", "http://a/g" },
		{ "?q", "http://a?q" },
		{ "#f", "http://a#f" },
	};
	static const struct pair absolute[] = {
		{ "http://b/./c/../d", "http://b/d" },
		{ "//h/x/../y", "//h/y" },
		{ "https://example.com/a?b#c", "https://example.com/a?b#c" },
	};
	char *got;

	(void)state;
	check_resolve("http://x/y#frag", dotted, N(dotted));
	check_resolve("http://a", noslash, N(noslash));
	check_resolve(NULL, absolute, 1);
	check_resolve("", absolute, N(absolute));

	/* either side not parsing gives NULL */
	assert_null(cspf_uri_resolve("http://a b/", "g"));
	assert_null(cspf_uri_resolve("http://a/", "%zz"));
	assert_null(cspf_uri_resolve("http://a/", NULL));

	/* the base's own fragment never survives */
	got = cspf_uri_resolve("http://a/b#x", "c");
	assert_string_equal(got, "http://a/c");
	free(got);
}

/* The schema engine's cases: urn: bases and bases without a scheme. */
static void test_resolve_urn(void **state)
{
	static const struct pair p[] = {
		{ "#/$defs/bar",
		  "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed#/$defs/bar" },
		{ "#foo", "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed#foo" },
		{ "", "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed" },
		{ "urn:example:other", "urn:example:other" },
		{ "https://example.com/s", "https://example.com/s" },
	};
	static const struct pair q[] = {
		{ "#/x", "urn:example:root?q=1#/x" },
	};

	(void)state;
	check_resolve("urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed", p,
		N(p));
	check_resolve("urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed#/old",
		p, 3);
	check_resolve("urn:example:root?q=1", q, N(q));
}

static void test_resolve_relative_base(void **state)
{
	static const struct pair schema[] = {
		{ "#foo", "schema.json#foo" },
		{ "#/$defs/a", "schema.json#/$defs/a" },
		{ "other.json", "other.json" },
		{ "other.json#/x", "other.json#/x" },
		{ "", "schema.json" },
		{ "/abs.json", "/abs.json" },
		{ "https://h/x.json", "https://h/x.json" },
	};
	static const struct pair dir[] = {
		{ "b.json", "dir/b.json" },
		{ "./b.json", "dir/b.json" },
		{ "../b.json", "b.json" },
		{ "../../b.json", "../b.json" },
		{ "sub/../c.json", "dir/c.json" },
		{ "sub/", "dir/sub/" },
		{ "..", "" },
		{ "?q", "dir/a.json?q" },
		{ "//host/p", "//host/p" },
		/* the first segment must not read back as a scheme */
		{ "./x:y", "dir/x:y" },
	};
	static const struct pair up[] = {
		{ "b.json", "../a/b.json" },
		{ "../../c.json", "../../c.json" },
		{ "../../../c.json", "../../../c.json" },
	};
	static const struct pair empty[] = {
		{ "#/x", "#/x" },
		{ "", "" },
		{ "a.json", "a.json" },
		{ "./x:y", "./x:y" },
		{ "..", "../" },
		/* an empty first segment stays relative */
		{ ".//x", ".//x" },
		{ "a/..//x", ".//x" },
		{ "../a/..//x", "..//x" },
	};

	(void)state;
	check_resolve("schema.json", schema, N(schema));
	check_resolve("dir/a.json", dir, N(dir));
	check_resolve("../a/x.json", up, N(up));
	check_resolve("", empty, N(empty));
	check_resolve(NULL, empty, N(empty));
}

static void test_parse_components(void **state)
{
	cspf_uri u;
	const char *s =
		"foo://user:pw@example.com:8042/over/there?name=ferret#nose";

	(void)state;
	assert_int_equal(cspf_uri_parse(&u, s, strlen(s)), 0);
	assert_true(u.has_scheme);
	assert_int_equal(u.scheme_len, 3);
	assert_memory_equal(u.scheme, "foo", 3);
	assert_true(u.has_authority);
	assert_int_equal(u.authority_len, strlen("user:pw@example.com:8042"));
	assert_memory_equal(u.path, "/over/there", u.path_len);
	assert_int_equal(u.path_len, 11);
	assert_true(u.has_query);
	assert_memory_equal(u.query, "name=ferret", u.query_len);
	assert_true(u.has_fragment);
	assert_int_equal(u.fragment_len, 4);

	s = "a?";
	assert_int_equal(cspf_uri_parse(&u, s, 2), 0);
	assert_false(u.has_scheme);
	assert_true(u.has_query);
	assert_int_equal(u.query_len, 0);
	assert_false(u.has_fragment);

	s = "urn:example:animal:ferret:nose";
	assert_int_equal(cspf_uri_parse(&u, s, strlen(s)), 0);
	assert_true(u.has_scheme);
	assert_false(u.has_authority);
	assert_int_equal(u.path_len, strlen("example:animal:ferret:nose"));

	assert_int_equal(cspf_uri_parse(&u, "", 0), 0);
	assert_false(u.has_scheme || u.has_authority || u.has_query ||
		u.has_fragment);
	assert_int_equal(u.path_len, 0);

	/* "file:///x": an empty authority */
	s = "file:///etc/x";
	assert_int_equal(cspf_uri_parse(&u, s, strlen(s)), 0);
	assert_true(u.has_authority);
	assert_int_equal(u.authority_len, 0);
}

static void test_valid(void **state)
{
	static const char *const uris[] = {
		"http://foo.bar/?baz=qux#quux",
		"http://foo.com/blah_(wikipedia)_blah#cite-1",
		"http://foo.bar/?q=Test%20URL-encoded%20stuff",
		"http://xn--nw2a.xn--j6w193g/",
		"http://-.~_!$&'()*+,;=:%40:80%2f::::::@example.com",
		"http://223.255.255.254",
		"ftp://ftp.is.co.za/rfc/rfc1808.txt",
		"http://www.ietf.org/rfc/rfc2396.txt",
		"ldap://[2001:db8::7]/c=GB?objectClass?one",
		"mailto:John.Doe@example.com",
		"news:comp.infosystems.www.servers.unix",
		"tel:+1-816-555-1212",
		"urn:oasis:names:specification:docbook:dtd:xml:4.1.2",
		"telnet://192.0.2.16:80/",
		"http://[::1]:8080/",
		"http://[v7.fe80::a+en1]/",
		"http://[V1F.x]/",
		"http://[::ffff:192.0.2.1]/",
		"http://a:/",
		"http://@a/",
		"file:///etc/passwd",
		"x:",
		"a+b-c.d:e",
		"http://a/b?c?d/e#f?g/h",
		"http://a/%C3%A9",
		"https://json-schema.org/draft/2020-12/schema",
	};
	static const char *const refs[] = {
		"", "#", "#/$defs/a", "#foo", "?", "//foo.bar/?baz=qux#quux",
		"/abc", "abc", "./a:b", "a/b:c", "../x", "%41", "//", "///",
		"//[::1]", "//user@host:1/p", "g;x=1/../y",
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(uris); i++) {
		if (!cspf_uri_is_uri(uris[i], strlen(uris[i])))
			fail_msg("not a URI: %s", uris[i]);
		assert_true(cspf_uri_is_reference(uris[i], strlen(uris[i])));
	}
	for (i = 0; i < N(refs); i++) {
		if (!cspf_uri_is_reference(refs[i], strlen(refs[i])))
			fail_msg("not a reference: %s", refs[i]);
		assert_false(cspf_uri_is_uri(refs[i], strlen(refs[i])));
	}
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"http://a b",
		"%zz",
		"%4",
		"a%",
		"http://[::1",
		"http://[::1]x/",
		"http://[1::2::3]/",
		"http://[::1%25eth0]/",
		"http://[v.x]/",
		"http://[v1.]/",
		"http://[vg.x]/",
		"http://[]/",
		"://x",
		":// should fail",
		"\\\\WINDOWS\\fileshare",
		"http:// shouldfail.com",
		"bar,baz:foo",
		"1a:b",
		"https://[@example.org/test.txt",
		"https://example.org/foobar\\.txt",
		"https://example.org/foobar<>.txt",
		"https://example.org/foobar{}.txt",
		"https://example.org/foobar^.txt",
		"https://example.org/foobar`.txt",
		"https://example.org/foobar|.txt",
		"https://example.org/foo\"bar",
		"http://a:8o/",
		"http://a@b@c/",
		"http://a/#x#y",
		"#frag\\ment",
		"http://a/\xc3\xa9",
		"a b",
		"[x]",
		"http://a:1:2/",
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(bad); i++) {
		if (cspf_uri_is_reference(bad[i], strlen(bad[i])))
			fail_msg("accepted: %s", bad[i]);
		assert_false(cspf_uri_is_uri(bad[i], strlen(bad[i])));
	}
	/* the length is honoured: a NUL is a character like any other */
	assert_false(cspf_uri_is_reference("ab\0c", 4));
	assert_true(cspf_uri_is_reference("ab\0c", 2));
	/* relative references are not URIs */
	assert_false(cspf_uri_is_uri("//foo.bar/?baz=qux#quux", 23));
	assert_false(cspf_uri_is_uri("abc", 3));
}

static void test_without_fragment(void **state)
{
	const char *frag = (const char *)1;
	const char *s = "http://a/b#/$defs/x";
	char *p;

	(void)state;
	p = cspf_uri_without_fragment(s, &frag);
	assert_string_equal(p, "http://a/b");
	assert_ptr_equal(frag, s + 11);
	assert_string_equal(frag, "/$defs/x");
	free(p);

	p = cspf_uri_without_fragment("http://a/b", &frag);
	assert_string_equal(p, "http://a/b");
	assert_null(frag);
	free(p);

	p = cspf_uri_without_fragment("#", &frag);
	assert_string_equal(p, "");
	assert_string_equal(frag, "");
	free(p);

	p = cspf_uri_without_fragment("a#b", NULL);
	assert_string_equal(p, "a");
	free(p);
}

static void test_percent_decode(void **state)
{
	char *p;

	(void)state;
	p = cspf_uri_percent_decode("/a%20b/c%25d/%7e", 16);
	assert_string_equal(p, "/a b/c%d/~");
	free(p);
	p = cspf_uri_percent_decode("%C3%A9t%c3%a9", 13);
	assert_string_equal(p, "\xc3\xa9t\xc3\xa9");
	free(p);
	p = cspf_uri_percent_decode("abc%41", 3);
	assert_string_equal(p, "abc");
	free(p);
	p = cspf_uri_percent_decode("", 0);
	assert_string_equal(p, "");
	free(p);
	assert_null(cspf_uri_percent_decode("%zz", 3));
	assert_null(cspf_uri_percent_decode("%4", 2));
	assert_null(cspf_uri_percent_decode("a%", 2));
	assert_null(cspf_uri_percent_decode("%4g", 3));
	assert_null(cspf_uri_percent_decode("a%00b", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3986_normal),
		cmocka_unit_test(test_rfc3986_abnormal),
		cmocka_unit_test(test_resolve_misc),
		cmocka_unit_test(test_resolve_urn),
		cmocka_unit_test(test_resolve_relative_base),
		cmocka_unit_test(test_parse_components),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_without_fragment),
		cmocka_unit_test(test_percent_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
