/*
 * audit_init.c
 *		What the audit log sets up when the library loads: its settings and
 *		the shared-memory request table that backends fill and writers
 *		serve; and the check, before an audited action, that it is there.
 *
 * The request table lives in shared memory reserved at server start, so
 * every audited action needs the library in shared_preload_libraries;
 * loaded any other way, the settings exist but ms_audit_require() refuses
 * the action.  The table is audit_internal.h's AuditShared: the slots of
 * records in flight (audit_queue.c), the writer of each database
 * (audit_writer.c) and the refusal counters of the rate limit, all under
 * one LWLock.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "audit.h"
#include "audit_internal.h"

AuditShared *audit_shared = NULL;
bool		audit_preloaded = false;

/* settings */
int			audit_timeout_ms = 5000;
int			audit_writer_idle_s = 60;
int			audit_refusal_limit = 60;
int			audit_refusal_window_s = 60;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
audit_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(AuditShared)));
	RequestNamedLWLockTranche("machinesoup_audit", 1);
}

static void
audit_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	audit_shared = ShmemInitStruct("machinesoup audit", sizeof(AuditShared), &found);
	if (!found)
	{
		memset(audit_shared, 0, sizeof(AuditShared));
		audit_shared->lock = &(GetNamedLWLockTranche("machinesoup_audit"))->lock;
		audit_shared->next_seq = 1;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
ms_audit_define_settings(void)
{
	DefineCustomIntVariable("machinesoup.audit_timeout",
							"How long a backend waits for the audit writer to commit a record.",
							"An action whose audit record is not committed within this time is refused.",
							&audit_timeout_ms,
							5000, 100, 600000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.audit_writer_idle",
							"Seconds an idle audit writer stays connected to its database.",
							NULL,
							&audit_writer_idle_s,
							60, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.audit_refusal_limit",
							"Refusals of one role recorded one by one per window.",
							"Further refusals in the window are counted and recorded as one refusals_suppressed record.",
							&audit_refusal_limit,
							60, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.audit_refusal_window",
							"The window of machinesoup.audit_refusal_limit.",
							NULL,
							&audit_refusal_window_s,
							60, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	ms_audit_define_relay_setting();
}

void
ms_audit_shmem_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	audit_preloaded = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = audit_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = audit_shmem_startup;
}

void
ms_audit_require(void)
{
	if (!audit_preloaded || audit_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the machinesoup audit log is not available"),
				 errdetail("Audited actions need the audit writer, which needs the library loaded at server start."),
				 errhint("Set shared_preload_libraries = 'machinesoup' in postgresql.conf and restart the server.")));
}

AuditWriter *
audit_find_writer(Oid dboid)
{
	for (int i = 0; i < AUDIT_WRITERS; i++)
		if (audit_shared->writers[i].state != WRITER_NONE &&
			audit_shared->writers[i].dboid == dboid)
			return &audit_shared->writers[i];
	return NULL;
}
