-- machinesoup 0.2.0 -> 0.3.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.3.0'" to load this file. \quit

-- Box selectivity from ANALYZE statistics (see sql/install/010_vec.sql and
-- 030_spatial.sql); ANALYZE the vec columns after the update to use it.
CREATE FUNCTION @extschema@.vec_typanalyze(internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
ALTER TYPE @extschema@.vec SET (ANALYZE = @extschema@.vec_typanalyze);
CREATE FUNCTION @extschema@.vec_contained_in_vbox_sel(internal, oid, internal, integer)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
ALTER OPERATOR @extschema@.<@ (@extschema@.vec, @extschema@.vbox)
	SET (RESTRICT = @extschema@.vec_contained_in_vbox_sel);
ALTER OPERATOR @extschema@.@> (@extschema@.vbox, @extschema@.vec)
	SET (RESTRICT = @extschema@.vec_contained_in_vbox_sel);

-- ms._resolve(org, model, label, privilege, true, action), answered from
-- the backend's authorisation cache (src/governance.c, as ms.knn's): for
-- callers that run once per batch, such as ms.ingest.  Same checks, same
-- errors.
CREATE FUNCTION ms._authorise(org text, model text, label text, privilege text, action text,
							  OUT version_id bigint, OUT dims integer, OUT metric text,
							  OUT resolved_label text)
	AS 'MODULE_PATHNAME', 'ms_authorise' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION ms._authorise(text, text, text, text, text) FROM PUBLIC;

-- ms.ingest authorises each batch from that cache
CREATE OR REPLACE FUNCTION ms.ingest(org text, model text, data bytea, label text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	proc		regprocedure;
	frame		bytea;
	bid			bigint;
BEGIN
	SELECT * INTO r FROM ms._authorise(p_org, p_model, p_label, 'ingest', 'ingest into') a;
	IF data IS NULL THEN
		RAISE EXCEPTION 'data must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT v.processor INTO proc FROM ms.versions v
	 WHERE v.version_id OPERATOR(pg_catalog.=) r.version_id;
	frame := ms._lz4_encode(data);
	INSERT INTO ms.raw_batches AS b (org, model, received_at, label, raw_bytes, stored_bytes,
									 ingested_by, frame)
		VALUES (p_org, p_model, pg_catalog.clock_timestamp(), r.resolved_label,
				pg_catalog.length(data), pg_catalog.length(frame), ms._caller_name(), frame)
		RETURNING b.batch_id INTO bid;
	-- same transaction: a processor error takes the raw frame with it
	PERFORM ms._process_batch(p_org, r.version_id, proc, r.dims, r.metric, data);
	RETURN bid;
END
$$;
