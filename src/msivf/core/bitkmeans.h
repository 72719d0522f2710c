/*
 * bitkmeans.h
 *		Clustering of packed bit strings for msivf's bvec opclasses:
 *		binary centroids by per-bit majority vote (k-medians under Hamming
 *		distance), rows matched to the nearest centroid by popcount
 *		Hamming or Jaccard distance (bit_kernels.h).
 *
 * Plain C (no postgres.h).  The caller owns every buffer and may pass an
 * interrupt check that longjmps: nothing here allocates.
 */
#ifndef MS_BITKMEANS_H
#define MS_BITKMEANS_H

#include <stddef.h>
#include <stdint.h>

/* which distance matches a row to a centroid */
typedef enum BitkmMetric
{
	BITKM_HAMMING = 0,			/* popcount(a XOR b) */
	BITKM_JACCARD				/* 1 - |a AND b| / |a OR b|, 0 for two zero strings */
} BitkmMetric;

/* Called between iterations; may longjmp (CHECK_FOR_INTERRUPTS). */
typedef void (*BitkmTick) (void *arg);

/* The distance of a and b, nbytes each, as the bvec operators compute it. */
extern double bitkm_distance(BitkmMetric metric, const uint8_t *a, const uint8_t *b,
							 size_t nbytes);

/*
 * The nearest of the k centroids (k * nbytes, back to back) to x, the
 * first of equal ones; its distance in *dist when dist is not NULL.
 */
extern int	bitkm_nearest(BitkmMetric metric, const uint8_t *x, const uint8_t *centroids,
						  int k, size_t nbytes, double *dist);

/*
 * Trains k centroids (written to centroids, k * BYTES(nbits)) on the n rows
 * (n * BYTES(nbits), padding bits zero, so the centroids' are too).
 * Requires 1 <= k <= n.  Seeds are k rows spread over the input (callers
 * pass a random sample); a list left empty is reseeded with a row drawn
 * from seed.  Work: assign and order hold n ints, start k + 1 ints,
 * bitcount nbits uint32s.  Returns the iterations run (it stops early
 * once no row changes list).
 */
extern int	bitkm_train(BitkmMetric metric, const uint8_t *rows, int n, int nbits, int k,
						int max_iter, uint64_t seed, uint8_t *centroids,
						int32_t *assign, int32_t *order, int32_t *start, uint32_t *bitcount,
						BitkmTick tick, void *tick_arg);

/*
 * The nbits bits of x (first bit the high bit of byte 0) as +1 (set) and
 * -1 (clear) floats, the sign vector whose inner product with another one
 * is nbits - 2 * Hamming: so float k-means of sign vectors clusters the
 * rows for Hamming routing, with centroids that keep how strongly each
 * bit leans instead of rounding it to a majority.
 */
extern void bitkm_signs(const uint8_t *x, int nbits, float *out);

/*
 * The centroid (of k unit-length float centroids of nbits each, back to
 * back) with the largest inner product with the sign vector s (nbits
 * floats from bitkm_signs), the first of equal ones.  dot computes an
 * inner product of n floats (a SIMD kernel).
 */
extern int	bitkm_nearest_signs(const float *s, const float *centroids, int k, int nbits,
								float (*dot) (const float *a, const float *b, int n));

#endif							/* MS_BITKMEANS_H */
