-- vec: float32 vectors, their I/O, casts, functions, operators, opclasses
-- and aggregates.

\echo Use "CREATE EXTENSION machinesoup" to load this file. \quit

CREATE TYPE vec;

CREATE FUNCTION vec_in(cstring, oid, integer) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_out(vec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_recv(internal, oid, integer) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_send(vec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE main keeps a vec inside its row for as long as the row fits a page
-- (about 2000 dimensions), instead of moving it to TOAST past 2 kB: a
-- sequential scan over 1536-d vecs runs about 3.5x faster that way, because
-- it skips a TOAST index lookup per row (test/bench/vec_sql_bench.sh).
-- Larger vecs still go out of line.  Dense float data does not compress,
-- so the compression attempt that main implies gives up after its first kB.
CREATE TYPE vec (
	INPUT = vec_in,
	OUTPUT = vec_out,
	TYPMOD_IN = vec_typmod_in,
	TYPMOD_OUT = vec_typmod_out,
	RECEIVE = vec_recv,
	SEND = vec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);

COMMENT ON TYPE vec IS 'float32 vector of 1 to 16000 finite elements';

-- casts

CREATE FUNCTION vec(vec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(real[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(double precision[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(integer[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(numeric[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_to_real_array(vec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'vec_to_real_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (vec AS vec) WITH FUNCTION vec(vec, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS vec) WITH FUNCTION array_to_vec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS vec) WITH FUNCTION array_to_vec(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS vec) WITH FUNCTION array_to_vec(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS vec) WITH FUNCTION array_to_vec(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (vec AS real[]) WITH FUNCTION vec_to_real_array(vec, integer, boolean) AS ASSIGNMENT;

-- functions

CREATE FUNCTION vec_dims(vec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_norm(vec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvec(vec, integer, integer) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_subvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_l2_squared_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_negative_inner_product(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_add(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_sub(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_mul(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_concat(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_simd_level() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION vec_simd_level() IS 'SIMD kernels in use for vec distances: avx512, avx2, neon or scalar';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_negative_inner_product, COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
CREATE OPERATOR + (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_add, COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_sub
);
CREATE OPERATOR * (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_mul, COMMUTATOR = *
);
CREATE OPERATOR || (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_concat
);

-- comparison, btree and hash

CREATE FUNCTION vec_lt(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_le(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_eq(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_ne(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_ge(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gt(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_cmp(vec, vec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_hash(vec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_hash_extended(vec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR < (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS vec_ops
	DEFAULT FOR TYPE vec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 vec_cmp(vec, vec);

CREATE OPERATOR CLASS vec_hash_ops
	DEFAULT FOR TYPE vec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 vec_hash(vec),
	FUNCTION 2 vec_hash_extended(vec, bigint);

-- aggregates

CREATE FUNCTION vec_agg_accum(internal, vec) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_agg_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_agg_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_agg_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_agg_sum_final(internal) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_agg_avg_final(internal) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE sum(vec) (
	SFUNC = vec_agg_accum,
	STYPE = internal,
	FINALFUNC = vec_agg_sum_final,
	COMBINEFUNC = vec_agg_combine,
	SERIALFUNC = vec_agg_serialize,
	DESERIALFUNC = vec_agg_deserialize,
	PARALLEL = SAFE
);

CREATE AGGREGATE avg(vec) (
	SFUNC = vec_agg_accum,
	STYPE = internal,
	FINALFUNC = vec_agg_avg_final,
	COMBINEFUNC = vec_agg_combine,
	SERIALFUNC = vec_agg_serialize,
	DESERIALFUNC = vec_agg_deserialize,
	PARALLEL = SAFE
);
-- Spatial querying of vecs: the vbox type, vec_dwithin(), and the exact
-- GiST (R-tree) and SP-GiST (k-d tree) opclasses.

-- vbox: axis-aligned n-dimensional box, bounds inclusive, text ([lo],[hi])

CREATE TYPE vbox;

CREATE FUNCTION vbox_in(cstring) RETURNS vbox
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_out(vbox) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_recv(internal) RETURNS vbox
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_send(vbox) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE vbox (
	INPUT = vbox_in,
	OUTPUT = vbox_out,
	RECEIVE = vbox_recv,
	SEND = vbox_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = external
);

COMMENT ON TYPE vbox IS 'axis-aligned box of float32 bounds, ([lo],[hi]), bounds inclusive';

CREATE FUNCTION vbox(vec, vec) RETURNS vbox
	AS 'MODULE_PATHNAME', 'vbox_from_corners' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox(vec, vec) IS 'box with corners lo and hi; reversed bounds are swapped';
CREATE FUNCTION vbox(vec, double precision) RETURNS vbox
	AS 'MODULE_PATHNAME', 'vbox_from_center' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox(vec, double precision) IS 'cube [center - radius, center + radius] that bounds the ball, rounded outward';
CREATE FUNCTION vbox_lo(vbox) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_hi(vbox) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_dims(vbox) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vec_contained_in_vbox(vec, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_contains_vec(vbox, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_overlaps(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_contains(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_contained(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_eq(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vbox_ne(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <@ (
	LEFTARG = vec, RIGHTARG = vbox, FUNCTION = vec_contained_in_vbox,
	COMMUTATOR = '@>', RESTRICT = contsel, JOIN = contjoinsel
);
CREATE OPERATOR @> (
	LEFTARG = vbox, RIGHTARG = vec, FUNCTION = vbox_contains_vec,
	COMMUTATOR = '<@', RESTRICT = contsel, JOIN = contjoinsel
);
CREATE OPERATOR && (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_overlaps,
	COMMUTATOR = '&&', RESTRICT = areasel, JOIN = areajoinsel
);
CREATE OPERATOR @> (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_contains,
	COMMUTATOR = '<@', RESTRICT = contsel, JOIN = contjoinsel
);
CREATE OPERATOR <@ (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_contained,
	COMMUTATOR = '@>', RESTRICT = contsel, JOIN = contjoinsel
);
CREATE OPERATOR = (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_eq,
	COMMUTATOR = '=', NEGATOR = '<>', RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR <> (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_ne,
	COMMUTATOR = '<>', NEGATOR = '=', RESTRICT = neqsel, JOIN = neqjoinsel
);

-- vec_dwithin: a box prefilter an index can use, then the exact distance.
-- The box is vbox(b, r) widened by the float32 rounding of <-> so it never
-- drops a point the distance test would keep.  Kept a single SELECT of an
-- IMMUTABLE expression, and not STRICT (AND is not strict), so the planner
-- inlines it.

CREATE FUNCTION vec_dwithin_box(vec, double precision) RETURNS vbox
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_dwithin_box(vec, double precision) IS 'the box vec_dwithin() searches (internal)';

CREATE FUNCTION vec_dwithin(vec, vec, double precision) RETURNS boolean
	AS 'SELECT $1 OPERATOR(@extschema@.<@) @extschema@.vec_dwithin_box($2, $3) AND $1 OPERATOR(@extschema@.<->) $2 <= $3'
	LANGUAGE sql IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION vec_dwithin(vec, vec, double precision) IS 'true when a <-> b <= r; uses a GiST or SP-GiST index on a';

-- GiST: R-tree (vec_gist_ops).  Keys are boxes stored plain so the index
-- reads them in place; leaf keys hold their point once.

CREATE TYPE vec_gistkey;
CREATE FUNCTION vec_gistkey_in(cstring) RETURNS vec_gistkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gistkey_out(vec_gistkey) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vbox_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE vec_gistkey (
	INPUT = vec_gistkey_in,
	OUTPUT = vec_gistkey_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = plain
);
COMMENT ON TYPE vec_gistkey IS 'GiST key of vec_gist_ops (internal)';

CREATE FUNCTION vec_gist_consistent(internal, vbox, smallint, oid, internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_union(internal, internal) RETURNS vec_gistkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_penalty(internal, internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_picksplit(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_same(vec_gistkey, vec_gistkey, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_distance(internal, vec, smallint, oid, internal) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_fetch(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gist_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Strategies: 8 = vec <@ vbox; 15 = ORDER BY <->; 16 = ORDER BY <+>.
CREATE OPERATOR CLASS vec_gist_ops
	DEFAULT FOR TYPE vec USING gist AS
	OPERATOR 8 <@ (vec, vbox),
	OPERATOR 15 <-> (vec, vec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 vec_gist_consistent(internal, vbox, smallint, oid, internal),
	FUNCTION 2 vec_gist_union(internal, internal),
	FUNCTION 3 vec_gist_compress(internal),
	FUNCTION 5 vec_gist_penalty(internal, internal, internal),
	FUNCTION 6 vec_gist_picksplit(internal, internal),
	FUNCTION 7 vec_gist_same(vec_gistkey, vec_gistkey, internal),
	FUNCTION 8 vec_gist_distance(internal, vec, smallint, oid, internal),
	FUNCTION 9 vec_gist_fetch(internal),
	STORAGE vec_gistkey;

-- Sorted builds (support function 11) exist from PostgreSQL 14 on.
DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 140000 THEN
		ALTER OPERATOR FAMILY vec_gist_ops USING gist
			ADD FUNCTION 11 (vec, vec) vec_gist_sortsupport(internal);
	END IF;
END $$;

-- SP-GiST: k-d tree (vec_spgist_ops), same strategy numbers.

CREATE FUNCTION vec_spgist_config(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_spgist_choose(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_spgist_picksplit(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_spgist_inner_consistent(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_spgist_leaf_consistent(internal, internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS vec_spgist_ops
	DEFAULT FOR TYPE vec USING spgist AS
	OPERATOR 8 <@ (vec, vbox),
	OPERATOR 15 <-> (vec, vec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 vec_spgist_config(internal, internal),
	FUNCTION 2 vec_spgist_choose(internal, internal),
	FUNCTION 3 vec_spgist_picksplit(internal, internal),
	FUNCTION 4 vec_spgist_inner_consistent(internal, internal),
	FUNCTION 5 vec_spgist_leaf_consistent(internal, internal);
-- Batched exact nearest neighbours (OpenBLAS) and the recall of vec indexes.

CREATE FUNCTION vec_knn_exact(tbl regclass, col name, queries vec[], k integer,
							  metric text DEFAULT 'l2')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'vec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vec_knn_exact(regclass, name, vec[], integer, text) IS
'exact k nearest rows of each query in one pass over the table (metric l2, cosine, ip or l1), as blocked sgemm';

CREATE FUNCTION vec_index_recall(idx regclass, queries vec[], k integer DEFAULT 10)
	RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_index_recall' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION vec_index_recall(regclass, vec[], integer) IS
'mean recall@k of ORDER BY col <op> query LIMIT k through the index, with the current settings, against the exact answer';
-- msivf: approximate nearest-neighbour index access method (IVF lists of
-- quantized residuals, exact rerank), with opclasses for L2, inner product
-- and cosine distance.

CREATE FUNCTION msivf_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD msivf TYPE INDEX HANDLER msivf_handler;

COMMENT ON ACCESS METHOD msivf IS 'approximate nearest-neighbour index for vec (inverted lists, quantized codes, exact rerank)';

-- support function 1: which metric an opclass indexes
CREATE FUNCTION msivf_l2_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION msivf_ip_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION msivf_cosine_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OPERATOR CLASS vec_l2_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <-> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l2_metric(internal);

CREATE OPERATOR CLASS vec_ip_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <#> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_ip_metric(internal);

CREATE OPERATOR CLASS vec_cosine_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <=> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_cosine_metric(internal);

CREATE FUNCTION msivf_index_info(index regclass,
	OUT dims integer, OUT lists integer, OUT metric text, OUT code_bits integer,
	OUT calibration_queries integer, OUT probes integer, OUT calibrated_probes integer)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION msivf_index_info(regclass) IS 'shape of an msivf index; probes: what a scan uses now; calibrated_probes: lists needed for machinesoup.target_recall';
-- Governance (schema ms): organisations, models, versions and labels, the
-- promotion history, per-org privileges, and the model store holding every
-- version's points in a partition of its own.
--
-- Security model, in short:
--  * Plain roles have no privileges on any ms table; they call the API
--    functions below, which are SECURITY DEFINER with a pinned search_path
--    and decide themselves, from ms.grants, what the caller may do.
--  * "The caller" is the role in effect at the outer level (SET ROLE
--    included), read in C with GetOuterUserId() by ms._caller().  Inside a
--    SECURITY DEFINER function current_user is the owner, so nothing here
--    ever asks current_user or superuser().
--  * Superusers and members of the extension's owner may do everything
--    (ms._is_privileged()).
--  * Every function body schema-qualifies what it uses (pg_catalog
--    operators included), so nothing a caller creates in its own schemas
--    can run in here, whatever its search_path.
--
-- Privileges (ms.grant / ms.revoke), per role, per org, optionally per model
-- and label; a grant to a role applies to the roles that inherit from it:
--   query     ms.knn / ms.within / ms.in_box on the default label; with a
--             label, on that label only (whether default or not)
--   ingest    ms.ingest and ms.upsert_points into the model (any label, or
--             the granted one)
--   stage     create versions (ms.create_version), set their processors,
--             load points, replay, and query any label of the model (or
--             only the granted label)
--   promote   ms.promote, ms.rollback (with a label: only that label; a
--             rollback needs it on both the current and the restored label)
--   raw_read  audited raw access (later)
--   admin     granted on a whole org only.  Grant and revoke within the
--             org, create models in it, and every privilege above on all of
--             its models EXCEPT raw_read: reading customers' raw data always
--             takes an explicit, visible (and audited) grant, even for an
--             org admin, who may grant it to itself.
-- Who may create: models need admin on the org (or a privileged caller);
-- versions need stage on the model/label (or admin, or privileged).  Only a
-- privileged caller can bring a new org into existence (by creating its first
-- model or granting on it).
--
-- Errors: a refusal is SQLSTATE 42501 naming what was denied.  A caller
-- holding no grant that covers a model gets the very same error whether or
-- not the model (or its org) exists; only callers allowed to see every
-- label of a model learn that a label does not exist.

CREATE SCHEMA ms;
COMMENT ON SCHEMA ms IS 'MachineSoup governance: models, versions, labels, privileges and the model store';
REVOKE ALL ON SCHEMA ms FROM PUBLIC;
GRANT USAGE ON SCHEMA ms TO PUBLIC;

-- Internal helpers written in C (src/governance.c).

CREATE FUNCTION ms._caller() RETURNS regrole
	AS 'MODULE_PATHNAME', 'ms_caller' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ms._caller() IS 'the role in effect at the outer level (SET ROLE included), even inside SECURITY DEFINER code';
CREATE FUNCTION ms._caller_name() RETURNS name
	AS 'MODULE_PATHNAME', 'ms_caller_name' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION ms._is_privileged() RETURNS boolean
	AS 'MODULE_PATHNAME', 'ms_is_privileged' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ms._is_privileged() IS 'true when the caller is a superuser or has the privileges of the extension owner (the owner of schema ms)';
CREATE FUNCTION ms._check_ident(kind text, value text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_check_ident' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ms._check_ident(text, text) IS 'raises 22023 unless value matches ^[a-z0-9][a-z0-9._-]{0,62}$ (22004 when NULL)';

-- Tables.  Every one is keyed by org first, so the whole schema can be
-- sharded on org by an existing engine (Citus, partitions over postgres_fdw).

CREATE TABLE ms.orgs (
	org			text PRIMARY KEY
		CONSTRAINT orgs_org_check CHECK (org ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL
);
COMMENT ON TABLE ms.orgs IS 'customer organisations (tenants)';

CREATE TABLE ms.models (
	org			text NOT NULL REFERENCES ms.orgs,
	model		text NOT NULL
		CONSTRAINT models_model_check CHECK (model ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	dims		integer NOT NULL CHECK (dims BETWEEN 1 AND 16000),
	metric		text NOT NULL CHECK (metric IN ('l2', 'cosine', 'ip')),
	-- the label NULL-label queries resolve to; changed only by
	-- ms.promote/ms.rollback, as one row update under the row's lock
	default_label text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL,
	PRIMARY KEY (org, model)
);
COMMENT ON TABLE ms.models IS 'models: dimension, distance metric and default label';

CREATE SEQUENCE ms.versions_version_id_seq;

CREATE TABLE ms.versions (
	org			text NOT NULL,
	model		text NOT NULL,
	label		text NOT NULL
		CONSTRAINT versions_label_check CHECK (label ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	-- global id; the version's points live in partition ms.points_<version_id>
	version_id	bigint NOT NULL UNIQUE DEFAULT nextval('ms.versions_version_id_seq'),
	processor	regprocedure,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL,
	PRIMARY KEY (org, model, label),
	FOREIGN KEY (org, model) REFERENCES ms.models
);
ALTER SEQUENCE ms.versions_version_id_seq OWNED BY ms.versions.version_id;
COMMENT ON TABLE ms.versions IS 'model versions, one per label; points in ms.points_<version_id>';

CREATE SEQUENCE ms.promotions_promotion_id_seq;

-- Append-only.  Each row establishes a state of the model's default label;
-- "previous" points at the row that established the state before it, so a
-- rollback restores that state in O(1) and successive rollbacks walk back.
CREATE TABLE ms.promotions (
	org			text NOT NULL,
	model		text NOT NULL,
	promotion_id bigint NOT NULL DEFAULT nextval('ms.promotions_promotion_id_seq'),
	action		text NOT NULL CHECK (action IN ('promote', 'rollback')),
	from_label	text,
	to_label	text NOT NULL,
	previous	bigint,
	who			name NOT NULL,
	at			timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (org, model, promotion_id),
	FOREIGN KEY (org, model) REFERENCES ms.models
);
ALTER SEQUENCE ms.promotions_promotion_id_seq OWNED BY ms.promotions.promotion_id;
COMMENT ON TABLE ms.promotions IS 'append-only history of default-label changes (who, when, from, to)';

CREATE TABLE ms.grants (
	org			text NOT NULL REFERENCES ms.orgs,
	-- regrole: stored as an oid, dumped and restored by name
	role		regrole NOT NULL,
	privilege	text NOT NULL
		CHECK (privilege IN ('query', 'ingest', 'stage', 'promote', 'raw_read', 'admin')),
	model		text,
	label		text,
	granted_by	name NOT NULL,
	granted_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (label IS NULL OR model IS NOT NULL),
	CHECK (privilege <> 'admin' OR model IS NULL),
	FOREIGN KEY (org, model) REFERENCES ms.models,
	FOREIGN KEY (org, model, label) REFERENCES ms.versions
);
-- NULL model/label mean "all"; '' is no valid identifier, so it can stand
-- for NULL in the uniqueness key.
CREATE UNIQUE INDEX grants_key ON ms.grants
	(org, role, privilege, coalesce(model, ''), coalesce(label, ''));
COMMENT ON TABLE ms.grants IS 'who may do what, per org and optionally per model and label';

-- The model store.  One LIST partition per version (ms.points_<version_id>),
-- created by ms.create_version with a CHECK pinning its dimension, and an
-- index chosen by dimension (see ms._create_version_index), so a query of
-- one version touches only its own partition.  (A partition cannot carry
-- its own typmod, hence the CHECK.)
CREATE TABLE ms.points (
	org			text NOT NULL,
	version_id	bigint NOT NULL,
	point_id	bigint NOT NULL,
	embedding	@extschema@.vec NOT NULL,
	payload		jsonb,
	CONSTRAINT points_pkey PRIMARY KEY (org, version_id, point_id)
) PARTITION BY LIST (version_id);
COMMENT ON TABLE ms.points IS 'model store: points of every version, one partition per version';

REVOKE ALL ON ALL TABLES IN SCHEMA ms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ms FROM PUBLIC;

-- Governance state is data a DBA must not lose in pg_dump.
SELECT pg_catalog.pg_extension_config_dump('ms.orgs', '');
SELECT pg_catalog.pg_extension_config_dump('ms.models', '');
SELECT pg_catalog.pg_extension_config_dump('ms.versions', '');
SELECT pg_catalog.pg_extension_config_dump('ms.promotions', '');
SELECT pg_catalog.pg_extension_config_dump('ms.grants', '');
SELECT pg_catalog.pg_extension_config_dump('ms.versions_version_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ms.promotions_promotion_id_seq', '');

-- Append-only tables refuse UPDATE, DELETE and TRUNCATE from anyone but a
-- superuser (the outer role, so a SECURITY DEFINER path cannot launder it).
CREATE FUNCTION ms._append_only() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r
					 WHERE r.oid OPERATOR(pg_catalog.=) ms._caller()::pg_catalog.oid), false) THEN
		RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = '42501',
				  DETAIL = pg_catalog.format('%s is refused to everyone but a superuser.', TG_OP);
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER promotions_append_only BEFORE UPDATE OR DELETE ON ms.promotions
	FOR EACH ROW EXECUTE FUNCTION ms._append_only();
CREATE TRIGGER promotions_no_truncate BEFORE TRUNCATE ON ms.promotions
	FOR EACH STATEMENT EXECUTE FUNCTION ms._append_only();

-- Queries (src/governance.c) cache authorisation answers per backend; any
-- change to what they depend on must reach every backend's cache.
CREATE FUNCTION ms._governance_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'ms_governance_changed' LANGUAGE C;
CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ms.models
	FOR EACH STATEMENT EXECUTE FUNCTION ms._governance_changed();
CREATE TRIGGER versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ms.versions
	FOR EACH STATEMENT EXECUTE FUNCTION ms._governance_changed();
CREATE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ms.grants
	FOR EACH STATEMENT EXECUTE FUNCTION ms._governance_changed();

-- What the caller may do with (org, model, label): the one place where
-- grants are interpreted.  No row when the model does not exist.  A plain
-- STABLE SQL function (no SET, not SECURITY DEFINER) so that the planner
-- inlines it into the callers' queries; it is only ever run from SECURITY
-- DEFINER code with the pinned search_path, and PUBLIC cannot execute it.
--   visible     the caller holds some grant covering the model (or is
--               privileged): it may learn that the model exists
--   all_labels  it may learn which labels exist
--   allowed     p_privilege is granted on the resolved label
--   label       resolved label (p_label, else the default) when it exists
CREATE FUNCTION ms._access(p_caller oid, p_privileged boolean, p_org text,
						   p_model text, p_label text, p_privilege text)
RETURNS TABLE (visible boolean, all_labels boolean, allowed boolean,
			   dims integer, metric text, default_label text,
			   label text, version_id bigint)
LANGUAGE sql STABLE AS $$
SELECT
	p_privileged OR coalesce(g.visible, false),
	p_privileged OR coalesce(g.all_labels, false),
	p_privileged OR coalesce(g.allowed, false),
	m.dims, m.metric, m.default_label, v.label, v.version_id
FROM ms.models m
	LEFT JOIN ms.versions v
		ON v.org OPERATOR(pg_catalog.=) m.org
		AND v.model OPERATOR(pg_catalog.=) m.model
		AND v.label OPERATOR(pg_catalog.=) coalesce(p_label, m.default_label)
	-- one pass over the caller's grants in the org covering the model
	CROSS JOIN LATERAL (
		SELECT
			pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 AS visible,
			pg_catalog.bool_or(g.label IS NULL
				AND g.privilege OPERATOR(pg_catalog.=) ANY ('{admin,stage,promote}'::pg_catalog.text[])) AS all_labels,
			pg_catalog.bool_or(
				(g.privilege OPERATOR(pg_catalog.=) 'admin'
				 AND p_privilege OPERATOR(pg_catalog.<>) 'raw_read')
				OR (g.privilege OPERATOR(pg_catalog.=) p_privilege
					AND (g.label OPERATOR(pg_catalog.=) coalesce(p_label, m.default_label)
						 OR (g.label IS NULL
							 AND (p_privilege OPERATOR(pg_catalog.<>) 'query'
								  OR coalesce(p_label, m.default_label) OPERATOR(pg_catalog.=) m.default_label))))
				OR (p_privilege OPERATOR(pg_catalog.=) 'query'
					AND g.privilege OPERATOR(pg_catalog.=) 'stage'
					AND (g.label IS NULL
						 OR g.label OPERATOR(pg_catalog.=) coalesce(p_label, m.default_label)))) AS allowed
		FROM ms.grants g
		WHERE NOT p_privileged
		  AND g.org OPERATOR(pg_catalog.=) p_org
		  AND (g.model IS NULL OR g.model OPERATOR(pg_catalog.=) p_model)
		  AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) p_caller
			   OR pg_catalog.pg_has_role(p_caller, g.role::pg_catalog.oid, 'USAGE'))
	) g
WHERE m.org OPERATOR(pg_catalog.=) p_org
  AND m.model OPERATOR(pg_catalog.=) p_model
$$;

-- Resolve (org, model, label) for an action and raise unless the caller
-- may perform it.  Raises the same 42501 text for a model that does not
-- exist and one the caller may not see.  p_action names the action in
-- messages ("query", "stage", ...); p_need_version: the label must exist.
-- (ms.knn and friends do the same in C, src/governance.c.)
CREATE FUNCTION ms._resolve(p_org text, p_model text, p_label text,
							p_privilege text, p_need_version boolean,
							p_action text DEFAULT NULL)
RETURNS TABLE (visible boolean, all_labels boolean, allowed boolean,
			   dims integer, metric text, default_label text,
			   label text, version_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r			record;
	privileged	boolean := ms._is_privileged();
BEGIN
	PERFORM ms._check_ident('org', p_org);
	PERFORM ms._check_ident('model', p_model);
	IF p_label IS NOT NULL THEN
		PERFORM ms._check_ident('label', p_label);
	END IF;

	SELECT * INTO r FROM ms._access(ms._caller()::pg_catalog.oid, privileged,
									p_org, p_model, p_label, p_privilege) a;
	IF NOT FOUND OR NOT r.visible THEN
		IF privileged THEN
			RAISE EXCEPTION 'model "%/%" does not exist', p_org, p_model
				USING ERRCODE = '42704';
		END IF;
		RAISE EXCEPTION 'permission denied for model "%/%"', p_org, p_model
			USING ERRCODE = '42501';
	END IF;
	IF p_need_version AND r.version_id IS NULL THEN
		IF p_label IS NULL THEN
			RAISE EXCEPTION 'model "%/%" has no default label', p_org, p_model
				USING ERRCODE = '55000',
					  HINT = 'Name a label, or make one the default with ms.promote().';
		ELSIF r.all_labels THEN
			RAISE EXCEPTION 'label "%" of model "%/%" does not exist', p_label, p_org, p_model
				USING ERRCODE = '42704';
		END IF;
		RAISE EXCEPTION 'permission denied for label "%" of model "%/%"', p_label, p_org, p_model
			USING ERRCODE = '42501';
	END IF;
	IF p_privilege IS NOT NULL AND NOT r.allowed THEN
		RAISE EXCEPTION 'permission denied to % label "%" of model "%/%"',
			coalesce(p_action, p_privilege), coalesce(p_label, r.default_label), p_org, p_model
			USING ERRCODE = '42501';
	END IF;
	visible := r.visible;
	all_labels := r.all_labels;
	allowed := r.allowed;
	dims := r.dims;
	metric := r.metric;
	default_label := r.default_label;
	label := r.label;
	version_id := r.version_id;
	RETURN NEXT;
END
$$;

-- Is the caller a holder of admin on the org (or privileged)?
CREATE FUNCTION ms._may_administer(p_org text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
SELECT ms._is_privileged() OR EXISTS (
	SELECT 1 FROM ms.grants g
	WHERE g.org OPERATOR(pg_catalog.=) p_org
	  AND g.privilege OPERATOR(pg_catalog.=) 'admin'
	  AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) ms._caller()::pg_catalog.oid
		   OR pg_catalog.pg_has_role(ms._caller()::pg_catalog.oid, g.role::pg_catalog.oid, 'USAGE')))
$$;

-- Check a processor's signature: (bytea, integer) RETURNS SETOF/TABLE of
-- (bigint, vec, jsonb), and that the caller could execute it itself.
CREATE FUNCTION ms._check_processor(p_processor regprocedure) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ok	boolean;
BEGIN
	IF p_processor IS NULL THEN
		RETURN;
	END IF;
	SELECT p.pronargs OPERATOR(pg_catalog.=) 2
		   AND p.proargtypes[0] OPERATOR(pg_catalog.=) 'pg_catalog.bytea'::pg_catalog.regtype
		   AND p.proargtypes[1] OPERATOR(pg_catalog.=) 'pg_catalog.int4'::pg_catalog.regtype
		   AND p.proretset
		   AND (SELECT pg_catalog.array_agg(t ORDER BY n)
				FROM ROWS FROM (pg_catalog.unnest(p.proallargtypes), pg_catalog.unnest(p.proargmodes))
					 WITH ORDINALITY AS a(t, mode, n)
				WHERE a.mode OPERATOR(pg_catalog.=) ANY ('{o,t}'::"char"[]))
			   OPERATOR(pg_catalog.=) ARRAY['pg_catalog.int8'::pg_catalog.regtype::pg_catalog.oid,
											'@extschema@.vec'::pg_catalog.regtype::pg_catalog.oid,
											'pg_catalog.jsonb'::pg_catalog.regtype::pg_catalog.oid]
	  INTO ok
	  FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) p_processor::pg_catalog.oid;
	IF NOT coalesce(ok, false) THEN
		RAISE EXCEPTION 'function % cannot be a processor', p_processor
			USING ERRCODE = '42P13',
				  DETAIL = 'A processor takes (bytea, integer) and returns TABLE (point_id bigint, embedding vec, payload jsonb).';
	END IF;
	IF NOT pg_catalog.has_function_privilege(ms._caller()::pg_catalog.oid, p_processor::pg_catalog.oid, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', p_processor
			USING ERRCODE = '42501';
	END IF;
END
$$;

-- The index of a version's partition (ms.points_<id>_embedding), chosen
-- by dimension: GiST (an exact R-tree) up to 64 dims, msivf above, whichever
-- of them is installed; none otherwise (queries then scan the partition,
-- which is exact).  Returns whether it created one.  Internal: callers have
-- resolved and authorised the version.
CREATE FUNCTION ms._create_version_index(p_version_id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	r			record;
	opclass		text;
	am			text;
BEGIN
	SELECT m.dims, m.metric INTO r
	  FROM ms.versions v
	  JOIN ms.models m ON m.org OPERATOR(pg_catalog.=) v.org AND m.model OPERATOR(pg_catalog.=) v.model
	 WHERE v.version_id OPERATOR(pg_catalog.=) p_version_id;
	IF r.dims OPERATOR(pg_catalog.<=) 64 THEN
		am := 'gist';
		opclass := 'vec_gist_ops';
	ELSE
		am := 'msivf';
		opclass := CASE r.metric WHEN 'l2' THEN 'vec_l2_ops'
								 WHEN 'ip' THEN 'vec_ip_ops'
								 ELSE 'vec_cosine_ops' END;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c
					 JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) c.opcmethod
					WHERE a.amname OPERATOR(pg_catalog.=) am
					  AND c.opcname OPERATOR(pg_catalog.=) opclass
					  AND c.opcnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace::pg_catalog.oid) THEN
		RETURN false;
	END IF;
	EXECUTE pg_catalog.format('CREATE INDEX %I ON ms.%I USING %I (embedding @extschema@.%I)',
							  pg_catalog.format('%s_embedding', part), part, am, opclass);
	RETURN true;
END
$$;

-- An IVF index trains its centroids on the rows present when it is built,
-- so a version above 64 dims gets its msivf index only once its partition
-- holds ms._version_index_min_rows() points; below that an exact
-- sequential scan of the partition is cheap (10,000 points of 384 dims
-- are 15 MB, a scan of milliseconds) and too few points would train poor
-- centroids.  Called after every load into a partition
-- (ms.upsert_points, and ms._process_batch for ms.ingest and ms.replay).
-- The index is built once: the points loaded later are assigned to the
-- existing centroids, and when a version has grown well beyond what they
-- were trained on (a bulk load after the first 10,000, say), its index is
-- retrained with ms.reindex_version(), or by a DBA with REINDEX INDEX
-- CONCURRENTLY ms.points_<id>_embedding, which does not block queries or
-- loads.
CREATE FUNCTION ms._version_index_min_rows() RETURNS bigint
LANGUAGE sql IMMUTABLE AS 'SELECT 10000::pg_catalog.int8';

CREATE FUNCTION ms._index_if_grown(p_version_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	part		text := pg_catalog.format('points_%s', p_version_id);
	n			bigint;
BEGIN
	-- the usual case, once built: one catalog lookup
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NOT NULL THEN
		RETURN;
	END IF;
	-- counts at most the threshold's worth of rows, whatever the size
	EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM (SELECT FROM ms.%I LIMIT %s) s',
							  part, ms._version_index_min_rows())
	   INTO n;
	IF n OPERATOR(pg_catalog.<) ms._version_index_min_rows() THEN
		RETURN;
	END IF;
	-- Two loaders crossing the threshold at once: one builds, the other
	-- goes on (its rows get into the index when it commits).  Without the
	-- lock both would wait in CREATE INDEX for the other's transaction to
	-- end, a deadlock that aborts one of them.
	IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('ms.points index')::pg_catalog.int4,
											   (p_version_id OPERATOR(pg_catalog.%) 2147483647)::pg_catalog.int4) THEN
		RETURN;
	END IF;
	-- re-checked under the lock: a builder that committed meanwhile
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', part || '_embedding')) IS NULL THEN
		PERFORM ms._create_version_index(p_version_id);
	END IF;
END
$$;

-- API --------------------------------------------------------------------

CREATE FUNCTION ms.create_model(org text, model text, dims integer, metric text DEFAULT 'l2')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_dims		integer := dims;
	p_metric	text := metric;
	n			bigint;
BEGIN
	PERFORM ms._check_ident('org', p_org);
	PERFORM ms._check_ident('model', p_model);
	IF p_dims IS NULL OR p_dims OPERATOR(pg_catalog.<) 1 OR p_dims OPERATOR(pg_catalog.>) 16000 THEN
		RAISE EXCEPTION 'dims must be between 1 and 16000, not %', coalesce(p_dims::pg_catalog.text, 'NULL')
			USING ERRCODE = '22023';
	END IF;
	IF p_metric IS NULL OR NOT p_metric OPERATOR(pg_catalog.=) ANY ('{l2,cosine,ip}'::pg_catalog.text[]) THEN
		RAISE EXCEPTION 'unknown metric "%"', coalesce(p_metric, 'NULL')
			USING ERRCODE = '22023', HINT = 'The metric is one of l2, cosine, ip.';
	END IF;
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to create models in organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;

	IF ms._is_privileged() THEN
		INSERT INTO ms.orgs (org, created_by) VALUES (p_org, ms._caller_name())
			ON CONFLICT DO NOTHING;
	END IF;
	INSERT INTO ms.models (org, model, dims, metric, created_by)
		VALUES (p_org, p_model, p_dims, p_metric, ms._caller_name())
		ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'model "%/%" already exists', p_org, p_model
			USING ERRCODE = '42710';
	END IF;
END
$$;
COMMENT ON FUNCTION ms.create_model(text, text, integer, text) IS 'create a model (needs admin on the org)';

CREATE FUNCTION ms.create_version(org text, model text, label text, processor regprocedure DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	p_processor	regprocedure := processor;
	r			record;
	vid			bigint;
	part		text;
BEGIN
	PERFORM ms._check_ident('label', p_label);	-- mandatory
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', false) a;
	IF r.version_id IS NOT NULL THEN
		RAISE EXCEPTION 'label "%" of model "%/%" already exists', p_label, p_org, p_model
			USING ERRCODE = '42710';
	END IF;
	PERFORM ms._check_processor(p_processor);

	INSERT INTO ms.versions (org, model, label, processor, created_by)
		VALUES (p_org, p_model, p_label, p_processor, ms._caller_name())
		RETURNING ms.versions.version_id INTO vid;

	part := pg_catalog.format('points_%s', vid);
	EXECUTE pg_catalog.format(
		'CREATE TABLE ms.%I PARTITION OF ms.points ('
		'CONSTRAINT %I CHECK (org OPERATOR(pg_catalog.=) %L), '
		'CONSTRAINT %I CHECK (@extschema@.vec_dims(embedding) OPERATOR(pg_catalog.=) %s)'
		') FOR VALUES IN (%s)',
		part, pg_catalog.format('%s_org', part), p_org,
		pg_catalog.format('%s_dims', part), r.dims, vid);
	EXECUTE pg_catalog.format('REVOKE ALL ON ms.%I FROM PUBLIC', part);

	-- The version's own index: see ms._create_version_index.  GiST is
	-- built here, on the empty partition, and grows with it; msivf waits
	-- until there are points to train its centroids on.
	IF r.dims OPERATOR(pg_catalog.<=) 64 THEN
		PERFORM ms._create_version_index(vid);
	END IF;
END
$$;
COMMENT ON FUNCTION ms.create_version(text, text, text, regprocedure) IS 'stage a new version under a label (needs stage)';

CREATE FUNCTION ms.set_processor(org text, model text, label text, processor regprocedure)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	p_processor	regprocedure := processor;
	r			record;
BEGIN
	PERFORM ms._check_ident('label', p_label);
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true) a;
	PERFORM ms._check_processor(p_processor);
	UPDATE ms.versions v SET processor = p_processor
	 WHERE v.version_id OPERATOR(pg_catalog.=) r.version_id;
END
$$;
COMMENT ON FUNCTION ms.set_processor(text, text, text, regprocedure) IS 'set the processor of a version (needs stage)';

CREATE FUNCTION ms.default_label(org text, model text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- any grant covering the model lets one see its default label
	RETURN (SELECT a.default_label FROM ms._resolve(org, model, NULL, NULL, false) a);
END
$$;
COMMENT ON FUNCTION ms.default_label(text, text) IS 'the label NULL-label queries of the model resolve to (NULL when none)';

CREATE FUNCTION ms.promote(org text, model text, label text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	cur			text;
	state		bigint;
BEGIN
	PERFORM ms._check_ident('label', p_label);
	PERFORM ms._resolve(p_org, p_model, p_label, 'promote', true);

	-- The row lock serialises promotions and rollbacks of the model; the
	-- single-row update below is what readers see, old or new, atomically.
	SELECT m.default_label INTO cur FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model
	   FOR UPDATE;
	IF cur OPERATOR(pg_catalog.=) p_label THEN
		RAISE NOTICE 'label "%" is already the default of model "%/%"', p_label, p_org, p_model;
		RETURN;
	END IF;
	SELECT max(h.promotion_id) INTO state FROM ms.promotions h
	 WHERE h.org OPERATOR(pg_catalog.=) p_org AND h.model OPERATOR(pg_catalog.=) p_model;

	INSERT INTO ms.promotions (org, model, action, from_label, to_label, previous, who)
		VALUES (p_org, p_model, 'promote', cur, p_label, state, ms._caller_name());
	UPDATE ms.models m SET default_label = p_label
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
END
$$;
COMMENT ON FUNCTION ms.promote(text, text, text) IS 'make the label the default of the model (needs promote)';

CREATE FUNCTION ms.rollback(org text, model text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	cur			text;
	state		bigint;
	prev_label	text;
	prev_previous bigint;
BEGIN
	-- A rollback demotes the current default and promotes the previous one:
	-- it needs promote on both.  Checked before the history is looked at,
	-- with the same error as for a model that does not exist.
	PERFORM ms._resolve(p_org, p_model, NULL, 'promote', false, 'roll back from');

	SELECT m.default_label INTO cur FROM ms.models m
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model
	   FOR UPDATE;
	-- the latest row established the current state; its "previous" the one before
	SELECT h.previous INTO state FROM ms.promotions h
	 WHERE h.org OPERATOR(pg_catalog.=) p_org AND h.model OPERATOR(pg_catalog.=) p_model
	 ORDER BY h.promotion_id DESC LIMIT 1;
	SELECT h.to_label, h.previous INTO prev_label, prev_previous FROM ms.promotions h
	 WHERE h.org OPERATOR(pg_catalog.=) p_org AND h.model OPERATOR(pg_catalog.=) p_model
	   AND h.promotion_id OPERATOR(pg_catalog.=) state;
	IF prev_label IS NULL THEN
		RAISE EXCEPTION 'model "%/%" has no earlier default label to roll back to', p_org, p_model
			USING ERRCODE = '55000';
	END IF;
	PERFORM ms._resolve(p_org, p_model, prev_label, 'promote', true, 'roll back to');

	INSERT INTO ms.promotions (org, model, action, from_label, to_label, previous, who)
		VALUES (p_org, p_model, 'rollback', cur, prev_label, prev_previous, ms._caller_name());
	UPDATE ms.models m SET default_label = prev_label
	 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model;
	RETURN prev_label;
END
$$;
COMMENT ON FUNCTION ms.rollback(text, text) IS 'restore the previous default label of the model and return it (needs promote)';

-- Shared argument checks of ms.grant and ms.revoke.
CREATE FUNCTION ms._check_grant_args(p_role regrole, p_privilege text, p_org text,
									 p_model text, p_label text, p_verb text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF p_role IS NULL OR p_role::pg_catalog.oid OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'a role is required' USING ERRCODE = '22023';
	END IF;
	IF p_privilege IS NULL OR NOT p_privilege OPERATOR(pg_catalog.=)
			ANY ('{query,ingest,stage,promote,raw_read,admin}'::pg_catalog.text[]) THEN
		RAISE EXCEPTION 'unknown privilege "%"', coalesce(p_privilege, 'NULL')
			USING ERRCODE = '22023',
				  HINT = 'The privileges are query, ingest, stage, promote, raw_read and admin.';
	END IF;
	PERFORM ms._check_ident('org', p_org);
	IF p_model IS NOT NULL THEN
		PERFORM ms._check_ident('model', p_model);
	END IF;
	IF p_label IS NOT NULL THEN
		PERFORM ms._check_ident('label', p_label);
		IF p_model IS NULL THEN
			RAISE EXCEPTION 'a label can only be given with a model' USING ERRCODE = '22023';
		END IF;
	END IF;
	IF p_privilege OPERATOR(pg_catalog.=) 'admin' AND p_model IS NOT NULL THEN
		RAISE EXCEPTION 'admin is % a whole organization, not a model', p_verb
			USING ERRCODE = '22023';
	END IF;
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to % privileges in organization "%"',
			CASE p_verb WHEN 'granted on' THEN 'grant' ELSE 'revoke' END, p_org
			USING ERRCODE = '42501';
	END IF;
END
$$;

CREATE FUNCTION ms.grant(role regrole, privilege text, org text, model text DEFAULT NULL, label text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_role		regrole := role;
	p_privilege	text := privilege;
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
BEGIN
	PERFORM ms._check_grant_args(p_role, p_privilege, p_org, p_model, p_label, 'granted on');
	IF ms._is_privileged() THEN
		INSERT INTO ms.orgs (org, created_by) VALUES (p_org, ms._caller_name())
			ON CONFLICT DO NOTHING;
	END IF;
	-- the granter administers the org, so it may learn what exists in it
	IF p_model IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM ms.models m
			 WHERE m.org OPERATOR(pg_catalog.=) p_org AND m.model OPERATOR(pg_catalog.=) p_model) THEN
		RAISE EXCEPTION 'model "%/%" does not exist', p_org, p_model USING ERRCODE = '42704';
	END IF;
	IF p_label IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM ms.versions v
			 WHERE v.org OPERATOR(pg_catalog.=) p_org AND v.model OPERATOR(pg_catalog.=) p_model
			   AND v.label OPERATOR(pg_catalog.=) p_label) THEN
		RAISE EXCEPTION 'label "%" of model "%/%" does not exist', p_label, p_org, p_model
			USING ERRCODE = '42704';
	END IF;
	INSERT INTO ms.grants (org, role, privilege, model, label, granted_by)
		VALUES (p_org, p_role, p_privilege, p_model, p_label, ms._caller_name())
		ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION ms.grant(regrole, text, text, text, text) IS 'grant a privilege on an org, or one of its models or labels (needs admin on the org)';

CREATE FUNCTION ms.revoke(role regrole, privilege text, org text, model text DEFAULT NULL, label text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_role		regrole := role;
	p_privilege	text := privilege;
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	n			bigint;
BEGIN
	PERFORM ms._check_grant_args(p_role, p_privilege, p_org, p_model, p_label, 'revoked on');
	DELETE FROM ms.grants g
	 WHERE g.org OPERATOR(pg_catalog.=) p_org
	   AND g.role::pg_catalog.oid OPERATOR(pg_catalog.=) p_role::pg_catalog.oid
	   AND g.privilege OPERATOR(pg_catalog.=) p_privilege
	   AND g.model IS NOT DISTINCT FROM p_model
	   AND g.label IS NOT DISTINCT FROM p_label;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n OPERATOR(pg_catalog.=) 0 THEN
		RAISE NOTICE 'role % holds no such grant', p_role;
	END IF;
END
$$;
COMMENT ON FUNCTION ms.revoke(regrole, text, text, text, text) IS 'revoke a grant made with ms.grant (same arguments)';

CREATE FUNCTION ms.upsert_points(org text, model text, label text, ids bigint[],
								 vecs @extschema@.vec[], payloads jsonb[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	bad			record;
	n			bigint;
BEGIN
	-- loading points is staging work, or ingest
	BEGIN
		SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true) a;
	EXCEPTION WHEN insufficient_privilege THEN
		SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'ingest', true, 'load points into') a;
	END;

	IF ids IS NULL OR vecs IS NULL THEN
		RAISE EXCEPTION 'ids and vecs must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF pg_catalog.cardinality(ids) OPERATOR(pg_catalog.<>) pg_catalog.cardinality(vecs)
	   OR (payloads IS NOT NULL
		   AND pg_catalog.cardinality(payloads) OPERATOR(pg_catalog.<>) pg_catalog.cardinality(ids)) THEN
		RAISE EXCEPTION 'ids, vecs and payloads must have the same number of elements'
			USING ERRCODE = '22023';
	END IF;

	SELECT u.n, u.id, u.v INTO bad
	  FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(vecs)) WITH ORDINALITY AS u(id, v, n)
	 WHERE u.id IS NULL OR u.v IS NULL
		OR @extschema@.vec_dims(u.v) OPERATOR(pg_catalog.<>) r.dims
		OR (r.metric OPERATOR(pg_catalog.=) 'cosine'
			AND @extschema@.vec_norm(u.v) OPERATOR(pg_catalog.=) 0::pg_catalog.float8)
	 ORDER BY u.n LIMIT 1;
	IF FOUND THEN
		IF bad.id IS NULL OR bad.v IS NULL THEN
			RAISE EXCEPTION 'point % has a NULL id or vec', bad.n USING ERRCODE = '22004';
		ELSIF @extschema@.vec_dims(bad.v) OPERATOR(pg_catalog.<>) r.dims THEN
			RAISE EXCEPTION 'different vec dimensions % and %', @extschema@.vec_dims(bad.v), r.dims
				USING ERRCODE = '22000',
					  DETAIL = pg_catalog.format('Point %s (id %s) has %s dimensions; model "%s/%s" has %s.',
												 bad.n, bad.id, @extschema@.vec_dims(bad.v), p_org, p_model, r.dims);
		END IF;
		RAISE EXCEPTION 'point % (id %) is a zero vector, which has no cosine distance', bad.n, bad.id
			USING ERRCODE = '22023';
	END IF;
	SELECT u.id INTO bad FROM pg_catalog.unnest(ids) AS u(id)
	 GROUP BY u.id HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'point id % appears more than once', bad.id USING ERRCODE = '21000';
	END IF;

	INSERT INTO ms.points AS p (org, version_id, point_id, embedding, payload)
		SELECT p_org, r.version_id, u.id, u.v, u.p
		  FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(vecs),
						  pg_catalog.unnest(payloads)) AS u(id, v, p)
		ON CONFLICT ON CONSTRAINT points_pkey
		DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM ms._index_if_grown(r.version_id);
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms.upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]) IS 'insert or replace points of a version (needs stage or ingest)';

CREATE FUNCTION ms.reindex_version(org text, model text, label text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	idx			text;
BEGIN
	-- Rebuilding retrains an msivf index on the points present now (after
	-- a bulk load, say).  It blocks loads into the version and queries of
	-- it while it runs; a DBA can do the same without blocking either with
	-- REINDEX INDEX CONCURRENTLY, which cannot run inside a function.
	PERFORM ms._check_ident('label', p_label);
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true, 'reindex') a;
	idx := pg_catalog.format('points_%s_embedding', r.version_id);
	IF pg_catalog.to_regclass(pg_catalog.format('ms.%I', idx)) IS NOT NULL THEN
		EXECUTE pg_catalog.format('REINDEX INDEX ms.%I', idx);
	ELSIF NOT ms._create_version_index(r.version_id) THEN
		RAISE NOTICE 'no index access method for model "%/%" is installed', p_org, p_model;
	END IF;
END
$$;
COMMENT ON FUNCTION ms.reindex_version(text, text, text) IS 'rebuild the index of a version, or build it if it has none, e.g. to retrain it after a bulk load (needs stage)';

-- Queries, in C: authorise through ms._access, then run a cached plan on the
-- version's own partition, ordered by the model's metric so its index serves.
CREATE FUNCTION ms.knn(org text, model text, query @extschema@.vec, k integer, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_knn'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 10;
COMMENT ON FUNCTION ms.knn(text, text, @extschema@.vec, integer, text) IS 'the k nearest points of a model version, by the model metric (needs query)';

CREATE FUNCTION ms.within(org text, model text, query @extschema@.vec, radius double precision, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_within'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.within(text, text, @extschema@.vec, double precision, text) IS 'points of a model version within a distance, nearest first (needs query)';

CREATE FUNCTION ms.in_box(org text, model text, box @extschema@.vbox, label text DEFAULT NULL)
RETURNS TABLE (point_id bigint, distance double precision, payload jsonb)
AS 'MODULE_PATHNAME', 'ms_in_box'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 100;
COMMENT ON FUNCTION ms.in_box(text, text, @extschema@.vbox, text) IS 'points of a model version inside a box (bounds inclusive), nearest to its centre first (needs query)';

-- The API is open to everyone: each function checks grants itself.  The
-- internal helpers are not.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ms FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ms.create_model(text, text, integer, text),
	ms.create_version(text, text, text, regprocedure),
	ms.set_processor(text, text, text, regprocedure),
	ms.default_label(text, text),
	ms.promote(text, text, text),
	ms.rollback(text, text),
	ms.grant(regrole, text, text, text, text),
	ms.revoke(regrole, text, text, text, text),
	ms.upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]),
	ms.reindex_version(text, text, text),
	ms.knn(text, text, @extschema@.vec, integer, text),
	ms.within(text, text, @extschema@.vec, double precision, text),
	ms.in_box(text, text, @extschema@.vbox, text)
TO PUBLIC;
-- Raw data: the audit log, the LZ4 batch store,
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

-- Raw batches: one LZ4 frame (block and content checksums) per batch, kept
-- out of line and uncompressed by TOAST (it is compressed already); the
-- content is never indexed.  Keyed by (org, model, received_at).
CREATE SEQUENCE ms.raw_batches_batch_id_seq;

CREATE TABLE ms.raw_batches (
	org			text NOT NULL,
	model		text NOT NULL,
	received_at	timestamptz NOT NULL,
	batch_id	bigint NOT NULL DEFAULT nextval('ms.raw_batches_batch_id_seq'),
	label		text NOT NULL,
	raw_bytes	bigint NOT NULL CHECK (raw_bytes >= 0),
	stored_bytes bigint NOT NULL,
	ingested_by	name NOT NULL,
	frame		bytea NOT NULL,
	PRIMARY KEY (org, model, received_at, batch_id),
	FOREIGN KEY (org, model) REFERENCES ms.models
);
ALTER TABLE ms.raw_batches ALTER COLUMN frame SET STORAGE EXTERNAL;
ALTER SEQUENCE ms.raw_batches_batch_id_seq OWNED BY ms.raw_batches.batch_id;
CREATE INDEX raw_batches_batch_id ON ms.raw_batches (batch_id);
COMMENT ON TABLE ms.raw_batches IS 'raw data batches as LZ4 frames, keyed by (org, model, received_at)';
REVOKE ALL ON ms.raw_batches FROM PUBLIC;
REVOKE ALL ON SEQUENCE ms.raw_batches_batch_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ms.raw_batches', '');
SELECT pg_catalog.pg_extension_config_dump('ms.raw_batches_batch_id_seq', '');

-- The default machinesoup.processor_role: no privileges of its own.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'machinesoup_processor') THEN
		CREATE ROLE machinesoup_processor NOLOGIN;
	END IF;
END
$$;

-- Codec and processors (src/raw_codec.c, src/raw_proc.c).

CREATE FUNCTION ms._lz4_encode(data bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_lz4_encode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ms._lz4_decode(frame bytea, raw_bytes bigint, batch_id bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_lz4_decode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ms.proc_csv(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_csv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_csv(bytea, integer) IS 'built-in processor: lines "point_id,x1,...,xD"';
CREATE FUNCTION ms.proc_float32(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_proc_float32' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION ms.proc_float32(bytea, integer) IS 'built-in processor: records of int64 id + D float32, little-endian';

-- Run a processor on one batch (NULL: ms.proc_csv) and check its rows
-- against the model (dims, metric: no NULLs, no zero vector under cosine,
-- no id twice); user code runs as machinesoup.processor_role in a
-- security-restricted operation.
CREATE FUNCTION ms._run_processor(processor regprocedure, batch bytea, dims integer,
								  metric text)
RETURNS TABLE (point_id bigint, embedding @extschema@.vec, payload jsonb)
	AS 'MODULE_PATHNAME', 'ms_run_processor' LANGUAGE C VOLATILE;

-- Feed one decoded batch through a version's processor into its points
-- (the version's partition; rows already checked by ms._run_processor).
-- Internal: callers have resolved and authorised the version.
CREATE FUNCTION ms._process_batch(p_org text, p_version_id bigint, p_processor regprocedure,
								  p_dims integer, p_metric text, p_data bytea)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n		bigint;
BEGIN
	-- New ids are the common case, and a plain INSERT is much cheaper than
	-- ON CONFLICT's speculative insertion; ids already present (a replay,
	-- a producer re-sending) take the upsert.
	BEGIN
		INSERT INTO ms.points AS p (org, version_id, point_id, embedding, payload)
			SELECT p_org, p_version_id, r.point_id, r.embedding, r.payload
			  FROM ms._run_processor(p_processor, p_data, p_dims, p_metric) r;
	EXCEPTION WHEN unique_violation THEN
		INSERT INTO ms.points AS p (org, version_id, point_id, embedding, payload)
			SELECT p_org, p_version_id, r.point_id, r.embedding, r.payload
			  FROM ms._run_processor(p_processor, p_data, p_dims, p_metric) r
			ON CONFLICT ON CONSTRAINT points_pkey
			DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload;
	END;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM ms._index_if_grown(p_version_id);
	RETURN n;
END
$$;

-- API ----------------------------------------------------------------------

CREATE FUNCTION ms.ingest(org text, model text, data bytea, label text DEFAULT NULL)
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
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'ingest', true, 'ingest into') a;
	IF data IS NULL THEN
		RAISE EXCEPTION 'data must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT v.processor INTO proc FROM ms.versions v
	 WHERE v.version_id OPERATOR(pg_catalog.=) r.version_id;
	frame := ms._lz4_encode(data);
	INSERT INTO ms.raw_batches AS b (org, model, received_at, label, raw_bytes, stored_bytes,
									 ingested_by, frame)
		VALUES (p_org, p_model, pg_catalog.clock_timestamp(), r.label,
				pg_catalog.length(data), pg_catalog.length(frame), ms._caller_name(), frame)
		RETURNING b.batch_id INTO bid;
	-- same transaction: a processor error takes the raw frame with it
	PERFORM ms._process_batch(p_org, r.version_id, proc, r.dims, r.metric, data);
	RETURN bid;
END
$$;
COMMENT ON FUNCTION ms.ingest(text, text, bytea, text) IS 'store a raw batch (LZ4) and process it into the version''s points (needs ingest)';

CREATE FUNCTION ms.batches(org text, model text, since timestamptz DEFAULT NULL,
						   until timestamptz DEFAULT NULL)
RETURNS TABLE (batch_id bigint, received_at timestamptz, label text, raw_bytes bigint,
			   stored_bytes bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	privileged	boolean := ms._is_privileged();
BEGIN
	-- visibility first: the same error as for a model that does not exist
	PERFORM ms._resolve(p_org, p_model, NULL, NULL, false);
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.unnest('{raw_read,stage,ingest}'::pg_catalog.text[]) p,
						LATERAL ms._access(ms._caller()::pg_catalog.oid, privileged,
										   p_org, p_model, NULL, p) a
				   WHERE a.allowed) THEN
		RAISE EXCEPTION 'permission denied to list batches of model "%/%"', p_org, p_model
			USING ERRCODE = '42501',
				  HINT = 'Listing batches needs raw_read, stage or ingest on the model.';
	END IF;
	RETURN QUERY
		SELECT b.batch_id, b.received_at, b.label, b.raw_bytes, b.stored_bytes
		  FROM ms.raw_batches b
		 WHERE b.org OPERATOR(pg_catalog.=) p_org AND b.model OPERATOR(pg_catalog.=) p_model
		   AND (since IS NULL OR b.received_at OPERATOR(pg_catalog.>=) since)
		   AND (until IS NULL OR b.received_at OPERATOR(pg_catalog.<) until)
		 ORDER BY b.received_at, b.batch_id;
END
$$;
COMMENT ON FUNCTION ms.batches(text, text, timestamptz, timestamptz) IS 'raw batches of a model received in [since, until) (needs raw_read, stage or ingest)';

CREATE FUNCTION ms.replay(org text, model text, label text, since timestamptz DEFAULT NULL,
						  until timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	b			record;
	proc		regprocedure;
	n			bigint := 0;
BEGIN
	SELECT * INTO r FROM ms._resolve(p_org, p_model, p_label, 'stage', true, 'replay into') a;
	SELECT v.processor INTO proc FROM ms.versions v
	 WHERE v.version_id OPERATOR(pg_catalog.=) r.version_id;
	-- replay reads raw data: recorded (durably) before any is read
	PERFORM ms._audit('replay', p_org, p_model, r.label, NULL,
					  pg_catalog.format('batches received in [%s, %s)',
										coalesce(since::pg_catalog.text, '-infinity'),
										coalesce(until::pg_catalog.text, 'infinity')));
	-- only this model's batches: never another model's or org's
	FOR b IN
		SELECT rb.batch_id, rb.raw_bytes, rb.frame FROM ms.raw_batches rb
		 WHERE rb.org OPERATOR(pg_catalog.=) p_org AND rb.model OPERATOR(pg_catalog.=) p_model
		   AND (since IS NULL OR rb.received_at OPERATOR(pg_catalog.>=) since)
		   AND (until IS NULL OR rb.received_at OPERATOR(pg_catalog.<) until)
		 ORDER BY rb.received_at, rb.batch_id
	LOOP
		PERFORM ms._process_batch(p_org, r.version_id, proc, r.dims, r.metric,
								  ms._lz4_decode(b.frame, b.raw_bytes, b.batch_id));
		n := n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ms.replay(text, text, text, timestamptz, timestamptz) IS 'feed the model''s raw batches received in [since, until) through a version''s processor (needs stage; audited); returns the number of batches';

-- Audited access sessions (src/raw_access.c).
CREATE FUNCTION ms.open_access(org text, model text, reason text) RETURNS void
	AS 'MODULE_PATHNAME', 'ms_open_access'
	LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.open_access(text, text, text) IS 'open an audited raw data access session on a model (needs raw_read and a reason)';
CREATE FUNCTION ms.close_access() RETURNS void
	AS 'MODULE_PATHNAME', 'ms_close_access'
	LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.close_access() IS 'close the raw data access session';
CREATE FUNCTION ms.read_batch(batch_id bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ms_read_batch'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ms.read_batch(bigint) IS 'the raw bytes of a batch, inside an open access session on its model (audited)';
CREATE FUNCTION ms.access_session(OUT org text, OUT model text, OUT reason text,
								  OUT opened_at timestamptz, OUT expires_at timestamptz)
	AS 'MODULE_PATHNAME', 'ms_access_session' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms.access_session() IS 'this connection''s open access session (NULLs when none)';

CREATE FUNCTION ms.access_report(org text, since timestamptz DEFAULT NULL,
								 until timestamptz DEFAULT NULL)
RETURNS TABLE ("at" timestamptz, role name, action text, model text, label text,
			   batch_id bigint, client_addr inet, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
BEGIN
	PERFORM ms._check_ident('org', p_org);
	IF NOT ms._may_administer(p_org) THEN
		RAISE EXCEPTION 'permission denied to read the access report of organization "%"', p_org
			USING ERRCODE = '42501';
	END IF;
	RETURN QUERY
		SELECT l.at, l.role, l.action, l.model, l.label, l.batch_id, l.client_addr, l.reason
		  FROM ms.audit_log l
		 WHERE l.org OPERATOR(pg_catalog.=) p_org
		   AND (since IS NULL OR l.at OPERATOR(pg_catalog.>=) since)
		   AND (until IS NULL OR l.at OPERATOR(pg_catalog.<) until)
		 ORDER BY l.at, l.id;
END
$$;
COMMENT ON FUNCTION ms.access_report(text, timestamptz, timestamptz) IS 'every audited action on the organization''s data in [since, until) (needs admin on the org)';

-- Governance actions are audited too: promotions and rollbacks (rows of
-- ms.promotions), grants and revokes (rows of ms.grants coming and going).
-- Only changes made through the API functions are audited: rows that
-- pg_restore (or a superuser's own DML) writes into these tables are not
-- grants or promotions being made, and a restore must not need the writer.
CREATE FUNCTION ms._called_from(p_functions text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	stack	text;
BEGIN
	GET DIAGNOSTICS stack = PG_CONTEXT;
	-- reserved words are quoted there: ms."grant"(...)
	RETURN stack ~ ('function ms\."?(' || p_functions || ')"?\(');
END
$$;

CREATE FUNCTION ms._audit_promotion() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT ms._called_from('promote|rollback') THEN
		RETURN NULL;
	END IF;
	PERFORM ms._audit(NEW.action, NEW.org, NEW.model, NEW.to_label, NULL,
					  pg_catalog.format('default label %s -> %s',
										coalesce(NEW.from_label, '(none)'), NEW.to_label));
	RETURN NULL;
END
$$;
CREATE TRIGGER promotions_audit AFTER INSERT ON ms.promotions
	FOR EACH ROW EXECUTE FUNCTION ms._audit_promotion();

CREATE FUNCTION ms._audit_grant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	g	record;
BEGIN
	IF NOT ms._called_from('grant|revoke') THEN
		RETURN NULL;
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
		g := NEW;
	ELSE
		g := OLD;
	END IF;
	PERFORM ms._audit(CASE TG_OP WHEN 'INSERT' THEN 'grant' ELSE 'revoke' END,
					  g.org, g.model, g.label, NULL,
					  pg_catalog.format('%s %s %s', g.privilege,
										CASE TG_OP WHEN 'INSERT' THEN 'to' ELSE 'from' END,
										g.role));
	RETURN NULL;
END
$$;
CREATE TRIGGER grants_audit AFTER INSERT OR DELETE ON ms.grants
	FOR EACH ROW EXECUTE FUNCTION ms._audit_grant();

REVOKE ALL ON FUNCTION
	ms._lz4_encode(bytea),
	ms._lz4_decode(bytea, bigint, bigint),
	ms._run_processor(regprocedure, bytea, integer, text),
	ms._process_batch(text, bigint, regprocedure, integer, text, bytea),
	ms._called_from(text),
	ms._audit_promotion(),
	ms._audit_grant()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ms.proc_csv(bytea, integer),
	ms.proc_float32(bytea, integer),
	ms.ingest(text, text, bytea, text),
	ms.batches(text, text, timestamptz, timestamptz),
	ms.replay(text, text, text, timestamptz, timestamptz),
	ms.open_access(text, text, text),
	ms.close_access(),
	ms.read_batch(bigint),
	ms.access_session(),
	ms.access_report(text, timestamptz, timestamptz)
TO PUBLIC;
