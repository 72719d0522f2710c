/*
 * hvec_io.c
 *		Text and binary input/output of the hvec type, its typmod, and the
 *		checks and conversions every hvec-producing function shares.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "half.h"
#include "hvec.h"
#include "hvec_text.h"

PG_FUNCTION_INFO_V1(hvec_in);
PG_FUNCTION_INFO_V1(hvec_out);
PG_FUNCTION_INFO_V1(hvec_typmod_in);
PG_FUNCTION_INFO_V1(hvec_recv);
PG_FUNCTION_INFO_V1(hvec_send);
PG_FUNCTION_INFO_V1(hvec_coerce_typmod);

HVec *
hvec_new(int dim)
{
	Size		size = HVEC_SIZE(dim);
	HVec	   *v = (HVec *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	return v;
}

void
hvec_check_dim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvec must have at least 1 dimension")));
	if (dim > HVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvec cannot have more than %d dimensions", HVEC_MAX_DIM)));
}

void
hvec_check_same_dims(int dim_a, int dim_b)
{
	if (dim_a != dim_b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different hvec dimensions %d and %d", dim_a, dim_b)));
}

void
hvec_check_typmod(const HVec *v, int32 typmod)
{
	if (typmod != -1 && v->dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, v->dim)));
}

void
hvec_out_of_range(int element, double value)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value out of range for type hvec"),
			 errdetail("Element %d is %g; an hvec holds magnitudes up to 65504.",
					   element, value)));
}

HVec *
hvec_from_floats(const float *x, int dim)
{
	HVec	   *h = hvec_new(dim);

	half_kernels->from_float(x, h->x, dim);
	for (int i = 0; i < dim; i++)
	{
		if (half_is_special(h->x[i]))
			hvec_out_of_range(i + 1, x[i]);
	}
	return h;
}

Vec *
hvec_to_vec(const HVec *h)
{
	Vec		   *v = vec_new(h->dim);

	half_kernels->to_float(h->x, v->x, h->dim);
	return v;
}

Vec *
vec_or_hvec_datum(Datum d)
{
	Vec		   *v = DatumGetVec(d);
	HVec	   *h = (HVec *) v;
	Vec		   *converted;

	if (VARSIZE(h) != HVEC_SIZE(h->dim))
		return v;
	converted = hvec_to_vec(h);
	if ((Pointer) h != DatumGetPointer(d))
		pfree(h);
	return converted;
}

Oid
hvec_type_beside(Oid vectype)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(vectype));
	Oid			nsp;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
	ReleaseSysCache(tup);
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("hvec"), ObjectIdGetDatum(nsp));
}

/* The token at an error position, for messages: up to a separator. */
static char *
token_at(const char *at)
{
	int			len = 0;

	while (at[len] && at[len] != ',' && at[len] != ']' && at[len] != ' ' && len < 40)
		len++;
	return pnstrdup(at, len);
}

/* Raise the ERROR for a failed parse of str, as vec_in does.  No return. */
static void
report_parse_error(const char *str, VecParseResult r)
{
	const char *at = str + r.error_offset;
	/* at most 100 bytes of the input, never cut inside a character */
	int			shown = strlen(str) > 100 ? pg_mbcliplen(str, (int) strlen(str), 100) : (int) strlen(str);
	const char *ellipsis = strlen(str) > 100 ? "..." : "";

	switch (r.status)
	{
		case VEC_PARSE_EMPTY:
		case VEC_PARSE_TOO_MANY:
			hvec_check_dim(r.status == VEC_PARSE_EMPTY ? 0 : HVEC_MAX_DIM + 1);
			break;
		case VEC_PARSE_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN and Infinity are not allowed in hvec"),
					 errdetail("Element %d is \"%s\".", r.dims + 1, token_at(at))));
			break;
		case VEC_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range for type hvec"),
					 errdetail("Element %d is \"%s\"; an hvec holds magnitudes up to 65504.",
							   r.dims + 1, token_at(at))));
			break;
		case VEC_PARSE_BAD_NUMBER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type hvec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("Element %d is not a number, near \"%.20s\".", r.dims + 1, at)));
			break;
		case VEC_PARSE_BAD_SEPARATOR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type hvec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("Expected \",\" or \"]\" after element %d, near \"%.20s\".", r.dims, at)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type hvec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("%s", vec_parse_status_message(r.status))));
	}
}

/*
 * Text input: "[1, 2.5, -3e4]", each element rounded once to the nearest
 * half; checked against the typmod.
 */
Datum
hvec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = vec_text_max_elements(str, HVEC_MAX_DIM + 1);
	uint16	   *buf = palloc(sizeof(uint16) * capacity);
	VecParseResult r = hvec_text_parse(str, buf, capacity);
	HVec	   *result;

	if (r.status == VEC_PARSE_OK && r.dims > HVEC_MAX_DIM)
		r.status = VEC_PARSE_TOO_MANY;
	if (r.status != VEC_PARSE_OK)
		report_parse_error(str, r);

	result = hvec_new(r.dims);
	memcpy(result->x, buf, sizeof(uint16) * r.dims);
	pfree(buf);
	hvec_check_typmod(result, typmod);
	PG_RETURN_HVEC_P(result);
}

/* Text output: each element in the shortest form that reads back the same. */
Datum
hvec_out(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	enlargeStringInfo(&buf, v->dim * HALF_SHORTEST_LEN + 2);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		buf.len += half_to_shortest(v->x[i], buf.data + buf.len);
	}
	appendStringInfoChar(&buf, ']');
	buf.data[buf.len] = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf.data);
}

/* hvec(n): one modifier, 1 <= n <= HVEC_MAX_DIM. */
Datum
hvec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *mods;
	int			n;

	mods = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type hvec takes one modifier, the number of dimensions.")));
	if (mods[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type hvec must be at least 1")));
	if (mods[0] > HVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type hvec cannot exceed %d", HVEC_MAX_DIM)));
	PG_RETURN_INT32(mods[0]);
}

/*
 * Binary format: int16 dim, int16 0, then dim IEEE 754 binary16 values as
 * uint16 in network byte order.  The header is checked against the bytes
 * actually left, so a lying header is an error, never a short or long
 * read; NaN and infinities are refused as in text.
 */
Datum
hvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim = pq_getmsgint(buf, sizeof(int16));
	int16		unused = pq_getmsgint(buf, sizeof(int16));
	int			remaining = buf->len - buf->cursor;
	HVec	   *result;

	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid flags %d in external hvec value", unused)));
	if (dim < 1 || dim > HVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid dimension %d in external hvec value", dim),
				 errdetail("An hvec has between 1 and %d dimensions.", HVEC_MAX_DIM)));
	if (remaining != (int) sizeof(uint16) * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("external hvec value declares %d dimensions but carries %d bytes of elements",
						dim, remaining)));

	result = hvec_new(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (uint16) pq_getmsgint(buf, sizeof(uint16));
		if (half_is_special(result->x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN and Infinity are not allowed in hvec"),
					 errdetail("Element %d has the bits 0x%04x.", i + 1, result->x[i])));
	}
	hvec_check_typmod(result, typmod);
	PG_RETURN_HVEC_P(result);
}

/* Binary output: what hvec_recv reads. */
Datum
hvec_send(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < v->dim; i++)
		pq_sendint16(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Length coercion: hvec -> hvec(n). */
Datum
hvec_coerce_typmod(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	hvec_check_typmod(v, typmod);
	PG_RETURN_HVEC_P(v);
}
