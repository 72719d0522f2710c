/*
 * half.h
 *		IEEE 754 binary16 ("half") values: conversion to and from float and
 *		double, their shortest decimal text, and the array conversions of
 *		each SIMD level, chosen at load like the distance kernels.
 *
 * Plain C (no postgres.h) so every one of the 65536 bit patterns can be
 * checked without a server.  A half is kept as its uint16_t bits.
 */
#ifndef MS_HALF_H
#define MS_HALF_H

#include <stdbool.h>
#include <stdint.h>

#include "vec_kernels.h"

/* the largest finite half, 0x7bff */
#define HALF_MAX			65504.0
/* the smallest magnitude that rounds to infinity: halfway to 2^16 */
#define HALF_OVERFLOW_AT	65520.0
/* room for the longest text half_to_shortest writes, "-6.1035e-05" */
#define HALF_SHORTEST_LEN	16

/* Is h NaN or an infinity (exponent all ones)? */
static inline bool
half_is_special(uint16_t h)
{
	return (h & 0x7c00) == 0x7c00;
}

/*
 * The half nearest d, ties to even (one rounding, so also correct for
 * every float).  Magnitudes from HALF_OVERFLOW_AT up give an infinity,
 * those below the smallest subnormal's half a signed zero; NaN gives NaN.
 */
extern uint16_t half_from_double(double d);

/* The value of h (exact: every half is a float). */
extern float half_to_float(uint16_t h);

/*
 * The shortest decimal text (at most 5 significant digits) that
 * half_from_double(strtod(text)) reads back as h, written into buf
 * (HALF_SHORTEST_LEN bytes); returns its length.  Fixed notation from
 * 1e-4 up, exponent notation below; whole numbers exactly (as short as
 * the shortest).  h must be finite.
 */
extern int	half_to_shortest(uint16_t h, char *buf);

typedef struct HalfKernels
{
	SimdLevel	level;
	/* out[i] = the value of in[i] */
	void		(*to_float) (const uint16_t *in, float *out, int n);
	/* out[i] = in[i] rounded to half, ties to even (infinity on overflow) */
	void		(*from_float) (const float *in, uint16_t *out, int n);
} HalfKernels;

/* The table in use; never NULL (the scalar one until half_kernels_init). */
extern const HalfKernels *half_kernels;

/* Install the best level the CPU supports.  Idempotent. */
extern void half_kernels_init(void);

/* The table of a level, or NULL when the CPU or the build lacks it. */
extern const HalfKernels *half_kernels_for_level(SimdLevel level);

/*
 * Install a level's conversions, or the best one below it that exists
 * (NEON has none of its own, and AVX2 needs F16C as well); returns the
 * level installed.
 */
extern SimdLevel half_use_simd_level(SimdLevel level);

extern const HalfKernels half_kernels_scalar_table;
#if defined(__x86_64__) || defined(_M_X64)
extern const HalfKernels half_kernels_f16c_table;
extern const HalfKernels half_kernels_avx512_table;
#endif

#endif							/* MS_HALF_H */
