/*
 * hvec.h
 *		The on-disk and in-memory layout of the hvec type (vectors of IEEE
 *		754 half-precision values), shared by every part of the extension
 *		that reads or builds hvecs.
 */
#ifndef MS_HVEC_H
#define MS_HVEC_H

#include "postgres.h"

#include "fmgr.h"

#include "vec.h"

#define HVEC_MAX_DIM VEC_MAX_DIM

/* Like Vec, but each element is the 16 bits of a binary16 value. */
typedef struct HVec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always 0 */
	uint16		x[FLEXIBLE_ARRAY_MEMBER];
} HVec;

#define HVEC_SIZE(dim)		(offsetof(HVec, x) + sizeof(uint16) * (dim))
#define DatumGetHVec(d)		((HVec *) PG_DETOAST_DATUM(d))
#define PG_GETARG_HVEC_P(n)	DatumGetHVec(PG_GETARG_DATUM(n))
#define PG_RETURN_HVEC_P(v)	PG_RETURN_POINTER(v)

/* Dimensions up to which the distances convert into stack buffers. */
#define HVEC_STACK_DIMS 1024

/* A zeroed hvec of dim elements, palloc'd in the current context. */
extern HVec *hvec_new(int dim);

/* ERROR unless 1 <= dim <= HVEC_MAX_DIM. */
extern void hvec_check_dim(int dim);

/* ERROR "different hvec dimensions %d and %d" unless they agree. */
extern void hvec_check_same_dims(int dim_a, int dim_b);

/* ERROR unless the hvec's dimension agrees with typmod (-1 accepts any). */
extern void hvec_check_typmod(const HVec *v, int32 typmod);

/*
 * ERROR 22003 "value out of range for type hvec", naming the 1-based
 * element and its value.  Does not return.
 */
extern void hvec_out_of_range(int element, double value) pg_attribute_noreturn();

/* An hvec of the floats x, rounded to nearest; ERROR on overflow. */
extern HVec *hvec_from_floats(const float *x, int dim);

/* A vec of the hvec's values (exact). */
extern Vec *hvec_to_vec(const HVec *h);

/*
 * The vec of a datum of type vec or hvec, for code that takes both (kNN,
 * msivf): a vec as DatumGetVec gives it, an hvec converted (a new palloc'd
 * vec).  The two are told apart by their size, which for the same header
 * dim is VEC_SIZE(dim) for a vec and HVEC_SIZE(dim) for an hvec, never
 * equal; the caller must know the datum is one of the two.
 */
extern Vec *vec_or_hvec_datum(Datum d);

/*
 * The OID of type hvec in the schema of type vectype (vec), InvalidOid
 * when there is none: how code declared for vec finds the hvec beside it.
 */
extern Oid	hvec_type_beside(Oid vectype);

#endif							/* MS_HVEC_H */
