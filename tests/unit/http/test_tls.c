/*
 * TLS: certificates are always verified.  A loopback TLS server with a
 * self-signed certificate is refused by default, trusted with the
 * certificate as an extra CA file (or as CURL_CA_BUNDLE), and refused
 * again when its certificate names another host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cspf/http.h"
#include "tlsd.h"

static char dir[256];

static int make_cert(const char *name, const char *san)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 "
		"-nodes -keyout %s/%s.key -out %s/%s.pem -days 2 "
		"-subj /CN=cspf-test -addext subjectAltName=%s "
		">/dev/null 2>&1", dir, name, dir, name, san);
	return system(cmd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cspf-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (make_cert("good", "DNS:localhost,IP:127.0.0.1") != 0 ||
		make_cert("other", "DNS:other.example") != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int get(cspf_http_client *c, const char *url, int *status)
{
	cspf_http_request *r;
	cspf_http_response *resp;
	int rc;

	assert_int_equal(cspf_http_request_new(&r, "GET", url), 0);
	rc = cspf_http_perform(&resp, c, r);
	*status = rc == 0 ? cspf_http_response_status(resp) : 0;
	if (rc == 0) {
		assert_string_equal(cspf_http_response_body(resp, NULL),
			"tls ok");
		assert_int_equal(cspf_http_response_attempts(resp), 1);
	}
	cspf_http_response_free(resp);
	cspf_http_request_free(r);
	return rc;
}

static void test_verification(void **state)
{
	char cert[300], key[300], url[128];
	cspf_http_options o = CSPF_HTTP_OPTIONS_INIT;
	cspf_http_client *c;
	tlsd *t;
	int status;

	(void)state;
	snprintf(cert, sizeof(cert), "%s/good.pem", dir);
	snprintf(key, sizeof(key), "%s/good.key", dir);
	t = tlsd_start(cert, key);
	snprintf(url, sizeof(url), "%s/x", tlsd_url(t));

	/* self-signed: refused, and not retried */
	unsetenv("CURL_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
	o.backoff_base_ms = 1;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	assert_true(get(c, url, &status) < 0);
	assert_non_null(strstr(cspf_error_last()->message, "1 attempt"));
	assert_non_null(strstr(cspf_error_last()->message, "certificate"));
	cspf_http_free(c);
	assert_int_equal(tlsd_handshakes(t), 0);

	/* trusted as an extra CA file */
	o.ca_file = cert;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	assert_int_equal(get(c, url, &status), 0);
	assert_int_equal(status, 200);
	cspf_http_free(c);

	/* or as the bundle */
	o.ca_file = NULL;
	setenv("CURL_CA_BUNDLE", cert, 1);
	assert_int_equal(cspf_http_new(&c, &o), 0);
	unsetenv("CURL_CA_BUNDLE");
	assert_int_equal(get(c, url, &status), 0);
	cspf_http_free(c);
	tlsd_stop(t);

	/* trusted, but for another name: refused */
	snprintf(cert, sizeof(cert), "%s/other.pem", dir);
	snprintf(key, sizeof(key), "%s/other.key", dir);
	t = tlsd_start(cert, key);
	snprintf(url, sizeof(url), "%s/x", tlsd_url(t));
	o.ca_file = cert;
	assert_int_equal(cspf_http_new(&c, &o), 0);
	assert_true(get(c, url, &status) < 0);
	cspf_http_free(c);
	tlsd_stop(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verification),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
