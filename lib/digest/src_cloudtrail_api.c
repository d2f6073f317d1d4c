/*
 * The "cloudtrail-api" source: CloudTrail's LookupEvents API (JSON 1.1,
 * X-Amz-Target ...CloudTrail_20131101.LookupEvents), for every AWS
 * account of the registry (or the one named by the argument) and every
 * region of providers.aws.regions, reached as the inventory reaches them
 * (cspf_inventory_aws_credentials(): the base credentials, or the
 * inventory role assumed in each account).
 *
 * One stream of pages per account and region, NextToken after NextToken,
 * 50 events a page.  LookupEvents allows 2 calls per second per account
 * and region: a stream's calls start at least 1/rate seconds apart (rate
 * 2, or q->rate), the streams of different accounts and regions at once.
 * A ThrottlingException is retried by the HTTP layer
 * (cspf_aws_classify()).  An account whose calls fail is a diag and the
 * others go on; the source fails only when no call succeeds at all.
 *
 * Each event's CloudTrailEvent is the full record, mapped with the rules
 * of CloudTrail files (docs/digest.md) by ct_record_event(), which takes
 * a parsed record and is meant to move to a file of its own shared with
 * src_cloudtrail.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cspf/aws.h"
#include "cspf/inventory.h"
#include "cspf/time.h"
#include "digest_private.h"
#include "util/buf.h"
#include "util/error.h"

#define SOURCE "cloudtrail-api"
#define LOOKUP_TARGET \
	"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
#define LOOKUP_RATE 2.0     /* calls per second per account and region */
#define LOOKUP_MARGIN 0.02  /* seconds added to each gap: arrival jitter */
#define LOOKUP_PAGE 50

/* ------------------------------------------------ record to event */

/*
 * The strings of an event that the record does not hold as they are
 * (an action joined from two fields, a target built from a parameter).
 */
struct ct_strings {
	char action[256];
	char target[1024];
};

static const char *jstring(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* An e-mail address or UPN: local@domain.tld, no spaces or slashes. */
static bool is_email(const char *s)
{
	const char *at = s ? strchr(s, '@') : NULL;

	return at && at != s && strchr(at + 1, '.') && !strchr(at + 1, '@') &&
	       !strpbrk(s, " /:") && at[1] != '.';
}

/* The session name: what follows the last '/' of an ARN. */
static const char *arn_tail(const char *arn)
{
	const char *slash = arn ? strrchr(arn, '/') : NULL;

	return slash && slash[1] ? slash + 1 : NULL;
}

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* The target from requestParameters, as docs/digest.md lists them. */
static const char *target_of_params(struct ct_strings *s, const cJSON *rp,
	const char *account, const char *region)
{
	const char *v;

	if (!account)
		account = "";
	if (!region)
		region = "";
#define TARGET(...) (snprintf(s->target, sizeof(s->target), __VA_ARGS__), \
	s->target)
	if ((v = jstring(rp, "bucketName")))
		return TARGET("arn:aws:s3:::%s", v);
	if ((v = jstring(rp, "roleName")))
		return TARGET("arn:aws:iam::%s:role/%s", account, v);
	if ((v = jstring(rp, "userName")))
		return TARGET("arn:aws:iam::%s:user/%s", account, v);
	if ((v = jstring(rp, "policyArn")) || (v = jstring(rp, "roleArn")))
		return v;
	if ((v = jstring(rp, "instanceId")))
		return TARGET("arn:aws:ec2:%s:%s:instance/%s", region, account,
			v);
	if ((v = jstring(rp, "groupId")))
		return TARGET("arn:aws:ec2:%s:%s:security-group/%s", region,
			account, v);
	if ((v = jstring(rp, "imageId")))
		return TARGET("arn:aws:ec2:%s::image/%s", region, v);
	if ((v = jstring(rp, "dBInstanceIdentifier")))
		return TARGET("arn:aws:rds:%s:%s:db:%s", region, account, v);
	return jstring(rp, "secretId");
#undef TARGET
}

/* Who acted, from userIdentity (docs/digest.md, "AWS CloudTrail"). */
static void actor_of(cspf_event *ev, const cJSON *ui)
{
	const char *type = jstring(ui, "type");
	const char *arn = jstring(ui, "arn");
	const char *name, *session;

	ev->actor = arn;
	ev->actor_kind = CSPF_ACTOR_UNKNOWN;
	if (!type)
		return;
	if (!strcmp(type, "Root")) {
		ev->actor_kind = CSPF_ACTOR_ROOT;
	} else if (!strcmp(type, "IAMUser")) {
		ev->actor_kind = CSPF_ACTOR_USER;
	} else if (!strcmp(type, "AssumedRole")) {
		ev->role = jstring(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(ui, "sessionContext"),
			"sessionIssuer"), "arn");
		session = arn_tail(arn);
		if (is_email(session)) {
			ev->actor_kind = CSPF_ACTOR_USER;
			ev->person = session;
		} else {
			ev->actor_kind = CSPF_ACTOR_ROLE;
		}
	} else if (!strcmp(type, "FederatedUser") ||
		   !strcmp(type, "SAMLUser") ||
		   !strcmp(type, "WebIdentityUser") ||
		   !strcmp(type, "IdentityCenterUser")) {
		ev->actor_kind = CSPF_ACTOR_USER;
		name = jstring(ui, "userName");
		session = arn_tail(arn);
		if (is_email(name))
			ev->person = name;
		else if (is_email(session))
			ev->person = session;
		if (!ev->actor)
			ev->actor = name ? name :
				jstring(cJSON_GetObjectItemCaseSensitive(ui,
						"onBehalfOf"), "userId");
	} else if (!strcmp(type, "AWSService")) {
		ev->actor_kind = CSPF_ACTOR_SERVICE;
		ev->actor = jstring(ui, "invokedBy");
	}
	if (!ev->actor)
		ev->actor = jstring(ui, "principalId");
}

/*
 * One CloudTrail record (a parsed JSON object, as in a trail's files or
 * LookupEvents' CloudTrailEvent) as an event of source `source`.  The
 * event's strings point into `rec` and `s`.  Returns 0, or -1 with `why`
 * saying what is wrong with the record (no event then).
 */
static int ct_record_event(cspf_event *ev, struct ct_strings *s,
	const cJSON *rec, const char *source, const char **why)
{
	const cJSON *ui, *res, *ro;
	const char *time_s, *src, *name, *rp_target;
	size_t n;

	memset(ev, 0, sizeof(*ev));
	*why = NULL;
	if (!cJSON_IsObject(rec)) {
		*why = "the record is not a JSON object";
		return -1;
	}
	time_s = jstring(rec, "eventTime");
	if (!time_s || cspf_time_parse(&ev->time, time_s) < 0) {
		*why = "eventTime is missing or not an RFC 3339 time";
		return -1;
	}
	src = jstring(rec, "eventSource");
	name = jstring(rec, "eventName");
	if (!src || !name) {
		*why = "eventSource or eventName is missing";
		return -1;
	}
	n = strlen(src);
	if (n > 14 && !strcmp(src + n - 14, ".amazonaws.com"))
		n -= 14;
	snprintf(s->action, sizeof(s->action), "%.*s:%s", (int)n, src, name);
	ev->action = s->action;
	ev->source = source;
	ev->id = jstring(rec, "eventID");
	ev->region = jstring(rec, "awsRegion");
	ui = cJSON_GetObjectItemCaseSensitive(rec, "userIdentity");
	ev->account = jstring(rec, "recipientAccountId");
	if (!ev->account)
		ev->account = jstring(ui, "accountId");
	actor_of(ev, ui);
	res = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rec,
					 "resources"), 0);
	ev->target = jstring(res, "ARN");
	rp_target = target_of_params(s,
		cJSON_GetObjectItemCaseSensitive(rec, "requestParameters"),
		ev->account, ev->region);
	if (!ev->target)
		ev->target = rp_target;
	if (!strcmp(ev->action, "sts:AssumeRole") ||
	    has_prefix(ev->action, "sts:AssumeRoleWith"))
		ev->assumed_role = jstring(cJSON_GetObjectItemCaseSensitive(
			rec, "requestParameters"), "roleArn");
	ro = cJSON_GetObjectItemCaseSensitive(rec, "readOnly");
	ev->read_only = cJSON_IsTrue(ro) ||
		(cJSON_IsString(ro) && !strcmp(ro->valuestring, "true")) ||
		has_prefix(name, "Get") || has_prefix(name, "List") ||
		has_prefix(name, "Describe") || has_prefix(name, "Head") ||
		has_prefix(name, "Lookup");
	ev->failed = cJSON_GetObjectItemCaseSensitive(rec, "errorCode") &&
		!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec,
			"errorCode"));
	return 0;
}

/* ------------------------------------------------ the API */

struct run;

/* One account of the registry. */
struct acct {
	struct run *run;
	const cspf_entity *entity;
	const char *id;             /* accountid, lent from the registry */
	cspf_aws_credentials *creds;
	size_t ok, failed;          /* streams that ended well, badly */
};

/* One account in one region: a chain of pages. */
struct stream {
	struct acct *acct;
	const char *region;
	cspf_aws_service *svc;
	char *token;                /* NextToken of the next page, or NULL */
	double next_at;             /* monotonic: its next call, not before */
	size_t pages;
	/*
	 * Without read-only events: first ReadOnly=false, then each
	 * role-assumption call by its name (read-only in CloudTrail, but
	 * the digest counts who took which role from them).
	 */
	unsigned int phase;
	bool busy, done;
};

static const char *const assume_names[] = {
	"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity",
};
#define PHASES (1 + sizeof(assume_names) / sizeof(assume_names[0]))

struct run {
	const cspf_source_query *q;
	cspf_source_stats *stats;
	cspf_diags *diags;
	cspf_event_cb cb;
	void *payload;
	cspf_http_client *http;
	cspf_inventory_aws_config cfg;
	double gap;                 /* seconds between a stream's calls */
	struct acct *accts;
	size_t naccts;
	struct stream *streams;
	size_t nstreams;
	size_t ok_calls;            /* pages read */
	int stop;                   /* the callback's negative return */
	bool in_call, first_is_call; /* diags of a call, the first's kind */
	char first_error[1024];
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* "cloudtrail-api:123456789012/eu-west-1": where diags point. */
static void where(char *buf, size_t size, const struct stream *st)
{
	snprintf(buf, size, SOURCE ":%s/%s", st->acct->id,
		st->region ? st->region : "-");
}

static void diag(struct run *run, const char *file, const char *pointer,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void diag(struct run *run, const char *file, const char *pointer,
	const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cspf_diags_add(run->diags, CSPF_SEVERITY_ERROR, "digest-source", file,
		pointer, NULL, NULL, msg);
	/* The error of a source that read nothing names a refused call
	 * before an account it could not enter. */
	if (!run->first_error[0] || (!run->first_is_call && !pointer &&
					    run->in_call)) {
		memcpy(run->first_error, msg, sizeof(run->first_error));
		run->first_is_call = run->in_call;
	}
}

/* A stream that ended without reading everything. */
static void stream_failed(struct stream *st, const char *why)
{
	struct run *run = st->acct->run;
	char file[128];

	where(file, sizeof(file), st);
	run->in_call = true;
	diag(run, file, NULL,
		"account %s (%s) in %s: LookupEvents failed after %zu "
		"page(s): %s; its events of the period are missing: check "
		"that cspf's credentials%s may call cloudtrail:LookupEvents "
		"there, then run the digest again",
		st->acct->id, st->acct->entity->id, st->region, st->pages, why,
		run->cfg.role ? " (through providers.aws.inventory_role)" :
				"");
	run->in_call = false;
	st->acct->failed++;
	st->done = true;
}

/* One event of a page: map, filter, deliver. */
static void one_event(struct run *run, struct stream *st, const cJSON *item,
	size_t i)
{
	const char *text = jstring(item, "CloudTrailEvent");
	char file[128], ptr[64];
	struct ct_strings s;
	cspf_event ev;
	const char *why = NULL;
	cJSON *rec;
	int rc;

	run->stats->records++;
	where(file, sizeof(file), st);
	snprintf(ptr, sizeof(ptr), "/Events/%zu", i);
	rec = text ? cJSON_Parse(text) : NULL;
	if (!rec || ct_record_event(&ev, &s, rec, SOURCE, &why) < 0) {
		run->stats->bad++;
		diag(run, file, ptr,
			"page %zu, event %s: %s; the event is left out (a "
			"CloudTrail record as JSON is expected in "
			"CloudTrailEvent)", st->pages + 1,
			jstring(item, "EventId") ? jstring(item, "EventId") :
						   "without EventId",
			!text ? "no CloudTrailEvent" :
			!rec  ? "CloudTrailEvent is not JSON" : why);
		cJSON_Delete(rec);
		return;
	}
	if (!ev.account)
		ev.account = st->acct->id;
	if (!ev.region)
		ev.region = st->region;
	/* A role assumption the ReadOnly=false phase delivered already. */
	if (st->phase > 0 && !ev.read_only) {
		cJSON_Delete(rec);
		return;
	}
	if (ev.time < run->q->start || ev.time >= run->q->end ||
	    (ev.read_only && !run->q->read_only && !ev.assumed_role)) {
		run->stats->skipped++;
		cJSON_Delete(rec);
		return;
	}
	run->stats->events++;
	rc = run->cb(&ev, run->payload);
	if (rc < 0 && !run->stop)
		run->stop = rc;
	cJSON_Delete(rec);
}

static void on_page(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct stream *st = payload;
	struct run *run = st->acct->run;
	const cJSON *events, *item, *next;
	const char *body;
	size_t len, i = 0;
	cJSON *doc;

	(void)req;
	st->busy = false;
	run->stats->calls += resp ? cspf_http_response_attempts(resp) : 1;
	if (cspf_aws_response_check(resp, error, "cloudtrail LookupEvents") <
	    0) {
		stream_failed(st, cspf_error_last() ?
			cspf_error_last()->message : "no answer");
		return;
	}
	body = cspf_http_response_body(resp, &len);
	run->stats->bytes += len;
	doc = body ? cJSON_ParseWithLength(body, len) : NULL;
	events = cJSON_GetObjectItemCaseSensitive(doc, "Events");
	if (!cJSON_IsArray(events)) {
		stream_failed(st, "the answer is not JSON with an Events list");
		cJSON_Delete(doc);
		return;
	}
	run->ok_calls++;
	cJSON_ArrayForEach(item, events) {
		if (run->stop)
			break;
		one_event(run, st, item, i++);
	}
	st->pages++;
	next = cJSON_GetObjectItemCaseSensitive(doc, "NextToken");
	free(st->token);
	st->token = NULL;
	if (cJSON_IsString(next) && next->valuestring[0]) {
		if (!(st->token = strdup(next->valuestring)))
			stream_failed(st, "out of memory");
	} else if (!run->q->read_only && st->phase + 1 < PHASES) {
		st->phase++;
	} else {
		st->done = true;
		st->acct->ok++;
	}
	cJSON_Delete(doc);
}

/* The body of the stream's next call: period, filter, page, token. */
static char *lookup_body(const struct run *run, const struct stream *st)
{
	cJSON *b = cJSON_CreateObject(), *attrs, *a;
	char *text = NULL;

	if (!b)
		return NULL;
	if (!cJSON_AddNumberToObject(b, "StartTime", (double)run->q->start) ||
	    !cJSON_AddNumberToObject(b, "EndTime", (double)run->q->end) ||
	    !cJSON_AddNumberToObject(b, "MaxResults", LOOKUP_PAGE))
		goto out;
	/* One lookup attribute at most: the read-only filter, when wanted,
	 * then the role assumptions by name. */
	if (!run->q->read_only) {
		if (!(attrs = cJSON_AddArrayToObject(b, "LookupAttributes")) ||
		    !(a = cJSON_CreateObject()) ||
		    !cJSON_AddItemToArray(attrs, a) ||
		    !cJSON_AddStringToObject(a, "AttributeKey", st->phase ?
		    "EventName" : "ReadOnly") ||
		    !cJSON_AddStringToObject(a, "AttributeValue", st->phase ?
		    assume_names[st->phase - 1] : "false"))
			goto out;
	}
	if (st->token && !cJSON_AddStringToObject(b, "NextToken", st->token))
		goto out;
	text = cJSON_PrintUnformatted(b);
out:
	cJSON_Delete(b);
	return text;
}

static int submit(struct run *run, struct stream *st)
{
	cspf_http_request *req = NULL;
	char *body = lookup_body(run, st);
	int rc;

	if (!body) {
		stream_failed(st, "out of memory");
		return 0;
	}
	rc = cspf_aws_json_new(&req, st->svc, LOOKUP_TARGET, body);
	cJSON_free(body);
	if (rc < 0) {
		stream_failed(st, cspf_error_last() ?
			cspf_error_last()->message : "no request");
		return 0;
	}
	if (run->q->max_attempts)
		cspf_http_request_set_max_attempts(req, run->q->max_attempts);
	st->busy = true;
	if ((rc = cspf_http_submit(run->http, req, on_page, st)) < 0) {
		st->busy = false;
		stream_failed(st, cspf_error_last() ?
			cspf_error_last()->message : "not submitted");
	}
	return 0;
}

/*
 * Every stream to its end: each round starts the streams whose gap has
 * passed and runs them; when none may start, sleep until one may.
 */
static int drive(struct run *run)
{
	size_t i, live;
	double now, soonest;
	int rc;

	for (;;) {
		if (run->stop)
			return 0;
		now = mono();
		live = 0;
		for (i = 0; i < run->nstreams; i++) {
			struct stream *st = &run->streams[i];
			if (st->done)
				continue;
			live++;
			if (st->next_at <= now) {
				st->next_at = now + run->gap;
				submit(run, st);
			}
		}
		if (!live)
			return 0;
		if ((rc = cspf_http_run(run->http)) < 0)
			return rc;
		now = mono();
		soonest = -1;
		for (i = 0; i < run->nstreams; i++)
			if (!run->streams[i].done &&
			    (soonest < 0 || run->streams[i].next_at < soonest))
				soonest = run->streams[i].next_at;
		if (soonest > now)
			nap(soonest - now);
	}
}

/* The accounts the argument names: "all"/none, a cloud or registry id. */
static int pick_accounts(struct run *run)
{
	const cspf_registry *reg = run->q->registry;
	const char *arg = run->q->arg;
	size_t i, n = reg ? cspf_registry_count(reg) : 0;
	bool all = !arg || !*arg || !strcmp(arg, "all");

	run->accts = calloc(n ? n : 1, sizeof(*run->accts));
	if (!run->accts)
		return cspf_error_set_oom();
	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(reg, i);
		const char *id;

		if (e->kind != CSPF_KIND_ACCOUNT || !e->provider ||
		    strcmp(e->provider, "aws"))
			continue;
		id = jstring(e->json, "accountid");
		if (!id)
			continue;
		if (!all && strcasecmp(arg, id) && strcmp(arg, e->id))
			continue;
		run->accts[run->naccts].run = run;
		run->accts[run->naccts].entity = e;
		run->accts[run->naccts++].id = id;
	}
	if (!run->naccts && !all)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			SOURCE ": no AWS account \"%s\" in the registry: give "
			"its 12-digit accountid, its id (accounts/aws/NAME) or "
			"\"all\"", arg);
	return 0;
}

/* Credentials and one stream per region for each account. */
static int open_streams(struct run *run, cspf_aws_credentials *base)
{
	size_t a, r;

	run->streams = calloc(run->naccts * run->cfg.nregions + 1,
		sizeof(*run->streams));
	if (!run->streams)
		return cspf_error_set_oom();
	for (a = 0; a < run->naccts; a++) {
		struct acct *x = &run->accts[a];
		char file[128];

		if (cspf_inventory_aws_credentials(&x->creds, run->http, base,
			    &run->cfg, x->id, "digest") < 0) {
			snprintf(file, sizeof(file), SOURCE ":%s", x->id);
			diag(run, file, NULL,
				"account %s (%s): no credentials to read "
				"CloudTrail with: %s; its events of the period "
				"are missing: check providers.aws.inventory_role"
				" and that cspf may assume it there",
				x->id, x->entity->id, cspf_error_last() ?
					cspf_error_last()->message : "?");
			x->failed++;
			continue;
		}
		for (r = 0; r < run->cfg.nregions; r++) {
			struct stream *st = &run->streams[run->nstreams];

			st->acct = x;
			st->region = run->cfg.regions[r];
			if (cspf_aws_service_new(&st->svc, "cloudtrail",
				    st->region, x->creds,
				    run->cfg.endpoint) < 0) {
				run->nstreams++;
				stream_failed(st, cspf_error_last() ?
					cspf_error_last()->message : "?");
				continue;
			}
			run->nstreams++;
		}
	}
	return 0;
}

static void run_dispose(struct run *run)
{
	size_t i;

	for (i = 0; i < run->nstreams; i++) {
		cspf_aws_service_free(run->streams[i].svc);
		free(run->streams[i].token);
	}
	free(run->streams);
	for (i = 0; i < run->naccts; i++)
		cspf_aws_credentials_free(run->accts[i].creds);
	free(run->accts);
	cspf_inventory_aws_config_dispose(&run->cfg);
}

static int ct_api_read(cspf_source_stats *stats, cspf_diags *diags,
	const cspf_source_query *q, cspf_event_cb cb, void *payload)
{
	cspf_http_options ho = CSPF_HTTP_OPTIONS_INIT;
	cspf_aws_credentials *base = NULL;
	cspf_http_client *own = NULL;
	struct run run;
	int rc;

	memset(&run, 0, sizeof(run));
	run.q = q;
	run.stats = stats;
	run.diags = diags;
	run.cb = cb;
	run.payload = payload;
	run.gap = 1.0 / (q->rate > 0 ? q->rate : LOOKUP_RATE) + LOOKUP_MARGIN;
	if (q->end <= q->start)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			SOURCE ": the period is empty");
	if ((rc = cspf_inventory_aws_config_read(&run.cfg,
		     cJSON_GetObjectItemCaseSensitive(
			     cJSON_GetObjectItemCaseSensitive(q->registry ?
					     cspf_registry_config(q->registry) :
					     NULL, "providers"), "aws"))) < 0)
		goto out;
	if ((rc = pick_accounts(&run)) < 0 || !run.naccts)
		goto out;
	run.http = q->http;
	if (!run.http) {
		ho.ca_file = q->ca_file;
		ho.max_attempts = q->max_attempts;
		if ((rc = cspf_http_new(&own, &ho)) < 0)
			goto out;
		run.http = own;
	}
	if ((rc = cspf_aws_credentials_resolve(&base, run.http, NULL)) < 0)
		goto out;
	if ((rc = open_streams(&run, base)) < 0 || (rc = drive(&run)) < 0)
		goto out;
	if (run.stop) {
		rc = run.stop;
	} else if (!run.ok_calls) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			SOURCE ": no LookupEvents call succeeded in %zu "
			"account(s): %s", run.naccts, run.first_error[0] ?
				run.first_error : "no call was made");
	}
out:
	cspf_aws_credentials_free(base);
	run_dispose(&run);
	cspf_http_free(own);
	return rc;
}

const cspf_source cspf_source_cloudtrail_api = {
	SOURCE,
	"CloudTrail LookupEvents of each AWS account (ARG: an account, or all)",
	false,
	ct_api_read,
};
