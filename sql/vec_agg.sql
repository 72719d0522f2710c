-- sum(vec) and avg(vec), serial and parallel
SET extra_float_digits = 0;

SELECT sum(v), avg(v) FROM (VALUES ('[1,2]'::vec), ('[3,4]'), (NULL), ('[5,-6]')) t(v);
SELECT sum(v), avg(v) FROM (VALUES (NULL::vec)) t(v);
SELECT sum(v), avg(v) FROM (SELECT '[1]'::vec WHERE false) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vec), ('[1,2,3]')) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vec), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vec), ('[3e38]')) t(v);
-- accumulation in double: many small values do not drift
SELECT avg(v), sum(v) FROM (SELECT '[0.1,1e-7]'::vec FROM generate_series(1, 100000)) t(v);
-- grouped
SELECT g, sum(v), avg(v) FROM (VALUES (1, '[1,1]'::vec), (1, '[3,3]'), (2, '[10,0]')) t(g, v)
GROUP BY g ORDER BY g;

-- parallel plans combine the partial states
CREATE TABLE vec_agg_t (v vec(3));
INSERT INTO vec_agg_t SELECT ARRAY[i, -i, i % 10]::vec FROM generate_series(1, 200000) i;
ANALYZE vec_agg_t;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT sum(v), avg(v) FROM vec_agg_t;
SELECT sum(v), avg(v) FROM vec_agg_t;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT sum(v), avg(v) FROM vec_agg_t;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE vec_agg_t;

-- The state is a double precision[]: the count, then the sums.  Its text
-- form is what Citus ships from a shard to the coordinator: exact, and it
-- combines to the same result.
SET extra_float_digits = 1;
SELECT vec_accum(vec_accum(NULL, '[0.1,-3]'), '[1e-7,2]');
SELECT vec_accum_avg(vec_accum_combine(vec_accum(NULL, '[0.1,-3]')::text::float8[],
	vec_accum(vec_accum(NULL, '[1e-7,2]'), '[3,3]')::text::float8[]));
SELECT avg(v) FROM (VALUES ('[0.1,-3]'::vec), ('[1e-7,2]'), ('[3,3]')) t(v);
SET extra_float_digits = 0;
-- NULL vecs leave the state as it is; a direct call does not change its
-- argument
SELECT vec_accum(NULL, NULL), vec_accum('{1,2}', NULL);
WITH s(a) AS (SELECT '{1,2,3}'::float8[]) SELECT vec_accum(a, '[1,1]'), a FROM s;
SELECT vec_accum_sum('{0,0,0}'), vec_accum_avg('{0,5}');
-- states no aggregate produced are refused, not read
SELECT vec_accum('{1,2}', '[1,1]');
SELECT vec_accum('{{1,2},{3,4}}', '[1]');
SELECT vec_accum('{1,NULL}', '[1]');
SELECT vec_accum('{1}', '[1]');
SELECT vec_accum_sum('{}');
SELECT vec_accum_avg('{-1,2}');
SELECT vec_accum_avg('{1.5,2}');
SELECT vec_accum_sum('{1,NaN}');
SELECT vec_accum_sum('{1,Infinity}');
SELECT vec_accum_sum('{1,1e300}');
SELECT vec_accum_combine('{1,2}', '{1,2,3}');
SELECT vec_accum_combine('{1,2}', '{NaN,2}');
