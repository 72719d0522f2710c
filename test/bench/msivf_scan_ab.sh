#!/bin/bash
# A/B of msivf's scan between two builds: msivf_scan_ab.py says what is
# measured.  Each build is unpacked and built under a scratch directory
# (ab_builds.sh), installed into its own copy of this machine's PostgreSQL
# 15 (nothing is installed machine-wide), and run by its own throwaway
# server; then the same set, index and queries go to both.
#
#   bash test/bench/msivf_scan_ab.sh [REV_A [REV_B]]     (as root)
#
# REV_A defaults to HEAD, REV_B to the working tree as it is (uncommitted
# changes included).  AB_SET, AB_LIMIT, AB_QUERIES, AB_PROBES, AB_ROUNDS:
# see msivf_scan_ab.py; AB_SHARED_BUFFERS (default 1GB) per server;
# MSIVF_BENCH_DATA: where the sets are cached (datasets.py); PYTHON
# (default /usr/bin/python3).  Needs
# python3-numpy, python3-psycopg, python3-faiss (the exact answers), npm.
# A benchmark, not a test: the CI run does not call it.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "msivf_scan_ab.sh: run as root (the servers run as postgres)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
scratch=$(mktemp -d /tmp/ms-scan-ab.XXXXXX)
chmod 755 "$scratch"
PORTS=(5591 5592)
PG=/usr/lib/postgresql/15

stop_all() {
	for t in a b; do
		[ -d "$scratch/data_$t" ] &&
			runuser -u postgres -- "$scratch/pg_$t/lib/postgresql/15/bin/pg_ctl" -D "$scratch/data_$t" \
				-m fast stop >/dev/null 2>&1 || true
	done
	rm -rf "$scratch"
}
trap stop_all EXIT

# shellcheck source=ab_builds.sh
. "$here/ab_builds.sh"
ab_builds msivf_scan_ab.sh "$top" "$scratch" "${1:-HEAD}" "${2:-}"
echo "$desc_a"
echo "$desc_b"

i=0
for t in a b; do
	pfx=$scratch/pg_$t
	mkdir -p "$pfx/lib/postgresql" "$pfx/share/postgresql" "$pfx/include/postgresql"
	cp -a $PG "$pfx/lib/postgresql/"
	cp -a /usr/share/postgresql/15 "$pfx/share/postgresql/"
	cp -a /usr/include/postgresql/15 "$pfx/include/postgresql/"
	make -s -C "$scratch/$t" install PG_CONFIG="$pfx/lib/postgresql/15/bin/pg_config" >/dev/null
	chown -R postgres "$scratch"
	runuser -u postgres -- "$pfx/lib/postgresql/15/bin/initdb" -A trust -D "$scratch/data_$t" >/dev/null
	cat >>"$scratch/data_$t/postgresql.conf" <<CONF
port = ${PORTS[$i]}
unix_socket_directories = '$scratch'
listen_addresses = ''
shared_buffers = ${AB_SHARED_BUFFERS:-1GB}
shared_preload_libraries = 'machinesoup'
max_parallel_workers_per_gather = 0
jit = off
CONF
	runuser -u postgres -- "$pfx/lib/postgresql/15/bin/pg_ctl" -D "$scratch/data_$t" -l "$scratch/log_$t" -w \
		start >/dev/null
	i=$((i + 1))
done
AB_SOCKET=$scratch ${PYTHON:-/usr/bin/python3} "$here/msivf_scan_ab.py" "${PORTS[0]}" "${PORTS[1]}"
