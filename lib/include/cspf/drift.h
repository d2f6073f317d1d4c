/*
 * cspf/drift.h - the registry against what runs in the cloud.
 *
 * An inventory snapshot (schema/inventory/snapshot.json) is compared with
 * the registry: what the cloud has and the registry does not document
 * (undocumented, CSPF 1.1), what the registry documents and the cloud no
 * longer has (stale), and where the two disagree (mismatch).  The live
 * checks the CSPF text writes as boto3 loops run on the same facts: 4.4
 * root access keys, 4.5 key age, 4.6 MFA, 5.1 trails, 7.6 unused
 * credentials and roles, 11.2 logging and versioning of red and blue
 * buckets.  Approved exceptions of the registry are honoured.
 */
#ifndef CSPF_DRIFT_H
#define CSPF_DRIFT_H

#include <stdint.h>

#include "common.h"
#include "diag.h"
#include "json.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cspf_drift_options {
	unsigned int version;
	int64_t now;             /* seconds since the epoch; 0: the clock */
	/*
	 * How far a key's real creation may be from the registry's
	 * credential_generated before it is a mismatch (seconds; 0: a day).
	 */
	int64_t tolerance;
} cspf_drift_options;

#define CSPF_DRIFT_OPTIONS_VERSION 1
#define CSPF_DRIFT_OPTIONS_INIT { CSPF_DRIFT_OPTIONS_VERSION, 0, 0 }

typedef struct cspf_drift_stats {
	size_t accounts;   /* accounts and subscriptions compared */
	size_t unreadable; /* of them, read with errors */
	size_t waived;     /* findings an exception waived */
} cspf_drift_stats;

/*
 * Compare `snapshot` (a parsed inventory snapshot) with `reg`, adding the
 * findings to `out`, each on the registry file it concerns (the account's
 * for what the registry lacks), with line and column.  Returns 0, or a
 * negative code when the snapshot is not one (CSPF_EINVALID).
 */
int cspf_drift(cspf_diags *out, cspf_drift_stats *stats,
	const cspf_registry *reg, const cJSON *snapshot,
	const cspf_drift_options *opts);

/* The rules drift reports, for SARIF and help: id, name, description. */
typedef struct cspf_drift_rule {
	const char *id;
	const char *name;
	const char *description;
} cspf_drift_rule;

const cspf_drift_rule *cspf_drift_rules(size_t *count);

#ifdef __cplusplus
}
#endif
#endif
