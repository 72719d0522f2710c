-- msivf lists under inner product (issue 14): on unit vectors from
-- clusters of unequal spread around a shared direction, the lists a build
-- leaves must be of comparable size.  With the means of L2 k-means as
-- centroids and rows assigned by the largest inner product, the long
-- centroids of tight clusters took most rows; one probe then read many
-- times the mean list.  A probe's codes (msivf_last_scan_stats) is the
-- size of the list it read, so one probe per row of a sample of rows
-- reads the lists their rows sit in.  The same data then checks that the
-- order is still exact under strict order, for vec and hvec.
SET client_min_messages = warning;
CREATE SCHEMA msivf_ip_test;
SET search_path = msivf_ip_test, public;
SELECT setseed(0.14);

\getenv abs_srcdir PG_ABS_SRCDIR
\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan

-- 80 clusters in 64 dimensions: a shared direction (the first axis), an
-- offset of 0.3 in a random direction, a noise of norm 0.1 to 0.8,
-- cluster sizes skewed; every row normalised.  The old build's lists on
-- this data: one probe read 5.2 times the mean list on average, 7.9 at
-- most
CREATE TABLE centres AS
	SELECT c, 0.0125 + 0.09 * random() AS spread,
		   array_agg((random() - 0.5)::real ORDER BY j) AS u
	FROM generate_series(1, 80) c, generate_series(1, 64) j GROUP BY c;
UPDATE centres SET u = (SELECT array_agg(x / sqrt((SELECT sum(y * y) FROM unnest(u) y)) * 0.3
										 ORDER BY o)
						FROM unnest(u) WITH ORDINALITY AS t(x, o));
CREATE TABLE items (id int PRIMARY KEY, emb vec(64));
INSERT INTO items
	SELECT i, l2_normalize((SELECT array_agg(((j = 1)::int + u[j] +
											  spread * (random() + random() + random() - 1.5) * 2)::real
											 ORDER BY j)
							FROM generate_series(1, 64) j)::vec)
	FROM (SELECT i, 1 + floor(80 * random() * random())::int AS ci
		  FROM generate_series(1, 4000) i) s
	JOIN centres ON c = ci;
ANALYZE items;
CREATE INDEX items_ip ON items USING msivf (emb vec_ip_ops) WITH (lists = 40);

-- the list each of 200 rows sits in (probes = 1 reads the row's own list
-- first: a row's largest inner product with a centroid is its own list's
-- by construction), as a multiple of the mean list (100 rows)
SET enable_seqscan = off;
SET machinesoup.probes = 1;
CREATE FUNCTION probe_sizes(tbl text) RETURNS TABLE (codes bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	q text;
BEGIN
	FOR r IN SELECT id FROM items WHERE id % 20 = 0 LOOP
		q := format('SELECT id FROM %I ORDER BY emb <#> (SELECT emb FROM %I WHERE id = %s) LIMIT 10',
					tbl, tbl, r.id);
		IF NOT plan_uses_msivf(q) THEN
			RAISE EXCEPTION 'not an msivf scan: %', q;
		END IF;
		EXECUTE q;
		codes := (SELECT s.codes FROM msivf_last_scan_stats() s);
		RETURN NEXT;
	END LOOP;
END $$;
-- largest list read below 4 times the mean, the mean list read below 2
SELECT count(*) AS probes, max(codes) < 4 * 100 AS largest_ok,
	   avg(codes) < 2 * 100 AS mean_ok
FROM probe_sizes('items');

-- exact order under strict order, vec and hvec, against a sequential scan
CREATE TABLE queries AS
	SELECT q AS qid, (SELECT l2_normalize(array_agg(e[j] + (random() * 0.2 - 0.1)::real ORDER BY j)::vec)
					  FROM generate_series(1, 64) j) AS q
	FROM generate_series(1, 10) q
	JOIN LATERAL (SELECT emb::real[] AS e FROM items WHERE id = q * 97) s ON true;
CREATE TABLE hitems AS SELECT id, emb::hvec AS emb FROM items;
CREATE INDEX hitems_ip ON hitems USING msivf (emb hvec_ip_ops) WITH (lists = 40);
ANALYZE hitems;
CREATE FUNCTION mismatches(tbl text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	q text;
	a text;
	b text;
	bad int := 0;
BEGIN
	FOR r IN SELECT qid FROM queries LOOP
		q := format('SELECT id FROM %I ORDER BY emb <#> (SELECT q FROM queries WHERE qid = %s)%s LIMIT 10',
					tbl, r.qid, CASE WHEN tbl = 'hitems' THEN '::hvec' ELSE '' END);
		PERFORM set_config('enable_seqscan', 'off', true);
		IF NOT plan_uses_msivf(q) THEN
			RAISE EXCEPTION 'not an msivf scan: %', q;
		END IF;
		EXECUTE format('SELECT array(%s)::text', q) INTO a;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE format('SELECT array(%s)::text', q) INTO b;
		PERFORM set_config('enable_indexscan', 'on', true);
		IF a IS DISTINCT FROM b THEN
			bad := bad + 1;
		END IF;
	END LOOP;
	RETURN bad;
END $$;
SET machinesoup.scan_order = strict;
SELECT mismatches('items') AS vec_mismatches, mismatches('hitems') AS hvec_mismatches;
RESET machinesoup.scan_order;

-- growth under inner product: an index built on an empty table splits its
-- lists as the rows arrive (the first split's centroids take the rows'
-- common length, later ones their list's); answers stay exact under strict
-- order and a probe still reads lists of comparable size
CREATE TABLE grown (id int PRIMARY KEY, emb vec(64)) WITH (autovacuum_enabled = off);
CREATE INDEX grown_ip ON grown USING msivf (emb vec_ip_ops);
INSERT INTO grown SELECT id, emb FROM items WHERE id <= 1000;
INSERT INTO grown SELECT id, emb FROM items WHERE id > 1000;
SELECT lists BETWEEN 10 AND 200 AS grew FROM msivf_index_info('grown_ip');
SET machinesoup.scan_order = strict;
SELECT mismatches('grown') AS grown_mismatches;
RESET machinesoup.scan_order;
SELECT count(*) AS probes,
	   max(codes) < 4 * 4000 / (SELECT lists FROM msivf_index_info('grown_ip')) AS largest_ok
FROM probe_sizes('grown');
RESET machinesoup.probes;
RESET enable_seqscan;

DROP SCHEMA msivf_ip_test CASCADE;
