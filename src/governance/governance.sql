-- Governance (schema ms): organisations, models, versions and labels, the
-- promotion history, per-org privileges, and the model store holding every
-- version's points in a partition of its own.
--
-- Security model, in short:
--  * Plain roles have no privileges on any ms table; they call the API
--    functions below, which decide themselves, from ms.grants, what the
--    caller may do, and do it with the extension owner's rights.
--  * "The caller" is the role whose code makes the call: GetUserId() when
--    the call enters the extension (caller.c).  Inside code PostgreSQL
--    runs for another role (an index expression under ANALYZE, a
--    processor, someone else's SECURITY DEFINER function) that is the
--    code's own role, never the session's outer role, so such code cannot
--    borrow the grants of whoever it runs for.  A definer function cannot
--    learn who called it, so the API functions are not SECURITY DEFINER:
--    each is an invoker-rights C function (symbol ms_entry) that records
--    the caller, switches to the owner and runs its body, the PL/pgSQL
--    function of the same name with a leading underscore (ms.grant runs
--    ms._grant), which PUBLIC cannot execute.  ms._caller() answers with
--    the recorded caller; nothing here asks current_user or superuser().
--  * Superusers and members of the extension's owner may do everything
--    (ms._is_privileged()).
--  * Every function body schema-qualifies what it uses (pg_catalog
--    operators included), so nothing a caller creates in its own schemas
--    can run in here, whatever its search_path.
--
-- Privileges (ms.grant / ms.revoke), per role, per org, optionally per model
-- and label; a grant to a role applies to the roles that inherit from it:
--   query     ms.knn / ms.within / ms.in_box on the default label; with a
--             label, on that label only (whether default or not)
--   ingest    ms.ingest and ms.upsert_points into the model (any label, or
--             the granted one)
--   stage     create versions (ms.create_version), set their processors,
--             load points, replay, and query any label of the model (or
--             only the granted label)
--   promote   ms.promote, ms.rollback (with a label: only that label; a
--             rollback needs it on both the current and the restored label)
--   raw_read  audited raw access: ms.open_access / ms.read_batch of the
--             model's batches (with a label, exactly that label's), and
--             replay through a user processor, which sees the raw bytes
--   admin     granted on a whole org only.  Grant and revoke within the
--             org, create models in it, and every privilege above on all of
--             its models EXCEPT raw_read: reading customers' raw data always
--             takes an explicit, visible (and audited) grant, even for an
--             org admin, who may grant it to itself.
-- Who may create: models need admin on the org (or a privileged caller);
-- versions need stage on the model/label (or admin, or privileged).  Only a
-- privileged caller can bring a new org into existence (by creating its first
-- model or granting on it).
--
-- Errors: a refusal is SQLSTATE 42501 naming what was denied.  A caller
-- holding no grant that covers a model gets the very same error whether or
-- not the model (or its org) exists; only callers allowed to see every
-- label of a model learn that a label does not exist.

CREATE SCHEMA ms;
COMMENT ON SCHEMA ms IS 'MachineSoup governance: models, versions, labels, privileges and the model store';
REVOKE ALL ON SCHEMA ms FROM PUBLIC;
GRANT USAGE ON SCHEMA ms TO PUBLIC;

-- Internal helpers written in C (src/governance/caller.c and governance.c,
-- src/raw/raw_sandbox.c).

CREATE FUNCTION ms._caller() RETURNS regrole
	AS 'MODULE_PATHNAME', 'ms_caller' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ms._caller() IS 'internal: the role whose code called the current ms entry point (GetUserId() at entry)';
CREATE FUNCTION ms._caller_name() RETURNS name
	AS 'MODULE_PATHNAME', 'ms_caller_name' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ms._caller_name() IS 'internal: the name of the role ms._caller() returns';
CREATE FUNCTION ms._is_privileged() RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_is_privileged' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION ms._role_is_privileged(role oid) RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_role_is_privileged' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION ms._role_is_privileged(oid) IS 'internal: ms._is_privileged() of the given role';

-- Citus: whether a table is managed by Citus, and whether the model store
-- has been distributed (ms.enable_citus(), src/raw/raw.sql): then every
-- version's points are a table of their own, distributed by org and
-- co-located with the org's raw batches, instead of a partition of
-- ms.points.
CREATE FUNCTION ms._is_citus_table(regclass) RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_is_citus_table' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION ms._is_citus_table(regclass) IS 'internal: whether the table is managed by Citus';
CREATE FUNCTION ms._citus_enabled() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS 'SELECT ms._is_citus_table(''ms.raw_batches''::pg_catalog.regclass)';
COMMENT ON FUNCTION ms._citus_enabled() IS 'internal: whether ms.enable_citus() has distributed the model store';
CREATE FUNCTION ms._processor_digest(processor regprocedure) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_processor_digest' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION ms._processor_digest(regprocedure) IS 'internal: digest of a function''s definition (body, owner, language, settings, signature), pinned when it is approved as a processor';
COMMENT ON FUNCTION ms._is_privileged() IS 'internal: true when the caller is a superuser or has the privileges of the extension owner (the owner of schema ms)';
CREATE FUNCTION ms._check_ident(kind text, value text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_check_ident' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ms._check_ident(text, text) IS 'internal: raises 22023 unless value matches ^[a-z0-9][a-z0-9._-]{0,62}$ (22004 when NULL)';

-- Roles and functions as the governance tables store them (noderef.c): an
-- OID of this node, binary-coercible to oid and to regrole or
-- regprocedure, whose text and binary forms are both names.  regrole's and
-- regprocedure's binary form is the bare OID, which Citus's binary COPY of
-- a reference table to a node added later (ms.enable_citus) carried there,
-- where it names another role or function, or none.  Text input takes no
-- bare OID (digits name nobody).
CREATE TYPE ms.roleref;
CREATE FUNCTION ms.roleref_in(cstring) RETURNS ms.roleref
	AS 'MODULE_PATHNAME', 'ms_roleref_in' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.roleref_in(cstring) IS 'internal: input of ms.roleref, a role name as regrole takes it (digits name no role)';
CREATE FUNCTION ms.roleref_out(ms.roleref) RETURNS cstring
	AS 'MODULE_PATHNAME', 'ms_roleref_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.roleref_out(ms.roleref) IS 'internal: output of ms.roleref, as regrole''s';
CREATE FUNCTION ms.roleref_recv(internal) RETURNS ms.roleref
	AS 'MODULE_PATHNAME', 'ms_roleref_recv' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.roleref_recv(internal) IS 'internal: binary input of ms.roleref, a role name looked up on this node (none: no role)';
CREATE FUNCTION ms.roleref_send(ms.roleref) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_roleref_send' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.roleref_send(ms.roleref) IS 'internal: binary output of ms.roleref, the role''s name (empty when the OID names no role)';
CREATE TYPE ms.roleref (
	INPUT = ms.roleref_in, OUTPUT = ms.roleref_out,
	RECEIVE = ms.roleref_recv, SEND = ms.roleref_send,
	INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
COMMENT ON TYPE ms.roleref IS 'internal: a role as ms.grants stores it, an OID of this node that travels by name (text and binary)';
CREATE CAST (ms.roleref AS pg_catalog.oid) WITHOUT FUNCTION AS IMPLICIT;
COMMENT ON CAST (ms.roleref AS pg_catalog.oid) IS 'internal: the role''s OID on this node';
CREATE CAST (ms.roleref AS pg_catalog.regrole) WITHOUT FUNCTION AS IMPLICIT;
COMMENT ON CAST (ms.roleref AS pg_catalog.regrole) IS 'internal: the role as a regrole';
CREATE CAST (pg_catalog.regrole AS ms.roleref) WITHOUT FUNCTION AS ASSIGNMENT;
COMMENT ON CAST (pg_catalog.regrole AS ms.roleref) IS 'internal: a regrole as stored in ms.grants';

CREATE TYPE ms.procref;
CREATE FUNCTION ms.procref_in(cstring) RETURNS ms.procref
	AS 'MODULE_PATHNAME', 'ms_procref_in' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.procref_in(cstring) IS 'internal: input of ms.procref, a function signature as regprocedure takes it (digits name no function)';
CREATE FUNCTION ms.procref_out(ms.procref) RETURNS cstring
	AS 'MODULE_PATHNAME', 'ms_procref_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.procref_out(ms.procref) IS 'internal: output of ms.procref, as regprocedure''s';
CREATE FUNCTION ms.procref_recv(internal) RETURNS ms.procref
	AS 'MODULE_PATHNAME', 'ms_procref_recv' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.procref_recv(internal) IS 'internal: binary input of ms.procref, a qualified signature looked up on this node (none: no function)';
CREATE FUNCTION ms.procref_send(ms.procref) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_procref_send' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms.procref_send(ms.procref) IS 'internal: binary output of ms.procref, the function''s qualified signature (empty when the OID names no function)';
CREATE TYPE ms.procref (
	INPUT = ms.procref_in, OUTPUT = ms.procref_out,
	RECEIVE = ms.procref_recv, SEND = ms.procref_send,
	INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
COMMENT ON TYPE ms.procref IS 'internal: a function as ms.versions stores a processor, an OID of this node that travels by its signature (text and binary)';
CREATE CAST (ms.procref AS pg_catalog.oid) WITHOUT FUNCTION AS IMPLICIT;
COMMENT ON CAST (ms.procref AS pg_catalog.oid) IS 'internal: the function''s OID on this node';
CREATE CAST (ms.procref AS pg_catalog.regprocedure) WITHOUT FUNCTION AS IMPLICIT;
COMMENT ON CAST (ms.procref AS pg_catalog.regprocedure) IS 'internal: the function as a regprocedure';
CREATE CAST (pg_catalog.regprocedure AS ms.procref) WITHOUT FUNCTION AS ASSIGNMENT;
COMMENT ON CAST (pg_catalog.regprocedure AS ms.procref) IS 'internal: a regprocedure as stored in ms.versions';

-- Tables.  Every one is keyed by org first, so the whole schema can be
-- sharded on org by an existing engine (Citus, partitions over postgres_fdw).

CREATE TABLE ms.orgs (
	org			text PRIMARY KEY
		CONSTRAINT orgs_org_check CHECK (org ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL,
	-- the role the org's user processors run as (ms._processor_role): a
	-- random name, so pg_roles, which everyone reads, names no org
	processor_role name
);
COMMENT ON TABLE ms.orgs IS 'organisations (tenants) and their processor roles; internal, not for direct access: use the ms functions';

CREATE TABLE ms.models (
	org			text NOT NULL REFERENCES ms.orgs,
	model		text NOT NULL
		CONSTRAINT models_model_check CHECK (model ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	dims		integer NOT NULL CHECK (dims BETWEEN 1 AND 1000000000),
	metric		text NOT NULL CHECK (metric IN ('l2', 'cosine', 'ip', 'hamming', 'jaccard')),
	-- the label NULL-label queries resolve to; changed only by
	-- ms.promote/ms.rollback, as one row update under the row's lock
	default_label text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL,
	-- what a point is: float32 (vec), float16 (hvec), bit (bvec) or sparse
	-- (svec); fixed at creation.  Last, as the update from 0.5.0 adds it.
	element_type text NOT NULL DEFAULT 'float32'
		CONSTRAINT models_element_type_check
		CHECK (element_type IN ('float32', 'float16', 'bit', 'sparse')),
	PRIMARY KEY (org, model),
	-- the metrics and dimensions each element type has (ms.create_model)
	CONSTRAINT models_element_type_metric_check CHECK (
		CASE element_type
			WHEN 'bit' THEN metric IN ('hamming', 'jaccard') AND dims <= 64000
			WHEN 'sparse' THEN metric IN ('l2', 'cosine', 'ip')
			ELSE metric IN ('l2', 'cosine', 'ip') AND dims <= 16000
		END)
);
COMMENT ON TABLE ms.models IS 'models: dimension, distance metric, element type and default label; internal, not for direct access: use the ms functions';

CREATE SEQUENCE ms.versions_version_id_seq;
COMMENT ON SEQUENCE ms.versions_version_id_seq IS 'internal: ids of ms.versions (the partition of version N is ms.points_N)';

CREATE TABLE ms.versions (
	org			text NOT NULL,
	model		text NOT NULL,
	label		text NOT NULL
		CONSTRAINT versions_label_check CHECK (label ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	-- global id; the version's points live in partition ms.points_<version_id>
	version_id	bigint NOT NULL UNIQUE DEFAULT nextval('ms.versions_version_id_seq'),
	-- the function's OID here, by its signature elsewhere (ms.procref)
	processor	ms.procref,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL,
	-- the processor's definition as approved by ms.set_processor
	-- (ms._processor_digest); a changed definition does not run.  Last,
	-- as the update from 0.3.0 adds it.
	processor_digest bytea,
	PRIMARY KEY (org, model, label),
	FOREIGN KEY (org, model) REFERENCES ms.models
);
ALTER SEQUENCE ms.versions_version_id_seq OWNED BY ms.versions.version_id;
COMMENT ON TABLE ms.versions IS 'model versions, one per label, and their processors; points in ms.points_<version_id>; internal, not for direct access: use the ms functions';

CREATE SEQUENCE ms.promotions_promotion_id_seq;
COMMENT ON SEQUENCE ms.promotions_promotion_id_seq IS 'internal: ids of ms.promotions';

-- Append-only.  Each row establishes a state of the model's default label;
-- "previous" points at the row that established the state before it, so a
-- rollback restores that state in O(1) and successive rollbacks walk back.
CREATE TABLE ms.promotions (
	org			text NOT NULL,
	model		text NOT NULL,
	promotion_id bigint NOT NULL DEFAULT nextval('ms.promotions_promotion_id_seq'),
	action		text NOT NULL CHECK (action IN ('promote', 'rollback')),
	from_label	text,
	to_label	text NOT NULL,
	previous	bigint,
	who			name NOT NULL,
	at			timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (org, model, promotion_id),
	FOREIGN KEY (org, model) REFERENCES ms.models
);
ALTER SEQUENCE ms.promotions_promotion_id_seq OWNED BY ms.promotions.promotion_id;
COMMENT ON TABLE ms.promotions IS 'append-only history of default-label changes (who, when, from, to); internal, not for direct access: written by ms.promote and ms.rollback';

CREATE TABLE ms.grants (
	org			text NOT NULL REFERENCES ms.orgs,
	-- the role's OID here; dumped, restored and copied to other nodes by
	-- name (ms.roleref)
	role		ms.roleref NOT NULL,
	privilege	text NOT NULL
		CHECK (privilege IN ('query', 'ingest', 'stage', 'promote', 'raw_read', 'admin')),
	model		text,
	label		text,
	granted_by	name NOT NULL,
	granted_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (label IS NULL OR model IS NOT NULL),
	CHECK (privilege <> 'admin' OR model IS NULL),
	FOREIGN KEY (org, model) REFERENCES ms.models,
	FOREIGN KEY (org, model, label) REFERENCES ms.versions
);
-- NULL model/label mean "all"; '' is no valid identifier, so it can stand
-- for NULL in the uniqueness key.
CREATE UNIQUE INDEX grants_key ON ms.grants
	(org, role, privilege, coalesce(model, ''), coalesce(label, ''));
COMMENT ON TABLE ms.grants IS 'who may do what, per org and optionally per model and label; internal, not for direct access: use ms.grant and ms.revoke';

-- The model store.  One LIST partition per version (ms.points_<version_id>),
-- created by ms.create_version with a CHECK pinning its dimension, and an
-- index chosen by dimension (see ms._create_version_index), so a query of
-- one version touches only its own partition.  (A partition cannot carry
-- its own typmod, hence the CHECK.)
--
-- The parent has no primary key or index: each partition gets its own
-- primary key, points_<version_id>_pkey on (point_id), from
-- ms.create_version, and upserts name the partition.  Why: the parent
-- belongs to the extension while its partitions are user data that pg_dump
-- dumps as plain tables, re-attached in the pre-data section and given
-- their keys in post-data.  With a key on the parent, which CREATE
-- EXTENSION has already made by then, ATTACH PARTITION would clone it onto
-- the partition and pg_restore's own "ADD CONSTRAINT ... PRIMARY KEY" would
-- then fail ("multiple primary keys").  Since each partition holds a single
-- version of a single org (its bound and its CHECK), point_id alone is the
-- same uniqueness as (org, version_id, point_id), with a key a third the
-- size that compares integers instead of collated text on every insert.
CREATE TABLE ms.points (
	org			text NOT NULL,
	version_id	bigint NOT NULL,
	point_id	bigint NOT NULL,
	embedding	@extschema@.vec NOT NULL,
	payload		jsonb
) PARTITION BY LIST (version_id);
COMMENT ON TABLE ms.points IS 'model store: points of every version, one partition per version; internal, not for direct access: load with ms.upsert_points or ms.ingest, query with ms.knn, ms.within or ms.in_box';

REVOKE ALL ON ALL TABLES IN SCHEMA ms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ms FROM PUBLIC;
-- pg_read_all_data and pg_write_all_data act as if they held every table
-- privilege, but they do not bypass row security: with it enabled and no
-- policy, they see no row and write none.  The API runs as the tables'
-- owner, whom row security does not apply to.
ALTER TABLE ms.orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.promotions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.points ENABLE ROW LEVEL SECURITY;

-- Governance state is data a DBA must not lose in pg_dump.
SELECT pg_catalog.pg_extension_config_dump('ms.orgs', '');
SELECT pg_catalog.pg_extension_config_dump('ms.models', '');
SELECT pg_catalog.pg_extension_config_dump('ms.versions', '');
SELECT pg_catalog.pg_extension_config_dump('ms.promotions', '');
-- ms.grants.role is an ms.roleref, an OID that pg_dump writes as the role's
-- name and a restore looks up by name (so roles must exist first).  A role
-- dropped after its grants leaves rows whose OID names nobody; those are
-- written as bare numbers, which ms.roleref reads as no role (regrole
-- would take whatever role has that OID in the new cluster), and left out
-- of the dump.
-- (pg_dump runs the filter with an empty search_path: all is qualified.)
SELECT pg_catalog.pg_extension_config_dump('ms.grants',
	'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r '
	'WHERE r.oid OPERATOR(pg_catalog.=) grants.role::pg_catalog.oid)');
SELECT pg_catalog.pg_extension_config_dump('ms.versions_version_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ms.promotions_promotion_id_seq', '');

-- Append-only tables refuse UPDATE, DELETE and TRUNCATE from anyone but a
-- superuser.  An invoker-rights trigger: current_user is the role whose
-- statement fires it.
CREATE FUNCTION ms._append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r
					 WHERE r.rolname OPERATOR(pg_catalog.=) current_user), false) THEN
		RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = '42501',
				  DETAIL = pg_catalog.format('%s is refused to everyone but a superuser.', TG_OP);
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION ms._append_only() IS 'internal: trigger keeping ms.promotions append-only (UPDATE, DELETE and TRUNCATE refused to all but superusers)';

CREATE TRIGGER promotions_append_only BEFORE UPDATE OR DELETE ON ms.promotions
	FOR EACH ROW EXECUTE FUNCTION ms._append_only();
CREATE TRIGGER promotions_no_truncate BEFORE TRUNCATE ON ms.promotions
	FOR EACH STATEMENT EXECUTE FUNCTION ms._append_only();

-- Queries (governance_query.c) cache authorisation answers per backend
-- (governance.c); any change to what they depend on must reach every
-- backend's cache.
CREATE FUNCTION ms._governance_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'ms_governance_changed' LANGUAGE C;
COMMENT ON FUNCTION ms._governance_changed() IS 'internal: trigger telling every backend, on commit, that its cached authorisation answers may be stale';
CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ms.models
	FOR EACH STATEMENT EXECUTE FUNCTION ms._governance_changed();
CREATE TRIGGER versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ms.versions
	FOR EACH STATEMENT EXECUTE FUNCTION ms._governance_changed();
CREATE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ms.grants
	FOR EACH STATEMENT EXECUTE FUNCTION ms._governance_changed();

-- What the caller may do with (org, model, label): the one place where
-- grants are interpreted.  No row when the model does not exist.  Not
-- SECURITY DEFINER and no SET: it is only ever run from SECURITY DEFINER
-- code with the pinned search_path, and PUBLIC cannot execute it.
-- PL/pgSQL rather than SQL: on a Citus cluster (ms.enable_citus) its
-- tables are reference tables, and Citus refuses a SQL function's
-- parameterized query on a distributed or reference table, while it plans
-- PL/pgSQL's (README.md, "Scale-out").
--   visible     the caller holds some grant covering the model (or is
--               privileged): it may learn that the model exists
--   all_labels  it may learn which labels exist
--   allowed     p_privilege is granted on the resolved label
--   label       resolved label (p_label, else the default) when it exists
CREATE FUNCTION ms._access(p_caller oid, p_privileged boolean, p_org text,
						   p_model text, p_label text, p_privilege text)
RETURNS TABLE (visible boolean, all_labels boolean, allowed boolean,
			   dims integer, metric text, default_label text,
			   label text, version_id bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT
	p_privileged OR coalesce(g.visible, false),
	p_privileged OR coalesce(g.all_labels, false),
	p_privileged OR coalesce(g.allowed, false),
	m.dims, m.metric, m.default_label, v.label, v.version_id
FROM ms.models m
	LEFT JOIN ms.versions v
		ON v.org OPERATOR(pg_catalog.=) m.org
		AND v.model OPERATOR(pg_catalog.=) m.model
		AND v.label OPERATOR(pg_catalog.=) coalesce(p_label, m.default_label)
	-- one pass over the caller's grants in the org covering the model
	CROSS JOIN LATERAL (
		SELECT
			pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 AS visible,
			pg_catalog.bool_or(g.label IS NULL
				AND g.privilege OPERATOR(pg_catalog.=) ANY ('{admin,stage,promote}'::pg_catalog.text[])) AS all_labels,
			pg_catalog.bool_or(
				(g.privilege OPERATOR(pg_catalog.=) 'admin'
				 AND p_privilege OPERATOR(pg_catalog.<>) 'raw_read')
				OR (g.privilege OPERATOR(pg_catalog.=) p_privilege
					AND (g.label OPERATOR(pg_catalog.=) coalesce(p_label, m.default_label)
						 OR (g.label IS NULL
							 AND (p_privilege OPERATOR(pg_catalog.<>) 'query'
								  OR coalesce(p_label, m.default_label) OPERATOR(pg_catalog.=) m.default_label))))
				OR (p_privilege OPERATOR(pg_catalog.=) 'query'
					AND g.privilege OPERATOR(pg_catalog.=) 'stage'
					AND (g.label IS NULL
						 OR g.label OPERATOR(pg_catalog.=) coalesce(p_label, m.default_label)))) AS allowed
		FROM ms.grants g
		WHERE NOT p_privileged
		  AND g.org OPERATOR(pg_catalog.=) p_org
		  AND (g.model IS NULL OR g.model OPERATOR(pg_catalog.=) p_model)
		  AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) p_caller
			   OR pg_catalog.pg_has_role(p_caller, g.role::pg_catalog.oid, 'USAGE'))
	) g
WHERE m.org OPERATOR(pg_catalog.=) p_org
  AND m.model OPERATOR(pg_catalog.=) p_model;
END
$$;
COMMENT ON FUNCTION ms._access(oid, boolean, text, text, text, text) IS 'internal: what a role may do with a model and label (visible, all_labels, allowed) and the version resolved; where grants are interpreted';

-- Resolve (org, model, label) for an action and raise unless the caller
-- may perform it.  Raises the same 42501 text for a model that does not
-- exist and one the caller may not see, and, to a caller that may not see
-- every label, for a label that does not exist and one it holds no grant
-- on.  p_action names the action in messages ("query", "stage", ...);
-- p_need_version: the label must exist.
-- (ms.knn and friends do the same in C, src/governance/governance.c.)
CREATE FUNCTION ms._resolve(p_org text, p_model text, p_label text,
							p_privilege text, p_need_version boolean,
							p_action text DEFAULT NULL)
RETURNS TABLE (visible boolean, all_labels boolean, allowed boolean,
			   dims integer, metric text, default_label text,
			   label text, version_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r			record;
	privileged	boolean := ms._is_privileged();
BEGIN
	PERFORM ms._check_ident('org', p_org);
	PERFORM ms._check_ident('model', p_model);
	IF p_label IS NOT NULL THEN
		PERFORM ms._check_ident('label', p_label);
	END IF;

	SELECT * INTO r FROM ms._access(ms._caller()::pg_catalog.oid, privileged,
									p_org, p_model, p_label, p_privilege) a;
	IF NOT FOUND OR NOT r.visible THEN
		IF privileged THEN
			RAISE EXCEPTION 'model "%/%" does not exist', p_org, p_model
				USING ERRCODE = '42704';
		END IF;
		RAISE EXCEPTION 'permission denied for model "%/%"', p_org, p_model
			USING ERRCODE = '42501';
	END IF;
	IF p_need_version AND r.version_id IS NULL THEN
		IF p_label IS NULL THEN
			RAISE EXCEPTION 'model "%/%" has no default label', p_org, p_model
				USING ERRCODE = '55000',
					  HINT = 'Name a label, or make one the default with ms.promote().';
		ELSIF r.all_labels OR r.allowed THEN
			-- it may see every label, or would be allowed on any label
			RAISE EXCEPTION 'label "%" of model "%/%" does not exist', p_label, p_org, p_model
				USING ERRCODE = '42704';
		END IF;
		-- Anyone else gets the refusal of a label that exists but is not
		-- granted, below: the error tells it nothing about which labels exist.
	END IF;
	IF (p_need_version AND r.version_id IS NULL)
	   OR (p_privilege IS NOT NULL AND NOT r.allowed) THEN
		RAISE EXCEPTION 'permission denied to % label "%" of model "%/%"',
			coalesce(p_action, p_privilege, 'use'), coalesce(p_label, r.default_label), p_org, p_model
			USING ERRCODE = '42501';
	END IF;
	visible := r.visible;
	all_labels := r.all_labels;
	allowed := r.allowed;
	dims := r.dims;
	metric := r.metric;
	default_label := r.default_label;
	label := r.label;
	version_id := r.version_id;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ms._resolve(text, text, text, text, boolean, text) IS 'internal: resolve org, model and label for an action; raises 42501 unless the caller may perform it';

-- ms._resolve(org, model, label, privilege, true, action), answered from
-- the backend's authorisation cache (governance.c, as ms.knn's): for
-- callers that run once per batch, such as ms.ingest.  Same checks, same
-- errors.
CREATE FUNCTION ms._authorise(org text, model text, label text, privilege text, action text,
							  OUT version_id bigint, OUT dims integer, OUT metric text,
							  OUT resolved_label text)
	AS 'MODULE_PATHNAME', 'ms_authorise' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._authorise(text, text, text, text, text) IS 'internal: ms._resolve of a version, answered from the backend''s authorisation cache (for ms.ingest)';
REVOKE ALL ON FUNCTION ms._authorise(text, text, text, text, text) FROM PUBLIC;

-- Is the caller a holder of admin on the org (or privileged)?  PL/pgSQL
-- for Citus, as ms._access.
CREATE FUNCTION ms._may_administer(p_org text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
RETURN ms._is_privileged() OR EXISTS (
	SELECT 1 FROM ms.grants g
	WHERE g.org OPERATOR(pg_catalog.=) p_org
	  AND g.privilege OPERATOR(pg_catalog.=) 'admin'
	  AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) ms._caller()::pg_catalog.oid
		   OR pg_catalog.pg_has_role(ms._caller()::pg_catalog.oid, g.role::pg_catalog.oid, 'USAGE')));
END
$$;
COMMENT ON FUNCTION ms._may_administer(text) IS 'internal: whether the caller holds admin on the org or is privileged';

-- Is p one of the built-in processors (trusted C, run without the sandbox)?
CREATE FUNCTION ms._is_builtin_processor(p regprocedure) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT p IS NULL
	OR p::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
		'ms.proc_csv(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid,
		'ms.proc_float32(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid,
		'ms.proc_float16(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid,
		'ms.proc_binary_quantize(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid,
		'ms.proc_sparse(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid])
$$;
COMMENT ON FUNCTION ms._is_builtin_processor(regprocedure) IS 'internal: whether the processor is NULL or one of the built-in ms.proc_* (trusted C, run without the sandbox)';

-- The role the org's user processors run as, created at first need: no
-- login, no privileges of its own, a member of machinesoup.processor_role
-- (the group a DBA grants EXECUTE and USAGE to, once for every org).  One
-- per org, so no org's processor shares a role, and so a channel, with
-- another's.  Its name is random: pg_roles is readable by everyone.
CREATE FUNCTION ms._processor_role(p_org text) RETURNS regrole
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r		name;
	grp		text := pg_catalog.current_setting('machinesoup.processor_role', true);
BEGIN
	SELECT o.processor_role INTO r FROM ms.orgs o WHERE o.org OPERATOR(pg_catalog.=) p_org;
	IF r IS NOT NULL AND pg_catalog.to_regrole(pg_catalog.quote_ident(r)) IS NOT NULL THEN
		RETURN pg_catalog.to_regrole(pg_catalog.quote_ident(r));
	END IF;
	-- none yet, or one lost with the globals of a restore: make a new one
	r := 'machinesoup_processor_' OPERATOR(pg_catalog.||)
		 pg_catalog.substr(pg_catalog.md5(pg_catalog.gen_random_uuid()::pg_catalog.text), 1, 16);
	EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
	IF grp IS NOT NULL AND grp OPERATOR(pg_catalog.<>) ''
	   AND pg_catalog.to_regrole(pg_catalog.quote_ident(grp)) IS NOT NULL THEN
		EXECUTE pg_catalog.format('GRANT %I TO %I', grp, r);
	END IF;
	UPDATE ms.orgs o SET processor_role = r WHERE o.org OPERATOR(pg_catalog.=) p_org;
	RETURN pg_catalog.to_regrole(pg_catalog.quote_ident(r));
END
$$;
COMMENT ON FUNCTION ms._processor_role(text) IS 'internal: the role the org''s user processors run as (random name, no login), created on first need';

-- Check a processor before a version may run it: its signature is
-- (bytea, integer) RETURNS SETOF/TABLE of (bigint, vec, jsonb); the caller
-- could execute it itself; and, for user code, its owner holds stage on
-- the version (or is privileged), so nobody can approve a function that
-- an outsider may later redefine.  Returns the digest to pin (NULL for a
-- built-in processor).
CREATE FUNCTION ms._check_processor(p_processor regprocedure, p_org text, p_model text,
									p_label text) RETURNS bytea
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ok		boolean;
	owner	oid;
	owner_may_stage boolean;
	etype	text;
BEGIN
	IF p_processor IS NULL THEN
		RETURN NULL;
	END IF;
	-- the embedding a processor yields is of the model's element type
	SELECT ms._element_type_name(m.element_type) INTO etype FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
	SELECT p.pronargs OPERATOR(pg_catalog.=) 2
		   AND p.proargtypes[0] OPERATOR(pg_catalog.=) 'pg_catalog.bytea'::pg_catalog.regtype
		   AND p.proargtypes[1] OPERATOR(pg_catalog.=) 'pg_catalog.int4'::pg_catalog.regtype
		   AND p.proretset
		   AND (SELECT pg_catalog.array_agg(t ORDER BY n)
				FROM ROWS FROM (pg_catalog.unnest(p.proallargtypes), pg_catalog.unnest(p.proargmodes))
					 WITH ORDINALITY AS a(t, mode, n)
				WHERE a.mode OPERATOR(pg_catalog.=) ANY ('{o,t}'::"char"[]))
			   OPERATOR(pg_catalog.=) ARRAY['pg_catalog.int8'::pg_catalog.regtype::pg_catalog.oid,
											pg_catalog.to_regtype('@extschema@.' OPERATOR(pg_catalog.||) etype)::pg_catalog.oid,
											'pg_catalog.jsonb'::pg_catalog.regtype::pg_catalog.oid],
		   p.proowner
	  INTO ok, owner
	  FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) p_processor::pg_catalog.oid;
	IF NOT coalesce(ok, false) THEN
		RAISE EXCEPTION 'function % cannot be a processor', p_processor
			USING ERRCODE = '42P13',
				  DETAIL = pg_catalog.format('A processor of model "%s/%s" takes (bytea, integer) and returns TABLE (point_id bigint, embedding %s, payload jsonb).',
											 p_org, p_model, etype);
	END IF;
	IF NOT pg_catalog.has_function_privilege(ms._caller()::pg_catalog.oid, p_processor::pg_catalog.oid, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', p_processor
			USING ERRCODE = '42501';
	END IF;
	IF ms._is_builtin_processor(p_processor) THEN
		RETURN NULL;
	END IF;
	IF (SELECT p.prosecdef FROM pg_catalog.pg_proc p
		 WHERE p.oid OPERATOR(pg_catalog.=) p_processor::pg_catalog.oid) THEN
		RAISE EXCEPTION 'processor % must not be SECURITY DEFINER', p_processor
			USING ERRCODE = '42501',
				  DETAIL = 'Processors run sandboxed as their organization''s processor role.';
	END IF;
	IF NOT ms._role_is_privileged(owner) THEN
		SELECT x.allowed INTO owner_may_stage
		  FROM ms._access(owner, false, p_org, p_model, p_label, 'stage') x;
		IF NOT coalesce(owner_may_stage, false) THEN
			RAISE EXCEPTION 'the owner of processor % must hold stage on label "%" of model "%/%"',
				p_processor, p_label, p_org, p_model
				USING ERRCODE = '42501',
					  DETAIL = 'Whoever owns a processor can redefine it; only a role trusted with the version may own one.';
		END IF;
	END IF;
	PERFORM ms._processor_role(p_org);
	RETURN ms._processor_digest(p_processor);
END
$$;
COMMENT ON FUNCTION ms._check_processor(regprocedure, text, text, text) IS 'internal: approve a processor for a version (signature, EXECUTE, not SECURITY DEFINER, owner holds stage); returns the digest to pin';

-- The SQL type of a model's points: vec, hvec, bvec or svec.
CREATE FUNCTION ms._element_type_name(p_element_type text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE p_element_type WHEN 'float32' THEN 'vec' WHEN 'float16' THEN 'hvec'
						   WHEN 'bit' THEN 'bvec' WHEN 'sparse' THEN 'svec' END
$$;
COMMENT ON FUNCTION ms._element_type_name(text) IS 'internal: the type of a model''s points by element type: vec (float32), hvec (float16), bvec (bit), svec (sparse)';

-- The index of a version's points (ms.points_<id>_embedding), chosen by
-- element type, dimension and metric (ms._version_index_opclass):
--   float32  GiST (an exact R-tree) up to 64 dims, msivf above
--   float16  msivf (hvec_*_ops) from 32 dims; none below
--   bit      msivf bvec_hamming_ops / bvec_jaccard_ops when this build has
--            them; none otherwise
--   sparse   none
-- whichever of them is installed; without one, queries scan the version's
-- table and sort it, which is exact.  Returns whether it created one.
-- Internal: callers have resolved and authorised the version.
CREATE FUNCTION ms._version_index_opclass(p_element_type text, p_dims integer, p_metric text,
										  OUT am text, OUT opclass text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF p_element_type OPERATOR(pg_catalog.=) 'float32' THEN
		IF p_dims OPERATOR(pg_catalog.<=) 64 THEN
			am := 'gist';
			opclass := 'vec_gist_ops';
		ELSE
			am := 'msivf';
			opclass := 'vec_' OPERATOR(pg_catalog.||) p_metric OPERATOR(pg_catalog.||) '_ops';
		END IF;
	ELSIF p_element_type OPERATOR(pg_catalog.=) 'float16' AND p_dims OPERATOR(pg_catalog.>=) 32 THEN
		am := 'msivf';
		opclass := 'hvec_' OPERATOR(pg_catalog.||) p_metric OPERATOR(pg_catalog.||) '_ops';
	ELSIF p_element_type OPERATOR(pg_catalog.=) 'bit' THEN
		am := 'msivf';
		opclass := 'bvec_' OPERATOR(pg_catalog.||) p_metric OPERATOR(pg_catalog.||) '_ops';
	END IF;
	IF am IS NULL OR NOT EXISTS (
			SELECT 1 FROM pg_catalog.pg_opclass c
			  JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) c.opcmethod
			 WHERE a.amname OPERATOR(pg_catalog.=) am
			   AND c.opcname OPERATOR(pg_catalog.=) opclass
			   AND c.opcnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace::pg_catalog.oid) THEN
		am := NULL;
		opclass := NULL;
	END IF;
END
$$;
COMMENT ON FUNCTION ms._version_index_opclass(text, integer, text) IS 'internal: access method and opclass of the index of a version of that element type, dims and metric; NULLs when there is none (then queries scan, exactly)';

CREATE FUNCTION ms._create_version_index(p_version_id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	r			record;
	ix			record;
BEGIN
	SELECT m.dims, m.metric, m.element_type INTO r
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	SELECT * INTO ix FROM ms._version_index_opclass(r.element_type, r.dims, r.metric) x;
	IF ix.am IS NULL THEN
		RETURN false;
	END IF;
	-- (IF NOT EXISTS for Citus, which names the shards' copies
	-- <index>_<shard id>: a routed load may have built the org's already,
	-- see ms._index_if_grown)
	EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON ms.%I USING %I (embedding @extschema@.%I)',
							  pg_catalog.format('%s_embedding', part), part, ix.am, ix.opclass);
	RETURN true;
END
$$;
COMMENT ON FUNCTION ms._create_version_index(bigint) IS 'internal: create the index of a version''s points (by element type, dims and metric: see ms._version_index_opclass); false when there is none to create';

-- An IVF index trains its centroids on the rows present when it is built,
-- so a version above 64 dims gets its msivf index only once its partition
-- holds ms._version_index_min_rows() points; below that an exact
-- sequential scan of the partition is cheap (10,000 points of 384 dims
-- are 15 MB, a scan of milliseconds) and too few points would train poor
-- centroids.  Called after every load into a partition
-- (ms.upsert_points, and ms._process_batch for ms.ingest and ms.replay).
-- The index is built once: the points loaded later are assigned to the
-- existing centroids, and when a version has grown well beyond what they
-- were trained on (a bulk load after the first 10,000, say), its index is
-- retrained with ms.reindex_version(), or by a DBA with REINDEX INDEX
-- CONCURRENTLY ms.points_<id>_embedding, which does not block queries or
-- loads.
CREATE FUNCTION ms._version_index_min_rows() RETURNS bigint
LANGUAGE sql IMMUTABLE AS 'SELECT 10000::pg_catalog.int8';
COMMENT ON FUNCTION ms._version_index_min_rows() IS 'internal: points a version above 64 dims holds before its msivf index is built';

CREATE FUNCTION ms._index_if_grown(p_version_id bigint, p_org text, p_dims integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	n			bigint;
	etype		text;
	vmetric		text;
	row_min		integer;
	pages_needed bigint;
	shard_id	bigint;
	shard		text;
	shard_index	text;
	untrained	boolean := false;
	ix			record;
BEGIN
	-- the usual case, once built: one catalog lookup
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NOT NULL THEN
		-- On Citus every msivf version has its index from its creation,
		-- built empty on the distributed table (ms._create_version), and
		-- grows its lists as rows arrive, up to 2,034 dimensions (a new
		-- list's centroid must fit a page).  A wider one keeps the one list
		-- it was built with: the org's worker rebuilds its shard's copy once
		-- the org holds the threshold's points, as one node builds it then.
		IF p_dims OPERATOR(pg_catalog.<=) 2034 OR NOT ms._citus_enabled() THEN
			RETURN;
		END IF;
		untrained := true;
	END IF;
	-- A routed load (ms.ingest, ms.upsert_points, ms.replay on Citus) runs
	-- on the worker that holds the org, and Citus takes DDL on a
	-- distributed table from the coordinator only: there the index is
	-- built (or rebuilt) on the org's shard alone, under the name Citus
	-- gives a shard's copy of the table's index (so that one made later
	-- through the coordinator skips it).  A shard move carries only an
	-- index of the distributed table (Citus builds it on the copied rows):
	-- one built on a shard alone (a version created before its index was
	-- made at creation) is built again by the next routed load on the new
	-- worker.
	-- (two IFs: without Citus, citus_is_coordinator() does not exist)
	IF ms._citus_enabled() THEN
		IF NOT pg_catalog.citus_is_coordinator() THEN
			shard_id := pg_catalog.get_shard_id_for_distribution_column(pg_catalog.format('ms.%I', part),
																		 p_org);
			shard := pg_catalog.format('%s_%s', part, shard_id);
			shard_index := pg_catalog.format('%s_embedding_%s', part, shard_id);
			-- not on this node (a call on another worker): built where it is
			IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', shard)) IS NULL THEN
				RETURN;
			END IF;
			IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', shard_index)) IS NOT NULL THEN
				IF NOT untrained OR ms._index_lists(shard_index) OPERATOR(pg_catalog.>) 1 THEN
					RETURN;
				END IF;
			ELSE
				untrained := false;
			END IF;
		ELSIF untrained THEN
			-- the coordinator's table holds no rows; its workers' loads rebuild
			RETURN;
		END IF;
	END IF;
	SELECT m.element_type, m.metric INTO etype, vmetric
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	-- a version whose element type has no index never counts its rows
	IF etype OPERATOR(pg_catalog.<>) 'float32'
	   AND (SELECT x.am FROM ms._version_index_opclass(etype, p_dims, vmetric) x) IS NULL THEN
		RETURN;
	END IF;
	-- Counting costs as much as the rows counted, so first a bound that
	-- costs nothing: a row of d dims takes at least 56 + 4d bytes and a line
	-- pointer (it is never compressed below the 2 kB TOAST threshold), so a
	-- partition of fewer pages than the threshold's rows need cannot hold
	-- them yet.
	-- (OPERATOR() has one precedence for all: every step is bracketed)
	row_min := 60 OPERATOR(pg_catalog.+) CASE etype
		WHEN 'float16' THEN 2 OPERATOR(pg_catalog.*) p_dims
		WHEN 'bit' THEN p_dims OPERATOR(pg_catalog./) 8
		ELSE 4 OPERATOR(pg_catalog.*) p_dims END;
	IF row_min OPERATOR(pg_catalog.<) 2000 THEN
		pages_needed := ms._version_index_min_rows() OPERATOR(pg_catalog./)
			(8168 OPERATOR(pg_catalog./) row_min);
		-- (a distributed table's own heap is empty: its rows are counted)
		IF pg_catalog.pg_relation_size(pg_catalog.format('ms.%I', part)::pg_catalog.regclass)
		   OPERATOR(pg_catalog.<) (pages_needed OPERATOR(pg_catalog.*) 8192)
		   AND NOT ms._is_citus_table(pg_catalog.format('ms.%I', part)::pg_catalog.regclass) THEN
			RETURN;
		END IF;
	END IF;
	-- counts at most the threshold's worth of rows, whatever the size; the
	-- org named, so that on Citus only the org's shard is read
	EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM (SELECT 1 FROM ms.%I '
							  'WHERE org OPERATOR(pg_catalog.=) $1 LIMIT %s) s',
							  part, ms._version_index_min_rows())
	   INTO n USING p_org;
	IF n OPERATOR(pg_catalog.<) ms._version_index_min_rows() THEN
		RETURN;
	END IF;
	-- Two loaders crossing the threshold at once: one builds, the other
	-- goes on (its rows get into the index when it commits).  Without the
	-- lock both would wait in CREATE INDEX for the other's transaction to
	-- end, a deadlock that aborts one of them.
	IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('ms.points index')::pg_catalog.int4,
											   (p_version_id OPERATOR(pg_catalog.%) 2147483647)::pg_catalog.int4) THEN
		RETURN;
	END IF;
	-- re-checked under the lock: a builder that committed meanwhile
	IF untrained THEN
		IF ms._index_lists(shard_index) OPERATOR(pg_catalog.=) 1 THEN
			EXECUTE pg_catalog.format('REINDEX INDEX ms.%I', shard_index);
		END IF;
	ELSIF shard IS NOT NULL THEN
		SELECT * INTO ix FROM ms._version_index_opclass(etype, p_dims, vmetric) x;
		IF ix.am IS NOT NULL THEN
			EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON ms.%I USING %I (embedding @extschema@.%I)',
				shard_index, shard, ix.am, ix.opclass);
		END IF;
	ELSIF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NULL THEN
		PERFORM ms._create_version_index(p_version_id);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._index_if_grown(bigint, text, integer) IS 'internal: build a version''s msivf index once its partition (on Citus: the org''s shard) holds ms._version_index_min_rows() points; on Citus rebuild there one built empty that cannot grow its lists';
CREATE FUNCTION ms._index_lists(p_index text) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$SELECT i.lists FROM @extschema@.msivf_index_info(pg_catalog.format('ms.%I', p_index)::pg_catalog.regclass) i$$;
COMMENT ON FUNCTION ms._index_lists(text) IS 'internal: the lists of the msivf index ms.<p_index>';

-- API --------------------------------------------------------------------

-- Each element type has its own dimensions and metrics (the CHECK of
-- ms.models says the same):
--   float32 (vec), float16 (hvec)  1 to 16000 dims; l2, cosine, ip
--   bit (bvec)                     1 to 64000 bits; hamming, jaccard
--   sparse (svec)                  1 to 10^9 dims; l2, cosine, ip
-- A NULL metric is the type's first one (l2, or hamming for bit).
CREATE FUNCTION ms._create_model(org text, model text, dims integer, metric text,
								 element_type text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_dims		integer := dims;
	p_metric	text := metric;
	p_type		text := element_type;
	max_dims	integer;
	metrics		text[];
	n			bigint;
BEGIN
	PERFORM ms._check_ident('org', p_org);
	PERFORM ms._check_ident('model', p_model);
	IF p_type IS NULL OR NOT p_type OPERATOR(pg_catalog.=) ANY ('{float32,float16,bit,sparse}'::pg_catalog.text[]) THEN
		RAISE EXCEPTION 'unknown element type "%"', coalesce(p_type, 'NULL')
			USING ERRCODE = '22023', HINT = 'The element type is one of float32, float16, bit, sparse.';
	END IF;
	max_dims := CASE p_type WHEN 'bit' THEN 64000 WHEN 'sparse' THEN 1000000000 ELSE 16000 END;
	metrics := CASE p_type WHEN 'bit' THEN '{hamming,jaccard}'::pg_catalog.text[]
						   ELSE '{l2,cosine,ip}'::pg_catalog.text[] END;
	IF p_dims IS NULL OR p_dims OPERATOR(pg_catalog.<) 1 OR p_dims OPERATOR(pg_catalog.>) max_dims THEN
		RAISE EXCEPTION 'dims must be between 1 and %, not %', max_dims, coalesce(p_dims::pg_catalog.text, 'NULL')
			USING ERRCODE = '22023';
	END IF;
	p_metric := coalesce(p_metric, metrics[1]);
	IF NOT p_metric OPERATOR(pg_catalog.=) ANY (metrics) THEN
		RAISE EXCEPTION 'unknown metric "%"%', p_metric,
			CASE WHEN p_type OPERATOR(pg_catalog.=) 'float32' THEN ''
				 ELSE pg_catalog.format(' for element type %s', p_type) END
			USING ERRCODE = '22023',
				  HINT = pg_catalog.format('The metric is one of %s.', pg_catalog.array_to_string(metrics, ', '));
	END IF;
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to create models in organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;

	IF ms._is_privileged() THEN
		INSERT INTO ms.orgs (org, created_by) VALUES (p_org, ms._caller_name())
			ON CONFLICT DO NOTHING;
	END IF;
	INSERT INTO ms.models (org, model, dims, metric, element_type, created_by)
		VALUES (p_org, p_model, p_dims, p_metric, p_type, ms._caller_name())
		ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'model "%/%" already exists', p_org, p_model
			USING ERRCODE = '42710';
	END IF;
END
$$;
COMMENT ON FUNCTION ms._create_model(text, text, integer, text, text) IS 'internal: the body of ms.create_model, run as the extension owner by it';
CREATE FUNCTION ms.create_model(org text, model text, dims integer, metric text DEFAULT NULL,
								element_type text DEFAULT 'float32')
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.create_model(text, text, integer, text, text) IS 'create a model of float32, float16, bit or sparse points (needs admin on the org)';

CREATE FUNCTION ms._create_version(org text, model text, label text, processor regprocedure)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	p_processor	regprocedure := processor;
	r			record;
	vid			bigint;
	part		text;
	etype		text;
	dims_check	text;
BEGIN
	PERFORM ms._check_ident('label', p_label);	-- mandatory
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', false) a;
	SELECT m.element_type INTO etype FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
	IF r.version_id IS NOT NULL THEN
		RAISE EXCEPTION 'label "%" of model "%/%" already exists', p_label, p_org, p_model
			USING ERRCODE = '42710';
	END IF;
	INSERT INTO ms.versions (org, model, label, processor, processor_digest, created_by)
		VALUES (p_org, p_model, p_label, p_processor,
				ms._check_processor(p_processor, p_org, p_model, p_label), ms._caller_name())
		RETURNING ms.versions.version_id INTO vid;

	part := pg_catalog.format('points_%s', vid);
	IF etype OPERATOR(pg_catalog.<>) 'float32' THEN
		-- Another element type: ms.points' embedding is a vec, and a
		-- partition has its parent's column types, so the version's points
		-- are a table of their own, as on Citus, with the same columns but
		-- the embedding's type; every access names it.
		dims_check := pg_catalog.format(
			CASE etype WHEN 'float16' THEN '@extschema@.vec_dims(embedding)'
					   WHEN 'bit' THEN '@extschema@.bvec_length(embedding)'
					   ELSE '@extschema@.svec_dims(embedding)' END
			OPERATOR(pg_catalog.||) ' OPERATOR(pg_catalog.=) %s', r.dims);
		EXECUTE pg_catalog.format(
			'CREATE TABLE ms.%I (org text NOT NULL, version_id bigint NOT NULL, '
			'point_id bigint NOT NULL, embedding @extschema@.%I NOT NULL, payload jsonb, '
			'CONSTRAINT %I PRIMARY KEY (%s), CONSTRAINT %I CHECK (%s), '
			'CONSTRAINT %I CHECK (version_id OPERATOR(pg_catalog.=) %s))',
			part, ms._element_type_name(etype), pg_catalog.format('%s_pkey', part),
			CASE WHEN ms._citus_enabled() THEN 'org, point_id' ELSE 'point_id' END,
			pg_catalog.format('%s_dims', part), dims_check,
			pg_catalog.format('%s_version', part), vid);
		IF ms._citus_enabled() THEN
			PERFORM pg_catalog.create_distributed_table(pg_catalog.format('ms.%I', part), 'org',
														colocate_with => 'ms.raw_batches');
		END IF;
	ELSIF ms._citus_enabled() THEN
		-- Distributed (ms.enable_citus): a table of its own, keyed by org
		-- as Citus requires of a distributed table's keys, its rows in the
		-- shard of the org's raw batches.  Every access names it, as it
		-- names a partition.
		EXECUTE pg_catalog.format(
			'CREATE TABLE ms.%I (LIKE ms.points, '
			'CONSTRAINT %I PRIMARY KEY (org, point_id), '
			'CONSTRAINT %I CHECK (@extschema@.vec_dims(embedding) OPERATOR(pg_catalog.=) %s))',
			part, pg_catalog.format('%s_pkey', part),
			pg_catalog.format('%s_dims', part), r.dims);
		PERFORM pg_catalog.create_distributed_table(pg_catalog.format('ms.%I', part), 'org',
													colocate_with => 'ms.raw_batches');
	ELSE
		EXECUTE pg_catalog.format(
			'CREATE TABLE ms.%I PARTITION OF ms.points ('
			'CONSTRAINT %I PRIMARY KEY (point_id), '
			'CONSTRAINT %I CHECK (@extschema@.vec_dims(embedding) OPERATOR(pg_catalog.=) %s)'
			') FOR VALUES IN (%s)',
			part, pg_catalog.format('%s_pkey', part),
			pg_catalog.format('%s_dims', part), r.dims, vid);
	END IF;
	EXECUTE pg_catalog.format('REVOKE ALL ON ms.%I FROM PUBLIC', part);
	-- a partition read directly is subject to its own row security
	EXECUTE pg_catalog.format('ALTER TABLE ms.%I ENABLE ROW LEVEL SECURITY', part);

	-- The version's own index: see ms._create_version_index.  GiST is
	-- built here, on the empty partition, and grows with it; msivf waits
	-- until there are points to train its centroids on.  On Citus msivf is
	-- built here too, on the distributed table, so on every shard: Citus
	-- carries a distributed table's indexes along a shard move (building
	-- them on the copied rows), not one built on a shard alone.  An msivf
	-- index built empty grows its lists as rows arrive, up to 2,034
	-- dimensions (a new list's centroid must fit a page); a wider one is
	-- rebuilt on the org's shard when the org's points pass the threshold
	-- (ms._index_if_grown).
	IF (etype OPERATOR(pg_catalog.=) 'float32' AND r.dims OPERATOR(pg_catalog.<=) 64)
	   OR ms._citus_enabled() THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._create_version(text, text, text, regprocedure) IS 'internal: the body of ms.create_version, run as the extension owner by it';
CREATE FUNCTION ms.create_version(org text, model text, label text, processor regprocedure DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.create_version(text, text, text, regprocedure) IS 'stage a new version under a label (needs stage)';

CREATE FUNCTION ms._set_processor(org text, model text, label text, processor regprocedure)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	p_processor	regprocedure := processor;
	r			record;
BEGIN
	PERFORM ms._check_ident('label', p_label);
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true) a;
	UPDATE ms.versions v
	   SET processor = p_processor,
		   processor_digest = ms._check_processor(p_processor, p_org, p_model, p_label)
	 WHERE v.version_id OPERATOR(pg_catalog.=) r.version_id;
END
$$;
COMMENT ON FUNCTION ms._set_processor(text, text, text, regprocedure) IS 'internal: the body of ms.set_processor, run as the extension owner by it';
CREATE FUNCTION ms.set_processor(org text, model text, label text, processor regprocedure)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.set_processor(text, text, text, regprocedure) IS 'set the processor of a version (needs stage)';

-- ms.versions.processor is an OID (ms.procref) with no pg_depend entry,
-- so nothing would stop DROP FUNCTION from leaving a version pointing at a
-- function that no longer exists.  pg_dump writes such a dangling OID as a
-- bare number (which ms.procref reads as no function, where regprocedure
-- took whatever function had that OID in the new cluster).  So dropping a function that
-- is a version's processor is refused, as for any other dependency.
-- (DROP EXTENSION is not watched: dropping this extension drops ms.versions
-- itself, and another extension's processors are rarely dropped alone.)
-- The role dropping it may be no member of the org using it (the owner of
-- the schema it is in, or its owner after a revoke), so the error names the
-- org, model and label only to a role that may see that label.  Hence an
-- entry point (ms_entry, running ms.__processor_drop_guard as the owner)
-- rather than a SECURITY DEFINER function: it knows who drops.
CREATE FUNCTION ms.__processor_drop_guard() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r	record;
BEGIN
	-- most drops drop no function: then ms.versions is not read at all
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() d
				   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass) THEN
		RETURN;
	END IF;
	-- On a Citus worker (ms.enable_citus) drops come from the coordinator,
	-- whose guard has judged them, and a command on a shard cannot read
	-- the reference table ms.versions.
	IF ms._citus_enabled() THEN
		IF NOT pg_catalog.citus_is_coordinator() THEN
			RETURN;
		END IF;
	END IF;
	SELECT v.org, v.model, v.label, d.object_identity,
		   ms._is_privileged() OR EXISTS (
			SELECT 1 FROM pg_catalog.unnest('{query,ingest,stage,promote,raw_read}'::pg_catalog.text[]) p,
				 LATERAL ms._access(ms._caller()::pg_catalog.oid, false, v.org, v.model, v.label, p) a
			 WHERE a.all_labels OR a.allowed) AS may_see
	  INTO r
	  FROM pg_catalog.pg_event_trigger_dropped_objects() d
	  JOIN ms.versions v ON v.processor::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
	 ORDER BY 5 DESC, v.version_id LIMIT 1;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF r.may_see THEN
		RAISE EXCEPTION 'cannot drop function % because it is the processor of label "%" of model "%/%"',
			r.object_identity, r.label, r.org, r.model
			USING ERRCODE = '2BP01',
				  HINT = 'Give the version another processor with ms.set_processor() first.';
	END IF;
	RAISE EXCEPTION 'cannot drop function % because it is the processor of a model version',
		r.object_identity
		USING ERRCODE = '2BP01',
			  HINT = 'An administrator of the organization using it must give the version another processor first.';
END
$$;
COMMENT ON FUNCTION ms.__processor_drop_guard() IS 'internal: the body of ms._processor_drop_guard, run as the extension owner by it';
CREATE FUNCTION ms._processor_drop_guard() RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms._processor_drop_guard() IS 'internal: function of the event trigger machinesoup_processor_drop_guard';
CREATE EVENT TRIGGER machinesoup_processor_drop_guard ON sql_drop
	WHEN TAG IN ('DROP FUNCTION', 'DROP ROUTINE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION ms._processor_drop_guard();
COMMENT ON EVENT TRIGGER machinesoup_processor_drop_guard IS 'refuses to drop a function that is the processor of a model version (2BP01): set another with ms.set_processor first';

CREATE FUNCTION ms._default_label(org text, model text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- any grant covering the model lets one see its default label
	RETURN (SELECT a.default_label FROM ms._resolve(org, model, NULL, NULL, false) a);
END
$$;
COMMENT ON FUNCTION ms._default_label(text, text) IS 'internal: the body of ms.default_label, run as the extension owner by it';
CREATE FUNCTION ms.default_label(org text, model text) RETURNS text
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms.default_label(text, text) IS 'the label NULL-label queries of the model resolve to, NULL when none (needs any grant on the model)';

-- What a client needs to know to load and query a model: its dimension,
-- metric, element type (the type its points and queries take) and default
-- label.  Any grant covering the model lets one see them, as for
-- ms.default_label.
CREATE FUNCTION ms._describe_model(org text, model text)
RETURNS TABLE (dims integer, metric text, element_type text, default_label text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
BEGIN
	PERFORM ms._resolve(p_org, p_model, NULL, NULL, false);
	RETURN QUERY
		SELECT m.dims, m.metric, m.element_type, m.default_label FROM ms.models m
		 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
END
$$;
COMMENT ON FUNCTION ms._describe_model(text, text) IS 'internal: the body of ms.describe_model, run as the extension owner by it';
CREATE FUNCTION ms.describe_model(org text, model text)
RETURNS TABLE (dims integer, metric text, element_type text, default_label text)
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms.describe_model(text, text) IS 'dimension, metric, element type (float32, float16, bit or sparse) and default label of a model (needs any grant on the model)';

CREATE FUNCTION ms._promote(org text, model text, label text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	cur			text;
	state		bigint;
BEGIN
	PERFORM ms._check_ident('label', p_label);
	PERFORM ms._resolve(p_org, p_model, p_label, 'promote', true);

	-- The row lock serialises promotions and rollbacks of the model; the
	-- single-row update below is what readers see, old or new, atomically.
	SELECT m.default_label INTO cur FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model
	   FOR UPDATE;
	IF cur OPERATOR(pg_catalog.=) p_label THEN
		RAISE NOTICE 'label "%" is already the default of model "%/%"', p_label, p_org, p_model;
		RETURN;
	END IF;
	SELECT max(h.promotion_id) INTO state FROM ms.promotions h
	 WHERE h.org OPERATOR(pg_catalog.=) p_org AND h.model OPERATOR(pg_catalog.=) p_model;

	INSERT INTO ms.promotions (org, model, action, from_label, to_label, previous, who)
		VALUES (p_org, p_model, 'promote', cur, p_label, state, ms._caller_name());
	UPDATE ms.models m SET default_label = p_label
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
END
$$;
COMMENT ON FUNCTION ms._promote(text, text, text) IS 'internal: the body of ms.promote, run as the extension owner by it';
CREATE FUNCTION ms.promote(org text, model text, label text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.promote(text, text, text) IS 'make the label the default of the model (needs promote)';

CREATE FUNCTION ms._rollback(org text, model text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	r			record;
	cur			text;
	state		bigint;
	prev_label	text;
	prev_previous bigint;
BEGIN
	-- A rollback demotes the current default and promotes the previous one:
	-- it needs promote on both.  Checked before the history is looked at,
	-- with the same error as for a model that does not exist.
	SELECT * INTO r FROM ms._resolve(p_org, p_model, NULL, 'promote', false, 'roll back from') a;

	SELECT m.default_label INTO cur FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model
	   FOR UPDATE;
	-- the latest row established the current state; its "previous" the one before
	SELECT h.previous INTO state FROM ms.promotions h
	 WHERE h.org OPERATOR(pg_catalog.=) p_org AND h.model OPERATOR(pg_catalog.=) p_model
	 ORDER BY h.promotion_id DESC LIMIT 1;
	SELECT h.to_label, h.previous INTO prev_label, prev_previous FROM ms.promotions h
	 WHERE h.org OPERATOR(pg_catalog.=) p_org AND h.model OPERATOR(pg_catalog.=) p_model
	   AND h.promotion_id OPERATOR(pg_catalog.=) state;
	IF prev_label IS NULL THEN
		RAISE EXCEPTION 'model "%/%" has no earlier default label to roll back to', p_org, p_model
			USING ERRCODE = '55000';
	END IF;
	-- The label to restore is named only to a caller that may see every
	-- label: to one holding promote on the current label alone, the
	-- refusal must not say which label came before.
	BEGIN
		PERFORM ms._resolve(p_org, p_model, prev_label, 'promote', true, 'roll back to');
	EXCEPTION WHEN insufficient_privilege THEN
		IF r.all_labels THEN
			RAISE;
		END IF;
		RAISE EXCEPTION 'permission denied to roll back model "%/%"', p_org, p_model
			USING ERRCODE = '42501',
				  DETAIL = 'A rollback needs promote on the label it restores as well.';
	END;

	INSERT INTO ms.promotions (org, model, action, from_label, to_label, previous, who)
		VALUES (p_org, p_model, 'rollback', cur, prev_label, prev_previous, ms._caller_name());
	UPDATE ms.models m SET default_label = prev_label
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
	RETURN prev_label;
END
$$;
COMMENT ON FUNCTION ms._rollback(text, text) IS 'internal: the body of ms.rollback, run as the extension owner by it';
CREATE FUNCTION ms.rollback(org text, model text) RETURNS text
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.rollback(text, text) IS 'restore the previous default label of the model and return it (needs promote)';

-- Shared argument checks of ms.grant and ms.revoke.
CREATE FUNCTION ms._check_grant_args(p_role regrole, p_privilege text, p_org text,
									 p_model text, p_label text, p_verb text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF p_role IS NULL OR p_role::pg_catalog.oid OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'a role is required' USING ERRCODE = '22023';
	END IF;
	IF p_privilege IS NULL OR NOT p_privilege OPERATOR(pg_catalog.=)
			ANY ('{query,ingest,stage,promote,raw_read,admin}'::pg_catalog.text[]) THEN
		RAISE EXCEPTION 'unknown privilege "%"', coalesce(p_privilege, 'NULL')
			USING ERRCODE = '22023',
				  HINT = 'The privileges are query, ingest, stage, promote, raw_read and admin.';
	END IF;
	PERFORM ms._check_ident('org', p_org);
	IF p_model IS NOT NULL THEN
		PERFORM ms._check_ident('model', p_model);
	END IF;
	IF p_label IS NOT NULL THEN
		PERFORM ms._check_ident('label', p_label);
		IF p_model IS NULL THEN
			RAISE EXCEPTION 'a label can only be given with a model' USING ERRCODE = '22023';
		END IF;
	END IF;
	IF p_privilege OPERATOR(pg_catalog.=) 'admin' AND p_model IS NOT NULL THEN
		RAISE EXCEPTION 'admin is % a whole organization, not a model', p_verb
			USING ERRCODE = '22023';
	END IF;
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to % privileges in organization "%"',
			CASE p_verb WHEN 'granted on' THEN 'grant' ELSE 'revoke' END, p_org
			USING ERRCODE = '42501';
	END IF;
END
$$;
COMMENT ON FUNCTION ms._check_grant_args(regrole, text, text, text, text, text) IS 'internal: argument and admin checks of ms.grant and ms.revoke';

CREATE FUNCTION ms._grant(role regrole, privilege text, org text, model text, label text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_role		regrole := role;
	p_privilege	text := privilege;
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
BEGIN
	PERFORM ms._check_grant_args(p_role, p_privilege, p_org, p_model, p_label, 'granted on');
	IF ms._is_privileged() THEN
		INSERT INTO ms.orgs (org, created_by) VALUES (p_org, ms._caller_name())
			ON CONFLICT DO NOTHING;
	END IF;
	-- the granter administers the org, so it may learn what exists in it
	IF p_model IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM ms.models m
			 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model) THEN
		RAISE EXCEPTION 'model "%/%" does not exist', p_org, p_model USING ERRCODE = '42704';
	END IF;
	IF p_label IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM ms.versions v
			 WHERE v.org OPERATOR(pg_catalog.=) p_org AND v.model OPERATOR(pg_catalog.=) p_model
			   AND v.label OPERATOR(pg_catalog.=) p_label) THEN
		RAISE EXCEPTION 'label "%" of model "%/%" does not exist', p_label, p_org, p_model
			USING ERRCODE = '42704';
	END IF;
	INSERT INTO ms.grants (org, role, privilege, model, label, granted_by)
		VALUES (p_org, p_role, p_privilege, p_model, p_label, ms._caller_name())
		ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION ms._grant(regrole, text, text, text, text) IS 'internal: the body of ms.grant, run as the extension owner by it';
CREATE FUNCTION ms.grant(role regrole, privilege text, org text, model text DEFAULT NULL, label text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.grant(regrole, text, text, text, text) IS 'grant a privilege on an org, or one of its models or labels (needs admin on the org)';

CREATE FUNCTION ms._revoke(role regrole, privilege text, org text, model text, label text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_role		regrole := role;
	p_privilege	text := privilege;
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	n			bigint;
BEGIN
	PERFORM ms._check_grant_args(p_role, p_privilege, p_org, p_model, p_label, 'revoked on');
	DELETE FROM ms.grants g
	 WHERE g.org OPERATOR(pg_catalog.=) p_org
	   AND g.role::pg_catalog.oid OPERATOR(pg_catalog.=) p_role::pg_catalog.oid
	   AND g.privilege OPERATOR(pg_catalog.=) p_privilege
	   AND g.model IS NOT DISTINCT FROM p_model
	   AND g.label IS NOT DISTINCT FROM p_label;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n OPERATOR(pg_catalog.=) 0 THEN
		RAISE NOTICE 'role % holds no such grant', p_role;
	END IF;
END
$$;
COMMENT ON FUNCTION ms._revoke(regrole, text, text, text, text) IS 'internal: the body of ms.revoke, run as the extension owner by it';
CREATE FUNCTION ms.revoke(role regrole, privilege text, org text, model text DEFAULT NULL, label text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.revoke(regrole, text, text, text, text) IS 'revoke a grant made with ms.grant, same arguments (needs admin on the org)';

CREATE FUNCTION ms._upsert_points(org text, model text, label text, ids bigint[],
								 vecs @extschema@.vec[], payloads jsonb[])
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	bad			record;
	n			bigint;
	etype		text;
BEGIN
	-- loading points is staging work, or ingest
	BEGIN
		SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true) a;
	EXCEPTION WHEN insufficient_privilege THEN
		SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'ingest', true, 'load points into') a;
	END;

	IF ids IS NULL OR vecs IS NULL THEN
		RAISE EXCEPTION 'ids and vecs must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF pg_catalog.cardinality(ids) OPERATOR(pg_catalog.<>) pg_catalog.cardinality(vecs)
	   OR (payloads IS NOT NULL
		   AND pg_catalog.cardinality(payloads) OPERATOR(pg_catalog.<>) pg_catalog.cardinality(ids)) THEN
		RAISE EXCEPTION 'ids, vecs and payloads must have the same number of elements'
			USING ERRCODE = '22023';
	END IF;

	SELECT u.n, u.id, u.v INTO bad
	  FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(vecs)) WITH ORDINALITY AS u(id, v, n)
	 WHERE u.id IS NULL OR u.v IS NULL
		OR @extschema@.vec_dims(u.v) OPERATOR(pg_catalog.<>) r.dims
		OR (r.metric OPERATOR(pg_catalog.=) 'cosine'
			AND @extschema@.vec_norm(u.v) OPERATOR(pg_catalog.=) 0::pg_catalog.float8)
	 ORDER BY u.n LIMIT 1;
	IF FOUND THEN
		IF bad.id IS NULL OR bad.v IS NULL THEN
			RAISE EXCEPTION 'point % has a NULL id or vec', bad.n USING ERRCODE = '22004';
		ELSIF @extschema@.vec_dims(bad.v) OPERATOR(pg_catalog.<>) r.dims THEN
			RAISE EXCEPTION 'different vec dimensions % and %', @extschema@.vec_dims(bad.v), r.dims
				USING ERRCODE = '22000',
					  DETAIL = pg_catalog.format('Point %s (id %s) has %s dimensions; model "%s/%s" has %s.',
												 bad.n, bad.id, @extschema@.vec_dims(bad.v), p_org, p_model, r.dims);
		END IF;
		RAISE EXCEPTION 'point % (id %) is a zero vector, which has no cosine distance', bad.n, bad.id
			USING ERRCODE = '22023';
	END IF;
	SELECT u.id INTO bad FROM pg_catalog.unnest(ids) AS u(id)
	 GROUP BY u.id HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'point id % appears more than once', bad.id USING ERRCODE = '21000';
	END IF;

	-- A model of another element type takes the vecs converted to it:
	-- rounded to half (float16), their sign bits (bit: binary_quantize),
	-- their non-zero elements (sparse).  A float16 vec that rounds to
	-- zero, under cosine, is refused by the check after this one.
	SELECT m.element_type INTO etype FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
	IF etype OPERATOR(pg_catalog.=) 'float16' AND r.metric OPERATOR(pg_catalog.=) 'cosine' THEN
		SELECT u.n, u.id INTO bad
		  FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(vecs)) WITH ORDINALITY AS u(id, v, n)
		 WHERE @extschema@.vec_norm(u.v::@extschema@.hvec) OPERATOR(pg_catalog.=) 0::pg_catalog.float8
		 ORDER BY u.n LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'point % (id %) is a zero vector in half precision, which has no cosine distance', bad.n, bad.id
				USING ERRCODE = '22023';
		END IF;
	END IF;

	-- into the partition itself: its primary key is the ON CONFLICT
	-- arbiter (the parent has none, see ms.points), named, since it is
	-- (point_id) on one node and (org, point_id) on Citus
	EXECUTE pg_catalog.format(
		'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
		'SELECT $1, $2, u.id, ' OPERATOR(pg_catalog.||)
		CASE etype WHEN 'float16' THEN 'u.v::@extschema@.hvec'
				   WHEN 'bit' THEN '@extschema@.binary_quantize(u.v)'
				   WHEN 'sparse' THEN 'u.v::@extschema@.svec'
				   ELSE 'u.v' END OPERATOR(pg_catalog.||) ', u.p '
		'  FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), '
		'                  pg_catalog.unnest($5)) AS u(id, v, p) '
		'ON CONFLICT ON CONSTRAINT %I '
		'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
		pg_catalog.format('points_%s', r.version_id),
		pg_catalog.format('points_%s_pkey', r.version_id))
		USING p_org, r.version_id, ids, vecs, payloads;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM ms._index_if_grown(r.version_id, p_org, r.dims);
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms._upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]) IS 'internal: the body of ms.upsert_points, run as the extension owner by it';
CREATE FUNCTION ms.upsert_points(org text, model text, label text, ids bigint[],
								 vecs @extschema@.vec[], payloads jsonb[] DEFAULT NULL)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]) IS 'insert or replace points of a version (needs stage or ingest)';

CREATE FUNCTION ms._reindex_version(org text, model text, label text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	idx			text;
BEGIN
	-- Rebuilding retrains an msivf index on the points present now (after
	-- a bulk load, say).  It blocks loads into the version and queries of
	-- it while it runs; a DBA can do the same without blocking either with
	-- REINDEX INDEX CONCURRENTLY, which cannot run inside a function.
	PERFORM ms._check_ident('label', p_label);
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true, 'reindex') a;
	idx := pg_catalog.format('points_%s_embedding', r.version_id);
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', idx)) IS NOT NULL THEN
		EXECUTE pg_catalog.format('REINDEX INDEX ms.%I', idx);
	ELSIF NOT ms._create_version_index(r.version_id) THEN
		RAISE NOTICE 'no index access method for model "%/%" is installed', p_org, p_model;
	END IF;
END
$$;
COMMENT ON FUNCTION ms._reindex_version(text, text, text) IS 'internal: the body of ms.reindex_version, run as the extension owner by it';
CREATE FUNCTION ms.reindex_version(org text, model text, label text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.reindex_version(text, text, text) IS 'rebuild the index of a version, or build it if it has none, e.g. to retrain it after a bulk load (needs stage)';

-- Queries, in C: authorise through ms._access, then run a cached plan on the
-- version's own partition, ordered by the model's metric so its index serves.
CREATE FUNCTION ms.knn(org text, model text, query @extschema@.vec, k integer, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_knn'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 10;
COMMENT ON FUNCTION ms.knn(text, text, @extschema@.vec, integer, text) IS 'the k nearest points of a model version, by the model metric (needs query)';

CREATE FUNCTION ms.within(org text, model text, query @extschema@.vec, radius double precision, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_within'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.within(text, text, @extschema@.vec, double precision, text) IS 'points of a model version within a distance, nearest first (needs query)';

-- The query in the model's own type, for models of the other element
-- types (a vec query is converted to the model's type, as ms.upsert_points
-- converts points; any other type than vec and the model's is refused,
-- 42804).  Overloads: an untyped literal or NULL still resolves to vec,
-- the preferred type.
CREATE FUNCTION ms.knn(org text, model text, query @extschema@.hvec, k integer, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_knn'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 10;
COMMENT ON FUNCTION ms.knn(text, text, @extschema@.hvec, integer, text) IS 'the k nearest points of a float16 model version, by the model metric (needs query)';
CREATE FUNCTION ms.knn(org text, model text, query @extschema@.bvec, k integer, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_knn'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 10;
COMMENT ON FUNCTION ms.knn(text, text, @extschema@.bvec, integer, text) IS 'the k nearest points of a bit model version, by the model metric (needs query)';
CREATE FUNCTION ms.knn(org text, model text, query @extschema@.svec, k integer, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_knn'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 10;
COMMENT ON FUNCTION ms.knn(text, text, @extschema@.svec, integer, text) IS 'the k nearest points of a sparse model version, by the model metric (needs query)';
CREATE FUNCTION ms.within(org text, model text, query @extschema@.hvec, radius double precision, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_within'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.within(text, text, @extschema@.hvec, double precision, text) IS 'points of a float16 model version within a distance, nearest first (needs query)';
CREATE FUNCTION ms.within(org text, model text, query @extschema@.bvec, radius double precision, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_within'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.within(text, text, @extschema@.bvec, double precision, text) IS 'points of a bit model version within a distance, nearest first (needs query)';
CREATE FUNCTION ms.within(org text, model text, query @extschema@.svec, radius double precision, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_within'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.within(text, text, @extschema@.svec, double precision, text) IS 'points of a sparse model version within a distance, nearest first (needs query)';

CREATE FUNCTION ms.in_box(org text, model text, box @extschema@.vbox, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_in_box'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.in_box(text, text, @extschema@.vbox, text) IS 'points of a model version inside a box (bounds inclusive), nearest to its centre first (needs query)';

-- The API is open to everyone: each function checks grants itself.  The
-- internal helpers are not.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ms FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ms.create_model(text, text, integer, text, text),
	ms.create_version(text, text, text, regprocedure),
	ms.set_processor(text, text, text, regprocedure),
	ms.default_label(text, text),
	ms.describe_model(text, text),
	ms.promote(text, text, text),
	ms.rollback(text, text),
	ms.grant(regrole, text, text, text, text),
	ms.revoke(regrole, text, text, text, text),
	ms.upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]),
	ms.reindex_version(text, text, text),
	ms.knn(text, text, @extschema@.vec, integer, text),
	ms.within(text, text, @extschema@.vec, double precision, text),
	ms.knn(text, text, @extschema@.hvec, integer, text),
	ms.knn(text, text, @extschema@.bvec, integer, text),
	ms.knn(text, text, @extschema@.svec, integer, text),
	ms.within(text, text, @extschema@.hvec, double precision, text),
	ms.within(text, text, @extschema@.bvec, double precision, text),
	ms.within(text, text, @extschema@.svec, double precision, text),
	ms.in_box(text, text, @extschema@.vbox, text)
TO PUBLIC;
