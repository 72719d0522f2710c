#!/bin/bash
# Batched exact kNN benchmark (issue 5): 1,000 held-out GloVe 100-d queries
# against the other ~340k words, top 10 by cosine distance:
#   vec_knn_exact (one call, blocked OpenBLAS sgemm, one backend, one BLAS
#   thread) against 1,000 separate "ORDER BY v <=> q LIMIT 10" sequential
#   scans (a sample of SAMPLE=50 is run and scaled to 1,000) and against
#   FAISS IndexFlatIP in memory on one thread (the anchor, measured in the
#   same run).  Also checks that vec_knn_exact returns FAISS's top 10
#   (recall 1 modulo ties).  Prints one table with ratios.
#
#   bash test/bench/knn_exact_bench.sh      (as root; builds and installs the extension)
#
# OpenBLAS: vec_knn_exact calls openblas_set_num_threads(1) itself; the
# FAISS process gets OPENBLAS_NUM_THREADS=1 and omp_set_num_threads(1).
set -euo pipefail
cd "$(dirname "$0")/../.."
SAMPLE=${SAMPLE:-50}
PY=/usr/bin/python3		# Debian's python, where python3-numpy and python3-faiss live

bash scripts/setup.sh >/dev/null
if ! $PY -c 'import faiss, numpy' 2>/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-faiss python3-numpy >/dev/null
fi

# KNN_BENCH_DIR keeps the prepared data between runs (it is not removed)
if [ -n "${KNN_BENCH_DIR:-}" ]; then
	DATA=$KNN_BENCH_DIR
	mkdir -p "$DATA"
else
	DATA=$(mktemp -d /tmp/machinesoup-knn-bench.XXXXXX)
	trap 'rm -rf "$DATA"' EXIT
fi
# the server (user postgres) reads the input and writes the answers here
chmod 777 "$DATA"

[ -s "$DATA/queries.tsv" ] || $PY test/bench/knn_exact_bench.py prepare "$DATA" 1000
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $PY test/bench/knn_exact_bench.py faiss "$DATA"
# shared_buffers large enough for the table, so both SQL contenders read from
# memory.  As root, pg_virtualenv would use the one system-wide "regress"
# cluster name; as postgres it keeps its cluster in a private directory.
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)
"${RUNAS[@]}" pg_virtualenv -o shared_buffers=512MB -- psql -X -q -v ON_ERROR_STOP=1 \
	-v datadir="$DATA" -v sample="$SAMPLE" -f test/bench/knn_exact_bench.sql >/dev/null
$PY test/bench/knn_exact_bench.py report "$DATA"
