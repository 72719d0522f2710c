/*
 * vec_distance.h
 *		Distances as the SQL operators report them: the SIMD kernel, and the
 *		double-precision routine when the kernel's float32 sums overflow or
 *		underflow.
 *
 * Every caller that must agree with the operators (the operators
 * themselves, GiST and SP-GiST leaf distances, msivf's exact rerank) goes
 * through these, so an index can never order rows differently from
 * ORDER BY on a sequential scan.  Inline: the common path stays one
 * indirect call to the kernel and one range check of its result.
 *
 * Why the range check is enough: a float32 sum that overflowed is +-Inf
 * (or NaN when overflows of both signs meet); one whose terms underflowed
 * lost at most 2^-150 per term (gradual underflow), so for n <= 16000
 * terms at most 2^-136 in all, which only matters when the sum itself is
 * below VEC_F32_SUM_TINY (relative error then at most 2^-36 above it).
 * Sums outside [VEC_F32_SUM_TINY, FLT_MAX] are computed again in double,
 * where neither can happen for float32 inputs.
 */
#ifndef MS_VEC_DISTANCE_H
#define MS_VEC_DISTANCE_H

#include <math.h>
#include <stdbool.h>

#include "vec_exact.h"
#include "vec_kernels.h"

/* below this a float32 sum of squares or products may have lost terms */
#define VEC_F32_SUM_TINY	0x1p-100f

/*
 * True when a float32 sum is neither overflowed nor possibly underflowed:
 * VEC_F32_SUM_TINY <= |s| <= FLT_MAX (false for NaN).
 */
static inline bool
vec_f32_sum_in_range(float s)
{
	float		m = fabsf(s);

	return m >= VEC_F32_SUM_TINY && m <= 3.40282347e+38f;
}

/* sum((a[i] - b[i])^2) */
static inline double
vec_distance_l2_squared(const float *a, const float *b, int n)
{
	float		d = vec_kernels->l2_squared(a, b, n);

	if (__builtin_expect(!vec_f32_sum_in_range(d), 0))
		return vec_l2_squared_f64(a, b, n);
	return d;
}

/*
 * sum(a[i] * b[i]); large terms of both signs can also give NaN.  A sum
 * that cancels to (near) zero is computed again in double too: exact where
 * float32 is not, and rare.
 */
static inline double
vec_distance_inner_product(const float *a, const float *b, int n)
{
	float		d = vec_kernels->inner_product(a, b, n);

	if (__builtin_expect(!vec_f32_sum_in_range(d), 0))
		return vec_inner_product_f64(a, b, n);
	return d;
}

/* sum(a[i]^2) */
static inline double
vec_distance_norm_squared(const float *a, int n)
{
	float		d = vec_kernels->norm_squared(a, n);

	if (__builtin_expect(!vec_f32_sum_in_range(d), 0))
		return vec_norm_squared_f64(a, n);
	return d;
}

/* sum(|a[i] - b[i]|): differences and their sums underflow exactly */
static inline double
vec_distance_l1(const float *a, const float *b, int n)
{
	float		d = vec_kernels->l1(a, b, n);

	if (__builtin_expect(isinf(d), 0))
		return vec_l1_f64(a, b, n);
	return d;
}

/*
 * 1 - cos(a, b) in [0, 2]; NaN when either vector is zero.  A dot product
 * that underflowed while both norms are in range is negligible against
 * them (see above), so only its overflow needs the double path.
 */
static inline double
vec_distance_cosine(const float *a, const float *b, int n)
{
	float		dot,
				norm_a,
				norm_b;

	vec_kernels->cosine_parts(a, b, n, &dot, &norm_a, &norm_b);
	if (__builtin_expect(!vec_f32_sum_in_range(norm_a) || !vec_f32_sum_in_range(norm_b) ||
						 !(fabsf(dot) <= 3.40282347e+38f), 0))
	{
		double		dot64,
					norm_a64,
					norm_b64;

		vec_cosine_parts_f64(a, b, n, &dot64, &norm_a64, &norm_b64);
		return vec_cosine_from_parts(dot64, norm_a64, norm_b64);
	}
	return vec_cosine_from_parts(dot, norm_a, norm_b);
}

#endif							/* MS_VEC_DISTANCE_H */
