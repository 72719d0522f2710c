-- Needs shared_preload_libraries = 'machinesoup': token sessions live in
-- shared memory, and their opens and reads are audited.
--
-- Token access sessions (ms.open_access_token, ms.read_batch(org, token,
-- batch_id), ms.close_access(org, token)) on one node, their bad input and
-- refusals, the cap on one role's sessions; and the types ms.roleref and
-- ms.procref that ms.grants and ms.versions store (text input takes no
-- bare OID; binary output is a name, empty for an OID that names nothing).
\set VERBOSITY terse
SET client_min_messages = warning;

\getenv abs_srcdir PG_ABS_SRCDIR
\set try :abs_srcdir '/sql/include/try.sql'
\i :try

CREATE ROLE regress_tok_sci;
CREATE ROLE regress_tok_thief;
CREATE ROLE regress_tok_producer;
SELECT ms.create_model('tokco', 'm', 2);
SELECT ms.create_model('tokother', 'm', 2);
SELECT ms.create_version(o, 'm', 'v1') FROM unnest('{tokco,tokother}'::text[]) o;
SELECT ms.promote(o, 'm', 'v1') FROM unnest('{tokco,tokother}'::text[]) o;
SELECT ms.grant('regress_tok_producer', 'ingest', o) FROM unnest('{tokco,tokother}'::text[]) o;
SELECT ms.grant('regress_tok_sci', 'raw_read', 'tokco', 'm');
SELECT ms.grant('regress_tok_thief', 'raw_read', 'tokother', 'm');
SET ROLE regress_tok_producer;
SELECT ms.ingest('tokco', 'm', convert_to(E'1,0.5,1.5\n', 'UTF8')) AS b1 \gset
SELECT ms.ingest('tokother', 'm', convert_to(E'2,2,2\n', 'UTF8')) AS b_other \gset
RESET ROLE;

-- a session: the token is 128 random bits in hex, read with it, closed
SET ROLE regress_tok_sci;
SELECT ms.open_access_token('tokco', 'm', 'ticket 1') AS tok \gset
SELECT :'tok' ~ '^[0-9a-f]{32}$' AS token_shape;
SELECT convert_from(ms.read_batch('tokco', :'tok', :b1), 'UTF8') AS raw;
-- another org's batch, or the token named under another org
-- (batch ids masked: they depend on the suites run before)
SELECT regexp_replace(regress_try_value(format('SELECT length(ms.read_batch(%L, %L, %s))', 'tokco', :'tok', :'b_other')),
					  'batch \d+', 'batch N');
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, %L, %s))', 'tokother', :'tok', :'b_other'));
-- bad input: malformed tokens, NULLs, a batch that does not exist
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, %L, %s))', 'tokco', t, :'b1'))
  FROM unnest(ARRAY['', 'xyz', upper(:'tok'), :'tok' || '0', left(:'tok', 31), repeat('0', 32)]) t;
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, NULL, %s))', 'tokco', :'b1'));
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, %L, NULL))', 'tokco', :'tok'));
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, %L, 999999999))', 'tokco', :'tok'));
SELECT regress_try(format('SELECT ms.open_access_token(%L, %L, NULL)', 'tokco', 'm'));
SELECT regress_try(format('SELECT ms.open_access_token(%L, %L, %L)', 'tokother', 'm', 'not mine'));
RESET ROLE;

-- a stolen token: another role holding raw_read elsewhere gets nothing,
-- nor can it close the session
SET ROLE regress_tok_thief;
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, %L, %s))', 'tokco', :'tok', :'b1'));
SET client_min_messages = notice;
SELECT ms.close_access('tokco', :'tok');
SET client_min_messages = warning;
RESET ROLE;
SET ROLE regress_tok_sci;
SELECT length(ms.read_batch('tokco', :'tok', :b1)) AS still_open;
RESET ROLE;

-- closed by its owner: the token reads no more, and a second close says so
SET ROLE regress_tok_sci;
SELECT ms.close_access('tokco', :'tok');
SELECT regress_try_value(format('SELECT length(ms.read_batch(%L, %L, %s))', 'tokco', :'tok', :'b1'));
SET client_min_messages = notice;
SELECT ms.close_access('tokco', :'tok');
SET client_min_messages = warning;
RESET ROLE;

-- one role holds at most machinesoup.access_tokens_per_role sessions, so
-- that it cannot fill the node's table; a tenant cannot raise its cap
SET machinesoup.access_tokens_per_role = 2;
SET ROLE regress_tok_sci;
SELECT regress_try('SET machinesoup.access_tokens_per_role = 100');
SELECT ms.open_access_token('tokco', 'm', 'ticket 2') AS tok2 \gset
SELECT ms.open_access_token('tokco', 'm', 'ticket 3') AS tok3 \gset
SELECT regress_try(format('SELECT ms.open_access_token(%L, %L, %L)', 'tokco', 'm', 'ticket 4'));
RESET ROLE;
SET ROLE regress_tok_thief;
SELECT ms.open_access_token('tokother', 'm', 'another role') IS NOT NULL AS others_unaffected \gset
\echo :others_unaffected
RESET ROLE;
SET ROLE regress_tok_sci;
SELECT ms.close_access('tokco', :'tok2');
SELECT ms.open_access_token('tokco', 'm', 'ticket 5') IS NOT NULL AS after_a_close \gset
\echo :after_a_close
RESET ROLE;
RESET machinesoup.access_tokens_per_role;

-- the audit log has the open, the two reads and the close
SELECT action, batch_id = :b1 AS the_batch, reason
  FROM ms.audit_log WHERE org = 'tokco' AND action IN ('open_access', 'read_batch', 'close_access')
   AND reason = 'ticket 1'
 ORDER BY id;

-- ms.roleref: a role name in, regrole's text out; no bare OIDs
SELECT 'regress_tok_sci'::ms.roleref AS role, 'regress_tok_sci'::ms.roleref::oid = 'regress_tok_sci'::regrole::oid AS same_oid;
SELECT '12345'::ms.roleref::oid AS digits, '-'::ms.roleref::oid AS dash;
SELECT regress_try_value($$SELECT 'regress_no_such_role'::ms.roleref::text$$);
SELECT regress_try_value($$SELECT '"unterminated'::ms.roleref::text$$);
SELECT convert_from(ms.roleref_send('regress_tok_sci'), 'UTF8') AS sent;
-- a dropped role: its OID goes out in binary as no one, and its text form
-- (digits) reads back as no one, not as whatever has that number
CREATE ROLE regress_tok_gone;
CREATE TEMP TABLE held AS SELECT 'regress_tok_gone'::ms.roleref AS r;
DROP ROLE regress_tok_gone;
SELECT length(ms.roleref_send(r)) AS sent_bytes, r::text ~ '^[0-9]+$' AS shown_as_digits,
	   (r::text)::ms.roleref::oid AS read_back
  FROM held;

-- ms.procref: a signature in, regprocedure's text out
SELECT 'ms.proc_csv(bytea,integer)'::ms.procref AS proc;
SELECT '999'::ms.procref::oid AS digits;
SELECT regress_try_value($$SELECT 'ms.no_such_proc(bytea,integer)'::ms.procref::text$$);
SELECT regress_try_value($$SELECT 'ms.proc_csv(bytea'::ms.procref::text$$);
SELECT convert_from(ms.procref_send('ms.proc_csv(bytea,integer)'), 'UTF8') AS sent;

DROP TABLE held;
DROP FUNCTION regress_try(text), regress_try_value(text);
