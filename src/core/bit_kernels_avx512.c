/*
 * bit_kernels_avx512.c
 *		AVX-512 popcount kernels for x86-64: VPOPCNTQ on 64-byte blocks.
 *
 * Built without -mavx512*: the target attribute on each function lets one
 * binary carry them, and bit_kernels.c only installs them on a CPU that
 * reports AVX-512F, BW and VPOPCNTDQ.  The last partial block is a masked
 * byte load (BW): masked-off lanes read as zero and cannot fault, so there
 * is no scalar tail.
 */
#include "bit_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vpopcntdq")))

/* bytes [0, rem) for a masked load; 0 < rem < 64 */
static inline __mmask64
tail_mask(size_t rem)
{
	return (__mmask64) ((1ULL << rem) - 1ULL);
}

static AVX512_FN uint64_t
hamming_avx512(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
	__m512i		s0 = _mm512_setzero_si512();
	__m512i		s1 = _mm512_setzero_si512();
	size_t		i = 0;

	/* two accumulators: VPOPCNTQ's latency exceeds its throughput */
	for (; i + 128 <= nbytes; i += 128)
	{
		__m512i		x0 = _mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
		__m512i		x1 = _mm512_xor_si512(_mm512_loadu_si512(a + i + 64), _mm512_loadu_si512(b + i + 64));

		s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(x0));
		s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(x1));
	}
	for (; i + 64 <= nbytes; i += 64)
		s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i),
																	   _mm512_loadu_si512(b + i))));
	if (i < nbytes)
	{
		__mmask64	m = tail_mask(nbytes - i);
		__m512i		x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
										 _mm512_maskz_loadu_epi8(m, b + i));

		s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(x));
	}
	return (uint64_t) _mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1));
}

static AVX512_FN void
and_or_avx512(const uint8_t *a, const uint8_t *b, size_t nbytes,
			  uint64_t *and_count, uint64_t *or_count)
{
	__m512i		sa = _mm512_setzero_si512();
	__m512i		so = _mm512_setzero_si512();
	size_t		i = 0;

	for (; i + 64 <= nbytes; i += 64)
	{
		__m512i		x = _mm512_loadu_si512(a + i);
		__m512i		y = _mm512_loadu_si512(b + i);

		sa = _mm512_add_epi64(sa, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
		so = _mm512_add_epi64(so, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
	}
	if (i < nbytes)
	{
		__mmask64	m = tail_mask(nbytes - i);
		__m512i		x = _mm512_maskz_loadu_epi8(m, a + i);
		__m512i		y = _mm512_maskz_loadu_epi8(m, b + i);

		sa = _mm512_add_epi64(sa, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
		so = _mm512_add_epi64(so, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
	}
	*and_count = (uint64_t) _mm512_reduce_add_epi64(sa);
	*or_count = (uint64_t) _mm512_reduce_add_epi64(so);
}

static AVX512_FN uint64_t
popcount_avx512(const uint8_t *a, size_t nbytes)
{
	__m512i		s = _mm512_setzero_si512();
	size_t		i = 0;

	for (; i + 64 <= nbytes; i += 64)
		s = _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_loadu_si512(a + i)));
	if (i < nbytes)
		s = _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_maskz_loadu_epi8(tail_mask(nbytes - i),
																			  a + i)));
	return (uint64_t) _mm512_reduce_add_epi64(s);
}

/*
 * Sixteen floats at a time, each group of eight reversed in the register so
 * that the compare mask's low byte has the first float in its high bit
 * (bvec's order), its high byte the next eight: two output bytes, little
 * endian.  An ordered compare: NaN gives a clear bit.
 */
static AVX512_FN void
quantize_avx512(const float *x, int n, uint8_t *out)
{
	const __m512i rev = _mm512_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0,
										  15, 14, 13, 12, 11, 10, 9, 8);
	const __m512 zero = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512		v = _mm512_permutexvar_ps(rev, _mm512_loadu_ps(x + i));
		__mmask16	m = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);

		out[i / 8] = (uint8_t) (m & 0xFF);
		out[i / 8 + 1] = (uint8_t) (m >> 8);
	}
	if (i < n)
		bit_quantize_floats_scalar(x + i, n - i, out + i / 8);
}

const BitKernels bit_kernels_avx512_table = {
	.name = "avx512",
	.hamming = hamming_avx512,
	.and_or = and_or_avx512,
	.popcount = popcount_avx512,
	.quantize = quantize_avx512,
};

#endif							/* x86-64 */
