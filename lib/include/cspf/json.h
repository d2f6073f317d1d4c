/*
 * cspf - strict JSON (RFC 8259) over cJSON.
 *
 * The parser accepts exactly RFC 8259 JSON text, plus an optional UTF-8
 * byte order mark which it skips.  It rejects: trailing garbage, duplicate
 * object keys, invalid UTF-8 (overlong forms, surrogates, > U+10FFFF),
 * unpaired surrogates in \u escapes, raw control characters in strings,
 * nesting deeper than max_depth, documents larger than max_size, and the
 * escape \u0000 inside object keys (cJSON keys are C strings).
 *
 * The tree is an ordinary cJSON tree, with two additions readers may use
 * through the accessors below:
 *   - a string node may contain U+0000; its byte length comes from
 *     cspf_json_strlen();
 *   - a number node whose value a double cannot carry exactly (a fraction,
 *     an exponent, or an integer beyond 2^53) keeps its source lexeme,
 *     returned by cspf_json_number_text().
 *
 * The tree belongs to its document, which allocates all of it at once:
 * never cJSON_Delete(), detach, replace or cJSON_Duplicate() its items
 * (a duplicate would lose the lengths of strings holding U+0000); free
 * the document with cspf_json_doc_free().
 *
 * Positions are not stored: cspf_json_position() finds the line and column
 * of any JSON pointer by scanning the retained source text, on demand, so
 * the fast path pays nothing for them.
 */
#ifndef CSPF_JSON_H
#define CSPF_JSON_H

#include <cjson/cJSON.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CSPF_JSON_DEFAULT_MAX_SIZE ((size_t)16 * 1024 * 1024)
#define CSPF_JSON_DEFAULT_MAX_DEPTH 512u
#define CSPF_JSON_MAX_DEPTH_LIMIT 10000u /* hard ceiling for max_depth */

typedef struct cspf_json_options {
	unsigned int version;
	size_t max_size;        /* bytes; 0 means the default */
	unsigned int max_depth; /* nesting levels; 0 means the default */
} cspf_json_options;

#define CSPF_JSON_OPTIONS_VERSION 1
#define CSPF_JSON_OPTIONS_INIT { CSPF_JSON_OPTIONS_VERSION, 0, 0 }

/* A parsed document: the cJSON tree, its source text and its name. */
typedef struct cspf_json_doc cspf_json_doc;

/*
 * Parse `len` bytes at `buf`.  `name` (may be NULL) is used in errors and
 * kept as the document's name.  The text is copied.  On a syntax error
 * returns CSPF_EINVALID (CSPF_ETOOBIG for limits) with cspf_error_last()
 * giving file, line, column (1-based; the column counts characters, not
 * bytes) and a message saying what was expected.
 */
int cspf_json_parse(cspf_json_doc **out, const char *buf, size_t len,
	const char *name, const cspf_json_options *opts);

/*
 * Like cspf_json_parse() but takes ownership of `buf`, which must come from
 * malloc() and have at least len + 1 bytes allocated; it is freed on
 * failure too.  Saves a copy on the fast path.
 */
int cspf_json_parse_owned(cspf_json_doc **out, char *buf, size_t len,
	const char *name, const cspf_json_options *opts);

/*
 * Read and parse a file.  Errors: CSPF_ENOTFOUND (no such file),
 * CSPF_ERROR with class OS (unreadable, a directory), CSPF_ETOOBIG (over
 * max_size, checked before reading), or the parse errors above.
 */
int cspf_json_load_file(cspf_json_doc **out, const char *path,
	const cspf_json_options *opts);

void cspf_json_doc_free(cspf_json_doc *doc);

/* Getters: lent, valid while the document lives. */
const cJSON *cspf_json_doc_root(const cspf_json_doc *doc);
const char *cspf_json_doc_name(const cspf_json_doc *doc);
const char *cspf_json_doc_text(const cspf_json_doc *doc, size_t *len_out);

/* Where to point within a member: at its value, or at its key. */
typedef enum {
	CSPF_JSON_POS_VALUE = 0,
	CSPF_JSON_POS_KEY = 1, /* the key of the last segment, if a member */
} cspf_json_pos_kind;

/*
 * Line and column (1-based, column in characters) of the value at JSON
 * pointer `pointer` (RFC 6901, "" is the root).  When the pointer leads
 * outside the document, gives the position of the deepest value it does
 * reach and returns CSPF_ENOTFOUND.
 */
int cspf_json_position(unsigned int *line, unsigned int *column,
	const cspf_json_doc *doc, const char *pointer, cspf_json_pos_kind kind);

/* Line and column of a byte offset into the source text. */
void cspf_json_offset_position(unsigned int *line, unsigned int *column,
	const char *text, size_t len, size_t offset);

/* Byte length of a string node (which may contain U+0000). */
size_t cspf_json_strlen(const cJSON *string_item);

/*
 * The source lexeme of a number node whose value a double does not carry
 * exactly, or NULL when valuedouble is exact.
 */
const char *cspf_json_number_text(const cJSON *number_item);

/*
 * Follow a JSON pointer (RFC 6901) from `root`.  Returns NULL when it does
 * not lead anywhere or is malformed.  Lent.
 */
const cJSON *cspf_json_pointer_get(const cJSON *root, const char *pointer);

#ifdef __cplusplus
}
#endif
#endif
