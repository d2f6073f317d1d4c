/*
 * The github ticket sink (lib/digest/sink_github.c) against the GitHub
 * emulator (tests/emulators/github/github_emulator.py), which the test
 * starts on a free loopback port with a canary token: create and find,
 * update, a period's list over several pages, comments and escalation,
 * a lost answer to a create (exactly one issue), a GitHub that fails
 * every call (a clear error, no issue), throttling then success, a wrong
 * token, the body's limit, a login GitHub refuses, pull requests in the
 * listing.  The canary token must appear in no error message, no trace
 * line and not in the emulator's log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "cspf/http.h"
#include "cspf/secret.h"
#include "cspf/time.h"
#include "digest/digest_private.h"

#define PYTHON "/usr/bin/python3"
#define EMULATOR CSPF_TEST_SOURCE "/tests/emulators/github/github_emulator.py"
#define REPO "cspf-test/reviews"
#define PERIOD "2026-11-16/P14D"
#define PERIOD_LABEL "2026-11-16"

static char dir[256];
static char token[64];
static char base[64];
static pid_t emu_pid;
static cspf_http_client *http;
static bool have_emulator;

/* Everything the library said: every trace line and error message. */
static char said[1 << 20];
static size_t said_len;

static void note(const char *s)
{
	size_t n = strlen(s);

	if (said_len + n + 2 < sizeof(said)) {
		memcpy(said + said_len, s, n);
		said_len += n;
		said[said_len++] = '\n';
		said[said_len] = '\0';
	}
}

/* The last error's message, noted; "" when none. */
static const char *last_error(void)
{
	const cspf_error *e = cspf_error_last();

	if (!e || !e->message)
		return "";
	note(e->message);
	return e->message;
}

static void trace(const cspf_http_trace *t, void *payload)
{
	char line[2048];

	(void)payload;
	snprintf(line, sizeof(line), "%s %s status=%d attempt=%u %s",
		t->method, t->url, t->status, t->attempt,
		t->error ? t->error : "");
	note(line);
}

/*
 * The emulator.
 */

static int start_emulator(void)
{
	char port_file[300], log_file[300], out_file[300], buf[32];
	struct timespec ts = { 0, 50 * 1000000 };
	unsigned char rnd[12];
	int i, fd;
	FILE *f;

	if (access(PYTHON, X_OK) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/cspf-sgh-XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(token, "ghp_canary", 10);
	sodium_bin2hex(token + 10, sizeof(token) - 10, rnd, sizeof(rnd));
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	snprintf(log_file, sizeof(log_file), "%s/requests.log", dir);
	snprintf(out_file, sizeof(out_file), "%s/emulator.out", dir);
	emu_pid = fork();
	if (emu_pid < 0)
		return -1;
	if (emu_pid == 0) {
		setenv("CSPF_TEST_GH_TOKEN", token, 1);
		fd = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(PYTHON, PYTHON, EMULATOR, "--token-env",
			"CSPF_TEST_GH_TOKEN", "--port-file", port_file,
			"--log", log_file, "--repo", REPO, "--repo",
			"cspf-test/other", "--assignable", "alice-gh",
			"--assignable", "bob-gh", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((f = fopen(port_file, "r"))) {
			if (fgets(buf, sizeof(buf), f)) {
				fclose(f);
				snprintf(base, sizeof(base),
					"http://127.0.0.1:%d", atoi(buf));
				return 0;
			}
			fclose(f);
		}
		if (waitpid(emu_pid, NULL, WNOHANG) == emu_pid) {
			emu_pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* A whole file, malloc'd ("" when it cannot be read). */
static char *slurp(const char *name)
{
	char path[300];
	FILE *f;
	char *s;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	fclose(f);
	return s;
}

static int group_setup(void **state)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (start_emulator() < 0) {
		fprintf(stderr, "SKIP: cannot start %s with %s\n", EMULATOR,
			PYTHON);
		return 0;
	}
	o.backoff_base_ms = 10;
	o.backoff_max_ms = 50;
	o.retry_after_max_ms = 1500;
	o.timeout_ms = 10000;
	o.trace = trace;
	if (cspf_http_new(&http, &o) < 0)
		return -1;
	have_emulator = true;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[400];
	char *log;
	int rc = 0;

	(void)state;
	cspf_http_free(http);
	if (emu_pid > 0) {
		kill(emu_pid, SIGTERM);
		waitpid(emu_pid, NULL, 0);
	}
	if (!dir[0])
		return 0;
	/* The canary is in nothing cspf said nor in the emulator's log. */
	log = slurp("requests.log");
	if (!log[0] || strstr(log, token) || strstr(log, "canary") ||
	    strstr(said, token) || strstr(said, "canary")) {
		fprintf(stderr, "the token leaked, or no request log\n");
		rc = -1;
	}
	free(log);
	log = slurp("emulator.out");
	if (strstr(log, token)) {
		fprintf(stderr, "the token is in the emulator's output\n");
		rc = -1;
	}
	free(log);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

/* A control call to the emulator; its JSON answer (the caller's). */
static cJSON *emu(const char *method, const char *path, const char *json)
{
	cspf_http_request *req;
	cspf_http_response *resp;
	char url[256];
	const char *body;
	cJSON *out;

	snprintf(url, sizeof(url), "%s%s", base, path);
	assert_int_equal(cspf_http_request_new(&req, method, url), 0);
	if (json)
		assert_int_equal(cspf_http_request_set_body(req, json,
			strlen(json)), 0);
	assert_int_equal(cspf_http_perform(&resp, http, req), 0);
	assert_true(cspf_http_response_status(resp) < 300);
	body = cspf_http_response_body(resp, NULL);
	out = cJSON_Parse(body);
	assert_non_null(out);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	return out;
}

static void emu_do(const char *method, const char *path, const char *json)
{
	cJSON_Delete(emu(method, path, json));
}

static int test_setup(void **state)
{
	(void)state;
	if (have_emulator)
		emu_do("POST", "/_emulator/reset", NULL);
	return 0;
}

/* The emulator's issues (pull requests included). */
static cJSON *issues(void)
{
	return emu("GET", "/_emulator/issues", NULL);
}

static int count_route(const char *route)
{
	cJSON *s = emu("GET", "/_emulator/stats", NULL);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(s, "routes"), route);
	int v = cJSON_IsNumber(n) ? n->valueint : 0;

	cJSON_Delete(s);
	return v;
}

static int injected(const char *what)
{
	cJSON *s = emu("GET", "/_emulator/stats", NULL);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(s, "injected"), what);
	int v = cJSON_IsNumber(n) ? n->valueint : 0;

	cJSON_Delete(s);
	return v;
}

static bool has_label(const cJSON *issue, const char *name)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(issue,
		"labels"))
		if (cJSON_IsString(l) && !strcmp(l->valuestring, name))
			return true;
	return false;
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Tickets.
 */

struct tk {
	cspf_ticket t;
	char key[256], hash[17], title[256], period[64], label[32];
	char *body, *csv;
	const char *assignees[2];
};

static void tk_make(struct tk *k, const char *period,
	cspf_report_kind kind, const char *recipient, size_t csv_rows)
{
	unsigned char h[8];
	char *marker;
	size_t i, n;
	int64_t created;

	memset(k, 0, sizeof(*k));
	snprintf(k->period, sizeof(k->period), "%s", period);
	snprintf(k->label, sizeof(k->label), "%.*s",
		(int)(strchr(period, '/') - period), period);
	snprintf(k->key, sizeof(k->key), "%s:%s:%s", period,
		cspf_report_kind_name(kind), recipient);
	crypto_generichash(h, sizeof(h), (const unsigned char *)k->key,
		strlen(k->key), NULL, 0);
	sodium_bin2hex(k->hash, sizeof(k->hash), h, sizeof(h));
	snprintf(k->title, sizeof(k->title), "Review %s: %s for %s",
		k->label, cspf_report_kind_name(kind), recipient);
	assert_int_equal(cspf_time_parse(&created, "2026-11-30T09:00:00Z"),
		0);
	k->t.key = k->key;
	k->t.key_hash = k->hash;
	k->t.kind = kind;
	k->t.recipient = recipient;
	k->t.team = "teams/payments";
	k->t.period = k->period;
	k->t.period_label = k->label;
	k->t.created = created;
	k->t.due = created + 5 * 86400;
	k->t.events = csv_rows;
	k->t.title = k->title;
	marker = cspf_ticket_marker_format(&k->t);
	assert_non_null(marker);
	n = strlen(marker) + 256;
	k->body = malloc(n);
	snprintf(k->body, n, "# %s\n\n%zu events to review.\n\n%s\n",
		k->title, csv_rows, marker);
	free(marker);
	k->t.body = k->body;
	n = 64 + csv_rows * 96;
	k->csv = malloc(n);
	i = (size_t)snprintf(k->csv, n, "time,actor,action,target\n");
	for (size_t r = 0; r < csv_rows; r++)
		i += (size_t)snprintf(k->csv + i, n - i,
			"2026-11-%02zu,arn:aws:iam::123456789012:user/u%zu,"
			"s3:PutObject,\"arn:aws:s3:::b, with comma %zu\"\n",
			r % 28 + 1, r, r);
	k->t.csv = k->csv;
	k->t.csv_len = i;
}

static void tk_free(struct tk *k)
{
	free(k->body);
	free(k->csv);
}

/* Open the sink on the emulator with `tok`. */
static void *sink_open(const char *tok, unsigned int max_attempts)
{
	cspf_sink_config cfg = { 0 };
	cspf_secret *s;
	void *st = NULL;
	char url[80];

	snprintf(url, sizeof(url), "%s/", base); /* a trailing '/' is ok */
	assert_int_equal(cspf_secret_new(&s, tok, strlen(tok)), 0);
	cfg.type = "github";
	cfg.url = url;
	cfg.project = REPO;
	cfg.token = s;
	cfg.http = http;
	cfg.max_attempts = max_attempts;
	if (cspf_sink_github.open(&st, &cfg) < 0)
		fail_msg("open: %s", last_error());
	cspf_secret_free(s);
	return st;
}

#define NEED_EMULATOR() do { if (!have_emulator) skip(); } while (0)

static void test_open_refuses(void **state)
{
	cspf_sink_config cfg = { 0 };
	cspf_secret *s;
	void *st = NULL;

	(void)state;
	assert_int_equal(cspf_secret_new(&s, token, strlen(token)), 0);
	cfg.type = "github";
	cfg.token = s;
	cfg.http = http;
	cfg.project = "no-slash";
	assert_int_equal(cspf_sink_github.open(&st, &cfg), CSPF_EINVALID);
	assert_non_null(strstr(last_error(), "OWNER/REPO"));
	cfg.project = "a/b/c";
	assert_int_equal(cspf_sink_github.open(&st, &cfg), CSPF_EINVALID);
	cfg.project = REPO;
	cfg.url = "http://192.0.2.1:8080";
	assert_int_equal(cspf_sink_github.open(&st, &cfg), CSPF_EINVALID);
	assert_non_null(strstr(last_error(), "loopback"));
	cfg.url = NULL;
	cfg.token = NULL;
	assert_int_equal(cspf_sink_github.open(&st, &cfg), CSPF_EAUTH);
	assert_non_null(strstr(last_error(), "GITHUB_TOKEN"));
	assert_null(st);
	cspf_secret_free(s);
}

static void test_create_find(void **state)
{
	struct tk k, other;
	cspf_ticket_ref ref, got;
	const char *assignees[] = { "alice-gh", "bob-gh" };
	cJSON *all;
	const cJSON *it;
	const char *body;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", 3);
	tk_make(&other, PERIOD, CSPF_REPORT_USER_ACTIONS,
		"alice@example.com", 1);
	k.t.assignees = assignees;
	k.t.assignee_count = 2;
	assert_int_equal(cspf_sink_github.find(st, &k.t, &got),
		CSPF_ENOTFOUND);
	memset(&ref, 0, sizeof(ref));
	if (cspf_sink_github.create(st, &k.t, &ref) < 0)
		fail_msg("create: %s", last_error());
	assert_string_equal(ref.id, "1");
	assert_non_null(strstr(ref.url, "/" REPO "/issues/1"));
	assert_true(ref.open);
	assert_false(ref.escalated);
	assert_string_equal(ref.key, k.key);
	assert_true(ref.due == k.t.due);
	assert_int_equal(cspf_sink_github.create(st, &other.t, &ref), 0);
	assert_string_equal(ref.id, "2");

	memset(&got, 0, sizeof(got));
	if (cspf_sink_github.find(st, &k.t, &got) < 0)
		fail_msg("find: %s", last_error());
	assert_string_equal(got.id, "1");
	assert_string_equal(got.key, k.key);
	assert_string_equal(got.kind, "resource-actions");
	assert_string_equal(got.recipient, "payments@example.com");
	assert_string_equal(got.team, "teams/payments");
	assert_string_equal(got.period, PERIOD);
	assert_true(got.created == k.t.created && got.due == k.t.due);
	assert_true(got.open);
	assert_int_equal(cspf_sink_github.find(st, &other.t, &got), 0);
	assert_string_equal(got.id, "2");

	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 2);
	it = cJSON_GetArrayItem(all, 0);
	assert_string_equal(str_of(it, "title"), k.title);
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(it, "labels")), 4);
	assert_true(has_label(it, "cspf-digest"));
	assert_true(has_label(it, "cspf-period-" PERIOD_LABEL));
	assert_true(has_label(it, "cspf-resource-actions"));
	{
		char l[40];

		snprintf(l, sizeof(l), "cspf-key-%s", k.hash);
		assert_true(has_label(it, l));
	}
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(it, "assignees")), 2);
	body = str_of(it, "body");
	assert_non_null(strstr(body, "<details>"));
	assert_non_null(strstr(body, "All 3 rows (CSV)"));
	assert_non_null(strstr(body, "```csv\ntime,actor,action,target\n"));
	assert_non_null(strstr(body, "with comma 2\"\n```"));
	assert_non_null(strstr(body, "<!-- cspf-digest {"));
	cJSON_Delete(all);
	tk_free(&k);
	tk_free(&other);

	/* Backticks in the CSV: a longer fence, so the block holds. */
	emu_do("POST", "/_emulator/reset", NULL);
	tk_make(&k, PERIOD, CSPF_REPORT_USER_ROLES, "x@example.com", 0);
	free(k.csv);
	k.csv = strdup("a,b\n1,\"```rm -rf```\"\n");
	k.t.csv = k.csv;
	k.t.csv_len = strlen(k.csv);
	assert_int_equal(cspf_sink_github.create(st, &k.t, &ref), 0);
	all = issues();
	body = str_of(cJSON_GetArrayItem(all, 0), "body");
	assert_non_null(strstr(body, "All 1 row (CSV)"));
	assert_non_null(strstr(body, "\n````csv\na,b\n1,\"```rm -rf```\"\n"
		"````\n"));
	cJSON_Delete(all);
	tk_free(&k);
	cspf_sink_github.close(st);
}

static void test_update(void **state)
{
	struct tk k, k2;
	cspf_ticket_ref ref, got;
	cJSON *all;
	const cJSON *it;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_ROLE_ACTIONS, "ops@example.com", 2);
	assert_int_equal(cspf_sink_github.create(st, &k.t, &ref), 0);
	/* A re-run a day later: more events, a new title. */
	tk_make(&k2, PERIOD, CSPF_REPORT_ROLE_ACTIONS, "ops@example.com", 5);
	k2.t.created += 86400;
	k2.t.due += 86400;
	snprintf(k2.title, sizeof(k2.title), "Review, updated");
	free(k2.body);
	{
		char *m = cspf_ticket_marker_format(&k2.t);

		k2.body = malloc(strlen(m) + 64);
		snprintf(k2.body, strlen(m) + 64, "Now 5 events.\n\n%s\n", m);
		free(m);
		k2.t.body = k2.body;
	}
	if (cspf_sink_github.update(st, &ref, &k2.t) < 0)
		fail_msg("update: %s", last_error());
	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 1);
	it = cJSON_GetArrayItem(all, 0);
	assert_string_equal(str_of(it, "title"), "Review, updated");
	assert_non_null(strstr(str_of(it, "body"), "Now 5 events."));
	assert_non_null(strstr(str_of(it, "body"), "All 5 rows (CSV)"));
	assert_string_equal(str_of(it, "state"), "open");
	cJSON_Delete(all);
	/* The due date stays the one the issue was opened with. */
	assert_int_equal(cspf_sink_github.find(st, &k2.t, &got), 0);
	assert_true(got.due == k.t.due);
	assert_true(got.created == k.t.created);
	/* An issue that is no number. */
	snprintf(got.id, sizeof(got.id), "1/../../x");
	assert_int_equal(cspf_sink_github.update(st, &got, &k2.t),
		CSPF_EINVALID);
	/* An issue that does not exist. */
	snprintf(got.id, sizeof(got.id), "999");
	assert_true(cspf_sink_github.update(st, &got, &k2.t) < 0);
	assert_non_null(strstr(last_error(), "HTTP 404"));
	tk_free(&k);
	tk_free(&k2);
	cspf_sink_github.close(st);
}

struct listed {
	cspf_ticket_ref refs[200];
	size_t n;
};

static int list_cb(const cspf_ticket_ref *ref, void *payload)
{
	struct listed *l = payload;

	if (l->n < 200)
		l->refs[l->n++] = *ref;
	return 0;
}

static const cspf_ticket_ref *listed_find(const struct listed *l,
	const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->refs[i].key, key))
			return &l->refs[i];
	return NULL;
}

static void test_list(void **state)
{
	static struct listed l;
	struct tk a, b, c, d, x;
	cspf_ticket_ref ra, rb, rc, rd, rx;
	const cspf_ticket_ref *r;
	char json[256];
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&a, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 1);
	tk_make(&b, PERIOD, CSPF_REPORT_ROLE_MEMBERS, "b@example.com", 1);
	tk_make(&c, PERIOD, CSPF_REPORT_USER_ROLES, "c@example.com", 1);
	tk_make(&d, "2026-11-02/P14D", CSPF_REPORT_USER_ROLES,
		"c@example.com", 1);
	/* Same start date, another length: not the same period. */
	tk_make(&x, "2026-11-16/P7D", CSPF_REPORT_USER_ROLES,
		"c@example.com", 1);
	assert_int_equal(cspf_sink_github.create(st, &a.t, &ra), 0);
	assert_int_equal(cspf_sink_github.create(st, &b.t, &rb), 0);
	assert_int_equal(cspf_sink_github.create(st, &c.t, &rc), 0);
	assert_int_equal(cspf_sink_github.create(st, &d.t, &rd), 0);
	assert_int_equal(cspf_sink_github.create(st, &x.t, &rx), 0);
	/* A person closes b; a pull request carries the period's labels. */
	snprintf(json, sizeof(json), "{\"repo\":\"%s\",\"number\":%s}", REPO,
		rb.id);
	emu_do("POST", "/_emulator/close", json);
	snprintf(json, sizeof(json), "{\"repo\":\"%s\",\"labels\":"
		"[\"cspf-digest\",\"cspf-period-%s\"],\"body\":\"%s\"}", REPO,
		PERIOD_LABEL, "no marker");
	emu_do("POST", "/_emulator/pulls", json);

	memset(&l, 0, sizeof(l));
	if (cspf_sink_github.list(st, PERIOD, list_cb, &l) < 0)
		fail_msg("list: %s", last_error());
	assert_int_equal(l.n, 3);
	assert_non_null(r = listed_find(&l, a.key));
	assert_true(r->open);
	assert_string_equal(r->id, ra.id);
	assert_string_equal(r->kind, "resource-actions");
	assert_string_equal(r->recipient, "a@example.com");
	assert_true(r->due == a.t.due);
	assert_non_null(r = listed_find(&l, b.key));
	assert_false(r->open);
	assert_string_equal(r->kind, "role-members");
	assert_non_null(r = listed_find(&l, c.key));
	assert_true(r->open);
	assert_null(listed_find(&l, d.key));

	memset(&l, 0, sizeof(l));
	assert_int_equal(cspf_sink_github.list(st, "2026-11-02/P14D", list_cb,
		&l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.refs[0].key, d.key);
	assert_int_equal(cspf_sink_github.list(st, "nonsense", list_cb, &l),
		CSPF_EINVALID);
	tk_free(&a);
	tk_free(&b);
	tk_free(&c);
	tk_free(&d);
	tk_free(&x);
	cspf_sink_github.close(st);
}

/* More than a page (100): list follows Link rel="next". */
static void test_list_pages(void **state)
{
	static struct listed l;
	struct tk k;
	cspf_ticket_ref ref;
	char who[64];
	size_t i, n = 130;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	for (i = 0; i < n; i++) {
		snprintf(who, sizeof(who), "user%03zu@example.com", i);
		tk_make(&k, PERIOD, CSPF_REPORT_USER_ACTIONS, who, 0);
		assert_int_equal(cspf_sink_github.create(st, &k.t, &ref), 0);
		tk_free(&k);
	}
	memset(&l, 0, sizeof(l));
	assert_int_equal(cspf_sink_github.list(st, PERIOD, list_cb, &l), 0);
	assert_int_equal(l.n, n);
	for (i = 0; i < n; i++) {
		char key[128];

		snprintf(key, sizeof(key), "%s:user-actions:user%03zu@"
			"example.com", PERIOD, i);
		assert_non_null(listed_find(&l, key));
	}
	assert_int_equal(count_route("GET /repos/{o}/{r}/issues"), 2);
	cspf_sink_github.close(st);
}

static void test_comment_escalate(void **state)
{
	static struct listed l;
	struct tk a, b;
	cspf_ticket_ref ra, rb;
	cJSON *all;
	const cJSON *it;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&a, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 1);
	tk_make(&b, PERIOD, CSPF_REPORT_USER_ACTIONS, "b@example.com", 1);
	assert_int_equal(cspf_sink_github.create(st, &a.t, &ra), 0);
	assert_int_equal(cspf_sink_github.create(st, &b.t, &rb), 0);
	if (cspf_sink_github.comment(st, &ra, "Overdue: @sec-lead please "
		"look.", true) < 0)
		fail_msg("comment: %s", last_error());
	assert_int_equal(cspf_sink_github.comment(st, &rb, "A reminder.",
		false), 0);
	all = issues();
	it = cJSON_GetArrayItem(all, 0);
	assert_true(has_label(it, "cspf-escalated"));
	assert_string_equal(cJSON_GetArrayItem(
		cJSON_GetObjectItemCaseSensitive(it, "comments"), 0)
		->valuestring, "Overdue: @sec-lead please look.");
	it = cJSON_GetArrayItem(all, 1);
	assert_false(has_label(it, "cspf-escalated"));
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(it, "comments")), 1);
	cJSON_Delete(all);

	memset(&l, 0, sizeof(l));
	assert_int_equal(cspf_sink_github.list(st, PERIOD, list_cb, &l), 0);
	assert_int_equal(l.n, 2);
	assert_true(listed_find(&l, a.key)->escalated);
	assert_false(listed_find(&l, b.key)->escalated);

	/* A comment whose answer is lost is not posted twice. */
	emu_do("POST", "/_emulator/faults", "{\"lose_answer_at\":[1]}");
	assert_int_equal(cspf_sink_github.comment(st, &rb, "Second reminder.",
		false), 0);
	emu_do("POST", "/_emulator/faults", "{}");
	all = issues();
	it = cJSON_GetArrayItem(all, 1);
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(it, "comments")), 2);
	cJSON_Delete(all);
	tk_free(&a);
	tk_free(&b);
	cspf_sink_github.close(st);
}

/* The create took effect but its answer was lost: one issue. */
static void test_lost_answer(void **state)
{
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *all;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 2);
	/* And the first look for it fails too (a 503, retried). */
	emu_do("POST", "/_emulator/faults",
		"{\"lose_answer_at\":[1],\"fail_at\":[2]}");
	memset(&ref, 0, sizeof(ref));
	if (cspf_sink_github.create(st, &k.t, &ref) < 0)
		fail_msg("create: %s", last_error());
	assert_string_equal(ref.id, "1");
	assert_string_equal(ref.key, k.key);
	assert_int_equal(injected("lose_answer"), 1);
	assert_int_equal(count_route("POST /repos/{o}/{r}/issues"), 1);
	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 1);
	cJSON_Delete(all);
	emu_do("POST", "/_emulator/faults", "{}");
	tk_free(&k);
	cspf_sink_github.close(st);
}

/* GitHub fails every call: a clear error, no issue. */
static void test_fails_every_time(void **state)
{
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *all;
	char faults[600];
	const char *msg;
	size_t i, n;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 3);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 2);
	n = (size_t)snprintf(faults, sizeof(faults),
		"{\"fail_status\":503,\"fail_at\":[1");
	for (i = 2; i <= 60; i++)
		n += (size_t)snprintf(faults + n, sizeof(faults) - n, ",%zu",
			i);
	snprintf(faults + n, sizeof(faults) - n, "]}");
	emu_do("POST", "/_emulator/faults", faults);
	assert_true(cspf_sink_github.create(st, &k.t, &ref) < 0);
	msg = last_error();
	assert_non_null(strstr(msg, "sink github:" REPO));
	assert_non_null(strstr(msg, "HTTP 503"));
	assert_non_null(strstr(msg, "gave up after 3 attempts"));
	emu_do("POST", "/_emulator/faults", "{}");
	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 0);
	cJSON_Delete(all);
	/* Three sends at most, each after a look that failed or found none. */
	assert_true(count_route("POST /repos/{o}/{r}/issues") <= 3);
	tk_free(&k);
	cspf_sink_github.close(st);
}

/* Rate limits as GitHub answers them, then success. */
static void test_throttled(void **state)
{
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *all;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 2);
	/* The primary limit (403, remaining 0, a reset) on the create. */
	emu_do("POST", "/_emulator/faults",
		"{\"throttle_at\":[1],\"retry_after_s\":1}");
	if (cspf_sink_github.create(st, &k.t, &ref) < 0)
		fail_msg("create: %s", last_error());
	assert_int_equal(injected("throttle"), 1);
	assert_int_equal(count_route("POST /repos/{o}/{r}/issues"), 2);
	/* A secondary limit (403, Retry-After) twice on a find. */
	emu_do("POST", "/_emulator/faults", "{\"throttle_at\":[1,2],"
		"\"throttle_kind\":\"secondary\",\"retry_after_s\":0}");
	if (cspf_sink_github.find(st, &k.t, &ref) < 0)
		fail_msg("find: %s", last_error());
	assert_string_equal(ref.id, "1");
	assert_int_equal(injected("throttle"), 3);
	/* A 429 on a comment. */
	emu_do("POST", "/_emulator/faults", "{\"throttle_at\":[1],"
		"\"throttle_status\":429,\"throttle_kind\":\"secondary\","
		"\"retry_after_s\":0}");
	assert_int_equal(cspf_sink_github.comment(st, &ref, "hello", true), 0);
	emu_do("POST", "/_emulator/faults", "{}");
	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(all, 0), "comments")), 1);
	cJSON_Delete(all);
	/* Throttled on every attempt: the error says to wait. */
	emu_do("POST", "/_emulator/faults", "{\"throttle_at\":[1,2,3,4,5,6,"
		"7,8],\"throttle_kind\":\"secondary\",\"retry_after_s\":0}");
	cspf_sink_github.close(st);
	st = sink_open(token, 2);
	assert_true(cspf_sink_github.find(st, &k.t, &ref) < 0);
	assert_non_null(strstr(last_error(), "rate limited by GitHub"));
	assert_non_null(strstr(last_error(), "secondary rate limit"));
	emu_do("POST", "/_emulator/faults", "{}");
	tk_free(&k);
	cspf_sink_github.close(st);
}

static void test_wrong_token(void **state)
{
	struct tk k;
	cspf_ticket_ref ref;
	char wrong[64];
	const char *msg;
	cJSON *all;
	void *st;

	(void)state;
	NEED_EMULATOR();
	snprintf(wrong, sizeof(wrong), "%s", token);
	wrong[strlen(wrong) - 1] ^= 1; /* still a "canary" */
	st = sink_open(wrong, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 2);
	assert_int_equal(cspf_sink_github.find(st, &k.t, &ref), CSPF_EAUTH);
	msg = last_error();
	assert_non_null(strstr(msg, "GITHUB_TOKEN"));
	assert_non_null(strstr(msg, "HTTP 401"));
	assert_non_null(strstr(msg, "Bad credentials"));
	assert_non_null(strstr(msg, REPO));
	assert_int_equal(cspf_sink_github.create(st, &k.t, &ref), CSPF_EAUTH);
	assert_non_null(strstr(last_error(), "GITHUB_TOKEN"));
	assert_null(strstr(said, wrong));
	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 0);
	cJSON_Delete(all);
	tk_free(&k);
	cspf_sink_github.close(st);
}

/* A CSV too big for an issue: the first rows, and how many more. */
static void test_body_limit(void **state)
{
	struct tk k;
	cspf_ticket_ref ref, got;
	cJSON *all;
	const char *body;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com",
		3000);
	assert_true(k.t.csv_len > 200000);
	if (cspf_sink_github.create(st, &k.t, &ref) < 0)
		fail_msg("create: %s", last_error());
	all = issues();
	body = str_of(cJSON_GetArrayItem(all, 0), "body");
	assert_true(strlen(body) <= 65536);
	assert_true(strlen(body) > 60000);
	assert_non_null(strstr(body, "The complete CSV has 3000 rows"));
	assert_non_null(strstr(body, "`cspf digest --sink files:DIR`"));
	assert_non_null(strstr(body, "time,actor,action,target\n"));
	assert_non_null(strstr(body, "with comma 0\"\n"));
	assert_null(strstr(body, "with comma 2999\""));
	/* Whole rows only, then the fence. */
	assert_non_null(strstr(body, "\"\n```\n\n</details>"));
	cJSON_Delete(all);
	assert_int_equal(cspf_sink_github.find(st, &k.t, &got), 0);
	assert_string_equal(got.key, k.key);
	tk_free(&k);

	/* A body that alone is too long keeps its marker. */
	emu_do("POST", "/_emulator/reset", NULL);
	tk_make(&k, PERIOD, CSPF_REPORT_USER_ROLES, "a@example.com", 1);
	{
		char *m = cspf_ticket_marker_format(&k.t), *big;
		size_t n = 100000 + strlen(m) + 8;

		big = malloc(n);
		memset(big, 'x', 100000);
		snprintf(big + 100000, n - 100000, "\n%s\n", m);
		free(m);
		free(k.body);
		k.body = big;
		k.t.body = big;
	}
	if (cspf_sink_github.create(st, &k.t, &ref) < 0)
		fail_msg("create: %s", last_error());
	assert_int_equal(cspf_sink_github.find(st, &k.t, &got), 0);
	assert_string_equal(got.key, k.key);
	all = issues();
	body = str_of(cJSON_GetArrayItem(all, 0), "body");
	assert_true(strlen(body) <= 65536);
	assert_non_null(strstr(body, "cut here at GitHub's limit"));
	cJSON_Delete(all);
	tk_free(&k);
	cspf_sink_github.close(st);
}

/* A login GitHub refuses: the issue is opened unassigned, and says so. */
static void test_assignee_refused(void **state)
{
	struct tk k;
	cspf_ticket_ref ref;
	const char *assignees[] = { "alice-gh", "nobody-here" };
	cJSON *all;
	const cJSON *it;
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 1);
	k.t.assignees = assignees;
	k.t.assignee_count = 2;
	if (cspf_sink_github.create(st, &k.t, &ref) < 0)
		fail_msg("create: %s", last_error());
	all = issues();
	assert_int_equal(cJSON_GetArraySize(all), 1);
	it = cJSON_GetArrayItem(all, 0);
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(it, "assignees")), 0);
	assert_non_null(strstr(str_of(it, "body"),
		"GitHub would not assign this issue to `alice-gh`, "
		"`nobody-here`"));
	cJSON_Delete(all);
	tk_free(&k);
	cspf_sink_github.close(st);
}

/* Pull requests are in the issues list: never taken for a ticket. */
static void test_pull_requests(void **state)
{
	struct tk k;
	cspf_ticket_ref ref;
	char json[512];
	void *st;

	(void)state;
	NEED_EMULATOR();
	st = sink_open(token, 0);
	tk_make(&k, PERIOD, CSPF_REPORT_RESOURCE_ACTIONS, "a@example.com", 1);
	snprintf(json, sizeof(json), "{\"repo\":\"%s\",\"labels\":"
		"[\"cspf-key-%s\"],\"body\":\"x\"}", REPO, k.hash);
	emu_do("POST", "/_emulator/pulls", json);
	assert_int_equal(cspf_sink_github.find(st, &k.t, &ref),
		CSPF_ENOTFOUND);
	assert_int_equal(cspf_sink_github.create(st, &k.t, &ref), 0);
	assert_string_equal(ref.id, "2");
	memset(&ref, 0, sizeof(ref));
	assert_int_equal(cspf_sink_github.find(st, &k.t, &ref), 0);
	assert_string_equal(ref.id, "2");
	tk_free(&k);
	cspf_sink_github.close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_refuses),
		cmocka_unit_test_setup(test_create_find, test_setup),
		cmocka_unit_test_setup(test_update, test_setup),
		cmocka_unit_test_setup(test_list, test_setup),
		cmocka_unit_test_setup(test_list_pages, test_setup),
		cmocka_unit_test_setup(test_comment_escalate, test_setup),
		cmocka_unit_test_setup(test_lost_answer, test_setup),
		cmocka_unit_test_setup(test_fails_every_time, test_setup),
		cmocka_unit_test_setup(test_throttled, test_setup),
		cmocka_unit_test_setup(test_wrong_token, test_setup),
		cmocka_unit_test_setup(test_body_limit, test_setup),
		cmocka_unit_test_setup(test_assignee_refused, test_setup),
		cmocka_unit_test_setup(test_pull_requests, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
