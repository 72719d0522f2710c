-- vec functions, operators, casts, comparisons and hashing
SET extra_float_digits = 0;

-- functions
SELECT vec_dims('[1,2,3]'), vec_norm('[3,4]'), vec_norm('[0,0]');
SELECT l2_normalize('[3,4]'::vec), l2_normalize('[0,0]'::vec), l2_normalize('[-2]'::vec);
SELECT subvec('[1,2,3,4,5]', 2, 3), subvec('[1,2,3,4,5]', 1, 5), subvec('[1,2,3,4,5]', 4, 10),
       subvec('[1,2,3,4,5]', 0, 2), subvec('[1,2,3,4,5]', -5, 7);
SELECT subvec('[1,2,3]', 4, 1);
SELECT subvec('[1,2,3]', 1, 0);
SELECT subvec('[1,2,3]', 1, -1);
SELECT subvec('[1,2,3]', 2147483647, 2147483647);
SELECT subvec('[1,2,3]', -2147483648, 2147483647);

-- distances
SELECT l2_distance('[0,0]'::vec, '[3,4]'), '[0,0]'::vec <-> '[3,4]';
SELECT inner_product('[1,2,3]'::vec, '[4,5,6]'), '[1,2,3]'::vec <#> '[4,5,6]';
SELECT cosine_distance('[1,0]'::vec, '[0,1]'), '[1,0]'::vec <=> '[1,0]', '[1,0]'::vec <=> '[-1,0]',
       '[1,2]'::vec <=> '[2,4]';
SELECT cosine_distance('[0,0]'::vec, '[1,1]');   -- undefined for a zero vector: NaN
SELECT l1_distance('[1,2,3]'::vec, '[-1,0,5]'), '[1,2,3]'::vec <+> '[-1,0,5]';
SELECT vec_l2_squared_distance('[0,0]', '[3,4]');
-- large values: squared differences overflow float4, the answer must not
SELECT vec_norm('[3e38,3e38]'), '[3e38,3e38]'::vec <#> '[3e38,-3e38]', '[3e38,1]'::vec <=> '[3e38,2]',
       '[3e38,3e38]'::vec <+> '[-3e38,-3e38]';
SELECT '[3e38]'::vec <-> '[-3e38]';
-- a long vector against a double precision reference
WITH g AS (
	SELECT array_agg(sin(i)::real ORDER BY i) AS a, array_agg(cos(i * 0.7)::real ORDER BY i) AS b
	FROM generate_series(1, 1537) i
), ref AS (
	SELECT sqrt(sum((x - y) ^ 2)) AS l2, sum(x * y) AS ip, sum(abs(x - y)) AS l1,
	       sum(x * x) AS na, sum(y * y) AS nb
	FROM g, unnest(g.a, g.b) AS u(x, y)
)
SELECT abs((a::vec <-> b::vec) - l2) < 1e-4 * l2 AS l2_ok,
       abs(inner_product(a::vec, b::vec) - ip) < 1e-4 * sqrt(na * nb) AS ip_ok,
       abs((a::vec <+> b::vec) - l1) < 1e-4 * l1 AS l1_ok,
       abs((a::vec <=> b::vec) - (1 - ip / sqrt(na * nb))) < 1e-5 AS cos_ok
FROM g, ref;

-- dimension mismatches in every binary operator
\set VERBOSITY sqlstate
SELECT '[1,2]'::vec <-> '[1,2,3]';
\set VERBOSITY default
SELECT '[1,2]'::vec <-> '[1,2,3]';
SELECT '[1,2]'::vec <#> '[1,2,3]';
SELECT '[1,2]'::vec <=> '[1,2,3]';
SELECT '[1,2]'::vec <+> '[1,2,3]';
SELECT '[1,2]'::vec + '[1,2,3]';
SELECT '[1,2]'::vec - '[1,2,3]';
SELECT '[1,2]'::vec * '[1,2,3]';
SELECT l2_distance('[1,2]'::vec, '[1,2,3]');
SELECT inner_product('[1,2]'::vec, '[1,2,3]');
SELECT cosine_distance('[1,2]'::vec, '[1,2,3]');
SELECT l1_distance('[1,2]'::vec, '[1,2,3]');
SELECT vec_l2_squared_distance('[1,2]', '[1,2,3]');

-- arithmetic
SELECT '[1,2,3]'::vec + '[4,5,6]', '[1,2,3]'::vec - '[4,5,6]', '[1,2,3]'::vec * '[4,5,6]';
SELECT '[3e38]'::vec + '[3e38]';
SELECT '[-3e38]'::vec - '[3e38]';
SELECT '[1e30]'::vec * '[1e30]';
SELECT '[1e-30]'::vec * '[1e-30]';
SELECT '[1,2]'::vec || '[3]', '[1]'::vec || '[1]';
SELECT vec_dims(('[' || repeat('1,', 7999) || '1]')::vec || ('[' || repeat('1,', 7999) || '1]')::vec);
SELECT ('[' || repeat('1,', 7999) || '1]')::vec || ('[' || repeat('1,', 7999) || '1,2]')::vec;

-- casts
SELECT ARRAY[1,2,3]::real[]::vec, ARRAY[1.5,2,3]::float8[]::vec, ARRAY[1,2,3]::vec,
       ARRAY[1.25,2,3]::numeric[]::vec;
SELECT '[1,2.5]'::vec::real[];
SELECT ARRAY[1,2,3]::vec(3), ARRAY[1,2,3]::real[]::vec(3);
SELECT ARRAY[1,2]::vec(3);
SELECT ARRAY[]::real[]::vec;
SELECT ARRAY[1,NULL,3]::real[]::vec;
SELECT ARRAY[[1,2],[3,4]]::real[]::vec;
SELECT ARRAY['NaN']::real[]::vec;
SELECT ARRAY['Infinity']::real[]::vec;
SELECT ARRAY['-Infinity']::float8[]::vec;
SELECT ARRAY['NaN']::float8[]::vec;
SELECT ARRAY['NaN']::numeric[]::vec;
SELECT ARRAY['Infinity']::numeric[]::vec;
SELECT ARRAY[1e300]::float8[]::vec;
SELECT ARRAY[1e-300]::float8[]::vec;
SELECT ARRAY[1e300]::numeric[]::vec;
SELECT array_fill(1::real, ARRAY[16001])::vec;
SELECT vec_dims(array_fill(1::real, ARRAY[16000])::vec);
-- assignment casts let arrays go straight into vec columns
CREATE TABLE vec_ops_cast (v vec(2));
INSERT INTO vec_ops_cast VALUES (ARRAY[1,2]), (ARRAY[1.5,2.5]::float8[]), (ARRAY[3,4]::real[]),
	(ARRAY[5.5,6]::numeric[]);
INSERT INTO vec_ops_cast VALUES (ARRAY[1,2,3]);
SELECT v FROM vec_ops_cast ORDER BY v;
DROP TABLE vec_ops_cast;

-- comparisons, btree and hash
SELECT '[1,2]'::vec < '[1,3]', '[1,2]'::vec < '[1,2,0]', '[2]'::vec > '[1,9]',
       '[1,2]'::vec = '[1,2]', '[1,2]'::vec <> '[1,2]', '[0]'::vec = '[-0]',
       '[1,2]'::vec <= '[1,2]', '[1,2]'::vec >= '[1,3]';
SELECT vec_cmp('[1,2]', '[1,2]'), vec_cmp('[1]', '[1,0]'), vec_cmp('[2]', '[1,0]');
SELECT vec_hash('[0]') = vec_hash('[-0]') AS zero_hash_ok,
       (vec_hash_extended('[1,2]', 0) & 4294967295) = (vec_hash('[1,2]')::bigint & 4294967295) AS hash_seed0_ok;
CREATE TABLE vec_ops_cmp (id int, v vec);
INSERT INTO vec_ops_cmp SELECT i, ARRAY[i % 7, i % 3]::vec FROM generate_series(1, 200) i;
INSERT INTO vec_ops_cmp VALUES (201, '[1]'), (202, '[1,2,3]'), (203, '[-0,0]'), (204, '[0,0]');
CREATE INDEX vec_ops_cmp_btree ON vec_ops_cmp (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vec_ops_cmp WHERE v = '[3,1]';
SELECT count(*) FROM vec_ops_cmp WHERE v = '[3,1]';
SELECT count(*) FROM vec_ops_cmp WHERE v < '[1]';
SELECT DISTINCT v FROM vec_ops_cmp WHERE v <= '[1,0]' ORDER BY v;
RESET enable_seqscan;
SELECT count(*) FROM vec_ops_cmp WHERE v = '[3,1]';
-- hash aggregation and hash join agree with sort-based answers
SET enable_sort = off;
SELECT count(*) FROM (SELECT v FROM vec_ops_cmp GROUP BY v) g;
RESET enable_sort;
SET enable_hashagg = off;
SELECT count(*) FROM (SELECT v FROM vec_ops_cmp GROUP BY v) g;
RESET enable_hashagg;
CREATE INDEX vec_ops_cmp_hash ON vec_ops_cmp USING hash (v);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM vec_ops_cmp WHERE v = '[0,0]';
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE vec_ops_cmp;

-- NULLs propagate through strict functions
SELECT NULL::vec <-> '[1]', vec_dims(NULL), NULL::vec || '[1]';

-- SIMD level: one of the known names, and every forced level agrees
SELECT vec_simd_level() IN ('avx512', 'avx2', 'neon', 'scalar') AS known_level;
SET machinesoup.simd = 'scalar';
SELECT vec_simd_level();
SELECT '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]'::vec <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]';
RESET machinesoup.simd;
SET machinesoup.simd = 'bogus';
-- every level this CPU supports agrees with the scalar kernels
DO $$
DECLARE
	lvl text;
	a vec := (SELECT array_agg(sin(i)::real ORDER BY i)::vec FROM generate_series(1, 1001) i);
	b vec := (SELECT array_agg(cos(i)::real ORDER BY i)::vec FROM generate_series(1, 1001) i);
	ref float8[];
	got float8[];
BEGIN
	SET machinesoup.simd = 'scalar';
	ref := ARRAY[a <-> b, a <#> b, a <=> b, a <+> b, vec_norm(a)];
	FOREACH lvl IN ARRAY ARRAY['avx2', 'avx512', 'neon'] LOOP
		BEGIN
			PERFORM set_config('machinesoup.simd', lvl, false);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;
		END;
		got := ARRAY[a <-> b, a <#> b, a <=> b, a <+> b, vec_norm(a)];
		FOR i IN 1 .. 5 LOOP
			IF abs(got[i] - ref[i]) > 1e-4 * greatest(1, abs(ref[i])) THEN
				RAISE EXCEPTION 'level % disagrees with scalar on %: % vs %', lvl, i, got[i], ref[i];
			END IF;
		END LOOP;
	END LOOP;
	RESET machinesoup.simd;
END $$;

-- float32 extremes: at 1e19 and 1e20 squares and products overflow float32,
-- at 1e38 the components themselves are near FLT_MAX, at 1e-38 squares
-- underflow.  Every distance, and the order of every ordered scan (the
-- operators, msivf with every list probed under each opclass, GiST,
-- SP-GiST, vec_knn_exact), must match a float8 computation from the
-- components, on every SIMD level this machine has.
SELECT cosine_distance('[1e-38,0]'::vec, '[1e-38,0]'), '[1e-38,0]'::vec <=> '[2e-38,0]',
       '[1e-38,0]'::vec <=> '[0,1e-38]', vec_norm('[3e-38,4e-38]') / 1e-38 AS norm_5,
       ('[1e-38,0]'::vec <-> '[0,1e-38]') / 1e-38 AS l2_sqrt2,
       ('[1e-38,1e-38]'::vec <#> '[1e-38,1e-38]') / 1e-76 AS neg_ip_2;
-- non-zero vectors whose float32 norms underflow to 0 (1e-30 squared is
-- 1e-60): a direction all the same, never NaN
SELECT cosine_distance('[1e-30]'::vec, '[1e-30]') AS same, '[1e-30]'::vec <=> '[-1e-30]' AS opposite,
       '[1e-30,0]'::vec <=> '[0,1e-30]' AS orthogonal, '[1e-30]'::vec <=> '[5]' AS tiny_and_normal,
       vec_norm('[1e-30]') / 1e-30 AS norm_1;
CREATE TEMP TABLE tiny_rows AS SELECT 1 AS id, '[1e-30,0]'::vec AS v UNION ALL SELECT 2, '[-1e-30,1e-31]';
SELECT query_no, rank, distance FROM vec_knn_exact('tiny_rows', 'v', ARRAY['[1e-30,1e-30]']::vec[], 2, 'cosine')
ORDER BY query_no, rank;
DROP TABLE tiny_rows;
CREATE FUNCTION ext_ref(op text, a vec, b vec) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT CASE op
		WHEN '<->' THEN sqrt(sum((x::float8 - y::float8) * (x::float8 - y::float8)))
		WHEN '<#>' THEN -sum(x::float8 * y::float8)
		WHEN '<=>' THEN 1 - sum(x::float8 * y::float8) /
			sqrt(sum(x::float8 * x::float8) * sum(y::float8 * y::float8))
		WHEN '<+>' THEN sum(abs(x::float8 - y::float8))
	END
	FROM unnest(a::real[], b::real[]) u(x, y)
$$;
-- how far a float computation may be from ext_ref: relative to the sum of
-- the terms' magnitudes (inner products cancel), absolute for cosine
CREATE FUNCTION ext_tol(op text, a vec, b vec) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT 1e-5 * CASE op
		WHEN '<#>' THEN sum(abs(x::float8 * y::float8))
		WHEN '<=>' THEN 1
		ELSE ext_ref(op, a, b)
	END
	FROM unnest(a::real[], b::real[]) u(x, y)
$$;
-- per scale, 150 rows and 3 queries of 32 components of either sign, with
-- magnitudes in [0.5, 1.5] times the scale
SELECT setseed(0.5);
CREATE TABLE ext_rows (scale float8, id int, v vec(32));
INSERT INTO ext_rows
	SELECT s, i, (SELECT array_agg((s * (0.5 + random() + 0 * j) * (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END))::real)
				  FROM generate_series(1, 32) j WHERE i > 0)::vec
	FROM unnest(ARRAY[1e19, 1e20, 1e38, 1e-38]::float8[]) s, generate_series(1, 153) i;
CREATE TABLE ext_queries AS SELECT scale, id - 150 AS qn, v AS q FROM ext_rows WHERE id > 150;
DELETE FROM ext_rows WHERE id > 150;
-- the operators and the distance functions, on every level
CREATE FUNCTION ext_values_wrong() RETURNS TABLE (level text, fn text, wrong bigint)
LANGUAGE plpgsql AS $$
DECLARE
	lvl text;
BEGIN
	FOREACH lvl IN ARRAY ARRAY['scalar', 'avx2', 'avx512', 'neon'] LOOP
		BEGIN
			PERFORM set_config('machinesoup.simd', lvl, true);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;
		END;
		RETURN QUERY
			SELECT CASE WHEN lvl = 'scalar' THEN lvl ELSE 'simd' END, o.fn,
				count(*) FILTER (WHERE NOT abs(o.val - ext_ref(o.op, r.v, q.q)) <= ext_tol(o.op, r.v, q.q))
			FROM ext_rows r JOIN ext_queries q USING (scale),
				LATERAL (VALUES ('<->', '<->', r.v <-> q.q), ('<#>', '<#>', r.v <#> q.q),
						 ('<=>', '<=>', r.v <=> q.q), ('<+>', '<+>', r.v <+> q.q),
						 ('l2_distance', '<->', l2_distance(r.v, q.q)),
						 ('inner_product', '<#>', -inner_product(r.v, q.q)),
						 ('cosine_distance', '<=>', cosine_distance(r.v, q.q)),
						 ('l1_distance', '<+>', l1_distance(r.v, q.q)),
						 ('vec_l2_squared_distance', '<->', sqrt(vec_l2_squared_distance(r.v, q.q)))) o(fn, op, val)
			GROUP BY o.fn;
	END LOOP;
END $$;
-- one row per level kind: simd covers every SIMD level there is
SELECT level, fn, sum(wrong) AS wrong FROM ext_values_wrong() GROUP BY 1, 2 ORDER BY 1, 2;
-- ordered scans against the float8 order, per scale and query: the plan
-- must use the index and return every row in the float8 order; am
-- 'knn_exact' checks vec_knn_exact's ranks and distances instead
CREATE FUNCTION ext_order(am text, opclass text, op text)
RETURNS TABLE (scale float8, plan_ok bool, order_ok bool)
LANGUAGE plpgsql AS $$
DECLARE
	s float8;
	line text;
	uses bool;
	ok bool;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	PERFORM set_config('machinesoup.probes', '4', true);
	FOREACH s IN ARRAY ARRAY[1e19, 1e20, 1e38, 1e-38]::float8[] LOOP
		CREATE TEMP TABLE ext_one AS SELECT id, v FROM ext_rows r WHERE r.scale = s;
		IF am = 'knn_exact' THEN
			uses := true;
			EXECUTE format($q$
				SELECT bool_and(array(SELECT r.id FROM vec_knn_exact('ext_one', 'v', ARRAY[q.q], 150, %1$L) e
									  JOIN ext_one r ON r.ctid = e.row_tid ORDER BY e.rank)
								= array(SELECT id FROM ext_one ORDER BY ext_ref(%2$L, v, q.q), id)
								AND (SELECT bool_and(abs(e.distance - ext_ref(%2$L, r.v, q.q)) <= ext_tol(%2$L, r.v, q.q))
									 FROM vec_knn_exact('ext_one', 'v', ARRAY[q.q], 150, %1$L) e
									 JOIN ext_one r ON r.ctid = e.row_tid))
				FROM ext_queries q WHERE q.scale = %3$s$q$, opclass, op, s) INTO ok;
		ELSE
			EXECUTE format('CREATE INDEX ext_one_idx ON ext_one USING %s (v %s)%s', am, opclass,
						   CASE WHEN am = 'msivf' THEN ' WITH (lists = 4)' ELSE '' END);
			uses := false;
			FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT id FROM ext_one ORDER BY v %s %L::vec',
									   op, (SELECT q FROM ext_queries x WHERE x.scale = s AND qn = 1)) LOOP
				uses := uses OR line LIKE '%Index Scan using ext_one_idx%';
			END LOOP;
			EXECUTE format($q$
				SELECT bool_and(array(SELECT id FROM ext_one ORDER BY v %1$s q.q)
								= array(SELECT id FROM ext_one ORDER BY ext_ref(%1$L, v, q.q), id))
				FROM ext_queries q WHERE q.scale = %2$s$q$, op, s) INTO ok;
		END IF;
		scale := s;
		plan_ok := uses;
		order_ok := ok;
		RETURN NEXT;
		DROP TABLE ext_one;
	END LOOP;
END $$;
SELECT 'msivf l2' AS scan, * FROM ext_order('msivf', 'vec_l2_ops', '<->')
UNION ALL SELECT 'msivf ip', * FROM ext_order('msivf', 'vec_ip_ops', '<#>')
UNION ALL SELECT 'msivf cosine', * FROM ext_order('msivf', 'vec_cosine_ops', '<=>')
UNION ALL SELECT 'msivf l1', * FROM ext_order('msivf', 'vec_l1_ops', '<+>')
UNION ALL SELECT 'gist l2', * FROM ext_order('gist', 'vec_gist_ops', '<->')
UNION ALL SELECT 'gist l1', * FROM ext_order('gist', 'vec_gist_ops', '<+>')
UNION ALL SELECT 'spgist l2', * FROM ext_order('spgist', 'vec_spgist_ops', '<->')
UNION ALL SELECT 'spgist l1', * FROM ext_order('spgist', 'vec_spgist_ops', '<+>')
UNION ALL SELECT 'knn_exact l2', * FROM ext_order('knn_exact', 'l2', '<->')
UNION ALL SELECT 'knn_exact ip', * FROM ext_order('knn_exact', 'ip', '<#>')
UNION ALL SELECT 'knn_exact cosine', * FROM ext_order('knn_exact', 'cosine', '<=>')
UNION ALL SELECT 'knn_exact l1', * FROM ext_order('knn_exact', 'l1', '<+>');
DROP FUNCTION ext_order(text, text, text), ext_values_wrong(), ext_ref(text, vec, vec),
	ext_tol(text, vec, vec);
DROP TABLE ext_rows, ext_queries;
