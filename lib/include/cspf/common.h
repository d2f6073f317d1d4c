/*
 * cspf - common definitions of the public API.
 *
 * Every function returns an int: 0 on success, a negative CSPF_E* code on
 * failure, with details in cspf_error_last().  What comes back through an
 * `out` parameter belongs to the caller and is released with the matching
 * cspf_*_free(), which accepts NULL.
 */
#ifndef CSPF_COMMON_H
#define CSPF_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CSPF_VERSION_MAJOR 0
#define CSPF_VERSION_MINOR 1
#define CSPF_VERSION_PATCH 0
#define CSPF_VERSION "0.1.0"

/* Return codes. */
enum {
	CSPF_OK = 0,
	CSPF_ERROR = -1,     /* generic failure, see cspf_error_last() */
	CSPF_ENOTFOUND = -3, /* the thing asked for does not exist */
	CSPF_EEXISTS = -4,   /* it exists already */
	CSPF_EINVALID = -5,  /* the input is malformed */
	CSPF_ETOOBIG = -6,   /* a size or depth limit was hit */
	CSPF_EUNSUPPORTED = -7, /* valid, but not something cspf handles */
	CSPF_ECONFLICT = -8, /* a concurrent change got there first */
	CSPF_EAUTH = -9,     /* authentication or authorisation refused */
};

/* Classes of error, telling which part of cspf raised it. */
typedef enum {
	CSPF_ERRCLASS_NONE = 0,
	CSPF_ERRCLASS_NOMEMORY,
	CSPF_ERRCLASS_OS,     /* a system call failed; message has strerror */
	CSPF_ERRCLASS_INVALID, /* bad argument to a cspf function */
	CSPF_ERRCLASS_JSON,   /* malformed JSON document */
	CSPF_ERRCLASS_SCHEMA, /* a schema that cannot be compiled */
	CSPF_ERRCLASS_REGEX,
	CSPF_ERRCLASS_URI,
} cspf_errclass;

/*
 * The last error raised on this thread.  `file`, `pointer` may be NULL and
 * `line`/`column` 0 when not known.  Lent: valid until the next failing
 * cspf call on this thread.
 */
typedef struct cspf_error {
	const char *message;
	cspf_errclass klass;
	const char *file;
	unsigned int line;
	unsigned int column;
	const char *pointer; /* JSON pointer into `file`, if any */
} cspf_error;

const cspf_error *cspf_error_last(void);
void cspf_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
