-- ms.ingest's points go straight into the version's partition
-- (ms._insert_points, src/raw/raw_insert.c); the INSERT ... SELECT FROM
-- ms._run_processor(...) it stands for runs instead when the partition has
-- triggers.  Both must store the same rows, keep the same checks and
-- maintain the indexes: an msivf index takes each batch's entries a list
-- at a time (msivf_insert_batch).
\set VERBOSITY terse
SET client_min_messages = warning;

-- errors with their SQLSTATE, partition names (which depend on the
-- version ids other suites used) made stable
CREATE FUNCTION ing_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'points_[0-9]+', 'points_N', 'g');
END $$;
-- n CSV lines "id,x1,...,xD" from id first on, deterministic values
CREATE FUNCTION ing_csv(first int, n int, dims int, seed float8 DEFAULT 0.37) RETURNS bytea
LANGUAGE sql AS $$
	SELECT convert_to(string_agg(i || ',' ||
		(SELECT string_agg(round((10 * sin(i * seed + j * 1.3))::numeric, 3)::text, ',' ORDER BY j)
		   FROM generate_series(1, dims) j), E'\n' ORDER BY i) || E'\n', 'UTF8')
	  FROM generate_series(first, first + n - 1) i
$$;

SELECT ms.create_model('ing', 'm', 3);
SELECT ms.create_version('ing', 'm', 'v1');
SELECT format('ms.points_%s', version_id) AS part FROM ms.versions
 WHERE org = 'ing' AND model = 'm' AND label = 'v1' \gset
CREATE VIEW ing_points AS
	SELECT p.point_id, p.embedding, p.payload FROM ms.points p JOIN ms.versions v USING (version_id)
	 WHERE v.org = 'ing' AND v.model = 'm' AND v.label = 'v1';

SELECT ms.ingest('ing', 'm', convert_to(E'1,1,0,0\n2,0,1,0\n3,0,0,1\n', 'UTF8'), 'v1') > 0 AS ingested;
-- ids already present are replaced, new ones added (the upsert)
SELECT ms.ingest('ing', 'm', convert_to(E'3,3,3,3\n4,4,4,4\n', 'UTF8'), 'v1') > 0 AS ingested;
SELECT * FROM ing_points ORDER BY 1;

SELECT count(*) AS batches FROM ms.raw_batches WHERE org = 'ing' \gset
-- an id twice in a batch, new or already present: the whole batch fails
SELECT ing_try($$SELECT ms.ingest('ing', 'm', convert_to(E'5,1,1,1\n5,2,2,2\n', 'UTF8'), 'v1')$$);
SELECT ing_try($$SELECT ms.ingest('ing', 'm', convert_to(E'6,1,1,1\n3,2,2,2\n3,1,1,1\n', 'UTF8'), 'v1')$$);
-- the partition's CHECK constraints hold, and a violation takes the raw
-- batch and the batch's other points with it
ALTER TABLE :part ADD CONSTRAINT small_ids CHECK (point_id < 100);
SELECT ing_try($$SELECT ms.ingest('ing', 'm', convert_to(E'7,1,1,1\n100,1,1,1\n', 'UTF8'), 'v1')$$);
SELECT count(*) - :batches AS new_batches FROM ms.raw_batches WHERE org = 'ing';
SELECT * FROM ing_points ORDER BY 1;
ALTER TABLE :part DROP CONSTRAINT small_ids;

-- with a trigger on the partition the INSERT runs instead, and fires it
-- for every row; without, nothing fires
CREATE TABLE ing_seen (point_id bigint, op text);
CREATE FUNCTION ing_seen_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ing_seen VALUES (NEW.point_id, TG_OP);
	NEW.payload := jsonb_build_object('seen', true);
	RETURN NEW;
END $$;
CREATE TRIGGER seen BEFORE INSERT OR UPDATE ON :part FOR EACH ROW EXECUTE FUNCTION ing_seen_trig();
SELECT ms.ingest('ing', 'm', convert_to(E'8,8,8,8\n9,9,9,9\n', 'UTF8'), 'v1') > 0 AS ingested;
SELECT ms.ingest('ing', 'm', convert_to(E'9,1,2,3\n10,10,10,10\n', 'UTF8'), 'v1') > 0 AS ingested;
DROP TRIGGER seen ON :part;
SELECT ms.ingest('ing', 'm', convert_to(E'11,11,11,11\n', 'UTF8'), 'v1') > 0 AS ingested;
SELECT * FROM ing_seen ORDER BY point_id, op;
SELECT * FROM ing_points WHERE point_id >= 8 ORDER BY 1;

-- msivf indexes kept up by the batches: one list (built empty, a batch
-- fills several pages of it) and trained lists (a batch's entries spread
-- over them), L2 and cosine, next to the version's own GiST index
SELECT ms.create_model('ing', 'vecs', 40);
SELECT ms.create_version('ing', 'vecs', 'v1');
SELECT format('ms.points_%s', version_id) AS vpart FROM ms.versions
 WHERE org = 'ing' AND model = 'vecs' AND label = 'v1' \gset
-- room on the heap pages, so that a re-sent batch updates in place (HOT)
ALTER TABLE :vpart SET (fillfactor = 50);
CREATE INDEX ing_one_list ON :vpart USING msivf (embedding vec_l2_ops);
SELECT ms.ingest('ing', 'vecs', ing_csv(1, 400, 40), 'v1') > 0 AS ingested;
CREATE INDEX ing_l2 ON :vpart USING msivf (embedding vec_l2_ops) WITH (lists = 8);
CREATE INDEX ing_cos ON :vpart USING msivf (embedding vec_cosine_ops) WITH (lists = 8);
SELECT ms.ingest('ing', 'vecs', ing_csv(401, 300, 40), 'v1') > 0 AS ingested;
SELECT ms.ingest('ing', 'vecs', ing_csv(701, 300, 40), 'v1') > 0 AS ingested;
-- a re-sent batch: the upsert path, one row at a time; new embeddings
-- get new index entries, the same ones update in place (HOT), and the
-- msivf scans below must find those rows through their chains' roots
SELECT ms.ingest('ing', 'vecs', ing_csv(651, 100, 40, 0.41), 'v1') > 0 AS ingested;
BEGIN;
SELECT ms.ingest('ing', 'vecs', ing_csv(801, 100, 40), 'v1') > 0 AS ingested;
SELECT pg_stat_get_xact_tuples_hot_updated(:'vpart'::regclass) >= 50 AS hot_updates;
COMMIT;
SELECT count(*) FROM :vpart;
SELECT lists FROM msivf_index_info('ms.ing_one_list');
SELECT lists FROM msivf_index_info('ms.ing_l2');

CREATE VIEW ing_vecs AS SELECT point_id, embedding FROM :vpart;
CREATE TABLE ing_queries AS
	SELECT q, (SELECT array_agg((10 * cos(q * 0.9 + j))::real ORDER BY j)
				 FROM generate_series(1, 40) j)::vec AS v
	  FROM generate_series(1, 5) q;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TABLE ing_exact AS
	SELECT 'l2' AS metric, q, array(SELECT point_id FROM ing_vecs ORDER BY embedding <-> v LIMIT 10) AS ids
	  FROM ing_queries
	UNION ALL
	SELECT 'cos', q, array(SELECT point_id FROM ing_vecs ORDER BY embedding <=> v LIMIT 10)
	  FROM ing_queries;
RESET enable_indexscan;
RESET enable_bitmapscan;
CREATE FUNCTION ing_plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		RETURN NEXT regexp_replace(l, 'points_[0-9]+', 'points_N', 'g');
	END LOOP;
END $$;
-- every list probed, each index alone: exact answers, every row once
SELECT :'vpart' || '_embedding' AS vgist \gset
SET machinesoup.probes = 8;
SET enable_seqscan = off;
BEGIN;
DROP INDEX ms.ing_l2, ms.ing_cos, :vgist;
SELECT ing_plan('SELECT point_id FROM ing_vecs ORDER BY embedding <-> ''[1]'' LIMIT 10');
SELECT q, array(SELECT point_id FROM ing_vecs ORDER BY embedding <-> v LIMIT 10) FROM ing_queries
EXCEPT SELECT q, ids FROM ing_exact WHERE metric = 'l2';
SELECT count(*), count(DISTINCT point_id) FROM (SELECT point_id FROM ing_vecs
	ORDER BY embedding <-> (SELECT v FROM ing_queries WHERE q = 1)) s;
ROLLBACK;
BEGIN;
DROP INDEX ms.ing_one_list, ms.ing_cos, :vgist;
SELECT ing_plan('SELECT point_id FROM ing_vecs ORDER BY embedding <-> ''[1]'' LIMIT 10');
SELECT q, array(SELECT point_id FROM ing_vecs ORDER BY embedding <-> v LIMIT 10) FROM ing_queries
EXCEPT SELECT q, ids FROM ing_exact WHERE metric = 'l2';
SELECT count(*), count(DISTINCT point_id) FROM (SELECT point_id FROM ing_vecs
	ORDER BY embedding <-> (SELECT v FROM ing_queries WHERE q = 2)) s;
ROLLBACK;
SELECT ing_plan('SELECT point_id FROM ing_vecs ORDER BY embedding <=> ''[1]'' LIMIT 10');
SELECT q, array(SELECT point_id FROM ing_vecs ORDER BY embedding <=> v LIMIT 10) FROM ing_queries
EXCEPT SELECT q, ids FROM ing_exact WHERE metric = 'cos';
SELECT count(*), count(DISTINCT point_id) FROM (SELECT point_id FROM ing_vecs
	ORDER BY embedding <=> (SELECT v FROM ing_queries WHERE q = 3)) s;
-- and the version's GiST index
BEGIN;
DROP INDEX ms.ing_one_list, ms.ing_l2;
SELECT ing_plan('SELECT point_id FROM ing_vecs ORDER BY embedding <-> ''[1]'' LIMIT 10');
SELECT q, array(SELECT point_id FROM ing_vecs ORDER BY embedding <-> v LIMIT 10) FROM ing_queries
EXCEPT SELECT q, ids FROM ing_exact WHERE metric = 'l2';
ROLLBACK;
RESET enable_seqscan;
RESET machinesoup.probes;

-- ms._insert_points called directly with bad arguments (internal, so only
-- superusers can): clear errors, nothing inserted
SELECT count(*) AS points_before FROM ms.points \gset
SELECT ms._insert_points(NULL, 1, NULL, 2, 'l2', convert_to(E'1,1,1\n', 'UTF8'), NULL, NULL);
SELECT ms._insert_points('nobody', 999999, NULL, 2, 'l2', convert_to(E'1,1,1\n', 'UTF8'), NULL, NULL);
SELECT ms._insert_points('nobody', 1, NULL, 2, 'l2', '\x00ff'::bytea, NULL, NULL);
SELECT count(*) = :points_before AS nothing_inserted FROM ms.points;
