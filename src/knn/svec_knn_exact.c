/*
 * svec_knn_exact.c
 *		svec_knn_exact(): vec_knn_exact() over an svec column: the exact k nearest rows of a
 *		batch of sparse queries in one sequential pass over the table.
 *
 * Sparse rows have no dense block for sgemm to multiply, so each row is
 * compared with every query by the merge distances of svec (the same
 * routines as the operators, so the distances are those of <->, <=>, <#>
 * and <+>), and each query keeps its k best in a bounded max-heap.  The
 * checks on the relation (privileges, row-level security, partitioned and
 * Citus tables) are those of the dense vec_knn_exact.
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "svec.h"
#include "vec_kernels.h"
#include "vec_knn_exact.h"

PG_FUNCTION_INFO_V1(svec_knn_exact);

/* (key, id) order: NaN after every number, as in ORDER BY; then by id. */
static inline bool
cand_less(const KnnCandidate *a, const KnnCandidate *b)
{
	bool		a_nan = isnan(a->key);
	bool		b_nan = isnan(b->key);

	if (a_nan != b_nan)
		return b_nan;
	if (!a_nan && a->key != b->key)
		return a->key < b->key;
	return a->id < b->id;
}

static int
cand_cmp(const void *a, const void *b)
{
	if (cand_less(a, b))
		return -1;
	return cand_less(b, a) ? 1 : 0;
}

/*
 * Offer c to the max-heap h of *len candidates (capacity k): kept when the
 * heap is not full or c beats its worst.
 */
static void
heap_offer(KnnCandidate *h, int *len, int k, KnnCandidate c)
{
	int			i;

	if (*len < k)
	{
		/* sift up */
		i = (*len)++;
		while (i > 0 && cand_less(&h[(i - 1) / 2], &c))
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = c;
		return;
	}
	if (!cand_less(&c, &h[0]))
		return;
	/* replace the root, sift down */
	i = 0;
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= k)
			break;
		if (child + 1 < k && cand_less(&h[child], &h[child + 1]))
			child++;
		if (!cand_less(&c, &h[child]))
			break;
		h[i] = h[child];
		i = child;
	}
	h[i] = c;
}

/* The distance of the metric's operator between two svecs. */
static double
svec_metric_distance(KnnMetric metric, const SvecView *a, const SvecView *b)
{
	double		dot,
				na,
				nb;

	switch (metric)
	{
		case KNN_METRIC_L2:
			return sqrt(svec_dist_l2_squared(a, b));
		case KNN_METRIC_IP:
			return 0.0 - svec_dist_inner_product(a, b);
		case KNN_METRIC_COSINE:
			svec_dist_cosine_parts(a, b, &dot, &na, &nb);
			return vec_cosine_from_parts(dot, na, nb);
		case KNN_METRIC_L1:
			return svec_dist_l1(a, b);
	}
	return NAN;
}

/* The queries of an svec[]; ERROR when empty, with a NULL, or of mixed dims. */
static SvecView *
unpack_queries(ArrayType *queries, int *nqueries)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	SvecView   *views;

	deconstruct_array(queries, ARR_ELEMTYPE(queries), -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query array must not be empty")));
	views = palloc(sizeof(SvecView) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query array must not contain nulls"),
					 errdetail("Element %d is null.", i + 1)));
		views[i] = svec_view(DatumGetSvec(elems[i]));
		if (i > 0)
			svec_check_same_dims(views[0].dims, views[i].dims);
	}
	*nqueries = n;
	return views;
}

/*
 * One pass over the relation: every non-null svec against every query,
 * into heaps (nqueries x k) with their lengths in lens.
 */
static void
scan_rows(Relation rel, AttrNumber attnum, KnnMetric metric,
		  const SvecView *queries, int nqueries, int k,
		  KnnCandidate *heaps, int *lens)
{
	TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		datum;
		Svec	   *s;
		SvecView	row;

		CHECK_FOR_INTERRUPTS();
		datum = slot_getattr(slot, attnum, &isnull);
		if (isnull)
			continue;
		s = DatumGetSvec(datum);
		row = svec_view(s);
		if (row.dims != queries[0].dims)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different svec dimensions %d and %d", queries[0].dims, row.dims),
					 errdetail("The row at %s of \"%s\" has %d dimensions, the queries %d.",
							   DatumGetCString(DirectFunctionCall1(tidout,
																   PointerGetDatum(&slot->tts_tid))),
							   RelationGetRelationName(rel), row.dims, queries[0].dims)));
		for (int q = 0; q < nqueries; q++)
		{
			KnnCandidate c;

			c.key = svec_metric_distance(metric, &row, &queries[q]);
			c.id = knn_tid_to_id(&slot->tts_tid);
			heap_offer(heaps + (Size) q * k, &lens[q], k, c);
		}
		if ((Pointer) s != DatumGetPointer(datum))
			pfree(s);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
}

/* Each query's heap, sorted nearest first, into the result set. */
static void
emit_results(ReturnSetInfo *rsinfo, TupleDesc tupdesc, KnnCandidate *heaps,
			 int *lens, int nqueries, int k)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	Tuplestorestate *tupstore;

	tupdesc = CreateTupleDescCopy(tupdesc);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	for (int q = 0; q < nqueries; q++)
	{
		KnnCandidate *h = heaps + (Size) q * k;

		qsort(h, lens[q], sizeof(KnnCandidate), cand_cmp);
		for (int r = 0; r < lens[q]; r++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			ItemPointerData tid;

			knn_id_to_tid(h[r].id, &tid);
			values[0] = Int32GetDatum(q + 1);
			values[1] = Int32GetDatum(r + 1);
			values[2] = PointerGetDatum(&tid);
			values[3] = Float8GetDatum(h[r].key);
			tuplestore_putvalues(tupstore, tupdesc, values, nulls);
		}
	}
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;
}

/*
 * svec_knn_exact(tbl regclass, col name, queries svec[], k int,
 *				 metric text DEFAULT 'l2')
 *	RETURNS TABLE (query_no int, rank int, row_tid tid, distance float8)
 */
Datum
svec_knn_exact(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		colname = PG_GETARG_NAME(1);
	ArrayType  *queries = PG_GETARG_ARRAYTYPE_P(2);
	int32		k = PG_GETARG_INT32(3);
	char	   *metric_name = text_to_cstring(PG_GETARG_TEXT_PP(4));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	KnnMetric	metric;
	SvecView   *qv;
	int			nqueries;
	Relation	rel;
	AttrNumber	attnum;
	KnnCandidate *heaps;
	int		   *lens;

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
	metric = knn_exact_metric(metric_name);
	qv = unpack_queries(queries, &nqueries);
	if ((Size) nqueries * k > MaxAllocHugeSize / sizeof(KnnCandidate))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k = %d for %d queries needs too much memory", k, nqueries)));
	heaps = palloc_extended(sizeof(KnnCandidate) * (Size) nqueries * k, MCXT_ALLOC_HUGE);
	lens = palloc0(sizeof(int) * nqueries);

	rel = relation_open(relid, AccessShareLock);
	attnum = knn_exact_check_relation(rel, NameStr(*colname), ARR_ELEMTYPE(queries),
									  qv[0].dims, "svec_knn_exact", false);
	scan_rows(rel, attnum, metric, qv, nqueries, k, heaps, lens);
	relation_close(rel, AccessShareLock);

	emit_results(rsinfo, tupdesc, heaps, lens, nqueries, k);
	return (Datum) 0;
}
