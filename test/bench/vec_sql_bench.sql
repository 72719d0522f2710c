-- Driven by vec_sql_bench.sh; see there.
\pset footer off
SET max_parallel_workers_per_gather = 0;
SET jit = off;
\o /dev/null
CREATE EXTENSION machinesoup;
CREATE EXTENSION cube;
CREATE EXTENSION pg_prewarm;

-- one table per representation, so each scan reads only its own column
CREATE TABLE glove (word text, v vec(100));
\set glove :datadir '/glove.tsv'
COPY glove FROM :'glove';
CREATE TABLE glove_cube AS SELECT cube(v::real[]::float8[]) AS c FROM glove;
CREATE TABLE glove_arr AS SELECT v::real[] AS a FROM glove;

-- vec's default storage (main: inline up to a page) and, for comparison,
-- external (TOAST past 2 kB, what pgvector uses)
CREATE TABLE rand1536 AS
	SELECT i AS id, (SELECT array_agg(random()::real) FROM generate_series(1, 1536) WHERE i > 0)::vec(1536) AS v
	FROM generate_series(1, 50000) i;
CREATE TABLE rand1536_toast (id int, v vec(1536));
ALTER TABLE rand1536_toast ALTER COLUMN v SET STORAGE external;
INSERT INTO rand1536_toast SELECT * FROM rand1536;
CREATE TABLE rand1536_arr AS SELECT v::real[] AS a FROM rand1536 LIMIT 2000;
VACUUM FREEZE ANALYZE;
-- warm the cache
SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 't', 'i');

CREATE FUNCTION arr_l2(real[], real[]) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS 'SELECT sqrt(sum((x - y) ^ 2)) FROM unnest($1, $2) u(x, y)';
CREATE FUNCTION arr_cos(real[], real[]) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS 'SELECT 1 - sum(x * y) / sqrt(sum(x * x) * sum(y * y)) FROM unnest($1, $2) u(x, y)';

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

CREATE TABLE results (dataset text, rows bigint, variant text, simd text, op text, ms float8);

CREATE FUNCTION run_case(dataset text, variant text, op text, sql text, reps int, nrows bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO results VALUES (dataset, nrows, variant,
		CASE WHEN variant LIKE 'vec%' THEN vec_simd_level() ELSE '-' END, op, bench_ms(sql, reps));
END $$;

SELECT v AS q100 FROM glove WHERE word = 'king' \gset
SELECT v AS q1536 FROM rand1536 WHERE id = 1 \gset
SET bench.q100 = :'q100';
SET bench.q1536 = :'q1536';

-- the executor's own cost per row: scan, detoast, one trivial call
SELECT run_case('glove-100d', 'baseline: sum(vec_dims(v))', '-', 'SELECT sum(vec_dims(v)) FROM glove', 5, 300000);
SELECT run_case('random-1536d', 'baseline: sum(vec_dims(v))', '-', 'SELECT sum(vec_dims(v)) FROM rand1536', 5, 50000);
SELECT run_case('random-1536d', 'TOAST baseline: sum(vec_dims(v))', '-', 'SELECT sum(vec_dims(v)) FROM rand1536_toast', 5, 50000);

DO $$
DECLARE
	lvl text;
BEGIN
	FOREACH lvl IN ARRAY ARRAY['scalar', 'avx2', 'avx512', 'neon'] LOOP
		BEGIN
			PERFORM set_config('machinesoup.simd', lvl, false);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;
		END;
		PERFORM run_case('glove-100d', 'vec ' || lvl, '<->',
			format('SELECT sum(v <-> %L) FROM glove', current_setting('bench.q100')), 5, 300000);
		PERFORM run_case('glove-100d', 'vec ' || lvl, '<=>',
			format('SELECT sum(v <=> %L) FROM glove', current_setting('bench.q100')), 5, 300000);
		PERFORM run_case('random-1536d', 'vec ' || lvl, '<->',
			format('SELECT sum(v <-> %L) FROM rand1536', current_setting('bench.q1536')), 5, 50000);
		PERFORM run_case('random-1536d', 'vec ' || lvl, '<=>',
			format('SELECT sum(v <=> %L) FROM rand1536', current_setting('bench.q1536')), 5, 50000);
		PERFORM run_case('random-1536d', 'vec ' || lvl || ', TOAST (storage external)', '<->',
			format('SELECT sum(v <-> %L) FROM rand1536_toast', current_setting('bench.q1536')), 5, 50000);
	END LOOP;
	RESET machinesoup.simd;
END $$;

-- the anchors: contrib cube (Euclidean, at most 100 dims) and real[] with SQL
SELECT run_case('glove-100d', 'cube', '<->',
	format('SELECT sum(c <-> cube(%L::vec::real[]::float8[])) FROM glove_cube', :'q100'), 5, 300000);
SELECT run_case('glove-100d', 'real[] + SQL function', '<->',
	format('SELECT sum(arr_l2(a, %L::vec::real[])) FROM (SELECT a FROM glove_arr LIMIT 20000) s', :'q100'), 3, 20000);
SELECT run_case('glove-100d', 'real[] + SQL function', '<=>',
	format('SELECT sum(arr_cos(a, %L::vec::real[])) FROM (SELECT a FROM glove_arr LIMIT 20000) s', :'q100'), 3, 20000);
SELECT run_case('random-1536d', 'real[] + SQL function', '<->',
	format('SELECT sum(arr_l2(a, %L::vec::real[])) FROM rand1536_arr', :'q1536'), 3, 2000);
SELECT run_case('random-1536d', 'real[] + SQL function', '<=>',
	format('SELECT sum(arr_cos(a, %L::vec::real[])) FROM rand1536_arr', :'q1536'), 3, 2000);

\o
\echo
\echo 'Per-row cost of SELECT sum(v <op> q) FROM t, one core, median of runs (ns/row).'
\echo 'x best vec: time per row relative to vec at the best SIMD level (lower is faster).'
\echo 'above baseline: ns/row beyond sum(vec_dims(v)) (scan + detoast + one call), i.e. what the distance adds.'
\echo 'kernel: the C kernel alone for one l2 distance at that dimension (bench_kernels, in cache).'
WITH r AS (
	SELECT *, ms * 1e6 / rows AS ns_row FROM results
), best AS (
	SELECT dataset, op, min(ns_row) AS best_ns FROM r WHERE variant LIKE 'vec %' GROUP BY 1, 2
), base AS (
	SELECT dataset, ns_row AS base_ns, NULL::bool AS toast FROM r WHERE variant LIKE 'baseline%'
), toast_base AS (
	SELECT dataset, ns_row AS base_ns FROM r WHERE variant LIKE 'TOAST baseline%'
)
SELECT r.dataset, r.op, r.variant, r.simd, r.rows,
	round(r.ns_row::numeric, 1) AS "ns/row",
	CASE WHEN r.op = '-' THEN NULL ELSE round((r.ns_row / best.best_ns)::numeric, 2) END AS "x best vec",
	CASE WHEN r.variant LIKE 'vec %' THEN round((r.ns_row - bl.ns)::numeric, 1) END AS "above baseline",
	CASE WHEN r.variant LIKE 'vec %' THEN round((100 * bl.ns / r.ns_row)::numeric, 0) || ' %' END AS "executor share",
	CASE WHEN r.variant LIKE 'vec %' AND r.op = '<->' THEN
		CASE r.dataset WHEN 'glove-100d' THEN :'kernel_ns_100' ELSE :'kernel_ns_1536' END END AS "kernel ns (best)"
FROM r
LEFT JOIN best USING (dataset, op)
LEFT JOIN LATERAL (
	SELECT CASE WHEN r.variant LIKE '%TOAST%' THEN (SELECT t.base_ns FROM toast_base t WHERE t.dataset = r.dataset)
		ELSE (SELECT b.base_ns FROM base b WHERE b.dataset = r.dataset) END AS ns
) bl ON true
ORDER BY r.dataset, r.op, r.ns_row;

\echo
\echo 'Scalar build vs best SIMD level on the same rows (target at 1536-d: >= 3x).'
\echo 'bare kernel, heap layout: the C kernels alone over one 1536-d vector per'
\echo '8 KiB page out of cache (bench_kernels --heap-ns-per-vector), no executor.'
CREATE TEMP TABLE heap_kernel (kernel text, simd text, ns float8);
INSERT INTO heap_kernel VALUES :heap_values;
SELECT dataset, op, storage,
	round((max(ms) FILTER (WHERE variant LIKE 'vec scalar%') / min(ms))::numeric, 2) AS "scalar / best",
	CASE WHEN dataset = 'random-1536d' AND storage LIKE 'main%' THEN
		(SELECT round((max(ns) FILTER (WHERE simd = 'scalar') / min(ns))::numeric, 2)
		   FROM heap_kernel WHERE kernel = CASE x.op WHEN '<->' THEN 'l2_squared' ELSE 'cosine_parts' END)
	END AS "same, bare kernel, heap layout"
FROM (SELECT *, CASE WHEN variant LIKE '%TOAST%' THEN 'external (TOAST)' ELSE 'main (default)' END AS storage
	  FROM results WHERE variant LIKE 'vec %') x
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
\echo 'Bare kernels over the heap layout (ns per 1536-d vector):'
SELECT kernel, simd, round(ns::numeric, 1) AS "ns/vector",
	round((6144 / ns)::numeric, 2) AS "GB/s"
FROM heap_kernel ORDER BY kernel, ns DESC;

\echo 'Default storage (main) vs TOAST (external) at 1536-d, best SIMD level.'
SELECT round((min(ms) FILTER (WHERE variant LIKE '%TOAST%') / min(ms) FILTER (WHERE variant NOT LIKE '%TOAST%'))::numeric, 2)
	AS "TOAST scan / inline scan"
FROM results WHERE dataset = 'random-1536d' AND op = '<->' AND variant LIKE 'vec %';
