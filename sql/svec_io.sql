-- svec text and binary I/O, typmods, casts to and from vec, and every
-- malformed or hostile input
SET extra_float_digits = 0;

SELECT '{1:0.5,3:-2}/5'::svec;
SELECT ' { 3 : 1 , 1 : 2 } / 4 '::svec;           -- unsorted input is sorted
SELECT '{5:5,4:4,3:3,2:2,1:1}/5'::svec;
SELECT '{}/7'::svec, '{ }/1'::svec;                -- the zero vector
SELECT '{1:0,2:-0,3:4}/3'::svec;                   -- explicit zeros dropped
SELECT '{1:0}/1'::svec, svec_nnz('{1:0}/1');
SELECT '{1:1.4e-45,2:3.4028235e38,3:-3.4028235e38}/3'::svec;
SELECT '{1:0.1,2:0.2}/2'::svec;                    -- shortest round-trip output
SELECT '{+2:0x10}/+2'::svec;
-- edge dimensions: 1 and 1000000000
SELECT '{1:7}/1'::svec, svec_dims('{1:7}/1'::svec);
SELECT '{1:1,1000000000:2}/1000000000'::svec, svec_dims('{1000000000:2}/1000000000'::svec);
-- 16000 non-zeros is the limit; zeros do not count
SELECT svec_nnz(('{' || string_agg(i || ':1', ',') || '}/16000')::svec)
  FROM generate_series(1, 16000) i;
SELECT svec_nnz(('{' || string_agg(i || ':' || (i % 2), ',') || '}/40000')::svec)
  FROM generate_series(1, 32000) i;

-- malformed text: 22P02
\set VERBOSITY default
SELECT ''::svec;
SELECT '[1,2]'::svec;
SELECT '{1:2}'::svec;
SELECT '{1:2}3'::svec;
SELECT '{1:2}/'::svec;
SELECT '{1:2}/x'::svec;
SELECT '{1:2}/3.0'::svec;
SELECT '{1:2}/3 x'::svec;
SELECT '{a:1}/3'::svec;
SELECT '{1.5:2}/3'::svec;
SELECT '{1 2}/3'::svec;
SELECT '{1:}/3'::svec;
SELECT '{1:x}/3'::svec;
SELECT '{1:2,}/3'::svec;
SELECT '{,}/3'::svec;
SELECT '{1:2 3:4}/5'::svec;
SELECT '{1:2'::svec;
SELECT '{'::svec;
-- duplicates, even when one of them is zero
SELECT '{2:1,2:1}/3'::svec;
SELECT '{3:1,1:1,3:0}/3'::svec;
-- indices and dimensions out of range
SELECT '{0:1}/3'::svec;
SELECT '{-2:1}/3'::svec;
SELECT '{4:1}/3'::svec;
SELECT '{1:1,3:1,4:1}/3'::svec;
SELECT '{1000000001:1}/1000000001'::svec;
SELECT '{}/0'::svec;
SELECT '{}/-1'::svec;
SELECT '{}/1000000001'::svec;
SELECT '{}/99999999999999999999999'::svec;
-- non-finite and out of range values
SELECT '{1:NaN}/3'::svec;
SELECT '{2:-Infinity}/3'::svec;
SELECT '{1:1e999}/3'::svec;
SELECT '{1:1e-999}/3'::svec;
-- too many non-zeros
SELECT ('{' || string_agg(i || ':1', ',') || '}/20000')::svec FROM generate_series(1, 16001) i;
-- a long malformed input is not echoed in full
SELECT ('{' || repeat('1:1,', 200) || 'x}/3')::svec;

-- SQLSTATEs
\set VERBOSITY sqlstate
SELECT '{1:2}/'::svec;
SELECT '{2:1,2:1}/3'::svec;
SELECT '{4:1}/3'::svec;
SELECT '{}/0'::svec;
SELECT '{1:NaN}/3'::svec;
SELECT '{1:1e999}/3'::svec;
SELECT ('{' || string_agg(i || ':1', ',') || '}/20000')::svec FROM generate_series(1, 16001) i;
SELECT '{1:1}/2'::svec(3);
\set VERBOSITY default

-- typmods
SELECT '{1:1}/3'::svec(3);
SELECT '{1:1}/2'::svec(3);
SELECT '{1:1}/2'::svec(0);
SELECT '{1:1}/2'::svec(1000000001);
SELECT '{1:1}/2'::svec(2, 3);
CREATE TABLE svec_io_t (id int, v svec(3));
\d svec_io_t
INSERT INTO svec_io_t VALUES (1, '{1:1,3:3}/3');
INSERT INTO svec_io_t VALUES (2, '{1:1}/2');
INSERT INTO svec_io_t VALUES (3, '{1:1}/4'::svec);
INSERT INTO svec_io_t VALUES (4, NULL);
SELECT * FROM svec_io_t ORDER BY id;
CREATE TABLE svec_io_max (v svec(1000000000));
DROP TABLE svec_io_max;

-- casts: vec -> svec drops zeros, svec -> vec spells them out
SELECT '[0,1.5,0,-2,-0]'::vec::svec, '{2:1.5,4:-2}/5'::svec::vec;
SELECT '[1,2,3]'::vec::svec(3), '{1:1}/3'::svec::vec(3);
SELECT '[0,0]'::vec::svec, '{}/2'::svec::vec;
SELECT '[1,2]'::vec::svec(3);
SELECT '{1:1}/2'::svec::vec(3);
-- an svec beyond vec's 16000 dimensions does not fit: 54000
SELECT '{1:1}/16001'::svec::vec;
\set VERBOSITY sqlstate
SELECT '{1:1}/16001'::svec::vec;
\set VERBOSITY default
SELECT vec_dims('{16000:1}/16000'::svec::vec);
-- assignment casts, both ways
CREATE TABLE svec_io_cast (s svec, v vec);
INSERT INTO svec_io_cast VALUES ('[0,3,0]'::vec, '{2:3}/3'::svec);
SELECT * FROM svec_io_cast;
-- a vec of 16000 non-zeros fits an svec, and comes back unchanged
SELECT v = v::svec::vec AS same, svec_nnz(v::svec)
  FROM (SELECT array_agg(i::real)::vec AS v FROM generate_series(1, 16000) i) g;
DROP TABLE svec_io_t, svec_io_cast;

-- casts with hvec: hvec -> svec drops zeros (exact), svec -> hvec spells
-- them out and rounds to half
SELECT '[0,1.5,0,-2,-0]'::hvec::svec, '{2:1.5,4:-2}/5'::svec::hvec;
SELECT '{1:0.1,3:65504}/3'::svec::hvec, '{1:0.1,3:65504}/3'::svec::hvec::svec;
SELECT '[1,2,3]'::hvec::svec(3), '{1:1}/3'::svec::hvec(3);
SELECT '[0,0]'::hvec::svec, '{}/2'::svec::hvec;
SELECT '[1,2]'::hvec::svec(3);
SELECT '{1:1}/2'::svec::hvec(3);
-- beyond the half range: 22003, naming the element; past 16000 dimensions: 54000
SELECT '{2:1,5:70000}/6'::svec::hvec;
SELECT '{1:-1e38}/1'::svec::hvec;
SELECT '{1:1}/16001'::svec::hvec;
\set VERBOSITY sqlstate
SELECT '{2:1,5:70000}/6'::svec::hvec;
SELECT '{1:1}/16001'::svec::hvec;
\set VERBOSITY default
-- below the half range: rounds to zero, as vec -> hvec
SELECT '{1:1e-9,2:1}/2'::svec::hvec;
SELECT vec_dims('{16000:1}/16000'::svec::hvec);
-- assignment casts, both ways
CREATE TABLE svec_io_hcast (s svec, h hvec);
INSERT INTO svec_io_hcast VALUES ('[0,3,0]'::hvec, '{2:3}/3'::svec);
SELECT * FROM svec_io_hcast;
-- an hvec of 16000 non-zeros fits an svec, and comes back unchanged
SELECT h = h::svec::hvec AS same, svec_nnz(h::svec)
  FROM (SELECT array_agg((i % 2000 + 1)::real)::hvec AS h FROM generate_series(1, 16000) i) g;
DROP TABLE svec_io_hcast;

-- binary send: dims, nnz, 0, 0-based indices, values
SELECT svec_send('{1:1,3:-2}/5');
SELECT svec_send('{}/1000000000');
-- binary round trip through COPY
CREATE TABLE svec_io_copy (v svec);
INSERT INTO svec_io_copy VALUES ('{1:0.5,3:-2}/5'), ('{}/7'), ('{1000000000:1}/1000000000'),
	((SELECT ('{' || string_agg(i * 7 || ':' || i * 0.25, ',') || '}/20000')::svec FROM generate_series(1, 2000) i));
\set copyfile '/tmp/machinesoup_svec_io_copy.bin'
COPY svec_io_copy TO :'copyfile' WITH (FORMAT binary);
CREATE TABLE svec_io_copy2 (v svec);
COPY svec_io_copy2 FROM :'copyfile' WITH (FORMAT binary);
SELECT count(*) FROM (SELECT v FROM svec_io_copy EXCEPT ALL SELECT v FROM svec_io_copy2) d;
SELECT count(*) FROM svec_io_copy2;

-- binary recv with a crafted stream: PGCOPY header, one tuple of one
-- field (its length, then the given bytes), trailer
CREATE FUNCTION pg_temp.copy_cmd(field bytea) RETURNS text LANGUAGE sql AS $$
	SELECT format($p$printf 'PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000\000\001%s\377\377'$p$,
		string_agg(format('\%s%s%s', (b >> 6) & 7, (b >> 3) & 7, b & 7), '' ORDER BY i))
	FROM (SELECT i, get_byte(f, i) AS b
		  FROM (SELECT int4send(length(field)) || field AS f) x,
		       generate_series(0, length(f) - 1) i) y
$$;
CREATE FUNCTION pg_temp.i4(int[]) RETURNS bytea LANGUAGE sql AS $$
	SELECT coalesce(string_agg(int4send(x), '' ORDER BY n), '') FROM unnest($1) WITH ORDINALITY u(x, n)
$$;
CREATE FUNCTION pg_temp.f4(real[]) RETURNS bytea LANGUAGE sql AS $$
	SELECT coalesce(string_agg(float4send(x), '' ORDER BY n), '') FROM unnest($1) WITH ORDINALITY u(x, n)
$$;
TRUNCATE svec_io_copy2;
-- good: 5 dims, indices 0 and 3; a zero value is dropped
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,3,0,0,2,3}') || pg_temp.f4('{1.5,0,-2}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT v, svec_nnz(v) FROM svec_io_copy2;
-- unsorted indices
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,2,0,3,0}') || pg_temp.f4('{1,2}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- duplicate index
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,2,0,3,3}') || pg_temp.f4('{1,2}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- index = dims (indices are 0-based on the wire)
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,1,0,5}') || pg_temp.f4('{1}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- negative index
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,1,0,-1}') || pg_temp.f4('{1}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- NaN and Infinity
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,1,0,1}') || pg_temp.f4('{NaN}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,1,0,1}') || pg_temp.f4('{-Infinity}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- dimensions 0, negative, too many
SELECT pg_temp.copy_cmd(pg_temp.i4('{0,0,0}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT pg_temp.copy_cmd(pg_temp.i4('{-5,0,0}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT pg_temp.copy_cmd(pg_temp.i4('{1000000001,0,0}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- nnz negative, above dims, above 16000 (with no bytes behind it)
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,-1,0}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT pg_temp.copy_cmd(pg_temp.i4('{1,2,0,0,1}') || pg_temp.f4('{1,1}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT pg_temp.copy_cmd(pg_temp.i4('{100000,16001,0}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- reserved field not 0
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,0,1}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- header declares 2 elements, 1 follows; declares 1, 2 follow
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,2,0,1}') || pg_temp.f4('{1}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,1,0,1,2}') || pg_temp.f4('{1,2}')) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- truncated header
SELECT pg_temp.copy_cmd('\x00000005'::bytea) AS cmd \gset
COPY svec_io_copy2 FROM PROGRAM :'cmd' WITH (FORMAT binary);
-- typmod checked on binary input
CREATE TABLE svec_io_copy3 (v svec(3));
SELECT pg_temp.copy_cmd(pg_temp.i4('{5,1,0,1}') || pg_temp.f4('{1}')) AS cmd \gset
COPY svec_io_copy3 FROM PROGRAM :'cmd' WITH (FORMAT binary);
SELECT count(*) FROM svec_io_copy2;

DROP TABLE svec_io_copy, svec_io_copy2, svec_io_copy3;
