/*
 * cspf/digest.h - the fortnightly review digest (CSPF 7.7).
 *
 * Reads what happened in a period from event sources (CloudTrail files or
 * its LookupEvents API, Azure Activity Log exports, the registry's git
 * history, cspf's rotation audit log), attributes every event to the
 * people and teams the registry names, and opens one review ticket per
 * (period, report, recipient) in a ticket sink, due five days later.  A
 * ticket's stable key lets a re-run find it and bring it up to date.
 * The follow-up escalates the previous period's tickets still open past
 * their due date.  docs/digest.md has the rules.
 */
#ifndef CSPF_DIGEST_H
#define CSPF_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "diag.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What happened to one ticket, for a display. */
typedef enum {
	CSPF_DIGEST_WOULD_OPEN = 0, /* --dry-run */
	CSPF_DIGEST_CREATED,
	CSPF_DIGEST_UPDATED,
	CSPF_DIGEST_FAILED,
	CSPF_DIGEST_OVERDUE,        /* follow-up: open past its due date */
	CSPF_DIGEST_ESCALATED,      /* follow-up: escalated by this run */
} cspf_digest_outcome;

typedef struct cspf_digest_ticket_info {
	cspf_digest_outcome outcome;
	const char *kind;       /* "resource-actions", ... */
	const char *recipient;
	const char *team;       /* may be NULL */
	const char *sink;       /* "files:DIR", "github:o/r", ... */
	const char *id;         /* the sink's id; NULL for --dry-run */
	const char *url;        /* may be NULL */
	const char *title;
	size_t events;
	int64_t due;
	const char *error;      /* CSPF_DIGEST_FAILED: why */
} cspf_digest_ticket_info;

typedef void (*cspf_digest_ticket_cb)(const cspf_digest_ticket_info *info,
	void *payload);

typedef struct cspf_digest_progress {
	const char *phase;      /* "reading", "tickets", "follow-up" */
	const char *source;     /* the source being read */
	size_t events;          /* events read so far */
	size_t tickets_done;
	size_t tickets_total;
} cspf_digest_progress;

typedef void (*cspf_digest_progress_cb)(const cspf_digest_progress *p,
	void *payload);

typedef struct cspf_digest_options {
	unsigned int version;
	const char *registry_dir; /* the registry's root (for sources, files) */
	int64_t now;              /* 0: the clock */
	/*
	 * The period: "START/DURATION" ("2026-11-16/P14D", START a date or
	 * an RFC 3339 time), NULL for the one containing `now`, aligned to
	 * cspf.json digest.anchor (default 2024-01-01).
	 */
	const char *period;
	bool previous;            /* the period before that one */
	/* "cloudtrail:DIR", "cloudtrail-api[:ACCOUNT]", "azure-activity:PATH",
	 * "git[:REV]", "audit[:DIR]"; none: git and audit. */
	const char *const *sources;
	size_t source_count;
	/*
	 * "files:DIR", "github:OWNER/REPO", "jira:URL/PROJECT", or the name of
	 * a ticket_sinks entry of cspf.json; NULL: each team's sink, else the
	 * default one.
	 */
	const char *sink;
	/*
	 * An inventory snapshot (cspf inventory): the principals each
	 * role's trust policy lets assume it count as its users.
	 */
	const char *inventory;
	bool dry_run;             /* open nothing: say what would be opened */
	bool read_only;           /* keep read-only events */
	bool follow_up;           /* also follow up the previous period */
	bool follow_up_only;      /* only follow up */
	const char *ca_file;      /* extra CA bundle (emulators) */
	unsigned int max_attempts;
	unsigned int timeout_ms;
	double rate;              /* API sources: calls per second; 0: theirs */
	cspf_digest_ticket_cb on_ticket;
	void *ticket_payload;
	cspf_digest_progress_cb progress;
	void *progress_payload;
} cspf_digest_options;

#define CSPF_DIGEST_OPTIONS_VERSION 1
#define CSPF_DIGEST_OPTIONS_INIT { .version = CSPF_DIGEST_OPTIONS_VERSION }

#define CSPF_DIGEST_MAX_SOURCES 16

typedef struct cspf_digest_source_result {
	char name[64];
	size_t files, records, events, skipped, bad, calls, bytes;
	bool failed;              /* the source as a whole could not be read */
} cspf_digest_source_result;

typedef struct cspf_digest_team_result {
	char team[256];
	size_t opened, closed, overdue, escalated;
} cspf_digest_team_result;

typedef struct cspf_digest_result {
	char period[64];          /* "2026-11-16/P14D" */
	int64_t start, end;
	cspf_digest_source_result sources[CSPF_DIGEST_MAX_SOURCES];
	size_t source_count;
	size_t events;            /* events reviewed */
	size_t attributed;        /* of which every part was attributed */
	size_t unattributed;      /* of which some part went to an
				   * escalation contact */
	size_t tickets, created, updated, failed;
	/* Follow-up of the previous period. */
	char follow_up_period[64];
	size_t overdue, escalated;
	cspf_digest_team_result *teams;
	size_t team_count;
} cspf_digest_result;

void cspf_digest_result_dispose(cspf_digest_result *res);

/*
 * Run the digest.  Malformed input (a bad CloudTrail file, a record
 * without a time) goes to `diags`, and the rest goes on.  Returns 0 when
 * it ran: res->failed counts the tickets that could not be opened or
 * brought up to date (on_ticket says why), res->sources[i].failed the
 * sources that could not be read.  Negative when nothing could be done
 * (no sink, a period that does not parse): cspf_error_last() says.
 */
int cspf_digest_run(cspf_digest_result *res, cspf_diags *diags,
	const cspf_registry *reg, const cspf_digest_options *opts);

/* The names and one-line summaries of the event sources, for --help. */
size_t cspf_digest_source_count(void);
void cspf_digest_source_info(size_t i, const char **name,
	const char **summary);

#ifdef __cplusplus
}
#endif
#endif
