#!/bin/bash
# msivf filtered-query benchmark (issue 14): WHERE category = $2 ORDER BY
# emb <op> $1 LIMIT 10 through msivf against pgvector 0.8.6 HNSW with
# hnsw.iterative_scan = relaxed_order, in one server and one run, at 1 %
# and 10 % selectivity.  msivf_filter_bench.py says what is compared and how.
#
#   bash test/bench/msivf_filter_bench.sh      (GloVe-100, 331k rows, 1,000 queries)
#   MSIVF_BENCH_SET=highd-l2 MSIVF_BENCH_LIMIT=100000 bash test/bench/msivf_filter_bench.sh
#
# Needs what msivf_bench.sh needs (python3-numpy, python3-psycopg, pgvector:
# ../shared/anchors/install-pgvector.sh installs it when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
for p in python3-faiss python3-numpy python3-psycopg python3-matplotlib; do
	dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p" >/dev/null
done
bash "${PGVECTOR_INSTALL:-../shared/anchors/install-pgvector.sh}"
/usr/bin/python3 test/bench/datasets.py set "${MSIVF_BENCH_SET:-glove}" \
	${MSIVF_BENCH_LIMIT:+--limit "$MSIVF_BENCH_LIMIT"} --queries "${MSIVF_BENCH_QUERIES:-1000}"
pg_virtualenv -o "shared_buffers=${MSIVF_BENCH_SHARED_BUFFERS:-2GB}" -o 'max_parallel_workers_per_gather=0' \
	-o 'jit=off' -- /usr/bin/python3 test/bench/msivf_filter_bench.py
