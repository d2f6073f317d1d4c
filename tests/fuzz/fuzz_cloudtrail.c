/*
 * libFuzzer target for the digest's cloudtrail source: any bytes as a
 * CloudTrail log file (a memfd, read through /proc/self/fd/N).  No input
 * may crash, leak or fail the call; every finding names the file and the
 * rule; the counts add up; and the same bytes gzip'd read the same.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>

#include "digest/digest_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t events;
	uint64_t sum; /* over the strings' lengths */
};

static int count(const cspf_event *ev, void *payload)
{
	struct seen *s = payload;
	const char *strs[] = { ev->actor, ev->person, ev->role, ev->action,
		ev->target, ev->assumed_role, ev->account, ev->region, ev->id };
	size_t i;

	s->events++;
	if (!ev->action || !ev->source || strcmp(ev->source, "cloudtrail"))
		abort();
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i])
			s->sum += strlen(strs[i]);
	return 0;
}

static void run(const void *bytes, size_t n, struct seen *s,
	cspf_source_stats *st, cspf_diags *diags)
{
	cspf_source_query q;
	char path[64];
	size_t i;
	int fd = memfd_create("fuzz", 0);

	if (fd < 0)
		abort();
	if (n && write(fd, bytes, n) != (ssize_t)n)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&q, 0, sizeof(q));
	q.start = INT64_MIN;
	q.end = INT64_MAX;
	q.read_only = true;
	q.arg = path;
	if (cspf_source_cloudtrail.read(st, diags, &q, count, s) != 0)
		abort();
	close(fd);
	if (st->events != s->events || st->files != 1 ||
		st->records < st->events + st->skipped)
		abort();
	for (i = 0; i < diags->count; i++) {
		const cspf_diag *d = &diags->items[i];

		if (!d->file || strcmp(d->file, path) || !d->rule ||
			strcmp(d->rule, "digest-source") || !d->message ||
			!*d->message || !d->pointer)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cspf_source_stats st1, st2;
	cspf_diags d1 = CSPF_DIAGS_INIT, d2 = CSPF_DIAGS_INIT;
	struct seen s1 = { 0, 0 }, s2 = { 0, 0 };
	unsigned char *z;
	uLong cap = compressBound(size) + 64;
	z_stream zs;

	memset(&st1, 0, sizeof(st1));
	memset(&st2, 0, sizeof(st2));
	run(data, size, &s1, &st1, &d1);

	/* The same bytes gzip'd: the same events and findings (unless the
	 * bytes were gzip themselves, or empty). */
	if (size < 2 || (data[0] == 0x1f && data[1] == 0x8b))
		goto done;
	z = malloc(cap);
	memset(&zs, 0, sizeof(zs));
	if (!z || deflateInit2(&zs, 6, Z_DEFLATED, 31, 8,
			  Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)size;
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	run(z, cap - zs.avail_out, &s2, &st2, &d2);
	deflateEnd(&zs);
	free(z);
	if (s1.events != s2.events || s1.sum != s2.sum ||
		st1.records != st2.records || st1.bad != st2.bad ||
		d1.count != d2.count)
		abort();
done:
	cspf_diags_clear(&d1);
	cspf_diags_clear(&d2);
	return 0;
}
