/*
 * cspf - secret material in guarded memory.
 *
 * A cspf_secret holds bytes (a key, a token, a password) in libsodium
 * guarded memory: locked into RAM where the system allows, fenced by guard
 * pages, and with no access at all while nobody has it open.  Freeing it
 * zeroes it.  The bytes are followed by a NUL that is not counted, so an
 * open secret can be read as a C string when it holds text.
 *
 * A secret is never formatted into an error, a log line, a trace or a
 * file by cspf.  Open it for as short a time as possible:
 *
 *	const unsigned char *p;
 *	size_t n;
 *	if (cspf_secret_open(&p, &n, s) == 0) {
 *		use(p, n);
 *		cspf_secret_close(s);
 *	}
 *
 * Opens nest: the memory goes back to no-access when the last open is
 * closed.  A secret is not thread-safe: one thread at a time.
 */
#ifndef CSPF_SECRET_H
#define CSPF_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cspf_secret cspf_secret;

/* Largest secret cspf reads from a file or the environment: 1 MiB. */
#define CSPF_SECRET_MAX (1024 * 1024)

/* A copy of `len` bytes at `data` (which may be NULL when len is 0). */
int cspf_secret_new(cspf_secret **out, const void *data, size_t len);

/* Flags of cspf_secret_from_file(). */
enum {
	/* Strip trailing white space (a newline an editor added). */
	CSPF_SECRET_FILE_TRIM = 1u << 0,
	/*
	 * Accept a file that group and others may read (not write): a
	 * short-lived token a platform projects world-readable, such as a
	 * Kubernetes service account token.  Without it such a file is
	 * refused too.
	 */
	CSPF_SECRET_FILE_READABLE = 1u << 1,
};

/*
 * The contents of the file at `path`, which must be a regular file (not
 * followed through a symlink) owned by the current user or by root, that
 * neither group nor others may write and, unless
 * CSPF_SECRET_FILE_READABLE, others may not read.  A file that fails
 * these checks is refused with CSPF_EAUTH and a message that names the
 * file and what to do (chmod/chown), never its contents.  CSPF_ENOTFOUND
 * when it does not exist; CSPF_ETOOBIG past CSPF_SECRET_MAX.
 */
int cspf_secret_from_file(cspf_secret **out, const char *path,
	unsigned int flags);

/*
 * A copy of environment variable `name`.  CSPF_ENOTFOUND when it is unset
 * or empty.  The process environment keeps its own copy: the caller may
 * unsetenv() it once read.
 */
int cspf_secret_from_env(cspf_secret **out, const char *name);

/* A copy of `s` (`s` must not be open for writing; it is read here). */
int cspf_secret_dup(cspf_secret **out, const cspf_secret *s);

/*
 * Make the bytes readable and lend them: *data points to len bytes
 * followed by a NUL, valid until the matching cspf_secret_close().
 * Nestable.  Returns 0, or -1 when the memory protection cannot change.
 */
int cspf_secret_open(const unsigned char **data, size_t *len,
	const cspf_secret *s);

/* Close one open; the last one makes the memory inaccessible again. */
void cspf_secret_close(const cspf_secret *s);

/*
 * Keep `s` readable until it is freed: for a secret in constant use (the
 * key a signer signs thousands of requests a second with), where making
 * it readable and unreadable again for each use costs more than the use.
 * It stays in locked memory between guard pages, and is zeroed when
 * freed; cspf_secret_dup() of it shares it (each copy is freed as
 * usual; the last free zeroes it).
 */
void cspf_secret_hold(const cspf_secret *s);

/* Length in bytes (no need to open). */
size_t cspf_secret_len(const cspf_secret *s);

/*
 * True when both hold the same bytes.  The time taken depends on the
 * lengths only, never on where the contents differ.  NULL equals NULL.
 */
bool cspf_secret_equal(const cspf_secret *a, const cspf_secret *b);

/* True when `s` holds `len` bytes equal to `data` (constant time). */
bool cspf_secret_equal_bytes(const cspf_secret *s, const void *data,
	size_t len);

/* Zero and release; NULL is fine. */
void cspf_secret_free(cspf_secret *s);

#ifdef __cplusplus
}
#endif
#endif
