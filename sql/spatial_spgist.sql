-- vec_spgist_ops: every indexed query (kNN, box, dwithin) must return exactly
-- what a sequential scan returns, on random and duplicate-heavy points in
-- 2, 3, 8 and 32 dimensions, and the index must actually be used.
-- own schema: the suites share one database
CREATE SCHEMA vec_spgist_test;
SET search_path = vec_spgist_test, public;
SET client_min_messages = warning;

-- check_query, check_table, rnd_vec and the tables rnd2 ... dup32
-- (pg_regress feeds the file on stdin, so the path is built from the
-- source directory it exports)
\getenv abs_srcdir PG_ABS_SRCDIR
\set spatial_checks :abs_srcdir '/sql/include/spatial_checks.sql'
\i :spatial_checks

CREATE INDEX rnd2_idx ON rnd2 USING spgist (v);
CREATE INDEX dup2_idx ON dup2 USING spgist (v);
CREATE INDEX rnd3_idx ON rnd3 USING spgist (v);
CREATE INDEX dup3_idx ON dup3 USING spgist (v);
CREATE INDEX rnd8_idx ON rnd8 USING spgist (v);
CREATE INDEX dup8_idx ON dup8 USING spgist (v);
CREATE INDEX rnd32_idx ON rnd32 USING spgist (v);
CREATE INDEX dup32_idx ON dup32 USING spgist (v);
ANALYZE;

-- what every spatial opclass must answer, on these indexes and more
\set am spgist
\set spatial_queries :abs_srcdir '/sql/include/spatial_queries.sql'
\i :spatial_queries
-- wrong dimensions in a query
SET enable_seqscan = off;
SELECT id FROM small WHERE v <@ '([0,0,0],[1,1,1])';
SELECT id FROM small ORDER BY v <-> '[1,2,3]' LIMIT 1;
RESET enable_seqscan;

-- wide vecs work as long as a leaf fits on a page
CREATE TABLE wide (id int, v vec);
INSERT INTO wide SELECT i, array_fill(i::real, ARRAY[600])::vec FROM generate_series(1, 200) i;
CREATE INDEX wide_idx ON wide USING spgist (v);
SET enable_seqscan = off;
SELECT id, v <-> array_fill(3.2::real, ARRAY[600])::vec AS dist FROM wide
ORDER BY v <-> array_fill(3.2::real, ARRAY[600])::vec LIMIT 3;
RESET enable_seqscan;
-- mixed dimensions in one column
CREATE TABLE mixed (v vec);
CREATE INDEX mixed_idx ON mixed USING spgist (v);
INSERT INTO mixed SELECT '[1,2]'::vec FROM generate_series(1, 1000);
INSERT INTO mixed SELECT '[1,2,3]'::vec FROM generate_series(1, 1000);
-- CREATE INDEX checks the declared dimensions against what a leaf tuple
-- holds (2032 on 8 kB pages), so that an empty column wider than that is
-- refused at once, not at every INSERT
CREATE TABLE declared (v vec(2033), w vec(2032));
CREATE INDEX ON declared USING spgist (v);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX declared_w ON declared USING spgist (w);
INSERT INTO declared (w) VALUES (array_fill(1::real, ARRAY[2032])::vec);
-- one more dimension does not fit a leaf (the check is not too strict)
CREATE TABLE undeclared (v vec);
CREATE INDEX ON undeclared USING spgist (v);
INSERT INTO undeclared VALUES (array_fill(1::real, ARRAY[2033])::vec);
DROP TABLE declared, undeclared;
SET client_min_messages = warning;
RESET search_path;
DROP SCHEMA vec_spgist_test CASCADE;
