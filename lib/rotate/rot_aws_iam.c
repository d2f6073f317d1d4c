/*
 * aws-iam-access-key (alias aws-iam-user): the access key of an IAM user.
 *
 * IAM creates the key, so this rotator is provider_creates: create is
 * CreateAccessKey (the secret access key read straight into guarded
 * memory), cleanup deletes the user's keys that the vault does not know
 * (a key created by a run that died before it could stage it), test signs
 * sts:GetCallerIdentity with the new key, waiting out IAM's propagation
 * delay, retire deactivates (UpdateAccessKey Inactive) then deletes, undo
 * deletes the pending key.
 *
 * IAM is called with cspf's own credentials (the AWS CLI's chain), or,
 * when cspf.json sets providers.aws.rotation_role, with the role of that
 * name in the credential's account (sts:AssumeRole first).
 * providers.aws.endpoint_url, when set, is the endpoint of IAM and STS.
 *
 * The value is {"access_key_id": "AKIA...", "secret_access_key": "..."};
 * key ids go into log lines, secrets nowhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/aws.h"
#include "rotate/rotator.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/banned.h"

#define DEFAULT_PROPAGATION_S 30

/* What one call of the rotator works with. */
struct iam {
	const cspf_rotator_ctx *ctx;
	const char *user;     /* identity.user */
	const char *account;  /* the account's accountid, or NULL */
	const char *endpoint; /* providers.aws.endpoint_url, or NULL */
	const char *role;     /* providers.aws.rotation_role, or NULL */
	const char *region;   /* STS's region: providers.aws.regions[0] */
	const char *iam_region; /* IAM's: the partition's global region */
	cspf_aws_credentials *creds;
	cspf_aws_service *svc;
};

static void say(const cspf_rotator_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const cspf_rotator_ctx *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!ctx->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ctx->log(ctx->log_payload, "%s", line);
}

static const char *json_str(const cJSON *o, const char *path)
{
	char key[64];
	const char *dot;
	size_t n;

	while ((dot = strchr(path, '.'))) {
		n = (size_t)(dot - path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		path = dot + 1;
	}
	o = cJSON_GetObjectItemCaseSensitive(o, path);
	return cJSON_IsString(o) && *o->valuestring ? o->valuestring : NULL;
}

static void iam_dispose(struct iam *x)
{
	cspf_aws_service_free(x->svc);
	cspf_aws_credentials_free(x->creds);
	memset(x, 0, sizeof(*x));
}

/* The facts of the context; no call yet. */
static int iam_facts(struct iam *x, const cspf_rotator_ctx *ctx)
{
	const cJSON *aws, *regions;
	const char *partition;

	memset(x, 0, sizeof(*x));
	x->ctx = ctx;
	x->user = json_str(ctx->credential, "identity.user");
	if (!x->user)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: aws-iam-access-key needs identity.user (the IAM user) in the credential's entry",
			ctx->credential_id);
	x->account = json_str(ctx->account, "accountid");
	aws = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(ctx->config, "providers"),
		"aws");
	x->endpoint = json_str(aws, "endpoint_url");
	x->role = json_str(aws, "rotation_role");
	regions = cJSON_GetObjectItemCaseSensitive(aws, "regions");
	if (cJSON_IsArray(regions) && cJSON_IsString(regions->child))
		x->region = regions->child->valuestring;
	partition = json_str(aws, "partition");
	x->iam_region = "us-east-1";
	if (partition && !strcmp(partition, "aws-cn"))
		x->iam_region = "cn-north-1";
	else if (partition && !strcmp(partition, "aws-us-gov"))
		x->iam_region = "us-gov-west-1";
	if (!x->region)
		x->region = x->iam_region;
	return 0;
}

/* The credentials IAM is called with, and the IAM service. */
static int iam_open(struct iam *x, const cspf_rotator_ctx *ctx)
{
	cspf_aws_assume_role_options ro = CSPF_AWS_ASSUME_ROLE_OPTIONS_INIT;
	cspf_aws_credentials *base = NULL;
	char arn[160], session[80];
	int rc;

	if ((rc = iam_facts(x, ctx)) < 0)
		return rc;
	if ((rc = cspf_aws_credentials_resolve(&base, ctx->http, NULL)) < 0)
		goto fail;
	if (x->role) {
		if (!x->account) {
			rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"%s: providers.aws.rotation_role is set but the credential has no account with an accountid to assume it in",
				ctx->credential_id);
			goto fail;
		}
		snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role/%s",
			x->account, x->role);
		snprintf(session, sizeof(session), "cspf-rotate-%.48s",
			ctx->rotation_id ? ctx->rotation_id : "run");
		ro.role_arn = arn;
		ro.session_name = session;
		ro.region = x->region;
		ro.endpoint = x->endpoint;
		rc = cspf_aws_assume_role(&x->creds, ctx->http, base, &ro);
		cspf_aws_credentials_free(base);
		base = NULL;
		if (rc < 0)
			goto fail;
	} else {
		x->creds = base;
		base = NULL;
	}
	if ((rc = cspf_aws_service_new(&x->svc, "iam", x->iam_region,
		x->creds, x->endpoint)) < 0)
		goto fail;
	return 0;
fail:
	cspf_aws_credentials_free(base);
	iam_dispose(x);
	return rc;
}

/*
 * Perform a request (freed here).  2xx: 0, and the answer to *resp when
 * resp is not NULL.  Otherwise the AWS error code into `code` and the
 * error raised by cspf_aws_response_check() naming `what`.
 */
static int perform(cspf_http_response **resp, char code[128],
	cspf_http_client *http, cspf_http_request *req, const char *what)
{
	cspf_http_response *r = NULL;
	cspf_aws_error e;
	int rc;

	if (resp)
		*resp = NULL;
	code[0] = '\0';
	rc = cspf_http_perform(&r, http, req);
	cspf_http_request_free(req);
	if (rc < 0)
		return rc;
	if (cspf_http_response_status(r) / 100 != 2) {
		if (cspf_aws_error_parse(&e, r) == 0)
			memcpy(code, e.code, sizeof(e.code));
		rc = cspf_aws_response_check(r, 0, what);
		cspf_http_response_free(r);
		return rc;
	}
	if (resp)
		*resp = r;
	else
		cspf_http_response_free(r);
	return 0;
}

/* IAM `action` on the user, with AccessKeyId `key` and Status `status`. */
static int iam_call(cspf_http_response **resp, char code[128],
	struct iam *x, const char *action, const char *key,
	const char *status, const char *marker, bool sensitive)
{
	cspf_http_request *req = NULL;
	char what[256];
	int rc;

	snprintf(what, sizeof(what), "%s: iam %s of user %s%s%s",
		x->ctx->credential_id, action, x->user, key ? " key " : "",
		key ? key : "");
	if ((rc = cspf_aws_query_new(&req, x->svc, action, NULL)) < 0)
		return rc;
	if ((rc = cspf_http_request_set_form_param(req, "UserName",
		x->user)) < 0 ||
		(key && (rc = cspf_http_request_set_form_param(req,
			"AccessKeyId", key)) < 0) ||
		(status && (rc = cspf_http_request_set_form_param(req,
			"Status", status)) < 0) ||
		(marker && (rc = cspf_http_request_set_form_param(req,
			"Marker", marker)) < 0)) {
		cspf_http_request_free(req);
		return rc;
	}
	if (sensitive)
		cspf_http_request_set_sensitive(req, true);
	return perform(resp, code, x->ctx->http, req, what);
}

static bool is(const char *code, const char *want)
{
	return !strcmp(code, want);
}

/* The user's access key ids (NULL-terminated, malloc'd) */
static int list_keys(char ***out, struct iam *x)
{
	cspf_http_response *resp = NULL;
	cspf_aws_xml *doc = NULL;
	const cspf_aws_xml_node *res, *m;
	char **keys = NULL, **grown, *marker = NULL, *trunc, *id;
	size_t n = 0;
	char code[128];
	int rc;

	*out = NULL;
	do {
		if ((rc = iam_call(&resp, code, x, "ListAccessKeys", NULL, NULL,
			marker, false)) < 0 ||
			(rc = cspf_aws_xml_parse_response(&doc, resp)) < 0)
			goto done;
		res = cspf_aws_xml_path(cspf_aws_xml_root(doc),
			"ListAccessKeysResult");
		m = cspf_aws_xml_child(cspf_aws_xml_path(res,
			"AccessKeyMetadata"), "member");
		for (; m; m = cspf_aws_xml_next(m, "member")) {
			if (!(id = cspf_aws_xml_get(m, "AccessKeyId")))
				continue;
			if (!(grown = realloc(keys, (n + 2) * sizeof(*keys)))) {
				free(id);
				rc = cspf_error_set_oom();
				goto done;
			}
			keys = grown;
			keys[n++] = id;
			keys[n] = NULL;
		}
		free(marker);
		marker = NULL;
		trunc = cspf_aws_xml_get(res, "IsTruncated");
		if (trunc && !strcmp(trunc, "true"))
			marker = cspf_aws_xml_get(res, "Marker");
		free(trunc);
		cspf_aws_xml_free(doc);
		doc = NULL;
		cspf_http_response_free(resp);
		resp = NULL;
	} while (marker);
	if (!keys && !(keys = calloc(1, sizeof(*keys)))) {
		rc = cspf_error_set_oom();
		goto done;
	}
	*out = keys;
	keys = NULL;
	rc = 0;
done:
	for (n = 0; keys && keys[n]; n++)
		free(keys[n]);
	free(keys);
	free(marker);
	cspf_aws_xml_free(doc);
	cspf_http_response_free(resp);
	return rc;
}

static void free_list(char **l)
{
	size_t i;

	for (i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

/* DeleteAccessKey; a key already gone is deleted. */
static int delete_key(struct iam *x, const char *key)
{
	char code[128];
	int rc = iam_call(NULL, code, x, "DeleteAccessKey", key, NULL, NULL,
		false);

	if (rc < 0 && is(code, "NoSuchEntity")) {
		cspf_error_clear();
		return 0;
	}
	return rc;
}

/* The access key id inside a value, malloc'd, or NULL. */
static char *value_key_id(const cspf_secret *value)
{
	cspf_secret *id = NULL;
	const unsigned char *p;
	char *out = NULL;
	size_t n;

	if (!value || cspf_rotator_json_field(&id, value,
		"access_key_id") < 0) {
		cspf_error_clear();
		return NULL;
	}
	if (cspf_secret_open(&p, &n, id) == 0) {
		out = strndup((const char *)p, n);
		cspf_secret_close(id);
	}
	cspf_secret_free(id);
	return out;
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int iam_cleanup(const cspf_rotator_ctx *ctx,
	const char *current_key_id, const char *pending_key_id,
	const char *previous_key_id)
{
	struct iam x;
	const char *registered;
	char **keys = NULL;
	size_t i;
	int rc;

	if ((rc = iam_facts(&x, ctx)) < 0)
		return rc;
	/*
	 * Without a current key id nothing says which key is live: deleting
	 * "everything else" could delete it.  Leave the keys alone.
	 */
	if (!current_key_id) {
		say(ctx, "%s: the vault names no current access key: no cleanup of user %s",
			ctx->credential_id, x.user);
		return 0;
	}
	registered = json_str(ctx->credential, "identity.access_key_id");
	if ((rc = iam_open(&x, ctx)) < 0)
		return rc;
	if ((rc = list_keys(&keys, &x)) < 0)
		goto done;
	for (i = 0; keys[i]; i++) {
		if (same(keys[i], current_key_id) ||
			same(keys[i], pending_key_id) ||
			same(keys[i], previous_key_id) ||
			same(keys[i], registered))
			continue;
		say(ctx, "%s: deleting access key %s of user %s: no vault version holds it (left by an interrupted run)",
			ctx->credential_id, keys[i], x.user);
		if ((rc = delete_key(&x, keys[i])) < 0)
			goto done;
	}
done:
	free_list(keys);
	iam_dispose(&x);
	return rc;
}

/* The value {"access_key_id": id, "secret_access_key": secret}. */
static int make_value(cspf_secret **out, const char *id,
	const cspf_secret *secret)
{
	cspf_sbuf b = CSPF_SBUF_INIT;
	const unsigned char *p;
	size_t n, i;

	cspf_sbuf_puts(&b, "{\"access_key_id\":\"");
	cspf_sbuf_puts(&b, id);
	cspf_sbuf_puts(&b, "\",\"secret_access_key\":\"");
	if (cspf_secret_open(&p, &n, secret) < 0) {
		cspf_sbuf_dispose(&b);
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"cannot open guarded memory");
	}
	/* AWS secret keys are base64 text: anything else is refused. */
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
			break;
	if (i == n)
		cspf_sbuf_put(&b, p, n);
	cspf_secret_close(secret);
	if (i < n) {
		cspf_sbuf_dispose(&b);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"IAM answered a secret access key that is not base64 text");
	}
	cspf_sbuf_puts(&b, "\"}");
	if (b.oom) {
		cspf_sbuf_dispose(&b);
		return cspf_error_set_oom();
	}
	return cspf_sbuf_to_secret(out, &b);
}

static int iam_create(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	cspf_secret **value, char **key_id)
{
	cspf_http_response *resp = NULL;
	cspf_aws_xml *doc = NULL;
	const cspf_aws_xml_node *k;
	cspf_secret *secret = NULL;
	char **keys = NULL;
	char code[128], *id = NULL;
	struct iam x;
	int rc;

	(void)current;
	*value = NULL;
	*key_id = NULL;
	if ((rc = iam_open(&x, ctx)) < 0)
		return rc;
	rc = iam_call(&resp, code, &x, "CreateAccessKey", NULL, NULL, NULL,
		true);
	if (rc < 0 && is(code, "LimitExceeded")) {
		if (list_keys(&keys, &x) < 0)
			cspf_error_clear();
		rc = cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"%s: IAM user %s already has two access keys (%s%s%s), the most IAM allows (LimitExceeded): retire or delete one, then rotate again",
			ctx->credential_id, x.user,
			keys && keys[0] ? keys[0] : "?",
			keys && keys[0] && keys[1] ? ", " : "",
			keys && keys[0] && keys[1] ? keys[1] : "");
		goto done;
	}
	if (rc < 0 || (rc = cspf_aws_xml_parse_response(&doc, resp)) < 0)
		goto done;
	k = cspf_aws_xml_path(cspf_aws_xml_root(doc),
		"CreateAccessKeyResult/AccessKey");
	if (!(id = cspf_aws_xml_get(k, "AccessKeyId")) ||
		cspf_aws_xml_text_secret(&secret, cspf_aws_xml_child(k,
			"SecretAccessKey")) < 0) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: iam CreateAccessKey of user %s answered without a key",
			ctx->credential_id, x.user);
		goto done;
	}
	if ((rc = make_value(value, id, secret)) < 0)
		goto done;
	say(ctx, "%s: created access key %s for user %s",
		ctx->credential_id, id, x.user);
	*key_id = id;
	id = NULL;
done:
	free(id);
	free_list(keys);
	cspf_secret_free(secret);
	cspf_aws_xml_free(doc);
	cspf_http_response_free(resp);
	iam_dispose(&x);
	return rc;
}

static int iam_set(const cspf_rotator_ctx *ctx, const cspf_secret *pending,
	const cspf_secret *current)
{
	(void)ctx;
	(void)pending;
	(void)current;
	return 0; /* the key exists since create */
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CSPF_AWS_PROPAGATION_TIMEOUT (seconds), else 30. */
static double propagation_timeout(void)
{
	const char *s = getenv("CSPF_AWS_PROPAGATION_TIMEOUT");
	char *end;
	double v;

	if (!s || !*s)
		return DEFAULT_PROPAGATION_S;
	v = strtod(s, &end);
	if (*end || v < 0 || v > 3600)
		return DEFAULT_PROPAGATION_S;
	return v;
}

/* The user name of an IAM user ARN (after the last '/'), or NULL. */
static const char *arn_user(const char *arn)
{
	const char *u = strstr(arn, ":user/");

	if (!u)
		return NULL;
	u = strrchr(u, '/');
	return u ? u + 1 : NULL;
}

static int iam_test(const cspf_rotator_ctx *ctx, const cspf_secret *pending)
{
	cspf_secret *secret = NULL;
	cspf_aws_credentials *creds = NULL;
	cspf_aws_service *sts = NULL;
	cspf_http_request *req = NULL;
	cspf_http_response *resp = NULL;
	cspf_aws_xml *doc = NULL;
	const cspf_aws_xml_node *res;
	char *id = NULL, *arn = NULL, *account = NULL;
	const char *user;
	char code[128], what[256];
	double deadline = mono() + propagation_timeout();
	long wait = 500;
	unsigned int tries = 0;
	struct iam x;
	int rc;

	if ((rc = iam_facts(&x, ctx)) < 0)
		return rc;
	if (!(id = value_key_id(pending)) ||
		cspf_rotator_json_field(&secret, pending,
			"secret_access_key") < 0) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"%s: the pending value is not an AWS access key ({\"access_key_id\", \"secret_access_key\"})",
			ctx->credential_id);
		goto done;
	}
	if ((rc = cspf_aws_credentials_new(&creds, id, secret, NULL, 0,
		"the pending access key")) < 0 ||
		(rc = cspf_aws_service_new(&sts, "sts", x.region, creds,
			x.endpoint)) < 0)
		goto done;
	snprintf(what, sizeof(what),
		"%s: sts GetCallerIdentity signed with the new key %s",
		ctx->credential_id, id);
	for (;;) {
		tries++;
		if ((rc = cspf_aws_query_new(&req, sts, "GetCallerIdentity",
			NULL)) < 0)
			goto done;
		rc = perform(&resp, code, ctx->http, req, what);
		req = NULL;
		if (rc == 0)
			break;
		/* IAM has not told STS about the key yet: wait and see. */
		if (!is(code, "InvalidClientTokenId") || mono() + wait / 1e3 >
			deadline)
			goto done;
		cspf_error_clear();
		sleep_ms(wait);
		if (wait < 4000)
			wait *= 2;
	}
	if ((rc = cspf_aws_xml_parse_response(&doc, resp)) < 0)
		goto done;
	res = cspf_aws_xml_path(cspf_aws_xml_root(doc),
		"GetCallerIdentityResult");
	arn = cspf_aws_xml_get(res, "Arn");
	account = cspf_aws_xml_get(res, "Account");
	user = arn ? arn_user(arn) : NULL;
	if (!user || strcmp(user, x.user)) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"%s: the new key %s signs as %s, not as IAM user %s",
			ctx->credential_id, id, arn ? arn : "(no Arn)", x.user);
		goto done;
	}
	if (x.account && account && strcmp(account, x.account)) {
		rc = cspf_error_set(CSPF_EAUTH, CSPF_ERRCLASS_INVALID,
			"%s: the new key %s belongs to account %s, not %s",
			ctx->credential_id, id, account, x.account);
		goto done;
	}
	say(ctx, "%s: the new key %s works (%s, attempt %u)",
		ctx->credential_id, id, arn, tries);
	rc = 0;
done:
	free(id);
	free(arn);
	free(account);
	cspf_aws_xml_free(doc);
	cspf_http_response_free(resp);
	cspf_aws_service_free(sts);
	cspf_aws_credentials_free(creds);
	cspf_secret_free(secret);
	return rc;
}

static int iam_retire(const cspf_rotator_ctx *ctx,
	const cspf_secret *previous, const char *previous_key_id, bool final)
{
	char *own = NULL, code[128];
	const char *key = previous_key_id;
	struct iam x;
	int rc;

	if (!key)
		key = own = value_key_id(previous);
	if (!key)
		return 0; /* nothing to retire */
	if ((rc = iam_open(&x, ctx)) < 0)
		goto out;
	if (final) {
		say(ctx, "%s: deleting the previous access key %s of user %s",
			ctx->credential_id, key, x.user);
		rc = delete_key(&x, key);
	} else {
		say(ctx, "%s: deactivating the previous access key %s of user %s",
			ctx->credential_id, key, x.user);
		rc = iam_call(NULL, code, &x, "UpdateAccessKey", key,
			"Inactive", NULL, false);
		/* Deleted already: more than deactivated. */
		if (rc < 0 && is(code, "NoSuchEntity")) {
			cspf_error_clear();
			rc = 0;
		}
	}
	iam_dispose(&x);
out:
	free(own);
	return rc;
}

static int iam_undo(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	const cspf_secret *pending, const char *pending_key_id)
{
	char *own = NULL;
	const char *key = pending_key_id;
	struct iam x;
	int rc;

	(void)current;
	if (!key)
		key = own = value_key_id(pending);
	if (!key)
		return 0;
	if ((rc = iam_open(&x, ctx)) < 0)
		goto out;
	say(ctx, "%s: deleting the pending access key %s of user %s",
		ctx->credential_id, key, x.user);
	rc = delete_key(&x, key);
	iam_dispose(&x);
out:
	free(own);
	return rc;
}

const cspf_rotator cspf_rotator_aws_iam = {
	.version = CSPF_ROTATOR_VERSION,
	.name = "aws-iam-access-key",
	.provider_creates = true,
	.cleanup = iam_cleanup,
	.create = iam_create,
	.set = iam_set,
	.test = iam_test,
	.retire = iam_retire,
	.undo = iam_undo,
};
