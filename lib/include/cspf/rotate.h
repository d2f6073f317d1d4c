/*
 * cspf - rotation of the registry's static credentials through their
 * vaults (DESIGN.md, "Rotation: invariants").
 *
 * A plan lists every credential cspf rotates (its rotator is not manual)
 * and says which are due and why: inside the notice window before
 * credential_expires, past max_age, named as compromised, or asked for by
 * id.  Running the plan rotates them, several at once, each through the
 * state machine
 *
 *   claim -> create -> stage (pending) -> set -> test -> promote (current)
 *         -> retire the old one -> record
 *
 * whose state lives in the vault's rotation record, so that a run that
 * dies anywhere is finished or undone by the next run on any machine, and
 * two runs never rotate one credential twice.  The caller then writes
 * what changed into the registry (cspf_rotate_apply()) and, once that is
 * committed, marks the rotations recorded (cspf_rotate_mark_recorded()).
 */
#ifndef CSPF_ROTATE_H
#define CSPF_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	CSPF_ROTATE_NOT_DUE = 0,
	CSPF_ROTATE_EXPIRING,    /* inside the notice window before expiry */
	CSPF_ROTATE_MAX_AGE,     /* older than its max age */
	CSPF_ROTATE_COMPROMISED, /* named with --compromised (CSPF 3.4) */
	CSPF_ROTATE_REQUESTED,   /* named with --credential */
} cspf_rotate_reason;

typedef enum {
	CSPF_ROTATE_PLANNED = 0, /* not run (yet) */
	CSPF_ROTATE_ROTATED,     /* rotated by this run */
	CSPF_ROTATE_RESUMED,     /* a rotation a dead run left, finished */
	CSPF_ROTATE_SKIPPED,     /* not due, or another run has it */
	CSPF_ROTATE_FAILED,      /* see state and message */
} cspf_rotate_status;

/* One credential of the plan. */
typedef struct cspf_rotate_item {
	const cspf_entity *entity;   /* the credential (lent by the registry) */
	const char *rotator;         /* rotation.rotator */
	const char *vault;           /* vault.vault */
	const char *path;            /* vault.path */
	cspf_rotate_reason reason;
	int64_t generated, expires;  /* from the registry; 0 when absent */
	int64_t due;                 /* when it falls due */

	/* What the run did. */
	cspf_rotate_status status;
	char *state;       /* the step it reached or was left in */
	char *message;     /* why it failed or was skipped */
	char *rotation_id;
	char *old_key_id, *new_key_id;
	int64_t finished;  /* when it became current (0: not) */
	int64_t new_expires;
	double seconds;    /* time the rotation took */
	/*
	 * Not due, and its vault could not be read to look for a rotation
	 * an earlier run left (message says why): not a failure.
	 */
	bool unchecked;
} cspf_rotate_item;

typedef struct cspf_rotate_plan {
	cspf_rotate_item *items; /* every rotatable credential, by id */
	size_t count;
	size_t due;              /* items whose reason is not NOT_DUE */
	size_t manual_due;       /* manual credentials due (not rotated) */
} cspf_rotate_plan;

/* One step of one rotation, as it happens (for the audit log, progress). */
typedef struct cspf_rotate_event {
	const cspf_rotate_item *item;
	const char *rotation_id;
	const char *step;     /* claim, create, stage, set, test, promote,
				 retire, undo, fail, skip */
	const char *outcome;  /* ok, failed, skipped */
	const char *old_key_id, *new_key_id; /* public ids or NULL */
	const char *detail;   /* a message without secrets, or NULL */
	int64_t time;
} cspf_rotate_event;

typedef void (*cspf_rotate_event_cb)(const cspf_rotate_event *ev,
	void *payload);

typedef struct cspf_rotate_options {
	unsigned int version;
	int64_t now;                /* 0: the clock */
	const char *due_within;     /* a duration replacing each notice */
	const char *const *credentials; /* ids to rotate now */
	size_t credentials_count;
	const char *const *compromised; /* ids compromised: now, no grace */
	size_t compromised_count;
	unsigned int concurrency;   /* 0: 4 */
	unsigned int claim_ttl;     /* seconds a claim lasts; 0: 900 */
	const char *ca_file;
	const char *registry_dir;   /* the registry's root on disk */
	unsigned int max_attempts;  /* per HTTP call; 0: default */
	/* Called from worker threads, one event at a time per rotation. */
	cspf_rotate_event_cb on_event;
	void *payload;
} cspf_rotate_options;

#define CSPF_ROTATE_OPTIONS_VERSION 1
#define CSPF_ROTATE_OPTIONS_INIT { .version = CSPF_ROTATE_OPTIONS_VERSION }

/*
 * Every credential of `reg` with a rotator other than manual, and which
 * are due.  Reads the registry only.  An id given in opts->credentials or
 * opts->compromised that is no rotatable credential: CSPF_ENOTFOUND.
 */
int cspf_rotate_plan_new(cspf_rotate_plan **out, const cspf_registry *reg,
	const cspf_rotate_options *opts);

/*
 * Rotate what is due, and finish what earlier runs left in the vaults:
 * every item of the plan is looked at (one read of its rotation record),
 * so that a rotation a dead run left is resumed even when the credential
 * is no longer due.  Returns 0 when nothing failed, 1 when some item
 * failed (see the items), or a negative error when nothing could run.
 */
int cspf_rotate_run(cspf_rotate_plan *plan, const cspf_registry *reg,
	const cspf_rotate_options *opts);

/*
 * After the registry has recorded the rotations of the plan (its files
 * rewritten and committed), tell their vaults: the records say "recorded"
 * and a later run no longer offers to record them again.
 */
int cspf_rotate_mark_recorded(cspf_rotate_plan *plan,
	const cspf_registry *reg, const cspf_rotate_options *opts);

const char *cspf_rotate_reason_name(cspf_rotate_reason r);
const char *cspf_rotate_status_name(cspf_rotate_status s);

void cspf_rotate_plan_free(cspf_rotate_plan *plan);

#ifdef __cplusplus
}
#endif
#endif
