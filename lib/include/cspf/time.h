/*
 * Times and durations as the registry writes them: RFC 3339 date-times
 * (UTC or with an offset) and ISO 8601 durations (P180D, P6M, PT12H).
 */
#ifndef CSPF_TIME_H
#define CSPF_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * "2026-06-01T09:00:00Z" (fractions of a second ignored, offsets applied)
 * or a full date "2026-06-01" (midnight UTC) into seconds since the epoch.
 * 0 on success, -1 when it is neither.
 */
int cspf_time_parse(int64_t *out, const char *s);

/* `t` as "2026-06-01T09:00:00Z" into out. */
#define CSPF_TIME_BUFSIZE 32
void cspf_time_format(char out[CSPF_TIME_BUFSIZE], int64_t t);

/*
 * An ISO 8601 duration added to `from`: years and months move the
 * calendar (P6M from 31 August is 28 or 29 February, as people mean it),
 * weeks, days, hours, minutes and seconds add their seconds.  0 on
 * success, -1 when `s` is not a duration.
 */
int cspf_duration_add(int64_t *out, int64_t from, const char *s);

/* Days from `a` to `b`, rounded down (negative when b is before a). */
int64_t cspf_time_days(int64_t a, int64_t b);

#endif
