#!/bin/bash
# How fast the digest's cloudtrail source reads CloudTrail log files.
#
#   bench/cloudtrail-bench.sh [N]     # N events (1,000,000), 3 accounts, 7 days
#
# Generates N records with bench/gen-cloudtrail.py into bench/out/ct-N/
# (kept between runs), builds build/ct-bench, then, on a warm page cache:
#   - the I/O floor: `cat FILES | zcat | wc -c` (gzip's own inflate);
#   - ct-bench: every file through the source with an empty callback
#     (--read-only: every record becomes an event), under GNU time for
#     peak RSS.
# Prints wall and CPU seconds, events/s and peak RSS.  Needs python3, GNU
# time (both in .ci/packages) and a configured build/ (cmake -S . -B build).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
n=${1:-1000000}
out=$here/out/ct-$n
build=${BUILD:-$src/build}

if [ ! -e "$out/.done" ]; then
	rm -rf "$out"
	/usr/bin/python3 "$here/gen-cloudtrail.py" --out "$out" --events "$n" \
		--accounts 111111111111,222222222222,333333333333 \
		--start 2026-11-16T00:00:00Z --days 7 --seed 1
	touch "$out/.done"
fi
cmake --build "$build" --target ct-bench >/dev/null

list=$(mktemp)
times=$(mktemp)
trap 'rm -f "$list" "$times"' EXIT
find "$out/" -name '*.json.gz' | sort >"$list"
xargs cat <"$list" >/dev/null # warm the page cache

echo "== $(wc -l <"$list") files, $(du -shL "$out" | cut -f1) gzip'd, $n events"
echo "== I/O floor: cat | zcat | wc -c"
/usr/bin/time -o "$times" -f "   %e s wall, %U s user" \
	bash -c "xargs cat <'$list' | zcat | wc -c | sed 's/^/   bytes: /'"
cat "$times"
echo "== ct-bench (cloudtrail source, empty callback)"
/usr/bin/time -o "$times" \
	-f "   %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
	"$build/ct-bench" --read-only "$out" 2>&1 | sed 's/^ct-bench: /   /'
cat "$times"
