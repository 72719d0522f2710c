-- vec_gist_ops: every indexed query (kNN, box, dwithin) must return exactly
-- what a sequential scan returns, on random and duplicate-heavy points in
-- 2, 3, 8 and 32 dimensions, and the index must actually be used.
-- own schema: the suites share one database
CREATE SCHEMA vec_gist_test;
SET search_path = vec_gist_test, public;
SET client_min_messages = warning;

-- check_query, check_table, rnd_vec and the tables rnd2 ... dup32
-- (pg_regress feeds the file on stdin, so the path is built from the
-- source directory it exports)
\getenv abs_srcdir PG_ABS_SRCDIR
\set spatial_checks :abs_srcdir '/sql/include/spatial_checks.sql'
\i :spatial_checks

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

-- what every spatial opclass must answer, on these indexes and more
\set am gist
\set spatial_queries :abs_srcdir '/sql/include/spatial_queries.sql'
\i :spatial_queries
-- wrong dimensions in a query
SET enable_seqscan = off;
SELECT id FROM small WHERE v <@ '([0,0,0],[1,1,1])';
SELECT id FROM small ORDER BY v <-> '[1,2,3]' LIMIT 1;
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
-- CREATE INDEX checks the declared dimensions, so that an empty column
-- wider than the opclass takes is refused at once, not at every INSERT
CREATE TABLE declared (v vec(300), w vec(252));
CREATE INDEX ON declared USING gist (v);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON declared USING gist (w, v);
CREATE INDEX ON declared USING gist ((w::vec(253)));
CREATE INDEX declared_w ON declared USING gist (w);
CREATE TABLE declared_part (id int, v vec(400)) PARTITION BY LIST (id);
CREATE INDEX ON declared_part USING gist (v);
INSERT INTO declared (w) VALUES (array_fill(1::real, ARRAY[252])::vec);
DROP TABLE declared, declared_part;
SET client_min_messages = warning;
RESET search_path;
DROP SCHEMA vec_gist_test CASCADE;
