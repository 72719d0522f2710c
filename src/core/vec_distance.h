/*
 * vec_distance.h
 *		Distances as the SQL operators report them: the SIMD kernel, and the
 *		double-precision routine when the kernel's float32 sums overflow.
 *
 * Every caller that must agree with the operators (the operators
 * themselves, GiST and SP-GiST leaf distances, msivf's exact rerank) goes
 * through these, so an index can never order rows differently from
 * ORDER BY on a sequential scan.  Inline: the common path stays one
 * indirect call to the kernel.
 */
#ifndef MS_VEC_DISTANCE_H
#define MS_VEC_DISTANCE_H

#include <math.h>

#include "vec_exact.h"
#include "vec_kernels.h"

/* sum((a[i] - b[i])^2) */
static inline double
vec_distance_l2_squared(const float *a, const float *b, int n)
{
	float		d = vec_kernels->l2_squared(a, b, n);

	if (__builtin_expect(isinf(d), 0))
		return vec_l2_squared_f64(a, b, n);
	return d;
}

/* sum(a[i] * b[i]); large terms of both signs can also give NaN */
static inline double
vec_distance_inner_product(const float *a, const float *b, int n)
{
	float		d = vec_kernels->inner_product(a, b, n);

	if (__builtin_expect(isinf(d) || isnan(d), 0))
		return vec_inner_product_f64(a, b, n);
	return d;
}

/* sum(|a[i] - b[i]|) */
static inline double
vec_distance_l1(const float *a, const float *b, int n)
{
	float		d = vec_kernels->l1(a, b, n);

	if (__builtin_expect(isinf(d), 0))
		return vec_l1_f64(a, b, n);
	return d;
}

/* 1 - cos(a, b) in [0, 2]; NaN when either vector is zero */
static inline double
vec_distance_cosine(const float *a, const float *b, int n)
{
	float		dot,
				norm_a,
				norm_b;

	vec_kernels->cosine_parts(a, b, n, &dot, &norm_a, &norm_b);
	if (__builtin_expect(isinf(norm_a) || isinf(norm_b) || isinf(dot) || isnan(dot), 0))
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
