/*
 * src_cloudtrail.c - the "cloudtrail" event source: CloudTrail log files
 * as AWS delivers them to S3, in a directory tree (a synced bucket) or one
 * file.
 *
 * A log file is {"Records": [ {...}, ... ]}, gzip'd (told by its magic
 * bytes, not its name) or plain.  Files are read in sorted order, each
 * streamed: inflated 256 KiB at a time into a buffer that holds at most
 * one record besides what is being inflated, and scanned by a small JSON
 * tokenizer that walks the Records array record by record, unescapes
 * only the strings an event needs (into a reused arena) and skips the
 * rest.  Memory does not grow with events: a record larger than
 * CT_RECORD_MAX is skipped as a stream and reported.
 *
 * Skipped quietly: files that are not JSON objects, JSON objects without
 * "Records" (the digest files under CloudTrail-Digest/), names starting
 * with '.', symbolic links inside the tree (what they point at is read
 * where it lies), and files or YYYY/MM/DD directories whose delivery time
 * is more than a day outside the period.  A link that leads out of the
 * tree is not followed and gets a warning.
 *
 * Findings (rule "digest-source"): a damaged gzip stream, invalid JSON, a
 * record that is not an object or lacks eventTime, eventName or
 * eventSource, a record over the size cap.  The records read before the
 * damage are delivered; a file stops at its first damage, a bad record
 * only itself.  At most CT_DIAGS_MAX per file are listed, then a count.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "digest_private.h"
#include "cspf/time.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

#define CT_CHUNK ((size_t)256 * 1024)
#define CT_RECORD_MAX ((size_t)4 * 1024 * 1024)
#define CT_DEPTH_MAX 64      /* JSON nesting inside a file */
#define CT_DIR_DEPTH_MAX 32  /* directories under the root */
#define CT_DIAGS_MAX 20      /* findings listed per file */
#define CT_RULE "digest-source"
#define CT_REFETCH "fetch it again from the trail's S3 bucket"

/* What the scanner's functions return; negative is a hard stop. */
enum { CT_OK = 0, CT_NEED, CT_BAD };

/* A file's outcome. */
enum { CT_DONE = 0, CT_MORE };

/* Where the walk of a file's top level is. */
enum {
	ST_BEGIN = 0,   /* before the opening '{' */
	ST_FIRST_KEY,   /* after '{' */
	ST_KEY,         /* a member name is next */
	ST_VALUE,       /* a member's value (not Records) is next */
	ST_AFTER_MEMBER,
	ST_REC_FIRST,   /* after "Records": [ */
	ST_REC,         /* a record is next */
	ST_REC_AFTER,
	ST_OVERSIZE,    /* streaming past a value over the cap */
	ST_END,
};

/* The strings of a record an event needs. */
enum {
	F_TIME = 0, F_SOURCE, F_NAME, F_REGION, F_RECIPIENT, F_ID,
	F_U_TYPE, F_U_ARN, F_U_ACCOUNT, F_U_USER, F_U_PRINCIPAL, F_U_INVOKED,
	F_U_ONBEHALF, F_ISS_ARN,
	F_RES_ARN,
	/* requestParameters, in the order they are tried for the target */
	F_P_BUCKET, F_P_ROLE, F_P_USER, F_P_POLICY_ARN, F_P_ROLE_ARN,
	F_P_INSTANCE, F_P_GROUP, F_P_IMAGE, F_P_DB, F_P_SECRET,
	F_COUNT
};

struct ct {
	const cspf_source_query *q;
	cspf_source_stats *stats;
	cspf_diags *diags;
	cspf_event_cb cb;
	void *payload;
	int stop;              /* the callback's negative answer */

	const char *root;      /* as given */
	char *root_real;       /* realpath of the root (a directory) */
	cspf_buf full;         /* the current file's path */
	const char *name;      /* the current file's name in findings */

	/* The current file's bytes. */
	int fd;
	bool gz, z_live, raw_eof, eof;
	struct inflater *inflater; /* inflating on a thread, or NULL */
	bool threads;          /* more than one CPU: inflate on a thread */
	z_stream z;
	unsigned char *in;     /* CT_CHUNK of compressed input */
	char damage[192];      /* what is wrong with the stream, or "" */

	/* Decompressed bytes not yet consumed: buf[pos, len). */
	char *buf;
	size_t cap, pos, len, want;
	unsigned long lines;   /* newlines before buf[0] */
	unsigned long col;     /* characters since the last of them */

	/* The walk of the file. */
	int state, ov_ret;
	bool saw_records, ov_record;
	unsigned long ov_depth;
	bool ov_str, ov_esc;
	size_t index;          /* the record being read */
	size_t file_diags, file_unlisted;
	const char *err;       /* what the scanner found wrong */
	size_t err_at;         /* where, in buf */

	/* The record being read: strings in the arena, by offset. */
	char *ar;
	size_t ar_len, ar_cap;
	size_t off[F_COUNT];
	int read_only;         /* -1: the record does not say */
	bool error_code;
};

typedef int (*ct_member_fn)(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth);
typedef int (*ct_element_fn)(struct ct *c, size_t i, const char **pp,
	const char *end, int depth);

static int skip_value(struct ct *c, const char **pp, const char *end,
	int depth);

/* ------------------------------------------------------------ findings */

/*
 * Line and column (1-based, in characters) of buf[at]: the newlines and
 * characters before buf[0] were counted when they were let go.
 */
static size_t chars(const char *p, size_t n)
{
	const uint64_t highs = 0x8080808080808080ULL;
	size_t cont = 0, i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		if (!(w & highs))
			continue; /* ASCII: the common case */
		w = w & ~(w << 1) & highs; /* 10xxxxxx: continuation */
		while (w) {
			cont++;
			w &= w - 1;
		}
	}
	for (; i < n; i++)
		cont += ((unsigned char)p[i] & 0xC0) == 0x80;
	return n - cont;
}

/* Count the newlines and trailing characters of p[0, n) into *lines, *col. */
static void advance_position(unsigned long *lines, unsigned long *col,
	const char *p, size_t n)
{
	const char *last = n ? memrchr(p, '\n', n) : NULL, *q = p;

	if (!last) {
		*col += chars(p, n);
		return;
	}
	while ((q = memchr(q, '\n', (size_t)(last + 1 - q)))) {
		(*lines)++;
		q++;
	}
	*col = chars(last + 1, (size_t)(p + n - (last + 1)));
}

static void position(struct ct *c, size_t at, unsigned int *line,
	unsigned int *column)
{
	unsigned long l = c->lines, col = c->col;

	advance_position(&l, &col, c->buf, at < c->len ? at : c->len);
	*line = l + 1 > UINT_MAX ? UINT_MAX : (unsigned int)(l + 1);
	*column = col + 1 > UINT_MAX ? UINT_MAX : (unsigned int)(col + 1);
}

/*
 * One finding about the current file (at buf[at], or nowhere when at is
 * SIZE_MAX), under `pointer`.  Errors count as bad; past CT_DIAGS_MAX a
 * file's errors are only counted, and listed in one line at its end.
 * Returns 0, or -1 when out of memory.
 */
static int add_diag(struct ct *c, cspf_severity sev, size_t at,
	const char *pointer, const char *msg)
{
	cspf_diag *d;

	d = cspf_diags_add(c->diags, sev, CT_RULE, c->name, pointer, NULL,
		NULL, msg);
	if (!d)
		return cspf_error_set_oom();
	if (at != SIZE_MAX)
		position(c, at, &d->line, &d->column);
	return 0;
}

__attribute__((format(printf, 5, 6)))
static int finding(struct ct *c, cspf_severity sev, size_t at,
	const char *pointer, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (sev == CSPF_SEVERITY_ERROR) {
		c->stats->bad++;
		if (c->file_diags >= CT_DIAGS_MAX) {
			c->file_unlisted++;
			return 0;
		}
		c->file_diags++;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return add_diag(c, sev, at, pointer, msg);
}

static int record_finding(struct ct *c, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int record_finding(struct ct *c, size_t at, const char *fmt, ...)
{
	char ptr[40], msg[448];
	va_list ap;

	snprintf(ptr, sizeof(ptr), "/Records/%zu", c->index);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return finding(c, CSPF_SEVERITY_ERROR, at, ptr, "%s", msg);
}

/* ------------------------------------------------------------- scanner */

static int bad(struct ct *c, const char *p, const char *what)
{
	c->err = what;
	c->err_at = (size_t)(p - c->buf);
	return CT_BAD;
}

static inline const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' ||
		*p == '\t'))
		p++;
	return p;
}

static inline uint64_t has_zero(uint64_t v)
{
	return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
}

/*
 * At a '"': *pp past the closing quote; the inside is s[0, n), and *esc
 * says whether it holds a backslash.  Escapes are checked where a string
 * is unescaped, not here.
 */
static int scan_string(const char **pp, const char *end, const char **s,
	size_t *n, bool *esc)
{
	const uint64_t quotes = 0x2222222222222222ULL;
	const uint64_t slashes = 0x5c5c5c5c5c5c5c5cULL;
	const char *p = *pp + 1, *start = p;
	bool e = false;
	uint64_t w;

	for (;;) {
		while (end - p >= 8) {
			memcpy(&w, p, 8);
			if (has_zero(w ^ quotes) | has_zero(w ^ slashes))
				break;
			p += 8;
		}
		while (p < end && *p != '"' && *p != '\\')
			p++;
		if (p >= end)
			return CT_NEED;
		if (*p == '"')
			break;
		e = true;
		if (end - p < 2)
			return CT_NEED;
		p += 2;
	}
	*s = start;
	*n = (size_t)(p - start);
	*esc = e;
	*pp = p + 1;
	return CT_OK;
}

static int walk_object(struct ct *c, const char **pp, const char *end,
	int depth, ct_member_fn fn)
{
	const char *p = ws(*pp + 1, end), *k;
	size_t kn;
	bool esc;
	int r;

	if (p >= end)
		return CT_NEED;
	if (*p == '}') {
		*pp = p + 1;
		return CT_OK;
	}
	for (;;) {
		if (p >= end)
			return CT_NEED;
		if (*p != '"')
			return bad(c, p, "expected a member name in double "
					 "quotes");
		if ((r = scan_string(&p, end, &k, &kn, &esc)) != CT_OK)
			return r;
		if (esc)
			kn = 0; /* no name cspf reads is written escaped */
		p = ws(p, end);
		if (p >= end)
			return CT_NEED;
		if (*p != ':')
			return bad(c, p, "expected ':' after a member name");
		p = ws(p + 1, end);
		if (p >= end)
			return CT_NEED;
		if ((r = fn(c, k, kn, &p, end, depth)) != CT_OK)
			return r;
		p = ws(p, end);
		if (p >= end)
			return CT_NEED;
		if (*p == '}') {
			*pp = p + 1;
			return CT_OK;
		}
		if (*p != ',')
			return bad(c, p, "expected ',' or '}' after a member");
		p = ws(p + 1, end);
	}
}

static int walk_array(struct ct *c, const char **pp, const char *end,
	int depth, ct_element_fn fn)
{
	const char *p = ws(*pp + 1, end);
	size_t i;
	int r;

	if (p >= end)
		return CT_NEED;
	if (*p == ']') {
		*pp = p + 1;
		return CT_OK;
	}
	for (i = 0;; i++) {
		if ((r = fn(c, i, &p, end, depth)) != CT_OK)
			return r;
		p = ws(p, end);
		if (p >= end)
			return CT_NEED;
		if (*p == ']') {
			*pp = p + 1;
			return CT_OK;
		}
		if (*p != ',')
			return bad(c, p, "expected ',' or ']' after an element");
		p = ws(p + 1, end);
		if (p >= end)
			return CT_NEED;
	}
}

static int skip_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	return skip_value(c, pp, end, depth);
}

static int skip_element(struct ct *c, size_t i, const char **pp,
	const char *end, int depth)
{
	return skip_value(c, pp, end, depth);
}

static int literal(struct ct *c, const char **pp, const char *end,
	const char *word, size_t n)
{
	size_t have = (size_t)(end - *pp);

	if (memcmp(*pp, word, have < n ? have : n) != 0)
		return bad(c, *pp, "expected a value (a string, number, "
				   "object, array, true, false or null)");
	if (have < n)
		return CT_NEED;
	*pp += n;
	return CT_OK;
}

static int number(struct ct *c, const char **pp, const char *end)
{
	const char *p = *pp;
	bool digit = false;

	if (p < end && *p == '-')
		p++;
	for (; p < end; p++) {
		if (*p >= '0' && *p <= '9')
			digit = true;
		else if (*p != '.' && *p != 'e' && *p != 'E' && *p != '+' &&
			 *p != '-')
			break;
	}
	if (p >= end)
		return CT_NEED; /* it may go on */
	if (!digit)
		return bad(c, *pp, "expected a value (a string, number, "
				   "object, array, true, false or null)");
	*pp = p;
	return CT_OK;
}

/* Any value at *pp (after white space), checked but not kept. */
static int skip_value(struct ct *c, const char **pp, const char *end,
	int depth)
{
	const char *p = ws(*pp, end), *s;
	size_t n;
	bool e;
	int r;

	if (p >= end)
		return CT_NEED;
	switch (*p) {
	case '"':
		r = scan_string(&p, end, &s, &n, &e);
		break;
	case '{':
	case '[':
		if (depth >= CT_DEPTH_MAX)
			return bad(c, p, "values nested too deeply");
		r = *p == '{' ?
			walk_object(c, &p, end, depth + 1, skip_member) :
			walk_array(c, &p, end, depth + 1, skip_element);
		break;
	case 't':
		r = literal(c, &p, end, "true", 4);
		break;
	case 'f':
		r = literal(c, &p, end, "false", 5);
		break;
	case 'n':
		r = literal(c, &p, end, "null", 4);
		break;
	default:
		r = number(c, &p, end);
		break;
	}
	if (r == CT_OK)
		*pp = p;
	return r;
}

/* ---------------------------------------------------------- the arena */

static int ar_reserve(struct ct *c, size_t need)
{
	size_t cap = c->ar_cap ? c->ar_cap : 4096;
	char *p;

	if (need <= c->ar_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (!(p = realloc(c->ar, cap)))
		return cspf_error_set_oom();
	c->ar = p;
	c->ar_cap = cap;
	return 0;
}

static void put_utf8(char **o, uint32_t u)
{
	unsigned char *q = (unsigned char *)*o;

	if (u < 0x80) {
		*q++ = (unsigned char)u;
	} else if (u < 0x800) {
		*q++ = (unsigned char)(0xC0 | u >> 6);
		*q++ = (unsigned char)(0x80 | (u & 0x3F));
	} else if (u < 0x10000) {
		*q++ = (unsigned char)(0xE0 | u >> 12);
		*q++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
		*q++ = (unsigned char)(0x80 | (u & 0x3F));
	} else {
		*q++ = (unsigned char)(0xF0 | u >> 18);
		*q++ = (unsigned char)(0x80 | (u >> 12 & 0x3F));
		*q++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
		*q++ = (unsigned char)(0x80 | (u & 0x3F));
	}
	*o = (char *)q;
}

static int hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char h = p[i];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= (uint32_t)(h - '0');
		else if (h >= 'a' && h <= 'f')
			v |= (uint32_t)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			v |= (uint32_t)(h - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * The string s[0, n) (the inside of a JSON string) unescaped into the
 * arena, NUL-terminated; its offset in *off.  A NUL or a lone surrogate
 * becomes U+FFFD.  Never longer than its escaped form, so n + 1 bytes are
 * enough.
 */
static int keep_string(struct ct *c, size_t *off, const char *s, size_t n,
	bool esc)
{
	const char *p = s, *end = s + n;
	char *o;
	uint32_t u, lo;

	if (ar_reserve(c, c->ar_len + n + 1) < 0)
		return -1;
	o = c->ar + c->ar_len;
	if (!esc) {
		memcpy(o, s, n);
		o += n;
	}
	while (esc && p < end) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (end - p < 4 || hex4(p, &u) < 0)
				return bad(c, p - 2, "invalid \\u escape in a "
						     "string");
			p += 4;
			if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6 &&
				p[0] == '\\' && p[1] == 'u' &&
				hex4(p + 2, &lo) == 0 && lo >= 0xDC00 &&
				lo <= 0xDFFF) {
				u = 0x10000 + ((u - 0xD800) << 10) +
				    (lo - 0xDC00);
				p += 6;
			} else if (u == 0 || (u >= 0xD800 && u <= 0xDFFF)) {
				u = 0xFFFD;
			}
			put_utf8(&o, u);
			break;
		default:
			return bad(c, p - 2, "invalid escape in a string");
		}
	}
	*o = '\0';
	*off = c->ar_len;
	c->ar_len = (size_t)(o + 1 - c->ar);
	return CT_OK;
}

/* A string value into field f; any other value is skipped, f unset. */
static int get_string(struct ct *c, int f, const char **pp,
	const char *end, int depth)
{
	const char *s;
	size_t n;
	bool esc;
	int r;

	if (**pp != '"')
		return skip_value(c, pp, end, depth);
	if ((r = scan_string(pp, end, &s, &n, &esc)) != CT_OK)
		return r;
	return keep_string(c, &c->off[f], s, n, esc);
}

/* ------------------------------------------------------------ records */

#define KEY(k, kn, lit) ((kn) == sizeof(lit) - 1 && !memcmp(k, lit, kn))

static int issuer_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	if (KEY(k, kn, "arn"))
		return get_string(c, F_ISS_ARN, pp, end, depth);
	return skip_value(c, pp, end, depth);
}

static int context_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	if (KEY(k, kn, "sessionIssuer") && **pp == '{' &&
		depth < CT_DEPTH_MAX)
		return walk_object(c, pp, end, depth + 1, issuer_member);
	return skip_value(c, pp, end, depth);
}

static int onbehalf_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	if (KEY(k, kn, "userId"))
		return get_string(c, F_U_ONBEHALF, pp, end, depth);
	return skip_value(c, pp, end, depth);
}

static int identity_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	int f = -1;

	if (KEY(k, kn, "type"))
		f = F_U_TYPE;
	else if (KEY(k, kn, "arn"))
		f = F_U_ARN;
	else if (KEY(k, kn, "accountId"))
		f = F_U_ACCOUNT;
	else if (KEY(k, kn, "userName"))
		f = F_U_USER;
	else if (KEY(k, kn, "principalId"))
		f = F_U_PRINCIPAL;
	else if (KEY(k, kn, "invokedBy"))
		f = F_U_INVOKED;
	if (f >= 0)
		return get_string(c, f, pp, end, depth);
	if (**pp == '{' && depth < CT_DEPTH_MAX) {
		if (KEY(k, kn, "sessionContext"))
			return walk_object(c, pp, end, depth + 1,
				context_member);
		if (KEY(k, kn, "onBehalfOf"))
			return walk_object(c, pp, end, depth + 1,
				onbehalf_member);
	}
	return skip_value(c, pp, end, depth);
}

static int params_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	int f = -1;

	if (KEY(k, kn, "bucketName"))
		f = F_P_BUCKET;
	else if (KEY(k, kn, "roleName"))
		f = F_P_ROLE;
	else if (KEY(k, kn, "userName"))
		f = F_P_USER;
	else if (KEY(k, kn, "policyArn"))
		f = F_P_POLICY_ARN;
	else if (KEY(k, kn, "roleArn"))
		f = F_P_ROLE_ARN;
	else if (KEY(k, kn, "instanceId"))
		f = F_P_INSTANCE;
	else if (KEY(k, kn, "groupId"))
		f = F_P_GROUP;
	else if (KEY(k, kn, "imageId"))
		f = F_P_IMAGE;
	else if (KEY(k, kn, "dBInstanceIdentifier"))
		f = F_P_DB;
	else if (KEY(k, kn, "secretId"))
		f = F_P_SECRET;
	if (f >= 0)
		return get_string(c, f, pp, end, depth);
	return skip_value(c, pp, end, depth);
}

static int resource_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	if (KEY(k, kn, "ARN"))
		return get_string(c, F_RES_ARN, pp, end, depth);
	return skip_value(c, pp, end, depth);
}

static int resource_element(struct ct *c, size_t i, const char **pp,
	const char *end, int depth)
{
	if (i == 0 && **pp == '{' && depth < CT_DEPTH_MAX)
		return walk_object(c, pp, end, depth + 1, resource_member);
	return skip_value(c, pp, end, depth);
}

static int record_member(struct ct *c, const char *k, size_t kn,
	const char **pp, const char *end, int depth)
{
	int f = -1;

	switch (kn) {
	case 7:
		if (KEY(k, kn, "eventID"))
			f = F_ID;
		break;
	case 8:
		if (KEY(k, kn, "readOnly")) {
			if (**pp == 't' || **pp == 'f') {
				bool yes = **pp == 't';
				int r = skip_value(c, pp, end, depth);

				if (r == CT_OK)
					c->read_only = yes;
				return r;
			}
		}
		break;
	case 9:
		if (KEY(k, kn, "eventTime"))
			f = F_TIME;
		else if (KEY(k, kn, "eventName"))
			f = F_NAME;
		else if (KEY(k, kn, "awsRegion"))
			f = F_REGION;
		else if (KEY(k, kn, "errorCode"))
			c->error_code = **pp != 'n';
		else if (KEY(k, kn, "resources") && **pp == '[' &&
			 depth < CT_DEPTH_MAX)
			return walk_array(c, pp, end, depth + 1,
				resource_element);
		break;
	case 11:
		if (KEY(k, kn, "eventSource"))
			f = F_SOURCE;
		break;
	case 12:
		if (KEY(k, kn, "userIdentity") && **pp == '{' &&
			depth < CT_DEPTH_MAX)
			return walk_object(c, pp, end, depth + 1,
				identity_member);
		break;
	case 17:
		if (KEY(k, kn, "requestParameters") && **pp == '{' &&
			depth < CT_DEPTH_MAX)
			return walk_object(c, pp, end, depth + 1,
				params_member);
		break;
	case 18:
		if (KEY(k, kn, "recipientAccountId"))
			f = F_RECIPIENT;
		break;
	default:
		break;
	}
	if (f >= 0)
		return get_string(c, f, pp, end, depth);
	return skip_value(c, pp, end, depth);
}

/* ------------------------------------------------------------- events */

#define S(c, f) ((c)->off[f] ? (const char *)(c)->ar + (c)->off[f] : NULL)

/* An e-mail address, roughly: local@domain.tld, no spaces or slashes. */
static bool is_email(const char *s)
{
	const char *at, *p;

	if (!s || !(at = strchr(s, '@')) || at == s)
		return false;
	if (strchr(at + 1, '@') || !(p = strchr(at + 1, '.')) ||
		p == at + 1 || !p[1])
		return false;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == ':' ||
			*p == ',' || *p == '<' || *p == '>')
			return false;
	return true;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* What follows the last '/' of s, or after its last ':' when it has no
 * '/'; NULL when neither. */
static const char *last_part(const char *s, int sep)
{
	const char *p;

	if (!s || !(p = strrchr(s, sep)) || !p[1])
		return NULL;
	return p + 1;
}

/*
 * A string made of pieces (NULL ends them) at the arena's end; the arena
 * has room (reserved by the caller), so earlier pointers stay valid.
 */
static const char *compose(struct ct *c, ...)
{
	char *start = c->ar + c->ar_len, *o = start;
	const char *piece;
	va_list ap;

	va_start(ap, c);
	while ((piece = va_arg(ap, const char *))) {
		size_t n = strlen(piece);

		memcpy(o, piece, n);
		o += n;
	}
	va_end(ap);
	*o++ = '\0';
	c->ar_len = (size_t)(o - c->ar);
	return start;
}

/* arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION → arn:aws:iam::ACCOUNT:
 * role/ROLE (without the role's path, which only the issuer has). */
static const char *role_of_session(struct ct *c, const char *arn)
{
	const char *a, *r, *s;
	char acct[32], role[256];
	size_t an, rn;

	if (!arn || !starts_with(arn, "arn:aws:sts::") ||
		!(a = strchr(arn + 13, ':')) ||
		!starts_with(a, ":assumed-role/"))
		return NULL;
	r = a + 14;
	if (!(s = strchr(r, '/')))
		return NULL;
	an = (size_t)(a - (arn + 13));
	rn = (size_t)(s - r);
	if (an >= sizeof(acct) || rn >= sizeof(role) || !rn)
		return NULL;
	memcpy(acct, arn + 13, an);
	acct[an] = '\0';
	memcpy(role, r, rn);
	role[rn] = '\0';
	return compose(c, "arn:aws:iam::", acct, ":role/", role, NULL);
}

/* Who acted: kind, actor, person, role (docs/digest.md, the table). */
static void identify(struct ct *c, cspf_event *ev)
{
	const char *type = S(c, F_U_TYPE), *arn = S(c, F_U_ARN);
	const char *user = S(c, F_U_USER), *principal = S(c, F_U_PRINCIPAL);
	const char *name;

	ev->actor = arn ? arn : user ? user : principal ? principal :
		S(c, F_U_ONBEHALF);
	ev->actor_kind = CSPF_ACTOR_UNKNOWN;
	if (!type)
		return;
	if (!strcmp(type, "Root")) {
		ev->actor_kind = CSPF_ACTOR_ROOT;
	} else if (!strcmp(type, "IAMUser")) {
		ev->actor_kind = CSPF_ACTOR_USER;
	} else if (!strcmp(type, "AssumedRole")) {
		name = last_part(arn, '/');
		if (!name)
			name = last_part(principal, ':');
		if (is_email(name)) {
			ev->actor_kind = CSPF_ACTOR_USER;
			ev->person = name;
		} else {
			ev->actor_kind = CSPF_ACTOR_ROLE;
		}
		ev->role = S(c, F_ISS_ARN);
		if (!ev->role)
			ev->role = role_of_session(c, arn);
	} else if (!strcmp(type, "FederatedUser")) {
		ev->actor_kind = CSPF_ACTOR_USER;
		name = last_part(arn, '/');
		if (!name)
			name = last_part(principal, ':');
		if (is_email(name))
			ev->person = name;
	} else if (!strcmp(type, "SAMLUser") ||
		   !strcmp(type, "WebIdentityUser") ||
		   !strcmp(type, "IdentityCenterUser")) {
		ev->actor_kind = CSPF_ACTOR_USER;
		name = user ? user : last_part(principal, ':');
		if (is_email(name))
			ev->person = name;
		if (!arn && user)
			ev->actor = user;
	} else if (!strcmp(type, "AWSService")) {
		ev->actor_kind = CSPF_ACTOR_SERVICE;
		if (S(c, F_U_INVOKED))
			ev->actor = S(c, F_U_INVOKED);
	}
}

/* The target: resources[0].ARN, else from requestParameters. */
static const char *target_of(struct ct *c, const char *account,
	const char *region)
{
	const char *v;
	int f;

	if ((v = S(c, F_RES_ARN)) && *v)
		return v;
	for (f = F_P_BUCKET; f <= F_P_SECRET; f++) {
		if (!(v = S(c, f)) || !*v)
			continue;
		switch (f) {
		case F_P_BUCKET:
			return compose(c, "arn:aws:s3:::", v, NULL);
		case F_P_ROLE:
			return compose(c, "arn:aws:iam::", account, ":role/",
				v, NULL);
		case F_P_USER:
			return compose(c, "arn:aws:iam::", account, ":user/",
				v, NULL);
		case F_P_INSTANCE:
			return compose(c, "arn:aws:ec2:", region, ":",
				account, ":instance/", v, NULL);
		case F_P_GROUP:
			return compose(c, "arn:aws:ec2:", region, ":",
				account, ":security-group/", v, NULL);
		case F_P_IMAGE:
			return compose(c, "arn:aws:ec2:", region, "::image/",
				v, NULL);
		case F_P_DB:
			return compose(c, "arn:aws:rds:", region, ":",
				account, ":db:", v, NULL);
		default: /* policyArn, roleArn, secretId: as they are */
			return v;
		}
	}
	return NULL;
}

static bool read_only_name(const char *name)
{
	return starts_with(name, "Get") || starts_with(name, "List") ||
	       starts_with(name, "Describe") || starts_with(name, "Head") ||
	       starts_with(name, "Lookup");
}

/*
 * The record just read (it started at buf[at]) as an event: checked,
 * filtered by the query, handed to the callback.  Returns 0, or negative
 * to stop (the callback's answer, or out of memory).
 */
static int deliver(struct ct *c, size_t at)
{
	const cspf_source_query *q = c->q;
	const char *source, *name, *time, *account, *region, *missing;
	cspf_event ev;
	size_t n;
	int r;

	/* Room for what is composed below (never more than this), before
	 * any pointer into the arena is taken. */
	if (ar_reserve(c, 2 * c->ar_len + 256) < 0)
		return -1;
	source = S(c, F_SOURCE);
	name = S(c, F_NAME);
	time = S(c, F_TIME);
	missing = !time ? "eventTime" : !name ? "eventName" :
		!source ? "eventSource" : NULL;
	if (missing)
		return record_finding(c, at, "record %zu has no %s (a "
			"string): left out; CloudTrail writes it in every "
			"record, so check what wrote this file", c->index,
			missing);
	memset(&ev, 0, sizeof(ev));
	if (cspf_time_parse(&ev.time, time) < 0)
		return record_finding(c, at, "record %zu: eventTime \"%.40s\" "
			"is not an RFC 3339 time (2026-11-17T09:10:05Z): left "
			"out", c->index, time);
	if (ev.time < q->start || ev.time >= q->end) {
		c->stats->skipped++;
		return 0;
	}
	ev.read_only = c->read_only >= 0 ? c->read_only != 0 :
		read_only_name(name);
	/* Role assumptions come even so (digest_private.h). */
	if (ev.read_only && !q->read_only &&
	    !(!strcmp(source, "sts.amazonaws.com") &&
	      starts_with(name, "AssumeRole"))) {
		c->stats->skipped++;
		return 0;
	}
	account = S(c, F_RECIPIENT);
	if (!account || !*account)
		account = S(c, F_U_ACCOUNT);
	region = S(c, F_REGION);
	identify(c, &ev);
	n = strlen(source);
	if (n > 14 && !strcmp(source + n - 14, ".amazonaws.com")) {
		c->ar[c->off[F_SOURCE] + n - 14] = '\0';
		ev.action = compose(c, source, ":", name, NULL);
		c->ar[c->off[F_SOURCE] + n - 14] = '.';
	} else {
		ev.action = compose(c, source, ":", name, NULL);
	}
	ev.target = target_of(c, account ? account : "",
		region ? region : "");
	if (!strcmp(source, "sts.amazonaws.com") &&
		starts_with(name, "AssumeRole"))
		ev.assumed_role = S(c, F_P_ROLE_ARN);
	ev.account = account;
	ev.region = region;
	ev.source = "cloudtrail";
	ev.id = S(c, F_ID);
	ev.failed = c->error_code;
	c->stats->events++;
	if ((r = c->cb(&ev, c->payload)) < 0)
		c->stop = r;
	return r < 0 ? r : 0;
}

/* --------------------------------------------------------- the stream */

static void inflater_stop(struct ct *c);

static void stream_close(struct ct *c)
{
	inflater_stop(c);
	if (c->z_live)
		inflateEnd(&c->z);
	c->z_live = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static ssize_t read_raw(struct ct *c, void *to, size_t n)
{
	ssize_t got;

	do
		got = read(c->fd, to, n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		snprintf(c->damage, sizeof(c->damage), "cannot be read: %s",
			strerror(errno));
		return -1;
	}
	c->stats->bytes += (size_t)got;
	return got;
}

/*
 * Up to n decompressed bytes into `to`: how many (0 at the end of the
 * data, or at damage, which c->damage then says), or -1 when out of
 * memory.
 */
static ssize_t produce_direct(struct ct *c, char *to, size_t n)
{
	ssize_t got;
	int r;

	if (c->eof)
		return 0;
	if (!c->gz) {
		got = read_raw(c, to, n);
		if (got <= 0)
			c->eof = true;
		return got < 0 ? 0 : got;
	}
	c->z.next_out = (unsigned char *)to;
	c->z.avail_out = (uInt)(n > UINT_MAX ? UINT_MAX : n);
	while (c->z.avail_out) {
		if (!c->z.avail_in && !c->raw_eof) {
			got = read_raw(c, c->in, CT_CHUNK);
			if (got <= 0) {
				c->raw_eof = true;
				if (got < 0)
					break;
			}
			c->z.next_in = c->in;
			c->z.avail_in = (uInt)(got > 0 ? got : 0);
		}
		r = inflate(&c->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			/* Another gzip member may follow (gzip -c a b). */
			if (!c->z.avail_in && !c->raw_eof) {
				got = read_raw(c, c->in, CT_CHUNK);
				if (got <= 0)
					c->raw_eof = true;
				c->z.next_in = c->in;
				c->z.avail_in = (uInt)(got > 0 ? got : 0);
			}
			if (c->z.avail_in && c->z.next_in[0] == 0x1f) {
				inflateReset(&c->z);
				continue;
			}
			c->eof = true; /* trailing bytes are ignored, as gzip
					* does */
			break;
		}
		if (r == Z_MEM_ERROR)
			return cspf_error_set_oom();
		if (r == Z_BUF_ERROR && c->raw_eof) {
			snprintf(c->damage, sizeof(c->damage),
				"the gzip stream is cut short");
			c->eof = true;
			break;
		}
		if (r != Z_OK && r != Z_BUF_ERROR) {
			snprintf(c->damage, sizeof(c->damage),
				"the gzip data is corrupt (%s)",
				c->z.msg ? c->z.msg : "zlib error");
			c->eof = true;
			break;
		}
	}
	if (c->damage[0])
		c->eof = true;
	return (ssize_t)(n - c->z.avail_out);
}

/*
 * Inflating is most of the work (zlib: two thirds of a file's time):
 * with a second CPU, a thread inflates a gzip file ahead of the scanner,
 * into a few chunks the scanner takes in order.  While it runs, only it
 * touches the stream (fd, z, in, raw_eof, eof, damage, stats->bytes);
 * inflater_stop() joins it before the scanner looks at them again.
 */
#define INF_SLOTS 4

struct inflater {
	struct ct *c;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *slot[INF_SLOTS];
	size_t slot_len[INF_SLOTS];
	unsigned int head, count;  /* the scanner's next slot; filled slots */
	size_t head_off;           /* consumed of slot[head] */
	bool done, quit, oom;
};

static void *inflater_main(void *arg)
{
	struct inflater *f = arg;
	unsigned int tail;
	ssize_t got;

	for (;;) {
		pthread_mutex_lock(&f->lock);
		while (f->count == INF_SLOTS && !f->quit)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->quit) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		tail = (f->head + f->count) % INF_SLOTS;
		pthread_mutex_unlock(&f->lock);

		got = produce_direct(f->c, f->slot[tail], CT_CHUNK);

		pthread_mutex_lock(&f->lock);
		if (got < 0)
			f->oom = true;
		if (got > 0) {
			f->slot_len[tail] = (size_t)got;
			f->count++;
		} else {
			f->done = true;
		}
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
		if (got <= 0)
			break;
	}
	return NULL;
}

static void inflater_stop(struct ct *c)
{
	struct inflater *f = c->inflater;
	unsigned int i;

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->quit = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	for (i = 0; i < INF_SLOTS; i++)
		free(f->slot[i]);
	free(f);
	c->inflater = NULL;
}

/* Start inflating c's gzip stream on a thread; without one, c inflates
 * it itself (0 either way). */
static void inflater_start(struct ct *c)
{
	struct inflater *f = calloc(1, sizeof(*f));
	unsigned int i;

	if (!f)
		return;
	f->c = c;
	for (i = 0; i < INF_SLOTS; i++)
		if (!(f->slot[i] = malloc(CT_CHUNK)))
			goto no;
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		goto no;
	if (pthread_cond_init(&f->cond, NULL) != 0) {
		pthread_mutex_destroy(&f->lock);
		goto no;
	}
	if (pthread_create(&f->thread, NULL, inflater_main, f) != 0) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
		goto no;
	}
	c->inflater = f;
	return;
no:
	for (i = 0; i < INF_SLOTS; i++)
		free(f->slot[i]);
	free(f);
}

static ssize_t produce(struct ct *c, char *to, size_t n)
{
	struct inflater *f = c->inflater;
	size_t take;
	bool oom;

	if (!f)
		return produce_direct(c, to, n);
	pthread_mutex_lock(&f->lock);
	while (!f->count && !f->done)
		pthread_cond_wait(&f->cond, &f->lock);
	if (!f->count) {
		/* The end, or damage: the stream is the scanner's again. */
		oom = f->oom;
		pthread_mutex_unlock(&f->lock);
		inflater_stop(c);
		c->eof = true;
		return oom ? cspf_error_set_oom() : 0;
	}
	take = f->slot_len[f->head] - f->head_off;
	if (take > n)
		take = n;
	pthread_mutex_unlock(&f->lock);
	/* The head slot is the scanner's until it gives it back. */
	memcpy(to, f->slot[f->head] + f->head_off, take);
	pthread_mutex_lock(&f->lock);
	f->head_off += take;
	if (f->head_off == f->slot_len[f->head]) {
		f->head = (f->head + 1) % INF_SLOTS;
		f->head_off = 0;
		f->count--;
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	return (ssize_t)take;
}

static int buf_reserve(struct ct *c, size_t need)
{
	size_t cap = c->cap ? c->cap : 2 * CT_CHUNK;
	char *p;

	if (need <= c->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (!(p = realloc(c->buf, cap)))
		return cspf_error_set_oom();
	c->buf = p;
	c->cap = cap;
	return 0;
}

/*
 * Let go of buf[0, pos) (counting its lines), make room, and read at
 * least c->want more bytes unless the data ends first.  Returns how many
 * came (0: the end), or -1 when out of memory.
 */
static ssize_t fill(struct ct *c)
{
	size_t want = c->want > CT_CHUNK ? c->want : CT_CHUNK, added = 0;
	ssize_t got;

	if (c->pos) {
		advance_position(&c->lines, &c->col, c->buf, c->pos);
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (buf_reserve(c, c->len + want) < 0)
		return -1;
	while (added < want) {
		got = produce(c, c->buf + c->len, c->cap - c->len);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		c->len += (size_t)got;
		added += (size_t)got;
	}
	c->want = 0;
	return (ssize_t)added;
}

/* ---------------------------------------------------------- a file */

/* Stream past a value too large to hold (it started at buf[pos]). */
static int oversize(struct ct *c)
{
	const char *p = c->buf + c->pos, *end = c->buf + c->len;

	for (; p < end; p++) {
		char ch = *p;

		if (c->ov_str) {
			if (c->ov_esc)
				c->ov_esc = false;
			else if (ch == '\\')
				c->ov_esc = true;
			else if (ch == '"')
				c->ov_str = false;
			else
				continue;
			if (c->ov_str || c->ov_depth)
				continue;
		} else if (ch == '"') {
			c->ov_str = true;
			continue;
		} else if (ch == '{' || ch == '[') {
			c->ov_depth++;
			continue;
		} else if (ch == '}' || ch == ']') {
			if (--c->ov_depth)
				continue;
		} else {
			continue;
		}
		/* the value ends at p */
		c->pos = (size_t)(p + 1 - c->buf);
		c->state = c->ov_ret;
		if (c->ov_record)
			c->index++;
		return CT_OK;
	}
	c->pos = c->len;
	return CT_NEED;
}

/*
 * A value at buf[pos] could not be read whole: ask for more, or past the
 * cap, stream past it.
 */
static int need_more(struct ct *c, bool record, int ret)
{
	size_t have = c->len - c->pos;
	char first = c->buf[c->pos];

	if (have < CT_RECORD_MAX) {
		c->want = have;
		return CT_NEED;
	}
	if (first != '{' && first != '[' && first != '"')
		return bad(c, c->buf + c->pos, "a value larger than 4 MiB "
					       "that is not a string, "
					       "object or array");
	if (record) {
		c->stats->records++;
		if (record_finding(c, c->pos, "record %zu is larger than "
			"%zu MiB: left out (CloudTrail records are at most "
			"a few hundred KB: check what wrote this file)",
			c->index, CT_RECORD_MAX >> 20) < 0)
			return -1;
	}
	c->ov_depth = first == '"' ? 0 : 1;
	c->ov_str = first == '"';
	c->ov_esc = false;
	c->ov_record = record;
	c->ov_ret = ret;
	c->pos++;
	c->state = ST_OVERSIZE;
	return CT_OK;
}

/*
 * Walk the file's top level from c->state as far as the buffer goes.
 * Returns CT_NEED for more bytes, CT_BAD (c->err, c->err_at), CT_DONE
 * (CT_OK) at the end of the top-level object or for a file that is no
 * CloudTrail log, or negative to stop.
 */
static int step(struct ct *c)
{
	const char *end = c->buf + c->len, *p, *k;
	size_t kn, at;
	bool esc;
	int r;

	for (;;) {
		p = ws(c->buf + c->pos, end);
		c->pos = (size_t)(p - c->buf);
		if (p >= end && c->state != ST_END)
			return CT_NEED;
		switch (c->state) {
		case ST_BEGIN:
			if (end - p < 3 &&
				!memcmp(p, "\xEF\xBB\xBF", (size_t)(end - p)))
				return CT_NEED; /* a byte-order mark, maybe */
			if (!memcmp(p, "\xEF\xBB\xBF", 3)) {
				c->pos += 3;
				continue;
			}
			if (*p != '{')
				return CT_DONE; /* no JSON object: no log */
			c->pos++;
			c->state = ST_FIRST_KEY;
			break;
		case ST_FIRST_KEY:
			if (*p == '}') {
				c->pos++;
				c->state = ST_END;
				break;
			}
			c->state = ST_KEY;
			break;
		case ST_KEY:
			if (*p != '"')
				return bad(c, p, "expected a member name in "
						 "double quotes");
			r = scan_string(&p, end, &k, &kn, &esc);
			if (r == CT_OK)
				p = ws(p, end);
			if (r == CT_OK && p < end && *p != ':')
				return bad(c, p, "expected ':' after a member "
						 "name");
			if (r == CT_OK && p < end)
				p = ws(p + 1, end);
			if (r != CT_OK || p >= end) {
				if (c->len - c->pos >= CT_RECORD_MAX)
					return bad(c, c->buf + c->pos,
						"a member name longer than "
						"4 MiB");
				c->want = c->len - c->pos;
				return CT_NEED;
			}
			c->pos = (size_t)(p - c->buf);
			if (esc || !KEY(k, kn, "Records")) {
				c->state = ST_VALUE;
				break;
			}
			if (*p != '[') {
				r = finding(c, CSPF_SEVERITY_ERROR, c->pos,
					"/Records", "Records is not an array: "
					"the file is left out (is it a "
					"CloudTrail log file?)");
				return r < 0 ? r : CT_DONE;
			}
			c->saw_records = true;
			c->pos++;
			c->state = ST_REC_FIRST;
			break;
		case ST_VALUE:
			r = skip_value(c, &p, end, 1);
			if (r == CT_NEED) {
				r = need_more(c, false, ST_AFTER_MEMBER);
				if (r != CT_OK)
					return r;
				break;
			}
			if (r != CT_OK)
				return r;
			c->pos = (size_t)(p - c->buf);
			c->state = ST_AFTER_MEMBER;
			break;
		case ST_AFTER_MEMBER:
			if (*p == ',') {
				c->pos++;
				c->state = ST_KEY;
			} else if (*p == '}') {
				c->pos++;
				c->state = ST_END;
			} else {
				return bad(c, p, "expected ',' or '}' after a "
						 "member");
			}
			break;
		case ST_REC_FIRST:
			if (*p == ']') {
				c->pos++;
				c->state = ST_AFTER_MEMBER;
				break;
			}
			c->state = ST_REC;
			break;
		case ST_REC:
			at = c->pos;
			c->ar_len = 1;
			memset(c->off, 0, sizeof(c->off));
			c->read_only = -1;
			c->error_code = false;
			if (*p == '{')
				r = walk_object(c, &p, end, 2, record_member);
			else
				r = skip_value(c, &p, end, 2);
			if (r == CT_NEED) {
				r = need_more(c, true, ST_REC_AFTER);
				if (r != CT_OK)
					return r;
				break;
			}
			if (r != CT_OK)
				return r;
			c->stats->records++;
			if (c->buf[at] != '{')
				r = record_finding(c, at, "record %zu is not "
					"an object: left out (is this a "
					"CloudTrail log file?)", c->index);
			else if ((size_t)(p - c->buf) - at > CT_RECORD_MAX)
				/* Read whole in one go (fills need not stop
				 * at the cap): the same as one streamed. */
				r = record_finding(c, at, "record %zu is "
					"larger than %zu MiB: left out "
					"(CloudTrail records are at most a few "
					"hundred KB: check what wrote this "
					"file)", c->index, CT_RECORD_MAX >> 20);
			else
				r = deliver(c, at);
			if (r < 0)
				return r;
			c->index++;
			c->pos = (size_t)(p - c->buf);
			c->state = ST_REC_AFTER;
			break;
		case ST_REC_AFTER:
			if (*p == ',') {
				c->pos++;
				c->state = ST_REC;
			} else if (*p == ']') {
				c->pos++;
				c->state = ST_AFTER_MEMBER;
			} else {
				return bad(c, p, "expected ',' or ']' after a "
						 "record");
			}
			break;
		case ST_OVERSIZE:
			if ((r = oversize(c)) != CT_OK)
				return r;
			break;
		case ST_END:
			return CT_DONE;
		}
	}
}

static bool in_records(const struct ct *c)
{
	return c->state == ST_REC || c->state == ST_REC_AFTER ||
	       c->state == ST_REC_FIRST ||
	       (c->state == ST_OVERSIZE && c->ov_record);
}

/* The data ended (or broke) before the file's JSON did. */
static int ended_early(struct ct *c)
{
	char ptr[40] = "";

	if (c->state == ST_BEGIN && !c->damage[0])
		return 0; /* empty: not a log file */
	if (in_records(c))
		snprintf(ptr, sizeof(ptr), "/Records/%zu", c->index);
	if (c->damage[0])
		return finding(c, CSPF_SEVERITY_ERROR, c->len, ptr,
			"%s after %zu records: the records after them are "
			"lost; %s", c->damage, c->index, CT_REFETCH);
	return finding(c, CSPF_SEVERITY_ERROR, c->len, ptr,
		"the file ends in the middle of its JSON, after %zu records: "
		"it was cut short; %s", c->index, CT_REFETCH);
}

/* The file ACCOUNT_CloudTrail_REGION_20261117T0910Z_x.json.gz: delivered
 * at 2026-11-17T09:10Z.  0 and *t, or -1 for another name. */
static int delivery_time(int64_t *t, const char *name)
{
	const char *p = strstr(name, "_CloudTrail_");
	char iso[24];
	int i;

	if (!p)
		return -1;
	for (p += 12; (p = strchr(p, '_')); p++) {
		for (i = 1; i <= 13; i++)
			if (i == 9 ? p[i] != 'T' : (p[i] < '0' || p[i] > '9'))
				break;
		if (i == 14 && p[14] == 'Z') {
			snprintf(iso, sizeof(iso),
				"%.4s-%.2s-%.2sT%.2s:%.2s:00Z", p + 1, p + 5,
				p + 7, p + 10, p + 12);
			return cspf_time_parse(t, iso);
		}
	}
	return -1;
}

/* Delivered more than a day outside the period: nothing in it for us. */
static bool out_of_period(const struct ct *c, int64_t from, int64_t to)
{
	int64_t start = c->q->start, end = c->q->end;

	return (start > INT64_MIN + 86400 && to <= start - 86400) ||
	       (end < INT64_MAX - 86400 && from >= end + 86400);
}

/*
 * Read one file (open, fd >= 0): every event to the callback, findings
 * to the list.  Returns 0, or negative to stop.
 */
static int read_file(struct ct *c)
{
	unsigned char magic[2];
	ssize_t got;
	int r;

	c->stats->files++;
	c->gz = c->raw_eof = c->eof = false;
	c->damage[0] = '\0';
	c->pos = c->len = c->want = 0;
	c->lines = c->col = 0;
	c->state = ST_BEGIN;
	c->saw_records = false;
	c->index = c->file_diags = c->file_unlisted = 0;
	if (buf_reserve(c, 2 * CT_CHUNK) < 0)
		return -1;

	got = read_raw(c, magic, 2);
	if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		memset(&c->z, 0, sizeof(c->z));
		if (inflateInit2(&c->z, 15 + 16) != Z_OK)
			return cspf_error_set_oom();
		c->z_live = true;
		c->gz = true;
		memcpy(c->in, magic, 2);
		c->z.next_in = c->in;
		c->z.avail_in = 2;
		if (c->threads)
			inflater_start(c);
	} else if (got > 0) {
		memcpy(c->buf, magic, (size_t)got);
		c->len = (size_t)got;
	}
	if (got <= 0)
		c->eof = true; /* empty, or unreadable (c->damage) */

	for (;;) {
		r = step(c);
		if (r == CT_NEED) {
			got = fill(c);
			if (got < 0)
				return -1;
			if (got > 0)
				continue;
			r = ended_early(c);
			break;
		}
		if (r == CT_BAD) {
			char ptr[40] = "";

			if (in_records(c))
				snprintf(ptr, sizeof(ptr), "/Records/%zu",
					c->index);
			r = finding(c, CSPF_SEVERITY_ERROR, c->err_at, ptr,
				"invalid JSON (%s)%s%s: the file is damaged and "
				"is read no further; %s", c->err,
				in_records(c) ? " in record " : "",
				in_records(c) ? ptr + 9 : "", CT_REFETCH);
			break;
		}
		break; /* CT_DONE, or negative */
	}
	if (r >= 0 && c->file_unlisted) {
		char msg[128];

		snprintf(msg, sizeof(msg), "and %zu more findings in this "
			"file, not listed", c->file_unlisted);
		r = add_diag(c, CSPF_SEVERITY_ERROR, SIZE_MAX, "", msg);
	}
	return r < 0 ? r : 0;
}

/* Open `path` (no link followed unless `follow`) and read it. */
static int read_path(struct ct *c, const char *path, const char *name,
	bool follow)
{
	struct stat st;
	int r;

	c->name = name;
	c->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		(follow ? 0 : O_NOFOLLOW));
	if (c->fd < 0 || fstat(c->fd, &st) < 0) {
		int err = errno;

		stream_close(c);
		if (err == ELOOP)
			return 0; /* became a link meanwhile */
		return finding(c, CSPF_SEVERITY_ERROR, SIZE_MAX, "",
			"cannot open the file: %s; check its permissions",
			strerror(err));
	}
	if (!S_ISREG(st.st_mode)) {
		stream_close(c);
		return 0; /* replaced by something else meanwhile */
	}
	r = read_file(c);
	stream_close(c);
	return r;
}

/* ---------------------------------------------------------- the tree */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory rel ends in YYYY/MM/DD: 0 and that day, else -1. */
static int day_of_dir(int64_t *t, const char *rel)
{
	size_t n = strlen(rel);
	const char *d;
	char iso[16];
	int i;

	if (n < 10)
		return -1;
	d = rel + n - 10;
	if ((n > 10 && d[-1] != '/') || d[4] != '/' || d[7] != '/')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return -1;
	snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2s", d, d + 5, d + 8);
	return cspf_time_parse(t, iso);
}

/* A link in the tree: quietly left alone when what it points at is in
 * the tree (it is read there), else a warning. */
static int symlink_found(struct ct *c, const char *full, const char *rel)
{
	char *real = realpath(full, NULL);
	size_t n = strlen(c->root_real);
	bool inside = real && !strncmp(real, c->root_real, n) &&
		      (real[n] == '/' || real[n] == '\0' ||
			      (n == 1 && c->root_real[0] == '/'));

	free(real);
	if (inside)
		return 0;
	c->name = rel;
	return finding(c, CSPF_SEVERITY_WARNING, SIZE_MAX, "",
		"symbolic link not followed: it leads out of %s (or "
		"nowhere); copy the log files into the tree instead",
		c->root);
}

static int walk(struct ct *c, cspf_buf *rel, unsigned int depth)
{
	cspf_buf full = CSPF_BUF_INIT;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, a = 0, i, mark = rel->size;
	int64_t t;
	DIR *d;
	int r = 0;

	cspf_buf_puts(&full, c->root);
	if (rel->size)
		cspf_buf_printf(&full, "/%s", rel->ptr);
	if (cspf_buf_oom(&full))
		return cspf_error_set_oom();
	if (!(d = opendir(full.ptr))) {
		c->name = rel->size ? rel->ptr : c->root;
		r = finding(c, CSPF_SEVERITY_ERROR, SIZE_MAX, "",
			"cannot read the directory: %s; check its "
			"permissions", strerror(errno));
		cspf_buf_dispose(&full);
		return r;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == a) {
			char **p;

			a = a ? 2 * a : 64;
			if (!(p = realloc(names, a * sizeof(*names)))) {
				r = cspf_error_set_oom();
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(e->d_name))) {
			r = cspf_error_set_oom();
			break;
		}
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n && r == 0; i++) {
		struct stat st;

		cspf_buf_truncate(rel, mark);
		if (mark)
			cspf_buf_putc(rel, '/');
		cspf_buf_puts(rel, names[i]);
		cspf_buf_truncate(&c->full, 0);
		cspf_buf_printf(&c->full, "%s/%s", c->root, rel->ptr);
		if (cspf_buf_oom(rel) || cspf_buf_oom(&c->full)) {
			r = cspf_error_set_oom();
			break;
		}
		if (lstat(c->full.ptr, &st) < 0)
			continue; /* gone meanwhile */
		if (S_ISLNK(st.st_mode)) {
			r = symlink_found(c, c->full.ptr, rel->ptr);
		} else if (S_ISDIR(st.st_mode)) {
			if (day_of_dir(&t, rel->ptr) == 0 &&
				out_of_period(c, t, t + 86400))
				continue;
			if (depth >= CT_DIR_DEPTH_MAX) {
				c->name = rel->ptr;
				r = finding(c, CSPF_SEVERITY_ERROR, SIZE_MAX,
					"", "directories nested more than %d "
					"deep: not read", CT_DIR_DEPTH_MAX);
				continue;
			}
			r = walk(c, rel, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			if (delivery_time(&t, names[i]) == 0 &&
				out_of_period(c, t, t + 60))
				continue;
			r = read_path(c, c->full.ptr, rel->ptr, false);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cspf_buf_truncate(rel, mark);
	cspf_buf_dispose(&full);
	return r;
}

static int cloudtrail_read(cspf_source_stats *stats, cspf_diags *diags,
	const cspf_source_query *q, cspf_event_cb cb, void *payload)
{
	cspf_buf rel = CSPF_BUF_INIT;
	struct ct c;
	struct stat st;
	int r;

	if (!q->arg || !*q->arg)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cloudtrail: name the log files: --sources "
			"cloudtrail:DIR (a synced trail bucket, or one file)");
	if (stat(q->arg, &st) < 0)
		return cspf_error_set_os("cloudtrail: cannot read '%s'",
			q->arg);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cloudtrail: '%s' is neither a directory nor a file",
			q->arg);
	memset(&c, 0, sizeof(c));
	c.q = q;
	c.stats = stats;
	c.diags = diags;
	c.cb = cb;
	c.payload = payload;
	c.root = q->arg;
	c.fd = -1;
	c.full = (cspf_buf)CSPF_BUF_INIT;
	c.threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
		!getenv("CSPF_DIGEST_NO_THREADS");
	if (!(c.in = malloc(CT_CHUNK)))
		return cspf_error_set_oom();
	if (S_ISREG(st.st_mode)) {
		r = read_path(&c, q->arg, q->arg, true);
	} else if (!(c.root_real = realpath(q->arg, NULL))) {
		r = cspf_error_set_os("cloudtrail: cannot read '%s'", q->arg);
	} else {
		r = walk(&c, &rel, 0);
	}
	if (c.stop < 0)
		r = c.stop; /* the callback's own answer, as it gave it */
	stream_close(&c);
	free(c.in);
	free(c.buf);
	free(c.ar);
	free(c.root_real);
	cspf_buf_dispose(&c.full);
	cspf_buf_dispose(&rel);
	return r < 0 ? r : 0;
}

const cspf_source cspf_source_cloudtrail = {
	.name = "cloudtrail",
	.summary = "CloudTrail log files (.json.gz or .json) under a "
		   "directory, as a trail delivers them to S3",
	.needs_arg = true,
	.read = cloudtrail_read,
};
