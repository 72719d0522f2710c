-- machinesoup 0.5.0 -> 0.6.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.6.0'" to load this file. \quit

-- msivf scan statistics (msivf_last_scan_stats, msivf_scan_stats)
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
