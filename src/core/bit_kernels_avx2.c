/*
 * bit_kernels_avx2.c
 *		AVX2 popcount kernels for x86-64: a 16-entry nibble table looked up
 *		with VPSHUFB, summed per 64-bit lane with VPSADBW.
 *
 * Built without -mavx2: the target attribute on each function lets one
 * binary carry them, and bit_kernels.c only installs them on a CPU that
 * reports AVX2 and POPCNT.  Whole 32-byte blocks go through the table; the
 * remaining bytes (fewer than 32) through POPCNT on 64-bit words, then
 * single bytes, so no load ever reads past the end of an argument.
 */
#include <string.h>

#include "bit_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,popcnt")))

/* per-byte popcounts of v, each 0..8 */
static inline AVX2_FN __m256i
byte_counts(__m256i v)
{
	const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
										 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
	const __m256i low4 = _mm256_set1_epi8(0x0f);
	__m256i		lo = _mm256_and_si256(v, low4);
	__m256i		hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);

	return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

/* the four 64-bit lanes of per-byte counts c, summed */
static inline AVX2_FN __m256i
lane_sums(__m256i c)
{
	return _mm256_sad_epu8(c, _mm256_setzero_si256());
}

static inline AVX2_FN uint64_t
hsum64(__m256i s)
{
	__m128i		x = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));

	return (uint64_t) _mm_cvtsi128_si64(x) + (uint64_t) _mm_extract_epi64(x, 1);
}

static inline AVX2_FN uint64_t
load64(const uint8_t *p)
{
	uint64_t	w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static AVX2_FN uint64_t
hamming_avx2(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
	__m256i		s = _mm256_setzero_si256();
	uint64_t	count;
	size_t		i = 0;

	for (; i + 32 <= nbytes; i += 32)
	{
		__m256i		x = _mm256_loadu_si256((const __m256i *) (a + i));
		__m256i		y = _mm256_loadu_si256((const __m256i *) (b + i));

		s = _mm256_add_epi64(s, lane_sums(byte_counts(_mm256_xor_si256(x, y))));
	}
	count = hsum64(s);
	for (; i + 8 <= nbytes; i += 8)
		count += (uint64_t) _mm_popcnt_u64(load64(a + i) ^ load64(b + i));
	for (; i < nbytes; i++)
		count += (uint64_t) _mm_popcnt_u32((unsigned) (a[i] ^ b[i]));
	return count;
}

static AVX2_FN void
and_or_avx2(const uint8_t *a, const uint8_t *b, size_t nbytes,
			uint64_t *and_count, uint64_t *or_count)
{
	__m256i		sa = _mm256_setzero_si256();
	__m256i		so = _mm256_setzero_si256();
	uint64_t	ac;
	uint64_t	oc;
	size_t		i = 0;

	for (; i + 32 <= nbytes; i += 32)
	{
		__m256i		x = _mm256_loadu_si256((const __m256i *) (a + i));
		__m256i		y = _mm256_loadu_si256((const __m256i *) (b + i));

		sa = _mm256_add_epi64(sa, lane_sums(byte_counts(_mm256_and_si256(x, y))));
		so = _mm256_add_epi64(so, lane_sums(byte_counts(_mm256_or_si256(x, y))));
	}
	ac = hsum64(sa);
	oc = hsum64(so);
	for (; i + 8 <= nbytes; i += 8)
	{
		uint64_t	x = load64(a + i);
		uint64_t	y = load64(b + i);

		ac += (uint64_t) _mm_popcnt_u64(x & y);
		oc += (uint64_t) _mm_popcnt_u64(x | y);
	}
	for (; i < nbytes; i++)
	{
		ac += (uint64_t) _mm_popcnt_u32((unsigned) (a[i] & b[i]));
		oc += (uint64_t) _mm_popcnt_u32((unsigned) (a[i] | b[i]));
	}
	*and_count = ac;
	*or_count = oc;
}

static AVX2_FN uint64_t
popcount_avx2(const uint8_t *a, size_t nbytes)
{
	__m256i		s = _mm256_setzero_si256();
	uint64_t	count;
	size_t		i = 0;

	for (; i + 32 <= nbytes; i += 32)
		s = _mm256_add_epi64(s, lane_sums(byte_counts(_mm256_loadu_si256((const __m256i *) (a + i)))));
	count = hsum64(s);
	for (; i + 8 <= nbytes; i += 8)
		count += (uint64_t) _mm_popcnt_u64(load64(a + i));
	for (; i < nbytes; i++)
		count += (uint64_t) _mm_popcnt_u32((unsigned) a[i]);
	return count;
}

/*
 * Eight floats at a time: reversed in the register so that VMOVMSKPS puts
 * the first one in the byte's high bit, bvec's bit order.  An ordered
 * compare, so NaN gives a clear bit as the scalar x > 0 does.
 */
static AVX2_FN void
quantize_avx2(const float *x, int n, uint8_t *out)
{
	const __m256i rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
	const __m256 zero = _mm256_setzero_ps();
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + i), rev);

		out[i / 8] = (uint8_t) _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_GT_OQ));
	}
	if (i < n)
		bit_quantize_floats_scalar(x + i, n - i, out + i / 8);
}

const BitKernels bit_kernels_avx2_table = {
	.name = "avx2",
	.hamming = hamming_avx2,
	.and_or = and_or_avx2,
	.popcount = popcount_avx2,
	.quantize = quantize_avx2,
};

#endif							/* x86-64 */
