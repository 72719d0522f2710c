-- msivf over hvec columns: hvec_l2_ops, hvec_ip_ops, hvec_cosine_ops.
-- Plans are asserted to use the index before its answers are compared
-- with the exact ones.
SET client_min_messages = warning;
-- own schema: the suites share one database
CREATE SCHEMA hvec_msivf_test;
SET search_path = hvec_msivf_test, public;
\getenv abs_srcdir PG_ABS_SRCDIR
\set msivf_plan :abs_srcdir '/sql/include/msivf_plan.sql'
\i :msivf_plan
SET extra_float_digits = 0;
SELECT setseed(0.42);
CREATE TABLE hvec_m AS
SELECT i AS id,
	   (SELECT array_agg((c * 10 + random() + 0 * d)::real) FROM generate_series(1, 32) d)::hvec AS h
  FROM generate_series(1, 3000) i, LATERAL (SELECT (i % 20)::real AS c) cc;
CREATE TABLE hvec_mq AS SELECT id, h FROM hvec_m WHERE id % 300 = 7;
CREATE INDEX hvec_m_l2 ON hvec_m USING msivf (h hvec_l2_ops) WITH (lists = 20);
SELECT dims, lists, metric FROM msivf_index_info('hvec_m_l2');
SET machinesoup.probes = 20;
-- the table is small: without this the planner prefers to sort it
SET enable_seqscan = off;
SELECT plan_uses_msivf($$SELECT id FROM hvec_m ORDER BY h <-> '$$ || (SELECT h FROM hvec_mq LIMIT 1)::text || $$' LIMIT 10$$);
-- with every list probed, the index answer is the exact answer, in order
SELECT count(*) AS differing FROM hvec_mq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM hvec_m ORDER BY h <-> q.h LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM hvec_m ORDER BY h::vec <-> q.h::vec, id LIMIT 10) s) b
 WHERE a.got IS DISTINCT FROM b.want AND
	   (SELECT array_agg(round((h <-> q.h)::numeric, 6)) FROM hvec_m WHERE id = ANY (a.got)) IS DISTINCT FROM
	   (SELECT array_agg(round((h <-> q.h)::numeric, 6)) FROM hvec_m WHERE id = ANY (b.want));
-- the distances the index returns are those of the operator
SELECT count(*) FROM (SELECT id, h <-> q AS d FROM hvec_m, (SELECT h AS q FROM hvec_mq LIMIT 1) c
					  ORDER BY h <-> q LIMIT 10) s
 WHERE d <> (SELECT h <-> (SELECT h FROM hvec_mq LIMIT 1) FROM hvec_m m WHERE m.id = s.id);
DROP INDEX hvec_m_l2;

CREATE INDEX hvec_m_ip ON hvec_m USING msivf (h hvec_ip_ops) WITH (lists = 20);
CREATE INDEX hvec_m_cos ON hvec_m USING msivf (h hvec_cosine_ops) WITH (lists = 20);
SELECT plan_uses_msivf($$SELECT id FROM hvec_m ORDER BY h <#> '$$ || (SELECT h FROM hvec_mq LIMIT 1)::text || $$' LIMIT 10$$) AS ip,
	   plan_uses_msivf($$SELECT id FROM hvec_m ORDER BY h <=> '$$ || (SELECT h FROM hvec_mq LIMIT 1)::text || $$' LIMIT 10$$) AS cos;
-- recall@10 at default probes (target recall) against the exact answer
RESET machinesoup.probes;
SELECT avg(cardinality(ARRAY(SELECT unnest(a.got) INTERSECT SELECT unnest(b.want))))::numeric(4,2) >= 9 AS cos_recall_ok
  FROM hvec_mq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM hvec_m ORDER BY h <=> q.h LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM hvec_m ORDER BY h::vec <=> q.h::vec LIMIT 10) s) b;
SELECT avg(cardinality(ARRAY(SELECT unnest(a.got) INTERSECT SELECT unnest(b.want))))::numeric(4,2) >= 9 AS ip_recall_ok
  FROM hvec_mq q,
	LATERAL (SELECT array_agg(id) AS got FROM (SELECT id FROM hvec_m ORDER BY h <#> q.h LIMIT 10) s) a,
	LATERAL (SELECT array_agg(id) AS want FROM (SELECT id FROM hvec_m ORDER BY h::vec <#> q.h::vec LIMIT 10) s) b;
-- inserts after the build are found
INSERT INTO hvec_m VALUES (9999, (SELECT array_agg(-5::real) FROM generate_series(1, 32))::hvec);
SET machinesoup.probes = 20;
SELECT id FROM hvec_m ORDER BY h <=> (SELECT array_agg(-5::real) FROM generate_series(1, 32))::hvec LIMIT 1;
RESET search_path;
DROP SCHEMA hvec_msivf_test CASCADE;
