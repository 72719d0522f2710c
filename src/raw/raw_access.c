/*
 * raw_access.c
 *		Audited access sessions to raw batches: ms.open_access,
 *		ms.read_batch, ms.close_access, idle expiry, and the client network
 *		check; plus the settings of the raw store.
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
 *
 * machinesoup.raw_access_networks lists CIDRs (IPv4 or IPv6, comma or
 * space separated) from which raw access is allowed; empty allows every
 * client.  Unix-socket connections have no address: they are allowed only
 * when the list contains the word "local" (or the list is empty).
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "storage/ipc.h"
#include "funcapi.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/resowner.h"
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
PG_FUNCTION_INFO_V1(ms_require_raw_network);

/* settings */
char	   *ms_processor_role = NULL;
int			ms_raw_compression_level = 0;
static int	access_idle_timeout_s = 900;
static char *raw_access_networks = NULL;

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

static void session_utility_hook(PlannedStmt *pstmt, const char *queryString,
								 bool readOnlyTree, ProcessUtilityContext context,
								 ParamListInfo params, QueryEnvironment *queryEnv,
								 DestReceiver *dest, QueryCompletion *qc);

/* ---------------------------------------------------------------------
 * Client networks
 * ---------------------------------------------------------------------
 */

typedef struct NetEntry
{
	bool		local;			/* the word "local": Unix sockets */
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int			bits;
} NetEntry;

/* Parse one entry; false if malformed. */
static bool
parse_net(const char *tok, NetEntry *e)
{
	char		buf[128];
	char	   *slash;
	int			maxbits;

	memset(e, 0, sizeof(*e));
	if (pg_strcasecmp(tok, "local") == 0)
	{
		e->local = true;
		return true;
	}
	if (strlen(tok) >= sizeof(buf))
		return false;
	strcpy(buf, tok);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, e->addr) == 1)
	{
		e->family = AF_INET;
		maxbits = 32;
	}
	else if (inet_pton(AF_INET6, buf, e->addr) == 1)
	{
		e->family = AF_INET6;
		maxbits = 128;
	}
	else
		return false;
	e->bits = maxbits;
	if (slash)
	{
		char	   *end;
		long		b;

		if (!isdigit((unsigned char) slash[1]))
			return false;
		b = strtol(slash + 1, &end, 10);
		if (*end != '\0' || b < 0 || b > maxbits)
			return false;
		e->bits = (int) b;
	}
	return true;
}

static bool
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int			bytes = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest)
	{
		unsigned char mask = (unsigned char) (0xFF << (8 - rest));

		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return true;
}

/* iterate over the entries of a list; returns false at the end */
static bool
next_token(const char **p, char *tok, size_t cap)
{
	const char *s = *p;
	size_t		n = 0;

	while (*s && (*s == ',' || isspace((unsigned char) *s)))
		s++;
	if (*s == '\0')
		return false;
	while (*s && *s != ',' && !isspace((unsigned char) *s))
	{
		if (n + 1 < cap)
			tok[n++] = *s;
		s++;
	}
	tok[n] = '\0';
	*p = s;
	return true;
}

static bool
check_networks(char **newval, void **extra, GucSource source)
{
	const char *p = *newval ? *newval : "";
	char		tok[256];

	while (next_token(&p, tok, sizeof(tok)))
	{
		NetEntry	e;

		if (!parse_net(tok, &e))
		{
			GUC_check_errdetail("\"%s\" is neither a CIDR (like 10.0.0.0/8 or fd00::/8) nor \"local\".", tok);
			return false;
		}
	}
	return true;
}

/* Is the client allowed raw access by machinesoup.raw_access_networks? */
static bool
client_allowed(char *addrbuf, size_t cap)
{
	const char *p = raw_access_networks ? raw_access_networks : "";
	char		tok[256];
	unsigned char caddr[16];
	int			cfamily = 0;
	bool		any = false;

	ms_client_address(addrbuf, cap);
	if (addrbuf[0])
	{
		if (inet_pton(AF_INET, addrbuf, caddr) == 1)
			cfamily = AF_INET;
		else if (inet_pton(AF_INET6, addrbuf, caddr) == 1)
		{
			static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

			cfamily = AF_INET6;
			/* ::ffff:a.b.c.d is an IPv4 client */
			if (memcmp(caddr, v4mapped, 12) == 0)
			{
				memmove(caddr, caddr + 12, 4);
				cfamily = AF_INET;
			}
		}
	}

	while (next_token(&p, tok, sizeof(tok)))
	{
		NetEntry	e;

		any = true;
		if (!parse_net(tok, &e))
			continue;
		if (e.local)
		{
			if (cfamily == 0)
				return true;
		}
		else if (cfamily == e.family && prefix_match(caddr, e.addr, e.bits))
			return true;
	}
	return !any;
}

static void
require_network(void)
{
	char		addr[64];

	if (!client_allowed(addr, sizeof(addr)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("raw data access is not allowed from %s",
						addr[0] ? addr : "a local (Unix-socket) connection"),
				 errdetail("The client address is outside machinesoup.raw_access_networks.")));
}

/* ms._require_raw_network(): the network check, for replay through user code */
Datum
ms_require_raw_network(PG_FUNCTION_ARGS)
{
	require_network();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Settings
 * ---------------------------------------------------------------------
 */

void
ms_raw_init(void)
{
	DefineCustomIntVariable("machinesoup.access_idle_timeout",
							"Idle time after which a raw-data access session expires.",
							NULL,
							&access_idle_timeout_s,
							900, 1, INT_MAX / 1000,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("machinesoup.raw_access_networks",
							   "Client networks (CIDRs, and \"local\" for Unix sockets) allowed raw-data access.",
							   "Empty allows every client.",
							   &raw_access_networks,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_networks, NULL, NULL);
	DefineCustomStringVariable("machinesoup.processor_role",
							   "Role that user processors run as.",
							   "It should hold no table privileges; it needs EXECUTE on the processors and USAGE on their schemas.",
							   &ms_processor_role,
							   "machinesoup_processor",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.raw_compression_level",
							"LZ4 high-compression level for compressible raw batches (0: fast LZ4 only).",
							"Batches that the fast level shrinks by at least 10 % are compressed again at this level (3-12).",
							&ms_raw_compression_level,
							3, 0, 12,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = session_utility_hook;
}

/* ---------------------------------------------------------------------
 * Sessions
 * ---------------------------------------------------------------------
 */

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
 * Raises unless the caller may read the raw batches of (org, model, label):
 * label NULL is the whole model (ms._require_raw_read).  Until ALTER
 * EXTENSION UPDATE has run, an older script's objects are installed
 * (without that function, and ms.open_access without a label): their
 * check is the one they were written with.
 */
static void
require_raw_read(const char *org, const char *model, const char *label)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', label ? ' ' : 'n'};
	int			ret;
	bool		updated;

	updated = OidIsValid(LookupFuncName(list_make2(makeString("ms"),
												   makeString("_require_raw_read")),
										3, argtypes, true));
	args[0] = CStringGetTextDatum(org);
	args[1] = CStringGetTextDatum(model);
	args[2] = label ? CStringGetTextDatum(label) : (Datum) 0;
	SPI_connect();
	ret = SPI_execute_with_args(updated ?
								"SELECT ms._require_raw_read($1, $2, $3)" :
								"SELECT 1 FROM ms._resolve($1, $2, $3, 'raw_read', false, 'read raw data of')",
								3, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "privilege check failed: %d", ret);
	SPI_finish();
}

/*
 * One audit record of raw access.  Refusals are recorded too: a customer's
 * report should show who tried to reach its raw data and was turned away
 * (from an unlisted network, or without raw_read), not only who succeeded.
 * The record is committed by the audit writer, so an error that follows
 * does not undo it.
 */
static void
audit_raw_access(const char *action, const char *org, const char *model,
				 const char *label, const char *reason, TimestampTz at,
				 bool has_batch, int64 batch_id)
{
	AuditRecord rec;

	memset(&rec, 0, sizeof(rec));
	rec.action = action;
	rec.org = org;
	rec.model = model;
	rec.label = label;
	rec.reason = reason;
	rec.at = at;
	rec.has_batch = has_batch;
	rec.batch_id = batch_id;
	ms_audit_write(&rec);
}

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
	audit_raw_access(action, session.org, session.model, label, session.reason,
					 at, has_batch, batch_id);
}

/*
 * Does the caller hold any grant in org (or may it do everything)?  A
 * refusal of a caller that does not keeps none of its own text in that
 * org's report: no reason, and the model only if it exists.
 */
static bool
caller_known_in_org(const char *org, const char *model, bool *model_exists)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	bool		known;
	int			ret;

	args[0] = CStringGetTextDatum(org);
	args[1] = CStringGetTextDatum(model);
	SPI_connect();
	ret = SPI_execute_with_args("SELECT ms._is_privileged() OR EXISTS ("
								"  SELECT 1 FROM ms.grants g"
								"   WHERE g.org OPERATOR(pg_catalog.=) $1"
								"     AND (g.role::pg_catalog.oid OPERATOR(pg_catalog.=) ms._caller()::pg_catalog.oid"
								"          OR pg_catalog.pg_has_role(ms._caller()::pg_catalog.oid,"
								"                                    g.role::pg_catalog.oid, 'USAGE'))),"
								" EXISTS (SELECT 1 FROM ms.models m WHERE m.org OPERATOR(pg_catalog.=) $1"
								"          AND m.model OPERATOR(pg_catalog.=) $2)",
								2, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look up the grants of the caller: %d", ret);
	known = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*model_exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	return known;
}

/*
 * The network and raw_read checks; if either refuses, record the refusal
 * as refusal_action and raise the check's own error (refusals are
 * rate-limited per role, see audit.c).  The checks run in a subtransaction
 * because the privilege check is SQL, and its error must be caught and
 * cleaned up before the record can be written.
 */
static void
require_access(const char *org, const char *model, const char *label,
			   const char *reason, const char *refusal_action, bool has_batch,
			   int64 batch_id)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		require_network();
		require_raw_read(org, model, label);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		{
			bool		model_exists;

			if (caller_known_in_org(org, model, &model_exists))
				audit_raw_access(refusal_action, org, model, label, reason, 0,
								 has_batch, batch_id);
			else
				audit_raw_access(refusal_action, org, model_exists ? model : NULL,
								 NULL, NULL, 0, has_batch, batch_id);
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/* when the open session expires, or expired, unless used again */
static TimestampTz
session_expiry(void)
{
	return TimestampTzPlusMilliseconds(session.last_use, (int64) access_idle_timeout_s * 1000);
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
	bool		blank = true;

	/*
	 * Malformed names are bad input, not an access attempt to record: the
	 * error of any other entry point for them, before anything is audited.
	 */
	ms_check_names(org, model, label);
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
	ms_audit_require();
	require_access(org, model, label, reason, "refuse_access", false, 0);

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

/* ms.read_batch(batch_id bigint) → bytea */
static Datum
read_batch_as_owner(PG_FUNCTION_ARGS)
{
	int64		batch_id = PG_GETARG_INT64(0);
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', session.has_label ? ' ' : 'n'};
	int			ret;
	bool		found = false;
	bool		isnull;
	char	   *label = NULL;
	int64		raw_bytes = 0;
	bytea	   *frame = NULL;
	bytea	   *result;
	MemoryContext callerctx = CurrentMemoryContext;

	ms_audit_require();
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
						   access_idle_timeout_s),
				 errhint("Open a new one with ms.open_access(org, model, reason).")));
	}
	/* a grant revoked during the session ends its reach */
	require_access(session.org, session.model, session_label(), session.reason,
				   "refuse_read", true, batch_id);

	/*
	 * Only a batch of the session's org, model (and label) is ever fetched:
	 * another's frame is not detoasted, nor its size or existence told.
	 */
	args[0] = Int64GetDatum(batch_id);
	args[1] = CStringGetTextDatum(session.org);
	args[2] = CStringGetTextDatum(session.model);
	args[3] = session.has_label ? CStringGetTextDatum(session.label) : (Datum) 0;
	SPI_connect();
	ret = SPI_execute_with_args("SELECT label, raw_bytes, frame FROM ms.raw_batches "
								"WHERE batch_id OPERATOR(pg_catalog.=) $1 "
								"AND org OPERATOR(pg_catalog.=) $2 "
								"AND model OPERATOR(pg_catalog.=) $3 "
								"AND ($4 IS NULL OR label OPERATOR(pg_catalog.=) $4)",
								4, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up raw batch: %d", ret);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		MemoryContext spictx = MemoryContextSwitchTo(callerctx);

		label = SPI_getvalue(tup, td, 1);
		raw_bytes = DatumGetInt64(SPI_getbinval(tup, td, 2, &isnull));
		/* detoasted into the caller's context, outliving SPI */
		frame = DatumGetByteaPCopy(SPI_getbinval(tup, td, 3, &isnull));
		MemoryContextSwitchTo(spictx);
		found = true;
	}
	SPI_finish();

	/* the same answer for another org's, model's or label's batch and none */
	if (!found)
	{
		audit_session("refuse_read", 0, true, batch_id, session_label());
		if (session.has_label)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("batch " INT64_FORMAT " is not in the access session's label \"%s\" of model \"%s/%s\"",
							batch_id, session.label, session.org, session.model)));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("batch " INT64_FORMAT " is not in the access session's model \"%s/%s\"",
						batch_id, session.org, session.model)));
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
