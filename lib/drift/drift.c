/*
 * The registry against an inventory snapshot: see cspf/drift.h.
 *
 * Every finding lands on a registry file, because that is where the fix
 * goes: a credential whose key was rotated outside cspf is a mismatch on
 * the credential's access_key_id; a user the registry does not know is a
 * finding on its account's file.  Its id (the entity it concerns) is what
 * an exception's target names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cspf/drift.h"
#include "util/buf.h"
#include "util/error.h"
#include "cspf/time.h"

/* clang-format off */
static const cspf_drift_rule rules[] = {
	{ "drift/undocumented", "Undocumented in the registry",
	  "Something runs in the cloud that no registry entry documents "
	  "(CSPF 1.1): document it, or delete it." },
	{ "drift/stale", "Gone from the cloud",
	  "The registry documents something the cloud no longer has: remove "
	  "the entry, or find out where it went." },
	{ "drift/mismatch", "Registry and cloud disagree",
	  "The registry says one thing and the cloud another: a key id, a "
	  "creation date, versioning, logging, a classification tag." },
	{ "CSPF-4.4", "Root access keys",
	  "IaaS accounts should not have root access keys provisioned." },
	{ "CSPF-4.5", "Old access key",
	  "Static access keys are rotated within their maximum age (six "
	  "months unless the registry says otherwise)." },
	{ "CSPF-4.6", "No MFA",
	  "All access to IaaS accounts is protected with two factors: the "
	  "root user and every console user have MFA." },
	{ "CSPF-5.1", "CloudTrail",
	  "Every account logs every region to a trail with log file "
	  "validation on." },
	{ "CSPF-7.6", "Unused credential or role",
	  "Credentials and roles unused for the unused-permission window "
	  "(90 days by default) are removed." },
	{ "CSPF-11.2", "Bucket logging and versioning",
	  "Red and blue buckets have access logging and versioning "
	  "enabled." },
	{ "inventory/error", "Not inventoried",
	  "The account could not be read (in full): its drift is unknown." },
};
/* clang-format on */

const cspf_drift_rule *cspf_drift_rules(size_t *count)
{
	if (count)
		*count = sizeof(rules) / sizeof(rules[0]);
	return rules;
}

struct drift {
	cspf_diags *out;
	cspf_drift_stats *stats;
	const cspf_registry *reg;
	int64_t now;
	int64_t tolerance;
	const char *max_age;  /* the policy's credential_max_age */
	const char *unused;   /* the policy's unused_permission_window */
	const char *inventory_role; /* providers.aws.inventory_role */
	int oom;
};

/* ---- JSON helpers ---- */

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_true(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(get(o, k));
}

static int has_bool(const cJSON *o, const char *k)
{
	return cJSON_IsBool(get(o, k));
}

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int time_of(int64_t *t, const cJSON *o, const char *k)
{
	const char *s = str(o, k);

	return s && cspf_time_parse(t, s) == 0;
}

/* ---- findings ---- */

/*
 * Is there an exception, approved and not expired, for `rule` on the
 * entity `target`?  An exception names a rule id ("CSPF-4.5",
 * "drift/undocumented") and an entity; one on a credentials file covers
 * every credential in it, one on an account everything found in it.
 */
static const cspf_entity *waiver(struct drift *d, const char *rule,
	const char *target)
{
	size_t i, n = cspf_registry_count(d->reg);

	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(d->reg, i);
		const char *r, *t;
		size_t tl;
		int64_t until;

		if (e->kind != CSPF_KIND_EXCEPTION)
			continue;
		r = str(e->json, "rule");
		t = str(e->json, "target");
		if (!r || !t || !target)
			continue;
		if (strcasecmp(r, rule) != 0 &&
		    !(strncmp(rule, "drift/", 6) == 0 &&
			    !strcasecmp(r, "CSPF-1.1")))
			continue;
		tl = strlen(t);
		if (strcmp(t, target) != 0 &&
		    !(strncmp(t, target, tl) == 0 && target[tl] == '#'))
			continue;
		if (!time_of(&until, e->json, "expires") || until <= d->now)
			continue;
		return e;
	}
	return NULL;
}

/*
 * A finding on entity `e` at member `member` of it (NULL: the entity
 * itself), about `target` (the entity id an exception must name; NULL:
 * e's id).
 */
static void finding(struct drift *d, cspf_severity sev, const char *rule,
	const cspf_entity *e, const char *member, const char *target,
	const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void finding(struct drift *d, cspf_severity sev, const char *rule,
	const cspf_entity *e, const char *member, const char *target,
	const char *fmt, ...)
{
	cspf_buf msg = CSPF_BUF_INIT, ptr = CSPF_BUF_INIT;
	unsigned int line = 0, col = 0;
	cspf_diag *g;
	va_list ap;

	if (!target)
		target = e->id;
	if (waiver(d, rule, target)) {
		if (d->stats)
			d->stats->waived++;
		return;
	}
	va_start(ap, fmt);
	cspf_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	cspf_buf_puts(&ptr, e->pointer);
	if (member && get(e->json, member))
		cspf_buf_put_pointer_token(&ptr, member, strlen(member));
	if (cspf_buf_oom(&msg) || cspf_buf_oom(&ptr)) {
		d->oom = 1;
		goto out;
	}
	cspf_json_position(&line, &col, e->doc, ptr.ptr,
		CSPF_JSON_POS_VALUE);
	g = cspf_diags_add(d->out, sev, rule, e->path, ptr.ptr, NULL, NULL,
		msg.ptr);
	if (!g) {
		d->oom = 1;
		goto out;
	}
	g->line = line ? line : 1;
	g->column = line ? col : 1;
out:
	cspf_buf_dispose(&msg);
	cspf_buf_dispose(&ptr);
}

/* ---- the registry's side ---- */

/* The account entity a credential or asset belongs to ("account"). */
static int in_account(const cspf_entity *e, const cspf_entity *account)
{
	return streq(str(e->json, "account"), account->id);
}

static const cspf_entity *account_entity(struct drift *d,
	const cJSON *snap_account)
{
	const char *rid = str(snap_account, "registry_id");
	const char *id = str(snap_account, "id");

	if (rid) {
		const cspf_entity *e = cspf_registry_find(d->reg, rid);
		if (e && e->kind == CSPF_KIND_ACCOUNT)
			return e;
	}
	return cspf_registry_find_account(d->reg, id);
}

/* The credential's max age: its rotation's, else the policy's. */
static int64_t expiry_of(struct drift *d, const cspf_entity *cred,
	int64_t created)
{
	const char *age = cred ? str(get(cred->json, "rotation"), "max_age") :
				 NULL;
	int64_t t;

	if (!age || cspf_duration_add(&t, created, age) < 0)
		if (cspf_duration_add(&t, created, d->max_age) < 0)
			cspf_duration_add(&t, created, "P180D");
	return t;
}

/* Unused since before the window: last used (or, never used, created). */
static int unused(struct drift *d, const cJSON *o, const char *last_key,
	int64_t *since)
{
	int64_t t, limit;

	if (!time_of(&t, o, last_key) && !time_of(&t, o, "created"))
		return 0;
	if (cspf_duration_add(&limit, t, d->unused) < 0)
		cspf_duration_add(&limit, t, "P90D");
	*since = t;
	return limit <= d->now;
}

static void day(char buf[CSPF_TIME_BUFSIZE], int64_t t)
{
	cspf_time_format(buf, t);
	buf[10] = '\0';
}

/* ---- AWS ---- */

struct aws_cred {
	const cspf_entity *e;
	const char *user;
	const char *key;
	int seen; /* its user was found */
};

static const cJSON *find_named(const cJSON *list, const char *key,
	const char *value, int nocase)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, list) {
		const char *v = str(x, key);
		if (v && value && (nocase ? !strcasecmp(v, value) :
					    !strcmp(v, value)))
			return x;
	}
	return NULL;
}

static void aws_users(struct drift *d, const cspf_entity *acct,
	const cJSON *sa)
{
	size_t i, n = cspf_registry_count(d->reg), nc = 0;
	struct aws_cred *creds = calloc(n ? n : 1, sizeof(*creds));
	const cJSON *u, *k;
	char when[CSPF_TIME_BUFSIZE], lim[CSPF_TIME_BUFSIZE];

	if (!creds) {
		d->oom = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(d->reg, i);
		const cJSON *id = get(e->json, "identity");
		if (e->kind != CSPF_KIND_CREDENTIALS || !in_account(e, acct) ||
		    !streq(str(id, "type"), "aws-iam-user"))
			continue;
		creds[nc].e = e;
		creds[nc].user = str(id, "user") ? str(id, "user") :
						   str(e->json, "username");
		creds[nc].key = str(id, "access_key_id");
		nc++;
	}
	cJSON_ArrayForEach(u, get(sa, "users")) {
		const char *name = str(u, "name");
		const cspf_entity *first = NULL, *gone = NULL;
		const char *gone_key = NULL;
		int64_t t, since;

		if (!name)
			continue;
		for (i = 0; i < nc; i++) {
			if (!streq(creds[i].user, name))
				continue;
			creds[i].seen = 1;
			if (!first)
				first = creds[i].e;
			if (creds[i].key && !find_named(get(u, "access_keys"),
						    "id", creds[i].key, 0)) {
				gone = creds[i].e;
				gone_key = creds[i].key;
			}
		}
		if (!first)
			finding(d, CSPF_SEVERITY_ERROR, "drift/undocumented",
				acct, NULL, NULL,
				"IAM user '%s' exists in AWS account %s but no "
				"credential of the registry documents it (CSPF "
				"1.1): document it under credentials/, or "
				"delete the user", name, str(sa, "id"));
		/*
		 * A credential report names no key: "(key 1)".  Then ids are
		 * not compared, and the user's credential stands for its keys.
		 */
		cJSON_ArrayForEach(k, get(u, "access_keys"))
			if (str(k, "id") && str(k, "id")[0] == '(')
				gone = NULL;
		cJSON_ArrayForEach(k, get(u, "access_keys")) {
			const char *kid = str(k, "id");
			const cspf_entity *doc = NULL;
			int active = streq(str(k, "status"), "Active");
			int unknown = kid && kid[0] == '(';

			for (i = 0; kid && i < nc; i++)
				if (streq(creds[i].key, kid))
					doc = creds[i].e;
			if (unknown)
				doc = first;
			if (!doc && first && active && !unknown) {
				if (gone) {
					finding(d, CSPF_SEVERITY_ERROR,
						"drift/mismatch", gone,
						"identity", NULL,
						"the registry says IAM user "
						"'%s' has access key %s, but "
						"AWS has %s and no longer %s "
						"(rotated outside cspf?): "
						"record the new key, its "
						"credential_generated and "
						"credential_expires",
						name, gone_key, kid, gone_key);
					gone = NULL;
				} else {
					finding(d, CSPF_SEVERITY_ERROR,
						"drift/undocumented", first,
						"identity", NULL,
						"IAM user '%s' has an access "
						"key %s that the registry does "
						"not document (CSPF 1.1): "
						"document it, or delete it",
						name, kid);
				}
			}
			if (doc && !unknown && time_of(&t, k, "created")) {
				int64_t gen;
				if (time_of(&gen, doc->json,
					    "credential_generated") &&
				    (t - gen > d->tolerance ||
					    gen - t > d->tolerance)) {
					cspf_time_format(when, t);
					finding(d, CSPF_SEVERITY_ERROR,
						"drift/mismatch", doc,
						"credential_generated", NULL,
						"access key %s was created "
						"%s, not when "
						"credential_generated says: "
						"correct the registry",
						kid, when);
				}
			}
			if (active && time_of(&t, k, "created") &&
			    expiry_of(d, doc, t) <= d->now) {
				day(when, t);
				day(lim, expiry_of(d, doc, t));
				finding(d, CSPF_SEVERITY_ERROR, "CSPF-4.5",
					doc ? doc : acct,
					doc ? "credential_generated" : NULL,
					doc ? NULL : acct->id,
					"access key %s of IAM user '%s' was "
					"created %s and should have been "
					"rotated by %s (CSPF 4.5): rotate it "
					"(cspf rotate --credential %s)", kid,
					name, when, lim,
					doc ? doc->id : "<id>");
			}
			if (active && unused(d, k, "last_used", &since)) {
				day(when, since);
				finding(d, CSPF_SEVERITY_ERROR, "CSPF-7.6",
					doc ? doc : acct, NULL, NULL,
					"access key %s of IAM user '%s' has "
					"not been used since %s (CSPF 7.6): "
					"deactivate and delete it", kid, name,
					when);
			}
		}
		if (gone)
			finding(d, CSPF_SEVERITY_ERROR, "drift/stale", gone,
				"identity", NULL,
				"access key %s of IAM user '%s' no longer "
				"exists in AWS: record the user's current key, "
				"or remove the credential", gone_key, name);
		if (is_true(u, "password")) {
			const cJSON *mfa = get(u, "mfa");
			if (cJSON_IsNumber(mfa) && mfa->valueint == 0)
				finding(d, CSPF_SEVERITY_ERROR, "CSPF-4.6",
					first ? first : acct, NULL, NULL,
					"IAM user '%s' can sign in to the "
					"console without MFA (CSPF 4.6): "
					"enable an MFA device", name);
			if (unused(d, u, "password_last_used", &since)) {
				day(when, since);
				finding(d, CSPF_SEVERITY_ERROR, "CSPF-7.6",
					first ? first : acct, NULL, NULL,
					"the console password of IAM user "
					"'%s' has not been used since %s "
					"(CSPF 7.6): remove it", name, when);
			}
		}
	}
	if (cJSON_IsArray(get(sa, "users")))
		for (i = 0; i < nc; i++)
			if (!creds[i].seen && creds[i].user)
				finding(d, CSPF_SEVERITY_ERROR, "drift/stale",
					creds[i].e, "identity", NULL,
					"IAM user '%s' does not exist in AWS "
					"account %s: remove the credential, "
					"or find where the user went",
					creds[i].user, str(sa, "id"));
	free(creds);
}

/* "arn:aws:iam::123456789012:role/path/name" -> account, name. */
static int role_arn(const char *arn, char acct[16], const char **name)
{
	const char *p = arn ? strstr(arn, ":iam::") : NULL, *slash;

	if (!p || strlen(p + 6) < 13 || p[6 + 12] != ':' ||
	    strncmp(p + 6 + 13, "role/", 5) != 0)
		return -1;
	memcpy(acct, p + 6, 12);
	acct[12] = '\0';
	slash = strrchr(p + 6 + 13, '/');
	*name = slash + 1;
	return 0;
}

static void aws_roles(struct drift *d, const cspf_entity *acct,
	const cJSON *sa)
{
	size_t i, n = cspf_registry_count(d->reg);
	const char *aid = str(sa, "id");
	const cJSON *r;
	char when[CSPF_TIME_BUFSIZE];

	if (!cJSON_IsArray(get(sa, "roles")))
		return;
	cJSON_ArrayForEach(r, get(sa, "roles")) {
		const char *name = str(r, "name"), *path = str(r, "path");
		const cspf_entity *doc = NULL;
		int64_t since;

		/* AWS's own roles, and the role cspf reads through. */
		if (!name || (path && (!strncmp(path, "/aws-service-role/",
						 18) ||
					      !strncmp(path, "/aws-reserved/",
						      14))) ||
		    streq(name, d->inventory_role))
			continue;
		for (i = 0; i < n && !doc; i++) {
			const cspf_entity *e = cspf_registry_entity(d->reg, i);
			char a[16];
			const char *rn;
			if (e->kind == CSPF_KIND_ASSET &&
			    streq(e->asset_kind, "iam-role") &&
			    role_arn(str(e->json, "role"), a, &rn) == 0 &&
			    streq(a, aid) && streq(rn, name))
				doc = e;
		}
		if (!doc)
			finding(d, CSPF_SEVERITY_ERROR, "drift/undocumented",
				acct, NULL, NULL,
				"IAM role '%s' exists in AWS account %s but "
				"the registry does not document it (CSPF 1.1, "
				"7.2): add assets/iam-role/%s.json, or delete "
				"the role", name, aid, name);
		if (unused(d, r, "last_used", &since)) {
			day(when, since);
			finding(d, CSPF_SEVERITY_ERROR, "CSPF-7.6",
				doc ? doc : acct, NULL, NULL,
				"IAM role '%s' has not been used since %s "
				"(CSPF 7.6): remove it", name, when);
		}
	}
	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(d->reg, i);
		char a[16];
		const char *rn;
		if (e->kind != CSPF_KIND_ASSET ||
		    !streq(e->asset_kind, "iam-role") ||
		    role_arn(str(e->json, "role"), a, &rn) < 0 ||
		    !streq(a, aid))
			continue;
		if (!find_named(get(sa, "roles"), "name", rn, 0))
			finding(d, CSPF_SEVERITY_ERROR, "drift/stale", e,
				"role", NULL,
				"IAM role '%s' does not exist in AWS account "
				"%s: remove the entry, or find where the role "
				"went", rn, aid);
	}
}

static const char *bucket_name(const cspf_entity *e)
{
	return str(e->json, "bucket") ? str(e->json, "bucket") :
					str(e->json, "name");
}

/*
 * Is `e` the bucket the cloud calls `name`?  An Azure container is
 * written storage-account/container: it is its storage account's.
 */
static int same_bucket(const cspf_entity *e, const char *name)
{
	const char *b = bucket_name(e), *slash;

	if (!b || !name)
		return 0;
	slash = strchr(b, '/');
	if (slash)
		return strlen(name) == (size_t)(slash - b) &&
		       !strncasecmp(b, name, (size_t)(slash - b));
	return !strcasecmp(b, name);
}

static int red_or_blue(const cspf_entity *e)
{
	const char *s = str(e->json, "security");

	return streq(s, "red") || streq(s, "blue");
}

static void buckets(struct drift *d, const cspf_entity *acct,
	const cJSON *list, const char *where, const char *name_key)
{
	size_t i, n = cspf_registry_count(d->reg);
	const cJSON *b;

	cJSON_ArrayForEach(b, list) {
		const char *name = str(b, name_key);
		const char *ver = str(b, "versioning");
		const cspf_entity *doc = NULL;
		int enabled;

		if (!name)
			continue;
		for (i = 0; i < n && !doc; i++) {
			const cspf_entity *e = cspf_registry_entity(d->reg, i);
			if (e->kind == CSPF_KIND_ASSET &&
			    streq(e->asset_kind, "bucket") &&
			    in_account(e, acct) && same_bucket(e, name))
				doc = e;
		}
		if (!doc) {
			finding(d, CSPF_SEVERITY_ERROR, "drift/undocumented",
				acct, NULL, NULL,
				"%s '%s' exists in %s but the registry does "
				"not document it (CSPF 1.1, 11.1): add "
				"assets/bucket/<name>.json, or delete it",
				where, name, str(acct->json, "accountid") ?
					str(acct->json, "accountid") :
					acct->id);
			continue;
		}
		enabled = streq(ver, "Enabled");
		if (ver && has_bool(doc->json, "versioning") &&
		    is_true(doc->json, "versioning") != enabled)
			finding(d, CSPF_SEVERITY_ERROR, "drift/mismatch", doc,
				"versioning", NULL,
				"the registry says versioning is %s, but it "
				"is %s on %s '%s'",
				enabled ? "off" : "on", ver, where, name);
		if (has_bool(b, "logging") && has_bool(doc->json, "logging") &&
		    is_true(doc->json, "logging") != is_true(b, "logging"))
			finding(d, CSPF_SEVERITY_ERROR, "drift/mismatch", doc,
				"logging", NULL,
				"the registry says access logging is %s, but "
				"it is %s on %s '%s'",
				is_true(b, "logging") ? "off" : "on",
				is_true(b, "logging") ? "on" : "off", where,
				name);
		if (red_or_blue(doc) && ((ver && !enabled) ||
					    (has_bool(b, "logging") &&
						    !is_true(b, "logging"))))
			finding(d, CSPF_SEVERITY_ERROR, "CSPF-11.2", doc,
				"security", NULL,
				"%s '%s' holds %s data but has %s%s%s "
				"(CSPF 11.2): enable them", where, name,
				str(doc->json, "security"),
				ver && !enabled ? "no versioning" : "",
				ver && !enabled && has_bool(b, "logging") &&
						!is_true(b, "logging") ?
					" and " :
					"",
				has_bool(b, "logging") &&
						!is_true(b, "logging") ?
					"no access logging" :
					"");
	}
	if (!cJSON_IsArray(list))
		return;
	for (i = 0; i < n; i++) {
		const cspf_entity *e = cspf_registry_entity(d->reg, i);
		const cJSON *b2, *hit = NULL;
		if (e->kind != CSPF_KIND_ASSET ||
		    !streq(e->asset_kind, "bucket") || !in_account(e, acct) ||
		    !bucket_name(e))
			continue;
		cJSON_ArrayForEach(b2, list)
			if (same_bucket(e, str(b2, name_key)))
				hit = b2;
		if (!hit)
			finding(d, CSPF_SEVERITY_ERROR, "drift/stale", e,
				str(e->json, "bucket") ? "bucket" : "name",
				NULL,
				"%s '%s' does not exist in %s: remove the "
				"entry, or find where it went", where,
				bucket_name(e), str(acct->json, "accountid") ?
					str(acct->json, "accountid") :
					acct->id);
	}
}

static void aws_trails(struct drift *d, const cspf_entity *acct,
	const cJSON *sa)
{
	const cJSON *t, *list = get(sa, "trails");
	int good = 0;

	if (!cJSON_IsArray(list))
		return;
	cJSON_ArrayForEach(t, list) {
		int multi = is_true(t, "multi_region");
		int valid = is_true(t, "log_file_validation");
		int on = !has_bool(t, "logging") || is_true(t, "logging");
		if (multi && valid && on) {
			good = 1;
			continue;
		}
		finding(d, CSPF_SEVERITY_ERROR, "CSPF-5.1", acct, NULL, NULL,
			"CloudTrail trail '%s' of AWS account %s %s%s%s "
			"(CSPF 5.1): make it multi-region with log file "
			"validation, logging",
			str(t, "name") ? str(t, "name") : "?", str(sa, "id"),
			multi ? "" : "logs one region only",
			!multi && !valid ? " and " : "",
			!valid ? "has no log file validation" :
			!on    ? "is not logging" : "");
	}
	if (!cJSON_GetArraySize(list))
		finding(d, CSPF_SEVERITY_ERROR, "CSPF-5.1", acct, NULL, NULL,
			"AWS account %s has no CloudTrail trail (CSPF 5.1): "
			"create a multi-region trail with log file "
			"validation", str(sa, "id"));
	(void)good;
}

static void aws_account(struct drift *d, const cspf_entity *acct,
	const cJSON *sa)
{
	const cJSON *root = get(sa, "root");
	const cJSON *keys = get(root, "access_keys");

	if (cJSON_IsNumber(keys) && keys->valueint > 0)
		finding(d, CSPF_SEVERITY_ERROR, "CSPF-4.4", acct, NULL, NULL,
			"the root user of AWS account %s has %d access "
			"key%s (CSPF 4.4): delete %s", str(sa, "id"),
			keys->valueint, keys->valueint == 1 ? "" : "s",
			keys->valueint == 1 ? "it" : "them");
	if (cJSON_IsBool(get(root, "mfa")) && !is_true(root, "mfa"))
		finding(d, CSPF_SEVERITY_ERROR, "CSPF-4.6", acct, NULL, NULL,
			"the root user of AWS account %s has no MFA device "
			"(CSPF 4.3, 4.6): enable one, split between two "
			"custodians", str(sa, "id"));
	aws_users(d, acct, sa);
	aws_roles(d, acct, sa);
	buckets(d, acct, get(sa, "buckets"), "S3 bucket", "name");
	aws_trails(d, acct, sa);
}

/* ---- Azure ---- */

/* The registry's vault name whose vault_url is `url`, or NULL. */
static const char *vault_named(struct drift *d, const char *url)
{
	const cJSON *v;
	size_t n;

	cJSON_ArrayForEach(v, get(cspf_registry_config(d->reg), "vaults")) {
		const char *u = str(v, "vault_url");
		if (!u || !url)
			continue;
		n = strlen(u);
		while (n && u[n - 1] == '/')
			n--;
		if (!strncasecmp(u, url, n) &&
		    (url[n] == '\0' || !strcmp(url + n, "/")))
			return v->string;
	}
	return NULL;
}

static void azure_secrets(struct drift *d, const cspf_entity *acct,
	const cJSON *sa)
{
	size_t i, n = cspf_registry_count(d->reg);
	const cJSON *s;
	char when[CSPF_TIME_BUFSIZE];

	cJSON_ArrayForEach(s, get(sa, "secrets")) {
		const char *vault = vault_named(d, str(s, "vault"));
		const char *name = str(s, "name");
		const cspf_entity *doc = NULL;
		int64_t exp, rexp;

		for (i = 0; vault && name && i < n && !doc; i++) {
			const cspf_entity *e = cspf_registry_entity(d->reg, i);
			const cJSON *v = get(e->json, "vault");
			if (e->kind == CSPF_KIND_CREDENTIALS &&
			    streq(str(v, "vault"), vault) &&
			    streq(str(v, "path"), name))
				doc = e;
		}
		if (!doc) {
			finding(d, CSPF_SEVERITY_ERROR, "drift/undocumented",
				acct, NULL, NULL,
				"Key Vault secret '%s' in %s is referenced by "
				"no credential of the registry (CSPF 1.1, 3.2): "
				"document what it is, or delete it",
				name ? name : "?", str(s, "vault"));
			continue;
		}
		if (time_of(&exp, s, "expires") &&
		    time_of(&rexp, doc->json, "credential_expires") &&
		    (exp - rexp > d->tolerance || rexp - exp > d->tolerance)) {
			cspf_time_format(when, exp);
			finding(d, CSPF_SEVERITY_ERROR, "drift/mismatch", doc,
				"credential_expires", NULL,
				"Key Vault secret '%s' expires %s, not when "
				"credential_expires says: correct one of them",
				name, when);
		}
	}
}

static void azure_account(struct drift *d, const cspf_entity *acct,
	const cJSON *sa)
{
	size_t i, n = cspf_registry_count(d->reg);
	const cJSON *r;
	cJSON *storage = cJSON_CreateArray();

	cJSON_ArrayForEach(r, get(sa, "resources")) {
		const char *type = str(r, "type"), *name = str(r, "name");
		const cJSON *tags = get(r, "tags");
		const char *cid = str(tags, "cspf-id");
		const char *cls = str(tags, "classification") ?
			str(tags, "classification") : str(tags, "security");
		const cspf_entity *doc = NULL;

		if (type && !strcasecmp(type,
				    "microsoft.storage/storageaccounts")) {
			/* A storage account is a bucket: below. */
			cJSON *b = cJSON_CreateObject();
			if (!b || !cJSON_AddItemToArray(storage, b) ||
			    !cJSON_AddStringToObject(b, "name",
				    name ? name : "")) {
				d->oom = 1;
				continue;
			}
			continue;
		}
		if (cid)
			doc = cspf_registry_find(d->reg, cid);
		for (i = 0; !doc && name && i < n; i++) {
			const cspf_entity *e = cspf_registry_entity(d->reg, i);
			if (e->kind == CSPF_KIND_ASSET && in_account(e, acct) &&
			    streq(str(e->json, "name"), name))
				doc = e;
		}
		if (!doc) {
			finding(d, CSPF_SEVERITY_ERROR, "drift/undocumented",
				acct, NULL, NULL,
				"Azure resource '%s' (%s) in subscription %s "
				"is not documented in the registry (CSPF 1.1): "
				"document it (and tag it cspf-id), or delete it",
				name ? name : "?", type ? type : "?",
				str(sa, "id"));
			continue;
		}
		if (cls && str(doc->json, "security") &&
		    strcasecmp(cls, str(doc->json, "security")))
			finding(d, CSPF_SEVERITY_ERROR, "drift/mismatch", doc,
				"security", NULL,
				"Azure resource '%s' is tagged %s but the "
				"registry classifies it %s: correct one of them",
				name, cls, str(doc->json, "security"));
	}
	if (storage && cJSON_GetArraySize(storage))
		buckets(d, acct, storage, "storage account", "name");
	cJSON_Delete(storage);
	azure_secrets(d, acct, sa);
}

static void directory(struct drift *d, const cJSON *dir)
{
	size_t i, n = cspf_registry_count(d->reg);
	const cJSON *app, *s;
	char when[CSPF_TIME_BUFSIZE];

	cJSON_ArrayForEach(app, get(dir, "applications")) {
		const char *app_id = str(app, "app_id");
		const cspf_entity *any = NULL;

		for (i = 0; i < n; i++) {
			const cspf_entity *e = cspf_registry_entity(d->reg, i);
			const cJSON *id = get(e->json, "identity");
			if (e->kind == CSPF_KIND_CREDENTIALS &&
			    streq(str(id, "type"), "azure-app") &&
			    app_id && !strcasecmp(str(id, "app_id") ?
					    str(id, "app_id") : "", app_id)) {
				any = e;
				if (!find_named(get(app, "secrets"), "key_id",
					    str(id, "secret_id"), 1) &&
				    str(id, "secret_id"))
					finding(d, CSPF_SEVERITY_ERROR,
						"drift/stale", e, "identity",
						NULL,
						"client secret %s of "
						"application %s no longer "
						"exists in Entra ID: record "
						"the current one",
						str(id, "secret_id"), app_id);
			}
		}
		cJSON_ArrayForEach(s, get(app, "secrets")) {
			const char *kid = str(s, "key_id");
			const cspf_entity *doc = NULL;
			int64_t t, rexp;

			for (i = 0; kid && i < n && !doc; i++) {
				const cspf_entity *e =
					cspf_registry_entity(d->reg, i);
				const cJSON *id = get(e->json, "identity");
				if (e->kind == CSPF_KIND_CREDENTIALS &&
				    streq(str(id, "type"), "azure-app") &&
				    str(id, "secret_id") &&
				    !strcasecmp(str(id, "secret_id"), kid))
					doc = e;
			}
			if (!doc) {
				if (any)
					finding(d, CSPF_SEVERITY_ERROR,
						"drift/undocumented", any,
						"identity", NULL,
						"application %s has a client "
						"secret %s that the registry "
						"does not document (CSPF 1.1, "
						"3.2): document it, or remove "
						"it", app_id, kid ? kid : "?");
				continue;
			}
			if (time_of(&t, s, "end") &&
			    time_of(&rexp, doc->json, "credential_expires") &&
			    (t - rexp > d->tolerance ||
				    rexp - t > d->tolerance)) {
				cspf_time_format(when, t);
				finding(d, CSPF_SEVERITY_ERROR,
					"drift/mismatch", doc,
					"credential_expires", NULL,
					"client secret %s of application %s "
					"ends %s, not when credential_expires "
					"says: correct the registry", kid,
					app_id, when);
			}
			if (time_of(&t, s, "start") &&
			    expiry_of(d, doc, t) <= d->now) {
				day(when, t);
				finding(d, CSPF_SEVERITY_ERROR, "CSPF-4.5",
					doc, "credential_generated", NULL,
					"client secret %s of application %s "
					"was created %s and is past its "
					"maximum age (CSPF 4.5): rotate it "
					"(cspf rotate --credential %s)", kid,
					app_id, when, doc->id);
			}
		}
	}
}

/* ---- the run ---- */

int cspf_drift(cspf_diags *out, cspf_drift_stats *stats,
	const cspf_registry *reg, const cJSON *snapshot,
	const cspf_drift_options *opts)
{
	cspf_drift_options defaults = CSPF_DRIFT_OPTIONS_INIT;
	const cJSON *policy, *a;
	struct drift d;

	if (!opts)
		opts = &defaults;
	if (!cJSON_IsObject(snapshot) ||
	    !cJSON_IsNumber(get(snapshot, "cspf_snapshot")) ||
	    !cJSON_IsArray(get(snapshot, "accounts")))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"not an inventory snapshot (no cspf_snapshot and "
			"accounts): make one with cspf inventory");
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.stats = stats;
	d.reg = reg;
	d.now = opts->now ? opts->now : (int64_t)time(NULL);
	d.tolerance = opts->tolerance ? opts->tolerance : 86400;
	policy = get(cspf_registry_config(reg), "policy");
	d.max_age = str(policy, "credential_max_age") ?
		str(policy, "credential_max_age") : "P6M";
	d.inventory_role = str(get(get(cspf_registry_config(reg),
		"providers"), "aws"), "inventory_role");
	d.unused = str(policy, "unused_permission_window") ?
		str(policy, "unused_permission_window") : "P90D";
	if (stats)
		memset(stats, 0, sizeof(*stats));
	cJSON_ArrayForEach(a, get(snapshot, "accounts")) {
		const cspf_entity *acct = account_entity(&d, a);
		const char *status = str(a, "status");
		const cJSON *err;

		if (!acct)
			continue; /* not the registry's: nothing to say */
		if (stats)
			stats->accounts++;
		if (!streq(status, "ok")) {
			cspf_buf why = CSPF_BUF_INIT;
			cJSON_ArrayForEach(err, get(a, "errors"))
				if (cJSON_IsString(err))
					cspf_buf_printf(&why, "%s%s",
						why.size ? "; " : "",
						err->valuestring);
			if (stats)
				stats->unreadable++;
			finding(&d, CSPF_SEVERITY_WARNING, "inventory/error",
				acct, NULL, NULL,
				"%s account %s was %s inventoried: %s",
				acct->provider ? acct->provider : "",
				str(a, "id"),
				streq(status, "partial") ? "only partly" :
							   "not",
				why.size ? why.ptr : "no reason given");
			cspf_buf_dispose(&why);
			if (streq(status, "error"))
				continue;
		}
		if (streq(str(a, "provider"), "aws"))
			aws_account(&d, acct, a);
		else if (streq(str(a, "provider"), "azure"))
			azure_account(&d, acct, a);
	}
	cJSON_ArrayForEach(a, get(snapshot, "directories"))
		directory(&d, a);
	return d.oom ? cspf_error_set_oom() : 0;
}
