/*
 * Inside lib/aws: what the files of the module share.
 */
#ifndef CSPF_AWS_PRIVATE_H
#define CSPF_AWS_PRIVATE_H

#include "cspf/aws.h"
#include "util/buf.h"
#include "util/secret.h"

/* Credentials that renew themselves call this (blocking). */
typedef int (*cspf_aws_refresh_fn)(cspf_aws_credentials *c, void *state);

struct cspf_aws_credentials {
	unsigned int refs;
	char *access_key_id;
	cspf_secret *secret_key;
	cspf_secret *session_token;
	int64_t expiration;
	char *source;
	cspf_aws_refresh_fn refresh;
	void *refresh_state;
	void (*refresh_free)(void *state);
};

/* Replace the keys of `c` with those of `from` (which is consumed). */
void cspf_aws_credentials_replace(cspf_aws_credentials *c,
	cspf_aws_credentials *from);

/* Lower-case hex of SHA-256 of `len` bytes, into out[65]. */
void cspf_aws_sha256_hex(char out[65], const void *data, size_t len);

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" to Unix time; -1 when it does not parse. */
int64_t cspf_aws_parse_time(const char *s);

/* The API version of a query-protocol service, or NULL. */
const char *cspf_aws_api_version(const char *service);

/* Set up libxml2 once (scrubbing allocator, no printing). */
void cspf_aws_xml_init(void);

#endif
