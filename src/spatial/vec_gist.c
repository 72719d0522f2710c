/*
 * vec_gist.c
 *		vec_gist_ops: an exact R-tree over vecs for GiST.
 *
 * Keys are vboxes (type vec_gistkey, stored plain so index keys are always
 * aligned 4-byte-header varlenas that the hot paths read in place): a leaf
 * key holds its point once (VBOX_POINT), an inner key the bounding box of
 * its subtree.  The geometry lives in src/spatial/core/rtree.c.
 *
 * Strategies:
 *		 8	vec <@ vbox		(point in box, bounds inclusive; exact, no recheck)
 *		15	vec <-> vec		ORDER BY, Euclidean
 *		16	vec <+> vec		ORDER BY, L1
 *
 * Ordered scans are exact: a leaf's distance is computed exactly as the
 * operator computes it (float32 kernel, double fallback on overflow), and
 * an inner key's distance is the exact box distance scaled down by
 * rtree_kernel_slack(), so it never exceeds a distance found below it.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/gist.h"
#include "access/gist_private.h"
#include "access/itup.h"
#include "access/stratnum.h"
#include "utils/sortsupport.h"

#include "hvec.h"
#include "rtree.h"
#include "vbox.h"
#include "vec_distance.h"

#define VEC_STRATEGY_CONTAINED_BY	8
#define VEC_STRATEGY_L2				15
#define VEC_STRATEGY_L1				16

/*
 * The widest vec whose inner key fits four times on a page: 252 dimensions
 * for 8 kB pages.  Fewer downlinks per page make a useless tree, and a
 * sorted build (which packs whole pages level by level) needs several per
 * page to converge on a root.
 */
#define VEC_GIST_MAX_DIM \
	((int) ((GiSTPageSize / 4 - sizeof(ItemIdData) - MAXALIGN(sizeof(IndexTupleData)) \
			 - offsetof(VBox, x)) / (2 * sizeof(float4))))

PG_FUNCTION_INFO_V1(vec_gist_consistent);
PG_FUNCTION_INFO_V1(vec_gist_union);
PG_FUNCTION_INFO_V1(vec_gist_compress);
PG_FUNCTION_INFO_V1(vec_gist_penalty);
PG_FUNCTION_INFO_V1(vec_gist_picksplit);
PG_FUNCTION_INFO_V1(vec_gist_same);
PG_FUNCTION_INFO_V1(vec_gist_distance);
PG_FUNCTION_INFO_V1(vec_gist_fetch);
PG_FUNCTION_INFO_V1(vec_gist_sortsupport);

/* see vbox.h */
int
vec_gist_max_dim(void)
{
	return VEC_GIST_MAX_DIM;
}

/* Keys are stored plain: read them in place. */
static inline const VBox *
entry_key(const GISTENTRY *entry)
{
	return (const VBox *) DatumGetPointer(entry->key);
}

/* The same for a key passed as a Datum (union, same, sort support). */
static inline const VBox *
datum_key(Datum d)
{
	return (const VBox *) DatumGetPointer(d);
}

/*
 * A leaf vec becomes a point key; inner keys are already boxes.  An hvec
 * (hvec_gist_ops) becomes the point of its float values, exactly, so the
 * leaf distances are those of the hvec operators.  ERROR when the vector
 * is wider than VEC_GIST_MAX_DIM.
 */
Datum
vec_gist_compress(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	GISTENTRY  *retval;
	struct varlena *raw;
	bool		is_hvec;
	Vec		   *v;
	VBox	   *key;

	if (!entry->leafkey)
		PG_RETURN_POINTER(entry);

	raw = PG_DETOAST_DATUM(entry->key);
	is_hvec = VARSIZE(raw) == HVEC_SIZE(((const HVec *) raw)->dim);
	v = is_hvec ? hvec_to_vec((const HVec *) raw) : (Vec *) raw;
	if (v->dim > VEC_GIST_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s supports at most %d dimensions, not %d",
						is_hvec ? "hvec_gist_ops" : "vec_gist_ops",
						VEC_GIST_MAX_DIM, v->dim),
				 errhint("Use an msivf index for high-dimensional vectors.")));

	key = (VBox *) palloc(VBOX_POINT_SIZE(v->dim));
	SET_VARSIZE(key, VBOX_POINT_SIZE(v->dim));
	key->dim = v->dim;
	key->flags = VBOX_POINT;
	memcpy(key->x, v->x, sizeof(float4) * v->dim);

	retval = (GISTENTRY *) palloc(sizeof(GISTENTRY));
	gistentryinit(*retval, PointerGetDatum(key), entry->rel, entry->page,
				  entry->offset, false);
	PG_RETURN_POINTER(retval);
}

/* Index-only scans: a leaf key is the point itself. */
Datum
vec_gist_fetch(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	const VBox *key = entry_key(entry);
	GISTENTRY  *retval;
	Vec		   *v = vec_new(key->dim);

	memcpy(v->x, key->x, sizeof(float4) * key->dim);
	retval = (GISTENTRY *) palloc(sizeof(GISTENTRY));
	gistentryinit(*retval, PointerGetDatum(v), entry->rel, entry->page,
				  entry->offset, false);
	PG_RETURN_POINTER(retval);
}

/*
 * May the entry hold a point inside the query box?  Exact for leaf keys
 * (no recheck), and only strategy 8 (vec <@ vbox) exists.
 */
Datum
vec_gist_consistent(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	StrategyNumber strategy = (StrategyNumber) PG_GETARG_UINT16(2);
	bool	   *recheck = (bool *) PG_GETARG_POINTER(4);
	const VBox *key = entry_key(entry);
	const VBox *query;

	*recheck = false;
	if (strategy != VEC_STRATEGY_CONTAINED_BY)
		elog(ERROR, "unrecognized strategy number: %d", strategy);

	query = (const VBox *) ms_cached_detoast(fcinfo->flinfo, PG_GETARG_DATUM(1));
	vec_check_same_dims(key->dim, query->dim);

	if (key->flags & VBOX_POINT)
		PG_RETURN_BOOL(rtree_box_contains_point(VBOX_LO(query), VBOX_HI(query),
												key->x, key->dim));
	PG_RETURN_BOOL(rtree_box_overlaps(VBOX_LO(key), VBOX_HI(key),
									  VBOX_LO(query), VBOX_HI(query), key->dim));
}

/*
 * The ORDER BY distance of an entry: for a leaf, that of the operator
 * itself; for an inner key, a bound no greater than any leaf's below it.
 */
Datum
vec_gist_distance(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	StrategyNumber strategy = (StrategyNumber) PG_GETARG_UINT16(2);
	bool	   *recheck = (bool *) PG_GETARG_POINTER(4);
	const VBox *key = entry_key(entry);
	const Vec  *q = ms_cached_query_vec(fcinfo->flinfo, PG_GETARG_DATUM(1));
	int			dim = key->dim;

	*recheck = false;
	if (unlikely(q->dim != dim))
		vec_check_same_dims(dim, q->dim);

	if (key->flags & VBOX_POINT)
	{
		if (strategy == VEC_STRATEGY_L2)
			PG_RETURN_FLOAT8(sqrt(vec_distance_l2_squared(key->x, q->x, dim)));
		if (strategy == VEC_STRATEGY_L1)
			PG_RETURN_FLOAT8(vec_distance_l1(key->x, q->x, dim));
	}
	else
	{
		const float *lo = key->x;
		const float *hi = key->x + dim;

		if (strategy == VEC_STRATEGY_L2)
			PG_RETURN_FLOAT8(sqrt(rtree_box_l2sq(q->x, lo, hi, dim) * rtree_kernel_slack(dim)));
		if (strategy == VEC_STRATEGY_L1)
			PG_RETURN_FLOAT8(rtree_box_l1(q->x, lo, hi, dim) * rtree_kernel_slack(dim));
	}
	elog(ERROR, "unrecognized strategy number: %d", strategy);
	PG_RETURN_NULL();
}

/* The bounding box of the entries. */
Datum
vec_gist_union(PG_FUNCTION_ARGS)
{
	GistEntryVector *entryvec = (GistEntryVector *) PG_GETARG_POINTER(0);
	int		   *sizep = (int *) PG_GETARG_POINTER(1);
	const VBox *first = entry_key(&entryvec->vector[0]);
	int			dim = first->dim;
	VBox	   *result = vbox_new(dim);
	float	   *lo = result->x;
	float	   *hi = result->x + dim;

	memcpy(lo, VBOX_LO(first), sizeof(float4) * dim);
	memcpy(hi, VBOX_HI(first), sizeof(float4) * dim);
	for (int i = 1; i < entryvec->n; i++)
	{
		const VBox *k = entry_key(&entryvec->vector[i]);

		vec_check_same_dims(dim, k->dim);
		rtree_box_extend(lo, hi, VBOX_LO(k), VBOX_HI(k), dim);
	}
	*sizep = VARSIZE(result);
	PG_RETURN_POINTER(result);
}

/* The cost of adding newentry under origentry, see rtree_penalty(). */
Datum
vec_gist_penalty(PG_FUNCTION_ARGS)
{
	GISTENTRY  *origentry = (GISTENTRY *) PG_GETARG_POINTER(0);
	GISTENTRY  *newentry = (GISTENTRY *) PG_GETARG_POINTER(1);
	float	   *penalty = (float *) PG_GETARG_POINTER(2);
	const VBox *o = entry_key(origentry);
	const VBox *n = entry_key(newentry);

	vec_check_same_dims(o->dim, n->dim);
	*penalty = rtree_penalty(VBOX_LO(o), VBOX_HI(o), VBOX_LO(n), VBOX_HI(n), o->dim);
	PG_RETURN_POINTER(penalty);
}

/* The bounding box of the keys with side[i] == which (there is at least one). */
static VBox *
union_of_side(const VBox **keys, const unsigned char *side, int n, int which, int dim)
{
	VBox	   *result = vbox_new(dim);
	bool		first = true;

	for (int i = 0; i < n; i++)
	{
		if (side[i] != which)
			continue;
		if (first)
		{
			memcpy(result->x, VBOX_LO(keys[i]), sizeof(float4) * dim);
			memcpy(result->x + dim, VBOX_HI(keys[i]), sizeof(float4) * dim);
			first = false;
		}
		else
			rtree_box_extend(result->x, result->x + dim, VBOX_LO(keys[i]), VBOX_HI(keys[i]), dim);
	}
	return result;
}

/* Split a full page in two by rtree_split(), with each side's bounding box. */
Datum
vec_gist_picksplit(PG_FUNCTION_ARGS)
{
	GistEntryVector *entryvec = (GistEntryVector *) PG_GETARG_POINTER(0);
	GIST_SPLITVEC *v = (GIST_SPLITVEC *) PG_GETARG_POINTER(1);
	int			n = entryvec->n - FirstOffsetNumber;
	const VBox **keys = palloc(sizeof(VBox *) * n);
	const float **lo = palloc(sizeof(float *) * n);
	const float **hi = palloc(sizeof(float *) * n);
	unsigned char *side = palloc(n);
	int			dim;

	for (int i = 0; i < n; i++)
	{
		keys[i] = entry_key(&entryvec->vector[i + FirstOffsetNumber]);
		lo[i] = VBOX_LO(keys[i]);
		hi[i] = VBOX_HI(keys[i]);
	}
	dim = keys[0]->dim;
	for (int i = 1; i < n; i++)
		vec_check_same_dims(dim, keys[i]->dim);

	rtree_split(n, dim, lo, hi, side, palloc(rtree_split_work_size(n, dim)));

	v->spl_left = palloc(sizeof(OffsetNumber) * n);
	v->spl_right = palloc(sizeof(OffsetNumber) * n);
	v->spl_nleft = v->spl_nright = 0;
	for (int i = 0; i < n; i++)
	{
		if (side[i] == 0)
			v->spl_left[v->spl_nleft++] = i + FirstOffsetNumber;
		else
			v->spl_right[v->spl_nright++] = i + FirstOffsetNumber;
	}
	v->spl_ldatum = PointerGetDatum(union_of_side(keys, side, n, 0, dim));
	v->spl_rdatum = PointerGetDatum(union_of_side(keys, side, n, 1, dim));
	PG_RETURN_POINTER(v);
}

/* Byte-for-byte equal keys (same kind, dimensions and bounds). */
Datum
vec_gist_same(PG_FUNCTION_ARGS)
{
	const VBox *a = datum_key(PG_GETARG_DATUM(0));
	const VBox *b = datum_key(PG_GETARG_DATUM(1));
	bool	   *result = (bool *) PG_GETARG_POINTER(2);

	*result = VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
	PG_RETURN_POINTER(result);
}

/* ----------------------------------------------------------------------
 * Sorted build: Hilbert order of the points (leaf keys)
 * ----------------------------------------------------------------------
 */

/* room for two transposed Hilbert indexes, kept across calls */
typedef struct HilbertScratch
{
	int			dim;
	uint32		x[FLEXIBLE_ARRAY_MEMBER];
} HilbertScratch;

/* Scratch for two Hilbert indexes of dim dimensions, grown as needed. */
static uint32 *
hilbert_scratch(SortSupport ssup, int dim)
{
	HilbertScratch *s = (HilbertScratch *) ssup->ssup_extra;

	if (s == NULL || s->dim < dim)
	{
		s = MemoryContextAlloc(ssup->ssup_cxt,
							   offsetof(HilbertScratch, x) + sizeof(uint32) * 2 * dim);
		s->dim = dim;
		ssup->ssup_extra = s;
	}
	return s->x;
}

/* The Hilbert order of two leaf keys (full comparison). */
static int
hilbert_cmp(Datum a, Datum b, SortSupport ssup)
{
	const VBox *ka = datum_key(a);
	const VBox *kb = datum_key(b);

	vec_check_same_dims(ka->dim, kb->dim);
	return rtree_hilbert_cmp(VBOX_LO(ka), VBOX_LO(kb), ka->dim,
							 hilbert_scratch(ssup, ka->dim));
}

/* The leading bits of a key's Hilbert index, as an abbreviated key. */
static Datum
hilbert_abbrev_convert(Datum original, SortSupport ssup)
{
	const VBox *k = datum_key(original);
	uint64		h = rtree_hilbert_abbrev(VBOX_LO(k), k->dim, hilbert_scratch(ssup, k->dim));

#if SIZEOF_DATUM == 8
	return UInt64GetDatum(h);
#else
	return UInt32GetDatum((uint32) (h >> 32));
#endif
}

static int
hilbert_abbrev_cmp(Datum x, Datum y, SortSupport ssup)
{
	/* unsigned comparison of the abbreviated keys */
	if (x < y)
		return -1;
	if (x > y)
		return 1;
	return 0;
}

/* Keep abbreviating, whatever the keys seen so far look like. */
static bool
hilbert_abbrev_abort(int memtupcount, SortSupport ssup)
{
	return false;
}

/* Sorted build: points in Hilbert order, abbreviated when the sort asks. */
Datum
vec_gist_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	if (ssup->abbreviate)
	{
		ssup->comparator = hilbert_abbrev_cmp;
		ssup->abbrev_converter = hilbert_abbrev_convert;
		ssup->abbrev_abort = hilbert_abbrev_abort;
		ssup->abbrev_full_comparator = hilbert_cmp;
	}
	else
		ssup->comparator = hilbert_cmp;
	PG_RETURN_VOID();
}
