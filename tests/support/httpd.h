/*
 * A scripted HTTP/1.1 server on 127.0.0.1 for unit tests: one thread
 * accepts, one thread per connection serves requests (keep-alive) by
 * calling the test's handler, which may delay, drop the connection or
 * cut a response short.  It counts connections, requests and the most
 * requests it had in hand at once.
 */
#ifndef CSPF_TEST_HTTPD_H
#define CSPF_TEST_HTTPD_H

#include <stddef.h>

typedef struct httpd httpd;

typedef struct httpd_request {
	char method[16];
	char target[4096];   /* path and query as sent */
	char headers[16384]; /* "Name: value\r\n" lines as sent */
	char *body;          /* NUL-terminated */
	size_t body_len;
	unsigned int conn;   /* connection number, from 1 */
	unsigned int seq;    /* request number on that connection, from 1 */
	unsigned int n;      /* request number on the server, from 1 */
} httpd_request;

enum { HTTPD_SEND = 0, HTTPD_DROP_BEFORE, HTTPD_DROP_MIDWAY };

typedef struct httpd_response {
	int status;
	char headers[4096]; /* extra header lines, each ending "\r\n" */
	char *body;         /* malloc'd (the server frees it) or NULL */
	size_t body_len;    /* 0 with a body: strlen(body) */
	unsigned int delay_ms;
	int drop;
} httpd_response;

typedef void (*httpd_handler)(const httpd_request *req, httpd_response *resp,
	void *payload);

httpd *httpd_start(httpd_handler handler, void *payload);
void httpd_stop(httpd *h);
/* "http://127.0.0.1:PORT" */
const char *httpd_url(const httpd *h);
unsigned int httpd_connections(httpd *h);
unsigned int httpd_requests(httpd *h);
unsigned int httpd_max_inflight(httpd *h);
/* Value of header `name` in `req` (any case), copied into buf; or NULL. */
const char *httpd_header(const httpd_request *req, const char *name,
	char *buf, size_t size);
/* Set the response body to a copy of `s`. */
void httpd_body(httpd_response *resp, const char *s);
/* A lock for handlers' own state. */
void httpd_lock(httpd *h);
void httpd_unlock(httpd *h);

#endif
