/*
 * raw_proc.c
 *		Processors: the built-in ms.proc_csv, ms.proc_float32,
 *		ms.proc_float16, ms.proc_binary_quantize and ms.proc_sparse, and
 *		ms._run_processor, which runs a version's processor on one batch,
 *		sandboxed when it is user code.
 *
 * A processor is (batch bytea, dims integer) RETURNS TABLE (point_id
 * bigint, embedding <the model's type>, payload jsonb): vec for float32
 * models, hvec, bvec or svec for the others (elemtype.h).  The built-ins are strict parsers
 * (core/batch_*.c) whose errors name the line or record.  User
 * processors run sandboxed as their organization's processor role
 * (raw_sandbox.c): they see the batch they are given and nothing else.
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
#include "bit_kernels.h"
#include "bvec.h"
#include "elemtype.h"
#include "hvec.h"
#include "raw_store.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(ms_proc_csv);
PG_FUNCTION_INFO_V1(ms_proc_float32);
PG_FUNCTION_INFO_V1(ms_proc_float16);
PG_FUNCTION_INFO_V1(ms_proc_binary_quantize);
PG_FUNCTION_INFO_V1(ms_proc_sparse);
PG_FUNCTION_INFO_V1(ms_run_processor);

typedef enum BatchFormat
{
	FORMAT_CSV,					/* vec */
	FORMAT_FLOAT32,				/* vec */
	FORMAT_FLOAT16,				/* hvec */
	FORMAT_BINARY_QUANTIZE,		/* bvec, of float32 records */
	FORMAT_SPARSE				/* svec */
} BatchFormat;

/* the element kind each format yields */
static MsElemKind
format_kind(BatchFormat format)
{
	switch (format)
	{
		case FORMAT_FLOAT16:
			return MS_ELEM_FLOAT16;
		case FORMAT_BINARY_QUANTIZE:
			return MS_ELEM_BIT;
		case FORMAT_SPARSE:
			return MS_ELEM_SPARSE;
		default:
			return MS_ELEM_FLOAT32;
	}
}

/* the built-in processor a version without one runs, by element kind */
static BatchFormat
default_format(MsElemKind kind)
{
	switch (kind)
	{
		case MS_ELEM_FLOAT16:
			return FORMAT_FLOAT16;
		case MS_ELEM_BIT:
			return FORMAT_BINARY_QUANTIZE;
		case MS_ELEM_SPARSE:
			return FORMAT_SPARSE;
		default:
			return FORMAT_CSV;
	}
}

/*
 * What the model store requires of a processor's output, checked here so
 * that the points can go straight into the version's partition: ids and
 * embeddings not NULL, the model's dimension, no zero vector under the
 * cosine metric, no id twice in one batch.
 */
typedef struct PointCheck
{
	MsElemKind	kind;			/* of the embeddings */
	int			dims;
	bool		cosine;
	int64	   *ids;
	int64		n;
	int64		cap;
} PointCheck;

/* Raises unless one processor row meets PointCheck; remembers its id. */
static void
check_point(PointCheck *pc, Datum *values, bool *nulls)
{
	int32		dim;
	int64		row = pc->n + 1;

	if (nulls[0] || nulls[1])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("processor row " INT64_FORMAT " has a NULL point_id or embedding", row)));
	dim = ms_elem_dims(values[1], pc->kind);
	if (dim != pc->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d", ms_elem_type_name(pc->kind),
						dim, pc->dims),
				 errdetail("Processor row " INT64_FORMAT " (point id " INT64_FORMAT ") has %d dimensions; the model has %d.",
						   row, DatumGetInt64(values[0]), dim, pc->dims)));
	if (pc->cosine && ms_elem_is_zero(values[1], pc->kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("point " INT64_FORMAT " (id " INT64_FORMAT ") is a zero vector, which has no cosine distance",
						row, DatumGetInt64(values[0]))));
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

/* Raises if any id came twice in the batch (sorts pc->ids). */
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

/*
 * Raises unless dims is a dimension of a model of kind (the built-in
 * parsers of float data take at most BATCH_MAX_DIMS).
 */
static void
check_dims(int dims, MsElemKind kind)
{
	int			max = kind == MS_ELEM_BIT ? BVEC_MAX_BITS :
		kind == MS_ELEM_SPARSE ? 1000000000 : BATCH_MAX_DIMS;

	if (dims < 1 || dims > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dims must be between 1 and %d, not %d", max, dims)));
}

/* Raises the error of a parser status st at c's position, in SQL terms. */
static void
batch_error(BatchFormat format, BatchStatus st, const BatchCursor *c)
{
	const char *name;

	if (format == FORMAT_CSV || format == FORMAT_SPARSE)
	{
		name = format == FORMAT_CSV ? "CSV" : "sparse";
		if (st == BATCH_EMPTY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid %s batch: batch holds no records", name)));
		if (st == BATCH_FIELD_COUNT && format == FORMAT_SPARSE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid sparse batch at line " INT64_FORMAT ": no \",\" after the point id",
							c->record),
					 errdetail("A line is point_id,{index:value,...}/dims.")));
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
					 errmsg("invalid %s batch at line " INT64_FORMAT ", field %d: %s",
							name, c->record, c->field, batch_status_message(st))));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid %s batch at line " INT64_FORMAT ": %s",
						name, c->record, batch_status_message(st))));
	}
	name = format == FORMAT_FLOAT16 ? "float16" : "float32";
	if (st == BATCH_EMPTY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid %s batch: batch holds no records", name)));
	if (st == BATCH_TRUNCATED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid %s batch at record " INT64_FORMAT ": %s",
						name, c->record, batch_status_message(st)),
				 errdetail("The batch has %zu bytes, not a multiple of the %zu-byte record (int64 id and %d %s).",
						   c->len, format == FORMAT_FLOAT16 ?
						   batch_float16_record_size(c->dims) :
						   batch_float32_record_size(c->dims), c->dims, name)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid %s batch at record " INT64_FORMAT ", element %d: %s",
					name, c->record, c->field - 1, batch_status_message(st))));
}

/* errcontext of an svec's text that a sparse batch line holds */
static void
sparse_line_context(void *arg)
{
	errcontext("sparse batch line " INT64_FORMAT, *(int64 *) arg);
}

/*
 * The svec (of type svectype) of a sparse batch line's text after the id
 * (rest[0..len)), of dims dimensions: svec's own input function, its
 * errors placed at the line.
 */
static Datum
sparse_line_svec(Oid svectype, const char *rest, size_t len, int dims, int64 line)
{
	ErrorContextCallback cb;
	char	   *text = pnstrdup(rest, len);
	Oid			infunc;
	Oid			ioparam;
	Datum		d;

	getTypeInputInfo(svectype, &infunc, &ioparam);
	cb.callback = sparse_line_context;
	cb.arg = &line;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	d = OidInputFunctionCall(infunc, text, ioparam, dims);
	error_context_stack = cb.previous;
	pfree(text);
	return d;
}

/* Parse the whole batch into the tuplestore (id, embedding, NULL payload). */
static void
parse_batch(BatchFormat format, bytea *batch, int dims,
			Tuplestorestate *store, TupleDesc desc, PointCheck *pc)
{
	BatchCursor c;
	BatchStatus st;
	float	   *buf = NULL;
	uint16	   *hbuf = NULL;
	int64		id;
	const char *data = VARDATA_ANY(batch);
	size_t		len = VARSIZE_ANY_EXHDR(batch);

	check_dims(dims, format_kind(format));
	switch (format)
	{
		case FORMAT_CSV:
			batch_csv_begin(&c, data, len, dims);
			break;
		case FORMAT_FLOAT32:
		case FORMAT_BINARY_QUANTIZE:
			batch_float32_begin(&c, data, len, dims);
			break;
		case FORMAT_FLOAT16:
			batch_float16_begin(&c, data, len, dims);
			break;
		case FORMAT_SPARSE:
			batch_sparse_begin(&c, data, len);
			break;
	}
	if (format == FORMAT_FLOAT16)
		hbuf = palloc(sizeof(uint16) * dims);
	else if (format != FORMAT_SPARSE)
		buf = palloc(sizeof(float) * dims);

	for (;;)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, true};
		const char *rest = NULL;
		size_t		restlen = 0;
		Pointer		p;

		CHECK_FOR_INTERRUPTS();
		switch (format)
		{
			case FORMAT_CSV:
				st = batch_csv_next(&c, &id, buf);
				break;
			case FORMAT_FLOAT16:
				st = batch_float16_next(&c, &id, hbuf);
				break;
			case FORMAT_SPARSE:
				st = batch_sparse_next(&c, &id, &rest, &restlen);
				break;
			default:
				st = batch_float32_next(&c, &id, buf);
				break;
		}
		if (st == BATCH_END)
			break;
		if (st != BATCH_OK)
			batch_error(format, st, &c);
		if (format == FORMAT_FLOAT16)
		{
			HVec	   *h = hvec_new(dims);

			memcpy(h->x, hbuf, sizeof(uint16) * dims);
			p = (Pointer) h;
		}
		else if (format == FORMAT_BINARY_QUANTIZE)
		{
			Bvec	   *b = bvec_new(dims);

			bit_quantize_floats(buf, dims, b->data);
			p = (Pointer) b;
		}
		else if (format == FORMAT_SPARSE)
			p = DatumGetPointer(sparse_line_svec(TupleDescAttr(desc, 1)->atttypid, rest, restlen, dims, c.record));
		else
		{
			Vec		   *v = vec_new(dims);

			memcpy(v->x, buf, sizeof(float) * dims);
			p = (Pointer) v;
		}
		values[0] = Int64GetDatum(id);
		values[1] = PointerGetDatum(p);
		values[2] = (Datum) 0;
		if (pc)
			check_point(pc, values, nulls);
		tuplestore_putvalues(store, desc, values, nulls);
		pfree(p);
	}
	if (buf)
		pfree(buf);
	if (hbuf)
		pfree(hbuf);
}

/* The built-in processors: (batch bytea, dims integer) → points. */
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

Datum
ms_proc_float16(PG_FUNCTION_ARGS)
{
	return builtin_processor(fcinfo, FORMAT_FLOAT16);
}

Datum
ms_proc_binary_quantize(PG_FUNCTION_ARGS)
{
	return builtin_processor(fcinfo, FORMAT_BINARY_QUANTIZE);
}

Datum
ms_proc_sparse(PG_FUNCTION_ARGS)
{
	return builtin_processor(fcinfo, FORMAT_SPARSE);
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
	else if (strcmp(src, "ms_proc_float16") == 0)
		*format = FORMAT_FLOAT16;
	else if (strcmp(src, "ms_proc_binary_quantize") == 0)
		*format = FORMAT_BINARY_QUANTIZE;
	else if (strcmp(src, "ms_proc_sparse") == 0)
		*format = FORMAT_SPARSE;
	else
		return false;
	return true;
}

/* check_point as a ProcessorRowCheck, for the sandbox */
static void
check_point_cb(void *arg, Datum *values, bool *nulls)
{
	check_point((PointCheck *) arg, values, nulls);
}

/*
 * Run a version's processor on one batch into store, whose rows are
 * (point_id bigint, embedding vec, payload jsonb) as desc says, checked
 * against the model: no NULL id or embedding, the model's dims, no zero
 * vector when cosine, no id twice.  Our own C processors run in-process;
 * anything else is user code and runs sandboxed (raw_sandbox.c).
 */
void
ms_processor_rows(const ProcessorSpec *spec, bytea *batch, int dims, bool cosine,
				  Tuplestorestate *store, TupleDesc desc)
{
	BatchFormat format;
	PointCheck	pc;
	bool		builtin = true;
	MsElemKind	kind = ms_elem_kind_of_type(TupleDescAttr(desc, 1)->atttypid);

	if (kind == MS_ELEM_NONE)
		elog(ERROR, "processor rows of type %s", format_type_be(TupleDescAttr(desc, 1)->atttypid));
	check_dims(dims, kind);
	memset(&pc, 0, sizeof(pc));
	pc.kind = kind;
	pc.dims = dims;
	pc.cosine = cosine;
	format = default_format(kind);

	if (OidIsValid(spec->procoid))
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(spec->procoid));

		if (!HeapTupleIsValid(tup))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("processor function %u does not exist", spec->procoid)));
		builtin = builtin_format(tup, &format);
		ReleaseSysCache(tup);
	}
	/* a built-in yields one type: set_processor admits it for that only */
	if (builtin && format_kind(format) != kind)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("processor %s yields %s points, not %s",
						format_procedure(spec->procoid), ms_elem_type_name(format_kind(format)),
						ms_elem_type_name(kind))));
	if (builtin)
		parse_batch(format, batch, dims, store, desc, &pc);
	else
		ms_run_sandboxed(spec->procoid, spec->pinned, spec->run_as, batch, dims,
						 store, desc, check_point_cb, &pc);
	check_unique_ids(&pc);
	if (pc.ids)
		pfree(pc.ids);
}

/* See raw_store.h. */
void
ms_processor_spec_from_args(FunctionCallInfo fcinfo, int proc_arg, int pinned_arg,
							int run_as_arg, ProcessorSpec *spec)
{
	spec->procoid = PG_ARGISNULL(proc_arg) ? InvalidOid : PG_GETARG_OID(proc_arg);

	/*
	 * Under 0.3.0's SQL objects (this library before ALTER EXTENSION
	 * UPDATE) the internal functions have no pinned and run_as arguments:
	 * without them no user processor runs (ms_run_sandboxed refuses an
	 * unpinned one), the built-in ones do.
	 */
	spec->pinned = (PG_NARGS() <= pinned_arg || PG_ARGISNULL(pinned_arg)) ?
		NULL : PG_GETARG_BYTEA_PP(pinned_arg);
	spec->run_as = (PG_NARGS() <= run_as_arg || PG_ARGISNULL(run_as_arg)) ?
		InvalidOid : PG_GETARG_OID(run_as_arg);
}

/*
 * ms._run_processor(processor regprocedure, batch bytea, dims integer,
 *					 metric text, pinned bytea, run_as regrole)
 *	RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
 *
 * NULL processor means the default, ms.proc_csv.  The rows are checked
 * against the model (dims, metric) so they can be inserted as they are.
 * pinned and run_as: see ProcessorSpec.
 */
Datum
ms_run_processor(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProcessorSpec spec;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch and dims must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	ms_processor_spec_from_args(fcinfo, 0, 4, 5, &spec);
	ms_processor_rows(&spec, PG_GETARG_BYTEA_PP(1), PG_GETARG_INT32(2),
					  !PG_ARGISNULL(3) && strcmp(text_to_cstring(PG_GETARG_TEXT_PP(3)), "cosine") == 0,
					  rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}
