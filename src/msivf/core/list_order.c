/*
 * list_order.c
 *		Sorted prefixes of msivf's list order (list_order.h): selection of
 *		the next lowest scores, then a sort of just those.
 */
#include "list_order.h"

#include <math.h>
#include <stdlib.h>

bool
list_order_before(const float *scores, int a, int b)
{
	float		x = scores[a];
	float		y = scores[b];
	bool		xn = isnan(x);
	bool		yn = isnan(y);

	if (xn != yn)
		return yn;
	if (!xn && x != y)
		return x < y;
	return a < b;
}

static void
swap(int *v, int i, int j)
{
	int			t = v[i];

	v[i] = v[j];
	v[j] = t;
}

/* insertion sort of v[lo, hi): the short ranges quicksort leaves */
static void
insertion_sort(int *v, int lo, int hi, const float *scores)
{
	for (int i = lo + 1; i < hi; i++)
	{
		int			x = v[i];
		int			j = i;

		while (j > lo && list_order_before(scores, x, v[j - 1]))
		{
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/*
 * Partitions v[lo, hi) (hi - lo >= 3) around the median of its first,
 * middle and last entries; returns the pivot's final place p: everything
 * in [lo, p) comes before it, everything in (p, hi) after.  The order is
 * strict (ties are broken by list number), so equal keys cannot pile up
 * on one side.
 */
static int
partition(int *v, int lo, int hi, const float *scores)
{
	int			mid = lo + (hi - lo) / 2;
	int			last = hi - 1;
	int			p;

	if (list_order_before(scores, v[mid], v[lo]))
		swap(v, mid, lo);
	if (list_order_before(scores, v[last], v[lo]))
		swap(v, last, lo);
	if (list_order_before(scores, v[last], v[mid]))
		swap(v, last, mid);
	/* v[lo] <= v[mid] <= v[last]: the median goes to last - 1 as the pivot */
	swap(v, mid, last - 1);
	p = v[last - 1];
	{
		int			i = lo;
		int			j = last - 1;

		for (;;)
		{
			while (list_order_before(scores, v[++i], p))
				;
			while (list_order_before(scores, p, v[--j]))
				;
			if (i >= j)
				break;
			swap(v, i, j);
		}
		swap(v, i, last - 1);
		return i;
	}
}

/* quicksort of v[lo, hi) with a depth limit, past which a heap sort takes over */
static void heap_sort(int *v, int lo, int hi, const float *scores);

static void
sort_range(int *v, int lo, int hi, const float *scores, int depth)
{
	while (hi - lo > 16)
	{
		int			p;

		if (depth-- == 0)
		{
			heap_sort(v, lo, hi, scores);
			return;
		}
		p = partition(v, lo, hi, scores);
		/* the smaller side by recursion, the larger by the loop */
		if (p - lo < hi - p)
		{
			sort_range(v, lo, p, scores, depth);
			lo = p + 1;
		}
		else
		{
			sort_range(v, p + 1, hi, scores, depth);
			hi = p;
		}
	}
	insertion_sort(v, lo, hi, scores);
}

static void
sift_down(int *v, int lo, int root, int n, const float *scores)
{
	for (;;)
	{
		int			child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n &&
			list_order_before(scores, v[lo + child], v[lo + child + 1]))
			child++;
		if (!list_order_before(scores, v[lo + root], v[lo + child]))
			return;
		swap(v, lo + root, lo + child);
		root = child;
	}
}

static void
heap_sort(int *v, int lo, int hi, const float *scores)
{
	int			n = hi - lo;

	for (int i = n / 2 - 1; i >= 0; i--)
		sift_down(v, lo, i, n, scores);
	for (int end = n - 1; end > 0; end--)
	{
		swap(v, lo, lo + end);
		sift_down(v, lo, 0, end, scores);
	}
}

static int
depth_limit(int n)
{
	int			d = 0;

	while (n > 1)
	{
		n >>= 1;
		d += 2;
	}
	return d;
}

/*
 * Rearranges v[lo, hi) so that v[lo, k) holds the entries that come first,
 * in any order (lo <= k <= hi).  Past the depth limit (an input that keeps
 * giving bad pivots) the part left is sorted instead, which is as good.
 */
static void
select_prefix(int *v, int lo, int hi, int k, const float *scores)
{
	int			depth = depth_limit(hi - lo);

	while (hi - lo > 16 && k > lo && k < hi)
	{
		int			p;

		if (depth-- == 0)
		{
			heap_sort(v, lo, hi, scores);
			return;
		}
		p = partition(v, lo, hi, scores);
		if (p < k)
			lo = p + 1;
		else
			hi = p;
	}
	if (k > lo && k < hi)
		insertion_sort(v, lo, hi, scores);
}

void
list_order_init(ListOrder *lo, int *order, const float *scores, int nlists)
{
	lo->order = order;
	lo->scores = scores;
	lo->nlists = nlists;
	lo->sorted = 0;
	for (int j = 0; j < nlists; j++)
		order[j] = j;
}

void
list_order_extend(ListOrder *lo, int k)
{
	int			from = lo->sorted;

	if (k <= from)
		return;
	if (k < 2 * from)
		k = 2 * from;
	if (k > lo->nlists)
		k = lo->nlists;
	select_prefix(lo->order, from, lo->nlists, k, lo->scores);
	sort_range(lo->order, from, k, lo->scores, depth_limit(k - from));
	lo->sorted = k;
}
