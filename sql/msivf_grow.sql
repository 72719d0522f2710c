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
CREATE TABLE items (id int PRIMARY KEY, emb vec(32)) WITH (autovacuum_enabled = off);
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
-- built empty, so never calibrated; the old chains of split lists wait for VACUUM
SELECT built_lists, calibrated_lists, leaked_pages > 0 AS old_chains, freed_pages, free_pages
FROM msivf_index_growth('items_grow');
SELECT calibration_queries FROM msivf_index_info('items_grow');
-- VACUUM measures the curve on the lists there are now, and frees the old chains
VACUUM items;
SELECT calibrated_lists = lists AS recalibrated, leaked_pages AS old_chain_pages_left,
	freed_pages > 0 AS freed, free_pages = freed_pages AS none_reused_yet
FROM msivf_index_growth('items_grow');
SELECT calibration_queries > 0 AS calibrated, probes = calibrated_probes AS probes_from_the_curve,
	probes < lists AS not_every_list
FROM msivf_index_info('items_grow');
-- recall at default settings on the new curve (knn asserts the index scan)
SELECT round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / 10, 1) >= 0.9 AS recall_ok_recalibrated
FROM knn(true) a JOIN knn(false) e USING (qid);
-- freed pages are offered to inserts once no snapshot can be older than
-- their freeing: after a later transaction, at the next VACUUM
SELECT txid_current() > 0 AS later_transaction;
VACUUM items;
SELECT calibrated_lists = lists AS still_calibrated, free_pages = freed_pages AS none_reused_yet
FROM msivf_index_growth('items_grow');
-- more rows and splits; full-probe answers stay exact
SELECT add_rows(7151, 1500);
SET machinesoup.probes = 32768;
SELECT count(*) AS mismatches_after_more_splits FROM knn(true) a JOIN knn(false) e USING (qid) WHERE a.ids <> e.ids;
SET enable_seqscan = off;
SELECT count(*) = 8650 AS all_rows_after_more_splits, count(DISTINCT id) = 8650 AS no_duplicates_after_more_splits
FROM (SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2) LIMIT 100000) s;
RESET enable_seqscan;
RESET machinesoup.probes;
-- churn: rows deleted and new ones inserted, VACUUM after each round; the
-- index stops growing
CREATE TABLE sizes (round int, pages bigint);
DELETE FROM items WHERE id % 5 = 1;
SELECT add_rows(10001, 1700);
VACUUM items;
INSERT INTO sizes SELECT 1, pages FROM msivf_index_growth('items_grow');
DELETE FROM items WHERE id % 5 = 2;
SELECT add_rows(12001, 1700);
VACUUM items;
INSERT INTO sizes SELECT 2, pages FROM msivf_index_growth('items_grow');
DELETE FROM items WHERE id % 5 = 3;
SELECT add_rows(14001, 1700);
VACUUM items;
INSERT INTO sizes SELECT 3, pages FROM msivf_index_growth('items_grow');
DELETE FROM items WHERE id % 5 = 4;
SELECT add_rows(16001, 1700);
VACUUM items;
INSERT INTO sizes SELECT 4, pages FROM msivf_index_growth('items_grow');
SELECT (SELECT pages FROM sizes WHERE round = 4) <= (SELECT pages FROM sizes WHERE round = 2) * 1.05 AS size_stable;
-- freed pages were taken by later chains (the map offers a page once no
-- snapshot is older than its freeing, so how many depends on the
-- cluster's other sessions: only that some were is checked)
SELECT leaked_pages AS leaked_after_churn, free_pages < freed_pages AS freed_pages_reused
FROM msivf_index_growth('items_grow');
SET machinesoup.probes = 32768;
SELECT count(*) AS mismatches_after_churn FROM knn(true) a JOIN knn(false) e USING (qid) WHERE a.ids <> e.ids;
RESET machinesoup.probes;
SELECT round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / 10, 1) >= 0.9 AS recall_ok_after_churn
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
