/*
 * audit_writer.c
 *		The audit writer: a background worker per database that takes the
 *		records backends queue, appends them (audit_append.c), reports
 *		each outcome to its requester, and records the refusals the rate
 *		limit counted.
 *
 * One writer per database: a background worker connects to a single
 * database for life, so the first request from a database registers a
 * dynamic worker for it (bgw_main_arg = database OID).  The writer exits
 * after machinesoup.audit_writer_idle seconds without work, and at once
 * when DROP DATABASE names its database (audit_guard.c tells it): DROP
 * DATABASE refuses to run while any other process is connected, and
 * would otherwise fail for up to a minute after the last audited action.
 * The next request starts a new writer.
 *
 * The writer appends up to AUDIT_BATCH records per transaction, in the
 * order they were queued, with synchronous_commit forced on, so a record
 * is reported DONE only once its commit is flushed.  A failed append
 * fails every record of its batch (each requester's action is refused)
 * and the writer goes on with the next.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit_internal.h"

PGDLLEXPORT void ms_audit_writer_main(Datum main_arg);

/*
 * Ask the postmaster for a writer for database dboid (bgw_main_arg); false
 * if it has no room.  The writer is not restarted: the next request that
 * finds none registers another.
 */
bool
audit_register_writer(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "machinesoup", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ms_audit_writer_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "machinesoup audit writer for database %u", dboid);
	strlcpy(worker.bgw_type, "machinesoup audit writer", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = 0;

	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/* on exit: give up our writer entry, if it is still ours */
static void
writer_detach(int code, Datum arg)
{
	AuditWriter *w;

	if (audit_shared == NULL)
		return;
	LWLockReleaseAll();
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	w = audit_find_writer(DatumGetObjectId(arg));
	if (w && w->pid == MyProcPid)
		w->state = WRITER_NONE;
	LWLockRelease(audit_shared->lock);
}

/*
 * Record the refusals counted by the rate limit of this database whose
 * window has passed, one refusals_suppressed record per role.
 */
static void
flush_suppressed(Oid dboid, MemoryContext workctx)
{
	static AuditSlot batch[AUDIT_BATCH];
	int64		ids[AUDIT_BATCH];
	volatile int n = 0;			/* read in PG_CATCH */
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < AUDIT_RATES && n < AUDIT_BATCH; i++)
	{
		AuditRate  *r = &audit_shared->rates[i];
		AuditSlot  *b;
		char		from[MAXDATELEN + 1];
		char		to[MAXDATELEN + 1];

		if (r->dboid != dboid || r->suppressed == 0 ||
			!TimestampDifferenceExceeds(r->first_suppressed, now, r->window_ms))
			continue;
		b = &batch[n++];
		memset(b, 0, sizeof(*b));
		b->at = r->last_suppressed;
		b->pid = MyProcPid;
		strlcpy(b->role, r->role, sizeof(b->role));
		strlcpy(b->action, "refusals_suppressed", sizeof(b->action));
		if (!r->several_orgs)
			strlcpy(b->org, r->org, sizeof(b->org));
		strlcpy(from, timestamptz_to_str(r->first_suppressed), sizeof(from));
		strlcpy(to, timestamptz_to_str(r->last_suppressed), sizeof(to));
		snprintf(b->reason, sizeof(b->reason),
				 INT64_FORMAT " refusals from %s to %s were not recorded one by one "
				 "(over machinesoup.audit_refusal_limit = %d per %d s)",
				 r->suppressed, from, to, audit_refusal_limit, r->window_ms / 1000);
		r->suppressed = 0;
	}
	LWLockRelease(audit_shared->lock);
	if (n == 0)
		return;

	MemoryContextSwitchTo(workctx);
	PG_TRY();
	{
		audit_append_records(dboid, batch, n, ids);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(workctx);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("machinesoup audit writer could not record %d refusals_suppressed record(s): %s",
						n, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextReset(workctx);
}

/* Take up to AUDIT_BATCH pending records of our database, oldest first. */
static int
take_pending(Oid dboid, AuditSlot *batch, int *idx)
{
	int			n = 0;

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	while (n < AUDIT_BATCH)
	{
		int			best = -1;

		for (int i = 0; i < AUDIT_SLOTS; i++)
		{
			AuditSlot  *s = &audit_shared->slots[i];

			if (s->state == SLOT_PENDING && s->dboid == dboid &&
				(best < 0 || s->seq < audit_shared->slots[best].seq))
				best = i;
		}
		if (best < 0)
			break;
		audit_shared->slots[best].state = SLOT_TAKEN;
		batch[n] = audit_shared->slots[best];
		idx[n] = best;
		n++;
	}
	LWLockRelease(audit_shared->lock);
	return n;
}

/*
 * Report the outcome of the records taken into batch (slots idx[]): DONE
 * with ids[], or FAILED with err; wakes each requester, and frees the
 * slots their requesters abandoned.
 */
static void
finish_taken(AuditSlot *batch, int *idx, int n, const int64 *ids, const char *err)
{
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
	{
		AuditSlot  *s = &audit_shared->slots[idx[i]];

		if (s->abandoned)
		{
			s->abandoned = false;
			s->state = SLOT_FREE;
			continue;
		}
		if (err)
		{
			s->state = SLOT_FAILED;
			strlcpy(s->errmsg, err, AUDIT_ERR_LEN);
		}
		else
		{
			s->state = SLOT_DONE;
			s->result_id = ids[i];
		}
		SetLatch(batch[i].requester);
	}
	LWLockRelease(audit_shared->lock);
}

/*
 * Append this database's pending records, a batch per transaction, until
 * none is left; a batch that fails is reported failed (and logged), and
 * the next batch is tried.
 */
static void
process_pending(Oid dboid, MemoryContext workctx)
{
	static AuditSlot batch[AUDIT_BATCH];
	int			idx[AUDIT_BATCH];
	int64		ids[AUDIT_BATCH];
	volatile int n;				/* read in PG_CATCH */

	while ((n = take_pending(dboid, batch, idx)) > 0)
	{
		MemoryContextSwitchTo(workctx);
		PG_TRY();
		{
			audit_append_records(dboid, batch, n, ids);
			MemoryContextSwitchTo(workctx);
			finish_taken(batch, idx, n, ids, NULL);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(workctx);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			ereport(LOG,
					(errmsg("machinesoup audit writer could not append %d record(s): %s",
							n, edata->message)));
			finish_taken(batch, idx, n, NULL, edata->message);
			FreeErrorData(edata);
		}
		PG_END_TRY();
		MemoryContextReset(workctx);
	}
}

/*
 * Take this database's writer entry (the one a backend claimed for it, or
 * a free one) as running, in this process; exits at once when another
 * writer serves the database already, or there is no room.
 */
static AuditWriter *
writer_attach(Oid dboid)
{
	AuditWriter *w;

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	w = audit_find_writer(dboid);
	if (w == NULL)
	{
		for (int i = 0; i < AUDIT_WRITERS; i++)
			if (audit_shared->writers[i].state == WRITER_NONE)
			{
				w = &audit_shared->writers[i];
				break;
			}
	}
	if (w == NULL || (w->state == WRITER_RUNNING && w->pid != MyProcPid))
	{
		/* another writer serves this database (or no room): nothing to do */
		LWLockRelease(audit_shared->lock);
		proc_exit(0);
	}
	w->state = WRITER_RUNNING;
	w->dboid = dboid;
	w->pid = MyProcPid;
	w->latch = MyLatch;
	w->since = GetCurrentTimestamp();
	LWLockRelease(audit_shared->lock);
	return w;
}

/*
 * True when the writer is to leave now: nothing is pending for its
 * database, and DROP DATABASE asked or it has been idle for
 * machinesoup.audit_writer_idle (refusals still counted keep it, until it
 * has recorded them, unless DROP DATABASE asked).  The entry is given up
 * under the same lock that saw nothing pending, so a request that comes
 * later finds no writer and starts one.  *last_work moves on while there
 * is work.
 */
static bool
writer_may_leave(AuditWriter *w, Oid dboid, TimestampTz *last_work)
{
	bool		pending = false;
	bool		counted = false;
	bool		leave = false;

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < AUDIT_SLOTS; i++)
		if (audit_shared->slots[i].state == SLOT_PENDING &&
			audit_shared->slots[i].dboid == dboid)
			pending = true;
	/* counted refusals wait for their window to pass */
	for (int i = 0; i < AUDIT_RATES; i++)
		if (audit_shared->rates[i].dboid == dboid &&
			audit_shared->rates[i].suppressed > 0)
			counted = true;
	if (pending || (counted && !w->leave))
		*last_work = GetCurrentTimestamp();
	else if (w->leave ||
			 TimestampDifferenceExceeds(*last_work, GetCurrentTimestamp(),
										audit_writer_idle_s * 1000))
	{
		w->state = WRITER_NONE;
		leave = true;
	}
	LWLockRelease(audit_shared->lock);
	return leave;
}

/*
 * The writer of database main_arg: appends what backends queue, records
 * the counted refusals, and exits when idle or when DROP DATABASE asks.
 */
void
ms_audit_writer_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	AuditWriter *w;
	MemoryContext workctx;
	TimestampTz last_work;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	before_shmem_exit(writer_detach, ObjectIdGetDatum(dboid));
	w = writer_attach(dboid);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* a record counts only once it is on disk */
	SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "machinesoup audit writer", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("machinesoup audit writer");

	workctx = AllocSetContextCreate(TopMemoryContext, "machinesoup audit writer",
									ALLOCSET_DEFAULT_SIZES);
	last_work = GetCurrentTimestamp();

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
		}

		ResetLatch(MyLatch);
		process_pending(dboid, workctx);
		flush_suppressed(dboid, workctx);

		/* leave when idle, unless a request slipped in meanwhile */
		if (writer_may_leave(w, dboid, &last_work))
			proc_exit(0);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
	}
}
