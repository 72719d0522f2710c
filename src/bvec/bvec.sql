-- bvec: packed binary vectors, their I/O, casts, Hamming and Jaccard
-- distances, binary_quantize(vec), and btree and hash opclasses.

CREATE TYPE bvec;

CREATE FUNCTION bvec_in(cstring, oid, integer) RETURNS bvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_in(cstring, oid, integer) IS 'bvec input function: a string of 1 to 64000 characters 0 and 1';
CREATE FUNCTION bvec_out(bvec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_out(bvec) IS 'bvec output function: a string of characters 0 and 1, first bit first';
CREATE FUNCTION bvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_typmod_in(cstring[]) IS 'bvec type modifier input: the n of bvec(n), 1 to 64000 bits';
CREATE FUNCTION bvec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_typmod_out(integer) IS 'bvec type modifier output: (n)';
CREATE FUNCTION bvec_recv(internal, oid, integer) RETURNS bvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_recv(internal, oid, integer) IS 'bvec binary input: int32 number of bits, then the packed bytes (first bit = most significant bit of byte 0, padding bits zero)';
CREATE FUNCTION bvec_send(bvec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_send(bvec) IS 'bvec binary output: int32 number of bits, then the packed bytes (first bit = most significant bit of byte 0)';

-- STORAGE main, as for vec: a bvec of up to about 16000 bits stays in its
-- row, so a scan computing distances never visits TOAST.
CREATE TYPE bvec (
	INPUT = bvec_in,
	OUTPUT = bvec_out,
	TYPMOD_IN = bvec_typmod_in,
	TYPMOD_OUT = bvec_typmod_out,
	RECEIVE = bvec_recv,
	SEND = bvec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);
COMMENT ON TYPE bvec IS 'packed binary vector of 1 to 64000 bits';

-- casts

CREATE FUNCTION bvec(bvec, integer, boolean) RETURNS bvec
	AS 'MODULE_PATHNAME', 'bvec_coerce_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec(bvec, integer, boolean) IS 'cast to bvec(n): checks that the bvec has n bits';
CREATE FUNCTION bit_to_bvec(bit, integer, boolean) RETURNS bvec
	AS 'MODULE_PATHNAME', 'varbit_to_bvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bit_to_bvec(bit, integer, boolean) IS 'cast bit(n) to bvec: the same bits, 1 to 64000 of them';
CREATE FUNCTION varbit_to_bvec(bit varying, integer, boolean) RETURNS bvec
	AS 'MODULE_PATHNAME', 'varbit_to_bvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION varbit_to_bvec(bit varying, integer, boolean) IS 'cast bit varying to bvec: the same bits, 1 to 64000 of them';
CREATE FUNCTION bvec_to_varbit(bvec) RETURNS bit varying
	AS 'MODULE_PATHNAME', 'bvec_to_varbit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_to_varbit(bvec) IS 'cast bvec to bit varying: the same bits';

CREATE CAST (bvec AS bvec) WITH FUNCTION bvec(bvec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (bvec AS bvec) IS 'implicit: to bvec(n), checking the number of bits';
CREATE CAST (bit AS bvec) WITH FUNCTION bit_to_bvec(bit, integer, boolean);
COMMENT ON CAST (bit AS bvec) IS 'explicit: the same bits, copied';
CREATE CAST (bit varying AS bvec) WITH FUNCTION varbit_to_bvec(bit varying, integer, boolean);
COMMENT ON CAST (bit varying AS bvec) IS 'explicit: the same bits, copied';
CREATE CAST (bvec AS bit varying) WITH FUNCTION bvec_to_varbit(bvec);
COMMENT ON CAST (bvec AS bit varying) IS 'explicit: the same bits, copied';

-- functions

CREATE FUNCTION binary_quantize(vec) RETURNS bvec
	AS 'MODULE_PATHNAME', 'bvec_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(vec) IS 'one bit per element, set when the element is > 0';
CREATE FUNCTION binary_quantize(hvec) RETURNS bvec
	AS 'MODULE_PATHNAME', 'bvec_binary_quantize_hvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(hvec) IS 'one bit per element, set when the element is > 0';
CREATE FUNCTION bvec_length(bvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_length(bvec) IS 'number of bits';
CREATE FUNCTION bit_count(bvec) RETURNS bigint
	AS 'MODULE_PATHNAME', 'bvec_popcount' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bit_count(bvec) IS 'number of bits set';
CREATE FUNCTION hamming_distance(bvec, bvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'bvec_hamming_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hamming_distance(bvec, bvec) IS 'number of differing bits, as the operator <~>';
CREATE FUNCTION jaccard_distance(bvec, bvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'bvec_jaccard_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jaccard_distance(bvec, bvec) IS '1 - |a AND b| / |a OR b|, 0 when both are all zero; as the operator <%>';

CREATE OPERATOR <~> (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = hamming_distance, COMMUTATOR = '<~>'
);
COMMENT ON OPERATOR <~> (bvec, bvec) IS 'Hamming distance: number of differing bits';
CREATE OPERATOR <%> (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = jaccard_distance, COMMUTATOR = '<%>'
);
COMMENT ON OPERATOR <%> (bvec, bvec) IS 'Jaccard distance: 1 - |a AND b| / |a OR b|, 0 when both are all zero';

-- comparison, btree and hash

CREATE FUNCTION bvec_lt(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_lt(bvec, bvec) IS 'true when a < b in bit-string order (first differing bit, then length); the operator <';
CREATE FUNCTION bvec_le(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_le(bvec, bvec) IS 'true when a <= b in bit-string order; the operator <=';
CREATE FUNCTION bvec_eq(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_eq(bvec, bvec) IS 'true when a and b have the same bits; the operator =';
CREATE FUNCTION bvec_ne(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_ne(bvec, bvec) IS 'true when a and b differ; the operator <>';
CREATE FUNCTION bvec_ge(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_ge(bvec, bvec) IS 'true when a >= b in bit-string order; the operator >=';
CREATE FUNCTION bvec_gt(bvec, bvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_gt(bvec, bvec) IS 'true when a > b in bit-string order; the operator >';
CREATE FUNCTION bvec_cmp(bvec, bvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_cmp(bvec, bvec) IS 'btree comparison of bvec_ops: -1, 0 or 1 in bit-string order (first differing bit, then length)';
CREATE FUNCTION bvec_hash(bvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_hash(bvec) IS 'hash of a bvec for bvec_hash_ops';
CREATE FUNCTION bvec_hash_extended(bvec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bvec_hash_extended(bvec, bigint) IS '64-bit seeded hash of a bvec for bvec_hash_ops';

CREATE OPERATOR < (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
COMMENT ON OPERATOR < (bvec, bvec) IS 'less than, in bit-string order';
CREATE OPERATOR <= (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
COMMENT ON OPERATOR <= (bvec, bvec) IS 'less than or equal, in bit-string order';
CREATE OPERATOR = (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
COMMENT ON OPERATOR = (bvec, bvec) IS 'equal: the same bits';
CREATE OPERATOR <> (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (bvec, bvec) IS 'not equal';
CREATE OPERATOR >= (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR >= (bvec, bvec) IS 'greater than or equal, in bit-string order';
CREATE OPERATOR > (
	LEFTARG = bvec, RIGHTARG = bvec, FUNCTION = bvec_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
COMMENT ON OPERATOR > (bvec, bvec) IS 'greater than, in bit-string order';

CREATE OPERATOR CLASS bvec_ops
	DEFAULT FOR TYPE bvec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 bvec_cmp(bvec, bvec);
COMMENT ON OPERATOR CLASS bvec_ops USING btree IS 'default btree opclass of bvec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY bvec_ops USING btree IS 'btree operator family of bvec_ops';

CREATE OPERATOR CLASS bvec_hash_ops
	DEFAULT FOR TYPE bvec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 bvec_hash(bvec),
	FUNCTION 2 bvec_hash_extended(bvec, bigint);
COMMENT ON OPERATOR CLASS bvec_hash_ops USING hash IS 'default hash opclass of bvec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY bvec_hash_ops USING hash IS 'hash operator family of bvec_hash_ops';
