-- Raw data (DESIGN.md section 4): the audit log, the LZ4 batch store,
-- processors, replay and audited access sessions.
--
-- The audit log is written only by the machinesoup audit writer (a
-- background worker, src/audit.c), which needs
-- shared_preload_libraries = 'machinesoup'.  Rows are numbered 1, 2, ...
-- and chained: hash = SHA-256(previous hash || canonical row text).

CREATE SCHEMA IF NOT EXISTS ms;

CREATE TABLE ms.audit_log (
	id			bigint PRIMARY KEY,
	at			timestamptz NOT NULL,
	role		name NOT NULL,
	pid			integer NOT NULL,
	client_addr	inet,
	action		text NOT NULL,
	org			text,
	model		text,
	label		text,
	batch_id	bigint,
	reason		text,
	hash		bytea NOT NULL
);
CREATE INDEX audit_log_org_at ON ms.audit_log (org, at);
COMMENT ON TABLE ms.audit_log IS 'append-only, hash-chained record of raw-data access and governance actions';
REVOKE ALL ON ms.audit_log FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ms.audit_log', '');

CREATE FUNCTION ms._audit_log_guard() RETURNS trigger
	AS 'MODULE_PATHNAME', 'ms_audit_log_guard' LANGUAGE C;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ms.audit_log
	FOR EACH ROW EXECUTE FUNCTION ms._audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ms.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION ms._audit_log_guard();

-- Write one audit record and return its id once it is committed by the
-- audit writer (independently of the calling transaction).  For the
-- extension's own SECURITY DEFINER functions.
CREATE FUNCTION ms._audit(action text, org text, model text, label text,
						  batch_id bigint, reason text)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_audit_sql' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._audit(text, text, text, text, bigint, text) IS 'write a durable audit record (internal)';

CREATE FUNCTION ms.verify_audit()
RETURNS TABLE (ok boolean, checked bigint, first_bad bigint)
	AS 'MODULE_PATHNAME', 'ms_verify_audit'
	LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.verify_audit() IS 'recompute the audit log hash chain; first_bad is the first row that does not match';

REVOKE ALL ON FUNCTION ms._audit_log_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._audit(text, text, text, text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.verify_audit() FROM PUBLIC;
