/*
 * bvec_io.c
 *		Text and binary input/output of the bvec type, and its typmod.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "bit_kernels.h"
#include "bit_text.h"
#include "bvec.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(bvec_in);
PG_FUNCTION_INFO_V1(bvec_out);
PG_FUNCTION_INFO_V1(bvec_typmod_in);
PG_FUNCTION_INFO_V1(bvec_typmod_out);
PG_FUNCTION_INFO_V1(bvec_recv);
PG_FUNCTION_INFO_V1(bvec_send);
PG_FUNCTION_INFO_V1(bvec_coerce_typmod);

Bvec *
bvec_new(int nbits)
{
	Size		size = BVEC_SIZE(nbits);
	Bvec	   *b = (Bvec *) palloc0(size);

	SET_VARSIZE(b, size);
	b->nbits = nbits;
	return b;
}

void
bvec_check_nbits(int64 nbits)
{
	if (nbits < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bvec must have at least 1 bit")));
	if (nbits > BVEC_MAX_BITS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bvec cannot have more than %d bits", BVEC_MAX_BITS)));
}

void
bvec_check_typmod(const Bvec *b, int32 typmod)
{
	if (typmod != -1 && b->nbits != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d bits, not %d", typmod, b->nbits)));
}

void
bvec_check_same_nbits(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bvec lengths %d and %d", a, b)));
}

/* Text input: '0' and '1' only, 1 to 64000 of them, checked against typmod. */
Datum
bvec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	size_t		len = strlen(str);
	/* no more bits than characters: a short literal gets a short buffer */
	int			cap = len > BVEC_MAX_BITS ? BVEC_MAX_BITS : (int) len;
	uint8	   *bits = palloc(BVEC_BYTES(cap) + 1);
	BitParseResult r = bit_text_parse(str, bits, cap);
	Bvec	   *result;

	switch (r.status)
	{
		case BIT_PARSE_OK:
			break;
		case BIT_PARSE_EMPTY:
			bvec_check_nbits(0);
			break;
		case BIT_PARSE_TOO_MANY:
			bvec_check_nbits((int64) BVEC_MAX_BITS + 1);
			break;
		case BIT_PARSE_BAD_CHAR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type bvec: \"%.*s%s\"",
							len > 100 ? pg_mbcliplen(str, (int) len, 100) : (int) len, str,
							len > 100 ? "..." : ""),
					 errdetail("Character %d, \"%.*s\", is not a binary digit 0 or 1.",
							   (int) pg_mbstrlen_with_len(str, (int) r.error_offset) + 1,
							   pg_mblen(str + r.error_offset), str + r.error_offset)));
	}
	result = bvec_new(r.nbits);
	memcpy(result->data, bits, BVEC_BYTES(r.nbits));
	pfree(bits);
	bvec_check_typmod(result, typmod);
	PG_RETURN_BVEC_P(result);
}

Datum
bvec_out(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);
	char	   *out = palloc(b->nbits + 1);

	bit_text_format(b->data, b->nbits, out);
	PG_FREE_IF_COPY(b, 0);
	PG_RETURN_CSTRING(out);
}

/* bvec(n): one modifier, 1 <= n <= BVEC_MAX_BITS. */
Datum
bvec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vec_typmod_single(PG_GETARG_ARRAYTYPE_P(0), "bvec", "length",
									  "bits", BVEC_MAX_BITS));
}

Datum
bvec_typmod_out(PG_FUNCTION_ARGS)
{
	return vec_typmod_out(fcinfo);
}

/*
 * Binary format: int32 nbits, then (nbits + 7) / 8 bytes in the bvec's bit
 * order.  The byte count must match nbits exactly and the padding bits be
 * zero: a lying or sloppy client gets an error, never a value that two
 * equal-looking bvecs would compare unequal through.
 */
Datum
bvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		nbits = pq_getmsgint(buf, sizeof(int32));
	int			remaining;
	Bvec	   *result;

	if (nbits < 1 || nbits > BVEC_MAX_BITS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid length %d in external bvec value", nbits),
				 errdetail("A bvec has between 1 and %d bits.", BVEC_MAX_BITS)));
	remaining = buf->len - buf->cursor;
	if ((Size) remaining != BVEC_BYTES(nbits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("external bvec value declares %d bits but carries %d bytes",
						nbits, remaining)));
	result = bvec_new(nbits);
	pq_copymsgbytes(buf, (char *) result->data, remaining);
	if (!bit_padding_is_zero(result->data, nbits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("padding bits of external bvec value are not zero")));
	bvec_check_typmod(result, typmod);
	PG_RETURN_BVEC_P(result);
}

Datum
bvec_send(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, b->nbits);
	pq_sendbytes(&buf, (const char *) b->data, BVEC_BYTES(b->nbits));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Length coercion: bvec -> bvec(n). */
Datum
bvec_coerce_typmod(PG_FUNCTION_ARGS)
{
	Bvec	   *b = PG_GETARG_BVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	bvec_check_typmod(b, typmod);
	PG_RETURN_BVEC_P(b);
}
