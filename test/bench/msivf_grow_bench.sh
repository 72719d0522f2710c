#!/bin/bash
# msivf growth: QPS and recall@10 at default settings of an index built on
# an empty table and grown by 10 batches of inserts, against a fresh build
# on the same data, in the same run (ratio grown / fresh).  "grown" takes
# the 10 batches in one transaction, then VACUUM; "grown, vacuumed" takes
# them in 10 transactions with a VACUUM after each (as autovacuum would),
# so the pages VACUUM frees are reused by the later batches.  Synthetic
# clustered data (ROWS rows of DIMS dims around 200 centres, fixed seed).
# Run with the extension installed:
#   flock /tmp/ms-install.lock test/bench/msivf_grow_bench.sh
set -euo pipefail
ROWS=${ROWS:-50000}
DIMS=${DIMS:-64}
NQ=${NQ:-200}
pg_virtualenv -o 'shared_buffers=1GB' -o 'max_parallel_workers_per_gather=0' \
	-o shared_preload_libraries=machinesoup sh -c "psql -qAtX -v ON_ERROR_STOP=1" <<SQL
CREATE EXTENSION machinesoup;
SELECT setseed(0.42);
CREATE TABLE c AS SELECT i, array_agg((random() * 20 - 10)::real ORDER BY j) a
	FROM generate_series(1, 200) i, generate_series(1, $DIMS) j GROUP BY i;
CREATE TABLE src AS SELECT g AS id, (SELECT array_agg(a[j] + ((random() + random() + random() - 1.5) * 3)::real ORDER BY j)
	FROM generate_series(1, $DIMS) j)::vec AS emb FROM generate_series(1, $ROWS) g JOIN c ON c.i = 1 + abs(hashint4(g)) % 200;
CREATE TABLE q AS SELECT g AS qid, (SELECT array_agg(a[j] + ((random() + random() + random() - 1.5) * 3)::real ORDER BY j)
	FROM generate_series(1, $DIMS) j)::vec AS v FROM generate_series(1, $NQ) g JOIN c ON c.i = 1 + (g * 7) % 200;
CREATE TABLE grown (id int, emb vec($DIMS));
CREATE INDEX grown_idx ON grown USING msivf (emb vec_l2_ops);
DO \$\$ BEGIN FOR b IN 0..9 LOOP
	INSERT INTO grown SELECT * FROM src WHERE id % 10 = b; END LOOP; END \$\$;
CREATE TABLE grownv (id int, emb vec($DIMS)) WITH (autovacuum_enabled = off);
CREATE INDEX grownv_idx ON grownv USING msivf (emb vec_l2_ops);
$(for b in 0 1 2 3 4 5 6 7 8 9; do echo "INSERT INTO grownv SELECT * FROM src WHERE id % 10 = $b; VACUUM grownv;"; done)
CREATE TABLE fresh AS SELECT * FROM grown;
CREATE INDEX fresh_idx ON fresh USING msivf (emb vec_l2_ops);
VACUUM ANALYZE grown; VACUUM ANALYZE grownv; VACUUM ANALYZE fresh;
CREATE TABLE truth AS SELECT qid, array(SELECT id FROM src ORDER BY emb <-> v LIMIT 10) ids FROM q;
CREATE FUNCTION run(t text, OUT qps numeric, OUT recall numeric, OUT lists int, OUT mb numeric) LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz; hits bigint := 0; r int[]; qq record;
BEGIN
	SET LOCAL enable_seqscan = off;
	-- warm
	FOR qq IN SELECT * FROM q LOOP EXECUTE format('SELECT array(SELECT id FROM %I ORDER BY emb <-> \$1 LIMIT 10)', t) INTO r USING qq.v; END LOOP;
	t0 := clock_timestamp();
	FOR i IN 1..3 LOOP FOR qq IN SELECT * FROM q LOOP
		EXECUTE format('SELECT array(SELECT id FROM %I ORDER BY emb <-> \$1 LIMIT 10)', t) INTO r USING qq.v;
		IF i = 1 THEN hits := hits + (SELECT count(*) FROM unnest(r) x WHERE x = ANY ((SELECT ids FROM truth WHERE truth.qid = qq.qid)::int[])); END IF;
	END LOOP; END LOOP;
	qps := round(3 * $NQ / extract(epoch FROM clock_timestamp() - t0), 0);
	recall := round(hits::numeric / (10 * $NQ), 3);
	lists := (SELECT m.lists FROM msivf_index_info((t || '_idx')::regclass) m);
	mb := round(pg_relation_size((t || '_idx')::regclass) / 1048576.0, 1);
END \$f\$;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM grown ORDER BY emb <-> (SELECT v FROM q LIMIT 1) LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM grownv ORDER BY emb <-> (SELECT v FROM q LIMIT 1) LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM fresh ORDER BY emb <-> (SELECT v FROM q LIMIT 1) LIMIT 10;
CREATE TEMP TABLE res AS SELECT 'grown' AS idx, (run('grown')).* UNION ALL SELECT 'grownv', (run('grownv')).*
	UNION ALL SELECT 'fresh', (run('fresh')).*;
SELECT '| index | lists | size MB | QPS | recall@10 |';
SELECT '|---|---|---|---|---|';
SELECT format('| %s | %s | %s | %s | %s |', CASE idx WHEN 'grownv' THEN 'grown, vacuumed' ELSE idx END,
	lists, mb, qps, recall) FROM res ORDER BY idx = 'fresh', idx;
SELECT format('| %s / fresh | | %s | %s | %s |', CASE g WHEN 'grownv' THEN 'grown, vacuumed' ELSE g END,
	round((SELECT mb FROM res WHERE idx = g) / (SELECT mb FROM res WHERE idx = 'fresh'), 2),
	round((SELECT qps FROM res WHERE idx = g) / (SELECT qps FROM res WHERE idx = 'fresh'), 2),
	round((SELECT recall FROM res WHERE idx = g) / (SELECT recall FROM res WHERE idx = 'fresh'), 2))
FROM unnest(ARRAY['grown', 'grownv']) g;
SQL
