-- Driven by raw_bench.sh: loads the batch files, then measures.
CREATE EXTENSION machinesoup;
SET client_min_messages = warning;

-- Staging copies of the batches, kept uncompressed (STORAGE EXTERNAL) so
-- each insert below compresses raw bytes, as if they came from a client.
CREATE TABLE csv_batches (i int, data bytea);
CREATE TABLE f32_batches (i int, data bytea);
ALTER TABLE csv_batches ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE f32_batches ALTER COLUMN data SET STORAGE EXTERNAL;
INSERT INTO csv_batches
	SELECT i, pg_read_binary_file(:'datadir' || '/csv_' || i || '.csv')
	  FROM generate_series(0, :n_csv - 1) i;
INSERT INTO f32_batches
	SELECT i, pg_read_binary_file(:'datadir' || '/f32_' || i || '.bin')
	  FROM generate_series(0, :n_f32 - 1) i;
SELECT 'staging is uncompressed: ' || bool_and(pg_column_compression(data) IS NULL)
  FROM (SELECT data FROM csv_batches UNION ALL SELECT data FROM f32_batches) s;
\if :{?level}
SET machinesoup.raw_compression_level = :level;
\endif
SELECT 'LZ4 level (machinesoup.raw_compression_level): ' || current_setting('machinesoup.raw_compression_level');

SELECT ms.create_model('bench', 'csv', 100);
SELECT ms.create_version('bench', 'csv', 'v1');
SELECT ms.promote('bench', 'csv', 'v1');
SELECT ms.create_model('bench', 'f32', 100);
SELECT ms.create_version('bench', 'f32', 'v1', 'ms.proc_float32(bytea,integer)');
SELECT ms.promote('bench', 'f32', 'v1');

-- plain bytea with the default TOAST compression (pglz unless configured)
CREATE TABLE plain_csv (id serial PRIMARY KEY, received_at timestamptz DEFAULT clock_timestamp(), b bytea);
CREATE TABLE plain_f32 (id serial PRIMARY KEY, received_at timestamptz DEFAULT clock_timestamp(), b bytea);

CREATE FUNCTION elapsed_ms(sql text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE sql;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

CREATE TABLE results (kind text, method text, round int, ms float8);

CREATE FUNCTION reset_all() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	TRUNCATE plain_csv, plain_f32, ms.raw_batches;
	TRUNCATE ms.points;
END $$;

DO $$
DECLARE r int;
BEGIN
	FOR r IN 1..3 LOOP
		PERFORM reset_all();
		INSERT INTO results SELECT 'csv 1 MB', 'plain bytea (TOAST)', r,
			elapsed_ms('INSERT INTO plain_csv (b) SELECT data FROM csv_batches ORDER BY i');
		INSERT INTO results SELECT 'csv 1 MB', 'ms.ingest', r,
			elapsed_ms($q$SELECT count(ms.ingest('bench', 'csv', data)) FROM csv_batches$q$);
		INSERT INTO results SELECT 'f32 64 KB', 'plain bytea (TOAST)', r,
			elapsed_ms('INSERT INTO plain_f32 (b) SELECT data FROM f32_batches ORDER BY i');
		INSERT INTO results SELECT 'f32 64 KB', 'ms.ingest', r,
			elapsed_ms($q$SELECT count(ms.ingest('bench', 'f32', data)) FROM f32_batches$q$);
	END LOOP;
END $$;

-- the same without the version's ANN index (msivf on 100-d points), to
-- show what of ms.ingest is index maintenance
CREATE TABLE sizes AS
SELECT 'csv 1 MB' AS kind, 'plain bytea (TOAST)' AS method, sum(pg_column_size(b))::bigint AS stored FROM plain_csv
UNION ALL SELECT 'csv 1 MB', 'ms.ingest', sum(stored_bytes)::bigint FROM ms.raw_batches WHERE model = 'csv'
UNION ALL SELECT 'f32 64 KB', 'plain bytea (TOAST)', sum(pg_column_size(b))::bigint FROM plain_f32
UNION ALL SELECT 'f32 64 KB', 'ms.ingest', sum(stored_bytes)::bigint FROM ms.raw_batches WHERE model = 'f32';
INSERT INTO sizes SELECT kind, 'ms.ingest, no ANN index', stored FROM sizes WHERE method = 'ms.ingest';
DO $$
DECLARE
	r int;
	ix text;
BEGIN
	FOR ix IN SELECT indexrelid::regclass::text FROM pg_index
			   WHERE indrelid::regclass::text LIKE 'ms.points\_%' AND NOT indisprimary LOOP
		EXECUTE 'DROP INDEX ' || ix;
	END LOOP;
	FOR r IN 1..3 LOOP
		PERFORM reset_all();
		INSERT INTO results SELECT 'csv 1 MB', 'ms.ingest, no ANN index', r,
			elapsed_ms($q$SELECT count(ms.ingest('bench', 'csv', data)) FROM csv_batches$q$);
		INSERT INTO results SELECT 'f32 64 KB', 'ms.ingest, no ANN index', r,
			elapsed_ms($q$SELECT count(ms.ingest('bench', 'f32', data)) FROM f32_batches$q$);
	END LOOP;
END $$;


\echo
\echo 'Ingest (median of 3 rounds; ms.ingest includes LZ4, the processor and the points with their index)'
SELECT r.kind, r.method,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms)::numeric, 1) AS ms,
	   round((sum(length(b.data)) FILTER (WHERE true) / 3.0 / 1048576
			  / (percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms) / 1000))::numeric, 1) AS "MB/s",
	   round((count(b.*) / 3.0 / (percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms) / 1000))::numeric, 0) AS "batches/s",
	   s.stored AS stored_bytes,
	   round(100.0 * s.stored / (sum(length(b.data)) / 3), 1) AS "stored %"
  FROM results r
  JOIN sizes s USING (kind, method)
  JOIN (SELECT 'csv 1 MB' AS kind, data FROM csv_batches
		UNION ALL SELECT 'f32 64 KB', data FROM f32_batches) b USING (kind)
 GROUP BY r.kind, r.method, s.stored
 ORDER BY r.kind, r.method DESC;

SELECT kind,
	   round((100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE method LIKE 'plain%')
			  / percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE method = 'ms.ingest'))::numeric, 0)
		   AS "ingest rate, % of plain (target >= 70)",
	   round((100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE method LIKE 'plain%')
			  / percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE method = 'ms.ingest, no ANN index'))::numeric, 0)
		   AS "same, no ANN index"
  FROM results GROUP BY kind ORDER BY kind;

-- read latency of 1 MB CSV batches: audited read vs decompression alone
SELECT ms.open_access('bench', 'csv', 'benchmark');
CREATE FUNCTION read_loop(audited boolean, reps int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	b record;
	n int := 0;
BEGIN
	t0 := clock_timestamp();
	WHILE n < reps LOOP
		FOR b IN SELECT batch_id, raw_bytes FROM ms.raw_batches WHERE model = 'csv' LOOP
			IF audited THEN
				PERFORM length(ms.read_batch(b.batch_id));
			ELSE
				PERFORM length(ms._lz4_decode(f.frame, f.raw_bytes, f.batch_id))
				   FROM ms.raw_batches f WHERE f.batch_id = b.batch_id;
			END IF;
			n := n + 1;
			EXIT WHEN n >= reps;
		END LOOP;
	END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000 / reps;
END $$;
SELECT read_loop(false, 20), read_loop(true, 20);	-- warm-up
CREATE TABLE reads AS
	SELECT r, read_loop(false, 60) AS plain_ms, read_loop(true, 60) AS audited_ms
	  FROM generate_series(1, 3) r;
\echo 'read_batch of a 1 MB CSV batch (ms per read, median of 3 rounds of 60 reads)'
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY plain_ms)::numeric, 3) AS "decompress only",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY audited_ms)::numeric, 3) AS "read_batch (audited)",
	   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY audited_ms)
			  - percentile_cont(0.5) WITHIN GROUP (ORDER BY plain_ms))::numeric, 3) AS "audit overhead (target <= 2)"
  FROM reads;
SELECT ms.close_access();
SELECT 'audit chain ok: ' || ok FROM ms.verify_audit();
