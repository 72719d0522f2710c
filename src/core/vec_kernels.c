/*
 * vec_kernels.c
 *		Runtime choice of the distance kernels, plus the small helpers that
 *		sit on top of them.
 *
 * The kernels of every level the target architecture can build are linked
 * in; which of them may run is asked of the CPU, never assumed from the
 * compiler flags, so the same library works from the oldest x86-64 to
 * AVX-512 machines.
 */
#include <math.h>

#include "vec_kernels.h"

/*
 * Starts on the scalar table rather than NULL so that a caller that runs
 * before vec_kernels_init() (a unit test, a background worker loaded in an
 * odd order) gets correct, if slow, answers instead of a crash.
 */
const VecKernels *vec_kernels = &vec_kernels_scalar_table;

static bool vec_kernels_initialized = false;

static const char *const simd_level_names[SIMD_NUM_LEVELS] = {
	[SIMD_SCALAR] = "scalar",
	[SIMD_NEON] = "neon",
	[SIMD_AVX2] = "avx2",
	[SIMD_AVX512] = "avx512",
};

/* The table this build has for a level, whether or not the CPU can run it. */
static const VecKernels *
built_table(SimdLevel level)
{
	switch (level)
	{
		case SIMD_SCALAR:
			return &vec_kernels_scalar_table;
#if defined(__aarch64__)
		case SIMD_NEON:
			return &vec_kernels_neon_table;
#endif
#if defined(__x86_64__) || defined(_M_X64)
		case SIMD_AVX2:
			return &vec_kernels_avx2_table;
		case SIMD_AVX512:
			return &vec_kernels_avx512_table;
#endif
		default:
			return NULL;
	}
}

/* Can this CPU, with this OS, run the level's instructions? */
static bool
cpu_supports(SimdLevel level)
{
	switch (level)
	{
		case SIMD_SCALAR:
			return true;
#if defined(__aarch64__)
		case SIMD_NEON:
			/* Advanced SIMD is mandatory in AArch64 */
			return true;
#endif
#if defined(__x86_64__) || defined(_M_X64)

			/*
			 * The libgcc/compiler-rt feature bits also check, through XGETBV,
			 * that the OS saves the wide registers, so a CPU whose OS left
			 * AVX-512 state disabled is reported as lacking it.
			 */
		case SIMD_AVX2:
			__builtin_cpu_init();
			return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		case SIMD_AVX512:
			__builtin_cpu_init();
			return __builtin_cpu_supports("avx512f");
#endif
		default:
			return false;
	}
}

const VecKernels *
vec_kernels_for_level(SimdLevel level)
{
	const VecKernels *k;

	if ((int) level < 0 || level >= SIMD_NUM_LEVELS)
		return NULL;
	k = built_table(level);
	if (k == NULL || !cpu_supports(level))
		return NULL;
	return k;
}

SimdLevel
vec_best_simd_level(void)
{
	int			level;

	/* the enum is ordered from slowest to fastest within an architecture */
	for (level = SIMD_NUM_LEVELS - 1; level > SIMD_SCALAR; level--)
	{
		if (vec_kernels_for_level((SimdLevel) level) != NULL)
			return (SimdLevel) level;
	}
	return SIMD_SCALAR;
}

void
vec_kernels_init(void)
{
	/*
	 * Only the first call chooses: a later one must not undo a level that
	 * vec_use_simd_level() installed since (say, from a GUC).
	 */
	if (vec_kernels_initialized)
		return;
	vec_kernels = vec_kernels_for_level(vec_best_simd_level());
	vec_kernels_initialized = true;
}

bool
vec_use_simd_level(SimdLevel level)
{
	const VecKernels *k = vec_kernels_for_level(level);

	if (k == NULL)
		return false;
	vec_kernels = k;
	vec_kernels_initialized = true;
	return true;
}

const char *
vec_simd_level_name(SimdLevel level)
{
	if ((int) level < 0 || level >= SIMD_NUM_LEVELS)
		return "unknown";
	return simd_level_names[level];
}

/* ASCII-only, case-insensitive: GUC enum values are matched that way too. */
static bool
name_equal(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		char		ca = *a;
		char		cb = *b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

int
vec_simd_level_from_name(const char *name)
{
	int			level;

	if (name == NULL)
		return -1;
	for (level = 0; level < SIMD_NUM_LEVELS; level++)
	{
		if (name_equal(name, simd_level_names[level]))
			return level;
	}
	return -1;
}

double
vec_cosine_from_parts(double dot, double norm_a, double norm_b)
{
	double		d;

	/* written as negations so that a NaN norm also lands here */
	if (!(norm_a > 0.0) || !(norm_b > 0.0))
		return NAN;

	/*
	 * The parts come from float sums, so their product cannot overflow a
	 * double; and sqrt of the exact product keeps identical vectors at
	 * exactly 0 (dot == norm_a == norm_b gives dot / sqrt(dot * dot) == 1).
	 */
	d = 1.0 - dot / sqrt(norm_a * norm_b);

	/*
	 * Rounding can push |cos| slightly past 1.  Comparisons rather than
	 * fmin/fmax so that a NaN dot propagates instead of being clamped away.
	 */
	if (d < 0.0)
		d = 0.0;
	else if (d > 2.0)
		d = 2.0;
	return d;
}
