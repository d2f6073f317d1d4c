/*
 * The file vault: every secret of a vault in one local file, sealed with
 * libsodium's secretbox (XSalsa20-Poly1305) under a 32-byte key.  The key
 * comes from a key file (32 raw bytes or 64 hex characters, mode 0600),
 * from an environment variable holding 64 hex characters, or from an
 * environment variable holding a passphrase, stretched with Argon2id.
 *
 * The file:
 *
 *   offset size
 *   0      8    "CSPFVLT1"
 *   8      1    format version, 1
 *   9      1    the key: 0 a 32-byte key, 1 Argon2id13 of a passphrase
 *   10     6    zero
 *   16     8    Argon2id opslimit, little-endian (0 with a 32-byte key)
 *   24     8    Argon2id memlimit in bytes, little-endian (0 likewise)
 *   32     16   Argon2id salt (zero likewise)
 *   48     24   nonce, random for every write
 *   72     ...  crypto_secretbox_easy() of the document
 *
 * The header is outside the box but cannot be changed unnoticed: other
 * KDF parameters or another salt give another key, and the box does not
 * open.  A passphrase is stretched with crypto_pwhash's MODERATE limits
 * (256 MiB, about a second): once per handle, since the handle keeps the
 * derived key for the salt it was derived for, and a file keeps its salt
 * from one write to the next.
 *
 * The document in the box, JSON:
 *
 *   {"format": 1, "secrets": {"<path>": {"next": 4,
 *     "versions": [{"id": "3", "value": "<base64>", "rotation_id": "...",
 *       "key_id": "...", "created": 1767225600, "labels": ["current"]}],
 *     "record": {"data": "<the rotation record>", "tag": 2}}}}
 *
 * A version that loses its last label is dropped at once: the file holds
 * at most the current, pending and previous values of a secret, and a
 * discarded value is gone from the next file written.  Version ids count
 * up per secret and are never reused; a record's tag counts up with every
 * write of it, and records are never removed, so a tag is never seen
 * twice.
 *
 * Every operation locks `<path>.lock` (flock, exclusive to write, shared
 * to read; each operation opens it anew, so handles in threads of one
 * process exclude each other too), reads and opens the file (none: an
 * empty vault), applies the change and, when something changed, writes
 * `<path>.tmp.<pid>` (O_EXCL, mode 0600), fsyncs it, renames it over the
 * file and fsyncs the directory.  Readers would see a whole file without
 * the lock, a rename being atomic; with a shared one, a read that starts
 * while a write is under way sees that write, and readers never wait for
 * each other.
 *
 * The opened document lives in guarded memory.  cJSON keeps its own
 * copies of the strings it parses: the values are kept base64 in the
 * document, and every value string is zeroed before cJSON frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "util/error.h"
#include "util/secret.h"
#include "vault/vault_private.h"
#include "util/banned.h"

#define FV_MAGIC "CSPFVLT1"
#define FV_FORMAT 1
#define FV_KDF_KEY 0
#define FV_KDF_ARGON2ID 1
#define FV_HEADER 48
#define FV_BOX_AT (FV_HEADER + crypto_secretbox_NONCEBYTES)
#define FV_FILE_MAX (256u * 1024 * 1024)
#define FV_KEYBYTES crypto_secretbox_KEYBYTES
#define FV_SALTBYTES crypto_pwhash_SALTBYTES

struct fv {
	struct cspf_vault parent; /* first: vault.c sees this */
	char *path;               /* the vault file */
	char *lock_path;          /* <path>.lock */
	char *dir;                /* its directory, fsynced after a rename */
	char *key_env;            /* where the key came from, for messages */
	cspf_secret *key;         /* a 32-byte key, or NULL ... */
	cspf_secret *passphrase;  /* ... a passphrase */
	/* The key derived from the passphrase with these parameters. */
	cspf_secret *derived;
	unsigned char salt[FV_SALTBYTES];
	uint64_t opslimit;
	uint64_t memlimit;
};

/* One operation: the lock held and the document read. */
struct fv_txn {
	struct fv *fv;
	int lock_fd;
	cJSON *doc;
	size_t plain_len; /* the size of the document read */
	size_t grow;      /* what the operation added, roughly */
};

static const char *vname(const struct fv *fv)
{
	return fv->parent.name ? fv->parent.name : "(unnamed)";
}

static void put_le64(unsigned char *p, uint64_t x)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t x = 0;
	int i;

	for (i = 7; i >= 0; i--)
		x = (x << 8) | p[i];
	return x;
}

static bool all_hex(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f') ||
		      (p[i] >= 'A' && p[i] <= 'F')))
			return false;
	return true;
}

/* `path` resolved against `base` when relative; malloc'd, NULL on OOM. */
static char *resolve(const char *base, const char *path)
{
	size_t a, b;
	char *s;

	if (path[0] == '/' || !base || !*base)
		return strdup(path);
	a = strlen(base);
	b = strlen(path);
	if (!(s = malloc(a + b + 2)))
		return NULL;
	memcpy(s, base, a);
	s[a] = '/';
	memcpy(s + a + 1, path, b + 1);
	return s;
}

static char *concat(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	char *s = malloc(n + m + 1);

	if (s) {
		memcpy(s, a, n);
		memcpy(s + n, b, m + 1);
	}
	return s;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *s;

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if (!(s = malloc((size_t)(slash - path) + 1)))
		return NULL;
	memcpy(s, path, (size_t)(slash - path));
	s[slash - path] = '\0';
	return s;
}

/*
 * The 32-byte key held in `raw`: 32 bytes as they are, or 64 hex
 * characters (trailing white space ignored).  *out a new secret;
 * CSPF_EINVALID naming `what` when it is neither.
 */
static int key_from(cspf_secret **out, const cspf_secret *raw,
	const char *vault, const char *what)
{
	unsigned char bin[FV_KEYBYTES];
	const unsigned char *p;
	size_t n, binlen = 0;
	int error;

	*out = NULL;
	if (cspf_secret_open(&p, &n, raw) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", vault);
	if (n == FV_KEYBYTES) {
		error = cspf_secret_new(out, p, n);
		goto done;
	}
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' ||
		     p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n != 2 * FV_KEYBYTES || !all_hex(p, n) ||
	    sodium_hex2bin(bin, sizeof(bin), (const char *)p, n, NULL,
		    &binlen, NULL) != 0 || binlen != FV_KEYBYTES) {
		error = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: %s holds neither 64 hex characters nor 32 "
			"bytes: make a key with `cspf vault keygen FILE`",
			vault, what);
		goto done;
	}
	error = cspf_secret_new(out, bin, sizeof(bin));
done:
	sodium_memzero(bin, sizeof(bin));
	cspf_secret_close(raw);
	return error;
}

static int load_key_file(struct fv *fv, const char *name, const char *file)
{
	cspf_secret *raw = NULL;
	char what[4200];
	int error;

	error = cspf_secret_from_file(&raw, file, 0);
	if (error == CSPF_ENOTFOUND)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: key file %s does not exist: fix "
			"\"key_file\" in cspf.json, or make one with `cspf "
			"vault keygen %s`", name, file, file);
	if (error < 0)
		return error; /* names the file and the chmod to run */
	snprintf(what, sizeof(what), "key file %s", file);
	error = key_from(&fv->key, raw, name, what);
	cspf_secret_free(raw);
	return error;
}

static int load_key_env(struct fv *fv, const char *name, const char *env)
{
	cspf_secret *raw = NULL;
	const unsigned char *p;
	char what[300];
	size_t n;
	bool hex;
	int error;

	if (!(fv->key_env = strdup(env)))
		return cspf_error_set_oom();
	error = cspf_secret_from_env(&raw, env);
	if (error == CSPF_ENOTFOUND)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: environment variable %s is unset or empty: "
			"set it to the vault's key (64 hex characters) or "
			"passphrase", name, env);
	if (error < 0)
		return error;
	if (cspf_secret_open(&p, &n, raw) < 0) {
		cspf_secret_free(raw);
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", name);
	}
	hex = n == 2 * FV_KEYBYTES && all_hex(p, n);
	cspf_secret_close(raw);
	if (!hex) {
		fv->passphrase = raw; /* anything else is a passphrase */
		return 0;
	}
	snprintf(what, sizeof(what), "environment variable %s", env);
	error = key_from(&fv->key, raw, name, what);
	cspf_secret_free(raw);
	return error;
}

static void fv_free(cspf_vault *v)
{
	struct fv *fv = (struct fv *)v;

	if (!fv)
		return;
	free(fv->path);
	free(fv->lock_path);
	free(fv->dir);
	free(fv->key_env);
	cspf_secret_free(fv->key);
	cspf_secret_free(fv->passphrase);
	cspf_secret_free(fv->derived);
	free(fv);
}

/*
 * Reads the key now, so that a key file others may read, or a missing
 * one, is refused before anything is asked of the vault.  "key_file"
 * wins over "key_env" when both are given.
 */
static int fv_open(cspf_vault **out, const char *name, const cJSON *config,
	const cspf_vault_options *opts)
{
	const cJSON *path, *key_file, *key_env;
	struct fv *fv;
	char *kf = NULL;
	int error;

	*out = NULL;
	if ((error = cspf_secret_init()) < 0)
		return error;
	path = cJSON_GetObjectItemCaseSensitive(config, "path");
	key_file = cJSON_GetObjectItemCaseSensitive(config, "key_file");
	key_env = cJSON_GetObjectItemCaseSensitive(config, "key_env");
	if (!cJSON_IsString(path) || !*path->valuestring)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: no \"path\" of the vault file in its "
			"configuration in cspf.json", name);
	if ((key_file && (!cJSON_IsString(key_file) ||
			  !*key_file->valuestring)) ||
	    (key_env && (!cJSON_IsString(key_env) ||
			 !*key_env->valuestring)))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: \"key_file\" and \"key_env\" are names "
			"(strings) in cspf.json", name);
	if (!key_file && !key_env)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: no key: give \"key_file\" (a file made by "
			"`cspf vault keygen FILE`) or \"key_env\" (an "
			"environment variable) in its configuration in "
			"cspf.json", name);
	if (!(fv = calloc(1, sizeof(*fv))))
		return cspf_error_set_oom();
	if (!(fv->path = resolve(opts->base_dir, path->valuestring)) ||
	    !(fv->lock_path = concat(fv->path, ".lock")) ||
	    !(fv->dir = dir_of(fv->path))) {
		error = cspf_error_set_oom();
		goto done;
	}
	if (key_file) {
		if (!(kf = resolve(opts->base_dir, key_file->valuestring))) {
			error = cspf_error_set_oom();
			goto done;
		}
		error = load_key_file(fv, name, kf);
	} else {
		error = load_key_env(fv, name, key_env->valuestring);
	}
	if (error < 0)
		goto done;
	*out = &fv->parent;
	fv = NULL;
done:
	free(kf);
	fv_free(fv ? &fv->parent : NULL);
	return error;
}

/*
 * The key that opens a file of salt `salt` and limits `ops`, `mem`:
 * derived from the passphrase, or the handle's when it was derived for
 * them already.
 */
static int derive(struct fv *fv, const unsigned char *salt, uint64_t ops,
	uint64_t mem)
{
	unsigned char key[FV_KEYBYTES];
	const unsigned char *p;
	size_t n;
	int rc;

	if (fv->derived && fv->opslimit == ops && fv->memlimit == mem &&
	    memcmp(fv->salt, salt, FV_SALTBYTES) == 0)
		return 0;
	cspf_secret_free(fv->derived);
	fv->derived = NULL;
	if (cspf_secret_open(&p, &n, fv->passphrase) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", vname(fv));
	rc = crypto_pwhash(key, sizeof(key), (const char *)p, n, salt,
		(unsigned long long)ops, (size_t)mem,
		crypto_pwhash_ALG_ARGON2ID13);
	cspf_secret_close(fv->passphrase);
	if (rc != 0) {
		sodium_memzero(key, sizeof(key));
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot derive the key of %s from the "
			"passphrase: Argon2id needs %" PRIu64 " MiB of memory",
			vname(fv), fv->path, mem >> 20);
	}
	rc = cspf_secret_new(&fv->derived, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (rc < 0)
		return rc;
	memcpy(fv->salt, salt, FV_SALTBYTES);
	fv->opslimit = ops;
	fv->memlimit = mem;
	return 0;
}

/* Every "value" of the document zeroed, then the document freed. */
static void version_zero(cJSON *ver)
{
	cJSON *value = cJSON_GetObjectItemCaseSensitive(ver, "value");

	if (cJSON_IsString(value) && value->valuestring)
		sodium_memzero(value->valuestring, strlen(value->valuestring));
}

static void doc_free(cJSON *doc)
{
	cJSON *secrets, *sec, *ver;

	if (!doc)
		return;
	secrets = cJSON_GetObjectItemCaseSensitive(doc, "secrets");
	cJSON_ArrayForEach(sec, secrets) {
		cJSON_ArrayForEach(ver,
			cJSON_GetObjectItemCaseSensitive(sec, "versions"))
			version_zero(ver);
	}
	cJSON_Delete(doc);
}

static int damaged(const struct fv *fv)
{
	return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
		"vault %s: cannot decrypt vault file %s: wrong key, or the "
		"file is damaged", vname(fv), fv->path);
}

/* Open the box `file` (n bytes) into t->doc. */
static int decrypt(struct fv_txn *t, const unsigned char *file, size_t n)
{
	struct fv *fv = t->fv;
	const unsigned char *key;
	const cspf_secret *ks;
	unsigned char *plain;
	size_t plen, klen;
	uint64_t ops, mem;
	int rc, error;

	if (n < FV_BOX_AT + crypto_secretbox_MACBYTES ||
	    memcmp(file, FV_MAGIC, 8) != 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: %s is not a cspf vault file (it does not "
			"start with " FV_MAGIC "): check \"path\" in cspf.json",
			vname(fv), fv->path);
	if (file[8] != FV_FORMAT)
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"vault %s: vault file %s is of format %u; this cspf "
			"reads format %d: use a newer cspf", vname(fv),
			fv->path, (unsigned int)file[8], FV_FORMAT);
	if (file[9] == FV_KDF_ARGON2ID && !fv->passphrase)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"vault %s: vault file %s is locked with a passphrase, "
			"but the vault's configuration gives a 32-byte key: "
			"name the variable that holds the passphrase in "
			"\"key_env\"", vname(fv), fv->path);
	if (file[9] == FV_KDF_KEY && fv->passphrase)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"vault %s: vault file %s is locked with a 32-byte key, "
			"but $%s holds a passphrase: give the key file in "
			"\"key_file\", or its 64 hex characters in $%s",
			vname(fv), fv->path, fv->key_env, fv->key_env);
	if (file[9] == FV_KDF_ARGON2ID) {
		ops = get_le64(file + 16);
		mem = get_le64(file + 24);
		if (ops < crypto_pwhash_OPSLIMIT_MIN ||
		    ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
		    mem < crypto_pwhash_MEMLIMIT_MIN ||
		    mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
			return damaged(fv);
		if ((error = derive(fv, file + 32, ops, mem)) < 0)
			return error;
		ks = fv->derived;
	} else if (file[9] == FV_KDF_KEY) {
		ks = fv->key;
	} else {
		return damaged(fv);
	}
	plen = n - FV_BOX_AT - crypto_secretbox_MACBYTES;
	if (!(plain = sodium_malloc(plen + 1)))
		return cspf_error_set_oom();
	if (cspf_secret_open(&key, &klen, ks) < 0) {
		sodium_free(plain);
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", vname(fv));
	}
	rc = crypto_secretbox_open_easy(plain, file + FV_BOX_AT,
		n - FV_BOX_AT, file + FV_HEADER, key);
	cspf_secret_close(ks);
	if (rc != 0) {
		sodium_free(plain);
		return damaged(fv);
	}
	plain[plen] = '\0';
	t->doc = cJSON_ParseWithLength((const char *)plain, plen);
	t->plain_len = plen;
	sodium_free(plain); /* zeroes */
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t->doc,
		    "secrets")))
		return damaged(fv); /* the box opened: a bug wrote it */
	return 0;
}

static int read_all(unsigned char **out, size_t *len, int fd,
	const struct fv *fv)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	ssize_t r;

	*out = NULL;
	if (fstat(fd, &st) < 0)
		return cspf_error_set_os("vault %s: cannot read vault file %s",
			vname(fv), fv->path);
	if (!S_ISREG(st.st_mode))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: %s is not a regular file: check \"path\" "
			"in cspf.json", vname(fv), fv->path);
	if ((uint64_t)st.st_size > FV_FILE_MAX)
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"vault %s: vault file %s is larger than %u MiB",
			vname(fv), fv->path, FV_FILE_MAX >> 20);
	if (!(buf = malloc((size_t)st.st_size + 1)))
		return cspf_error_set_oom();
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return cspf_error_set_os(
				"vault %s: cannot read vault file %s",
				vname(fv), fv->path);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*out = buf;
	*len = got;
	return 0;
}

static void txn_end(struct fv_txn *t)
{
	doc_free(t->doc);
	t->doc = NULL;
	if (t->lock_fd >= 0)
		close(t->lock_fd); /* releases the flock */
	t->lock_fd = -1;
}

/*
 * Lock the vault (`op`: LOCK_EX or LOCK_SH, waiting) and read it into
 * t->doc.  Call txn_end() afterwards, whatever this returns.
 */
static int txn_begin(struct fv_txn *t, struct fv *fv, int op)
{
	struct stat st;
	unsigned char *file = NULL;
	size_t n = 0;
	int fd, error;

	memset(t, 0, sizeof(*t));
	t->fv = fv;
	t->lock_fd = open(fv->lock_path,
		O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (t->lock_fd < 0)
		return cspf_error_set_os("vault %s: cannot open the lock file "
			"%s (does the directory exist, may cspf write there?)",
			vname(fv), fv->lock_path);
	if (fstat(t->lock_fd, &st) == 0 && st.st_uid == geteuid() &&
	    (st.st_mode & 07777) != 0600)
		(void)fchmod(t->lock_fd, 0600);
	while (flock(t->lock_fd, op) < 0) {
		if (errno != EINTR)
			return cspf_error_set_os("vault %s: cannot lock %s",
				vname(fv), fv->lock_path);
	}
	fd = open(fv->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		/* No file yet: an empty vault. */
		t->doc = cJSON_Parse("{\"format\":1,\"secrets\":{}}");
		return t->doc ? 0 : cspf_error_set_oom();
	}
	if (fd < 0)
		return cspf_error_set_os("vault %s: cannot read vault file %s",
			vname(fv), fv->path);
	error = read_all(&file, &n, fd, fv);
	close(fd);
	if (error < 0)
		return error;
	error = decrypt(t, file, n);
	free(file); /* ciphertext only */
	return error;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Seal t->doc into a new file and rename it over the vault file. */
static int txn_commit(struct fv_txn *t)
{
	struct fv *fv = t->fv;
	unsigned char salt[FV_SALTBYTES];
	unsigned char *plain = NULL, *file = NULL;
	const unsigned char *key;
	const cspf_secret *ks;
	char tmp[4200];
	size_t size, plen, flen, klen;
	int fd = -1, dfd, error, rc;

	/* The document, printed into guarded memory: no copy on the heap. */
	size = t->plain_len + t->grow + 4096;
	for (;;) {
		if (size > FV_FILE_MAX)
			return cspf_error_set(CSPF_ETOOBIG,
				CSPF_ERRCLASS_INVALID,
				"vault %s: vault file %s would be larger than "
				"%u MiB", vname(fv), fv->path,
				FV_FILE_MAX >> 20);
		if (!(plain = sodium_malloc(size)))
			return cspf_error_set_oom();
		if (cJSON_PrintPreallocated(t->doc, (char *)plain, (int)size,
			    0))
			break;
		sodium_free(plain);
		size *= 2;
	}
	plen = strlen((const char *)plain);

	memset(tmp, 0, sizeof(tmp));
	flen = FV_BOX_AT + crypto_secretbox_MACBYTES + plen;
	if (!(file = calloc(1, flen))) {
		error = cspf_error_set_oom();
		goto done;
	}
	memcpy(file, FV_MAGIC, 8);
	file[8] = FV_FORMAT;
	if (fv->passphrase) {
		if (!fv->derived) {
			/* A new file: a new salt. */
			randombytes_buf(salt, sizeof(salt));
			error = derive(fv, salt,
				crypto_pwhash_OPSLIMIT_MODERATE,
				crypto_pwhash_MEMLIMIT_MODERATE);
			sodium_memzero(salt, sizeof(salt));
			if (error < 0)
				goto done;
		}
		file[9] = FV_KDF_ARGON2ID;
		put_le64(file + 16, fv->opslimit);
		put_le64(file + 24, fv->memlimit);
		memcpy(file + 32, fv->salt, FV_SALTBYTES);
		ks = fv->derived;
	} else {
		file[9] = FV_KDF_KEY;
		ks = fv->key;
	}
	randombytes_buf(file + FV_HEADER, crypto_secretbox_NONCEBYTES);
	if (cspf_secret_open(&key, &klen, ks) < 0) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", vname(fv));
		goto done;
	}
	rc = crypto_secretbox_easy(file + FV_BOX_AT, plain, plen,
		file + FV_HEADER, key);
	cspf_secret_close(ks);
	sodium_free(plain);
	plain = NULL;
	if (rc != 0) {
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot encrypt %s", vname(fv), fv->path);
		goto done;
	}

	/*
	 * The lock is ours: a <path>.tmp.<pid> there is what a process of
	 * this pid left when it died.
	 */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", fv->path, (long)getpid());
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
		O_NOCTTY, 0600);
	if (fd < 0) {
		error = cspf_error_set_os("vault %s: cannot create %s",
			vname(fv), tmp);
		tmp[0] = '\0'; /* not ours to remove */
		goto done;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, file, flen) < 0 ||
	    fsync(fd) < 0) {
		error = cspf_error_set_os("vault %s: cannot write %s",
			vname(fv), tmp);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = cspf_error_set_os("vault %s: cannot write %s",
			vname(fv), tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, fv->path) < 0) {
		error = cspf_error_set_os("vault %s: cannot replace %s",
			vname(fv), fv->path);
		goto done;
	}
	tmp[0] = '\0';
	/* The rename itself must reach the disk before the lock goes. */
	dfd = open(fv->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		error = cspf_error_set_os("vault %s: cannot sync directory %s",
			vname(fv), fv->dir);
		if (dfd >= 0)
			close(dfd);
		goto done;
	}
	close(dfd);
	error = 0;
done:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		(void)unlink(tmp);
	if (plain)
		sodium_free(plain);
	free(file);
	return error;
}

/* The document's entry of `path`, or NULL. */
static cJSON *secret_find(const struct fv_txn *t, const char *path)
{
	cJSON *sec = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(t->doc, "secrets"), path);

	return cJSON_IsObject(sec) ? sec : NULL;
}

/* The entry of `path`, made when missing; NULL when out of memory. */
static cJSON *secret_make(struct fv_txn *t, const char *path)
{
	cJSON *secrets, *sec;

	if ((sec = secret_find(t, path)))
		return sec;
	secrets = cJSON_GetObjectItemCaseSensitive(t->doc, "secrets");
	cJSON_DeleteItemFromObjectCaseSensitive(secrets, path);
	if (!(sec = cJSON_CreateObject()))
		return NULL;
	if (!cJSON_AddNumberToObject(sec, "next", 1) ||
	    !cJSON_AddArrayToObject(sec, "versions")) {
		cJSON_Delete(sec);
		return NULL;
	}
	if (!cJSON_AddItemToObject(secrets, path, sec)) {
		cJSON_Delete(sec);
		return NULL;
	}
	t->grow += strlen(path) + 64;
	return sec;
}

/* Forget the entry of `path` when it holds nothing any more. */
static void secret_prune(struct fv_txn *t, const char *path)
{
	cJSON *sec = secret_find(t, path);

	if (sec && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sec,
			   "versions")) == 0 &&
	    !cJSON_GetObjectItemCaseSensitive(sec, "record"))
		cJSON_DeleteItemFromObjectCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(t->doc, "secrets"),
			path);
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool has_label(const cJSON *ver, const char *label)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(ver, "labels"))
		if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0)
			return true;
	return false;
}

static void unlabel(cJSON *ver, const char *label)
{
	cJSON *labels = cJSON_GetObjectItemCaseSensitive(ver, "labels");
	cJSON *l, *next;

	for (l = labels ? labels->child : NULL; l; l = next) {
		next = l->next;
		if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(labels, l));
	}
}

static int add_label(cJSON *ver, const char *label)
{
	cJSON *labels = cJSON_GetObjectItemCaseSensitive(ver, "labels");
	cJSON *l;

	if (!labels && !(labels = cJSON_AddArrayToObject(ver, "labels")))
		return cspf_error_set_oom();
	if (!(l = cJSON_CreateString(label)) ||
	    !cJSON_AddItemToArray(labels, l)) {
		cJSON_Delete(l);
		return cspf_error_set_oom();
	}
	return 0;
}

static cJSON *find_label(cJSON *sec, const char *label)
{
	cJSON *ver;

	cJSON_ArrayForEach(ver, cJSON_GetObjectItemCaseSensitive(sec,
				       "versions"))
		if (has_label(ver, label))
			return ver;
	return NULL;
}

static cJSON *find_rotation(cJSON *sec, const char *rotation_id)
{
	cJSON *ver;
	const char *r;

	cJSON_ArrayForEach(ver, cJSON_GetObjectItemCaseSensitive(sec,
				       "versions")) {
		r = str_of(ver, "rotation_id");
		if (r && strcmp(r, rotation_id) == 0)
			return ver;
	}
	return NULL;
}

/* Drop the versions without a label: their values go with them. */
static void drop_unlabelled(cJSON *sec)
{
	cJSON *versions = cJSON_GetObjectItemCaseSensitive(sec, "versions");
	cJSON *ver, *next;

	for (ver = versions ? versions->child : NULL; ver; ver = next) {
		next = ver->next;
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ver,
			    "labels")) > 0)
			continue;
		cJSON_DetachItemViaPointer(versions, ver);
		version_zero(ver);
		cJSON_Delete(ver);
	}
}

/* `label` moved from whatever version holds it to `ver`. */
static int move_label(cJSON *sec, cJSON *ver, const char *label)
{
	cJSON *old = find_label(sec, label);

	if (old == ver)
		return 0;
	if (old)
		unlabel(old, label);
	return add_label(ver, label);
}

/*
 * A new version of `sec` holding `value`, labelled `label` (which leaves
 * the version that had it); *out lent.
 */
static int version_add(cJSON **out, struct fv_txn *t, cJSON *sec,
	const cspf_secret *value, const char *rotation_id,
	const char *key_id, const char *label)
{
	cJSON *next = cJSON_GetObjectItemCaseSensitive(sec, "next");
	cJSON *versions = cJSON_GetObjectItemCaseSensitive(sec, "versions");
	cJSON *ver = NULL, *item = NULL;
	const unsigned char *p;
	char *b64 = NULL;
	char id[24];
	uint64_t n = 1;
	size_t len, blen;
	int error;

	*out = NULL;
	if (cJSON_IsNumber(next) && next->valuedouble >= 1 &&
	    next->valuedouble < 9007199254740992.0)
		n = (uint64_t)next->valuedouble;
	snprintf(id, sizeof(id), "%" PRIu64, n);
	if (!cJSON_IsArray(versions)) {
		cJSON_DeleteItemFromObjectCaseSensitive(sec, "versions");
		if (!(versions = cJSON_AddArrayToObject(sec, "versions")))
			return cspf_error_set_oom();
	}
	if (cspf_secret_open(&p, &len, value) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory",
			vname(t->fv));
	blen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = sodium_malloc(blen)))
		sodium_bin2base64(b64, blen, p, len,
			sodium_base64_VARIANT_ORIGINAL);
	cspf_secret_close(value);
	if (!b64)
		return cspf_error_set_oom();
	item = cJSON_CreateString(b64); /* zeroed by version_zero() */
	sodium_free(b64);
	if (!item || !(ver = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(ver, "id", id)) {
		error = cspf_error_set_oom();
		goto fail;
	}
	cJSON_AddItemToObject(ver, "value", item);
	item = NULL;
	if ((rotation_id &&
	     !cJSON_AddStringToObject(ver, "rotation_id", rotation_id)) ||
	    (key_id && !cJSON_AddStringToObject(ver, "key_id", key_id)) ||
	    !cJSON_AddNumberToObject(ver, "created", (double)time(NULL)) ||
	    !cJSON_AddArrayToObject(ver, "labels")) {
		error = cspf_error_set_oom();
		goto fail;
	}
	if ((error = move_label(sec, ver, label)) < 0)
		goto fail;
	cJSON_AddItemToArray(versions, ver);
	if (cJSON_IsNumber(next))
		cJSON_SetNumberValue(next, (double)(n + 1));
	else if (!cJSON_AddNumberToObject(sec, "next", (double)(n + 1)))
		return cspf_error_set_oom(); /* ver is in the document */
	t->grow += blen + (key_id ? strlen(key_id) : 0) + 256;
	*out = ver;
	return 0;
fail:
	if (item) {
		sodium_memzero(item->valuestring, strlen(item->valuestring));
		cJSON_Delete(item);
	}
	if (ver) {
		version_zero(ver);
		cJSON_Delete(ver);
	}
	return error;
}

static int fv_get(cspf_secret **value, cspf_vault_version *info,
	cspf_vault *v, const char *path, cspf_vault_label label)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	const cJSON *created;
	const char *b64, *s;
	unsigned char *bin = NULL;
	size_t blen, n = 0;
	cJSON *sec, *ver;
	int error;

	if ((error = txn_begin(&t, fv, LOCK_SH)) < 0)
		goto done;
	sec = secret_find(&t, path);
	ver = sec ? find_label(sec, cspf_vault_label_name(label)) : NULL;
	if (!ver) {
		error = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: no %s version of %s", vname(fv),
			cspf_vault_label_name(label), path);
		goto done;
	}
	if (value) {
		b64 = str_of(ver, "value");
		blen = b64 ? strlen(b64) : 0;
		if (!b64 || !(bin = sodium_malloc(blen / 4 * 3 + 3))) {
			error = b64 ? cspf_error_set_oom() : damaged(fv);
			goto done;
		}
		if (sodium_base642bin(bin, blen / 4 * 3 + 3, b64, blen, NULL,
			    &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
			error = damaged(fv);
			goto done;
		}
		if ((error = cspf_secret_new(value, bin, n)) < 0)
			goto done;
	}
	if (info) {
		created = cJSON_GetObjectItemCaseSensitive(ver, "created");
		info->created = cJSON_IsNumber(created) ?
			(int64_t)created->valuedouble : 0;
		if (((s = str_of(ver, "id")) &&
		     !(info->version = strdup(s))) ||
		    ((s = str_of(ver, "rotation_id")) &&
		     !(info->rotation_id = strdup(s))) ||
		    ((s = str_of(ver, "key_id")) &&
		     !(info->key_id = strdup(s)))) {
			error = cspf_error_set_oom();
			goto done;
		}
	}
	error = 0;
done:
	if (bin)
		sodium_free(bin);
	txn_end(&t);
	return error;
}

static int fv_stage(cspf_vault *v, const char *path, const char *rotation_id,
	const cspf_secret *value, const char *key_id)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	cJSON *sec, *ver;
	int error;

	if ((error = txn_begin(&t, fv, LOCK_EX)) < 0)
		goto done;
	sec = secret_find(&t, path);
	if (sec && (ver = find_rotation(sec, rotation_id))) {
		/* Staged (or promoted) already: a rerun. */
		if (has_label(ver, "pending") || has_label(ver, "current"))
			goto done;
		error = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: rotation %s of %s is over and a later one "
			"replaced its value: start a new rotation", vname(fv),
			rotation_id, path);
		goto done;
	}
	if (!(sec = secret_make(&t, path))) {
		error = cspf_error_set_oom();
		goto done;
	}
	if ((error = version_add(&ver, &t, sec, value, rotation_id, key_id,
		     "pending")) < 0)
		goto done;
	drop_unlabelled(sec);
	error = txn_commit(&t);
done:
	txn_end(&t);
	return error;
}

static int fv_promote(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	cJSON *sec, *ver, *cur;
	int error;

	if ((error = txn_begin(&t, fv, LOCK_EX)) < 0)
		goto done;
	sec = secret_find(&t, path);
	ver = sec ? find_rotation(sec, rotation_id) : NULL;
	if (!ver) {
		error = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: no version of rotation %s at %s: stage it "
			"first", vname(fv), rotation_id, path);
		goto done;
	}
	if (has_label(ver, "current"))
		goto done; /* promoted already */
	if (!has_label(ver, "pending")) {
		error = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: rotation %s of %s is over and a later one "
			"replaced its value: it cannot become current again",
			vname(fv), rotation_id, path);
		goto done;
	}
	if ((cur = find_label(sec, "current")) &&
	    (error = move_label(sec, cur, "previous")) < 0)
		goto done;
	if (cur)
		unlabel(cur, "current");
	unlabel(ver, "pending");
	if ((error = add_label(ver, "current")) < 0)
		goto done;
	drop_unlabelled(sec);
	error = txn_commit(&t);
done:
	txn_end(&t);
	return error;
}

static int fv_discard(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	cJSON *sec, *ver;
	int error;

	if ((error = txn_begin(&t, fv, LOCK_EX)) < 0)
		goto done;
	sec = secret_find(&t, path);
	ver = sec ? find_rotation(sec, rotation_id) : NULL;
	if (!ver || !has_label(ver, "pending"))
		goto done; /* nothing to drop; current is never touched */
	unlabel(ver, "pending");
	drop_unlabelled(sec);
	secret_prune(&t, path);
	error = txn_commit(&t);
done:
	txn_end(&t);
	return error;
}

static int fv_put(cspf_vault *v, const char *path, const cspf_secret *value,
	const char *key_id)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	cJSON *sec, *ver, *cur;
	int error;

	if ((error = txn_begin(&t, fv, LOCK_EX)) < 0)
		goto done;
	if (!(sec = secret_make(&t, path))) {
		error = cspf_error_set_oom();
		goto done;
	}
	cur = find_label(sec, "current");
	if (cur && (error = move_label(sec, cur, "previous")) < 0)
		goto done;
	if ((error = version_add(&ver, &t, sec, value, NULL, key_id,
		     "current")) < 0)
		goto done;
	drop_unlabelled(sec);
	error = txn_commit(&t);
done:
	txn_end(&t);
	return error;
}

static int fv_record_get(char **record, char **tag, cspf_vault *v,
	const char *path)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	const cJSON *rec, *n;
	const char *data;
	char buf[24];
	cJSON *sec;
	int error;

	if ((error = txn_begin(&t, fv, LOCK_SH)) < 0)
		goto done;
	sec = secret_find(&t, path);
	rec = sec ? cJSON_GetObjectItemCaseSensitive(sec, "record") : NULL;
	data = str_of(rec, "data");
	n = cJSON_GetObjectItemCaseSensitive(rec, "tag");
	if (!data || !cJSON_IsNumber(n)) {
		error = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: no rotation record at %s", vname(fv), path);
		goto done;
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, (uint64_t)n->valuedouble);
	if (!(*record = strdup(data)) || !(*tag = strdup(buf)))
		error = cspf_error_set_oom(); /* vault.c frees *record */
done:
	txn_end(&t);
	return error;
}

static int fv_record_put(cspf_vault *v, const char *path,
	const char *record, const char *tag, char **new_tag)
{
	struct fv *fv = (struct fv *)v;
	struct fv_txn t;
	cJSON *sec, *rec, *n;
	uint64_t now = 0;
	char buf[24];
	int error;

	if ((error = txn_begin(&t, fv, LOCK_EX)) < 0)
		goto done;
	sec = secret_find(&t, path);
	rec = sec ? cJSON_GetObjectItemCaseSensitive(sec, "record") : NULL;
	n = cJSON_GetObjectItemCaseSensitive(rec, "tag");
	if (rec && cJSON_IsNumber(n)) {
		now = (uint64_t)n->valuedouble;
		snprintf(buf, sizeof(buf), "%" PRIu64, now);
	}
	if (!tag && rec) {
		error = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: %s has a rotation record already (another "
			"run wrote it): read it and decide", vname(fv), path);
		goto done;
	}
	if (tag && (!rec || strcmp(tag, buf) != 0)) {
		error = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: the rotation record of %s changed since it "
			"was read (another run wrote it): read it again and "
			"decide", vname(fv), path);
		goto done;
	}
	if (!(sec = secret_make(&t, path))) {
		error = cspf_error_set_oom();
		goto done;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(sec, "record");
	if (!(rec = cJSON_AddObjectToObject(sec, "record")) ||
	    !cJSON_AddStringToObject(rec, "data", record) ||
	    !cJSON_AddNumberToObject(rec, "tag", (double)(now + 1))) {
		error = cspf_error_set_oom();
		goto done;
	}
	t.grow += 2 * strlen(record) + 64;
	if ((error = txn_commit(&t)) < 0)
		goto done;
	snprintf(buf, sizeof(buf), "%" PRIu64, now + 1);
	if (new_tag && !(*new_tag = strdup(buf)))
		error = cspf_error_set_oom(); /* written all the same */
done:
	txn_end(&t);
	return error;
}

int cspf_vault_file_keygen(const char *path)
{
	unsigned char key[FV_KEYBYTES];
	char hex[2 * FV_KEYBYTES + 2];
	int fd, error = 0;

	if (!path || !*path)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault key file: no path");
	if ((error = cspf_secret_init()) < 0)
		return error;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
		O_NOCTTY, 0600);
	if (fd < 0 && errno == EEXIST)
		return cspf_error_set(CSPF_EEXISTS, CSPF_ERRCLASS_INVALID,
			"vault key file %s exists already: cspf never "
			"overwrites a key (the vault it opens would be lost)",
			path);
	if (fd < 0)
		return cspf_error_set_os("vault key file %s", path);
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex) - 1, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	hex[2 * FV_KEYBYTES] = '\n';
	hex[2 * FV_KEYBYTES + 1] = '\0';
	if (fchmod(fd, 0600) < 0 ||
	    write_all(fd, (const unsigned char *)hex, sizeof(hex) - 1) < 0 ||
	    fsync(fd) < 0)
		error = cspf_error_set_os("vault key file %s", path);
	sodium_memzero(hex, sizeof(hex));
	if (close(fd) < 0 && error == 0)
		error = cspf_error_set_os("vault key file %s", path);
	if (error < 0)
		(void)unlink(path); /* ours: O_EXCL made it */
	return error;
}

const struct cspf_vault_backend cspf_vault_file_backend = {
	.version = CSPF_VAULT_BACKEND_VERSION,
	.type = "file",
	.open = fv_open,
	.get = fv_get,
	.stage = fv_stage,
	.promote = fv_promote,
	.discard = fv_discard,
	.put = fv_put,
	.record_get = fv_record_get,
	.record_put = fv_record_put,
	.free = fv_free,
};
