/*
 * governance.c
 *		The C side of model governance (schema ms): who the caller is,
 *		whether the caller is privileged, identifier validation, the
 *		query entry points ms.knn, ms.within and ms.in_box, and
 *		ms._authorise, the cached authorisation ms.ingest uses.
 *
 * The queries are in C for speed: a query service calls them thousands of
 * times a second, and a PL/pgSQL EXECUTE would plan the partition query on
 * every call.  Here both statements a query needs, the authorisation (the
 * SQL function ms._access, inlined) and the scan of the version's own
 * partition, run from plans prepared once per backend and kept, and the
 * authorisation answers themselves are cached until an invalidation says
 * grants, models, versions or roles changed (see "authorisation cache").
 *
 * The query entry points are invoker-rights functions that enter as the
 * owner themselves (caller.c); authorisation asks about the caller that
 * entry recorded, never about current_user, which is then the owner.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "caller.h"
#include "governance.h"
#include "vbox.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(ms_check_ident);
PG_FUNCTION_INFO_V1(ms_knn);
PG_FUNCTION_INFO_V1(ms_within);
PG_FUNCTION_INFO_V1(ms_in_box);
PG_FUNCTION_INFO_V1(ms_governance_changed);
PG_FUNCTION_INFO_V1(ms_authorise);

#define MS_IDENT_MAX 63

/* The extension's schema (where vec, vbox and their operators live). */
static Oid
extension_schema(void)
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
		elog(ERROR, "extension machinesoup is not installed");
	return nsp;
}

/*
 * ERROR unless s matches ^[a-z0-9][a-z0-9._-]{0,62}$.  kind ("org",
 * "model", "label") names it in the message.
 */
static void
check_ident(const char *kind, const char *s)
{
	size_t		len = strlen(s);
	bool		ok = len >= 1 && len <= MS_IDENT_MAX;

	for (size_t i = 0; ok && i < len; i++)
	{
		char		c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name \"%s\"", kind, s),
				 errdetail("Org, model and label names are 1 to 63 characters from a-z, 0-9, \".\", \"_\" and \"-\", starting with a letter or a digit.")));
}

/* check_ident of an org, a model and, unless NULL, a label */
void
ms_check_names(const char *org, const char *model, const char *label)
{
	check_ident("org", org);
	check_ident("model", model);
	if (label != NULL)
		check_ident("label", label);
}

static void
check_not_null(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

Datum
ms_check_ident(PG_FUNCTION_ARGS)
{
	char	   *kind = PG_ARGISNULL(0) ? "identifier" : text_to_cstring(PG_GETARG_TEXT_PP(0));

	check_not_null(fcinfo, 1, kind);
	check_ident(kind, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/* ---- queries --------------------------------------------------------- */

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
	int32		mode;
	char		metric[8];		/* a re-created extension may reuse ids */
} PartPlanKey;

typedef struct PartPlanEntry
{
	PartPlanKey key;
	SPIPlanPtr	plan;
} PartPlanEntry;

static HTAB *part_plans = NULL;
static SPIPlanPtr access_plan = NULL;

/*
 * Kept plans.  Generic plans from the first call: both statements are
 * simple and their best plan does not depend on the parameters, so five
 * custom plannings before settling would only cost time.
 */
static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

static const char *
metric_operator(const char *metric)
{
	if (strcmp(metric, "l2") == 0)
		return "<->";
	if (strcmp(metric, "ip") == 0)
		return "<#>";
	if (strcmp(metric, "cosine") == 0)
		return "<=>";
	elog(ERROR, "unknown metric \"%s\"", metric);
	return NULL;				/* keep compiler quiet */
}

/*
 * The plan scanning partition ms.points_<version_id>, ordered by the model's
 * metric operator so the partition's index can return rows in order.
 * $1 is the query vec; $2 the LIMIT (knn) or the radius (within).
 */
static SPIPlanPtr
partition_plan(int64 version_id, MsQueryMode mode, const char *metric)
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
	key.mode = mode;
	strlcpy(key.metric, metric, sizeof(key.metric));
	entry = hash_search(part_plans, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		StringInfoData sql;
		Oid			extnsp;
		const char *nsp;
		const char *op = metric_operator(metric);
		Oid			argtypes[2];
		SPIPlanPtr	plan;

		/* our operators and the vec type live in the extension's schema */
		extnsp = extension_schema();
		nsp = quote_identifier(get_namespace_name(extnsp));
		argtypes[0] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									  CStringGetDatum("vec"),
									  ObjectIdGetDatum(extnsp));
		initStringInfo(&sql);
		if (mode == MSQ_KNN)
		{
			argtypes[1] = INT4OID;
			appendStringInfo(&sql,
							 "SELECT p.point_id, p.embedding OPERATOR(%s.%s) $1, p.payload"
							 " FROM ms.points_" INT64_FORMAT " p"
							 " ORDER BY p.embedding OPERATOR(%s.%s) $1"
							 " LIMIT $2",
							 nsp, op, version_id, nsp, op);
		}
		else if (mode == MSQ_WITHIN)
		{
			argtypes[1] = FLOAT8OID;
			appendStringInfo(&sql,
							 "SELECT p.point_id, p.embedding OPERATOR(%s.%s) $1, p.payload"
							 " FROM ms.points_" INT64_FORMAT " p"
							 " WHERE (p.embedding OPERATOR(%s.%s) $1) OPERATOR(pg_catalog.<=) $2",
							 nsp, op, version_id, nsp, op);
			/* L2: a box prefilter (as vec_dwithin()) the GiST index serves */
			if (strcmp(metric, "l2") == 0)
				appendStringInfo(&sql,
								 " AND p.embedding OPERATOR(%s.<@) %s.vec_dwithin_box($1, $2)",
								 nsp, nsp);
			appendStringInfo(&sql,
							 " ORDER BY p.embedding OPERATOR(%s.%s) $1, p.point_id",
							 nsp, op);
		}
		else
		{
			/* $1 is the box's centre, $2 the box */
			argtypes[1] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										  CStringGetDatum("vbox"),
										  ObjectIdGetDatum(extnsp));
			appendStringInfo(&sql,
							 "SELECT p.point_id, p.embedding OPERATOR(%s.%s) $1, p.payload"
							 " FROM ms.points_" INT64_FORMAT " p"
							 " WHERE p.embedding OPERATOR(%s.<@) $2"
							 " ORDER BY p.embedding OPERATOR(%s.%s) $1, p.point_id",
							 nsp, op, version_id, nsp, nsp, op);
		}
		plan = prepare_kept(sql.data, 2, argtypes);
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

/*
 * The authorisation cache.
 *
 * Running ms._access costs more than a small kNN itself, so its answers are
 * kept per backend, keyed by everything they depend on: the caller, whether
 * it is privileged, org, model, label.  Whatever can change an answer
 * clears the whole cache:
 *  - DML on ms.models, ms.versions, ms.grants: a statement trigger
 *    (ms._governance_changed) queues a relcache invalidation of the table,
 *    which every backend receives once the change commits (and this backend
 *    at once, and again should the change roll back);
 *  - role changes (pg_authid: superuser, inherit; pg_auth_members: who is a
 *    member of whom): syscache invalidations.
 * Every query first accepts pending invalidations, then reads the cache;
 * answers are computed with a fresh snapshot taken after that, and kept
 * only when no invalidation arrived meanwhile and the transaction reads
 * fresh snapshots (READ COMMITTED), so a kept answer is never older than
 * the newest committed state whose invalidation this backend has seen.
 */
typedef struct AccessKey
{
	Oid			caller;
	bool		privileged;
	bool		label_null;
	char		privilege[16];
	char		org[MS_IDENT_MAX + 1];
	char		model[MS_IDENT_MAX + 1];
	char		label[MS_IDENT_MAX + 1];
} AccessKey;

typedef struct AccessEntry
{
	AccessKey	key;
	bool		exists;			/* the model exists (ms._access gave a row) */
	bool		visible;
	bool		all_labels;
	bool		allowed;
	bool		has_version;
	int32		dims;
	int64		version_id;
	char		metric[8];
	char		default_label[MS_IDENT_MAX + 1];
} AccessEntry;

#define ACCESS_CACHE_MAX 8192

static HTAB *access_cache = NULL;
static bool access_cache_valid = false;
static uint64 access_cache_generation = 0;
static bool access_callbacks_registered = false;
static Oid	watched_relids[3];

static void
access_cache_clear(void)
{
	access_cache_valid = false;
	access_cache_generation++;
}

static void
access_cache_relcb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == watched_relids[0] ||
		relid == watched_relids[1] || relid == watched_relids[2])
		access_cache_clear();
}

static void
access_cache_syscb(Datum arg, int cacheid, uint32 hashvalue)
{
	access_cache_clear();
}

/* A usable, empty or valid cache.  Called outside invalidation processing. */
static void
access_cache_prepare(void)
{
	if (!access_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(access_cache_relcb, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, access_cache_syscb, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, access_cache_syscb, (Datum) 0);
		access_callbacks_registered = true;
	}
	if (!access_cache_valid || access_cache == NULL ||
		hash_get_num_entries(access_cache) >= ACCESS_CACHE_MAX)
	{
		HASHCTL		ctl;
		Oid			nsp = get_namespace_oid("ms", false);

		if (access_cache)
			hash_destroy(access_cache);
		ctl.keysize = sizeof(AccessKey);
		ctl.entrysize = sizeof(AccessEntry);
		ctl.hcxt = TopMemoryContext;
		access_cache = hash_create("machinesoup access cache", 256, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		/* the extension may have been re-created since: look them up again */
		watched_relids[0] = get_relname_relid("models", nsp);
		watched_relids[1] = get_relname_relid("versions", nsp);
		watched_relids[2] = get_relname_relid("grants", nsp);
		access_cache_valid = true;
	}
}

/* Run ms._access for the key (inside SPI) and fill *e from its answer. */
static void
access_compute(const AccessKey *key, AccessEntry *e)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	char	   *s;

	if (access_plan == NULL)
	{
		Oid			argtypes[6] = {OIDOID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};

		access_plan = prepare_kept("SELECT a.visible, a.all_labels, a.allowed, a.dims,"
								   " a.metric, a.default_label, a.version_id"
								   " FROM ms._access($1, $2, $3, $4, $5, $6) a",
								   6, argtypes);
	}
	values[0] = ObjectIdGetDatum(key->caller);
	values[1] = BoolGetDatum(key->privileged);
	values[2] = CStringGetTextDatum(key->org);
	values[3] = CStringGetTextDatum(key->model);
	values[4] = key->label_null ? (Datum) 0 : CStringGetTextDatum(key->label);
	nulls[4] = key->label_null ? 'n' : ' ';
	values[5] = CStringGetTextDatum(key->privilege);

	/* not read-only: a snapshot taken now, after accepting invalidations */
	if (SPI_execute_plan(access_plan, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "authorisation query failed");

	memset(e, 0, sizeof(*e));
	e->key = *key;
	if (SPI_processed != 1)
		return;
	e->exists = true;
	desc = SPI_tuptable->tupdesc;
	row = SPI_tuptable->vals[0];
	e->visible = DatumGetBool(SPI_getbinval(row, desc, 1, &isnull));
	e->all_labels = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
	e->allowed = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
	e->dims = DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull));
	s = SPI_getvalue(row, desc, 5);
	strlcpy(e->metric, s ? s : "", sizeof(e->metric));
	s = SPI_getvalue(row, desc, 6);
	strlcpy(e->default_label, s ? s : "", sizeof(e->default_label));
	e->version_id = DatumGetInt64(SPI_getbinval(row, desc, 7, &isnull));
	e->has_version = !isnull;
}

/*
 * Authorise the caller for privilege on (org, model, label) and return the
 * resolved version, its label, its model's dims and metric.  action names
 * what is being done in the messages ("query", "ingest into").  The errors
 * are those of ms._resolve (src/governance/governance.sql), which must
 * stay in step.  Must be called inside SPI.
 */
static void
authorise(const char *org, const char *model, const char *label,
		  const char *privilege, const char *action,
		  int64 *version_id, int *dims, char *metric, char *resolved_label)
{
	AccessKey	key;
	AccessEntry *cached;
	AccessEntry e;

	memset(&key, 0, sizeof(key));
	key.caller = ms_current_caller();
	key.privileged = ms_caller_is_privileged(key.caller);
	strlcpy(key.org, org, sizeof(key.org));
	strlcpy(key.model, model, sizeof(key.model));
	strlcpy(key.privilege, privilege, sizeof(key.privilege));
	key.label_null = (label == NULL);
	if (label)
		strlcpy(key.label, label, sizeof(key.label));

	AcceptInvalidationMessages();
	access_cache_prepare();
	cached = hash_search(access_cache, &key, HASH_FIND, NULL);
	if (cached)
		e = *cached;
	else
	{
		uint64		generation = access_cache_generation;

		access_compute(&key, &e);
		if (generation == access_cache_generation && access_cache_valid &&
			!IsolationUsesXactSnapshot())
		{
			cached = hash_search(access_cache, &key, HASH_ENTER, NULL);
			*cached = e;
		}
	}

	if (!e.exists || !e.visible)
	{
		if (key.privileged)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s/%s\" does not exist", org, model)));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s/%s\"", org, model)));
	}
	if (!e.has_version)
	{
		if (label == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s/%s\" has no default label", org, model),
					 errhint("Name a label, or make one the default with ms.promote().")));
		/* it may see every label, or would be allowed on any label */
		if (e.all_labels || e.allowed)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("label \"%s\" of model \"%s/%s\" does not exist", label, org, model)));
		/*
		 * Anyone else gets the refusal of a label that exists but is not
		 * granted: the error tells it nothing about which labels exist.
		 */
	}
	if (!e.has_version || !e.allowed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s label \"%s\" of model \"%s/%s\"",
						action, label ? label : e.default_label, org, model)));
	*version_id = e.version_id;
	*dims = e.dims;
	strlcpy(metric, e.metric, 8);
	if (resolved_label)
		strlcpy(resolved_label, label ? label : e.default_label, MS_IDENT_MAX + 1);
}

/*
 * ms.knn(org, model, query vec, k, label) and
 * ms.within(org, model, query vec, radius, label).
 */
static Datum
ms_query(FunctionCallInfo fcinfo, MsQueryMode mode)
{
	char	   *org;
	char	   *model;
	char	   *label = NULL;
	Vec		   *query;
	Datum		arg;
	int64		version_id;
	int			dims;
	char		metric[8];
	Tuplestorestate *store;
	TupleDesc	desc;
	SPIPlanPtr	plan;
	Datum		values[2];
	MemoryContext callcxt = CurrentMemoryContext;

	int			label_arg = (mode == MSQ_IN_BOX) ? 3 : 4;
	int			qdim;

	check_not_null(fcinfo, 0, "org");
	check_not_null(fcinfo, 1, "model");
	check_not_null(fcinfo, 2, mode == MSQ_IN_BOX ? "box" : "query");
	if (mode != MSQ_IN_BOX)
		check_not_null(fcinfo, 3, mode == MSQ_KNN ? "k" : "radius");
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	model = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(label_arg))
		label = text_to_cstring(PG_GETARG_TEXT_PP(label_arg));
	ms_check_names(org, model, label);
	if (mode == MSQ_IN_BOX)
	{
		VBox	   *box = PG_GETARG_VBOX_P(2);
		const float4 *lo = VBOX_LO(box);
		const float4 *hi = VBOX_HI(box);

		/* results come nearest to the box's centre first */
		query = vec_new(box->dim);
		for (int i = 0; i < box->dim; i++)
			query->x[i] = (float4) (((double) lo[i] + (double) hi[i]) / 2.0);
		qdim = box->dim;
		arg = PointerGetDatum(box);
	}
	else if (mode == MSQ_KNN)
	{
		int32		k = PG_GETARG_INT32(3);

		query = PG_GETARG_VEC_P(2);
		qdim = query->dim;
		if (k < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be at least 1, not %d", k)));
		arg = Int32GetDatum(k);
	}
	else
	{
		float8		radius = PG_GETARG_FLOAT8(3);

		query = PG_GETARG_VEC_P(2);
		qdim = query->dim;
		if (isnan(radius))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("radius must not be NaN")));
		arg = Float8GetDatum(radius);
	}

	init_srf(fcinfo, &store, &desc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	authorise(org, model, label, "query", "query", &version_id, &dims, metric, NULL);
	if (qdim != dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", qdim, dims),
				 errdetail("The %s has %d dimensions; model \"%s/%s\" has %d.",
						   mode == MSQ_IN_BOX ? "box" : "query", qdim, org, model, dims)));

	/* no L2 distance is negative (and the L2 box prefilter needs r >= 0) */
	if (mode == MSQ_WITHIN && strcmp(metric, "l2") == 0 && DatumGetFloat8(arg) < 0)
	{
		SPI_finish();
		MemoryContextSwitchTo(callcxt);
		return (Datum) 0;
	}

	plan = partition_plan(version_id, mode, metric);
	values[0] = PointerGetDatum(query);
	values[1] = arg;
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "partition query failed");

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
	SPI_finish();
	MemoryContextSwitchTo(callcxt);
	return (Datum) 0;
}

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

/*
 * Statement trigger on ms.models, ms.versions and ms.grants: tell every
 * backend (once this commits) that authorisation answers may have changed.
 */
Datum
ms_governance_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ms._governance_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * ms._authorise(org text, model text, label text, privilege text,
 *				 action text, OUT version_id bigint, OUT dims integer,
 *				 OUT metric text, OUT resolved_label text)
 *
 * What ms._resolve(org, model, label, privilege, true, action) checks and
 * returns, answered from the authorisation cache: for callers that run
 * once per batch, such as ms.ingest, where running ms._access each time
 * is a fair share of a small batch's cost.  Identifiers are validated as
 * ms._resolve does, and privilege is required.
 */
Datum
ms_authorise(PG_FUNCTION_ARGS)
{
	char	   *org;
	char	   *model;
	char	   *label = NULL;
	char	   *privilege;
	char	   *action;
	int64		version_id;
	int			dims;
	char		metric[8];
	char		resolved_label[MS_IDENT_MAX + 1];
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	check_not_null(fcinfo, 0, "org");
	check_not_null(fcinfo, 1, "model");
	check_not_null(fcinfo, 3, "privilege");
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	model = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
		label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	ms_check_names(org, model, label);
	privilege = text_to_cstring(PG_GETARG_TEXT_PP(3));
	/* the privileges ms.grants admits */
	if (strcmp(privilege, "query") != 0 && strcmp(privilege, "ingest") != 0 &&
		strcmp(privilege, "stage") != 0 && strcmp(privilege, "promote") != 0 &&
		strcmp(privilege, "raw_read") != 0 && strcmp(privilege, "admin") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown privilege \"%s\"", privilege)));
	action = PG_ARGISNULL(4) ? privilege : text_to_cstring(PG_GETARG_TEXT_PP(4));

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	authorise(org, model, label, privilege, action, &version_id, &dims, metric, resolved_label);
	SPI_finish();

	values[0] = Int64GetDatum(version_id);
	values[1] = Int32GetDatum(dims);
	values[2] = CStringGetTextDatum(metric);
	values[3] = CStringGetTextDatum(resolved_label);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
