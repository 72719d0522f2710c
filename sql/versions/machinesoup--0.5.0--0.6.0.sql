-- machinesoup 0.5.0 -> 0.6.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.6.0'" to load this file. \quit

-- ms.ingest's body looks up a processor's owner only for user processors
-- (built-in ones have none): the join it made for every batch was most
-- of what a one-record ingest cost over 0.3.0.
CREATE OR REPLACE FUNCTION ms._ingest(org text, model text, data bytea, label text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p_org		text := org;
	p_model		text := model;
	p_label		text := label;
	r			record;
	v			record;
	processor_owner pg_catalog.oid;
	frame		bytea;
	bid			bigint;
BEGIN
	SELECT * INTO r FROM ms._authorise(p_org, p_model, p_label, 'ingest', 'ingest into') a;
	IF data IS NULL THEN
		RAISE EXCEPTION 'data must not be NULL' USING ERRCODE = '22004';
	END IF;
	-- One small statement per batch: this is ms.ingest's fixed cost, which
	-- a one-record batch pays in full (a join with pg_proc here cost 9 %
	-- of such a call, test/bench/ingest_callgrind.sh).  Built-in
	-- processors (no digest) have no owner to look up.
	SELECT vv.processor, vv.processor_digest INTO v
	  FROM ms.versions vv
	 WHERE vv.version_id OPERATOR(pg_catalog.=) r.version_id;
	frame := ms._lz4_encode(data);
	INSERT INTO ms.raw_batches AS b (org, model, received_at, label, raw_bytes, stored_bytes,
									 ingested_by, frame)
		VALUES (p_org, p_model, pg_catalog.clock_timestamp(), r.resolved_label,
				pg_catalog.length(data), pg_catalog.length(frame), ms._caller_name(), frame)
		RETURNING b.batch_id INTO bid;
	-- Another role's code is about to see this producer's raw bytes (and
	-- may copy them into payloads): that is raw access, on the record.
	IF v.processor_digest IS NOT NULL THEN
		SELECT p.proowner INTO processor_owner
		  FROM pg_catalog.pg_proc p
		 WHERE p.oid OPERATOR(pg_catalog.=) v.processor::pg_catalog.oid;
		IF processor_owner OPERATOR(pg_catalog.<>) ms._caller()::pg_catalog.oid THEN
			PERFORM ms._audit('process_batch', p_org, p_model, r.resolved_label, bid,
							  pg_catalog.format('processor %s owned by %s', v.processor,
												pg_catalog.pg_get_userbyid(processor_owner)));
		END IF;
	END IF;
	-- same transaction: a processor error takes the raw frame with it
	PERFORM ms._process_batch(p_org, r.version_id, v.processor, r.dims, r.metric, data,
							  v.processor_digest);
	RETURN bid;
END
$$;

-- audited actions on a hot standby, written by the primary
-- The primary's side of a standby's audited actions: a standby (its
-- machinesoup.audit_primary_conninfo) sends each record here and waits for
-- its id, so the record is in the primary's chain before the standby goes
-- on.  Granted to no one: the DBA grants EXECUTE to the one role that
-- setting connects as, which vouches for the role, login and pid it
-- relays (README.md, "Read replicas").
CREATE FUNCTION ms._audit_relay(at_us bigint, role text, login text, pid integer,
								client_addr text, action text, org text, model text,
								label text, batch_id bigint, reason text, standby text)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'ms_audit_relay' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ms._audit_relay(bigint, text, text, integer, text, text, text, text, text, bigint, text, text) IS 'write an audit record relayed by a hot standby (grant EXECUTE only to the role of the standbys'' machinesoup.audit_primary_conninfo); returns its id once committed';
REVOKE ALL ON FUNCTION ms._audit_relay(bigint, text, text, integer, text, text, text, text, text, bigint, text, text) FROM PUBLIC;

-- bvec: packed binary vectors (src/bvec/bvec.sql): the type, its I/O and
-- casts, binary_quantize(vec), Hamming <~> and Jaccard <%>, btree and hash.

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

-- bvec_knn_exact: vec_knn_exact for bvec columns (src/knn/knn.sql)
-- A name of its own rather than an overload of vec_knn_exact: with two
-- overloads a call whose queries are an untyped literal or NULL would no
-- longer resolve.
CREATE FUNCTION bvec_knn_exact(tbl regclass, col name, queries bvec[], k integer,
							   metric text DEFAULT 'hamming')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'bvec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION bvec_knn_exact(regclass, name, bvec[], integer, text) IS
'exact k nearest rows of each bvec query in one pass over a bvec column (metric hamming or jaccard), by popcount';
