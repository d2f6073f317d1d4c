/*
 * Compiling a schema: every schema object becomes a sch_node holding its
 * keywords in evaluation order, with $ref targets resolved to nodes once,
 * regular expressions compiled once, and each keyword's absolute location
 * computed once for error reports.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_private.h"
#include "number.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/uri.h"

struct cstate {
	cspf_schema *schema;
	cspf_schema_set *set;
	sch_resource **touched; /* resources with compiled nodes */
	size_t ntouched, atouched;
	cspf_map touched_map;
};

static sch_node *compile_node(struct cstate *cs, const cJSON *json);

static void *grow(void *arr, size_t *alloc, size_t n, size_t elem)
{
	size_t a;
	void *p;

	if (n < *alloc)
		return arr;
	a = *alloc ? *alloc * 2 : 8;
	p = realloc(arr, a * elem);
	if (p)
		*alloc = a;
	return p;
}

/* The display form of a location, for errors: "file#/pointer". */
static const char *where(const sch_node *n)
{
	return n->loc;
}

static char *kw_loc(const sch_node *n, const char *kw)
{
	cspf_buf b = CSPF_BUF_INIT;

	cspf_buf_puts(&b, n->loc);
	cspf_buf_put_pointer_token(&b, kw, strlen(kw));
	return cspf_buf_detach(&b);
}

/* The JSON pointer of keyword `kw` of `n` within its document. */
static void kw_pointer(char *out, size_t size, const sch_node *n,
	const char *kw)
{
	const char *hash = strchr(n->loc, '#');

	snprintf(out, size, "%s/%s", hash ? hash + 1 : "", kw);
}

/*
 * Refuse the schema because of keyword `kw` of `n`: `what` says why.
 * The message of an error raised before (`detail`) is copied first, as
 * raising a new error overwrites it.
 */
static int refuse(int code, const sch_node *n, const char *kw,
	const char *what, const char *detail)
{
	char ptr[512], copy[700];

	kw_pointer(ptr, sizeof(ptr), n, kw);
	snprintf(copy, sizeof(copy), "%s", detail ? detail : "");
	return cspf_error_set_at(code, CSPF_ERRCLASS_SCHEMA,
		n->res->display, 0, 0, ptr, "invalid schema: \"%s\" at %s %s%s",
		kw, *ptr ? ptr : "the root", what, copy);
}

static int bad_value(const sch_node *n, const char *kw, const char *what)
{
	char w[300];

	snprintf(w, sizeof(w), "must be %s", what);
	return refuse(CSPF_EINVALID, n, kw, w, NULL);
}

/* ---- vocabularies ---- */

static const struct {
	const char *uri;
	unsigned bit;
} known_vocabs[] = {
	{ "https://json-schema.org/draft/2020-12/vocab/core", 0 },
	{ "https://json-schema.org/draft/2020-12/vocab/applicator",
		SCH_VOCAB_APPLICATOR },
	{ "https://json-schema.org/draft/2020-12/vocab/unevaluated",
		SCH_VOCAB_UNEVALUATED },
	{ "https://json-schema.org/draft/2020-12/vocab/validation",
		SCH_VOCAB_VALIDATION },
	{ "https://json-schema.org/draft/2020-12/vocab/meta-data", 0 },
	{ "https://json-schema.org/draft/2020-12/vocab/format-annotation", 0 },
	{ "https://json-schema.org/draft/2020-12/vocab/format-assertion",
		SCH_VOCAB_FORMAT_ASSERTION },
	{ "https://json-schema.org/draft/2020-12/vocab/content",
		SCH_VOCAB_CONTENT },
};

static const char *const old_dialects[] = {
	"http://json-schema.org/draft-03/schema",
	"https://json-schema.org/draft/2019-09/schema",
	NULL,
};

static int is_2020_12(const char *d)
{
	size_t n = strlen(SCH_DIALECT_2020_12);

	return strncmp(d, SCH_DIALECT_2020_12, n) == 0 &&
		(d[n] == '\0' || (d[n] == '#' && d[n + 1] == '\0'));
}

/* The vocabularies in force for `res`, or -1 with the error raised. */
static long vocab_of(struct cstate *cs, const char *dialect,
	const char *display, int depth)
{
	const char *const *old;
	sch_resource *meta;
	const cJSON *voc, *v;
	char *nofrag;
	const char *frag;
	unsigned bits = 0;
	size_t i;

	if (!dialect || is_2020_12(dialect))
		return SCH_VOCAB_ALL_2020_12;
	if (sch_draft_of(dialect, 2020) < 2020)
		return SCH_VOCAB_APPLICATOR | SCH_VOCAB_VALIDATION |
			SCH_VOCAB_CONTENT;
	for (old = old_dialects; *old; old++) {
		if (strncmp(dialect, *old, strlen(*old)) == 0)
			return cspf_error_set_at(CSPF_EUNSUPPORTED,
				CSPF_ERRCLASS_SCHEMA, display, 0, 0, "/$schema",
				"unsupported \"$schema\" dialect \"%s\": cspf "
				"validates JSON Schema draft 2020-12 (\"%s\") "
				"and drafts 7, 6 and 4; update the schema's "
				"\"$schema\"", dialect, SCH_DIALECT_2020_12);
	}
	nofrag = cspf_uri_without_fragment(dialect, &frag);
	if (!nofrag)
		return cspf_error_set_oom();
	meta = sch_set_resource(cs->set, nofrag);
	free(nofrag);
	if (!meta || depth > 8)
		return cspf_error_set_at(CSPF_EUNSUPPORTED,
			CSPF_ERRCLASS_SCHEMA, display, 0, 0, "/$schema",
			"unknown \"$schema\" dialect \"%s\": it is neither "
			"draft 2020-12 nor a meta-schema given with --ref",
			dialect);
	voc = cJSON_GetObjectItemCaseSensitive(meta->root, "$vocabulary");
	if (!cJSON_IsObject(voc))
		return vocab_of(cs, meta->dialect, display, depth + 1);
	cJSON_ArrayForEach(v, voc) {
		for (i = 0; i < sizeof(known_vocabs) / sizeof(known_vocabs[0]);
		     i++) {
			if (strcmp(v->string, known_vocabs[i].uri) == 0)
				break;
		}
		if (i < sizeof(known_vocabs) / sizeof(known_vocabs[0]))
			bits |= known_vocabs[i].bit;
		else if (cJSON_IsTrue(v))
			return cspf_error_set_at(CSPF_EUNSUPPORTED,
				CSPF_ERRCLASS_SCHEMA, display, 0, 0,
				"/$schema",
				"the meta-schema \"%s\" requires the vocabulary "
				"\"%s\", which cspf does not know", dialect,
				v->string);
	}
	return bits;
}

/* ---- references ---- */

/*
 * Resolve `ref` against `base` to a schema node: its JSON and, when the
 * fragment is a plain name, that name (lent from `scratch`'s string).
 */
static const cJSON *resolve_ref(struct cstate *cs, const sch_node *from,
	const char *kw, const char *ref, char **anchor_out)
{
	char *abs = cspf_uri_resolve(from->res->uri, ref), *nofrag = NULL;
	char *decoded = NULL;
	const char *frag = NULL;
	sch_resource *res;
	const cJSON *target = NULL;

	*anchor_out = NULL;
	if (!abs) {
		cspf_error_set_at(CSPF_EINVALID, CSPF_ERRCLASS_SCHEMA,
			from->res->display, 0, 0, NULL,
			"invalid schema: \"%s\" \"%s\" at %s is not a valid "
			"URI reference", kw, ref, where(from));
		return NULL;
	}
	nofrag = cspf_uri_without_fragment(abs, &frag);
	if (!nofrag) {
		cspf_error_set_oom();
		goto out;
	}
	res = sch_set_resource(cs->set, nofrag);
	if (!res) {
		cspf_error_set_at(CSPF_ENOTFOUND, CSPF_ERRCLASS_SCHEMA,
			from->res->display, 0, 0, NULL,
			"cannot resolve \"%s\": \"%s\" at %s: no schema with "
			"the URI \"%s\" is loaded (cspf never fetches "
			"schemas; give it with --ref FILE)", kw, ref,
			where(from), nofrag);
		goto out;
	}
	if (!frag || !*frag) {
		target = res->root;
	} else if (frag[0] == '/') {
		decoded = cspf_uri_percent_decode(frag, strlen(frag));
		target = decoded ? cspf_json_pointer_get(res->root, decoded) :
			NULL;
		if (target && !cspf_map_get(&cs->set->ctx, target, 0) &&
		    !sch_set_ctx(cs->set, target, res, decoded)) {
			cspf_error_set_oom();
			target = NULL;
			goto out;
		}
	} else {
		decoded = cspf_uri_percent_decode(frag, strlen(frag));
		target = decoded ? cspf_map_gets(&res->anchors, decoded) : NULL;
		if (target) {
			*anchor_out = decoded;
			decoded = NULL;
		}
	}
	if (!target)
		cspf_error_set_at(CSPF_ENOTFOUND, CSPF_ERRCLASS_SCHEMA,
			from->res->display, 0, 0, NULL,
			"cannot resolve \"%s\": \"%s\" at %s: \"%s\" has no "
			"%s \"%s\"", kw, ref, where(from), nofrag,
			frag[0] == '/' ? "location" : "anchor", frag);
out:
	free(decoded);
	free(nofrag);
	free(abs);
	return target;
}

/* ---- keyword values ---- */

static int get_count(const sch_node *n, const cJSON *v, size_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    !cspf_number_is_integer(v))
		return bad_value(n, v->string, "a non-negative integer");
	*out = v->valuedouble >= 1.8e19 ? SIZE_MAX : (size_t)v->valuedouble;
	return 0;
}

static int type_bit(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} types[] = {
		{ "null", T_NULL }, { "boolean", T_BOOLEAN },
		{ "object", T_OBJECT }, { "array", T_ARRAY },
		{ "number", T_NUMBER }, { "string", T_STRING },
		{ "integer", T_INTEGER },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(s, types[i].name) == 0) {
			*out |= types[i].bit;
			return 0;
		}
	}
	return -1;
}

static sch_kw *add_kw(sch_node *n, size_t *alloc, enum sch_kw_type type,
	const char *name)
{
	sch_kw *k;
	sch_kw *p = grow(n->kws, alloc, n->nkws, sizeof(*n->kws));

	if (!p)
		return NULL;
	n->kws = p;
	k = &n->kws[n->nkws];
	memset(k, 0, sizeof(*k));
	k->type = type;
	k->loc = kw_loc(n, name);
	if (!k->loc)
		return NULL;
	n->nkws++;
	return k;
}

static int compile_regex(const sch_node *n, const char *kw, const cJSON *s,
	cspf_regex **out)
{
	int r = cspf_regex_compile(out, s->valuestring, cspf_json_strlen(s));

	if (r < 0)
		return refuse(r, n, kw, "is not a valid ECMA-262 regular "
			"expression: ", cspf_error_last()->message);
	return 0;
}

static sch_node *sub(struct cstate *cs, const cJSON *json)
{
	return compile_node(cs, json);
}

static int compile_list(struct cstate *cs, sch_node *n, const cJSON *v,
	sch_node ***out, size_t *nout, int nonempty)
{
	const cJSON *item;
	size_t i = 0, cnt;

	if (!cJSON_IsArray(v) || (nonempty && !cJSON_GetArraySize(v)))
		return bad_value(n, v->string, nonempty ?
			"a non-empty array of schemas" : "an array of schemas");
	cnt = (size_t)cJSON_GetArraySize(v);
	*out = calloc(cnt ? cnt : 1, sizeof(**out));
	if (!*out)
		return cspf_error_set_oom();
	cJSON_ArrayForEach(item, v) {
		if (!((*out)[i++] = sub(cs, item)))
			return -1;
	}
	*nout = cnt;
	return 0;
}

#define KW(name) cJSON_GetObjectItemCaseSensitive(n->json, name)
#define IS_SCHEMA(v) (cJSON_IsObject(v) || cJSON_IsBool(v))
#define NEED_SCHEMA(v) \
	do { \
		if (!IS_SCHEMA(v)) \
			return bad_value(n, (v)->string, \
				"a schema (an object or a boolean)"); \
	} while (0)

static int compile_props(struct cstate *cs, sch_node *n, size_t *alloc)
{
	const cJSON *props = KW("properties"), *pats = KW("patternProperties");
	const cJSON *add = KW("additionalProperties"), *item;
	sch_kw *k;
	size_t i;

	if (!props && !pats && !add)
		return 0;
	if (!(k = add_kw(n, alloc, KW_PROPERTIES, "properties")))
		return cspf_error_set_oom();
	if (props) {
		if (!cJSON_IsObject(props))
			return bad_value(n, "properties",
				"an object of schemas");
		i = (size_t)cJSON_GetArraySize(props);
		k->u.properties.props = calloc(i ? i : 1, sizeof(sch_prop));
		if (!k->u.properties.props)
			return cspf_error_set_oom();
		if (i > 8) {
			k->u.properties.index = calloc(1, sizeof(cspf_map));
			if (!k->u.properties.index)
				return cspf_error_set_oom();
			k->u.properties.index->strings = 1;
		}
		k->u.properties.props_loc = kw_loc(n, "properties");
		i = 0;
		cJSON_ArrayForEach(item, props) {
			sch_prop *p = &k->u.properties.props[i++];
			cspf_buf b = CSPF_BUF_INIT;

			k->u.properties.nprops = i;
			NEED_SCHEMA(item);
			p->name = item->string;
			p->len = strlen(item->string);
			cspf_buf_puts(&b, k->u.properties.props_loc);
			cspf_buf_put_pointer_token(&b, p->name, p->len);
			if (!(p->loc = cspf_buf_detach(&b)))
				return cspf_error_set_oom();
			if (!(p->schema = sub(cs, item)))
				return -1;
			if (k->u.properties.index &&
			    cspf_map_put(k->u.properties.index, p->name, p->len,
				    p) < 0)
				return cspf_error_set_oom();
		}
	}
	if (pats) {
		if (!cJSON_IsObject(pats))
			return bad_value(n, "patternProperties",
				"an object of schemas");
		i = (size_t)cJSON_GetArraySize(pats);
		k->u.properties.patterns = calloc(i ? i : 1,
			sizeof(sch_pattern));
		if (!k->u.properties.patterns)
			return cspf_error_set_oom();
		k->u.properties.pat_loc = kw_loc(n, "patternProperties");
		i = 0;
		cJSON_ArrayForEach(item, pats) {
			sch_pattern *p = &k->u.properties.patterns[i++];
			cspf_buf b = CSPF_BUF_INIT;
			int r;

			k->u.properties.npatterns = i;
			NEED_SCHEMA(item);
			p->source = item->string;
			r = cspf_regex_compile(&p->re, item->string,
				strlen(item->string));
			if (r < 0)
				return refuse(r, n, "patternProperties",
					"has a key that is not a valid "
					"ECMA-262 regular expression: ",
					cspf_error_last()->message);
			cspf_buf_puts(&b, k->u.properties.pat_loc);
			cspf_buf_put_pointer_token(&b, p->source,
				strlen(p->source));
			if (!(p->loc = cspf_buf_detach(&b)))
				return cspf_error_set_oom();
			if (!(p->schema = sub(cs, item)))
				return -1;
		}
	}
	if (add) {
		NEED_SCHEMA(add);
		k->u.properties.add_loc = kw_loc(n, "additionalProperties");
		if (!k->u.properties.add_loc)
			return cspf_error_set_oom();
		if (!(k->u.properties.additional = sub(cs, add)))
			return -1;
	}
	return 0;
}

/*
 * Drafts 4 to 7: "items" is one schema for every item, or an array of
 * schemas by position with "additionalItems" for the rest.
 */
static int compile_old_items(struct cstate *cs, sch_node *n, size_t *alloc)
{
	const cJSON *v = KW("items"), *add = KW("additionalItems");
	sch_kw *k;

	if (!v)
		return 0;
	if (!(k = add_kw(n, alloc, KW_ITEMS, "items")))
		return cspf_error_set_oom();
	if (cJSON_IsArray(v)) {
		k->u.items.prefix_loc = kw_loc(n, "items");
		if (compile_list(cs, n, v, &k->u.items.prefix,
			    &k->u.items.nprefix, 0) < 0)
			return -1;
		if (add) {
			NEED_SCHEMA(add);
			k->u.items.items_loc = kw_loc(n, "additionalItems");
			if (!(k->u.items.items = sub(cs, add)))
				return -1;
		}
		return 0;
	}
	NEED_SCHEMA(v);
	k->u.items.items_loc = kw_loc(n, "items");
	if (!(k->u.items.items = sub(cs, v)))
		return -1;
	return 0;
}

/*
 * Drafts 4 to 7: "dependencies" maps a property to the names it requires
 * or to a schema; the two halves become 2020-12's keywords.
 */
static int compile_dependencies(struct cstate *cs, sch_node *n, size_t *alloc)
{
	const cJSON *v = KW("dependencies"), *item;
	sch_kw *k;
	size_t i = 0;

	if (!v)
		return 0;
	if (!cJSON_IsObject(v))
		return bad_value(n, "dependencies", "an object");
	if (!(k = add_kw(n, alloc, KW_DEPREQUIRED, "dependencies")))
		return cspf_error_set_oom();
	k->u.depreq.map = v;
	if (!(k = add_kw(n, alloc, KW_DEPSCHEMAS, "dependencies")))
		return cspf_error_set_oom();
	k->u.depschemas.deps = calloc((size_t)cJSON_GetArraySize(v) + 1,
		sizeof(sch_prop));
	if (!k->u.depschemas.deps)
		return cspf_error_set_oom();
	cJSON_ArrayForEach(item, v) {
		sch_prop *p;
		if (cJSON_IsArray(item))
			continue;
		NEED_SCHEMA(item);
		p = &k->u.depschemas.deps[i++];
		k->u.depschemas.ndeps = i;
		p->name = item->string;
		p->len = strlen(item->string);
		if (!(p->schema = sub(cs, item)))
			return -1;
	}
	return 0;
}

static int compile_applicators(struct cstate *cs, sch_node *n, size_t *alloc)
{
	const cJSON *v, *item;
	sch_kw *k;
	size_t i;

	if (compile_props(cs, n, alloc) < 0)
		return -1;
	if (n->res->draft < 2020) {
		if (compile_old_items(cs, n, alloc) < 0)
			return -1;
	} else if ((v = KW("prefixItems")) || KW("items")) {
		if (!(k = add_kw(n, alloc, KW_ITEMS, v ? "prefixItems" :
				 "items")))
			return cspf_error_set_oom();
		if (v) {
			k->u.items.prefix_loc = kw_loc(n, "prefixItems");
			if (compile_list(cs, n, v, &k->u.items.prefix,
				    &k->u.items.nprefix, 1) < 0)
				return -1;
		}
		if ((v = KW("items"))) {
			if (cJSON_IsArray(v))
				return bad_value(n, "items", "a schema (in "
					"draft 2020-12 the array form of "
					"\"items\" is \"prefixItems\")");
			NEED_SCHEMA(v);
			k->u.items.items_loc = kw_loc(n, "items");
			if (!(k->u.items.items = sub(cs, v)))
				return -1;
		}
	}
	if ((v = KW("contains"))) {
		const cJSON *mn = KW("minContains"), *mx = KW("maxContains");
		NEED_SCHEMA(v);
		if (!(k = add_kw(n, alloc, KW_CONTAINS, "contains")))
			return cspf_error_set_oom();
		k->u.contains.min = 1;
		k->u.contains.max = SIZE_MAX;
		if (mn && get_count(n, mn, &k->u.contains.min) < 0)
			return -1;
		if (mx && get_count(n, mx, &k->u.contains.max) < 0)
			return -1;
		k->u.contains.min_loc = kw_loc(n, "minContains");
		k->u.contains.max_loc = kw_loc(n, "maxContains");
		if (!(k->u.contains.schema = sub(cs, v)))
			return -1;
	}
	if ((v = KW("propertyNames"))) {
		NEED_SCHEMA(v);
		if (!(k = add_kw(n, alloc, KW_PROPNAMES, "propertyNames")))
			return cspf_error_set_oom();
		if (!(k->u.sub = sub(cs, v)))
			return -1;
	}
	if ((v = KW("dependentSchemas"))) {
		if (!cJSON_IsObject(v))
			return bad_value(n, "dependentSchemas",
				"an object of schemas");
		if (!(k = add_kw(n, alloc, KW_DEPSCHEMAS, "dependentSchemas")))
			return cspf_error_set_oom();
		i = (size_t)cJSON_GetArraySize(v);
		k->u.depschemas.deps = calloc(i ? i : 1, sizeof(sch_prop));
		if (!k->u.depschemas.deps)
			return cspf_error_set_oom();
		i = 0;
		cJSON_ArrayForEach(item, v) {
			sch_prop *p = &k->u.depschemas.deps[i++];
			k->u.depschemas.ndeps = i;
			NEED_SCHEMA(item);
			p->name = item->string;
			p->len = strlen(item->string);
			if (!(p->schema = sub(cs, item)))
				return -1;
		}
	}
	if ((v = KW("if"))) {
		const cJSON *t = KW("then"), *e = KW("else");
		NEED_SCHEMA(v);
		if (!(k = add_kw(n, alloc, KW_IF, "if")))
			return cspf_error_set_oom();
		if (!(k->u.cond.if_ = sub(cs, v)))
			return -1;
		if (t) {
			NEED_SCHEMA(t);
			k->u.cond.then_loc = kw_loc(n, "then");
			if (!(k->u.cond.then_ = sub(cs, t)))
				return -1;
		}
		if (e) {
			NEED_SCHEMA(e);
			k->u.cond.else_loc = kw_loc(n, "else");
			if (!(k->u.cond.else_ = sub(cs, e)))
				return -1;
		}
	}
	{
		static const struct {
			const char *name;
			enum sch_kw_type type;
		} lists[] = { { "allOf", KW_ALLOF }, { "anyOf", KW_ANYOF },
			{ "oneOf", KW_ONEOF } };
		for (i = 0; i < 3; i++) {
			if (!(v = KW(lists[i].name)))
				continue;
			if (!(k = add_kw(n, alloc, lists[i].type,
				      lists[i].name)))
				return cspf_error_set_oom();
			if (compile_list(cs, n, v, &k->u.list.subs,
				    &k->u.list.nsubs, 1) < 0)
				return -1;
		}
	}
	if ((v = KW("not"))) {
		NEED_SCHEMA(v);
		if (!(k = add_kw(n, alloc, KW_NOT, "not")))
			return cspf_error_set_oom();
		if (!(k->u.sub = sub(cs, v)))
			return -1;
	}
	return 0;
}

static int compile_validation(struct cstate *cs, sch_node *n, size_t *alloc,
	long vocab)
{
	static const struct {
		const char *name;
		enum sch_kw_type type;
	} counts[] = {
		{ "maxLength", KW_MAXLENGTH }, { "minLength", KW_MINLENGTH },
		{ "maxItems", KW_MAXITEMS }, { "minItems", KW_MINITEMS },
		{ "maxProperties", KW_MAXPROPS },
		{ "minProperties", KW_MINPROPS },
	}, limits[] = {
		{ "multipleOf", KW_MULTIPLEOF }, { "maximum", KW_MAXIMUM },
		{ "exclusiveMaximum", KW_EXMAXIMUM },
		{ "minimum", KW_MINIMUM },
		{ "exclusiveMinimum", KW_EXMINIMUM },
	};
	const cJSON *v, *item;
	sch_kw *k;
	size_t i;

	if ((v = KW("type"))) {
		unsigned bits = 0;
		if (cJSON_IsString(v)) {
			if (type_bit(v->valuestring, &bits) < 0)
				return bad_value(n, "type", "one of null, "
					"boolean, object, array, number, "
					"string, integer");
		} else if (cJSON_IsArray(v)) {
			cJSON_ArrayForEach(item, v) {
				if (!cJSON_IsString(item) ||
				    type_bit(item->valuestring, &bits) < 0)
					return bad_value(n, "type",
						"a type name or an array of "
						"them");
			}
		} else {
			return bad_value(n, "type",
				"a type name or an array of them");
		}
		if (!(k = add_kw(n, alloc, KW_TYPE, "type")))
			return cspf_error_set_oom();
		k->u.types = bits;
	}
	if ((v = KW("const"))) {
		if (!(k = add_kw(n, alloc, KW_CONST, "const")))
			return cspf_error_set_oom();
		k->u.value = v;
	}
	if ((v = KW("enum"))) {
		if (!cJSON_IsArray(v))
			return bad_value(n, "enum", "an array");
		if (!(k = add_kw(n, alloc, KW_ENUM, "enum")))
			return cspf_error_set_oom();
		k->u.value = v;
	}
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		enum sch_kw_type type = limits[i].type;
		if (!(v = KW(limits[i].name)))
			continue;
		if (n->res->draft == 4) {
			/* Draft 4: exclusiveMaximum is a boolean that makes
			 * maximum exclusive (and likewise for minimum). */
			const cJSON *ex;
			if (type == KW_EXMAXIMUM || type == KW_EXMINIMUM) {
				if (!cJSON_IsBool(v))
					return bad_value(n, limits[i].name,
						"a boolean");
				continue;
			}
			ex = KW(type == KW_MAXIMUM ? "exclusiveMaximum" :
				"exclusiveMinimum");
			if (type != KW_MULTIPLEOF && cJSON_IsTrue(ex))
				type = type == KW_MAXIMUM ? KW_EXMAXIMUM :
					KW_EXMINIMUM;
		}
		if (!cJSON_IsNumber(v) || (limits[i].type == KW_MULTIPLEOF &&
					   !(v->valuedouble > 0)))
			return bad_value(n, limits[i].name,
				limits[i].type == KW_MULTIPLEOF ?
				"a number greater than 0" : "a number");
		if (!(k = add_kw(n, alloc, type, limits[i].name)))
			return cspf_error_set_oom();
		k->u.value = v;
	}
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (!(v = KW(counts[i].name)))
			continue;
		if (!(k = add_kw(n, alloc, counts[i].type, counts[i].name)))
			return cspf_error_set_oom();
		if (get_count(n, v, &k->u.count) < 0)
			return -1;
	}
	if ((v = KW("pattern"))) {
		if (!cJSON_IsString(v))
			return bad_value(n, "pattern", "a string");
		if (!(k = add_kw(n, alloc, KW_PATTERN, "pattern")))
			return cspf_error_set_oom();
		k->u.pattern.source = v->valuestring;
		if (compile_regex(n, "pattern", v, &k->u.pattern.re) < 0)
			return -1;
	}
	if ((v = KW("uniqueItems"))) {
		if (!cJSON_IsBool(v))
			return bad_value(n, "uniqueItems", "a boolean");
		if (cJSON_IsTrue(v) &&
		    !(k = add_kw(n, alloc, KW_UNIQUEITEMS, "uniqueItems")))
			return cspf_error_set_oom();
	}
	if ((v = KW("required"))) {
		if (!cJSON_IsArray(v))
			return bad_value(n, "required",
				"an array of property names");
		cJSON_ArrayForEach(item, v) {
			if (!cJSON_IsString(item))
				return bad_value(n, "required",
					"an array of property names");
		}
		if (!(k = add_kw(n, alloc, KW_REQUIRED, "required")))
			return cspf_error_set_oom();
		k->u.required.names = v;
	}
	if ((v = KW("dependentRequired"))) {
		if (!cJSON_IsObject(v))
			return bad_value(n, "dependentRequired",
				"an object of arrays of property names");
		if (!(k = add_kw(n, alloc, KW_DEPREQUIRED,
			      "dependentRequired")))
			return cspf_error_set_oom();
		k->u.depreq.map = v;
	}
	(void)vocab;
	return 0;
}

static int compile_object(struct cstate *cs, sch_node *n)
{
	const cJSON *v;
	long vocab;
	size_t alloc = 0;
	sch_kw *k;
	char *anchor;

	vocab = vocab_of(cs, n->res->dialect, n->res->display, 0);
	if (vocab < 0)
		return -1;
	if ((v = KW("$ref"))) {
		const cJSON *t;
		if (!cJSON_IsString(v))
			return bad_value(n, "$ref", "a string");
		if (!(t = resolve_ref(cs, n, "$ref", v->valuestring, &anchor)))
			return -1;
		free(anchor);
		if (!(k = add_kw(n, &alloc, KW_REF, "$ref")))
			return cspf_error_set_oom();
		if (!(k->u.sub = sub(cs, t)))
			return -1;
		/* Up to draft 7, $ref makes its siblings void. */
		if (n->res->draft < 2020)
			return 0;
	}
	if (n->res->draft == 2020 && (v = KW("$dynamicRef"))) {
		const cJSON *t, *da;
		if (!cJSON_IsString(v))
			return bad_value(n, "$dynamicRef", "a string");
		if (!(t = resolve_ref(cs, n, "$dynamicRef", v->valuestring,
			      &anchor)))
			return -1;
		if (!(k = add_kw(n, &alloc, KW_DYNREF, "$dynamicRef"))) {
			free(anchor);
			return cspf_error_set_oom();
		}
		/* Dynamic only when the static target is a $dynamicAnchor
		 * of that name; otherwise it behaves as $ref. */
		da = cJSON_IsObject(t) ? cJSON_GetObjectItemCaseSensitive(t,
			"$dynamicAnchor") : NULL;
		if (anchor && cJSON_IsString(da) &&
		    strcmp(da->valuestring, anchor) == 0)
			k->u.dynref.anchor = da->valuestring;
		free(anchor);
		if (!(k->u.dynref.target = sub(cs, t)))
			return -1;
	}
	if ((vocab & SCH_VOCAB_VALIDATION) &&
	    compile_validation(cs, n, &alloc, vocab) < 0)
		return -1;
	if ((v = KW("format")) && cJSON_IsString(v) &&
	    (cs->schema->opts.format_assert ||
	     (vocab & SCH_VOCAB_FORMAT_ASSERTION))) {
		cspf_format_fn fn = cspf_format_lookup(v->valuestring);
		if (fn) {
			if (!(k = add_kw(n, &alloc, KW_FORMAT, "format")))
				return cspf_error_set_oom();
			k->u.format.fn = fn;
			k->u.format.name = v->valuestring;
		}
	}
	if ((vocab & SCH_VOCAB_APPLICATOR) &&
	    compile_applicators(cs, n, &alloc) < 0)
		return -1;
	if (n->res->draft < 2020 && compile_dependencies(cs, n, &alloc) < 0)
		return -1;
	if (vocab & SCH_VOCAB_UNEVALUATED) {
		if ((v = KW("unevaluatedItems"))) {
			NEED_SCHEMA(v);
			if (!(k = add_kw(n, &alloc, KW_UNEVAL_ITEMS,
				      "unevaluatedItems")))
				return cspf_error_set_oom();
			if (!(k->u.sub = sub(cs, v)))
				return -1;
			n->has_uneval = true;
		}
		if ((v = KW("unevaluatedProperties"))) {
			NEED_SCHEMA(v);
			if (!(k = add_kw(n, &alloc, KW_UNEVAL_PROPS,
				      "unevaluatedProperties")))
				return cspf_error_set_oom();
			if (!(k->u.sub = sub(cs, v)))
				return -1;
			n->has_uneval = true;
		}
	}
	return 0;
}

static int touch(struct cstate *cs, sch_resource *res)
{
	sch_resource **p;

	if (cspf_map_get(&cs->touched_map, res, 0))
		return 0;
	p = grow(cs->touched, &cs->atouched, cs->ntouched, sizeof(*p));
	if (!p || cspf_map_put(&cs->touched_map, res, 0, res) < 0)
		return cspf_error_set_oom();
	cs->touched = p;
	cs->touched[cs->ntouched++] = res;
	return 0;
}

static sch_node *compile_node(struct cstate *cs, const cJSON *json)
{
	cspf_schema *s = cs->schema;
	sch_node *n = cspf_map_get(&s->nodes, json, 0), **list;
	sch_ctx *ctx;
	cspf_buf b = CSPF_BUF_INIT;

	if (n)
		return n;
	ctx = cspf_map_get(&cs->set->ctx, json, 0);
	if (!ctx) {
		cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_SCHEMA,
			"invalid schema: a reference leads to a value that "
			"is not a schema");
		return NULL;
	}
	if (!IS_SCHEMA(json)) {
		cspf_error_set_at(CSPF_EINVALID, CSPF_ERRCLASS_SCHEMA,
			ctx->res->display, 0, 0, ctx->pointer,
			"invalid schema: %s#%s must be an object or a boolean",
			ctx->res->uri, ctx->pointer);
		return NULL;
	}
	list = grow(s->node_list, &s->anodes, s->nnodes, sizeof(*list));
	if (!list) {
		cspf_error_set_oom();
		return NULL;
	}
	s->node_list = list;
	n = calloc(1, sizeof(*n));
	if (!n) {
		cspf_error_set_oom();
		return NULL;
	}
	s->node_list[s->nnodes++] = n;
	n->json = json;
	n->res = ctx->res;
	cspf_buf_puts(&b, ctx->res->uri);
	cspf_buf_putc(&b, '#');
	cspf_buf_puts(&b, ctx->pointer);
	n->loc = cspf_buf_detach(&b);
	if (!n->loc || cspf_map_put(&s->nodes, json, 0, n) < 0 ||
	    touch(cs, ctx->res) < 0) {
		cspf_error_set_oom();
		return NULL;
	}
	if (cJSON_IsBool(json)) {
		n->is_bool = true;
		n->bool_value = cJSON_IsTrue(json);
		return n;
	}
	if (compile_object(cs, n) < 0)
		return NULL;
	return n;
}

/*
 * A cycle of references that never descends into the instance ({"$ref":
 * "#"}) would loop forever on every document: find one and refuse the
 * schema.  Colours: 0 unseen, 1 on the path, 2 done.
 */
static int check_cycles(cspf_map *colour, const sch_node *n, unsigned depth)
{
	size_t i, j;
	uintptr_t c = (uintptr_t)cspf_map_get(colour, n, 0);
	int r = 0;

	if (c == 2)
		return 0;
	if (c == 1 || depth > 100000)
		return cspf_error_set_at(CSPF_EINVALID, CSPF_ERRCLASS_SCHEMA,
			n->res->display, 0, 0, NULL,
			"invalid schema: %s refers back to itself through "
			"$ref without descending into the instance, which "
			"would never end", n->loc);
	if (cspf_map_put(colour, n, 0, (void *)1) < 0)
		return cspf_error_set_oom();
	for (i = 0; i < n->nkws && r == 0; i++) {
		const sch_kw *k = &n->kws[i];
		switch (k->type) {
		case KW_REF:
		case KW_NOT:
			r = check_cycles(colour, k->u.sub, depth + 1);
			break;
		case KW_ALLOF:
		case KW_ANYOF:
		case KW_ONEOF:
			for (j = 0; j < k->u.list.nsubs && r == 0; j++)
				r = check_cycles(colour, k->u.list.subs[j],
					depth + 1);
			break;
		case KW_IF:
			r = check_cycles(colour, k->u.cond.if_, depth + 1);
			if (!r && k->u.cond.then_)
				r = check_cycles(colour, k->u.cond.then_,
					depth + 1);
			if (!r && k->u.cond.else_)
				r = check_cycles(colour, k->u.cond.else_,
					depth + 1);
			break;
		case KW_DEPSCHEMAS:
			for (j = 0; j < k->u.depschemas.ndeps && r == 0; j++)
				r = check_cycles(colour,
					k->u.depschemas.deps[j].schema,
					depth + 1);
			break;
		default:
			break;
		}
	}
	if (!r && cspf_map_put(colour, n, 0, (void *)2) < 0)
		return cspf_error_set_oom();
	return r;
}

static int check_metaschema(cspf_schema_set *set, const cJSON *json,
	const sch_resource *res, cspf_diags *metadiags)
{
	const char *dialect = res->dialect ? res->dialect :
		SCH_DIALECT_2020_12;
	cspf_schema *meta = cspf_map_gets(&set->metaschemas, dialect);
	cspf_diags found = CSPF_DIAGS_INIT;
	int r;

	if (!meta) {
		cspf_schema_options o = CSPF_SCHEMA_OPTIONS_INIT;
		o.format_assert = 0;
		o.check_metaschema = 0;
		r = cspf_schema_compile(&meta, set, dialect, &o, NULL);
		if (r < 0)
			return r;
		if (cspf_map_puts(&set->metaschemas, dialect, meta) < 0) {
			cspf_schema_free(meta);
			return cspf_error_set_oom();
		}
	}
	r = cspf_schema_validate(&found, meta, json, res->display);
	if (r == 1) {
		/* The most specific finding: not an anyOf's summary. */
		const cspf_diag *d = &found.items[0];
		size_t i;
		for (i = 0; i < found.count; i++) {
			const char *k = found.items[i].keyword;
			if (k && strcmp(k, "anyOf") && strcmp(k, "oneOf")) {
				d = &found.items[i];
				break;
			}
		}
		r = cspf_error_set_at(CSPF_EINVALID, CSPF_ERRCLASS_SCHEMA,
			res->display, 0, 0, d->pointer,
			"invalid schema: at %s: %s (%zu problem%s found by the "
			"meta-schema %s)", *d->pointer ? d->pointer : "the root",
			d->message, found.count, found.count == 1 ? "" : "s",
			dialect);
		if (metadiags)
			cspf_diags_move(metadiags, &found);
	}
	cspf_diags_clear(&found);
	return r;
}

int cspf_schema_compile(cspf_schema **out, cspf_schema_set *set,
	const char *uri, const cspf_schema_options *opts,
	cspf_diags *metadiags)
{
	cspf_schema_options defaults = CSPF_SCHEMA_OPTIONS_INIT;
	struct cstate cs = { 0 };
	cspf_schema *s;
	sch_node from = { 0 };
	sch_resource root_res = { 0 };
	const cJSON *target;
	char *anchor;
	size_t i;
	int r = -1;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return cspf_error_set_oom();
	s->set = set;
	s->opts = opts ? *opts : defaults;
	cs.schema = s;
	cs.set = set;
	/* Resolve `uri` as a reference from nowhere. */
	root_res.uri = (char *)"";
	from.res = &root_res;
	from.loc = (char *)uri;
	target = resolve_ref(&cs, &from, "schema", uri, &anchor);
	free(anchor);
	if (!target) {
		r = CSPF_ENOTFOUND;
		goto fail;
	}
	/* The meta-schema first: its findings say more than ours would. */
	if (s->opts.check_metaschema) {
		sch_ctx *ctx = cspf_map_get(&set->ctx, target, 0);
		if (ctx && ((r = (int)vocab_of(&cs, ctx->res->dialect,
				     ctx->res->display, 0)) < 0 ||
			    (r = check_metaschema(set, target, ctx->res,
				     metadiags)) < 0))
			goto fail;
	}
	if (!(s->root = compile_node(&cs, target)))
		goto fail;
	/* Nodes a $dynamicRef may jump to at run time. */
	for (i = 0; i < cs.ntouched; i++) {
		cspf_map_entry *e;
		cspf_map_foreach(&cs.touched[i]->dyn_anchors, e) {
			if (!compile_node(&cs, e->value))
				goto fail;
		}
	}
	{
		cspf_map colour = CSPF_MAP_POINTERS_INIT;
		for (i = 0, r = 0; i < s->nnodes && r == 0; i++)
			r = check_cycles(&colour, s->node_list[i], 0);
		cspf_map_dispose(&colour);
		if (r < 0)
			goto fail;
	}
	free(cs.touched);
	cspf_map_dispose(&cs.touched_map);
	*out = s;
	return 0;
fail:
	r = r < 0 ? r : -1;
	free(cs.touched);
	cspf_map_dispose(&cs.touched_map);
	cspf_schema_free(s);
	return r;
}

static void free_kw(sch_kw *k)
{
	size_t i;

	free(k->loc);
	switch (k->type) {
	case KW_PATTERN:
		cspf_regex_free(k->u.pattern.re);
		break;
	case KW_CONTAINS:
		free(k->u.contains.min_loc);
		free(k->u.contains.max_loc);
		break;
	case KW_PROPERTIES:
		for (i = 0; i < k->u.properties.nprops; i++)
			free(k->u.properties.props[i].loc);
		free(k->u.properties.props);
		for (i = 0; i < k->u.properties.npatterns; i++) {
			cspf_regex_free(k->u.properties.patterns[i].re);
			free(k->u.properties.patterns[i].loc);
		}
		free(k->u.properties.patterns);
		if (k->u.properties.index) {
			cspf_map_dispose(k->u.properties.index);
			free(k->u.properties.index);
		}
		free(k->u.properties.props_loc);
		free(k->u.properties.pat_loc);
		free(k->u.properties.add_loc);
		break;
	case KW_ITEMS:
		free(k->u.items.prefix);
		free(k->u.items.prefix_loc);
		free(k->u.items.items_loc);
		break;
	case KW_DEPSCHEMAS:
		free(k->u.depschemas.deps);
		break;
	case KW_IF:
		free(k->u.cond.then_loc);
		free(k->u.cond.else_loc);
		break;
	case KW_ALLOF:
	case KW_ANYOF:
	case KW_ONEOF:
		free(k->u.list.subs);
		break;
	default:
		break;
	}
}

void cspf_schema_free(cspf_schema *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->nnodes; i++) {
		sch_node *n = s->node_list[i];
		for (j = 0; j < n->nkws; j++)
			free_kw(&n->kws[j]);
		free(n->kws);
		free(n->loc);
		free(n);
	}
	free(s->node_list);
	cspf_map_dispose(&s->nodes);
	free(s);
}
