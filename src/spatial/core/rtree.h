/*
 * rtree.h
 *		Pure algorithms behind the spatial indexes on vec: distances from a
 *		point to a box, the insertion penalty and node split of the R-tree
 *		(GiST), the space-filling-curve order for sorted builds, and the
 *		median split of the k-d tree (SP-GiST).
 *
 * Plain C, no postgres.h, so all of it is unit-tested without a server.
 * A box of dim dimensions is two float arrays lo[dim] and hi[dim] with
 * lo[i] <= hi[i]; a point is a box with lo == hi.  Infinite bounds are
 * allowed (the k-d tree's root region is unbounded).
 */
#ifndef MS_RTREE_H
#define MS_RTREE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Squared Euclidean and L1 distance from point q to the box, in double:
 * 0 when q lies inside.  Exact up to double rounding.
 */
extern double rtree_box_l2sq(const float *q, const float *lo, const float *hi, int dim);
extern double rtree_box_l1(const float *q, const float *lo, const float *hi, int dim);

/*
 * The distance operators compute in float32 (SIMD kernels), which may
 * round a point's distance below its exact value by a relative error that
 * grows with dim.  A lower bound multiplied by this factor never exceeds
 * what the float32 kernel reports for any point in the box, so an index
 * that orders by box bounds and by kernel distances at the leaves stays
 * exactly consistent with the operator.
 */
extern double rtree_kernel_slack(int dim);

/* Does the box [alo,ahi] overlap / contain [blo,bhi]?  Bounds inclusive. */
extern int	rtree_box_overlaps(const float *alo, const float *ahi,
							   const float *blo, const float *bhi, int dim);
extern int	rtree_box_contains(const float *alo, const float *ahi,
							   const float *blo, const float *bhi, int dim);
/* Is point p in the box?  Bounds inclusive. */
extern int	rtree_box_contains_point(const float *lo, const float *hi,
									 const float *p, int dim);

/* Grow [lo,hi] to cover [blo,bhi]. */
extern void rtree_box_extend(float *lo, float *hi, const float *blo, const float *bhi, int dim);

/* Sum of the box's edge lengths (half its perimeter in 2-D), and volume. */
extern double rtree_box_margin(const float *lo, const float *hi, int dim);
extern double rtree_box_volume(const float *lo, const float *hi, int dim);

/*
 * Penalty for adding box n to the subtree with box o: smaller is better.
 * Ordered lexicographically by (volume enlargement, margin enlargement,
 * margin of o), packed into one non-negative finite float as GiST wants,
 * so a subtree that already contains the new entry always wins, and among
 * those the smallest one.
 */
extern float rtree_penalty(const float *olo, const float *ohi,
						   const float *nlo, const float *nhi, int dim);

/*
 * R*-style split of n >= 2 boxes (lo[i], hi[i]) into two groups: the axis
 * whose sorted distributions have the least total margin, then on that
 * axis the distribution with the least overlap, then least total volume,
 * then least total margin, then the most even one.  Each group gets at
 * least max(1, 40% of n) entries (fewer only when n is tiny).
 * side[i] is set to 0 or 1; both groups are non-empty.
 * work must hold rtree_split_work_size(n, dim) bytes, suitably aligned
 * for double (malloc/palloc memory is).
 */
extern size_t rtree_split_work_size(int n, int dim);
extern void rtree_split(int n, int dim, const float *const *lo, const float *const *hi,
						unsigned char *side, void *work);

/* The bits of a float, mapped so that unsigned order is numeric order. */
extern uint32_t rtree_float_sortable(float f);

/*
 * Hilbert order, for sorted GiST builds: a curve that never jumps, so a
 * run of consecutive points fills a compact region and the pages of a
 * sorted build get small, square-ish bounding boxes.  Coordinates are
 * mapped by rtree_float_sortable() first (monotone per axis, so regions
 * stay boxes).  rtree_hilbert_transpose() turns n coordinates of 32 bits
 * into Skilling's "transposed" Hilbert index, whose interleaved bits
 * (compared by rtree_interleave_cmp) give the curve order.  scratch must
 * hold 2 * dim uint32_t.  rtree_hilbert_abbrev returns the first 64 bits
 * of the index, consistent with rtree_hilbert_cmp.
 */
extern void rtree_hilbert_transpose(uint32_t *x, int n);
extern int	rtree_interleave_cmp(const uint32_t *a, const uint32_t *b, int n);
extern int	rtree_hilbert_cmp(const float *a, const float *b, int dim, uint32_t *scratch);
extern uint64_t rtree_hilbert_abbrev(const float *a, int dim, uint32_t *scratch);

/*
 * k-d tree split of n >= 2 points: choose the dimension of largest spread,
 * sort along it, and cut at the middle position.  side[i] = 0 for the
 * lower half (values <= *split), 1 for the upper half (values >= *split);
 * both halves are non-empty even when every point is the same.  Returns
 * the dimension.  work must hold rtree_kd_work_size(n) bytes.
 */
extern size_t rtree_kd_work_size(int n);
extern int	rtree_kd_split(int n, int dim, const float *const *pts,
						   unsigned char *side, float *split, void *work);

#endif							/* MS_RTREE_H */
