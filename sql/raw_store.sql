-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- Raw batches: ingest, processors, replay, access sessions and their
-- privilege checks.  Errors are shown terse with their SQLSTATE.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE ROLE raw_producer;
CREATE ROLE raw_scientist;
CREATE ROLE raw_boss;
CREATE ROLE raw_nobody;
CREATE ROLE raw_other_sci;

SELECT ms.create_model('raw-acme', 'geo', 2);
SELECT ms.create_model('raw-acme', 'cams', 3);
SELECT ms.create_model('raw-other', 'geo', 2);
SELECT ms.create_version('raw-acme', 'geo', 'v1');
SELECT ms.create_version('raw-acme', 'geo', 'v2');
SELECT ms.create_version('raw-acme', 'cams', 'bin', 'ms.proc_float32(bytea,integer)');
SELECT ms.create_version('raw-other', 'geo', 'v1');
SELECT ms.promote('raw-acme', 'geo', 'v1');
SELECT ms.promote('raw-acme', 'cams', 'bin');
SELECT ms.promote('raw-other', 'geo', 'v1');
SELECT ms.grant('raw_producer', 'ingest', 'raw-acme');
SELECT ms.grant('raw_producer', 'ingest', 'raw-other');
SELECT ms.grant('raw_scientist', 'raw_read', 'raw-acme', 'geo');
SELECT ms.grant('raw_scientist', 'stage', 'raw-acme', 'geo');
SELECT ms.grant('raw_boss', 'admin', 'raw-acme');
SELECT ms.grant('raw_other_sci', 'raw_read', 'raw-other', 'geo');

-- ingest: label NULL routes to the default label
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'1,0.5,1.5\n2,3,4\n', 'UTF8')) AS b1 \gset
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'3,-1,1e3\n4,0,.25', 'UTF8'), 'v2') AS b2 \gset
SELECT ms.ingest('raw-other', 'geo', convert_to(E'7,7,7\n', 'UTF8')) AS b_other \gset
-- float32 records: id 9, (1.5, -2, 0.25)
SELECT ms.ingest('raw-acme', 'cams', '\x0900000000000000 0000c03f 000000c0 0000803e'::bytea) AS b_cams \gset
SELECT label, raw_bytes FROM ms.batches('raw-acme', 'geo') ORDER BY batch_id;
RESET ROLE;
SELECT v.label, p.point_id, p.embedding, p.payload
  FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE p.org LIKE 'raw-%' ORDER BY p.org, v.model, v.label, p.point_id;
-- frames are LZ4 frames stored out of line, uncompressed by TOAST
SELECT substr(frame, 1, 4) = '\x04224d18'::bytea AS lz4_magic,
	   stored_bytes = length(frame) AS stored_ok,
	   ms._lz4_decode(frame, raw_bytes, batch_id) = convert_to(E'1,0.5,1.5\n2,3,4\n', 'UTF8') AS round_trip
  FROM ms.raw_batches WHERE batch_id = :b1;
SELECT attstorage FROM pg_attribute WHERE attrelid = 'ms.raw_batches'::regclass AND attname = 'frame';

-- every bad input of the built-in processors: an error naming the line or
-- record, and the whole batch rolled back (no frame, no point)
SELECT count(*) AS batches_before FROM ms.raw_batches \gset
SELECT count(*) AS points_before FROM ms.points \gset
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\n11,1,2,3\n', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\n11,1\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,x\n', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\n11,NaN,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,-Infinity,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1e39,2\n', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1e-60,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\n\n11,1,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\r\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\n\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', '\x31302c312c320a31312c0032'::bytea);
SELECT ms.ingest('raw-acme', 'geo', ''::bytea);
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'1.5,1,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'99999999999999999999,1,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10, 1,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,0x1p3,2\n', 'UTF8'));
SELECT ms.ingest('raw-acme', 'geo', NULL);
-- a duplicate point id within a batch is refused by the model store
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'10,1,2\n10,1,2\n', 'UTF8'));
-- float32: a record cut short, a NaN, nothing at all
SELECT ms.ingest('raw-acme', 'cams', '\x0900000000000000 0000c03f 000000c0 0000803e 0a00'::bytea);
\echo :LAST_ERROR_SQLSTATE
SELECT ms.ingest('raw-acme', 'cams', '\x0900000000000000 0000c03f 0000c07f 0000803e'::bytea);
SELECT ms.ingest('raw-acme', 'cams', '\x'::bytea);
RESET ROLE;
SELECT count(*) - :batches_before AS new_batches, (SELECT count(*) FROM ms.points) - :points_before AS new_points
  FROM ms.raw_batches;
-- a zero vector has no cosine distance
SELECT ms.create_model('raw-acme', 'cos', 2, 'cosine');
SELECT ms.create_version('raw-acme', 'cos', 'v1');
SELECT ms.ingest('raw-acme', 'cos', convert_to(E'1,1,0\n2,0,0\n', 'UTF8'), 'v1');
SELECT ms.ingest('raw-acme', 'cos', convert_to(E'1,1,0\n2,0,1e-30\n', 'UTF8'), 'v1') > 0 AS ingested;
-- the built-ins called directly
SELECT * FROM ms.proc_csv(convert_to(E'5,1.25\n-6,2\n', 'UTF8'), 1);
SELECT * FROM ms.proc_csv(convert_to(E'5,1.25\n', 'UTF8'), 0);
SELECT * FROM ms.proc_float32('\x0500000000000000 0000a03f'::bytea, 1);
SELECT * FROM ms.proc_float32('\x05'::bytea, 20000);

-- privilege denials (42501), the same for a model that does not exist
SET ROLE raw_nobody;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'1,1,1\n', 'UTF8'));
\echo :LAST_ERROR_SQLSTATE
SELECT ms.ingest('raw-acme', 'nosuch', convert_to(E'1,1,1\n', 'UTF8'));
SELECT * FROM ms.batches('raw-acme', 'geo');
SELECT ms.open_access('raw-acme', 'geo', 'curious');
SELECT ms.read_batch(:b1);
\echo :LAST_ERROR_SQLSTATE
SELECT ms.replay('raw-acme', 'geo', 'v2');
SELECT * FROM ms.access_report('raw-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM ms.raw_batches;
SELECT * FROM ms.audit_log;
SELECT ms._audit('read_batch', 'raw-acme', 'geo', NULL, 1, 'forged');
SELECT * FROM ms.verify_audit();
SELECT ms._lz4_decode('\x00'::bytea, 1, 1);
SELECT * FROM ms._run_processor(NULL, '\x00'::bytea, 1, NULL, NULL, NULL);
SELECT ms._insert_points('raw-acme', 1, NULL, 2, 'l2', '\x00'::bytea, NULL, NULL);
RESET ROLE;
-- ingest alone: no raw reading, no replay, no report
SET ROLE raw_producer;
SELECT ms.open_access('raw-acme', 'geo', 'I made it');
SELECT ms.replay('raw-acme', 'geo', 'v2');
SELECT * FROM ms.access_report('raw-acme');
SELECT count(*) FROM ms.batches('raw-acme', 'geo');
RESET ROLE;
-- admin of the org does not imply raw_read
SET ROLE raw_boss;
SELECT ms.open_access('raw-acme', 'geo', 'I am the boss');
RESET ROLE;
-- raw_read on geo is not raw_read on cams
SET ROLE raw_scientist;
SELECT ms.open_access('raw-acme', 'cams', 'wrong model');
SELECT * FROM ms.batches('raw-acme', 'cams');
-- a reason is required
SELECT ms.open_access('raw-acme', 'geo', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT ms.open_access('raw-acme', 'geo', '   ');
SELECT ms.read_batch(:b1);
SELECT org, model, reason FROM ms.access_session();

-- an access session: reads of its own model only
SELECT ms.open_access('raw-acme', 'geo', 'ticket 17: wrong distances');
SELECT org, model, reason, expires_at > opened_at AS expires FROM ms.access_session();
SELECT convert_from(ms.read_batch(:b1), 'UTF8');
SELECT convert_from(ms.read_batch(:b2), 'UTF8');
-- another org's batch, another model's, and none at all: the same refusal
SELECT ms.read_batch(:b_other);
SELECT ms.read_batch(:b_cams);
SELECT ms.read_batch(-1);
-- a read inside a transaction that rolls back is still recorded
BEGIN;
SELECT length(ms.read_batch(:b1));
ROLLBACK;
SELECT ms.close_access();
SELECT ms.close_access();
SELECT ms.read_batch(:b1);
RESET ROLE;
-- the other org's scientist cannot reach acme's batch either
SET ROLE raw_other_sci;
SELECT ms.open_access('raw-other', 'geo', 'debug');
SELECT ms.read_batch(:b1);
SELECT length(ms.read_batch(:b_other));
SELECT ms.close_access();
RESET ROLE;

-- replay into the staged version: only this model's batches, of the
-- version's own label unless another is named
SET ROLE raw_scientist;
SELECT ms.replay('raw-acme', 'geo', 'v2');
SELECT ms.replay('raw-acme', 'geo', 'v2', NULL, NULL, 'v1');
SELECT ms.replay('raw-acme', 'geo', 'v2', '2999-01-01', NULL, 'v1');
SELECT ms.replay('raw-other', 'geo', 'v1');
RESET ROLE;
SELECT p.point_id, p.embedding
  FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE v.org = 'raw-acme' AND v.model = 'geo' AND v.label = 'v2' ORDER BY 1;


-- a damaged frame is an error (data_corrupted), never garbage
UPDATE ms.raw_batches SET frame = set_byte(frame, 20, get_byte(frame, 20) # 255) WHERE batch_id = :b1;
UPDATE ms.raw_batches SET frame = substr(frame, 1, length(frame) - 3) WHERE batch_id = :b2;
SET ROLE raw_scientist;
SELECT ms.open_access('raw-acme', 'geo', 'ticket 18');
SELECT ms.read_batch(:b1);
\echo :LAST_ERROR_SQLSTATE
SELECT ms.read_batch(:b2);
\echo :LAST_ERROR_SQLSTATE
SELECT ms.replay('raw-acme', 'geo', 'v2');
\echo :LAST_ERROR_SQLSTATE
SELECT ms.close_access();
RESET ROLE;

-- what the customer is sent: every access to its data, and nothing else's
SET ROLE raw_boss;
SELECT role, action, model, label, batch_id IS NOT NULL AS has_batch,
	   client_addr IS NOT DISTINCT FROM inet_client_addr() AS addr_ok, reason
  FROM ms.access_report('raw-acme')
 WHERE action NOT IN ('grant', 'promote')
 ORDER BY at;
SELECT count(*) FROM ms.access_report('raw-acme', now() + interval '1 day');
SELECT * FROM ms.access_report('raw-other');
RESET ROLE;
SELECT count(*) FILTER (WHERE action = 'grant') AS grants,
	   count(*) FILTER (WHERE action = 'promote') AS promotions
  FROM ms.audit_log WHERE org LIKE 'raw-%';

-- rows written into the governance tables directly (as pg_restore does)
-- are not audited as grants: only the API's are
SELECT count(*) AS audit_rows FROM ms.audit_log \gset
INSERT INTO ms.grants (org, role, privilege, granted_by) VALUES ('raw-acme', 'raw_nobody', 'query', 'restore');
DELETE FROM ms.grants WHERE granted_by = 'restore';
SELECT count(*) - :audit_rows AS new_audit_rows FROM ms.audit_log;

-- the log is append-only and its chain intact
SELECT ok, first_bad FROM ms.verify_audit();
-- (row security hides the rows from a role granted the table privileges:
-- see governance_caller; the triggers stop one that bypasses it)
GRANT SELECT, UPDATE, DELETE, TRUNCATE ON ms.audit_log TO raw_boss;
ALTER ROLE raw_boss BYPASSRLS;
SET ROLE raw_boss;
UPDATE ms.audit_log SET reason = 'nothing to see' WHERE org = 'raw-acme';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM ms.audit_log WHERE org = 'raw-acme';
TRUNCATE ms.audit_log;
RESET ROLE;
ALTER ROLE raw_boss NOBYPASSRLS;
REVOKE ALL ON ms.audit_log FROM raw_boss;
SELECT ok, first_bad FROM ms.verify_audit();

-- ms.ingest keeps its authorisation answers for the session, and grants,
-- role memberships and promotions change them at once
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'60,1,1\n', 'UTF8')) AS nb \gset
SELECT label FROM ms.batches('raw-acme', 'geo') WHERE batch_id = :nb;
RESET ROLE;
SELECT ms.revoke('raw_producer', 'ingest', 'raw-acme');
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'61,1,1\n', 'UTF8'));
RESET ROLE;
CREATE ROLE raw_producers NOLOGIN;
SELECT ms.grant('raw_producers', 'ingest', 'raw-acme', 'geo');
GRANT raw_producers TO raw_producer;
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'61,1,1\n', 'UTF8')) > 0 AS ingested_as_member;
RESET ROLE;
REVOKE raw_producers FROM raw_producer;
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'62,1,1\n', 'UTF8'));
RESET ROLE;
SELECT ms.grant('raw_producer', 'ingest', 'raw-acme');
SELECT ms.promote('raw-acme', 'geo', 'v2');
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'62,1,1\n', 'UTF8')) AS nb \gset
SELECT label FROM ms.batches('raw-acme', 'geo') WHERE batch_id = :nb;
RESET ROLE;
SELECT ms.revoke('raw_producers', 'ingest', 'raw-acme', 'geo');
DROP ROLE raw_producers;

-- ms._authorise is internal: not for PUBLIC, and its bad arguments are
-- clear errors
SET ROLE raw_producer;
SELECT * FROM ms._authorise('raw-acme', 'geo', NULL, 'ingest', 'ingest into');
RESET ROLE;
SELECT * FROM ms._authorise(NULL, 'geo', NULL, 'ingest', NULL);
SELECT * FROM ms._authorise('raw-acme', 'geo', NULL, NULL, NULL);
SELECT * FROM ms._authorise('raw-acme', 'geo', 'Bad Label', 'ingest', NULL);
SELECT * FROM ms._authorise('raw-acme', 'geo', NULL, repeat('x', 40), NULL);
SELECT * FROM ms._authorise('raw-acme', 'geo', NULL, 'read', NULL);
SELECT * FROM ms._authorise('raw-acme', 'nosuch', NULL, 'ingest', NULL);
SELECT dims, metric, resolved_label FROM ms._authorise('raw-acme', 'geo', NULL, 'ingest', NULL);

-- raw_read on a label reads that label's batches and no other's; a session
-- on the whole model (no label) needs raw_read on the model or org without
-- a label; ms.batches lists only the labels the caller may see
SELECT ms.create_model('raw-acme', 'lab', 2);
SELECT ms.create_version('raw-acme', 'lab', 'live');
SELECT ms.create_version('raw-acme', 'lab', 'staged');
SELECT ms.promote('raw-acme', 'lab', 'live');
CREATE ROLE raw_live_sci;
CREATE ROLE raw_staged_sci;
CREATE ROLE raw_staged_ingest;
CREATE ROLE raw_lab_query;
SELECT ms.grant('raw_live_sci', 'raw_read', 'raw-acme', 'lab', 'live');
SELECT ms.grant('raw_staged_sci', 'raw_read', 'raw-acme', 'lab', 'staged');
SELECT ms.grant('raw_staged_ingest', 'ingest', 'raw-acme', 'lab', 'staged');
SELECT ms.grant('raw_lab_query', 'query', 'raw-acme', 'lab');
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'lab', convert_to(E'1,1,1\n', 'UTF8')) AS l_live \gset
SELECT ms.ingest('raw-acme', 'lab', convert_to(E'2,2,2\n', 'UTF8'), 'staged') AS l_staged \gset
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'80,8,8\n', 'UTF8'), 'v1') AS g1 \gset
SELECT ms.ingest('raw-acme', 'geo', convert_to(E'81,8,1\n', 'UTF8'), 'v2') AS g2 \gset
RESET ROLE;
SET ROLE raw_live_sci;
SELECT ms.open_access('raw-acme', 'lab', 'whole model');
SELECT ms.read_batch(:l_staged);
SELECT ms.open_access('raw-acme', 'lab', 'ticket 20', 'live');
SELECT org, model, label, reason, state FROM ms.access_session();
SELECT convert_from(ms.read_batch(:l_live), 'UTF8');
-- the other label's batch, another model's, and none: the same refusal
SELECT ms.read_batch(:l_staged);
SELECT ms.read_batch(:g1);
SELECT ms.read_batch(-1);
SELECT ms.open_access('raw-acme', 'lab', 'not my label', 'staged');
SELECT ms.close_access();
SELECT label FROM ms.batches('raw-acme', 'lab');
RESET ROLE;
-- a grant on a label that is not the default
SET ROLE raw_staged_sci;
SELECT ms.open_access('raw-acme', 'lab', 'ticket 21', 'staged');
SELECT convert_from(ms.read_batch(:l_staged), 'UTF8');
SELECT ms.read_batch(:l_live);
SELECT ms.close_access();
SELECT label FROM ms.batches('raw-acme', 'lab');
RESET ROLE;
-- ingest on a label lists that label's batches; query lists none; no
-- grant at all is the refusal of a model that does not exist
SET ROLE raw_staged_ingest;
SELECT label FROM ms.batches('raw-acme', 'lab');
RESET ROLE;
SET ROLE raw_lab_query;
SELECT * FROM ms.batches('raw-acme', 'lab');
RESET ROLE;
SET ROLE raw_nobody;
SELECT * FROM ms.batches('raw-acme', 'lab');
SELECT * FROM ms.batches('raw-acme', 'nosuch');
SELECT ms.open_access('raw-acme', 'lab', 'no grant', 'live');
SELECT ms.open_access('raw-acme', 'nosuch', 'no grant', 'live');
RESET ROLE;
-- raw_read on the model: any one label, or all of them
SET ROLE raw_scientist;
SELECT ms.open_access('raw-acme', 'geo', 'ticket 22', 'v1');
SELECT convert_from(ms.read_batch(:g1), 'UTF8');
SELECT ms.read_batch(:g2);
SELECT ms.open_access('raw-acme', 'geo', 'bad label', 'Bad Label');
\echo :LAST_ERROR_SQLSTATE
SELECT ms.open_access('raw-acme', 'geo', 'bad label', repeat('x', 100));
SELECT ms.open_access('raw-acme', 'geo', 'no such label', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
SELECT ms.open_access('raw-acme', 'geo', 'ticket 23', NULL);
SELECT org, model, label, reason, state FROM ms.access_session();
SELECT convert_from(ms.read_batch(:g1), 'UTF8'), convert_from(ms.read_batch(:g2), 'UTF8');
SELECT ms.close_access();
RESET ROLE;
SELECT action, role, label, batch_id IS NOT NULL AS has_batch, reason
  FROM ms.audit_log
 WHERE reason IN ('whole model', 'ticket 20', 'not my label', 'ticket 21', 'no grant', 'ticket 22')
 ORDER BY id;

-- a session belongs to the role that opened it: another role's code does
-- not reach it, and it ends (with a close record) when the role changes
CREATE FUNCTION public.raw_read_as_definer(b bigint) RETURNS integer
LANGUAGE sql SECURITY DEFINER AS $$ SELECT length(ms.read_batch(b)) $$;
ALTER FUNCTION public.raw_read_as_definer(bigint) OWNER TO raw_other_sci;
SET ROLE raw_scientist;
SELECT ms.open_access('raw-acme', 'geo', 'ticket 30');
SELECT public.raw_read_as_definer(:g1);
SELECT length(ms.read_batch(:g1));
RESET ROLE;
SELECT org, model, state FROM ms.access_session();
SET ROLE raw_scientist;
SELECT ms.read_batch(:g1);
SELECT org, model, state FROM ms.access_session();
SELECT ms.open_access('raw-acme', 'geo', 'ticket 31');
SET ROLE raw_other_sci;
SELECT ms.read_batch(:g1);
SELECT org, model, state FROM ms.access_session();
RESET ROLE;
SET ROLE raw_scientist;
SELECT org, model, state FROM ms.access_session();
RESET ROLE;
-- a role set by set_config is noticed on the next use
SELECT ms.open_access('raw-acme', 'geo', 'ticket 32');
SELECT set_config('role', 'raw_scientist', false);
SELECT ms.read_batch(:g1);
RESET ROLE;
SELECT org, model, state FROM ms.access_session();
-- DISCARD ALL ends it
SELECT ms.open_access('raw-acme', 'geo', 'ticket 33');
DISCARD ALL;
SET client_min_messages = warning;
SELECT org, model, state FROM ms.access_session();
SELECT ms.read_batch(:g1);
SELECT role, action, batch_id IS NOT NULL AS has_batch, reason
  FROM ms.audit_log WHERE reason LIKE 'ticket 3_' ORDER BY id;

-- an expired session is shown as expired until it is closed or replaced
SET machinesoup.access_idle_timeout = 1;
SELECT ms.open_access('raw-acme', 'geo', 'ticket 34', 'v2');
SELECT pg_sleep(1.2);
SELECT org, model, label, reason, state, expires_at < now() AS expired_before_now
  FROM ms.access_session();
SELECT ms.read_batch(:g2);
SELECT org, model, label, state FROM ms.access_session();
SELECT ms.close_access();
SELECT org, model, label, state FROM ms.access_session();
RESET machinesoup.access_idle_timeout;
SELECT action FROM ms.audit_log WHERE reason = 'ticket 34' ORDER BY id;

-- a refused read does not fetch the other org's batch at all: not one
-- block of its out-of-line frame
SET ROLE raw_producer;
SELECT ms.ingest('raw-acme', 'geo',
	convert_to(string_agg(format('%s,%s,%s', i, sin(i), cos(i)), E'\n'), 'UTF8'), 'v1') AS big_acme
  FROM generate_series(1000, 1400) i \gset
SELECT ms.ingest('raw-other', 'geo',
	convert_to(string_agg(format('%s,%s,%s', i, cos(i), sin(i)), E'\n'), 'UTF8')) AS big_other
  FROM generate_series(1000, 1400) i \gset
RESET ROLE;
SELECT batch_id = :big_acme AS acme, stored_bytes > 4000 AS out_of_line
  FROM ms.raw_batches WHERE batch_id IN (:big_acme, :big_other) ORDER BY batch_id;
SELECT reltoastrelid AS raw_toast FROM pg_class WHERE oid = 'ms.raw_batches'::regclass \gset
SET ROLE raw_other_sci;
SELECT ms.open_access('raw-other', 'geo', 'ticket 40');
BEGIN;
SELECT pg_stat_get_xact_blocks_fetched(:raw_toast) AS toast_before \gset
SAVEPOINT refused;
SELECT ms.read_batch(:big_acme);
ROLLBACK TO SAVEPOINT refused;
SELECT pg_stat_get_xact_blocks_fetched(:raw_toast) - :toast_before AS toast_blocks_of_refused_read;
SELECT length(ms.read_batch(:big_other)) > 4000 AS read_own;
SELECT pg_stat_get_xact_blocks_fetched(:raw_toast) > :toast_before AS own_read_fetched_toast;
COMMIT;
SELECT ms.close_access();
RESET ROLE;
