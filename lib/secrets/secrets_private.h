/*
 * Inside lib/secrets: the walker (secrets.c) hands each string to the
 * detectors (detect.c), which report what they find through a callback.
 * A detector never copies a secret: it reports an offset and a length
 * into the string it was given.
 */
#ifndef CSPF_SECRETS_PRIVATE_H
#define CSPF_SECRETS_PRIVATE_H

#include <stddef.h>

#include "cspf/secrets.h"

/* The rules, in the order of cspf_secrets_rules(). */
enum {
	SECRETS_AWS_ACCESS_KEY_ID = 0,
	SECRETS_AWS_SECRET_ACCESS_KEY,
	SECRETS_PRIVATE_KEY,
	SECRETS_GCP_SERVICE_ACCOUNT_KEY,
	SECRETS_GITHUB_TOKEN,
	SECRETS_SLACK_TOKEN,
	SECRETS_SLACK_WEBHOOK,
	SECRETS_AZURE_STORAGE_KEY,
	SECRETS_AZURE_SAS_TOKEN,
	SECRETS_AZURE_CLIENT_SECRET,
	SECRETS_JWT,
	SECRETS_URL_PASSWORD,
	SECRETS_CONNECTION_STRING_PASSWORD,
	SECRETS_OTP_SEED,
	SECRETS_PASSWORD_FIELD,
	SECRETS_SECRET_FIELD,
	SECRETS_HIGH_ENTROPY,
	SECRETS_TEXT_PASSWORD,
	SECRETS_NRULES
};

/* One string to scan, and where it sits. */
typedef struct cspf_secrets_str {
	const char *s;
	size_t len;
	int in_key;	     /* s is a member name, not a value */
	const char *name;    /* the member name s is the value of (for an
			      * array element, the nearest one up); NULL for
			      * a member name or the root */
	size_t name_len;     /* strlen(name) */
	int direct;	     /* s is that member's value, not in an array
			      * under it: rules that go by the name need it */
	const cJSON *object; /* the object holding that member, or NULL */
	double threshold;    /* entropy_threshold, the default applied */

	/*
	 * Is s in a field the options call an identifier?  Asked lazily,
	 * only when a detector's answer depends on it.
	 */
	int (*is_identifier)(void *payload);

	/*
	 * Report the secret at s[off, off + len) under `rule`, described as
	 * `kind` (a static string).  Returns 0, or negative on failure with
	 * the error raised.
	 */
	int (*report)(void *payload, int rule, const char *kind, size_t off,
		size_t len);
	void *payload;
} cspf_secrets_str;

/*
 * Run every detector over `str`.  Returns the number of secrets reported
 * (allowlisted ones included), or the first negative code `report` gave.
 */
int cspf_secrets_detect(const cspf_secrets_str *str);

/* Set up the detectors' tables once; 0, or -1 when libsodium fails. */
int cspf_secrets_init(void);

#endif
