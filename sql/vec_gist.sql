-- vec_gist_ops: every indexed query (kNN, box, dwithin) must return exactly
-- what a sequential scan returns, on random and duplicate-heavy points in
-- 2, 3, 8 and 32 dimensions, and the index must actually be used.
-- own schema: the suites share one database
CREATE SCHEMA vec_gist_test;
SET search_path = vec_gist_test, public;
SET client_min_messages = warning;

-- Runs query with only the index available (and checks the plan names it),
-- then with only a sequential scan, and compares the answers.  The query
-- must return one column; answers are compared as ordered arrays, so kNN
-- queries should return distances (equal sequences, ties allowed).
CREATE FUNCTION check_query(query text, idx text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	plan text := '';
	line text;
	with_index text;
	with_seqscan text;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_bitmapscan', 'on', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		plan := plan || line || E'\n';
	END LOOP;
	EXECUTE format('SELECT array_agg(x)::text FROM (%s) s(x)', query) INTO with_index;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	EXECUTE format('SELECT array_agg(x)::text FROM (%s) s(x)', query) INTO with_seqscan;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_bitmapscan', 'on', true);
	IF position(idx IN plan) = 0 THEN
		RETURN 'index not used: ' || query || E'\n' || plan;
	END IF;
	IF with_index IS DISTINCT FROM with_seqscan THEN
		RETURN format('MISMATCH %s: index %s, seqscan %s', query,
					  left(with_index, 200), left(with_seqscan, 200));
	END IF;
	RETURN 'ok';
END $$;

-- A vec of d random coordinates; coarse ones repeat a lot.
CREATE FUNCTION rnd_vec(d int, coarse bool) RETURNS vec
LANGUAGE sql VOLATILE AS $$
	SELECT array_agg(CASE WHEN coarse THEN round(random() * 3)::real
						  ELSE (random() * 200 - 100)::real END)::vec
	FROM generate_series(1, d)
$$;

-- The queries run against table tbl (columns id, v) with index idx:
-- kNN by <-> and <+> for k = 1, 10, 100 from query points that are random,
-- stored points, and far away; boxes that are random, empty, all-covering,
-- and bounded by stored points; vec_dwithin with radii equal to stored
-- distances (points exactly on the sphere must be found).
CREATE FUNCTION check_table(tbl text, idx text, d int) RETURNS TABLE (ok bigint, failures text)
LANGUAGE plpgsql AS $$
DECLARE
	queries text[] := '{}';
	q vec;
	q2 vec;
	r float8;
	res text;
	n_ok bigint := 0;
	bad text := NULL;
BEGIN
	FOR i IN 1..8 LOOP
		IF i <= 3 THEN
			q := rnd_vec(d, false);
		ELSIF i <= 6 THEN
			EXECUTE format('SELECT v FROM %I WHERE v IS NOT NULL ORDER BY id OFFSET %s LIMIT 1', tbl, i * 37) INTO q;
		ELSE
			q := (SELECT array_agg(1000.0::real * i)::vec FROM generate_series(1, d));
		END IF;
		EXECUTE format('SELECT v FROM %I WHERE v IS NOT NULL ORDER BY id OFFSET %s LIMIT 1', tbl, i * 53) INTO q2;
		FOREACH r IN ARRAY ARRAY[1, 10, 100] LOOP
			queries := queries ||
				format('SELECT v <-> %L FROM %I ORDER BY v <-> %L LIMIT %s', q, tbl, q, r) ||
				format('SELECT v <+> %L FROM %I ORDER BY v <+> %L LIMIT %s', q, tbl, q, r);
		END LOOP;
		-- box around q reaching to q2 (q2 lies on its boundary), and a cube
		queries := queries ||
			format('SELECT id FROM %I WHERE v <@ vbox(%L::vec, %L::vec) ORDER BY id', tbl, q, q2) ||
			format('SELECT id FROM %I WHERE v <@ vbox(%L::vec, %s::float8) ORDER BY id', tbl, q, 10 * i);
		-- dwithin with the exact distance of the 7th neighbour as radius
		EXECUTE format('SELECT v <-> %L FROM %I WHERE v IS NOT NULL ORDER BY v <-> %L OFFSET 6 LIMIT 1', q, tbl, q) INTO r;
		queries := queries ||
			format('SELECT id FROM %I WHERE vec_dwithin(v, %L, %s) ORDER BY id', tbl, q, r) ||
			format('SELECT id FROM %I WHERE vec_dwithin(v, %L, %s) ORDER BY id', tbl, q, r * 3);
	END LOOP;
	-- empty box and a box covering everything
	queries := queries ||
		format('SELECT id FROM %I WHERE v <@ vbox(%L::vec, 1.0::float8) ORDER BY id', tbl,
			   (SELECT array_agg(500.0::real)::vec FROM generate_series(1, d))) ||
		format('SELECT id FROM %I WHERE v <@ vbox(%L::vec, 1e30::float8) ORDER BY id', tbl,
			   (SELECT array_agg(0.0::real)::vec FROM generate_series(1, d)));
	FOREACH res IN ARRAY queries LOOP
		res := check_query(res, idx);
		IF res = 'ok' THEN
			n_ok := n_ok + 1;
		ELSE
			bad := coalesce(bad || E'\n', '') || res;
		END IF;
	END LOOP;
	RETURN QUERY SELECT n_ok, bad;
END $$;

SELECT setseed(0.42);
CREATE TABLE rnd2 (id serial, v vec(2));
CREATE TABLE dup2 (id serial, v vec(2));
CREATE TABLE rnd3 (id serial, v vec(3));
CREATE TABLE dup3 (id serial, v vec(3));
CREATE TABLE rnd8 (id serial, v vec(8));
CREATE TABLE dup8 (id serial, v vec(8));
CREATE TABLE rnd32 (id serial, v vec(32));
CREATE TABLE dup32 (id serial, v vec(32));
INSERT INTO rnd2 (v) SELECT rnd_vec(2, false) FROM generate_series(1, 6000);
INSERT INTO dup2 (v) SELECT rnd_vec(2, true) FROM generate_series(1, 6000);
INSERT INTO rnd3 (v) SELECT rnd_vec(3, false) FROM generate_series(1, 5000);
INSERT INTO dup3 (v) SELECT rnd_vec(3, true) FROM generate_series(1, 5000);
INSERT INTO rnd8 (v) SELECT rnd_vec(8, false) FROM generate_series(1, 3000);
INSERT INTO dup8 (v) SELECT rnd_vec(8, true) FROM generate_series(1, 3000);
INSERT INTO rnd32 (v) SELECT rnd_vec(32, false) FROM generate_series(1, 2000);
INSERT INTO dup32 (v) SELECT rnd_vec(32, true) FROM generate_series(1, 2000);
-- exact duplicates of whole rows, and NULLs
INSERT INTO dup2 (v) SELECT v FROM dup2 WHERE id <= 500;
INSERT INTO rnd2 (v) SELECT v FROM rnd2 WHERE id <= 300;
INSERT INTO rnd2 (v) SELECT NULL FROM generate_series(1, 20);
INSERT INTO dup8 (v) SELECT NULL FROM generate_series(1, 5);

-- the opclass has sortsupport (PostgreSQL 14+), so builds are sorted
SELECT amprocnum, amproc FROM pg_amproc p JOIN pg_opfamily f ON p.amprocfamily = f.oid
WHERE f.opfname = 'vec_gist_ops' AND amprocnum = 11;

-- sorted builds (the default with sortsupport), and one buffered build
-- that goes through penalty and picksplit
CREATE INDEX rnd2_idx ON rnd2 USING gist (v);
CREATE INDEX dup2_idx ON dup2 USING gist (v);
CREATE INDEX rnd3_idx ON rnd3 USING gist (v) WITH (buffering = on);
CREATE INDEX dup3_idx ON dup3 USING gist (v);
CREATE INDEX rnd8_idx ON rnd8 USING gist (v);
CREATE INDEX dup8_idx ON dup8 USING gist (v) WITH (buffering = on);
CREATE INDEX rnd32_idx ON rnd32 USING gist (v);
CREATE INDEX dup32_idx ON dup32 USING gist (v);
ANALYZE;

SELECT 'rnd2' AS tbl, * FROM check_table('rnd2', 'rnd2_idx', 2)
UNION ALL SELECT 'dup2', * FROM check_table('dup2', 'dup2_idx', 2)
UNION ALL SELECT 'rnd3', * FROM check_table('rnd3', 'rnd3_idx', 3)
UNION ALL SELECT 'dup3', * FROM check_table('dup3', 'dup3_idx', 3)
UNION ALL SELECT 'rnd8', * FROM check_table('rnd8', 'rnd8_idx', 8)
UNION ALL SELECT 'dup8', * FROM check_table('dup8', 'dup8_idx', 8)
UNION ALL SELECT 'rnd32', * FROM check_table('rnd32', 'rnd32_idx', 32)
UNION ALL SELECT 'dup32', * FROM check_table('dup32', 'dup32_idx', 32);

-- inserts after the build (page splits through picksplit), deletes, VACUUM
INSERT INTO rnd2 (v) SELECT rnd_vec(2, false) FROM generate_series(1, 4000);
INSERT INTO dup2 (v) SELECT rnd_vec(2, true) FROM generate_series(1, 4000);
INSERT INTO rnd8 (v) SELECT rnd_vec(8, false) FROM generate_series(1, 2000);
INSERT INTO dup32 (v) SELECT rnd_vec(32, true) FROM generate_series(1, 1000);
DELETE FROM rnd2 WHERE id % 3 = 0;
DELETE FROM dup2 WHERE id % 2 = 0;
DELETE FROM rnd8 WHERE id % 5 = 1;
DELETE FROM dup32 WHERE id < 1500;
VACUUM ANALYZE rnd2, dup2, rnd8, dup32;
SELECT 'rnd2' AS tbl, * FROM check_table('rnd2', 'rnd2_idx', 2)
UNION ALL SELECT 'dup2', * FROM check_table('dup2', 'dup2_idx', 2)
UNION ALL SELECT 'rnd8', * FROM check_table('rnd8', 'rnd8_idx', 8)
UNION ALL SELECT 'dup32', * FROM check_table('dup32', 'dup32_idx', 32);

-- what the plans look like
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM rnd2 ORDER BY v <-> '[1,2]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM rnd2 ORDER BY v <+> '[1,2]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM rnd2 WHERE v <@ '([0,0],[10,10])';
EXPLAIN (COSTS OFF) SELECT id FROM rnd2 WHERE vec_dwithin(v, '[1,2]', 5);
-- index-only scan returns the points themselves
EXPLAIN (COSTS OFF) SELECT v FROM rnd2 ORDER BY v <-> '[1,2]' LIMIT 3;
SELECT v, v <-> '[1,2]' AS dist FROM rnd2 ORDER BY v <-> '[1,2]' LIMIT 3;
RESET enable_seqscan;

-- k larger than the table, NULLs come last in both plans
CREATE TABLE small (id int, v vec(2));
INSERT INTO small VALUES (1, '[0,0]'), (2, NULL), (3, '[3,4]'), (4, '[0,0]'), (5, '[-3,-4]');
CREATE INDEX small_idx ON small USING gist (v);
SET enable_seqscan = off;
SELECT id, v <-> '[0,0]' AS dist FROM small ORDER BY v <-> '[0,0]', id LIMIT 10;
SELECT id, v <+> '[1,1]' AS dist FROM small ORDER BY v <+> '[1,1]', id LIMIT 10;
-- boundary points are inside; empty and all-covering boxes
SELECT id FROM small WHERE v <@ '([0,0],[3,4])' ORDER BY id;
SELECT id FROM small WHERE v <@ '([0.5,0.5],[1,1])' ORDER BY id;
SELECT id FROM small WHERE v <@ '([-1e30,-1e30],[1e30,1e30])' ORDER BY id;
SELECT id FROM small WHERE vec_dwithin(v, '[0,0]', 5) ORDER BY id;
SELECT id FROM small WHERE vec_dwithin(v, '[0,0]', 4.999) ORDER BY id;
SELECT id FROM small WHERE vec_dwithin(v, NULL, 5) ORDER BY id;
-- wrong dimensions in a query
SELECT id FROM small WHERE v <@ '([0,0,0],[1,1,1])';
SELECT id FROM small ORDER BY v <-> '[1,2,3]' LIMIT 1;
RESET enable_seqscan;

-- an empty table
CREATE TABLE empty (v vec(3));
CREATE INDEX empty_idx ON empty USING gist (v);
SET enable_seqscan = off;
SELECT v FROM empty ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT count(*) FROM empty WHERE v <@ '([0,0,0],[1,1,1])';
INSERT INTO empty VALUES ('[1,1,1]'), ('[0,0,0]');
SELECT v FROM empty ORDER BY v <-> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;

-- too many dimensions for a GiST page: a clear error naming the maximum
CREATE TABLE wide (v vec);
INSERT INTO wide SELECT array_fill(1.0::real, ARRAY[600])::vec;
CREATE INDEX wide_idx ON wide USING gist (v);
-- the maximum itself works
TRUNCATE wide;
INSERT INTO wide SELECT array_fill(i::real, ARRAY[252])::vec FROM generate_series(1, 50) i;
CREATE INDEX wide_idx ON wide USING gist (v);
SET enable_seqscan = off;
SELECT vec_dims(v), v <-> array_fill(3.0::real, ARRAY[252])::vec AS dist FROM wide
ORDER BY v <-> array_fill(3.0::real, ARRAY[252])::vec LIMIT 3;
RESET enable_seqscan;
-- mixed dimensions in one column
CREATE TABLE mixed (v vec);
CREATE INDEX mixed_idx ON mixed USING gist (v);
INSERT INTO mixed SELECT '[1,2]'::vec FROM generate_series(1, 1000);
INSERT INTO mixed SELECT '[1,2,3]'::vec FROM generate_series(1, 1000);
SET client_min_messages = warning;
RESET search_path;
DROP SCHEMA vec_gist_test CASCADE;
