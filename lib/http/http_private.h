/*
 * Inside lib/http: the request and response structures, shared by the
 * client loop, the request helpers and OAuth.
 */
#ifndef CSPF_HTTP_PRIVATE_H
#define CSPF_HTTP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cspf/http.h"
#include "util/buf.h"
#include "util/secret.h"

struct http_header {
	char *name;
	char *value;         /* plain value, or the prefix of a secret one */
	cspf_secret *secret; /* non-NULL: value = prefix, secret follows */
};

struct cspf_http_request {
	char *method;
	char *url;
	char *action;
	struct http_header *headers;
	size_t nheaders, aheaders;
	unsigned char *body; /* plain body, malloc'd, or NULL */
	size_t body_len;
	cspf_secret *body_secret;
	bool sensitive;
	unsigned int max_attempts;
	cspf_http_prepare_cb prepare;
	void *prepare_payload;
	cspf_http_classify_cb classify;
	void *classify_payload;

	/* While a client has it. */
	cspf_http_client *client;
	cspf_http_done_cb done;
	void *done_payload;
	unsigned int attempt;     /* attempts started */
	unsigned int redirects;
	uint64_t first_ms;        /* when the first attempt started */
	uint64_t attempt_ms;      /* when this attempt started */
	uint64_t ready_ms;        /* waiting: when it may start */
	bool owned;               /* submitted: the client frees it */
	bool in_done;             /* its done callback is running */
	bool resubmitted;         /* submitted again from its callback */
	bool body_opened;         /* the sensitive body is open in flight */
	CURL *easy;
	struct curl_slist *slist;
	cspf_http_response *resp; /* being received */
	struct cspf_http_request *next; /* queue link */
	char errbuf[CURL_ERROR_SIZE];
};

struct http_rheader {
	char *name;
	char *value;
};

struct cspf_http_response {
	int status;
	struct http_rheader *headers;
	size_t nheaders, aheaders;
	bool sensitive;
	cspf_buf body;
	cspf_sbuf sbody;       /* while receiving a sensitive body */
	cspf_secret *secret;   /* a sensitive body, once received */
	bool taken;
	unsigned int attempts;
	double total_time;
	char *url;
	size_t max;
	bool too_big;
};

/* scheme://host[:port]/path of `url` (malloc'd), or NULL. */
char *cspf_http_url_display(const char *url);

/* A response to receive into; NULL when out of memory. */
cspf_http_response *cspf_http_response_alloc(bool sensitive, size_t max);
/* Headers and body received: seal a sensitive body into a secret. */
int cspf_http_response_finish(cspf_http_response *resp);
/* Add one raw header line ("Name: value\r\n"); a status line resets. */
void cspf_http_response_header_line(cspf_http_response *resp,
	const char *line, size_t len);
/* Append body bytes; false past the size limit. */
bool cspf_http_response_append(cspf_http_response *resp, const char *data,
	size_t len);

/* A copy of the request's curl header list, secrets included. */
struct curl_slist *cspf_http_request_slist(const cspf_http_request *req);
/* Zero and free such a list. */
void cspf_http_slist_free(struct curl_slist *l);

/*
 * Retry-After of `resp` in milliseconds, or -1 when absent or
 * unparseable; `now` is the time of day in seconds.
 */
int64_t cspf_http_retry_after_ms(const cspf_http_response *resp,
	int64_t now);

/*
 * A small JSON scanner for token responses that live in guarded memory:
 * finds top-level member `key` of the object in `json` and gives its
 * value's raw span (a string's span excludes the quotes).  *is_string
 * tells strings from other values.  Returns 0, or -1 when absent or the
 * text is not an object.
 */
int cspf_http_json_member(const char **val, size_t *len, bool *is_string,
	const char *json, size_t json_len, const char *key);
/*
 * Unescape a JSON string span into `out` (guarded or plain, as `put`
 * decides).  Returns 0, or -1 on a bad escape.
 */
int cspf_http_json_unescape(cspf_sbuf *out, const char *s, size_t len);

#endif
