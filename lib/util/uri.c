/*
 * URIs after RFC 3986: a strict parser written from the ABNF of its
 * appendix A, and reference resolution after section 5.2.
 */
#include "uri.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Character classes of RFC 3986, one table lookup each: format "uri"
 * runs this on every URL of every document.
 */
enum { C_UNRESERVED = 1, C_SUB_DELIM = 2 };

static const unsigned char char_class[256] = {
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
	['!'] = 2, ['$'] = 2, ['&'] = 2, ['\''] = 2, ['('] = 2, [')'] = 2,
	['*'] = 2, ['+'] = 2, [','] = 2, [';'] = 2, ['='] = 2,
};

static inline bool is_unreserved(int c)
{
	return char_class[(unsigned char)c] & C_UNRESERVED;
}

static inline bool is_sub_delim(int c)
{
	return char_class[(unsigned char)c] & C_SUB_DELIM;
}

/*
 * True when every character of s[0..len) is unreserved, a sub-delim, one
 * of `extra`, or part of a pct-encoded triple ("%" HEXDIG HEXDIG).  This
 * covers userinfo (extra ":"), reg-name (""), path ("/:@") and query and
 * fragment ("/?:@").
 */
static bool span_ok(const char *s, size_t len, const char *extra)
{
	size_t i;
	int c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3 || hex_value(s[i + 1]) < 0 ||
			    hex_value(s[i + 2]) < 0)
				return false;
			i += 2;
			continue;
		}
		if (char_class[c])
			continue;
		if (c == '\0' || !strchr(extra, c))
			return false;
	}
	return true;
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros. */
static bool ipv4_ok(const char *s, size_t len)
{
	size_t i = 0, start;
	unsigned int part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		start = i;
		v = 0;
		while (i < len && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return false;
	}
	return i == len;
}

/*
 * IPv6address of RFC 3986 (the text forms of RFC 4291 section 2.2):
 * groups of 1-4 hex digits separated by ':', at most one "::" standing
 * for one or more zero groups, optionally ending in an IPv4 address that
 * counts as two groups.
 */
static bool ipv6_ok(const char *s, size_t len)
{
	size_t i = 0, groups = 0, start;
	bool elided = false;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		elided = true;
		i = 2;
	} else if (len > 0 && s[0] == ':') {
		return false;
	}
	while (i < len) {
		start = i;
		while (i < len && i - start < 5 && hex_value(s[i]) >= 0)
			i++;
		if (i < len && s[i] == '.') {
			if (!ipv4_ok(s + start, len - start))
				return false;
			groups += 2;
			break;
		}
		if (i == start || i - start > 4)
			return false;
		groups++;
		if (i == len)
			break;
		if (s[i] != ':')
			return false;
		i++;
		if (i < len && s[i] == ':') {
			if (elided)
				return false;
			elided = true;
			i++;
		} else if (i == len) {
			return false; /* a single trailing ':' */
		}
	}
	return elided ? groups <= 7 : groups == 8;
}

bool cspf_uri_is_ipv4(const char *s, size_t len)
{
	return ipv4_ok(s, len);
}

bool cspf_uri_is_ipv6(const char *s, size_t len)
{
	return ipv6_ok(s, len);
}

/* "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture_ok(const char *s, size_t len)
{
	size_t i = 1;

	if (len < 1 || (s[0] != 'v' && s[0] != 'V'))
		return false;
	while (i < len && hex_value(s[i]) >= 0)
		i++;
	if (i == 1 || i >= len || s[i] != '.')
		return false;
	i++;
	if (i == len)
		return false;
	for (; i < len; i++) {
		if (!is_unreserved((unsigned char)s[i]) &&
		    !is_sub_delim((unsigned char)s[i]) && s[i] != ':')
			return false;
	}
	return true;
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static bool authority_ok(const char *a, size_t n)
{
	const char *at, *close, *colon;
	size_t hlen, i;

	at = memchr(a, '@', n);
	if (at) {
		if (!span_ok(a, (size_t)(at - a), ":"))
			return false;
		n -= (size_t)(at - a) + 1;
		a = at + 1;
	}
	if (n > 0 && a[0] == '[') {
		close = memchr(a, ']', n);
		if (!close)
			return false;
		hlen = (size_t)(close - a) - 1;
		if (!ipv6_ok(a + 1, hlen) && !ipvfuture_ok(a + 1, hlen))
			return false;
		hlen += 2;
	} else {
		/* IPv4address is a special case of reg-name here. */
		colon = memchr(a, ':', n);
		hlen = colon ? (size_t)(colon - a) : n;
		if (!span_ok(a, hlen, ""))
			return false;
	}
	if (hlen == n)
		return true;
	if (a[hlen] != ':')
		return false;
	for (i = hlen + 1; i < n; i++)
		if (!is_digit(a[i]))
			return false;
	return true;
}

int cspf_uri_parse(cspf_uri *out, const char *s, size_t len)
{
	size_t i = 0, end, k;

	memset(out, 0, sizeof(*out));
	if (!s)
		s = "";

	/* scheme ":" only when the first segment is a valid scheme */
	if (len > 0 && is_alpha(s[0])) {
		for (i = 1; i < len; i++) {
			if (!is_alpha(s[i]) && !is_digit(s[i]) &&
			    s[i] != '+' && s[i] != '-' && s[i] != '.')
				break;
		}
		if (i < len && s[i] == ':') {
			out->scheme = s;
			out->scheme_len = i;
			out->has_scheme = true;
			i++;
		} else {
			i = 0;
		}
	}

	if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		i += 2;
		for (end = i; end < len; end++)
			if (s[end] == '/' || s[end] == '?' || s[end] == '#')
				break;
		if (!authority_ok(s + i, end - i))
			return -1;
		out->authority = s + i;
		out->authority_len = end - i;
		out->has_authority = true;
		i = end;
	}

	for (end = i; end < len; end++)
		if (s[end] == '?' || s[end] == '#')
			break;
	if (!span_ok(s + i, end - i, "/:@"))
		return -1;
	out->path = s + i;
	out->path_len = end - i;
	/* path-noscheme: a relative reference's first segment has no ':' */
	if (!out->has_scheme && !out->has_authority) {
		for (k = i; k < end && s[k] != '/'; k++)
			if (s[k] == ':')
				return -1;
	}
	i = end;

	if (i < len && s[i] == '?') {
		i++;
		for (end = i; end < len && s[end] != '#'; end++)
			;
		if (!span_ok(s + i, end - i, "/?:@"))
			return -1;
		out->query = s + i;
		out->query_len = end - i;
		out->has_query = true;
		i = end;
	}

	if (i < len && s[i] == '#') {
		i++;
		if (!span_ok(s + i, len - i, "/?:@"))
			return -1;
		out->fragment = s + i;
		out->fragment_len = len - i;
		out->has_fragment = true;
	}
	return 0;
}

bool cspf_uri_is_uri(const char *s, size_t len)
{
	cspf_uri u;

	return cspf_uri_parse(&u, s, len) == 0 && u.has_scheme;
}

bool cspf_uri_is_reference(const char *s, size_t len)
{
	cspf_uri u;

	return cspf_uri_parse(&u, s, len) == 0;
}

/* Drop the last segment of `out` and the '/' before it (5.2.4 C). */
static bool pop_segment(cspf_buf *out)
{
	char *slash;

	if (out->size == 0)
		return false;
	slash = memrchr(out->ptr, '/', out->size);
	cspf_buf_truncate(out, slash ? (size_t)(slash - out->ptr) : 0);
	return true;
}

/*
 * remove_dot_segments of RFC 3986 section 5.2.4, appending the result to
 * `out`.  Returns how many times a ".." had nothing left to remove, which
 * the relative-path case below turns back into leading "../".
 */
static size_t remove_dots(cspf_buf *out, const char *in, size_t n)
{
	size_t i = 0, r, e, lost = 0;
	const char *p;

	while (i < n) {
		p = in + i;
		r = n - i;
		if (r >= 3 && !memcmp(p, "../", 3)) {
			i += 3; /* A */
		} else if (r >= 2 && !memcmp(p, "./", 2)) {
			i += 2; /* A */
		} else if (r >= 3 && !memcmp(p, "/./", 3)) {
			i += 2; /* B: leaves "/..." */
		} else if (r == 2 && !memcmp(p, "/.", 2)) {
			cspf_buf_putc(out, '/'); /* B, then E on "/" */
			i = n;
		} else if (r >= 4 && !memcmp(p, "/../", 4)) {
			i += 3; /* C: leaves "/..." */
			if (!pop_segment(out))
				lost++;
		} else if (r == 3 && !memcmp(p, "/..", 3)) {
			if (!pop_segment(out))
				lost++;
			cspf_buf_putc(out, '/'); /* C, then E on "/" */
			i = n;
		} else if ((r == 1 && p[0] == '.') ||
			   (r == 2 && !memcmp(p, "..", 2))) {
			i = n; /* D */
		} else {
			e = (p[0] == '/') ? 1 : 0; /* E */
			while (e < r && p[e] != '/')
				e++;
			cspf_buf_put(out, p, e);
			i += e;
		}
	}
	return lost;
}

/*
 * The same for a relative path, which RFC 3986 never meets because its
 * base URIs are absolute: done on "/" + path so that ".." cannot eat into
 * the first segment, and every ".." that climbs above the start is kept,
 * so "a/../../b" gives "../b" rather than RFC's "/b".
 */
static void remove_dots_relative(cspf_buf *out, const char *in, size_t n)
{
	cspf_buf tmp = CSPF_BUF_INIT, res = CSPF_BUF_INIT;
	size_t lost;

	cspf_buf_putc(&tmp, '/');
	cspf_buf_put(&tmp, in, n);
	lost = remove_dots(&res, tmp.ptr, tmp.size);
	if (lost == 0 && res.size > 1 && res.ptr[1] == '/')
		cspf_buf_puts(out, "./"); /* ".//x" must not become "/x" */
	while (lost-- > 0)
		cspf_buf_puts(out, "../");
	if (res.size > 0)
		cspf_buf_put(out, res.ptr + 1, res.size - 1);
	if (cspf_buf_oom(&tmp) || cspf_buf_oom(&res))
		out->oom = true;
	cspf_buf_dispose(&tmp);
	cspf_buf_dispose(&res);
}

static void put_path(cspf_buf *out, bool has_scheme, const char *p, size_t n)
{
	if (n > 0 && p[0] != '/' && !has_scheme)
		remove_dots_relative(out, p, n);
	else
		remove_dots(out, p, n);
}

/* merge of RFC 3986 section 5.2.3 */
static void merge(cspf_buf *out, const cspf_uri *base, const cspf_uri *ref)
{
	const char *slash;

	if (base->has_authority && base->path_len == 0) {
		cspf_buf_putc(out, '/');
	} else {
		slash = base->path_len ?
			memrchr(base->path, '/', base->path_len) : NULL;
		if (slash)
			cspf_buf_put(out, base->path,
				(size_t)(slash - base->path) + 1);
	}
	cspf_buf_put(out, ref->path, ref->path_len);
}

char *cspf_uri_resolve(const char *base, const char *ref)
{
	cspf_uri b, r, t;
	cspf_buf path = CSPF_BUF_INIT, tmp = CSPF_BUF_INIT;
	cspf_buf out = CSPF_BUF_INIT;
	size_t k;
	bool colon = false;

	if (!base)
		base = "";
	if (!ref ||
	    cspf_uri_parse(&b, base, strlen(base)) < 0 ||
	    cspf_uri_parse(&r, ref, strlen(ref)) < 0)
		return NULL;

	/* section 5.2.2, strict: a scheme in the reference wins */
	memset(&t, 0, sizeof(t));
	if (r.has_scheme) {
		t = r;
		put_path(&path, true, r.path, r.path_len);
	} else {
		if (r.has_authority) {
			t.authority = r.authority;
			t.authority_len = r.authority_len;
			t.has_authority = true;
			put_path(&path, b.has_scheme, r.path, r.path_len);
			t.query = r.query;
			t.query_len = r.query_len;
			t.has_query = r.has_query;
		} else {
			if (r.path_len == 0) {
				cspf_buf_put(&path, b.path, b.path_len);
				if (r.has_query) {
					t.query = r.query;
					t.query_len = r.query_len;
					t.has_query = true;
				} else {
					t.query = b.query;
					t.query_len = b.query_len;
					t.has_query = b.has_query;
				}
			} else {
				if (r.path[0] == '/') {
					put_path(&path, true, r.path,
						r.path_len);
				} else {
					merge(&tmp, &b, &r);
					put_path(&path, b.has_scheme,
						tmp.ptr, tmp.size);
				}
				t.query = r.query;
				t.query_len = r.query_len;
				t.has_query = r.has_query;
			}
			t.authority = b.authority;
			t.authority_len = b.authority_len;
			t.has_authority = b.has_authority;
		}
		t.scheme = b.scheme;
		t.scheme_len = b.scheme_len;
		t.has_scheme = b.has_scheme;
	}
	t.fragment = r.fragment;
	t.fragment_len = r.fragment_len;
	t.has_fragment = r.has_fragment;

	/* section 5.3, recomposition */
	if (t.has_scheme) {
		cspf_buf_put(&out, t.scheme, t.scheme_len);
		cspf_buf_putc(&out, ':');
	}
	if (t.has_authority) {
		cspf_buf_puts(&out, "//");
		cspf_buf_put(&out, t.authority, t.authority_len);
	} else if (path.size >= 2 && path.ptr[0] == '/' && path.ptr[1] == '/') {
		/* "//x" would read back as an authority */
		cspf_buf_puts(&out, "/.");
	} else if (!t.has_scheme) {
		/* "a:b" would read back as a scheme */
		for (k = 0; k < path.size && path.ptr[k] != '/'; k++)
			if (path.ptr[k] == ':')
				colon = true;
		if (colon)
			cspf_buf_puts(&out, "./");
	}
	cspf_buf_put(&out, path.ptr, path.size);
	if (t.has_query) {
		cspf_buf_putc(&out, '?');
		cspf_buf_put(&out, t.query, t.query_len);
	}
	if (t.has_fragment) {
		cspf_buf_putc(&out, '#');
		cspf_buf_put(&out, t.fragment, t.fragment_len);
	}

	if (cspf_buf_oom(&path) || cspf_buf_oom(&tmp))
		out.oom = true;
	cspf_buf_dispose(&path);
	cspf_buf_dispose(&tmp);
	return cspf_buf_detach(&out);
}

char *cspf_uri_without_fragment(const char *uri, const char **fragment)
{
	const char *hash = strchr(uri, '#');
	size_t n = hash ? (size_t)(hash - uri) : strlen(uri);
	char *copy;

	if (fragment)
		*fragment = hash ? hash + 1 : NULL;
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, uri, n);
	copy[n] = '\0';
	return copy;
}

/*
 * "%00" is refused as well as a malformed escape: the result is a C
 * string, and a NUL inside it would silently cut the name it spells.
 */
char *cspf_uri_percent_decode(const char *s, size_t len)
{
	char *d, *o;
	size_t i;
	int hi, lo;

	d = malloc(len + 1);
	if (!d)
		return NULL;
	o = d;
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (len - i < 3 || (hi = hex_value(s[i + 1])) < 0 ||
		    (lo = hex_value(s[i + 2])) < 0 || (hi | lo) == 0) {
			free(d);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return d;
}
