/*
 * generated: a random secret, drawn from the credential's policy, that
 * lives in the vault and nowhere else (an application reads it from
 * there).  Nothing outside the vault needs to learn it, so set, test,
 * retire and undo have nothing to do beyond what the state machine does
 * in the vault.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "rotate/rotator.h"
#include "util/error.h"

#define DEFAULT_LENGTH 32
#define MIN_LENGTH 16
#define MAX_LENGTH 256

static const char ALNUM[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char SYMBOLS[] = "!#%+,-.:=@^_~";

/* The alphabet named by `spec` into `out` (NUL-terminated), or -1. */
static int alphabet(char out[257], const char *spec)
{
	size_t n = 0, i, j;

	if (!spec || strcmp(spec, "alnum") == 0) {
		strcpy(out, ALNUM);
		return 0;
	}
	if (strcmp(spec, "alnum-symbols") == 0) {
		strcpy(out, ALNUM);
		strcat(out, SYMBOLS);
		return 0;
	}
	if (strcmp(spec, "hex") == 0) {
		strcpy(out, "0123456789abcdef");
		return 0;
	}
	if (strcmp(spec, "base64url") == 0) {
		strcpy(out, ALNUM);
		strcat(out, "-_");
		return 0;
	}
	/* The characters themselves: printable ASCII, each once. */
	for (i = 0; spec[i]; i++) {
		unsigned char c = (unsigned char)spec[i];

		if (c < 0x21 || c > 0x7e || n >= 256)
			return -1;
		for (j = 0; j < n; j++)
			if (out[j] == spec[i])
				return -1;
		out[n++] = spec[i];
	}
	out[n] = '\0';
	return n >= 10 ? 0 : -1;
}

int cspf_rotator_random_password(cspf_secret **out, const cJSON *credential)
{
	const cJSON *rotation, *policy, *item;
	const char *spec = NULL;
	char chars[257];
	long length = DEFAULT_LENGTH;
	uint32_t nchars;
	char *buf;
	long i;
	int error;

	*out = NULL;
	rotation = cJSON_GetObjectItemCaseSensitive(credential, "rotation");
	policy = cJSON_GetObjectItemCaseSensitive(rotation, "policy");
	if ((item = cJSON_GetObjectItemCaseSensitive(policy, "length")) &&
	    cJSON_IsNumber(item))
		length = (long)item->valuedouble;
	if ((item = cJSON_GetObjectItemCaseSensitive(policy, "alphabet")) &&
	    cJSON_IsString(item))
		spec = item->valuestring;
	if (length < MIN_LENGTH || length > MAX_LENGTH)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"rotation.policy.length must be %d to %d, not %ld",
			MIN_LENGTH, MAX_LENGTH, length);
	if (alphabet(chars, spec) < 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"rotation.policy.alphabet: use alnum, alnum-symbols, hex, base64url, or at least 10 distinct printable characters");
	nchars = (uint32_t)strlen(chars);

	/* Drawn in guarded memory, copied into the secret, then zeroed. */
	if (!(buf = sodium_malloc((size_t)length + 1)))
		return cspf_error_set_oom();
	for (i = 0; i < length; i++)
		buf[i] = chars[randombytes_uniform(nchars)];
	buf[length] = '\0';
	error = cspf_secret_new(out, buf, (size_t)length);
	sodium_free(buf);
	return error;
}

int cspf_rotator_json_field(cspf_secret **out, const cspf_secret *value,
	const char *field)
{
	const unsigned char *p;
	const cJSON *item;
	cJSON *root;
	size_t n;
	int error;

	*out = NULL;
	if (cspf_secret_open(&p, &n, value) < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
	root = cJSON_ParseWithLength((const char *)p, n);
	cspf_secret_close(value);
	if (!root)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"the secret is not a JSON object with \"%s\"", field);
	item = cJSON_GetObjectItemCaseSensitive(root, field);
	if (!cJSON_IsString(item))
		error = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"the secret has no string \"%s\"", field);
	else
		error = cspf_secret_new(out, item->valuestring,
			strlen(item->valuestring));
	/* cJSON's copies of the value: zero them before they go back. */
	if (item && cJSON_IsString(item))
		sodium_memzero(item->valuestring, strlen(item->valuestring));
	cJSON_Delete(root);
	return error;
}

static int gen_create(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	cspf_secret **value, char **key_id)
{
	*key_id = NULL;
	return cspf_rotator_random_password(value, ctx->credential);
}

static int gen_set(const cspf_rotator_ctx *ctx, const cspf_secret *pending,
	const cspf_secret *current)
{
	return 0;
}

static int gen_test(const cspf_rotator_ctx *ctx, const cspf_secret *pending)
{
	if (cspf_secret_len(pending) < MIN_LENGTH)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: the staged secret is shorter than %d characters",
			ctx->credential_id, MIN_LENGTH);
	return 0;
}

static int gen_retire(const cspf_rotator_ctx *ctx,
	const cspf_secret *previous, const char *previous_key_id, bool final)
{
	return 0;
}

static int gen_undo(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	const cspf_secret *pending, const char *pending_key_id)
{
	return 0;
}

const cspf_rotator cspf_rotator_generated = {
	.version = CSPF_ROTATOR_VERSION,
	.name = "generated",
	.provider_creates = false,
	.create = gen_create,
	.set = gen_set,
	.test = gen_test,
	.retire = gen_retire,
	.undo = gen_undo,
};
