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
