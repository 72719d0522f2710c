/*
 * vbox.c
 *		The vbox type: text and binary I/O, constructors, accessors and the
 *		containment and overlap operators between vecs and boxes.
 *
 * Bounds are inclusive everywhere: a point on the boundary of a box is
 * inside it.  Constructors normalise reversed bounds (like PostgreSQL's
 * box and contrib cube do) instead of rejecting them.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/detoast.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "hvec.h"
#include "rtree.h"
#include "vbox.h"
#include "vbox_text.h"
#include "vec_text.h"

PG_FUNCTION_INFO_V1(vbox_in);
PG_FUNCTION_INFO_V1(vbox_out);
PG_FUNCTION_INFO_V1(vbox_recv);
PG_FUNCTION_INFO_V1(vbox_send);
PG_FUNCTION_INFO_V1(vbox_from_corners);
PG_FUNCTION_INFO_V1(vbox_from_center);
PG_FUNCTION_INFO_V1(vec_dwithin_box);
PG_FUNCTION_INFO_V1(vbox_lo);
PG_FUNCTION_INFO_V1(vbox_hi);
PG_FUNCTION_INFO_V1(vbox_dims);
PG_FUNCTION_INFO_V1(vec_contained_in_vbox);
PG_FUNCTION_INFO_V1(vbox_contains_vec);
PG_FUNCTION_INFO_V1(vbox_overlaps);
PG_FUNCTION_INFO_V1(vbox_contains);
PG_FUNCTION_INFO_V1(vbox_contained);
PG_FUNCTION_INFO_V1(vbox_eq);
PG_FUNCTION_INFO_V1(vbox_ne);
PG_FUNCTION_INFO_V1(vec_gistkey_in);

VBox *
vbox_new(int dim)
{
	Size		size = VBOX_SIZE(dim);
	VBox	   *b = (VBox *) palloc0(size);

	SET_VARSIZE(b, size);
	b->dim = dim;
	return b;
}

/* ----------------------------------------------------------------------
 * Argument access shared with the opclasses
 * ----------------------------------------------------------------------
 */

/* The last argument ms_cached_detoast detoasted for one FmgrInfo. */
typedef struct DetoastCache
{
	Size		raw_len;
	char	   *raw;			/* the argument's bytes as passed */
	struct varlena *value;		/* detoasted */
	/* ms_cached_query_vec: the last hvec it converted, and its vec */
	Size		hvec_len;
	char	   *hvec;
	Vec		   *hvec_as_vec;
} DetoastCache;

struct varlena *
ms_cached_detoast(FmgrInfo *flinfo, Datum d)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	DetoastCache *cache;
	Size		raw_len;
	MemoryContext old;

	if (!VARATT_IS_EXTENDED(p))
		return p;

	/* raw bytes identify the value: inline data, or a toast pointer */
	raw_len = VARSIZE_ANY(p);
	cache = (DetoastCache *) flinfo->fn_extra;
	if (cache != NULL && cache->raw_len == raw_len && memcmp(cache->raw, p, raw_len) == 0)
		return cache->value;

	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	if (cache == NULL)
		cache = (DetoastCache *) palloc0(sizeof(DetoastCache));
	else if (cache->raw != NULL)
	{
		pfree(cache->raw);
		pfree(cache->value);
	}
	cache->raw = palloc(raw_len);
	memcpy(cache->raw, p, raw_len);
	cache->raw_len = raw_len;
	cache->value = detoast_attr(p);
	if (cache->value == p)		/* never alias the caller's datum */
	{
		cache->value = palloc(VARSIZE(p));
		memcpy(cache->value, p, VARSIZE(p));
	}
	flinfo->fn_extra = cache;
	MemoryContextSwitchTo(old);
	return cache->value;
}

const Vec *
ms_cached_query_vec(FmgrInfo *flinfo, Datum d)
{
	struct varlena *p = ms_cached_detoast(flinfo, d);
	const HVec *h = (const HVec *) p;
	DetoastCache *cache;
	MemoryContext old;

	if (VARSIZE(p) != HVEC_SIZE(h->dim))
		return (const Vec *) p;
	cache = (DetoastCache *) flinfo->fn_extra;
	if (cache != NULL && cache->hvec != NULL && cache->hvec_len == VARSIZE(p) &&
		memcmp(cache->hvec, p, VARSIZE(p)) == 0)
		return cache->hvec_as_vec;

	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	if (cache == NULL)
	{
		cache = (DetoastCache *) palloc0(sizeof(DetoastCache));
		flinfo->fn_extra = cache;
	}
	else if (cache->hvec != NULL)
	{
		pfree(cache->hvec);
		pfree(cache->hvec_as_vec);
	}
	cache->hvec_len = VARSIZE(p);
	cache->hvec = palloc(VARSIZE(p));
	memcpy(cache->hvec, p, VARSIZE(p));
	cache->hvec_as_vec = hvec_to_vec(h);
	MemoryContextSwitchTo(old);
	return cache->hvec_as_vec;
}

const float4 *
ms_vec_floats(Datum d, float4 *buf, int bufcap, int *dim)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_4B_U(p) && ((uintptr_t) p % sizeof(float4)) == 0)
	{
		const Vec  *v = (const Vec *) p;

		*dim = v->dim;
		return v->x;
	}
	if (VARATT_IS_1B(p) && !VARATT_IS_1B_E(p))
	{
		/* short header: int16 dim, int16 flags, then unaligned floats */
		const char *data = VARDATA_1B(p);
		int16		n;

		memcpy(&n, data, sizeof(int16));
		if (n > bufcap)
			buf = palloc(sizeof(float4) * n);
		memcpy(buf, data + 2 * sizeof(int16), sizeof(float4) * n);
		*dim = n;
		return buf;
	}
	{
		Vec		   *v = DatumGetVec(d);

		*dim = v->dim;
		return v->x;
	}
}

/* ----------------------------------------------------------------------
 * I/O
 * ----------------------------------------------------------------------
 */

/* ERROR when a vbox would have more than VEC_MAX_DIM dimensions. */
static void
vbox_check_dims(int dim)
{
	if (dim > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vbox cannot have more than %d dimensions", VEC_MAX_DIM)));
}

/*
 * Raise the ERROR for a failed parse of str: a bad corner is reported as
 * vec input would report it, naming the corner; a mismatch of dimensions
 * as every other one is.  Does not return.
 */
static void
report_parse_error(const char *str, VBoxParseResult r)
{
	const char *at = str + r.error_offset;

	if (r.status == VBOX_PARSE_BAD_CORNER)
	{
		switch (r.vec_status)
		{
			case VEC_PARSE_TOO_MANY:
				vbox_check_dims(VEC_MAX_DIM + 1);
				break;
			case VEC_PARSE_EMPTY:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("vbox must have at least 1 dimension")));
				break;
			case VEC_PARSE_NOT_FINITE:
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("NaN and infinite bounds are not allowed in vbox"),
						 errdetail("In the %s corner, near \"%.*s\".",
								   r.corner == 0 ? "low" : "high",
								   (int) strnlen(at, 20), at)));
				break;
			case VEC_PARSE_OUT_OF_RANGE:
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("value out of range for type real in vbox"),
						 errdetail("In the %s corner, near \"%.*s\".",
								   r.corner == 0 ? "low" : "high",
								   (int) strnlen(at, 20), at)));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid input syntax for type vbox: \"%.*s%s\"",
								100, str, strlen(str) > 100 ? "..." : ""),
						 errdetail("%s In the %s corner, near \"%.*s\".",
								   vec_parse_status_message(r.vec_status),
								   r.corner == 0 ? "low" : "high",
								   (int) strnlen(at, 20), at)));
		}
	}
	if (r.status == VBOX_PARSE_DIMS_MISMATCH)
		vec_check_same_dims(r.dims, r.hi_dims);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type vbox: \"%.*s%s\"",
					100, str, strlen(str) > 100 ? "..." : ""),
			 errdetail("%s Near \"%.*s\".", vbox_parse_status_message(r.status),
					   (int) strnlen(at, 20), at)));
}

/*
 * Text input: "([1,2],[3,4])", each corner a vec of the same dimensions;
 * the corners may come in any order (they are normalized).
 */
Datum
vbox_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int			capacity = vec_text_max_elements(str, VEC_MAX_DIM + 1);
	float	   *lo = palloc(sizeof(float) * capacity);
	float	   *hi = palloc(sizeof(float) * capacity);
	char	   *scratch = palloc(strlen(str) + 1);
	VBoxParseResult r = vbox_text_parse(str, lo, hi, capacity, scratch);
	VBox	   *result;

	if (r.status != VBOX_PARSE_OK)
		report_parse_error(str, r);
	vbox_check_dims(r.dims);

	vbox_normalize(lo, hi, r.dims);
	result = vbox_new(r.dims);
	memcpy(VBOX_LO(result), lo, sizeof(float) * r.dims);
	memcpy(VBOX_LO(result) + r.dims, hi, sizeof(float) * r.dims);
	pfree(lo);
	pfree(hi);
	pfree(scratch);
	PG_RETURN_VBOX_P(result);
}

/* One corner in vec's text form, each float in its shortest exact form. */
static void
append_corner(StringInfo buf, const float4 *x, int dim)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		buf->len += float_to_shortest_decimal_bufn(x[i], buf->data + buf->len);
	}
	appendStringInfoChar(buf, ']');
}

/* Text output: "(lo,hi)", which vbox_in reads back exactly. */
Datum
vbox_out(PG_FUNCTION_ARGS)
{
	VBox	   *b = PG_GETARG_VBOX_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	enlargeStringInfo(&buf, 2 * b->dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 8);
	appendStringInfoChar(&buf, '(');
	append_corner(&buf, VBOX_LO(b), b->dim);
	appendStringInfoChar(&buf, ',');
	append_corner(&buf, VBOX_HI(b), b->dim);
	appendStringInfoChar(&buf, ')');
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Binary format: vec's header (see vec_recv_header), then dim float4 low
 * bounds and dim float4 high bounds, in network byte order.
 */
Datum
vbox_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			dim;
	VBox	   *result;

	dim = vec_recv_header(buf, "vbox", 2, "bounds");
	result = vbox_new(dim);
	for (int i = 0; i < 2 * dim; i++)
		result->x[i] = pq_getmsgfloat4(buf);
	vec_check_finite_elements(result->x, 2 * dim, "vbox");
	vbox_normalize(result->x, result->x + dim, dim);
	PG_RETURN_VBOX_P(result);
}

/* Binary output, the format vbox_recv reads. */
Datum
vbox_send(PG_FUNCTION_ARGS)
{
	VBox	   *b = PG_GETARG_VBOX_P(0);
	const float4 *hi = VBOX_HI(b);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, b->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < b->dim; i++)
		pq_sendfloat4(&buf, b->x[i]);
	for (int i = 0; i < b->dim; i++)
		pq_sendfloat4(&buf, hi[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* The GiST key type is output like a vbox but never read back. */
Datum
vec_gistkey_in(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot accept a value of type vec_gistkey")));
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * Constructors and accessors
 * ----------------------------------------------------------------------
 */

/* vbox(lo vec, hi vec): the corners in any order; ERROR when dims differ. */
Datum
vbox_from_corners(PG_FUNCTION_ARGS)
{
	Vec		   *lo = PG_GETARG_VEC_P(0);
	Vec		   *hi = PG_GETARG_VEC_P(1);
	VBox	   *result;

	vec_check_same_dims(lo->dim, hi->dim);
	result = vbox_new(lo->dim);
	memcpy(result->x, lo->x, sizeof(float4) * lo->dim);
	memcpy(result->x + lo->dim, hi->x, sizeof(float4) * lo->dim);
	vbox_normalize(result->x, result->x + lo->dim, lo->dim);
	PG_RETURN_VBOX_P(result);
}

/* v rounded to float4 towards -infinity (down) or +infinity, clamped */
static float4
round_to_float4(double v, bool up)
{
	float4		f;

	if (v >= FLT_MAX)
		return FLT_MAX;
	if (v <= -FLT_MAX)
		return -FLT_MAX;
	f = (float4) v;
	if (up && (double) f < v)
		f = nextafterf(f, INFINITY);
	else if (!up && (double) f > v)
		f = nextafterf(f, -INFINITY);
	return f;
}

VBox *
vbox_around(const Vec *center, double radius)
{
	VBox	   *result;

	if (isnan(radius))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("radius must not be NaN")));
	if (radius < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("radius must not be negative: %g", radius)));

	result = vbox_new(center->dim);
	for (int i = 0; i < center->dim; i++)
	{
		result->x[i] = round_to_float4((double) center->x[i] - radius, false);
		result->x[center->dim + i] = round_to_float4((double) center->x[i] + radius, true);
	}
	return result;
}

/* vbox(center vec, radius float8): see vbox_around. */
Datum
vbox_from_center(PG_FUNCTION_ARGS)
{
	Vec		   *center = PG_GETARG_VEC_P(0);
	float8		radius = PG_GETARG_FLOAT8(1);

	PG_RETURN_VBOX_P(vbox_around(center, radius));
}

/*
 * The box vec_dwithin() searches: the cube around the ball of radius r,
 * widened by the relative rounding error of the float32 <-> operator, so
 * that every point whose computed distance is <= r lies in it; the exact
 * distance test that follows removes what is too far.
 */
Datum
vec_dwithin_box(PG_FUNCTION_ARGS)
{
	Vec		   *center = PG_GETARG_VEC_P(0);
	float8		radius = PG_GETARG_FLOAT8(1);
	double		slack = rtree_kernel_slack(center->dim);

	if (radius > 0)
		radius = slack > 0 ? radius / slack : INFINITY;
	PG_RETURN_VBOX_P(vbox_around(center, radius));
}

/* A corner of b (VBOX_LO or VBOX_HI) as a new vec. */
static Vec *
corner_vec(const VBox *b, const float4 *x)
{
	Vec		   *v = vec_new(b->dim);

	memcpy(v->x, x, sizeof(float4) * b->dim);
	return v;
}

Datum
vbox_lo(PG_FUNCTION_ARGS)
{
	VBox	   *b = PG_GETARG_VBOX_P(0);

	PG_RETURN_VEC_P(corner_vec(b, VBOX_LO(b)));
}

Datum
vbox_hi(PG_FUNCTION_ARGS)
{
	VBox	   *b = PG_GETARG_VBOX_P(0);

	PG_RETURN_VEC_P(corner_vec(b, VBOX_HI(b)));
}

Datum
vbox_dims(PG_FUNCTION_ARGS)
{
	VBox	   *b = PG_GETARG_VBOX_P(0);

	PG_RETURN_INT32(b->dim);
}

/* ----------------------------------------------------------------------
 * Operators
 *
 * Bounds are inclusive; operands of different dimensions are an ERROR,
 * except for = and <>, where they are simply unequal.
 * ----------------------------------------------------------------------
 */

Datum
vec_contained_in_vbox(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	VBox	   *b = PG_GETARG_VBOX_P(1);

	vec_check_same_dims(v->dim, b->dim);
	PG_RETURN_BOOL(rtree_box_contains_point(VBOX_LO(b), VBOX_HI(b), v->x, v->dim));
}

Datum
vbox_contains_vec(PG_FUNCTION_ARGS)
{
	VBox	   *b = PG_GETARG_VBOX_P(0);
	Vec		   *v = PG_GETARG_VEC_P(1);

	vec_check_same_dims(b->dim, v->dim);
	PG_RETURN_BOOL(rtree_box_contains_point(VBOX_LO(b), VBOX_HI(b), v->x, v->dim));
}

Datum
vbox_overlaps(PG_FUNCTION_ARGS)
{
	VBox	   *a = PG_GETARG_VBOX_P(0);
	VBox	   *b = PG_GETARG_VBOX_P(1);

	vec_check_same_dims(a->dim, b->dim);
	PG_RETURN_BOOL(rtree_box_overlaps(VBOX_LO(a), VBOX_HI(a), VBOX_LO(b), VBOX_HI(b), a->dim));
}

Datum
vbox_contains(PG_FUNCTION_ARGS)
{
	VBox	   *a = PG_GETARG_VBOX_P(0);
	VBox	   *b = PG_GETARG_VBOX_P(1);

	vec_check_same_dims(a->dim, b->dim);
	PG_RETURN_BOOL(rtree_box_contains(VBOX_LO(a), VBOX_HI(a), VBOX_LO(b), VBOX_HI(b), a->dim));
}

Datum
vbox_contained(PG_FUNCTION_ARGS)
{
	VBox	   *a = PG_GETARG_VBOX_P(0);
	VBox	   *b = PG_GETARG_VBOX_P(1);

	vec_check_same_dims(a->dim, b->dim);
	PG_RETURN_BOOL(rtree_box_contains(VBOX_LO(b), VBOX_HI(b), VBOX_LO(a), VBOX_HI(a), a->dim));
}

/* Same dimensions and the same bounds (-0 equals 0). */
static bool
vbox_equal(const VBox *a, const VBox *b)
{
	const float4 *ahi = VBOX_HI(a);
	const float4 *bhi = VBOX_HI(b);

	if (a->dim != b->dim)
		return false;
	for (int i = 0; i < a->dim; i++)
	{
		if (a->x[i] != b->x[i] || ahi[i] != bhi[i])
			return false;
	}
	return true;
}

Datum
vbox_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vbox_equal(PG_GETARG_VBOX_P(0), PG_GETARG_VBOX_P(1)));
}

Datum
vbox_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!vbox_equal(PG_GETARG_VBOX_P(0), PG_GETARG_VBOX_P(1)));
}
