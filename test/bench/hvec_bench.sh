#!/bin/bash
# hvec against vec and pgvector's halfvec/vector (the anchor, measured in
# the same run): ns per row of SELECT sum(v <-> q) over ROWS random DIM-d
# rows (one core, no parallel workers, table cached), median of 5 runs,
# and the storage each type takes per row.  Needs pgvector installed
# (bash /work/shared/anchors/install-pgvector.sh).  Uses the installed
# extension: run under the install lock when others install theirs.
#
#   bash test/bench/hvec_bench.sh            (as root or a PostgreSQL superuser)
#   ROWS=50000 DIM=1536 bash test/bench/hvec_bench.sh
set -euo pipefail
ROWS=${ROWS:-100000}
DIM=${DIM:-768}
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)
cd /tmp
"${RUNAS[@]}" pg_virtualenv -o shared_buffers=1GB -o max_parallel_workers_per_gather=0 -- \
	psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v dim="$DIM" -f - <<'SQL'
CREATE EXTENSION machinesoup;
CREATE EXTENSION vector;
SELECT setseed(0.5);
CREATE TABLE src AS SELECT i, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, :dim) d WHERE i > 0) AS a
  FROM generate_series(1, :rows) i;
CREATE TABLE t_vec AS SELECT a::vec AS v FROM src;
CREATE TABLE t_hvec AS SELECT a::hvec AS v FROM src;
CREATE TABLE t_vector AS SELECT a::vector AS v FROM src;
CREATE TABLE t_halfvec AS SELECT a::halfvec AS v FROM src;
VACUUM ANALYZE t_vec, t_hvec, t_vector, t_halfvec;
CREATE TEMP TABLE q AS SELECT a FROM src LIMIT 1;
CREATE TEMP TABLE timing (kind text, run int, ns_per_row float8);
CREATE FUNCTION bench(kind text, tbl text, qexpr text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; r float8;
BEGIN
	EXECUTE format('SELECT sum(v <-> %s) FROM %I', qexpr, tbl) INTO r;	-- warm
	FOR run IN 1..5 LOOP
		t0 := clock_timestamp();
		EXECUTE format('SELECT sum(v <-> %s) FROM %I', qexpr, tbl) INTO r;
		INSERT INTO timing VALUES (kind, run,
			extract(epoch FROM clock_timestamp() - t0) * 1e9 / (SELECT count(*) FROM src));
	END LOOP;
END $$;
SELECT bench('vec', 't_vec', format('%L::vec', (SELECT a FROM q)::vec));
SELECT bench('hvec', 't_hvec', format('%L::hvec', (SELECT a FROM q)::hvec));
SELECT bench('pgvector vector', 't_vector', format('%L::vector', (SELECT a FROM q)::vector));
SELECT bench('pgvector halfvec', 't_halfvec', format('%L::halfvec', (SELECT a FROM q)::halfvec));
\echo
\echo sum(v <-> q), :rows rows of :dim dimensions, one core
CREATE TEMP TABLE sizes AS
	  SELECT 'vec' AS kind, avg(pg_column_size(v)) AS vb, pg_table_size('t_vec') AS tb FROM t_vec
UNION ALL SELECT 'hvec', avg(pg_column_size(v)), pg_table_size('t_hvec') FROM t_hvec
UNION ALL SELECT 'pgvector vector', avg(pg_column_size(v)), pg_table_size('t_vector') FROM t_vector
UNION ALL SELECT 'pgvector halfvec', avg(pg_column_size(v)), pg_table_size('t_halfvec') FROM t_halfvec;
SELECT t.kind AS type,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ns_per_row)::numeric, 0) AS ns_per_row,
	   round(min(s.vb), 0) AS value_bytes,
	   round(min(s.tb)::numeric / :rows, 0) AS table_bytes_per_row
  FROM timing t JOIN sizes s USING (kind) GROUP BY t.kind ORDER BY 2;
SELECT vec_simd_level();
SQL
