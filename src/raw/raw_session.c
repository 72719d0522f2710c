/*
 * raw_session.c
 *		Audited access sessions to raw batches: ms.open_access,
 *		ms.read_batch, ms.close_access and ms.access_session, idle expiry,
 *		and the end of a session when its connection's role changes or the
 *		connection ends.  Who may open one, and from where, is raw_access.c's.
 *
 * A session belongs to one backend (the "session pid" of the audit
 * records), to one (org, model) and optionally one label of it, and to the
 * role that opened it (the caller, ms_current_caller(), at ms.open_access).
 * It is kept in backend memory, so it is not transactional: the audit
 * record of its opening is durable whatever the transaction does, and so
 * is the session.  Expiry is noticed on the next use (read, open, close or
 * ms.access_session), which then writes the expiry record stamped with the
 * moment the session actually expired; ms.access_session shows the session
 * as "expired" from then until it is closed or another is opened.
 *
 * Only its owner may use a session: a call from another role's code (a
 * SECURITY DEFINER function, an index expression) finds no session.  The
 * session ends, with a close record in its owner's name, when the role of
 * the connection changes: SET ROLE, RESET ROLE, SET SESSION AUTHORIZATION
 * and DISCARD ALL are seen as they run (ProcessUtility_hook); a change that
 * bypasses them (set_config('role', ...), a function's SET role) is noticed
 * on the next call.  A session also belongs to the extension it was opened
 * under: once machinesoup is dropped it is gone, with no record (its log
 * went with it), even if the DROP is then rolled back.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "caller.h"
#include "governance.h"
#include "raw_store.h"

PG_FUNCTION_INFO_V1(ms_open_access);
PG_FUNCTION_INFO_V1(ms_close_access);
PG_FUNCTION_INFO_V1(ms_read_batch);
PG_FUNCTION_INFO_V1(ms_access_session);

typedef enum SessionState
{
	SESSION_NONE,
	SESSION_OPEN,
	SESSION_EXPIRED				/* expiry recorded; shown until closed */
} SessionState;

/* the backend's access session */
typedef struct AccessSession
{
	SessionState state;
	Oid			owner;			/* the caller that opened it */
	Oid			extension;		/* OID of machinesoup's pg_extension row then */
	char		org[64];
	char		model[64];
	bool		has_label;		/* else the whole model */
	char		label[64];
	char		reason[AUDIT_REASON_MAX + 1];
	TimestampTz opened_at;
	TimestampTz last_use;
	/* for the record written when the connection ends: no catalog then */
	char		role[NAMEDATALEN];
	char		client_addr[64];
} AccessSession;

static AccessSession session;
static bool exit_hook_registered = false;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* ---------------------------------------------------------------------
 * The session and its end
 * ---------------------------------------------------------------------
 */

/* the session's label, NULL for the whole model */
static const char *
session_label(void)
{
	return session.has_label ? session.label : NULL;
}

/* a record of the open session's org, model and reason */
static void
audit_session(const char *action, TimestampTz at, bool has_batch, int64 batch_id,
			  const char *label)
{
	ms_raw_audit_access(action, session.org, session.model, label, session.reason,
						at, has_batch, batch_id);
}

/* when the open session expires, or expired, unless used again */
static TimestampTz
session_expiry(void)
{
	return TimestampTzPlusMilliseconds(session.last_use, (int64) ms_access_idle_timeout_s * 1000);
}

/*
 * If the session has been idle too long, record its expiry (durably) and
 * mark it expired; returns true when that happened.  Should the record
 * fail, the session stays as it was, and the next use tries again.
 */
static bool
expire_if_idle(void)
{
	TimestampTz expiry;

	if (session.state != SESSION_OPEN)
		return false;
	expiry = session_expiry();
	if (GetCurrentTimestamp() <= expiry)
		return false;
	audit_session("expire_access", expiry, false, 0, session_label());
	session.state = SESSION_EXPIRED;
	return true;
}

/* Does the caller own the session (open or expired)? */
static bool
session_is_callers(void)
{
	return session.state != SESSION_NONE && session.owner == ms_current_caller();
}

/* Is the extension the session was opened under still the installed one? */
static bool
session_extension_alive(void)
{
	return get_extension_oid("machinesoup", true) == session.extension;
}

/*
 * Write a record of the session in its owner's name, whichever call
 * noticed that it ended: the report shows the session's own role, not the
 * one that came after it.  If the owner has been dropped since, the record
 * is in the current caller's name.
 */
static void
audit_session_as_owner(const char *action, TimestampTz at)
{
	Oid			save_userid;
	int			save_sec_context;
	MsCallerFrame frame;

	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(session.owner)))
	{
		audit_session(action, at, false, 0, session_label());
		return;
	}
	/* an error (also in ms_enter) restores the user with the transaction */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(session.owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ms_enter(&frame);
	PG_TRY();
	{
		audit_session(action, at, false, 0, session_label());
	}
	PG_FINALLY();
	{
		ms_leave(&frame);
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * End the session for good: record its close (or its expiry, if it had
 * expired unnoticed) in its owner's name, then forget it.  The caller has
 * checked that the extension is still the session's.
 */
static void
session_end(void)
{
	if (session.state == SESSION_OPEN)
	{
		TimestampTz expiry = session_expiry();

		if (GetCurrentTimestamp() > expiry)
			audit_session_as_owner("expire_access", expiry);
		else
			audit_session_as_owner("close_access", 0);
	}
	session.state = SESSION_NONE;
}

/*
 * Bring the session up to date with the connection, at the start of each
 * call of the access functions and after statements that may have changed
 * it: forget the session if its extension has been dropped, and end it if
 * the role in effect at the connection's level is no longer its owner.
 * That role is GetUserId() outside SECURITY DEFINER functions and
 * security-restricted operations; inside one, the caller is that code's
 * own role, which finds no session but does not end its owner's.
 */
static void
session_settle(void)
{
	Oid			userid;
	int			sec_context;

	if (session.state == SESSION_NONE)
		return;
	if (!session_extension_alive())
	{
		session.state = SESSION_NONE;
		return;
	}
	GetUserIdAndSecContext(&userid, &sec_context);
	if (userid != session.owner && (sec_context & SECURITY_LOCAL_USERID_CHANGE) == 0)
		session_end();
}

/*
 * Statements that end the session as they run: a change of the
 * connection's role (SET and RESET of role and session_authorization,
 * RESET ALL), DISCARD ALL (a pooler handing the connection to its next
 * client), and drops that may take the extension along.  Each acts once
 * the statement itself has succeeded; if the close record then cannot be
 * written, the statement fails and is undone, the session with it.
 */
static void
session_utility_hook(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (session.state == SESSION_NONE || !IsTransactionState())
		return;
	switch (nodeTag(parsetree))
	{
		case T_DiscardStmt:
			if (((DiscardStmt *) parsetree)->target != DISCARD_ALL)
				break;
			if (session_extension_alive())
				session_end();
			session.state = SESSION_NONE;
			break;
		case T_VariableSetStmt:
		case T_DropStmt:
		case T_DropOwnedStmt:
			session_settle();
			break;
		default:
			break;
	}
}

/*
 * A session open when its connection ends is closed by that: queue its
 * close (or expiry) record.  The backend cannot wait for it any more, and
 * a kill -9 skips this altogether, so the report may show a session
 * without an end; its reads are all recorded regardless.
 */
static void
session_at_exit(int code, Datum arg)
{
	AuditRecord rec;
	TimestampTz expiry;

	if (session.state != SESSION_OPEN)
		return;
	session.state = SESSION_NONE;
	expiry = session_expiry();
	memset(&rec, 0, sizeof(rec));
	rec.org = session.org;
	rec.model = session.model;
	rec.label = session_label();
	rec.reason = session.reason;
	if (GetCurrentTimestamp() > expiry)
	{
		rec.action = "expire_access";
		rec.at = expiry;
	}
	else
		rec.action = "close_access";
	(void) ms_audit_enqueue_at_exit(&rec, session.role, session.client_addr);
}

/* Follow the connection's role changes (called once, from ms_raw_init). */
void
ms_raw_session_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = session_utility_hook;
}

/* ---------------------------------------------------------------------
 * The entry points
 * ---------------------------------------------------------------------
 */

/* Argument n as a C string; raises, naming it what, if it is NULL. */
static char *
text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * Raises unless reason says something and fits in an audit record: it goes
 * into the customer's access report.
 */
void
ms_raw_check_reason(const char *reason)
{
	bool		blank = true;

	for (const char *p = reason; *p; p++)
		if (!isspace((unsigned char) *p))
			blank = false;
	if (blank)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a reason is required to open a raw data access session"),
				 errhint("Say why the raw data is needed, e.g. a ticket number; it goes into the customer's access report.")));
	if (strlen(reason) > AUDIT_REASON_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("reason is too long"),
				 errdetail("At most %d bytes are kept.", AUDIT_REASON_MAX)));
}

/*
 * ms.open_access(org text, model text, reason text, label text DEFAULT NULL)
 * → void.  Label NULL opens the session on every label of the model.
 */
static Datum
open_access_as_owner(PG_FUNCTION_ARGS)
{
	char	   *org = text_arg(fcinfo, 0, "org");
	char	   *model = text_arg(fcinfo, 1, "model");
	char	   *reason = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	/* the 0.3.0 declaration has no label argument */
	char	   *label = (PG_NARGS() > 3 && !PG_ARGISNULL(3)) ?
		text_to_cstring(PG_GETARG_TEXT_PP(3)) : NULL;

	/*
	 * Malformed names are bad input, not an access attempt to record: the
	 * error of any other entry point for them, before anything is audited.
	 */
	ms_check_names(org, model, label);
	ms_raw_check_reason(reason);
	ms_audit_require();
	ms_raw_require_access(org, model, label, reason, "refuse_access", false, 0);

	/* one session per backend: a new one ends the previous */
	if (session.state == SESSION_OPEN)
		session_end();
	session.state = SESSION_NONE;

	strlcpy(session.org, org, sizeof(session.org));
	strlcpy(session.model, model, sizeof(session.model));
	session.has_label = (label != NULL);
	strlcpy(session.label, label ? label : "", sizeof(session.label));
	strlcpy(session.reason, reason, sizeof(session.reason));
	session.owner = ms_current_caller();
	session.extension = get_extension_oid("machinesoup", false);
	strlcpy(session.role, GetUserNameFromId(session.owner, false), sizeof(session.role));
	ms_client_address(session.client_addr, sizeof(session.client_addr));
	audit_session("open_access", 0, false, 0, session_label());
	if (!exit_hook_registered)
	{
		before_shmem_exit(session_at_exit, (Datum) 0);
		exit_hook_registered = true;
	}
	session.state = SESSION_OPEN;
	session.opened_at = session.last_use = GetCurrentTimestamp();
	PG_RETURN_VOID();
}

/* ms.close_access() → void */
static Datum
close_access_as_owner(PG_FUNCTION_ARGS)
{
	ms_audit_require();
	if (!session_is_callers())
	{
		ereport(NOTICE,
				(errmsg("no raw data access session is open")));
		PG_RETURN_VOID();
	}
	(void) expire_if_idle();
	if (session.state == SESSION_EXPIRED)
	{
		session.state = SESSION_NONE;
		ereport(NOTICE,
				(errmsg("the access session had already expired")));
		PG_RETURN_VOID();
	}
	audit_session("close_access", 0, false, 0, session_label());
	session.state = SESSION_NONE;
	PG_RETURN_VOID();
}

/*
 * Raises unless the caller has a live session that may still read: its
 * own, not expired (an expiry noticed now is recorded first, and stays
 * recorded), its raw_read not revoked since (a refusal is recorded as
 * refuse_read of batch_id).
 */
static void
require_live_session(int64 batch_id)
{
	/* another role's code has no session here, and leaves its owner's be */
	if (!session_is_callers())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no raw data access session is open"),
				 errhint("Open one with ms.open_access(org, model, reason).")));
	(void) expire_if_idle();
	if (session.state == SESSION_EXPIRED)
	{
		/* the expiry record is committed; this error does not undo it */
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the raw data access session has expired"),
				 errdetail("It was idle for more than machinesoup.access_idle_timeout (%d s).",
						   ms_access_idle_timeout_s),
				 errhint("Open a new one with ms.open_access(org, model, reason).")));
	}
	/* a grant revoked during the session ends its reach */
	ms_raw_require_access(session.org, session.model, session_label(), session.reason,
						  "refuse_read", true, batch_id);
}

/*
 * The refusal of a read whose batch the session's model (and label, when
 * it has one) does not hold: one answer for another org's, model's or
 * label's batch and for none, connection or token session alike.
 */
void
ms_raw_batch_not_in_session(int64 batch_id, const char *org, const char *model,
							const char *label)
{
	if (label != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("batch " INT64_FORMAT " is not in the access session's label \"%s\" of model \"%s/%s\"",
						batch_id, label, org, model)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("batch " INT64_FORMAT " is not in the access session's model \"%s/%s\"",
					batch_id, org, model)));
}

/*
 * The stored frame of batch batch_id, with its label and raw size, copied
 * into the caller's memory context; NULL when the batch is not in org,
 * model (and label, unless NULL).  Only such a batch is ever fetched:
 * another's frame is not detoasted, nor its size or existence told.
 */
bytea *
ms_raw_fetch_batch(int64 batch_id, const char *org, const char *model, const char *want_label,
				   char **label, int64 *raw_bytes)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', want_label ? ' ' : 'n'};
	int			ret;
	bool		isnull;
	bytea	   *frame = NULL;
	MemoryContext callerctx = CurrentMemoryContext;

	args[0] = Int64GetDatum(batch_id);
	args[1] = CStringGetTextDatum(org);
	args[2] = CStringGetTextDatum(model);
	args[3] = want_label ? CStringGetTextDatum(want_label) : (Datum) 0;
	SPI_connect();
	ret = SPI_execute_with_args("SELECT label, raw_bytes, frame FROM ms.raw_batches "
								"WHERE batch_id OPERATOR(pg_catalog.=) $1 "
								"AND org OPERATOR(pg_catalog.=) $2 "
								"AND model OPERATOR(pg_catalog.=) $3 "
								"AND ($4 IS NULL OR label OPERATOR(pg_catalog.=) $4)",
								4, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up raw batch: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		MemoryContext spictx = MemoryContextSwitchTo(callerctx);

		*label = SPI_getvalue(tup, td, 1);
		*raw_bytes = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		/* detoasted into the caller's context, outliving SPI */
		frame = DatumGetByteaPCopy(SPI_getbinval(tup, td, 3, &isnull));
		MemoryContextSwitchTo(spictx);
	}
	SPI_finish();
	return frame;
}

/* ms_raw_fetch_batch of the session's org, model (and label) */
static bytea *
fetch_session_batch(int64 batch_id, char **label, int64 *raw_bytes)
{
	return ms_raw_fetch_batch(batch_id, session.org, session.model, session_label(),
							  label, raw_bytes);
}

/* ms.read_batch(batch_id bigint) → bytea */
static Datum
read_batch_as_owner(PG_FUNCTION_ARGS)
{
	int64		batch_id = PG_GETARG_INT64(0);
	char	   *label = NULL;
	int64		raw_bytes = 0;
	bytea	   *frame;
	bytea	   *result;

	ms_audit_require();
	require_live_session(batch_id);
	frame = fetch_session_batch(batch_id, &label, &raw_bytes);

	/* the same answer for another org's, model's or label's batch and none */
	if (frame == NULL)
	{
		audit_session("refuse_read", 0, true, batch_id, session_label());
		ms_raw_batch_not_in_session(batch_id, session.org, session.model, session_label());
	}

	/* the record is committed before any byte leaves */
	audit_session("read_batch", 0, true, batch_id, label);
	session.last_use = GetCurrentTimestamp();

	result = ms_raw_decode(frame, raw_bytes, batch_id);
	pfree(frame);
	PG_RETURN_BYTEA_P(result);
}

/*
 * ms.access_session() → (org, model, label, reason, opened_at, expires_at,
 * state): the caller's session on this connection.  state is "open", or
 * "expired" (expires_at is then in the past) from the moment its expiry is
 * noticed until it is closed or another is opened.  label NULL: the whole
 * model.  All NULL when the caller has no session here.
 */
static Datum
access_session_as_owner(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!session_is_callers())
		PG_RETURN_NULL();
	(void) expire_if_idle();
	if (tupdesc->natts == 5)
	{
		/* the declaration of 0.3.0 and before, until the update */
		if (session.state != SESSION_OPEN)
			PG_RETURN_NULL();
		values[0] = CStringGetTextDatum(session.org);
		values[1] = CStringGetTextDatum(session.model);
		values[2] = CStringGetTextDatum(session.reason);
		values[3] = TimestampTzGetDatum(session.opened_at);
		values[4] = TimestampTzGetDatum(session_expiry());
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
	}
	if (tupdesc->natts != 7)
		elog(ERROR, "ms.access_session() must return 7 columns");
	values[0] = CStringGetTextDatum(session.org);
	values[1] = CStringGetTextDatum(session.model);
	if (session.has_label)
		values[2] = CStringGetTextDatum(session.label);
	else
		nulls[2] = true;
	values[3] = CStringGetTextDatum(session.reason);
	values[4] = TimestampTzGetDatum(session.opened_at);
	values[5] = TimestampTzGetDatum(session_expiry());
	values[6] = CStringGetTextDatum(session.state == SESSION_OPEN ? "open" : "expired");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * The entry points: invoker-rights functions that capture the caller and
 * do their work as the extension's owner (caller.c), after settling the
 * session with the connection's current role.
 */
Datum
ms_open_access(PG_FUNCTION_ARGS)
{
	session_settle();
	return ms_call_as_owner(open_access_as_owner, fcinfo);
}

Datum
ms_close_access(PG_FUNCTION_ARGS)
{
	session_settle();
	return ms_call_as_owner(close_access_as_owner, fcinfo);
}

Datum
ms_read_batch(PG_FUNCTION_ARGS)
{
	session_settle();
	return ms_call_as_owner(read_batch_as_owner, fcinfo);
}

Datum
ms_access_session(PG_FUNCTION_ARGS)
{
	session_settle();
	return ms_call_as_owner(access_session_as_owner, fcinfo);
}
