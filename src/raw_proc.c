/*
 * raw_proc.c
 *		Processors: the built-in ms.proc_csv and ms.proc_float32, and
 *		ms._run_processor, which runs a version's processor on one batch,
 *		sandboxed when it is user code.
 *
 * A processor is (batch bytea, dims integer) RETURNS TABLE (point_id
 * bigint, embedding vec, payload jsonb).  The built-ins are strict parsers
 * (src/core/batch_*.c) whose errors name the line or record.  User
 * processors run as machinesoup.processor_role (a role meant to hold no
 * table privileges) in a security-restricted operation with a fresh GUC
 * nest level, like the code run by maintenance commands on behalf of a
 * table owner: they see the batch they are given and nothing else, and
 * cannot change role, create temporary objects or leave settings behind.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "batch_parse.h"
#include "raw_store.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(ms_proc_csv);
PG_FUNCTION_INFO_V1(ms_proc_float32);
PG_FUNCTION_INFO_V1(ms_run_processor);

typedef enum BatchFormat
{
	FORMAT_CSV,
	FORMAT_FLOAT32
} BatchFormat;

/*
 * What the model store requires of a processor's output, checked here so
 * that the points can go straight into the version's partition: ids and
 * embeddings not NULL, the model's dimension, no zero vector under the
 * cosine metric, no id twice in one batch.
 */
typedef struct PointCheck
{
	int			dims;
	bool		cosine;
	int64	   *ids;
	int64		n;
	int64		cap;
} PointCheck;

static void
check_point(PointCheck *pc, Datum *values, bool *nulls)
{
	Vec		   *v;
	int64		row = pc->n + 1;

	if (nulls[0] || nulls[1])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("processor row " INT64_FORMAT " has a NULL point_id or embedding", row)));
	v = DatumGetVec(values[1]);
	if (v->dim != pc->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", v->dim, pc->dims),
				 errdetail("Processor row " INT64_FORMAT " (point id " INT64_FORMAT ") has %d dimensions; the model has %d.",
						   row, DatumGetInt64(values[0]), v->dim, pc->dims)));
	if (pc->cosine)
	{
		bool		zero = true;

		for (int i = 0; i < v->dim && zero; i++)
			zero = v->x[i] == 0.0f;
		if (zero)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("point " INT64_FORMAT " (id " INT64_FORMAT ") is a zero vector, which has no cosine distance",
							row, DatumGetInt64(values[0]))));
	}
	if (pc->n == pc->cap)
	{
		pc->cap = pc->cap ? pc->cap * 2 : 1024;
		pc->ids = pc->ids ? repalloc_huge(pc->ids, sizeof(int64) * pc->cap)
			: palloc_extended(sizeof(int64) * pc->cap, MCXT_ALLOC_HUGE);
	}
	pc->ids[pc->n++] = DatumGetInt64(values[0]);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

static void
check_unique_ids(PointCheck *pc)
{
	if (pc->n < 2)
		return;
	qsort(pc->ids, pc->n, sizeof(int64), cmp_int64);
	for (int64 i = 1; i < pc->n; i++)
		if (pc->ids[i] == pc->ids[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("point id " INT64_FORMAT " appears more than once", pc->ids[i])));
}

static void
check_dims(int dims)
{
	if (dims < 1 || dims > BATCH_MAX_DIMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dims must be between 1 and %d, not %d", BATCH_MAX_DIMS, dims)));
}

static void
batch_error(BatchFormat format, BatchStatus st, const BatchCursor *c)
{
	if (format == FORMAT_CSV)
	{
		if (st == BATCH_EMPTY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid CSV batch: batch holds no records")));
		if (st == BATCH_FIELD_COUNT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid CSV batch at line " INT64_FORMAT ": wrong number of fields",
							c->record),
					 errdetail("The line has %d fields; point_id and %d coordinates make %d.",
							   c->found, c->dims, c->dims + 1)));
		if (c->field > 0)
			ereport(ERROR,
					(errcode(st == BATCH_OUT_OF_RANGE || st == BATCH_ID_RANGE ?
							 ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE : ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid CSV batch at line " INT64_FORMAT ", field %d: %s",
							c->record, c->field, batch_status_message(st))));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid CSV batch at line " INT64_FORMAT ": %s",
						c->record, batch_status_message(st))));
	}
	if (st == BATCH_EMPTY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid float32 batch: batch holds no records")));
	if (st == BATCH_TRUNCATED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid float32 batch at record " INT64_FORMAT ": %s",
						c->record, batch_status_message(st)),
				 errdetail("The batch has %zu bytes, not a multiple of the %zu-byte record (int64 id and %d float32).",
						   c->len, batch_float32_record_size(c->dims), c->dims)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid float32 batch at record " INT64_FORMAT ", element %d: %s",
					c->record, c->field - 1, batch_status_message(st))));
}

/* Parse the whole batch into the tuplestore (id, vec, NULL payload). */
static void
parse_batch(BatchFormat format, bytea *batch, int dims,
			Tuplestorestate *store, TupleDesc desc, PointCheck *pc)
{
	BatchCursor c;
	BatchStatus st;
	float	   *buf;
	int64		id;

	check_dims(dims);
	buf = palloc(sizeof(float) * dims);
	if (format == FORMAT_CSV)
		batch_csv_begin(&c, VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch), dims);
	else
		batch_float32_begin(&c, VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch), dims);

	for (;;)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, true};
		Vec		   *v;

		CHECK_FOR_INTERRUPTS();
		st = format == FORMAT_CSV ? batch_csv_next(&c, &id, buf) : batch_float32_next(&c, &id, buf);
		if (st == BATCH_END)
			break;
		if (st != BATCH_OK)
			batch_error(format, st, &c);
		v = vec_new(dims);
		memcpy(v->x, buf, sizeof(float) * dims);
		values[0] = Int64GetDatum(id);
		values[1] = PointerGetDatum(v);
		values[2] = (Datum) 0;
		if (pc)
			check_point(pc, values, nulls);
		tuplestore_putvalues(store, desc, values, nulls);
		pfree(v);
	}
	pfree(buf);
}

static Datum
builtin_processor(FunctionCallInfo fcinfo, BatchFormat format)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	parse_batch(format, PG_GETARG_BYTEA_PP(0), PG_GETARG_INT32(1),
				rsinfo->setResult, rsinfo->setDesc, NULL);
	return (Datum) 0;
}

Datum
ms_proc_csv(PG_FUNCTION_ARGS)
{
	return builtin_processor(fcinfo, FORMAT_CSV);
}

Datum
ms_proc_float32(PG_FUNCTION_ARGS)
{
	return builtin_processor(fcinfo, FORMAT_FLOAT32);
}

/*
 * Is procoid one of our own C processors?  Those are trusted code and run
 * in-process without the sandbox's SPI round trip.
 */
static bool
builtin_format(HeapTuple proctup, BatchFormat *format)
{
	Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(proctup);
	Datum		d;
	bool		isnull;
	char	   *src;
	char	   *bin;

	if (proc->prolang != ClanguageId)
		return false;
	d = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_probin, &isnull);
	if (isnull)
		return false;
	bin = TextDatumGetCString(d);
	if (strstr(bin, "machinesoup") == NULL)
		return false;
	d = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_prosrc, &isnull);
	if (isnull)
		return false;
	src = TextDatumGetCString(d);
	if (strcmp(src, "ms_proc_csv") == 0)
		*format = FORMAT_CSV;
	else if (strcmp(src, "ms_proc_float32") == 0)
		*format = FORMAT_FLOAT32;
	else
		return false;
	return true;
}

static void
run_sandboxed(Oid procoid, HeapTuple proctup, bytea *batch, int dims,
			  Tuplestorestate *store, TupleDesc desc, PointCheck *pc)
{
	Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(proctup);
	Oid			role;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	char	   *sql;
	Oid			argtypes[2] = {BYTEAOID, INT4OID};
	Datum		args[2];
	int			ret;

	if (ms_processor_role == NULL || ms_processor_role[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("machinesoup.processor_role is not set"),
				 errhint("User processors run as that role; set it to a role without table privileges.")));
	role = get_role_oid(ms_processor_role, true);
	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("processor role \"%s\" does not exist", ms_processor_role),
				 errhint("Create it with CREATE ROLE %s NOLOGIN, or set machinesoup.processor_role.",
						 quote_identifier(ms_processor_role))));
	if (superuser_arg(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("processor role \"%s\" must not be a superuser", ms_processor_role)));
	if (proc->prosecdef)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("processor %s must not be SECURITY DEFINER",
						format_procedure(procoid)),
				 errdetail("Processors run sandboxed as machinesoup.processor_role.")));

	sql = psprintf("SELECT * FROM %s.%s($1, $2)",
				   quote_identifier(get_namespace_name(proc->pronamespace)),
				   quote_identifier(NameStr(proc->proname)));
	args[0] = PointerGetDatum(batch);
	args[1] = Int32GetDatum(dims);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	save_nestlevel = NewGUCNestLevel();
	SetUserIdAndSecContext(role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	/* an error here aborts the (sub)transaction, which restores both */
	SPI_connect();
	ret = SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "processor query returned %d", ret);
	if (SPI_tuptable->tupdesc->natts != 3 ||
		TupleDescAttr(SPI_tuptable->tupdesc, 0)->atttypid != TupleDescAttr(desc, 0)->atttypid ||
		TupleDescAttr(SPI_tuptable->tupdesc, 1)->atttypid != TupleDescAttr(desc, 1)->atttypid ||
		TupleDescAttr(SPI_tuptable->tupdesc, 2)->atttypid != TupleDescAttr(desc, 2)->atttypid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("processor %s returned the wrong columns", format_procedure(procoid)),
				 errdetail("A processor returns TABLE (point_id bigint, embedding vec, payload jsonb).")));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[3];
		bool		nulls[3];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		check_point(pc, values, nulls);
		tuplestore_putvalues(store, desc, values, nulls);
	}
	SPI_finish();

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * Run a processor (InvalidOid: ms.proc_csv) on one batch into store, whose
 * rows are (point_id bigint, embedding vec, payload jsonb) as desc says,
 * checked against the model: no NULL id or embedding, the model's dims, no
 * zero vector when cosine, no id twice.
 */
void
ms_processor_rows(Oid procoid, bytea *batch, int dims, bool cosine,
				  Tuplestorestate *store, TupleDesc desc)
{
	BatchFormat format = FORMAT_CSV;
	PointCheck	pc;

	check_dims(dims);
	memset(&pc, 0, sizeof(pc));
	pc.dims = dims;
	pc.cosine = cosine;

	if (!OidIsValid(procoid))
		parse_batch(FORMAT_CSV, batch, dims, store, desc, &pc);
	else
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procoid));

		if (!HeapTupleIsValid(tup))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("processor function %u does not exist", procoid)));
		if (builtin_format(tup, &format))
			parse_batch(format, batch, dims, store, desc, &pc);
		else
			run_sandboxed(procoid, tup, batch, dims, store, desc, &pc);
		ReleaseSysCache(tup);
	}
	check_unique_ids(&pc);
	if (pc.ids)
		pfree(pc.ids);
}

/*
 * ms._run_processor(processor regprocedure, batch bytea, dims integer,
 *					 metric text) RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
 *
 * NULL processor means the default, ms.proc_csv.  The rows are checked
 * against the model (dims, metric) so they can be inserted as they are.
 */
Datum
ms_run_processor(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch and dims must not be null")));
	check_dims(PG_GETARG_INT32(2));
	InitMaterializedSRF(fcinfo, 0);
	ms_processor_rows(PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0),
					  PG_GETARG_BYTEA_PP(1), PG_GETARG_INT32(2),
					  !PG_ARGISNULL(3) && strcmp(text_to_cstring(PG_GETARG_TEXT_PP(3)), "cosine") == 0,
					  rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}
