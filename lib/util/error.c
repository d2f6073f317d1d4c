#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/*
 * The error is kept in fixed thread-local storage so that raising one
 * never allocates (and works when memory is short).
 */
static _Thread_local struct {
	cspf_error pub;
	char message[1024];
	char file[512];
	char pointer[512];
} last;

static void vset(cspf_errclass klass, const char *file, unsigned int line,
	unsigned int column, const char *pointer, const char *fmt,
	va_list ap, const char *suffix)
{
	size_t n;

	vsnprintf(last.message, sizeof(last.message), fmt, ap);
	if (suffix) {
		n = strlen(last.message);
		snprintf(last.message + n, sizeof(last.message) - n, ": %s",
			suffix);
	}
	last.pub.message = last.message;
	last.pub.klass = klass;
	last.pub.line = line;
	last.pub.column = column;
	last.pub.file = NULL;
	last.pub.pointer = NULL;
	if (file) {
		snprintf(last.file, sizeof(last.file), "%s", file);
		last.pub.file = last.file;
	}
	if (pointer) {
		snprintf(last.pointer, sizeof(last.pointer), "%s", pointer);
		last.pub.pointer = last.pointer;
	}
}

int cspf_error_set(int code, cspf_errclass klass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(klass, NULL, 0, 0, NULL, fmt, ap, NULL);
	va_end(ap);
	return code;
}

int cspf_error_set_at(int code, cspf_errclass klass, const char *file,
	unsigned int line, unsigned int column, const char *pointer,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(klass, file, line, column, pointer, fmt, ap, NULL);
	va_end(ap);
	return code;
}

int cspf_error_set_os(const char *fmt, ...)
{
	va_list ap;
	int err = errno;
	char sbuf[256];
	const char *s;

	/* GNU strerror_r may return a static string instead of filling. */
	s = strerror_r(err, sbuf, sizeof(sbuf));
	va_start(ap, fmt);
	vset(CSPF_ERRCLASS_OS, NULL, 0, 0, NULL, fmt, ap, s);
	va_end(ap);
	if (err == ENOENT || err == ENOTDIR)
		return CSPF_ENOTFOUND;
	return CSPF_ERROR;
}

int cspf_error_set_oom(void)
{
	last.pub.message = "out of memory";
	last.pub.klass = CSPF_ERRCLASS_NOMEMORY;
	last.pub.file = last.pub.pointer = NULL;
	last.pub.line = last.pub.column = 0;
	return CSPF_ERROR;
}

const cspf_error *cspf_error_last(void)
{
	if (!last.pub.message)
		return NULL;
	return &last.pub;
}

void cspf_error_clear(void)
{
	memset(&last.pub, 0, sizeof(last.pub));
}
