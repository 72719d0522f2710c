/*
 * audit_append.c
 *		The writer's append transaction: it checks that ms.audit_log still
 *		extends the chain head recorded outside it, appends a batch of
 *		records to the chain, commits, and moves the head.
 *
 * Before appending, the writer checks that the table still extends the
 * head (the head's row has the head's hash, and any rows after it, left by
 * a crash between commit and head write, verify with the key); if not, it
 * refuses the records, and so the audited actions.  The table's EXCLUSIVE
 * lock, held to the commit, keeps one appender at a time, so the chain
 * stays linear; the head file is written after the commit, and a head left
 * behind is caught up by the next append.  While the extension is at a
 * version before 0.4.0 the unkeyed chain is continued and the files are
 * neither read nor written (audit_chain.c, "Epochs").
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/snapmgr.h"

#include "audit_internal.h"

/* the parameters of the INSERT: the columns, hash, then login */
static Oid	insert_argtypes[13] = {INT8OID, TIMESTAMPTZOID, NAMEOID, INT4OID, INETOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, BYTEAOID, NAMEOID};

/* ---------------------------------------------------------------------
 * Does the table still extend its head?
 * ---------------------------------------------------------------------
 */

/*
 * The head of database dboid's chain, or, when there is no head file and
 * the table is empty, the head of a new log (the keyed epoch from row 1).
 * Raises an ERROR when the file is missing but the table has rows.
 */
static void
load_head(Oid dboid, AuditHead *head)
{
	int			ret;

	if (audit_read_head(dboid, head))
		return;
	ret = SPI_execute("SELECT 1 FROM ms.audit_log LIMIT 1", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ms.audit_log: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit chain head file \"%s\" is missing, but ms.audit_log has rows",
						audit_head_name(dboid)),
				 errhint("Restore the head file and machinesoup/audit.key from the backup the log came from.")));
	/* a new log: the keyed epoch starts at row 1 */
	head->epoch_start = 1;
	head->last_id = 0;
	memset(head->last_hash, 0, AUDIT_HASH_LEN);
}

/*
 * The cluster's key, made now if there is none yet.  Raises an ERROR when
 * its file is missing but the head records keyed rows: a new key would
 * not verify them.
 */
static void
load_key(Oid dboid, const AuditHead *head, uint8 *key)
{
	if (audit_read_key(key))
		return;
	if (head->last_id >= head->epoch_start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit key file \"%s/audit.key\" is missing, but the chain head \"%s\" records keyed rows",
						AUDIT_DIR, audit_head_name(dboid)),
				 errhint("Restore machinesoup/audit.key from the backup of this cluster.")));
	audit_create_key(key);
}

/*
 * The head's row (head->last_id > 0) is still in the table, with the
 * head's hash; raises an ERROR if it is gone or altered.
 */
static void
check_head_row(Oid dboid, const AuditHead *head)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	uint8		h[AUDIT_HASH_LEN];
	int			ret;

	args[0] = Int64GetDatum(head->last_id);
	ret = SPI_execute_with_args("SELECT hash FROM ms.audit_log WHERE id OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ms.audit_log: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ms.audit_log no longer reaches its chain head: row " INT64_FORMAT " is missing",
						head->last_id),
				 errdetail("The head is recorded in \"%s\".", audit_head_name(dboid))));
	if (!audit_stored_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, h) ||
		memcmp(h, head->last_hash, AUDIT_HASH_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ms.audit_log does not match its chain head: row " INT64_FORMAT " has another hash",
						head->last_id),
				 errdetail("The head is recorded in \"%s\".", audit_head_name(dboid))));
}

/*
 * The rows after the head, committed but the head not written (a crash
 * between the two), must continue the chain from (*last_id, prev) with the
 * key; on return *last_id and prev are the last row's.  Raises an ERROR
 * at the first row that does not.
 */
static void
check_rows_after_head(Oid dboid, const uint8 *key, const AuditHead *head,
					  int64 *last_id, uint8 *prev)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	int			ret;

	args[0] = Int64GetDatum(head->last_id);
	ret = SPI_execute_with_args(AUDIT_SELECT_KEYED "WHERE id OPERATOR(pg_catalog.>) $1 ORDER BY id",
								1, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ms.audit_log: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		const char *values[AUDIT_NCOLS];
		uint8		h[AUDIT_HASH_LEN];
		uint8		stored[AUDIT_HASH_LEN];
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));

		audit_row_values(tup, td, true, values);
		audit_chain_hash(key, prev, values, h);
		if (id != *last_id + 1 || !audit_stored_hash(tup, td, AUDIT_NCOLS + 1, stored) ||
			memcmp(h, stored, AUDIT_HASH_LEN) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ms.audit_log does not extend its chain head: row " INT64_FORMAT " after the head does not verify",
							id),
					 errdetail("The head (row " INT64_FORMAT ") is recorded in \"%s\".",
							   head->last_id, audit_head_name(dboid))));
		*last_id = id;
		memcpy(prev, h, AUDIT_HASH_LEN);
	}
}

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
	load_head(dboid, head);
	load_key(dboid, head, key);

	*last_id = head->last_id;
	memcpy(prev, head->last_hash, AUDIT_HASH_LEN);
	if (head->last_id > 0)
		check_head_row(dboid, head);

	/* rows after the head: committed, but the head not written (a crash) */
	check_rows_after_head(dboid, key, head, last_id, prev);
}

/* ---------------------------------------------------------------------
 * Appending
 * ---------------------------------------------------------------------
 */

static const char *
nullable(const char *s)
{
	return s[0] ? s : NULL;
}

/*
 * Start the append's transaction and take the table's EXCLUSIVE lock,
 * with a snapshot taken after the lock was granted.
 */
static void
begin_append(void)
{
	int			ret;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "appending audit records");

	/* one appender at a time keeps the chain linear */
	ret = SPI_execute("LOCK TABLE ms.audit_log IN EXCLUSIVE MODE", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock ms.audit_log: %s", SPI_result_code_string(ret));
	/* the lock may have waited: look at the table as it is now */
	PopActiveSnapshot();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * Where the unkeyed chain of a database not yet updated to 0.4.0 ends:
 * its last row's id and hash (0 and zeros for an empty log), and the
 * INSERT of its columns (no login).
 */
static SPIPlanPtr
prepare_legacy_append(int64 *last_id, uint8 *prev)
{
	int			ret;

	ret = SPI_execute("SELECT id, hash FROM ms.audit_log ORDER BY id DESC LIMIT 1", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the last audit record: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d;

		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*last_id = isnull ? 0 : DatumGetInt64(d);
		(void) audit_stored_hash(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, prev);
	}
	return SPI_prepare("INSERT INTO ms.audit_log (id, at, role, pid, client_addr, action, org, "
					   "model, label, batch_id, reason, hash) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
					   12, insert_argtypes);
}

/*
 * The canonical values of record r as row id: the text the stored row
 * will give back (the address normalised through inet, role and login as
 * names), so that the verifier recomputes the same hash.
 */
static void
record_values(const AuditSlot *r, int64 id, NameData *role, NameData *login,
			  const char **values)
{
	char	   *addr = NULL;

	/* normalise the address through inet so the hash uses stored text */
	if (r->client_addr[0])
		addr = DatumGetCString(DirectFunctionCall1(inet_out,
												   DirectFunctionCall1(inet_in,
																	   CStringGetDatum(r->client_addr))));
	namestrcpy(role, r->role);
	namestrcpy(login, r->login);

	values[0] = audit_int64_text(id);
	values[1] = audit_int64_text((int64) r->at);
	values[2] = NameStr(*role);
	values[3] = psprintf("%d", r->pid);
	values[4] = addr;
	values[5] = nullable(r->action);
	values[6] = nullable(r->org);
	values[7] = nullable(r->model);
	values[8] = nullable(r->label);
	values[9] = r->has_batch ? audit_int64_text(r->batch_id) : NULL;
	values[10] = nullable(r->reason);
	values[11] = nullable(NameStr(*login));
}

/*
 * Insert record r as row id, chained after prev (key NULL: the unkeyed
 * chain); its hash in hash.  Only here may the INSERT guard let a row in.
 */
static void
insert_record(SPIPlanPtr plan, const AuditSlot *r, int64 id,
			  const uint8 *key, const uint8 *prev, uint8 *hash)
{
	const char *values[AUDIT_NCOLS];
	Datum		args[13];
	char		nulls[13];
	bytea	   *hb;
	NameData	role;
	NameData	login;
	int			ret;

	memset(nulls, ' ', sizeof(nulls));
	record_values(r, id, &role, &login, values);
	audit_chain_hash(key, prev, values, hash);

	args[0] = Int64GetDatum(id);
	args[1] = TimestampTzGetDatum(r->at);
	args[2] = NameGetDatum(&role);
	args[3] = Int32GetDatum(r->pid);
	if (values[4])
		args[4] = DirectFunctionCall1(inet_in, CStringGetDatum(values[4]));
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
		elog(ERROR, "could not insert an audit record: %s", SPI_result_code_string(ret));
}

/*
 * Append the records in batch[0..n) in one transaction.  Fills ids[] and
 * returns normally on commit (with the head file written); raises an
 * ERROR otherwise.
 */
void
audit_append_records(Oid dboid, AuditSlot *batch, int n, int64 *ids)
{
	uint8		prev[AUDIT_HASH_LEN];
	uint8		key[AUDIT_KEY_LEN];
	AuditHead	head;
	int64		last_id = 0;
	bool		legacy;
	SPIPlanPtr	plan;

	begin_append();

	memset(prev, 0, sizeof(prev));
	legacy = audit_legacy_schema();
	if (legacy)
	{
		/* before the update to 0.4.0: the unkeyed chain, continued */
		plan = prepare_legacy_append(&last_id, prev);
	}
	else
	{
		check_head(dboid, key, &head, &last_id, prev);
		plan = SPI_prepare("INSERT INTO ms.audit_log (id, at, role, pid, client_addr, action, org, "
						   "model, label, batch_id, reason, hash, login) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
						   13, insert_argtypes);
	}
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit insert: %s",
			 SPI_result_code_string(SPI_result));

	for (int i = 0; i < n; i++)
	{
		uint8		hash[AUDIT_HASH_LEN];

		insert_record(plan, &batch[i], last_id + 1, legacy ? NULL : key, prev, hash);
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
		audit_write_head(dboid, &head, WARNING);
	}
}
