-- vec text and binary I/O, typmods, and every malformed input
SET extra_float_digits = 0;

SELECT '[1,2.5,-3]'::vec;
SELECT ' [ 1 , 2 , 3 ] '::vec;
SELECT '[1e-3,-0,3.4028235e38,-3.4028235e38]'::vec;
SELECT '[1.4e-45]'::vec;                 -- smallest denormal is kept
SELECT '[0.1,0.2,0.3]'::vec;             -- shortest round-trip output
SELECT '[+4,0x10]'::vec;
SELECT '[1,2,3]'::vec(3);
SELECT vec_dims(('[' || repeat('1,', 15999) || '1]')::vec);

-- malformed text: 22P02
\set VERBOSITY default
SELECT '[]'::vec;
SELECT '[1,,2]'::vec;
SELECT '[1 2]'::vec;
SELECT '1,2]'::vec;
SELECT '[1,2'::vec;
SELECT '[1,2]x'::vec;
SELECT '[1,2],'::vec;
SELECT ''::vec;
SELECT '['::vec;
SELECT '[,]'::vec;
SELECT '[1,]'::vec;
SELECT '[a]'::vec;
SELECT '[1;2]'::vec;
SELECT '[[1]]'::vec;
SELECT '[1e]'::vec;
-- non-finite and out of range
SELECT '[NaN]'::vec;
SELECT '[1,nan,2]'::vec;
SELECT '[Infinity]'::vec;
SELECT '[-inf]'::vec;
SELECT '[1e999]'::vec;
SELECT '[-1e39]'::vec;
SELECT '[1e-999]'::vec;
-- too many elements
SELECT ('[' || repeat('1,', 16000) || '1]')::vec;
-- a long malformed input is not echoed in full
SELECT ('[' || repeat('1,', 2000) || 'x]')::vec;
-- nor cut inside a character: byte 100 is the first of an e-acute's two,
-- so a UTF8 database echoes 99 bytes (whole characters), others 100
DO $$
DECLARE
	msg text;
BEGIN
	PERFORM ('[' || repeat('é', 60) || ']')::vec;
EXCEPTION WHEN invalid_text_representation THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
	RAISE NOTICE 'echo cut at a character boundary: %',
		octet_length(substring(msg FROM '"(.*)\.\.\."')) =
		CASE getdatabaseencoding() WHEN 'UTF8' THEN 99 ELSE 100 END;
END
$$;

-- SQLSTATEs
\set VERBOSITY sqlstate
SELECT '[1,,2]'::vec;
SELECT '[nan]'::vec;
SELECT '[1e999]'::vec;
SELECT ('[' || repeat('1,', 16000) || '1]')::vec;
SELECT '[1,2]'::vec(3);
SELECT '[]'::vec;
\set VERBOSITY default

-- typmods
SELECT '[1,2]'::vec(3);
SELECT '[1,2]'::vec(0);
SELECT '[1,2]'::vec(16001);
SELECT '[1,2]'::vec(2, 3);
CREATE TABLE vec_io_t (id int, v vec(3));
\d vec_io_t
INSERT INTO vec_io_t VALUES (1, '[1,2,3]');
INSERT INTO vec_io_t VALUES (2, '[1,2]');
INSERT INTO vec_io_t VALUES (3, '[1,2,3,4]'::vec);
UPDATE vec_io_t SET v = '[1,2]'::vec WHERE id = 1;
INSERT INTO vec_io_t VALUES (4, NULL);
SELECT * FROM vec_io_t ORDER BY id;
CREATE TABLE vec_io_bad (v vec(0));
CREATE TABLE vec_io_bad (v vec(16001));
CREATE TABLE vec_io_max (v vec(16000));
DROP TABLE vec_io_max;

-- binary send
SELECT vec_send('[1,-2]');
-- binary round trip through COPY
CREATE TABLE vec_io_copy (v vec);
INSERT INTO vec_io_copy VALUES ('[1,2.5,-3]'), ('[0.1]'), (('[' || repeat('0.5,', 999) || '7]')::vec);
\set copyfile '/tmp/machinesoup_vec_io_copy.bin'
COPY vec_io_copy TO :'copyfile' WITH (FORMAT binary);
CREATE TABLE vec_io_copy2 (v vec);
COPY vec_io_copy2 FROM :'copyfile' WITH (FORMAT binary);
SELECT count(*) FROM (SELECT v FROM vec_io_copy EXCEPT ALL SELECT v FROM vec_io_copy2) d;
SELECT count(*) FROM vec_io_copy2;

-- binary recv with a crafted stream: PGCOPY header, one tuple of one field,
-- the vec payload, trailer.  Field bytes: int16 dim, int16 flags, floats.
CREATE FUNCTION pg_temp.copy_payload(payload text) RETURNS text LANGUAGE sql AS $$
	SELECT format($p$printf 'PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000\000\001%s\377\377'$p$, payload)
$$;
-- good: dim 2, flags 0, 1.0 and 2.0 (length 12)
SELECT pg_temp.copy_payload('\000\000\000\014\000\002\000\000\077\200\000\000\100\000\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT v FROM vec_io_copy2 WHERE vec_dims(v) = 2;
-- header says 3 dimensions, 2 follow
SELECT pg_temp.copy_payload('\000\000\000\014\000\003\000\000\077\200\000\000\100\000\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- header says 1 dimension, 2 follow
SELECT pg_temp.copy_payload('\000\000\000\014\000\001\000\000\077\200\000\000\100\000\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- dimension 0
SELECT pg_temp.copy_payload('\000\000\000\004\000\000\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- negative dimension
SELECT pg_temp.copy_payload('\000\000\000\010\377\377\000\000\077\200\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- nonzero flags
SELECT pg_temp.copy_payload('\000\000\000\010\000\001\000\001\077\200\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- NaN element (0x7fc00000)
SELECT pg_temp.copy_payload('\000\000\000\010\000\001\000\000\177\300\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- +Infinity element (0x7f800000)
SELECT pg_temp.copy_payload('\000\000\000\010\000\001\000\000\177\200\000\000') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- truncated field: only the header
SELECT pg_temp.copy_payload('\000\000\000\002\000\001') AS cmd \gset
COPY vec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- typmod checked on binary input
CREATE TABLE vec_io_copy3 (v vec(3));
SELECT pg_temp.copy_payload('\000\000\000\014\000\002\000\000\077\200\000\000\100\000\000\000') AS cmd \gset
COPY vec_io_copy3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT count(*) FROM vec_io_copy2;

DROP TABLE vec_io_t, vec_io_copy, vec_io_copy2, vec_io_copy3;
