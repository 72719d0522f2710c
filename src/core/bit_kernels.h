/*
 * bit_kernels.h
 *		Popcount kernels over packed bit strings (the bvec type) and their
 *		runtime CPU dispatch.
 *
 * Plain C (no postgres.h), unit-tested against the scalar table.  The
 * choice follows the vec kernels' SIMD level (vec_kernels.h): each level
 * maps to the fastest bit table its CPU can run, so machinesoup.simd
 * switches both families at once.  The AVX-512 level needs VPOPCNTDQ and
 * BW on top of AVX-512F for its bit kernels; a CPU without them gets the
 * AVX2 bit kernels at that level.
 *
 * Bit strings are byte arrays; every kernel takes a length in bytes and
 * counts all of their bits, so callers keep the padding bits of the last
 * byte at zero (bvec guarantees it).
 */
#ifndef MS_BIT_KERNELS_H
#define MS_BIT_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vec_kernels.h"

typedef struct BitKernels
{
	const char *name;			/* "scalar", "avx2", "avx512" */

	/* popcount(a XOR b) */
	uint64_t	(*hamming) (const uint8_t *a, const uint8_t *b, size_t nbytes);
	/* popcount(a AND b) and popcount(a OR b) in one pass, for Jaccard */
	void		(*and_or) (const uint8_t *a, const uint8_t *b, size_t nbytes,
						   uint64_t *and_count, uint64_t *or_count);
	/* popcount(a) */
	uint64_t	(*popcount) (const uint8_t *a, size_t nbytes);
	/* bit_quantize_floats (binary_quantize) */
	void		(*quantize) (const float *x, int n, uint8_t *out);
} BitKernels;

/* The table in use; starts on the scalar one, never NULL. */
extern const BitKernels *bit_kernels;

/* The table a SIMD level uses, or NULL when the CPU lacks the level. */
extern const BitKernels *bit_kernels_for_level(SimdLevel level);

/* Install the table of a level; false (nothing changed) when unsupported. */
extern bool bit_use_simd_level(SimdLevel level);

/* 1 - |a AND b| / |a OR b|, and 0 when both are all zero (equal sets). */
extern double bit_jaccard_from_counts(uint64_t and_count, uint64_t or_count);

/*
 * out[(n + 7) / 8] := bit i set when x[i] > 0 (NaN is not > 0), through
 * the table in use; bit_quantize_floats_scalar is the scalar table's.
 */
extern void bit_quantize_floats(const float *x, int n, uint8_t *out);
extern void bit_quantize_floats_scalar(const float *x, int n, uint8_t *out);

/* Are the bits past nbits in the last byte of a (nbits)-bit string zero? */
extern bool bit_padding_is_zero(const uint8_t *bits, int nbits);

extern const BitKernels bit_kernels_scalar_table;
#if defined(__x86_64__) || defined(_M_X64)
extern const BitKernels bit_kernels_avx2_table;
extern const BitKernels bit_kernels_avx512_table;
#endif

#endif							/* MS_BIT_KERNELS_H */
