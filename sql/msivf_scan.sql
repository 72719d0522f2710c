-- msivf scan controls: machinesoup.scan_order, machinesoup.max_probes and
-- machinesoup.max_scan_tuples.  Every index answer runs on a plan checked
-- to scan the msivf index, and is compared with an exact sequential scan.
SET client_min_messages = warning;
CREATE SCHEMA msivf_scan_test;
SET search_path = msivf_scan_test, public;
SELECT setseed(0.47);

\getenv abs_srcdir PG_ABS_SRCDIR
\set try :abs_srcdir '/sql/include/try.sql'
\i :try

-- 15 blobs in 32 dimensions; 1 row in 97 is 'rare', spread over the blobs
CREATE TABLE centers AS
	SELECT c, array_agg((random() * 20 - 10)::real ORDER BY j) AS a
	FROM generate_series(1, 15) c, generate_series(1, 32) j GROUP BY c;
CREATE TABLE items (id int PRIMARY KEY, category text, emb vec(32));
INSERT INTO items
	SELECT i, CASE WHEN i % 97 = 0 THEN 'rare' ELSE 'common' END,
		   (SELECT array_agg(a[j] + (random() + random() + random() - 1.5)::real ORDER BY j)
			FROM generate_series(1, 32) j)::vec
	FROM generate_series(1, 3000) i JOIN centers ON c = 1 + i % 15;
CREATE TABLE queries AS
	SELECT q AS qid, (SELECT array_agg(a[j] + (random() * 4 - 2)::real ORDER BY j)
					  FROM generate_series(1, 32) j)::vec AS q
	FROM generate_series(1, 30) q JOIN centers ON c = 1 + (q * 7) % 15;
ANALYZE items;
CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops) WITH (lists = 30);
CREATE INDEX items_ip ON items USING msivf (emb vec_ip_ops) WITH (lists = 30);
CREATE INDEX items_cos ON items USING msivf (emb vec_cosine_ops) WITH (lists = 30);

-- the settings, their defaults (today's behaviour) and what they refuse
SHOW machinesoup.scan_order;
SHOW machinesoup.max_probes;
SHOW machinesoup.max_scan_tuples;
SELECT regress_try($$SET machinesoup.scan_order = 'exact'$$);
SELECT regress_try($$SET machinesoup.scan_order = ''$$);
SELECT regress_try($$SET machinesoup.max_probes = -1$$);
SELECT regress_try($$SET machinesoup.max_probes = 'many'$$);
SELECT regress_try($$SET machinesoup.max_scan_tuples = -1$$);
SELECT regress_try($$SET machinesoup.max_scan_tuples = 2147483648$$);
SELECT regress_try($$SET machinesoup.max_scan_tuples = 0$$);
SELECT regress_try($$SET machinesoup.scan_order = STRICT$$);
RESET machinesoup.scan_order;
RESET machinesoup.max_scan_tuples;

\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan
-- every query's answer, in order (the ids, or with distances = true the
-- distances, which rows at the same float distance cannot reorder): by the
-- msivf index (its plan checked) or exactly, by a sequential scan with
-- index scans off
CREATE FUNCTION answers(op text, filter text, k int, use_index bool, qtable text,
						distances bool)
RETURNS TABLE (qid int, ids text)
LANGUAGE plpgsql AS $$
DECLARE
	q text := format(
		'SELECT qid, array(SELECT %s FROM items WHERE %s ORDER BY emb %s q LIMIT %s)::text FROM %I',
		CASE WHEN distances THEN format('emb %s q', op) ELSE 'id' END, filter, op, k, qtable);
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	IF use_index AND NOT plan_uses_msivf(q) THEN
		RAISE EXCEPTION 'no msivf index scan in the plan of %', q;
	END IF;
	RETURN QUERY EXECUTE q;
END $$;
-- how many of the queries' answers differ from the exact ones
CREATE FUNCTION mismatches(op text, filter text, k int, qtable text DEFAULT 'queries',
						   distances bool DEFAULT false)
RETURNS bigint
LANGUAGE sql AS $$
	SELECT count(*) FILTER (WHERE a.ids IS DISTINCT FROM e.ids)
	FROM answers(op, filter, k, true, qtable, distances) a
	JOIN answers(op, filter, k, false, qtable, distances) e USING (qid)
$$;
-- what the index scan node of a query returned and what its filter removed:
-- together, the heap rows the scan produced (at most the entries examined)
CREATE FUNCTION scan_counts(query text, OUT uses_msivf bool, OUT returned int, OUT removed int)
LANGUAGE plpgsql AS $$
DECLARE
	plan jsonb;
	node jsonb;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	uses_msivf := plan_uses_msivf(query);
	EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || query INTO plan;
	node := jsonb_path_query_first(plan, '$.** ? (@."Node Type" == "Index Scan")');
	returned := (node ->> 'Actual Rows')::int;
	removed := coalesce((node ->> 'Rows Removed by Filter')::int, 0);
END $$;

-- strict order: at one probe the answers are the exact ones, for every
-- metric, with and without a selective filter; relaxed order at one probe
-- is not (which shows the comparison can fail)
SET machinesoup.probes = 1;
SELECT mismatches('<->', 'true', 50) > 0 AS relaxed_l2_differs;
SET machinesoup.scan_order = strict;
SELECT mismatches('<->', 'true', 50) AS strict_l2;
-- every row: some rows tie at one float distance, compare the distances
SELECT mismatches('<->', 'true', 3000, distances => true) AS strict_l2_every_row;
SELECT mismatches('<->', $$category = 'rare'$$, 10) AS strict_l2_rare;
SELECT mismatches('<#>', 'true', 50) AS strict_ip;
SELECT mismatches('<=>', 'true', 50) AS strict_cosine;
SELECT mismatches('<=>', $$category = 'rare'$$, 10) AS strict_cosine_rare;
-- the whole index through one strict scan: every row once, in exact order
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id, emb FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1)$$) AS uses_msivf;
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids,
	   bool_and(d >= prev) AS ordered
FROM (SELECT id, d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev
	  FROM (SELECT id, emb <-> (SELECT q FROM queries WHERE qid = 1) AS d,
				   row_number() OVER () AS n
			FROM (SELECT id, emb FROM items
				  ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1)) o) s) t;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 5;
RESET enable_seqscan;
RESET machinesoup.scan_order;

-- queries of tiny components (1e-25: their float32 squared norm underflows
-- to 0), every list probed: still exact under every metric (what the
-- bounds lose to underflow is below their absolute slack)
CREATE TABLE tiny_queries AS
	SELECT qid, (SELECT array_agg(x * 1e-25) FROM unnest(q::real[]) x)::vec AS q FROM queries;
SET machinesoup.probes = 30;
SELECT mismatches('<#>', 'true', 50, 'tiny_queries') AS tiny_ip;
SELECT mismatches('<->', 'true', 50, 'tiny_queries') AS tiny_l2;
SELECT mismatches('<=>', 'true', 50, 'tiny_queries') AS tiny_cosine;
RESET machinesoup.probes;

-- max_scan_tuples: the scan examines at most that many entries, then ends.
-- Without a filter every entry examined is a row returned.
SET machinesoup.max_scan_tuples = 500;
SELECT * FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2)$$);
-- with a filter matching 1 row in 97: fewer rows than the LIMIT, and
-- returned + removed is the entries examined
SELECT uses_msivf, returned < 10 AS fewer_than_limit, returned + removed AS examined
FROM scan_counts($$SELECT id FROM items WHERE category = 'rare'
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2) LIMIT 10$$);
-- the same under strict order
SET machinesoup.scan_order = strict;
SELECT uses_msivf, returned < 10 AS fewer_than_limit, returned + removed AS examined
FROM scan_counts($$SELECT id FROM items WHERE category = 'rare'
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2) LIMIT 10$$);
RESET machinesoup.scan_order;
-- a cap below one page's entries
SET machinesoup.max_scan_tuples = 7;
SELECT * FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <=> (SELECT q FROM queries WHERE qid = 3)$$);
-- a NULL query vector (a generic plan's NULL parameter) returns rows list
-- by list: capped the same way
SET plan_cache_mode = force_generic_plan;
PREPARE null_knn(vec) AS SELECT id FROM items ORDER BY emb <-> $1;
SELECT * FROM scan_counts('EXECUTE null_knn(NULL)');
DEALLOCATE null_knn;
RESET plan_cache_mode;
RESET machinesoup.max_scan_tuples;
-- without the cap the rare filter fills its LIMIT
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items WHERE category = 'rare'
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2) LIMIT 10$$);

-- max_probes: the scan visits at most that many lists, over all its
-- batches.  One list at one probe: all its rows, in exact order among
-- themselves (one batch), then the end.
SET machinesoup.probes = 1;
SET machinesoup.max_probes = 1;
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)$$) AS uses_msivf;
CREATE TEMP TABLE one_list AS
	SELECT id, row_number() OVER () AS n
	FROM (SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)) s;
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)$$);
SELECT count(*) > 0 AND count(*) < 3000 AS one_list_only,
	   array_agg(id ORDER BY n) = array_agg(id ORDER BY (SELECT emb <-> q FROM queries WHERE qid = 4), id)
		   AS exact_order
FROM one_list JOIN items USING (id);
-- with the rare filter: what the one list holds, no more (the filter saw
-- exactly the rows of that list)
SELECT uses_msivf, returned <= 10 AS at_most_limit,
	   returned + removed = (SELECT count(*) FROM one_list) AS saw_one_list,
	   returned = (SELECT count(*) FROM one_list JOIN items USING (id) WHERE category = 'rare')
		   AS rare_of_one_list
FROM scan_counts($$SELECT id FROM items WHERE category = 'rare'
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4) LIMIT 10$$);
-- max_probes below the probe count cuts the first batch; strict order
-- visits max_probes lists too, and returns the same rows, in the same order
SET machinesoup.probes = 30;
SELECT array_agg(id ORDER BY n) = (SELECT array_agg(id ORDER BY n) FROM one_list) AS same_list
FROM (SELECT id, row_number() OVER () AS n
	  FROM (SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)) s) t;
SET machinesoup.scan_order = strict;
SELECT array_agg(id ORDER BY n) = (SELECT array_agg(id ORDER BY n) FROM one_list) AS same_list_strict
FROM (SELECT id, row_number() OVER () AS n
	  FROM (SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)) s) t;
RESET machinesoup.scan_order;
-- two lists see more rows than one
SET machinesoup.probes = 1;
SET machinesoup.max_probes = 2;
SELECT returned > (SELECT count(*) FROM one_list) AS two_lists_see_more
FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)$$);
-- a cursor keeps the caps it started with
CREATE FUNCTION cursor_rows() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	c refcursor;
	r record;
	n bigint := 0;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('machinesoup.max_probes', '1', true);
	IF NOT plan_uses_msivf('SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)') THEN
		RAISE EXCEPTION 'the cursor would not scan the msivf index';
	END IF;
	OPEN c FOR SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4);
	FETCH c INTO r;
	PERFORM set_config('machinesoup.max_probes', '0', true);
	LOOP
		EXIT WHEN NOT FOUND;
		n := n + 1;
		FETCH c INTO r;
	END LOOP;
	CLOSE c;
	RETURN n;
END $$;
SELECT cursor_rows() = (SELECT count(*) FROM one_list) AS cursor_kept_cap;
RESET enable_seqscan;
RESET machinesoup.max_probes;
RESET machinesoup.probes;
-- defaults: the whole index through one scan, as before
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 4)$$);

-- msivf_last_scan_stats(): under strict order one scan reads every list
-- and estimates every entry's code; the rerank finds every row it fetches
-- (nothing is dead); without machinesoup.scan_timing nothing is timed
SET machinesoup.scan_order = strict;
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 3) LIMIT 10$$);
SELECT scans, lists, pages >= lists AS pages_ok, codes, reranks >= 10 AS reranked,
	   heap_rows = reranks AS all_found, centroid_ms = 0 AND list_ms = 0 AND rerank_ms = 0 AS untimed
FROM msivf_last_scan_stats();
-- max_probes 2 caps the lists; msivf_scan_stats() counts one more scan
CREATE TEMP TABLE stats_before AS SELECT * FROM msivf_scan_stats();
SET machinesoup.max_probes = 2;
SET machinesoup.scan_timing = on;
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 3) LIMIT 10$$);
SELECT scans, lists, codes < 3000 AS fewer_codes, list_ms > 0 AS list_timed,
	   rerank_ms > 0 AS rerank_timed, centroid_ms >= 0 AS centroid_timed
FROM msivf_last_scan_stats();
SELECT a.scans - b.scans AS scans, a.lists - b.lists AS lists
FROM msivf_scan_stats() a, stats_before b;
RESET machinesoup.scan_timing;
RESET machinesoup.max_probes;
RESET machinesoup.scan_order;

-- machinesoup.scan_deepen: the probe count is for 10 rows; a scan asked
-- for more widens its lists as the rows returned double (to ceil(probes *
-- (depth / 10)^(1/4)) lists for depth rows), before its pool runs dry.
-- 100 rows at 4 probes: past 80 rows it reads ceil(4 * 16^(1/4)) = 8 lists;
-- without deepening the 4 lists of its first batch (they hold over 100 rows)
SHOW machinesoup.scan_deepen;
SET machinesoup.probes = 4;
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 5) LIMIT 100$$);
SELECT lists AS deepened_lists FROM msivf_last_scan_stats();
-- 10 rows: no deepening
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 5) LIMIT 10$$);
SELECT lists AS lists_10_rows FROM msivf_last_scan_stats();
SET machinesoup.scan_deepen = off;
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 5) LIMIT 100$$);
SELECT lists AS undeepened_lists FROM msivf_last_scan_stats();
-- a cap still holds: max_probes 6 stops the widening at 6 lists
RESET machinesoup.scan_deepen;
SET machinesoup.max_probes = 6;
SELECT uses_msivf, returned FROM scan_counts($$SELECT id FROM items
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 5) LIMIT 100$$);
SELECT lists AS capped_lists FROM msivf_last_scan_stats();
RESET machinesoup.max_probes;
-- a filter that keeps 1 % of 30,000 rows (category = id % 100), at the
-- default settings: the planner takes the index (the filter in the scan
-- node, no sort), every query fills its page, and the widened lists find
-- more of the exact answers than the first batch and its doublings alone
CREATE TABLE filtered (id int, category int, emb vec(32));
INSERT INTO filtered
	SELECT i, i % 100, (SELECT array_agg(a[j] + (random() + random() - 1)::real ORDER BY j)
						FROM generate_series(1, 32) j)::vec
	FROM generate_series(1, 30000) i JOIN centers ON c = 1 + i % 15;
CREATE INDEX filtered_l2 ON filtered USING msivf (emb vec_l2_ops);
ANALYZE filtered;
EXPLAIN (COSTS OFF) SELECT id FROM filtered WHERE category = 7
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 5) LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM filtered WHERE category < 10
	ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 5) LIMIT 10;
-- the answers of every query, through the index or exactly
CREATE FUNCTION filtered_answers(use_index bool) RETURNS TABLE (qid int, ids int[])
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	q text;
BEGIN
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	FOR r IN SELECT queries.qid, queries.q FROM queries LOOP
		q := format('SELECT id FROM filtered WHERE category = %s ORDER BY emb <-> %L LIMIT 10',
					r.qid, r.q);
		IF use_index AND NOT plan_uses_msivf(q) THEN
			RAISE EXCEPTION 'no msivf index scan in the plan of %', q;
		END IF;
		qid := r.qid;
		EXECUTE format('SELECT array(%s)', q) INTO ids;
		RETURN NEXT;
	END LOOP;
END $$;
-- the share of the exact answers found
CREATE FUNCTION filtered_recall() RETURNS numeric
LANGUAGE sql AS $$
	SELECT round(avg(cardinality(ARRAY(SELECT unnest(a.ids) INTERSECT SELECT unnest(e.ids))))::numeric / 10, 3)
	FROM filtered_answers(true) a JOIN filtered_answers(false) e USING (qid)
$$;
SELECT min(cardinality(ids)) AS min_rows, max(cardinality(ids)) AS max_rows FROM filtered_answers(true);
SET machinesoup.scan_deepen = off;
SELECT filtered_recall() AS recall_undeepened \gset
RESET machinesoup.scan_deepen;
SELECT filtered_recall() AS recall_deepened \gset
SELECT :recall_undeepened < 1 AS undeepened_misses, :recall_deepened > :recall_undeepened AS deepening_finds_more;
-- strict order reads every list first: exact, deepening or not (which
-- the planner prices as a read of the whole index: seq scans off)
SET machinesoup.scan_order = strict;
SET enable_seqscan = off;
SELECT filtered_recall() AS strict_recall;
RESET enable_seqscan;
RESET machinesoup.scan_order;

-- 8-bit codes through every part of the integer estimate's kernels (200
-- dimensions: a 128-byte step, a 64-byte step and a tail of 8): at one
-- probe under strict order, each metric's first 10 rows of every query
-- are the exact ones, which they could not be if a bound were too tight
CREATE TABLE wide8 (id int, emb vec(200));
INSERT INTO wide8
	SELECT i, (SELECT array_agg((random() * 2 - 1 + (i % 7) * 0.5 + j * 0)::real ORDER BY j)
			   FROM generate_series(1, 200) j)::vec
	FROM generate_series(1, 1500) i;
CREATE TABLE wide8_q AS
	SELECT q AS qid, (SELECT array_agg((random() * 2 - 1 + (q % 7) * 0.5 + j * 0)::real ORDER BY j)
					  FROM generate_series(1, 200) j)::vec AS q
	FROM generate_series(1, 12) q;
CREATE INDEX wide8_l2 ON wide8 USING msivf (emb vec_l2_ops) WITH (lists = 20);
CREATE INDEX wide8_ip ON wide8 USING msivf (emb vec_ip_ops) WITH (lists = 20);
CREATE INDEX wide8_cos ON wide8 USING msivf (emb vec_cosine_ops) WITH (lists = 20);
CREATE FUNCTION wide8_mismatches(op text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	q text;
	a text;
	b text;
	bad int := 0;
BEGIN
	FOR r IN SELECT qid FROM wide8_q LOOP
		q := format('SELECT id FROM wide8 ORDER BY emb %s (SELECT q FROM wide8_q WHERE qid = %s) LIMIT 10',
					op, r.qid);
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
SET machinesoup.probes = 1;
SELECT op, wide8_mismatches(op) AS mismatches FROM unnest(array['<->', '<#>', '<=>']) op;
-- the comparison can fail: relaxed order at one probe misses rows
SET machinesoup.scan_order = relaxed;
SELECT wide8_mismatches('<->') > 0 AS relaxed_differs;
RESET machinesoup.probes;
RESET machinesoup.scan_order;

DROP FUNCTION regress_try(text), regress_try_value(text);
RESET search_path;
DROP SCHEMA msivf_scan_test CASCADE;
