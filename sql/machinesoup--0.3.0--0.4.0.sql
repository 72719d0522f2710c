-- machinesoup 0.3.0 -> 0.4.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.4.0'" to load this file. \quit

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
