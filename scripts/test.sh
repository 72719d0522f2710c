#!/bin/bash
# Runs every MachineSoup test: the META.json check, the PGXN release
# check, C unit tests of the core/ folders, the libFuzzer harnesses
# (FUZZ_SECONDS each, default 30), the pg_regress suites against a
# throwaway cluster, the Debian package (built, lintian, and the pg_regress
# suites again against it installed; the installing needs root), the TAP
# tests and the Python client's pytest suite.  Ends with one line "total:
# N passed, M failed" counting the META.json check, release checks, unit
# programs, fuzz harnesses, pg_regress tests, package checks, lintian,
# pg_regress tests against the package, TAP test files and Python tests.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_regress_counts.sh

# Tests (and so CI) build with -Werror: a warning fails the run.  The
# flags are the Makefile's: PostgreSQL's own, -Wextra -Wno-unused-parameter.
export WERROR=1

bash scripts/setup.sh --with-citus || exit 1

LOG=$(mktemp -d /tmp/machinesoup-test.XXXXXX)
chmod 755 "$LOG"
declare -A PASS FAIL

echo "== META.json (PGXN meta-spec 1.0.0)"
PASS[meta]=0; FAIL[meta]=0
if python3 test/meta_check.py; then
	PASS[meta]=1
else
	FAIL[meta]=1
fi

echo "== PGXN release (make dist)"
COUNTS="$LOG/counts"
: >"$COUNTS"
bash test/dist_check.sh "$COUNTS"
read -r _ PASS[dist] FAIL[dist] < <(grep '^dist ' "$COUNTS") || { PASS[dist]=0; FAIL[dist]=1; }

echo "== unit tests (core/ folders)"
PASS[unit]=0; FAIL[unit]=0
for src in test/unit/test_*.c; do
	bin="${src%.c}.bin"
	if make -s "$bin" >"$LOG/build-$(basename "$bin").log" 2>&1 && "./$bin" 2>&1 | tee -a "$LOG/unit.log"; then
		PASS[unit]=$((PASS[unit] + 1))
	else
		cat "$LOG/build-$(basename "$bin").log"
		echo "$bin: FAILED"
		FAIL[unit]=$((FAIL[unit] + 1))
	fi
done
checks=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$LOG/unit.log" | awk '{p+=$1; f+=$3} END {print p+0 " checks passed, " f+0 " failed"}')

echo "== fuzzing (${FUZZ_SECONDS:-30} s per harness)"
PASS[fuzz]=0; FAIL[fuzz]=0
for h in test/fuzz/fuzz_*.c; do
	[ -e "$h" ] || continue
	name=$(basename "$h" .c)
	if make -s "test/fuzz/$name.bin" >"$LOG/$name.log" 2>&1 &&
		make -s fuzz FUZZ_BINS="test/fuzz/$name.bin" FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >>"$LOG/$name.log" 2>&1; then
		echo "$name: ok ($(grep -Eo 'Done [0-9]+ runs' "$LOG/$name.log" | tail -1))"
		PASS[fuzz]=$((PASS[fuzz] + 1))
	else
		echo "$name: FAILED"
		tail -40 "$LOG/$name.log"
		FAIL[fuzz]=$((FAIL[fuzz] + 1))
	fi
done

echo "== pg_regress suites"
# PostgreSQL refuses to run as root: run the suites as postgres from a copy
# of the tree it owns.
WORK="$LOG/tree"
mkdir -p "$WORK"
tar --exclude=./.git --exclude='./test/fuzz/corpus' -cf - . | tar -C "$WORK" -xf -
RUNAS=()
if [ "$(id -u)" = 0 ]; then
	chown -R postgres:postgres "$LOG"
	RUNAS=(runuser -u postgres --)
fi
(cd "$WORK" && "${RUNAS[@]}" pg_virtualenv -o shared_preload_libraries=machinesoup \
	make installcheck) 2>&1 | tee "$LOG/installcheck.log"
regress_status=${PIPESTATUS[0]}
read -r PASS[regress] FAIL[regress] < <(pg_regress_counts "$LOG/installcheck.log")
if [ "$regress_status" != 0 ] && [ "${FAIL[regress]}" = 0 ]; then
	echo "make installcheck failed (exit $regress_status) outside any counted test"
	FAIL[regress]=1
fi
[ -e "$WORK/regression.diffs" ] && head -300 "$WORK/regression.diffs"

echo "== Debian package"
# Builds it in a clean copy, runs lintian, then swaps it in for the source
# install, runs the pg_regress suites against it and puts the source
# install back before the TAP tests.
bash scripts/test_deb.sh "$COUNTS"
for k in debpkg lintian deb; do
	read -r _ PASS[$k] FAIL[$k] < <(grep "^$k " "$COUNTS") || { PASS[$k]=0; FAIL[$k]=1; }
done

echo "== TAP tests"
# Each TAP test starts clusters of its own; the environment is the same as
# the pg_regress suites'.
(cd "$WORK" && "${RUNAS[@]}" pg_virtualenv -o shared_preload_libraries=machinesoup \
	make prove_installcheck PROVE_FLAGS="--timer") 2>&1 | tee "$LOG/prove.log"
tap_status=${PIPESTATUS[0]}
# prove ends with "Files=13, Tests=..." and, when some fail,
# "Failed 2/13 test programs. ...".
PASS[tap]=0; FAIL[tap]=0
if grep -q '^Files=' "$LOG/prove.log"; then
	files=$(sed -n 's/^Files=\([0-9]*\),.*/\1/p' "$LOG/prove.log" | tail -1)
	bad=$(grep -Eo 'Failed [0-9]+/[0-9]+ test programs' "$LOG/prove.log" | awk -F'[ /]' '{print $2}' | tail -1)
	FAIL[tap]=${bad:-0}
	PASS[tap]=$((files - FAIL[tap]))
fi
if [ "$tap_status" != 0 ] && [ "${FAIL[tap]}" = 0 ]; then
	echo "make prove_installcheck failed (exit $tap_status) outside any counted test"
	FAIL[tap]=1
fi

echo "== Python client (clients/python, pytest)"
# The machinesoup package's tests against a throwaway cluster of their own,
# run as the pg_regress suites are.  MACHINESOUP_PYTEST_STRICT turns what
# would be a skip (a module not installed, no server) into a failure.
# Debian's interpreter and modules, whatever python3 the PATH finds first.
(cd "$WORK" && "${RUNAS[@]}" env MACHINESOUP_PYTEST_STRICT=1 pg_virtualenv -o shared_preload_libraries=machinesoup \
	/usr/bin/python3 -m pytest -q -p no:cacheprovider clients/python/tests) 2>&1 | tee "$LOG/pytest.log"
py_status=${PIPESTATUS[0]}
# pytest -q ends with e.g. "43 passed, 2 failed, 1 error in 6.02s"; errors
# (in a fixture, or a module that cannot be imported) and skips count as
# failures.
PASS[python]=0; FAIL[python]=0
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)(,.*)? in [0-9.]+s' "$LOG/pytest.log" | tail -1)
if [ -n "$summary" ]; then
	count() { grep -Eo "[0-9]+ $1" <<<"$summary" | awk '{s+=$1} END {print s+0}'; }
	PASS[python]=$(count passed)
	FAIL[python]=$(( $(count failed) + $(count 'errors?') + $(count skipped) + $(count xpassed) ))
fi
if [ "$py_status" != 0 ] && [ "${FAIL[python]}" = 0 ]; then
	echo "pytest failed (exit $py_status) outside any counted test"
	FAIL[python]=1
fi

echo
echo "== summary"
printf '%-22s %4d passed, %d failed\n' "META.json check" "${PASS[meta]}" "${FAIL[meta]}"
printf '%-22s %4d passed, %d failed\n' "PGXN release checks" "${PASS[dist]}" "${FAIL[dist]}"
printf '%-22s %4d passed, %d failed  (%s)\n' "unit programs" "${PASS[unit]}" "${FAIL[unit]}" "$checks"
printf '%-22s %4d passed, %d failed\n' "fuzz harnesses" "${PASS[fuzz]}" "${FAIL[fuzz]}"
printf '%-22s %4d passed, %d failed\n' "pg_regress tests" "${PASS[regress]}" "${FAIL[regress]}"
printf '%-22s %4d passed, %d failed\n' "Debian package checks" "${PASS[debpkg]}" "${FAIL[debpkg]}"
printf '%-22s %4d passed, %d failed\n' "lintian (no error)" "${PASS[lintian]}" "${FAIL[lintian]}"
printf '%-22s %4d passed, %d failed\n' "pg_regress on the .deb" "${PASS[deb]}" "${FAIL[deb]}"
printf '%-22s %4d passed, %d failed\n' "TAP test files" "${PASS[tap]}" "${FAIL[tap]}"
printf '%-22s %4d passed, %d failed\n' "Python tests" "${PASS[python]}" "${FAIL[python]}"
passed=0
failed=0
for k in meta dist unit fuzz regress debpkg lintian deb tap python; do
	passed=$((passed + PASS[$k]))
	failed=$((failed + FAIL[$k]))
done
echo "total: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
