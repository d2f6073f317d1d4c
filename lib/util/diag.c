#include "cspf/diag.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s, int *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

static void diag_dispose(cspf_diag *d)
{
	free(d->rule);
	free(d->file);
	free(d->pointer);
	free(d->keyword);
	free(d->schema_location);
	free(d->message);
	free(d->fingerprint);
}

cspf_diag *cspf_diags_add(cspf_diags *list, cspf_severity sev,
	const char *rule, const char *file, const char *pointer,
	const char *keyword, const char *schema_location,
	const char *message)
{
	cspf_diag *d;
	int fail = 0;

	if (list->count == list->alloc) {
		size_t n = list->alloc ? list->alloc * 2 : 8;
		cspf_diag *p = realloc(list->items, n * sizeof(*p));
		if (!p)
			return NULL;
		list->items = p;
		list->alloc = n;
	}
	d = &list->items[list->count];
	memset(d, 0, sizeof(*d));
	d->severity = sev;
	d->rule = dup_or_null(rule, &fail);
	d->file = dup_or_null(file, &fail);
	d->pointer = dup_or_null(pointer, &fail);
	d->keyword = dup_or_null(keyword, &fail);
	d->schema_location = dup_or_null(schema_location, &fail);
	d->message = dup_or_null(message, &fail);
	if (fail) {
		diag_dispose(d);
		return NULL;
	}
	list->count++;
	return d;
}

int cspf_diags_move(cspf_diags *to, cspf_diags *from)
{
	size_t i;

	if (!to->count) {
		cspf_diags tmp = *to;
		*to = *from;
		*from = tmp;
		return 0;
	}
	if (to->count + from->count > to->alloc) {
		size_t n = to->count + from->count;
		cspf_diag *p = realloc(to->items, n * sizeof(*p));
		if (!p)
			return -1;
		to->items = p;
		to->alloc = n;
	}
	for (i = 0; i < from->count; i++)
		to->items[to->count++] = from->items[i];
	from->count = 0;
	return 0;
}

void cspf_diags_keep_rule(cspf_diags *list, const char *rule)
{
	size_t i, k = 0;

	for (i = 0; i < list->count; i++) {
		if (list->items[i].rule && !strcmp(list->items[i].rule, rule))
			list->items[k++] = list->items[i];
		else
			diag_dispose(&list->items[i]);
	}
	list->count = k;
}

void cspf_diags_clear(cspf_diags *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		diag_dispose(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->alloc = 0;
}

static int cmp_diag(const void *a, const void *b)
{
	const cspf_diag *x = a, *y = b;
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");

	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return strcmp(x->rule ? x->rule : "", y->rule ? y->rule : "");
}

void cspf_diags_sort(cspf_diags *list)
{
	if (list && list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items),
			cmp_diag);
}
