/*
 * libFuzzer target for lib/json.  Any input must either parse or be
 * refused with a JSON-class error carrying line >= 1 and column >= 1 (an
 * input over max_size has no position).  A parsed tree must be a sound
 * cJSON tree: every node's JSON pointer leads back to it through
 * cspf_json_pointer_get(), and cspf_json_position() puts it on a byte
 * that can start such a value (its key's quote for CSPF_JSON_POS_KEY);
 * printing it with cJSON and parsing that again gives the same print.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/json.h"

#define MAX_SIZE 3000
#define MAX_DEPTH 32
#define MAX_POSITIONS 256 /* each costs a scan of the text */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	const cspf_json_doc *doc;
	const cJSON *root;
	const unsigned char *text;
	size_t len;
	char *ptr; /* the pointer being built */
	size_t cap;
	unsigned int positions;
};

/*
 * The byte offset of line:column, counted as cspf_json_offset_position()
 * counts them; (size_t)-1 when there is no such place.
 */
static size_t offset_of(const unsigned char *s, size_t len, unsigned int line,
	unsigned int column)
{
	unsigned int l = 1, c = 1;
	size_t i = 0;

	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		i = 3;
	for (;; i++) {
		if (l == line && c == column)
			return i;
		if (i >= len)
			return (size_t)-1;
		if (s[i] == '\n') {
			l++;
			c = 1;
		} else if (s[i] == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n') {
				l++;
				c = 1;
			}
		} else if ((s[i] & 0xC0) != 0x80) {
			/* a character starts at the next lead byte */
			size_t j = i + 1;

			while (j < len && (s[j] & 0xC0) == 0x80)
				j++;
			c++;
			i = j - 1;
		}
	}
}

static int starts_value(const cJSON *item, unsigned char c)
{
	switch (item->type & 0xFF) {
	case cJSON_Object:
		return c == '{';
	case cJSON_Array:
		return c == '[';
	case cJSON_String:
		return c == '"';
	case cJSON_Number:
		return c == '-' || (c >= '0' && c <= '9');
	case cJSON_True:
		return c == 't';
	case cJSON_False:
		return c == 'f';
	case cJSON_NULL:
		return c == 'n';
	default:
		return 0;
	}
}

static void check_node(
	struct walk *w, const cJSON *item, size_t plen, int member)
{
	unsigned int line, column;
	size_t off;

	if (cspf_json_pointer_get(w->root, w->ptr) != item)
		abort();
	if (cJSON_IsString(item)) {
		if (!item->valuestring ||
			cspf_json_strlen(item) < strlen(item->valuestring))
			abort();
	}
	if (cJSON_IsNumber(item) && !cspf_json_number_text(item)) {
		/* no text: an exact integer */
		if (!(fabs(item->valuedouble) <= 9007199254740992.0) ||
			item->valuedouble != floor(item->valuedouble))
			abort();
	}
	if (w->positions >= MAX_POSITIONS)
		return;
	w->positions++;
	if (cspf_json_position(
		    &line, &column, w->doc, w->ptr, CSPF_JSON_POS_VALUE) != 0 ||
		line < 1 || column < 1)
		abort();
	off = offset_of(w->text, w->len, line, column);
	if (off >= w->len || !starts_value(item, w->text[off]))
		abort();
	if (cspf_json_position(
		    &line, &column, w->doc, w->ptr, CSPF_JSON_POS_KEY) != 0)
		abort();
	off = offset_of(w->text, w->len, line, column);
	if (off >= w->len)
		abort();
	if (member && w->text[off] != '"')
		abort();
	if (!member && !starts_value(item, w->text[off]))
		abort();
	(void)plen;
}

/* Append "/token" (escaped) to w->ptr at plen; returns the new length. */
static size_t push(struct walk *w, size_t plen, const char *tok, size_t n)
{
	size_t i;

	if (plen + 2 * n + 2 > w->cap)
		abort(); /* cap is sized for the worst case */
	w->ptr[plen++] = '/';
	for (i = 0; i < n; i++) {
		if (tok[i] == '~' || tok[i] == '/') {
			w->ptr[plen++] = '~';
			w->ptr[plen++] = tok[i] == '~' ? '0' : '1';
		} else {
			w->ptr[plen++] = tok[i];
		}
	}
	w->ptr[plen] = '\0';
	return plen;
}

static void walk(struct walk *w, const cJSON *item, size_t plen, int member)
{
	const cJSON *c;
	char idx[24];
	size_t i = 0, n;

	check_node(w, item, plen, member);
	for (c = item->child; c; c = c->next, i++) {
		if (cJSON_IsObject(item)) {
			n = push(w, plen, c->string, strlen(c->string));
			walk(w, c, n, 1);
		} else {
			int k = snprintf(idx, sizeof(idx), "%zu", i);

			n = push(w, plen, idx, (size_t)k);
			walk(w, c, n, 0);
		}
		w->ptr[plen] = '\0';
	}
}

/* Print with cJSON, parse that again: the same print comes out. */
static void round_trip(const cJSON *root)
{
	cspf_json_options opts = CSPF_JSON_OPTIONS_INIT;
	cspf_json_doc *again = NULL;
	char *p1, *p2;

	p1 = cJSON_PrintUnformatted(root);
	if (!p1)
		return; /* out of memory */
	opts.max_depth = MAX_DEPTH;
	if (cspf_json_parse(&again, p1, strlen(p1), "print", &opts) != 0)
		abort();
	p2 = cJSON_PrintUnformatted(cspf_json_doc_root(again));
	if (!p2 || strcmp(p1, p2) != 0)
		abort();
	cJSON_free(p1);
	cJSON_free(p2);
	cspf_json_doc_free(again);
}

/* A pointer made of input bytes: the two lookups agree. */
static void odd_pointer(
	const cspf_json_doc *doc, const uint8_t *data, size_t size)
{
	char ptr[24];
	size_t n = size < sizeof(ptr) - 2 ? size : sizeof(ptr) - 2, i;
	unsigned int line, column;
	int r;

	ptr[0] = '/';
	for (i = 0; i < n && data[i]; i++)
		ptr[i + 1] = (char)data[i];
	ptr[i + 1] = '\0';
	r = cspf_json_position(&line, &column, doc, ptr, CSPF_JSON_POS_VALUE);
	if (r != 0 && r != CSPF_ENOTFOUND && r != CSPF_EINVALID)
		abort();
	if ((r == 0) !=
		(cspf_json_pointer_get(cspf_json_doc_root(doc), ptr) != NULL))
		abort();
	if (line < 1 || column < 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cspf_json_options opts = CSPF_JSON_OPTIONS_INIT;
	cspf_json_doc *doc = NULL;
	const cspf_error *e;
	struct walk w;
	int r;

	opts.max_size = MAX_SIZE;
	opts.max_depth = MAX_DEPTH;
	r = cspf_json_parse(&doc, (const char *)data, size, "fuzz.json", &opts);
	if (r < 0) {
		e = cspf_error_last();
		if (doc || !e || !e->message || !*e->message)
			abort();
		if (r == CSPF_ETOOBIG && size > MAX_SIZE)
			return 0;
		if (r != CSPF_EINVALID && r != CSPF_ETOOBIG &&
			r != CSPF_EUNSUPPORTED)
			abort();
		if (e->klass != CSPF_ERRCLASS_JSON || e->line < 1 ||
			e->column < 1)
			abort();
		return 0;
	}
	memset(&w, 0, sizeof(w));
	w.doc = doc;
	w.root = cspf_json_doc_root(doc);
	w.text = (const unsigned char *)cspf_json_doc_text(doc, &w.len);
	if (!w.root || w.len != size || memcmp(w.text, data, size) != 0)
		abort();
	w.cap = 2 * size + 64;
	w.ptr = malloc(w.cap);
	if (w.ptr) {
		w.ptr[0] = '\0';
		walk(&w, w.root, 0, 0);
		free(w.ptr);
	}
	round_trip(w.root);
	odd_pointer(doc, data, size);
	cspf_json_doc_free(doc);
	return 0;
}
