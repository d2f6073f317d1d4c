/*
 * The aws-secrets-manager vault: AWS Secrets Manager in one account and
 * region, over the JSON 1.1 protocol (lib/aws signs, lib/http sends).
 *
 * How the vault's notions map onto Secrets Manager:
 *
 *   secret     the secret named `prefix` + path;
 *   labels     current, pending, previous are the staging labels
 *              AWSCURRENT, AWSPENDING, AWSPREVIOUS;
 *   version    a version of the secret; a rotation's version has the
 *              rotation id as its ClientRequestToken (hence VersionId),
 *              padded with '_' to the 32 characters AWS wants at least,
 *              so that a repeated stage is AWS's own idempotent repeat;
 *   facts      the rotation id and the key id of a version are kept in a
 *              tag of the secret, "cspf:v:<version id>" = "r=<rotation
 *              id> k=<key id>" (either part may be absent): public facts
 *              only.  The tag is written before the version, so no version
 *              written by cspf is ever without it; tags of versions that
 *              no longer carry a label are dropped as new ones come (a
 *              secret has at most 50 tags);
 *   stage      PutSecretValue with the token and VersionStages
 *              ["AWSPENDING"] (CreateSecret without a value first when the
 *              secret does not exist).  AWS makes the first version of a
 *              secret AWSCURRENT whatever VersionStages say; staging into
 *              a secret without any version therefore takes AWSCURRENT off
 *              again at once, so that the value stays pending only;
 *   promote    UpdateSecretVersionStage AWSCURRENT MoveToVersionId=<token>
 *              RemoveFromVersionId=<the current version> (AWS moves
 *              AWSPREVIOUS itself), then AWSPENDING is taken off;
 *   discard    UpdateSecretVersionStage AWSPENDING RemoveFromVersionId:
 *              the version keeps no label and AWS deprecates it;
 *   put        PutSecretValue without VersionStages (AWSCURRENT moves to
 *              it, AWSPREVIOUS follows), or CreateSecret with the value;
 *   record     a companion secret "<name>/cspf-rotation" whose AWSCURRENT
 *              version holds the rotation record; its VersionId is the
 *              compare-and-swap tag.  A new record is a new version
 *              (label "cspf-proposed"), then UpdateSecretVersionStage
 *              moves AWSCURRENT to it with RemoveFromVersionId = the tag
 *              the writer read: AWS refuses the move when the label is no
 *              longer on that version, so of two writers one wins and the
 *              other gets CSPF_ECONFLICT.  No record yet: CreateSecret,
 *              which fails for the second writer (ResourceExistsException).
 *
 * Values travel as SecretString in guarded memory: request bodies that
 * hold one are built in sodium memory (cspf_aws_json_new_secret), and
 * GetSecretValue is a sensitive request whose answer is read in place.
 *
 * Configuration (schema/config.json, $defs/vault_aws_secrets_manager):
 * region, prefix, kms_key (KmsKeyId of new secrets), endpoint_url (else
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL, AWS); credentials as
 * the AWS CLI finds them.  "account" names the account for readers of
 * the registry; the vault acts in the account of its credentials.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/aws.h"
#include "cspf/http.h"
#include "http/http_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "vault/vault_private.h"
#include "util/banned.h"

#define TARGET "secretsmanager."
#define RECORD_SUFFIX "/cspf-rotation"
#define TAG_PREFIX "cspf:v:"
#define PROPOSED "cspf-proposed"
#define TOKEN_MIN 32

struct aws_sm {
	struct cspf_vault base; /* first */
	cspf_http_client *http;
	cspf_aws_credentials *creds;
	cspf_aws_service *svc;
	char *prefix;
	char *kms_key;
};

static const char *const stages[] = {
	[CSPF_VAULT_CURRENT] = "AWSCURRENT",
	[CSPF_VAULT_PENDING] = "AWSPENDING",
	[CSPF_VAULT_PREVIOUS] = "AWSPREVIOUS",
};

/* The vault's name: set by vault.c after open(), so NULL inside it. */
static const char *vname(const struct aws_sm *sm)
{
	return sm->base.name ? sm->base.name : "(aws-secrets-manager)";
}

/* prefix + path (+ suffix), malloc'd. */
static char *secret_name(const struct aws_sm *sm, const char *path,
	const char *suffix)
{
	cspf_buf b = CSPF_BUF_INIT;

	cspf_buf_printf(&b, "%s%s%s", sm->prefix ? sm->prefix : "", path,
		suffix ? suffix : "");
	return cspf_buf_detach(&b);
}

/* The ClientRequestToken of a rotation: its id, '_'-padded to 32. */
static void rotation_token(char out[65], const char *rotation_id)
{
	size_t n = strlen(rotation_id);

	memcpy(out, rotation_id, n);
	while (n < TOKEN_MIN)
		out[n++] = '_';
	out[n] = '\0';
}

/* A fresh version id: a random UUID (version 4). */
static void random_version(char out[37])
{
	unsigned char r[16];
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	randombytes_buf(r, sizeof(r));
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 15];
	}
	out[o] = '\0';
}

/*
 * Calls.
 */

/*
 * Perform `req` (freed here) and check the answer.  On success the JSON
 * body goes to *out when out is not NULL (a non-sensitive answer).  On an
 * AWS error its code goes to `code` (may be NULL) and the error raised
 * names the vault, the operation and the secret.
 */
static int perform(cJSON **out, char code[128], struct aws_sm *sm,
	cspf_http_request *req, const char *op, const char *name)
{
	cspf_http_response *resp = NULL;
	cspf_aws_error e;
	cspf_buf what = CSPF_BUF_INIT;
	const char *body;
	size_t len;
	int rc;

	if (out)
		*out = NULL;
	if (code)
		code[0] = '\0';
	rc = cspf_http_perform(&resp, sm->http, req);
	cspf_http_request_free(req);
	if (rc < 0)
		goto done;
	if (cspf_http_response_status(resp) / 100 != 2) {
		if (code && cspf_aws_error_parse(&e, resp) == 0)
			memcpy(code, e.code, sizeof(e.code));
		cspf_buf_printf(&what, "vault %s: secretsmanager %s of %s",
			vname(sm), op, name);
		rc = cspf_aws_response_check(resp, 0,
			cspf_buf_oom(&what) ? op : what.ptr);
		goto done;
	}
	if (out) {
		/* Open: the answer to a request that sent a value is
		 * sensitive too, though it holds none. */
		if (cspf_http_response_body_open(&body, &len, resp) == 0) {
			*out = cJSON_ParseWithLength(body, len);
			cspf_http_response_body_close(resp);
		}
		if (!*out) {
			rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_JSON,
				"vault %s: secretsmanager %s of %s: the answer is not JSON",
				vname(sm), op, name);
			goto done;
		}
	}
	rc = 0;
done:
	cspf_buf_dispose(&what);
	cspf_http_response_free(resp);
	return rc;
}

/* Operation `op` with the JSON object `body` (not secret; deleted here). */
static int call(cJSON **out, char code[128], struct aws_sm *sm,
	const char *op, const char *name, cJSON *body)
{
	cspf_http_request *req = NULL;
	char target[96];
	char *text;
	int rc;

	if (out)
		*out = NULL;
	snprintf(target, sizeof(target), TARGET "%s", op);
	text = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	if (!text)
		return cspf_error_set_oom();
	rc = cspf_aws_json_new(&req, sm->svc, target, text);
	free(text);
	if (rc < 0)
		return rc;
	return perform(out, code, sm, req, op, name);
}

/* {"SecretId": name} */
static cJSON *id_body(const char *name)
{
	cJSON *o = cJSON_CreateObject();

	if (o && !cJSON_AddStringToObject(o, "SecretId", name)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool is(const char *code, const char *want)
{
	return code && !strcmp(code, want);
}

/* `s` as a JSON string (quoted, escaped) into guarded memory. */
static void sbuf_json_string(cspf_sbuf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[7];
	size_t i;

	cspf_sbuf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			cspf_sbuf_put(b, esc, 2);
		} else if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			cspf_sbuf_put(b, esc, 6);
		} else {
			cspf_sbuf_putc(b, (char)c);
		}
	}
	cspf_sbuf_putc(b, '"');
	sodium_memzero(esc, sizeof(esc));
}

/*
 * Operation `op` whose body is the JSON object `fields` (not secret,
 * deleted here) plus "SecretString": `value`, built in guarded memory.
 */
static int call_secret(cJSON **out, char code[128], struct aws_sm *sm,
	const char *op, const char *name, cJSON *fields,
	const cspf_secret *value)
{
	cspf_http_request *req = NULL;
	cspf_sbuf b = CSPF_SBUF_INIT;
	cspf_secret *body = NULL;
	const unsigned char *p;
	char target[96];
	char *text;
	size_t n, tl;
	int rc;

	snprintf(target, sizeof(target), TARGET "%s", op);
	text = fields ? cJSON_PrintUnformatted(fields) : NULL;
	cJSON_Delete(fields);
	if (!text)
		return cspf_error_set_oom();
	/* {...fields..., "SecretString": "..."} */
	tl = strlen(text);
	if (tl < 2 || text[tl - 1] != '}') {
		free(text);
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
			"vault %s: cannot build a request", vname(sm));
	}
	cspf_sbuf_put(&b, text, tl - 1);
	cspf_sbuf_puts(&b, tl > 2 ? ",\"SecretString\":" : "\"SecretString\":");
	free(text);
	if (cspf_secret_open(&p, &n, value) < 0) {
		cspf_sbuf_dispose(&b);
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"vault %s: cannot open guarded memory", vname(sm));
	}
	sbuf_json_string(&b, p, n);
	cspf_secret_close(value);
	cspf_sbuf_putc(&b, '}');
	if (b.oom) {
		cspf_sbuf_dispose(&b);
		return cspf_error_set_oom();
	}
	if ((rc = cspf_sbuf_to_secret(&body, &b)) < 0) {
		cspf_sbuf_dispose(&b);
		return rc;
	}
	rc = cspf_aws_json_new_secret(&req, sm->svc, target, body);
	cspf_secret_free(body);
	if (rc < 0)
		return rc;
	return perform(out, code, sm, req, op, name);
}

/*
 * What DescribeSecret says: the versions that carry labels, and tags.
 */
struct desc {
	cJSON *root;
	const cJSON *v2s;  /* VersionIdsToStages, or NULL */
	const cJSON *tags; /* Tags, or NULL */
};

static void desc_dispose(struct desc *d)
{
	cJSON_Delete(d->root);
	memset(d, 0, sizeof(*d));
}

/* CSPF_ENOTFOUND (no error raised) when the secret does not exist. */
static int describe(struct desc *d, struct aws_sm *sm, const char *name)
{
	char code[128];
	int rc;

	memset(d, 0, sizeof(*d));
	rc = call(&d->root, code, sm, "DescribeSecret", name, id_body(name));
	if (rc < 0) {
		if (is(code, "ResourceNotFoundException")) {
			cspf_error_clear();
			return CSPF_ENOTFOUND;
		}
		return rc;
	}
	d->v2s = cJSON_GetObjectItemCaseSensitive(d->root,
		"VersionIdsToStages");
	d->tags = cJSON_GetObjectItemCaseSensitive(d->root, "Tags");
	return 0;
}

/* Does version `vid` carry `stage`? */
static bool has_stage(const struct desc *d, const char *vid,
	const char *stage)
{
	const cJSON *list, *s;

	if (!d->v2s || !vid)
		return false;
	list = cJSON_GetObjectItemCaseSensitive(d->v2s, vid);
	cJSON_ArrayForEach(s, list)
		if (cJSON_IsString(s) && !strcmp(s->valuestring, stage))
			return true;
	return false;
}

/* The version that carries `stage`, lent, or NULL. */
static const char *holder(const struct desc *d, const char *stage)
{
	const cJSON *v;

	if (!d->v2s)
		return NULL;
	cJSON_ArrayForEach(v, d->v2s)
		if (has_stage(d, v->string, stage))
			return v->string;
	return NULL;
}

/* The value of the facts tag of `vid`, lent, or NULL. */
static const char *facts_tag(const struct desc *d, const char *vid)
{
	const cJSON *t, *k, *v;
	size_t n = strlen(TAG_PREFIX);

	cJSON_ArrayForEach(t, d->tags) {
		k = cJSON_GetObjectItemCaseSensitive(t, "Key");
		v = cJSON_GetObjectItemCaseSensitive(t, "Value");
		if (cJSON_IsString(k) && cJSON_IsString(v) &&
			!strncmp(k->valuestring, TAG_PREFIX, n) &&
			!strcmp(k->valuestring + n, vid))
			return v->valuestring;
	}
	return NULL;
}

/* Field `c` ('r' or 'k') of a facts tag value, malloc'd, or NULL. */
static char *facts_field(const char *value, char c)
{
	const char *p = value, *end;

	while (p && *p) {
		while (*p == ' ')
			p++;
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		if (p[0] == c && p[1] == '=' && end > p + 2)
			return strndup(p + 2, (size_t)(end - p - 2));
		p = end;
	}
	return NULL;
}

/* Characters a tag value may hold (AWS: letters, digits, _.:/=+-@ ). */
static bool tag_safe(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("_.:/=+-@", *s)))
			return false;
	return true;
}

/*
 * Tag version `vid` with its facts, and drop the facts of versions that
 * no longer carry a label (d may be NULL for a new secret).
 */
static int tag_version(struct aws_sm *sm, const char *name,
	const struct desc *d, const char *vid, const char *rotation_id,
	const char *key_id)
{
	cJSON *body, *tags, *tag, *keys = NULL;
	const cJSON *t, *k;
	cspf_buf key = CSPF_BUF_INIT, val = CSPF_BUF_INIT;
	size_t n = strlen(TAG_PREFIX);
	int rc;

	cspf_buf_printf(&key, TAG_PREFIX "%s", vid);
	if (rotation_id)
		cspf_buf_printf(&val, "r=%s", rotation_id);
	if (key_id)
		cspf_buf_printf(&val, "%sk=%s", rotation_id ? " " : "", key_id);
	if (cspf_buf_oom(&key) || cspf_buf_oom(&val)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((body = id_body(name)) == NULL ||
		!(tags = cJSON_AddArrayToObject(body, "Tags")) ||
		!(tag = cJSON_CreateObject()) ||
		!cJSON_AddItemToArray(tags, tag) ||
		!cJSON_AddStringToObject(tag, "Key", key.ptr) ||
		!cJSON_AddStringToObject(tag, "Value", val.ptr ? val.ptr : "")) {
		cJSON_Delete(body);
		rc = cspf_error_set_oom();
		goto done;
	}
	if ((rc = call(NULL, NULL, sm, "TagResource", name, body)) < 0)
		goto done;
	/* Facts of versions that lost every label. */
	if (!d || !d->tags)
		goto done;
	cJSON_ArrayForEach(t, d->tags) {
		k = cJSON_GetObjectItemCaseSensitive(t, "Key");
		if (!cJSON_IsString(k) || strncmp(k->valuestring, TAG_PREFIX, n) ||
			!strcmp(k->valuestring + n, vid) ||
			(d->v2s && cJSON_GetObjectItemCaseSensitive(d->v2s,
				k->valuestring + n)))
			continue;
		if (!keys && (body = id_body(name)) &&
			!(keys = cJSON_AddArrayToObject(body, "TagKeys"))) {
			cJSON_Delete(body);
			body = NULL;
		}
		if (!keys)
			break;
		cJSON_AddItemToArray(keys, cJSON_CreateString(k->valuestring));
	}
	/* Best effort: a stale tag is only clutter. */
	if (keys && call(NULL, NULL, sm, "UntagResource", name, body) < 0)
		cspf_error_clear();
done:
	cspf_buf_dispose(&key);
	cspf_buf_dispose(&val);
	return rc;
}

/* CreateSecret without a value (for stage); an existing one is fine. */
static int create_empty(struct aws_sm *sm, const char *name)
{
	char code[128];
	cJSON *body = cJSON_CreateObject();
	int rc;

	if (!body || !cJSON_AddStringToObject(body, "Name", name) ||
		(sm->kms_key &&
			!cJSON_AddStringToObject(body, "KmsKeyId", sm->kms_key))) {
		cJSON_Delete(body);
		return cspf_error_set_oom();
	}
	rc = call(NULL, code, sm, "CreateSecret", name, body);
	if (rc < 0 && is(code, "ResourceExistsException")) {
		cspf_error_clear();
		rc = 0;
	}
	return rc;
}

/* UpdateSecretVersionStage; to / from may be NULL. */
static int move_stage(char code[128], struct aws_sm *sm, const char *name,
	const char *stage, const char *to, const char *from)
{
	cJSON *body = id_body(name);

	if (!body || !cJSON_AddStringToObject(body, "VersionStage", stage) ||
		(to && !cJSON_AddStringToObject(body, "MoveToVersionId", to)) ||
		(from && !cJSON_AddStringToObject(body, "RemoveFromVersionId",
			from))) {
		cJSON_Delete(body);
		return cspf_error_set_oom();
	}
	return call(NULL, code, sm, "UpdateSecretVersionStage", name, body);
}

/*
 * GetSecretValue of `stage` or of version `vid` (one of them NULL): the
 * value into *value (may be NULL), the version id and creation time.
 * CSPF_ENOTFOUND (raised) when there is no such version.
 */
static int get_value(cspf_secret **value, char **version, int64_t *created,
	struct aws_sm *sm, const char *name, const char *path,
	const char *stage, const char *vid)
{
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cspf_sbuf sb = CSPF_SBUF_INIT;
	cspf_buf what = CSPF_BUF_INIT, body = CSPF_BUF_INIT;
	const char *data, *v;
	size_t len, vn;
	bool str;
	char num[32];
	cJSON *o;
	char *text = NULL;
	int rc;

	if (value)
		*value = NULL;
	*version = NULL;
	*created = 0;
	if (!(o = id_body(name)) ||
		(stage && !cJSON_AddStringToObject(o, "VersionStage", stage)) ||
		(vid && !cJSON_AddStringToObject(o, "VersionId", vid)) ||
		!(text = cJSON_PrintUnformatted(o))) {
		cJSON_Delete(o);
		return cspf_error_set_oom();
	}
	cJSON_Delete(o);
	rc = cspf_aws_json_new(&req, sm->svc, TARGET "GetSecretValue", text);
	free(text);
	if (rc < 0)
		return rc;
	cspf_http_request_set_sensitive(req, true);
	rc = cspf_http_perform(&resp, sm->http, req);
	cspf_http_request_free(req);
	if (rc < 0)
		goto done;
	if (cspf_http_response_status(resp) / 100 != 2) {
		cspf_buf_printf(&what, "vault %s: secretsmanager GetSecretValue (%s) of %s",
			vname(sm), stage ? stage : vid, path);
		rc = cspf_aws_response_check(resp, 0,
			cspf_buf_oom(&what) ? "GetSecretValue" : what.ptr);
		goto done;
	}
	if ((rc = cspf_http_response_body_open(&data, &len, resp)) < 0)
		goto done;
	if (cspf_http_json_member(&v, &vn, &str, data, len, "VersionId") == 0 &&
		str)
		cspf_buf_put(&body, v, vn);
	if (cspf_http_json_member(&v, &vn, &str, data, len, "CreatedDate") == 0 &&
		!str && vn < sizeof(num)) {
		memcpy(num, v, vn);
		num[vn] = '\0';
		*created = (int64_t)strtod(num, NULL);
	}
	rc = 0;
	if (value) {
		if (cspf_http_json_member(&v, &vn, &str, data, len,
			"SecretString") < 0 || !str ||
			cspf_http_json_unescape(&sb, v, vn) < 0)
			rc = cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
				"vault %s: %s (%s) has no SecretString: cspf keeps text values only",
				vname(sm), path, stage ? stage : vid);
	}
	cspf_http_response_body_close(resp);
	if (rc < 0)
		goto done;
	if (cspf_buf_oom(&body) || !(*version = cspf_buf_detach(&body))) {
		rc = body.size ? cspf_error_set_oom() :
			cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"vault %s: GetSecretValue of %s answered without a VersionId",
				vname(sm), path);
		goto done;
	}
	if (value) {
		if (sb.oom) {
			rc = cspf_error_set_oom();
			goto done;
		}
		if (!sb.ptr)
			rc = cspf_secret_new(value, "", 0);
		else
			rc = cspf_sbuf_to_secret(value, &sb);
	}
done:
	if (rc < 0) {
		free(*version);
		*version = NULL;
	}
	cspf_sbuf_dispose(&sb);
	cspf_buf_dispose(&what);
	cspf_buf_dispose(&body);
	cspf_http_response_free(resp);
	return rc;
}

/*
 * The backend.
 */

static int sm_get(cspf_secret **value, cspf_vault_version *info,
	cspf_vault *v, const char *path, cspf_vault_label label)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	struct desc d = { 0 };
	const char *facts;
	char *name, *version = NULL;
	int64_t created;
	int rc;

	if (!(name = secret_name(sm, path, NULL)))
		return cspf_error_set_oom();
	rc = get_value(value, &version, &created, sm, name, path,
		stages[label], NULL);
	if (rc < 0 || !info)
		goto done;
	info->version = version;
	info->created = created;
	version = NULL;
	if ((rc = describe(&d, sm, name)) < 0) {
		if (rc == CSPF_ENOTFOUND)
			rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
				"vault %s: no secret %s", vname(sm), name);
		goto done;
	}
	if ((facts = facts_tag(&d, info->version))) {
		info->rotation_id = facts_field(facts, 'r');
		info->key_id = facts_field(facts, 'k');
	}
done:
	desc_dispose(&d);
	free(version);
	free(name);
	return rc;
}

static int sm_stage(cspf_vault *v, const char *path, const char *rotation_id,
	const cspf_secret *value, const char *key_id)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	struct desc d = { 0 };
	const cJSON *st, *s;
	char token[65], code[128];
	bool fresh = false, pending = false, current = false;
	cJSON *body = NULL, *out = NULL, *list;
	char *name;
	int rc;

	if (key_id && !tag_safe(key_id))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: key id of %s has characters an AWS tag cannot hold",
			vname(sm), path);
	if (!(name = secret_name(sm, path, NULL)))
		return cspf_error_set_oom();
	rotation_token(token, rotation_id);
	rc = describe(&d, sm, name);
	if (rc == CSPF_ENOTFOUND) {
		if ((rc = create_empty(sm, name)) < 0 ||
			(rc = describe(&d, sm, name)) < 0)
			goto done;
	} else if (rc < 0) {
		goto done;
	}
	/* Already staged by this rotation: nothing changes (its facts are
	 * only written should they be missing). */
	if (has_stage(&d, token, "AWSPENDING") ||
		has_stage(&d, token, "AWSCURRENT")) {
		if (!facts_tag(&d, token))
			rc = tag_version(sm, name, &d, token, rotation_id,
				key_id);
		goto done;
	}
	fresh = holder(&d, "AWSCURRENT") == NULL;
	if ((rc = tag_version(sm, name, &d, token, rotation_id, key_id)) < 0)
		goto done;
	if (!(body = id_body(name)) ||
		!cJSON_AddStringToObject(body, "ClientRequestToken", token) ||
		!(list = cJSON_AddArrayToObject(body, "VersionStages")) ||
		!cJSON_AddItemToArray(list, cJSON_CreateString("AWSPENDING"))) {
		cJSON_Delete(body);
		rc = cspf_error_set_oom();
		goto done;
	}
	rc = call_secret(&out, code, sm, "PutSecretValue", name, body, value);
	if (rc < 0) {
		if (is(code, "ResourceExistsException"))
			rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
				"vault %s: %s already has a version for rotation %s with another value: start a new rotation",
				vname(sm), path, rotation_id);
		goto done;
	}
	st = cJSON_GetObjectItemCaseSensitive(out, "VersionStages");
	cJSON_ArrayForEach(s, st) {
		if (cJSON_IsString(s) && !strcmp(s->valuestring, "AWSPENDING"))
			pending = true;
		if (cJSON_IsString(s) && !strcmp(s->valuestring, "AWSCURRENT"))
			current = true;
	}
	/*
	 * AWS made the first version of the secret current: take the label
	 * off again (best effort: should AWS refuse, the value is current
	 * as well as pending, as AWS itself would have it).
	 */
	if (current && fresh &&
		move_stage(code, sm, name, "AWSCURRENT", NULL, token) < 0)
		cspf_error_clear();
	/* The version was there without its label (a discarded stage). */
	if (!pending && !current)
		rc = move_stage(code, sm, name, "AWSPENDING", token,
			holder(&d, "AWSPENDING"));
done:
	cJSON_Delete(out);
	desc_dispose(&d);
	free(name);
	return rc;
}

static int sm_promote(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	struct desc d = { 0 };
	char token[65], code[128];
	int rc, tries;
	char *name;

	if (!(name = secret_name(sm, path, NULL)))
		return cspf_error_set_oom();
	rotation_token(token, rotation_id);
	for (tries = 0; tries < 3; tries++) {
		desc_dispose(&d);
		if ((rc = describe(&d, sm, name)) < 0)
			break;
		if (has_stage(&d, token, "AWSCURRENT"))
			break;
		if (!has_stage(&d, token, "AWSPENDING")) {
			rc = CSPF_ENOTFOUND;
			break;
		}
		rc = move_stage(code, sm, name, "AWSCURRENT", token,
			holder(&d, "AWSCURRENT"));
		/* Another writer moved AWSCURRENT meanwhile: look again. */
		if (rc < 0 && is(code, "InvalidParameterException")) {
			cspf_error_clear();
			continue;
		}
		if (rc < 0)
			goto done;
		desc_dispose(&d);
		if ((rc = describe(&d, sm, name)) < 0)
			break;
		break;
	}
	if (rc == CSPF_ENOTFOUND) {
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"vault %s: %s has no version of rotation %s to promote: stage it first",
			vname(sm), path, rotation_id);
		goto done;
	}
	if (rc < 0)
		goto done;
	if (!has_stage(&d, token, "AWSCURRENT")) {
		rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: %s: AWSCURRENT kept moving while rotation %s was promoted: run again",
			vname(sm), path, rotation_id);
		goto done;
	}
	if (has_stage(&d, token, "AWSPENDING"))
		rc = move_stage(code, sm, name, "AWSPENDING", NULL, token);
done:
	desc_dispose(&d);
	free(name);
	return rc;
}

static int sm_discard(cspf_vault *v, const char *path,
	const char *rotation_id)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	struct desc d = { 0 };
	char token[65], code[128];
	char *name;
	int rc;

	if (!(name = secret_name(sm, path, NULL)))
		return cspf_error_set_oom();
	rotation_token(token, rotation_id);
	rc = describe(&d, sm, name);
	if (rc == CSPF_ENOTFOUND) {
		rc = 0;
		goto done;
	}
	if (rc < 0 || !has_stage(&d, token, "AWSPENDING") ||
		has_stage(&d, token, "AWSCURRENT"))
		goto done;
	rc = move_stage(code, sm, name, "AWSPENDING", NULL, token);
	/* Gone meanwhile (a concurrent discard): that is the goal. */
	if (rc < 0 && is(code, "InvalidParameterException")) {
		cspf_error_clear();
		rc = 0;
	}
done:
	desc_dispose(&d);
	free(name);
	return rc;
}

static int sm_put(cspf_vault *v, const char *path, const cspf_secret *value,
	const char *key_id)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	struct desc d = { 0 };
	char vid[37], code[128];
	cJSON *body = NULL, *tags, *tag;
	cspf_buf val = CSPF_BUF_INIT, key = CSPF_BUF_INIT;
	char *name;
	int rc;

	if (key_id && !tag_safe(key_id))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: key id of %s has characters an AWS tag cannot hold",
			vname(sm), path);
	if (!(name = secret_name(sm, path, NULL)))
		return cspf_error_set_oom();
	random_version(vid);
	rc = describe(&d, sm, name);
	if (rc == 0) {
		if ((rc = tag_version(sm, name, &d, vid, NULL, key_id)) < 0)
			goto done;
		if (!(body = id_body(name)) ||
			!cJSON_AddStringToObject(body, "ClientRequestToken", vid)) {
			cJSON_Delete(body);
			rc = cspf_error_set_oom();
			goto done;
		}
		rc = call_secret(NULL, code, sm, "PutSecretValue", name, body,
			value);
		goto done;
	}
	if (rc != CSPF_ENOTFOUND)
		goto done;
	/* A new secret: its value and facts in one call. */
	cspf_buf_printf(&key, TAG_PREFIX "%s", vid);
	if (key_id)
		cspf_buf_printf(&val, "k=%s", key_id);
	if (cspf_buf_oom(&key) || cspf_buf_oom(&val) ||
		!(body = cJSON_CreateObject()) ||
		!cJSON_AddStringToObject(body, "Name", name) ||
		!cJSON_AddStringToObject(body, "ClientRequestToken", vid) ||
		(sm->kms_key &&
			!cJSON_AddStringToObject(body, "KmsKeyId", sm->kms_key)) ||
		!(tags = cJSON_AddArrayToObject(body, "Tags")) ||
		!(tag = cJSON_CreateObject()) || !cJSON_AddItemToArray(tags, tag) ||
		!cJSON_AddStringToObject(tag, "Key", key.ptr) ||
		!cJSON_AddStringToObject(tag, "Value", val.ptr ? val.ptr : "")) {
		cJSON_Delete(body);
		rc = cspf_error_set_oom();
		goto done;
	}
	rc = call_secret(NULL, code, sm, "CreateSecret", name, body, value);
	if (rc < 0 && is(code, "ResourceExistsException"))
		rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: %s was created by another writer meanwhile: put again",
			vname(sm), path);
done:
	cspf_buf_dispose(&key);
	cspf_buf_dispose(&val);
	desc_dispose(&d);
	free(name);
	return rc;
}

/*
 * The rotation record: the companion secret's AWSCURRENT.
 */

static int sm_record_get(char **record, char **tag, cspf_vault *v,
	const char *path)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	cJSON *o = NULL;
	const cJSON *s, *vid;
	char code[128];
	char *name;
	int rc;

	if (!(name = secret_name(sm, path, RECORD_SUFFIX)))
		return cspf_error_set_oom();
	if (!(o = id_body(name)) ||
		!cJSON_AddStringToObject(o, "VersionStage", "AWSCURRENT")) {
		cJSON_Delete(o);
		free(name);
		return cspf_error_set_oom();
	}
	rc = call(&o, code, sm, "GetSecretValue", name, o);
	if (rc < 0) {
		if (is(code, "ResourceNotFoundException"))
			rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
				"vault %s: %s has no rotation record", vname(sm),
				path);
		goto done;
	}
	s = cJSON_GetObjectItemCaseSensitive(o, "SecretString");
	vid = cJSON_GetObjectItemCaseSensitive(o, "VersionId");
	if (!cJSON_IsString(s) || !cJSON_IsString(vid)) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: the rotation record of %s (secret %s) is not text",
			vname(sm), path, name);
		goto done;
	}
	if (!(*record = strdup(s->valuestring)) ||
		!(*tag = strdup(vid->valuestring)))
		rc = cspf_error_set_oom();
done:
	cJSON_Delete(o);
	free(name);
	return rc;
}

/* The companion's AWSCURRENT version id (malloc'd) or NULL. */
static char *record_current(struct aws_sm *sm, const char *name)
{
	struct desc d;
	const char *h;
	char *out = NULL;

	if (describe(&d, sm, name) < 0) {
		cspf_error_clear();
		return NULL;
	}
	if ((h = holder(&d, "AWSCURRENT")))
		out = strdup(h);
	desc_dispose(&d);
	return out;
}

static int sm_record_put(cspf_vault *v, const char *path,
	const char *record, const char *tag, char **new_tag)
{
	struct aws_sm *sm = (struct aws_sm *)v;
	char vid[37], code[128];
	cJSON *body = NULL, *list;
	char *name, *now = NULL;
	int rc;

	if (!(name = secret_name(sm, path, RECORD_SUFFIX)))
		return cspf_error_set_oom();
	random_version(vid);
	if (!tag) {
		/* No record yet: whoever creates the companion wins. */
		if (!(body = cJSON_CreateObject()) ||
			!cJSON_AddStringToObject(body, "Name", name) ||
			!cJSON_AddStringToObject(body, "ClientRequestToken", vid) ||
			!cJSON_AddStringToObject(body, "SecretString", record) ||
			(sm->kms_key && !cJSON_AddStringToObject(body, "KmsKeyId",
				sm->kms_key))) {
			cJSON_Delete(body);
			rc = cspf_error_set_oom();
			goto done;
		}
		rc = call(NULL, code, sm, "CreateSecret", name, body);
		if (rc < 0 && is(code, "ResourceExistsException"))
			rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
				"vault %s: %s got a rotation record from another run meanwhile: read it again",
				vname(sm), path);
		goto out;
	}
	if (!(body = id_body(name)) ||
		!cJSON_AddStringToObject(body, "ClientRequestToken", vid) ||
		!cJSON_AddStringToObject(body, "SecretString", record) ||
		!(list = cJSON_AddArrayToObject(body, "VersionStages")) ||
		!cJSON_AddItemToArray(list, cJSON_CreateString(PROPOSED))) {
		cJSON_Delete(body);
		rc = cspf_error_set_oom();
		goto done;
	}
	rc = call(NULL, code, sm, "PutSecretValue", name, body);
	if (rc < 0 && is(code, "ResourceNotFoundException")) {
		rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
			"vault %s: the rotation record of %s was deleted meanwhile: read it again",
			vname(sm), path);
		goto done;
	}
	if (rc < 0)
		goto done;
	/* The swap: AWS refuses it unless AWSCURRENT is still on `tag`. */
	rc = move_stage(code, sm, name, "AWSCURRENT", vid, tag);
	if (rc < 0 && is(code, "InvalidParameterException")) {
		/* Maybe our own move, answered late and retried. */
		now = record_current(sm, name);
		if (now && !strcmp(now, vid)) {
			cspf_error_clear();
			rc = 0;
		} else {
			rc = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_INVALID,
				"vault %s: another run changed the rotation record of %s: read it again",
				vname(sm), path);
		}
	}
out:
	if (rc == 0 && new_tag && !(*new_tag = strdup(vid)))
		rc = cspf_error_set_oom();
done:
	free(now);
	free(name);
	return rc;
}

static void sm_free(cspf_vault *v)
{
	struct aws_sm *sm = (struct aws_sm *)v;

	if (!sm)
		return;
	cspf_aws_service_free(sm->svc);
	cspf_aws_credentials_free(sm->creds);
	cspf_http_free(sm->http);
	free(sm->prefix);
	free(sm->kms_key);
	free(sm);
}

static const char *config_string(const cJSON *config, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(config, key);

	return cJSON_IsString(item) && *item->valuestring ?
		item->valuestring : NULL;
}

static int sm_open(cspf_vault **out, const char *name, const cJSON *config,
	const cspf_vault_options *opts)
{
	cspf_http_options ho = CSPF_HTTP_OPTIONS_INIT;
	const char *region, *s;
	struct aws_sm *sm;
	int rc;

	*out = NULL;
	if (!(region = config_string(config, "region")))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"vault %s: an aws-secrets-manager vault needs \"region\" in cspf.json",
			name);
	if (!(sm = calloc(1, sizeof(*sm))))
		return cspf_error_set_oom();
	ho.ca_file = opts->ca_file;
	ho.max_attempts = opts->max_attempts;
	ho.timeout_ms = opts->timeout * 1000;
	ho.concurrency = 1;
	if ((s = config_string(config, "prefix")) && !(sm->prefix = strdup(s)))
		goto oom;
	if ((s = config_string(config, "kms_key")) && !(sm->kms_key = strdup(s)))
		goto oom;
	if ((rc = cspf_http_new(&sm->http, &ho)) < 0)
		goto fail;
	if ((rc = cspf_aws_credentials_resolve(&sm->creds, sm->http,
		NULL)) < 0)
		goto fail;
	if ((rc = cspf_aws_service_new(&sm->svc, "secretsmanager", region,
		sm->creds, config_string(config, "endpoint_url"))) < 0)
		goto fail;
	*out = &sm->base;
	return 0;
oom:
	rc = cspf_error_set_oom();
fail:
	sm_free(&sm->base);
	return rc;
}

const struct cspf_vault_backend cspf_vault_aws_sm_backend = {
	.version = CSPF_VAULT_BACKEND_VERSION,
	.type = "aws-secrets-manager",
	.open = sm_open,
	.get = sm_get,
	.stage = sm_stage,
	.promote = sm_promote,
	.discard = sm_discard,
	.put = sm_put,
	.record_get = sm_record_get,
	.record_put = sm_record_put,
	.free = sm_free,
};
