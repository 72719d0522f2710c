/*
 * vec_io.c
 *		Text and binary input/output of the vec type, its typmod, and the
 *		checks every vec-producing function shares.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "vec.h"
#include "vec_text.h"

PG_FUNCTION_INFO_V1(vec_in);
PG_FUNCTION_INFO_V1(vec_out);
PG_FUNCTION_INFO_V1(vec_typmod_in);
PG_FUNCTION_INFO_V1(vec_typmod_out);
PG_FUNCTION_INFO_V1(vec_recv);
PG_FUNCTION_INFO_V1(vec_send);
PG_FUNCTION_INFO_V1(vec_coerce_typmod);

Vec *
vec_new(int dim)
{
	Size		size = VEC_SIZE(dim);
	Vec		   *v = (Vec *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	return v;
}

void
vec_check_dim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vec must have at least 1 dimension")));
	if (dim > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vec cannot have more than %d dimensions", VEC_MAX_DIM)));
}

void
vec_check_same_dims(int dim_a, int dim_b)
{
	if (dim_a != dim_b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", dim_a, dim_b)));
}

void
vec_check_typmod(const Vec *v, int32 typmod)
{
	if (typmod != -1 && v->dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, v->dim)));
}

/* type_name: the type being read, for the message ("vec" or "vbox") */
void
vec_check_finite_elements(const float4 *x, int dim, const char *type_name)
{
	for (int i = 0; i < dim; i++)
	{
		if (isnan(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN not allowed in %s", type_name)));
		if (isinf(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("infinite value not allowed in %s", type_name)));
	}
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

/*
 * Raise the ERROR for a failed parse of str: the message, SQLSTATE and
 * detail of each kind of mistake, naming the element at fault.  Does not
 * return.
 */
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
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("vec must have at least 1 dimension")));
			break;
		case VEC_PARSE_TOO_MANY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("vec cannot have more than %d dimensions", VEC_MAX_DIM)));
			break;
		case VEC_PARSE_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN and Infinity are not allowed in vec"),
					 errdetail("Element %d is \"%s\".", r.dims + 1, token_at(at))));
			break;
		case VEC_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type real", token_at(at)),
					 errdetail("Element %d of the vec.", r.dims + 1)));
			break;
		case VEC_PARSE_BAD_NUMBER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("Element %d is not a number, near \"%.20s\".", r.dims + 1, at)));
			break;
		case VEC_PARSE_BAD_SEPARATOR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("Expected \",\" or \"]\" after element %d, near \"%.20s\".", r.dims, at)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("%s", vec_parse_status_message(r.status))));
	}
}

/*
 * Text input: "[1, 2.5, -3e4]", finite float4 elements only, checked
 * against the typmod.
 */
Datum
vec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = vec_text_max_elements(str, VEC_MAX_DIM + 1);
	float	   *buf = palloc(sizeof(float) * capacity);
	VecParseResult r = vec_text_parse(str, buf, capacity);
	Vec		   *result;

	if (r.status == VEC_PARSE_OK && r.dims > VEC_MAX_DIM)
		r.status = VEC_PARSE_TOO_MANY;

	if (r.status != VEC_PARSE_OK)
		report_parse_error(str, r);

	result = vec_new(r.dims);
	memcpy(result->x, buf, sizeof(float) * r.dims);
	pfree(buf);
	vec_check_typmod(result, typmod);
	PG_RETURN_VEC_P(result);
}

/* Text output: each element in the shortest form that reads back exactly. */
Datum
vec_out(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	/* FLOAT_SHORTEST_DECIMAL_LEN covers sign, digits and exponent */
	enlargeStringInfo(&buf, v->dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		buf.len += float_to_shortest_decimal_bufn(v->x[i], buf.data + buf.len);
	}
	appendStringInfoChar(&buf, ']');
	buf.data[buf.len] = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf.data);
}

/*
 * The one type modifier of a vector type, checked: 1 <= n <= max.  what
 * names n in the errors ("dimensions", "length"), unit in the detail
 * ("dimensions", "bits").  Shared by vec, bvec and svec.
 */
int32
vec_typmod_single(ArrayType *ta, const char *type_name, const char *what,
				  const char *unit, int32 max)
{
	int32	   *mods;
	int			n;

	mods = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type %s takes one modifier, the number of %s.", type_name, unit)));
	if (mods[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s for type %s must be at least 1", what, type_name)));
	if (mods[0] > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s for type %s cannot exceed %d", what, type_name, max)));
	return mods[0];
}

/* vec(n): one modifier, 1 <= n <= VEC_MAX_DIM. */
Datum
vec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vec_typmod_single(PG_GETARG_ARRAYTYPE_P(0), "vec", "dimensions",
									  "dimensions", VEC_MAX_DIM));
}

/* (n), or nothing without a modifier: the output of every vector type's */
Datum
vec_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/*
 * The binary header vec and vbox share: int16 dim, int16 flags (0).  The
 * floats_per_dim * dim float4 values that must follow are checked against
 * the bytes actually left, so a lying header is an error, never a short or
 * long read.  Returns dim.
 */
int
vec_recv_header(StringInfo buf, const char *type_name, int floats_per_dim,
				const char *contents)
{
	int16		dim = pq_getmsgint(buf, sizeof(int16));
	int16		flags = pq_getmsgint(buf, sizeof(int16));
	int			remaining;

	if (flags != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid flags %d in external %s value", flags, type_name)));
	if (dim < 1 || dim > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid dimension %d in external %s value", dim, type_name),
				 errdetail("A %s has between 1 and %d dimensions.", type_name, VEC_MAX_DIM)));
	remaining = buf->len - buf->cursor;
	if (remaining != (int) sizeof(float4) * floats_per_dim * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("external %s value declares %d dimensions but carries %d bytes of %s",
						type_name, dim, remaining, contents)));
	return dim;
}

/*
 * Binary format: the shared header, then dim float4 values in network
 * byte order.
 */
Datum
vec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	Vec		   *result;

	dim = vec_recv_header(buf, "vec", 1, "elements");
	result = vec_new(dim);
	for (int i = 0; i < dim; i++)
		result->x[i] = pq_getmsgfloat4(buf);
	vec_check_finite_elements(result->x, dim, "vec");
	vec_check_typmod(result, typmod);
	PG_RETURN_VEC_P(result);
}

/* Binary output: the header vec_recv_header reads, then the float4s. */
Datum
vec_send(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Length coercion: vec -> vec(n). */
Datum
vec_coerce_typmod(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	vec_check_typmod(v, typmod);
	PG_RETURN_VEC_P(v);
}
