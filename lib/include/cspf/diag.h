/*
 * cspf - diagnostics: findings about the user's documents.
 *
 * A finding (a schema violation, a policy breach) is data, not an error:
 * a call that finds problems still returns 0 and fills a cspf_diags list.
 */
#ifndef CSPF_DIAG_H
#define CSPF_DIAG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	CSPF_SEVERITY_ERROR = 0,
	CSPF_SEVERITY_WARNING,
	CSPF_SEVERITY_NOTE,
} cspf_severity;

typedef struct cspf_diag {
	cspf_severity severity;
	char *rule;            /* stable rule id, e.g. "schema", "json" */
	char *file;            /* may be NULL */
	unsigned int line;     /* 1-based, 0 when unknown */
	unsigned int column;   /* 1-based, in characters, 0 when unknown */
	char *pointer;         /* JSON pointer of the instance location */
	char *keyword;         /* e.g. "required"; NULL outside schemas */
	char *schema_location; /* absolute keyword location (URI#/ptr) */
	char *message;         /* for a person */
	int at_key;            /* the finding is about the member's name at
				* `pointer`, not its value: point at the key */
	char *fingerprint;     /* stable hex ID of what was found (a secret's
				* BLAKE2b), for allowlists and SARIF's
				* partialFingerprints; NULL for most rules */
} cspf_diag;

typedef struct cspf_diags {
	cspf_diag *items;
	size_t count;
	size_t alloc;
} cspf_diags;

#define CSPF_DIAGS_INIT { NULL, 0, 0 }

/*
 * Append a diagnostic.  Every string is copied (NULL allowed).  Returns
 * the new entry (owned by the list) or NULL when out of memory.
 */
cspf_diag *cspf_diags_add(cspf_diags *list, cspf_severity sev,
	const char *rule, const char *file, const char *pointer,
	const char *keyword, const char *schema_location,
	const char *message);

/* Move every entry of `from` to the end of `to`; `from` is left empty. */
int cspf_diags_move(cspf_diags *to, cspf_diags *from);

/* Drop every entry whose rule is not `rule`. */
void cspf_diags_keep_rule(cspf_diags *list, const char *rule);

/* Release the entries; the list can be reused. */
void cspf_diags_clear(cspf_diags *list);

/* In reading order: by file, line, column, then rule id. */
void cspf_diags_sort(cspf_diags *list);

#ifdef __cplusplus
}
#endif
#endif
