/*
 * elemtype.h
 *		The element types of ms models (float32, float16, bit, sparse) and
 *		their SQL types (vec, hvec, bvec, svec): what the queries and the
 *		processors convert and check points with.
 */
#ifndef MS_ELEMTYPE_H
#define MS_ELEMTYPE_H

#include "postgres.h"

#include "vec.h"

typedef enum MsElemKind
{
	MS_ELEM_NONE = -1,
	MS_ELEM_FLOAT32 = 0,		/* vec */
	MS_ELEM_FLOAT16,			/* hvec */
	MS_ELEM_BIT,				/* bvec */
	MS_ELEM_SPARSE				/* svec */
} MsElemKind;

/* longest element type name, with its NUL */
#define MS_ELEM_NAME_SIZE 8

/* The kind of ms.models.element_type; ERROR for an unknown name. */
extern MsElemKind ms_elem_kind_from_name(const char *element_type);

/* "float32", "float16", "bit" or "sparse" */
extern const char *ms_elem_name(MsElemKind kind);

/* "vec", "hvec", "bvec" or "svec" */
extern const char *ms_elem_type_name(MsElemKind kind);

/* The kind whose SQL type typid is (by name), MS_ELEM_NONE for others. */
extern MsElemKind ms_elem_kind_of_type(Oid typid);

/*
 * A vec converted to kind, the way ms.upsert_points converts: rounded to
 * half, its sign bits (binary_quantize), or its non-zero elements.
 */
extern Datum ms_elem_from_vec(const Vec *v, MsElemKind kind);

/* The dimensions (bits, for bvec) of a point of kind. */
extern int32 ms_elem_dims(Datum d, MsElemKind kind);

/* Is the point of kind all zeros (so it has no cosine distance)? */
extern bool ms_elem_is_zero(Datum d, MsElemKind kind);

#endif							/* MS_ELEMTYPE_H */
