/*
 * core.h - the digest's core: who the registry says owns what
 * (attribute.c), and the reports events are added to (digest.c).
 */
#ifndef CSPF_DIGEST_CORE_H
#define CSPF_DIGEST_CORE_H

#include "digest/digest_private.h"
#include "util/map.h"

struct dg_team {
	const char *id;          /* "teams/payments" */
	const char *name;        /* display name, else the id's last part */
	const char *contact;     /* may be NULL */
	const char *manager;
	const char *escalation;
	const char *sink;        /* tickets.sink */
	const char *queue;       /* tickets.queue */
	const char **assignees;  /* tickets.assignees */
	size_t assignee_count;
};

struct dg_person {
	const char *email;       /* lower case */
	struct dg_team *team;    /* the first team listing them */
};

struct dg_account {
	const cspf_entity *entity;
	const char *cloud_id;
	const char *key;         /* cloud_id in lower case */
	const char *name;
	struct dg_team *team;
	const char *escalation;  /* the account's, else its team's */
	const char *root;        /* the root address, may be NULL */
};

/* A resource, role or credential the registry declares. */
struct dg_owned {
	const cspf_entity *entity;
	struct dg_team *owner;
	struct dg_account *account;
	bool role;               /* an iam-role asset */
	bool credential;         /* a credential (a service account) */
};

struct dg_index {
	const cspf_registry *reg;
	cspf_map teams;          /* "teams/x" → dg_team */
	cspf_map people;         /* e-mail, and unique local parts → dg_person */
	cspf_map accounts;       /* cloud id (lower case) → dg_account */
	cspf_map owned;          /* identifiers (see attribute.c) → dg_owned */
	struct dg_team *unknown_team; /* for accounts the registry lacks */
	void **pool;             /* every allocation, to free */
	size_t pool_count, pool_alloc;
	const cspf_entity **roles; /* iam-role assets, for their members */
	size_t role_count;
};

int dg_index_build(struct dg_index *ix, const cspf_registry *reg);
void dg_index_dispose(struct dg_index *ix);

struct dg_team *dg_team_of(struct dg_index *ix, const cJSON *entity_json);
struct dg_person *dg_person_find(struct dg_index *ix, const char *email);
struct dg_account *dg_account_find(struct dg_index *ix, const char *cloud_id);

/*
 * The resource `target` names (an ARN, an Azure resource id, an entity
 * id), in `account` (may be NULL), or NULL when no entity declares it.
 */
struct dg_owned *dg_target_find(struct dg_index *ix, const char *target,
	const char *account);

/* The IAM user `name` of `account` that is a registry credential. */
struct dg_owned *dg_credential_user(struct dg_index *ix, const char *account,
	const char *name);

/* The credential whose identity.app_id is `id` (an Entra application
 * acting through its service principal). */
struct dg_owned *dg_credential_app(struct dg_index *ix, const char *id);

#endif
