/*
 * Schema sets: documents by URI, with every embedded resource ($id) and
 * anchor indexed, so that $ref resolves without any fetching.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/uri.h"

struct cspf_embedded_file {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct cspf_embedded_file cspf_embedded_files[];

#define GROW(arr, n, a) \
	((n) < (a) ? 0 : grow_array((void **)&(arr), &(a), sizeof(*(arr))))

static int grow_array(void **arr, size_t *alloc, size_t elem)
{
	size_t n = *alloc ? *alloc * 2 : 8;
	void *p = realloc(*arr, n * elem);

	if (!p)
		return -1;
	*arr = p;
	*alloc = n;
	return 0;
}

int cspf_schema_set_new(cspf_schema_set **out)
{
	cspf_schema_set *set = calloc(1, sizeof(*set));

	*out = NULL;
	if (!set)
		return cspf_error_set_oom();
	set->resources.strings = 1;
	set->metaschemas.strings = 1;
	*out = set;
	return 0;
}

void cspf_schema_set_free(cspf_schema_set *set)
{
	size_t i;
	cspf_map_entry *e;

	if (!set)
		return;
	cspf_map_foreach(&set->metaschemas, e)
		cspf_schema_free(e->value);
	cspf_map_dispose(&set->metaschemas);
	for (i = 0; i < set->nres; i++) {
		free(set->res_list[i]->uri);
		cspf_map_dispose(&set->res_list[i]->anchors);
		cspf_map_dispose(&set->res_list[i]->dyn_anchors);
		free(set->res_list[i]);
	}
	free(set->res_list);
	for (i = 0; i < set->nctx; i++) {
		free(set->ctx_list[i]->pointer);
		free(set->ctx_list[i]);
	}
	free(set->ctx_list);
	for (i = 0; i < set->ndocs; i++)
		cspf_json_doc_free(set->docs[i]);
	free(set->docs);
	cspf_map_dispose(&set->resources);
	cspf_map_dispose(&set->ctx);
	free(set->last_uri);
	free(set->default_dialect);
	free(set);
}

int sch_draft_of(const char *dialect, int inherited)
{
	static const struct {
		const char *prefix;
		int draft;
	} drafts[] = {
		{ "http://json-schema.org/draft-04/schema", 4 },
		{ "http://json-schema.org/draft-06/schema", 6 },
		{ "http://json-schema.org/draft-07/schema", 7 },
	};
	size_t i;

	if (!dialect)
		return inherited;
	for (i = 0; i < sizeof(drafts) / sizeof(drafts[0]); i++)
		if (strncmp(dialect, drafts[i].prefix,
			    strlen(drafts[i].prefix)) == 0)
			return drafts[i].draft;
	return 2020;
}

int cspf_schema_set_default_dialect(cspf_schema_set *set,
	const char *dialect)
{
	char *d = dialect ? strdup(dialect) : NULL;

	if (dialect && !d)
		return cspf_error_set_oom();
	free(set->default_dialect);
	set->default_dialect = d;
	return 0;
}

static sch_resource *new_resource(cspf_schema_set *set, const char *uri,
	const cJSON *root, const char *dialect, int inherited_draft)
{
	sch_resource *r;

	if (GROW(set->res_list, set->nres, set->ares) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->uri = strdup(uri);
	if (!r->uri) {
		free(r);
		return NULL;
	}
	r->root = root;
	r->dialect = dialect;
	r->draft = sch_draft_of(dialect, inherited_draft);
	r->anchors.strings = 1;
	r->dyn_anchors.strings = 1;
	set->res_list[set->nres++] = r;
	return r;
}

sch_ctx *sch_set_ctx(cspf_schema_set *set, const cJSON *node,
	sch_resource *res, const char *pointer)
{
	sch_ctx *c = cspf_map_get(&set->ctx, node, 0);

	if (c)
		return c;
	if (GROW(set->ctx_list, set->nctx, set->actx) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->res = res;
	c->pointer = strdup(pointer);
	if (!c->pointer || cspf_map_put(&set->ctx, node, 0, c) < 0) {
		free(c->pointer);
		free(c);
		return NULL;
	}
	set->ctx_list[set->nctx++] = c;
	return c;
}

/* Keywords whose value is a schema, an array of them, a map of them. */
static const char *const single_kw[] = {
	"additionalProperties", "unevaluatedProperties", "unevaluatedItems",
	"items", "contains", "propertyNames", "not", "if", "then", "else",
	"contentSchema", "additionalItems", NULL
};
static const char *const array_kw[] = { "allOf", "anyOf", "oneOf",
	"prefixItems", NULL };
static const char *const map_kw[] = { "properties", "patternProperties",
	"$defs", "definitions", "dependentSchemas", "dependencies", NULL };

static int is_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int walk(cspf_schema_set *set, const cJSON *node, sch_resource *res,
	cspf_buf *ptr, unsigned depth, const char *display);

static int walk_child(cspf_schema_set *set, const cJSON *child,
	sch_resource *res, cspf_buf *ptr, const char *tok, size_t toklen,
	const char *tok2, unsigned depth, const char *display)
{
	size_t mark = ptr->size;
	int r;

	cspf_buf_put_pointer_token(ptr, tok, toklen);
	if (tok2)
		cspf_buf_put_pointer_token(ptr, tok2, strlen(tok2));
	r = walk(set, child, res, ptr, depth + 1, display);
	cspf_buf_truncate(ptr, mark);
	return r;
}

/*
 * Index one schema node and everything below it through the keywords
 * that hold schemas (not through unknown keywords, const or enum: an
 * "$id" there is data, not an identifier).
 */
static int walk(cspf_schema_set *set, const cJSON *node, sch_resource *res,
	cspf_buf *ptr, unsigned depth, const char *display)
{
	const cJSON *kw, *id, *item;
	cspf_buf sub = CSPF_BUF_INIT;
	int r = 0;
	char idx[32];

	if (depth > CSPF_JSON_MAX_DEPTH_LIMIT)
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_SCHEMA,
			"schema nested too deeply");
	if (!cJSON_IsObject(node)) {
		if (cJSON_IsBool(node) &&
		    !sch_set_ctx(set, node, res, ptr->ptr))
			return cspf_error_set_oom();
		return 0;
	}
	id = cJSON_GetObjectItemCaseSensitive(node,
		res->draft == 4 ? "id" : "$id");
	if (res->draft < 2020 && cJSON_IsString(id) &&
	    (id->valuestring[0] == '#' ||
	     cJSON_GetObjectItemCaseSensitive(node, "$ref"))) {
		/*
		 * Up to draft 7, an id that is only "#name" is an anchor,
		 * and $ref makes every sibling keyword, id included, void.
		 */
		if (id->valuestring[0] == '#' &&
		    !cJSON_GetObjectItemCaseSensitive(node, "$ref") &&
		    cspf_map_puts(&res->anchors, id->valuestring + 1,
			    (void *)node) < 0)
			return cspf_error_set_oom();
		id = NULL;
	}
	if (cJSON_IsString(id) && node != res->root) {
		const char *frag;
		char *abs = cspf_uri_resolve(res->uri, id->valuestring);
		char *nofrag = abs ? cspf_uri_without_fragment(abs, &frag) : NULL;
		const cJSON *sch = cJSON_GetObjectItemCaseSensitive(node,
			"$schema");
		sch_resource *nr;

		free(abs);
		if (!nofrag)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_SCHEMA,
				"\"$id\" \"%s\" at %s#%s is not a valid URI "
				"reference", id->valuestring, res->uri,
				ptr->ptr);
		nr = new_resource(set, nofrag,
			node, cJSON_IsString(sch) ? sch->valuestring :
			res->dialect, res->draft);
		if (!nr || cspf_map_puts(&set->resources, nofrag, nr) < 0) {
			free(nofrag);
			return cspf_error_set_oom();
		}
		free(nofrag);
		nr->display = display;
		res = nr;
		ptr = &sub;
	}
	if (!sch_set_ctx(set, node, res, ptr->ptr))
		goto oom;
	kw = res->draft < 2020 ? NULL :
		cJSON_GetObjectItemCaseSensitive(node, "$anchor");
	if (cJSON_IsString(kw) &&
	    cspf_map_puts(&res->anchors, kw->valuestring, (void *)node) < 0)
		goto oom;
	kw = res->draft < 2020 ? NULL :
		cJSON_GetObjectItemCaseSensitive(node, "$dynamicAnchor");
	if (cJSON_IsString(kw) &&
	    (cspf_map_puts(&res->anchors, kw->valuestring, (void *)node) < 0 ||
	     cspf_map_puts(&res->dyn_anchors, kw->valuestring,
		     (void *)node) < 0))
		goto oom;

	cJSON_ArrayForEach(kw, node) {
		if (is_in(kw->string, single_kw)) {
			if (cJSON_IsArray(kw)) { /* older drafts' items */
				int i = 0;
				cJSON_ArrayForEach(item, kw) {
					snprintf(idx, sizeof(idx), "%d", i++);
					r = walk_child(set, item, res, ptr,
						kw->string, strlen(kw->string),
						idx, depth, display);
					if (r < 0)
						goto out;
				}
				continue;
			}
			r = walk_child(set, kw, res, ptr, kw->string,
				strlen(kw->string), NULL, depth, display);
		} else if (is_in(kw->string, array_kw) && cJSON_IsArray(kw)) {
			int i = 0;
			cJSON_ArrayForEach(item, kw) {
				snprintf(idx, sizeof(idx), "%d", i++);
				r = walk_child(set, item, res, ptr, kw->string,
					strlen(kw->string), idx, depth,
					display);
				if (r < 0)
					goto out;
			}
		} else if (is_in(kw->string, map_kw) && cJSON_IsObject(kw)) {
			cJSON_ArrayForEach(item, kw) {
				r = walk_child(set, item, res, ptr, kw->string,
					strlen(kw->string), item->string,
					depth, display);
				if (r < 0)
					goto out;
			}
		}
		if (r < 0)
			goto out;
	}
out:
	cspf_buf_dispose(&sub);
	return r;
oom:
	cspf_buf_dispose(&sub);
	return cspf_error_set_oom();
}

static int add_root(cspf_schema_set *set, const cJSON *root,
	const char *uri, const char *display)
{
	const cJSON *sch = cJSON_IsObject(root) ?
		cJSON_GetObjectItemCaseSensitive(root, "$schema") : NULL;
	const char *dialect = cJSON_IsString(sch) ? sch->valuestring :
		set->default_dialect;
	int draft = sch_draft_of(dialect, 2020);
	const cJSON *id = cJSON_IsObject(root) ?
		cJSON_GetObjectItemCaseSensitive(root,
			draft == 4 ? "id" : "$id") : NULL;
	char *base = NULL, *abs;
	const char *frag;
	sch_resource *res;
	cspf_buf ptr = CSPF_BUF_INIT;
	int r;

	if (draft < 2020 && cJSON_IsString(id) &&
	    (id->valuestring[0] == '#' ||
	     cJSON_GetObjectItemCaseSensitive(root, "$ref")))
		id = NULL; /* an anchor, or void beside $ref (walk() sees it) */
	if (cJSON_IsString(id)) {
		abs = cspf_uri_resolve(uri ? uri : "", id->valuestring);
		base = abs ? cspf_uri_without_fragment(abs, &frag) : NULL;
		free(abs);
		if (!base)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_SCHEMA,
				"\"$id\" \"%s\" is not a valid URI reference",
				id->valuestring);
	} else {
		base = cspf_uri_without_fragment(uri ? uri : "", &frag);
		if (!base)
			return cspf_error_set_oom();
	}
	if (cspf_map_gets(&set->resources, base)) {
		r = cspf_error_set(CSPF_EEXISTS, CSPF_ERRCLASS_SCHEMA,
			"a schema with the URI \"%s\" is already loaded", base);
		free(base);
		return r;
	}
	res = new_resource(set, base, root, dialect, 2020);
	if (!res || cspf_map_puts(&set->resources, base, res) < 0) {
		free(base);
		return cspf_error_set_oom();
	}
	res->display = display;
	/* A document known by its retrieval URI and by its $id alike. */
	if (uri && *uri && strcmp(uri, base) != 0) {
		char *u = cspf_uri_without_fragment(uri, &frag);
		if (u && !cspf_map_gets(&set->resources, u))
			cspf_map_puts(&set->resources, u, res);
		free(u);
	}
	free(set->last_uri);
	set->last_uri = base;
	r = walk(set, root, res, &ptr, 0, display);
	cspf_buf_dispose(&ptr);
	return r;
}

int cspf_schema_set_add_json(cspf_schema_set *set, const cJSON *root,
	const char *uri)
{
	return add_root(set, root, uri, NULL);
}

int cspf_schema_set_add_doc(cspf_schema_set *set, cspf_json_doc *doc,
	const char *uri)
{
	if (GROW(set->docs, set->ndocs, set->adocs) < 0) {
		cspf_json_doc_free(doc);
		return cspf_error_set_oom();
	}
	set->docs[set->ndocs++] = doc;
	return add_root(set, cspf_json_doc_root(doc), uri,
		cspf_json_doc_name(doc));
}

const char *cspf_schema_set_last_uri(const cspf_schema_set *set)
{
	return set->last_uri;
}

static int load_embedded(cspf_schema_set *set)
{
	const struct cspf_embedded_file *f;
	cspf_json_options opts = CSPF_JSON_OPTIONS_INIT;
	int r;

	set->embedded_loaded = true;
	for (f = cspf_embedded_files; f->name; f++) {
		cspf_json_doc *doc;
		const cJSON *id;

		r = cspf_json_parse(&doc, f->text, f->len, f->name, &opts);
		if (r < 0)
			return r;
		id = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(doc),
			"$id");
		if (cJSON_IsString(id) &&
		    cspf_map_gets(&set->resources, id->valuestring)) {
			/* The user brought their own copy: theirs wins. */
			cspf_json_doc_free(doc);
			continue;
		}
		r = cspf_schema_set_add_doc(set, doc, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

sch_resource *sch_set_resource(cspf_schema_set *set, const char *uri)
{
	sch_resource *r = cspf_map_gets(&set->resources, uri);

	if (!r && !set->embedded_loaded) {
		char *saved = set->last_uri ? strdup(set->last_uri) : NULL;
		if (load_embedded(set) < 0) {
			free(saved);
			return NULL;
		}
		free(set->last_uri);
		set->last_uri = saved;
		r = cspf_map_gets(&set->resources, uri);
	}
	return r;
}
