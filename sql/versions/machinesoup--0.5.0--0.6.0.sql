-- machinesoup 0.5.0 -> 0.6.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.6.0'" to load this file. \quit

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
