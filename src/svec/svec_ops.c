/*
 * svec_ops.c
 *		Functions and operators of the svec type: dimensions, norm,
 *		normalisation, distances, comparison and hashing.
 *
 * Distances merge the two sorted index lists (src/core/svec_distance.c),
 * O(nnz_a + nnz_b) whatever the dimensions, summing in double.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"

#include "svec.h"
#include "vec_kernels.h"

PG_FUNCTION_INFO_V1(svec_dims);
PG_FUNCTION_INFO_V1(svec_nnz);
PG_FUNCTION_INFO_V1(svec_norm);
PG_FUNCTION_INFO_V1(svec_l2_normalize);
PG_FUNCTION_INFO_V1(svec_l2_distance);
PG_FUNCTION_INFO_V1(svec_l2_squared_distance);
PG_FUNCTION_INFO_V1(svec_inner_product);
PG_FUNCTION_INFO_V1(svec_negative_inner_product);
PG_FUNCTION_INFO_V1(svec_cosine_distance);
PG_FUNCTION_INFO_V1(svec_l1_distance);
PG_FUNCTION_INFO_V1(svec_cmp);
PG_FUNCTION_INFO_V1(svec_lt);
PG_FUNCTION_INFO_V1(svec_le);
PG_FUNCTION_INFO_V1(svec_eq);
PG_FUNCTION_INFO_V1(svec_ne);
PG_FUNCTION_INFO_V1(svec_ge);
PG_FUNCTION_INFO_V1(svec_gt);
PG_FUNCTION_INFO_V1(svec_hash);
PG_FUNCTION_INFO_V1(svec_hash_extended);

Datum
svec_dims(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT32(s->dims);
}

Datum
svec_nnz(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT32(s->nnz);
}

Datum
svec_norm(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	SvecView	v = svec_view(s);

	PG_RETURN_FLOAT8(sqrt(svec_dist_norm_squared(&v)));
}

/*
 * The unit vector of the same direction; a zero vector stays zero.  A
 * value so small against the norm that it rounds to 0 in float4 is
 * dropped, as the stored form has no zeros.
 */
Datum
svec_l2_normalize(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	SvecView	v = svec_view(s);
	double		norm = sqrt(svec_dist_norm_squared(&v));
	Svec	   *result = svec_new(s->dims, s->nnz);
	float4	   *values = SVEC_VALUES(result);
	int32		kept = 0;

	if (norm > 0)
	{
		for (int i = 0; i < s->nnz; i++)
		{
			float4		x = (float4) (v.values[i] / norm);

			if (x != 0.0f)
			{
				result->indices[kept] = s->indices[i];
				values[kept++] = x;
			}
		}
	}
	if (kept < s->nnz)
	{
		/* the values sit after the indices: rebuild at the smaller size */
		Svec	   *smaller = svec_new(s->dims, kept);

		memcpy(smaller->indices, result->indices, sizeof(int32) * kept);
		memcpy(SVEC_VALUES(smaller), values, sizeof(float4) * kept);
		result = smaller;
	}
	PG_RETURN_SVEC_P(result);
}

/* The distances: ERROR when the dimensions differ. */
#define SVEC_BINARY_ARGS() \
	Svec	   *sa = PG_GETARG_SVEC_P(0); \
	Svec	   *sb = PG_GETARG_SVEC_P(1); \
	SvecView	a = svec_view(sa); \
	SvecView	b = svec_view(sb); \
	svec_check_same_dims(sa->dims, sb->dims)

Datum
svec_l2_distance(PG_FUNCTION_ARGS)
{
	SVEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(sqrt(svec_dist_l2_squared(&a, &b)));
}

Datum
svec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	SVEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(svec_dist_l2_squared(&a, &b));
}

Datum
svec_inner_product(PG_FUNCTION_ARGS)
{
	SVEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(svec_dist_inner_product(&a, &b));
}

Datum
svec_negative_inner_product(PG_FUNCTION_ARGS)
{
	SVEC_BINARY_ARGS();
	/* 0.0 - x rather than -x: an orthogonal pair gives 0, not -0 */
	PG_RETURN_FLOAT8(0.0 - svec_dist_inner_product(&a, &b));
}

/* 1 - cos θ in [0, 2], NaN when either is zero: as vec's cosine_distance */
Datum
svec_cosine_distance(PG_FUNCTION_ARGS)
{
	double		dot,
				norm_a,
				norm_b;

	SVEC_BINARY_ARGS();
	svec_dist_cosine_parts(&a, &b, &dot, &norm_a, &norm_b);
	PG_RETURN_FLOAT8(vec_cosine_from_parts(dot, norm_a, norm_b));
}

Datum
svec_l1_distance(PG_FUNCTION_ARGS)
{
	SVEC_BINARY_ARGS();
	PG_RETURN_FLOAT8(svec_dist_l1(&a, &b));
}

/*
 * Total order for btree: that of the two as dense vectors, element by
 * element, then the one of fewer dimensions first, as vec orders (so a
 * cast to vec keeps the order), computed on the index lists.
 */
#define SVEC_COMPARISON(fname, expr) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	Svec	   *sa = PG_GETARG_SVEC_P(0); \
	Svec	   *sb = PG_GETARG_SVEC_P(1); \
	SvecView	a = svec_view(sa); \
	SvecView	b = svec_view(sb); \
	int			c = svec_compare(&a, &b); \
	PG_FREE_IF_COPY(sa, 0); \
	PG_FREE_IF_COPY(sb, 1); \
	return (expr); \
}

SVEC_COMPARISON(svec_cmp, Int32GetDatum(c))
SVEC_COMPARISON(svec_lt, BoolGetDatum(c < 0))
SVEC_COMPARISON(svec_le, BoolGetDatum(c <= 0))
SVEC_COMPARISON(svec_eq, BoolGetDatum(c == 0))
SVEC_COMPARISON(svec_ne, BoolGetDatum(c != 0))
SVEC_COMPARISON(svec_ge, BoolGetDatum(c >= 0))
SVEC_COMPARISON(svec_gt, BoolGetDatum(c > 0))

/*
 * Hash the dimensions and each (index, value) pair.  The stored form has
 * no zeros (so no -0 either), hence equal svecs have identical pairs and
 * hash alike.
 */
static uint64
svec_hash_internal(const Svec *s, uint64 seed)
{
	const float4 *values = SVEC_VALUES(s);
	uint64		h = hash_uint32_extended((uint32) s->dims, seed);

	for (int i = 0; i < s->nnz; i++)
	{
		uint32		bits;

		memcpy(&bits, &values[i], sizeof(bits));
		h = hash_combine64(h, hash_uint32_extended((uint32) s->indices[i], seed));
		h = hash_combine64(h, hash_uint32_extended(bits, seed));
	}
	return h;
}

Datum
svec_hash(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT32((int32) svec_hash_internal(s, 0));
}

Datum
svec_hash_extended(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT64((int64) svec_hash_internal(s, (uint64) PG_GETARG_INT64(1)));
}
