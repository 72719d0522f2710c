/*
 * audit_relay.c
 *		Audited actions on a hot standby: their records are written by the
 *		primary's audit writer, through a connection to the primary, before
 *		the action goes on; and ms._audit_relay(), the primary's side.
 *
 * A standby cannot write its own log (it is read-only, and its log is the
 * primary's, replayed), yet data scientists are the users most often sent
 * to a replica.  So a backend on a standby sends each record to the
 * primary named by machinesoup.audit_primary_conninfo and waits for the
 * id of the committed row, as it waits for its own writer on a primary:
 * the record is durable, in the one chain the customer's report covers,
 * before any byte is returned.  Without that setting, or when the primary
 * cannot be reached in machinesoup.audit_timeout, the action is refused
 * at once with a message that says so.
 *
 * The primary takes the record through ms._audit_relay(), which only the
 * role the setting connects as should be granted (README.md, "Read
 * replicas"): that role vouches for the records it relays, which name the
 * role acting and the login on the standby, and carry the standby's
 * cluster_name in their reason.  The connection is made once per backend
 * and kept; the waits honour interrupts and the same deadline as a local
 * record.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "audit_internal.h"

PG_FUNCTION_INFO_V1(ms_audit_relay);

char	   *audit_primary_conninfo = NULL;

/* this backend's connection to the primary, kept between records */
static PGconn *relay_conn = NULL;
static bool relay_exit_registered = false;

#define RELAY_NPARAMS 12

static void
relay_close(int code, Datum arg)
{
	if (relay_conn != NULL)
	{
		PQfinish(relay_conn);
		relay_conn = NULL;
	}
}

/*
 * Wait until the socket of relay_conn is ready as wanted or the deadline
 * passes; false on timeout.  Interrupts are served (an ERROR may leave
 * relay_conn half used: the caller's PG_CATCH drops it).
 */
static bool
relay_wait(int wanted, TimestampTz deadline)
{
	long		remaining;
	int			rc;

	remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
	if (remaining <= 0)
		return false;
	rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | wanted,
						   PQsocket(relay_conn), remaining, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		if (!proc_exit_inprogress)
			CHECK_FOR_INTERRUPTS();
	}
	return true;
}

/*
 * Connect to the primary (or keep the connection made before); false with
 * *why set when it cannot be done by the deadline.
 */
static bool
relay_connect(TimestampTz deadline, bool reuse_only, const char **why)
{
	const char *keys[4];
	const char *values[4];
	char		appname[NAMEDATALEN];
	char	   *dbname;

	if (relay_conn != NULL && PQstatus(relay_conn) == CONNECTION_OK)
		return true;
	if (relay_conn != NULL)
	{
		PQfinish(relay_conn);
		relay_conn = NULL;
	}
	if (reuse_only)
	{
		*why = "no connection to the primary";
		return false;
	}
	if (!relay_exit_registered)
	{
		on_proc_exit(relay_close, (Datum) 0);
		relay_exit_registered = true;
	}

	/*
	 * The first dbname is the setting, expanded as a connection string; the
	 * second names this database, whatever the setting says: a record goes
	 * to the log of the database it is about.
	 */
	dbname = get_database_name(MyDatabaseId);
	snprintf(appname, sizeof(appname), "machinesoup audit relay%s%s",
			 cluster_name[0] ? " from " : "", cluster_name);
	keys[0] = "dbname";
	values[0] = audit_primary_conninfo;
	keys[1] = "dbname";
	values[1] = dbname ? dbname : "postgres";
	keys[2] = "application_name";
	values[2] = appname;
	keys[3] = NULL;
	values[3] = NULL;

	relay_conn = PQconnectStartParams(keys, values, 1);
	if (relay_conn == NULL)
	{
		*why = "out of memory";
		return false;
	}
	for (;;)
	{
		PostgresPollingStatusType st;

		if (PQstatus(relay_conn) == CONNECTION_BAD)
			break;
		st = PQconnectPoll(relay_conn);
		if (st == PGRES_POLLING_OK)
			return true;
		if (st == PGRES_POLLING_FAILED)
			break;
		if (!relay_wait(st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
						deadline))
		{
			*why = "timed out connecting to the primary";
			PQfinish(relay_conn);
			relay_conn = NULL;
			return false;
		}
	}
	*why = pstrdup(PQerrorMessage(relay_conn));
	PQfinish(relay_conn);
	relay_conn = NULL;
	return false;
}

/*
 * Send *slot to the primary and wait for the id of its committed row.
 * Raises no ERROR of its own (interrupts aside): false with *why set when
 * the record was not written, for ms_audit_write to refuse the action and
 * for a backend exiting to give up quietly.  reuse_only (a backend
 * exiting, which must not read the catalogs) uses only a connection made
 * before.
 */
bool
audit_relay_record(const AuditSlot *slot, bool reuse_only, int64 *id, const char **why)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_timeout_ms);
	const char *values[RELAY_NPARAMS];
	char		at[32];
	char		pid[16];
	char		batch[24];
	PGresult   *res;
	PGresult   *last = NULL;
	bool		ok = false;

	*why = NULL;
	if (audit_primary_conninfo == NULL || audit_primary_conninfo[0] == '\0')
	{
		*why = "machinesoup.audit_primary_conninfo is not set";
		return false;
	}
	if (!relay_connect(deadline, reuse_only, why))
		return false;

	snprintf(at, sizeof(at), INT64_FORMAT, (int64) slot->at);
	snprintf(pid, sizeof(pid), "%d", slot->pid);
	snprintf(batch, sizeof(batch), INT64_FORMAT, slot->batch_id);
	values[0] = at;
	values[1] = slot->role;
	values[2] = slot->login[0] ? slot->login : NULL;
	values[3] = pid;
	values[4] = slot->client_addr[0] ? slot->client_addr : NULL;
	values[5] = slot->action;
	values[6] = slot->org[0] ? slot->org : NULL;
	values[7] = slot->model[0] ? slot->model : NULL;
	values[8] = slot->label[0] ? slot->label : NULL;
	values[9] = slot->has_batch ? batch : NULL;
	values[10] = slot->reason[0] ? slot->reason : NULL;
	values[11] = cluster_name;

	if (!PQsendQueryParams(relay_conn,
						   "SELECT ms._audit_relay($1::pg_catalog.int8, $2, $3, $4::pg_catalog.int4, "
						   "$5, $6, $7, $8, $9, $10::pg_catalog.int8, $11, $12)",
						   RELAY_NPARAMS, NULL, values, NULL, NULL, 0))
	{
		*why = pstrdup(PQerrorMessage(relay_conn));
		goto drop;
	}
	for (;;)
	{
		if (!PQconsumeInput(relay_conn))
		{
			*why = pstrdup(PQerrorMessage(relay_conn));
			goto drop;
		}
		if (PQisBusy(relay_conn))
		{
			if (!relay_wait(WL_SOCKET_READABLE, deadline))
			{
				*why = "timed out waiting for the primary";
				goto drop;
			}
			continue;
		}
		res = PQgetResult(relay_conn);
		if (res == NULL)
			break;
		if (last)
			PQclear(last);
		last = res;
	}
	if (last && PQresultStatus(last) == PGRES_TUPLES_OK && PQntuples(last) == 1 &&
		!PQgetisnull(last, 0, 0))
	{
		*id = strtoi64(PQgetvalue(last, 0, 0), NULL, 10);
		ok = true;
	}
	else
		*why = last ? pstrdup(PQresultErrorMessage(last)) : "no answer from the primary";
	if (last)
		PQclear(last);
	return ok;

drop:
	/* a connection in an unknown state is not reused */
	if (last)
		PQclear(last);
	PQfinish(relay_conn);
	relay_conn = NULL;
	return false;
}

/*
 * A standby's record through the primary, for ms_audit_write: the row id,
 * or an ERROR that refuses the action.  A query cancel or a lost
 * connection while waiting drops the connection, never half of a record.
 */
int64
audit_relay_or_refuse(const AuditSlot *slot)
{
	int64		id = 0;
	const char *why = NULL;
	bool		ok = false;

	PG_TRY();
	{
		ok = audit_relay_record(slot, false, &id, &why);
	}
	PG_CATCH();
	{
		relay_close(0, (Datum) 0);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!ok && (audit_primary_conninfo == NULL || audit_primary_conninfo[0] == '\0'))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audited actions on a standby need machinesoup.audit_primary_conninfo"),
				 errdetail("A standby cannot write the audit log; its records are written by the primary. The audited action was refused."),
				 errhint("Set machinesoup.audit_primary_conninfo on the standby to a connection to the primary as a role granted EXECUTE on ms._audit_relay.")));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("audit record could not be written on the primary: %s",
						why ? why : "unknown error"),
				 errdetail("On a standby every audit record is written by the primary before the action goes on. The audited action was refused.")));
	return id;
}

/* a text argument of ms._audit_relay, NULL as NULL */
static const char *
relay_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * ms._audit_relay(at_us bigint, role text, login text, pid integer,
 *				   client_addr text, action text, org text, model text,
 *				   label text, batch_id bigint, reason text, standby text)
 *		→ bigint
 *
 * On the primary: writes a standby's record through this database's
 * writer and returns its id once committed.  EXECUTE is granted to no one
 * by the extension.
 */
Datum
ms_audit_relay(PG_FUNCTION_ARGS)
{
	AuditRecord rec;
	const char *role;
	const char *standby;
	const char *reason;
	StringInfoData r;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relayed audit records need a time, a role, a pid and an action")));
	audit_check_action(relay_arg(fcinfo, 5));
	role = relay_arg(fcinfo, 1);
	if (!OidIsValid(get_role_oid(role, true)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" of a relayed audit record does not exist", role)));

	/* the standby's name goes into the reason, where a report shows it */
	standby = relay_arg(fcinfo, 11);
	reason = relay_arg(fcinfo, 10);
	initStringInfo(&r);
	if (reason)
		appendStringInfo(&r, "%s ", reason);
	appendStringInfo(&r, "(on standby%s%s%s)",
					 standby && standby[0] ? " \"" : "", standby ? standby : "",
					 standby && standby[0] ? "\"" : "");
	if (r.len > AUDIT_REASON_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("audit reason is too long")));

	memset(&rec, 0, sizeof(rec));
	rec.at = (TimestampTz) PG_GETARG_INT64(0);
	rec.action = relay_arg(fcinfo, 5);
	rec.org = relay_arg(fcinfo, 6);
	rec.model = relay_arg(fcinfo, 7);
	rec.label = relay_arg(fcinfo, 8);
	rec.has_batch = !PG_ARGISNULL(9);
	rec.batch_id = rec.has_batch ? PG_GETARG_INT64(9) : 0;
	rec.reason = r.data;
	PG_RETURN_INT64(ms_audit_write_relayed(&rec, role, relay_arg(fcinfo, 2),
										   PG_GETARG_INT32(3), relay_arg(fcinfo, 4)));
}

void
ms_audit_define_relay_setting(void)
{
	DefineCustomStringVariable("machinesoup.audit_primary_conninfo",
							   "Connection to the primary that writes a standby's audit records.",
							   "On a hot standby, audited actions are refused unless this is set.",
							   &audit_primary_conninfo,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}
