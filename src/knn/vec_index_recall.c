/*
 * vec_index_recall.c
 *		vec_index_recall(): the recall@k a vec index actually delivers, on
 *		the caller's data and with the session's current settings.
 *
 * Each query runs as an ordinary "SELECT ... ORDER BY col <op> q LIMIT k"
 * through SPI, so the planner, the index and every GUC behave exactly as
 * they would for an application; the exact answer comes from one
 * vec_knn_exact pass over the table under the same snapshot.  The
 * operator is the ordering operator of the index's operator family, so
 * the function works for any access method whose opclass orders vecs by a
 * distance (GiST, SP-GiST, msivf, or another extension's).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/plannodes.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "vec.h"
#include "vec_knn_exact.h"

PG_FUNCTION_INFO_V1(vec_index_recall);

/* The distance function behind each operator, by its SQL name. */
static const struct
{
	const char *funcname;
	KnnMetric	metric;
}			metric_functions[] = {
	{"l2_distance", KNN_METRIC_L2},
	{"cosine_distance", KNN_METRIC_COSINE},
	{"vec_negative_inner_product", KNN_METRIC_IP},
	{"l1_distance", KNN_METRIC_L1},
};

/*
 * The ordering operator (vec, vec) of the index's first column; when its
 * family has several, the one with the lowest strategy number.
 */
static Oid
index_ordering_operator(Relation index, Oid vectype)
{
	Oid			opfamily = index->rd_opfamily[0];
	CatCList   *catlist;
	Oid			best = InvalidOid;
	int			best_strategy = 0;

	catlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamily));
	for (int i = 0; i < catlist->n_members; i++)
	{
		Form_pg_amop amop = (Form_pg_amop) GETSTRUCT(&catlist->members[i]->tuple);

		if (amop->amoppurpose == AMOP_ORDER &&
			amop->amoplefttype == vectype && amop->amoprighttype == vectype &&
			(!OidIsValid(best) || amop->amopstrategy < best_strategy))
		{
			best = amop->amopopr;
			best_strategy = amop->amopstrategy;
		}
	}
	ReleaseSysCacheList(catlist);

	if (!OidIsValid(best))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("index \"%s\" cannot order vecs by distance",
						RelationGetRelationName(index)),
				 errdetail("Its operator class has no ordering operator for type vec."),
				 errhint("vec_index_recall measures indexes that serve ORDER BY col <-> query LIMIT k, such as GiST, SP-GiST or msivf indexes.")));
	return best;
}

/* The metric of the distance function behind opr; ERROR when unknown. */
static KnnMetric
operator_metric(Oid opr)
{
	char	   *funcname = get_func_name(get_opcode(opr));

	for (int i = 0; i < (int) lengthof(metric_functions); i++)
	{
		if (funcname && strcmp(funcname, metric_functions[i].funcname) == 0)
			return metric_functions[i].metric;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ordering operator %s is not a vec distance vec_index_recall knows",
					format_operator(opr))));
	return KNN_METRIC_L2;		/* keep the compiler quiet */
}

/* Does the plan read the index in order (index scan or index-only scan)? */
static bool
plan_uses_index(Plan *plan, Oid indexid)
{
	if (plan == NULL)
		return false;
	if (IsA(plan, IndexScan) && ((IndexScan *) plan)->indexid == indexid)
		return true;
	if (IsA(plan, IndexOnlyScan) && ((IndexOnlyScan *) plan)->indexid == indexid)
		return true;
	return plan_uses_index(plan->lefttree, indexid) ||
		plan_uses_index(plan->righttree, indexid);
}

/*
 * WARNING when the prepared recall query does not read the index: the
 * number returned is then the recall of whatever plan the planner chose.
 */
static void
warn_unless_index_used(SPIPlanPtr plan, Relation index)
{
	CachedPlan *cplan = SPI_plan_get_cached_plan(plan);
	bool		used = false;
	ListCell   *lc;

	if (cplan == NULL)
		return;
	foreach(lc, cplan->stmt_list)
	{
		PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);

		used |= plan_uses_index(stmt->planTree, RelationGetRelid(index));
	}
	ReleaseCachedPlan(cplan, NULL);
	if (!used)
		ereport(WARNING,
				(errmsg("the plan for the recall queries does not use index \"%s\"",
						RelationGetRelationName(index)),
				 errdetail("The recall reported is that of the plan the planner chose."),
				 errhint("To measure the index, make the planner prefer it, e.g. SET enable_seqscan = off.")));
}

/* qsort and bsearch order of row ids */
static int
id_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * The index to measure, opened with AccessShareLock, and in *attnum the
 * heap column its first key reads; ERROR unless it is an index (not a
 * partitioned one) whose first key is a plain column.
 */
static Relation
open_index_on_column(Oid indexid, AttrNumber *attnum)
{
	Relation	index = relation_open(indexid, AccessShareLock);

	if (index->rd_rel->relkind != RELKIND_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", RelationGetRelationName(index)),
				 index->rd_rel->relkind == RELKIND_PARTITIONED_INDEX ?
				 errhint("Measure the index of each partition.") : 0));
	*attnum = index->rd_index->indkey.values[0];
	if (*attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index \"%s\" is on an expression, not on a vec column",
						RelationGetRelationName(index))));
	return index;
}

/*
 * The query an application would run for the top k by opr, every name
 * quoted and the operator schema-qualified, the query vec as $1.
 */
static char *
recall_query_sql(Relation heap, const char *colname, Oid opr, int k)
{
	HeapTuple	oprtup;
	Form_pg_operator oprform;
	char	   *sql;

	oprtup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));
	if (!HeapTupleIsValid(oprtup))
		elog(ERROR, "cache lookup failed for operator %u", opr);
	oprform = (Form_pg_operator) GETSTRUCT(oprtup);
	sql = psprintf("SELECT ctid, %s FROM ONLY %s ORDER BY %s OPERATOR(%s.%s) $1 LIMIT %d",
				   quote_identifier(colname),
				   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(heap)),
											  RelationGetRelationName(heap)),
				   quote_identifier(colname),
				   quote_identifier(get_namespace_name(oprform->oprnamespace)),
				   NameStr(oprform->oprname),
				   k);
	ReleaseSysCache(oprtup);
	return sql;
}

/* What every query of one vec_index_recall call shares. */
typedef struct RecallRun
{
	SPIPlanPtr	plan;			/* the prepared recall query */
	KnnMetric	metric;
	int			dim;
	int			k;
	int64	   *exact_ids;		/* scratch for k ids */
	int64	   *got_ids;		/* scratch for k ids */
} RecallRun;

/*
 * How many distinct rows of the plan's answer (SPI_tuptable) are right:
 * in the exact top k (exact_ids, sorted, nexact of them) or no farther
 * from qv than the k-th exact distance kth, since any of the tied rows
 * is a right answer.
 */
static int
count_correct(RecallRun *run, const float *qv, int nexact, double kth)
{
	int			ngot = 0;
	int			correct = 0;

	for (uint64 r = 0; r < SPI_processed && r < (uint64) run->k; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		tid_null;
		bool		vec_null;
		Datum		tid = SPI_getbinval(tup, desc, 1, &tid_null);
		Datum		vd = SPI_getbinval(tup, desc, 2, &vec_null);
		int64		id;
		bool		ok;

		if (tid_null || vec_null)
			continue;
		id = knn_tid_to_id((ItemPointer) DatumGetPointer(tid));
		ok = bsearch(&id, run->exact_ids, nexact, sizeof(int64), id_cmp) != NULL;
		if (!ok)
		{
			Vec		   *v = DatumGetVec(vd);
			double		d;

			vec_check_same_dims(run->dim, v->dim);
			d = knn_exact_distance(run->metric, qv, v->x, run->dim);
			ok = isnan(kth) || d <= kth + 1e-12 * (1.0 + fabs(kth));
		}
		if (ok)
			run->got_ids[ngot++] = id;
	}
	/* a row returned twice is found once */
	qsort(run->got_ids, ngot, sizeof(int64), id_cmp);
	for (int i = 0; i < ngot; i++)
		if (i == 0 || run->got_ids[i] != run->got_ids[i - 1])
			correct++;
	return correct;
}

/*
 * The recall of one query qv: runs the recall query through SPI and
 * scores its rows against the exact answer (exact, nexact rows, nearest
 * first); 1 when there is nothing to find.
 */
static double
query_recall(RecallRun *run, const float *qv,
			 const KnnCandidate *exact, int nexact)
{
	Vec		   *query = vec_new(run->dim);
	Datum		arg;
	int			rc;
	int			correct;

	memcpy(query->x, qv, sizeof(float) * run->dim);
	arg = PointerGetDatum(query);
	rc = SPI_execute_plan(run->plan, &arg, NULL, true, run->k);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));

	if (nexact == 0)
	{
		/* nothing to find: every plan is right */
		SPI_freetuptable(SPI_tuptable);
		return 1.0;
	}
	for (int i = 0; i < nexact; i++)
		run->exact_ids[i] = exact[i].id;
	qsort(run->exact_ids, nexact, sizeof(int64), id_cmp);

	correct = count_correct(run, qv, nexact, exact[nexact - 1].key);
	SPI_freetuptable(SPI_tuptable);
	pfree(query);
	return (double) Min(correct, nexact) / nexact;
}

/*
 * vec_index_recall(idx regclass, queries vec[], k int DEFAULT 10)
 *	RETURNS float8
 *
 * Mean over the queries of |returned rows that belong to the exact top k|
 * / |exact top k|.  A returned row also counts when its exact distance
 * ties the k-th exact distance (within a relative 1e-12), since any of
 * the tied rows is a right answer.  A query on a table without non-null
 * rows has recall 1.
 */
Datum
vec_index_recall(PG_FUNCTION_ARGS)
{
	Oid			indexid = PG_GETARG_OID(0);
	ArrayType  *queries = PG_GETARG_ARRAYTYPE_P(1);
	int32		k = PG_GETARG_INT32(2);
	Oid			vectype = ARR_ELEMTYPE(queries);
	float	   *qx;
	int			nqueries;
	int			dim;
	Relation	index;
	Relation	heap;
	Oid			opr;
	AttrNumber	attnum;
	char	   *colname;
	KnnBlock   *kb;
	char	   *sql;
	Oid			argtypes[1];
	RecallRun	run;
	int			ret;
	double		recall_sum = 0.0;

	if (k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", k)));
	qx = knn_exact_unpack_queries(queries, &nqueries, &dim);

	index = open_index_on_column(indexid, &attnum);
	opr = index_ordering_operator(index, vectype);
	run.metric = operator_metric(opr);
	run.dim = dim;
	run.k = k;

	heap = relation_open(index->rd_index->indrelid, AccessShareLock);
	colname = get_attname(RelationGetRelid(heap), attnum, false);
	knn_exact_check_relation(heap, colname, vectype, dim, "vec_index_recall");

	/* the exact answer first, under the same snapshot the queries use */
	kb = knn_exact_search(heap, attnum, run.metric, qx, nqueries, dim, k);

	sql = recall_query_sql(heap, colname, opr, k);
	run.exact_ids = palloc(sizeof(int64) * k);
	run.got_ids = palloc(sizeof(int64) * k);

	ret = SPI_connect();
	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	argtypes[0] = vectype;
	run.plan = SPI_prepare(sql, 1, argtypes);
	if (run.plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	warn_unless_index_used(run.plan, index);

	for (int q = 0; q < nqueries; q++)
	{
		int			nexact;
		const KnnCandidate *exact = knn_block_result(kb, q, &nexact);

		recall_sum += query_recall(&run, qx + (Size) q * dim, exact, nexact);
	}

	SPI_finish();
	relation_close(heap, AccessShareLock);
	relation_close(index, AccessShareLock);
	PG_RETURN_FLOAT8(recall_sum / nqueries);
}
