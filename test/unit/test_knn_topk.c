/*
 * test_knn_topk.c
 *		Unit tests for the bounded heap of src/knn/core/knn_topk.c: random
 *		streams (with many tied keys) against a full sort.
 */
#include <stdlib.h>

#include "unit.h"
#include "knn_topk.h"

static int
cmp_full(const void *a, const void *b)
{
	const KnnCandidate *x = a;
	const KnnCandidate *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

int
main(void)
{
	for (int round = 0; round < 200; round++)
	{
		int			n = (int) (unit_rng64() % 500);
		int			k = 1 + (int) (unit_rng64() % 40);
		KnnCandidate *all = malloc(sizeof(KnnCandidate) * (n + 1));
		KnnCandidate *space = malloc(sizeof(KnnCandidate) * k);
		KnnTopK		t;
		int			want;
		bool		same = true;

		knn_topk_init(&t, k, space);
		for (int i = 0; i < n; i++)
		{
			/* few distinct keys: ties are decided by id */
			all[i].key = (double) (unit_rng64() % 16);
			all[i].id = (int64_t) (unit_rng64() % 100000) * 1000 + i;
			knn_topk_push(&t, all[i].key, all[i].id);
		}
		knn_topk_sort(&t);
		qsort(all, n, sizeof(KnnCandidate), cmp_full);
		want = n < k ? n : k;
		CHECK(t.n == want, "round %d: %d candidates, want %d", round, t.n, want);
		for (int i = 0; i < want && i < t.n; i++)
			same = same && t.items[i].key == all[i].key && t.items[i].id == all[i].id;
		CHECK(same, "round %d: n=%d k=%d top k differs from the full sort", round, n, k);
		free(all);
		free(space);
	}
	return unit_finish("test_knn_topk");
}
