#!/usr/bin/env bash
#
# bench/registry-bench.sh [N... | --quick] - time `cspf validate` on a whole
# generated registry of N files (default: 10000 then 100000; --quick is
# 2000): from the work tree, from a packed repository (--rev) and for one
# changed file (--base), against the I/O floor and the peers (ajv-cli and
# python3-jsonschema, which check the schemas only).
#
# Environment:
#   CSPF=PATH   the cspf binary (default: build/cspf under the repo root)
#   RUNS=K      timed runs per tool, best taken (default 3)
#
# Every tool runs RUNS times on a warm page cache; the best (least) wall
# time is kept, with the peak RSS of that run.  A benchmark reports, it does
# not test: it exits 0 when a target is missed, or when a tool reports
# findings on the (valid) registry (a WARNING says so).  It exits 1 when a
# tool failed to run (so a figure is missing), 2 on a usage or setup error.
# See bench/README.md.

set -uo pipefail

usage() {
	echo "usage: bench/registry-bench.sh [N... | --quick]   (default: 10000 100000; env: CSPF=path RUNS=3)"
}

SIZES=()
for a in "$@"; do
	case "$a" in
	--quick) SIZES+=(2000) ;;
	-h | --help) usage; exit 0 ;;
	*[!0-9]* | "") usage >&2; exit 2 ;;
	*)
		[ "$a" -ge 100 ] || { echo "registry-bench: N must be at least 100" >&2; exit 2; }
		SIZES+=("$a") ;;
	esac
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
RUNS=${RUNS:-3}
case "$RUNS" in "" | *[!0-9]* | 0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root" || exit 2
CSPF=${CSPF:-build/cspf}
case "$CSPF" in /*) ;; *) CSPF=$root/$CSPF ;; esac

out=bench/out
PY=/usr/bin/python3
TIME=/usr/bin/time
AJV=bench/node_modules/.bin/ajv

# Targets (see bench/README.md).
TARGET_VS_AJV=5      # cspf (work tree) files/s at least 5x ajv-cli's
TARGET_VS_IO=1.5     # cspf (work tree) wall time at most 1.5x the I/O floor's
TARGET_RSS_MIB=64    # cspf peak RSS at most 64 MiB, in every mode
TARGET_REV=2         # --rev HEAD wall time at most 2x the work tree's
TARGET_BASE=0.03     # --base (one changed file) at most 3% of the full --rev run

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
LABEL_WIDTH=34
die() { echo "registry-bench: $*" >&2; exit 2; }

# --- prerequisites -----------------------------------------------------

"$TIME" -f %M true >/dev/null 2>&1 ||
	die "GNU time is needed at $TIME: apt-get install time"
[ -x "$PY" ] || die "Debian's python3 is needed at $PY: apt-get install python3"
command -v git >/dev/null 2>&1 || die "git is needed: apt-get install git"
mkdir -p "$out" || die "cannot create $out"

have_ajv=1
if [ ! -x "$AJV" ]; then
	if command -v npm >/dev/null 2>&1; then
		section "installing ajv-cli (npm ci --prefix bench)"
		npm ci --prefix bench --no-audit --no-fund >"$out/npm-ci.log" 2>&1 || {
			sed 's/^/  /' "$out/npm-ci.log" | tail -20
			say "npm ci failed: ajv-cli will be skipped"
		}
	else
		say "npm not found (apt-get install nodejs npm): ajv-cli will be skipped"
	fi
	[ -x "$AJV" ] || have_ajv=0
fi
ajv_ver=$( [ $have_ajv = 1 ] && node -p 'require("./bench/node_modules/ajv-cli/package.json").version' 2>/dev/null || echo '?')

have_py=1
"$PY" -c 'import jsonschema' 2>/dev/null || {
	have_py=0
	say "python3-jsonschema not installed (apt-get install python3-jsonschema, or run .ci/run): skipped"
}
py_ver=$("$PY" -c 'from importlib.metadata import version; print(version("jsonschema"))' 2>/dev/null || echo '?')

have_cspf=1
if [ ! -x "$CSPF" ]; then
	have_cspf=0
	say "cspf binary not found at $CSPF (build it: cmake -S . -B build && cmake --build build -j, or set CSPF=): skipped"
else
	# cspf's schemas are built into it; the peers and the generator read
	# schema/ and registry-example/cspf.json as they are now.
	newer=$(find schema/*.json registry-example/cspf.json -newer "$CSPF" 2>/dev/null | sort |
		awk '{ n++; if (n <= 3) s = s (n > 1 ? " " : "") $0 } END { if (n > 3) s = s " and " n - 3 " more"; print s }')
	[ -z "$newer" ] || say "WARNING: $CSPF is older than $newer: its built-in schemas may differ from the peers' (rebuild: cmake --build build)"
fi

# --- measuring ---------------------------------------------------------

declare -A WALL RSS RC BAD LABEL STATUS
tools=()
failed=0

warn_findings() { # KEY HOW-MANY FILE...: print a WARNING and the first lines
	local key=$1 n=$2
	shift 2
	say "WARNING: ${LABEL[$key]} reported $n on a registry that is valid by construction; the first lines:"
	cat "$@" 2>/dev/null | grep -vE '(^strict mode: | valid$|^invalid: 0 of |^jsonschema [0-9])' |
		head -n 8 | sed 's/^/  | /'
}

fps() { awk -v n="$1" -v w="$2" 'BEGIN{ if (w > 0) printf "%.0f", n/w; else print "-" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f%%", 100*a/b; else print "-" }'; }

bench_one() {
	local N=$1
	local reg=$out/registry-$N kinds=$out/registry-$N.kinds
	logs=$out/registry-logs-$N
	tools=()
	WALL=() RSS=() RC=() BAD=() LABEL=() STATUS=()

	section "registry of $N files"
	"$PY" bench/gen_registry.py "$N" "$out" || die "bench/gen_registry.py failed"
	mkdir -p "$logs"
	rm -f "$logs"/*
	local nfiles bytes size gitdir="$reg/.git"
	nfiles=$(grep -vc '^#' "$kinds")
	bytes=$(find "$reg" -name .git -prune -o -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
	size=$(awk -v b="$bytes" 'BEGIN{printf "%.1f MiB", b/1048576}')
	say "$nfiles files, $size in $reg; per kind: $(cut -f2 "$kinds" | sort | uniq -c | awk '{printf "%s%s %s", sep, $2, $1; sep=", "}')"
	say "git: $(git --git-dir="$gitdir" count-objects -v | awk '/^(count|in-pack|packs):/{printf "%s%s %s", sep, $1, $2; sep=", "}') (objects packed); branches: $(git --git-dir="$gitdir" for-each-ref --format='%(refname:short)' refs/heads | paste -sd' ')"
	say "one-change: $(git --git-dir="$gitdir" diff --name-only main one-change | paste -sd' ')"
	[ "$nfiles" = "$(find "$reg" -name .git -prune -o -name '*.json' -print | wc -l)" ] ||
		say "WARNING: $kinds does not list every .json file of $reg"

	# ajv-cli's plan: one line per kind, the kind then its globs (one per
	# directory), tab-separated.
	awk -F'\t' -v reg="$reg" '{
		d = $1; sub(/[^\/]*$/, "", d)
		g = (d == "") ? reg "/" $1 : reg "/" d "*.json"
		if (!((($2) SUBSEP g) in seen)) { seen[$2, g] = 1; globs[$2] = globs[$2] "\t" g }
		n[$2]++
	} END { for (k in globs) print k globs[k] }' "$kinds" | sort >"$logs/ajv-plan.tsv"
	cut -f2 "$kinds" | sort | uniq -c | awk '{print $2 "\t" $1}' >"$logs/kind-counts.tsv"

	section "warming the page cache"
	find "$reg" -name .git -prune -o -name '*.json' -print0 | xargs -0 cat >/dev/null
	cat "$gitdir"/objects/pack/* >/dev/null 2>&1
	local mode
	if [ $have_cspf = 1 ]; then
		# One run of each mode, with its summary line: warms what each
		# reads and shows what it checked.
		for mode in wt rev base; do
			case $mode in
			wt) set -- ;;
			rev) set -- --rev HEAD ;;
			base) set -- --rev one-change --base main ;;
			esac
			"$CSPF" validate "$reg" "$@" >/dev/null 2>"$logs/cspf-$mode.summary"
			say "cspf validate ${*:-(work tree)}: exit $?; $(tail -n 1 "$logs/cspf-$mode.summary")"
		done
	else
		say "read every file and pack once"
	fi

	section "timing ($RUNS runs each, best kept; $(nproc) cores)"

	# shellcheck disable=SC2016 # $1 is sh's, not ours
	measure io "I/O floor (find|xargs head)" 0 /dev/null "$logs/io.err" -- \
		sh -c 'find "$1" -name .git -prune -o -name "*.json" -print0 | xargs -0 head -q -c 1000000000 >/dev/null' sh "$reg"

	if [ $have_cspf = 1 ]; then
		measure wt "cspf validate (work tree)" '0|1' "$logs/wt.out" "$logs/wt.err" -- \
			"$CSPF" validate --quiet "$reg"
		measure rev "cspf validate --rev HEAD" '0|1' "$logs/rev.out" "$logs/rev.err" -- \
			"$CSPF" validate --quiet "$reg" --rev HEAD
		measure base "cspf --rev one-change --base main" '0|1' "$logs/base.out" "$logs/base.err" -- \
			"$CSPF" validate --quiet "$reg" --rev one-change --base main
		for k in wt rev base; do
			ok "$k" || continue
			BAD[$k]=$(grep -c . "$logs/$k.out")
			if [ "${RC[$k]}" != 0 ] || [ "${BAD[$k]}" != 0 ]; then
				warn_findings "$k" "${BAD[$k]} finding(s) (exit ${RC[$k]})" "$logs/$k.out" "$logs/$k.err"
			fi
		done
	fi

	local nkinds
	nkinds=$(wc -l <"$logs/ajv-plan.tsv")
	if [ $have_ajv = 1 ]; then
		# One node process per kind, one after the other: the wall time
		# is their sum, GNU time's peak RSS that of the largest.  Valid
		# files are listed on stdout, invalid ones on stderr.
		# shellcheck disable=SC2016 # the inner script's variables
		measure ajv "ajv-cli $ajv_ver ($nkinds processes)" 0 /dev/null "$logs/ajv.err" -- \
			bash -c 'set -f; worst=0
				while IFS=$'"'\t'"' read -r -a f; do
					k=${f[0]}; args=()
					for g in "${f[@]:1}"; do args+=(-d "$g"); done
					"$1" validate --spec=draft2020 -c ajv-formats -s "schema/$k.json" \
						-r schema/common.json "${args[@]}" --all-errors --errors=line \
						>"$2/ajv-$k.out" 2>"$2/ajv-$k.err"
					rc=$?; [ $rc -le 1 ] || worst=$rc
				done <"$2/ajv-plan.tsv"
				exit $worst' bash "$AJV" "$logs"
		if ok ajv; then
			local k c v bad=0
			while IFS=$'\t' read -r k c; do
				v=$(grep -c ' valid$' "$logs/ajv-$k.out" 2>/dev/null)
				bad=$((bad + c - ${v:-0}))
			done <"$logs/kind-counts.tsv"
			BAD[ajv]=$bad
			[ "$bad" = 0 ] || warn_findings ajv "$bad file(s) not valid" "$logs"/ajv-*.err
		fi
	fi

	if [ $have_py = 1 ]; then
		measure py "python3-jsonschema $py_ver" '0|1' "$logs/py.out" "$logs/py.err" -- \
			"$PY" bench/jsonschema_registry.py schema "$reg" "$kinds"
		if ok py; then
			BAD[py]=$(awk '/^invalid: [0-9]+ of [0-9]+$/{print $2}' "$logs/py.out")
			if [ "${BAD[py]:-x}" != 0 ] || [ "${RC[py]}" != 0 ]; then
				warn_findings py "${BAD[py]:-?} file(s) not valid (exit ${RC[py]})" "$logs/py.out" "$logs/py.err"
			fi
			sed -n 's/^jsonschema /python3-jsonschema /p' "$logs/py.err" | head -n 1
		fi
	fi

	# --- report --------------------------------------------------------

	section "results: $N files, $size, best of $RUNS"
	local results=$out/registry-results-$N.tsv w f m
	printf 'tool\twall_s\tfiles_per_s\tpeak_rss_mib\tfindings\texit\n' >"$results"
	printf '%-34s %9s %11s %13s %9s %5s\n' tool "wall s" "files/s" "peak RSS MiB" findings exit
	for k in "${tools[@]}"; do
		if ok "$k"; then
			w=${WALL[$k]} f=$(fps "$nfiles" "${WALL[$k]}") m=$(mib "${RSS[$k]}")
		else
			w=FAILED f=- m=-
		fi
		[ "$k" = base ] && f="($f)"
		printf '%-34s %9s %11s %13s %9s %5s\n' "${LABEL[$k]}" "$w" "$f" "$m" "${BAD[$k]:--}" "${RC[$k]}"
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${LABEL[$k]}" "$w" "$f" "$m" "${BAD[$k]:--}" "${RC[$k]}" >>"$results"
	done
	say "(files/s: all $nfiles files over the wall time; for --base, which checks one, for comparison only."
	say " findings: cspf's finding lines, the peers' files not valid; 0 expected everywhere. Logs in $logs, table in $results)"

	section "targets ($N files)"
	local r
	if ok wt; then
		if ok ajv; then
			r=$(ratio "${WALL[ajv]}" "${WALL[wt]}")
			say "cspf (work tree) files/s / ajv-cli files/s   = ${r}x   (target >= ${TARGET_VS_AJV}x)   $(verdict "$r >= $TARGET_VS_AJV")"
		else
			say "cspf (work tree) files/s / ajv-cli files/s   = n/a   (target >= ${TARGET_VS_AJV}x)   ajv-cli did not run"
		fi
		if ok io; then
			r=$(ratio "${WALL[wt]}" "${WALL[io]}")
			say "cspf (work tree) time / I/O floor time       = ${r}x   (target <= ${TARGET_VS_IO}x)   $(verdict "$r <= $TARGET_VS_IO")"
		fi
		local maxrss=0 detail=""
		for k in wt rev base; do
			ok "$k" || continue
			[ "${RSS[$k]}" -gt "$maxrss" ] && maxrss=${RSS[$k]}
			detail="$detail${detail:+, }$k $(mib "${RSS[$k]}")"
		done
		m=$(mib "$maxrss")
		say "cspf peak RSS, largest of the 3 modes        = ${m} MiB ($detail)   (target <= ${TARGET_RSS_MIB} MiB)   $(verdict "$m <= $TARGET_RSS_MIB")"
		if ok rev; then
			r=$(ratio "${WALL[rev]}" "${WALL[wt]}")
			say "cspf --rev HEAD time / work-tree time        = ${r}x   (target <= ${TARGET_REV}x)   $(verdict "$r <= $TARGET_REV")"
		fi
		if ok base && ok rev; then
			r=$(awk -v a="${WALL[base]}" -v b="${WALL[rev]}" 'BEGIN{printf "%.4f", a/b}')
			say "cspf --base (1 file) time / --rev HEAD time  = $(pct "${WALL[base]}" "${WALL[rev]}")   (target <= $(pct "$TARGET_BASE" 1))   $(verdict "$r <= $TARGET_BASE")   [$(pct "${WALL[base]}" "${WALL[wt]}") of the work-tree run]"
		fi
		if ok py; then
			say "cspf (work tree) files/s / python3-jsonschema files/s = $(ratio "${WALL[py]}" "${WALL[wt]}")x   (no target)"
		fi
	else
		if [ $have_cspf = 1 ]; then
			say "cspf failed: no target can be judged"
		else
			say "cspf did not run: no target can be judged"
		fi
		if ok ajv && ok io; then
			say "for reference: ajv-cli $(fps "$nfiles" "${WALL[ajv]}") files/s, so the speed target is >= $(awk -v f="$(fps "$nfiles" "${WALL[ajv]}")" -v t="$TARGET_VS_AJV" 'BEGIN{printf "%.0f", f*t}') files/s;"
			say "  the I/O floor is ${WALL[io]} s, so the time target is <= $(awk -v w="${WALL[io]}" -v t="$TARGET_VS_IO" 'BEGIN{printf "%.3f", w*t}') s"
		fi
	fi
}

for N in "${SIZES[@]}"; do
	bench_one "$N"
done
exit $failed
