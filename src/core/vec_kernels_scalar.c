/*
 * vec_kernels_scalar.c
 *		Portable distance kernels: the fallback on every CPU and the baseline
 *		the SIMD versions are benchmarked against.
 *
 * Each kernel keeps four independent float partial sums.  That shortens the
 * dependency chain enough for the CPU to overlap iterations, and it makes
 * the rounding error of a long sum several times smaller than one running
 * total would.  Because every lane is summed strictly in order, the compiler may
 * not reassociate across iterations (that would need -ffast-math), so the
 * widest thing the auto-vectoriser can make of a loop body is one 128-bit
 * vector of the four lanes: plain SSE2 on x86-64, which is what the
 * "scalar" level is meant to measure.
 */
#include <math.h>

#include "vec_kernels.h"

static float
l2_squared_scalar(const float *a, const float *b, int n)
{
	float		s0 = 0.0f,
				s1 = 0.0f,
				s2 = 0.0f,
				s3 = 0.0f;
	int			i = 0;

	/* "i <= n - 4" rather than "i + 4 <= n": no overflow near INT_MAX */
	for (; i <= n - 4; i += 4)
	{
		float		d0 = a[i] - b[i];
		float		d1 = a[i + 1] - b[i + 1];
		float		d2 = a[i + 2] - b[i + 2];
		float		d3 = a[i + 3] - b[i + 3];

		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		s0 += d * d;
	}
	return (s0 + s1) + (s2 + s3);
}

static float
inner_product_scalar(const float *a, const float *b, int n)
{
	float		s0 = 0.0f,
				s1 = 0.0f,
				s2 = 0.0f,
				s3 = 0.0f;
	int			i = 0;

	for (; i <= n - 4; i += 4)
	{
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

static float
l1_scalar(const float *a, const float *b, int n)
{
	float		s0 = 0.0f,
				s1 = 0.0f,
				s2 = 0.0f,
				s3 = 0.0f;
	int			i = 0;

	for (; i <= n - 4; i += 4)
	{
		s0 += fabsf(a[i] - b[i]);
		s1 += fabsf(a[i + 1] - b[i + 1]);
		s2 += fabsf(a[i + 2] - b[i + 2]);
		s3 += fabsf(a[i + 3] - b[i + 3]);
	}
	for (; i < n; i++)
		s0 += fabsf(a[i] - b[i]);
	return (s0 + s1) + (s2 + s3);
}

static float
norm_squared_scalar(const float *a, int n)
{
	float		s0 = 0.0f,
				s1 = 0.0f,
				s2 = 0.0f,
				s3 = 0.0f;
	int			i = 0;

	for (; i <= n - 4; i += 4)
	{
		s0 += a[i] * a[i];
		s1 += a[i + 1] * a[i + 1];
		s2 += a[i + 2] * a[i + 2];
		s3 += a[i + 3] * a[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * a[i];
	return (s0 + s1) + (s2 + s3);
}

/*
 * Three passes instead of one fused loop: twelve float accumulators do not
 * fit in the sixteen SSE registers, and gcc -O3 turns the fused loop into a
 * shuffle-heavy form that ran clearly slower than three of the simple loops
 * above.  After the first pass the vectors are in cache, so the second and
 * third cost little even when a scan streams them from memory.
 */
static void
cosine_parts_scalar(const float *a, const float *b, int n,
					float *dot, float *norm_a, float *norm_b)
{
	*dot = inner_product_scalar(a, b, n);
	*norm_a = norm_squared_scalar(a, n);
	*norm_b = norm_squared_scalar(b, n);
}

const VecKernels vec_kernels_scalar_table = {
	.level = SIMD_SCALAR,
	.name = "scalar",
	.l2_squared = l2_squared_scalar,
	.inner_product = inner_product_scalar,
	.l1 = l1_scalar,
	.cosine_parts = cosine_parts_scalar,
	.norm_squared = norm_squared_scalar,
};
