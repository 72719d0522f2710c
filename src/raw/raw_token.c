/*
 * raw_token.c
 *		Access sessions held by a token instead of a connection:
 *		ms.open_access_token, ms.read_batch(org, token, batch_id) and
 *		ms.close_access(org, token).  They are the access sessions of
 *		raw_session.c with the org as their first argument, so that on
 *		Citus (ms.enable_citus) they are distributed functions, routed
 *		whole to the worker that holds the org: the session is opened, its
 *		batches are read and every record of it is written on that worker.
 *
 * Why not the connection's session there: a routed call runs on whichever
 * connection to the worker the coordinator's backend picks from its cache
 * (Citus closes cached connections after citus.max_cached_connection_lifetime,
 * on errors, and opens others when several are needed), so a session kept
 * in one worker backend's memory would vanish, or be found by the wrong
 * client.  A token session is kept in the node's shared memory instead,
 * found by its token from any backend of the node's database, and bound to
 * what the connection's session is bound to:
 *
 *	* its owner, the role that opened it (the caller, by OID on that node):
 *	  another role presenting the token is refused, and the attempt is
 *	  recorded (refuse_read) in the session's org, as if it had no session;
 *	* its org, model and label: ms.read_batch(org, ...) looks the batch up
 *	  by the session's own keys, and an org argument other than the
 *	  session's finds no session;
 *	* the extension it was opened under, and the database.
 *
 * The token is 128 random bits (pg_strong_random), shown only to the
 * caller of ms.open_access_token.  Like the connection's session it is not
 * transactional: records are committed by the audit writer, and the
 * session's state changes when they are.  It ends with ms.close_access(org,
 * token) or after machinesoup.access_idle_timeout idle, an expiry recorded
 * once, by the first use that notices it (a read, a close, or an open that
 * needs its slot).  A server restart forgets the sessions, with no record,
 * as a crash does a connection's.  The table holds TOKEN_SESSIONS sessions
 * per node, shared by every role and database: one role holds at most
 * machinesoup.access_tokens_per_role of them, live or being opened, so
 * that a tenant with raw_read cannot lock the others out of theirs.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "caller.h"
#include "citus_table.h"
#include "governance.h"
#include "raw_store.h"

PG_FUNCTION_INFO_V1(ms_open_access_token);
PG_FUNCTION_INFO_V1(ms_read_batch_token);
PG_FUNCTION_INFO_V1(ms_close_access_token);

#define TOKEN_SESSIONS	256
#define TOKEN_BYTES		16

typedef enum SlotState
{
	SLOT_FREE,
	SLOT_BUSY,					/* held by one backend while it records */
	SLOT_OPEN
} SlotState;

typedef struct TokenSession
{
	SlotState	state;
	Oid			dboid;
	Oid			owner;
	Oid			opening_for;	/* BUSY for a new session: its owner */
	Oid			extension;
	uint8		token[TOKEN_BYTES];
	char		org[64];
	char		model[64];
	bool		has_label;
	char		label[64];
	char		reason[AUDIT_REASON_MAX + 1];
	TimestampTz opened_at;
	TimestampTz last_use;
} TokenSession;

typedef struct TokenShared
{
	slock_t		mutex;
	TokenSession slots[TOKEN_SESSIONS];
} TokenShared;

static TokenShared *token_shared = NULL;

static void no_session_error(void) pg_attribute_noreturn();
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
token_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(TokenShared)));
}

static void
token_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	token_shared = ShmemInitStruct("machinesoup access tokens", sizeof(TokenShared), &found);
	if (!found)
	{
		memset(token_shared, 0, sizeof(TokenShared));
		SpinLockInit(&token_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Reserve the table (under shared_preload_libraries only; ms_raw_init). */
void
ms_raw_token_shmem_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = token_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = token_shmem_startup;
}

/* ---------------------------------------------------------------------
 * Slots
 * ---------------------------------------------------------------------
 */

static TimestampTz
slot_expiry(const TokenSession *s)
{
	return TimestampTzPlusMilliseconds(s->last_use, (int64) ms_access_idle_timeout_s * 1000);
}

static const char *
slot_label(const TokenSession *s)
{
	return s->has_label ? s->label : NULL;
}

/* constant-time: how long a comparison takes tells nothing of a token */
static bool
token_equal(const uint8 *a, const uint8 *b)
{
	uint8		diff = 0;

	for (int i = 0; i < TOKEN_BYTES; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/*
 * Find the open session of token in this database, a copy in *copy; -1
 * when there is none.  A session of an extension since dropped is freed
 * on the way, with no record (its log went with it).  Reads leave the slot
 * open (one session may be read from several connections at once); a close
 * or an expiry claims it first (slot_claim), so that only one records it.
 */
static int
slot_find(const uint8 *token, TokenSession *copy)
{
	Oid			ext = get_extension_oid("machinesoup", true);
	int			found = -1;

	SpinLockAcquire(&token_shared->mutex);
	for (int i = 0; i < TOKEN_SESSIONS; i++)
	{
		TokenSession *s = &token_shared->slots[i];

		if (s->state != SLOT_OPEN || s->dboid != MyDatabaseId ||
			!token_equal(s->token, token))
			continue;
		if (s->extension != ext)
		{
			s->state = SLOT_FREE;
			break;
		}
		memcpy(copy, s, sizeof(TokenSession));
		found = i;
		break;
	}
	SpinLockRelease(&token_shared->mutex);
	return found;
}

/* Take slot i (BUSY) if it still holds token's open session. */
static bool
slot_claim(int i, const uint8 *token)
{
	bool		claimed = false;

	SpinLockAcquire(&token_shared->mutex);
	if (token_shared->slots[i].state == SLOT_OPEN &&
		token_equal(token_shared->slots[i].token, token))
	{
		token_shared->slots[i].state = SLOT_BUSY;
		claimed = true;
	}
	SpinLockRelease(&token_shared->mutex);
	return claimed;
}

/* A read of slot i's session (if still token's) at now: idle from then. */
static void
slot_touch(int i, const uint8 *token, TimestampTz now)
{
	SpinLockAcquire(&token_shared->mutex);
	if (token_shared->slots[i].state == SLOT_OPEN &&
		token_equal(token_shared->slots[i].token, token) &&
		token_shared->slots[i].last_use < now)
		token_shared->slots[i].last_use = now;
	SpinLockRelease(&token_shared->mutex);
}

/* Give a claimed slot back: open again, or free. */
static void
slot_release(int i, bool keep)
{
	SpinLockAcquire(&token_shared->mutex);
	token_shared->slots[i].state = keep ? SLOT_OPEN : SLOT_FREE;
	token_shared->slots[i].opening_for = InvalidOid;
	SpinLockRelease(&token_shared->mutex);
}

/* a record of session s, stamped at (0: now) */
static void
audit_slot(const TokenSession *s, const char *action, TimestampTz at, bool has_batch,
		   int64 batch_id, const char *label)
{
	ms_raw_audit_access(action, s->org, s->model, label, s->reason, at, has_batch, batch_id);
}

/*
 * The expiry record of session s in its owner's name, whoever noticed it
 * (if the owner has been dropped since, in the current caller's).
 */
static void
audit_expiry_as_owner(const TokenSession *s)
{
	Oid			save_userid;
	int			save_sec_context;
	MsCallerFrame frame;

	if (s->owner == ms_current_caller() ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(s->owner)))
	{
		audit_slot(s, "expire_access", slot_expiry(s), false, 0, slot_label(s));
		return;
	}
	/* an error (also in ms_enter) restores the user with the transaction */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(s->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ms_enter(&frame);
	PG_TRY();
	{
		audit_slot(s, "expire_access", slot_expiry(s), false, 0, slot_label(s));
	}
	PG_FINALLY();
	{
		ms_leave(&frame);
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * If slot i's session (copy s) has been idle too long, record its expiry
 * and free the slot: true.  Only one backend records it; another that
 * noticed at the same moment finds no session.  Should the record fail,
 * the session stays open, and the next use tries again.
 */
static bool
expire_if_idle(int i, const TokenSession *s)
{
	if (GetCurrentTimestamp() <= slot_expiry(s))
		return false;
	if (!slot_claim(i, s->token))
		no_session_error();
	PG_TRY();
	{
		audit_expiry_as_owner(s);
	}
	PG_CATCH();
	{
		slot_release(i, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	slot_release(i, false);
	return true;
}

/*
 * A slot for a new session, taken (BUSY): a free one, or else one of this
 * database whose session has expired unnoticed (its expiry recorded
 * first); raises when every slot holds a live session.
 */
/* (not inlined: its loops' variables and slot_new's PG_TRY do not mix) */
pg_noinline static int
slot_reserve(Oid owner, TokenSession *copy, bool *expired)
{
	TimestampTz now = GetCurrentTimestamp();
	int			found = -1;
	int			held = 0;

	*expired = false;
	SpinLockAcquire(&token_shared->mutex);
	for (int i = 0; i < TOKEN_SESSIONS; i++)
	{
		TokenSession *s = &token_shared->slots[i];

		if ((s->state == SLOT_OPEN && s->owner == owner && now <= slot_expiry(s)) ||
			(s->state == SLOT_BUSY &&
			 (OidIsValid(s->opening_for) ? s->opening_for : s->owner) == owner))
			held++;
	}
	if (held >= ms_access_tokens_per_role)
	{
		SpinLockRelease(&token_shared->mutex);
		return -2;
	}
	for (int i = 0; i < TOKEN_SESSIONS && found < 0; i++)
		if (token_shared->slots[i].state == SLOT_FREE)
			found = i;
	for (int i = 0; i < TOKEN_SESSIONS && found < 0; i++)
	{
		TokenSession *s = &token_shared->slots[i];

		if (s->state == SLOT_OPEN && s->dboid == MyDatabaseId && now > slot_expiry(s))
		{
			found = i;
			*expired = true;
			memcpy(copy, s, sizeof(TokenSession));
		}
	}
	if (found >= 0)
	{
		token_shared->slots[found].state = SLOT_BUSY;
		token_shared->slots[found].opening_for = owner;
	}
	SpinLockRelease(&token_shared->mutex);
	return found;
}

static int
slot_new(Oid owner)
{
	bool		expired;
	TokenSession copy;
	int			found = slot_reserve(owner, &copy, &expired);

	if (found == -2)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("role \"%s\" has too many raw data access sessions open",
						GetUserNameFromId(owner, false)),
				 errdetail("A role holds at most %d token sessions on a node (machinesoup.access_tokens_per_role).",
						   ms_access_tokens_per_role),
				 errhint("Close sessions with ms.close_access(org, token), or wait until idle ones expire (machinesoup.access_idle_timeout).")));
	if (found < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many raw data access sessions are open"),
				 errdetail("A node holds at most %d token sessions.", TOKEN_SESSIONS),
				 errhint("Close sessions with ms.close_access(org, token), or wait until idle ones expire (machinesoup.access_idle_timeout).")));
	if (expired)
	{
		PG_TRY();
		{
			if (get_extension_oid("machinesoup", true) == copy.extension)
				audit_expiry_as_owner(&copy);
		}
		PG_CATCH();
		{
			slot_release(found, true);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return found;
}

/* ---------------------------------------------------------------------
 * Arguments
 * ---------------------------------------------------------------------
 */

static void
require_table(void)
{
	ms_audit_require();
	if (token_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("raw data access tokens need machinesoup in shared_preload_libraries")));
}

static char *
text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* the org argument, checked as every entry point checks an org name */
static char *
org_arg(FunctionCallInfo fcinfo)
{
	char	   *org = text_arg(fcinfo, 0, "org");

	ms_check_names(org, org, NULL);
	return org;
}

/* the token argument, decoded; a malformed one is bad input */
static void
token_arg(FunctionCallInfo fcinfo, int n, uint8 *token)
{
	char	   *hex = text_arg(fcinfo, n, "token");

	if (strlen(hex) != 2 * TOKEN_BYTES || strspn(hex, "0123456789abcdef") != 2 * TOKEN_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed raw data access token"),
				 errdetail("A token is %d lowercase hexadecimal digits, as ms.open_access_token returns it.",
						   2 * TOKEN_BYTES)));
	hex_decode(hex, 2 * TOKEN_BYTES, (char *) token);
}

static void
no_session_error(void)
{
	Oid			batches = get_relname_relid("raw_batches", get_namespace_oid("ms", true));

	/* a call Citus did not route ran here, away from the org's sessions */
	if (OidIsValid(batches) && ms_relation_is_citus_table(batches))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no raw data access session is open for this token"),
				 errhint("On Citus a token session is on the org's worker: call ms.open_access_token, ms.read_batch and ms.close_access alone in their statement, e.g. SELECT ms.read_batch(org, token, batch_id), so that Citus routes them there.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("no raw data access session is open for this token"),
			 errhint("Open one with ms.open_access_token(org, model, reason).")));
}

/* ---------------------------------------------------------------------
 * The entry points' bodies, run as the extension's owner (caller.c)
 * ---------------------------------------------------------------------
 */

/*
 * ms.open_access_token(org text, model text, reason text, label text
 * DEFAULT NULL) → text: the session's token.
 */
static Datum
open_token_as_owner(PG_FUNCTION_ARGS)
{
	char	   *org = text_arg(fcinfo, 0, "org");
	char	   *model = text_arg(fcinfo, 1, "model");
	char	   *reason = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *label = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	uint8		token[TOKEN_BYTES];
	char		hex[2 * TOKEN_BYTES + 1];
	TokenSession s;
	int			i;

	ms_check_names(org, model, label);
	ms_raw_check_reason(reason);
	require_table();
	ms_raw_require_access(org, model, label, reason, "refuse_access", false, 0);

	if (!pg_strong_random(token, TOKEN_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random access token")));
	memset(&s, 0, sizeof(s));
	s.dboid = MyDatabaseId;
	s.owner = ms_current_caller();
	s.extension = get_extension_oid("machinesoup", false);
	memcpy(s.token, token, TOKEN_BYTES);
	strlcpy(s.org, org, sizeof(s.org));
	strlcpy(s.model, model, sizeof(s.model));
	s.has_label = (label != NULL);
	strlcpy(s.label, label ? label : "", sizeof(s.label));
	strlcpy(s.reason, reason, sizeof(s.reason));

	i = slot_new(s.owner);
	PG_TRY();
	{
		audit_slot(&s, "open_access", 0, false, 0, slot_label(&s));
	}
	PG_CATCH();
	{
		slot_release(i, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	s.opened_at = s.last_use = GetCurrentTimestamp();
	s.state = SLOT_OPEN;
	SpinLockAcquire(&token_shared->mutex);
	memcpy(&token_shared->slots[i], &s, sizeof(TokenSession));
	SpinLockRelease(&token_shared->mutex);

	hex_encode((const char *) token, TOKEN_BYTES, hex);
	hex[2 * TOKEN_BYTES] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

/* ms.read_batch(org text, token text, batch_id bigint) → bytea */
static Datum
read_token_as_owner(PG_FUNCTION_ARGS)
{
	char	   *org = org_arg(fcinfo);
	uint8		token[TOKEN_BYTES];
	int64		batch_id;
	TokenSession s;
	int			i;
	char	   *label = NULL;
	int64		raw_bytes = 0;
	bytea	   *frame;
	bytea	   *result;

	token_arg(fcinfo, 1, token);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch_id must not be null")));
	batch_id = PG_GETARG_INT64(2);
	require_table();

	i = slot_find(token, &s);
	if (i < 0 || strcmp(s.org, org) != 0 || s.owner != ms_current_caller())
	{
		/*
		 * No session of this caller in this org: recorded as a refused
		 * read in the org named, with the session's model and label when
		 * the token is another role's (a stolen token), without otherwise.
		 */
		if (i >= 0 && strcmp(s.org, org) == 0)
			ms_raw_audit_access("refuse_read", org, s.model, slot_label(&s), NULL, 0,
								true, batch_id);
		else
			ms_raw_audit_access("refuse_read", org, NULL, NULL, NULL, 0, true, batch_id);
		no_session_error();
	}
	if (expire_if_idle(i, &s))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the raw data access session has expired"),
				 errdetail("It was idle for more than machinesoup.access_idle_timeout (%d s).",
						   ms_access_idle_timeout_s),
				 errhint("Open a new one with ms.open_access_token(org, model, reason).")));

	/* a grant revoked during the session ends its reach */
	ms_raw_require_access(s.org, s.model, slot_label(&s), s.reason, "refuse_read",
						  true, batch_id);
	frame = ms_raw_fetch_batch(batch_id, s.org, s.model, slot_label(&s), &label, &raw_bytes);
	/* the same answer for another org's, model's or label's batch and none */
	if (frame == NULL)
	{
		audit_slot(&s, "refuse_read", 0, true, batch_id, slot_label(&s));
		ms_raw_batch_not_in_session(batch_id, s.org, s.model, slot_label(&s));
	}
	/* the record is committed before any byte leaves */
	audit_slot(&s, "read_batch", 0, true, batch_id, label);
	slot_touch(i, token, GetCurrentTimestamp());

	result = ms_raw_decode(frame, raw_bytes, batch_id);
	pfree(frame);
	PG_RETURN_BYTEA_P(result);
}

/* ms.close_access(org text, token text) → void */
static Datum
close_token_as_owner(PG_FUNCTION_ARGS)
{
	char	   *org = org_arg(fcinfo);
	uint8		token[TOKEN_BYTES];
	TokenSession s;
	int			i;

	token_arg(fcinfo, 1, token);
	require_table();
	i = slot_find(token, &s);
	/* another role's session is left alone, and not told apart from none */
	if (i < 0 || strcmp(s.org, org) != 0 || s.owner != ms_current_caller())
	{
		ereport(NOTICE,
				(errmsg("no raw data access session is open for this token")));
		PG_RETURN_VOID();
	}
	if (expire_if_idle(i, &s))
	{
		ereport(NOTICE,
				(errmsg("the access session had already expired")));
		PG_RETURN_VOID();
	}
	if (!slot_claim(i, token))
	{
		ereport(NOTICE,
				(errmsg("no raw data access session is open for this token")));
		PG_RETURN_VOID();
	}
	PG_TRY();
	{
		audit_slot(&s, "close_access", 0, false, 0, slot_label(&s));
	}
	PG_CATCH();
	{
		slot_release(i, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	slot_release(i, false);
	PG_RETURN_VOID();
}

/* The invoker-rights entry points */
Datum
ms_open_access_token(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(open_token_as_owner, fcinfo);
}

Datum
ms_read_batch_token(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(read_token_as_owner, fcinfo);
}

Datum
ms_close_access_token(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(close_token_as_owner, fcinfo);
}
