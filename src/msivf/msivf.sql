-- msivf: approximate nearest-neighbour index access method (IVF lists of
-- quantized residuals, exact rerank), with opclasses for L2, inner product,
-- cosine and L1 distance.

CREATE FUNCTION msivf_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION msivf_handler(internal) IS 'msivf index access method handler';

CREATE ACCESS METHOD msivf TYPE INDEX HANDLER msivf_handler;

COMMENT ON ACCESS METHOD msivf IS 'approximate nearest-neighbour index for vec (inverted lists, quantized codes, exact rerank)';

-- support function 1: which metric an opclass indexes
CREATE FUNCTION msivf_l2_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_l2_metric(internal) IS 'msivf support 1 of vec_l2_ops: the metric it indexes (L2)';
CREATE FUNCTION msivf_ip_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_ip_metric(internal) IS 'msivf support 1 of vec_ip_ops: the metric it indexes (inner product)';
CREATE FUNCTION msivf_cosine_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_cosine_metric(internal) IS 'msivf support 1 of vec_cosine_ops: the metric it indexes (cosine)';
CREATE FUNCTION msivf_l1_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_l1_metric(internal) IS 'msivf support 1 of vec_l1_ops and hvec_l1_ops: the metric they index (L1)';

CREATE OPERATOR CLASS vec_l2_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <-> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l2_metric(internal);
COMMENT ON OPERATOR CLASS vec_l2_ops USING msivf IS 'msivf opclass for ORDER BY <-> (L2 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY vec_l2_ops USING msivf IS 'msivf operator family of vec_l2_ops';

CREATE OPERATOR CLASS vec_ip_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <#> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_ip_metric(internal);
COMMENT ON OPERATOR CLASS vec_ip_ops USING msivf IS 'msivf opclass for ORDER BY <#> (negative inner product) ... LIMIT k';
COMMENT ON OPERATOR FAMILY vec_ip_ops USING msivf IS 'msivf operator family of vec_ip_ops';

CREATE OPERATOR CLASS vec_cosine_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <=> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_cosine_metric(internal);
COMMENT ON OPERATOR CLASS vec_cosine_ops USING msivf IS 'msivf opclass for ORDER BY <=> (cosine distance) ... LIMIT k; zero vectors are not indexed';
COMMENT ON OPERATOR FAMILY vec_cosine_ops USING msivf IS 'msivf operator family of vec_cosine_ops';

-- L1 keeps L2's lists (k-means, nearest-centroid assignment); its codes
-- store the L1 norm of their quantization error, which bounds the L1
-- estimate, so the rerank orders exactly as for the other metrics.
CREATE OPERATOR CLASS vec_l1_ops
	FOR TYPE vec USING msivf AS
	OPERATOR 1 <+> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l1_metric(internal);
COMMENT ON OPERATOR CLASS vec_l1_ops USING msivf IS 'msivf opclass for ORDER BY <+> (L1 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY vec_l1_ops USING msivf IS 'msivf operator family of vec_l1_ops';

CREATE FUNCTION msivf_index_info(index regclass,
	OUT dims integer, OUT lists integer, OUT metric text, OUT code_bits integer,
	OUT calibration_queries integer, OUT probes integer, OUT calibrated_probes integer)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION msivf_index_info(regclass) IS 'shape of an msivf index; probes: what a scan uses now; calibrated_probes: lists needed for machinesoup.target_recall';

CREATE FUNCTION msivf_index_calibration(index regclass, OUT recall double precision, OUT probes integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION msivf_index_calibration(regclass) IS 'calibration curve of an msivf index: for each recall level 0.00 to 1.00, the fewest probes that reached it on the held-out queries';

-- what growth did to an msivf index: lists, calibration, pages of old chains
CREATE FUNCTION msivf_index_growth(index regclass,
	OUT lists integer, OUT built_lists integer, OUT calibrated_lists integer,
	OUT pages bigint, OUT leaked_pages bigint, OUT freed_pages bigint, OUT free_pages bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION msivf_index_growth(regclass) IS 'growth of an msivf index: lists now, built and when last calibrated; pages, pages of split lists'' old chains VACUUM has still to free, pages freed since the build, freed pages not yet reused';

-- per-backend counters of msivf scans (issue 14's per-query cost breakdown)
CREATE FUNCTION msivf_last_scan_stats(
	OUT scans bigint, OUT lists bigint, OUT pages bigint, OUT codes bigint,
	OUT reranks bigint, OUT heap_rows bigint,
	OUT centroid_ms double precision, OUT list_ms double precision, OUT rerank_ms double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION msivf_last_scan_stats() IS 'what the last msivf scan of this backend did: lists probed, list pages read, codes estimated, reranks, heap rows found, and phase times when machinesoup.scan_timing is on';
CREATE FUNCTION msivf_scan_stats(
	OUT scans bigint, OUT lists bigint, OUT pages bigint, OUT codes bigint,
	OUT reranks bigint, OUT heap_rows bigint,
	OUT centroid_ms double precision, OUT list_ms double precision, OUT rerank_ms double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION msivf_scan_stats() IS 'the counters of msivf_last_scan_stats() summed over every msivf scan of this backend';
-- hvec: the index converts each hvec to float (exactly) to train, encode
-- and rerank, so it orders rows exactly as ORDER BY on the hvec does.
CREATE OPERATOR CLASS hvec_l2_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <-> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l2_metric(internal);
COMMENT ON OPERATOR CLASS hvec_l2_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <-> (L2 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY hvec_l2_ops USING msivf IS 'msivf operator family of hvec_l2_ops';

CREATE OPERATOR CLASS hvec_ip_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <#> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_ip_metric(internal);
COMMENT ON OPERATOR CLASS hvec_ip_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <#> (negative inner product) ... LIMIT k';
COMMENT ON OPERATOR FAMILY hvec_ip_ops USING msivf IS 'msivf operator family of hvec_ip_ops';

CREATE OPERATOR CLASS hvec_cosine_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <=> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_cosine_metric(internal);
COMMENT ON OPERATOR CLASS hvec_cosine_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <=> (cosine distance) ... LIMIT k; zero vectors are not indexed';
COMMENT ON OPERATOR FAMILY hvec_cosine_ops USING msivf IS 'msivf operator family of hvec_cosine_ops';

-- bvec: entries hold the packed bits themselves, so a scan's distances
-- are exact popcounts (no rerank); binary centroids route rows to lists.
CREATE FUNCTION msivf_hamming_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_hamming_metric(internal) IS 'msivf support 1 of bvec_hamming_ops: the metric it indexes (Hamming)';
CREATE FUNCTION msivf_jaccard_metric(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION msivf_jaccard_metric(internal) IS 'msivf support 1 of bvec_jaccard_ops: the metric it indexes (Jaccard)';

CREATE OPERATOR CLASS bvec_hamming_ops
	FOR TYPE bvec USING msivf AS
	OPERATOR 1 <~> (bvec, bvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_hamming_metric(internal);
COMMENT ON OPERATOR CLASS bvec_hamming_ops USING msivf IS 'msivf opclass for bvec, ORDER BY <~> (Hamming distance) ... LIMIT k; exact distances from the bits in the index';
COMMENT ON OPERATOR FAMILY bvec_hamming_ops USING msivf IS 'msivf operator family of bvec_hamming_ops';

CREATE OPERATOR CLASS bvec_jaccard_ops
	FOR TYPE bvec USING msivf AS
	OPERATOR 1 <%> (bvec, bvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_jaccard_metric(internal);
COMMENT ON OPERATOR CLASS bvec_jaccard_ops USING msivf IS 'msivf opclass for bvec, ORDER BY <%> (Jaccard distance) ... LIMIT k; all-zero bvecs are indexed (distance 0 to each other, 1 to the rest)';
COMMENT ON OPERATOR FAMILY bvec_jaccard_ops USING msivf IS 'msivf operator family of bvec_jaccard_ops';
CREATE OPERATOR CLASS hvec_l1_ops
	FOR TYPE hvec USING msivf AS
	OPERATOR 1 <+> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 msivf_l1_metric(internal);
COMMENT ON OPERATOR CLASS hvec_l1_ops USING msivf IS 'msivf opclass for hvec, ORDER BY <+> (L1 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY hvec_l1_ops USING msivf IS 'msivf operator family of hvec_l1_ops';
