/*
 * libFuzzer target for lib/schema/regex.c: the input is a pattern and a
 * subject separated by the first NUL byte (all pattern when there is
 * none).  Any pattern must either compile or be refused with
 * CSPF_EINVALID and a message; a compiled one must answer 0 or 1 on any
 * valid UTF-8 subject, or report a limit, and never crash or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/common.h"
#include "schema/regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	const char *subj = nul ? s + plen + 1 : "";
	size_t slen = nul ? size - plen - 1 : 0;
	cspf_regex *re;
	int rc;

	rc = cspf_regex_compile(&re, s, plen);
	if (rc < 0) {
		if (rc != CSPF_EINVALID && rc != CSPF_ERROR)
			abort();
		if (!cspf_error_last() || !cspf_error_last()->message)
			abort();
		return 0;
	}
	rc = cspf_regex_test(re, subj, slen);
	if (rc != 0 && rc != 1 && rc != CSPF_ETOOBIG && rc != CSPF_EINVALID)
		abort();
	/* the same answer twice: the per-thread cache holds no state */
	if (rc >= 0 && cspf_regex_test(re, subj, slen) != rc)
		abort();
	cspf_regex_free(re);
	return 0;
}
