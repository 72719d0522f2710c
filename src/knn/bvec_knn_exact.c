/*
 * bvec_knn_exact.c
 *		bvec_knn_exact(): vec_knn_exact() for a bvec column, the exact k
 *		nearest rows of each query by Hamming or Jaccard distance, in one
 *		sequential pass.
 *
 * The distances are popcounts (bit_kernels.h), exact integers, so unlike
 * the float path there is no estimate to verify: every row's distance to
 * every query is computed once and offered to that query's bounded heap
 * (src/knn/core/knn_topk.c).  The relation checks (privileges, row-level
 * security, partitioned and Citus tables) are vec_knn_exact's own.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "bit_kernels.h"
#include "bvec.h"
#include "knn_topk.h"
#include "vec_knn_exact.h"

PG_FUNCTION_INFO_V1(bvec_knn_exact);

typedef enum BvecMetric
{
	BVEC_HAMMING,
	BVEC_JACCARD
} BvecMetric;

static BvecMetric
bvec_metric(const char *name)
{
	if (strcmp(name, "hamming") == 0)
		return BVEC_HAMMING;
	if (strcmp(name, "jaccard") == 0)
		return BVEC_JACCARD;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown metric \"%s\" for bvec", name),
			 errhint("Valid metrics for bvec are hamming and jaccard.")));
	return BVEC_HAMMING;		/* keep the compiler quiet */
}

/* The queries of a bvec[]; ERROR when empty, with a NULL, or mixed lengths. */
static Bvec **
unpack_queries(ArrayType *queries, int *nqueries)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Bvec	  **out;

	deconstruct_array(queries, ARR_ELEMTYPE(queries), -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query array must not be empty")));
	out = palloc(sizeof(Bvec *) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query array must not contain nulls"),
					 errdetail("Element %d is null.", i + 1)));
		out[i] = DatumGetBvec(elems[i]);
		bvec_check_same_nbits(out[0]->nbits, out[i]->nbits);
	}
	*nqueries = n;
	return out;
}

static double
distance(BvecMetric metric, const Bvec *a, const Bvec *b)
{
	Size		nbytes = BVEC_BYTES(a->nbits);
	uint64		and_count;
	uint64		or_count;

	if (metric == BVEC_HAMMING)
		return (double) bit_kernels->hamming(a->data, b->data, nbytes);
	bit_kernels->and_or(a->data, b->data, nbytes, &and_count, &or_count);
	return bit_jaccard_from_counts(and_count, or_count);
}

/* Every non-null bvec of the column offered to every query's heap. */
static void
scan_rows(Relation rel, AttrNumber attnum, BvecMetric metric,
		  Bvec **queries, int nqueries, KnnTopK *heaps)
{
	int			nbits = queries[0]->nbits;
	TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		datum = slot_getattr(slot, attnum, &isnull);
		Bvec	   *row;
		int64		id;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		row = DatumGetBvec(datum);
		if (row->nbits != nbits)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different bvec lengths %d and %d", nbits, row->nbits),
					 errdetail("The row at %s of \"%s\" has %d bits, the queries %d.",
							   DatumGetCString(DirectFunctionCall1(tidout,
																   PointerGetDatum(&slot->tts_tid))),
							   RelationGetRelationName(rel), row->nbits, nbits)));
		id = knn_tid_to_id(&slot->tts_tid);
		for (int q = 0; q < nqueries; q++)
		{
			double		d = distance(metric, queries[q], row);

			if (knn_topk_accepts(&heaps[q], d))
				knn_topk_push(&heaps[q], d, id);
		}
		if ((Pointer) row != DatumGetPointer(datum))
			pfree(row);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
}

/* The answer, one row per (query, rank), into a tuplestore. */
static void
return_results(FunctionCallInfo fcinfo, TupleDesc tupdesc, KnnTopK *heaps,
			   int nqueries)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	Tuplestorestate *tupstore;

	tupdesc = CreateTupleDescCopy(tupdesc);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);
	for (int q = 0; q < nqueries; q++)
	{
		for (int r = 0; r < heaps[q].n; r++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			ItemPointerData tid;

			knn_id_to_tid(heaps[q].items[r].id, &tid);
			values[0] = Int32GetDatum(q + 1);
			values[1] = Int32GetDatum(r + 1);
			values[2] = PointerGetDatum(&tid);
			values[3] = Float8GetDatum(heaps[q].items[r].key);
			tuplestore_putvalues(tupstore, tupdesc, values, nulls);
		}
	}
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;
}

/*
 * bvec_knn_exact(tbl regclass, col name, queries bvec[], k int,
 *				 metric text DEFAULT 'hamming')
 *	RETURNS TABLE (query_no int, rank int, row_tid tid, distance float8)
 */
Datum
bvec_knn_exact(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		colname = PG_GETARG_NAME(1);
	ArrayType  *queries = PG_GETARG_ARRAYTYPE_P(2);
	int32		k = PG_GETARG_INT32(3);
	BvecMetric	metric = bvec_metric(text_to_cstring(PG_GETARG_TEXT_PP(4)));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Bvec	  **qb;
	int			nqueries;
	Relation	rel;
	AttrNumber	attnum;
	int32		typmod;
	KnnTopK    *heaps;
	KnnCandidate *space;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", k)));
	qb = unpack_queries(queries, &nqueries);
	/* the heaps: nqueries < 2^28 (array limit), so only k can overflow */
	if ((Size) nqueries * k > MaxAllocHugeSize / sizeof(KnnCandidate))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k = %d for %d queries needs too much memory", k, nqueries)));

	rel = relation_open(relid, AccessShareLock);
	attnum = knn_exact_check_relation(rel, NameStr(*colname), ARR_ELEMTYPE(queries),
									  -1, "bvec_knn_exact", false);
	typmod = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypmod;
	if (typmod > 0)
		bvec_check_same_nbits(typmod, qb[0]->nbits);

	heaps = palloc(sizeof(KnnTopK) * nqueries);
	space = palloc_extended(sizeof(KnnCandidate) * (Size) nqueries * k,
							MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (space == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed to allocate candidate lists of %d rows for %d queries.",
						   k, nqueries),
				 errhint("Use a smaller k or fewer queries per call.")));
	for (int q = 0; q < nqueries; q++)
		knn_topk_init(&heaps[q], k, space + (Size) q * k);
	scan_rows(rel, attnum, metric, qb, nqueries, heaps);
	relation_close(rel, AccessShareLock);

	for (int q = 0; q < nqueries; q++)
		knn_topk_sort(&heaps[q]);
	return_results(fcinfo, tupdesc, heaps, nqueries);
	return (Datum) 0;
}
