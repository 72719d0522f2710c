-- bvec_knn_exact, vec_knn_exact for a bvec column: exactly the rows and
-- distances of ORDER BY col <~> q (or <%>), ties broken by TID
SELECT setseed(0.5);
CREATE TABLE bvec_knn_t (id int, b bvec(200));
INSERT INTO bvec_knn_t
SELECT r, (SELECT string_agg(CASE WHEN random() < 0.3 THEN '1' ELSE '0' END, '')
			 FROM generate_series(1, 200) WHERE r > 0)::bvec(200)
  FROM generate_series(1, 3000) r;
-- duplicates, an all-zero row and NULLs: ties and the Jaccard 0/0 case
INSERT INTO bvec_knn_t SELECT 3000 + id, b FROM bvec_knn_t WHERE id <= 50;
INSERT INTO bvec_knn_t VALUES (9000, repeat('0', 200)::bvec), (9001, NULL), (9002, NULL);
CREATE TABLE bvec_knn_q AS
SELECT row_number() OVER (ORDER BY id) AS qn, b AS q FROM bvec_knn_t WHERE id IN (7, 42, 9000, 1234);

CREATE FUNCTION pg_temp.disagreements(metric text, op text, k int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			(SELECT query_no, rank, row_tid, distance
			   FROM bvec_knn_exact('bvec_knn_t', 'b', (SELECT array_agg(q ORDER BY qn) FROM bvec_knn_q), %1$s, %2$L)
			 EXCEPT ALL
			 SELECT qn::int, rank::int, ctid, d FROM (
				SELECT qn, t.ctid, t.b %3$s q AS d,
					   row_number() OVER (PARTITION BY qn ORDER BY t.b %3$s q, t.ctid) AS rank
				  FROM bvec_knn_q, bvec_knn_t t WHERE t.b IS NOT NULL) x WHERE rank <= %1$s)
			UNION ALL
			(SELECT qn::int, rank::int, ctid, d FROM (
				SELECT qn, t.ctid, t.b %3$s q AS d,
					   row_number() OVER (PARTITION BY qn ORDER BY t.b %3$s q, t.ctid) AS rank
				  FROM bvec_knn_q, bvec_knn_t t WHERE t.b IS NOT NULL) x WHERE rank <= %1$s
			 EXCEPT ALL
			 SELECT query_no, rank, row_tid, distance
			   FROM bvec_knn_exact('bvec_knn_t', 'b', (SELECT array_agg(q ORDER BY qn) FROM bvec_knn_q), %1$s, %2$L))) d
	$q$, k, metric, op) INTO n;
	RETURN n;
END $$;
SELECT pg_temp.disagreements('hamming', '<~>', 10) AS hamming_10,
	   pg_temp.disagreements('jaccard', '<%>', 10) AS jaccard_10,
	   pg_temp.disagreements('hamming', '<~>', 1) AS hamming_1,
	   pg_temp.disagreements('jaccard', '<%>', 60) AS jaccard_60;
-- the default metric is hamming; k beyond the row count gives every row
SELECT count(*), min(distance) FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[(SELECT q FROM bvec_knn_q WHERE qn = 1)], 5);
SELECT count(*) FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[(SELECT q FROM bvec_knn_q WHERE qn = 1)], 100000);
-- a duplicated row's twin comes second, at distance 0
SELECT rank, distance FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[(SELECT q FROM bvec_knn_q WHERE qn = 1)], 2);

-- errors
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY['101'::bvec], 1);
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[repeat('1', 200)::bvec, '1'::bvec], 1);
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[repeat('1', 200)::bvec], 1, 'l2');
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[repeat('1', 200)::bvec], 0);
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[NULL::bvec], 1);
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', '{}'::bvec[], 1);
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'id', ARRAY[repeat('1', 200)::bvec], 1);
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'ctid', ARRAY[repeat('1', 200)::bvec], 1);
CREATE TABLE bvec_knn_mixed (b bvec);
INSERT INTO bvec_knn_mixed VALUES ('101'), ('1010');
SELECT * FROM bvec_knn_exact('bvec_knn_mixed', 'b', ARRAY['101'::bvec], 2);
-- a vec column with bvec queries, and the reverse
CREATE TABLE bvec_knn_v (v vec(3));
SELECT * FROM bvec_knn_exact('bvec_knn_v', 'v', ARRAY['101'::bvec], 1);
SELECT * FROM vec_knn_exact('bvec_knn_t', 'b', ARRAY['[1,2,3]'::vec], 1);
-- privileges: SELECT on the table or the column, as vec_knn_exact
CREATE ROLE bvec_knn_nobody;
SET ROLE bvec_knn_nobody;
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[repeat('1', 200)::bvec], 1);
RESET ROLE;
GRANT SELECT (b) ON bvec_knn_t TO bvec_knn_nobody;
SET ROLE bvec_knn_nobody;
SELECT count(*) FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[repeat('1', 200)::bvec], 1);
RESET ROLE;
-- row-level security is refused
ALTER TABLE bvec_knn_t ENABLE ROW LEVEL SECURITY;
SET ROLE bvec_knn_nobody;
SELECT * FROM bvec_knn_exact('bvec_knn_t', 'b', ARRAY[repeat('1', 200)::bvec], 1);
RESET ROLE;

DROP TABLE bvec_knn_t, bvec_knn_q, bvec_knn_mixed, bvec_knn_v;
DROP ROLE bvec_knn_nobody;
