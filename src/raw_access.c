/*
 * raw_access.c
 *		Audited access sessions to raw batches: ms.open_access,
 *		ms.read_batch, ms.close_access, idle expiry, and the client network
 *		check; plus the settings of the raw store.
 *
 * A session belongs to one backend (the "session pid" of the audit
 * records) and one (org, model); it is kept in backend memory, so it is not
 * transactional: the audit record of its opening is durable whatever the
 * transaction does, and so is the session.  Expiry is noticed on the next
 * use (read, open or close), which then writes the expiry record stamped
 * with the moment the session actually expired.
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
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "caller.h"
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

/* the backend's access session */
typedef struct AccessSession
{
	bool		open;
	char		org[64];
	char		model[64];
	char		reason[AUDIT_REASON_MAX + 1];
	TimestampTz opened_at;
	TimestampTz last_use;
	/* for the record written when the connection ends: no catalog then */
	char		role[NAMEDATALEN];
	char		client_addr[64];
} AccessSession;

static AccessSession session;
static bool exit_hook_registered = false;

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
	ms_audit_init();

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

/* Run ms._resolve as the caller would: raises unless allowed. */
static void
require_privilege(const char *org, const char *model, const char *privilege,
				  const char *action)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	int			ret;

	args[0] = CStringGetTextDatum(org);
	args[1] = CStringGetTextDatum(model);
	args[2] = CStringGetTextDatum(privilege);
	args[3] = CStringGetTextDatum(action);
	SPI_connect();
	ret = SPI_execute_with_args("SELECT 1 FROM ms._resolve($1, $2, NULL, $3, false, $4)",
								4, argtypes, args, NULL, true, 1);
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
require_access(const char *org, const char *model, const char *reason,
			   const char *refusal_action, bool has_batch, int64 batch_id)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		require_network();
		require_privilege(org, model, "raw_read", "read raw data of");
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
				audit_raw_access(refusal_action, org, model, NULL, reason, 0,
								 has_batch, batch_id);
			else
				audit_raw_access(refusal_action, org, model_exists ? model : NULL,
								 NULL, NULL, 0, has_batch, batch_id);
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/*
 * If the session has been idle too long, record its expiry (durably) and
 * close it; returns true when that happened.
 */
static bool
expire_if_idle(void)
{
	TimestampTz expiry;

	if (!session.open)
		return false;
	expiry = TimestampTzPlusMilliseconds(session.last_use, (int64) access_idle_timeout_s * 1000);
	if (GetCurrentTimestamp() <= expiry)
		return false;
	audit_session("expire_access", expiry, false, 0, NULL);
	session.open = false;
	return true;
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

	if (!session.open)
		return;
	session.open = false;
	expiry = TimestampTzPlusMilliseconds(session.last_use, (int64) access_idle_timeout_s * 1000);
	memset(&rec, 0, sizeof(rec));
	rec.org = session.org;
	rec.model = session.model;
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

/* ms.open_access(org text, model text, reason text) → void */
static Datum
open_access_as_owner(PG_FUNCTION_ARGS)
{
	char	   *org = text_arg(fcinfo, 0, "org");
	char	   *model = text_arg(fcinfo, 1, "model");
	char	   *reason = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
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
	ms_audit_require();
	require_access(org, model, reason, "refuse_access", false, 0);

	/* one session per backend: a new one ends the previous */
	if (!expire_if_idle() && session.open)
	{
		audit_session("close_access", 0, false, 0, NULL);
		session.open = false;
	}

	strlcpy(session.org, org, sizeof(session.org));
	strlcpy(session.model, model, sizeof(session.model));
	strlcpy(session.reason, reason, sizeof(session.reason));
	strlcpy(session.role, GetUserNameFromId(ms_current_caller(), false), sizeof(session.role));
	ms_client_address(session.client_addr, sizeof(session.client_addr));
	audit_session("open_access", 0, false, 0, NULL);
	if (!exit_hook_registered)
	{
		before_shmem_exit(session_at_exit, (Datum) 0);
		exit_hook_registered = true;
	}
	session.open = true;
	session.opened_at = session.last_use = GetCurrentTimestamp();
	PG_RETURN_VOID();
}

/* ms.close_access() → void */
static Datum
close_access_as_owner(PG_FUNCTION_ARGS)
{
	ms_audit_require();
	if (expire_if_idle())
	{
		ereport(NOTICE,
				(errmsg("the access session had already expired")));
		PG_RETURN_VOID();
	}
	if (!session.open)
	{
		ereport(NOTICE,
				(errmsg("no raw data access session is open")));
		PG_RETURN_VOID();
	}
	audit_session("close_access", 0, false, 0, NULL);
	session.open = false;
	PG_RETURN_VOID();
}

/* ms.read_batch(batch_id bigint) → bytea */
static Datum
read_batch_as_owner(PG_FUNCTION_ARGS)
{
	int64		batch_id = PG_GETARG_INT64(0);
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	int			ret;
	bool		found = false;
	bool		isnull;
	char	   *org = NULL;
	char	   *model = NULL;
	char	   *label = NULL;
	int64		raw_bytes = 0;
	bytea	   *frame = NULL;
	bytea	   *result;
	MemoryContext callerctx = CurrentMemoryContext;

	ms_audit_require();
	if (expire_if_idle())
	{
		/* the expiry record is committed; this error does not undo it */
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the raw data access session has expired"),
				 errdetail("It was idle for more than machinesoup.access_idle_timeout (%d s).",
						   access_idle_timeout_s),
				 errhint("Open a new one with ms.open_access(org, model, reason).")));
	}
	if (!session.open)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no raw data access session is open"),
				 errhint("Open one with ms.open_access(org, model, reason).")));
	/* a grant revoked during the session ends its reach */
	require_access(session.org, session.model, session.reason, "refuse_read",
				   true, batch_id);

	args[0] = Int64GetDatum(batch_id);
	SPI_connect();
	ret = SPI_execute_with_args("SELECT org, model, label, raw_bytes, frame FROM ms.raw_batches "
								"WHERE batch_id OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up raw batch: %d", ret);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		MemoryContext spictx = MemoryContextSwitchTo(callerctx);

		org = SPI_getvalue(tup, td, 1);
		model = SPI_getvalue(tup, td, 2);
		label = SPI_getvalue(tup, td, 3);
		raw_bytes = DatumGetInt64(SPI_getbinval(tup, td, 4, &isnull));
		/* detoasted into the caller's context, outliving SPI */
		frame = DatumGetByteaPCopy(SPI_getbinval(tup, td, 5, &isnull));
		MemoryContextSwitchTo(spictx);
		found = true;
	}
	SPI_finish();

	/* the same answer for a batch of another model and one that does not exist */
	if (!found || strcmp(org, session.org) != 0 || strcmp(model, session.model) != 0)
	{
		audit_session("refuse_read", 0, true, batch_id, NULL);
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
 * The entry points: invoker-rights functions that capture the caller and
 * do their work as the extension's owner (caller.c).
 */
Datum
ms_open_access(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(open_access_as_owner, fcinfo);
}

Datum
ms_close_access(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(close_access_as_owner, fcinfo);
}

Datum
ms_read_batch(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(read_batch_as_owner, fcinfo);
}

/*
 * ms.access_session() RETURNS TABLE (org, model, reason, opened_at, expires_at):
 * the backend's open session, if any (no row otherwise).
 */
Datum
ms_access_session(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	TimestampTz expiry;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!session.open)
		PG_RETURN_NULL();
	expiry = TimestampTzPlusMilliseconds(session.last_use, (int64) access_idle_timeout_s * 1000);
	values[0] = CStringGetTextDatum(session.org);
	values[1] = CStringGetTextDatum(session.model);
	values[2] = CStringGetTextDatum(session.reason);
	values[3] = TimestampTzGetDatum(session.opened_at);
	values[4] = TimestampTzGetDatum(expiry);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
