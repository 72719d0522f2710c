-- Driven by raw_bench.sh: loads the batch files, then measures.
CREATE EXTENSION machinesoup;
SET client_min_messages = warning;

-- Staging copies of the batches, kept uncompressed (STORAGE EXTERNAL) so
-- each insert below compresses raw bytes, as if they came from a client.
CREATE TABLE csv_batches (i int, data bytea);
CREATE TABLE f32_batches (i int, data bytea);
ALTER TABLE csv_batches ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE f32_batches ALTER COLUMN data SET STORAGE EXTERNAL;
-- ROUNDS + 1 sets of batches with distinct ids: set 0 warms up (untimed: it
-- gives each version the msivf index that ms.ingest builds once 10,000
-- points are in, trained on them), sets 1.. are the timed rounds, each
-- loading new points into that index, as a version in use receives them.
INSERT INTO csv_batches
	SELECT i, pg_read_binary_file(:'datadir' || '/csv_' || i || '.csv')
	  FROM generate_series(0, (:rounds + 1) * :n_csv - 1) i;
INSERT INTO f32_batches
	SELECT i, pg_read_binary_file(:'datadir' || '/f32_' || i || '.bin')
	  FROM generate_series(0, (:rounds + 1) * :n_f32 - 1) i;
SELECT 'staging is uncompressed: ' || bool_and(pg_column_compression(data) IS NULL)
  FROM (SELECT data FROM csv_batches UNION ALL SELECT data FROM f32_batches) s;
\if :{?level}
SET machinesoup.raw_compression_level = :level;
\endif
SELECT 'LZ4 level (machinesoup.raw_compression_level): ' || current_setting('machinesoup.raw_compression_level');
SELECT set_config('bench.n_csv', :'n_csv', false), set_config('bench.n_f32', :'n_f32', false),
	   set_config('bench.rounds', :'rounds', false), set_config('bench.clean', :'clean', false);

-- csv, f32: the versions measured; csv_noidx, f32_noidx: the same without
-- an ANN index, to show what of ms.ingest is index upkeep
SELECT ms.create_model('bench', m, 100) FROM unnest('{csv,f32,csv_noidx,f32_noidx}'::text[]) m;
SELECT ms.create_version('bench', m, 'v1') FROM unnest('{csv,csv_noidx}'::text[]) m;
SELECT ms.create_version('bench', m, 'v1', 'ms.proc_float32(bytea,integer)')
  FROM unnest('{f32,f32_noidx}'::text[]) m;
SELECT ms.promote('bench', m, 'v1') FROM unnest('{csv,f32,csv_noidx,f32_noidx}'::text[]) m;

-- plain bytea compressed by TOAST with LZ4, like for like with the LZ4
-- frames of ms.ingest (the server's default would be pglz)
CREATE TABLE plain_csv (id serial PRIMARY KEY, received_at timestamptz DEFAULT clock_timestamp(), b bytea COMPRESSION lz4);
CREATE TABLE plain_f32 (id serial PRIMARY KEY, received_at timestamptz DEFAULT clock_timestamp(), b bytea COMPRESSION lz4);

CREATE FUNCTION elapsed_ms(sql text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE sql;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

CREATE TABLE results (kind text, method text, round int, ms float8);

-- the batches of round r: set r of each kind
CREATE FUNCTION round_sql(kind text, r int, target text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN target LIKE 'plain%'
		THEN format('INSERT INTO %s (b) SELECT data FROM %s_batches WHERE i / %s = %s ORDER BY i',
					target, kind, current_setting('bench.n_' || kind), r)
		ELSE format('SELECT count(ms.ingest(''bench'', %L, data)) FROM (SELECT data FROM %s_batches WHERE i / %s = %s ORDER BY i) b',
					target, kind, current_setting('bench.n_' || kind), r) END
$$;

-- warm-up: set 0 everywhere; no index may come to the _noidx versions
DO $$
BEGIN
	PERFORM elapsed_ms(round_sql('csv', 0, 'plain_csv')), elapsed_ms(round_sql('csv', 0, 'csv')),
			elapsed_ms(round_sql('f32', 0, 'plain_f32')), elapsed_ms(round_sql('f32', 0, 'f32'));
END $$;
-- an index of the name ms.ingest gives the ANN index, and that never
-- holds an entry, keeps it from building one on the _noidx versions
SELECT format('CREATE INDEX points_%s_embedding ON ms.points_%s (point_id) WHERE false',
			  version_id, version_id)
  FROM ms.versions WHERE model LIKE '%\_noidx' \gexec
DO $$
BEGIN
	PERFORM elapsed_ms(round_sql('csv', 0, 'csv_noidx')), elapsed_ms(round_sql('f32', 0, 'f32_noidx'));
END $$;
SELECT v.model, i.indexrelid::regclass IS NOT NULL AS has_ann_index,
	   CASE WHEN i.indexrelid IS NOT NULL
			THEN (SELECT lists FROM msivf_index_info(i.indexrelid::regclass)) END AS msivf_lists,
	   (SELECT count(*) FROM ms.points p WHERE p.version_id = v.version_id) AS points
  FROM ms.versions v
  LEFT JOIN pg_index i ON i.indrelid = format('ms.points_%s', v.version_id)::regclass AND NOT i.indisprimary
					  AND i.indpred IS NULL
 ORDER BY 1;

-- The timed rounds, every method in each (so that load on the machine
-- falls on all of them alike).  Each timed statement is its own
-- transaction, as a producer's batches would be, and its time includes
-- the commit.  A CHECKPOINT before each gives every method the same clean
-- buffer pool: otherwise a method pays for writing out the pages the one
-- before it dirtied, which is order, not cost.  The CHECKPOINT after each
-- is timed as the method's own writeback (its dirty pages to the data
-- files).  Odd rounds run plain first, even rounds last.  CLEAN=off
-- (raw_bench.sh) drops both CHECKPOINTs: each method then starts with the
-- dirty pages of the one before it, and no writeback is timed.
CREATE FUNCTION timed(kind text, method text, r int, work text) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT stmt FROM (VALUES
		(1, true, 'CHECKPOINT'),
		(2, false, 'SELECT set_config(''bench.t0'', clock_timestamp()::text, false)'),
		(3, false, work),
		(4, false, format('INSERT INTO results VALUES (%L, %L, %s, extract(epoch FROM clock_timestamp() - '
						  'current_setting(''bench.t0'')::timestamptz) * 1000)', kind, method, r)),
		(5, true, 'SELECT set_config(''bench.t0'', clock_timestamp()::text, false)'),
		(6, true, 'CHECKPOINT'),
		(7, true, format('UPDATE results SET writeback_ms = extract(epoch FROM clock_timestamp() - '
						 'current_setting(''bench.t0'')::timestamptz) * 1000 '
						 'WHERE kind = %L AND method = %L AND round = %s', kind, method, r))
	) s(n, clean_only, stmt)
	WHERE NOT clean_only OR current_setting('bench.clean') = 'on'
	ORDER BY n
$$;
ALTER TABLE results ADD COLUMN writeback_ms float8;
\o /dev/null
SELECT stmt
  FROM generate_series(1, :rounds) r,
	   LATERAL (VALUES (1, 0::bigint, 'TRUNCATE plain_csv, plain_f32, ms.raw_batches')
				UNION ALL
				SELECT 2 + k.ord * 10 + CASE WHEN r % 2 = 1 THEN m.ord ELSE 4 - m.ord END,
					   t.n, t.stmt
				  FROM (VALUES (0, 'csv', 'csv 1 MB'), (1, 'f32', 'f32 64 KB')) k(ord, kind, label),
					   (VALUES (1, 'plain', 'plain bytea (TOAST lz4)'), (2, '', 'ms.ingest'),
							   (3, '_noidx', 'ms.ingest, no ANN index')) m(ord, suffix, method),
					   timed(k.label, m.method, r,
							 round_sql(k.kind, r, CASE m.suffix WHEN 'plain' THEN 'plain_' || k.kind
												  ELSE k.kind || m.suffix END)) WITH ORDINALITY t(stmt, n)
			   ) step(ord, n, stmt)
 ORDER BY r, step.ord, step.n \gexec
\o

-- bytes stored by the last round
CREATE TABLE sizes AS
SELECT 'csv 1 MB' AS kind, 'plain bytea (TOAST lz4)' AS method, sum(pg_column_size(b))::bigint AS stored FROM plain_csv
UNION ALL SELECT 'csv 1 MB', 'ms.ingest', sum(stored_bytes)::bigint FROM ms.raw_batches WHERE model = 'csv'
UNION ALL SELECT 'csv 1 MB', 'ms.ingest, no ANN index', sum(stored_bytes)::bigint FROM ms.raw_batches WHERE model = 'csv_noidx'
UNION ALL SELECT 'f32 64 KB', 'plain bytea (TOAST lz4)', sum(pg_column_size(b))::bigint FROM plain_f32
UNION ALL SELECT 'f32 64 KB', 'ms.ingest', sum(stored_bytes)::bigint FROM ms.raw_batches WHERE model = 'f32'
UNION ALL SELECT 'f32 64 KB', 'ms.ingest, no ANN index', sum(stored_bytes)::bigint FROM ms.raw_batches WHERE model = 'f32_noidx';
-- like for like: the plain values really went through lz4 (a value that
-- arrives compressed would be stored as it came)
SELECT 'plain bytea compressed with: ' || string_agg(DISTINCT coalesce(pg_column_compression(b), 'none'), ', ')
  FROM (SELECT b FROM plain_csv UNION ALL SELECT b FROM plain_f32) p;

\echo
\echo 'Ingest (median of' :rounds 'rounds, each of new points into a version with a trained msivf index; ms.ingest includes LZ4, the processor and the points with their indexes)'
CREATE TABLE per_round AS
SELECT 'csv 1 MB' AS kind, sum(length(data)) / (:rounds + 1.0) AS bytes, count(*) / (:rounds + 1.0) AS batches,
	   sum(length(data)) FILTER (WHERE i / :n_csv = :rounds) AS last_bytes FROM csv_batches
UNION ALL
SELECT 'f32 64 KB', sum(length(data)) / (:rounds + 1.0), count(*) / (:rounds + 1.0),
	   sum(length(data)) FILTER (WHERE i / :n_f32 = :rounds) FROM f32_batches;
SELECT r.kind, r.method, round(r.med::numeric, 1) AS ms,
	   round(r.wb::numeric, 1) AS "writeback ms",
	   round(r.tot::numeric, 1) AS "ms with writeback",
	   round((p.bytes / 1048576 / (r.tot / 1000))::numeric, 1) AS "MB/s",
	   round((p.batches / (r.tot / 1000))::numeric, 0) AS "batches/s",
	   s.stored AS stored_bytes,
	   round(100.0 * s.stored / p.last_bytes, 1) AS "stored %"
  FROM (SELECT kind, method, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY writeback_ms) AS wb,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms + coalesce(writeback_ms, 0)) AS tot
		  FROM results GROUP BY kind, method) r
  JOIN sizes s USING (kind, method)
  JOIN per_round p USING (kind)
 ORDER BY r.kind, r.method DESC;

-- Each method's time in the ratios below includes its own writeback: the
-- CHECKPOINT after its statement, which writes out the pages it dirtied
-- (ms.ingest writes points and index entries besides its frames; leaving
-- that out would flatter it).  Under CLEAN=off nothing is timed apart:
-- each method writes out pages as it evicts them, inside its statement.
CREATE TABLE ratios AS
SELECT kind, round,
	   100 * min(ms + coalesce(writeback_ms, 0)) FILTER (WHERE method LIKE 'plain%')
		   / min(ms + coalesce(writeback_ms, 0)) FILTER (WHERE method = 'ms.ingest') AS ingest,
	   100 * min(ms + coalesce(writeback_ms, 0)) FILTER (WHERE method LIKE 'plain%')
		   / min(ms + coalesce(writeback_ms, 0)) FILTER (WHERE method = 'ms.ingest, no ANN index') AS noidx,
	   100 * min(ms) FILTER (WHERE method LIKE 'plain%') / min(ms) FILTER (WHERE method = 'ms.ingest') AS ingest_stmt
  FROM results GROUP BY kind, round;
\echo 'Ingest rate, % of plain, by round (with each method''s own writeback)'
SELECT kind, round, round(ingest::numeric, 0) AS "ms.ingest", round(noidx::numeric, 0) AS "no ANN index",
	   round(ingest_stmt::numeric, 0) AS "ms.ingest, statement alone"
  FROM ratios ORDER BY kind, round;

-- the headline: plain and ms.ingest ran back to back in each round, so
-- the ratio within a round is the least disturbed by the machine's load
\echo 'Ingest rate, % of plain bytea with TOAST lz4: median of the per-round ratios, each method with its own writeback'
SELECT kind,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ingest)::numeric, 0)
		   AS "ingest rate, % of plain (target >= 70)",
	   round(min(ingest)::numeric, 0) || '-' || round(max(ingest)::numeric, 0) AS "rounds' range",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY noidx)::numeric, 0) AS "same, no ANN index",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ingest_stmt)::numeric, 0) AS "statements alone"
  FROM ratios
 GROUP BY kind ORDER BY kind;

-- one-record float32 batches: what a call costs beyond its bytes (the
-- authorisation, the frame's row, the processor's setup), against a plain
-- insert of the same 408 bytes; 500 calls a statement, new ids each time
-- the float32 format's ids are little-endian int64
CREATE FUNCTION le_int8(n bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT decode(string_agg(lpad(to_hex((n >> (8 * k)) & 255), 2, '0'), '' ORDER BY k), 'hex')
	  FROM generate_series(0, 7) k
$$;
CREATE TABLE tiny (i int, data bytea);
INSERT INTO tiny
	SELECT g, le_int8(50000000 + g) || substring(data FROM 9 FOR 400)
	  FROM f32_batches, generate_series(1, 500 * 7) g WHERE i = 0;
CREATE TABLE plain_tiny (id serial PRIMARY KEY, received_at timestamptz DEFAULT clock_timestamp(), b bytea COMPRESSION lz4);
CREATE TABLE tiny_results (r int, method text, us float8);
\o /dev/null
SELECT stmt FROM generate_series(0, 6) r,
	LATERAL (VALUES
		(1, 'SELECT set_config(''bench.t0'', clock_timestamp()::text, false)'),
		(2, format('INSERT INTO plain_tiny (b) SELECT data FROM tiny WHERE (i - 1) / 500 = %s ORDER BY i', r)),
		(3, format('INSERT INTO tiny_results VALUES (%s, ''plain bytea'', extract(epoch FROM clock_timestamp() - '
				   'current_setting(''bench.t0'')::timestamptz) * 1e6 / 500)', r)),
		(4, 'SELECT set_config(''bench.t0'', clock_timestamp()::text, false)'),
		(5, format('SELECT count(ms.ingest(''bench'', ''f32'', data)) FROM (SELECT data FROM tiny '
				   'WHERE (i - 1) / 500 = %s ORDER BY i) b', r)),
		(6, format('INSERT INTO tiny_results VALUES (%s, ''ms.ingest'', extract(epoch FROM clock_timestamp() - '
				   'current_setting(''bench.t0'')::timestamptz) * 1e6 / 500)', r))) step(n, stmt)
 ORDER BY r, n \gexec
\o
\echo 'One-record float32 batches (µs per call, median of 6 statements of 500 calls after a warm-up one)'
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FILTER (WHERE method = 'plain bytea')::numeric, 1)
		   AS "plain insert (lz4)",
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FILTER (WHERE method = 'ms.ingest')::numeric, 1)
		   AS "ms.ingest",
	   (SELECT count(*) FROM ms.points p JOIN ms.versions v USING (version_id)
		 WHERE v.model = 'f32' AND p.point_id >= 50000000) AS "points in"
  FROM tiny_results WHERE r > 0;

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
