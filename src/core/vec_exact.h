/*
 * vec_exact.h
 *		Double-precision distances over float32 arrays.
 *
 * The SIMD kernels accumulate in float32, which is exact enough for ranking
 * but overflows for elements near FLT_MAX and cancels when two large
 * vectors nearly coincide.  These slower routines are the fallback for
 * those cases and the reference where an exact answer is promised.
 */
#ifndef MS_VEC_EXACT_H
#define MS_VEC_EXACT_H

extern double vec_l2_squared_f64(const float *a, const float *b, int n);
extern double vec_inner_product_f64(const float *a, const float *b, int n);
extern double vec_l1_f64(const float *a, const float *b, int n);
extern double vec_norm_squared_f64(const float *a, int n);
extern void vec_cosine_parts_f64(const float *a, const float *b, int n,
								 double *dot, double *norm_a, double *norm_b);

#endif							/* MS_VEC_EXACT_H */
