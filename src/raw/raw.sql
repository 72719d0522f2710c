-- Raw data: the LZ4 batch store, processors, replay and audited access
-- sessions.  Every action on raw data is recorded in the audit log
-- (src/audit/audit.sql, installed before this).

-- Raw batches: one LZ4 frame (block and content checksums) per batch, kept
-- out of line and uncompressed by TOAST (it is compressed already); the
-- content is never indexed.  Keyed by (org, model, received_at).
CREATE SEQUENCE ms.raw_batches_batch_id_seq;
COMMENT ON SEQUENCE ms.raw_batches_batch_id_seq IS 'internal: ids of ms.raw_batches (what ms.ingest returns)';

CREATE TABLE ms.raw_batches (
	org			text NOT NULL,
	model		text NOT NULL,
	received_at	timestamptz NOT NULL,
	batch_id	bigint NOT NULL DEFAULT nextval('ms.raw_batches_batch_id_seq'),
	label		text NOT NULL,
	raw_bytes	bigint NOT NULL CHECK (raw_bytes >= 0),
	stored_bytes bigint NOT NULL,
	ingested_by	name NOT NULL,
	frame		bytea NOT NULL,
	PRIMARY KEY (org, model, received_at, batch_id),
	FOREIGN KEY (org, model) REFERENCES ms.models
);
ALTER TABLE ms.raw_batches ALTER COLUMN frame SET STORAGE EXTERNAL;
ALTER SEQUENCE ms.raw_batches_batch_id_seq OWNED BY ms.raw_batches.batch_id;
CREATE INDEX raw_batches_batch_id ON ms.raw_batches (batch_id);
COMMENT ON TABLE ms.raw_batches IS 'raw data batches as LZ4 frames, keyed by (org, model, received_at); internal, not for direct access: use ms.ingest, ms.batches and ms.read_batch';
REVOKE ALL ON ms.raw_batches FROM PUBLIC;
ALTER TABLE ms.raw_batches ENABLE ROW LEVEL SECURITY;	-- see ms.orgs
REVOKE ALL ON SEQUENCE ms.raw_batches_batch_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ms.raw_batches', '');

-- The id of a new batch.  On a Citus cluster (ms.enable_citus) a routed
-- ms.ingest runs on the worker holding the org and numbers its batch from
-- that node's own copy of the sequence, which Citus does not give a
-- range of its own (the sequence is the extension's).  So the node's group
-- (0 on the coordinator and on a single node, whose ids stay 1, 2, ...)
-- goes into the top bits: ids from different nodes never collide, and a
-- batch keeps its id when its shard moves.  ms.read_batch takes the id
-- alone.
CREATE FUNCTION ms._new_batch_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n			bigint := pg_catalog.nextval('ms.raw_batches_batch_id_seq');
	node_group	bigint;
BEGIN
	-- (ms._citus_enabled(), without the call)
	IF NOT ms._is_citus_table('ms.raw_batches'::pg_catalog.regclass) THEN
		RETURN n;
	END IF;
	EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO node_group;
	IF n OPERATOR(pg_catalog.>=) (1::bigint OPERATOR(pg_catalog.<<) 48) THEN
		RAISE EXCEPTION 'batch ids of this node are exhausted'
			USING ERRCODE = '2200H',
				  DETAIL = pg_catalog.format('A Citus node numbers at most 2^48 batches; this is group %s.', node_group);
	END IF;
	RETURN (node_group OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) n;
END
$$;
COMMENT ON FUNCTION ms._new_batch_id() IS 'internal: the id of a new raw batch, unique across the nodes of a Citus cluster (the node''s group in the top bits)';
REVOKE ALL ON FUNCTION ms._new_batch_id() FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ms.raw_batches_batch_id_seq', '');

-- The default machinesoup.processor_role: no privileges of its own.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'machinesoup_processor') THEN
		CREATE ROLE machinesoup_processor NOLOGIN;
	END IF;
END
$$;

-- Codec and processors (src/raw/raw_codec.c, src/raw/raw_proc.c).

CREATE FUNCTION ms._lz4_encode(data bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_lz4_encode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms._lz4_encode(bytea) IS 'internal: a raw batch as an LZ4 frame with block and content checksums';
CREATE FUNCTION ms._lz4_decode(frame bytea, raw_bytes bigint, batch_id bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_lz4_decode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ms._lz4_decode(bytea, bigint, bigint) IS 'internal: the raw bytes of a batch''s LZ4 frame, checked (XX001 when corrupt)';

CREATE FUNCTION ms.proc_csv(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_csv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_csv(bytea, integer) IS 'built-in processor: lines "point_id,x1,...,xD"';
CREATE FUNCTION ms.proc_float32(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_float32' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_float32(bytea, integer) IS 'built-in processor: records of int64 id + D float32, little-endian';
-- Processors of the other element types: a processor yields points of
-- its model's element type (ms._check_processor), and a version without
-- one runs its type's default: ms.proc_csv, ms.proc_float16,
-- ms.proc_binary_quantize or ms.proc_sparse.
CREATE FUNCTION ms.proc_float16(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.hvec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_float16' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_float16(bytea, integer) IS 'built-in processor of float16 models: records of int64 id + D IEEE binary16, little-endian';
CREATE FUNCTION ms.proc_binary_quantize(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.bvec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_binary_quantize(bytea, integer) IS 'built-in processor of bit models: records of int64 id + D float32, little-endian, each point the sign bits (bit set when > 0)';
CREATE FUNCTION ms.proc_sparse(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.svec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_sparse' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_sparse(bytea, integer) IS 'built-in processor of sparse models: lines "point_id,{index:value,...}/D" (svec text, 1-based indices)';

-- Run a processor on one batch (NULL: ms.proc_csv) and check its rows
-- against the model (dims, metric: no NULLs, no zero vector under cosine,
-- no id twice).  User code runs sandboxed (src/raw/raw_sandbox.c) as run_as,
-- the org's processor role, and only while its definition still has the
-- digest pinned when it was approved.
CREATE FUNCTION ms._run_processor(processor regprocedure, batch bytea, dims integer,
								  metric text, pinned bytea, run_as regrole)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_run_processor' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._run_processor(regprocedure, bytea, integer, text, bytea, regrole) IS 'internal: run a processor on one batch (user code sandboxed as run_as, only with its pinned digest) and check its rows against the model';

-- ms._run_processor for a model of any element type: the caller names the
-- embedding's type in a column definition list, AS r(point_id bigint,
-- embedding hvec, payload jsonb), and the rows are checked against it.
CREATE FUNCTION ms._run_processor_as(processor regprocedure, batch bytea, dims integer,
									 metric text, pinned bytea, run_as regrole)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ms_run_processor' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._run_processor_as(regprocedure, bytea, integer, text, bytea, regrole) IS 'internal: ms._run_processor for models of any element type, whose embedding type the column definition list names';

-- Run a version's processor on one batch and insert its rows straight
-- into the version's partition (multi-row heap inserts, msivf entries a
-- batch at a time): what the INSERT ... SELECT FROM ms._run_processor(...)
-- of ms._process_batch does.  NULL when that INSERT must run instead
-- (triggers, row security, a foreign partition: see src/raw/raw_insert.c).
CREATE FUNCTION ms._insert_points(org text, version_id bigint, processor regprocedure,
								  dims integer, metric text, batch bytea, pinned bytea,
								  run_as regrole)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_insert_points' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._insert_points(text, bigint, regprocedure, integer, text, bytea, bytea, regrole) IS 'internal: run a processor on one batch and insert its rows into the version''s partition; NULL when INSERT ... SELECT must do it';

-- On Citus: a routed load (ms.ingest, ms.replay of a built-in processor)
-- runs on the worker that holds the org, where Citus would run the
-- INSERT ... SELECT FROM ms._run_processor(...) into the version's
-- distributed table through an intermediate result file (written, read
-- back and its directory removed at commit) and a deparsed, re-planned
-- shard query: for a one-record batch, more than all of ms.ingest's own
-- work.  ms._local_shard finds the org's shard on this node and
-- ms._insert_shard_points writes it as ms._insert_points writes a
-- partition.
CREATE FUNCTION ms._insert_shard_points(shard regclass, org text, version_id bigint,
										processor regprocedure, dims integer, metric text,
										batch bytea, pinned bytea, run_as regrole)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_insert_shard_points' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._insert_shard_points(regclass, text, bigint, regprocedure, integer, text, bytea, bytea, regrole) IS 'internal: ms._insert_points into a version''s shard on this node (Citus); NULL when INSERT ... SELECT must do it';
CREATE FUNCTION ms._in_transaction_block() RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_in_transaction_block' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms._in_transaction_block() IS 'internal: whether the statement runs inside BEGIN ... COMMIT';
-- The org's shard of a distributed table when this node holds it and the
-- statement is not in a transaction block (there Citus may have written
-- the shard through a connection of its own, whose rows this backend
-- would not see); NULL otherwise, and without Citus.  It takes the lock
-- that Citus's own writes take (a share lock on the shard's metadata),
-- which a shard move's last step waits for, then checks again that the
-- shard is still placed here: a write to it is moved with it or fails.
CREATE FUNCTION ms._local_shard(p_table regclass, p_org text) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	sid			bigint;
BEGIN
	IF NOT ms._citus_enabled() OR ms._in_transaction_block() THEN
		RETURN NULL;
	END IF;
	sid := pg_catalog.get_shard_id_for_distribution_column(p_table, p_org);
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_placement p, pg_catalog.pg_dist_local_group g
				   WHERE p.shardid OPERATOR(pg_catalog.=) sid
					 AND p.groupid OPERATOR(pg_catalog.=) g.groupid) THEN
		RETURN NULL;
	END IF;
	PERFORM pg_catalog.lock_shard_metadata(5, ARRAY[sid]);	-- 5: ShareLock
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_placement p, pg_catalog.pg_dist_local_group g
				   WHERE p.shardid OPERATOR(pg_catalog.=) sid
					 AND p.groupid OPERATOR(pg_catalog.=) g.groupid) THEN
		RETURN NULL;
	END IF;
	RETURN pg_catalog.to_regclass(pg_catalog.format('%s_%s', p_table, sid));
END
$$;
COMMENT ON FUNCTION ms._local_shard(regclass, text) IS 'internal: the org''s shard of a distributed table when it is on this node (Citus''s write lock on it taken), else NULL';
REVOKE ALL ON FUNCTION
	ms._insert_shard_points(regclass, text, bigint, regprocedure, integer, text, bytea, bytea, regrole),
	ms._in_transaction_block(),
	ms._local_shard(regclass, text)
FROM PUBLIC;

-- The element type of a version's model.  PL/pgSQL for Citus, as
-- ms._access.
CREATE FUNCTION ms._version_element_type(p_version_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
RETURN (SELECT m.element_type
  FROM ms.versions v
  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id);
END
$$;
COMMENT ON FUNCTION ms._version_element_type(bigint) IS 'internal: the element type of a version''s model';

-- ms._process_batch of a model whose points are not vecs (their own
-- table, see ms._create_version): the processor's rows upserted by one
-- statement, which runs the processor once.
CREATE FUNCTION ms._upsert_processed(p_org text, p_version_id bigint, p_processor regprocedure,
									 p_dims integer, p_metric text, p_data bytea, p_pinned bytea,
									 p_run_as regrole, p_element_type text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n			bigint;
BEGIN
	EXECUTE pg_catalog.format(
		'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
		'SELECT $1, $2, r.point_id, r.embedding, r.payload '
		'  FROM ms._run_processor_as($3, $4, $5, $6, $7, $8) '
		'       AS r(point_id pg_catalog.int8, embedding @extschema@.%I, payload pg_catalog.jsonb) '
		'ON CONFLICT ON CONSTRAINT %I '
		'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
		pg_catalog.format('points_%s', p_version_id), ms._element_type_name(p_element_type),
		pg_catalog.format('points_%s_pkey', p_version_id))
		USING p_org, p_version_id, p_processor, p_data, p_dims, p_metric, p_pinned, p_run_as;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms._upsert_processed(text, bigint, regprocedure, integer, text, bytea, bytea, regrole, text) IS 'internal: run a processor on one batch and upsert its rows into a version''s points of a non-float32 element type';

-- Feed one decoded batch through a version's processor into its points
-- (the version's partition; rows already checked by the processor run).
-- Internal: callers have resolved and authorised the version.  The org
-- of every row is the org the caller resolved the version in: the insert
-- path sets it, so no partition needs a CHECK naming its org.  p_pinned
-- is the approved digest of a user processor (NULL for a built-in one).
CREATE FUNCTION ms._process_batch(p_org text, p_version_id bigint, p_processor regprocedure,
								  p_dims integer, p_metric text, p_data bytea, p_pinned bytea)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n			bigint;
	run_as		regrole;
	ids			bigint[];
	vecs		@extschema@.vec[];
	payloads	jsonb[];
	etype		text;
	shard		regclass;
BEGIN
	IF p_pinned IS NULL THEN
		-- A built-in processor, a pure parser: running it again for the
		-- upsert costs only time.  New ids are the common case, and a plain
		-- insert is much cheaper than ON CONFLICT's speculative insertion;
		-- ids already present (a replay, a producer re-sending) take the
		-- upsert.  (An unapproved user processor ends up here too, and is
		-- refused by the run: no digest was pinned for it.)
		-- On Citus, the org's shard when it is on this node (a routed
		-- load), looked up outside the block below: in its
		-- subtransaction every statement would seem to be in a
		-- transaction block.
		IF ms._is_citus_table('ms.raw_batches'::pg_catalog.regclass) THEN
			shard := ms._local_shard(pg_catalog.format('ms.%I', pg_catalog.format('points_%s', p_version_id))::pg_catalog.regclass,
									 p_org);
		END IF;
		BEGIN
			IF shard IS NULL THEN
				n := ms._insert_points(p_org, p_version_id, p_processor, p_dims, p_metric, p_data,
									   NULL, NULL);
			ELSE
				n := ms._insert_shard_points(shard, p_org, p_version_id, p_processor, p_dims,
											 p_metric, p_data, NULL, NULL);
			END IF;
		EXCEPTION WHEN unique_violation THEN
			n := NULL;
		END;
		IF n IS NULL THEN
			etype := ms._version_element_type(p_version_id);
		END IF;
		IF n IS NULL AND etype OPERATOR(pg_catalog.<>) 'float32' THEN
			n := ms._upsert_processed(p_org, p_version_id, p_processor, p_dims, p_metric,
									  p_data, NULL, NULL, etype);
		ELSIF n IS NULL THEN
			-- The upsert, also where the direct path does not apply (see
			-- src/raw/raw_insert.c; on Citus always): into the version's
			-- table by name, whose own primary key is the arbiter (see
			-- ms.points).
			EXECUTE pg_catalog.format(
				'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
				'SELECT $1, $2, r.point_id, r.embedding, r.payload '
				'  FROM ms._run_processor($3, $4, $5, $6, NULL, NULL) r '
				'ON CONFLICT ON CONSTRAINT %I '
				'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
				pg_catalog.format('points_%s', p_version_id),
				pg_catalog.format('points_%s_pkey', p_version_id))
				USING p_org, p_version_id, p_processor, p_data, p_dims, p_metric;
			GET DIAGNOSTICS n = ROW_COUNT;
		END IF;
	ELSE
		-- User code runs once per batch, whatever the ids: its rows are
		-- kept and upserted, never produced twice.
		run_as := ms._processor_role(p_org);
		etype := ms._version_element_type(p_version_id);
		IF etype OPERATOR(pg_catalog.<>) 'float32' THEN
			n := ms._upsert_processed(p_org, p_version_id, p_processor, p_dims, p_metric,
									  p_data, p_pinned, run_as, etype);
			PERFORM ms._index_if_grown(p_version_id, p_org, p_dims);
			RETURN n;
		END IF;
		SELECT pg_catalog.array_agg(r.point_id), pg_catalog.array_agg(r.embedding),
			   pg_catalog.array_agg(r.payload)
		  INTO ids, vecs, payloads
		  FROM ms._run_processor(p_processor, p_data, p_dims, p_metric, p_pinned, run_as) r;
		EXECUTE pg_catalog.format(
			'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
			'SELECT $1, $2, u.id, u.v, u.p '
			'  FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), '
			'                  pg_catalog.unnest($5)) AS u(id, v, p) '
			'ON CONFLICT ON CONSTRAINT %I '
			'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
			pg_catalog.format('points_%s', p_version_id),
			pg_catalog.format('points_%s_pkey', p_version_id))
			USING p_org, p_version_id, ids, vecs, payloads;
		GET DIAGNOSTICS n = ROW_COUNT;
	END IF;
	PERFORM ms._index_if_grown(p_version_id, p_org, p_dims);
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms._process_batch(text, bigint, regprocedure, integer, text, bytea, bytea) IS 'internal: feed one decoded batch through a version''s processor into its points; returns how many';

-- The network check of raw access (machinesoup.raw_access_networks), for
-- replay through user code (src/raw/raw_access.c).
CREATE FUNCTION ms._require_raw_network() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_require_raw_network' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._require_raw_network() IS 'internal: raises unless machinesoup.raw_access_networks admits the client';

-- API ----------------------------------------------------------------------

CREATE FUNCTION ms._ingest(org text, model text, data bytea, label text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	v			record;
	processor_owner pg_catalog.oid;
	frame		bytea;
	bid			bigint;
BEGIN
	SELECT * INTO r FROM ms._authorise(p_org, p_model, p_label, 'ingest', 'ingest into') a;
	IF data IS NULL THEN
		RAISE EXCEPTION 'data must not be NULL' USING ERRCODE = '22004';
	END IF;
	-- One small statement per batch: this is ms.ingest's fixed cost, which
	-- a one-record batch pays in full (a join with pg_proc here cost 9 %
	-- of such a call, test/bench/ingest_callgrind.sh).  Built-in
	-- processors (no digest) have no owner to look up.
	SELECT vv.processor, vv.processor_digest INTO v
	  FROM ms.versions vv
	 WHERE vv.version_id OPERATOR(pg_catalog.=) r.version_id;
	frame := ms._lz4_encode(data);
	-- numbered here rather than by the column's default: on Citus with the
	-- node's group (ms._new_batch_id, called only there: this is on every
	-- ingest's path, and a function with its own settings costs a little)
	IF ms._is_citus_table('ms.raw_batches'::pg_catalog.regclass) THEN
		bid := ms._new_batch_id();
	ELSE
		bid := pg_catalog.nextval('ms.raw_batches_batch_id_seq');
	END IF;
	INSERT INTO ms.raw_batches AS b (org, model, received_at, batch_id, label, raw_bytes,
									 stored_bytes, ingested_by, frame)
		VALUES (p_org, p_model, pg_catalog.clock_timestamp(), bid, r.resolved_label,
				pg_catalog.length(data), pg_catalog.length(frame), ms._caller_name(), frame);
	-- Another role's code is about to see this producer's raw bytes (and
	-- may copy them into payloads): that is raw access, on the record.
	IF v.processor_digest IS NOT NULL THEN
		SELECT p.proowner INTO processor_owner
		  FROM pg_catalog.pg_proc p
		 WHERE p.oid OPERATOR(pg_catalog.=) v.processor::pg_catalog.oid;
		IF processor_owner OPERATOR(pg_catalog.<>) ms._caller()::pg_catalog.oid THEN
			PERFORM ms._audit('process_batch', p_org, p_model, r.resolved_label, bid,
							  pg_catalog.format('processor %s owned by %s', v.processor,
												pg_catalog.pg_get_userbyid(processor_owner)));
		END IF;
	END IF;
	-- same transaction: a processor error takes the raw frame with it
	PERFORM ms._process_batch(p_org, r.version_id, v.processor, r.dims, r.metric, data,
							  v.processor_digest);
	RETURN bid;
END
$$;
COMMENT ON FUNCTION ms._ingest(text, text, bytea, text) IS 'internal: the body of ms.ingest, run as the extension owner by it';
CREATE FUNCTION ms.ingest(org text, model text, data bytea, label text DEFAULT NULL)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.ingest(text, text, bytea, text) IS 'store a raw batch (LZ4) and process it into the version''s points (needs ingest)';

-- Batches are listed label by label: those of the labels on which the
-- caller holds raw_read, stage or ingest (on the label, or on the model or
-- org without one).  Every batch carries the label of an existing version
-- (ms.ingest resolves it; versions are never dropped), and so does every
-- label-scoped grant, so the model's versions are all the labels there are.
CREATE FUNCTION ms._batches(org text, model text, since timestamptz,
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
COMMENT ON FUNCTION ms._batches(text, text, timestamptz, timestamptz) IS 'internal: the body of ms.batches, run as the extension owner by it';
CREATE FUNCTION ms.batches(org text, model text, since timestamptz DEFAULT NULL,
						   until timestamptz DEFAULT NULL)
RETURNS TABLE (batch_id bigint, received_at timestamptz, label text, raw_bytes bigint,
			   stored_bytes bigint)
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms.batches(text, text, timestamptz, timestamptz) IS 'raw batches of a model received in [since, until), of the labels on which the caller holds raw_read, stage or ingest';

CREATE FUNCTION ms._replay(org text, model text, label text, since timestamptz,
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
COMMENT ON FUNCTION ms._replay(text, text, text, timestamptz, timestamptz, text) IS 'internal: the body of ms.replay, run as the extension owner by it';
CREATE FUNCTION ms.replay(org text, model text, label text, since timestamptz DEFAULT NULL,
						  until timestamptz DEFAULT NULL, from_label text DEFAULT NULL)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.replay(text, text, text, timestamptz, timestamptz, text) IS 'feed the label''s own raw batches (or from_label''s) received in [since, until) through its processor (needs stage, on from_label too, and raw_read on the source for a user processor; each batch audited); returns the number of batches';

-- Audited access sessions (src/raw/raw_session.c; the checks they make,
-- src/raw/raw_access.c).

-- Raise unless the caller may read the raw batches of (org, model, label).
-- A label takes raw_read on it, or on the model or org without a label;
-- the whole model (label NULL) takes raw_read without a label: a grant on
-- one label never reaches another's batches.  A model the caller may not
-- see gets the error of one that does not exist.  Run by the session
-- functions as the extension's owner, with the caller recorded.
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
COMMENT ON FUNCTION ms._require_raw_read(text, text, text) IS 'internal: raises unless the caller may read the raw batches of the label (of every label when NULL)';

CREATE FUNCTION ms.open_access(org text, model text, reason text, label text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'ms_open_access'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.open_access(text, text, text, text) IS 'open an audited raw data access session on one label of a model, or on all of them when label is NULL (needs raw_read on it and a reason); it belongs to the calling role and ends when the connection''s role changes';
CREATE FUNCTION ms.close_access() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_close_access'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.close_access() IS 'close the raw data access session';
CREATE FUNCTION ms.read_batch(batch_id bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_read_batch'
	LANGUAGE C VOLATILE STRICT SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.read_batch(bigint) IS 'the raw bytes of a batch, inside an open access session on its model (audited)';
CREATE FUNCTION ms.access_session(OUT org text, OUT model text, OUT label text,
								  OUT reason text, OUT opened_at timestamptz,
								  OUT expires_at timestamptz, OUT state text)
	AS 'MODULE_PATHNAME', 'ms_access_session' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms.access_session() IS 'the caller''s access session on this connection: state open, or expired (expires_at past) until closed or replaced; label NULL for the whole model; NULLs when none';

-- Access sessions held by a token rather than by a connection
-- (src/raw/raw_token.c): the org first, so that on Citus they are
-- distributed functions (ms.enable_citus) and run whole on the org's
-- worker, which records them in its own audit log.
CREATE FUNCTION ms.open_access_token(org text, model text, reason text, label text DEFAULT NULL)
RETURNS text
	AS 'MODULE_PATHNAME', 'ms_open_access_token'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.open_access_token(text, text, text, text) IS 'open an audited raw data access session held by a token (returned), for ms.read_batch(org, token, batch_id) from any connection of the calling role; on Citus it runs on the org''s worker';
CREATE FUNCTION ms.read_batch(org text, token text, batch_id bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_read_batch_token'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.read_batch(text, text, bigint) IS 'the raw bytes of a batch, inside the token''s access session on its model (audited; the token''s owner only)';
CREATE FUNCTION ms.close_access(org text, token text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_close_access_token'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.close_access(text, text) IS 'close the token''s raw data access session';
GRANT EXECUTE ON FUNCTION
	ms.open_access_token(text, text, text, text),
	ms.read_batch(text, text, bigint),
	ms.close_access(text, text)
TO PUBLIC;

-- A timestamp as text that reads back the same whatever the reader's
-- DateStyle and TimeZone (ISO 8601 in UTC), for a command to another node.
CREATE FUNCTION ms._timestamp_text(t timestamptz) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$SELECT CASE WHEN pg_catalog.isfinite(t)
	THEN pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
	ELSE t::pg_catalog.text END$$;
COMMENT ON FUNCTION ms._timestamp_text(timestamptz) IS 'internal: a timestamp as ISO 8601 text in UTC, read back the same by any session';
REVOKE ALL ON FUNCTION ms._timestamp_text(timestamptz) FROM PUBLIC;

-- Every audited action on the org's data, each row also carrying the head
-- of the whole log (head_id, head_hash) as the report saw it: the
-- customer's copy, which ms.verify_audit(head_id, head_hash) checks later.
CREATE FUNCTION ms._access_report(org text, since timestamptz,
								 until timestamptz)
RETURNS TABLE ("at" timestamptz, role name, login name, action text, model text, label text,
			   batch_id bigint, client_addr inet, reason text, head_id bigint, head_hash bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	h_id		bigint;
	h_hash		bytea;
	w			record;
	remote		jsonb := '[]';
BEGIN
	PERFORM ms._check_ident('org', p_org);
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to read the access report of organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;
	SELECT h.id, h.hash INTO h_id, h_hash FROM ms.audit_log h ORDER BY h.id DESC LIMIT 1;
	-- On a Citus coordinator (ms.enable_citus), every worker's own log
	-- too: a routed call records where it runs.  Read as the extension's
	-- owner (the caller has been judged here), each worker answering with
	-- its local report (ms.access_report on a worker reads its own log);
	-- a worker that does not answer fails the report, which would be
	-- incomplete.  Its rows name the worker in their reason, as a
	-- standby's do, and carry the head of the worker's own chain: the
	-- customer's copy of every log that holds their records, each of which
	-- ms.verify_audit(head_id, head_hash) here checks on its node.
	IF ms._citus_enabled() THEN
		IF pg_catalog.citus_is_coordinator() THEN
			FOR w IN
				SELECT r.nodename, r.nodeport, r.success, r.result
				  FROM pg_catalog.run_command_on_workers(pg_catalog.format(
						'SELECT COALESCE(pg_catalog.json_agg(r), ''[]'') '
						'  FROM ms.access_report(%L, %L, %L) r', p_org, ms._timestamp_text(since),
						ms._timestamp_text(until))) r
				 ORDER BY r.nodename, r.nodeport
			LOOP
				IF NOT w.success THEN
					RAISE EXCEPTION 'could not read the audit log of worker %:%', w.nodename, w.nodeport
						USING ERRCODE = '08006', DETAIL = w.result,
							  HINT = 'The report covers every node; retry once the worker is back.';
				END IF;
				remote := remote OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(
					pg_catalog.jsonb_build_object('node', pg_catalog.format('%s:%s', w.nodename, w.nodeport),
												  'rows', w.result::pg_catalog.jsonb));
			END LOOP;
		END IF;
	END IF;
	RETURN QUERY
		SELECT a.at, a.role, a.login, a.action, a.model, a.label, a.batch_id, a.client_addr,
			   a.reason, a.head_id, a.head_hash
		  FROM (SELECT l.at, l.role, l.login, l.action, l.model, l.label, l.batch_id,
					   l.client_addr, l.reason, h_id AS head_id, h_hash AS head_hash,
					   0::pg_catalog.int8 AS node, l.id AS ord
				  FROM ms.audit_log l
				 WHERE l.org OPERATOR(pg_catalog.=) p_org
				   AND (since IS NULL OR l.at OPERATOR(pg_catalog.>=) since)
				   AND (until IS NULL OR l.at OPERATOR(pg_catalog.<) until)
				UNION ALL
				SELECT x.at, x.role, x.login, x.action, x.model, x.label, x.batch_id,
					   x.client_addr,
					   pg_catalog.concat_ws(' ', x.reason,
											pg_catalog.format('(on worker "%s")', n.e OPERATOR(pg_catalog.->>) 'node')),
					   x.head_id, x.head_hash, n.i, x.i
				  FROM pg_catalog.jsonb_array_elements(remote) WITH ORDINALITY AS n(e, i),
					   ROWS FROM (pg_catalog.jsonb_to_recordset(n.e OPERATOR(pg_catalog.->) 'rows')
								  AS ("at" timestamptz, role name, login name, action text, model text,
									  label text, batch_id bigint, client_addr inet, reason text,
									  head_id bigint, head_hash bytea))
						 WITH ORDINALITY AS x("at", role, login, action, model, label, batch_id,
											 client_addr, reason, head_id, head_hash, i)) a
		 ORDER BY a.at, a.node, a.ord;
END
$$;
COMMENT ON FUNCTION ms._access_report(text, timestamptz, timestamptz) IS 'internal: the body of ms.access_report, run as the extension owner by it';
CREATE FUNCTION ms.access_report(org text, since timestamptz DEFAULT NULL,
								 until timestamptz DEFAULT NULL)
RETURNS TABLE ("at" timestamptz, role name, login name, action text, model text, label text,
			   batch_id bigint, client_addr inet, reason text, head_id bigint, head_hash bytea)
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms.access_report(text, timestamptz, timestamptz) IS 'every audited action on the organization''s data in [since, until), with the head of the audit log (needs admin on the org)';

-- Governance actions are audited too: promotions and rollbacks (rows of
-- ms.promotions), grants and revokes (rows of ms.grants coming and going).
-- Only changes made through the API functions are audited: rows that
-- pg_restore (or a superuser's own DML) writes into these tables are not
-- grants or promotions being made, and a restore must not need the writer.
CREATE FUNCTION ms._called_from(p_functions text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	stack	text;
BEGIN
	GET DIAGNOSTICS stack = PG_CONTEXT;
	-- the API's bodies: ms._grant for ms.grant (see 060_governance.sql)
	RETURN stack ~ ('function ms\._(' || p_functions || ')\(');
END
$$;
COMMENT ON FUNCTION ms._called_from(text) IS 'internal: whether one of the given API bodies is on the call stack (audit triggers skip rows a restore writes)';

CREATE FUNCTION ms._audit_promotion() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT ms._called_from('promote|rollback') THEN
		RETURN NULL;
	END IF;
	PERFORM ms._audit(NEW.action, NEW.org, NEW.model, NEW.to_label, NULL,
					  pg_catalog.format('default label %s -> %s',
										coalesce(NEW.from_label, '(none)'), NEW.to_label));
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION ms._audit_promotion() IS 'internal: trigger auditing the promotions and rollbacks made by ms.promote and ms.rollback';
CREATE TRIGGER promotions_audit AFTER INSERT ON ms.promotions
	FOR EACH ROW EXECUTE FUNCTION ms._audit_promotion();

CREATE FUNCTION ms._audit_grant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	g	record;
BEGIN
	IF NOT ms._called_from('grant|revoke') THEN
		RETURN NULL;
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
		g := NEW;
	ELSE
		g := OLD;
	END IF;
	PERFORM ms._audit(CASE TG_OP WHEN 'INSERT' THEN 'grant' ELSE 'revoke' END,
					  g.org, g.model, g.label, NULL,
					  pg_catalog.format('%s %s %s', g.privilege,
										CASE TG_OP WHEN 'INSERT' THEN 'to' ELSE 'from' END,
										g.role));
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION ms._audit_grant() IS 'internal: trigger auditing the grants and revokes made by ms.grant and ms.revoke';
CREATE TRIGGER grants_audit AFTER INSERT OR DELETE ON ms.grants
	FOR EACH ROW EXECUTE FUNCTION ms._audit_grant();

REVOKE ALL ON FUNCTION
	ms._lz4_encode(bytea),
	ms._lz4_decode(bytea, bigint, bigint),
	ms._run_processor(regprocedure, bytea, integer, text, bytea, regrole),
	ms._require_raw_network(),
	ms._insert_points(text, bigint, regprocedure, integer, text, bytea, bytea, regrole),
	ms._process_batch(text, bigint, regprocedure, integer, text, bytea, bytea),
	ms._run_processor_as(regprocedure, bytea, integer, text, bytea, regrole),
	ms._version_element_type(bigint),
	ms._upsert_processed(text, bigint, regprocedure, integer, text, bytea, bytea, regrole, text),
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
	ms.proc_float16(bytea, integer),
	ms.proc_binary_quantize(bytea, integer),
	ms.proc_sparse(bytea, integer),
	ms.ingest(text, text, bytea, text),
	ms.batches(text, text, timestamptz, timestamptz),
	ms.replay(text, text, text, timestamptz, timestamptz, text),
	ms.open_access(text, text, text, text),
	ms.close_access(),
	ms.read_batch(bigint),
	ms.access_session(),
	ms.access_report(text, timestamptz, timestamptz)
TO PUBLIC;

-- Distributing a store that holds data already (ms.enable_citus on a
-- single-node deployment): every table of the store is locked, checked
-- for code that is not the extension's (the conversion copies rows as the
-- extension's owner: a trigger, an index expression or a constraint of
-- anyone else would run with the owner's rights, on the coordinator or on
-- the workers), then converted to the layout ms.enable_citus gives a new
-- store.  No processor runs: points are copied, not re-derived.

-- Every table of the model store in ACCESS EXCLUSIVE mode, the governance
-- tables first (every call reads them first), waiting as long as
-- lock_timeout allows; a transaction that keeps one is a clear refusal.
CREATE FUNCTION ms._citus_lock_store() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tables		text;
	msg			text;
BEGIN
	LOCK TABLE ms.orgs, ms.models, ms.versions, ms.promotions, ms.grants, ms.raw_batches,
		ms.points IN ACCESS EXCLUSIVE MODE;
	-- the version tables that are not partitions of ms.points
	SELECT pg_catalog.string_agg(pg_catalog.format('ms.%I', c.relname), ', ' ORDER BY v.version_id)
	  INTO tables
	  FROM ms.versions v
	  JOIN pg_catalog.pg_class c
		ON c.relname OPERATOR(pg_catalog.=) pg_catalog.format('points_%s', v.version_id)
	   AND c.relnamespace OPERATOR(pg_catalog.=) 'ms'::pg_catalog.regnamespace;
	IF tables IS NOT NULL THEN
		EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', tables);
	END IF;
EXCEPTION WHEN lock_not_available THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
	RAISE EXCEPTION 'could not lock the machinesoup model store: another transaction is using it'
		USING ERRCODE = '55P03', DETAIL = msg,
			  HINT = 'ms.enable_citus() takes every table of the model store in ACCESS EXCLUSIVE mode: retry once the transactions using it have ended, or raise lock_timeout to wait for them.';
END
$$;
COMMENT ON FUNCTION ms._citus_lock_store() IS 'internal: lock every table of the model store for ms.enable_citus (55P03 when another transaction keeps one past lock_timeout)';

-- Refuse what the conversion cannot carry safely or faithfully: objects on
-- the store's tables that depend on functions, operators, types or
-- operator classes that are neither built in nor the extension's
-- (triggers, index expressions and predicates, constraints, defaults,
-- rules, policies), triggers on the data tables, indexes of a version
-- other than its key and its embedding index, foreign keys, inheritance,
-- tables of another owner, and user processors missing on a worker.
CREATE FUNCTION ms._citus_check_store() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ext			pg_catalog.oid;
	owner_oid	pg_catalog.oid;
	tbls		pg_catalog.oid[];
	data_tbls	pg_catalog.oid[];
	r			record;
	wrk			record;
BEGIN
	SELECT e.oid INTO ext FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'machinesoup';
	SELECT n.nspowner INTO owner_oid FROM pg_catalog.pg_namespace n
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'ms';
	-- a version without its table cannot be distributed
	SELECT v.version_id INTO r FROM ms.versions v
	 WHERE pg_catalog.to_regclass(pg_catalog.format('ms.%I', pg_catalog.format('points_%s', v.version_id))) IS NULL
	 ORDER BY v.version_id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'the points of version % are missing (table ms.points_%)', r.version_id, r.version_id
			USING ERRCODE = '55000';
	END IF;
	SELECT pg_catalog.array_agg(pg_catalog.format('ms.%I', pg_catalog.format('points_%s', v.version_id))::pg_catalog.regclass::pg_catalog.oid
								ORDER BY v.version_id)
	  INTO data_tbls FROM ms.versions v;
	data_tbls := pg_catalog.array_append(coalesce(data_tbls, '{}'), 'ms.raw_batches'::pg_catalog.regclass::pg_catalog.oid);
	tbls := data_tbls OPERATOR(pg_catalog.||) ARRAY['ms.orgs'::pg_catalog.regclass::pg_catalog.oid,
		'ms.models'::pg_catalog.regclass::pg_catalog.oid, 'ms.versions'::pg_catalog.regclass::pg_catalog.oid,
		'ms.promotions'::pg_catalog.regclass::pg_catalog.oid, 'ms.grants'::pg_catalog.regclass::pg_catalog.oid];

	SELECT c.oid::pg_catalog.regclass AS rel, c.relkind, pg_catalog.pg_get_userbyid(c.relowner) AS owner INTO r
	  FROM pg_catalog.pg_class c
	 WHERE c.oid OPERATOR(pg_catalog.=) ANY (tbls)
	   AND (c.relowner OPERATOR(pg_catalog.<>) owner_oid OR c.relkind OPERATOR(pg_catalog.<>) 'r'
			OR EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhparent OPERATOR(pg_catalog.=) c.oid))
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot distribute table %: it is not a plain table of the extension''s owner without children', r.rel
			USING ERRCODE = '55000',
				  DETAIL = pg_catalog.format('Its kind is %s and its owner %s.', r.relkind, r.owner);
	END IF;

	-- What depends on code that is neither built in nor the extension's.
	-- (The conversion copies the rows, which runs constraints, index
	-- expressions and triggers, and re-creates all of them on the workers.)
	SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what,
		   pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS code INTO r
	  FROM pg_catalog.pg_depend d
	 WHERE d.refclassid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.pg_proc'::pg_catalog.regclass,
			'pg_catalog.pg_type'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass,
			'pg_catalog.pg_opclass'::pg_catalog.regclass, 'pg_catalog.pg_collation'::pg_catalog.regclass]::pg_catalog.oid[])
	   AND d.refobjid OPERATOR(pg_catalog.>=) 16384
	   AND NOT EXISTS (
			SELECT FROM pg_catalog.pg_depend e
			 WHERE e.classid OPERATOR(pg_catalog.=) d.refclassid AND e.objid OPERATOR(pg_catalog.=) d.refobjid
			   AND e.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
			   AND e.refobjid OPERATOR(pg_catalog.=) ext AND e.deptype OPERATOR(pg_catalog.=) 'e')
	   -- an array of the extension's types is the extension's too
	   AND NOT EXISTS (
			SELECT FROM pg_catalog.pg_type t JOIN pg_catalog.pg_depend e
				ON e.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
			   AND e.objid OPERATOR(pg_catalog.=) t.typelem
			   AND e.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
			   AND e.refobjid OPERATOR(pg_catalog.=) ext AND e.deptype OPERATOR(pg_catalog.=) 'e'
			 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
			   AND t.oid OPERATOR(pg_catalog.=) d.refobjid)
	   AND ((d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
			 AND (d.objid OPERATOR(pg_catalog.=) ANY (tbls)
				  OR d.objid IN (SELECT i.indexrelid FROM pg_catalog.pg_index i
								  WHERE i.indrelid OPERATOR(pg_catalog.=) ANY (tbls))))
			OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
				AND d.objid IN (SELECT c.oid FROM pg_catalog.pg_constraint c
								 WHERE c.conrelid OPERATOR(pg_catalog.=) ANY (tbls)))
			OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
				AND d.objid IN (SELECT a.oid FROM pg_catalog.pg_attrdef a
								 WHERE a.adrelid OPERATOR(pg_catalog.=) ANY (tbls)))
			OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass
				AND d.objid IN (SELECT t.oid FROM pg_catalog.pg_trigger t
								 WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (tbls)))
			OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
				AND d.objid IN (SELECT w.oid FROM pg_catalog.pg_rewrite w
								 WHERE w.ev_class OPERATOR(pg_catalog.=) ANY (tbls)))
			OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
				AND d.objid IN (SELECT p.oid FROM pg_catalog.pg_policy p
								 WHERE p.polrelid OPERATOR(pg_catalog.=) ANY (tbls))))
	 ORDER BY d.classid, d.objid LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot distribute the machinesoup model store: % depends on %, which is not the extension''s', r.what, r.code
			USING ERRCODE = '55000',
				  DETAIL = 'Distributing copies the rows as the extension''s owner, on the coordinator and on the workers, where that code would run with the owner''s rights.',
				  HINT = 'Drop it first; re-create it once the store is distributed if it is wanted.';
	END IF;

	-- The data tables carry no trigger, rule, policy or foreign key of
	-- their own (the governance tables' triggers are the extension's,
	-- checked above), and a version's indexes are its key and its
	-- embedding index on the column itself.
	SELECT pg_catalog.format('trigger %I on %s', t.tgname, t.tgrelid::pg_catalog.regclass) AS what INTO r
	  FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (data_tbls)
	UNION ALL
	SELECT pg_catalog.format('rule %I on %s', w.rulename, w.ev_class::pg_catalog.regclass)
	  FROM pg_catalog.pg_rewrite w WHERE w.ev_class OPERATOR(pg_catalog.=) ANY (tbls)
	UNION ALL
	SELECT pg_catalog.format('policy %I on %s', p.polname, p.polrelid::pg_catalog.regclass)
	  FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) ANY (tbls)
	UNION ALL
	SELECT pg_catalog.format('foreign key %I on %s', c.conname, c.conrelid::pg_catalog.regclass)
	  FROM pg_catalog.pg_constraint c
	 WHERE c.contype OPERATOR(pg_catalog.=) 'f'
	   AND (c.conrelid OPERATOR(pg_catalog.=) ANY (tbls) OR c.confrelid OPERATOR(pg_catalog.=) ANY (tbls))
	UNION ALL
	SELECT pg_catalog.format('index %s', i.indexrelid::pg_catalog.regclass)
	  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
	  JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid
	 WHERE i.indrelid OPERATOR(pg_catalog.=) ANY (data_tbls)
	   AND i.indrelid OPERATOR(pg_catalog.<>) 'ms.raw_batches'::pg_catalog.regclass
	   AND NOT (x.relname OPERATOR(pg_catalog.=) (t.relname OPERATOR(pg_catalog.||) '_pkey') AND i.indisprimary)
	   AND NOT (x.relname OPERATOR(pg_catalog.=) (t.relname OPERATOR(pg_catalog.||) '_embedding')
				AND i.indnatts OPERATOR(pg_catalog.=) 1 AND i.indexprs IS NULL AND i.indpred IS NULL
				AND i.indkey[0] OPERATOR(pg_catalog.=)
					(SELECT a.attnum FROM pg_catalog.pg_attribute a
					  WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid
						AND a.attname OPERATOR(pg_catalog.=) 'embedding'))
	UNION ALL
	SELECT pg_catalog.format('index %s', i.indexrelid::pg_catalog.regclass)
	  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
	 WHERE i.indrelid OPERATOR(pg_catalog.=) 'ms.raw_batches'::pg_catalog.regclass
	   AND NOT x.relname OPERATOR(pg_catalog.=) ANY ('{raw_batches_pkey,raw_batches_batch_id}'::pg_catalog.name[])
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot distribute the machinesoup model store: % is not the extension''s', r.what
			USING ERRCODE = '55000',
				  DETAIL = 'ms.enable_citus() gives each table the keys and indexes a distributed store has, and runs no other code on its rows.',
				  HINT = 'Drop it first; re-create it once the store is distributed if it is wanted.';
	END IF;

	-- ms.versions names a user processor on every node: it must be there
	-- (where a routed load runs it, its pinned digest still decides)
	FOR r IN SELECT v.org, v.model, v.label, v.processor FROM ms.versions v
			  WHERE NOT ms._is_builtin_processor(v.processor)
			  ORDER BY v.version_id LOOP
		FOR wrk IN SELECT c.nodename, c.nodeport, c.success, c.result
				   FROM pg_catalog.run_command_on_workers(pg_catalog.format(
						'SELECT pg_catalog.to_regprocedure(%L) IS NOT NULL', r.processor::pg_catalog.text)) c
				  WHERE NOT c.success OR c.result OPERATOR(pg_catalog.<>) 't' LOOP
			IF NOT wrk.success THEN
				RAISE EXCEPTION 'could not look up processor % on worker %:%', r.processor,
					wrk.nodename, wrk.nodeport
					USING ERRCODE = '08006', DETAIL = wrk.result;
			END IF;
			RAISE EXCEPTION 'processor % of version "%" of model "%/%" does not exist on worker %:%',
				r.processor, r.label, r.org, r.model, wrk.nodename, wrk.nodeport
				USING ERRCODE = '55000',
					  HINT = 'Create the function on every worker (or distribute it with create_distributed_function) first.';
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION ms._citus_check_store() IS 'internal: refuse to distribute a store whose tables carry code that is not the extension''s, or that the conversion cannot carry';

-- A governance table made a reference table with its rows: emptied, made
-- a reference table, its rows inserted again as text.  (Citus copies a
-- table's rows to the other nodes in binary, which carries a regrole or a
-- regprocedure as the OID it has here: on a worker it would name another
-- role or function, or none.  As text it names the same one.)  A grant
-- whose role has been dropped names nobody (its OID would name whatever
-- role has it on a worker): it is left out, as pg_dump leaves it out.
CREATE FUNCTION ms._citus_reference_table(t regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	saved		text := pg_catalog.format('ms_citus_saved_%s', t::pg_catalog.oid);
	vals		text;
	dropped		bigint;
BEGIN
	EXECUTE pg_catalog.format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM %s', saved, t);
	IF t OPERATOR(pg_catalog.=) 'ms.grants'::pg_catalog.regclass THEN
		EXECUTE pg_catalog.format('DELETE FROM pg_temp.%I s WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles r '
								  'WHERE r.oid OPERATOR(pg_catalog.=) s.role::pg_catalog.oid)', saved);
		GET DIAGNOSTICS dropped = ROW_COUNT;
		IF dropped OPERATOR(pg_catalog.>) 0 THEN
			RAISE NOTICE '% grants of dropped roles are left out', dropped;
		END IF;
	END IF;
	-- (ms.promotions is append-only: its rows come back below, unchanged)
	IF t OPERATOR(pg_catalog.=) 'ms.promotions'::pg_catalog.regclass THEN
		ALTER TABLE ms.promotions DISABLE TRIGGER promotions_no_truncate;
	END IF;
	EXECUTE pg_catalog.format('TRUNCATE %s', t);
	IF t OPERATOR(pg_catalog.=) 'ms.promotions'::pg_catalog.regclass THEN
		ALTER TABLE ms.promotions ENABLE TRIGGER promotions_no_truncate;
	END IF;
	PERFORM pg_catalog.create_reference_table(t);
	-- each row as a list of literals, in column order; 1,000 rows a statement
	FOR vals IN EXECUTE pg_catalog.format(
		'SELECT pg_catalog.string_agg(l.v, '', '') FROM ('
		'  SELECT ''('' OPERATOR(pg_catalog.||) '
		'    (SELECT pg_catalog.string_agg(coalesce(pg_catalog.quote_literal(j.value), ''NULL''), '', '' ORDER BY j.n) '
		'       FROM pg_catalog.json_each_text(pg_catalog.row_to_json(s)) WITH ORDINALITY AS j(key, value, n)) '
		'    OPERATOR(pg_catalog.||) '')'' AS v, '
		'    (pg_catalog.row_number() OVER () OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) 1000 AS chunk '
		'  FROM pg_temp.%I s) l GROUP BY l.chunk ORDER BY l.chunk', saved) LOOP
		EXECUTE pg_catalog.format('INSERT INTO %s VALUES %s', t, vals);
	END LOOP;
	EXECUTE pg_catalog.format('DROP TABLE pg_temp.%I', saved);
END
$$;
COMMENT ON FUNCTION ms._citus_reference_table(regclass) IS 'internal: make a governance table a Citus reference table, its rows copied to every node as text';

-- One version's points in the layout of a version created on Citus
-- (ms._create_version): a table of its own (a float32 version's partition
-- detached from ms.points), keyed by (org, point_id), distributed by org
-- and co-located with the raw batches, its rows copied to the org's shard
-- and gone from the coordinator's table; its embedding index built again
-- on every shard, after the copy (an msivf index trains its lists on the
-- rows there), with the same access method, operator class and options.
CREATE FUNCTION ms._citus_distribute_version(p_version_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	rel			pg_catalog.regclass := pg_catalog.format('ms.%I', pg_catalog.format('points_%s', p_version_id))::pg_catalog.regclass;
	ix			record;
	opts		text;
BEGIN
	SELECT a.amname, n.nspname AS opcschema, oc.opcname, x.reloptions INTO ix
	  FROM pg_catalog.pg_index i
	  JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
	  JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) x.relam
	  JOIN pg_catalog.pg_opclass oc ON oc.oid OPERATOR(pg_catalog.=) i.indclass[0]
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) oc.opcnamespace
	 WHERE i.indrelid OPERATOR(pg_catalog.=) rel
	   AND x.relname OPERATOR(pg_catalog.=) (part OPERATOR(pg_catalog.||) '_embedding');
	IF FOUND THEN
		EXECUTE pg_catalog.format('DROP INDEX ms.%I', part OPERATOR(pg_catalog.||) '_embedding');
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) rel) THEN
		EXECUTE pg_catalog.format('ALTER TABLE ms.points DETACH PARTITION ms.%I', part);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE ms.%I DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY (org, point_id)',
							  part, part OPERATOR(pg_catalog.||) '_pkey', part OPERATOR(pg_catalog.||) '_pkey');
	PERFORM pg_catalog.create_distributed_table(rel, 'org', colocate_with => 'ms.raw_batches');
	PERFORM pg_catalog.truncate_local_data_after_distributing_table(rel);
	IF ix.amname IS NOT NULL THEN
		SELECT pg_catalog.string_agg(pg_catalog.format('%I = %L', pg_catalog.split_part(o, '=', 1),
													   pg_catalog.substr(o, pg_catalog.strpos(o, '=') OPERATOR(pg_catalog.+) 1)),
									 ', ')
		  INTO opts FROM pg_catalog.unnest(ix.reloptions) o;
		EXECUTE pg_catalog.format('CREATE INDEX %I ON ms.%I USING %I (embedding %I.%I)%s',
								  part OPERATOR(pg_catalog.||) '_embedding', part, ix.amname,
								  ix.opcschema, ix.opcname,
								  CASE WHEN opts IS NULL THEN '' ELSE pg_catalog.format(' WITH (%s)', opts) END);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._citus_distribute_version(bigint) IS 'internal: move a version''s points to a table distributed by org, with its key and its embedding index (same options) re-created';
REVOKE ALL ON FUNCTION ms._citus_lock_store(), ms._citus_check_store(),
	ms._citus_reference_table(regclass), ms._citus_distribute_version(bigint) FROM PUBLIC;

-- Citus: distribute the model store by org (README.md, "Scale-out").  Raw
-- batches become a distributed table, and every version created from then
-- on keeps its points in a distributed table of its own, co-located with
-- the org's batches, so one org's data, loads and queries are on one
-- worker.  The governance tables (orgs, models, versions, grants,
-- promotions) become reference tables, a copy on every node, so that the
-- per-org calls (ms.knn, ms.within, ms.in_box, ms.ingest,
-- ms.upsert_points, ms.replay, ms.batches), distributed functions by org,
-- run whole on the worker that holds the org: it judges the caller on its
-- own copy of the grants.  Every node keeps its own audit log, written by
-- its own audit writer, with its own chain: what a call audits is recorded
-- on the node that runs it, and ms.access_report and ms.verify_audit on
-- the coordinator read every node's.  A store that holds data already
-- is converted to the same layout, under locks, in one transaction (see
-- ms._citus_distribute_version).
CREATE FUNCTION ms._enable_citus() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t	text;
	f	regprocedure;
	vid	bigint;
	lock_wait text;
	notices text;
BEGIN
	IF NOT ms._is_privileged() THEN
		RAISE EXCEPTION 'permission denied to distribute the machinesoup model store'
			USING ERRCODE = '42501',
				  HINT = 'Only a superuser or the extension''s owner may run ms.enable_citus().';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION 'extension "citus" is not installed in this database'
			USING ERRCODE = '55000',
				  HINT = 'Run CREATE EXTENSION citus and add the worker nodes first.';
	END IF;
	IF ms._citus_enabled() THEN
		RAISE NOTICE 'the machinesoup model store is already distributed';
		RETURN;
	END IF;
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION 'ms.enable_citus() must run on the Citus coordinator'
			USING ERRCODE = '55000';
	END IF;
	-- Nothing may change the store while it moves (lock_timeout bounds
	-- the wait, 10 s when unset: a writer that keeps its transaction open
	-- is refused rather than waited for while every call queues behind).
	lock_wait := pg_catalog.current_setting('lock_timeout');
	IF lock_wait OPERATOR(pg_catalog.=) '0' THEN
		PERFORM pg_catalog.set_config('lock_timeout', '10s', true);
	END IF;
	PERFORM ms._citus_lock_store();
	PERFORM pg_catalog.set_config('lock_timeout', lock_wait, true);
	-- Citus makes reference tables of the tables a foreign key links by
	-- converting them all at once, which fails on the workers, where
	-- the extension has created them already; the API functions, the
	-- only writers, check what the keys checked (the model exists, ...).
	ALTER TABLE ms.raw_batches DROP CONSTRAINT IF EXISTS raw_batches_org_model_fkey;
	ALTER TABLE ms.grants DROP CONSTRAINT IF EXISTS grants_org_fkey,
		DROP CONSTRAINT IF EXISTS grants_org_model_fkey,
		DROP CONSTRAINT IF EXISTS grants_org_model_label_fkey;
	ALTER TABLE ms.promotions DROP CONSTRAINT IF EXISTS promotions_org_model_fkey;
	ALTER TABLE ms.versions DROP CONSTRAINT IF EXISTS versions_org_model_fkey;
	ALTER TABLE ms.models DROP CONSTRAINT IF EXISTS models_org_fkey;
	PERFORM ms._citus_check_store();
	-- Their triggers then fire on every node's copy: the authorisation
	-- cache's invalidation is wanted on every node (ms._governance_changed),
	-- append-only refusals are harmless, and the audit triggers record
	-- only under the API call, which is on the coordinator.
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH t IN ARRAY '{ms.orgs,ms.models,ms.versions,ms.promotions,ms.grants}'::text[] LOOP
		PERFORM ms._citus_reference_table(t::pg_catalog.regclass);
	END LOOP;
	-- (Citus's notices about the local copies it leaves: they are removed)
	notices := pg_catalog.current_setting('client_min_messages');
	PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);
	PERFORM pg_catalog.create_distributed_table('ms.raw_batches', 'org');
	-- Existing batches keep their ids (points and audit records name
	-- them): the coordinator, group 0, numbered them, and numbers its new
	-- ones after them; a worker's carry its group (ms._new_batch_id).
	PERFORM pg_catalog.truncate_local_data_after_distributing_table('ms.raw_batches');
	FOR vid IN SELECT v.version_id FROM ms.versions v ORDER BY v.version_id LOOP
		PERFORM ms._citus_distribute_version(vid);
	END LOOP;
	PERFORM pg_catalog.set_config('client_min_messages', notices, true);
	-- The per-org calls go whole to the worker holding the org's shards
	-- (when called outside a transaction block, as Citus delegates calls):
	-- the queries, and the loads, which number their batches on that node
	-- (ms._new_batch_id), build a grown version's index on its shard there
	-- (ms._index_if_grown), and record what they audit in its audit log.
	FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace OPERATOR(pg_catalog.=) 'ms'::pg_catalog.regnamespace
				AND p.proname OPERATOR(pg_catalog.=)
					ANY ('{knn,within,in_box,ingest,upsert_points,replay,batches}'::pg_catalog.name[])
			  ORDER BY p.oid LOOP
		PERFORM pg_catalog.create_distributed_function(f, 'org', colocate_with := 'ms.raw_batches');
	END LOOP;
	-- Token access sessions live in the shared memory of the node that
	-- opened them: every call of one must reach the org's worker, also
	-- inside a transaction block (force_delegation; then the whole
	-- transaction runs there).
	FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace OPERATOR(pg_catalog.=) 'ms'::pg_catalog.regnamespace
				AND p.proname OPERATOR(pg_catalog.=)
					ANY ('{open_access_token,read_batch,close_access}'::pg_catalog.name[])
				AND p.proargnames[1] OPERATOR(pg_catalog.=) 'org'
			  ORDER BY p.oid LOOP
		PERFORM pg_catalog.create_distributed_function(f, 'org', colocate_with := 'ms.raw_batches',
													   force_delegation := true);
	END LOOP;
END
$$;
COMMENT ON FUNCTION ms._enable_citus() IS 'internal: the body of ms.enable_citus, run as the extension owner by it';
CREATE FUNCTION ms.enable_citus() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.enable_citus() IS 'distribute the model store over a Citus cluster by org, with the data it holds (superuser or the extension''s owner; on the coordinator)';
REVOKE ALL ON FUNCTION ms._enable_citus() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.enable_citus() FROM PUBLIC;

-- Which worker holds an org (ms.enable_citus): a client that connects to
-- it, not to the coordinator, has its per-org calls run there without
-- Citus's delegation hop (each worker has the cluster's metadata).  Only
-- for a role with a grant on the org, or a privileged one: where an org's
-- data lives is not for others, and the refusal is the same whether the
-- org exists or not.
CREATE FUNCTION ms._org_node(org text, OUT host text, OUT port integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
BEGIN
	PERFORM ms._check_ident('org', p_org);
	IF NOT (ms._is_privileged() OR EXISTS (
			SELECT 1 FROM ms.grants g
			 WHERE g.org OPERATOR(pg_catalog.=) p_org
			   AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) ms._caller()::pg_catalog.oid
					OR pg_catalog.pg_has_role(ms._caller()::pg_catalog.oid, g.role::pg_catalog.oid, 'USAGE')))) THEN
		RAISE EXCEPTION 'permission denied for organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;
	IF NOT ms._citus_enabled() THEN
		RAISE EXCEPTION 'the model store is not distributed'
			USING ERRCODE = '55000',
				  HINT = 'On one node every organization is on this server; ms.enable_citus() distributes the store.';
	END IF;
	-- Citus's catalogs exist only with Citus: named at run time
	EXECUTE 'SELECT n.nodename, n.nodeport
			   FROM pg_catalog.pg_dist_placement p
			   JOIN pg_catalog.pg_dist_node n ON n.groupid OPERATOR(pg_catalog.=) p.groupid
			  WHERE p.shardid OPERATOR(pg_catalog.=)
					pg_catalog.get_shard_id_for_distribution_column(''ms.raw_batches''::pg_catalog.regclass, $1)
				AND n.noderole OPERATOR(pg_catalog.=) ''primary'' AND n.isactive
			  ORDER BY n.nodeid LIMIT 1'
		INTO host, port USING p_org;
END
$$;
COMMENT ON FUNCTION ms._org_node(text) IS 'internal: the body of ms.org_node, run as the extension owner by it';
CREATE FUNCTION ms.org_node(org text, OUT host text, OUT port integer)
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C STABLE;
COMMENT ON FUNCTION ms.org_node(text) IS 'the host and port of the Citus worker that holds the organization''s data, for clients that connect to it directly (needs a grant on the org)';
REVOKE ALL ON FUNCTION ms._org_node(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.org_node(text) TO PUBLIC;

-- a new ms.audit_log starts a new chain (a dropped log's head is set aside)
SELECT ms._audit_new_log();
