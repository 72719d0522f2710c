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
 *
 * An index of a partitioned table is measured as the query on the
 * partitioned table uses it, through the indexes of its partitions: the
 * exact answer is the merged exact top k of every leaf partition, and a
 * row is named by its partition and TID.  Privileges and row-level
 * security are those of the partitioned table, as for a query on it.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "hvec.h"
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

/*
 * Whether the index's first column is an hvec (its opclass's input type is
 * the hvec beside vectype); ERROR, naming the type, when it is neither vec
 * nor hvec: the exact answer is computed by vec_knn_exact's code, which
 * reads vecs and hvecs only.
 */
static bool
index_over_hvec(Relation index, Oid vectype)
{
	Oid			opctype = index->rd_opcintype[0];
	Oid			hvectype = hvec_type_beside(vectype);

	if (opctype == vectype)
		return false;
	if (OidIsValid(hvectype) && opctype == hvectype)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("vec_index_recall measures indexes over vec or hvec, not %s",
					format_type_be(opctype)),
			 errdetail("Index \"%s\" is over type %s.",
					   RelationGetRelationName(index), format_type_be(opctype)),
			 strcmp(format_type_be(opctype), "bvec") == 0 ?
			 errhint("Use bvec_index_recall for an index over bvec.") :
			 errhint("Compare the index's answers with svec_knn_exact instead.")));
	return false;				/* keep the compiler quiet */
}

/*
 * An hvec index is queried with hvecs: each query rounded to half (ERROR
 * 22003 beyond the half range), in place, so that the exact answer is
 * that of the queries the index sees.
 */
static void
round_queries_to_half(float *qx, int nqueries, int dim)
{
	for (int q = 0; q < nqueries; q++)
	{
		float	   *x = qx + (Size) q * dim;
		HVec	   *h = hvec_from_floats(x, dim);
		Vec		   *v = hvec_to_vec(h);

		memcpy(x, v->x, sizeof(float) * dim);
		pfree(h);
		pfree(v);
	}
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

/*
 * Is indexid the index measured, or, when that is a partitioned index, one
 * of its partitions' indexes?
 */
static bool
is_measured_index(Oid indexid, Oid measured, bool partitioned)
{
	if (indexid == measured)
		return true;
	return partitioned &&
		list_member_oid(get_partition_ancestors(indexid), measured);
}

/*
 * Does the plan read the index in order (index scan or index-only scan),
 * in any of its nodes (the children of an Append or MergeAppend
 * included)?
 */
static bool
plan_uses_index(Plan *plan, Oid measured, bool partitioned)
{
	ListCell   *lc;
	List	   *children = NIL;

	if (plan == NULL)
		return false;
	if (IsA(plan, IndexScan) &&
		is_measured_index(((IndexScan *) plan)->indexid, measured, partitioned))
		return true;
	if (IsA(plan, IndexOnlyScan) &&
		is_measured_index(((IndexOnlyScan *) plan)->indexid, measured, partitioned))
		return true;
	if (IsA(plan, Append))
		children = ((Append *) plan)->appendplans;
	else if (IsA(plan, MergeAppend))
		children = ((MergeAppend *) plan)->mergeplans;
	foreach(lc, children)
	{
		if (plan_uses_index((Plan *) lfirst(lc), measured, partitioned))
			return true;
	}
	return plan_uses_index(plan->lefttree, measured, partitioned) ||
		plan_uses_index(plan->righttree, measured, partitioned);
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

		used |= plan_uses_index(stmt->planTree, RelationGetRelid(index),
								index->rd_rel->relkind == RELKIND_PARTITIONED_INDEX);
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
 * heap column its first key reads; ERROR unless it is an index (of a
 * table or of a partitioned table) whose first key is a plain column.
 */
static Relation
open_index_on_column(Oid indexid, AttrNumber *attnum)
{
	Relation	index = relation_open(indexid, AccessShareLock);

	if (index->rd_rel->relkind != RELKIND_INDEX &&
		index->rd_rel->relkind != RELKIND_PARTITIONED_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", RelationGetRelationName(index))));
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
 * quoted and the operator schema-qualified, the query vec as $1; with
 * each row's table (its partition) and TID.  ONLY a plain table: the
 * exact answer does not read its inheritance children.
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
	sql = psprintf("SELECT tableoid, ctid, %s FROM %s%s ORDER BY %s OPERATOR(%s.%s) $1 LIMIT %d",
				   quote_identifier(colname),
				   heap->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
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
	bool		hvec_index;		/* the index is over hvec: queries are hvecs */
	Oid			relid;			/* the table the index is on */
	Oid		   *leaves;			/* the tables read, sorted: a row id is its
								 * table's index here and its TID */
	int			nleaves;
} RecallRun;

/*
 * A row id: its table's position among the leaves (at most
 * MAX_RECALL_LEAVES of them) above the 48 bits of knn_tid_to_id.
 */
#define RECALL_LEAF_SHIFT 48
#define MAX_RECALL_LEAVES 32767

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
		bool		tableoid_null;
		bool		tid_null;
		bool		vec_null;
		Datum		tableoid = SPI_getbinval(tup, desc, 1, &tableoid_null);
		Datum		tid = SPI_getbinval(tup, desc, 2, &tid_null);
		Datum		vd = SPI_getbinval(tup, desc, 3, &vec_null);
		Oid			relid;
		Oid		   *leaf;
		int64		id;
		bool		ok;

		if (tableoid_null || tid_null || vec_null)
			continue;
		relid = DatumGetObjectId(tableoid);
		leaf = bsearch(&relid, run->leaves, run->nleaves, sizeof(Oid), oid_cmp);
		if (leaf == NULL)		/* a partition attached meanwhile */
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the partitions of \"%s\" changed while vec_index_recall measured its index",
							get_rel_name(run->relid)),
					 errhint("Run it again.")));
		id = ((int64) (leaf - run->leaves) << RECALL_LEAF_SHIFT) |
			knn_tid_to_id((ItemPointer) DatumGetPointer(tid));
		ok = bsearch(&id, run->exact_ids, nexact, sizeof(int64), id_cmp) != NULL;
		if (!ok)
		{
			Vec		   *v = vec_or_hvec_datum(vd);
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
	void	   *query;
	Datum		arg;
	int			rc;
	int			correct;

	if (run->hvec_index)
		query = hvec_from_floats(qv, run->dim);	/* qv is in half already */
	else
	{
		query = vec_new(run->dim);
		memcpy(((Vec *) query)->x, qv, sizeof(float) * run->dim);
	}
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

/* Nearest first, a NaN distance (cosine of a zero vec) last, then by id. */
static int
candidate_cmp(const void *a, const void *b)
{
	const KnnCandidate *x = (const KnnCandidate *) a;
	const KnnCandidate *y = (const KnnCandidate *) b;

	if (isnan(x->key) || isnan(y->key))
	{
		if (isnan(x->key) != isnan(y->key))
			return isnan(x->key) ? 1 : -1;
	}
	else if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/*
 * The tables whose rows the index covers, in run->leaves: the table, or
 * every leaf partition of a partitioned table (locked like it).  ERROR on
 * a partition that cannot be scanned (a foreign table).
 */
static void
collect_leaves(RecallRun *run, Relation heap)
{
	List	   *leaves = NIL;
	ListCell   *lc;
	int			i = 0;

	if (heap->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		leaves = list_make1_oid(RelationGetRelid(heap));
	else
	{
		foreach(lc, find_all_inheritors(RelationGetRelid(heap), AccessShareLock, NULL))
		{
			Oid			relid = lfirst_oid(lc);
			char		relkind = get_rel_relkind(relid);

			if (relkind == RELKIND_PARTITIONED_TABLE)
				continue;
			if (relkind != RELKIND_RELATION)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("vec_index_recall cannot scan partition \"%s\" of \"%s\"",
								get_rel_name(relid), RelationGetRelationName(heap)),
						 errdetail("Only partitions that are tables can be scanned.")));
			leaves = lappend_oid(leaves, relid);
		}
	}
	if (list_length(leaves) > MAX_RECALL_LEAVES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vec_index_recall cannot measure an index over more than %d partitions",
						MAX_RECALL_LEAVES)));
	run->nleaves = list_length(leaves);
	run->leaves = palloc(sizeof(Oid) * Max(run->nleaves, 1));
	foreach(lc, leaves)
		run->leaves[i++] = lfirst_oid(lc);
	qsort(run->leaves, run->nleaves, sizeof(Oid), oid_cmp);
}

/*
 * The exact top k of every query over every leaf, nearest first, ids
 * naming leaf and TID: one vec_knn_exact pass per leaf, merged.  Each
 * pass's memory is freed before the next.
 */
static void
exact_answers(RecallRun *run, Relation heap, const char *colname,
			  const float *qx, int nqueries, KnnCandidate ***exact, int **nexact)
{
	MemoryContext leafcxt = AllocSetContextCreate(CurrentMemoryContext,
												  "vec_index_recall leaf",
												  ALLOCSET_DEFAULT_SIZES);

	*exact = palloc0(sizeof(KnnCandidate *) * nqueries);
	*nexact = palloc0(sizeof(int) * nqueries);
	for (int l = 0; l < run->nleaves; l++)
	{
		Oid			relid = run->leaves[l];
		Relation	leaf = relid == RelationGetRelid(heap) ? heap :
			relation_open(relid, AccessShareLock);
		AttrNumber	attnum = get_attnum(relid, colname);
		MemoryContext oldcxt;
		KnnBlock   *kb;

		if (attnum == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" of partition \"%s\" not found",
				 colname, RelationGetRelationName(leaf));
		oldcxt = MemoryContextSwitchTo(leafcxt);
		kb = knn_exact_search(leaf, attnum, run->metric, qx, nqueries, run->dim, run->k);
		MemoryContextSwitchTo(oldcxt);

		for (int q = 0; q < nqueries; q++)
		{
			int			n;
			const KnnCandidate *res = knn_block_result(kb, q, &n);
			int			had = (*nexact)[q];
			KnnCandidate *merged = palloc(sizeof(KnnCandidate) * (had + n));

			if (had > 0)
				memcpy(merged, (*exact)[q], sizeof(KnnCandidate) * had);
			for (int r = 0; r < n; r++)
			{
				merged[had + r].key = res[r].key;
				merged[had + r].id = ((int64) l << RECALL_LEAF_SHIFT) | res[r].id;
			}
			qsort(merged, had + n, sizeof(KnnCandidate), candidate_cmp);
			if ((*exact)[q])
				pfree((*exact)[q]);
			(*exact)[q] = merged;
			(*nexact)[q] = Min(had + n, run->k);
		}
		MemoryContextReset(leafcxt);
		if (leaf != heap)
			relation_close(leaf, AccessShareLock);
	}
	MemoryContextDelete(leafcxt);
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
	KnnCandidate **exact;
	int		   *nexact;
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
	run.hvec_index = index_over_hvec(index, vectype);
	if (run.hvec_index)
		round_queries_to_half(qx, nqueries, dim);
	opr = index_ordering_operator(index, run.hvec_index ? hvec_type_beside(vectype) : vectype);
	run.metric = operator_metric(opr);
	run.dim = dim;
	run.k = k;

	heap = relation_open(index->rd_index->indrelid, AccessShareLock);
	colname = get_attname(RelationGetRelid(heap), attnum, false);
	knn_exact_check_relation(heap, colname, vectype, dim, "vec_index_recall", true);

	/* the exact answer first, under the same snapshot the queries use */
	run.relid = RelationGetRelid(heap);
	collect_leaves(&run, heap);
	exact_answers(&run, heap, colname, qx, nqueries, &exact, &nexact);

	sql = recall_query_sql(heap, colname, opr, k);
	run.exact_ids = palloc(sizeof(int64) * k);
	run.got_ids = palloc(sizeof(int64) * k);

	ret = SPI_connect();
	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	argtypes[0] = run.hvec_index ? hvec_type_beside(vectype) : vectype;
	run.plan = SPI_prepare(sql, 1, argtypes);
	if (run.plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	warn_unless_index_used(run.plan, index);

	for (int q = 0; q < nqueries; q++)
		recall_sum += query_recall(&run, qx + (Size) q * dim, exact[q], nexact[q]);

	SPI_finish();
	relation_close(heap, AccessShareLock);
	relation_close(index, AccessShareLock);
	PG_RETURN_FLOAT8(recall_sum / nqueries);
}
