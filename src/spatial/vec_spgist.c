/*
 * vec_spgist.c
 *		vec_spgist_ops: an exact k-d tree over vecs for SP-GiST.
 *
 * Every inner tuple does two levels of a k-d tree at once, which halves
 * the inner tuples a search visits: it splits its points in two at the
 * median of the dimension in which they spread most (the prefix), then
 * each half at the median of its own widest dimension (the labels of that
 * half's two nodes).  Prefix and labels each pack a dimension and a split
 * value into one int8 (pass-by-value, no allocation).  Node 2h + l holds
 * the points of half h (h = 1 when x[d1] > s1) and side l of that half's
 * split (l = 1 when x[d2] > s2); a lower side holds values <= its split,
 * an upper side values >= it (equal values may sit on either side, so
 * searches visit both).  Leaves hold the vecs themselves, so index-only
 * scans work.
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
#include "access/spgist_private.h"
#include "catalog/pg_type.h"

#include "rtree.h"
#include "vbox.h"
#include "vec_distance.h"

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

/* Four children per inner tuple: node 2h + l, see the file header. */
#define KD_NODES 4

/* A split dimension and value as one pass-by-value int8 (prefix or label). */
static inline int64
pack_prefix(int dim, float4 split)
{
	uint32		bits;

	memcpy(&bits, &split, sizeof(bits));
	return ((int64) dim << 32) | (int64) bits;
}

/* The inverse of pack_prefix. */
static inline void
unpack_prefix(Datum d, int *dim, float4 *split)
{
	int64		p = DatumGetInt64(d);
	uint32		bits = (uint32) (p & 0xFFFFFFFF);

	*dim = (int) (p >> 32);
	memcpy(split, &bits, sizeof(bits));
}

/* An inner tuple's two levels of splits, unpacked. */
typedef struct KdSplits
{
	int			d;				/* the first split: x[d] vs split */
	float4		split;
	int			d2[2];			/* half h's own split: x[d2[h]] vs split2[h] */
	float4		split2[2];
} KdSplits;

/* The highest dimension the splits read: a vec needs one more than that. */
static inline int
kd_max_dim(const KdSplits *kd)
{
	return Max(kd->d, Max(kd->d2[0], kd->d2[1]));
}

/*
 * The widest vec a leaf tuple holds: SP-GiST refuses a leaf tuple (with
 * its line pointer) larger than a page's capacity, and takes leaf values
 * detoasted: 2032 dimensions for 8 kB pages.
 */
int
vec_spgist_max_dim(void)
{
	Size		room = MAXALIGN_DOWN(SPGIST_PAGE_CAPACITY - sizeof(ItemIdData));

	return (int) ((room - SGLTHDRSZ(false) - offsetof(Vec, x)) / sizeof(float4));
}

/* Prefix and labels are int8 splits; leaves keep the vec (index-only scans). */
Datum
vec_spgist_config(PG_FUNCTION_ARGS)
{
	spgConfigOut *cfg = (spgConfigOut *) PG_GETARG_POINTER(1);

	cfg->prefixType = INT8OID;
	cfg->labelType = INT8OID;
	cfg->canReturnData = true;
	cfg->longValuesOK = false;
	PG_RETURN_VOID();
}

/*
 * The node a new vec descends to: its half by the prefix split, then its
 * side of that half's own split (ties go to the lower side).  ERROR when
 * the vec has fewer dimensions than the splits read.
 */
Datum
vec_spgist_choose(PG_FUNCTION_ARGS)
{
	spgChooseIn *in = (spgChooseIn *) PG_GETARG_POINTER(0);
	spgChooseOut *out = (spgChooseOut *) PG_GETARG_POINTER(1);
	float4		buf[STACK_DIMS];
	int			vdim;
	/* the leaf value: for hvec_spgist_ops the vec its compress made */
	const float4 *x = ms_vec_floats(in->leafDatum, buf, STACK_DIMS, &vdim);
	int			d;
	float4		split;

	int			h;
	int			d2;
	float4		split2;

	if (in->allTheSame)
	{
		/* cannot happen (splits are by position); any node is right */
		out->resultType = spgMatchNode;
		out->result.matchNode.nodeN = 0;
		out->result.matchNode.levelAdd = 1;
		out->result.matchNode.restDatum = in->leafDatum;
		PG_RETURN_VOID();
	}

	unpack_prefix(in->prefixDatum, &d, &split);
	if (d >= vdim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", vdim, d + 1),
				 errdetail("The index holds vecs of at least %d dimensions.", d + 1)));
	h = (x[d] > split) ? 1 : 0;
	unpack_prefix(in->nodeLabels[2 * h], &d2, &split2);
	if (d2 >= vdim)
		vec_check_same_dims(vdim, d2 + 1);

	out->resultType = spgMatchNode;
	out->result.matchNode.nodeN = 2 * h + ((x[d2] > split2) ? 1 : 0);
	out->result.matchNode.levelAdd = 1;
	out->result.matchNode.restDatum = in->leafDatum;
	PG_RETURN_VOID();
}

/*
 * Turn a full leaf page into an inner tuple of KD_NODES nodes: split the
 * points at the median of their widest dimension, then each half at the
 * median of its own; the leaves keep their vecs unchanged.
 */
Datum
vec_spgist_picksplit(PG_FUNCTION_ARGS)
{
	spgPickSplitIn *in = (spgPickSplitIn *) PG_GETARG_POINTER(0);
	spgPickSplitOut *out = (spgPickSplitOut *) PG_GETARG_POINTER(1);
	int			n = in->nTuples;
	const float **pts = palloc(sizeof(float *) * n);
	unsigned char *side = palloc(n);
	const float **sub_pts = palloc(sizeof(float *) * n);
	int		   *sub = palloc(sizeof(int) * n);
	unsigned char *sub_side = palloc(n);
	void	   *work;
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

	work = palloc(rtree_kd_work_size(n));
	d = rtree_kd_split(n, dim, pts, side, &split, work);

	out->hasPrefix = true;
	out->prefixDatum = Int64GetDatum(pack_prefix(d, split));
	out->nNodes = KD_NODES;
	out->nodeLabels = palloc(sizeof(Datum) * KD_NODES);
	out->mapTuplesToNodes = palloc(sizeof(int) * n);
	out->leafTupleDatums = palloc(sizeof(Datum) * n);

	/* split each half again along its own widest dimension */
	for (int h = 0; h < 2; h++)
	{
		int			m = 0;
		int			d2 = 0;
		float4		split2;

		for (int i = 0; i < n; i++)
			if (side[i] == h)
			{
				sub[m] = i;
				sub_pts[m++] = pts[i];
			}
		Assert(m >= 1);
		if (m >= 2)
			d2 = rtree_kd_split(m, dim, sub_pts, sub_side, &split2, work);
		else
		{
			split2 = sub_pts[0][0];
			sub_side[0] = 0;
		}
		out->nodeLabels[2 * h] = out->nodeLabels[2 * h + 1] =
			Int64GetDatum(pack_prefix(d2, split2));
		for (int k = 0; k < m; k++)
			out->mapTuplesToNodes[sub[k]] = 2 * h + sub_side[k];
	}
	for (int i = 0; i < n; i++)
		out->leafTupleDatums[i] = in->datums[i];
	PG_RETURN_VOID();
}

/*
 * allTheSame inner tuples: every node may hold anything, at distance 0.
 * They cannot happen (splits are by position), but stay correct.
 */
static void
all_nodes_consistent(spgInnerConsistentIn *in, spgInnerConsistentOut *out)
{
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
}

/*
 * Clear want[node] for each node that cannot hold a point lying in every
 * box of the scan keys (vec <@ vbox): a lower side holds values <= its
 * split, an upper side values >= it.
 */
static void
prune_nodes_by_boxes(spgInnerConsistentIn *in, FmgrInfo *flinfo,
					 const KdSplits *kd, bool *want)
{
	for (int k = 0; k < in->nkeys; k++)
	{
		const VBox *box;

		if (in->scankeys[k].sk_strategy != VEC_STRATEGY_CONTAINED_BY)
			elog(ERROR, "unrecognized strategy number: %d", in->scankeys[k].sk_strategy);
		box = (const VBox *) ms_cached_detoast(flinfo, in->scankeys[k].sk_argument);
		if (kd_max_dim(kd) >= box->dim)
			vec_check_same_dims(box->dim, kd_max_dim(kd) + 1);
		for (int node = 0; node < KD_NODES; node++)
		{
			int			h = node >> 1;
			int			l = node & 1;

			if ((h == 0 && VBOX_LO(box)[kd->d] > kd->split) ||
				(h == 1 && VBOX_HI(box)[kd->d] < kd->split) ||
				(l == 0 && VBOX_LO(box)[kd->d2[h]] > kd->split2[h]) ||
				(l == 1 && VBOX_HI(box)[kd->d2[h]] < kd->split2[h]))
				want[node] = false;
		}
	}
}

/*
 * The region of child node in lo[0..qdim-1], hi[0..qdim-1]: the parent's
 * region (NULL: all of space) cut by the half, then by the side of that
 * half's own split.
 */
static inline void
child_region(const float4 *parent, const KdSplits *kd, int node,
			 float4 *lo, float4 *hi, int qdim)
{
	int			h = node >> 1;
	int			l = node & 1;

	if (parent == NULL)
	{
		for (int i = 0; i < qdim; i++)
		{
			lo[i] = -INFINITY;
			hi[i] = INFINITY;
		}
	}
	else
	{
		memcpy(lo, parent, sizeof(float4) * qdim);
		memcpy(hi, parent + qdim, sizeof(float4) * qdim);
	}
	if (h == 0 && hi[kd->d] > kd->split)
		hi[kd->d] = kd->split;
	if (h == 1 && lo[kd->d] < kd->split)
		lo[kd->d] = kd->split;
	if (l == 0 && hi[kd->d2[h]] > kd->split2[h])
		hi[kd->d2[h]] = kd->split2[h];
	if (l == 1 && lo[kd->d2[h]] < kd->split2[h])
		lo[kd->d2[h]] = kd->split2[h];
}

/*
 * Ordered scans: each wanted node with its region (the traversal value of
 * its subtree) and, for every ORDER BY vec, a distance no greater than
 * that of any leaf below it (the box distance scaled by the kernels'
 * slack).
 */
static void
ordered_nodes(spgInnerConsistentIn *in, spgInnerConsistentOut *out,
			  FmgrInfo *flinfo, const KdSplits *kd, const bool *want)
{
	/*
	 * One chunk for everything the core only reads before our memory
	 * context is reset (it copies the distances into its queue items);
	 * only the child regions must live on, each in its own allocation
	 * because the core frees them one by one.
	 */
	char	   *chunk = palloc(MAXALIGN(sizeof(int) * KD_NODES) +
							   sizeof(double *) * KD_NODES +
							   sizeof(void *) * KD_NODES +
							   sizeof(double) * KD_NODES * in->norderbys);
	double	   *dist;
	double		slack;
	const Vec  *q;
	int			qdim;

	out->nodeNumbers = (int *) chunk;
	chunk += MAXALIGN(sizeof(int) * KD_NODES);
	out->distances = (double **) chunk;
	chunk += sizeof(double *) * KD_NODES;
	out->traversalValues = (void **) chunk;
	chunk += sizeof(void *) * KD_NODES;
	dist = (double *) chunk;

	q = ms_cached_query_vec(flinfo, in->orderbys[0].sk_argument);
	qdim = q->dim;
	if (kd_max_dim(kd) >= qdim)
		vec_check_same_dims(qdim, kd_max_dim(kd) + 1);
	slack = rtree_kernel_slack(qdim);

	for (int node = 0; node < KD_NODES; node++)
	{
		float4	   *region;
		float4	   *lo;
		float4	   *hi;

		if (!want[node])
			continue;
		region = MemoryContextAlloc(in->traversalMemoryContext, sizeof(float4) * 2 * qdim);
		lo = region;
		hi = region + qdim;
		child_region(in->traversalValue, kd, node, lo, hi, qdim);

		for (int k = 0; k < in->norderbys; k++)
		{
			const Vec  *oq = (k == 0) ? q :
			ms_cached_query_vec(flinfo, in->orderbys[k].sk_argument);

			if (oq->dim != qdim)
				vec_check_same_dims(qdim, oq->dim);
			if (in->orderbys[k].sk_strategy == VEC_STRATEGY_L1)
				dist[k] = rtree_box_l1(oq->x, lo, hi, qdim) * slack;
			else
				dist[k] = sqrt(rtree_box_l2sq(oq->x, lo, hi, qdim) * slack);
		}
		out->nodeNumbers[out->nNodes] = node;
		out->distances[out->nNodes] = dist;
		out->traversalValues[out->nNodes] = region;
		out->nNodes++;
		dist += in->norderbys;
	}
}

/*
 * The nodes a search must visit: those whose points may lie in every box
 * of the scan keys, with (for ordered scans) their regions and distance
 * lower bounds.  ERROR when a key has fewer dimensions than the splits
 * read.
 */
Datum
vec_spgist_inner_consistent(PG_FUNCTION_ARGS)
{
	spgInnerConsistentIn *in = (spgInnerConsistentIn *) PG_GETARG_POINTER(0);
	spgInnerConsistentOut *out = (spgInnerConsistentOut *) PG_GETARG_POINTER(1);
	KdSplits	kd;
	bool		want[KD_NODES] = {true, true, true, true};

	if (in->allTheSame)
	{
		all_nodes_consistent(in, out);
		PG_RETURN_VOID();
	}
	Assert(in->hasPrefix && in->nNodes == KD_NODES);
	unpack_prefix(in->prefixDatum, &kd.d, &kd.split);
	for (int h = 0; h < 2; h++)
		unpack_prefix(in->nodeLabels[2 * h], &kd.d2[h], &kd.split2[h]);

	prune_nodes_by_boxes(in, fcinfo->flinfo, &kd, want);

	out->nNodes = 0;
	if (in->norderbys == 0)
	{
		out->nodeNumbers = palloc(sizeof(int) * KD_NODES);
		for (int node = 0; node < KD_NODES; node++)
			if (want[node])
				out->nodeNumbers[out->nNodes++] = node;
	}
	else
		ordered_nodes(in, out, fcinfo->flinfo, &kd, want);
	PG_RETURN_VOID();
}

/*
 * Does the leaf vec lie in every box of the scan keys (exactly, no
 * recheck)?  For ordered scans, also its exact distance to each ORDER BY
 * vec, computed as the operators compute it.
 */
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
			const Vec  *q = ms_cached_query_vec(fcinfo->flinfo,
												in->orderbys[k].sk_argument);

			vec_check_same_dims(dim, q->dim);
			if (in->orderbys[k].sk_strategy == VEC_STRATEGY_L1)
				dist[k] = vec_distance_l1(x, q->x, dim);
			else
				dist[k] = sqrt(vec_distance_l2_squared(x, q->x, dim));
		}
		out->distances = dist;
	}
	PG_RETURN_BOOL(true);
}
