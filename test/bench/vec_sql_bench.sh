#!/bin/bash
# SQL-level distance benchmark (issue "Foundation"): sum(v <-> q) and
# sum(v <=> q) over 300k GloVe 100-d rows and 50k random 1536-d rows, for
# vec at every SIMD level this CPU has, against contrib cube (<= 100 dims)
# and real[] with a SQL distance function, on one core (no parallel
# workers).  Prints one table; all figures are medians of several runs,
# ratios are against vec at the best SIMD level measured in the same run.
#
#   bash test/bench/vec_sql_bench.sh        (as root or a PostgreSQL superuser)
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/setup.sh >/dev/null
DATA=$(mktemp -d /tmp/machinesoup-bench.XXXXXX)
trap 'rm -rf "$DATA"' EXIT
chmod 755 "$DATA"
python3 test/bench/datasets.py glove "$DATA/glove.tsv" --limit 300000

make -s test/bench/bench_kernels.bin
# PostgreSQL runs as the postgres user; as root, run the cluster as postgres
# so that concurrent runs do not share root's cluster configuration.
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)
KERNEL_NS_100=$(./test/bench/bench_kernels.bin --ns-per-vector l2_squared 100)
KERNEL_NS_1536=$(./test/bench/bench_kernels.bin --ns-per-vector l2_squared 1536)
# The bare kernels over the heap's layout (one 1536-d vector per 8 KiB page,
# out of cache): no SQL scan of rand1536 can beat these, executor or not.
HEAP_NS=()
for op in l2_squared cosine_parts; do
	for level in scalar avx2 avx512 neon; do
		ns=$(./test/bench/bench_kernels.bin --heap-ns-per-vector $op 1536 $level 2>/dev/null) || continue
		HEAP_NS+=("('$op', '$level', $ns)")
	done
done
HEAP_VALUES=$(IFS=,; echo "${HEAP_NS[*]}")

"${RUNAS[@]}" pg_virtualenv -o shared_buffers=2GB -- psql -X -q -v ON_ERROR_STOP=1 -v datadir="$DATA" \
	-v kernel_ns_100="$KERNEL_NS_100" -v kernel_ns_1536="$KERNEL_NS_1536" \
	-v heap_values="$HEAP_VALUES" \
	-f - < test/bench/vec_sql_bench.sql
