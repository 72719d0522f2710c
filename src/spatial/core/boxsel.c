/*
 * boxsel.c
 *		Per-dimension equi-depth bins and grid shares of sampled points, and
 *		the share of rows in a box estimated from them (see boxsel.h for the
 *		layout).
 */
#include "boxsel.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* bins per dimension times dimensions, at most (see bins_for) */
#define MAX_BINS_TOTAL 512

/* bins per dimension: a grid of at most a few thousand cells */
static int
bins_for(int d)
{
	switch (d)
	{
		case 1:
			return 100;
		case 2:
			return 32;
		case 3:
			return 12;
		default:
			return 32;
	}
}

/* b to the power e (small: at most the grid's cell count) */
static size_t
ipow(size_t b, int e)
{
	size_t		r = 1;

	while (e-- > 0)
		r *= b;
	return r;
}

size_t
boxsel_stats_size(int d)
{
	int			b;
	size_t		n;

	if (d < 1 || d > BOXSEL_MAX_DIMS)
		return 0;
	b = bins_for(d);
	n = BOXSEL_HEADER + (size_t) d * 3 * b;
	if (d <= BOXSEL_GRID_MAX_DIMS)
		n += ipow(b, d);
	return n;
}

/* A sampled value of one dimension and the row it came from. */
typedef struct Ranked
{
	float		value;
	int			row;
} Ranked;

/* By value, ties by row: a deterministic order for qsort. */
static int
cmp_ranked(const void *a, const void *b)
{
	const Ranked *x = (const Ranked *) a;
	const Ranked *y = (const Ranked *) b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

size_t
boxsel_work_size(int n, int d)
{
	if (n < 1 || d < 1)
		return 0;
	return sizeof(Ranked) * (size_t) n + sizeof(int) * (size_t) n * d;
}

/*
 * Cut dimension j of the points into at most nb equi-depth bins, writing
 * that dimension's least values, greatest values and shares (3 x nb floats
 * from least, zeroed by the caller), and each row's bin to bin_of_row.
 * ranked is scratch for n entries.
 */
static void
bin_dimension(const float *points, int n, int d, int j, int nb,
			  Ranked *ranked, int *bin_of_row, float *least)
{
	float	   *greatest = least + nb;
	float	   *share = greatest + nb;
	int			bin = 0;
	bool		after_heavy = false;
	double		even_width;

	for (int i = 0; i < n; i++)
	{
		ranked[i].value = points[(size_t) i * d + j];
		ranked[i].row = i;
	}
	qsort(ranked, n, sizeof(Ranked), cmp_ranked);
	even_width = ((double) ranked[n - 1].value - ranked[0].value) / nb;
	for (int p = 0; p < n;)
	{
		float		v = ranked[p].value;
		int			q = p + 1;
		int			by_rank = (int) ((long long) p * nb / n);
		bool		heavy;

		while (q < n && ranked[q].value == v)
			q++;
		/*
		 * A value held by a bin's worth of rows or more gets a bin of its
		 * own, and a gap wider than an even bin's width starts a new one:
		 * neither is then smeared over its neighbours.
		 */
		heavy = (long long) (q - p) * nb >= n;
		if (by_rank > bin)
			bin = by_rank;
		else if ((heavy || after_heavy ||
				  (p > 0 && (double) v - ranked[p - 1].value > even_width)) &&
				 share[bin] > 0 && bin < nb - 1)
			bin++;
		after_heavy = heavy;
		for (; p < q; p++)
		{
			if (share[bin] == 0)
				least[bin] = v;
			greatest[bin] = v;
			share[bin] += 1.0f;
			bin_of_row[(size_t) ranked[p].row * d + j] = bin;
		}
	}
	for (int k = 0; k < nb; k++)
		share[k] /= (float) n;
}

/* The share of the n rows in each of the nb^d grid cells (cells zeroed). */
static void
fill_grid(const int *bin_of_row, int n, int d, int nb, float *cells)
{
	size_t		ncells = ipow(nb, d);

	for (int i = 0; i < n; i++)
	{
		size_t		cell = 0;

		for (int j = 0; j < d; j++)
			cell = cell * nb + bin_of_row[(size_t) i * d + j];
		cells[cell] += 1.0f;
	}
	for (size_t c = 0; c < ncells; c++)
		cells[c] /= (float) n;
}

size_t
boxsel_build(const float *points, int n, int d, void *work, float *out)
{
	size_t		size = boxsel_stats_size(d);
	int			nb;
	bool		grid;
	Ranked	   *ranked;
	int		   *bin_of_row;

	if (size == 0 || n < 1)
		return 0;
	nb = bins_for(d);
	grid = d <= BOXSEL_GRID_MAX_DIMS;
	ranked = (Ranked *) work;
	bin_of_row = (int *) (ranked + n);
	memset(out, 0, sizeof(float) * size);
	out[0] = BOXSEL_FORMAT;
	out[1] = (float) d;
	out[2] = (float) nb;
	out[3] = grid ? 1.0f : 0.0f;

	for (int j = 0; j < d; j++)
		bin_dimension(points, n, d, j, nb, ranked, bin_of_row,
					  out + BOXSEL_HEADER + (size_t) j * 3 * nb);
	if (grid)
		fill_grid(bin_of_row, n, d, nb, out + BOXSEL_HEADER + (size_t) d * 3 * nb);
	return size;
}

/* The part of a bin's rows, spread evenly over [a, b], within [lo, hi]. */
static double
covered(double a, double b, double lo, double hi)
{
	if (hi < a || lo > b || lo > hi)
		return 0;
	if (b <= a)
		return 1;
	return (fmin(hi, b) - fmax(lo, a)) / (b - a);
}

/*
 * Are the stats what boxsel_build writes for d dimensions: the header it
 * writes, the size it gives, no NaN?
 */
static bool
stats_header_valid(const float *stats, size_t nstats, int d)
{
	if (nstats < BOXSEL_HEADER || stats[0] != BOXSEL_FORMAT || stats[1] != (float) d ||
		boxsel_stats_size(d) != nstats || stats[2] != (float) bins_for(d) ||
		stats[3] != (d <= BOXSEL_GRID_MAX_DIMS ? 1.0f : 0.0f))
		return false;
	for (size_t i = BOXSEL_HEADER; i < nstats; i++)
		if (isnan(stats[i]))
			return false;
	return true;
}

/*
 * The covered part of every bin, dimension by dimension, in cov[j * nb +
 * k]; false when a bin's share or bounds are malformed.
 */
static bool
bin_coverage(const float *stats, const float *lo, const float *hi, int d,
			 int nb, double *cov)
{
	for (int j = 0; j < d; j++)
	{
		const float *least = stats + BOXSEL_HEADER + (size_t) j * 3 * nb;
		const float *greatest = least + nb;
		const float *share = greatest + nb;

		for (int k = 0; k < nb; k++)
		{
			if (share[k] < 0 || share[k] > 1 || (share[k] > 0 && greatest[k] < least[k]))
				return false;
			cov[(size_t) j * nb + k] = share[k] > 0 ? covered(least[k], greatest[k], lo[j], hi[j]) : 0;
		}
	}
	return true;
}

/* The share in the box with the dimensions taken as independent. */
static double
independent_fraction(const float *stats, const double *cov, int d, int nb)
{
	double		result = 1;

	for (int j = 0; j < d; j++)
	{
		const float *share = stats + BOXSEL_HEADER + (size_t) j * 3 * nb + 2 * nb;
		double		s = 0;

		for (int k = 0; k < nb; k++)
			s += share[k] * cov[(size_t) j * nb + k];
		result *= s;
	}
	return result;
}

/*
 * The share in the box from the grid: every cell with some coverage,
 * visited odometer-wise over the covered bins of each dimension.
 */
static double
grid_fraction(const float *stats, const double *cov, int d, int nb)
{
	const float *cells = stats + BOXSEL_HEADER + (size_t) d * 3 * nb;
	int			idx[BOXSEL_GRID_MAX_DIMS];
	int			first[BOXSEL_GRID_MAX_DIMS];
	int			last[BOXSEL_GRID_MAX_DIMS];
	double		result = 0;

	for (int j = 0; j < d; j++)
	{
		first[j] = 0;
		while (first[j] < nb && cov[(size_t) j * nb + first[j]] == 0)
			first[j]++;
		last[j] = nb - 1;
		while (last[j] >= first[j] && cov[(size_t) j * nb + last[j]] == 0)
			last[j]--;
		if (first[j] > last[j])
			return 0;
		idx[j] = first[j];
	}
	for (;;)
	{
		size_t		cell = 0;
		double		w = 1;
		int			j;

		for (j = 0; j < d; j++)
		{
			cell = cell * nb + idx[j];
			w *= cov[(size_t) j * nb + idx[j]];
		}
		if (w > 0 && cells[cell] > 0)
			result += w * cells[cell];
		for (j = d - 1; j >= 0; j--)
		{
			if (++idx[j] <= last[j])
				break;
			idx[j] = first[j];
		}
		if (j < 0)
			break;
	}
	return result;
}

double
boxsel_fraction(const float *stats, size_t nstats, const float *lo, const float *hi, int d)
{
	int			nb;
	double		cov[MAX_BINS_TOTAL];
	double		result;

	if (!stats_header_valid(stats, nstats, d))
		return -1;
	nb = bins_for(d);
	if (!bin_coverage(stats, lo, hi, d, nb, cov))
		return -1;

	if (d <= BOXSEL_GRID_MAX_DIMS)
		result = grid_fraction(stats, cov, d, nb);
	else
		result = independent_fraction(stats, cov, d, nb);
	if (result < 0)
		result = 0;
	if (result > 1)
		result = 1;
	return result;
}
