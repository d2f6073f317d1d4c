/*
 * sink_github.c - the "github" ticket sink: one GitHub issue per ticket,
 * through the REST API (https://docs.github.com/rest/issues, version
 * 2022-11-28).
 *
 *   find     GET   /repos/O/R/issues?labels=cspf-key-H&state=all
 *   create   POST  /repos/O/R/issues {title, body, labels, assignees}
 *   update   PATCH /repos/O/R/issues/N {title, body}
 *   list     GET   /repos/O/R/issues?labels=cspf-digest,cspf-period-P
 *                  &state=all&per_page=100, following Link rel="next"
 *   comment  POST  /repos/O/R/issues/N/comments {body}, and to escalate
 *            POST  /repos/O/R/issues/N/labels {labels: ["cspf-escalated"]}
 *
 * The issues list holds pull requests too: items with "pull_request" are
 * skipped.  The token goes out as "Authorization: Bearer" (a secret
 * header); the User-Agent GitHub requires is the HTTP client's.
 *
 * GitHub has no attachment API: the CSV goes into the body, inside a
 * <details> block, when the body stays under GitHub's limit of 65,536
 * characters; else the first rows that fit, and a line that says how many
 * rows the complete CSV has and that `--sink files:DIR` writes it.
 *
 * Writes that are not idempotent (an issue, a comment) are sent once;
 * when the answer is lost (no answer, a timeout, a 5xx) the sink looks
 * for what it wrote before it sends again, so a key never gets two
 * issues.  Throttling (403 or 429 with x-ratelimit-remaining: 0 or a
 * Retry-After) is retried: by the HTTP layer for reads and idempotent
 * writes, by the loop here for those sent once.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/http.h"
#include "cspf/time.h"
#include "digest/digest_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/banned.h"

#define GH_DEFAULT_URL "https://api.github.com"
#define GH_API_VERSION "2022-11-28"
#define GH_BODY_MAX 65536
#define GH_CREATE_ATTEMPTS 4
#define GH_MAX_PAGES 1000
#define GH_LABEL_ESCALATED "cspf-escalated"

struct gh_sink {
	cspf_http_client *http;
	bool own_http;
	char *project;   /* "OWNER/REPO" */
	char *repo_url;  /* base/repos/OWNER/REPO */
	char *who;       /* "sink github:OWNER/REPO", for messages */
	cspf_secret *token;
	unsigned int attempts;      /* of a write sent once */
	unsigned int http_attempts; /* per request; 0: the client's */
};

/*
 * Sleeping between attempts of a write sent once.
 */

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Full jitter under 250 ms * 2^(attempt - 1), at most 4 s. */
static uint64_t backoff_ms(unsigned int attempt)
{
	uint32_t cap = 250;

	while (--attempt > 0 && cap < 4000)
		cap *= 2;
	if (cap > 4000)
		cap = 4000;
	return 50 + randombytes_uniform(cap);
}

/*
 * Responses.
 */

static bool throttled(const cspf_http_response *resp)
{
	int s = cspf_http_response_status(resp);
	const char *rem, *body;

	if (s == 429)
		return true;
	if (s != 403)
		return false;
	rem = cspf_http_response_header(resp, "x-ratelimit-remaining");
	if ((rem && strcmp(rem, "0") == 0) ||
	    cspf_http_response_header(resp, "retry-after"))
		return true;
	/* A secondary limit said only in words. */
	body = cspf_http_response_body(resp, NULL);
	return body && strstr(body, "secondary rate limit");
}

/* GitHub's rate limits are 403s the HTTP layer would hand back. */
static cspf_http_class gh_classify(const cspf_http_response *resp,
	void *payload)
{
	(void)payload;
	return throttled(resp) ? CSPF_HTTP_CLASS_RETRY :
		CSPF_HTTP_CLASS_DEFAULT;
}

/* How long a throttled write waits: Retry-After, else the reset. */
static uint64_t throttle_wait_ms(const cspf_http_response *resp,
	unsigned int attempt)
{
	const char *v = cspf_http_response_header(resp, "retry-after");
	uint64_t d = backoff_ms(attempt);
	long long s = -1;
	char *end;

	if (v) {
		s = strtoll(v, &end, 10);
		if (*end)
			s = -1;
	} else if ((v = cspf_http_response_header(resp,
		"x-ratelimit-reset"))) {
		s = strtoll(v, &end, 10);
		s = *end ? -1 : s - (long long)time(NULL) + 1;
	}
	if (s > 60)
		s = 60;
	if (s >= 0 && (uint64_t)s * 1000 > d)
		d = (uint64_t)s * 1000;
	return d;
}

/* Printable and short: what an API says goes into our messages. */
static void put_words(cspf_buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		cspf_buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
	if (s[i])
		cspf_buf_puts(b, "...");
}

/* ": message (field: code, ...)" of a GitHub error body, into `out`. */
static void api_words(cspf_buf *out, const cspf_http_response *resp)
{
	const char *body = cspf_http_response_body(resp, NULL);
	const cJSON *msg, *errs, *e, *f;
	cJSON *root;
	int n = 0;

	if (!body || !(root = cJSON_Parse(body)))
		return;
	msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	if (cJSON_IsString(msg) && msg->valuestring[0]) {
		cspf_buf_puts(out, ": ");
		put_words(out, msg->valuestring, 300);
	}
	errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	cJSON_ArrayForEach(e, errs) {
		if (n++ == 4)
			break;
		cspf_buf_puts(out, n == 1 ? " (" : "; ");
		if (cJSON_IsString(e)) {
			put_words(out, e->valuestring, 200);
			continue;
		}
		f = cJSON_GetObjectItemCaseSensitive(e, "field");
		if (cJSON_IsString(f)) {
			put_words(out, f->valuestring, 60);
			cspf_buf_puts(out, ": ");
		}
		f = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (!cJSON_IsString(f))
			f = cJSON_GetObjectItemCaseSensitive(e, "code");
		if (cJSON_IsString(f))
			put_words(out, f->valuestring, 200);
		f = cJSON_GetObjectItemCaseSensitive(e, "value");
		if (cJSON_IsString(f)) {
			cspf_buf_puts(out, " \"");
			put_words(out, f->valuestring, 60);
			cspf_buf_putc(out, '"');
		}
	}
	if (n)
		cspf_buf_putc(out, ')');
	cJSON_Delete(root);
}

/*
 * The error for a response that is not what `what` wanted: names the
 * sink, the repository, the status and GitHub's words, and what to do.
 */
static int gh_status_error(const struct gh_sink *gs,
	const cspf_http_response *resp, const char *what)
{
	cspf_buf w = CSPF_BUF_INIT;
	int s = cspf_http_response_status(resp), code;
	unsigned int n = cspf_http_response_attempts(resp);
	const char *reset;
	char when[CSPF_TIME_BUFSIZE] = "";

	api_words(&w, resp);
	if (cspf_buf_oom(&w))
		return cspf_error_set_oom();
	if (s == 401) {
		code = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"%s: %s: GitHub refused the token (HTTP 401%s): check "
			"GITHUB_TOKEN: a token that has not expired, with "
			"read and write access to the issues of %s", gs->who,
			what, w.ptr, gs->project);
	} else if (throttled(resp)) {
		reset = cspf_http_response_header(resp, "x-ratelimit-reset");
		if (reset && !cspf_http_response_header(resp, "retry-after"))
			cspf_time_format(when, strtoll(reset, NULL, 10));
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"%s: %s: rate limited by GitHub (HTTP %d%s) after %u "
			"attempt%s: try again %s%s", gs->who, what, s, w.ptr, n,
			n == 1 ? "" : "s", when[0] ? "after " : "later",
			when);
	} else if (s == 403) {
		code = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"%s: %s: forbidden (HTTP 403%s): GITHUB_TOKEN needs "
			"read and write access to the issues of %s", gs->who,
			what, w.ptr, gs->project);
	} else if (s == 404) {
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"%s: %s: not found (HTTP 404%s): check the repository "
			"name %s and that GITHUB_TOKEN can see it", gs->who,
			what, w.ptr, gs->project);
	} else if (s == 410) {
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"%s: %s: issues are disabled (HTTP 410%s): enable "
			"them on %s or choose another repository", gs->who,
			what, w.ptr, gs->project);
	} else if (s == 422) {
		code = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: %s: GitHub refused the request (HTTP 422%s): "
			"check the ticket's fields (title, labels, assignees) "
			"against what GitHub accepts", gs->who, what, w.ptr);
	} else if (s == 429 || s >= 500) {
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"%s: %s: GitHub answered HTTP %d%s%s: try again later",
			gs->who, what, s, w.ptr, n > 1 ? " to every attempt" :
			"");
	} else {
		code = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"%s: %s: unexpected HTTP %d%s", gs->who, what, s,
			w.ptr);
	}
	cspf_buf_dispose(&w);
	return code;
}

/* No answer came: what the HTTP layer said, with the sink's name. */
static int gh_transport_error(const struct gh_sink *gs, int rc,
	const char *what)
{
	const cspf_error *e = cspf_error_last();
	char *deep = strdup(e && e->message ? e->message : "no answer");

	rc = cspf_error_set(rc < 0 ? rc : CSPF_ERROR, CSPF_ERRCLASS_OS,
		"%s: %s: %s: is GitHub reachable?", gs->who, what,
		deep ? deep : "no answer");
	free(deep);
	return rc;
}

/*
 * Requests.
 */

/* A request with GitHub's headers and the token; `json` may be NULL. */
static int gh_request(cspf_http_request **out, const struct gh_sink *gs,
	const char *method, const char *url, const char *json)
{
	cspf_http_request *req = NULL;
	int rc;

	*out = NULL;
	if ((rc = cspf_http_request_new(&req, method, url)) < 0)
		return rc;
	if ((rc = cspf_http_request_set_header(req, "Accept",
		"application/vnd.github+json")) < 0 ||
	    (rc = cspf_http_request_set_header(req, "X-GitHub-Api-Version",
		GH_API_VERSION)) < 0 ||
	    (rc = cspf_http_request_set_header_secret(req, "Authorization",
		"Bearer ", gs->token)) < 0)
		goto fail;
	if (json && ((rc = cspf_http_request_set_header(req, "Content-Type",
		"application/json")) < 0 ||
	    (rc = cspf_http_request_set_body(req, json, strlen(json))) < 0))
		goto fail;
	cspf_http_request_set_classify(req, gh_classify, NULL);
	cspf_http_request_set_max_attempts(req, gs->http_attempts);
	*out = req;
	return 0;
fail:
	cspf_http_request_free(req);
	return rc;
}

/*
 * One call with the HTTP layer's retries.  *out is the response whatever
 * its status; negative (raised, naming `what`) when no answer came.
 */
static int gh_call(cspf_http_response **out, const struct gh_sink *gs,
	const char *method, const char *url, const char *json,
	const char *what)
{
	cspf_http_request *req;
	int rc;

	*out = NULL;
	if ((rc = gh_request(&req, gs, method, url, json)) < 0)
		return rc;
	rc = cspf_http_perform(out, gs->http, req);
	cspf_http_request_free(req);
	return rc < 0 ? gh_transport_error(gs, rc, what) : 0;
}

/* The body of a 2xx as JSON; raises when it is not JSON. */
static int gh_json(cJSON **out, const struct gh_sink *gs,
	const cspf_http_response *resp, const char *what)
{
	size_t len = 0;
	const char *body = cspf_http_response_body(resp, &len);

	*out = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (!*out)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
			"%s: %s: GitHub's answer (HTTP %d) is not JSON: is %s "
			"a GitHub API URL?", gs->who, what,
			cspf_http_response_status(resp),
			cspf_http_response_url(resp) ?
			cspf_http_response_url(resp) : "the URL");
	return 0;
}

/*
 * The URL of rel="next" in a Link header (RFC 8288), malloc'd, or NULL.
 * A URL sits between '<' and '>', so commas inside it do not split.
 */
static char *link_next(const char *link)
{
	const char *p = link, *lt, *gt, *end, *q;
	size_t n;

	while (p && (lt = strchr(p, '<')) && (gt = strchr(lt, '>'))) {
		end = strchr(gt, '<');
		n = end ? (size_t)(end - gt) : strlen(gt);
		for (q = gt; q < gt + n; q++) {
			size_t left = (size_t)(gt + n - q);

			if ((left >= 10 && !strncmp(q, "rel=\"next\"", 10)) ||
			    (left >= 8 && !strncmp(q, "rel=next", 8)))
				return strndup(lt + 1, (size_t)(gt - lt - 1));
		}
		p = end;
	}
	return NULL;
}

/* Called for each item of a listing: 0 go on, 1 stop, negative error. */
typedef int (*gh_item_cb)(const cJSON *item, void *payload);

/*
 * Every item of the listing at `url`, page after page (Link rel="next",
 * same origin only), to cb.  Pull requests are skipped when `issues`.
 * Returns 0 (also when cb stopped), or negative raised.
 */
static int gh_each(const struct gh_sink *gs, const char *url, bool issues,
	const char *what, gh_item_cb cb, void *payload)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cJSON *root = NULL;
	const cJSON *it;
	const char *link;
	char *next;
	int rc, pages = 0;

	if ((rc = gh_request(&req, gs, "GET", url, NULL)) < 0)
		return rc;
	for (;;) {
		if ((rc = cspf_http_perform(&resp, gs->http, req)) < 0) {
			rc = gh_transport_error(gs, rc, what);
			break;
		}
		if (cspf_http_response_status(resp) != 200) {
			rc = gh_status_error(gs, resp, what);
			break;
		}
		if ((rc = gh_json(&root, gs, resp, what)) < 0)
			break;
		if (!cJSON_IsArray(root)) {
			rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
				"%s: %s: GitHub's answer is not a JSON array: "
				"is the API URL right?", gs->who, what);
			break;
		}
		cJSON_ArrayForEach(it, root) {
			if (!cJSON_IsObject(it) || (issues &&
			    cJSON_GetObjectItemCaseSensitive(it,
				"pull_request")))
				continue;
			if ((rc = cb(it, payload)) != 0)
				break;
		}
		cJSON_Delete(root);
		root = NULL;
		if (rc != 0) {
			rc = rc > 0 ? 0 : rc;
			break;
		}
		link = cspf_http_response_header(resp, "Link");
		next = link ? link_next(link) : NULL;
		cspf_http_response_free(resp);
		resp = NULL;
		if (!next)
			break;
		rc = cspf_http_request_follow_link(req, next);
		free(next);
		if (rc < 0) {
			rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
				"%s: %s: GitHub's next page is on another "
				"host: refused (check the API URL)", gs->who,
				what);
			break;
		}
		if (++pages == GH_MAX_PAGES) {
			rc = cspf_error_set(CSPF_ETOOBIG,
				CSPF_ERRCLASS_INVALID, "%s: %s: more than %d "
				"pages: stopped", gs->who, what, GH_MAX_PAGES);
			break;
		}
	}
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cspf_http_request_free(req);
	return rc;
}

/*
 * A write that is not idempotent, sent with one attempt at a time: when
 * its answer is lost (no answer, a 5xx), `check` looks for what it wrote
 * (0 found, CSPF_ENOTFOUND not there, negative error) before it is sent
 * again; throttling waits and sends again.  Up to gs->attempts sends.
 * Returns 0 with *out the answer of status `want`, 1 when check found the
 * write done, or negative raised (with *out the answer when GitHub
 * refused the write for good, else NULL).  *out is the caller's.
 */
static int gh_post_once(cspf_http_response **out, const struct gh_sink *gs,
	const char *url, const char *json, int want, const char *what,
	int (*check)(const struct gh_sink *gs, void *payload), void *payload)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	char *last = NULL;
	unsigned int attempt;
	uint64_t delay = 0;
	bool look = false;
	int rc = 0;

	*out = NULL;
	for (attempt = 1; attempt <= gs->attempts; attempt++) {
		if (attempt > 1)
			sleep_ms(delay);
		delay = backoff_ms(attempt);
		if (look) {
			rc = check(gs, payload);
			if (rc == 0) {
				free(last);
				return 1;
			}
			if (rc != CSPF_ENOTFOUND) {
				/* Unknown yet: look again before a send. */
				free(last);
				last = strdup(cspf_error_last()->message);
				continue;
			}
			look = false;
		}
		if ((rc = gh_request(&req, gs, "POST", url, json)) < 0) {
			free(last);
			return rc;
		}
		cspf_http_request_set_max_attempts(req, 1);
		rc = cspf_http_perform(&resp, gs->http, req);
		cspf_http_request_free(req);
		req = NULL;
		if (rc < 0) {
			gh_transport_error(gs, rc, what);
			look = true;
		} else if (cspf_http_response_status(resp) == want) {
			free(last);
			*out = resp;
			return 0;
		} else if (throttled(resp)) {
			gh_status_error(gs, resp, what);
			/* Refused, so not done: wait, send again. */
			delay = throttle_wait_ms(resp, attempt);
		} else if (cspf_http_response_status(resp) >= 500) {
			gh_status_error(gs, resp, what);
			look = true;
		} else {
			rc = gh_status_error(gs, resp, what);
			*out = resp; /* the caller may read the refusal */
			free(last);
			return rc;
		}
		cspf_http_response_free(resp);
		resp = NULL;
		free(last);
		last = strdup(cspf_error_last()->message);
	}
	rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
		"%s (gave up after %u attempts%s)", last ? last : what,
		gs->attempts, look ? "; a later run finds what GitHub may "
		"have made of the last one" : "");
	free(last);
	return rc;
}

/*
 * Tickets and issues.
 */

static void copy_str(char *dst, size_t size, const char *s)
{
	cspf_strlcpy(dst, s ? s : "", size);
}

static bool has_label(const cJSON *issue, const char *name)
{
	const cJSON *l, *n;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(issue,
		"labels")) {
		n = cJSON_IsObject(l) ?
			cJSON_GetObjectItemCaseSensitive(l, "name") : l;
		if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
			return true;
	}
	return false;
}

/*
 * An issue as a ticket ref: number, URL, state, escalation, and the
 * marker's fields.  CSPF_ENOTFOUND when its body has no marker (the
 * rest is filled), CSPF_EINVALID when it is no issue (no number).
 */
static int issue_ref(cspf_ticket_ref *ref, const cJSON *it)
{
	const cJSON *num = cJSON_GetObjectItemCaseSensitive(it, "number");
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(it, "html_url");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(it, "state");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, "body");

	memset(ref, 0, sizeof(*ref));
	if (!cJSON_IsNumber(num) || num->valuedouble < 1 ||
	    num->valuedouble > 1e15)
		return CSPF_EINVALID;
	snprintf(ref->id, sizeof(ref->id), "%.0f", num->valuedouble);
	if (cJSON_IsString(url))
		copy_str(ref->url, sizeof(ref->url), url->valuestring);
	ref->open = cJSON_IsString(state) &&
		!strcmp(state->valuestring, "open");
	ref->escalated = has_label(it, GH_LABEL_ESCALATED);
	if (!cJSON_IsString(body))
		return CSPF_ENOTFOUND;
	return cspf_ticket_marker_parse(ref, body->valuestring,
		strlen(body->valuestring));
}

/* The marker fields of a ref from the ticket itself. */
static void ref_from_ticket(cspf_ticket_ref *ref, const cspf_ticket *t)
{
	copy_str(ref->key, sizeof(ref->key), t->key);
	copy_str(ref->kind, sizeof(ref->kind),
		cspf_report_kind_name(t->kind));
	copy_str(ref->recipient, sizeof(ref->recipient), t->recipient);
	copy_str(ref->team, sizeof(ref->team), t->team);
	copy_str(ref->period, sizeof(ref->period), t->period);
	ref->created = t->created;
	ref->due = t->due;
}

/* An issue number of ours: digits only, so it is safe in a URL. */
static int check_id(const struct gh_sink *gs, const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (id[i] < '0' || id[i] > '9')
			break;
	if (i == 0 || id[i] || i > 15)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: \"%s\" is no GitHub issue number", gs->who, id);
	return 0;
}

/* repo_url + "/issues?labels=L1,L2&state=all&per_page=100", malloc'd. */
static char *issues_url(const struct gh_sink *gs, const char *l1,
	const char *l2)
{
	cspf_buf b = CSPF_BUF_INIT;
	char *e;

	cspf_buf_printf(&b, "%s/issues?labels=", gs->repo_url);
	if ((e = cspf_http_urlencode(l1, strlen(l1))))
		cspf_buf_puts(&b, e);
	else
		b.oom = true;
	free(e);
	if (l2) {
		cspf_buf_putc(&b, ',');
		if ((e = cspf_http_urlencode(l2, strlen(l2))))
			cspf_buf_puts(&b, e);
		else
			b.oom = true;
		free(e);
	}
	cspf_buf_puts(&b, "&state=all&per_page=100");
	return cspf_buf_detach(&b);
}

/*
 * The body.
 */

/* Where a marker line is in `s`: 0 and [*start, *end), or -1. */
static int marker_span(const char *s, size_t *start, size_t *end)
{
	const char *p = strstr(s, "<!-- cspf-digest "), *q;

	if (!p || !(q = strstr(p, "-->")))
		return -1;
	*start = (size_t)(p - s);
	*end = (size_t)(q + 3 - s);
	return 0;
}

/* Bytes of the CSV record starting at `p` (its newline included). */
static size_t csv_record(const char *p, const char *end)
{
	const char *s = p;
	bool quoted = false;

	for (; p < end; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\n' && !quoted)
			return (size_t)(p + 1 - s);
	}
	return (size_t)(end - s);
}

static size_t csv_rows(const char *csv, size_t len)
{
	const char *p = csv, *end = csv + len;
	size_t n = 0;

	while (p < end) {
		p += csv_record(p, end);
		n++;
	}
	return n ? n - 1 : 0; /* the header is no row */
}

/* A fence longer than any run of backticks in the CSV. */
static size_t fence_len(const char *s, size_t len)
{
	size_t i, run = 0, max = 0;

	for (i = 0; i < len; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > max)
			max = run;
	}
	return max < 3 ? 3 : max + 1;
}

static void put_fence(cspf_buf *b, size_t n)
{
	while (n--)
		cspf_buf_putc(b, '`');
}

/* Cut `n` back to the start of a UTF-8 character of `s`. */
static size_t utf8_cut(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * The issue's body: the ticket's Markdown (with its marker: added when
 * missing), `note` (NULL: none), and the CSV in a <details> block, all
 * under GH_BODY_MAX bytes (bytes: never fewer than GitHub's characters).
 * `marker` replaces the body's marker when not NULL.  Malloc'd; NULL
 * when out of memory.
 */
static char *compose_body(const cspf_ticket *t, const char *note,
	const char *marker)
{
	cspf_buf b = CSPF_BUF_INIT, tail = CSPF_BUF_INIT;
	const char *text = t->body ? t->body : "";
	const char *csv = t->csv, *p, *end;
	size_t csv_len = t->csv ? t->csv_len : 0, ms, me, fence, rows, kept;
	size_t room, head, n, reserve = 600;
	char *own = NULL;
	bool have_marker = marker_span(text, &ms, &me) == 0;

	if (have_marker && marker) {
		cspf_buf_put(&b, text, ms);
		cspf_buf_puts(&b, marker);
		cspf_buf_puts(&b, text + me);
	} else {
		cspf_buf_puts(&b, text);
	}
	if (!have_marker) {
		if (!marker && !(marker = own = cspf_ticket_marker_format(t)))
			b.oom = true;
		else
			cspf_buf_printf(&tail, "\n\n%s\n", marker);
	}
	if (note)
		cspf_buf_printf(&tail, "\n\n%s\n", note);
	free(own);
	if (cspf_buf_oom(&b) || cspf_buf_oom(&tail))
		goto oom;

	/* A body that alone is too long: cut, keeping the marker. */
	if (b.size + tail.size + reserve > GH_BODY_MAX) {
		char *m = NULL;

		if (have_marker) {
			marker_span(b.ptr, &ms, &me);
			m = strndup(b.ptr + ms, me - ms);
		}
		n = tail.size + reserve + (m ? strlen(m) + 2 : 0);
		n = n < GH_BODY_MAX ? utf8_cut(b.ptr, GH_BODY_MAX - n) : 0;
		cspf_buf_truncate(&b, n);
		cspf_buf_puts(&b, "\n\n_The review is cut here at GitHub's "
			"limit of 65,536 characters: `cspf digest --sink "
			"files:DIR` writes all of it, with the complete "
			"CSV._\n");
		if (m)
			cspf_buf_printf(&b, "\n%s\n", m);
		free(m);
		cspf_buf_put(&b, tail.ptr, tail.size);
		cspf_buf_dispose(&tail);
		if (cspf_buf_oom(&b))
			goto oom;
		return cspf_buf_detach(&b);
	}
	cspf_buf_put(&b, tail.ptr, tail.size);
	cspf_buf_dispose(&tail);
	if (!csv_len)
		return cspf_buf_oom(&b) ? (cspf_buf_dispose(&b), NULL) :
			cspf_buf_detach(&b);

	rows = csv_rows(csv, csv_len);
	fence = fence_len(csv, csv_len);
	/* Everything but the CSV's own bytes, with room for the numbers. */
	head = b.size + 2 * fence + 400;
	if (head + csv_len + 1 <= GH_BODY_MAX) {
		kept = rows;
		n = csv_len;
	} else if (head >= GH_BODY_MAX) {
		kept = n = 0; /* a fence as long as the limit: no CSV */
	} else {
		/* The header and the first rows that fit. */
		room = GH_BODY_MAX - head;
		p = csv;
		end = csv + csv_len;
		n = csv_record(p, end);
		kept = 0;
		if (n > room) {
			n = 0;
		} else {
			while (p + n < end) {
				size_t r = csv_record(p + n, end);

				if (n + r > room)
					break;
				n += r;
				kept++;
			}
		}
	}
	if (n == 0) {
		cspf_buf_printf(&b, "\n_The complete CSV has %zu row%s; "
			"none fit in a GitHub issue (65,536 characters): "
			"`cspf digest --sink files:DIR` writes it._\n", rows,
			rows == 1 ? "" : "s");
		goto out;
	}
	if (kept == rows)
		cspf_buf_printf(&b, "\n<details>\n<summary>All %zu row%s "
			"(CSV)</summary>\n\n", rows, rows == 1 ? "" : "s");
	else
		cspf_buf_printf(&b, "\n_The complete CSV has %zu rows; only "
			"the first %zu fit in a GitHub issue (65,536 "
			"characters): `cspf digest --sink files:DIR` writes "
			"all of it._\n\n<details>\n<summary>The first %zu of "
			"%zu rows (CSV)</summary>\n\n", rows, kept, kept,
			rows);
	put_fence(&b, fence);
	cspf_buf_puts(&b, "csv\n");
	cspf_buf_put(&b, csv, n);
	if (n && csv[n - 1] != '\n')
		cspf_buf_putc(&b, '\n');
	put_fence(&b, fence);
	cspf_buf_puts(&b, "\n\n</details>\n");
out:
	if (cspf_buf_oom(&b))
		goto oom;
	return cspf_buf_detach(&b);
oom:
	cspf_buf_dispose(&b);
	cspf_buf_dispose(&tail);
	return NULL;
}

/* The labels of a ticket, into a cJSON array. */
static cJSON *ticket_labels(const cspf_ticket *t)
{
	cJSON *a = cJSON_CreateArray();
	char l[128];

	if (!a)
		return NULL;
	cJSON_AddItemToArray(a, cJSON_CreateString("cspf-digest"));
	snprintf(l, sizeof(l), "cspf-period-%s", t->period_label ?
		t->period_label : "");
	cJSON_AddItemToArray(a, cJSON_CreateString(l));
	snprintf(l, sizeof(l), "cspf-%s", cspf_report_kind_name(t->kind));
	cJSON_AddItemToArray(a, cJSON_CreateString(l));
	snprintf(l, sizeof(l), "cspf-key-%s", t->key_hash);
	cJSON_AddItemToArray(a, cJSON_CreateString(l));
	return a;
}

/*
 * The sink.
 */

static bool project_ok(const char *p)
{
	const char *slash = strchr(p, '/');
	size_t i;

	if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (i = 0; p[i]; i++)
		if (p[i] != '/' && p[i] != '-' && p[i] != '_' &&
		    p[i] != '.' && !(p[i] >= 'a' && p[i] <= 'z') &&
		    !(p[i] >= 'A' && p[i] <= 'Z') &&
		    !(p[i] >= '0' && p[i] <= '9'))
			return false;
	return strcmp(slash + 1, ".") && strcmp(slash + 1, "..");
}

static void gh_close(void *state)
{
	struct gh_sink *gs = state;

	if (!gs)
		return;
	if (gs->own_http)
		cspf_http_free(gs->http);
	cspf_secret_free(gs->token);
	free(gs->project);
	free(gs->repo_url);
	free(gs->who);
	free(gs);
}

static int gh_open(void **state, const cspf_sink_config *cfg)
{
	struct gh_sink *gs;
	const char *project = cfg->project ? cfg->project : "";
	const char *url = cfg->url && *cfg->url ? cfg->url : GH_DEFAULT_URL;
	cspf_buf b = CSPF_BUF_INIT;
	size_t n = strlen(url);
	int rc;

	*state = NULL;
	if (!project_ok(project))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sink github: \"%s\" is no repository: give OWNER/REPO "
			"(github:OWNER/REPO)", project);
	if (!cspf_http_url_allowed(url))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sink github:%s: the API URL %s is not one cspf uses: "
			"https://, or http:// to a loopback address", project,
			url);
	if (!cfg->token || cspf_secret_len(cfg->token) == 0)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"sink github:%s: no token: set GITHUB_TOKEN to a token "
			"with read and write access to the repository's "
			"issues", project);
	if (!(gs = calloc(1, sizeof(*gs))))
		return cspf_error_set_oom();
	while (n > 0 && url[n - 1] == '/')
		n--;
	cspf_buf_put(&b, url, n);
	cspf_buf_printf(&b, "/repos/%s", project);
	gs->repo_url = cspf_buf_detach(&b);
	gs->project = strdup(project);
	if (cfg->name)
		cspf_buf_printf(&b, "sink %s (github:%s)", cfg->name, project);
	else
		cspf_buf_printf(&b, "sink github:%s", project);
	gs->who = cspf_buf_detach(&b);
	if (!gs->repo_url || !gs->project || !gs->who) {
		rc = cspf_error_set_oom();
		goto fail;
	}
	if ((rc = cspf_secret_dup(&gs->token, cfg->token)) < 0)
		goto fail;
	gs->attempts = cfg->max_attempts ? cfg->max_attempts :
		GH_CREATE_ATTEMPTS;
	gs->http_attempts = cfg->max_attempts;
	if (cfg->http) {
		gs->http = cfg->http;
	} else {
		if ((rc = cspf_http_new(&gs->http, NULL)) < 0)
			goto fail;
		gs->own_http = true;
	}
	*state = gs;
	return 0;
fail:
	gh_close(gs);
	return rc;
}

struct find_ctx {
	const cspf_ticket *t;
	cspf_ticket_ref *ref;
	bool found;
};

static int find_cb(const cJSON *it, void *payload)
{
	struct find_ctx *fc = payload;
	cspf_ticket_ref r;
	int rc = issue_ref(&r, it);

	if (rc == CSPF_EINVALID)
		return 0;
	/*
	 * The key label matched.  A marker of another key is a collision
	 * of the label's hash: not ours.  No marker: a person edited the
	 * body; the label still says whose it is.
	 */
	if (rc == 0 && strcmp(r.key, fc->t->key) != 0)
		return 0;
	if (rc == CSPF_ENOTFOUND)
		ref_from_ticket(&r, fc->t);
	*fc->ref = r;
	fc->found = true;
	return 1;
}

static int find_impl(const struct gh_sink *gs, const cspf_ticket *t,
	cspf_ticket_ref *ref)
{
	struct find_ctx fc = { t, ref, false };
	char label[64], *url;
	int rc;

	snprintf(label, sizeof(label), "cspf-key-%s", t->key_hash);
	if (!(url = issues_url(gs, label, NULL)))
		return cspf_error_set_oom();
	rc = gh_each(gs, url, true, "find the issue of a ticket", find_cb,
		&fc);
	free(url);
	if (rc < 0)
		return rc;
	return fc.found ? 0 : CSPF_ENOTFOUND;
}

static int check_ticket(const cspf_ticket *t)
{
	size_t i;

	if (!t->key || !t->key_hash || !t->title || !t->key_hash[0])
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sink github: a ticket without key, key hash or "
			"title: a bug in cspf digest");
	for (i = 0; t->key_hash[i]; i++)
		if (!strchr("0123456789abcdef", t->key_hash[i]) || i > 32)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID, "sink github: ticket "
				"%s: its key hash is not hex digits", t->key);
	return 0;
}

static int gh_find(void *state, const cspf_ticket *t, cspf_ticket_ref *ref)
{
	int rc;

	if ((rc = check_ticket(t)) < 0)
		return rc;
	return find_impl(state, t, ref);
}

struct create_ctx {
	const cspf_ticket *t;
	cspf_ticket_ref *ref;
};

static int create_check(const struct gh_sink *gs, void *payload)
{
	struct create_ctx *cc = payload;

	return find_impl(gs, cc->t, cc->ref);
}

/* The issue to create as JSON, malloc'd; NULL when out of memory. */
static char *create_json(const cspf_ticket *t, bool assign, const char *note)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *body = compose_body(t, note, NULL), *out = NULL;
	size_t i;

	if (!o || !body)
		goto done;
	cJSON_AddStringToObject(o, "title", t->title);
	cJSON_AddStringToObject(o, "body", body);
	cJSON_AddItemToObject(o, "labels", ticket_labels(t));
	if (assign && t->assignee_count) {
		a = cJSON_AddArrayToObject(o, "assignees");
		for (i = 0; a && i < t->assignee_count; i++)
			cJSON_AddItemToArray(a,
				cJSON_CreateString(t->assignees[i]));
	}
	out = cJSON_PrintUnformatted(o);
done:
	cJSON_Delete(o);
	free(body);
	return out;
}

/* A 422 that names the assignees (a login GitHub does not know). */
static bool assignees_refused(const cspf_http_response *resp)
{
	const char *body = cspf_http_response_body(resp, NULL);

	return cspf_http_response_status(resp) == 422 && body &&
		strstr(body, "\"assignees\"");
}

static int gh_create(void *state, const cspf_ticket *t, cspf_ticket_ref *ref)
{
	struct gh_sink *gs = state;
	struct create_ctx cc = { t, ref };
	cspf_http_response *resp = NULL;
	cspf_buf note = CSPF_BUF_INIT;
	cJSON *root = NULL;
	char *url = NULL, *json = NULL;
	size_t i;
	int rc;

	if ((rc = check_ticket(t)) < 0)
		return rc;
	if (!(url = malloc(strlen(gs->repo_url) + 8)))
		return cspf_error_set_oom();
	memcpy(url, gs->repo_url, strlen(gs->repo_url));
	memcpy(url + strlen(gs->repo_url), "/issues", 8);
	if (!(json = create_json(t, true, NULL))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	rc = gh_post_once(&resp, gs, url, json, 201, "create the issue of a "
		"ticket", create_check, &cc);
	if (rc < 0 && t->assignee_count && resp && assignees_refused(resp)) {
		/*
		 * A login GitHub refuses must not cost the review its
		 * ticket: open it unassigned, saying so in the body.
		 */
		cspf_http_response_free(resp);
		resp = NULL;
		cspf_buf_puts(&note, "_GitHub would not assign this issue to ");
		for (i = 0; i < t->assignee_count; i++)
			cspf_buf_printf(&note, "%s`%s`", i ? ", " : "",
				t->assignees[i]);
		cspf_buf_printf(&note, ": check that the registry gives "
			"GitHub logins with access to %s._", gs->project);
		free(json);
		json = cspf_buf_oom(&note) ? NULL :
			create_json(t, false, note.ptr);
		if (!json) {
			rc = cspf_error_set_oom();
			goto done;
		}
		rc = gh_post_once(&resp, gs, url, json, 201, "create the "
			"issue of a ticket", create_check, &cc);
	}
	if (rc != 0)
		goto done; /* 1: a lost answer, and find() filled ref */
	if ((rc = gh_json(&root, gs, resp, "create the issue of a ticket")) <
	    0)
		goto done;
	if (issue_ref(ref, root) == CSPF_EINVALID) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_JSON,
			"%s: create the issue of a ticket: GitHub's answer "
			"has no issue number", gs->who);
		goto done;
	}
	ref_from_ticket(ref, t);
	rc = 0;
done:
	if (rc > 0)
		rc = 0;
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cspf_buf_dispose(&note);
	free(json);
	free(url);
	return rc;
}

static int gh_update(void *state, const cspf_ticket_ref *ref,
	const cspf_ticket *t)
{
	struct gh_sink *gs = state;
	cspf_ticket keep = *t;
	cspf_http_response *resp = NULL;
	cJSON *o = NULL;
	char *url = NULL, *json = NULL, *body = NULL, *marker = NULL;
	char what[96];
	int rc;

	if ((rc = check_ticket(t)) < 0 || (rc = check_id(gs, ref->id)) < 0)
		return rc;
	snprintf(what, sizeof(what), "update issue #%s", ref->id);
	/* The issue's due date stays what its marker says. */
	if (ref->created && ref->due) {
		keep.created = ref->created;
		keep.due = ref->due;
	}
	if (!(marker = cspf_ticket_marker_format(&keep)) ||
	    !(body = compose_body(t, NULL, marker)) ||
	    !(o = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(o, "title", t->title) ||
	    !cJSON_AddStringToObject(o, "body", body) ||
	    !(json = cJSON_PrintUnformatted(o)) ||
	    !(url = malloc(strlen(gs->repo_url) + 32))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	snprintf(url, strlen(gs->repo_url) + 32, "%s/issues/%s",
		gs->repo_url, ref->id);
	if ((rc = gh_call(&resp, gs, "PATCH", url, json, what)) < 0)
		goto done;
	if (cspf_http_response_status(resp) != 200)
		rc = gh_status_error(gs, resp, what);
done:
	cspf_http_response_free(resp);
	cJSON_Delete(o);
	free(marker);
	free(body);
	free(json);
	free(url);
	return rc;
}

struct list_ctx {
	const char *period;
	int (*cb)(const cspf_ticket_ref *ref, void *payload);
	void *payload;
	int rc;
};

static int list_cb(const cJSON *it, void *payload)
{
	struct list_ctx *lc = payload;
	cspf_ticket_ref r;

	/*
	 * Only issues whose marker says this period: one whose marker a
	 * person removed cannot say which ticket it is.
	 */
	if (issue_ref(&r, it) != 0 || strcmp(r.period, lc->period) != 0)
		return 0;
	if ((lc->rc = lc->cb(&r, lc->payload)) != 0)
		return lc->rc < 0 ? lc->rc : 1;
	return 0;
}

static int gh_list(void *state, const char *period,
	int (*cb)(const cspf_ticket_ref *ref, void *payload), void *payload)
{
	struct gh_sink *gs = state;
	struct list_ctx lc = { period, cb, payload, 0 };
	const char *slash = period ? strchr(period, '/') : NULL;
	char label[96], *url;
	int rc;

	if (!slash || slash == period || (size_t)(slash - period) > 40)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: \"%s\" is no period (START/DURATION)", gs->who,
			period ? period : "");
	snprintf(label, sizeof(label), "cspf-period-%.*s",
		(int)(slash - period), period);
	if (!(url = issues_url(gs, "cspf-digest", label)))
		return cspf_error_set_oom();
	rc = gh_each(gs, url, true, "list the issues of a period", list_cb,
		&lc);
	free(url);
	return rc < 0 ? rc : lc.rc < 0 ? lc.rc : 0;
}

struct comment_ctx {
	const char *url;
	const char *body;
	bool found;
};

static int comment_cb(const cJSON *it, void *payload)
{
	struct comment_ctx *cc = payload;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "body");

	if (cJSON_IsString(b) && !strcmp(b->valuestring, cc->body)) {
		cc->found = true;
		return 1;
	}
	return 0;
}

/* Whether the comment is there already: 0 yes, CSPF_ENOTFOUND no. */
static int comment_check(const struct gh_sink *gs, void *payload)
{
	struct comment_ctx *cc = payload;
	size_t n = strlen(cc->url) + 16;
	char *url = malloc(n);
	int rc;

	if (!url)
		return cspf_error_set_oom();
	snprintf(url, n, "%s?per_page=100", cc->url);
	cc->found = false;
	rc = gh_each(gs, url, false, "look for a comment", comment_cb, cc);
	free(url);
	return rc < 0 ? rc : cc->found ? 0 : CSPF_ENOTFOUND;
}

static int gh_comment(void *state, const cspf_ticket_ref *ref,
	const char *markdown, bool escalate)
{
	struct gh_sink *gs = state;
	cspf_http_response *resp = NULL;
	struct comment_ctx cc;
	cJSON *o = NULL;
	char *url = NULL, *json = NULL, what[96];
	size_t n;
	int rc;

	if ((rc = check_id(gs, ref->id)) < 0)
		return rc;
	n = strlen(gs->repo_url) + 64;
	if (!(url = malloc(n)) || !(o = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(o, "body", markdown ? markdown : "") ||
	    !(json = cJSON_PrintUnformatted(o))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	snprintf(url, n, "%s/issues/%s/comments", gs->repo_url, ref->id);
	snprintf(what, sizeof(what), "comment on issue #%s", ref->id);
	cc.url = url;
	cc.body = markdown ? markdown : "";
	cc.found = false;
	if (cc.body[0]) {
		rc = gh_post_once(&resp, gs, url, json, 201, what,
			comment_check, &cc);
		if (rc < 0)
			goto done;
		cspf_http_response_free(resp);
		resp = NULL;
	}
	if (!escalate)
		goto done;
	/* Labels are a set: adding one again changes nothing. */
	snprintf(url, n, "%s/issues/%s/labels", gs->repo_url, ref->id);
	snprintf(what, sizeof(what), "escalate issue #%s", ref->id);
	free(json);
	json = strdup("{\"labels\":[\"" GH_LABEL_ESCALATED "\"]}");
	if (!json) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = gh_call(&resp, gs, "POST", url, json, what)) < 0)
		goto done;
	rc = cspf_http_response_status(resp) == 200 ? 0 :
		gh_status_error(gs, resp, what);
done:
	cspf_http_response_free(resp);
	cJSON_Delete(o);
	free(json);
	free(url);
	return rc < 0 ? rc : 0;
}

const cspf_sink_ops cspf_sink_github = {
	.type = "github",
	.open = gh_open,
	.find = gh_find,
	.create = gh_create,
	.update = gh_update,
	.list = gh_list,
	.comment = gh_comment,
	.close = gh_close,
};
