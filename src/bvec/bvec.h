/*
 * bvec.h
 *		The layout of the bvec type, a packed binary vector, shared by every
 *		part of the extension that reads or builds bvecs.
 *
 * Bit order: bit 0 (the first character of the text form) is the most
 * significant bit of byte 0, as in PostgreSQL's bit type, so a bit or bit
 * varying value converts by copying its bytes.  The padding bits of the
 * last byte are always zero: the kernels count whole bytes, and equality
 * and hashing compare them.
 */
#ifndef MS_BVEC_H
#define MS_BVEC_H

#include "postgres.h"

#include "fmgr.h"

#define BVEC_MAX_BITS 64000

typedef struct Bvec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		nbits;			/* number of bits, 1..BVEC_MAX_BITS */
	uint8		data[FLEXIBLE_ARRAY_MEMBER];
} Bvec;

#define BVEC_BYTES(nbits)	(((Size) (nbits) + 7) / 8)
#define BVEC_SIZE(nbits)	(offsetof(Bvec, data) + BVEC_BYTES(nbits))
#define DatumGetBvec(d)		((Bvec *) PG_DETOAST_DATUM(d))
#define PG_GETARG_BVEC_P(n)	DatumGetBvec(PG_GETARG_DATUM(n))
#define PG_RETURN_BVEC_P(v)	PG_RETURN_POINTER(v)

/* A zeroed bvec of nbits bits, palloc'd in the current context. */
extern Bvec *bvec_new(int nbits);

/* ERROR unless 1 <= nbits <= BVEC_MAX_BITS (54000 past the maximum). */
extern void bvec_check_nbits(int64 nbits);

/* ERROR unless the bvec's length agrees with typmod (-1 accepts any). */
extern void bvec_check_typmod(const Bvec *b, int32 typmod);

/* ERROR "different bvec lengths %d and %d" unless they agree. */
extern void bvec_check_same_nbits(int a, int b);

#endif							/* MS_BVEC_H */
