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
