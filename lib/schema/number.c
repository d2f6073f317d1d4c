#include "number.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/json.h"

/* Parse a JSON number lexeme (already known valid) into `out`. */
static int dec_parse(cspf_dec *out, const char *s)
{
	const char *p = s, *ip, *fp = NULL;
	size_t ni = 0, nf = 0, n, i;
	long e = 0;
	char *d;

	memset(out, 0, sizeof(*out));
	if (*p == '-') {
		out->neg = true;
		p++;
	}
	ip = p;
	while (*p >= '0' && *p <= '9')
		p++, ni++;
	if (*p == '.') {
		fp = ++p;
		while (*p >= '0' && *p <= '9')
			p++, nf++;
	}
	if (*p == 'e' || *p == 'E') {
		int eneg = 0;
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		while (*p >= '0' && *p <= '9') {
			/* Saturate: 1e999999999999 is simply enormous. */
			if (e < LONG_MAX / 20)
				e = e * 10 + (*p - '0');
			p++;
		}
		if (eneg)
			e = -e;
	}
	n = ni + nf;
	d = n < sizeof(out->small) ? out->small : (out->big = malloc(n + 1));
	if (!d)
		return -1;
	memcpy(d, ip, ni);
	if (nf)
		memcpy(d + ni, fp, nf);
	d[n] = '\0';
	e -= (long)nf;
	/* Strip leading zeros, then trailing zeros into the exponent. */
	for (i = 0; i < n && d[i] == '0'; i++)
		;
	d += i;
	n -= i;
	while (n && d[n - 1] == '0') {
		n--;
		e++;
	}
	if (!n) {
		e = 0;
		out->neg = false;
	}
	out->digits = d;
	out->ndigits = n;
	out->exp = e;
	return 0;
}

int cspf_dec_from_json(cspf_dec *out, const cJSON *number)
{
	const char *text = cspf_json_number_text(number);
	char tmp[64];

	if (text)
		return dec_parse(out, text);
	/*
	 * No lexeme: the value is exact.  %.17g round-trips any double;
	 * for the integers our parser leaves without text it is exact.
	 */
	if (!isfinite(number->valuedouble))
		snprintf(tmp, sizeof(tmp), "0");
	else if (number->valuedouble == floor(number->valuedouble) &&
		 fabs(number->valuedouble) < 1e17)
		snprintf(tmp, sizeof(tmp), "%.0f", number->valuedouble);
	else
		snprintf(tmp, sizeof(tmp), "%.17g", number->valuedouble);
	return dec_parse(out, tmp);
}

void cspf_dec_dispose(cspf_dec *d)
{
	free(d->big);
	d->big = NULL;
}

static int cmp_abs(const cspf_dec *a, const cspf_dec *b)
{
	long ma, mb;
	size_t i, n;

	if (!a->ndigits || !b->ndigits)
		return (a->ndigits != 0) - (b->ndigits != 0);
	/* Magnitude: position of the leading digit. */
	ma = (long)a->ndigits + a->exp;
	mb = (long)b->ndigits + b->exp;
	if (ma != mb)
		return ma < mb ? -1 : 1;
	n = a->ndigits > b->ndigits ? a->ndigits : b->ndigits;
	for (i = 0; i < n; i++) {
		char ca = i < a->ndigits ? a->digits[i] : '0';
		char cb = i < b->ndigits ? b->digits[i] : '0';
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return 0;
}

int cspf_dec_cmp(const cspf_dec *a, const cspf_dec *b)
{
	int c;

	if (a->neg != b->neg)
		return a->neg ? -1 : 1;
	c = cmp_abs(a, b);
	return a->neg ? -c : c;
}

bool cspf_dec_is_integer(const cspf_dec *d)
{
	return d->ndigits == 0 || d->exp >= 0;
}

/*
 * a mod b == 0 for a = A x 10^ea, b = B x 10^eb: scale both to the
 * smaller exponent and run a schoolbook long division of decimal digit
 * strings, keeping only the remainder.
 */
int cspf_dec_is_multiple(const cspf_dec *a, const cspf_dec *b)
{
	long e, sa, sb;
	size_t rlen = 0, blen, i, alen;
	unsigned char *r, *bd;
	int result;

	if (!a->ndigits)
		return 1;
	if (!b->ndigits)
		return 0;
	e = a->exp < b->exp ? a->exp : b->exp;
	sa = a->exp - e;
	sb = b->exp - e;
	/* Bound the work; past it a double answers (only absurd inputs). */
	if (sa > 100000 || sb > 100000) {
		double q = fabs(strtod(a->digits, NULL) / strtod(b->digits, NULL));
		return isfinite(q) && q == floor(q);
	}
	alen = a->ndigits + (size_t)sa;
	blen = b->ndigits + (size_t)sb;
	if (alen < blen)
		return 0; /* 0 < a < b */
	bd = malloc(blen);
	r = malloc(blen + 1);
	if (!bd || !r) {
		free(bd);
		free(r);
		return -1;
	}
	for (i = 0; i < blen; i++)
		bd[i] = i < b->ndigits ? (unsigned char)(b->digits[i] - '0') : 0;
	for (i = 0; i < alen; i++) {
		unsigned char digit = i < a->ndigits ?
			(unsigned char)(a->digits[i] - '0') : 0;
		/* r = r * 10 + digit, r kept without leading zeros */
		if (rlen || digit)
			r[rlen++] = digit;
		/* while r >= b: r -= b */
		for (;;) {
			size_t k;
			int c = 0;
			if (rlen < blen)
				break;
			if (rlen == blen) {
				for (k = 0; k < blen && !c; k++)
					c = (r[k] > bd[k]) - (r[k] < bd[k]);
				if (c < 0)
					break;
			}
			/* subtract, aligned at the right */
			{
				int borrow = 0;
				size_t off = rlen - blen, j;
				for (j = rlen; j-- > 0;) {
					int v = r[j] - borrow -
						(j >= off ? bd[j - off] : 0);
					borrow = v < 0;
					r[j] = (unsigned char)(v + (borrow ? 10 : 0));
				}
				for (j = 0; j < rlen && r[j] == 0; j++)
					;
				memmove(r, r + j, rlen - j);
				rlen -= j;
			}
		}
	}
	result = rlen == 0;
	free(bd);
	free(r);
	return result;
}

int cspf_number_cmp(const cJSON *a, const cJSON *b)
{
	cspf_dec da, db;
	int c;

	if (!cspf_json_number_text(a) && !cspf_json_number_text(b))
		return (a->valuedouble > b->valuedouble) -
			(a->valuedouble < b->valuedouble);
	if (cspf_dec_from_json(&da, a) < 0)
		return 0;
	if (cspf_dec_from_json(&db, b) < 0) {
		cspf_dec_dispose(&da);
		return 0;
	}
	c = cspf_dec_cmp(&da, &db);
	cspf_dec_dispose(&da);
	cspf_dec_dispose(&db);
	return c;
}

bool cspf_number_is_integer(const cJSON *n)
{
	cspf_dec d;
	bool r;

	if (!cspf_json_number_text(n))
		return n->valuedouble == floor(n->valuedouble);
	if (cspf_dec_from_json(&d, n) < 0)
		return false;
	r = cspf_dec_is_integer(&d);
	cspf_dec_dispose(&d);
	return r;
}
