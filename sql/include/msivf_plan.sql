-- plan_uses_msivf(query): whether the plan of a query scans an msivf
-- index.  A comparison with the exact answer proves nothing when the
-- "index" side ran a sequential scan.  Included with \i by the msivf
-- suites; it lands in the suite's own schema and goes with it.
CREATE FUNCTION plan_uses_msivf(query text) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF EXISTS (SELECT FROM pg_class c JOIN pg_am a ON a.oid = c.relam
				   WHERE a.amname = 'msivf'
					 AND c.relname = substring(line FROM 'Index Scan using (\S+) on')) THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;
