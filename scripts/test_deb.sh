#!/bin/bash
# Tests the Debian package: builds it in a clean copy of the tree
# (scripts/build_deb.sh), runs lintian on the .deb and the .changes, checks
# what the package holds and depends on, then, as root, replaces the
# `make install` copy of the extension with the package (dpkg -i), runs the
# pg_regress suites against it with `pg_buildext installcheck`, removes the
# package (dpkg -r) and puts the source install back (`make install`), as
# it found it, whatever failed in between.
#
# Run on its own (bash scripts/test_deb.sh) or from scripts/test.sh, which
# passes a file to append its counts to, one "kind passed failed" a line:
# "debpkg" (build and package checks), "lintian" (no error) and "deb" (the
# pg_regress suites against the installed package).  Exit status 1 when
# anything failed.
#
# It swaps files in PostgreSQL's shared install directory: nothing else may
# install or test the extension on this machine meanwhile.
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. scripts/pg_regress_counts.sh
COUNTS=${1:-}

declare -A PASS FAIL
for k in debpkg lintian deb; do PASS[$k]=0; FAIL[$k]=0; done
check() {	# check <kind> <what> <command...>: counts one check
	local kind=$1 what=$2
	shift 2
	if "$@"; then
		echo "ok: $what"
		PASS[$kind]=$((PASS[$kind] + 1))
	else
		echo "FAILED: $what"
		FAIL[$kind]=$((FAIL[$kind] + 1))
	fi
}

version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" machinesoup.control)
pgmajor=$(head -1 debian/pgversions)
pkg=postgresql-$pgmajor-machinesoup
PG_CONFIG=/usr/lib/postgresql/$pgmajor/bin/pg_config
LOG=$(mktemp -d /tmp/machinesoup-deb-test.XXXXXX)
chmod 755 "$LOG"

finish() {
	for k in debpkg lintian deb; do
		printf '%-8s %4d passed, %d failed\n' "$k" "${PASS[$k]}" "${FAIL[$k]}"
		[ -n "$COUNTS" ] && echo "$k ${PASS[$k]} ${FAIL[$k]}" >>"$COUNTS"
	done
	echo "logs: $LOG"
	[ $((FAIL[debpkg] + FAIL[lintian] + FAIL[deb])) = 0 ]
	exit $?
}

echo "-- build ($pkg $version, clean copy, dpkg-buildpackage)"
if bash scripts/build_deb.sh "$LOG" >"$LOG/build.log" 2>&1; then
	echo "ok: package built"
	PASS[debpkg]=$((PASS[debpkg] + 1))
else
	tail -60 "$LOG/build.log"
	echo "FAILED: package built (log: $LOG/build.log)"
	FAIL[debpkg]=$((FAIL[debpkg] + 1))
	finish
fi
deb="$LOG/${pkg}_${version}_$(dpkg --print-architecture).deb"
changes=$(ls "$LOG"/machinesoup_"$version"_*.changes)

echo "-- lintian"
# lintian exits non-zero for errors only by default; its output is kept
# whole, and any E: line fails the check.
lintian --display-info "$changes" >"$LOG/lintian.log" 2>&1
sed 's/^/   /' "$LOG/lintian.log"
check lintian "lintian: no error on the .deb and the .changes" \
	bash -c "! grep -q '^E: ' '$LOG/lintian.log'"

echo "-- package contents and relations"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$LOG/contents"
depends=$(dpkg-deb -f "$deb" Depends)
echo "   Depends: $depends"
libdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension
privdir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/machinesoup
check debpkg "ships $libdir/machinesoup.so" grep -qx "$libdir/machinesoup.so" "$LOG/contents"
check debpkg "ships $extdir/machinesoup.control" grep -qx "$extdir/machinesoup.control" "$LOG/contents"
check debpkg "ships the install script machinesoup--$version.sql" \
	grep -qx "$extdir/machinesoup--$version.sql" "$LOG/contents"
# Every released script under sql/versions (the 0.1.0 install script and
# the update chain) must be in the package, or ALTER EXTENSION ... UPDATE
# breaks for someone.
missing_scripts() {
	local f rc=0
	for f in sql/versions/machinesoup--*.sql; do
		grep -qx "$extdir/$(basename "$f")" "$LOG/contents" || { echo "   not shipped: $f"; rc=1; }
	done
	return $rc
}
check debpkg "ships every script of sql/versions" missing_scripts
# META.json names the runtime packages; the package must depend on each
# (they come from dpkg-shlibdeps and debian/control).
depends_on_runtime() {
	local p rc=0
	for p in $(python3 -c 'import json; print(" ".join(json.load(open("META.json"))["x_system_packages"]["runtime"]))'); do
		echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/[ (].*//' | grep -qx "$p" ||
			{ echo "   no dependency on $p"; rc=1; }
	done
	return $rc
}
check debpkg "depends on META.json's runtime packages" depends_on_runtime
check debpkg "description says shared_preload_libraries is needed" \
	bash -c "dpkg-deb -f '$deb' Description | grep -q \"shared_preload_libraries = 'machinesoup'\""

if [ "$(id -u)" != 0 ]; then
	echo "-- install test skipped: dpkg -i needs root (CI runs as root)"
	finish
fi

echo "-- install the package in place of the source install"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
	echo "FAILED: $pkg is already installed; this test installs and removes it: dpkg -r $pkg first"
	FAIL[deb]=$((FAIL[deb] + 1))
	finish
fi

# What `make install` put there: the library, the control file, the
# generated install script and the frozen scripts.
source_files() {
	ls -d "$libdir/machinesoup.so" "$extdir/machinesoup.control" "$extdir"/machinesoup--*.sql 2>/dev/null
}
source_files >"$LOG/source-install"
restore() {
	trap - EXIT INT TERM
	echo "-- restore the source install"
	if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
		dpkg -r "$pkg" >>"$LOG/dpkg.log" 2>&1
	fi
	check debpkg "dpkg -r removes every file it installed" \
		bash -c "! ls -d $libdir/machinesoup.so $extdir/machinesoup.control $extdir/machinesoup--*.sql $privdir 2>/dev/null"
	check debpkg "make install restores the source install" \
		bash -c "make -s -C '$TOP' install >'$LOG/make-install.log' 2>&1"
	# Files that were there and that this tree does not install (scripts
	# of other versions, from another tree's install) come back as they
	# were.
	(cd "$LOG/saved" && find . -type f | sed 's|^\.||' | while read -r f; do
		[ -e "$f" ] || cp -a "$LOG/saved$f" "$f"
	done)
	source_files >"$LOG/source-install.after"
	check debpkg "every file of the source install is back" \
		cmp -s "$LOG/source-install" "$LOG/source-install.after"
	finish
}
trap restore EXIT
trap 'exit 1' INT TERM

mkdir -p "$LOG/saved"
xargs -r cp -a --parents -t "$LOG/saved" <"$LOG/source-install"
xargs -r rm -f <"$LOG/source-install"
check debpkg "dpkg -i $(basename "$deb")" bash -c "dpkg -i '$deb' >'$LOG/dpkg.log' 2>&1"
owned() {
	local f rc=0
	for f in "$libdir/machinesoup.so" "$extdir/machinesoup.control" "$extdir/machinesoup--$version.sql"; do
		[ "$(dpkg -S "$f" 2>/dev/null | cut -d: -f1)" = "$pkg" ] || { echo "   not from $pkg: $f"; rc=1; }
	done
	return $rc
}
check debpkg "the installed files come from $pkg" owned
# The library's RUNPATH (a directory of the package's holding a link) is
# why the package depends on libopenblas0-serial: check that the serial
# build is what the dynamic linker picks.
serial_blas() {
	local found
	found=$(ldd "$libdir/machinesoup.so" | sed -n 's/^[[:space:]]*libopenblas\.so\.0 => \([^ ]*\).*/\1/p')
	echo "   libopenblas.so.0 => $found -> $(readlink -f "$found")"
	case "$(readlink -f "$found")" in
	*/openblas-serial/libopenblas*) return 0 ;;
	*) return 1 ;;
	esac
}
check debpkg "the library loads the serial OpenBLAS" serial_blas

echo "-- pg_regress suites against the installed package"
# PostgreSQL refuses to run as root: the suites run as postgres from a copy
# of the tree it owns, as scripts/test.sh's do.  pg_buildext finds the
# installed package and runs make installcheck in pg_virtualenv.
WORK="$LOG/tree"
mkdir -p "$WORK"
git ls-files -z --cached --others --exclude-standard 2>/dev/null |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -C "$WORK" -xf -
[ -e "$WORK/Makefile" ] || tar --exclude=./.git --exclude=./test/fuzz/corpus -cf - . | tar -C "$WORK" -xf -
chown -R postgres:postgres "$WORK"
(cd "$WORK" && runuser -u postgres -- pg_buildext -o shared_preload_libraries=machinesoup installcheck) \
	2>&1 | tee "$LOG/installcheck.log"
status=${PIPESTATUS[0]}
read -r PASS[deb] FAIL[deb] < <(pg_regress_counts "$LOG/installcheck.log")
if [ "$status" != 0 ] && [ "${FAIL[deb]}" = 0 ]; then
	echo "pg_buildext installcheck failed (exit $status) outside any counted test"
	FAIL[deb]=1
fi
# Every suite must have run: pg_buildext finding no installed version
# would otherwise pass with nothing tested.
nsuites=$(ls sql/*.sql | wc -l)
if [ $((PASS[deb] + FAIL[deb])) -lt "$nsuites" ]; then
	echo "only $((PASS[deb] + FAIL[deb])) of $nsuites suites ran"
	FAIL[deb]=$((FAIL[deb] + 1))
fi
exit 0	# restore() runs, counts and exits with the status
