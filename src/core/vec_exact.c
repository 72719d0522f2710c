/*
 * vec_exact.c
 *		Double-precision distances over float32 arrays (see vec_exact.h).
 */
#include "vec_exact.h"

#include <math.h>

double
vec_l2_squared_f64(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	return sum;
}

double
vec_inner_product_f64(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return sum;
}

double
vec_l1_f64(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += fabs((double) a[i] - (double) b[i]);
	return sum;
}

double
vec_norm_squared_f64(const float *a, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sum;
}

void
vec_cosine_parts_f64(const float *a, const float *b, int n,
					 double *dot, double *norm_a, double *norm_b)
{
	double		d = 0.0,
				na = 0.0,
				nb = 0.0;

	for (int i = 0; i < n; i++)
	{
		d += (double) a[i] * (double) b[i];
		na += (double) a[i] * (double) a[i];
		nb += (double) b[i] * (double) b[i];
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}
