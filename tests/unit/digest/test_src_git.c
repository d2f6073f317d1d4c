/*
 * The "git" digest source: a real repository, made here with git, whose
 * registry sits in a sub-folder beside files that are not the registry's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cspf/time.h"
#include "digest/digest_private.h"

static char base[] = "/tmp/cspf-srcgit.XXXXXX";
static char reg_dir[256];

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A shell command in the repository; the test fails when it does. */
static void run(const char *fmt, ...)
{
	char cmd[2048];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd %s && ", base);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

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

/* Commit everything staged as `who` at `date`, committed by `committer`
 * at `cdate` (NULL: the author, at the same time). */
static void commit(const char *who, const char *date, const char *committer,
	const char *cdate)
{
	setenv("GIT_AUTHOR_NAME", who, 1);
	setenv("GIT_AUTHOR_EMAIL", "", 1);
	{
		char email[128];
		snprintf(email, sizeof(email), "%s@example.com", who);
		setenv("GIT_AUTHOR_EMAIL", email, 1);
		snprintf(email, sizeof(email), "%s@example.com",
			committer ? committer : who);
		setenv("GIT_COMMITTER_EMAIL", email, 1);
	}
	setenv("GIT_COMMITTER_NAME", committer ? committer : who, 1);
	setenv("GIT_AUTHOR_DATE", date, 1);
	setenv("GIT_COMMITTER_DATE", cdate ? cdate : date, 1);
	run("git add -A && git commit -q --allow-empty -m '%s'", who);
}

static const char ACCOUNT[] =
	"{\"accountid\": \"111111111111\", \"name\": \"a\", "
	"\"contact\": \"a@example.com\"}\n";
static const char ACCOUNT2[] =
	"{\"accountid\": \"111111111111\", \"name\": \"a2\", "
	"\"contact\": \"a@example.com\"}\n";
static const char BUCKET[] =
	"{\"name\": \"b\", \"account\": \"accounts/aws/a\", "
	"\"bucket\": \"bkt\"}\n";
static const char BUCKET2[] =
	"{\"name\": \"b\", \"account\": \"accounts/aws/a\", "
	"\"bucket\": \"bkt2\"}\n";
static const char BUCKET3[] =
	"{\"name\": \"b\", \"account\": \"accounts/aws/a\", "
	"\"bucket\": \"bkt3\"}\n";
static const char CREDS[] =
	"{\"credentials\": [{\"username\": \"svc\", "
	"\"account\": \"accounts/aws/a\"}]}\n";

/*
 * The history, oldest first:
 *   11-01 root     create accounts/aws/a, teams/t          (before)
 *   11-17 alice    create assets/bucket/b; other/x.json     (in)
 *   11-18 bob      update b, delete teams/t, README, events (in;
 *                  committed by carol on 11-19)
 *   11-19 dave     create credentials/aws/a  (branch side)  (in)
 *   11-20 erin     update accounts/aws/a     (main)         (in)
 *   11-21 frank    merge side into main                     (in)
 *   11-10 henry    update b, committed 11-22                (author before)
 *   11-25 grace    update b, committed 12-10                (in)
 *   12-05 ivan     update accounts/aws/a                    (after)
 */
static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(base))
		return -1;
	snprintf(reg_dir, sizeof(reg_dir), "%s/reg", base);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	run("git init -q -b main . && mkdir -p reg/accounts/aws "
	    "reg/assets/bucket reg/teams reg/credentials/aws reg/events "
	    "other");
	put("reg/accounts/aws/a.json", ACCOUNT);
	put("reg/teams/t.json", "{\"name\": \"t\"}\n");
	commit("root", "2026-11-01T10:00:00Z", NULL, NULL);
	put("reg/assets/bucket/b.json", BUCKET);
	put("other/x.json", "{}\n");
	commit("alice", "2026-11-17T10:00:00Z", NULL, NULL);
	put("reg/assets/bucket/b.json", BUCKET2);
	run("git rm -q reg/teams/t.json");
	put("reg/README.md", "the registry\n");
	put("reg/events/e.json", "{}\n");
	commit("bob", "2026-11-18T10:00:00Z", "carol", "2026-11-19T08:00:00Z");
	run("git checkout -q -b side");
	put("reg/credentials/aws/a.json", CREDS);
	commit("dave", "2026-11-19T10:00:00Z", NULL, NULL);
	run("git checkout -q main");
	put("reg/accounts/aws/a.json", ACCOUNT2);
	commit("erin", "2026-11-20T10:00:00Z", NULL, NULL);
	setenv("GIT_AUTHOR_NAME", "frank", 1);
	setenv("GIT_AUTHOR_EMAIL", "frank@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "frank", 1);
	setenv("GIT_COMMITTER_EMAIL", "frank@example.com", 1);
	setenv("GIT_AUTHOR_DATE", "2026-11-21T10:00:00Z", 1);
	setenv("GIT_COMMITTER_DATE", "2026-11-21T10:00:00Z", 1);
	run("git merge -q --no-ff -m merge side");
	put("reg/assets/bucket/b.json", BUCKET3);
	commit("henry", "2026-11-10T10:00:00Z", NULL, "2026-11-22T10:00:00Z");
	put("reg/assets/bucket/b.json", BUCKET);
	commit("grace", "2026-11-25T10:00:00Z", NULL, "2026-12-10T10:00:00Z");
	put("reg/accounts/aws/a.json", ACCOUNT);
	commit("ivan", "2026-12-05T10:00:00Z", NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* What the source delivered, one line per event, in a buffer. */
struct seen {
	char lines[64][256];
	size_t n;
	int stop_after; /* > 0: return -42 after this many */
};

static int collect(const cspf_event *ev, void *payload)
{
	struct seen *s = payload;
	char t[CSPF_TIME_BUFSIZE];

	assert_true(s->n < 64);
	assert_int_equal(ev->actor_kind, CSPF_ACTOR_USER);
	assert_string_equal(ev->source, "git");
	assert_false(ev->read_only);
	assert_non_null(ev->id);
	assert_int_equal(strlen(ev->id), 40);
	assert_string_equal(ev->actor, ev->person);
	cspf_time_format(t, ev->time);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %s %s %s %s",
		t, ev->actor, ev->action, ev->target,
		ev->account ? ev->account : "-");
	if (s->stop_after && (int)s->n == s->stop_after)
		return -42;
	return 0;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(a, b);
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
		"2026-11-17T10:00:00Z alice@example.com registry:create "
			"assets/bucket/b 111111111111",
		"2026-11-18T10:00:00Z bob@example.com registry:delete "
			"teams/t -",
		"2026-11-18T10:00:00Z bob@example.com registry:update "
			"assets/bucket/b 111111111111",
		"2026-11-19T10:00:00Z dave@example.com registry:create "
			"credentials/aws/a 111111111111",
		"2026-11-20T10:00:00Z erin@example.com registry:update "
			"accounts/aws/a 111111111111",
		"2026-11-21T10:00:00Z frank@example.com registry:create "
			"credentials/aws/a 111111111111",
		"2026-11-25T10:00:00Z grace@example.com registry:update "
			"assets/bucket/b 111111111111",
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
	assert_string_equal(cspf_source_git.name, "git");
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), 0);
	assert_int_equal(diags.count, 0);
	qsort(s.lines, s.n, sizeof(s.lines[0]), cmp_lines);
	for (i = 0; i < s.n; i++)
		print_message("  %s\n", s.lines[i]);
	assert_int_equal(s.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < s.n; i++)
		assert_string_equal(s.lines[i], want[i]);
	assert_int_equal(stats.events, s.n);
	/* ivan (after) and henry (authored before) are skipped; the walk
	 * stops at the root commit, two weeks before the start. */
	assert_int_equal(stats.skipped, 2);
	assert_int_equal(stats.records, 9);

	/* Without a registry: the same events, no accounts. */
	q.registry = NULL;
	memset(&s, 0, sizeof(s));
	memset(&stats, 0, sizeof(stats));
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), 0);
	assert_int_equal(s.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < s.n; i++)
		assert_non_null(strstr(s.lines[i], " -"));

	/* A revision: the side branch has dave's commit, not the merge. */
	q.registry = reg;
	q.arg = "side";
	memset(&s, 0, sizeof(s));
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), 0);
	qsort(s.lines, s.n, sizeof(s.lines[0]), cmp_lines);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.lines[3], want[3]);

	/* The callback stops the source. */
	q.arg = NULL;
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), -42);
	assert_int_equal(s.n, 2);
	assert_int_equal(diags.count, 0);
	cspf_registry_free(reg);
}

static void test_errors(void **state)
{
	cspf_source_stats stats;
	cspf_diags diags = CSPF_DIAGS_INIT;
	cspf_source_query q;
	struct seen s;

	(void)state;
	query(&q, NULL);
	memset(&stats, 0, sizeof(stats));
	memset(&s, 0, sizeof(s));
	q.arg = "no-such-branch";
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message, "no-such-branch"));
	q.arg = NULL;
	q.registry_dir = "/";
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message,
		"not in a git repository"));
	assert_int_equal(s.n, 0);
	assert_int_equal(diags.count, 0);
}

/* cspf's own commits (cspf rotate --commit) are events like the others. */
static void test_cspf_commit(void **state)
{
	const char *files[] = { "assets/bucket/b.json" };
	char id[41];
	cspf_source_stats stats;
	cspf_diags diags = CSPF_DIAGS_INIT;
	cspf_source_query q;
	struct seen s;
	int64_t now = (int64_t)time(NULL);

	(void)state;
	put("reg/assets/bucket/b.json", BUCKET2);
	assert_int_equal(cspf_registry_commit(id, reg_dir, files, 1,
				 "rotate: 1 credential", "cspf",
				 "cspf@rotate.example"), 0);
	query(&q, NULL);
	q.start = now - 3600;
	q.end = now + 3600;
	memset(&stats, 0, sizeof(stats));
	memset(&s, 0, sizeof(s));
	assert_int_equal(cspf_source_git.read(&stats, &diags, &q, collect,
				 &s), 0);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.lines[0], " cspf@rotate.example "
		"registry:update assets/bucket/b -"));
	assert_int_equal(diags.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_cspf_commit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
