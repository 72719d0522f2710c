/*
 * test_rtree.c
 *		Unit tests for the spatial index algorithms (src/spatial/core/rtree.c):
 *		box distances and their float32 slack, the penalty order, the
 *		R*-style split, Hilbert order and the k-d median split.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtree.h"
#include "unit.h"


static uint32_t
rng(void)
{
	return (uint32_t) (unit_rng64() >> 11);
}

static float
rnd(float lo, float hi)
{
	return lo + (hi - lo) * (float) ((rng() & 0xFFFFFF) / 16777216.0);
}

/* float32 distances in a few summation orders, like SIMD kernels might */
static float
l2sq_f32(const float *a, const float *b, int n, int lanes)
{
	float		acc[16] = {0};
	float		s = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		acc[i % lanes] = fmaf(d, d, acc[i % lanes]);
	}
	for (int i = lanes - 1; i >= 0; i--)
		s += acc[i];
	return s;
}

static float
l1_f32(const float *a, const float *b, int n, int lanes)
{
	float		acc[16] = {0};
	float		s = 0.0f;

	for (int i = 0; i < n; i++)
		acc[i % lanes] += fabsf(a[i] - b[i]);
	for (int i = 0; i < lanes; i++)
		s += acc[i];
	return s;
}

static void
test_distances(void)
{
	float		lo[3] = {0, 0, 0};
	float		hi[3] = {1, 2, 3};
	float		q_in[3] = {0.5f, 2, 0};
	float		q_out[3] = {-1, 4, 3.5f};

	CHECK(rtree_box_l2sq(q_in, lo, hi, 3) == 0.0, "inside point has distance 0");
	CHECK(rtree_box_l1(q_in, lo, hi, 3) == 0.0, "inside point has L1 0");
	CHECK(rtree_box_l2sq(q_out, lo, hi, 3) == 1.0 + 4.0 + 0.25, "l2sq %g",
		  rtree_box_l2sq(q_out, lo, hi, 3));
	CHECK(rtree_box_l1(q_out, lo, hi, 3) == 1.0 + 2.0 + 0.5, "l1 %g",
		  rtree_box_l1(q_out, lo, hi, 3));

	/* unbounded regions, as the k-d tree root has */
	{
		float		ilo[2] = {-INFINITY, 5};
		float		ihi[2] = {INFINITY, INFINITY};
		float		q[2] = {1e30f, 3};

		CHECK(rtree_box_l2sq(q, ilo, ihi, 2) == 4.0, "infinite box l2sq");
		CHECK(rtree_box_l1(q, ilo, ihi, 2) == 2.0, "infinite box l1");
	}

	/*
	 * The box bound times the slack never exceeds a float32 distance of a
	 * point inside the box, whatever the summation order.
	 */
	for (int iter = 0; iter < 20000; iter++)
	{
		int			dim = 1 + (int) (rng() % 200);
		float		blo[200], bhi[200], p[200], q[200];
		int			bad = 0;

		for (int i = 0; i < dim; i++)
		{
			float		a = rnd(-1000, 1000);
			float		b = a + rnd(0, (iter & 1) ? 0.001f : 100);

			blo[i] = a;
			bhi[i] = b;
			p[i] = (rng() & 1) ? a : rnd(a, b);
			if (p[i] > b)
				p[i] = b;
			q[i] = (rng() & 3) ? a - rnd(0, (iter & 2) ? 1e-3f : 50) : rnd(-1000, 1000);
		}
		for (int lanes = 1; lanes <= 16; lanes *= 4)
		{
			double		bound2 = rtree_box_l2sq(q, blo, bhi, dim) * rtree_kernel_slack(dim);
			double		bound1 = rtree_box_l1(q, blo, bhi, dim) * rtree_kernel_slack(dim);

			if (!(bound2 <= (double) l2sq_f32(p, q, dim, lanes)))
				bad = 1;
			if (!(bound1 <= (double) l1_f32(p, q, dim, lanes)))
				bad = 1;
		}
		if (bad)
		{
			CHECK(0, "slack bound exceeded a float32 distance (iter %d, dim %d)", iter, dim);
			return;
		}
	}
	CHECK(1, "slack bound never exceeds a float32 distance");
}

static void
test_predicates(void)
{
	float		alo[2] = {0, 0}, ahi[2] = {2, 2};
	float		blo[2] = {2, 1}, bhi[2] = {3, 1};
	float		clo[2] = {0.5f, 0.5f}, chi[2] = {1, 2};
	float		p_edge[2] = {2, 0};
	float		p_out[2] = {2.0001f, 0};

	CHECK(rtree_box_overlaps(alo, ahi, blo, bhi, 2), "touching boxes overlap");
	CHECK(!rtree_box_contains(alo, ahi, blo, bhi, 2), "a does not contain b");
	CHECK(rtree_box_contains(alo, ahi, clo, chi, 2), "a contains c (shared edge)");
	CHECK(rtree_box_contains(alo, ahi, alo, ahi, 2), "a contains itself");
	CHECK(rtree_box_contains_point(alo, ahi, p_edge, 2), "corner point inside");
	CHECK(!rtree_box_contains_point(alo, ahi, p_out, 2), "point outside");
	CHECK(rtree_box_margin(alo, ahi, 2) == 4.0, "margin");
	CHECK(rtree_box_volume(alo, ahi, 2) == 4.0, "volume");
}

static void
test_penalty(void)
{
	float		big_lo[2] = {0, 0}, big_hi[2] = {10, 10};
	float		small_lo[2] = {4, 4}, small_hi[2] = {6, 6};
	float		flat_lo[2] = {0, 5}, flat_hi[2] = {10, 5};
	float		p_in[2] = {5, 5};
	float		p_line[2] = {11, 5};
	float		p_far[2] = {20, 20};
	float		p_near[2] = {10.5f, 5};
	float		pen_big_in = rtree_penalty(big_lo, big_hi, p_in, p_in, 2);
	float		pen_small_in = rtree_penalty(small_lo, small_hi, p_in, p_in, 2);
	float		pen_flat_line = rtree_penalty(flat_lo, flat_hi, p_line, p_line, 2);
	float		pen_big_far = rtree_penalty(big_lo, big_hi, p_far, p_far, 2);
	float		pen_big_near = rtree_penalty(big_lo, big_hi, p_near, p_near, 2);

	CHECK(pen_small_in < pen_big_in, "smaller containing box preferred (%g vs %g)",
		  pen_small_in, pen_big_in);
	CHECK(pen_big_in < pen_flat_line, "containment beats margin growth");
	CHECK(pen_flat_line < pen_big_near, "margin growth beats volume growth");
	CHECK(pen_big_near < pen_big_far, "less volume growth preferred");
	CHECK(isfinite(pen_big_far) && pen_big_far >= 0, "finite non-negative");

	{
		float		hlo[2] = {-FLT_MAX, -FLT_MAX}, hhi[2] = {FLT_MAX, FLT_MAX};
		float		pen = rtree_penalty(p_in, p_in, hlo, hhi, 2);

		CHECK(isfinite(pen) && pen >= 0, "huge enlargement stays finite: %g", pen);
	}
	{
		float		z[2] = {0, 0};

		CHECK(rtree_penalty(z, z, z, z, 2) == 0.0f, "identical points: zero penalty");
	}
}

static void
run_split(int n, int dim, float *lo, float *hi, unsigned char *side)
{
	const float **plo = malloc(sizeof(float *) * n);
	const float **phi = malloc(sizeof(float *) * n);
	void	   *work = malloc(rtree_split_work_size(n, dim));

	for (int i = 0; i < n; i++)
	{
		plo[i] = lo + i * dim;
		phi[i] = hi + i * dim;
	}
	rtree_split(n, dim, plo, phi, side, work);
	free(plo);
	free(phi);
	free(work);
}

static void
test_split(void)
{
	enum
	{
		N = 300
	};
	static float lo[N * 8], hi[N * 8];
	unsigned char side[N];
	int			count[2];

	/* two well separated clusters along y: the split must separate them */
	for (int i = 0; i < N; i++)
	{
		lo[i * 2] = hi[i * 2] = rnd(0, 100);
		lo[i * 2 + 1] = hi[i * 2 + 1] = (i % 2) ? rnd(0, 10) : rnd(1000, 1010);
	}
	run_split(N, 2, lo, hi, side);
	{
		int			mixed = 0;

		for (int i = 2; i < N; i++)
			if (side[i] != side[i % 2])
				mixed++;
		CHECK(mixed == 0 && side[0] != side[1], "clusters separated (%d mixed)", mixed);
	}

	/* identical points: an even split */
	for (int i = 0; i < N * 2; i++)
		lo[i] = hi[i] = 7.0f;
	run_split(N, 2, lo, hi, side);
	count[0] = count[1] = 0;
	for (int i = 0; i < N; i++)
		count[side[i]]++;
	CHECK(count[0] == N / 2 && count[1] == N / 2, "duplicates split evenly (%d/%d)",
		  count[0], count[1]);

	/* random boxes in 8-D: both sides at least 40 %, and random tiny n */
	for (int n = 2; n <= N; n = n < 10 ? n + 1 : n * 2)
	{
		int			dim = 8;

		for (int i = 0; i < n * dim; i++)
		{
			lo[i] = rnd(-5, 5);
			hi[i] = lo[i] + ((i & 3) ? 0 : rnd(0, 1));
		}
		run_split(n, dim, lo, hi, side);
		count[0] = count[1] = 0;
		for (int i = 0; i < n; i++)
			count[side[i]]++;
		CHECK(count[0] >= 1 && count[1] >= 1, "n=%d: both sides non-empty", n);
		CHECK(n < 5 || (count[0] >= (int) (n * 0.4) && count[1] >= (int) (n * 0.4)),
			  "n=%d: min fill (%d/%d)", n, count[0], count[1]);
	}

	/* a 1 x 1 grid of 4 x 4 cells: the split must cut between cells
	 * (zero overlap) along a line, never diagonally */
	{
		int			n = 0;

		for (int x = 0; x < 4; x++)
			for (int y = 0; y < 4; y++)
			{
				lo[n * 2] = hi[n * 2] = (float) x;
				lo[n * 2 + 1] = hi[n * 2 + 1] = (float) y;
				n++;
			}
		run_split(n, 2, lo, hi, side);
		{
			float		l_lo[2] = {INFINITY, INFINITY}, l_hi[2] = {-INFINITY, -INFINITY};
			float		r_lo[2] = {INFINITY, INFINITY}, r_hi[2] = {-INFINITY, -INFINITY};

			for (int i = 0; i < n; i++)
			{
				if (side[i])
					rtree_box_extend(r_lo, r_hi, lo + i * 2, hi + i * 2, 2);
				else
					rtree_box_extend(l_lo, l_hi, lo + i * 2, hi + i * 2, 2);
			}
			CHECK(!rtree_box_overlaps(l_lo, l_hi, r_lo, r_hi, 2), "grid split without overlap");
		}
	}
}

/* the interleaved key materialised bit by bit, as a reference */
static int
interleave_cmp_reference(const float *a, const float *b, int dim)
{
	for (int bit = 31; bit >= 0; bit--)
		for (int i = 0; i < dim; i++)
		{
			uint32_t	x = (rtree_float_sortable(a[i]) >> bit) & 1u;
			uint32_t	y = (rtree_float_sortable(b[i]) >> bit) & 1u;

			if (x != y)
				return x < y ? -1 : 1;
		}
	return 0;
}

static void
test_interleave(void)
{
	float		vals[] = {-INFINITY, -FLT_MAX, -1e10f, -2.5f, -1.0f, -1e-30f, -0.0f,
	0.0f, 1e-40f, 1e-30f, 0.5f, 1.0f, 3.0f, 1e10f, FLT_MAX, INFINITY};
	int			nv = sizeof(vals) / sizeof(vals[0]);

	for (int i = 0; i + 1 < nv; i++)
		CHECK(rtree_float_sortable(vals[i]) < rtree_float_sortable(vals[i + 1]),
			  "sortable order %g < %g", vals[i], vals[i + 1]);

	/* the interleaved comparison against the key materialised bit by bit */
	for (int iter = 0; iter < 100000; iter++)
	{
		int			dim = 1 + (int) (rng() % 5);
		float		a[5], b[5];
		uint32_t	ua[5], ub[5];
		int			c, r;

		for (int i = 0; i < dim; i++)
		{
			a[i] = (rng() & 7) ? rnd(-100, 100) : (float) (int) rnd(-3, 3);
			b[i] = (rng() & 3) ? rnd(-100, 100) : a[i];
			ua[i] = rtree_float_sortable(a[i]);
			ub[i] = rtree_float_sortable(b[i]);
		}
		c = rtree_interleave_cmp(ua, ub, dim);
		r = interleave_cmp_reference(a, b, dim);
		if (c != r || rtree_interleave_cmp(ub, ua, dim) != -r)
		{
			CHECK(0, "interleaved compare disagrees with reference (dim %d: %d vs %d)", dim, c, r);
			return;
		}
	}
	CHECK(1, "interleaved compare matches the reference");
}

/* sort cells of a 2^bits grid in n dims along the curve: each step moves
 * to a neighbouring cell */
static int	grid_dims;
static uint32_t grid_scratch[16];

static int
grid_cmp(const void *pa, const void *pb)
{
	const uint32_t *a = pa;
	const uint32_t *b = pb;

	memcpy(grid_scratch, a, sizeof(uint32_t) * grid_dims);
	memcpy(grid_scratch + grid_dims, b, sizeof(uint32_t) * grid_dims);
	rtree_hilbert_transpose(grid_scratch, grid_dims);
	rtree_hilbert_transpose(grid_scratch + grid_dims, grid_dims);
	return rtree_interleave_cmp(grid_scratch, grid_scratch + grid_dims, grid_dims);
}

static void
test_hilbert_grid(int dims, int bits)
{
	int			side = 1 << bits;
	int			cells = 1;
	uint32_t   *grid;
	int			bad = 0;

	for (int i = 0; i < dims; i++)
		cells *= side;
	grid = malloc(sizeof(uint32_t) * dims * cells);
	for (int c = 0; c < cells; c++)
	{
		int			rest = c;

		for (int i = 0; i < dims; i++)
		{
			/* the cell number in the top bits, noise below */
			grid[c * dims + i] = ((uint32_t) (rest % side) << (32 - bits)) | (rng() >> (bits + 1));
			rest /= side;
		}
	}
	grid_dims = dims;
	qsort(grid, cells, sizeof(uint32_t) * dims, grid_cmp);
	for (int c = 1; c < cells; c++)
	{
		int			steps = 0;

		for (int i = 0; i < dims; i++)
		{
			int			u = grid[(c - 1) * dims + i] >> (32 - bits);
			int			v = grid[c * dims + i] >> (32 - bits);

			steps += abs(u - v);
		}
		if (steps != 1)
			bad++;
	}
	CHECK(bad == 0, "Hilbert order in %d-D jumps %d times", dims, bad);
	free(grid);
}

static void
test_hilbert(void)
{
	uint32_t	scratch[2 * 70];

	test_hilbert_grid(2, 5);
	test_hilbert_grid(3, 3);
	test_hilbert_grid(4, 2);

	for (int iter = 0; iter < 50000; iter++)
	{
		int			dim = 1 + (int) (rng() % 70);
		float		a[70], b[70];
		int			c;
		uint64_t	ka, kb;

		for (int i = 0; i < dim; i++)
		{
			a[i] = rnd(-100, 100);
			b[i] = (rng() & 3) ? rnd(-100, 100) : a[i];
		}
		c = rtree_hilbert_cmp(a, b, dim, scratch);
		ka = rtree_hilbert_abbrev(a, dim, scratch);
		kb = rtree_hilbert_abbrev(b, dim, scratch);
		if (rtree_hilbert_cmp(b, a, dim, scratch) != -c || (ka < kb && c >= 0) ||
			(ka > kb && c <= 0) || (c == 0 && memcmp(a, b, sizeof(float) * dim) != 0))
		{
			CHECK(0, "Hilbert compare inconsistent (dim %d)", dim);
			return;
		}
	}
	CHECK(1, "Hilbert compare is consistent with its abbreviation");
}

static void
test_kd_split(void)
{
	enum
	{
		N = 101
	};
	float		pts[N * 3];
	const float *pp[N];
	unsigned char side[N];
	void	   *work = malloc(rtree_kd_work_size(N));
	float		split;
	int			d;
	int			count[2] = {0, 0};
	int			ok = 1;

	for (int i = 0; i < N; i++)
	{
		pts[i * 3] = rnd(0, 1);
		pts[i * 3 + 1] = rnd(-50, 50);	/* largest spread */
		pts[i * 3 + 2] = rnd(0, 2);
		pp[i] = pts + i * 3;
	}
	d = rtree_kd_split(N, 3, pp, side, &split, work);
	CHECK(d == 1, "kd split picks the widest dimension (%d)", d);
	for (int i = 0; i < N; i++)
	{
		count[side[i]]++;
		if (side[i] == 0 && pp[i][d] > split)
			ok = 0;
		if (side[i] == 1 && pp[i][d] < split)
			ok = 0;
	}
	CHECK(ok, "kd halves respect the split value");
	CHECK(count[0] == N / 2 && count[1] == N - N / 2, "kd halves %d/%d", count[0], count[1]);

	for (int i = 0; i < N * 3; i++)
		pts[i] = 4.0f;
	count[0] = count[1] = 0;
	d = rtree_kd_split(N, 3, pp, side, &split, work);
	for (int i = 0; i < N; i++)
		count[side[i]]++;
	CHECK(count[0] > 0 && count[1] > 0 && split == 4.0f, "kd split of duplicates");
	free(work);
}

int
main(void)
{
	test_distances();
	test_predicates();
	test_penalty();
	test_split();
	test_interleave();
	test_hilbert();
	test_kd_split();
	return unit_finish("test_rtree");
}
