/*
 * The conformance suite of the vault interface (cspf/vault.h): every
 * operation, against any backend.
 *
 * Environment:
 *   CSPF_TEST_VAULT_CONFIG   the vault's configuration, a JSON object as
 *                            under "vaults" in cspf.json; unset: a file
 *                            vault in a temporary directory, and then the
 *                            tests of the file backend run as well (wrong
 *                            key, modes, no plaintext on disk, processes
 *                            and threads at once, passphrases);
 *   CSPF_TEST_VAULT_PREFIX   put before every path (a mount, a folder);
 *   CSPF_TEST_VAULT_CA_FILE  certificates to trust (an HTTPS emulator);
 *   CSPF_TEST_VAULT_BENCH    set: also time 1000 stage+promote on a file
 *                            vault of 1000 secrets, and print it.
 *
 * Every path and value carries a random run id, so that the suite can run
 * again and again against one long-lived server.  Values are canaries:
 * no error message may contain one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/vault.h"

static cJSON *config;         /* the vault under test */
static cspf_vault_options opts = CSPF_VAULT_OPTIONS_INIT;
static const char *prefix = "";
static char run[17];          /* random, [0-9a-f] */
static bool file_mode;        /* our own file vault in `dir` */
static char dir[256];
static char vault_file[512];
static char key_file[512];

/* ---- helpers ---- */

static void name(char *out, size_t n, const char *what)
{
	snprintf(out, n, "%scspf-%s-%s", prefix, run, what);
}

static void rid(char *out, size_t n, const char *what)
{
	snprintf(out, n, "rot-%s-%s", run, what);
}

static void canary(char *out, size_t n, const char *what)
{
	snprintf(out, n, "canary-%s-%s", run, what);
}

/* No error message holds a value of this run. */
static void clean_error(void)
{
	const cspf_error *e = cspf_error_last();
	char c[64];

	canary(c, sizeof(c), "");
	if (e && e->message)
		assert_null(strstr(e->message, c));
}

static cspf_vault *open_config(const cJSON *cfg)
{
	cspf_vault *v = NULL;
	int rc = cspf_vault_open(&v, "test", cfg, &opts);

	if (rc < 0)
		print_error("open: %s\n", cspf_error_last()->message);
	assert_int_equal(rc, 0);
	return v;
}

static cspf_secret *secret(const char *s)
{
	cspf_secret *out;

	assert_int_equal(cspf_secret_new(&out, s, strlen(s)), 0);
	return out;
}

static void put(cspf_vault *v, const char *path, const char *value,
	const char *key_id)
{
	cspf_secret *s = secret(value);
	int rc = cspf_vault_put(v, path, s, key_id);

	if (rc < 0)
		print_error("put: %s\n", cspf_error_last()->message);
	assert_int_equal(rc, 0);
	cspf_secret_free(s);
}

static int stage(cspf_vault *v, const char *path, const char *rotation,
	const char *value, const char *key_id)
{
	cspf_secret *s = secret(value);
	int rc = cspf_vault_stage(v, path, rotation, s, key_id);

	if (rc < 0) {
		print_error("stage: %s\n", cspf_error_last()->message);
		clean_error();
	}
	cspf_secret_free(s);
	return rc;
}

/*
 * The version labelled `label` holds `value` (and `key_id`, `rotation`
 * when not NULL); its version id into `version` when not NULL.
 */
static void expect(cspf_vault *v, const char *path, cspf_vault_label label,
	const char *value, const char *key_id, const char *rotation,
	char *version, size_t vn)
{
	cspf_vault_version info;
	cspf_secret *s = NULL;
	int rc = cspf_vault_get(&s, &info, v, path, label);

	if (rc < 0)
		print_error("get %s: %s\n", cspf_vault_label_name(label),
			cspf_error_last()->message);
	assert_int_equal(rc, 0);
	assert_non_null(s);
	assert_true(cspf_secret_equal_bytes(s, value, strlen(value)));
	if (key_id) {
		assert_non_null(info.key_id);
		assert_string_equal(info.key_id, key_id);
	}
	if (rotation) {
		assert_non_null(info.rotation_id);
		assert_string_equal(info.rotation_id, rotation);
	}
	assert_non_null(info.version);
	if (version)
		snprintf(version, vn, "%s", info.version);
	cspf_vault_version_dispose(&info);
	cspf_secret_free(s);
}

static void expect_none(cspf_vault *v, const char *path,
	cspf_vault_label label)
{
	cspf_vault_version info;
	cspf_secret *s = NULL;

	assert_int_equal(cspf_vault_get(&s, &info, v, path, label),
		CSPF_ENOTFOUND);
	assert_null(s);
	assert_null(info.version);
	clean_error();
}

/* ---- setup ---- */

static int setup(void **state)
{
	unsigned char r[8];
	const char *env;
	char *text;
	cspf_vault *v;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(run, sizeof(run), r, sizeof(r));
	if ((env = getenv("CSPF_TEST_VAULT_PREFIX")))
		prefix = env;
	opts.ca_file = getenv("CSPF_TEST_VAULT_CA_FILE");
	if ((env = getenv("CSPF_TEST_VAULT_CONFIG")) && *env) {
		config = cJSON_Parse(env);
		if (!cJSON_IsObject(config)) {
			fprintf(stderr, "CSPF_TEST_VAULT_CONFIG is not a JSON "
				"object\n");
			return -1;
		}
	} else {
		file_mode = true;
		snprintf(dir, sizeof(dir), "/tmp/cspf-vault-XXXXXX");
		if (!mkdtemp(dir))
			return -1;
		snprintf(vault_file, sizeof(vault_file), "%s/vault.cspf", dir);
		snprintf(key_file, sizeof(key_file), "%s/vault.key", dir);
		if (cspf_vault_file_keygen(key_file) < 0)
			return -1;
		config = cJSON_CreateObject();
		cJSON_AddStringToObject(config, "type", "file");
		cJSON_AddStringToObject(config, "path", vault_file);
		cJSON_AddStringToObject(config, "key_file", key_file);
	}
	text = cJSON_PrintUnformatted(config);
	/* A configuration holds no secret: names of files and variables. */
	fprintf(stderr, "vault under test: %s (run %s)\n", text, run);
	free(text);
	if (cspf_vault_open(&v, "test", config, &opts) < 0) {
		fprintf(stderr, "cannot open the vault: %s\n",
			cspf_error_last()->message);
		return -1;
	}
	*state = v;
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	cspf_vault_free(*state);
	cJSON_Delete(config);
	if (file_mode && !getenv("CSPF_TEST_VAULT_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		return system(cmd) == 0 ? 0 : -1;
	}
	return 0;
}

/* ---- every backend ---- */

static void test_get_missing(void **state)
{
	cspf_vault *v = *state;
	char p[600];

	name(p, sizeof(p), "missing");
	expect_none(v, p, CSPF_VAULT_CURRENT);
	expect_none(v, p, CSPF_VAULT_PENDING);
	expect_none(v, p, CSPF_VAULT_PREVIOUS);
	assert_int_equal(cspf_vault_get(NULL, NULL, v, p, CSPF_VAULT_CURRENT),
		CSPF_ENOTFOUND);
	assert_non_null(cspf_error_last());
	assert_non_null(strstr(cspf_error_last()->message, "test"));
}

static void test_put_get(void **state)
{
	cspf_vault *v = *state;
	cspf_vault_version info;
	char p[600], c1[64], c2[64], v1[64], v2[64];

	name(p, sizeof(p), "put");
	canary(c1, sizeof(c1), "put-1");
	canary(c2, sizeof(c2), "put-2");
	put(v, p, c1, "AKIAPUT000000001");
	expect(v, p, CSPF_VAULT_CURRENT, c1, "AKIAPUT000000001", NULL, v1,
		sizeof(v1));
	expect_none(v, p, CSPF_VAULT_PENDING);
	expect_none(v, p, CSPF_VAULT_PREVIOUS);
	/* The facts alone, without the value. */
	assert_int_equal(cspf_vault_get(NULL, &info, v, p, CSPF_VAULT_CURRENT),
		0);
	assert_string_equal(info.version, v1);
	assert_null(info.rotation_id);
	cspf_vault_version_dispose(&info);

	/* A second put: the old current becomes previous. */
	put(v, p, c2, "AKIAPUT000000002");
	expect(v, p, CSPF_VAULT_CURRENT, c2, "AKIAPUT000000002", NULL, v2,
		sizeof(v2));
	expect(v, p, CSPF_VAULT_PREVIOUS, c1, "AKIAPUT000000001", NULL, NULL,
		0);
	assert_string_not_equal(v1, v2);
	expect_none(v, p, CSPF_VAULT_PENDING);
}

static void test_stage(void **state)
{
	cspf_vault *v = *state;
	char p[600], c1[64], c2[64], c3[64], c4[64], ra[80], rb[80];
	char v2[64], again[64];

	name(p, sizeof(p), "stage");
	canary(c1, sizeof(c1), "stage-1");
	canary(c2, sizeof(c2), "stage-2");
	canary(c3, sizeof(c3), "stage-3");
	canary(c4, sizeof(c4), "stage-4");
	rid(ra, sizeof(ra), "a");
	rid(rb, sizeof(rb), "b");
	put(v, p, c1, "K1");

	assert_int_equal(stage(v, p, ra, c2, "K2"), 0);
	expect(v, p, CSPF_VAULT_PENDING, c2, "K2", ra, v2, sizeof(v2));
	expect(v, p, CSPF_VAULT_CURRENT, c1, "K1", NULL, NULL, 0);

	/* The same rotation again, even with another value: no change. */
	assert_int_equal(stage(v, p, ra, c3, "K3"), 0);
	expect(v, p, CSPF_VAULT_PENDING, c2, "K2", ra, again, sizeof(again));
	assert_string_equal(v2, again);
	expect(v, p, CSPF_VAULT_CURRENT, c1, "K1", NULL, NULL, 0);

	/* Another rotation takes the pending label. */
	assert_int_equal(stage(v, p, rb, c4, "K4"), 0);
	expect(v, p, CSPF_VAULT_PENDING, c4, "K4", rb, NULL, 0);
	expect(v, p, CSPF_VAULT_CURRENT, c1, "K1", NULL, NULL, 0);
}

static void test_stage_fresh(void **state)
{
	cspf_vault *v = *state;
	char p[600], c1[64], r[80];

	/* Staging creates the secret; there is no current yet. */
	name(p, sizeof(p), "fresh");
	canary(c1, sizeof(c1), "fresh-1");
	rid(r, sizeof(r), "fresh");
	assert_int_equal(stage(v, p, r, c1, NULL), 0);
	expect(v, p, CSPF_VAULT_PENDING, c1, NULL, r, NULL, 0);
	expect_none(v, p, CSPF_VAULT_CURRENT);
	assert_int_equal(cspf_vault_promote(v, p, r), 0);
	expect(v, p, CSPF_VAULT_CURRENT, c1, NULL, r, NULL, 0);
	expect_none(v, p, CSPF_VAULT_PENDING);
	expect_none(v, p, CSPF_VAULT_PREVIOUS);
}

static void test_promote(void **state)
{
	cspf_vault *v = *state;
	char p[600], c1[64], c2[64], c3[64], r1[80], r2[80], unknown[80];
	char vc[64], vp[64], vc2[64], vp2[64];

	name(p, sizeof(p), "promote");
	canary(c1, sizeof(c1), "promote-1");
	canary(c2, sizeof(c2), "promote-2");
	canary(c3, sizeof(c3), "promote-3");
	rid(r1, sizeof(r1), "p1");
	rid(r2, sizeof(r2), "p2");
	rid(unknown, sizeof(unknown), "never-staged");
	put(v, p, c1, "K1");
	assert_int_equal(stage(v, p, r1, c2, "K2"), 0);

	assert_int_equal(cspf_vault_promote(v, p, r1), 0);
	expect(v, p, CSPF_VAULT_CURRENT, c2, "K2", r1, vc, sizeof(vc));
	expect(v, p, CSPF_VAULT_PREVIOUS, c1, "K1", NULL, vp, sizeof(vp));
	expect_none(v, p, CSPF_VAULT_PENDING);

	/* Again: nothing to do, nothing changes. */
	assert_int_equal(cspf_vault_promote(v, p, r1), 0);
	expect(v, p, CSPF_VAULT_CURRENT, c2, "K2", r1, vc2, sizeof(vc2));
	expect(v, p, CSPF_VAULT_PREVIOUS, c1, "K1", NULL, vp2, sizeof(vp2));
	assert_string_equal(vc, vc2);
	assert_string_equal(vp, vp2);
	expect_none(v, p, CSPF_VAULT_PENDING);

	assert_int_equal(cspf_vault_promote(v, p, unknown), CSPF_ENOTFOUND);
	clean_error();
	expect(v, p, CSPF_VAULT_CURRENT, c2, "K2", r1, NULL, 0);

	/* The next rotation: previous moves on. */
	assert_int_equal(stage(v, p, r2, c3, "K3"), 0);
	assert_int_equal(cspf_vault_promote(v, p, r2), 0);
	expect(v, p, CSPF_VAULT_CURRENT, c3, "K3", r2, NULL, 0);
	expect(v, p, CSPF_VAULT_PREVIOUS, c2, "K2", r1, NULL, 0);
	expect_none(v, p, CSPF_VAULT_PENDING);
}

static void test_promote_missing_path(void **state)
{
	cspf_vault *v = *state;
	char p[600], r[80];

	name(p, sizeof(p), "promote-nothing");
	rid(r, sizeof(r), "nothing");
	assert_int_equal(cspf_vault_promote(v, p, r), CSPF_ENOTFOUND);
	clean_error();
}

static void test_discard(void **state)
{
	cspf_vault *v = *state;
	char p[600], c1[64], c2[64], c3[64], r[80], r2[80], other[80];

	name(p, sizeof(p), "discard");
	canary(c1, sizeof(c1), "discard-1");
	canary(c2, sizeof(c2), "discard-2");
	canary(c3, sizeof(c3), "discard-3");
	rid(r, sizeof(r), "d1");
	rid(r2, sizeof(r2), "d2");
	rid(other, sizeof(other), "d-other");
	put(v, p, c1, "K1");
	assert_int_equal(stage(v, p, r, c2, "K2"), 0);

	/* Another rotation's discard leaves this one's pending. */
	assert_int_equal(cspf_vault_discard(v, p, other), 0);
	expect(v, p, CSPF_VAULT_PENDING, c2, "K2", r, NULL, 0);

	assert_int_equal(cspf_vault_discard(v, p, r), 0);
	expect_none(v, p, CSPF_VAULT_PENDING);
	expect(v, p, CSPF_VAULT_CURRENT, c1, "K1", NULL, NULL, 0);
	assert_int_equal(cspf_vault_discard(v, p, r), 0);
	expect_none(v, p, CSPF_VAULT_PENDING);
	expect(v, p, CSPF_VAULT_CURRENT, c1, "K1", NULL, NULL, 0);

	/* The discard of a promoted rotation never touches current. */
	assert_int_equal(stage(v, p, r2, c3, "K3"), 0);
	assert_int_equal(cspf_vault_promote(v, p, r2), 0);
	assert_int_equal(cspf_vault_discard(v, p, r2), 0);
	expect(v, p, CSPF_VAULT_CURRENT, c3, "K3", r2, NULL, 0);
	expect(v, p, CSPF_VAULT_PREVIOUS, c1, "K1", NULL, NULL, 0);

	/* Nothing at all at the path: nothing to drop. */
	name(p, sizeof(p), "discard-nothing");
	assert_int_equal(cspf_vault_discard(v, p, r), 0);
}

static void test_record(void **state)
{
	cspf_vault *v = *state;
	char p[600], *rec = NULL, *tag = NULL, *tag1 = NULL, *tag2 = NULL;

	name(p, sizeof(p), "record");
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p),
		CSPF_ENOTFOUND);
	assert_null(rec);
	assert_null(tag);

	/* No record yet: a stale tag cannot win. */
	assert_int_equal(cspf_vault_record_put(v, p, "{\"step\":0}", "1",
				 NULL), CSPF_ECONFLICT);

	assert_int_equal(cspf_vault_record_put(v, p, "{\"step\":1}", NULL,
				 &tag1), 0);
	assert_non_null(tag1);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, "{\"step\":1}");
	assert_string_equal(tag, tag1);
	free(rec);
	free(tag);

	/* Someone else was first. */
	assert_int_equal(cspf_vault_record_put(v, p, "{\"step\":9}", NULL,
				 NULL), CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_put(v, p, "{\"step\":9}",
				 "not-a-tag", NULL), CSPF_ECONFLICT);

	assert_int_equal(cspf_vault_record_put(v, p, "{\"step\":2}", tag1,
				 &tag2), 0);
	assert_non_null(tag2);
	assert_string_not_equal(tag1, tag2);
	/* The old tag is stale now. */
	assert_int_equal(cspf_vault_record_put(v, p, "{\"step\":3}", tag1,
				 NULL), CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, "{\"step\":2}");
	assert_string_equal(tag, tag2);
	free(rec);
	free(tag);

	/* A record is no version. */
	expect_none(v, p, CSPF_VAULT_CURRENT);
	free(tag1);
	free(tag2);
}

static void test_record_beside_versions(void **state)
{
	cspf_vault *v = *state;
	char p[600], c1[64], c2[64], r[80], *rec, *tag, *tag1 = NULL;

	name(p, sizeof(p), "record-beside");
	canary(c1, sizeof(c1), "beside-1");
	canary(c2, sizeof(c2), "beside-2");
	rid(r, sizeof(r), "beside");
	put(v, p, c1, "K1");
	assert_int_equal(cspf_vault_record_put(v, p, "{\"claim\":\"x\"}",
				 NULL, &tag1), 0);
	assert_int_equal(stage(v, p, r, c2, "K2"), 0);
	assert_int_equal(cspf_vault_promote(v, p, r), 0);
	expect(v, p, CSPF_VAULT_CURRENT, c2, "K2", r, NULL, 0);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, "{\"claim\":\"x\"}");
	assert_string_equal(tag, tag1);
	free(rec);
	free(tag);
	free(tag1);
}

static void test_record_max(void **state)
{
	cspf_vault *v = *state;
	char p[600], big[CSPF_VAULT_RECORD_MAX + 2], *rec, *tag;
	size_t i;

	/* A JSON document of exactly the largest size, every byte kept. */
	name(p, sizeof(p), "record-max");
	memcpy(big, "{\"pad\":\"", 8);
	for (i = 8; i < CSPF_VAULT_RECORD_MAX - 2; i++)
		big[i] = (char)('a' + i % 26);
	big[CSPF_VAULT_RECORD_MAX - 2] = '"';
	big[CSPF_VAULT_RECORD_MAX - 1] = '}';
	big[CSPF_VAULT_RECORD_MAX] = '\0';
	assert_int_equal(strlen(big), CSPF_VAULT_RECORD_MAX);
	assert_int_equal(cspf_vault_record_put(v, p, big, NULL, NULL), 0);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, big);
	free(rec);
	free(tag);

	/* One byte more is refused, and the record stays as it was. */
	big[CSPF_VAULT_RECORD_MAX] = ' ';
	big[CSPF_VAULT_RECORD_MAX + 1] = '\0';
	assert_int_equal(cspf_vault_record_put(v, p, big, NULL, NULL),
		CSPF_ETOOBIG);
	big[CSPF_VAULT_RECORD_MAX] = '\0';
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_string_equal(rec, big);
	free(rec);
	free(tag);
}

static void test_bad_arguments(void **state)
{
	cspf_vault *v = *state;
	char p[600];
	cspf_secret *s = secret("x");

	name(p, sizeof(p), "bad");
	assert_int_equal(cspf_vault_stage(v, p, "UPPER-case-id", s, NULL),
		CSPF_EINVALID);
	assert_int_equal(cspf_vault_stage(v, p, "short", s, NULL),
		CSPF_EINVALID);
	assert_int_equal(cspf_vault_put(v, "", s, NULL), CSPF_EINVALID);
	expect_none(v, p, CSPF_VAULT_PENDING);
	cspf_secret_free(s);
}

/* ---- the file backend ---- */

static cJSON *file_config(const char *path, const char *key, const char *env)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "type", "file");
	cJSON_AddStringToObject(c, "path", path);
	if (key)
		cJSON_AddStringToObject(c, "key_file", key);
	if (env)
		cJSON_AddStringToObject(c, "key_env", env);
	return c;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	size_t n = 0, got;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	for (;;) {
		buf = realloc(buf, n + 65536 + 1);
		assert_non_null(buf);
		got = fread(buf + n, 1, 65536, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool contains(const unsigned char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	for (i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

static void base64(char *out, size_t n, const char *s)
{
	sodium_bin2base64(out, n, (const unsigned char *)s, strlen(s),
		sodium_base64_VARIANT_ORIGINAL);
}

/*
 * The document inside vault file `path` sealed with the key in
 * `key_path` (64 hex characters), read the way the format says:
 * header 48 bytes, nonce 24, box.  malloc'd, NUL-terminated.
 */
static char *open_box(const char *path, const char *key_path)
{
	unsigned char key[32], *file, *kh, *plain;
	size_t n, kn, klen;

	kh = slurp(key_path, &kn);
	assert_int_equal(sodium_hex2bin(key, sizeof(key), (char *)kh, kn,
				 "\n", &klen, NULL), 0);
	assert_int_equal(klen, 32);
	free(kh);
	file = slurp(path, &n);
	assert_true(n > 72 + crypto_secretbox_MACBYTES);
	assert_memory_equal(file, "CSPFVLT1", 8);
	assert_int_equal(file[8], 1);
	assert_int_equal(file[9], 0);
	plain = malloc(n - 72 - crypto_secretbox_MACBYTES + 1);
	assert_non_null(plain);
	assert_int_equal(crypto_secretbox_open_easy(plain, file + 72, n - 72,
				 file + 48, key), 0);
	plain[n - 72 - crypto_secretbox_MACBYTES] = '\0';
	sodium_memzero(key, sizeof(key));
	free(file);
	return (char *)plain;
}

static void test_file_modes(void **state)
{
	cspf_vault *v = *state;
	struct dirent *e;
	struct stat st;
	char p[600], path[700], c[64];
	DIR *d;

	if (!file_mode)
		skip();
	name(p, sizeof(p), "modes");
	canary(c, sizeof(c), "modes");
	put(v, p, c, NULL);
	assert_int_equal(stat(vault_file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s.lock", vault_file);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(key_file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* No temporary file left behind. */
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		assert_null(strstr(e->d_name, ".tmp."));
	closedir(d);
}

static void test_file_no_plaintext(void **state)
{
	cspf_vault *v = *state;
	char p[600], path[700], c1[64], c2[64], c3[64], c4[64], r[80], r2[80];
	char b1[128], b2[128], b3[128], b4[128], *doc;
	unsigned char *buf;
	struct dirent *e;
	size_t n;
	DIR *d;

	if (!file_mode)
		skip();
	name(p, sizeof(p), "plain");
	canary(c1, sizeof(c1), "plain-1");
	canary(c2, sizeof(c2), "plain-2");
	canary(c3, sizeof(c3), "plain-3");
	canary(c4, sizeof(c4), "plain-4");
	rid(r, sizeof(r), "plain");
	rid(r2, sizeof(r2), "plain-2");
	base64(b1, sizeof(b1), c1);
	base64(b2, sizeof(b2), c2);
	base64(b3, sizeof(b3), c3);
	base64(b4, sizeof(b4), c4);
	/*
	 * c1 current, then previous, then dropped by the next promotion;
	 * c2 current, then previous; c3 staged and discarded; c4 current.
	 */
	put(v, p, c1, NULL);
	put(v, p, c2, NULL);
	assert_int_equal(stage(v, p, r, c3, NULL), 0);
	assert_int_equal(cspf_vault_discard(v, p, r), 0);
	assert_int_equal(stage(v, p, r2, c4, NULL), 0);
	assert_int_equal(cspf_vault_promote(v, p, r2), 0);

	/* No value on disk in the clear, in any file of the directory. */
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf = slurp(path, &n);
		assert_false(contains(buf, n, c1) || contains(buf, n, c2) ||
			contains(buf, n, c3) || contains(buf, n, c4));
		assert_false(contains(buf, n, b1) || contains(buf, n, b2) ||
			contains(buf, n, b3) || contains(buf, n, b4));
		assert_false(contains(buf, n, p)); /* paths are sealed too */
		free(buf);
	}
	closedir(d);

	/* Inside the box: current and previous only. */
	doc = open_box(vault_file, key_file);
	assert_non_null(strstr(doc, p));
	assert_non_null(strstr(doc, b4));
	assert_non_null(strstr(doc, b2));
	assert_null(strstr(doc, b1));
	assert_null(strstr(doc, b3));
	free(doc);
}

static void test_file_wrong_key(void **state)
{
	char other[600], damaged[600], p[600], *msg;
	cspf_vault *v = *state, *w;
	unsigned char *buf;
	cJSON *c;
	size_t n;
	FILE *f;

	if (!file_mode)
		skip();
	name(p, sizeof(p), "wrong-key");
	put(v, p, "x", NULL);
	snprintf(other, sizeof(other), "%s/other.key", dir);
	assert_int_equal(cspf_vault_file_keygen(other), 0);
	c = file_config(vault_file, other, NULL);
	w = open_config(c);
	assert_int_equal(cspf_vault_get(NULL, NULL, w, p, CSPF_VAULT_CURRENT),
		CSPF_EAUTH);
	msg = (char *)cspf_error_last()->message;
	assert_non_null(strstr(msg, "cannot decrypt vault file"));
	assert_non_null(strstr(msg, vault_file));
	assert_non_null(strstr(msg, "wrong key, or the file is damaged"));
	/* Writing with the wrong key fails too, and spoils nothing. */
	assert_int_equal(cspf_vault_record_put(w, p, "{}", NULL, NULL),
		CSPF_EAUTH);
	cspf_vault_free(w);
	cJSON_Delete(c);
	expect(v, p, CSPF_VAULT_CURRENT, "x", NULL, NULL, NULL, 0);

	/* One bit changed anywhere in the box: the same message. */
	buf = slurp(vault_file, &n);
	buf[n - 5] ^= 0x01;
	snprintf(damaged, sizeof(damaged), "%s/damaged.cspf", dir);
	f = fopen(damaged, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
	free(buf);
	c = file_config(damaged, key_file, NULL);
	w = open_config(c);
	assert_int_equal(cspf_vault_get(NULL, NULL, w, p, CSPF_VAULT_CURRENT),
		CSPF_EAUTH);
	assert_non_null(strstr(cspf_error_last()->message,
		"wrong key, or the file is damaged"));
	cspf_vault_free(w);
	cJSON_Delete(c);

	/* Not a vault file at all. */
	c = file_config(key_file, key_file, NULL);
	w = open_config(c);
	assert_int_equal(cspf_vault_get(NULL, NULL, w, p, CSPF_VAULT_CURRENT),
		CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message,
		"not a cspf vault file"));
	cspf_vault_free(w);
	cJSON_Delete(c);
	unlink(damaged);
	unlink(other);
}

static void test_file_keys(void **state)
{
	char path[600], raw[600], bad[700], vpath[600], p[600];
	unsigned char *buf, key[32];
	cspf_vault *v = NULL, *w;
	struct stat st;
	size_t n, i;
	cJSON *c;
	FILE *f;

	(void)state;
	if (!file_mode)
		skip();
	snprintf(path, sizeof(path), "%s/new.key", dir);
	assert_int_equal(cspf_vault_file_keygen(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	buf = slurp(path, &n);
	assert_int_equal(n, 65);
	assert_int_equal(buf[64], '\n');
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", buf[i]));
	/* Never overwritten. */
	assert_int_equal(cspf_vault_file_keygen(path), CSPF_EEXISTS);
	free(buf);
	buf = slurp(path, &n);
	assert_int_equal(n, 65);
	free(buf);

	/* A key file others may read is refused when the vault opens. */
	snprintf(vpath, sizeof(vpath), "%s/keys.cspf", dir);
	assert_int_equal(chmod(path, 0644), 0);
	c = file_config(vpath, path, NULL);
	assert_int_equal(cspf_vault_open(&v, "test", c, &opts), CSPF_EAUTH);
	assert_null(v);
	assert_non_null(strstr(cspf_error_last()->message, "chmod"));
	cJSON_Delete(c);

	/* 32 raw bytes will do. */
	snprintf(raw, sizeof(raw), "%s/raw.key", dir);
	randombytes_buf(key, sizeof(key));
	key[31] = '\n'; /* not trimmed: 32 bytes are the key */
	f = fopen(raw, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(key, 1, sizeof(key), f), sizeof(key));
	fclose(f);
	assert_int_equal(chmod(raw, 0600), 0);
	c = file_config(vpath, raw, NULL);
	w = open_config(c);
	name(p, sizeof(p), "raw-key");
	put(w, p, "raw", NULL);
	cspf_vault_free(w);
	w = open_config(c);
	expect(w, p, CSPF_VAULT_CURRENT, "raw", NULL, NULL, NULL, 0);
	cspf_vault_free(w);
	cJSON_Delete(c);

	/* Neither 32 bytes nor 64 hex characters. */
	snprintf(bad, sizeof(bad), "%s/bad.key", dir);
	f = fopen(bad, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(chmod(bad, 0600), 0);
	c = file_config(vpath, bad, NULL);
	assert_int_equal(cspf_vault_open(&v, "test", c, &opts),
		CSPF_EINVALID);
	cJSON_Delete(c);

	/* Missing key file; no key at all. */
	snprintf(bad, sizeof(bad), "%s/missing.key", dir);
	c = file_config(vpath, bad, NULL);
	assert_int_equal(cspf_vault_open(&v, "test", c, &opts),
		CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message, bad));
	cJSON_Delete(c);
	c = file_config(vpath, NULL, NULL);
	assert_int_equal(cspf_vault_open(&v, "test", c, &opts),
		CSPF_EINVALID);
	cJSON_Delete(c);
	unlink(path);
	unlink(raw);
	unlink(vpath);
	snprintf(bad, sizeof(bad), "%s.lock", vpath);
	unlink(bad);
}

static void test_file_relative(void **state)
{
	cspf_vault_options o = CSPF_VAULT_OPTIONS_INIT;
	cspf_vault *v;
	struct stat st;
	char path[600];
	cJSON *c;

	(void)state;
	if (!file_mode)
		skip();
	o.base_dir = dir;
	c = file_config("relative.cspf", "vault.key", NULL);
	assert_int_equal(cspf_vault_open(&v, "test", c, &o), 0);
	put(v, "relative", "r", NULL);
	cspf_vault_free(v);
	cJSON_Delete(c);
	snprintf(path, sizeof(path), "%s/relative.cspf", dir);
	assert_int_equal(stat(path, &st), 0);
}

static void test_file_superseded(void **state)
{
	cspf_vault *v = *state;
	char p[600], ra[80], rb[80];

	if (!file_mode)
		skip();
	name(p, sizeof(p), "superseded");
	rid(ra, sizeof(ra), "sa");
	rid(rb, sizeof(rb), "sb");
	put(v, p, "v1", NULL);
	assert_int_equal(stage(v, p, ra, "va", NULL), 0);
	assert_int_equal(stage(v, p, rb, "vb", NULL), 0);
	/* The file vault drops a value that lost its label at once. */
	assert_int_equal(cspf_vault_promote(v, p, ra), CSPF_ENOTFOUND);
	assert_int_equal(cspf_vault_promote(v, p, rb), 0);
	/* Staging a promoted rotation again is a rerun: no change. */
	assert_int_equal(stage(v, p, rb, "other", NULL), 0);
	expect_none(v, p, CSPF_VAULT_PENDING);
	expect(v, p, CSPF_VAULT_CURRENT, "vb", NULL, rb, NULL, 0);
	/* A rotation whose value is previous cannot come back. */
	assert_int_equal(stage(v, p, ra, "vc", NULL), 0);
	assert_int_equal(cspf_vault_promote(v, p, ra), 0);
	expect(v, p, CSPF_VAULT_PREVIOUS, "vb", NULL, rb, NULL, 0);
	assert_int_equal(stage(v, p, rb, "vd", NULL), CSPF_ECONFLICT);
	assert_int_equal(cspf_vault_promote(v, p, rb), CSPF_ECONFLICT);
	expect(v, p, CSPF_VAULT_CURRENT, "vc", NULL, ra, NULL, 0);
}

static void test_file_binary(void **state)
{
	cspf_vault *v = *state;
	static unsigned char big[256 * 1024];
	cspf_secret *s, *got = NULL;
	char p[600];

	if (!file_mode)
		skip();
	name(p, sizeof(p), "binary");
	randombytes_buf(big, sizeof(big));
	big[0] = 0;
	assert_int_equal(cspf_secret_new(&s, big, sizeof(big)), 0);
	assert_int_equal(cspf_vault_put(v, p, s, NULL), 0);
	assert_int_equal(cspf_vault_get(&got, NULL, v, p, CSPF_VAULT_CURRENT),
		0);
	assert_true(cspf_secret_equal(s, got));
	cspf_secret_free(got);
	cspf_secret_free(s);
	/* The empty value is a value. */
	assert_int_equal(cspf_secret_new(&s, NULL, 0), 0);
	assert_int_equal(cspf_vault_put(v, p, s, NULL), 0);
	assert_int_equal(cspf_vault_get(&got, NULL, v, p, CSPF_VAULT_CURRENT),
		0);
	assert_int_equal(cspf_secret_len(got), 0);
	cspf_secret_free(got);
	cspf_secret_free(s);
}

/*
 * A passphrase in the environment: Argon2id, its limits and salt in the
 * header; the right passphrase in another handle opens it, a wrong one
 * gets the one message.
 */
static void test_file_passphrase(void **state)
{
	char vpath[600], p[600], c[64], hex[65], lock[700];
	unsigned char *buf;
	cspf_vault *v, *w;
	size_t n;
	cJSON *cfg;

	(void)state;
	if (!file_mode)
		skip();
	snprintf(vpath, sizeof(vpath), "%s/pass.cspf", dir);
	name(p, sizeof(p), "pass");
	canary(c, sizeof(c), "pass");
	assert_int_equal(setenv("CSPF_TEST_VAULT_PASS",
				 "correct horse battery staple", 1), 0);
	cfg = file_config(vpath, NULL, "CSPF_TEST_VAULT_PASS");
	v = open_config(cfg);
	put(v, p, c, "KP");
	put(v, p, "second", "KP2"); /* the handle keeps the derived key */
	cspf_vault_free(v);

	buf = slurp(vpath, &n);
	assert_memory_equal(buf, "CSPFVLT1", 8);
	assert_int_equal(buf[9], 1);
	assert_int_equal(buf[16], crypto_pwhash_OPSLIMIT_MODERATE);
	assert_int_equal(buf[24] | buf[25] << 8 | buf[26] << 16 |
		(uint32_t)buf[27] << 24, crypto_pwhash_MEMLIMIT_MODERATE);
	assert_false(contains(buf, n, c));
	free(buf);

	v = open_config(cfg);
	expect(v, p, CSPF_VAULT_CURRENT, "second", "KP2", NULL, NULL, 0);
	expect(v, p, CSPF_VAULT_PREVIOUS, c, "KP", NULL, NULL, 0);
	cspf_vault_free(v);

	assert_int_equal(setenv("CSPF_TEST_VAULT_PASS",
				 "correct horse battery stapler", 1), 0);
	w = open_config(cfg);
	assert_int_equal(cspf_vault_get(NULL, NULL, w, p, CSPF_VAULT_CURRENT),
		CSPF_EAUTH);
	assert_non_null(strstr(cspf_error_last()->message,
		"wrong key, or the file is damaged"));
	cspf_vault_free(w);

	/* A key where a passphrase locked it: said so. */
	memset(hex, 'a', 64);
	hex[64] = '\0';
	assert_int_equal(setenv("CSPF_TEST_VAULT_PASS", hex, 1), 0);
	w = open_config(cfg);
	assert_int_equal(cspf_vault_get(NULL, NULL, w, p, CSPF_VAULT_CURRENT),
		CSPF_EAUTH);
	assert_non_null(strstr(cspf_error_last()->message, "passphrase"));
	cspf_vault_free(w);
	cJSON_Delete(cfg);

	/* 64 hex characters in the variable are the key itself. */
	buf = slurp(key_file, &n);
	assert_int_equal(n, 65);
	memcpy(hex, buf, 64);
	free(buf);
	assert_int_equal(setenv("CSPF_TEST_VAULT_PASS", hex, 1), 0);
	cfg = file_config(vault_file, NULL, "CSPF_TEST_VAULT_PASS");
	w = open_config(cfg);
	put(w, p, "by-env", NULL);
	cspf_vault_free(w);
	cJSON_Delete(cfg);
	w = open_config(config);
	expect(w, p, CSPF_VAULT_CURRENT, "by-env", NULL, NULL, NULL, 0);
	cspf_vault_free(w);
	sodium_memzero(hex, sizeof(hex));
	unsetenv("CSPF_TEST_VAULT_PASS");
	unlink(vpath);
	snprintf(lock, sizeof(lock), "%s.lock", vpath);
	unlink(lock);
}

#define PROCS 8
#define ROUNDS 6
#define INCREMENTS 20

/* Wait for every child; how many exited with each code 0..3. */
static void reap(pid_t *pids, int n, int counts[4])
{
	int i, status;

	memset(counts, 0, 4 * sizeof(int));
	for (i = 0; i < n; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) < 4);
		counts[WEXITSTATUS(status)]++;
	}
}

/*
 * PROCS processes, released at once by closing a pipe, each try to create
 * the record of one path: exactly one wins each round.
 */
static void test_file_race(void **state)
{
	pid_t pids[PROCS];
	int round, i, fds[2], counts[4], rc;
	char p[600], what[32], *rec, *tag, buf;
	cspf_vault *v;

	if (!file_mode)
		skip();
	for (round = 0; round < ROUNDS; round++) {
		snprintf(what, sizeof(what), "race-%d", round);
		name(p, sizeof(p), what);
		assert_int_equal(pipe(fds), 0);
		for (i = 0; i < PROCS; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] > 0)
				continue;
			close(fds[1]);
			if (cspf_vault_open(&v, "test", config, &opts) < 0)
				_exit(3);
			(void)!read(fds[0], &buf, 1); /* until released */
			rc = cspf_vault_record_put(v, p, "{\"owner\":1}", NULL,
				NULL);
			cspf_vault_free(v);
			_exit(rc == 0 ? 0 : rc == CSPF_ECONFLICT ? 1 : 2);
		}
		close(fds[0]);
		close(fds[1]);
		reap(pids, PROCS, counts);
		assert_int_equal(counts[0], 1);
		assert_int_equal(counts[1], PROCS - 1);
		assert_int_equal(cspf_vault_record_get(&rec, &tag, *state, p),
			0);
		free(rec);
		free(tag);
	}
}

/*
 * Read, add one, write back with the tag; on a conflict read again.
 * Returns how many increments it made, or -1.
 */
static int increment(cspf_vault *v, const char *path, int times)
{
	char *rec, *tag, next[32];
	int done = 0, rc, tries = 0;

	while (done < times) {
		if (++tries > 100000)
			return -1;
		rc = cspf_vault_record_get(&rec, &tag, v, path);
		if (rc < 0)
			return -1;
		snprintf(next, sizeof(next), "%ld", strtol(rec, NULL, 10) + 1);
		rc = cspf_vault_record_put(v, path, next, tag, NULL);
		free(rec);
		free(tag);
		if (rc == 0)
			done++;
		else if (rc != CSPF_ECONFLICT)
			return -1;
	}
	return done;
}

/*
 * PROCS processes each add one to a counter INCREMENTS times, with
 * compare-and-swap, and put a secret of their own meanwhile: no update is
 * lost, of the counter or of another path.
 */
static void test_file_processes(void **state)
{
	cspf_vault *v = *state, *w;
	pid_t pids[PROCS];
	int i, k, fds[2], counts[4];
	char p[600], own[600], what[32], value[64], *rec, *tag, buf;

	if (!file_mode)
		skip();
	name(p, sizeof(p), "counter");
	assert_int_equal(cspf_vault_record_put(v, p, "0", NULL, NULL), 0);
	assert_int_equal(pipe(fds), 0);
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] > 0)
			continue;
		close(fds[1]);
		if (cspf_vault_open(&w, "test", config, &opts) < 0)
			_exit(3);
		(void)!read(fds[0], &buf, 1);
		snprintf(what, sizeof(what), "proc-%d", i);
		name(own, sizeof(own), what);
		for (k = 0; k < INCREMENTS; k++) {
			cspf_secret *s;

			snprintf(value, sizeof(value), "%d-%d", i, k);
			if (cspf_secret_new(&s, value, strlen(value)) < 0 ||
			    cspf_vault_put(w, own, s, NULL) < 0 ||
			    increment(w, p, 1) != 1)
				_exit(2);
			cspf_secret_free(s);
		}
		cspf_vault_free(w);
		_exit(0);
	}
	close(fds[0]);
	close(fds[1]);
	reap(pids, PROCS, counts);
	assert_int_equal(counts[0], PROCS);
	assert_int_equal(cspf_vault_record_get(&rec, &tag, v, p), 0);
	assert_int_equal(strtol(rec, NULL, 10), PROCS * INCREMENTS);
	free(rec);
	free(tag);
	for (i = 0; i < PROCS; i++) {
		snprintf(what, sizeof(what), "proc-%d", i);
		name(own, sizeof(own), what);
		snprintf(value, sizeof(value), "%d-%d", i, INCREMENTS - 1);
		expect(v, own, CSPF_VAULT_CURRENT, value, NULL, NULL, NULL, 0);
		snprintf(value, sizeof(value), "%d-%d", i, INCREMENTS - 2);
		expect(v, own, CSPF_VAULT_PREVIOUS, value, NULL, NULL, NULL,
			0);
	}
}

#define THREADS 4

struct worker {
	pthread_t thread;
	const char *path;
	int done;
};

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	cspf_vault *v;

	w->done = -1;
	if (cspf_vault_open(&v, "test", config, &opts) < 0)
		return NULL;
	w->done = increment(v, w->path, INCREMENTS);
	cspf_vault_free(v);
	return NULL;
}

/* Threads of one process, a handle each: the lock holds between them. */
static void test_file_threads(void **state)
{
	struct worker w[THREADS];
	char p[600], *rec, *tag;
	int i;

	if (!file_mode)
		skip();
	name(p, sizeof(p), "thread-counter");
	assert_int_equal(cspf_vault_record_put(*state, p, "0", NULL, NULL), 0);
	for (i = 0; i < THREADS; i++) {
		w[i].path = p;
		assert_int_equal(pthread_create(&w[i].thread, NULL,
					 thread_main, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].done, INCREMENTS);
	}
	assert_int_equal(cspf_vault_record_get(&rec, &tag, *state, p), 0);
	assert_int_equal(strtol(rec, NULL, 10), THREADS * INCREMENTS);
	free(rec);
	free(tag);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Not a timed test: with CSPF_TEST_VAULT_BENCH set, the time of 1000
 * stage+promote on a vault of 1000 secrets, printed.
 */
static void test_file_bench(void **state)
{
	char vpath[600], p[64], r[80], value[64], lock[700];
	cspf_secret *s;
	cspf_vault *v;
	double t0, t1, t2;
	cJSON *c;
	int i;

	(void)state;
	if (!file_mode || !getenv("CSPF_TEST_VAULT_BENCH"))
		skip();
	snprintf(vpath, sizeof(vpath), "%s/bench.cspf", dir);
	c = file_config(vpath, key_file, NULL);
	v = open_config(c);
	t0 = now();
	for (i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "bench/secret-%04d", i);
		snprintf(value, sizeof(value), "value-%04d-%s", i, run);
		put(v, p, value, "AKIABENCH0000000");
	}
	t1 = now();
	for (i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "bench/secret-%04d", i);
		snprintf(r, sizeof(r), "rot-bench-%04d", i);
		snprintf(value, sizeof(value), "new-%04d-%s", i, run);
		s = secret(value);
		assert_int_equal(cspf_vault_stage(v, p, r, s,
					 "AKIABENCH0000001"), 0);
		assert_int_equal(cspf_vault_promote(v, p, r), 0);
		cspf_secret_free(s);
	}
	t2 = now();
	snprintf(value, sizeof(value), "value-0999-%s", run);
	expect(v, "bench/secret-0999", CSPF_VAULT_PREVIOUS, value, NULL, NULL,
		NULL, 0);
	cspf_vault_free(v);
	cJSON_Delete(c);
	fprintf(stderr, "bench: 1000 puts (vault growing to 1000 secrets): "
		"%.2f s; 1000 stage+promote on 1000 secrets: %.2f s "
		"(%.2f ms per stage+promote)\n", t1 - t0, t2 - t1,
		(t2 - t1));
	unlink(vpath);
	snprintf(lock, sizeof(lock), "%s.lock", vpath);
	unlink(lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_missing),
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_stage),
		cmocka_unit_test(test_stage_fresh),
		cmocka_unit_test(test_promote),
		cmocka_unit_test(test_promote_missing_path),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_record_beside_versions),
		cmocka_unit_test(test_record_max),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_file_modes),
		cmocka_unit_test(test_file_no_plaintext),
		cmocka_unit_test(test_file_wrong_key),
		cmocka_unit_test(test_file_keys),
		cmocka_unit_test(test_file_relative),
		cmocka_unit_test(test_file_superseded),
		cmocka_unit_test(test_file_binary),
		cmocka_unit_test(test_file_passphrase),
		cmocka_unit_test(test_file_race),
		cmocka_unit_test(test_file_processes),
		cmocka_unit_test(test_file_threads),
		cmocka_unit_test(test_file_bench),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
