#!/bin/bash
# Governance overhead: ms.knn called by a plain role holding a query grant
# (grant check, label resolution, then the version's own partition) against
# the same kNN written directly as ORDER BY ... LIMIT on that partition by a
# superuser: one client, prepared statements (pgbench -M prepared, generic
# plans), same data (uniform random points, the version's index rebuilt
# after loading), same queries.  Each side is measured ROUNDS times,
# interleaved, keeping the best (the machine may be shared).  Prints a table
# with the overhead in percent; the target is <= 15 % (warm path).
#
# Three paths per configuration, each a row, ms.knn and its direct anchor
# measured in the same run:
#  - warm: the same backend calls again and again (the above);
#  - new backend: a new connection for each call (pgbench -C, simple
#    protocol), timed from connecting to the answer; the row below it
#    leaves out pgbench's average connection time: the first call alone,
#    which pays for the caches a backend fills on its first ms.knn;
#  - after a grant change: another (superuser) session grants or revokes a
#    query grant on the model for another role, commits, then the measured
#    session runs its prepared query once: ms.knn must drop its
#    authorisation cache and ask ms._access again; the direct query reads
#    no grant.  Median of COLD_SAMPLES samples (default 40) per round, as
#    psql's \timing sees them.
#
#   test/bench/governance_bench.sh            (as root or postgres)
#   SECONDS_PER_RUN=10 ROWS=100000 ROUNDS=3 CONFIGS="2:l2 100:cosine" test/bench/governance_bench.sh
#
# Runs in a throwaway cluster (pg_virtualenv) with the installed extension.
set -euo pipefail

if [ -z "${MS_BENCH_INSIDE:-}" ]; then
	export MS_BENCH_INSIDE=1
	here=$(cd "$(dirname "$0")" && pwd)
	if [ "$(id -u)" = 0 ]; then
		scratch=$(mktemp -d /tmp/ms-gov-bench.XXXXXX)
		cp "$here/governance_bench.sh" "$scratch/"
		chown -R postgres "$scratch"
		exec runuser -u postgres -- env MS_BENCH_INSIDE=1 SECONDS_PER_RUN="${SECONDS_PER_RUN:-}" \
			ROWS="${ROWS:-}" CONFIGS="${CONFIGS:-}" ROUNDS="${ROUNDS:-}" COLD_SAMPLES="${COLD_SAMPLES:-}" \
			pg_virtualenv -o shared_buffers=512MB -o shared_preload_libraries=machinesoup "$scratch/governance_bench.sh"
	fi
	exec pg_virtualenv -o shared_buffers=512MB -o shared_preload_libraries=machinesoup "$here/governance_bench.sh"
fi

T=${SECONDS_PER_RUN:-4}
ROWS=${ROWS:-100000}
# dims:metric pairs; GiST serves <= 64 dims, msivf above
CONFIGS=${CONFIGS:-"2:l2 3:l2 100:l2 100:cosine"}
WORK=$(mktemp -d /tmp/ms-gov-bench-run.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION machinesoup;
CREATE ROLE bench_consumer LOGIN PASSWORD '${PGPASSWORD:-bench}';
CREATE ROLE bench_other;
SQL

ROUNDS=${ROUNDS:-5}
COLD_SAMPLES=${COLD_SAMPLES:-40}
printf '%-6s %-7s %9s %-6s %-34s %14s %14s %10s\n' dims metric rows index path "direct (us)" "ms.knn (us)" overhead
for cfg in $CONFIGS; do
	dims=${cfg%%:*}
	metric=${cfg##*:}
	model="m$dims$metric"
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
SELECT setseed(0.42);
SELECT ms.create_model('bench', '$model', $dims, '$metric');
SELECT ms.create_version('bench', '$model', 'v1');
SELECT ms.promote('bench', '$model', 'v1');
SELECT ms.grant('bench_consumer', 'query', 'bench', '$model');
-- points and queries: uniform in [0, 1000)^dims
CREATE TEMP TABLE src AS
	SELECT i AS id, (SELECT array_agg(random() * 1000) FROM generate_series(1, $dims) WHERE i > 0)::vec AS v
	FROM generate_series(1, $ROWS) i;
SELECT sum(ms.upsert_points('bench', '$model', 'v1', ids, vecs))
	FROM (SELECT array_agg(id) ids, array_agg(v) vecs FROM src GROUP BY id / 5000) b;
CREATE TABLE IF NOT EXISTS bench_q (model text, id int, v vec, PRIMARY KEY (model, id));
INSERT INTO bench_q SELECT '$model', i,
	(SELECT array_agg(random() * 1000) FROM generate_series(1, $dims) WHERE i > 0)::vec
	FROM generate_series(1, 1000) i;
GRANT SELECT ON bench_q TO bench_consumer;
SQL
	vid=$(psql -X -Atq -c "SELECT version_id FROM ms.versions WHERE org = 'bench' AND model = '$model'")
	idx=$(psql -X -Atq -c "SELECT coalesce((SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = 'ms.points_$vid'::regclass AND am.amname <> 'btree' LIMIT 1), 'none')")
	# the version's index was created empty with the partition: rebuild it on the data
	psql -X -q -c "REINDEX TABLE ms.points_$vid" -c "VACUUM ANALYZE ms.points_$vid" -c "ANALYZE bench_q"
	op=$(case $metric in l2) echo '<->';; ip) echo '<#>';; cosine) echo '<=>';; esac)
	# the direct query must use the partition's index, as ms.knn does
	scan=$(psql -X -Atq -c "EXPLAIN (COSTS OFF) SELECT p.point_id, p.embedding $op (SELECT v FROM bench_q WHERE model = '$model' AND id = 1) AS distance FROM ms.points_$vid p ORDER BY distance LIMIT 10" |
		grep -o 'Index Scan\|Seq Scan' | head -1)
	[ "$idx" = none ] || [ "$scan" = "Index Scan" ] || echo "warning: direct query plan is '$scan'" >&2
	cat >"$WORK/direct.sql" <<SQL
\set i random(1, 1000)
SELECT p.point_id, p.embedding $op (SELECT v FROM bench_q WHERE model = '$model' AND id = :i) AS distance, p.payload FROM ms.points_$vid p ORDER BY distance LIMIT 10;
SQL
	cat >"$WORK/knn.sql" <<SQL
\set i random(1, 1000)
SELECT * FROM ms.knn('bench', '$model', (SELECT v FROM bench_q WHERE model = '$model' AND id = :i), 10);
SQL
	# generic plans on both sides, as ms.knn's own statements are: a prepared
	# statement that re-plans per execution would flatter ms.knn
	lat() {
		PGOPTIONS="-c plan_cache_mode=force_generic_plan" \
			pgbench -n -M prepared -c 1 -T "$T" -f "$1" ${2:+-U "$2"} 2>&1 |
			sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
	}
	# a new connection per call: "<ms per call, connection included> <ms of
	# the call alone>" (pgbench's latency average less its connection time)
	lat_new() {
		pgbench -n -C -M simple -c 1 -T "$T" -f "$1" ${2:+-U "$2"} 2>&1 |
			awk '/^latency average =/ {l = $4} /^average connection time =/ {c = $5}
				 /^tps = / {t = $3} END {print 1000 / t, l - c}'
	}
	# after a grant change by another session: prepares the query, then
	# COLD_SAMPLES times has another session (superuser, \!) change a query
	# grant on the model and runs the query once; prints each time in ms
	cold() {
		local sql=$1 user=${2:-} out=$WORK/cold.sql
		{
			echo "SET plan_cache_mode = force_generic_plan;"
			cat "$sql"
			echo "EXECUTE q(1); EXECUTE q(2);"
			echo '\timing on'
			for s in $(seq 1 "$COLD_SAMPLES"); do
				if [ $((s % 2)) = 1 ]; then f=grant; else f=revoke; fi
				echo "\\! psql -X -q -c \"SELECT ms.$f('bench_other', 'query', 'bench', '$model')\" >/dev/null"
				echo "EXECUTE q($(((s * 37) % 1000 + 1)));"
			done
		} >"$out"
		psql -X -q -v ON_ERROR_STOP=1 ${user:+-U "$user"} -f "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
	}
	# the same queries as prepared statements, for cold()
	cat >"$WORK/direct_prep.sql" <<SQL
PREPARE q(int) AS SELECT p.point_id, p.embedding $op (SELECT v FROM bench_q WHERE model = '$model' AND id = \$1) AS distance, p.payload FROM ms.points_$vid p ORDER BY distance LIMIT 10;
SQL
	cat >"$WORK/knn_prep.sql" <<SQL
PREPARE q(int) AS SELECT * FROM ms.knn('bench', '$model', (SELECT v FROM bench_q WHERE model = '$model' AND id = \$1), 10);
SQL
	min() { awk -v a="$1" -v b="$2" 'BEGIN {print (b < a ? b : a)}'; }
	# warm both, then measure alternately ROUNDS times; keep the best of each
	lat "$WORK/direct.sql" >/dev/null; lat "$WORK/knn.sql" bench_consumer >/dev/null
	d=999999; k=999999; dn=999999; kn=999999; dn1=999999; kn1=999999
	: >"$WORK/cold_direct"; : >"$WORK/cold_knn"
	for r in $(seq 1 "$ROUNDS"); do
		d=$(min "$d" "$(lat "$WORK/direct.sql")")
		k=$(min "$k" "$(lat "$WORK/knn.sql" bench_consumer)")
		read -r x y <<<"$(lat_new "$WORK/direct.sql")"; dn=$(min "$dn" "$x"); dn1=$(min "$dn1" "$y")
		read -r x y <<<"$(lat_new "$WORK/knn.sql" bench_consumer)"; kn=$(min "$kn" "$x"); kn1=$(min "$kn1" "$y")
		cold "$WORK/direct_prep.sql" >>"$WORK/cold_direct"
		cold "$WORK/knn_prep.sql" bench_consumer >>"$WORK/cold_knn"
	done
	median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
	dc=$(median "$WORK/cold_direct"); kc=$(median "$WORK/cold_knn")
	row() {
		awk -v dims="$dims" -v metric="$metric" -v rows="$ROWS" -v idx="$idx" -v path="$1" \
			-v d="$2" -v k="$3" 'BEGIN {
			d *= 1000; k *= 1000;
			printf "%-6s %-7s %9d %-6s %-34s %14.1f %14.1f %9.1f%%\n", dims, metric, rows, idx, path, d, k, (k / d - 1) * 100 }'
	}
	row "warm (best of rounds)" "$d" "$k"
	row "new backend: connect + 1st call" "$dn" "$kn"
	row "new backend: 1st call alone" "$dn1" "$kn1"
	row "after a grant change (median)" "$dc" "$kc"
done
