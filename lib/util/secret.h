/*
 * Inside libcspf: building secrets piece by piece in guarded memory, and
 * handing such a buffer over as a cspf_secret without a copy.
 */
#ifndef CSPF_UTIL_SECRET_H
#define CSPF_UTIL_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "cspf/secret.h"

/*
 * A growable buffer in sodium_malloc memory, read-write while it is
 * built, always NUL-terminated.  Growing copies to a new guarded block and
 * zeroes the old one.  Like cspf_buf, a failure marks it broken and later
 * appends do nothing.
 */
typedef struct cspf_sbuf {
	unsigned char *ptr; /* NULL until the first append */
	size_t size;
	size_t asize;
	bool oom;
} cspf_sbuf;

#define CSPF_SBUF_INIT { NULL, 0, 0, false }

int cspf_sbuf_put(cspf_sbuf *b, const void *data, size_t len);
int cspf_sbuf_puts(cspf_sbuf *b, const char *s);
int cspf_sbuf_putc(cspf_sbuf *b, char c);
/* Append the bytes of an open-able secret. */
int cspf_sbuf_put_secret(cspf_sbuf *b, const cspf_secret *s);
/* Append `len` bytes percent-encoded (RFC 3986 unreserved kept). */
int cspf_sbuf_put_urlencoded(cspf_sbuf *b, const void *data, size_t len);
/* Turn the buffer into a secret (no copy); the buffer is reset. */
int cspf_sbuf_to_secret(cspf_secret **out, cspf_sbuf *b);
/* Zero and release. */
void cspf_sbuf_dispose(cspf_sbuf *b);
/*
 * Zero what the buffer holds and empty it, keeping its block for the
 * next use (a scratch buffer used per request: no mapping each time).
 */
void cspf_sbuf_reset(cspf_sbuf *b);

/* libsodium started, or -1 with an error raised. */
int cspf_secret_init(void);

#endif
