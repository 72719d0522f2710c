/*
 * svec_cast.c
 *		Casts between svec and vec: vec -> svec keeps the non-zero
 *		elements, svec -> vec spells the zeros out (and so needs at most
 *		vec's 16000 dimensions).
 */
#include "postgres.h"

#include "svec.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(vec_to_svec);
PG_FUNCTION_INFO_V1(svec_to_vec);

/* vec -> svec: the non-zero elements (-0 is zero), checked against the typmod. */
Datum
vec_to_svec(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	int32		nnz = 0;
	Svec	   *result;
	float4	   *values;

	for (int i = 0; i < v->dim; i++)
		nnz += (v->x[i] != 0.0f);
	/* a vec has at most VEC_MAX_DIM <= SVEC_MAX_NNZ elements */
	StaticAssertStmt(VEC_MAX_DIM <= SVEC_MAX_NNZ, "every vec must fit an svec");

	result = svec_new(v->dim, nnz);
	values = SVEC_VALUES(result);
	nnz = 0;
	for (int i = 0; i < v->dim; i++)
	{
		if (v->x[i] != 0.0f)
		{
			result->indices[nnz] = i;
			values[nnz++] = v->x[i];
		}
	}
	svec_check_typmod(result, typmod);
	PG_RETURN_SVEC_P(result);
}

/* svec -> vec: ERROR 54000 beyond vec's dimensions. */
Datum
svec_to_vec(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float4	   *values = SVEC_VALUES(s);
	Vec		   *result;

	if (s->dims > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svec of %d dimensions does not fit a vec", s->dims),
				 errdetail("A vec has at most %d dimensions.", VEC_MAX_DIM)));
	result = vec_new(s->dims);
	for (int i = 0; i < s->nnz; i++)
		result->x[s->indices[i]] = values[i];
	vec_check_typmod(result, typmod);
	PG_RETURN_VEC_P(result);
}
