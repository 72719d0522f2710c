/*
 * boxsel.h
 *		Statistics of a column of low-dimensional points, and from them the
 *		share of the rows that fall in an axis-aligned box: what the planner
 *		needs for "v <@ box" (vec_dwithin's prefilter too).
 *
 * Each dimension's sampled values are cut into equi-depth bins (equal
 * values never split across two), and each bin keeps the least and the
 * greatest value in it and its share of the rows: a gap in the data falls
 * between bins rather than inside one, and a value that many rows share is
 * a bin of zero width.  Up to BOXSEL_GRID_MAX_DIMS dimensions the stats
 * also hold the sample's share in every cell of the grid the bins make, so
 * correlated coordinates (cities along a coast, points on a curve) are
 * estimated as they are; above that, up to BOXSEL_MAX_DIMS, the dimensions
 * are taken as independent.  Within a bin the rows are taken as spread
 * evenly between its least and greatest value.
 *
 * The stats are one array of floats (what pg_statistic's stanumbers holds):
 *		[0] format (1), [1] dims d, [2] bins per dimension B, [3] 1 if a grid
 *		then for each dimension: B least values, B greatest, B shares
 *		then, for a grid, B^d cell shares (row-major, first dimension slowest)
 */
#ifndef MS_BOXSEL_H
#define MS_BOXSEL_H

#include <stddef.h>

#define BOXSEL_MAX_DIMS			16
#define BOXSEL_GRID_MAX_DIMS	3
#define BOXSEL_FORMAT			1
#define BOXSEL_HEADER			4

/* Floats the stats of d-dimensional points take; 0 when d is not supported. */
extern size_t boxsel_stats_size(int d);

/* Bytes of scratch boxsel_build needs for n points of d dimensions. */
extern size_t boxsel_work_size(int n, int d);

/*
 * Build the stats of n points of d dimensions (points: n rows of d floats,
 * back to back, none NaN) into out (boxsel_stats_size(d) floats), with
 * work as scratch of boxsel_work_size(n, d) bytes.  Returns the floats
 * written, 0 when there is nothing to build (n < 1 or d unsupported).
 */
extern size_t boxsel_build(const float *points, int n, int d, void *work, float *out);

/*
 * The estimated share (0 to 1) of the rows with lo[i] <= x[i] <= hi[i] in
 * every dimension; -1 when the stats are malformed or of another dimension
 * count than d.
 */
extern double boxsel_fraction(const float *stats, size_t nstats,
							  const float *lo, const float *hi, int d);

#endif							/* MS_BOXSEL_H */
