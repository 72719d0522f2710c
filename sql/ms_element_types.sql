-- Needs shared_preload_libraries = 'machinesoup': grants and raw access
-- are audited, and the audit writer starts only with the server.
--
-- ms models of each element type: float32 (vec), float16 (hvec), bit
-- (bvec) and sparse (svec).  Their versions' points tables, loading them
-- (ms.upsert_points converting vecs, the built-in processors of each type,
-- a user processor), ms.knn and ms.within against the exact answer, the
-- errors of a query or a processor of the wrong type, and the same grants
-- as for float32 models.
\set VERBOSITY terse
SET client_min_messages = warning;

\getenv abs_srcdir PG_ABS_SRCDIR
\set try :abs_srcdir '/sql/include/try.sql'
\i :try

-- the batch ids the suites after this one expect, restored at the end
SELECT last_value, is_called FROM ms.raw_batches_batch_id_seq \gset seq_
CREATE ROLE regress_et_admin;		-- admin of org et
CREATE ROLE regress_et_app;		-- query on et/half
CREATE ROLE regress_et_loader;		-- ingest on et/bits
CREATE ROLE regress_et_nobody;		-- no grant at all

-- little-endian records for the binary processors: each width-byte
-- chunk of b reversed (the send functions write network byte order)
CREATE FUNCTION regress_le(b bytea, width integer) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(string_agg(substr(b, c + w + 1, 1), ''::bytea ORDER BY c, w DESC), ''::bytea)
  FROM generate_series(0, length(b) - 1, width) c, generate_series(0, width - 1) w(w)
 WHERE c + w < length(b)
$$;
CREATE FUNCTION regress_f16_record(id bigint, v hvec) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
SELECT regress_le(int8send(id), 8) || regress_le(substr(hvec_send(v), 5), 2)
$$;
CREATE FUNCTION regress_f32_record(id bigint, v vec) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
SELECT regress_le(int8send(id), 8) || regress_le(substr(vec_send(v), 5), 4)
$$;
-- whether the exact query of a version's table would use its index
CREATE FUNCTION regress_et_plan_uses_index(vid bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	line	text;
	used	boolean := false;
BEGIN
	FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT point_id FROM ms.points_%s '
							   'ORDER BY embedding <=> %L::hvec LIMIT 10', vid, '[' || repeat('0.5,', 31) || '0.5]')
	LOOP
		used := used OR line ~ 'Index Scan using points_[0-9]+_embedding';
	END LOOP;
	RETURN used;
END
$$;
-- a reproducible vec of d elements in [-1, 1)
CREATE FUNCTION regress_et_vec(i integer, d integer) RETURNS vec
LANGUAGE sql IMMUTABLE AS $$
SELECT ('[' || string_agg(to_char(((hashint4(i * 7919 + j) % 1000000) / 1000000.0)::float8, 'FM0.000000'), ',' ORDER BY j) || ']')::vec
  FROM generate_series(1, d) j
$$;

-- creation: the type's dimensions and metrics; NULL metric is its first
SELECT ms.create_model('et', 'f32', 4);
SELECT ms.create_model('et', 'half', 4, 'l2', element_type => 'float16');
SELECT ms.create_model('et', 'halfcos', 3, 'cosine', 'float16');
SELECT ms.create_model('et', 'bits', 16, element_type => 'bit');
SELECT ms.create_model('et', 'jac', 8, 'jaccard', 'bit');
SELECT ms.create_model('et', 'sparse', 5, 'ip', 'sparse');
SELECT ms.create_model('et', 'wide', 100000, element_type => 'sparse');
SELECT ms.create_model('et', 'wide-bits', 64000, element_type => 'bit');
SELECT m.model, d.* FROM (VALUES ('f32'), ('half'), ('halfcos'), ('bits'), ('jac'),
									 ('sparse'), ('wide'), ('wide-bits')) m(model),
	   LATERAL ms.describe_model('et', m.model) d ORDER BY 1;
SELECT regress_try($$SELECT ms.create_model('et', 'x', 4, element_type => 'float64')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 4, element_type => NULL)$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 4, 'hamming')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 4, 'hamming', 'float16')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 4, 'l2', 'bit')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 4, 'jaccard', 'sparse')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 16001, element_type => 'float16')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 64001, element_type => 'bit')$$);
SELECT regress_try($$SELECT ms.create_model('et', 'x', 0, element_type => 'sparse')$$);
-- the catalog refuses what ms.create_model refuses
SELECT regress_try($$INSERT INTO ms.models (org, model, dims, metric, element_type, created_by)
					VALUES ('et', 'x', 4, 'l2', 'bit', 'x')$$);

-- versions: each type's table, with its dimension check
SELECT ms.create_version('et', m, 'v1') FROM unnest('{f32,half,halfcos,bits,jac,sparse,wide}'::text[]) m;
SELECT m.model, format_type(a.atttypid, a.atttypmod) AS embedding, c.relispartition,
	   c.relrowsecurity, c.relacl IS NOT NULL AS acl_set,
	   (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c') AS checks
  FROM ms.models m
  JOIN ms.versions v USING (org, model)
  JOIN pg_class c ON c.oid = format('ms.points_%s', v.version_id)::regclass
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding'
 WHERE m.org = 'et'
 ORDER BY 1;

-- ms.upsert_points takes vecs, converted to the model's type
SELECT ms.upsert_points('et', 'half', 'v1', ARRAY[1, 2, 3],
						ARRAY['[1,2,3,4]', '[0.1,0.2,0.3,0.4]', '[-1,0,1,65504]']::vec[]);
SELECT ms.upsert_points('et', 'bits', 'v1', ARRAY[1, 2],
						ARRAY[regress_et_vec(1, 16), regress_et_vec(2, 16)]);
SELECT ms.upsert_points('et', 'sparse', 'v1', ARRAY[1, 2],
						ARRAY['[0,0,1,0,2]', '[3,0,0,0,0]']::vec[], ARRAY['{"a":1}', NULL]::jsonb[]);
SELECT version_id AS half FROM ms.versions WHERE org = 'et' AND model = 'half' \gset
SELECT version_id AS bits FROM ms.versions WHERE org = 'et' AND model = 'bits' \gset
SELECT version_id AS sparse FROM ms.versions WHERE org = 'et' AND model = 'sparse' \gset
SELECT version_id AS jac FROM ms.versions WHERE org = 'et' AND model = 'jac' \gset
SELECT point_id, embedding, payload FROM ms.points_:half ORDER BY 1;
SELECT point_id, embedding, embedding = binary_quantize(regress_et_vec(point_id::integer, 16)) AS quantized
  FROM ms.points_:bits ORDER BY 1;
SELECT point_id, embedding, payload FROM ms.points_:sparse ORDER BY 1;
-- conversion errors: range of half, dimensions, zero under cosine (also
-- once rounded to half)
SELECT regress_try($$SELECT ms.upsert_points('et', 'half', 'v1', ARRAY[9], ARRAY['[1,2,3,70000]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('et', 'half', 'v1', ARRAY[9], ARRAY['[1,2,3]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('et', 'halfcos', 'v1', ARRAY[9], ARRAY['[0,0,0]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('et', 'halfcos', 'v1', ARRAY[9], ARRAY['[1e-10,0,0]']::vec[])$$);
SELECT regress_try($$SELECT ms.upsert_points('et', 'bits', 'v1', ARRAY[9], ARRAY['[1,2]']::vec[])$$);
-- a table's own checks stand behind the API
SELECT regexp_replace(regress_try(format('INSERT INTO ms.points_%s VALUES (%L, %s, 99, %L::hvec)',
										  :half, 'et', :half, '[1,2]')), '[0-9]+', 'N', 'g');
SELECT regexp_replace(regress_try(format('INSERT INTO ms.points_%s VALUES (%L, %s, 99, %L::hvec)',
										  :half, 'et', :half + 1, '[1,2,3,4]')), '[0-9]+', 'N', 'g');

-- queries: in the model's type, or a vec converted; results equal the
-- exact ORDER BY over the version's table
SELECT * FROM ms.knn('et', 'half', '[0.1,0.2,0.3,0.5]'::hvec, 2, 'v1');
SELECT * FROM ms.knn('et', 'half', '[0.1,0.2,0.3,0.5]'::vec, 2, 'v1');
SELECT * FROM ms.knn('et', 'half', '[0.1,0.2,0.3,0.5]', 2, 'v1');	-- untyped: a vec
SELECT point_id, embedding <-> '[0.1,0.2,0.3,0.5]'::hvec AS distance FROM ms.points_:half
 ORDER BY 2 LIMIT 2;
SELECT * FROM ms.within('et', 'half', '[1,2,3,4]'::hvec, 1, 'v1');
SELECT * FROM ms.knn('et', 'bits', binary_quantize(regress_et_vec(1, 16)), 2, 'v1');
SELECT * FROM ms.knn('et', 'bits', regress_et_vec(1, 16), 2, 'v1');
SELECT * FROM ms.knn('et', 'sparse', '{3:1,5:1}/5'::svec, 5, 'v1');
SELECT * FROM ms.knn('et', 'sparse', '[0,0,1,0,1]'::vec, 5, 'v1');
SELECT * FROM ms.within('et', 'sparse', '{3:1,5:1}/5'::svec, -1, 'v1');
-- the wrong type, dimension or entry point: clear errors
SELECT regress_try($$SELECT * FROM ms.knn('et', 'half', '1011'::bvec, 2, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'f32', '[1,2,3,4]'::hvec, 2, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'bits', '{1:1}/16'::svec, 2, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'half', '[1,2,3]'::hvec, 2, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'half', '[1,2,3]'::vec, 2, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'bits', '101'::bvec, 2, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'half', '[1,2,3,70000]'::vec, 2, 'v1')$$);

-- the built-in processors of each type, and a version's default by type
SELECT ms.grant('regress_et_loader', 'ingest', 'et', 'bits');
SELECT ms.set_processor('et', 'half', 'v1', 'ms.proc_float16(bytea,integer)');
SELECT regress_try($$SELECT ms.set_processor('et', 'half', 'v1', 'ms.proc_float32(bytea,integer)')$$);
SELECT regress_try($$SELECT ms.set_processor('et', 'f32', 'v1', 'ms.proc_float16(bytea,integer)')$$);
SELECT regress_try($$SELECT ms.set_processor('et', 'bits', 'v1', 'ms.proc_sparse(bytea,integer)')$$);
SELECT ms.ingest('et', 'half', regress_f16_record(10, '[1,1,1,1]') || regress_f16_record(11, '[-2,0.5,0,1e-7]'), 'v1') > 0 AS ingested;
SELECT point_id, embedding FROM ms.points_:half WHERE point_id >= 10 ORDER BY 1;
SELECT regress_try($$SELECT ms.ingest('et', 'half', substr(regress_f16_record(12, '[1,1,1,1]'), 2), 'v1')$$);
SELECT regress_try($$SELECT ms.ingest('et', 'half', regress_le(int8send(12), 8) || '\x00fc000000000000'::bytea, 'v1')$$);
-- bits: float32 records quantized (the default processor of a bit model)
SET ROLE regress_et_loader;
SELECT ms.ingest('et', 'bits', string_agg(regress_f32_record(i, regress_et_vec(i, 16)), ''::bytea ORDER BY i), 'v1') > 0 AS ingested
  FROM generate_series(3, 40) i;
SELECT regress_try($$SELECT * FROM ms.knn('et', 'bits', '0101010101010101'::bvec, 1, 'v1')$$);
RESET ROLE;
SELECT count(*), bool_and(embedding = binary_quantize(regress_et_vec(point_id::integer, 16))) AS quantized
  FROM ms.points_:bits;
-- sparse: lines "id,svec text", the svec's errors placed at the line
SELECT ms.ingest('et', 'sparse', convert_to(E'3,{1:1,2:1}/5\n4,{5:-1}/5\n', 'UTF8'), 'v1') > 0 AS ingested;
SELECT point_id, embedding FROM ms.points_:sparse ORDER BY 1;
SELECT regress_try($$SELECT ms.ingest('et', 'sparse', convert_to(E'5,{1:1}/5\n6,{9:1}/5', 'UTF8'), 'v1')$$);
SELECT regress_try($$SELECT ms.ingest('et', 'sparse', convert_to(E'5,{1:1}/5\n6,{1:1}/4', 'UTF8'), 'v1')$$);
SELECT regress_try($$SELECT ms.ingest('et', 'sparse', convert_to(E'5{1:1}/5', 'UTF8'), 'v1')$$);
SELECT regress_try($$SELECT ms.ingest('et', 'sparse', convert_to(E'x,{1:1}/5', 'UTF8'), 'v1')$$);
-- beyond a vec's 16000 dimensions
SELECT ms.ingest('et', 'wide', convert_to(E'1,{1:1,99999:2}/100000\n2,{100000:1}/100000', 'UTF8'), 'v1') > 0 AS ingested;
SELECT * FROM ms.knn('et', 'wide', '{99999:1}/100000'::svec, 2, 'v1');
-- replay runs the same processor again
SELECT ms.replay('et', 'sparse', 'v1');
SELECT count(*) FROM ms.points_:sparse;

-- a user processor yields the model's type: bvec for a bit model; it
-- names the type without its schema, and sees the search_path the sandbox
-- gives it, not the ingesting session's
CREATE FUNCTION regress_et_bits(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding bvec, payload jsonb)
LANGUAGE sql AS $$
SELECT i::bigint, ((get_byte(batch, i) % 2)::text || '1010101')::bvec,
	   jsonb_build_object('path', current_setting('search_path'))
  FROM generate_series(0, length(batch) - 1) i
$$;
CREATE FUNCTION regress_et_vecs(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql AS $$ SELECT 1::bigint, '[1,0,1,0,1,0,1,0]'::vec, NULL::jsonb $$;
SELECT regress_try($$SELECT ms.set_processor('et', 'jac', 'v1', 'regress_et_vecs(bytea,integer)')$$);
SELECT ms.set_processor('et', 'jac', 'v1', 'regress_et_bits(bytea,integer)');
CREATE SCHEMA regress_et_elsewhere;
SET search_path = regress_et_elsewhere, public;
SELECT ms.ingest('et', 'jac', '\x010203'::bytea, 'v1') > 0 AS ingested;
RESET search_path;
SELECT point_id, distance, payload FROM ms.knn('et', 'jac', '11010101'::bvec, 3, 'v1');
DROP SCHEMA regress_et_elsewhere;

-- grants: as for float32 models, whatever the query's type
SELECT ms.promote('et', 'half', 'v1');
SELECT ms.grant('regress_et_app', 'query', 'et', 'half');
SET ROLE regress_et_app;
SELECT point_id FROM ms.knn('et', 'half', '[1,1,1,1]'::hvec, 1);
SELECT * FROM ms.describe_model('et', 'half');
SELECT regress_try($$SELECT * FROM ms.knn('et', 'bits', '0101010101010101'::bvec, 1, 'v1')$$);
SELECT regress_try($$SELECT * FROM ms.describe_model('et', 'bits')$$);
SELECT regress_try($$SELECT ms.upsert_points('et', 'half', 'v1', ARRAY[1], ARRAY['[1,1,1,1]']::vec[])$$);
SELECT regress_try($$SELECT ms.create_model('et', 'y', 4, element_type => 'float16')$$);
SET ROLE regress_et_nobody;
-- a model that does not exist and one not granted: the same refusal
SELECT regress_try($$SELECT * FROM ms.describe_model('et', 'half')$$);
SELECT regress_try($$SELECT * FROM ms.describe_model('et', 'nosuch')$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'half', '[1,1,1,1]'::hvec, 1)$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'nosuch', '[1,1,1,1]'::hvec, 1)$$);
SELECT regress_try($$SELECT * FROM ms.knn('et', 'nosuch', '{1}'::bvec, 1)$$);
-- the points tables are the API's alone
SELECT regexp_replace(regress_try(format('SELECT count(*) FROM ms.points_%s', :half)), '[0-9]+', 'N', 'g');
RESET ROLE;
-- an org admin creates models of any type in its org, not elsewhere
SELECT ms.grant('regress_et_admin', 'admin', 'et');
SET ROLE regress_et_admin;
SELECT ms.create_model('et', 'byadmin', 8, 'hamming', 'bit');
SELECT regress_try($$SELECT ms.create_model('other', 'byadmin', 8, 'hamming', 'bit')$$);
RESET ROLE;

-- float16 from 32 dims: msivf over hvec once the version has grown
SELECT ms.create_model('et', 'half32', 32, 'cosine', 'float16');
SELECT ms.create_version('et', 'half32', 'v1');
SELECT ms.upsert_points('et', 'half32', 'v1', array_agg(i::bigint), array_agg(regress_et_vec(i, 32)))
  FROM generate_series(1, 10000) i;
SELECT regexp_replace(c.relname, '[0-9]+', 'N') AS relname, am.amname, oc.opcname
  FROM ms.versions v
  JOIN pg_index x ON x.indrelid = format('ms.points_%s', v.version_id)::regclass
  JOIN pg_class c ON c.oid = x.indexrelid
  JOIN pg_am am ON am.oid = c.relam
  JOIN pg_opclass oc ON oc.oid = x.indclass[0]
 WHERE v.org = 'et' AND v.model = 'half32' AND NOT x.indisprimary
 ORDER BY 1;
SELECT version_id AS half32 FROM ms.versions WHERE org = 'et' AND model = 'half32' \gset
SET machinesoup.scan_order = strict;
SET machinesoup.probes = 1000;
SET enable_seqscan = off;
SELECT regress_et_plan_uses_index(:half32);
SELECT array_agg(point_id ORDER BY distance, point_id) =
	   (SELECT array_agg(point_id ORDER BY d, point_id)
		  FROM (SELECT point_id, embedding <=> regress_et_vec(77, 32)::hvec AS d
				  FROM ms.points_:half32 ORDER BY 2, 1 LIMIT 10) e) AS equal_to_exact
  FROM ms.knn('et', 'half32', regress_et_vec(77, 32), 10, 'v1');
RESET enable_seqscan;
RESET machinesoup.probes;
RESET machinesoup.scan_order;

-- no index for bit (without bvec opclasses) and sparse models: scans, exact
SELECT ms.create_model('et', 'bits64', 64, element_type => 'bit');
SELECT ms.create_version('et', 'bits64', 'v1');
SELECT version_id AS bits64 FROM ms.versions WHERE org = 'et' AND model = 'bits64' \gset
SELECT ms.upsert_points('et', 'bits64', 'v1', array_agg(i::bigint), array_agg(regress_et_vec(i, 64)))
  FROM generate_series(1, 500) i;
SELECT array_agg(distance ORDER BY distance) =
	   (SELECT array_agg(d ORDER BY d)
		  FROM (SELECT embedding <~> binary_quantize(regress_et_vec(5, 64)) AS d
				  FROM ms.points_:bits64 ORDER BY 1 LIMIT 10) e) AS equal_to_exact
  FROM ms.knn('et', 'bits64', regress_et_vec(5, 64), 10, 'v1');

DROP FUNCTION regress_et_vecs(bytea, integer);
DROP FUNCTION regress_et_plan_uses_index(bigint);
DROP FUNCTION regress_le(bytea, integer), regress_f16_record(bigint, hvec),
	regress_f32_record(bigint, vec), regress_et_vec(integer, integer);
DROP FUNCTION regress_try(text), regress_try_value(text);
-- leave the batch ids of the suites after this one as they were
DELETE FROM ms.raw_batches WHERE org = 'et';
SELECT setval('ms.raw_batches_batch_id_seq', :seq_last_value, :'seq_is_called') IS NOT NULL AS restored;
