/*
 * The audit log: appending signed, chained records under a mutex and a
 * flock, and checking the chain.  The format is described in
 * include/cspf/audit.h and docs/audit-log.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/audit.h"
#include "cspf/json.h"
#include "cspf/time.h"
#include "cspf/vault.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/banned.h"

#define HASH_BYTES 32
#define HASH_HEX (HASH_BYTES * 2)
#define SIG_B64 88 /* base64 of 64 bytes, padded */
#define SIG_PREFIX ",\"sig\":\""
#define SIG_PREFIX_LEN (sizeof(SIG_PREFIX) - 1)
#define SEED_B64 44
#define MONTH_NAME_LEN 13 /* "2026-11.jsonl" */
#define LINE_MAX_BYTES (64 * 1024)
#define FILE_MAX_BYTES ((size_t)1 << 30)

static const char ZERO_HASH[HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* ---- keys ---- */

struct cspf_audit_signer {
	cspf_secret *sk; /* libsodium's 64-byte Ed25519 secret key */
	char pub[CSPF_AUDIT_PUBLIC_KEY_SIZE];
	char id[CSPF_AUDIT_KEY_ID_SIZE];
	pthread_mutex_t mu; /* a cspf_secret is for one thread at a time */
};

static void key_id_of(char id[CSPF_AUDIT_KEY_ID_SIZE],
	const unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	unsigned char h[HASH_BYTES];
	char hex[HASH_HEX + 1];

	crypto_generichash(h, sizeof(h), pk, crypto_sign_PUBLICKEYBYTES,
		NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	memcpy(id, hex, CSPF_AUDIT_KEY_ID_SIZE - 1);
	id[CSPF_AUDIT_KEY_ID_SIZE - 1] = '\0';
}

/* Decode a base64 public key; -1 when it is not 32 bytes of base64. */
static int decode_public_key(unsigned char pk[crypto_sign_PUBLICKEYBYTES],
	const char *b64)
{
	size_t n = 0;
	const char *end = NULL;

	if (!b64 || strlen(b64) != CSPF_AUDIT_PUBLIC_KEY_SIZE - 1)
		return -1;
	if (sodium_base642bin(pk, crypto_sign_PUBLICKEYBYTES, b64,
		    strlen(b64), NULL, &n, &end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
		n != crypto_sign_PUBLICKEYBYTES || *end)
		return -1;
	return 0;
}

int cspf_audit_key_id(char key_id[CSPF_AUDIT_KEY_ID_SIZE],
	const char *public_key)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];

	if (cspf_secret_init() < 0)
		return CSPF_ERROR;
	if (decode_public_key(pk, public_key) < 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: not an Ed25519 public key (the base64 of 32 "
			"bytes, 44 characters, as cspf audit keygen prints)");
	key_id_of(key_id, pk);
	return 0;
}

/*
 * A signer from the text of a key (a seed in base64, trailing white
 * space allowed).  The seed and the expanded key only ever sit in guarded
 * memory.
 */
static int signer_from_text(cspf_audit_signer **out,
	const unsigned char *text, size_t len, const char *what)
{
	unsigned char *seed = NULL, *sk = NULL;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	cspf_audit_signer *s = NULL;
	size_t n = 0;
	const char *end = NULL;
	int rc = CSPF_ERROR;

	*out = NULL;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
		       text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	seed = sodium_malloc(crypto_sign_SEEDBYTES);
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	s = calloc(1, sizeof(*s));
	if (!seed || !sk || !s) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if (len != SEED_B64 ||
		sodium_base642bin(seed, crypto_sign_SEEDBYTES,
			(const char *)text, len, NULL, &n, &end,
			sodium_base64_VARIANT_ORIGINAL) != 0 ||
		n != crypto_sign_SEEDBYTES ||
		end != (const char *)text + len) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: %s does not hold an audit signing key (one "
			"line: the base64 of a 32-byte Ed25519 seed, as "
			"cspf audit keygen writes it)", what);
		goto done;
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	if ((rc = cspf_secret_new(&s->sk, sk, crypto_sign_SECRETKEYBYTES)) < 0)
		goto done;
	/* Signs every step of every rotation: readable while it lives. */
	cspf_secret_hold(s->sk);
	sodium_bin2base64(s->pub, sizeof(s->pub), pk, sizeof(pk),
		sodium_base64_VARIANT_ORIGINAL);
	key_id_of(s->id, pk);
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		cspf_secret_free(s->sk);
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"audit: cannot make a mutex");
		goto done;
	}
	*out = s;
	s = NULL;
	rc = 0;
done:
	sodium_free(seed);
	sodium_free(sk);
	free(s);
	return rc;
}

int cspf_audit_signer_from_secret(cspf_audit_signer **out,
	const cspf_secret *key)
{
	const unsigned char *p;
	size_t n;
	int rc;

	if (!out || !key)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_signer_from_secret: NULL argument");
	*out = NULL;
	if (cspf_secret_init() < 0)
		return CSPF_ERROR;
	if ((rc = cspf_secret_open(&p, &n, key)) < 0)
		return rc;
	rc = signer_from_text(out, p, n, "the secret given");
	cspf_secret_close(key);
	return rc;
}

int cspf_audit_signer_from_file(cspf_audit_signer **out, const char *path)
{
	cspf_secret *key = NULL;
	const unsigned char *p;
	cspf_buf what = CSPF_BUF_INIT;
	size_t n;
	int rc;

	if (!out || !path)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_signer_from_file: NULL argument");
	*out = NULL;
	if (cspf_secret_init() < 0)
		return CSPF_ERROR;
	if ((rc = cspf_secret_from_file(&key, path, CSPF_SECRET_FILE_TRIM)) < 0)
		return rc;
	if ((rc = cspf_secret_open(&p, &n, key)) == 0) {
		cspf_buf_printf(&what, "the key file %s", path);
		rc = signer_from_text(out, p, n,
			cspf_buf_oom(&what) ? "the key file" : what.ptr);
		cspf_secret_close(key);
	}
	cspf_buf_dispose(&what);
	cspf_secret_free(key);
	return rc;
}

int cspf_audit_signer_from_config(cspf_audit_signer **out,
	const cJSON *config, const cJSON *vaults, const char *base_dir)
{
	const cJSON *sk, *file, *vname, *vpath, *vconf;
	cspf_vault_options vo = CSPF_VAULT_OPTIONS_INIT;
	cspf_vault *v = NULL;
	cspf_secret *value = NULL;
	cspf_buf path = CSPF_BUF_INIT;
	int rc;

	if (!out)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_signer_from_config: NULL argument");
	*out = NULL;
	sk = cJSON_GetObjectItemCaseSensitive(config, "signing_key");
	if (!sk)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"audit: cspf.json has no audit.signing_key: set it to "
			"{\"file\": PATH} or {\"vault\": NAME, \"path\": P}");
	file = cJSON_GetObjectItemCaseSensitive(sk, "file");
	vname = cJSON_GetObjectItemCaseSensitive(sk, "vault");
	vpath = cJSON_GetObjectItemCaseSensitive(sk, "path");
	if (cJSON_IsString(file) && file->valuestring[0]) {
		if (file->valuestring[0] != '/' && base_dir && *base_dir)
			cspf_buf_printf(&path, "%s/%s", base_dir,
				file->valuestring);
		else
			cspf_buf_puts(&path, file->valuestring);
		if (cspf_buf_oom(&path))
			return cspf_error_set_oom();
		rc = cspf_audit_signer_from_file(out, path.ptr);
		cspf_buf_dispose(&path);
		return rc;
	}
	if (!cJSON_IsString(vname) || !cJSON_IsString(vpath))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: audit.signing_key in cspf.json is neither "
			"{\"file\": PATH} nor {\"vault\": NAME, \"path\": P}");
	vconf = cJSON_GetObjectItemCaseSensitive(vaults, vname->valuestring);
	if (!cJSON_IsObject(vconf))
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"audit: audit.signing_key names the vault '%s', which "
			"cspf.json does not declare under vaults",
			vname->valuestring);
	vo.base_dir = base_dir;
	if ((rc = cspf_vault_open(&v, vname->valuestring, vconf, &vo)) < 0)
		return rc;
	rc = cspf_vault_get(&value, NULL, v, vpath->valuestring,
		CSPF_VAULT_CURRENT);
	if (rc == 0)
		rc = cspf_audit_signer_from_secret(out, value);
	cspf_secret_free(value);
	cspf_vault_free(v);
	return rc;
}

const char *cspf_audit_signer_public_key(const cspf_audit_signer *s)
{
	return s ? s->pub : NULL;
}

const char *cspf_audit_signer_key_id(const cspf_audit_signer *s)
{
	return s ? s->id : NULL;
}

void cspf_audit_signer_free(cspf_audit_signer *s)
{
	if (!s)
		return;
	cspf_secret_free(s->sk);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Sign `len` bytes at `msg` into sig. */
static int sign(unsigned char sig[crypto_sign_BYTES],
	const cspf_audit_signer *cs, const void *msg, size_t len)
{
	cspf_audit_signer *s = (cspf_audit_signer *)cs;
	const unsigned char *sk;
	size_t n;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = cspf_secret_open(&sk, &n, s->sk);
	if (rc == 0) {
		crypto_sign_detached(sig, NULL, msg, len, sk);
		cspf_secret_close(s->sk);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Write all of `len` bytes, or -1 with errno. */
static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cspf_audit_keygen(char public_key[CSPF_AUDIT_PUBLIC_KEY_SIZE],
	char key_id[CSPF_AUDIT_KEY_ID_SIZE], const char *path)
{
	unsigned char *seed = NULL, *sk = NULL;
	char *text = NULL;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	int fd = -1, rc = CSPF_ERROR;

	if (!public_key || !path)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_keygen: NULL argument");
	if (cspf_secret_init() < 0)
		return CSPF_ERROR;
	seed = sodium_malloc(crypto_sign_SEEDBYTES);
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	text = sodium_malloc(SEED_B64 + 2);
	if (!seed || !sk || !text) {
		rc = cspf_error_set_oom();
		goto done;
	}
	randombytes_buf(seed, crypto_sign_SEEDBYTES);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2base64(text, SEED_B64 + 1, seed, crypto_sign_SEEDBYTES,
		sodium_base64_VARIANT_ORIGINAL);
	text[SEED_B64] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		0600);
	if (fd < 0) {
		rc = errno == EEXIST ?
			cspf_error_set(CSPF_EEXISTS, CSPF_ERRCLASS_OS,
				"audit: %s exists: cspf audit keygen never "
				"overwrites a key; choose another file", path) :
			cspf_error_set_os("audit: cannot create %s", path);
		goto done;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, text, SEED_B64 + 1) < 0 ||
		fsync(fd) != 0) {
		rc = cspf_error_set_os("audit: cannot write %s", path);
		unlink(path);
		goto done;
	}
	sodium_bin2base64(public_key, CSPF_AUDIT_PUBLIC_KEY_SIZE, pk,
		sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
	if (key_id)
		key_id_of(key_id, pk);
	rc = 0;
done:
	if (fd >= 0 && close(fd) != 0 && rc == 0) {
		rc = cspf_error_set_os("audit: cannot write %s", path);
		unlink(path);
	}
	sodium_free(seed);
	sodium_free(sk);
	sodium_free(text);
	return rc;
}

/* ---- the files ---- */

/* Whether `name` is "YYYY-MM.jsonl" with a month from 01 to 12. */
static bool is_month_file(const char *name)
{
	int i;

	if (strlen(name) != MONTH_NAME_LEN ||
		strcmp(name + 7, ".jsonl") != 0 || name[4] != '-')
		return false;
	for (i = 0; i < 7; i++)
		if (i != 4 && (name[i] < '0' || name[i] > '9'))
			return false;
	return (name[5] == '0' && name[6] >= '1') ||
		(name[5] == '1' && name[6] <= '2');
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n;
	char *odd; /* the first *.jsonl that is not a month file */
};

static void names_dispose(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	free(ns->odd);
	memset(ns, 0, sizeof(*ns));
}

/*
 * The month files of `audit_dir`, sorted (so in month order).  A missing
 * directory gives none.
 */
static int list_months(struct names *ns, const char *audit_dir)
{
	DIR *d;
	struct dirent *e;
	size_t alloc = 0, len;
	char **nv;

	memset(ns, 0, sizeof(*ns));
	d = opendir(audit_dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return cspf_error_set_os("audit: cannot read %s", audit_dir);
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!is_month_file(e->d_name)) {
			len = strlen(e->d_name);
			if (!ns->odd && len > 6 &&
				!strcmp(e->d_name + len - 6, ".jsonl"))
				ns->odd = strdup(e->d_name);
			continue;
		}
		if (ns->n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			nv = realloc(ns->v, alloc * sizeof(*nv));
			if (!nv)
				goto oom;
			ns->v = nv;
		}
		if (!(ns->v[ns->n] = strdup(e->d_name)))
			goto oom;
		ns->n++;
	}
	if (errno) {
		closedir(d);
		names_dispose(ns);
		return cspf_error_set_os("audit: cannot read %s", audit_dir);
	}
	closedir(d);
	if (ns->n)
		qsort(ns->v, ns->n, sizeof(*ns->v), cmp_names);
	return 0;
oom:
	closedir(d);
	names_dispose(ns);
	return cspf_error_set_oom();
}

static void hash_hex(char out[HASH_HEX + 1], const void *data, size_t len)
{
	unsigned char h[HASH_BYTES];

	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	sodium_bin2hex(out, HASH_HEX + 1, h, sizeof(h));
}

/* ---- appending ---- */

struct cspf_audit_log {
	char *audit_dir; /* <registry>/audit */
	char *lock_path;
	const cspf_audit_signer *signer;
	pthread_mutex_t mu;
};

int cspf_audit_open(cspf_audit_log **out, const char *dir,
	const cspf_audit_signer *signer)
{
	cspf_audit_log *log;
	cspf_buf a = CSPF_BUF_INIT, l = CSPF_BUF_INIT;

	if (!out || !dir || !signer)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_open: NULL argument");
	*out = NULL;
	if (!(log = calloc(1, sizeof(*log))))
		return cspf_error_set_oom();
	cspf_buf_printf(&a, "%s/audit", dir);
	cspf_buf_printf(&l, "%s/audit/.lock", dir);
	if (cspf_buf_oom(&a) || cspf_buf_oom(&l) ||
		pthread_mutex_init(&log->mu, NULL) != 0) {
		cspf_buf_dispose(&a);
		cspf_buf_dispose(&l);
		free(log);
		return cspf_error_set_oom();
	}
	log->audit_dir = cspf_buf_detach(&a);
	log->lock_path = cspf_buf_detach(&l);
	log->signer = signer;
	*out = log;
	return 0;
}

void cspf_audit_free(cspf_audit_log *log)
{
	if (!log)
		return;
	pthread_mutex_destroy(&log->mu);
	free(log->audit_dir);
	free(log->lock_path);
	free(log);
}

/* Whether `s` is valid UTF-8 with no control character. */
static bool clean_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	unsigned int c, need, min;

	while (p < end) {
		c = *p++;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			min = 0x80;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			min = 0x800;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			min = 0x10000;
			c &= 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < need)
			return false;
		while (need--) {
			if ((*p & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (*p++ & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		if (c >= 0x80 && c < 0xa0) /* C1 controls */
			return false;
	}
	return true;
}

static bool is_word(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
			    *s == '_' || *s == '-'))
			return false;
	return true;
}

static int check_field(const char *name, const char *v, bool required,
	bool word, size_t max)
{
	size_t len;

	if (!v) {
		if (!required)
			return 0;
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: a record needs its %s", name);
	}
	len = strlen(v);
	if (required && !len)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: a record's %s is empty", name);
	if (len > max)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: a record's %s is %zu bytes, more than the %zu "
			"allowed", name, len, max);
	if (!clean_text(v, len))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: a record's %s is not UTF-8 text without "
			"control characters", name);
	if (word && !is_word(v))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: a record's %s must be one lower-case word "
			"([a-z][a-z0-9_-]*)", name);
	return 0;
}

static int check_record(const cspf_audit_record *r)
{
	int rc;

	if (r->version != CSPF_AUDIT_RECORD_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: record version %u (this build knows %d): "
			"use CSPF_AUDIT_RECORD_INIT", r->version,
			CSPF_AUDIT_RECORD_VERSION);
	if (r->time < 0 || r->time > INT64_C(253402300799))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: a record's time is out of range");
	if ((rc = check_field("actor", r->actor, true, false,
		     CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("credential", r->credential, true, false,
			 CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("rotation", r->rotation, false, false,
			 CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("step", r->step, true, true,
			 CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("outcome", r->outcome, true, true,
			 CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("old key id", r->key_old, false, false,
			 CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("new key id", r->key_new, false, false,
			 CSPF_AUDIT_FIELD_MAX)) < 0 ||
		(rc = check_field("detail", r->detail, false, false,
			 CSPF_AUDIT_DETAIL_MAX)) < 0)
		return rc;
	return 0;
}

static void put_string(cspf_buf *b, const char *name, const char *v)
{
	cspf_buf_printf(b, "\"%s\":", name);
	if (!v) {
		cspf_buf_puts(b, "null");
		return;
	}
	cspf_buf_putc(b, '"');
	cspf_buf_put_json_escaped(b, v, strlen(v));
	cspf_buf_putc(b, '"');
}

/*
 * The last line of the log: the last line of the newest month file that
 * has one, into *line (the caller's), with its file name into *where.
 * *line stays empty for an empty log.
 */
static int last_line(cspf_buf *line, cspf_buf *where, const char *audit_dir,
	const struct names *ns)
{
	cspf_buf path = CSPF_BUF_INIT;
	char *tail = NULL;
	struct stat st;
	size_t i, want, start;
	ssize_t got;
	int fd = -1, rc = 0;

	for (i = ns->n; i-- > 0;) {
		cspf_buf_clear(&path);
		cspf_buf_printf(&path, "%s/%s", audit_dir, ns->v[i]);
		if (cspf_buf_oom(&path)) {
			rc = cspf_error_set_oom();
			goto done;
		}
		fd = open(path.ptr, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			rc = cspf_error_set_os("audit: cannot read %s",
				path.ptr);
			goto done;
		}
		if (st.st_size == 0) {
			close(fd);
			fd = -1;
			continue;
		}
		want = st.st_size > LINE_MAX_BYTES + 1 ?
			LINE_MAX_BYTES + 1 : (size_t)st.st_size;
		if (!(tail = malloc(want))) {
			rc = cspf_error_set_oom();
			goto done;
		}
		got = pread(fd, tail, want, st.st_size - (off_t)want);
		if (got != (ssize_t)want) {
			rc = cspf_error_set_os("audit: cannot read %s",
				path.ptr);
			goto done;
		}
		cspf_buf_printf(where, "audit/%s", ns->v[i]);
		if (tail[want - 1] != '\n') {
			rc = cspf_error_set(CSPF_ECONFLICT,
				CSPF_ERRCLASS_INVALID,
				"audit: the last line of audit/%s is "
				"incomplete (a write cut short?): run cspf "
				"audit verify, then remove the partial line",
				ns->v[i]);
			goto done;
		}
		for (start = want - 1; start > 0 && tail[start - 1] != '\n';
			start--)
			;
		if (start == 0 && want < (size_t)st.st_size) {
			rc = cspf_error_set(CSPF_ECONFLICT,
				CSPF_ERRCLASS_INVALID,
				"audit: the last line of audit/%s is longer "
				"than any record: run cspf audit verify",
				ns->v[i]);
			goto done;
		}
		cspf_buf_put(line, tail + start, want - 1 - start);
		if (cspf_buf_oom(line) || cspf_buf_oom(where))
			rc = cspf_error_set_oom();
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	free(tail);
	cspf_buf_dispose(&path);
	return rc;
}

/* The seq of the record on `line`, or CSPF_ECONFLICT. */
static int seq_of(uint64_t *out, const cspf_buf *line, const char *where)
{
	cspf_json_doc *doc = NULL;
	const cJSON *seq;
	int rc = 0;

	if (cspf_json_parse(&doc, line->ptr, line->size, where, NULL) < 0)
		return cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"audit: the last line of %s is not a record: run cspf "
			"audit verify", where);
	seq = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(doc), "seq");
	if (!cJSON_IsNumber(seq) || cspf_json_number_text(seq) ||
		seq->valuedouble < 1 || seq->valuedouble > 9007199254740991.0 ||
		seq->valuedouble != (double)(uint64_t)seq->valuedouble)
		rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"audit: the last record of %s has no valid seq: run "
			"cspf audit verify", where);
	else
		*out = (uint64_t)seq->valuedouble;
	cspf_json_doc_free(doc);
	return rc;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/*
 * Build, sign and write the record; the caller holds both locks.
 */
/*
 * Write the record under the locks; *sync_fd gets a descriptor of the
 * file for the fsync the caller does once the locks are released, so that
 * workers appending at once share the disk's flushes (group commit)
 * instead of queueing one flush each behind the lock.  An fsync covers
 * every write made to the file before it, so a record is on disk, with
 * all the records before it, when its append returns.
 */
static int append_locked(uint64_t *seq_out, cspf_audit_log *log,
	const cspf_audit_record *r, int *sync_fd)
{
	struct names ns;
	cspf_buf line = CSPF_BUF_INIT, where = CSPF_BUF_INIT;
	cspf_buf rec = CSPF_BUF_INIT, path = CSPF_BUF_INIT;
	char prev[HASH_HEX + 1], when[CSPF_TIME_BUFSIZE], month[8];
	char sig64[SIG_B64 + 1];
	unsigned char sig[crypto_sign_BYTES];
	uint64_t seq = 0;
	struct stat st;
	bool created;
	off_t size0;
	int fd = -1, rc;

	if ((rc = list_months(&ns, log->audit_dir)) < 0)
		return rc;
	if ((rc = last_line(&line, &where, log->audit_dir, &ns)) < 0)
		goto done;
	if (line.size) {
		if ((rc = seq_of(&seq, &line, where.ptr)) < 0)
			goto done;
		hash_hex(prev, line.ptr, line.size);
	} else {
		memcpy(prev, ZERO_HASH, sizeof(prev));
	}
	seq++;

	cspf_time_format(when, r->time ? r->time : (int64_t)time(NULL));
	memcpy(month, when, 7);
	month[7] = '\0';
	/* Never behind the newest file: the chain is read in file order. */
	if (ns.n && strncmp(ns.v[ns.n - 1], month, 7) > 0)
		memcpy(month, ns.v[ns.n - 1], 7);

	cspf_buf_printf(&rec, "{\"v\":1,\"seq\":%" PRIu64 ",\"time\":\"%s\",",
		seq, when);
	put_string(&rec, "actor", r->actor);
	cspf_buf_putc(&rec, ',');
	put_string(&rec, "credential", r->credential);
	cspf_buf_putc(&rec, ',');
	put_string(&rec, "rotation", r->rotation);
	cspf_buf_putc(&rec, ',');
	put_string(&rec, "step", r->step);
	cspf_buf_putc(&rec, ',');
	put_string(&rec, "outcome", r->outcome);
	cspf_buf_puts(&rec, ",\"key_ids\":{");
	put_string(&rec, "old", r->key_old);
	cspf_buf_putc(&rec, ',');
	put_string(&rec, "new", r->key_new);
	cspf_buf_puts(&rec, "},");
	put_string(&rec, "detail", r->detail);
	cspf_buf_printf(&rec, ",\"prev\":\"%s\",\"key\":\"%s\"", prev,
		log->signer->id);
	if (cspf_buf_oom(&rec)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = sign(sig, log->signer, rec.ptr, rec.size)) < 0)
		goto done;
	sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig),
		sodium_base64_VARIANT_ORIGINAL);
	cspf_buf_printf(&rec, SIG_PREFIX "%s\"}\n", sig64);

	cspf_buf_printf(&path, "%s/%s.jsonl", log->audit_dir, month);
	if (cspf_buf_oom(&rec) || cspf_buf_oom(&path)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	created = lstat(path.ptr, &st) != 0;
	fd = open(path.ptr, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
		O_CLOEXEC, 0644);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = cspf_error_set_os("audit: cannot open %s", path.ptr);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"audit: %s is not a regular file", path.ptr);
		goto done;
	}
	size0 = st.st_size;
	if (write_all(fd, rec.ptr, rec.size) < 0) {
		rc = cspf_error_set_os("audit: cannot write %s", path.ptr);
		/* Leave no partial line behind: we still hold the lock. */
		if (ftruncate(fd, size0) == 0)
			(void)fsync(fd);
		goto done;
	}
	if (created && fsync_dir(log->audit_dir) != 0) {
		rc = cspf_error_set_os("audit: cannot sync %s",
			log->audit_dir);
		goto done;
	}
	if (seq_out)
		*seq_out = seq;
	*sync_fd = fd;
	fd = -1;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	names_dispose(&ns);
	cspf_buf_dispose(&line);
	cspf_buf_dispose(&where);
	cspf_buf_dispose(&rec);
	cspf_buf_dispose(&path);
	return rc;
}

int cspf_audit_append(uint64_t *seq, cspf_audit_log *log,
	const cspf_audit_record *rec)
{
	int fd = -1, sync_fd = -1, rc;
	bool made = false;

	if (!log || !rec)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_append: NULL argument");
	if ((rc = check_record(rec)) < 0)
		return rc;
	pthread_mutex_lock(&log->mu);
	if (mkdir(log->audit_dir, 0755) == 0)
		made = true;
	else if (errno != EEXIST) {
		rc = cspf_error_set_os("audit: cannot create %s",
			log->audit_dir);
		goto done;
	}
	if (made) {
		/* The registry's root holds the new directory's entry. */
		char *slash = strrchr(log->audit_dir, '/');
		*slash = '\0';
		(void)fsync_dir(*log->audit_dir ? log->audit_dir : "/");
		*slash = '/';
	}
	fd = open(log->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		0600);
	if (fd < 0) {
		rc = cspf_error_set_os("audit: cannot open the lock %s",
			log->lock_path);
		goto done;
	}
	while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		rc = cspf_error_set_os("audit: cannot lock %s",
			log->lock_path);
		goto done;
	}
	rc = append_locked(seq, log, rec, &sync_fd);
done:
	if (fd >= 0)
		close(fd); /* releases the flock */
	pthread_mutex_unlock(&log->mu);
	if (sync_fd >= 0) {
		if (fsync(sync_fd) != 0 && rc == 0)
			rc = cspf_error_set_os("audit: cannot write the audit log to disk");
		close(sync_fd);
	}
	return rc;
}

/* ---- verifying ---- */

struct trusted {
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	char id[CSPF_AUDIT_KEY_ID_SIZE];
};

void cspf_audit_result_dispose(cspf_audit_result *r)
{
	if (!r)
		return;
	free(r->file);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

static int found(cspf_audit_result *out, const char *file, unsigned line,
	unsigned column, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Record the first bad record in *out. */
static int found(cspf_audit_result *out, const char *file, unsigned line,
	unsigned column, const char *rule, const char *fmt, ...)
{
	cspf_buf msg = CSPF_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cspf_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	out->ok = false;
	out->file = strdup(file);
	out->line = line;
	out->column = column;
	out->rule = rule;
	out->message = cspf_buf_detach(&msg);
	if (!out->file || !out->message)
		return cspf_error_set_oom();
	return 0;
}

static bool is_hex(const char *s, size_t len)
{
	size_t i;

	if (strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool str_or_null(const cJSON *j)
{
	return cJSON_IsNull(j) || cJSON_IsString(j);
}

/*
 * Whether `root` has the members of a record in their order and with
 * their types; NULL when it does, else what is wrong (static).
 */
static const char *shape(const cJSON *root, uint64_t *seq)
{
	static const char *const keys[] = { "v", "seq", "time", "actor",
		"credential", "rotation", "step", "outcome", "key_ids",
		"detail", "prev", "key", "sig" };
	const cJSON *c, *k;
	size_t i = 0;
	int64_t t;

	if (!cJSON_IsObject(root))
		return "a record is a JSON object";
	for (c = root->child; c; c = c->next, i++)
		if (i >= sizeof(keys) / sizeof(keys[0]) ||
			strcmp(c->string, keys[i]) != 0)
			return "the members are not v, seq, time, actor, "
			       "credential, rotation, step, outcome, "
			       "key_ids, detail, prev, key, sig in this order";
	if (i != sizeof(keys) / sizeof(keys[0]))
		return "the members are not v, seq, time, actor, credential, "
		       "rotation, step, outcome, key_ids, detail, prev, "
		       "key, sig in this order";
	c = cJSON_GetObjectItemCaseSensitive(root, "v");
	if (!cJSON_IsNumber(c) || cspf_json_number_text(c) ||
		c->valuedouble != 1)
		return "v is not 1 (a record of a newer cspf?)";
	c = cJSON_GetObjectItemCaseSensitive(root, "seq");
	if (!cJSON_IsNumber(c) || cspf_json_number_text(c) ||
		c->valuedouble < 1 || c->valuedouble > 9007199254740991.0 ||
		c->valuedouble != (double)(uint64_t)c->valuedouble)
		return "seq is not a whole number from 1";
	*seq = (uint64_t)c->valuedouble;
	c = cJSON_GetObjectItemCaseSensitive(root, "time");
	if (!cJSON_IsString(c) || cspf_time_parse(&t, c->valuestring) < 0)
		return "time is not an RFC 3339 date-time";
	for (i = 3; i < 8; i++) {
		c = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
		if (i == 5 ? !str_or_null(c) :
			     !cJSON_IsString(c) || !c->valuestring[0])
			return i == 5 ? "rotation is not a string or null" :
			       "actor, credential, step and outcome must be "
			       "strings, not empty";
	}
	c = cJSON_GetObjectItemCaseSensitive(root, "key_ids");
	if (!cJSON_IsObject(c) || !(k = c->child) || strcmp(k->string, "old") ||
		!str_or_null(k) || !k->next || strcmp(k->next->string, "new") ||
		!str_or_null(k->next) || k->next->next)
		return "key_ids is not {\"old\": ..., \"new\": ...} (strings "
		       "or null)";
	if (!str_or_null(cJSON_GetObjectItemCaseSensitive(root, "detail")))
		return "detail is not a string or null";
	c = cJSON_GetObjectItemCaseSensitive(root, "prev");
	if (!cJSON_IsString(c) || !is_hex(c->valuestring, HASH_HEX))
		return "prev is not 64 lower-case hex digits";
	c = cJSON_GetObjectItemCaseSensitive(root, "key");
	if (!cJSON_IsString(c) ||
		!is_hex(c->valuestring, CSPF_AUDIT_KEY_ID_SIZE - 1))
		return "key is not a key id (16 lower-case hex digits)";
	c = cJSON_GetObjectItemCaseSensitive(root, "sig");
	if (!cJSON_IsString(c) || strlen(c->valuestring) != SIG_B64)
		return "sig is not an Ed25519 signature in base64";
	return NULL;
}

struct chain {
	const struct trusted *keys;
	size_t nkeys;
	char prev[HASH_HEX + 1]; /* hash of the last good line */
	uint64_t seq;            /* its seq; 0 before the first */
	char *prev_at;           /* "audit/2026-10.jsonl:12" */
};

/*
 * Check one line (without its newline) of `file`; fills *out and
 * returns 0 at a bad record (out->ok turned false), 0 when good, or an
 * error.
 */
static int check_line(cspf_audit_result *out, struct chain *ch,
	const char *file, unsigned lineno, const char *p, size_t len)
{
	cspf_json_doc *doc = NULL;
	const cJSON *root, *key, *prev, *sig;
	const struct trusted *t = NULL;
	unsigned char bin[crypto_sign_BYTES];
	size_t i, n = 0, signed_len;
	uint64_t seq = 0;
	const char *why, *end = NULL;
	char at[64 + MONTH_NAME_LEN];
	int rc = 0;

	if (len == 0)
		return found(out, file, lineno, 0, "audit-format",
			"an empty line: every line of the log is a record");
	if (cspf_json_parse(&doc, p, len, file, NULL) < 0) {
		const cspf_error *e = cspf_error_last();
		return found(out, file, lineno, e ? e->column : 0,
			"audit-json", "not a JSON record: %s",
			e && e->message ? e->message : "malformed");
	}
	root = cspf_json_doc_root(doc);
	if ((why = shape(root, &seq)) != NULL) {
		rc = found(out, file, lineno, 0, "audit-format", "%s", why);
		goto done;
	}
	signed_len = len - SIG_PREFIX_LEN - SIG_B64 - 2;
	if (len < SIG_PREFIX_LEN + SIG_B64 + 2 ||
		memcmp(p + signed_len, SIG_PREFIX, SIG_PREFIX_LEN) != 0 ||
		memcmp(p + len - 2, "\"}", 2) != 0) {
		rc = found(out, file, lineno, 0, "audit-format",
			"the line does not end with ,\"sig\":\"...\"} as "
			"cspf writes it");
		goto done;
	}
	key = cJSON_GetObjectItemCaseSensitive(root, "key");
	for (i = 0; i < ch->nkeys && !t; i++)
		if (!strcmp(ch->keys[i].id, key->valuestring))
			t = &ch->keys[i];
	if (!t) {
		rc = found(out, file, lineno, 0, "audit-key",
			"signed by key %s, which is not trusted: add its "
			"public key to audit.public_keys in cspf.json, or "
			"pass it with --public-key", key->valuestring);
		goto done;
	}
	sig = cJSON_GetObjectItemCaseSensitive(root, "sig");
	if (sodium_base642bin(bin, sizeof(bin), sig->valuestring, SIG_B64,
		    NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		n != sizeof(bin) || *end ||
		crypto_sign_verify_detached(bin, (const unsigned char *)p,
			signed_len, t->pk) != 0) {
		rc = found(out, file, lineno, 0, "audit-signature",
			"the signature does not verify with key %s: this "
			"record was changed after it was signed",
			key->valuestring);
		goto done;
	}
	prev = cJSON_GetObjectItemCaseSensitive(root, "prev");
	if (strcmp(prev->valuestring, ch->prev) != 0) {
		if (!ch->prev_at)
			rc = found(out, file, lineno, 0, "audit-chain",
				"prev is not 64 zeros, yet this is the first "
				"record: records were removed before this "
				"line");
		else
			rc = found(out, file, lineno, 0, "audit-chain",
				"prev does not match the hash of the record "
				"before it (%s): record edited or removed "
				"before this line", ch->prev_at);
		goto done;
	}
	if (seq != ch->seq + 1) {
		rc = found(out, file, lineno, 0, "audit-seq",
			"seq is %" PRIu64 ", expected %" PRIu64, seq,
			ch->seq + 1);
		goto done;
	}
	ch->seq = seq;
	hash_hex(ch->prev, p, len);
	snprintf(at, sizeof(at), "%s:%u", file, lineno);
	free(ch->prev_at);
	if (!(ch->prev_at = strdup(at)))
		rc = cspf_error_set_oom();
	out->records++;
done:
	cspf_json_doc_free(doc);
	return rc;
}

/* Read all of the file at `path` into b. */
static int read_file(cspf_buf *b, const char *path)
{
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return cspf_error_set_os("audit: cannot read %s", path);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cspf_error_set_os("audit: cannot read %s", path);
			break;
		}
		if (n == 0)
			break;
		if (b->size + (size_t)n > FILE_MAX_BYTES) {
			rc = cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_OS,
				"audit: %s is larger than 1 GiB", path);
			break;
		}
		cspf_buf_put(b, chunk, (size_t)n);
		if (cspf_buf_oom(b)) {
			rc = cspf_error_set_oom();
			break;
		}
	}
	close(fd);
	return rc;
}

int cspf_audit_verify(cspf_audit_result *out, const char *dir,
	const char *const *public_keys, size_t nkeys)
{
	struct trusted *keys = NULL;
	struct chain ch;
	struct names ns;
	cspf_buf adir = CSPF_BUF_INIT, path = CSPF_BUF_INIT;
	cspf_buf text = CSPF_BUF_INIT, rel = CSPF_BUF_INIT;
	size_t i, k, start;
	unsigned lineno;
	int rc = 0;

	if (!out || !dir || (nkeys && !public_keys))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_audit_verify: NULL argument");
	memset(out, 0, sizeof(*out));
	memset(&ch, 0, sizeof(ch));
	memset(&ns, 0, sizeof(ns));
	out->ok = true;
	if (cspf_secret_init() < 0)
		return CSPF_ERROR;
	if (nkeys == 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"audit: no trusted public key to verify with: list "
			"them in audit.public_keys of cspf.json");
	if (!(keys = calloc(nkeys, sizeof(*keys))))
		return cspf_error_set_oom();
	for (k = 0; k < nkeys; k++) {
		if (decode_public_key(keys[k].pk, public_keys[k]) < 0) {
			rc = cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"audit: trusted key %zu is not an Ed25519 "
				"public key (the base64 of 32 bytes, 44 "
				"characters)", k + 1);
			goto done;
		}
		key_id_of(keys[k].id, keys[k].pk);
	}
	ch.keys = keys;
	ch.nkeys = nkeys;
	memcpy(ch.prev, ZERO_HASH, sizeof(ch.prev));

	cspf_buf_printf(&adir, "%s/audit", dir);
	if (cspf_buf_oom(&adir)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = list_months(&ns, adir.ptr)) < 0)
		goto done;
	if (!ns.n) {
		struct stat st;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_OS,
				"audit: %s is not a directory: name the "
				"registry whose log to verify", dir);
			goto done;
		}
	}
	if (ns.odd) {
		cspf_buf_printf(&rel, "audit/%s", ns.odd);
		rc = found(out, cspf_buf_oom(&rel) ? "audit" : rel.ptr, 0, 0,
			"audit-file", "not a month of the log: audit files "
			"are named YYYY-MM.jsonl");
		goto done;
	}
	for (i = 0; i < ns.n && out->ok; i++) {
		cspf_buf_clear(&path);
		cspf_buf_clear(&text);
		cspf_buf_clear(&rel);
		cspf_buf_printf(&path, "%s/%s", adir.ptr, ns.v[i]);
		cspf_buf_printf(&rel, "audit/%s", ns.v[i]);
		if (cspf_buf_oom(&path) || cspf_buf_oom(&rel)) {
			rc = cspf_error_set_oom();
			goto done;
		}
		if ((rc = read_file(&text, path.ptr)) < 0)
			goto done;
		out->files++;
		lineno = 0;
		for (start = 0; start < text.size && out->ok;) {
			const char *nl = memchr(text.ptr + start, '\n',
				text.size - start);
			size_t len = nl ? (size_t)(nl - text.ptr) - start :
				text.size - start;
			lineno++;
			if (!nl) {
				rc = found(out, rel.ptr, lineno, 0,
					"audit-format", "the last line is "
					"incomplete (no newline): a write "
					"was cut short, or the file edited");
				goto done;
			}
			if ((rc = check_line(out, &ch, rel.ptr, lineno,
				     text.ptr + start, len)) < 0)
				goto done;
			start += len + 1;
		}
	}
done:
	free(keys);
	free(ch.prev_at);
	names_dispose(&ns);
	cspf_buf_dispose(&adir);
	cspf_buf_dispose(&path);
	cspf_buf_dispose(&text);
	cspf_buf_dispose(&rel);
	return rc;
}
