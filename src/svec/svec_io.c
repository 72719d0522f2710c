/*
 * svec_io.c
 *		Text and binary input/output of the svec type, its typmod, and the
 *		checks every svec-producing function shares.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "svec.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(svec_in);
PG_FUNCTION_INFO_V1(svec_out);
PG_FUNCTION_INFO_V1(svec_typmod_in);
PG_FUNCTION_INFO_V1(svec_typmod_out);
PG_FUNCTION_INFO_V1(svec_recv);
PG_FUNCTION_INFO_V1(svec_send);
PG_FUNCTION_INFO_V1(svec_coerce_typmod);

Svec *
svec_new(int32 dims, int32 nnz)
{
	Size		size = SVEC_SIZE(nnz);
	Svec	   *s = (Svec *) palloc0(size);

	SET_VARSIZE(s, size);
	s->dims = dims;
	s->nnz = nnz;
	return s;
}

SvecView
svec_view(const Svec *s)
{
	SvecView	v;

	v.dims = s->dims;
	v.nnz = s->nnz;
	v.indices = s->indices;
	v.values = SVEC_VALUES(s);
	return v;
}

void
svec_check_same_dims(int32 dims_a, int32 dims_b)
{
	if (dims_a != dims_b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different svec dimensions %d and %d", dims_a, dims_b)));
}

void
svec_check_typmod(const Svec *s, int32 typmod)
{
	if (typmod != -1 && s->dims != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, s->dims)));
}

/* The token at an error position, for messages: up to a separator. */
static char *
token_at(const char *at)
{
	int			len = 0;

	while (at[len] && at[len] != ',' && at[len] != '}' && at[len] != ' ' && len < 40)
		len++;
	return pnstrdup(at, len);
}

/*
 * Raise the ERROR for a failed parse of str: the message, SQLSTATE and
 * detail of each kind of mistake.  Does not return.
 */
static void
report_parse_error(const char *str, SvecParseResult r)
{
	const char *at = str + r.error_offset;
	/* at most 100 bytes of the input, never cut inside a character */
	int			shown = strlen(str) > 100 ? pg_mbcliplen(str, (int) strlen(str), 100) : (int) strlen(str);
	const char *ellipsis = strlen(str) > 100 ? "..." : "";

	switch (r.status)
	{
		case SVEC_PARSE_TOO_MANY_ENTRIES:
		case SVEC_PARSE_TOO_MANY_NONZEROS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("svec cannot have more than %d non-zero elements", SVEC_MAX_NNZ)));
			break;
		case SVEC_PARSE_DIMS_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("svec dimensions must be between 1 and %d", SVEC_MAX_DIMS),
					 errdetail("The input gives \"%s\".", token_at(at))));
			break;
		case SVEC_PARSE_INDEX_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index %lld is out of range", (long long) r.bad_index),
					 r.dims > 0 ?
					 errdetail("Indices run from 1 to the number of dimensions, %lld.",
							   (long long) r.dims) :
					 errdetail("Indices run from 1 to the number of dimensions, at most %d.",
							   SVEC_MAX_DIMS)));
			break;
		case SVEC_PARSE_DUPLICATE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type svec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("Index %lld appears more than once.", (long long) r.bad_index)));
			break;
		case SVEC_PARSE_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN and Infinity are not allowed in svec"),
					 errdetail("Entry %d is \"%s\".", r.nnz + 1, token_at(at))));
			break;
		case SVEC_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type real", token_at(at)),
					 errdetail("Entry %d of the svec text.", r.nnz + 1)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type svec: \"%.*s%s\"", shown, str, ellipsis),
					 errdetail("%s Near \"%.20s\".", svec_parse_status_message(r.status), at)));
	}
}

/*
 * Text input: "{1:0.5,7:-2}/30000", 1-based indices in any order, checked
 * against the typmod.
 */
Datum
svec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity;
	SvecEntry  *entries;
	SvecParseResult r;
	Svec	   *result;
	float4	   *values;

	/*
	 * Room for every entry listed, bounded by the input's length (an entry
	 * and its comma take at least 4 bytes), so a flood of commas cannot
	 * ask for more than twice the input's size.
	 */
	capacity = svec_text_max_entries(str, (int) Min(strlen(str) / 4 + 1,
													MaxAllocSize / sizeof(SvecEntry)));
	entries = palloc(sizeof(SvecEntry) * capacity);
	r = svec_text_parse(str, entries, capacity, SVEC_MAX_NNZ);

	if (r.status != SVEC_PARSE_OK)
		report_parse_error(str, r);

	result = svec_new((int32) r.dims, r.nnz);
	values = SVEC_VALUES(result);
	for (int i = 0; i < r.nnz; i++)
	{
		result->indices[i] = entries[i].index;
		values[i] = entries[i].value;
	}
	pfree(entries);
	svec_check_typmod(result, typmod);
	PG_RETURN_SVEC_P(result);
}

/* Text output: 1-based indices, each value in its shortest exact form. */
Datum
svec_out(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	float4	   *values = SVEC_VALUES(s);
	StringInfoData buf;

	initStringInfo(&buf);
	/* an index has at most 10 digits; then ':' and ',' */
	enlargeStringInfo(&buf, s->nnz * (10 + FLOAT_SHORTEST_DECIMAL_LEN + 2) + 16);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < s->nnz; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfo(&buf, "%d:", s->indices[i] + 1);
		buf.len += float_to_shortest_decimal_bufn(values[i], buf.data + buf.len);
	}
	appendStringInfo(&buf, "}/%d", s->dims);
	PG_FREE_IF_COPY(s, 0);
	PG_RETURN_CSTRING(buf.data);
}

/* svec(n): one modifier, 1 <= n <= SVEC_MAX_DIMS. */
Datum
svec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vec_typmod_single(PG_GETARG_ARRAYTYPE_P(0), "svec", "dimensions",
									  "dimensions", SVEC_MAX_DIMS));
}

Datum
svec_typmod_out(PG_FUNCTION_ARGS)
{
	return vec_typmod_out(fcinfo);
}

/*
 * Read and check the binary header: int32 dims, int32 nnz, int32 0, and
 * exactly nnz indices and values after it, so a lying header is an error,
 * never a short or long read.  Returns nnz.
 */
static int32
svec_recv_header(StringInfo buf, int32 *dims)
{
	int32		nnz;
	int32		unused;
	int			remaining;

	*dims = pq_getmsgint(buf, sizeof(int32));
	nnz = pq_getmsgint(buf, sizeof(int32));
	unused = pq_getmsgint(buf, sizeof(int32));
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid reserved field %d in external svec value", unused)));
	if (*dims < 1 || *dims > SVEC_MAX_DIMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid dimensions %d in external svec value", *dims),
				 errdetail("An svec has between 1 and %d dimensions.", SVEC_MAX_DIMS)));
	if (nnz < 0 || nnz > SVEC_MAX_NNZ || nnz > *dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid number of elements %d in external svec value", nnz),
				 errdetail("An svec of %d dimensions has between 0 and %d elements.",
						   *dims, Min(*dims, SVEC_MAX_NNZ))));
	remaining = buf->len - buf->cursor;
	if (remaining != (int) (sizeof(int32) + sizeof(float4)) * nnz)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("external svec value declares %d elements but carries %d bytes of indices and values",
						nnz, remaining)));
	return nnz;
}

/*
 * Binary format: the header, nnz int32 0-based indices (strictly
 * increasing, below dims), nnz float4 values (finite), network byte
 * order.  Zero values are accepted and dropped, as in text.
 */
Datum
svec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		dims;
	int32		nnz = svec_recv_header(buf, &dims);
	int32	   *indices = palloc(sizeof(int32) * (nnz + 1));
	float4	   *values = palloc(sizeof(float4) * (nnz + 1));
	int32		kept = 0;
	Svec	   *result;

	for (int i = 0; i < nnz; i++)
	{
		indices[i] = pq_getmsgint(buf, sizeof(int32));
		if (indices[i] < 0 || indices[i] >= dims || (i > 0 && indices[i] <= indices[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid index %d at element %d of external svec value", indices[i], i + 1),
					 errdetail("Indices must be strictly increasing, from 0 to %d.", dims - 1)));
	}
	for (int i = 0; i < nnz; i++)
	{
		float4		v = pq_getmsgfloat4(buf);

		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN and Infinity are not allowed in svec")));
		if (v != 0.0f)
		{
			indices[kept] = indices[i];
			values[kept++] = v;
		}
	}
	result = svec_new(dims, kept);
	memcpy(result->indices, indices, sizeof(int32) * kept);
	memcpy(SVEC_VALUES(result), values, sizeof(float4) * kept);
	svec_check_typmod(result, typmod);
	PG_RETURN_SVEC_P(result);
}

/* Binary output: the header svec_recv reads, the indices, the values. */
Datum
svec_send(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	float4	   *values = SVEC_VALUES(s);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->dims);
	pq_sendint32(&buf, s->nnz);
	pq_sendint32(&buf, 0);
	for (int i = 0; i < s->nnz; i++)
		pq_sendint32(&buf, s->indices[i]);
	for (int i = 0; i < s->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Length coercion: svec -> svec(n). */
Datum
svec_coerce_typmod(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	svec_check_typmod(s, typmod);
	PG_RETURN_SVEC_P(s);
}
