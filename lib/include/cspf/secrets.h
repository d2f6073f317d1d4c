/*
 * cspf - secrets: refuse a registry that holds secret material (CSPF 3.2).
 *
 * cspf_secrets_scan() reads every string of a document, member names as
 * well as values, and reports each thing that looks like a secret as a
 * finding: an AWS key, a private key, a token, a password in a connection
 * string, or a string random enough to be a key of an unknown kind.
 *
 * A finding never holds the secret.  Its message names the kind of secret
 * and shows at most its first four characters (fewer for short ones); its
 * fingerprint (BLAKE2b-128 of "rule-id\0" followed by the secret, in hex)
 * identifies the secret without revealing it, and is what an allowlist
 * names.  When a member name is itself a secret, the finding's pointer
 * stops at the object holding the member (so that the pointer does not
 * spell the secret out), while its line and column still point at the
 * name; findings further down that member are reported the same way.
 */
#ifndef CSPF_SECRETS_H
#define CSPF_SECRETS_H

#include "diag.h"
#include "json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A secret known not to be one (a documented example, a test fixture). */
typedef struct cspf_secrets_allow {
	const char *fingerprint; /* 32 hex digits, either case */
	const char *reason;	 /* why; for people, cspf ignores it */
} cspf_secrets_allow;

typedef struct cspf_secrets_options {
	unsigned int version;

	/* Findings whose fingerprint is listed here are not reported. */
	const cspf_secrets_allow *allow;
	size_t nallow;

	/*
	 * JSON pointers of the fields that hold identifiers, such as
	 * "/accountid" or "/credentials/ * /identity/access_key_id" (without
	 * the spaces: a "*" segment matches any one member name or array
	 * index).  A member named by one of them is not checked for
	 * randomness, and may hold an AWS access key ID, which is public;
	 * the detectors of known secret formats still apply to it.
	 */
	const char *const *identifier_pointers;
	size_t nidentifier;

	/*
	 * Bits per character that a string of 64 characters or more must
	 * reach to count as random; shorter strings are held to a bar
	 * 0.7 bits lower for each halving of the length, since a string of
	 * n characters carries at most log2(n) bits per character.  0 means
	 * CSPF_SECRETS_DEFAULT_ENTROPY.
	 */
	double entropy_threshold;
} cspf_secrets_options;

#define CSPF_SECRETS_OPTIONS_VERSION 1
/* clang-format off */
#define CSPF_SECRETS_OPTIONS_INIT \
	{ CSPF_SECRETS_OPTIONS_VERSION, NULL, 0, NULL, 0, 0.0 }
/* clang-format on */

#define CSPF_SECRETS_DEFAULT_ENTROPY 4.8

/*
 * The most findings one document gets; the scan stops there (the
 * document is refused all the same).  It bounds the time a crafted
 * document can take.
 */
#define CSPF_SECRETS_MAX_FINDINGS 100

/* Hex digits of a fingerprint, without the terminating NUL. */
#define CSPF_SECRETS_FINGERPRINT_HEXLEN 32

/*
 * Scan every string of `doc`, values and member names, and append one
 * finding per secret to `out`: severity error, a rule id from
 * cspf_secrets_rules(), file (the document's name), pointer, line and
 * column, a message naming the kind of secret with a redacted prefix and
 * the fingerprint, and the fingerprint in the diagnostic's `fingerprint`.
 * `opts` may be NULL for the defaults.
 *
 * At most CSPF_SECRETS_MAX_FINDINGS findings are appended per document.
 * Returns the number of findings appended (0 when the document is clean),
 * or a negative code with cspf_error_last() set: CSPF_EINVALID for bad
 * options (an unknown version, a malformed identifier pointer, a negative
 * threshold), CSPF_ERROR when out of memory.  On failure nothing is
 * appended.  Thread-safe; documents may be scanned concurrently.
 */
int cspf_secrets_scan(cspf_diags *out, const cspf_json_doc *doc,
	const cspf_secrets_options *opts);

/*
 * The fingerprint that rule `rule` gives the secret at `secret` (`len`
 * bytes): lowercase hex of BLAKE2b-128 over "rule\0" and the secret,
 * NUL-terminated in `out`.  For building allowlists and in tests; the
 * scan computes the same value without copying the secret.  Returns 0,
 * CSPF_EINVALID when an argument is NULL, CSPF_ERROR when libsodium
 * cannot be initialised.
 */
int cspf_secrets_fingerprint(char out[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1],
	const char *rule, const char *secret, size_t len);

/* One of the rules the scan reports under. */
typedef struct cspf_secrets_rule {
	const char *id;		 /* "secret/aws-secret-access-key" */
	const char *name;	 /* "AWS secret access key" */
	const char *description; /* one sentence: what it matches */
} cspf_secrets_rule;

/* The rules, for reports that list them (SARIF's tool.driver.rules). */
const cspf_secrets_rule *cspf_secrets_rules(size_t *count);

#ifdef __cplusplus
}
#endif
#endif
