-- bvec distances against a reference computed with PostgreSQL's own bit
-- operators, binary_quantize, btree and hash support

SELECT '1010'::bvec <~> '0110'::bvec AS hamming, hamming_distance('1111', '0000');
SELECT '1100'::bvec <%> '1010'::bvec AS jaccard, jaccard_distance('1111', '1111');
-- two all-zero bvecs are the same empty set: Jaccard distance 0
SELECT '0000'::bvec <%> '0000'::bvec AS both_zero, '0000'::bvec <%> '0100'::bvec AS one_zero;
SELECT pg_typeof('1'::bvec <~> '1'::bvec), pg_typeof('1'::bvec <%> '1'::bvec);

-- different lengths: 22000
\set VERBOSITY sqlstate
SELECT '101'::bvec <~> '1010'::bvec;
\set VERBOSITY default
SELECT '101'::bvec <~> '1010'::bvec;
SELECT '101'::bvec <%> '1010'::bvec;
SELECT hamming_distance('1', repeat('1', 9)::bvec);

SELECT setseed(0.25);
-- Random pairs of many lengths (odd tails, exactly one word, one past it,
-- the 64000 maximum) against bit_count on bit varying; under every SIMD
-- level this CPU has, so each kernel is compared with PostgreSQL.
CREATE TABLE bvec_ops_pairs AS
SELECT n, string_agg(CASE WHEN random() < p THEN '1' ELSE '0' END, '' ORDER BY i) AS a,
		  string_agg(CASE WHEN random() < p THEN '1' ELSE '0' END, '' ORDER BY i) AS b
  FROM (SELECT n, r, (r % 5) / 4.0 AS p
		  FROM unnest(ARRAY[1, 2, 7, 8, 9, 31, 63, 64, 65, 127, 128, 129, 255, 256, 257,
							511, 512, 513, 1000, 1023, 1024, 1031, 2048, 4099, 64000]) n,
			   generate_series(1, 12) r) s,
	   generate_series(1, n) i
 GROUP BY n, r, p;
SELECT count(*) AS pairs, count(DISTINCT n) AS lengths FROM bvec_ops_pairs;

CREATE FUNCTION pg_temp.mismatches() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FILTER (WHERE
		(a::bvec <~> b::bvec) IS DISTINCT FROM bit_count(a::varbit # b::varbit)::float8
		OR (a::bvec <%> b::bvec) IS DISTINCT FROM
			CASE WHEN bit_count(a::varbit | b::varbit) = 0 THEN 0.0
				 ELSE 1.0 - bit_count(a::varbit & b::varbit)::float8
							/ bit_count(a::varbit | b::varbit)::float8 END
		OR bit_count(a::bvec) <> bit_count(a::varbit))
	  FROM bvec_ops_pairs
$$;
CREATE TEMP TABLE bvec_ops_levels (level text, mismatches bigint);
DO $$
DECLARE
	lvl text;
BEGIN
	FOREACH lvl IN ARRAY ARRAY['scalar', 'avx2', 'avx512', 'neon'] LOOP
		BEGIN
			PERFORM set_config('machinesoup.simd', lvl, true);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;
		END;
		INSERT INTO bvec_ops_levels VALUES (lvl, pg_temp.mismatches());
	END LOOP;
END
$$;
RESET machinesoup.simd;
-- scalar always runs; no level disagrees with PostgreSQL
SELECT bool_or(level = 'scalar') AS scalar_ran, sum(mismatches) AS mismatches
  FROM bvec_ops_levels;
SELECT pg_temp.mismatches() AS mismatches_auto;

-- binary_quantize: bit i set when x[i] > 0 (0, -0 and negatives give 0)
SELECT binary_quantize('[1,-1,0,-0,0.5,3,-2,1e-30,1,0,2]');
SELECT binary_quantize('[-1]'), binary_quantize('[0.001]');
CREATE TABLE bvec_ops_q AS
SELECT r, array_agg(random() - 0.5 ORDER BY i)::real[]::vec AS v
  FROM generate_series(1, 50) r, generate_series(1, (r * 37) % 300 + 1) i GROUP BY r;
SELECT count(*) FILTER (WHERE binary_quantize(v)::text =
		(SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '' ORDER BY o)
		   FROM unnest(v::real[]) WITH ORDINALITY u(x, o))) AS ok, count(*)
  FROM bvec_ops_q;
-- the rerank pattern: Hamming on the sign bits picks 100 candidates, the
-- float distance orders them; the query's own row comes first
CREATE TABLE bvec_ops_r AS
SELECT r, array_agg(random() - 0.5 ORDER BY i)::real[]::vec(16) AS v
  FROM generate_series(1, 1000) r, generate_series(1, 16) i GROUP BY r;
SELECT array_length(array_agg(r), 1) AS n, (array_agg(r ORDER BY d))[1] AS nearest
  FROM (SELECT r, v <-> (SELECT v FROM bvec_ops_r WHERE r = 17) AS d
		  FROM (SELECT r, v FROM bvec_ops_r
				 ORDER BY binary_quantize(v) <~> binary_quantize((SELECT v FROM bvec_ops_r WHERE r = 17))
				 LIMIT 100) candidates
		 ORDER BY d LIMIT 5) t;

-- comparison: the order of bit varying (first differing bit, then length)
CREATE TABLE bvec_ops_cmp AS
SELECT DISTINCT a AS s FROM bvec_ops_pairs WHERE n <= 65
UNION SELECT unnest(ARRAY['0', '1', '00', '01', '10', '11', '100', '1000', '10000000', '100000000']);
SELECT count(*) FILTER (WHERE (x.s::bvec < y.s::bvec) <> (x.s::varbit < y.s::varbit)
						   OR (x.s::bvec = y.s::bvec) <> (x.s::varbit = y.s::varbit)
						   OR (x.s::bvec >= y.s::bvec) <> (x.s::varbit >= y.s::varbit)
						   OR sign(bvec_cmp(x.s::bvec, y.s::bvec)) <> sign(varbitcmp(x.s::varbit, y.s::varbit)))
	   AS disagreements, count(*) > 1000 AS enough
  FROM bvec_ops_cmp x, bvec_ops_cmp y;
SELECT '1'::bvec < '10'::bvec, '10'::bvec < '11'::bvec, '0111'::bvec < '1'::bvec,
	   '1'::bvec <> '1'::bvec, '101'::bvec = '101'::bvec, '101'::bvec = '1010'::bvec;

-- btree index: used, and answers as a sequential scan
CREATE TABLE bvec_ops_t AS SELECT s::bvec AS b FROM bvec_ops_cmp;
CREATE INDEX bvec_ops_t_b ON bvec_ops_t (b);
ANALYZE bvec_ops_t;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT b FROM bvec_ops_t WHERE b = '1011'::bvec;
SELECT (SELECT count(*) FROM bvec_ops_t WHERE b <= '1011'::bvec) =
	   (SELECT count(*) FROM bvec_ops_t WHERE b::varbit <= B'1011') AS same_count;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT array_agg(b ORDER BY b) FROM bvec_ops_t WHERE bvec_length(b) <= 2;
-- hash index, hash aggregate and hash join
CREATE INDEX bvec_ops_t_h ON bvec_ops_t USING hash (b);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT b FROM bvec_ops_t WHERE b = '100000000'::bvec;
SELECT b FROM bvec_ops_t WHERE b = '100000000'::bvec;
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT b FROM bvec_ops_t UNION SELECT b FROM bvec_ops_t;
SELECT count(*) = (SELECT count(*) FROM bvec_ops_t) AS union_dedups
  FROM (SELECT b FROM bvec_ops_t UNION SELECT b FROM bvec_ops_t) u;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM bvec_ops_t x JOIN bvec_ops_t y USING (b);
SELECT count(*) = (SELECT count(*) FROM bvec_ops_t) AS self_join
  FROM bvec_ops_t x JOIN bvec_ops_t y USING (b);
RESET enable_sort;
RESET enable_mergejoin;
RESET enable_nestloop;
-- equal values hash alike; the hash covers the length
SELECT bvec_hash('1010') = bvec_hash('1010'::bit(4)::bvec) AS same,
	   bvec_hash('1') <> bvec_hash('10') AS length_counts,
	   bvec_hash_extended('1010', 7) = bvec_hash_extended('1010', 7) AS same_ext;

DROP TABLE bvec_ops_pairs, bvec_ops_q, bvec_ops_r, bvec_ops_cmp, bvec_ops_t;

-- binary_quantize(hvec): the same bits as on the values as vec, signed
-- zeros and subnormals included
SELECT binary_quantize('[1,-1,0,-0,0.00000006,-0.00000006,65504]'::hvec);
SELECT count(*) AS vectors,
	   count(*) FILTER (WHERE binary_quantize(h) = binary_quantize(h::vec)) AS same_bits
  FROM (SELECT (SELECT array_agg(CASE WHEN r < 0.1 THEN 0 WHEN r < 0.2 THEN '-0'::float8
									  WHEN r < 0.3 THEN 0.00000006 ELSE r - 0.6 END)
				  FROM (SELECT random() AS r FROM generate_series(1, 1 + i % 77)) x)::hvec AS h
		  FROM generate_series(1, 300) i) s;
