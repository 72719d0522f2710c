/*
 * test_kmeans.c
 *		Unit tests for src/msivf/core/kmeans.c: blocked sgemm assignment agrees
 *		with brute force, training recovers well-separated blobs, spherical
 *		mode keeps unit centroids, skewed data gets clusters of comparable
 *		sizes, inner product's cones have one length and balanced lists,
 *		degenerate inputs (k = n, duplicate points) do not break it, and a
 *		split around a fixed centre moves only the new one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"
#include "unit.h"

static uint64_t rng = 777;

static double
uniform(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (rng >> 11) / 9007199254740992.0;
}

static float
gauss(void)
{
	double		u = uniform() + 1e-12,
				v = uniform();

	return (float) (sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static void
check_assign(int n, int d, int k, KmeansMetric metric, size_t work_floats)
{
	float	   *x = malloc(sizeof(float) * n * d);
	float	   *c = malloc(sizeof(float) * k * d);
	float	   *cn = malloc(sizeof(float) * k);
	float	   *work = malloc(sizeof(float) * work_floats);
	float	   *dist = malloc(sizeof(float) * n);
	int32_t    *a = malloc(sizeof(int32_t) * n);
	int			bad = 0;

	for (int i = 0; i < n * d; i++)
		x[i] = gauss();
	for (int i = 0; i < k * d; i++)
		c[i] = gauss();
	kmeans_row_norms(c, k, d, cn);
	kmeans_assign(x, n, d, c, cn, k, metric, a, dist, work, work_floats);
	for (int i = 0; i < n; i++)
	{
		double		best = metric == KMEANS_IP ? -INFINITY : INFINITY;
		double		chosen = 0;

		for (int j = 0; j < k; j++)
		{
			double		v = 0;

			for (int l = 0; l < d; l++)
			{
				if (metric == KMEANS_IP)
					v += (double) x[i * d + l] * c[j * d + l];
				else
					v += ((double) x[i * d + l] - c[j * d + l]) * ((double) x[i * d + l] - c[j * d + l]);
			}
			if (metric == KMEANS_IP ? v > best : v < best)
				best = v;
			if (j == a[i])
				chosen = v;
		}
		/* ties and float rounding may pick an equally near centroid */
		if (fabs(chosen - best) > 1e-3 * (1 + fabs(best)) ||
			fabs(dist[i] - chosen) > 1e-3 * (1 + fabs(chosen)))
			bad++;
	}
	CHECK(bad == 0, "assign n=%d d=%d k=%d metric=%d work=%zu: %d wrong", n, d, k,
		  (int) metric, work_floats, bad);
	free(x);
	free(c);
	free(cn);
	free(work);
	free(dist);
	free(a);
}

static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

/* k blobs far apart; training must put one centroid on each blob */
static void
check_blobs(int k, int d, int per, bool spherical)
{
	int			n = k * per;
	float	   *truth = malloc(sizeof(float) * k * d);
	float	   *x = malloc(sizeof(float) * n * d);
	float	   *c = malloc(sizeof(float) * k * d);
	int32_t    *a = malloc(sizeof(int32_t) * n);
	size_t		bf = kmeans_default_block_floats(n, k);
	size_t		wf = kmeans_train_work_floats(n, d, k, bf);
	float	   *work = malloc(sizeof(float) * wf);
	float	   *c_small = malloc(sizeof(float) * k * d);
	int		   *hit = calloc(k, sizeof(int));
	int			found = 0,
				impure = 0;

	for (int j = 0; j < k; j++)
	{
		double		s = 0;

		for (int l = 0; l < d; l++)
		{
			truth[j * d + l] = gauss() * 10;
			s += truth[j * d + l] * truth[j * d + l];
		}
		if (spherical)
			for (int l = 0; l < d; l++)
				truth[j * d + l] /= (float) sqrt(s);
	}
	for (int i = 0; i < n; i++)
	{
		double		s = 0;

		for (int l = 0; l < d; l++)
		{
			x[i * d + l] = truth[(i % k) * d + l] + gauss() * (spherical ? 0.01f : 0.5f);
			s += x[i * d + l] * x[i * d + l];
		}
		if (spherical)
			for (int l = 0; l < d; l++)
				x[i * d + l] /= (float) sqrt(s);
	}
	ticks = 0;
	kmeans_train(x, n, d, k, 20, 42, spherical, c, work, bf, a, count_tick, NULL);
	CHECK(ticks > 0, "tick called");

	/*
	 * The smallest block (one row per sgemm, as a build short of memory
	 * uses) trains the same centroids: blocking changes when rows are
	 * assigned, not to what.
	 */
	CHECK(kmeans_train_work_floats(n, d, k, k) < wf, "a smaller block needs less scratch");
	kmeans_train(x, n, d, k, 20, 42, spherical, c_small, work, k, a, NULL, NULL);
	CHECK(memcmp(c, c_small, sizeof(float) * k * d) == 0,
		  "blobs k=%d: a block of one row trains the same centroids", k);
	kmeans_train(x, n, d, k, 20, 42, spherical, c_small, work, bf, a, NULL, NULL);

	/* every true blob has a centroid near it */
	for (int j = 0; j < k; j++)
	{
		double		best = INFINITY;

		for (int m = 0; m < k; m++)
		{
			double		dd = 0;

			for (int l = 0; l < d; l++)
				dd += ((double) truth[j * d + l] - c[m * d + l]) * ((double) truth[j * d + l] - c[m * d + l]);
			best = fmin(best, dd);
		}
		if (best < (spherical ? 0.01 : 0.5 * 0.5 * d * 0.2))
			found++;
	}
	/* points of one blob share a cluster */
	for (int i = 0; i < n; i++)
	{
		if (hit[i % k] == 0)
			hit[i % k] = a[i] + 1;
		else if (hit[i % k] != a[i] + 1)
			impure++;
	}
	CHECK(found >= k - k / 20, "blobs k=%d d=%d spherical=%d: %d of %d found", k, d, spherical, found, k);
	CHECK(impure <= n / 50, "blobs k=%d: %d points split from their blob", k, impure);
	if (spherical)
	{
		int			not_unit = 0;

		for (int m = 0; m < k; m++)
		{
			double		s = 0;

			for (int l = 0; l < d; l++)
				s += (double) c[m * d + l] * c[m * d + l];
			if (fabs(s - 1) > 1e-4)
				not_unit++;
		}
		CHECK(not_unit == 0, "spherical centroids are unit (%d not)", not_unit);
	}
	free(truth);
	free(x);
	free(c);
	free(a);
	free(work);
	free(c_small);
	free(hit);
}

/*
 * Half the points in one tight blob, half spread wide: k-means++ seeds
 * few centroids in the blob (its points are close to each other), so
 * Lloyd alone leaves a cluster many times the mean there; rebalancing
 * must bring the largest cluster under three times the mean, and leave
 * no cluster empty.
 */
static void
check_balance(void)
{
	int			n = 8000,
				d = 16,
				k = 40;
	float	   *x = malloc(sizeof(float) * n * d);
	float	   *c = malloc(sizeof(float) * k * d);
	int32_t    *a = malloc(sizeof(int32_t) * n);
	size_t		bf = kmeans_default_block_floats(n, k);
	float	   *work = malloc(sizeof(float) * kmeans_train_work_floats(n, d, k, bf));
	int		   *sizes = calloc(k, sizeof(int));
	int			largest = 0,
				empty = 0;

	for (int i = 0; i < n; i++)
		for (int l = 0; l < d; l++)
			x[i * d + l] = i % 2 ? gauss() : gauss() * 10.0f;
	kmeans_train(x, n, d, k, 20, 7, false, c, work, bf, a, NULL, NULL);
	for (int i = 0; i < n; i++)
		sizes[a[i]]++;
	for (int j = 0; j < k; j++)
	{
		largest = sizes[j] > largest ? sizes[j] : largest;
		empty += sizes[j] == 0;
	}
	CHECK(largest <= 3 * n / k, "skewed data: the largest cluster holds %d points, the mean %d", largest, n / k);
	CHECK(empty == 0, "skewed data: %d empty clusters", empty);
	free(x);
	free(c);
	free(a);
	free(work);
	free(sizes);
}

/*
 * Inner product's lists: unit points around a shared direction (the first
 * axis), in clusters of very unequal spread.  kmeans_train_cones must give
 * centroids of one length and, with points assigned by their largest
 * inner product, clusters of comparable sizes; the means of plain k-means,
 * assigned the same way, must show the imbalance the cones remove (else
 * the data tests nothing).  Also the helpers: the mean's norm, a
 * projection leaves nothing along u, the common scale.
 */
static void
check_cones(void)
{
	int			n = 6000,
				d = 32,
				k = 30,
				nc = 60;
	float	   *x = malloc(sizeof(float) * n * d);
	float	   *y = malloc(sizeof(float) * n * d);
	float	   *cen = malloc(sizeof(float) * nc * d);
	float	   *spread = malloc(sizeof(float) * nc);
	float	   *c = malloc(sizeof(float) * k * d);
	float	   *cn = malloc(sizeof(float) * k);
	int32_t    *a = malloc(sizeof(int32_t) * n);
	size_t		bf = kmeans_default_block_floats(n, k);
	float	   *work = malloc(sizeof(float) * kmeans_train_work_floats(n, d, k, bf));
	float		scratch[64];
	int			sizes[30];
	int			largest;
	float		lo = INFINITY,
				hi = 0;

	for (int j = 0; j < nc; j++)
	{
		double		s = 0;

		for (int l = 0; l < d; l++)
		{
			cen[j * d + l] = gauss();
			s += cen[j * d + l] * cen[j * d + l];
		}
		for (int l = 0; l < d; l++)
			cen[j * d + l] = (float) (0.3 * cen[j * d + l] / sqrt(s)) + (l == 0);
		spread[j] = (float) (0.02 + 0.1 * uniform());
	}
	for (int i = 0; i < n; i++)
	{
		int			j = (int) (nc * uniform() * uniform());
		double		s = 0;

		for (int l = 0; l < d; l++)
		{
			x[i * d + l] = cen[j * d + l] + spread[j] * gauss();
			s += x[i * d + l] * x[i * d + l];
		}
		for (int l = 0; l < d; l++)
			x[i * d + l] = (float) (x[i * d + l] / sqrt(s));
	}

	/* plain k-means's means, assigned by inner product: lopsided */
	kmeans_train(x, n, d, k, 10, 3, false, c, work, bf, a, NULL, NULL);
	kmeans_row_norms(c, k, d, cn);
	kmeans_assign(x, n, d, c, cn, k, KMEANS_IP, a, NULL, work, bf);
	memset(sizes, 0, sizeof(sizes));
	largest = 0;
	for (int i = 0; i < n; i++)
		sizes[a[i]]++;
	for (int j = 0; j < k; j++)
		largest = sizes[j] > largest ? sizes[j] : largest;
	CHECK(largest > 4 * n / k, "the data shows the pitfall: largest %d, mean %d", largest, n / k);

	memcpy(y, x, sizeof(float) * n * d);
	kmeans_train_cones(y, n, d, k, 10, 3, c, work, bf, a, scratch, NULL, NULL);
	kmeans_row_norms(c, k, d, cn);
	for (int j = 0; j < k; j++)
	{
		lo = cn[j] < lo ? cn[j] : lo;
		hi = cn[j] > hi ? cn[j] : hi;
	}
	CHECK(hi - lo <= 1e-4f * hi, "cones: one length (squared norms %g to %g)", lo, hi);
	kmeans_assign(x, n, d, c, cn, k, KMEANS_IP, a, NULL, work, bf);
	memset(sizes, 0, sizeof(sizes));
	largest = 0;
	for (int i = 0; i < n; i++)
		sizes[a[i]]++;
	for (int j = 0; j < k; j++)
		largest = sizes[j] > largest ? sizes[j] : largest;
	CHECK(largest <= 3 * n / k, "cones: largest cluster %d, mean %d", largest, n / k);

	/* the helpers */
	{
		float		m[32];
		float		u[32];
		double		norm = kmeans_mean(x, n, d, m);
		double		s2 = 0;
		double		worst = 0;
		float		scale;

		for (int l = 0; l < d; l++)
			s2 += (double) m[l] * m[l];
		CHECK(fabs(norm - sqrt(s2)) < 1e-6, "kmeans_mean returns its norm");
		for (int l = 0; l < d; l++)
			u[l] = (float) (m[l] / norm);
		memcpy(y, x, sizeof(float) * n * d);
		kmeans_project_out(y, n, d, u);
		for (int i = 0; i < n; i++)
		{
			double		dot = 0;

			for (int l = 0; l < d; l++)
				dot += (double) y[i * d + l] * u[l];
			worst = fabs(dot) > worst ? fabs(dot) : worst;
		}
		CHECK(worst < 1e-5, "projected rows keep %g along u", worst);
		/* every point its own unit centroid: the scale is 1 */
		for (int i = 0; i < k; i++)
			a[i] = i;
		memcpy(c, x, sizeof(float) * k * d);
		scale = kmeans_common_scale(x, k, d, c, k, a);
		CHECK(fabsf(scale - 1.0f) < 1e-5f, "common scale of points on their centroids: %g", scale);
		/* a non-positive mean leaves the centroids unit */
		for (int l = 0; l < d; l++)
			c[l] = -x[l];
		a[0] = 0;
		scale = kmeans_common_scale(x, 1, d, c, 1, a);
		CHECK(scale == 1.0f && c[0] == -x[0], "negative mean: unscaled");
	}
	free(x);
	free(y);
	free(cen);
	free(spread);
	free(c);
	free(cn);
	free(a);
	free(work);
}

/* k = n and all-equal points: no crash, finite centroids */
static void
check_degenerate(void)
{
	int			n = 50,
				d = 8;
	float		x[50 * 8];
	float		c[50 * 8];
	int32_t		a[50];
	float	   *work = malloc(sizeof(float) * kmeans_train_work_floats(n, d, n, kmeans_default_block_floats(n, n)));
	int			finite = 1;

	for (int i = 0; i < n * d; i++)
		x[i] = 3.0f;
	kmeans_train(x, n, d, n, 5, 1, false, c, work, kmeans_default_block_floats(n, n), a, NULL, NULL);
	for (int i = 0; i < n * d; i++)
		finite &= isfinite(c[i]) && fabsf(c[i] - 3.0f) < 0.1f;
	CHECK(finite, "identical points: centroids stay on the point");

	for (int i = 0; i < n * d; i++)
		x[i] = gauss();
	kmeans_train(x, n, d, n, 5, 1, false, c, work, kmeans_default_block_floats(n, n), a, NULL, NULL);
	for (int i = 0; i < n * d; i++)
		finite &= isfinite(c[i]);
	CHECK(finite, "k = n: finite centroids");

	kmeans_train(x, n, d, 1, 5, 1, false, c, work, kmeans_default_block_floats(n, 1), a, NULL, NULL);
	{
		double		mean = 0;

		for (int i = 0; i < n; i++)
			mean += x[i * d];
		mean /= n;
		CHECK(fabs(mean - c[0]) < 1e-4, "k = 1 gives the mean (%g vs %g)", mean, c[0]);
	}
	free(work);
}

/*
 * A split around a centre that stays: two blobs, the fixed centre on one,
 * the new centre started between them, ends on the other blob and takes
 * exactly its points; scaled to the norm asked for; every point assigned
 * to the nearer of the final centres.
 */
static void
check_split_from_fixed(KmeansMetric metric, float new_norm)
{
	int			n = 400,
				d = 24;
	float	   *x = malloc(sizeof(float) * n * d);
	float	   *c = malloc(sizeof(float) * 2 * d);
	int32_t    *a = malloc(sizeof(int32_t) * n);
	double	   *sum = malloc(sizeof(double) * d);
	float		work[64];
	int64_t		taken;
	int			wrong = 0;
	double		len = 0;
	float		fixed0;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			x[i * d + j] = (j == (i % 2) ? 10.0f : 0.0f) + 0.3f * gauss();
	for (int j = 0; j < d; j++)
	{
		c[j] = j == 0 ? 10.0f : 0.0f;	/* the fixed centre, on the even points */
		c[d + j] = j < 2 ? 5.0f : 0.0f;
	}
	c[d + 1] += 0.5f;					/* leaning to the odd points */
	if (new_norm > 0)
	{
		double		f = 0;

		for (int j = 0; j < d; j++)
			f += (double) c[j] * c[j];
		for (int j = 0; j < d; j++)
			c[j] *= (float) (new_norm / sqrt(f));
	}
	fixed0 = c[0];
	taken = kmeans_split_from_fixed(x, n, d, c, 5, metric, new_norm, a, sum, work, 64);
	for (int i = 0; i < n; i++)
		wrong += a[i] != i % 2;
	CHECK(taken == n / 2 && wrong == 0, "split from a fixed centre (%s): the new centre takes the other blob (%ld taken, %d wrong)",
		  metric == KMEANS_IP ? "ip" : "l2", (long) taken, wrong);
	CHECK(c[0] == fixed0, "the fixed centre stays (%g)", c[0]);
	for (int j = 0; j < d; j++)
		len += (double) c[d + j] * c[d + j];
	CHECK(c[d + 1] > c[d] && (new_norm > 0 ? fabs(sqrt(len) - new_norm) < 1e-3 : fabs(c[d + 1] - 10.0f) < 0.2),
		  "the new centre moved to the other blob (%g, %g; length %g)", c[d], c[d + 1], sqrt(len));
	free(x);
	free(c);
	free(a);
	free(sum);
}

int
main(void)
{
	kmeans_single_thread_blas();

	check_assign(1000, 32, 17, KMEANS_L2, 17 * 64);
	check_assign(1000, 32, 17, KMEANS_IP, 17 * 64);
	check_assign(513, 100, 50, KMEANS_L2, 50);	/* one row per block */
	check_assign(300, 7, 300, KMEANS_L2, 1 << 20);

	check_blobs(20, 32, 50, false);
	check_blobs(64, 100, 40, true);
	check_balance();
	check_cones();
	check_degenerate();
	check_split_from_fixed(KMEANS_L2, 0);
	check_split_from_fixed(KMEANS_IP, 1.0f);
	return unit_finish("kmeans");
}
