#!/bin/bash
# One broken registry: registry-example/ with the case's files laid over
# it (CASE/files/), the paths in CASE/delete removed, the links in
# CASE/symlinks ("path target" lines) made.  `cspf validate` must print
# exactly CASE/expected (stdout) and exit 1.
set -u
case_dir=$1
: "${CSPF:?}" "${CSPF_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/cspf-reg.XXXXXX")
trap 'rm -rf "$T"' EXIT
cp -r "$CSPF_SOURCE_DIR/registry-example" "$T/reg"
[ -d "$case_dir/files" ] && cp -r "$case_dir/files/." "$T/reg/"
if [ -f "$case_dir/delete" ]; then
	while read -r p; do [ -n "$p" ] && rm -rf "${T:?}/reg/$p"; done < "$case_dir/delete"
fi
if [ -f "$case_dir/symlinks" ]; then
	while read -r p target; do [ -n "$p" ] && ln -s "$target" "$T/reg/$p"; done < "$case_dir/symlinks"
fi
"$CSPF" validate --quiet "$T/reg" > "$T/out" 2> "$T/err"
rc=$?
fail=0
if [ $rc -ne 1 ]; then
	echo "FAIL: exit $rc, expected 1"; cat "$T/err"; fail=1
fi
if ! diff -u "$case_dir/expected" "$T/out"; then
	echo "FAIL: the findings differ from $case_dir/expected (- expected, + got)"
	fail=1
fi
name=$(basename "$case_dir")
if [ $fail -eq 0 ]; then echo "$name: 1 passed, 0 failed"; else echo "$name: 0 passed, 1 failed"; fi
exit $fail
