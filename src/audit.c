/*
 * audit.c
 *		The audit log: records written by a background worker, committed
 *		independently of the caller's transaction, chained by SHA-256.
 *
 * Why a worker: a record of a raw read must survive the reader's ROLLBACK
 * and a crash of the reader's backend, and must be durable before the
 * bytes are handed out.  A backend therefore puts the record into a slot
 * of a shared-memory request table, wakes the writer of its database and
 * sleeps on its latch until the writer reports the record committed (with
 * synchronous_commit on) or failed; on timeout the caller's action is
 * refused.
 *
 * One writer per database: a background worker connects to a single
 * database for life, so the first request from a database registers a
 * dynamic worker for it (bgw_main_arg = database OID).  The writer exits
 * after machinesoup.audit_writer_idle seconds without work, and at once
 * when DROP DATABASE names its database (an object-access hook tells it):
 * DROP DATABASE refuses to run while any other process is connected, and
 * would otherwise fail for up to a minute after the last audited action.
 * The next request starts a new writer.  Everything needs the shared memory reserved at
 * server start, so the library must be in shared_preload_libraries.
 *
 * The chain: rows are numbered 1, 2, ... by the writer, which holds an
 * EXCLUSIVE lock on the table while appending, and
 *		hash(n) = SHA-256(hash(n-1) || canonical text of row n),
 * with 32 zero bytes before row 1.  The canonical text lists every column
 * as "<length>:<bytes>;" (or "N;" for NULL) using the columns' output
 * functions, timestamps as integer microseconds, so ms.verify_audit() can
 * recompute it from what is stored.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "audit.h"
#include "caller.h"

PGDLLEXPORT void ms_audit_writer_main(Datum main_arg);

PG_FUNCTION_INFO_V1(ms_audit_sql);
PG_FUNCTION_INFO_V1(ms_verify_audit);
PG_FUNCTION_INFO_V1(ms_audit_log_guard);

#define AUDIT_SLOTS			64	/* records in flight at once */
#define AUDIT_WRITERS		32	/* databases with a live writer at once */
#define AUDIT_BATCH			32	/* records appended per writer transaction */
#define AUDIT_ID_LEN		64	/* org, model, label: 63 chars + NUL */
#define AUDIT_ACTION_LEN	32
#define AUDIT_ADDR_LEN		64
#define AUDIT_ERR_LEN		256

typedef enum AuditSlotState
{
	SLOT_FREE = 0,
	SLOT_PENDING,				/* filled by a backend, waiting for the writer */
	SLOT_TAKEN,					/* the writer is appending it */
	SLOT_DONE,					/* committed; result_id is its row id */
	SLOT_FAILED					/* not written; errmsg says why */
} AuditSlotState;

typedef struct AuditSlot
{
	AuditSlotState state;
	bool		abandoned;		/* requester gave up; writer frees it */
	Oid			dboid;
	uint64		seq;			/* submission order */
	Latch	   *requester;
	/* the record */
	TimestampTz at;
	int			pid;
	char		role[NAMEDATALEN];
	char		client_addr[AUDIT_ADDR_LEN];
	char		action[AUDIT_ACTION_LEN];
	char		org[AUDIT_ID_LEN];
	char		model[AUDIT_ID_LEN];
	char		label[AUDIT_ID_LEN];
	bool		has_batch;
	int64		batch_id;
	char		reason[AUDIT_REASON_MAX + 1];
	/* the outcome */
	int64		result_id;
	char		errmsg[AUDIT_ERR_LEN];
} AuditSlot;

typedef enum WriterState
{
	WRITER_NONE = 0,
	WRITER_STARTING,			/* registered, not yet attached */
	WRITER_RUNNING
} WriterState;

typedef struct AuditWriter
{
	WriterState state;
	Oid			dboid;
	int			pid;
	Latch	   *latch;
	TimestampTz since;			/* when registered or attached */
	bool		leave;			/* DROP DATABASE wants the database to itself */
} AuditWriter;

typedef struct AuditShared
{
	LWLock	   *lock;
	uint64		next_seq;
	AuditWriter writers[AUDIT_WRITERS];
	AuditSlot	slots[AUDIT_SLOTS];
} AuditShared;

static AuditShared *audit_shared = NULL;
static bool audit_preloaded = false;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

static AuditWriter *find_writer(Oid dboid);

/* settings */
static int	audit_timeout_ms = 5000;
static int	audit_writer_idle_s = 60;

/* ---------------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------------
 */

static void
audit_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
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
		w = find_writer(objectId);
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
ms_audit_init(void)
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

	if (!process_shared_preload_libraries_in_progress)
		return;
	audit_preloaded = true;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = audit_shmem_request;
#else
	audit_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = audit_shmem_startup;
	prev_object_access_hook = object_access_hook;
	object_access_hook = audit_object_access;
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

/* ---------------------------------------------------------------------
 * Canonical row text and the hash chain (shared by writer and verifier)
 * ---------------------------------------------------------------------
 */

static void
canon_field(StringInfo buf, const char *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "N;");
	else
		appendStringInfo(buf, "%zu:%s;", strlen(value), value);
}

/*
 * values: id, at (integer microseconds), role, pid, client_addr, action,
 * org, model, label, batch_id, reason, all as text, NULL for SQL NULL.
 */
#define AUDIT_NCOLS 11

static void
audit_chain_hash(const uint8 *prev, const char *const *values, uint8 *out)
{
	StringInfoData buf;
	pg_cryptohash_ctx *ctx;

	initStringInfo(&buf);
	for (int i = 0; i < AUDIT_NCOLS; i++)
		canon_field(&buf, values[i]);

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, prev, PG_SHA256_DIGEST_LENGTH) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
		pg_cryptohash_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
	{
		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256 hash of an audit record")));
	}
	pg_cryptohash_free(ctx);
	pfree(buf.data);
}

static char *
int64_text(int64 v)
{
	return psprintf(INT64_FORMAT, v);
}

/* ---------------------------------------------------------------------
 * Backend side
 * ---------------------------------------------------------------------
 */

static void
copy_field(char *dst, size_t cap, const char *src, const char *what)
{
	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	if (strlen(src) >= cap)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("audit %s is too long", what),
				 errdetail("At most %zu bytes are kept.", cap - 1)));
	strlcpy(dst, src, cap);
}

/*
 * The client's IP address as text, or "" for a Unix-socket connection or
 * a process without a client.  Asked through inet_client_addr() so this
 * file needs no libpq-be.h (whose GSSAPI headers are not always there).
 */
void
ms_client_address(char *buf, size_t cap)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		d;

	buf[0] = '\0';
	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	d = inet_client_addr(fcinfo);
	if (fcinfo->isnull)
		return;
	strlcpy(buf, DatumGetCString(DirectFunctionCall1(inet_out, d)), cap);
}

/* caller holds the lock; returns the writer entry for db, or NULL */
static AuditWriter *
find_writer(Oid dboid)
{
	for (int i = 0; i < AUDIT_WRITERS; i++)
		if (audit_shared->writers[i].state != WRITER_NONE &&
			audit_shared->writers[i].dboid == dboid)
			return &audit_shared->writers[i];
	return NULL;
}

/* marks a free writer entry as starting for this database; caller holds the lock */
static void
claim_writer(AuditWriter *w)
{
	w->state = WRITER_STARTING;
	w->dboid = MyDatabaseId;
	w->pid = 0;
	w->latch = NULL;
	w->since = GetCurrentTimestamp();
	w->leave = false;
}

/* asks the postmaster for a writer for database dboid; false if refused */
static bool
register_writer(Oid dboid)
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

static void
start_writer(Oid dboid)
{
	if (!register_writer(dboid))
	{
		AuditWriter *w;

		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		w = find_writer(dboid);
		if (w && w->state == WRITER_STARTING)
			w->state = WRITER_NONE;
		LWLockRelease(audit_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the machinesoup audit writer"),
				 errdetail("The audited action was refused because its record cannot be written."),
				 errhint("Raise max_worker_processes.")));
	}
}

/* release or abandon our slot; caller holds the lock */
static void
drop_slot(AuditSlot *slot)
{
	if (slot->state == SLOT_TAKEN)
		slot->abandoned = true;
	else
		slot->state = SLOT_FREE;
}

int64
ms_audit_write(const AuditRecord *rec)
{
	AuditSlot	local;
	AuditSlot  *slot = NULL;
	AuditWriter *w;
	Latch	   *wake = NULL;
	bool		need_start = false;
	TimestampTz deadline;
	int64		result = 0;
	char	   *rolename;

	ms_audit_require();

	/* build the record outside the lock; long fields fail here */
	memset(&local, 0, sizeof(local));
	local.at = rec->at ? rec->at : GetCurrentTimestamp();
	local.pid = MyProcPid;
	rolename = GetUserNameFromId(ms_current_caller(), false);
	strlcpy(local.role, rolename, NAMEDATALEN);
	ms_client_address(local.client_addr, sizeof(local.client_addr));
	copy_field(local.action, sizeof(local.action), rec->action, "action");
	copy_field(local.org, sizeof(local.org), rec->org, "org");
	copy_field(local.model, sizeof(local.model), rec->model, "model");
	copy_field(local.label, sizeof(local.label), rec->label, "label");
	copy_field(local.reason, sizeof(local.reason), rec->reason, "reason");
	local.has_batch = rec->has_batch;
	local.batch_id = rec->batch_id;
	local.dboid = MyDatabaseId;
	local.requester = MyLatch;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_timeout_ms);

	/* claim a slot, waiting briefly if all are in flight */
	for (;;)
	{
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		for (int i = 0; i < AUDIT_SLOTS; i++)
		{
			if (audit_shared->slots[i].state == SLOT_FREE)
			{
				slot = &audit_shared->slots[i];
				break;
			}
		}
		if (slot)
			break;
		LWLockRelease(audit_shared->lock);
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("audit record could not be queued: too many audited actions in flight"),
					 errdetail("The audited action was refused.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* still holding the lock: publish the record and find its writer */
	*slot = local;
	slot->seq = audit_shared->next_seq++;
	slot->state = SLOT_PENDING;

	w = find_writer(MyDatabaseId);
	if (w && w->state == WRITER_RUNNING)
		wake = w->latch;
	else if (w && w->state == WRITER_STARTING)
	{
		/* a writer that never attached (failed fork, say) is retried */
		if (TimestampDifferenceExceeds(w->since, GetCurrentTimestamp(), audit_timeout_ms))
		{
			w->since = GetCurrentTimestamp();
			need_start = true;
		}
	}
	else
	{
		for (int i = 0; i < AUDIT_WRITERS; i++)
		{
			if (audit_shared->writers[i].state == WRITER_NONE)
			{
				w = &audit_shared->writers[i];
				break;
			}
		}
		if (w == NULL)
		{
			slot->state = SLOT_FREE;
			LWLockRelease(audit_shared->lock);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many databases with a running machinesoup audit writer"),
					 errdetail("The audited action was refused.")));
		}
		claim_writer(w);
		need_start = true;
	}
	LWLockRelease(audit_shared->lock);

	PG_TRY();
	{
		if (need_start)
			start_writer(MyDatabaseId);
		if (wake)
			SetLatch(wake);

		for (;;)
		{
			long		remaining;
			bool		finished = false;
			char		errbuf[AUDIT_ERR_LEN];

			LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
			if (slot->state == SLOT_DONE)
			{
				result = slot->result_id;
				slot->state = SLOT_FREE;
				finished = true;
			}
			else if (slot->state == SLOT_FAILED)
			{
				strlcpy(errbuf, slot->errmsg, sizeof(errbuf));
				slot->state = SLOT_FREE;
				LWLockRelease(audit_shared->lock);
				slot = NULL;
				ereport(ERROR,
						(errcode(ERRCODE_IO_ERROR),
						 errmsg("audit record could not be written: %s", errbuf),
						 errdetail("The audited action was refused.")));
			}
			LWLockRelease(audit_shared->lock);
			if (finished)
				break;

			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remaining <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("audit writer did not confirm the record within %d ms", audit_timeout_ms),
						 errdetail("The audited action was refused."),
						 errhint("Check the server log for the machinesoup audit writer, and max_worker_processes.")));
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(remaining, 1000), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		if (slot)
		{
			LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
			drop_slot(slot);
			LWLockRelease(audit_shared->lock);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();

	return result;
}

/*
 * Queue a record without waiting for it, for a backend that is exiting
 * (the end of its access session).  Nothing here may raise an error or
 * touch the catalogs, so the role and address come from the caller; the
 * slot is marked abandoned so the writer frees it once written.  Returns
 * false when the record could not even be queued.
 */
bool
ms_audit_enqueue_at_exit(const AuditRecord *rec, const char *role,
						 const char *client_addr)
{
	AuditSlot  *slot = NULL;
	AuditWriter *w;
	Latch	   *wake = NULL;
	bool		need_start = false;

	if (!audit_preloaded || audit_shared == NULL || !IsUnderPostmaster ||
		LWLockHeldByMe(audit_shared->lock))
		return false;

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < AUDIT_SLOTS; i++)
	{
		if (audit_shared->slots[i].state == SLOT_FREE)
		{
			slot = &audit_shared->slots[i];
			break;
		}
	}
	if (slot == NULL)
	{
		LWLockRelease(audit_shared->lock);
		return false;
	}
	memset(slot, 0, sizeof(*slot));
	slot->at = rec->at ? rec->at : GetCurrentTimestamp();
	slot->pid = MyProcPid;
	strlcpy(slot->role, role, sizeof(slot->role));
	strlcpy(slot->client_addr, client_addr ? client_addr : "", sizeof(slot->client_addr));
	strlcpy(slot->action, rec->action, sizeof(slot->action));
	strlcpy(slot->org, rec->org ? rec->org : "", sizeof(slot->org));
	strlcpy(slot->model, rec->model ? rec->model : "", sizeof(slot->model));
	strlcpy(slot->label, rec->label ? rec->label : "", sizeof(slot->label));
	strlcpy(slot->reason, rec->reason ? rec->reason : "", sizeof(slot->reason));
	slot->has_batch = rec->has_batch;
	slot->batch_id = rec->batch_id;
	slot->dboid = MyDatabaseId;
	slot->requester = MyLatch;
	slot->abandoned = true;
	slot->seq = audit_shared->next_seq++;
	slot->state = SLOT_PENDING;

	w = find_writer(MyDatabaseId);
	if (w && w->state == WRITER_RUNNING)
		wake = w->latch;
	else if (w == NULL)
	{
		for (int i = 0; i < AUDIT_WRITERS; i++)
		{
			if (audit_shared->writers[i].state == WRITER_NONE)
			{
				w = &audit_shared->writers[i];
				claim_writer(w);
				need_start = true;
				break;
			}
		}
	}
	LWLockRelease(audit_shared->lock);

	/* on failure the STARTING entry is retried by the next request */
	if (need_start)
		(void) register_writer(MyDatabaseId);
	if (wake)
		SetLatch(wake);
	return true;
}

/*
 * ms._audit(action, org, model, label, batch_id, reason) → bigint
 *
 * For the extension's own SECURITY DEFINER functions (governance actions);
 * not executable by PUBLIC.
 */
Datum
ms_audit_sql(PG_FUNCTION_ARGS)
{
	AuditRecord rec;
	char	   *action;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("audit action must not be null")));
	action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (const char *p = action; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid audit action \"%s\"", action),
					 errdetail("Actions are lower-case words joined by underscores.")));
	if (action[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audit action must not be empty")));

	memset(&rec, 0, sizeof(rec));
	rec.action = action;
	rec.org = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	rec.model = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	rec.label = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	rec.has_batch = !PG_ARGISNULL(4);
	rec.batch_id = rec.has_batch ? PG_GETARG_INT64(4) : 0;
	rec.reason = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	PG_RETURN_INT64(ms_audit_write(&rec));
}

/* ---------------------------------------------------------------------
 * The writer
 * ---------------------------------------------------------------------
 */

static void
writer_detach(int code, Datum arg)
{
	AuditWriter *w;

	if (audit_shared == NULL)
		return;
	LWLockReleaseAll();
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	w = find_writer(DatumGetObjectId(arg));
	if (w && w->pid == MyProcPid)
		w->state = WRITER_NONE;
	LWLockRelease(audit_shared->lock);
}

static const char *
nullable(const char *s)
{
	return s[0] ? s : NULL;
}

/*
 * Append the records in batch[0..n) in one transaction.  Fills ids[] and
 * returns normally on commit; raises an ERROR otherwise.
 */
static void
append_records(AuditSlot *batch, int n, int64 *ids)
{
	uint8		prev[PG_SHA256_DIGEST_LENGTH];
	int64		last_id = 0;
	Oid			argtypes[12] = {INT8OID, TIMESTAMPTZOID, NAMEOID, INT4OID, INETOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, BYTEAOID};
	SPIPlanPtr	plan;
	int			ret;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "appending audit records");

	/* one appender at a time keeps the chain linear */
	ret = SPI_execute("LOCK TABLE ms.audit_log IN EXCLUSIVE MODE", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock ms.audit_log: %d", ret);
	/* the lock may have waited: look at the table as it is now */
	PopActiveSnapshot();
	PushActiveSnapshot(GetTransactionSnapshot());

	memset(prev, 0, sizeof(prev));
	ret = SPI_execute("SELECT id, hash FROM ms.audit_log ORDER BY id DESC LIMIT 1", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the last audit record: %d", ret);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d;
		bytea	   *h;

		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		last_id = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
		{
			h = DatumGetByteaPP(d);
			if (VARSIZE_ANY_EXHDR(h) == PG_SHA256_DIGEST_LENGTH)
				memcpy(prev, VARDATA_ANY(h), PG_SHA256_DIGEST_LENGTH);
		}
	}

	plan = SPI_prepare("INSERT INTO ms.audit_log (id, at, role, pid, client_addr, action, org, "
					   "model, label, batch_id, reason, hash) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
					   12, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit insert: %d", SPI_result);

	for (int i = 0; i < n; i++)
	{
		AuditSlot  *r = &batch[i];
		const char *values[AUDIT_NCOLS];
		Datum		args[12];
		char		nulls[12];
		char	   *addr = NULL;
		uint8		hash[PG_SHA256_DIGEST_LENGTH];
		bytea	   *hb;
		NameData	role;

		memset(nulls, ' ', sizeof(nulls));
		/* normalise the address through inet so the hash uses stored text */
		if (r->client_addr[0])
			addr = DatumGetCString(DirectFunctionCall1(inet_out,
													   DirectFunctionCall1(inet_in,
																		   CStringGetDatum(r->client_addr))));
		namestrcpy(&role, r->role);

		values[0] = int64_text(last_id + 1);
		values[1] = int64_text((int64) r->at);
		values[2] = NameStr(role);
		values[3] = psprintf("%d", r->pid);
		values[4] = addr;
		values[5] = nullable(r->action);
		values[6] = nullable(r->org);
		values[7] = nullable(r->model);
		values[8] = nullable(r->label);
		values[9] = r->has_batch ? int64_text(r->batch_id) : NULL;
		values[10] = nullable(r->reason);
		audit_chain_hash(prev, values, hash);

		args[0] = Int64GetDatum(last_id + 1);
		args[1] = TimestampTzGetDatum(r->at);
		args[2] = NameGetDatum(&role);
		args[3] = Int32GetDatum(r->pid);
		if (addr)
			args[4] = DirectFunctionCall1(inet_in, CStringGetDatum(addr));
		else
			nulls[4] = 'n';
		for (int c = 5; c <= 8; c++)
		{
			if (values[c])
				args[c] = CStringGetTextDatum(values[c]);
			else
				nulls[c] = 'n';
		}
		if (r->has_batch)
			args[9] = Int64GetDatum(r->batch_id);
		else
			nulls[9] = 'n';
		if (values[10])
			args[10] = CStringGetTextDatum(values[10]);
		else
			nulls[10] = 'n';
		hb = (bytea *) palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
		SET_VARSIZE(hb, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
		memcpy(VARDATA(hb), hash, PG_SHA256_DIGEST_LENGTH);
		args[11] = PointerGetDatum(hb);

		ret = SPI_execute_plan(plan, args, nulls, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not insert an audit record: %d", ret);
		last_id++;
		ids[i] = last_id;
		memcpy(prev, hash, sizeof(prev));
	}

	SPI_finish();
	PopActiveSnapshot();
	/* synchronous_commit is forced on: the commit returns once flushed */
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
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

static void
process_pending(Oid dboid, MemoryContext workctx)
{
	static AuditSlot batch[AUDIT_BATCH];
	int			idx[AUDIT_BATCH];
	int64		ids[AUDIT_BATCH];
	int			n;

	while ((n = take_pending(dboid, batch, idx)) > 0)
	{
		MemoryContextSwitchTo(workctx);
		PG_TRY();
		{
			append_records(batch, n, ids);
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

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	w = find_writer(dboid);
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
		bool		idle_exit = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
		}

		ResetLatch(MyLatch);
		process_pending(dboid, workctx);

		/* leave when idle, unless a request slipped in meanwhile */
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		{
			bool		pending = false;

			for (int i = 0; i < AUDIT_SLOTS; i++)
				if (audit_shared->slots[i].state == SLOT_PENDING &&
					audit_shared->slots[i].dboid == dboid)
					pending = true;
			if (pending)
				last_work = GetCurrentTimestamp();
			else if (w->leave ||
					 TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(),
												audit_writer_idle_s * 1000))
			{
				w->state = WRITER_NONE;
				idle_exit = true;
			}
		}
		LWLockRelease(audit_shared->lock);
		if (idle_exit)
			proc_exit(0);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
	}
}

/* ---------------------------------------------------------------------
 * ms.verify_audit()
 * ---------------------------------------------------------------------
 */

/*
 * Recompute the chain over the whole log in id order.  ok is false at the
 * first row whose id is not the previous id + 1 or whose hash does not
 * match; first_bad is that row's id (NULL when ok).
 */
static Datum
verify_audit_as_owner(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		result[3];
	bool		nulls[3] = {false, false, false};
	uint8		prev[PG_SHA256_DIGEST_LENGTH];
	int64		checked = 0;
	int64		expect_id = 1;
	int64		first_bad = 0;
	bool		ok = true;
	Portal		portal;
	SPIPlanPtr	plan;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	memset(prev, 0, sizeof(prev));
	SPI_connect();
	plan = SPI_prepare("SELECT id, at, role, pid, client_addr, action, org, model, label, "
					   "batch_id, reason, hash FROM ms.audit_log ORDER BY id", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit scan: %d", SPI_result);
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	while (ok)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed && ok; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			const char *values[AUDIT_NCOLS];
			bool		isnull;
			int64		id;
			Datum		d;
			uint8		hash[PG_SHA256_DIGEST_LENGTH];
			bytea	   *stored;

			id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
			checked++;
			if (id != expect_id)
			{
				ok = false;
				/* a gap: the first missing id is where the log was cut */
				first_bad = id > expect_id ? expect_id : id;
				break;
			}
			expect_id++;

			values[0] = SPI_getvalue(tup, td, 1);
			d = SPI_getbinval(tup, td, 2, &isnull);
			values[1] = isnull ? NULL : int64_text((int64) DatumGetTimestampTz(d));
			for (int c = 2; c < AUDIT_NCOLS; c++)
				values[c] = SPI_getvalue(tup, td, c + 1);
			audit_chain_hash(prev, values, hash);

			d = SPI_getbinval(tup, td, 12, &isnull);
			stored = isnull ? NULL : DatumGetByteaPP(d);
			if (stored == NULL || VARSIZE_ANY_EXHDR(stored) != PG_SHA256_DIGEST_LENGTH ||
				memcmp(VARDATA_ANY(stored), hash, PG_SHA256_DIGEST_LENGTH) != 0)
			{
				ok = false;
				first_bad = id;
				break;
			}
			/* continue from the stored hash, which equals the computed one */
			memcpy(prev, hash, sizeof(prev));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	result[0] = BoolGetDatum(ok);
	result[1] = Int64GetDatum(checked);
	if (ok)
		nulls[2] = true;
	else
		result[2] = Int64GetDatum(first_bad);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}

/* ms.verify_audit(): an entry point, run as the extension's owner */
Datum
ms_verify_audit(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(verify_audit_as_owner, fcinfo);
}

/*
 * Trigger on ms.audit_log refusing UPDATE, DELETE and TRUNCATE to everyone
 * but a superuser.  The outer role is asked, so no SECURITY DEFINER path
 * owned by a superuser can launder the change.
 */
Datum
ms_audit_log_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ms._audit_log_guard: not called by trigger manager");
	if (!superuser_arg(GetOuterUserId()) || !superuser_arg(GetUserId()))
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
