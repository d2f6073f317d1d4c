/*
 * Unit tests of lib/audit/: signing keys, appends from many threads and
 * processes at once, and verify naming the exact first bad record of a
 * log that was edited, cut, reordered or signed by a stranger.
 *
 * Also a helper for tests/cli/audit.sh:
 *   test_audit --make-log DIR KEYFILE|config N [UNIX-TIME]
 * appends N records to DIR's log, a day apart from UNIX-TIME, signed with
 * the key in KEYFILE or (config) the one DIR/cspf.json names.
 */
#include <fcntl.h>
#include <inttypes.h>
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
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "cspf/audit.h"
#include "cspf/secret.h"

#define CANARY "canary-5ecr3t-Zq9"
#define NOV_2026 INT64_C(1793577600) /* 2026-11-02T00:00:00Z */
#define OCT_2026 INT64_C(1790899200) /* 2026-10-02T00:00:00Z */

static char base[256];
static char keyfile[300];
static char pubkey[CSPF_AUDIT_PUBLIC_KEY_SIZE];
static char keyid[CSPF_AUDIT_KEY_ID_SIZE];
static int counter;

/* ---- helpers ---- */

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/cspf-audit-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(keyfile, sizeof(keyfile), "%s/signing.key", base);
	return cspf_audit_keygen(pubkey, keyid, keyfile);
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd);
}

/* A new empty registry directory; returns its path (static). */
static const char *new_reg(void)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s/reg%d", base, ++counter);
	assert_int_equal(mkdir(path, 0755), 0);
	return path;
}

static void append_n(const char *dir, const cspf_audit_signer *s, int n,
	int64_t t0)
{
	cspf_audit_log *log;
	cspf_audit_record r = CSPF_AUDIT_RECORD_INIT;
	char detail[64];
	int i;

	assert_int_equal(cspf_audit_open(&log, dir, s), 0);
	for (i = 0; i < n; i++) {
		snprintf(detail, sizeof(detail), "record %d of %d", i + 1, n);
		r.time = t0 ? t0 + (int64_t)i * 60 : 0;
		r.actor = "ci@example";
		r.credential = "credentials/aws/payments-deploy";
		r.rotation = "rot-0001";
		r.step = "create";
		r.outcome = "ok";
		r.key_old = "AKIAOLD000000000";
		r.key_new = i % 2 ? NULL : "AKIANEW000000000";
		r.detail = detail;
		assert_int_equal(cspf_audit_append(NULL, log, &r), 0);
	}
	cspf_audit_free(log);
}

static cspf_audit_signer *signer(void)
{
	cspf_audit_signer *s;

	assert_int_equal(cspf_audit_signer_from_file(&s, keyfile), 0);
	return s;
}

/* Verify `dir` with the test key; the result is the caller's. */
static void verify(cspf_audit_result *res, const char *dir)
{
	const char *keys[] = { pubkey };

	assert_int_equal(cspf_audit_verify(res, dir, keys, 1), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spew(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* Offset of line `k` (1-based) in buf. */
static size_t line_at(const char *buf, int k)
{
	size_t off = 0;

	while (--k > 0) {
		const char *nl = strchr(buf + off, '\n');
		assert_non_null(nl);
		off = (size_t)(nl - buf) + 1;
	}
	return off;
}

static size_t line_len(const char *buf, size_t off)
{
	return (size_t)(strchr(buf + off, '\n') - (buf + off));
}

static void expect_bad(const cspf_audit_result *res, const char *file,
	unsigned line, const char *rule, const char *message)
{
	assert_false(res->ok);
	assert_string_equal(res->file, file);
	assert_int_equal(res->line, line);
	assert_string_equal(res->rule, rule);
	if (message)
		assert_string_equal(res->message, message);
}

/* ---- keys ---- */

static void test_keys(void **state)
{
	cspf_audit_signer *s;
	cspf_secret *sec;
	struct stat st;
	char path[400], id[CSPF_AUDIT_KEY_ID_SIZE];
	char pub2[CSPF_AUDIT_PUBLIC_KEY_SIZE];
	size_t len;
	char *text;

	(void)state;
	assert_int_equal(stat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = slurp(keyfile, &len);
	assert_int_equal(len, 45);
	assert_int_equal(text[44], '\n');

	s = signer();
	assert_string_equal(cspf_audit_signer_public_key(s), pubkey);
	assert_string_equal(cspf_audit_signer_key_id(s), keyid);
	assert_int_equal(cspf_audit_key_id(id, pubkey), 0);
	assert_string_equal(id, keyid);
	cspf_audit_signer_free(s);

	/* the same text held in a secret (as a vault gives it) */
	assert_int_equal(cspf_secret_new(&sec, text, 44), 0);
	assert_int_equal(cspf_audit_signer_from_secret(&s, sec), 0);
	assert_string_equal(cspf_audit_signer_public_key(s), pubkey);
	cspf_audit_signer_free(s);
	cspf_secret_free(sec);
	free(text);

	/* never over an existing file */
	assert_int_equal(cspf_audit_keygen(pub2, NULL, keyfile),
		CSPF_EEXISTS);

	/* a key file others may read is refused */
	snprintf(path, sizeof(path), "%s/loose.key", base);
	assert_int_equal(cspf_audit_keygen(pub2, NULL, path), 0);
	assert_string_not_equal(pub2, pubkey);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(cspf_audit_signer_from_file(&s, path), CSPF_EAUTH);
	assert_null(s);

	/* a file that holds no key: refused, its contents never quoted */
	snprintf(path, sizeof(path), "%s/canary.key", base);
	spew(path, CANARY "\n", strlen(CANARY) + 1);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(cspf_audit_signer_from_file(&s, path),
		CSPF_EINVALID);
	assert_null(strstr(cspf_error_last()->message, CANARY));
	assert_non_null(strstr(cspf_error_last()->message, path));

	assert_int_equal(cspf_audit_key_id(id, "not-a-key"), CSPF_EINVALID);
}

/* audit.signing_key of cspf.json: a file (relative to the registry) or a
 * vault reference. */
static void test_config(void **state)
{
	cspf_audit_signer *s = NULL;
	cJSON *conf, *vaults;
	char json[600];

	(void)state;
	/* relative to base_dir */
	conf = cJSON_Parse("{\"signing_key\": {\"file\": \"signing.key\"}}");
	assert_non_null(conf);
	assert_int_equal(cspf_audit_signer_from_config(&s, conf, NULL, base),
		0);
	assert_string_equal(cspf_audit_signer_public_key(s), pubkey);
	cspf_audit_signer_free(s);
	cJSON_Delete(conf);
	/* absolute */
	snprintf(json, sizeof(json), "{\"signing_key\": {\"file\": \"%s\"}}",
		keyfile);
	conf = cJSON_Parse(json);
	assert_int_equal(cspf_audit_signer_from_config(&s, conf, NULL, "/nope"),
		0);
	assert_string_equal(cspf_audit_signer_key_id(s), keyid);
	cspf_audit_signer_free(s);
	cJSON_Delete(conf);
	/* none */
	conf = cJSON_Parse("{\"public_keys\": []}");
	assert_int_equal(cspf_audit_signer_from_config(&s, conf, NULL, base),
		CSPF_ENOTFOUND);
	assert_null(s);
	cJSON_Delete(conf);
	/* a vault cspf.json does not declare */
	conf = cJSON_Parse("{\"signing_key\": {\"vault\": \"ops\", "
		"\"path\": \"cspf/audit\"}}");
	vaults = cJSON_Parse("{\"other\": {\"type\": \"file\", "
		"\"path\": \"/nonexistent\"}}");
	assert_int_equal(cspf_audit_signer_from_config(&s, conf, vaults, base),
		CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message, "'ops'"));
	/* a declared vault: its errors come through unchanged */
	cJSON_AddItemToObject(vaults, "ops", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(vaults, "ops"), "type",
		"no-such-type");
	assert_true(cspf_audit_signer_from_config(&s, conf, vaults, base) < 0);
	assert_null(s);
	cJSON_Delete(vaults);
	cJSON_Delete(conf);
}

/* ---- appending and the format ---- */

static void test_append_format(void **state)
{
	const char *dir = new_reg();
	cspf_audit_signer *s = signer();
	cspf_audit_log *log;
	cspf_audit_record r = CSPF_AUDIT_RECORD_INIT;
	cspf_audit_result res;
	unsigned char h[32], sig[64], pk[32];
	char path[400], hex[65], *buf, *sigp;
	size_t len, off, n;
	uint64_t seq = 0;
	struct stat st;

	(void)state;
	assert_int_equal(cspf_audit_open(&log, dir, s), 0);
	r.time = NOV_2026;
	r.actor = "alice";
	r.credential = "credentials/aws/x";
	r.step = "finish";
	r.outcome = "ok";
	r.detail = "quote \" backslash \\ and UTF-8 \xc3\xa9";
	assert_int_equal(cspf_audit_append(&seq, log, &r), 0);
	assert_int_equal(seq, 1);
	r.rotation = "rot-2";
	r.key_old = "AKIA1";
	r.key_new = "AKIA2";
	r.detail = NULL;
	assert_int_equal(cspf_audit_append(&seq, log, &r), 0);
	assert_int_equal(seq, 2);
	cspf_audit_free(log);

	snprintf(path, sizeof(path), "%s/audit/.lock", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	snprintf(path, sizeof(path), "%s/audit/2026-11.jsonl", dir);
	buf = slurp(path, &len);
	off = line_at(buf, 2);
	/* the exact first line, up to its signature */
	snprintf(hex, sizeof(hex), "%s", keyid);
	{
		char want[1024];
		snprintf(want, sizeof(want),
			"{\"v\":1,\"seq\":1,\"time\":\"2026-11-02T00:00:00Z\","
			"\"actor\":\"alice\",\"credential\":"
			"\"credentials/aws/x\",\"rotation\":null,\"step\":"
			"\"finish\",\"outcome\":\"ok\",\"key_ids\":{\"old\":"
			"null,\"new\":null},\"detail\":\"quote \\\" "
			"backslash \\\\ and UTF-8 \xc3\xa9\",\"prev\":\"%064d"
			"\",\"key\":\"%s\",\"sig\":\"", 0, keyid);
		assert_memory_equal(buf, want, strlen(want));
	}
	/* the second chains to the first's bytes, without the newline */
	crypto_generichash(h, 32, (unsigned char *)buf, off - 1, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	assert_non_null(strstr(buf + off, hex));
	assert_non_null(strstr(buf + off,
		"\"rotation\":\"rot-2\",\"step\":\"finish\",\"outcome\":\"ok\","
		"\"key_ids\":{\"old\":\"AKIA1\",\"new\":\"AKIA2\"},"
		"\"detail\":null,"));
	/* the signature covers every byte before ,"sig": */
	sigp = strstr(buf + off, ",\"sig\":\"");
	assert_non_null(sigp);
	assert_int_equal(sodium_base642bin(sig, 64, sigp + 8, 88, NULL, &n,
				 NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(sodium_base642bin(pk, 32, pubkey, 44, NULL, &n, NULL,
				 sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(crypto_sign_verify_detached(sig,
				 (unsigned char *)buf + off,
				 (size_t)(sigp - (buf + off)), pk), 0);
	assert_string_equal(sigp + 8 + 88, "\"}\n");
	free(buf);

	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 2);
	assert_int_equal(res.files, 1);
	cspf_audit_result_dispose(&res);
	cspf_audit_signer_free(s);
}

static void test_bounds(void **state)
{
	const char *dir = new_reg();
	cspf_audit_signer *s = signer();
	cspf_audit_log *log;
	cspf_audit_record r = CSPF_AUDIT_RECORD_INIT, x;
	char big[CSPF_AUDIT_DETAIL_MAX + 2];
	char path[400];
	struct stat st;

	(void)state;
	assert_int_equal(cspf_audit_open(&log, dir, s), 0);
	r.actor = "a";
	r.credential = "c";
	r.step = "test";
	r.outcome = "failed";

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	x = r;
	x.detail = big;
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	big[CSPF_AUDIT_DETAIL_MAX] = '\0';
	assert_int_equal(cspf_audit_append(NULL, log, &x), 0);
	big[CSPF_AUDIT_FIELD_MAX + 1] = '\0';
	x = r;
	x.actor = big;
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.actor = NULL;
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.credential = "";
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.step = "Create";
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.outcome = "ok\nforged";
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.detail = "line\nbreak";
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.detail = "bad utf-8 \xc3";
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	x = r;
	x.version = 99;
	assert_int_equal(cspf_audit_append(NULL, log, &x), CSPF_EINVALID);
	cspf_audit_free(log);

	/* only the good one was written */
	{
		cspf_audit_result res;
		verify(&res, dir);
		assert_true(res.ok);
		assert_int_equal(res.records, 1);
		cspf_audit_result_dispose(&res);
	}
	snprintf(path, sizeof(path), "%s/audit", dir);
	assert_int_equal(stat(path, &st), 0);
	cspf_audit_signer_free(s);
}

/* ---- many writers at once ---- */

struct worker {
	const char *dir;
	const cspf_audit_signer *s;
	cspf_audit_log *log; /* shared by the threads */
	int n;
	int fails;
};

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	cspf_audit_record r = CSPF_AUDIT_RECORD_INIT;
	int i;

	r.actor = "worker";
	r.credential = "credentials/aws/concurrent";
	r.step = "set";
	r.outcome = "ok";
	for (i = 0; i < w->n; i++)
		if (cspf_audit_append(NULL, w->log, &r) != 0)
			__atomic_add_fetch(&w->fails, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Every seq of the log's lines, which must be exactly 1..n. */
static void expect_seqs(const char *dir, const char *month, int n)
{
	char path[400], *buf, *p;
	size_t len;
	int want = 1;

	snprintf(path, sizeof(path), "%s/audit/%s", dir, month);
	buf = slurp(path, &len);
	for (p = buf; *p; p = strchr(p, '\n') + 1) {
		int seq = (int)strtol(p + strlen("{\"v\":1,\"seq\":"), NULL,
			10);
		assert_int_equal(seq, want);
		want++;
	}
	assert_int_equal(want - 1, n);
	free(buf);
}

static void test_threads(void **state)
{
	const char *dir = new_reg();
	cspf_audit_signer *s = signer();
	struct worker w = { dir, s, NULL, 25, 0 };
	pthread_t t[8];
	cspf_audit_result res;
	int i;

	(void)state;
	assert_int_equal(cspf_audit_open(&w.log, dir, s), 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &w),
			0);
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(w.fails, 0);
	cspf_audit_free(w.log);

	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 200);
	cspf_audit_result_dispose(&res);
	{
		char month[16];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(month, sizeof(month), "%Y-%m.jsonl", &tm);
		expect_seqs(dir, month, 200);
	}
	cspf_audit_signer_free(s);
}

static void test_processes(void **state)
{
	const char *dir = new_reg();
	cspf_audit_result res;
	pid_t pid[4];
	int i, status;

	(void)state;
	for (i = 0; i < 4; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			/* each process: its own signer, log and 2 threads */
			cspf_audit_signer *s;
			struct worker w = { dir, NULL, NULL, 15, 0 };
			pthread_t t[2];
			int j;

			if (cspf_audit_signer_from_file(&s, keyfile) != 0)
				_exit(3);
			w.s = s;
			if (cspf_audit_open(&w.log, dir, s) != 0)
				_exit(4);
			for (j = 0; j < 2; j++)
				pthread_create(&t[j], NULL, thread_main, &w);
			for (j = 0; j < 2; j++)
				pthread_join(t[j], NULL);
			cspf_audit_free(w.log);
			cspf_audit_signer_free(s);
			_exit(w.fails ? 5 : 0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 120);
	cspf_audit_result_dispose(&res);
	{
		char month[16];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(month, sizeof(month), "%Y-%m.jsonl", &tm);
		expect_seqs(dir, month, 120);
	}
}

/* ---- what verify finds ---- */

/* A log of 6 records in November 2026; its file's path into path. */
static const char *six(char path[400])
{
	const char *dir = new_reg();
	cspf_audit_signer *s = signer();

	append_n(dir, s, 6, NOV_2026);
	cspf_audit_signer_free(s);
	snprintf(path, 400, "%s/audit/2026-11.jsonl", dir);
	return dir;
}

static void test_edit_one_byte(void **state)
{
	char path[400], *buf;
	const char *dir = six(path);
	cspf_audit_result res;
	size_t len, off;
	char *p;

	(void)state;
	buf = slurp(path, &len);
	off = line_at(buf, 4);
	p = strstr(buf + off, "record 4 of 6");
	assert_non_null(p);
	p[7] = '5'; /* "record 5 of 6" */
	spew(path, buf, len);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 4, "audit-signature", NULL);
	assert_int_equal(res.records, 3);
	{
		char want[256];
		snprintf(want, sizeof(want), "the signature does not verify "
			"with key %s: this record was changed after it was "
			"signed", keyid);
		assert_string_equal(res.message, want);
	}
	cspf_audit_result_dispose(&res);

	/* the edit undone: all good again */
	p[7] = '4';
	spew(path, buf, len);
	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 6);
	cspf_audit_result_dispose(&res);

	/* an edit of prev is an edit of the record: it is signed */
	p = strstr(buf + line_at(buf, 3), "\"prev\":\"");
	p[8] = p[8] == 'a' ? 'b' : 'a';
	spew(path, buf, len);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 3, "audit-signature", NULL);
	cspf_audit_result_dispose(&res);
	free(buf);
}

static void test_delete_line(void **state)
{
	char path[400], *buf;
	const char *dir = six(path);
	cspf_audit_result res;
	size_t len, off, ll;

	(void)state;
	buf = slurp(path, &len);
	off = line_at(buf, 3);
	ll = line_len(buf, off) + 1;
	memmove(buf + off, buf + off + ll, len - off - ll);
	spew(path, buf, len - ll);
	verify(&res, dir);
	/* record 4, now on line 3, does not chain to record 2 on line 2 */
	expect_bad(&res, "audit/2026-11.jsonl", 3, "audit-chain",
		"prev does not match the hash of the record before it "
		"(audit/2026-11.jsonl:2): record edited or removed before "
		"this line");
	assert_int_equal(res.records, 2);
	cspf_audit_result_dispose(&res);
	free(buf);

	/* the first line removed */
	dir = six(path);
	buf = slurp(path, &len);
	ll = line_len(buf, 0) + 1;
	spew(path, buf + ll, len - ll);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 1, "audit-chain",
		"prev is not 64 zeros, yet this is the first record: records "
		"were removed before this line");
	cspf_audit_result_dispose(&res);
	free(buf);
}

static void test_reorder(void **state)
{
	char path[400], *buf, *out;
	const char *dir = six(path);
	cspf_audit_result res;
	size_t len, a, b, la, lb;

	(void)state;
	buf = slurp(path, &len);
	a = line_at(buf, 4);
	b = line_at(buf, 5);
	la = line_len(buf, a) + 1;
	lb = line_len(buf, b) + 1;
	out = malloc(len);
	assert_non_null(out);
	memcpy(out, buf, a);
	memcpy(out + a, buf + b, lb);
	memcpy(out + a + lb, buf + a, la);
	memcpy(out + a + lb + la, buf + b + lb, len - b - lb);
	spew(path, out, len);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 4, "audit-chain",
		"prev does not match the hash of the record before it "
		"(audit/2026-11.jsonl:3): record edited or removed before "
		"this line");
	cspf_audit_result_dispose(&res);
	free(out);
	free(buf);
}

static void test_wrong_key(void **state)
{
	char path[400], other[400];
	char pub2[CSPF_AUDIT_PUBLIC_KEY_SIZE], id2[CSPF_AUDIT_KEY_ID_SIZE];
	const char *dir = six(path), *keys[2];
	cspf_audit_signer *s;
	cspf_audit_result res;
	char want[256];

	(void)state;
	snprintf(other, sizeof(other), "%s/other%d.key", base, ++counter);
	assert_int_equal(cspf_audit_keygen(pub2, id2, other), 0);
	keys[0] = pub2;
	assert_int_equal(cspf_audit_verify(&res, dir, keys, 1), 0);
	snprintf(want, sizeof(want), "signed by key %s, which is not "
		"trusted: add its public key to audit.public_keys in "
		"cspf.json, or pass it with --public-key", keyid);
	expect_bad(&res, "audit/2026-11.jsonl", 1, "audit-key", want);
	cspf_audit_result_dispose(&res);

	/* both trusted: a log signed by two keys in turn verifies */
	assert_int_equal(cspf_audit_signer_from_file(&s, other), 0);
	append_n(dir, s, 2, NOV_2026 + 86400);
	cspf_audit_signer_free(s);
	keys[1] = pubkey;
	assert_int_equal(cspf_audit_verify(&res, dir, keys, 2), 0);
	assert_true(res.ok);
	assert_int_equal(res.records, 8);
	cspf_audit_result_dispose(&res);
	/* only the first trusted: the first record of the second key */
	keys[0] = pubkey;
	assert_int_equal(cspf_audit_verify(&res, dir, keys, 1), 0);
	expect_bad(&res, "audit/2026-11.jsonl", 7, "audit-key", NULL);
	cspf_audit_result_dispose(&res);

	/* no key, or a bad one: the call fails */
	assert_int_equal(cspf_audit_verify(&res, dir, keys, 0), CSPF_EINVALID);
	keys[0] = "AAAA";
	assert_int_equal(cspf_audit_verify(&res, dir, keys, 1), CSPF_EINVALID);
}

static void test_month_boundary(void **state)
{
	const char *dir = new_reg();
	cspf_audit_signer *s = signer();
	cspf_audit_result res;
	char path[400], *buf;
	size_t len, off;
	struct stat st;

	(void)state;
	append_n(dir, s, 3, OCT_2026);
	append_n(dir, s, 2, NOV_2026);
	/* a clock behind: October's time, but the newest file is November */
	append_n(dir, s, 1, OCT_2026 + 3600);
	snprintf(path, sizeof(path), "%s/audit/2026-10.jsonl", dir);
	buf = slurp(path, &len);
	assert_int_equal(line_at(buf, 4), len); /* 3 lines */
	free(buf);
	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 6);
	assert_int_equal(res.files, 2);
	cspf_audit_result_dispose(&res);
	snprintf(path, sizeof(path), "%s/audit/2026-11.jsonl", dir);
	buf = slurp(path, &len);
	assert_int_equal(line_at(buf, 4), len); /* 3 lines: seq 4, 5, 6 */
	assert_non_null(strstr(buf + line_at(buf, 3), "{\"v\":1,\"seq\":6,"
		"\"time\":\"2026-10-02T01:00:00Z\""));
	free(buf);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	cspf_audit_signer_free(s);
	snprintf(path, sizeof(path), "%s/audit/2026-10.jsonl", dir);

	/* November's first record chains to October's last */
	buf = slurp(path, &len);
	off = line_at(buf, 3);
	spew(path, buf, off); /* October's last line removed */
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 1, "audit-chain",
		"prev does not match the hash of the record before it "
		"(audit/2026-10.jsonl:2): record edited or removed before "
		"this line");
	cspf_audit_result_dispose(&res);
	free(buf);
}

static void test_empty(void **state)
{
	const char *dir = new_reg();
	cspf_audit_result res;
	char path[400];

	(void)state;
	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 0);
	assert_int_equal(res.files, 0);
	cspf_audit_result_dispose(&res);

	snprintf(path, sizeof(path), "%s/audit", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/audit/2026-09.jsonl", dir);
	spew(path, "", 0);
	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 0);
	assert_int_equal(res.files, 1);
	cspf_audit_result_dispose(&res);

	/* an empty file is skipped when appending, too */
	{
		cspf_audit_signer *s = signer();
		append_n(dir, s, 2, OCT_2026);
		cspf_audit_signer_free(s);
	}
	verify(&res, dir);
	assert_true(res.ok);
	assert_int_equal(res.records, 2);
	cspf_audit_result_dispose(&res);

	/* a file in audit/ that is no month */
	snprintf(path, sizeof(path), "%s/audit/notes.jsonl", dir);
	spew(path, "", 0);
	verify(&res, dir);
	expect_bad(&res, "audit/notes.jsonl", 0, "audit-file", NULL);
	cspf_audit_result_dispose(&res);
}

static void test_malformed(void **state)
{
	char path[400], *buf;
	const char *dir = six(path);
	cspf_audit_signer *s;
	cspf_audit_log *log;
	cspf_audit_record r = CSPF_AUDIT_RECORD_INIT;
	cspf_audit_result res;
	size_t len, off;

	(void)state;
	buf = slurp(path, &len);
	off = line_at(buf, 2);
	/* {"v":1,"seq" 2: the 2 at column 14 is not the colon expected */
	assert_int_equal(buf[off + 12], ':');
	buf[off + 12] = ' ';
	spew(path, buf, len);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 2, "audit-json", NULL);
	assert_int_equal(res.column, 14);
	assert_non_null(strstr(res.message, "not a JSON record: "));
	cspf_audit_result_dispose(&res);
	buf[off + 12] = ':';

	/* the last line cut short: verify tells, append refuses */
	spew(path, buf, len - 10);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 6, "audit-format",
		"the last line is incomplete (no newline): a write was cut "
		"short, or the file edited");
	cspf_audit_result_dispose(&res);
	s = signer();
	assert_int_equal(cspf_audit_open(&log, dir, s), 0);
	r.actor = "a";
	r.credential = "c";
	r.step = "test";
	r.outcome = "ok";
	r.time = NOV_2026;
	assert_int_equal(cspf_audit_append(NULL, log, &r), CSPF_ECONFLICT);
	/* an empty line */
	spew(path, "\n", 1);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 1, "audit-format", NULL);
	cspf_audit_result_dispose(&res);
	cspf_audit_free(log);
	cspf_audit_signer_free(s);
	free(buf);
}

/*
 * A record signed with the right key and chained right, but numbered
 * wrong (what only a signer that has the key could write): audit-seq.
 */
static void test_seq(void **state)
{
	char path[400], *buf, *text, line[2048], hex[65], sig64[89];
	const char *dir = six(path);
	unsigned char seed[32], pk[32], sk[64], h[32], sig[64];
	cspf_audit_result res;
	size_t len, tlen, n, off;
	FILE *f;

	(void)state;
	text = slurp(keyfile, &tlen);
	assert_int_equal(sodium_base642bin(seed, 32, text, 44, NULL, &n, NULL,
				 sodium_base64_VARIANT_ORIGINAL), 0);
	crypto_sign_seed_keypair(pk, sk, seed);
	buf = slurp(path, &len);
	off = line_at(buf, 6);
	crypto_generichash(h, 32, (unsigned char *)buf + off,
		line_len(buf, off), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	n = (size_t)snprintf(line, sizeof(line), "{\"v\":1,\"seq\":9,\"time\":"
		"\"2026-11-03T00:00:00Z\",\"actor\":\"x\",\"credential\":\"c\","
		"\"rotation\":null,\"step\":\"test\",\"outcome\":\"ok\","
		"\"key_ids\":{\"old\":null,\"new\":null},\"detail\":null,"
		"\"prev\":\"%s\",\"key\":\"%s\"", hex, keyid);
	crypto_sign_detached(sig, NULL, (unsigned char *)line, n, sk);
	sodium_bin2base64(sig64, sizeof(sig64), sig, 64,
		sodium_base64_VARIANT_ORIGINAL);
	f = fopen(path, "ab");
	assert_non_null(f);
	fprintf(f, "%s,\"sig\":\"%s\"}\n", line, sig64);
	fclose(f);
	verify(&res, dir);
	expect_bad(&res, "audit/2026-11.jsonl", 7, "audit-seq",
		"seq is 9, expected 7");
	assert_int_equal(res.records, 6);
	cspf_audit_result_dispose(&res);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(text, tlen);
	free(text);
	free(buf);
}

/* --make-log DIR KEYFILE|config N [UNIX-TIME] */
static int make_log(int argc, char **argv)
{
	cspf_audit_signer *s;
	char *end;
	long n;
	long long t0 = 0;

	if (argc < 5 || argc > 6)
		return 2;
	n = strtol(argv[4], &end, 10);
	if (*end || n < 0 || n > 100000)
		return 2;
	if (argc == 6)
		t0 = strtoll(argv[5], &end, 10);
	if (!strcmp(argv[3], "config")) {
		/* the signing key that DIR/cspf.json names */
		char path[4096];
		cJSON *conf;
		FILE *f;
		char *text;
		long len;

		snprintf(path, sizeof(path), "%s/cspf.json", argv[2]);
		if (!(f = fopen(path, "rb")))
			return 2;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		text = calloc(1, (size_t)len + 1);
		if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
			return 2;
		fclose(f);
		conf = cJSON_Parse(text);
		free(text);
		if (cspf_audit_signer_from_config(&s,
			    cJSON_GetObjectItem(conf, "audit"),
			    cJSON_GetObjectItem(conf, "vaults"),
			    argv[2]) != 0) {
			fprintf(stderr, "%s\n", cspf_error_last()->message);
			return 2;
		}
		cJSON_Delete(conf);
	} else if (cspf_audit_signer_from_file(&s, argv[3]) != 0) {
		fprintf(stderr, "%s\n", cspf_error_last()->message);
		return 2;
	}
	{
		cspf_audit_log *log;
		cspf_audit_record r = CSPF_AUDIT_RECORD_INIT;
		char detail[64];
		long i;

		if (cspf_audit_open(&log, argv[2], s) != 0)
			return 2;
		for (i = 0; i < n; i++) {
			snprintf(detail, sizeof(detail), "step %ld", i + 1);
			r.time = t0 ? t0 + i * 86400 : 0;
			r.actor = "cli-test";
			r.credential = "credentials/aws/payments-deploy";
			r.rotation = "rot-cli";
			r.step = i % 2 ? "finish" : "create";
			r.outcome = "ok";
			r.key_old = "AKIAOLD";
			r.key_new = "AKIANEW";
			r.detail = detail;
			if (cspf_audit_append(NULL, log, &r) != 0) {
				fprintf(stderr, "%s\n",
					cspf_error_last()->message);
				return 2;
			}
		}
		cspf_audit_free(log);
	}
	cspf_audit_signer_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_append_format),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_processes),
		cmocka_unit_test(test_edit_one_byte),
		cmocka_unit_test(test_delete_line),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_month_boundary),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_seq),
	};

	if (argc > 1 && !strcmp(argv[1], "--make-log"))
		return make_log(argc, argv);
	return cmocka_run_group_tests(tests, setup, teardown);
}
