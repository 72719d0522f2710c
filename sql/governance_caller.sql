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

-- clean up
DELETE FROM ms.grants WHERE org = 'gc';
DROP SCHEMA gc_tenant, gc_admin CASCADE;
DROP ROLE gc_admin, gc_tenant;
