/*
 * Requests and responses: headers, bodies (plain or in guarded memory),
 * and the URL helpers that pagination needs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "http_private.h"
#include "util/error.h"
#include "util/banned.h"

/* URL checks. */

struct url_parts {
	char *scheme, *host, *port, *path, *query;
};

static void parts_dispose(struct url_parts *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->port);
	curl_free(p->path);
	curl_free(p->query);
	memset(p, 0, sizeof(*p));
}

/* Split an absolute http(s) URL; -1 when it is not one. */
static int url_split(struct url_parts *p, const char *url, bool default_port)
{
	CURLU *h = curl_url();
	int ok = -1;

	memset(p, 0, sizeof(*p));
	if (!h)
		return -1;
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
		CURLUE_OK)
		goto out;
	if (curl_url_get(h, CURLUPART_SCHEME, &p->scheme, 0) != CURLUE_OK ||
		curl_url_get(h, CURLUPART_HOST, &p->host, 0) != CURLUE_OK)
		goto out;
	curl_url_get(h, CURLUPART_PORT, &p->port,
		default_port ? CURLU_DEFAULT_PORT : 0);
	curl_url_get(h, CURLUPART_PATH, &p->path, 0);
	curl_url_get(h, CURLUPART_QUERY, &p->query, 0);
	if (strcasecmp(p->scheme, "http") && strcasecmp(p->scheme, "https"))
		goto out;
	if (!p->host[0])
		goto out;
	ok = 0;
out:
	curl_url_cleanup(h);
	if (ok < 0)
		parts_dispose(p);
	return ok;
}

static bool host_is_loopback(const char *host)
{
	unsigned char a[16];
	char tmp[64];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		if (strchr(tmp, '%')) /* zone id */
			*strchr(tmp, '%') = '\0';
		if (inet_pton(AF_INET6, tmp, a) != 1)
			return false;
		if (!memcmp(a, &in6addr_loopback, 16))
			return true;
		/* ::ffff:127.x.y.z */
		return !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) &&
			a[12] == 127;
	}
	return false;
}

static int check_url(const char *url)
{
	struct url_parts p;
	bool https;

	if (!url || url_split(&p, url, false) < 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
			"http: not an absolute http(s) URL");
	https = !strcasecmp(p.scheme, "https");
	if (!https && !host_is_loopback(p.host)) {
		cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
			"http: refusing plain http:// to %s: use https:// "
			"(plain http is only for loopback test servers)",
			p.host);
		parts_dispose(&p);
		return CSPF_EINVALID;
	}
	parts_dispose(&p);
	return 0;
}

bool cspf_http_url_allowed(const char *url)
{
	struct url_parts p;
	bool ok;

	if (!url || url_split(&p, url, false) < 0)
		return false;
	ok = !strcasecmp(p.scheme, "https") || host_is_loopback(p.host);
	parts_dispose(&p);
	return ok;
}

char *cspf_http_url_display(const char *url)
{
	struct url_parts p;
	cspf_buf b = CSPF_BUF_INIT;

	if (url_split(&p, url, false) < 0)
		return strdup("(bad URL)");
	cspf_buf_printf(&b, "%s://%s", p.scheme, p.host);
	if (p.port)
		cspf_buf_printf(&b, ":%s", p.port);
	cspf_buf_puts(&b, p.path ? p.path : "/");
	parts_dispose(&p);
	return cspf_buf_detach(&b);
}

bool cspf_http_url_same_origin(const char *a, const char *b)
{
	struct url_parts p, q;
	bool same;

	if (!a || !b || url_split(&p, a, true) < 0)
		return false;
	if (url_split(&q, b, true) < 0) {
		parts_dispose(&p);
		return false;
	}
	same = !strcasecmp(p.scheme, q.scheme) &&
		!strcasecmp(p.host, q.host) && p.port && q.port &&
		!strcmp(p.port, q.port);
	parts_dispose(&p);
	parts_dispose(&q);
	return same;
}

/* Encoding. */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		c == '~';
}

static void put_encoded(cspf_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c)) {
			cspf_buf_putc(b, (char)c);
		} else {
			cspf_buf_putc(b, '%');
			cspf_buf_putc(b, hex[c >> 4]);
			cspf_buf_putc(b, hex[c & 15]);
		}
	}
}

char *cspf_http_urlencode(const char *s, size_t len)
{
	cspf_buf b = CSPF_BUF_INIT;

	put_encoded(&b, s, len);
	return cspf_buf_detach(&b);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True when the name part of "name=value" (`s`, `len`) decodes to `name`. */
static bool param_named(const char *s, size_t len, const char *name)
{
	const char *eq = memchr(s, '=', len);
	size_t n = eq ? (size_t)(eq - s) : len, i;
	const char *m = name;

	for (i = 0; i < n; i++, m++) {
		int c = (unsigned char)s[i];

		if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			hexval(s[i + 2]) >= 0) {
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (!*m || (unsigned char)*m != c)
			return false;
	}
	return *m == '\0';
}

/*
 * `params` ("a=1&b=2") with every `name` parameter removed and, when
 * `value` is not NULL, name=value appended.
 */
static int set_param(cspf_buf *out, const char *params, size_t len,
	const char *name, const char *value)
{
	size_t i = 0, j;

	while (i < len) {
		for (j = i; j < len && params[j] != '&'; j++)
			;
		if (j > i && !param_named(params + i, j - i, name)) {
			if (out->size)
				cspf_buf_putc(out, '&');
			cspf_buf_put(out, params + i, j - i);
		}
		i = j + 1;
	}
	if (value) {
		if (out->size)
			cspf_buf_putc(out, '&');
		put_encoded(out, name, strlen(name));
		cspf_buf_putc(out, '=');
		put_encoded(out, value, strlen(value));
	}
	return cspf_buf_oom(out) ? cspf_error_set_oom() : 0;
}

int cspf_http_url_set_param(char **out, const char *url, const char *name,
	const char *value)
{
	const char *q, *frag;
	cspf_buf params = CSPF_BUF_INIT, b = CSPF_BUF_INIT;
	size_t base_len;
	int rc;

	*out = NULL;
	frag = strchr(url, '#');
	if (!frag)
		frag = url + strlen(url);
	q = memchr(url, '?', (size_t)(frag - url));
	base_len = q ? (size_t)(q - url) : (size_t)(frag - url);
	rc = set_param(&params, q ? q + 1 : "", q ? (size_t)(frag - q - 1) : 0,
		name, value);
	if (rc < 0)
		goto out;
	cspf_buf_put(&b, url, base_len);
	if (params.size) {
		cspf_buf_putc(&b, '?');
		cspf_buf_put(&b, params.ptr, params.size);
	}
	cspf_buf_puts(&b, frag);
	*out = cspf_buf_detach(&b);
	rc = *out ? 0 : cspf_error_set_oom();
out:
	cspf_buf_dispose(&params);
	cspf_buf_dispose(&b);
	return rc;
}

/* Requests. */

int cspf_http_request_new(cspf_http_request **out, const char *method,
	const char *url)
{
	cspf_http_request *r;
	int rc;

	*out = NULL;
	if (!method || !*method)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: no method");
	if ((rc = check_url(url)) < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return cspf_error_set_oom();
	r->method = strdup(method);
	r->url = strdup(url);
	if (!r->method || !r->url) {
		cspf_http_request_free(r);
		return cspf_error_set_oom();
	}
	*out = r;
	return 0;
}

static void header_dispose(struct http_header *h)
{
	free(h->name);
	free(h->value);
	cspf_secret_free(h->secret);
}

void cspf_http_request_free(cspf_http_request *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nheaders; i++)
		header_dispose(&r->headers[i]);
	free(r->headers);
	if (r->body) {
		sodium_memzero(r->body, r->body_len);
		free(r->body);
	}
	cspf_secret_free(r->body_secret);
	free(r->method);
	free(r->url);
	free(r->action);
	free(r);
}

int cspf_http_request_set_url(cspf_http_request *req, const char *url)
{
	char *u;
	int rc;

	if ((rc = check_url(url)) < 0)
		return rc;
	if (!(u = strdup(url)))
		return cspf_error_set_oom();
	free(req->url);
	req->url = u;
	return 0;
}

static bool header_name_ok(const char *name)
{
	const char *p;

	if (!name || !*name)
		return false;
	for (p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ':' || *p == 0x7f)
			return false;
	return true;
}

static bool header_value_ok(const char *v)
{
	for (; v && *v; v++)
		if (*v == '\r' || *v == '\n')
			return false;
	return true;
}

/* Drop the headers named `name`; return the index a new one goes at. */
static size_t header_remove(cspf_http_request *req, const char *name)
{
	size_t i, j = 0, at = req->nheaders;

	for (i = 0; i < req->nheaders; i++) {
		if (!strcasecmp(req->headers[i].name, name)) {
			if (at == req->nheaders)
				at = j;
			header_dispose(&req->headers[i]);
			continue;
		}
		req->headers[j++] = req->headers[i];
	}
	req->nheaders = j;
	return at < j ? at : j;
}

static int header_insert(cspf_http_request *req, struct http_header *h)
{
	size_t at = header_remove(req, h->name);

	if (req->nheaders == req->aheaders) {
		size_t n = req->aheaders ? req->aheaders * 2 : 8;
		struct http_header *p = realloc(req->headers, n * sizeof(*p));

		if (!p)
			return cspf_error_set_oom();
		req->headers = p;
		req->aheaders = n;
	}
	memmove(req->headers + at + 1, req->headers + at,
		(req->nheaders - at) * sizeof(*h));
	req->headers[at] = *h;
	req->nheaders++;
	return 0;
}

int cspf_http_request_set_header(cspf_http_request *req, const char *name,
	const char *value)
{
	struct http_header h = { 0 };

	if (!header_name_ok(name) || !header_value_ok(value))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: bad header name or value");
	if (!value) {
		header_remove(req, name);
		return 0;
	}
	h.name = strdup(name);
	h.value = strdup(value);
	if (!h.name || !h.value || header_insert(req, &h) < 0) {
		header_dispose(&h);
		return cspf_error_set_oom();
	}
	return 0;
}

int cspf_http_request_set_header_secret(cspf_http_request *req,
	const char *name, const char *prefix, const cspf_secret *value)
{
	struct http_header h = { 0 };
	const unsigned char *p;
	size_t n;
	bool bad;

	if (!header_name_ok(name) || !header_value_ok(prefix) || !value)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: bad header name or value");
	if (cspf_secret_open(&p, &n, value) < 0)
		return CSPF_ERROR;
	bad = memchr(p, '\r', n) || memchr(p, '\n', n) || memchr(p, 0, n);
	cspf_secret_close(value);
	if (bad)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"http: header %s: the secret value holds a line break",
			name);
	h.name = strdup(name);
	h.value = strdup(prefix ? prefix : "");
	if (!h.name || !h.value || cspf_secret_dup(&h.secret, value) < 0 ||
		header_insert(req, &h) < 0) {
		header_dispose(&h);
		return cspf_error_set_oom();
	}
	return 0;
}

int cspf_http_request_set_body(cspf_http_request *req, const void *data,
	size_t len)
{
	unsigned char *p = NULL;

	if (len) {
		if (!(p = malloc(len)))
			return cspf_error_set_oom();
		memcpy(p, data, len);
	}
	if (req->body) {
		sodium_memzero(req->body, req->body_len);
		free(req->body);
	}
	cspf_secret_free(req->body_secret);
	req->body_secret = NULL;
	req->body = p;
	req->body_len = len;
	return 0;
}

int cspf_http_request_set_body_secret(cspf_http_request *req,
	const cspf_secret *body)
{
	cspf_secret *s;

	if (cspf_secret_dup(&s, body) < 0)
		return CSPF_ERROR;
	cspf_http_request_set_body(req, NULL, 0);
	req->body_secret = s;
	req->sensitive = true;
	return 0;
}

void cspf_http_request_set_sensitive(cspf_http_request *req, bool on)
{
	req->sensitive = on || req->body_secret;
}

void cspf_http_request_set_max_attempts(cspf_http_request *req,
	unsigned int n)
{
	req->max_attempts = n;
}

int cspf_http_request_set_action(cspf_http_request *req, const char *action)
{
	char *a = NULL;

	if (action && !(a = strdup(action)))
		return cspf_error_set_oom();
	free(req->action);
	req->action = a;
	return 0;
}

void cspf_http_request_set_prepare(cspf_http_request *req,
	cspf_http_prepare_cb cb, void *payload)
{
	req->prepare = cb;
	req->prepare_payload = payload;
}

void cspf_http_request_set_classify(cspf_http_request *req,
	cspf_http_classify_cb cb, void *payload)
{
	req->classify = cb;
	req->classify_payload = payload;
}

const char *cspf_http_request_method(const cspf_http_request *req)
{
	return req->method;
}

const char *cspf_http_request_url(const cspf_http_request *req)
{
	return req->url;
}

const char *cspf_http_request_action(const cspf_http_request *req)
{
	return req->action;
}

const char *cspf_http_request_header(const cspf_http_request *req,
	const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].secret ? NULL :
				req->headers[i].value;
	return NULL;
}

size_t cspf_http_request_header_count(const cspf_http_request *req)
{
	return req->nheaders;
}

int cspf_http_request_header_at(const char **name, const char **value,
	bool *secret, const cspf_http_request *req, size_t i)
{
	if (i >= req->nheaders)
		return CSPF_ENOTFOUND;
	*name = req->headers[i].name;
	*value = req->headers[i].secret ? NULL : req->headers[i].value;
	if (secret)
		*secret = req->headers[i].secret != NULL;
	return 0;
}

bool cspf_http_request_sensitive(const cspf_http_request *req)
{
	return req->sensitive;
}

int cspf_http_request_body_open(const unsigned char **data, size_t *len,
	const cspf_http_request *req)
{
	if (req->body_secret)
		return cspf_secret_open(data, len, req->body_secret);
	*data = req->body ? req->body : (const unsigned char *)"";
	*len = req->body_len;
	return 0;
}

void cspf_http_request_body_close(const cspf_http_request *req)
{
	if (req->body_secret)
		cspf_secret_close(req->body_secret);
}

unsigned int cspf_http_request_attempt(const cspf_http_request *req)
{
	return req->attempt;
}

int cspf_http_request_set_query_param(cspf_http_request *req,
	const char *name, const char *value)
{
	char *u;
	int rc;

	if ((rc = cspf_http_url_set_param(&u, req->url, name, value)) < 0)
		return rc;
	free(req->url);
	req->url = u;
	return 0;
}

int cspf_http_request_set_form_param(cspf_http_request *req,
	const char *name, const char *value)
{
	cspf_buf b = CSPF_BUF_INIT;
	int rc;

	if (req->body_secret)
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"http: cannot edit a sensitive form");
	rc = set_param(&b, (const char *)req->body, req->body_len, name,
		value);
	if (rc == 0)
		rc = cspf_http_request_set_body(req, b.ptr, b.size);
	cspf_buf_dispose(&b);
	return rc;
}

int cspf_http_request_follow_link(cspf_http_request *req,
	const char *next_link)
{
	char *shown;

	if (!cspf_http_url_same_origin(req->url, next_link)) {
		shown = next_link ? cspf_http_url_display(next_link) : NULL;
		cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
			"http: refusing to follow a next link to %s: not the "
			"scheme, host and port of the first request",
			shown ? shown : "(none)");
		free(shown);
		return CSPF_EINVALID;
	}
	return cspf_http_request_set_url(req, next_link);
}

struct curl_slist *cspf_http_request_slist(const cspf_http_request *req)
{
	struct curl_slist *l = NULL, *n;
	size_t i;

	/*
	 * A secret header is built in guarded memory so the only plain copy
	 * is curl's; the buffer is this thread's scratch, zeroed after each
	 * use, as a new guarded mapping per header per attempt cost more
	 * than the request.
	 */
	static _Thread_local cspf_sbuf scratch = CSPF_SBUF_INIT;

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		cspf_buf plain = CSPF_BUF_INIT;

		if (h->secret) {
			cspf_sbuf_reset(&scratch);
			cspf_sbuf_puts(&scratch, h->name);
			cspf_sbuf_puts(&scratch, ": ");
			cspf_sbuf_puts(&scratch, h->value);
			cspf_sbuf_put_secret(&scratch, h->secret);
			n = scratch.oom ? NULL : curl_slist_append(l,
				(const char *)scratch.ptr);
			cspf_sbuf_reset(&scratch);
		} else {
			cspf_buf_printf(&plain, "%s%s%s", h->name,
				h->value[0] ? ": " : ";", h->value);
			n = cspf_buf_oom(&plain) ? NULL :
				curl_slist_append(l, plain.ptr);
			cspf_buf_dispose(&plain);
		}
		if (!n) {
			cspf_http_slist_free(l);
			return NULL;
		}
		l = n;
	}
	/* Headers libcurl would add on its own, unasked. */
	if (!cspf_http_request_header(req, "Expect") &&
		(n = curl_slist_append(l, "Expect:")))
		l = n;
	if (!cspf_http_request_header(req, "Content-Type") &&
		(n = curl_slist_append(l, "Content-Type:")))
		l = n;
	return l;
}

void cspf_http_slist_free(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p; p = p->next)
		if (p->data)
			sodium_memzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* Responses. */

cspf_http_response *cspf_http_response_alloc(bool sensitive, size_t max)
{
	cspf_http_response *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->sensitive = sensitive;
	r->max = max;
	r->body = (cspf_buf)CSPF_BUF_INIT;
	r->sbody = (cspf_sbuf)CSPF_SBUF_INIT;
	return r;
}

static void rheaders_clear(cspf_http_response *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->nheaders = 0;
}

void cspf_http_response_header_line(cspf_http_response *r, const char *line,
	size_t len)
{
	const char *colon;
	size_t nlen, vs, ve;
	struct http_rheader h;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		rheaders_clear(r); /* a new response (after 100, a redirect) */
		return;
	}
	colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return;
	nlen = (size_t)(colon - line);
	vs = nlen + 1;
	ve = len;
	while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
		vs++;
	while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
		ve--;
	if (r->nheaders == r->aheaders) {
		size_t n = r->aheaders ? r->aheaders * 2 : 16;
		struct http_rheader *p = realloc(r->headers, n * sizeof(*p));

		if (!p)
			return;
		r->headers = p;
		r->aheaders = n;
	}
	h.name = strndup(line, nlen);
	h.value = strndup(line + vs, ve - vs);
	if (!h.name || !h.value) {
		free(h.name);
		free(h.value);
		return;
	}
	r->headers[r->nheaders++] = h;
}

bool cspf_http_response_append(cspf_http_response *r, const char *data,
	size_t len)
{
	size_t have = r->sensitive ? r->sbody.size : r->body.size;

	if (len > r->max || have > r->max - len) {
		r->too_big = true;
		return false;
	}
	if (r->sensitive)
		return cspf_sbuf_put(&r->sbody, data, len) == 0;
	return cspf_buf_put(&r->body, data, len) == 0;
}

int cspf_http_response_finish(cspf_http_response *r)
{
	if (!r->sensitive)
		return cspf_buf_oom(&r->body) ? cspf_error_set_oom() : 0;
	if (r->secret)
		return 0;
	return cspf_sbuf_to_secret(&r->secret, &r->sbody);
}

void cspf_http_response_free(cspf_http_response *r)
{
	if (!r)
		return;
	rheaders_clear(r);
	free(r->headers);
	cspf_buf_dispose(&r->body);
	cspf_sbuf_dispose(&r->sbody);
	cspf_secret_free(r->secret);
	free(r->url);
	free(r);
}

int cspf_http_response_status(const cspf_http_response *r)
{
	return r->status;
}

const char *cspf_http_response_header(const cspf_http_response *r,
	const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

size_t cspf_http_response_header_count(const cspf_http_response *r)
{
	return r->nheaders;
}

int cspf_http_response_header_at(const char **name, const char **value,
	const cspf_http_response *r, size_t i)
{
	if (i >= r->nheaders)
		return CSPF_ENOTFOUND;
	*name = r->headers[i].name;
	*value = r->headers[i].value;
	return 0;
}

const char *cspf_http_response_body(const cspf_http_response *r,
	size_t *len)
{
	if (r->sensitive) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = r->body.size;
	return r->body.ptr;
}

int cspf_http_response_body_open(const char **data, size_t *len,
	const cspf_http_response *r)
{
	const unsigned char *p;

	if (!r->sensitive) {
		*data = r->body.ptr;
		*len = r->body.size;
		return 0;
	}
	if (!r->secret) {
		*data = "";
		*len = 0;
		return r->taken ? cspf_error_set(CSPF_ENOTFOUND,
			CSPF_ERRCLASS_INVALID, "http: the body was taken") : 0;
	}
	if (cspf_secret_open(&p, len, r->secret) < 0)
		return CSPF_ERROR;
	*data = (const char *)p;
	return 0;
}

void cspf_http_response_body_close(const cspf_http_response *r)
{
	if (r->sensitive && r->secret)
		cspf_secret_close(r->secret);
}

int cspf_http_response_take_secret(cspf_secret **out, cspf_http_response *r)
{
	*out = NULL;
	if (!r->sensitive || !r->secret)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"http: no sensitive body to take");
	*out = r->secret;
	r->secret = NULL;
	r->taken = true;
	return 0;
}

bool cspf_http_response_sensitive(const cspf_http_response *r)
{
	return r->sensitive;
}

unsigned int cspf_http_response_attempts(const cspf_http_response *r)
{
	return r->attempts;
}

double cspf_http_response_total_time(const cspf_http_response *r)
{
	return r->total_time;
}

const char *cspf_http_response_url(const cspf_http_response *r)
{
	return r->url;
}

int64_t cspf_http_retry_after_ms(const cspf_http_response *r, int64_t now)
{
	const char *v = cspf_http_response_header(r, "Retry-After");
	struct tm tm;
	const char *end;
	char *e;
	long long s;

	if (!v || !*v)
		return -1;
	if (isdigit((unsigned char)v[0])) {
		s = strtoll(v, &e, 10);
		if (*e || s < 0)
			return -1;
		if (s > 86400)
			s = 86400;
		return (int64_t)s * 1000;
	}
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -1;
	s = (long long)timegm(&tm) - now;
	if (s < 0)
		s = 0;
	if (s > 86400)
		s = 86400;
	return (int64_t)s * 1000;
}
