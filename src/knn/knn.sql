-- Batched exact nearest neighbours (OpenBLAS) and the recall of vec indexes.

CREATE FUNCTION vec_knn_exact(tbl regclass, col name, queries vec[], k integer,
							  metric text DEFAULT 'l2')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'vec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vec_knn_exact(regclass, name, vec[], integer, text) IS
'exact k nearest rows of each query in one pass over the table (metric l2, cosine, ip or l1), as blocked sgemm';

-- A name of its own rather than an overload of vec_knn_exact: with two
-- overloads a call whose queries are an untyped literal or NULL would no
-- longer resolve.
CREATE FUNCTION bvec_knn_exact(tbl regclass, col name, queries bvec[], k integer,
							   metric text DEFAULT 'hamming')
	RETURNS TABLE (query_no integer, rank integer, row_tid tid, distance double precision)
	AS 'MODULE_PATHNAME', 'bvec_knn_exact' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION bvec_knn_exact(regclass, name, bvec[], integer, text) IS
'exact k nearest rows of each bvec query in one pass over a bvec column (metric hamming or jaccard), by popcount';

CREATE FUNCTION vec_index_recall(idx regclass, queries vec[], k integer DEFAULT 10)
	RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_index_recall' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION vec_index_recall(regclass, vec[], integer) IS
'mean recall@k of ORDER BY col <op> query LIMIT k through the index, with the current settings, against the exact answer';

-- The recall of an index over a bvec column, as vec_index_recall measures
-- a vec index: each query through the index as an application would run
-- it, scored against bvec_knn_exact under the same snapshot, a row at no
-- more than the k-th exact distance counting as right (Hamming distances
-- tie often).  SQL rather than C: the exact pass is bvec_knn_exact's, and
-- what is left is a loop of ordinary queries, run as the caller.
CREATE FUNCTION bvec_index_recall(idx regclass, queries bvec[], k integer DEFAULT 10)
RETURNS double precision
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ix			record;
	opr			record;
	metric		text;
	colname		name;
	query_sql	text;
	plan		jsonb;
	used		boolean;
	total		double precision := 0;
	nq			integer := coalesce(array_length(queries, 1), 0);
	q			record;
	correct		bigint;
	count_sql	text;
BEGIN
	IF k < 1 THEN
		RAISE EXCEPTION 'k must be positive, not %', k USING ERRCODE = '22023';
	END IF;
	SELECT i.indrelid, i.indkey[0] AS attnum, c.relname,
		   i.indclass[0] AS opclass, oc.opcintype
	  INTO ix
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	  JOIN pg_opclass oc ON oc.oid = i.indclass[0]
	 WHERE i.indexrelid = idx;
	IF NOT FOUND THEN
		RAISE EXCEPTION '"%" is not an index', (SELECT relname FROM pg_class WHERE oid = idx)
			USING ERRCODE = '42809';
	END IF;
	IF ix.attnum = 0 THEN
		RAISE EXCEPTION 'index "%" is on an expression, not on a bvec column', ix.relname
			USING ERRCODE = '0A000',
				  HINT = 'Keep the expression in a stored generated column and index that column to measure it.';
	END IF;
	IF ix.opcintype OPERATOR(pg_catalog.<>) '@extschema@.bvec'::regtype THEN
		RAISE EXCEPTION 'bvec_index_recall measures indexes over bvec, not %',
			ix.opcintype::regtype
			USING ERRCODE = '0A000',
				  HINT = 'Use vec_index_recall for an index over vec or hvec.';
	END IF;
	-- the ordering operator of the index's family with the lowest strategy
	SELECT o.oid, o.oprname, n.nspname, p.proname
	  INTO opr
	  FROM pg_amop a
	  JOIN pg_opclass oc ON oc.opcfamily = a.amopfamily
	  JOIN pg_operator o ON o.oid = a.amopopr
	  JOIN pg_namespace n ON n.oid = o.oprnamespace
	  JOIN pg_proc p ON p.oid = o.oprcode
	 WHERE oc.oid = ix.opclass AND a.amoppurpose = 'o'
	   AND a.amoplefttype = '@extschema@.bvec'::regtype
	   AND a.amoprighttype = '@extschema@.bvec'::regtype
	 ORDER BY a.amopstrategy LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'index "%" cannot order bvecs by distance', ix.relname
			USING ERRCODE = '42809',
				  HINT = 'bvec_index_recall measures indexes that serve ORDER BY col <~> query LIMIT k, such as msivf bvec_hamming_ops.';
	END IF;
	metric := CASE opr.proname WHEN 'hamming_distance' THEN 'hamming'
							   WHEN 'jaccard_distance' THEN 'jaccard' END;
	IF metric IS NULL THEN
		RAISE EXCEPTION 'ordering operator %.% is not a bvec distance bvec_index_recall knows',
			opr.nspname, opr.oprname USING ERRCODE = '0A000';
	END IF;
	SELECT attname INTO colname FROM pg_attribute
	 WHERE attrelid = ix.indrelid AND attnum = ix.attnum;
	-- ONLY: bvec_knn_exact reads neither inheritance children nor
	-- partitions (it refuses a partitioned table)
	query_sql := format('SELECT ctid, %1$I OPERATOR(%2$I.%3$s) $1 AS d FROM ONLY %4$s '
						'ORDER BY %1$I OPERATOR(%2$I.%3$s) $1 LIMIT %5$s',
						colname, opr.nspname, opr.oprname, ix.indrelid::regclass, k);
	IF nq = 0 THEN
		RETURN 1;
	END IF;
	IF array_position(queries, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'query array must not contain nulls'
			USING ERRCODE = '22004',
				  DETAIL = format('Element %s is null.', array_position(queries, NULL));
	END IF;
	-- the number is that of the plan the planner chose: say so when that
	-- plan does not read the index
	EXECUTE 'EXPLAIN (FORMAT JSON) ' OPERATOR(pg_catalog.||) query_sql INTO plan USING queries[1];
	SELECT EXISTS (SELECT FROM jsonb_path_query(plan, '$.**."Index Name"') n
					WHERE n #>> '{}' OPERATOR(pg_catalog.=) ix.relname::text)
	  INTO used;
	IF NOT used THEN
		RAISE WARNING 'the plan for the recall queries does not use index "%"', ix.relname
			USING DETAIL = 'The recall reported is that of the plan the planner chose.',
				  HINT = 'To measure the index, make the planner prefer it, e.g. SET enable_seqscan = off.';
	END IF;
	-- a row tied with the k-th exact one is as right as it
	count_sql := format('SELECT count(DISTINCT r.ctid) FROM (%s) r WHERE r.d <= $2', query_sql);
	FOR q IN
		SELECT g.n, g.query, e.kth, coalesce(e.nexact, 0) AS nexact
		  FROM unnest(queries) WITH ORDINALITY AS g(query, n)
		  LEFT JOIN (SELECT query_no, max(distance) AS kth, count(*) AS nexact
					   FROM @extschema@.bvec_knn_exact(ix.indrelid::regclass, colname, queries, k, metric)
					  GROUP BY query_no) e ON e.query_no = g.n
	LOOP
		IF q.nexact = 0 THEN
			total := total + 1;		-- nothing to find: every plan is right
			CONTINUE;
		END IF;
		EXECUTE count_sql INTO correct USING q.query, q.kth + 1e-12 * (1 + abs(q.kth));
		total := total + correct::double precision / q.nexact;
	END LOOP;
	RETURN total / nq;
END
$$;

COMMENT ON FUNCTION bvec_index_recall(regclass, bvec[], integer) IS
'mean recall@k of ORDER BY col <~> (or <%>) query LIMIT k through a bvec index, with the current settings, against bvec_knn_exact';
