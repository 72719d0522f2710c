/*
 * test_kernels.c
 *		Unit tests for the distance kernels and their dispatch
 *		(src/core/vec_kernels*.c).
 *
 * Every level the CPU supports is compared with a double-precision
 * reference on random vectors of many lengths and alignments.  The bytes
 * around each vector are NaN, so a kernel that reads one element too many
 * or too few (and uses it) comes out NaN or visibly off; a second pass puts
 * vectors against PROT_NONE pages to prove the tails never touch memory
 * outside the vector at all.  The distances of vec_distance.h (kernel plus
 * double fallback) are checked at the extremes of the float32 range, where
 * the kernels' float sums overflow or underflow.
 */
#define _DEFAULT_SOURCE			/* mmap's MAP_ANONYMOUS under -std=c99 */

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif
#if defined(MAP_ANONYMOUS)
#define HAVE_GUARD_PAGES 1
#endif
#endif

#include "unit.h"
#include "vec_distance.h"
#include "vec_kernels.h"

#define MAX_LEN		16000
#define MAX_OFFSET	15
/* room for the offset, the vector and a poisoned stretch after it */
#define BUF_LEN		(MAX_OFFSET + MAX_LEN + 64)

enum
{
	K_L2,
	K_IP,
	K_L1,
	K_DOT,						/* the three outputs of cosine_parts */
	K_NORM_A,
	K_NORM_B,
	K_NORM,						/* norm_squared */
	K_COUNT
};

static const char *const kernel_names[K_COUNT] = {
	"l2_squared", "inner_product", "l1",
	"cosine.dot", "cosine.norm_a", "cosine.norm_b", "norm_squared"
};

/* worst |got - ref| / sum|terms| seen, per level and kernel */
static double worst_error[SIMD_NUM_LEVELS][K_COUNT];

/* splitmix64: fixed seed, same vectors on every run and platform */
static uint64_t rng_state = 0x6d736f7570ULL;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static float
rng_float(void)
{
	return (float) ((double) (rng_next() >> 40) / (double) (1 << 23) - 1.0);
}

static float *
aligned_buffer(size_t nfloats, float **to_free)
{
	char	   *raw = malloc(nfloats * sizeof(float) + 64);

	if (raw == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	*to_free = (float *) raw;
	return (float *) (raw + (64 - (uintptr_t) raw % 64));
}

/* NaN everywhere, then n random values starting at offset */
static float *
place_vector(float *buf, int offset, int n)
{
	float		nan = nanf("");

	for (int i = 0; i < offset + n + 32; i++)
		buf[i] = nan;
	for (int i = 0; i < n; i++)
		buf[offset + i] = rng_float();
	return buf + offset;
}

typedef struct Reference
{
	double		value[K_COUNT];
	double		abs_terms[K_COUNT];
} Reference;

static void
reference(const float *a, const float *b, int n, Reference *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < n; i++)
	{
		double		x = a[i];
		double		y = b[i];
		double		t[K_COUNT];

		t[K_L2] = (x - y) * (x - y);
		t[K_IP] = x * y;
		t[K_L1] = fabs(x - y);
		t[K_DOT] = x * y;
		t[K_NORM_A] = x * x;
		t[K_NORM_B] = y * y;
		t[K_NORM] = x * x;
		for (int k = 0; k < K_COUNT; k++)
		{
			r->value[k] += t[k];
			r->abs_terms[k] += fabs(t[k]);
		}
	}
}

static void
run_kernels(const VecKernels *vk, const float *a, const float *b, int n,
			double *got)
{
	float		dot,
				na,
				nb;

	got[K_L2] = vk->l2_squared(a, b, n);
	got[K_IP] = vk->inner_product(a, b, n);
	got[K_L1] = vk->l1(a, b, n);
	vk->cosine_parts(a, b, n, &dot, &na, &nb);
	got[K_DOT] = dot;
	got[K_NORM_A] = na;
	got[K_NORM_B] = nb;
	got[K_NORM] = vk->norm_squared(a, n);
}

/*
 * Float sums of n terms carry an error that grows with n; scaling the bound
 * by sum|terms| keeps it meaningful when terms cancel (inner products), and
 * 1e-5 is still tight enough that dropping or doubling one element of even
 * a 16000-long vector shows.
 */
static bool
close_enough(double got, double ref, double abs_terms)
{
	return fabs(got - ref) <= 1e-5 * abs_terms + 1e-6;
}

static void
compare_one(const VecKernels *vk, const float *a, const float *b, int n,
			int off_a, int off_b)
{
	Reference	ref;
	double		got[K_COUNT];

	reference(a, b, n, &ref);
	run_kernels(vk, a, b, n, got);
	for (int k = 0; k < K_COUNT; k++)
	{
		double		err = fabs(got[k] - ref.value[k]);

		CHECK(close_enough(got[k], ref.value[k], ref.abs_terms[k]),
			  "%s %s n=%d offsets %d/%d: got %.9g, want %.9g (sum|terms| %.6g)",
			  vk->name, kernel_names[k], n, off_a, off_b,
			  got[k], ref.value[k], ref.abs_terms[k]);
		if (ref.abs_terms[k] > 0 && !(err / ref.abs_terms[k] <= worst_error[vk->level][k]))
			worst_error[vk->level][k] = err / ref.abs_terms[k];
	}
}

static int
test_lengths(int *lengths)
{
	static const int fixed[] = {
		301, 317, 383, 500, 511, 512, 513, 767, 768, 769, 1000, 1023, 1024,
		1025, 1535, 1536, 1537, 2047, 2048, 2049, 3071, 3072, 3073, 4095,
		4096, 4097, 6143, 6144, 6145, 8191, 8192, 8193, 9999, 12287, 12288,
		12289, 15985, 15999, 16000
	};
	int			count = 0;

	for (int n = 1; n <= 300; n++)
		lengths[count++] = n;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		lengths[count++] = fixed[i];
	/* and some with no structure at all */
	for (int i = 0; i < 40; i++)
		lengths[count++] = 301 + (int) (rng_next() % (MAX_LEN - 301));
	return count;
}

static void
test_accuracy(const VecKernels *vk, float *buf_a, float *buf_b)
{
	int			lengths[400];
	int			nlengths;
	uint64_t	saved_rng = rng_state;

	/* same vectors for every level */
	rng_state = 0x5eed;
	nlengths = test_lengths(lengths);
	for (int li = 0; li < nlengths; li++)
	{
		int			n = lengths[li];

		/* every start offset of a, paired with a different one of b */
		for (int off_a = 0; off_a <= MAX_OFFSET; off_a++)
		{
			int			off_b = (off_a * 7 + 3) % (MAX_OFFSET + 1);
			float	   *a = place_vector(buf_a, off_a, n);
			float	   *b = place_vector(buf_b, off_b, n);

			compare_one(vk, a, b, n, off_a, off_b);
		}
	}
	rng_state = saved_rng;
}

static void
test_empty(const VecKernels *vk)
{
	float		x[1] = {1.0f};
	double		got[K_COUNT];

	run_kernels(vk, x, x, 0, got);
	for (int k = 0; k < K_COUNT; k++)
		CHECK(got[k] == 0.0, "%s %s of 0 elements is %g, want 0",
			  vk->name, kernel_names[k], got[k]);
}

static void
test_cosine_identities(const VecKernels *vk, float *buf_a, float *buf_b)
{
	static const int ns[] = {1, 3, 7, 8, 15, 16, 17, 33, 100, 128, 1536, 16000};

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
	{
		int			n = ns[i];
		float	   *a = place_vector(buf_a, 1, n);
		float	   *b = place_vector(buf_b, 2, n);
		float		dot,
					na,
					nb;
		double		d;

		/* identical: dot and both norms are the same float sum, exactly */
		for (int j = 0; j < n; j++)
			b[j] = a[j];
		vk->cosine_parts(a, b, n, &dot, &na, &nb);
		d = vec_cosine_from_parts(dot, na, nb);
		CHECK(d == 0.0, "%s cosine of identical n=%d is %.17g, want 0", vk->name, n, d);

		for (int j = 0; j < n; j++)
			b[j] = -a[j];
		vk->cosine_parts(a, b, n, &dot, &na, &nb);
		d = vec_cosine_from_parts(dot, na, nb);
		CHECK(d == 2.0, "%s cosine of opposite n=%d is %.17g, want 2", vk->name, n, d);

		for (int j = 0; j < n; j++)
			b[j] = 0.0f;
		vk->cosine_parts(a, b, n, &dot, &na, &nb);
		d = vec_cosine_from_parts(dot, na, nb);
		CHECK(isnan(d), "%s cosine against zero n=%d is %g, want NaN", vk->name, n, d);
		vk->cosine_parts(b, a, n, &dot, &na, &nb);
		d = vec_cosine_from_parts(dot, na, nb);
		CHECK(isnan(d), "%s cosine of zero n=%d is %g, want NaN", vk->name, n, d);
	}
}

#ifdef HAVE_GUARD_PAGES

static sigjmp_buf fault_jump;

static void
on_fault(int signo)
{
	(void) signo;
	siglongjmp(fault_jump, 1);
}

/* run every kernel; false if any of them faulted */
static bool
run_guarded(const VecKernels *vk, const float *a, const float *b, int n,
			double *got)
{
	if (sigsetjmp(fault_jump, 1) != 0)
		return false;
	run_kernels(vk, a, b, n, got);
	return true;
}

/*
 * Put vectors flush against inaccessible pages, on both sides: the tails
 * must be read with loads that cannot fault, and nothing before the start
 * may be touched.
 */
static void
test_guard_pages(const VecKernels *vk)
{
	long		page = sysconf(_SC_PAGESIZE);
	size_t		len = 4 * (size_t) page;
	char	   *map;
	float	   *lo;
	float	   *hi;
	struct sigaction sa,
				old_segv,
				old_bus;

	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(map != MAP_FAILED, "mmap for guard pages"))
		return;
	/* [guard][data][data][guard] */
	CHECK(mprotect(map, page, PROT_NONE) == 0, "mprotect low guard");
	CHECK(mprotect(map + 3 * page, page, PROT_NONE) == 0, "mprotect high guard");
	lo = (float *) (map + page);
	hi = (float *) (map + 3 * page);
	for (long i = 0; i < 2 * page / (long) sizeof(float); i++)
		lo[i] = rng_float();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);

	for (int n = 1; n <= 100; n++)
	{
		double		got[K_COUNT];

		/* ends on the last float before the high guard */
		CHECK(run_guarded(vk, hi - n, hi - n, n, got),
			  "%s faulted reading %d floats that end at a guard page", vk->name, n);
		/* starts on the first float after the low guard */
		CHECK(run_guarded(vk, lo, lo, n, got),
			  "%s faulted reading %d floats that start after a guard page", vk->name, n);
	}

	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	munmap(map, len);
}

#endif							/* HAVE_GUARD_PAGES */

static void
test_dispatch(void)
{
	const VecKernels *before;
	SimdLevel	best;

	/* usable, and scalar, before anyone has called vec_kernels_init() */
	CHECK(vec_kernels != NULL && vec_kernels->level == SIMD_SCALAR,
		  "vec_kernels is the scalar table before init");

	vec_kernels_init();
	best = vec_best_simd_level();
	CHECK(vec_kernels != NULL && vec_kernels->level == best,
		  "init installs the best level %s", vec_simd_level_name(best));
	vec_kernels_init();
	CHECK(vec_kernels->level == best, "init is idempotent");
	CHECK(vec_kernels_for_level(best) != NULL, "best level is supported");
	CHECK(vec_kernels_for_level(SIMD_SCALAR) == &vec_kernels_scalar_table,
		  "scalar is always supported");
	printf("best SIMD level here: %s\n", vec_simd_level_name(best));

	for (int l = 0; l < SIMD_NUM_LEVELS; l++)
	{
		const VecKernels *vk = vec_kernels_for_level((SimdLevel) l);

		before = vec_kernels;
		if (vk == NULL)
		{
			CHECK(!vec_use_simd_level((SimdLevel) l),
				  "unsupported %s is refused", vec_simd_level_name((SimdLevel) l));
			CHECK(vec_kernels == before, "refusing %s changes nothing",
				  vec_simd_level_name((SimdLevel) l));
			CHECK(l != (int) best, "best level %s is not unsupported",
				  vec_simd_level_name(best));
			continue;
		}
		CHECK(vk->level == (SimdLevel) l, "table of %d says level %d", l, (int) vk->level);
		CHECK(strcmp(vk->name, vec_simd_level_name((SimdLevel) l)) == 0,
			  "table name %s matches level name", vk->name);
		CHECK(vk->l2_squared && vk->inner_product && vk->l1 &&
			  vk->cosine_parts && vk->norm_squared,
			  "%s table has every kernel", vk->name);
		CHECK(l <= (int) best, "%s is supported but above the best level", vk->name);
		CHECK(vec_use_simd_level((SimdLevel) l) && vec_kernels == vk,
			  "%s can be installed", vk->name);
	}

	/* the other architecture's levels are never offered */
#if defined(__x86_64__) || defined(_M_X64)
	CHECK(vec_kernels_for_level(SIMD_NEON) == NULL, "no NEON on x86-64");
#endif
#if defined(__aarch64__)
	CHECK(vec_kernels_for_level(SIMD_AVX2) == NULL, "no AVX2 on aarch64");
	CHECK(vec_kernels_for_level(SIMD_AVX512) == NULL, "no AVX-512 on aarch64");
#endif

	/* out of range */
	before = vec_kernels;
	CHECK(vec_kernels_for_level((SimdLevel) -1) == NULL, "level -1 has no table");
	CHECK(vec_kernels_for_level(SIMD_NUM_LEVELS) == NULL, "SIMD_NUM_LEVELS has no table");
	CHECK(!vec_use_simd_level((SimdLevel) -1), "level -1 refused");
	CHECK(!vec_use_simd_level(SIMD_NUM_LEVELS), "SIMD_NUM_LEVELS refused");
	CHECK(vec_kernels == before, "refusals leave the table alone");

	CHECK(vec_use_simd_level(best), "back to the best level");
}

static void
test_names(void)
{
	static const char *const bad[] = {"", "avx", "avx2 ", " avx2", "avx5120", "sse", "scalarx"};

	for (int l = 0; l < SIMD_NUM_LEVELS; l++)
	{
		const char *name = vec_simd_level_name((SimdLevel) l);

		CHECK(name != NULL && vec_simd_level_from_name(name) == l,
			  "level %d round-trips through its name", l);
	}
	CHECK(strcmp(vec_simd_level_name(SIMD_SCALAR), "scalar") == 0, "scalar name");
	CHECK(strcmp(vec_simd_level_name(SIMD_NEON), "neon") == 0, "neon name");
	CHECK(strcmp(vec_simd_level_name(SIMD_AVX2), "avx2") == 0, "avx2 name");
	CHECK(strcmp(vec_simd_level_name(SIMD_AVX512), "avx512") == 0, "avx512 name");
	CHECK(vec_simd_level_from_name("AVX512") == SIMD_AVX512, "names are case-insensitive");
	CHECK(vec_simd_level_from_name("Scalar") == SIMD_SCALAR, "names are case-insensitive");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(vec_simd_level_from_name(bad[i]) == -1, "\"%s\" is not a level", bad[i]);
	CHECK(vec_simd_level_from_name(NULL) == -1, "NULL is not a level");
	CHECK(vec_simd_level_name(SIMD_NUM_LEVELS) != NULL, "out-of-range level has a name");
}

static void
test_cosine_from_parts(void)
{
	CHECK(isnan(vec_cosine_from_parts(0, 0, 1)), "zero a gives NaN");
	CHECK(isnan(vec_cosine_from_parts(0, 1, 0)), "zero b gives NaN");
	CHECK(isnan(vec_cosine_from_parts(0, 0, 0)), "both zero gives NaN");
	CHECK(isnan(vec_cosine_from_parts(1, -1, 1)), "negative norm gives NaN");
	CHECK(isnan(vec_cosine_from_parts(1, NAN, 1)), "NaN norm gives NaN");
	CHECK(isnan(vec_cosine_from_parts(NAN, 1, 1)), "NaN dot gives NaN, not a clamp");
	CHECK(vec_cosine_from_parts(4, 4, 4) == 0.0, "identical gives 0");
	CHECK(vec_cosine_from_parts(-4, 4, 4) == 2.0, "opposite gives 2");
	CHECK(vec_cosine_from_parts(0, 2, 3) == 1.0, "orthogonal gives 1");
	CHECK(fabs(vec_cosine_from_parts(3, 4, 9) - 0.5) < 1e-15, "cos 0.5 gives 0.5");
	CHECK(vec_cosine_from_parts(1.0000001, 1, 1) == 0.0, "rounding above 1 clamps to 0");
	CHECK(vec_cosine_from_parts(-1.0000001, 1, 1) == 2.0, "rounding below -1 clamps to 2");
	/* parts of float vectors near the float range limits */
	CHECK(fabs(vec_cosine_from_parts(3e38, 3e38, 3e38)) < 1e-12, "huge parts");
	CHECK(fabs(vec_cosine_from_parts(1e-44, 1e-44, 1e-44)) < 1e-12, "denormal parts");
}

/*
 * The distances the operators report (vec_distance.h), with the kernels of
 * the installed level, on vectors of magnitudes 0.5 to 1.5 times a scale
 * where float32 squares or products overflow (1e19 and up) or underflow
 * (1e-38): each must be finite and within float rounding of a long double
 * reference, never Inf, NaN or 0 for a non-zero answer.
 */
static void
test_distance_extremes(const VecKernels *vk)
{
	static const double scales[] = {1e19, 1e20, 1e38, 1e-30, 1e-38};
	static const int lengths[] = {1, 2, 7, 32, 100, 1536, 16000};
	float	   *a = malloc(sizeof(float) * 16000);
	float	   *b = malloc(sizeof(float) * 16000);

	if (a == NULL || b == NULL)
		exit(2);
	for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++)
	{
		for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++)
		{
			int			n = lengths[li];
			long double l2 = 0,
						ip = 0,
						ip_abs = 0,
						l1 = 0,
						na = 0,
						nb = 0;
			double		got,
						cos_ref;

			for (int i = 0; i < n; i++)
			{
				float		x = rng_float();
				float		y = rng_float();

				a[i] = (float) (scales[si] * (1.0 + 0.5 * x) * (x < 0 ? -1 : 1));
				b[i] = (float) (scales[si] * (1.0 + 0.5 * y) * (rng_float() < 0 ? -1 : 1));
				l2 += ((long double) a[i] - b[i]) * ((long double) a[i] - b[i]);
				ip += (long double) a[i] * b[i];
				ip_abs += fabsl((long double) a[i] * b[i]);
				l1 += fabsl((long double) a[i] - b[i]);
				na += (long double) a[i] * a[i];
				nb += (long double) b[i] * b[i];
			}
			cos_ref = (double) (1 - ip / sqrtl(na * nb));

			got = vec_distance_l2_squared(a, b, n);
			CHECK(isfinite(got) && got > 0 && fabsl(got - l2) <= 1e-6L * l2,
				  "%s l2 scale %g n %d: %g, want %Lg", vk->name, scales[si], n, got, l2);
			got = vec_distance_inner_product(a, b, n);
			CHECK(isfinite(got) && fabsl(got - ip) <= 1e-6L * ip_abs,
				  "%s ip scale %g n %d: %g, want %Lg", vk->name, scales[si], n, got, ip);
			got = vec_distance_l1(a, b, n);
			CHECK(isfinite(got) && got > 0 && fabsl(got - l1) <= 1e-6L * l1,
				  "%s l1 scale %g n %d: %g, want %Lg", vk->name, scales[si], n, got, l1);
			got = vec_distance_norm_squared(a, n);
			CHECK(isfinite(got) && got > 0 && fabsl(got - na) <= 1e-6L * na,
				  "%s norm scale %g n %d: %g, want %Lg", vk->name, scales[si], n, got, na);
			got = vec_distance_cosine(a, b, n);
			CHECK(isfinite(got) && fabs(got - cos_ref) <= 1e-6,
				  "%s cosine scale %g n %d: %g, want %g", vk->name, scales[si], n, got, cos_ref);
			got = vec_distance_cosine(a, a, n);
			CHECK(got == 0.0, "%s cosine of a vector with itself, scale %g n %d: %g",
				  vk->name, scales[si], n, got);
			got = vec_distance_l2_squared(a, a, n);
			CHECK(got == 0.0, "%s l2 of a vector with itself, scale %g n %d: %g",
				  vk->name, scales[si], n, got);
		}
	}

	/* the smallest non-zero distances: denormal components */
	a[0] = 1e-38f;
	a[1] = 0;
	b[0] = 0;
	b[1] = 1e-38f;
	CHECK(fabs(vec_distance_l2_squared(a, b, 2) / 2e-76 - 1) < 1e-6, "%s l2 of 1e-38 axes",
		  vk->name);
	CHECK(fabs(vec_distance_cosine(a, b, 2) - 1) < 1e-12, "%s cosine of 1e-38 axes", vk->name);
	CHECK(vec_distance_cosine(a, a, 2) == 0.0, "%s cosine of [1e-38,0] with itself", vk->name);
	a[0] = 1e-45f;
	b[0] = 3e-45f;			/* 2 x 1.4e-45, the smallest denormal */
	b[1] = 0;
	CHECK(vec_distance_l2_squared(a, b, 2) > 0, "%s l2 of denormals differing", vk->name);
	CHECK(vec_distance_cosine(a, b, 2) == 0.0, "%s cosine of parallel denormals", vk->name);
	/* issue 16: norms of 1e-60 underflow float32 to 0; the direction stays */
	a[0] = 1e-30f;
	b[0] = 1e-30f;
	CHECK(vec_distance_cosine(a, b, 1) == 0.0, "%s cosine [1e-30] [1e-30]: %g", vk->name,
		  vec_distance_cosine(a, b, 1));
	b[0] = -1e-30f;
	CHECK(vec_distance_cosine(a, b, 1) == 2.0, "%s cosine [1e-30] [-1e-30]", vk->name);
	b[0] = 5.0f;
	CHECK(vec_distance_cosine(a, b, 1) == 0.0, "%s cosine [1e-30] [5]", vk->name);
	CHECK(fabs(sqrt(vec_distance_norm_squared(a, 1)) / 1e-30 - 1) < 1e-6, "%s norm of [1e-30]",
		  vk->name);
	free(a);
	free(b);
}

static void
report_accuracy(SimdLevel level)
{
	printf("  worst |err|/sum|terms| %-6s:", vec_simd_level_name(level));
	for (int k = 0; k < K_COUNT; k++)
		printf(" %s %.1e", kernel_names[k], worst_error[level][k]);
	printf("\n");
}

int
main(void)
{
	float	   *free_a;
	float	   *free_b;
	float	   *buf_a = aligned_buffer(BUF_LEN, &free_a);
	float	   *buf_b = aligned_buffer(BUF_LEN, &free_b);

	test_dispatch();
	test_names();
	test_cosine_from_parts();

	for (int l = 0; l < SIMD_NUM_LEVELS; l++)
	{
		const VecKernels *vk = vec_kernels_for_level((SimdLevel) l);

		if (vk == NULL)
		{
			printf("level %-6s: skipped, not supported by this CPU or build\n",
				   vec_simd_level_name((SimdLevel) l));
			continue;
		}
		printf("level %-6s: testing\n", vk->name);
		test_empty(vk);
		test_accuracy(vk, buf_a, buf_b);
		test_cosine_identities(vk, buf_a, buf_b);
		CHECK(vec_use_simd_level((SimdLevel) l), "level %s installs", vk->name);
		test_distance_extremes(vk);
#ifdef HAVE_GUARD_PAGES
		test_guard_pages(vk);
#endif
		report_accuracy(vk->level);
	}

	vec_use_simd_level(vec_best_simd_level());
	free(free_a);
	free(free_b);
	return unit_finish("kernels");
}
