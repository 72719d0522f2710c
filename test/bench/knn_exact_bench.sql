-- Driven by knn_exact_bench.sh (variables: datadir, sample = how many of
-- the queries run as separate ORDER BY ... LIMIT scans).
-- server-side COPY (the cluster's superuser runs this script): psql
-- expands variables in SQL, not in \copy
\set rowsfile :datadir '/rows.tsv'
\set queriesfile :datadir '/queries.tsv'
\set exactfile :datadir '/exact.tsv'
\set timesfile :datadir '/times.tsv'

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS machinesoup;
-- one core for everyone: no parallel workers for the separate scans
SET max_parallel_workers_per_gather = 0;

CREATE TABLE glove (id int, v vec(100));
COPY glove FROM :'rowsfile';
CREATE TABLE queries (qn int, q vec(100));
COPY queries FROM :'queriesfile';
VACUUM ANALYZE glove;
VACUUM ANALYZE queries;
SELECT count(*) AS rows FROM glove \gset
-- warm the cache so neither contender pays for the first read
SELECT count(*) FROM glove WHERE v IS NOT NULL \gset

CREATE TABLE times (name text, ms float8, n int);

CREATE FUNCTION bench_exact(tag text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	runs float8[] := '{}';
BEGIN
	FOR i IN 1..3 LOOP
		DROP TABLE IF EXISTS exact_res;
		t0 := clock_timestamp();
		CREATE TABLE exact_res AS
		SELECT * FROM vec_knn_exact('glove', 'v', (SELECT array_agg(q ORDER BY qn) FROM queries), 10, 'cosine');
		runs := runs || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	INSERT INTO times
	SELECT tag, percentile_cont(0.5) WITHIN GROUP (ORDER BY r), (SELECT count(*) FROM queries)
	FROM unnest(runs) r;
END $$;

SELECT bench_exact('vec_knn_exact_64MB') FROM (SELECT set_config('work_mem', '64MB', false)) s;
SELECT bench_exact('vec_knn_exact') FROM (SELECT set_config('work_mem', '4MB', false)) s;

-- the same queries one at a time, as an application would send them
CREATE TABLE separate_res (qn int, ids int[]);
CREATE FUNCTION bench_separate(sample int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	r record;
	ids int[];
	n int := 0;
BEGIN
	t0 := clock_timestamp();
	FOR r IN SELECT qn, q FROM queries
			 WHERE qn % ((SELECT count(*) FROM queries) / sample) = 1 ORDER BY qn LOOP
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM glove ORDER BY v <=> %L::vec LIMIT 10) s', r.q)
			INTO ids;
		INSERT INTO separate_res VALUES (r.qn, ids);
		n := n + 1;
	END LOOP;
	INSERT INTO times VALUES ('separate', extract(epoch FROM clock_timestamp() - t0) * 1000, n);
END $$;
SELECT bench_separate(:sample);

-- separate answers that name other rows than vec_knn_exact's
INSERT INTO times
SELECT 'separate_mismatch', 0, count(*) FROM separate_res s
WHERE NOT (SELECT array_agg(g.id ORDER BY g.id)
		   FROM exact_res e JOIN glove g ON g.ctid = e.row_tid WHERE e.query_no = s.qn)
	  = (SELECT array_agg(x ORDER BY x) FROM unnest(s.ids) x);

COPY (SELECT e.query_no, e.rank, g.id, e.distance FROM exact_res e JOIN glove g ON g.ctid = e.row_tid ORDER BY 1, 2) TO :'exactfile';
COPY times TO :'timesfile';
