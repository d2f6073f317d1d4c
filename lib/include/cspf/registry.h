/*
 * cspf - the registry: a tree of JSON documents in a git repository,
 * describing accounts, credentials, assets, teams and exceptions.
 *
 * Kinds are found by path (DESIGN.md):
 *   accounts/<provider>/<name>.json     account
 *   credentials/<provider>/<name>.json  credentials
 *   assets/<kind>/<name>.json           an asset of that kind
 *   teams/<name>.json                   team
 *   exceptions/<id>.json                exception
 *   cspf.json                           the registry's configuration
 * An entity's id is its path without ".json"; a credential's is its
 * file's id, "#" and its username.
 */
#ifndef CSPF_REGISTRY_H
#define CSPF_REGISTRY_H

#include "common.h"
#include "diag.h"
#include "json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	CSPF_KIND_NONE = 0, /* belongs to no kind */
	CSPF_KIND_ACCOUNT,
	CSPF_KIND_CREDENTIALS,
	CSPF_KIND_ASSET,
	CSPF_KIND_TEAM,
	CSPF_KIND_EXCEPTION,
	CSPF_KIND_CONFIG,
} cspf_kind;

/*
 * The kind of the file at `path` (relative to the registry's root, with
 * '/' separators).  For an asset, `*asset_kind` (may be NULL) is set to
 * the folder name, lent from `path` with its length in `*asset_len`.
 */
cspf_kind cspf_registry_kind_of(const char *path, const char **asset_kind,
	size_t *asset_len);

typedef struct cspf_registry_options {
	unsigned int version;
	const char *rev;  /* read this commit's tree, not the work tree */
	const char *base; /* only what changed since this commit */
	unsigned int jobs; /* threads; 0: the number of cores */
	int format_assert; /* formats as assertions (default on) */
} cspf_registry_options;

#define CSPF_REGISTRY_OPTIONS_VERSION 1
#define CSPF_REGISTRY_OPTIONS_INIT { CSPF_REGISTRY_OPTIONS_VERSION, NULL, \
	NULL, 0, 1 }

/* What a validation looked at. */
typedef struct cspf_registry_stats {
	size_t files;     /* files of the registry */
	size_t checked;   /* files validated (all, or those --base selects) */
	size_t entities;  /* accounts, credentials, assets, teams, ... */
} cspf_registry_stats;

/*
 * Validate the registry at `path` (a directory in a git work tree, or a
 * repository when opts->rev is set): schemas, references, duplicate ids,
 * files of no kind, symbolic links.  Findings are appended to `out`,
 * sorted by file and position, with `file` relative to the registry's
 * root.  Returns 0 (findings or not), or negative when the registry
 * cannot be read at all (not a directory, no such revision).
 */
int cspf_registry_validate(cspf_diags *out, cspf_registry_stats *stats,
	const char *path, const cspf_registry_options *opts);

/*
 * A registry read into memory, for the jobs that use it rather than check
 * it (drift, rotate, digest).  Files that cannot be read or parsed, and
 * files of no kind, are left out and counted in cspf_registry_skipped():
 * `cspf validate` is the command that explains them.
 */
typedef struct cspf_registry cspf_registry;

typedef struct cspf_entity {
	const char *id;         /* "accounts/aws/payments-prod";
				 * a credential: "credentials/aws/x#username" */
	const char *path;       /* the file, relative to the registry root */
	cspf_kind kind;
	const char *asset_kind; /* "bucket", "iam-role", ...; NULL unless
				 * kind is CSPF_KIND_ASSET */
	const cJSON *json;      /* the entity: the file's root object, or a
				 * credential's object in "credentials" */
	const char *pointer;    /* where json sits in the file: "" or
				 * "/credentials/3" */
	const cspf_json_doc *doc; /* the file, for line:column */
	const char *provider;   /* an account's provider: its "provider", else
				 * its folder (accounts/<provider>/); NULL for
				 * other kinds */
} cspf_entity;

/*
 * Read the registry at `path` (a work tree, or with opts->rev the tree of
 * that commit; opts->base and opts->jobs are not used).  The caller frees
 * it with cspf_registry_free().
 */
int cspf_registry_load(cspf_registry **out, const char *path,
	const cspf_registry_options *opts);
size_t cspf_registry_count(const cspf_registry *reg);
/* The i-th entity, in id order; NULL past the end.  Lent. */
const cspf_entity *cspf_registry_entity(const cspf_registry *reg, size_t i);
/* The entity with this id, or NULL.  Lent. */
const cspf_entity *cspf_registry_find(const cspf_registry *reg,
	const char *id);
/*
 * The account whose "accountid" is `cloud_id` (an AWS account id, an
 * Azure subscription id; case does not matter), or NULL.  Lent.
 */
const cspf_entity *cspf_registry_find_account(const cspf_registry *reg,
	const char *cloud_id);
/* cspf.json's root object, or NULL when there is none.  Lent. */
const cJSON *cspf_registry_config(const cspf_registry *reg);
/* Files left out because they could not be read or parsed. */
size_t cspf_registry_skipped(const cspf_registry *reg);
void cspf_registry_free(cspf_registry *reg);

/*
 * Writing to the registry.
 */

/*
 * `text` (a JSON file called `name`, for errors) with the string at JSON
 * pointer `pointer` replaced by `value`, every other byte unchanged.
 * CSPF_ENOTFOUND when there is no string there.  *out is malloc'd.
 */
int cspf_registry_edit_string(char **out, size_t *out_len, const char *text,
	size_t len, const char *name, const char *pointer, const char *value);

/*
 * Several strings at once (one parse): each pointers[i] that leads to a
 * string gets values[i]; pointers that lead nowhere are left out (the
 * count of strings changed goes to *applied, which may be NULL).
 */
int cspf_registry_edit_strings(char **out, size_t *out_len, const char *text,
	size_t len, const char *name, const char *const *pointers,
	const char *const *values, size_t n, size_t *applied);

/* Replace the file at `path` atomically (temporary file, fsync, rename). */
int cspf_registry_write_file(const char *path, const char *data, size_t len);

/*
 * Commit `files` (paths relative to `registry_dir`, as they are on disk
 * now) on top of HEAD of the repository holding `registry_dir`: only
 * these paths change, whatever else is staged.  Author and committer are
 * `author_name` <`author_email`> when given, else git's user.name and
 * user.email, else "cspf".  The new commit's id goes to commit_id (41
 * bytes).
 */
int cspf_registry_commit(char *commit_id, const char *registry_dir,
	const char *const *files, size_t n, const char *message,
	const char *author_name, const char *author_email);

/*
 * Push the current branch of the repository holding `registry_dir` to
 * `remote` (same branch name there).  When the remote has moved on, fetch
 * it, replay the commits it lacks on its new tip (in memory: the work
 * tree is updated only when the replay is clean) and push again, a few
 * times; never force.  A replay that conflicts is an error saying so.
 */
int cspf_registry_push(const char *registry_dir, const char *remote);

#ifdef __cplusplus
}
#endif
#endif
