/*
 * cspf - JSON Schema draft 2020-12.
 *
 * Drafts 4, 6 and 7 are understood too, by their "$schema".
 *
 * A schema set holds schema documents by URI (nothing is ever fetched from
 * the network: every $ref must resolve to a document added to the set or
 * built into cspf, such as the 2020-12 meta-schemas).  A schema compiled
 * from a set is immutable and may validate documents from many threads at
 * once.  Compiled schemas borrow from their set: free them first.
 */
#ifndef CSPF_SCHEMA_H
#define CSPF_SCHEMA_H

#include <cjson/cJSON.h>
#include "common.h"
#include "diag.h"
#include "json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cspf_schema_set cspf_schema_set;
typedef struct cspf_schema cspf_schema;

typedef struct cspf_schema_options {
	unsigned int version;
	/*
	 * Treat "format" as an assertion for the formats cspf knows (the
	 * behaviour of ajv-formats).  Off, format is an annotation only, as
	 * the specification's default says.
	 */
	int format_assert;
	/*
	 * Check the schema against its meta-schema before compiling, and
	 * refuse it with the meta-schema's findings as the error.
	 */
	int check_metaschema;
} cspf_schema_options;

#define CSPF_SCHEMA_OPTIONS_VERSION 1
#define CSPF_SCHEMA_OPTIONS_INIT { CSPF_SCHEMA_OPTIONS_VERSION, 1, 1 }

int cspf_schema_set_new(cspf_schema_set **out);
void cspf_schema_set_free(cspf_schema_set *set);

/*
 * The dialect of schema documents added from now on that have no
 * "$schema" (by default draft 2020-12).  Drafts 4, 6 and 7 are supported
 * too, for schemas users bring (SARIF's is draft-04): give their
 * meta-schema URI, e.g. "http://json-schema.org/draft-07/schema#".
 */
int cspf_schema_set_default_dialect(cspf_schema_set *set,
	const char *dialect);

/*
 * Add a schema document.  `uri` is the URI it is retrieved by (may be
 * NULL: then its own "$id" names it, or, without one, a URI made from the
 * document's name).  Every embedded "$id" is registered too.  The set takes
 * ownership of `doc`, on failure too.  Errors: CSPF_EEXISTS when a URI is
 * already taken by another document, CSPF_EINVALID for a malformed $id.
 */
int cspf_schema_set_add_doc(cspf_schema_set *set, cspf_json_doc *doc,
	const char *uri);

/* Like cspf_schema_set_add_doc(), but borrows `root`, which must outlive
 * the set. */
int cspf_schema_set_add_json(cspf_schema_set *set, const cJSON *root,
	const char *uri);

/*
 * The URI a document was registered under (its $id resolved, or `uri`),
 * for passing to cspf_schema_compile().  Lent.
 */
const char *cspf_schema_set_last_uri(const cspf_schema_set *set);

/*
 * Compile the schema at `uri` (which may carry a fragment: a JSON pointer
 * or an anchor).  On failure returns a negative code with the reason,
 * schema file and JSON pointer in cspf_error_last(); when the meta-schema
 * check fails, the findings go to `metadiags` if it is not NULL.
 */
int cspf_schema_compile(cspf_schema **out, cspf_schema_set *set,
	const char *uri, const cspf_schema_options *opts,
	cspf_diags *metadiags);

void cspf_schema_free(cspf_schema *schema);

/*
 * Validate `instance`.  Every violation is appended to `out` (which may be
 * NULL when only the verdict matters: then evaluation stops early) with
 * the instance pointer, the keyword's absolute location and a message;
 * `file` (may be NULL) is copied into each.  Line and column are left 0.
 * Returns 0 when valid, 1 when invalid, negative on failure.
 */
int cspf_schema_validate(cspf_diags *out, const cspf_schema *schema,
	const cJSON *instance, const char *file);

/* As cspf_schema_validate() on a document, filling in line and column. */
int cspf_schema_validate_doc(cspf_diags *out, const cspf_schema *schema,
	const cspf_json_doc *doc);

#ifdef __cplusplus
}
#endif
#endif
