-- hvec text and binary I/O, typmods, casts, and every malformed input
SET extra_float_digits = 0;

SELECT '[1,2.5,-3]'::hvec;
SELECT ' [ 1 , 2 , 3 ] '::hvec;
-- the extremes: largest finite, least normal, least subnormal, -0
SELECT '[65504,-65504,6.103515625e-05,5.960464477539063e-08,-0]'::hvec;
-- shortest digits that read back the same half; whole numbers exactly
SELECT '[0.1,0.2,0.3,3.14159,8191,8192,65519.9,1e-9]'::hvec;
-- one rounding from the decimal: 1.00048829 lies just above the tie
-- between 1 and 1.0009766 (float32 would have rounded it onto the tie)
SELECT '[1.00048828125,1.00048829,1.00146484375]'::hvec;
SELECT '[1,2,3]'::hvec(3);
SELECT vec_dims(('[' || repeat('1,', 15999) || '1]')::hvec);
-- every half reads back from its text unchanged
SELECT count(*) AS mismatches
  FROM generate_series(-65504, 65504, 7) g,
	   LATERAL (SELECT ('[' || (g / 3.0)::text || ']')::hvec AS h) s
 WHERE h::text::hvec <> h;

-- malformed text: 22P02
\set VERBOSITY default
SELECT '[]'::hvec;
SELECT '[1,,2]'::hvec;
SELECT '[1 2]'::hvec;
SELECT '1,2]'::hvec;
SELECT '[1,2'::hvec;
SELECT '[1,2]x'::hvec;
SELECT '[a]'::hvec;
-- non-finite and out of range
SELECT '[1,NaN]'::hvec;
SELECT '[-Infinity]'::hvec;
SELECT '[65520]'::hvec;
SELECT '[1,-70000]'::hvec;
SELECT '[1e999]'::hvec;
SELECT ('[' || repeat('1,', 16000) || '1]')::hvec;
-- typmods
SELECT '[1,2]'::hvec(3);
SELECT '[1]'::hvec(0);
SELECT '[1]'::hvec(16001);
SELECT '[1]'::hvec(2,3);
CREATE TABLE hvec_io_t (id int, v hvec(3));
INSERT INTO hvec_io_t VALUES (1, '[1,2]');
\d hvec_io_t

-- SQLSTATEs
\set VERBOSITY sqlstate
SELECT '[1,,2]'::hvec;
SELECT '[]'::hvec;
SELECT '[NaN]'::hvec;
SELECT '[65520]'::hvec;
SELECT '[1,2]'::hvec(3);
SELECT '[1,2]'::hvec + '[1]';
SELECT '[65504]'::hvec + '[16]';
SELECT ARRAY[1e6]::hvec;
SELECT '[1e6]'::vec::hvec;
\set VERBOSITY default

-- binary: int16 dim, int16 0, dim uint16 halves, big-endian
SELECT hvec_send('[1,-2,65504,0.5]');
INSERT INTO hvec_io_t VALUES (2, '[1,-2,65504]'), (3, '[5.96e-08,-0,0.333]'), (4, NULL);
COPY hvec_io_t TO '/tmp/ms_hvec_io.bin' (FORMAT binary);
CREATE TABLE hvec_io_back (id int, v hvec(3));
COPY hvec_io_back FROM '/tmp/ms_hvec_io.bin' (FORMAT binary);
SELECT a.id, a.v, a.v = b.v AS same, hvec_send(a.v) = hvec_send(b.v) AS same_bits
  FROM hvec_io_t a JOIN hvec_io_back b USING (id) ORDER BY id;
-- hostile binary values, each as the only field of a binary COPY row
CREATE TABLE hvec_io_recv (v hvec);
CREATE FUNCTION hvec_io_try(bytes text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT decode(%L, ''hex'')) TO ''/tmp/ms_hvec_io.bin'' (FORMAT binary)', bytes);
	COPY hvec_io_recv FROM '/tmp/ms_hvec_io.bin' (FORMAT binary);
	RETURN 'accepted: ' || (SELECT v::text FROM hvec_io_recv ORDER BY ctid DESC LIMIT 1);
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT b, hvec_io_try(b) FROM (VALUES
	('000200003c00c000'),			-- [1,-2]
	('000200003c00'),				-- one element short
	('000200003c00c0000000'),		-- one element too many
	('00010000'),					-- header only
	('0001'),						-- truncated header
	('0000000000'),					-- 0 dimensions
	('3e8100003c00'),				-- 16001 dimensions
	('ffff00003c00'),				-- -1 dimensions
	('000100013c00'),				-- flags not 0
	('000100007c00'),				-- +Infinity
	('00010000fe00'),				-- NaN
	('000100007e01')				-- NaN with payload
) t(b);

-- casts
SELECT '[1.5,-2,0.1]'::hvec::vec;
SELECT '[1.5,-2,0.1]'::vec::hvec;
SELECT '[1.5,-2,0.1]'::hvec::real[];
SELECT ARRAY[1.5,-2,0.1]::real[]::hvec, ARRAY[1.00048829,-2]::float8[]::hvec,
	   ARRAY[1,2,-65504]::int[]::hvec, ARRAY[1.00048829,0.1]::numeric[]::hvec;
SELECT '[1,2]'::hvec::vec(2), '[1,2]'::vec::hvec(2);
SELECT '[1,2]'::hvec::vec(3);
SELECT ARRAY[1,NULL]::int[]::hvec;
SELECT ARRAY[[1,2],[3,4]]::int[]::hvec;
SELECT ARRAY[]::int[]::hvec;
SELECT ARRAY['NaN']::float8[]::hvec;
SELECT ARRAY['Infinity']::numeric[]::hvec;
SELECT ARRAY[70000]::int[]::hvec;
SELECT '[3e38]'::vec::hvec;
-- assignment casts: arrays and vecs store straight into hvec columns
INSERT INTO hvec_io_back VALUES (10, ARRAY[1,2,3]), (11, '[0.1,0.2,0.3]'::vec), (12, ARRAY[1.5,2.5,3.5]::float8[]);
SELECT * FROM hvec_io_back WHERE id >= 10 ORDER BY id;
-- hvec -> vec is implicit: mixed operands compute in vec
SELECT pg_typeof('[1,2]'::hvec <-> '[1,3]'::vec), '[1,2]'::hvec <-> '[1,3]'::vec;
-- untyped literals still mean vec
SELECT l2_distance('[0,0]', '[3,4]'), vec_norm('[3,4]'), pg_typeof(subvec('[1,2]', 1, 1));
DROP TABLE hvec_io_t, hvec_io_back, hvec_io_recv;
DROP FUNCTION hvec_io_try(text);
