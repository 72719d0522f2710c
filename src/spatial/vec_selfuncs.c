/*
 * vec_selfuncs.c
 *		Planner statistics for vec columns of few dimensions, and the
 *		restriction estimate of "v <@ box" / "box @> v" drawn from them
 *		(src/spatial/core/boxsel.c holds the histograms themselves).
 *
 * ANALYZE of a vec column runs the standard analysis (null fraction,
 * width, the btree-order histogram) and then, when the column's vectors
 * have at most BOXSEL_MAX_DIMS dimensions, adds a slot of our own kind with
 * per-dimension boundaries and the grid shares.  Without those stats (no
 * ANALYZE yet, more dimensions, a box that is not a constant) the estimate
 * is the 0.1 % that contsel gives.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pg_list.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"

#include "boxsel.h"
#include "vbox.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(vec_typanalyze);
PG_FUNCTION_INFO_V1(vec_contained_in_vbox_sel);

/* our pg_statistic kind: outside 1-99 (core) and 100-199 (PostGIS) */
#define STATISTIC_KIND_MS_BOXSEL 7301

/* what contsel assumes, for a box without stats to go by */
#define DEFAULT_BOX_SEL 0.001

/* the standard analysis we run first, and its own state */
typedef struct VecAnalyzeState
{
	AnalyzeAttrComputeStatsFunc std_compute;
	void	   *std_extra;
} VecAnalyzeState;

/*
 * The sample's points of the first non-null row's dimension count, back
 * to back in a palloc'd array (a column without a typmod may mix counts;
 * the others are left out).  *n is how many, *dims their dimensions; NULL
 * when there is no non-null row or boxsel cannot take that many
 * dimensions.
 */
static float *
sample_points(VacAttrStatsP stats, AnalyzeAttrFetchFunc fetchfunc,
			  int samplerows, int *n, int *dims)
{
	float	   *points = NULL;

	*n = 0;
	*dims = 0;
	for (int i = 0; i < samplerows; i++)
	{
		bool		isnull;
		Datum		value = fetchfunc(stats, i, &isnull);
		Vec		   *v;

		vacuum_delay_point();
		if (isnull)
			continue;
		v = DatumGetVec(value);
		if (*dims == 0)
		{
			*dims = v->dim;
			if (boxsel_stats_size(*dims) == 0)
				return NULL;
			points = palloc(sizeof(float) * (Size) *dims * samplerows);
		}
		if (v->dim == *dims)
		{
			memcpy(points + (Size) *n * *dims, v->x, sizeof(float) * *dims);
			(*n)++;
		}
		if ((Pointer) v != DatumGetPointer(value))
			pfree(v);
	}
	return points;
}

/*
 * compute_stats of a vec column: the standard analysis, then, in a free
 * slot, the boxsel stats of the sample's points when their dimension count
 * allows it and there are at least two.
 */
static void
vec_compute_stats(VacAttrStatsP stats, AnalyzeAttrFetchFunc fetchfunc,
				  int samplerows, double totalrows)
{
	VecAnalyzeState *state = (VecAnalyzeState *) stats->extra_data;
	int			slot;
	int			dims;
	int			n;
	float	   *points;
	void	   *work;
	float	   *built;
	size_t		size;
	MemoryContext old;

	stats->extra_data = state->std_extra;
	state->std_compute(stats, fetchfunc, samplerows, totalrows);
	stats->extra_data = state;

	for (slot = 0; slot < STATISTIC_NUM_SLOTS; slot++)
		if (stats->stakind[slot] == 0)
			break;
	if (slot == STATISTIC_NUM_SLOTS)
		return;

	points = sample_points(stats, fetchfunc, samplerows, &n, &dims);
	/* a sample of one point (or none) tells nothing of spread */
	if (points == NULL || n < 2)
		return;

	size = boxsel_stats_size(dims);
	work = palloc(boxsel_work_size(n, dims));
	old = MemoryContextSwitchTo(stats->anl_context);
	built = palloc(sizeof(float) * size);
	MemoryContextSwitchTo(old);
	if (boxsel_build(points, n, dims, work, built) != size)
		return;
	stats->stakind[slot] = STATISTIC_KIND_MS_BOXSEL;
	stats->staop[slot] = InvalidOid;
	stats->stacoll[slot] = InvalidOid;
	stats->stanumbers[slot] = built;
	stats->numnumbers[slot] = (int) size;
	stats->numvalues[slot] = 0;
	pfree(work);
	pfree(points);
}

/*
 * vec_typanalyze(internal) RETURNS boolean: the type's ANALYZE function.
 */
Datum
vec_typanalyze(PG_FUNCTION_ARGS)
{
	VacAttrStats *stats = (VacAttrStats *) PG_GETARG_POINTER(0);
	VecAnalyzeState *state;

	if (!std_typanalyze(stats))
		PG_RETURN_BOOL(false);
	state = palloc(sizeof(VecAnalyzeState));
	state->std_compute = stats->compute_stats;
	state->std_extra = stats->extra_data;
	stats->compute_stats = vec_compute_stats;
	stats->extra_data = state;
	PG_RETURN_BOOL(true);
}

/*
 * vec_contained_in_vbox_sel(internal, oid, internal, integer): the
 * restriction estimate of vec <@ vbox and vbox @> vec.
 */
Datum
vec_contained_in_vbox_sel(PG_FUNCTION_ARGS)
{
	PlannerInfo *root = (PlannerInfo *) PG_GETARG_POINTER(0);
	Oid			operator = PG_GETARG_OID(1);
	List	   *args = (List *) PG_GETARG_POINTER(2);
	int			varRelid = PG_GETARG_INT32(3);
	Oid			lefttype;
	Oid			righttype;
	Oid			boxtype;
	VariableStatData vardata;
	Node	   *other;
	bool		varonleft;
	Const	   *box_const;
	VBox	   *box;
	AttStatsSlot sslot;
	double		nullfrac;
	double		share;
	Selectivity sel = DEFAULT_BOX_SEL;

	if (!get_restriction_variable(root, args, varRelid, &vardata, &other, &varonleft))
		PG_RETURN_FLOAT8(DEFAULT_BOX_SEL);

	/*
	 * The operator is vec <@ vbox or vbox @> vec: estimated here when the
	 * vec side is the variable and the vbox side a non-null constant.
	 */
	op_input_types(operator, &lefttype, &righttype);
	boxtype = varonleft ? righttype : lefttype;
	if (!IsA(other, Const) || ((Const *) other)->constisnull ||
		exprType(other) != boxtype || vardata.vartype != (varonleft ? lefttype : righttype) ||
		boxtype == vardata.vartype || !HeapTupleIsValid(vardata.statsTuple))
	{
		ReleaseVariableStats(vardata);
		PG_RETURN_FLOAT8(DEFAULT_BOX_SEL);
	}
	box_const = (Const *) other;
	box = DatumGetVBox(box_const->constvalue);
	nullfrac = ((Form_pg_statistic) GETSTRUCT(vardata.statsTuple))->stanullfrac;

	if (get_attstatsslot(&sslot, vardata.statsTuple, STATISTIC_KIND_MS_BOXSEL, InvalidOid,
						 ATTSTATSSLOT_NUMBERS))
	{
		share = boxsel_fraction(sslot.numbers, sslot.nnumbers, VBOX_LO(box), VBOX_HI(box),
								box->dim);
		/* -1: stats of another dimension count than the box's */
		if (share >= 0)
			sel = (1.0 - nullfrac) * share;
		free_attstatsslot(&sslot);
	}
	ReleaseVariableStats(vardata);
	CLAMP_PROBABILITY(sel);
	PG_RETURN_FLOAT8(sel);
}
