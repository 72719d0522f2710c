-- msivf with 4-bit codes (WITH (bits = 4)): half the list bytes of 8-bit
-- codes; exact at full probes under strict order, whose bounds are the
-- worst case; the relaxed order's statistical bounds keep the recall.
SET client_min_messages = warning;
CREATE SCHEMA msivf_code4_test;
SET search_path = msivf_code4_test, public;
SELECT setseed(0.47);

-- 12 blobs in 128 dimensions
CREATE TABLE centers AS
	SELECT c, array_agg((random() * 8 - 4)::real ORDER BY j) AS a
	FROM generate_series(1, 12) c, generate_series(1, 128) j GROUP BY c;
CREATE TABLE items (id int PRIMARY KEY, emb vec(128));
INSERT INTO items
	SELECT i, (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
			   FROM generate_series(1, 128) j)::vec
	FROM generate_series(1, 2400) i JOIN centers ON c = 1 + i % 12;
CREATE TABLE queries AS
	SELECT q AS qid, (SELECT array_agg(a[j] + (random() * 2 - 1)::real ORDER BY j)
					  FROM generate_series(1, 128) j)::vec AS q
	FROM generate_series(1, 30) q JOIN centers ON c = 1 + (q * 5) % 12;

\getenv abs_srcdir PG_ABS_SRCDIR
\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan
-- top-k ids of every query through the index (its plan asserted) or exactly
CREATE FUNCTION knn(op text, k int, use_index bool) RETURNS TABLE (qid int, ids int[])
LANGUAGE plpgsql AS $$
DECLARE
	q text := format(
		'SELECT qid, array(SELECT id FROM items ORDER BY emb %s q%s LIMIT %s) FROM queries',
		op, CASE WHEN use_index THEN '' ELSE ', id' END, k);
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	IF use_index AND NOT plan_uses_msivf(q) THEN
		RAISE EXCEPTION 'no msivf index scan in the plan of %', q;
	END IF;
	RETURN QUERY EXECUTE q;
END $$;
CREATE FUNCTION check_knn(op text, k int, OUT mismatches bigint, OUT recall numeric)
LANGUAGE sql AS $$
	SELECT count(*) FILTER (WHERE a.ids <> e.ids),
		   round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / k, 3)
	FROM knn(op, k, true) a JOIN knn(op, k, false) e USING (qid)
$$;

-- the option: 4 or 8, nothing else; not for bvec
CREATE INDEX ON items USING msivf (emb vec_l2_ops) WITH (bits = 5);
CREATE INDEX ON items USING msivf (emb vec_l2_ops) WITH (bits = 16);
CREATE TABLE wide (v vec(4001));
CREATE INDEX ON wide USING msivf (v vec_l2_ops) WITH (bits = 8);
INSERT INTO wide SELECT array_fill(1, ARRAY[4001])::vec;
CREATE INDEX wide_4 ON wide USING msivf (v vec_l2_ops) WITH (bits = 4);
SELECT dims, code_bits FROM msivf_index_info('wide_4');
DROP TABLE wide;
CREATE TABLE bits (b bvec(64));
CREATE INDEX ON bits USING msivf (b bvec_hamming_ops) WITH (bits = 4);
DROP TABLE bits;

-- the same two long lists at 8 and at 4 bits: an entry is a 20-byte
-- header and its code, 152 bytes against 88 here (0.58), so the 4-bit
-- index is a bit over half
CREATE INDEX items_l2_8 ON items USING msivf (emb vec_l2_ops) WITH (lists = 2, bits = 8);
CREATE INDEX items_l2_4 ON items USING msivf (emb vec_l2_ops) WITH (lists = 2, bits = 4);
SELECT code_bits FROM msivf_index_info('items_l2_8');
SELECT code_bits FROM msivf_index_info('items_l2_4');
SELECT pg_relation_size('items_l2_4')::float8 / pg_relation_size('items_l2_8') BETWEEN 0.55 AND 0.68
	AS over_half;
DROP INDEX items_l2_8, items_l2_4;
CREATE INDEX items_l2_4 ON items USING msivf (emb vec_l2_ops) WITH (lists = 24, bits = 4);

-- every list, strict order (worst-case bounds): exact
SET machinesoup.probes = 24;
SET machinesoup.scan_order = strict;
SELECT * FROM check_knn('<->', 10);
SELECT * FROM check_knn('<->', 50);
-- relaxed order, every list: the statistical bounds may swap rows at the
-- edge, but hardly miss one
RESET machinesoup.scan_order;
SELECT recall >= 0.98 AS recall_ok FROM check_knn('<->', 10);
-- calibrated default: recall@10 >= 0.9
RESET machinesoup.probes;
SELECT recall >= 0.9 AS recall_ok FROM check_knn('<->', 10);
-- a rare filter still fills the LIMIT through the index
SET machinesoup.probes = 1;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM items WHERE id % 40 = 3
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 20$$) AS uses_msivf;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 40 = 3
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 20) s;
RESET enable_seqscan;

-- rows inserted after the build are encoded at 4 bits too
INSERT INTO items
	SELECT 10000 + i, (SELECT array_agg(a[j] + (random() - 0.5)::real ORDER BY j)
					   FROM generate_series(1, 128) j)::vec
	FROM generate_series(1, 300) i JOIN centers ON c = 1 + i % 12;
SET machinesoup.probes = 24;
SET machinesoup.scan_order = strict;
SELECT * FROM check_knn('<->', 10);
RESET machinesoup.scan_order;
RESET machinesoup.probes;
DROP INDEX items_l2_4;

-- inner product, cosine and L1
CREATE INDEX items_ip ON items USING msivf (emb vec_ip_ops) WITH (lists = 20, bits = 4);
CREATE INDEX items_cos ON items USING msivf (emb vec_cosine_ops) WITH (lists = 20, bits = 4);
CREATE INDEX items_l1 ON items USING msivf (emb vec_l1_ops) WITH (lists = 20, bits = 4);
SET machinesoup.probes = 20;
SET machinesoup.scan_order = strict;
SELECT * FROM check_knn('<#>', 10);
SELECT * FROM check_knn('<=>', 10);
SELECT * FROM check_knn('<+>', 10);
RESET machinesoup.scan_order;
SELECT recall >= 0.98 AS recall_ok FROM check_knn('<#>', 10);
SELECT recall >= 0.98 AS recall_ok FROM check_knn('<=>', 10);
RESET machinesoup.probes;
DROP INDEX items_ip, items_cos, items_l1;

-- an index built empty takes its width from the option at the first row
CREATE TABLE grow (id int, v vec);
CREATE INDEX grow_idx ON grow USING msivf (v vec_l2_ops) WITH (bits = 4);
SELECT dims, code_bits FROM msivf_index_info('grow_idx');
INSERT INTO grow SELECT id, emb FROM items WHERE id <= 500;
SELECT dims, code_bits FROM msivf_index_info('grow_idx');
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM grow ORDER BY v <-> (SELECT q FROM queries WHERE qid = 4) LIMIT 5$$) AS uses_msivf;
SET machinesoup.scan_order = strict;
SELECT array(SELECT id FROM grow ORDER BY v <-> (SELECT q FROM queries WHERE qid = 4) LIMIT 5) =
	array(SELECT id FROM items WHERE id <= 500 ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4), id LIMIT 5)
	AS exact;
RESET machinesoup.scan_order;
RESET enable_seqscan;

-- by default, 4-bit codes from 64 dimensions on, over vec and hvec alike
-- (8 below, and under L1)
CREATE TABLE hitems AS SELECT id, emb::hvec(128) AS emb FROM items;
CREATE INDEX hitems_idx ON hitems USING msivf (emb hvec_l2_ops) WITH (lists = 24);
CREATE INDEX hitems_8 ON hitems USING msivf (emb hvec_l2_ops) WITH (lists = 24, bits = 8);
CREATE INDEX items_default ON items USING msivf (emb vec_l2_ops) WITH (lists = 24);
CREATE INDEX items_l1_default ON items USING msivf (emb vec_l1_ops) WITH (lists = 24);
CREATE TABLE narrow AS SELECT id, subvec(emb, 1, 63) AS emb FROM items;
CREATE INDEX narrow_default ON narrow USING msivf (emb vec_l2_ops) WITH (lists = 24);
SELECT c.relname, i.code_bits FROM pg_class c, msivf_index_info(c.oid) i
WHERE c.relname IN ('hitems_idx', 'hitems_8', 'items_default', 'items_l1_default', 'narrow_default')
ORDER BY 1;
DROP INDEX hitems_8, items_default, items_l1_default;
DROP TABLE narrow;
SET machinesoup.probes = 24;
SET machinesoup.scan_order = strict;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM hitems ORDER BY emb <-> (SELECT q::hvec FROM queries WHERE qid = 5) LIMIT 10$$) AS uses_msivf;
SELECT count(*) AS mismatches FROM queries
WHERE array(SELECT id FROM hitems ORDER BY emb <-> q::hvec LIMIT 10) <>
	  array(SELECT id FROM hitems ORDER BY (emb <-> q::hvec) + 0, id LIMIT 10);
RESET enable_seqscan;
RESET machinesoup.scan_order;
RESET machinesoup.probes;

DROP SCHEMA msivf_code4_test CASCADE;
