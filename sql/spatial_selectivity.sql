-- Row estimates of "v <@ box" and "box @> v" from ANALYZE statistics
-- (vec_typanalyze, vec_contained_in_vbox_sel), against the true counts

-- 50,000 points near the curve y = x^2/100 on [0, 100] (correlated
-- coordinates), a point repeated 5,000 times, and NULLs
CREATE TABLE sel_pts (id int, v vec(2));
INSERT INTO sel_pts
SELECT i, ARRAY[x, x * x / 100 + (abs(hashint4(i)) % 1000) / 500.0 - 1]::real[]::vec
  FROM (SELECT i, (abs(hashint4(i * 7 + 1)) % 100000) / 1000.0 AS x
		  FROM generate_series(1, 50000) i) s;
INSERT INTO sel_pts SELECT i, '[42,42]' FROM generate_series(50001, 55000) i;
INSERT INTO sel_pts SELECT i, NULL FROM generate_series(55001, 60000) i;
-- 3-d points in two clusters
CREATE TABLE sel_pts3 (id int, v vec(3));
INSERT INTO sel_pts3
SELECT i, ARRAY[c + (abs(hashint4(i)) % 1000) / 100.0, c + (abs(hashint4(i + 1)) % 1000) / 100.0,
				(abs(hashint4(i + 2)) % 1000) / 10.0]::real[]::vec
  FROM (SELECT i, CASE WHEN i % 4 = 0 THEN 80 ELSE 0 END AS c FROM generate_series(1, 40000) i) s;
-- 32-d: more dimensions than the stats cover
CREATE TABLE sel_pts32 (v vec(32));
INSERT INTO sel_pts32
SELECT (SELECT array_agg((abs(hashint4(i * 32 + j)) % 1000)::real) FROM generate_series(1, 32) j)::vec
  FROM generate_series(1, 2000) i;

CREATE FUNCTION sel_estimate(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	j json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
	RETURN (j -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
-- 'ok' when the estimate is within factor of the true count (a handful of
-- rows, up to 20, counts as well estimated by a handful)
CREATE FUNCTION sel_check(q text, factor float8 DEFAULT 2) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	est float8 := sel_estimate(q);
	act float8;
BEGIN
	EXECUTE 'SELECT count(*) FROM (' || q || ') s' INTO act;
	IF est <= greatest(act, 20) * factor AND est >= act / factor THEN
		RETURN 'ok';
	END IF;
	RETURN format('estimate %s, actual %s', est, act);
END $$;

-- without ANALYZE: contsel's 0.1 %, far below the whole curve's rows
SELECT sel_estimate($$SELECT * FROM sel_pts WHERE v <@ '([0,-10],[100,200])'$$) < 1000 AS default_estimate;
-- a sample of every row (300 x the target), so the stats are the same
-- from run to run
SET default_statistics_target = 200;
ANALYZE sel_pts, sel_pts3, sel_pts32;
RESET default_statistics_target;

-- 2-d: the whole curve, a stretch of it, a box beside it (empty), the
-- repeated point alone, a sliver, and the mirror operator
SELECT sel_check($$SELECT * FROM sel_pts WHERE v <@ '([0,-10],[100,200])'$$) AS whole;
SELECT sel_check($$SELECT * FROM sel_pts WHERE v <@ '([20,0],[40,20])'$$) AS stretch;
SELECT sel_check($$SELECT * FROM sel_pts WHERE v <@ '([60,0],[100,10])'$$) AS beside_curve;
SELECT sel_check($$SELECT * FROM sel_pts WHERE v <@ '([42,42],[42,42])'$$) AS repeated_point;
SELECT sel_check($$SELECT * FROM sel_pts WHERE v <@ '([50,20],[51,30])'$$, 3) AS sliver;
SELECT sel_check($$SELECT * FROM sel_pts WHERE '([20,0],[40,20])' @> v$$) AS mirror;
-- vec_dwithin's box prefilter
SELECT sel_check($$SELECT * FROM sel_pts WHERE v <@ vec_dwithin_box('[30,9]', 5)$$) AS dwithin_box;
-- 3-d: one cluster, the other, the space between
SELECT sel_check($$SELECT * FROM sel_pts3 WHERE v <@ '([0,0,0],[10,10,100])'$$) AS cluster_a;
SELECT sel_check($$SELECT * FROM sel_pts3 WHERE v <@ '([80,80,0],[90,90,50])'$$) AS cluster_b;
SELECT sel_check($$SELECT * FROM sel_pts3 WHERE v <@ '([20,20,0],[70,70,100])'$$) AS between;

-- the planner follows: a big box is a sequential scan, a small one the index
CREATE INDEX sel_pts_gist ON sel_pts USING gist (v vec_gist_ops);
EXPLAIN (COSTS OFF) SELECT * FROM sel_pts WHERE v <@ '([0,-10],[100,200])';
EXPLAIN (COSTS OFF) SELECT * FROM sel_pts WHERE v <@ '([20,0],[21,5])';

-- no stats to go by, so contsel's 0.1 %: 32 dims, a box of other
-- dimensions, a box that is not a constant
SELECT sel_estimate($$SELECT * FROM sel_pts32 WHERE v <@ vbox(array_fill(0::real, ARRAY[32])::vec,
															  array_fill(1000::real, ARRAY[32])::vec)$$) AS rows_32d;
SELECT sel_estimate($$SELECT * FROM sel_pts WHERE v <@ '([0,0,0],[1,1,1])'$$) AS rows_other_dims;
SELECT sel_estimate($$SELECT * FROM sel_pts WHERE v <@ (SELECT '([0,0],[1,1])'::vbox)$$) AS rows_not_const;

-- ANALYZE of columns the stats do not fit: empty, all NULL, mixed
-- dimension counts (the first row's count is kept, the rest left out)
CREATE TABLE sel_odd (v vec);
ANALYZE sel_odd;
INSERT INTO sel_odd SELECT NULL FROM generate_series(1, 100);
ANALYZE sel_odd;
SELECT sel_check($$SELECT * FROM sel_odd WHERE v <@ '([0,0],[1,1])'$$) AS all_null;
TRUNCATE sel_odd;
INSERT INTO sel_odd SELECT ARRAY[i % 100, i % 50]::real[]::vec FROM generate_series(1, 3000) i;
INSERT INTO sel_odd SELECT ARRAY[i, i, i]::real[]::vec FROM generate_series(1, 1000) i;
SET default_statistics_target = 200;
ANALYZE sel_odd;
RESET default_statistics_target;
-- (the operator refuses the 3-d rows, so the true count is the 2-d rows')
SELECT sel_estimate($$SELECT * FROM sel_odd WHERE v <@ '([0,0],[49,49])'$$)
	   BETWEEN c / 2 AND c * 2 AS mixed_2d
  FROM (SELECT count(*) AS c FROM sel_odd
		 WHERE CASE WHEN vec_dims(v) = 2 THEN v <@ '([0,0],[49,49])' ELSE false END) s;
