-- msivf over bvec: bvec_hamming_ops (<~>) and bvec_jaccard_ops (<%>), and
-- binary quantization (an expression index on binary_quantize(emb)::bvec(n),
-- reranked by the float distance).  Plans are asserted before answers are
-- compared with a sequential scan's.
SET client_min_messages = warning;
-- own schema: the suites share one database
CREATE SCHEMA bvec_msivf_test;
SET search_path = bvec_msivf_test, public;
\getenv abs_srcdir PG_ABS_SRCDIR
\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan
SET extra_float_digits = 0;
SELECT setseed(0.17);
-- 20 clusters of 64-dimensional vecs, and their sign bits
CREATE TABLE bm (id int, emb vec(64), b bvec(64));
INSERT INTO bm
SELECT i, e, binary_quantize(e)
  FROM generate_series(1, 3000) i,
	   LATERAL (SELECT (SELECT array_agg((sin((i % 20) * 7.1 + d * 1.3) + 0.8 * (random() - 0.5) + 0 * i)::real)
						  FROM generate_series(1, 64) d)::vec AS e) x;
CREATE TABLE bq AS SELECT id, emb, b FROM bm WHERE id % 300 = 7;

CREATE INDEX bm_ham ON bm USING msivf (b bvec_hamming_ops) WITH (lists = 20);
SELECT dims, lists, metric, code_bits, calibration_queries FROM msivf_index_info('bm_ham');
SET machinesoup.probes = 20;
-- the table is small: without this the planner prefers to sort it
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM bm ORDER BY b <~> (SELECT b FROM bq LIMIT 1) LIMIT 10;
-- every list probed: the index's answer is the exact one, in order (ties
-- come back in TID order, which is id order here)
SELECT count(*) AS differing FROM bq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM bm ORDER BY b <~> q.b LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM bm ORDER BY hamming_distance(b, q.b), id LIMIT 10) s) w
 WHERE a.got IS DISTINCT FROM w.want;
-- the whole table, in order, from one query
SELECT (SELECT array_agg(id) FROM (SELECT id FROM bm ORDER BY b <~> q.b) s) =
	   (SELECT array_agg(id) FROM (SELECT id FROM bm ORDER BY hamming_distance(b, q.b), id) s) AS same_order
  FROM (SELECT b FROM bq LIMIT 1) q;
-- the distances the index returns are the operator's
SELECT count(*) AS wrong FROM (SELECT id, b <~> q AS d FROM bm, (SELECT b AS q FROM bq LIMIT 1) c
							   ORDER BY b <~> q LIMIT 50) s
 WHERE d <> (SELECT hamming_distance(m.b, (SELECT b FROM bq LIMIT 1)) FROM bm m WHERE m.id = s.id);
-- strict order is exact at any probe count; relaxed order at 1 probe reads one list
SET machinesoup.probes = 1;
SET machinesoup.scan_order = strict;
SELECT count(*) AS differing FROM bq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM bm ORDER BY b <~> q.b LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM bm ORDER BY hamming_distance(b, q.b), id LIMIT 10) s) w
 WHERE a.got IS DISTINCT FROM w.want;
RESET machinesoup.scan_order;
SELECT count(*) FROM (SELECT id FROM bm ORDER BY b <~> (SELECT b FROM bq LIMIT 1) LIMIT 5) s;
SELECT lists, codes < 3000 AS one_list FROM msivf_last_scan_stats();
-- a scan that keeps asking reaches every list: every row, each once
SELECT count(*) AS n, count(DISTINCT id) AS ids FROM (SELECT id FROM bm ORDER BY b <~> (SELECT b FROM bq LIMIT 1)) s;
-- machinesoup.max_probes caps the lists: fewer rows than the table
SET machinesoup.max_probes = 1;
SELECT count(*) < 3000 AS capped FROM (SELECT id FROM bm ORDER BY b <~> (SELECT b FROM bq LIMIT 1)) s;
RESET machinesoup.max_probes;
SET machinesoup.probes = 20;
-- bvec_index_recall: what the index gives at the session's settings
SELECT bvec_index_recall('bm_ham', ARRAY(SELECT b FROM bq), 10) AS recall_every_list;
SET machinesoup.probes = 1;
SELECT round(bvec_index_recall('bm_ham', ARRAY(SELECT b FROM bq), 10)::numeric, 3) AS recall_one_list;
SELECT round(bvec_index_recall('bm_ham', ARRAY(SELECT b FROM bq), 50)::numeric, 3) AS recall50_one_list;
-- a scan capped at 5 entries returns at most 5 of the 10 rows asked for,
-- the nearest of the first 5 it reads: at most half are right
SET machinesoup.max_scan_tuples = 5;
SELECT bvec_index_recall('bm_ham', ARRAY(SELECT b FROM bq), 10) <= 0.5 AS capped_recall_at_most_half;
RESET machinesoup.max_scan_tuples;
SET machinesoup.probes = 20;
-- a plan without the index is measured, and said to be
SET enable_indexscan = off;
RESET enable_seqscan;
SELECT bvec_index_recall('bm_ham', ARRAY(SELECT b FROM bq), 10) AS recall_seqscan;
RESET enable_indexscan;
SET enable_seqscan = off;
-- refusals: k, a table, a btree, a vec index function, a NULL query
SELECT bvec_index_recall('bm_ham', ARRAY(SELECT b FROM bq), 0);
SELECT bvec_index_recall('bm', ARRAY(SELECT b FROM bq));
CREATE INDEX bm_btree ON bm (b);
SELECT bvec_index_recall('bm_btree', ARRAY(SELECT b FROM bq));
DROP INDEX bm_btree;
SELECT vec_index_recall('bm_ham', ARRAY['[1,2]']::vec[]);
SELECT bvec_index_recall('bm_ham', ARRAY[NULL, (SELECT b FROM bq LIMIT 1)]);
SELECT bvec_index_recall('bm_ham', '{}'::bvec[]) AS no_queries;

-- Jaccard: all-zero bvecs are indexed; their distance is 0 to each other
-- and 1 to any other bvec, as the operator says
INSERT INTO bm VALUES (3001, NULL, repeat('0', 64)::bvec), (3002, NULL, repeat('0', 64)::bvec);
CREATE INDEX bm_jac ON bm USING msivf (b bvec_jaccard_ops) WITH (lists = 20);
SELECT metric FROM msivf_index_info('bm_jac');
EXPLAIN (COSTS OFF) SELECT id FROM bm ORDER BY b <%> (SELECT b FROM bq LIMIT 1) LIMIT 10;
SELECT count(*) AS differing FROM bq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM bm ORDER BY b <%> q.b LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM bm ORDER BY jaccard_distance(b, q.b), id LIMIT 10) s) w
 WHERE a.got IS DISTINCT FROM w.want;
SELECT bvec_index_recall('bm_jac', ARRAY(SELECT b FROM bq), 10) AS jaccard_recall_every_list;
SELECT id, b <%> repeat('0', 64)::bvec AS d FROM bm ORDER BY b <%> repeat('0', 64)::bvec LIMIT 3;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM bm ORDER BY b <%> q.b) s) =
	   (SELECT array_agg(id) FROM (SELECT id FROM bm ORDER BY jaccard_distance(b, q.b), id) s) AS same_order
  FROM (SELECT b FROM bq LIMIT 1) q;
-- the Hamming index orders the zero rows too
SELECT id, b <~> repeat('0', 64)::bvec AS d FROM bm ORDER BY b <~> repeat('0', 64)::bvec LIMIT 2;

-- bad input: a query of another length, a row of another length
SELECT id FROM bm ORDER BY b <~> '101'::bvec LIMIT 1;
SELECT id FROM bm ORDER BY b <%> '101'::bvec LIMIT 1;
CREATE TABLE bu (b bvec);
INSERT INTO bu VALUES ('1010'), ('10');
CREATE INDEX ON bu USING msivf (b bvec_hamming_ops);
DELETE FROM bu WHERE b = '10';
CREATE INDEX bu_ham ON bu USING msivf (b bvec_hamming_ops);
SELECT dims, lists, metric FROM msivf_index_info('bu_ham');
INSERT INTO bu VALUES ('11');
-- the opclasses are for bvec, the operators for their own metric
CREATE INDEX ON bm USING msivf (emb bvec_hamming_ops);
CREATE INDEX ON bm USING msivf (b vec_l2_ops);
-- an index answers ORDER BY only
SELECT count(*) FROM bm WHERE b <~> repeat('0', 64)::bvec < 3;

-- NULLs are not indexed; ORDER BY the distance to NULL returns rows with
-- NULL distances, as a sequential scan does
INSERT INTO bm VALUES (-1, NULL, NULL);
SET plan_cache_mode = force_generic_plan;
PREPARE null_knn(bvec) AS
	SELECT count(*) AS rows, count(d) AS distances
	FROM (SELECT b <~> $1 AS d FROM bm ORDER BY b <~> $1 LIMIT 5) s;
SELECT plan_uses_msivf('EXECUTE null_knn(NULL)') AS uses_msivf;
EXECUTE null_knn(NULL);
DEALLOCATE null_knn;
RESET plan_cache_mode;
CREATE TEMP TABLE null_queries (n int, v bvec);
INSERT INTO null_queries SELECT 1, NULL UNION ALL SELECT 2, b FROM bm WHERE id = 1;
ANALYZE null_queries;
SELECT plan_uses_msivf($$
	SELECT q.n, s.id FROM null_queries q
	CROSS JOIN LATERAL (SELECT id FROM bm ORDER BY b <~> q.v LIMIT 3) s$$) AS uses_msivf;
SELECT q.n, count(s.id) AS rows, count(s.d) AS distances
FROM null_queries q
CROSS JOIN LATERAL (SELECT id, b <~> q.v AS d FROM bm ORDER BY b <~> q.v LIMIT 3) s
GROUP BY q.n ORDER BY q.n;
SELECT count(*) = (SELECT count(*) FROM bm WHERE b IS NOT NULL) AS all_rows,
	   count(*) = count(DISTINCT s.id) AS each_once
FROM null_queries q CROSS JOIN LATERAL (SELECT id FROM bm ORDER BY b <~> q.v) s
WHERE q.n = 1;
DROP TABLE null_queries;

-- VACUUM removes dead rows' entries; inserts after it are found
DELETE FROM bm WHERE id % 3 = 0;
VACUUM bm;
SELECT count(*) AS n, count(DISTINCT id) AS ids, bool_and(id % 3 <> 0) AS live_only
  FROM (SELECT id FROM bm ORDER BY b <~> (SELECT b FROM bq LIMIT 1)) s;
INSERT INTO bm SELECT 5000 + i, NULL, ('1' || repeat('0', 62) || (i % 2)::text)::bvec FROM generate_series(1, 400) i;
SELECT count(*) AS differing FROM bq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM bm ORDER BY b <~> q.b LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM bm ORDER BY hamming_distance(b, q.b), id LIMIT 10) s) w
 WHERE a.got IS DISTINCT FROM w.want;
SELECT id, b <~> ('1' || repeat('0', 63))::bvec AS d FROM bm ORDER BY b <~> ('1' || repeat('0', 63))::bvec LIMIT 2;
SELECT count(*) AS found FROM (SELECT id FROM bm ORDER BY b <%> ('1' || repeat('0', 63))::bvec) s WHERE id > 5000;
DROP INDEX bm_jac;

-- an empty table: typed, and untyped (the first row fixes the length)
CREATE TABLE be (b bvec(200));
CREATE INDEX be_ham ON be USING msivf (b bvec_hamming_ops);
SELECT dims, lists FROM msivf_index_info('be_ham');
SELECT count(*) FROM (SELECT 1 FROM be ORDER BY b <~> repeat('1', 200)::bvec LIMIT 3) s;
INSERT INTO be SELECT (SELECT string_agg(((i >> (d % 10)) & 1)::text, '') FROM generate_series(1, 200) d)::bvec
  FROM generate_series(1, 50) i;
SELECT b <~> repeat('1', 200)::bvec AS d FROM be ORDER BY b <~> repeat('1', 200)::bvec LIMIT 3;
CREATE TABLE beu (b bvec);
CREATE INDEX beu_jac ON beu USING msivf (b bvec_jaccard_ops);
SELECT dims FROM msivf_index_info('beu_jac');
INSERT INTO beu VALUES ('1100'), ('0011'), ('1110');
SELECT dims FROM msivf_index_info('beu_jac');
SELECT b, b <%> '1100' AS d FROM beu ORDER BY b <%> '1100' LIMIT 3;
-- an unlogged table's index (its init fork)
CREATE UNLOGGED TABLE bun (b bvec(16));
CREATE INDEX bun_ham ON bun USING msivf (b bvec_hamming_ops);
INSERT INTO bun VALUES ('1111000011110000'), ('0000000000000001');
SELECT b FROM bun ORDER BY b <~> '0000000000000000' LIMIT 1;

-- binary quantization: an expression index on the sign bits, the query's
-- bits ranked by it, the candidates reranked by the float distance
CREATE INDEX bm_bq ON bm USING msivf ((binary_quantize(emb)::bvec(64)) bvec_hamming_ops) WITH (lists = 20);
SELECT dims, metric FROM msivf_index_info('bm_bq');
SET machinesoup.probes = 4;
SET machinesoup.probes = 4;
-- an expression index is refused: its column is not stored to compare with
SELECT bvec_index_recall('bm_bq', ARRAY(SELECT b FROM bq));
EXPLAIN (COSTS OFF)
SELECT id FROM (SELECT id, emb FROM bm
				ORDER BY binary_quantize(emb)::bvec(64) <~> binary_quantize((SELECT emb FROM bq LIMIT 1))
				LIMIT 100) c
 ORDER BY emb <-> (SELECT emb FROM bq LIMIT 1) LIMIT 10;
-- recall@10 of the reranked answer (200 candidates from 4 of 20 lists)
-- against the exact L2 answer
SELECT avg(cardinality(ARRAY(SELECT unnest(a.got) INTERSECT SELECT unnest(w.want))))::numeric >= 9 AS recall_ok
  FROM bq q,
	LATERAL (SELECT array_agg(id) AS got FROM
			 (SELECT id FROM (SELECT id, emb FROM bm
							  ORDER BY binary_quantize(emb)::bvec(64) <~> binary_quantize(q.emb) LIMIT 200) c
			  ORDER BY emb <-> q.emb LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM
			 (SELECT id FROM bm WHERE emb IS NOT NULL ORDER BY l2_distance(emb, q.emb) LIMIT 10) s) w;
-- a prepared statement with the query vec as its parameter
PREPARE bq_knn(vec) AS
	SELECT id FROM (SELECT id, emb FROM bm
					ORDER BY binary_quantize(emb)::bvec(64) <~> binary_quantize($1) LIMIT 100) c
	ORDER BY emb <-> $1 LIMIT 10;
SELECT plan_uses_msivf('EXECUTE bq_knn(''' || (SELECT emb FROM bq LIMIT 1)::text || ''')') AS uses_msivf;
SELECT count(*) FROM (SELECT 1 FROM bq, LATERAL (SELECT 1 FROM (SELECT id, emb FROM bm
		ORDER BY binary_quantize(emb)::bvec(64) <~> binary_quantize(bq.emb) LIMIT 100) c LIMIT 10) s) t;
DEALLOCATE bq_knn;

RESET machinesoup.probes;
RESET enable_seqscan;
RESET search_path;
DROP SCHEMA bvec_msivf_test CASCADE;
