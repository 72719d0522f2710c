/*
 * caller.c
 *		Who "the caller" of an ms.* function is, and how a call enters the
 *		extension: captured identity, then a switch to the owner.
 *
 * The caller is the role whose code makes the call: GetUserId() at the
 * moment the call enters the extension.  That is not the session's outer
 * role.  When PostgreSQL runs one role's code on another's behalf (an
 * index expression under a superuser's or autovacuum's ANALYZE, a
 * SECURITY DEFINER function owned by someone else, a processor during
 * another role's ingest), GetUserId() is the role whose code it is, and
 * GetOuterUserId() is the role it is run for.  Judging by the outer role
 * would let that code borrow the outer role's grants (the CVE-2022-1552
 * class), so nothing in the extension asks GetOuterUserId(), but for one
 * transition: the SQL objects of a version before 0.4.0 still in place
 * under this library (see legacy_caller).
 *
 * So the public ms.* functions are not SECURITY DEFINER: a definer
 * function cannot learn who called it.  Each is an invoker-rights C
 * function that records the caller in an MsCallerFrame (ms_enter), switches
 * to the extension's owner for the protected work, and switches back
 * (ms_leave).  Most of the work is PL/pgSQL: those entry points are
 * declared with the C symbol ms_entry, which runs the function of the same
 * name with a leading underscore (ms.grant runs ms._grant) as the owner.
 * Those bodies are not executable by PUBLIC; only an entry can reach them.
 *
 * ms_current_caller() answers with the innermost frame's caller only while
 * the current user is still the owner that frame switched to.  Code that
 * the protected work runs as some other role (a processor, as its
 * unprivileged role) is its own caller, and holds no grants unless given
 * them.  Frames live on the C stack of the entry function and are unlinked
 * on the way out, error or not.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "caller.h"
#include "raw_store.h"

static int	predates_entry_points = -1;	/* -1: not known yet */

static Oid	legacy_caller(Oid uid);
static void register_pg_proc_callback(void);
static bool sql_predates_entry_points(void);
static bool read_sql_predates_entry_points(void);

PG_FUNCTION_INFO_V1(ms_entry);
PG_FUNCTION_INFO_V1(ms_caller);
PG_FUNCTION_INFO_V1(ms_caller_name);
PG_FUNCTION_INFO_V1(ms_is_privileged);
PG_FUNCTION_INFO_V1(ms_role_is_privileged);

static MsCallerFrame *current_frame = NULL;

/*
 * The extension's owner, as last read from the catalog, and whether that
 * reading still stands: every pg_namespace change (ALTER SCHEMA ms OWNER,
 * REASSIGN OWNED, DROP/CREATE EXTENSION, a cache reset) clears it, at the
 * same moments as it would drop the syscache entries the reading came from.
 */
static Oid	owner_cached = InvalidOid;
static bool owner_cache_valid = false;

/* Syscache callback: pg_namespace changed, read the owner again. */
static void
owner_cache_forget(Datum arg, int cacheid, uint32 hashvalue)
{
	owner_cache_valid = false;
}

/*
 * The extension's owner, read as the owner of schema ms, which the
 * extension script creates (REASSIGN OWNED moves both together): a
 * syscache lookup, where pg_extension would cost a catalog scan per call.
 * Every entry asks, so the answer is kept until pg_namespace changes.
 */
Oid
ms_extension_owner(void)
{
	static bool callback_registered = false;
	Oid			nsp;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(NAMESPACEOID, owner_cache_forget, (Datum) 0);
		callback_registered = true;
	}
	if (owner_cache_valid)
		return owner_cached;

	/*
	 * Valid from here on unless the lookups below take in an invalidation
	 * (the callback then clears it again, and the next call reads afresh).
	 */
	owner_cache_valid = true;
	nsp = get_namespace_oid("ms", true);
	if (OidIsValid(nsp))
	{
		tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
		if (HeapTupleIsValid(tup))
		{
			owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
			ReleaseSysCache(tup);
		}
	}
	if (!OidIsValid(owner))
	{
		owner_cache_valid = false;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"machinesoup\" is not installed in this database")));
	}
	owner_cached = owner;
	return owner;
}

/*
 * Superuser, or holding the privileges of the extension's owner: may do
 * everything.  Asked of the caller, never of the current user, which
 * inside the protected work is the owner.
 */
bool
ms_caller_is_privileged(Oid caller)
{
	return superuser_arg(caller) || has_privs_of_role(caller, ms_extension_owner());
}

/* Record the caller and switch to the owner; pair with ms_leave. */
void
ms_enter(MsCallerFrame *frame)
{
	GetUserIdAndSecContext(&frame->save_userid, &frame->save_sec_context);
	frame->caller = current_frame == NULL ? legacy_caller(frame->save_userid) : frame->save_userid;
	frame->owner = ms_extension_owner();
	frame->outer = current_frame;
	current_frame = frame;
	/* a processor calling in: its sandbox's refusals are not for our work */
	frame->save_sandbox_suspended = ms_sandbox_suspend();
	/* a security-restricted operation stays one */
	SetUserIdAndSecContext(frame->owner,
						   frame->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* Undo ms_enter: also on the error path (PG_FINALLY), so frames never leak. */
void
ms_leave(MsCallerFrame *frame)
{
	current_frame = frame->outer;
	ms_sandbox_resume(frame->save_sandbox_suspended);
	SetUserIdAndSecContext(frame->save_userid, frame->save_sec_context);
}

/*
 * The caller of the ms.* function running now: the innermost entry's
 * caller while the current user is still the owner it switched to, else
 * the current user itself (code run as another role is its own caller).
 */
Oid
ms_current_caller(void)
{
	Oid			uid = GetUserId();

	if (current_frame != NULL && current_frame->owner == uid)
		return current_frame->caller;
	if (current_frame == NULL)
		return legacy_caller(uid);
	return uid;
}

/*
 * The caller outside any frame, as the current user uid sees it.  That is
 * uid, except under the SQL objects of a version before 0.4.0, still in
 * place after this library was installed: their API functions are
 * SECURITY DEFINER, so uid is their owner, which would make every caller
 * privileged.  There the answer is theirs, the outer role, but not where
 * that is known to be borrowed: in a security-restricted operation (the
 * outer role of a superuser's ANALYZE is the superuser) nothing is allowed.
 */
static Oid
legacy_caller(Oid uid)
{
	if (uid != ms_extension_owner() || !sql_predates_entry_points())
		return uid;
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("machinesoup functions cannot be called in a security-restricted operation until the extension is updated"),
				 errhint("Run ALTER EXTENSION machinesoup UPDATE.")));
	return GetOuterUserId();
}

/*
 * Are the installed SQL objects older than 0.4.0, the first version whose
 * entry points are not SECURITY DEFINER?  Asked only outside any frame
 * with the owner as a switched current user, which 0.4.0's objects never
 * are; kept until pg_proc changes (an update replaces the functions).
 */
static bool
sql_predates_entry_points(void)
{
	if (predates_entry_points < 0)
	{
		register_pg_proc_callback();
		predates_entry_points = read_sql_predates_entry_points() ? 1 : 0;
	}
	return predates_entry_points == 1;
}

/* sql_predates_entry_points, read from pg_extension's extversion. */
static bool
read_sql_predates_entry_points(void)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		older = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("machinesoup"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			char	   *v = TextDatumGetCString(d);
			int			major = 0,
						minor = 0;

			if (sscanf(v, "%d.%d", &major, &minor) == 2)
				older = major == 0 && minor < 4;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return older;
}

/*
 * Entry functions to the PL/pgSQL bodies they run, by OID: a body is found
 * by name once per backend, then kept until pg_proc changes.
 */
typedef struct EntryTarget
{
	Oid			entry;
	Oid			body;
} EntryTarget;

static HTAB *entry_targets = NULL;

/* Syscache callback: pg_proc changed, forget what was read from it. */
static void
entry_targets_forget(Datum arg, int cacheid, uint32 hashvalue)
{
	if (entry_targets != NULL)
	{
		hash_destroy(entry_targets);
		entry_targets = NULL;
	}
	predates_entry_points = -1;
}

/* What is cached from pg_proc is forgotten when pg_proc changes. */
static void
register_pg_proc_callback(void)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, entry_targets_forget, (Datum) 0);
		registered = true;
	}
}

/* The body ms_entry runs for entry function entry: ms._<name>(same args). */
static Oid
entry_body(Oid entry)
{
	EntryTarget *target;
	bool		found;
	HeapTuple	tup;
	Form_pg_proc proc;
	char	   *body_name;
	List	   *qualified;
	Oid			body;

	register_pg_proc_callback();
	if (entry_targets == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(EntryTarget);
		ctl.hcxt = TopMemoryContext;
		entry_targets = hash_create("machinesoup entry points", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	target = hash_search(entry_targets, &entry, HASH_FIND, NULL);
	if (target != NULL)
		return target->body;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(entry));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", entry);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	body_name = psprintf("_%s", NameStr(proc->proname));
	qualified = list_make2(makeString(get_namespace_name(proc->pronamespace)),
						   makeString(body_name));
	body = LookupFuncName(qualified, proc->pronargs, proc->proargtypes.values, false);
	ReleaseSysCache(tup);

	/* the lookup may have run an invalidation that dropped the table */
	if (entry_targets != NULL)
	{
		target = hash_search(entry_targets, &entry, HASH_ENTER, &found);
		target->body = body;
	}
	return body;
}

/*
 * ms_entry: the C function behind every PL/pgSQL-bodied ms.* entry point.
 * Runs ms._<name> with the same arguments (and, for a set-returning
 * function, the same result set protocol) as the extension's owner, with
 * the caller recorded.
 */
Datum
ms_entry(PG_FUNCTION_ARGS)
{
	FmgrInfo   *body = (FmgrInfo *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	MsCallerFrame frame;
	volatile Datum result = (Datum) 0;

	if (body == NULL)
	{
		body = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(entry_body(fcinfo->flinfo->fn_oid), body, fcinfo->flinfo->fn_mcxt);
		/* the same signature: the call's expression describes the body's too */
		body->fn_expr = fcinfo->flinfo->fn_expr;
		fcinfo->flinfo->fn_extra = body;
	}

	InitFunctionCallInfoData(*inner, body, fcinfo->nargs, fcinfo->fncollation,
							 fcinfo->context, fcinfo->resultinfo);
	memcpy(inner->args, fcinfo->args, sizeof(NullableDatum) * fcinfo->nargs);

	ms_enter(&frame);
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_FINALLY();
	{
		ms_leave(&frame);
	}
	PG_END_TRY();

	fcinfo->isnull = inner->isnull;
	return result;
}

/*
 * Run fn as an entry point: the C-bodied ms.* functions (ms.knn,
 * ms.read_batch, ...) are fn, declared without SECURITY DEFINER.
 */
Datum
ms_call_as_owner(PGFunction fn, FunctionCallInfo fcinfo)
{
	MsCallerFrame frame;
	volatile Datum result = (Datum) 0;

	ms_enter(&frame);
	PG_TRY();
	{
		result = fn(fcinfo);
	}
	PG_FINALLY();
	{
		ms_leave(&frame);
	}
	PG_END_TRY();
	return result;
}

/* ms._caller() → regrole */
Datum
ms_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(ms_current_caller());
}

/* ms._caller_name() → name */
Datum
ms_caller_name(PG_FUNCTION_ARGS)
{
	char	   *name = GetUserNameFromId(ms_current_caller(), false);

	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(name)));
}

/* ms._is_privileged() → boolean */
Datum
ms_is_privileged(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ms_caller_is_privileged(ms_current_caller()));
}

/* ms._role_is_privileged(role oid) → boolean: as ms._is_privileged, of role */
Datum
ms_role_is_privileged(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ms_caller_is_privileged(PG_GETARG_OID(0)));
}
