/*
 * vec_kernels_avx2.c
 *		AVX2 + FMA distance kernels for x86-64.
 *
 * Built without -mavx2: each function carries its own target attribute, so
 * the rest of the library stays runnable on any x86-64 and these are only
 * reached after the dispatcher has seen AVX2 and FMA on the CPU.
 *
 * Four 8-lane accumulators per sum: an FMA has a latency of about four
 * cycles and two can issue per cycle, so a single accumulator would leave
 * the units mostly idle.  The last 1..7 elements are read with a masked
 * load, which never touches (or faults on) the lanes it leaves out, so the
 * tail is summed in the same vector lanes as the body.
 */
#include "vec_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma")))

/* Mask selecting lanes [0, rem) for _mm256_maskload_ps; 0 < rem < 8. */
static inline AVX2_FN __m256i
tail_mask(int rem)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem),
							  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The sum of the eight lanes. */
static inline AVX2_FN float
hsum(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	hi = _mm_movehl_ps(hi, lo);
	lo = _mm_add_ps(lo, hi);
	hi = _mm_shuffle_ps(lo, lo, 1);
	lo = _mm_add_ss(lo, hi);
	return _mm_cvtss_f32(lo);
}

/* |v| lane by lane: the sign bits cleared. */
static inline AVX2_FN __m256
abs_ps(__m256 v)
{
	return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

static AVX2_FN float
l2_squared_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	__m256		d;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i <= n - 8; i += 8)
	{
		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		__m256i		m = tail_mask(n - i);

		d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
		s1 = _mm256_fmadd_ps(d, d, s1);
	}
	return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static AVX2_FN float
inner_product_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i <= n - 8; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	if (i < n)
	{
		__m256i		m = tail_mask(n - i);

		s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m),
							 _mm256_maskload_ps(b + i, m), s1);
	}
	return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static AVX2_FN float
l1_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	__m256		d;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_add_ps(s0, abs_ps(d0));
		s1 = _mm256_add_ps(s1, abs_ps(d1));
		s2 = _mm256_add_ps(s2, abs_ps(d2));
		s3 = _mm256_add_ps(s3, abs_ps(d3));
	}
	for (; i <= n - 8; i += 8)
	{
		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_add_ps(s0, abs_ps(d));
	}
	if (i < n)
	{
		__m256i		m = tail_mask(n - i);

		/* masked-off lanes load 0 in both, so they add |0 - 0| */
		d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
		s1 = _mm256_add_ps(s1, abs_ps(d));
	}
	return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static AVX2_FN void
cosine_parts_avx2(const float *a, const float *b, int n,
				  float *dot, float *norm_a, float *norm_b)
{
	/*
	 * Twelve accumulators plus the two loads still fit in the sixteen ymm
	 * registers; three FMAs per pair of loads make this kernel FMA-bound, so
	 * it needs the latency hiding more than the others.
	 */
	__m256		d0 = _mm256_setzero_ps(),
				d1 = _mm256_setzero_ps(),
				d2 = _mm256_setzero_ps(),
				d3 = _mm256_setzero_ps();
	__m256		x0 = _mm256_setzero_ps(),
				x1 = _mm256_setzero_ps(),
				x2 = _mm256_setzero_ps(),
				x3 = _mm256_setzero_ps();
	__m256		y0 = _mm256_setzero_ps(),
				y1 = _mm256_setzero_ps(),
				y2 = _mm256_setzero_ps(),
				y3 = _mm256_setzero_ps();
	__m256		va,
				vb;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		va = _mm256_loadu_ps(a + i);
		vb = _mm256_loadu_ps(b + i);
		d0 = _mm256_fmadd_ps(va, vb, d0);
		x0 = _mm256_fmadd_ps(va, va, x0);
		y0 = _mm256_fmadd_ps(vb, vb, y0);
		va = _mm256_loadu_ps(a + i + 8);
		vb = _mm256_loadu_ps(b + i + 8);
		d1 = _mm256_fmadd_ps(va, vb, d1);
		x1 = _mm256_fmadd_ps(va, va, x1);
		y1 = _mm256_fmadd_ps(vb, vb, y1);
		va = _mm256_loadu_ps(a + i + 16);
		vb = _mm256_loadu_ps(b + i + 16);
		d2 = _mm256_fmadd_ps(va, vb, d2);
		x2 = _mm256_fmadd_ps(va, va, x2);
		y2 = _mm256_fmadd_ps(vb, vb, y2);
		va = _mm256_loadu_ps(a + i + 24);
		vb = _mm256_loadu_ps(b + i + 24);
		d3 = _mm256_fmadd_ps(va, vb, d3);
		x3 = _mm256_fmadd_ps(va, va, x3);
		y3 = _mm256_fmadd_ps(vb, vb, y3);
	}
	for (; i <= n - 8; i += 8)
	{
		va = _mm256_loadu_ps(a + i);
		vb = _mm256_loadu_ps(b + i);
		d0 = _mm256_fmadd_ps(va, vb, d0);
		x0 = _mm256_fmadd_ps(va, va, x0);
		y0 = _mm256_fmadd_ps(vb, vb, y0);
	}
	if (i < n)
	{
		__m256i		m = tail_mask(n - i);

		va = _mm256_maskload_ps(a + i, m);
		vb = _mm256_maskload_ps(b + i, m);
		d1 = _mm256_fmadd_ps(va, vb, d1);
		x1 = _mm256_fmadd_ps(va, va, x1);
		y1 = _mm256_fmadd_ps(vb, vb, y1);
	}
	*dot = hsum(_mm256_add_ps(_mm256_add_ps(d0, d1), _mm256_add_ps(d2, d3)));
	*norm_a = hsum(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)));
	*norm_b = hsum(_mm256_add_ps(_mm256_add_ps(y0, y1), _mm256_add_ps(y2, y3)));
}

static AVX2_FN float
norm_squared_avx2(const float *a, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	__m256		v;
	int			i = 0;

	for (; i <= n - 32; i += 32)
	{
		__m256		v0 = _mm256_loadu_ps(a + i);
		__m256		v1 = _mm256_loadu_ps(a + i + 8);
		__m256		v2 = _mm256_loadu_ps(a + i + 16);
		__m256		v3 = _mm256_loadu_ps(a + i + 24);

		s0 = _mm256_fmadd_ps(v0, v0, s0);
		s1 = _mm256_fmadd_ps(v1, v1, s1);
		s2 = _mm256_fmadd_ps(v2, v2, s2);
		s3 = _mm256_fmadd_ps(v3, v3, s3);
	}
	for (; i <= n - 8; i += 8)
	{
		v = _mm256_loadu_ps(a + i);
		s0 = _mm256_fmadd_ps(v, v, s0);
	}
	if (i < n)
	{
		v = _mm256_maskload_ps(a + i, tail_mask(n - i));
		s1 = _mm256_fmadd_ps(v, v, s1);
	}
	return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

const VecKernels vec_kernels_avx2_table = {
	.level = SIMD_AVX2,
	.name = "avx2",
	.l2_squared = l2_squared_avx2,
	.inner_product = inner_product_avx2,
	.l1 = l1_avx2,
	.cosine_parts = cosine_parts_avx2,
	.norm_squared = norm_squared_avx2,
};

#endif							/* __x86_64__ || _M_X64 */
