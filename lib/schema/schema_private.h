/*
 * The schema module's insides: resources of a schema set, and the
 * compiled form the evaluator runs.
 */
#ifndef CSPF_SCHEMA_PRIVATE_H
#define CSPF_SCHEMA_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cspf/schema.h"
#include "util/map.h"
#include "regex.h"
#include "format.h"

#define SCH_DIALECT_2020_12 "https://json-schema.org/draft/2020-12/schema"

/* Vocabularies a resource's dialect turns on. */
enum {
	SCH_VOCAB_APPLICATOR = 1u << 0,
	SCH_VOCAB_UNEVALUATED = 1u << 1,
	SCH_VOCAB_VALIDATION = 1u << 2,
	SCH_VOCAB_FORMAT_ASSERTION = 1u << 3,
	SCH_VOCAB_CONTENT = 1u << 4,
	SCH_VOCAB_ALL_2020_12 = SCH_VOCAB_APPLICATOR | SCH_VOCAB_UNEVALUATED |
		SCH_VOCAB_VALIDATION | SCH_VOCAB_CONTENT,
};

/* A schema resource: a (sub)schema with its own base URI. */
typedef struct sch_resource {
	char *uri;            /* base URI, without fragment */
	const cJSON *root;
	const char *dialect;  /* $schema in force (lent from the JSON) */
	cspf_map anchors;     /* name -> const cJSON * ($anchor, $dynamicAnchor) */
	cspf_map dyn_anchors; /* name -> const cJSON * ($dynamicAnchor only) */
	const char *display;  /* how to show the document in errors, or NULL */
	int draft;            /* 4, 6, 7 or 2020: the dialect's generation */
} sch_resource;

/* The generation of a dialect URI, or `inherited` when it is NULL. */
int sch_draft_of(const char *dialect, int inherited);

/* Where a schema node sits: its resource and its pointer from there. */
typedef struct sch_ctx {
	sch_resource *res;
	char *pointer;
} sch_ctx;

struct cspf_schema_set {
	cspf_map resources;   /* uri -> sch_resource * */
	cspf_map ctx;         /* const cJSON * -> sch_ctx * */
	cspf_map metaschemas; /* dialect uri -> cspf_schema * (compiled) */
	sch_resource **res_list;
	size_t nres, ares;
	sch_ctx **ctx_list;
	size_t nctx, actx;
	cspf_json_doc **docs; /* owned documents */
	size_t ndocs, adocs;
	char *last_uri;
	char *default_dialect; /* for documents without "$schema" */
	bool embedded_loaded;
};

/* Look up (loading the built-in meta-schemas on a first miss). */
sch_resource *sch_set_resource(cspf_schema_set *set, const char *uri);
sch_ctx *sch_set_ctx(cspf_schema_set *set, const cJSON *node,
	sch_resource *res, const char *pointer);

/* ---- compiled form ---- */

typedef struct sch_node sch_node;

enum sch_kw_type {
	KW_REF, KW_DYNREF,
	KW_TYPE, KW_CONST, KW_ENUM,
	KW_MULTIPLEOF, KW_MAXIMUM, KW_EXMAXIMUM, KW_MINIMUM, KW_EXMINIMUM,
	KW_MAXLENGTH, KW_MINLENGTH, KW_PATTERN, KW_FORMAT,
	KW_MAXITEMS, KW_MINITEMS, KW_UNIQUEITEMS, KW_CONTAINS,
	KW_MAXPROPS, KW_MINPROPS, KW_REQUIRED, KW_DEPREQUIRED,
	KW_PROPERTIES, /* properties + patternProperties + additionalProperties */
	KW_ITEMS,      /* prefixItems + items */
	KW_DEPSCHEMAS, KW_PROPNAMES, KW_IF,
	KW_ALLOF, KW_ANYOF, KW_ONEOF, KW_NOT,
	KW_UNEVAL_ITEMS, KW_UNEVAL_PROPS,
};

enum {
	T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8,
	T_NUMBER = 16, T_STRING = 32, T_INTEGER = 64,
};

typedef struct sch_prop {
	const char *name;
	size_t len;
	sch_node *schema;
	char *loc;
} sch_prop;

typedef struct sch_pattern {
	cspf_regex *re;
	const char *source;
	sch_node *schema;
	char *loc;
} sch_pattern;

typedef struct sch_kw {
	enum sch_kw_type type;
	char *loc; /* absolute keyword location */
	union {
		sch_node *sub; /* $ref, not, propertyNames, uneval* */
		struct {
			sch_node *target;
			const char *anchor; /* NULL: behaves as $ref */
		} dynref;
		unsigned types;
		const cJSON *value; /* const, enum, multipleOf, limits */
		size_t count;       /* max/min length, items, properties */
		struct {
			cspf_regex *re;
			const char *source;
		} pattern;
		struct {
			cspf_format_fn fn;
			const char *name;
		} format;
		struct {
			sch_node *schema;
			size_t min, max; /* max SIZE_MAX: none */
			char *min_loc, *max_loc;
		} contains;
		struct {
			const cJSON *names; /* array of strings */
		} required;
		struct {
			const cJSON *map; /* object: name -> array of names */
		} depreq;
		struct {
			sch_prop *props;
			size_t nprops;
			cspf_map *index; /* name -> sch_prop *, when many */
			sch_pattern *patterns;
			size_t npatterns;
			sch_node *additional; /* NULL: none */
			char *props_loc, *pat_loc, *add_loc;
		} properties;
		struct {
			sch_node **prefix;
			size_t nprefix;
			sch_node *items; /* NULL: none */
			char *prefix_loc, *items_loc;
		} items;
		struct {
			sch_prop *deps;
			size_t ndeps;
		} depschemas;
		struct {
			sch_node *if_, *then_, *else_;
			char *then_loc, *else_loc;
		} cond;
		struct {
			sch_node **subs;
			size_t nsubs;
		} list; /* allOf, anyOf, oneOf */
	} u;
} sch_kw;

struct sch_node {
	const cJSON *json;
	sch_resource *res;
	char *loc;     /* absolute location of the schema itself */
	bool is_bool;
	bool bool_value;
	bool has_uneval; /* unevaluated* here: collect annotations */
	sch_kw *kws;
	size_t nkws;
};

struct cspf_schema {
	cspf_schema_set *set;
	sch_node *root;
	cspf_map nodes; /* const cJSON * -> sch_node * */
	sch_node **node_list;
	size_t nnodes, anodes;
	cspf_schema_options opts;
};

#endif
