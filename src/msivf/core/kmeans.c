/*
 * kmeans.c
 *		k-means for the msivf index: k-means++ seeding on a subsample, Lloyd
 *		iterations over the whole sample, nearest-centroid assignment as
 *		blocked sgemm (|x|^2 - 2 x.c + |c|^2).
 */
#include "kmeans.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "vec_kernels.h"

/*
 * Rows per sgemm block are chosen so a block of distances stays this small
 * (unless the caller has less memory: see kmeans_default_block_floats).
 */
#define KMEANS_BLOCK_FLOATS (1 << 20)
/* k-means++ seeds from at most this many points per centroid. */
#define KMEANS_SEED_PER_CENTROID 8
#define KMEANS_SEED_MIN 4096

/* The next of a deterministic stream of 64-bit values from *state. */
static uint64_t
next_random(uint64_t *state)
{
	/* splitmix64: small, fast, good enough for sampling */
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1), from the 53 high bits of next_random. */
static double
random_unit(uint64_t *state)
{
	return (next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* see kmeans.h: a backend must not start OpenBLAS threads */
void
kmeans_single_thread_blas(void)
{
	openblas_set_num_threads(1);
}

/* squared norms of n rows, for the |x|^2 - 2 x.c + |c|^2 expansion */
void
kmeans_row_norms(const float *x, int64_t n, int d, float *norms)
{
	for (int64_t i = 0; i < n; i++)
	{
		const float *row = x + i * d;
		float		s = 0;

		for (int j = 0; j < d; j++)
			s += row[j] * row[j];
		norms[i] = s;
	}
}

/* see kmeans.h */
float
kmeans_common_scale(const float *x, int64_t n, int d, float *centroids, int k,
					const int32_t *assign)
{
	double		sum = 0;
	float		s;

	for (int64_t i = 0; i < n; i++)
	{
		const float *row = x + i * d;
		const float *c = centroids + (size_t) assign[i] * d;
		float		dot = 0;

		for (int j = 0; j < d; j++)
			dot += row[j] * c[j];
		sum += dot;
	}
	s = n > 0 ? (float) (sum / n) : 0;
	if (!(s > 0) || !isfinite(s))
		return 1.0f;
	for (size_t j = 0; j < (size_t) k * d; j++)
		centroids[j] *= s;
	return s;
}

/* see kmeans.h */
double
kmeans_mean(const float *x, int64_t n, int d, float *mean)
{
	double		norm2 = 0;

	/* row by row (float sums: the mean is a centre to cluster around, no more) */
	memset(mean, 0, sizeof(float) * d);
	for (int64_t i = 0; i < n; i++)
	{
		const float *row = x + i * d;

		for (int j = 0; j < d; j++)
			mean[j] += row[j];
	}
	for (int j = 0; j < d; j++)
	{
		mean[j] = n > 0 ? mean[j] / (float) n : 0;
		norm2 += (double) mean[j] * mean[j];
	}
	return sqrt(norm2);
}

/* see kmeans.h */
void
kmeans_project_out(float *x, int64_t n, int d, const float *u)
{
	for (int64_t i = 0; i < n; i++)
	{
		float	   *row = x + i * d;
		double		dot = 0;

		for (int j = 0; j < d; j++)
			dot += (double) row[j] * u[j];
		for (int j = 0; j < d; j++)
			row[j] -= (float) (dot * u[j]);
	}
}

/* How many points k-means++ seeds k centroids from, out of n. */
static int64_t
seed_sample_size(int64_t n, int k)
{
	int64_t		m = (int64_t) k * KMEANS_SEED_PER_CENTROID;

	if (m < KMEANS_SEED_MIN)
		m = KMEANS_SEED_MIN;
	return m < n ? m : n;
}

/*
 * see kmeans.h: a block of KMEANS_BLOCK_FLOATS, or of all n rows when they
 * take fewer, which runs the same sgemm calls (one of n rows) in less
 * memory.
 */
size_t
kmeans_default_block_floats(int64_t n, int k)
{
	size_t		all = (size_t) n * (size_t) k;

	if (all > KMEANS_BLOCK_FLOATS)
		all = KMEANS_BLOCK_FLOATS;
	return all < (size_t) k ? (size_t) k : all;
}

/* the scratch kmeans_train carves out of work, in its order */
size_t
kmeans_train_work_floats(int64_t n, int d, int k, size_t block_floats)
{
	return (size_t) n			/* point norms */
		+ (size_t) k			/* centroid norms */
		+ (size_t) k * d		/* sums */
		+ (size_t) k			/* counts */
		+ (size_t) seed_sample_size(n, k) * 2	/* seeding distances, indexes */
		+ block_floats + (size_t) k;	/* sgemm block */
}

/*
 * Nearest centroid of every point, block by block so that the distances of
 * a block (rows x k) fit work_floats; see kmeans.h.
 */
void
kmeans_assign(const float *x, int64_t n, int d,
			  const float *c, const float *c_norms, int k,
			  KmeansMetric metric, int32_t *assign, float *dist,
			  float *work, size_t work_floats)
{
	int64_t		block = (int64_t) (work_floats / (size_t) k);

	if (block < 1)
		block = 1;
	if (block > n)
		block = n;

	for (int64_t start = 0; start < n; start += block)
	{
		int64_t		rows = (n - start < block) ? n - start : block;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
					(int) rows, k, d, 1.0f, x + start * d, d, c, d,
					0.0f, work, k);
		for (int64_t i = 0; i < rows; i++)
		{
			const float *g = work + i * k;
			int			best = 0;
			float		best_val;

			if (metric == KMEANS_IP)
			{
				best_val = g[0];
				for (int j = 1; j < k; j++)
				{
					if (g[j] > best_val)
					{
						best_val = g[j];
						best = j;
					}
				}
			}
			else
			{
				/* |x|^2 is the same for every centroid: compare without it */
				best_val = c_norms[0] - 2.0f * g[0];
				for (int j = 1; j < k; j++)
				{
					float		v = c_norms[j] - 2.0f * g[j];

					if (v < best_val)
					{
						best_val = v;
						best = j;
					}
				}
				if (dist)
				{
					const float *row = x + (start + i) * d;
					float		xn = 0;

					for (int j = 0; j < d; j++)
						xn += row[j] * row[j];
					best_val += xn;
					if (best_val < 0)
						best_val = 0;	/* rounding */
				}
			}
			assign[start + i] = best;
			if (dist)
				dist[start + i] = best_val;
		}
	}
}

/*
 * A split around a centre that stays; see kmeans.h.  The new centre's mean
 * is summed in double: its points may be many and far from the origin.
 */
int64_t
kmeans_split_from_fixed(const float *x, int64_t n, int d, float *c,
						int iters, KmeansMetric metric, float new_norm,
						int32_t *assign, double *sum, float *work, size_t work_floats)
{
	float	   *moving = c + d;
	float		norms[2];
	int64_t		taken = 0;

	for (int it = 0;; it++)
	{
		double		len2 = 0;

		kmeans_row_norms(c, 2, d, norms);
		kmeans_assign(x, n, d, c, norms, 2, metric, assign, NULL, work, work_floats);
		taken = 0;
		for (int64_t i = 0; i < n; i++)
			taken += assign[i];
		if (it == iters || taken == 0)
			break;
		memset(sum, 0, sizeof(double) * (size_t) d);
		for (int64_t i = 0; i < n; i++)
			if (assign[i] == 1)
				for (int j = 0; j < d; j++)
					sum[j] += x[i * d + j];
		for (int j = 0; j < d; j++)
		{
			sum[j] /= (double) taken;
			len2 += sum[j] * sum[j];
		}
		if (new_norm > 0 && !(len2 > 0))
			break;				/* no direction to scale: keep the last centre */
		for (int j = 0; j < d; j++)
			moving[j] = (float) (new_norm > 0 ? sum[j] * new_norm / sqrt(len2) : sum[j]);
	}
	return taken;
}

/* Scales v to unit length; a zero vector stays zero. */
static void
normalize(float *v, int d)
{
	double		s = 0;

	for (int j = 0; j < d; j++)
		s += (double) v[j] * v[j];
	if (s > 0)
	{
		float		inv = (float) (1.0 / sqrt(s));

		for (int j = 0; j < d; j++)
			v[j] *= inv;
	}
}

/*
 * k-means++ on a random subsample of m points: spread-out initial
 * centroids.  Its m * k distances go through the SIMD kernel: as a plain
 * float loop (a chain of dependent additions the compiler may not
 * reorder) they were a fifth of a 1536-d index's build.
 */
static void
seed_centroids(const float *x, int64_t n, int d, int k, uint64_t *rng,
			   float *centroids, float *mind, float *idx_store)
{
	int64_t		m = seed_sample_size(n, k);
	int64_t    *idx = (int64_t *) idx_store;	/* 2 floats per int64 */
	int64_t		first;

	for (int64_t i = 0; i < m; i++)
		idx[i] = (m == n) ? i : (int64_t) (next_random(rng) % (uint64_t) n);

	first = idx[next_random(rng) % (uint64_t) m];
	memcpy(centroids, x + first * d, sizeof(float) * d);
	for (int64_t i = 0; i < m; i++)
		mind[i] = vec_kernels->l2_squared(x + idx[i] * d, centroids, d);

	for (int j = 1; j < k; j++)
	{
		double		total = 0;
		int64_t		pick = -1;
		float	   *cj = centroids + (int64_t) j * d;

		for (int64_t i = 0; i < m; i++)
			total += mind[i];
		if (total > 0)
		{
			double		r = random_unit(rng) * total;

			for (int64_t i = 0; i < m; i++)
			{
				r -= mind[i];
				if (r < 0)
				{
					pick = i;
					break;
				}
			}
			if (pick < 0)
				pick = m - 1;
			memcpy(cj, x + idx[pick] * d, sizeof(float) * d);
		}
		else
		{
			/* every sampled point is a centroid already: any full point */
			memcpy(cj, x + (int64_t) (next_random(rng) % (uint64_t) n) * d,
				   sizeof(float) * d);
		}
		for (int64_t i = 0; i < m; i++)
		{
			float		dd = vec_kernels->l2_squared(x + idx[i] * d, cj, d);

			if (dd < mind[i])
				mind[i] = dd;
		}
	}
}

/* Renormalises k centroids of d floats to unit length (spherical k-means). */
static void
normalize_rows(float *centroids, int k, int d)
{
	for (int j = 0; j < k; j++)
		normalize(centroids + (size_t) j * d, d);
}

/*
 * The assignment step of an iteration: each of the n points to its
 * nearest centroid, in sgemm blocks of block_floats; returns how many
 * points changed cluster.  block holds block_floats + k floats.
 */
static int64_t
assign_step(const float *x, int64_t n, int d, const float *centroids,
			const float *c_norms, int k, int32_t *assign, float *block,
			size_t block_floats, KmeansTick tick, void *tick_arg)
{
	int64_t		changed = 0;
	int64_t		bs = (int64_t) (block_floats / (size_t) k);

	if (bs < 1)
		bs = 1;
	for (int64_t start = 0; start < n; start += bs)
	{
		int64_t		rows = (n - start < bs) ? n - start : bs;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
					(int) rows, k, d, 1.0f, x + start * d, d,
					centroids, d, 0.0f, block, k);
		for (int64_t i = 0; i < rows; i++)
		{
			const float *gi = block + i * k;
			int			best = 0;
			float		best_val = c_norms[0] - 2.0f * gi[0];

			for (int j = 1; j < k; j++)
			{
				float		v = c_norms[j] - 2.0f * gi[j];

				if (v < best_val)
				{
					best_val = v;
					best = j;
				}
			}
			if (assign[start + i] != best)
			{
				changed++;
				assign[start + i] = best;
			}
		}
		if (tick)
			tick(tick_arg);
	}
	return changed;
}

/*
 * The update step: each centroid with points becomes their mean (an
 * empty cluster keeps its centroid); counts[j] receives the size of
 * cluster j.  sums holds k * d floats.
 */
static void
update_step(const float *x, int64_t n, int d, int k, const int32_t *assign,
			float *centroids, float *sums, float *counts)
{
	memset(sums, 0, sizeof(float) * (size_t) k * d);
	memset(counts, 0, sizeof(float) * k);
	for (int64_t i = 0; i < n; i++)
	{
		float	   *s = sums + (size_t) assign[i] * d;
		const float *row = x + i * d;

		for (int j = 0; j < d; j++)
			s[j] += row[j];
		counts[assign[i]] += 1;
	}
	for (int j = 0; j < k; j++)
	{
		if (counts[j] > 0)
		{
			float		inv = 1.0f / counts[j];
			float	   *s = sums + (size_t) j * d;

			for (int l = 0; l < d; l++)
				centroids[(size_t) j * d + l] = s[l] * inv;
		}
	}
}

/*
 * Cluster into takes half of cluster from: from's centroid, copied with a
 * small symmetric perturbation, so the next assignment splits its points
 * between the two.
 */
static void
split_cluster(int d, float *centroids, int from, int into, uint64_t *rng)
{
	for (int l = 0; l < d; l++)
	{
		float		v = centroids[(size_t) from * d + l];
		float		eps = (float) (1e-3 * (random_unit(rng) - 0.5)) * (fabsf(v) + 1e-6f);

		centroids[(size_t) into * d + l] = v + eps;
		centroids[(size_t) from * d + l] = v - eps;
	}
}

/*
 * An empty cluster takes half of the largest one.  Stops when no cluster
 * has more than one point left to give.
 */
static void
split_empty_clusters(int d, int k, float *centroids, float *counts, uint64_t *rng)
{
	for (int j = 0; j < k; j++)
	{
		int			big = 0;

		if (counts[j] > 0)
			continue;
		for (int l = 1; l < k; l++)
			if (counts[l] > counts[big])
				big = l;
		if (counts[big] <= 1)
			break;
		split_cluster(d, centroids, big, j, rng);
		counts[j] = counts[big] / 2;
		counts[big] -= counts[j];
	}
}

/*
 * Lists of very unequal sizes cost a query more than their number says: a
 * query falls most often into the largest clusters (the dense regions its
 * neighbours come from), so a probe reads more than the mean list.  One
 * round of rebalancing: each cluster of more than twice the mean size is
 * split in two by a cluster smaller than the mean, whose points go to its neighbours at the next assignment.
 * Returns how many clusters moved.
 */
static int
rebalance_clusters(int d, int k, int64_t n, float *centroids, const float *counts,
				   uint64_t *rng)
{
	double		mean = (double) n / k;
	int			small = 0;
	int			moved = 0;

	for (int big = 0; big < k; big++)
	{
		if (counts[big] <= 2.0 * mean)
			continue;
		while (small < k && counts[small] >= mean)
			small++;
		if (small == k)
			break;
		split_cluster(d, centroids, big, small, rng);
		small++;
		moved++;
	}
	return moved;
}

/* Rounds of rebalancing after Lloyd's iterations, and iterations per round. */
#define KMEANS_BALANCE_ROUNDS 8
#define KMEANS_BALANCE_ITERS 3

/*
 * Lloyd's algorithm from k-means++ seeds: stops after iters iterations or
 * once no point changes cluster; then up to KMEANS_BALANCE_ROUNDS rounds
 * of rebalancing, each settled by KMEANS_BALANCE_ITERS iterations.  On
 * GloVe embedded in 768 dimensions (316 lists trained on 30,000 of
 * 100,000 rows) the largest list falls from 8.6 to 3.1 times the mean, and
 * the list a row's query lands in on average (sum of squared sizes over
 * rows) from 3.0 to 1.4 times the mean, for half again the training time.
 * The same input and seed give the same centroids.  See kmeans.h for the
 * buffers.
 */
void
kmeans_train(const float *x, int64_t n, int d, int k, int iters,
			 uint64_t seed, bool spherical, float *centroids,
			 float *work, size_t block_floats, int32_t *assign,
			 KmeansTick tick, void *tick_arg)
{
	float	   *c_norms = work;
	float	   *sums = c_norms + k;
	float	   *counts = sums + (size_t) k * d;
	float	   *seedbuf = counts + k;
	float	   *block = seedbuf + seed_sample_size(n, k) * 2;
	uint64_t	rng = seed ^ 0x6D73697666ULL;

	seed_centroids(x, n, d, k, &rng, centroids, seedbuf,
				   seedbuf + seed_sample_size(n, k));
	if (spherical)
		normalize_rows(centroids, k, d);
	if (tick)
		tick(tick_arg);

	for (int64_t i = 0; i < n; i++)
		assign[i] = -1;

	for (int round = 0; round <= KMEANS_BALANCE_ROUNDS; round++)
	{
		int			round_iters = round == 0 ? iters : KMEANS_BALANCE_ITERS;

		/* counts are those of the last update (none without iterations) */
		if (round > 0 &&
			(iters < 1 || rebalance_clusters(d, k, n, centroids, counts, &rng) == 0))
			break;
		for (int it = 0; it < round_iters; it++)
		{
			int64_t		changed;

			kmeans_row_norms(centroids, k, d, c_norms);
			changed = assign_step(x, n, d, centroids, c_norms, k, assign, block,
								  block_floats, tick, tick_arg);
			if (changed == 0 && (it > 0 || round > 0))
				break;
			update_step(x, n, d, k, assign, centroids, sums, counts);
			split_empty_clusters(d, k, centroids, counts, &rng);
			if (spherical)
				normalize_rows(centroids, k, d);
			if (tick)
				tick(tick_arg);
		}
	}
}

/*
 * see kmeans.h.  Why cones: under inner product a centroid longer than the
 * others draws points that are not its own, and k-means's means are
 * longest where a cluster is tight; and when the points share a direction
 * (embeddings often do), their clusters differ only in what lies across
 * it: spherical k-means on the points themselves then leaves a few
 * centroids pointing near the shared direction, close to every point,
 * which take most points.  Clustering the part across the mean removes
 * both.  With m zero these are spherical k-means's centroids scaled by s.
 */
void
kmeans_train_cones(float *x, int64_t n, int d, int k, int iters,
				   uint64_t seed, float *centroids, float *work,
				   size_t block_floats, int32_t *assign, float *scratch,
				   KmeansTick tick, void *tick_arg)
{
	float	   *m = scratch;
	float	   *u = scratch + d;
	double		mnorm = kmeans_mean(x, n, d, m);
	bool		centred = mnorm > 0 && isfinite(mnorm);

	if (centred)
	{
		for (int j = 0; j < d; j++)
			u[j] = (float) (m[j] / mnorm);
		kmeans_project_out(x, n, d, u);
	}
	else
		memset(m, 0, sizeof(float) * d);
	kmeans_train(x, n, d, k, iters, seed, true, centroids, work, block_floats,
				 assign, tick, tick_arg);
	if (centred)
	{
		/* the unit directions lie across m up to rounding: make it exact */
		kmeans_project_out(centroids, k, d, u);
		normalize_rows(centroids, k, d);
	}
	kmeans_common_scale(x, n, d, centroids, k, assign);
	for (int j = 0; j < k; j++)
		for (int l = 0; l < d; l++)
			centroids[(size_t) j * d + l] += m[l];
}
