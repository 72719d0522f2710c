#!/bin/bash
# Instructions per ms.ingest call, two builds side by side, counted by
# valgrind's callgrind: a figure that other load on a shared machine does
# not move, for the security issue's budget "ms.ingest costs no more than
# 5 % over 0.3.0" where wall-clock runs (hardening_ab.sh) are too noisy to
# tell.
#
#   bash test/bench/ingest_callgrind.sh [REV_A [REV_B]]        (as root)
#
# REV_A and REV_B default as in hardening_ab.sh (0.3.0's last code; the
# working tree).  For each build: install it (holding /tmp/ms-install.lock),
# make a fresh cluster, create a model whose version ingests through
# ms.proc_float32, load 11,200 100-d points so that its msivf index is
# trained, stop the server, then run one statement in a single-user
# backend under callgrind, as a role holding only the ingest grant:
# N calls of ms.ingest with one record each (N_ONE, default 500), and the
# same statement with 0 calls.  The difference divided by N is what one
# call costs, start-up and shutdown taken out.  Single-user mode runs no
# background workers: the built-in processor needs no audit record.
#
# Leaves the last build measured installed.
set -euo pipefail
N_ONE=${N_ONE:-500}
LOCK=/tmp/ms-install.lock

if [ "${1:-}" = --measure ]; then
	# --measure VERSION OUTDIR F32FILE: as postgres
	version=$2 out=$3 f32=$4
	bin=$(pg_config --bindir)
	[ -x "$bin/initdb" ] || bin=/usr/lib/postgresql/15/bin
	"$bin/initdb" -D "$out/data" -A trust >/dev/null
	cat >>"$out/data/postgresql.conf" <<CONF
shared_preload_libraries = 'machinesoup'
listen_addresses = ''
port = 5499
unix_socket_directories = '$out'
synchronous_commit = off
max_parallel_maintenance_workers = 0
CONF
	"$bin/pg_ctl" -D "$out/data" -l "$out/server.log" -w start >/dev/null
	psql -X -q -h "$out" -p 5499 -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION machinesoup VERSION '$version';
CREATE ROLE bench_producer;
SELECT ms.create_model('bench', 'f32', 100, 'l2');
SELECT ms.create_version('bench', 'f32', 'v1', 'ms.proc_float32(bytea,integer)');
SELECT ms.promote('bench', 'f32', 'v1');
SELECT ms.grant('bench_producer', 'ingest', 'bench', 'f32');
CREATE TABLE ab_one (i int PRIMARY KEY, data bytea);
INSERT INTO ab_one SELECT i, pg_read_binary_file('$f32', i::bigint * 408, 408)
  FROM generate_series(0, 11200 + $N_ONE - 1) i;
GRANT SELECT ON ab_one TO bench_producer;
SET ROLE bench_producer;
SELECT count(ms.ingest('bench', 'f32', d))
  FROM (SELECT string_agg(data, ''::bytea ORDER BY i) d FROM ab_one WHERE i < 11200 GROUP BY i / 160) s;
RESET ROLE;
CHECKPOINT;
SQL
	"$bin/pg_ctl" -D "$out/data" -w stop >/dev/null
	for n in 0 "$N_ONE"; do
		echo "SET ROLE bench_producer; SELECT count(ms.ingest('bench', 'f32', data)) FROM ab_one WHERE i >= 11200 AND i < 11200 + $n;" |
			valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$n" \
				"$bin/postgres" --single -D "$out/data" postgres >"$out/single.$n.log" 2>&1
		grep -q "count = \"$n\"" "$out/single.$n.log" ||
			{ echo "ingest_callgrind.sh: the $n calls did not all run (see $out/single.$n.log)" >&2; exit 1; }
		sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$out/single.$n.log" >"$out/instructions.$n"
	done
	exit 0
fi

[ "$(id -u)" = 0 ] || { echo "ingest_callgrind.sh: run as root (it installs each build)" >&2; exit 1; }
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null
here=$(cd "$(dirname "$0")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel)
scratch=$(mktemp -d /tmp/ms-ingest-cg.XXXXXX)
# KEEP=1 keeps the scratch directory: its work/{a,b}/callgrind.* files are
# what callgrind_annotate reads to see where the instructions went.
if [ "${KEEP:-0}" = 1 ]; then
	echo "keeping $scratch"
else
	trap 'rm -rf "$scratch"' EXIT
fi
chmod 711 "$scratch"
mkdir -p "$scratch/work"
. "$here/ab_builds.sh"
ab_builds ingest_callgrind.sh "$top" "$scratch" "${1:-}" "${2:-}"
echo "$desc_a (extension $ver_a)"
echo "$desc_b (extension $ver_b)"
ver() { if [ "$1" = a ]; then echo "$ver_a"; else echo "$ver_b"; fi; }

# little-endian int64 id + 100 float32 per record, fixed seed
python3 - "$scratch/work/f32.bin" $((11200 + N_ONE)) <<'PY'
import random, struct, sys
random.seed(20241205)
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(struct.pack("<q", 1000000 + i) + struct.pack("<100f", *[random.uniform(-1, 1) for _ in range(100)]))
PY
cp "$here/ingest_callgrind.sh" "$scratch/work/"
chown -R postgres "$scratch/work"
for t in a b; do
	mkdir -p "$scratch/work/$t" && chown postgres "$scratch/work/$t"
	flock "$LOCK" sh -c "make -s -C '$scratch/$t' install >/dev/null &&
		runuser -u postgres -- env N_ONE=$N_ONE bash '$scratch/work/ingest_callgrind.sh' --measure '$(ver $t)' '$scratch/work/$t' '$scratch/work/f32.bin'"
done
python3 - "$scratch/work" "$N_ONE" "$(ver a)" "$(ver b)" <<'PY'
import sys
work, n, va, vb = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
per = {}
for t in "ab":
    base = int(open(f"{work}/{t}/instructions.0").read())
    full = int(open(f"{work}/{t}/instructions.{n}").read())
    per[t] = (full - base) / n
print(f"ms.ingest of one 100-d float32 record, instructions per call (callgrind, {n} calls)")
print(f"{'build':<8} {'version':<8} {'instructions':>13}")
print(f"{'A':<8} {va:<8} {per['a']:>13,.0f}")
print(f"{'B':<8} {vb:<8} {per['b']:>13,.0f}")
r = per['b'] / per['a']
print(f"B/A {r:.3f}  ({'within' if r <= 1.05 else 'over'} the 5 % budget)")
PY
