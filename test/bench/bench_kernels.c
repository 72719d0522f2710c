/*
 * bench_kernels.c
 *		Throughput of the distance kernels at every SIMD level this CPU has.
 *
 * One query is compared against many stored vectors, the way a sequential
 * scan uses the kernels: once against a small set that stays in L1 (what
 * the arithmetic can do), once streaming through a buffer far larger than
 * the last-level cache (what a scan of a big table can do).  The streaming
 * rows are put next to the machine's single-core read bandwidth, measured
 * in the same run on the same buffer, because that, not the FMA units, is
 * the ceiling a scan can hope to reach.
 *
 * A third layout, "heap", is what a sequential scan of a 1536-d vec column
 * really reads: one 6 KiB vector per 8 KiB page, at the page's tail where
 * a heap tuple sits.  It is the same buffer read with a page stride, so
 * the hardware prefetchers lose the stream at every page; its times are a
 * floor under any SQL scan of such a table, executor or not.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vec_kernels.h"

#define BIG_BYTES		((size_t) 512 << 20)	/* well beyond any L3 here */
#define SMALL_BYTES		((size_t) 24 << 10) /* with the query, inside 32K L1d */
#define CACHE_REPS		7
#define STREAM_REPS		5
#define CACHE_REP_NS	20e6		/* aim for ~20 ms per in-cache repetition */
#define ANCHOR_REPS		9
#define ANCHOR_CHUNK	(1 << 18)	/* floats per norm_squared call: 1 MiB */
#define HEAP_PAGE_FLOATS 2048		/* BLCKSZ / sizeof(float) */

typedef enum
{
	B_L2,
	B_IP,
	B_COS,
	B_L1,
	B_COUNT
} BenchKernel;

static const char *const kernel_names[B_COUNT] = {
	"l2_squared", "inner_product", "cosine_parts", "l1"
};

/* floating-point operations per element; an FMA counts as 2 */
static const double flops_per_element[B_COUNT] = {3, 2, 6, 3};

static const int dims[] = {128, 1536};

/* results are summed here so no call can be dropped as unused */
static volatile double sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* xorshift64: the values only need to be non-trivial, not good */
static void
fill_random(float *v, size_t n)
{
	uint64_t	s = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < n; i++)
	{
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v[i] = (float) ((double) (s >> 40) / (double) (1 << 23) - 1.0);
	}
}

static float *
alloc_floats(size_t n, void **to_free)
{
	char	   *raw = malloc(n * sizeof(float) + 64);

	if (raw == NULL)
	{
		fprintf(stderr, "bench_kernels: cannot allocate %zu bytes\n", n * sizeof(float));
		exit(1);
	}
	*to_free = raw;
	return (float *) (raw + (64 - (uintptr_t) raw % 64));
}

/*
 * Compare q against nvec vectors of dim floats, stride floats apart.  One
 * loop per kernel so the only indirection is the call through the table,
 * as in a real scan.
 */
static void
scan(const VecKernels *vk, BenchKernel kernel, const float *q,
	 const float *base, size_t nvec, int dim, size_t stride)
{
	double		acc = 0;
	float		dot,
				na,
				nb;

	switch (kernel)
	{
		case B_L2:
			for (size_t v = 0; v < nvec; v++)
				acc += vk->l2_squared(q, base + v * stride, dim);
			break;
		case B_IP:
			for (size_t v = 0; v < nvec; v++)
				acc += vk->inner_product(q, base + v * stride, dim);
			break;
		case B_COS:
			for (size_t v = 0; v < nvec; v++)
			{
				vk->cosine_parts(q, base + v * stride, dim, &dot, &na, &nb);
				acc += dot + nb;
			}
			break;
		case B_L1:
			for (size_t v = 0; v < nvec; v++)
				acc += vk->l1(q, base + v * stride, dim);
			break;
		case B_COUNT:
			break;
	}
	sink += acc;
}

/* median ns per vector over a small set read again and again */
static double
time_in_cache(const VecKernels *vk, BenchKernel kernel, const float *q,
			  const float *set, size_t nvec, int dim)
{
	double		samples[CACHE_REPS];
	long		iters = 1;
	double		t;

	/* find a repeat count that makes one repetition long enough to time */
	for (;;)
	{
		t = now_ns();
		for (long it = 0; it < iters; it++)
			scan(vk, kernel, q, set, nvec, dim, dim);
		t = now_ns() - t;
		if (t >= CACHE_REP_NS / 4)
			break;
		iters *= 2;
	}
	iters = (long) (iters * CACHE_REP_NS / t) + 1;

	for (int r = 0; r < CACHE_REPS; r++)
	{
		t = now_ns();
		for (long it = 0; it < iters; it++)
			scan(vk, kernel, q, set, nvec, dim, dim);
		samples[r] = (now_ns() - t) / ((double) iters * nvec);
	}
	return median(samples, CACHE_REPS);
}

/* median ns per vector over one pass through the big buffer */
static double
time_stream(const VecKernels *vk, BenchKernel kernel, const float *q,
			const float *big, size_t nvec, int dim, size_t stride)
{
	double		samples[STREAM_REPS];
	double		t;

	/* one untimed pass lets the clock and the prefetchers settle */
	scan(vk, kernel, q, big, nvec, dim, stride);
	for (int r = 0; r < STREAM_REPS; r++)
	{
		t = now_ns();
		scan(vk, kernel, q, big, nvec, dim, stride);
		samples[r] = (now_ns() - t) / nvec;
	}
	return median(samples, STREAM_REPS);
}

/*
 * Single-core read bandwidth at one level: sum of squares over the whole
 * buffer, so the anchor uses the same loads as the kernels and copies
 * nothing.  Returns GB/s (1 GB = 1e9 bytes).
 *
 * The best pass, not the median, as STREAM does: this is a ceiling, and on
 * a shared machine the slow passes measure the neighbours, not the memory.
 */
static double
read_bandwidth(const VecKernels *vk, const float *big, size_t nfloats)
{
	double		best = 0;

	for (int r = -1; r < ANCHOR_REPS; r++)
	{
		double		acc = 0;
		double		t = now_ns();

		for (size_t i = 0; i < nfloats; i += ANCHOR_CHUNK)
		{
			size_t		n = nfloats - i < ANCHOR_CHUNK ? nfloats - i : ANCHOR_CHUNK;

			acc += vk->norm_squared(big + i, (int) n);
		}
		t = now_ns() - t;
		sink += acc;
		/* the first pass is a warm-up */
		if (r >= 0 && nfloats * sizeof(float) / t > best)
			best = nfloats * sizeof(float) / t;
	}
	return best;
}

/* size of the cache at a level, as sysfs reports it ("32768K"), or NULL */
static const char *
cache_size(int level, char *buf, size_t len)
{
	for (int idx = 0; idx < 8; idx++)
	{
		char		path[96];
		FILE	   *f;
		int			lv = 0;
		char		type[32] = "";

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
		if ((f = fopen(path, "r")) == NULL)
			return NULL;
		if (fscanf(f, "%d", &lv) != 1)
			lv = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
		if ((f = fopen(path, "r")) != NULL)
		{
			if (fscanf(f, "%31s", type) != 1)
				type[0] = '\0';
			fclose(f);
		}
		if (lv != level || strcmp(type, "Instruction") == 0)
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
		if ((f = fopen(path, "r")) == NULL)
			return NULL;
		if (fscanf(f, "%31s", buf) != 1 || len < 32)
			buf[0] = '\0';
		fclose(f);
		return buf[0] ? buf : NULL;
	}
	return NULL;
}

static void
print_row(const char *level, BenchKernel kernel, int dim, const char *where,
		  double ns_per_vec, double bandwidth)
{
	double		gflops = flops_per_element[kernel] * dim / ns_per_vec;
	double		gbs = (double) dim * sizeof(float) / ns_per_vec;

	printf("%-7s %-13s %5d  %-8s %10.2f %9.2f %8.2f", level,
		   kernel_names[kernel], dim, where, ns_per_vec, gflops, gbs);
	if (bandwidth > 0)
		printf(" %7.2f\n", gbs / bandwidth);
	else
		printf(" %7s\n", "-");
}

static int
kernel_by_name(const char *name)
{
	for (int kernel = 0; kernel < B_COUNT; kernel++)
		if (strcmp(kernel_names[kernel], name) == 0)
			return kernel;
	return -1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_kernels [--ns-per-vector KERNEL DIM | --heap-ns-per-vector KERNEL DIM LEVEL]\n"
			"  KERNEL: l2_squared, inner_product, cosine_parts or l1\n");
	return 2;
}

/*
 * "--ns-per-vector KERNEL DIM": print only the in-cache ns per vector of one
 * kernel at the best level, for scripts that set SQL timings beside it.
 */
static int
ns_per_vector_mode(const char *name, int dim)
{
	int			kernel = kernel_by_name(name);
	void	   *free_small;
	void	   *free_q;
	size_t		nvec;
	float	   *small;
	float	   *q;

	if (kernel < 0 || dim < 1 || dim > 16000)
		return usage();
	vec_kernels_init();
	nvec = SMALL_BYTES / sizeof(float) / dim;
	if (nvec < 1)
		nvec = 1;
	small = alloc_floats(nvec * dim, &free_small);
	q = alloc_floats(dim, &free_q);
	fill_random(small, nvec * dim);
	fill_random(q, dim);
	printf("%.1f\n", time_in_cache(vec_kernels, (BenchKernel) kernel, q, small, nvec, dim));
	free(free_small);
	free(free_q);
	return 0;
}

/*
 * "--heap-ns-per-vector KERNEL DIM LEVEL": print only the ns per vector of
 * one kernel at one level over the heap layout (one vector per 8 KiB page,
 * out of cache), the floor under a SQL scan that scripts print beside it.
 */
static int
heap_ns_per_vector_mode(const char *name, int dim, const char *level_name)
{
	int			kernel = kernel_by_name(name);
	int			level = vec_simd_level_from_name(level_name);
	const VecKernels *vk;
	size_t		big_floats = BIG_BYTES / sizeof(float);
	void	   *free_big;
	void	   *free_q;
	float	   *big;
	float	   *q;

	if (kernel < 0 || dim < 1 || dim > HEAP_PAGE_FLOATS || level < 0)
		return usage();
	vec_kernels_init();
	vk = vec_kernels_for_level((SimdLevel) level);
	if (vk == NULL)
	{
		fprintf(stderr, "bench_kernels: level %s is not supported here\n", level_name);
		return 1;
	}
	big = alloc_floats(big_floats, &free_big);
	q = alloc_floats(dim, &free_q);
	fill_random(big, big_floats);
	fill_random(q, dim);
	printf("%.1f\n", time_stream(vk, (BenchKernel) kernel, q,
								 big + HEAP_PAGE_FLOATS - dim,
								 big_floats / HEAP_PAGE_FLOATS - 1, dim,
								 HEAP_PAGE_FLOATS));
	free(free_big);
	free(free_q);
	return 0;
}

int
main(int argc, char **argv)
{
	size_t		big_floats = BIG_BYTES / sizeof(float);
	void	   *free_big;
	void	   *free_small;
	void	   *free_q;
	float	   *big = alloc_floats(big_floats, &free_big);
	float	   *small = alloc_floats(SMALL_BYTES / sizeof(float), &free_small);
	float	   *q = alloc_floats(1536, &free_q);
	double		level_bandwidth[SIMD_NUM_LEVELS];
	double		bandwidth = 0;
	char		l1[32],
				l3[32];
	double		start = now_ns();

	if (argc == 4 && strcmp(argv[1], "--ns-per-vector") == 0)
		return ns_per_vector_mode(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "--heap-ns-per-vector") == 0)
		return heap_ns_per_vector_mode(argv[2], atoi(argv[3]), argv[4]);
	if (argc != 1)
		return usage();
	vec_kernels_init();

	/* writing it all also faults every page in before anything is timed */
	fill_random(big, big_floats);
	fill_random(small, SMALL_BYTES / sizeof(float));
	fill_random(q, 1536);

	/*
	 * The best level is not always the fastest reader: on the Zen 4 this
	 * was written on, long AVX-512 loops streamed about 10% slower than
	 * AVX2 ones.  A ceiling has to be the highest rate any level reaches,
	 * so measure them all.
	 */
	for (int level = 0; level < SIMD_NUM_LEVELS; level++)
	{
		const VecKernels *vk = vec_kernels_for_level((SimdLevel) level);

		level_bandwidth[level] = vk ? read_bandwidth(vk, big, big_floats) : 0;
		if (level_bandwidth[level] > bandwidth)
			bandwidth = level_bandwidth[level];
	}

	printf("MachineSoup distance kernels: one float32 query against many vectors\n");
	printf("  in-cache: %zu KiB of vectors read over and over (L1d %s)\n",
		   SMALL_BYTES >> 10, cache_size(1, l1, sizeof(l1)) ? l1 : "?");
	printf("  stream:   %zu MiB of vectors, one pass per repetition (L3 %s)\n",
		   BIG_BYTES >> 20, cache_size(3, l3, sizeof(l3)) ? l3 : "?");
	printf("  heap:     the same buffer, one vector at the tail of each 8 KiB page,\n"
		   "            as a sequential scan of a table of such vecs reads them\n");
	printf("  median of %d (in-cache) / %d (stream) repetitions; 1 GB = 1e9 bytes\n",
		   CACHE_REPS, STREAM_REPS);
	printf("  flops/element: l2_squared 3 (sub, mul, add), inner_product 2 (mul, add),\n"
		   "  cosine_parts 6 (3 x mul, add), l1 3 (sub, abs, add); an FMA counts as 2\n");
	printf("  GB/s = bytes of stored vectors read per second (the query stays in cache)\n");
	printf("  single-core read bandwidth, norm_squared streaming the same %zu MiB\n"
		   "  (best of %d passes):", BIG_BYTES >> 20, ANCHOR_REPS);
	for (int level = 0; level < SIMD_NUM_LEVELS; level++)
	{
		if (level_bandwidth[level] > 0)
			printf(" %s %.2f GB/s", vec_simd_level_name((SimdLevel) level),
				   level_bandwidth[level]);
	}
	printf("\n  of bw = stream GB/s / %.2f GB/s, the highest of those\n\n", bandwidth);

	printf("%-7s %-13s %5s  %-8s %10s %9s %8s %7s\n",
		   "level", "kernel", "dim", "data", "ns/vector", "GFLOP/s", "GB/s", "of bw");
	printf("%-7s %-13s %5s  %-8s %10s %9s %8s %7s\n",
		   "-------", "-------------", "-----", "--------", "----------",
		   "---------", "--------", "-------");

	for (int level = 0; level < SIMD_NUM_LEVELS; level++)
	{
		const VecKernels *vk = vec_kernels_for_level((SimdLevel) level);

		if (vk == NULL)
			continue;
		for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++)
		{
			int			dim = dims[di];
			size_t		small_vecs = SMALL_BYTES / sizeof(float) / dim;
			size_t		big_vecs = big_floats / dim;

			for (int k = 0; k < B_COUNT; k++)
			{
				double		ns;

				ns = time_in_cache(vk, (BenchKernel) k, q, small, small_vecs, dim);
				print_row(vk->name, (BenchKernel) k, dim, "in-cache", ns, 0);
				ns = time_stream(vk, (BenchKernel) k, q, big, big_vecs, dim, dim);
				print_row(vk->name, (BenchKernel) k, dim, "stream", ns, bandwidth);
				if (dim > HEAP_PAGE_FLOATS / 2)
				{
					ns = time_stream(vk, (BenchKernel) k, q, big + HEAP_PAGE_FLOATS - dim,
									 big_floats / HEAP_PAGE_FLOATS - 1, dim,
									 HEAP_PAGE_FLOATS);
					print_row(vk->name, (BenchKernel) k, dim, "heap", ns, bandwidth);
				}
				fflush(stdout);
			}
		}
	}
	for (int level = 0; level < SIMD_NUM_LEVELS; level++)
	{
		if (vec_kernels_for_level((SimdLevel) level) == NULL)
			printf("(%s: not supported on this CPU or build, skipped)\n",
				   vec_simd_level_name((SimdLevel) level));
	}
	printf("total time %.1f s\n", (now_ns() - start) / 1e9);

	free(free_big);
	free(free_small);
	free(free_q);
	return 0;
}
