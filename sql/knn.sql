-- vec_knn_exact: batched exact kNN, checked against ORDER BY ... LIMIT
-- sequential scans; visibility, privileges, row-level security, bad input;
-- vec_index_recall's refusals.
SET extra_float_digits = 0;
SET enable_indexscan = off;
SET enable_bitmapscan = off;

-- A tiny table whose answers can be checked by hand.
CREATE TABLE knn_small (id int, v vec(2));
INSERT INTO knn_small VALUES
	(1, '[0,0]'), (2, '[1,0]'), (3, '[0,2]'), (4, '[3,3]'), (5, NULL), (6, '[-1,-1]');
SELECT e.query_no, e.rank, s.id, round(e.distance::numeric, 6) AS distance
FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,1]', '[2,0]']::vec[], 3) e
JOIN knn_small s ON s.ctid = e.row_tid;
SELECT e.query_no, e.rank, s.id, round(e.distance::numeric, 6) AS distance
FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,1]']::vec[], 10, 'l1') e
JOIN knn_small s ON s.ctid = e.row_tid;
SELECT e.query_no, e.rank, s.id, round(e.distance::numeric, 6) AS distance
FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 2, 'ip') e
JOIN knn_small s ON s.ctid = e.row_tid;
-- cosine: the zero vector has no direction (NaN) and comes last, like ORDER BY
SELECT e.query_no, e.rank, s.id, round(e.distance::numeric, 6) AS distance
FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,1]']::vec[], 10, 'cosine') e
JOIN knn_small s ON s.ctid = e.row_tid;
SELECT id, v <=> '[1,1]' AS d FROM knn_small WHERE v IS NOT NULL ORDER BY v <=> '[1,1]', id;
-- k larger than the table: every non-null row, once
SELECT count(*), count(DISTINCT row_tid), max(rank)
FROM vec_knn_exact('knn_small', 'v', ARRAY['[5,5]']::vec[], 1000);

-- Random data without ties: the answers must equal ORDER BY ... LIMIT.
SELECT setseed(0.17);
CREATE TABLE knn_t (id int, v vec(16));
INSERT INTO knn_t
SELECT i, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 16) WHERE i > 0)::vec
FROM generate_series(1, 3000) i;
INSERT INTO knn_t VALUES (3001, NULL), (3002, NULL);
CREATE TABLE knn_q (qn int, qv vec(16));
INSERT INTO knn_q
SELECT i, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 16) WHERE i > 0)::vec
FROM generate_series(1, 40) i;

-- Rows where vec_knn_exact and the sequential scan disagree on the row at
-- a rank, or on its distance beyond float32 rounding of the operator.
CREATE FUNCTION knn_mismatches(metric text, op text, k int,
	tbl text DEFAULT 'knn_t', qtbl text DEFAULT 'knn_q')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
		WITH e AS (
			SELECT * FROM vec_knn_exact(%1$L, 'v', (SELECT array_agg(qv ORDER BY qn) FROM %5$I), %3$s, %2$L)
		), r AS (
			SELECT q.qn, s.rank, s.ctid, s.d
			FROM %5$I q, LATERAL (
				SELECT ctid, v %4$s q.qv AS d, row_number() OVER (ORDER BY v %4$s q.qv) AS rank
				FROM %1$I WHERE v IS NOT NULL ORDER BY v %4$s q.qv LIMIT %3$s) s
		)
		SELECT count(*) FROM e FULL JOIN r ON e.query_no = r.qn AND e.rank = r.rank
		WHERE e.row_tid IS DISTINCT FROM r.ctid
		   OR NOT abs(e.distance - r.d) <= 1e-5 * (1 + abs(r.d))$q$,
		tbl, metric, k, op, qtbl) INTO n;
	RETURN n;
END $$;

SELECT m.metric, knn_mismatches(m.metric, m.op, 10) AS mismatches
FROM (VALUES ('l2', '<->'), ('cosine', '<=>'), ('ip', '<#>'), ('l1', '<+>')) m(metric, op);
-- k = 1 and a k that spans several blocks
SELECT knn_mismatches('l2', '<->', 1) AS k1, knn_mismatches('cosine', '<=>', 257) AS k257;
-- the default metric is l2; answers come ordered by query, then rank
SELECT count(*) = 400 AS all_rows,
	bool_and(query_no BETWEEN 1 AND 40 AND rank BETWEEN 1 AND 10) AS in_range
FROM vec_knn_exact('knn_t', 'v', (SELECT array_agg(qv ORDER BY qn) FROM knn_q), 10);
SELECT count(*) AS out_of_order FROM (
	SELECT query_no, rank, distance,
		lag(query_no) OVER w AS pq, lag(rank) OVER w AS pr, lag(distance) OVER w AS pd
	FROM (SELECT *, row_number() OVER () AS ord
		  FROM vec_knn_exact('knn_t', 'v', (SELECT array_agg(qv ORDER BY qn) FROM knn_q), 10)) x
	WINDOW w AS (ORDER BY ord)) y
WHERE pq IS NOT NULL AND NOT ((query_no = pq AND rank = pr + 1 AND distance >= pd) OR
							  (query_no = pq + 1 AND rank = 1));
-- query_no follows the array's order: a query placed twice gets both numbers
SELECT query_no, count(*), min(distance) = 0 AS finds_itself
FROM vec_knn_exact('knn_t', 'v',
	ARRAY[(SELECT v FROM knn_t WHERE id = 7), (SELECT v FROM knn_t WHERE id = 9),
		  (SELECT v FROM knn_t WHERE id = 7)], 4)
GROUP BY query_no ORDER BY query_no;
SELECT e.query_no, s.id
FROM vec_knn_exact('knn_t', 'v',
	ARRAY[(SELECT v FROM knn_t WHERE id = 7), (SELECT v FROM knn_t WHERE id = 9)], 1) e
JOIN knn_t s ON s.ctid = e.row_tid ORDER BY e.query_no;

-- Small blocks: the smallest work_mem still gives the same answers.
SET work_mem = '64kB';
SELECT m.metric, knn_mismatches(m.metric, m.op, 10) AS mismatches
FROM (VALUES ('l2', '<->'), ('cosine', '<=>'), ('ip', '<#>'), ('l1', '<+>')) m(metric, op);
-- a batch whose queries alone exceed work_mem is refused, naming work_mem
SELECT count(*) FROM vec_knn_exact('knn_t', 'v',
	(SELECT array_agg(qv) FROM knn_q, generate_series(1, 300)), 1);
RESET work_mem;

-- Data far from the origin: ||q||^2 + ||x||^2 - 2 q.x cancels in float32.
CREATE TABLE knn_far (id int, v vec(16));
INSERT INTO knn_far SELECT id, v + '[1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000]' FROM knn_t;
SELECT (SELECT v FROM knn_far WHERE id = 11) <-> (SELECT v FROM knn_far WHERE id = 12) > 1 AS spread;
SELECT e.rank, s.id, round(e.distance::numeric, 4) AS distance,
	round((s.v <-> (SELECT v + '[0.001,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' FROM knn_far WHERE id = 11))::numeric, 4) AS operator
FROM vec_knn_exact('knn_far', 'v',
	ARRAY[(SELECT v + '[0.001,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' FROM knn_far WHERE id = 11)], 3) e
JOIN knn_far s ON s.ctid = e.row_tid ORDER BY e.rank;
-- queries near the data, so that the float32 operator itself stays precise
CREATE TABLE knn_far_q AS
SELECT qn, qv + '[1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000]' AS qv FROM knn_q;
SELECT knn_mismatches('l2', '<->', 10, 'knn_far', 'knn_far_q') AS far_l2,
	knn_mismatches('l1', '<+>', 10, 'knn_far', 'knn_far_q') AS far_l1;

-- Long vecs live out of line (TOAST) and are read back in full.
CREATE TABLE knn_long (id int, v vec(3000));
INSERT INTO knn_long
SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011 * i)::real) FROM generate_series(1, 3000) j)::vec
FROM generate_series(1, 40) i;
SELECT pg_relation_size(reltoastrelid) > 40 * 12000 AS out_of_line FROM pg_class WHERE relname = 'knn_long';
CREATE TABLE knn_long_q AS
SELECT row_number() OVER (ORDER BY id)::int AS qn, v + v AS qv FROM knn_long WHERE id % 10 = 3;
SELECT knn_mismatches('l2', '<->', 5, 'knn_long', 'knn_long_q') AS long_l2,
	knn_mismatches('ip', '<#>', 5, 'knn_long', 'knn_long_q') AS long_ip;

-- MVCC: the statement's snapshot decides which rows exist.
BEGIN;
CREATE TEMP TABLE knn_gone AS
SELECT row_tid FROM vec_knn_exact('knn_t', 'v', (SELECT array_agg(qv ORDER BY qn) FROM knn_q), 2);
DELETE FROM knn_t WHERE ctid IN (SELECT row_tid FROM knn_gone);
SELECT count(*) AS deleted_rows_returned
FROM vec_knn_exact('knn_t', 'v', (SELECT array_agg(qv ORDER BY qn) FROM knn_q), 10)
WHERE row_tid IN (SELECT row_tid FROM knn_gone);
SELECT knn_mismatches('l2', '<->', 10) AS after_delete;
-- an updated row is found at its new place, under its new TID
UPDATE knn_t SET v = (SELECT qv FROM knn_q WHERE qn = 3) WHERE id = 100;
SELECT s.id, e.distance
FROM vec_knn_exact('knn_t', 'v', ARRAY[(SELECT qv FROM knn_q WHERE qn = 3)], 1) e
JOIN knn_t s ON s.ctid = e.row_tid;
ROLLBACK;
SELECT count(*) AS back_after_rollback
FROM vec_knn_exact('knn_t', 'v', (SELECT array_agg(qv ORDER BY qn) FROM knn_q), 2) e
JOIN knn_t s ON s.ctid = e.row_tid;

-- Errors, each with its SQLSTATE.
CREATE FUNCTION knn_error(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE knn_mixed (v vec);
INSERT INTO knn_mixed VALUES ('[1,2]'), ('[1,2,3]');
CREATE TABLE knn_text (v text, n int);
CREATE VIEW knn_view AS SELECT * FROM knn_small;
CREATE INDEX knn_small_btree ON knn_small (v);
CREATE SEQUENCE knn_seq;
CREATE TABLE knn_parted (v vec(2), p int) PARTITION BY LIST (p);
CREATE MATERIALIZED VIEW knn_mv AS SELECT * FROM knn_small WITH NO DATA;

SELECT t AS call, knn_error(t) AS result FROM (VALUES
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]', '[1,2,3]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2,3]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_mixed', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 0)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], -3)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 1, 'hamming')$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 1, 'L2')$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'id', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_text', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'ctid', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'nope', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY[]::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]', NULL]::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_view', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_small_btree', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_seq', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_parted', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('knn_mv', 'v', ARRAY['[1,2]']::vec[], 1)$$),
	($$SELECT * FROM vec_knn_exact('no_such_table', 'v', ARRAY['[1,2]']::vec[], 1)$$)
) c(t);
-- NULL arguments: no rows (the function is strict)
SELECT count(*) FROM vec_knn_exact('knn_small', 'v', NULL, 1);
SELECT count(*) FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], NULL);
-- a populated materialized view and a table without rows are fine
REFRESH MATERIALIZED VIEW knn_mv;
SELECT count(*) FROM vec_knn_exact('knn_mv', 'v', ARRAY['[1,2]']::vec[], 2);
SELECT count(*) FROM vec_knn_exact('knn_mixed', 'v', ARRAY['[1]']::vec[], 2)
WHERE false;
TRUNCATE knn_mixed;
SELECT count(*) FROM vec_knn_exact('knn_mixed', 'v', ARRAY['[1,2,3]']::vec[], 2);

-- Privileges: SELECT on the table or on the vec column is required.
CREATE ROLE regress_knn_reader;
SET ROLE regress_knn_reader;
SELECT knn_error($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 1)$$);
RESET ROLE;
GRANT SELECT (id) ON knn_small TO regress_knn_reader;
SET ROLE regress_knn_reader;
SELECT knn_error($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 1)$$);
RESET ROLE;
GRANT SELECT (v) ON knn_small TO regress_knn_reader;
SET ROLE regress_knn_reader;
SELECT count(*) FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 2);
RESET ROLE;
REVOKE SELECT ON knn_small FROM regress_knn_reader;
GRANT SELECT ON knn_small TO regress_knn_reader;
SET ROLE regress_knn_reader;
SELECT count(*) FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 2);
RESET ROLE;

-- Row-level security: refused unless the caller bypasses it.
ALTER TABLE knn_small ENABLE ROW LEVEL SECURITY;
CREATE POLICY knn_small_few ON knn_small FOR SELECT USING (id < 3);
SET ROLE regress_knn_reader;
SELECT count(*) AS rows_policy_shows FROM knn_small;
SELECT knn_error($$SELECT * FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 1)$$);
RESET ROLE;
-- the superuser bypasses row-level security, so its search sees every row
SELECT count(*) FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 10);
ALTER ROLE regress_knn_reader BYPASSRLS;
SET ROLE regress_knn_reader;
SELECT count(*) FROM vec_knn_exact('knn_small', 'v', ARRAY['[1,2]']::vec[], 10);
RESET ROLE;
ALTER TABLE knn_small DISABLE ROW LEVEL SECURITY;

-- vec_index_recall refuses what is not a distance-ordering vec index.
CREATE INDEX knn_small_expr ON knn_small ((v + v));
SELECT t AS call, knn_error(t) AS result FROM (VALUES
	($$SELECT vec_index_recall('knn_small', ARRAY['[1,2]']::vec[])$$),
	($$SELECT vec_index_recall('knn_small_btree', ARRAY['[1,2]']::vec[])$$),
	($$SELECT vec_index_recall('knn_small_expr', ARRAY['[1,2]']::vec[])$$),
	($$SELECT vec_index_recall('knn_small_btree', ARRAY['[1,2]']::vec[], 0)$$),
	($$SELECT vec_index_recall('knn_small_btree', ARRAY[]::vec[])$$),
	($$SELECT vec_index_recall('knn_small_btree', ARRAY[NULL]::vec[])$$)
) c(t);

-- vec_index_recall on the exact index types of this extension (GiST,
-- SP-GiST): recall 1 for distinct points and for ties.  The block prints
-- nothing when both are there and right; a wrong recall, or an opclass
-- missing (a loop over nothing proves nothing), raises an error.
CREATE TABLE knn_pts (id int, v vec(3));
INSERT INTO knn_pts SELECT i, ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7)]::real[]::vec
FROM generate_series(1, 2000) i;
INSERT INTO knn_pts SELECT 3000 + i, '[0.5,0.5,0.5]' FROM generate_series(1, 30) i;
INSERT INTO knn_pts VALUES (5000, NULL);
DO $$
DECLARE
	am text;
	r float8;
	tested int := 0;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	FOR am IN SELECT a.amname FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
			  WHERE c.opcname IN ('vec_gist_ops', 'vec_spgist_ops') ORDER BY 1 LOOP
		EXECUTE format('CREATE INDEX knn_pts_idx ON knn_pts USING %s (v)', am);
		r := vec_index_recall('knn_pts_idx',
			ARRAY(SELECT ARRAY[cos(i), sin(i * 2.1), cos(i * 0.3)]::real[]::vec FROM generate_series(1, 20) i), 10);
		IF r <> 1 THEN
			RAISE EXCEPTION '% recall % for distinct points', am, r;
		END IF;
		r := vec_index_recall('knn_pts_idx', ARRAY['[0.5,0.5,0.5]', '[0.51,0.5,0.5]']::vec[], 20);
		IF r <> 1 THEN
			RAISE EXCEPTION '% recall % with ties', am, r;
		END IF;
		DROP INDEX knn_pts_idx;
		tested := tested + 1;
	END LOOP;
	IF tested <> 2 THEN
		RAISE EXCEPTION 'expected the GiST and SP-GiST opclasses, tested % index types', tested;
	END IF;
END $$;

-- vec_index_recall on an approximate index: msivf (32 dimensions or more)
-- with few and with all lists probed, and a plan that cannot use the index
-- (a warning says so).
CREATE TABLE knn_h AS SELECT id, v || v AS v FROM knn_t;
CREATE TABLE knn_hq AS SELECT qn, qv || qv AS qv FROM knn_q;
CREATE INDEX knn_h_ivf ON knn_h USING msivf (v vec_l2_ops) WITH (lists = 20);
SET enable_indexscan = on;
SET enable_seqscan = off;
SET machinesoup.probes = 1;
SELECT r > 0 AND r < 1 AS one_probe_misses
FROM vec_index_recall('knn_h_ivf', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 10) r;
SET machinesoup.probes = 20;
SELECT vec_index_recall('knn_h_ivf', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 10) AS all_probes;
SET enable_indexscan = off;
SET enable_seqscan = on;
SELECT vec_index_recall('knn_h_ivf', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 10) AS without_index;
SET enable_indexscan = on;
-- the ordering operator follows the opclass: cosine here
CREATE INDEX knn_h_ivf_cos ON knn_h USING msivf (v vec_cosine_ops) WITH (lists = 20);
DROP INDEX knn_h_ivf;
SET enable_seqscan = off;
SELECT vec_index_recall('knn_h_ivf_cos', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 5) AS cosine_all_probes;
RESET enable_seqscan;
SET enable_indexscan = off;
RESET machinesoup.probes;

-- An index of a partitioned table (sub-partitioned here) is measured as a
-- query on the partitioned table uses it, through its partitions' indexes,
-- against the merged exact answer of every partition.  The recall it
-- reports is the one computed here in SQL from the two queries' answers.
CREATE TABLE knn_hp (id int, v vec(32)) PARTITION BY RANGE (id);
CREATE TABLE knn_hp_1 PARTITION OF knn_hp FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE knn_hp_2 PARTITION OF knn_hp FOR VALUES FROM (1000) TO (2000) PARTITION BY RANGE (id);
CREATE TABLE knn_hp_2a PARTITION OF knn_hp_2 FOR VALUES FROM (1000) TO (1400);
CREATE TABLE knn_hp_2b PARTITION OF knn_hp_2 FOR VALUES FROM (1400) TO (2000);
CREATE TABLE knn_hp_3 (v vec(32), id int);	-- its columns in another order
ALTER TABLE knn_hp ATTACH PARTITION knn_hp_3 FOR VALUES FROM (2000) TO (MAXVALUE);
INSERT INTO knn_hp SELECT id, v FROM knn_h;
CREATE INDEX knn_hp_ivf ON knn_hp USING msivf (v vec_l2_ops) WITH (lists = 10);
ANALYZE knn_hp;
SET enable_indexscan = on;
SET enable_seqscan = off;
SET machinesoup.probes = 10;
SELECT vec_index_recall('knn_hp_ivf', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 10) AS partitioned_all_probes;
SET machinesoup.probes = 1;
CREATE TEMP TABLE knn_hp_got AS
SELECT q.qn, s.id FROM knn_hq q, LATERAL (SELECT id FROM knn_hp ORDER BY v <-> q.qv LIMIT 10) s;
SET enable_indexscan = off;
SET enable_seqscan = on;
CREATE TEMP TABLE knn_hp_exact AS
SELECT q.qn, s.id FROM knn_hq q, LATERAL (SELECT id FROM knn_hp ORDER BY v <-> q.qv LIMIT 10) s;
SET enable_indexscan = on;
SET enable_seqscan = off;
SELECT r > 0 AND r < 1 AS one_probe_misses,
	abs(r - (SELECT avg(n) / 10 FROM (
		SELECT q.qn, count(g.id) AS n FROM knn_hq q
		LEFT JOIN (knn_hp_got g JOIN knn_hp_exact e USING (qn, id)) ON g.qn = q.qn
		GROUP BY q.qn) t)) < 1e-9 AS recall_of_the_query
FROM vec_index_recall('knn_hp_ivf', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 10) r;
-- privileges and row-level security are the partitioned table's: SELECT on
-- it is enough, a policy on a partition is not applied through it
ALTER ROLE regress_knn_reader NOBYPASSRLS;
GRANT SELECT ON knn_hp, knn_hq TO regress_knn_reader;
ALTER TABLE knn_hp_2a ENABLE ROW LEVEL SECURITY;
SET ROLE regress_knn_reader;
SELECT knn_error($$SELECT count(*) FROM knn_hp_1$$);
SELECT r > 0 AND r < 1 AS one_probe_misses
FROM vec_index_recall('knn_hp_ivf', (SELECT array_agg(qv ORDER BY qn) FROM knn_hq), 10) r;
RESET ROLE;
-- a policy on the partitioned table itself is one the scan cannot apply
ALTER TABLE knn_hp ENABLE ROW LEVEL SECURITY;
SET ROLE regress_knn_reader;
SELECT knn_error($$SELECT vec_index_recall('knn_hp_ivf', (SELECT array_agg(qv) FROM knn_hq), 10)$$);
RESET ROLE;
SELECT vec_index_recall('knn_hp_ivf', (SELECT array_agg(qv) FROM knn_hq), 10) > 0 AS superuser_bypasses;
ALTER TABLE knn_hp DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON knn_hp FROM regress_knn_reader;
SET ROLE regress_knn_reader;
SELECT knn_error($$SELECT vec_index_recall('knn_hp_ivf', (SELECT array_agg(qv) FROM knn_hq), 10)$$);
RESET ROLE;
-- vec_knn_exact refuses partitioned tables: a TID names a row only within
-- its partition
SELECT knn_error($$SELECT * FROM vec_knn_exact('knn_hp', 'v', (SELECT array_agg(qv) FROM knn_hq), 1)$$);
RESET machinesoup.probes;
SET enable_indexscan = off;
RESET enable_seqscan;
DROP TABLE knn_hp, knn_hp_got, knn_hp_exact;
REVOKE SELECT ON knn_hq FROM regress_knn_reader;
DROP TABLE knn_h, knn_hq;

DROP FUNCTION knn_mismatches(text, text, int, text, text);
DROP MATERIALIZED VIEW knn_mv;
DROP TABLE knn_pts, knn_small, knn_t, knn_q, knn_far, knn_far_q, knn_long, knn_long_q, knn_mixed, knn_text, knn_parted CASCADE;
DROP SEQUENCE knn_seq;
DROP FUNCTION knn_error(text);
DROP ROLE regress_knn_reader;
