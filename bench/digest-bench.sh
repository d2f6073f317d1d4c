#!/bin/bash
# How fast cspf digest turns CloudTrail log files into tickets, and how
# its memory grows (it should not grow with events).
#
#   bench/digest-bench.sh [N]     # N events (1,000,000), the default
#
# bench/gen-cloudtrail.py writes N synthetic records (realistic sizes,
# ~1.5 KB each) for registry-example's three AWS accounts into
# bench/out/ct-digest-N/ (kept between runs), and N/4 more into
# bench/out/ct-digest-N4/.  Then, on a warm page cache:
#   - the I/O floor: `cat FILES | zcat > /dev/null`;
#   - a peer: bench/digest_peer.py, the script a team would write with
#     Debian's python3 (gzip + json, a count per account, actor, action);
#   - cspf digest --sink files:DIR over N and over N/4 events (wall,
#     events/s, peak RSS): the target is >= 200,000 events/s, and a peak
#     RSS that does not grow with events.
# Needs python3 and GNU time (both in .ci/packages), and build/cspf.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
CSPF=${CSPF:-$src/build/cspf}
n=${1:-1000000}
n4=$((n / 4))
[ -x "$CSPF" ] || { echo "build cspf first: $CSPF"; exit 2; }
accounts=314159265358,271828182845,499701123456

gen() { # N DIR
	if [ ! -e "$2/.done" ]; then
		rm -rf "$2"
		/usr/bin/python3 "$here/gen-cloudtrail.py" --out "$2" \
			--events "$1" --accounts $accounts \
			--start 2026-11-16T00:00:00Z --days 7 --seed 7
		touch "$2/.done"
	fi
}
gen "$n" "$here/out/ct-digest-$n"
gen "$n4" "$here/out/ct-digest-$n4"

times=$(mktemp)
tk=$(mktemp -d)
trap 'rm -rf "$times" "$tk"' EXIT

# digest N DIR: one timed run; prints the line, sets SECS and RSS.
digest() {
	rm -rf "$tk/t"
	/usr/bin/time -o "$times" -f "%e %M" "$CSPF" digest "$src/registry-example" \
		--period 2026-11-16/P14D --read-only -q \
		--sources "cloudtrail:$2" --sink "files:$tk/t" > "$tk/out" 2>&1 ||
		[ $? = 1 ] || { cat "$tk/out"; exit 1; }
	read -r SECS RSS < "$times"
	printf '   %8d events: %6.2f s, %9.0f events/s, peak RSS %6.1f MiB, %d tickets\n' \
		"$1" "$SECS" "$(echo "$1 / $SECS" | bc -l)" \
		"$(echo "$RSS / 1024" | bc -l)" "$(ls "$tk"/t/*/*.json | wc -l)"
}

dir=$here/out/ct-digest-$n
find "$dir" -name '*.json.gz' -print0 | xargs -0 cat > /dev/null # warm
echo "== $(find "$dir" -name '*.json.gz' | wc -l) files, $(du -sh "$dir" | cut -f1) gzip'd, $n events"
echo "== I/O floor: cat | zcat > /dev/null"
/usr/bin/time -o "$times" -f "%e" bash -c \
	"find '$dir' -name '*.json.gz' -print0 | xargs -0 cat | zcat > /dev/null"
floor=$(cat "$times")
echo "   $floor s"
echo "== peer: python3 (gzip + json), counts per account, actor, action"
/usr/bin/time -o "$times" -f "%e %M" /usr/bin/python3 "$here/digest_peer.py" "$dir" > /dev/null
read -r peer peer_rss < "$times"
printf '   %.2f s, peak RSS %.1f MiB\n' "$peer" "$(echo "$peer_rss / 1024" | bc -l)"
echo "== cspf digest --sink files (best of 3)"
best=0
for _ in 1 2 3; do
	digest "$n" "$dir"
	if [ "$best" = 0 ] || [ "$(echo "$SECS < $best" | bc)" = 1 ]; then
		best=$SECS
		rss_n=$RSS
	fi
done
digest "$n4" "$here/out/ct-digest-$n4"
rss_n4=$RSS
echo "== ratios"
printf '   cspf digest: %.0f events/s (target >= 200,000)\n' "$(echo "$n / $best" | bc -l)"
printf '   time / I/O floor: %.2fx; peer / cspf: %.1fx\n' \
	"$(echo "$best / $floor" | bc -l)" "$(echo "$peer / $best" | bc -l)"
printf '   peak RSS at %d events / at %d: %.2fx (flat: ~1)\n' "$n" "$n4" \
	"$(echo "$rss_n / $rss_n4" | bc -l)"
