-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- What errors tell a role about things it may not see: whether a label
-- exists, which label a rollback would restore, which org uses a function
-- as its processor; and malformed names refused as bad input before any
-- refusal is audited.
--
\set VERBOSITY terse
SET client_min_messages = warning;

-- Runs a statement as the current role and reports its SQLSTATE and message.
\getenv abs_srcdir PG_ABS_SRCDIR
\set try :abs_srcdir '/sql/include/try.sql'
\i :try

-- Runs stmt (a format() string taking the label as its one %L) with label
-- v2, which exists, and nosuch, which does not.  One line when both give
-- the same SQLSTATE and text (the label itself shown as <label>); both
-- answers when they differ, which is an oracle for the label's existence.
CREATE FUNCTION regress_mo_oracle(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	a	text := replace(regress_try(format(stmt, 'v2')), '"v2"', '"<label>"');
	b	text := replace(regress_try(format(stmt, 'nosuch')), '"nosuch"', '"<label>"');
BEGIN
	IF a = b THEN
		RETURN a;
	END IF;
	RETURN 'v2: ' || a || ' / nosuch: ' || b;
END
$$;

CREATE ROLE regress_mo_admin;		-- admin of org oc
CREATE ROLE regress_mo_q1;			-- query on oc/m label v1
CREATE ROLE regress_mo_qm;			-- query on oc/m (its default label)
CREATE ROLE regress_mo_i1;			-- ingest on oc/m label v1
CREATE ROLE regress_mo_s1;			-- stage on oc/m label v1
CREATE ROLE regress_mo_p1;			-- promote on oc/m label v1
CREATE ROLE regress_mo_r1;			-- raw_read on oc/m label v1
CREATE ROLE regress_mo_sp;			-- stage on oc/m, promote on label v1
CREATE ROLE regress_mo_none;		-- no grant at all
CREATE ROLE regress_mo_fowner;		-- owns a processor, stage on oc/m for a while

SELECT ms.create_model('oc', 'm', 2);
SELECT ms.create_version('oc', 'm', 'v0');
SELECT ms.create_version('oc', 'm', 'v1');
SELECT ms.create_version('oc', 'm', 'v2');
SELECT ms.upsert_points('oc', 'm', 'v2', ARRAY[1], ARRAY['[1,1]']::vec[]);
SELECT ms.promote('oc', 'm', 'v0');
SELECT ms.promote('oc', 'm', 'v1');
SELECT ms.grant('regress_mo_admin', 'admin', 'oc');
SELECT ms.grant('regress_mo_q1', 'query', 'oc', 'm', 'v1');
SELECT ms.grant('regress_mo_qm', 'query', 'oc', 'm');
SELECT ms.grant('regress_mo_i1', 'ingest', 'oc', 'm', 'v1');
SELECT ms.grant('regress_mo_s1', 'stage', 'oc', 'm', 'v1');
SELECT ms.grant('regress_mo_p1', 'promote', 'oc', 'm', 'v1');
SELECT ms.grant('regress_mo_r1', 'raw_read', 'oc', 'm', 'v1');
SELECT ms.grant('regress_mo_sp', 'stage', 'oc', 'm');
SELECT ms.grant('regress_mo_sp', 'promote', 'oc', 'm', 'v1');
SELECT ms.grant('regress_mo_fowner', 'stage', 'oc', 'm');

-- A label that exists but is not granted and one that does not exist give
-- one error to a role that may not see every label: queries (C, with the
-- authorisation cache, asked twice so the cached answer is checked too) ...
SET ROLE regress_mo_q1;
SELECT regress_mo_oracle($$SELECT ms.knn('oc', 'm', '[0,0]', 1, %L)$$);
SELECT regress_mo_oracle($$SELECT ms.knn('oc', 'm', '[0,0]', 1, %L)$$);
SELECT regress_mo_oracle($$SELECT ms.within('oc', 'm', '[0,0]', 5, %L)$$);
SELECT regress_mo_oracle($$SELECT ms.in_box('oc', 'm', '([0,0],[2,2])', %L)$$);
SELECT count(*) FROM ms.knn('oc', 'm', '[0,0]', 1, 'v1');		-- its own label
RESET ROLE;
SET ROLE regress_mo_qm;
SELECT regress_mo_oracle($$SELECT ms.knn('oc', 'm', '[0,0]', 1, %L)$$);
SELECT regress_mo_oracle($$SELECT ms.in_box('oc', 'm', '([0,0],[2,2])', %L)$$);
RESET ROLE;
-- ... loads (ms.ingest through the cached ms._authorise, ms.upsert_points) ...
SET ROLE regress_mo_i1;
SELECT regress_mo_oracle($$SELECT ms.ingest('oc', 'm', convert_to(E'1,1,1\n', 'UTF8'), %L)$$);
SELECT regress_mo_oracle($$SELECT ms.upsert_points('oc', 'm', %L, ARRAY[2], ARRAY['[2,2]']::vec[])$$);
RESET ROLE;
-- ... staging ...
SET ROLE regress_mo_s1;
SELECT regress_mo_oracle($$SELECT ms.reindex_version('oc', 'm', %L)$$);
SELECT regress_mo_oracle($$SELECT ms.upsert_points('oc', 'm', %L, ARRAY[2], ARRAY['[2,2]']::vec[])$$);
SELECT regress_mo_oracle($$SELECT ms.replay('oc', 'm', %L)$$);
SELECT regress_mo_oracle($$SELECT ms.set_processor('oc', 'm', %L, NULL)$$);
SELECT regress_mo_oracle($$SELECT ms.create_version('oc', 'm', %L)$$);
RESET ROLE;
-- ... promotion ...
SET ROLE regress_mo_p1;
SELECT regress_mo_oracle($$SELECT ms.promote('oc', 'm', %L)$$);
RESET ROLE;
-- ... and raw data access sessions
SET ROLE regress_mo_r1;
SELECT regress_mo_oracle($$SELECT ms.open_access('oc', 'm', 'ticket 1', %L)$$);
RESET ROLE;
-- no grant at all: the model's own refusal, label or not
SET ROLE regress_mo_none;
SELECT regress_mo_oracle($$SELECT ms.knn('oc', 'm', '[0,0]', 1, %L)$$);
SELECT regress_mo_oracle($$SELECT ms.ingest('oc', 'm', convert_to(E'1,1,1\n', 'UTF8'), %L)$$);
SELECT regress_mo_oracle($$SELECT ms.open_access('oc', 'm', 'ticket 1', %L)$$);
RESET ROLE;
-- roles that may see every label keep the precise answer
SET ROLE regress_mo_admin;
SELECT regress_mo_oracle($$SELECT count(*) FROM ms.knn('oc', 'm', '[0,0]', 1, %L)$$);
SELECT regress_mo_oracle($$SELECT ms.reindex_version('oc', 'm', %L)$$);
RESET ROLE;
SET ROLE regress_mo_sp;
SELECT regress_mo_oracle($$SELECT count(*) FROM ms.knn('oc', 'm', '[0,0]', 1, %L)$$);
RESET ROLE;

-- Replaying another label's batches into one's own label takes stage on
-- that label too: stage on v1 alone reads none of v2's data through v1's
-- points, and learns nothing of which labels exist.
SELECT ms.ingest('oc', 'm', convert_to(E'5,5,5\n', 'UTF8'), 'v2') IS NOT NULL AS ingested;
SET ROLE regress_mo_s1;
SELECT regress_mo_oracle($$SELECT ms.replay('oc', 'm', 'v1', NULL, NULL, %L)$$);
SELECT point_id FROM ms.knn('oc', 'm', '[5,5]', 5, 'v1');
SELECT ms.replay('oc', 'm', 'v1', NULL, NULL, 'v1');		-- its own batches (none)
RESET ROLE;
SET ROLE regress_mo_sp;
SELECT ms.replay('oc', 'm', 'v1', NULL, NULL, 'v2');
SELECT point_id FROM ms.knn('oc', 'm', '[5,5]', 5, 'v1');
RESET ROLE;

-- A rollback from v1 would restore v0: a role holding promote on v1 alone
-- is refused without learning which label that is; one that may see every
-- label is told.
SET ROLE regress_mo_p1;
SELECT regress_try($$SELECT ms.rollback('oc', 'm')$$);
RESET ROLE;
SET ROLE regress_mo_sp;
SELECT regress_try($$SELECT ms.rollback('oc', 'm')$$);
RESET ROLE;
SELECT ms.default_label('oc', 'm');

-- The drop guard names the org, model and label using a function as its
-- processor only to a role that may see that label.
CREATE FUNCTION regress_mo_proc(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT 1::bigint, '[1,2]'::vec, NULL::jsonb $$;
ALTER FUNCTION regress_mo_proc(bytea, integer) OWNER TO regress_mo_fowner;
SELECT ms.create_version('oc', 'm', 'vp', 'regress_mo_proc(bytea, integer)');
SET ROLE regress_mo_fowner;
SELECT regress_try($$DROP FUNCTION regress_mo_proc(bytea, integer)$$);
RESET ROLE;
SELECT ms.revoke('regress_mo_fowner', 'stage', 'oc', 'm');
SET ROLE regress_mo_fowner;
SELECT regress_try($$DROP FUNCTION regress_mo_proc(bytea, integer)$$);
RESET ROLE;
-- the owner of the schema it is in (DROP SCHEMA ... CASCADE)
CREATE ROLE regress_mo_schema_owner;
CREATE SCHEMA regress_mo_s AUTHORIZATION regress_mo_schema_owner;
ALTER FUNCTION regress_mo_proc(bytea, integer) SET SCHEMA regress_mo_s;
SET ROLE regress_mo_schema_owner;
SELECT regress_try($$DROP SCHEMA regress_mo_s CASCADE$$);
RESET ROLE;
-- a superuser is told
SELECT regress_try($$DROP SCHEMA regress_mo_s CASCADE$$);
SELECT ms.set_processor('oc', 'm', 'vp', NULL);
DROP SCHEMA regress_mo_s CASCADE;

-- Malformed org and model names to ms.open_access are bad input: the error
-- of every other entry point, and no refusal on the record (a 100-character
-- org used to fail in the audit writer instead, "audit org is too long").
SELECT max(id) AS audit_before FROM ms.audit_log \gset
SET ROLE regress_mo_none;
SELECT regress_try(format($$SELECT ms.open_access(%L, 'm', 'ticket 2')$$, repeat('o', 100)));
SELECT regress_try($$SELECT ms.open_access('Bad Org', 'm', 'ticket 2')$$);
SELECT regress_try(format($$SELECT ms.open_access('oc', %L, 'ticket 2')$$, repeat('m', 100)));
SELECT regress_try($$SELECT ms.open_access('oc', 'Bad Model', 'ticket 2')$$);
RESET ROLE;
SET ROLE regress_mo_r1;
SELECT regress_try(format($$SELECT ms.open_access('oc', %L, 'ticket 2')$$, repeat('m', 100)));
SELECT regress_try($$SELECT ms.open_access('oc', 'Bad Model', 'ticket 2', 'v1')$$);
RESET ROLE;
SELECT count(*) AS refusals_recorded FROM ms.audit_log WHERE id > :audit_before;
-- while a well-formed name the role may not use is a refusal on the record
SET ROLE regress_mo_none;
SELECT regress_try($$SELECT ms.open_access('oc', 'm', 'ticket 2')$$);
RESET ROLE;
SELECT action, role, org, model, label, reason FROM ms.audit_log WHERE id > :audit_before ORDER BY id;

-- clean up (raw_store names batches by id: the sequence goes back)
DELETE FROM ms.raw_batches WHERE org = 'oc';
SELECT setval('ms.raw_batches_batch_id_seq', coalesce(max(batch_id), 0) + 1, false) IS NOT NULL AS reset
  FROM ms.raw_batches;
DELETE FROM ms.grants WHERE org = 'oc';
DROP ROLE regress_mo_admin, regress_mo_q1, regress_mo_qm, regress_mo_i1, regress_mo_s1,
	regress_mo_p1, regress_mo_r1, regress_mo_sp, regress_mo_none, regress_mo_fowner,
	regress_mo_schema_owner;
DROP FUNCTION regress_mo_oracle(text);
DROP FUNCTION regress_try(text), regress_try_value(text);
