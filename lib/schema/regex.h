/*
 * Regular expressions for "pattern", "patternProperties" and the "regex"
 * format: ECMA-262 syntax and semantics, run by PCRE2 (with JIT when the
 * platform has it).  The differences that remain are listed in
 * docs/regex.md.
 */
#ifndef CSPF_SCHEMA_REGEX_H
#define CSPF_SCHEMA_REGEX_H

#include <stddef.h>

typedef struct cspf_regex cspf_regex;

/*
 * Compile an ECMA-262 pattern (UTF-8, `len` bytes).  On failure returns
 * CSPF_EINVALID with cspf_error_last() naming the offset and the reason.
 * A compiled regex is immutable and may be used from many threads.
 */
int cspf_regex_compile(cspf_regex **out, const char *pattern, size_t len);

/*
 * Search `s` (UTF-8, `len` bytes) for a match anywhere, as ECMA-262's
 * RegExp.prototype.test does (no implied anchors).  Returns 1 on a match,
 * 0 on none, negative on an engine failure (match limit hit), with the
 * error raised.  Thread-safe.
 */
int cspf_regex_test(const cspf_regex *re, const char *s, size_t len);

void cspf_regex_free(cspf_regex *re);

#endif
