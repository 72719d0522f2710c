/*
 * vec_cast.c
 *		Casts between vec and SQL arrays (real[], double precision[],
 *		integer[], numeric[] -> vec; vec -> real[]).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "vec.h"

PG_FUNCTION_INFO_V1(array_to_vec);
PG_FUNCTION_INFO_V1(vec_to_real_array);

/*
 * One array element as a float4, with the checks vec input makes: ERROR on
 * NaN, infinity, or a value float4 cannot hold (too large, or nonzero but
 * rounding to 0).  elemtype is one of the types array_to_vec is declared
 * for, so any other is an internal error.
 */
static float4
element_to_float4(Datum d, Oid elemtype)
{
	double		value;

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
			elog(ERROR, "unsupported array element type %u for vec", elemtype);
			value = 0;			/* keep compiler quiet */
	}

	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vec")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vec")));
	if (fabs(value) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value %g is out of range for type real", value)));
	/* like float8 -> real: a nonzero value must not vanish */
	if (value != 0.0 && (float4) value == 0.0f)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value %g is out of range for type real", value)));
	return (float4) value;
}

/*
 * The casts of real[], double precision[], integer[] and numeric[] to
 * vec (array_to_vec(arr, typmod, explicit)): a one-dimensional array
 * without nulls, checked against the typmod.
 */
Datum
array_to_vec(PG_FUNCTION_ARGS)
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
	Vec		   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-dimensional to cast to vec")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	vec_check_dim(n);

	result = vec_new(n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array must not contain nulls to cast to vec")));
		result->x[i] = element_to_float4(elems[i], elemtype);
	}
	vec_check_typmod(result, typmod);
	PG_RETURN_VEC_P(result);
}

/* vec -> real[]: the elements as they are, lower bound 1. */
Datum
vec_to_real_array(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		elems[i] = Float4GetDatum(v->x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, v->dim, FLOAT4OID,
										  sizeof(float4), true, TYPALIGN_INT));
}
