/*
 * audit_verify.c
 *		ms.verify_audit(): recompute the hash chain of ms.audit_log from
 *		what is stored, and check that it reaches the head recorded outside
 *		the table and, if the caller has one, an earlier head of their own.
 *
 * Rows before the keyed epoch are checked with plain SHA-256, the rest
 * with the key (audit_chain.c); the first problem found is reported, with
 * the first row it touches.  A row deleted from the end shows as a log
 * that no longer reaches its head; one deleted from the middle as a gap.
 *
 * A superuser can read the key and rewrite the head file; against that the
 * defence is the customer's copy of the head, which ms.access_report hands
 * out and ms.verify_audit(since_id, expected_hash) checks.  On a Citus
 * coordinator every worker's chain is checked too, and the customer's head
 * may be any node's: the report gives each row the head of its node.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "audit_internal.h"
#include "caller.h"
#include "citus_table.h"

PG_FUNCTION_INFO_V1(ms_verify_audit);

typedef struct VerifyResult
{
	bool		ok;
	int64		checked;
	int64		first_bad;		/* 0: none */
	char	   *problem;		/* NULL when ok */
	MemoryContext cxt;			/* where problem lives (outliving SPI) */
} VerifyResult;

/* what a scan of the log knows, and has seen so far */
typedef struct VerifyScan
{
	bool		legacy;			/* before 0.4.0: unkeyed, no files */
	bool		have_head;
	bool		have_key;
	AuditHead	head;
	uint8		key[AUDIT_KEY_LEN];
	uint8		prev[AUDIT_HASH_LEN];	/* the hash of the row before */
	int64		expect_id;		/* the id the next row must have */
	bool		head_seen;
	int64		since_id;		/* 0: no head of the caller's */
	const uint8 *expected;		/* the hash the caller expects at since_id */
	bool		since_seen;
	char	   *name;			/* the head file, as messages show it */
} VerifyScan;

/* Record a problem in res, unless one is recorded already. */
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
 * Row id, whose hash is hash, against the marks kept outside the log: the
 * head file's row must have the head's hash, and row since_id the hash the
 * caller expects.  False, with the problem in res, if it does not.
 */
static bool
verify_marks(VerifyScan *vs, int64 id, const uint8 *hash, VerifyResult *res)
{
	if (!vs->legacy && id == vs->head.last_id)
	{
		vs->head_seen = true;
		if (memcmp(hash, vs->head.last_hash, AUDIT_HASH_LEN) != 0)
		{
			verify_fail(res, id,
						psprintf("row " INT64_FORMAT " does not match the chain head recorded in \"%s\"",
								 id, vs->name));
			return false;
		}
	}
	if (id == vs->since_id)
	{
		vs->since_seen = true;
		if (memcmp(hash, vs->expected, AUDIT_HASH_LEN) != 0)
		{
			verify_fail(res, id,
						psprintf("row " INT64_FORMAT " does not have the expected hash", id));
			return false;
		}
	}
	return true;
}

/*
 * Check the next row of the scan (rows come in id order): it has the id
 * after the last, its stored hash chains from the last row's, and it
 * matches the marks outside the log where it is their row.  A problem
 * goes to res (and ends the scan).
 */
static void
verify_row(VerifyScan *vs, HeapTuple tup, TupleDesc td, VerifyResult *res)
{
	const char *values[AUDIT_NCOLS];
	bool		isnull;
	bool		keyed;
	int64		id;
	uint8		hash[AUDIT_HASH_LEN];
	uint8		stored[AUDIT_HASH_LEN];

	id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
	if (!vs->legacy && !vs->have_head)
	{
		verify_fail(res, 0,
					psprintf("the audit chain head file \"%s\" is missing; restore it and %s/audit.key from the backup the log came from",
							 vs->name, AUDIT_DIR));
		return;
	}
	res->checked++;
	if (id != vs->expect_id)
	{
		/* a gap: the first missing id is where the log was cut */
		verify_fail(res, id > vs->expect_id ? vs->expect_id : id,
					psprintf("row " INT64_FORMAT " is missing",
							 id > vs->expect_id ? vs->expect_id : id));
		return;
	}
	vs->expect_id++;

	keyed = !vs->legacy && id >= vs->head.epoch_start;
	if (keyed && !vs->have_key)
	{
		verify_fail(res, id,
					psprintf("the audit key file \"%s/audit.key\" is missing; restore it from the backup of this cluster",
							 AUDIT_DIR));
		return;
	}
	audit_row_values(tup, td, !vs->legacy, values);
	audit_chain_hash(keyed ? vs->key : NULL, vs->prev, values, hash);
	if (!audit_stored_hash(tup, td, vs->legacy ? AUDIT_LEGACY_NCOLS + 1 : AUDIT_NCOLS + 1, stored) ||
		memcmp(stored, hash, AUDIT_HASH_LEN) != 0)
	{
		verify_fail(res, id, psprintf("row " INT64_FORMAT " does not verify", id));
		return;
	}
	if (!verify_marks(vs, id, hash, res))
		return;
	/* continue from the stored hash, which equals the computed one */
	memcpy(vs->prev, hash, sizeof(vs->prev));
}

/*
 * After a scan that found nothing wrong: the log must reach the head
 * recorded outside it, and row since_id must have been in it.
 */
static void
verify_end(const VerifyScan *vs, VerifyResult *res)
{
	if (!vs->legacy && !vs->have_head && res->checked == 0 && vs->since_id == 0)
		return;					/* a new, empty log */
	if (!vs->legacy && vs->have_head && !vs->head_seen && vs->head.last_id > 0)
		verify_fail(res, vs->expect_id,
					psprintf("the log ends at row " INT64_FORMAT ", but its chain head in \"%s\" records row " INT64_FORMAT,
							 vs->expect_id - 1, vs->name, vs->head.last_id));
	else if (vs->since_id > 0 && !vs->since_seen)
		verify_fail(res, vs->since_id,
					psprintf("row " INT64_FORMAT " does not exist: the log ends at row " INT64_FORMAT,
							 vs->since_id, vs->expect_id - 1));
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
	VerifyScan	vs;
	Portal		portal;
	SPIPlanPtr	plan;

	memset(res, 0, sizeof(*res));
	res->ok = true;
	res->cxt = CurrentMemoryContext;
	memset(&vs, 0, sizeof(vs));
	vs.expect_id = 1;
	vs.since_id = since_id;
	vs.expected = expected;
	vs.name = audit_head_name(MyDatabaseId);

	SPI_connect();
	vs.legacy = audit_legacy_schema();
	if (!vs.legacy)
	{
		/* the head is read before the table, whose snapshot is then newer */
		vs.have_head = audit_read_head(MyDatabaseId, &vs.head);
		vs.have_key = audit_read_key(vs.key);
	}
	PushActiveSnapshot(GetLatestSnapshot());
	plan = SPI_prepare(vs.legacy ? AUDIT_SELECT_LEGACY "ORDER BY id" : AUDIT_SELECT_KEYED "ORDER BY id",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the audit scan: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	while (res->ok)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed && res->ok; r++)
			verify_row(&vs, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, res);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	PopActiveSnapshot();
	SPI_finish();

	if (res->ok)
		verify_end(&vs, res);
}

/*
 * Whether this node is a Citus coordinator whose model store is distributed
 * (ms.enable_citus): then every worker keeps its own log with its own chain
 * (a routed call records where it runs).  Read from the catalogs, not
 * ms._citus_enabled(): the SQL objects may be of a version without it, not
 * yet updated.
 */
static bool
on_distributed_coordinator(void)
{
	Oid			nsp = get_namespace_oid("ms", true);
	Oid			batches = OidIsValid(nsp) ? get_relname_relid("raw_batches", nsp) : InvalidOid;
	bool		isnull;
	bool		coordinator;

	if (!OidIsValid(batches) || !ms_relation_is_citus_table(batches))
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.citus_is_coordinator()", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed");
	coordinator = SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		!isnull;
	SPI_finish();
	return coordinator;
}

/* hash as an SQL expression (hex digits need no quoting) */
static char *
hash_sql(const uint8 *hash)
{
	char		hex[2 * AUDIT_HASH_LEN + 1];

	hex[hex_encode((const char *) hash, AUDIT_HASH_LEN, hex)] = '\0';
	return psprintf("pg_catalog.decode('%s', 'hex')", hex);
}

/*
 * SQL true when row id of the log of the node that runs it is stored with
 * hash (the chain verification recomputes it): which node's head a
 * customer kept.
 */
static char *
log_holds_sql(int64 id, const uint8 *hash)
{
	return psprintf("EXISTS (SELECT FROM ms.audit_log l WHERE l.id OPERATOR(pg_catalog.=) " INT64_FORMAT
					" AND l.hash OPERATOR(pg_catalog.=) %s)", id, hash_sql(hash));
}

/* log_holds_sql() on this node */
static bool
log_holds(int64 id, const uint8 *hash)
{
	bool		holds;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("SELECT %s", log_holds_sql(id, hash)), true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "SPI_execute failed");
	holds = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return holds;
}

/*
 * On a distributed coordinator: each worker's ms.verify_audit() is run
 * too, as the extension's owner, and its rows counted in res.  The first
 * problem found is the one reported, the worker named in it; a worker that
 * does not answer is one, as its log went unchecked.  With since_id > 0,
 * the worker whose log holds row since_id with the expected hash (the
 * customer kept that worker's head) runs ms.verify_audit(since_id,
 * expected_hash) instead, and *held says whether one did.
 */
static void
verify_workers(VerifyResult *res, int64 since_id, const uint8 *expected, bool *held)
{
	const char *command = "SELECT pg_catalog.row_to_json(v) FROM ms.verify_audit() v";
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	uint64		i;

	if (since_id > 0)
	{
		char	   *holds = log_holds_sql(since_id, expected);

		/* one command for every worker: a one-time filter picks the call */
		command = psprintf("SELECT pg_catalog.row_to_json(v) "
						   "  FROM (SELECT a.*, true AS holds "
						   "          FROM ms.verify_audit(" INT64_FORMAT ", %s) a) v "
						   " WHERE %s "
						   "UNION ALL "
						   "SELECT pg_catalog.row_to_json(v) "
						   "  FROM (SELECT a.*, false AS holds FROM ms.verify_audit() a) v "
						   " WHERE NOT %s",
						   since_id, hash_sql(expected), holds, holds);
	}
	args[0] = CStringGetTextDatum(command);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT pg_catalog.format('%s:%s', w.nodename, w.nodeport), w.success, w.result, "
							  "       (j.v ->> 'ok')::boolean, (j.v ->> 'checked')::bigint, "
							  "       (j.v ->> 'first_bad')::bigint, j.v ->> 'problem', "
							  "       coalesce((j.v ->> 'holds')::boolean, false) "
							  "  FROM pg_catalog.run_command_on_workers($1) w "
							  "       LEFT JOIN LATERAL (SELECT CASE WHEN w.success THEN w.result::pg_catalog.json END) "
							  "         AS j(v) ON true "
							  " ORDER BY w.nodename, w.nodeport",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *node = SPI_getvalue(tup, td, 1);
		bool		success = DatumGetBool(SPI_getbinval(tup, td, 2, &isnull));
		bool		ok;
		Datum		d;

		if (!success)
		{
			verify_fail(res, 0, psprintf("could not verify the audit log of worker %s: %s",
										 node, SPI_getvalue(tup, td, 3)));
			continue;
		}
		d = SPI_getbinval(tup, td, 5, &isnull);
		if (!isnull)
			res->checked += DatumGetInt64(d);
		ok = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
		if (isnull || !ok)
		{
			char	   *problem = SPI_getvalue(tup, td, 7);

			d = SPI_getbinval(tup, td, 6, &isnull);
			verify_fail(res, isnull ? 0 : DatumGetInt64(d),
						psprintf("worker %s: %s", node, problem ? problem : "not verified"));
		}
		if (held && DatumGetBool(SPI_getbinval(tup, td, 8, &isnull)))
			*held = true;
	}
	SPI_finish();
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
	bool		distributed;

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

	distributed = on_distributed_coordinator();

	if (since_id > 0 && distributed && !log_holds(since_id, expected))
	{
		/*
		 * The head the customer kept is a worker's: a report's rows carry the
		 * head of the log that holds them.  This node's chain is checked whole.
		 */
		bool		held = false;

		verify_chain(0, NULL, &res);
		verify_workers(&res, since_id, expected, &held);
		if (!held)
			verify_fail(&res, since_id,
						psprintf("no node's audit log has row " INT64_FORMAT " with the expected hash",
								 since_id));
	}
	else
	{
		verify_chain(since_id, expected, &res);
		if (distributed)
			verify_workers(&res, 0, NULL, NULL);
	}

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

