/*
 * The interface every vault backend implements (lib/vault/<type>.c), one
 * versioned table of operations.  cspf_vault_*() in vault.c checks the
 * arguments, then calls the backend; a backend raises its own errors
 * (cspf_error_set()) naming the vault and the path, never a value.
 *
 * Each backend's handle embeds `struct cspf_vault` as its first member.
 */
#ifndef CSPF_VAULT_PRIVATE_H
#define CSPF_VAULT_PRIVATE_H

#include "cspf/vault.h"

#define CSPF_VAULT_BACKEND_VERSION 1

struct cspf_vault_backend {
	unsigned int version; /* CSPF_VAULT_BACKEND_VERSION */
	const char *type;     /* as written in cspf.json: "file", ... */

	/* Allocate the handle (with its `struct cspf_vault` first). */
	int (*open)(cspf_vault **out, const char *name,
		const struct cJSON *config, const cspf_vault_options *opts);
	int (*get)(cspf_secret **value, cspf_vault_version *info,
		cspf_vault *v, const char *path, cspf_vault_label label);
	int (*stage)(cspf_vault *v, const char *path, const char *rotation_id,
		const cspf_secret *value, const char *key_id);
	int (*promote)(cspf_vault *v, const char *path,
		const char *rotation_id);
	int (*discard)(cspf_vault *v, const char *path,
		const char *rotation_id);
	int (*put)(cspf_vault *v, const char *path, const cspf_secret *value,
		const char *key_id);
	int (*record_get)(char **record, char **tag, cspf_vault *v,
		const char *path);
	int (*record_put)(cspf_vault *v, const char *path,
		const char *record, const char *tag, char **new_tag);
	void (*free)(cspf_vault *v);
};

struct cspf_vault {
	const struct cspf_vault_backend *backend;
	char *name;
};

/* The backends (vault.c lists them). */
extern const struct cspf_vault_backend cspf_vault_file_backend;
extern const struct cspf_vault_backend cspf_vault_hashicorp_backend;
extern const struct cspf_vault_backend cspf_vault_aws_sm_backend;
extern const struct cspf_vault_backend cspf_vault_azure_kv_backend;

#endif
