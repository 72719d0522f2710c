/*
 * list_order.h
 *		The order in which a scan visits msivf's lists: list numbers sorted
 *		by their centroid's score for the query, computed only as far as
 *		the scan reads.
 *
 * A relaxed scan reads its probes' lists, a few percent of them, and only
 * sometimes goes on; sorting every list per query cost more than scoring
 * them once the index has thousands of lists.  So the order is produced
 * in sorted prefixes: list_order_extend() makes the first k entries the k
 * lowest scores in order, selecting them from the rest first (a
 * quickselect, falling back to a sort of the part left where the selection
 * degrades), so a query pays O(lists + k log k) for the lists it reads.
 *
 * The order is total and does not depend on how the prefixes were taken:
 * by score, NaN (a score that overflowed float32) last, ties by list
 * number.
 *
 * Plain C (no postgres.h).
 */
#ifndef MSIVF_LIST_ORDER_H
#define MSIVF_LIST_ORDER_H

#include <stdbool.h>

typedef struct ListOrder
{
	int		   *order;			/* list numbers; [0, sorted) final */
	const float *scores;		/* per list number, lower first */
	int			nlists;
	int			sorted;			/* how many leading entries are final */
} ListOrder;

/* starts an order of lists 0 .. nlists-1 over scores; nothing sorted yet */
extern void list_order_init(ListOrder *lo, int *order, const float *scores, int nlists);

/*
 * Makes at least the first k entries final (k is capped at nlists), taking
 * at least as many as are final already, so a scan that widens step by step
 * pays for O(log lists) selections, not one per step.
 */
extern void list_order_extend(ListOrder *lo, int k);

/* whether list a comes before list b */
extern bool list_order_before(const float *scores, int a, int b);

#endif							/* MSIVF_LIST_ORDER_H */
