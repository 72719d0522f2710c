-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- User processors: called by OID, pinned to the definition approved by
-- ms.set_processor, owned by a role trusted with the version, run
-- sandboxed as their org's own processor role, and unable to use anyone's
-- ms.* authority, SECURITY DEFINER functions, utility statements,
-- notifications or tables to get raw bytes out.  Replay through user code
-- needs raw_read on the batches replayed; every replayed batch, and every
-- batch another role's processor sees, is audited.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE ROLE sbx_sci;		-- stage, no raw_read
CREATE ROLE sbx_reader;		-- stage and raw_read
CREATE ROLE sbx_producer;	-- ingest here; admin of another org
CREATE ROLE sbx_outsider;	-- no grant at all
CREATE SCHEMA sbx;
GRANT USAGE, CREATE ON SCHEMA sbx TO sbx_sci, sbx_outsider;
GRANT USAGE ON SCHEMA sbx TO sbx_reader;
-- what a DBA grants once to every org's processor role
GRANT USAGE ON SCHEMA sbx TO machinesoup_processor;
SELECT ms.create_model('sbx', 'm', 2);
SELECT ms.create_model('sbx-other', 'm', 2);
SELECT ms.create_version('sbx', 'm', 'v1');
SELECT ms.create_version('sbx', 'm', 'staged');
SELECT ms.create_version('sbx-other', 'm', 'v1');
SELECT ms.promote('sbx', 'm', 'v1');
SELECT ms.promote('sbx-other', 'm', 'v1');
SELECT ms.grant('sbx_sci', 'stage', 'sbx', 'm');
SELECT ms.grant('sbx_reader', 'stage', 'sbx', 'm');
SELECT ms.grant('sbx_reader', 'raw_read', 'sbx', 'm');
SELECT ms.grant('sbx_producer', 'ingest', 'sbx', 'm');
SELECT ms.grant('sbx_producer', 'admin', 'sbx-other');
SELECT ms.ingest('sbx', 'm', convert_to(E'1,1,1\n2,2,2\n', 'UTF8')) AS b1 \gset
SELECT ms.ingest('sbx', 'm', convert_to(E'3,3,3\n', 'UTF8'), 'staged') AS b2 \gset

-- a data scientist's processors, owned by the data scientist
SET ROLE sbx_sci;
CREATE TABLE sbx.loot (data bytea);
CREATE FUNCTION sbx.exfil(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, jsonb_build_object('raw', encode(batch, 'base64'))
	  FROM ms.proc_csv(batch, dims) p
$$;
-- every ms.* call it tries, with the errors it gets, in its payloads
CREATE FUNCTION sbx.borrow(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE plpgsql AS $$
DECLARE
	tries text[] := ARRAY[
		$q$SELECT ms.grant('sbx_sci', 'admin', 'sbx-other')$q$,
		$q$SELECT count(*) FROM ms.knn('sbx-other', 'm', '[1,1]', 1)$q$,
		$q$SELECT ms.upsert_points('sbx-other', 'm', 'v1', '{9}', '{"[9,9]"}')$q$,
		$q$SELECT ms.open_access('sbx', 'm', 'from a processor')$q$];
	outcome jsonb := '{}';
	q text;
BEGIN
	FOREACH q IN ARRAY tries LOOP
		BEGIN
			EXECUTE q;
			outcome := outcome || jsonb_build_object(q, 'done');
		EXCEPTION WHEN others THEN
			outcome := outcome || jsonb_build_object(q, SQLSTATE || ': ' || SQLERRM);
		END;
	END LOOP;
	outcome := outcome || jsonb_build_object('as', current_user::text LIKE 'machinesoup\_processor\_%');
	RETURN QUERY SELECT p.point_id, p.embedding, outcome FROM ms.proc_csv(batch, dims) p;
END
$$;
-- a SECURITY DEFINER helper of its owner's, which could write the batch
-- into the owner's own table
CREATE FUNCTION sbx.stash(data bytea) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO sbx.loot VALUES (data) $$;
CREATE FUNCTION sbx.via_definer(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sbx.stash(batch);
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END
$$;
CREATE FUNCTION sbx.notifier(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('sbx_leak', encode(batch, 'base64'));
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END
$$;
CREATE FUNCTION sbx.notify_stmt(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	NOTIFY sbx_leak;
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END
$$;
CREATE FUNCTION sbx.dropper(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.sbx_dropbox VALUES (batch);
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END
$$;
CREATE FUNCTION sbx.plain(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT p.point_id, p.embedding, '{"v": 1}'::jsonb FROM ms.proc_csv(batch, dims) p $$;
RESET ROLE;
-- a table anyone may write: what a processor writes there does not stay
CREATE TABLE public.sbx_dropbox (data bytea);
GRANT INSERT, SELECT ON public.sbx_dropbox TO PUBLIC;

-- stage alone cannot replay raw bytes out through user code
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.exfil(bytea,integer)');
SELECT ms.replay('sbx', 'm', 'staged', NULL, NULL, 'v1');
\echo :LAST_ERROR_SQLSTATE
SELECT ms.replay('sbx', 'm', 'staged');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM ms.knn('sbx', 'm', '[1,1]', 10, 'staged') WHERE payload ? 'raw';
-- a built-in processor yields only points: stage may replay through it
SELECT ms.set_processor('sbx', 'm', 'staged', NULL);
SELECT ms.replay('sbx', 'm', 'staged', NULL, NULL, 'v1');
SELECT point_id FROM ms.knn('sbx', 'm', '[1,1]', 10, 'staged') ORDER BY 1;
RESET ROLE;
-- raw_read on the source: replay through user code, each batch on the record
SET ROLE sbx_reader;
-- (sbx.exfil is sbx_sci's, who holds stage: it may be approved)
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.exfil(bytea,integer)');
SELECT ms.replay('sbx', 'm', 'staged');
SELECT ms.replay('sbx', 'm', 'staged', NULL, NULL, 'v1');
SELECT count(*) FROM ms.knn('sbx', 'm', '[1,1]', 10, 'staged') WHERE payload ? 'raw';
RESET ROLE;
SELECT action, label, batch_id = :b1 AS is_b1, batch_id = :b2 AS is_b2, reason
  FROM ms.audit_log WHERE org = 'sbx' AND action = 'replay' ORDER BY id;
-- raw_read on one label does not reach another's batches
SELECT ms.revoke('sbx_reader', 'raw_read', 'sbx', 'm');
SELECT ms.grant('sbx_reader', 'raw_read', 'sbx', 'm', 'staged');
SET ROLE sbx_reader;
SELECT ms.replay('sbx', 'm', 'staged');
SELECT ms.replay('sbx', 'm', 'staged', NULL, NULL, 'v1');
\echo :LAST_ERROR_SQLSTATE
-- and replay never crosses into another org's or model's batches
SELECT ms.replay('sbx-other', 'm', 'v1');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- a processor run during someone else's ingest has no ms.* authority:
-- neither the producer's (admin of sbx-other) nor anybody's
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.borrow(bytea,integer)');
RESET ROLE;
SET ROLE sbx_producer;
SELECT ms.ingest('sbx', 'm', convert_to(E'4,4,4\n', 'UTF8'), 'staged') AS b3 \gset
RESET ROLE;
SELECT key, value FROM ms.points p JOIN ms.versions v USING (version_id),
	   jsonb_each(p.payload)
 WHERE v.org = 'sbx' AND v.label = 'staged' AND p.point_id = 4 ORDER BY key;
SELECT count(*) FROM ms.grants WHERE org = 'sbx-other' AND role = 'sbx_sci'::regrole;
SELECT count(*) FROM ms.points p JOIN ms.versions v USING (version_id) WHERE v.org = 'sbx-other';
-- ingest through another role's processor is on the record
SELECT action, role, label, batch_id = :b3 AS is_b3, reason
  FROM ms.audit_log WHERE org = 'sbx' AND action = 'process_batch' ORDER BY id;

-- no way out through a SECURITY DEFINER helper, a utility statement,
-- pg_notify or a table anyone may write
LISTEN sbx_leak;
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.via_definer(bytea,integer)');
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'5,5,5\n', 'UTF8'), 'staged');
SELECT count(*) FROM sbx.loot;
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.notify_stmt(bytea,integer)');
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'5,5,5\n', 'UTF8'), 'staged');
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.notifier(bytea,integer)');
RESET ROLE;
-- (a notification would show here once the ingest commits)
SELECT ms.ingest('sbx', 'm', convert_to(E'6,6,6\n', 'UTF8'), 'staged') > 0 AS ingested;
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.dropper(bytea,integer)');
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'7,7,7\n', 'UTF8'), 'staged') > 0 AS ingested;
SELECT count(*) FROM public.sbx_dropbox;
UNLISTEN sbx_leak;

-- called by OID: an overload does not break ingest or take its place
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.plain(bytea,integer)');
CREATE FUNCTION sbx.plain(batch bytea, dims integer, extra text DEFAULT 'x')
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT 1::bigint, '[0,0]'::vec, '{"v": "overload"}'::jsonb $$;
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'8,8,8\n', 'UTF8'), 'staged') > 0 AS ingested;
SELECT payload FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE v.org = 'sbx' AND v.label = 'staged' AND p.point_id = 8;
-- pinned: a changed body does not run until it is approved again
SET ROLE sbx_sci;
CREATE OR REPLACE FUNCTION sbx.plain(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT p.point_id, p.embedding, jsonb_build_object('raw', encode(batch, 'hex')) FROM ms.proc_csv(batch, dims) p $$;
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'9,9,9\n', 'UTF8'), 'staged');
\echo :LAST_ERROR_SQLSTATE
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.plain(bytea,integer)');
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'9,9,9\n', 'UTF8'), 'staged') > 0 AS ingested;
-- a processor runs once per batch, also when its ids are already there
-- (counted by a sequence: nextval is not undone with the sandbox)
CREATE SEQUENCE public.sbx_runs;
GRANT USAGE ON public.sbx_runs TO PUBLIC;
SET ROLE sbx_sci;
CREATE FUNCTION sbx.counted(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, jsonb_build_object('run', nextval('public.sbx_runs'))
	  FROM ms.proc_csv(batch, dims) p
$$;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.counted(bytea,integer)');
RESET ROLE;
SELECT ms.ingest('sbx', 'm', convert_to(E'9,9,9\n', 'UTF8'), 'staged') > 0 AS ingested_again;
SELECT last_value AS runs FROM public.sbx_runs;
SELECT payload FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE v.org = 'sbx' AND v.label = 'staged' AND p.point_id = 9;

-- the owner must be trusted with the version: not an outsider's function
SET ROLE sbx_outsider;
CREATE FUNCTION sbx.outsiders(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT * FROM ms.proc_csv(batch, dims) $$;
RESET ROLE;
SET ROLE sbx_sci;
SELECT ms.set_processor('sbx', 'm', 'staged', 'sbx.outsiders(bytea,integer)');
\echo :LAST_ERROR_SQLSTATE
SELECT ms.create_version('sbx', 'm', 'staged2', 'sbx.outsiders(bytea,integer)');
RESET ROLE;

-- one processor role per org, named for no org, with no privileges
SELECT count(*) FROM ms.orgs WHERE org LIKE 'sbx%' AND processor_role IS NOT NULL;
SELECT count(*) FROM pg_roles WHERE rolname ~ '^machinesoup_processor_' AND rolname ~ 'sbx';
SELECT r.rolsuper, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls
  FROM ms.orgs o JOIN pg_roles r ON r.rolname = o.processor_role WHERE o.org = 'sbx';

-- the internals are the extension's own
SET ROLE sbx_sci;
SELECT * FROM ms._run_processor('sbx.plain(bytea,integer)', '\x00'::bytea, 2, 'l2', NULL, NULL);
SELECT ms._processor_role('sbx');
SELECT ms._require_raw_network();
RESET ROLE;

-- what a processor can reach: its batch, nothing else
SET ROLE sbx_sci;
CREATE FUNCTION sbx.tagging(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding,
		   jsonb_build_object('org_role', current_user::text LIKE 'machinesoup\_processor\_%',
							  'restricted', current_user <> session_user)
	  FROM ms.proc_csv(batch, dims) p
$$;
CREATE FUNCTION sbx.peek_points(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, NULL::jsonb FROM ms.points p
$$;
CREATE FUNCTION sbx.peek_batches(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT b.batch_id, NULL::public.vec, NULL::jsonb FROM ms.raw_batches b
$$;
CREATE FUNCTION sbx.escalate(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	SET ROLE postgres;
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END
$$;
CREATE FUNCTION sbx.wrong_dims(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding OPERATOR(public.||) p.embedding, NULL::jsonb FROM ms.proc_csv(batch, dims) p
$$;
CREATE FUNCTION sbx.null_ids(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$
	SELECT NULL::bigint, p.embedding, NULL::jsonb FROM ms.proc_csv(batch, dims) p
$$;
CREATE FUNCTION sbx.definer(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql SECURITY DEFINER AS $$
	SELECT * FROM ms.proc_csv(batch, dims)
$$;
SELECT ms.create_version('sbx', 'm', 'tagged', 'sbx.tagging(bytea,integer)');
SELECT ms.create_version('sbx', 'm', 'peek1', 'sbx.peek_points(bytea,integer)');
SELECT ms.create_version('sbx', 'm', 'peek2', 'sbx.peek_batches(bytea,integer)');
SELECT ms.create_version('sbx', 'm', 'esc', 'sbx.escalate(bytea,integer)');
SELECT ms.create_version('sbx', 'm', 'definer', 'sbx.definer(bytea,integer)');
SELECT ms.create_version('sbx', 'm', 'wrongdims', 'sbx.wrong_dims(bytea,integer)');
SELECT ms.create_version('sbx', 'm', 'nullids', 'sbx.null_ids(bytea,integer)');
RESET ROLE;
SELECT ms.grant('sbx_reader', 'raw_read', 'sbx', 'm', 'v1');
SET ROLE sbx_reader;
SELECT ms.replay('sbx', 'm', 'tagged', NULL, NULL, 'v1');
SELECT ms.replay('sbx', 'm', 'peek1', NULL, NULL, 'v1');
SELECT ms.replay('sbx', 'm', 'peek2', NULL, NULL, 'v1');
SELECT ms.replay('sbx', 'm', 'esc', NULL, NULL, 'v1');
SELECT ms.replay('sbx', 'm', 'wrongdims', NULL, NULL, 'v1');
SELECT ms.replay('sbx', 'm', 'nullids', NULL, NULL, 'v1');
RESET ROLE;
SELECT p.point_id, p.embedding, p.payload
  FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE v.org = 'sbx' AND v.model = 'm' AND v.label = 'tagged' ORDER BY 1;
-- a user processor's error rolls the ingest back too
SELECT count(*) AS batches_before FROM ms.raw_batches \gset
SELECT ms.grant('sbx_producer', 'ingest', 'sbx', 'm', 'peek1');
SET ROLE sbx_producer;
SELECT ms.ingest('sbx', 'm', convert_to(E'1,1,1\n', 'UTF8'), 'peek1');
RESET ROLE;
SELECT count(*) - :batches_before AS new_batches FROM ms.raw_batches;

-- clean up
UPDATE ms.versions SET processor = NULL, processor_digest = NULL WHERE org = 'sbx';
DROP TABLE public.sbx_dropbox;
DROP SEQUENCE public.sbx_runs;
DELETE FROM ms.grants WHERE org IN ('sbx', 'sbx-other');
DROP SCHEMA sbx CASCADE;
DROP ROLE sbx_sci, sbx_reader, sbx_producer, sbx_outsider;
