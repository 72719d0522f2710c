/*
 * vec_agg.c
 *		sum(vec) and avg(vec): transition, combine and final functions, so
 *		both aggregates run in parallel plans and as partial aggregates on
 *		the shards of a Citus distributed table.
 *
 * The transition state is a double precision[]: the count of vecs seen,
 * then the running sum of each dimension.  A state type with a text form
 * is what lets Citus compute the partial state on each worker and combine
 * the states on the coordinator (it cannot ship an internal state); the
 * text form of a float8 is exact (shortest round-trip digits) for every
 * extra_float_digits above 0, PostgreSQL's default.  Within one
 * aggregation the state is updated in place, so it allocates once.
 *
 * The functions on an internal state further down are 0.4.0's: a database
 * not yet updated to 0.5.0 still calls them through its aggregates.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/float.h"

#include "vec.h"

PG_FUNCTION_INFO_V1(vec_accum);
PG_FUNCTION_INFO_V1(vec_accum_combine);
PG_FUNCTION_INFO_V1(vec_accum_sum);
PG_FUNCTION_INFO_V1(vec_accum_avg);
PG_FUNCTION_INFO_V1(vec_agg_accum);
PG_FUNCTION_INFO_V1(vec_agg_combine);
PG_FUNCTION_INFO_V1(vec_agg_serialize);
PG_FUNCTION_INFO_V1(vec_agg_deserialize);
PG_FUNCTION_INFO_V1(vec_agg_sum_final);
PG_FUNCTION_INFO_V1(vec_agg_avg_final);

/* The transition state: a running sum of count vecs of dim dimensions. */
typedef struct VecAggState
{
	int64		count;
	int			dim;
	double		sums[FLEXIBLE_ARRAY_MEMBER];
} VecAggState;

/*
 * The aggregate's memory context, where the state lives across calls.
 * These functions take internal and are only meant as aggregate support,
 * so being called otherwise is an internal error, as for PostgreSQL's own
 * transition functions.
 */
static MemoryContext
aggregate_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcontext;
}

/* A zeroed state for dim dimensions, allocated in cxt. */
static VecAggState *
state_new(MemoryContext cxt, int dim)
{
	VecAggState *state;

	state = MemoryContextAllocZero(cxt, offsetof(VecAggState, sums) + sizeof(double) * dim);
	state->dim = dim;
	return state;
}

/*
 * Transition of sum(vec) and avg(vec): add a vec to the state, in place.
 * NULL inputs are skipped; ERROR when dimensions differ.
 */
Datum
vec_agg_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = aggregate_context(fcinfo, "vec_agg_accum");
	VecAggState *state = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);
	Vec		   *v;

	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	v = PG_GETARG_VEC_P(1);
	if (state == NULL)
		state = state_new(aggcontext, v->dim);
	else
		vec_check_same_dims(state->dim, v->dim);

	for (int i = 0; i < v->dim; i++)
		state->sums[i] += v->x[i];
	state->count++;
	PG_RETURN_POINTER(state);
}

/*
 * Combine two partial states (parallel aggregation) into the first, or
 * into a copy in the aggregate context when the first is NULL.
 */
Datum
vec_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = aggregate_context(fcinfo, "vec_agg_combine");
	VecAggState *a = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);
	VecAggState *b = PG_ARGISNULL(1) ? NULL : (VecAggState *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		/* copy: b may live in a context that is reset before we finish */
		a = state_new(aggcontext, b->dim);
		memcpy(a->sums, b->sums, sizeof(double) * b->dim);
		a->count = b->count;
		PG_RETURN_POINTER(a);
	}
	vec_check_same_dims(a->dim, b->dim);
	for (int i = 0; i < a->dim; i++)
		a->sums[i] += b->sums[i];
	a->count += b->count;
	PG_RETURN_POINTER(a);
}

/* A state as bytea for a parallel worker: int8 count, int4 dim, float8 sums. */
Datum
vec_agg_serialize(PG_FUNCTION_ARGS)
{
	VecAggState *state = (VecAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	aggregate_context(fcinfo, "vec_agg_serialize");
	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->count);
	pq_sendint32(&buf, state->dim);
	for (int i = 0; i < state->dim; i++)
		pq_sendfloat8(&buf, state->sums[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* The inverse of vec_agg_serialize; ERROR on a malformed message. */
Datum
vec_agg_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = aggregate_context(fcinfo, "vec_agg_deserialize");
	bytea	   *sstate = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	VecAggState *state;
	int64		count;
	int			dim;

	buf.data = VARDATA_ANY(sstate);
	buf.len = VARSIZE_ANY_EXHDR(sstate);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	count = pq_getmsgint64(&buf);
	dim = pq_getmsgint(&buf, sizeof(int32));
	vec_check_dim(dim);
	state = state_new(aggcontext, dim);
	state->count = count;
	for (int i = 0; i < dim; i++)
		state->sums[i] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/*
 * The sums divided by divisor as a vec, the final step of both kinds of
 * state; ERROR when an element overflows float4.
 */
static Vec *
accum_to_vec(const double *sums, int dim, double divisor)
{
	Vec		   *result = vec_new(dim);

	for (int i = 0; i < dim; i++)
	{
		double		value = sums[i] / divisor;

		if (fabs(value) > FLT_MAX)
			float_overflow_error();
		result->x[i] = (float4) value;
	}
	return result;
}

/* sum(vec): NULL when no non-null vec was seen. */
Datum
vec_agg_sum_final(PG_FUNCTION_ARGS)
{
	VecAggState *state = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_VEC_P(accum_to_vec(state->sums, state->dim, 1.0));
}

/* avg(vec): the element-wise mean; NULL when no non-null vec was seen. */
Datum
vec_agg_avg_final(PG_FUNCTION_ARGS)
{
	VecAggState *state = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_VEC_P(accum_to_vec(state->sums, state->dim, (double) state->count));
}

/*
 * The double precision[] state: element 0 counts the vecs, elements 1..dim
 * hold the sums.  The functions are callable from SQL with any array, so
 * every array is checked before its data is read.
 */
#define ACCUM_HEADER 1

/*
 * The elements of a state vec_accum_state_dim accepted (no null bitmap).  Not
 * ARR_DATA_PTR, whose mixed-sign arithmetic -Wextra rejects.
 */
#define ACCUM_DATA(a) ((double *) ((char *) (a) + ARR_OVERHEAD_NONULLS(1)))

/* ERROR about a state array that no vec aggregate produced. */
static void
accum_invalid(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid state of a vec aggregate"),
			 errdetail("%s", detail)));
}

/*
 * The dimension of a state, after the checks that make reading it safe:
 * one dimension, no NULLs, a count and 1 to VEC_MAX_DIM sums.  Cheap: it is
 * run for every row.
 */
int
vec_accum_state_dim(ArrayType *state)
{
	int			n;

	if (ARR_NDIM(state) != 1 || ARR_ELEMTYPE(state) != FLOAT8OID)
		accum_invalid("The state must be a one-dimensional double precision array.");
	/* what vec_accum builds has no null bitmap, so none is accepted */
	if (ARR_HASNULL(state))
		accum_invalid("The state must not contain nulls.");
	n = ARR_DIMS(state)[0];
	if (n <= ACCUM_HEADER || n - ACCUM_HEADER > VEC_MAX_DIM)
		accum_invalid("The state must hold a count and 1 to 16000 sums.");
	return n - ACCUM_HEADER;
}

/*
 * vec_accum_state_dim's checks and those of the values, for the functions that run
 * once per state: a whole, non-negative count and finite sums.
 */
static int
accum_check(ArrayType *state)
{
	int			dim = vec_accum_state_dim(state);
	const double *x = ACCUM_DATA(state);

	if (!(x[0] >= 0 && x[0] <= (double) PG_INT64_MAX) || x[0] != floor(x[0]))
		accum_invalid("The count must be a whole number of vecs.");
	for (int i = 1; i <= dim; i++)
		if (!isfinite(x[i]))
			accum_invalid("The sums must be finite.");
	return dim;
}

/* A zeroed state of dim sums, in the current memory context. */
static ArrayType *
accum_new(int dim)
{
	int			n = dim + ACCUM_HEADER;
	Size		size = ARR_OVERHEAD_NONULLS(1) + sizeof(double) * n;
	ArrayType  *a = (ArrayType *) palloc0(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = FLOAT8OID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	return a;
}

/*
 * The state to update: the argument itself inside an aggregation, where
 * the executor owns it and expects it updated in place, otherwise a copy
 * (a direct SQL call must not change its argument).
 */
static ArrayType *
accum_writable(FunctionCallInfo fcinfo, int argno)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return PG_GETARG_ARRAYTYPE_P(argno);
	return PG_GETARG_ARRAYTYPE_P_COPY(argno);
}

/*
 * vec_accum(double precision[], vec): the transition of sum(vec) and
 * avg(vec).  NULL vecs are skipped; ERROR when dimensions differ.
 */
Datum
vec_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	double	   *x;
	Vec		   *v;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	v = PG_GETARG_VEC_P(1);
	if (PG_ARGISNULL(0))
		state = accum_new(v->dim);
	else
	{
		state = accum_writable(fcinfo, 0);
		vec_check_same_dims(vec_accum_state_dim(state), v->dim);
	}

	x = ACCUM_DATA(state);
	x[0] += 1;
	for (int i = 0; i < v->dim; i++)
		x[ACCUM_HEADER + i] += v->x[i];
	PG_RETURN_ARRAYTYPE_P(state);
}

/*
 * vec_accum_combine(double precision[], double precision[]): two partial
 * states (parallel workers, Citus shards) as one, in the first.  Strict:
 * the executor keeps the other state when one is NULL.
 */
Datum
vec_accum_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = accum_writable(fcinfo, 0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	double	   *xa;
	const double *xb;
	int			dim;

	dim = accum_check(a);
	vec_check_same_dims(dim, accum_check(b));
	xa = ACCUM_DATA(a);
	xb = ACCUM_DATA(b);
	for (int i = 0; i <= dim; i++)
		xa[i] += xb[i];
	PG_RETURN_ARRAYTYPE_P(a);
}

/* sum(vec): NULL when no non-null vec was seen. */
Datum
vec_accum_sum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			dim = accum_check(state);
	const double *x = ACCUM_DATA(state);

	if (x[0] == 0)
		PG_RETURN_NULL();
	PG_RETURN_VEC_P(accum_to_vec(x + ACCUM_HEADER, dim, 1.0));
}

/* avg(vec): the element-wise mean; NULL when no non-null vec was seen. */
Datum
vec_accum_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			dim = accum_check(state);
	const double *x = ACCUM_DATA(state);

	if (x[0] == 0)
		PG_RETURN_NULL();
	PG_RETURN_VEC_P(accum_to_vec(x + ACCUM_HEADER, dim, x[0]));
}
