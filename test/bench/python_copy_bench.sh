#!/bin/bash
# Binary COPY of vec from Python (issue 17): the machinesoup.psycopg
# adapter's binary COPY against text COPY of '[...]' literals and against
# pgvector's binary vector format, the same rows into the same server.
# Prints one table (rows/s and ratios); python_copy_bench.py says how.
#
#   bash test/bench/python_copy_bench.sh                           (100,000 rows of 100 dims)
#   PYTHON_COPY_BENCH_N=1000000 bash test/bench/python_copy_bench.sh   (the 1M-row figure)
#   PYTHON_COPY_BENCH_DIMS=768 PYTHON_COPY_BENCH_PASSES=5 ...
#
# Run as root from the top of the checkout, with the extension installed
# (hold /tmp/ms-install.lock, as test/bench/README.md says).  Installs
# python3-psycopg and python3-numpy, and pgvector with
# ../shared/anchors/install-pgvector.sh (beside the checkout;
# PGVECTOR_INSTALL names another) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

for p in python3-psycopg python3-numpy; do
	dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p" >/dev/null
done
if [ ! -e "$(pg_config --sharedir)/extension/vector.control" ]; then
	bash "${PGVECTOR_INSTALL:-../shared/anchors/install-pgvector.sh}"
fi
# As root, the cluster and the client run as postgres, from a copy of the
# two things they read (pg_virtualenv run by root would make its cluster
# among the system's, where a second run at the same time collides).
RUNAS=()
dir=.
if [ "$(id -u)" = 0 ]; then
	dir=$(mktemp -d /tmp/python_copy_bench.XXXXXX)
	trap 'rm -rf "$dir"' EXIT
	tar --exclude=__pycache__ -cf - test/bench/python_copy_bench.py clients/python/machinesoup | tar -C "$dir" -xf -
	chown -R postgres:postgres "$dir"
	RUNAS=(runuser -u postgres --)
fi
# WAL sized so that no checkpoint lands inside a pass (each pass ends with
# one); the server reads nothing from here: python talks to it over libpq
(cd "$dir" && "${RUNAS[@]}" env PYTHON_COPY_BENCH_N="${PYTHON_COPY_BENCH_N:-100000}" \
	PYTHON_COPY_BENCH_DIMS="${PYTHON_COPY_BENCH_DIMS:-100}" PYTHON_COPY_BENCH_PASSES="${PYTHON_COPY_BENCH_PASSES:-3}" \
	pg_virtualenv -o shared_buffers=2GB -o max_wal_size=16GB -o checkpoint_timeout=1h \
	-o 'jit=off' -- /usr/bin/python3 test/bench/python_copy_bench.py)
