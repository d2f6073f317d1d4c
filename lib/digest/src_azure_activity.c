/*
 * The "azure-activity" source: Azure Activity Log exports, a file or a
 * directory tree of them (every *.json below it, in name order; symbolic
 * links are not followed).  Two shapes, told apart by their content:
 *
 *   (a) what `az monitor activity-log list` prints: a JSON array of events
 *       (eventTimestamp, caller, operationName {value}, resourceId,
 *       subscriptionId, status {value}, category {value}, eventDataId...);
 *       the REST API's {"value": [...]} is read the same way;
 *   (b) a diagnostic setting's export to a storage account
 *       (insights-activity-logs/.../PT1H.json): one JSON object per line
 *       (time, resourceId, operationName, category, resultType,
 *       identity {authorization, claims}, properties); the older
 *       {"records": [...]} is read the same way.
 *
 * Only category Administrative is an action.  An operation's "Started"
 * and "Accepted" events are left out (counted as skipped): the event that
 * ends it (Succeeded, Failed, ...) carries the same operation, and a
 * reviewer should see each operation once.
 *
 * One diag per malformed file or record (the file, "/N" for an array's
 * record, the line of a JSON-lines record), and the rest goes on.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cspf/time.h"
#include "digest_private.h"
#include "util/buf.h"
#include "util/error.h"

#define SOURCE "azure-activity"
#define MAX_FILE (512u << 20)

/* Claims that name the caller in an export (shape b), best first. */
static const char *const caller_claims[] = {
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
	"unique_name",
	"http://schemas.microsoft.com/identity/claims/objectidentifier",
	"oid",
	NULL,
};

struct az {
	cspf_source_stats *stats;
	cspf_diags *diags;
	const cspf_source_query *q;
	cspf_event_cb cb;
	void *payload;
	int stop;
};

static const char *jstring(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* A field that is a string, or an object whose "value" is one. */
static const char *value_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsObject(v))
		return jstring(v, "value");
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* 8-4-4-4-12 hex digits. */
static bool is_guid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool is_email(const char *s)
{
	const char *at = s ? strchr(s, '@') : NULL;

	return at && at != s && strchr(at + 1, '.') && !strpbrk(s, " /");
}

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

/*
 * `s`, or `better` when it is the same text in a better case (exports
 * write operation names and resource ids in capitals; the authorization
 * block keeps Azure's own case).
 */
static const char *recased(const char *s, const char *better)
{
	return s && better && !strcasecmp(s, better) ? better : s;
}

/* The subscription of "/subscriptions/<id>/..." into out, lower case. */
static const char *subscription_of(char out[40], const char *sub,
	const char *resource_id)
{
	const char *p = sub;
	size_t i;

	if (!p && resource_id && !strncasecmp(resource_id, "/subscriptions/",
						15))
		p = resource_id + 15;
	if (!p)
		return NULL;
	for (i = 0; i < 39 && p[i] && p[i] != '/'; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[i] = '\0';
	return i ? out : NULL;
}

static void diag(struct az *az, const char *file, const char *pointer,
	unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void diag(struct az *az, const char *file, const char *pointer,
	unsigned int line, const char *fmt, ...)
{
	char msg[768];
	cspf_diag *d;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d = cspf_diags_add(az->diags, CSPF_SEVERITY_ERROR, "digest-source",
		file, pointer, NULL, NULL, msg);
	if (d)
		d->line = line;
}

/*
 * One record of either shape.  Returns 0 (delivered, skipped), or -1 with
 * *why saying what is wrong with it.
 */
static int one_record(struct az *az, const cJSON *rec, const char **why)
{
	const cJSON *auth, *claims;
	const char *time_s, *category, *status, *op, *caller;
	char sub[40];
	cspf_event ev;
	size_t i;
	int rc;

	memset(&ev, 0, sizeof(ev));
	az->stats->records++;
	if (!cJSON_IsObject(rec)) {
		*why = "the record is not a JSON object";
		return -1;
	}
	time_s = jstring(rec, "eventTimestamp");
	if (!time_s)
		time_s = jstring(rec, "time");
	if (!time_s || cspf_time_parse(&ev.time, time_s) < 0) {
		*why = "it has no eventTimestamp (or time) in RFC 3339";
		return -1;
	}
	op = value_of(rec, "operationName");
	if (!op) {
		*why = "it has no operationName";
		return -1;
	}
	category = value_of(rec, "category");
	if (!category)
		category = jstring(cJSON_GetObjectItemCaseSensitive(rec,
					   "properties"), "eventCategory");
	status = value_of(rec, "status");
	if (!status)
		status = jstring(rec, "resultType");
	if (!category || strcasecmp(category, "Administrative") ||
	    (status && (!strcasecmp(status, "Started") ||
			!strcasecmp(status, "Start") ||
			!strcasecmp(status, "Accepted") ||
			!strcasecmp(status, "Accept")))) {
		az->stats->skipped++;
		return 0;
	}
	auth = cJSON_GetObjectItemCaseSensitive(rec, "authorization");
	claims = cJSON_GetObjectItemCaseSensitive(rec, "claims");
	if (!auth)
		auth = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(rec, "identity"),
			"authorization");
	if (!claims)
		claims = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(rec, "identity"),
			"claims");
	ev.action = recased(op, jstring(auth, "action"));
	ev.target = recased(jstring(rec, "resourceId"),
		jstring(auth, "scope"));
	ev.account = subscription_of(sub, jstring(rec, "subscriptionId"),
		ev.target);
	caller = jstring(rec, "caller");
	for (i = 0; !caller && caller_claims[i]; i++)
		caller = jstring(claims, caller_claims[i]);
	ev.actor = caller;
	if (is_email(caller)) {
		ev.actor_kind = CSPF_ACTOR_USER;
		ev.person = caller;
	} else if (is_guid(caller)) {
		/* A service principal or managed identity: a role acting. */
		ev.actor_kind = CSPF_ACTOR_ROLE;
		ev.role = caller;
	}
	ev.source = SOURCE;
	ev.id = jstring(rec, "eventDataId");
	if (!ev.id)
		ev.id = jstring(rec, "correlationId");
	ev.read_only = ends_with_ci(op, "/read");
	ev.failed = status && (!strcasecmp(status, "Failed") ||
			       !strcasecmp(status, "Failure"));
	if (ev.time < az->q->start || ev.time >= az->q->end ||
	    (ev.read_only && !az->q->read_only)) {
		az->stats->skipped++;
		return 0;
	}
	az->stats->events++;
	if ((rc = az->cb(&ev, az->payload)) < 0)
		az->stop = rc;
	return 0;
}

/* Shape (a), or a {"value"|"records": [...]} document. */
static void read_array(struct az *az, const char *file, const cJSON *arr,
	const char *prefix)
{
	const cJSON *rec;
	const char *why;
	char ptr[64];
	size_t i = 0;

	cJSON_ArrayForEach(rec, arr) {
		if (az->stop)
			return;
		why = NULL;
		if (one_record(az, rec, &why) < 0) {
			snprintf(ptr, sizeof(ptr), "%s/%zu", prefix, i);
			az->stats->bad++;
			diag(az, file, ptr, 0, "record %s: %s; it is left out "
				"(an Activity Log event is expected: run `az "
				"monitor activity-log list` again or fix the "
				"record)", ptr, why);
		}
		i++;
	}
}

/* Shape (b): one object per line. */
static void read_lines(struct az *az, const char *file, const char *data,
	size_t len)
{
	const char *p = data, *end = data + len, *nl, *why;
	unsigned int line = 0;
	cJSON *rec;

	while (p < end && !az->stop) {
		size_t n;

		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		if (n) {
			/* Some writers separate the objects with commas. */
			if (p[n - 1] == ',')
				n--;
			rec = cJSON_ParseWithLength(p, n);
			why = NULL;
			if (!rec) {
				az->stats->records++;
				why = "it is not a JSON object";
			} else {
				one_record(az, rec, &why);
			}
			if (why) {
				az->stats->bad++;
				diag(az, file, NULL, line, "line %u: %s; it "
					"is left out (a diagnostic-settings "
					"export holds one Activity Log record "
					"per line)", line, why);
			}
			cJSON_Delete(rec);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void read_file(struct az *az, const char *path)
{
	cspf_buf b = CSPF_BUF_INIT;
	char chunk[65536];
	const char *data;
	size_t n, len;
	cJSON *doc;
	FILE *f;

	az->stats->files++;
	if (!(f = fopen(path, "rb"))) {
		az->stats->bad++;
		diag(az, path, NULL, 0, "cannot open: %s; check the path and "
			"its permissions", strerror(errno));
		return;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
	       b.size <= MAX_FILE)
		cspf_buf_put(&b, chunk, n);
	if (ferror(f) || cspf_buf_oom(&b) || b.size > MAX_FILE) {
		az->stats->bad++;
		diag(az, path, NULL, 0, "%s; the file is left out",
			ferror(f) ? "cannot read it" : b.size > MAX_FILE ?
				"it is larger than 512 MiB: split the export" :
				"out of memory reading it");
		fclose(f);
		cspf_buf_dispose(&b);
		return;
	}
	fclose(f);
	az->stats->bytes += b.size;
	data = b.ptr;
	len = b.size;
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
		data += 3;
		len -= 3;
	}
	while (len && isspace((unsigned char)*data)) {
		data++;
		len--;
	}
	if (!len) {
		cspf_buf_dispose(&b);
		return;
	}
	doc = cJSON_ParseWithLength(data, len);
	if (cJSON_IsArray(doc)) {
		read_array(az, path, doc, "");
	} else if (cJSON_IsObject(doc) &&
		   cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc,
			   "value"))) {
		read_array(az, path,
			cJSON_GetObjectItemCaseSensitive(doc, "value"),
			"/value");
	} else if (cJSON_IsObject(doc) &&
		   cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc,
			   "records"))) {
		read_array(az, path,
			cJSON_GetObjectItemCaseSensitive(doc, "records"),
			"/records");
	} else if (*data == '{') {
		read_lines(az, path, data, len);
	} else if (*data == '[') {
		az->stats->bad++;
		diag(az, path, NULL, 0, "the JSON array does not parse (a "
			"truncated or edited export?); the file is left out: "
			"export it again");
	} else {
		az->stats->bad++;
		diag(az, path, NULL, 0, "not an Activity Log export (neither "
			"a JSON array of events nor one JSON object per line); "
			"the file is left out");
	}
	cJSON_Delete(doc);
	cspf_buf_dispose(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every *.json below `dir`, in name order, depth first. */
static int walk(struct az *az, const char *dir, int depth)
{
	char **names = NULL, *path;
	size_t n = 0, alloc = 0, i;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0;

	if (depth > 32) {
		diag(az, dir, NULL, 0, "nested deeper than 32 directories; "
			"left out");
		return 0;
	}
	if (!(d = opendir(dir))) {
		diag(az, dir, NULL, 0, "cannot open the directory: %s",
			strerror(errno));
		return 0;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			char **nn = realloc(names, (alloc = alloc ? 2 * alloc :
								      32) *
					sizeof(*names));
			if (!nn) {
				rc = cspf_error_set_oom();
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = cspf_error_set_oom();
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && rc == 0 && !az->stop; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;

		if (!(path = malloc(len))) {
			rc = cspf_error_set_oom();
			break;
		}
		snprintf(path, len, "%s/%s", dir, names[i]);
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(az, path, depth + 1);
			else if (S_ISREG(st.st_mode) &&
				 ends_with_ci(names[i], ".json"))
				read_file(az, path);
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int az_read(cspf_source_stats *stats, cspf_diags *diags,
	const cspf_source_query *q, cspf_event_cb cb, void *payload)
{
	struct az az = { stats, diags, q, cb, payload, 0 };
	struct stat st;
	int rc;

	if (!q->arg || !*q->arg)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			SOURCE ": give the export to read: "
			"azure-activity:FILE or azure-activity:DIRECTORY");
	if (stat(q->arg, &st) < 0)
		return cspf_error_set_os(SOURCE ": cannot read '%s' (give a "
			"file or a directory of Activity Log exports)",
			q->arg);
	if (S_ISDIR(st.st_mode)) {
		if ((rc = walk(&az, q->arg, 0)) < 0)
			return rc;
	} else {
		read_file(&az, q->arg);
	}
	return az.stop;
}

const cspf_source cspf_source_azure_activity = {
	SOURCE,
	"Azure Activity Log exports (az monitor activity-log list, or a "
	"diagnostic setting's PT1H.json files)",
	true,
	az_read,
};
