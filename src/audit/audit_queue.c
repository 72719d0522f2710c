/*
 * audit_queue.c
 *		The backend side of the audit log: putting a record into the shared
 *		request table, waking (or starting) its database's writer, and
 *		waiting until the writer reports it committed; the rate limit of
 *		refusals; ms._audit(), the entry point of governance actions.
 *
 * Why a worker: a record of a raw read must survive the reader's ROLLBACK
 * and a crash of the reader's backend, and must be durable before the
 * bytes are handed out.  A backend therefore puts the record into a slot
 * of a shared-memory request table, wakes the writer of its database and
 * sleeps on its latch until the writer reports the record committed (with
 * synchronous_commit on) or failed; on timeout the caller's action is
 * refused.  The first request from a database with no writer registers
 * one (audit_writer.c).  A database holds at most AUDIT_DB_SLOTS of the
 * shared request slots, so one database cannot take the slots of the
 * others.
 *
 * Refusals (actions beginning with "refuse_") are rate-limited per role and
 * database: at most machinesoup.audit_refusal_limit per
 * machinesoup.audit_refusal_window are recorded one by one, the rest are
 * counted and the writer records the count as one "refusals_suppressed"
 * record when the window has passed.
 *
 * A slot's life: FREE, PENDING (filled here), TAKEN (the writer is
 * appending it), then DONE or FAILED, which its requester reads and frees.
 * A requester that gives up on a TAKEN slot marks it abandoned, and the
 * writer frees it; records queued by an exiting backend are abandoned from
 * the start.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "audit_internal.h"
#include "caller.h"

PG_FUNCTION_INFO_V1(ms_audit_sql);

/* the session user's name, kept for records queued at backend exit */
static Oid	cached_login_id = InvalidOid;
static char cached_login[NAMEDATALEN];

/* copies src (NULL: empty) into dst, or raises an ERROR if it does not fit */
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

/*
 * Register a writer for dboid, whose entry the caller claimed; raises an
 * ERROR (after giving the entry back) when the postmaster has no room.
 */
static void
start_writer(Oid dboid)
{
	if (!audit_register_writer(dboid))
	{
		AuditWriter *w;

		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		w = audit_find_writer(dboid);
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

/*
 * A free slot this database may take, or NULL: every slot is in flight, or
 * this database holds its share (AUDIT_DB_SLOTS) already.  Caller holds
 * the lock.
 */
static AuditSlot *
free_slot_for(Oid dboid, bool *db_full)
{
	AuditSlot  *free = NULL;
	int			mine = 0;

	for (int i = 0; i < AUDIT_SLOTS; i++)
	{
		AuditSlot  *s = &audit_shared->slots[i];

		if (s->state == SLOT_FREE)
		{
			if (free == NULL)
				free = s;
		}
		else if (s->dboid == dboid)
			mine++;
	}
	*db_full = (mine >= AUDIT_DB_SLOTS);
	return *db_full ? NULL : free;
}

/*
 * Find this database's writer, or claim an entry for a new one; returns
 * the latch to wake (a running writer) and sets *need_start when one must
 * be registered.  False when there is no room for another writer.  Caller
 * holds the lock.
 */
static bool
writer_for_my_db(Latch **wake, bool *need_start)
{
	AuditWriter *w = audit_find_writer(MyDatabaseId);

	*wake = NULL;
	*need_start = false;
	if (w && w->state == WRITER_RUNNING)
		*wake = w->latch;
	else if (w && w->state == WRITER_STARTING)
	{
		/* a writer that never attached (failed fork, say) is retried */
		if (TimestampDifferenceExceeds(w->since, GetCurrentTimestamp(), audit_timeout_ms))
		{
			w->since = GetCurrentTimestamp();
			*need_start = true;
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
			return false;
		claim_writer(w);
		*need_start = true;
	}
	return true;
}

static bool
is_refusal(const char *action)
{
	return action != NULL && strncmp(action, "refuse_", 7) == 0;
}

/*
 * The rate-limit entry of roleid in this database, made anew (in a free
 * entry, or one whose window is over with nothing pending) if it has
 * none; NULL when every entry is a role flooding right now.  Caller holds
 * the lock.
 */
static AuditRate *
rate_entry_for(Oid roleid, TimestampTz now)
{
	AuditRate  *spare = NULL;

	for (int i = 0; i < AUDIT_RATES; i++)
	{
		AuditRate  *e = &audit_shared->rates[i];

		if (e->dboid == MyDatabaseId && e->roleid == roleid)
			return e;
		/* a free entry, or one whose window is over with nothing pending */
		if (spare == NULL &&
			(e->dboid == InvalidOid ||
			 (e->suppressed == 0 &&
			  TimestampDifferenceExceeds(e->window_start, now, e->window_ms))))
			spare = e;
	}
	if (spare != NULL)
	{
		memset(spare, 0, sizeof(*spare));
		spare->dboid = MyDatabaseId;
		spare->roleid = roleid;
		spare->window_start = now;
		spare->window_ms = audit_refusal_window_s * 1000;
	}
	return spare;
}

/*
 * Count one refusal over the limit in r, for the refusals_suppressed
 * record: when, and of which org if all of them are of one.  Caller holds
 * the lock.
 */
static void
count_suppressed(AuditRate *r, const char *org, TimestampTz now)
{
	if (r->suppressed == 0)
	{
		r->first_suppressed = now;
		strlcpy(r->org, org ? org : "", sizeof(r->org));
		r->several_orgs = false;
	}
	else if (strcmp(r->org, org ? org : "") != 0)
		r->several_orgs = true;
	r->suppressed++;
	r->last_suppressed = now;
}

/*
 * The rate limit of refusals: true when this refusal of role (in this
 * database) is to be recorded one by one, false when it is only counted,
 * for the writer to record as part of a refusals_suppressed record.
 */
static bool
refusal_admitted(Oid roleid, const char *rolename, const char *org)
{
	TimestampTz now = GetCurrentTimestamp();
	AuditRate  *r;
	bool		admitted;
	Latch	   *wake = NULL;
	bool		need_start = false;

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	r = rate_entry_for(roleid, now);
	if (r == NULL)
	{
		/* every entry is a role flooding right now: count nowhere */
		LWLockRelease(audit_shared->lock);
		ereport(LOG,
				(errmsg("machinesoup audit: refusal of role \"%s\" not recorded, the rate-limit table is full",
						rolename)));
		return false;
	}
	strlcpy(r->role, rolename, sizeof(r->role));
	if (TimestampDifferenceExceeds(r->window_start, now, r->window_ms))
	{
		r->window_start = now;
		r->window_ms = audit_refusal_window_s * 1000;
		r->recorded = 0;
	}
	if (r->recorded < audit_refusal_limit)
	{
		r->recorded++;
		admitted = true;
	}
	else
	{
		count_suppressed(r, org, now);
		admitted = false;
		/* the count needs a writer to record it later */
		if (!writer_for_my_db(&wake, &need_start))
			need_start = false;
	}
	LWLockRelease(audit_shared->lock);
	if (need_start)
		(void) audit_register_writer(MyDatabaseId);
	if (wake)
		SetLatch(wake);
	return admitted;
}

/* the session user's name (the login), remembered for exit-time records */
static const char *
login_name(void)
{
	Oid			login = GetSessionUserId();

	if (login != cached_login_id)
	{
		strlcpy(cached_login, GetUserNameFromId(login, false), NAMEDATALEN);
		cached_login_id = login;
	}
	return cached_login;
}

/*
 * Fill *slot with rec as this backend submits it, acting as roleid, whose
 * name is returned.  Raises an ERROR for a field too long to keep; takes
 * no lock.
 */
static char *
build_record(AuditSlot *slot, const AuditRecord *rec, Oid roleid)
{
	char	   *rolename;

	memset(slot, 0, sizeof(*slot));
	slot->at = rec->at ? rec->at : GetCurrentTimestamp();
	slot->pid = MyProcPid;
	rolename = GetUserNameFromId(roleid, false);
	strlcpy(slot->role, rolename, NAMEDATALEN);
	strlcpy(slot->login, login_name(), NAMEDATALEN);
	ms_client_address(slot->client_addr, sizeof(slot->client_addr));
	copy_field(slot->action, sizeof(slot->action), rec->action, "action");
	copy_field(slot->org, sizeof(slot->org), rec->org, "org");
	copy_field(slot->model, sizeof(slot->model), rec->model, "model");
	copy_field(slot->label, sizeof(slot->label), rec->label, "label");
	copy_field(slot->reason, sizeof(slot->reason), rec->reason, "reason");
	slot->has_batch = rec->has_batch;
	slot->batch_id = rec->batch_id;
	slot->dboid = MyDatabaseId;
	slot->requester = MyLatch;
	return rolename;
}

/*
 * Put *local into a free slot of this database and find the database's
 * writer (see writer_for_my_db for *wake and *need_start); returns the
 * slot, pending and ours.  Raises an ERROR, with nothing queued, when no
 * slot comes free before deadline or there is no room for another writer.
 */
static AuditSlot *
queue_record(const AuditSlot *local, TimestampTz deadline,
			 Latch **wake, bool *need_start)
{
	AuditSlot  *slot;
	bool		db_full = false;

	/* claim a slot, waiting briefly if all (or this database's share) are in flight */
	for (;;)
	{
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		slot = free_slot_for(MyDatabaseId, &db_full);
		if (slot)
			break;
		LWLockRelease(audit_shared->lock);
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("audit record could not be queued: too many audited actions in flight%s",
							db_full ? " in this database" : ""),
					 errdetail("The audited action was refused.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* still holding the lock: publish the record and find its writer */
	*slot = *local;
	slot->seq = audit_shared->next_seq++;
	slot->state = SLOT_PENDING;

	if (!writer_for_my_db(wake, need_start))
	{
		slot->state = SLOT_FREE;
		LWLockRelease(audit_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many databases with a running machinesoup audit writer"),
				 errdetail("The audited action was refused.")));
	}
	LWLockRelease(audit_shared->lock);
	return slot;
}

/*
 * Sleep until the writer reports on the slot *slotp, and free it: returns
 * the record's row id once committed.  Raises an ERROR when the writer
 * failed (with *slotp set to NULL first: the slot is free already, and may
 * be someone else's by then) or when deadline passes (the slot still ours,
 * for the caller to drop).
 */
static int64
await_writer(AuditSlot *volatile *slotp, TimestampTz deadline)
{
	AuditSlot  *slot = *slotp;

	for (;;)
	{
		long		remaining;
		char		errbuf[AUDIT_ERR_LEN];

		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		if (slot->state == SLOT_DONE)
		{
			int64		result = slot->result_id;

			slot->state = SLOT_FREE;
			LWLockRelease(audit_shared->lock);
			return result;
		}
		else if (slot->state == SLOT_FAILED)
		{
			strlcpy(errbuf, slot->errmsg, sizeof(errbuf));
			slot->state = SLOT_FREE;
			LWLockRelease(audit_shared->lock);
			*slotp = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_IO_ERROR),
					 errmsg("audit record could not be written: %s", errbuf),
					 errdetail("The audited action was refused.")));
		}
		LWLockRelease(audit_shared->lock);

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

/*
 * Queue *local for this database's writer and wait until it is committed:
 * its row id.
 */
static int64
submit_record(const AuditSlot *local)
{
	/* set to NULL inside PG_TRY and read in PG_CATCH: volatile */
	AuditSlot  *volatile slot = NULL;
	Latch	   *wake = NULL;
	bool		need_start = false;
	TimestampTz deadline;
	int64		result = 0;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_timeout_ms);
	slot = queue_record(local, deadline, &wake, &need_start);

	PG_TRY();
	{
		if (need_start)
			start_writer(MyDatabaseId);
		if (wake)
			SetLatch(wake);
		result = await_writer(&slot, deadline);
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

int64
ms_audit_write(const AuditRecord *rec)
{
	AuditSlot	local;
	char	   *rolename;
	Oid			roleid = ms_current_caller();

	ms_audit_require();

	/* build the record outside the lock; long fields fail here */
	rolename = build_record(&local, rec, roleid);

	if (is_refusal(local.action) && !refusal_admitted(roleid, rolename, local.org))
		return 0;

	/* a standby's log is the primary's: the primary writes the record */
	if (RecoveryInProgress())
		return audit_relay_or_refuse(&local);
	return submit_record(&local);
}

/*
 * A record a standby relayed (ms._audit_relay): as ms_audit_write, but
 * the role acting, the login, the pid and the address are the standby's.
 */
int64
ms_audit_write_relayed(const AuditRecord *rec, const char *role, const char *login,
					   int pid, const char *client_addr)
{
	AuditSlot	local;
	Oid			roleid = get_role_oid(role, false);

	ms_audit_require();
	(void) build_record(&local, rec, roleid);
	copy_field(local.login, sizeof(local.login), login, "login");
	copy_field(local.client_addr, sizeof(local.client_addr), client_addr, "client address");
	local.pid = pid;

	if (is_refusal(local.action) && !refusal_admitted(roleid, local.role, local.org))
		return 0;
	if (RecoveryInProgress())
		return audit_relay_or_refuse(&local);
	return submit_record(&local);
}

/* ms_audit_enqueue_at_exit on a standby: relayed, or given up quietly */
static bool
enqueue_relayed_at_exit(const AuditRecord *rec, const char *role, const char *client_addr)
{
	AuditSlot	local;
	int64		id;
	const char *why;

	memset(&local, 0, sizeof(local));
	local.at = rec->at ? rec->at : GetCurrentTimestamp();
	local.pid = MyProcPid;
	strlcpy(local.role, role, sizeof(local.role));
	if (OidIsValid(cached_login_id) && cached_login_id == GetSessionUserId())
		strlcpy(local.login, cached_login, sizeof(local.login));
	strlcpy(local.client_addr, client_addr ? client_addr : "", sizeof(local.client_addr));
	strlcpy(local.action, rec->action, sizeof(local.action));
	strlcpy(local.org, rec->org ? rec->org : "", sizeof(local.org));
	strlcpy(local.model, rec->model ? rec->model : "", sizeof(local.model));
	strlcpy(local.label, rec->label ? rec->label : "", sizeof(local.label));
	strlcpy(local.reason, rec->reason ? rec->reason : "", sizeof(local.reason));
	local.has_batch = rec->has_batch;
	local.batch_id = rec->batch_id;
	return audit_relay_record(&local, true, &id, &why);
}

/*
 * Queue a record without waiting for it, for a backend that is exiting
 * (the end of its access session).  Nothing here may raise an error or
 * touch the catalogs, so the role and address come from the caller and
 * the login from this backend's earlier records; the slot is marked
 * abandoned so the writer frees it once written.  Returns false when the
 * record could not even be queued.
 */
bool
ms_audit_enqueue_at_exit(const AuditRecord *rec, const char *role,
						 const char *client_addr)
{
	AuditSlot  *slot = NULL;
	Latch	   *wake = NULL;
	bool		need_start = false;
	bool		db_full;

	if (!audit_preloaded || audit_shared == NULL || !IsUnderPostmaster ||
		LWLockHeldByMe(audit_shared->lock))
		return false;

	/*
	 * On a standby, through the connection this backend's earlier records
	 * used, if it is still open (nothing else can be done without the
	 * catalogs).
	 */
	if (RecoveryInProgress())
		return enqueue_relayed_at_exit(rec, role, client_addr);

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	slot = free_slot_for(MyDatabaseId, &db_full);
	if (slot == NULL)
	{
		LWLockRelease(audit_shared->lock);
		return false;
	}
	memset(slot, 0, sizeof(*slot));
	slot->at = rec->at ? rec->at : GetCurrentTimestamp();
	slot->pid = MyProcPid;
	strlcpy(slot->role, role, sizeof(slot->role));
	if (OidIsValid(cached_login_id) && cached_login_id == GetSessionUserId())
		strlcpy(slot->login, cached_login, sizeof(slot->login));
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

	/* on failure a STARTING entry is retried by the next request */
	if (!writer_for_my_db(&wake, &need_start))
		need_start = false;
	LWLockRelease(audit_shared->lock);

	if (need_start)
		(void) audit_register_writer(MyDatabaseId);
	if (wake)
		SetLatch(wake);
	return true;
}

/* ERROR unless action is lower-case words joined by underscores */
void
audit_check_action(const char *action)
{
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
	audit_check_action(action);

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
