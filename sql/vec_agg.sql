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

-- parallel plans use combine, serialize and deserialize
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
