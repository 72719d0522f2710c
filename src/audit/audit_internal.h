/*
 * audit_internal.h
 *		What the files of the audit log share, and nothing outside
 *		src/audit/ may use: the shared-memory request table (slots, writers,
 *		refusal counters) and its lock, the settings, and the hash chain
 *		with the files it keeps outside the table.  The public interface is
 *		audit.h.
 *
 * Lock order: audit_shared->lock is the only lock of the request table,
 * and is never held across a wait, a transaction or an ereport(ERROR)
 * (every path releases it first); the writer takes its table lock on
 * ms.audit_log without holding it.
 */
#ifndef MS_AUDIT_INTERNAL_H
#define MS_AUDIT_INTERNAL_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "common/sha2.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "audit.h"

#define AUDIT_SLOTS			128 /* records in flight at once */
#define AUDIT_DB_SLOTS		32	/* of which one database may hold */
#define AUDIT_WRITERS		32	/* databases with a live writer at once */
#define AUDIT_BATCH			32	/* records appended per writer transaction */
#define AUDIT_RATES			256 /* (database, role) pairs rate-limited at once */
#define AUDIT_ID_LEN		64	/* org, model, label: 63 chars + NUL */
#define AUDIT_ACTION_LEN	32
#define AUDIT_ADDR_LEN		64
#define AUDIT_ERR_LEN		256

/* ---------------------------------------------------------------------
 * The shared-memory request table (audit_init.c)
 * ---------------------------------------------------------------------
 */

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
	char		login[NAMEDATALEN];
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

/* refusals of one role in one database, for the rate limit */
typedef struct AuditRate
{
	Oid			dboid;			/* InvalidOid: entry free */
	Oid			roleid;
	char		role[NAMEDATALEN];
	TimestampTz window_start;
	int			window_ms;
	int			recorded;		/* recorded one by one in this window */
	int64		suppressed;		/* counted, not yet recorded */
	TimestampTz first_suppressed;
	TimestampTz last_suppressed;
	char		org[AUDIT_ID_LEN];	/* of the suppressed ones, if all alike */
	bool		several_orgs;
} AuditRate;

typedef struct AuditShared
{
	LWLock	   *lock;
	uint64		next_seq;
	AuditWriter writers[AUDIT_WRITERS];
	AuditSlot	slots[AUDIT_SLOTS];
	AuditRate	rates[AUDIT_RATES];
} AuditShared;

/* NULL until the postmaster made it (and always without preloading) */
extern AuditShared *audit_shared;
/* the library was loaded by shared_preload_libraries */
extern bool audit_preloaded;

/* settings (machinesoup.audit_*) */
extern int	audit_timeout_ms;
extern int	audit_writer_idle_s;
extern int	audit_refusal_limit;
extern int	audit_refusal_window_s;

/* connection to the primary for a standby's records (audit_relay.c) */
extern char *audit_primary_conninfo;

/* defines machinesoup.audit_primary_conninfo (audit_relay.c) */
extern void ms_audit_define_relay_setting(void);

/* ERROR unless action is lower-case words joined by underscores */
extern void audit_check_action(const char *action);

/*
 * A standby's record sent to the primary (audit_relay.c): false, with *why,
 * when it was not written; reuse_only uses only a connection made before.
 */
extern bool audit_relay_record(const AuditSlot *slot, bool reuse_only, int64 *id,
							   const char **why);

/* the same, its failure an ERROR that refuses the action; the row id */
extern int64 audit_relay_or_refuse(const AuditSlot *slot);

/* the writer entry of database dboid, or NULL; caller holds the lock */
extern AuditWriter *audit_find_writer(Oid dboid);

/* ---------------------------------------------------------------------
 * The writer (audit_writer.c, audit_append.c) and the trigger guard
 * (audit_guard.c)
 * ---------------------------------------------------------------------
 */

/* asks the postmaster for a writer for database dboid; false if refused */
extern bool audit_register_writer(Oid dboid);

/*
 * Append the records in batch[0..n) in one transaction of the writer;
 * see audit_append.c.
 */
extern void audit_append_records(Oid dboid, AuditSlot *batch, int n, int64 *ids);

/* true only in the audit writer while it inserts its rows (INSERT guard) */
extern bool audit_writer_appending;

/* ---------------------------------------------------------------------
 * The hash chain and its files (audit_chain.c)
 * ---------------------------------------------------------------------
 */

/*
 * values: id, at (integer microseconds), role, pid, client_addr, action,
 * org, model, label, batch_id, reason, login, all as text, NULL for SQL
 * NULL.  Rows of the unkeyed epoch hash the first AUDIT_LEGACY_NCOLS.
 */
#define AUDIT_NCOLS 12
#define AUDIT_LEGACY_NCOLS 11
#define AUDIT_HASH_LEN PG_SHA256_DIGEST_LENGTH
#define AUDIT_KEY_LEN 32

/* the directory of the key and head files, in the data directory */
#define AUDIT_DIR "machinesoup"

typedef struct AuditHead
{
	int64		epoch_start;	/* first row hashed with the key */
	int64		last_id;		/* 0: no row yet */
	uint8		last_hash[AUDIT_HASH_LEN];
} AuditHead;

/* the stored rows, in the column order audit_row_values expects */
#define AUDIT_SELECT_KEYED "SELECT id, at, role, pid, client_addr, action, org, model, label, " \
	"batch_id, reason, login, hash FROM ms.audit_log "
#define AUDIT_SELECT_LEGACY "SELECT id, at, role, pid, client_addr, action, org, model, label, " \
	"batch_id, reason, hash FROM ms.audit_log "

extern void audit_chain_hash(const uint8 *key, const uint8 *prev,
							 const char *const *values, uint8 *out);
extern char *audit_head_name(Oid dboid);
extern bool audit_read_key(uint8 *key);
extern void audit_create_key(uint8 *key);
extern bool audit_read_head(Oid dboid, AuditHead *head);
extern void audit_write_head(Oid dboid, const AuditHead *head, int elevel);
extern bool audit_legacy_schema(void);
extern char *audit_int64_text(int64 v);
extern bool audit_stored_hash(HeapTuple tup, TupleDesc td, int col, uint8 *out);
extern void audit_row_values(HeapTuple tup, TupleDesc td, bool with_login,
							 const char **values);

#endif							/* MS_AUDIT_INTERNAL_H */
