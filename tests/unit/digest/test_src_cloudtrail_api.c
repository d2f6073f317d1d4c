/*
 * The cloudtrail-api source against the AWS emulator
 * (tests/emulators/aws/aws_emulator.py, started here on a free port of
 * 127.0.0.1 with /usr/bin/python3): pages of LookupEvents over several
 * accounts and regions, reached through the inventory role; the period
 * and the read-only filter; at most 2 calls per second per account and
 * region (the emulator counts them); throttling ridden out; an account
 * whose role cannot be assumed and one whose calls are all refused (diags,
 * the others go on); every account refused (an error); the mapping of
 * an SSO session, a role session and an sts:AssumeRole.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cspf/http.h"
#include "cspf/registry.h"
#include "cspf/time.h"
#include "digest/digest_private.h"

#define PYTHON "/usr/bin/python3"
#define EMULATOR CSPF_TEST_SOURCE "/tests/emulators/aws/aws_emulator.py"

#define CSPF_ACCT "111122223333"
#define PAYMENTS "314159265358"
#define SANDBOX "499701123456"
#define NOROLE "333344445555"
#define DENIED "444455556666"
#define CSPF_KEY "AKIADIGESTCSPF000001"
#define CSPF_SECRET "canary-secret/digest/0001/abcdefghijklmnop"

/* The period: 2026-11-02 (14 days). */
#define P_START "2026-11-02T00:00:00Z"
#define P_END "2026-11-16T00:00:00Z"
#define PAGES_EVENTS 120 /* write events of payments in eu-west-1 */

static char dir[64];
static char url[64];
static pid_t emu_pid;
static cspf_registry *reg;
static cspf_http_client *http;
static int64_t p_start, p_end;

/* ---------------------------------------------------------------- set-up */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		fail_msg("cannot write %s", path);
}

static cJSON *record(const char *id, const char *time_s, const char *source,
	const char *name, bool ro, const char *region, const char *account)
{
	cJSON *r = cJSON_CreateObject(), *ui;
	char arn[128];

	cJSON_AddStringToObject(r, "eventVersion", "1.09");
	cJSON_AddStringToObject(r, "eventID", id);
	cJSON_AddStringToObject(r, "eventTime", time_s);
	if (source)
		cJSON_AddStringToObject(r, "eventSource", source);
	cJSON_AddStringToObject(r, "eventName", name);
	cJSON_AddStringToObject(r, "awsRegion", region);
	cJSON_AddBoolToObject(r, "readOnly", ro);
	cJSON_AddStringToObject(r, "recipientAccountId", account);
	ui = cJSON_AddObjectToObject(r, "userIdentity");
	snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/deploy-bot", account);
	cJSON_AddStringToObject(ui, "type", "IAMUser");
	cJSON_AddStringToObject(ui, "arn", arn);
	cJSON_AddStringToObject(ui, "accountId", account);
	cJSON_AddStringToObject(ui, "userName", "deploy-bot");
	return r;
}

/* An S3 write on bucket `b` at `t` (epoch). */
static cJSON *put_object(const char *id, int64_t t, bool ro,
	const char *account, const char *region)
{
	char ts[CSPF_TIME_BUFSIZE];
	cJSON *r, *rp;

	cspf_time_format(ts, t);
	r = record(id, ts, "s3.amazonaws.com", ro ? "GetObject" : "PutObject",
		ro, region, account);
	rp = cJSON_AddObjectToObject(r, "requestParameters");
	cJSON_AddStringToObject(rp, "bucketName", "payments-ledger");
	cJSON_AddStringToObject(rp, "key", "2026/11/ledger.csv");
	return r;
}

/* userIdentity of an assumed-role session. */
static void assumed(cJSON *r, const char *account, const char *role,
	const char *session)
{
	cJSON *ui, *sc, *si;
	char arn[256];

	cJSON_DeleteItemFromObject(r, "userIdentity");
	ui = cJSON_AddObjectToObject(r, "userIdentity");
	cJSON_AddStringToObject(ui, "type", "AssumedRole");
	snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s",
		account, strrchr(role, '/') ? strrchr(role, '/') + 1 : role,
		session);
	cJSON_AddStringToObject(ui, "arn", arn);
	cJSON_AddStringToObject(ui, "principalId", "AROAEXAMPLEID:session");
	cJSON_AddStringToObject(ui, "accountId", account);
	cJSON_AddStringToObject(ui, "accessKeyId", "ASIAEXAMPLESESSION01");
	sc = cJSON_AddObjectToObject(ui, "sessionContext");
	si = cJSON_AddObjectToObject(sc, "sessionIssuer");
	cJSON_AddStringToObject(si, "type", "Role");
	snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role/%s", account, role);
	cJSON_AddStringToObject(si, "arn", arn);
	cJSON_AddStringToObject(si, "accountId", account);
}

static cJSON *account(cJSON *accounts, const char *id, bool role)
{
	cJSON *a = cJSON_AddObjectToObject(accounts, id);

	if (role)
		cJSON_AddItemToObject(a, "assumable_roles",
			cJSON_CreateStringArray((const char *[]){
				"cspf-inventory" }, 1));
	cJSON_AddObjectToObject(a, "cloudtrail_events");
	return a;
}

static cJSON *events_of(cJSON *a, const char *region)
{
	cJSON *ct = cJSON_GetObjectItem(a, "cloudtrail_events");

	return cJSON_GetObjectItem(ct, region) ?
		cJSON_GetObjectItem(ct, region) :
		cJSON_AddArrayToObject(ct, region);
}

static char *state_json(void)
{
	cJSON *s = cJSON_CreateObject(), *p, *accts, *a, *ev, *r, *rp;
	char id[32];
	char *text;
	int i;

	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "access_key_id", CSPF_KEY);
	cJSON_AddStringToObject(p, "secret_access_key", CSPF_SECRET);
	cJSON_AddStringToObject(p, "account", CSPF_ACCT);
	cJSON_AddStringToObject(p, "arn", "arn:aws:iam::" CSPF_ACCT
		":user/cspf");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(s, "principals"), p);
	accts = cJSON_AddObjectToObject(s, "accounts");

	/* payments, eu-west-1: three pages of writes, reads, events just
	 * outside the period, one record without eventSource. */
	a = account(accts, PAYMENTS, true);
	ev = events_of(a, "eu-west-1");
	for (i = 0; i < PAGES_EVENTS; i++) {
		snprintf(id, sizeof(id), "put-%03d", i);
		cJSON_AddItemToArray(ev, put_object(id, p_start + 3600 +
			i * 9000, false, PAYMENTS, "eu-west-1"));
	}
	for (i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "get-%03d", i);
		cJSON_AddItemToArray(ev, put_object(id, p_start + 7200 +
			i * 3600, true, PAYMENTS, "eu-west-1"));
	}
	cJSON_AddItemToArray(ev, put_object("before-1", p_start - 1, false,
		PAYMENTS, "eu-west-1"));
	cJSON_AddItemToArray(ev, put_object("at-end-1", p_end, false,
		PAYMENTS, "eu-west-1"));
	cJSON_AddItemToArray(ev, put_object("after-1", p_end + 86400, false,
		PAYMENTS, "eu-west-1"));
	cJSON_AddItemToArray(ev, record("bad-1", "2026-11-05T08:00:00Z", NULL,
		"PutObject", false, "eu-west-1", PAYMENTS));

	/* payments, us-east-1: sessions. */
	ev = events_of(a, "us-east-1");
	r = record("sso-1", "2026-11-04T09:30:00Z", "iam.amazonaws.com",
		"CreateRole", false, "us-east-1", PAYMENTS);
	assumed(r, PAYMENTS, "aws-reserved/sso.amazonaws.com/"
		"AWSReservedSSO_AdministratorAccess_0123abcd",
		"alice@example.com");
	rp = cJSON_AddObjectToObject(r, "requestParameters");
	cJSON_AddStringToObject(rp, "roleName", "payments-deployer");
	cJSON_AddItemToArray(ev, r);
	r = record("sso-2", "2026-11-04T09:35:00Z", "sts.amazonaws.com",
		"AssumeRole", false, "us-east-1", PAYMENTS);
	assumed(r, PAYMENTS, "aws-reserved/sso.amazonaws.com/"
		"AWSReservedSSO_AdministratorAccess_0123abcd",
		"alice@example.com");
	rp = cJSON_AddObjectToObject(r, "requestParameters");
	cJSON_AddStringToObject(rp, "roleArn", "arn:aws:iam::" PAYMENTS
		":role/payments-deployer");
	cJSON_AddStringToObject(rp, "roleSessionName", "alice-deploy");
	cJSON_AddItemToArray(ev, r);
	/* As AWS logs it: sts:AssumeRole is read-only. */
	r = record("sso-3", "2026-11-05T08:00:00Z", "sts.amazonaws.com",
		"AssumeRole", true, "us-east-1", PAYMENTS);
	assumed(r, PAYMENTS, "aws-reserved/sso.amazonaws.com/"
		"AWSReservedSSO_AdministratorAccess_0123abcd",
		"alice@example.com");
	rp = cJSON_AddObjectToObject(r, "requestParameters");
	cJSON_AddStringToObject(rp, "roleArn", "arn:aws:iam::" PAYMENTS
		":role/payments-auditor");
	cJSON_AddStringToObject(rp, "roleSessionName", "alice-audit");
	cJSON_AddItemToArray(ev, r);
	r = record("role-1", "2026-11-06T12:00:00Z", "ec2.amazonaws.com",
		"AuthorizeSecurityGroupIngress", false, "us-east-1", PAYMENTS);
	assumed(r, PAYMENTS, "payments-deployer", "i-0abc123def4567890");
	rp = cJSON_AddObjectToObject(r, "requestParameters");
	cJSON_AddStringToObject(rp, "groupId", "sg-0123456789abcdef0");
	cJSON_AddStringToObject(r, "errorCode", "Client.UnauthorizedOperation");
	cJSON_AddItemToArray(ev, r);

	/* sandbox: a few writes in eu-west-1, a read. */
	a = account(accts, SANDBOX, true);
	ev = events_of(a, "eu-west-1");
	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "sbx-%d", i);
		cJSON_AddItemToArray(ev, put_object(id, p_start + 86400 * i,
			false, SANDBOX, "eu-west-1"));
	}
	cJSON_AddItemToArray(ev, put_object("sbx-get", p_start + 60, true,
		SANDBOX, "eu-west-1"));

	/* No inventory role; a role not allowed LookupEvents. */
	account(accts, NOROLE, false);
	a = account(accts, DENIED, true);
	cJSON_AddBoolToObject(a, "cloudtrail_denied", true);
	ev = events_of(a, "eu-west-1");
	cJSON_AddItemToArray(ev, put_object("denied-1", p_start + 60, false,
		DENIED, "eu-west-1"));

	text = cJSON_Print(s);
	cJSON_Delete(s);
	return text;
}

static void write_registry(void)
{
	char path[256], text[1024];
	static const struct {
		const char *name, *id;
	} accts[] = {
		{ "payments-prod", PAYMENTS },
		{ "security-sandbox", SANDBOX },
		{ "legacy-norole", NOROLE },
		{ "audit-denied", DENIED },
	};
	size_t i;

	snprintf(path, sizeof(path), "%s/reg", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/reg/accounts", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/reg/accounts/aws", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/reg/cspf.json", dir);
	snprintf(text, sizeof(text), "{\"providers\": {\"aws\": {"
		"\"regions\": [\"eu-west-1\", \"us-east-1\"], "
		"\"inventory_role\": \"cspf-inventory\", "
		"\"endpoint_url\": \"%s\"}}}\n", url);
	write_file(path, text);
	for (i = 0; i < sizeof(accts) / sizeof(accts[0]); i++) {
		snprintf(path, sizeof(path), "%s/reg/accounts/aws/%s.json",
			dir, accts[i].name);
		snprintf(text, sizeof(text), "{\"accountid\": \"%s\", "
			"\"provider\": \"aws\", \"name\": \"%s\", "
			"\"contact\": \"ops@example.com\"}\n", accts[i].id,
			accts[i].name);
		write_file(path, text);
	}
}

static int setup(void **state)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	char path[256], portf[256], port[16] = "";
	char *text;
	FILE *f;
	int i;

	(void)state;
	if (access(PYTHON, X_OK) < 0)
		return 0; /* the tests fail, saying so */
	cspf_time_parse(&p_start, P_START);
	cspf_time_parse(&p_end, P_END);
	snprintf(dir, sizeof(dir), "/tmp/cspf-ctapi.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	text = state_json();
	write_file(path, text);
	cJSON_free(text);
	snprintf(portf, sizeof(portf), "%s/port", dir);
	emu_pid = fork();
	if (emu_pid == 0) {
		char logf[256];
		snprintf(logf, sizeof(logf), "%s/emu.log", dir);
		execl(PYTHON, PYTHON, EMULATOR, "--state", path, "--port", "0",
			"--port-file", portf, "--log", logf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && !port[0]; i++) {
		if ((f = fopen(portf, "r"))) {
			if (!fgets(port, sizeof(port), f))
				port[0] = '\0';
			fclose(f);
		}
		if (!port[0])
			usleep(50000);
	}
	if (!port[0])
		return -1;
	port[strcspn(port, "\n")] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
	write_registry();
	snprintf(path, sizeof(path), "%s/reg", dir);
	if (cspf_registry_load(&reg, path, NULL) < 0)
		return -1;
	/* cspf's own credentials, and nothing of the caller's. */
	setenv("AWS_ACCESS_KEY_ID", CSPF_KEY, 1);
	setenv("AWS_SECRET_ACCESS_KEY", CSPF_SECRET, 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_CLOUDTRAIL");
	unsetenv("AWS_ENDPOINT_URL_STS");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 1000;
	o.max_attempts = 8;
	return cspf_http_new(&http, &o);
}

static int teardown(void **state)
{
	char cmd[128];
	int st;

	(void)state;
	cspf_http_free(http);
	cspf_registry_free(reg);
	if (emu_pid > 0) {
		kill(emu_pid, SIGTERM);
		waitpid(emu_pid, &st, 0);
	}
	if (dir[0] && strlen(dir) > 16) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

/* The emulator's control endpoint: the answer, parsed (or NULL). */
static cJSON *emu(const char *method, const char *path, const char *body)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	char u[256];
	const char *text;
	size_t len;
	cJSON *j = NULL;

	snprintf(u, sizeof(u), "%s%s", url, path);
	assert_int_equal(cspf_http_request_new(&req, method, u), 0);
	if (body)
		assert_int_equal(cspf_http_request_set_body(req, body,
			strlen(body)), 0);
	assert_int_equal(cspf_http_perform(&resp, http, req), 0);
	assert_int_equal(cspf_http_response_status(resp), 200);
	text = cspf_http_response_body(resp, &len);
	if (text)
		j = cJSON_ParseWithLength(text, len);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	return j;
}

static void faults(const char *json)
{
	cJSON_Delete(emu("POST", "/_emulator/faults", json));
	cJSON_Delete(emu("POST", "/_emulator/stats/reset", NULL));
}

/* stats.lookup_events["ACCT/REGION"][field], -1 when absent. */
static int lookup_stat(const char *acct_region, const char *field)
{
	cJSON *s = emu("GET", "/_emulator/stats", NULL);
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(s, "lookup_events"), acct_region), field);
	int n = cJSON_IsNumber(v) ? v->valueint : -1;

	cJSON_Delete(s);
	return n;
}

static int stat_of(const char *field)
{
	cJSON *s = emu("GET", "/_emulator/stats", NULL);
	const cJSON *v = cJSON_GetObjectItem(s, field);
	int n = cJSON_IsNumber(v) ? v->valueint : -1;

	cJSON_Delete(s);
	return n;
}

/* What the callback saw, copied (its strings are borrowed). */
struct seen {
	char *id, *actor, *person, *role, *action, *target, *assumed_role,
		*account, *region, *source;
	cspf_actor_kind kind;
	int64_t time;
	bool read_only, failed;
};

struct got {
	struct seen *ev;
	size_t n, alloc;
	int stop_after; /* return -42 after this many (0: never) */
};

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int collect(const cspf_event *e, void *payload)
{
	struct got *g = payload;
	struct seen *s;

	if (g->n == g->alloc) {
		g->alloc = g->alloc ? 2 * g->alloc : 64;
		g->ev = realloc(g->ev, g->alloc * sizeof(*g->ev));
		assert_non_null(g->ev);
	}
	s = &g->ev[g->n++];
	s->id = sdup(e->id);
	s->actor = sdup(e->actor);
	s->person = sdup(e->person);
	s->role = sdup(e->role);
	s->action = sdup(e->action);
	s->target = sdup(e->target);
	s->assumed_role = sdup(e->assumed_role);
	s->account = sdup(e->account);
	s->region = sdup(e->region);
	s->source = sdup(e->source);
	s->kind = e->actor_kind;
	s->time = e->time;
	s->read_only = e->read_only;
	s->failed = e->failed;
	if (g->stop_after && g->n == (size_t)g->stop_after)
		return -42;
	return 0;
}

static void got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		struct seen *s = &g->ev[i];
		free(s->id);
		free(s->actor);
		free(s->person);
		free(s->role);
		free(s->action);
		free(s->target);
		free(s->assumed_role);
		free(s->account);
		free(s->region);
		free(s->source);
	}
	free(g->ev);
	memset(g, 0, sizeof(*g));
}

static const struct seen *find(const struct got *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->ev[i].id && !strcmp(g->ev[i].id, id))
			return &g->ev[i];
	return NULL;
}

static size_t count_prefix(const struct got *g, const char *prefix)
{
	size_t i, n = 0;

	for (i = 0; i < g->n; i++)
		if (g->ev[i].id && !strncmp(g->ev[i].id, prefix,
					   strlen(prefix)))
			n++;
	return n;
}

static cspf_source_query query(const char *arg)
{
	cspf_source_query q = { 0 };

	q.start = p_start;
	q.end = p_end;
	q.arg = arg;
	q.registry = reg;
	q.http = http;
	return q;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A diag whose file is `file` and whose message has `words`. */
static const cspf_diag *diag_with(const cspf_diags *d, const char *file,
	const char *words)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		if (d->items[i].file && !strcmp(d->items[i].file, file) &&
		    strstr(d->items[i].message, words))
			return &d->items[i];
	return NULL;
}

static void no_secret_in(const cspf_diags *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		assert_null(strstr(d->items[i].message, "canary-secret"));
	if (cspf_error_last() && cspf_error_last()->message)
		assert_null(strstr(cspf_error_last()->message,
			"canary-secret"));
}

#define NEED_EMULATOR() \
	do { \
		if (!url[0]) \
			fail_msg("the AWS emulator did not start (%s)", \
				PYTHON); \
	} while (0)

/* ---------------------------------------------------------------- tests */

/*
 * Every account, both regions: the pages of payments in eu-west-1 (120
 * writes, 3 pages of 50), only the period, no reads; an account without
 * the role and one refused LookupEvents are diags, the others are read;
 * the malformed record is a diag with its place in the page.  Each
 * stream keeps to 2 calls a second.
 */
static void test_all_accounts_pages(void **state)
{
	cspf_source_stats st = { 0 };
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_query q = query(NULL);
	struct got g = { 0 };
	const cspf_diag *x;
	double t0, took;
	size_t i;

	(void)state;
	NEED_EMULATOR();
	faults("{}");
	t0 = mono();
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);
	took = mono() - t0;

	assert_int_equal(count_prefix(&g, "put-"), PAGES_EVENTS);
	assert_int_equal(count_prefix(&g, "sbx-"), 3);
	assert_int_equal(count_prefix(&g, "get-"), 0);
	assert_null(find(&g, "before-1"));
	assert_null(find(&g, "at-end-1"));
	assert_null(find(&g, "after-1"));
	assert_null(find(&g, "denied-1"));
	assert_non_null(find(&g, "sso-1"));
	/* The read-only role assumption comes (flagged), once; the
	 * read-write one once too. */
	assert_non_null(find(&g, "sso-3"));
	assert_true(find(&g, "sso-3")->read_only);
	assert_string_equal(find(&g, "sso-3")->assumed_role,
		"arn:aws:iam::" PAYMENTS ":role/payments-auditor");
	assert_int_equal(count_prefix(&g, "sso-2"), 1);
	assert_int_equal(g.n, PAGES_EVENTS + 3 + 3 + 1);
	assert_int_equal(st.events, g.n);
	for (i = 0; i < g.n; i++) {
		assert_true(g.ev[i].time >= p_start && g.ev[i].time < p_end);
		assert_true(!g.ev[i].read_only || g.ev[i].assumed_role);
		assert_string_equal(g.ev[i].source, "cloudtrail-api");
	}
	/* The event at the period's end came (EndTime is inclusive) and
	 * was left out here. */
	assert_true(st.skipped >= 1);

	/* 120 writes + the bad record: 3 pages, each page a call; then one
	 * call for each role-assumption event name (read-only in
	 * CloudTrail, asked for by name). */
	assert_int_equal(lookup_stat(PAYMENTS "/eu-west-1", "calls"), 3 + 3);
	assert_int_equal(lookup_stat(PAYMENTS "/us-east-1", "calls"), 1 + 3);
	assert_int_equal(lookup_stat(SANDBOX "/eu-west-1", "calls"), 1 + 3);
	assert_int_equal(lookup_stat(NOROLE "/eu-west-1", "calls"), -1);
	/* The rate: never more than 2 calls in a second, none throttled. */
	assert_true(lookup_stat(PAYMENTS "/eu-west-1", "max_per_second") <= 2);
	assert_int_equal(lookup_stat(PAYMENTS "/eu-west-1", "throttled"), 0);
	assert_int_equal(stat_of("throttled"), 0);
	/* 3 pages are 2 gaps of 1/2 s at least. */
	assert_true(took >= 1.0);

	/* The malformed record: one diag, where it is. */
	assert_int_equal(st.bad, 1);
	x = diag_with(&d, "cloudtrail-api:" PAYMENTS "/eu-west-1", "bad-1");
	assert_non_null(x);
	assert_non_null(x->pointer);
	assert_true(!strncmp(x->pointer, "/Events/", 8));
	assert_non_null(strstr(x->message, "eventSource"));
	assert_string_equal(x->rule, "digest-source");
	/* The account without the role, and the one refused. */
	x = diag_with(&d, "cloudtrail-api:" NOROLE,
		"accounts/aws/legacy-norole");
	assert_non_null(x);
	assert_non_null(strstr(x->message, "inventory_role"));
	assert_non_null(diag_with(&d, "cloudtrail-api:" DENIED "/eu-west-1",
		"AccessDeniedException"));
	assert_non_null(diag_with(&d, "cloudtrail-api:" DENIED "/us-east-1",
		"cloudtrail:LookupEvents"));
	assert_int_equal(d.count, 4);
	assert_true(st.calls >= 8);
	no_secret_in(&d);
	cspf_diags_clear(&d);
	got_free(&g);
}

/* --read-only: one account by its registry id, reads included. */
static void test_read_only_one_account(void **state)
{
	cspf_source_stats st = { 0 };
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_query q = query("accounts/aws/security-sandbox");
	struct got g = { 0 };

	(void)state;
	NEED_EMULATOR();
	faults("{}");
	q.read_only = true;
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);
	assert_int_equal(g.n, 4);
	assert_non_null(find(&g, "sbx-get"));
	assert_true(find(&g, "sbx-get")->read_only);
	assert_int_equal(d.count, 0);
	assert_int_equal(lookup_stat(PAYMENTS "/eu-west-1", "calls"), -1);
	got_free(&g);

	/* By its cloud id, without reads: the read is gone. */
	q = query(SANDBOX);
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);
	assert_int_equal(g.n, 3);
	assert_null(find(&g, "sbx-get"));
	got_free(&g);

	/* A period that holds only the first sandbox event. */
	q = query(SANDBOX);
	q.end = p_start + 3600;
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);
	assert_int_equal(g.n, 1);
	assert_non_null(find(&g, "sbx-0"));
	got_free(&g);
	cspf_diags_clear(&d);
}

/*
 * Asked to go faster than AWS allows (q->rate 20): the emulator throttles
 * past 2 calls/s, the HTTP layer retries, every event arrives.  Then
 * every other call throttled by the fault switch: the same.
 */
static void test_throttled_then_success(void **state)
{
	cspf_source_stats st = { 0 };
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_query q = query("accounts/aws/payments-prod");
	struct got g = { 0 };

	(void)state;
	NEED_EMULATOR();
	faults("{}");
	q.rate = 20;
	/* Every call of each stream (pages, then the role-assumption
	 * names) races the 2 calls/s limit: attempts to spare. */
	q.max_attempts = 12;
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);
	assert_int_equal(count_prefix(&g, "put-"), PAGES_EVENTS);
	assert_int_equal(g.n, PAGES_EVENTS + 3 + 1); /* + sso-3 */
	assert_true(lookup_stat(PAYMENTS "/eu-west-1", "throttled") >= 1);
	assert_true(st.calls > 4);
	if (d.count != 1)
		for (size_t k = 0; k < d.count; k++)
			print_message("diag: %s\n", d.items[k].message);
	assert_int_equal(d.count, 1); /* the bad record */
	got_free(&g);
	cspf_diags_clear(&d);

	faults("{\"throttle_every\": 2}");
	memset(&st, 0, sizeof(st));
	q.rate = 0;
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);
	assert_int_equal(g.n, PAGES_EVENTS + 3 + 1);
	assert_true(stat_of("throttled") >= 2);
	got_free(&g);
	cspf_diags_clear(&d);
	faults("{}");
}

/* Every LookupEvents refused: an error naming why, a diag per stream. */
static void test_every_call_fails(void **state)
{
	cspf_source_stats st = { 0 };
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_query q = query("all");
	struct got g = { 0 };
	int rc;

	(void)state;
	NEED_EMULATOR();
	faults("{\"fail_action\": {\"LookupEvents\": {\"count\": -1, "
		"\"code\": \"AccessDeniedException\", \"status\": 400, "
		"\"message\": \"not authorized to perform "
		"cloudtrail:LookupEvents\"}}}");
	rc = cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g);
	assert_true(rc < 0);
	assert_non_null(strstr(cspf_error_last()->message, "no LookupEvents "
		"call succeeded"));
	assert_non_null(strstr(cspf_error_last()->message,
		"AccessDeniedException"));
	assert_int_equal(g.n, 0);
	/* 3 accounts with credentials x 2 regions, and the one without. */
	assert_int_equal(d.count, 7);
	no_secret_in(&d);
	cspf_diags_clear(&d);
	faults("{}");

	/* An account the registry does not have. */
	q = query("123456789012");
	assert_int_equal(cspf_source_cloudtrail_api.read(&st, &d, &q,
		collect, &g), CSPF_ENOTFOUND);
	assert_non_null(strstr(cspf_error_last()->message, "123456789012"));
	cspf_diags_clear(&d);
}

/* The callback stops the source: its return comes back. */
static void test_callback_stops(void **state)
{
	cspf_source_stats st = { 0 };
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_query q = query(PAYMENTS);
	struct got g = { 0 };

	(void)state;
	NEED_EMULATOR();
	faults("{}");
	g.stop_after = 10;
	assert_int_equal(cspf_source_cloudtrail_api.read(&st, &d, &q,
		collect, &g), -42);
	assert_int_equal(g.n, 10);
	got_free(&g);
	cspf_diags_clear(&d);
}

/* An SSO session is a person; a role's session is the role; AssumeRole
 * names the role taken; targets from requestParameters. */
static void test_mapping(void **state)
{
	cspf_source_stats st = { 0 };
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_query q = query("accounts/aws/payments-prod");
	struct got g = { 0 };
	const struct seen *e;
	const char *issuer = "arn:aws:iam::" PAYMENTS ":role/aws-reserved/"
		"sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123abcd";

	(void)state;
	NEED_EMULATOR();
	faults("{}");
	if (cspf_source_cloudtrail_api.read(&st, &d, &q, collect, &g) < 0)
		fail_msg("read: %s", cspf_error_last()->message);

	e = find(&g, "sso-1");
	assert_non_null(e);
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_string_equal(e->actor, "arn:aws:sts::" PAYMENTS ":assumed-role/"
		"AWSReservedSSO_AdministratorAccess_0123abcd/alice@example.com");
	assert_string_equal(e->person, "alice@example.com");
	assert_string_equal(e->role, issuer);
	assert_string_equal(e->action, "iam:CreateRole");
	assert_string_equal(e->target, "arn:aws:iam::" PAYMENTS
		":role/payments-deployer");
	assert_string_equal(e->account, PAYMENTS);
	assert_string_equal(e->region, "us-east-1");
	assert_null(e->assumed_role);
	assert_false(e->failed);

	e = find(&g, "sso-2");
	assert_non_null(e);
	assert_string_equal(e->action, "sts:AssumeRole");
	assert_string_equal(e->assumed_role, "arn:aws:iam::" PAYMENTS
		":role/payments-deployer");
	assert_string_equal(e->person, "alice@example.com");

	e = find(&g, "role-1");
	assert_non_null(e);
	assert_int_equal(e->kind, CSPF_ACTOR_ROLE);
	assert_null(e->person);
	assert_string_equal(e->role, "arn:aws:iam::" PAYMENTS
		":role/payments-deployer");
	assert_string_equal(e->target, "arn:aws:ec2:us-east-1:" PAYMENTS
		":security-group/sg-0123456789abcdef0");
	assert_true(e->failed);

	e = find(&g, "put-000");
	assert_non_null(e);
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_string_equal(e->actor, "arn:aws:iam::" PAYMENTS
		":user/deploy-bot");
	assert_null(e->person);
	assert_null(e->role);
	assert_string_equal(e->action, "s3:PutObject");
	assert_string_equal(e->target, "arn:aws:s3:::payments-ledger");
	assert_int_equal(e->time, p_start + 3600);
	got_free(&g);
	cspf_diags_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_accounts_pages),
		cmocka_unit_test(test_read_only_one_account),
		cmocka_unit_test(test_throttled_then_success),
		cmocka_unit_test(test_every_call_fails),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_mapping),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
