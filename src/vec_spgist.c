/*
 * vec_spgist.c
 *		vec_spgist_ops: an exact k-d tree over vecs for SP-GiST.
 *
 * Every inner tuple splits its points in two at the median of the
 * dimension in which they spread most; its prefix packs that dimension and
 * the split value into one int8 (no allocation, pass-by-value).  Node 0
 * holds points with x[dim] <= split, node 1 those with x[dim] >= split
 * (equal values may sit on either side, so searches visit both).  Leaves
 * hold the vecs themselves, so index-only scans work.
 *
 * Strategies (the same numbers as vec_gist_ops):
 *		 8	vec <@ vbox		exact, no recheck
 *		15	vec <-> vec		ORDER BY, Euclidean
 *		16	vec <+> vec		ORDER BY, L1
 *
 * For ordered scans each inner node carries its region (a box, as the
 * traversal value) and reports the box distance of each child region,
 * scaled by rtree_kernel_slack() so it never exceeds the float32 distance
 * computed at a leaf below it; leaf distances are computed exactly as the
 * operators compute them.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/spgist.h"
#include "catalog/pg_type.h"

#include "rtree.h"
#include "vbox.h"
#include "vec_exact.h"
#include "vec_kernels.h"

#define VEC_STRATEGY_CONTAINED_BY	8
#define VEC_STRATEGY_L2				15
#define VEC_STRATEGY_L1				16

/* leaf points up to this many dims are read on the stack */
#define STACK_DIMS 64

PG_FUNCTION_INFO_V1(vec_spgist_config);
PG_FUNCTION_INFO_V1(vec_spgist_choose);
PG_FUNCTION_INFO_V1(vec_spgist_picksplit);
PG_FUNCTION_INFO_V1(vec_spgist_inner_consistent);
PG_FUNCTION_INFO_V1(vec_spgist_leaf_consistent);

static inline int64
pack_prefix(int dim, float4 split)
{
	uint32		bits;

	memcpy(&bits, &split, sizeof(bits));
	return ((int64) dim << 32) | (int64) bits;
}

static inline void
unpack_prefix(Datum d, int *dim, float4 *split)
{
	int64		p = DatumGetInt64(d);
	uint32		bits = (uint32) (p & 0xFFFFFFFF);

	*dim = (int) (p >> 32);
	memcpy(split, &bits, sizeof(bits));
}

static inline double
exact_l2(const float *a, const float *b, int dim)
{
	float		d = vec_kernels->l2_squared(a, b, dim);

	if (unlikely(isinf(d)))
		return sqrt(vec_l2_squared_f64(a, b, dim));
	return sqrt((double) d);
}

static inline double
exact_l1(const float *a, const float *b, int dim)
{
	float		d = vec_kernels->l1(a, b, dim);

	if (unlikely(isinf(d)))
		return vec_l1_f64(a, b, dim);
	return (double) d;
}

Datum
vec_spgist_config(PG_FUNCTION_ARGS)
{
	spgConfigOut *cfg = (spgConfigOut *) PG_GETARG_POINTER(1);

	cfg->prefixType = INT8OID;
	cfg->labelType = VOIDOID;
	cfg->canReturnData = true;
	cfg->longValuesOK = false;
	PG_RETURN_VOID();
}

Datum
vec_spgist_choose(PG_FUNCTION_ARGS)
{
	spgChooseIn *in = (spgChooseIn *) PG_GETARG_POINTER(0);
	spgChooseOut *out = (spgChooseOut *) PG_GETARG_POINTER(1);
	float4		buf[STACK_DIMS];
	int			vdim;
	const float4 *x = ms_vec_floats(in->datum, buf, STACK_DIMS, &vdim);
	int			d;
	float4		split;

	unpack_prefix(in->prefixDatum, &d, &split);
	if (d >= vdim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", vdim, d + 1),
				 errdetail("The index holds vecs of at least %d dimensions.", d + 1)));

	out->resultType = spgMatchNode;
	out->result.matchNode.nodeN = (x[d] > split) ? 1 : 0;
	out->result.matchNode.levelAdd = 1;
	out->result.matchNode.restDatum = in->datum;
	PG_RETURN_VOID();
}

Datum
vec_spgist_picksplit(PG_FUNCTION_ARGS)
{
	spgPickSplitIn *in = (spgPickSplitIn *) PG_GETARG_POINTER(0);
	spgPickSplitOut *out = (spgPickSplitOut *) PG_GETARG_POINTER(1);
	int			n = in->nTuples;
	const float **pts = palloc(sizeof(float *) * n);
	unsigned char *side = palloc(n);
	int			dim = -1;
	int			d;
	float4		split;

	for (int i = 0; i < n; i++)
	{
		Vec		   *v = DatumGetVec(in->datums[i]);

		if (dim < 0)
			dim = v->dim;
		vec_check_same_dims(dim, v->dim);
		pts[i] = v->x;
	}

	d = rtree_kd_split(n, dim, pts, side, &split, palloc(rtree_kd_work_size(n)));

	out->hasPrefix = true;
	out->prefixDatum = Int64GetDatum(pack_prefix(d, split));
	out->nNodes = 2;
	out->nodeLabels = NULL;
	out->mapTuplesToNodes = palloc(sizeof(int) * n);
	out->leafTupleDatums = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		out->mapTuplesToNodes[i] = side[i];
		out->leafTupleDatums[i] = in->datums[i];
	}
	PG_RETURN_VOID();
}

/* The region of the root: all of space, in the query's dimensions. */
static float4 *
unbounded_region(int dim)
{
	float4	   *r = palloc(sizeof(float4) * 2 * dim);

	for (int i = 0; i < dim; i++)
	{
		r[i] = -INFINITY;
		r[dim + i] = INFINITY;
	}
	return r;
}

Datum
vec_spgist_inner_consistent(PG_FUNCTION_ARGS)
{
	spgInnerConsistentIn *in = (spgInnerConsistentIn *) PG_GETARG_POINTER(0);
	spgInnerConsistentOut *out = (spgInnerConsistentOut *) PG_GETARG_POINTER(1);
	int			d;
	float4		split;
	bool		want[2] = {true, true};
	const Vec  *q = NULL;
	int			qdim = 0;

	if (in->allTheSame)
	{
		/* cannot happen (splits are by position), but stay correct */
		out->nNodes = in->nNodes;
		out->nodeNumbers = palloc(sizeof(int) * in->nNodes);
		for (int i = 0; i < in->nNodes; i++)
			out->nodeNumbers[i] = i;
		if (in->norderbys > 0)
		{
			out->distances = palloc(sizeof(double *) * in->nNodes);
			out->traversalValues = palloc(sizeof(void *) * in->nNodes);
			for (int i = 0; i < in->nNodes; i++)
			{
				out->distances[i] = palloc0(sizeof(double) * in->norderbys);
				out->traversalValues[i] = NULL;
			}
		}
		PG_RETURN_VOID();
	}
	Assert(in->hasPrefix && in->nNodes == 2);
	unpack_prefix(in->prefixDatum, &d, &split);

	for (int k = 0; k < in->nkeys; k++)
	{
		const VBox *box;

		if (in->scankeys[k].sk_strategy != VEC_STRATEGY_CONTAINED_BY)
			elog(ERROR, "unrecognized strategy number: %d", in->scankeys[k].sk_strategy);
		box = (const VBox *) ms_cached_detoast(fcinfo->flinfo, in->scankeys[k].sk_argument);
		if (d >= box->dim)
			vec_check_same_dims(box->dim, d + 1);
		if (VBOX_LO(box)[d] > split)
			want[0] = false;
		if (VBOX_HI(box)[d] < split)
			want[1] = false;
	}

	out->nNodes = 0;
	out->nodeNumbers = palloc(sizeof(int) * 2);
	if (in->norderbys > 0)
	{
		out->distances = palloc(sizeof(double *) * 2);
		out->traversalValues = palloc(sizeof(void *) * 2);
		q = (const Vec *) ms_cached_detoast(fcinfo->flinfo, in->orderbys[0].sk_argument);
		qdim = q->dim;
		if (d >= qdim)
			vec_check_same_dims(qdim, d + 1);
	}

	for (int node = 0; node < 2; node++)
	{
		if (!want[node])
			continue;
		out->nodeNumbers[out->nNodes] = node;
		if (in->norderbys > 0)
		{
			const float4 *parent = in->traversalValue;
			MemoryContext old = MemoryContextSwitchTo(in->traversalMemoryContext);
			float4	   *region;
			double	   *dist;
			double		slack = rtree_kernel_slack(qdim);

			if (parent == NULL)
				region = unbounded_region(qdim);
			else
			{
				region = palloc(sizeof(float4) * 2 * qdim);
				memcpy(region, parent, sizeof(float4) * 2 * qdim);
			}
			MemoryContextSwitchTo(old);
			if (node == 0 && region[qdim + d] > split)
				region[qdim + d] = split;
			if (node == 1 && region[d] < split)
				region[d] = split;

			dist = palloc(sizeof(double) * in->norderbys);
			for (int k = 0; k < in->norderbys; k++)
			{
				const Vec  *oq = (k == 0) ? q :
				(const Vec *) ms_cached_detoast(fcinfo->flinfo, in->orderbys[k].sk_argument);

				if (oq->dim != qdim)
					vec_check_same_dims(qdim, oq->dim);
				if (in->orderbys[k].sk_strategy == VEC_STRATEGY_L1)
					dist[k] = rtree_box_l1(oq->x, region, region + qdim, qdim) * slack;
				else
					dist[k] = sqrt(rtree_box_l2sq(oq->x, region, region + qdim, qdim) * slack);
			}
			out->distances[out->nNodes] = dist;
			out->traversalValues[out->nNodes] = region;
		}
		out->nNodes++;
	}
	PG_RETURN_VOID();
}

Datum
vec_spgist_leaf_consistent(PG_FUNCTION_ARGS)
{
	spgLeafConsistentIn *in = (spgLeafConsistentIn *) PG_GETARG_POINTER(0);
	spgLeafConsistentOut *out = (spgLeafConsistentOut *) PG_GETARG_POINTER(1);
	float4		buf[STACK_DIMS];
	int			dim;
	const float4 *x = ms_vec_floats(in->leafDatum, buf, STACK_DIMS, &dim);

	out->leafValue = in->leafDatum;
	out->recheck = false;
	out->recheckDistances = false;

	for (int k = 0; k < in->nkeys; k++)
	{
		const VBox *box;

		if (in->scankeys[k].sk_strategy != VEC_STRATEGY_CONTAINED_BY)
			elog(ERROR, "unrecognized strategy number: %d", in->scankeys[k].sk_strategy);
		box = (const VBox *) ms_cached_detoast(fcinfo->flinfo, in->scankeys[k].sk_argument);
		vec_check_same_dims(dim, box->dim);
		if (!rtree_box_contains_point(VBOX_LO(box), VBOX_HI(box), x, dim))
			PG_RETURN_BOOL(false);
	}

	if (in->norderbys > 0)
	{
		double	   *dist = palloc(sizeof(double) * in->norderbys);

		for (int k = 0; k < in->norderbys; k++)
		{
			const Vec  *q = (const Vec *) ms_cached_detoast(fcinfo->flinfo,
															in->orderbys[k].sk_argument);

			vec_check_same_dims(dim, q->dim);
			if (in->orderbys[k].sk_strategy == VEC_STRATEGY_L1)
				dist[k] = exact_l1(x, q->x, dim);
			else
				dist[k] = exact_l2(x, q->x, dim);
		}
		out->distances = dist;
	}
	PG_RETURN_BOOL(true);
}
