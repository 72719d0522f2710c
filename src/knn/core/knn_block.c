/*
 * knn_block.c
 *		Blocked exact k-nearest-neighbour search: sgemm estimates, a
 *		rounding-error bound that decides which rows need an exact look,
 *		and a bounded max-heap of exactly computed keys per query.
 *
 * How a block is searched
 * -----------------------
 * For a block of n rows X (n x d) and the queries Q (m x d), one
 * cblas_sgemm computes S = Q X^T in float32.  From S each metric gets an
 * estimate of its ranking key:
 *
 *	l2		||q||^2 + ||x||^2 - 2 s		(squared distance; norms in double)
 *	ip		-s
 *	cosine	1 - s / (||q|| ||x||)
 *	l1		the float32 SIMD kernel (no BLAS: l1 is not a dot product)
 *
 * Error bound
 * -----------
 * A float32 dot product of d terms, summed in any order or blocking, obeys
 * |fl(q.x) - q.x| <= gamma_d sum |q_i x_i| <= gamma_d ||q|| ||x||, with
 * gamma_d = d u / (1 - d u) and u = 2^-24 (Higham, "Accuracy and Stability
 * of Numerical Algorithms", 3.1; fused multiply-adds only remove
 * roundings).  Hence the true key lies within
 *
 *	l2		2 gamma ||q|| ||x||  (+ e (||q||^2 + ||x||^2) for the double norms)
 *	ip		gamma ||q|| ||x||
 *	cosine	gamma
 *	l1		gamma * estimate	(each |a-b| and each partial sum of
 *								 non-negative terms is off by at most u)
 *
 * of its estimate.  We take gamma = 1.01 gamma_{d+2} and e = (2d + 16)
 * 2^-52: the slack also covers the double rounding in the exact keys and
 * in evaluating the bound itself.  The bound scales with ||q|| ||x||, not
 * with the distance: when the data sit far from the origin,
 * ||q||^2 + ||x||^2 - 2 q.x cancels catastrophically in float32, the bound
 * is wide and many rows get an exact look.  The answer never changes,
 * only the work (on GloVe 100-d cosine, 1000 queries x 340k rows, 0.08% of
 * the pairs were recomputed).
 *
 * A query's heap holds its k best rows by exact double key.  Once it is
 * full, a row is recomputed exactly only when "estimate - bound" does not
 * exceed the current k-th key (ties included, as they are broken by id);
 * that is the margin: every row that might belong to the top k gets an
 * exact look, the rest (almost all rows) cost one fused compare.  The
 * exact recomputation happens while the row is still in the block, so no
 * row has to be fetched again and no candidate vector is kept.
 *
 * Overflow: the float32 sums cannot overflow when ||q|| ||x|| (l1: the sum
 * of both l1 norms) stays below FLT_MAX; a query for which some row of the
 * block breaks that looks at every row of the block exactly instead.
 */
#include "knn_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "vec_exact.h"
#include "vec_kernels.h"

/* Rows compared at once when looking for rows that pass the bound. */
#define KNN_CHUNK 16

/* Estimates are trusted only while float32 sums stay far from overflow. */
#define KNN_SAFE_MAGNITUDE 1e37

static const char *const metric_names[] = {"l2", "cosine", "ip", "l1"};

int
knn_metric_from_name(const char *name)
{
	for (int i = 0; i < (int) (sizeof(metric_names) / sizeof(metric_names[0])); i++)
	{
		if (strcmp(name, metric_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *
knn_metric_name(KnnMetric metric)
{
	return metric_names[metric];
}

/* ---- sizes --------------------------------------------------------- */

/* Bytes that do not grow with the block: see knn_block_rows_for_budget. */
static size_t
fixed_bytes(int dim, int nqueries)
{
	/* the caller's query copy and the query norms */
	return (size_t) nqueries * dim * sizeof(float) +
		(size_t) nqueries * 2 * sizeof(double) + 64;
}

/* Workspace bytes each row of a block takes. */
static size_t
bytes_per_row(int dim, int nqueries)
{
	/* row vector, id, three doubles, and one score per query */
	return (size_t) dim * sizeof(float) + sizeof(int64_t) +
		3 * sizeof(double) + (size_t) nqueries * sizeof(float);
}

int
knn_block_rows_for_budget(int dim, int nqueries, size_t budget,
						  int min_rows, int max_rows)
{
	size_t		fixed = fixed_bytes(dim, nqueries);
	size_t		rows;

	if (budget <= fixed)
		return 0;
	rows = (budget - fixed) / bytes_per_row(dim, nqueries);
	if (rows < (size_t) min_rows || rows < 1)
		return 0;
	if (rows > (size_t) max_rows)
		rows = max_rows;
	return (int) rows;
}

size_t
knn_block_workspace_bytes(int dim, int nqueries, int block_rows)
{
	return (size_t) nqueries * 2 * sizeof(double) +
		(size_t) block_rows * bytes_per_row(dim, nqueries) + 64;
}

size_t
knn_block_heap_bytes(int nqueries, int k)
{
	return (size_t) nqueries * (size_t) k * sizeof(KnnCandidate) +
		(size_t) nqueries * sizeof(int);
}

/* ---- candidates and heaps ------------------------------------------ */

/* Order of candidates: key ascending, NaN last, then id. */
static inline int
cand_cmp(const KnnCandidate *a, const KnnCandidate *b)
{
	bool		a_nan = isnan(a->key);
	bool		b_nan = isnan(b->key);

	if (a_nan != b_nan)
		return a_nan ? 1 : -1;
	if (!a_nan)
	{
		if (a->key < b->key)
			return -1;
		if (a->key > b->key)
			return 1;
	}
	return (a->id > b->id) - (a->id < b->id);
}

static int
cand_qsort_cmp(const void *a, const void *b)
{
	return cand_cmp((const KnnCandidate *) a, (const KnnCandidate *) b);
}

/*
 * Max-heap on cand_cmp (the worst candidate at heap[0]): restore the heap
 * order below pos after heap[pos] was replaced.
 */
static void
heap_sift_down(KnnCandidate *heap, int len, int pos)
{
	KnnCandidate item = heap[pos];

	for (;;)
	{
		int			child = 2 * pos + 1;

		if (child >= len)
			break;
		if (child + 1 < len && cand_cmp(&heap[child + 1], &heap[child]) > 0)
			child++;
		if (cand_cmp(&heap[child], &item) <= 0)
			break;
		heap[pos] = heap[child];
		pos = child;
	}
	heap[pos] = item;
}

/* Add item to the max-heap of *len candidates (room for one more). */
static void
heap_push(KnnCandidate *heap, int *len, KnnCandidate item)
{
	int			pos = (*len)++;

	while (pos > 0)
	{
		int			parent = (pos - 1) / 2;

		if (cand_cmp(&heap[parent], &item) >= 0)
			break;
		heap[pos] = heap[parent];
		pos = parent;
	}
	heap[pos] = item;
}

/* ---- exact keys ---------------------------------------------------- */

/*
 * Cosine distance 1 - cos(a, b) as half the squared distance between the
 * unit vectors: the same number, but without the cancellation of 1 - cos
 * for nearly parallel vectors, where even double keeps only a few digits
 * of the difference.  NaN when a norm is zero, as the operator gives.
 */
static double
exact_cosine(const float *a, const float *b, int dim,
			 double norm_a, double norm_b)
{
	double		sum = 0.0;

	if (norm_a == 0.0 || norm_b == 0.0)
		return NAN;
	/* divide rather than multiply by 1/norm: parallel rows then tie exactly */
	for (int i = 0; i < dim; i++)
	{
		double		diff = (double) a[i] / norm_a - (double) b[i] / norm_b;

		sum += diff * diff;
	}
	sum *= 0.5;
	return sum > 2.0 ? 2.0 : sum;
}

/*
 * The exact ranking key of query q and block row j, in double: squared
 * distance for L2 (no sqrt per row), the distance itself otherwise.
 */
static double
exact_key(const KnnBlock *kb, int q, int j)
{
	const float *a = kb->queries + (size_t) q * kb->dim;
	const float *b = kb->rows + (size_t) j * kb->dim;

	switch (kb->metric)
	{
		case KNN_METRIC_L2:
			return vec_l2_squared_f64(a, b, kb->dim);
		case KNN_METRIC_IP:
			return -vec_inner_product_f64(a, b, kb->dim);
		case KNN_METRIC_COSINE:
			return exact_cosine(a, b, kb->dim, kb->qnorm[q], kb->rnorm[j]);
		case KNN_METRIC_L1:
			return vec_l1_f64(a, b, kb->dim);
	}
	return NAN;
}

/* A ranking key as the distance the operator reports. */
static double
key_to_distance(KnnMetric metric, double key)
{
	return metric == KNN_METRIC_L2 ? sqrt(key) : key;
}

double
knn_exact_distance(KnnMetric metric, const float *a, const float *b, int dim)
{
	switch (metric)
	{
		case KNN_METRIC_L2:
			return sqrt(vec_l2_squared_f64(a, b, dim));
		case KNN_METRIC_IP:
			return -vec_inner_product_f64(a, b, dim);
		case KNN_METRIC_COSINE:
			return exact_cosine(a, b, dim, sqrt(vec_norm_squared_f64(a, dim)),
								sqrt(vec_norm_squared_f64(b, dim)));
		case KNN_METRIC_L1:
			return vec_l1_f64(a, b, dim);
	}
	return NAN;
}

/* ---- setup ----------------------------------------------------------- */

void
knn_block_init(KnnBlock *kb, KnnMetric metric, int dim,
			   const float *queries, int nqueries, int k,
			   int block_rows, void *workspace, void *heap_space)
{
	char	   *p = (char *) workspace;
	double		du = (double) (dim + 2) * ldexp(1.0, -24);

	memset(kb, 0, sizeof(*kb));
	kb->metric = metric;
	kb->dim = dim;
	kb->nqueries = nqueries;
	kb->k = k;
	kb->block_rows = block_rows;
	kb->queries = queries;
	kb->heaps = (KnnCandidate *) heap_space;
	kb->heap_len = (int *) (kb->heaps + (size_t) nqueries * k);
	kb->gamma = 1.01 * du / (1.0 - du);
	kb->eps_norm = (double) (2 * dim + 16) * ldexp(1.0, -52);

	/* doubles first, then 8-byte ids, then 4-byte items: all aligned */
	kb->qnorm2 = (double *) p;
	p += sizeof(double) * nqueries;
	kb->qnorm = (double *) p;
	p += sizeof(double) * nqueries;
	kb->rnorm2 = (double *) p;
	p += sizeof(double) * block_rows;
	kb->rnorm = (double *) p;
	p += sizeof(double) * block_rows;
	kb->raux = (double *) p;
	p += sizeof(double) * block_rows;
	kb->ids = (int64_t *) p;
	p += sizeof(int64_t) * block_rows;
	kb->rows = (float *) p;
	p += sizeof(float) * (size_t) block_rows * dim;
	kb->scores = (float *) p;

	for (int q = 0; q < nqueries; q++)
	{
		const float *x = queries + (size_t) q * dim;

		kb->heap_len[q] = 0;
		if (metric == KNN_METRIC_L1)
		{
			/* for l1 the overflow check needs the l1 norm */
			double		s = 0.0;

			for (int i = 0; i < dim; i++)
				s += fabs((double) x[i]);
			kb->qnorm2[q] = s;
			kb->qnorm[q] = s;
		}
		else
		{
			kb->qnorm2[q] = vec_norm_squared_f64(x, dim);
			kb->qnorm[q] = sqrt(kb->qnorm2[q]);
		}
	}

	if (metric == KNN_METRIC_L1)
		vec_kernels_init();
}

/* ---- searching a block ----------------------------------------------- */

/*
 * Offer row j to query q: compute its exact key and keep it if it beats
 * the k-th best.  Returns true when the heap changed.
 */
static bool
consider(KnnBlock *kb, int q, int j)
{
	KnnCandidate *heap = kb->heaps + (size_t) q * kb->k;
	int		   *len = &kb->heap_len[q];
	KnnCandidate cand;

	cand.key = exact_key(kb, q, j);
	cand.id = kb->ids[j];
	kb->exact_evals++;

	if (*len < kb->k)
	{
		heap_push(heap, len, cand);
		return true;
	}
	if (cand_cmp(&cand, &heap[0]) < 0)
	{
		heap[0] = cand;
		heap_sift_down(heap, *len, 0);
		return true;
	}
	return false;
}

/*
 * The estimate test "estimate - bound <= k-th key" is rearranged per
 * metric as v(j) <= threshold(q), with v cheap per row (see the table at
 * the top of the file):
 *
 *	l2		v = ||x||^2 (1-e) - 2 s - (2 gamma ||q||) ||x||
 *			threshold = top - ||q||^2 (1-e)
 *	ip		v = -s - (gamma ||q||) ||x||				threshold = top
 *	cosine	v = -s / ||x||	(0 for a zero row, whose key is NaN anyway)
 *			threshold = (top - 1 + gamma) ||q||
 *	l1		v = s (1 - gamma)							threshold = top
 */
static inline double
threshold(const KnnBlock *kb, int q, double top)
{
	switch (kb->metric)
	{
		case KNN_METRIC_L2:
			return top - kb->qnorm2[q] * (1.0 - kb->eps_norm);
		case KNN_METRIC_COSINE:
			return (top - 1.0 + kb->gamma) * kb->qnorm[q];
		case KNN_METRIC_IP:
		case KNN_METRIC_L1:
			return top;
	}
	return top;
}

/* v for rows [from, to) into out; returns their minimum. */
static inline double
chunk_values(const KnnBlock *kb, int q, const float *s, int from, int to,
			 double *out)
{
	double		m = INFINITY;
	int			n = to - from;
	const double *rn = kb->rnorm + from;
	const double *aux = kb->raux + from;

	s += from;
	switch (kb->metric)
	{
		case KNN_METRIC_L2:
			{
				double		a = 2.0 * kb->gamma * kb->qnorm[q];

				for (int i = 0; i < n; i++)
				{
					out[i] = aux[i] - 2.0 * (double) s[i] - a * rn[i];
					m = out[i] < m ? out[i] : m;
				}
				break;
			}
		case KNN_METRIC_IP:
			{
				double		a = kb->gamma * kb->qnorm[q];

				for (int i = 0; i < n; i++)
				{
					out[i] = -(double) s[i] - a * rn[i];
					m = out[i] < m ? out[i] : m;
				}
				break;
			}
		case KNN_METRIC_COSINE:
			for (int i = 0; i < n; i++)
			{
				out[i] = -(double) s[i] * aux[i];
				m = out[i] < m ? out[i] : m;
			}
			break;
		case KNN_METRIC_L1:
			{
				double		f = 1.0 - kb->gamma;

				for (int i = 0; i < n; i++)
				{
					out[i] = (double) s[i] * f;
					m = out[i] < m ? out[i] : m;
				}
				break;
			}
	}
	return m;
}

/*
 * Merge the block's rows into query q's heap.  Once the heap is full,
 * rows are taken KNN_CHUNK at a time and only those whose float32
 * estimate can beat the heap's worst (threshold() allows for the
 * estimate's error) get an exact key; while the heap holds a NaN, or when
 * a float32 sum of this query with the block could overflow, every row
 * does.
 */
static void
search_query(KnnBlock *kb, int q, int n, double block_max)
{
	const float *s = kb->scores + (size_t) q * n;
	KnnCandidate *heap = kb->heaps + (size_t) q * kb->k;
	bool		safe;
	int			j = 0;
	double		v[KNN_CHUNK];

	/* can a float32 sum of this query with a row of the block overflow? */
	if (kb->metric == KNN_METRIC_L1)
		safe = kb->qnorm[q] + block_max < KNN_SAFE_MAGNITUDE;
	else
		safe = kb->qnorm[q] * block_max < KNN_SAFE_MAGNITUDE;

	while (j < n)
	{
		int			end;
		double		thr;

		/* until the heap is full (or while it holds NaNs) all rows qualify */
		if (!safe || kb->heap_len[q] < kb->k || isnan(heap[0].key))
		{
			consider(kb, q, j);
			j++;
			continue;
		}

		end = j + KNN_CHUNK < n ? j + KNN_CHUNK : n;
		thr = threshold(kb, q, heap[0].key);
		if (chunk_values(kb, q, s, j, end, v) <= thr)
		{
			for (int i = j; i < end; i++)
			{
				if (v[i - j] <= thr && consider(kb, q, i))
					thr = threshold(kb, q, heap[0].key);
			}
		}
		j = end;
	}
}

/*
 * Search the rows gathered in the block for every query and empty it:
 * each row's norms, the float32 scores of every query against every row
 * (one sgemm, or the L1 kernel), then each query's heap in turn.
 */
static void
search_block(KnnBlock *kb)
{
	int			n = kb->nrows;
	int			dim = kb->dim;
	double		block_max = 0.0;

	if (n == 0)
		return;

	for (int j = 0; j < n; j++)
	{
		const float *x = kb->rows + (size_t) j * dim;
		double		n2 = vec_norm_squared_f64(x, dim);

		kb->rnorm2[j] = n2;
		kb->rnorm[j] = sqrt(n2);
		switch (kb->metric)
		{
			case KNN_METRIC_L2:
				kb->raux[j] = n2 * (1.0 - kb->eps_norm);
				break;
			case KNN_METRIC_COSINE:
				kb->raux[j] = n2 > 0.0 ? 1.0 / kb->rnorm[j] : 0.0;
				break;
			case KNN_METRIC_IP:
				kb->raux[j] = 0.0;
				break;
			case KNN_METRIC_L1:
				{
					double		s = 0.0;

					for (int i = 0; i < dim; i++)
						s += fabs((double) x[i]);
					kb->raux[j] = s;
					break;
				}
		}
		if (kb->metric == KNN_METRIC_L1)
			block_max = kb->raux[j] > block_max ? kb->raux[j] : block_max;
		else
			block_max = kb->rnorm[j] > block_max ? kb->rnorm[j] : block_max;
	}

	if (kb->metric == KNN_METRIC_L1)
	{
		/* rows outer: the query block stays in cache, each row is read once */
		for (int j = 0; j < n; j++)
		{
			const float *x = kb->rows + (size_t) j * dim;

			for (int q = 0; q < kb->nqueries; q++)
				kb->scores[(size_t) q * n + j] =
					vec_kernels->l1(kb->queries + (size_t) q * dim, x, dim);
		}
	}
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
					kb->nqueries, n, dim,
					1.0f, kb->queries, dim,
					kb->rows, dim,
					0.0f, kb->scores, n);

	for (int q = 0; q < kb->nqueries; q++)
		search_query(kb, q, n, block_max);

	kb->rows_seen += n;
	kb->nrows = 0;
}

void
knn_block_add_row(KnnBlock *kb, const float *x, int64_t id)
{
	memcpy(kb->rows + (size_t) kb->nrows * kb->dim, x, sizeof(float) * kb->dim);
	kb->ids[kb->nrows] = id;
	if (++kb->nrows == kb->block_rows)
		search_block(kb);
}

void
knn_block_flush(KnnBlock *kb)
{
	search_block(kb);
}

void
knn_block_finish(KnnBlock *kb)
{
	if (kb->finished)
		return;
	search_block(kb);
	for (int q = 0; q < kb->nqueries; q++)
	{
		KnnCandidate *heap = kb->heaps + (size_t) q * kb->k;
		int			len = kb->heap_len[q];

		qsort(heap, len, sizeof(KnnCandidate), cand_qsort_cmp);
		for (int i = 0; i < len; i++)
			heap[i].key = key_to_distance(kb->metric, heap[i].key);
	}
	kb->finished = true;
}

const KnnCandidate *
knn_block_result(const KnnBlock *kb, int q, int *n)
{
	*n = kb->heap_len[q];
	return kb->heaps + (size_t) q * kb->k;
}
