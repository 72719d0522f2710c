-- vbox: text and binary I/O, constructors, accessors, operators, and
-- vec_dwithin().
-- own schema: the suites share one database
CREATE SCHEMA vbox_test;
SET search_path = vbox_test, public;

-- text I/O; reversed bounds are normalised
SELECT '([1,2],[3,4])'::vbox;
SELECT ' ( [ 1 , -2.5e1 ] , [ 3 , 4 ] ) '::vbox;
SELECT '([5,2,0],[3,4,0])'::vbox;
SELECT '([1],[1])'::vbox;
SELECT '([0.1,3.4028235e38],[-0.1,-3.4028235e38])'::vbox;

-- malformed input: 22P02 with a detail naming the problem
\set VERBOSITY default
SELECT ''::vbox;
SELECT '[1,2],[3,4]'::vbox;
SELECT '([1,2] [3,4])'::vbox;
SELECT '([1,2],[3,4]'::vbox;
SELECT '([1,2],[3,4]) x'::vbox;
SELECT '([1,2],[3,x])'::vbox;
SELECT '(1,[3])'::vbox;
SELECT '([],[])'::vbox;
-- NaN, infinity, out of range, dimension mismatch
SELECT '([1,NaN],[3,4])'::vbox;
SELECT '([1,2],[3,Infinity])'::vbox;
SELECT '([1e39],[3])'::vbox;
SELECT '([1,2],[3])'::vbox;
\set VERBOSITY terse
DO $$
BEGIN
	PERFORM '([1,2],[3,x])'::vbox;
EXCEPTION WHEN invalid_text_representation THEN
	RAISE NOTICE 'malformed vbox: SQLSTATE 22P02';
END $$;
\set VERBOSITY default

-- binary I/O round trip through COPY
CREATE TABLE boxes (id int, b vbox);
INSERT INTO boxes VALUES (1, '([1,2],[3,4])'), (2, '([-1.5,0,1e-30],[2,0,3e30])'), (3, NULL);
CREATE TABLE boxes2 (LIKE boxes);
DO $$
DECLARE f text := '/tmp/ms_vbox_' || pg_backend_pid() || '.bin';
BEGIN
	EXECUTE format('COPY boxes TO PROGRAM %L (FORMAT binary)', 'cat > ' || f);
	EXECUTE format('COPY boxes2 FROM PROGRAM %L (FORMAT binary)', 'cat ' || f || '; rm -f ' || f);
END $$;
SELECT a.id, a.b, a.b = b.b AS same FROM boxes a JOIN boxes2 b USING (id) ORDER BY id;
SELECT count(*) FROM boxes a JOIN boxes2 b ON a.b IS NULL AND b.b IS NULL;

-- binary input with crafted one-field COPY streams: the header (int16 dim,
-- int16 flags) must agree with the 2 * dim float4 bounds that follow
CREATE TABLE boxes3 (b vbox);
CREATE FUNCTION copy_payload(payload text) RETURNS text LANGUAGE sql AS $$
	SELECT format($p$printf 'PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000\000\001%s\377\377'$p$, payload)
$$;
-- good: dim 1, bounds 2.0 and 1.0 (normalised to ([1],[2]))
SELECT copy_payload('\000\000\000\014\000\001\000\000\100\000\000\000\077\200\000\000') AS cmd \gset
COPY boxes3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT b FROM boxes3;
-- header says 2 dimensions, one dimension's bounds follow
SELECT copy_payload('\000\000\000\014\000\002\000\000\100\000\000\000\077\200\000\000') AS cmd \gset
COPY boxes3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- dimension 0
SELECT copy_payload('\000\000\000\004\000\000\000\000') AS cmd \gset
COPY boxes3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- nonzero flags
SELECT copy_payload('\000\000\000\014\000\001\000\002\100\000\000\000\077\200\000\000') AS cmd \gset
COPY boxes3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- NaN bound
SELECT copy_payload('\000\000\000\014\000\001\000\000\177\300\000\000\077\200\000\000') AS cmd \gset
COPY boxes3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT count(*) FROM boxes3;

-- constructors and accessors (two unknown literals need a cast: vbox(vec,
-- vec) and vbox(vec, float8) both accept them)
SELECT vbox('[1,2]', '[3,4]');
SELECT vbox('[1,2]'::vec, '[3,4]'), vbox('[3,2]'::vec, '[1,4]'::vec);
SELECT vbox('[1,2]'::vec, '[3,4,5]'::vec);
SELECT vbox('[0,0]', 1), vbox('[0.1,-7]', 0.5), vbox('[1,2]', 0);
SELECT vbox('[0,0]', -1);
SELECT vbox('[0,0]', 'NaN'::float8);
SELECT vbox('[0,3e38]', 'Infinity'::float8), vbox('[0,0]', 1e300);
SELECT vbox_lo('([1,2],[3,4])'), vbox_hi('([1,2],[3,4])'), vbox_dims('([1,2,3],[4,5,6])');
-- the cube is rounded outward: every point within the radius is inside
SELECT count(*), bool_and(p <@ vbox('[0.1,0]', 0.3)) AS all_inside
FROM generate_series(0, 359) g,
	LATERAL (SELECT ARRAY[(0.1 + 0.3 * cos(radians(g)))::real, (0.3 * sin(radians(g)))::real]::vec AS p) s
WHERE p <-> '[0.1,0]' <= 0.3;

-- operators; bounds are inclusive
SELECT '[1,2]'::vec <@ '([1,2],[3,4])'::vbox AS corner,
	   '[3,4]'::vec <@ '([1,2],[3,4])'::vbox AS far_corner,
	   '[2,3]'::vec <@ '([1,2],[3,4])'::vbox AS inside,
	   '[0.999,3]'::vec <@ '([1,2],[3,4])'::vbox AS outside,
	   '([1,2],[3,4])'::vbox @> '[2,2]'::vec AS contains;
SELECT '([0,0],[1,1])'::vbox && '([1,1],[2,2])'::vbox AS touching,
	   '([0,0],[1,1])'::vbox && '([1.5,0],[2,2])'::vbox AS apart,
	   '([0,0],[4,4])'::vbox @> '([1,1],[4,2])'::vbox AS contains_box,
	   '([1,1],[4,2])'::vbox <@ '([0,0],[4,4])'::vbox AS contained_box,
	   '([0,0],[4,4])'::vbox @> '([1,1],[5,2])'::vbox AS not_contains,
	   '([0,0],[1,1])'::vbox = '([1,1],[0,0])'::vbox AS equal,
	   '([0,0],[1,1])'::vbox <> '([0,0],[1,2])'::vbox AS not_equal;
SELECT '[1,2,3]'::vec <@ '([1,2],[3,4])'::vbox;
SELECT '([0,0],[1,1])'::vbox && '([0],[1])'::vbox;

-- vec_dwithin: inclusive, exact, NULL in NULL out, and inlined
SELECT vec_dwithin('[0,0]', '[3,4]', 5) AS on_sphere,
	   vec_dwithin('[0,0]', '[3,4]', 4.9999) AS outside,
	   vec_dwithin('[0,0]', '[0,0]', 0) AS zero_radius,
	   vec_dwithin('[1,1]', '[1,1]', 'Infinity') AS infinite,
	   vec_dwithin(NULL, '[0,0]', 1) AS null_arg;
SELECT vec_dwithin('[0,0]', '[3,4]', -1);
SELECT vec_dwithin('[0,0]', '[3,4,5]', 10);
CREATE TABLE pts (id int, v vec(2));
INSERT INTO pts VALUES (1, '[0,0]'), (2, '[3,4]'), (3, '[3,4.01]');
EXPLAIN (COSTS OFF) SELECT id FROM pts WHERE vec_dwithin(v, '[0,0]', 5);
SELECT id FROM pts WHERE vec_dwithin(v, '[0,0]', 5) ORDER BY id;
-- the search box is a little wider than the cube, never narrower
SELECT vbox_hi(vec_dwithin_box('[0,0]', 5)) >= vbox_hi(vbox('[0,0]', 5)) AS wider;
SET client_min_messages = warning;
RESET search_path;
DROP SCHEMA vbox_test CASCADE;
