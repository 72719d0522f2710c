/*
 * vec_knn_exact.c
 *		vec_knn_exact(): exact k nearest neighbours of a batch of queries in
 *		one sequential pass over a table, as blocked sgemm (the algorithm
 *		and its error bound are in src/knn/core/knn_block.c).
 *
 * The scan uses the statement's snapshot, so it sees what a SELECT in the
 * same statement would see (rows deleted earlier in the transaction are
 * gone).  Because the function reads the table itself, it checks what the
 * executor would have checked: SELECT on the table or on the column, and
 * row-level security, which it cannot apply and therefore refuses.  It
 * refuses as well the tables whose rows are elsewhere: a partitioned table
 * (its rows are in its partitions, and a TID names a row only within one)
 * and a Citus table (its rows are in shards on the worker nodes; the table
 * on this node is an empty shell), rather than answer from an empty heap.
 *
 * Memory: the query matrix, the row block and the sgemm output share
 * work_mem; the per-query heaps take 16 bytes x k x queries on top.
 */
#include "postgres.h"

#include <cblas.h>

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/genam.h"
#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "hvec.h"
#include "vec.h"
#include "citus_table.h"
#include "vec_knn_exact.h"

PG_FUNCTION_INFO_V1(vec_knn_exact);

/* Fewer rows per block than this would make sgemm pointlessly slow. */
#define KNN_MIN_BLOCK_ROWS 16
/* Beyond this a bigger block buys nothing. */
#define KNN_MAX_BLOCK_ROWS 65536
/*
 * The sgemm output (queries x block rows floats) is read right after it is
 * written; past a few MB it no longer stays in cache and both sgemm and
 * the filter slow down (measured: 1000 queries, GloVe 100-d, ~15% slower
 * at 64MB than at 4MB work_mem), so larger work_mem does not grow it.
 */
#define KNN_MAX_SCORE_BYTES (4 * 1024 * 1024)

float *
knn_exact_unpack_queries(ArrayType *queries, int *nqueries, int *dim)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	float	   *out = NULL;
	int			d = 0;

	get_typlenbyvalalign(ARR_ELEMTYPE(queries), &typlen, &typbyval, &typalign);
	deconstruct_array(queries, ARR_ELEMTYPE(queries), typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query array must not be empty")));

	for (int i = 0; i < n; i++)
	{
		Vec		   *v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query array must not contain nulls"),
					 errdetail("Element %d is null.", i + 1)));
		v = DatumGetVec(elems[i]);
		if (i == 0)
		{
			d = v->dim;
			/* checked here, before n * d floats are allocated */
			if ((Size) n * d > MaxAllocHugeSize / sizeof(float))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("query array is too large")));
			out = palloc_extended(sizeof(float) * (Size) n * d, MCXT_ALLOC_HUGE);
		}
		else
			vec_check_same_dims(d, v->dim);
		memcpy(out + (Size) i * d, v->x, sizeof(float) * d);
	}
	*nqueries = n;
	*dim = d;
	return out;
}

KnnMetric
knn_exact_metric(const char *name)
{
	int			m = knn_metric_from_name(name);

	if (m < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown metric \"%s\"", name),
				 errhint("Valid metrics are l2, cosine, ip and l1.")));
	return (KnnMetric) m;
}

/* A type's bare name (vec, svec), for messages, whatever the search_path. */
static char *
type_name(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	name = pstrdup(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname));
	ReleaseSysCache(tup);
	return name;
}

AttrNumber
knn_exact_check_relation(Relation rel, const char *colname, Oid vectype,
						 int dim, const char *caller, bool allow_partitioned)
{
	Oid			relid = RelationGetRelid(rel);
	char		relkind = rel->rd_rel->relkind;
	AttrNumber	attnum;
	AclResult	aclresult;
	Form_pg_attribute att;

	if ((relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE) &&
		ms_relation_is_citus_table(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot scan distributed table \"%s\"",
						caller, RelationGetRelationName(rel)),
				 errdetail("The table is managed by Citus: its rows are in shards on the worker nodes, not in the table on this node."),
				 errhint("Use SELECT ... ORDER BY %s <-> query LIMIT k, which Citus runs on every shard, or call %s on the shards themselves on each worker.",
						 quote_identifier(colname), caller)));
	if (relkind == RELKIND_PARTITIONED_TABLE && !allow_partitioned)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s cannot scan partitioned table \"%s\"",
						caller, RelationGetRelationName(rel)),
				 errdetail("A row's TID identifies it only within its partition."),
				 errhint("Search each partition.")));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table or materialized view",
						RelationGetRelationName(rel))));

	attnum = get_attnum(relid, colname);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						colname, RelationGetRelationName(rel))));

	/* SELECT on the table, or at least on the column it reads */
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK &&
		(attnum <= 0 ||
		 pg_attribute_aclcheck(relid, attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK))
		aclcheck_error(aclresult, get_relkind_objtype(relkind),
					   RelationGetRelationName(rel));

	/* policies would filter rows; a raw scan cannot, so it must refuse */
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s cannot scan table \"%s\" because row-level security is enabled for it",
						caller, RelationGetRelationName(rel)),
				 errhint("Use a role that bypasses row-level security, or an ORDER BY ... LIMIT query, which applies the policies.")));

	if (relkind == RELKIND_MATVIEW && !RelationIsPopulated(rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("materialized view \"%s\" has not been populated",
						RelationGetRelationName(rel)),
				 errhint("Use the REFRESH MATERIALIZED VIEW command.")));

	if (attnum <= 0 || attnum > RelationGetDescr(rel)->natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("system column \"%s\" is not of type %s", colname,
						type_name(vectype))));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	/* an hvec column is read as the vecs of its values (exact) */
	if (getBaseType(att->atttypid) != vectype &&
		getBaseType(att->atttypid) != hvec_type_beside(vectype))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" is of type %s, not %s",
						NameStr(att->attname), RelationGetRelationName(rel),
						format_type_be(att->atttypid), type_name(vectype))));
	/* dim < 0: the caller checks the typmod itself (bvec_knn_exact.c) */
	if (att->atttypmod > 0 && dim >= 0 && att->atttypmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d", type_name(vectype),
						att->atttypmod, dim)));
	return attnum;
}

/*
 * Rows per block: as many as fit in work_mem with the query matrix and the
 * workspace (the sgemm output among it), at most what keeps the scores in
 * cache; ERROR when not even KNN_MIN_BLOCK_ROWS fit.
 */
static int
choose_block_rows(int nqueries, int dim)
{
	Size		budget = (Size) work_mem * 1024;
	Size		max_rows;
	int			block_rows;

	max_rows = KNN_MAX_SCORE_BYTES / (sizeof(float) * (Size) nqueries);
	max_rows = Max(max_rows, KNN_MIN_BLOCK_ROWS);
	max_rows = Min(max_rows, KNN_MAX_BLOCK_ROWS);
	block_rows = knn_block_rows_for_budget(dim, nqueries, budget,
										   KNN_MIN_BLOCK_ROWS, (int) max_rows);
	if (block_rows == 0)
	{
		Size		need = (Size) nqueries * dim * sizeof(float) +
			knn_block_workspace_bytes(dim, nqueries, KNN_MIN_BLOCK_ROWS);

		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a batch of %d queries of %d dimensions does not fit in work_mem",
						nqueries, dim),
				 errdetail("The batch needs at least %zu kB; work_mem is %d kB.",
						   need / 1024 + 1, work_mem),
				 errhint("Raise work_mem or split the queries into smaller batches.")));
	}
	return block_rows;
}

/*
 * The candidate heaps of nqueries queries, k rows each: an ERROR the user
 * can act on (a smaller k, fewer queries) when they cannot be had, rather
 * than a bare out-of-memory.
 */
static void *
alloc_candidate_heaps(int nqueries, int k)
{
	void	   *heaps;

	/* nqueries < 2^28 (array limit) and k < 2^31: no overflow in Size */
	if (knn_block_heap_bytes(nqueries, k) > MaxAllocHugeSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k = %d for %d queries needs too much memory", k, nqueries)));
	heaps = palloc_extended(knn_block_heap_bytes(nqueries, k),
							MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (heaps == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed to allocate candidate lists of %d rows for %d queries.",
						   k, nqueries),
				 errhint("Use a smaller k or fewer queries per call.")));
	return heaps;
}

/*
 * Every non-null vec of column attnum into kb, in one sequential scan
 * under the active snapshot; ERROR at the first row whose dimension is
 * not dim, naming its TID.
 */
static void
scan_rows_into_block(KnnBlock *kb, Relation rel, AttrNumber attnum, int dim)
{
	TableScanDesc scan;
	TupleTableSlot *slot;

	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		datum;
		Vec		   *v;

		CHECK_FOR_INTERRUPTS();
		datum = slot_getattr(slot, attnum, &isnull);
		if (isnull)
			continue;
		v = vec_or_hvec_datum(datum);
		if (v->dim != dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vec dimensions %d and %d", dim, v->dim),
					 errdetail("The row at %s of \"%s\" has %d dimensions, the queries %d.",
							   DatumGetCString(DirectFunctionCall1(tidout,
																   PointerGetDatum(&slot->tts_tid))),
							   RelationGetRelationName(rel), v->dim, dim)));
		knn_block_add_row(kb, v->x, knn_tid_to_id(&slot->tts_tid));
		if ((Pointer) v != DatumGetPointer(datum))
			pfree(v);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
}

KnnBlock *
knn_exact_search(Relation rel, AttrNumber attnum, KnnMetric metric,
				 const float *queries, int nqueries, int dim, int k)
{
	int			block_rows = choose_block_rows(nqueries, dim);
	void	   *heaps = alloc_candidate_heaps(nqueries, k);
	void	   *workspace;
	KnnBlock   *kb;

	workspace = palloc_extended(knn_block_workspace_bytes(dim, nqueries, block_rows),
								MCXT_ALLOC_HUGE);
	kb = palloc(sizeof(KnnBlock));
	knn_block_init(kb, metric, dim, queries, nqueries, k, block_rows,
				   workspace, heaps);

	/*
	 * A backend must not grow a thread pool behind the postmaster's back,
	 * and one sgemm per block is what the cost model of a query assumes.
	 */
	openblas_set_num_threads(1);

	scan_rows_into_block(kb, rel, attnum, dim);

	knn_block_finish(kb);
	pfree(workspace);
	return kb;
}

/*
 * vec_knn_exact(tbl regclass, col name, queries vec[], k int,
 *				 metric text DEFAULT 'l2')
 *	RETURNS TABLE (query_no int, rank int, row_tid tid, distance float8)
 */
Datum
vec_knn_exact(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		colname = PG_GETARG_NAME(1);
	ArrayType  *queries = PG_GETARG_ARRAYTYPE_P(2);
	int32		k = PG_GETARG_INT32(3);
	char	   *metric_name = text_to_cstring(PG_GETARG_TEXT_PP(4));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Tuplestorestate *tupstore;
	MemoryContext oldcxt;
	KnnMetric	metric;
	float	   *qx;
	int			nqueries;
	int			dim;
	Relation	rel;
	AttrNumber	attnum;
	KnnBlock   *kb;

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
	qx = knn_exact_unpack_queries(queries, &nqueries, &dim);

	rel = relation_open(relid, AccessShareLock);
	attnum = knn_exact_check_relation(rel, NameStr(*colname),
									  ARR_ELEMTYPE(queries), dim,
									  "vec_knn_exact", false);

	kb = knn_exact_search(rel, attnum, metric, qx, nqueries, dim, k);
	relation_close(rel, AccessShareLock);

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	for (int q = 0; q < nqueries; q++)
	{
		int			n;
		const KnnCandidate *res = knn_block_result(kb, q, &n);

		for (int r = 0; r < n; r++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			ItemPointerData tid;

			knn_id_to_tid(res[r].id, &tid);
			values[0] = Int32GetDatum(q + 1);
			values[1] = Int32GetDatum(r + 1);
			values[2] = PointerGetDatum(&tid);
			values[3] = Float8GetDatum(res[r].key);
			tuplestore_putvalues(tupstore, tupdesc, values, nulls);
		}
	}

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}
