/*
 * hvec_distance.h
 *		Distances between hvecs as the SQL operators report them: both
 *		vectors converted to float (exact), then vec's distances.
 *
 * Going through vec_distance.h on the converted values makes an hvec
 * distance the very number the vec operator gives for the same values
 * (hvec::vec), and what msivf's rerank computes from the heap row, so an
 * index orders hvec rows exactly as ORDER BY does.  The callers pass the
 * float buffers (n floats each), so nothing here allocates.
 */
#ifndef MS_HVEC_DISTANCE_H
#define MS_HVEC_DISTANCE_H

#include <stdint.h>

#include "half.h"
#include "vec_distance.h"

static inline double
hvec_distance_l2_squared(const uint16_t *a, const uint16_t *b, int n, float *fa, float *fb)
{
	half_kernels->to_float(a, fa, n);
	half_kernels->to_float(b, fb, n);
	return vec_distance_l2_squared(fa, fb, n);
}

static inline double
hvec_distance_inner_product(const uint16_t *a, const uint16_t *b, int n, float *fa, float *fb)
{
	half_kernels->to_float(a, fa, n);
	half_kernels->to_float(b, fb, n);
	return vec_distance_inner_product(fa, fb, n);
}

static inline double
hvec_distance_l1(const uint16_t *a, const uint16_t *b, int n, float *fa, float *fb)
{
	half_kernels->to_float(a, fa, n);
	half_kernels->to_float(b, fb, n);
	return vec_distance_l1(fa, fb, n);
}

static inline double
hvec_distance_cosine(const uint16_t *a, const uint16_t *b, int n, float *fa, float *fb)
{
	half_kernels->to_float(a, fa, n);
	half_kernels->to_float(b, fb, n);
	return vec_distance_cosine(fa, fb, n);
}

static inline double
hvec_distance_norm_squared(const uint16_t *a, int n, float *fa)
{
	half_kernels->to_float(a, fa, n);
	return vec_distance_norm_squared(fa, n);
}

#endif							/* MS_HVEC_DISTANCE_H */
