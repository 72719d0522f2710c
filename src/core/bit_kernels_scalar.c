/*
 * bit_kernels_scalar.c
 *		Portable popcount kernels: 64-bit words through the compiler's
 *		popcount builtin, the tail byte by byte.
 *
 * Built without -mpopcnt, the builtin becomes a short bit-twiddling
 * sequence on x86-64; the AVX2 table (POPCNT and VPSHUFB) replaces it on
 * any CPU that has them.  memcpy loads keep unaligned words legal.
 */
#include <string.h>

#include "bit_kernels.h"

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t	w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static uint64_t
hamming_scalar(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
	uint64_t	count = 0;
	size_t		i = 0;

	for (; i + 8 <= nbytes; i += 8)
		count += (uint64_t) __builtin_popcountll(load64(a + i) ^ load64(b + i));
	for (; i < nbytes; i++)
		count += (uint64_t) __builtin_popcount((unsigned) (a[i] ^ b[i]));
	return count;
}

static void
and_or_scalar(const uint8_t *a, const uint8_t *b, size_t nbytes,
			  uint64_t *and_count, uint64_t *or_count)
{
	uint64_t	ac = 0;
	uint64_t	oc = 0;
	size_t		i = 0;

	for (; i + 8 <= nbytes; i += 8)
	{
		uint64_t	x = load64(a + i);
		uint64_t	y = load64(b + i);

		ac += (uint64_t) __builtin_popcountll(x & y);
		oc += (uint64_t) __builtin_popcountll(x | y);
	}
	for (; i < nbytes; i++)
	{
		ac += (uint64_t) __builtin_popcount((unsigned) (a[i] & b[i]));
		oc += (uint64_t) __builtin_popcount((unsigned) (a[i] | b[i]));
	}
	*and_count = ac;
	*or_count = oc;
}

static uint64_t
popcount_scalar(const uint8_t *a, size_t nbytes)
{
	uint64_t	count = 0;
	size_t		i = 0;

	for (; i + 8 <= nbytes; i += 8)
		count += (uint64_t) __builtin_popcountll(load64(a + i));
	for (; i < nbytes; i++)
		count += (uint64_t) __builtin_popcount((unsigned) a[i]);
	return count;
}

const BitKernels bit_kernels_scalar_table = {
	.name = "scalar",
	.hamming = hamming_scalar,
	.and_or = and_or_scalar,
	.popcount = popcount_scalar,
	.quantize = bit_quantize_floats_scalar,
};
