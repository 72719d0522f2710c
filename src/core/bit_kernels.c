/*
 * bit_kernels.c
 *		Runtime choice of the popcount kernels, and the small helpers on
 *		packed bit strings that need no SIMD.
 *
 * Like vec_kernels.c, which instructions may run is asked of the CPU, never
 * assumed from compiler flags: the library is built without -march.
 */
#include "bit_kernels.h"

const BitKernels *bit_kernels = &bit_kernels_scalar_table;

#if defined(__x86_64__) || defined(_M_X64)
/*
 * POPCNT is not part of baseline x86-64; every AVX2 CPU has it, but the
 * check is cheap and says what the AVX2 table relies on.
 */
static bool
cpu_has_avx2_bits(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}

/* VPOPCNTQ, and BW for the masked byte loads of the tail */
static bool
cpu_has_avx512_bits(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") &&
		__builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vpopcntdq");
}
#endif

const BitKernels *
bit_kernels_for_level(SimdLevel level)
{
	/* a level the vec kernels cannot run is not a level for us either */
	if (vec_kernels_for_level(level) == NULL)
		return NULL;
	switch (level)
	{
#if defined(__x86_64__) || defined(_M_X64)
		case SIMD_AVX512:
			if (cpu_has_avx512_bits())
				return &bit_kernels_avx512_table;
			/* AVX-512F without VPOPCNTDQ: the AVX2 kernels, if any */
			/* FALLTHROUGH */
		case SIMD_AVX2:
			if (cpu_has_avx2_bits())
				return &bit_kernels_avx2_table;
			return &bit_kernels_scalar_table;
#endif
		default:
			/* scalar and NEON: the compiler's popcount is good enough */
			return &bit_kernels_scalar_table;
	}
}

bool
bit_use_simd_level(SimdLevel level)
{
	const BitKernels *k = bit_kernels_for_level(level);

	if (k == NULL)
		return false;
	bit_kernels = k;
	return true;
}

double
bit_jaccard_from_counts(uint64_t and_count, uint64_t or_count)
{
	/*
	 * Two all-zero strings are the same (empty) set: distance 0, so that
	 * d(x, x) = 0 holds for every x and the value is never NaN.
	 */
	if (or_count == 0)
		return 0.0;
	return 1.0 - (double) and_count / (double) or_count;
}

void
bit_quantize_floats(const float *x, int n, uint8_t *out)
{
	bit_kernels->quantize(x, n, out);
}

void
bit_quantize_floats_scalar(const float *x, int n, uint8_t *out)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		out[i / 8] = (uint8_t) (((x[i] > 0.0f) << 7) | ((x[i + 1] > 0.0f) << 6) |
								((x[i + 2] > 0.0f) << 5) | ((x[i + 3] > 0.0f) << 4) |
								((x[i + 4] > 0.0f) << 3) | ((x[i + 5] > 0.0f) << 2) |
								((x[i + 6] > 0.0f) << 1) | (x[i + 7] > 0.0f));
	}
	if (i < n)
	{
		uint8_t		last = 0;

		for (int j = 0; i + j < n; j++)
			last |= (uint8_t) ((x[i + j] > 0.0f) << (7 - j));
		out[i / 8] = last;
	}
}

bool
bit_padding_is_zero(const uint8_t *bits, int nbits)
{
	int			used = nbits % 8;

	if (used == 0)
		return true;
	return (bits[nbits / 8] & (uint8_t) (0xFFu >> used)) == 0;
}
