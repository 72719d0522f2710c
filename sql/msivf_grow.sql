-- msivf growth: an index built on an empty table splits its lists as rows
-- arrive (msivfsplit.c); every answer at full probes is checked against an
-- exact sequential scan.
SET client_min_messages = warning;
CREATE SCHEMA msivf_grow_test;
SET search_path = msivf_grow_test, public;
SELECT setseed(0.57);

CREATE TABLE blob_centers AS
	SELECT c, array_agg((random() * 20 - 10)::real ORDER BY j) AS a
	FROM generate_series(1, 12) c, generate_series(1, 32) j GROUP BY c;
CREATE TABLE items (id int PRIMARY KEY, emb vec(32));
CREATE TABLE queries AS
	SELECT q AS qid, (SELECT array_agg(a[j] + (random() * 2 - 1)::real ORDER BY j)
					  FROM generate_series(1, 32) j)::vec AS q
	FROM generate_series(1, 30) q JOIN blob_centers ON c = 1 + (q * 5) % 12;

\getenv abs_srcdir PG_ABS_SRCDIR
\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan
-- top-10 ids of every query by index scan (an error unless the plan scans
-- the msivf index) or exactly
CREATE FUNCTION knn(use_index bool) RETURNS TABLE (qid int, ids int[])
LANGUAGE plpgsql AS $$
DECLARE
	q text := format('SELECT qid, array(SELECT id FROM items ORDER BY emb <-> q%s LIMIT 10) FROM queries',
					 CASE WHEN use_index THEN '' ELSE ', id' END);
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	IF use_index AND NOT plan_uses_msivf(q) THEN
		RAISE EXCEPTION 'no msivf index scan in the plan of %', q;
	END IF;
	RETURN QUERY EXECUTE q;
END $$;
CREATE FUNCTION add_rows(first int, n int) RETURNS void LANGUAGE sql AS $$
	INSERT INTO items
		SELECT i, (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
				   FROM generate_series(1, 32) j)::vec
		FROM generate_series(first, first + n - 1) i JOIN blob_centers ON c = 1 + i % 12
$$;

-- built on the empty table: one list at the origin
CREATE INDEX items_grow ON items USING msivf (emb vec_l2_ops);
SELECT dims, lists FROM msivf_index_info('items_grow');
-- a few rows: still one list
SELECT add_rows(1, 150);
SELECT lists FROM msivf_index_info('items_grow');
-- rows arrive in batches: lists split as they outgrow their share
SELECT add_rows(151, 1000);
SELECT lists > 1 AS grew FROM msivf_index_info('items_grow');
SELECT add_rows(1151, 3000);
SELECT add_rows(4151, 3000);
SELECT lists BETWEEN 10 AND 200 AS grew_more FROM msivf_index_info('items_grow');
-- every row is in exactly one list: at full probes, exact answers
SET machinesoup.probes = 32768;
SELECT count(*) AS mismatches FROM knn(true) a JOIN knn(false) e USING (qid) WHERE a.ids <> e.ids;
SET enable_seqscan = off;
SELECT count(*) = 7150 AS all_rows, count(DISTINCT id) = 7150 AS no_duplicates
FROM (SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 100000) s;
RESET enable_seqscan;
RESET machinesoup.probes;
-- at default settings the grown index answers well
SELECT round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / 10, 1) >= 0.9 AS recall_ok
FROM knn(true) a JOIN knn(false) e USING (qid);
-- deletes and VACUUM leave the grown lists consistent
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SET machinesoup.probes = 32768;
SELECT count(*) AS mismatches_after_vacuum FROM knn(true) a JOIN knn(false) e USING (qid) WHERE a.ids <> e.ids;
RESET machinesoup.probes;
-- REINDEX: a fresh build over the grown data
REINDEX INDEX items_grow;
SELECT lists > 1 AS rebuilt FROM msivf_index_info('items_grow');

DROP SCHEMA msivf_grow_test CASCADE;
