#!/bin/bash
# The routed path's cost: ms.knn and ms.ingest throughput for 4 orgs with
# CLIENTS clients (pgbench, prepared statements), on one node and on a
# Citus coordinator with two workers, all on this machine: a measure of
# what distribution costs per call, not of a speed-up (the workers share
# the same cores).  The single-node anchor is a database of the
# coordinator's own server without Citus, so both sides run on the same
# server settings in the same run; rounds alternate the two.
#
#   bash test/bench/citus_bench.sh          (as root; needs Citus installed:
#                                            third_party/citus/install.sh)
#   ROUNDS=3 SECONDS_PER_RUN=15 CLIENTS=4 ROWS=12000 bash test/bench/citus_bench.sh
#
# On the cluster ms.knn and ms.ingest are routed whole to the worker
# holding the org (distributed functions, checked below); so is a no-op
# function distributed the same way, whose extra latency is the floor
# that Citus's delegation sets for any routed call.  PG_BIN (default
# pg_config --bindir) picks the server binaries.  Prints, per workload, the median
# throughput of each side, the ratio, and the extra latency per call on
# the cluster (pgbench's average latency, cluster minus single node): the
# planning and forwarding that Citus adds to each call.  Target: the
# routed call costs at most 20 % more.  The rows marked * are the same
# calls from a client connected to the worker that holds the orgs
# (ms.org_node), for the orgs that worker holds.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
T=${SECONDS_PER_RUN:-15}
CLIENTS=${CLIENTS:-4}
ROWS=${ROWS:-12000}

if [ "$(id -u)" = 0 ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	scratch=$(mktemp -d /tmp/ms-citus-bench.XXXXXX)
	trap 'rm -rf "$scratch"' EXIT
	cp "$here/citus_bench.sh" "$scratch/"
	chown -R postgres "$scratch"
	runuser -u postgres -- env PATH="$PATH" ROUNDS="$ROUNDS" SECONDS_PER_RUN="$T" CLIENTS="$CLIENTS" ROWS="$ROWS" \
		CITUS_BENCH_DIR="$scratch" bash "$scratch/citus_bench.sh"
	exit
fi

DIR=${CITUS_BENCH_DIR:-$(mktemp -d /tmp/ms-citus-bench.XXXXXX)}
BIN=${PG_BIN:-$(pg_config --bindir)}
SOCK=$DIR
PORTS=(5611 5612 5613)
[ -f "$(pg_config --sharedir)/extension/citus.control" ] ||
	{ echo "citus_bench.sh: Citus is not installed (third_party/citus/install.sh)" >&2; exit 1; }

stop_all() {
	for p in "${PORTS[@]}"; do
		"$BIN/pg_ctl" -D "$DIR/n$p" -m fast stop >/dev/null 2>&1 || true
	done
}
trap stop_all EXIT

for p in "${PORTS[@]}"; do
	"$BIN/initdb" -D "$DIR/n$p" -A trust >/dev/null
	cat >>"$DIR/n$p/postgresql.conf" <<CONF
port = $p
unix_socket_directories = '$SOCK'
listen_addresses = ''
shared_preload_libraries = 'citus,machinesoup'
citus.local_hostname = '$SOCK'
max_worker_processes = 16
shared_buffers = 256MB
synchronous_commit = off
max_connections = 100
CONF
	"$BIN/pg_ctl" -D "$DIR/n$p" -l "$DIR/log$p" -w start >/dev/null
	psql -X -q -h "$SOCK" -p "$p" -d postgres -c 'CREATE EXTENSION citus'
done
C=(-X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "${PORTS[0]}")
psql "${C[@]}" -d postgres <<SQL
SELECT citus_set_coordinator_host('$SOCK', ${PORTS[0]});
CREATE EXTENSION machinesoup;
SELECT citus_add_node('$SOCK', ${PORTS[1]});
SELECT citus_add_node('$SOCK', ${PORTS[2]});
SELECT ms.enable_citus();
CREATE DATABASE single;
SQL
psql "${C[@]}" -d single -c 'CREATE EXTENSION machinesoup'

# the same models, points, queries and batches in both databases
for db in postgres single; do
	psql "${C[@]}" -d "$db" >/dev/null <<SQL
SET client_min_messages = warning;
SELECT setseed(0.5);
SELECT ms.create_model('org' || o, 'm', 100, 'cosine'), ms.create_version('org' || o, 'm', 'v1'),
	   ms.promote('org' || o, 'm', 'v1')
  FROM generate_series(1, 4) o;
SELECT ms.upsert_points('org' || o, 'm', 'v1', array_agg(i ORDER BY i),
	array_agg((SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 100 + 0 * i))::vec ORDER BY i))
  FROM generate_series(1, 4) o, generate_series(1, $ROWS) i GROUP BY o, i / 5000;
CREATE TABLE bench_queries AS
	SELECT q, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 100 + 0 * q))::vec AS v
	FROM generate_series(1, 200) q;
-- the floor: a routed call that does nothing (Citus's own delegation)
CREATE FUNCTION bench_noop(org text) RETURNS integer LANGUAGE plpgsql VOLATILE AS 'BEGIN RETURN 1; END';
CREATE TABLE bench_rows AS
	SELECT r, (SELECT string_agg(round((random() - 0.5)::numeric, 4)::text, ',') FROM generate_series(1, 100 + 0 * r)) AS csv
	FROM generate_series(1, 200) r;
VACUUM ANALYZE;
SQL
done

# ms.knn as a client calls it, the org and the query as values (a subquery
# or an expression as an argument would keep Citus from routing the call
# to the org's worker): 4 orgs x 10 queries, one script each, picked at
# random by pgbench
KNN_SCRIPTS=()
while read -r q v; do
	for o in 1 2 3 4; do
		echo "SELECT count(*) FROM ms.knn('org$o', 'm', '$v', 10);" >"$DIR/knn_${o}_$q.sql"
		KNN_SCRIPTS+=(-f "$DIR/knn_${o}_$q.sql")
	done
done < <(psql "${C[@]}" -At -F ' ' -d single -c 'SELECT q, v FROM bench_queries WHERE q <= 10 ORDER BY q')
# ms.ingest likewise: the org a value, the record's text a value after its
# point id (random, so each call inserts a new point): 4 orgs x 10 records
INGEST_SCRIPTS=()
while read -r r csv; do
	for o in 1 2 3 4; do
		cat >"$DIR/ingest_${o}_$r.sql" <<SQL
\set id random(10000000, 999999999999)
SELECT ms.ingest('org$o', 'm', convert_to(:id || ',$csv' || E'\\n', 'UTF8'));
SQL
		INGEST_SCRIPTS+=(-f "$DIR/ingest_${o}_$r.sql")
	done
done < <(psql "${C[@]}" -At -F ' ' -d single -c 'SELECT r, csv FROM bench_rows WHERE r <= 10 ORDER BY r')

psql "${C[@]}" -d postgres -c "SELECT create_distributed_function('bench_noop(text)', 'org', colocate_with := 'ms.raw_batches')" >/dev/null
NOOP_SCRIPTS=()
for o in 1 2 3 4; do
	echo "SELECT bench_noop('org$o');" >"$DIR/noop_$o.sql"
	NOOP_SCRIPTS+=(-f "$DIR/noop_$o.sql")
done

# the cluster's ms.knn must be routed, or this measures something else
routed=$(psql "${C[@]}" -d postgres -c 'SET client_min_messages = debug1' -f "$DIR/knn_1_1.sql" 2>&1 >/dev/null |
	grep -c 'pushing down the function call' || true)
[ "$routed" = 1 ] || { echo "citus_bench.sh: ms.knn is not routed to the worker" >&2; exit 1; }
pgbench -n -M prepared -h "$SOCK" -p "${PORTS[0]}" -t 1 -f "$DIR/ingest_1_1.sql" postgres >/dev/null 2>&1
routed=$(psql "${C[@]}" -At -d postgres -c "SELECT count(*) FROM ms.raw_batches WHERE batch_id >= (1::bigint << 48)")
[ "$routed" = 1 ] || { echo "citus_bench.sh: ms.ingest is not routed to the worker" >&2; exit 1; }

# a client that connects to the worker holding its org (ms.org_node)
# instead of the coordinator: the orgs the first worker holds, their
# ms.knn calls sent to that worker, and the same calls on one node
LOCAL_PORT=${PORTS[1]}
LOCAL_ORGS=$(psql "${C[@]}" -At -d postgres -c \
	"SELECT string_agg(o::text, ' ') FROM generate_series(1, 4) o WHERE (ms.org_node('org' || o)).port = $LOCAL_PORT")
[ -n "$LOCAL_ORGS" ] || { echo "citus_bench.sh: no org on the worker at port $LOCAL_PORT" >&2; exit 1; }
LOCAL_KNN_SCRIPTS=()
LOCAL_INGEST_SCRIPTS=()
for o in $LOCAL_ORGS; do
	for f in "$DIR"/knn_"${o}"_*.sql; do
		LOCAL_KNN_SCRIPTS+=(-f "$f")
	done
	for f in "$DIR"/ingest_"${o}"_*.sql; do
		LOCAL_INGEST_SCRIPTS+=(-f "$f")
	done
done
# what Citus does with such a call on the worker (test/t/081_citus_ms.pl
# checks that it reaches no other node)
echo "ms.knn on the org's worker, as Citus logs it:"
psql -X -q -h "$SOCK" -p "$LOCAL_PORT" -d postgres -c 'SET client_min_messages = debug1' \
	-f "${LOCAL_KNN_SCRIPTS[1]}" 2>&1 >/dev/null | sed 's/^/  /' | head -5

# pgbench: "tps latency_ms"
run() {
	local db=$1 script=$2 port=${PORTS[0]} scripts
	case $script in
		knn) scripts=("${KNN_SCRIPTS[@]}") ;;
		ingest) scripts=("${INGEST_SCRIPTS[@]}") ;;
		noop) scripts=("${NOOP_SCRIPTS[@]}") ;;
		knn_worker) scripts=("${LOCAL_KNN_SCRIPTS[@]}") ;;
		ingest_worker) scripts=("${LOCAL_INGEST_SCRIPTS[@]}") ;;
	esac
	# the cluster's side of the * rows: a client of the org's worker
	[[ $script = *_worker && $db = postgres ]] && port=$LOCAL_PORT
	pgbench -n -M prepared -h "$SOCK" -p "$port" -c "$CLIENTS" -j 2 -T "$T" "${scripts[@]}" "$db" 2>/dev/null |
		awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {print tps, lat}'
}

: >"$DIR/results"
for round in $(seq 1 "$ROUNDS"); do
	for w in knn ingest noop knn_worker ingest_worker; do
		if [ $((round % 2)) = 1 ]; then order="single postgres"; else order="postgres single"; fi
		for db in $order; do
			echo "$w $db $(run "$db" "$w")" >>"$DIR/results"
		done
	done
done

python3 - "$DIR/results" "$CLIENTS" "$ROWS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
clients, nrows = sys.argv[2], int(sys.argv[3])
print(f"4 orgs x {nrows:,} points of 100 dims (msivf, cosine), {clients} clients, pgbench -M prepared")
print("Citus: ms.knn and ms.ingest routed whole to the org's worker")
print(f"{'workload':<10} {'one node (calls/s)':>19} {'Citus 1+2 (calls/s)':>20} {'ratio':>7} {'extra latency/call':>19}")
for w in ("knn", "ingest", "noop", "knn_worker", "ingest_worker"):
    s = [(float(t), float(l)) for (ww, db, t, l) in rows if ww == w and db == "single"]
    c = [(float(t), float(l)) for (ww, db, t, l) in rows if ww == w and db == "postgres"]
    st, ct = statistics.median(x[0] for x in s), statistics.median(x[0] for x in c)
    sl, cl = statistics.median(x[1] for x in s), statistics.median(x[1] for x in c)
    name = {"knn": "ms.knn", "ingest": "ms.ingest", "noop": "no-op", "knn_worker": "ms.knn*",
            "ingest_worker": "ms.ingest*"}[w]
    print(f"{name:<10} {st:>19,.0f} {ct:>20,.0f} {ct / st:>7.2f} {1000 * (cl - sl):>16,.0f} us")
print("no-op: a PL/pgSQL function returning 1, distributed by org like ms.knn: what Citus's delegation alone costs a call")
print("ms.knn*, ms.ingest*: the client connected to the worker that holds its org (ms.org_node), not to the coordinator;"
      " the orgs that worker holds, against the same calls on one node")
print("ratio = Citus / one node (1.00: no cost; target >= 0.83, i.e. at most 20 % more per call)")
PY
