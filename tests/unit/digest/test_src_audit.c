/*
 * The "audit" digest source: a log written with the audit API, one line
 * of it broken by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cspf/audit.h"
#include "cspf/time.h"
#include "digest/digest_private.h"

static char base[] = "/tmp/cspf-srcaudit.XXXXXX";
static char reg_dir[256];

static void put(const char *path, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", base, path);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void append(cspf_audit_log *log, const char *time, const char *cred,
	const char *rotation, const char *step, const char *outcome)
{
	cspf_audit_record rec = CSPF_AUDIT_RECORD_INIT;

	assert_int_equal(cspf_time_parse(&rec.time, time), 0);
	rec.actor = "ci@build-7";
	rec.credential = cred;
	rec.rotation = rotation;
	rec.step = step;
	rec.outcome = outcome;
	assert_int_equal(cspf_audit_append(NULL, log, &rec), 0);
}

/* Insert `line` (with its newline) after line `after` of `path`. */
static void insert_line(const char *path, unsigned int after,
	const char *line)
{
	char text[65536], *p;
	size_t n;
	unsigned int i;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (p = text, i = 0; i < after; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(text, 1, (size_t)(p - text), f);
	fputs(line, f);
	fputs(p, f);
	fclose(f);
}

#define A "credentials/aws/a#svc-a"
#define B "credentials/aws/a#svc-b"
#define GONE "credentials/aws/gone#svc"

/*
 * The log:
 *   2026-10  r0 of A promoted                        (file not read)
 *   2026-11  r1 of A: claim .. promote, retire, record (in)
 *            r1 promoted again by a resuming run   (the same rotation)
 *            r2 of B: set failed, undo              (in: one failure)
 *            C: fail (no rotation id)               (in: one failure)
 *            r3 of A promoted on 11-10              (before the period)
 *   2026-12  r4 of A promoted                        (file not read)
 * plus a line that is not JSON in the November file, and a file for
 * September that is all garbage (not read: it does not overlap).
 */
static int setup(void **state)
{
	char keyfile[300], pub[CSPF_AUDIT_PUBLIC_KEY_SIZE], path[400];
	cspf_audit_signer *s = NULL;
	cspf_audit_log *log = NULL;

	(void)state;
	if (!mkdtemp(base))
		return -1;
	snprintf(reg_dir, sizeof(reg_dir), "%s/reg", base);
	snprintf(keyfile, sizeof(keyfile), "%s/audit.key", base);
	snprintf(path, sizeof(path), "%s/reg/accounts/aws", base);
	assert_int_equal(mkdir(reg_dir, 0700), 0);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "mkdir -p %s %s/reg/credentials/aws",
			path, base);
		assert_int_equal(system(cmd), 0);
	}
	put("reg/accounts/aws/a.json", "{\"accountid\": \"222222222222\", "
		"\"name\": \"a\"}\n");
	put("reg/credentials/aws/a.json", "{\"credentials\": ["
		"{\"username\": \"svc-a\", \"account\": \"accounts/aws/a\"},"
		"{\"username\": \"svc-b\", \"account\": \"accounts/aws/nope\"}"
		"]}\n");
	assert_int_equal(cspf_audit_keygen(pub, NULL, keyfile), 0);
	assert_int_equal(cspf_audit_signer_from_file(&s, keyfile), 0);
	assert_int_equal(cspf_audit_open(&log, reg_dir, s), 0);
	append(log, "2026-10-20T09:00:00Z", A, "r0", "promote", "ok");
	append(log, "2026-11-10T09:00:00Z", A, "r3", "promote", "ok");
	append(log, "2026-11-17T09:00:00Z", A, "r1", "claim", "ok");
	append(log, "2026-11-17T09:00:01Z", A, "r1", "create", "ok");
	append(log, "2026-11-17T09:00:02Z", A, "r1", "stage", "ok");
	append(log, "2026-11-17T09:00:03Z", A, "r1", "set", "ok");
	append(log, "2026-11-17T09:00:04Z", A, "r1", "test", "ok");
	append(log, "2026-11-17T09:00:05Z", A, "r1", "promote", "ok");
	append(log, "2026-11-17T09:00:06Z", A, "r1", "retire", "ok");
	append(log, "2026-11-17T09:00:07Z", A, "r1", "record", "ok");
	append(log, "2026-11-18T09:00:00Z", A, "r1", "promote", "ok");
	append(log, "2026-11-19T09:00:00Z", B, "r2", "claim", "ok");
	append(log, "2026-11-19T09:00:01Z", B, "r2", "set", "failed");
	append(log, "2026-11-19T09:00:02Z", B, "r2", "undo", "ok");
	append(log, "2026-11-20T09:00:00Z", GONE, NULL, "fail", "failed");
	append(log, "2026-12-02T09:00:00Z", A, "r4", "promote", "ok");
	cspf_audit_free(log);
	cspf_audit_signer_free(s);
	snprintf(path, sizeof(path), "%s/audit/2026-11.jsonl", reg_dir);
	insert_line(path, 3, "{\"v\":1,\"seq\":99,\"time\":\"2026-11-17T\n");
	put("reg/audit/2026-09.jsonl", "garbage\n");
	put("reg/audit/notes.txt", "garbage\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

struct seen {
	char lines[32][300];
	size_t n;
};

static int collect(const cspf_event *ev, void *payload)
{
	struct seen *s = payload;
	char t[CSPF_TIME_BUFSIZE];

	assert_true(s->n < 32);
	assert_int_equal(ev->actor_kind, CSPF_ACTOR_SERVICE);
	assert_string_equal(ev->source, "audit");
	assert_false(ev->read_only);
	assert_non_null(ev->id);
	cspf_time_format(t, ev->time);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %s %s %s %s %s",
		t, ev->actor, ev->action, ev->target,
		ev->account ? ev->account : "-", ev->id);
	return 0;
}

static void query(cspf_source_query *q, const cspf_registry *reg)
{
	memset(q, 0, sizeof(*q));
	assert_int_equal(cspf_time_parse(&q->start, "2026-11-16T00:00:00Z"), 0);
	assert_int_equal(cspf_time_parse(&q->end, "2026-11-30T00:00:00Z"), 0);
	q->registry = reg;
	q->registry_dir = reg_dir;
}

static void test_period(void **state)
{
	static const char *const want[] = {
		"2026-11-17T09:00:05Z ci@build-7 cspf:rotate " A
			" 222222222222 8",
		"2026-11-19T09:00:01Z ci@build-7 cspf:rotate-failed " B
			" - 13",
		"2026-11-20T09:00:00Z ci@build-7 cspf:rotate-failed " GONE
			" - 15",
	};
	cspf_registry *reg = NULL;
	cspf_source_stats stats;
	cspf_diags diags = CSPF_DIAGS_INIT;
	cspf_source_query q;
	struct seen s;
	size_t i;

	(void)state;
	assert_int_equal(cspf_registry_load(&reg, reg_dir, NULL), 0);
	query(&q, reg);
	memset(&stats, 0, sizeof(stats));
	memset(&s, 0, sizeof(s));
	assert_string_equal(cspf_source_audit.name, "audit");
	assert_int_equal(cspf_source_audit.read(&stats, &diags, &q, collect,
				 &s), 0);
	for (i = 0; i < s.n; i++)
		print_message("  %s\n", s.lines[i]);
	assert_int_equal(s.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < s.n; i++)
		assert_string_equal(s.lines[i], want[i]);

	/* The broken line: one diag with its file and line, the rest read. */
	assert_int_equal(diags.count, 1);
	assert_string_equal(diags.items[0].rule, "digest-source");
	assert_string_equal(diags.items[0].file, "audit/2026-11.jsonl");
	assert_int_equal(diags.items[0].line, 4);
	assert_non_null(strstr(diags.items[0].message, "line 4"));
	assert_int_equal(stats.bad, 1);
	assert_int_equal(stats.files, 1);
	assert_int_equal(stats.records, 15); /* November: 14 and the bad */
	assert_int_equal(stats.events, 3);
	assert_int_equal(stats.skipped, 11);
	assert_true(stats.bytes > 0);
	cspf_diags_clear(&diags);

	/* The directory named: the same; a period over two months reads
	 * both files. */
	q.arg = "/nonexistent/audit";
	assert_int_equal(cspf_source_audit.read(&stats, &diags, &q, collect,
				 &s), CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message,
		"/nonexistent/audit"));
	q.arg = NULL;
	assert_int_equal(cspf_time_parse(&q.end, "2026-12-14T00:00:00Z"), 0);
	memset(&stats, 0, sizeof(stats));
	memset(&s, 0, sizeof(s));
	assert_int_equal(cspf_source_audit.read(&stats, &diags, &q, collect,
				 &s), 0);
	assert_int_equal(stats.files, 2);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.lines[3], "2026-12-02T09:00:00Z ci@build-7 "
		"cspf:rotate " A " 222222222222 16");
	cspf_diags_clear(&diags);

	/* A registry that never rotated has no audit/: no events. */
	q.registry_dir = "/nonexistent";
	memset(&s, 0, sizeof(s));
	assert_int_equal(cspf_source_audit.read(&stats, &diags, &q, collect,
				 &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(diags.count, 0);
	cspf_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
