-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- Governance: models, versions, labels, promotion, per-org privileges and
-- the model store, exercised as several roles (SET ROLE).
--
\set VERBOSITY terse
SET client_min_messages = notice;

\getenv abs_srcdir PG_ABS_SRCDIR
\set try :abs_srcdir '/sql/include/try.sql'
\i :try

CREATE ROLE regress_ms_admin;		-- admin of org acme
CREATE ROLE regress_ms_sci;		-- data scientist: stage on acme/m
CREATE ROLE regress_ms_prom;		-- promote on acme/m
CREATE ROLE regress_ms_app;		-- query service: query on acme/m
CREATE ROLE regress_ms_app_v2;		-- query on acme/m label v2 only
CREATE ROLE regress_ms_other;		-- query service of org globex
CREATE ROLE regress_ms_nobody;		-- no grant at all
CREATE ROLE regress_ms_group;		-- a group holding query on acme/m
CREATE ROLE regress_ms_member IN ROLE regress_ms_group;
CREATE ROLE regress_ms_noinherit NOINHERIT IN ROLE regress_ms_group;

-- the extension owner (this superuser) may do everything
SELECT ms.create_model('acme', 'm', 3);
SELECT ms.create_model('globex', 'm', 3);		-- same model name, other org
SELECT ms.create_model('acme', 'cos', 2, 'cosine');
SELECT ms.grant('regress_ms_admin', 'admin', 'acme');
SELECT ms.grant('regress_ms_other', 'query', 'globex', 'm');

-- bad identifiers, dimensions, metrics: clear errors
SELECT regress_try($$SELECT ms.create_model('Acme', 'x', 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x y', 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', '-x', 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', '.x', 3)$$);
SELECT regress_try($$SELECT ms.create_model('', 'x', 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', repeat('x', 64), 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', repeat('x', 63), 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', E'x\n', 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'é', 3)$$);
SELECT regress_try($$SELECT ms.create_model(NULL, 'x', 3)$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x', 0)$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x', 16001)$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x', NULL)$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x', 3, 'L2')$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x', 3, 'euclid')$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'm', 3)$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm', NULL)$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm', 'V1')$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'nosuch', 'v1')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_app', 'select', 'acme')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_app', 'query', 'acme', NULL, 'v1')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_app', 'admin', 'acme', 'm')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_app', 'query', 'acme', 'nosuch')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_app', 'query', 'acme', 'm', 'nosuch')$$);
SELECT regress_try($$SELECT ms.grant('-', 'query', 'acme', 'm')$$);
SELECT regress_try($$SELECT ms.knn('acme', 'M', '[1,2,3]', 1)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[1,2,3]', 1, 'Prod')$$);
SELECT regress_try($$SELECT ms.knn('acme', NULL, '[1,2,3]', 1)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[1,2,3]', NULL)$$);

-- the org admin: models and grants within its org only
SET ROLE regress_ms_admin;
SELECT ms.create_model('acme', 'm2', 2);
SELECT regress_try($$SELECT ms.create_model('globex', 'm2', 2)$$);
SELECT regress_try($$SELECT ms.create_model('neworg', 'm', 2)$$);
SELECT ms.grant('regress_ms_sci', 'stage', 'acme', 'm');
SELECT ms.grant('regress_ms_prom', 'promote', 'acme', 'm');
SELECT ms.grant('regress_ms_app', 'query', 'acme', 'm');
SELECT ms.grant('regress_ms_app', 'query', 'acme', 'm');	-- again: no-op
SELECT ms.grant('regress_ms_group', 'query', 'acme', 'm');
SELECT regress_try($$SELECT ms.grant('regress_ms_admin', 'query', 'globex', 'm')$$);
SELECT regress_try($$SELECT ms.revoke('regress_ms_other', 'query', 'globex', 'm')$$);
RESET ROLE;

-- the data scientist stages two versions and loads their points; each
-- version's payloads name it, and their ids do not overlap
SET ROLE regress_ms_sci;
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.create_version('acme', 'm', 'v2');
SELECT regress_try($$SELECT ms.create_version('acme', 'm', 'v1')$$);
SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[1, 2, 3, 4],
	ARRAY['[0,0,0]', '[1,0,0]', '[0,2,0]', '[3,3,3]']::vec[],
	ARRAY['{"v":"v1","n":1}', '{"v":"v1","n":2}', '{"v":"v1","n":3}', '{"v":"v1","n":4}']::jsonb[]);
SELECT ms.upsert_points('acme', 'm', 'v2', ARRAY[101, 102, 103],
	ARRAY['[0,0,1]', '[5,5,5]', '[0,1,1]']::vec[],
	ARRAY['{"v":"v2","n":1}', '{"v":"v2","n":2}', '{"v":"v2","n":3}']::jsonb[]);
-- upsert replaces
SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[4], ARRAY['[9,9,9]']::vec[],
	ARRAY['{"v":"v1","n":44}']::jsonb[]);
-- payloads are optional
SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[5], ARRAY['[8,8,8]']::vec[]);
-- bad points
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6], ARRAY['[1,2]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6, 7], ARRAY['[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6], ARRAY['[1,2,3]']::vec[], ARRAY['{}', '{}']::jsonb[])$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6, 6], ARRAY['[1,2,3]', '[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6, NULL], ARRAY['[1,2,3]', '[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', NULL, ARRAY['[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v3', ARRAY[6], ARRAY['[1,2,3]']::vec[])$$);
-- no default label yet
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', NULL, ARRAY[6], ARRAY['[1,2,3]']::vec[])$$);
-- stage covers querying any label
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 2, 'v2');
-- but not creating models, promoting, granting, or other models
SELECT regress_try($$SELECT ms.create_model('acme', 'x', 3)$$);
SELECT regress_try($$SELECT ms.promote('acme', 'm', 'v1')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_nobody', 'query', 'acme', 'm')$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm2', 'v1')$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'nosuch', 'v1')$$);
RESET ROLE;

-- a consumer before any promotion: no default label
SET ROLE regress_ms_app;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 2)$$);
SELECT ms.default_label('acme', 'm');
RESET ROLE;

-- promotion makes v1 the default
SET ROLE regress_ms_prom;
SELECT ms.promote('acme', 'm', 'v1');
SELECT ms.promote('acme', 'm', 'v1');	-- already the default: nothing recorded
SELECT regress_try($$SELECT ms.promote('acme', 'm', 'v9')$$);
SELECT regress_try($$SELECT ms.promote('acme', 'm2', 'v1')$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm', 'v3')$$);
RESET ROLE;

SET ROLE regress_ms_app;
SELECT ms.default_label('acme', 'm');
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 3);
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 3, 'v1');		-- v1 named: it is the default
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 100);
SELECT * FROM ms.within('acme', 'm', '[0,0,0]', 2);
SELECT * FROM ms.within('acme', 'm', '[0,0,0]', -1);
SELECT * FROM ms.within('acme', 'm', '[0,0,0]', 'Infinity');
-- a box (bounds inclusive): nearest to its centre first
SELECT * FROM ms.in_box('acme', 'm', '([0,0,0],[2,2,0.5])');
SELECT * FROM ms.in_box('acme', 'm', '([0,0,0],[2,2,0.5])', 'v1');
SELECT * FROM ms.in_box('acme', 'm', '([5,5,5],[6,6,6])');
-- a label that is not the default needs a grant for that label
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 3, 'v2')$$);
SELECT regress_try($$SELECT ms.within('acme', 'm', '[0,0,0]', 3, 'v2')$$);
SELECT regress_try($$SELECT ms.in_box('acme', 'm', '([0,0,0],[1,1,1])', 'v2')$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 3, 'nosuch')$$);
-- query grants no writes, no staging, no promotion
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6], ARRAY['[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm', 'v3')$$);
SELECT regress_try($$SELECT ms.promote('acme', 'm', 'v2')$$);
SELECT regress_try($$SELECT ms.rollback('acme', 'm')$$);
-- other models of the org are not visible
SELECT regress_try($$SELECT ms.knn('acme', 'm2', '[0,0]', 3)$$);
SELECT regress_try($$SELECT ms.default_label('acme', 'm2')$$);
-- dimension mismatch, bad k and radius
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0]', 3)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0,0]', 3)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 0)$$);
SELECT regress_try($$SELECT ms.within('acme', 'm', '[0,0,0]', 'NaN')$$);
SELECT regress_try($$SELECT ms.in_box('acme', 'm', '([0,0],[1,1])')$$);
SELECT regress_try($$SELECT ms.in_box('acme', 'm', NULL)$$);
RESET ROLE;

-- a label grant: v2 only, whether default or not
SELECT ms.grant('regress_ms_app_v2', 'query', 'acme', 'm', 'v2');
SET ROLE regress_ms_app_v2;
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 2, 'v2');
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 2)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 2, 'v1')$$);
RESET ROLE;

-- promotion changes what NULL-label queries see
SET ROLE regress_ms_prom;
SELECT ms.promote('acme', 'm', 'v2');
RESET ROLE;
SET ROLE regress_ms_app;
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 3);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 3, 'v1')$$);
RESET ROLE;
SET ROLE regress_ms_app_v2;
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 1);
RESET ROLE;

-- rollback walks the history back, one default at a time
SET ROLE regress_ms_prom;
SELECT ms.rollback('acme', 'm');
SELECT ms.default_label('acme', 'm');
SELECT regress_try($$SELECT ms.rollback('acme', 'm')$$);
SELECT ms.promote('acme', 'm', 'v2');
SELECT ms.rollback('acme', 'm');
RESET ROLE;
SET ROLE regress_ms_app;
SELECT * FROM ms.knn('acme', 'm', '[0,0,0]', 1);
RESET ROLE;
-- who, from, to: the SET ROLE role is recorded, not the session user
SELECT promotion_id, action, from_label, to_label, previous, who
  FROM ms.promotions WHERE org = 'acme' AND model = 'm' ORDER BY promotion_id;

-- two orgs with the same model name are fully isolated
SELECT ms.create_version('globex', 'm', 'prod');
SELECT ms.upsert_points('globex', 'm', 'prod', ARRAY[1, 2], ARRAY['[0,0,0]', '[1,1,1]']::vec[],
	ARRAY['{"org":"globex"}', '{"org":"globex"}']::jsonb[]);
SELECT ms.promote('globex', 'm', 'prod');
SET ROLE regress_ms_other;
SELECT * FROM ms.knn('globex', 'm', '[0,0,0]', 10);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 10)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 10, 'v1')$$);
SELECT regress_try($$SELECT ms.default_label('acme', 'm')$$);
RESET ROLE;
SET ROLE regress_ms_app;
SELECT regress_try($$SELECT ms.knn('globex', 'm', '[0,0,0]', 10)$$);
SELECT regress_try($$SELECT ms.default_label('globex', 'm')$$);
RESET ROLE;

-- no grant: the same error whether the model (or org) exists or not
SET ROLE regress_ms_nobody;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'nosuch', '[0,0,0]', 1)$$);
SELECT regress_try($$SELECT ms.knn('nosuchorg', 'm', '[0,0,0]', 1)$$);
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0]', 1, 'nosuch')$$);
SELECT regress_try($$SELECT ms.within('acme', 'm', '[0,0,0]', 1)$$);
SELECT regress_try($$SELECT ms.in_box('acme', 'm', '([0,0,0],[1,1,1])')$$);
SELECT regress_try($$SELECT ms.default_label('acme', 'm')$$);
SELECT regress_try($$SELECT ms.default_label('acme', 'nosuch')$$);
SELECT regress_try($$SELECT ms.promote('acme', 'm', 'v1')$$);
SELECT regress_try($$SELECT ms.promote('acme', 'nosuch', 'v1')$$);
SELECT regress_try($$SELECT ms.rollback('acme', 'm')$$);
SELECT regress_try($$SELECT ms.rollback('acme', 'nosuch')$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm', 'v9')$$);
SELECT regress_try($$SELECT ms.set_processor('acme', 'm', 'v1', NULL)$$);
SELECT regress_try($$SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[6], ARRAY['[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.create_model('acme', 'x', 3)$$);
SELECT regress_try($$SELECT ms.create_model('nosuchorg', 'x', 3)$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_nobody', 'admin', 'acme')$$);
SELECT regress_try($$SELECT ms.grant('regress_ms_nobody', 'admin', 'nosuchorg')$$);
SELECT regress_try($$SELECT ms.revoke('regress_ms_app', 'query', 'acme', 'm')$$);
RESET ROLE;
-- a superuser's SET ROLE counts: the outer role decides, not the session user
SET ROLE regress_ms_nobody;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
RESET ROLE;

-- a consumer cannot read or change any ms table, sequence or helper
SET ROLE regress_ms_app;
SELECT c.relname, regress_try(format('SELECT 1 FROM ms.%I LIMIT 1', c.relname))
  FROM pg_class c
 WHERE c.relnamespace = 'ms'::regnamespace AND c.relkind IN ('r', 'p', 'S')
 ORDER BY 1;
SELECT regress_try($$INSERT INTO ms.grants (org, role, privilege, granted_by) VALUES ('acme', 'regress_ms_app', 'admin', 'x')$$);
SELECT regress_try($$UPDATE ms.models SET default_label = 'v2'$$);
SELECT regress_try($$SELECT * FROM ms._access('regress_ms_app'::regrole, true, 'acme', 'm', NULL, 'query')$$);
SELECT regress_try($$SELECT * FROM ms._resolve('acme', 'm', NULL, 'query', true)$$);
SELECT regress_try($$SELECT ms._is_privileged()$$);
RESET ROLE;

-- grants to a group apply to members that inherit from it
SET ROLE regress_ms_member;
SELECT point_id FROM ms.knn('acme', 'm', '[0,0,0]', 1);
RESET ROLE;
SET ROLE regress_ms_noinherit;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
RESET ROLE;
-- membership changes take effect at once (queries cache their answers)
SET ROLE regress_ms_nobody;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
RESET ROLE;
GRANT regress_ms_group TO regress_ms_nobody;
SET ROLE regress_ms_nobody;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
RESET ROLE;
REVOKE regress_ms_group FROM regress_ms_nobody;
SET ROLE regress_ms_nobody;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
RESET ROLE;
-- a promotion rolled back leaves the default (and what queries see) alone
SET ROLE regress_ms_member;
SELECT point_id FROM ms.knn('acme', 'm', '[0,0,0]', 1);
RESET ROLE;
BEGIN;
SET ROLE regress_ms_prom;
SELECT ms.promote('acme', 'm', 'v2') IS NOT NULL AS promoted_in_transaction;
SET ROLE regress_ms_member;
SELECT point_id FROM ms.knn('acme', 'm', '[0,0,0]', 1);
ROLLBACK;
SET ROLE regress_ms_member;
SELECT point_id FROM ms.knn('acme', 'm', '[0,0,0]', 1);
RESET ROLE;

-- revoke
SET ROLE regress_ms_admin;
SELECT ms.revoke('regress_ms_app', 'query', 'acme', 'm');
SELECT ms.revoke('regress_ms_app', 'query', 'acme', 'm');	-- nothing left: notice
RESET ROLE;
SET ROLE regress_ms_app;
SELECT regress_try($$SELECT ms.knn('acme', 'm', '[0,0,0]', 1)$$);
RESET ROLE;

-- admin implies every privilege in its org except raw_read
SET ROLE regress_ms_admin;
SELECT point_id FROM ms.knn('acme', 'm', '[0,0,0]', 1, 'v2');
SELECT ms.create_version('acme', 'm2', 'a');
SELECT ms.promote('acme', 'm2', 'a');
RESET ROLE;
SELECT visible, allowed FROM ms._access('regress_ms_admin'::regrole, false, 'acme', 'm', NULL, 'raw_read');
SELECT visible, allowed FROM ms._access('regress_ms_admin'::regrole, false, 'acme', 'm', NULL, 'stage');

-- cosine models refuse zero vectors; distance by the model's metric
SELECT ms.create_version('acme', 'cos', 'v1');
SELECT regress_try($$SELECT ms.upsert_points('acme', 'cos', 'v1', ARRAY[1], ARRAY['[0,0]']::vec[])$$);
SELECT ms.upsert_points('acme', 'cos', 'v1', ARRAY[1, 2, 3], ARRAY['[1,0]', '[0,1]', '[-1,-1]']::vec[]);
SELECT point_id, round(distance::numeric, 6) FROM ms.knn('acme', 'cos', '[2,0]', 3, 'v1');
SELECT ms.create_model('acme', 'dot', 2, 'ip');
SELECT ms.create_version('acme', 'dot', 'v1');
SELECT ms.upsert_points('acme', 'dot', 'v1', ARRAY[1, 2, 3], ARRAY['[1,0]', '[0,3]', '[2,2]']::vec[]);
SELECT * FROM ms.knn('acme', 'dot', '[1,1]', 3, 'v1');

-- processors: signature and EXECUTE privilege are checked
CREATE FUNCTION regress_ms_proc(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT 1::bigint, '[1,2,3]'::vec, NULL::jsonb $$;
CREATE FUNCTION regress_ms_badproc(batch bytea) RETURNS SETOF integer
LANGUAGE sql AS $$ SELECT 1 $$;
SELECT ms.create_version('acme', 'm', 'v3', 'regress_ms_proc(bytea, integer)');
SELECT processor FROM ms.versions WHERE org = 'acme' AND model = 'm' AND label = 'v3';
-- a version's processor cannot be dropped (a dangling regprocedure would
-- be dumped as a bare OID)
SELECT regress_try($$DROP FUNCTION regress_ms_proc(bytea, integer)$$);
SELECT regress_try($$SELECT ms.create_version('acme', 'm', 'v4', 'regress_ms_badproc(bytea)')$$);
REVOKE EXECUTE ON FUNCTION regress_ms_proc(bytea, integer) FROM PUBLIC;
SET ROLE regress_ms_sci;
SELECT regress_try($$SELECT ms.set_processor('acme', 'm', 'v3', 'regress_ms_proc(bytea, integer)')$$);
SELECT ms.set_processor('acme', 'm', 'v3', NULL);
RESET ROLE;

-- the model store: a partition per version, with its dimension pinned and
-- the index for its dimension when that index type is installed
SELECT v.label, c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM ms.versions v JOIN pg_class c ON c.oid = format('ms.points_%s', v.version_id)::regclass
 WHERE v.org = 'acme' AND v.model = 'm' ORDER BY v.label;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ms.points_1'::regclass AND contype = 'c' ORDER BY 1;
SELECT regress_try($$INSERT INTO ms.points VALUES ('acme', 1, 99, '[1,2]')$$);
SELECT (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		 JOIN pg_am am ON am.oid = c.relam
		 WHERE i.indrelid = 'ms.points_1'::regclass AND am.amname = 'gist')
	 = (SELECT count(*) FROM pg_opclass WHERE opcname = 'vec_gist_ops') AS gist_index_iff_installed;
-- a query touches only its version's partition (flush pending statistics
-- first: the xact view shows this backend's unflushed counts)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT count(*) FROM ms.knn('acme', 'm', '[0,0,0]', 2, 'v1');
SELECT count(*) FROM ms.within('acme', 'm', '[0,0,0]', 2, 'v1');
SELECT count(*) FROM ms.in_box('acme', 'm', '([0,0,0],[9,9,9])', 'v1');
SELECT relname, seq_scan + coalesce(idx_scan, 0) > 0 AS scanned
  FROM pg_stat_xact_user_tables
 WHERE schemaname = 'ms' AND relname LIKE 'points%' ORDER BY relname;
COMMIT;

-- the promotion history is append-only: row security hides its rows from
-- a role granted UPDATE and DELETE (nothing changes), and its trigger
-- refuses one that bypasses row security too
GRANT UPDATE, DELETE, TRUNCATE ON ms.promotions TO regress_ms_admin;
SET ROLE regress_ms_admin;
SELECT regress_try($$DELETE FROM ms.promotions$$);
SELECT regress_try($$UPDATE ms.promotions SET to_label = 'v2'$$);
RESET ROLE;
ALTER ROLE regress_ms_admin BYPASSRLS;
SET ROLE regress_ms_admin;
SELECT regress_try($$DELETE FROM ms.promotions$$);
SELECT regress_try($$UPDATE ms.promotions SET to_label = 'v2'$$);
SELECT regress_try($$TRUNCATE ms.promotions$$);
RESET ROLE;
ALTER ROLE regress_ms_admin NOBYPASSRLS;
REVOKE UPDATE, DELETE, TRUNCATE ON ms.promotions FROM regress_ms_admin;
SELECT count(*) FROM ms.promotions;

-- Above 64 dims a version's msivf index is built once it holds enough
-- points to train its centroids on (ms._version_index_min_rows(), 10,000),
-- by whichever load gets it there; until then queries scan the partition.
CREATE FUNCTION regress_ms_indexes(p_model text, p_label text) RETURNS TABLE (index text, am name)
LANGUAGE sql AS $$
	SELECT regexp_replace(c.relname, '[0-9]+', 'N'), a.amname
	  FROM ms.versions v
	  JOIN pg_index x ON x.indrelid = format('ms.points_%s', v.version_id)::regclass
	  JOIN pg_class c ON c.oid = x.indexrelid
	  JOIN pg_am a ON a.oid = c.relam
	 WHERE v.org = 'acme' AND v.model = p_model AND v.label = p_label
	 ORDER BY 1
$$;
-- point i of the wide model: 65 dims, all different
CREATE FUNCTION regress_ms_wide(i int) RETURNS vec
LANGUAGE sql AS $$
	SELECT array_agg(sin(i * 0.37 + d)::real ORDER BY d)::vec FROM generate_series(1, 65) d
$$;
-- up to 64 dims the GiST index is there from the start
SELECT * FROM regress_ms_indexes('m', 'v1');
SELECT ms.create_model('acme', 'wide', 65);
SELECT ms.grant('regress_ms_sci', 'stage', 'acme', 'wide');
SELECT ms.grant('regress_ms_app', 'query', 'acme', 'wide');
SELECT ms.create_version('acme', 'wide', 'v1');
SELECT * FROM regress_ms_indexes('wide', 'v1');
SET ROLE regress_ms_sci;
SELECT ms.upsert_points('acme', 'wide', 'v1', array_agg(i), array_agg(regress_ms_wide(i)))
  FROM generate_series(1, 9999) i;
RESET ROLE;
SELECT * FROM regress_ms_indexes('wide', 'v1');
-- exact answers meanwhile (a sequential scan)
SELECT point_id, round(distance::numeric, 6) AS distance
  FROM ms.knn('acme', 'wide', regress_ms_wide(42), 2, 'v1');
SET ROLE regress_ms_sci;
-- replacing points does not count twice
SELECT ms.upsert_points('acme', 'wide', 'v1', '{1,2}', ARRAY[regress_ms_wide(1), regress_ms_wide(2)]);
RESET ROLE;
SELECT * FROM regress_ms_indexes('wide', 'v1');
SET ROLE regress_ms_sci;
SELECT ms.upsert_points('acme', 'wide', 'v1', '{10000}', ARRAY[regress_ms_wide(10000)]);
RESET ROLE;
SELECT * FROM regress_ms_indexes('wide', 'v1');
SELECT count(*) FROM ms.points WHERE org = 'acme' AND point_id <= 10000
   AND version_id = (SELECT version_id FROM ms.versions WHERE model = 'wide' AND label = 'v1');
-- the index serves: a stored point finds itself first
SELECT point_id, distance FROM ms.knn('acme', 'wide', regress_ms_wide(42), 1, 'v1');
SELECT point_id, distance FROM ms.knn('acme', 'wide', regress_ms_wide(10000), 1, 'v1');
-- ... through the index (flush pending statistics first, as above)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT count(*) FROM ms.knn('acme', 'wide', regress_ms_wide(5), 10, 'v1');
-- (heap fetches through an index: msivf does not count its scans in
-- idx_scan, pgstat_count_index_scan being the access method's job)
SELECT idx_tup_fetch > 0 AS index_used, seq_scan = 0 AS no_seqscan
  FROM pg_stat_xact_user_tables s JOIN ms.versions v ON s.relid = format('ms.points_%s', v.version_id)::regclass
 WHERE v.org = 'acme' AND v.model = 'wide' AND v.label = 'v1';
COMMIT;

-- ms.reindex_version rebuilds it (a new relfilenode), with stage or admin
SELECT pg_relation_filenode(format('ms.points_%s_embedding', version_id)) AS wide_fn
  FROM ms.versions WHERE org = 'acme' AND model = 'wide' AND label = 'v1' \gset
SET ROLE regress_ms_sci;
SELECT ms.reindex_version('acme', 'wide', 'v1');
RESET ROLE;
SELECT pg_relation_filenode(format('ms.points_%s_embedding', version_id)) <> :wide_fn AS rebuilt
  FROM ms.versions WHERE org = 'acme' AND model = 'wide' AND label = 'v1';
SELECT * FROM regress_ms_indexes('wide', 'v1');
SET ROLE regress_ms_admin;
SELECT ms.reindex_version('acme', 'wide', 'v1');
RESET ROLE;
SELECT point_id, distance FROM ms.knn('acme', 'wide', regress_ms_wide(7), 1, 'v1');
-- refused without stage or admin
SET ROLE regress_ms_app;
SELECT regress_try($$SELECT ms.reindex_version('acme', 'wide', 'v1')$$);
SET ROLE regress_ms_nobody;
SELECT regress_try($$SELECT ms.reindex_version('acme', 'wide', 'v1')$$);
SET ROLE regress_ms_sci;
SELECT regress_try($$SELECT ms.reindex_version('acme', 'wide', 'nope')$$);
SELECT regress_try($$SELECT ms.reindex_version('acme', 'wide', NULL)$$);
RESET ROLE;
-- a version without an index gets one from ms.reindex_version, even small
SELECT ms.create_version('acme', 'wide', 'v2');
SELECT ms.upsert_points('acme', 'wide', 'v2', array_agg(i), array_agg(regress_ms_wide(i)))
  FROM generate_series(1, 100) i;
SELECT * FROM regress_ms_indexes('wide', 'v2');
SELECT ms.reindex_version('acme', 'wide', 'v2');
SELECT * FROM regress_ms_indexes('wide', 'v2');
-- the raw ingest path builds it too, once the batches reach the threshold
SELECT ms.create_version('acme', 'wide', 'v3');
SELECT ms.ingest('acme', 'wide', convert_to(string_agg(i || ',' || array_to_string(regress_ms_wide(i)::real[], ','), E'\n'), 'UTF8'), 'v3') > 0 AS stored
  FROM generate_series(1, 6000) i;
SELECT * FROM regress_ms_indexes('wide', 'v3');
SELECT ms.ingest('acme', 'wide', convert_to(string_agg(i || ',' || array_to_string(regress_ms_wide(i)::real[], ','), E'\n'), 'UTF8'), 'v3') > 0 AS stored
  FROM generate_series(6001, 10000) i;
SELECT * FROM regress_ms_indexes('wide', 'v3');
SELECT point_id, distance FROM ms.knn('acme', 'wide', regress_ms_wide(9999), 1, 'v3');
-- drop the wide model again: later suites share this database
DO $$
DECLARE
	vid bigint;
BEGIN
	FOR vid IN SELECT version_id FROM ms.versions WHERE org = 'acme' AND model = 'wide' LOOP
		EXECUTE format('DROP TABLE ms.points_%s', vid);
	END LOOP;
END $$;
DELETE FROM ms.raw_batches WHERE org = 'acme' AND model = 'wide';
-- (and the batch ids it took: raw_store names batches by id)
SELECT setval('ms.raw_batches_batch_id_seq', coalesce(max(batch_id), 0) + 1, false) FROM ms.raw_batches;
DELETE FROM ms.grants WHERE org = 'acme' AND model = 'wide';
DELETE FROM ms.versions WHERE org = 'acme' AND model = 'wide';
DELETE FROM ms.models WHERE org = 'acme' AND model = 'wide';
DROP FUNCTION regress_ms_indexes(text, text);
DROP FUNCTION regress_ms_wide(int);

-- clean up
DELETE FROM ms.grants WHERE org IN ('acme', 'globex');
DROP FUNCTION regress_ms_proc(bytea, integer);
DROP FUNCTION regress_ms_badproc(bytea);
DROP ROLE regress_ms_admin, regress_ms_sci, regress_ms_prom, regress_ms_app,
	regress_ms_app_v2, regress_ms_other, regress_ms_nobody, regress_ms_member,
	regress_ms_noinherit, regress_ms_group;
DROP FUNCTION regress_try(text), regress_try_value(text);
