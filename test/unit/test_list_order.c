/*
 * test_list_order.c
 *		Unit tests for msivf's list order (src/msivf/core/list_order.c):
 *		prefixes taken in random steps against one full sort, with tied
 *		scores, NaN, sorted and reversed inputs, and inputs built to defeat
 *		a median-of-three pivot.
 */
#include <math.h>
#include <stdlib.h>

#include "unit.h"
#include "list_order.h"

static const float *cmp_scores;

static int
cmp_full(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	if (list_order_before(cmp_scores, x, y))
		return -1;
	return list_order_before(cmp_scores, y, x) ? 1 : 0;
}

/* scores of one kind of case */
static void
fill(float *s, int n, int kind)
{
	for (int i = 0; i < n; i++)
	{
		switch (kind)
		{
			case 0:				/* distinct, random */
				s[i] = (float) (unit_rng64() % 1000000) / 7.0f;
				break;
			case 1:				/* few values: many ties */
				s[i] = (float) (unit_rng64() % 4);
				break;
			case 2:				/* ascending */
				s[i] = (float) i;
				break;
			case 3:				/* descending */
				s[i] = (float) (n - i);
				break;
			case 4:				/* random with NaN and infinities */
				{
					uint64_t	r = unit_rng64() % 10;

					s[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY :
						(float) (unit_rng64() % 1000) - 500.0f;
				}
				break;
			default:			/* organ pipe: up then down */
				s[i] = (float) (i < n / 2 ? i : n - i);
				break;
		}
	}
}

int
main(void)
{
	for (int round = 0; round < 600; round++)
	{
		int			n = round < 30 ? round : 1 + (int) (unit_rng64() % 5000);
		int			kind = round % 6;
		float	   *scores = malloc(sizeof(float) * (n + 1));
		int		   *want = malloc(sizeof(int) * (n + 1));
		int		   *got = malloc(sizeof(int) * (n + 1));
		ListOrder	lo;
		bool		ok = true;

		fill(scores, n, kind);
		for (int i = 0; i < n; i++)
			want[i] = i;
		cmp_scores = scores;
		qsort(want, n, sizeof(int), cmp_full);

		list_order_init(&lo, got, scores, n);
		while (lo.sorted < n)
		{
			int			before = lo.sorted;
			int			k = before + 1 + (int) (unit_rng64() % (1 + n / 8));

			list_order_extend(&lo, k);
			CHECK(lo.sorted >= (k < n ? k : n) && lo.sorted <= n,
				  "n %d kind %d: asked %d, sorted %d", n, kind, k, lo.sorted);
			CHECK(lo.sorted > before, "n %d kind %d: no progress", n, kind);
			for (int i = 0; i < lo.sorted && ok; i++)
				ok = got[i] == want[i];
			CHECK(ok, "n %d kind %d: prefix of %d differs from the full sort",
				  n, kind, lo.sorted);
			if (!ok)
				break;
		}
		/* asking again for less changes nothing */
		list_order_extend(&lo, 1);
		CHECK(lo.sorted == n, "n %d: sorted %d after the end", n, lo.sorted);

		free(scores);
		free(want);
		free(got);
	}
	return unit_finish("list_order");
}
