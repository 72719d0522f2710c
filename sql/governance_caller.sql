-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- Who "the caller" is: the role whose code makes the call (GetUserId() at
-- entry), never the role it runs for.  Code PostgreSQL runs for someone
-- else cannot borrow their ms.* grants: an index expression evaluated by a
-- superuser's ANALYZE, VACUUM, REINDEX or CLUSTER, a SECURITY DEFINER
-- function owned by another role.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE ROLE gc_admin;		-- admin of org gc
CREATE ROLE gc_tenant;		-- no grant; owns a schema of its own
CREATE SCHEMA gc_tenant AUTHORIZATION gc_tenant;
SELECT ms.create_model('gc', 'm', 2);
SELECT ms.create_version('gc', 'm', 'v1');
SELECT ms.promote('gc', 'm', 'v1');
SELECT ms.grant('gc_admin', 'admin', 'gc');
SELECT ms.upsert_points('gc', 'm', 'v1', '{1}', '{"[1,1]"}');

-- the tenant's function tries to make itself admin of gc and to read gc's
-- points, and counts what it got (sequences: an index expression is
-- IMMUTABLE, it cannot write a table)
SET ROLE gc_tenant;
CREATE SEQUENCE gc_tenant.grant_done;
CREATE SEQUENCE gc_tenant.grant_refused;
CREATE SEQUENCE gc_tenant.knn_done;
CREATE SEQUENCE gc_tenant.knn_refused;
CREATE FUNCTION gc_tenant.grab(x int) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	BEGIN
		PERFORM ms.grant('gc_tenant', 'admin', 'gc');
		PERFORM nextval('gc_tenant.grant_done');
	EXCEPTION WHEN insufficient_privilege THEN
		PERFORM nextval('gc_tenant.grant_refused');
	END;
	BEGIN
		PERFORM * FROM ms.knn('gc', 'm', '[1,1]', 1);
		PERFORM nextval('gc_tenant.knn_done');
	EXCEPTION WHEN insufficient_privilege THEN
		PERFORM nextval('gc_tenant.knn_refused');
	END;
	RETURN x;
END
$$;
CREATE TABLE gc_tenant.t (x int);
INSERT INTO gc_tenant.t SELECT generate_series(1, 3);
CREATE INDEX t_grab ON gc_tenant.t (gc_tenant.grab(x));
ALTER SEQUENCE gc_tenant.grant_refused RESTART;
ALTER SEQUENCE gc_tenant.knn_refused RESTART;
GRANT USAGE ON SCHEMA gc_tenant TO gc_admin;
RESET ROLE;

-- maintenance by a superuser evaluates the tenant's index expression as
-- the tenant, in a security-restricted operation: no borrowed authority
ANALYZE gc_tenant.t;
VACUUM ANALYZE gc_tenant.t;
REINDEX TABLE gc_tenant.t;
CLUSTER gc_tenant.t USING t_grab;
SELECT (SELECT is_called FROM gc_tenant.grant_done) AS grant_done,
	   (SELECT is_called FROM gc_tenant.grant_refused) AS grant_refused,
	   (SELECT is_called FROM gc_tenant.knn_done) AS knn_done,
	   (SELECT is_called FROM gc_tenant.knn_refused) AS knn_refused;
SELECT count(*) FROM ms.grants WHERE role = 'gc_tenant'::regrole;

-- a SECURITY DEFINER function owned by the tenant, called by gc's admin,
-- acts as the tenant
SET ROLE gc_tenant;
CREATE FUNCTION gc_tenant.helpful() RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$ SELECT ms.grant('gc_tenant', 'query', 'gc') $$;
GRANT EXECUTE ON FUNCTION gc_tenant.helpful() TO gc_admin;
RESET ROLE;
SET ROLE gc_admin;
SELECT gc_tenant.helpful();
RESET ROLE;
SELECT count(*) FROM ms.grants WHERE role = 'gc_tenant'::regrole;

-- and one owned by gc's admin acts as the admin, whoever calls it: its
-- owner chose to expose that authority
CREATE SCHEMA gc_admin AUTHORIZATION gc_admin;
SET ROLE gc_admin;
CREATE FUNCTION gc_admin.grants_query() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT ms.grant('gc_tenant', 'query', 'gc') $$;
GRANT USAGE ON SCHEMA gc_admin TO gc_tenant;
GRANT EXECUTE ON FUNCTION gc_admin.grants_query() TO gc_tenant;
RESET ROLE;
SET ROLE gc_tenant;
SELECT gc_admin.grants_query();
SELECT point_id FROM ms.knn('gc', 'm', '[1,1]', 1);
RESET ROLE;
-- the grant names the admin, whose code made it
SELECT granted_by FROM ms.grants WHERE role = 'gc_tenant'::regrole;

-- SET ROLE: the role set is the caller
SET ROLE gc_tenant;
SELECT ms.revoke('gc_tenant', 'query', 'gc');
RESET ROLE;
SET ROLE gc_admin;
SELECT ms.revoke('gc_tenant', 'query', 'gc');
RESET ROLE;
SELECT count(*) FROM ms.grants WHERE role = 'gc_tenant'::regrole;

-- ms.org_node tells where an org lives to its members only, with the same
-- refusal whether the org exists or not.  SET ROLE decides who asks, and a
-- tenant's SECURITY DEFINER function that the admin runs asks as the
-- tenant.  A member gets past the grant check to what one node can say.
SET ROLE gc_tenant;
SELECT * FROM ms.org_node('gc');
SELECT * FROM ms.org_node('nosuchorg');
CREATE FUNCTION gc_tenant.where_is(o text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
AS $$ SELECT host || ':' || port FROM ms.org_node(o) $$;
GRANT USAGE ON SCHEMA gc_tenant TO gc_admin;
RESET ROLE;
SET ROLE gc_admin;
SELECT * FROM ms.org_node('gc');
SELECT gc_tenant.where_is('gc');
RESET ROLE;
-- bad input: a clear error, not a crash
SELECT * FROM ms.org_node(NULL);
SELECT * FROM ms.org_node('');
SELECT * FROM ms.org_node(repeat('x', 100));
SELECT * FROM ms.org_node(E'gc\\x');

-- the bodies behind the entry points are not for PUBLIC
SET ROLE gc_tenant;
SELECT ms._grant('gc_tenant', 'admin', 'gc', NULL, NULL);
SELECT ms._caller();
SELECT ms._is_privileged();
RESET ROLE;

-- the owner the entry points switch to is schema ms's owner, kept per
-- backend: it follows an owner change at once, and the rollback of one
SELECT ms._role_is_privileged('gc_tenant'::regrole);
BEGIN;
ALTER SCHEMA ms OWNER TO gc_tenant;
SELECT ms._role_is_privileged('gc_tenant'::regrole);
ROLLBACK;
SELECT ms._role_is_privileged('gc_tenant'::regrole);

-- pg_read_all_data and pg_write_all_data hold every table privilege, but
-- not BYPASSRLS: ms's tables have row security and no policy, so they see
-- no row of any org and write none
CREATE ROLE gc_reader;
GRANT pg_read_all_data TO gc_reader;
CREATE ROLE gc_writer;
GRANT pg_write_all_data TO gc_writer;
SELECT ms.ingest('gc', 'm', convert_to(E'2,3,3\n', 'UTF8')) > 0 AS ingested;
SELECT format('ms.points_%s', version_id) AS gc_part FROM ms.versions WHERE org = 'gc' AND label = 'v1' \gset
SET ROLE gc_reader;
SELECT (SELECT count(*) FROM ms.orgs) AS orgs, (SELECT count(*) FROM ms.models) AS models,
	   (SELECT count(*) FROM ms.versions) AS versions, (SELECT count(*) FROM ms.grants) AS grants,
	   (SELECT count(*) FROM ms.promotions) AS promotions, (SELECT count(*) FROM ms.points) AS points,
	   (SELECT count(*) FROM :gc_part) AS partition,
	   (SELECT count(*) FROM ms.raw_batches) AS batches, (SELECT count(*) FROM ms.audit_log) AS audit;
RESET ROLE;
SET ROLE gc_writer;
INSERT INTO ms.grants (role, privilege, org, granted_by) VALUES ('gc_writer', 'admin', 'gc', 'gc_writer');
UPDATE ms.versions SET processor = NULL;
DELETE FROM ms.raw_batches;
RESET ROLE;
SELECT (SELECT count(*) FROM ms.raw_batches WHERE org = 'gc') AS batches_left,
	   (SELECT count(*) FROM ms.grants WHERE role = 'gc_writer'::regrole) AS writer_grants;
-- every ms table, and every partition, has it
SELECT c.oid::regclass AS without_row_security
  FROM pg_class c
 WHERE c.relnamespace = 'ms'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
 ORDER BY 1;
DROP ROLE gc_reader, gc_writer;

-- clean up (batch ids as if this suite had not run: raw_store names some)
DELETE FROM ms.raw_batches WHERE org = 'gc';
SELECT setval('ms.raw_batches_batch_id_seq', coalesce(max(batch_id), 0) + 1, false) > 0 AS reset FROM ms.raw_batches;
DELETE FROM ms.grants WHERE org = 'gc';
DROP SCHEMA gc_tenant, gc_admin CASCADE;
DROP ROLE gc_admin, gc_tenant;
