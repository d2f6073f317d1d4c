/*
 * Strict JSON (RFC 8259) over cJSON.
 *
 * One pass of recursive descent over a NUL-terminated copy of the text
 * builds an ordinary cJSON tree.  The NUL after the last byte is a
 * sentinel: every scanning loop stops at it without a bounds check, and
 * whoever stops there tells end of file from a raw NUL byte by comparing
 * with `end`.  Error paths are cold, out-of-line functions so that the hot
 * loops stay small; line and column are computed only for an error.
 *
 * Positions for JSON pointers are found by re-scanning the retained text
 * (known valid by then) without recursion.
 */
#include "cspf/json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/banned.h"

#define COLD __attribute__((cold, noinline))

/*
 * Every node and string of a document comes from the document's arena:
 * a few large blocks instead of a malloc per node, and one free per block
 * when the document goes.  (Allocation was a third of the time of
 * validating a typical registry file.)  The tree therefore belongs to the
 * document: its items are never freed or detached one by one.
 */
struct arena_block {
	struct arena_block *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
	size_t hint; /* size of the first block */
};

struct cspf_json_doc {
	cJSON *root;
	char *text; /* malloc'd, text[len] == '\0' */
	size_t len;
	char *name; /* NULL when none was given */
	struct arena arena;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t size;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (b && b->size - b->used >= n) {
		void *p = (char *)b->data + b->used;
		b->used += n;
		return p;
	}
	size = b ? b->size * 2 : a->hint;
	if (size < n)
		size = n;
	if (size > (SIZE_MAX - sizeof(*b)) / 2)
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = a->head;
	b->size = size;
	b->used = n;
	a->head = b;
	return b->data;
}

static void arena_release(struct arena *a)
{
	struct arena_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

/* Character classes for the scanners. */
enum {
	C_WS = 1,   /* JSON whitespace */
	C_STOP = 2, /* ends a run of plain string bytes */
	C_DIGIT = 4,
	C_WORD = 8, /* letters, digits, '_': for reporting bare words */
};

/* clang-format off */
#define S C_STOP
#define SW (C_STOP | C_WS)
#define D (C_DIGIT | C_WORD)
#define W C_WORD
static const unsigned char cls[256] = {
	/* 0x00 */ S, S, S, S, S, S, S, S, S, SW, SW, S, S, SW, S, S,
	/* 0x10 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0x20 */ C_WS, 0, S, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x30 */ D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0,
	/* 0x40 */ 0, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	/* 0x50 */ W, W, W, W, W, W, W, W, W, W, W, 0, S, 0, 0, W,
	/* 0x60 */ 0, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	/* 0x70 */ W, W, W, W, W, W, W, W, W, W, W, 0, 0, 0, 0, 0,
	/* 0x80 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0x90 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0xa0 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0xb0 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0xc0 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0xd0 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0xe0 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
	/* 0xf0 */ S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
};
#undef S
#undef SW
#undef D
#undef W
/* clang-format on */

#define IS_WS(c) (cls[(unsigned char)(c)] & C_WS)
#define IS_DIGIT(c) (cls[(unsigned char)(c)] & C_DIGIT)
#define IS_WORD(c) (cls[(unsigned char)(c)] & C_WORD)
#define IS_HEX(c) (IS_DIGIT(c) || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f'))

/* Objects with more keys than this check duplicates with a hash set. */
#define LINEAR_KEYS 16

/*
 * Process-wide state set up once: the C locale for strtod_l (cspf never
 * changes LC_NUMERIC, but a program embedding libcspf might) and the
 * random key of the duplicate-key hash, so that nobody can prepare a
 * document whose keys all collide.
 */
static pthread_once_t globals_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static uint64_t hash_seed[2];

static void globals_init(void)
{
	if (getrandom(hash_seed, sizeof(hash_seed), GRND_NONBLOCK) !=
		(ssize_t)sizeof(hash_seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		hash_seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
			       (uint64_t)(uintptr_t)&ts;
		hash_seed[1] = (uint64_t)ts.tv_sec ^
			       (uint64_t)(uintptr_t)&globals_once;
	}
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/*
 * Parser state.  `p` is the current position; functions that consume
 * input advance it.
 */
struct parser {
	const unsigned char *text; /* whole buffer, BOM included */
	const unsigned char *end;  /* text + len; *end == '\0' */
	const unsigned char *p;
	const unsigned char *open; /* innermost unclosed '[' or '{' */
	const char *name;
	unsigned int max_depth;
	int code;      /* the error raised, when a function returned NULL */
	size_t slen;   /* byte length of the string just parsed */
	char *scratch; /* decoding buffer for strings with escapes */
	size_t scratch_cap;
	struct arena arena; /* where the tree is built */
};

/* ------------------------------------------------------------------ */
/* UTF-8                                                              */

/*
 * Length of the well-formed UTF-8 sequence at `p` (lead byte >= 0x80),
 * or 0.  Follows Unicode table 3-7: no overlong forms, no surrogates,
 * nothing above U+10FFFF.  Never reads past a NUL byte, so the sentinel
 * keeps it inside the buffer.
 */
static inline size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;

	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		if (p[1] < lo || p[1] > hi)
			return 0;
		return (p[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c < 0xF5) {
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (p[1] < lo || p[1] > hi)
			return 0;
		if ((p[2] & 0xC0) != 0x80)
			return 0;
		return (p[3] & 0xC0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static size_t utf8_put(unsigned char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Four hex digits at `p`, or -1.  Stops at the first non-hex byte. */
static inline int32_t hex4(const unsigned char *p)
{
	int32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* Positions                                                          */

void cspf_json_offset_position(unsigned int *line, unsigned int *column,
	const char *text, size_t len, size_t offset)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned int l = 1, c = 1;
	size_t i = 0;

	if (!s)
		offset = 0;
	if (offset > len)
		offset = len;
	/* A byte order mark is not a character anyone sees. */
	if (offset >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		i = 3;
	for (; i < offset; i++) {
		unsigned char ch = s[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if (ch == '\r') {
			/* CR LF is one line break, a lone CR is one too. */
			if (i + 1 >= len || s[i + 1] != '\n') {
				l++;
				c = 1;
			}
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	if (line)
		*line = l;
	if (column)
		*column = c;
}

static void pos_of(const struct parser *ps, const unsigned char *at,
	unsigned int *line, unsigned int *column)
{
	cspf_json_offset_position(line, column, (const char *)ps->text,
		(size_t)(ps->end - ps->text), (size_t)(at - ps->text));
}

/* ------------------------------------------------------------------ */
/* Scanning text already known to be valid JSON (for positions)       */

static const unsigned char *scan_ws(
	const unsigned char *p, const unsigned char *end)
{
	while (p < end && IS_WS(*p))
		p++;
	return p;
}

/* `p` at the opening quote; returns just past the closing one. */
static const unsigned char *scan_string(
	const unsigned char *p, const unsigned char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < end ? p + 1 : end;
}

/* Skip one value, without recursion. */
static const unsigned char *scan_value(
	const unsigned char *p, const unsigned char *end)
{
	size_t depth = 0;

	if (p >= end)
		return end;
	if (*p == '"')
		return scan_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !IS_WS(*p) && *p != ',' && *p != ']' &&
			*p != '}')
			p++;
		return p;
	}
	while (p < end) {
		switch (*p) {
		case '"':
			p = scan_string(p, end);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		default:
			break;
		}
		p++;
	}
	return end;
}

/*
 * Does the string at `p` (opening quote), once its escapes are decoded,
 * equal the `klen` bytes at `key`?
 */
static bool scan_key_equals(const unsigned char *p, const unsigned char *end,
	const char *key, size_t klen)
{
	const unsigned char *k = (const unsigned char *)key;
	size_t i = 0;

	for (p++; p < end && *p != '"';) {
		unsigned char tmp[4];
		size_t n = 1;
		int32_t cp, lo;

		if (*p != '\\') {
			tmp[0] = *p++;
		} else if (p + 1 >= end) {
			return false;
		} else if (p[1] != 'u') {
			switch (p[1]) {
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'n':
				tmp[0] = '\n';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			default:
				tmp[0] = p[1];
				break;
			}
			p += 2;
		} else {
			if (end - p < 6 || (cp = hex4(p + 2)) < 0)
				return false;
			p += 6;
			if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 &&
				p[0] == '\\' && p[1] == 'u' &&
				(lo = hex4(p + 2)) >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				p += 6;
			}
			n = utf8_put(tmp, (uint32_t)cp);
		}
		if (n > klen - i || memcmp(k + i, tmp, n) != 0)
			return false;
		i += n;
	}
	return i == klen;
}

/*
 * In the object whose '{' is at `p`, find the member named by the `klen`
 * bytes at `key`.  Returns its key's opening quote and sets *value to the
 * value's first byte, or returns NULL.
 */
static const unsigned char *scan_member(const unsigned char *p,
	const unsigned char *end, const char *key, size_t klen,
	const unsigned char **value)
{
	p = scan_ws(p + 1, end);
	while (p < end && *p == '"') {
		const unsigned char *k = p;
		bool eq = scan_key_equals(k, end, key, klen);

		p = scan_ws(scan_string(k, end), end);
		if (p < end && *p == ':')
			p++;
		p = scan_ws(p, end);
		if (eq) {
			*value = p;
			return k;
		}
		p = scan_ws(scan_value(p, end), end);
		if (p >= end || *p != ',')
			break;
		p = scan_ws(p + 1, end);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Errors                                                             */

static void COLD fail_at(struct parser *ps, int code, const unsigned char *at,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail_at(struct parser *ps, int code, const unsigned char *at,
	const char *fmt, ...)
{
	char msg[768];
	unsigned int line, column;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pos_of(ps, at, &line, &column);
	ps->code = code;
	cspf_error_set_at(code, CSPF_ERRCLASS_JSON, ps->name, line, column,
		NULL, "%s", msg);
}

static void COLD fail_oom(struct parser *ps)
{
	ps->code = cspf_error_set_oom();
}

/*
 * Quote up to `max` bytes of `s` for a message: printable, escaped as in
 * JSON, cut on a character boundary with "..." when longer.
 */
static void quote_bytes(
	char *out, size_t outsz, const unsigned char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, o = 0;

	if (outsz < 16) {
		if (outsz)
			out[0] = '\0';
		return;
	}
	/* Room for the longest escape (6), "..." and the NUL. */
	while (i < len && i < max && o + 10 <= outsz) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\' || c == '\n' || c == '\t' ||
			c == '\r' || c == '\b' || c == '\f') {
			out[o++] = '\\';
			out[o++] = c == '\n'   ? 'n'
				   : c == '\t' ? 't'
				   : c == '\r' ? 'r'
				   : c == '\b' ? 'b'
				   : c == '\f' ? 'f'
					       : (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else if (c >= 0x80) {
			size_t n = utf8_len(s + i);

			if (!n || n > len - i || o + n + 4 > outsz) {
				if (n)
					break;
				out[o++] = '?';
			} else {
				memcpy(out + o, s + i, n);
				o += n;
				i += n;
				continue;
			}
		} else {
			out[o++] = (char)c;
		}
		i++;
	}
	if (i < len) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = '\0';
}

/* Describe what sits at `p` for "found ..." in a message. */
static void describe(char *out, size_t outsz, const struct parser *ps,
	const unsigned char *p)
{
	char q[96];
	size_t n;

	if (p >= ps->end) {
		snprintf(out, outsz, "the end of the file");
	} else if (*p == 0) {
		snprintf(out, outsz, "NUL byte");
	} else if (*p < 0x20 || *p == 0x7f) {
		snprintf(out, outsz, "control character U+%04X", *p);
	} else if (IS_WORD(*p)) {
		for (n = 1; IS_WORD(p[n]) && n < 32; n++)
			;
		quote_bytes(q, sizeof(q), p, n + (IS_WORD(p[n]) ? 1 : 0), n);
		snprintf(out, outsz, "'%s'", q);
	} else if (*p < 0x80) {
		snprintf(out, outsz, "'%c'", *p);
	} else if (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		snprintf(out, outsz, "byte order mark (U+FEFF)");
	} else if ((n = utf8_len(p)) != 0) {
		quote_bytes(q, sizeof(q), p, n, n);
		snprintf(out, outsz, "'%s'", q);
	} else {
		snprintf(out, outsz, "byte 0x%02X", *p);
	}
}

/* Invalid UTF-8 at `p`: say exactly what is wrong with it. */
static void COLD fail_utf8(struct parser *ps, const unsigned char *p)
{
	static const char tail[] = "; the document must be valid UTF-8";
	unsigned char c = p[0];
	unsigned int need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

	if (c >= 0x80 && c < 0xC0) {
		fail_at(ps, CSPF_EINVALID, p,
			"invalid UTF-8: unexpected continuation byte 0x%02X%s",
			c, tail);
	} else if (c == 0xC0 || c == 0xC1 ||
		   (c == 0xE0 && p[1] >= 0x80 && p[1] < 0xA0) ||
		   (c == 0xF0 && p[1] >= 0x80 && p[1] < 0x90)) {
		fail_at(ps, CSPF_EINVALID, p,
			"invalid UTF-8: overlong encoding (bytes 0x%02X "
			"0x%02X)%s",
			c, p[1], tail);
	} else if (c == 0xED && p[1] >= 0xA0 && p[1] <= 0xBF) {
		fail_at(ps, CSPF_EINVALID, p,
			"invalid UTF-8: encoded surrogate U+%04X (surrogates "
			"are not characters)%s",
			0xD000u | ((p[1] & 0x3Fu) << 6) |
				((p[2] & 0xC0) == 0x80 ? (p[2] & 0x3Fu) : 0),
			tail);
	} else if ((c >= 0xF5 && c <= 0xF7) ||
		   (c == 0xF4 && p[1] >= 0x90 && p[1] <= 0xBF)) {
		fail_at(ps, CSPF_EINVALID, p,
			"invalid UTF-8: code point beyond U+10FFFF%s", tail);
	} else if (c >= 0xF8) {
		fail_at(ps, CSPF_EINVALID, p,
			"invalid UTF-8: byte 0x%02X never occurs in UTF-8%s", c,
			tail);
	} else {
		fail_at(ps, CSPF_EINVALID, p,
			"invalid UTF-8: truncated sequence (lead byte 0x%02X "
			"starts a %u-byte sequence)%s",
			c, need, tail);
	}
}

/* " (the array opened at line L column C is not closed)" or "". */
static void open_context(char *out, size_t outsz, const struct parser *ps)
{
	unsigned int line, column;

	out[0] = '\0';
	if (!ps->open)
		return;
	pos_of(ps, ps->open, &line, &column);
	snprintf(out, outsz,
		"; the %s opened at line %u column %u is not "
		"closed",
		*ps->open == '[' ? "array" : "object", line, column);
}

/* Is the word `w` at `p` (and not a longer word)? */
static bool has_word(
	const struct parser *ps, const unsigned char *p, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(ps->end - p) >= n && !memcmp(p, w, n) && !IS_WORD(p[n]);
}

/* Something other than a value where a value must start. */
static void COLD fail_value(struct parser *ps, const unsigned char *p)
{
	char what[128], ctx[128];
	size_t n;

	if (p >= ps->end) {
		open_context(ctx, sizeof(ctx), ps);
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected end of file, expected a value%s", ctx);
		return;
	}
	if (*p >= 0x80 && !utf8_len(p)) {
		fail_utf8(ps, p);
		return;
	}
	describe(what, sizeof(what), ps, p);
	for (n = 0; IS_WORD(p[n]); n++)
		;
	if ((n == 3 && !memcmp(p, "NaN", 3)) ||
		(n == 8 && !memcmp(p, "Infinity", 8)) ||
		(*p == '-' && has_word(ps, p + 1, "Infinity")) ||
		(*p == '-' && has_word(ps, p + 1, "NaN"))) {
		fail_at(ps, CSPF_EINVALID, p,
			"NaN and Infinity are not JSON numbers; use null or a "
			"string instead");
	} else if (n == 4 && (!strncasecmp((const char *)p, "true", 4) ||
				     !strncasecmp((const char *)p, "null", 4) ||
				     !memcmp(p, "None", 4))) {
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected %s: JSON literals are lowercase true, "
			"false "
			"and null",
			what);
	} else if (n == 5 && !strncasecmp((const char *)p, "false", 5)) {
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected %s: JSON literals are lowercase true, "
			"false "
			"and null",
			what);
	} else if (n) {
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected %s, expected a value; strings must be in "
			"double quotes",
			what);
	} else if (*p == '\'') {
		fail_at(ps, CSPF_EINVALID, p,
			"strings must be in double quotes, not single quotes");
	} else if (*p == '/' || *p == '#') {
		fail_at(ps, CSPF_EINVALID, p,
			"comments are not allowed in JSON");
	} else if (*p == '+') {
		fail_at(ps, CSPF_EINVALID, p,
			"a number cannot start with '+'; remove it");
	} else if (*p == '.') {
		fail_at(ps, CSPF_EINVALID, p,
			"a number cannot start with '.'; put a 0 before it");
	} else {
		fail_at(ps, CSPF_EINVALID, p, "unexpected %s, expected a value",
			what);
	}
}

/*
 * Expected `expect` `after` something, found what is at `p`.  `closes`:
 * whether `expect` would close the innermost container (for the message
 * at the end of the file).
 */
static void COLD fail_expect(struct parser *ps, const unsigned char *p,
	const char *expect, const char *after, bool closes)
{
	char what[128], ctx[128];
	unsigned int line, column;

	if (p >= ps->end && closes && ps->open) {
		pos_of(ps, ps->open, &line, &column);
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected end of file, expected %s to close the %s "
			"opened at line %u column %u",
			expect, *ps->open == '[' ? "array" : "object", line,
			column);
		return;
	}
	if (p >= ps->end) {
		open_context(ctx, sizeof(ctx), ps);
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected end of file, expected %s %s%s", expect,
			after, ctx);
		return;
	}
	if (*p >= 0x80 && !utf8_len(p)) {
		fail_utf8(ps, p);
		return;
	}
	describe(what, sizeof(what), ps, p);
	if (*p == '/' || *p == '#')
		fail_at(ps, CSPF_EINVALID, p,
			"comments are not allowed in JSON");
	else
		fail_at(ps, CSPF_EINVALID, p, "expected %s %s, found %s",
			expect, after, what);
}

/* A string ended at `p` on a byte below 0x20 (or the end of the file). */
static void COLD fail_string_ctl(
	struct parser *ps, const unsigned char *open, const unsigned char *p)
{
	static const char *const names[32] = {
		"\\u0000",
		"\\u0001",
		"\\u0002",
		"\\u0003",
		"\\u0004",
		"\\u0005",
		"\\u0006",
		"\\u0007",
		"\\b",
		"\\t",
		"\\n",
		"\\u000b",
		"\\f",
		"\\r",
		"\\u000e",
		"\\u000f",
		"\\u0010",
		"\\u0011",
		"\\u0012",
		"\\u0013",
		"\\u0014",
		"\\u0015",
		"\\u0016",
		"\\u0017",
		"\\u0018",
		"\\u0019",
		"\\u001a",
		"\\u001b",
		"\\u001c",
		"\\u001d",
		"\\u001e",
		"\\u001f",
	};
	unsigned int line, column;

	if (p >= ps->end) {
		pos_of(ps, open, &line, &column);
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected end of file inside the string that starts "
			"at line %u column %u; close it with '\"'",
			line, column);
	} else if (*p == 0) {
		fail_at(ps, CSPF_EINVALID, p,
			"raw NUL byte in a string; write it as \\u0000");
	} else if (*p == '\n' || *p == '\r') {
		fail_at(ps, CSPF_EINVALID, p,
			"line break inside a string: is a closing '\"' "
			"missing? "
			"(to put a line break in a string, write it as %s)",
			names[*p]);
	} else {
		fail_at(ps, CSPF_EINVALID, p,
			"raw control character U+%04X in a string; write it as "
			"%s",
			*p, names[*p]);
	}
}

/* A bad escape at `p` (the backslash) in the string opened at `open`. */
static void COLD fail_escape(
	struct parser *ps, const unsigned char *open, const unsigned char *p)
{
	char what[128];

	if (p + 1 >= ps->end) {
		fail_string_ctl(ps, open, ps->end);
		return;
	}
	if (p[1] == 'u') {
		const unsigned char *q = p + 2;

		while (q < p + 6 && IS_HEX(*q))
			q++;
		if (q >= ps->end) {
			fail_string_ctl(ps, open, ps->end);
			return;
		}
		fail_at(ps, CSPF_EINVALID, p,
			"invalid escape: \\u must be followed by four "
			"hexadecimal digits");
		return;
	}
	if (p[1] >= 0x80 && !utf8_len(p + 1)) {
		fail_utf8(ps, p + 1);
		return;
	}
	describe(what, sizeof(what), ps, p + 1);
	if (IS_WORD(p[1]))
		snprintf(what, sizeof(what), "'%c'", p[1]);
	fail_at(ps, CSPF_EINVALID, p,
		"invalid escape: backslash followed by %s; the valid escapes "
		"are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX (write a "
		"backslash as \\\\)",
		what);
}

/* ------------------------------------------------------------------ */
/* Parser                                                             */

static inline const unsigned char *skip_ws(const unsigned char *p)
{
	while (IS_WS(*p))
		p++;
	return p;
}

static inline cJSON *new_item(struct parser *ps, int type)
{
	cJSON *item = arena_alloc(&ps->arena, sizeof(*item));

	if (!item) {
		fail_oom(ps);
		return NULL;
	}
	memset(item, 0, sizeof(*item));
	item->type = type;
	return item;
}

static int scratch_grow(struct parser *ps, size_t need)
{
	size_t cap = ps->scratch_cap ? ps->scratch_cap : 256;
	char *n;

	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	n = realloc(ps->scratch, cap);
	if (!n) {
		fail_oom(ps);
		return -1;
	}
	ps->scratch = n;
	ps->scratch_cap = cap;
	return 0;
}

/*
 * Decode the escape at `p` (its backslash) into `out` (4 bytes), setting
 * *n to the bytes written.  Returns the position after the escape, or
 * NULL when it is invalid (error raised).
 */
static const unsigned char *parse_escape(struct parser *ps,
	const unsigned char *open, const unsigned char *p, int is_key,
	unsigned char *out, size_t *n)
{
	static const char simple[256] = {
		['"'] = '"',
		['\\'] = '\\',
		['/'] = '/',
		['b'] = '\b',
		['f'] = '\f',
		['n'] = '\n',
		['r'] = '\r',
		['t'] = '\t',
	};
	int32_t cp, lo;

	if (simple[p[1]]) {
		out[0] = (unsigned char)simple[p[1]];
		*n = 1;
		return p + 2;
	}
	if (p[1] != 'u' || (cp = hex4(p + 2)) < 0) {
		fail_escape(ps, open, p);
		return NULL;
	}
	if (cp >= 0xDC00 && cp <= 0xDFFF) {
		fail_at(ps, CSPF_EINVALID, p,
			"lone low surrogate \\u%04X: it must follow a high "
			"surrogate \\uD800-\\uDBFF",
			(unsigned int)cp);
		return NULL;
	}
	if (cp == 0 && is_key) {
		fail_at(ps, CSPF_EUNSUPPORTED, p,
			"object key contains \\u0000, which cspf does not "
			"support in keys; rename the key");
		return NULL;
	}
	if (cp < 0xD800 || cp > 0xDBFF) {
		*n = utf8_put(out, (uint32_t)cp);
		return p + 6;
	}
	/* A high surrogate: a low one must follow. */
	if (p[6] != '\\' || p[7] != 'u') {
		if (p + 6 >= ps->end || (p[6] == '\\' && p + 7 >= ps->end))
			fail_string_ctl(ps, open, ps->end);
		else
			fail_at(ps, CSPF_EINVALID, p,
				"lone high surrogate \\u%04X: it must be "
				"followed by a low surrogate \\uDC00-\\uDFFF",
				(unsigned int)cp);
		return NULL;
	}
	lo = hex4(p + 8);
	if (lo < 0) {
		fail_escape(ps, open, p + 6);
		return NULL;
	}
	if (lo < 0xDC00 || lo > 0xDFFF) {
		fail_at(ps, CSPF_EINVALID, p,
			"high surrogate \\u%04X is followed by \\u%04X, which "
			"is not a low surrogate \\uDC00-\\uDFFF",
			(unsigned int)cp, (unsigned int)lo);
		return NULL;
	}
	cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	*n = utf8_put(out, (uint32_t)cp);
	return p + 12;
}

/*
 * The rest of a string that contains escapes: `start` is its first byte,
 * `p` the first backslash; bytes before it are checked already.  Decodes
 * into the scratch buffer, then copies out.
 */
static char *parse_string_escaped(struct parser *ps, const unsigned char *start,
	const unsigned char *p, int is_key)
{
	const unsigned char *open = start - 1, *run;
	size_t n = (size_t)(p - start), k;
	char *out;

	/* Decoded text is never longer than its source. */
	if (n + 16 > ps->scratch_cap && scratch_grow(ps, n + 16) < 0)
		return NULL;
	memcpy(ps->scratch, start, n);
	for (;;) {
		if (*p == '\\') {
			/* an escape decodes to at most 4 bytes */
			if (n + 4 > ps->scratch_cap &&
				scratch_grow(ps, n + 4) < 0)
				return NULL;
			p = parse_escape(ps, open, p, is_key,
				(unsigned char *)ps->scratch + n, &k);
			if (!p)
				return NULL;
			n += k;
			continue;
		}
		if (*p == '"')
			break;
		if (*p < 0x20) {
			fail_string_ctl(ps, open, p);
			return NULL;
		}
		/* A run of plain bytes and valid UTF-8. */
		run = p;
		for (;;) {
			while (!(cls[*p] & C_STOP))
				p++;
			if (*p < 0x80)
				break;
			if ((k = utf8_len(p)) == 0) {
				fail_utf8(ps, p);
				return NULL;
			}
			p += k;
		}
		if (n + (size_t)(p - run) + 16 > ps->scratch_cap &&
			scratch_grow(ps, n + (size_t)(p - run) + 16) < 0)
			return NULL;
		memcpy(ps->scratch + n, run, (size_t)(p - run));
		n += (size_t)(p - run);
	}
	out = arena_alloc(&ps->arena, n + 1);
	if (!out) {
		fail_oom(ps);
		return NULL;
	}
	memcpy(out, ps->scratch, n);
	out[n] = '\0';
	ps->slen = n;
	ps->p = p + 1;
	return out;
}

/*
 * The string at ps->p (its opening quote).  Returns it decoded, from
 * cJSON_malloc, with its length in ps->slen; NULL on error.
 */
/*
 * Whether any of the 8 bytes at `p` may stop a plain run of string bytes:
 * a quote, a backslash, a control character or a byte >= 0x80.  False
 * positives only send the caller to the byte loop early.
 */
static inline int swar_stop(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t v, q, b;

	memcpy(&v, p, 8);
	q = v ^ (ones * '"');
	b = v ^ (ones * '\\');
	return ((v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
		       ((b - ones) & ~b)) & high) != 0;
}

static char *parse_string(struct parser *ps, int is_key)
{
	const unsigned char *start = ps->p + 1, *p = start;
	size_t n;
	char *out;

	for (;;) {
		/* Eight bytes at a time while no byte can end the run. */
		while (p + 8 <= ps->end && !swar_stop(p))
			p += 8;
		while (!(cls[*p] & C_STOP))
			p++;
		if (*p == '"')
			break;
		if (*p >= 0x80) {
			if ((n = utf8_len(p)) == 0) {
				fail_utf8(ps, p);
				return NULL;
			}
			p += n;
			continue;
		}
		if (*p == '\\')
			return parse_string_escaped(ps, start, p, is_key);
		fail_string_ctl(ps, start - 1, p);
		return NULL;
	}
	n = (size_t)(p - start);
	out = arena_alloc(&ps->arena, n + 1);
	if (!out) {
		fail_oom(ps);
		return NULL;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	ps->slen = n;
	ps->p = p + 1;
	return out;
}

static void COLD fail_number(struct parser *ps, const unsigned char *start,
	const unsigned char *p, const char *what)
{
	char q[96];

	if (*start == '-' && p == start + 1 &&
		(has_word(ps, p, "Infinity") || has_word(ps, p, "NaN"))) {
		fail_value(ps, start);
		return;
	}
	quote_bytes(q, sizeof(q), start, (size_t)(p - start), 40);
	if (p >= ps->end)
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected end of file in the number '%s': expected "
			"%s",
			q, what);
	else
		fail_at(ps, CSPF_EINVALID, p,
			"invalid number '%s': expected %s", q, what);
}

/* The number at ps->p ('-' or a digit). */
static cJSON *parse_number(struct parser *ps)
{
	const unsigned char *start = ps->p, *p = start;
	uint64_t u = 0;
	unsigned int ndig = 0;
	bool neg = false, exact = true;
	cJSON *item;
	double d;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (*p == '0') {
		p++;
		if (IS_DIGIT(*p)) {
			while (IS_DIGIT(*p))
				p++;
			fail_at(ps, CSPF_EINVALID, start,
				"numbers cannot have leading zeros: write "
				"'%.*s' "
				"without them, or quote it as a string",
				(int)(p - start) < 40 ? (int)(p - start) : 40,
				(const char *)start);
			return NULL;
		}
	} else if (IS_DIGIT(*p)) {
		do {
			u = u * 10 + (uint64_t)(*p++ - '0');
			ndig++;
		} while (IS_DIGIT(*p) && ndig < 19);
		while (IS_DIGIT(*p)) {
			ndig++;
			p++;
		}
	} else {
		fail_number(ps, start, p, "a digit after '-'");
		return NULL;
	}
	if (*p == '.') {
		p++;
		if (!IS_DIGIT(*p)) {
			fail_number(ps, start, p,
				"a digit after the decimal point");
			return NULL;
		}
		while (IS_DIGIT(*p))
			p++;
		exact = false;
	}
	if ((*p | 0x20) == 'e') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!IS_DIGIT(*p)) {
			fail_number(ps, start, p, "a digit in the exponent");
			return NULL;
		}
		while (IS_DIGIT(*p))
			p++;
		exact = false;
	}
	if (ndig > 16 || u > ((uint64_t)1 << 53))
		exact = false;
	item = new_item(ps, cJSON_Number);
	if (!item)
		return NULL;
	if (exact) {
		d = neg ? -(double)u : (double)u;
	} else {
		size_t n = (size_t)(p - start);
		char *text = arena_alloc(&ps->arena, n + 1);

		if (!text) {
			fail_oom(ps);
			return NULL;
		}
		memcpy(text, start, n);
		text[n] = '\0';
		item->valuestring = text;
		/* The lexeme is valid JSON, so strtod reads all of it. */
		pthread_once(&globals_once, globals_init);
		if (c_locale)
			d = strtod_l(text, NULL, c_locale);
		else
			d = strtod(text, NULL);
	}
	item->valuedouble = d;
	if (d >= INT_MAX)
		item->valueint = INT_MAX;
	else if (d <= (double)INT_MIN)
		item->valueint = INT_MIN;
	else
		item->valueint = (int)d;
	ps->p = p;
	return item;
}

/*
 * Open-addressing set of the keys of one large object: key pointers and,
 * beside them, the low 32 bits of each key's hash (which also place it).
 * One allocation; 64 slots take 768 bytes.
 */
struct keyset {
	size_t mask;
	size_t count;
	const char **key;
	uint32_t *tag;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

/* SipHash-1-3 under the process's random key. */
static uint64_t key_hash(const char *key, size_t len)
{
	const unsigned char *in = (const unsigned char *)key;
	uint64_t v0 = 0x736f6d6570736575ULL ^ hash_seed[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ hash_seed[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ hash_seed[0];
	uint64_t v3 = 0x7465646279746573ULL ^ hash_seed[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7;
	const unsigned char *stop = in + (len - left);

	for (; in != stop; in += 8) {
		memcpy(&m, in, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void keyset_free(struct keyset *ks)
{
	if (ks) {
		free(ks->key);
		free(ks);
	}
}

static void keyset_place(struct keyset *ks, const char *key, uint32_t tag)
{
	size_t j;

	for (j = tag & ks->mask; ks->key[j]; j = (j + 1) & ks->mask)
		;
	ks->key[j] = key;
	ks->tag[j] = tag;
}

static int keyset_resize(struct keyset *ks, size_t nslots)
{
	const char **okey = ks->key;
	uint32_t *otag = ks->tag;
	size_t i, oldn = okey ? ks->mask + 1 : 0;
	void *mem;

	if (nslots > SIZE_MAX / (sizeof(char *) + sizeof(uint32_t)))
		return -1;
	mem = calloc(nslots, sizeof(char *) + sizeof(uint32_t));
	if (!mem)
		return -1;
	ks->key = mem;
	ks->tag = (uint32_t *)(ks->key + nslots);
	ks->mask = nslots - 1;
	for (i = 0; i < oldn; i++)
		if (okey[i])
			keyset_place(ks, okey[i], otag[i]);
	free(okey);
	return 0;
}

/* 1 when `key` is in the set, else adds it and returns 0; -1 on OOM. */
static int keyset_add(struct keyset *ks, const char *key, size_t len)
{
	uint32_t tag = (uint32_t)key_hash(key, len);
	size_t j;

	if ((ks->count + 1) * 2 > ks->mask + 1 &&
		keyset_resize(ks, (ks->mask + 1) * 2) < 0)
		return -1;
	for (j = tag & ks->mask; ks->key[j]; j = (j + 1) & ks->mask)
		if (ks->tag[j] == tag && !strcmp(ks->key[j], key))
			return 1;
	ks->key[j] = key;
	ks->tag[j] = tag;
	ks->count++;
	return 0;
}

static struct keyset *keyset_new(const cJSON *first)
{
	struct keyset *ks = calloc(1, sizeof(*ks));

	if (!ks || keyset_resize(ks, 4 * LINEAR_KEYS) < 0) {
		free(ks);
		return NULL;
	}
	for (; first; first = first->next)
		keyset_add(ks, first->string, strlen(first->string));
	return ks;
}

/*
 * A bit of a 64-bit mask standing for a key, so that most new keys of a
 * small object need no comparison at all.
 */
static inline uint64_t key_bit(const char *key, size_t len)
{
	const unsigned char *k = (const unsigned char *)key;
	unsigned int h = len ? k[0] * 31u + k[len - 1] * 7u + (unsigned)len : 0;

	return (uint64_t)1 << (h & 63);
}

static void COLD fail_duplicate(struct parser *ps, const unsigned char *open,
	const unsigned char *keyp, const char *key, size_t klen)
{
	const unsigned char *first, *value;
	unsigned int line = 0, column = 0;
	char q[128];

	first = scan_member(open, keyp, key, klen, &value);
	if (first)
		pos_of(ps, first, &line, &column);
	quote_bytes(q, sizeof(q), (const unsigned char *)key, klen, 64);
	fail_at(ps, CSPF_EINVALID, keyp,
		"duplicate key \"%s\" (first at line %u column %u); the keys "
		"of an object must be unique",
		q, line, column);
}

static void COLD fail_key(struct parser *ps, const unsigned char *p)
{
	char what[128], ctx[128];

	if (p >= ps->end) {
		open_context(ctx, sizeof(ctx), ps);
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected end of file, expected a key%s", ctx);
	} else if (*p >= 0x80 && !utf8_len(p)) {
		fail_utf8(ps, p);
	} else if (*p == '\'') {
		fail_at(ps, CSPF_EINVALID, p,
			"object keys must be in double quotes, not single "
			"quotes");
	} else if (*p == '/' || *p == '#') {
		fail_at(ps, CSPF_EINVALID, p,
			"comments are not allowed in JSON");
	} else {
		describe(what, sizeof(what), ps, p);
		fail_at(ps, CSPF_EINVALID, p,
			"expected an object key in double quotes, found %s",
			what);
	}
}

static void COLD fail_colon(
	struct parser *ps, const unsigned char *p, const char *key, size_t klen)
{
	char q[128], after[160];

	quote_bytes(q, sizeof(q), (const unsigned char *)key, klen, 64);
	snprintf(after, sizeof(after), "after the key \"%s\"", q);
	fail_expect(ps, p, "':'", after, false);
}

static void COLD fail_depth(struct parser *ps, const unsigned char *p)
{
	fail_at(ps, CSPF_ETOOBIG, p, "nesting deeper than %u levels",
		ps->max_depth);
}

static void COLD fail_trailing_comma(
	struct parser *ps, const unsigned char *comma, char close)
{
	fail_at(ps, CSPF_EINVALID, comma,
		"trailing comma before '%c'; remove it", close);
}

static cJSON *parse_value(struct parser *ps, unsigned int depth);

static cJSON *parse_array(struct parser *ps, unsigned int depth)
{
	const unsigned char *open = ps->p, *outer = ps->open, *p;
	cJSON *arr, *last = NULL, *item;

	if (depth > ps->max_depth) {
		fail_depth(ps, open);
		return NULL;
	}
	arr = new_item(ps, cJSON_Array);
	if (!arr)
		return NULL;
	ps->open = open;
	p = skip_ws(open + 1);
	if (*p != ']') {
		for (;;) {
			ps->p = p;
			item = parse_value(ps, depth);
			if (!item)
				goto fail;
			if (last) {
				last->next = item;
				item->prev = last;
			} else {
				arr->child = item;
			}
			last = item;
			p = skip_ws(ps->p);
			if (*p == ',') {
				const unsigned char *comma = p;

				p = skip_ws(p + 1);
				if (*p == ']') {
					fail_trailing_comma(ps, comma, ']');
					goto fail;
				}
				continue;
			}
			if (*p == ']')
				break;
			fail_expect(ps, p, "',' or ']'", "after an array item",
				true);
			goto fail;
		}
		arr->child->prev = last;
	}
	ps->p = p + 1;
	ps->open = outer;
	return arr;
fail:
	return NULL;
}

static cJSON *parse_object(struct parser *ps, unsigned int depth)
{
	const unsigned char *open = ps->p, *outer = ps->open, *p, *keyp;
	cJSON *obj, *last = NULL, *item, *c;
	struct keyset *ks = NULL;
	uint64_t seen = 0; /* key_bit()s of the keys so far */
	size_t count = 0, klen;
	char *key;
	int r;

	if (depth > ps->max_depth) {
		fail_depth(ps, open);
		return NULL;
	}
	obj = new_item(ps, cJSON_Object);
	if (!obj)
		return NULL;
	ps->open = open;
	p = skip_ws(open + 1);
	if (*p != '}') {
		for (;;) {
			if (*p != '"') {
				fail_key(ps, p);
				goto fail;
			}
			keyp = p;
			ps->p = p;
			key = parse_string(ps, 1);
			if (!key)
				goto fail;
			klen = ps->slen;
			if (count < LINEAR_KEYS) {
				uint64_t bit = key_bit(key, klen);

				c = NULL;
				if (seen & bit)
					for (c = obj->child; c; c = c->next)
						if (c->string[0] == key[0] &&
							!strcmp(c->string, key))
							break;
				seen |= bit;
				r = c != NULL;
			} else {
				if (!ks) {
					pthread_once(
						&globals_once, globals_init);
					ks = keyset_new(obj->child);
				}
				r = ks ? keyset_add(ks, key, klen) : -1;
			}
			if (r) {
				if (r < 0)
					fail_oom(ps);
				else
					fail_duplicate(
						ps, open, keyp, key, klen);
				goto fail;
			}
			p = skip_ws(ps->p);
			if (*p != ':') {
				fail_colon(ps, p, key, klen);
				goto fail;
			}
			ps->p = skip_ws(p + 1);
			item = parse_value(ps, depth);
			if (!item) {
				goto fail;
			}
			item->string = key;
			if (last) {
				last->next = item;
				item->prev = last;
			} else {
				obj->child = item;
			}
			last = item;
			count++;
			p = skip_ws(ps->p);
			if (*p == ',') {
				const unsigned char *comma = p;

				p = skip_ws(p + 1);
				if (*p == '}') {
					fail_trailing_comma(ps, comma, '}');
					goto fail;
				}
				continue;
			}
			if (*p == '}')
				break;
			fail_expect(ps, p, "',' or '}'",
				"after an object member", true);
			goto fail;
		}
		obj->child->prev = last;
	}
	keyset_free(ks);
	ps->p = p + 1;
	ps->open = outer;
	return obj;
fail:
	keyset_free(ks);
	return NULL;
}

/* A literal true/false/null, not glued to more letters. */
static cJSON *parse_literal(
	struct parser *ps, const char *word, size_t n, int type)
{
	const unsigned char *p = ps->p;
	cJSON *item;

	if ((size_t)(ps->end - p) < n || memcmp(p, word, n) != 0 ||
		IS_WORD(p[n])) {
		fail_value(ps, p);
		return NULL;
	}
	item = new_item(ps, type);
	if (!item)
		return NULL;
	if (type == cJSON_True)
		item->valueint = 1;
	ps->p = p + n;
	return item;
}

/* The value at ps->p (not whitespace).  `depth`: containers open. */
static cJSON *parse_value(struct parser *ps, unsigned int depth)
{
	cJSON *item;
	char *s;

	switch (*ps->p) {
	case '"':
		item = new_item(ps, cJSON_String);
		if (!item)
			return NULL;
		s = parse_string(ps, 0);
		if (!s) {
			return NULL;
		}
		item->valuestring = s;
		item->valuedouble = (double)ps->slen;
		return item;
	case '{':
		return parse_object(ps, depth + 1);
	case '[':
		return parse_array(ps, depth + 1);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return parse_number(ps);
	case 't':
		return parse_literal(ps, "true", 4, cJSON_True);
	case 'f':
		return parse_literal(ps, "false", 5, cJSON_False);
	case 'n':
		return parse_literal(ps, "null", 4, cJSON_NULL);
	default:
		fail_value(ps, ps->p);
		return NULL;
	}
}

static void COLD fail_trailing(struct parser *ps, const unsigned char *p)
{
	char what[128];

	if (*p >= 0x80 && !utf8_len(p)) {
		fail_utf8(ps, p);
		return;
	}
	describe(what, sizeof(what), ps, p);
	if (*p == '/' || *p == '#')
		fail_at(ps, CSPF_EINVALID, p,
			"comments are not allowed in JSON");
	else
		fail_at(ps, CSPF_EINVALID, p,
			"unexpected %s after the end of the document; a JSON "
			"document holds exactly one value",
			what);
}

static void COLD fail_empty(struct parser *ps, const unsigned char *p)
{
	fail_at(ps, CSPF_EINVALID, p, "empty document: expected a JSON value");
}

static int check_opts(const cspf_json_options *opts, size_t *max_size,
	unsigned int *max_depth)
{
	*max_size = CSPF_JSON_DEFAULT_MAX_SIZE;
	*max_depth = CSPF_JSON_DEFAULT_MAX_DEPTH;
	if (!opts)
		return 0;
	if (opts->version != CSPF_JSON_OPTIONS_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_json_options version %u is not supported",
			opts->version);
	if (opts->max_size)
		*max_size = opts->max_size;
	if (opts->max_depth)
		*max_depth = opts->max_depth > CSPF_JSON_MAX_DEPTH_LIMIT
				     ? CSPF_JSON_MAX_DEPTH_LIMIT
				     : opts->max_depth;
	return 0;
}

static int COLD fail_size(const char *name, size_t len, size_t max)
{
	return cspf_error_set_at(CSPF_ETOOBIG, CSPF_ERRCLASS_JSON, name, 0, 0,
		NULL, "document is %zu bytes, over the limit of %zu bytes", len,
		max);
}

/*
 * Parse `buf` (len bytes, buf[len] == '\0', malloc'd) and wrap it in a
 * document, which then owns it.  Frees `buf` on failure.
 */
static int parse_buffer(cspf_json_doc **out, char *buf, size_t len,
	const char *name, unsigned int max_depth)
{
	struct parser ps;
	const unsigned char *p;
	cspf_json_doc *doc;
	cJSON *root;

	memset(&ps, 0, sizeof(ps));
	/* Nodes take about three times the text's bytes in typical files. */
	ps.arena.hint = len < SIZE_MAX / 4 - 256 ? len * 3 + 256 : len;
	ps.text = (const unsigned char *)buf;
	ps.end = ps.text + len;
	ps.name = name;
	ps.max_depth = max_depth;
	p = ps.text;
	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		p += 3;
	p = skip_ws(p);
	if (p == ps.end) {
		fail_empty(&ps, ps.text);
		goto fail;
	}
	if (p == ps.text && len >= 2 &&
		((p[0] == 0xFF && p[1] == 0xFE) ||
			(p[0] == 0xFE && p[1] == 0xFF))) {
		fail_at(&ps, CSPF_EINVALID, p,
			"the document is UTF-16 encoded; save it as UTF-8");
		goto fail;
	}
	ps.p = p;
	root = parse_value(&ps, 0);
	if (!root)
		goto fail;
	p = skip_ws(ps.p);
	if (p != ps.end) {
		fail_trailing(&ps, p);
		goto fail;
	}
	free(ps.scratch);
	/* The document and its name live in the arena too. */
	doc = arena_alloc(&ps.arena, sizeof(*doc));
	if (doc && name) {
		size_t n = strlen(name);
		if ((doc->name = arena_alloc(&ps.arena, n + 1)))
			memcpy(doc->name, name, n + 1);
	}
	if (!doc || (name && !doc->name)) {
		arena_release(&ps.arena);
		free(buf);
		return cspf_error_set_oom();
	}
	if (!name)
		doc->name = NULL;
	doc->root = root;
	doc->arena = ps.arena;
	doc->text = buf;
	doc->len = len;
	*out = doc;
	return 0;
fail:
	arena_release(&ps.arena);
	free(ps.scratch);
	free(buf);
	return ps.code ? ps.code : CSPF_ERROR;
}

int cspf_json_parse(cspf_json_doc **out, const char *buf, size_t len,
	const char *name, const cspf_json_options *opts)
{
	size_t max_size;
	unsigned int max_depth;
	char *copy;
	int r;

	if (!out || (!buf && len))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_json_parse: NULL argument");
	*out = NULL;
	if ((r = check_opts(opts, &max_size, &max_depth)) < 0)
		return r;
	if (len > max_size)
		return fail_size(name, len, max_size);
	copy = malloc(len + 1);
	if (!copy)
		return cspf_error_set_oom();
	if (len)
		memcpy(copy, buf, len);
	copy[len] = '\0';
	return parse_buffer(out, copy, len, name, max_depth);
}

int cspf_json_parse_owned(cspf_json_doc **out, char *buf, size_t len,
	const char *name, const cspf_json_options *opts)
{
	size_t max_size;
	unsigned int max_depth;
	int r;

	if (!out || !buf) {
		free(buf);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_json_parse_owned: NULL argument");
	}
	*out = NULL;
	if ((r = check_opts(opts, &max_size, &max_depth)) < 0) {
		free(buf);
		return r;
	}
	if (len > max_size) {
		free(buf);
		return fail_size(name, len, max_size);
	}
	buf[len] = '\0';
	return parse_buffer(out, buf, len, name, max_depth);
}

/*
 * Read all of `fd` into a malloc'd buffer with room for a NUL.  `hint` is
 * the expected size (st_size of a regular file).  Fails with ETOOBIG
 * beyond `max`.
 */
static int read_all(char **out, size_t *len_out, int fd, size_t hint,
	int exact, size_t max, const char *path)
{
	size_t cap = hint + 1, len = 0;
	char *buf, *nb;
	ssize_t got;

	if (cap < 2)
		cap = 4096;
	buf = malloc(cap + 1);
	if (!buf)
		return cspf_error_set_oom();
	for (;;) {
		if (len == cap) {
			if (len > max)
				break;
			cap = cap > max / 2 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return cspf_error_set_oom();
			}
			buf = nb;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return cspf_error_set_os("cannot read '%s'", path);
		}
		if (got == 0)
			break;
		len += (size_t)got;
		/*
		 * A regular file of the size fstat gave is read whole: the
		 * read that would only confirm the end costs a system call
		 * per file (a registry has 100,000 of them).
		 */
		if (exact && len == hint)
			break;
	}
	if (len > max) {
		free(buf);
		return cspf_error_set_at(CSPF_ETOOBIG, CSPF_ERRCLASS_JSON, path,
			0, 0, NULL, "'%s' is over the limit of %zu bytes", path,
			max);
	}
	*out = buf;
	*len_out = len;
	return 0;
}

int cspf_json_load_file(
	cspf_json_doc **out, const char *path, const cspf_json_options *opts)
{
	size_t max_size, len = 0, hint = 0;
	unsigned int max_depth;
	struct stat st;
	char *buf = NULL;
	int fd, r;

	if (!out || !path)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_json_load_file: NULL argument");
	*out = NULL;
	if ((r = check_opts(opts, &max_size, &max_depth)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cspf_error_set_os("cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		r = cspf_error_set_os("cannot stat '%s'", path);
		close(fd);
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return cspf_error_set_os("cannot read '%s'", path);
	}
	if (S_ISREG(st.st_mode)) {
		if ((uintmax_t)st.st_size > max_size) {
			close(fd);
			return cspf_error_set_at(CSPF_ETOOBIG,
				CSPF_ERRCLASS_JSON, path, 0, 0, NULL,
				"'%s' is %jd bytes, over the limit of %zu "
				"bytes",
				path, (intmax_t)st.st_size, max_size);
		}
		hint = (size_t)st.st_size;
	}
	r = read_all(&buf, &len, fd, hint, S_ISREG(st.st_mode) && hint > 0,
		max_size, path);
	close(fd);
	if (r < 0)
		return r;
	buf[len] = '\0';
	return parse_buffer(out, buf, len, path, max_depth);
}

void cspf_json_doc_free(cspf_json_doc *doc)
{
	struct arena a;

	if (!doc)
		return;
	a = doc->arena; /* the document lives in its own arena */
	free(doc->text);
	arena_release(&a);
}

const cJSON *cspf_json_doc_root(const cspf_json_doc *doc)
{
	return doc ? doc->root : NULL;
}

const char *cspf_json_doc_name(const cspf_json_doc *doc)
{
	return doc ? doc->name : NULL;
}

const char *cspf_json_doc_text(const cspf_json_doc *doc, size_t *len_out)
{
	if (len_out)
		*len_out = doc ? doc->len : 0;
	return doc ? doc->text : NULL;
}

size_t cspf_json_strlen(const cJSON *item)
{
	if (!item || !item->valuestring)
		return 0;
	if (item->valuedouble > 0)
		return (size_t)item->valuedouble;
	return strlen(item->valuestring);
}

const char *cspf_json_number_text(const cJSON *item)
{
	if (!item || !cJSON_IsNumber(item))
		return NULL;
	return item->valuestring;
}

/* ------------------------------------------------------------------ */
/* JSON pointers                                                      */

/*
 * Decode one reference token (from `tok` to `end`, no '/') into `out`
 * (at least end - tok bytes).  Returns the length, or -1 when a '~' is
 * not followed by '0' or '1'.
 */
static ptrdiff_t token_decode(char *out, const char *tok, const char *end)
{
	char *o = out;

	while (tok < end) {
		if (*tok != '~') {
			*o++ = *tok++;
			continue;
		}
		if (tok + 1 >= end || (tok[1] != '0' && tok[1] != '1'))
			return -1;
		*o++ = tok[1] == '0' ? '~' : '/';
		tok += 2;
	}
	return o - out;
}

/* An array index token: digits, no leading zero.  -1 when not one. */
static int token_index(size_t *out, const char *tok, size_t len)
{
	size_t v = 0, i;

	if (!len || len > 19 || (tok[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (!IS_DIGIT(tok[i]))
			return -1;
		v = v * 10 + (size_t)(tok[i] - '0');
	}
	*out = v;
	return 0;
}

/* Does the C string `s` equal the encoded token? -1: malformed token. */
static int token_equals(const char *s, const char *tok, const char *end)
{
	while (tok < end) {
		char c = *tok++;

		if (c == '~') {
			if (tok >= end || (*tok != '0' && *tok != '1'))
				return -1;
			c = *tok++ == '0' ? '~' : '/';
		}
		if (*s++ != c)
			return 0;
	}
	return *s == '\0';
}

const cJSON *cspf_json_pointer_get(const cJSON *root, const char *pointer)
{
	const cJSON *cur = root;
	const char *p = pointer;

	if (!root || !pointer || (*p && *p != '/'))
		return NULL;
	while (*p == '/') {
		const char *tok = ++p;
		size_t idx;

		while (*p && *p != '/')
			p++;
		if (cJSON_IsArray(cur)) {
			if (token_index(&idx, tok, (size_t)(p - tok)) < 0)
				return NULL;
			for (cur = cur->child; cur && idx; cur = cur->next)
				idx--;
		} else if (cJSON_IsObject(cur)) {
			const cJSON *c;
			int r = 0;

			for (c = cur->child; c; c = c->next) {
				if (!c->string)
					continue;
				r = token_equals(c->string, tok, p);
				if (r)
					break;
			}
			if (r < 0)
				return NULL;
			cur = c;
		} else {
			return NULL;
		}
		if (!cur)
			return NULL;
	}
	return cur;
}

int cspf_json_position(unsigned int *line, unsigned int *column,
	const cspf_json_doc *doc, const char *pointer, cspf_json_pos_kind kind)
{
	const unsigned char *text, *end, *val, *keyp = NULL, *q, *k;
	const char *p;
	char *tokbuf;
	int r = 0;

	if (line)
		*line = 0;
	if (column)
		*column = 0;
	if (!doc)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_json_position: NULL document");
	if (!pointer)
		pointer = "";
	text = (const unsigned char *)doc->text;
	end = text + doc->len;
	val = text;
	if (doc->len >= 3 && val[0] == 0xEF && val[1] == 0xBB && val[2] == 0xBF)
		val += 3;
	val = scan_ws(val, end);
	if (*pointer && *pointer != '/') {
		r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"'%s' is not a JSON pointer: it must be empty or start "
			"with '/'",
			pointer);
		goto done;
	}
	tokbuf = malloc(strlen(pointer) + 1);
	if (!tokbuf)
		return cspf_error_set_oom();
	for (p = pointer; *p == '/';) {
		const char *tok = ++p;
		ptrdiff_t tlen;
		size_t idx;

		while (*p && *p != '/')
			p++;
		keyp = NULL;
		if (val < end && *val == '{') {
			tlen = token_decode(tokbuf, tok, p);
			if (tlen < 0) {
				r = CSPF_EINVALID;
				break;
			}
			k = scan_member(val, end, tokbuf, (size_t)tlen, &q);
			if (!k) {
				r = CSPF_ENOTFOUND;
				break;
			}
			keyp = k;
			val = q;
		} else if (val < end && *val == '[') {
			if (token_index(&idx, tok, (size_t)(p - tok)) < 0) {
				r = CSPF_ENOTFOUND;
				break;
			}
			q = scan_ws(val + 1, end);
			if (q >= end || *q == ']') {
				r = CSPF_ENOTFOUND;
				break;
			}
			for (; idx && q < end; idx--) {
				q = scan_ws(scan_value(q, end), end);
				if (q >= end || *q != ',')
					break;
				q = scan_ws(q + 1, end);
			}
			if (idx || q >= end) {
				r = CSPF_ENOTFOUND;
				break;
			}
			val = q;
		} else {
			r = CSPF_ENOTFOUND;
			break;
		}
	}
	free(tokbuf);
	if (r == CSPF_EINVALID)
		r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"'%s' is not a valid JSON pointer: '~' must be "
			"followed by '0' or '1'",
			pointer);
	else if (r == CSPF_ENOTFOUND)
		r = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_JSON,
			"JSON pointer '%s' does not lead to a value in %s",
			pointer, doc->name ? doc->name : "the document");
done:
	cspf_json_offset_position(line, column, doc->text, doc->len,
		(size_t)((r == 0 && kind == CSPF_JSON_POS_KEY && keyp ? keyp
								      : val) -
			 text));
	return r;
}
