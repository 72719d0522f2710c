/*
 * bvec_cast.c
 *		Casts between bvec and PostgreSQL's bit and bit varying, and
 *		binary_quantize(vec|hvec), the sign bits of a float vector.
 *
 * bit and bit varying store their bits in the bvec's order (first bit =
 * most significant bit of the first byte), so both directions copy bytes.
 */
#include "postgres.h"

#include "utils/varbit.h"

#include "bit_kernels.h"
#include "bvec.h"
#include "hvec.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(varbit_to_bvec);
PG_FUNCTION_INFO_V1(bvec_to_varbit);
PG_FUNCTION_INFO_V1(bvec_binary_quantize);
PG_FUNCTION_INFO_V1(bvec_binary_quantize_hvec);

/*
 * bit(n) or bit varying -> bvec (the two share their layout).  The padding
 * check guards the bvec's invariant against a varbit built by code other
 * than the server's own functions.
 */
Datum
varbit_to_bvec(PG_FUNCTION_ARGS)
{
	VarBit	   *vb = PG_GETARG_VARBIT_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	int			nbits = VARBITLEN(vb);
	Bvec	   *result;

	bvec_check_nbits(nbits);
	if (!bit_padding_is_zero(VARBITS(vb), nbits))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("padding bits of bit string are not zero")));
	result = bvec_new(nbits);
	memcpy(result->data, VARBITS(vb), BVEC_BYTES(nbits));
	bvec_check_typmod(result, typmod);
	PG_RETURN_BVEC_P(result);
}

/*
 * bvec -> bit varying.  No typmod argument, so that a bit varying(n)
 * target goes through that type's own length coercion afterwards, with
 * its rules (an explicit cast truncates, an assignment is an error).
 */
Datum
bvec_to_varbit(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);
	Size		size = VARBITTOTALLEN(b->nbits);
	VarBit	   *result = (VarBit *) palloc0(size);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = b->nbits;
	memcpy(VARBITS(result), b->data, BVEC_BYTES(b->nbits));
	PG_RETURN_VARBIT_P(result);
}

/* binary_quantize(vec): bit i set when element i is > 0. */
Datum
bvec_binary_quantize(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	Bvec	   *result = bvec_new(v->dim);

	bit_quantize_floats(v->x, v->dim, result->data);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_BVEC_P(result);
}

/*
 * binary_quantize(hvec): the same on half-precision values, read from
 * their bits: > 0 is sign clear and not zero (an hvec holds no NaN).
 */
Datum
bvec_binary_quantize_hvec(PG_FUNCTION_ARGS)
{
	HVec	   *v = PG_GETARG_HVEC_P(0);
	Bvec	   *result = bvec_new(v->dim);

	for (int i = 0; i < v->dim; i++)
		if ((v->x[i] & 0x8000) == 0 && (v->x[i] & 0x7fff) != 0)
			result->data[i / 8] |= (uint8) (0x80 >> (i % 8));
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_BVEC_P(result);
}
