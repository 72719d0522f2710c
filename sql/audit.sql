-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- The audit chain's SQL entry points: ms.verify_audit() and
-- ms.verify_audit(since_id, expected_hash) (bad input, privileges), the
-- head in ms.access_report, the append-only guard.
--
\set VERBOSITY terse
SET client_min_messages = notice;

\getenv abs_srcdir PG_ABS_SRCDIR
\set try :abs_srcdir '/sql/include/try.sql'
\i :try

CREATE ROLE regress_audit_nobody;
CREATE ROLE regress_audit_admin;
SELECT ms.create_model('auditco', 'm', 2);
SELECT ms.grant('regress_audit_admin', 'admin', 'auditco');

-- the log verifies, and reaches its head
SELECT ok, checked > 0 AS some, first_bad, problem FROM ms.verify_audit();
-- the head the report hands out verifies with the two-argument form
SELECT ok, first_bad, problem
  FROM (SELECT DISTINCT head_id, head_hash FROM ms.access_report('auditco')) h,
	   LATERAL ms.verify_audit(h.head_id, h.head_hash);
SELECT count(*) = 1 AS one_head FROM (SELECT DISTINCT head_id, head_hash FROM ms.access_report('auditco')) h;
-- a hash that is not the row's, a row that does not exist
SELECT ok, first_bad = 1 AS at_row_1, problem
  FROM ms.verify_audit(1, decode(repeat('00', 32), 'hex'));
SELECT ok, problem ~ '^row 1000000 does not exist' AS missing
  FROM ms.verify_audit(1000000, decode(repeat('00', 32), 'hex'));

-- bad input
SELECT regress_try_value($$SELECT ok FROM ms.verify_audit(NULL, decode(repeat('00', 32), 'hex'))$$);
SELECT regress_try_value($$SELECT ok FROM ms.verify_audit(1, NULL)$$);
SELECT regress_try_value($$SELECT ok FROM ms.verify_audit(0, decode(repeat('00', 32), 'hex'))$$);
SELECT regress_try_value($$SELECT ok FROM ms.verify_audit(1, '\x00')$$);

-- not for PUBLIC: an auditor needs EXECUTE granted
SET ROLE regress_audit_nobody;
SELECT regress_try_value($$SELECT ok FROM ms.verify_audit()$$);
SELECT regress_try_value($$SELECT ok FROM ms.verify_audit(1, decode(repeat('00', 32), 'hex'))$$);
SELECT regress_try_value($$SELECT count(*) FROM ms.access_report('auditco')$$);
SELECT regress_try_value($$SELECT ms._audit_begin_epoch()$$);
RESET ROLE;
-- the org's admin sees the report, its login and the head
SET ROLE regress_audit_admin;
SELECT action, role = session_user AS me, login = session_user AS my_login, head_id > 0 AS has_head,
	   length(head_hash) AS head_bytes
  FROM ms.access_report('auditco');
RESET ROLE;

-- append-only, even for the tables' owner (this superuser) inserting
SELECT regress_try_value($$INSERT INTO ms.audit_log (id, at, role, pid, action, hash)
	VALUES (1000000, now(), 'x', 1, 'forged', '\x00')$$);

DROP FUNCTION regress_try(text), regress_try_value(text);
SELECT ms.revoke('regress_audit_admin', 'admin', 'auditco');
DROP ROLE regress_audit_nobody;
DROP ROLE regress_audit_admin;
