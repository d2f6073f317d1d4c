/*
 * Format checks of JSON Schema ("format" keyword), each to its RFC.
 * Used as assertions when the schema engine is told to (as ajv-formats
 * does), and otherwise only as annotations.
 */
#ifndef CSPF_SCHEMA_FORMAT_H
#define CSPF_SCHEMA_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* Checks `len` bytes of UTF-8 at `s` (may contain NUL); true if valid. */
typedef bool (*cspf_format_fn)(const char *s, size_t len);

/*
 * The checker for a format name, or NULL for a format cspf does not know
 * (unknown formats are annotations only, as the specification says).
 * Known: date-time, date, time, duration, email, hostname, ipv4, ipv6,
 * uri, uri-reference, uuid, regex, json-pointer, relative-json-pointer.
 */
cspf_format_fn cspf_format_lookup(const char *name);

/* A short description of what the format wants, for error messages. */
const char *cspf_format_describe(const char *name);

#endif
