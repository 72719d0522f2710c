/*
 * msivfstats.c
 *		Per-backend counters of what msivf scans did (issue 14's per-query
 *		cost breakdown): lists probed, list pages read, codes estimated,
 *		reranks and the rows they found, and, with machinesoup.scan_timing
 *		on, the time spent ranking centroids, reading lists and reranking.
 *		msivf_last_scan_stats() shows the last scan of this backend,
 *		msivf_scan_stats() the sum of every scan since the backend started.
 *
 * The counters are plain increments per list, per page and per rerank,
 * never per entry, so they stay on; only the clock reads, two per batch
 * and two per rerank, wait for the setting.  They are backend-local and
 * describe only this backend's own scans: they reveal nothing another
 * role's session did.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/guc.h"

#include "msivf.h"

PG_FUNCTION_INFO_V1(msivf_scan_stats);
PG_FUNCTION_INFO_V1(msivf_last_scan_stats);

bool		msivf_scan_timing = false;
MsivfScanStats msivf_stats_last;

/* every scan before the last one, folded in when the next one starts */
static MsivfScanStats stats_before;

/* Defines machinesoup.scan_timing; called from ms_msivf_init. */
void
msivf_stats_init(void)
{
	DefineCustomBoolVariable("machinesoup.scan_timing",
							 "Whether msivf scans time their phases for msivf_last_scan_stats().",
							 "Off, the counters are still kept; on, each batch of lists and each rerank also reads the clock.",
							 &msivf_scan_timing,
							 false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/* adds b's counters to a */
static void
stats_add(MsivfScanStats *a, const MsivfScanStats *b)
{
	a->scans += b->scans;
	a->lists += b->lists;
	a->pages += b->pages;
	a->codes += b->codes;
	a->reranks += b->reranks;
	a->heap_rows += b->heap_rows;
	INSTR_TIME_ADD(a->centroid_time, b->centroid_time);
	INSTR_TIME_ADD(a->list_time, b->list_time);
	INSTR_TIME_ADD(a->rerank_time, b->rerank_time);
}

/* A scan starts: the previous one's counters join the totals. */
void
msivf_stats_begin(void)
{
	stats_add(&stats_before, &msivf_stats_last);
	memset(&msivf_stats_last, 0, sizeof(msivf_stats_last));
	msivf_stats_last.scans = 1;
}

/* one row of counters, in the SQL functions' column order */
static Datum
stats_tuple(FunctionCallInfo fcinfo, const MsivfScanStats *s)
{
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(s->scans);
	values[1] = Int64GetDatum(s->lists);
	values[2] = Int64GetDatum(s->pages);
	values[3] = Int64GetDatum(s->codes);
	values[4] = Int64GetDatum(s->reranks);
	values[5] = Int64GetDatum(s->heap_rows);
	values[6] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(s->centroid_time));
	values[7] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(s->list_time));
	values[8] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(s->rerank_time));
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* msivf_last_scan_stats(): the last (or current) msivf scan of this backend */
Datum
msivf_last_scan_stats(PG_FUNCTION_ARGS)
{
	return stats_tuple(fcinfo, &msivf_stats_last);
}

/* msivf_scan_stats(): every msivf scan of this backend, summed */
Datum
msivf_scan_stats(PG_FUNCTION_ARGS)
{
	MsivfScanStats s = stats_before;

	stats_add(&s, &msivf_stats_last);
	return stats_tuple(fcinfo, &s);
}
