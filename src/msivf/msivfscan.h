/*
 * msivfscan.h
 *		The state of an msivf index scan, and the binary heaps it keeps its
 *		candidates and verified rows in (static inline: they run per entry
 *		and per row in msivfscan.c's loops).
 */
#ifndef MS_MSIVFSCAN_H
#define MS_MSIVFSCAN_H

#include <math.h>

#include "access/genam.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"

#include "msivf.h"
#include "list_order.h"
#include "quantizer.h"

/* an entry not yet verified: the lower bound of its key */
typedef struct Candidate
{
	float		lb;				/* lower bound of the distance key */
	ItemPointerData tid;
} Candidate;

/* a verified row: its exact key, waiting for its turn */
typedef struct Ready
{
	double		key;			/* exact key: NaN mapped to +inf */
	double		value;			/* what the operator returns */
	ItemPointerData tid;
} Ready;

typedef struct MsivfScanOpaqueData
{
	MemoryContext cxt;			/* lives as long as the scan */
	MemoryContext tmpcxt;		/* reset per reranked row */
	bool		started;
	bool		split_locked;	/* holds the split lock in share mode */
	bool		no_rows;		/* nothing indexed */
	bool		null_query;		/* ORDER BY <vec> <op> NULL: every row, in
								 * list order, with a NULL distance */
	int			served;			/* null_query: pool[0..served) returned */

	MsivfState	st;				/* scalars of the index state */
	Vec		   *query;			/* the ORDER BY argument, detoasted */
	float	   *q;				/* prepared query (unit for cosine) */
	float		qnorm;
	float		qnorm2;
	bool		zero_cosine;	/* cosine with a zero query: all NaN */
	float	   *v;				/* per-list query vector (L2: q - c) */

	/*
	 * The vector the codes are dotted with, quantized to int8 for the
	 * integer kernels: per list under L2, where it is q - c,
	 * once per scan otherwise, where it is q.
	 */
	QuantQuery8 qq;

	/*
	 * What multiplies the worst-case bounds of a 4-bit code's estimate: 1
	 * under strict order, MSIVF_CODE4_SIGMAS / sqrt(dims) under relaxed
	 * (see visit_batch).
	 */
	float		code4_kappa;

	int		   *order;			/* lists nearest first, as far as lorder sorted */
	float	   *scores;			/* per list: its centroid's score for the query */
	ListOrder	lorder;			/* the sorted prefix of order[] */
	int			visited;		/* lists of order[] visited */
	int			batch;			/* size of the next batch */

	/*
	 * Deepening (machinesoup.scan_deepen, relaxed order only): the first
	 * batch is sized for 10 rows; a consumer that asks for more (a WHERE
	 * that discards rows, a larger LIMIT) gets more lists early, before the
	 * pool runs dry.  returned counts the rows handed back; once it reaches
	 * deepen_at, the visited lists grow to what deeper results need
	 * (msivf_deepen_probes) and deepen_at doubles.  first_batch is the
	 * probe count the scan started with.
	 */
	int64		returned;
	int64		deepen_at;
	int			first_batch;

	/*
	 * The caps, taken from the settings when the scan starts (a cursor keeps
	 * its own): the lists it may visit (machinesoup.max_probes, else all)
	 * and the entries it may still examine (machinesoup.max_scan_tuples,
	 * else PG_INT64_MAX).  capped: the entry cap cut a list short, so the
	 * scan ends once the rows of what it examined are returned.
	 */
	int			list_limit;
	int64		tuples_left;
	bool		capped;

	/*
	 * Candidates of the current batch: a heap of the "hot" ones in
	 * pool[0..nhot), whose lower bound is at most hot_limit, then the cold
	 * rest in pool[cold_start..npool), heapified only if the scan gets that
	 * far.  hot_limit is the HOT_K-th smallest upper bound of the batch, so
	 * at least HOT_K rows are no farther than it and no cold candidate can
	 * come before them: a LIMIT-sized scan never sorts the bulk.
	 */
	Candidate  *pool;
	int			nhot;
	int			cold_start;
	int			npool;
	int			pool_cap;
	float		hot_limit;
	Ready	   *ready;
	int			nready;
	int			ready_cap;

	/* heap access for the exact rerank */
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	IndexInfo  *indexInfo;
	AttrNumber	attno;			/* 0: an expression index */
	EState	   *estate;
} MsivfScanOpaqueData;

typedef MsivfScanOpaqueData *MsivfScanOpaque;

/* ---- binary heaps ---------------------------------------------------- */

/* restores the min-heap on lb below h[i] */
static inline void
pool_sift_down(Candidate *h, int n, int i)
{
	Candidate	x = h[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1].lb < h[c].lb)
			c++;
		if (h[c].lb >= x.lb)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* makes h[0..n) a min-heap on lb */
static inline void
pool_heapify(Candidate *h, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		pool_sift_down(h, n, i);
}

/* removes and returns the hot candidate of smallest lower bound */
static inline Candidate
pool_pop(MsivfScanOpaque so)
{
	Candidate	top = so->pool[0];

	so->pool[0] = so->pool[--so->nhot];
	if (so->nhot > 0)
		pool_sift_down(so->pool, so->nhot, 0);
	return top;
}

/*
 * The cold candidates join the heap, and nothing is cold any more: no
 * limit holds back what comes out of it.
 */
static inline void
pool_promote_cold(MsivfScanOpaque so)
{
	int			ncold = so->npool - so->cold_start;

	memmove(so->pool + so->nhot, so->pool + so->cold_start, sizeof(Candidate) * ncold);
	so->nhot += ncold;
	so->npool = so->cold_start = so->nhot;
	so->hot_limit = INFINITY;
	pool_heapify(so->pool, so->nhot);
}

#define HOT_K 64

/*
 * Keeps the HOT_K smallest upper bounds offered in the max-heap h of *n;
 * returns the largest of them once there are HOT_K, +inf before.
 */
static inline float
hot_offer(float *h, int *n, float ub)
{
	int			i;

	if (*n < HOT_K)
	{
		i = (*n)++;
		while (i > 0 && h[(i - 1) / 2] < ub)
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = ub;
		return *n == HOT_K ? h[0] : INFINITY;
	}
	if (ub < h[0])
	{
		i = 0;
		for (;;)
		{
			int			c = 2 * i + 1;

			if (c >= HOT_K)
				break;
			if (c + 1 < HOT_K && h[c + 1] > h[c])
				c++;
			if (h[c] <= ub)
				break;
			h[i] = h[c];
			i = c;
		}
		h[i] = ub;
	}
	return h[0];
}

/* adds a verified row to the min-heap on its exact key, growing it as needed */
static inline void
ready_push(MsivfScanOpaque so, double key, double value, ItemPointer tid)
{
	int			i;

	if (so->nready == so->ready_cap)
	{
		so->ready_cap *= 2;
		so->ready = repalloc_huge(so->ready, sizeof(Ready) * so->ready_cap);
	}
	i = so->nready++;
	while (i > 0 && so->ready[(i - 1) / 2].key > key)
	{
		so->ready[i] = so->ready[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	so->ready[i].key = key;
	so->ready[i].value = value;
	so->ready[i].tid = *tid;
}

/* removes and returns the verified row of smallest exact key */
static inline Ready
ready_pop(MsivfScanOpaque so)
{
	Ready		top = so->ready[0];
	Ready		x = so->ready[--so->nready];
	int			n = so->nready;
	int			i = 0;

	if (n > 0)
	{
		for (;;)
		{
			int			c = 2 * i + 1;

			if (c >= n)
				break;
			if (c + 1 < n && so->ready[c + 1].key < so->ready[c].key)
				c++;
			if (so->ready[c].key >= x.key)
				break;
			so->ready[i] = so->ready[c];
			i = c;
		}
		so->ready[i] = x;
	}
	return top;
}

#endif							/* MS_MSIVFSCAN_H */
