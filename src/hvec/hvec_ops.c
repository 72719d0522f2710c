/*
 * hvec_ops.c
 *		Functions and operators of the hvec type: distances, norms,
 *		element-wise arithmetic, concatenation, comparison and hashing.
 *
 * Distances convert both hvecs to float (exactly, with the SIMD
 * conversions chosen at load) and then run vec's distance kernels
 * (hvec_distance.h): an hvec distance is the very number the vec operator
 * gives for hvec::vec, and the one msivf's rerank computes.  Up to
 * HVEC_STACK_DIMS dimensions the floats live on the stack.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"

#include "half.h"
#include "hvec.h"
#include "hvec_distance.h"

PG_FUNCTION_INFO_V1(hvec_dims);
PG_FUNCTION_INFO_V1(hvec_norm);
PG_FUNCTION_INFO_V1(hvec_l2_normalize);
PG_FUNCTION_INFO_V1(hvec_subvec);
PG_FUNCTION_INFO_V1(hvec_l2_distance);
PG_FUNCTION_INFO_V1(hvec_l2_squared_distance);
PG_FUNCTION_INFO_V1(hvec_inner_product);
PG_FUNCTION_INFO_V1(hvec_negative_inner_product);
PG_FUNCTION_INFO_V1(hvec_cosine_distance);
PG_FUNCTION_INFO_V1(hvec_l1_distance);
PG_FUNCTION_INFO_V1(hvec_add);
PG_FUNCTION_INFO_V1(hvec_sub);
PG_FUNCTION_INFO_V1(hvec_mul);
PG_FUNCTION_INFO_V1(hvec_concat);
PG_FUNCTION_INFO_V1(hvec_cmp);
PG_FUNCTION_INFO_V1(hvec_lt);
PG_FUNCTION_INFO_V1(hvec_le);
PG_FUNCTION_INFO_V1(hvec_eq);
PG_FUNCTION_INFO_V1(hvec_ne);
PG_FUNCTION_INFO_V1(hvec_ge);
PG_FUNCTION_INFO_V1(hvec_gt);
PG_FUNCTION_INFO_V1(hvec_hash);
PG_FUNCTION_INFO_V1(hvec_hash_extended);

Datum
hvec_dims(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);

	PG_RETURN_INT32(v->dim);
}

/* Float buffers for two hvecs of dim elements: on the stack when small. */
typedef struct HvecFloats
{
	float		stack_a[HVEC_STACK_DIMS];
	float		stack_b[HVEC_STACK_DIMS];
	float	   *a;
	float	   *b;
} HvecFloats;

static void
floats_init(HvecFloats *f, int dim)
{
	if (dim <= HVEC_STACK_DIMS)
	{
		f->a = f->stack_a;
		f->b = f->stack_b;
	}
	else
	{
		f->a = palloc(sizeof(float) * dim);
		f->b = palloc(sizeof(float) * dim);
	}
}

Datum
hvec_norm(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	HvecFloats	f;

	floats_init(&f, v->dim);
	PG_RETURN_FLOAT8(sqrt(hvec_distance_norm_squared(v->x, v->dim, f.a)));
}

/* A zero vector stays zero; unit components cannot overflow a half. */
Datum
hvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	HVec	   *result = hvec_new(v->dim);
	double		norm = 0;

	for (int i = 0; i < v->dim; i++)
	{
		double		x = half_to_float(v->x[i]);

		norm += x * x;
	}
	norm = sqrt(norm);
	if (norm > 0)
	{
		for (int i = 0; i < v->dim; i++)
			result->x[i] = half_from_double(half_to_float(v->x[i]) / norm);
	}
	PG_RETURN_HVEC_P(result);
}

/* subvec(v, start, count), clipped like substring(); empty is an error. */
Datum
hvec_subvec(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end;
	HVec	   *result;

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
				 errmsg("hvec must have at least 1 dimension"),
				 errdetail("subvec selects no element of an hvec of %d dimensions.", v->dim)));

	result = hvec_new((int) (end - start));
	memcpy(result->x, v->x + (start - 1), sizeof(uint16) * result->dim);
	PG_RETURN_HVEC_P(result);
}

/* The distances: ERROR when the dimensions differ. */
#define HVEC_DISTANCE(fname, expr) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	HVec	   *a = PG_GETARG_HVEC_P(0); \
	HVec	   *b = PG_GETARG_HVEC_P(1); \
	HvecFloats	f; \
	hvec_check_same_dims(a->dim, b->dim); \
	floats_init(&f, a->dim); \
	PG_RETURN_FLOAT8(expr); \
}

HVEC_DISTANCE(hvec_l2_distance,
			  sqrt(hvec_distance_l2_squared(a->x, b->x, a->dim, f.a, f.b)))
HVEC_DISTANCE(hvec_l2_squared_distance,
			  hvec_distance_l2_squared(a->x, b->x, a->dim, f.a, f.b))
HVEC_DISTANCE(hvec_inner_product,
			  hvec_distance_inner_product(a->x, b->x, a->dim, f.a, f.b))
/* 0.0 - x rather than -x: an orthogonal pair gives 0, not -0 */
HVEC_DISTANCE(hvec_negative_inner_product,
			  0.0 - hvec_distance_inner_product(a->x, b->x, a->dim, f.a, f.b))
HVEC_DISTANCE(hvec_cosine_distance,
			  hvec_distance_cosine(a->x, b->x, a->dim, f.a, f.b))
HVEC_DISTANCE(hvec_l1_distance,
			  hvec_distance_l1(a->x, b->x, a->dim, f.a, f.b))

/*
 * Element-wise +, - and *: computed exactly in double (the sum, difference
 * or product of two halves always fits its 53 bits) and rounded once to
 * half; ERROR when dimensions differ or a result overflows.  A result
 * below the smallest subnormal becomes zero, as on input.
 */
#define HVEC_ARITH(fname, op) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	HVec	   *a = PG_GETARG_HVEC_P(0); \
	HVec	   *b = PG_GETARG_HVEC_P(1); \
	HVec	   *result; \
	hvec_check_same_dims(a->dim, b->dim); \
	result = hvec_new(a->dim); \
	for (int i = 0; i < a->dim; i++) \
	{ \
		double		r = (double) half_to_float(a->x[i]) op (double) half_to_float(b->x[i]); \
		result->x[i] = half_from_double(r); \
		if (half_is_special(result->x[i])) \
			hvec_out_of_range(i + 1, r); \
	} \
	PG_RETURN_HVEC_P(result); \
}

HVEC_ARITH(hvec_add, +)
HVEC_ARITH(hvec_sub, -)
HVEC_ARITH(hvec_mul, *)

/* a || b: ERROR when the result would exceed HVEC_MAX_DIM. */
Datum
hvec_concat(PG_FUNCTION_ARGS)
{
	HVec	   *a = PG_GETARG_HVEC_P(0);
	HVec	   *b = PG_GETARG_HVEC_P(1);
	HVec	   *result;

	if (a->dim + b->dim > HVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvec cannot have more than %d dimensions", HVEC_MAX_DIM),
				 errdetail("Concatenating %d and %d dimensions.", a->dim, b->dim)));
	result = hvec_new(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(uint16) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(uint16) * b->dim);
	PG_RETURN_HVEC_P(result);
}

/*
 * A key whose unsigned order is the numeric order of finite halves:
 * negatives below 0x8000 (larger magnitude lower), positives above; -0
 * and 0 both map to 0x8000, so they compare equal.
 */
static inline uint16
half_order_key(uint16 h)
{
	return (h & 0x8000) ? (uint16) (0x8000 - (h & 0x7fff)) : (uint16) (h | 0x8000);
}

/* Total order for btree: element by element, then the shorter first. */
static int
hvec_compare(const HVec *a, const HVec *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		uint16		ka = half_order_key(a->x[i]);
		uint16		kb = half_order_key(b->x[i]);

		if (ka != kb)
			return ka < kb ? -1 : 1;
	}
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

#define HVEC_COMPARISON(fname, expr) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	HVec	   *a = PG_GETARG_HVEC_P(0); \
	HVec	   *b = PG_GETARG_HVEC_P(1); \
	int			c = hvec_compare(a, b); \
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	return (expr); \
}

HVEC_COMPARISON(hvec_cmp, Int32GetDatum(c))
HVEC_COMPARISON(hvec_lt, BoolGetDatum(c < 0))
HVEC_COMPARISON(hvec_le, BoolGetDatum(c <= 0))
HVEC_COMPARISON(hvec_eq, BoolGetDatum(c == 0))
HVEC_COMPARISON(hvec_ne, BoolGetDatum(c != 0))
HVEC_COMPARISON(hvec_ge, BoolGetDatum(c >= 0))
HVEC_COMPARISON(hvec_gt, BoolGetDatum(c > 0))

/* Hash the elements with -0 folded into 0, so equal hvecs hash alike. */
static uint64
hvec_hash_internal(const HVec *v, uint64 seed)
{
	uint16	   *keys = palloc(sizeof(uint16) * v->dim);
	uint64		h;

	for (int i = 0; i < v->dim; i++)
		keys[i] = half_order_key(v->x[i]);
	h = hash_bytes_extended((const unsigned char *) keys, sizeof(uint16) * v->dim, seed);
	pfree(keys);
	return hash_combine64(hash_uint32_extended((uint32) v->dim, seed), h);
}

Datum
hvec_hash(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);

	PG_RETURN_INT32((int32) hvec_hash_internal(v, 0));
}

Datum
hvec_hash_extended(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);

	PG_RETURN_INT64((int64) hvec_hash_internal(v, (uint64) PG_GETARG_INT64(1)));
}
