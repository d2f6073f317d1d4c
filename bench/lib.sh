# shellcheck shell=bash disable=SC2034,SC2154
# Shared by bench/*-bench.sh (sourced): output, the timing loop, and
# figures.  Callers set TIME (GNU time), logs, and declare the arrays
# WALL RSS RC LABEL STATUS and tools=(); LABEL_WIDTH pads the labels.

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
ok() { [ "${STATUS[$1]:-}" = ok ]; }
mib() { awk -v k="$1" 'BEGIN{ printf "%.1f", k/1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }'; }
verdict() { if awk "BEGIN{exit !($1)}"; then echo met; else echo MISSED; fi; }

# measure KEY LABEL OK_CODES STDOUT STDERR -- CMD...: run CMD RUNS times,
# keep the best wall time and that run's peak RSS (GNU time: the largest
# process of the tree).  OK_CODES is a regex of acceptable exit codes.
measure() {
	local key=$1 label=$2 okrc=$3 o=$4 e=$5
	shift 6
	local i t0 t1 wall rss rc best="" bestrss="" status=ok
	tools+=("$key")
	LABEL[$key]=$label
	printf '%-*s' "${LABEL_WIDTH:-28}" "$label"
	for ((i = 1; i <= RUNS; i++)); do
		t0=$EPOCHREALTIME
		"$TIME" -o "$logs/$key.time" -f 'RSS %M' "$@" >"$o" 2>"$e"
		rc=$?
		t1=$EPOCHREALTIME
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
		rss=$(awk '$1=="RSS"{print $2}' "$logs/$key.time")
		printf ' %ss' "$wall"
		if ! [[ "$rc" =~ ^($okrc)$ ]]; then
			status=FAILED
			break
		fi
		if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then
			best=$wall
			bestrss=$rss
		fi
	done
	printf '\n'
	RC[$key]=$rc
	STATUS[$key]=$status
	WALL[$key]=${best:-}
	RSS[$key]=${bestrss:-}
	if [ "$status" != ok ]; then
		failed=1
		say "  $label FAILED: exit $rc (tail of its output, in $logs):"
		tail -n 15 "$e" "$o" 2>/dev/null | sed 's/^/  | /'
	fi
}
