#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 512

struct conn {
	httpd *h;
	int fd;
	unsigned int id;
	pthread_t thread;
};

struct httpd {
	httpd_handler handler;
	void *payload;
	int lfd;
	char url[64];
	pthread_t thread;
	pthread_mutex_t mu, user_mu;
	volatile int stop;
	struct conn *conns[MAX_CONNS];
	unsigned int nconns;
	unsigned int requests, inflight, max_inflight;
};

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

const char *httpd_header(const httpd_request *req, const char *name,
	char *buf, size_t size)
{
	const char *p = req->headers;
	size_t n = strlen(name);

	while (*p) {
		const char *eol = strstr(p, "\r\n");

		if (!eol)
			break;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = (size_t)(eol - v);
			if (len >= size)
				len = size - 1;
			memcpy(buf, v, len);
			buf[len] = '\0';
			return buf;
		}
		p = eol + 2;
	}
	return NULL;
}

void httpd_body(httpd_response *resp, const char *s)
{
	free(resp->body);
	resp->body = strdup(s);
	resp->body_len = strlen(s);
}

static const char *reason(int s)
{
	switch (s) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Whatever";
	}
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	httpd *h = c->h;
	char *buf = malloc(65536);
	size_t have = 0, cap = 65536;
	unsigned int seq = 0;

	for (;;) {
		char *end, *line, *p;
		size_t head, clen = 0, total;
		httpd_request *req;
		httpd_response resp;
		char out[8192];
		int n;

		/* Read a head. */
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			ssize_t r;

			if (have == cap)
				goto done;
			r = recv(c->fd, buf + have, cap - have, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto done;
			have += (size_t)r;
		}
		head = (size_t)(end - buf) + 4;
		req = calloc(1, sizeof(*req));
		buf[head - 2] = '\0';
		line = buf;
		p = strstr(line, "\r\n");
		*p = '\0';
		sscanf(line, "%15s %4095s", req->method, req->target);
		snprintf(req->headers, sizeof(req->headers), "%s", p + 2);
		{
			char v[64];

			if (httpd_header(req, "Content-Length", v, sizeof(v)))
				clen = strtoul(v, NULL, 10);
		}
		total = head + clen;
		while (have < total) {
			ssize_t r;

			if (total > cap) {
				cap = total;
				buf = realloc(buf, cap);
			}
			r = recv(c->fd, buf + have, cap - have, 0);
			if (r <= 0) {
				free(req);
				goto done;
			}
			have += (size_t)r;
		}
		req->body = malloc(clen + 1);
		memcpy(req->body, buf + head, clen);
		req->body[clen] = '\0';
		req->body_len = clen;
		memmove(buf, buf + total, have - total);
		have -= total;
		req->conn = c->id;
		req->seq = ++seq;

		pthread_mutex_lock(&h->mu);
		req->n = ++h->requests;
		if (++h->inflight > h->max_inflight)
			h->max_inflight = h->inflight;
		pthread_mutex_unlock(&h->mu);

		memset(&resp, 0, sizeof(resp));
		resp.status = 200;
		h->handler(req, &resp, h->payload);
		if (resp.delay_ms)
			msleep(resp.delay_ms);
		if (resp.body && !resp.body_len)
			resp.body_len = strlen(resp.body);

		pthread_mutex_lock(&h->mu);
		h->inflight--;
		pthread_mutex_unlock(&h->mu);

		free(req->body);
		free(req);
		if (resp.drop == HTTPD_DROP_BEFORE) {
			free(resp.body);
			goto done;
		}
		n = snprintf(out, sizeof(out),
			"HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n",
			resp.status, reason(resp.status),
			resp.drop == HTTPD_DROP_MIDWAY ? resp.body_len + 100 :
				resp.body_len, resp.headers);
		if (send_all(c->fd, out, (size_t)n) < 0 ||
			(resp.body_len && send_all(c->fd, resp.body,
				resp.drop == HTTPD_DROP_MIDWAY ?
				resp.body_len / 2 : resp.body_len) < 0)) {
			free(resp.body);
			goto done;
		}
		free(resp.body);
		if (resp.drop == HTTPD_DROP_MIDWAY)
			goto done;
	}
done:
	free(buf);
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *accepter(void *arg)
{
	httpd *h = arg;

	while (!h->stop) {
		struct pollfd pfd = { h->lfd, POLLIN, 0 };
		struct conn *c;
		int fd, one = 1;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(h->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&h->mu);
		if (h->nconns == MAX_CONNS) {
			pthread_mutex_unlock(&h->mu);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		c->h = h;
		c->fd = fd;
		c->id = h->nconns + 1;
		h->conns[h->nconns++] = c;
		pthread_mutex_unlock(&h->mu);
		pthread_create(&c->thread, NULL, serve, c);
	}
	return NULL;
}

httpd *httpd_start(httpd_handler handler, void *payload)
{
	httpd *h = calloc(1, sizeof(*h));
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	h->handler = handler;
	h->payload = payload;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->user_mu, NULL);
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(h->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		listen(h->lfd, 128) < 0 ||
		getsockname(h->lfd, (struct sockaddr *)&a, &alen) < 0) {
		perror("httpd");
		abort();
	}
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u",
		(unsigned int)ntohs(a.sin_port));
	pthread_create(&h->thread, NULL, accepter, h);
	return h;
}

void httpd_stop(httpd *h)
{
	unsigned int i;

	if (!h)
		return;
	h->stop = 1;
	pthread_join(h->thread, NULL);
	for (i = 0; i < h->nconns; i++)
		shutdown(h->conns[i]->fd, SHUT_RDWR);
	for (i = 0; i < h->nconns; i++) {
		pthread_join(h->conns[i]->thread, NULL);
		close(h->conns[i]->fd);
		free(h->conns[i]);
	}
	close(h->lfd);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->user_mu);
	free(h);
}

const char *httpd_url(const httpd *h)
{
	return h->url;
}

unsigned int httpd_connections(httpd *h)
{
	unsigned int n;

	pthread_mutex_lock(&h->mu);
	n = h->nconns;
	pthread_mutex_unlock(&h->mu);
	return n;
}

unsigned int httpd_requests(httpd *h)
{
	unsigned int n;

	pthread_mutex_lock(&h->mu);
	n = h->requests;
	pthread_mutex_unlock(&h->mu);
	return n;
}

unsigned int httpd_max_inflight(httpd *h)
{
	unsigned int n;

	pthread_mutex_lock(&h->mu);
	n = h->max_inflight;
	pthread_mutex_unlock(&h->mu);
	return n;
}

void httpd_lock(httpd *h)
{
	pthread_mutex_lock(&h->user_mu);
}

void httpd_unlock(httpd *h)
{
	pthread_mutex_unlock(&h->user_mu);
}
