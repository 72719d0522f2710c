/*
 * governance_query.c
 *		The query entry points ms.knn, ms.within and ms.in_box: each
 *		authorises the caller (governance.c) and scans the partition of the
 *		version that the model's label points to.
 *
 * The queries are in C for speed: a query service calls them thousands of
 * times a second, and a PL/pgSQL EXECUTE would plan the partition query on
 * every call.  Here both statements a query needs, the authorisation
 * (ms._access) and the scan of the version's own partition, run from plans
 * prepared once per backend and kept, and the authorisation answers
 * themselves are cached (governance.c).  On a Citus cluster the whole call
 * runs on the worker holding the org (ms.enable_citus makes these entry
 * points distributed functions), against its copies of the governance
 * tables and its shard of the version.
 *
 * The entry points are invoker-rights functions that enter as the owner
 * themselves (caller.c); authorisation asks about the caller that entry
 * recorded, never about current_user, which is then the owner.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "caller.h"
#include "citus_table.h"
#include "elemtype.h"
#include "governance.h"
#include "vbox.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(ms_knn);
PG_FUNCTION_INFO_V1(ms_within);
PG_FUNCTION_INFO_V1(ms_in_box);

/* which entry point: the shape of the arguments and of the partition query */
typedef enum MsQueryMode
{
	MSQ_KNN,
	MSQ_WITHIN,
	MSQ_IN_BOX
} MsQueryMode;

/* Plans of the partition queries, per version and mode, for the backend. */
typedef struct PartPlanKey
{
	int64		version_id;
	int64		shard;			/* the org's shard of it here, or 0 */
	int32		mode;
	int32		kind;			/* MsElemKind of the model's points */
	char		metric[MS_METRIC_SIZE];	/* a re-created extension may reuse ids */
} PartPlanKey;

typedef struct PartPlanEntry
{
	PartPlanKey key;
	SPIPlanPtr	plan;
} PartPlanEntry;

static HTAB *part_plans = NULL;

/* The extension's schema (where vec, vbox and their operators live). */
Oid
ms_extension_schema(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("machinesoup"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension machinesoup is not installed")));
	return nsp;
}

/* The distance operator of a model's metric (ms.models allows no other). */
static const char *
metric_operator(const char *metric)
{
	if (strcmp(metric, "l2") == 0)
		return "<->";
	if (strcmp(metric, "ip") == 0)
		return "<#>";
	if (strcmp(metric, "cosine") == 0)
		return "<=>";
	if (strcmp(metric, "hamming") == 0)
		return "<~>";
	if (strcmp(metric, "jaccard") == 0)
		return "<%>";
	elog(ERROR, "unknown metric \"%s\"", metric);
	return NULL;				/* keep compiler quiet */
}

/*
 * Is the version's points table distributed by Citus (ms.enable_citus)?
 * Then its queries name the org, for Citus to route them to the one shard
 * that holds the org's rows rather than to every shard of the table.
 */
static bool
version_is_distributed(int64 version_id)
{
	char		relname[NAMEDATALEN];
	Oid			relid;

	snprintf(relname, sizeof(relname), "points_" INT64_FORMAT, version_id);
	relid = get_relname_relid(relname, get_namespace_oid("ms", false));
	return OidIsValid(relid) && ms_relation_is_citus_table(relid);
}

/*
 * On Citus, the id of the org's shard of the version's table when that
 * shard is on this node (a routed call runs on the org's worker), else 0.
 * There the query names the shard itself: through the distributed table
 * Citus plans the query anew on every call (its router plan, a deparsed
 * shard query planned again), which cost a routed ms.knn more than the
 * whole call costs on one node.  Not inside a transaction block, where
 * Citus may have written the shard through a connection of its own.  A
 * shard moved away is no longer placed here: the next call goes through
 * Citus again.
 */
static int64
local_points_shard(int64 version_id, const char *org)
{
	static SPIPlanPtr plan = NULL;
	char		relname[NAMEDATALEN];
	Oid			relid;
	Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	int64		shard;
	int			ret;

	if (IsTransactionBlock())
		return 0;
	snprintf(relname, sizeof(relname), "points_" INT64_FORMAT, version_id);
	relid = get_relname_relid(relname, get_namespace_oid("ms", false));
	if (!OidIsValid(relid) || !ms_relation_is_citus_table(relid))
		return 0;
	if (plan == NULL)
		plan = ms_prepare_kept("SELECT x.s FROM (SELECT pg_catalog.get_shard_id_for_distribution_column($1, $2) s) x"
							   " WHERE EXISTS (SELECT FROM pg_catalog.pg_dist_placement p, pg_catalog.pg_dist_local_group g"
							   "                WHERE p.shardid OPERATOR(pg_catalog.=) x.s"
							   "                  AND p.groupid OPERATOR(pg_catalog.=) g.groupid)",
							   2, argtypes);
	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetTextDatum(org);
	ret = SPI_execute_plan(plan, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "shard lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return 0;
	shard = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return 0;
	snprintf(relname, sizeof(relname), "points_" INT64_FORMAT "_" INT64_FORMAT, version_id, shard);
	return OidIsValid(get_relname_relid(relname, get_namespace_oid("ms", false))) ? shard : 0;
}

/*
 * The text of the query of partition ms.points_<version_id> in mode, and
 * its argument types, ordered by the model's metric operator so the
 * partition's index can return rows in order.  $1 is the query, of the
 * model's points' type kind (for in_box, the box's centre); $2 the LIMIT
 * (knn), the radius (within) or the box (in_box).
 */
static char *
partition_query_sql(int64 version_id, int64 shard, MsQueryMode mode, const char *metric,
					MsElemKind kind, Oid *argtypes)
{
	StringInfoData sql;
	Oid			extnsp;
	const char *nsp;
	const char *op = metric_operator(metric);
	const char *org_filter;
	char		table[2 * NAMEDATALEN];

	/* our operators and the vec type live in the extension's schema */
	extnsp = ms_extension_schema();
	nsp = quote_identifier(get_namespace_name(extnsp));
	argtypes[2] = TEXTOID;
	org_filter = (shard != 0 || version_is_distributed(version_id)) ?
		" AND p.org OPERATOR(pg_catalog.=) $3" : "";
	if (shard != 0)
		snprintf(table, sizeof(table), "ms.points_" INT64_FORMAT "_" INT64_FORMAT, version_id, shard);
	else
		snprintf(table, sizeof(table), "ms.points_" INT64_FORMAT, version_id);
	argtypes[0] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								  CStringGetDatum(ms_elem_type_name(kind)),
								  ObjectIdGetDatum(extnsp));
	initStringInfo(&sql);
	if (mode == MSQ_KNN)
	{
		argtypes[1] = INT4OID;
		appendStringInfo(&sql,
						 "SELECT p.point_id, p.embedding OPERATOR(%s.%s) $1, p.payload"
						 " FROM %s p"
						 " WHERE true%s"
						 " ORDER BY p.embedding OPERATOR(%s.%s) $1"
						 " LIMIT $2",
						 nsp, op, table, org_filter, nsp, op);
	}
	else if (mode == MSQ_WITHIN)
	{
		argtypes[1] = FLOAT8OID;
		appendStringInfo(&sql,
						 "SELECT p.point_id, p.embedding OPERATOR(%s.%s) $1, p.payload"
						 " FROM %s p"
						 " WHERE (p.embedding OPERATOR(%s.%s) $1) OPERATOR(pg_catalog.<=) $2%s",
						 nsp, op, table, nsp, op, org_filter);
		/* L2: a box prefilter (as vec_dwithin()) the GiST index serves */
		if (strcmp(metric, "l2") == 0 && kind == MS_ELEM_FLOAT32)
			appendStringInfo(&sql,
							 " AND p.embedding OPERATOR(%s.<@) %s.vec_dwithin_box($1, $2)",
							 nsp, nsp);
		appendStringInfo(&sql,
						 " ORDER BY p.embedding OPERATOR(%s.%s) $1, p.point_id",
						 nsp, op);
	}
	else
	{
		argtypes[1] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									  CStringGetDatum("vbox"),
									  ObjectIdGetDatum(extnsp));
		appendStringInfo(&sql,
						 "SELECT p.point_id, p.embedding OPERATOR(%s.%s) $1, p.payload"
						 " FROM %s p"
						 " WHERE p.embedding OPERATOR(%s.<@) $2%s"
						 " ORDER BY p.embedding OPERATOR(%s.%s) $1, p.point_id",
						 nsp, op, table, nsp, org_filter, nsp, op);
	}
	return sql.data;
}

/*
 * The kept plan of partition_query_sql (inside SPI), prepared on the
 * backend's first query of that version, mode and metric.
 */
static SPIPlanPtr
partition_plan(int64 version_id, int64 shard, MsQueryMode mode, const char *metric,
			   MsElemKind kind)
{
	PartPlanKey key;
	PartPlanEntry *entry;
	bool		found;

	if (part_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(PartPlanKey);
		ctl.entrysize = sizeof(PartPlanEntry);
		ctl.hcxt = TopMemoryContext;
		part_plans = hash_create("machinesoup partition plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.version_id = version_id;
	key.shard = shard;
	key.mode = mode;
	key.kind = kind;
	strlcpy(key.metric, metric, sizeof(key.metric));
	entry = hash_search(part_plans, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		Oid			argtypes[3];
		char	   *sql = partition_query_sql(version_id, shard, mode, metric, kind, argtypes);
		SPIPlanPtr	plan = ms_prepare_kept(sql, 3, argtypes);

		entry = hash_search(part_plans, &key, HASH_ENTER, &found);
		entry->plan = plan;
	}
	return entry->plan;
}

/* A materialised SRF result: the tuplestore and its descriptor. */
static void
init_srf(FunctionCallInfo fcinfo, Tuplestorestate **store, TupleDesc *desc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	*desc = CreateTupleDescCopy(*desc);
	*store = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = *store;
	rsinfo->setDesc = *desc;
	MemoryContextSwitchTo(oldcxt);
}

/* The arguments of one query, checked. */
typedef struct QueryArgs
{
	char	   *org;
	char	   *model;
	char	   *label;			/* NULL: the model's default label */
	Datum		query;			/* $1: the query, or the box's centre (a vec) */
	MsElemKind	qkind;			/* the query's type */
	Datum		arg;			/* $2: k, the radius, or the box */
} QueryArgs;

/*
 * The type of the entry point's query argument (argument 2), from its
 * pg_proc row: ms.knn and ms.within have one overload per element type,
 * all the same C function.
 */
static MsElemKind
query_arg_kind(FunctionCallInfo fcinfo)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	MsElemKind	kind;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	kind = ms_elem_kind_of_type(((Form_pg_proc) GETSTRUCT(tup))->proargtypes.values[2]);
	ReleaseSysCache(tup);
	if (kind == MS_ELEM_NONE)
		elog(ERROR, "unexpected query argument type");
	return kind;
}

/*
 * The arguments of ms.knn, ms.within or ms.in_box, checked before anything
 * else: no NULL but the label, valid names, k at least 1, a radius that is
 * a number.  The arguments of a box query are (org, model, box, label),
 * the others' (org, model, query, k or radius, label).
 */
static void
query_args(FunctionCallInfo fcinfo, MsQueryMode mode, QueryArgs *qa)
{
	int			label_arg = (mode == MSQ_IN_BOX) ? 3 : 4;

	ms_check_not_null(fcinfo, 0, "org");
	ms_check_not_null(fcinfo, 1, "model");
	ms_check_not_null(fcinfo, 2, mode == MSQ_IN_BOX ? "box" : "query");
	if (mode != MSQ_IN_BOX)
		ms_check_not_null(fcinfo, 3, mode == MSQ_KNN ? "k" : "radius");
	qa->org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	qa->model = text_to_cstring(PG_GETARG_TEXT_PP(1));
	qa->label = PG_ARGISNULL(label_arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(label_arg));
	ms_check_names(qa->org, qa->model, qa->label);
	if (mode == MSQ_IN_BOX)
	{
		VBox	   *box = PG_GETARG_VBOX_P(2);
		const float4 *lo = VBOX_LO(box);
		const float4 *hi = VBOX_HI(box);

		Vec		   *centre = vec_new(box->dim);

		/* results come nearest to the box's centre first */
		for (int i = 0; i < box->dim; i++)
			centre->x[i] = (float4) (((double) lo[i] + (double) hi[i]) / 2.0);
		qa->query = PointerGetDatum(centre);
		qa->qkind = MS_ELEM_FLOAT32;
		qa->arg = PointerGetDatum(box);
	}
	else if (mode == MSQ_KNN)
	{
		int32		k = PG_GETARG_INT32(3);

		qa->query = PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(2)));
		qa->qkind = query_arg_kind(fcinfo);
		if (k < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be at least 1, not %d", k)));
		qa->arg = Int32GetDatum(k);
	}
	else
	{
		float8		radius = PG_GETARG_FLOAT8(3);

		qa->query = PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(2)));
		qa->qkind = query_arg_kind(fcinfo);
		if (isnan(radius))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("radius must not be NaN")));
		qa->arg = Float8GetDatum(radius);
	}
}

/*
 * Run plan on the query's $1 and $2, and the org as $3 (inside SPI); its
 * rows go into store.
 */
static void
scan_partition(SPIPlanPtr plan, const QueryArgs *qa, Tuplestorestate *store,
			   TupleDesc desc)
{
	Datum		values[3];
	int			ret;

	values[0] = qa->query;
	values[1] = qa->arg;
	values[2] = CStringGetTextDatum(qa->org);
	ret = SPI_execute_plan(plan, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "partition query failed: %s", SPI_result_code_string(ret));

	/* the tuplestore copies into its own (per-query) context */
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	rdesc = SPI_tuptable->tupdesc;
		Datum		out[3];
		bool		outnull[3];

		for (int c = 0; c < 3; c++)
			out[c] = SPI_getbinval(row, rdesc, c + 1, &outnull[c]);
		tuplestore_putvalues(store, desc, out, outnull);
	}
}

/*
 * ms.knn(org, model, query vec, k, label),
 * ms.within(org, model, query vec, radius, label) and
 * ms.in_box(org, model, box vbox, label): the rows (point_id, distance,
 * payload) of the label's version, nearest first, once the caller is
 * authorised to query the label.
 */
static Datum
ms_query(FunctionCallInfo fcinfo, MsQueryMode mode)
{
	QueryArgs	qa;
	int64		version_id;
	int			dims;
	char		metric[MS_METRIC_SIZE];
	char		element_type[MS_ELEM_NAME_SIZE];
	MsElemKind	kind;
	int			qdim;
	Tuplestorestate *store;
	TupleDesc	desc;
	MemoryContext callcxt = CurrentMemoryContext;
	int			ret;
	bool		nothing;

	query_args(fcinfo, mode, &qa);
	init_srf(fcinfo, &store, &desc);

	ret = SPI_connect();
	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	ms_authorise_caller(qa.org, qa.model, qa.label, "query", "query",
						&version_id, &dims, metric, NULL, element_type);
	kind = ms_elem_kind_from_name(element_type);

	/*
	 * The query is in the model's type, or a vec (a box's centre is one),
	 * converted as ms.upsert_points converts points; no other type.  Boxes
	 * are boxes of vecs: only float32 models are searched by box.
	 */
	if (mode == MSQ_IN_BOX && kind != MS_ELEM_FLOAT32)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s/%s\" holds %s points, which ms.in_box cannot search",
						qa.org, qa.model, ms_elem_name(kind)),
				 errhint("ms.in_box searches float32 models only.")));
	if (qa.qkind != kind && qa.qkind != MS_ELEM_FLOAT32)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a query of type %s cannot search model \"%s/%s\" of %s points",
						ms_elem_type_name(qa.qkind), qa.org, qa.model, ms_elem_name(kind)),
				 errhint("Pass a %s, or a vec, which is converted.", ms_elem_type_name(kind))));
	qdim = ms_elem_dims(qa.query, qa.qkind);
	if (qdim != dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d", ms_elem_type_name(qa.qkind), qdim, dims),
				 errdetail("The %s has %d dimensions; model \"%s/%s\" has %d.",
						   mode == MSQ_IN_BOX ? "box" : "query", qdim,
						   qa.org, qa.model, dims)));
	if (qa.qkind != kind)
		qa.query = ms_elem_from_vec(DatumGetVec(qa.query), kind);

	/*
	 * No L2 distance is negative, so a negative radius finds nothing (and
	 * the L2 box prefilter needs r >= 0).
	 */
	nothing = mode == MSQ_WITHIN && strcmp(metric, "l2") == 0 &&
		DatumGetFloat8(qa.arg) < 0;
	if (!nothing)
		scan_partition(partition_plan(version_id, local_points_shard(version_id, qa.org), mode,
									  metric, kind), &qa, store, desc);
	SPI_finish();
	MemoryContextSwitchTo(callcxt);
	return (Datum) 0;
}

/*
 * The entry points: invoker-rights functions that record the caller and
 * run the query as the extension's owner (caller.c).
 */
static Datum
knn_as_owner(PG_FUNCTION_ARGS)
{
	return ms_query(fcinfo, MSQ_KNN);
}

static Datum
within_as_owner(PG_FUNCTION_ARGS)
{
	return ms_query(fcinfo, MSQ_WITHIN);
}

static Datum
in_box_as_owner(PG_FUNCTION_ARGS)
{
	return ms_query(fcinfo, MSQ_IN_BOX);
}

Datum
ms_knn(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(knn_as_owner, fcinfo);
}

Datum
ms_within(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(within_as_owner, fcinfo);
}

Datum
ms_in_box(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(in_box_as_owner, fcinfo);
}
