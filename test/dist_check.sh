#!/bin/bash
# Checks the PGXN release that `make dist` makes from git HEAD: one zip,
# machinesoup-<version>.zip, everything in it under machinesoup-<version>/
# with META.json, the control file and the Makefile at the top of that
# directory, src/ and sql/ in it and no .git; its META.json passes
# test/meta_check.py against the released tree itself, pgxnclient reads
# it, and the released tree builds the extension with PGXS as
# `pgxn install` would.
#
# Run from any directory.  Prints one line per check; with a file as
# argument (scripts/test.sh gives one) appends "dist passed failed" to it.
# Exit status 1 when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
COUNTS=${1:-}
PASS=0
FAIL=0
check() {	# check <what> <command...>
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
		PASS=$((PASS + 1))
	else
		echo "FAILED: $what"
		FAIL=$((FAIL + 1))
	fi
}
finish() {
	echo "dist: $PASS passed, $FAIL failed"
	[ -n "$COUNTS" ] && echo "dist $PASS $FAIL" >>"$COUNTS"
	[ "$FAIL" = 0 ]
	exit $?
}

if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	echo "dist: skipped, not a git checkout (make dist archives git HEAD)"
	finish
fi

version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" machinesoup.control)
dist=machinesoup-$version
TMP=$(mktemp -d /tmp/machinesoup-dist.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if ! make -s dist >"$TMP/make.log" 2>&1 || ! mv "$dist.zip" "$TMP/"; then
	cat "$TMP/make.log"
	check "make dist makes $dist.zip" false
	finish
fi
check "make dist makes $dist.zip" true
zip="$TMP/$dist.zip"
unzip -Z1 "$zip" >"$TMP/list"

check "every entry is under $dist/" bash -c "! grep -v '^$dist/' '$TMP/list'"
for f in META.json machinesoup.control Makefile; do
	check "$dist/$f is in the zip" grep -qx "$dist/$f" "$TMP/list"
done
for d in src sql; do
	check "$dist/$d/ is in the zip" grep -q "^$dist/$d/." "$TMP/list"
done
check "no .git in the zip" bash -c "! grep -Eq '(^|/)\.git(/|$)' '$TMP/list'"
check "no build product in the zip" bash -c "! grep -Eq '\.(o|so|bc|bin|deb|zip)$|/$dist/machinesoup--$version\.sql$' '$TMP/list'"

unzip -q "$zip" -d "$TMP"
check "the released META.json passes test/meta_check.py in the released tree" \
	python3 "$TMP/$dist/test/meta_check.py"
# pgxnclient takes the first META.json it finds in the archive; this is
# what `pgxn install ./$dist.zip` reads.  Its module is found by the Python
# that runs pgxn (Debian's), not necessarily the python3 on the PATH.
pgxn_python=$(sed -n '1s/^#! *//p' "$(command -v pgxn || echo /dev/null)")
check "pgxnclient reads name machinesoup and version $version from the zip" \
	${pgxn_python:-false} -c '
import sys
from pgxnclient import archive
meta = archive.from_file(sys.argv[1]).get_meta()
sys.exit(0 if (meta["name"], meta["version"]) == ("machinesoup", sys.argv[2]) else 1)
' "$zip" "$version"
check "the released tree builds (make)" \
	bash -c "make -s -C '$TMP/$dist' -j'$(nproc)' >'$TMP/build.log' 2>&1 &&
		[ -f '$TMP/$dist/machinesoup.so' ] && [ -f '$TMP/$dist/machinesoup--$version.sql' ] ||
		{ tail -40 '$TMP/build.log'; false; }"
finish
