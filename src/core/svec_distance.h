/*
 * svec_distance.h
 *		Distances, norms and the total order of sparse vectors, computed on
 *		their sorted index lists.
 *
 * Every function walks the two lists once, as a merge: O(nnz_a + nnz_b),
 * whatever the dimensions.  Products and squares of float4 values are
 * exact in double and sums are kept in double, so these never overflow
 * and agree with the dense vec distances (which sum in float32) to well
 * within float32 rounding.  Plain C: unit-tested against dense references.
 */
#ifndef MS_SVEC_DISTANCE_H
#define MS_SVEC_DISTANCE_H

#include <stdint.h>

/* A read-only view of a sparse vector: strictly increasing 0-based indices. */
typedef struct SvecView
{
	int32_t		dims;
	int32_t		nnz;
	const int32_t *indices;
	const float *values;
} SvecView;

/* sum(a[i] * b[i]) */
extern double svec_dist_inner_product(const SvecView *a, const SvecView *b);

/* sum((a[i] - b[i])^2) */
extern double svec_dist_l2_squared(const SvecView *a, const SvecView *b);

/* sum(|a[i] - b[i]|) */
extern double svec_dist_l1(const SvecView *a, const SvecView *b);

/* sum(a[i]^2) */
extern double svec_dist_norm_squared(const SvecView *a);

/* The dot product and both squared norms: the parts of the cosine. */
extern void svec_dist_cosine_parts(const SvecView *a, const SvecView *b,
							  double *dot, double *norm_a, double *norm_b);

/*
 * -1, 0 or 1: the order of the two as dense vectors, element by element
 * over their common dimensions, then the one of fewer dimensions first
 * (the order of vec).  Needs the stored form: no explicit zeros.
 */
extern int	svec_compare(const SvecView *a, const SvecView *b);

#endif							/* MS_SVEC_DISTANCE_H */
