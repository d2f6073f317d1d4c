/*
 * Raising errors inside libcspf.  Each thread has one last error; raising
 * a new one replaces it.  Callers pass errors up unchanged: only the place
 * that knows what went wrong raises.
 */
#ifndef CSPF_UTIL_ERROR_H
#define CSPF_UTIL_ERROR_H

#include "cspf/common.h"

/* Raise; returns `code` so that `return cspf_error_set(...)` reads well. */
int cspf_error_set(int code, cspf_errclass klass, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Raise with a location in a document. */
int cspf_error_set_at(int code, cspf_errclass klass, const char *file,
	unsigned int line, unsigned int column, const char *pointer,
	const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Raise class OS with ": strerror(errno)" appended; code from errno. */
int cspf_error_set_os(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Out of memory: never allocates. */
int cspf_error_set_oom(void);

#endif
