/*
 * vec_kernels_neon.c
 *		NEON distance kernels for AArch64.
 *
 * Advanced SIMD is part of the AArch64 base architecture, so no runtime
 * check or target attribute is needed.  Four 4-lane accumulators cover FMA
 * latency; NEON has no masked loads, so the last 0..3 elements go through a
 * short scalar loop after the lanes have been folded.
 */
#include "vec_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>

static float
l2_squared_neon(const float *a, const float *b, int n)
{
	float32x4_t s0 = vdupq_n_f32(0.0f);
	float32x4_t s1 = vdupq_n_f32(0.0f);
	float32x4_t s2 = vdupq_n_f32(0.0f);
	float32x4_t s3 = vdupq_n_f32(0.0f);
	float		s;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		float32x4_t d0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
		float32x4_t d1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
		float32x4_t d2 = vsubq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
		float32x4_t d3 = vsubq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));

		s0 = vfmaq_f32(s0, d0, d0);
		s1 = vfmaq_f32(s1, d1, d1);
		s2 = vfmaq_f32(s2, d2, d2);
		s3 = vfmaq_f32(s3, d3, d3);
	}
	for (; i <= n - 4; i += 4)
	{
		float32x4_t d = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));

		s0 = vfmaq_f32(s0, d, d);
	}
	s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

static float
inner_product_neon(const float *a, const float *b, int n)
{
	float32x4_t s0 = vdupq_n_f32(0.0f);
	float32x4_t s1 = vdupq_n_f32(0.0f);
	float32x4_t s2 = vdupq_n_f32(0.0f);
	float32x4_t s3 = vdupq_n_f32(0.0f);
	float		s;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
		s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
		s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
		s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
	}
	for (; i <= n - 4; i += 4)
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
	s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static float
l1_neon(const float *a, const float *b, int n)
{
	float32x4_t s0 = vdupq_n_f32(0.0f);
	float32x4_t s1 = vdupq_n_f32(0.0f);
	float32x4_t s2 = vdupq_n_f32(0.0f);
	float32x4_t s3 = vdupq_n_f32(0.0f);
	float		s;
	int			i = 0;

	/* vabdq_f32 is |a - b| in one instruction */
	for (; i <= n - 16; i += 16)
	{
		s0 = vaddq_f32(s0, vabdq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
		s1 = vaddq_f32(s1, vabdq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4)));
		s2 = vaddq_f32(s2, vabdq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8)));
		s3 = vaddq_f32(s3, vabdq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12)));
	}
	for (; i <= n - 4; i += 4)
		s0 = vaddq_f32(s0, vabdq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
	s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < n; i++)
		s += fabsf(a[i] - b[i]);
	return s;
}

static void
cosine_parts_neon(const float *a, const float *b, int n,
				  float *dot, float *norm_a, float *norm_b)
{
	float32x4_t d0 = vdupq_n_f32(0.0f),
				d1 = vdupq_n_f32(0.0f);
	float32x4_t x0 = vdupq_n_f32(0.0f),
				x1 = vdupq_n_f32(0.0f);
	float32x4_t y0 = vdupq_n_f32(0.0f),
				y1 = vdupq_n_f32(0.0f);
	float		sd,
				sx,
				sy;
	int			i = 0;

	/* three sums already give three independent chains; two lanes each */
	for (; i <= n - 8; i += 8)
	{
		float32x4_t va = vld1q_f32(a + i);
		float32x4_t vb = vld1q_f32(b + i);
		float32x4_t wa = vld1q_f32(a + i + 4);
		float32x4_t wb = vld1q_f32(b + i + 4);

		d0 = vfmaq_f32(d0, va, vb);
		x0 = vfmaq_f32(x0, va, va);
		y0 = vfmaq_f32(y0, vb, vb);
		d1 = vfmaq_f32(d1, wa, wb);
		x1 = vfmaq_f32(x1, wa, wa);
		y1 = vfmaq_f32(y1, wb, wb);
	}
	for (; i <= n - 4; i += 4)
	{
		float32x4_t va = vld1q_f32(a + i);
		float32x4_t vb = vld1q_f32(b + i);

		d0 = vfmaq_f32(d0, va, vb);
		x0 = vfmaq_f32(x0, va, va);
		y0 = vfmaq_f32(y0, vb, vb);
	}
	sd = vaddvq_f32(vaddq_f32(d0, d1));
	sx = vaddvq_f32(vaddq_f32(x0, x1));
	sy = vaddvq_f32(vaddq_f32(y0, y1));
	for (; i < n; i++)
	{
		sd += a[i] * b[i];
		sx += a[i] * a[i];
		sy += b[i] * b[i];
	}
	*dot = sd;
	*norm_a = sx;
	*norm_b = sy;
}

static float
norm_squared_neon(const float *a, int n)
{
	float32x4_t s0 = vdupq_n_f32(0.0f);
	float32x4_t s1 = vdupq_n_f32(0.0f);
	float32x4_t s2 = vdupq_n_f32(0.0f);
	float32x4_t s3 = vdupq_n_f32(0.0f);
	float		s;
	int			i = 0;

	for (; i <= n - 16; i += 16)
	{
		float32x4_t v0 = vld1q_f32(a + i);
		float32x4_t v1 = vld1q_f32(a + i + 4);
		float32x4_t v2 = vld1q_f32(a + i + 8);
		float32x4_t v3 = vld1q_f32(a + i + 12);

		s0 = vfmaq_f32(s0, v0, v0);
		s1 = vfmaq_f32(s1, v1, v1);
		s2 = vfmaq_f32(s2, v2, v2);
		s3 = vfmaq_f32(s3, v3, v3);
	}
	for (; i <= n - 4; i += 4)
	{
		float32x4_t v = vld1q_f32(a + i);

		s0 = vfmaq_f32(s0, v, v);
	}
	s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < n; i++)
		s += a[i] * a[i];
	return s;
}

const VecKernels vec_kernels_neon_table = {
	.level = SIMD_NEON,
	.name = "neon",
	.l2_squared = l2_squared_neon,
	.inner_product = inner_product_neon,
	.l1 = l1_neon,
	.cosine_parts = cosine_parts_neon,
	.norm_squared = norm_squared_neon,
};

#endif							/* __aarch64__ */
