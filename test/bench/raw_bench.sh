#!/bin/bash
# Raw store benchmark (issue "Raw data"): ms.ingest throughput for 1 MB CSV
# batches and 64 KB float32 batches of GloVe 100-d vectors (LZ4 frame +
# processor + points), against inserting the same bytes into a plain bytea
# column with TOAST compression lz4 (like for like with ms.ingest's LZ4
# frames); the bytes each stores; and ms.read_batch latency (audit record
# committed first) against LZ4 decompression alone.  Prints tables; rates
# are medians of ROUNDS rounds (default 5), each of new points (a warm-up
# round first builds the versions' msivf indexes, as ms.ingest does once
# 10,000 points are in).  The headline ratio charges each method its own
# writeback (the CHECKPOINT after its statement) as well.
#
#   bash test/bench/raw_bench.sh [CSV_BATCHES] [F32_BATCHES]   (as root)
#   LEVEL=3 bash test/bench/raw_bench.sh     (another LZ4 compression level)
#   ROUNDS=9 bash test/bench/raw_bench.sh   (more timed rounds)
#   SHARED_BUFFERS=1GB bash test/bench/raw_bench.sh   (server setting; default 128MB)
#   CLEAN=off bash test/bench/raw_bench.sh   (no CHECKPOINT around each timed
#                                            statement: see raw_bench.sql)
set -euo pipefail
cd "$(dirname "$0")/../.."
N_CSV=${1:-20}
N_F32=${2:-200}
ROUNDS=${ROUNDS:-5}
CLEAN=${CLEAN:-on}

bash scripts/setup.sh >/dev/null
DATA=$(mktemp -d /tmp/machinesoup-rawbench.XXXXXX)
trap 'rm -rf "$DATA"' EXIT
python3 test/bench/raw_batches.py "$DATA" $(((ROUNDS + 1) * N_CSV)) $(((ROUNDS + 1) * N_F32))
chmod -R a+rX "$DATA"

RUN=()
[ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
"${RUN[@]}" pg_virtualenv -o shared_preload_libraries=machinesoup ${SHARED_BUFFERS:+-o shared_buffers=$SHARED_BUFFERS} -- \
	psql -X -q -v ON_ERROR_STOP=1 -v datadir="$DATA" -v n_csv="$N_CSV" -v n_f32="$N_F32" -v rounds="$ROUNDS" -v clean="$CLEAN" \
	${LEVEL:+-v level="$LEVEL"} \
	-f test/bench/raw_bench.sql
