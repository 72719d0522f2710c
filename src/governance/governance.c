/*
 * governance.c
 *		The C side of model governance (schema ms): identifier validation,
 *		and the cached authorisation of the caller on a model and label
 *		that the queries (governance_query.c) and ms._authorise, which
 *		ms.ingest uses, answer from.  Who the caller is: caller.c.
 *
 * Running the function ms._access for every query would cost more than
 * a small kNN itself, so the answers are kept per backend until an
 * invalidation says grants, models, versions or roles changed (see
 * "authorisation cache"), and ms._access itself runs from a plan prepared
 * once per backend and kept.
 *
 * Authorisation asks about the caller that the entry point recorded
 * (caller.c), never about current_user, which is then the owner.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "caller.h"
#include "elemtype.h"
#include "governance.h"

PG_FUNCTION_INFO_V1(ms_check_ident);
PG_FUNCTION_INFO_V1(ms_governance_changed);
PG_FUNCTION_INFO_V1(ms_authorise);

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

/* Raises, naming the argument what, if argument argno is NULL. */
void
ms_check_not_null(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* ms._check_ident(kind text, name text): check_ident for SQL callers */
Datum
ms_check_ident(PG_FUNCTION_ARGS)
{
	char	   *kind = PG_ARGISNULL(0) ? "identifier" : text_to_cstring(PG_GETARG_TEXT_PP(0));

	ms_check_not_null(fcinfo, 1, kind);
	check_ident(kind, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/*
 * A plan of sql kept for the backend's life (inside SPI).  Generic from the
 * first call: the statements it serves (the authorisation, the partition
 * scans) are simple and their best plan does not depend on the parameters,
 * so five custom plannings before settling would only cost time.
 */
SPIPlanPtr
ms_prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
	int			ret;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	ret = SPI_keepplan(plan);
	if (ret != 0)
		elog(ERROR, "SPI_keepplan failed: %s", SPI_result_code_string(ret));
	return plan;
}

/* ---- authorisation cache --------------------------------------------- */

static SPIPlanPtr access_plan = NULL;

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
	char		metric[MS_METRIC_SIZE];
	char		element_type[MS_ELEM_NAME_SIZE];
	char		default_label[MS_IDENT_MAX + 1];
} AccessEntry;

#define ACCESS_CACHE_MAX 8192

static HTAB *access_cache = NULL;
static bool access_cache_valid = false;
static uint64 access_cache_generation = 0;
static bool access_callbacks_registered = false;
static Oid	watched_relids[3];

/* Forget every answer, and tell a computation under way not to keep its own. */
static void
access_cache_clear(void)
{
	access_cache_valid = false;
	access_cache_generation++;
}

/* Relcache callback: ms.models, ms.versions or ms.grants changed (or all did). */
static void
access_cache_relcb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == watched_relids[0] ||
		relid == watched_relids[1] || relid == watched_relids[2])
		access_cache_clear();
}

/* Syscache callback: a role, or who is a member of whom, changed. */
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
	int			ret;

	if (access_plan == NULL)
	{
		Oid			argtypes[6] = {OIDOID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};

		access_plan = ms_prepare_kept("SELECT a.visible, a.all_labels, a.allowed, a.dims,"
								   " a.metric, a.default_label, a.version_id,"
								   /* the library may run before ALTER EXTENSION UPDATE adds the column */
								   " (SELECT pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.->>) 'element_type'"
								   "    FROM ms.models m"
								   "   WHERE m.org OPERATOR(pg_catalog.=) $3"
								   "     AND m.model OPERATOR(pg_catalog.=) $4)"
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
	ret = SPI_execute_plan(access_plan, values, nulls, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "authorisation query failed: %s", SPI_result_code_string(ret));

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
	s = SPI_getvalue(row, desc, 8);
	strlcpy(e->element_type, s ? s : "float32", sizeof(e->element_type));
}

/*
 * The answer of ms._access for key (inside SPI): the cached one, or one
 * computed now and kept if it may be (see "authorisation cache").
 */
static void
access_lookup(const AccessKey *key, AccessEntry *e)
{
	AccessEntry *cached;
	uint64		generation;

	AcceptInvalidationMessages();
	access_cache_prepare();
	cached = hash_search(access_cache, key, HASH_FIND, NULL);
	if (cached)
	{
		*e = *cached;
		return;
	}
	generation = access_cache_generation;
	access_compute(key, e);
	if (generation == access_cache_generation && access_cache_valid &&
		!IsolationUsesXactSnapshot())
	{
		cached = hash_search(access_cache, key, HASH_ENTER, NULL);
		*cached = *e;
	}
}

/*
 * Authorise the caller for privilege on (org, model, label) and return the
 * resolved version, its label, its model's dims, metric and element type
 * (metric holds MS_METRIC_SIZE bytes, resolved_label MS_IDENT_MAX + 1,
 * element_type MS_ELEM_NAME_SIZE; either may be NULL).  action names
 * what is being done in the messages ("query", "ingest into").  The errors
 * are those of ms._resolve (src/governance/governance.sql), which must
 * stay in step.  Must be called inside SPI.
 */
void
ms_authorise_caller(const char *org, const char *model, const char *label,
					const char *privilege, const char *action,
					int64 *version_id, int *dims, char *metric, char *resolved_label,
					char *element_type)
{
	AccessKey	key;
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
	access_lookup(&key, &e);

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
	strlcpy(metric, e.metric, MS_METRIC_SIZE);
	if (resolved_label)
		strlcpy(resolved_label, label ? label : e.default_label, MS_IDENT_MAX + 1);
	if (element_type)
		strlcpy(element_type, e.element_type, MS_ELEM_NAME_SIZE);
}

/*
 * Statement trigger on ms.models, ms.versions and ms.grants: tell every
 * backend (once this commits) that authorisation answers may have changed.
 *
 * On a Citus cluster (ms.enable_citus) these are reference tables, and
 * the trigger fires on each node's shard, ms.grants_102012 say, whose
 * invalidation no cache watches: there the table the shard belongs to,
 * ms.grants, is invalidated as well, so that every node's backends,
 * those running routed queries included, forget their answers.
 */
Datum
ms_governance_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	const char *relname;
	static const char *const tables[] = {"models", "versions", "grants"};

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ms._governance_changed() must be called as a trigger")));
	rel = trigdata->tg_relation;
	CacheInvalidateRelcache(rel);
	relname = RelationGetRelationName(rel);
	for (size_t i = 0; i < lengthof(tables); i++)
	{
		size_t		len = strlen(tables[i]);
		Oid			relid;

		/* a shard is named <table>_<shard id> */
		if (strncmp(relname, tables[i], len) != 0 || relname[len] != '_' ||
			strspn(relname + len + 1, "0123456789") != strlen(relname + len + 1) ||
			relname[len + 1] == '\0')
			continue;
		relid = get_relname_relid(tables[i], RelationGetNamespace(rel));
		if (OidIsValid(relid))
			CacheInvalidateRelcacheByRelid(relid);
	}
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
	char		metric[MS_METRIC_SIZE];
	char		resolved_label[MS_IDENT_MAX + 1];
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int			ret;

	ms_check_not_null(fcinfo, 0, "org");
	ms_check_not_null(fcinfo, 1, "model");
	ms_check_not_null(fcinfo, 3, "privilege");
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

	ret = SPI_connect();
	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	ms_authorise_caller(org, model, label, privilege, action, &version_id, &dims,
						metric, resolved_label, NULL);
	SPI_finish();

	values[0] = Int64GetDatum(version_id);
	values[1] = Int32GetDatum(dims);
	values[2] = CStringGetTextDatum(metric);
	values[3] = CStringGetTextDatum(resolved_label);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
