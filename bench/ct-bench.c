/*
 * ct-bench: read CloudTrail log files through the digest's cloudtrail
 * source with an empty callback, and print what it counted and how fast.
 *
 *   cmake --build build --target ct-bench
 *   build/ct-bench [--print] [--read-only] [--start T] [--end T] PATH
 *
 * --print writes each event as one tab-separated line (for comparing
 * with another reading of the same files); the period defaults to
 * everything.  See bench/cloudtrail-bench.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest/digest_private.h"
#include "cspf/time.h"

static const char *kinds[] = { "unknown", "user", "role", "root",
	"service" };

static int print_event(const cspf_event *ev, void *payload)
{
	FILE *out = payload;

	fprintf(out, "%lld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n",
		(long long)ev->time, kinds[ev->actor_kind],
		ev->actor ? ev->actor : "-", ev->person ? ev->person : "-",
		ev->role ? ev->role : "-", ev->action ? ev->action : "-",
		ev->target ? ev->target : "-",
		ev->assumed_role ? ev->assumed_role : "-",
		ev->account ? ev->account : "-",
		ev->region ? ev->region : "-", ev->id ? ev->id : "-",
		ev->read_only, ev->failed);
	return 0;
}

static int count_event(const cspf_event *ev, void *payload)
{
	(void)ev;
	(*(size_t *)payload)++;
	return 0;
}

int main(int argc, char **argv)
{
	cspf_source_query q;
	cspf_source_stats st;
	cspf_diags diags = CSPF_DIAGS_INIT;
	struct timespec t0, t1;
	size_t n = 0, i;
	bool print = false;
	double secs;
	int a, r;

	memset(&q, 0, sizeof(q));
	memset(&st, 0, sizeof(st));
	q.start = INT64_MIN;
	q.end = INT64_MAX;
	for (a = 1; a < argc - 1; a++) {
		if (!strcmp(argv[a], "--print"))
			print = true;
		else if (!strcmp(argv[a], "--read-only"))
			q.read_only = true;
		else if (!strcmp(argv[a], "--start") && a + 2 < argc)
			cspf_time_parse(&q.start, argv[++a]);
		else if (!strcmp(argv[a], "--end") && a + 2 < argc)
			cspf_time_parse(&q.end, argv[++a]);
		else
			break;
	}
	if (a != argc - 1) {
		fprintf(stderr, "usage: ct-bench [--print] [--read-only] "
				"[--start T] [--end T] PATH\n");
		return 2;
	}
	q.arg = argv[a];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = cspf_source_cloudtrail.read(&st, &diags, &q,
		print ? print_event : count_event,
		print ? (void *)stdout : (void *)&n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0) {
		fprintf(stderr, "ct-bench: %s\n", cspf_error_last()->message);
		return 2;
	}
	for (i = 0; i < diags.count; i++) {
		const cspf_diag *d = &diags.items[i];

		fprintf(stderr, "%s:%u:%u: %s [%s] %s\n", d->file, d->line,
			d->column, d->severity ? "warning" : "error",
			d->pointer ? d->pointer : "", d->message);
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "ct-bench: %zu files, %zu records, %zu events, "
			"%zu skipped, %zu bad, %zu bytes in %.3f s: "
			"%.0f records/s\n", st.files, st.records, st.events,
		st.skipped, st.bad, st.bytes, secs,
		secs > 0 ? (double)st.records / secs : 0.0);
	cspf_diags_clear(&diags);
	return 0;
}
