/*
 * svec.h
 *		The on-disk and in-memory layout of the svec (sparse vector) type,
 *		shared by its I/O, casts and operators.
 *
 * Layout: varlena header, int32 dims, int32 nnz, int32 unused (0), then
 * nnz int32 indices (0-based, strictly increasing, below dims) and nnz
 * float4 values (finite, never zero: equal vectors have one stored form,
 * which equality and hashing rely on).
 */
#ifndef MS_SVEC_H
#define MS_SVEC_H

#include "postgres.h"

#include "fmgr.h"

#include "svec_distance.h"
#include "svec_text.h"

typedef struct Svec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		dims;			/* number of dimensions, 1..SVEC_MAX_DIMS */
	int32		nnz;			/* number of stored (non-zero) elements */
	int32		unused;			/* reserved, always 0 */
	int32		indices[FLEXIBLE_ARRAY_MEMBER];
	/* float4 values[nnz] follow the indices */
} Svec;

#define SVEC_SIZE(nnz) \
	(offsetof(Svec, indices) + (sizeof(int32) + sizeof(float4)) * (Size) (nnz))
#define SVEC_VALUES(s)		((float4 *) ((s)->indices + (s)->nnz))
#define DatumGetSvec(d)		((Svec *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SVEC_P(n)	DatumGetSvec(PG_GETARG_DATUM(n))
#define PG_RETURN_SVEC_P(s)	PG_RETURN_POINTER(s)

/* A zero svec of dims dimensions with room for nnz elements (palloc'd). */
extern Svec *svec_new(int32 dims, int32 nnz);

/* The merge routines' view of an svec. */
extern SvecView svec_view(const Svec *s);

/* ERROR "different svec dimensions %d and %d" unless they agree. */
extern void svec_check_same_dims(int32 dims_a, int32 dims_b);

/* ERROR unless the svec's dimensions agree with typmod (-1 accepts any). */
extern void svec_check_typmod(const Svec *s, int32 typmod);

#endif							/* MS_SVEC_H */
