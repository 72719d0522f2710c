-- msivf_storage_bench.sql: what the storage of a compressible vec column
-- costs msivf's rerank (run by msivf_storage_bench.sh).  100,000 rows of
-- 768 dimensions, 70 % zeros and the rest small multiples of 1/8 (like
-- image pixels): pglz shrinks such a row by more than a quarter, so under
-- the type's STORAGE main every row is stored compressed and every rerank
-- decompresses it.  Three copies of the table, the same rows:
--   pglz    the defaults (STORAGE main, default_toast_compression pglz)
--   lz4     ALTER COLUMN emb SET COMPRESSION lz4
--   plain   WITH (toast_tuple_target = 8160): no compression attempt
--           below 8160 bytes, so the row stays inline and uncompressed
-- Each gets an msivf index of 316 lists; 300 queries at 8 and 32 probes.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS machinesoup;
SELECT setseed(0.25);
CREATE TABLE src AS
	SELECT i AS id, (SELECT array_agg(CASE WHEN random() < 0.7 THEN 0
						ELSE floor(random() * 32) / 8 + (i % 50) / 8.0 END ORDER BY j)::real[]
					 FROM generate_series(1, 768) j)::vec AS emb
	FROM generate_series(1, 100300) i;
CREATE TABLE s_pglz (id int, emb vec(768));
CREATE TABLE s_lz4 (id int, emb vec(768));
ALTER TABLE s_lz4 ALTER COLUMN emb SET COMPRESSION lz4;
CREATE TABLE s_plain (id int, emb vec(768)) WITH (toast_tuple_target = 8160);
INSERT INTO s_pglz SELECT * FROM src WHERE id <= 100000;
INSERT INTO s_lz4 SELECT * FROM src WHERE id <= 100000;
INSERT INTO s_plain SELECT * FROM src WHERE id <= 100000;
CREATE TABLE q AS SELECT id - 100000 AS qid, emb FROM src WHERE id > 100000;
VACUUM ANALYZE s_pglz;
VACUUM ANALYZE s_lz4;
VACUUM ANALYZE s_plain;
SET maintenance_work_mem = '1GB';
CREATE INDEX ON s_pglz USING msivf (emb vec_l2_ops) WITH (lists = 316);
CREATE INDEX ON s_lz4 USING msivf (emb vec_l2_ops) WITH (lists = 316);
CREATE INDEX ON s_plain USING msivf (emb vec_l2_ops) WITH (lists = 316);
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
SELECT sum(pg_prewarm(c)) >= 0 AS prewarmed FROM unnest(array['s_pglz', 's_lz4', 's_plain',
	's_pglz_emb_idx', 's_lz4_emb_idx', 's_plain_emb_idx']::regclass[]) c;

-- ms per query of 300 10-NN queries through a cached plan, and the scan's
-- counters and phase times per query
CREATE FUNCTION run(tab text, probes int,
	OUT ms_per_query numeric, OUT codes numeric, OUT reranks numeric,
	OUT list_ms numeric, OUT rerank_ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	b record;
	a record;
	t0 timestamptz;
	n int;
	l text;
	plan_ok bool;
BEGIN
	PERFORM set_config('machinesoup.probes', probes::text, true);
	PERFORM set_config('enable_seqscan', 'off', true);
	-- the plan must scan the msivf index, else the figures mean nothing
	plan_ok := false;
	FOR l IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT id FROM %I ORDER BY emb <-> $1 LIMIT 10', tab)
		USING (SELECT emb FROM q LIMIT 1) LOOP
		plan_ok := plan_ok OR l LIKE '%Index Scan using ' || tab || '_emb_idx%';
	END LOOP;
	IF NOT plan_ok THEN
		RAISE EXCEPTION 'PLAN ASSERTION FAILED: % is not scanned through its msivf index', tab;
	END IF;
	FOR r IN SELECT emb FROM q LIMIT 50 LOOP	-- warm-up
		EXECUTE format('SELECT count(*) FROM (SELECT id FROM %I ORDER BY emb <-> $1 LIMIT 10) s', tab) USING r.emb;
	END LOOP;
	PERFORM set_config('machinesoup.scan_timing', 'off', true);
	t0 := clock_timestamp();
	n := 0;
	FOR r IN SELECT emb FROM q LOOP
		EXECUTE format('SELECT count(*) FROM (SELECT id FROM %I ORDER BY emb <-> $1 LIMIT 10) s', tab) USING r.emb;
		n := n + 1;
	END LOOP;
	ms_per_query := round((extract(epoch FROM clock_timestamp() - t0) * 1000 / n)::numeric, 3);
	PERFORM set_config('machinesoup.scan_timing', 'on', true);
	SELECT * INTO b FROM msivf_scan_stats();
	FOR r IN SELECT emb FROM q LOOP
		EXECUTE format('SELECT count(*) FROM (SELECT id FROM %I ORDER BY emb <-> $1 LIMIT 10) s', tab) USING r.emb;
	END LOOP;
	SELECT * INTO a FROM msivf_scan_stats();
	codes := round((a.codes - b.codes)::numeric / (a.scans - b.scans), 0);
	reranks := round((a.reranks - b.reranks)::numeric / (a.scans - b.scans), 1);
	list_ms := round(((a.list_ms - b.list_ms) / (a.scans - b.scans))::numeric, 3);
	rerank_ms := round(((a.rerank_ms - b.rerank_ms) / (a.scans - b.scans))::numeric, 3);
END $$;

SELECT t AS storage, pg_size_pretty(pg_relation_size(t::regclass)) AS heap,
	   (SELECT count(*) FILTER (WHERE pg_column_compression(emb) IS NOT NULL) FROM s_pglz WHERE t = 's_pglz')
	   + (SELECT count(*) FILTER (WHERE pg_column_compression(emb) IS NOT NULL) FROM s_lz4 WHERE t = 's_lz4')
	   + (SELECT count(*) FILTER (WHERE pg_column_compression(emb) IS NOT NULL) FROM s_plain WHERE t = 's_plain')
	   AS compressed_rows
FROM unnest(array['s_pglz', 's_lz4', 's_plain']) t;
SELECT t AS storage, p AS probes, r.*
FROM unnest(array['s_pglz', 's_lz4', 's_plain']) t, unnest(array[8, 32]) p, LATERAL run(t, p) r;
