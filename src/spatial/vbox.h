/*
 * vbox.h
 *		The vbox type (an axis-aligned n-dimensional box of float4 bounds)
 *		and the helpers the spatial opclasses share: fast, copy-free access
 *		to vec and vbox arguments and to index keys.
 */
#ifndef MS_VBOX_H
#define MS_VBOX_H

#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "vec.h"

/*
 * x[] holds lo[0..dim-1] then hi[0..dim-1].  A GiST key of a single point
 * (flag VBOX_POINT) stores the point once: lo == hi == x[0..dim-1]; such
 * keys never leave the index as SQL vbox values.
 */
typedef struct VBox
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of dimensions */
	int16		flags;			/* VBOX_POINT or 0 */
	float4		x[FLEXIBLE_ARRAY_MEMBER];
} VBox;

#define VBOX_POINT			0x0001

#define VBOX_SIZE(dim)		(offsetof(VBox, x) + sizeof(float4) * 2 * (dim))
#define VBOX_POINT_SIZE(dim) (offsetof(VBox, x) + sizeof(float4) * (dim))
#define VBOX_LO(b)			((b)->x)
#define VBOX_HI(b)			(((b)->flags & VBOX_POINT) ? (b)->x : (b)->x + (b)->dim)

#define DatumGetVBox(d)		((VBox *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VBOX_P(n) DatumGetVBox(PG_GETARG_DATUM(n))
#define PG_RETURN_VBOX_P(b) PG_RETURN_POINTER(b)

/* A zeroed box of dim dimensions, palloc'd in the current context. */
extern VBox *vbox_new(int dim);

/*
 * The cube [c - r, c + r] rounded outward to float4 and clamped to the
 * finite float4 range, so that every point within exact distance r of c
 * lies in it.  ERROR for a negative or NaN radius.
 */
extern VBox *vbox_around(const Vec *center, double radius);

/*
 * The vec or vbox behind a function argument, detoasted without a copy
 * when it already is a plain 4-byte-header varlena (the usual case for
 * constants and parameters), else detoasted once and cached in fn_extra
 * for as long as the argument's raw bytes stay the same: an index scan
 * calls its support functions once per entry with the same query.
 */
extern struct varlena *ms_cached_detoast(FmgrInfo *flinfo, Datum d);

/*
 * An ORDER BY argument of a vec or hvec opclass as a vec: ms_cached_detoast,
 * then an hvec converted (exactly) and cached the same way, so that the
 * hvec opclasses run the vec code on the floats the hvec operators compute
 * with.
 */
extern const Vec *ms_cached_query_vec(FmgrInfo *flinfo, Datum d);

/*
 * Floats of a vec datum that may have a short (1-byte) header, as index
 * leaf tuples store small values: returns an aligned pointer, copying into
 * buf (room for bufcap floats) or a palloc'd array when needed.
 */
extern const float4 *ms_vec_floats(Datum d, float4 *buf, int bufcap, int *dim);

/* The widest vec each opclass indexes (vec_gist.c, vec_spgist.c). */
extern int	vec_gist_max_dim(void);
extern int	vec_spgist_max_dim(void);

/* CREATE INDEX checks the declared dimensions (vec_index_dims.c). */
extern void ms_vec_index_dims_init(void);

#endif							/* MS_VBOX_H */
