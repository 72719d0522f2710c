/*
 * knn_topk.c
 *		The bounded max-heap of knn_topk.h.
 */
#include <stdlib.h>

#include "knn_topk.h"

/* a ranks after b: larger key, or the same key and a larger id */
static inline bool
after(const KnnCandidate *a, const KnnCandidate *b)
{
	return a->key > b->key || (a->key == b->key && a->id > b->id);
}

void
knn_topk_init(KnnTopK *t, int k, KnnCandidate *space)
{
	t->k = k;
	t->n = 0;
	t->items = space;
}

static void
sift_down(KnnCandidate *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			m = i;
		KnnCandidate tmp;

		if (l < n && after(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && after(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

void
knn_topk_push(KnnTopK *t, double key, int64_t id)
{
	KnnCandidate c = {key, id};
	KnnCandidate *h = t->items;

	if (t->n < t->k)
	{
		/* sift up */
		int			i = t->n++;

		while (i > 0 && after(&c, &h[(i - 1) / 2]))
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = c;
		return;
	}
	if (!after(&h[0], &c))
		return;
	h[0] = c;
	sift_down(h, t->n, 0);
}

static int
cmp_candidates(const void *a, const void *b)
{
	const KnnCandidate *x = a;
	const KnnCandidate *y = b;

	if (after(x, y))
		return 1;
	if (after(y, x))
		return -1;
	return 0;
}

void
knn_topk_sort(KnnTopK *t)
{
	qsort(t->items, t->n, sizeof(KnnCandidate), cmp_candidates);
}
