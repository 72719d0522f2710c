/*
 * svec_distance.c
 *		Merge-based distances and comparison of sparse vectors.
 *
 * The merges step without data-dependent branches: at each step the
 * smaller head (or both, on a shared index) is consumed, and the value of
 * a side that is not consumed counts as 0.  Index lists of SPLADE-like
 * vectors interleave unpredictably, so a branch per step would mostly be
 * mispredicted.
 */
#include "svec_distance.h"

#include <math.h>

double
svec_dist_inner_product(const SvecView *a, const SvecView *b)
{
	const int32_t *ia = a->indices;
	const int32_t *ib = b->indices;
	int			i = 0,
				j = 0;
	double		sum = 0.0;

	while (i < a->nnz && j < b->nnz)
	{
		int32_t		x = ia[i];
		int32_t		y = ib[j];
		double		p = (double) a->values[i] * (double) b->values[j];

		sum += (x == y) ? p : 0.0;
		i += (x <= y);
		j += (y <= x);
	}
	return sum;
}

double
svec_dist_norm_squared(const SvecView *a)
{
	double		sum = 0.0;

	for (int i = 0; i < a->nnz; i++)
		sum += (double) a->values[i] * (double) a->values[i];
	return sum;
}

/* the squares of what is left of a list after a merge, from position i */
static double
tail_norm_squared(const SvecView *a, int i)
{
	double		sum = 0.0;

	for (; i < a->nnz; i++)
		sum += (double) a->values[i] * (double) a->values[i];
	return sum;
}

double
svec_dist_l2_squared(const SvecView *a, const SvecView *b)
{
	int			i = 0,
				j = 0;
	double		sum = 0.0;

	while (i < a->nnz && j < b->nnz)
	{
		int32_t		x = a->indices[i];
		int32_t		y = b->indices[j];
		double		va = (x <= y) ? a->values[i] : 0.0;
		double		vb = (y <= x) ? b->values[j] : 0.0;
		double		d = va - vb;

		sum += d * d;
		i += (x <= y);
		j += (y <= x);
	}
	return sum + tail_norm_squared(a, i) + tail_norm_squared(b, j);
}

double
svec_dist_l1(const SvecView *a, const SvecView *b)
{
	int			i = 0,
				j = 0;
	double		sum = 0.0;

	while (i < a->nnz && j < b->nnz)
	{
		int32_t		x = a->indices[i];
		int32_t		y = b->indices[j];
		double		va = (x <= y) ? a->values[i] : 0.0;
		double		vb = (y <= x) ? b->values[j] : 0.0;

		sum += fabs(va - vb);
		i += (x <= y);
		j += (y <= x);
	}
	for (; i < a->nnz; i++)
		sum += fabs((double) a->values[i]);
	for (; j < b->nnz; j++)
		sum += fabs((double) b->values[j]);
	return sum;
}

void
svec_dist_cosine_parts(const SvecView *a, const SvecView *b,
				  double *dot, double *norm_a, double *norm_b)
{
	*dot = svec_dist_inner_product(a, b);
	*norm_a = svec_dist_norm_squared(a);
	*norm_b = svec_dist_norm_squared(b);
}

/*
 * The first position (below both dimensions) where the dense forms
 * differ decides.  With no stored zeros, an index present in one list
 * only is such a position: there that vector is non-zero and the other 0.
 */
int
svec_compare(const SvecView *a, const SvecView *b)
{
	int32_t		common = a->dims < b->dims ? a->dims : b->dims;
	int			i = 0,
				j = 0;

	for (;;)
	{
		int32_t		x = i < a->nnz ? a->indices[i] : INT32_MAX;
		int32_t		y = j < b->nnz ? b->indices[j] : INT32_MAX;
		float		va,
					vb;

		if (x >= common && y >= common)
			break;
		va = (x <= y) ? a->values[i] : 0.0f;
		vb = (y <= x) ? b->values[j] : 0.0f;
		if (va != vb)
			return va < vb ? -1 : 1;
		i += (x <= y);
		j += (y <= x);
	}
	if (a->dims != b->dims)
		return a->dims < b->dims ? -1 : 1;
	return 0;
}
