/*
 * Secrets in libsodium guarded memory: sodium_malloc (guard pages,
 * mlock), sodium_mprotect_noaccess while closed, sodium_free (zeroes).
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "banned.h"

struct cspf_secret {
	unsigned char *data; /* len + 1 bytes, the last a NUL */
	size_t len;
	size_t alloc;        /* the block's size (gmem_alloc) */
	unsigned int opens;
	bool held;           /* cspf_secret_hold(): readable until freed */
	unsigned int refs;   /* copies of a held secret share it */
};

/*
 * Guarded blocks, reused.  sodium_malloc() maps pages with a guard page
 * each side, mlocks them and sets canaries: eight system calls for every
 * secret and every guarded buffer, and an inventory signs thousands of
 * requests a second (each signature holds the session token and the
 * derived key for a moment).  Blocks of one page are kept when freed:
 * zeroed, and no access until they are taken again.  They stay guarded
 * and locked; only the mapping is spared.
 */
#define GBLOCK 4096
#define GCACHE 256

static pthread_mutex_t gcache_lock = PTHREAD_MUTEX_INITIALIZER;
static void *gcache[GCACHE];
static size_t ngcache;

/* A zeroed, read-write guarded block of at least n bytes; *alloc its size. */
static void *gmem_alloc(size_t n, size_t *alloc)
{
	void *p = NULL;

	if (n <= GBLOCK) {
		pthread_mutex_lock(&gcache_lock);
		if (ngcache)
			p = gcache[--ngcache];
		pthread_mutex_unlock(&gcache_lock);
		if (p) {
			*alloc = GBLOCK; /* zeroed and read-write already */
			return p;
		}
		n = GBLOCK;
	}
	p = sodium_malloc(n);
	if (p) {
		memset(p, 0, n);
		*alloc = n;
	}
	return p;
}

/*
 * Zero the block and keep or free it; `rw` says it is read-write already
 * (a buffer), else its protection is unknown (a secret).
 */
static void gmem_free(void *p, size_t alloc, int rw)
{
	if (!p)
		return;
	if (alloc == GBLOCK) {
		/* Zeroed, it holds nothing to protect: kept read-write. */
		if (!rw)
			sodium_mprotect_readwrite(p);
		sodium_memzero(p, GBLOCK);
		pthread_mutex_lock(&gcache_lock);
		if (ngcache < GCACHE) {
			gcache[ngcache++] = p;
			p = NULL;
		}
		pthread_mutex_unlock(&gcache_lock);
	}
	if (p)
		sodium_free(p); /* zeroes, whatever the protection */
}

int cspf_secret_init(void)
{
	if (sodium_init() < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"secret: libsodium cannot start");
	return 0;
}

/* A secret whose data block (len + 1 bytes, zeroed) is read-write. */
static int secret_alloc(cspf_secret **out, size_t len)
{
	cspf_secret *s;

	*out = NULL;
	if (cspf_secret_init() < 0)
		return CSPF_ERROR;
	if (len >= SIZE_MAX - 1)
		return cspf_error_set_oom();
	s = calloc(1, sizeof(*s));
	if (!s)
		return cspf_error_set_oom();
	s->data = gmem_alloc(len + 1, &s->alloc);
	if (!s->data) {
		free(s);
		return cspf_error_set_oom();
	}
	s->len = len;
	*out = s;
	return 0;
}

int cspf_secret_new(cspf_secret **out, const void *data, size_t len)
{
	cspf_secret *s;

	if (!out || (!data && len))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"secret: no data");
	if (secret_alloc(&s, len) < 0)
		return CSPF_ERROR;
	if (len)
		memcpy(s->data, data, len);
	sodium_mprotect_noaccess(s->data);
	*out = s;
	return 0;
}

int cspf_secret_dup(cspf_secret **out, const cspf_secret *s)
{
	const unsigned char *p;
	size_t n;
	int rc;

	*out = NULL;
	if (!s)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"secret: nothing to copy");
	if (s->held) {
		/* Readable and never changed again: share it. */
		((cspf_secret *)s)->refs++;
		*out = (cspf_secret *)s;
		return 0;
	}
	if (cspf_secret_open(&p, &n, s) < 0)
		return CSPF_ERROR;
	rc = cspf_secret_new(out, p, n);
	cspf_secret_close(s);
	return rc;
}

void cspf_secret_hold(const cspf_secret *cs)
{
	cspf_secret *s = (cspf_secret *)cs;
	const unsigned char *p;
	size_t n;

	if (s && !s->held && cspf_secret_open(&p, &n, s) == 0)
		s->held = true; /* that open is never closed */
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

int cspf_secret_from_file(cspf_secret **out, const char *path,
	unsigned int flags)
{
	struct stat st;
	cspf_secret *s = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
				"secret file %s is a symbolic link: name the "
				"file itself", path);
		return cspf_error_set_os("secret file %s", path);
	}
	if (fstat(fd, &st) < 0) {
		rc = cspf_error_set_os("secret file %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"secret file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"secret file %s belongs to another user (uid %u): "
			"chown it to the user cspf runs as", path,
			(unsigned int)st.st_uid);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"secret file %s may be written by %s (mode %04o): "
			"chmod go-w it, and replace the secret if others could "
			"have changed it", path,
			(st.st_mode & S_IWOTH) ? "anyone" : "its group",
			(unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if ((st.st_mode & S_IROTH) && !(flags & CSPF_SECRET_FILE_READABLE)) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"secret file %s may be read by anyone (mode %04o): "
			"chmod o-r it (0600), and replace the secret if others "
			"could have read it", path,
			(unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > CSPF_SECRET_MAX) {
		rc = cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"secret file %s is larger than %d bytes", path,
			CSPF_SECRET_MAX);
		goto out;
	}
	if ((rc = secret_alloc(&s, (size_t)st.st_size)) < 0)
		goto out;
	while (got < s->len) {
		n = read(fd, s->data + got, s->len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cspf_error_set_os("secret file %s", path);
			goto out;
		}
		if (n == 0)
			break; /* shrank meanwhile */
		got += (size_t)n;
	}
	if (flags & CSPF_SECRET_FILE_TRIM)
		while (got && is_space(s->data[got - 1]))
			s->data[--got] = '\0';
	s->len = got;
	sodium_mprotect_noaccess(s->data);
	*out = s;
	s = NULL;
	rc = 0;
out:
	cspf_secret_free(s);
	close(fd);
	return rc;
}

int cspf_secret_from_env(cspf_secret **out, const char *name)
{
	const char *v = getenv(name);
	size_t n;

	*out = NULL;
	if (!v || !*v)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"environment variable %s is not set", name);
	n = strlen(v);
	if (n > CSPF_SECRET_MAX)
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"environment variable %s is too long", name);
	return cspf_secret_new(out, v, n);
}

int cspf_secret_open(const unsigned char **data, size_t *len,
	const cspf_secret *cs)
{
	cspf_secret *s = (cspf_secret *)cs;

	if (!s) {
		*data = NULL;
		*len = 0;
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"secret: none to open");
	}
	if (s->opens == 0 && sodium_mprotect_readonly(s->data) != 0)
		return cspf_error_set_os("secret: cannot make readable");
	s->opens++;
	*data = s->data;
	*len = s->len;
	return 0;
}

void cspf_secret_close(const cspf_secret *cs)
{
	cspf_secret *s = (cspf_secret *)cs;

	if (!s || s->opens == 0)
		return;
	if (--s->opens == 0)
		sodium_mprotect_noaccess(s->data);
}

size_t cspf_secret_len(const cspf_secret *s)
{
	return s ? s->len : 0;
}

bool cspf_secret_equal_bytes(const cspf_secret *s, const void *data,
	size_t len)
{
	const unsigned char *p;
	size_t n;
	bool eq;

	if (!s)
		return false;
	if (cspf_secret_open(&p, &n, s) < 0)
		return false;
	eq = n == len && (n == 0 || sodium_memcmp(p, data, n) == 0);
	cspf_secret_close(s);
	return eq;
}

bool cspf_secret_equal(const cspf_secret *a, const cspf_secret *b)
{
	const unsigned char *p;
	size_t n;
	bool eq;

	if (!a || !b)
		return a == b;
	if (cspf_secret_open(&p, &n, a) < 0)
		return false;
	eq = cspf_secret_equal_bytes(b, p, n);
	cspf_secret_close(a);
	return eq;
}

void cspf_secret_free(cspf_secret *s)
{
	if (!s)
		return;
	if (s->refs) {
		s->refs--;
		return;
	}
	gmem_free(s->data, s->alloc, 0);
	free(s);
}

/* The guarded buffer. */

static int sbuf_grow(cspf_sbuf *b, size_t extra)
{
	size_t need, nsize;
	unsigned char *p;

	if (b->oom)
		return -1;
	if (cspf_secret_init() < 0 || extra > SIZE_MAX / 2 - b->size) {
		b->oom = true;
		return -1;
	}
	need = b->size + extra + 1;
	if (need <= b->asize)
		return 0;
	/*
	 * sodium_malloc() takes whole pages (and a guard page each side,
	 * and mlock, and mprotect): a page is as cheap as 256 bytes, and
	 * each doubling is a new mapping.
	 */
	nsize = b->asize ? b->asize : 4096;
	while (nsize < need)
		nsize *= 2;
	p = gmem_alloc(nsize, &nsize);
	if (!p) {
		b->oom = true;
		return -1;
	}
	if (b->ptr) {
		memcpy(p, b->ptr, b->size);
		gmem_free(b->ptr, b->asize, 1);
	}
	b->ptr = p;
	b->asize = nsize;
	return 0;
}

int cspf_sbuf_put(cspf_sbuf *b, const void *data, size_t len)
{
	if (sbuf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->ptr + b->size, data, len);
	b->size += len;
	b->ptr[b->size] = '\0';
	return 0;
}

int cspf_sbuf_puts(cspf_sbuf *b, const char *s)
{
	return cspf_sbuf_put(b, s, strlen(s));
}

int cspf_sbuf_putc(cspf_sbuf *b, char c)
{
	return cspf_sbuf_put(b, &c, 1);
}

int cspf_sbuf_put_secret(cspf_sbuf *b, const cspf_secret *s)
{
	const unsigned char *p;
	size_t n;
	int rc;

	if (cspf_secret_open(&p, &n, s) < 0) {
		b->oom = true;
		return -1;
	}
	rc = cspf_sbuf_put(b, p, n);
	cspf_secret_close(s);
	return rc;
}

int cspf_sbuf_put_urlencoded(cspf_sbuf *b, const void *data, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = data;
	size_t i;

	if (sbuf_grow(b, len * 3) < 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '.' ||
			c == '_' || c == '~') {
			b->ptr[b->size++] = c;
		} else {
			b->ptr[b->size++] = '%';
			b->ptr[b->size++] = hex[c >> 4];
			b->ptr[b->size++] = hex[c & 15];
		}
	}
	b->ptr[b->size] = '\0';
	return 0;
}

int cspf_sbuf_to_secret(cspf_secret **out, cspf_sbuf *b)
{
	cspf_secret *s;

	*out = NULL;
	if (b->oom) {
		cspf_sbuf_dispose(b);
		return cspf_error_set_oom();
	}
	if (!b->ptr && sbuf_grow(b, 0) < 0)
		return cspf_error_set_oom();
	s = calloc(1, sizeof(*s));
	if (!s) {
		cspf_sbuf_dispose(b);
		return cspf_error_set_oom();
	}
	s->data = b->ptr;
	s->len = b->size;
	s->alloc = b->asize;
	sodium_mprotect_noaccess(s->data);
	b->ptr = NULL;
	b->size = b->asize = 0;
	*out = s;
	return 0;
}

void cspf_sbuf_reset(cspf_sbuf *b)
{
	if (b->ptr)
		sodium_memzero(b->ptr, b->size);
	b->size = 0;
	b->oom = false;
}

void cspf_sbuf_dispose(cspf_sbuf *b)
{
	if (b->ptr)
		gmem_free(b->ptr, b->asize, 1);
	b->ptr = NULL;
	b->size = b->asize = 0;
	b->oom = false;
}
