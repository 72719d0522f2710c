-- Needs shared_preload_libraries = 'machinesoup': grants, promotions and raw
-- access are audited, and the audit writer starts only with the server.
--
-- A search_path attack on the governance functions: a role defines
-- look-alikes of the functions, operators and aggregates they might use in
-- its own schema, puts that schema before pg_catalog in search_path, and
-- calls every ms function.  None of its code may run inside them: every
-- look-alike raises a NOTICE and records a marker row when called.
--
\set VERBOSITY terse

CREATE ROLE regress_ms_evil;
CREATE ROLE regress_ms_victim;
SELECT ms.create_model('evilorg', 'm', 2);
SELECT ms.grant('regress_ms_evil', 'admin', 'evilorg');
CREATE SCHEMA evil AUTHORIZATION regress_ms_evil;

SET ROLE regress_ms_evil;
CREATE TABLE evil.marker (what text);
GRANT INSERT ON evil.marker TO PUBLIC;
CREATE FUNCTION evil.hit(what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'evil code ran: %', what;
	INSERT INTO evil.marker VALUES (what);
END
$$;

-- functions
CREATE FUNCTION evil.lower(a text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('lower'); RETURN pg_catalog.lower(a); END $$;
CREATE FUNCTION evil.format(f text, a text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('format'); RETURN pg_catalog.format(f, a); END $$;
CREATE FUNCTION evil.format(f text, a bigint) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('format'); RETURN pg_catalog.format(f, a); END $$;
CREATE FUNCTION evil.unnest(a anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('unnest'); RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
CREATE FUNCTION evil.cardinality(a anyarray) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('cardinality'); RETURN pg_catalog.cardinality(a); END $$;
CREATE FUNCTION evil.pg_has_role(a oid, b oid, c text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('pg_has_role'); RETURN true; END $$;
CREATE FUNCTION evil.has_function_privilege(a oid, b oid, c text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('has_function_privilege'); RETURN true; END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION evil.nextval(a regclass) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('nextval'); RETURN pg_catalog.nextval(a); END $$;
CREATE FUNCTION evil.vec_dims(a public.vec) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('vec_dims'); RETURN public.vec_dims(a); END $$;
CREATE FUNCTION evil.vec_norm(a public.vec) RETURNS double precision LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('vec_norm'); RETURN public.vec_norm(a); END $$;
CREATE FUNCTION evil.superuser_arg(a oid) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('superuser_arg'); RETURN true; END $$;
CREATE FUNCTION evil.length(a bytea) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('length'); RETURN pg_catalog.length(a); END $$;
CREATE FUNCTION evil.octet_length(a bytea) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('octet_length'); RETURN pg_catalog.octet_length(a); END $$;
CREATE FUNCTION evil.format(f text, a text, b text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('format'); RETURN pg_catalog.format(f, a, b); END $$;

-- operators
CREATE FUNCTION evil.texteq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('text ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
CREATE FUNCTION evil.textne(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('text <>'); RETURN a OPERATOR(pg_catalog.<>) b; END $$;
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textne);
CREATE FUNCTION evil.textcat(a text, b text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('text ||'); RETURN a OPERATOR(pg_catalog.||) b; END $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textcat);
CREATE FUNCTION evil.textre(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('text ~'); RETURN a OPERATOR(pg_catalog.~) b; END $$;
CREATE OPERATOR evil.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textre);
CREATE FUNCTION evil.oideq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('oid ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.oideq);
CREATE FUNCTION evil.int8eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('bigint ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8eq);
CREATE FUNCTION evil.int4eq(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('integer ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int4eq);
CREATE FUNCTION evil.int4lt(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('integer <'); RETURN a OPERATOR(pg_catalog.<) b; END $$;
CREATE OPERATOR evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int4lt);
CREATE FUNCTION evil.int4le(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('integer <='); RETURN a OPERATOR(pg_catalog.<=) b; END $$;
CREATE OPERATOR evil.<= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int4le);
CREATE FUNCTION evil.int4gt(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('integer >'); RETURN a OPERATOR(pg_catalog.>) b; END $$;
CREATE OPERATOR evil.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int4gt);
CREATE FUNCTION evil.int8gt(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('bigint >'); RETURN a OPERATOR(pg_catalog.>) b; END $$;
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8gt);
CREATE FUNCTION evil.float8le(a float8, b float8) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('float8 <='); RETURN a OPERATOR(pg_catalog.<=) b; END $$;
CREATE OPERATOR evil.<= (LEFTARG = float8, RIGHTARG = float8, FUNCTION = evil.float8le);
CREATE FUNCTION evil.float8eq(a float8, b float8) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('float8 ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = float8, RIGHTARG = float8, FUNCTION = evil.float8eq);
CREATE FUNCTION evil.l2(a public.vec, b public.vec) RETURNS float8 LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('vec <->'); RETURN a OPERATOR(public.<->) b; END $$;
CREATE OPERATOR evil.<-> (LEFTARG = public.vec, RIGHTARG = public.vec, FUNCTION = evil.l2);

CREATE FUNCTION evil.int8pl(a bigint, b bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('bigint +'); RETURN a OPERATOR(pg_catalog.+) b; END $$;
CREATE OPERATOR evil.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8pl);
CREATE FUNCTION evil.tsge(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('timestamptz >='); RETURN a OPERATOR(pg_catalog.>=) b; END $$;
CREATE OPERATOR evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tsge);
CREATE FUNCTION evil.tslt(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('timestamptz <'); RETURN a OPERATOR(pg_catalog.<) b; END $$;
CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tslt);
CREATE FUNCTION evil.tsgt(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('timestamptz >'); RETURN a OPERATOR(pg_catalog.>) b; END $$;
CREATE OPERATOR evil.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tsgt);

-- aggregates
CREATE FUNCTION evil.or_sf(s boolean, v boolean) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('bool_or'); RETURN s OR v; END $$;
CREATE AGGREGATE evil.bool_or(boolean) (SFUNC = evil.or_sf, STYPE = boolean);
CREATE FUNCTION evil.count_sf(s bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('count'); RETURN s OPERATOR(pg_catalog.+) 1; END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_sf, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION evil.max_sf(s bigint, v bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('max'); RETURN pg_catalog.greatest(s, v); END $$;
CREATE AGGREGATE evil.max(bigint) (SFUNC = evil.max_sf, STYPE = bigint);
CREATE FUNCTION evil.array_sf(s text[], v text) RETURNS text[] LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.hit('array_agg'); RETURN s OPERATOR(pg_catalog.||) v; END $$;
CREATE AGGREGATE evil.array_agg(text) (SFUNC = evil.array_sf, STYPE = text[], INITCOND = '{}');

SET search_path = evil, pg_catalog, public;

-- the trap works on code that does not pin its search_path
SELECT 'a' = 'a' AS trapped;
TRUNCATE evil.marker;

-- every ms function, on success and on error paths
SELECT ms.create_model('evilorg', 'm2', 2);
SELECT ms.create_version('evilorg', 'm', 'v1');
SELECT ms.create_version('evilorg', 'm', 'v2');
SELECT ms.set_processor('evilorg', 'm', 'v1', NULL);
SELECT ms.upsert_points('evilorg', 'm', 'v1', ARRAY[1, 2], ARRAY['[0,0]', '[1,1]']::vec[],
	ARRAY['{"a":1}', '{"a":2}']::jsonb[]);
SELECT ms.upsert_points('evilorg', 'm', 'v2', ARRAY[1], ARRAY['[2,2]']::vec[]);
SELECT ms.promote('evilorg', 'm', 'v1');
SELECT ms.promote('evilorg', 'm', 'v2');
SELECT ms.rollback('evilorg', 'm');
SELECT ms.default_label('evilorg', 'm');
SELECT * FROM ms.knn('evilorg', 'm', '[0,0]', 2);
SELECT * FROM ms.knn('evilorg', 'm', '[0,0]', 2, 'v2');
SELECT * FROM ms.within('evilorg', 'm', '[0,0]', 5);
SELECT * FROM ms.in_box('evilorg', 'm', '([0,0],[1,1])');
SELECT ms.grant('regress_ms_victim', 'query', 'evilorg', 'm');
SELECT ms.grant('regress_ms_victim', 'query', 'evilorg', 'm', 'v1');
SELECT ms.revoke('regress_ms_victim', 'query', 'evilorg', 'm');
SELECT ms.revoke('regress_ms_victim', 'query', 'evilorg', 'm', 'v1');
SELECT ms.create_model('Bad', 'm', 2);
SELECT ms.create_model('otherorg', 'm', 2);
SELECT ms.create_version('evilorg', 'm', 'v1');
SELECT ms.upsert_points('evilorg', 'm', 'v1', ARRAY[1], ARRAY['[1,2,3]']::vec[]);
SELECT ms.upsert_points('evilorg', 'm', 'v1', ARRAY[1, 1], ARRAY['[1,2]', '[1,2]']::vec[]);
SELECT * FROM ms.knn('otherorg', 'm', '[0,0]', 1);
SELECT * FROM ms.knn('evilorg', 'm', '[0,0,0]', 1);
SELECT * FROM ms.knn('evilorg', 'm', '[0,0]', 1, 'nosuch');
SELECT ms.rollback('evilorg', 'm2');
SELECT ms.grant('regress_ms_victim', 'nosuch', 'evilorg');
SELECT ms.grant('regress_ms_victim', 'admin', 'otherorg');

-- the raw-data functions, on success and on error paths
SELECT ms.grant('regress_ms_evil', 'raw_read', 'evilorg', 'm');
SELECT ms.ingest('evilorg', 'm', convert_to(E'5,1,1\n', 'UTF8'), 'v1') AS eb1 \gset
SELECT ms.ingest('evilorg', 'm', convert_to(E'6,2,2\n', 'UTF8')) AS eb1_default \gset
SELECT ms.ingest('evilorg', 'm', convert_to(E'7,2,2\n', 'UTF8'), 'v2') AS eb2 \gset
SELECT label FROM ms.batches('evilorg', 'm') ORDER BY batch_id;
SELECT label FROM ms.batches('evilorg', 'm', '2000-01-01', '2999-01-01') ORDER BY batch_id;
SELECT ms.replay('evilorg', 'm', 'v2');
SELECT ms.replay('evilorg', 'm', 'v2', '2000-01-01', '2999-01-01');
SELECT ms.open_access('evilorg', 'm', 'search path test');
SELECT ms.read_batch(:eb1) IS NOT NULL AS read;
SELECT org, model, label, state FROM ms.access_session();
SELECT ms.open_access('evilorg', 'm', 'search path test', 'v1');
SELECT ms.read_batch(:eb1) IS NOT NULL AS read;
SELECT ms.read_batch(:eb2);
SELECT ms.read_batch(-1);
SELECT ms.close_access();
SELECT ms.close_access();
SELECT ms.read_batch(:eb1);
SELECT action FROM ms.access_report('evilorg', '2000-01-01', '2999-01-01')
 WHERE reason OPERATOR(pg_catalog.=) 'search path test' ORDER BY at;
SELECT ms.ingest('otherorg', 'm', convert_to(E'5,1,1\n', 'UTF8'));
SELECT ms.ingest('evilorg', 'm', convert_to(E'5,1\n', 'UTF8'));
SELECT ms.ingest('evilorg', 'm', NULL);
SELECT * FROM ms.batches('otherorg', 'm');
SELECT ms.replay('evilorg', 'm', 'nosuch');
SELECT ms.open_access('otherorg', 'm', 'search path test');
SELECT ms.open_access('evilorg', 'm', 'search path test', 'nosuch');
SELECT ms.open_access('evilorg', 'm', '');
SELECT * FROM ms.access_report('otherorg');
SELECT * FROM ms.verify_audit();

RESET ROLE;
-- ms.verify_audit is for superusers: one runs it with the trap set
SELECT ok FROM ms.verify_audit();
RESET search_path;
SELECT count(*) AS evil_calls FROM evil.marker;

SET ROLE regress_ms_evil;
-- An org admin reaches ms only through its entry points: no internal
-- function (ms._*) is executable, and no table, view, sequence or column
-- of ms is writable or readable to it directly
SELECT count(*) > 0 AS has_internals,
	   count(*) FILTER (WHERE has_function_privilege(p.oid, 'EXECUTE')) AS executable
  FROM pg_proc p
 WHERE p.pronamespace = 'ms'::regnamespace AND p.proname LIKE '\_%';
SELECT c.oid::regclass AS writable
  FROM pg_class c
 WHERE c.relnamespace = 'ms'::regnamespace
   AND ((c.relkind IN ('r', 'p', 'v', 'm', 'f')
		 AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))
		OR (c.relkind = 'S' AND has_sequence_privilege(c.oid, 'USAGE, UPDATE')))
 ORDER BY 1::text COLLATE "C";
SELECT c.oid::regclass AS readable
  FROM pg_class c
 WHERE c.relnamespace = 'ms'::regnamespace
   AND ((c.relkind IN ('r', 'p', 'v', 'm', 'f') AND has_table_privilege(c.oid, 'SELECT'))
		OR (c.relkind = 'S' AND has_sequence_privilege(c.oid, 'SELECT')))
 ORDER BY 1::text COLLATE "C";
SELECT count(*) AS readable_columns
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'ms'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
   AND NOT has_table_privilege(c.oid, 'SELECT')
   AND has_column_privilege(c.oid, a.attnum, 'SELECT');
RESET ROLE;

-- everything that runs as the extension's owner and resolves names pins
-- search_path: the SECURITY DEFINER functions, the PL/pgSQL bodies behind
-- the entry points, and the C entry points that run SQL themselves
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'ms'::regnamespace
   AND (p.prosecdef
		OR (l.lanname <> 'c' AND EXISTS (
			SELECT FROM pg_proc e
			 WHERE e.pronamespace = p.pronamespace AND '_' || e.proname = p.proname
			   AND e.prosrc = 'ms_entry'))
		OR p.prosrc IN ('ms_open_access', 'ms_close_access', 'ms_read_batch', 'ms_verify_audit'))
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false)
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- every SQL and PL/pgSQL function of ms pins search_path, but for these,
-- run only from functions that pin it: ms._access (which names every
-- object with its schema), a constant, and a stack check of the audit triggers
SELECT p.oid::regprocedure AS unpinned_sql
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'ms'::regnamespace AND l.lanname <> 'c'
   AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false)
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- and every raw-data entry point is one of those, or an entry (ms_entry)
SELECT p.oid::regprocedure AS entry, p.prosrc, p.prosecdef, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'ms'::regnamespace
   AND p.proname IN ('ingest', 'batches', 'replay', 'open_access', 'close_access', 'read_batch',
					 'access_session', 'access_report', 'verify_audit')
 ORDER BY p.oid::regprocedure::text COLLATE "C";

DELETE FROM ms.grants WHERE org = 'evilorg';
-- batch ids as if this suite had not run (raw_store's expected output names some)
DELETE FROM ms.raw_batches WHERE org = 'evilorg';
SELECT setval('ms.raw_batches_batch_id_seq', coalesce(max(batch_id), 0) + 1, false) FROM ms.raw_batches;
DROP SCHEMA evil CASCADE;
DROP ROLE regress_ms_evil, regress_ms_victim;
