/*
 * Exact arithmetic on JSON numbers, for the few keywords where a double
 * would give a wrong answer: integers beyond 2^53 and decimal fractions
 * (multipleOf 0.01).  A number is held as digits x 10^exp.
 */
#ifndef CSPF_SCHEMA_NUMBER_H
#define CSPF_SCHEMA_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

typedef struct cspf_dec {
	bool neg;
	const char *digits; /* no leading or trailing zeros; "" for zero */
	size_t ndigits;
	long exp;           /* value = digits x 10^exp */
	char small[40];     /* storage for short numbers */
	char *big;          /* malloc'd storage for long ones */
} cspf_dec;

/* From a number node (its lexeme when it kept one). 0, or -1 on OOM. */
int cspf_dec_from_json(cspf_dec *out, const cJSON *number);
void cspf_dec_dispose(cspf_dec *d);

/* -1, 0, 1 as a < b, a == b, a > b. */
int cspf_dec_cmp(const cspf_dec *a, const cspf_dec *b);
bool cspf_dec_is_integer(const cspf_dec *d);
/* Is `a` an integer multiple of `b` (b > 0)?  1 yes, 0 no, -1 on OOM. */
int cspf_dec_is_multiple(const cspf_dec *a, const cspf_dec *b);

/* Comparisons of two number nodes, exact. */
int cspf_number_cmp(const cJSON *a, const cJSON *b);
bool cspf_number_is_integer(const cJSON *n);

#endif
