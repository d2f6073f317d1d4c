/*
 * cspf/inventory.h - what really runs in the cloud.
 *
 * For every account of the registry (AWS accounts, Azure subscriptions),
 * the providers read what exists: IAM users and their keys, MFA, root
 * keys, roles, buckets, trails; Azure resources, Key Vault secrets and
 * Entra application secrets.  Many accounts are read at once, through one
 * HTTP client whose concurrency is bounded; each account is written to
 * the snapshot (schema/inventory/snapshot.json) as soon as it is read
 * and those before it are written, so memory stays flat in the number of
 * accounts.  Secrets are never read: only ids, dates and states.
 */
#ifndef CSPF_INVENTORY_H
#define CSPF_INVENTORY_H

#include <stdint.h>
#include <stdio.h>

#include "aws.h"
#include "common.h"
#include "http.h"
#include "json.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	CSPF_INVENTORY_AWS = 1u << 0,
	CSPF_INVENTORY_AZURE = 1u << 1,
	CSPF_INVENTORY_ALL = CSPF_INVENTORY_AWS | CSPF_INVENTORY_AZURE,
};

/* Progress, for a display: called from the thread of the run. */
typedef struct cspf_inventory_progress {
	size_t accounts_total;
	size_t accounts_done;
	size_t accounts_failed; /* read with errors */
	size_t calls;           /* HTTP attempts so far */
	size_t retries;
	const char *last;       /* the account just finished, or NULL */
} cspf_inventory_progress;

typedef void (*cspf_inventory_progress_cb)(
	const cspf_inventory_progress *progress, void *payload);

typedef struct cspf_inventory_options {
	unsigned int version;
	unsigned int providers;  /* CSPF_INVENTORY_*; 0: all */
	const char *account;     /* only this account (cloud id or registry
				  * id); NULL: all */
	unsigned int concurrency; /* HTTP requests at once; 0: 16 */
	unsigned int shard;      /* 1..shards; 0: no sharding */
	unsigned int shards;
	int64_t now;             /* the snapshot's "generated"; 0: clock */
	const char *ca_file;     /* extra CA bundle (emulators) */
	cspf_http_trace_cb trace; /* each HTTP attempt (verbose output) */
	void *trace_payload;
	cspf_inventory_progress_cb progress;
	void *progress_payload;
	/* Per-attempt timeout and attempts, for tests; 0: the defaults. */
	unsigned int timeout_ms;
	unsigned int max_attempts;
} cspf_inventory_options;

#define CSPF_INVENTORY_OPTIONS_VERSION 1
#define CSPF_INVENTORY_OPTIONS_INIT \
	{ .version = CSPF_INVENTORY_OPTIONS_VERSION }

typedef struct cspf_inventory_stats {
	size_t accounts;
	size_t failed;  /* accounts with status partial or error */
	size_t calls;
	size_t retries;
} cspf_inventory_stats;

/*
 * Inventory the registry's accounts, writing the snapshot to `out` as it
 * goes.  Returns 0 when the snapshot was written (accounts that could not
 * be read are in it, with status "error" and why), negative when it could
 * not be (no credentials at all, a write error): cspf_error_last() says.
 */
int cspf_inventory_run(cspf_inventory_stats *stats, FILE *out,
	const cspf_registry *reg, const cspf_inventory_options *opts);

/*
 * Merge snapshots (the shards of one run) into one, written to `out`:
 * accounts in id order, each once.  Refuses snapshots of different shard
 * counts, or the same shard twice.
 */
int cspf_inventory_merge(FILE *out, const cJSON *const *snapshots,
	size_t count);

/*
 * Offline AWS: the account as an IAM credential report (the CSV that
 * `aws iam get-credential-report` returns, base64-decoded) and, if not
 * NULL, `aws iam get-account-authorization-details` JSON say it.  Writes
 * a snapshot of that one account to `out`.
 */
int cspf_inventory_aws_offline(FILE *out, const cspf_registry *reg,
	const char *account_id, const char *credential_report,
	size_t report_len, const cJSON *authorization_details, int64_t now);

/*
 * Offline Azure: the JSON `az graph query -q ... --subscriptions S`
 * prints (an object with "data", or the array of rows), as the
 * subscriptions' resources.  Writes a snapshot to `out`.
 */
int cspf_inventory_azure_offline(FILE *out, const cspf_registry *reg,
	const cJSON *graph_output, int64_t now);

/*
 * How cspf reaches AWS accounts, from cspf.json's providers.aws: the
 * inventory, and the digest's CloudTrail source, which reads the same
 * accounts the same way.
 */
typedef struct cspf_inventory_aws_config {
	char *role;      /* inventory_role, or NULL: the base credentials */
	char *partition; /* partition, else "aws" */
	char *endpoint;  /* endpoint_url, or NULL */
	char **regions;  /* regions; else the CLI's region; else us-east-1 */
	size_t nregions; /* at least 1 */
} cspf_inventory_aws_config;

/*
 * Read providers.aws (`aws` may be NULL: the defaults).  Free with
 * cspf_inventory_aws_config_dispose(), also after a failure.
 */
int cspf_inventory_aws_config_read(cspf_inventory_aws_config *out,
	const cJSON *aws);
void cspf_inventory_aws_config_dispose(cspf_inventory_aws_config *c);

/*
 * The ARN of the inventory role in `account` ("arn:aws:iam::ID:role/R")
 * and the session name ("cspf-<purpose>-ID") into the buffers.  Returns
 * CSPF_ENOTFOUND when no inventory_role is set.
 */
int cspf_inventory_aws_role(char *arn, size_t arn_size, char *session,
	size_t session_size, const cspf_inventory_aws_config *c,
	const char *account, const char *purpose);

/*
 * The credentials to read `account` with: `base` (another reference)
 * when no inventory_role is set, else the inventory role assumed there
 * with `base` (blocking; renewed as they expire).  Free with
 * cspf_aws_credentials_free().
 */
int cspf_inventory_aws_credentials(cspf_aws_credentials **out,
	cspf_http_client *http, cspf_aws_credentials *base,
	const cspf_inventory_aws_config *c, const char *account,
	const char *purpose);

#ifdef __cplusplus
}
#endif
#endif
