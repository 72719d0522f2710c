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

-- ANALYZE adds, to the standard statistics, per-dimension histograms and
-- (up to 3 dimensions) their joint grid, for vecs of up to 16 dimensions:
-- what "v <@ box" is estimated from (src/spatial/vec_selfuncs.c).
CREATE FUNCTION vec_typanalyze(internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

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
	ANALYZE = vec_typanalyze,
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
--
-- The state is a double precision[] (the count, then the sum of each
-- dimension), not internal: Citus ships a partial aggregate's state from
-- each shard to the coordinator in its text form, which internal lacks,
-- and without that splits avg into sum and count.

CREATE FUNCTION vec_accum(double precision[], vec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_accum_combine(double precision[], double precision[])
	RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_accum_sum(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_accum_avg(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE sum(vec) (
	SFUNC = vec_accum,
	STYPE = double precision[],
	FINALFUNC = vec_accum_sum,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE avg(vec) (
	SFUNC = vec_accum,
	STYPE = double precision[],
	FINALFUNC = vec_accum_avg,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
