-- machinesoup 0.3.0 -> 0.4.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.4.0'" to load this file. \quit

-- Who the caller is (src/caller.c): every ms.* entry point runs as its
-- caller, takes GetUserId() as the caller, and switches to the extension's
-- owner itself; the PL/pgSQL bodies it runs become ms._<name>, executable
-- by the owner only.  Processors (src/raw_sandbox.c): called by OID,
-- pinned to the definition approved by ms.set_processor, run as their
-- org's own processor role.  Replay reads only the label's own batches
-- unless from_label names another.  This section comes first: the later
-- ones replace functions it creates.
ALTER TABLE ms.orgs ADD COLUMN processor_role name;
ALTER TABLE ms.versions ADD COLUMN processor_digest bytea;

-- a partition no longer names its org: org names of other tenants are not
-- for everyone who reads pg_constraint
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN
		SELECT k.conrelid::pg_catalog.regclass AS rel, k.conname
		  FROM pg_catalog.pg_constraint k
		  JOIN pg_catalog.pg_inherits i ON i.inhrelid OPERATOR(pg_catalog.=) k.conrelid
		 WHERE i.inhparent OPERATOR(pg_catalog.=) 'ms.points'::pg_catalog.regclass
		   AND k.contype OPERATOR(pg_catalog.=) 'c'
		   AND k.conname OPERATOR(pg_catalog.~) '^points_[0-9]+_org$'
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', c.rel, c.conname);
	END LOOP;
	FOR c IN
		SELECT i.inhrelid::pg_catalog.regclass AS rel
		  FROM pg_catalog.pg_inherits i
		 WHERE i.inhparent OPERATOR(pg_catalog.=) 'ms.points'::pg_catalog.regclass
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', c.rel);
	END LOOP;
END
$$;

-- row security without a policy: pg_read_all_data and pg_write_all_data
-- see and write no row of ms's tables (the owner, whose rights the API
-- runs with, is not subject to it)
ALTER TABLE ms.orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.promotions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.points ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE ms.raw_batches ENABLE ROW LEVEL SECURITY;

COMMENT ON FUNCTION ms._caller() IS 'the role whose code called the current ms entry point (GetUserId() at entry)';

-- signatures that changed
DROP FUNCTION ms._check_processor(regprocedure);
DROP FUNCTION ms._run_processor(regprocedure, bytea, integer, text);
DROP FUNCTION ms._insert_points(text, bigint, regprocedure, integer, text, bytea);
DROP FUNCTION ms._process_batch(text, bigint, regprocedure, integer, text, bytea);
DROP FUNCTION ms.replay(text, text, text, timestamptz, timestamptz);

COMMENT ON FUNCTION ms._caller() IS 'the role whose code called the current ms entry point (GetUserId() at entry)';

CREATE OR REPLACE FUNCTION ms._role_is_privileged(role oid) RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_role_is_privileged' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

CREATE OR REPLACE FUNCTION ms._processor_digest(processor regprocedure) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_processor_digest' LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION ms._processor_digest(regprocedure) IS 'digest of a function''s definition (body, owner, language, settings, signature), pinned when it is approved as a processor';

CREATE OR REPLACE FUNCTION ms._append_only() RETURNS trigger
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

CREATE OR REPLACE FUNCTION ms._is_builtin_processor(p regprocedure) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT p IS NULL
	OR p::pg_catalog.oid OPERATOR(pg_catalog.=) 'ms.proc_csv(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid
	OR p::pg_catalog.oid OPERATOR(pg_catalog.=) 'ms.proc_float32(pg_catalog.bytea, pg_catalog.int4)'::pg_catalog.regprocedure::pg_catalog.oid
$$;

CREATE OR REPLACE FUNCTION ms._processor_role(p_org text) RETURNS regrole
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

CREATE OR REPLACE FUNCTION ms._check_processor(p_processor regprocedure, p_org text, p_model text,
									p_label text) RETURNS bytea
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ok		boolean;
	owner	oid;
	owner_may_stage boolean;
BEGIN
	IF p_processor IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT p.pronargs OPERATOR(pg_catalog.=) 2
		   AND p.proargtypes[0] OPERATOR(pg_catalog.=) 'pg_catalog.bytea'::pg_catalog.regtype
		   AND p.proargtypes[1] OPERATOR(pg_catalog.=) 'pg_catalog.int4'::pg_catalog.regtype
		   AND p.proretset
		   AND (SELECT pg_catalog.array_agg(t ORDER BY n)
				FROM ROWS FROM (pg_catalog.unnest(p.proallargtypes), pg_catalog.unnest(p.proargmodes))
					 WITH ORDINALITY AS a(t, mode, n)
				WHERE a.mode OPERATOR(pg_catalog.=) ANY ('{o,t}'::"char"[]))
			   OPERATOR(pg_catalog.=) ARRAY['pg_catalog.int8'::pg_catalog.regtype::pg_catalog.oid,
											'@extschema@.vec'::pg_catalog.regtype::pg_catalog.oid,
											'pg_catalog.jsonb'::pg_catalog.regtype::pg_catalog.oid],
		   p.proowner
	  INTO ok, owner
	  FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) p_processor::pg_catalog.oid;
	IF NOT coalesce(ok, false) THEN
		RAISE EXCEPTION 'function % cannot be a processor', p_processor
			USING ERRCODE = '42P13',
				  DETAIL = 'A processor takes (bytea, integer) and returns TABLE (point_id bigint, embedding vec, payload jsonb).';
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

CREATE OR REPLACE FUNCTION ms._create_model(org text, model text, dims integer, metric text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_dims		integer := dims;
	p_metric	text := metric;
	n			bigint;
BEGIN
	PERFORM ms._check_ident('org', p_org);
	PERFORM ms._check_ident('model', p_model);
	IF p_dims IS NULL OR p_dims OPERATOR(pg_catalog.<) 1 OR p_dims OPERATOR(pg_catalog.>) 16000 THEN
		RAISE EXCEPTION 'dims must be between 1 and 16000, not %', coalesce(p_dims::pg_catalog.text, 'NULL')
			USING ERRCODE = '22023';
	END IF;
	IF p_metric IS NULL OR NOT p_metric OPERATOR(pg_catalog.=) ANY ('{l2,cosine,ip}'::pg_catalog.text[]) THEN
		RAISE EXCEPTION 'unknown metric "%"', coalesce(p_metric, 'NULL')
			USING ERRCODE = '22023', HINT = 'The metric is one of l2, cosine, ip.';
	END IF;
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to create models in organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;

	IF ms._is_privileged() THEN
		INSERT INTO ms.orgs (org, created_by) VALUES (p_org, ms._caller_name())
			ON CONFLICT DO NOTHING;
	END IF;
	INSERT INTO ms.models (org, model, dims, metric, created_by)
		VALUES (p_org, p_model, p_dims, p_metric, ms._caller_name())
		ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'model "%/%" already exists', p_org, p_model
			USING ERRCODE = '42710';
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION ms.create_model(org text, model text, dims integer, metric text DEFAULT 'l2')
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.create_model(text, text, integer, text) IS 'create a model (needs admin on the org)';

CREATE OR REPLACE FUNCTION ms._create_version(org text, model text, label text, processor regprocedure)
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
BEGIN
	PERFORM ms._check_ident('label', p_label);	-- mandatory
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', false) a;
	IF r.version_id IS NOT NULL THEN
		RAISE EXCEPTION 'label "%" of model "%/%" already exists', p_label, p_org, p_model
			USING ERRCODE = '42710';
	END IF;
	INSERT INTO ms.versions (org, model, label, processor, processor_digest, created_by)
		VALUES (p_org, p_model, p_label, p_processor,
				ms._check_processor(p_processor, p_org, p_model, p_label), ms._caller_name())
		RETURNING ms.versions.version_id INTO vid;

	part := pg_catalog.format('points_%s', vid);
	EXECUTE pg_catalog.format(
		'CREATE TABLE ms.%I PARTITION OF ms.points ('
		'CONSTRAINT %I PRIMARY KEY (point_id), '
		'CONSTRAINT %I CHECK (@extschema@.vec_dims(embedding) OPERATOR(pg_catalog.=) %s)'
		') FOR VALUES IN (%s)',
		part, pg_catalog.format('%s_pkey', part),
		pg_catalog.format('%s_dims', part), r.dims, vid);
	EXECUTE pg_catalog.format('REVOKE ALL ON ms.%I FROM PUBLIC', part);
	-- a partition read directly is subject to its own row security
	EXECUTE pg_catalog.format('ALTER TABLE ms.%I ENABLE ROW LEVEL SECURITY', part);

	-- The version's own index: see ms._create_version_index.  GiST is
	-- built here, on the empty partition, and grows with it; msivf waits
	-- until there are points to train its centroids on.
	IF r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION ms.create_version(org text, model text, label text, processor regprocedure DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.create_version(text, text, text, regprocedure) IS 'stage a new version under a label (needs stage)';

CREATE OR REPLACE FUNCTION ms._set_processor(org text, model text, label text, processor regprocedure)
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

CREATE OR REPLACE FUNCTION ms.set_processor(org text, model text, label text, processor regprocedure)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.set_processor(text, text, text, regprocedure) IS 'set the processor of a version (needs stage)';

CREATE OR REPLACE FUNCTION ms._default_label(org text, model text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- any grant covering the model lets one see its default label
	RETURN (SELECT a.default_label FROM ms._resolve(org, model, NULL, NULL, false) a);
END
$$;

CREATE OR REPLACE FUNCTION ms.default_label(org text, model text) RETURNS text
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;

COMMENT ON FUNCTION ms.default_label(text, text) IS 'the label NULL-label queries of the model resolve to (NULL when none)';

CREATE OR REPLACE FUNCTION ms._promote(org text, model text, label text) RETURNS void
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

CREATE OR REPLACE FUNCTION ms.promote(org text, model text, label text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.promote(text, text, text) IS 'make the label the default of the model (needs promote)';

CREATE OR REPLACE FUNCTION ms.rollback(org text, model text) RETURNS text
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.rollback(text, text) IS 'restore the previous default label of the model and return it (needs promote)';

CREATE OR REPLACE FUNCTION ms._grant(role regrole, privilege text, org text, model text, label text)
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

CREATE OR REPLACE FUNCTION ms.grant(role regrole, privilege text, org text, model text DEFAULT NULL, label text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.grant(regrole, text, text, text, text) IS 'grant a privilege on an org, or one of its models or labels (needs admin on the org)';

CREATE OR REPLACE FUNCTION ms._revoke(role regrole, privilege text, org text, model text, label text)
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

CREATE OR REPLACE FUNCTION ms.revoke(role regrole, privilege text, org text, model text DEFAULT NULL, label text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.revoke(regrole, text, text, text, text) IS 'revoke a grant made with ms.grant (same arguments)';

CREATE OR REPLACE FUNCTION ms._upsert_points(org text, model text, label text, ids bigint[],
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

	-- into the partition itself: its primary key is the ON CONFLICT
	-- arbiter (the parent has none, see ms.points)
	EXECUTE pg_catalog.format(
		'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
		'SELECT $1, $2, u.id, u.v, u.p '
		'  FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), '
		'                  pg_catalog.unnest($5)) AS u(id, v, p) '
		'ON CONFLICT (point_id) '
		'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
		pg_catalog.format('points_%s', r.version_id))
		USING p_org, r.version_id, ids, vecs, payloads;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM ms._index_if_grown(r.version_id);
	RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION ms.upsert_points(org text, model text, label text, ids bigint[],
								 vecs @extschema@.vec[], payloads jsonb[] DEFAULT NULL)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]) IS 'insert or replace points of a version (needs stage or ingest)';

CREATE OR REPLACE FUNCTION ms._reindex_version(org text, model text, label text) RETURNS void
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

CREATE OR REPLACE FUNCTION ms.reindex_version(org text, model text, label text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.reindex_version(text, text, text) IS 'rebuild the index of a version, or build it if it has none, e.g. to retrain it after a bulk load (needs stage)';

CREATE OR REPLACE FUNCTION ms.knn(org text, model text, query @extschema@.vec, k integer, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_knn'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 10;

COMMENT ON FUNCTION ms.knn(text, text, @extschema@.vec, integer, text) IS 'the k nearest points of a model version, by the model metric (needs query)';

CREATE OR REPLACE FUNCTION ms.within(org text, model text, query @extschema@.vec, radius double precision, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_within'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;

COMMENT ON FUNCTION ms.within(text, text, @extschema@.vec, double precision, text) IS 'points of a model version within a distance, nearest first (needs query)';

CREATE OR REPLACE FUNCTION ms.in_box(org text, model text, box @extschema@.vbox, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_in_box'
LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp ROWS 100;

COMMENT ON FUNCTION ms.in_box(text, text, @extschema@.vbox, text) IS 'points of a model version inside a box (bounds inclusive), nearest to its centre first (needs query)';

CREATE OR REPLACE FUNCTION ms._run_processor(processor regprocedure, batch bytea, dims integer,
								  metric text, pinned bytea, run_as regrole)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_run_processor' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION ms._insert_points(org text, version_id bigint, processor regprocedure,
								  dims integer, metric text, batch bytea, pinned bytea,
								  run_as regrole)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_insert_points' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION ms._process_batch(p_org text, p_version_id bigint, p_processor regprocedure,
								  p_dims integer, p_metric text, p_data bytea, p_pinned bytea)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n			bigint;
	run_as		regrole;
	ids			bigint[];
	vecs		@extschema@.vec[];
	payloads	jsonb[];
BEGIN
	IF p_pinned IS NULL THEN
		-- A built-in processor, a pure parser: running it again for the
		-- upsert costs only time.  New ids are the common case, and a plain
		-- insert is much cheaper than ON CONFLICT's speculative insertion;
		-- ids already present (a replay, a producer re-sending) take the
		-- upsert.  (An unapproved user processor ends up here too, and is
		-- refused by the run: no digest was pinned for it.)
		BEGIN
			n := ms._insert_points(p_org, p_version_id, p_processor, p_dims, p_metric, p_data,
								   NULL, NULL);
			IF n IS NULL THEN
				INSERT INTO ms.points AS p (org, version_id, point_id, embedding, payload)
					SELECT p_org, p_version_id, r.point_id, r.embedding, r.payload
					  FROM ms._run_processor(p_processor, p_data, p_dims, p_metric, NULL, NULL) r;
				GET DIAGNOSTICS n = ROW_COUNT;
			END IF;
		EXCEPTION WHEN unique_violation THEN
			-- the partition's own primary key is the arbiter (see ms.points)
			EXECUTE pg_catalog.format(
				'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
				'SELECT $1, $2, r.point_id, r.embedding, r.payload '
				'  FROM ms._run_processor($3, $4, $5, $6, NULL, NULL) r '
				'ON CONFLICT (point_id) '
				'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
				pg_catalog.format('points_%s', p_version_id))
				USING p_org, p_version_id, p_processor, p_data, p_dims, p_metric;
			GET DIAGNOSTICS n = ROW_COUNT;
		END;
	ELSE
		-- User code runs once per batch, whatever the ids: its rows are
		-- kept and upserted, never produced twice.
		run_as := ms._processor_role(p_org);
		SELECT pg_catalog.array_agg(r.point_id), pg_catalog.array_agg(r.embedding),
			   pg_catalog.array_agg(r.payload)
		  INTO ids, vecs, payloads
		  FROM ms._run_processor(p_processor, p_data, p_dims, p_metric, p_pinned, run_as) r;
		EXECUTE pg_catalog.format(
			'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
			'SELECT $1, $2, u.id, u.v, u.p '
			'  FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), '
			'                  pg_catalog.unnest($5)) AS u(id, v, p) '
			'ON CONFLICT (point_id) '
			'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
			pg_catalog.format('points_%s', p_version_id))
			USING p_org, p_version_id, ids, vecs, payloads;
		GET DIAGNOSTICS n = ROW_COUNT;
	END IF;
	PERFORM ms._index_if_grown(p_version_id);
	RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION ms._require_raw_network() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_require_raw_network' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION ms._ingest(org text, model text, data bytea, label text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	v			record;
	frame		bytea;
	bid			bigint;
BEGIN
	SELECT * INTO r FROM ms._authorise(p_org, p_model, p_label, 'ingest', 'ingest into') a;
	IF data IS NULL THEN
		RAISE EXCEPTION 'data must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT vv.processor, vv.processor_digest, p.proowner INTO v
	  FROM ms.versions vv LEFT JOIN pg_catalog.pg_proc p
		ON p.oid OPERATOR(pg_catalog.=) vv.processor::pg_catalog.oid
	 WHERE vv.version_id OPERATOR(pg_catalog.=) r.version_id;
	frame := ms._lz4_encode(data);
	INSERT INTO ms.raw_batches AS b (org, model, received_at, label, raw_bytes, stored_bytes,
									 ingested_by, frame)
		VALUES (p_org, p_model, pg_catalog.clock_timestamp(), r.resolved_label,
				pg_catalog.length(data), pg_catalog.length(frame), ms._caller_name(), frame)
		RETURNING b.batch_id INTO bid;
	-- Another role's code is about to see this producer's raw bytes (and
	-- may copy them into payloads): that is raw access, on the record.
	IF v.processor_digest IS NOT NULL
	   AND v.proowner OPERATOR(pg_catalog.<>) ms._caller()::pg_catalog.oid THEN
		PERFORM ms._audit('process_batch', p_org, p_model, r.resolved_label, bid,
						  pg_catalog.format('processor %s owned by %s', v.processor,
											pg_catalog.pg_get_userbyid(v.proowner)));
	END IF;
	-- same transaction: a processor error takes the raw frame with it
	PERFORM ms._process_batch(p_org, r.version_id, v.processor, r.dims, r.metric, data,
							  v.processor_digest);
	RETURN bid;
END
$$;

CREATE OR REPLACE FUNCTION ms.ingest(org text, model text, data bytea, label text DEFAULT NULL)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.ingest(text, text, bytea, text) IS 'store a raw batch (LZ4) and process it into the version''s points (needs ingest)';

CREATE OR REPLACE FUNCTION ms.replay(org text, model text, label text, since timestamptz DEFAULT NULL,
						  until timestamptz DEFAULT NULL, from_label text DEFAULT NULL)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;

COMMENT ON FUNCTION ms.replay(text, text, text, timestamptz, timestamptz, text) IS 'feed the label''s own raw batches (or from_label''s) received in [since, until) through its processor (needs stage, on from_label too, and raw_read on the source for a user processor; each batch audited); returns the number of batches';

CREATE OR REPLACE FUNCTION ms._called_from(p_functions text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	stack	text;
BEGIN
	GET DIAGNOSTICS stack = PG_CONTEXT;
	-- the API's bodies: ms._grant for ms.grant (see 060_governance.sql)
	RETURN stack ~ ('function ms\._(' || p_functions || ')\(');
END
$$;

-- processors in use stay approved as they are defined now
UPDATE ms.versions v SET processor_digest = ms._processor_digest(v.processor)
 WHERE v.processor IS NOT NULL AND NOT ms._is_builtin_processor(v.processor);

-- Audit chain (src/audit.c): keyed chain, head kept outside the table,
-- INSERT for the writer only, the login in every record, the head in the
-- access report, ms.verify_audit(since_id, expected_hash).  Must follow the
-- section that makes ms.access_report an ms_entry function (caller.c).
ALTER TABLE ms.audit_log ADD COLUMN login name;
CREATE TRIGGER audit_log_writer_only BEFORE INSERT ON ms.audit_log
	FOR EACH ROW EXECUTE FUNCTION ms._audit_log_guard();

DROP FUNCTION ms.verify_audit();
CREATE FUNCTION ms.verify_audit()
RETURNS TABLE (ok boolean, checked bigint, first_bad bigint, problem text)
	AS 'MODULE_PATHNAME', 'ms_verify_audit'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.verify_audit() IS 'recompute the audit log hash chain and check it reaches its recorded head; first_bad is the first row that does not match';
CREATE FUNCTION ms.verify_audit(since_id bigint, expected_hash bytea)
RETURNS TABLE (ok boolean, checked bigint, first_bad bigint, problem text)
	AS 'MODULE_PATHNAME', 'ms_verify_audit'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.verify_audit(bigint, bytea) IS 'verify_audit(), and that row since_id still has expected_hash (a head kept from ms.access_report)';
CREATE FUNCTION ms._audit_begin_epoch() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_audit_begin_epoch' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION ms.verify_audit() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.verify_audit(bigint, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._audit_begin_epoch() FROM PUBLIC;
CREATE FUNCTION ms._audit_new_log() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_audit_new_log' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION ms._audit_new_log() FROM PUBLIC;

DROP FUNCTION IF EXISTS ms._access_report(text, timestamptz, timestamptz);
DROP FUNCTION ms.access_report(text, timestamptz, timestamptz);
CREATE FUNCTION ms._access_report(org text, since timestamptz,
								 until timestamptz)
RETURNS TABLE ("at" timestamptz, role name, login name, action text, model text, label text,
			   batch_id bigint, client_addr inet, reason text, head_id bigint, head_hash bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	h_id		bigint;
	h_hash		bytea;
BEGIN
	PERFORM ms._check_ident('org', p_org);
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to read the access report of organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;
	SELECT h.id, h.hash INTO h_id, h_hash FROM ms.audit_log h ORDER BY h.id DESC LIMIT 1;
	RETURN QUERY
		SELECT l.at, l.role, l.login, l.action, l.model, l.label, l.batch_id, l.client_addr,
			   l.reason, h_id, h_hash
		  FROM ms.audit_log l
		 WHERE l.org OPERATOR(pg_catalog.=) p_org
		   AND (since IS NULL OR l.at OPERATOR(pg_catalog.>=) since)
		   AND (until IS NULL OR l.at OPERATOR(pg_catalog.<) until)
		 ORDER BY l.at, l.id;
END
$$;
CREATE FUNCTION ms.access_report(org text, since timestamptz DEFAULT NULL,
								 until timestamptz DEFAULT NULL)
RETURNS TABLE ("at" timestamptz, role name, login name, action text, model text, label text,
			   batch_id bigint, client_addr inet, reason text, head_id bigint, head_hash bytea)
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms.access_report(text, timestamptz, timestamptz) IS 'every audited action on the organization''s data in [since, until), with the head of the audit log (needs admin on the org)';
REVOKE ALL ON FUNCTION ms._access_report(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.access_report(text, timestamptz, timestamptz) TO PUBLIC;

-- Rows so far were chained with plain SHA-256: record the head as it
-- stands, so the keyed epoch begins with the next row (README.md, "The
-- audit chain").
SELECT ms._audit_begin_epoch();

-- Access sessions: raw reading scoped by label (ms.open_access takes an
-- optional label, ms.batches lists only the labels the caller may see),
-- sessions owned by the role that opened them, ms.access_session shows
-- the label and whether the session is open or expired.
CREATE FUNCTION ms._require_raw_read(p_org text, p_model text, p_label text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF p_label IS NOT NULL THEN
		PERFORM ms._resolve(p_org, p_model, p_label, 'raw_read', true, 'read raw data of');
		RETURN;
	END IF;
	PERFORM ms._resolve(p_org, p_model, NULL, NULL, false);
	IF NOT ms._is_privileged() AND NOT EXISTS (
		SELECT 1 FROM ms.grants g
		 WHERE g.org OPERATOR(pg_catalog.=) p_org
		   AND (g.model IS NULL OR g.model OPERATOR(pg_catalog.=) p_model)
		   AND g.label IS NULL
		   AND g.privilege OPERATOR(pg_catalog.=) 'raw_read'
		   AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) ms._caller()::pg_catalog.oid
				OR pg_catalog.pg_has_role(ms._caller()::pg_catalog.oid, g.role::pg_catalog.oid, 'USAGE'))) THEN
		RAISE EXCEPTION 'permission denied to read raw data of every label of model "%/%"', p_org, p_model
			USING ERRCODE = '42501',
				  HINT = 'That needs raw_read on the model or its organization; with raw_read on one label, name it: ms.open_access(org, model, reason, label).';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION ms._require_raw_read(text, text, text) FROM PUBLIC;
CREATE OR REPLACE FUNCTION ms._batches(org text, model text, since timestamptz,
						   until timestamptz)
RETURNS TABLE (batch_id bigint, received_at timestamptz, label text, raw_bytes bigint,
			   stored_bytes bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	privileged	boolean := ms._is_privileged();
	labels		text[];
BEGIN
	-- visibility first: the same error as for a model that does not exist
	PERFORM ms._resolve(p_org, p_model, NULL, NULL, false);
	IF NOT privileged THEN
		SELECT pg_catalog.array_agg(v.label) INTO labels
		  FROM ms.versions v
		 WHERE v.org OPERATOR(pg_catalog.=) p_org AND v.model OPERATOR(pg_catalog.=) p_model
		   AND EXISTS (SELECT 1 FROM pg_catalog.unnest('{raw_read,stage,ingest}'::pg_catalog.text[]) p,
							LATERAL ms._access(ms._caller()::pg_catalog.oid, false,
											   p_org, p_model, v.label, p) a
					   WHERE a.allowed);
		IF labels IS NULL THEN
			RAISE EXCEPTION 'permission denied to list batches of model "%/%"', p_org, p_model
				USING ERRCODE = '42501',
					  HINT = 'Listing batches needs raw_read, stage or ingest on the model or on one of its labels.';
		END IF;
	END IF;
	RETURN QUERY
		SELECT b.batch_id, b.received_at, b.label, b.raw_bytes, b.stored_bytes
		  FROM ms.raw_batches b
		 WHERE b.org OPERATOR(pg_catalog.=) p_org AND b.model OPERATOR(pg_catalog.=) p_model
		   AND (privileged OR b.label OPERATOR(pg_catalog.=) ANY (labels))
		   AND (since IS NULL OR b.received_at OPERATOR(pg_catalog.>=) since)
		   AND (until IS NULL OR b.received_at OPERATOR(pg_catalog.<) until)
		 ORDER BY b.received_at, b.batch_id;
END
$$;
REVOKE ALL ON FUNCTION ms._batches(text, text, timestamptz, timestamptz) FROM PUBLIC;
-- ms.batches runs that body as its entry point (idempotent with the
-- entry-point conversion of src/caller.c)
CREATE OR REPLACE FUNCTION ms.batches(org text, model text, since timestamptz DEFAULT NULL,
									  until timestamptz DEFAULT NULL)
RETURNS TABLE (batch_id bigint, received_at timestamptz, label text, raw_bytes bigint,
			   stored_bytes bigint)
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE SECURITY INVOKER;
COMMENT ON FUNCTION ms.batches(text, text, timestamptz, timestamptz) IS 'raw batches of a model received in [since, until), of the labels on which the caller holds raw_read, stage or ingest';
DROP FUNCTION ms.open_access(text, text, text);
CREATE FUNCTION ms.open_access(org text, model text, reason text, label text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_open_access'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.open_access(text, text, text, text) IS 'open an audited raw data access session on one label of a model, or on all of them when label is NULL (needs raw_read on it and a reason); it belongs to the calling role and ends when the connection''s role changes';
GRANT EXECUTE ON FUNCTION ms.open_access(text, text, text, text) TO PUBLIC;
DROP FUNCTION ms.access_session();
CREATE FUNCTION ms.access_session(OUT org text, OUT model text, OUT label text,
								  OUT reason text, OUT opened_at timestamptz,
								  OUT expires_at timestamptz, OUT state text)
	AS 'MODULE_PATHNAME', 'ms_access_session' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms.access_session() IS 'the caller''s access session on this connection: state open, or expired (expires_at past) until closed or replaced; label NULL for the whole model; NULLs when none';
GRANT EXECUTE ON FUNCTION ms.access_session() TO PUBLIC;
-- a session belongs to the caller of ms.open_access, and only the same
-- caller reaches it: the session functions run as their caller, never as
-- their definer (idempotent with the entry-point conversion of src/caller.c)
ALTER FUNCTION ms.read_batch(bigint) SECURITY INVOKER;
ALTER FUNCTION ms.close_access() SECURITY INVOKER;

-- What errors disclose (issue 12, "smaller ones"): to a role that may not
-- see every label of a model, a label that does not exist gets the refusal
-- of one it holds no grant on (ms._resolve; ms.knn and ms._authorise in
-- C); ms.rollback does not name the label it would restore to such a role;
-- the processor drop guard names the org, model and label only to a role
-- that may see that label, so it becomes an entry point (ms_entry running
-- ms.__processor_drop_guard as the owner) instead of SECURITY DEFINER.
CREATE OR REPLACE FUNCTION ms._resolve(p_org text, p_model text, p_label text,
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

CREATE OR REPLACE FUNCTION ms._rollback(org text, model text) RETURNS text
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

CREATE FUNCTION ms.__processor_drop_guard() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r	record;
BEGIN
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

CREATE OR REPLACE FUNCTION ms._processor_drop_guard() RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;


-- ms.replay from another label needs stage on that label as well
CREATE OR REPLACE FUNCTION ms._replay(org text, model text, label text, since timestamptz,
						   until timestamptz, from_label text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	b			record;
	v			record;
	source		text;
	n			bigint := 0;
BEGIN
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true, 'replay into') a;
	-- the label's own batches, unless another label is named
	source := coalesce(from_label, r.label);
	PERFORM ms._check_ident('label', source);
	-- Another label's batches become this label's points, which the caller
	-- reads: it needs stage on that label too (a grant on this label alone
	-- must not reach another's data, nor learn which labels exist).
	IF source OPERATOR(pg_catalog.<>) r.label THEN
		PERFORM ms._resolve(p_org, p_model, source, 'stage', true, 'replay batches of');
	END IF;
	SELECT vv.processor, vv.processor_digest INTO v FROM ms.versions vv
	 WHERE vv.version_id OPERATOR(pg_catalog.=) r.version_id;
	-- A user processor sees the raw bytes and can copy them into payloads
	-- that stage then reads back: replaying through one is reading raw
	-- data, and needs what reading does.  (A built-in parser yields only
	-- points, which stage may read anyway.)
	IF NOT ms._is_builtin_processor(v.processor) THEN
		PERFORM ms._require_raw_network();
		PERFORM ms._resolve(p_org, p_model, source, 'raw_read', false, 'replay raw data of');
	END IF;
	-- only this model's batches of the source label: never another
	-- model's or org's; each is on the record before it is read
	FOR b IN
		SELECT rb.batch_id, rb.raw_bytes, rb.frame FROM ms.raw_batches rb
		 WHERE rb.org OPERATOR(pg_catalog.=) p_org AND rb.model OPERATOR(pg_catalog.=) p_model
		   AND rb.label OPERATOR(pg_catalog.=) source
		   AND (since IS NULL OR rb.received_at OPERATOR(pg_catalog.>=) since)
		   AND (until IS NULL OR rb.received_at OPERATOR(pg_catalog.<) until)
		 ORDER BY rb.received_at, rb.batch_id
	LOOP
		PERFORM ms._audit('replay', p_org, p_model, r.label, b.batch_id,
						  pg_catalog.format('batch of label %s through %s', source,
											coalesce(v.processor::pg_catalog.text, 'ms.proc_csv(bytea,integer)')));
		PERFORM ms._process_batch(p_org, r.version_id, v.processor, r.dims, r.metric,
								  ms._lz4_decode(b.frame, b.raw_bytes, b.batch_id),
								  v.processor_digest);
		n := n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN n;
END
$$;

COMMENT ON FUNCTION ms.replay(text, text, text, timestamptz, timestamptz, text) IS 'feed the label''s own raw batches (or from_label''s) received in [since, until) through its processor (needs stage, on from_label too, and raw_read on the source for a user processor; each batch audited); returns the number of batches';

-- every function's privileges as a fresh install leaves them
REVOKE ALL ON FUNCTION ms._authorise(text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ms FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ms.create_model(text, text, integer, text),
	ms.create_version(text, text, text, regprocedure),
	ms.set_processor(text, text, text, regprocedure),
	ms.default_label(text, text),
	ms.promote(text, text, text),
	ms.rollback(text, text),
	ms.grant(regrole, text, text, text, text),
	ms.revoke(regrole, text, text, text, text),
	ms.upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]),
	ms.reindex_version(text, text, text),
	ms.knn(text, text, @extschema@.vec, integer, text),
	ms.within(text, text, @extschema@.vec, double precision, text),
	ms.in_box(text, text, @extschema@.vbox, text)
TO PUBLIC;
REVOKE ALL ON FUNCTION ms._audit_log_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._audit(text, text, text, text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.verify_audit() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.verify_audit(bigint, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._audit_begin_epoch() FROM PUBLIC;
REVOKE ALL ON FUNCTION
	ms._lz4_encode(bytea),
	ms._lz4_decode(bytea, bigint, bigint),
	ms._run_processor(regprocedure, bytea, integer, text, bytea, regrole),
	ms._require_raw_network(),
	ms._insert_points(text, bigint, regprocedure, integer, text, bytea, bytea, regrole),
	ms._process_batch(text, bigint, regprocedure, integer, text, bytea, bytea),
	ms._called_from(text),
	ms._ingest(text, text, bytea, text),
	ms._batches(text, text, timestamptz, timestamptz),
	ms._require_raw_read(text, text, text),
	ms._replay(text, text, text, timestamptz, timestamptz, text),
	ms._access_report(text, timestamptz, timestamptz),
	ms._audit_promotion(),
	ms._audit_grant()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ms.proc_csv(bytea, integer),
	ms.proc_float32(bytea, integer),
	ms.ingest(text, text, bytea, text),
	ms.batches(text, text, timestamptz, timestamptz),
	ms.replay(text, text, text, timestamptz, timestamptz, text),
	ms.open_access(text, text, text, text),
	ms.close_access(),
	ms.read_batch(bigint),
	ms.access_session(),
	ms.access_report(text, timestamptz, timestamptz)
TO PUBLIC;
