/*
 * cspf schema docs [--title TEXT] [--out FILE] SCHEMA.json...
 *
 * Writes a Markdown reference of JSON Schemas: for each schema its title
 * and description, a table of its properties (type, required, description,
 * constraints), the rules it states with if/then, and its definitions.
 * A "$ref" to a definition of another schema given on the command line
 * (common.json#/$defs/email) becomes a link to that definition.
 *
 * The output depends only on the schemas' contents and file names, never
 * on the order of the operands or their directories, so a committed
 * document can be compared with a fresh one (tests/cli/schema_docs.sh).
 * Properties without a description are reported: exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cspf/json.h"
#include "cmd.h"

int cmd_schema_docs(int argc, char **argv);
void cmd_schema_docs_help(FILE *f);

#define MAX_DEPTH 6 /* of nested constraint descriptions */

/* ---- a growing string ---- */

struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sb_putn(b, small, (size_t)n);
		return;
	}
	if (!(big = malloc((size_t)n + 1))) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_putn(b, big, (size_t)n);
	free(big);
}

static const char *sb_str(const struct sb *b)
{
	return b->p ? b->p : "";
}

/* ---- the schemas ---- */

struct sdoc {
	const char *path; /* as given */
	const char *base; /* file name, into path */
	char *stem;       /* file name without .json: anchors */
	cspf_json_doc *doc;
	const cJSON *root;
	int library; /* only definitions: no properties, no type */
};

struct ctx {
	struct sdoc *docs;
	size_t ndocs;
	struct sb out;
	int warnings;
};

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key)
				 : NULL;
}

/* Member `key` of `o` when it is an object (whose members have names). */
static const cJSON *get_obj(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsObject(v) ? v : NULL;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void warn(struct ctx *c, const struct sdoc *d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(struct ctx *c, const struct sdoc *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cspf schema docs: %s: warning: ", d->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->warnings++;
}

/*
 * The schema a "$ref" points to, and the document holding it.  The part
 * before '#' names another schema by the last segment of its "$id" or by
 * its file name (common.json); empty, it is `from` itself.  `*name` is
 * the definition's name when the pointer is /$defs/<name>.  NULL when
 * not found.
 */
static const cJSON *resolve(const struct ctx *c, const struct sdoc *from,
	const char *ref, const struct sdoc **to, const char **name)
{
	const char *hash = strchr(ref, '#'), *ptr, *slash;
	size_t ulen = hash ? (size_t)(hash - ref) : strlen(ref);
	const struct sdoc *d = NULL;
	size_t i;

	*to = NULL;
	*name = NULL;
	if (ulen == 0) {
		d = from;
	} else {
		const char *seg = ref, *s;
		size_t slen;

		for (s = ref; s < ref + ulen; s++)
			if (*s == '/')
				seg = s + 1;
		slen = (size_t)(ref + ulen - seg);
		for (i = 0; i < c->ndocs && !d; i++) {
			const char *id = get_str(c->docs[i].root, "$id");

			if (id && strlen(id) == ulen &&
			    strncmp(id, ref, ulen) == 0)
				d = &c->docs[i];
			else if (strlen(c->docs[i].base) == slen &&
				 strncmp(c->docs[i].base, seg, slen) == 0)
				d = &c->docs[i];
		}
		if (!d)
			return NULL;
	}
	ptr = hash ? hash + 1 : "";
	*to = d;
	if (strncmp(ptr, "/$defs/", 7) == 0 && !strchr(ptr + 7, '/'))
		*name = ptr + 7;
	else if ((slash = strrchr(ptr, '/')) != NULL)
		*name = slash + 1;
	return cspf_json_pointer_get(d->root, ptr);
}

/* ---- Markdown ---- */

/* Text for people: escaped so that Markdown shows it as written. */
static void md_text(struct sb *b, const char *s, int in_table)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\':
		case '*':
		case '`':
			sb_putn(b, "\\", 1);
			sb_putn(b, s, 1);
			break;
		case '|':
			sb_puts(b, in_table ? "\\|" : "|");
			break;
		case '<':
			sb_puts(b, "&lt;");
			break;
		case '&':
			sb_puts(b, "&amp;");
			break;
		case '\n':
		case '\r':
		case '\t':
			sb_putn(b, " ", 1);
			break;
		default:
			sb_putn(b, s, 1);
		}
	}
}

/* A code span holding `s` literally (a pattern, a value). */
static void md_code(struct sb *b, const char *s, int in_table)
{
	int ticks = strchr(s, '`') != NULL;

	sb_puts(b, ticks ? "`` " : "`");
	for (; *s; s++) {
		if (*s == '|' && in_table)
			sb_puts(b, "\\|");
		else if (*s == '\n' || *s == '\r' || *s == '\t')
			sb_putn(b, " ", 1);
		else
			sb_putn(b, s, 1);
	}
	sb_puts(b, ticks ? " ``" : "`");
}

/* A JSON value, as a code span. */
static void md_value(struct sb *b, const cJSON *v, int in_table)
{
	const char *num = cJSON_IsNumber(v) ? cspf_json_number_text(v) : NULL;
	char *text;

	if (num) {
		md_code(b, num, in_table);
		return;
	}
	if (!(text = cJSON_PrintUnformatted(v))) {
		b->oom = 1;
		return;
	}
	md_code(b, text, in_table);
	cJSON_free(text);
}

static void anchor_def(struct sb *b, const struct sdoc *d, const char *name)
{
	sb_printf(b, "%s-def-%s", d->stem, name);
}

/* A link to the definition `name` of `d`. */
static void link_def(struct sb *b, const struct sdoc *d, const char *name)
{
	sb_puts(b, "[");
	md_text(b, name, 1);
	sb_puts(b, "](#");
	anchor_def(b, d, name);
	sb_puts(b, ")");
}

/* ---- what a schema says ---- */

static int is_object_schema(const cJSON *s)
{
	const char *t = get_str(s, "type");

	return cJSON_IsObject(get(s, "properties")) ||
	       (t && strcmp(t, "object") == 0 &&
		!cJSON_IsObject(get(s, "additionalProperties")));
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsNumber(v))
		return isfinite(v->valuedouble) &&
				       floor(v->valuedouble) == v->valuedouble
			       ? "integer" : "number";
	if (cJSON_IsArray(v))
		return "array";
	return "object";
}

static void type_str(struct ctx *c, struct sb *b, const struct sdoc *d,
	const cJSON *s, const char *inline_anchor, int depth);

/*
 * The one JSON type a schema allows, from "type", "const" or "enum";
 * NULL when it allows several or does not say.
 */
static const char *simple_type(const cJSON *s)
{
	const cJSON *v, *e;
	const char *name;

	if ((name = get_str(s, "type")) != NULL)
		return name;
	if ((v = get(s, "const")) != NULL)
		return json_type_name(v);
	if (!cJSON_IsArray(v = get(s, "enum")) || !v->child)
		return NULL;
	name = json_type_name(v->child);
	cJSON_ArrayForEach(e, v)
		if (strcmp(json_type_name(e), name))
			return NULL;
	return name;
}

/* The type of the values a list of alternatives (anyOf, oneOf) allows. */
static void type_alternatives(struct ctx *c, struct sb *b,
	const struct sdoc *d, const cJSON *alts, int depth)
{
	const cJSON *a;
	size_t start = b->len;
	int first = 1;

	cJSON_ArrayForEach(a, alts) {
		struct sb one = { 0 };

		type_str(c, &one, d, a, NULL, depth + 1);
		if (b->p && one.p && strstr(b->p + start, one.p)) {
			free(one.p);
			continue; /* said already */
		}
		if (!first)
			sb_puts(b, " or ");
		sb_puts(b, sb_str(&one));
		free(one.p);
		first = 0;
	}
}

/*
 * The "Type" cell: string, integer, array of X, map of X, a link to a
 * definition, or, for an inline object documented in its own section,
 * a link to `inline_anchor`.
 */
static void type_str(struct ctx *c, struct sb *b, const struct sdoc *d,
	const cJSON *s, const char *inline_anchor, int depth)
{
	const cJSON *t, *v;
	const char *ref;

	if (depth > MAX_DEPTH) {
		sb_puts(b, "any");
		return;
	}
	if (cJSON_IsBool(s)) {
		sb_puts(b, cJSON_IsTrue(s) ? "any" : "nothing");
		return;
	}
	if ((ref = get_str(s, "$ref")) != NULL) {
		const struct sdoc *to;
		const char *name;
		const cJSON *target = resolve(c, d, ref, &to, &name);
		const char *tt = simple_type(target);

		if (!target || !name) {
			md_code(b, ref, 1);
			return;
		}
		if (tt && strcmp(tt, "object") && strcmp(tt, "array")) {
			sb_printf(b, "%s (", tt);
			link_def(b, to, name);
			sb_puts(b, ")");
		} else {
			link_def(b, to, name);
		}
		return;
	}
	t = get(s, "type");
	if (cJSON_IsArray(t)) {
		int first = 1;

		cJSON_ArrayForEach(v, t) {
			if (!cJSON_IsString(v))
				continue;
			sb_printf(b, "%s%s", first ? "" : " or ",
				v->valuestring);
			first = 0;
		}
		return;
	}
	if (cJSON_IsString(t) && strcmp(t->valuestring, "array") == 0) {
		const cJSON *items = get(s, "items");

		sb_puts(b, "array");
		if (items) {
			sb_puts(b, " of ");
			type_str(c, b, d, items, inline_anchor, depth + 1);
		}
		return;
	}
	if (cJSON_IsString(t) && strcmp(t->valuestring, "object") == 0 &&
	    cJSON_IsObject(get(s, "additionalProperties"))) {
		sb_puts(b, "map of ");
		type_str(c, b, d, get(s, "additionalProperties"), inline_anchor,
			depth + 1);
		return;
	}
	if (is_object_schema(s) && inline_anchor) {
		sb_printf(b, "[object](#%s)", inline_anchor);
		return;
	}
	if (cJSON_IsString(t)) {
		sb_puts(b, t->valuestring);
		return;
	}
	if (get(s, "const") || get(s, "enum")) {
		const char *name = simple_type(s);

		sb_puts(b, name ? name : "any");
		return;
	}
	if (cJSON_IsArray(v = get(s, "anyOf")) ||
	    cJSON_IsArray(v = get(s, "oneOf"))) {
		type_alternatives(c, b, d, v, depth);
		return;
	}
	if (cJSON_IsArray(v = get(s, "allOf")) && v->child) {
		type_str(c, b, d, v->child, inline_anchor, depth + 1);
		return;
	}
	sb_puts(b, "any");
}

/* Separator between the parts of a "Constraints" cell. */
static void part(struct sb *b, int *n)
{
	if ((*n)++)
		sb_puts(b, "; ");
}

static void constraints(struct ctx *c, struct sb *b, const struct sdoc *d,
	const cJSON *s, int depth);

static void number_kw(struct sb *b, const cJSON *s, const char *kw, int *n)
{
	const cJSON *v = get(s, kw);

	if (!cJSON_IsNumber(v))
		return;
	part(b, n);
	sb_printf(b, "%s ", kw);
	md_value(b, v, 1);
}

/* Alternatives (anyOf, oneOf), each by its constraints or its type. */
static void alternatives(struct ctx *c, struct sb *b, const struct sdoc *d,
	const char *kw, const cJSON *alts, int depth, int *n)
{
	const cJSON *a;
	int first = 1;

	part(b, n);
	sb_puts(b, strcmp(kw, "oneOf") ? "any of: " : "exactly one of: ");
	cJSON_ArrayForEach(a, alts) {
		struct sb one = { 0 };

		if (!get(a, "$ref"))
			constraints(c, &one, d, a, depth + 1);
		if (!one.len)
			type_str(c, &one, d, a, NULL, depth + 1);
		sb_puts(b, first ? "" : " or ");
		sb_puts(b, sb_str(&one));
		free(one.p);
		first = 0;
	}
}

/*
 * The "Constraints" cell: enum, const, pattern, format, bounds, defaults,
 * and those of a definition the schema refers to, when that definition
 * is not an object (which has its own section).
 */
static void constraints(struct ctx *c, struct sb *b, const struct sdoc *d,
	const cJSON *s, int depth)
{
	static const char *const bounds[] = { "minimum", "exclusiveMinimum",
		"maximum", "exclusiveMaximum", "multipleOf", "minLength",
		"maxLength", "minItems", "maxItems", "minProperties",
		"maxProperties" };
	const cJSON *v, *e;
	const char *str;
	size_t i;
	int n = 0, first;

	if (!cJSON_IsObject(s) || depth > MAX_DEPTH)
		return;
	if ((v = get(s, "const")) != NULL) {
		part(b, &n);
		sb_puts(b, "always ");
		md_value(b, v, 1);
	}
	if (cJSON_IsArray(v = get(s, "enum"))) {
		part(b, &n);
		sb_puts(b, "one of ");
		first = 1;
		cJSON_ArrayForEach(e, v) {
			sb_puts(b, first ? "" : ", ");
			md_value(b, e, 1);
			first = 0;
		}
	}
	if ((str = get_str(s, "pattern")) != NULL) {
		part(b, &n);
		sb_puts(b, "pattern ");
		md_code(b, str, 1);
	}
	if ((str = get_str(s, "format")) != NULL) {
		part(b, &n);
		sb_puts(b, "format ");
		md_code(b, str, 1);
	}
	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		number_kw(b, s, bounds[i], &n);
	if (cJSON_IsTrue(get(s, "uniqueItems"))) {
		part(b, &n);
		sb_puts(b, "unique items");
	}
	if ((v = get(s, "propertyNames")) != NULL) {
		struct sb one = { 0 };

		constraints(c, &one, d, v, depth + 1);
		if (!one.len)
			type_str(c, &one, d, v, NULL, depth + 1);
		part(b, &n);
		sb_printf(b, "names: %s", sb_str(&one));
		free(one.p);
	}
	if ((v = get(s, "additionalProperties")) != NULL &&
	    cJSON_IsObject(v) && !get(v, "$ref")) {
		struct sb one = { 0 };

		constraints(c, &one, d, v, depth + 1);
		if (one.len) {
			part(b, &n);
			sb_printf(b, "values: %s", sb_str(&one));
		}
		free(one.p);
	}
	if ((v = get(s, "items")) != NULL && cJSON_IsObject(v) &&
	    !get(v, "$ref")) {
		struct sb one = { 0 };

		constraints(c, &one, d, v, depth + 1);
		if (one.len) {
			part(b, &n);
			sb_printf(b, "items: %s", sb_str(&one));
		}
		free(one.p);
	}
	if ((v = get(s, "contains")) != NULL) {
		struct sb one = { 0 };

		constraints(c, &one, d, v, depth + 1);
		part(b, &n);
		sb_printf(b, "contains: %s", one.len ? sb_str(&one) : "an item");
		free(one.p);
	}
	if (cJSON_IsArray(v = get(s, "anyOf")))
		alternatives(c, b, d, "anyOf", v, depth, &n);
	if (cJSON_IsArray(v = get(s, "oneOf")))
		alternatives(c, b, d, "oneOf", v, depth, &n);
	if ((v = get(s, "not")) != NULL) {
		struct sb one = { 0 };

		constraints(c, &one, d, v, depth + 1);
		if (!one.len)
			type_str(c, &one, d, v, NULL, depth + 1);
		part(b, &n);
		sb_printf(b, "not: %s", sb_str(&one));
		free(one.p);
	}
	if ((v = get(s, "default")) != NULL) {
		part(b, &n);
		sb_puts(b, "default ");
		md_value(b, v, 1);
	}
	if ((str = get_str(s, "$ref")) != NULL) {
		const struct sdoc *to;
		const char *name;
		const cJSON *target = resolve(c, d, str, &to, &name);

		if (target && !is_object_schema(target)) {
			struct sb one = { 0 };

			constraints(c, &one, to, target, depth + 1);
			if (one.len) {
				part(b, &n);
				sb_puts(b, sb_str(&one));
			}
			free(one.p);
		}
	}
}

/* ---- rules: if/then/else ---- */

/* "`a.b` is `x`" for the conditions of an "if". */
static void describe_if(struct sb *b, const cJSON *s, const char *prefix,
	int *n)
{
	const cJSON *p, *v;

	cJSON_ArrayForEach(p, get_obj(s, "properties")) {
		struct sb name = { 0 };

		sb_printf(&name, "%s%s", prefix, p->string);
		if ((v = get(p, "const")) != NULL) {
			sb_puts(b, (*n)++ ? " and " : "");
			md_code(b, sb_str(&name), 0);
			sb_puts(b, " is ");
			md_value(b, v, 0);
		} else if (cJSON_IsArray(v = get(p, "enum"))) {
			const cJSON *e;
			int first = 1;

			sb_puts(b, (*n)++ ? " and " : "");
			md_code(b, sb_str(&name), 0);
			sb_puts(b, " is one of ");
			cJSON_ArrayForEach(e, v) {
				sb_puts(b, first ? "" : ", ");
				md_value(b, e, 0);
				first = 0;
			}
		} else if ((v = get(get(p, "not"), "const")) != NULL) {
			sb_puts(b, (*n)++ ? " and " : "");
			md_code(b, sb_str(&name), 0);
			sb_puts(b, " is not ");
			md_value(b, v, 0);
		} else if ((v = get(p, "contains")) != NULL &&
			   (get(v, "const") || get(v, "enum"))) {
			const cJSON *e = get(v, "const");
			int first = 1;

			sb_puts(b, (*n)++ ? " and " : "");
			md_code(b, sb_str(&name), 0);
			sb_puts(b, " contains ");
			if (e)
				md_value(b, e, 0);
			else
				cJSON_ArrayForEach(e, get(v, "enum")) {
					sb_puts(b, first ? "" : " or ");
					md_value(b, e, 0);
					first = 0;
				}
		} else if (get(p, "properties")) {
			sb_puts(&name, ".");
			describe_if(b, p, sb_str(&name), n);
		} else {
			sb_puts(b, (*n)++ ? " and " : "");
			md_code(b, sb_str(&name), 0);
			sb_puts(b, " matches its condition");
		}
		free(name.p);
	}
	if (*n == 0)
		cJSON_ArrayForEach(v, get(s, "required")) {
			if (!cJSON_IsString(v))
				continue;
			sb_puts(b, (*n)++ ? " and " : "");
			md_code(b, v->valuestring, 0);
			sb_puts(b, " is present");
		}
}

/* "`a` is required; `b` must be `true`" for a "then" or an "else". */
static void describe_then(struct ctx *c, struct sb *b, const struct sdoc *d,
	const cJSON *s, const char *prefix, int *n)
{
	const cJSON *p, *v;
	const char *ref;

	if ((ref = get_str(s, "$ref")) != NULL) {
		const struct sdoc *to;
		const char *name;

		sb_puts(b, (*n)++ ? "; " : "");
		if (resolve(c, d, ref, &to, &name) && name) {
			sb_puts(b, "see ");
			link_def(b, to, name);
		} else {
			sb_puts(b, "must match ");
			md_code(b, ref, 0);
		}
	}
	cJSON_ArrayForEach(v, get(s, "required")) {
		struct sb name = { 0 };

		if (!cJSON_IsString(v))
			continue;
		sb_printf(&name, "%s%s", prefix, v->valuestring);
		sb_puts(b, (*n)++ ? "; " : "");
		md_code(b, sb_str(&name), 0);
		sb_puts(b, " is required");
		free(name.p);
	}
	cJSON_ArrayForEach(p, get_obj(s, "properties")) {
		struct sb name = { 0 }, cons = { 0 };

		sb_printf(&name, "%s%s", prefix, p->string);
		if (get(p, "properties") || get(p, "required")) {
			sb_puts(&name, ".");
			describe_then(c, b, d, p, sb_str(&name), n);
		} else if ((v = get(p, "const")) != NULL) {
			sb_puts(b, (*n)++ ? "; " : "");
			md_code(b, sb_str(&name), 0);
			sb_puts(b, " must be ");
			md_value(b, v, 0);
		} else {
			constraints(c, &cons, d, p, 0);
			sb_puts(b, (*n)++ ? "; " : "");
			md_code(b, sb_str(&name), 0);
			sb_printf(b, " must match: %s", sb_str(&cons));
		}
		free(name.p);
		free(cons.p);
	}
}

/* One rule: its description, or what its if/then/else say. */
static void rule(struct ctx *c, struct sb *b, const struct sdoc *d,
	const cJSON *s)
{
	const char *desc = get_str(s, "description");
	int n = 0;

	sb_puts(b, "- ");
	if (desc) {
		md_text(b, desc, 0);
		sb_puts(b, "\n");
		return;
	}
	sb_puts(b, "When ");
	describe_if(b, get(s, "if"), "", &n);
	sb_puts(b, ": ");
	n = 0;
	describe_then(c, b, d, get(s, "then"), "", &n);
	if (get(s, "else")) {
		sb_puts(b, "; otherwise ");
		n = 0;
		describe_then(c, b, d, get(s, "else"), "", &n);
	}
	sb_puts(b, ".\n");
}

/* ---- objects: property tables ---- */

struct prop {
	const char *name;
	const cJSON *schema;
	const struct sdoc *doc; /* where it is defined */
};

struct props {
	struct prop *v;
	size_t n, cap;
	const char **req; /* required names */
	size_t nreq, capreq;
	const char **cond; /* names some rule requires */
	size_t ncond, capcond;
	int oom;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c = *cap ? *cap * 2 : 16;

	if (n < *cap)
		return 0;
	if (!(p = realloc(*v, c * size)))
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

static void add_name(struct props *ps, const char ***v, size_t *n,
	size_t *cap, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return;
	if (grow((void **)v, cap, *n, sizeof(**v)) < 0) {
		ps->oom = 1;
		return;
	}
	(*v)[(*n)++] = name;
}

static int has_name(const char *const *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

static void add_required(struct props *ps, const cJSON *req, int cond)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, req)
		if (cJSON_IsString(v)) {
			if (cond)
				add_name(ps, &ps->cond, &ps->ncond,
					&ps->capcond, v->valuestring);
			else
				add_name(ps, &ps->req, &ps->nreq, &ps->capreq,
					v->valuestring);
		}
}

/*
 * Gather the properties of an object schema: those of the definitions
 * its allOf refers to (first), then its own.  A property defined twice
 * keeps its first place and its last definition.
 */
static void collect(struct ctx *c, struct props *ps, const struct sdoc *d,
	const cJSON *s, int depth)
{
	const cJSON *a, *p;
	const char *ref;

	if (depth > MAX_DEPTH || !cJSON_IsObject(s))
		return;
	if ((ref = get_str(s, "$ref")) != NULL) {
		const struct sdoc *to;
		const char *name;
		const cJSON *t = resolve(c, d, ref, &to, &name);

		if (t)
			collect(c, ps, to, t, depth + 1);
	}
	cJSON_ArrayForEach(a, get(s, "allOf")) {
		if (get(a, "if")) {
			add_required(ps, get(get(a, "then"), "required"), 1);
			add_required(ps, get(get(a, "else"), "required"), 1);
		} else {
			collect(c, ps, d, a, depth + 1);
		}
	}
	if (get(s, "if")) {
		add_required(ps, get(get(s, "then"), "required"), 1);
		add_required(ps, get(get(s, "else"), "required"), 1);
	}
	add_required(ps, get(s, "required"), 0);
	cJSON_ArrayForEach(p, get_obj(s, "properties")) {
		size_t i;

		for (i = 0; i < ps->n; i++)
			if (strcmp(ps->v[i].name, p->string) == 0)
				break;
		if (i == ps->n) {
			if (grow((void **)&ps->v, &ps->cap, ps->n,
				    sizeof(*ps->v)) < 0) {
				ps->oom = 1;
				return;
			}
			ps->n++;
		}
		ps->v[i].name = p->string;
		ps->v[i].schema = p;
		ps->v[i].doc = d;
	}
}

static void props_free(struct props *ps)
{
	free(ps->v);
	free(ps->req);
	free(ps->cond);
}

/* The inline object a property's schema holds (itself, or its items). */
static const cJSON *inline_object(const cJSON *s)
{
	const cJSON *items = get(s, "items");
	const cJSON *ap = get(s, "additionalProperties");

	if (get(s, "$ref"))
		return NULL;
	if (is_object_schema(s))
		return s;
	if (cJSON_IsObject(items) && !get(items, "$ref") &&
	    is_object_schema(items))
		return items;
	if (cJSON_IsObject(ap) && !get(ap, "$ref") && is_object_schema(ap))
		return ap;
	return NULL;
}

static void inline_anchor(struct sb *b, const struct sdoc *d,
	const char *path)
{
	const char *s;

	sb_printf(b, "%s-prop-", d->stem);
	for (s = path; *s; s++) {
		if (*s == '*')
			sb_puts(b, "value");
		else if (*s != '[' && *s != ']')
			sb_putn(b, *s == '.' ? "-" : s, 1);
	}
}

/* The suffix a path takes inside the inline object of schema `s`. */
static const char *inline_suffix(const cJSON *s)
{
	if (is_object_schema(s))
		return "";
	if (get(s, "items"))
		return "[]";
	return ".*";
}

static void render_object(struct ctx *c, const struct sdoc *d,
	const cJSON *s, const char *path);

/* The description of a property, or of the definition it refers to. */
static const char *prop_description(struct ctx *c, const struct sdoc *d,
	const cJSON *s)
{
	const char *desc = get_str(s, "description"), *ref;

	if (!desc && (ref = get_str(s, "$ref")) != NULL) {
		const struct sdoc *to;
		const char *name;

		desc = get_str(resolve(c, d, ref, &to, &name),
			"description");
	}
	return desc;
}

/* The table of an object's properties, its rules, then nested objects. */
static void render_table(struct ctx *c, const struct sdoc *d,
	const cJSON *s, const char *path)
{
	struct props ps = { 0 };
	struct sb *b = &c->out;
	const cJSON *a, *ap, *up, *dr;
	size_t i;
	int nrules = 0, nincl = 0, conditional = 0;

	collect(c, &ps, d, s, 0);
	if (ps.oom)
		b->oom = 1;
	cJSON_ArrayForEach(a, get(s, "allOf")) {
		const char *ref = get_str(a, "$ref");
		const struct sdoc *to;
		const char *name;

		if (ref && resolve(c, d, ref, &to, &name) && name) {
			sb_puts(b, nincl++ ? " and " :
				"Includes the properties of ");
			link_def(b, to, name);
		}
	}
	if (nincl)
		sb_puts(b, ".\n\n");
	if (ps.n) {
		sb_puts(b, "| Property | Type | Required | Description "
			   "| Constraints |\n|---|---|---|---|---|\n");
	}
	for (i = 0; i < ps.n; i++) {
		const struct prop *pr = &ps.v[i];
		const cJSON *obj = inline_object(pr->schema);
		struct sb anchor = { 0 }, sub = { 0 };
		const char *desc = prop_description(c, pr->doc, pr->schema);

		if (!get_str(pr->schema, "description"))
			warn(c, pr->doc, "property %s%s%s has no description",
				path, *path ? "." : "", pr->name);
		sb_printf(&sub, "%s%s%s", path, *path ? "." : "", pr->name);
		if (obj) {
			sb_puts(&sub, inline_suffix(pr->schema));
			inline_anchor(&anchor, d, sb_str(&sub));
		}
		sb_puts(b, "| ");
		md_code(b, pr->name, 1);
		sb_puts(b, " | ");
		type_str(c, b, pr->doc, pr->schema, obj ? anchor.p : NULL, 0);
		sb_printf(b, " | %s | ",
			has_name(ps.req, ps.nreq, pr->name) ? "yes"
			: has_name(ps.cond, ps.ncond, pr->name) ? "see rules"
			: "no");
		md_text(b, desc ? desc : "", 1);
		sb_puts(b, " | ");
		if (!obj || obj != pr->schema)
			constraints(c, b, pr->doc, pr->schema, 0);
		sb_puts(b, " |\n");
		free(anchor.p);
		free(sub.p);
	}
	ap = get(s, "additionalProperties");
	up = get(s, "unevaluatedProperties");
	cJSON_ArrayForEach(a, get(s, "allOf"))
		conditional |= get(get(a, "then"), "$ref") != NULL ||
			       get(get(a, "else"), "$ref") != NULL;
	if (cJSON_IsFalse(ap))
		sb_puts(b, "\nNo other properties are allowed.\n");
	else if (cJSON_IsFalse(up))
		sb_puts(b, conditional ? "\nNo other properties are allowed, "
				"except those of the definitions the rules "
				"point to.\n"
			: "\nNo other properties are allowed.\n");
	else if (cJSON_IsObject(ap)) {
		sb_puts(b, "\nEach member is ");
		type_str(c, b, d, ap, NULL, 0);
		{
			struct sb cons = { 0 };

			constraints(c, &cons, d, ap, 0);
			if (cons.len)
				sb_printf(b, " (%s)", sb_str(&cons));
			free(cons.p);
		}
		sb_puts(b, ".\n");
	}
	/* rules: if/then in allOf, on the object itself, dependentRequired */
	cJSON_ArrayForEach(a, get(s, "allOf")) {
		if (!get(a, "if"))
			continue;
		sb_puts(b, nrules++ ? "" : "\nRules:\n\n");
		rule(c, b, d, a);
	}
	if (get(s, "if")) {
		sb_puts(b, nrules++ ? "" : "\nRules:\n\n");
		rule(c, b, d, s);
	}
	cJSON_ArrayForEach(dr, get_obj(s, "dependentRequired")) {
		const cJSON *v;
		int first = 1;

		sb_puts(b, nrules++ ? "" : "\nRules:\n\n");
		sb_puts(b, "- When ");
		md_code(b, dr->string, 0);
		sb_puts(b, " is present: ");
		cJSON_ArrayForEach(v, dr) {
			if (!cJSON_IsString(v))
				continue;
			sb_puts(b, first ? "" : ", ");
			md_code(b, v->valuestring, 0);
			first = 0;
		}
		sb_puts(b, " required.\n");
	}
	sb_puts(b, "\n");
	/* the inline objects, each in its own section */
	for (i = 0; i < ps.n; i++) {
		const cJSON *obj = inline_object(ps.v[i].schema);
		struct sb sub = { 0 };

		if (!obj || ps.v[i].doc != d)
			continue;
		sb_printf(&sub, "%s%s%s%s", path, *path ? "." : "",
			ps.v[i].name, inline_suffix(ps.v[i].schema));
		render_object(c, d, obj, sb_str(&sub));
		free(sub.p);
	}
	props_free(&ps);
}

/* A section for the inline object at `path` (credentials[], ips). */
static void render_object(struct ctx *c, const struct sdoc *d,
	const cJSON *s, const char *path)
{
	struct sb *b = &c->out;
	const char *desc = get_str(s, "description");

	sb_puts(b, "### <a id=\"");
	inline_anchor(b, d, path);
	sb_puts(b, "\"></a>");
	md_code(b, path, 0);
	sb_printf(b, " (%s)\n\n", d->base);
	if (desc) {
		md_text(b, desc, 0);
		sb_puts(b, "\n\n");
	}
	render_table(c, d, s, path);
}

/* ---- definitions ---- */

/* Scalar definitions in one table; object ones in their own sections. */
static void render_defs(struct ctx *c, const struct sdoc *d)
{
	const cJSON *defs = get_obj(d->root, "$defs"), *def;
	struct sb *b = &c->out;
	int scalars = 0;

	cJSON_ArrayForEach(def, defs) {
		const char *desc = get_str(def, "description");

		if (is_object_schema(def))
			continue;
		if (!scalars++)
			sb_printf(b, "### Definitions of %s\n\n"
				     "| Definition | Type | Description "
				     "| Constraints |\n|---|---|---|---|\n",
				d->base);
		if (!desc)
			warn(c, d, "definition %s has no description",
				def->string);
		sb_puts(b, "| <a id=\"");
		anchor_def(b, d, def->string);
		sb_puts(b, "\"></a>");
		md_code(b, def->string, 1);
		sb_puts(b, " | ");
		type_str(c, b, d, def, NULL, 0);
		sb_puts(b, " | ");
		md_text(b, desc ? desc : "", 1);
		sb_puts(b, " | ");
		constraints(c, b, d, def, 0);
		sb_puts(b, " |\n");
	}
	if (scalars)
		sb_puts(b, "\n");
	cJSON_ArrayForEach(def, defs) {
		const char *desc = get_str(def, "description");

		if (!is_object_schema(def))
			continue;
		if (!desc)
			warn(c, d, "definition %s has no description",
				def->string);
		sb_puts(b, "### <a id=\"");
		anchor_def(b, d, def->string);
		sb_puts(b, "\"></a>");
		md_code(b, def->string, 0);
		sb_printf(b, " (%s)\n\n", d->base);
		if (desc) {
			md_text(b, desc, 0);
			sb_puts(b, "\n\n");
		}
		render_table(c, d, def, def->string);
	}
}

/* One schema: heading, description, its properties, its definitions. */
static void render_schema(struct ctx *c, const struct sdoc *d)
{
	struct sb *b = &c->out;
	const char *title = get_str(d->root, "title");
	const char *desc = get_str(d->root, "description");
	const char *id = get_str(d->root, "$id");

	sb_printf(b, "## <a id=\"%s\"></a>", d->stem);
	md_code(b, d->base, 0);
	if (title) {
		sb_puts(b, ": ");
		md_text(b, title, 0);
	} else {
		warn(c, d, "the schema has no title");
	}
	sb_puts(b, "\n\n");
	if (id) {
		sb_puts(b, "Schema id: ");
		md_code(b, id, 0);
		sb_puts(b, "\n\n");
	}
	if (desc) {
		md_text(b, desc, 0);
		sb_puts(b, "\n\n");
	} else {
		warn(c, d, "the schema has no description");
	}
	if (!d->library)
		render_table(c, d, d->root, "");
	render_defs(c, d);
}

static int cmp_docs(const void *x, const void *y)
{
	const struct sdoc *a = x, *b = y;

	if (a->library != b->library)
		return a->library - b->library;
	return strcmp(a->base, b->base);
}

static void render(struct ctx *c, const char *title)
{
	struct sb *b = &c->out;
	size_t i;

	sb_puts(b, "<!-- Generated by `cspf schema docs` from ");
	for (i = 0; i < c->ndocs; i++)
		sb_printf(b, "%s%s", i ? ", " : "", c->docs[i].base);
	sb_puts(b, ". Do not edit: change the schemas and generate it "
		   "again. -->\n\n# ");
	md_text(b, title, 0);
	sb_puts(b, "\n\nThis reference is generated from JSON Schemas "
		   "(draft 2020-12) by `cspf schema docs`.\n\n");
	for (i = 0; i < c->ndocs; i++) {
		const char *t = get_str(c->docs[i].root, "title");

		sb_printf(b, "- [%s](#%s)", c->docs[i].base,
			c->docs[i].stem);
		if (t) {
			sb_puts(b, ": ");
			md_text(b, t, 0);
		}
		sb_puts(b, "\n");
	}
	sb_puts(b, "\n");
	for (i = 0; i < c->ndocs; i++)
		render_schema(c, &c->docs[i]);
	/* one newline at the end, not two */
	while (b->len > 1 && b->p[b->len - 1] == '\n' &&
	       b->p[b->len - 2] == '\n')
		b->p[--b->len] = '\0';
}

/* ---- the command ---- */

void cmd_schema_docs_help(FILE *f)
{
	fputs(
"usage: cspf schema docs [--title TEXT] [--out FILE] SCHEMA.json...\n"
"\n"
"Write a Markdown reference of JSON Schemas: each schema's title and\n"
"description, a table of its properties (type, required, description,\n"
"constraints), its if/then rules and its definitions. A $ref to a\n"
"definition in another schema given on the command line (such as\n"
"common.json#/$defs/email) becomes a link. The output does not depend on\n"
"the order of the operands.\n"
"\n"
"Options:\n"
"  -o, --out FILE     write to FILE (replaced whole) instead of stdout\n"
"  -t, --title TEXT   the document's title (default: Schema reference)\n"
"\n"
"Exit status: 0 written; 1 written, with warnings (a property or\n"
"definition without a description); 2 usage error or unreadable schema.\n",
		f);
}

/* Write `len` bytes to `path` through a temporary file and a rename. */
static int write_file(const char *path, const char *text, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 8);
	mode_t mask;
	FILE *f;
	int fd, ok;

	if (!tmp)
		return -1;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".XXXXXX", 8);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "cspf schema docs: cannot create a file "
			"beside '%s': %s\n", path, strerror(errno));
		free(tmp);
		return -1;
	}
	/* mkstemp() gives 0600; a document is as readable as any file */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || !(f = fdopen(fd, "w"))) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	ok = fwrite(text, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (ok)
		ok = rename(tmp, path) == 0;
	if (!ok) {
		fprintf(stderr, "cspf schema docs: cannot write '%s': %s\n",
			path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

int cmd_schema_docs(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "title", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cspf_json_options jopts = CSPF_JSON_OPTIONS_INIT;
	const char *out = NULL, *title = "Schema reference";
	struct ctx c;
	size_t i, j;
	int opt, rc = EXIT_CLEAN;

	memset(&c, 0, sizeof(c));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:t:h", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 't':
			title = optarg;
			break;
		case 'h':
			cmd_schema_docs_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("schema", "docs: unknown "
				"option; see 'cspf schema docs --help'");
		}
	}
	if (optind >= argc)
		return cmd_usage_error("schema", "docs: no schema given");
	c.ndocs = (size_t)(argc - optind);
	if (!(c.docs = calloc(c.ndocs, sizeof(*c.docs))))
		return EXIT_TROUBLE;
	for (i = 0; i < c.ndocs; i++) {
		struct sdoc *d = &c.docs[i];
		const char *slash;
		size_t blen;

		d->path = argv[optind + (int)i];
		slash = strrchr(d->path, '/');
		d->base = slash ? slash + 1 : d->path;
		blen = strlen(d->base);
		if (blen > 5 && strcmp(d->base + blen - 5, ".json") == 0)
			blen -= 5;
		if (!(d->stem = strndup(d->base, blen))) {
			rc = EXIT_TROUBLE;
			goto done;
		}
		if (cspf_json_load_file(&d->doc, d->path, &jopts) < 0) {
			cmd_print_error(NULL);
			rc = EXIT_TROUBLE;
			goto done;
		}
		d->root = cspf_json_doc_root(d->doc);
		if (!cJSON_IsObject(d->root)) {
			fprintf(stderr, "cspf schema docs: %s: a schema must "
				"be a JSON object\n", d->path);
			rc = EXIT_TROUBLE;
			goto done;
		}
		d->library = !get(d->root, "properties") &&
			     !get(d->root, "type") && !get(d->root, "allOf");
	}
	qsort(c.docs, c.ndocs, sizeof(*c.docs), cmp_docs);
	for (i = 0; i < c.ndocs; i++)
		for (j = i + 1; j < c.ndocs; j++)
			if (strcmp(c.docs[i].stem, c.docs[j].stem) == 0) {
				fprintf(stderr, "cspf schema docs: %s and %s "
					"have the same name\n",
					c.docs[i].path, c.docs[j].path);
				rc = EXIT_TROUBLE;
				goto done;
			}
	render(&c, title);
	if (c.out.oom) {
		fputs("cspf schema docs: out of memory\n", stderr);
		rc = EXIT_TROUBLE;
		goto done;
	}
	if (out) {
		if (write_file(out, sb_str(&c.out), c.out.len) < 0) {
			rc = EXIT_TROUBLE;
			goto done;
		}
	} else if (fwrite(sb_str(&c.out), 1, c.out.len, stdout) !=
			   c.out.len ||
		   fflush(stdout) != 0) {
		fprintf(stderr, "cspf schema docs: cannot write: %s\n",
			strerror(errno));
		rc = EXIT_TROUBLE;
		goto done;
	}
	if (c.warnings)
		rc = EXIT_FINDINGS;
done:
	for (i = 0; i < c.ndocs; i++) {
		free(c.docs[i].stem);
		cspf_json_doc_free(c.docs[i].doc);
	}
	free(c.docs);
	free(c.out.p);
	return rc;
}
