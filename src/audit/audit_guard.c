/*
 * audit_guard.c
 *		What keeps ms.audit_log whole and its writer out of the way: the
 *		trigger that makes the table append-only, and the hook by which
 *		DROP DATABASE sends the database's audit writer away.
 *
 * The trigger refuses INSERT to everyone but the audit writer (which sets
 * audit_writer_appending around its own inserts) and UPDATE, DELETE and
 * TRUNCATE to everyone but a superuser.  A superuser may still change
 * rows, and session_replication_role = replica (a restore) skips the
 * trigger: against those the hash chain (audit_chain.c) shows the edit.
 *
 * A background worker connects to one database for life, and DROP
 * DATABASE refuses to run while any other process is connected: without
 * the hook, the drop would fail until the writer had been idle for
 * machinesoup.audit_writer_idle seconds after the last audited action.
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/acl.h"

#include "audit.h"
#include "audit_internal.h"

PG_FUNCTION_INFO_V1(ms_audit_log_guard);

bool		audit_writer_appending = false;

static object_access_hook_type prev_object_access_hook = NULL;

/*
 * DROP DATABASE runs this hook before it checks for other connections to
 * the database (and holds the database lock, so no new ones can come):
 * ask that database's writer to finish what is queued and leave.  If the
 * drop then fails anyway, the next audited action starts a new writer.
 */
static void
audit_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_DROP && classId == DatabaseRelationId && audit_shared != NULL)
	{
		AuditWriter *w;
		Latch	   *wake = NULL;

		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		w = audit_find_writer(objectId);
		if (w)
		{
			w->leave = true;
			if (w->state == WRITER_RUNNING)
				wake = w->latch;
		}
		LWLockRelease(audit_shared->lock);
		if (wake)
			SetLatch(wake);
	}
}

void
ms_audit_drop_database_hook_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_object_access_hook = object_access_hook;
	object_access_hook = audit_object_access;
}

/*
 * Trigger on ms.audit_log: INSERT is for the audit writer alone; UPDATE,
 * DELETE and TRUNCATE are refused to everyone but a superuser.  The role
 * judged is GetUserId(), the role whose statement fires the trigger: a
 * superuser's session running another role's code (a definer function,
 * an index expression) is that role here.
 */
Datum
ms_audit_log_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ms._audit_log_guard: not called by trigger manager");
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		if (!audit_writer_appending)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("ms.audit_log is append-only"),
					 errdetail("Rows are added only by the machinesoup audit writer."),
					 errhint("To restore a dump, run pg_restore or psql as a superuser with PGOPTIONS='-c session_replication_role=replica'.")));
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	if (!superuser_arg(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("ms.audit_log is append-only"),
				 errdetail("%s is refused to everyone but a superuser.",
						   TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
						   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "TRUNCATE")));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}
