/*
 * hvec_cast.c
 *		Casts of hvec: to and from vec, from real[], double precision[],
 *		integer[] and numeric[], and to real[].
 *
 * Every value is rounded once, from its own type's precision, to the
 * nearest half (ties to even): double precision and numeric elements go
 * through double, not float, so no double rounding moves them.  Overflow
 * is an error; values below half's smallest subnormal become zero.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "half.h"
#include "hvec.h"

PG_FUNCTION_INFO_V1(hvec_to_vec_cast);
PG_FUNCTION_INFO_V1(vec_to_hvec_cast);
PG_FUNCTION_INFO_V1(array_to_hvec);
PG_FUNCTION_INFO_V1(hvec_to_real_array);

/* hvec -> vec(n): exact. */
Datum
hvec_to_vec_cast(PG_FUNCTION_ARGS)
{
	HVec	   *h = PG_GETARG_HVEC_P(0);
	Vec		   *v = hvec_to_vec(h);

	vec_check_typmod(v, PG_GETARG_INT32(1));
	PG_RETURN_VEC_P(v);
}

/* vec -> hvec(n): each element rounded to the nearest half. */
Datum
vec_to_hvec_cast(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	HVec	   *h = hvec_from_floats(v->x, v->dim);

	hvec_check_typmod(h, PG_GETARG_INT32(1));
	PG_RETURN_HVEC_P(h);
}

/*
 * One array element as a half, with the checks of hvec input: ERROR on
 * NaN, infinity or overflow.  elemtype is one of the types array_to_hvec
 * is declared for, so any other is an internal error.
 */
static uint16
element_to_half(Datum d, Oid elemtype, int element)
{
	double		value;
	uint16		h;

	switch (elemtype)
	{
		case FLOAT4OID:
			value = DatumGetFloat4(d);
			break;
		case FLOAT8OID:
			value = DatumGetFloat8(d);
			break;
		case INT4OID:
			value = DatumGetInt32(d);
			break;
		case NUMERICOID:
			/* numeric_float8 maps NaN/Infinity through, checked below */
			value = DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
			break;
		default:
			elog(ERROR, "unsupported array element type %u for hvec", elemtype);
			value = 0;			/* keep compiler quiet */
	}

	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in hvec")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in hvec")));
	h = half_from_double(value);
	if (half_is_special(h))
		hvec_out_of_range(element, value);
	return h;
}

/*
 * The casts of real[], double precision[], integer[] and numeric[] to
 * hvec (array_to_hvec(arr, typmod, explicit)): a one-dimensional array
 * without nulls, checked against the typmod.
 */
Datum
array_to_hvec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	HVec	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-dimensional to cast to hvec")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	hvec_check_dim(n);

	result = hvec_new(n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array must not contain nulls to cast to hvec")));
		result->x[i] = element_to_half(elems[i], elemtype, i + 1);
	}
	hvec_check_typmod(result, typmod);
	PG_RETURN_HVEC_P(result);
}

/* hvec -> real[]: the values (exact), lower bound 1. */
Datum
hvec_to_real_array(PG_FUNCTION_ARGS)
{
	HVec	   *h = PG_GETARG_HVEC_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * h->dim);

	for (int i = 0; i < h->dim; i++)
		elems[i] = Float4GetDatum(half_to_float(h->x[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, h->dim, FLOAT4OID,
										  sizeof(float4), true, TYPALIGN_INT));
}
