-- machinesoup 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.2.0'" to load this file. \quit

-- pg_dump/pg_restore round trip (see sql/install/060_governance.sql) ---------

-- ms.points: one primary key per partition instead of one on the parent,
-- which made pg_restore fail ("multiple primary keys for table
-- points_<id>").  Dropping the parent's key drops the partitions' copies;
-- each partition then gets its own, under the same name.
ALTER TABLE ms.points DROP CONSTRAINT points_pkey;
DO $$
DECLARE
	part	name;
BEGIN
	FOR part IN
		SELECT c.relname FROM pg_catalog.pg_inherits i
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
		 WHERE i.inhparent OPERATOR(pg_catalog.=) 'ms.points'::pg_catalog.regclass
		 ORDER BY c.relname
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE ms.%I ADD CONSTRAINT %I PRIMARY KEY (point_id)',
								  part, part OPERATOR(pg_catalog.||) '_pkey');
	END LOOP;
END
$$;

-- new partitions get their key, and upserts name the partition
CREATE OR REPLACE FUNCTION ms.create_version(org text, model text, label text, processor regprocedure DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
	PERFORM ms._check_processor(p_processor);

	INSERT INTO ms.versions (org, model, label, processor, created_by)
		VALUES (p_org, p_model, p_label, p_processor, ms._caller_name())
		RETURNING ms.versions.version_id INTO vid;

	part := pg_catalog.format('points_%s', vid);
	EXECUTE pg_catalog.format(
		'CREATE TABLE ms.%I PARTITION OF ms.points ('
		'CONSTRAINT %I PRIMARY KEY (point_id), '
		'CONSTRAINT %I CHECK (org OPERATOR(pg_catalog.=) %L), '
		'CONSTRAINT %I CHECK (@extschema@.vec_dims(embedding) OPERATOR(pg_catalog.=) %s)'
		') FOR VALUES IN (%s)',
		part, pg_catalog.format('%s_pkey', part),
		pg_catalog.format('%s_org', part), p_org,
		pg_catalog.format('%s_dims', part), r.dims, vid);
	EXECUTE pg_catalog.format('REVOKE ALL ON ms.%I FROM PUBLIC', part);

	-- The version's own index: see ms._create_version_index.  GiST is
	-- built here, on the empty partition, and grows with it; msivf waits
	-- until there are points to train its centroids on.
	IF r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION ms.upsert_points(org text, model text, label text, ids bigint[],
								 vecs @extschema@.vec[], payloads jsonb[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- Run a version's processor on one batch and insert its rows straight
-- into the version's partition (multi-row heap inserts, msivf entries a
-- batch at a time): what the INSERT ... SELECT FROM ms._run_processor(...)
-- of ms._process_batch does.  NULL when that INSERT must run instead
-- (triggers, row security, a foreign partition: see src/raw_insert.c).
CREATE FUNCTION ms._insert_points(org text, version_id bigint, processor regprocedure,
								  dims integer, metric text, batch bytea)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_insert_points' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION ms._insert_points(text, bigint, regprocedure, integer, text, bytea) FROM PUBLIC;

-- Feed one decoded batch through a version's processor into its points
-- (the version's partition; rows already checked by the processor run).
-- Internal: callers have resolved and authorised the version.
CREATE OR REPLACE FUNCTION ms._process_batch(p_org text, p_version_id bigint, p_processor regprocedure,
								  p_dims integer, p_metric text, p_data bytea)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n		bigint;
BEGIN
	-- New ids are the common case, and a plain insert is much cheaper than
	-- ON CONFLICT's speculative insertion; ids already present (a replay,
	-- a producer re-sending) take the upsert.
	BEGIN
		n := ms._insert_points(p_org, p_version_id, p_processor, p_dims, p_metric, p_data);
		IF n IS NULL THEN
			INSERT INTO ms.points AS p (org, version_id, point_id, embedding, payload)
				SELECT p_org, p_version_id, r.point_id, r.embedding, r.payload
				  FROM ms._run_processor(p_processor, p_data, p_dims, p_metric) r;
			GET DIAGNOSTICS n = ROW_COUNT;
		END IF;
	EXCEPTION WHEN unique_violation THEN
		-- the partition's own primary key is the arbiter (see ms.points)
		EXECUTE pg_catalog.format(
			'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
			'SELECT $1, $2, r.point_id, r.embedding, r.payload '
			'  FROM ms._run_processor($3, $4, $5, $6) r '
			'ON CONFLICT (point_id) '
			'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
			pg_catalog.format('points_%s', p_version_id))
			USING p_org, p_version_id, p_processor, p_data, p_dims, p_metric;
		GET DIAGNOSTICS n = ROW_COUNT;
	END;
	PERFORM ms._index_if_grown(p_version_id);
	RETURN n;
END
$$;

-- grants of roles dropped since are left out of dumps
SELECT pg_catalog.pg_extension_config_dump('ms.grants',
	'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r '
	'WHERE r.oid OPERATOR(pg_catalog.=) grants.role::pg_catalog.oid)');

-- a version's processor cannot be dropped
CREATE FUNCTION ms._processor_drop_guard() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r	record;
BEGIN
	SELECT v.org, v.model, v.label, d.object_identity INTO r
	  FROM pg_catalog.pg_event_trigger_dropped_objects() d
	  JOIN ms.versions v ON v.processor::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
	 ORDER BY v.version_id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot drop function % because it is the processor of label "%" of model "%/%"',
			r.object_identity, r.label, r.org, r.model
			USING ERRCODE = '2BP01',
				  HINT = 'Give the version another processor with ms.set_processor() first.';
	END IF;
END
$$;
CREATE EVENT TRIGGER machinesoup_processor_drop_guard ON sql_drop
	WHEN TAG IN ('DROP FUNCTION', 'DROP ROUTINE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION ms._processor_drop_guard();
REVOKE ALL ON FUNCTION ms._processor_drop_guard() FROM PUBLIC;

-- ms._index_if_grown: a free size bound before counting rows (a count per
-- batch cost about 1 ms while a version above 64 dims was young)
CREATE OR REPLACE FUNCTION ms._index_if_grown(p_version_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	n			bigint;
	d			integer;
	row_min		integer;
	pages_needed bigint;
BEGIN
	-- the usual case, once built: one catalog lookup
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NOT NULL THEN
		RETURN;
	END IF;
	-- Counting costs as much as the rows counted, so first a bound that
	-- costs nothing: a row of d dims takes at least 56 + 4d bytes and a line
	-- pointer (it is never compressed below the 2 kB TOAST threshold), so a
	-- partition of fewer pages than the threshold's rows need cannot hold
	-- them yet.
	SELECT m.dims INTO d
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	-- (OPERATOR() has one precedence for all: every step is bracketed)
	row_min := 60 OPERATOR(pg_catalog.+) (4 OPERATOR(pg_catalog.*) d);
	IF row_min OPERATOR(pg_catalog.<) 2000 THEN
		pages_needed := ms._version_index_min_rows() OPERATOR(pg_catalog./)
			(8168 OPERATOR(pg_catalog./) row_min);
		IF pg_catalog.pg_relation_size(pg_catalog.format('ms.%I', part)::pg_catalog.regclass)
		   OPERATOR(pg_catalog.<) (pages_needed OPERATOR(pg_catalog.*) 8192) THEN
			RETURN;
		END IF;
	END IF;
	-- counts at most the threshold's worth of rows, whatever the size
	EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM (SELECT FROM ms.%I LIMIT %s) s',
							  part, ms._version_index_min_rows())
	   INTO n;
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
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NULL THEN
		PERFORM ms._create_version_index(p_version_id);
	END IF;
END
$$;
