#!/bin/bash
# Runs every MachineSoup test: C unit tests of src/core, the libFuzzer
# harnesses (FUZZ_SECONDS each, default 30), and the pg_regress and TAP
# suites against a throwaway cluster (with shared_preload_libraries =
# machinesoup, which the audit writer needs).  Ends with one line
# "total: N passed, M failed" covering all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/setup.sh || exit 1

LOG=$(mktemp -d /tmp/machinesoup-test.XXXXXX)
chmod 755 "$LOG"
passed=0
failed=0

count_suite_lines() {
	# sums "<suite>: N passed, M failed" lines from a log
	local p f
	p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | awk '{s+=$1} END {print s+0}')
	f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | awk '{s+=$3} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

echo "== unit tests (src/core)"
if make -s unit 2>&1 | tee "$LOG/unit.log"; then :; else
	grep -Eq '[0-9]+ passed, [1-9][0-9]* failed' "$LOG/unit.log" || failed=$((failed + 1))
fi
count_suite_lines "$LOG/unit.log"

echo "== fuzzing (${FUZZ_SECONDS:-30} s per harness)"
for h in test/fuzz/fuzz_*.c; do
	[ -e "$h" ] || continue
	name=$(basename "$h" .c)
	if make -s "test/fuzz/$name.bin" >"$LOG/$name.log" 2>&1 &&
		make -s fuzz FUZZ_BINS="test/fuzz/$name.bin" FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >>"$LOG/$name.log" 2>&1; then
		echo "$name: ok ($(grep -Eo 'Done [0-9]+ runs' "$LOG/$name.log" | tail -1))"
		passed=$((passed + 1))
	else
		echo "$name: FAILED"; tail -40 "$LOG/$name.log"
		failed=$((failed + 1))
	fi
done

echo "== pg_regress and TAP suites"
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
(cd "$WORK" && "${RUNAS[@]}" pg_virtualenv -o shared_preload_libraries=machinesoup make installcheck PROVE_FLAGS="--timer") 2>&1 | tee "$LOG/installcheck.log"
ic_status=${PIPESTATUS[0]}
# pg_regress lines look like "test vec_io ... ok  12 ms" (PostgreSQL 15)
# or "ok 1 - vec_io  12 ms" (16+); prove's own lines start with a path.
r_ok=$(grep -Ec '^((test +| +)[A-Za-z0-9_-]+ +\.\.\. ok|ok [0-9]+ +[-+] )' "$LOG/installcheck.log" || true)
r_bad=$(grep -Ec '^((test +| +)[A-Za-z0-9_-]+ +\.\.\. FAILED|not ok [0-9]+ +[-+] )' "$LOG/installcheck.log" || true)
passed=$((passed + r_ok))
failed=$((failed + r_bad))
if grep -q '^Files=' "$LOG/installcheck.log"; then
	t_files=$(sed -n 's/^Files=\([0-9]*\),.*/\1/p' "$LOG/installcheck.log" | tail -1)
	t_bad=$(grep -Eo 'Failed [0-9]+/[0-9]+ test programs' "$LOG/installcheck.log" | awk -F'[ /]' '{print $2}' | tail -1)
	t_bad=${t_bad:-0}
	passed=$((passed + t_files - t_bad))
	failed=$((failed + t_bad))
fi
if [ "$ic_status" != 0 ] && [ "$r_bad" = 0 ]; then
	failed=$((failed + 1))
	for f in "$WORK"/regression.diffs; do [ -e "$f" ] && head -200 "$f"; done
fi
[ -e "$WORK/regression.diffs" ] && head -300 "$WORK/regression.diffs"

echo "total: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
