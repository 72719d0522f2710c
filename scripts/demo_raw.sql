-- Demo of the raw-data flow (for scripts/demo.sql / the README): a producer
-- ingests batches, a data scientist opens an audited access session with a
-- reason and reads one batch, the producer is refused raw access, and the
-- customer's report lists exactly those accesses.  Needs shared_preload_libraries = 'machinesoup' (the audit writer)
-- and the extension created; uses the demo's "cities" table when present.

\echo
\echo '### raw data: a producer ingests three batches of city coordinates (CSV, LZ4-compressed)'
CREATE ROLE demo_producer;
CREATE ROLE demo_analyst;
CREATE ROLE demo_customer;
SELECT ms.create_model('acme', 'places', 2);
SELECT ms.create_version('acme', 'places', 'v1');		-- processor: the built-in ms.proc_csv
SELECT ms.promote('acme', 'places', 'v1');
SELECT ms.grant('demo_producer', 'ingest', 'acme', 'places');
SELECT ms.grant('demo_analyst', 'raw_read', 'acme', 'places');
SELECT ms.grant('demo_customer', 'admin', 'acme');

SELECT to_regclass('cities') IS NOT NULL AS have_cities \gset
\if :have_cities
CREATE TEMP TABLE demo_rows AS
	SELECT row_number() OVER (ORDER BY name, country) AS id, pos::real[] AS p FROM cities;
\else
CREATE TEMP TABLE demo_rows AS
	SELECT i AS id, ARRAY[(i % 360) - 180, (i % 170) - 85]::real[] AS p FROM generate_series(1, 3000) i;
\endif
GRANT SELECT ON demo_rows TO demo_producer;

SET ROLE demo_producer;
SELECT b AS batch, ms.ingest('acme', 'places',
		convert_to(string_agg(id || ',' || p[1] || ',' || p[2], E'\n' ORDER BY id) || E'\n', 'UTF8')) AS batch_id
  FROM (SELECT id, p, (id - 1) / 1000 AS b FROM demo_rows WHERE id <= 3000) r
 GROUP BY b ORDER BY b;
SELECT batch_id, label, raw_bytes, stored_bytes FROM ms.batches('acme', 'places');
RESET ROLE;
SELECT count(*) AS points_in_v1 FROM ms.knn('acme', 'places', '[2.35,48.85]', 3000);

\echo
\echo '### a data scientist opens an access session (a reason is mandatory) and reads one batch'
SET ROLE demo_analyst;
SELECT ms.open_access('acme', 'places', 'TICKET-4711: duplicate cities near Paris');
SELECT min(batch_id) AS demo_batch FROM ms.batches('acme', 'places') \gset
SELECT split_part(convert_from(ms.read_batch(:demo_batch), 'UTF8'), E'\n', 1) AS first_line;
SELECT ms.close_access();
RESET ROLE;

\echo
\echo '### the producer may ingest but not read raw data: refused, and the refusal is audited'
SET ROLE demo_producer;
\set ON_ERROR_STOP 0
SELECT ms.open_access('acme', 'places', 'just curious');
\set ON_ERROR_STOP 1
RESET ROLE;

\echo
\echo '### what the customer is sent: every access to its raw data (needs admin on the org)'
SET ROLE demo_customer;
SELECT at, role, action, model, batch_id, reason
  FROM ms.access_report('acme')
 WHERE action IN ('open_access', 'read_batch', 'close_access', 'replay', 'expire_access',
				  'refuse_access', 'refuse_read')
 ORDER BY at;
RESET ROLE;

\echo
\echo '### the audit log is hash-chained; verify it'
SELECT * FROM ms.verify_audit();
