/*
 * vec.h
 *		The on-disk and in-memory layout of the vec type, shared by every
 *		part of the extension that reads or builds vecs.
 */
#ifndef MS_VEC_H
#define MS_VEC_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"

#define VEC_MAX_DIM 16000

typedef struct Vec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of elements */
	int16		flags;			/* reserved, always 0 */
	float4		x[FLEXIBLE_ARRAY_MEMBER];
} Vec;

#define VEC_SIZE(dim)		(offsetof(Vec, x) + sizeof(float4) * (dim))
#define DatumGetVec(d)		((Vec *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VEC_P(n)	DatumGetVec(PG_GETARG_DATUM(n))
#define PG_RETURN_VEC_P(v)	PG_RETURN_POINTER(v)

/* A zeroed vec of dim elements, palloc'd in the current context. */
extern Vec *vec_new(int dim);

/* ERROR unless 1 <= dim <= VEC_MAX_DIM. */
extern void vec_check_dim(int dim);

/* ERROR "different vec dimensions %d and %d" unless they agree. */
extern void vec_check_same_dims(int dim_a, int dim_b);
/* the dimension of a sum(vec)/avg(vec) state, checked (vec_agg.c) */
extern int	vec_accum_state_dim(ArrayType *state);

/*
 * The one type modifier of a vector type, 1 <= n <= max; ERROR otherwise
 * (what names n in the messages, unit in the detail).
 */
extern int32 vec_typmod_single(ArrayType *ta, const char *type_name, const char *what,
							   const char *unit, int32 max);

/* vec_typmod_out: "(n)", or "" for no modifier; every vector type's */
extern Datum vec_typmod_out(PG_FUNCTION_ARGS);

/* ERROR unless the vec's dimension agrees with typmod (-1 accepts any). */
extern void vec_check_typmod(const Vec *v, int32 typmod);

/* Read and check the binary header of a vec or vbox; returns dim. */
extern int	vec_recv_header(StringInfo buf, const char *type_name,
							int floats_per_dim, const char *contents);

/* ERROR if any element is NaN or infinite. */
extern void vec_check_finite_elements(const float4 *x, int dim,
									  const char *type_name);

#endif							/* MS_VEC_H */
