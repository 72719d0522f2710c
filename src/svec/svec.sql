-- svec: sparse float32 vectors, their I/O, casts to and from vec,
-- distances, and btree and hash opclasses.

CREATE TYPE svec;

CREATE FUNCTION svec_in(cstring, oid, integer) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_in(cstring, oid, integer) IS 'svec input function: text {index:value,...}/dims, 1-based indices in any order, finite float32 values';
CREATE FUNCTION svec_out(svec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_out(svec) IS 'svec output function: text {index:value,...}/dims, increasing 1-based indices, non-zero values only';
CREATE FUNCTION svec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_typmod_in(cstring[]) IS 'svec type modifier input: the n of svec(n), 1 to 1000000000';
CREATE FUNCTION svec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_typmod_out(integer) IS 'svec type modifier output: (n)';
CREATE FUNCTION svec_recv(internal, oid, integer) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_recv(internal, oid, integer) IS 'svec binary input: int32 dims, int32 nnz, int32 0, nnz int32 0-based increasing indices, nnz float4, network byte order';
CREATE FUNCTION svec_send(svec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_send(svec) IS 'svec binary output: int32 dims, int32 nnz, int32 0, nnz int32 0-based indices, nnz float4, network byte order';

-- STORAGE main, as for vec: an svec stays inside its row for as long as
-- the row fits a page (about 1000 non-zeros) instead of costing a TOAST
-- lookup per row in a scan.
CREATE TYPE svec (
	INPUT = svec_in,
	OUTPUT = svec_out,
	TYPMOD_IN = svec_typmod_in,
	TYPMOD_OUT = svec_typmod_out,
	RECEIVE = svec_recv,
	SEND = svec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);
COMMENT ON TYPE svec IS 'sparse float32 vector: 1 to 1000000000 dimensions, at most 16000 non-zero finite elements';

-- casts

CREATE FUNCTION svec(svec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec(svec, integer, boolean) IS 'cast to svec(n): checks that the svec has n dimensions';
CREATE FUNCTION vec_to_svec(vec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_to_svec(vec, integer, boolean) IS 'cast vec to svec: keeps the non-zero elements';
CREATE FUNCTION svec_to_vec(svec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_to_vec(svec, integer, boolean) IS 'cast svec to vec: zeros spelled out; at most 16000 dimensions';

CREATE CAST (svec AS svec) WITH FUNCTION svec(svec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (svec AS svec) IS 'implicit: to svec(n), checking the number of dimensions';
CREATE CAST (vec AS svec) WITH FUNCTION vec_to_svec(vec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (vec AS svec) IS 'assignment: a vec to an svec of its non-zero elements';
CREATE CAST (svec AS vec) WITH FUNCTION svec_to_vec(svec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (svec AS vec) IS 'assignment: an svec to a vec (at most 16000 dimensions)';
CREATE FUNCTION hvec_to_svec(hvec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_to_svec(hvec, integer, boolean) IS 'cast hvec to svec: keeps the non-zero elements, exactly';
CREATE FUNCTION svec_to_hvec(svec, integer, boolean) RETURNS hvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_to_hvec(svec, integer, boolean) IS 'cast svec to hvec: zeros spelled out, values rounded to the nearest half (an error above 65504); at most 16000 dimensions';
CREATE CAST (hvec AS svec) WITH FUNCTION hvec_to_svec(hvec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (hvec AS svec) IS 'assignment: an hvec to an svec of its non-zero elements';
CREATE CAST (svec AS hvec) WITH FUNCTION svec_to_hvec(svec, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (svec AS hvec) IS 'assignment: an svec to an hvec, rounded to half (at most 16000 dimensions)';

-- functions

CREATE FUNCTION svec_dims(svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_dims(svec) IS 'number of dimensions of an svec';
CREATE FUNCTION svec_nnz(svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_nnz(svec) IS 'number of non-zero elements of an svec';
CREATE FUNCTION svec_norm(svec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_norm(svec) IS 'Euclidean (L2) norm of an svec';
CREATE FUNCTION l2_normalize(svec) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(svec) IS 'the unit svec of the same direction (a zero svec stays zero)';
CREATE FUNCTION l2_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(svec, svec) IS 'Euclidean (L2) distance of two svecs, as the operator <->';
CREATE FUNCTION svec_l2_squared_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_l2_squared_distance(svec, svec) IS 'squared Euclidean distance of two svecs';
CREATE FUNCTION inner_product(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(svec, svec) IS 'inner (dot) product of two svecs';
CREATE FUNCTION svec_negative_inner_product(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_negative_inner_product(svec, svec) IS 'negative inner product of two svecs, as the operator <#>';
CREATE FUNCTION cosine_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(svec, svec) IS '1 - cos θ of two svecs, in [0, 2]; NaN when either is zero; as the operator <=>';
CREATE FUNCTION l1_distance(svec, svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(svec, svec) IS 'Manhattan (L1) distance of two svecs, as the operator <+>';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <-> (svec, svec) IS 'L2 (Euclidean) distance of two svecs';
CREATE OPERATOR <#> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#> (svec, svec) IS 'negative inner product of two svecs (smaller is more similar)';
CREATE OPERATOR <=> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=> (svec, svec) IS 'cosine distance of two svecs, 1 - cos θ';
CREATE OPERATOR <+> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+> (svec, svec) IS 'L1 (Manhattan) distance of two svecs';

-- comparison, btree and hash

CREATE FUNCTION svec_lt(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_lt(svec, svec) IS 'true when a < b as dense vectors in element-wise lexicographic order, then dimensions; the operator <';
CREATE FUNCTION svec_le(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_le(svec, svec) IS 'true when a <= b as dense vectors in element-wise lexicographic order, then dimensions; the operator <=';
CREATE FUNCTION svec_eq(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_eq(svec, svec) IS 'true when a and b have the same dimensions and elements; the operator =';
CREATE FUNCTION svec_ne(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_ne(svec, svec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION svec_ge(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_ge(svec, svec) IS 'true when a >= b as dense vectors in element-wise lexicographic order, then dimensions; the operator >=';
CREATE FUNCTION svec_gt(svec, svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_gt(svec, svec) IS 'true when a > b as dense vectors in element-wise lexicographic order, then dimensions; the operator >';
CREATE FUNCTION svec_cmp(svec, svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_cmp(svec, svec) IS 'btree comparison of svec_ops: -1, 0 or 1 as dense vectors in element-wise lexicographic order, then dimensions';
CREATE FUNCTION svec_hash(svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_hash(svec) IS 'hash of an svec for svec_hash_ops';
CREATE FUNCTION svec_hash_extended(svec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION svec_hash_extended(svec, bigint) IS '64-bit seeded hash of an svec for svec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (svec, svec) IS 'less than, as dense vectors in element-wise lexicographic order, then dimensions';
CREATE OPERATOR <= (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (svec, svec) IS 'less than or equal, as dense vectors in element-wise lexicographic order, then dimensions';
CREATE OPERATOR = (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (svec, svec) IS 'equal: the same dimensions and elements';
CREATE OPERATOR <> (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (svec, svec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (svec, svec) IS 'greater than or equal, as dense vectors in element-wise lexicographic order, then dimensions';
CREATE OPERATOR > (
	LEFTARG = svec, RIGHTARG = svec, FUNCTION = svec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (svec, svec) IS 'greater than, as dense vectors in element-wise lexicographic order, then dimensions';

CREATE OPERATOR CLASS svec_ops
	DEFAULT FOR TYPE svec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 svec_cmp(svec, svec);
COMMENT ON OPERATOR CLASS svec_ops USING btree IS 'default btree opclass of svec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY svec_ops USING btree IS 'btree operator family of svec_ops';

CREATE OPERATOR CLASS svec_hash_ops
	DEFAULT FOR TYPE svec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 svec_hash(svec),
	FUNCTION 2 svec_hash_extended(svec, bigint);
COMMENT ON OPERATOR CLASS svec_hash_ops USING hash IS 'default hash opclass of svec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY svec_hash_ops USING hash IS 'hash operator family of svec_hash_ops';

-- batched exact kNN over an svec column (src/knn/svec_knn_exact.c)

-- A name of its own rather than an overload of vec_knn_exact: with two
-- overloads a call whose queries are an untyped literal or NULL would no
-- longer resolve (as for bvec_knn_exact).
CREATE FUNCTION svec_knn_exact(tbl regclass, col name, queries svec[], k integer,
							   metric text DEFAULT 'l2')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'svec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION svec_knn_exact(regclass, name, svec[], integer, text) IS
'exact k nearest rows of each sparse query in one pass over an svec column (metric l2, cosine, ip or l1), by merge distances';
