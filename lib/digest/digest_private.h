/*
 * digest_private.h - the review digest's parts (CSPF 7.7): event sources,
 * ticket sinks, and what passes between them and the digest's core.
 *
 *   sources (one file each)      core (digest.c)            sinks (one file each)
 *   src_cloudtrail.c     ─┐                                ┌─ sink_files.c
 *   src_cloudtrail_api.c ─┤  events ─▶ attribution ─▶      ├─ sink_github.c
 *   src_azure_activity.c ─┼─────────▶ five reports per ───▶┤
 *   src_git.c            ─┤          recipient ─▶ tickets  └─ sink_jira.c
 *   src_audit.c          ─┘
 *
 * A source reads events and hands each to a callback, one at a time, in
 * no particular order; the core attributes it and adds it to the reports
 * of its recipients.  Nothing keeps events: memory grows with recipients
 * and distinct (action, target) groups, not with events.
 *
 * A sink keeps tickets: it finds one by its stable key, creates, updates,
 * lists a period's tickets and comments on one.  Every ticket carries a
 * marker (cspf_ticket_marker_format()) in its body, from which any sink
 * reads back key, kind, recipient, team and due date.
 */
#ifndef CSPF_DIGEST_PRIVATE_H
#define CSPF_DIGEST_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cspf/common.h"
#include "cspf/diag.h"
#include "cspf/http.h"
#include "cspf/registry.h"
#include "cspf/secret.h"

/* ---------------------------------------------------------------- events */

typedef enum {
	CSPF_ACTOR_UNKNOWN = 0,
	CSPF_ACTOR_USER,    /* a person: IAM user, SSO session, Azure UPN,
			     * git author, ... */
	CSPF_ACTOR_ROLE,    /* a role acting (an assumed-role session that is
			     * not a person's, an Azure service principal) */
	CSPF_ACTOR_ROOT,    /* an AWS account's root user */
	CSPF_ACTOR_SERVICE, /* the cloud provider itself (AWSService,
			     * an AWS service principal) */
} cspf_actor_kind;

/*
 * One event, normalised.  Every string is borrowed: valid only during the
 * callback.  NULL where the source does not know.
 */
typedef struct cspf_event {
	int64_t time;              /* seconds since the epoch, UTC */
	cspf_actor_kind actor_kind;
	/*
	 * Who acted: an ARN (arn:aws:iam::123:user/alice,
	 * arn:aws:sts::123:assumed-role/R/session), an e-mail or UPN, an
	 * Azure object id.
	 */
	const char *actor;
	/*
	 * The person behind the actor when the source says it: the session
	 * name of an assumed role when it is an e-mail (SSO, federation),
	 * the UPN of an Azure caller, a git author's e-mail.
	 */
	const char *person;
	/*
	 * The role the actor acted through: the role ARN of an assumed-role
	 * session (arn:aws:iam::123:role/R), else NULL.
	 */
	const char *role;
	/* "s3:PutObject", "Microsoft.Compute/virtualMachines/write",
	 * "registry:edit", "cspf:rotate". */
	const char *action;
	/*
	 * What was acted on: an ARN, an Azure resource id, a registry entity
	 * id; NULL when the event names none (then the account is the target).
	 */
	const char *target;
	/* The second target of events that have two (NULL otherwise). */
	const char *target2;
	/*
	 * The role a user took in this event (sts:AssumeRole* whose actor is
	 * a person; iam:AddUserToGroup and the like): the role ARN, else NULL.
	 * The core counts it as "users assigned to roles".
	 */
	const char *assumed_role;
	const char *account;       /* AWS account id, Azure subscription id */
	const char *region;        /* NULL for global events */
	const char *source;        /* "cloudtrail", "cloudtrail-api",
				    * "azure-activity", "git", "audit" */
	const char *id;            /* the event's id at its source, if any */
	bool read_only;
	bool failed;               /* the call was refused (errorCode) */
} cspf_event;

/* Return 0 to go on, negative to stop the source (it returns that). */
typedef int (*cspf_event_cb)(const cspf_event *ev, void *payload);

/* What a source is asked for. */
typedef struct cspf_source_query {
	int64_t start, end;        /* [start, end) */
	/*
	 * Deliver read-only events as well.  Without it, a source still
	 * delivers read-only events that set assumed_role (flagged
	 * read_only): sts:AssumeRole is read-only in CloudTrail, and the
	 * core counts who took which role from them.
	 */
	bool read_only;
	const char *arg;           /* what follows "name:" in --sources, or NULL */
	const cspf_registry *registry;
	const char *registry_dir;  /* the registry's root directory */
	/* HTTP for API sources (NULL when none was made). */
	cspf_http_client *http;
	const char *ca_file;
	unsigned int max_attempts; /* 0: the client's default */
	/* Per-second rate limit for API sources; 0: the source's own. */
	double rate;
} cspf_source_query;

typedef struct cspf_source_stats {
	size_t files;     /* files read */
	size_t records;   /* records seen */
	size_t events;    /* events delivered (in the period, kept) */
	size_t skipped;   /* records left out (read-only, out of period) */
	size_t bad;       /* malformed records or files, each in diags */
	size_t calls;     /* API calls */
	size_t bytes;     /* bytes read (compressed, as stored) */
} cspf_source_stats;

/*
 * A source.  read() delivers every event of the query to cb, one call at
 * a time (never two at once, even when the source decodes on threads).
 * Malformed input is a finding, not an error: one diag per bad file or
 * record (rule "digest-source", the file, a pointer such as
 * "/Records/17", a message saying what to do), and the rest goes on.
 * Returns 0, or negative (with cspf_error_set) only when the source as a
 * whole cannot be read: a directory that does not exist, an API that
 * refuses every call.
 */
typedef struct cspf_source {
	const char *name;          /* as in --sources */
	const char *summary;       /* one line for --help */
	bool needs_arg;            /* "name:ARG" required */
	int (*read)(cspf_source_stats *stats, cspf_diags *diags,
		const cspf_source_query *q, cspf_event_cb cb, void *payload);
} cspf_source;

extern const cspf_source cspf_source_cloudtrail;     /* src_cloudtrail.c */
extern const cspf_source cspf_source_cloudtrail_api; /* src_cloudtrail_api.c */
extern const cspf_source cspf_source_azure_activity; /* src_azure_activity.c */
extern const cspf_source cspf_source_git;            /* src_git.c */
extern const cspf_source cspf_source_audit;          /* src_audit.c */

/* The sources, NULL-terminated (digest.c). */
extern const cspf_source *const cspf_sources[];
const cspf_source *cspf_source_find(const char *name, size_t len);

/* ---------------------------------------------------------------- tickets */

/* The five reports of CSPF 7.7. */
typedef enum {
	CSPF_REPORT_RESOURCE_ACTIONS = 0, /* actions against resources →
					   * the resource's owner */
	CSPF_REPORT_ROLE_ACTIONS,         /* actions performed by roles →
					   * the role's owner */
	CSPF_REPORT_ROLE_MEMBERS,         /* users assigned to roles →
					   * the role's owner */
	CSPF_REPORT_USER_ACTIONS,         /* actions performed by their
					   * accounts → the user */
	CSPF_REPORT_USER_ROLES,           /* roles assigned to users →
					   * the users' manager */
	CSPF_REPORT_COUNT
} cspf_report_kind;

/* "resource-actions", "role-actions", "role-members", "user-actions",
 * "user-roles". */
const char *cspf_report_kind_name(cspf_report_kind kind);
int cspf_report_kind_parse(cspf_report_kind *out, const char *name);

/* A ticket to open or bring up to date.  Strings are owned by the core. */
typedef struct cspf_ticket {
	/* "2026-11-16/P14D:resource-actions:payments@example.com" */
	const char *key;
	/* 16 hex digits of BLAKE2b(key): for labels, file names. */
	const char *key_hash;
	cspf_report_kind kind;
	const char *recipient;     /* an e-mail */
	const char *team;          /* the recipient's team id ("teams/payments"),
				    * or NULL for a person without one */
	const char *queue;         /* the team's tickets.queue, or NULL */
	const char *const *assignees; /* e-mails, from the registry */
	size_t assignee_count;
	const char *period;        /* "2026-11-16/P14D" */
	const char *period_label;  /* "2026-11-16" */
	int64_t created;           /* when this run made it */
	int64_t due;               /* created + 5 days */
	size_t events;             /* events the ticket covers */
	const char *title;         /* one line */
	const char *body;          /* Markdown, the marker included */
	const char *json;          /* the ticket as a JSON document */
	const char *csv;           /* the complete attachment */
	size_t csv_len;
	/*
	 * The same in a file, for a sink that can take it from there
	 * (files: memory then does not grow with a ticket's events).  When
	 * it is set, csv is NULL for the files sink.
	 */
	const char *csv_path;
	bool unattributed;         /* to an escalation contact: what could not
				    * be attributed */
} cspf_ticket;

/* A ticket as a sink holds it. */
typedef struct cspf_ticket_ref {
	char id[64];               /* "SEC-123", "42", the file's name */
	char url[512];             /* where a person opens it; "" if none */
	bool open;
	bool escalated;            /* already escalated (label, marker) */
	/* From the marker: */
	char key[256];
	char kind[32];
	char recipient[256];
	char team[256];
	char period[64];
	int64_t created;
	int64_t due;
} cspf_ticket_ref;

/*
 * The marker every ticket's body carries: one HTML comment line,
 *   <!-- cspf-digest {"key":…,"kind":…,"recipient":…,"team":…,
 *        "period":…,"created":…,"due":…} -->
 * (Markdown renders it as nothing).  format: malloc'd line.  parse: finds
 * it anywhere in `body` and fills the marker's fields of `ref`; returns
 * CSPF_ENOTFOUND when there is none.
 */
char *cspf_ticket_marker_format(const cspf_ticket *t);
int cspf_ticket_marker_parse(cspf_ticket_ref *ref, const char *body,
	size_t len);

/* How a sink was asked for. */
typedef struct cspf_sink_config {
	const char *type;          /* "files", "github", "jira" */
	const char *name;          /* the ticket_sinks entry, or NULL */
	const char *url;           /* API base URL (github, jira) */
	const char *project;       /* "owner/repo", "SEC" */
	const char *dir;           /* files: the directory */
	const cspf_secret *token;  /* API token; NULL for files */
	const char *user;          /* jira: the account of a basic-auth token
				    * (NULL: bearer token) */
	cspf_http_client *http;    /* NULL for files */
	unsigned int max_attempts; /* 0: the client's default */
	int64_t now;
} cspf_sink_config;

/*
 * A sink.  Every function returns 0 or negative with cspf_error_set (the
 * message names the sink and what to do).  None may log a token.
 *
 * create() must not leave two tickets for one key: when its request may
 * have taken effect without an answer (a timeout, a 5xx), it looks again
 * with find() before it tries again.
 */
typedef struct cspf_sink_ops {
	const char *type;
	int (*open)(void **state, const cspf_sink_config *cfg);
	/* The ticket of t->key: 0 and *ref, or CSPF_ENOTFOUND. */
	int (*find)(void *state, const cspf_ticket *t, cspf_ticket_ref *ref);
	int (*create)(void *state, const cspf_ticket *t, cspf_ticket_ref *ref);
	/* Bring an existing ticket's title, body, attachment up to date
	 * (its state and due date are left as they are). */
	int (*update)(void *state, const cspf_ticket_ref *ref,
		const cspf_ticket *t);
	/*
	 * Every cspf ticket of `period` ("2026-11-02/P14D"), open or closed,
	 * to cb (which returns 0 to go on).
	 */
	int (*list)(void *state, const char *period,
		int (*cb)(const cspf_ticket_ref *ref, void *payload),
		void *payload);
	/* Comment on a ticket; mark it escalated when `escalate`. */
	int (*comment)(void *state, const cspf_ticket_ref *ref,
		const char *markdown, bool escalate);
	void (*close)(void *state);
} cspf_sink_ops;

extern const cspf_sink_ops cspf_sink_files;  /* sink_files.c */
extern const cspf_sink_ops cspf_sink_github; /* sink_github.c */
extern const cspf_sink_ops cspf_sink_jira;   /* sink_jira.c */

#endif
