-- hvec operators, functions, aggregates, btree/hash, kNN and msivf,
-- checked against vec on the same (converted) values
SET extra_float_digits = 0;
CREATE TABLE hvec_t AS
SELECT i AS id,
	   ARRAY[sin(i), cos(i * 0.7) * 3, (i % 7) - 3.25, sin(i * 1.3) * 100]::float8[]::hvec AS h
  FROM generate_series(1, 200) i;
INSERT INTO hvec_t VALUES (201, NULL);
-- distances equal vec's on the converted values, exactly
SELECT count(*) FILTER (WHERE (h <-> q) <> (h::vec <-> q::vec)) AS l2,
	   count(*) FILTER (WHERE (h <#> q) <> (h::vec <#> q::vec)) AS ip,
	   count(*) FILTER (WHERE (h <=> q) <> (h::vec <=> q::vec)) AS cos,
	   count(*) FILTER (WHERE (h <+> q) <> (h::vec <+> q::vec)) AS l1,
	   count(*) FILTER (WHERE vec_norm(h) <> vec_norm(h::vec)) AS norm,
	   count(*) FILTER (WHERE inner_product(h, q) <> inner_product(h::vec, q::vec)) AS ipf,
	   count(*) FILTER (WHERE vec_l2_squared_distance(h, q) <> vec_l2_squared_distance(h::vec, q::vec)) AS l2sq,
	   count(*) FILTER (WHERE (h + q)::vec <> (h::vec + q::vec)::hvec::vec) AS plus,
	   count(*) FILTER (WHERE (h - q)::vec <> (h::vec - q::vec)::hvec::vec) AS minus,
	   count(*) FILTER (WHERE (h * q)::vec <> (h::vec * q::vec)::hvec::vec) AS times
  FROM hvec_t, (SELECT '[0.5,-1,2,30]'::hvec AS q) c WHERE h IS NOT NULL;
SELECT pg_typeof('[1,2]'::hvec <-> '[3,4]'), '[1,2]'::hvec <-> '[4,6]', '[1,2]'::hvec <#> '[3,4]',
	   '[1,0]'::hvec <=> '[0,1]', '[1,2]'::hvec <+> '[3,5]';
SELECT vec_dims('[1,2,3]'::hvec), vec_norm('[3,4]'::hvec), l2_normalize('[3,4]'::hvec),
	   l2_normalize('[0,0]'::hvec), subvec('[1,2,3,4]'::hvec, 2, 2), '[1,2]'::hvec || '[3]';
SELECT '[1,2]'::hvec + '[0.5,1]', '[1,2]'::hvec - '[0.5,1]', '[1,2]'::hvec * '[0.5,3]',
	   '[1]'::hvec * '[0.0001]', cosine_distance('[0,0]'::hvec, '[1,1]');
\set VERBOSITY sqlstate
SELECT '[1,2]'::hvec <-> '[1,2,3]';
SELECT '[60000]'::hvec + '[60000]';
SELECT '[-60000]'::hvec - '[60000]';
SELECT '[300]'::hvec * '[300]';
SELECT subvec('[1,2]'::hvec, 5, 1);
SELECT (('[' || repeat('1,', 9999) || '1]')::hvec) || (('[' || repeat('1,', 9999) || '1]')::hvec);
\set VERBOSITY default
-- aggregates: double precision sums, rounded once
SELECT sum(h) = (SELECT sum(h::vec)::hvec FROM hvec_t) AS sum_as_vec,
	   avg(h) = (SELECT avg(h::vec)::hvec FROM hvec_t) AS avg_as_vec FROM hvec_t;
SELECT sum(h), avg(h) FROM (VALUES ('[1,2]'::hvec), ('[3,4.5]'), (NULL)) t(h);
SELECT sum(h), avg(h) FROM hvec_t WHERE false;
SELECT sum(h) FROM (VALUES ('[60000]'::hvec), ('[60000]')) t(h);
SELECT avg(h) FROM (VALUES ('[60000]'::hvec), ('[60000]')) t(h);
SELECT sum(h) FROM (VALUES ('[1,2]'::hvec), ('[1]')) t(h);
-- btree and hash: order, equality of -0 and 0, DISTINCT, GROUP BY, indexes
SELECT '[1,2]'::hvec < '[1,3]', '[1,2]'::hvec < '[1,2,0]', '[-0]'::hvec = '[0]',
	   '[2]'::hvec > '[-65504]', '[-1]'::hvec < '[-0.5]', hvec_cmp('[1]', '[1]');
SELECT hvec_hash('[-0,1]') = hvec_hash('[0,1]') AS hash_zero,
	   hvec_hash_extended('[-0]', 7) = hvec_hash_extended('[0]', 7) AS hash_ext_zero;
SELECT array_agg(h ORDER BY h) FROM (VALUES ('[1,2]'::hvec), ('[-1]'), ('[1]'), ('[-0.5,9]'), ('[1,2]')) t(h);
SELECT count(DISTINCT h) FROM (VALUES ('[0]'::hvec), ('[-0]'), ('[1]')) t(h);
SET enable_sort = off;
SELECT h, count(*) FROM (VALUES ('[0]'::hvec), ('[-0]'), ('[1]')) t(h) GROUP BY h ORDER BY 2;
RESET enable_sort;
CREATE INDEX hvec_t_btree ON hvec_t (h);
CREATE INDEX hvec_t_hash ON hvec_t USING hash (h);
SET enable_seqscan = off;
SELECT id FROM hvec_t WHERE h = (SELECT h FROM hvec_t WHERE id = 17);
SELECT count(*) FROM hvec_t WHERE h < (SELECT h FROM hvec_t WHERE id = 17);
RESET enable_seqscan;
SELECT count(*) FROM hvec_t a WHERE h < (SELECT h FROM hvec_t WHERE id = 17);
-- vec_knn_exact on an hvec column (vec queries): the distances of ORDER BY
SELECT count(*) AS mismatches FROM (
	SELECT k.query_no, k.rank, k.distance,
		   (SELECT h <-> '[0.5,-1,2,30]'::hvec FROM hvec_t WHERE ctid = k.row_tid) AS d,
		   (SELECT h <-> '[0.5,-1,2,30]'::hvec FROM hvec_t WHERE h IS NOT NULL
			 ORDER BY 1 OFFSET k.rank - 1 LIMIT 1) AS kth
	  FROM vec_knn_exact('hvec_t', 'h', ARRAY['[0.5,-1,2,30]']::vec[], 10) k) s
 WHERE abs(d - distance) > 1e-6 * (1 + d) OR abs(kth - distance) > 1e-6 * (1 + kth);
SELECT count(*) FROM vec_knn_exact('hvec_t', 'h', ARRAY['[0.5,-1,2,30]'::hvec::vec], 5, 'cosine');
DROP TABLE hvec_t;
