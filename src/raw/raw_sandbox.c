/*
 * raw_sandbox.c
 *		The sandbox user processors run in, and the digest that pins a
 *		processor's definition to the one approved by ms.set_processor.
 *
 * A user processor is someone's code run on someone else's raw bytes: a
 * data scientist's function, fed a producer's batch during that producer's
 * ms.ingest.  It must see its batch, return points, and do nothing else.
 * What it runs inside:
 *  - its organisation's processor role (created on demand by the SQL side,
 *    no privileges of its own), in a security-restricted operation with a
 *    fresh GUC nest level: no SET ROLE, no temporary objects, no settings
 *    left behind, and no ms.* authority (caller.c judges it as that role);
 *  - a subtransaction that is rolled back once its rows are copied out, so
 *    whatever it changed is undone: rows written to tables anyone may write,
 *    NOTIFY and pg_notify() payloads (which would reach listeners at
 *    commit), large objects, sequences' effects on tables;
 *  - search_path = pg_catalog, <the extension's schema>, pg_temp: the
 *    types it returns (vec, hvec, bvec, svec) and their operators resolve
 *    by their plain names, as in the processor author's own session, while
 *    nothing of the ingesting caller's path (the ms.* entry pinned its own)
 *    decides what its unqualified names mean;
 *  - refusals, while it runs: no utility statement (GRANT, LISTEN, LOAD,
 *    ...) and no SECURITY DEFINER function (which would run as its owner,
 *    outside the sandbox).  ms.* entry points called from it switch to the
 *    extension's owner and lift these refusals for their own work only.
 * It is called by OID through the function manager, never by name, so an
 * overload or a function of the same name earlier in some search_path
 * cannot take its place, and only after its definition is checked against
 * the digest taken when it was approved.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "caller.h"
#include "governance.h"
#include "raw_store.h"

PG_FUNCTION_INFO_V1(ms_processor_digest);

/* the processor role while a processor runs; InvalidOid otherwise */
static Oid	sandbox_role = InvalidOid;

static fmgr_hook_type prev_fmgr_hook = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* Is the code running now the processor itself (not an ms.* entry it called)? */
static bool
in_sandbox(void)
{
	return OidIsValid(sandbox_role) && GetUserId() == sandbox_role;
}

/*
 * A SECURITY DEFINER function switches user before this hook runs, so the
 * sandbox is recognised by the role the function was called from: the
 * outer user of fmgr_security_definer is not visible here, but the
 * sandbox's role cannot own a definer function (it creates nothing), so a
 * definer function starting while the sandbox is active and not suspended
 * by an ms.* entry was called from the processor.
 */
static bool sandbox_suspended = false;

/* While a processor runs, it may start no SECURITY DEFINER function. */
static void
sandbox_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (event == FHET_START && OidIsValid(sandbox_role) && !sandbox_suspended)
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(flinfo->fn_oid));
		bool		definer = false;

		if (HeapTupleIsValid(tup))
		{
			definer = ((Form_pg_proc) GETSTRUCT(tup))->prosecdef;
			ReleaseSysCache(tup);
		}
		if (definer)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("a processor cannot call SECURITY DEFINER function %s",
							format_procedure(flinfo->fn_oid)),
					 errdetail("Processors run sandboxed; a SECURITY DEFINER function would run outside the sandbox as its owner.")));
	}
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, private);
}

/* While a processor runs, it may run no utility statement. */
static void
sandbox_process_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	if (in_sandbox())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a processor cannot run %s", GetCommandTagName(CreateCommandTag(pstmt->utilityStmt))),
				 errdetail("Processors run sandboxed: they read their batch and return points, nothing else.")));
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* Install the sandbox's hooks (called once, from _PG_init). */
void
ms_sandbox_init(void)
{
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = sandbox_fmgr_hook;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = sandbox_process_utility;
}

/*
 * ms.* entry points (caller.c) lift the sandbox's refusals for their own
 * work, which runs as the extension's owner; returns what to restore.
 */
bool
ms_sandbox_suspend(void)
{
	bool		was = sandbox_suspended;

	sandbox_suspended = true;
	return was;
}

/* Restore what ms_sandbox_suspend returned. */
void
ms_sandbox_resume(bool was)
{
	sandbox_suspended = was;
}

/*
 * The digest of a processor's definition: everything that decides what
 * calling it does (language, body, library symbol, owner, security,
 * settings, volatility, signature).  ms.set_processor stores it; a run
 * refuses a function whose digest has changed since.
 */
static bytea *
processor_digest(HeapTuple proctup)
{
	Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(proctup);
	StringInfoData buf;
	pg_cryptohash_ctx *ctx;
	bytea	   *result;
	bool		isnull;
	Datum		d;
	static const int text_fields[] = {Anum_pg_proc_prosrc, Anum_pg_proc_probin,
	Anum_pg_proc_proconfig, Anum_pg_proc_proargmodes};

	/*
	 * Names, not OIDs, for everything a dump and restore gives new OIDs
	 * (the vec type, roles in another cluster): an approved processor stays
	 * approved across pg_dump, a changed one does not.
	 */
	initStringInfo(&buf);
	appendStringInfo(&buf, "lang=%s;owner=%s;secdef=%d;leakproof=%d;strict=%d;volatile=%c;"
					 "retset=%d;rettype=%s;nargs=%d;args=",
					 get_language_name(proc->prolang, false),
					 GetUserNameFromId(proc->proowner, false),
					 proc->prosecdef, proc->proleakproof,
					 proc->proisstrict, proc->provolatile, proc->proretset,
					 format_type_be(proc->prorettype), proc->pronargs);
	for (int i = 0; i < proc->pronargs; i++)
		appendStringInfo(&buf, "%s,", format_type_be(proc->proargtypes.values[i]));
	appendStringInfoString(&buf, ";allargs=");
	d = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_proallargtypes, &isnull);
	if (!isnull)
	{
		Datum	   *types;
		int			ntypes;

		/* an oid[] without NULLs */
		deconstruct_array(DatumGetArrayTypeP(d), OIDOID, sizeof(Oid), true,
						  TYPALIGN_INT, &types, NULL, &ntypes);
		for (int i = 0; i < ntypes; i++)
			appendStringInfo(&buf, "%s,", format_type_be(DatumGetObjectId(types[i])));
	}
	appendStringInfoChar(&buf, ';');
	for (int i = 0; i < (int) lengthof(text_fields); i++)
	{
		d = SysCacheGetAttr(PROCOID, proctup, text_fields[i], &isnull);
		if (isnull)
			appendStringInfoString(&buf, "N;");
		else
		{
			/* prosrc and probin are text; proconfig and proargmodes arrays */
			char	   *s = i < 2 ? TextDatumGetCString(d) : OidOutputFunctionCall(F_ARRAY_OUT, d);

			appendStringInfo(&buf, "%zu:%s;", strlen(s), s);
		}
	}

	result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(result), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute a processor digest");
	pg_cryptohash_free(ctx);
	pfree(buf.data);
	return result;
}

/* ms._processor_digest(regprocedure) → bytea */
Datum
ms_processor_digest(PG_FUNCTION_ARGS)
{
	Oid			procoid = PG_GETARG_OID(0);
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procoid));
	bytea	   *digest;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", procoid)));
	digest = processor_digest(tup);
	ReleaseSysCache(tup);
	PG_RETURN_BYTEA_P(digest);
}

/* The processor's output columns must be (bigint, vec, jsonb), as desc. */
static void
check_row_type(Oid procoid, TupleDesc got, TupleDesc want)
{
	bool		ok = got->natts == want->natts;

	for (int i = 0; ok && i < want->natts; i++)
		ok = TupleDescAttr(got, i)->atttypid == TupleDescAttr(want, i)->atttypid;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("processor %s returned the wrong columns", format_procedure(procoid)),
				 errdetail("A processor returns TABLE (point_id bigint, embedding vec, payload jsonb).")));
}

/*
 * Put one processor row into store: values copied and detoasted, since
 * the subtransaction that produced them is about to be rolled back.
 */
static void
keep_row(TupleDesc desc, Datum *values, bool *nulls, Tuplestorestate *store,
		 ProcessorRowCheck check, void *check_arg)
{
	for (int i = 0; i < desc->natts; i++)
		if (!nulls[i] && TupleDescAttr(desc, i)->attlen == -1)
			values[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[i]));
	check(check_arg, values, nulls);
	tuplestore_putvalues(store, desc, values, nulls);
}

/* Call procoid(batch, dims) by OID and keep its rows (either SRF protocol). */
static void
call_processor(Oid procoid, bytea *batch, int dims, Tuplestorestate *store,
			   TupleDesc desc, ProcessorRowCheck check, void *check_arg)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 2);
	ReturnSetInfo rsinfo;
	ExprContext *econtext = CreateStandaloneExprContext();
	Datum		values[3];
	bool		nulls[3];

	fmgr_info(procoid, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 2, InvalidOid, NULL, (Node *) &rsinfo);
	fcinfo->args[0].value = PointerGetDatum(batch);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = Int32GetDatum(dims);
	fcinfo->args[1].isnull = false;
	memset(&rsinfo, 0, sizeof(rsinfo));
	rsinfo.type = T_ReturnSetInfo;
	rsinfo.econtext = econtext;
	rsinfo.expectedDesc = desc;
	rsinfo.allowedModes = SFRM_ValuePerCall | SFRM_Materialize;

	for (;;)
	{
		Datum		d;

		CHECK_FOR_INTERRUPTS();
		rsinfo.returnMode = SFRM_ValuePerCall;
		rsinfo.isDone = ExprSingleResult;
		fcinfo->isnull = false;
		d = FunctionCallInvoke(fcinfo);

		if (rsinfo.returnMode == SFRM_Materialize)
		{
			TupleTableSlot *slot;

			if (rsinfo.setResult == NULL)
				break;
			check_row_type(procoid, rsinfo.setDesc, desc);
			slot = MakeSingleTupleTableSlot(rsinfo.setDesc, &TTSOpsMinimalTuple);
			while (tuplestore_gettupleslot(rsinfo.setResult, true, false, slot))
			{
				slot_getallattrs(slot);
				memcpy(values, slot->tts_values, sizeof(values));
				memcpy(nulls, slot->tts_isnull, sizeof(nulls));
				keep_row(desc, values, nulls, store, check, check_arg);
			}
			ExecDropSingleTupleTableSlot(slot);
			tuplestore_end(rsinfo.setResult);
			break;
		}
		if (rsinfo.isDone == ExprEndResult)
			break;
		if (fcinfo->isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("processor %s returned a NULL row", format_procedure(procoid))));
		else
		{
			HeapTupleHeader th = DatumGetHeapTupleHeader(d);
			TupleDesc	rowdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th),
														 HeapTupleHeaderGetTypMod(th));
			HeapTupleData row;

			check_row_type(procoid, rowdesc, desc);
			row.t_len = HeapTupleHeaderGetDatumLength(th);
			ItemPointerSetInvalid(&row.t_self);
			row.t_tableOid = InvalidOid;
			row.t_data = th;
			heap_deform_tuple(&row, rowdesc, values, nulls);
			ReleaseTupleDesc(rowdesc);
			keep_row(desc, values, nulls, store, check, check_arg);
		}
		if (rsinfo.isDone != ExprMultipleResult)
			break;
		ResetExprContext(econtext);
	}
	FreeExprContext(econtext, true);
}

/*
 * Raises unless procoid may run in the sandbox as run_as: its definition is
 * the one approved (digest pinned), it is not SECURITY DEFINER, and run_as
 * is an unprivileged role.
 */
static void
check_runnable(Oid procoid, bytea *pinned, Oid run_as)
{
	HeapTuple	tup;
	bytea	   *digest;
	bool		definer;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procoid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("processor function %u does not exist", procoid)));
	digest = processor_digest(tup);
	definer = ((Form_pg_proc) GETSTRUCT(tup))->prosecdef;
	ReleaseSysCache(tup);
	if (pinned == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("processor %s has no approved definition", format_procedure(procoid)),
				 errdetail("User processors run only as approved by ms.set_processor() of machinesoup 0.4.0 or later."),
				 errhint("Run ALTER EXTENSION machinesoup UPDATE.")));
	if (VARSIZE_ANY_EXHDR(pinned) != PG_SHA256_DIGEST_LENGTH ||
		memcmp(VARDATA_ANY(pinned), VARDATA(digest), PG_SHA256_DIGEST_LENGTH) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("processor %s has changed since it was approved", format_procedure(procoid)),
				 errdetail("Its definition is not the one ms.set_processor() accepted."),
				 errhint("Review it, then approve it again with ms.set_processor().")));
	if (definer)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("processor %s must not be SECURITY DEFINER", format_procedure(procoid)),
				 errdetail("Processors run sandboxed as their organization's processor role.")));
	if (!OidIsValid(run_as) || superuser_arg(run_as))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("processors must run as an unprivileged role")));
}

/*
 * Run user processor procoid on batch as run_as, sandboxed (see the top),
 * after checking its definition against pinned; its rows go into store,
 * each passed to check first.
 */
void
ms_run_sandboxed(Oid procoid, bytea *pinned, Oid run_as, bytea *batch, int dims,
				 Tuplestorestate *store, TupleDesc desc,
				 ProcessorRowCheck check, void *check_arg)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	char	   *path;
	Oid			save_sandbox = sandbox_role;
	bool		save_suspended = sandbox_suspended;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	check_runnable(procoid, pinned, run_as);
	path = psprintf("pg_catalog, %s, pg_temp",
					quote_identifier(get_namespace_name(ms_extension_schema())));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		SetUserIdAndSecContext(run_as, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		sandbox_role = run_as;
		sandbox_suspended = false;

		call_processor(procoid, batch, dims, store, desc, check, check_arg);

		sandbox_role = save_sandbox;
		sandbox_suspended = save_suspended;
		AtEOXact_GUC(false, save_nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		/* its rows are in store; everything else it did is undone */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		sandbox_role = save_sandbox;
		sandbox_suspended = save_suspended;
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* the subtransaction's abort restores the user and the settings */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ReThrowError(edata);
	}
	PG_END_TRY();
}
