/*
 * cspf - HTTP: the one place where libcurl is used.
 *
 * A client runs many requests at once through libcurl's multi interface,
 * retries what is worth retrying with jittered exponential backoff, and
 * keeps connections alive between requests to the same host.
 *
 *   - TLS certificates and host names are always verified.  Plain http://
 *     is refused (CSPF_EINVALID) unless the host is a loopback address
 *     (127.0.0.0/8, ::1, localhost): that is for tests.  Only http and
 *     https are spoken; redirects are followed only for GET and HEAD and
 *     only to the same scheme, host and port (a request signed for one
 *     host is never sent to another); any other 3xx is handed back.
 *   - Retried: connection failures and drops, timeouts, 429, 500, 502,
 *     503 and 504, and whatever the request's classifier says is
 *     throttling.  Retry-After (seconds or HTTP-date) is honoured up to a
 *     cap.  Retries are bounded by max_attempts and by a total deadline.
 *     POST is retried too (the cloud APIs cspf calls are built for it);
 *     cspf_http_request_set_max_attempts(req, 1) turns retries off.
 *   - A request's prepare hook runs before every attempt, so a signature,
 *     a date or a bearer token is fresh on each retry.
 *   - Secrets: a request may carry a sensitive body and secret header
 *     values (kept in guarded memory, see cspf/secret.h); a request marked
 *     sensitive gets its response body in guarded memory too.  Traces and
 *     errors name the method, scheme, host and path only: never a query,
 *     a header value or a body.
 *
 * A client is single-threaded: one thread creates it, submits to it, runs
 * it and frees it.  Use one client per thread for parallelism.  The
 * library never prints: progress goes to the trace callback.
 *
 * Asynchronous use (what the inventory providers do):
 *
 *	cspf_http_request_new(&req, "GET", url);
 *	cspf_http_submit(client, req, on_page, ctx);    client owns req now
 *	...                                             submit more
 *	cspf_http_run(client);                          until all are done
 *
 * on_page() runs on the thread of cspf_http_run() and may submit more
 * requests (the next page, one per user...), including `req` itself
 * again after changing it (cspf_http_request_set_query_param()).
 */
#ifndef CSPF_HTTP_H
#define CSPF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "secret.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cspf_http_client cspf_http_client;
typedef struct cspf_http_request cspf_http_request;
typedef struct cspf_http_response cspf_http_response;

/* One line of progress: one per attempt, when it ends. */
typedef struct cspf_http_trace {
	const char *method;
	const char *url;     /* scheme://host[:port]/path: no query */
	const char *action;  /* AWS Action or X-Amz-Target, or NULL */
	int status;          /* 0 when no response came */
	const char *error;   /* transport error (curl's words), or NULL */
	unsigned int attempt; /* 1 for the first */
	double elapsed;      /* seconds this attempt took */
	double retry_in;     /* seconds until the retry; < 0: no retry */
} cspf_http_trace;

typedef void (*cspf_http_trace_cb)(const cspf_http_trace *trace,
	void *payload);

typedef struct cspf_http_options {
	unsigned int version;
	unsigned int concurrency;        /* transfers at once; 0: 16 */
	unsigned int connect_timeout_ms; /* 0: 10 s */
	unsigned int timeout_ms;         /* one attempt; 0: 60 s */
	unsigned int max_attempts;       /* 0: 6 */
	unsigned int backoff_base_ms;    /* 0: 200 ms */
	unsigned int backoff_max_ms;     /* 0: 20 s */
	unsigned int retry_after_max_ms; /* cap on Retry-After; 0: 60 s */
	unsigned int deadline_ms;        /* all attempts of one request;
					    0: 5 minutes */
	size_t max_response_size;        /* 0: 64 MiB */
	/*
	 * Certificates to trust besides the system's (PEM).  The system
	 * bundle itself is CURL_CA_BUNDLE or SSL_CERT_FILE when set.
	 */
	const char *ca_file;
	const char *user_agent;          /* NULL: "cspf/<version>" */
	cspf_http_trace_cb trace;
	void *trace_payload;
} cspf_http_options;

#define CSPF_HTTP_OPTIONS_VERSION 1
#define CSPF_HTTP_OPTIONS_INIT { .version = CSPF_HTTP_OPTIONS_VERSION }

/* `opts` may be NULL for the defaults.  Fails on a CA file it cannot read. */
int cspf_http_new(cspf_http_client **out, const cspf_http_options *opts);

/*
 * Requests still queued are dropped without their callbacks.  NULL ok.
 * Not from a callback of the client's own loop.
 */
void cspf_http_free(cspf_http_client *client);

/*
 * Requests.
 */

/*
 * A new request.  `url` must be absolute http(s); http only to loopback.
 * Returns CSPF_EINVALID for a URL cspf will not fetch.
 */
int cspf_http_request_new(cspf_http_request **out, const char *method,
	const char *url);
void cspf_http_request_free(cspf_http_request *req);

/* Change the URL (same checks as cspf_http_request_new()). */
int cspf_http_request_set_url(cspf_http_request *req, const char *url);

/*
 * Set header `name` to `value`, replacing any header of that name (case
 * does not matter); a NULL value removes it.
 */
int cspf_http_request_set_header(cspf_http_request *req, const char *name,
	const char *value);

/*
 * The same with a secret value (a bearer token, a session token): kept in
 * guarded memory, copied into libcurl's header list only for the length
 * of an attempt and zeroed after.  `prefix` ("Bearer ") goes before it.
 */
int cspf_http_request_set_header_secret(cspf_http_request *req,
	const char *name, const char *prefix, const cspf_secret *value);

/* A body: copied. */
int cspf_http_request_set_body(cspf_http_request *req, const void *data,
	size_t len);

/*
 * A sensitive body (a form with a client secret, a PUT of a secret):
 * copied into guarded memory.  Marks the request sensitive.
 */
int cspf_http_request_set_body_secret(cspf_http_request *req,
	const cspf_secret *body);

/*
 * A sensitive request gets its response body in guarded memory: read it
 * with cspf_http_response_body_open() or take it as a cspf_secret.
 */
void cspf_http_request_set_sensitive(cspf_http_request *req, bool on);

/* At most `n` attempts for this request (1: no retries; 0: client's). */
void cspf_http_request_set_max_attempts(cspf_http_request *req,
	unsigned int n);

/* What the trace shows as the request's action (copied), e.g. "ListUsers". */
int cspf_http_request_set_action(cspf_http_request *req, const char *action);

/*
 * The prepare hook, called before every attempt, after the request's
 * method, URL, headers and body are final for that attempt: the place to
 * sign or to set a fresh bearer token.  It may call cspf_http_perform()
 * (to refresh a token).  A negative return ends the request with that
 * error (the hook raises it).
 */
typedef int (*cspf_http_prepare_cb)(cspf_http_request *req, void *payload);
void cspf_http_request_set_prepare(cspf_http_request *req,
	cspf_http_prepare_cb cb, void *payload);

/* What a classifier says about a response. */
typedef enum {
	CSPF_HTTP_CLASS_DEFAULT = 0, /* let the client decide by status */
	CSPF_HTTP_CLASS_DONE,        /* final: hand it to the caller */
	CSPF_HTTP_CLASS_RETRY,       /* throttled or transient: retry */
} cspf_http_class;

/*
 * The classifier hook: sees each response before the client decides to
 * retry it (e.g. a 400 whose body says Throttling).
 */
typedef cspf_http_class (*cspf_http_classify_cb)(
	const cspf_http_response *resp, void *payload);
void cspf_http_request_set_classify(cspf_http_request *req,
	cspf_http_classify_cb cb, void *payload);

/* Getters for hooks; all lend. */
const char *cspf_http_request_method(const cspf_http_request *req);
const char *cspf_http_request_url(const cspf_http_request *req);
const char *cspf_http_request_action(const cspf_http_request *req);
/* The value of header `name` (any case), or NULL; secret headers: NULL. */
const char *cspf_http_request_header(const cspf_http_request *req,
	const char *name);
size_t cspf_http_request_header_count(const cspf_http_request *req);
/*
 * Header `i`: name, and value (NULL for a secret header, whose value is
 * not lent out).  *secret says which.  CSPF_ENOTFOUND past the end.
 */
int cspf_http_request_header_at(const char **name, const char **value,
	bool *secret, const cspf_http_request *req, size_t i);
bool cspf_http_request_sensitive(const cspf_http_request *req);
/*
 * The body, readable until cspf_http_request_body_close() (a sensitive
 * body is opened for that time).  An empty body gives len 0.
 */
int cspf_http_request_body_open(const unsigned char **data, size_t *len,
	const cspf_http_request *req);
void cspf_http_request_body_close(const cspf_http_request *req);
/* The attempt about to be made, 1 for the first (for prepare hooks). */
unsigned int cspf_http_request_attempt(const cspf_http_request *req);

/*
 * Running requests.
 */

/*
 * Called once per submitted request, on the thread of cspf_http_run().
 * `error` is 0 when a response came, whatever its status (a 404 is not an
 * error here; the exhausted retries of a 503 hand the last 503 over);
 * otherwise negative, with cspf_error_last() saying why, and `resp` NULL.
 * `req` and `resp` are lent until the callback returns; `req` is freed
 * then unless the callback submitted it again.
 */
typedef void (*cspf_http_done_cb)(cspf_http_request *req,
	cspf_http_response *resp, int error, void *payload);

/*
 * Queue `req`; the client owns it from now on, even when this fails.
 * May be called from a done callback.
 */
int cspf_http_submit(cspf_http_client *client, cspf_http_request *req,
	cspf_http_done_cb done, void *payload);

/*
 * Drive every queued request to its end, at most `concurrency` in flight,
 * calling their done callbacks.  Returns when nothing is queued, in
 * flight or waiting for a retry.  Returns 0, or negative for a failure of
 * the loop itself (not of a request).  Not reentrant: a done callback
 * must not call it.
 */
int cspf_http_run(cspf_http_client *client);

/*
 * One request, blocking, with the same retries; for one-off calls and for
 * prepare hooks (it uses its own connection, apart from the loop of
 * cspf_http_run()).  The request stays the caller's.  On success *out is
 * the response (any status), freed with cspf_http_response_free().
 */
int cspf_http_perform(cspf_http_response **out, cspf_http_client *client,
	cspf_http_request *req);

/*
 * Responses.
 */
int cspf_http_response_status(const cspf_http_response *resp);
/* The first header named `name` (any case), value trimmed; or NULL. */
const char *cspf_http_response_header(const cspf_http_response *resp,
	const char *name);
size_t cspf_http_response_header_count(const cspf_http_response *resp);
int cspf_http_response_header_at(const char **name, const char **value,
	const cspf_http_response *resp, size_t i);
/*
 * The body, NUL-terminated (len without the NUL); NULL for the response
 * to a sensitive request, whose body is read with _body_open().
 */
const char *cspf_http_response_body(const cspf_http_response *resp,
	size_t *len);
/* The body of any response, readable until _body_close(). */
int cspf_http_response_body_open(const char **data, size_t *len,
	const cspf_http_response *resp);
void cspf_http_response_body_close(const cspf_http_response *resp);
/* Take the body as a secret (sensitive responses only; once). */
int cspf_http_response_take_secret(cspf_secret **out,
	cspf_http_response *resp);
bool cspf_http_response_sensitive(const cspf_http_response *resp);
unsigned int cspf_http_response_attempts(const cspf_http_response *resp);
double cspf_http_response_total_time(const cspf_http_response *resp);
/* scheme://host/path of the request that got it (no query). */
const char *cspf_http_response_url(const cspf_http_response *resp);
void cspf_http_response_free(cspf_http_response *resp);

/*
 * URLs, forms and pagination.
 */

/* `s` percent-encoded (RFC 3986: unreserved characters kept), malloc'd. */
char *cspf_http_urlencode(const char *s, size_t len);

/*
 * Set query parameter `name` of `url` to `value` (encoded here),
 * replacing every parameter of that name, or adding it; a NULL value
 * removes it.  *out is malloc'd.
 */
int cspf_http_url_set_param(char **out, const char *url, const char *name,
	const char *value);

/* The same on a request's URL (e.g. Azure $skipToken, S3 marker). */
int cspf_http_request_set_query_param(cspf_http_request *req,
	const char *name, const char *value);

/*
 * Set field `name` of the request's form body (application/x-www-form-
 * urlencoded) to `value`, replacing or adding it (e.g. AWS Marker); NULL
 * removes it.  CSPF_EUNSUPPORTED on a sensitive body.
 */
int cspf_http_request_set_form_param(cspf_http_request *req,
	const char *name, const char *value);

/*
 * Point `req` at `next_link`, an absolute URL a service returned (Azure's
 * nextLink), only when it has the same scheme, host and port as the URL
 * the request has now; CSPF_EINVALID otherwise, and `req` is unchanged.
 */
int cspf_http_request_follow_link(cspf_http_request *req,
	const char *next_link);

/* True when both URLs parse and have the same scheme, host and port. */
bool cspf_http_url_same_origin(const char *a, const char *b);

/* True when `url` is one cspf would fetch (see the top of this file). */
bool cspf_http_url_allowed(const char *url);

/*
 * OAuth 2.0 client credentials (RFC 6749 section 4.4).
 *
 * A token source fetches an access token with a form POST of client_id,
 * client_secret and scope, keeps it in guarded memory until expires_in
 * less a margin, and fetches a new one when needed.  Use it from a
 * prepare hook:
 *
 *	cspf_http_request_set_prepare(req, cspf_http_oauth2_prepare, ts);
 */
typedef struct cspf_http_oauth2 cspf_http_oauth2;

typedef struct cspf_http_oauth2_options {
	unsigned int version;
	const char *token_url;
	const char *client_id;
	const cspf_secret *client_secret; /* copied */
	const char *scope;                /* may be NULL */
	/* Fetch a new token this long before expiry; 0: 300 s (and never
	 * more than half the token's lifetime). */
	unsigned int refresh_margin_s;
} cspf_http_oauth2_options;

#define CSPF_HTTP_OAUTH2_OPTIONS_VERSION 1
#define CSPF_HTTP_OAUTH2_OPTIONS_INIT \
	{ .version = CSPF_HTTP_OAUTH2_OPTIONS_VERSION }

/* `client` is lent and must outlive the token source. */
int cspf_http_oauth2_new(cspf_http_oauth2 **out, cspf_http_client *client,
	const cspf_http_oauth2_options *opts);

/*
 * Microsoft Entra ID: token URL {authority}/{tenant}/oauth2/v2.0/token,
 * the authority from `authority` or else AZURE_AUTHORITY_HOST or else
 * https://login.microsoftonline.com.  `scope` NULL means
 * "https://management.azure.com/.default".
 */
int cspf_http_oauth2_azure_new(cspf_http_oauth2 **out,
	cspf_http_client *client, const char *authority, const char *tenant,
	const char *client_id, const cspf_secret *client_secret,
	const char *scope);

/* The same from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET. */
int cspf_http_oauth2_azure_from_env(cspf_http_oauth2 **out,
	cspf_http_client *client, const char *scope);

/*
 * A valid access token, fetched (blocking) when none is cached or it is
 * about to expire.  Lent until the next call on `ts`.  A refusal by the
 * token endpoint is CSPF_EAUTH whose message names the client id and the
 * server's error code and description, never the secret.
 */
int cspf_http_oauth2_token(const cspf_secret **out, cspf_http_oauth2 *ts);

/* Set "Authorization: Bearer <token>" on `req` (a secret header). */
int cspf_http_oauth2_authorize(cspf_http_oauth2 *ts, cspf_http_request *req);

/* A prepare hook: `payload` is the cspf_http_oauth2. */
int cspf_http_oauth2_prepare(cspf_http_request *req, void *payload);

/* Forget the cached token (after a 401, say). */
void cspf_http_oauth2_invalidate(cspf_http_oauth2 *ts);

/* How many tokens were fetched so far (for tests and traces). */
unsigned int cspf_http_oauth2_fetches(const cspf_http_oauth2 *ts);

void cspf_http_oauth2_free(cspf_http_oauth2 *ts);

#ifdef __cplusplus
}
#endif
#endif
