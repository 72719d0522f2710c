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
#   MSIVF_BENCH_PGBIN=/opt/pg-x/lib/postgresql/15/bin MSIVF_BENCH_PORT=5496 bash test/bench/msivf_bench.sh
#                        (against a private PostgreSQL copy with machinesoup and
#                        pgvector installed in it, in a cluster of its own
#                        instead of pg_virtualenv's; nothing is installed)
#   MSIVF_BENCH_MODE=scaling MSIVF_BENCH_SCALE_POINTS=glove:100000,glove,glove1m ...
#                        (the scaling table over the given set[:rows] points:
#                        QPS at recall 0.95 of msivf, hnsw and FAISS IVFFlat,
#                        msivf codes per query, builds and sizes)
#   MSIVF_BENCH_FAISS_METHODS=ivfflat  (FAISS indexes measured: ivfflat,ivfpq,hnswflat)
#   MSIVF_BENCH_MSIVF=0  (the anchors alone, e.g. in a second server beside an msivf-only run)
set -euo pipefail
cd "$(dirname "$0")/../.."

for p in python3-faiss python3-numpy python3-matplotlib python3-psycopg; do
	dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p" >/dev/null
done
export MSIVF_BENCH_PGVECTOR=${MSIVF_BENCH_PGVECTOR-ivfflat,hnsw}
if [ -n "$MSIVF_BENCH_PGVECTOR" ] && [ -z "${MSIVF_BENCH_PGBIN:-}" ]; then
	bash "${PGVECTOR_INSTALL:-../shared/anchors/install-pgvector.sh}"
fi
mkdir -p test/bench/out
# the data sets and their ground truth first, outside the server's lifetime
if [ -n "${MSIVF_BENCH_SCALE_POINTS:-}" ] && [ "${MSIVF_BENCH_MODE:-}" = scaling ]; then
	for p in ${MSIVF_BENCH_SCALE_POINTS//,/ }; do
		/usr/bin/python3 test/bench/datasets.py set "${p%%:*}" $([ "${p#*:}" != "$p" ] && echo --limit "${p#*:}") \
			${MSIVF_BENCH_QUERIES:+--queries "$MSIVF_BENCH_QUERIES"}
	done
else
	/usr/bin/python3 test/bench/datasets.py set "${MSIVF_BENCH_SET:-$([ "${MSIVF_BENCH_MODE:-}" = scaling ] && echo glove1m || echo glove)}" \
		${MSIVF_BENCH_LIMIT:+--limit "$MSIVF_BENCH_LIMIT"} ${MSIVF_BENCH_QUERIES:+--queries "$MSIVF_BENCH_QUERIES"}
fi
if [ "${MSIVF_BENCH_ELEMENT:-}" = bit ]; then
	# recall of exact Hamming top R + rerank, the ceiling of every index (cached)
	/usr/bin/python3 test/bench/msivf_bench.py bq-ceiling
fi
# the server needs to read nothing from here; python talks to it over libpq
if [ -z "${MSIVF_BENCH_PGBIN:-}" ]; then
	pg_virtualenv -o "shared_buffers=${MSIVF_BENCH_SHARED_BUFFERS:-4GB}" -o 'max_parallel_workers_per_gather=0' \
		-o 'jit=off' -- /usr/bin/python3 test/bench/msivf_bench.py
	exit
fi
# a private PostgreSQL copy (tools like myrt.sh install a build into one):
# a throw-away cluster of its own on MSIVF_BENCH_PORT, stopped on exit
PGDIR=$(mktemp -d /tmp/msivf_bench.XXXXXX)
chown postgres "$PGDIR"
export PGHOST=/tmp PGPORT=${MSIVF_BENCH_PORT:-5496} PGUSER=postgres PGDATABASE=postgres
runuser -u postgres -- "$MSIVF_BENCH_PGBIN/initdb" -D "$PGDIR/data" >/dev/null
trap 'runuser -u postgres -- "$MSIVF_BENCH_PGBIN/pg_ctl" -D "$PGDIR/data" stop -m fast >/dev/null; rm -rf "$PGDIR"' EXIT
runuser -u postgres -- "$MSIVF_BENCH_PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -o "-p $PGPORT \
	-c shared_buffers=${MSIVF_BENCH_SHARED_BUFFERS:-4GB} -c max_parallel_workers_per_gather=0 -c jit=off \
	-c shared_preload_libraries=machinesoup -k /tmp" start >/dev/null || { cat "$PGDIR/server.log"; exit 1; }
/usr/bin/python3 test/bench/msivf_bench.py
