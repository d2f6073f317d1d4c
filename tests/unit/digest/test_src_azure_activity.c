/*
 * The azure-activity source on the samples of tests/data/digest/azure/:
 * what `az monitor activity-log list` prints (a JSON array) and a
 * diagnostic setting's export (insights-activity-logs/.../PT1H.json, one
 * object per line); the mapping of a user, a service principal, a failed
 * call and a read; Started events and other categories left out; the
 * period; malformed records and files (one diag each, the rest read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cspf/time.h"
#include "digest/digest_private.h"

#define DIR CSPF_TEST_DATA "/digest/azure"
#define SUB "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"
#define SP "3c1f9e2a-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
#define RG "/subscriptions/" SUB "/resourceGroups/payments-prod-rg"
#define VM RG "/providers/Microsoft.Compute/virtualMachines/payments-api-01"

struct seen {
	char *id, *actor, *person, *role, *action, *target, *account;
	cspf_actor_kind kind;
	int64_t time;
	bool read_only, failed;
};

struct got {
	struct seen ev[64];
	size_t n;
};

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int collect(const cspf_event *e, void *payload)
{
	struct got *g = payload;
	struct seen *s;

	assert_true(g->n < 64);
	assert_string_equal(e->source, "azure-activity");
	s = &g->ev[g->n++];
	s->id = sdup(e->id);
	s->actor = sdup(e->actor);
	s->person = sdup(e->person);
	s->role = sdup(e->role);
	s->action = sdup(e->action);
	s->target = sdup(e->target);
	s->account = sdup(e->account);
	s->kind = e->actor_kind;
	s->time = e->time;
	s->read_only = e->read_only;
	s->failed = e->failed;
	return 0;
}

static void got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->ev[i].id);
		free(g->ev[i].actor);
		free(g->ev[i].person);
		free(g->ev[i].role);
		free(g->ev[i].action);
		free(g->ev[i].target);
		free(g->ev[i].account);
	}
	g->n = 0;
}

/* The event with this action and time (RFC 3339), or NULL. */
static const struct seen *find(const struct got *g, const char *action,
	const char *when)
{
	int64_t t;
	size_t i;

	assert_int_equal(cspf_time_parse(&t, when), 0);
	for (i = 0; i < g->n; i++)
		if (g->ev[i].action && !strcmp(g->ev[i].action, action) &&
		    g->ev[i].time == t)
			return &g->ev[i];
	return NULL;
}

static cspf_source_query query(const char *arg, const char *start,
	const char *end)
{
	cspf_source_query q = { 0 };

	assert_int_equal(cspf_time_parse(&q.start, start), 0);
	assert_int_equal(cspf_time_parse(&q.end, end), 0);
	q.arg = arg;
	return q;
}

static int run(struct got *g, cspf_source_stats *st, cspf_diags *d,
	const cspf_source_query *q)
{
	memset(st, 0, sizeof(*st));
	return cspf_source_azure_activity.read(st, d, q, collect, g);
}

/* az monitor activity-log list: four actions of the period. */
static void test_az_list(void **state)
{
	cspf_source_query q = query(DIR "/activity-log-list.json",
		"2026-11-02T00:00:00Z", "2026-11-16T00:00:00Z");
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_stats st;
	struct got g = { 0 };
	const struct seen *e;

	(void)state;
	assert_int_equal(run(&g, &st, &d, &q), 0);
	assert_int_equal(d.count, 0);
	assert_int_equal(g.n, 4);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.records, 8);
	assert_int_equal(st.events, 4);
	/* Started, a read, another category, a delete after the period. */
	assert_int_equal(st.skipped, 4);

	e = find(&g, "Microsoft.Compute/virtualMachines/write",
		"2026-11-03T10:15:30Z");
	assert_non_null(e);
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_string_equal(e->actor, "alice@example.com");
	assert_string_equal(e->person, "alice@example.com");
	assert_null(e->role);
	assert_string_equal(e->target, VM);
	assert_string_equal(e->account, SUB);
	assert_string_equal(e->id, "d0000002-aaaa-4bbb-8ccc-dddd00000002");
	assert_false(e->failed);
	assert_false(e->read_only);
	/* Its Started event is not there. */
	assert_null(find(&g, "Microsoft.Compute/virtualMachines/write",
		"2026-11-03T10:14:58Z"));

	e = find(&g, "Microsoft.Authorization/roleAssignments/write",
		"2026-11-04T14:30:00Z");
	assert_non_null(e);
	assert_int_equal(e->kind, CSPF_ACTOR_ROLE);
	assert_string_equal(e->actor, SP);
	assert_string_equal(e->role, SP);
	assert_null(e->person);

	e = find(&g, "Microsoft.Compute/virtualMachines/delete",
		"2026-11-06T16:45:12Z");
	assert_non_null(e);
	assert_true(e->failed);

	assert_non_null(find(&g,
		"Microsoft.Storage/storageAccounts/listKeys/action",
		"2026-11-04T11:02:41Z"));
	got_free(&g);

	/* --read-only brings the read back. */
	q.read_only = true;
	assert_int_equal(run(&g, &st, &d, &q), 0);
	assert_int_equal(g.n, 5);
	e = find(&g, "Microsoft.Resources/subscriptions/resourceGroups/read",
		"2026-11-05T09:00:03Z");
	assert_non_null(e);
	assert_true(e->read_only);
	got_free(&g);
}

/* A diagnostic setting's export, through the directory tree. */
static void test_storage_export(void **state)
{
	cspf_source_query q = query(DIR "/insights-activity-logs",
		"2026-11-02T00:00:00Z", "2026-11-16T00:00:00Z");
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_stats st;
	struct got g = { 0 };
	const struct seen *e;

	(void)state;
	assert_int_equal(run(&g, &st, &d, &q), 0);
	assert_int_equal(d.count, 0);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.records, 5);
	assert_int_equal(g.n, 2);

	/* Capitals of the export, Azure's case from the authorization. */
	e = find(&g, "Microsoft.KeyVault/vaults/secrets/write",
		"2026-11-03T10:05:12Z");
	assert_non_null(e);
	assert_string_equal(e->target, RG "/providers/Microsoft.KeyVault/"
		"vaults/payments-prod-kv/secrets/ledger-db-password");
	assert_string_equal(e->account, SUB);
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_string_equal(e->person, "alice@example.com");
	assert_string_equal(e->id, "b1000001-2222-4333-8444-955566667777");

	e = find(&g, "Microsoft.Network/networkSecurityGroups/securityRules/"
		"write", "2026-11-03T10:20:00Z");
	assert_non_null(e);
	assert_true(e->failed);
	assert_int_equal(e->kind, CSPF_ACTOR_ROLE);
	assert_string_equal(e->actor, SP);
	got_free(&g);
}

/* Both shapes at once, in a period that holds two of their events. */
static void test_period(void **state)
{
	cspf_source_query q = query(DIR, "2026-11-04T00:00:00Z",
		"2026-11-05T00:00:00Z");
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_stats st;
	struct got g = { 0 };
	size_t i;

	(void)state;
	/* The whole tree, malformed samples included. */
	assert_int_equal(run(&g, &st, &d, &q), 0);
	for (i = 0; i < g.n; i++)
		assert_true(g.ev[i].time >= q.start && g.ev[i].time < q.end);
	/* roleAssignments/write and listKeys/action of the list; nothing
	 * of the export (2026-11-03) nor of the malformed samples. */
	assert_int_equal(g.n, 2);
	assert_int_equal(d.count, 4);
	assert_int_equal(st.files, 5);
	got_free(&g);
	cspf_diags_clear(&d);

	/* The end is not in the period. */
	q = query(DIR "/activity-log-list.json", "2026-11-04T00:00:00Z",
		"2026-11-04T14:30:00Z");
	assert_int_equal(run(&g, &st, &d, &q), 0);
	assert_int_equal(g.n, 1);
	assert_non_null(find(&g,
		"Microsoft.Storage/storageAccounts/listKeys/action",
		"2026-11-04T11:02:41Z"));
	got_free(&g);
}

static const cspf_diag *diag_of(const cspf_diags *d, const char *file_end)
{
	size_t i, n = strlen(file_end);

	for (i = 0; i < d->count; i++) {
		size_t m = d->items[i].file ? strlen(d->items[i].file) : 0;
		if (m >= n && !strcmp(d->items[i].file + m - n, file_end))
			return &d->items[i];
	}
	return NULL;
}

/* Malformed records and files: one diag each, the rest is read. */
static void test_malformed(void **state)
{
	cspf_source_query q = query(DIR "/malformed", "2026-11-02T00:00:00Z",
		"2026-11-16T00:00:00Z");
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_stats st;
	struct got g = { 0 };
	const cspf_diag *x;
	size_t i;

	(void)state;
	assert_int_equal(run(&g, &st, &d, &q), 0);
	/* The list's two good records, the export's two good lines. */
	assert_int_equal(g.n, 4);
	assert_int_equal(st.bad, 4);
	assert_int_equal(d.count, 4);
	for (i = 0; i < d.count; i++) {
		assert_string_equal(d.items[i].rule, "digest-source");
		assert_int_equal(d.items[i].severity, CSPF_SEVERITY_ERROR);
	}
	/* Array records by their pointer. */
	x = diag_of(&d, "/malformed/activity-log-list.json");
	assert_non_null(x);
	assert_string_equal(x->pointer, "/1");
	assert_non_null(strstr(x->message, "eventTimestamp"));
	x = &d.items[x - d.items + 1];
	assert_string_equal(x->pointer, "/2");
	assert_non_null(strstr(x->message, "not a JSON object"));
	/* A line by its number. */
	x = diag_of(&d, "/malformed/PT1H.json");
	assert_non_null(x);
	assert_int_equal(x->line, 2);
	assert_non_null(strstr(x->message, "line 2"));
	/* A truncated file. */
	x = diag_of(&d, "/malformed/truncated.json");
	assert_non_null(x);
	assert_non_null(strstr(x->message, "does not parse"));
	got_free(&g);
	cspf_diags_clear(&d);
}

/* What is not there: an error, not a crash. */
static void test_missing(void **state)
{
	cspf_source_query q = query(DIR "/no-such-export",
		"2026-11-02T00:00:00Z", "2026-11-16T00:00:00Z");
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_source_stats st;
	struct got g = { 0 };

	(void)state;
	assert_true(run(&g, &st, &d, &q) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "no-such-export"));
	q.arg = NULL;
	assert_int_equal(run(&g, &st, &d, &q), CSPF_EINVALID);
	assert_true(cspf_source_azure_activity.needs_arg);
	assert_int_equal(g.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_az_list),
		cmocka_unit_test(test_storage_export),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
