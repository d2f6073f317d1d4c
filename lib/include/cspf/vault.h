/*
 * cspf - key vaults: where the secrets of the registry's credentials live.
 *
 * One interface over every backend (file, hashicorp, aws-secrets-manager,
 * azure-key-vault).  A secret, named by its path inside the vault, has
 * versions; at most one version carries each label:
 *
 *   current   what consumers read: always a tested, working credential;
 *   pending   staged by a rotation, not yet tested: no consumer reading
 *             the current value ever sees it;
 *   previous  the value current had before the last promotion.
 *
 * Beside the versions, every secret may have one *rotation record*: a
 * small opaque document (JSON, at most CSPF_VAULT_RECORD_MAX bytes) that
 * the rotate module keeps its state and its claim in.  It is read and
 * written with compare-and-swap, so two runs on two machines never both
 * win.  The vault stores only public facts next to a value (a rotation id,
 * the credential's public key id), never a second copy of a secret.
 *
 * Every operation is idempotent: staging the same rotation id twice,
 * promoting twice or discarding what is gone all succeed, so a run that
 * died anywhere can repeat its last step.
 *
 * A vault handle is for one thread at a time; open one per worker.
 * Errors name the vault, the path and what to do; never a value.
 */
#ifndef CSPF_VAULT_H
#define CSPF_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "secret.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;
typedef struct cspf_vault cspf_vault;

typedef enum {
	CSPF_VAULT_CURRENT = 0,
	CSPF_VAULT_PENDING = 1,
	CSPF_VAULT_PREVIOUS = 2,
} cspf_vault_label;

/* "current", "pending", "previous". */
const char *cspf_vault_label_name(cspf_vault_label label);

/* The largest rotation record a backend must keep. */
#define CSPF_VAULT_RECORD_MAX 2048

/* The public facts of one version; strings are NULL when unknown. */
typedef struct cspf_vault_version {
	char *version;     /* the backend's id of the version ("3", a UUID) */
	char *rotation_id; /* the rotation that staged it; NULL otherwise */
	char *key_id;      /* the credential's public id (an access key id) */
	int64_t created;   /* Unix time; 0 when unknown */
} cspf_vault_version;

void cspf_vault_version_dispose(cspf_vault_version *v);

typedef struct cspf_vault_options {
	unsigned int version;
	/* Relative paths of the vault's configuration resolve here; NULL: cwd. */
	const char *base_dir;
	/* Certificates to trust besides the system's, for HTTP backends. */
	const char *ca_file;
	/* Attempts per HTTP call (0: the HTTP layer's default). */
	unsigned int max_attempts;
	/* Seconds one HTTP attempt may take (0: the default). */
	unsigned int timeout;
} cspf_vault_options;

#define CSPF_VAULT_OPTIONS_VERSION 1
#define CSPF_VAULT_OPTIONS_INIT { .version = CSPF_VAULT_OPTIONS_VERSION }

/*
 * Open the vault called `name`, configured by `config` (its object under
 * "vaults" in cspf.json, see schema/config.json).  Checks what can be
 * checked without a round trip (a key file's mode, an address).
 * CSPF_EUNSUPPORTED for a type this build does not know.
 */
int cspf_vault_open(cspf_vault **out, const char *name,
	const struct cJSON *config, const cspf_vault_options *opts);

/* The vault's name and type, for messages. */
const char *cspf_vault_name(const cspf_vault *v);
const char *cspf_vault_type(const cspf_vault *v);

/*
 * The version of `path` labelled `label`: its value into *value (guarded
 * memory; pass NULL not to read it) and its facts into *info (may be
 * NULL).  CSPF_ENOTFOUND when no version has that label (or no secret
 * has that path).
 */
int cspf_vault_get(cspf_secret **value, cspf_vault_version *info,
	cspf_vault *v, const char *path, cspf_vault_label label);

/*
 * Write `value` as a new version labelled pending, for rotation
 * `rotation_id` (the pending label leaves any other version).  When the
 * pending version already belongs to `rotation_id` nothing changes (the
 * value is not compared: a rotation never stages two values).  The
 * current version is untouched.  Creates the secret if needed.
 */
int cspf_vault_stage(cspf_vault *v, const char *path,
	const char *rotation_id, const cspf_secret *value, const char *key_id);

/*
 * Make the pending version of `rotation_id` current: the old current
 * becomes previous and the pending label goes.  Already current: 0.
 * CSPF_ENOTFOUND when no version belongs to `rotation_id`.
 */
int cspf_vault_promote(cspf_vault *v, const char *path,
	const char *rotation_id);

/*
 * Drop the pending version of `rotation_id` (a rotation undone); its
 * value must no longer be readable through this interface.  0 when there
 * is nothing to drop.  Never touches current.
 */
int cspf_vault_discard(cspf_vault *v, const char *path,
	const char *rotation_id);

/*
 * Write `value` as the current version straight away, outside any
 * rotation: to put a credential into the vault for the first time
 * (`cspf vault put`).  The old current becomes previous.
 */
int cspf_vault_put(cspf_vault *v, const char *path, const cspf_secret *value,
	const char *key_id);

/*
 * The rotation record of `path` into *record (NUL-terminated, malloc'd)
 * and its compare-and-swap tag into *tag (opaque, malloc'd).
 * CSPF_ENOTFOUND when there is none.
 */
int cspf_vault_record_get(char **record, char **tag, cspf_vault *v,
	const char *path);

/*
 * Replace the rotation record of `path` by `record` if its tag is still
 * `tag` (NULL: only if there is no record yet).  CSPF_ECONFLICT when
 * another writer got there first: read it again and decide.  The new
 * tag goes to *new_tag when it is not NULL.
 */
int cspf_vault_record_put(cspf_vault *v, const char *path,
	const char *record, const char *tag, char **new_tag);

void cspf_vault_free(cspf_vault *v);

/*
 * The file vault's key file: 32 random bytes written to `path` with mode
 * 0600 (O_EXCL: an existing file is never overwritten).
 */
int cspf_vault_file_keygen(const char *path);

#ifdef __cplusplus
}
#endif
#endif
