/*
 * hvec_agg.c
 *		sum(hvec) and avg(hvec), on the state of sum(vec) and avg(vec).
 *
 * The state is vec's double precision[] (the count, then the sum of each
 * dimension), so the combine function is vec_accum_combine itself and
 * both aggregates run in parallel plans and as partial aggregates on
 * Citus shards.  The functions here hand each row to vec's transition and
 * the state to vec's final functions through a call frame of their own,
 * which keeps the aggregate context (the state is still updated in
 * place), converting only at the edges: the hvec to a vec (exact), the
 * double sums to an hvec (rounded once; overflow is an error).
 */
#include "postgres.h"

#include "utils/array.h"

#include "half.h"
#include "hvec.h"

PG_FUNCTION_INFO_V1(hvec_accum);
PG_FUNCTION_INFO_V1(hvec_accum_sum);
PG_FUNCTION_INFO_V1(hvec_accum_avg);

/* vec's aggregate support functions (src/vec/vec_agg.c) */
extern Datum vec_accum(PG_FUNCTION_ARGS);
extern Datum vec_accum_sum(PG_FUNCTION_ARGS);
extern Datum vec_accum_avg(PG_FUNCTION_ARGS);

/*
 * Call fn with fcinfo's context and the given arguments; NULL results
 * come back through *isnull rather than as an error.
 */
static Datum
call_with_context(PGFunction fn, FunctionCallInfo fcinfo, int nargs,
				  Datum *args, bool *argnulls, bool *isnull)
{
	LOCAL_FCINFO(inner, 2);
	Datum		result;

	InitFunctionCallInfoData(*inner, fcinfo->flinfo, nargs, fcinfo->fncollation,
							 fcinfo->context, NULL);
	for (int i = 0; i < nargs; i++)
	{
		inner->args[i].value = args[i];
		inner->args[i].isnull = argnulls[i];
	}
	result = fn(inner);
	*isnull = inner->isnull;
	return result;
}

/* hvec_accum(double precision[], hvec): vec_accum on the exact vec. */
Datum
hvec_accum(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	bool		argnulls[2];
	Datum		result;

	args[0] = PG_GETARG_DATUM(0);
	argnulls[0] = PG_ARGISNULL(0);
	argnulls[1] = PG_ARGISNULL(1);
	if (!argnulls[1])
	{
		HVec	   *h = PG_GETARG_HVEC_P(1);

		/* the mismatch named in hvec's words, before vec_accum names it in vec's */
		if (!argnulls[0])
			hvec_check_same_dims(vec_accum_state_dim(PG_GETARG_ARRAYTYPE_P(0)), h->dim);
		args[1] = PointerGetDatum(hvec_to_vec(h));
	}
	else
		args[1] = (Datum) 0;
	result = call_with_context(vec_accum, fcinfo, 2, args, argnulls, &fcinfo->isnull);
	return result;
}

/*
 * sum(hvec) or avg(hvec) (divide by the count): vec's final function
 * checks the state and says whether the result is NULL; the hvec is then
 * rounded from the double sums themselves, once, not from vec's float4s.
 */
static Datum
final_as_hvec(PGFunction fn, FunctionCallInfo fcinfo, bool divide)
{
	Datum		arg = PG_GETARG_DATUM(0);
	bool		argnull = false;
	bool		isnull;
	ArrayType  *state;
	const double *x;
	int			dim;
	HVec	   *result;

	(void) call_with_context(fn, fcinfo, 1, &arg, &argnull, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	/* checked by fn: one dimension, no nulls, a count and dim sums */
	state = PG_GETARG_ARRAYTYPE_P(0);
	x = (const double *) ((char *) state + ARR_OVERHEAD_NONULLS(1));
	dim = ARR_DIMS(state)[0] - 1;
	result = hvec_new(dim);
	for (int i = 0; i < dim; i++)
	{
		double		value = divide ? x[1 + i] / x[0] : x[1 + i];

		result->x[i] = half_from_double(value);
		if (half_is_special(result->x[i]))
			hvec_out_of_range(i + 1, value);
	}
	PG_RETURN_HVEC_P(result);
}

/* sum(hvec): NULL when no non-null hvec was seen. */
Datum
hvec_accum_sum(PG_FUNCTION_ARGS)
{
	return final_as_hvec(vec_accum_sum, fcinfo, false);
}

/* avg(hvec): the element-wise mean; NULL when no non-null hvec was seen. */
Datum
hvec_accum_avg(PG_FUNCTION_ARGS)
{
	return final_as_hvec(vec_accum_avg, fcinfo, true);
}
