/*
 * The jira ticket sink (lib/digest/sink_jira.c) against the Jira emulator
 * (tests/emulators/jira/jira_emulator.py), started afresh for each test
 * on a free loopback port: create and find, a team's queue, update, list
 * of a period over several pages with a ticket a person closed, comment
 * and escalation, an answer lost after the create took effect, a create
 * that fails every time, throttling, refused credentials (Basic and
 * Bearer), an assignee Jira does not know, a body past Jira's limit, and
 * a canary token that must appear in no log, trace or message.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "cspf/http.h"
#include "cspf/time.h"
#include "digest/digest_private.h"

#define PY "/usr/bin/python3"
#define EMU CSPF_TEST_SOURCE "/tests/emulators/jira/jira_emulator.py"
#define CANARY "Canary-jira-T0ken-5d1e9a77"
#define USER "cspf-bot@example.com"
#define TOKEN_ENV "CSPF_TEST_JIRA_TOKEN"

/* Everything the library said: trace lines and error messages. */
static char said[1 << 17];
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

static void trace(const cspf_http_trace *t, void *payload)
{
	char line[1024];

	(void)payload;
	snprintf(line, sizeof(line), "%s %s %s %d %s", t->method, t->url,
		t->action ? t->action : "-", t->status,
		t->error ? t->error : "");
	note(line);
}

/* The last error's message, noted. */
static const char *errmsg(void)
{
	const char *m = cspf_error_last()->message;

	note(m ? m : "(none)");
	return m ? m : "";
}

struct emu {
	pid_t pid;
	char dir[64];
	char base[64];
	cspf_http_client *http;
	void *sink;
};

static bool slurp(char *out, size_t size, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	out[0] = '\0';
	if (!f)
		return false;
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
	return true;
}

static void start_emulator(struct emu *e)
{
	char port_file[128], out[128], log[128], port[32];
	int i, fd, status;

	snprintf(e->dir, sizeof(e->dir), "/tmp/cspf-jira-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(port_file, sizeof(port_file), "%s/port", e->dir);
	snprintf(out, sizeof(out), "%s/emu.out", e->dir);
	snprintf(log, sizeof(log), "%s/emu.log", e->dir);
	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		setenv(TOKEN_ENV, CANARY, 1);
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(PY, PY, EMU, "--port-file", port_file, "--log", log,
			"--token-env", TOKEN_ENV, "--user", USER,
			"--project", "SEC", "--project", "PAY",
			"--assignable", "alice@example.com",
			"--assignable", "bob@example.com",
			"--max-results", "2", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if (slurp(port, sizeof(port), port_file) && port[0])
			break;
		if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
			slurp(said, sizeof(said), out);
			fail_msg("the emulator exited: %s", said);
		}
		usleep(50000);
	}
	assert_true(port[0] != '\0');
	snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d",
		(int)strtol(port, NULL, 10));
}

static void stop_emulator(struct emu *e)
{
	char path[128];
	int status;

	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, &status, 0);
		e->pid = 0;
	}
	snprintf(path, sizeof(path), "%s/port", e->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/emu.out", e->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/emu.log", e->dir);
	unlink(path);
	rmdir(e->dir);
}

/* A sink on the emulator: Basic with `user` (NULL: Bearer), `token`. */
static int open_sink(void **out, struct emu *e, const char *user,
	const char *token, unsigned int attempts)
{
	cspf_sink_config cfg = { 0 };
	cspf_secret *tok = NULL;
	int rc;

	assert_int_equal(cspf_secret_new(&tok, token, strlen(token)), 0);
	cfg.type = "jira";
	cfg.url = e->base;
	cfg.project = "SEC";
	cfg.token = tok;
	cfg.user = user;
	cfg.http = e->http;
	cfg.max_attempts = attempts;
	rc = cspf_sink_jira.open(out, &cfg);
	/* The sink keeps its own copy. */
	cspf_secret_free(tok);
	return rc;
}

static int setup(void **state)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	struct emu *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	start_emulator(e);
	o.backoff_base_ms = 20;
	o.backoff_max_ms = 200;
	o.retry_after_max_ms = 3000;
	o.timeout_ms = 10000;
	o.trace = trace;
	assert_int_equal(cspf_http_new(&e->http, &o), 0);
	assert_int_equal(open_sink(&e->sink, e, USER, CANARY, 3), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct emu *e = *state;
	char text[1 << 16], path[128];

	/* No canary in what the emulator saw and logged. */
	snprintf(path, sizeof(path), "%s/emu.log", e->dir);
	if (slurp(text, sizeof(text), path))
		assert_null(strstr(text, CANARY));
	snprintf(path, sizeof(path), "%s/emu.out", e->dir);
	if (slurp(text, sizeof(text), path))
		assert_null(strstr(text, CANARY));
	cspf_sink_jira.close(e->sink);
	cspf_http_free(e->http);
	stop_emulator(e);
	free(e);
	return 0;
}

/*
 * The emulator's control endpoints.
 */

static cJSON *ctl(struct emu *e, const char *method, const char *path,
	const char *body)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	char url[256];
	const char *text;
	size_t len;
	cJSON *j;

	snprintf(url, sizeof(url), "%s%s", e->base, path);
	assert_int_equal(cspf_http_request_new(&req, method, url), 0);
	if (body)
		assert_int_equal(cspf_http_request_set_body(req, body,
			strlen(body)), 0);
	assert_int_equal(cspf_http_perform(&resp, e->http, req), 0);
	assert_int_equal(cspf_http_response_status(resp), 200);
	text = cspf_http_response_body(resp, &len);
	j = cJSON_ParseWithLength(text, len);
	assert_non_null(j);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	return j;
}

static void faults(struct emu *e, const char *json)
{
	cJSON_Delete(ctl(e, "POST", "/_emulator/faults", json));
}

/* Every issue the emulator holds: the array of its /_emulator/issues. */
static cJSON *issues(struct emu *e, cJSON **root)
{
	*root = ctl(e, "GET", "/_emulator/issues", NULL);
	return cJSON_GetObjectItemCaseSensitive(*root, "issues");
}

static const cJSON *issue_by_key(const cJSON *list, const char *key)
{
	const cJSON *i;

	cJSON_ArrayForEach(i, list)
		if (strcmp(cJSON_GetObjectItemCaseSensitive(i,
			"key")->valuestring, key) == 0)
			return i;
	return NULL;
}

static const char *sfield(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool has_label(const cJSON *issue, const char *label)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(issue,
		"labels"))
		if (strcmp(l->valuestring, label) == 0)
			return true;
	return false;
}

static int stat_of(struct emu *e, const char *section, const char *name)
{
	cJSON *root = ctl(e, "GET", "/_emulator/stats", NULL);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, section), name);
	int n = cJSON_IsNumber(v) ? v->valueint : 0;

	cJSON_Delete(root);
	return n;
}

/*
 * Tickets.
 */

struct tk {
	cspf_ticket t;
	char key[256], hash[17], recipient[128], period[64], plabel[16];
	char title[256];
	const char *assignees[1];
	char *body, *csv;
};

static void tk_init(struct tk *k, const char *period, cspf_report_kind kind,
	const char *recipient, const char *assignee)
{
	unsigned char h[8];
	char *marker;
	size_t n;
	int64_t start;

	memset(k, 0, sizeof(*k));
	snprintf(k->period, sizeof(k->period), "%s", period);
	snprintf(k->plabel, sizeof(k->plabel), "%.10s", period);
	snprintf(k->recipient, sizeof(k->recipient), "%s", recipient);
	snprintf(k->key, sizeof(k->key), "%s:%s:%s", period,
		cspf_report_kind_name(kind), recipient);
	crypto_generichash(h, sizeof(h), (const unsigned char *)k->key,
		strlen(k->key), NULL, 0);
	sodium_bin2hex(k->hash, sizeof(k->hash), h, sizeof(h));
	snprintf(k->title, sizeof(k->title), "Review: %s for %s (%s)",
		cspf_report_kind_name(kind), recipient, k->plabel);
	assert_int_equal(cspf_time_parse(&start, k->plabel), 0);
	k->t.key = k->key;
	k->t.key_hash = k->hash;
	k->t.kind = kind;
	k->t.recipient = k->recipient;
	k->t.team = "teams/payments";
	k->t.period = k->period;
	k->t.period_label = k->plabel;
	k->t.created = start + 14 * 86400;
	k->t.due = k->t.created + 5 * 86400;
	k->t.events = 3;
	k->t.title = k->title;
	if (assignee) {
		k->assignees[0] = assignee;
		k->t.assignees = k->assignees;
		k->t.assignee_count = 1;
	}
	marker = cspf_ticket_marker_format(&k->t);
	assert_non_null(marker);
	n = strlen(marker) + 256;
	k->body = malloc(n);
	assert_non_null(k->body);
	snprintf(k->body, n, "# %s\n\n3 events to review, *newest first*.\n"
		"\n| action | count |\n|---|---|\n| s3:PutObject | 3 |\n\n%s\n",
		k->title, marker);
	free(marker);
	k->t.body = k->body;
	n = strlen(recipient) + 128;
	k->csv = malloc(n);
	assert_non_null(k->csv);
	snprintf(k->csv, n, "time,actor,action,target\n"
		"2026-11-03T10:00:00Z,%s,s3:PutObject,\"arn:aws:s3:::b, c\"\n",
		recipient);
	k->t.csv = k->csv;
	k->t.csv_len = strlen(k->csv);
}

static void tk_dispose(struct tk *k)
{
	free(k->body);
	free(k->csv);
}

/* The CSV's attachment name and content on issue `key`: exactly one. */
static void expect_attachment(struct emu *e, const char *key,
	const struct tk *k)
{
	cJSON *root;
	const cJSON *list = issues(e, &root), *i = issue_by_key(list, key);
	const cJSON *atts = cJSON_GetObjectItemCaseSensitive(i, "attachments");
	char name[128];

	snprintf(name, sizeof(name), "%s-%s.csv",
		cspf_report_kind_name(k->t.kind), k->plabel);
	assert_int_equal(cJSON_GetArraySize(atts), 1);
	assert_string_equal(sfield(atts->child, "filename"), name);
	assert_string_equal(sfield(atts->child, "data"), k->csv);
	cJSON_Delete(root);
}

/*
 * The tests.
 */

static void test_create_find(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref, got;
	cJSON *root;
	const cJSON *list, *i;
	char url[128];

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", "alice@example.com");
	assert_int_equal(cspf_sink_jira.find(e->sink, &k.t, &got),
		CSPF_ENOTFOUND);
	if (cspf_sink_jira.create(e->sink, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	assert_string_equal(ref.id, "SEC-1");
	snprintf(url, sizeof(url), "%s/browse/SEC-1", e->base);
	assert_string_equal(ref.url, url);
	assert_true(ref.open);
	assert_string_equal(ref.key, k.key);

	memset(&got, 0, sizeof(got));
	if (cspf_sink_jira.find(e->sink, &k.t, &got) < 0)
		fail_msg("find: %s", errmsg());
	assert_string_equal(got.id, "SEC-1");
	assert_string_equal(got.url, url);
	assert_string_equal(got.key, k.key);
	assert_string_equal(got.kind, "resource-actions");
	assert_string_equal(got.recipient, "payments@example.com");
	assert_string_equal(got.team, "teams/payments");
	assert_string_equal(got.period, "2026-11-02/P14D");
	assert_true(got.due == k.t.due);
	assert_true(got.open);
	assert_false(got.escalated);

	list = issues(e, &root);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	i = list->child;
	assert_string_equal(sfield(i, "project"), "SEC");
	assert_string_equal(sfield(i, "issuetype"), "Task");
	assert_string_equal(sfield(i, "summary"), k.title);
	assert_string_equal(sfield(i, "description"), k.body);
	assert_string_equal(sfield(i, "assignee"), "alice@example.com");
	assert_string_equal(sfield(i, "reporter"), USER);
	/* created 2026-11-16, due five days later */
	assert_string_equal(sfield(i, "duedate"), "2026-11-21");
	assert_true(has_label(i, "cspf-digest"));
	assert_true(has_label(i, "cspf-period-2026-11-02"));
	assert_true(has_label(i, "cspf-resource-actions"));
	{
		char l[64];

		snprintf(l, sizeof(l), "cspf-key-%s", k.hash);
		assert_true(has_label(i, l));
	}
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(i, "labels")), 4);
	cJSON_Delete(root);
	expect_attachment(e, "SEC-1", &k);
	/* Another ticket's key finds nothing. */
	{
		struct tk other;

		tk_init(&other, "2026-11-02/P14D", CSPF_REPORT_USER_ACTIONS,
			"payments@example.com", NULL);
		assert_int_equal(cspf_sink_jira.find(e->sink, &other.t, &got),
			CSPF_ENOTFOUND);
		tk_dispose(&other);
	}
	tk_dispose(&k);
}

static void test_queue(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref, got;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_ROLE_ACTIONS,
		"payments@example.com", NULL);
	k.t.queue = "PAY";
	if (cspf_sink_jira.create(e->sink, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	assert_string_equal(ref.id, "PAY-1");
	/* Found across projects by its key label. */
	assert_int_equal(cspf_sink_jira.find(e->sink, &k.t, &got), 0);
	assert_string_equal(got.id, "PAY-1");
	/* A queue Jira does not have: its words and what to check. */
	k.t.queue = "NOPE";
	k.t.recipient = "other@example.com";
	assert_int_equal(cspf_sink_jira.create(e->sink, &k.t, &ref),
		CSPF_EINVALID);
	assert_non_null(strstr(errmsg(), "HTTP 400"));
	assert_non_null(strstr(errmsg(), "project: valid project is required"));
	assert_non_null(strstr(errmsg(), "project key NOPE"));
	tk_dispose(&k);
}

static void test_update(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *root;
	const cJSON *i;
	char *body2;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_USER_ACTIONS,
		"alice@example.com", NULL);
	assert_int_equal(cspf_sink_jira.create(e->sink, &k.t, &ref), 0);
	snprintf(k.title, sizeof(k.title), "Review (updated): 7 events");
	body2 = malloc(strlen(k.body) + 64);
	assert_non_null(body2);
	snprintf(body2, strlen(k.body) + 64, "Updated text.\n%s", k.body);
	free(k.body);
	k.body = body2;
	k.t.body = body2;
	free(k.csv);
	k.csv = strdup("time,actor,action,target\nnew,row,x,y\n");
	k.t.csv = k.csv;
	k.t.csv_len = strlen(k.csv);
	if (cspf_sink_jira.update(e->sink, &ref, &k.t) < 0)
		fail_msg("update: %s", errmsg());
	i = issue_by_key(issues(e, &root), ref.id);
	assert_string_equal(sfield(i, "summary"), "Review (updated): 7 events");
	assert_string_equal(sfield(i, "description"), body2);
	assert_string_equal(sfield(i, "statusCategory"), "new");
	cJSON_Delete(root);
	/* One attachment, the new one. */
	expect_attachment(e, ref.id, &k);
	/* Once more: still one. */
	assert_int_equal(cspf_sink_jira.update(e->sink, &ref, &k.t), 0);
	expect_attachment(e, ref.id, &k);
	tk_dispose(&k);
}

struct seen {
	cspf_ticket_ref refs[16];
	int n;
};

static int collect(const cspf_ticket_ref *ref, void *payload)
{
	struct seen *s = payload;

	assert_true(s->n < 16);
	s->refs[s->n++] = *ref;
	return 0;
}

static void test_list(void **state)
{
	struct emu *e = *state;
	struct tk k[7];
	cspf_ticket_ref ref[7];
	struct seen s = { .n = 0 };
	const char *who[] = { "a@example.com", "b@example.com",
		"c@example.com", "d@example.com", "e@example.com",
		"f@example.com", "g@example.com" };
	char closed[128];
	int i, x;

	for (i = 0; i < 7; i++) {
		/* 0-4 this period; 5 the one before; 6 a P7D period of the
		 * same day (same label, another period). */
		tk_init(&k[i], i == 5 ? "2026-10-19/P14D" : i == 6 ?
			"2026-11-02/P7D" : "2026-11-02/P14D",
			(cspf_report_kind)(i % CSPF_REPORT_COUNT), who[i],
			NULL);
		if (cspf_sink_jira.create(e->sink, &k[i].t, &ref[i]) < 0)
			fail_msg("create %d: %s", i, errmsg());
	}
	snprintf(closed, sizeof(closed), "{\"key\":\"%s\"}", ref[2].id);
	cJSON_Delete(ctl(e, "POST", "/_emulator/close", closed));

	/* Pages of 2 (the emulator's --max-results): three of them. */
	if (cspf_sink_jira.list(e->sink, "2026-11-02/P14D", collect, &s) < 0)
		fail_msg("list: %s", errmsg());
	assert_int_equal(s.n, 5);
	for (i = 0; i < 5; i++) {
		for (x = 0; x < s.n; x++)
			if (strcmp(s.refs[x].id, ref[i].id) == 0)
				break;
		assert_true(x < s.n);
		assert_string_equal(s.refs[x].key, k[i].key);
		assert_string_equal(s.refs[x].recipient, who[i]);
		assert_string_equal(s.refs[x].kind,
			cspf_report_kind_name(k[i].t.kind));
		assert_string_equal(s.refs[x].period, "2026-11-02/P14D");
		assert_true(s.refs[x].due == k[i].t.due);
		assert_true(s.refs[x].open == (i != 2));
		assert_false(s.refs[x].escalated);
	}
	assert_true(stat_of(e, "routes", "POST /rest/api/2/search") >= 3);
	/* The period before: its one ticket. */
	s.n = 0;
	assert_int_equal(cspf_sink_jira.list(e->sink, "2026-10-19/P14D",
		collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.refs[0].id, ref[5].id);
	/* A period with none. */
	s.n = 0;
	assert_int_equal(cspf_sink_jira.list(e->sink, "2025-01-06/P14D",
		collect, &s), 0);
	assert_int_equal(s.n, 0);
	for (i = 0; i < 7; i++)
		tk_dispose(&k[i]);
}

static int stop_after_one(const cspf_ticket_ref *ref, void *payload)
{
	(*(int *)payload)++;
	return -42;
}

static void test_list_stops(void **state)
{
	struct emu *e = *state;
	struct tk k[3];
	cspf_ticket_ref ref;
	int i, calls = 0;

	for (i = 0; i < 3; i++) {
		tk_init(&k[i], "2026-11-02/P14D", CSPF_REPORT_USER_ROLES,
			i == 0 ? "x@example.com" : i == 1 ? "y@example.com" :
			"z@example.com", NULL);
		assert_int_equal(cspf_sink_jira.create(e->sink, &k[i].t,
			&ref), 0);
	}
	assert_int_equal(cspf_sink_jira.list(e->sink, "2026-11-02/P14D",
		stop_after_one, &calls), -42);
	assert_int_equal(calls, 1);
	for (i = 0; i < 3; i++)
		tk_dispose(&k[i]);
}

static void test_comment_escalate(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref, got;
	struct seen s = { .n = 0 };
	cJSON *root;
	const cJSON *i, *c;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_ROLE_MEMBERS,
		"payments@example.com", NULL);
	assert_int_equal(cspf_sink_jira.create(e->sink, &k.t, &ref), 0);
	if (cspf_sink_jira.comment(e->sink, &ref, "A note, not overdue.",
		false) < 0)
		fail_msg("comment: %s", errmsg());
	assert_int_equal(cspf_sink_jira.find(e->sink, &k.t, &got), 0);
	assert_false(got.escalated);
	if (cspf_sink_jira.comment(e->sink, &ref, "Overdue since "
		"2026-11-21: escalated to security@example.com.", true) < 0)
		fail_msg("escalate: %s", errmsg());
	i = issue_by_key(issues(e, &root), ref.id);
	assert_true(has_label(i, "cspf-escalated"));
	c = cJSON_GetObjectItemCaseSensitive(i, "comments");
	assert_int_equal(cJSON_GetArraySize(c), 2);
	assert_string_equal(c->child->valuestring, "A note, not overdue.");
	assert_string_equal(c->child->next->valuestring, "Overdue since "
		"2026-11-21: escalated to security@example.com.");
	cJSON_Delete(root);
	assert_int_equal(cspf_sink_jira.find(e->sink, &k.t, &got), 0);
	assert_true(got.escalated);
	assert_int_equal(cspf_sink_jira.list(e->sink, "2026-11-02/P14D",
		collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.refs[0].escalated);

	/* A comment whose answer is lost is not posted twice. */
	faults(e, "{\"route\":\"POST /rest/api/2/issue/\\\\{key\\\\}/comment\","
		"\"lose_answer_at\":[1]}");
	assert_int_equal(cspf_sink_jira.comment(e->sink, &ref, "Once only.",
		false), 0);
	i = issue_by_key(issues(e, &root), ref.id);
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(i, "comments")), 3);
	cJSON_Delete(root);
	assert_int_equal(stat_of(e, "injected", "lose_answer"), 1);
	/* A comment on an issue that is gone: 404 with what to check. */
	snprintf(got.id, sizeof(got.id), "SEC-999");
	assert_int_equal(cspf_sink_jira.comment(e->sink, &got, "x", false),
		CSPF_ENOTFOUND);
	assert_non_null(strstr(errmsg(), "HTTP 404"));
	assert_non_null(strstr(errmsg(), "SEC-999"));
	tk_dispose(&k);
}

static void test_lost_answer(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *root;
	const cJSON *list;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", NULL);
	/* The create takes effect and answers 502. */
	faults(e, "{\"lose_answer_at\":[1]}");
	if (cspf_sink_jira.create(e->sink, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	assert_string_equal(ref.id, "SEC-1");
	assert_string_equal(ref.key, k.key);
	list = issues(e, &root);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	cJSON_Delete(root);
	assert_int_equal(stat_of(e, "routes", "POST /rest/api/2/issue"), 1);
	assert_int_equal(stat_of(e, "injected", "lose_answer"), 1);
	/* And it has its CSV. */
	expect_attachment(e, "SEC-1", &k);

	/* The upload's answer lost: still one attachment. */
	faults(e, "{\"route\":\"POST /rest/api/2/issue/\\\\{key\\\\}/"
		"attachments\",\"lose_answer_at\":[1]}");
	assert_int_equal(cspf_sink_jira.update(e->sink, &ref, &k.t), 0);
	expect_attachment(e, "SEC-1", &k);
	tk_dispose(&k);
}

static void test_create_fails(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *root;
	const char *m;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", NULL);
	/* Every create fails (searches work): 3 tries, a look after each. */
	faults(e, "{\"route\":\"POST /rest/api/2/issue\","
		"\"fail_at\":[1,2,3,4,5,6,7,8,9,10]}");
	assert_int_equal(cspf_sink_jira.create(e->sink, &k.t, &ref),
		CSPF_ERROR);
	m = errmsg();
	assert_non_null(strstr(m, "create the ticket of " "2026-11-02/P14D:"
		"resource-actions:payments@example.com in project SEC"));
	assert_non_null(strstr(m, "after 3 tries"));
	assert_non_null(strstr(m, "HTTP 503"));
	assert_non_null(strstr(m, "emulator: injected fault"));
	assert_non_null(strstr(m, "try again later"));
	assert_int_equal(stat_of(e, "routes", "POST /rest/api/2/issue"), 3);
	assert_int_equal(cJSON_GetArraySize(issues(e, &root)), 0);
	cJSON_Delete(root);

	/* Everything fails: the look fails too; no blind retry. */
	faults(e, "{\"fail_at\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,"
		"17,18,19,20]}");
	assert_true(cspf_sink_jira.create(e->sink, &k.t, &ref) < 0);
	m = errmsg();
	assert_non_null(strstr(m, "no search to tell whether it was made"));
	assert_non_null(strstr(m, "run again later"));
	assert_int_equal(stat_of(e, "routes", "POST /rest/api/2/issue"), 4);
	faults(e, "{}");
	assert_int_equal(cJSON_GetArraySize(issues(e, &root)), 0);
	cJSON_Delete(root);
	tk_dispose(&k);
}

static void test_throttled(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	struct seen s = { .n = 0 };
	cJSON *root;
	struct timespec a, b;
	double secs;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", NULL);
	/* The create throttled once (Retry-After: 1), then made. */
	faults(e, "{\"throttle_at\":[1],\"retry_after_s\":1}");
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cspf_sink_jira.create(e->sink, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(secs >= 0.9);
	assert_int_equal(stat_of(e, "injected", "throttle"), 1);
	assert_int_equal(stat_of(e, "routes", "POST /rest/api/2/issue"), 2);
	assert_int_equal(cJSON_GetArraySize(issues(e, &root)), 1);
	cJSON_Delete(root);
	/* A search throttled twice: the HTTP layer waits it out. */
	faults(e, "{\"throttle_at\":[1,2],\"retry_after_s\":0}");
	if (cspf_sink_jira.list(e->sink, "2026-11-02/P14D", collect, &s) < 0)
		fail_msg("list: %s", errmsg());
	assert_int_equal(s.n, 1);
	assert_int_equal(stat_of(e, "injected", "throttle"), 3);
	/* Throttled past every try: a clear error, no ticket. */
	faults(e, "{\"throttle_at\":[1,2,3,4,5,6],\"retry_after_s\":0}");
	k.t.recipient = "throttled@example.com";
	k.t.key = "2026-11-02/P14D:resource-actions:throttled@example.com";
	k.t.key_hash = "00112233aabbccdd";
	assert_int_equal(cspf_sink_jira.create(e->sink, &k.t, &ref),
		CSPF_ERROR);
	assert_non_null(strstr(errmsg(), "HTTP 429"));
	assert_non_null(strstr(errmsg(), "Rate limit exceeded"));
	assert_int_equal(cJSON_GetArraySize(issues(e, &root)), 1);
	cJSON_Delete(root);
	tk_dispose(&k);
}

static void test_auth(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	void *bad = NULL, *bearer = NULL;
	const char *m;
	char log[1 << 14], path[128];

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", NULL);
	/* A wrong token, Basic. */
	assert_int_equal(open_sink(&bad, e, USER, "wrong-token", 3), 0);
	assert_int_equal(cspf_sink_jira.create(bad, &k.t, &ref), CSPF_EAUTH);
	m = errmsg();
	assert_non_null(strstr(m, "HTTP 401"));
	assert_non_null(strstr(m, "check JIRA_API_TOKEN and JIRA_USER"));
	assert_non_null(strstr(m, "You are not authenticated"));
	assert_int_equal(cspf_sink_jira.find(bad, &k.t, &ref), CSPF_EAUTH);
	cspf_sink_jira.close(bad);
	/* The right token for another user. */
	assert_int_equal(open_sink(&bad, e, "mallory@example.com", CANARY, 3),
		0);
	assert_int_equal(cspf_sink_jira.create(bad, &k.t, &ref), CSPF_EAUTH);
	cspf_sink_jira.close(bad);
	/* A wrong token, Bearer: the message says a Cloud token needs
	 * JIRA_USER. */
	assert_int_equal(open_sink(&bad, e, NULL, "wrong-token", 3), 0);
	assert_int_equal(cspf_sink_jira.create(bad, &k.t, &ref), CSPF_EAUTH);
	assert_non_null(strstr(errmsg(), "bearer personal access token"));
	cspf_sink_jira.close(bad);
	/* The right token as a Bearer personal access token. */
	assert_int_equal(open_sink(&bearer, e, NULL, CANARY, 3), 0);
	if (cspf_sink_jira.create(bearer, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	cspf_sink_jira.close(bearer);
	snprintf(path, sizeof(path), "%s/emu.log", e->dir);
	assert_true(slurp(log, sizeof(log), path));
	assert_non_null(strstr(log, "\"auth\": \"bearer\", \"status\": 201"));
	assert_non_null(strstr(log, "\"auth\": \"basic\", \"status\": 401"));
	/* Nothing was made by the refused ones. */
	assert_int_equal(stat_of(e, "status", "201"), 1);
	/* No token, or a plain http site off loopback: refused at open. */
	{
		cspf_sink_config cfg = { 0 };
		cspf_secret *tok = NULL;
		void *none = NULL;

		cfg.url = e->base;
		cfg.project = "SEC";
		cfg.http = e->http;
		assert_int_equal(cspf_sink_jira.open(&none, &cfg), CSPF_EAUTH);
		assert_non_null(strstr(errmsg(), "JIRA_API_TOKEN"));
		assert_null(none);
		assert_int_equal(cspf_secret_new(&tok, "t", 1), 0);
		cfg.token = tok;
		cfg.url = "http://jira.example.com";
		assert_int_equal(cspf_sink_jira.open(&none, &cfg),
			CSPF_EINVALID);
		assert_non_null(strstr(errmsg(), "https://HOST"));
		assert_null(none);
		cspf_secret_free(tok);
	}
	tk_dispose(&k);
}

static void test_assignee_unknown(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	cJSON *root;
	const cJSON *i, *list;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_USER_ACTIONS,
		"carol@example.com", "carol@example.com");
	if (cspf_sink_jira.create(e->sink, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	list = issues(e, &root);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	i = issue_by_key(list, ref.id);
	assert_non_null(i);
	/* Unassigned rather than no ticket. */
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(i,
		"assignee")));
	assert_string_equal(sfield(i, "summary"), k.title);
	cJSON_Delete(root);
	tk_dispose(&k);
}

static void test_long_body(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref, got;
	cJSON *root;
	const cJSON *i;
	size_t n = 40000, len;
	char *big, title[600];

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", NULL);
	/* 40000 characters of "é" then the marker: past Jira's 32767. */
	big = malloc(2 * n + strlen(k.body) + 1);
	assert_non_null(big);
	for (len = 0; len < 2 * n; len += 2)
		memcpy(big + len, "\xc3\xa9", 2);
	memcpy(big + len, k.body, strlen(k.body) + 1);
	k.t.body = big;
	/* A title too long and with a newline. */
	memset(title, 'x', sizeof(title) - 1);
	title[sizeof(title) - 1] = '\0';
	title[5] = '\n';
	k.t.title = title;
	if (cspf_sink_jira.create(e->sink, &k.t, &ref) < 0)
		fail_msg("create: %s", errmsg());
	i = issue_by_key(issues(e, &root), ref.id);
	assert_true(strlen(sfield(i, "summary")) == 255);
	assert_null(strchr(sfield(i, "summary"), '\n'));
	assert_non_null(strstr(sfield(i, "description"),
		"the complete list is in the attached CSV"));
	cJSON_Delete(root);
	assert_int_equal(cspf_sink_jira.find(e->sink, &k.t, &got), 0);
	assert_string_equal(got.key, k.key);
	assert_string_equal(got.recipient, "payments@example.com");
	/* update takes the same cut */
	assert_int_equal(cspf_sink_jira.update(e->sink, &ref, &k.t), 0);
	free(big);
	tk_dispose(&k);
}

/* Last: everything said in this program, and the emulators' logs. */
static void test_no_canary(void **state)
{
	struct emu *e = *state;
	struct tk k;
	cspf_ticket_ref ref;
	char b64[128], *p;
	const char *userpass = USER ":" CANARY;

	tk_init(&k, "2026-11-02/P14D", CSPF_REPORT_RESOURCE_ACTIONS,
		"payments@example.com", NULL);
	/* Errors of every kind, with the token in use. */
	faults(e, "{\"fail_at\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}");
	assert_true(cspf_sink_jira.create(e->sink, &k.t, &ref) < 0);
	errmsg();
	faults(e, "{}");
	assert_int_equal(cspf_sink_jira.create(e->sink, &k.t, &ref), 0);
	assert_int_equal(cspf_sink_jira.comment(e->sink, &ref, "x", true), 0);
	assert_true(said_len > 0);
	assert_null(strstr(said, CANARY));
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)userpass,
		strlen(userpass), sodium_base64_VARIANT_ORIGINAL);
	assert_null(strstr(said, b64));
	/* Nor a piece of it (the base64 of the token alone shifts). */
	p = b64 + strlen(b64) / 2;
	p[8] = '\0';
	assert_null(strstr(said, p));
	tk_dispose(&k);
	/* teardown greps the emulator's log and output */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_find, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_stops, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_comment_escalate, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_lost_answer, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_create_fails, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_throttled, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assignee_unknown, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_long_body, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_no_canary, setup,
			teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
