#!/usr/bin/env bash
#
# bench/schema-bench.sh [N | --quick] - time cspf's JSON Schema validation
# against the I/O floor and its peers (ajv-cli, python3-jsonschema) on N
# generated documents (default 100000; --quick is 2000).
#
# Environment:
#   CSPF=PATH   the cspf binary (default: build/cspf under the repo root)
#   RUNS=K      timed runs per tool, best taken (default 3)
#
# Every tool runs RUNS times on a warm page cache; the best (least) wall
# time is kept, with the peak RSS of that run.  A benchmark reports, it does
# not test: it exits 0 when a target is missed.  It exits 1 when a tool
# failed to run (so a figure is missing), 2 on a usage or setup error.
# See bench/README.md.

set -uo pipefail

usage() {
	echo "usage: bench/schema-bench.sh [N | --quick]   (env: CSPF=path RUNS=3)"
}

N=100000
case "${1:-}" in
"") ;;
--quick) N=2000 ;;
-h | --help) usage; exit 0 ;;
*[!0-9]* | 0) usage >&2; exit 2 ;;
*) N=$1 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
RUNS=${RUNS:-3}
case "$RUNS" in "" | *[!0-9]* | 0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root" || exit 2
CSPF=${CSPF:-build/cspf}

out=bench/out
docs=$out/docs-$N
schema=$out/schema.json
logs=$out/logs-$N
PY=/usr/bin/python3
TIME=/usr/bin/time

# Targets (see bench/README.md).
TARGET_VS_AJV=5      # cspf files/s at least 5x ajv-cli's
TARGET_VS_IO=1.5     # cspf wall time at most 1.5x the I/O floor's
TARGET_RSS_MIB=64    # cspf peak RSS at most 64 MiB

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
LABEL_WIDTH=28
die() { echo "schema-bench: $*" >&2; exit 2; }

# --- prerequisites -----------------------------------------------------

"$TIME" -f %M true >/dev/null 2>&1 ||
	die "GNU time is needed at $TIME: apt-get install time"
[ -x "$PY" ] || die "Debian's python3 is needed at $PY: apt-get install python3"

section "documents"
"$PY" bench/gen.py "$N" "$out" || die "bench/gen.py failed"
expected=$(grep -vc '^#' "$out/docs-$N.expected")
total_bytes=$(find "$docs" -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
say "$N documents, $expected invalid by construction, $(awk -v b="$total_bytes" 'BEGIN{printf "%.1f MiB", b/1048576}') in $docs"

mkdir -p "$logs"
rm -f "$logs"/*

# ajv-cli: installed from the committed lock file when missing.
AJV=bench/node_modules/.bin/ajv
have_ajv=1
if [ ! -x "$AJV" ]; then
	if command -v npm >/dev/null 2>&1; then
		section "installing ajv-cli (npm ci --prefix bench)"
		npm ci --prefix bench --no-audit --no-fund >"$logs/npm-ci.log" 2>&1 || {
			sed 's/^/  /' "$logs/npm-ci.log" | tail -20
			say "npm ci failed: ajv-cli will be skipped"
		}
	else
		say "npm not found (apt-get install nodejs npm): ajv-cli will be skipped"
	fi
	[ -x "$AJV" ] || have_ajv=0
fi

have_py=1
"$PY" -c 'import jsonschema' 2>/dev/null || {
	have_py=0
	say "python3-jsonschema not installed (apt-get install python3-jsonschema, or run .ci/run): skipped"
}

have_cspf=1
if [ ! -x "$CSPF" ]; then
	have_cspf=0
	say "cspf binary not found at $CSPF (build it: cmake -S . -B build && cmake --build build -j, or set CSPF=): skipped"
fi

# --- measuring ---------------------------------------------------------

# Results, by tool key: wall seconds, peak RSS KiB, exit code, invalid count.
declare -A WALL RSS RC INV LABEL STATUS
tools=()

# Count the distinct generated documents named in FILE... on lines that
# report a failure (a line ending in " valid" or ": ok" is a success line).
count_invalid() {
	cat "$@" 2>/dev/null | grep -vE '[: ](valid|ok)$' |
		grep -oE "docs-$N/[0-9]{3}/[0-9]{6}\.json" | sort -u | wc -l
}

section "warming the page cache"
find "$docs" -name '*.json' -print0 | xargs -0 cat >/dev/null
cat "$schema" >/dev/null
say "read every file once"

section "timing ($RUNS runs each, best kept; $(nproc) cores)"

# shellcheck disable=SC2016 # $1 is sh's, not ours
measure io "I/O floor (find|xargs head)" 0 /dev/null "$logs/io.err" -- \
	sh -c 'find "$1" -name "*.json" -print0 | xargs -0 head -q -c 1000000000 >/dev/null' sh "$docs"
INV[io]=-

if [ $have_cspf = 1 ]; then
	measure cspf "cspf" '0|1' "$logs/cspf.out" "$logs/cspf.err" -- \
		"$CSPF" schema validate --schema "$schema" "$docs"
	ok cspf && INV[cspf]=$(count_invalid "$logs/cspf.out" "$logs/cspf.err")
fi

if [ $have_ajv = 1 ]; then
	ajv_ver=$(node -p 'require("./bench/node_modules/ajv-cli/package.json").version' 2>/dev/null || echo '?')
	# One process for every file: ajv-cli expands the quoted glob itself.
	# Valid files are listed on stdout (discarded), invalid ones on stderr.
	measure ajv "ajv-cli $ajv_ver" '0|1' /dev/null "$logs/ajv.err" -- \
		"$AJV" validate --spec=draft2020 -c ajv-formats -s "$schema" \
		-d "$docs/*/*.json" --all-errors --errors=line
	ok ajv && INV[ajv]=$(count_invalid "$logs/ajv.err")
fi

if [ $have_py = 1 ]; then
	py_ver=$("$PY" -c 'from importlib.metadata import version; print(version("jsonschema"))' 2>/dev/null || echo '?')
	measure py "python3-jsonschema $py_ver" '0|1' "$logs/py.out" "$logs/py.err" -- \
		"$PY" bench/jsonschema_validate.py "$schema" "$docs"
	ok py && INV[py]=$(count_invalid "$logs/py.out")
fi

# --- report ------------------------------------------------------------

fps() { awk -v n="$N" -v w="$1" 'BEGIN{ if (w > 0) printf "%.0f", n/w; else print "-" }'; }

section "results: $N documents, $(awk -v b="$total_bytes" 'BEGIN{printf "%.1f MiB", b/1048576}'), best of $RUNS"
results=$out/results-$N.tsv
printf 'tool\twall_s\tfiles_per_s\tpeak_rss_mib\tinvalid\texit\n' >"$results"
printf '%-28s %10s %12s %14s %9s %6s\n' tool "wall s" "files/s" "peak RSS MiB" invalid exit
for k in "${tools[@]}"; do
	if ok "$k"; then
		w=${WALL[$k]} f=$(fps "${WALL[$k]}") m=$(mib "${RSS[$k]}")
	else
		w=FAILED f=- m=-
	fi
	printf '%-28s %10s %12s %14s %9s %6s\n' "${LABEL[$k]}" "$w" "$f" "$m" "${INV[$k]:--}" "${RC[$k]}"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${LABEL[$k]}" "$w" "$f" "$m" "${INV[$k]:--}" "${RC[$k]}" >>"$results"
done
say "(expected invalid: $expected; logs in $logs; table in $results)"

for k in cspf ajv py; do
	ok "$k" || continue
	if [ "${INV[$k]}" != "$expected" ]; then
		say "WARNING: ${LABEL[$k]} reported ${INV[$k]} invalid files; $expected were made invalid (see $out/docs-$N.expected)"
	fi
done

section "targets"
if ok cspf; then
	if ok ajv; then
		r=$(ratio "${WALL[ajv]}" "${WALL[cspf]}")
		say "cspf files/s / ajv-cli files/s  = ${r}x   (target >= ${TARGET_VS_AJV}x)   $(verdict "$r >= $TARGET_VS_AJV")"
	else
		say "cspf files/s / ajv-cli files/s  = n/a   (target >= ${TARGET_VS_AJV}x)   ajv-cli did not run"
	fi
	if ok io; then
		r=$(ratio "${WALL[cspf]}" "${WALL[io]}")
		say "cspf time / I/O floor time      = ${r}x   (target <= ${TARGET_VS_IO}x)   $(verdict "$r <= $TARGET_VS_IO")"
	fi
	m=$(mib "${RSS[cspf]}")
	say "cspf peak RSS                   = ${m} MiB   (target <= ${TARGET_RSS_MIB} MiB)   $(verdict "$m <= $TARGET_RSS_MIB")"
	if ok py; then
		say "cspf files/s / python3-jsonschema files/s = $(ratio "${WALL[py]}" "${WALL[cspf]}")x   (no target)"
	fi
else
	if [ $have_cspf = 1 ]; then
		say "cspf failed: no target can be judged"
	else
		say "cspf did not run: no target can be judged"
	fi
	if ok ajv && ok io; then
		say "for reference: ajv-cli $(fps "${WALL[ajv]}") files/s, so the speed target is >= $(awk -v f="$(fps "${WALL[ajv]}")" -v t="$TARGET_VS_AJV" 'BEGIN{printf "%.0f", f*t}') files/s;"
		say "  the I/O floor is ${WALL[io]} s, so the time target is <= $(awk -v w="${WALL[io]}" -v t="$TARGET_VS_IO" 'BEGIN{printf "%.3f", w*t}') s"
	fi
fi

for k in "${tools[@]}"; do
	ok "$k" || exit 1
done
exit 0
