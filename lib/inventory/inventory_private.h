/*
 * The inventory's core and its providers (one file each: aws.c,
 * azure.c), behind a versioned table of functions.
 *
 * The core lists the registry's accounts, starts them a window at a time,
 * counts each account's requests in flight, and when the last one of an
 * account is done asks its provider to finish the account's object, then
 * writes every finished account it can in order.  Providers only submit
 * requests (inv_submit) and fill the account's JSON.
 */
#ifndef CSPF_INVENTORY_PRIVATE_H
#define CSPF_INVENTORY_PRIVATE_H

#include <stdarg.h>

#include "cspf/http.h"
#include "cspf/inventory.h"

struct inv;

struct inv_account {
	struct inv *inv;
	const cspf_entity *entity; /* the registry's account */
	const char *provider;      /* "aws", "azure" */
	const char *id;            /* the cloud's id (lent from entity) */
	size_t index;              /* its place in the snapshot */
	cJSON *json;               /* the snapshot's account object */
	cJSON *errors;             /* what failed, one string each */
	int fatal;                 /* nothing could be read */
	size_t pending;            /* requests in flight for it */
	void *state;               /* the provider's */
	int started, finished, written;
};

typedef void (*inv_done_cb)(struct inv_account *a,
	cspf_http_request *req, cspf_http_response *resp, int error,
	void *payload);

#define INV_PROVIDER_VERSION 1

struct inv_provider {
	unsigned int version;
	const char *name;   /* as in the registry: accounts/<name>/ */
	unsigned int mask;  /* CSPF_INVENTORY_* */
	/*
	 * Once, before its first account: credentials and configuration.
	 * A failure is not fatal to the run: every account of the provider
	 * is written with status "error" and the reason.
	 */
	int (*setup)(void **state, struct inv *inv);
	/* Submit the account's first requests (inv_submit). */
	int (*start)(void *state, struct inv_account *a);
	/* Its requests are all done: complete a->json, free a->state. */
	void (*finish)(void *state, struct inv_account *a);
	/*
	 * After every account: the provider's directories (Azure tenants)
	 * as snapshot objects added to `dirs`; may submit and run requests.
	 * NULL when the provider has none.
	 */
	int (*directories)(void *state, struct inv *inv, cJSON *dirs);
	void (*teardown)(void *state);
};

extern const struct inv_provider inv_aws_provider;
extern const struct inv_provider inv_azure_provider;

/* Submit `req` for account `a`: its done callback runs with the account. */
int inv_submit(struct inv_account *a, cspf_http_request *req,
	inv_done_cb done, void *payload);

/* Record what failed for account `a` (no secret may be in it). */
void inv_error(struct inv_account *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

cspf_http_client *inv_http(struct inv *inv);
const cspf_registry *inv_registry(struct inv *inv);
/* cspf.json's providers.<name>, or NULL. */
const cJSON *inv_provider_config(struct inv *inv, const char *name);
const cspf_inventory_options *inv_options(struct inv *inv);

/* "2026-06-01T09:00:00Z" into the object, from epoch seconds. */
int inv_add_time(cJSON *obj, const char *key, int64_t t);
/* A provider's time string (RFC 3339, any precision or offset) as ours;
 * nothing added when it does not parse. */
int inv_add_time_str(cJSON *obj, const char *key, const char *s);

/*
 * A role's "trusted": the AWS principals (ARNs) its trust policy allows
 * sts:AssumeRole* - given as the policy's JSON object, or as its text,
 * URL-encoded as IAM returns it.  Nothing is added when the policy says
 * none (or cannot be read: the role is still listed).
 */
void inv_add_trusted(cJSON *role, const cJSON *policy, const char *text);

/* Member `k` of `o` when it is a string, else NULL. */
static inline const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A Resource Graph row as a snapshot resource (azure.c), or NULL. */
cJSON *inv_azure_resource(const cJSON *row);

/* Offline providers share the writer of one-account snapshots. */
int inv_write_snapshot(FILE *out, cJSON *accounts, cJSON *directories,
	int64_t now);

#endif
