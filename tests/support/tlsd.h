/*
 * A TLS server on 127.0.0.1 for unit tests (OpenSSL): answers every
 * request with 200 "tls ok"; counts handshakes that succeeded.
 */
#ifndef CSPF_TEST_TLSD_H
#define CSPF_TEST_TLSD_H

typedef struct tlsd tlsd;

tlsd *tlsd_start(const char *cert_file, const char *key_file);
void tlsd_stop(tlsd *t);
/* "https://127.0.0.1:PORT" */
const char *tlsd_url(const tlsd *t);
unsigned int tlsd_handshakes(tlsd *t);

#endif
