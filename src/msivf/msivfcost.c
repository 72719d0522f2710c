/*
 * msivfcost.c
 *		Planner cost estimate for msivf scans.
 *
 * An msivf scan only serves ORDER BY <vec> <op> <constant>: without an
 * ORDER BY it is priced out.  With one, it reads the probed fraction of the
 * index before returning its first row, so that is its startup cost; each
 * further row costs a heap fetch (which cost_index adds).  Under a LIMIT
 * this is far cheaper than reading and sorting the table; without one the
 * planner prefers the plain scan.
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "optimizer/optimizer.h"
#include "utils/selfuncs.h"
#include "utils/rel.h"

#include "msivf.h"

/*
 * amcostestimate: without an ORDER BY, a cost no plan picks; with one, the
 * cost of reading the probes' share of the index, all of it at startup
 * (see the file header).  The probes are those a scan would start with
 * under the current settings: every list for a strict scan, never more
 * than the caps (machinesoup.max_probes, max_scan_tuples) allow.
 */
void
msivf_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				   Cost *indexStartupCost, Cost *indexTotalCost,
				   Selectivity *indexSelectivity, double *indexCorrelation,
				   double *indexPages)
{
	GenericCosts costs;
	Relation	index;
	MsivfState *st;
	double		ratio;
	int			nlists;
	int			probes;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = 1.0e10;
		*indexTotalCost = 1.0e10;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	st = msivf_get_state(index);
	nlists = Max(1, st->nlists);
	probes = st->dims > 0 ? msivf_probes_for(st) : 1;
	/* a strict scan reads every list it may visit before its first row */
	if (msivf_scan_order == MSIVF_SCAN_STRICT)
		probes = nlists;
	if (st->dims > 0)
		probes = Min(probes, msivf_list_limit(st));
	index_close(index, NoLock);

	ratio = Min(1.0, (double) probes / nlists);

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = Max(1.0, path->indexinfo->tuples * ratio);
	if (msivf_max_scan_tuples > 0)
		costs.numIndexTuples = Min(costs.numIndexTuples, (double) msivf_max_scan_tuples);
	genericcostestimate(root, path, loop_count, &costs);

	/* every probed list is read before the first row comes back */
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = 1.0;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}
