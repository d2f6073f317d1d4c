/*
 * ticket.c - what every sink shares: the report kinds' names and the
 * marker a ticket's body carries, from which any sink reads back the key,
 * kind, recipient, team and dates of a ticket it holds.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "cspf/time.h"
#include "digest/digest_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

static const char *const kind_names[CSPF_REPORT_COUNT] = {
	"resource-actions", "role-actions", "role-members", "user-actions",
	"user-roles",
};

const char *cspf_report_kind_name(cspf_report_kind kind)
{
	return (unsigned)kind < CSPF_REPORT_COUNT ? kind_names[kind] : "?";
}

int cspf_report_kind_parse(cspf_report_kind *out, const char *name)
{
	size_t i;

	for (i = 0; i < CSPF_REPORT_COUNT; i++)
		if (strcmp(kind_names[i], name) == 0) {
			*out = (cspf_report_kind)i;
			return 0;
		}
	return CSPF_ENOTFOUND;
}

#define MARKER_OPEN "<!-- cspf-digest "
#define MARKER_CLOSE " -->"

char *cspf_ticket_marker_format(const cspf_ticket *t)
{
	char created[CSPF_TIME_BUFSIZE], due[CSPF_TIME_BUFSIZE];
	cspf_buf b = CSPF_BUF_INIT;
	const char *fields[][2] = {
		{ "key", t->key },
		{ "kind", t->unattributed ? "unattributed" :
			cspf_report_kind_name(t->kind) },
		{ "recipient", t->recipient },
		{ "team", t->team },
		{ "period", t->period },
		{ "created", created },
		{ "due", due },
	};
	size_t i;

	cspf_time_format(created, t->created);
	cspf_time_format(due, t->due);
	cspf_buf_puts(&b, MARKER_OPEN "{");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = fields[i][1] ? fields[i][1] : "";

		cspf_buf_printf(&b, "%s\"%s\":\"", i ? "," : "", fields[i][0]);
		cspf_buf_put_json_escaped(&b, v, strlen(v));
		cspf_buf_putc(&b, '"');
	}
	cspf_buf_puts(&b, "}" MARKER_CLOSE);
	if (cspf_buf_oom(&b)) {
		cspf_buf_dispose(&b);
		return NULL;
	}
	return cspf_buf_detach(&b);
}

static void copy_field(char *dst, size_t size, const cJSON *obj,
	const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	cspf_strlcpy(dst, cJSON_IsString(v) ? v->valuestring : "", size);
}

int cspf_ticket_marker_parse(cspf_ticket_ref *ref, const char *body,
	size_t len)
{
	const char *p, *end = body + len, *close;
	char stamp[CSPF_TIME_BUFSIZE + 8];
	cJSON *json;
	size_t olen = strlen(MARKER_OPEN);

	for (p = body; p && (size_t)(end - p) >= olen;
	     p = memchr(p + 1, '<', (size_t)(end - p - 1))) {
		if (memcmp(p, MARKER_OPEN, olen) != 0)
			continue;
		for (close = p + olen; close + 3 <= end; close++)
			if (memcmp(close, "-->", 3) == 0)
				break;
		if (close + 3 > end)
			break;
		json = cJSON_ParseWithLength(p + olen,
			(size_t)(close - p - olen));
		if (!cJSON_IsObject(json)) {
			cJSON_Delete(json);
			continue;
		}
		copy_field(ref->key, sizeof(ref->key), json, "key");
		copy_field(ref->kind, sizeof(ref->kind), json, "kind");
		copy_field(ref->recipient, sizeof(ref->recipient), json,
			"recipient");
		copy_field(ref->team, sizeof(ref->team), json, "team");
		copy_field(ref->period, sizeof(ref->period), json, "period");
		copy_field(stamp, sizeof(stamp), json, "created");
		if (cspf_time_parse(&ref->created, stamp) < 0)
			ref->created = 0;
		copy_field(stamp, sizeof(stamp), json, "due");
		if (cspf_time_parse(&ref->due, stamp) < 0)
			ref->due = 0;
		cJSON_Delete(json);
		if (ref->key[0])
			return 0;
	}
	return CSPF_ENOTFOUND;
}
