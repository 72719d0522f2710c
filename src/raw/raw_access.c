/*
 * raw_access.c
 *		Who may reach raw data, and from where: the settings of the raw
 *		store, the client network check (machinesoup.raw_access_networks,
 *		also ms._require_raw_network for replay through user code), and
 *		the raw_read check whose refusals are audited.  The access
 *		sessions that rely on them are in raw_session.c.
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
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/resowner.h"

#include "audit.h"
#include "raw_store.h"

PG_FUNCTION_INFO_V1(ms_require_raw_network);

/* settings */
char	   *ms_processor_role = NULL;
int			ms_raw_compression_level = 0;
int			ms_access_idle_timeout_s = 900;
int			ms_access_tokens_per_role = 16;
static char *raw_access_networks = NULL;

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

/* Do a and b agree in their first bits bits? */
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

/* GUC check hook of machinesoup.raw_access_networks: every entry parses. */
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

/* Raises unless machinesoup.raw_access_networks admits the client. */
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
							&ms_access_idle_timeout_s,
							900, 1, INT_MAX / 1000,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.access_tokens_per_role",
							"Token access sessions one role may hold open on a node at once.",
							"The node's table of token sessions is shared by every role: the cap keeps one role from filling it.",
							&ms_access_tokens_per_role,
							16, 1, 256,
							PGC_SUSET,
							0,
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

	ms_raw_session_init();
	ms_raw_token_shmem_init();
}

/* ---------------------------------------------------------------------
 * The raw_read check, and the records of raw access
 * ---------------------------------------------------------------------
 */

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
		elog(ERROR, "privilege check failed: %s", SPI_result_code_string(ret));
	SPI_finish();
}

/*
 * One audit record of raw access.  Refusals are recorded too: a customer's
 * report should show who tried to reach its raw data and was turned away
 * (from an unlisted network, or without raw_read), not only who succeeded.
 * The record is committed by the audit writer, so an error that follows
 * does not undo it.
 */
void
ms_raw_audit_access(const char *action, const char *org, const char *model,
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
		elog(ERROR, "could not look up the grants of the caller: %s",
			 SPI_result_code_string(ret));
	known = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*model_exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	return known;
}

/*
 * The network and raw_read checks; if either refuses, record the refusal
 * as refusal_action and raise the check's own error (refusals are
 * rate-limited per role, see audit_queue.c).  The checks run in a
 * subtransaction because the privilege check is SQL, and its error must be
 * caught and cleaned up before the record can be written.
 */
void
ms_raw_require_access(const char *org, const char *model, const char *label,
					  const char *reason, const char *refusal_action,
					  bool has_batch, int64 batch_id)
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
				ms_raw_audit_access(refusal_action, org, model, label, reason, 0,
									has_batch, batch_id);
			else
				ms_raw_audit_access(refusal_action, org, model_exists ? model : NULL,
									NULL, NULL, 0, has_batch, batch_id);
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
}
