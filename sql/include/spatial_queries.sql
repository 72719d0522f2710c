-- The queries of the spatial_gist and spatial_spgist suites, included with \i
-- once the suite has built its indexes on the tables of
-- spatial_checks.sql; psql variable am names the access method for the
-- small tables built here.  Nothing here may fail: psql would name this
-- file, by its absolute path, in the error.

SELECT 'rnd2' AS tbl, * FROM check_table('rnd2', 'rnd2_idx', 2)
UNION ALL SELECT 'dup2', * FROM check_table('dup2', 'dup2_idx', 2)
UNION ALL SELECT 'rnd3', * FROM check_table('rnd3', 'rnd3_idx', 3)
UNION ALL SELECT 'dup3', * FROM check_table('dup3', 'dup3_idx', 3)
UNION ALL SELECT 'rnd8', * FROM check_table('rnd8', 'rnd8_idx', 8)
UNION ALL SELECT 'dup8', * FROM check_table('dup8', 'dup8_idx', 8)
UNION ALL SELECT 'rnd32', * FROM check_table('rnd32', 'rnd32_idx', 32)
UNION ALL SELECT 'dup32', * FROM check_table('dup32', 'dup32_idx', 32);

-- inserts after the build (splits through picksplit), deletes, VACUUM
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
CREATE INDEX small_idx ON small USING :am (v);
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
RESET enable_seqscan;

-- an empty table
CREATE TABLE empty (v vec(3));
CREATE INDEX empty_idx ON empty USING :am (v);
SET enable_seqscan = off;
SELECT v FROM empty ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT count(*) FROM empty WHERE v <@ '([0,0,0],[1,1,1])';
INSERT INTO empty VALUES ('[1,1,1]'), ('[0,0,0]');
SELECT v FROM empty ORDER BY v <-> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;
