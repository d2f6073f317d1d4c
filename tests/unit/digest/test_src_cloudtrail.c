/*
 * Unit tests of lib/digest/src_cloudtrail.c: CloudTrail log files into
 * events, as docs/digest.md maps them, and every kind of damage a file
 * can have giving one finding while the rest is read.
 *
 * Each test writes its files into a fresh directory under /tmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "digest/digest_private.h"
#include "cspf/time.h"
#include "util/buf.h"

static char base[256];
static int counter;

/* ------------------------------------------------------------ helpers */

struct ev {
	int64_t time;
	cspf_actor_kind kind;
	char *actor, *person, *role, *action, *target, *assumed_role;
	char *account, *region, *source, *id;
	bool read_only, failed;
};

struct got {
	struct ev *e;
	size_t n, alloc;
	int stop_after; /* > 0: answer -42 after this many */
};

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int collect(const cspf_event *ev, void *payload)
{
	struct got *g = payload;
	struct ev *e;

	if (g->n == g->alloc) {
		g->alloc = g->alloc ? 2 * g->alloc : 16;
		g->e = realloc(g->e, g->alloc * sizeof(*g->e));
		assert_non_null(g->e);
	}
	e = &g->e[g->n++];
	e->time = ev->time;
	e->kind = ev->actor_kind;
	e->actor = sdup(ev->actor);
	e->person = sdup(ev->person);
	e->role = sdup(ev->role);
	e->action = sdup(ev->action);
	e->target = sdup(ev->target);
	e->assumed_role = sdup(ev->assumed_role);
	e->account = sdup(ev->account);
	e->region = sdup(ev->region);
	e->source = sdup(ev->source);
	e->id = sdup(ev->id);
	e->read_only = ev->read_only;
	e->failed = ev->failed;
	if (g->stop_after && g->n >= (size_t)g->stop_after)
		return -42;
	return 0;
}

static void got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		struct ev *e = &g->e[i];

		free(e->actor);
		free(e->person);
		free(e->role);
		free(e->action);
		free(e->target);
		free(e->assumed_role);
		free(e->account);
		free(e->region);
		free(e->source);
		free(e->id);
	}
	free(g->e);
	memset(g, 0, sizeof(*g));
}

/* The event whose id is `id`, or a failed test. */
static const struct ev *by_id(const struct got *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->e[i].id && !strcmp(g->e[i].id, id))
			return &g->e[i];
	fail_msg("no event %s", id);
	return NULL;
}

#define assert_str(a, b) assert_string_equal((a) ? (a) : "(null)", (b))

static int64_t at(const char *s)
{
	int64_t t = 0;

	assert_int_equal(cspf_time_parse(&t, s), 0);
	return t;
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/cspf-ct-XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd);
}

/* A new empty directory; returns its path (static). */
static const char *new_dir(void)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s/case%d", base, ++counter);
	assert_int_equal(mkdir(path, 0755), 0);
	return path;
}

static void mkdirs(const char *path)
{
	char tmp[1024];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
}

static void write_bytes(const char *dir, const char *rel, const void *data,
	size_t len)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	mkdirs(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* data gzip'd (one member); *n its length; malloc'd. */
static unsigned char *gzip(const char *data, size_t len, size_t *n)
{
	z_stream z;
	unsigned char *out;
	size_t cap = compressBound(len) + 64;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8,
				 Z_DEFAULT_STRATEGY), Z_OK);
	out = malloc(cap);
	assert_non_null(out);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*n = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static void write_gz(const char *dir, const char *rel, const char *text)
{
	size_t n;
	unsigned char *z = gzip(text, strlen(text), &n);

	write_bytes(dir, rel, z, n);
	free(z);
}

static void write_text(const char *dir, const char *rel, const char *text)
{
	write_bytes(dir, rel, text, strlen(text));
}

/*
 * A plain record: eventTime, eventSource, eventName, awsRegion,
 * recipientAccountId, eventID, then `extra` members (",..." or "").
 */
static void rec(cspf_buf *b, const char *id, const char *time,
	const char *source, const char *name, const char *extra)
{
	size_t n = b->size;

	while (n && strchr(" \r\n", b->ptr[n - 1]))
		n--;
	cspf_buf_printf(b, "%s{\"eventVersion\":\"1.09\",\"eventTime\":\"%s\","
		"\"eventSource\":\"%s\",\"eventName\":\"%s\","
		"\"awsRegion\":\"eu-west-1\","
		"\"recipientAccountId\":\"111122223333\","
		"\"eventID\":\"%s\"%s}",
		n && !strchr("[,", b->ptr[n - 1]) ? "," : "", time,
		source, name, id, extra);
}

struct run {
	cspf_source_stats st;
	cspf_diags diags;
	struct got got;
	int rc;
};

static void run_query(struct run *r, const char *path, int64_t start,
	int64_t end, bool read_only)
{
	cspf_source_query q;
	int stop_after = r->got.stop_after;

	memset(&q, 0, sizeof(q));
	memset(&r->st, 0, sizeof(r->st));
	cspf_diags_clear(&r->diags);
	got_free(&r->got);
	r->got.stop_after = stop_after;
	q.start = start;
	q.end = end;
	q.read_only = read_only;
	q.arg = path;
	r->rc = cspf_source_cloudtrail.read(&r->st, &r->diags, &q, collect,
		&r->got);
}

/* The period 2026-11-16/P14D, read-only events too. */
static void run_all(struct run *r, const char *path)
{
	run_query(r, path, at("2026-11-16T00:00:00Z"),
		at("2026-11-30T00:00:00Z"), true);
	assert_int_equal(r->rc, 0);
}

static void run_free(struct run *r)
{
	cspf_diags_clear(&r->diags);
	got_free(&r->got);
}

static void dump_diags(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->diags.count; i++) {
		const cspf_diag *d = &r->diags.items[i];

		print_message("  %s:%u:%u %s: %s\n", d->file, d->line,
			d->column, d->pointer, d->message);
	}
}

/* ------------------------------------------------------------- mapping */

#define T "2026-11-17T09:10:05Z"

static void test_identities(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const struct ev *e;
	const char *dir = new_dir();

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	rec(&b, "root", T, "signin.amazonaws.com", "ConsoleLogin",
		",\"userIdentity\":{\"type\":\"Root\",\"principalId\":"
		"\"111122223333\",\"arn\":\"arn:aws:iam::111122223333:root\","
		"\"accountId\":\"111122223333\",\"accessKeyId\":\"\"}");
	rec(&b, "iam", T, "iam.amazonaws.com", "CreateUser",
		",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":"
		"\"AIDAEXAMPLE\",\"arn\":\"arn:aws:iam::111122223333:user/"
		"ci-deploy\",\"accountId\":\"111122223333\",\"userName\":"
		"\"ci-deploy\"}");
	rec(&b, "sso", T, "ec2.amazonaws.com", "StopInstances",
		",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":"
		"\"AROAEXAMPLE:alice@example.com\",\"arn\":\"arn:aws:sts::"
		"111122223333:assumed-role/AWSReservedSSO_Admin_0123/"
		"alice@example.com\",\"accountId\":\"111122223333\","
		"\"sessionContext\":{\"attributes\":{\"creationDate\":"
		"\"2026-11-17T09:00:00Z\",\"mfaAuthenticated\":\"false\"},"
		"\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":"
		"\"AROAEXAMPLE\",\"arn\":\"arn:aws:iam::111122223333:role/"
		"aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123\","
		"\"accountId\":\"111122223333\",\"userName\":"
		"\"AWSReservedSSO_Admin_0123\"}}}");
	rec(&b, "app", T, "s3.amazonaws.com", "PutObject",
		",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":"
		"\"AROAEXAMPLE:i-0abc\",\"arn\":\"arn:aws:sts::111122223333:"
		"assumed-role/payments-api/i-0abc\",\"accountId\":"
		"\"111122223333\"}");
	rec(&b, "fed", T, "s3.amazonaws.com", "PutObject",
		",\"userIdentity\":{\"type\":\"FederatedUser\",\"principalId\":"
		"\"111122223333:bob@example.com\",\"arn\":\"arn:aws:sts::"
		"111122223333:federated-user/bob@example.com\",\"accountId\":"
		"\"111122223333\",\"sessionContext\":{\"sessionIssuer\":{"
		"\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::111122223333:"
		"user/broker\"}}}");
	rec(&b, "fed2", T, "s3.amazonaws.com", "PutObject",
		",\"userIdentity\":{\"type\":\"FederatedUser\",\"principalId\":"
		"\"111122223333:build-bot\",\"arn\":\"arn:aws:sts::"
		"111122223333:federated-user/build-bot\"}");
	rec(&b, "saml", T, "sts.amazonaws.com", "AssumeRoleWithSAML",
		",\"userIdentity\":{\"type\":\"SAMLUser\",\"principalId\":"
		"\"SxTw6c1d=:carol@example.com\",\"userName\":"
		"\"carol@example.com\",\"identityProvider\":\"SxTw6c1d=\"},"
		"\"requestParameters\":{\"roleArn\":\"arn:aws:iam::"
		"111122223333:role/Admin\",\"principalArn\":\"arn:aws:iam::"
		"111122223333:saml-provider/Okta\"}");
	rec(&b, "web", T, "sts.amazonaws.com", "AssumeRoleWithWebIdentity",
		",\"userIdentity\":{\"type\":\"WebIdentityUser\","
		"\"principalId\":\"accounts.google.com:app:1234\",\"userName\":"
		"\"1234\",\"identityProvider\":\"accounts.google.com\"}");
	rec(&b, "idc", T, "sso.amazonaws.com", "CreateAccountAssignment",
		",\"userIdentity\":{\"type\":\"IdentityCenterUser\","
		"\"accountId\":\"111122223333\",\"onBehalfOf\":{\"userId\":"
		"\"94482488-3041-7026-18f3-be45837cd0e4\",\"identityStoreArn\":"
		"\"arn:aws:identitystore::111122223333:identitystore/d-1\"}}");
	rec(&b, "svc", T, "sts.amazonaws.com", "AssumeRole",
		",\"userIdentity\":{\"type\":\"AWSService\",\"invokedBy\":"
		"\"ec2.amazonaws.com\"},\"requestParameters\":{\"roleArn\":"
		"\"arn:aws:iam::111122223333:role/web\",\"roleSessionName\":"
		"\"i-0abc\"}");
	rec(&b, "none", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, "]}");
	write_text(dir, "log.json", b.ptr);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 0);
	assert_int_equal(r.got.n, 11);

	e = by_id(&r.got, "root");
	assert_int_equal(e->kind, CSPF_ACTOR_ROOT);
	assert_str(e->actor, "arn:aws:iam::111122223333:root");
	assert_null(e->person);
	assert_null(e->role);
	assert_str(e->action, "signin:ConsoleLogin");
	assert_str(e->source, "cloudtrail");
	assert_int_equal(e->time, at(T));

	e = by_id(&r.got, "iam");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_str(e->actor, "arn:aws:iam::111122223333:user/ci-deploy");
	assert_null(e->person);
	assert_null(e->role);

	e = by_id(&r.got, "sso");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_str(e->actor, "arn:aws:sts::111122223333:assumed-role/"
			     "AWSReservedSSO_Admin_0123/alice@example.com");
	assert_str(e->person, "alice@example.com");
	assert_str(e->role, "arn:aws:iam::111122223333:role/aws-reserved/"
			    "sso.amazonaws.com/AWSReservedSSO_Admin_0123");

	/* An application's session: a role acting; no issuer, so the role
	 * is made from the session's ARN. */
	e = by_id(&r.got, "app");
	assert_int_equal(e->kind, CSPF_ACTOR_ROLE);
	assert_null(e->person);
	assert_str(e->role, "arn:aws:iam::111122223333:role/payments-api");

	e = by_id(&r.got, "fed");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_str(e->actor, "arn:aws:sts::111122223333:federated-user/"
			     "bob@example.com");
	assert_str(e->person, "bob@example.com");
	assert_null(e->role);
	e = by_id(&r.got, "fed2");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_null(e->person);

	e = by_id(&r.got, "saml");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_str(e->actor, "carol@example.com");
	assert_str(e->person, "carol@example.com");
	assert_str(e->assumed_role, "arn:aws:iam::111122223333:role/Admin");
	assert_str(e->target, "arn:aws:iam::111122223333:role/Admin");

	e = by_id(&r.got, "web");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_str(e->actor, "1234");
	assert_null(e->person);

	e = by_id(&r.got, "idc");
	assert_int_equal(e->kind, CSPF_ACTOR_USER);
	assert_str(e->actor, "94482488-3041-7026-18f3-be45837cd0e4");
	assert_null(e->person);

	e = by_id(&r.got, "svc");
	assert_int_equal(e->kind, CSPF_ACTOR_SERVICE);
	assert_str(e->actor, "ec2.amazonaws.com");
	assert_str(e->action, "sts:AssumeRole");
	assert_str(e->assumed_role, "arn:aws:iam::111122223333:role/web");

	e = by_id(&r.got, "none");
	assert_int_equal(e->kind, CSPF_ACTOR_UNKNOWN);
	assert_null(e->actor);
	assert_int_equal(r.st.files, 1);
	assert_int_equal(r.st.records, 11);
	assert_int_equal(r.st.events, 11);
	assert_int_equal(r.st.bad, 0);
	cspf_buf_dispose(&b);
	run_free(&r);
}

static void test_targets(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const struct ev *e;
	const char *dir = new_dir();

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	rec(&b, "res", T, "s3.amazonaws.com", "PutObject",
		",\"requestParameters\":{\"bucketName\":\"b1\",\"key\":\"k\"},"
		"\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":"
		"\"arn:aws:s3:::b1/k\"},{\"type\":\"AWS::S3::Bucket\",\"ARN\":"
		"\"arn:aws:s3:::b1\"}]");
	rec(&b, "bucket", T, "s3.amazonaws.com", "PutBucketPolicy",
		",\"requestParameters\":{\"bucketPolicy\":{\"Version\":"
		"\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\"}]},"
		"\"bucketName\":\"b2\"}");
	rec(&b, "role", T, "iam.amazonaws.com", "AttachRolePolicy",
		",\"requestParameters\":{\"roleName\":\"web\",\"policyArn\":"
		"\"arn:aws:iam::aws:policy/ReadOnlyAccess\"}");
	rec(&b, "user", T, "iam.amazonaws.com", "CreateAccessKey",
		",\"requestParameters\":{\"userName\":\"ci-deploy\"}");
	rec(&b, "policy", T, "iam.amazonaws.com", "CreatePolicyVersion",
		",\"requestParameters\":{\"policyArn\":\"arn:aws:iam::"
		"111122223333:policy/p\"}");
	rec(&b, "instance", T, "ec2.amazonaws.com", "ModifyInstanceAttribute",
		",\"requestParameters\":{\"instanceId\":\"i-0abc\"}");
	rec(&b, "sg", T, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
		",\"requestParameters\":{\"groupId\":\"sg-0abc\",\"ipPermissions"
		"\":{\"items\":[{\"ipProtocol\":\"tcp\",\"fromPort\":443}]}}");
	rec(&b, "image", T, "ec2.amazonaws.com", "ModifyImageAttribute",
		",\"requestParameters\":{\"imageId\":\"ami-0abc\"}");
	rec(&b, "db", T, "rds.amazonaws.com", "ModifyDBInstance",
		",\"requestParameters\":{\"dBInstanceIdentifier\":\"ledger\","
		"\"applyImmediately\":true,\"backupRetentionPeriod\":14}");
	rec(&b, "secret", T, "secretsmanager.amazonaws.com", "PutSecretValue",
		",\"requestParameters\":{\"secretId\":\"app/db-password\"}");
	rec(&b, "assume", T, "sts.amazonaws.com", "AssumeRole",
		",\"requestParameters\":{\"roleArn\":\"arn:aws:iam::"
		"111122223333:role/deploy\",\"roleSessionName\":\"s\"}");
	rec(&b, "nothing", T, "signin.amazonaws.com", "ConsoleLogin",
		",\"requestParameters\":null,\"responseElements\":{"
		"\"ConsoleLogin\":\"Success\"}");
	/* The account from userIdentity when recipientAccountId is empty;
	 * escapes unescaped; an errorCode makes it failed. */
	cspf_buf_printf(&b, ",{\"eventTime\":\"%s\",\"eventSource\":"
		"\"s3.amazonaws.com\",\"eventName\":\"Put\\u004fbject\","
		"\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::"
		"444455556666:user\\/jos\\u00e9\",\"accountId\":"
		"\"444455556666\"},\"recipientAccountId\":\"\","
		"\"errorCode\":\"AccessDenied\",\"errorMessage\":\"no \\\"way\\\""
		"\",\"requestParameters\":{\"bucketName\":\"b\\\"3\"},"
		"\"eventID\":\"esc\"}", T);
	cspf_buf_puts(&b, "]}");
	write_text(dir, "log.json", b.ptr);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 0);
	assert_int_equal(r.got.n, 13);

	e = by_id(&r.got, "res");
	assert_str(e->target, "arn:aws:s3:::b1/k");
	assert_str(e->action, "s3:PutObject");
	assert_str(e->account, "111122223333");
	assert_str(e->region, "eu-west-1");
	assert_false(e->failed);
	assert_false(e->read_only);
	assert_null(e->assumed_role);
	assert_str(by_id(&r.got, "bucket")->target, "arn:aws:s3:::b2");
	assert_str(by_id(&r.got, "role")->target,
		"arn:aws:iam::111122223333:role/web");
	assert_str(by_id(&r.got, "user")->target,
		"arn:aws:iam::111122223333:user/ci-deploy");
	assert_str(by_id(&r.got, "policy")->target,
		"arn:aws:iam::111122223333:policy/p");
	assert_str(by_id(&r.got, "instance")->target,
		"arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc");
	assert_str(by_id(&r.got, "sg")->target,
		"arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0abc");
	assert_str(by_id(&r.got, "image")->target,
		"arn:aws:ec2:eu-west-1::image/ami-0abc");
	assert_str(by_id(&r.got, "db")->target,
		"arn:aws:rds:eu-west-1:111122223333:db:ledger");
	assert_str(by_id(&r.got, "secret")->target, "app/db-password");
	assert_str(by_id(&r.got, "secret")->action,
		"secretsmanager:PutSecretValue");
	e = by_id(&r.got, "assume");
	assert_str(e->target, "arn:aws:iam::111122223333:role/deploy");
	assert_str(e->assumed_role, "arn:aws:iam::111122223333:role/deploy");
	assert_null(by_id(&r.got, "nothing")->target);
	e = by_id(&r.got, "esc");
	assert_str(e->action, "s3:PutObject");
	assert_str(e->actor, "arn:aws:iam::444455556666:user/jos\xC3\xA9");
	assert_str(e->account, "444455556666");
	assert_str(e->target, "arn:aws:s3:::b\"3");
	assert_null(e->region);
	assert_true(e->failed);
	cspf_buf_dispose(&b);
	run_free(&r);
}

/* ------------------------------------------------------------ filters */

static void test_period_and_read_only(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	rec(&b, "before", "2026-11-15T23:59:59Z", "s3.amazonaws.com",
		"PutObject", "");
	rec(&b, "first", "2026-11-16T00:00:00Z", "s3.amazonaws.com",
		"PutObject", "");
	rec(&b, "last", "2026-11-29T23:59:59Z", "s3.amazonaws.com",
		"PutObject", "");
	rec(&b, "after", "2026-11-30T00:00:00Z", "s3.amazonaws.com",
		"PutObject", "");
	rec(&b, "get", T, "s3.amazonaws.com", "GetObject", "");
	rec(&b, "list", T, "iam.amazonaws.com", "ListRoles", "");
	rec(&b, "describe", T, "ec2.amazonaws.com", "DescribeInstances", "");
	rec(&b, "head", T, "s3.amazonaws.com", "HeadObject", "");
	rec(&b, "lookup", T, "cloudtrail.amazonaws.com", "LookupEvents", "");
	rec(&b, "said-ro", T, "kms.amazonaws.com", "Decrypt",
		",\"readOnly\":true");
	rec(&b, "said-rw", T, "sts.amazonaws.com", "GetFederationToken",
		",\"readOnly\":false");
	rec(&b, "offset", "2026-11-17T11:10:05+02:00", "s3.amazonaws.com",
		"PutObject", "");
	cspf_buf_puts(&b, "]}");
	write_text(dir, "x.json", b.ptr);

	run_query(&r, dir, at("2026-11-16T00:00:00Z"),
		at("2026-11-30T00:00:00Z"), false);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.got.n, 4);
	by_id(&r.got, "first");
	by_id(&r.got, "last");
	by_id(&r.got, "said-rw");
	assert_int_equal(by_id(&r.got, "offset")->time, at(T));
	assert_int_equal(r.st.records, 12);
	assert_int_equal(r.st.events, 4);
	assert_int_equal(r.st.skipped, 8);
	assert_int_equal(r.diags.count, 0);

	run_query(&r, dir, at("2026-11-16T00:00:00Z"),
		at("2026-11-30T00:00:00Z"), true);
	assert_int_equal(r.got.n, 10);
	assert_true(by_id(&r.got, "get")->read_only);
	assert_true(by_id(&r.got, "lookup")->read_only);
	assert_true(by_id(&r.got, "said-ro")->read_only);
	assert_false(by_id(&r.got, "said-rw")->read_only);
	assert_int_equal(r.st.skipped, 2);
	cspf_buf_dispose(&b);
	run_free(&r);
}

/* --------------------------------------------------------------- gzip */

static void small_log(cspf_buf *b, int n, const char *prefix)
{
	char id[32];
	int i;

	cspf_buf_puts(b, "{\"Records\":[");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		rec(b, id, T, "s3.amazonaws.com", "PutObject",
			",\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":"
			"\"arn:aws:iam::111122223333:user/u\"},"
			"\"userAgent\":\"aws-cli/2.15.10 Python/3.11.6 Linux/"
			"6.5.0-14-generic exe/x86_64.ubuntu.22\"");
	}
	cspf_buf_puts(b, "]}");
}

static void test_gzip_and_plain(void **state)
{
	cspf_buf b = CSPF_BUF_INIT, b2 = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	unsigned char *z1, *z2, *both;
	size_t n1, n2, i;

	(void)state;
	memset(&r, 0, sizeof(r));
	small_log(&b, 3000, "gz");
	/* Named .json: told by its content, not its name. */
	write_gz(dir, "a/111122223333_CloudTrail_eu-west-1_20261117T0910Z_"
		"abc.json", b.ptr);
	cspf_buf_clear(&b);
	small_log(&b, 5, "plain");
	write_text(dir, "b/plain.json", b.ptr);
	/* Two gzip members in one file, as `gzip -c x y` writes them. */
	cspf_buf_clear(&b);
	small_log(&b, 1, "m1-");
	z1 = gzip(b.ptr, b.size, &n1);
	small_log(&b2, 1, "m2-");
	z2 = gzip(b2.ptr, b2.size, &n2);
	both = malloc(n1 + n2);
	assert_non_null(both);
	memcpy(both, z1, n1);
	memcpy(both + n1, z2, n2);
	write_bytes(dir, "c/two-members.json.gz", both, n1 + n2);
	free(z1);
	free(z2);
	free(both);

	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 0);
	/* The second member holds another document: after the first
	 * document's end, nothing more is read. */
	assert_int_equal(r.got.n, 3006);
	assert_int_equal(r.st.files, 3);
	/* Files in sorted order, records in file order. */
	assert_str(r.got.e[0].id, "gz0");
	assert_str(r.got.e[2999].id, "gz2999");
	assert_str(r.got.e[3000].id, "plain0");
	assert_str(r.got.e[3005].id, "m1-0");
	for (i = 0; i < r.got.n; i++)
		assert_str(r.got.e[i].actor,
			"arn:aws:iam::111122223333:user/u");
	assert_true(r.st.bytes > 0);
	cspf_buf_dispose(&b);
	cspf_buf_dispose(&b2);
	run_free(&r);
}

/* A multi-member gzip file whose one document spans the members. */
static void test_gzip_members_split(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	unsigned char *z1, *z2, *both;
	size_t n1, n2, half;

	(void)state;
	memset(&r, 0, sizeof(r));
	small_log(&b, 40, "s");
	half = b.size / 2;
	z1 = gzip(b.ptr, half, &n1);
	z2 = gzip(b.ptr + half, b.size - half, &n2);
	both = malloc(n1 + n2);
	assert_non_null(both);
	memcpy(both, z1, n1);
	memcpy(both + n1, z2, n2);
	write_bytes(dir, "split.json.gz", both, n1 + n2);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 0);
	assert_int_equal(r.got.n, 40);
	free(z1);
	free(z2);
	free(both);
	cspf_buf_dispose(&b);
	run_free(&r);
}

static void test_truncated_gzip(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	unsigned char *z;
	size_t n;
	const cspf_diag *d;
	char ptr[32];

	(void)state;
	memset(&r, 0, sizeof(r));
	small_log(&b, 2000, "t");
	z = gzip(b.ptr, b.size, &n);
	write_bytes(dir, "cut.json.gz", z, n / 2);
	write_bytes(dir, "whole.json.gz", z, n);
	free(z);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 1);
	d = &r.diags.items[0];
	assert_str(d->rule, "digest-source");
	assert_str(d->file, "cut.json.gz");
	assert_int_equal(d->severity, CSPF_SEVERITY_ERROR);
	assert_non_null(strstr(d->message, "cut short"));
	assert_non_null(strstr(d->message, "fetch it again"));
	/* every record before the cut, and the whole second file */
	assert_true(r.got.n > 2000 + 200);
	assert_true(r.got.n < 2000 + 2000);
	snprintf(ptr, sizeof(ptr), "/Records/%zu", r.got.n - 2000);
	assert_str(d->pointer, ptr);
	assert_int_equal(d->line, 1);
	assert_true(d->column > 1000);
	assert_int_equal(r.st.bad, 1);
	assert_int_equal(r.st.files, 2);

	/* Corrupt bytes in the middle: the same, with zlib's word. */
	z = gzip(b.ptr, b.size, &n);
	memset(z + n / 2, 0xAA, 64);
	write_bytes(dir, "cut.json.gz", z, n);
	free(z);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 1);
	assert_non_null(strstr(r.diags.items[0].message, "fetch it again"));
	assert_true(r.got.n > 2000 + 200);
	cspf_buf_dispose(&b);
	run_free(&r);
}

/* ------------------------------------------------------------- damage */

static void test_broken_json(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	const cspf_diag *d;

	(void)state;
	memset(&r, 0, sizeof(r));
	/* Pretty-printed over lines, as a person's copy might be. */
	cspf_buf_puts(&b, "{\n  \"Records\": [\n");
	rec(&b, "r0", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, ",\n");
	rec(&b, "r1", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, ",\n");
	rec(&b, "r2", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, ",\n    {\"eventTime\": \"" T "\",\n"
			  "     \"eventName\" \"Put\"}");
	rec(&b, "r4", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, "\n]}\n");
	write_text(dir, "broken.json", b.ptr);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.got.n, 3);
	assert_str(r.got.e[2].id, "r2");
	assert_int_equal(r.diags.count, 1);
	d = &r.diags.items[0];
	assert_str(d->file, "broken.json");
	assert_str(d->pointer, "/Records/3");
	assert_int_equal(d->line, 7);
	assert_int_equal(d->column, 18); /* the second string */
	assert_non_null(strstr(d->message, "invalid JSON"));
	assert_non_null(strstr(d->message, "':'"));
	assert_non_null(strstr(d->message, "record 3"));
	assert_int_equal(r.st.bad, 1);
	assert_int_equal(r.st.records, 3);
	cspf_buf_dispose(&b);
	run_free(&r);
}

/*
 * Line and column (in characters) of damage far into a file, after the
 * buffer has let go of what came before many times: one long line with
 * non-ASCII text (gzip'd), and one record a line (plain).
 */
static void check_position(const char *dir, const char *name, bool gz,
	const char *sep)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *bad = "\"eventName\" \"x\"", *err, *p, *line;
	unsigned int want_line = 1, want_col = 1;
	char id[32];
	int i;

	memset(&r, 0, sizeof(r));
	cspf_buf_printf(&b, "{\"Records\":[%s", sep);
	for (i = 0; i < 4000; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		if (i)
			cspf_buf_printf(&b, ",%s", sep);
		rec(&b, id, T, "s3.amazonaws.com", "PutObject",
			",\"userAgent\":\"Jos\xC3\xA9's caf\xC3\xA9 \xE2\x82\xAC"
			"\xF0\x9F\x98\x80 aws-cli/2.15.10 Python/3.11.6 Linux/"
			"6.5.0-14-generic exe/x86_64.ubuntu.22 prompt/off\"");
	}
	cspf_buf_printf(&b, ",%s{\"eventTime\":\"" T "\",\"userAgent\":"
		"\"na\xC3\xAFve\", %s}%s]}", sep, bad, sep);
	if (gz)
		write_gz(dir, name, b.ptr);
	else
		write_text(dir, name, b.ptr);
	err = strstr(b.ptr, bad) + strlen("\"eventName\" ");
	for (p = line = b.ptr; p < err; p++) {
		if (*p == '\n') {
			want_line++;
			line = p + 1;
		}
	}
	for (p = line; p < err; p++)
		want_col += ((unsigned char)*p & 0xC0) != 0x80;

	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.got.n, 4000);
	assert_int_equal(r.diags.count, 1);
	assert_str(r.diags.items[0].pointer, "/Records/4000");
	assert_int_equal(r.diags.items[0].line, want_line);
	assert_int_equal(r.diags.items[0].column, want_col);
	assert_true(want_col > 20 && (gz ? want_col > 500000 : true));
	cspf_buf_dispose(&b);
	run_free(&r);
}

static void test_positions(void **state)
{
	(void)state;
	check_position(new_dir(), "one-line.json.gz", true, "");
	check_position(new_dir(), "lines.json", false, "\n");
	check_position(new_dir(), "crlf.json", false, "\r\n");
}

static void test_bad_records(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	rec(&b, "r0", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, ",{\"eventSource\":\"s3.amazonaws.com\","
			  "\"eventName\":\"PutObject\",\"eventID\":\"r1\"}");
	cspf_buf_puts(&b, ",{\"eventTime\":\"" T "\",\"eventName\":"
			  "\"PutObject\",\"eventSource\":42}");
	cspf_buf_puts(&b, ",{\"eventTime\":\"yesterday\",\"eventName\":"
			  "\"PutObject\",\"eventSource\":\"s3.amazonaws.com\"}");
	cspf_buf_puts(&b, ",42,[1,2],\"text\",null");
	rec(&b, "r8", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, "]}");
	write_text(dir, "bad.json", b.ptr);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.got.n, 2);
	assert_str(r.got.e[0].id, "r0");
	assert_str(r.got.e[1].id, "r8");
	assert_int_equal(r.diags.count, 7);
	assert_str(r.diags.items[0].pointer, "/Records/1");
	assert_non_null(strstr(r.diags.items[0].message, "no eventTime"));
	assert_str(r.diags.items[1].pointer, "/Records/2");
	assert_non_null(strstr(r.diags.items[1].message, "no eventSource"));
	assert_str(r.diags.items[2].pointer, "/Records/3");
	assert_non_null(strstr(r.diags.items[2].message, "yesterday"));
	assert_str(r.diags.items[3].pointer, "/Records/4");
	assert_non_null(strstr(r.diags.items[3].message, "not an object"));
	assert_str(r.diags.items[6].pointer, "/Records/7");
	assert_int_equal(r.diags.items[0].line, 1);
	assert_true(r.diags.items[0].column > 100);
	assert_int_equal(r.st.records, 9);
	assert_int_equal(r.st.bad, 7);
	cspf_buf_dispose(&b);
	run_free(&r);
}

/* Past 20 findings in a file, the rest are counted in one line. */
static void test_findings_capped(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	int i;

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	for (i = 0; i < 30; i++)
		cspf_buf_puts(&b, i ? ",{}" : "{}");
	cspf_buf_puts(&b, "]}");
	write_text(dir, "empty-records.json", b.ptr);
	run_all(&r, dir);
	assert_int_equal(r.diags.count, 21);
	assert_non_null(strstr(r.diags.items[20].message, "10 more"));
	assert_int_equal(r.st.bad, 30);
	assert_int_equal(r.st.records, 30);
	cspf_buf_dispose(&b);
	run_free(&r);
}

static void test_not_cloudtrail(void **state)
{
	struct run r;
	const char *dir = new_dir();

	(void)state;
	memset(&r, 0, sizeof(r));
	write_text(dir, "empty-records.json", "{\"Records\":[]}");
	write_text(dir, "empty-records-ws.json", " { \"Records\" : [ ] } \n");
	write_gz(dir, "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/"
		"2026/11/17/111122223333_CloudTrail-Digest_eu-west-1_t_"
		"eu-west-1_20261117T091005Z.json.gz",
		"{\"awsAccountId\":\"111122223333\",\"digestStartTime\":"
		"\"2026-11-17T08:10:05Z\",\"digestEndTime\":"
		"\"2026-11-17T09:10:05Z\",\"logFiles\":[{\"s3Bucket\":\"b\","
		"\"s3Object\":\"o\",\"hashValue\":\"00\",\"oldestEventTime\":"
		"\"2026-11-17T08:10:05Z\"}]}");
	write_text(dir, "README.txt", "logs of the trail, synced nightly\n");
	write_bytes(dir, "empty.json", "", 0);
	write_bytes(dir, "junk.bin", "\x00\x01\x02\xff", 4);
	write_text(dir, "array.json", "[{\"Records\":[]}]");
	write_text(dir, ".hidden.json", "{\"Records\":[42]}");
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.diags.count, 0);
	assert_int_equal(r.got.n, 0);
	assert_int_equal(r.st.records, 0);
	assert_int_equal(r.st.bad, 0);
	assert_int_equal(r.st.files, 7);

	/* Records that is not an array: one finding. */
	write_text(dir, "records-object.json", "{\"Records\":{}}");
	run_all(&r, dir);
	assert_int_equal(r.diags.count, 1);
	assert_str(r.diags.items[0].pointer, "/Records");
	run_free(&r);
}

static void test_oversize_record(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	size_t big = 5 * 1024 * 1024, i;

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	rec(&b, "r0", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, ",{\"eventTime\":\"" T "\",\"eventName\":\"Put\","
			  "\"eventSource\":\"s3.amazonaws.com\","
			  "\"requestParameters\":{\"policy\":\"");
	assert_int_equal(cspf_buf_grow(&b, big + 64), 0);
	for (i = 0; i < big; i++)
		b.ptr[b.size + i] = i % 7 ? 'x' : '\\';
	b.size += big;
	b.ptr[b.size] = '\0';
	cspf_buf_puts(&b, "\"},\"nested\":[{\"a\":\"]}\"}]}");
	rec(&b, "r2", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, "]}");
	write_gz(dir, "big.json.gz", b.ptr);
	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.got.n, 2);
	assert_str(r.got.e[1].id, "r2");
	assert_int_equal(r.diags.count, 1);
	assert_str(r.diags.items[0].pointer, "/Records/1");
	assert_non_null(strstr(r.diags.items[0].message, "larger than 4 MiB"));
	assert_int_equal(r.st.records, 3);
	assert_int_equal(r.st.bad, 1);
	cspf_buf_dispose(&b);
	run_free(&r);
}

static void test_deep_nesting(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	int i;

	(void)state;
	memset(&r, 0, sizeof(r));
	cspf_buf_puts(&b, "{\"Records\":[");
	rec(&b, "r0", T, "s3.amazonaws.com", "PutObject", "");
	cspf_buf_puts(&b, ",{\"responseElements\":");
	for (i = 0; i < 100000; i++)
		cspf_buf_putc(&b, '[');
	for (i = 0; i < 100000; i++)
		cspf_buf_putc(&b, ']');
	cspf_buf_puts(&b, "}]}");
	write_text(dir, "deep.json", b.ptr);
	run_all(&r, dir);
	assert_int_equal(r.got.n, 1);
	assert_int_equal(r.diags.count, 1);
	assert_non_null(strstr(r.diags.items[0].message, "nested too deeply"));
	assert_str(r.diags.items[0].pointer, "/Records/1");
	cspf_buf_dispose(&b);
	run_free(&r);
}

/* ------------------------------------------------------------ the tree */

static void test_tree(void **state)
{
	cspf_buf b = CSPF_BUF_INIT;
	struct run r;
	const char *dir = new_dir();
	char outside[300], link[600], target[600];
	const char *p = "AWSLogs/111122223333/CloudTrail/eu-west-1/";
	char rel[300];

	(void)state;
	memset(&r, 0, sizeof(r));
	small_log(&b, 1, "z");
	write_text(dir, "z.json", b.ptr);
	cspf_buf_clear(&b);
	small_log(&b, 1, "a");
	snprintf(rel, sizeof(rel), "%s2026/11/17/111122223333_CloudTrail_"
		"eu-west-1_20261117T0910Z_abc.json.gz", p);
	write_gz(dir, rel, b.ptr);
	cspf_buf_clear(&b);
	small_log(&b, 1, "b");
	snprintf(rel, sizeof(rel), "%s2026/11/18/111122223333_CloudTrail_"
		"eu-west-1_20261118T0910Z_abc.json.gz", p);
	write_gz(dir, rel, b.ptr);
	/* Delivered more than a day outside the period: never opened,
	 * even though its records are in it. */
	cspf_buf_clear(&b);
	small_log(&b, 1, "late");
	snprintf(rel, sizeof(rel), "%s2026/12/05/111122223333_CloudTrail_"
		"eu-west-1_20261205T0910Z_abc.json.gz", p);
	write_gz(dir, rel, b.ptr);
	snprintf(rel, sizeof(rel), "%s2026/11/18/111122223333_CloudTrail_"
		"eu-west-1_20261101T0910Z_abc.json.gz", p);
	write_gz(dir, rel, b.ptr);
	/* A day's directory a day past the end is still read. */
	cspf_buf_clear(&b);
	small_log(&b, 1, "edge");
	snprintf(rel, sizeof(rel), "%s2026/11/30/x.json", p);
	write_text(dir, rel, b.ptr);

	/* A link out of the tree: a warning; one inside: quietly left. */
	snprintf(outside, sizeof(outside), "%s/outside-%d", base, counter);
	assert_int_equal(mkdir(outside, 0755), 0);
	cspf_buf_clear(&b);
	small_log(&b, 1, "out");
	write_text(outside, "o.json", b.ptr);
	snprintf(link, sizeof(link), "%s/m-link-out", dir);
	assert_int_equal(symlink(outside, link), 0);
	snprintf(link, sizeof(link), "%s/m-link-in.json", dir);
	snprintf(target, sizeof(target), "%s/z.json", dir);
	assert_int_equal(symlink(target, link), 0);

	run_all(&r, dir);
	dump_diags(&r);
	assert_int_equal(r.got.n, 4);
	assert_str(r.got.e[0].id, "a0");
	assert_str(r.got.e[1].id, "b0");
	assert_str(r.got.e[2].id, "edge0");
	assert_str(r.got.e[3].id, "z0");
	assert_int_equal(r.st.files, 4);
	assert_int_equal(r.diags.count, 1);
	assert_int_equal(r.diags.items[0].severity, CSPF_SEVERITY_WARNING);
	assert_str(r.diags.items[0].file, "m-link-out");
	assert_non_null(strstr(r.diags.items[0].message, "not followed"));
	assert_int_equal(r.st.bad, 0);

	/* One file, named as it is. */
	snprintf(rel, sizeof(rel), "%s/z.json", dir);
	run_all(&r, rel);
	assert_int_equal(r.got.n, 1);
	cspf_buf_dispose(&b);
	run_free(&r);
}

static void test_errors(void **state)
{
	struct run r;
	cspf_buf b = CSPF_BUF_INIT;
	const char *dir = new_dir();
	char path[400];

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/nowhere", dir);
	run_query(&r, path, 0, INT64_MAX, true);
	assert_true(r.rc < 0);
	assert_non_null(strstr(cspf_error_last()->message, "nowhere"));
	run_query(&r, NULL, 0, INT64_MAX, true);
	assert_true(r.rc < 0);
	assert_non_null(strstr(cspf_error_last()->message,
		"cloudtrail:DIR"));

	/* The callback's answer stops the source and comes back. */
	small_log(&b, 10, "s");
	write_text(dir, "a.json", b.ptr);
	write_text(dir, "b.json", b.ptr);
	r.got.stop_after = 3;
	run_query(&r, dir, 0, INT64_MAX, true);
	assert_int_equal(r.rc, -42);
	assert_int_equal(r.got.n, 3);
	cspf_buf_dispose(&b);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_period_and_read_only),
		cmocka_unit_test(test_gzip_and_plain),
		cmocka_unit_test(test_gzip_members_split),
		cmocka_unit_test(test_truncated_gzip),
		cmocka_unit_test(test_broken_json),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_findings_capped),
		cmocka_unit_test(test_not_cloudtrail),
		cmocka_unit_test(test_oversize_record),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
