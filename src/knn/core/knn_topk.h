/*
 * knn_topk.h
 *		A bounded max-heap keeping the k smallest (key, id) pairs, for exact
 *		kNN whose distances are computed row by row (bvec's popcounts) rather
 *		than by the blocked sgemm of knn_block.h.
 *
 * Plain C (no postgres.h); the caller owns the k candidates of storage.
 * Order: key, then id, as knn_block orders its candidates, so the answer
 * does not depend on the order rows arrive in.  Keys are never NaN.
 */
#ifndef MS_KNN_TOPK_H
#define MS_KNN_TOPK_H

#include "knn_block.h"

typedef struct KnnTopK
{
	int			k;				/* capacity */
	int			n;				/* candidates held, <= k */
	KnnCandidate *items;		/* a max-heap on (key, id) until sorted */
} KnnTopK;

extern void knn_topk_init(KnnTopK *t, int k, KnnCandidate *space);

/* Would (key, id) enter the heap?  Cheap, for a caller's early exit. */
static inline bool
knn_topk_accepts(const KnnTopK *t, double key)
{
	return t->n < t->k || key <= t->items[0].key;
}

extern void knn_topk_push(KnnTopK *t, double key, int64_t id);

/* Sort the candidates ascending by (key, id); the heap is done with. */
extern void knn_topk_sort(KnnTopK *t);

#endif							/* MS_KNN_TOPK_H */
