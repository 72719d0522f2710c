-- msivf with the L1 opclasses vec_l1_ops and hvec_l1_ops: plans asserted,
-- exact at full probes against a sequential scan, recall at the default
-- probes, NULLs, inserts, VACUUM, 4-bit codes, strict order.
SET client_min_messages = warning;
-- own schema: the suites share one database
CREATE SCHEMA msivf_l1_test;
SET search_path = msivf_l1_test, public;
SELECT setseed(0.17);

-- 15 blobs in 32 dimensions, rows interleaved across blobs
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
-- top-k ids of every query, by index scan or exactly (seq scan, ties by id);
-- the index side fails unless its plan uses an msivf index
CREATE FUNCTION knn(k int, use_index bool) RETURNS TABLE (qid int, ids int[])
LANGUAGE plpgsql AS $$
DECLARE
	q text := format(
		'SELECT qid, array(SELECT id FROM items ORDER BY emb <+> q%s LIMIT %s) FROM queries',
		CASE WHEN use_index THEN '' ELSE ', id' END, k);
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
CREATE FUNCTION check_knn(k int, OUT mismatches bigint, OUT recall numeric)
LANGUAGE sql AS $$
	SELECT count(*) FILTER (WHERE a.ids <> e.ids),
		   round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / k, 2)
	FROM knn(k, true) a JOIN knn(k, false) e USING (qid)
$$;

CREATE INDEX items_l1 ON items USING msivf (emb vec_l1_ops) WITH (lists = 30);
SELECT dims, lists, metric, code_bits, calibration_queries FROM msivf_index_info('items_l1');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <+> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 5;
-- a correlated ORDER BY argument rescans the index per outer row
EXPLAIN (COSTS OFF) SELECT qid, array(SELECT id FROM items ORDER BY emb <+> q LIMIT 3) FROM queries;
-- L2 is not what this opclass serves
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 5;
RESET enable_seqscan;
-- the planner picks the index for ORDER BY ... LIMIT on its own
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <+> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 5;
-- every list probed: exact, in order
SET machinesoup.probes = 30;
SELECT * FROM check_knn(10);
SELECT * FROM check_knn(100);
-- the distances the index returns are the operator's
SET enable_seqscan = off;
SELECT count(*) AS wrong FROM queries q,
	LATERAL (SELECT id, emb <+> q.q AS d FROM items ORDER BY emb <+> q.q LIMIT 10) s
 WHERE s.d <> (SELECT l1_distance(emb, q.q) FROM items i WHERE i.id = s.id);
RESET enable_seqscan;
-- calibrated default: recall@10 >= 0.9
RESET machinesoup.probes;
SELECT recall >= 0.9 AS recall_ok FROM check_knn(10);
-- strict order: exact at the default probe count
SET machinesoup.scan_order = strict;
SELECT * FROM check_knn(10);
RESET machinesoup.scan_order;
-- the whole index through one scan, with one probe: every row exactly once
SET machinesoup.probes = 1;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM items
	ORDER BY emb <+> (SELECT q FROM queries WHERE qid = 2)$$) AS uses_msivf;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM items
	ORDER BY emb <+> (SELECT q FROM queries WHERE qid = 2)) s;
RESET enable_seqscan;
RESET machinesoup.probes;

-- inserts after the build; the index stays exact
INSERT INTO items
	SELECT i, (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
			   FROM generate_series(1, 32) j)::vec
	FROM generate_series(3001, 4500) i JOIN blob_centers ON c = 1 + i % 15;
SET machinesoup.probes = 30;
SELECT * FROM check_knn(10);
-- delete a third and VACUUM: the dead rows are gone, the rest exact
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SELECT * FROM check_knn(10);
SET enable_seqscan = off;
SELECT count(*) = (SELECT count(*) FROM items) AS every_live_row
	FROM (SELECT id FROM items ORDER BY emb <+> (SELECT q FROM queries WHERE qid = 5) OFFSET 0) s;
RESET enable_seqscan;
RESET machinesoup.probes;

-- NULLs are not indexed and not returned; a NULL query returns the rows
INSERT INTO items VALUES (-1, NULL);
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE id = -1) AS nulls, count(*) = (SELECT count(emb) FROM items) AS all_others
	FROM (SELECT id FROM items ORDER BY emb <+> (SELECT q FROM queries WHERE qid = 1) OFFSET 0) s;
-- an outer NULL in a LATERAL subquery keeps its LIMIT's rows
CREATE TABLE null_q (n int, v vec(32));
INSERT INTO null_q VALUES (1, NULL), (2, (SELECT q FROM queries WHERE qid = 1));
SELECT plan_uses_msivf($$SELECT n, x.id FROM null_q CROSS JOIN LATERAL
	(SELECT id FROM items ORDER BY emb <+> null_q.v LIMIT 3) x$$) AS uses_msivf;
SELECT n, count(*) FROM null_q CROSS JOIN LATERAL
	(SELECT id FROM items ORDER BY emb <+> null_q.v LIMIT 3) x GROUP BY n ORDER BY n;
-- a query vec of other dims
SELECT id FROM items ORDER BY emb <+> '[1,2,3]' LIMIT 1;
RESET enable_seqscan;
DROP INDEX items_l1;

-- above 4000 dimensions the codes have 4 bits; still exact at full probes
CREATE TABLE wide (id int, v vec(4001));
INSERT INTO wide SELECT i, (SELECT array_agg((random() * 4 - 2 + (i % 3) + 0 * j)::real) FROM generate_series(1, 4001) j)::vec
	FROM generate_series(1, 60) i;
CREATE INDEX wide_l1 ON wide USING msivf (v vec_l1_ops) WITH (lists = 3);
SELECT dims, lists, metric, code_bits FROM msivf_index_info('wide_l1');
SET machinesoup.probes = 3;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM wide ORDER BY v <+> (SELECT v FROM wide WHERE id = 7) LIMIT 10$$) AS uses_msivf;
CREATE TEMP TABLE wide_got AS
	SELECT w.id AS qid, array(SELECT id FROM wide ORDER BY v <+> w.v LIMIT 10) AS ids FROM wide w WHERE w.id % 10 = 1;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS mismatches FROM wide_got g
	WHERE g.ids <> array(SELECT id FROM wide ORDER BY v <+> (SELECT v FROM wide WHERE id = g.qid), id LIMIT 10);
RESET enable_indexscan;
RESET machinesoup.probes;

-- hvec_l1_ops: the same order as <+> on the hvec values
CREATE TABLE hitems AS SELECT id, emb::hvec(32) AS h FROM items WHERE emb IS NOT NULL;
CREATE INDEX hitems_l1 ON hitems USING msivf (h hvec_l1_ops) WITH (lists = 20);
SELECT dims, lists, metric FROM msivf_index_info('hitems_l1');
SET machinesoup.probes = 20;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM hitems ORDER BY h <+> (SELECT q::hvec FROM queries WHERE qid = 1) LIMIT 10$$) AS uses_msivf;
CREATE TEMP TABLE h_got AS
	SELECT qid, array(SELECT id FROM hitems ORDER BY h <+> q::hvec LIMIT 10) AS ids FROM queries;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS mismatches FROM h_got g JOIN queries USING (qid)
	WHERE g.ids <> array(SELECT id FROM hitems ORDER BY h <+> q::hvec, id LIMIT 10);
RESET enable_indexscan;
-- vec_index_recall over the hvec index agrees: every list probed, exact
SET enable_seqscan = off;
SELECT vec_index_recall('hitems_l1', ARRAY(SELECT q FROM queries), 10) AS recall_full_probes;
RESET enable_seqscan;
RESET machinesoup.probes;
RESET search_path;
DROP SCHEMA msivf_l1_test CASCADE;
