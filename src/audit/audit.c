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
 *		hash(n) = HMAC-SHA-256(key, hash(n-1) || canonical text of row n),
 * with 32 zero bytes before row 1.  The canonical text lists every column
 * (id, at, role, pid, client_addr, action, org, model, label, batch_id,
 * reason, login) as "<length>:<bytes>;" (or "N;" for NULL) using the
 * columns' output functions, timestamps as integer microseconds, so
 * ms.verify_audit() can recompute it from what is stored.
 *
 * What lies outside the table, in the directory machinesoup/ of the data
 * directory (so pg_basebackup carries it; a pg_dump needs it copied, see
 * README.md):
 *	 audit.key			32 random bytes (mode 0600), the HMAC key of every
 *						database of the cluster, made by the first writer
 *						that needs it.  Without it a role that can write the
 *						table (its owner, pg_write_all_data) cannot make a
 *						row that verifies.
 *	 audit_head.<oid>	the chain head of database <oid>: the last row id
 *						and hash the writer committed, written durably
 *						(temporary file, fsync, rename) after each commit,
 *						and the epoch: the first keyed row.  A log whose
 *						newest rows were deleted no longer reaches its head.
 * Before appending, the writer checks that the table still extends the
 * head (the head's row has the head's hash, and any rows after it, left by
 * a crash between commit and head write, verify with the key); if not, it
 * refuses the records, and so the audited actions.
 *
 * Epochs: databases made before 0.4.0 chained plain SHA-256 over the first
 * eleven columns.  The update to 0.4.0 records the head as it stands
 * (ms._audit_begin_epoch) with epoch_start = the next id: rows before it
 * are verified the old way, rows from it on with the key.  While the
 * extension is still at an older version the writer and verifier work the
 * old way and ignore the files.
 *
 * A superuser can read the key and rewrite the head file; against that the
 * defence is the customer's copy of the head, which ms.access_report hands
 * out and ms.verify_audit(since_id, expected_hash) checks.
 *
 * Refusals (actions beginning with "refuse_") are rate-limited per role and
 * database: at most machinesoup.audit_refusal_limit per
 * machinesoup.audit_refusal_window are recorded one by one, the rest are
 * counted and the writer records the count as one "refusals_suppressed"
 * record when the window has passed.  A database holds at most
 * AUDIT_DB_SLOTS of the shared request slots, so one database cannot take
 * the slots of the others.
 */
#include "postgres.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "audit.h"
#include "caller.h"

PGDLLEXPORT void ms_audit_writer_main(Datum main_arg);

static void set_head_aside(Oid dboid);

PG_FUNCTION_INFO_V1(ms_audit_sql);
PG_FUNCTION_INFO_V1(ms_verify_audit);
PG_FUNCTION_INFO_V1(ms_audit_log_guard);
PG_FUNCTION_INFO_V1(ms_audit_begin_epoch);
PG_FUNCTION_INFO_V1(ms_audit_new_log);

#define AUDIT_SLOTS			128 /* records in flight at once */
#define AUDIT_DB_SLOTS		32	/* of which one database may hold */
#define AUDIT_WRITERS		32	/* databases with a live writer at once */
#define AUDIT_BATCH			32	/* records appended per writer transaction */
#define AUDIT_RATES			256 /* (database, role) pairs rate-limited at once */
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
static int	audit_refusal_limit = 60;
static int	audit_refusal_window_s = 60;

/* true only in the audit writer while it inserts its rows (INSERT guard) */
static bool audit_writer_appending = false;

/* the session user's name, kept for records queued at backend exit */
static Oid	cached_login_id = InvalidOid;
static char cached_login[NAMEDATALEN];

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
	DefineCustomIntVariable("machinesoup.audit_refusal_limit",
							"Refusals of one role recorded one by one per window.",
							"Further refusals in the window are counted and recorded as one refusals_suppressed record.",
							&audit_refusal_limit,
							60, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.audit_refusal_window",
							"The window of machinesoup.audit_refusal_limit.",
							NULL,
							&audit_refusal_window_s,
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
 * org, model, label, batch_id, reason, login, all as text, NULL for SQL
 * NULL.  Rows of the unkeyed epoch hash the first AUDIT_LEGACY_NCOLS.
 */
#define AUDIT_NCOLS 12
#define AUDIT_LEGACY_NCOLS 11
#define AUDIT_HASH_LEN PG_SHA256_DIGEST_LENGTH
#define AUDIT_KEY_LEN 32

/*
 * hash = HMAC-SHA-256(key, prev || canonical text) over all columns, or,
 * with key NULL (rows before the keyed epoch), SHA-256 over the first
 * eleven.
 */
static void
audit_chain_hash(const uint8 *key, const uint8 *prev, const char *const *values,
				 uint8 *out)
{
	StringInfoData buf;
	int			ncols = key ? AUDIT_NCOLS : AUDIT_LEGACY_NCOLS;
	bool		failed;

	initStringInfo(&buf);
	for (int i = 0; i < ncols; i++)
		canon_field(&buf, values[i]);

	if (key)
	{
		pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);

		failed = (ctx == NULL ||
				  pg_hmac_init(ctx, key, AUDIT_KEY_LEN) < 0 ||
				  pg_hmac_update(ctx, prev, AUDIT_HASH_LEN) < 0 ||
				  pg_hmac_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
				  pg_hmac_final(ctx, out, AUDIT_HASH_LEN) < 0);
		pg_hmac_free(ctx);
	}
	else
	{
		pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

		failed = (ctx == NULL ||
				  pg_cryptohash_init(ctx) < 0 ||
				  pg_cryptohash_update(ctx, prev, AUDIT_HASH_LEN) < 0 ||
				  pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
				  pg_cryptohash_final(ctx, out, AUDIT_HASH_LEN) < 0);
		pg_cryptohash_free(ctx);
	}
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the hash of an audit record")));
	pfree(buf.data);
}

/* ---------------------------------------------------------------------
 * The key and head files (machinesoup/ in the data directory)
 * ---------------------------------------------------------------------
 */

#define AUDIT_DIR "machinesoup"

typedef struct AuditHead
{
	int64		epoch_start;	/* first row hashed with the key */
	int64		last_id;		/* 0: no row yet */
	uint8		last_hash[AUDIT_HASH_LEN];
} AuditHead;

static char *
audit_dir_path(void)
{
	return psprintf("%s/%s", DataDir, AUDIT_DIR);
}

static char *
key_path(void)
{
	return psprintf("%s/%s/audit.key", DataDir, AUDIT_DIR);
}

static char *
head_path(Oid dboid)
{
	return psprintf("%s/%s/audit_head.%u", DataDir, AUDIT_DIR, dboid);
}

/* the path as messages show it, relative to the data directory */
static char *
head_name(Oid dboid)
{
	return psprintf("%s/audit_head.%u", AUDIT_DIR, dboid);
}

static void
ensure_audit_dir(void)
{
	char	   *dir = audit_dir_path();

	if (MakePGDirectory(dir) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
}

/* Read the whole of a small file; NULL if it does not exist. */
static char *
read_small_file(const char *path, int *len)
{
	int			fd;
	struct stat st;
	char	   *buf;
	int			n;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if (st.st_size > 4096)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("file \"%s\" is too large to be a machinesoup audit file", path)));
	buf = palloc(st.st_size + 1);
	n = read(fd, buf, st.st_size);
	if (n != st.st_size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	buf[n] = '\0';
	CloseTransientFile(fd);
	*len = n;
	return buf;
}

/* Write a small file durably and atomically: temporary file, fsync, rename. */
static void
write_small_file(const char *path, const char *data, int len, int elevel)
{
	char	   *tmp = psprintf("%s.tmp", path);
	int			fd;

	ensure_audit_dir();
	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));
		return;
	}
	errno = 0;
	if (write(fd, data, len) != len)
	{
		if (errno == 0)
			errno = ENOSPC;
		CloseTransientFile(fd);
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmp)));
		return;
	}
	if (pg_fsync(fd) != 0)
	{
		CloseTransientFile(fd);
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", tmp)));
		return;
	}
	CloseTransientFile(fd);
	(void) durable_rename(tmp, path, elevel);
}

/* The key, or false if its file does not exist. */
static bool
read_key(uint8 *key)
{
	char	   *path = key_path();
	int			len;
	char	   *data = read_small_file(path, &len);

	if (data == NULL)
		return false;
	if (len != AUDIT_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit key file \"%s/audit.key\" has %d bytes, not %d",
						AUDIT_DIR, len, AUDIT_KEY_LEN)));
	memcpy(key, data, AUDIT_KEY_LEN);
	pfree(data);
	return true;
}

/*
 * Make the key from pg_strong_random, unless another writer has just made
 * it: written under a temporary name, then linked into place, so the key
 * file exists whole or not at all and is never replaced.
 */
static void
create_key(uint8 *key)
{
	char	   *path = key_path();
	char	   *tmp = psprintf("%s.%d.tmp", path, MyProcPid);
	int			fd;

	if (!pg_strong_random(key, AUDIT_KEY_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random audit key")));
	ensure_audit_dir();
	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));
	if (write(fd, key, AUDIT_KEY_LEN) != AUDIT_KEY_LEN || pg_fsync(fd) != 0)
	{
		int			save_errno = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmp)));
	}
	CloseTransientFile(fd);
	if (link(tmp, path) < 0)
	{
		int			save_errno = errno;

		unlink(tmp);
		if (save_errno == EEXIST && read_key(key))
			return;
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not link file \"%s\" to \"%s\": %m", tmp, path)));
	}
	unlink(tmp);
	fsync_fname(audit_dir_path(), true);
	ereport(LOG,
			(errmsg("machinesoup created the audit key \"%s/audit.key\"", AUDIT_DIR),
			 errhint("Back it up with the database: without it the audit log cannot be verified.")));
}

static bool
parse_hex(const char *hex, uint8 *out, int len)
{
	for (int i = 0; i < len; i++)
	{
		int			v = 0;

		for (int j = 0; j < 2; j++)
		{
			char		c = hex[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return false;
		}
		out[i] = (uint8) v;
	}
	return hex[2 * len] == '\0' || hex[2 * len] == '\n';
}

/* The head of database dboid, or false if its file does not exist. */
static bool
read_head(Oid dboid, AuditHead *head)
{
	int			len;
	char	   *data = read_small_file(head_path(dboid), &len);
	bool		have_epoch = false,
				have_id = false,
				have_hash = false;

	if (data == NULL)
		return false;
	memset(head, 0, sizeof(*head));
	for (char *line = data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
	{
		if (strncmp(line, "epoch_start=", 12) == 0)
			have_epoch = sscanf(line + 12, INT64_FORMAT, &head->epoch_start) == 1;
		else if (strncmp(line, "last_id=", 8) == 0)
			have_id = sscanf(line + 8, INT64_FORMAT, &head->last_id) == 1;
		else if (strncmp(line, "last_hash=", 10) == 0)
			have_hash = parse_hex(line + 10, head->last_hash, AUDIT_HASH_LEN);
	}
	if (!have_epoch || !have_id || !have_hash ||
		head->epoch_start < 1 || head->last_id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit chain head file \"%s\" is malformed", head_name(dboid))));
	pfree(data);
	return true;
}

static void
write_head(Oid dboid, const AuditHead *head, int elevel)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "# machinesoup audit chain head of database %u; see README.md, \"The audit chain\"\n"
					 "epoch_start=" INT64_FORMAT "\n"
					 "last_id=" INT64_FORMAT "\n"
					 "last_hash=",
					 dboid, head->epoch_start, head->last_id);
	for (int i = 0; i < AUDIT_HASH_LEN; i++)
		appendStringInfo(&buf, "%02x", head->last_hash[i]);
	appendStringInfoChar(&buf, '\n');
	write_small_file(head_path(dboid), buf.data, buf.len, elevel);
	pfree(buf.data);
}

/*
 * Is the extension still at a version before 0.4.0 (unkeyed chain, no
 * login column)?  Asked of pg_extension, which only a superuser can
 * change: dropping a column does not turn the key off.
 */
static bool
audit_legacy_schema(void)
{
	int			ret;
	bool		legacy = false;

	ret = SPI_execute("SELECT extversion FROM pg_catalog.pg_extension "
					  "WHERE extname OPERATOR(pg_catalog.=) 'machinesoup'", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the extension version: %d", ret);
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		legacy = (v != NULL && (strcmp(v, "0.1.0") == 0 || strcmp(v, "0.2.0") == 0 ||
								strcmp(v, "0.3.0") == 0));
	}
	return legacy;
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
	AuditWriter *w = find_writer(MyDatabaseId);

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
 * The rate limit of refusals: true when this refusal of role (in this
 * database) is to be recorded one by one, false when it is only counted,
 * for the writer to record as part of a refusals_suppressed record.
 */
static bool
refusal_admitted(Oid roleid, const char *rolename, const char *org)
{
	TimestampTz now = GetCurrentTimestamp();
	AuditRate  *r = NULL;
	AuditRate  *spare = NULL;
	bool		admitted;
	Latch	   *wake = NULL;
	bool		need_start = false;

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < AUDIT_RATES; i++)
	{
		AuditRate  *e = &audit_shared->rates[i];

		if (e->dboid == MyDatabaseId && e->roleid == roleid)
		{
			r = e;
			break;
		}
		/* a free entry, or one whose window is over with nothing pending */
		if (spare == NULL &&
			(e->dboid == InvalidOid ||
			 (e->suppressed == 0 &&
			  TimestampDifferenceExceeds(e->window_start, now, e->window_ms))))
			spare = e;
	}
	if (r == NULL)
	{
		if (spare == NULL)
		{
			/* every entry is a role flooding right now: count nowhere */
			LWLockRelease(audit_shared->lock);
			ereport(LOG,
					(errmsg("machinesoup audit: refusal of role \"%s\" not recorded, the rate-limit table is full",
							rolename)));
			return false;
		}
		r = spare;
		memset(r, 0, sizeof(*r));
		r->dboid = MyDatabaseId;
		r->roleid = roleid;
		r->window_start = now;
		r->window_ms = audit_refusal_window_s * 1000;
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
		admitted = false;
		/* the count needs a writer to record it later */
		if (!writer_for_my_db(&wake, &need_start))
			need_start = false;
	}
	LWLockRelease(audit_shared->lock);
	if (need_start)
		(void) register_writer(MyDatabaseId);
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

int64
ms_audit_write(const AuditRecord *rec)
{
	AuditSlot	local;
	/* set to NULL inside PG_TRY and read in PG_CATCH: volatile */
	AuditSlot  *volatile slot = NULL;
	Latch	   *wake = NULL;
	bool		need_start = false;
	bool		db_full = false;
	TimestampTz deadline;
	int64		result = 0;
	char	   *rolename;
	Oid			roleid = ms_current_caller();

	ms_audit_require();

	/* build the record outside the lock; long fields fail here */
	memset(&local, 0, sizeof(local));
	local.at = rec->at ? rec->at : GetCurrentTimestamp();
	local.pid = MyProcPid;
	rolename = GetUserNameFromId(roleid, false);
	strlcpy(local.role, rolename, NAMEDATALEN);
	strlcpy(local.login, login_name(), NAMEDATALEN);
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

	if (is_refusal(local.action) && !refusal_admitted(roleid, rolename, local.org))
		return 0;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_timeout_ms);

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
	*slot = local;
	slot->seq = audit_shared->next_seq++;
	slot->state = SLOT_PENDING;

	if (!writer_for_my_db(&wake, &need_start))
	{
		slot->state = SLOT_FREE;
		LWLockRelease(audit_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many databases with a running machinesoup audit writer"),
				 errdetail("The audited action was refused.")));
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

/* the bytes of a hash stored in a bytea, or false if it is not one */
static bool
stored_hash(HeapTuple tup, TupleDesc td, int col, uint8 *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, td, col, &isnull);
	bytea	   *h;

	if (isnull)
		return false;
	h = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(h) != AUDIT_HASH_LEN)
		return false;
	memcpy(out, VARDATA_ANY(h), AUDIT_HASH_LEN);
	return true;
}

/*
 * The canonical values of a stored row read by
 *   SELECT id, at, role, pid, client_addr, action, org, model, label,
 *		    batch_id, reason, login, hash
 * (login and hash at columns 12 and 13; legacy scans have no login column
 * and hash at 12).
 */
static void
row_values(HeapTuple tup, TupleDesc td, bool with_login, const char **values)
{
	bool		isnull;
	Datum		d;

	values[0] = SPI_getvalue(tup, td, 1);
	d = SPI_getbinval(tup, td, 2, &isnull);
	values[1] = isnull ? NULL : int64_text((int64) DatumGetTimestampTz(d));
	for (int c = 2; c < AUDIT_LEGACY_NCOLS; c++)
		values[c] = SPI_getvalue(tup, td, c + 1);
	values[AUDIT_NCOLS - 1] = with_login ? SPI_getvalue(tup, td, AUDIT_NCOLS) : NULL;
}

#define AUDIT_SELECT_KEYED "SELECT id, at, role, pid, client_addr, action, org, model, label, " \
	"batch_id, reason, login, hash FROM ms.audit_log "
#define AUDIT_SELECT_LEGACY "SELECT id, at, role, pid, client_addr, action, org, model, label, " \
	"batch_id, reason, hash FROM ms.audit_log "

/*
 * Before appending to a keyed chain: the table must still extend the head
 * this database's writer recorded.  Returns the last row's id and hash
 * (the rows after the head, left by a crash between a commit and the head
 * write, are checked with the key) and the epoch in *head; raises an ERROR
 * when the head is missing, the head's row is gone or altered, or a later
 * row does not verify.
 */
static void
check_head(Oid dboid, uint8 *key, AuditHead *head, int64 *last_id, uint8 *prev)
{
	int			ret;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	char	   *name = head_name(dboid);
	bool		have_key;

	if (!read_head(dboid, head))
	{
		ret = SPI_execute("SELECT 1 FROM ms.audit_log LIMIT 1", true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read ms.audit_log: %d", ret);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the audit chain head file \"%s\" is missing, but ms.audit_log has rows", name),
					 errhint("Restore the head file and machinesoup/audit.key from the backup the log came from.")));
		/* a new log: the keyed epoch starts at row 1 */
		head->epoch_start = 1;
		head->last_id = 0;
		memset(head->last_hash, 0, AUDIT_HASH_LEN);
	}

	have_key = read_key(key);
	if (!have_key)
	{
		if (head->last_id >= head->epoch_start)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the audit key file \"%s/audit.key\" is missing, but the chain head \"%s\" records keyed rows",
							AUDIT_DIR, name),
					 errhint("Restore machinesoup/audit.key from the backup of this cluster.")));
		create_key(key);
	}

	*last_id = head->last_id;
	memcpy(prev, head->last_hash, AUDIT_HASH_LEN);
	if (head->last_id > 0)
	{
		uint8		h[AUDIT_HASH_LEN];

		args[0] = Int64GetDatum(head->last_id);
		ret = SPI_execute_with_args("SELECT hash FROM ms.audit_log WHERE id OPERATOR(pg_catalog.=) $1",
									1, argtypes, args, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read ms.audit_log: %d", ret);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ms.audit_log no longer reaches its chain head: row " INT64_FORMAT " is missing",
							head->last_id),
					 errdetail("The head is recorded in \"%s\".", name)));
		if (!stored_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, h) ||
			memcmp(h, head->last_hash, AUDIT_HASH_LEN) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ms.audit_log does not match its chain head: row " INT64_FORMAT " has another hash",
							head->last_id),
					 errdetail("The head is recorded in \"%s\".", name)));
	}

	/* rows after the head: committed, but the head not written (a crash) */
	args[0] = Int64GetDatum(head->last_id);
	ret = SPI_execute_with_args(AUDIT_SELECT_KEYED "WHERE id OPERATOR(pg_catalog.>) $1 ORDER BY id",
								1, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ms.audit_log: %d", ret);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		const char *values[AUDIT_NCOLS];
		uint8		h[AUDIT_HASH_LEN];
		uint8		stored[AUDIT_HASH_LEN];
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));

		row_values(tup, td, true, values);
		audit_chain_hash(key, prev, values, h);
		if (id != *last_id + 1 || !stored_hash(tup, td, AUDIT_NCOLS + 1, stored) ||
			memcmp(h, stored, AUDIT_HASH_LEN) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ms.audit_log does not extend its chain head: row " INT64_FORMAT " after the head does not verify",
							id),
					 errdetail("The head (row " INT64_FORMAT ") is recorded in \"%s\".",
							   head->last_id, name)));
		*last_id = id;
		memcpy(prev, h, AUDIT_HASH_LEN);
	}
}

/*
 * Append the records in batch[0..n) in one transaction.  Fills ids[] and
 * returns normally on commit (with the head file written); raises an
 * ERROR otherwise.
 */
static void
append_records(Oid dboid, AuditSlot *batch, int n, int64 *ids)
{
	uint8		prev[AUDIT_HASH_LEN];
	uint8		key[AUDIT_KEY_LEN];
	AuditHead	head;
	int64		last_id = 0;
	bool		legacy;
	Oid			argtypes[13] = {INT8OID, TIMESTAMPTZOID, NAMEOID, INT4OID, INETOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, BYTEAOID, NAMEOID};
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
	legacy = audit_legacy_schema();
	if (legacy)
	{
		/* before the update to 0.4.0: the unkeyed chain, continued */
		ret = SPI_execute("SELECT id, hash FROM ms.audit_log ORDER BY id DESC LIMIT 1", true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the last audit record: %d", ret);
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		d;

			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			last_id = isnull ? 0 : DatumGetInt64(d);
			(void) stored_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, prev);
		}
		plan = SPI_prepare("INSERT INTO ms.audit_log (id, at, role, pid, client_addr, action, org, "
						   "model, label, batch_id, reason, hash) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
						   12, argtypes);
	}
	else
	{
		check_head(dboid, key, &head, &last_id, prev);
		plan = SPI_prepare("INSERT INTO ms.audit_log (id, at, role, pid, client_addr, action, org, "
						   "model, label, batch_id, reason, hash, login) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
						   13, argtypes);
	}
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit insert: %d", SPI_result);

	for (int i = 0; i < n; i++)
	{
		AuditSlot  *r = &batch[i];
		const char *values[AUDIT_NCOLS];
		Datum		args[13];
		char		nulls[13];
		char	   *addr = NULL;
		uint8		hash[AUDIT_HASH_LEN];
		bytea	   *hb;
		NameData	role;
		NameData	login;

		memset(nulls, ' ', sizeof(nulls));
		/* normalise the address through inet so the hash uses stored text */
		if (r->client_addr[0])
			addr = DatumGetCString(DirectFunctionCall1(inet_out,
													   DirectFunctionCall1(inet_in,
																		   CStringGetDatum(r->client_addr))));
		namestrcpy(&role, r->role);
		namestrcpy(&login, r->login);

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
		values[11] = nullable(NameStr(login));
		audit_chain_hash(legacy ? NULL : key, prev, values, hash);

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
		hb = (bytea *) palloc(VARHDRSZ + AUDIT_HASH_LEN);
		SET_VARSIZE(hb, VARHDRSZ + AUDIT_HASH_LEN);
		memcpy(VARDATA(hb), hash, AUDIT_HASH_LEN);
		args[11] = PointerGetDatum(hb);
		args[12] = NameGetDatum(&login);
		if (values[11] == NULL)
			nulls[12] = 'n';

		audit_writer_appending = true;
		ret = SPI_execute_plan(plan, args, nulls, false, 0);
		audit_writer_appending = false;
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

	/*
	 * The head follows the commit.  The records are committed whatever
	 * happens here; a head left behind by a failure or crash is caught up
	 * by the next append, which checks the rows after it with the key.
	 */
	if (!legacy)
	{
		head.last_id = last_id;
		memcpy(head.last_hash, prev, AUDIT_HASH_LEN);
		write_head(dboid, &head, WARNING);
	}
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
		append_records(dboid, batch, n, ids);
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
	volatile int n;				/* read in PG_CATCH */

	while ((n = take_pending(dboid, batch, idx)) > 0)
	{
		MemoryContextSwitchTo(workctx);
		PG_TRY();
		{
			append_records(dboid, batch, n, ids);
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
		flush_suppressed(dboid, workctx);

		/* leave when idle, unless a request slipped in meanwhile */
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		{
			bool		pending = false;
			bool		counted = false;

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

typedef struct VerifyResult
{
	bool		ok;
	int64		checked;
	int64		first_bad;		/* 0: none */
	char	   *problem;		/* NULL when ok */
	MemoryContext cxt;			/* where problem lives (outliving SPI) */
} VerifyResult;

static void
verify_fail(VerifyResult *res, int64 first_bad, char *problem)
{
	if (!res->ok)
		return;					/* the first problem found is the one reported */
	res->ok = false;
	res->first_bad = first_bad;
	res->problem = MemoryContextStrdup(res->cxt, problem);
}

/*
 * Recompute the chain over the whole log in id order: rows before the
 * epoch with SHA-256, the rest with the key; the log must reach the head
 * recorded outside it (keyed versions only).  With since_id > 0, row
 * since_id must also still have the hash expected (the customer's copy of
 * an earlier head).  The first problem found is reported.
 */
static void
verify_chain(int64 since_id, const uint8 *expected, VerifyResult *res)
{
	uint8		prev[AUDIT_HASH_LEN];
	uint8		key[AUDIT_KEY_LEN];
	AuditHead	head;
	bool		legacy;
	bool		have_head = false;
	bool		have_key = false;
	bool		head_seen = false;
	bool		since_seen = false;
	int64		expect_id = 1;
	Portal		portal;
	SPIPlanPtr	plan;
	char	   *name = head_name(MyDatabaseId);

	memset(res, 0, sizeof(*res));
	res->ok = true;
	res->cxt = CurrentMemoryContext;
	memset(prev, 0, sizeof(prev));

	SPI_connect();
	legacy = audit_legacy_schema();
	if (!legacy)
	{
		/* the head is read before the table, whose snapshot is then newer */
		have_head = read_head(MyDatabaseId, &head);
		have_key = read_key(key);
	}
	PushActiveSnapshot(GetLatestSnapshot());
	plan = SPI_prepare(legacy ? AUDIT_SELECT_LEGACY "ORDER BY id" : AUDIT_SELECT_KEYED "ORDER BY id",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit scan: %d", SPI_result);
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	while (res->ok)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed && res->ok; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			const char *values[AUDIT_NCOLS];
			bool		isnull;
			bool		keyed;
			int64		id;
			uint8		hash[AUDIT_HASH_LEN];
			uint8		stored[AUDIT_HASH_LEN];

			id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
			if (!legacy && !have_head)
			{
				verify_fail(res, 0,
							psprintf("the audit chain head file \"%s\" is missing; restore it and %s/audit.key from the backup the log came from",
									 name, AUDIT_DIR));
				break;
			}
			res->checked++;
			if (id != expect_id)
			{
				/* a gap: the first missing id is where the log was cut */
				verify_fail(res, id > expect_id ? expect_id : id,
							psprintf("row " INT64_FORMAT " is missing", id > expect_id ? expect_id : id));
				break;
			}
			expect_id++;

			keyed = !legacy && id >= head.epoch_start;
			if (keyed && !have_key)
			{
				verify_fail(res, id,
							psprintf("the audit key file \"%s/audit.key\" is missing; restore it from the backup of this cluster",
									 AUDIT_DIR));
				break;
			}
			row_values(tup, td, !legacy, values);
			audit_chain_hash(keyed ? key : NULL, prev, values, hash);
			if (!stored_hash(tup, td, legacy ? AUDIT_LEGACY_NCOLS + 1 : AUDIT_NCOLS + 1, stored) ||
				memcmp(stored, hash, AUDIT_HASH_LEN) != 0)
			{
				verify_fail(res, id, psprintf("row " INT64_FORMAT " does not verify", id));
				break;
			}
			if (!legacy && id == head.last_id)
			{
				head_seen = true;
				if (memcmp(hash, head.last_hash, AUDIT_HASH_LEN) != 0)
				{
					verify_fail(res, id,
								psprintf("row " INT64_FORMAT " does not match the chain head recorded in \"%s\"",
										 id, name));
					break;
				}
			}
			if (id == since_id)
			{
				since_seen = true;
				if (memcmp(hash, expected, AUDIT_HASH_LEN) != 0)
				{
					verify_fail(res, id,
								psprintf("row " INT64_FORMAT " does not have the expected hash", id));
					break;
				}
			}
			/* continue from the stored hash, which equals the computed one */
			memcpy(prev, hash, sizeof(prev));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	PopActiveSnapshot();
	SPI_finish();

	if (!res->ok)
		return;
	if (!legacy && !have_head && res->checked == 0 && since_id == 0)
		return;					/* a new, empty log */
	if (!legacy && have_head && !head_seen && head.last_id > 0)
		verify_fail(res, expect_id,
					psprintf("the log ends at row " INT64_FORMAT ", but its chain head in \"%s\" records row " INT64_FORMAT,
							 expect_id - 1, name, head.last_id));
	else if (since_id > 0 && !since_seen)
		verify_fail(res, since_id,
					psprintf("row " INT64_FORMAT " does not exist: the log ends at row " INT64_FORMAT,
							 since_id, expect_id - 1));
}

/*
 * ms.verify_audit() and ms.verify_audit(since_id, expected_hash), as the
 * extension's owner: (ok, checked, first_bad, problem).  Versions before
 * 0.4.0 declared only the first three columns.
 */
static Datum
verify_audit_as_owner(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		result[4];
	bool		nulls[4] = {false, false, false, false};
	VerifyResult res;
	int64		since_id = 0;
	uint8		expected[AUDIT_HASH_LEN];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (PG_NARGS() == 2)
	{
		bytea	   *h;

		if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", PG_ARGISNULL(0) ? "since_id" : "expected_hash")));
		since_id = PG_GETARG_INT64(0);
		h = PG_GETARG_BYTEA_PP(1);
		if (since_id < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("since_id must be a row id (1 or more)")));
		if (VARSIZE_ANY_EXHDR(h) != AUDIT_HASH_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expected_hash must be %d bytes long", AUDIT_HASH_LEN),
					 errdetail("It is the head_hash that ms.access_report returned.")));
		memcpy(expected, VARDATA_ANY(h), AUDIT_HASH_LEN);
	}

	verify_chain(since_id, expected, &res);

	result[0] = BoolGetDatum(res.ok);
	result[1] = Int64GetDatum(res.checked);
	if (res.first_bad > 0)
		result[2] = Int64GetDatum(res.first_bad);
	else
		nulls[2] = true;
	if (res.problem)
		result[3] = CStringGetTextDatum(res.problem);
	else
		nulls[3] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}

/* ms.verify_audit(...): an entry point, run as the extension's owner */
Datum
ms_verify_audit(PG_FUNCTION_ARGS)
{
	return ms_call_as_owner(verify_audit_as_owner, fcinfo);
}

/*
 * ms._audit_begin_epoch(): called by the update to 0.4.0.  Records the
 * head of the unkeyed log as it stands, so that rows up to it are verified
 * the old way and the next row starts the keyed epoch.  Only a superuser
 * (the role running the update); a head that already records keyed rows
 * is left alone.
 */
Datum
ms_audit_begin_epoch(PG_FUNCTION_ARGS)
{
	AuditHead	head;
	int			ret;

	if (!superuser_arg(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to begin an audit chain epoch"),
				 errdetail("Only a superuser may (the update of the extension does).")));
	if (creating_extension)
		set_head_aside(MyDatabaseId);	/* a keyed head here is a dropped log's */
	else if (read_head(MyDatabaseId, &head) && head.last_id >= head.epoch_start)
		PG_RETURN_VOID();

	SPI_connect();
	ret = SPI_execute("LOCK TABLE ms.audit_log IN EXCLUSIVE MODE", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock ms.audit_log: %d", ret);
	memset(&head, 0, sizeof(head));
	ret = SPI_execute("SELECT id, hash FROM ms.audit_log ORDER BY id DESC LIMIT 1", false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the last audit record: %d", ret);
	if (SPI_processed == 1)
	{
		bool		isnull;

		head.last_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
		(void) stored_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, head.last_hash);
	}
	SPI_finish();
	head.epoch_start = head.last_id + 1;
	write_head(MyDatabaseId, &head, ERROR);
	PG_RETURN_VOID();
}

/*
 * Rename the head file of a database aside, if there is one: it belongs to
 * an ms.audit_log that is gone.
 */
static void
set_head_aside(Oid dboid)
{
	char	   *path = head_path(dboid);
	char	   *aside;
	struct stat st;

	if (stat(path, &st) < 0)
	{
		if (errno == ENOENT)
			return;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	}
	aside = psprintf("%s.replaced." INT64_FORMAT, path, (int64) time(NULL));
	(void) durable_rename(path, aside, ERROR);
	ereport(LOG,
			(errmsg("audit chain head \"%s\" of an earlier ms.audit_log set aside as \"%s\"",
					head_name(dboid), aside),
			 errdetail("The extension's script starts a new audit chain.")));
}

/*
 * ms._audit_new_log(): called by the install script.  A new ms.audit_log
 * starts a new chain; a head file left by an earlier one in this database
 * (DROP EXTENSION, which only the extension's owner can run, or a dropped
 * database whose OID came round again) would refuse every record, so it is
 * set aside under a name of its own, kept for whoever holds a customer's
 * head of the old log.  A restore copies the head in after CREATE
 * EXTENSION (README.md), so it is not the one set aside.
 */
Datum
ms_audit_new_log(PG_FUNCTION_ARGS)
{
	if (!creating_extension)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ms._audit_new_log() runs only in CREATE EXTENSION machinesoup")));
	set_head_aside(MyDatabaseId);
	PG_RETURN_VOID();
}

/*
 * Trigger on ms.audit_log: INSERT is for the audit writer alone; UPDATE,
 * DELETE and TRUNCATE are refused to everyone but a superuser.  The role
 * judged is GetUserId(), the role whose statement fires the trigger: a
 * superuser's session running another role's code (a definer function,
 * an index expression) is that role here.
 */
Datum
ms_audit_log_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ms._audit_log_guard: not called by trigger manager");
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		if (!audit_writer_appending)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("ms.audit_log is append-only"),
					 errdetail("Rows are added only by the machinesoup audit writer."),
					 errhint("To restore a dump, run pg_restore or psql as a superuser with PGOPTIONS='-c session_replication_role=replica'.")));
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	if (!superuser_arg(GetUserId()))
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
