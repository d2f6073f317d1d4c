/*
 * AWS Signature Version 4, as the AWS documentation and its test suite
 * define it: canonical request (URI-encoded path and query, sorted query,
 * lower-cased sorted headers with trimmed values, payload hash), string
 * to sign, and the HMAC-SHA256 key derivation, all with libsodium.  The
 * canonical request may hold a session token: it is built in guarded
 * memory, and so is the key "AWS4" + secret.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "aws_private.h"
#include "util/error.h"
#include "util/banned.h"

void cspf_aws_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		c == '~';
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

/* Encode bytes; '/' kept when `slash`; %XX decoded first when `decode`. */
static void encode(cspf_buf *b, const char *s, size_t len, bool slash,
	bool decode)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (decode && c == '%' && i + 2 < len + 0 &&
			hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			c = (unsigned char)(hexval(s[i + 1]) * 16 +
				hexval(s[i + 2]));
			i += 2;
		}
		if (unreserved(c) || (slash && c == '/')) {
			cspf_buf_putc(b, (char)c);
		} else {
			cspf_buf_putc(b, '%');
			cspf_buf_putc(b, hex[c >> 4]);
			cspf_buf_putc(b, hex[c & 15]);
		}
	}
}

/*
 * The canonical URI.  Other services: dot segments and empty segments
 * removed, then every byte encoded (so a %XX of the wire path is encoded
 * again, as AWS's SDKs do).  S3: as it is, encoded once.
 */
static void canonical_uri(cspf_buf *b, const char *path, bool s3)
{
	size_t len = path ? strlen(path) : 0, i = 0, j, n = 0, k;
	struct { const char *p; size_t n; } seg[256];
	bool trailing;

	if (!len) {
		cspf_buf_putc(b, '/');
		return;
	}
	if (s3) {
		encode(b, path, len, true, true);
		return;
	}
	trailing = path[len - 1] == '/';
	while (i < len) {
		for (j = i; j < len && path[j] != '/'; j++)
			;
		if (j - i == 0 || (j - i == 1 && path[i] == '.')) {
			/* skip */
		} else if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (n)
				n--;
		} else if (n < sizeof(seg) / sizeof(*seg)) {
			seg[n].p = path + i;
			seg[n].n = j - i;
			n++;
		}
		i = j + 1;
	}
	/* A path ending in "." or ".." names a directory. */
	if (len >= 2 && path[len - 1] == '.' && (path[len - 2] == '/' ||
		(path[len - 2] == '.' && len >= 3 && path[len - 3] == '/')))
		trailing = true;
	for (k = 0; k < n; k++) {
		cspf_buf_putc(b, '/');
		encode(b, seg[k].p, seg[k].n, false, false);
	}
	if (!n || trailing)
		cspf_buf_putc(b, '/');
}

struct qparam {
	char *kv; /* "key=value", encoded */
	size_t klen;
};

static int qcmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->kv, y->kv, n);

	if (c)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return strcmp(x->kv + x->klen, y->kv + y->klen);
}

static int canonical_query(cspf_buf *out, const char *q)
{
	struct qparam *p = NULL;
	size_t n = 0, a = 0, i = 0, j, len = q ? strlen(q) : 0, k;
	int rc = 0;

	while (i < len) {
		const char *eq;
		cspf_buf b = CSPF_BUF_INIT;

		for (j = i; j < len && q[j] != '&'; j++)
			;
		if (j == i) {
			i = j + 1;
			continue;
		}
		eq = memchr(q + i, '=', j - i);
		encode(&b, q + i, eq ? (size_t)(eq - q - i) : j - i, false,
			true);
		k = b.size;
		cspf_buf_putc(&b, '=');
		if (eq)
			encode(&b, eq + 1, (size_t)(q + j - eq - 1), false,
				true);
		if (n == a) {
			struct qparam *np;

			a = a ? a * 2 : 16;
			np = realloc(p, a * sizeof(*p));
			if (!np) {
				cspf_buf_dispose(&b);
				rc = -1;
				goto out;
			}
			p = np;
		}
		p[n].klen = k;
		p[n].kv = cspf_buf_detach(&b);
		if (!p[n].kv) {
			rc = -1;
			goto out;
		}
		n++;
		i = j + 1;
	}
	if (n)
		qsort(p, n, sizeof(*p), qcmp);
	for (k = 0; k < n; k++) {
		if (k)
			cspf_buf_putc(out, '&');
		cspf_buf_puts(out, p[k].kv);
	}
out:
	for (k = 0; k < n; k++)
		free(p[k].kv);
	free(p);
	return rc;
}

struct hdr {
	char *name; /* lower case */
	const char *value;
	size_t order;
};

static int hcmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Append `v` trimmed, runs of white space as one space. */
static void put_trimmed(cspf_sbuf *b, const char *v)
{
	bool space = false, any = false;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
			space = any;
			continue;
		}
		if (space)
			cspf_sbuf_putc(b, ' ');
		space = false;
		any = true;
		cspf_sbuf_putc(b, *v);
	}
}

static void hmac(unsigned char out[32], const void *key, size_t klen,
	const void *msg, size_t mlen)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, msg, mlen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void cspf_aws_sigv4_result_dispose(cspf_aws_sigv4_result *r)
{
	if (!r)
		return;
	if (r->canonical_request) {
		sodium_memzero(r->canonical_request,
			strlen(r->canonical_request));
		free(r->canonical_request);
	}
	free(r->string_to_sign);
	free(r->signed_headers);
	free(r->authorization);
	memset(r, 0, sizeof(*r));
}

int cspf_aws_sigv4_sign(cspf_aws_sigv4_result *out,
	const cspf_aws_sigv4_request *req, const char *access_key_id,
	const cspf_secret *secret_key, bool want_canonical)
{
	cspf_buf uri = CSPF_BUF_INIT, query = CSPF_BUF_INIT;
	cspf_buf sh = CSPF_BUF_INIT, sts = CSPF_BUF_INIT, auth = CSPF_BUF_INIT;
	/*
	 * The canonical request (it holds the session token) and the key
	 * are built in this thread's guarded scratch buffers, zeroed after
	 * each signature: a new guarded mapping per signature cost more
	 * than the HTTP call.
	 */
	static _Thread_local cspf_sbuf creq_scratch = CSPF_SBUF_INIT;
	static _Thread_local cspf_sbuf key_scratch = CSPF_SBUF_INIT;
	cspf_sbuf creq = creq_scratch, key = key_scratch;
	struct hdr *h = NULL;
	const char *amz_date = NULL;
	char payload[65], creq_hash[65], date[9];
	unsigned char k1[32], k2[32];
	size_t i, n = req ? req->nheaders : 0;
	int rc = CSPF_ERROR;

	memset(out, 0, sizeof(*out));
	if (!req || req->version != CSPF_AWS_SIGV4_REQUEST_VERSION ||
		!req->method || !req->region || !req->service ||
		!access_key_id || !secret_key)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sigv4: method, region, service and keys are needed");
	for (i = 0; i < n; i++)
		if (!strcasecmp(req->headers[i].name, "x-amz-date"))
			amz_date = req->headers[i].value;
	if (!amz_date || strlen(amz_date) != 16 || amz_date[8] != 'T')
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sigv4: no X-Amz-Date header of the form "
			"YYYYMMDDTHHMMSSZ");
	memcpy(date, amz_date, 8);
	date[8] = '\0';

	canonical_uri(&uri, req->path, req->flags & CSPF_AWS_SIGV4_S3);
	if (canonical_query(&query, req->query) < 0 || cspf_buf_oom(&uri) ||
		cspf_buf_oom(&query)) {
		rc = cspf_error_set_oom();
		goto out;
	}
	if (req->payload_hash)
		snprintf(payload, sizeof(payload), "%s", req->payload_hash);
	else
		cspf_aws_sha256_hex(payload, req->body ? req->body : "",
			req->body_len);

	h = calloc(n ? n : 1, sizeof(*h));
	if (!h) {
		rc = cspf_error_set_oom();
		goto out;
	}
	for (i = 0; i < n; i++) {
		char *p;

		h[i].name = strdup(req->headers[i].name);
		if (!h[i].name) {
			rc = cspf_error_set_oom();
			goto out;
		}
		for (p = h[i].name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		h[i].value = req->headers[i].value ? req->headers[i].value : "";
		h[i].order = i;
	}
	qsort(h, n, sizeof(*h), hcmp);

	cspf_sbuf_puts(&creq, req->method);
	cspf_sbuf_putc(&creq, '\n');
	cspf_sbuf_put(&creq, uri.ptr, uri.size);
	cspf_sbuf_putc(&creq, '\n');
	cspf_sbuf_put(&creq, query.ptr, query.size);
	cspf_sbuf_putc(&creq, '\n');
	for (i = 0; i < n; i++) {
		if (i && !strcmp(h[i].name, h[i - 1].name)) {
			cspf_sbuf_putc(&creq, ',');
		} else {
			if (i) {
				cspf_sbuf_putc(&creq, '\n');
				cspf_buf_putc(&sh, ';');
			}
			cspf_sbuf_puts(&creq, h[i].name);
			cspf_sbuf_putc(&creq, ':');
			cspf_buf_puts(&sh, h[i].name);
		}
		put_trimmed(&creq, h[i].value);
	}
	cspf_sbuf_puts(&creq, n ? "\n\n" : "\n");
	cspf_sbuf_put(&creq, sh.ptr, sh.size);
	cspf_sbuf_putc(&creq, '\n');
	cspf_sbuf_puts(&creq, payload);
	if (creq.oom || cspf_buf_oom(&sh)) {
		rc = cspf_error_set_oom();
		goto out;
	}
	cspf_aws_sha256_hex(creq_hash, creq.ptr, creq.size);

	cspf_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
		amz_date, date, req->region, req->service, creq_hash);

	cspf_sbuf_puts(&key, "AWS4");
	cspf_sbuf_put_secret(&key, secret_key);
	if (key.oom || cspf_buf_oom(&sts)) {
		rc = cspf_error_set_oom();
		goto out;
	}
	hmac(k1, key.ptr, key.size, date, 8);
	hmac(k2, k1, 32, req->region, strlen(req->region));
	hmac(k1, k2, 32, req->service, strlen(req->service));
	hmac(k2, k1, 32, "aws4_request", 12);
	hmac(k1, k2, 32, sts.ptr, sts.size);
	sodium_bin2hex(out->signature, sizeof(out->signature), k1, 32);

	cspf_buf_printf(&auth, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/"
		"aws4_request, SignedHeaders=%s, Signature=%s", access_key_id,
		date, req->region, req->service, sh.ptr, out->signature);
	if (want_canonical)
		out->canonical_request = strdup((const char *)creq.ptr);
	out->string_to_sign = cspf_buf_detach(&sts);
	out->signed_headers = cspf_buf_detach(&sh);
	out->authorization = cspf_buf_detach(&auth);
	if (!out->string_to_sign || !out->signed_headers ||
		!out->authorization || (want_canonical &&
			!out->canonical_request)) {
		cspf_aws_sigv4_result_dispose(out);
		rc = cspf_error_set_oom();
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	for (i = 0; h && i < n; i++)
		free(h[i].name);
	free(h);
	cspf_buf_dispose(&uri);
	cspf_buf_dispose(&query);
	cspf_buf_dispose(&sh);
	cspf_buf_dispose(&sts);
	cspf_buf_dispose(&auth);
	cspf_sbuf_reset(&creq);
	cspf_sbuf_reset(&key);
	creq_scratch = creq;
	key_scratch = key;
	return rc;
}

/* The signer, as a prepare hook. */

struct cspf_aws_signer {
	cspf_aws_credentials *creds;
	char *service;
	char *region;
	unsigned int flags;
};

int cspf_aws_signer_new(cspf_aws_signer **out, cspf_aws_credentials *creds,
	const char *service, const char *region, unsigned int flags)
{
	cspf_aws_signer *s;

	*out = NULL;
	if (!creds || !service || !region)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"sigv4: a signer needs credentials, service and region");
	s = calloc(1, sizeof(*s));
	if (!s)
		return cspf_error_set_oom();
	s->service = strdup(service);
	s->region = strdup(region);
	s->flags = flags;
	if (!s->service || !s->region) {
		cspf_aws_signer_free(s);
		return cspf_error_set_oom();
	}
	s->creds = cspf_aws_credentials_ref(creds);
	*out = s;
	return 0;
}

void cspf_aws_signer_free(cspf_aws_signer *s)
{
	if (!s)
		return;
	cspf_aws_credentials_free(s->creds);
	free(s->service);
	free(s->region);
	free(s);
}

static bool signed_header(const char *name)
{
	return !strcasecmp(name, "content-type") ||
		!strcasecmp(name, "content-md5") ||
		!strncasecmp(name, "x-amz-", 6);
}

int cspf_aws_signer_prepare(cspf_http_request *req, void *payload)
{
	cspf_aws_signer *s = payload;
	cspf_aws_sigv4_request in = CSPF_AWS_SIGV4_REQUEST_INIT;
	cspf_aws_sigv4_result res;
	cspf_aws_header *hs = NULL;
	cspf_buf host = CSPF_BUF_INIT;
	const cspf_secret *token;
	const unsigned char *body = NULL, *tp = NULL;
	size_t blen = 0, tn, i, n = 0, count;
	char amz_date[17], sha[65];
	char *h = NULL, *port = NULL, *path = NULL, *query = NULL;
	CURLU *u = NULL;
	struct tm tm;
	time_t now;
	int rc;

	if ((rc = cspf_aws_credentials_refresh(s->creds)) < 0)
		return rc;
	/*
	 * A signer signs request after request: its key and token stay
	 * readable (guarded, locked) rather than toggled for every use.
	 */
	cspf_secret_hold(cspf_aws_credentials_secret_key(s->creds));
	cspf_secret_hold(cspf_aws_credentials_session_token(s->creds));
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	if ((rc = cspf_http_request_set_header(req, "X-Amz-Date",
		amz_date)) < 0)
		return rc;
	token = cspf_aws_credentials_session_token(s->creds);
	if (token)
		rc = cspf_http_request_set_header_secret(req,
			"X-Amz-Security-Token", NULL, token);
	else
		rc = cspf_http_request_set_header(req, "X-Amz-Security-Token",
			NULL);
	if (rc < 0)
		return rc;
	if ((rc = cspf_http_request_body_open(&body, &blen, req)) < 0)
		return rc;
	if (s->flags & CSPF_AWS_SIGV4_S3) {
		cspf_aws_sha256_hex(sha, body, blen);
		if ((rc = cspf_http_request_set_header(req,
			"x-amz-content-sha256", sha)) < 0)
			goto out;
	}

	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, cspf_http_request_url(req),
		0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_URI,
			"sigv4: cannot parse the request URL");
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	cspf_buf_puts(&host, h);
	if (port)
		cspf_buf_printf(&host, ":%s", port);

	count = cspf_http_request_header_count(req);
	hs = calloc(count + 2, sizeof(*hs));
	if (!hs || cspf_buf_oom(&host)) {
		rc = cspf_error_set_oom();
		goto out;
	}
	hs[n].name = "host";
	hs[n++].value = host.ptr;
	for (i = 0; i < count; i++) {
		const char *name, *value;
		bool secret;

		cspf_http_request_header_at(&name, &value, &secret, req, i);
		if (!signed_header(name))
			continue;
		if (secret) {
			if (strcasecmp(name, "X-Amz-Security-Token") || !token)
				continue;
			if (!tp && cspf_secret_open(&tp, &tn, token) < 0) {
				rc = CSPF_ERROR;
				goto out;
			}
			value = (const char *)tp;
		}
		hs[n].name = name;
		hs[n++].value = value;
	}
	in.method = cspf_http_request_method(req);
	in.path = path;
	in.query = query;
	in.headers = hs;
	in.nheaders = n;
	in.body = body;
	in.body_len = blen;
	in.payload_hash = (s->flags & CSPF_AWS_SIGV4_S3) ? sha : NULL;
	in.region = s->region;
	in.service = s->service;
	in.flags = s->flags;
	rc = cspf_aws_sigv4_sign(&res, &in,
		cspf_aws_credentials_access_key_id(s->creds),
		cspf_aws_credentials_secret_key(s->creds), false);
	if (rc == 0) {
		rc = cspf_http_request_set_header(req, "Authorization",
			res.authorization);
		cspf_aws_sigv4_result_dispose(&res);
	}
out:
	if (tp)
		cspf_secret_close(token);
	cspf_http_request_body_close(req);
	free(hs);
	cspf_buf_dispose(&host);
	curl_free(h);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}
