/*
 * The "format" checks of JSON Schema 2020-12 (validation spec section 7.3),
 * each written from the grammar of the RFC it names.  Every checker takes
 * a length and reads only ASCII: a digit is 0-9, never another script's.
 */
#include "schema/format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/regex.h"
#include "util/uri.h"
#include "util/banned.h"

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Exactly `n` ASCII digits at s, their value in *v. */
static bool digits(const char *s, size_t n, unsigned int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (unsigned int)(s[i] - '0');
	}
	return true;
}

static bool leap_year(unsigned int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 full-date: date-fullyear "-" date-month "-" date-mday */
static bool is_full_date(const char *s, size_t len)
{
	static const unsigned char mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	unsigned int y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
	    !digits(s + 8, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return !(m == 2 && d == 29 && !leap_year(y));
}

/*
 * RFC 3339 full-time: partial-time time-offset.  A second of 60 is a leap
 * second, which only ever happens at 23:59:60 UTC, so the local time
 * minus its offset must be 23:59.
 */
static bool is_full_time(const char *s, size_t len)
{
	unsigned int h, m, sec, oh = 0, om = 0;
	size_t i = 8;
	int sign = 0;
	long utc;

	if (len < 9 || s[2] != ':' || s[5] != ':')
		return false;
	if (!digits(s, 2, &h) || !digits(s + 3, 2, &m) ||
	    !digits(s + 6, 2, &sec))
		return false;
	if (h > 23 || m > 59 || sec > 60)
		return false;
	if (s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return false;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i >= len)
		return false;
	if (s[i] == 'Z' || s[i] == 'z') {
		if (len - i != 1)
			return false;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i != 6 || s[i + 3] != ':' ||
		    !digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om))
			return false;
		if (oh > 23 || om > 59)
			return false;
	} else {
		return false;
	}
	if (sec == 60) {
		utc = (long)(h * 60 + m) - sign * (long)(oh * 60 + om);
		utc = ((utc % 1440) + 1440) % 1440;
		if (utc != 23 * 60 + 59)
			return false;
	}
	return true;
}

static bool fmt_date(const char *s, size_t len)
{
	return is_full_date(s, len);
}

static bool fmt_time(const char *s, size_t len)
{
	return is_full_time(s, len);
}

/* full-date "T" full-time; RFC 3339 5.6 lets "T" and "Z" be lower case */
static bool fmt_date_time(const char *s, size_t len)
{
	if (len < 11 || (s[10] != 'T' && s[10] != 't'))
		return false;
	return is_full_date(s, 10) && is_full_time(s + 11, len - 11);
}

/*
 * One run of the duration grammar: numbers with unit letters taken from
 * `units` in order, each unit only straight after the one before it (the
 * ABNF nests dur-month inside dur-year and so on, so "P1Y1D" and "PT1H1S"
 * are not durations).  Returns false on a syntax error; *i advances.
 */
static bool dur_run(const char *s, size_t len, size_t *i, const char *units,
	size_t *count)
{
	const char *u;
	size_t start;
	int prev = -1;

	*count = 0;
	while (*i < len && s[*i] != 'T') {
		start = *i;
		while (*i < len && is_digit(s[*i]))
			(*i)++;
		if (*i == start || *i == len)
			return false;
		u = strchr(units, s[*i]);
		if (!u || s[*i] == '\0')
			return false;
		if (prev >= 0 && (u - units) != prev + 1)
			return false;
		prev = (int)(u - units);
		(*i)++;
		(*count)++;
	}
	return true;
}

/* RFC 3339 appendix A: "P" (dur-date / dur-time / dur-week) */
static bool fmt_duration(const char *s, size_t len)
{
	size_t i = 1, n, start;

	if (len < 2 || s[0] != 'P')
		return false;

	/* dur-week stands alone */
	start = i;
	while (i < len && is_digit(s[i]))
		i++;
	if (i > start && i + 1 == len && s[i] == 'W')
		return true;
	i = 1;

	if (!dur_run(s, len, &i, "YMD", &n))
		return false;
	if (i == len)
		return n > 0;
	i++; /* the 'T' */
	if (!dur_run(s, len, &i, "HMS", &n))
		return false;
	return i == len && n > 0;
}

/*
 * RFC 1123 section 2.1 host name: labels of letters, digits and hyphens,
 * 1-63 long, neither starting nor ending with a hyphen, 253 characters in
 * all.  A single trailing dot (the absolute form of RFC 1034 section 3.1)
 * is accepted, as most validators do; an empty label anywhere else is not.
 * Punycode "xn--" labels are accepted when they are plain LDH.
 */
static bool is_hostname(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
			return false;
		if (label == 0 && s[i] == '-')
			return false;
		label++;
	}
	return true;
}

static bool fmt_hostname(const char *s, size_t len)
{
	return is_hostname(s, len);
}

/* The grammar of RFC 3986, which uri.c checks for URI hosts too. */
static bool fmt_ipv4(const char *s, size_t len)
{
	return cspf_uri_is_ipv4(s, len);
}

static bool fmt_ipv6(const char *s, size_t len)
{
	return cspf_uri_is_ipv6(s, len);
}

/* RFC 5322 atext */
static bool is_atext(int c)
{
	return is_alpha(c) || is_digit(c) ||
		(c != '\0' && memchr("!#$%&'*+-/=?^_`{|}~", c, 19) != NULL);
}

/* RFC 5321 Snum 3("." Snum), Snum being 1-3 digits worth 0-255 */
static bool is_smtp_ipv4(const char *s, size_t len)
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
		if (i == start || v > 255)
			return false;
	}
	return i == len;
}

/*
 * RFC 5321 section 4.1.2 Mailbox = Local-part "@" ( Domain /
 * address-literal ), ASCII only.  Local-part is a Dot-string (atoms of
 * atext joined by single dots) or a Quoted-string; the domain is host-name
 * like, or "[IPv4]" or "[IPv6:...]" (the only registered tag of a
 * General-address-literal).  The size limits of section 4.5.3.1 apply:
 * 64 octets of local-part, 255 of domain.
 */
static bool fmt_email(const char *s, size_t len)
{
	size_t i, at;
	const char *d;
	size_t dlen;

	if (len == 0)
		return false;
	if (s[0] == '"') {
		for (i = 1; i < len && s[i] != '"'; i++) {
			if (s[i] == '\\') {
				i++;
				if (i >= len || s[i] < 32 || s[i] > 126)
					return false;
			} else if (s[i] < 32 || s[i] > 126) {
				return false;
			}
		}
		if (i >= len)
			return false;
		at = i + 1;
	} else {
		for (i = 0; i < len && s[i] != '@'; i++) {
			if (s[i] == '.') {
				if (i == 0 || s[i - 1] == '.')
					return false;
			} else if (!is_atext((unsigned char)s[i])) {
				return false;
			}
		}
		if (i == 0 || s[i - 1] == '.')
			return false;
		at = i;
	}
	if (at > 64 || at >= len || s[at] != '@')
		return false;

	d = s + at + 1;
	dlen = len - at - 1;
	if (dlen > 255)
		return false;
	if (dlen >= 2 && d[0] == '[' && d[dlen - 1] == ']') {
		d++;
		dlen -= 2;
		if (dlen > 5 && !memcmp(d, "IPv6:", 5))
			return fmt_ipv6(d + 5, dlen - 5);
		return is_smtp_ipv4(d, dlen);
	}
	/* a Domain has no trailing dot */
	return dlen > 0 && d[dlen - 1] != '.' && is_hostname(d, dlen);
}

static bool fmt_uri(const char *s, size_t len)
{
	return cspf_uri_is_uri(s, len);
}

static bool fmt_uri_reference(const char *s, size_t len)
{
	return cspf_uri_is_reference(s, len);
}

/* RFC 4122 section 3 text form: 8-4-4-4-12 hex digits, any case */
static bool fmt_uuid(const char *s, size_t len)
{
	size_t i;

	if (len != 36)
		return false;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex(s[i])) {
			return false;
		}
	}
	return true;
}

static bool fmt_regex(const char *s, size_t len)
{
	cspf_regex *re;

	if (cspf_regex_compile(&re, s, len) < 0)
		return false;
	cspf_regex_free(re);
	return true;
}

/* RFC 6901: *( "/" reference-token ), '~' only as "~0" or "~1" */
static bool is_json_pointer(const char *s, size_t len)
{
	size_t i;

	if (len > 0 && s[0] != '/')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '~' && (i + 1 >= len ||
		    (s[i + 1] != '0' && s[i + 1] != '1')))
			return false;
	}
	return true;
}

static bool fmt_json_pointer(const char *s, size_t len)
{
	return is_json_pointer(s, len);
}

/*
 * draft-handrews-relative-json-pointer-01 section 3:
 * non-negative-integer ( "#" / json-pointer ), the integer without
 * leading zeros.
 */
static bool fmt_relative_json_pointer(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && is_digit(s[i]))
		i++;
	if (i == 0 || (s[0] == '0' && i > 1))
		return false;
	if (i + 1 == len && s[i] == '#')
		return true;
	return is_json_pointer(s + i, len - i);
}

struct format {
	const char *name;
	cspf_format_fn fn;
	const char *describe;
};

/* clang-format off */
/* Sorted by name for bsearch. */
static const struct format formats[] = {
	{ "date",          fmt_date,
	  "an RFC 3339 full-date such as 2024-01-31" },
	{ "date-time",     fmt_date_time,
	  "an RFC 3339 date-time such as 2024-01-31T12:00:00Z" },
	{ "duration",      fmt_duration,
	  "an RFC 3339 duration such as P1Y2M3DT4H5M6S or P4W" },
	{ "email",         fmt_email,
	  "an RFC 5321 e-mail address such as joe@example.com" },
	{ "hostname",      fmt_hostname,
	  "an RFC 1123 host name such as www.example.com" },
	{ "ipv4",          fmt_ipv4,
	  "an IPv4 address in dotted-quad form such as 192.0.2.1" },
	{ "ipv6",          fmt_ipv6,
	  "an RFC 4291 IPv6 address such as 2001:db8::1" },
	{ "json-pointer",  fmt_json_pointer,
	  "an RFC 6901 JSON pointer such as /a/b~1c" },
	{ "regex",         fmt_regex,
	  "an ECMA-262 regular expression" },
	{ "relative-json-pointer", fmt_relative_json_pointer,
	  "a relative JSON pointer such as 1/a or 0#" },
	{ "time",          fmt_time,
	  "an RFC 3339 full-time such as 12:00:00Z" },
	{ "uri",           fmt_uri,
	  "an absolute RFC 3986 URI such as https://example.com/a" },
	{ "uri-reference", fmt_uri_reference,
	  "an RFC 3986 URI reference such as ../a#b" },
	{ "uuid",          fmt_uuid,
	  "an RFC 4122 UUID such as 123e4567-e89b-12d3-a456-426614174000" },
};
/* clang-format on */

static int format_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct format *)elem)->name);
}

static const struct format *find(const char *name)
{
	if (!name)
		return NULL;
	return bsearch(name, formats, sizeof(formats) / sizeof(formats[0]),
		sizeof(formats[0]), format_cmp);
}

cspf_format_fn cspf_format_lookup(const char *name)
{
	const struct format *f = find(name);

	return f ? f->fn : NULL;
}

const char *cspf_format_describe(const char *name)
{
	const struct format *f = find(name);

	return f ? f->describe : NULL;
}
