/*
 * half_x86.c
 *		Array conversions between half and float with F16C (beside the
 *		AVX2 kernels) and AVX-512F.
 *
 * Built without -mf16c/-mavx512f: the target attributes let one binary
 * carry them, and half_kernels_for_level() only hands them out on a CPU
 * that reports the features.  The hardware rounds to nearest, ties to
 * even, with gradual underflow and infinity on overflow: exactly what
 * half_from_double() does, which the unit tests check on every float
 * that matters.  The last n % 8 (n % 16) elements go through a small
 * zero-padded buffer, so no load or store leaves the arrays.
 */
#include "half.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>
#include <string.h>

#define F16C_FN __attribute__((target("avx2,f16c")))
#define AVX512_FN __attribute__((target("avx512f")))

static F16C_FN void
to_float_f16c(const uint16_t *in, float *out, int n)
{
	int			i = 0;

	for (; i <= n - 8; i += 8)
		_mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (in + i))));
	if (i < n)
	{
		uint16_t	h[8] = {0};
		float		f[8];

		memcpy(h, in + i, sizeof(uint16_t) * (n - i));
		_mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) h)));
		memcpy(out + i, f, sizeof(float) * (n - i));
	}
}

static F16C_FN void
from_float_f16c(const float *in, uint16_t *out, int n)
{
	int			i = 0;

	for (; i <= n - 8; i += 8)
		_mm_storeu_si128((__m128i *) (out + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(in + i),
										 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	if (i < n)
	{
		float		f[8] = {0};
		uint16_t	h[8];

		memcpy(f, in + i, sizeof(float) * (n - i));
		_mm_storeu_si128((__m128i *) h,
						 _mm256_cvtps_ph(_mm256_loadu_ps(f),
										 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
		memcpy(out + i, h, sizeof(uint16_t) * (n - i));
	}
}

static AVX512_FN void
to_float_avx512(const uint16_t *in, float *out, int n)
{
	int			i = 0;

	for (; i <= n - 16; i += 16)
		_mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (in + i))));
	if (i < n)
	{
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1u);
		__m256i		h = _mm256_setzero_si256();

		memcpy(&h, in + i, sizeof(uint16_t) * (n - i));
		_mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(h));
	}
}

static AVX512_FN void
from_float_avx512(const float *in, uint16_t *out, int n)
{
	int			i = 0;

	for (; i <= n - 16; i += 16)
		_mm256_storeu_si256((__m256i *) (out + i),
							_mm512_cvtps_ph(_mm512_loadu_ps(in + i),
											_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	if (i < n)
	{
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1u);
		__m256i		h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, in + i),
										_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);

		memcpy(out + i, &h, sizeof(uint16_t) * (n - i));
	}
}

const HalfKernels half_kernels_f16c_table = {
	.level = SIMD_AVX2,
	.to_float = to_float_f16c,
	.from_float = from_float_f16c,
};

const HalfKernels half_kernels_avx512_table = {
	.level = SIMD_AVX512,
	.to_float = to_float_avx512,
	.from_float = from_float_avx512,
};

#endif							/* __x86_64__ || _M_X64 */
