/*
 * vec_kernels.h
 *		Distance kernels over float32 arrays and their runtime CPU dispatch.
 *
 * Plain C (no postgres.h) so the kernels can be unit-tested, fuzzed and
 * benchmarked without a server.  One binary carries every SIMD flavour the
 * compiler can emit; the fastest one the CPU supports is picked once, when
 * the library loads, and reached through a single table of function
 * pointers so a scan pays one indirect call per row and nothing more.
 */
#ifndef MS_VEC_KERNELS_H
#define MS_VEC_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum SimdLevel
{
	SIMD_SCALAR = 0,
	SIMD_NEON,
	SIMD_AVX2,					/* AVX2 + FMA */
	SIMD_AVX512,				/* AVX-512F */
	SIMD_NUM_LEVELS
} SimdLevel;

typedef struct VecKernels
{
	SimdLevel	level;
	const char *name;			/* "scalar", "neon", "avx2", "avx512" */

	/* sum((a[i] - b[i])^2) */
	float		(*l2_squared) (const float *a, const float *b, int n);
	/* sum(a[i] * b[i]) */
	float		(*inner_product) (const float *a, const float *b, int n);
	/* sum(|a[i] - b[i]|) */
	float		(*l1) (const float *a, const float *b, int n);
	/* sum(a*b), sum(a*a), sum(b*b) in one pass, for cosine distance */
	void		(*cosine_parts) (const float *a, const float *b, int n,
								 float *dot, float *norm_a, float *norm_b);
	/* sum(a[i]^2) */
	float		(*norm_squared) (const float *a, int n);
} VecKernels;

/* The table in use; never NULL once vec_kernels_init() has run. */
extern const VecKernels *vec_kernels;

/* Pick the best level the CPU supports and install it.  Idempotent. */
extern void vec_kernels_init(void);

/* The best level this CPU (and this build) supports. */
extern SimdLevel vec_best_simd_level(void);

/* Kernels of one level, or NULL when the CPU or the build lacks it. */
extern const VecKernels *vec_kernels_for_level(SimdLevel level);

/* Install a level; false (and nothing changed) when it is unsupported. */
extern bool vec_use_simd_level(SimdLevel level);

/* Parse "scalar"/"neon"/"avx2"/"avx512"; -1 when unknown. */
extern int	vec_simd_level_from_name(const char *name);
extern const char *vec_simd_level_name(SimdLevel level);

/* Cosine distance from the parts, clamped to [0, 2]; NaN for a zero vector. */
extern double vec_cosine_from_parts(double dot, double norm_a, double norm_b);

/*
 * The per-level tables, each defined by the vec_kernels_<level>.c file that
 * the target architecture can build.  Callers other than the dispatcher
 * should go through vec_kernels_for_level(), which also asks the CPU.
 */
extern const VecKernels vec_kernels_scalar_table;
#if defined(__x86_64__) || defined(_M_X64)
extern const VecKernels vec_kernels_avx2_table;
extern const VecKernels vec_kernels_avx512_table;
#endif
#if defined(__aarch64__)
extern const VecKernels vec_kernels_neon_table;
#endif

#endif							/* MS_VEC_KERNELS_H */
