/*
 * Growable byte buffers, always NUL-terminated.  A failed allocation marks
 * the buffer as broken: later appends do nothing and cspf_buf_oom() tells.
 * This lets a caller append many pieces and check once.
 */
#ifndef CSPF_UTIL_BUF_H
#define CSPF_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cspf_buf {
	char *ptr;
	size_t size;  /* bytes used, not counting the NUL */
	size_t asize; /* bytes allocated; 0 while ptr is the static empty */
	bool oom;
} cspf_buf;

extern char cspf_buf__empty[];
#define CSPF_BUF_INIT { cspf_buf__empty, 0, 0, false }

int cspf_buf_grow(cspf_buf *b, size_t extra);
int cspf_buf_put(cspf_buf *b, const char *data, size_t len);
int cspf_buf_puts(cspf_buf *b, const char *s);
int cspf_buf_putc(cspf_buf *b, char c);
int cspf_buf_printf(cspf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cspf_buf_vprintf(cspf_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Append `s` as JSON string contents (no quotes), escaping as needed. */
int cspf_buf_put_json_escaped(cspf_buf *b, const char *s, size_t len);
/* Append one JSON pointer reference token, escaping '~' and '/'. */
int cspf_buf_put_pointer_token(cspf_buf *b, const char *s, size_t len);
void cspf_buf_truncate(cspf_buf *b, size_t len);
static inline void cspf_buf_clear(cspf_buf *b) { cspf_buf_truncate(b, 0); }
static inline bool cspf_buf_oom(const cspf_buf *b) { return b->oom; }
/* Hand the string to the caller (malloc'd; NULL if broken); buf resets. */
char *cspf_buf_detach(cspf_buf *b);
void cspf_buf_dispose(cspf_buf *b);

/*
 * Copy `src` into dst[size] (size > 0), cut to fit, always
 * NUL-terminated (OpenBSD's strlcpy).  Returns strlen(src): a result of
 * size or more means it was cut.
 */
size_t cspf_strlcpy(char *dst, const char *src, size_t size);

#endif
