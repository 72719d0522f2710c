/*
 * audit_chain.c
 *		The hash chain of ms.audit_log and the files it keeps outside the
 *		table, shared by the writer (audit_append.c) and the verifier
 *		(audit_verify.c); and the functions the extension's scripts call to
 *		start a chain or an epoch of it.
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
 *
 * Epochs: databases made before 0.4.0 chained plain SHA-256 over the first
 * eleven columns.  The update to 0.4.0 records the head as it stands
 * (ms._audit_begin_epoch) with epoch_start = the next id: rows before it
 * are verified the old way, rows from it on with the key.  While the
 * extension is still at an older version the writer and verifier work the
 * old way and ignore the files.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "commands/extension.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "audit_internal.h"

PG_FUNCTION_INFO_V1(ms_audit_begin_epoch);
PG_FUNCTION_INFO_V1(ms_audit_new_log);

/* ---------------------------------------------------------------------
 * Canonical row text and the hash
 * ---------------------------------------------------------------------
 */

/* appends one value of the canonical text: "<length>:<bytes>;" or "N;" */
static void
canon_field(StringInfo buf, const char *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "N;");
	else
		appendStringInfo(buf, "%zu:%s;", strlen(value), value);
}

/*
 * hash = HMAC-SHA-256(key, prev || canonical text) over all columns, or,
 * with key NULL (rows before the keyed epoch), SHA-256 over the first
 * eleven.
 */
void
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
char *
audit_head_name(Oid dboid)
{
	return psprintf("%s/audit_head.%u", AUDIT_DIR, dboid);
}

/* the directory exists, or an ERROR */
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
bool
audit_read_key(uint8 *key)
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
void
audit_create_key(uint8 *key)
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
		if (save_errno == EEXIST && audit_read_key(key))
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

/* the len bytes spelled by 2 * len lower-case hex digits, then the end */
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
bool
audit_read_head(Oid dboid, AuditHead *head)
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
				 errmsg("audit chain head file \"%s\" is malformed", audit_head_name(dboid))));
	pfree(data);
	return true;
}

/* Write the head of database dboid durably; a failure is raised at elevel. */
void
audit_write_head(Oid dboid, const AuditHead *head, int elevel)
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
bool
audit_legacy_schema(void)
{
	int			ret;
	bool		legacy = false;

	ret = SPI_execute("SELECT extversion FROM pg_catalog.pg_extension "
					  "WHERE extname OPERATOR(pg_catalog.=) 'machinesoup'", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the extension version: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		legacy = (v != NULL && (strcmp(v, "0.1.0") == 0 || strcmp(v, "0.2.0") == 0 ||
								strcmp(v, "0.3.0") == 0));
	}
	return legacy;
}

/* v in decimal, as the canonical text has it */
char *
audit_int64_text(int64 v)
{
	return psprintf(INT64_FORMAT, v);
}

/* ---------------------------------------------------------------------
 * Reading the stored rows back
 * ---------------------------------------------------------------------
 */

/* the bytes of a hash stored in a bytea, or false if it is not one */
bool
audit_stored_hash(HeapTuple tup, TupleDesc td, int col, uint8 *out)
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
void
audit_row_values(HeapTuple tup, TupleDesc td, bool with_login, const char **values)
{
	bool		isnull;
	Datum		d;

	values[0] = SPI_getvalue(tup, td, 1);
	d = SPI_getbinval(tup, td, 2, &isnull);
	values[1] = isnull ? NULL : audit_int64_text((int64) DatumGetTimestampTz(d));
	for (int c = 2; c < AUDIT_LEGACY_NCOLS; c++)
		values[c] = SPI_getvalue(tup, td, c + 1);
	values[AUDIT_NCOLS - 1] = with_login ? SPI_getvalue(tup, td, AUDIT_NCOLS) : NULL;
}

/* ---------------------------------------------------------------------
 * Starting a chain, or its keyed epoch (the extension's scripts)
 * ---------------------------------------------------------------------
 */

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
					audit_head_name(dboid), aside),
			 errdetail("The extension's script starts a new audit chain.")));
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
	else if (audit_read_head(MyDatabaseId, &head) && head.last_id >= head.epoch_start)
		PG_RETURN_VOID();

	SPI_connect();
	ret = SPI_execute("LOCK TABLE ms.audit_log IN EXCLUSIVE MODE", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock ms.audit_log: %s", SPI_result_code_string(ret));
	memset(&head, 0, sizeof(head));
	ret = SPI_execute("SELECT id, hash FROM ms.audit_log ORDER BY id DESC LIMIT 1", false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the last audit record: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;

		head.last_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
		(void) audit_stored_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, head.last_hash);
	}
	SPI_finish();
	head.epoch_start = head.last_id + 1;
	audit_write_head(MyDatabaseId, &head, ERROR);
	PG_RETURN_VOID();
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
