/*
 * sink_jira.c - the "jira" ticket sink: review tickets as Jira issues,
 * through the Jira REST API version 2 (Jira Cloud, Server, Data Center).
 *
 *   find     POST /rest/api/2/search {jql: labels = "cspf-key-H"}: the key
 *            label is unique, so the search runs across projects (a team's
 *            queue may differ from the default project).
 *   create   POST /rest/api/2/issue {fields: {project, issuetype "Task",
 *            summary, description, labels, duedate, assignee}}, then the
 *            CSV: POST /rest/api/2/issue/KEY/attachments (multipart,
 *            field "file", X-Atlassian-Token: no-check).
 *   update   PUT /rest/api/2/issue/KEY {fields: {summary, description}};
 *            the CSV is uploaded again and the older copies deleted.
 *   list     POST /rest/api/2/search {jql: labels = "cspf-digest" AND
 *            labels = "cspf-period-P"}, page by page (startAt, total).
 *   comment  POST /rest/api/2/issue/KEY/comment {body}; to escalate,
 *            PUT /rest/api/2/issue/KEY {update: {labels: [{add:
 *            "cspf-escalated"}]}}.
 *
 * Auth: with cfg->user, HTTP Basic of "user:token" (a Jira Cloud API
 * token), built in guarded memory; without, the token as a Bearer
 * personal access token (Server, Data Center).  The token only travels
 * as a secret header.
 *
 * Calls that are not idempotent (create, the upload, a comment) go out
 * once per try: when one fails in a way that may have taken effect (no
 * answer, a 5xx), the sink looks for what it would have made before it
 * tries again, so that no ticket, attachment or comment is doubled.
 * Throttling (429 with Retry-After) is waited out.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/http.h"
#include "cspf/time.h"
#include "digest/digest_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/map.h"
#include "util/secret.h"
#include "util/banned.h"

#define JIRA_API "/rest/api/2/"
#define JIRA_ATTEMPTS 4          /* tries of a create when none is set */
#define JIRA_PAGE 100            /* issues asked per search page */
#define JIRA_SUMMARY_MAX 255     /* Jira's limits, in UTF-16 units */
#define JIRA_TEXT_MAX 32767
#define JIRA_BACKOFF_MS 500      /* first wait before a look and retry */
#define JIRA_RETRY_AFTER_MAX 30  /* seconds of Retry-After honoured */
#define JIRA_WORDS_MAX 300       /* bytes of the server's words quoted */

struct jira {
	cspf_http_client *http;
	char *site;     /* no trailing '/' */
	char *project;  /* the default project key */
	char *name;     /* for messages: the ticket_sinks entry or the site */
	cspf_secret *auth; /* base64(user:token), or the bearer token */
	bool basic;
	unsigned int tries;      /* create, upload, comment */
	unsigned int attempts;   /* of each idempotent request (0: client's) */
};

/* What the last failed call left, for the message of a give-up. */
struct outcome {
	int status;          /* 0: no answer */
	char words[JIRA_WORDS_MAX + 64];
};

/*
 * Small helpers.
 */

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* The wait before try `n` (1 for the first retry): jittered, doubling. */
static uint64_t backoff_ms(unsigned int n)
{
	uint64_t cap = JIRA_BACKOFF_MS;

	while (--n > 0 && cap < 8000)
		cap *= 2;
	return cap / 2 + randombytes_uniform((uint32_t)(cap / 2) + 1);
}

/* Retry-After in seconds (capped), else the backoff of try `n`. */
static uint64_t throttle_ms(const cspf_http_response *resp, unsigned int n)
{
	const char *ra = cspf_http_response_header(resp, "Retry-After");
	char *end;
	unsigned long s;

	if (ra && *ra >= '0' && *ra <= '9') {
		s = strtoul(ra, &end, 10);
		if (*end == '\0')
			return (s > JIRA_RETRY_AFTER_MAX ?
				JIRA_RETRY_AFTER_MAX : s) * 1000;
	}
	return backoff_ms(n);
}

/* Length of `s` in UTF-16 units, as Jira counts its limits. */
static size_t utf16_units(const char *s, size_t n)
{
	size_t i, u = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80)
			u += c >= 0xf0 ? 2 : 1;
	}
	return u;
}

/* The longest prefix of `s` of at most `max` UTF-16 units, in bytes. */
static size_t utf16_prefix(const char *s, size_t n, size_t max)
{
	size_t i, u = 0, w;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) == 0x80)
			continue;
		w = c >= 0xf0 ? 2 : 1;
		if (u + w > max)
			return i;
		u += w;
	}
	return n;
}

/* Copy at most size-1 bytes of `s` to dst. */
static void copy_str(char *dst, size_t size, const char *s)
{
	cspf_strlcpy(dst, s ? s : "", size);
}

/* `s` quoted as a JQL string (with the quotes). */
static void put_jql_string(cspf_buf *b, const char *s)
{
	cspf_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			cspf_buf_putc(b, '\\');
		cspf_buf_putc(b, *s);
	}
	cspf_buf_putc(b, '"');
}

static const char *project_of(const struct jira *j, const cspf_ticket *t)
{
	return t->queue && *t->queue ? t->queue : j->project;
}

/* The date part of a period ("2026-11-02/P14D" → "2026-11-02"). */
static void period_label(char *out, size_t size, const char *period)
{
	const char *slash = strchr(period, '/');
	size_t n = slash ? (size_t)(slash - period) : strlen(period);

	if (n >= size)
		n = size - 1;
	memcpy(out, period, n);
	out[n] = '\0';
}

/*
 * Errors.
 */

/* The API's own words: errorMessages and errors, printable and short. */
static void server_words(char *out, size_t size, const cspf_http_response *resp)
{
	cspf_buf b = CSPF_BUF_INIT;
	const char *body;
	size_t len, i, n;
	cJSON *root = NULL;
	const cJSON *e;

	out[0] = '\0';
	body = resp ? cspf_http_response_body(resp, &len) : NULL;
	if (body && len)
		root = cJSON_ParseWithLength(body, len);
	if (cJSON_IsObject(root)) {
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root,
			"errorMessages"))
			if (cJSON_IsString(e) && *e->valuestring)
				cspf_buf_printf(&b, "%s%s", b.size ? "; " : "",
					e->valuestring);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root,
			"errors"))
			if (cJSON_IsString(e) && e->string)
				cspf_buf_printf(&b, "%s%s: %s",
					b.size ? "; " : "", e->string,
					e->valuestring);
	}
	cJSON_Delete(root);
	if (cspf_buf_oom(&b) || !b.size) {
		cspf_buf_dispose(&b);
		return;
	}
	n = utf16_prefix(b.ptr, b.size, JIRA_WORDS_MAX);
	copy_str(out, size, ": ");
	for (i = 0; i < n && i + 3 < size; i++) {
		unsigned char c = (unsigned char)b.ptr[i];

		out[i + 2] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[i + 2 < size ? i + 2 : size - 1] = '\0';
	if (n < b.size)
		copy_str(out + strlen(out), size - strlen(out), "...");
	cspf_buf_dispose(&b);
}

/*
 * The error for an answer with status `status` to `what` ("create the
 * ticket of KEY in project SEC").  `project` is the project the call was
 * about, or NULL.
 */
static int status_error(const struct jira *j, const cspf_http_response *resp,
	const char *what, const char *project)
{
	char words[JIRA_WORDS_MAX + 64];
	int status = cspf_http_response_status(resp);
	unsigned int n = cspf_http_response_attempts(resp);

	server_words(words, sizeof(words), resp);
	if (status == 401)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: authentication refused (HTTP 401%s): "
			"check JIRA_API_TOKEN%s", j->name, what, words,
			j->basic ? " and JIRA_USER (the account the API token "
			"belongs to)" : " (sent as a bearer personal access "
			"token; a Jira Cloud API token needs JIRA_USER too)");
	if (status == 403)
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: permission denied (HTTP 403%s): check "
			"that the account of JIRA_API_TOKEN may browse, create "
			"and edit issues%s%s", j->name, what, words,
			project ? " in project " : "", project ? project : "");
	if (status == 404)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: not found (HTTP 404%s): check the site "
			"URL %s%s%s", j->name, what, words, j->site,
			project ? " and the project key " : "",
			project ? project : "");
	if (status == 400)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: refused (HTTP 400%s): check the project "
			"key%s%s, that it has the issue type Task and that no "
			"other field is required on its create screen",
			j->name, what, words, project ? " " : "",
			project ? project : "");
	if (status == 429 || status >= 500)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: the server answered HTTP %d%s after %u "
			"attempt%s: try again later", j->name, what, status,
			words, n, n == 1 ? "" : "s");
	return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
		"jira %s: %s: unexpected HTTP %d%s", j->name, what, status,
		words);
}

/* A call that got no answer: the HTTP layer's words, with ours. */
static int transport_error(const struct jira *j, int rc, const char *what)
{
	const cspf_error *e = cspf_error_last();
	char *deep = strdup(e && e->message ? e->message : "no answer");

	rc = cspf_error_set(rc < 0 ? rc : CSPF_ERROR, CSPF_ERRCLASS_OS,
		"jira %s: %s: %s: is the site %s up?", j->name, what,
		deep ? deep : "no answer", j->site);
	free(deep);
	return rc;
}

static void outcome_set(struct outcome *o, const cspf_http_response *resp)
{
	const cspf_error *e;

	o->status = resp ? cspf_http_response_status(resp) : 0;
	if (resp) {
		server_words(o->words, sizeof(o->words), resp);
	} else {
		e = cspf_error_last();
		o->words[0] = '\0';
		if (e && e->message) {
			copy_str(o->words, sizeof(o->words), ": ");
			copy_str(o->words + 2, sizeof(o->words) - 2,
				e->message);
		}
	}
}

/*
 * Requests.
 */

/* SITE/rest/api/2/ + path (NULL on no memory). */
static char *api_url(const struct jira *j, const char *fmt, const char *arg)
{
	cspf_buf b = CSPF_BUF_INIT;
	char *enc = NULL;

	if (arg && !(enc = cspf_http_urlencode(arg, strlen(arg))))
		return NULL;
	cspf_buf_printf(&b, "%s" JIRA_API, j->site);
	cspf_buf_printf(&b, fmt, enc ? enc : "");
	free(enc);
	return cspf_buf_detach(&b);
}

/*
 * One blocking call.  `body` (a NUL-terminated JSON text, or NULL; `len`
 * for other bodies) with `ctype`.  `attempts` 1 for a call that must not
 * be repeated blindly, 0 for the sink's default.  *out is the response
 * whatever its status; negative (raised by the HTTP layer) only when no
 * answer came.
 */
static int call(cspf_http_response **out, const struct jira *j,
	const char *method, const char *url, const char *action,
	const char *body, size_t len, const char *ctype,
	unsigned int attempts)
{
	cspf_http_request *req = NULL;
	int rc;

	*out = NULL;
	if ((rc = cspf_http_request_new(&req, method, url)) < 0 ||
	    (rc = cspf_http_request_set_header(req, "Accept",
		"application/json")) < 0 ||
	    (rc = cspf_http_request_set_action(req, action)) < 0 ||
	    (rc = cspf_http_request_set_header_secret(req, "Authorization",
		j->basic ? "Basic " : "Bearer ", j->auth)) < 0)
		goto done;
	if (body && (rc = cspf_http_request_set_header(req, "Content-Type",
		ctype ? ctype : "application/json")) < 0)
		goto done;
	if (body && (rc = cspf_http_request_set_body(req, body,
		ctype ? len : strlen(body))) < 0)
		goto done;
	if (ctype && strncmp(ctype, "multipart/", 10) == 0 &&
	    (rc = cspf_http_request_set_header(req, "X-Atlassian-Token",
		"no-check")) < 0)
		goto done;
	cspf_http_request_set_max_attempts(req, attempts ? attempts :
		j->attempts);
	rc = cspf_http_perform(out, j->http, req);
done:
	cspf_http_request_free(req);
	return rc;
}

/* The JSON of a response (NULL when it is none). */
static cJSON *parse_body(const cspf_http_response *resp)
{
	const char *body;
	size_t len;

	body = cspf_http_response_body(resp, &len);
	return body && len ? cJSON_ParseWithLength(body, len) : NULL;
}

/* Did an answer say the call may or may not have been done? */
static bool ambiguous(int status)
{
	return status == 0 || status >= 500 || status == 408;
}

/*
 * Tickets from issues.
 */

static const cJSON *field(const cJSON *issue, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(issue, "fields"), name);
}

static bool has_label(const cJSON *issue, const char *label)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, field(issue, "labels"))
		if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0)
			return true;
	return false;
}

/*
 * Fill `ref` from an issue of a search.  Returns 0 when its description
 * has a marker, CSPF_ENOTFOUND when not (ref has the issue's own facts
 * then), CSPF_EINVALID when the issue has no key.
 */
static int issue_ref(const struct jira *j, const cJSON *issue,
	cspf_ticket_ref *ref)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(issue, "key");
	const cJSON *desc = field(issue, "description");
	const cJSON *cat = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(field(issue, "status"),
			"statusCategory"), "key");

	memset(ref, 0, sizeof(*ref));
	if (!cJSON_IsString(key) || !*key->valuestring ||
	    strlen(key->valuestring) >= sizeof(ref->id))
		return CSPF_EINVALID;
	copy_str(ref->id, sizeof(ref->id), key->valuestring);
	snprintf(ref->url, sizeof(ref->url), "%s/browse/%s", j->site,
		ref->id);
	ref->open = !(cJSON_IsString(cat) &&
		strcmp(cat->valuestring, "done") == 0);
	ref->escalated = has_label(issue, "cspf-escalated");
	if (!cJSON_IsString(desc))
		return CSPF_ENOTFOUND;
	return cspf_ticket_marker_parse(ref, desc->valuestring,
		strlen(desc->valuestring));
}

/* The marker's fields of `ref` from the ticket itself. */
static void ref_from_ticket(cspf_ticket_ref *ref, const cspf_ticket *t)
{
	copy_str(ref->key, sizeof(ref->key), t->key);
	copy_str(ref->kind, sizeof(ref->kind), cspf_report_kind_name(t->kind));
	copy_str(ref->recipient, sizeof(ref->recipient), t->recipient);
	copy_str(ref->team, sizeof(ref->team), t->team);
	copy_str(ref->period, sizeof(ref->period), t->period);
	ref->created = t->created;
	ref->due = t->due;
}

/*
 * One page of a JQL search: *out the answer's JSON (the caller's).
 */
static int search(cJSON **out, const struct jira *j, const char *jql,
	long start, const char *what)
{
	static const char *const fields[] = {
		"summary", "description", "status", "labels",
	};
	cspf_http_response *resp = NULL;
	cJSON *q = cJSON_CreateObject(), *root = NULL;
	char *url = api_url(j, "search", NULL), *text = NULL;
	int rc;

	*out = NULL;
	if (!q || !url || !cJSON_AddStringToObject(q, "jql", jql) ||
	    !cJSON_AddNumberToObject(q, "startAt", (double)start) ||
	    !cJSON_AddNumberToObject(q, "maxResults", JIRA_PAGE) ||
	    !cJSON_AddItemToObject(q, "fields",
		cJSON_CreateStringArray(fields, 4)) ||
	    !(text = cJSON_PrintUnformatted(q))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	/* A search changes nothing: retried as the client retries. */
	if ((rc = call(&resp, j, "POST", url, "jira:search", text, 0, NULL,
		0)) < 0) {
		rc = transport_error(j, rc, what);
		goto done;
	}
	if (cspf_http_response_status(resp) != 200) {
		rc = status_error(j, resp, what, NULL);
		goto done;
	}
	root = parse_body(resp);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "issues"))) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_JSON,
			"jira %s: %s: the answer (HTTP 200) has no \"issues\" "
			"array: is %s a Jira site?", j->name, what, j->site);
		goto done;
	}
	*out = root;
	root = NULL;
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cJSON_free(text);
	cJSON_Delete(q);
	free(url);
	return rc;
}

static int jira_find(void *state, const cspf_ticket *t, cspf_ticket_ref *ref)
{
	const struct jira *j = state;
	cspf_buf jql = CSPF_BUF_INIT, what = CSPF_BUF_INIT;
	cspf_ticket_ref r;
	cJSON *root = NULL;
	const cJSON *issue;
	bool unmarked = false;
	int rc;

	cspf_buf_puts(&jql, "labels = ");
	cspf_buf_puts(&jql, "\"cspf-key-");
	cspf_buf_puts(&jql, t->key_hash);
	cspf_buf_puts(&jql, "\" ORDER BY created ASC");
	cspf_buf_printf(&what, "find the ticket of %s", t->key);
	if (cspf_buf_oom(&jql) || cspf_buf_oom(&what)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = search(&root, j, jql.ptr, 0, what.ptr)) < 0)
		goto done;
	rc = CSPF_ENOTFOUND;
	/*
	 * The oldest issue with the key label whose marker has the key; one
	 * whose marker a person removed is still the ticket when no issue
	 * has the marker.
	 */
	cJSON_ArrayForEach(issue, cJSON_GetObjectItemCaseSensitive(root,
		"issues")) {
		int m = issue_ref(j, issue, &r);

		if (m == 0 && strcmp(r.key, t->key) == 0) {
			*ref = r;
			rc = 0;
			break;
		}
		if (m == CSPF_ENOTFOUND && !unmarked) {
			ref_from_ticket(&r, t);
			*ref = r;
			unmarked = true;
		}
	}
	if (rc == CSPF_ENOTFOUND && unmarked)
		rc = 0;
	if (rc == CSPF_ENOTFOUND)
		cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_NONE,
			"jira %s: no ticket of %s (label cspf-key-%s)",
			j->name, t->key, t->key_hash);
done:
	cJSON_Delete(root);
	cspf_buf_dispose(&jql);
	cspf_buf_dispose(&what);
	return rc;
}

/*
 * Attachments.
 */

/* "<kind>-<period_label>.csv", safe inside a quoted header parameter. */
static void csv_name(char *out, size_t size, const cspf_ticket *t)
{
	char *p;

	snprintf(out, size, "%s-%s.csv", cspf_report_kind_name(t->kind),
		t->period_label ? t->period_label : "period");
	for (p = out; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '/' ||
		    (unsigned char)*p < 0x20)
			*p = '_';
}

/*
 * The ids of the attachments named `name` of issue `key` into `ids`
 * (values 1), skipping those already in `skip` (NULL: none).  *found
 * counts the new ones.
 */
static int list_attachments(cspf_map *ids, size_t *found,
	const struct jira *j, const char *key, const char *name,
	const cspf_map *skip)
{
	cspf_http_response *resp = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	char *url = api_url(j, "issue/%s?fields=attachment", key);
	cJSON *root = NULL;
	const cJSON *a, *fn, *id;
	int rc;

	*found = 0;
	cspf_buf_printf(&what, "list the attachments of %s", key);
	if (!url || cspf_buf_oom(&what)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = call(&resp, j, "GET", url, "jira:attachments", NULL, 0,
		NULL, 0)) < 0) {
		rc = transport_error(j, rc, what.ptr);
		goto done;
	}
	if (cspf_http_response_status(resp) != 200) {
		rc = status_error(j, resp, what.ptr, NULL);
		goto done;
	}
	root = parse_body(resp);
	cJSON_ArrayForEach(a, field(root, "attachment")) {
		fn = cJSON_GetObjectItemCaseSensitive(a, "filename");
		id = cJSON_GetObjectItemCaseSensitive(a, "id");
		if (!cJSON_IsString(fn) || strcmp(fn->valuestring, name) ||
		    !cJSON_IsString(id) ||
		    (skip && cspf_map_gets(skip, id->valuestring)))
			continue;
		if (cspf_map_puts(ids, id->valuestring, (void *)1) < 0) {
			rc = cspf_error_set_oom();
			goto done;
		}
		(*found)++;
	}
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	cspf_buf_dispose(&what);
	free(url);
	return rc;
}

/* The multipart/form-data body of one "file" part; *ctype malloc'd. */
static int multipart(cspf_buf *body, char **ctype, const char *name,
	const char *data, size_t len)
{
	unsigned char rnd[16];
	char boundary[2 * sizeof(rnd) + 16];
	cspf_buf ct = CSPF_BUF_INIT;

	/* A boundary that the data does not contain. */
	do {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(boundary, "cspf-", 5);
		sodium_bin2hex(boundary + 5, sizeof(boundary) - 5, rnd,
			sizeof(rnd));
	} while (len && memmem(data, len, boundary, strlen(boundary)));
	cspf_buf_printf(body, "--%s\r\nContent-Disposition: form-data; "
		"name=\"file\"; filename=\"%s\"\r\nContent-Type: "
		"text/csv; charset=utf-8\r\n\r\n", boundary, name);
	cspf_buf_put(body, data, len);
	cspf_buf_printf(body, "\r\n--%s--\r\n", boundary);
	cspf_buf_printf(&ct, "multipart/form-data; boundary=%s", boundary);
	if (cspf_buf_oom(body) || cspf_buf_oom(&ct)) {
		cspf_buf_dispose(&ct);
		return cspf_error_set_oom();
	}
	*ctype = cspf_buf_detach(&ct);
	return 0;
}

/*
 * Attach the ticket's CSV to issue `key`; with `replace`, delete the
 * older attachments of the same name once the new one is there.  The
 * upload goes out once per try: after one that may have been done, the
 * issue's attachments show whether it was.
 */
static int attach(const struct jira *j, const char *key, const cspf_ticket *t,
	bool replace)
{
	cspf_map old = CSPF_MAP_STRINGS_INIT, fresh = CSPF_MAP_STRINGS_INIT;
	cspf_buf body = CSPF_BUF_INIT, what = CSPF_BUF_INIT;
	cspf_http_response *resp = NULL;
	struct outcome last = { 0 };
	const cspf_map_entry *e;
	char name[160], *ctype = NULL, *url = NULL;
	unsigned int n;
	size_t found;
	int rc, status;

	csv_name(name, sizeof(name), t);
	cspf_buf_printf(&what, "attach %s to %s", name, key);
	url = api_url(j, "issue/%s/attachments", key);
	if (!url || cspf_buf_oom(&what)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = multipart(&body, &ctype, name, t->csv ? t->csv : "",
		t->csv ? t->csv_len : 0)) < 0)
		goto done;
	if (replace && (rc = list_attachments(&old, &found, j, key, name,
		NULL)) < 0)
		goto done;
	for (n = 1;; n++) {
		cspf_http_response_free(resp);
		rc = call(&resp, j, "POST", url, "jira:attach", body.ptr,
			body.size, ctype, 1);
		status = rc < 0 ? 0 : cspf_http_response_status(resp);
		if (status == 200 || status == 201)
			break;
		if (rc >= 0 && status != 429 && !ambiguous(status)) {
			rc = status_error(j, resp, what.ptr, NULL);
			goto done;
		}
		outcome_set(&last, rc < 0 ? NULL : resp);
		if (n >= j->tries)
			break;
		if (status == 429) {
			sleep_ms(throttle_ms(resp, n));
			continue;
		}
		sleep_ms(backoff_ms(n));
		if ((rc = list_attachments(&fresh, &found, j, key, name,
			&old)) < 0)
			goto done;
		if (found) {
			status = 200;
			break;
		}
	}
	if (status != 200 && status != 201) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: no success after %u tries (last: %s%d%s):"
			" try again later (a re-run replaces the attachment)",
			j->name, what.ptr, n, last.status ? "HTTP " :
			"no answer, ", last.status, last.words);
		goto done;
	}
	rc = 0;
	/* The older copies go once the new one is there. */
	cspf_map_foreach(&old, e) {
		char *durl = api_url(j, "attachment/%s", e->key);
		cspf_http_response *dr = NULL;

		if (!durl) {
			rc = cspf_error_set_oom();
			goto done;
		}
		rc = call(&dr, j, "DELETE", durl, "jira:detach", NULL, 0, NULL,
			0);
		free(durl);
		if (rc < 0) {
			rc = transport_error(j, rc, what.ptr);
			goto done;
		}
		status = cspf_http_response_status(dr);
		if (status != 204 && status != 200 && status != 404) {
			rc = status_error(j, dr, what.ptr, NULL);
			cspf_http_response_free(dr);
			goto done;
		}
		cspf_http_response_free(dr);
	}
done:
	cspf_http_response_free(resp);
	cspf_map_dispose(&old);
	cspf_map_dispose(&fresh);
	cspf_buf_dispose(&body);
	cspf_buf_dispose(&what);
	free(ctype);
	free(url);
	return rc;
}

/*
 * Texts as Jira takes them.
 */

/* One line of at most 255 UTF-16 units. */
static char *summary_of(const char *title)
{
	size_t n = title ? strlen(title) : 0, i;
	char *s;

	n = utf16_prefix(title ? title : "", n, JIRA_SUMMARY_MAX);
	if (!(s = malloc(n + 1)))
		return NULL;
	for (i = 0; i < n; i++)
		s[i] = (unsigned char)title[i] < 0x20 ? ' ' : title[i];
	s[n] = '\0';
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	if (!n) {
		free(s);
		return strdup("cspf review");
	}
	return s;
}

/*
 * The body as the description: cut to Jira's limit when longer, the
 * marker appended again after the cut so that it is never lost.
 */
static char *description_of(const cspf_ticket *t)
{
	static const char cut[] = "\n\n(cut here: Jira keeps 32767 "
		"characters; the complete list is in the attached CSV)\n";
	const char *body = t->body ? t->body : "";
	size_t n = strlen(body), room;
	cspf_buf b = CSPF_BUF_INIT;
	char *marker;

	if (utf16_units(body, n) <= JIRA_TEXT_MAX)
		return strdup(body);
	if (!(marker = cspf_ticket_marker_format(t)))
		return NULL;
	room = JIRA_TEXT_MAX - (sizeof(cut) - 1) - 1 -
		utf16_units(marker, strlen(marker));
	cspf_buf_put(&b, body, utf16_prefix(body, n, room));
	cspf_buf_puts(&b, cut);
	cspf_buf_puts(&b, marker);
	cspf_buf_putc(&b, '\n');
	free(marker);
	return cspf_buf_detach(&b);
}

/* The create request's JSON text (cJSON_free), or NULL. */
static char *create_body(const struct jira *j, const cspf_ticket *t,
	bool assignee)
{
	cJSON *root = cJSON_CreateObject(), *f, *o, *labels;
	char *summary = summary_of(t->title), *desc = description_of(t);
	char label[300], due[CSPF_TIME_BUFSIZE], *text = NULL;
	bool ok;

	f = cJSON_AddObjectToObject(root, "fields");
	o = cJSON_AddObjectToObject(f, "project");
	ok = o && summary && desc &&
		cJSON_AddStringToObject(o, "key", project_of(j, t));
	o = cJSON_AddObjectToObject(f, "issuetype");
	ok = ok && o && cJSON_AddStringToObject(o, "name", "Task") &&
		cJSON_AddStringToObject(f, "summary", summary) &&
		cJSON_AddStringToObject(f, "description", desc);
	labels = cJSON_AddArrayToObject(f, "labels");
	ok = ok && labels;
	if (ok) {
		const char *const fixed[] = {
			"cspf-digest", NULL, NULL, NULL,
		};
		char period[64], kind[64], key[64];
		size_t i;

		snprintf(period, sizeof(period), "cspf-period-%s",
			t->period_label);
		snprintf(kind, sizeof(kind), "cspf-%s",
			cspf_report_kind_name(t->kind));
		snprintf(key, sizeof(key), "cspf-key-%s", t->key_hash);
		for (i = 0; i < 4; i++) {
			copy_str(label, sizeof(label), i == 0 ? fixed[0] :
				i == 1 ? period : i == 2 ? kind : key);
			ok = ok && cJSON_AddItemToArray(labels,
				cJSON_CreateString(label));
		}
	}
	cspf_time_format(due, t->due);
	due[10] = '\0';
	ok = ok && cJSON_AddStringToObject(f, "duedate", due);
	if (ok && assignee && t->assignee_count && t->assignees[0] &&
	    *t->assignees[0]) {
		o = cJSON_AddObjectToObject(f, "assignee");
		ok = o && cJSON_AddStringToObject(o, "name", t->assignees[0]);
	}
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(summary);
	free(desc);
	return text;
}

/* A 400 that names the assignee: the user cannot be assigned issues. */
static bool assignee_refused(const cspf_http_response *resp)
{
	cJSON *root;
	bool yes;

	if (cspf_http_response_status(resp) != 400)
		return false;
	root = parse_body(resp);
	yes = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "errors"),
		"assignee") != NULL;
	cJSON_Delete(root);
	return yes;
}

static int jira_create(void *state, const cspf_ticket *t, cspf_ticket_ref *ref)
{
	const struct jira *j = state;
	const char *project = project_of(j, t);
	cspf_http_response *resp = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	struct outcome last = { 0 };
	char *url = api_url(j, "issue", NULL), *text = NULL;
	cJSON *root = NULL;
	const cJSON *key = NULL;
	bool with_assignee = true, created = false, found = false;
	unsigned int n;
	int rc, status;

	memset(ref, 0, sizeof(*ref));
	cspf_buf_printf(&what, "create the ticket of %s in project %s", t->key,
		project);
	if (!url || cspf_buf_oom(&what) ||
	    !(text = create_body(j, t, with_assignee))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	for (n = 1;; n++) {
		cspf_http_response_free(resp);
		cJSON_Delete(root);
		root = NULL;
		rc = call(&resp, j, "POST", url, "jira:create", text, 0, NULL,
			1);
		status = rc < 0 ? 0 : cspf_http_response_status(resp);
		if (status == 201 || status == 200) {
			root = parse_body(resp);
			key = cJSON_GetObjectItemCaseSensitive(root, "key");
			if (cJSON_IsString(key) && *key->valuestring &&
			    strlen(key->valuestring) < sizeof(ref->id)) {
				created = true;
				break;
			}
			/* Done, but the answer does not say which. */
			status = 0;
		} else if (rc >= 0 && with_assignee &&
			   assignee_refused(resp)) {
			/* Unassigned rather than no ticket; nothing was
			 * made, so this is no try. */
			with_assignee = false;
			cJSON_free(text);
			if (!(text = create_body(j, t, false))) {
				rc = cspf_error_set_oom();
				goto done;
			}
			n--;
			continue;
		} else if (rc >= 0 && status != 429 && !ambiguous(status)) {
			rc = status_error(j, resp, what.ptr, project);
			goto done;
		}
		outcome_set(&last, status == 0 && rc < 0 ? NULL : resp);
		if (status == 429) {
			if (n >= j->tries)
				break;
			sleep_ms(throttle_ms(resp, n));
			continue;
		}
		/*
		 * It may have been made: look before trying again (after a
		 * pause, as Jira's search index follows a create closely but
		 * not at once).
		 */
		sleep_ms(backoff_ms(n));
		rc = jira_find(state, t, ref);
		if (rc == 0) {
			found = true;
			break;
		}
		if (rc != CSPF_ENOTFOUND) {
			char *deep = strdup(cspf_error_last()->message);

			rc = cspf_error_set(rc, CSPF_ERRCLASS_INVALID,
				"jira %s: %s: no answer to the create (%s%d%s)"
				" and no search to tell whether it was made "
				"(%s): run again later; the ticket is found by "
				"its key then", j->name, what.ptr,
				last.status ? "HTTP " : "status ", last.status,
				last.words, deep ? deep : "out of memory");
			free(deep);
			goto done;
		}
		if (n >= j->tries)
			break;
	}
	if (!created && !found) {
		rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"jira %s: %s: no success after %u tries (last: %s%d%s),"
			" and no ticket has its key label: try again later",
			j->name, what.ptr, n, last.status ? "HTTP " :
			"no answer, status ", last.status, last.words);
		goto done;
	}
	if (created) {
		copy_str(ref->id, sizeof(ref->id), key->valuestring);
		snprintf(ref->url, sizeof(ref->url), "%s/browse/%s", j->site,
			ref->id);
		ref->open = true;
		ref_from_ticket(ref, t);
	}
	/* A ticket found after a lost answer may lack its CSV. */
	rc = attach(j, ref->id, t, found);
done:
	cspf_http_response_free(resp);
	cJSON_Delete(root);
	cJSON_free(text);
	cspf_buf_dispose(&what);
	free(url);
	return rc;
}

static int jira_update(void *state, const cspf_ticket_ref *ref,
	const cspf_ticket *t)
{
	const struct jira *j = state;
	cspf_http_response *resp = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	cJSON *root = cJSON_CreateObject(), *f;
	char *url = api_url(j, "issue/%s", ref->id), *text = NULL;
	char *summary = summary_of(t->title), *desc = description_of(t);
	int rc, status;

	cspf_buf_printf(&what, "update %s (ticket of %s)", ref->id, t->key);
	f = cJSON_AddObjectToObject(root, "fields");
	if (!url || !summary || !desc || cspf_buf_oom(&what) || !f ||
	    !cJSON_AddStringToObject(f, "summary", summary) ||
	    !cJSON_AddStringToObject(f, "description", desc) ||
	    !(text = cJSON_PrintUnformatted(root))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	/* Setting fields to values is idempotent: retried as usual. */
	if ((rc = call(&resp, j, "PUT", url, "jira:update", text, 0, NULL,
		0)) < 0) {
		rc = transport_error(j, rc, what.ptr);
		goto done;
	}
	status = cspf_http_response_status(resp);
	if (status != 204 && status != 200) {
		rc = status_error(j, resp, what.ptr, NULL);
		goto done;
	}
	rc = attach(j, ref->id, t, true);
done:
	cspf_http_response_free(resp);
	cJSON_Delete(root);
	cJSON_free(text);
	cspf_buf_dispose(&what);
	free(summary);
	free(desc);
	free(url);
	return rc;
}

static int jira_list(void *state, const char *period,
	int (*cb)(const cspf_ticket_ref *ref, void *payload), void *payload)
{
	const struct jira *j = state;
	cspf_map seen = CSPF_MAP_STRINGS_INIT;
	cspf_buf jql = CSPF_BUF_INIT, what = CSPF_BUF_INIT;
	cspf_buf label = CSPF_BUF_INIT;
	cspf_ticket_ref ref;
	cJSON *root = NULL;
	const cJSON *issue, *total;
	char plabel[64];
	long start = 0;
	size_t fresh, got;
	int rc = 0;

	period_label(plabel, sizeof(plabel), period);
	cspf_buf_printf(&label, "cspf-period-%s", plabel);
	cspf_buf_puts(&jql, "labels = \"cspf-digest\" AND labels = ");
	put_jql_string(&jql, label.ptr);
	cspf_buf_puts(&jql, " ORDER BY created ASC");
	cspf_buf_printf(&what, "list the tickets of %s", period);
	if (cspf_buf_oom(&jql) || cspf_buf_oom(&what) ||
	    cspf_buf_oom(&label)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	for (;;) {
		cJSON_Delete(root);
		if ((rc = search(&root, j, jql.ptr, start, what.ptr)) < 0)
			goto done;
		fresh = got = 0;
		cJSON_ArrayForEach(issue, cJSON_GetObjectItemCaseSensitive(
			root, "issues")) {
			got++;
			if (issue_ref(j, issue, &ref) < 0)
				continue; /* no marker: not one we can name */
			if (cspf_map_gets(&seen, ref.id))
				continue;
			if (cspf_map_puts(&seen, ref.id, (void *)1) < 0) {
				rc = cspf_error_set_oom();
				goto done;
			}
			fresh++;
			/* The label has the start day; the marker the
			 * length too (a P7D and a P14D may share a day). */
			if (strcmp(ref.period, period) != 0)
				continue;
			if ((rc = cb(&ref, payload)) != 0)
				goto done;
		}
		total = cJSON_GetObjectItemCaseSensitive(root, "total");
		start += (long)got;
		/* The end: an empty page, the total reached, or a page of
		 * nothing new (a server that ignores startAt). */
		if (!got || (cJSON_IsNumber(total) &&
			start >= (long)total->valuedouble) ||
		    (!fresh && got))
			break;
	}
done:
	cJSON_Delete(root);
	cspf_map_dispose(&seen);
	cspf_buf_dispose(&jql);
	cspf_buf_dispose(&what);
	cspf_buf_dispose(&label);
	return rc;
}

/* Has issue `id` a comment whose body is `text`? */
static int has_comment(bool *out, const struct jira *j, const char *id,
	const char *text, const char *what)
{
	cspf_http_response *resp = NULL;
	char *url = api_url(j, "issue/%s/comment?orderBy=-created&"
		"maxResults=100", id);
	cJSON *root = NULL;
	const cJSON *c, *body;
	int rc;

	*out = false;
	if (!url)
		return cspf_error_set_oom();
	if ((rc = call(&resp, j, "GET", url, "jira:comments", NULL, 0, NULL,
		0)) < 0) {
		rc = transport_error(j, rc, what);
		goto done;
	}
	if (cspf_http_response_status(resp) != 200) {
		rc = status_error(j, resp, what, NULL);
		goto done;
	}
	root = parse_body(resp);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root,
		"comments")) {
		body = cJSON_GetObjectItemCaseSensitive(c, "body");
		if (cJSON_IsString(body) &&
		    strcmp(body->valuestring, text) == 0)
			*out = true;
	}
done:
	cJSON_Delete(root);
	cspf_http_response_free(resp);
	free(url);
	return rc;
}

static int jira_comment(void *state, const cspf_ticket_ref *ref,
	const char *markdown, bool escalate)
{
	const struct jira *j = state;
	cspf_http_response *resp = NULL;
	cspf_buf what = CSPF_BUF_INIT;
	struct outcome last = { 0 };
	cJSON *root = cJSON_CreateObject(), *o, *labels, *add;
	char *url = api_url(j, "issue/%s/comment", ref->id), *text = NULL;
	char *body = NULL, *eurl = NULL;
	size_t n = markdown ? strlen(markdown) : 0;
	unsigned int i;
	bool done = false;
	int rc, status;

	cspf_buf_printf(&what, "comment on %s", ref->id);
	if ((body = malloc(n + 1))) {
		n = utf16_prefix(markdown ? markdown : "", n, JIRA_TEXT_MAX);
		if (n)
			memcpy(body, markdown, n);
		body[n] = '\0';
	}
	if (!url || !body || cspf_buf_oom(&what) ||
	    !cJSON_AddStringToObject(root, "body", body) ||
	    !(text = cJSON_PrintUnformatted(root))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	for (i = 1; n && !done; i++) {
		cspf_http_response_free(resp);
		rc = call(&resp, j, "POST", url, "jira:comment", text, 0, NULL,
			1);
		status = rc < 0 ? 0 : cspf_http_response_status(resp);
		if (status == 201 || status == 200)
			break;
		if (rc >= 0 && status != 429 && !ambiguous(status)) {
			rc = status_error(j, resp, what.ptr, NULL);
			goto done;
		}
		outcome_set(&last, rc < 0 ? NULL : resp);
		if (i >= j->tries) {
			rc = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
				"jira %s: %s: no success after %u tries (last:"
				" %s%d%s): try again later", j->name, what.ptr,
				i, last.status ? "HTTP " : "no answer, status ",
				last.status, last.words);
			goto done;
		}
		if (status == 429) {
			sleep_ms(throttle_ms(resp, i));
			continue;
		}
		sleep_ms(backoff_ms(i));
		if ((rc = has_comment(&done, j, ref->id, body, what.ptr)) < 0)
			goto done;
	}
	rc = 0;
	if (!escalate)
		goto done;
	/* After the comment: a label without its comment would stop a
	 * later run from escalating again. */
	cJSON_Delete(root);
	cJSON_free(text);
	text = NULL;
	root = cJSON_CreateObject();
	o = cJSON_AddObjectToObject(root, "update");
	labels = cJSON_AddArrayToObject(o, "labels");
	add = cJSON_CreateObject();
	if (!labels || !add || !cJSON_AddItemToArray(labels, add) ||
	    !cJSON_AddStringToObject(add, "add", "cspf-escalated") ||
	    !(text = cJSON_PrintUnformatted(root)) ||
	    !(eurl = api_url(j, "issue/%s", ref->id))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	cspf_buf_clear(&what);
	cspf_buf_printf(&what, "label %s cspf-escalated", ref->id);
	cspf_http_response_free(resp);
	/* Adding a label twice leaves one: retried as usual. */
	if ((rc = call(&resp, j, "PUT", eurl, "jira:escalate", text, 0, NULL,
		0)) < 0) {
		rc = transport_error(j, rc, what.ptr);
		goto done;
	}
	status = cspf_http_response_status(resp);
	if (status != 204 && status != 200)
		rc = status_error(j, resp, what.ptr, NULL);
done:
	cspf_http_response_free(resp);
	cJSON_Delete(root);
	cJSON_free(text);
	cspf_buf_dispose(&what);
	free(body);
	free(url);
	free(eurl);
	return rc;
}

/*
 * Opening and closing.
 */

static void jira_close(void *state)
{
	struct jira *j = state;

	if (!j)
		return;
	cspf_secret_free(j->auth);
	free(j->site);
	free(j->project);
	free(j->name);
	free(j);
}

/* base64("user:token") into guarded memory: the Basic credentials. */
static int basic_auth(cspf_secret **out, const char *user,
	const cspf_secret *token)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	cspf_sbuf plain = CSPF_SBUF_INIT, enc = CSPF_SBUF_INIT;
	unsigned char in[3];
	char quad[4];
	size_t i, k;
	int rc;

	cspf_sbuf_puts(&plain, user);
	cspf_sbuf_putc(&plain, ':');
	cspf_sbuf_put_secret(&plain, token);
	if (plain.oom) {
		cspf_sbuf_dispose(&plain);
		return cspf_error_set_oom();
	}
	for (i = 0; i < plain.size; i += 3) {
		k = plain.size - i < 3 ? plain.size - i : 3;
		memset(in, 0, sizeof(in));
		memcpy(in, plain.ptr + i, k);
		quad[0] = b64[in[0] >> 2];
		quad[1] = b64[((in[0] & 3) << 4) | (in[1] >> 4)];
		quad[2] = k > 1 ? b64[((in[1] & 15) << 2) | (in[2] >> 6)] : '=';
		quad[3] = k > 2 ? b64[in[2] & 63] : '=';
		cspf_sbuf_put(&enc, quad, 4);
	}
	sodium_memzero(in, sizeof(in));
	sodium_memzero(quad, sizeof(quad));
	cspf_sbuf_dispose(&plain);
	if (enc.oom) {
		cspf_sbuf_dispose(&enc);
		return cspf_error_set_oom();
	}
	rc = cspf_sbuf_to_secret(out, &enc);
	cspf_sbuf_dispose(&enc);
	return rc;
}

static int jira_open(void **state, const cspf_sink_config *cfg)
{
	struct jira *j;
	const char *what = cfg->name ? cfg->name : cfg->url;
	size_t n;
	int rc;

	*state = NULL;
	if (!cfg->url || !*cfg->url)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"jira sink%s%s: no site URL: give jira:URL/PROJECT "
			"(jira:https://example.atlassian.net/SEC) or set url "
			"in its ticket_sinks entry", what ? " " : "",
			what ? what : "");
	if (!cfg->project || !*cfg->project)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"jira %s: no project key: give jira:URL/PROJECT or set "
			"project in its ticket_sinks entry", what);
	if (!cfg->token || !cspf_secret_len(cfg->token))
		return cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"jira %s: no API token: set JIRA_API_TOKEN (with "
			"JIRA_USER, the account's e-mail, for a Jira Cloud API "
			"token)", what);
	if (!cfg->http)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"jira %s: no HTTP client", what);
	if (!cspf_http_url_allowed(cfg->url))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"jira %s: %s is not a URL cspf will call: give the "
			"site as https://HOST[/PATH]", what, cfg->url);
	if (!(j = calloc(1, sizeof(*j))))
		return cspf_error_set_oom();
	j->http = cfg->http;
	j->basic = cfg->user && *cfg->user;
	j->tries = cfg->max_attempts ? cfg->max_attempts : JIRA_ATTEMPTS;
	j->attempts = cfg->max_attempts;
	j->site = strdup(cfg->url);
	j->project = strdup(cfg->project);
	j->name = strdup(what);
	if (!j->site || !j->project || !j->name) {
		jira_close(j);
		return cspf_error_set_oom();
	}
	n = strlen(j->site);
	while (n > 0 && j->site[n - 1] == '/')
		j->site[--n] = '\0';
	if (j->basic && strchr(cfg->user, ':')) {
		jira_close(j);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"jira %s: JIRA_USER may not contain ':' (HTTP Basic "
			"separates the user from the token with it)", what);
	}
	rc = j->basic ? basic_auth(&j->auth, cfg->user, cfg->token) :
		cspf_secret_dup(&j->auth, cfg->token);
	if (rc < 0) {
		jira_close(j);
		return rc;
	}
	*state = j;
	return 0;
}

const cspf_sink_ops cspf_sink_jira = {
	.type = "jira",
	.open = jira_open,
	.find = jira_find,
	.create = jira_create,
	.update = jira_update,
	.list = jira_list,
	.comment = jira_comment,
	.close = jira_close,
};
