-- vec: float32 vectors, their I/O, casts, functions, operators, opclasses
-- and aggregates.

\echo Use "CREATE EXTENSION machinesoup" to load this file. \quit

CREATE TYPE vec;

CREATE FUNCTION vec_in(cstring, oid, integer) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_in(cstring, oid, integer) IS 'vec input function: text [x1,x2,...], finite float32 values';
CREATE FUNCTION vec_out(vec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_out(vec) IS 'vec output function: text [x1,x2,...], shortest digits that read back the same float32';
CREATE FUNCTION vec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_typmod_in(cstring[]) IS 'vec type modifier input: the n of vec(n), 1 to 16000';
CREATE FUNCTION vec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_typmod_out(integer) IS 'vec type modifier output: (n)';
CREATE FUNCTION vec_recv(internal, oid, integer) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_recv(internal, oid, integer) IS 'vec binary input: int16 dim, int16 0, dim float4, network byte order';
CREATE FUNCTION vec_send(vec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_send(vec) IS 'vec binary output: int16 dim, int16 0, dim float4, network byte order';

-- ANALYZE adds, to the standard statistics, per-dimension histograms and
-- (up to 3 dimensions) their joint grid, for vecs of up to 16 dimensions:
-- what "v <@ box" is estimated from (src/spatial/vec_selfuncs.c).
CREATE FUNCTION vec_typanalyze(internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
COMMENT ON FUNCTION vec_typanalyze(internal) IS 'vec ANALYZE function: per-dimension histograms (a joint grid up to 3 dimensions) for vecs of up to 16 dimensions, from which vec <@ vbox is estimated';

-- STORAGE main keeps a vec inside its row for as long as the row fits a page
-- (about 2000 dimensions), instead of moving it to TOAST past 2 kB: a
-- sequential scan over 1536-d vecs runs about 3.5x faster that way, because
-- it skips a TOAST index lookup per row (test/bench/vec_sql_bench.sh).
-- Larger vecs still go out of line.  Dense float data does not compress,
-- so the compression attempt that main implies gives up after its first kB.
-- PREFERRED: functions and operators are overloaded for other vector types
-- (hvec), and an untyped literal, as in l2_distance('[1,2]', '[3,4]'),
-- resolves to vec rather than being ambiguous.
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
	STORAGE = main,
	PREFERRED = true
);

COMMENT ON TYPE vec IS 'float32 vector of 1 to 16000 finite elements';

-- casts

CREATE FUNCTION vec(vec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec(vec, integer, boolean) IS 'cast to vec(n): checks that the vec has n dimensions';
CREATE FUNCTION array_to_vec(real[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vec(real[], integer, boolean) IS 'cast real[] to vec: one-dimensional, non-empty, no NULLs, finite values';
CREATE FUNCTION array_to_vec(double precision[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vec(double precision[], integer, boolean) IS 'cast double precision[] to vec: one-dimensional, non-empty, no NULLs, finite values that fit float4';
CREATE FUNCTION array_to_vec(integer[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vec(integer[], integer, boolean) IS 'cast integer[] to vec: one-dimensional, non-empty, no NULLs';
CREATE FUNCTION array_to_vec(numeric[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_vec(numeric[], integer, boolean) IS 'cast numeric[] to vec: one-dimensional, non-empty, no NULLs, finite values that fit float4';
CREATE FUNCTION vec_to_real_array(vec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'vec_to_real_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_to_real_array(vec, integer, boolean) IS 'cast vec to real[]';

CREATE CAST (vec AS vec) WITH FUNCTION vec(vec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (vec AS vec) IS 'implicit: to vec(n), checking the number of dimensions';
CREATE CAST (real[] AS vec) WITH FUNCTION array_to_vec(real[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (real[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec';
CREATE CAST (double precision[] AS vec) WITH FUNCTION array_to_vec(double precision[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (double precision[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec (values must fit float4)';
CREATE CAST (integer[] AS vec) WITH FUNCTION array_to_vec(integer[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (integer[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec';
CREATE CAST (numeric[] AS vec) WITH FUNCTION array_to_vec(numeric[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (numeric[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec (values must fit float4)';
CREATE CAST (vec AS real[]) WITH FUNCTION vec_to_real_array(vec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (vec AS real[]) IS 'assignment: a vec to an array of its elements';

-- functions

CREATE FUNCTION vec_dims(vec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_dims(vec) IS 'number of dimensions';
CREATE FUNCTION vec_norm(vec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_norm(vec) IS 'Euclidean (L2) norm';
CREATE FUNCTION l2_normalize(vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(vec) IS 'the unit vector of the same direction (a zero vector stays zero)';
CREATE FUNCTION subvec(vec, integer, integer) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_subvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvec(vec, integer, integer) IS 'count elements from the 1-based start, clipped like substring';
CREATE FUNCTION l2_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(vec, vec) IS 'Euclidean (L2) distance, as the operator <->';
CREATE FUNCTION vec_l2_squared_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_l2_squared_distance(vec, vec) IS 'squared Euclidean distance';
CREATE FUNCTION inner_product(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(vec, vec) IS 'inner (dot) product';
CREATE FUNCTION vec_negative_inner_product(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_negative_inner_product(vec, vec) IS 'negative inner product, as the operator <#>';
CREATE FUNCTION cosine_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(vec, vec) IS '1 - cos θ, in [0, 2]; NaN when either vector is zero; as the operator <=>';
CREATE FUNCTION l1_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(vec, vec) IS 'Manhattan (L1) distance, as the operator <+>';
CREATE FUNCTION vec_add(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_add(vec, vec) IS 'element-wise sum, as the operator +';
CREATE FUNCTION vec_sub(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_sub(vec, vec) IS 'element-wise difference, as the operator -';
CREATE FUNCTION vec_mul(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_mul(vec, vec) IS 'element-wise product, as the operator *';
CREATE FUNCTION vec_concat(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_concat(vec, vec) IS 'concatenation (at most 16000 dimensions), as the operator ||';
CREATE FUNCTION vec_simd_level() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION vec_simd_level() IS 'SIMD kernels in use for vec distances: avx512, avx2, neon or scalar';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <-> (vec, vec) IS 'L2 (Euclidean) distance; ORDER BY it can use a GiST, SP-GiST or msivf vec_l2_ops index';
CREATE OPERATOR <#> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#> (vec, vec) IS 'negative inner product (smaller is more similar); ORDER BY it can use an msivf vec_ip_ops index';
CREATE OPERATOR <=> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=> (vec, vec) IS 'cosine distance, 1 - cos θ; ORDER BY it can use an msivf vec_cosine_ops index';
CREATE OPERATOR <+> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+> (vec, vec) IS 'L1 (Manhattan) distance; ORDER BY it can use a GiST or SP-GiST index';
CREATE OPERATOR + (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_add, COMMUTATOR = +
);
COMMENT ON OPERATOR + (vec, vec) IS 'element-wise sum (overflow is an error)';
CREATE OPERATOR - (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_sub
);
COMMENT ON OPERATOR - (vec, vec) IS 'element-wise difference (overflow is an error)';
CREATE OPERATOR * (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_mul, COMMUTATOR = *
);
COMMENT ON OPERATOR * (vec, vec) IS 'element-wise product (overflow is an error)';
CREATE OPERATOR || (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_concat
);
COMMENT ON OPERATOR || (vec, vec) IS 'concatenation (at most 16000 dimensions)';

-- comparison, btree and hash

CREATE FUNCTION vec_lt(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_lt(vec, vec) IS 'true when a < b in element-wise lexicographic order, then length; the operator <';
CREATE FUNCTION vec_le(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_le(vec, vec) IS 'true when a <= b in element-wise lexicographic order, then length; the operator <=';
CREATE FUNCTION vec_eq(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_eq(vec, vec) IS 'true when a and b have the same elements (-0 equals 0); the operator =';
CREATE FUNCTION vec_ne(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_ne(vec, vec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION vec_ge(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_ge(vec, vec) IS 'true when a >= b in element-wise lexicographic order, then length; the operator >=';
CREATE FUNCTION vec_gt(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gt(vec, vec) IS 'true when a > b in element-wise lexicographic order, then length; the operator >';
CREATE FUNCTION vec_cmp(vec, vec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_cmp(vec, vec) IS 'btree comparison of vec_ops: -1, 0 or 1 in element-wise lexicographic order, then length';
CREATE FUNCTION vec_hash(vec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_hash(vec) IS 'hash of a vec for vec_hash_ops (-0 and 0 hash alike)';
CREATE FUNCTION vec_hash_extended(vec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_hash_extended(vec, bigint) IS '64-bit seeded hash of a vec for vec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (vec, vec) IS 'less than, in element-wise lexicographic order, then length';
CREATE OPERATOR <= (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (vec, vec) IS 'less than or equal, in element-wise lexicographic order, then length';
CREATE OPERATOR = (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (vec, vec) IS 'equal: the same elements (-0 equals 0)';
CREATE OPERATOR <> (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (vec, vec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (vec, vec) IS 'greater than or equal, in element-wise lexicographic order, then length';
CREATE OPERATOR > (
	LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (vec, vec) IS 'greater than, in element-wise lexicographic order, then length';

CREATE OPERATOR CLASS vec_ops
	DEFAULT FOR TYPE vec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 vec_cmp(vec, vec);
COMMENT ON OPERATOR CLASS vec_ops USING btree IS 'default btree opclass of vec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY vec_ops USING btree IS 'btree operator family of vec_ops';

CREATE OPERATOR CLASS vec_hash_ops
	DEFAULT FOR TYPE vec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 vec_hash(vec),
	FUNCTION 2 vec_hash_extended(vec, bigint);
COMMENT ON OPERATOR CLASS vec_hash_ops USING hash IS 'default hash opclass of vec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY vec_hash_ops USING hash IS 'hash operator family of vec_hash_ops';

-- aggregates
--
-- The state is a double precision[] (the count, then the sum of each
-- dimension), not internal: Citus ships a partial aggregate's state from
-- each shard to the coordinator in its text form, which internal lacks,
-- and without that splits avg into sum and count.

CREATE FUNCTION vec_accum(double precision[], vec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION vec_accum(double precision[], vec) IS 'transition function of sum(vec) and avg(vec): adds a vec to the count and double precision sums';
CREATE FUNCTION vec_accum_combine(double precision[], double precision[])
	RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_accum_combine(double precision[], double precision[]) IS 'combine function of sum(vec) and avg(vec): adds two partial states (parallel and Citus aggregation)';
CREATE FUNCTION vec_accum_sum(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_accum_sum(double precision[]) IS 'final function of sum(vec)';
CREATE FUNCTION vec_accum_avg(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_accum_avg(double precision[]) IS 'final function of avg(vec)';

CREATE AGGREGATE sum(vec) (
	SFUNC = vec_accum,
	STYPE = double precision[],
	FINALFUNC = vec_accum_sum,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(vec) IS 'element-wise sum, accumulated in double precision; skips NULLs, NULL for no rows, refuses mixed dimensions';

CREATE AGGREGATE avg(vec) (
	SFUNC = vec_accum,
	STYPE = double precision[],
	FINALFUNC = vec_accum_avg,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(vec) IS 'element-wise mean, accumulated in double precision; skips NULLs, NULL for no rows, refuses mixed dimensions';
