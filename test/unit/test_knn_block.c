/*
 * test_knn_block.c
 *		Unit tests of the blocked exact kNN core (src/knn/core/knn_block.c):
 *		every answer is compared with an independent brute force in long
 *		double, over block sizes, metrics, ties, zero vectors, data that
 *		makes float32 cancel catastrophically, and data near overflow.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn_block.h"
#include "unit.h"

/* ---- deterministic random numbers ----------------------------------- */

/* uniform in [-1, 1) */
static double
rng_unit(void)
{
	return (double) (unit_rng64() >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* ---- brute force ------------------------------------------------------ */

typedef struct Ref
{
	long double key;
	int64_t		id;
} Ref;

static long double
ref_key(KnnMetric metric, const float *a, const float *b, int dim)
{
	long double s = 0,
				na = 0,
				nb = 0;

	for (int i = 0; i < dim; i++)
	{
		long double x = a[i],
					y = b[i];

		s += metric == KNN_METRIC_L2 ? (x - y) * (x - y) :
			metric == KNN_METRIC_L1 ? fabsl(x - y) : x * y;
		na += x * x;
		nb += y * y;
	}
	switch (metric)
	{
		case KNN_METRIC_L2:
			return sqrtl(s);
		case KNN_METRIC_L1:
			return s;
		case KNN_METRIC_IP:
			return -s;
		case KNN_METRIC_COSINE:
			{
				/* half the squared distance of the unit vectors: no cancellation */
				long double d = 0;

				if (na == 0 || nb == 0)
					return NAN;
				na = sqrtl(na);
				nb = sqrtl(nb);
				for (int i = 0; i < dim; i++)
				{
					long double t = a[i] / na - b[i] / nb;

					d += t * t;
				}
				d /= 2;
				return d > 2 ? 2 : d;
			}
	}
	return NAN;
}

static int
ref_cmp(const void *pa, const void *pb)
{
	const Ref  *a = pa;
	const Ref  *b = pb;
	int			an = isnan(a->key),
				bn = isnan(b->key);

	if (an != bn)
		return an ? 1 : -1;
	if (!an && a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* ---- one search, checked --------------------------------------------- */

typedef struct Case
{
	KnnMetric	metric;
	int			dim;
	int			nq;
	int			n;
	int			k;
	int			block_rows;
	float	   *queries;
	float	   *rows;
	int64_t    *ids;
	int64_t		exact_evals;	/* out */
} Case;

/* Returns the number of wrong answers (ids or distances). */
static int
run_case(Case *c, bool exact_ids)
{
	KnnBlock	kb;
	void	   *ws = malloc(knn_block_workspace_bytes(c->dim, c->nq, c->block_rows));
	void	   *heaps = malloc(knn_block_heap_bytes(c->nq, c->k));
	Ref		   *ref = malloc(sizeof(Ref) * (c->n + 1));
	int			bad = 0;

	knn_block_init(&kb, c->metric, c->dim, c->queries, c->nq, c->k,
				   c->block_rows, ws, heaps);
	for (int j = 0; j < c->n; j++)
		knn_block_add_row(&kb, c->rows + (size_t) j * c->dim, c->ids[j]);
	knn_block_finish(&kb);
	c->exact_evals = kb.exact_evals;
	/* the answer lives in the heaps: the workspace may go */
	memset(ws, 0x7f, knn_block_workspace_bytes(c->dim, c->nq, c->block_rows));
	free(ws);
	ws = NULL;

	for (int q = 0; q < c->nq; q++)
	{
		const float *qv = c->queries + (size_t) q * c->dim;
		int			got_n;
		const KnnCandidate *got = knn_block_result(&kb, q, &got_n);
		int			want_n = c->k < c->n ? c->k : c->n;

		for (int j = 0; j < c->n; j++)
		{
			ref[j].key = ref_key(c->metric, qv, c->rows + (size_t) j * c->dim, c->dim);
			ref[j].id = c->ids[j];
		}
		qsort(ref, c->n, sizeof(Ref), ref_cmp);

		if (got_n != want_n)
		{
			bad++;
			continue;
		}
		for (int r = 0; r < got_n; r++)
		{
			long double want = ref[r].key;
			double		have = got[r].key;

			if (isnan(want) || isnan(have))
			{
				if (!(isnan(want) && isnan(have)))
					bad++;
			}
			else if (fabsl(want - have) > 1e-12L * (1 + fabsl(want)))
				bad++;
			if (exact_ids && got[r].id != ref[r].id)
				bad++;
		}
		/* no row twice (equal ids would sit next to each other) */
		for (int r = 1; r < got_n; r++)
			if (got[r].id == got[r - 1].id)
				bad++;
	}
	free(ws);
	free(heaps);
	free(ref);
	return bad;
}

static void
fill(float *x, size_t n, double scale, double offset)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (offset + scale * rng_unit());
}

static Case
make_case(KnnMetric metric, int dim, int nq, int n, int k, int block_rows)
{
	Case		c;

	memset(&c, 0, sizeof(c));
	c.metric = metric;
	c.dim = dim;
	c.nq = nq;
	c.n = n;
	c.k = k;
	c.block_rows = block_rows;
	c.queries = malloc(sizeof(float) * (size_t) nq * dim);
	c.rows = malloc(sizeof(float) * ((size_t) n * dim + 1));
	c.ids = malloc(sizeof(int64_t) * (n + 1));
	/* ids in a shuffled order, so scan order and id order differ */
	for (int j = 0; j < n; j++)
		c.ids[j] = j;
	for (int j = n - 1; j > 0; j--)
	{
		int			o = (int) (unit_rng64() % (uint64_t) (j + 1));
		int64_t		t = c.ids[j];

		c.ids[j] = c.ids[o];
		c.ids[o] = t;
	}
	return c;
}

static void
free_case(Case *c)
{
	free(c->queries);
	free(c->rows);
	free(c->ids);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_random_shapes(void)
{
	static const int dims[] = {1, 3, 17, 100};
	static const int nqs[] = {1, 7, 33};
	static const int ns[] = {0, 1, 5, 200, 1000};
	static const int ks[] = {1, 5, 10, 300};
	static const int blocks[] = {1, 7, 64, 1000};

	for (int m = 0; m < 4; m++)
		for (int di = 0; di < 4; di++)
			for (int ni = 0; ni < 5; ni++)
			{
				int			failures = 0;

				for (int qi = 0; qi < 3; qi++)
					for (int ki = 0; ki < 4; ki++)
						for (int bi = 0; bi < 4; bi++)
						{
							Case		c = make_case((KnnMetric) m, dims[di], nqs[qi],
													  ns[ni], ks[ki], blocks[bi]);

							/* skip the slowest combination: tiny blocks of many rows */
							if (blocks[bi] == 1 && ns[ni] == 1000 && dims[di] == 100)
							{
								free_case(&c);
								continue;
							}
							fill(c.queries, (size_t) c.nq * c.dim, 1.0, 0.0);
							fill(c.rows, (size_t) c.n * c.dim, 1.0, 0.0);
							failures += run_case(&c, true);
							free_case(&c);
						}
				CHECK(failures == 0, "metric %s dim %d n %d: %d wrong answers",
					  knn_metric_name((KnnMetric) m), dims[di], ns[ni], failures);
			}
}

/*
 * Integer data with many equal distances: ties must break by id.  Cosine
 * ties between rows that are parallel but not equal depend on the last
 * bit of the rounding of their norms, so there only distances are compared.
 */
static void
test_ties(void)
{
	for (int m = 0; m < 4; m++)
	{
		Case		c = make_case((KnnMetric) m, 4, 9, 500, 20, 37);

		for (size_t i = 0; i < (size_t) c.nq * c.dim; i++)
			c.queries[i] = (float) (unit_rng64() % 3);
		for (size_t i = 0; i < (size_t) c.n * c.dim; i++)
			c.rows[i] = (float) (unit_rng64() % 3);
		CHECK(run_case(&c, m != KNN_METRIC_COSINE) == 0, "ties, metric %s",
			  knn_metric_name((KnnMetric) m));
		free_case(&c);
	}
}

/* Zero rows and a zero query under cosine: NaN distances rank last. */
static void
test_cosine_zero(void)
{
	Case		c = make_case(KNN_METRIC_COSINE, 8, 3, 300, 10, 50);

	fill(c.queries, (size_t) c.nq * c.dim, 1.0, 0.0);
	fill(c.rows, (size_t) c.n * c.dim, 1.0, 0.0);
	memset(c.queries, 0, sizeof(float) * c.dim);	/* query 0 is zero */
	for (int j = 0; j < c.n; j += 3)
		memset(c.rows + (size_t) j * c.dim, 0, sizeof(float) * c.dim);
	CHECK(run_case(&c, true) == 0, "cosine with zero rows and a zero query");
	free_case(&c);

	/* fewer non-zero rows than k: the zero rows fill the tail as NaN */
	c = make_case(KNN_METRIC_COSINE, 8, 2, 30, 25, 8);
	fill(c.queries, (size_t) c.nq * c.dim, 1.0, 0.0);
	memset(c.rows, 0, sizeof(float) * (size_t) c.n * c.dim);
	fill(c.rows, (size_t) 10 * c.dim, 1.0, 0.0);
	CHECK(run_case(&c, true) == 0, "cosine with fewer non-zero rows than k");
	free_case(&c);
}

/*
 * Points far from the origin with tiny spread: ||q||^2 + ||x||^2 - 2 q.x
 * cancels completely in float32, yet the answers must stay exact.
 */
static void
test_cancellation(void)
{
	for (int m = 0; m < 4; m++)
	{
		Case		c = make_case((KnnMetric) m, 50, 11, 2000, 10, 256);

		fill(c.queries, (size_t) c.nq * c.dim, 1e-3, 1000.0);
		fill(c.rows, (size_t) c.n * c.dim, 1e-3, 1000.0);
		CHECK(run_case(&c, true) == 0, "cancellation, metric %s",
			  knn_metric_name((KnnMetric) m));
		free_case(&c);
	}
}

/* Elements whose products overflow float32: estimates are not used. */
static void
test_overflow(void)
{
	for (int m = 0; m < 4; m++)
	{
		Case		c = make_case((KnnMetric) m, 6, 4, 300, 7, 64);

		fill(c.queries, (size_t) c.nq * c.dim, 1e20, 0.0);
		fill(c.rows, (size_t) c.n * c.dim, 1e20, 0.0);
		/* a few ordinary rows too, so both paths meet in one block */
		fill(c.rows, (size_t) 40 * c.dim, 1.0, 0.0);
		CHECK(run_case(&c, true) == 0, "float32 overflow, metric %s",
			  knn_metric_name((KnnMetric) m));
		free_case(&c);
	}
	{
		/* l1 sums near FLT_MAX */
		Case		c = make_case(KNN_METRIC_L1, 16, 3, 200, 5, 32);

		fill(c.queries, (size_t) c.nq * c.dim, 3e37, 0.0);
		fill(c.rows, (size_t) c.n * c.dim, 3e37, 0.0);
		CHECK(run_case(&c, true) == 0, "l1 sums beyond FLT_MAX");
		free_case(&c);
	}
}

/* On ordinary data almost every row must be settled by its estimate. */
static void
test_filter_efficiency(void)
{
	for (int m = 0; m < 4; m++)
	{
		Case		c = make_case((KnnMetric) m, 32, 10, 5000, 10, 512);
		int64_t		pairs = (int64_t) c.nq * c.n;

		fill(c.queries, (size_t) c.nq * c.dim, 1.0, 0.0);
		fill(c.rows, (size_t) c.n * c.dim, 1.0, 0.0);
		CHECK(run_case(&c, true) == 0, "filter test answers, metric %s",
			  knn_metric_name((KnnMetric) m));
		CHECK(c.exact_evals * 10 <= pairs,
			  "metric %s: %lld exact evaluations of %lld pairs",
			  knn_metric_name((KnnMetric) m), (long long) c.exact_evals,
			  (long long) pairs);
		free_case(&c);
	}
}

static void
test_exact_distance(void)
{
	const float a[3] = {1, 2, 3};
	const float b[3] = {4, 6, 8};
	const float z[3] = {0, 0, 0};

	CHECK(fabs(knn_exact_distance(KNN_METRIC_L2, a, b, 3) - sqrt(50.0)) < 1e-15, "l2");
	CHECK(knn_exact_distance(KNN_METRIC_IP, a, b, 3) == -40.0, "ip");
	CHECK(knn_exact_distance(KNN_METRIC_L1, a, b, 3) == 12.0, "l1");
	CHECK(fabs(knn_exact_distance(KNN_METRIC_COSINE, a, b, 3) -
			   (1.0 - 40.0 / sqrt(14.0 * 116.0))) < 1e-15, "cosine");
	CHECK(isnan(knn_exact_distance(KNN_METRIC_COSINE, a, z, 3)), "cosine with a zero vector is NaN");
	CHECK(knn_exact_distance(KNN_METRIC_COSINE, a, a, 3) == 0.0, "cosine of a vector with itself");
}

static void
test_names_and_budget(void)
{
	CHECK(knn_metric_from_name("l2") == KNN_METRIC_L2, "l2 name");
	CHECK(knn_metric_from_name("cosine") == KNN_METRIC_COSINE, "cosine name");
	CHECK(knn_metric_from_name("ip") == KNN_METRIC_IP, "ip name");
	CHECK(knn_metric_from_name("l1") == KNN_METRIC_L1, "l1 name");
	CHECK(knn_metric_from_name("L2") == -1, "names are case-sensitive");
	CHECK(knn_metric_from_name("") == -1, "empty name");
	CHECK(strcmp(knn_metric_name(KNN_METRIC_IP), "ip") == 0, "name of ip");

	/* 4 MB, 1000 queries of 100 dims: several hundred rows per block */
	{
		int			rows = knn_block_rows_for_budget(100, 1000, 4 << 20, 64, 1 << 20);
		size_t		used = (size_t) 1000 * 100 * 4 +
			knn_block_workspace_bytes(100, 1000, rows);

		CHECK(rows > 500 && rows < 1000, "%d rows per block", rows);
		CHECK(used <= (size_t) 4 << 20, "%zu bytes used", used);
	}
	/* queries alone larger than the budget */
	CHECK(knn_block_rows_for_budget(1000, 2000, 4 << 20, 64, 1 << 20) == 0,
		  "queries larger than the budget");
	/* room for fewer rows than the minimum */
	CHECK(knn_block_rows_for_budget(100, 1000, 500 * 1000, 64, 1 << 20) == 0,
		  "fewer rows than the minimum");
	/* a huge budget is capped */
	CHECK(knn_block_rows_for_budget(4, 1, (size_t) 1 << 40, 64, 4096) == 4096,
		  "capped at max_rows");
}

int
main(void)
{
	test_exact_distance();
	test_names_and_budget();
	test_random_shapes();
	test_ties();
	test_cosine_zero();
	test_cancellation();
	test_overflow();
	test_filter_efficiency();
	return unit_finish("knn_block");
}
