#include "cspf/time.h"

#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : n[m - 1];
}

static int digits(const char *s, size_t n, unsigned *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

int cspf_time_parse(int64_t *out, const char *s)
{
	unsigned y, mo, d, h = 0, mi = 0, se = 0, oh, om;
	size_t n = strlen(s), i;
	int64_t t, off = 0;

	if (n < 10 || digits(s, 4, &y) || s[4] != '-' ||
		digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
		mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	if (n > 10) {
		if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || n < 19 ||
			digits(s + 11, 2, &h) || s[13] != ':' ||
			digits(s + 14, 2, &mi) || s[16] != ':' ||
			digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 60)
			return -1;
		i = 19;
		if (i < n && s[i] == '.') {
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				;
		}
		if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
			off = 0;
		} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') &&
			   !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
			   !digits(s + i + 4, 2, &om) && oh < 24 && om < 60) {
			off = ((int64_t)oh * 60 + om) * 60;
			if (s[i] == '-')
				off = -off;
		} else {
			return -1;
		}
	}
	t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + (se == 60 ? 59 : se);
	*out = t - off;
	return 0;
}

void cspf_time_format(char out[CSPF_TIME_BUFSIZE], int64_t t)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, y;
	int64_t secs = t - days * 86400;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		snprintf(out, CSPF_TIME_BUFSIZE, "%04d-%02u-%02uT%02d:%02d:%02dZ",
			(int)y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60),
			(int)(secs % 60));
		return;
	}
	/* The common case by hand: a digest formats one per event. */
	{
		unsigned int v[6] = { (unsigned)y, m, d,
			(unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
			(unsigned)(secs % 60) };
		char *o = out;

		*o++ = (char)('0' + v[0] / 1000);
		*o++ = (char)('0' + v[0] / 100 % 10);
		*o++ = (char)('0' + v[0] / 10 % 10);
		*o++ = (char)('0' + v[0] % 10);
		*o++ = '-';
		*o++ = (char)('0' + v[1] / 10);
		*o++ = (char)('0' + v[1] % 10);
		*o++ = '-';
		*o++ = (char)('0' + v[2] / 10);
		*o++ = (char)('0' + v[2] % 10);
		*o++ = 'T';
		*o++ = (char)('0' + v[3] / 10);
		*o++ = (char)('0' + v[3] % 10);
		*o++ = ':';
		*o++ = (char)('0' + v[4] / 10);
		*o++ = (char)('0' + v[4] % 10);
		*o++ = ':';
		*o++ = (char)('0' + v[5] / 10);
		*o++ = (char)('0' + v[5] % 10);
		*o++ = 'Z';
		*o = '\0';
	}
}

int cspf_duration_add(int64_t *out, int64_t from, const char *s)
{
	int64_t years = 0, months = 0, secs = 0, v;
	int time_part = 0, any = 0;
	const char *p = s;

	if (*p++ != 'P')
		return -1;
	while (*p) {
		if (*p == 'T') {
			if (time_part)
				return -1;
			time_part = 1;
			p++;
			continue;
		}
		if (*p < '0' || *p > '9')
			return -1;
		for (v = 0; *p >= '0' && *p <= '9'; p++) {
			if (v > 100000000)
				return -1;
			v = v * 10 + (*p - '0');
		}
		switch (*p) {
		case 'Y': if (time_part) return -1; years += v; break;
		case 'M': if (time_part) secs += v * 60; else months += v;
			break;
		case 'W': if (time_part) return -1; secs += v * 7 * 86400;
			break;
		case 'D': if (time_part) return -1; secs += v * 86400; break;
		case 'H': if (!time_part) return -1; secs += v * 3600; break;
		case 'S': if (!time_part) return -1; secs += v; break;
		default: return -1;
		}
		p++;
		any = 1;
	}
	if (!any)
		return -1;
	if (years || months) {
		int64_t days = from >= 0 ? from / 86400 : (from - 86399) / 86400;
		int64_t rest = from - days * 86400, y, total;
		unsigned m, d;

		civil_from_days(days, &y, &m, &d);
		total = y * 12 + (m - 1) + years * 12 + months;
		y = total >= 0 ? total / 12 : (total - 11) / 12;
		m = (unsigned)(total - y * 12) + 1;
		if (d > days_in_month(y, m))
			d = days_in_month(y, m);
		from = days_from_civil(y, m, d) * 86400 + rest;
	}
	*out = from + secs;
	return 0;
}

int64_t cspf_time_days(int64_t a, int64_t b)
{
	int64_t s = b - a;

	return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}
