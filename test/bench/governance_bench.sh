#!/bin/bash
# Governance overhead: ms.knn (grant check, label resolution, the version's
# partition) against the same kNN written directly as ORDER BY ... LIMIT on
# that partition, one client, prepared statements (pgbench -M prepared), same
# data, same queries.  Prints a table with the overhead in percent.
#
#   test/bench/governance_bench.sh            (as root or postgres)
#   SECONDS_PER_RUN=10 ROWS=100000 test/bench/governance_bench.sh
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
			ROWS="${ROWS:-}" CONFIGS="${CONFIGS:-}" \
			pg_virtualenv -o shared_buffers=512MB "$scratch/governance_bench.sh"
	fi
	exec pg_virtualenv -o shared_buffers=512MB "$here/governance_bench.sh"
fi

T=${SECONDS_PER_RUN:-8}
ROWS=${ROWS:-100000}
# dims:metric pairs; GiST serves <= 64 dims, msivf above (once installed)
CONFIGS=${CONFIGS:-"2:l2 3:l2 16:l2 100:l2"}
WORK=$(mktemp -d /tmp/ms-gov-bench-run.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION machinesoup;
CREATE ROLE bench_consumer LOGIN PASSWORD '${PGPASSWORD:-bench}';
SQL

printf '%-6s %-7s %9s %-6s %14s %14s %10s\n' dims metric rows index "direct (us)" "ms.knn (us)" overhead
for cfg in $CONFIGS; do
	dims=${cfg%%:*}
	metric=${cfg##*:}
	model="m$dims$metric"
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
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
	psql -X -q -c "VACUUM ANALYZE ms.points_$vid" -c "ANALYZE bench_q"
	op=$(case $metric in l2) echo '<->';; ip) echo '<#>';; cosine) echo '<=>';; esac)
	cat >"$WORK/direct.sql" <<SQL
\set i random(1, 1000)
SELECT p.point_id, p.embedding $op q.v AS distance, p.payload FROM ms.points_$vid p, (SELECT v FROM bench_q WHERE model = '$model' AND id = :i) q ORDER BY p.embedding $op q.v LIMIT 10;
SQL
	cat >"$WORK/knn.sql" <<SQL
\set i random(1, 1000)
SELECT k.* FROM (SELECT v FROM bench_q WHERE model = '$model' AND id = :i) q, ms.knn('bench', '$model', q.v, 10) k;
SQL
	lat() {
		pgbench -n -M prepared -c 1 -T "$T" -f "$1" ${2:+-U "$2"} 2>&1 |
			sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
	}
	# warm both, then measure alternately twice and keep the best of each
	lat "$WORK/direct.sql" >/dev/null; lat "$WORK/knn.sql" bench_consumer >/dev/null
	d1=$(lat "$WORK/direct.sql"); k1=$(lat "$WORK/knn.sql" bench_consumer)
	d2=$(lat "$WORK/direct.sql"); k2=$(lat "$WORK/knn.sql" bench_consumer)
	awk -v dims="$dims" -v metric="$metric" -v rows="$ROWS" -v idx="$idx" \
		-v d1="$d1" -v d2="$d2" -v k1="$k1" -v k2="$k2" 'BEGIN {
		d = (d1 < d2 ? d1 : d2) * 1000; k = (k1 < k2 ? k1 : k2) * 1000;
		printf "%-6s %-7s %9d %-6s %14.1f %14.1f %9.1f%%\n", dims, metric, rows, idx, d, k, (k / d - 1) * 100 }'
done
