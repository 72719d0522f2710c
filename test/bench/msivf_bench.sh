#!/bin/bash
# msivf benchmark (issues 4 and 14): recall@10 against QPS of msivf, side
# by side with pgvector 0.8.6 ivfflat and hnsw in the same server and FAISS
# IVFFlat, IVF-PQ + exact refine and HNSWFlat on one thread, on the data
# sets of datasets.py; one client, prepared statements with binary
# parameters, warm cache, median of 3 passes.  Prints one table per set and
# writes test/bench/out/msivf_bench_<set>.png.  msivf_bench.py says what is
# compared and how.
#
#   bash test/bench/msivf_bench.sh              (as root: installs what it needs; GloVe-100)
#   MSIVF_BENCH_SET=glove1m bash test/bench/msivf_bench.sh
#                        sets: glove glove1m highd-l2 highd-cos clustered1536;
#                        highd = both highd sets, all = every set; comma lists
#   MSIVF_BENCH_SET=all MSIVF_BENCH_LIMIT=20000 MSIVF_BENCH_QUERIES=500 bash test/bench/msivf_bench.sh
#                        (a short run: the first 20,000 base rows of each set)
#   MSIVF_BENCH_MODE=scaling bash test/bench/msivf_bench.sh
#                        (QPS at recall 0.95 against rows: msivf and hnsw on
#                        100k, 331k and all of glove1m's rows)
#   MSIVF_BENCH_PGVECTOR= bash test/bench/msivf_bench.sh   (no pgvector anchor)
#   MSIVF_BENCH_ELEMENT=half bash test/bench/msivf_bench.sh
#                        (half precision: msivf over hvec against pgvector halfvec
#                        hnsw, and msivf over vec in the same run)
#   MSIVF_BENCH_ELEMENT=bit bash test/bench/msivf_bench.sh
#                        (binary quantization + rerank: msivf bvec_hamming_ops on
#                        binary_quantize(emb)::bvec(n) against pgvector hnsw on
#                        binary_quantize(embedding)::bit(n), the same rerank by
#                        the float distance, rerank depths MSIVF_BENCH_RERANK)
#
# Needs: python3-faiss python3-numpy python3-matplotlib python3-psycopg npm,
# and pgvector, which ../shared/anchors/install-pgvector.sh (beside the
# checkout; PGVECTOR_INSTALL names another) builds from its tarball.
# MSIVF_BENCH_SHARED_BUFFERS (default 4GB) sizes the server's cache: the
# high-d sets' heaps are over 1 GB each.
set -euo pipefail
cd "$(dirname "$0")/../.."

for p in python3-faiss python3-numpy python3-matplotlib python3-psycopg; do
	dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p" >/dev/null
done
export MSIVF_BENCH_PGVECTOR=${MSIVF_BENCH_PGVECTOR-ivfflat,hnsw}
if [ -n "$MSIVF_BENCH_PGVECTOR" ]; then
	bash "${PGVECTOR_INSTALL:-../shared/anchors/install-pgvector.sh}"
fi
mkdir -p test/bench/out
# the data sets and their ground truth first, outside the server's lifetime
/usr/bin/python3 test/bench/datasets.py set "${MSIVF_BENCH_SET:-$([ "${MSIVF_BENCH_MODE:-}" = scaling ] && echo glove1m || echo glove)}" \
	${MSIVF_BENCH_LIMIT:+--limit "$MSIVF_BENCH_LIMIT"} ${MSIVF_BENCH_QUERIES:+--queries "$MSIVF_BENCH_QUERIES"}
if [ "${MSIVF_BENCH_ELEMENT:-}" = bit ]; then
	# recall of exact Hamming top R + rerank, the ceiling of every index (cached)
	/usr/bin/python3 test/bench/msivf_bench.py bq-ceiling
fi
# the server needs to read nothing from here; python talks to it over libpq
pg_virtualenv -o "shared_buffers=${MSIVF_BENCH_SHARED_BUFFERS:-4GB}" -o 'max_parallel_workers_per_gather=0' \
	-o 'jit=off' -- /usr/bin/python3 test/bench/msivf_bench.py
