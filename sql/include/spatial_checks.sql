-- Scaffolding shared by the spatial_gist and spatial_spgist suites,
-- included with \i after each suite has created its own schema and put
-- it first on the search_path: the helpers and tables below land in that
-- schema and are dropped with it, so neither suite depends on the
-- other's leftovers.  The same seed gives both suites the same points.

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
