-- The audit log: one row for every action on raw data, in a hash chain
-- that shows any edit, insertion or deletion, the end included.
--
-- The audit log is written only by the machinesoup audit writer (a
-- background worker, src/audit/), which needs
-- shared_preload_libraries = 'machinesoup'.  Rows are numbered 1, 2, ...
-- and chained: hash = HMAC-SHA-256(key, previous hash || canonical row
-- text), the key and the chain head kept in files of the data directory
-- (machinesoup/audit.key, machinesoup/audit_head.<database oid>), never in
-- a table.  Rows made before the update to 0.4.0 are chained with plain
-- SHA-256 (the epoch that begins at the first keyed row is in the head
-- file).  role is the role acting (the caller), login the session user.

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
	hash		bytea NOT NULL,
	-- last, as the update from 0.3.0 adds it; NULL in rows made before
	login		name
);
CREATE INDEX audit_log_org_at ON ms.audit_log (org, at);
COMMENT ON TABLE ms.audit_log IS 'append-only, hash-chained record of raw-data access and governance actions, written by the audit writer only; read it with ms.access_report';
REVOKE ALL ON ms.audit_log FROM PUBLIC;
ALTER TABLE ms.audit_log ENABLE ROW LEVEL SECURITY;	-- see ms.orgs
SELECT pg_catalog.pg_extension_config_dump('ms.audit_log', '');

CREATE FUNCTION ms._audit_log_guard() RETURNS trigger
	AS 'MODULE_PATHNAME', 'ms_audit_log_guard' LANGUAGE C;
COMMENT ON FUNCTION ms._audit_log_guard() IS 'internal: trigger on ms.audit_log: INSERT by the audit writer only, UPDATE, DELETE and TRUNCATE by superusers only';
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ms.audit_log
	FOR EACH ROW EXECUTE FUNCTION ms._audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ms.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION ms._audit_log_guard();
-- rows come from the audit writer only (a restore runs with
-- session_replication_role = replica, see README.md)
CREATE TRIGGER audit_log_writer_only BEFORE INSERT ON ms.audit_log
	FOR EACH ROW EXECUTE FUNCTION ms._audit_log_guard();

-- Write one audit record and return its id once it is committed by the
-- audit writer (independently of the calling transaction).  For the
-- extension's own functions, running as its owner.
CREATE FUNCTION ms._audit(action text, org text, model text, label text,
						  batch_id bigint, reason text)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_audit_sql' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._audit(text, text, text, text, bigint, text) IS 'internal: write an audit record through the audit writer; returns its id once committed';

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

-- Recompute the chain and check that the log reaches the head recorded
-- outside it; problem says what is wrong (NULL when ok).  With a head the
-- caller kept (head_id and head_hash of ms.access_report): also that row
-- since_id still has that hash, i.e. the log still extends that head.
-- Not executable by PUBLIC: grant it to auditors.
CREATE FUNCTION ms.verify_audit()
RETURNS TABLE (ok boolean, checked bigint, first_bad bigint, problem text)
	AS 'MODULE_PATHNAME', 'ms_verify_audit'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.verify_audit() IS 'recompute the audit log hash chain and check it reaches its recorded head; first_bad is the first row that does not match (EXECUTE is not granted to PUBLIC)';
CREATE FUNCTION ms.verify_audit(since_id bigint, expected_hash bytea)
RETURNS TABLE (ok boolean, checked bigint, first_bad bigint, problem text)
	AS 'MODULE_PATHNAME', 'ms_verify_audit'
	LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.verify_audit(bigint, bytea) IS 'verify_audit(), and that row since_id still has expected_hash, a head kept from ms.access_report (EXECUTE is not granted to PUBLIC)';

-- The update from 0.3.0 records the head of the unkeyed log with it.
CREATE FUNCTION ms._audit_begin_epoch() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_audit_begin_epoch' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._audit_begin_epoch() IS 'internal: run by the update to 0.4.0, records the head of the unkeyed audit chain (superuser only)';

REVOKE ALL ON FUNCTION ms._audit_log_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._audit(text, text, text, text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.verify_audit() FROM PUBLIC;
REVOKE ALL ON FUNCTION ms.verify_audit(bigint, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION ms._audit_begin_epoch() FROM PUBLIC;
CREATE FUNCTION ms._audit_new_log() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_audit_new_log' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._audit_new_log() IS 'internal: run by the install script, starts a new audit chain and sets aside the head of a dropped log';
REVOKE ALL ON FUNCTION ms._audit_new_log() FROM PUBLIC;

