#!/bin/bash
# svec against pgvector's sparsevec: ns per row of sum(v <#> q),
# sum(v <-> q) and sum(v <=> q) over SPLADE-like rows (30,000 dimensions,
# about 100 non-zeros, indices skewed towards the low, frequent "terms"),
# on one core (no parallel workers).  Both tables hold the same vectors,
# read from the same text (the two types share the text form
# {index:value,...}/dims); each figure is the median of several runs over
# a warm cache, beside a baseline scan that only fetches each value.
#
#   flock /tmp/ms-install.lock sh -c 'make -s install && bash test/bench/svec_bench.sh'
#
# Knobs: SVEC_BENCH_ROWS (200000), SVEC_BENCH_DIMS (30000),
# SVEC_BENCH_NNZ (100), SVEC_BENCH_REPS (5), PGVECTOR_INSTALL (a script
# that installs pgvector when it is missing; default the shared anchor).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${SVEC_BENCH_ROWS:-200000}
DIMS=${SVEC_BENCH_DIMS:-30000}
NNZ=${SVEC_BENCH_NNZ:-100}
REPS=${SVEC_BENCH_REPS:-5}
PGVECTOR_INSTALL=${PGVECTOR_INSTALL:-/work/shared/anchors/install-pgvector.sh}

if [ ! -e "$(pg_config --pkglibdir)/vector.so" ]; then
	bash "$PGVECTOR_INSTALL"
fi

RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)
echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "rows $ROWS, dims $DIMS, about $NNZ non-zeros per row, median of $REPS runs"

"${RUNAS[@]}" pg_virtualenv -o shared_buffers=1GB -- psql -X -q -v ON_ERROR_STOP=1 \
	-v rows="$ROWS" -v dims="$DIMS" -v nnz="$NNZ" -v reps="$REPS" -f - <<'SQL'
\pset footer off
SET max_parallel_workers_per_gather = 0;
SET jit = off;
\o /dev/null
CREATE EXTENSION machinesoup;
CREATE EXTENSION vector;
CREATE EXTENSION pg_prewarm;

-- the vectors as text: about nnz distinct indices per row, drawn with a
-- density falling towards the high indices (random()^2), as term
-- frequencies do; values in (0, 3)
SELECT setseed(0.16);
CREATE TEMP TABLE src AS
SELECT id, '{' || string_agg(k || ':' || round((random() * 3)::numeric, 3), ',' ORDER BY k) || '}/' || :dims AS t
  FROM (SELECT DISTINCT id, 1 + floor(:dims * random() ^ 2)::int AS k
		  FROM generate_series(1, :rows) id, generate_series(1, :nnz + :nnz / 10) j) x
 GROUP BY id;
CREATE TABLE s_ms AS SELECT id, t::svec AS v FROM src;
CREATE TABLE s_pg AS SELECT id, t::sparsevec AS v FROM src;
VACUUM FREEZE ANALYZE s_ms;
VACUUM FREEZE ANALYZE s_pg;
SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 't');

-- median wall time (ms) of reps runs after one warm-up
CREATE FUNCTION bench_ms(sql text, reps int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	times float8[] := '{}';
BEGIN
	EXECUTE sql;
	FOR i IN 1 .. reps LOOP
		t0 := clock_timestamp();
		EXECUTE sql;
		times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
END $$;

-- the query: row 1 (about nnz non-zeros), in both types
SELECT v::text AS q FROM s_ms WHERE id = 1 \gset
CREATE TABLE results (op text, svec_ms float8, sparsevec_ms float8);
INSERT INTO results VALUES
	('baseline: sum(pg_column_size(v))',
	 bench_ms('SELECT sum(pg_column_size(v)) FROM s_ms', :reps),
	 bench_ms('SELECT sum(pg_column_size(v)) FROM s_pg', :reps)),
	('sum(v <#> q)',
	 bench_ms(format('SELECT sum(v <#> %L::svec) FROM s_ms', :'q'), :reps),
	 bench_ms(format('SELECT sum(v <#> %L::sparsevec) FROM s_pg', :'q'), :reps)),
	('sum(v <-> q)',
	 bench_ms(format('SELECT sum(v <-> %L::svec) FROM s_ms', :'q'), :reps),
	 bench_ms(format('SELECT sum(v <-> %L::sparsevec) FROM s_pg', :'q'), :reps)),
	('sum(v <=> q)',
	 bench_ms(format('SELECT sum(v <=> %L::svec) FROM s_ms', :'q'), :reps),
	 bench_ms(format('SELECT sum(v <=> %L::sparsevec) FROM s_pg', :'q'), :reps));

-- the two agree (to float32 rounding: sparsevec sums in float32)
CREATE TABLE agree AS
SELECT max(abs((a.v <#> :'q'::svec) - (b.v <#> :'q'::sparsevec)) / (1 + abs(a.v <#> :'q'::svec))) AS ip_rel_err,
	   max(abs((a.v <-> :'q'::svec) - (b.v <-> :'q'::sparsevec)) / (1 + (a.v <-> :'q'::svec))) AS l2_rel_err
  FROM s_ms a JOIN s_pg b USING (id);
\o
SELECT count(*) AS rows, round(avg(svec_nnz(v)), 1) AS avg_nnz,
	   pg_size_pretty(pg_table_size('s_ms')) AS svec_table, pg_size_pretty(pg_table_size('s_pg')) AS sparsevec_table
  FROM s_ms;
SELECT op,
	   round((svec_ms * 1e6 / :rows)::numeric, 0) AS "svec ns/row",
	   round((sparsevec_ms * 1e6 / :rows)::numeric, 0) AS "sparsevec ns/row",
	   round((sparsevec_ms / svec_ms)::numeric, 2) AS "sparsevec / svec"
  FROM results;
SELECT r.op,
	   round(((r.svec_ms - b.svec_ms) * 1e6 / :rows)::numeric, 0) AS "svec ns/row above baseline",
	   round(((r.sparsevec_ms - b.sparsevec_ms) * 1e6 / :rows)::numeric, 0) AS "sparsevec ns/row above baseline"
  FROM results r, (SELECT * FROM results WHERE op LIKE 'baseline%') b
 WHERE r.op NOT LIKE 'baseline%';
SELECT * FROM agree;
SQL
