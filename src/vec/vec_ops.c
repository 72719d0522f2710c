/*
 * vec_ops.c
 *		Functions and operators of the vec type: distances, norms,
 *		element-wise arithmetic, concatenation, comparison and hashing.
 *
 * Distances go through the SIMD kernel table chosen at load time; each call
 * costs one indirect call on top of the kernel itself.  The kernels sum in
 * float32; when that overflows (elements near FLT_MAX) or underflows
 * (elements near FLT_MIN) vec_distance.h recomputes in double, so a finite
 * answer is never reported as infinite, nor a non-zero one as zero.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "utils/float.h"

#include "vec.h"
#include "vec_distance.h"

PG_FUNCTION_INFO_V1(vec_dims);
PG_FUNCTION_INFO_V1(vec_norm);
PG_FUNCTION_INFO_V1(vec_l2_normalize);
PG_FUNCTION_INFO_V1(vec_subvec);
PG_FUNCTION_INFO_V1(vec_l2_distance);
PG_FUNCTION_INFO_V1(vec_l2_squared_distance);
PG_FUNCTION_INFO_V1(vec_inner_product);
PG_FUNCTION_INFO_V1(vec_negative_inner_product);
PG_FUNCTION_INFO_V1(vec_cosine_distance);
PG_FUNCTION_INFO_V1(vec_l1_distance);
PG_FUNCTION_INFO_V1(vec_add);
PG_FUNCTION_INFO_V1(vec_sub);
PG_FUNCTION_INFO_V1(vec_mul);
PG_FUNCTION_INFO_V1(vec_concat);
PG_FUNCTION_INFO_V1(vec_cmp);
PG_FUNCTION_INFO_V1(vec_lt);
PG_FUNCTION_INFO_V1(vec_le);
PG_FUNCTION_INFO_V1(vec_eq);
PG_FUNCTION_INFO_V1(vec_ne);
PG_FUNCTION_INFO_V1(vec_ge);
PG_FUNCTION_INFO_V1(vec_gt);
PG_FUNCTION_INFO_V1(vec_hash);
PG_FUNCTION_INFO_V1(vec_hash_extended);

Datum
vec_dims(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);

	PG_RETURN_INT32(v->dim);
}

Datum
vec_norm(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);

	PG_RETURN_FLOAT8(sqrt(vec_distance_norm_squared(v->x, v->dim)));
}

/* A zero vector stays zero: there is no direction to keep. */
Datum
vec_l2_normalize(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	Vec		   *result = vec_new(v->dim);
	double		norm = sqrt(vec_norm_squared_f64(v->x, v->dim));

	if (norm > 0)
	{
		for (int i = 0; i < v->dim; i++)
			result->x[i] = (float4) (v->x[i] / norm);
	}
	PG_RETURN_VEC_P(result);
}

/*
 * subvec(v, start, count): count elements from the 1-based start, clipped
 * to the vec like substring() clips to the string; an empty result is an
 * error because a vec cannot be empty.
 */
Datum
vec_subvec(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end;
	Vec		   *result;

	if (count < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("negative count %lld in subvec", (long long) count)));
	end = start + count;		/* exclusive; int64 cannot overflow here */
	if (start < 1)
		start = 1;
	if (end > v->dim + 1)
		end = v->dim + 1;
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vec must have at least 1 dimension"),
				 errdetail("subvec selects no element of a vec of %d dimensions.", v->dim)));

	result = vec_new((int) (end - start));
	memcpy(result->x, v->x + (start - 1), sizeof(float4) * result->dim);
	PG_RETURN_VEC_P(result);
}

/*
 * The distances: ERROR when the dimensions differ; computed through
 * vec_distance.h, as the indexes compute them, so that an index orders
 * rows exactly as ORDER BY on a sequential scan does.
 */
#define VEC_BINARY_ARGS() \
	Vec		   *a = PG_GETARG_VEC_P(0); \
	Vec		   *b = PG_GETARG_VEC_P(1); \
	vec_check_same_dims(a->dim, b->dim)

Datum
vec_l2_distance(PG_FUNCTION_ARGS)
{
	VEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(sqrt(vec_distance_l2_squared(a->x, b->x, a->dim)));
}

Datum
vec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	VEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(vec_distance_l2_squared(a->x, b->x, a->dim));
}

Datum
vec_inner_product(PG_FUNCTION_ARGS)
{
	VEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(vec_distance_inner_product(a->x, b->x, a->dim));
}

Datum
vec_negative_inner_product(PG_FUNCTION_ARGS)
{
	VEC_BINARY_ARGS();
	/* 0.0 - x rather than -x: an orthogonal pair gives 0, not -0 */
	PG_RETURN_FLOAT8(0.0 - vec_distance_inner_product(a->x, b->x, a->dim));
}

Datum
vec_cosine_distance(PG_FUNCTION_ARGS)
{
	VEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(vec_distance_cosine(a->x, b->x, a->dim));
}

Datum
vec_l1_distance(PG_FUNCTION_ARGS)
{
	VEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(vec_distance_l1(a->x, b->x, a->dim));
}

/* ERROR "value out of range: overflow" if an element became infinite. */
static void
check_result_finite(const Vec *v)
{
	for (int i = 0; i < v->dim; i++)
	{
		if (isinf(v->x[i]))
			float_overflow_error();
	}
}

/* Element-wise +, - and *: ERROR when dimensions differ or a result overflows. */
Datum
vec_add(PG_FUNCTION_ARGS)
{
	Vec		   *result;

	VEC_BINARY_ARGS();
	result = vec_new(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] + b->x[i];
	check_result_finite(result);
	PG_RETURN_VEC_P(result);
}

Datum
vec_sub(PG_FUNCTION_ARGS)
{
	Vec		   *result;

	VEC_BINARY_ARGS();
	result = vec_new(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] - b->x[i];
	check_result_finite(result);
	PG_RETURN_VEC_P(result);
}

Datum
vec_mul(PG_FUNCTION_ARGS)
{
	Vec		   *result;

	VEC_BINARY_ARGS();
	result = vec_new(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		result->x[i] = a->x[i] * b->x[i];
		/* a product of two nonzero floats must not silently become zero */
		if (result->x[i] == 0.0f && a->x[i] != 0.0f && b->x[i] != 0.0f)
			float_underflow_error();
	}
	check_result_finite(result);
	PG_RETURN_VEC_P(result);
}

/* a || b: ERROR when the result would exceed VEC_MAX_DIM. */
Datum
vec_concat(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	Vec		   *b = PG_GETARG_VEC_P(1);
	Vec		   *result;

	if (a->dim + b->dim > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vec cannot have more than %d dimensions", VEC_MAX_DIM),
				 errdetail("Concatenating %d and %d dimensions.", a->dim, b->dim)));
	result = vec_new(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float4) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float4) * b->dim);
	PG_RETURN_VEC_P(result);
}

/*
 * Total order for btree: element by element, then the shorter vec first.
 * Elements are finite, so plain float comparison is a total order except
 * that -0 equals 0, which hashing below respects.
 */
static int
vec_compare(const Vec *a, const Vec *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

#define VEC_COMPARISON(fname, expr) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	Vec		   *a = PG_GETARG_VEC_P(0); \
	Vec		   *b = PG_GETARG_VEC_P(1); \
	int			c = vec_compare(a, b); \
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	return (expr); \
}

VEC_COMPARISON(vec_cmp, Int32GetDatum(c))
VEC_COMPARISON(vec_lt, BoolGetDatum(c < 0))
VEC_COMPARISON(vec_le, BoolGetDatum(c <= 0))
VEC_COMPARISON(vec_eq, BoolGetDatum(c == 0))
VEC_COMPARISON(vec_ne, BoolGetDatum(c != 0))
VEC_COMPARISON(vec_ge, BoolGetDatum(c >= 0))
VEC_COMPARISON(vec_gt, BoolGetDatum(c > 0))

/* Hash the elements with -0 folded into 0, so equal vecs hash alike. */
static uint64
vec_hash_internal(const Vec *v, uint64 seed)
{
	uint64		h = hash_uint32_extended((uint32) v->dim, seed);

	for (int i = 0; i < v->dim; i++)
	{
		float4		f = v->x[i] == 0.0f ? 0.0f : v->x[i];
		uint32		bits;

		memcpy(&bits, &f, sizeof(bits));
		h = hash_combine64(h, hash_uint32_extended(bits, seed));
	}
	return h;
}

/* Hash opclass support: equal vecs (vec_eq) hash alike. */
Datum
vec_hash(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);

	PG_RETURN_INT32((int32) vec_hash_internal(v, 0));
}

Datum
vec_hash_extended(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);

	PG_RETURN_INT64((int64) vec_hash_internal(v, (uint64) PG_GETARG_INT64(1)));
}
