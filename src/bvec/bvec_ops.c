/*
 * bvec_ops.c
 *		bvec distances (Hamming, Jaccard), length, and the comparison and
 *		hash support of its btree and hash operator classes.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/builtins.h"

#include "bit_kernels.h"
#include "bvec.h"

PG_FUNCTION_INFO_V1(bvec_hamming_distance);
PG_FUNCTION_INFO_V1(bvec_jaccard_distance);
PG_FUNCTION_INFO_V1(bvec_length);
PG_FUNCTION_INFO_V1(bvec_popcount);
PG_FUNCTION_INFO_V1(bvec_cmp);
PG_FUNCTION_INFO_V1(bvec_eq);
PG_FUNCTION_INFO_V1(bvec_ne);
PG_FUNCTION_INFO_V1(bvec_lt);
PG_FUNCTION_INFO_V1(bvec_le);
PG_FUNCTION_INFO_V1(bvec_gt);
PG_FUNCTION_INFO_V1(bvec_ge);
PG_FUNCTION_INFO_V1(bvec_hash);
PG_FUNCTION_INFO_V1(bvec_hash_extended);

#define BVEC_BINARY_ARGS() \
	Bvec	   *a = PG_GETARG_BVEC_P(0); \
	Bvec	   *b = PG_GETARG_BVEC_P(1); \
	bvec_check_same_nbits(a->nbits, b->nbits)

/* Number of differing bits, as double precision (like pgvector's bit <~>). */
Datum
bvec_hamming_distance(PG_FUNCTION_ARGS)
{
	BVEC_BINARY_ARGS();
	PG_RETURN_FLOAT8((double) bit_kernels->hamming(a->data, b->data,
												   BVEC_BYTES(a->nbits)));
}

/* 1 - |a AND b| / |a OR b|; 0 for two all-zero bvecs (bit_kernels.c) */
Datum
bvec_jaccard_distance(PG_FUNCTION_ARGS)
{
	uint64		and_count;
	uint64		or_count;

	BVEC_BINARY_ARGS();
	bit_kernels->and_or(a->data, b->data, BVEC_BYTES(a->nbits), &and_count, &or_count);
	PG_RETURN_FLOAT8(bit_jaccard_from_counts(and_count, or_count));
}

Datum
bvec_length(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);

	PG_RETURN_INT32(b->nbits);
}

Datum
bvec_popcount(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);

	PG_RETURN_INT64((int64) bit_kernels->popcount(b->data, BVEC_BYTES(b->nbits)));
}

/*
 * Bit-string order, as PostgreSQL's bit type: the first differing bit
 * decides, and a proper prefix sorts first.  With zero padding a memcmp
 * of the common bytes agrees with that, padding never outranking a bit.
 */
static int
bvec_compare(Bvec *a, Bvec *b)
{
	int			common = Min(a->nbits, b->nbits);
	int			c = memcmp(a->data, b->data, BVEC_BYTES(common));

	if (c != 0)
		return c < 0 ? -1 : 1;
	if (a->nbits != b->nbits)
		return a->nbits < b->nbits ? -1 : 1;
	return 0;
}

#define BVEC_CMP_FN(name, test) \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Bvec	   *a = PG_GETARG_BVEC_P(0); \
	Bvec	   *b = PG_GETARG_BVEC_P(1); \
	int			c = bvec_compare(a, b); \
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(test); \
}

BVEC_CMP_FN(bvec_eq, c == 0)
BVEC_CMP_FN(bvec_ne, c != 0)
BVEC_CMP_FN(bvec_lt, c < 0)
BVEC_CMP_FN(bvec_le, c <= 0)
BVEC_CMP_FN(bvec_gt, c > 0)
BVEC_CMP_FN(bvec_ge, c >= 0)

Datum
bvec_cmp(PG_FUNCTION_ARGS)
{
	Bvec	   *a = PG_GETARG_BVEC_P(0);
	Bvec	   *b = PG_GETARG_BVEC_P(1);
	int			c = bvec_compare(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(c);
}

/* Hash of the length and the bytes: equal bvecs agree on both. */
Datum
bvec_hash(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);

	PG_RETURN_DATUM(hash_any((const unsigned char *) &b->nbits,
							 sizeof(int32) + BVEC_BYTES(b->nbits)));
}

Datum
bvec_hash_extended(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);

	PG_RETURN_DATUM(hash_any_extended((const unsigned char *) &b->nbits,
									  sizeof(int32) + BVEC_BYTES(b->nbits),
									  PG_GETARG_INT64(1)));
}
