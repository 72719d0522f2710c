-- hvec: IEEE 754 half-precision (binary16) vectors, their I/O, casts,
-- functions, operators, opclasses and aggregates.  After vec: its casts,
-- and its aggregates' combine function, are vec's.

CREATE TYPE hvec;

CREATE FUNCTION hvec_in(cstring, oid, integer) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_in(cstring, oid, integer) IS 'hvec input function: text [x1,x2,...], each rounded to the nearest half; magnitudes up to 65504';
CREATE FUNCTION hvec_out(hvec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_out(hvec) IS 'hvec output function: text [x1,x2,...], shortest digits that read back the same half (whole numbers exactly)';
CREATE FUNCTION hvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_typmod_in(cstring[]) IS 'hvec type modifier input: the n of hvec(n), 1 to 16000';
CREATE FUNCTION hvec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vec_typmod_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_typmod_out(integer) IS 'hvec type modifier output: (n)';
CREATE FUNCTION hvec_recv(internal, oid, integer) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_recv(internal, oid, integer) IS 'hvec binary input: int16 dim, int16 0, dim binary16 values as uint16, network byte order';
CREATE FUNCTION hvec_send(hvec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_send(hvec) IS 'hvec binary output: int16 dim, int16 0, dim binary16 values as uint16, network byte order';

-- STORAGE main, as for vec: in the row while it fits a page (about 4000
-- dimensions), out of line beyond.
CREATE TYPE hvec (
	INPUT = hvec_in,
	OUTPUT = hvec_out,
	TYPMOD_IN = hvec_typmod_in,
	TYPMOD_OUT = hvec_typmod_out,
	RECEIVE = hvec_recv,
	SEND = hvec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);

COMMENT ON TYPE hvec IS 'half-precision (IEEE 754 binary16) vector of 1 to 16000 finite elements';

-- casts: hvec -> vec is exact, so implicit; the rest round, so assignment

CREATE FUNCTION hvec(hvec, integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'hvec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec(hvec, integer, boolean) IS 'cast to hvec(n): checks that the hvec has n dimensions';
CREATE FUNCTION hvec_to_vec(hvec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'hvec_to_vec_cast' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_to_vec(hvec, integer, boolean) IS 'cast hvec to vec: exact';
CREATE FUNCTION vec_to_hvec(vec, integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'vec_to_hvec_cast' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_to_hvec(vec, integer, boolean) IS 'cast vec to hvec: each element rounded to the nearest half; magnitudes above 65504 are an error';
CREATE FUNCTION array_to_hvec(real[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(real[], integer, boolean) IS 'cast real[] to hvec: one-dimensional, non-empty, no NULLs, finite values that fit half';
CREATE FUNCTION array_to_hvec(double precision[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(double precision[], integer, boolean) IS 'cast double precision[] to hvec: one-dimensional, non-empty, no NULLs, finite values that fit half';
CREATE FUNCTION array_to_hvec(integer[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(integer[], integer, boolean) IS 'cast integer[] to hvec: one-dimensional, non-empty, no NULLs, values that fit half';
CREATE FUNCTION array_to_hvec(numeric[], integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME', 'array_to_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION array_to_hvec(numeric[], integer, boolean) IS 'cast numeric[] to hvec: one-dimensional, non-empty, no NULLs, finite values that fit half';
CREATE FUNCTION hvec_to_real_array(hvec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'hvec_to_real_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_to_real_array(hvec, integer, boolean) IS 'cast hvec to real[]: exact';

CREATE CAST (hvec AS hvec) WITH FUNCTION hvec(hvec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (hvec AS hvec) IS 'implicit: to hvec(n), checking the number of dimensions';
CREATE CAST (hvec AS vec) WITH FUNCTION hvec_to_vec(hvec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (hvec AS vec) IS 'implicit: every half is a float4, so nothing is lost';
CREATE CAST (vec AS hvec) WITH FUNCTION vec_to_hvec(vec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (vec AS hvec) IS 'assignment: each element rounded to the nearest half (an error above 65504)';
CREATE CAST (real[] AS hvec) WITH FUNCTION array_to_hvec(real[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (real[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (double precision[] AS hvec) WITH FUNCTION array_to_hvec(double precision[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (double precision[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (integer[] AS hvec) WITH FUNCTION array_to_hvec(integer[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (integer[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (numeric[] AS hvec) WITH FUNCTION array_to_hvec(numeric[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (numeric[] AS hvec) IS 'assignment: a one-dimensional array without NULLs to an hvec';
CREATE CAST (hvec AS real[]) WITH FUNCTION hvec_to_real_array(hvec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (hvec AS real[]) IS 'assignment: an hvec to an array of its elements';

-- functions: vec's names, overloaded

CREATE FUNCTION vec_dims(hvec) RETURNS integer
	AS 'MODULE_PATHNAME', 'hvec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_dims(hvec) IS 'number of dimensions';
CREATE FUNCTION vec_norm(hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_norm(hvec) IS 'Euclidean (L2) norm';
CREATE FUNCTION l2_normalize(hvec) RETURNS hvec
	AS 'MODULE_PATHNAME', 'hvec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(hvec) IS 'the unit vector of the same direction, rounded to half (a zero vector stays zero)';
CREATE FUNCTION subvec(hvec, integer, integer) RETURNS hvec
	AS 'MODULE_PATHNAME', 'hvec_subvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvec(hvec, integer, integer) IS 'count elements from the 1-based start, clipped like substring';
CREATE FUNCTION l2_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(hvec, hvec) IS 'Euclidean (L2) distance, as the operator <->';
CREATE FUNCTION vec_l2_squared_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_l2_squared_distance(hvec, hvec) IS 'squared Euclidean distance';
CREATE FUNCTION inner_product(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(hvec, hvec) IS 'inner (dot) product';
CREATE FUNCTION vec_negative_inner_product(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_negative_inner_product(hvec, hvec) IS 'negative inner product, as the operator <#>';
CREATE FUNCTION cosine_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(hvec, hvec) IS '1 - cos θ, in [0, 2]; NaN when either vector is zero; as the operator <=>';
CREATE FUNCTION l1_distance(hvec, hvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'hvec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(hvec, hvec) IS 'Manhattan (L1) distance, as the operator <+>';
CREATE FUNCTION hvec_add(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_add(hvec, hvec) IS 'element-wise sum, rounded to half, as the operator +';
CREATE FUNCTION hvec_sub(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_sub(hvec, hvec) IS 'element-wise difference, rounded to half, as the operator -';
CREATE FUNCTION hvec_mul(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_mul(hvec, hvec) IS 'element-wise product, rounded to half, as the operator *';
CREATE FUNCTION hvec_concat(hvec, hvec) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_concat(hvec, hvec) IS 'concatenation (at most 16000 dimensions), as the operator ||';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <-> (hvec, hvec) IS 'L2 (Euclidean) distance; ORDER BY it can use an msivf hvec_l2_ops index';
CREATE OPERATOR <#> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = vec_negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#> (hvec, hvec) IS 'negative inner product (smaller is more similar); ORDER BY it can use an msivf hvec_ip_ops index';
CREATE OPERATOR <=> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=> (hvec, hvec) IS 'cosine distance, 1 - cos θ; ORDER BY it can use an msivf hvec_cosine_ops index';
CREATE OPERATOR <+> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+> (hvec, hvec) IS 'L1 (Manhattan) distance';
CREATE OPERATOR + (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_add, COMMUTATOR = +
);
COMMENT ON OPERATOR + (hvec, hvec) IS 'element-wise sum, rounded to half (overflow is an error)';
CREATE OPERATOR - (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_sub
);
COMMENT ON OPERATOR - (hvec, hvec) IS 'element-wise difference, rounded to half (overflow is an error)';
CREATE OPERATOR * (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_mul, COMMUTATOR = *
);
COMMENT ON OPERATOR * (hvec, hvec) IS 'element-wise product, rounded to half (overflow is an error)';
CREATE OPERATOR || (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_concat
);
COMMENT ON OPERATOR || (hvec, hvec) IS 'concatenation (at most 16000 dimensions)';

-- comparison, btree and hash

CREATE FUNCTION hvec_lt(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_lt(hvec, hvec) IS 'true when a < b in element-wise lexicographic order, then length; the operator <';
CREATE FUNCTION hvec_le(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_le(hvec, hvec) IS 'true when a <= b in element-wise lexicographic order, then length; the operator <=';
CREATE FUNCTION hvec_eq(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_eq(hvec, hvec) IS 'true when a and b have the same elements (-0 equals 0); the operator =';
CREATE FUNCTION hvec_ne(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_ne(hvec, hvec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION hvec_ge(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_ge(hvec, hvec) IS 'true when a >= b in element-wise lexicographic order, then length; the operator >=';
CREATE FUNCTION hvec_gt(hvec, hvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_gt(hvec, hvec) IS 'true when a > b in element-wise lexicographic order, then length; the operator >';
CREATE FUNCTION hvec_cmp(hvec, hvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_cmp(hvec, hvec) IS 'btree comparison of hvec_ops: -1, 0 or 1 in element-wise lexicographic order, then length';
CREATE FUNCTION hvec_hash(hvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_hash(hvec) IS 'hash of an hvec for hvec_hash_ops (-0 and 0 hash alike)';
CREATE FUNCTION hvec_hash_extended(hvec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_hash_extended(hvec, bigint) IS '64-bit seeded hash of an hvec for hvec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (hvec, hvec) IS 'less than, in element-wise lexicographic order, then length';
CREATE OPERATOR <= (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (hvec, hvec) IS 'less than or equal, in element-wise lexicographic order, then length';
CREATE OPERATOR = (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (hvec, hvec) IS 'equal: the same elements (-0 equals 0)';
CREATE OPERATOR <> (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (hvec, hvec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (hvec, hvec) IS 'greater than or equal, in element-wise lexicographic order, then length';
CREATE OPERATOR > (
	LEFTARG = hvec, RIGHTARG = hvec, FUNCTION = hvec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (hvec, hvec) IS 'greater than, in element-wise lexicographic order, then length';

CREATE OPERATOR CLASS hvec_ops
	DEFAULT FOR TYPE hvec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 hvec_cmp(hvec, hvec);
COMMENT ON OPERATOR CLASS hvec_ops USING btree IS 'default btree opclass of hvec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY hvec_ops USING btree IS 'btree operator family of hvec_ops';

CREATE OPERATOR CLASS hvec_hash_ops
	DEFAULT FOR TYPE hvec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 hvec_hash(hvec),
	FUNCTION 2 hvec_hash_extended(hvec, bigint);
COMMENT ON OPERATOR CLASS hvec_hash_ops USING hash IS 'default hash opclass of hvec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY hvec_hash_ops USING hash IS 'hash operator family of hvec_hash_ops';

-- aggregates: vec's double precision[] state and combine function

CREATE FUNCTION hvec_accum(double precision[], hvec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvec_accum(double precision[], hvec) IS 'transition function of sum(hvec) and avg(hvec): adds an hvec to the count and double precision sums';
CREATE FUNCTION hvec_accum_sum(double precision[]) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_accum_sum(double precision[]) IS 'final function of sum(hvec)';
CREATE FUNCTION hvec_accum_avg(double precision[]) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_accum_avg(double precision[]) IS 'final function of avg(hvec)';

CREATE AGGREGATE sum(hvec) (
	SFUNC = hvec_accum,
	STYPE = double precision[],
	FINALFUNC = hvec_accum_sum,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(hvec) IS 'element-wise sum, accumulated in double precision, rounded to half; skips NULLs, NULL for no rows, refuses mixed dimensions';

CREATE AGGREGATE avg(hvec) (
	SFUNC = hvec_accum,
	STYPE = double precision[],
	FINALFUNC = hvec_accum_avg,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(hvec) IS 'element-wise mean, accumulated in double precision, rounded to half; skips NULLs, NULL for no rows, refuses mixed dimensions';
