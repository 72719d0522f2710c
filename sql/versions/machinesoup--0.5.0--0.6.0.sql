-- machinesoup 0.5.0 -> 0.6.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.6.0'" to load this file. \quit

-- msivf scan statistics (msivf_last_scan_stats, msivf_scan_stats)
CREATE FUNCTION msivf_last_scan_stats(
	OUT scans bigint, OUT lists bigint, OUT pages bigint, OUT codes bigint,
	OUT reranks bigint, OUT heap_rows bigint,
	OUT centroid_ms double precision, OUT list_ms double precision, OUT rerank_ms double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION msivf_last_scan_stats() IS 'what the last msivf scan of this backend did: lists probed, list pages read, codes estimated, reranks, heap rows found, and phase times when machinesoup.scan_timing is on';
CREATE FUNCTION msivf_scan_stats(
	OUT scans bigint, OUT lists bigint, OUT pages bigint, OUT codes bigint,
	OUT reranks bigint, OUT heap_rows bigint,
	OUT centroid_ms double precision, OUT list_ms double precision, OUT rerank_ms double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION msivf_scan_stats() IS 'the counters of msivf_last_scan_stats() summed over every msivf scan of this backend';

-- ms.ingest's body looks up a processor's owner only for user processors
-- (built-in ones have none): the join it made for every batch was most
-- of what a one-record ingest cost over 0.3.0.
CREATE OR REPLACE FUNCTION ms._ingest(org text, model text, data bytea, label text)
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
	INSERT INTO ms.raw_batches AS b (org, model, received_at, label, raw_bytes, stored_bytes,
									 ingested_by, frame)
		VALUES (p_org, p_model, pg_catalog.clock_timestamp(), r.resolved_label,
				pg_catalog.length(data), pg_catalog.length(frame), ms._caller_name(), frame)
		RETURNING b.batch_id INTO bid;
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

-- audited actions on a hot standby, written by the primary
-- The primary's side of a standby's audited actions: a standby (its
-- machinesoup.audit_primary_conninfo) sends each record here and waits for
-- its id, so the record is in the primary's chain before the standby goes
-- on.  Granted to no one: the DBA grants EXECUTE to the one role that
-- setting connects as, which vouches for the role, login and pid it
-- relays (README.md, "Read replicas").
CREATE FUNCTION ms._audit_relay(at_us bigint, role text, login text, pid integer,
								client_addr text, action text, org text, model text,
								label text, batch_id bigint, reason text, standby text)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_audit_relay' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._audit_relay(bigint, text, text, integer, text, text, text, text, text, bigint, text, text) IS 'write an audit record relayed by a hot standby (grant EXECUTE only to the role of the standbys'' machinesoup.audit_primary_conninfo); returns its id once committed';
REVOKE ALL ON FUNCTION ms._audit_relay(bigint, text, text, integer, text, text, text, text, text, bigint, text, text) FROM PUBLIC;

-- Citus: the model store distributed by org (ms.enable_citus); a
-- version's points then live in a distributed table of its own, which
-- every insert, upsert and query names (its key arbitrates by name).
CREATE FUNCTION ms._is_citus_table(regclass) RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_is_citus_table' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION ms._is_citus_table(regclass) IS 'internal: whether the table is managed by Citus';
CREATE FUNCTION ms._citus_enabled() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS 'SELECT ms._is_citus_table(''ms.raw_batches''::pg_catalog.regclass)';
COMMENT ON FUNCTION ms._citus_enabled() IS 'internal: whether ms.enable_citus() has distributed the model store';
REVOKE ALL ON FUNCTION ms._is_citus_table(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._citus_enabled() FROM PUBLIC;
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
	IF ms._citus_enabled() THEN
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
	-- until there are points to train its centroids on.
	IF r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;
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
	-- arbiter (the parent has none, see ms.points), named, since it is
	-- (point_id) on one node and (org, point_id) on Citus
	EXECUTE pg_catalog.format(
		'INSERT INTO ms.%I AS p (org, version_id, point_id, embedding, payload) '
		'SELECT $1, $2, u.id, u.v, u.p '
		'  FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), '
		'                  pg_catalog.unnest($5)) AS u(id, v, p) '
		'ON CONFLICT ON CONSTRAINT %I '
		'DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload',
		pg_catalog.format('points_%s', r.version_id),
		pg_catalog.format('points_%s_pkey', r.version_id))
		USING p_org, r.version_id, ids, vecs, payloads;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM ms._index_if_grown(r.version_id);
	RETURN n;
END
$$;
CREATE OR REPLACE FUNCTION ms._index_if_grown(p_version_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	n			bigint;
	d			integer;
	version_org	text;
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
	SELECT m.dims, v.org INTO d, version_org
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	-- (OPERATOR() has one precedence for all: every step is bracketed)
	row_min := 60 OPERATOR(pg_catalog.+) (4 OPERATOR(pg_catalog.*) d);
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
	   INTO n USING version_org;
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
		EXCEPTION WHEN unique_violation THEN
			n := NULL;
		END;
		IF n IS NULL THEN
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
	PERFORM ms._index_if_grown(p_version_id);
	RETURN n;
END
$$;
CREATE FUNCTION ms._enable_citus() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
	IF EXISTS (SELECT FROM ms.versions) OR EXISTS (SELECT FROM ms.raw_batches) THEN
		RAISE EXCEPTION 'the machinesoup model store can only be distributed before its first version'
			USING ERRCODE = '55000',
				  DETAIL = 'Existing versions and raw batches are not moved to the workers.';
	END IF;
	-- A distributed table cannot reference one on the coordinator only;
	-- ms.ingest, the only writer, checks the model exists.
	ALTER TABLE ms.raw_batches DROP CONSTRAINT IF EXISTS raw_batches_org_model_fkey;
	PERFORM pg_catalog.create_distributed_table('ms.raw_batches', 'org');
END
$$;
COMMENT ON FUNCTION ms._enable_citus() IS 'internal: the body of ms.enable_citus, run as the extension owner by it';
CREATE FUNCTION ms.enable_citus() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_entry' LANGUAGE C;
COMMENT ON FUNCTION ms.enable_citus() IS 'distribute the model store over a Citus cluster by org, before the first version (superuser or the extension''s owner; on the coordinator)';
REVOKE ALL ON FUNCTION ms._enable_citus() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.enable_citus() FROM PUBLIC;
-- bvec: packed binary vectors (src/bvec/bvec.sql): the type, its I/O and
-- casts, binary_quantize(vec), Hamming <~> and Jaccard <%>, btree and hash.

CREATE TYPE bvec;

CREATE FUNCTION bvec_in(cstring, oid, integer) RETURNS bvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_in(cstring, oid, integer) IS 'bvec input function: a string of 1 to 64000 characters 0 and 1';
CREATE FUNCTION bvec_out(bvec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_out(bvec) IS 'bvec output function: a string of characters 0 and 1, first bit first';
CREATE FUNCTION bvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_typmod_in(cstring[]) IS 'bvec type modifier input: the n of bvec(n), 1 to 64000 bits';
CREATE FUNCTION bvec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_typmod_out(integer) IS 'bvec type modifier output: (n)';
CREATE FUNCTION bvec_recv(internal, oid, integer) RETURNS bvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_recv(internal, oid, integer) IS 'bvec binary input: int32 number of bits, then the packed bytes (first bit = most significant bit of byte 0, padding bits zero)';
CREATE FUNCTION bvec_send(bvec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_send(bvec) IS 'bvec binary output: int32 number of bits, then the packed bytes (first bit = most significant bit of byte 0)';

-- STORAGE main, as for vec: a bvec of up to about 16000 bits stays in its
-- row, so a scan computing distances never visits TOAST.
CREATE TYPE bvec (
	INPUT = bvec_in,
	OUTPUT = bvec_out,
	TYPMOD_IN = bvec_typmod_in,
	TYPMOD_OUT = bvec_typmod_out,
	RECEIVE = bvec_recv,
	SEND = bvec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);
COMMENT ON TYPE bvec IS 'packed binary vector of 1 to 64000 bits';

-- casts

CREATE FUNCTION bvec(bvec, integer, boolean) RETURNS bvec
	AS 'MODULE_PATHNAME', 'bvec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec(bvec, integer, boolean) IS 'cast to bvec(n): checks that the bvec has n bits';
CREATE FUNCTION bit_to_bvec(bit, integer, boolean) RETURNS bvec
	AS 'MODULE_PATHNAME', 'varbit_to_bvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bit_to_bvec(bit, integer, boolean) IS 'cast bit(n) to bvec: the same bits, 1 to 64000 of them';
CREATE FUNCTION varbit_to_bvec(bit varying, integer, boolean) RETURNS bvec
	AS 'MODULE_PATHNAME', 'varbit_to_bvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION varbit_to_bvec(bit varying, integer, boolean) IS 'cast bit varying to bvec: the same bits, 1 to 64000 of them';
CREATE FUNCTION bvec_to_varbit(bvec) RETURNS bit varying
	AS 'MODULE_PATHNAME', 'bvec_to_varbit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_to_varbit(bvec) IS 'cast bvec to bit varying: the same bits';

CREATE CAST (bvec AS bvec) WITH FUNCTION bvec(bvec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (bvec AS bvec) IS 'implicit: to bvec(n), checking the number of bits';
CREATE CAST (bit AS bvec) WITH FUNCTION bit_to_bvec(bit, integer, boolean);
COMMENT ON CAST (bit AS bvec) IS 'explicit: the same bits, copied';
CREATE CAST (bit varying AS bvec) WITH FUNCTION varbit_to_bvec(bit varying, integer, boolean);
COMMENT ON CAST (bit varying AS bvec) IS 'explicit: the same bits, copied';
CREATE CAST (bvec AS bit varying) WITH FUNCTION bvec_to_varbit(bvec);
COMMENT ON CAST (bvec AS bit varying) IS 'explicit: the same bits, copied';

-- functions

CREATE FUNCTION binary_quantize(vec) RETURNS bvec
	AS 'MODULE_PATHNAME', 'bvec_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(vec) IS 'one bit per element, set when the element is > 0';
CREATE FUNCTION bvec_length(bvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_length(bvec) IS 'number of bits';
CREATE FUNCTION bit_count(bvec) RETURNS bigint
	AS 'MODULE_PATHNAME', 'bvec_popcount' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bit_count(bvec) IS 'number of bits set';
CREATE FUNCTION hamming_distance(bvec, bvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'bvec_hamming_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hamming_distance(bvec, bvec) IS 'number of differing bits, as the operator <~>';
CREATE FUNCTION jaccard_distance(bvec, bvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'bvec_jaccard_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jaccard_distance(bvec, bvec) IS '1 - |a AND b| / |a OR b|, 0 when both are all zero; as the operator <%>';

CREATE OPERATOR <~> (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = hamming_distance, COMMUTATOR = '<~>'
);
COMMENT ON OPERATOR <~> (bvec, bvec) IS 'Hamming distance: number of differing bits';
CREATE OPERATOR <%> (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = jaccard_distance, COMMUTATOR = '<%>'
);
COMMENT ON OPERATOR <%> (bvec, bvec) IS 'Jaccard distance: 1 - |a AND b| / |a OR b|, 0 when both are all zero';

-- comparison, btree and hash

CREATE FUNCTION bvec_lt(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_lt(bvec, bvec) IS 'true when a < b in bit-string order (first differing bit, then length); the operator <';
CREATE FUNCTION bvec_le(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_le(bvec, bvec) IS 'true when a <= b in bit-string order; the operator <=';
CREATE FUNCTION bvec_eq(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_eq(bvec, bvec) IS 'true when a and b have the same bits; the operator =';
CREATE FUNCTION bvec_ne(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_ne(bvec, bvec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION bvec_ge(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_ge(bvec, bvec) IS 'true when a >= b in bit-string order; the operator >=';
CREATE FUNCTION bvec_gt(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_gt(bvec, bvec) IS 'true when a > b in bit-string order; the operator >';
CREATE FUNCTION bvec_cmp(bvec, bvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_cmp(bvec, bvec) IS 'btree comparison of bvec_ops: -1, 0 or 1 in bit-string order (first differing bit, then length)';
CREATE FUNCTION bvec_hash(bvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_hash(bvec) IS 'hash of a bvec for bvec_hash_ops';
CREATE FUNCTION bvec_hash_extended(bvec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_hash_extended(bvec, bigint) IS '64-bit seeded hash of a bvec for bvec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (bvec, bvec) IS 'less than, in bit-string order';
CREATE OPERATOR <= (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (bvec, bvec) IS 'less than or equal, in bit-string order';
CREATE OPERATOR = (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (bvec, bvec) IS 'equal: the same bits';
CREATE OPERATOR <> (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (bvec, bvec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (bvec, bvec) IS 'greater than or equal, in bit-string order';
CREATE OPERATOR > (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (bvec, bvec) IS 'greater than, in bit-string order';

CREATE OPERATOR CLASS bvec_ops
	DEFAULT FOR TYPE bvec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 bvec_cmp(bvec, bvec);
COMMENT ON OPERATOR CLASS bvec_ops USING btree IS 'default btree opclass of bvec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY bvec_ops USING btree IS 'btree operator family of bvec_ops';

CREATE OPERATOR CLASS bvec_hash_ops
	DEFAULT FOR TYPE bvec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 bvec_hash(bvec),
	FUNCTION 2 bvec_hash_extended(bvec, bigint);
COMMENT ON OPERATOR CLASS bvec_hash_ops USING hash IS 'default hash opclass of bvec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY bvec_hash_ops USING hash IS 'hash operator family of bvec_hash_ops';

-- bvec_knn_exact: vec_knn_exact for bvec columns (src/knn/knn.sql)
-- A name of its own rather than an overload of vec_knn_exact: with two
-- overloads a call whose queries are an untyped literal or NULL would no
-- longer resolve.
CREATE FUNCTION bvec_knn_exact(tbl regclass, col name, queries bvec[], k integer,
							   metric text DEFAULT 'hamming')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'bvec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION bvec_knn_exact(regclass, name, bvec[], integer, text) IS
'exact k nearest rows of each bvec query in one pass over a bvec column (metric hamming or jaccard), by popcount';

-- svec: sparse float32 vectors (issue 16): the type, its I/O and casts
-- with vec, distances, and btree and hash opclasses

CREATE TYPE svec;

CREATE FUNCTION svec_in(cstring, oid, integer) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_in(cstring, oid, integer) IS 'svec input function: text {index:value,...}/dims, 1-based indices in any order, finite float32 values';
CREATE FUNCTION svec_out(svec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_out(svec) IS 'svec output function: text {index:value,...}/dims, increasing 1-based indices, non-zero values only';
CREATE FUNCTION svec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_typmod_in(cstring[]) IS 'svec type modifier input: the n of svec(n), 1 to 1000000000';
CREATE FUNCTION svec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_typmod_out(integer) IS 'svec type modifier output: (n)';
CREATE FUNCTION svec_recv(internal, oid, integer) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_recv(internal, oid, integer) IS 'svec binary input: int32 dims, int32 nnz, int32 0, nnz int32 0-based increasing indices, nnz float4, network byte order';
CREATE FUNCTION svec_send(svec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_send(svec) IS 'svec binary output: int32 dims, int32 nnz, int32 0, nnz int32 0-based indices, nnz float4, network byte order';

-- STORAGE main, as for vec: an svec stays inside its row for as long as
-- the row fits a page (about 1000 non-zeros) instead of costing a TOAST
-- lookup per row in a scan.
CREATE TYPE svec (
	INPUT = svec_in,
	OUTPUT = svec_out,
	TYPMOD_IN = svec_typmod_in,
	TYPMOD_OUT = svec_typmod_out,
	RECEIVE = svec_recv,
	SEND = svec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);
COMMENT ON TYPE svec IS 'sparse float32 vector: 1 to 1000000000 dimensions, at most 16000 non-zero finite elements';

-- casts

CREATE FUNCTION svec(svec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec(svec, integer, boolean) IS 'cast to svec(n): checks that the svec has n dimensions';
CREATE FUNCTION vec_to_svec(vec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_to_svec(vec, integer, boolean) IS 'cast vec to svec: keeps the non-zero elements';
CREATE FUNCTION svec_to_vec(svec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_to_vec(svec, integer, boolean) IS 'cast svec to vec: zeros spelled out; at most 16000 dimensions';

CREATE CAST (svec AS svec) WITH FUNCTION svec(svec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (svec AS svec) IS 'implicit: to svec(n), checking the number of dimensions';
CREATE CAST (vec AS svec) WITH FUNCTION vec_to_svec(vec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (vec AS svec) IS 'assignment: a vec to an svec of its non-zero elements';
CREATE CAST (svec AS vec) WITH FUNCTION svec_to_vec(svec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (svec AS vec) IS 'assignment: an svec to a vec (at most 16000 dimensions)';

-- functions

CREATE FUNCTION svec_dims(svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_dims(svec) IS 'number of dimensions of an svec';
CREATE FUNCTION svec_nnz(svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_nnz(svec) IS 'number of non-zero elements of an svec';
CREATE FUNCTION svec_norm(svec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_norm(svec) IS 'Euclidean (L2) norm of an svec';
CREATE FUNCTION l2_normalize(svec) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(svec) IS 'the unit svec of the same direction (a zero svec stays zero)';
CREATE FUNCTION l2_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(svec, svec) IS 'Euclidean (L2) distance of two svecs, as the operator <->';
CREATE FUNCTION svec_l2_squared_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_l2_squared_distance(svec, svec) IS 'squared Euclidean distance of two svecs';
CREATE FUNCTION inner_product(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(svec, svec) IS 'inner (dot) product of two svecs';
CREATE FUNCTION svec_negative_inner_product(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_negative_inner_product(svec, svec) IS 'negative inner product of two svecs, as the operator <#>';
CREATE FUNCTION cosine_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(svec, svec) IS '1 - cos θ of two svecs, in [0, 2]; NaN when either is zero; as the operator <=>';
CREATE FUNCTION l1_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(svec, svec) IS 'Manhattan (L1) distance of two svecs, as the operator <+>';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <-> (svec, svec) IS 'L2 (Euclidean) distance of two svecs';
CREATE OPERATOR <#> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#> (svec, svec) IS 'negative inner product of two svecs (smaller is more similar)';
CREATE OPERATOR <=> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=> (svec, svec) IS 'cosine distance of two svecs, 1 - cos θ';
CREATE OPERATOR <+> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+> (svec, svec) IS 'L1 (Manhattan) distance of two svecs';

-- comparison, btree and hash

CREATE FUNCTION svec_lt(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_lt(svec, svec) IS 'true when a < b as dense vectors in element-wise lexicographic order, then dimensions; the operator <';
CREATE FUNCTION svec_le(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_le(svec, svec) IS 'true when a <= b as dense vectors in element-wise lexicographic order, then dimensions; the operator <=';
CREATE FUNCTION svec_eq(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_eq(svec, svec) IS 'true when a and b have the same dimensions and elements; the operator =';
CREATE FUNCTION svec_ne(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_ne(svec, svec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION svec_ge(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_ge(svec, svec) IS 'true when a >= b as dense vectors in element-wise lexicographic order, then dimensions; the operator >=';
CREATE FUNCTION svec_gt(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_gt(svec, svec) IS 'true when a > b as dense vectors in element-wise lexicographic order, then dimensions; the operator >';
CREATE FUNCTION svec_cmp(svec, svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_cmp(svec, svec) IS 'btree comparison of svec_ops: -1, 0 or 1 as dense vectors in element-wise lexicographic order, then dimensions';
CREATE FUNCTION svec_hash(svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_hash(svec) IS 'hash of an svec for svec_hash_ops';
CREATE FUNCTION svec_hash_extended(svec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_hash_extended(svec, bigint) IS '64-bit seeded hash of an svec for svec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (svec, svec) IS 'less than, as dense vectors in element-wise lexicographic order, then dimensions';
CREATE OPERATOR <= (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (svec, svec) IS 'less than or equal, as dense vectors in element-wise lexicographic order, then dimensions';
CREATE OPERATOR = (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (svec, svec) IS 'equal: the same dimensions and elements';
CREATE OPERATOR <> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (svec, svec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (svec, svec) IS 'greater than or equal, as dense vectors in element-wise lexicographic order, then dimensions';
CREATE OPERATOR > (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (svec, svec) IS 'greater than, as dense vectors in element-wise lexicographic order, then dimensions';

CREATE OPERATOR CLASS svec_ops
	DEFAULT FOR TYPE svec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 svec_cmp(svec, svec);
COMMENT ON OPERATOR CLASS svec_ops USING btree IS 'default btree opclass of svec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY svec_ops USING btree IS 'btree operator family of svec_ops';

CREATE OPERATOR CLASS svec_hash_ops
	DEFAULT FOR TYPE svec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 svec_hash(svec),
	FUNCTION 2 svec_hash_extended(svec, bigint);
COMMENT ON OPERATOR CLASS svec_hash_ops USING hash IS 'default hash opclass of svec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY svec_hash_ops USING hash IS 'hash operator family of svec_hash_ops';

-- batched exact kNN over an svec column (src/knn/svec_knn_exact.c)

-- A name of its own rather than an overload of vec_knn_exact: with two
-- overloads a call whose queries are an untyped literal or NULL would no
-- longer resolve (as for bvec_knn_exact).
CREATE FUNCTION svec_knn_exact(tbl regclass, col name, queries svec[], k integer,
							   metric text DEFAULT 'l2')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'svec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION svec_knn_exact(regclass, name, svec[], integer, text) IS
'exact k nearest rows of each sparse query in one pass over an svec column (metric l2, cosine, ip or l1), by merge distances';

-- hvec: half-precision vectors (src/hvec/hvec.sql), their msivf opclasses
-- (src/msivf/msivf.sql), and vec made the preferred type of its category
-- so that untyped literals still resolve to vec where functions and
-- operators are now overloaded for hvec.
UPDATE pg_catalog.pg_type SET typispreferred = true
 WHERE oid OPERATOR(pg_catalog.=) '@extschema@.vec'::pg_catalog.regtype;


CREATE TYPE hvec;

CREATE FUNCTION hvec_in(cstring, oid, integer) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_in(cstring, oid, integer) IS 'hvec input function: text [x1,x2,...], each rounded to the nearest half; magnitudes up to 65504';
CREATE FUNCTION hvec_out(hvec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_out(hvec) IS 'hvec output function: text [x1,x2,...], shortest digits that read back the same half (whole numbers exactly)';
CREATE FUNCTION hvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_typmod_in(cstring[]) IS 'hvec type modifier input: the n of hvec(n), 1 to 16000';
CREATE FUNCTION hvec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vec_typmod_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_typmod_out(integer) IS 'hvec type modifier output: (n)';
CREATE FUNCTION hvec_recv(internal, oid, integer) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_recv(internal, oid, integer) IS 'hvec binary input: int16 dim, int16 0, dim binary16 values as uint16, network byte order';
CREATE FUNCTION hvec_send(hvec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_send(hvec) IS 'hvec binary output: int16 dim, int16 0, dim binary16 values as uint16, network byte order';

-- STORAGE main, as for vec: in the row while it fits a page (about 4000
-- dimensions), out of line beyond.
CREATE TYPE hvec (
	INPUT = hvec_in,
	OUTPUT = hvec_out,
	TYPMOD_IN = hvec_typmod_in,
	TYPMOD_OUT = hvec_typmod_out,
	RECEIVE = hvec_recv,
	SEND = hvec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);

COMMENT ON TYPE hvec IS 'half-precision (IEEE 754 binary16) vector of 1 to 16000 finite elements';

-- casts: hvec -> vec is exact, so implicit; the rest round, so assignment

CREATE FUNCTION hvec(hvec, integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'hvec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec(hvec, integer, boolean) IS 'cast to hvec(n): checks that the hvec has n dimensions';
CREATE FUNCTION hvec_to_vec(hvec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'hvec_to_vec_cast' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_to_vec(hvec, integer, boolean) IS 'cast hvec to vec: exact';
CREATE FUNCTION vec_to_hvec(vec, integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'vec_to_hvec_cast' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_to_hvec(vec, integer, boolean) IS 'cast vec to hvec: each element rounded to the nearest half; magnitudes above 65504 are an error';
CREATE FUNCTION array_to_hvec(real[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(real[], integer, boolean) IS 'cast real[] to hvec: one-dimensional, non-empty, no NULLs, finite values that fit half';
CREATE FUNCTION array_to_hvec(double precision[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(double precision[], integer, boolean) IS 'cast double precision[] to hvec: one-dimensional, non-empty, no NULLs, finite values that fit half';
CREATE FUNCTION array_to_hvec(integer[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(integer[], integer, boolean) IS 'cast integer[] to hvec: one-dimensional, non-empty, no NULLs, values that fit half';
CREATE FUNCTION array_to_hvec(numeric[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(numeric[], integer, boolean) IS 'cast numeric[] to hvec: one-dimensional, non-empty, no NULLs, finite values that fit half';
CREATE FUNCTION hvec_to_real_array(hvec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'hvec_to_real_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_to_real_array(hvec, integer, boolean) IS 'cast hvec to real[]: exact';

CREATE CAST (hvec AS hvec) WITH FUNCTION hvec(hvec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (hvec AS hvec) IS 'implicit: to hvec(n), checking the number of dimensions';
CREATE CAST (hvec AS vec) WITH FUNCTION hvec_to_vec(hvec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (hvec AS vec) IS 'implicit: every half is a float4, so nothing is lost';
CREATE CAST (vec AS hvec) WITH FUNCTION vec_to_hvec(vec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (vec AS hvec) IS 'assignment: each element rounded to the nearest half (an error above 65504)';
CREATE CAST (real[] AS hvec) WITH FUNCTION array_to_hvec(real[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (real[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (double precision[] AS hvec) WITH FUNCTION array_to_hvec(double precision[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (double precision[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (integer[] AS hvec) WITH FUNCTION array_to_hvec(integer[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (integer[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (numeric[] AS hvec) WITH FUNCTION array_to_hvec(numeric[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (numeric[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (hvec AS real[]) WITH FUNCTION hvec_to_real_array(hvec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (hvec AS real[]) IS 'assignment: an hvec to an array of its elements';

-- functions: vec's names, overloaded

CREATE FUNCTION vec_dims(hvec) RETURNS integer
	AS 'MODULE_PATHNAME', 'hvec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_dims(hvec) IS 'number of dimensions';
CREATE FUNCTION vec_norm(hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_norm(hvec) IS 'Euclidean (L2) norm';
CREATE FUNCTION l2_normalize(hvec) RETURNS hvec
	AS 'MODULE_PATHNAME', 'hvec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(hvec) IS 'the unit vector of the same direction, rounded to half (a zero vector stays zero)';
CREATE FUNCTION subvec(hvec, integer, integer) RETURNS hvec
	AS 'MODULE_PATHNAME', 'hvec_subvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvec(hvec, integer, integer) IS 'count elements from the 1-based start, clipped like substring';
CREATE FUNCTION l2_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(hvec, hvec) IS 'Euclidean (L2) distance, as the operator <->';
CREATE FUNCTION vec_l2_squared_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_l2_squared_distance(hvec, hvec) IS 'squared Euclidean distance';
CREATE FUNCTION inner_product(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(hvec, hvec) IS 'inner (dot) product';
CREATE FUNCTION vec_negative_inner_product(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_negative_inner_product(hvec, hvec) IS 'negative inner product, as the operator <#>';
CREATE FUNCTION cosine_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(hvec, hvec) IS '1 - cos θ, in [0, 2]; NaN when either vector is zero; as the operator <=>';
CREATE FUNCTION l1_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(hvec, hvec) IS 'Manhattan (L1) distance, as the operator <+>';
CREATE FUNCTION hvec_add(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_add(hvec, hvec) IS 'element-wise sum, rounded to half, as the operator +';
CREATE FUNCTION hvec_sub(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_sub(hvec, hvec) IS 'element-wise difference, rounded to half, as the operator -';
CREATE FUNCTION hvec_mul(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_mul(hvec, hvec) IS 'element-wise product, rounded to half, as the operator *';
CREATE FUNCTION hvec_concat(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_concat(hvec, hvec) IS 'concatenation (at most 16000 dimensions), as the operator ||';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <-> (hvec, hvec) IS 'L2 (Euclidean) distance; ORDER BY it can use an msivf hvec_l2_ops index';
CREATE OPERATOR <#> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = vec_negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#> (hvec, hvec) IS 'negative inner product (smaller is more similar); ORDER BY it can use an msivf hvec_ip_ops index';
CREATE OPERATOR <=> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=> (hvec, hvec) IS 'cosine distance, 1 - cos θ; ORDER BY it can use an msivf hvec_cosine_ops index';
CREATE OPERATOR <+> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+> (hvec, hvec) IS 'L1 (Manhattan) distance';
CREATE OPERATOR + (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_add, COMMUTATOR = +
);
COMMENT ON OPERATOR + (hvec, hvec) IS 'element-wise sum, rounded to half (overflow is an error)';
CREATE OPERATOR - (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_sub
);
COMMENT ON OPERATOR - (hvec, hvec) IS 'element-wise difference, rounded to half (overflow is an error)';
CREATE OPERATOR * (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_mul, COMMUTATOR = *
);
COMMENT ON OPERATOR * (hvec, hvec) IS 'element-wise product, rounded to half (overflow is an error)';
CREATE OPERATOR || (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_concat
);
COMMENT ON OPERATOR || (hvec, hvec) IS 'concatenation (at most 16000 dimensions)';

-- comparison, btree and hash

CREATE FUNCTION hvec_lt(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_lt(hvec, hvec) IS 'true when a < b in element-wise lexicographic order, then length; the operator <';
CREATE FUNCTION hvec_le(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_le(hvec, hvec) IS 'true when a <= b in element-wise lexicographic order, then length; the operator <=';
CREATE FUNCTION hvec_eq(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_eq(hvec, hvec) IS 'true when a and b have the same elements (-0 equals 0); the operator =';
CREATE FUNCTION hvec_ne(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_ne(hvec, hvec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION hvec_ge(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_ge(hvec, hvec) IS 'true when a >= b in element-wise lexicographic order, then length; the operator >=';
CREATE FUNCTION hvec_gt(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_gt(hvec, hvec) IS 'true when a > b in element-wise lexicographic order, then length; the operator >';
CREATE FUNCTION hvec_cmp(hvec, hvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_cmp(hvec, hvec) IS 'btree comparison of hvec_ops: -1, 0 or 1 in element-wise lexicographic order, then length';
CREATE FUNCTION hvec_hash(hvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_hash(hvec) IS 'hash of an hvec for hvec_hash_ops (-0 and 0 hash alike)';
CREATE FUNCTION hvec_hash_extended(hvec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_hash_extended(hvec, bigint) IS '64-bit seeded hash of an hvec for hvec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (hvec, hvec) IS 'less than, in element-wise lexicographic order, then length';
CREATE OPERATOR <= (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (hvec, hvec) IS 'less than or equal, in element-wise lexicographic order, then length';
CREATE OPERATOR = (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (hvec, hvec) IS 'equal: the same elements (-0 equals 0)';
CREATE OPERATOR <> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (hvec, hvec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (hvec, hvec) IS 'greater than or equal, in element-wise lexicographic order, then length';
CREATE OPERATOR > (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (hvec, hvec) IS 'greater than, in element-wise lexicographic order, then length';

CREATE OPERATOR CLASS hvec_ops
	DEFAULT FOR TYPE hvec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 hvec_cmp(hvec, hvec);
COMMENT ON OPERATOR CLASS hvec_ops USING btree IS 'default btree opclass of hvec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY hvec_ops USING btree IS 'btree operator family of hvec_ops';

CREATE OPERATOR CLASS hvec_hash_ops
	DEFAULT FOR TYPE hvec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 hvec_hash(hvec),
	FUNCTION 2 hvec_hash_extended(hvec, bigint);
COMMENT ON OPERATOR CLASS hvec_hash_ops USING hash IS 'default hash opclass of hvec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY hvec_hash_ops USING hash IS 'hash operator family of hvec_hash_ops';

-- aggregates: vec's double precision[] state and combine function

CREATE FUNCTION hvec_accum(double precision[], hvec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvec_accum(double precision[], hvec) IS 'transition function of sum(hvec) and avg(hvec): adds an hvec to the count and double precision sums';
CREATE FUNCTION hvec_accum_sum(double precision[]) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_accum_sum(double precision[]) IS 'final function of sum(hvec)';
CREATE FUNCTION hvec_accum_avg(double precision[]) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_accum_avg(double precision[]) IS 'final function of avg(hvec)';

CREATE AGGREGATE sum(hvec) (
	SFUNC = hvec_accum,
	STYPE = double precision[],
	FINALFUNC = hvec_accum_sum,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(hvec) IS 'element-wise sum, accumulated in double precision, rounded to half; skips NULLs, NULL for no rows, refuses mixed dimensions';

CREATE AGGREGATE avg(hvec) (
	SFUNC = hvec_accum,
	STYPE = double precision[],
	FINALFUNC = hvec_accum_avg,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(hvec) IS 'element-wise mean, accumulated in double precision, rounded to half; skips NULLs, NULL for no rows, refuses mixed dimensions';
-- hvec: the index converts each hvec to float (exactly) to train, encode
-- and rerank, so it orders rows exactly as ORDER BY on the hvec does.
CREATE OPERATOR CLASS hvec_l2_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <-> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l2_metric(internal);
COMMENT ON OPERATOR CLASS hvec_l2_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <-> (L2 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY hvec_l2_ops USING msivf IS 'msivf operator family of hvec_l2_ops';

CREATE OPERATOR CLASS hvec_ip_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <#> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_ip_metric(internal);
COMMENT ON OPERATOR CLASS hvec_ip_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <#> (negative inner product) ... LIMIT k';
COMMENT ON OPERATOR FAMILY hvec_ip_ops USING msivf IS 'msivf operator family of hvec_ip_ops';

CREATE OPERATOR CLASS hvec_cosine_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <=> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_cosine_metric(internal);
COMMENT ON OPERATOR CLASS hvec_cosine_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <=> (cosine distance) ... LIMIT k; zero vectors are not indexed';
COMMENT ON OPERATOR FAMILY hvec_cosine_ops USING msivf IS 'msivf operator family of hvec_cosine_ops';

-- binary_quantize over half-precision vectors (src/bvec/bvec.sql)
CREATE FUNCTION binary_quantize(hvec) RETURNS bvec
	AS 'MODULE_PATHNAME', 'bvec_binary_quantize_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(hvec) IS 'one bit per element, set when the element is > 0';

-- msivf over bvec: bvec_hamming_ops and bvec_jaccard_ops (src/msivf/msivf.sql)
CREATE FUNCTION msivf_hamming_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_hamming_metric(internal) IS 'msivf support 1 of bvec_hamming_ops: the metric it indexes (Hamming)';
CREATE FUNCTION msivf_jaccard_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_jaccard_metric(internal) IS 'msivf support 1 of bvec_jaccard_ops: the metric it indexes (Jaccard)';

CREATE OPERATOR CLASS bvec_hamming_ops
	FOR TYPE bvec USING msivf AS
	OPERATOR 1 <~> (bvec, bvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_hamming_metric(internal);
COMMENT ON OPERATOR CLASS bvec_hamming_ops USING msivf IS 'msivf opclass for bvec, ORDER BY <~> (Hamming distance) ... LIMIT k; exact distances from the bits in the index';
COMMENT ON OPERATOR FAMILY bvec_hamming_ops USING msivf IS 'msivf operator family of bvec_hamming_ops';

CREATE OPERATOR CLASS bvec_jaccard_ops
	FOR TYPE bvec USING msivf AS
	OPERATOR 1 <%> (bvec, bvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_jaccard_metric(internal);
COMMENT ON OPERATOR CLASS bvec_jaccard_ops USING msivf IS 'msivf opclass for bvec, ORDER BY <%> (Jaccard distance) ... LIMIT k; all-zero bvecs are indexed (distance 0 to each other, 1 to the rest)';
COMMENT ON OPERATOR FAMILY bvec_jaccard_ops USING msivf IS 'msivf operator family of bvec_jaccard_ops';
-- msivf L1 opclasses: vec_l1_ops and hvec_l1_ops (src/msivf/msivf.sql)
CREATE FUNCTION msivf_l1_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_l1_metric(internal) IS 'msivf support 1 of vec_l1_ops and hvec_l1_ops: the metric they index (L1)';

CREATE OPERATOR CLASS vec_l1_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <+> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l1_metric(internal);
COMMENT ON OPERATOR CLASS vec_l1_ops USING msivf IS 'msivf opclass for ORDER BY <+> (L1 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY vec_l1_ops USING msivf IS 'msivf operator family of vec_l1_ops';

CREATE OPERATOR CLASS hvec_l1_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <+> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l1_metric(internal);
COMMENT ON OPERATOR CLASS hvec_l1_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <+> (L1 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY hvec_l1_ops USING msivf IS 'msivf operator family of hvec_l1_ops';

-- GiST and SP-GiST opclasses over hvec (src/spatial/spatial.sql): ORDER BY <-> and <+> (src/spatial/hvec_spatial.c).
-- The vec opclasses' code on the hvec's float values: keys and leaves are
-- the floats, so the order is exactly that of the hvec operators.
CREATE FUNCTION hvec_gist_distance(internal, hvec, smallint, oid, internal) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_gist_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_gist_distance(internal, hvec, smallint, oid, internal) IS 'GiST support 8 of hvec_gist_ops, distance: exact <-> or <+> for a leaf, a lower bound for a box';
CREATE FUNCTION hvec_gist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'vec_gist_compress' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_gist_compress(internal) IS 'GiST support 3 of hvec_gist_ops, compress: a leaf hvec becomes the point of its float values (at most 252 dimensions)';

-- Strategies as vec_gist_ops: 15 = ORDER BY <->; 16 = ORDER BY <+>.
CREATE OPERATOR CLASS hvec_gist_ops
	DEFAULT FOR TYPE hvec USING gist AS
	OPERATOR 15 <-> (hvec, hvec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 vec_gist_consistent(internal, vbox, smallint, oid, internal),
	FUNCTION 2 vec_gist_union(internal, internal),
	FUNCTION 3 hvec_gist_compress(internal),
	FUNCTION 5 vec_gist_penalty(internal, internal, internal),
	FUNCTION 6 vec_gist_picksplit(internal, internal),
	FUNCTION 7 vec_gist_same(vec_gistkey, vec_gistkey, internal),
	FUNCTION 8 hvec_gist_distance(internal, hvec, smallint, oid, internal),
	STORAGE vec_gistkey;
COMMENT ON OPERATOR CLASS hvec_gist_ops USING gist IS 'default GiST opclass of hvec: exact R-tree for ORDER BY <-> or <+>, up to 252 dimensions (no index-only scans)';
COMMENT ON OPERATOR FAMILY hvec_gist_ops USING gist IS 'GiST operator family of hvec_gist_ops';

DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 140000 THEN
		ALTER OPERATOR FAMILY hvec_gist_ops USING gist
			ADD FUNCTION 11 (hvec, hvec) vec_gist_sortsupport(internal);
	END IF;
END $$;

CREATE FUNCTION hvec_spgist_config(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_spgist_config(internal, internal) IS 'SP-GiST support 1 of hvec_spgist_ops, config: vec leaves, no index-only scans';
CREATE FUNCTION hvec_spgist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_spgist_compress(internal) IS 'SP-GiST support 6 of hvec_spgist_ops, compress: the leaf of an hvec is the vec of its values';

CREATE OPERATOR CLASS hvec_spgist_ops
	DEFAULT FOR TYPE hvec USING spgist AS
	OPERATOR 15 <-> (hvec, hvec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 hvec_spgist_config(internal, internal),
	FUNCTION 2 vec_spgist_choose(internal, internal),
	FUNCTION 3 vec_spgist_picksplit(internal, internal),
	FUNCTION 4 vec_spgist_inner_consistent(internal, internal),
	FUNCTION 5 vec_spgist_leaf_consistent(internal, internal),
	FUNCTION 6 hvec_spgist_compress(internal);
COMMENT ON OPERATOR CLASS hvec_spgist_ops USING spgist IS 'default SP-GiST opclass of hvec: exact k-d tree for ORDER BY <-> or <+> (leaves stored as vec, no index-only scans)';
COMMENT ON OPERATOR FAMILY hvec_spgist_ops USING spgist IS 'SP-GiST operator family of hvec_spgist_ops';
-- ms models of each element type (issue 16): ms.create_model(...,
-- element_type => 'float32'|'float16'|'bit'|'sparse'), stored in
-- ms.models; a version of a non-float32 model keeps its points in a table
-- of its own of hvec, bvec or svec; the processors ms.proc_float16,
-- ms.proc_binary_quantize and ms.proc_sparse; ms.knn and ms.within in each
-- type (a vec query is converted).
ALTER TABLE ms.models DROP CONSTRAINT models_dims_check;
ALTER TABLE ms.models ADD CONSTRAINT models_dims_check CHECK (dims BETWEEN 1 AND 1000000000);
ALTER TABLE ms.models DROP CONSTRAINT models_metric_check;
ALTER TABLE ms.models ADD CONSTRAINT models_metric_check
	CHECK (metric IN ('l2', 'cosine', 'ip', 'hamming', 'jaccard'));
-- (filled by an UPDATE, not ADD COLUMN ... DEFAULT, which would leave a
-- "missing value" in the catalog that a fresh install does not have)
ALTER TABLE ms.models ADD COLUMN element_type text;
UPDATE ms.models SET element_type = 'float32';
ALTER TABLE ms.models ALTER COLUMN element_type SET DEFAULT 'float32';
ALTER TABLE ms.models ALTER COLUMN element_type SET NOT NULL;
ALTER TABLE ms.models ADD CONSTRAINT models_element_type_check
	CHECK (element_type IN ('float32', 'float16', 'bit', 'sparse'));
ALTER TABLE ms.models ADD CONSTRAINT models_element_type_metric_check CHECK (
	CASE element_type
		WHEN 'bit' THEN metric IN ('hamming', 'jaccard') AND dims <= 64000
		WHEN 'sparse' THEN metric IN ('l2', 'cosine', 'ip')
		ELSE metric IN ('l2', 'cosine', 'ip') AND dims <= 16000
	END);
COMMENT ON TABLE ms.models IS 'models: dimension, distance metric, element type and default label; internal, not for direct access: use the ms functions';

CREATE FUNCTION ms._element_type_name(p_element_type text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE p_element_type WHEN 'float32' THEN 'vec' WHEN 'float16' THEN 'hvec'
						   WHEN 'bit' THEN 'bvec' WHEN 'sparse' THEN 'svec' END
$$;
COMMENT ON FUNCTION ms._element_type_name(text) IS 'internal: the type of a model''s points by element type: vec (float32), hvec (float16), bvec (bit), svec (sparse)';
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
REVOKE ALL ON FUNCTION ms._element_type_name(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._version_index_opclass(text, integer, text) FROM PUBLIC;
CREATE OR REPLACE FUNCTION ms._create_version_index(p_version_id bigint) RETURNS boolean
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
	EXECUTE pg_catalog.format('CREATE INDEX %I ON ms.%I USING %I (embedding @extschema@.%I)',
							  pg_catalog.format('%s_embedding', part), part, ix.am, ix.opclass);
	RETURN true;
END
$$;
COMMENT ON FUNCTION ms._create_version_index(bigint) IS 'internal: create the index of a version''s points (by element type, dims and metric: see ms._version_index_opclass); false when there is none to create';
CREATE OR REPLACE FUNCTION ms._index_if_grown(p_version_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	n			bigint;
	d			integer;
	version_org	text;
	etype		text;
	vmetric		text;
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
	SELECT m.dims, v.org, m.element_type, m.metric INTO d, version_org, etype, vmetric
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	-- a version whose element type has no index never counts its rows
	IF etype OPERATOR(pg_catalog.<>) 'float32'
	   AND (SELECT x.am FROM ms._version_index_opclass(etype, d, vmetric) x) IS NULL THEN
		RETURN;
	END IF;
	-- (OPERATOR() has one precedence for all: every step is bracketed)
	row_min := 60 OPERATOR(pg_catalog.+) CASE etype
		WHEN 'float16' THEN 2 OPERATOR(pg_catalog.*) d
		WHEN 'bit' THEN d OPERATOR(pg_catalog./) 8
		ELSE 4 OPERATOR(pg_catalog.*) d END;
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
	   INTO n USING version_org;
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
COMMENT ON FUNCTION ms._index_if_grown(bigint) IS 'internal: build a version''s msivf index once its partition holds ms._version_index_min_rows() points';
CREATE OR REPLACE FUNCTION ms._is_builtin_processor(p regprocedure) RETURNS boolean
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
CREATE OR REPLACE FUNCTION ms._check_processor(p_processor regprocedure, p_org text, p_model text,
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
DROP FUNCTION ms.create_model(text, text, integer, text);
DROP FUNCTION ms._create_model(text, text, integer, text);
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
REVOKE ALL ON FUNCTION ms._create_model(text, text, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.create_model(text, text, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.create_model(text, text, integer, text, text) TO PUBLIC;
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
	-- until there are points to train its centroids on.
	IF etype OPERATOR(pg_catalog.=) 'float32' AND r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._create_version(text, text, text, regprocedure) IS 'internal: the body of ms.create_version, run as the extension owner by it';
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
	PERFORM ms._index_if_grown(r.version_id);
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms._upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]) IS 'internal: the body of ms.upsert_points, run as the extension owner by it';
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

REVOKE ALL ON FUNCTION ms.knn(text, text, @extschema@.hvec, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.knn(text, text, @extschema@.hvec, integer, text) TO PUBLIC;
REVOKE ALL ON FUNCTION ms.knn(text, text, @extschema@.bvec, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.knn(text, text, @extschema@.bvec, integer, text) TO PUBLIC;
REVOKE ALL ON FUNCTION ms.knn(text, text, @extschema@.svec, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.knn(text, text, @extschema@.svec, integer, text) TO PUBLIC;
REVOKE ALL ON FUNCTION ms.within(text, text, @extschema@.hvec, double precision, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.within(text, text, @extschema@.hvec, double precision, text) TO PUBLIC;
REVOKE ALL ON FUNCTION ms.within(text, text, @extschema@.bvec, double precision, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.within(text, text, @extschema@.bvec, double precision, text) TO PUBLIC;
REVOKE ALL ON FUNCTION ms.within(text, text, @extschema@.svec, double precision, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.within(text, text, @extschema@.svec, double precision, text) TO PUBLIC;

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
GRANT EXECUTE ON FUNCTION ms.proc_float16(bytea, integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION ms.proc_binary_quantize(bytea, integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION ms.proc_sparse(bytea, integer) TO PUBLIC;
CREATE FUNCTION ms._run_processor_as(processor regprocedure, batch bytea, dims integer,
									 metric text, pinned bytea, run_as regrole)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'ms_run_processor' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._run_processor_as(regprocedure, bytea, integer, text, bytea, regrole) IS 'internal: ms._run_processor for models of any element type, whose embedding type the column definition list names';
CREATE FUNCTION ms._version_element_type(p_version_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT m.element_type
  FROM ms.versions v
  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id
$$;
COMMENT ON FUNCTION ms._version_element_type(bigint) IS 'internal: the element type of a version''s model';
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
	etype		text;
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
			PERFORM ms._index_if_grown(p_version_id);
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
	PERFORM ms._index_if_grown(p_version_id);
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms._process_batch(text, bigint, regprocedure, integer, text, bytea, bytea) IS 'internal: feed one decoded batch through a version''s processor into its points; returns how many';
REVOKE ALL ON FUNCTION
	ms._run_processor_as(regprocedure, bytea, integer, text, bytea, regrole),
	ms._version_element_type(bigint),
	ms._upsert_processed(text, bigint, regprocedure, integer, text, bytea, bytea, regrole, text)
FROM PUBLIC;

-- ms.describe_model: what a client needs to load and query a model
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
REVOKE ALL ON FUNCTION ms._describe_model(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.describe_model(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ms.describe_model(text, text) TO PUBLIC;

-- casts between svec and hvec (src/svec/svec.sql)
CREATE FUNCTION hvec_to_svec(hvec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_to_svec(hvec, integer, boolean) IS 'cast hvec to svec: keeps the non-zero elements, exactly';
CREATE FUNCTION svec_to_hvec(svec, integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_to_hvec(svec, integer, boolean) IS 'cast svec to hvec: zeros spelled out, values rounded to the nearest half (an error above 65504); at most 16000 dimensions';
CREATE CAST (hvec AS svec) WITH FUNCTION hvec_to_svec(hvec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (hvec AS svec) IS 'assignment: an hvec to an svec of its non-zero elements';
CREATE CAST (svec AS hvec) WITH FUNCTION svec_to_hvec(svec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (svec AS hvec) IS 'assignment: an svec to an hvec, rounded to half (at most 16000 dimensions)';

-- bvec_index_recall (src/knn/knn.sql)
-- The recall of an index over a bvec column, as vec_index_recall measures
-- a vec index: each query through the index as an application would run
-- it, scored against bvec_knn_exact under the same snapshot, a row at no
-- more than the k-th exact distance counting as right (Hamming distances
-- tie often).  SQL rather than C: the exact pass is bvec_knn_exact's, and
-- what is left is a loop of ordinary queries, run as the caller.
CREATE FUNCTION bvec_index_recall(idx regclass, queries bvec[], k integer DEFAULT 10)
RETURNS double precision
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ix			record;
	opr			record;
	metric		text;
	colname		name;
	query_sql	text;
	plan		jsonb;
	used		boolean;
	total		double precision := 0;
	nq			integer := coalesce(array_length(queries, 1), 0);
	q			record;
	correct		bigint;
	count_sql	text;
BEGIN
	IF k < 1 THEN
		RAISE EXCEPTION 'k must be positive, not %', k USING ERRCODE = '22023';
	END IF;
	SELECT i.indrelid, i.indkey[0] AS attnum, c.relname,
		   i.indclass[0] AS opclass, oc.opcintype
	  INTO ix
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	  JOIN pg_opclass oc ON oc.oid = i.indclass[0]
	 WHERE i.indexrelid = idx;
	IF NOT FOUND THEN
		RAISE EXCEPTION '"%" is not an index', (SELECT relname FROM pg_class WHERE oid = idx)
			USING ERRCODE = '42809';
	END IF;
	IF ix.attnum = 0 THEN
		RAISE EXCEPTION 'index "%" is on an expression, not on a bvec column', ix.relname
			USING ERRCODE = '0A000',
				  HINT = 'Keep the expression in a stored generated column and index that column to measure it.';
	END IF;
	IF ix.opcintype OPERATOR(pg_catalog.<>) '@extschema@.bvec'::regtype THEN
		RAISE EXCEPTION 'bvec_index_recall measures indexes over bvec, not %',
			ix.opcintype::regtype
			USING ERRCODE = '0A000',
				  HINT = 'Use vec_index_recall for an index over vec or hvec.';
	END IF;
	-- the ordering operator of the index's family with the lowest strategy
	SELECT o.oid, o.oprname, n.nspname, p.proname
	  INTO opr
	  FROM pg_amop a
	  JOIN pg_opclass oc ON oc.opcfamily = a.amopfamily
	  JOIN pg_operator o ON o.oid = a.amopopr
	  JOIN pg_namespace n ON n.oid = o.oprnamespace
	  JOIN pg_proc p ON p.oid = o.oprcode
	 WHERE oc.oid = ix.opclass AND a.amoppurpose = 'o'
	   AND a.amoplefttype = '@extschema@.bvec'::regtype
	   AND a.amoprighttype = '@extschema@.bvec'::regtype
	 ORDER BY a.amopstrategy LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'index "%" cannot order bvecs by distance', ix.relname
			USING ERRCODE = '42809',
				  HINT = 'bvec_index_recall measures indexes that serve ORDER BY col <~> query LIMIT k, such as msivf bvec_hamming_ops.';
	END IF;
	metric := CASE opr.proname WHEN 'hamming_distance' THEN 'hamming'
							   WHEN 'jaccard_distance' THEN 'jaccard' END;
	IF metric IS NULL THEN
		RAISE EXCEPTION 'ordering operator %.% is not a bvec distance bvec_index_recall knows',
			opr.nspname, opr.oprname USING ERRCODE = '0A000';
	END IF;
	SELECT attname INTO colname FROM pg_attribute
	 WHERE attrelid = ix.indrelid AND attnum = ix.attnum;
	-- ONLY: bvec_knn_exact reads neither inheritance children nor
	-- partitions (it refuses a partitioned table)
	query_sql := format('SELECT ctid, %1$I OPERATOR(%2$I.%3$s) $1 AS d FROM ONLY %4$s '
						'ORDER BY %1$I OPERATOR(%2$I.%3$s) $1 LIMIT %5$s',
						colname, opr.nspname, opr.oprname, ix.indrelid::regclass, k);
	IF nq = 0 THEN
		RETURN 1;
	END IF;
	IF array_position(queries, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'query array must not contain nulls'
			USING ERRCODE = '22004',
				  DETAIL = format('Element %s is null.', array_position(queries, NULL));
	END IF;
	-- the number is that of the plan the planner chose: say so when that
	-- plan does not read the index
	EXECUTE 'EXPLAIN (FORMAT JSON) ' OPERATOR(pg_catalog.||) query_sql INTO plan USING queries[1];
	SELECT EXISTS (SELECT FROM jsonb_path_query(plan, '$.**."Index Name"') n
					WHERE n #>> '{}' OPERATOR(pg_catalog.=) ix.relname::text)
	  INTO used;
	IF NOT used THEN
		RAISE WARNING 'the plan for the recall queries does not use index "%"', ix.relname
			USING DETAIL = 'The recall reported is that of the plan the planner chose.',
				  HINT = 'To measure the index, make the planner prefer it, e.g. SET enable_seqscan = off.';
	END IF;
	-- a row tied with the k-th exact one is as right as it
	count_sql := format('SELECT count(DISTINCT r.ctid) FROM (%s) r WHERE r.d <= $2', query_sql);
	FOR q IN
		SELECT g.n, g.query, e.kth, coalesce(e.nexact, 0) AS nexact
		  FROM unnest(queries) WITH ORDINALITY AS g(query, n)
		  LEFT JOIN (SELECT query_no, max(distance) AS kth, count(*) AS nexact
					   FROM @extschema@.bvec_knn_exact(ix.indrelid::regclass, colname, queries, k, metric)
					  GROUP BY query_no) e ON e.query_no = g.n
	LOOP
		IF q.nexact = 0 THEN
			total := total + 1;		-- nothing to find: every plan is right
			CONTINUE;
		END IF;
		EXECUTE count_sql INTO correct USING q.query, q.kth + 1e-12 * (1 + abs(q.kth));
		total := total + correct::double precision / q.nexact;
	END LOOP;
	RETURN total / nq;
END
$$;

COMMENT ON FUNCTION bvec_index_recall(regclass, bvec[], integer) IS
'mean recall@k of ORDER BY col <~> (or <%>) query LIMIT k through a bvec index, with the current settings, against bvec_knn_exact';
-- Citus: ms.knn, ms.within and ms.in_box routed whole to the worker that
-- holds the org (ms.enable_citus makes the governance tables reference
-- tables and the queries distributed functions).  Citus refuses a SQL
-- function's parameterized query on a distributed or reference table, so
-- the helpers that read the governance tables are PL/pgSQL; the drop guard
-- reads ms.versions only when a function is dropped, and not on a worker.
CREATE OR REPLACE FUNCTION ms._access(p_caller oid, p_privileged boolean, p_org text,
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
CREATE OR REPLACE FUNCTION ms._may_administer(p_org text) RETURNS boolean
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
CREATE OR REPLACE FUNCTION ms._version_element_type(p_version_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
RETURN (SELECT m.element_type
  FROM ms.versions v
  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id);
END
$$;
COMMENT ON FUNCTION ms._version_element_type(bigint) IS 'internal: the element type of a version''s model';
CREATE OR REPLACE FUNCTION ms.__processor_drop_guard() RETURNS event_trigger
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
CREATE OR REPLACE FUNCTION ms._enable_citus() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t	text;
	f	regprocedure;
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
	IF EXISTS (SELECT FROM ms.versions) OR EXISTS (SELECT FROM ms.raw_batches) THEN
		RAISE EXCEPTION 'the machinesoup model store can only be distributed before its first version'
			USING ERRCODE = '55000',
				  DETAIL = 'Existing versions and raw batches are not moved to the workers.';
	END IF;
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
	-- Their triggers then fire on every node's copy: the authorisation
	-- cache's invalidation is wanted on every node (ms._governance_changed),
	-- append-only refusals are harmless, and the audit triggers record
	-- only under the API call, which is on the coordinator.
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH t IN ARRAY '{ms.orgs,ms.models,ms.versions,ms.promotions,ms.grants}'::text[] LOOP
		PERFORM pg_catalog.create_reference_table(t::pg_catalog.regclass);
	END LOOP;
	PERFORM pg_catalog.create_distributed_table('ms.raw_batches', 'org');
	-- The queries go whole to the worker holding the org's shards (when
	-- called outside a transaction block, as Citus delegates calls).
	FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace OPERATOR(pg_catalog.=) 'ms'::pg_catalog.regnamespace
				AND p.proname OPERATOR(pg_catalog.=) ANY ('{knn,within,in_box}'::pg_catalog.name[])
			  ORDER BY p.oid LOOP
		PERFORM pg_catalog.create_distributed_function(f, 'org', colocate_with := 'ms.raw_batches');
	END LOOP;
END
$$;
COMMENT ON FUNCTION ms._enable_citus() IS 'internal: the body of ms.enable_citus, run as the extension owner by it';
-- msivf growth: VACUUM frees old chains of split lists and recalibrates (issue 14)
-- what growth did to an msivf index: lists, calibration, pages of old chains
CREATE FUNCTION msivf_index_growth(index regclass,
	OUT lists integer, OUT built_lists integer, OUT calibrated_lists integer,
	OUT pages bigint, OUT leaked_pages bigint, OUT freed_pages bigint, OUT free_pages bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION msivf_index_growth(regclass) IS 'growth of an msivf index: lists now, built and when last calibrated; pages, pages of split lists'' old chains VACUUM has still to free, pages freed since the build, freed pages not yet reused';

-- Citus: per-org loads routed to the org's worker, an audit log per node (issue 15)
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
CREATE OR REPLACE FUNCTION ms._ingest(org text, model text, data bytea, label text)
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
CREATE OR REPLACE FUNCTION ms._create_version_index(p_version_id bigint) RETURNS boolean
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
CREATE OR REPLACE FUNCTION ms._index_if_grown(p_version_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	n			bigint;
	d			integer;
	version_org	text;
	etype		text;
	vmetric		text;
	row_min		integer;
	pages_needed bigint;
	shard_id	bigint;
	shard		text;
	ix			record;
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
	SELECT m.dims, v.org, m.element_type, m.metric INTO d, version_org, etype, vmetric
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	-- A routed load (ms.ingest, ms.upsert_points, ms.replay on Citus) runs
	-- on the worker that holds the org, and Citus takes DDL on a
	-- distributed table from the coordinator only: there the index is
	-- built on the org's shard alone, under the name Citus gives a shard's
	-- copy of the table's index (so that one made later through the
	-- coordinator skips it).  A shard move does not carry it (Citus copies
	-- the coordinator's indexes): the next routed load on the new worker
	-- builds it again.
	-- (two IFs: without Citus, citus_is_coordinator() does not exist)
	IF ms._citus_enabled() THEN
		IF NOT pg_catalog.citus_is_coordinator() THEN
			shard_id := pg_catalog.get_shard_id_for_distribution_column(pg_catalog.format('ms.%I', part),
																		 version_org);
			shard := pg_catalog.format('%s_%s', part, shard_id);
			-- not on this node (a call on another worker): built where it is
			IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', shard)) IS NULL
			   OR pg_catalog.to_regclass(pg_catalog.format('ms.%I', pg_catalog.format('%s_embedding_%s', part,
																					 shard_id))) IS NOT NULL THEN
				RETURN;
			END IF;
		END IF;
	END IF;
	-- a version whose element type has no index never counts its rows
	IF etype OPERATOR(pg_catalog.<>) 'float32'
	   AND (SELECT x.am FROM ms._version_index_opclass(etype, d, vmetric) x) IS NULL THEN
		RETURN;
	END IF;
	-- (OPERATOR() has one precedence for all: every step is bracketed)
	row_min := 60 OPERATOR(pg_catalog.+) CASE etype
		WHEN 'float16' THEN 2 OPERATOR(pg_catalog.*) d
		WHEN 'bit' THEN d OPERATOR(pg_catalog./) 8
		ELSE 4 OPERATOR(pg_catalog.*) d END;
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
	   INTO n USING version_org;
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
	IF shard IS NOT NULL THEN
		SELECT * INTO ix FROM ms._version_index_opclass(etype, d, vmetric) x;
		IF ix.am IS NOT NULL THEN
			EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON ms.%I USING %I (embedding @extschema@.%I)',
				pg_catalog.format('%s_embedding_%s', part, shard_id), shard, ix.am, ix.opclass);
		END IF;
	ELSIF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NULL THEN
		PERFORM ms._create_version_index(p_version_id);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._index_if_grown(bigint) IS 'internal: build a version''s msivf index once its partition holds ms._version_index_min_rows() points';
CREATE OR REPLACE FUNCTION ms._enable_citus() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t	text;
	f	regprocedure;
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
	IF EXISTS (SELECT FROM ms.versions) OR EXISTS (SELECT FROM ms.raw_batches) THEN
		RAISE EXCEPTION 'the machinesoup model store can only be distributed before its first version'
			USING ERRCODE = '55000',
				  DETAIL = 'Existing versions and raw batches are not moved to the workers.';
	END IF;
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
	-- Their triggers then fire on every node's copy: the authorisation
	-- cache's invalidation is wanted on every node (ms._governance_changed),
	-- append-only refusals are harmless, and the audit triggers record
	-- only under the API call, which is on the coordinator.
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH t IN ARRAY '{ms.orgs,ms.models,ms.versions,ms.promotions,ms.grants}'::text[] LOOP
		PERFORM pg_catalog.create_reference_table(t::pg_catalog.regclass);
	END LOOP;
	PERFORM pg_catalog.create_distributed_table('ms.raw_batches', 'org');
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
END
$$;
COMMENT ON FUNCTION ms._enable_citus() IS 'internal: the body of ms.enable_citus, run as the extension owner by it';
CREATE FUNCTION ms._timestamp_text(t timestamptz) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$SELECT CASE WHEN pg_catalog.isfinite(t)
	THEN pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
	ELSE t::pg_catalog.text END$$;
COMMENT ON FUNCTION ms._timestamp_text(timestamptz) IS 'internal: a timestamp as ISO 8601 text in UTC, read back the same by any session';
REVOKE ALL ON FUNCTION ms._timestamp_text(timestamptz) FROM PUBLIC;
CREATE OR REPLACE FUNCTION ms._access_report(org text, since timestamptz,
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
	-- standby's do; head_id and head_hash stay this node's, the workers'
	-- chains being checked by ms.verify_audit() here.
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
			   a.reason, h_id, h_hash
		  FROM (SELECT l.at, l.role, l.login, l.action, l.model, l.label, l.batch_id,
					   l.client_addr, l.reason, 0::pg_catalog.int8 AS node, l.id AS ord
				  FROM ms.audit_log l
				 WHERE l.org OPERATOR(pg_catalog.=) p_org
				   AND (since IS NULL OR l.at OPERATOR(pg_catalog.>=) since)
				   AND (until IS NULL OR l.at OPERATOR(pg_catalog.<) until)
				UNION ALL
				SELECT x.at, x.role, x.login, x.action, x.model, x.label, x.batch_id,
					   x.client_addr,
					   pg_catalog.concat_ws(' ', x.reason,
											pg_catalog.format('(on worker "%s")', n.e OPERATOR(pg_catalog.->>) 'node')),
					   n.i, x.i
				  FROM pg_catalog.jsonb_array_elements(remote) WITH ORDINALITY AS n(e, i),
					   ROWS FROM (pg_catalog.jsonb_to_recordset(n.e OPERATOR(pg_catalog.->) 'rows')
								  AS ("at" timestamptz, role name, login name, action text, model text,
									  label text, batch_id bigint, client_addr inet, reason text))
						 WITH ORDINALITY AS x("at", role, login, action, model, label, batch_id,
											 client_addr, reason, i)) a
		 ORDER BY a.at, a.node, a.ord;
END
$$;
COMMENT ON FUNCTION ms._access_report(text, timestamptz, timestamptz) IS 'internal: the body of ms.access_report, run as the extension owner by it';

-- Citus: node-independent roles and processors in the governance tables
-- (issue 15a).  ms.grants.role and ms.versions.processor become
-- ms.roleref and ms.procref: the same OIDs, but their binary form (what
-- Citus's binary COPY of a reference table to a new node carries) is a
-- name, looked up on the receiving node, rather than the bare OID.
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

-- (a fresh install revokes every function of ms from PUBLIC; type input and
-- output need no EXECUTE)
REVOKE ALL ON FUNCTION ms.roleref_in(cstring), ms.roleref_out(ms.roleref),
	ms.roleref_recv(internal), ms.roleref_send(ms.roleref),
	ms.procref_in(cstring), ms.procref_out(ms.procref),
	ms.procref_recv(internal), ms.procref_send(ms.procref) FROM PUBLIC;
ALTER TABLE ms.grants ALTER COLUMN role TYPE ms.roleref;
ALTER TABLE ms.versions ALTER COLUMN processor TYPE ms.procref;

-- Citus: a version's msivf index built with the version, on the distributed
-- table, so that shard moves carry it (issue 15b)
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
	-- carries a distributed table's indexes along a shard move, not one
	-- built on a shard alone (which a routed load past the threshold would
	-- build, ms._index_if_grown).  An msivf index built empty grows its
	-- lists as rows arrive, up to about 1,000 dimensions (a new list's
	-- centroids must fit a page); above that it could not, and waits for
	-- the points as on one node.
	IF etype OPERATOR(pg_catalog.=) 'float32' AND r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	ELSIF ms._citus_enabled() AND r.dims OPERATOR(pg_catalog.<=) 1000 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._create_version(text, text, text, regprocedure) IS 'internal: the body of ms.create_version, run as the extension owner by it';
-- Routed loads on Citus write the org's local shard directly; token access sessions, routed on Citus (citus-access) --

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
			PERFORM ms._index_if_grown(p_version_id);
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
	PERFORM ms._index_if_grown(p_version_id);
	RETURN n;
END
$$;

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

CREATE OR REPLACE FUNCTION ms._enable_citus() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t	text;
	f	regprocedure;
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
	IF EXISTS (SELECT FROM ms.versions) OR EXISTS (SELECT FROM ms.raw_batches) THEN
		RAISE EXCEPTION 'the machinesoup model store can only be distributed before its first version'
			USING ERRCODE = '55000',
				  DETAIL = 'Existing versions and raw batches are not moved to the workers.';
	END IF;
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
	-- Their triggers then fire on every node's copy: the authorisation
	-- cache's invalidation is wanted on every node (ms._governance_changed),
	-- append-only refusals are harmless, and the audit triggers record
	-- only under the API call, which is on the coordinator.
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH t IN ARRAY '{ms.orgs,ms.models,ms.versions,ms.promotions,ms.grants}'::text[] LOOP
		PERFORM pg_catalog.create_reference_table(t::pg_catalog.regclass);
	END LOOP;
	PERFORM pg_catalog.create_distributed_table('ms.raw_batches', 'org');
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

-- ms.enable_citus() on a store that holds data already (a single-node
-- deployment moved onto Citus): every table locked, checked for code
-- that is not the extension's, and converted to the distributed layout
-- in the one transaction.
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

CREATE OR REPLACE FUNCTION ms._enable_citus() RETURNS void
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
COMMENT ON FUNCTION ms.enable_citus() IS 'distribute the model store over a Citus cluster by org, with the data it holds (superuser or the extension''s owner; on the coordinator)';

-- ms.access_report on a Citus coordinator: a worker's rows carry the head of
-- the worker's own chain, which ms.verify_audit(head_id, head_hash) checks
-- on that worker
CREATE OR REPLACE FUNCTION ms._access_report(org text, since timestamptz,
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

-- On Citus a float32 version gets its msivf index at creation up to 2,034
-- dimensions: msivf grows its lists that wide now
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
	-- carries a distributed table's indexes along a shard move, not one
	-- built on a shard alone (which a routed load past the threshold would
	-- build, ms._index_if_grown).  An msivf index built empty grows its
	-- lists as rows arrive, up to 2,034 dimensions (a new list's centroid
	-- must fit a page); above that it could not, and waits for the points
	-- as on one node.
	IF etype OPERATOR(pg_catalog.=) 'float32' AND r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	ELSIF ms._citus_enabled() AND r.dims OPERATOR(pg_catalog.<=) 2034 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;
COMMENT ON FUNCTION ms._create_version(text, text, text, regprocedure) IS 'internal: the body of ms.create_version, run as the extension owner by it';

-- On Citus every msivf version gets its index at creation (above 2,034
-- dimensions too), and the org's worker rebuilds a wide one on its shard
-- when the org's points pass the threshold: ms._index_if_grown takes the
-- org and dims from its callers.
DROP FUNCTION ms._index_if_grown(bigint);

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
REVOKE ALL ON FUNCTION ms._index_if_grown(bigint, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._index_lists(text) FROM PUBLIC;

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

-- msivf's calibration curve, for users and the benchmark's check of it
CREATE FUNCTION msivf_index_calibration(index regclass, OUT recall double precision, OUT probes integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION msivf_index_calibration(regclass) IS 'calibration curve of an msivf index: for each recall level 0.00 to 1.00, the fewest probes that reached it on the held-out queries';

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
