#include "tlsd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct tlsd {
	SSL_CTX *ctx;
	int lfd;
	char url[64];
	pthread_t thread;
	volatile int stop;
	pthread_mutex_t mu;
	unsigned int handshakes;
};

static void serve(tlsd *t, int fd)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
		"Connection: close\r\n\r\ntls ok";
	SSL *ssl = SSL_new(t->ctx);
	char buf[8192];
	size_t have = 0;
	int n;

	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		pthread_mutex_lock(&t->mu);
		t->handshakes++;
		pthread_mutex_unlock(&t->mu);
		while (have < sizeof(buf) - 1 &&
			(n = SSL_read(ssl, buf + have,
				(int)(sizeof(buf) - 1 - have))) > 0) {
			have += (size_t)n;
			buf[have] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		SSL_write(ssl, answer, (int)strlen(answer));
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	ERR_clear_error();
	close(fd);
}

static void *loop(void *arg)
{
	tlsd *t = arg;

	while (!t->stop) {
		struct pollfd p = { t->lfd, POLLIN, 0 };
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(t->lfd, NULL, NULL);
		if (fd >= 0)
			serve(t, fd);
	}
	return NULL;
}

tlsd *tlsd_start(const char *cert_file, const char *key_file)
{
	tlsd *t = calloc(1, sizeof(*t));
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx ||
		SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1 ||
		SSL_CTX_use_PrivateKey_file(t->ctx, key_file,
			SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "tlsd: cannot load %s\n", cert_file);
		abort();
	}
	pthread_mutex_init(&t->mu, NULL);
	/*
	 * The server answers clients that may have hung up already (a test
	 * of timeouts): a write to them must fail, not kill the test.
	 */
	signal(SIGPIPE, SIG_IGN);
	t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(t->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		listen(t->lfd, 16) < 0 ||
		getsockname(t->lfd, (struct sockaddr *)&a, &alen) < 0)
		abort();
	snprintf(t->url, sizeof(t->url), "https://127.0.0.1:%u",
		(unsigned int)ntohs(a.sin_port));
	pthread_create(&t->thread, NULL, loop, t);
	return t;
}

void tlsd_stop(tlsd *t)
{
	t->stop = 1;
	pthread_join(t->thread, NULL);
	close(t->lfd);
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

const char *tlsd_url(const tlsd *t)
{
	return t->url;
}

unsigned int tlsd_handshakes(tlsd *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->mu);
	n = t->handshakes;
	pthread_mutex_unlock(&t->mu);
	return n;
}
