-- svec functions, distances (against the same on the vec cast), order,
-- equality, hashing, and ORDER BY a distance
SET extra_float_digits = 0;

-- functions
SELECT svec_dims('{1:3}/30000'::svec), svec_nnz('{1:3,9:4}/30000'), svec_norm('{1:3,9:4}/30000'::svec),
       svec_norm('{}/5');
SELECT l2_normalize('{1:3,9:4}/9'::svec), l2_normalize('{}/3'::svec), l2_normalize('{2:-2}/2'::svec);
-- a value negligible against the norm rounds to 0 and is dropped
SELECT l2_normalize('{1:1e30,2:1e-30}/2'::svec);

-- distances
SELECT l2_distance('{}/2'::svec, '{1:3,2:4}/2'), '{}/2'::svec <-> '{1:3,2:4}/2';
SELECT inner_product('{1:1,2:2,3:3}/3'::svec, '{1:4,2:5,3:6}/3'), '{1:1,2:2,3:3}/3'::svec <#> '{1:4,2:5,3:6}/3';
SELECT '{1:1}/3'::svec <#> '{2:1}/3' AS orthogonal_is_zero;
SELECT cosine_distance('{1:1}/2'::svec, '{2:1}/2'), '{1:1}/2'::svec <=> '{1:1}/2', '{1:1}/2'::svec <=> '{1:-1}/2',
       '{1:1,2:2}/2'::svec <=> '{1:2,2:4}/2';
SELECT cosine_distance('{}/2'::svec, '{1:1,2:1}/2');   -- undefined for a zero vector: NaN
SELECT l1_distance('{1:1,2:2,3:3}/3'::svec, '{1:-1,3:5}/3'), '{1:1,2:2,3:3}/3'::svec <+> '{1:-1,3:5}/3';
SELECT svec_l2_squared_distance('{}/2'::svec, '{1:3,2:4}/2'), svec_negative_inner_product('{1:2}/9'::svec, '{1:3}/9');
-- large values: no overflow in the sums
SELECT svec_norm('{1:3e38,2:3e38}/2'::svec), '{1:3e38,2:3e38}/2'::svec <#> '{1:3e38,2:-3e38}/2',
       '{1:3e38}/1'::svec <-> '{1:-3e38}/1', '{1:3e38,2:3e38}/2'::svec <+> '{1:-3e38,2:-3e38}/2';
-- far apart indices of a billion dimensions
SELECT '{1:1,1000000000:2}/1000000000'::svec <#> '{1000000000:3}/1000000000',
       '{1:1,1000000000:2}/1000000000'::svec <-> '{1000000000:3}/1000000000';

-- dimension mismatches in every distance
\set VERBOSITY sqlstate
SELECT '{1:1}/2'::svec <-> '{1:1}/3';
\set VERBOSITY default
SELECT '{1:1}/2'::svec <-> '{1:1}/3';
SELECT '{1:1}/2'::svec <#> '{1:1}/3';
SELECT '{1:1}/2'::svec <=> '{1:1}/3';
SELECT '{1:1}/2'::svec <+> '{1:1}/3';
SELECT l2_distance('{1:1}/2'::svec, '{1:1}/3');
SELECT inner_product('{1:1}/2'::svec, '{1:1}/3');
SELECT cosine_distance('{1:1}/2'::svec, '{1:1}/3');
SELECT l1_distance('{1:1}/2'::svec, '{1:1}/3');
SELECT svec_l2_squared_distance('{1:1}/2'::svec, '{1:1}/3');
SELECT svec_negative_inner_product('{1:1}/2'::svec, '{1:1}/3');
-- svec and vec do not mix without a cast
SELECT '{1:1}/2'::svec <-> '[1,0]'::vec;

-- random sparse vectors of 200 dimensions, densities from 0 to 1: every
-- distance agrees with the same on their vec casts
SELECT setseed(0.42);
CREATE TABLE svec_ops_r AS
SELECT id, v::svec AS s, v
  FROM (SELECT id, array_agg(CASE WHEN random() < (id % 11) / 10.0
                                  THEN round((random() * 20 - 10)::numeric, 2) ELSE 0 END ORDER BY d)::vec AS v
          FROM generate_series(1, 60) id, generate_series(1, 200) d GROUP BY id) g;
SELECT count(*), min(svec_nnz(s)), max(svec_nnz(s)), sum((s::vec = v)::int) AS casts_back FROM svec_ops_r;
SELECT count(*) AS pairs,
       sum((abs((a.s <-> b.s) - (a.v <-> b.v)) <= 1e-5 * (1 + (a.v <-> b.v)))::int) AS l2_ok,
       sum((abs((a.s <#> b.s) - (a.v <#> b.v)) <= 1e-5 * (1 + vec_norm(a.v) * vec_norm(b.v)))::int) AS ip_ok,
       sum((abs((a.s <+> b.s) - (a.v <+> b.v)) <= 1e-5 * (1 + (a.v <+> b.v)))::int) AS l1_ok,
       sum((abs(svec_l2_squared_distance(a.s, b.s) - vec_l2_squared_distance(a.v, b.v))
            <= 1e-5 * (1 + vec_l2_squared_distance(a.v, b.v)))::int) AS l2sq_ok,
       sum((abs(svec_norm(a.s) - vec_norm(a.v)) <= 1e-5 * (1 + vec_norm(a.v)))::int) AS norm_ok,
       sum(CASE WHEN vec_norm(a.v) = 0 OR vec_norm(b.v) = 0
                THEN ((a.s <=> b.s) = 'NaN' AND (a.v <=> b.v) = 'NaN')::int
                ELSE (abs((a.s <=> b.s) - (a.v <=> b.v)) <= 1e-5)::int END) AS cos_ok,
       sum((l2_normalize(a.s)::vec <-> l2_normalize(a.v) <= 1e-6)::int) AS normalize_ok
  FROM svec_ops_r a, svec_ops_r b;

-- the order is the dense lexicographic order of vec, then dimensions
SELECT count(*) AS pairs,
       sum(((a.s < b.s) = (a.v < b.v) AND (a.s <= b.s) = (a.v <= b.v) AND (a.s = b.s) = (a.v = b.v)
            AND (a.s <> b.s) = (a.v <> b.v) AND (a.s >= b.s) = (a.v >= b.v)
            AND (a.s > b.s) = (a.v > b.v))::int) AS consistent
  FROM svec_ops_r a, svec_ops_r b;
SELECT array_agg(id ORDER BY s, id) = array_agg(id ORDER BY v, id) AS same_order FROM svec_ops_r;
SELECT '{1:-1}/3'::svec < '{}/3', '{}/3'::svec < '{3:1}/3', '{2:1}/3'::svec < '{1:1}/3',
       '{}/2'::svec < '{}/3', '{1:1}/2'::svec > '{}/3', '{3:5}/3'::svec < '{1:1}/2',
       '{1:1,2:0}/3'::svec = '{1:1}/3', '{}/2'::svec = '{}/3';
-- a btree index serves equality and order
CREATE INDEX svec_ops_r_btree ON svec_ops_r (s);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM svec_ops_r WHERE s = '{1:1}/200';
SELECT count(*) FROM svec_ops_r a WHERE (SELECT count(*) FROM svec_ops_r b WHERE b.s = a.s) < 1;
EXPLAIN (COSTS OFF) SELECT id FROM svec_ops_r ORDER BY s;
-- (rows of equal svecs may come in any order: compare the values)
SELECT array_agg(v ORDER BY n) = array_agg(v ORDER BY v) AS index_order
  FROM (SELECT v, row_number() OVER () AS n FROM (SELECT v FROM svec_ops_r ORDER BY s) o) x;
RESET enable_seqscan;
-- hashing: equal svecs hash alike (GROUP BY, DISTINCT, hash joins, hash index)
INSERT INTO svec_ops_r SELECT id + 1000, s, v FROM svec_ops_r WHERE id <= 5;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT s FROM svec_ops_r GROUP BY s;
SELECT count(*) AS groups FROM (SELECT s FROM svec_ops_r GROUP BY s) g;
SELECT count(DISTINCT s) FROM svec_ops_r;
RESET enable_sort;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM svec_ops_r a JOIN svec_ops_r b ON a.s = b.s;
SELECT count(*) AS joined FROM svec_ops_r a JOIN svec_ops_r b ON a.s = b.s;
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT svec_hash('{1:1,5:2}/9') = svec_hash('{5:2,1:1,3:0}/9') AS same_hash,
       svec_hash_extended('{1:1}/9', 7) = svec_hash_extended('{1:1}/9', 7) AS same_seeded;
CREATE INDEX svec_ops_r_hash ON svec_ops_r USING hash (s);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
DROP INDEX svec_ops_r_btree;
EXPLAIN (COSTS OFF) SELECT id FROM svec_ops_r WHERE s = '{1:1}/200';
SELECT count(*) FROM svec_ops_r a WHERE (SELECT count(*) FROM svec_ops_r b WHERE b.s = a.s) < 1;
RESET enable_seqscan;
RESET enable_bitmapscan;
DELETE FROM svec_ops_r WHERE id > 1000;

-- ORDER BY a distance LIMIT k: a sequential scan and a top-N sort, the
-- same rows as on the vec casts
EXPLAIN (COSTS OFF) SELECT id FROM svec_ops_r ORDER BY s <#> (SELECT s FROM svec_ops_r WHERE id = 7) LIMIT 5;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM svec_ops_r ORDER BY s <-> q.s, id LIMIT 10) x)
     = (SELECT array_agg(id) FROM (SELECT id FROM svec_ops_r ORDER BY v <-> q.v, id LIMIT 10) x) AS l2_same,
       (SELECT array_agg(id) FROM (SELECT id FROM svec_ops_r ORDER BY s <+> q.s, id LIMIT 10) x)
     = (SELECT array_agg(id) FROM (SELECT id FROM svec_ops_r ORDER BY v <+> q.v, id LIMIT 10) x) AS l1_same
  FROM svec_ops_r q WHERE q.id = 7;
SELECT id, round((s <#> (SELECT s FROM svec_ops_r WHERE id = 7))::numeric, 2) AS d
  FROM svec_ops_r ORDER BY s <#> (SELECT s FROM svec_ops_r WHERE id = 7), id LIMIT 5;

DROP TABLE svec_ops_r;

-- svec_knn_exact over an svec column: the same rows, in the same order, as
-- ORDER BY the operator LIMIT k (ties by ctid), for every metric
SELECT setseed(0.7);
CREATE TABLE svec_knn_t AS
SELECT id, v::svec AS s, v
  FROM (SELECT id, array_agg(CASE WHEN random() < 0.1 THEN round((random() * 4 - 2)::numeric, 1) ELSE 0 END
                             ORDER BY d)::vec AS v
          FROM generate_series(1, 300) id, generate_series(1, 40) d GROUP BY id) g;
INSERT INTO svec_knn_t VALUES (301, NULL, NULL);
CREATE TABLE svec_knn_q AS SELECT row_number() OVER (ORDER BY id) AS qn, s AS q FROM svec_knn_t WHERE id IN (3, 50, 77);
INSERT INTO svec_knn_q VALUES (4, '{}/40');
CREATE FUNCTION pg_temp.knn_mismatches(metric text, op text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			(SELECT query_no, rank, row_tid FROM svec_knn_exact('svec_knn_t', 's',
				(SELECT array_agg(q ORDER BY qn) FROM svec_knn_q), 7, %1$L)
			 EXCEPT
			 SELECT qn::int, r::int, x.tid FROM svec_knn_q,
				LATERAL (SELECT ctid AS tid, row_number() OVER (ORDER BY s %2$s q, ctid) AS r
						   FROM svec_knn_t WHERE s IS NOT NULL ORDER BY s %2$s q, ctid LIMIT 7) x)
			UNION ALL
			(SELECT qn::int, r::int, x.tid FROM svec_knn_q,
				LATERAL (SELECT ctid AS tid, row_number() OVER (ORDER BY s %2$s q, ctid) AS r
						   FROM svec_knn_t WHERE s IS NOT NULL ORDER BY s %2$s q, ctid LIMIT 7) x
			 EXCEPT
			 SELECT query_no, rank, row_tid FROM svec_knn_exact('svec_knn_t', 's',
				(SELECT array_agg(q ORDER BY qn) FROM svec_knn_q), 7, %1$L))) d$q$, metric, op) INTO n;
	RETURN n;
END $$;
SELECT pg_temp.knn_mismatches('l2', '<->') AS l2, pg_temp.knn_mismatches('ip', '<#>') AS ip,
       pg_temp.knn_mismatches('cosine', '<=>') AS cosine, pg_temp.knn_mismatches('l1', '<+>') AS l1;
-- the check can fail: the l2 answer against the order of <#>
SELECT pg_temp.knn_mismatches('l2', '<#>') > 0 AS control_differs;
-- the distances are the operators'
SELECT count(*) AS rows, sum((e.distance = (t.s <#> q.q))::int) AS same_distance
  FROM svec_knn_exact('svec_knn_t', 's', (SELECT array_agg(q ORDER BY qn) FROM svec_knn_q), 5, 'ip') e
  JOIN svec_knn_t t ON t.ctid = e.row_tid JOIN svec_knn_q q ON q.qn = e.query_no;
-- k beyond the rows: every non-null row, once
SELECT query_no, count(*) FROM svec_knn_exact('svec_knn_t', 's', ARRAY['{1:1}/40'::svec], 1000) GROUP BY 1;
-- refusals
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY['{1:1}/41'::svec], 3);
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY['{1:1}/40'::svec, '{1:1}/41'::svec], 3);
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY[]::svec[], 3);
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY[NULL]::svec[], 3);
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY['{1:1}/40'::svec], 0);
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY['{1:1}/40'::svec], 3, 'hamming');
SELECT * FROM svec_knn_exact('svec_knn_t', 'v', ARRAY['{1:1}/40'::svec], 3);
SELECT * FROM vec_knn_exact('svec_knn_t', 's', ARRAY['[1]'::vec], 3);
CREATE TABLE svec_knn_typmod (s svec(40));
SELECT * FROM svec_knn_exact('svec_knn_typmod', 's', ARRAY['{1:1}/41'::svec], 3);
-- the caller needs SELECT on the table or the column
CREATE ROLE svec_knn_nobody;
SET ROLE svec_knn_nobody;
SELECT * FROM svec_knn_exact('svec_knn_t', 's', ARRAY['{1:1}/40'::svec], 3);
RESET ROLE;
DROP ROLE svec_knn_nobody;
DROP TABLE svec_knn_t, svec_knn_q, svec_knn_typmod;
