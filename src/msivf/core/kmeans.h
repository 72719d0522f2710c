/*
 * kmeans.h
 *		k-means clustering for the msivf index: k-means++ seeding on a
 *		subsample, Lloyd iterations, and nearest-centroid assignment as
 *		blocked OpenBLAS sgemm.
 *
 * Plain C (no postgres.h).  The caller owns every buffer, so a backend can
 * hand in palloc'd memory and an interrupt check that may longjmp out: the
 * routines allocate nothing that an error could leak.
 */
#ifndef MS_KMEANS_H
#define MS_KMEANS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* How a point is matched to a centroid. */
typedef enum KmeansMetric
{
	KMEANS_L2 = 0,				/* smallest squared euclidean distance */
	KMEANS_IP					/* largest inner product */
} KmeansMetric;

/* Called between blocks and iterations; may longjmp (CHECK_FOR_INTERRUPTS). */
typedef void (*KmeansTick) (void *arg);

/*
 * The sgemm block (in floats, at least k) kmeans_train works in when
 * memory allows: a million floats, or fewer when n rows need fewer.  A
 * smaller block (down to k, one row per sgemm) trains in less memory, at
 * some speed.
 */
extern size_t kmeans_default_block_floats(int64_t n, int k);

/*
 * Scratch (in floats) kmeans_train needs for n points of d dims and k
 * centroids, with an sgemm block of block_floats.
 */
extern size_t kmeans_train_work_floats(int64_t n, int d, int k, size_t block_floats);

/*
 * Trains k centroids (k*d floats, row-major, written to centroids) on the n
 * points x (n*d floats).  Requires 1 <= k <= n.  spherical: renormalise the
 * centroids to unit length after every update (cosine data).  work must
 * hold kmeans_train_work_floats() floats for the same block_floats (at
 * least k); assign must hold n ints.
 */
extern void kmeans_train(const float *x, int64_t n, int d, int k, int iters,
						 uint64_t seed, bool spherical, float *centroids,
						 float *work, size_t block_floats, int32_t *assign,
						 KmeansTick tick, void *tick_arg);

/*
 * Scales the k unit centroids (spherical k-means) by one common length:
 * the mean over the n points of x_i . c_assign[i], the length that makes
 * the residuals x - s c smallest on average while every centroid keeps
 * the same norm, so that ranking centroids by inner product stays ranking
 * them by angle.  Leaves them unit when that mean is not positive.
 * Returns the scale.
 */
extern float kmeans_common_scale(const float *x, int64_t n, int d,
								 float *centroids, int k, const int32_t *assign);

/*
 * The mean of n points (d floats into mean); returns its norm.
 */
extern double kmeans_mean(const float *x, int64_t n, int d, float *mean);

/*
 * Removes from each of n rows of d floats its component along the unit
 * vector u: x_i -= (x_i . u) u.
 */
extern void kmeans_project_out(float *x, int64_t n, int d, const float *u);

/*
 * Centroids for lists chosen by inner product: cones around the points'
 * mean m, all of one length.  The points lose their component along m
 * (x is overwritten), spherical k-means clusters what is left into unit
 * directions u_j (across m), and the centroids are m + s u_j with s the
 * points' mean length along their own u_j (kmeans_common_scale).  A
 * point's inner product with c_j is then x.m + s x.u_j: the largest for
 * the u_j nearest in angle to its part across m.  The arguments are
 * kmeans_train's, and scratch holds 2 * d floats.
 */
extern void kmeans_train_cones(float *x, int64_t n, int d, int k, int iters,
							   uint64_t seed, float *centroids, float *work,
							   size_t block_floats, int32_t *assign,
							   float *scratch, KmeansTick tick, void *tick_arg);

/* Squared norms of n rows of d floats. */
extern void kmeans_row_norms(const float *x, int64_t n, int d, float *norms);

/*
 * Nearest centroid of each of n points, in blocks of sgemm.  c_norms are
 * the squared centroid norms (unused for KMEANS_IP).  work holds work_floats
 * floats, at least k.  dist (may be NULL) receives the squared distance
 * (L2) or the inner product (IP) to the chosen centroid.
 */
extern void kmeans_assign(const float *x, int64_t n, int d,
						  const float *c, const float *c_norms, int k,
						  KmeansMetric metric, int32_t *assign, float *dist,
						  float *work, size_t work_floats);

/*
 * Splits n points between a fixed centre and a new one, when only the new
 * one can be written (a growth page too narrow for the parent's moved
 * centroid): c holds 2 * d floats, the fixed centre then the new one's
 * start.  iters rounds each assign every point to the nearer centre
 * (assign: 0 the fixed, 1 the new) and move the new centre to the mean of
 * its points, scaled to new_norm when that is positive (spherical
 * centres).  Ends with the assignment to the final centres.  sum holds d
 * doubles; work holds work_floats floats, at least 2.  Returns how many
 * points the new centre took.
 */
extern int64_t kmeans_split_from_fixed(const float *x, int64_t n, int d, float *c,
									   int iters, KmeansMetric metric, float new_norm,
									   int32_t *assign, double *sum, float *work,
									   size_t work_floats);

/* Limit OpenBLAS to the calling thread; call once before any sgemm. */
extern void kmeans_single_thread_blas(void);

#endif							/* MS_KMEANS_H */
