/*
 * Just enough JSON to read a token response where it lies, in guarded
 * memory, without copying the document into the plain heap (as a full
 * parser would).
 */
#include <string.h>

#include "http_private.h"
#include "util/banned.h"

struct scan {
	const char *p, *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
		*s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* At a '"': move past the closing quote; the inside's span. */
static int string(struct scan *s, const char **v, size_t *len)
{
	const char *start;

	if (s->p >= s->end || *s->p != '"')
		return -1;
	start = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		if ((unsigned char)*s->p < 0x20)
			return -1;
		if (*s->p == '\\')
			s->p++;
		s->p++;
	}
	if (s->p >= s->end)
		return -1;
	*v = start;
	*len = (size_t)(s->p - start);
	s->p++;
	return 0;
}

static int value(struct scan *s, int depth)
{
	const char *v;
	size_t n;

	ws(s);
	if (s->p >= s->end || depth > 64)
		return -1;
	if (*s->p == '"')
		return string(s, &v, &n);
	if (*s->p == '{' || *s->p == '[') {
		char close = *s->p == '{' ? '}' : ']';
		bool obj = close == '}';

		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		for (;;) {
			if (obj) {
				ws(s);
				if (string(s, &v, &n) < 0)
					return -1;
				ws(s);
				if (s->p >= s->end || *s->p++ != ':')
					return -1;
			}
			if (value(s, depth + 1) < 0)
				return -1;
			ws(s);
			if (s->p >= s->end)
				return -1;
			if (*s->p == ',') {
				s->p++;
				continue;
			}
			if (*s->p++ == close)
				return 0;
			return -1;
		}
	}
	/* number, true, false, null */
	v = s->p;
	while (s->p < s->end && (strchr("+-.eE", *s->p) ||
		(*s->p >= '0' && *s->p <= '9') ||
		(*s->p >= 'a' && *s->p <= 'z')))
		s->p++;
	return s->p > v ? 0 : -1;
}

int cspf_http_json_member(const char **val, size_t *len, bool *is_string,
	const char *json, size_t json_len, const char *key)
{
	struct scan s = { json, json + json_len };
	size_t klen = strlen(key), n;
	const char *k, *vs;

	ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		return -1;
	for (;;) {
		ws(&s);
		if (string(&s, &k, &n) < 0)
			return -1;
		ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			return -1;
		ws(&s);
		vs = s.p;
		if (n == klen && !memcmp(k, key, n)) {
			if (s.p < s.end && *s.p == '"') {
				if (string(&s, val, len) < 0)
					return -1;
				*is_string = true;
				return 0;
			}
			if (value(&s, 0) < 0)
				return -1;
			*val = vs;
			*len = (size_t)(s.p - vs);
			*is_string = false;
			return 0;
		}
		if (value(&s, 0) < 0)
			return -1;
		ws(&s);
		if (s.p >= s.end || *s.p != ',')
			return -1;
		s.p++;
	}
}

static int hex4(const char *p)
{
	int v = 0, i, c;

	for (i = 0; i < 4; i++) {
		c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static void put_utf8(cspf_sbuf *out, unsigned int cp)
{
	char b[4];

	if (cp < 0x80) {
		b[0] = (char)cp;
		cspf_sbuf_put(out, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		cspf_sbuf_put(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		cspf_sbuf_put(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		cspf_sbuf_put(out, b, 4);
	}
}

int cspf_http_json_unescape(cspf_sbuf *out, const char *s, size_t len)
{
	size_t i = 0, start = 0;
	int cp, lo;

	while (i < len) {
		if (s[i] != '\\') {
			i++;
			continue;
		}
		cspf_sbuf_put(out, s + start, i - start);
		if (i + 1 >= len)
			return -1;
		switch (s[i + 1]) {
		case '"': cspf_sbuf_putc(out, '"'); break;
		case '\\': cspf_sbuf_putc(out, '\\'); break;
		case '/': cspf_sbuf_putc(out, '/'); break;
		case 'b': cspf_sbuf_putc(out, '\b'); break;
		case 'f': cspf_sbuf_putc(out, '\f'); break;
		case 'n': cspf_sbuf_putc(out, '\n'); break;
		case 'r': cspf_sbuf_putc(out, '\r'); break;
		case 't': cspf_sbuf_putc(out, '\t'); break;
		case 'u':
			if (i + 6 > len || (cp = hex4(s + i + 2)) < 0)
				return -1;
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (i + 8 > len || s[i + 2] != '\\' ||
					s[i + 3] != 'u' ||
					(lo = hex4(s + i + 4)) < 0xdc00 ||
					lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
					(lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return -1;
			}
			put_utf8(out, (unsigned int)cp);
			break;
		default:
			return -1;
		}
		i += 2;
		start = i;
	}
	cspf_sbuf_put(out, s + start, len - start);
	return out->oom ? -1 : 0;
}
