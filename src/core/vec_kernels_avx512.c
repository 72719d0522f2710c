/*
 * vec_kernels_avx512.c
 *		AVX-512F distance kernels for x86-64.
 *
 * Like the AVX2 file, built without -mavx512f: the target attribute on each
 * function lets one binary carry them, and the dispatcher only installs
 * them on a CPU (and OS) that reports AVX-512F.
 *
 * The body runs four 16-lane accumulators per sum to cover FMA latency.
 * The remainder is handled by a 16-lane step and then a single masked
 * load: AVX-512 masking suppresses faults on the lanes it leaves out, so
 * reading the last few elements next to an unmapped page is safe and no
 * scalar tail loop is needed.
 */
#include "vec_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f")))

/* Lanes [0, rem) for a masked load; 0 < rem < 16. */
static inline __mmask16
tail_mask(int rem)
{
	return (__mmask16) ((1u << rem) - 1u);
}

static AVX512_FN float
l2_squared_avx512(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	__m512		d;
	int			i = 0;

	for (; i <= n - 64; i += 64)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		__m512		d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		__m512		d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
		s2 = _mm512_fmadd_ps(d2, d2, s2);
		s3 = _mm512_fmadd_ps(d3, d3, s3);
	}
	for (; i <= n - 16; i += 16)
	{
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		__mmask16	m = tail_mask(n - i);

		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),
											  _mm512_add_ps(s2, s3)));
}

static AVX512_FN float
inner_product_avx512(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	int			i = 0;

	for (; i <= n - 64; i += 64)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i <= n - 16; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < n)
	{
		__mmask16	m = tail_mask(n - i);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
							 _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),
											  _mm512_add_ps(s2, s3)));
}

static AVX512_FN float
l1_avx512(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	__m512		d;
	int			i = 0;

	for (; i <= n - 64; i += 64)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		__m512		d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		__m512		d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));

		s0 = _mm512_add_ps(s0, _mm512_abs_ps(d0));
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(d1));
		s2 = _mm512_add_ps(s2, _mm512_abs_ps(d2));
		s3 = _mm512_add_ps(s3, _mm512_abs_ps(d3));
	}
	for (; i <= n - 16; i += 16)
	{
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(d));
	}
	if (i < n)
	{
		__mmask16	m = tail_mask(n - i);

		/* zeroed lanes contribute |0 - 0| */
		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(d));
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),
											  _mm512_add_ps(s2, s3)));
}

static AVX512_FN void
cosine_parts_avx512(const float *a, const float *b, int n,
					float *dot, float *norm_a, float *norm_b)
{
	/* twelve accumulators: there are 32 zmm registers, room to spare */
	__m512		d0 = _mm512_setzero_ps(),
				d1 = _mm512_setzero_ps(),
				d2 = _mm512_setzero_ps(),
				d3 = _mm512_setzero_ps();
	__m512		x0 = _mm512_setzero_ps(),
				x1 = _mm512_setzero_ps(),
				x2 = _mm512_setzero_ps(),
				x3 = _mm512_setzero_ps();
	__m512		y0 = _mm512_setzero_ps(),
				y1 = _mm512_setzero_ps(),
				y2 = _mm512_setzero_ps(),
				y3 = _mm512_setzero_ps();
	__m512		va,
				vb;
	int			i = 0;

	for (; i <= n - 64; i += 64)
	{
		va = _mm512_loadu_ps(a + i);
		vb = _mm512_loadu_ps(b + i);
		d0 = _mm512_fmadd_ps(va, vb, d0);
		x0 = _mm512_fmadd_ps(va, va, x0);
		y0 = _mm512_fmadd_ps(vb, vb, y0);
		va = _mm512_loadu_ps(a + i + 16);
		vb = _mm512_loadu_ps(b + i + 16);
		d1 = _mm512_fmadd_ps(va, vb, d1);
		x1 = _mm512_fmadd_ps(va, va, x1);
		y1 = _mm512_fmadd_ps(vb, vb, y1);
		va = _mm512_loadu_ps(a + i + 32);
		vb = _mm512_loadu_ps(b + i + 32);
		d2 = _mm512_fmadd_ps(va, vb, d2);
		x2 = _mm512_fmadd_ps(va, va, x2);
		y2 = _mm512_fmadd_ps(vb, vb, y2);
		va = _mm512_loadu_ps(a + i + 48);
		vb = _mm512_loadu_ps(b + i + 48);
		d3 = _mm512_fmadd_ps(va, vb, d3);
		x3 = _mm512_fmadd_ps(va, va, x3);
		y3 = _mm512_fmadd_ps(vb, vb, y3);
	}
	for (; i <= n - 16; i += 16)
	{
		va = _mm512_loadu_ps(a + i);
		vb = _mm512_loadu_ps(b + i);
		d0 = _mm512_fmadd_ps(va, vb, d0);
		x0 = _mm512_fmadd_ps(va, va, x0);
		y0 = _mm512_fmadd_ps(vb, vb, y0);
	}
	if (i < n)
	{
		__mmask16	m = tail_mask(n - i);

		va = _mm512_maskz_loadu_ps(m, a + i);
		vb = _mm512_maskz_loadu_ps(m, b + i);
		d1 = _mm512_fmadd_ps(va, vb, d1);
		x1 = _mm512_fmadd_ps(va, va, x1);
		y1 = _mm512_fmadd_ps(vb, vb, y1);
	}
	*dot = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(d0, d1),
											  _mm512_add_ps(d2, d3)));
	*norm_a = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1),
												 _mm512_add_ps(x2, x3)));
	*norm_b = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(y0, y1),
												 _mm512_add_ps(y2, y3)));
}

static AVX512_FN float
norm_squared_avx512(const float *a, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	__m512		v;
	int			i = 0;

	for (; i <= n - 64; i += 64)
	{
		__m512		v0 = _mm512_loadu_ps(a + i);
		__m512		v1 = _mm512_loadu_ps(a + i + 16);
		__m512		v2 = _mm512_loadu_ps(a + i + 32);
		__m512		v3 = _mm512_loadu_ps(a + i + 48);

		s0 = _mm512_fmadd_ps(v0, v0, s0);
		s1 = _mm512_fmadd_ps(v1, v1, s1);
		s2 = _mm512_fmadd_ps(v2, v2, s2);
		s3 = _mm512_fmadd_ps(v3, v3, s3);
	}
	for (; i <= n - 16; i += 16)
	{
		v = _mm512_loadu_ps(a + i);
		s0 = _mm512_fmadd_ps(v, v, s0);
	}
	if (i < n)
	{
		v = _mm512_maskz_loadu_ps(tail_mask(n - i), a + i);
		s1 = _mm512_fmadd_ps(v, v, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),
											  _mm512_add_ps(s2, s3)));
}

const VecKernels vec_kernels_avx512_table = {
	.level = SIMD_AVX512,
	.name = "avx512",
	.l2_squared = l2_squared_avx512,
	.inner_product = inner_product_avx512,
	.l1 = l1_avx512,
	.cosine_parts = cosine_parts_avx512,
	.norm_squared = norm_squared_avx512,
};

#endif							/* __x86_64__ || _M_X64 */
