/*
 * Unit tests of lib/http: the client against a scripted loopback server
 * (tests/support/httpd.c): retries, Retry-After, dropped connections,
 * the concurrency limit, keep-alive, callbacks that submit more, the
 * prepare and classify hooks, redirects, sensitive bodies, and that no
 * trace line or error ever shows a planted canary secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cspf/http.h"
#include "httpd.h"

#define CANARY "canary-Hx7Pq2sW9"

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

static void note_error(void)
{
	const cspf_error *e = cspf_error_last();

	if (e && e->message)
		note(e->message);
}

static unsigned int traces;

static void trace(const cspf_http_trace *t, void *payload)
{
	char line[2048];

	(void)payload;
	traces++;
	snprintf(line, sizeof(line), "%s %s %s status=%d attempt=%u %.3fs %s"
		" retry_in=%.3f", t->method, t->url,
		t->action ? t->action : "-", t->status, t->attempt, t->elapsed,
		t->error ? t->error : "", t->retry_in);
	note(line);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cspf_http_client *client_new(unsigned int concurrency)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;

	o.concurrency = concurrency;
	o.backoff_base_ms = 10;
	o.backoff_max_ms = 50;
	o.retry_after_max_ms = 1500;
	o.trace = trace;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	return c;
}

static char *url_of(httpd *h, const char *path)
{
	static char u[256];

	snprintf(u, sizeof(u), "%s%s", httpd_url(h), path);
	return u;
}

/* Handler: a scripted response per request number or path. */
struct script {
	int statuses[16];      /* status of request n (0: 200) */
	const char *headers[16];
	int drops[16];
	unsigned int delay_ms;
	unsigned int seen_attempt[16];
	char last_body[4096];
	char last_auth[256];
	char last_target[4096];
};

static void scripted(const httpd_request *req, httpd_response *resp, void *p)
{
	struct script *s = p;
	unsigned int i = req->n - 1;
	char v[64];

	if (i < 16) {
		if (s->statuses[i])
			resp->status = s->statuses[i];
		if (s->headers[i])
			snprintf(resp->headers, sizeof(resp->headers), "%s",
				s->headers[i]);
		resp->drop = s->drops[i];
		if (httpd_header(req, "X-Attempt", v, sizeof(v)))
			s->seen_attempt[i] = (unsigned int)atoi(v);
	}
	snprintf(s->last_body, sizeof(s->last_body), "%s", req->body);
	snprintf(s->last_target, sizeof(s->last_target), "%s", req->target);
	if (!httpd_header(req, "Authorization", s->last_auth,
		sizeof(s->last_auth)))
		s->last_auth[0] = '\0';
	resp->delay_ms = s->delay_ms;
	if (!strncmp(req->target, "/echo", 5)) {
		httpd_body(resp, req->body);
	} else {
		httpd_body(resp, "<Result>hello</Result>");
		if (resp->drop == HTTPD_DROP_MIDWAY) {
			free(resp->body);
			resp->body = strdup("<Result>a much longer body that "
				"will be cut in the middle</Result>");
			resp->body_len = strlen(resp->body);
		}
	}
	strcat(resp->headers, "X-Test: yes\r\n");
}

static void test_url_policy(void **state)
{
	static const char *const refused[] = {
		"http://example.com/", "http://127.0.0.1.evil.example/",
		"http://10.0.0.1/", "ftp://127.0.0.1/", "file:///etc/passwd",
		"http://localhost.example/", "not a url", "http:///path",
	};
	static const char *const allowed[] = {
		"http://127.0.0.1:1/x", "http://127.9.9.9/", "http://localhost/",
		"http://LOCALHOST:80/", "http://[::1]:8080/",
		"https://iam.amazonaws.com/", "https://example.com/a?b=c",
	};
	cspf_http_request *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET", refused[i]),
			CSPF_EINVALID);
		assert_null(r);
		assert_false(cspf_http_url_allowed(refused[i]));
	}
	assert_int_equal(cspf_http_request_new(&r, "GET",
		"http://example.com/"), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "https"));
	for (i = 0; i < sizeof(allowed) / sizeof(*allowed); i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET", allowed[i]),
			0);
		cspf_http_request_free(r);
	}
	/* changing the URL later is checked the same way */
	assert_int_equal(cspf_http_request_new(&r, "GET",
		"https://example.com/"), 0);
	assert_int_equal(cspf_http_request_set_url(r, "http://example.com/"),
		CSPF_EINVALID);
	assert_string_equal(cspf_http_request_url(r), "https://example.com/");
	cspf_http_request_free(r);
}

static void test_url_helpers(void **state)
{
	char *u;
	cspf_http_request *r;
	const unsigned char *b;
	size_t n;

	(void)state;
	assert_int_equal(cspf_http_url_set_param(&u,
		"https://h/p?a=1&Marker=x&b=2#f", "Marker", "n e/x+t"), 0);
	assert_string_equal(u, "https://h/p?a=1&b=2&Marker=n%20e%2Fx%2Bt#f");
	free(u);
	assert_int_equal(cspf_http_url_set_param(&u, "https://h/p",
		"$skipToken", "abc"), 0);
	assert_string_equal(u, "https://h/p?%24skipToken=abc");
	free(u);
	/* replaces an encoded name too, and removes with NULL */
	assert_int_equal(cspf_http_url_set_param(&u,
		"https://h/p?%24skipToken=abc&x=1", "$skipToken", NULL), 0);
	assert_string_equal(u, "https://h/p?x=1");
	free(u);

	assert_true(cspf_http_url_same_origin("https://a.example/x",
		"https://A.example:443/y?z"));
	assert_false(cspf_http_url_same_origin("https://a.example/x",
		"https://b.example/x"));
	assert_false(cspf_http_url_same_origin("https://a.example/x",
		"http://a.example/x"));
	assert_false(cspf_http_url_same_origin("https://a.example/x",
		"https://a.example:8443/x"));

	assert_int_equal(cspf_http_request_new(&r, "GET",
		"https://management.azure.com/subscriptions?api-version=1"), 0);
	assert_int_equal(cspf_http_request_follow_link(r,
		"https://management.azure.com/subscriptions?api-version=1&"
		"%24skipToken=2"), 0);
	assert_int_equal(cspf_http_request_follow_link(r,
		"https://evil.example/subscriptions?" CANARY), CSPF_EINVALID);
	note_error();
	assert_int_equal(cspf_http_request_follow_link(r,
		"http://management.azure.com/subscriptions"), CSPF_EINVALID);
	assert_string_equal(cspf_http_request_url(r),
		"https://management.azure.com/subscriptions?api-version=1&"
		"%24skipToken=2");

	assert_int_equal(cspf_http_request_set_body(r, "Action=ListUsers&"
		"Version=2010-05-08", 35), 0);
	assert_int_equal(cspf_http_request_set_form_param(r, "Marker",
		"abc="), 0);
	assert_int_equal(cspf_http_request_set_form_param(r, "Marker",
		"def"), 0);
	assert_int_equal(cspf_http_request_body_open(&b, &n, r), 0);
	assert_int_equal(n, strlen("Action=ListUsers&Version=2010-05-08&"
		"Marker=def"));
	assert_memory_equal(b, "Action=ListUsers&Version=2010-05-08&"
		"Marker=def", n);
	cspf_http_request_body_close(r);

	/* headers: set, replace (any case), remove */
	assert_int_equal(cspf_http_request_set_header(r, "X-A", "1"), 0);
	assert_int_equal(cspf_http_request_set_header(r, "x-a", "2"), 0);
	assert_int_equal(cspf_http_request_header_count(r), 1);
	assert_string_equal(cspf_http_request_header(r, "X-A"), "2");
	assert_int_equal(cspf_http_request_set_header(r, "X-A", NULL), 0);
	assert_null(cspf_http_request_header(r, "X-A"));
	assert_int_equal(cspf_http_request_set_header(r, "X-A", "a\r\nB: c"),
		CSPF_EINVALID);
	cspf_http_request_free(r);

	u = cspf_http_urlencode("a b~", 4);
	assert_string_equal(u, "a%20b~");
	free(u);
}

static void test_get(void **state)
{
	struct script s = { .delay_ms = 0 };
	httpd *h = httpd_start(scripted, &s);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	cspf_http_response *resp;
	const char *body, *name, *value;
	size_t n, i;
	bool found = false;

	(void)state;
	assert_int_equal(cspf_http_request_new(&r, "GET",
		url_of(h, "/x?token=" CANARY)), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_status(resp), 200);
	assert_string_equal(cspf_http_response_header(resp, "x-TEST"), "yes");
	body = cspf_http_response_body(resp, &n);
	assert_string_equal(body, "<Result>hello</Result>");
	assert_int_equal(n, strlen(body));
	assert_int_equal(cspf_http_response_attempts(resp), 1);
	assert_null(strstr(cspf_http_response_url(resp), "token"));
	for (i = 0; cspf_http_response_header_at(&name, &value, resp, i) == 0;
		i++)
		found |= !strcmp(name, "X-Test");
	assert_true(found);
	assert_string_equal(s.last_target, "/x?token=" CANARY);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
	assert_null(strstr(said, CANARY));
}

static void test_retry_after(void **state)
{
	struct script s = { .statuses = { 503, 429, 0 },
		.headers = { "Retry-After: 1\r\n", "Retry-After: 0\r\n" } };
	httpd *h = httpd_start(scripted, &s);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	cspf_http_response *resp;
	double t0 = now_s(), dt;

	(void)state;
	assert_int_equal(cspf_http_request_new(&r, "POST", url_of(h, "/")), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	dt = now_s() - t0;
	assert_int_equal(cspf_http_response_status(resp), 200);
	assert_int_equal(cspf_http_response_attempts(resp), 3);
	assert_true(dt >= 0.95);
	assert_true(dt < 3.0);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	httpd_stop(h);

	/* An hour is capped at retry_after_max_ms (1.5 s); HTTP-date too. */
	memset(&s, 0, sizeof(s));
	s.statuses[0] = 503;
	s.headers[0] = "Retry-After: 3600\r\n";
	s.statuses[1] = 429;
	s.headers[1] = "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
	h = httpd_start(scripted, &s);
	t0 = now_s();
	assert_int_equal(cspf_http_request_new(&r, "GET", url_of(h, "/")), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	dt = now_s() - t0;
	assert_int_equal(cspf_http_response_status(resp), 200);
	assert_int_equal(cspf_http_response_attempts(resp), 3);
	assert_true(dt >= 1.4);
	assert_true(dt < 4.0);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
}

static void test_exhausted_and_no_retry(void **state)
{
	struct script s = {
		.statuses = { 503, 503, 503, 503, 503, 503, 503, 503, 503 } };
	httpd *h = httpd_start(scripted, &s);
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;
	cspf_http_request *r;
	cspf_http_response *resp;

	(void)state;
	o.max_attempts = 3;
	o.backoff_base_ms = 1;
	o.trace = trace;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	assert_int_equal(cspf_http_request_new(&r, "GET", url_of(h, "/")), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_status(resp), 503);
	assert_int_equal(cspf_http_response_attempts(resp), 3);
	cspf_http_response_free(resp);
	/* retries off for this request */
	cspf_http_request_set_max_attempts(r, 1);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_attempts(resp), 1);
	assert_int_equal(httpd_requests(h), 4);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
}

static void test_dropped(void **state)
{
	struct script s = { .delay_ms = 0 };
	httpd *h;
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	cspf_http_response *resp;
	const char *body;

	(void)state;
	s.drops[0] = HTTPD_DROP_MIDWAY;
	s.drops[1] = HTTPD_DROP_BEFORE;
	h = httpd_start(scripted, &s);
	assert_int_equal(cspf_http_request_new(&r, "POST", url_of(h, "/")), 0);
	assert_int_equal(cspf_http_request_set_body(r, "a=b", 3), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_status(resp), 200);
	assert_int_equal(cspf_http_response_attempts(resp), 3);
	body = cspf_http_response_body(resp, NULL);
	assert_string_equal(body, "<Result>hello</Result>"); /* not a mix */
	assert_string_equal(s.last_body, "a=b");
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
}

static void test_refused_and_timeout(void **state)
{
	struct script s = { .delay_ms = 0 };
	httpd *h = httpd_start(scripted, &s);
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;
	cspf_http_request *r;
	cspf_http_response *resp;
	char url[256];
	double t0;

	(void)state;
	o.max_attempts = 2;
	o.backoff_base_ms = 1;
	o.timeout_ms = 300;
	o.trace = trace;
	assert_int_equal(cspf_http_new(&c, &o), 0);

	/* nobody listens on port 1 */
	assert_int_equal(cspf_http_request_new(&r, "GET",
		"http://127.0.0.1:1/?secret=" CANARY), 0);
	assert_true(cspf_http_perform(&resp, c, r) < 0);
	assert_null(resp);
	note_error();
	assert_non_null(strstr(cspf_error_last()->message, "2 attempts"));
	assert_non_null(strstr(cspf_error_last()->message, "127.0.0.1:1/"));
	cspf_http_request_free(r);

	/* the server answers too late for the per-attempt timeout */
	s.delay_ms = 2000;
	snprintf(url, sizeof(url), "%s/slow", httpd_url(h));
	assert_int_equal(cspf_http_request_new(&r, "GET", url), 0);
	t0 = now_s();
	assert_true(cspf_http_perform(&resp, c, r) < 0);
	assert_true(now_s() - t0 < 1.8);
	note_error();
	assert_non_null(strstr(cspf_error_last()->message, "imed out"));
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
	assert_null(strstr(said, CANARY));
}

/* Concurrency: never more than `concurrency` requests in the server. */
static unsigned int done_count, done_ok;

static void count_done(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	(void)req;
	(void)payload;
	done_count++;
	if (!error && cspf_http_response_status(resp) == 200)
		done_ok++;
}

static void slow(const httpd_request *req, httpd_response *resp, void *p)
{
	(void)req;
	(void)p;
	resp->delay_ms = 60;
	httpd_body(resp, "ok");
}

static void test_concurrency(void **state)
{
	httpd *h = httpd_start(slow, NULL);
	cspf_http_client *c = client_new(3);
	cspf_http_request *r;
	double t0;
	int i;

	(void)state;
	done_count = done_ok = 0;
	for (i = 0; i < 12; i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET",
			url_of(h, "/")), 0);
		assert_int_equal(cspf_http_submit(c, r, count_done, NULL), 0);
	}
	t0 = now_s();
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(done_count, 12);
	assert_int_equal(done_ok, 12);
	assert_int_equal(httpd_max_inflight(h), 3);
	assert_true(httpd_connections(h) <= 3);
	/* 12 requests of 60 ms, 3 at a time: about 4 rounds */
	assert_true(now_s() - t0 >= 0.22);
	cspf_http_free(c);
	httpd_stop(h);
}

/* Keep-alive: many small calls to one host over few connections. */
static void fast(const httpd_request *req, httpd_response *resp, void *p)
{
	(void)req;
	(void)p;
	httpd_body(resp, "ok");
}

static void test_keepalive(void **state)
{
	httpd *h = httpd_start(fast, NULL);
	cspf_http_client *c = client_new(1);
	cspf_http_request *r;
	cspf_http_response *resp;
	int i;

	(void)state;
	done_count = done_ok = 0;
	for (i = 0; i < 50; i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET",
			url_of(h, "/")), 0);
		assert_int_equal(cspf_http_submit(c, r, count_done, NULL), 0);
	}
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(done_ok, 50);
	assert_int_equal(httpd_connections(h), 1);
	cspf_http_free(c);

	c = client_new(4);
	for (i = 0; i < 400; i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET",
			url_of(h, "/")), 0);
		assert_int_equal(cspf_http_submit(c, r, count_done, NULL), 0);
	}
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(done_ok, 450);
	assert_true(httpd_connections(h) <= 1 + 4);
	/* blocking calls reuse their own connection too */
	for (i = 0; i < 5; i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET",
			url_of(h, "/")), 0);
		assert_int_equal(cspf_http_perform(&resp, c, r), 0);
		cspf_http_response_free(resp);
		cspf_http_request_free(r);
	}
	assert_true(httpd_connections(h) <= 1 + 4 + 1);
	cspf_http_free(c);
	httpd_stop(h);
}

/* Pagination and fan-out from callbacks. */
static void pages(const httpd_request *req, httpd_response *resp, void *p)
{
	const char *q = strstr(req->target, "page=");
	int page = q ? atoi(q + 5) : 0;
	char body[128];

	(void)p;
	if (!strncmp(req->target, "/user/", 6)) {
		httpd_body(resp, "user");
		return;
	}
	snprintf(body, sizeof(body), "%d %d", page, page < 4 ? page + 1 : -1);
	httpd_body(resp, body);
}

struct walk {
	cspf_http_client *c;
	const char *base;
	int pages, users, reused;
};

static void on_user(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct walk *w = payload;

	(void)req;
	assert_int_equal(error, 0);
	assert_string_equal(cspf_http_response_body(resp, NULL), "user");
	w->users++;
}

static void on_page(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	struct walk *w = payload;
	int page, next, i;
	char num[16], url[256];
	cspf_http_request *u;

	assert_int_equal(error, 0);
	assert_int_equal(sscanf(cspf_http_response_body(resp, NULL), "%d %d",
		&page, &next), 2);
	w->pages++;
	for (i = 0; i < 3; i++) { /* one call per user on the page */
		snprintf(url, sizeof(url), "%s/user/%d-%d", w->base, page, i);
		assert_int_equal(cspf_http_request_new(&u, "GET", url), 0);
		assert_int_equal(cspf_http_submit(w->c, u, on_user, w), 0);
	}
	if (next >= 0) { /* the same request, next page */
		snprintf(num, sizeof(num), "%d", next);
		assert_int_equal(cspf_http_request_set_query_param(req, "page",
			num), 0);
		assert_int_equal(cspf_http_submit(w->c, req, on_page, w), 0);
		w->reused++;
	}
}

static void test_callbacks_submit(void **state)
{
	httpd *h = httpd_start(pages, NULL);
	struct walk w = { .c = client_new(4) };
	cspf_http_request *r;

	(void)state;
	w.base = httpd_url(h);
	assert_int_equal(cspf_http_request_new(&r, "GET",
		url_of(h, "/users?page=0")), 0);
	assert_int_equal(cspf_http_submit(w.c, r, on_page, &w), 0);
	assert_int_equal(cspf_http_run(w.c), 0);
	assert_int_equal(w.pages, 5);
	assert_int_equal(w.reused, 4);
	assert_int_equal(w.users, 15);
	/* run() from a callback is refused; run() with nothing is fine */
	assert_int_equal(cspf_http_run(w.c), 0);
	cspf_http_free(w.c);
	httpd_stop(h);
}

/* The prepare hook runs before each attempt. */
struct prep {
	unsigned int calls;
	cspf_http_client *c;
	const char *other;
	int nested_status;
};

static int prepare(cspf_http_request *req, void *payload)
{
	struct prep *p = payload;
	char v[16];

	p->calls++;
	snprintf(v, sizeof(v), "%u", cspf_http_request_attempt(req));
	assert_string_equal(cspf_http_request_method(req), "POST");
	return cspf_http_request_set_header(req, "X-Attempt", v);
}

static void test_prepare_per_attempt(void **state)
{
	struct script s = { .statuses = { 500, 502, 0 } };
	httpd *h = httpd_start(scripted, &s);
	cspf_http_client *c = client_new(2);
	cspf_http_request *r;
	struct prep p = { .calls = 0 };

	(void)state;
	done_count = done_ok = 0;
	assert_int_equal(cspf_http_request_new(&r, "POST", url_of(h, "/")), 0);
	cspf_http_request_set_prepare(r, prepare, &p);
	assert_int_equal(cspf_http_submit(c, r, count_done, NULL), 0);
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(done_ok, 1);
	assert_int_equal(p.calls, 3);
	assert_int_equal(s.seen_attempt[0], 1);
	assert_int_equal(s.seen_attempt[1], 2);
	assert_int_equal(s.seen_attempt[2], 3);
	cspf_http_free(c);
	httpd_stop(h);
}

/* A prepare hook may make a blocking call (a token refresh) mid-loop. */
static int prepare_nested(cspf_http_request *req, void *payload)
{
	struct prep *p = payload;
	cspf_http_request *o;
	cspf_http_response *resp;

	(void)req;
	p->calls++;
	assert_int_equal(cspf_http_request_new(&o, "GET", p->other), 0);
	assert_int_equal(cspf_http_perform(&resp, p->c, o), 0);
	p->nested_status = cspf_http_response_status(resp);
	cspf_http_response_free(resp);
	cspf_http_request_free(o);
	return 0;
}

static void test_perform_in_hook(void **state)
{
	httpd *h = httpd_start(slow, NULL);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	struct prep p = { .calls = 0 };
	int i;

	(void)state;
	p.c = c;
	p.other = url_of(h, "/token");
	done_count = done_ok = 0;
	for (i = 0; i < 6; i++) {
		assert_int_equal(cspf_http_request_new(&r, "GET",
			url_of(h, "/api")), 0);
		cspf_http_request_set_prepare(r, prepare_nested, &p);
		assert_int_equal(cspf_http_submit(c, r, count_done, NULL), 0);
	}
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(done_ok, 6);
	assert_int_equal(p.calls, 6);
	assert_int_equal(p.nested_status, 200);
	cspf_http_free(c);
	httpd_stop(h);
}

/* A hook's failure ends the request with its error. */
static int prepare_fails(cspf_http_request *req, void *payload)
{
	(void)req;
	(void)payload;
	return CSPF_EAUTH;
}

static int last_error;

static void keep_error(cspf_http_request *req, cspf_http_response *resp,
	int error, void *payload)
{
	(void)req;
	(void)payload;
	assert_true(error == 0 || resp == NULL);
	last_error = error;
}

static void test_prepare_fails(void **state)
{
	httpd *h = httpd_start(fast, NULL);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;

	(void)state;
	assert_int_equal(cspf_http_request_new(&r, "GET", url_of(h, "/")), 0);
	cspf_http_request_set_prepare(r, prepare_fails, NULL);
	assert_int_equal(cspf_http_submit(c, r, keep_error, NULL), 0);
	assert_int_equal(cspf_http_run(c), 0);
	assert_int_equal(last_error, CSPF_EAUTH);
	assert_int_equal(httpd_requests(h), 0);
	cspf_http_free(c);
	httpd_stop(h);
}

/* The classifier marks a 400 that says Throttling as retryable. */
static void throttle400(const httpd_request *req, httpd_response *resp,
	void *p)
{
	(void)p;
	if (req->n <= 2) {
		resp->status = 400;
		httpd_body(resp, "<ErrorResponse><Error><Type>Sender</Type>"
			"<Code>Throttling</Code><Message>Rate exceeded"
			"</Message></Error></ErrorResponse>");
	} else if (req->n == 3) {
		resp->status = 400;
		httpd_body(resp, "<ErrorResponse><Error><Code>ValidationError"
			"</Code></Error></ErrorResponse>");
	}
}

static cspf_http_class classify(const cspf_http_response *resp, void *p)
{
	const char *b = cspf_http_response_body(resp, NULL);

	(void)p;
	return b && strstr(b, "<Code>Throttling<") ? CSPF_HTTP_CLASS_RETRY :
		CSPF_HTTP_CLASS_DEFAULT;
}

static void test_classifier(void **state)
{
	httpd *h = httpd_start(throttle400, NULL);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	cspf_http_response *resp;

	(void)state;
	assert_int_equal(cspf_http_request_new(&r, "POST", url_of(h, "/")), 0);
	cspf_http_request_set_classify(r, classify, NULL);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_status(resp), 400);
	assert_int_equal(cspf_http_response_attempts(resp), 3);
	assert_non_null(strstr(cspf_http_response_body(resp, NULL),
		"ValidationError"));
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
}

/* Redirects: followed within the origin for GET, never elsewhere. */
static char other_origin[128];

static void redirects(const httpd_request *req, httpd_response *resp,
	void *p)
{
	(void)p;
	if (!strcmp(req->target, "/old")) {
		resp->status = 301;
		strcpy(resp->headers, "Location: /new\r\n");
	} else if (!strcmp(req->target, "/away")) {
		resp->status = 302;
		snprintf(resp->headers, sizeof(resp->headers),
			"Location: %s/stolen\r\n", other_origin);
	} else {
		httpd_body(resp, req->target);
	}
}

static void test_redirects(void **state)
{
	httpd *h = httpd_start(redirects, NULL);
	httpd *evil = httpd_start(fast, NULL);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	cspf_http_response *resp;

	(void)state;
	snprintf(other_origin, sizeof(other_origin), "%s", httpd_url(evil));
	assert_int_equal(cspf_http_request_new(&r, "GET", url_of(h, "/old")),
		0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_status(resp), 200);
	assert_string_equal(cspf_http_response_body(resp, NULL), "/new");
	cspf_http_response_free(resp);
	cspf_http_request_free(r);

	assert_int_equal(cspf_http_request_new(&r, "GET", url_of(h, "/away")),
		0);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_status(resp), 302);
	assert_int_equal(httpd_requests(evil), 0);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
	httpd_stop(evil);
}

/* Sensitive bodies, secret headers, and the canary. */
static void test_sensitive(void **state)
{
	struct script s = { .statuses = { 503, 0 } };
	httpd *h = httpd_start(scripted, &s);
	cspf_http_client *c = client_new(4);
	cspf_http_request *r;
	cspf_http_response *resp;
	cspf_secret *body, *tok, *taken;
	const char *data, *name, *value;
	size_t n, i;
	bool secret;

	(void)state;
	assert_int_equal(cspf_secret_new(&body, "client_secret=" CANARY,
		strlen("client_secret=" CANARY)), 0);
	assert_int_equal(cspf_secret_new(&tok, CANARY, strlen(CANARY)), 0);
	assert_int_equal(cspf_http_request_new(&r, "PUT",
		url_of(h, "/echo")), 0);
	assert_int_equal(cspf_http_request_set_body_secret(r, body), 0);
	assert_int_equal(cspf_http_request_set_header_secret(r,
		"Authorization", "Bearer ", tok), 0);
	assert_true(cspf_http_request_sensitive(r));
	assert_null(cspf_http_request_header(r, "Authorization"));
	for (i = 0; cspf_http_request_header_at(&name, &value, &secret, r, i)
		== 0; i++) {
		assert_true(secret);
		assert_null(value);
	}
	assert_int_equal(cspf_http_request_set_form_param(r, "a", "b"),
		CSPF_EUNSUPPORTED);
	assert_int_equal(cspf_http_perform(&resp, c, r), 0);
	assert_int_equal(cspf_http_response_attempts(resp), 2);
	assert_string_equal(s.last_auth, "Bearer " CANARY);
	assert_string_equal(s.last_body, "client_secret=" CANARY);
	assert_true(cspf_http_response_sensitive(resp));
	assert_null(cspf_http_response_body(resp, &n));
	assert_int_equal(cspf_http_response_body_open(&data, &n, resp), 0);
	assert_string_equal(data, "client_secret=" CANARY);
	cspf_http_response_body_close(resp);
	assert_int_equal(cspf_http_response_take_secret(&taken, resp), 0);
	assert_true(cspf_secret_equal(taken, body));
	cspf_secret_free(taken);
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	cspf_secret_free(body);
	cspf_secret_free(tok);
	cspf_http_free(c);
	httpd_stop(h);
	assert_true(traces > 0);
	assert_null(strstr(said, CANARY));
}

static void big(const httpd_request *req, httpd_response *resp, void *p)
{
	(void)req;
	(void)p;
	resp->body = malloc(100000);
	memset(resp->body, 'x', 100000);
	resp->body_len = 100000;
}

static void test_size_limit(void **state)
{
	httpd *h = httpd_start(big, NULL);
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;
	cspf_http_request *r;
	cspf_http_response *resp;

	(void)state;
	o.max_response_size = 1000;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	assert_int_equal(cspf_http_request_new(&r, "GET", url_of(h, "/")), 0);
	assert_int_equal(cspf_http_perform(&resp, c, r), CSPF_ETOOBIG);
	assert_int_equal(httpd_requests(h), 1);
	cspf_http_request_free(r);
	cspf_http_free(c);
	httpd_stop(h);
}

static void test_ca_file(void **state)
{
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;

	(void)state;
	o.ca_file = "/nonexistent/ca.pem";
	assert_true(cspf_http_new(&c, &o) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "ca.pem"));
	o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
	assert_int_equal(cspf_http_new(&c, &o), 0);
	cspf_http_free(c);
	o.version = 99;
	assert_int_equal(cspf_http_new(&c, &o), CSPF_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_policy),
		cmocka_unit_test(test_url_helpers),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_exhausted_and_no_retry),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_refused_and_timeout),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_callbacks_submit),
		cmocka_unit_test(test_prepare_per_attempt),
		cmocka_unit_test(test_perform_in_hook),
		cmocka_unit_test(test_prepare_fails),
		cmocka_unit_test(test_classifier),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_sensitive),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_ca_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
