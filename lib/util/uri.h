/*
 * URIs (RFC 3986): strict parsing, reference resolution, and the helpers
 * the schema engine needs for $id / $ref.
 */
#ifndef CSPF_UTIL_URI_H
#define CSPF_UTIL_URI_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The five components of a URI reference, as spans into the parsed text
 * (not NUL-terminated; `has_*` says whether the component is present at
 * all, which differs from present-but-empty: "a?" has an empty query).
 */
typedef struct cspf_uri {
	const char *scheme;    size_t scheme_len;    bool has_scheme;
	const char *authority; size_t authority_len; bool has_authority;
	const char *path;      size_t path_len;
	const char *query;     size_t query_len;     bool has_query;
	const char *fragment;  size_t fragment_len;  bool has_fragment;
} cspf_uri;

/*
 * Parse `s` as an RFC 3986 URI-reference (relative references allowed).
 * Every character must be allowed by the grammar, percent-escapes must
 * have two hex digits, the authority's host must be a valid reg-name,
 * IPv4address or IP-literal, the port digits.  Returns 0, or -1 when `s`
 * is not a URI-reference (no error raised: callers use it as a test).
 */
int cspf_uri_parse(cspf_uri *out, const char *s, size_t len);

/* True when `s` is an absolute URI (RFC 3986 "URI": scheme required). */
bool cspf_uri_is_uri(const char *s, size_t len);
/* RFC 3986 IPv4address (no leading zeros) and IPv6address (the text
 * forms of RFC 4291 section 2.2), as the "ipv4" and "ipv6" formats want. */
bool cspf_uri_is_ipv4(const char *s, size_t len);
bool cspf_uri_is_ipv6(const char *s, size_t len);

/* True when `s` is a URI-reference. */
bool cspf_uri_is_reference(const char *s, size_t len);

/*
 * Resolve reference `ref` against `base` (RFC 3986 section 5.2, with
 * remove_dot_segments).  `base` may be NULL or "" when `ref` is absolute;
 * a relative `base` is used as it is (the result is then relative too,
 * which the schema engine needs for schemas with no absolute id).
 * Returns a malloc'd string, or NULL when either does not parse or memory
 * runs out.
 */
char *cspf_uri_resolve(const char *base, const char *ref);

/*
 * Split off the fragment: returns a malloc'd copy of `uri` without
 * "#fragment", and sets *fragment to point into `uri` just after the '#'
 * (or NULL when there is none).
 */
char *cspf_uri_without_fragment(const char *uri, const char **fragment);

/*
 * Percent-decode `len` bytes of `s` into a malloc'd NUL-terminated string
 * (used on fragments that hold JSON pointers).  NULL on a bad escape.
 */
char *cspf_uri_percent_decode(const char *s, size_t len);

#endif
