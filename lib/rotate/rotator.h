/*
 * The interface every rotator implements (lib/rotate/rot_<name>.c): how
 * one kind of credential gets new secret material, how the system that
 * checks it learns it, how it is tested and how the old one is retired.
 *
 * The state machine (rotate.c) calls, for one credential:
 *
 *   cleanup   (provider_creates only) before create and on every resume:
 *             delete provider-side credentials that none of the vault's
 *             current, pending and previous (still in its grace period)
 *             versions holds - a key created by a run that died before it
 *             could stage it (invariant 2); NULL ids are absent versions;
 *   create    new secret material, and for provider_creates the new key at
 *             the provider (its public id into *key_id);
 *   (the state machine stages it in the vault as pending)
 *   set       make the system accept the pending secret (ALTER ROLE ...);
 *   test      check that the pending secret works;
 *   (the state machine promotes it: pending becomes current)
 *   retire    retire the previous secret: `final` false deactivates it
 *             (the grace period starts), true deletes it (at the end of
 *             the grace period; at once, after deactivating, for a
 *             compromised credential).  Before create, a previous key
 *             still in its grace period is retired finally when the
 *             provider allows only two keys;
 *   undo      after a failed set or test: make the current secret work
 *             again and remove the pending one at the provider.
 *
 * Every function is idempotent: called again after a crash with the same
 * arguments it succeeds without doing the work twice.  A rotator is a
 * table of functions without state: the context carries everything, and
 * several threads call it at once with their own contexts.
 *
 * Values are the whole secret as the vault keeps it: for a password the
 * password; for a key pair a JSON object (an AWS access key is
 * {"access_key_id": "...", "secret_access_key": "..."}).  Nothing here
 * ever puts a value into an error, a log line or argv.
 */
#ifndef CSPF_ROTATOR_H
#define CSPF_ROTATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "cspf/http.h"
#include "cspf/secret.h"

struct cJSON;

#define CSPF_ROTATOR_VERSION 1

typedef struct cspf_rotator_ctx {
	const char *credential_id;         /* credentials/aws/x#user */
	const struct cJSON *credential;    /* its entry in the registry */
	const struct cJSON *account;       /* the account's entity, or NULL */
	const struct cJSON *config;        /* cspf.json, or NULL */
	const char *registry_dir;          /* the registry's root on disk */
	const char *rotation_id;
	int64_t now;                       /* Unix time of the run */
	bool compromised;                  /* retire at once, no grace */
	cspf_http_client *http;            /* this worker's client */
	const char *ca_file;               /* extra trust for HTTP, or NULL */
	/* Progress, a line without secrets; may be NULL. */
	void (*log)(void *payload, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	void *log_payload;
} cspf_rotator_ctx;

typedef struct cspf_rotator {
	unsigned int version; /* CSPF_ROTATOR_VERSION */
	const char *name;     /* as written in rotation.rotator */
	/* create() makes a key at a provider (IAM, Entra): cleanup applies. */
	bool provider_creates;

	int (*cleanup)(const cspf_rotator_ctx *ctx, const char *current_key_id,
		const char *pending_key_id, const char *previous_key_id);
	int (*create)(const cspf_rotator_ctx *ctx, const cspf_secret *current,
		cspf_secret **value, char **key_id);
	int (*set)(const cspf_rotator_ctx *ctx, const cspf_secret *pending,
		const cspf_secret *current);
	int (*test)(const cspf_rotator_ctx *ctx, const cspf_secret *pending);
	int (*retire)(const cspf_rotator_ctx *ctx, const cspf_secret *previous,
		const char *previous_key_id, bool final);
	int (*undo)(const cspf_rotator_ctx *ctx, const cspf_secret *current,
		const cspf_secret *pending, const char *pending_key_id);
} cspf_rotator;

/* The rotator called `name` (aliases included), or NULL. */
const cspf_rotator *cspf_rotator_find(const char *name);

/*
 * Helpers shared by rotators.
 */

/*
 * A random password from rotation.policy of the credential (length,
 * alphabet: "alnum", "alnum-symbols", "hex", "base64url", or the
 * characters themselves), drawn without bias (libsodium
 * randombytes_uniform).  Default: 32 characters of alnum.
 */
int cspf_rotator_random_password(cspf_secret **out,
	const struct cJSON *credential);

/* A JSON object member of an open secret value, as a new secret. */
int cspf_rotator_json_field(cspf_secret **out, const cspf_secret *value,
	const char *field);

extern const cspf_rotator cspf_rotator_generated;
extern const cspf_rotator cspf_rotator_postgresql;
extern const cspf_rotator cspf_rotator_exec;
extern const cspf_rotator cspf_rotator_azure_app;
extern const cspf_rotator cspf_rotator_aws_iam;

#endif
