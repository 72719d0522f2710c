/*
 * vec_agg.c
 *		sum(vec) and avg(vec): transition, combine, serialize and final
 *		functions, so both aggregates run in parallel plans.
 *
 * The state accumulates in double precision in the aggregate's memory
 * context and is updated in place, so a long aggregation allocates once.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "libpq/pqformat.h"
#include "utils/float.h"

#include "vec.h"

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
 * The sums divided by divisor, as a vec; ERROR when an element overflows
 * float4.
 */
static Vec *
state_to_vec(const VecAggState *state, double divisor)
{
	Vec		   *result = vec_new(state->dim);

	for (int i = 0; i < state->dim; i++)
	{
		double		value = state->sums[i] / divisor;

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
	PG_RETURN_VEC_P(state_to_vec(state, 1.0));
}

/* avg(vec): the element-wise mean; NULL when no non-null vec was seen. */
Datum
vec_agg_avg_final(PG_FUNCTION_ARGS)
{
	VecAggState *state = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_VEC_P(state_to_vec(state, (double) state->count));
}
