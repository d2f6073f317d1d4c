/*
 * The client: libcurl's multi interface under a small scheduler.
 *
 * Requests wait in `ready` (FIFO) until fewer than `concurrency` are in
 * flight, then get an easy handle from a pool (connections live in the
 * multi handle's cache, so they are reused across requests).  A request
 * to be retried waits in `waiting`, ordered by the time it may go again;
 * the loop polls with a timeout no longer than the first of those, so it
 * never sleeps while a transfer could progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "http_private.h"
#include "util/error.h"
#include "util/banned.h"

struct cspf_http_client {
	cspf_http_options opts;
	char *user_agent;
	char *cainfo;           /* CURL_CA_BUNDLE / SSL_CERT_FILE */
	char *ca_blob;          /* system bundle + opts.ca_file */
	size_t ca_blob_len;
	CURLM *multi;
	CURL **pool;            /* idle easy handles */
	size_t npool, apool;
	CURL *blocking;         /* cspf_http_perform()'s own handle */
	bool blocking_busy;
	cspf_http_request *ready, *ready_tail;
	cspf_http_request *waiting; /* by ready_ms */
	unsigned int active;
	bool running;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int curl_rc = -1;

static void curl_start(void)
{
	curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int curl_started(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, curl_start);
	return curl_rc;
}

/* Read a whole file into buf; -1 with errno on failure. */
static int read_file(cspf_buf *b, const char *path)
{
	char tmp[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		cspf_buf_put(b, tmp, (size_t)n);
	}
	close(fd);
	return 0;
}

static int setup_ca(cspf_http_client *c)
{
	const char *env = getenv("CURL_CA_BUNDLE");
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	cspf_buf b = CSPF_BUF_INIT;
	const char *base;

	if (!env || !*env)
		env = getenv("SSL_CERT_FILE");
	if (env && !*env)
		env = NULL;
	if (!c->opts.ca_file) {
		if (env && !(c->cainfo = strdup(env)))
			return cspf_error_set_oom();
		return 0;
	}
	/* Extra certificates: the system bundle and them, in one blob. */
	base = env ? env : (vi && vi->cainfo ? vi->cainfo : NULL);
	if (base && read_file(&b, base) == 0)
		cspf_buf_putc(&b, '\n');
	else
		cspf_buf_clear(&b);
	if (read_file(&b, c->opts.ca_file) < 0) {
		cspf_buf_dispose(&b);
		return cspf_error_set_os("http: CA file %s", c->opts.ca_file);
	}
	if (cspf_buf_oom(&b))
		return cspf_error_set_oom();
	c->ca_blob_len = b.size;
	c->ca_blob = cspf_buf_detach(&b);
	return 0;
}

int cspf_http_new(cspf_http_client **out, const cspf_http_options *opts)
{
	cspf_http_client *c;
	cspf_buf ua = CSPF_BUF_INIT;
	int rc;

	*out = NULL;
	if (opts && opts->version != CSPF_HTTP_OPTIONS_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: options version %u unknown", opts->version);
	if (curl_started() < 0 || cspf_secret_init() < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"http: libcurl or libsodium cannot start");
	c = calloc(1, sizeof(*c));
	if (!c)
		return cspf_error_set_oom();
	if (opts)
		c->opts = *opts;
	else
		c->opts.version = CSPF_HTTP_OPTIONS_VERSION;
#define DEFAULT(f, v) if (!c->opts.f) c->opts.f = (v)
	DEFAULT(concurrency, 16);
	DEFAULT(connect_timeout_ms, 10000);
	DEFAULT(timeout_ms, 60000);
	DEFAULT(max_attempts, 6);
	DEFAULT(backoff_base_ms, 200);
	DEFAULT(backoff_max_ms, 20000);
	DEFAULT(retry_after_max_ms, 60000);
	DEFAULT(deadline_ms, 300000);
	DEFAULT(max_response_size, (size_t)64 << 20);
#undef DEFAULT
	cspf_buf_puts(&ua, opts && opts->user_agent ? opts->user_agent :
		"cspf/" CSPF_VERSION);
	c->user_agent = cspf_buf_detach(&ua);
	c->opts.user_agent = NULL;
	c->opts.ca_file = opts ? opts->ca_file : NULL;
	if (!c->user_agent) {
		rc = cspf_error_set_oom();
		goto fail;
	}
	if ((rc = setup_ca(c)) < 0)
		goto fail;
	c->opts.ca_file = NULL; /* lent by the caller: not kept */
	c->multi = curl_multi_init();
	if (!c->multi) {
		rc = cspf_error_set_oom();
		goto fail;
	}
	/* Keep enough idle connections for every slot, and then some. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
		(long)c->opts.concurrency * 2);
	*out = c;
	return 0;
fail:
	cspf_http_free(c);
	return rc;
}

static void free_list(cspf_http_request *r)
{
	cspf_http_request *next;

	for (; r; r = next) {
		next = r->next;
		cspf_http_response_free(r->resp);
		r->resp = NULL;
		cspf_http_slist_free(r->slist);
		r->slist = NULL;
		cspf_http_request_free(r);
	}
}

void cspf_http_free(cspf_http_client *c)
{
	size_t i;

	if (!c)
		return;
	free_list(c->ready);
	free_list(c->waiting);
	for (i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	free(c->pool);
	if (c->blocking)
		curl_easy_cleanup(c->blocking);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->user_agent);
	free(c->cainfo);
	free(c->ca_blob);
	free(c);
}

/* libcurl callbacks. */

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	cspf_http_request *req = p;

	if (!cspf_http_response_append(req->resp, data, size * n))
		return 0;
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	cspf_http_request *req = p;

	cspf_http_response_header_line(req->resp, data, size * n);
	return size * n;
}

/* The URL as traces and errors show it. */
static void display(char *out, size_t size, const cspf_http_request *req)
{
	char *d = cspf_http_url_display(req->url);

	snprintf(out, size, "%s", d ? d : "(URL)");
	free(d);
}

static void end_attempt_io(cspf_http_request *req)
{
	if (req->body_opened) {
		cspf_http_request_body_close(req);
		req->body_opened = false;
	}
	cspf_http_slist_free(req->slist);
	req->slist = NULL;
}

/*
 * Start an attempt of `req` on `easy`: the prepare hook, then every
 * option.  Returns 0, or negative (error raised) when the request must
 * end now.
 */
static int attempt_setup(cspf_http_client *c, cspf_http_request *req,
	CURL *easy)
{
	uint64_t now = now_ms(), left;
	const unsigned char *body;
	size_t body_len;
	long timeout;
	int rc;

	req->attempt++;
	if (!req->first_ms)
		req->first_ms = now;
	req->attempt_ms = now;
	req->errbuf[0] = '\0';
	cspf_http_response_free(req->resp);
	req->resp = NULL;
	if (req->prepare) {
		rc = req->prepare(req, req->prepare_payload);
		if (rc < 0)
			return rc;
		req->attempt_ms = now_ms();
	}
	/* The hook may have changed the URL: check it again. */
	if (!cspf_http_url_allowed(req->url))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
			"http: refusing a URL that is not https (or loopback)");
	req->resp = cspf_http_response_alloc(req->sensitive,
		c->opts.max_response_size);
	req->slist = cspf_http_request_slist(req);
	if (!req->resp || !req->slist)
		return cspf_error_set_oom();

	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	if (c->ca_blob) {
		struct curl_blob blob = { c->ca_blob, c->ca_blob_len,
			CURL_BLOB_NOCOPY };
		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->cainfo) {
		curl_easy_setopt(easy, CURLOPT_CAINFO, c->cainfo);
	}
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->slist);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
		(long)c->opts.connect_timeout_ms);
	left = req->first_ms + c->opts.deadline_ms > req->attempt_ms ?
		req->first_ms + c->opts.deadline_ms - req->attempt_ms : 1;
	timeout = (long)(left < c->opts.timeout_ms ? left : c->opts.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout < 1 ? 1L : timeout);

	if (!strcmp(req->method, "GET")) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	} else {
		if (cspf_http_request_body_open(&body, &body_len, req) < 0)
			return CSPF_ERROR;
		req->body_opened = true;
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
			(curl_off_t)body_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		if (strcmp(req->method, "POST"))
			curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST,
				req->method);
	}
	return 0;
}

static bool transport_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool status_retryable(int s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* A same-origin redirect for GET/HEAD: the new URL, malloc'd, or NULL. */
static char *redirect_target(const cspf_http_request *req, int status)
{
	const char *loc;
	CURLU *h;
	char *abs = NULL, *res = NULL;

	if (status != 301 && status != 302 && status != 303 &&
		status != 307 && status != 308)
		return NULL;
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
		return NULL;
	loc = cspf_http_response_header(req->resp, "Location");
	if (!loc || !(h = curl_url()))
		return NULL;
	if (curl_url_set(h, CURLUPART_URL, req->url, 0) == CURLUE_OK &&
		curl_url_set(h, CURLUPART_URL, loc, 0) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_URL, &abs, 0) == CURLUE_OK &&
		cspf_http_url_same_origin(req->url, abs))
		res = strdup(abs);
	curl_free(abs);
	curl_url_cleanup(h);
	return res;
}

enum outcome { DONE, RETRY };

/*
 * An attempt ended with `rc`.  Decide: DONE (*error 0 and req->resp the
 * response, or *error < 0 raised) or RETRY after *delay ms.
 */
static enum outcome attempt_end(cspf_http_client *c, cspf_http_request *req,
	CURL *easy, CURLcode rc, int *error, uint64_t *delay)
{
	cspf_http_trace t;
	char shown[512];
	long status = 0;
	bool retry = false, transport = rc != CURLE_OK;
	unsigned int max = req->max_attempts ? req->max_attempts :
		c->opts.max_attempts;
	uint64_t now = now_ms(), cap, d = 0;
	int64_t ra;
	char *target;
	cspf_http_class k = CSPF_HTTP_CLASS_DEFAULT;

	end_attempt_io(req);
	*error = 0;
	*delay = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	display(shown, sizeof(shown), req);

	if (rc == CURLE_WRITE_ERROR && req->resp && req->resp->too_big) {
		*error = cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"http: %s %s: response larger than %zu bytes",
			req->method, shown, c->opts.max_response_size);
		transport = false;
	} else if (transport) {
		retry = transport_retryable(rc);
	} else {
		req->resp->status = (int)status;
		if (cspf_http_response_finish(req->resp) < 0) {
			*error = CSPF_ERROR;
		} else if ((target = redirect_target(req, (int)status))) {
			if (req->redirects++ < 5) {
				free(req->url);
				req->url = target;
				req->attempt--; /* a redirect is no new try */
				goto out_trace_redirect;
			}
			free(target);
		} else {
			if (req->classify)
				k = req->classify(req->resp,
					req->classify_payload);
			retry = k == CSPF_HTTP_CLASS_RETRY ||
				(k == CSPF_HTTP_CLASS_DEFAULT &&
					status_retryable((int)status));
		}
	}

	if (retry && req->attempt < max) {
		cap = c->opts.backoff_base_ms;
		for (unsigned int i = 1; i < req->attempt && cap <
			c->opts.backoff_max_ms; i++)
			cap *= 2;
		if (cap > c->opts.backoff_max_ms)
			cap = c->opts.backoff_max_ms;
		/* Full jitter: anywhere between 0 and the cap. */
		d = randombytes_uniform((uint32_t)cap + 1);
		if (!transport) {
			ra = cspf_http_retry_after_ms(req->resp,
				(int64_t)time(NULL));
			if (ra >= 0) {
				if ((uint64_t)ra > c->opts.retry_after_max_ms)
					ra = c->opts.retry_after_max_ms;
				if ((uint64_t)ra > d)
					d = (uint64_t)ra;
			}
		}
		if (now + d > req->first_ms + c->opts.deadline_ms)
			retry = false;
	} else {
		retry = false;
	}

	memset(&t, 0, sizeof(t));
	t.method = req->method;
	t.url = shown;
	t.action = req->action ? req->action :
		cspf_http_request_header(req, "X-Amz-Target");
	t.status = transport ? 0 : (int)status;
	t.error = transport ? (req->errbuf[0] ? req->errbuf :
		curl_easy_strerror(rc)) : NULL;
	t.attempt = req->attempt;
	t.elapsed = (double)(now - req->attempt_ms) / 1000.0;
	t.retry_in = retry ? (double)d / 1000.0 : -1.0;
	if (c->opts.trace)
		c->opts.trace(&t, c->opts.trace_payload);

	if (retry) {
		*delay = d;
		return RETRY;
	}
	if (transport && !*error)
		*error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"http: %s %s: %s (%u attempt%s)", req->method, shown,
			t.error, req->attempt, req->attempt == 1 ? "" : "s");
	if (*error) {
		cspf_http_response_free(req->resp);
		req->resp = NULL;
		return DONE;
	}
	req->resp->attempts = req->attempt;
	req->resp->total_time = (double)(now - req->first_ms) / 1000.0;
	req->resp->url = strdup(shown);
	return DONE;

out_trace_redirect:
	return RETRY;
}

/* The blocking path. */

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cspf_http_perform(cspf_http_response **out, cspf_http_client *c,
	cspf_http_request *req)
{
	CURL *easy;
	bool own;
	CURLcode rc;
	uint64_t delay;
	int error = 0;

	*out = NULL;
	if (req->owned)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: this request was submitted to a client");
	/* A hook of a blocking request may block again: own handle then. */
	own = c->blocking_busy || !c->blocking;
	if (own && !c->blocking_busy && !c->blocking) {
		c->blocking = curl_easy_init();
		own = false;
	}
	easy = own ? curl_easy_init() : c->blocking;
	if (!easy)
		return cspf_error_set_oom();
	if (!own)
		c->blocking_busy = true;
	req->attempt = 0;
	req->redirects = 0;
	req->first_ms = 0;
	for (;;) {
		if ((error = attempt_setup(c, req, easy)) < 0) {
			end_attempt_io(req);
			break;
		}
		rc = curl_easy_perform(easy);
		if (attempt_end(c, req, easy, rc, &error, &delay) == DONE)
			break;
		if (delay)
			sleep_ms(delay);
	}
	if (own)
		curl_easy_cleanup(easy);
	else
		c->blocking_busy = false;
	if (error < 0) {
		cspf_http_response_free(req->resp);
		req->resp = NULL;
		return error;
	}
	*out = req->resp;
	req->resp = NULL;
	return 0;
}

/* The loop. */

static void push_ready(cspf_http_client *c, cspf_http_request *r, bool front)
{
	if (front) {
		r->next = c->ready;
		c->ready = r;
		if (!c->ready_tail)
			c->ready_tail = r;
		return;
	}
	r->next = NULL;
	if (c->ready_tail)
		c->ready_tail->next = r;
	else
		c->ready = r;
	c->ready_tail = r;
}

static cspf_http_request *pop_ready(cspf_http_client *c)
{
	cspf_http_request *r = c->ready;

	if (r) {
		c->ready = r->next;
		if (!c->ready)
			c->ready_tail = NULL;
		r->next = NULL;
	}
	return r;
}

static void push_waiting(cspf_http_client *c, cspf_http_request *r)
{
	cspf_http_request **p = &c->waiting;

	while (*p && (*p)->ready_ms <= r->ready_ms)
		p = &(*p)->next;
	r->next = *p;
	*p = r;
}

int cspf_http_submit(cspf_http_client *c, cspf_http_request *req,
	cspf_http_done_cb done, void *payload)
{
	if (!c || !req) {
		if (req && !req->owned)
			cspf_http_request_free(req);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: submit without a client or request");
	}
	if (req->owned && !req->in_done)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: request submitted twice");
	if (req->owned && req->client != c)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: request belongs to another client");
	if (req->in_done)
		req->resubmitted = true;
	req->owned = true;
	req->client = c;
	req->done = done;
	req->done_payload = payload;
	req->attempt = 0;
	req->redirects = 0;
	req->first_ms = 0;
	push_ready(c, req, false);
	return 0;
}

static CURL *easy_get(cspf_http_client *c)
{
	if (c->npool)
		return c->pool[--c->npool];
	return curl_easy_init();
}

static void easy_put(cspf_http_client *c, CURL *e)
{
	if (c->npool == c->apool) {
		size_t n = c->apool ? c->apool * 2 : 16;
		CURL **p = realloc(c->pool, n * sizeof(*p));

		if (!p) {
			curl_easy_cleanup(e);
			return;
		}
		c->pool = p;
		c->apool = n;
	}
	c->pool[c->npool++] = e;
}

/* Hand the request to its callback, then free it unless resubmitted. */
static void complete(cspf_http_client *c, cspf_http_request *req, int error)
{
	cspf_http_response *resp = error < 0 ? NULL : req->resp;

	req->resp = NULL;
	req->resubmitted = false;
	req->in_done = true;
	if (req->done)
		req->done(req, resp, error, req->done_payload);
	req->in_done = false;
	cspf_http_response_free(resp);
	if (req->resubmitted)
		req->resubmitted = false;
	else
		cspf_http_request_free(req);
	(void)c;
}

static void start(cspf_http_client *c, cspf_http_request *req)
{
	CURL *easy = easy_get(c);
	int rc;

	if (!easy) {
		complete(c, req, cspf_error_set_oom());
		return;
	}
	if ((rc = attempt_setup(c, req, easy)) < 0) {
		end_attempt_io(req);
		easy_put(c, easy);
		complete(c, req, rc);
		return;
	}
	if (curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
		end_attempt_io(req);
		easy_put(c, easy);
		complete(c, req, cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"http: libcurl refused a transfer"));
		return;
	}
	req->easy = easy;
	c->active++;
}

static void finished(cspf_http_client *c, CURL *easy, CURLcode rc)
{
	cspf_http_request *req = NULL;
	uint64_t delay;
	int error;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
	curl_multi_remove_handle(c->multi, easy);
	c->active--;
	req->easy = NULL;
	if (attempt_end(c, req, easy, rc, &error, &delay) == RETRY) {
		easy_put(c, easy);
		if (!delay) {
			push_ready(c, req, true);
		} else {
			req->ready_ms = now_ms() + delay;
			push_waiting(c, req);
		}
		return;
	}
	easy_put(c, easy);
	complete(c, req, error);
}

int cspf_http_run(cspf_http_client *c)
{
	CURLMsg *msg;
	cspf_http_request *r;
	uint64_t now;
	int running, left, timeout;

	if (c->running)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: cspf_http_run() called from a callback");
	c->running = true;
	for (;;) {
		now = now_ms();
		while (c->waiting && c->waiting->ready_ms <= now) {
			r = c->waiting;
			c->waiting = r->next;
			push_ready(c, r, true);
		}
		while (c->active < c->opts.concurrency && c->ready)
			start(c, pop_ready(c));
		if (!c->active && !c->ready && !c->waiting)
			break;
		if (c->active)
			curl_multi_perform(c->multi, &running);
		while ((msg = curl_multi_info_read(c->multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				finished(c, msg->easy_handle, msg->data.result);
		if (c->ready && c->active < c->opts.concurrency)
			continue;
		timeout = 1000;
		now = now_ms();
		if (c->waiting)
			timeout = c->waiting->ready_ms <= now ? 0 :
				(int)(c->waiting->ready_ms - now < 1000 ?
					c->waiting->ready_ms - now : 1000);
		if (c->active)
			curl_multi_poll(c->multi, NULL, 0, timeout, NULL);
		else if (c->waiting && timeout > 0)
			/* Nothing in flight: sleep until the first retry (not
			 * a whole second after the last request is done). */
			poll(NULL, 0, timeout);
	}
	c->running = false;
	return 0;
}
