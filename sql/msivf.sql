-- msivf: approximate nearest-neighbour index.  Every answer is checked
-- against an exact sequential scan.
SET client_min_messages = warning;
-- own schema: the suites share one database
CREATE SCHEMA msivf_test;
SET search_path = msivf_test, public;
SELECT setseed(0.31);

-- 15 gaussian-ish blobs in 32 dimensions, rows interleaved across blobs
CREATE TABLE blob_centers AS
	SELECT c, array_agg((random() * 20 - 10)::real ORDER BY j) AS a
	FROM generate_series(1, 15) c, generate_series(1, 32) j GROUP BY c;
CREATE TABLE items (id int PRIMARY KEY, emb vec(32));
INSERT INTO items
	SELECT i, (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
			   FROM generate_series(1, 32) j)::vec
	FROM generate_series(1, 3000) i JOIN blob_centers ON c = 1 + i % 15;
CREATE TABLE queries AS
	SELECT q AS qid, (SELECT array_agg(a[j] + (random() * 2 - 1)::real ORDER BY j)
					  FROM generate_series(1, 32) j)::vec AS q
	FROM generate_series(1, 40) q JOIN blob_centers ON c = 1 + (q * 7) % 15;

\getenv abs_srcdir PG_ABS_SRCDIR
\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan
-- top-k ids of every query, by index scan (enable_seqscan off) or exactly;
-- the index side fails unless its plan uses an msivf index (which cannot
-- serve the tie-breaking ", id": the data has no ties)
CREATE FUNCTION knn(op text, k int, use_index bool) RETURNS TABLE (qid int, ids int[])
LANGUAGE plpgsql AS $$
DECLARE
	q text := format(
		'SELECT qid, array(SELECT id FROM items ORDER BY emb %s q%s LIMIT %s) FROM queries',
		op, CASE WHEN use_index THEN '' ELSE ', id' END, k);
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	IF use_index AND NOT plan_uses_msivf(q) THEN
		RAISE EXCEPTION 'no msivf index scan in the plan of %', q;
	END IF;
	RETURN QUERY EXECUTE q;
END $$;
-- how many queries differ from the exact answer, and the mean recall
CREATE FUNCTION check_knn(op text, k int, OUT mismatches bigint, OUT recall numeric)
LANGUAGE sql AS $$
	SELECT count(*) FILTER (WHERE a.ids <> e.ids),
		   round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / k, 2)
	FROM knn(op, k, true) a JOIN knn(op, k, false) e USING (qid)
$$;

-- L2
CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops) WITH (lists = 30);
SELECT dims, lists, metric, code_bits, calibration_queries FROM msivf_index_info('items_l2');
-- its calibration curve: 101 levels, the probes never fewer at a higher
-- level (each the fewest that reached it), at most the lists, and at 0.95
-- no more than the calibrated probes, which add a confidence margin
SELECT count(*) AS levels, min(recall), max(recall), bool_and(probes BETWEEN 1 AND 30) AS in_range,
	   bool_and(probes >= prev) AS never_fewer
  FROM (SELECT recall, probes, lag(probes, 1, 1) OVER (ORDER BY recall) AS prev
		  FROM msivf_index_calibration('items_l2')) c;
SELECT c.probes <= i.calibrated_probes AS margin_above
  FROM msivf_index_calibration('items_l2') c, msivf_index_info('items_l2') i WHERE c.recall = 0.95;
SELECT * FROM msivf_index_calibration('items_pkey');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 5;
-- a correlated ORDER BY argument rescans the index per outer row
EXPLAIN (COSTS OFF) SELECT qid, array(SELECT id FROM items ORDER BY emb <-> q LIMIT 3) FROM queries;
-- not an ordering the index serves
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <+> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 5;
RESET enable_seqscan;
-- the planner picks the index for ORDER BY ... LIMIT on its own, not without LIMIT
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE id < 10;
-- every list probed: exact
SET machinesoup.probes = 30;
SELECT * FROM check_knn('<->', 10);
SELECT * FROM check_knn('<->', 100);
-- calibrated default: recall@10 >= 0.9
RESET machinesoup.probes;
SELECT recall >= 0.9 AS recall_ok FROM check_knn('<->', 10);
-- streaming: one probe, a filter matching 1 row in 50 still fills the LIMIT
SET machinesoup.probes = 1;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM items WHERE id % 50 = 7
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 20$$) AS uses_msivf;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 50 = 7
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 20) s;
-- the whole index through one scan: every row exactly once
SELECT plan_uses_msivf($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2)$$) AS uses_msivf;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2)) s;
-- a cursor pages through every row exactly once
CREATE FUNCTION page_through(query vec) RETURNS TABLE (fetched bigint, distinct_ids bigint)
LANGUAGE plpgsql AS $$
DECLARE
	c refcursor;
	r record;
	seen int[] := '{}';
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	IF NOT plan_uses_msivf(format('SELECT id FROM items ORDER BY emb <-> %L::vec', query)) THEN
		RAISE EXCEPTION 'the cursor would not scan the msivf index';
	END IF;
	OPEN c FOR SELECT id, emb <-> query AS d FROM items ORDER BY emb <-> query;
	LOOP
		FETCH c INTO r;
		EXIT WHEN NOT FOUND;
		seen := seen || r.id;
	END LOOP;
	CLOSE c;
	RETURN QUERY SELECT count(*), count(DISTINCT x) FROM unnest(seen) x;
END $$;
SELECT fetched, distinct_ids FROM page_through((SELECT q FROM queries WHERE qid = 3));
RESET enable_seqscan;
RESET machinesoup.probes;

-- inner product and cosine
CREATE INDEX items_ip ON items USING msivf (emb vec_ip_ops) WITH (lists = 25);
CREATE INDEX items_cos ON items USING msivf (emb vec_cosine_ops) WITH (lists = 25);
SELECT metric FROM msivf_index_info('items_ip');
SELECT metric FROM msivf_index_info('items_cos');
SET machinesoup.probes = 25;
SELECT * FROM check_knn('<#>', 10);
SELECT * FROM check_knn('<=>', 10);
RESET machinesoup.probes;
SELECT recall >= 0.9 AS recall_ok FROM check_knn('<=>', 10);

-- inserts after the build go to their nearest list; the index stays exact
INSERT INTO items
	SELECT i, (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
			   FROM generate_series(1, 32) j)::vec
	FROM generate_series(3001, 4500) i JOIN blob_centers ON c = 1 + i % 15;
SET machinesoup.probes = 30;
SELECT * FROM check_knn('<->', 10);
SET machinesoup.probes = 25;
SELECT * FROM check_knn('<=>', 10);
RESET machinesoup.probes;

-- delete a third and VACUUM: dead entries go, their room is reused
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SET machinesoup.probes = 30;
SELECT * FROM check_knn('<->', 10);
SELECT pg_relation_size('items_l2') AS l2_size \gset
INSERT INTO items
	SELECT i, (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
			   FROM generate_series(1, 32) j)::vec
	FROM generate_series(3, 4500, 3) i JOIN blob_centers ON c = 1 + i % 15;
SELECT pg_relation_size('items_l2') <= :l2_size AS space_reused;
SELECT * FROM check_knn('<->', 10);
RESET machinesoup.probes;

-- REINDEX, and REINDEX CONCURRENTLY
REINDEX INDEX items_l2;
REINDEX INDEX CONCURRENTLY items_cos;
SET machinesoup.probes = 30;
SELECT * FROM check_knn('<->', 10);
SELECT * FROM check_knn('<=>', 10);
RESET machinesoup.probes;
DROP INDEX items_ip, items_cos;

-- NULLs are not indexed and not returned by the index
INSERT INTO items VALUES (-1, NULL);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1);
SELECT count(*) FILTER (WHERE id = -1) AS nulls, count(*) = (SELECT count(emb) FROM items) AS all_others
	FROM (SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) OFFSET 0) s;
-- a query vec of other dims
SELECT id FROM items ORDER BY emb <-> '[1,2,3]' LIMIT 1;
-- a NULL query is no error
SELECT id FROM items ORDER BY emb <-> NULL::vec LIMIT 1;
RESET enable_seqscan;

-- bad input
CREATE TABLE small (v vec(3));
CREATE INDEX ON small USING msivf (v vec_l2_ops);
CREATE TABLE huge (v vec);
INSERT INTO huge SELECT array_fill(1.0::real, ARRAY[16001])::vec;
CREATE TABLE untyped (id int, v vec);
INSERT INTO untyped SELECT i, array_fill(i::real, ARRAY[32])::vec FROM generate_series(1, 5) i;
INSERT INTO untyped VALUES (6, array_fill(1::real, ARRAY[40])::vec);
CREATE INDEX ON untyped USING msivf (v vec_l2_ops);
DELETE FROM untyped WHERE id = 6;
CREATE INDEX untyped_idx ON untyped USING msivf (v vec_l2_ops);
INSERT INTO untyped VALUES (7, array_fill(1::real, ARRAY[33])::vec);
CREATE INDEX ON items USING msivf (emb vec_l2_ops) WITH (lists = -1);
CREATE INDEX ON items USING msivf (emb vec_l2_ops) WITH (lists = 100000);
CREATE INDEX ON items USING msivf (emb vec_l2_ops) WITH (lists = 'many');
CREATE INDEX ON items USING msivf (emb vec_l2_ops) WITH (probes = 3);
CREATE INDEX ON items USING msivf (emb);
CREATE INDEX ON items USING msivf (emb vec_l2_ops, id);
SET machinesoup.target_recall = 1.5;
SET machinesoup.probes = -1;

-- an empty table: the index builds, later inserts work (one list until REINDEX)
CREATE TABLE empty_t (id int, v vec);
CREATE INDEX empty_idx ON empty_t USING msivf (v vec_l2_ops) WITH (lists = 10);
SELECT dims, lists FROM msivf_index_info('empty_idx');
-- built empty: no calibration yet
SELECT count(*) FROM msivf_index_calibration('empty_idx');
SET enable_seqscan = off;
SELECT id FROM empty_t ORDER BY v <-> array_fill(0::real, ARRAY[32])::vec LIMIT 1;
INSERT INTO empty_t SELECT i, array_fill(i::real, ARRAY[32])::vec FROM generate_series(1, 100) i;
SELECT dims, lists FROM msivf_index_info('empty_idx');
SELECT plan_uses_msivf($$SELECT id FROM empty_t ORDER BY v <-> array_fill(41.2::real, ARRAY[32])::vec LIMIT 4$$) AS uses_msivf;
SELECT array_agg(id) FROM (SELECT id FROM empty_t ORDER BY v <-> array_fill(41.2::real, ARRAY[32])::vec LIMIT 4) s;
INSERT INTO empty_t VALUES (0, array_fill(1::real, ARRAY[31])::vec);
RESET enable_seqscan;
REINDEX INDEX empty_idx;
SELECT dims, lists FROM msivf_index_info('empty_idx');

-- a temporary table's index (local buffers), asked twice in one session:
-- at full probes, the exact answers
CREATE TEMP TABLE temp_items AS SELECT * FROM items;
CREATE INDEX temp_items_l2 ON temp_items USING msivf (emb vec_l2_ops) WITH (lists = 10);
SET enable_seqscan = off;
SET machinesoup.probes = 10;
SELECT plan_uses_msivf($$SELECT id FROM temp_items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 5$$) AS uses_msivf;
CREATE TEMP TABLE temp_by_index AS
	SELECT qid, array(SELECT id FROM temp_items ORDER BY emb <-> q LIMIT 5) AS ids FROM queries;
CREATE TEMP TABLE temp_again AS
	SELECT qid, array(SELECT id FROM temp_items ORDER BY emb <-> q LIMIT 5) AS ids FROM queries;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS queries,
	   count(*) FILTER (WHERE a.ids <> e.ids OR b.ids <> e.ids) AS mismatches
  FROM temp_by_index a JOIN temp_again b USING (qid),
	   LATERAL (SELECT array(SELECT id FROM temp_items ORDER BY emb <-> q, id LIMIT 5) AS ids
				  FROM queries WHERE queries.qid = a.qid) e;
RESET enable_indexscan;
RESET machinesoup.probes;
DROP TABLE temp_items, temp_by_index, temp_again;

-- zero vectors under cosine are not indexed; a zero query is harmless
CREATE TABLE zeros (id int, v vec(32));
INSERT INTO zeros SELECT i, array_fill((i % 3)::real, ARRAY[32])::vec FROM generate_series(1, 30) i;
CREATE INDEX zeros_cos ON zeros USING msivf (v vec_cosine_ops);
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM zeros ORDER BY v <=> array_fill(1::real, ARRAY[32])::vec$$) AS uses_msivf;
SELECT count(*) FROM (SELECT id FROM zeros ORDER BY v <=> array_fill(1::real, ARRAY[32])::vec) s;
SELECT count(*) FROM (SELECT id FROM zeros ORDER BY v <=> array_fill(0::real, ARRAY[32])::vec) s;
RESET enable_seqscan;

-- an expression index reranks through the expression
CREATE INDEX items_norm ON items USING msivf ((l2_normalize(emb)) vec_l2_ops) WITH (lists = 20);
SET enable_seqscan = off;
SET machinesoup.probes = 20;
SELECT plan_uses_msivf($$SELECT id FROM items ORDER BY l2_normalize(emb) <-> l2_normalize('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]'::vec) LIMIT 5$$) AS uses_msivf;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY l2_normalize(emb) <-> l2_normalize(q) LIMIT 5) s)
	 = (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY emb <=> q LIMIT 5) s) AS same
	FROM queries WHERE qid = 4;
RESET machinesoup.probes;
RESET enable_seqscan;
DROP INDEX items_norm;

-- unlogged tables (init fork)
CREATE UNLOGGED TABLE ul (id int, v vec(32));
CREATE INDEX ul_idx ON ul USING msivf (v vec_l2_ops);
INSERT INTO ul SELECT i, array_fill(i::real, ARRAY[32])::vec FROM generate_series(1, 50) i;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM ul ORDER BY v <-> array_fill(10.2::real, ARRAY[32])::vec LIMIT 3$$) AS uses_msivf;
SELECT array_agg(id) FROM (SELECT id FROM ul ORDER BY v <-> array_fill(10.2::real, ARRAY[32])::vec LIMIT 3) s;
RESET enable_seqscan;

-- high dimensions: 4-bit codes above 4000 dims, up to 16000
CREATE TABLE wide (id int, v vec(5000));
INSERT INTO wide SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 5000) WHERE i > 0)::vec
	FROM generate_series(1, 60) i;
CREATE INDEX wide_idx ON wide USING msivf (v vec_l2_ops) WITH (lists = 4);
SELECT dims, lists, code_bits FROM msivf_index_info('wide_idx');
SET machinesoup.probes = 4;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM wide ORDER BY v <-> (SELECT v FROM wide WHERE id = 7) LIMIT 10$$) AS uses_msivf;
CREATE TEMP TABLE wide_idx_res AS
	SELECT array_agg(id) ids FROM (SELECT id FROM wide ORDER BY v <-> (SELECT v FROM wide WHERE id = 7) LIMIT 10) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT ids = (SELECT array_agg(id) FROM (SELECT id FROM wide ORDER BY v <-> (SELECT v FROM wide WHERE id = 7) LIMIT 10) s) AS exact
	FROM wide_idx_res;
RESET enable_indexscan;
CREATE TABLE widest (id int, v vec(16000));
INSERT INTO widest SELECT i, array_fill(i::real, ARRAY[16000])::vec FROM generate_series(1, 12) i;
CREATE INDEX widest_idx ON widest USING msivf (v vec_l2_ops) WITH (lists = 2);
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM widest ORDER BY v <-> array_fill(4.4::real, ARRAY[16000])::vec LIMIT 3$$) AS uses_msivf;
SELECT array_agg(id) FROM (SELECT id FROM widest ORDER BY v <-> array_fill(4.4::real, ARRAY[16000])::vec LIMIT 3) s;
RESET enable_seqscan;
RESET machinesoup.probes;

-- maintenance_work_mem too small for the sample; the hint's amount is
-- enough, and one list needs no training memory at all
SET maintenance_work_mem = '1MB';
CREATE INDEX ON widest USING msivf (v vec_l2_ops) WITH (lists = 12);
CREATE INDEX ON widest USING msivf (v vec_l2_ops);
CREATE INDEX widest_one ON widest USING msivf (v vec_l2_ops) WITH (lists = 1);
SELECT lists FROM msivf_index_info('widest_one');
DROP INDEX widest_one;
SET maintenance_work_mem = '5MB';
CREATE INDEX widest_12 ON widest USING msivf (v vec_l2_ops) WITH (lists = 12);
SELECT lists FROM msivf_index_info('widest_12');
DROP INDEX widest_12;
SET maintenance_work_mem = '2MB';
CREATE INDEX widest_default ON widest USING msivf (v vec_l2_ops);
SELECT lists FROM msivf_index_info('widest_default');
DROP INDEX widest_default;
-- the least maintenance_work_mem PostgreSQL allows builds an index of a
-- small table (the sgemm block and the sample shrink to fit), and an
-- exact scan through it (the only cosine index) is exact
SET maintenance_work_mem = '1MB';
CREATE INDEX items_small_mem ON items USING msivf (emb vec_cosine_ops);
SELECT dims, lists, calibration_queries FROM msivf_index_info('items_small_mem');
RESET maintenance_work_mem;
SET machinesoup.probes = 100;
SELECT * FROM check_knn('<=>', 10);
RESET machinesoup.probes;
DROP INDEX items_small_mem;

-- ORDER BY the distance to a NULL vec (a NULL parameter of a generic plan,
-- an outer NULL in LATERAL): every row ties at a NULL distance, and the
-- rows come back all the same, as from a sequential scan or GiST
SET enable_seqscan = off;
SET plan_cache_mode = force_generic_plan;
PREPARE null_knn(vec) AS
	SELECT count(*) AS rows, count(d) AS distances
	FROM (SELECT emb <-> $1 AS d FROM items ORDER BY emb <-> $1 LIMIT 5) s;
SELECT plan_uses_msivf('EXECUTE null_knn(NULL)') AS uses_msivf;
EXECUTE null_knn(NULL);
DEALLOCATE null_knn;
RESET plan_cache_mode;
CREATE TEMP TABLE null_queries(n int, v vec);
INSERT INTO null_queries SELECT 1, NULL UNION ALL SELECT 2, emb FROM items WHERE id = 1;
ANALYZE null_queries;
SELECT plan_uses_msivf($$
	SELECT q.n, s.id FROM null_queries q
	CROSS JOIN LATERAL (SELECT id FROM items ORDER BY emb <-> q.v LIMIT 3) s$$) AS uses_msivf;
SELECT q.n, count(s.id) AS rows, count(s.d) AS distances
FROM null_queries q
CROSS JOIN LATERAL (SELECT id, emb <-> q.v AS d FROM items ORDER BY emb <-> q.v LIMIT 3) s
GROUP BY q.n ORDER BY q.n;
-- without a LIMIT: every indexed row (rows whose emb is NULL are not in the
-- index, for any query), each once
SELECT count(*) = (SELECT count(*) FROM items WHERE emb IS NOT NULL) AS all_rows,
	   count(*) = count(DISTINCT s.id) AS each_once
FROM null_queries q
CROSS JOIN LATERAL (SELECT id FROM items ORDER BY emb <-> q.v) s
WHERE q.n = 1;
DROP TABLE null_queries;
RESET enable_seqscan;

-- msivf_index_info needs SELECT on the index's table, as reading it would
CREATE ROLE regress_msivf_tenant;
GRANT USAGE ON SCHEMA msivf_test TO regress_msivf_tenant;
SET ROLE regress_msivf_tenant;
SELECT dims, lists FROM msivf_index_info('items_l2');
SELECT dims, lists FROM msivf_index_info('msivf_test.items_l2'::regclass);
SELECT * FROM msivf_index_calibration('msivf_test.items_l2'::regclass);
RESET ROLE;
GRANT SELECT ON items TO regress_msivf_tenant;
SET ROLE regress_msivf_tenant;
SELECT dims, lists FROM msivf_index_info('items_l2');
RESET ROLE;
REVOKE SELECT ON items FROM regress_msivf_tenant;
REVOKE USAGE ON SCHEMA msivf_test FROM regress_msivf_tenant;
DROP ROLE regress_msivf_tenant;

RESET search_path;
DROP SCHEMA msivf_test CASCADE;
