/*
 * rtree.c
 *		Box distances, R-tree penalty and split, Hilbert keys and the k-d
 *		median split used by the GiST and SP-GiST opclasses of vec.
 *
 * Everything here works on float4 coordinates but measures in double, so
 * the results do not depend on the order of summation; only the final
 * comparison against float32 kernel distances needs rtree_kernel_slack().
 */
#include "rtree.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double
rtree_box_l2sq(const float *q, const float *lo, const float *hi, int dim)
{
	double		sum = 0.0;

	for (int i = 0; i < dim; i++)
	{
		double		d;

		if (q[i] < lo[i])
			d = (double) lo[i] - (double) q[i];
		else if (q[i] > hi[i])
			d = (double) q[i] - (double) hi[i];
		else
			continue;
		sum += d * d;
	}
	return sum;
}

double
rtree_box_l1(const float *q, const float *lo, const float *hi, int dim)
{
	double		sum = 0.0;

	for (int i = 0; i < dim; i++)
	{
		if (q[i] < lo[i])
			sum += (double) lo[i] - (double) q[i];
		else if (q[i] > hi[i])
			sum += (double) q[i] - (double) hi[i];
	}
	return sum;
}

/*
 * A float32 sum of dim rounded terms errs by at most about (dim + 2) units
 * of 2^-24 relative to the exact sum of non-negative terms, however it is
 * ordered or fused; four times that leaves room for SIMD reassociation.
 */
double
rtree_kernel_slack(int dim)
{
	double		s = 1.0 - (double) (dim + 8) * (1.0 / 4194304.0);	/* 2^-22 */

	return s > 0.0 ? s : 0.0;
}

int
rtree_box_overlaps(const float *alo, const float *ahi,
				   const float *blo, const float *bhi, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (alo[i] > bhi[i] || blo[i] > ahi[i])
			return 0;
	}
	return 1;
}

int
rtree_box_contains(const float *alo, const float *ahi,
				   const float *blo, const float *bhi, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (blo[i] < alo[i] || bhi[i] > ahi[i])
			return 0;
	}
	return 1;
}

int
rtree_box_contains_point(const float *lo, const float *hi, const float *p, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (p[i] < lo[i] || p[i] > hi[i])
			return 0;
	}
	return 1;
}

void
rtree_box_extend(float *lo, float *hi, const float *blo, const float *bhi, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (blo[i] < lo[i])
			lo[i] = blo[i];
		if (bhi[i] > hi[i])
			hi[i] = bhi[i];
	}
}

double
rtree_box_margin(const float *lo, const float *hi, int dim)
{
	double		sum = 0.0;

	for (int i = 0; i < dim; i++)
		sum += (double) hi[i] - (double) lo[i];
	return sum;
}

double
rtree_box_volume(const float *lo, const float *hi, int dim)
{
	double		v = 1.0;

	for (int i = 0; i < dim; i++)
		v *= (double) hi[i] - (double) lo[i];
	return v;
}

/* ---------------------------------------------------------------------
 * Penalty
 * ---------------------------------------------------------------------
 */

/*
 * Pack a non-negative value into one of three "realms" of a float so that
 * every value of realm r sorts below every value of realm r+1 and values
 * keep their order inside a realm.  The bit pattern of a non-negative
 * float grows with its value; dropping two low mantissa bits makes room
 * for the realm in bits 29-30, and the result is still a finite float.
 */
static float
pack_penalty(int realm, double value)
{
	float		f;
	uint32_t	bits;

	if (!(value > 0.0))			/* also catches NaN */
		f = 0.0f;
	else if (value > FLT_MAX)
		f = FLT_MAX;
	else
		f = (float) value;
	memcpy(&bits, &f, sizeof(bits));
	bits = (bits >> 2) | ((uint32_t) realm << 29);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

float
rtree_penalty(const float *olo, const float *ohi,
			  const float *nlo, const float *nhi, int dim)
{
	double		vol_orig = 1.0;
	double		vol_union = 1.0;
	double		margin_orig = 0.0;
	double		margin_union = 0.0;

	for (int i = 0; i < dim; i++)
	{
		double		lo = olo[i] < nlo[i] ? olo[i] : nlo[i];
		double		hi = ohi[i] > nhi[i] ? ohi[i] : nhi[i];
		double		e_orig = (double) ohi[i] - (double) olo[i];
		double		e_union = hi - lo;

		vol_orig *= e_orig;
		vol_union *= e_union;
		margin_orig += e_orig;
		margin_union += e_union;
	}

	if (vol_union - vol_orig > 0.0)
		return pack_penalty(2, vol_union - vol_orig);
	if (margin_union - margin_orig > 0.0)
		return pack_penalty(1, margin_union - margin_orig);
	return pack_penalty(0, margin_orig);
}

/* ---------------------------------------------------------------------
 * R*-style split
 * ---------------------------------------------------------------------
 */

/* A box on the axis being sorted: primary and secondary bound, its index. */
typedef struct SortItem
{
	float		k1;
	float		k2;
	int			idx;
} SortItem;

/* By k1, then k2, then index: a total order, so splits are deterministic. */
static int
sort_item_cmp(const void *a, const void *b)
{
	const SortItem *x = a;
	const SortItem *y = b;

	if (x->k1 != y->k1)
		return x->k1 < y->k1 ? -1 : 1;
	if (x->k2 != y->k2)
		return x->k2 < y->k2 ? -1 : 1;
	return x->idx - y->idx;
}

/* The caller's work area, carved up (see rtree_split_work_size). */
typedef struct SplitWork
{
	SortItem   *items;			/* n */
	SortItem   *best[2];		/* n each: the best axis's orders by lo, hi */
	SortItem   *cand[2];		/* n each: the current axis's orders */
	float	   *pre_lo;			/* n * dim: bbox of sorted items 0..k */
	float	   *pre_hi;
	float	   *suf_lo;			/* n * dim: bbox of sorted items k..n-1 */
	float	   *suf_hi;
} SplitWork;

size_t
rtree_split_work_size(int n, int dim)
{
	size_t		items = ((sizeof(SortItem) * (size_t) n) + 15) & ~(size_t) 15;

	return 5 * items + 4 * sizeof(float) * (size_t) n * (size_t) dim;
}

/* Point w's arrays into work, in the layout rtree_split_work_size sizes. */
static void
split_work_init(SplitWork *w, void *work, int n, int dim)
{
	char	   *p = work;
	size_t		items = ((sizeof(SortItem) * (size_t) n) + 15) & ~(size_t) 15;
	size_t		box = sizeof(float) * (size_t) n * (size_t) dim;

	w->items = (SortItem *) p;
	p += items;
	for (int i = 0; i < 2; i++)
	{
		w->best[i] = (SortItem *) p;
		p += items;
		w->cand[i] = (SortItem *) p;
		p += items;
	}
	w->pre_lo = (float *) p;
	p += box;
	w->pre_hi = (float *) p;
	p += box;
	w->suf_lo = (float *) p;
	p += box;
	w->suf_hi = (float *) p;
}

/* Sort along axis by low (by_hi = 0) or high bound. */
static void
split_sort_axis(SplitWork *w, int n, const float *const *lo,
				const float *const *hi, int axis, int by_hi)
{
	for (int i = 0; i < n; i++)
	{
		w->items[i].k1 = by_hi ? hi[i][axis] : lo[i][axis];
		w->items[i].k2 = by_hi ? lo[i][axis] : hi[i][axis];
		w->items[i].idx = i;
	}
	qsort(w->items, n, sizeof(SortItem), sort_item_cmp);
}

/* Bounding boxes of every prefix and suffix of the sorted items. */
static void
split_prefix_boxes(SplitWork *w, int n, int dim, const float *const *lo,
				   const float *const *hi)
{
	memcpy(w->pre_lo, lo[w->items[0].idx], sizeof(float) * dim);
	memcpy(w->pre_hi, hi[w->items[0].idx], sizeof(float) * dim);
	for (int k = 1; k < n; k++)
	{
		int			e = w->items[k].idx;

		memcpy(w->pre_lo + k * dim, w->pre_lo + (k - 1) * dim, sizeof(float) * dim);
		memcpy(w->pre_hi + k * dim, w->pre_hi + (k - 1) * dim, sizeof(float) * dim);
		rtree_box_extend(w->pre_lo + k * dim, w->pre_hi + k * dim, lo[e], hi[e], dim);
	}
	memcpy(w->suf_lo + (n - 1) * dim, lo[w->items[n - 1].idx], sizeof(float) * dim);
	memcpy(w->suf_hi + (n - 1) * dim, hi[w->items[n - 1].idx], sizeof(float) * dim);
	for (int k = n - 2; k >= 0; k--)
	{
		int			e = w->items[k].idx;

		memcpy(w->suf_lo + k * dim, w->suf_lo + (k + 1) * dim, sizeof(float) * dim);
		memcpy(w->suf_hi + k * dim, w->suf_hi + (k + 1) * dim, sizeof(float) * dim);
		rtree_box_extend(w->suf_lo + k * dim, w->suf_hi + k * dim, lo[e], hi[e], dim);
	}
}

/* How good one distribution is; see score_better for the order. */
typedef struct SplitScore
{
	double		overlap;		/* volume of the intersection */
	double		overlap_margin; /* its margin (0 when disjoint) */
	double		volume;			/* sum of both volumes */
	double		margin;			/* sum of both margins */
	int			imbalance;		/* |left - right| */
} SplitScore;

/*
 * Is a better than b: less overlap, then less overlap margin, volume and
 * margin, then the more even one.
 */
static int
score_better(const SplitScore *a, const SplitScore *b)
{
	if (a->overlap != b->overlap)
		return a->overlap < b->overlap;
	if (a->overlap_margin != b->overlap_margin)
		return a->overlap_margin < b->overlap_margin;
	if (a->volume != b->volume)
		return a->volume < b->volume;
	if (a->margin != b->margin)
		return a->margin < b->margin;
	return a->imbalance < b->imbalance;
}

/*
 * The score of the distribution that puts the first s sorted items left
 * and the rest right (prefix and suffix boxes already computed).
 */
static void
score_distribution(const SplitWork *w, int n, int dim, int s, SplitScore *sc)
{
	const float *llo = w->pre_lo + (s - 1) * dim;
	const float *lhi = w->pre_hi + (s - 1) * dim;
	const float *rlo = w->suf_lo + s * dim;
	const float *rhi = w->suf_hi + s * dim;
	double		ov = 1.0;
	double		om = 0.0;
	int			disjoint = 0;

	for (int i = 0; i < dim; i++)
	{
		double		a = llo[i] > rlo[i] ? llo[i] : rlo[i];
		double		b = lhi[i] < rhi[i] ? lhi[i] : rhi[i];

		if (b < a)
		{
			disjoint = 1;
			break;
		}
		ov *= b - a;
		om += b - a;
	}
	sc->overlap = disjoint ? 0.0 : ov;
	sc->overlap_margin = disjoint ? 0.0 : om;
	sc->volume = rtree_box_volume(llo, lhi, dim) + rtree_box_volume(rlo, rhi, dim);
	sc->margin = rtree_box_margin(llo, lhi, dim) + rtree_box_margin(rlo, rhi, dim);
	sc->imbalance = abs(n - 2 * s);
}

void
rtree_split(int n, int dim, const float *const *lo, const float *const *hi,
			unsigned char *side, void *work)
{
	SplitWork	w;
	int			m;
	int			all_points = 1;
	int			modes;
	double		best_margin_sum = INFINITY;
	SplitScore	best;
	int			best_mode = 0;
	int			best_s = n / 2;
	int			have_best = 0;

	split_work_init(&w, work, n, dim);

	m = (int) (n * 0.4);
	if (m < 1)
		m = 1;
	if (n - m < m)
		m = n / 2;

	for (int i = 0; i < n && all_points; i++)
	{
		if (memcmp(lo[i], hi[i], sizeof(float) * dim) != 0)
			all_points = 0;
	}
	modes = all_points ? 1 : 2;

	/* axis with the least total margin over its candidate distributions */
	for (int axis = 0; axis < dim; axis++)
	{
		double		sum = 0.0;

		for (int mode = 0; mode < modes; mode++)
		{
			split_sort_axis(&w, n, lo, hi, axis, mode);
			split_prefix_boxes(&w, n, dim, lo, hi);
			for (int s = m; s <= n - m; s++)
				sum += rtree_box_margin(w.pre_lo + (s - 1) * dim, w.pre_hi + (s - 1) * dim, dim) +
					rtree_box_margin(w.suf_lo + s * dim, w.suf_hi + s * dim, dim);
			/* keep this axis's orders in case it wins: no need to sort again */
			memcpy(w.cand[mode], w.items, sizeof(SortItem) * n);
		}
		if (sum < best_margin_sum)
		{
			best_margin_sum = sum;
			for (int mode = 0; mode < modes; mode++)
			{
				SortItem   *t = w.best[mode];

				w.best[mode] = w.cand[mode];
				w.cand[mode] = t;
			}
		}
	}

	/* on that axis, the best distribution */
	for (int mode = 0; mode < modes; mode++)
	{
		memcpy(w.items, w.best[mode], sizeof(SortItem) * n);
		split_prefix_boxes(&w, n, dim, lo, hi);
		for (int s = m; s <= n - m; s++)
		{
			SplitScore	sc;

			score_distribution(&w, n, dim, s, &sc);
			if (!have_best || score_better(&sc, &best))
			{
				best = sc;
				best_mode = mode;
				best_s = s;
				have_best = 1;
			}
		}
	}

	for (int k = 0; k < n; k++)
		side[w.best[best_mode][k].idx] = k < best_s ? 0 : 1;
}

/* ---------------------------------------------------------------------
 * Curve orders
 * ---------------------------------------------------------------------
 */

uint32_t
rtree_float_sortable(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	/* negative: reverse the order of magnitudes; positive: above them */
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Is the most significant set bit of x below that of y? */
static inline int
less_msb(uint32_t x, uint32_t y)
{
	return x < y && x < (x ^ y);
}

/* ---------------------------------------------------------------------
 * Hilbert order (J. Skilling, "Programming the Hilbert curve", 2004)
 * ---------------------------------------------------------------------
 */

void
rtree_hilbert_transpose(uint32_t *x, int n)
{
	uint32_t	t;

	if (n < 2)
		return;					/* in one dimension the curve is the line */

	/* undo the excess work of the axes' reflections and exchanges */
	for (uint32_t q = 0x80000000u; q > 1; q >>= 1)
	{
		uint32_t	p = q - 1;

		for (int i = 0; i < n; i++)
		{
			if (x[i] & q)
				x[0] ^= p;		/* invert */
			else
			{
				t = (x[0] ^ x[i]) & p;	/* exchange */
				x[0] ^= t;
				x[i] ^= t;
			}
		}
	}

	/* Gray encode */
	for (int i = 1; i < n; i++)
		x[i] ^= x[i - 1];
	t = 0;
	for (uint32_t q = 0x80000000u; q > 1; q >>= 1)
	{
		if (x[n - 1] & q)
			t ^= q - 1;
	}
	for (int i = 0; i < n; i++)
		x[i] ^= t;
}

int
rtree_interleave_cmp(const uint32_t *a, const uint32_t *b, int n)
{
	uint32_t	xmax = 0;
	int			msd = -1;

	for (int i = 0; i < n; i++)
	{
		uint32_t	x = a[i] ^ b[i];

		if (less_msb(xmax, x))
		{
			xmax = x;
			msd = i;
		}
	}
	if (msd < 0)
		return 0;
	return a[msd] < b[msd] ? -1 : 1;
}

/* The transposed Hilbert index of point a, in x[0..dim-1]. */
static void
hilbert_index(const float *a, int dim, uint32_t *x)
{
	for (int i = 0; i < dim; i++)
		x[i] = rtree_float_sortable(a[i]);
	rtree_hilbert_transpose(x, dim);
}

int
rtree_hilbert_cmp(const float *a, const float *b, int dim, uint32_t *scratch)
{
	hilbert_index(a, dim, scratch);
	hilbert_index(b, dim, scratch + dim);
	return rtree_interleave_cmp(scratch, scratch + dim, dim);
}

uint64_t
rtree_hilbert_abbrev(const float *a, int dim, uint32_t *scratch)
{
	int			nd = dim < 64 ? dim : 64;
	uint64_t	key = 0;
	int			nbits = 0;

	hilbert_index(a, dim, scratch);
	for (int b = 31; b >= 0 && nbits < 64; b--)
	{
		for (int i = 0; i < nd && nbits < 64; i++)
		{
			key = (key << 1) | ((scratch[i] >> b) & 1u);
			nbits++;
		}
	}
	if (nbits < 64)
		key <<= (64 - nbits);
	return key;
}

/* ---------------------------------------------------------------------
 * k-d split
 * ---------------------------------------------------------------------
 */

size_t
rtree_kd_work_size(int n)
{
	return sizeof(SortItem) * (size_t) n;
}

int
rtree_kd_split(int n, int dim, const float *const *pts,
			   unsigned char *side, float *split, void *work)
{
	SortItem   *items = work;
	int			best_dim = 0;
	double		best_spread = -1.0;
	int			mid = n / 2;

	for (int d = 0; d < dim; d++)
	{
		float		mn = pts[0][d];
		float		mx = pts[0][d];
		double		spread;

		for (int i = 1; i < n; i++)
		{
			float		v = pts[i][d];

			if (v < mn)
				mn = v;
			if (v > mx)
				mx = v;
		}
		spread = (double) mx - (double) mn;
		if (spread > best_spread)
		{
			best_spread = spread;
			best_dim = d;
		}
	}

	for (int i = 0; i < n; i++)
	{
		items[i].k1 = pts[i][best_dim];
		items[i].k2 = 0.0f;
		items[i].idx = i;
	}
	qsort(items, n, sizeof(SortItem), sort_item_cmp);
	*split = items[mid].k1;
	for (int k = 0; k < n; k++)
		side[items[k].idx] = k < mid ? 0 : 1;
	return best_dim;
}
