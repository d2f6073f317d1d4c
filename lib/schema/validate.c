/*
 * The evaluator: runs a compiled schema over a cJSON instance.
 *
 * Nothing is allocated on the path of a valid document without
 * unevaluated* keywords: the instance location is a chain of frames on
 * the C stack, turned into a JSON pointer only when an error is
 * reported, and every keyword location was computed at compile time.
 *
 * eval() returns 1 (valid), 0 (invalid) or -1 (the evaluation itself
 * failed, error raised).  With v->out NULL nobody wants the errors, so
 * the first failing keyword ends the evaluation of a schema.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "schema_private.h"
#include "number.h"
#include "util/buf.h"
#include "util/error.h"

#define MAX_EVAL_DEPTH 6000

struct ipath {
	const struct ipath *up;
	const char *key; /* NULL: an array index */
	size_t klen;
	size_t idx;
};

struct dscope {
	const sch_resource *res;
	const struct dscope *up;
};

struct rframe {
	const sch_node *n;
	const cJSON *inst;
	const struct rframe *up;
};

/* Which children of an object or array some keyword has evaluated. */
struct evald {
	uint64_t *bits;
	uint64_t inl;
	size_t n;
};

struct vctx {
	const cspf_schema *schema;
	cspf_diags *out;
	const char *file;
	const struct rframe *rstack;
	unsigned depth;
	int at_key;
};

static int eval(struct vctx *v, const sch_node *n, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope,
	struct evald *ev);

/* ---- annotations ---- */

static int ev_init(struct evald *e, size_t n)
{
	e->n = n;
	e->inl = 0;
	if (n <= 64) {
		e->bits = &e->inl;
		return 0;
	}
	e->bits = calloc((n + 63) / 64, sizeof(uint64_t));
	return e->bits ? 0 : cspf_error_set_oom();
}

static void ev_free(struct evald *e)
{
	if (e->bits && e->bits != &e->inl)
		free(e->bits);
	e->bits = NULL;
}

static inline void ev_set(struct evald *e, size_t i)
{
	if (e && i < e->n)
		e->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline int ev_get(const struct evald *e, size_t i)
{
	return (e->bits[i / 64] >> (i % 64)) & 1;
}

static void ev_merge(struct evald *to, const struct evald *from)
{
	size_t i;

	if (!to || !from || !from->bits)
		return;
	for (i = 0; i < (to->n + 63) / 64; i++)
		to->bits[i] |= from->bits[i];
}

static size_t nchildren(const cJSON *inst)
{
	size_t n = 0;
	const cJSON *c;

	for (c = inst->child; c; c = c->next)
		n++;
	return n;
}

/* ---- reporting ---- */

static void put_pointer(cspf_buf *b, const struct ipath *p)
{
	const struct ipath *stack[64], **all = stack;
	size_t n = 0, i;
	const struct ipath *q;

	for (q = p; q; q = q->up)
		n++;
	if (n > 64 && !(all = malloc(n * sizeof(*all)))) {
		b->oom = true;
		return;
	}
	for (q = p, i = n; q; q = q->up)
		all[--i] = q;
	for (i = 0; i < n; i++) {
		if (all[i]->key) {
			cspf_buf_put_pointer_token(b, all[i]->key,
				all[i]->klen);
		} else {
			cspf_buf_printf(b, "/%zu", all[i]->idx);
		}
	}
	if (all != stack)
		free(all);
}

static void report(struct vctx *v, const struct ipath *path,
	const char *key, int at_key, const char *keyword, const char *loc,
	const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/*
 * Add one finding.  `key` (may be NULL) extends the path by one member
 * name, and `at_key` says the finding is about that name.
 */
static void report(struct vctx *v, const struct ipath *path,
	const char *key, int at_key, const char *keyword, const char *loc,
	const char *fmt, ...)
{
	cspf_buf ptr = CSPF_BUF_INIT, msg = CSPF_BUF_INIT;
	cspf_diag *d;
	va_list ap;

	if (!v->out)
		return;
	put_pointer(&ptr, path);
	if (key)
		cspf_buf_put_pointer_token(&ptr, key, strlen(key));
	va_start(ap, fmt);
	cspf_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (!cspf_buf_oom(&ptr) && !cspf_buf_oom(&msg)) {
		d = cspf_diags_add(v->out, CSPF_SEVERITY_ERROR, "schema",
			v->file, ptr.ptr, keyword, loc, msg.ptr);
		if (d)
			d->at_key = at_key || v->at_key;
	}
	cspf_buf_dispose(&ptr);
	cspf_buf_dispose(&msg);
}

static const char *type_name(const cJSON *i)
{
	switch (i->type & 0xff) {
	case cJSON_NULL: return "null";
	case cJSON_True:
	case cJSON_False: return "a boolean";
	case cJSON_Number: return "a number";
	case cJSON_String: return "a string";
	case cJSON_Array: return "an array";
	case cJSON_Object: return "an object";
	default: return "an invalid value";
	}
}

static void put_types(cspf_buf *b, unsigned types)
{
	static const char *const names[] = { "null", "a boolean",
		"an object", "an array", "a number", "a string",
		"an integer" };
	unsigned i, n = 0, total = 0;

	for (i = 0; i < 7; i++)
		total += (types >> i) & 1;
	for (i = 0; i < 7; i++) {
		if (!((types >> i) & 1))
			continue;
		if (n)
			cspf_buf_puts(b, n + 1 == total ? " or " : ", ");
		cspf_buf_puts(b, names[i]);
		n++;
	}
}

/* A schema value, compact and shortened, for messages. */
static void put_value(cspf_buf *b, const cJSON *value)
{
	char *s = cJSON_PrintUnformatted(value);

	if (!s) {
		cspf_buf_puts(b, "(value)");
		return;
	}
	if (strlen(s) > 60) {
		cspf_buf_put(b, s, 57);
		cspf_buf_puts(b, "...");
	} else {
		cspf_buf_puts(b, s);
	}
	cJSON_free(s);
}

/* ---- equality (const, enum, uniqueItems) ---- */

/* cspf_json_strlen(), inlined: it runs for every string checked. */
static inline size_t str_len(const cJSON *s)
{
	return s->valuedouble > 0 ? (size_t)s->valuedouble :
		strlen(s->valuestring);
}

static int json_equal(const cJSON *a, const cJSON *b)
{
	int ta = a->type & 0xff, tb = b->type & 0xff;
	const cJSON *x, *y;

	if (ta != tb)
		return 0;
	switch (ta) {
	case cJSON_NULL:
	case cJSON_True:
	case cJSON_False:
		return 1;
	case cJSON_Number:
		return cspf_number_cmp(a, b) == 0;
	case cJSON_String:
		return str_len(a) == str_len(b) &&
			memcmp(a->valuestring, b->valuestring, str_len(a)) == 0;
	case cJSON_Array:
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if (!json_equal(x, y))
				return 0;
		return !x && !y;
	case cJSON_Object:
		if (nchildren(a) != nchildren(b))
			return 0;
		for (x = a->child; x; x = x->next) {
			y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !json_equal(x, y))
				return 0;
		}
		return 1;
	default:
		return 0;
	}
}

/* A hash that agrees with json_equal (1 and 1.0 hash alike). */
static uint64_t json_hash(const cJSON *a)
{
	const cJSON *c;
	uint64_t h;
	cspf_dec d;

	switch (a->type & 0xff) {
	case cJSON_NULL: return 1;
	case cJSON_True: return 2;
	case cJSON_False: return 3;
	case cJSON_Number:
		if (cspf_dec_from_json(&d, a) < 0)
			return 4;
		h = cspf_hash_bytes(d.digits, d.ndigits) ^
			((uint64_t)d.exp * 0x9e3779b97f4a7c15ULL) ^ d.neg;
		cspf_dec_dispose(&d);
		return h;
	case cJSON_String:
		return cspf_hash_bytes(a->valuestring, str_len(a)) ^ 5;
	case cJSON_Array:
		h = 6;
		for (c = a->child; c; c = c->next)
			h = h * 31 + json_hash(c);
		return h;
	case cJSON_Object:
		h = 7;
		for (c = a->child; c; c = c->next)
			h += cspf_hash_bytes(c->string, strlen(c->string)) *
				(json_hash(c) | 1);
		return h;
	default:
		return 0;
	}
}

struct hashed {
	uint64_t h;
	size_t i;
	const cJSON *item;
};

static int cmp_hashed(const void *a, const void *b)
{
	const struct hashed *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/* First duplicate pair (i < j), or 0 when unique; -1 on OOM. */
static int find_duplicate(const cJSON *arr, size_t *pi, size_t *pj)
{
	size_t n = nchildren(arr), i, j, k;
	const cJSON *x, *y;
	struct hashed *hs;
	int found = 0;

	if (n <= 32) {
		for (x = arr->child, i = 0; x; x = x->next, i++)
			for (y = x->next, j = i + 1; y; y = y->next, j++)
				if (json_equal(x, y)) {
					*pi = i;
					*pj = j;
					return 1;
				}
		return 0;
	}
	hs = malloc(n * sizeof(*hs));
	if (!hs)
		return cspf_error_set_oom();
	for (x = arr->child, i = 0; x; x = x->next, i++) {
		hs[i].h = json_hash(x);
		hs[i].i = i;
		hs[i].item = x;
	}
	qsort(hs, n, sizeof(*hs), cmp_hashed);
	for (i = 0; i < n && !found; i = j) {
		for (j = i + 1; j < n && hs[j].h == hs[i].h; j++)
			;
		for (k = i; k < j && !found; k++) {
			size_t m;
			for (m = k + 1; m < j; m++) {
				if (json_equal(hs[k].item, hs[m].item)) {
					*pi = hs[k].i;
					*pj = hs[m].i;
					found = 1;
					break;
				}
			}
		}
	}
	free(hs);
	return found;
}

/* ---- helpers ---- */

static size_t utf8_length(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int is_multiple(const cJSON *inst, const cJSON *by)
{
	cspf_dec a, b;
	int r;

	if (!cspf_json_number_text(inst) && !cspf_json_number_text(by)) {
		double q = inst->valuedouble / by->valuedouble;
		if (!isfinite(q))
			goto exact;
		return fmod(inst->valuedouble, by->valuedouble) == 0;
	}
exact:
	if (cspf_dec_from_json(&a, inst) < 0)
		return cspf_error_set_oom();
	if (cspf_dec_from_json(&b, by) < 0) {
		cspf_dec_dispose(&a);
		return cspf_error_set_oom();
	}
	r = cspf_dec_is_multiple(&a, &b);
	cspf_dec_dispose(&a);
	cspf_dec_dispose(&b);
	return r < 0 ? cspf_error_set_oom() : r;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/*
 * Evaluate a subschema with nobody wanting its errors (not, if,
 * contains, the first pass of anyOf and oneOf).
 */
static int eval_quiet(struct vctx *v, const sch_node *n, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope,
	struct evald *ev)
{
	cspf_diags *saved = v->out;
	int r;

	v->out = NULL;
	r = eval(v, n, inst, path, scope, ev);
	v->out = saved;
	return r;
}

/*
 * Every alternative of an anyOf / oneOf failed: explain with the errors
 * of the alternative that came closest (fewest errors).
 */
static int explain_best(struct vctx *v, const sch_kw *k, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope)
{
	cspf_diags best = CSPF_DIAGS_INIT, cur = CSPF_DIAGS_INIT;
	cspf_diags *saved = v->out;
	size_t i;
	int r = 0;

	for (i = 0; i < k->u.list.nsubs; i++) {
		v->out = &cur;
		r = eval(v, k->u.list.subs[i], inst, path, scope, NULL);
		v->out = saved;
		if (r < 0)
			break;
		if (!best.count || (cur.count && cur.count < best.count)) {
			cspf_diags_clear(&best);
			best = cur;
			cur = (cspf_diags)CSPF_DIAGS_INIT;
		} else {
			cspf_diags_clear(&cur);
		}
	}
	if (r >= 0 && cspf_diags_move(saved, &best) < 0)
		r = cspf_error_set_oom();
	cspf_diags_clear(&best);
	cspf_diags_clear(&cur);
	return r < 0 ? r : 0;
}

/* ---- keywords ---- */

static int eval_properties(struct vctx *v, const sch_kw *k,
	const cJSON *inst, const struct ipath *path,
	const struct dscope *scope, struct evald *ev)
{
	const cJSON *m;
	size_t i = 0, j;
	int ok = 1, r;

	for (m = inst->child; m; m = m->next, i++) {
		struct ipath cp = { path, m->string, strlen(m->string), 0 };
		const sch_prop *p = NULL;
		int matched = 0;

		if (k->u.properties.index) {
			p = cspf_map_get(k->u.properties.index, cp.key,
				cp.klen);
		} else {
			for (j = 0; j < k->u.properties.nprops; j++) {
				const sch_prop *q = &k->u.properties.props[j];
				if (q->len == cp.klen &&
				    memcmp(q->name, cp.key, cp.klen) == 0) {
					p = q;
					break;
				}
			}
		}
		if (p) {
			matched = 1;
			if (p->schema->is_bool && !p->schema->bool_value) {
				report(v, path, m->string, 1, "properties",
					p->loc, "property \"%s\" is not "
					"allowed", m->string);
				r = 0;
			} else {
				r = eval(v, p->schema, m, &cp, scope, NULL);
			}
			if (r < 0)
				return r;
			if (!r) {
				ok = 0;
				if (!v->out)
					return 0;
			}
		}
		for (j = 0; j < k->u.properties.npatterns; j++) {
			const sch_pattern *pt = &k->u.properties.patterns[j];
			r = cspf_regex_test(pt->re, cp.key, cp.klen);
			if (r < 0)
				return r;
			if (!r)
				continue;
			matched = 1;
			r = eval(v, pt->schema, m, &cp, scope, NULL);
			if (r < 0)
				return r;
			if (!r) {
				ok = 0;
				if (!v->out)
					return 0;
			}
		}
		if (!matched && k->u.properties.additional) {
			const sch_node *a = k->u.properties.additional;
			matched = 1;
			if (a->is_bool && !a->bool_value) {
				cspf_buf allowed = CSPF_BUF_INIT;
				for (j = 0; j < k->u.properties.nprops &&
				     j < 12; j++)
					cspf_buf_printf(&allowed, "%s\"%s\"",
						j ? ", " : "",
						k->u.properties.props[j].name);
				if (k->u.properties.nprops > 12)
					cspf_buf_puts(&allowed, ", ...");
				if (k->u.properties.nprops)
					report(v, path, m->string, 1,
						"additionalProperties",
						k->u.properties.add_loc,
						"property \"%s\" is not allowed "
						"(allowed: %s)", m->string,
						allowed.ptr);
				else
					report(v, path, m->string, 1,
						"additionalProperties",
						k->u.properties.add_loc,
						"property \"%s\" is not "
						"allowed", m->string);
				cspf_buf_dispose(&allowed);
				r = 0;
			} else {
				r = eval(v, a, m, &cp, scope, NULL);
			}
			if (r < 0)
				return r;
			if (!r) {
				ok = 0;
				if (!v->out)
					return 0;
			}
		}
		if (matched)
			ev_set(ev, i);
	}
	return ok;
}

static int eval_items(struct vctx *v, const sch_kw *k, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope,
	struct evald *ev)
{
	const cJSON *c;
	size_t i = 0;
	int ok = 1, r;

	for (c = inst->child; c; c = c->next, i++) {
		struct ipath cp = { path, NULL, 0, i };
		const sch_node *s;

		if (i < k->u.items.nprefix)
			s = k->u.items.prefix[i];
		else if (k->u.items.items)
			s = k->u.items.items;
		else
			break;
		if (s->is_bool && !s->bool_value) {
			report(v, &cp, NULL, 0, i < k->u.items.nprefix ?
				"prefixItems" : "items",
				i < k->u.items.nprefix ? k->u.items.prefix_loc :
				k->u.items.items_loc,
				"no item is allowed at index %zu (at most %zu "
				"item%s)", i, k->u.items.nprefix,
				plural(k->u.items.nprefix));
			r = 0;
		} else {
			r = eval(v, s, c, &cp, scope, NULL);
		}
		if (r < 0)
			return r;
		ev_set(ev, i);
		if (!r) {
			ok = 0;
			if (!v->out)
				return 0;
		}
	}
	return ok;
}

static int eval_contains(struct vctx *v, const sch_kw *k, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope,
	struct evald *ev)
{
	const cJSON *c;
	size_t i = 0, count = 0;
	int r;

	for (c = inst->child; c; c = c->next, i++) {
		struct ipath cp = { path, NULL, 0, i };
		r = eval_quiet(v, k->u.contains.schema, c, &cp, scope, NULL);
		if (r < 0)
			return r;
		if (r) {
			count++;
			ev_set(ev, i);
			if (!ev && count > k->u.contains.max)
				break;
			if (!ev && count >= k->u.contains.min &&
			    k->u.contains.max == SIZE_MAX)
				break;
		}
	}
	if (count < k->u.contains.min) {
		if (k->u.contains.min == 1)
			report(v, path, NULL, 0, "contains", k->loc,
				"must contain at least one item that matches "
				"%s", k->u.contains.schema->loc);
		else
			report(v, path, NULL, 0, "minContains",
				k->u.contains.min_loc,
				"must contain at least %zu items that match %s "
				"(has %zu)", k->u.contains.min,
				k->u.contains.schema->loc, count);
		return 0;
	}
	if (count > k->u.contains.max) {
		report(v, path, NULL, 0, "maxContains", k->u.contains.max_loc,
			"must contain at most %zu item%s that match %s",
			k->u.contains.max, plural(k->u.contains.max),
			k->u.contains.schema->loc);
		return 0;
	}
	return 1;
}

static int eval_uneval(struct vctx *v, const sch_kw *k, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope,
	struct evald *mine)
{
	const cJSON *c;
	size_t i = 0;
	int ok = 1, r, props = k->type == KW_UNEVAL_PROPS;
	const sch_node *s = k->u.sub;

	for (c = inst->child; c; c = c->next, i++) {
		struct ipath cp = { path, props ? c->string : NULL,
			props ? strlen(c->string) : 0, i };
		if (ev_get(mine, i))
			continue;
		if (s->is_bool && !s->bool_value) {
			if (props)
				report(v, path, c->string, 1,
					"unevaluatedProperties", k->loc,
					"property \"%s\" is not allowed (no "
					"schema here defines it)", c->string);
			else
				report(v, &cp, NULL, 0, "unevaluatedItems",
					k->loc, "item %zu is not allowed (no "
					"schema here defines it)", i);
			r = 0;
		} else {
			r = eval(v, s, c, &cp, scope, NULL);
		}
		if (r < 0)
			return r;
		ev_set(mine, i);
		if (!r) {
			ok = 0;
			if (!v->out)
				return 0;
		}
	}
	return ok;
}

static const sch_node *dynamic_target(const struct vctx *v, const sch_kw *k,
	const struct dscope *scope)
{
	const sch_node *found = NULL;
	const struct dscope *s;

	/* The outermost resource of the dynamic scope with the anchor. */
	for (s = scope; s; s = s->up) {
		const cJSON *j = cspf_map_gets(&s->res->dyn_anchors,
			k->u.dynref.anchor);
		if (j) {
			const sch_node *n = cspf_map_get(&v->schema->nodes, j,
				0);
			if (n)
				found = n;
		}
	}
	return found ? found : k->u.dynref.target;
}

static int eval_ref(struct vctx *v, const sch_node *target,
	const cJSON *inst, const struct ipath *path,
	const struct dscope *scope, struct evald *ev, const sch_node *from)
{
	const struct rframe *f;
	struct rframe me = { target, inst, v->rstack };
	int r;

	for (f = v->rstack; f && f->inst == inst; f = f->up) {
		if (f->n == target) {
			cspf_buf p = CSPF_BUF_INIT;
			put_pointer(&p, path);
			r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_SCHEMA,
				"the schema loops: %s leads back to %s for the "
				"same value (at \"%s\") without descending into "
				"it", from->loc, target->loc, p.ptr);
			cspf_buf_dispose(&p);
			return r;
		}
	}
	v->rstack = &me;
	r = eval(v, target, inst, path, scope, ev);
	v->rstack = me.up;
	return r;
}

static int eval_kw(struct vctx *v, const sch_node *n, const sch_kw *k,
	const cJSON *inst, const struct ipath *path,
	const struct dscope *scope, struct evald *mine)
{
	int t = inst->type & 0xff, r;
	size_t i = 0, j = 0, len;
	const cJSON *c, *x;

	switch (k->type) {
	case KW_REF:
		return eval_ref(v, k->u.sub, inst, path, scope, mine, n);
	case KW_DYNREF:
		return eval_ref(v, k->u.dynref.anchor ?
			dynamic_target(v, k, scope) : k->u.dynref.target,
			inst, path, scope, mine, n);
	case KW_TYPE: {
		unsigned bit = 0;
		switch (t) {
		case cJSON_NULL: bit = T_NULL; break;
		case cJSON_True:
		case cJSON_False: bit = T_BOOLEAN; break;
		case cJSON_Object: bit = T_OBJECT; break;
		case cJSON_Array: bit = T_ARRAY; break;
		case cJSON_String: bit = T_STRING; break;
		case cJSON_Number:
			bit = T_NUMBER;
			if ((k->u.types & T_INTEGER) &&
			    cspf_number_is_integer(inst))
				bit |= T_INTEGER;
			break;
		}
		if (bit & k->u.types)
			return 1;
		if (v->out) {
			cspf_buf b = CSPF_BUF_INIT;
			put_types(&b, k->u.types);
			report(v, path, NULL, 0, "type", k->loc,
				"must be %s, not %s", b.ptr,
				t == cJSON_Number && (k->u.types & T_INTEGER) ?
				"a number with a fraction" : type_name(inst));
			cspf_buf_dispose(&b);
		}
		return 0;
	}
	case KW_CONST:
		if (json_equal(inst, k->u.value))
			return 1;
		if (v->out) {
			cspf_buf b = CSPF_BUF_INIT;
			put_value(&b, k->u.value);
			report(v, path, NULL, 0, "const", k->loc,
				"must be %s", b.ptr);
			cspf_buf_dispose(&b);
		}
		return 0;
	case KW_ENUM:
		cJSON_ArrayForEach(x, k->u.value) {
			if (json_equal(inst, x))
				return 1;
		}
		if (v->out) {
			cspf_buf b = CSPF_BUF_INIT;
			i = 0;
			cJSON_ArrayForEach(x, k->u.value) {
				if (i == 20) {
					cspf_buf_puts(&b, ", ...");
					break;
				}
				if (i++)
					cspf_buf_puts(&b, ", ");
				put_value(&b, x);
			}
			report(v, path, NULL, 0, "enum", k->loc,
				"must be one of: %s", b.ptr);
			cspf_buf_dispose(&b);
		}
		return 0;
	case KW_MULTIPLEOF:
	case KW_MAXIMUM:
	case KW_EXMAXIMUM:
	case KW_MINIMUM:
	case KW_EXMINIMUM: {
		static const char *const what[] = { "at most", "less than",
			"at least", "greater than" };
		static const char *const names[] = { "maximum",
			"exclusiveMaximum", "minimum", "exclusiveMinimum" };
		int ok;
		if (t != cJSON_Number)
			return 1;
		if (k->type == KW_MULTIPLEOF) {
			r = is_multiple(inst, k->u.value);
			if (r != 0)
				return r;
			if (v->out) {
				cspf_buf b = CSPF_BUF_INIT;
				put_value(&b, k->u.value);
				report(v, path, NULL, 0, "multipleOf", k->loc,
					"must be a multiple of %s", b.ptr);
				cspf_buf_dispose(&b);
			}
			return 0;
		}
		r = cspf_number_cmp(inst, k->u.value);
		switch (k->type) {
		case KW_MAXIMUM: ok = r <= 0; i = 0; break;
		case KW_EXMAXIMUM: ok = r < 0; i = 1; break;
		case KW_MINIMUM: ok = r >= 0; i = 2; break;
		default: ok = r > 0; i = 3; break;
		}
		if (!ok && v->out) {
			cspf_buf b = CSPF_BUF_INIT;
			put_value(&b, k->u.value);
			report(v, path, NULL, 0, names[i], k->loc,
				"must be %s %s", what[i], b.ptr);
			cspf_buf_dispose(&b);
		}
		return ok;
	}
	case KW_MAXLENGTH:
	case KW_MINLENGTH:
		if (t != cJSON_String)
			return 1;
		len = str_len(inst);
		/*
		 * A character takes one to four bytes: most strings are
		 * settled by their byte length, without counting.
		 */
		if (k->type == KW_MAXLENGTH ? len <= k->u.count :
		    len / 4 >= k->u.count)
			return 1;
		len = utf8_length(inst->valuestring, len);
		if (k->type == KW_MAXLENGTH ? len <= k->u.count :
		    len >= k->u.count)
			return 1;
		report(v, path, NULL, 0, k->type == KW_MAXLENGTH ?
			"maxLength" : "minLength", k->loc,
			"must be at %s %zu character%s long (is %zu)",
			k->type == KW_MAXLENGTH ? "most" : "least",
			k->u.count, plural(k->u.count), len);
		return 0;
	case KW_PATTERN:
		if (t != cJSON_String)
			return 1;
		r = cspf_regex_test(k->u.pattern.re, inst->valuestring,
			str_len(inst));
		if (r > 0)
			return 1;
		if (r < 0)
			report(v, path, NULL, 0, "pattern", k->loc,
				"could not be matched against the pattern %s: "
				"%s", k->u.pattern.source,
				cspf_error_last()->message);
		else
			report(v, path, NULL, 0, "pattern", k->loc,
				"must match the pattern %s",
				k->u.pattern.source);
		return 0;
	case KW_FORMAT:
		if (t != cJSON_String)
			return 1;
		if (k->u.format.fn(inst->valuestring, str_len(inst)))
			return 1;
		report(v, path, NULL, 0, "format", k->loc,
			"must be %s (format \"%s\")",
			cspf_format_describe(k->u.format.name),
			k->u.format.name);
		return 0;
	case KW_MAXITEMS:
	case KW_MINITEMS:
	case KW_MAXPROPS:
	case KW_MINPROPS: {
		int arr = k->type == KW_MAXITEMS || k->type == KW_MINITEMS;
		int max = k->type == KW_MAXITEMS || k->type == KW_MAXPROPS;
		if (t != (arr ? cJSON_Array : cJSON_Object))
			return 1;
		len = nchildren(inst);
		if (max ? len <= k->u.count : len >= k->u.count)
			return 1;
		report(v, path, NULL, 0, arr ? (max ? "maxItems" : "minItems") :
			(max ? "maxProperties" : "minProperties"), k->loc,
			"must have at %s %zu %s%s (has %zu)",
			max ? "most" : "least", k->u.count,
			arr ? "item" : "propert", arr ? plural(k->u.count) :
			(k->u.count == 1 ? "y" : "ies"), len);
		return 0;
	}
	case KW_UNIQUEITEMS:
		if (t != cJSON_Array)
			return 1;
		r = find_duplicate(inst, &i, &j);
		if (r <= 0)
			return r < 0 ? r : 1;
		report(v, path, NULL, 0, "uniqueItems", k->loc,
			"items must be unique, but items %zu and %zu are "
			"equal", i, j);
		return 0;
	case KW_CONTAINS:
		if (t != cJSON_Array)
			return 1;
		return eval_contains(v, k, inst, path, scope, mine);
	case KW_REQUIRED: {
		int ok = 1;
		if (t != cJSON_Object)
			return 1;
		/*
		 * Documents tend to list members in the schema's order:
		 * search each name from where the last one was found.
		 */
		c = inst->child;
		cJSON_ArrayForEach(x, k->u.required.names) {
			const cJSON *start = c ? c : inst->child, *m = start;
			int found = 0;
			while (m) {
				if (m->string[0] == x->valuestring[0] &&
				    strcmp(m->string, x->valuestring) == 0) {
					found = 1;
					c = m->next;
					break;
				}
				m = m->next ? m->next : inst->child;
				if (m == start)
					break;
			}
			if (found)
				continue;
			ok = 0;
			if (!v->out)
				return 0;
			report(v, path, NULL, 0, "required", k->loc,
				"missing required property \"%s\"",
				x->valuestring);
		}
		return ok;
	}
	case KW_DEPREQUIRED: {
		int ok = 1;
		if (t != cJSON_Object)
			return 1;
		cJSON_ArrayForEach(c, k->u.depreq.map) {
			if (!cJSON_IsArray(c) ||
			    !cJSON_GetObjectItemCaseSensitive(inst, c->string))
				continue;
			cJSON_ArrayForEach(x, c) {
				if (!cJSON_IsString(x) ||
				    cJSON_GetObjectItemCaseSensitive(inst,
					    x->valuestring))
					continue;
				ok = 0;
				if (!v->out)
					return 0;
				report(v, path, NULL, 0, "dependentRequired",
					k->loc, "property \"%s\" is required "
					"when \"%s\" is present",
					x->valuestring, c->string);
			}
		}
		return ok;
	}
	case KW_PROPERTIES:
		if (t != cJSON_Object)
			return 1;
		return eval_properties(v, k, inst, path, scope, mine);
	case KW_ITEMS:
		if (t != cJSON_Array)
			return 1;
		return eval_items(v, k, inst, path, scope, mine);
	case KW_DEPSCHEMAS: {
		int ok = 1;
		if (t != cJSON_Object)
			return 1;
		for (i = 0; i < k->u.depschemas.ndeps; i++) {
			if (!cJSON_GetObjectItemCaseSensitive(inst,
				    k->u.depschemas.deps[i].name))
				continue;
			r = eval(v, k->u.depschemas.deps[i].schema, inst, path,
				scope, mine);
			if (r < 0)
				return r;
			if (!r) {
				ok = 0;
				if (!v->out)
					return 0;
			}
		}
		return ok;
	}
	case KW_PROPNAMES: {
		int ok = 1, saved = v->at_key;
		if (t != cJSON_Object)
			return 1;
		for (c = inst->child; c; c = c->next) {
			cJSON name;
			struct ipath cp = { path, c->string, strlen(c->string),
				0 };
			memset(&name, 0, sizeof(name));
			name.type = cJSON_String;
			name.valuestring = c->string;
			v->at_key = 1;
			r = eval(v, k->u.sub, &name, &cp, scope, NULL);
			v->at_key = saved;
			if (r < 0)
				return r;
			if (!r) {
				ok = 0;
				if (!v->out)
					return 0;
			}
		}
		return ok;
	}
	case KW_IF: {
		struct evald tmp = { 0 };
		if (mine && ev_init(&tmp, mine->n) < 0)
			return -1;
		r = eval_quiet(v, k->u.cond.if_, inst, path, scope,
			mine ? &tmp : NULL);
		if (r > 0)
			ev_merge(mine, &tmp);
		ev_free(&tmp);
		if (r < 0)
			return r;
		if (r && k->u.cond.then_)
			return eval(v, k->u.cond.then_, inst, path, scope,
				mine);
		if (!r && k->u.cond.else_)
			return eval(v, k->u.cond.else_, inst, path, scope,
				mine);
		return 1;
	}
	case KW_ALLOF: {
		int ok = 1;
		for (i = 0; i < k->u.list.nsubs; i++) {
			r = eval(v, k->u.list.subs[i], inst, path, scope,
				mine);
			if (r < 0)
				return r;
			if (!r) {
				ok = 0;
				if (!v->out)
					return 0;
			}
		}
		return ok;
	}
	case KW_ANYOF:
	case KW_ONEOF: {
		size_t matches = 0, first = 0;
		for (i = 0; i < k->u.list.nsubs; i++) {
			struct evald tmp = { 0 };
			if (mine && ev_init(&tmp, mine->n) < 0)
				return -1;
			r = eval_quiet(v, k->u.list.subs[i], inst, path, scope,
				mine ? &tmp : NULL);
			if (r > 0) {
				if (!matches++)
					first = i;
				ev_merge(mine, &tmp);
			}
			ev_free(&tmp);
			if (r < 0)
				return r;
			if (r && k->type == KW_ANYOF && !mine)
				return 1;
			if (k->type == KW_ONEOF && matches > 1) {
				report(v, path, NULL, 0, "oneOf", k->loc,
					"must match exactly one of the %zu "
					"alternatives, but matches both "
					"%zu and %zu", k->u.list.nsubs,
					first, i);
				return 0;
			}
		}
		if (matches)
			return 1;
		if (!v->out)
			return 0;
		report(v, path, NULL, 0, k->type == KW_ANYOF ? "anyOf" :
			"oneOf", k->loc, "must match %s of the %zu "
			"alternatives, but matches none (the closest one's "
			"problems follow)", k->type == KW_ANYOF ?
			"at least one" : "exactly one", k->u.list.nsubs);
		r = explain_best(v, k, inst, path, scope);
		return r < 0 ? r : 0;
	}
	case KW_NOT:
		r = eval_quiet(v, k->u.sub, inst, path, scope, NULL);
		if (r < 0)
			return r;
		if (!r)
			return 1;
		report(v, path, NULL, 0, "not", k->loc,
			"must not match the schema at %s", k->u.sub->loc);
		return 0;
	case KW_UNEVAL_ITEMS:
		if (t != cJSON_Array)
			return 1;
		return eval_uneval(v, k, inst, path, scope, mine);
	case KW_UNEVAL_PROPS:
		if (t != cJSON_Object)
			return 1;
		return eval_uneval(v, k, inst, path, scope, mine);
	}
	return 1;
}

static int eval(struct vctx *v, const sch_node *n, const cJSON *inst,
	const struct ipath *path, const struct dscope *scope,
	struct evald *ev)
{
	struct dscope here;
	struct evald mine = { 0 };
	int ok = 1, r = 1, t;
	size_t i;

	if (n->is_bool) {
		if (n->bool_value)
			return 1;
		report(v, path, NULL, 0, "false", n->loc,
			"no value is allowed here (the schema is false)");
		return 0;
	}
	if (++v->depth > MAX_EVAL_DEPTH) {
		v->depth--;
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_SCHEMA,
			"the document is nested too deeply to validate "
			"(more than %d levels of schema)", MAX_EVAL_DEPTH);
	}
	if (!scope || scope->res != n->res) {
		here.res = n->res;
		here.up = scope;
		scope = &here;
	}
	t = inst->type & 0xff;
	if ((ev || n->has_uneval) &&
	    (t == cJSON_Object || t == cJSON_Array)) {
		if (ev_init(&mine, nchildren(inst)) < 0) {
			v->depth--;
			return -1;
		}
	}
	for (i = 0; i < n->nkws; i++) {
		r = eval_kw(v, n, &n->kws[i], inst, path, scope,
			mine.bits ? &mine : NULL);
		if (r < 0)
			break;
		if (!r) {
			ok = 0;
			if (!v->out)
				break;
		}
	}
	/*
	 * A failed schema's annotations are dropped (the specification).
	 * But when errors are being collected, no quiet branch (anyOf, not,
	 * if) is above us, so our failure fails the schema that asked for
	 * them: passing them on then changes no verdict, and spares the
	 * user "property not allowed" for every property a broken $ref'd
	 * schema does define.
	 */
	if (r >= 0 && (ok || v->out) && ev && mine.bits)
		ev_merge(ev, &mine);
	ev_free(&mine);
	v->depth--;
	return r < 0 ? r : ok;
}

int cspf_schema_validate(cspf_diags *out, const cspf_schema *schema,
	const cJSON *instance, const char *file)
{
	struct vctx v = { schema, out, file, NULL, 0, 0 };
	int r = eval(&v, schema->root, instance, NULL, NULL, NULL);

	if (r < 0)
		return r;
	return r ? 0 : 1;
}

int cspf_schema_validate_doc(cspf_diags *out, const cspf_schema *schema,
	const cspf_json_doc *doc)
{
	size_t first = out ? out->count : 0, i;
	int r = cspf_schema_validate(out, schema, cspf_json_doc_root(doc),
		cspf_json_doc_name(doc));

	if (r <= 0 || !out)
		return r;
	for (i = first; i < out->count; i++) {
		cspf_diag *d = &out->items[i];
		cspf_json_position(&d->line, &d->column, doc, d->pointer,
			d->at_key ? CSPF_JSON_POS_KEY : CSPF_JSON_POS_VALUE);
	}
	return r;
}
