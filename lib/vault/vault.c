/*
 * cspf_vault_*(): argument checks, then the backend named by the
 * configuration's "type".
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/error.h"
#include "vault/vault_private.h"

/* Every backend of this build; one line each, NULL last. */
static const struct cspf_vault_backend *const backends[] = {
	&cspf_vault_file_backend,
	&cspf_vault_hashicorp_backend,
	&cspf_vault_azure_kv_backend,
	&cspf_vault_aws_sm_backend,
	NULL,
};

const char *cspf_vault_label_name(cspf_vault_label label)
{
	switch (label) {
	case CSPF_VAULT_CURRENT: return "current";
	case CSPF_VAULT_PENDING: return "pending";
	case CSPF_VAULT_PREVIOUS: return "previous";
	}
	return "?";
}

void cspf_vault_version_dispose(cspf_vault_version *v)
{
	if (!v)
		return;
	free(v->version);
	free(v->rotation_id);
	free(v->key_id);
	memset(v, 0, sizeof(*v));
}

int cspf_vault_open(cspf_vault **out, const char *name,
	const cJSON *config, const cspf_vault_options *opts)
{
	static const cspf_vault_options defaults = CSPF_VAULT_OPTIONS_INIT;
	const cJSON *type;
	cspf_vault *v = NULL;
	size_t i;
	int error;

	*out = NULL;
	if (!name || !cJSON_IsObject(config))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: no configuration: declare it under \"vaults\" in cspf.json",
			name ? name : "(unnamed)");
	if (!opts)
		opts = &defaults;
	if (opts->version != CSPF_VAULT_OPTIONS_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault options version %u, expected %u", opts->version,
			CSPF_VAULT_OPTIONS_VERSION);
	type = cJSON_GetObjectItemCaseSensitive(config, "type");
	if (!cJSON_IsString(type))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: no \"type\" in its configuration in cspf.json", name);
	for (i = 0; backends[i]; i++) {
		if (strcmp(backends[i]->type, type->valuestring) != 0)
			continue;
		if ((error = backends[i]->open(&v, name, config, opts)) < 0)
			return error;
		v->backend = backends[i];
		if (!(v->name = strdup(name))) {
			backends[i]->free(v);
			return cspf_error_set_oom();
		}
		*out = v;
		return 0;
	}
	return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
		"vault %s: type \"%s\" is not supported by this build of cspf",
		name, type->valuestring);
}

const char *cspf_vault_name(const cspf_vault *v)
{
	return v->name;
}

const char *cspf_vault_type(const cspf_vault *v)
{
	return v->backend->type;
}

static int check_path(const cspf_vault *v, const char *path)
{
	if (!path || !*path || strlen(path) > 512)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: a secret's path must be 1 to 512 characters",
			v->name);
	return 0;
}

static int check_rotation_id(const cspf_vault *v, const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	/* Every backend can keep it as a ClientRequestToken, a tag, a key. */
	if (n < 8 || n > 64)
		goto bad;
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || id[i] == '-'))
			goto bad;
	return 0;
bad:
	return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
		"vault %s: a rotation id is 8 to 64 of [0-9a-z-]", v->name);
}

int cspf_vault_get(cspf_secret **value, cspf_vault_version *info,
	cspf_vault *v, const char *path, cspf_vault_label label)
{
	int error;

	if (value)
		*value = NULL;
	if (info)
		memset(info, 0, sizeof(*info));
	if ((error = check_path(v, path)) < 0)
		return error;
	error = v->backend->get(value, info, v, path, label);
	if (error < 0) {
		if (value) {
			cspf_secret_free(*value);
			*value = NULL;
		}
		cspf_vault_version_dispose(info);
	}
	return error;
}

int cspf_vault_stage(cspf_vault *v, const char *path,
	const char *rotation_id, const cspf_secret *value, const char *key_id)
{
	int error;

	if ((error = check_path(v, path)) < 0 ||
	    (error = check_rotation_id(v, rotation_id)) < 0)
		return error;
	if (!value)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: nothing to stage at %s", v->name, path);
	return v->backend->stage(v, path, rotation_id, value, key_id);
}

int cspf_vault_promote(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	int error;

	if ((error = check_path(v, path)) < 0 ||
	    (error = check_rotation_id(v, rotation_id)) < 0)
		return error;
	return v->backend->promote(v, path, rotation_id);
}

int cspf_vault_discard(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	int error;

	if ((error = check_path(v, path)) < 0 ||
	    (error = check_rotation_id(v, rotation_id)) < 0)
		return error;
	return v->backend->discard(v, path, rotation_id);
}

int cspf_vault_put(cspf_vault *v, const char *path, const cspf_secret *value,
	const char *key_id)
{
	int error;

	if ((error = check_path(v, path)) < 0)
		return error;
	if (!value)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: nothing to put at %s", v->name, path);
	return v->backend->put(v, path, value, key_id);
}

int cspf_vault_record_get(char **record, char **tag, cspf_vault *v,
	const char *path)
{
	int error;

	*record = NULL;
	*tag = NULL;
	if ((error = check_path(v, path)) < 0)
		return error;
	if ((error = v->backend->record_get(record, tag, v, path)) < 0) {
		free(*record);
		free(*tag);
		*record = *tag = NULL;
	}
	return error;
}

int cspf_vault_record_put(cspf_vault *v, const char *path,
	const char *record, const char *tag, char **new_tag)
{
	int error;

	if (new_tag)
		*new_tag = NULL;
	if ((error = check_path(v, path)) < 0)
		return error;
	if (!record || strlen(record) > CSPF_VAULT_RECORD_MAX)
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"vault %s: a rotation record is at most %d bytes",
			v->name, CSPF_VAULT_RECORD_MAX);
	return v->backend->record_put(v, path, record, tag, new_tag);
}

void cspf_vault_free(cspf_vault *v)
{
	char *name;

	if (!v)
		return;
	name = v->name;
	v->backend->free(v);
	free(name);
}
