-- bvec text and binary I/O, typmods, casts from and to bit / bit varying,
-- and every malformed input

SELECT '0'::bvec, '1'::bvec, '0101'::bvec;
SELECT '  10110 '::bvec;
SELECT '101100111'::bvec(9);
SELECT bvec_length(repeat('1', 64000)::bvec), bit_count(repeat('10', 32000)::bvec);
SELECT bvec_length('1'::bvec), bit_count('000000000'::bvec), bit_count('111111111'::bvec);

-- malformed text: 22P02, with the offending character named
\set VERBOSITY default
SELECT '012'::bvec;
SELECT '01 01'::bvec;
SELECT 'B0101'::bvec;
SELECT 'x'::bvec;
SELECT '0101é'::bvec;
SELECT (repeat('1', 200) || '2')::bvec;
-- empty, too long
SELECT ''::bvec;
SELECT '   '::bvec;
SELECT repeat('1', 64001)::bvec;
SELECT (repeat('1', 64001) || 'x')::bvec;

-- SQLSTATEs
\set VERBOSITY sqlstate
SELECT '012'::bvec;
SELECT ''::bvec;
SELECT repeat('0', 64001)::bvec;
SELECT '0101'::bvec(3);
\set VERBOSITY default

-- typmod
SELECT '0101'::bvec(3);
SELECT '0101'::bvec(0);
SELECT '0101'::bvec(64001);
SELECT '0101'::bvec(1,2);
CREATE TABLE bvec_io_t (b bvec(4));
INSERT INTO bvec_io_t VALUES ('1010');
INSERT INTO bvec_io_t VALUES ('10101');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'bvec_io_t'::regclass AND attname = 'b';
SELECT b, b::bvec(4), '1'::bvec::bvec(1) FROM bvec_io_t;

-- casts from bit and bit varying copy the bits, same order
SELECT B'1011'::bvec, B'1011'::bit(4)::bvec, B'1'::varbit::bvec;
SELECT '101100111'::bit(9)::bvec = '101100111'::bvec AS same_bits;
SELECT ('1' || repeat('0', 62) || '1')::bit(64)::bvec::text = '1' || repeat('0', 62) || '1' AS long_same;
SELECT B'1011'::bvec(4);
SELECT B'1011'::bvec(5);
SELECT B''::varbit::bvec;
SELECT repeat('1', 64001)::varbit::bvec;
-- and back to bit varying
SELECT '1011001'::bvec::varbit, '1011001'::bvec::bit varying(7);
-- bit varying(n)'s own length rules: an explicit cast truncates
SELECT '1011001'::bvec::bit varying(3);
SELECT ('1011001'::bvec::varbit)::bvec = '1011001'::bvec AS round_trip;
-- no implicit cast: bvec does not mix with bit by accident
SELECT '1011'::bvec = B'1011';
-- random bit strings of every length 1..200 survive text, bit and varbit
SELECT count(*) FILTER (WHERE s::bvec::text = s
					   AND s::varbit::bvec = s::bvec
					   AND s::bvec::varbit = s::varbit) AS ok, count(*)
  FROM (SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '') AS s
		  FROM generate_series(1, 200) n, generate_series(1, n) i GROUP BY n) t;

-- binary send: int32 nbits, then the packed bytes
SELECT bvec_send('1'), bvec_send('101100111'), bvec_send('11111111');
-- binary round trip through COPY
CREATE TABLE bvec_io_copy (b bvec);
INSERT INTO bvec_io_copy VALUES ('0'), ('1'), ('1011001'), ('10110011'), ('101100111'),
	(repeat('10', 32000)::bvec);
\set copyfile '/tmp/machinesoup_bvec_io_copy.bin'
COPY bvec_io_copy TO :'copyfile' WITH (FORMAT binary);
CREATE TABLE bvec_io_copy2 (b bvec);
COPY bvec_io_copy2 FROM :'copyfile' WITH (FORMAT binary);
SELECT count(*) FROM (SELECT b FROM bvec_io_copy EXCEPT ALL SELECT b FROM bvec_io_copy2) d;
SELECT count(*) FROM bvec_io_copy2;

-- binary recv with a crafted stream: PGCOPY header, one tuple of one field,
-- the bvec payload, trailer.  Field bytes: int32 nbits, the packed bytes.
CREATE FUNCTION pg_temp.copy_payload(payload text) RETURNS text LANGUAGE sql AS $$
	SELECT format($p$printf 'PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000\000\001%s\377\377'$p$, payload)
$$;
TRUNCATE bvec_io_copy2;
-- good: 9 bits, 0xB3 0x80 (length 6)
SELECT pg_temp.copy_payload('\000\000\000\006\000\000\000\011\263\200') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT b FROM bvec_io_copy2;
-- padding bit set (0xB3 0x81)
SELECT pg_temp.copy_payload('\000\000\000\006\000\000\000\011\263\201') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- header says 17 bits, 2 bytes follow
SELECT pg_temp.copy_payload('\000\000\000\006\000\000\000\021\263\200') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- header says 8 bits, 2 bytes follow
SELECT pg_temp.copy_payload('\000\000\000\006\000\000\000\010\263\200') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- zero bits
SELECT pg_temp.copy_payload('\000\000\000\004\000\000\000\000') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- negative length
SELECT pg_temp.copy_payload('\000\000\000\005\377\377\377\370\377') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- 64001 bits (0x0000FA01)
SELECT pg_temp.copy_payload('\000\000\000\005\000\000\372\001\377') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- truncated field: half a length word
SELECT pg_temp.copy_payload('\000\000\000\002\000\000') AS cmd \gset
COPY bvec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- typmod checked on binary input
CREATE TABLE bvec_io_copy3 (b bvec(8));
SELECT pg_temp.copy_payload('\000\000\000\006\000\000\000\011\263\200') AS cmd \gset
COPY bvec_io_copy3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT count(*) FROM bvec_io_copy2;

DROP TABLE bvec_io_t, bvec_io_copy, bvec_io_copy2, bvec_io_copy3;
