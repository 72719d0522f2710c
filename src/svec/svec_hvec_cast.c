/*
 * svec_hvec_cast.c
 *		Casts between svec and hvec.  hvec -> svec is exact (every half is a
 *		float4) and keeps the non-zero elements; svec -> hvec spells the
 *		zeros out and rounds each value to the nearest half, an error
 *		(22003) for one beyond the half range, as vec -> hvec.
 */
#include "postgres.h"

#include "fmgr.h"

#include "hvec.h"
#include "svec.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(hvec_to_svec);
PG_FUNCTION_INFO_V1(svec_to_hvec);

extern Datum vec_to_svec(PG_FUNCTION_ARGS);

/* hvec -> svec: as vec -> svec on the hvec's float values */
Datum
hvec_to_svec(PG_FUNCTION_ARGS)
{
	HVec	   *h = PG_GETARG_HVEC_P(0);
	Vec		   *v = hvec_to_vec(h);

	return DirectFunctionCall3(vec_to_svec, PointerGetDatum(v),
							   PG_GETARG_DATUM(1), BoolGetDatum(false));
}

/* svec -> hvec: ERROR 54000 beyond hvec's dimensions, 22003 beyond its range */
Datum
svec_to_hvec(PG_FUNCTION_ARGS)
{
	Svec	   *s = PG_GETARG_SVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float4	   *values = SVEC_VALUES(s);
	float	   *dense;
	HVec	   *result;

	if (s->dims > HVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svec of %d dimensions does not fit an hvec", s->dims),
				 errdetail("An hvec has at most %d dimensions.", HVEC_MAX_DIM)));
	/* dense, so that a range error names the element as the svec's text does */
	dense = palloc0(sizeof(float) * s->dims);
	for (int i = 0; i < s->nnz; i++)
		dense[s->indices[i]] = values[i];
	result = hvec_from_floats(dense, s->dims);
	pfree(dense);
	hvec_check_typmod(result, typmod);
	PG_RETURN_HVEC_P(result);
}
