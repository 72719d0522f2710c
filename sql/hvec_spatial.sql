-- GiST and SP-GiST over hvec (hvec_gist_ops, hvec_spgist_ops): plans
-- asserted, every ordered scan equal to a sequential scan's order, the
-- distances the operators', NULLs, the dimension limits.
SET client_min_messages = warning;
-- own schema: the suites share one database
CREATE SCHEMA hvec_spatial_test;
SET search_path = hvec_spatial_test, public;
SET extra_float_digits = 0;
SELECT setseed(0.23);
CREATE TABLE hs (id int, h hvec(6));
INSERT INTO hs SELECT i, (SELECT array_agg(((random() * 200 - 100) + 0 * j)::real) FROM generate_series(1, 6) j)::hvec
	FROM generate_series(1, 3000) i;
INSERT INTO hs VALUES (0, NULL), (-1, '[1,2,3,4,5,6]'), (-2, '[1,2,3,4,5,6]');
CREATE TABLE hq AS SELECT id AS qid, h AS q FROM hs WHERE id % 500 = 3;
INSERT INTO hq VALUES (100, '[65504,-65504,0,1e-7,-6e-8,2]');

-- whether the plan of a query is an index scan of index idx
CREATE FUNCTION uses(idx text, query text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line LIKE '%Index Scan using ' || idx || ' on%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;
-- for each query: the distances of every row in index order equal the
-- sorted distances of a sequential scan (ties may come in any order), and
-- each row comes once
CREATE FUNCTION order_wrong(op text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	got float8[];
	want float8[];
	n bigint;
	wrong bigint := 0;
	r record;
BEGIN
	FOR r IN SELECT * FROM hq LOOP
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		EXECUTE format('SELECT array_agg(d ORDER BY o), count(DISTINCT id) FROM
			(SELECT id, h %1$s $1 AS d, row_number() OVER () AS o FROM
				(SELECT id, h FROM hs ORDER BY h %1$s $1) s) t', op) USING r.q INTO got, n;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE format('SELECT array_agg(h::vec %1$s $1::vec ORDER BY h::vec %1$s $1::vec) FROM hs', op)
			USING r.q INTO want;
		IF got IS DISTINCT FROM want OR n <> (SELECT count(*) FROM hs) THEN
			wrong := wrong + 1;
		END IF;
	END LOOP;
	RESET enable_seqscan;
	RESET enable_indexscan;
	RETURN wrong;
END $$;

CREATE INDEX hs_gist ON hs USING gist (h);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY h <-> '[1,2,3,4,5,6]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY h <+> '[1,2,3,4,5,6]' LIMIT 5;
SELECT uses('hs_gist', $$SELECT id FROM hs ORDER BY h <-> '[1,2,3,4,5,6]'$$) AS gist_l2,
	   uses('hs_gist', $$SELECT id FROM hs ORDER BY h <+> '[1,2,3,4,5,6]'$$) AS gist_l1;
-- no index-only scans: the key holds floats, not the hvec
EXPLAIN (COSTS OFF) SELECT h FROM hs ORDER BY h <-> '[1,2,3,4,5,6]' LIMIT 5;
SELECT id, h <-> '[1,2,3,4,5,6]' AS d FROM hs ORDER BY h <-> '[1,2,3,4,5,6]', id LIMIT 3;
RESET enable_seqscan;
SELECT order_wrong('<->') AS gist_l2_wrong, order_wrong('<+>') AS gist_l1_wrong;
-- vec_index_recall over an hvec index: the queries as the index sees them
SELECT vec_index_recall('hs_gist', ARRAY(SELECT q::vec FROM hq), 10) AS gist_recall;
SELECT vec_index_recall('hs_gist', ARRAY(SELECT q FROM hq), 5) AS gist_recall_hvec_queries;
SELECT vec_index_recall('hs_gist', ARRAY['[1,2,3,4,5,1e6]']::vec[]);
-- inserts after the build
INSERT INTO hs SELECT i, (SELECT array_agg(((random() * 200 - 100) + 0 * j)::real) FROM generate_series(1, 6) j)::hvec
	FROM generate_series(3001, 3500) i;
SELECT order_wrong('<->') AS gist_l2_wrong;
DROP INDEX hs_gist;

CREATE INDEX hs_spgist ON hs USING spgist (h);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY h <-> '[1,2,3,4,5,6]' LIMIT 5;
SELECT uses('hs_spgist', $$SELECT id FROM hs ORDER BY h <-> '[1,2,3,4,5,6]'$$) AS spgist_l2,
	   uses('hs_spgist', $$SELECT id FROM hs ORDER BY h <+> '[1,2,3,4,5,6]'$$) AS spgist_l1;
EXPLAIN (COSTS OFF) SELECT h FROM hs ORDER BY h <+> '[1,2,3,4,5,6]' LIMIT 5;
SELECT id, h <+> '[1,2,3,4,5,6]' AS d FROM hs ORDER BY h <+> '[1,2,3,4,5,6]', id LIMIT 3;
RESET enable_seqscan;
SELECT order_wrong('<->') AS spgist_l2_wrong, order_wrong('<+>') AS spgist_l1_wrong;
INSERT INTO hs SELECT i, (SELECT array_agg(((random() * 200 - 100) + 0 * j)::real) FROM generate_series(1, 6) j)::hvec
	FROM generate_series(3501, 4000) i;
DELETE FROM hs WHERE id % 7 = 0;
VACUUM hs;
SELECT order_wrong('<+>') AS spgist_l1_wrong;
DROP INDEX hs_spgist;

-- vec_index_recall names a type it does not measure
CREATE TABLE sv (s svec);
CREATE INDEX sv_btree ON sv (s);
SELECT vec_index_recall('sv_btree', ARRAY['[1,2]']::vec[]);

-- the dimension limits, at CREATE INDEX for a declared dimension, else per row
CREATE TABLE wide_h (h hvec(300));
CREATE INDEX ON wide_h USING gist (h);
CREATE INDEX ON wide_h USING spgist (h);
CREATE TABLE untyped_h (h hvec);
CREATE INDEX untyped_h_gist ON untyped_h USING gist (h);
INSERT INTO untyped_h SELECT array_fill(1::real, ARRAY[300])::hvec;
-- an hvec query of other dimensions
SET enable_seqscan = off;
INSERT INTO untyped_h VALUES ('[1,2]'), ('[3,4]');
SELECT h FROM untyped_h ORDER BY h <-> '[1,2,3]' LIMIT 1;
RESET enable_seqscan;
RESET search_path;
DROP SCHEMA hvec_spatial_test CASCADE;
