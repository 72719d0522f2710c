/*
 * test_boxsel.c
 *		Unit tests for the point statistics behind the "v <@ box" estimate
 *		(src/spatial/core/boxsel.c): estimates against exact counts on
 *		uniform, clustered, correlated and tied data, every supported
 *		dimension count, and stats that are damaged or of another shape.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "boxsel.h"
#include "unit.h"

static double
uniform(void)
{
	return (double) (unit_rng64() >> 11) / 9007199254740992.0;
}

static double
exact_share(const float *pts, int n, int d, const float *lo, const float *hi)
{
	int			in = 0;

	for (int i = 0; i < n; i++)
	{
		int			j;

		for (j = 0; j < d; j++)
			if (pts[(size_t) i * d + j] < lo[j] || pts[(size_t) i * d + j] > hi[j])
				break;
		in += j == d;
	}
	return (double) in / n;
}

/*
 * Random boxes over data built from the same points: the estimate must be
 * within abs_tol + rel_tol * exact of the exact share, for most boxes
 * (misses counts those that are not; at most max_misses of them).
 */
static void
check_boxes(const char *what, const float *pts, int n, int d, double lo_range, double hi_range,
			double abs_tol, double rel_tol, int max_misses)
{
	size_t		size = boxsel_stats_size(d);
	float	   *stats = malloc(sizeof(float) * size);
	void	   *work = malloc(boxsel_work_size(n, d));
	int			misses = 0;
	double		worst = 0;

	CHECK(boxsel_build(pts, n, d, work, stats) == size, "%s: build writes %zu floats", what, size);
	for (int t = 0; t < 200; t++)
	{
		float		lo[BOXSEL_MAX_DIMS];
		float		hi[BOXSEL_MAX_DIMS];
		double		est;
		double		ex;

		for (int j = 0; j < d; j++)
		{
			double		a = lo_range + uniform() * (hi_range - lo_range);
			double		w = uniform() * (hi_range - lo_range) * (t % 4 == 0 ? 0.05 : 0.6);

			lo[j] = (float) a;
			hi[j] = (float) (a + w);
		}
		est = boxsel_fraction(stats, size, lo, hi, d);
		ex = exact_share(pts, n, d, lo, hi);
		if (fabs(est - ex) > abs_tol + rel_tol * ex)
			misses++;
		worst = fmax(worst, fabs(est - ex));
	}
	CHECK(misses <= max_misses, "%s: %d of 200 boxes off (worst %.4f)", what, misses, worst);
	free(stats);
	free(work);
}

int
main(void)
{
	int			n = 20000;
	float	   *pts = malloc(sizeof(float) * (size_t) n * BOXSEL_MAX_DIMS);
	void	   *work = malloc(boxsel_work_size(n, BOXSEL_MAX_DIMS));
	float	   *stats = malloc(sizeof(float) * 4096);

	CHECK(boxsel_stats_size(0) == 0 && boxsel_stats_size(BOXSEL_MAX_DIMS + 1) == 0,
		  "unsupported dimension counts have no stats");
	CHECK(boxsel_build(pts, 0, 2, work, stats) == 0, "no rows, no stats");

	/* uniform points, every supported dimension count */
	for (int d = 1; d <= BOXSEL_MAX_DIMS; d++)
	{
		char		what[32];

		for (size_t i = 0; i < (size_t) n * d; i++)
			pts[i] = (float) (uniform() * 100);
		snprintf(what, sizeof(what), "uniform %dd", d);
		check_boxes(what, pts, n, d, 0, 100, 0.01, 0.2, 4);
	}

	/*
	 * Points on the diagonal of the square: a box off the diagonal holds
	 * none, one across it a strip.  The grid sees that; independent
	 * dimensions would not (an off-diagonal box of a quarter of the square
	 * would be estimated at a quarter of the rows).
	 */
	for (int i = 0; i < n; i++)
	{
		float		t = (float) (uniform() * 100);

		pts[2 * i] = t;
		pts[2 * i + 1] = t + (float) (uniform() - 0.5);
	}
	check_boxes("diagonal 2d", pts, n, 2, 0, 100, 0.01, 0.25, 6);
	{
		float		lo[2] = {0, 50};
		float		hi[2] = {49, 100};
		size_t		size = boxsel_stats_size(2);

		boxsel_build(pts, n, 2, work, stats);
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) < 0.01,
			  "off-diagonal quarter: %g", boxsel_fraction(stats, size, lo, hi, 2));
	}

	/* clustered 3-d points: most of the space is empty */
	for (int i = 0; i < n; i++)
	{
		int			c = (int) (uniform() * 5);

		for (int j = 0; j < 3; j++)
			pts[3 * i + j] = (float) (c * 20 + (j * 7 % 5) + uniform() * 3);
	}
	check_boxes("clustered 3d", pts, n, 3, 0, 100, 0.02, 0.3, 6);
	{
		/* the space between the clusters is empty, and so estimated */
		float		lo[3] = {30, 30, 30};
		float		hi[3] = {38, 38, 38};
		size_t		size = boxsel_stats_size(3);

		boxsel_build(pts, n, 3, work, stats);
		CHECK(boxsel_fraction(stats, size, lo, hi, 3) < 0.001,
			  "between clusters: %g", boxsel_fraction(stats, size, lo, hi, 3));
	}

	/* heavy ties: a tenth of the rows at one value, the rest spread */
	for (int i = 0; i < n; i++)
		pts[i] = i % 10 == 0 ? 42.0f : (float) (uniform() * 100);
	{
		size_t		size = boxsel_stats_size(1);
		float		at[1] = {42.0f};
		float		lo[1] = {41.0f};
		float		hi[1] = {43.0f};
		double		point;
		double		around;

		boxsel_build(pts, n, 1, work, stats);
		point = boxsel_fraction(stats, size, at, at, 1);
		around = boxsel_fraction(stats, size, lo, hi, 1);
		CHECK(fabs(point - exact_share(pts, n, 1, at, at)) < 0.02,
			  "the tied value alone: %g, exact %g", point, exact_share(pts, n, 1, at, at));
		CHECK(fabs(around - exact_share(pts, n, 1, lo, hi)) < 0.02,
			  "around the tied value: %g, exact %g", around, exact_share(pts, n, 1, lo, hi));
	}

	/* every row at one point */
	for (int i = 0; i < n * 2; i++)
		pts[i] = 7.0f;
	{
		size_t		size = boxsel_stats_size(2);
		float		at[2] = {7, 7};
		float		off[2] = {8, 8};

		boxsel_build(pts, n, 2, work, stats);
		CHECK(boxsel_fraction(stats, size, at, at, 2) > 0.99, "one point: all rows");
		CHECK(boxsel_fraction(stats, size, off, off, 2) == 0, "one point: none elsewhere");
	}

	/* boxes beyond the data, inverted boxes, infinite bounds */
	for (int i = 0; i < n * 2; i++)
		pts[i] = (float) (uniform() * 10);
	{
		size_t		size = boxsel_stats_size(2);
		float		lo[2] = {20, 20};
		float		hi[2] = {30, 30};
		float		all_lo[2] = {-INFINITY, -INFINITY};
		float		all_hi[2] = {INFINITY, INFINITY};

		boxsel_build(pts, n, 2, work, stats);
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) == 0, "a box beyond the data holds nothing");
		CHECK(boxsel_fraction(stats, size, hi, lo, 2) == 0, "an inverted box holds nothing");
		CHECK(boxsel_fraction(stats, size, all_lo, all_hi, 2) == 1, "the whole space holds all");

		/* damaged or mismatched stats: -1, never a wild answer */
		CHECK(boxsel_fraction(stats, size, lo, hi, 3) == -1, "other dims: -1");
		CHECK(boxsel_fraction(stats, size - 1, lo, hi, 2) == -1, "short stats: -1");
		CHECK(boxsel_fraction(stats, 2, lo, hi, 2) == -1, "header only: -1");
		stats[0] = 2;
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) == -1, "unknown format: -1");
		stats[0] = BOXSEL_FORMAT;
		stats[2] = 7;
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) == -1, "other bin count: -1");
		boxsel_build(pts, n, 2, work, stats);
		stats[BOXSEL_HEADER + 5] = NAN;
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) == -1, "a NaN boundary: -1");
		boxsel_build(pts, n, 2, work, stats);
		stats[BOXSEL_HEADER + 5] = 1e30f;	/* a bin's least value above its greatest */
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) == -1, "a bin's bounds out of order: -1");
		boxsel_build(pts, n, 2, work, stats);
		stats[BOXSEL_HEADER + 2 * 32 + 3] = 2;	/* a share above 1 */
		CHECK(boxsel_fraction(stats, size, lo, hi, 2) == -1, "a share out of range: -1");
	}

	free(pts);
	free(work);
	free(stats);
	return unit_finish("boxsel");
}
