/*
 * knn_block.h
 *		Exact k-nearest-neighbour search of a batch of queries over rows fed
 *		in blocks: one cblas_sgemm per block estimates every query-row
 *		distance, a rigorous bound on float32 rounding decides which rows
 *		can still enter a query's top k, and only those are recomputed in
 *		double precision and kept in a bounded max-heap per query.
 *
 * Plain C (no postgres.h): the caller owns every byte of memory, so a
 * server can carve it from its own allocator and a unit test from malloc.
 *
 * Why the answer is exact even though sgemm works in float32: the heap of
 * each query only ever holds exactly computed (double) keys.  A row is
 * recomputed exactly whenever the lower end of its float32 estimate
 * interval reaches the current k-th exact key, so a row whose true key
 * beats the k-th is never dropped, whatever the cancellation in
 * ||q||^2 + ||x||^2 - 2 q.x.  The bound used (see knn_block.c) is the
 * textbook one for a float32 dot product of d terms, |fl(q.x) - q.x| <=
 * gamma_d * ||q|| ||x|| with gamma_d = d u / (1 - d u), u = 2^-24, which
 * holds for any summation order or blocking a BLAS may choose.
 */
#ifndef MS_KNN_BLOCK_H
#define MS_KNN_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum KnnMetric
{
	KNN_METRIC_L2 = 0,			/* Euclidean distance, operator <-> */
	KNN_METRIC_COSINE,			/* 1 - cos(angle), operator <=> */
	KNN_METRIC_IP,				/* negative inner product, operator <#> */
	KNN_METRIC_L1				/* taxicab distance, operator <+> */
} KnnMetric;

/* "l2", "cosine", "ip", "l1" -> metric; -1 when unknown. */
extern int	knn_metric_from_name(const char *name);
extern const char *knn_metric_name(KnnMetric metric);

/*
 * One candidate: before knn_block_finish() "key" is the ranking key (the
 * squared distance for l2), afterwards the distance the SQL operator of
 * the metric returns.  NaN (cosine with a zero vector) ranks after every
 * number, as in ORDER BY; equal keys are ordered by id so the answer does
 * not depend on the order rows arrive in.
 */
typedef struct KnnCandidate
{
	double		key;
	int64_t		id;
} KnnCandidate;

typedef struct KnnBlock
{
	KnnMetric	metric;
	int			dim;
	int			nqueries;
	int			k;
	int			block_rows;		/* capacity of the row block */

	const float *queries;		/* nqueries x dim, row-major, caller's */
	double	   *qnorm2;			/* per query: sum of squares (l1: sum |q|) */
	double	   *qnorm;			/* per query: sqrt(qnorm2) */

	float	   *rows;			/* block_rows x dim */
	int64_t    *ids;			/* block_rows */
	int			nrows;			/* rows buffered so far */
	float	   *scores;			/* nqueries x block_rows estimates */
	double	   *rnorm2;			/* per buffered row: sum of squares */
	double	   *rnorm;			/* per buffered row: sqrt(rnorm2) */
	double	   *raux;			/* per buffered row: metric-specific */

	KnnCandidate *heaps;		/* nqueries x k, in heap_space */
	int		   *heap_len;		/* nqueries, in heap_space */
	bool		finished;

	double		gamma;			/* relative bound on a float32 estimate */
	double		eps_norm;		/* relative bound on double norms */

	/* statistics, for tests and benchmarks */
	int64_t		rows_seen;
	int64_t		exact_evals;
} KnnBlock;

/*
 * Largest row block (at most max_rows) such that the query copy the caller
 * keeps (nqueries x dim floats) and the workspace fit in budget bytes; 0
 * when not even min_rows rows fit.
 */
extern int	knn_block_rows_for_budget(int dim, int nqueries, size_t budget,
									  int min_rows, int max_rows);

/*
 * Bytes of workspace knn_block_init() needs for the block (row copies,
 * scores, norms); it may be freed once knn_block_finish() has run.
 */
extern size_t knn_block_workspace_bytes(int dim, int nqueries, int block_rows);

/*
 * Bytes of the per-query heaps (nqueries x k candidates and their
 * lengths), which hold the answer until the caller is done with it.
 * Callers check nqueries x k against their limits first; this does not
 * guard against overflow beyond size_t.
 */
extern size_t knn_block_heap_bytes(int nqueries, int k);

/*
 * Prepare a search.  queries must stay valid until knn_block_finish();
 * workspace and heap_space (8-byte aligned, sizes as above) are used as
 * given: nothing is allocated.
 */
extern void knn_block_init(KnnBlock *kb, KnnMetric metric, int dim,
						   const float *queries, int nqueries, int k,
						   int block_rows, void *workspace,
						   void *heap_space);

/*
 * Copy one row (dim floats) into the block; a full block is searched at
 * once.  ids are the caller's and must be unique.
 */
extern void knn_block_add_row(KnnBlock *kb, const float *x, int64_t id);

/* Search the rows still buffered. */
extern void knn_block_flush(KnnBlock *kb);

/*
 * Flush, then sort every query's candidates by (key, id) and turn keys
 * into distances.  After this only knn_block_result() may be called.
 */
extern void knn_block_finish(KnnBlock *kb);

/* Query q's answer (0-based), nearest first; *n receives its length. */
extern const KnnCandidate *knn_block_result(const KnnBlock *kb, int q, int *n);

/*
 * The distance the metric's SQL operator defines, computed in double from
 * float32 inputs (l2 distance, cosine distance, negative inner product, l1
 * distance).  Used for reranking here and by callers that check answers.
 */
extern double knn_exact_distance(KnnMetric metric, const float *a,
								 const float *b, int dim);

#endif							/* MS_KNN_BLOCK_H */
