/*
 * raw_codec.c
 *		SQL glue of the LZ4 frame codec for raw batches:
 *		ms._lz4_encode(bytea) and ms._lz4_decode(bytea, bigint, bigint).
 *
 * Stored frames are decoded as untrusted input: the output is bounded by
 * the size recorded at ingest, and any damage (checksums, truncation,
 * size mismatch) is SQLSTATE XX001 (data_corrupted), never garbage.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "lz4frame_codec.h"
#include "raw_store.h"

PG_FUNCTION_INFO_V1(ms_lz4_encode);
PG_FUNCTION_INFO_V1(ms_lz4_decode);

/*
 * ms._lz4_encode(bytea) → bytea: one LZ4 frame, recompressed at
 * machinesoup.raw_compression_level when the fast level shrinks it enough.
 */
Datum
ms_lz4_encode(PG_FUNCTION_ARGS)
{
	bytea	   *src = PG_GETARG_BYTEA_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(src);
	size_t		cap = lz4c_encode_bound(len);
	size_t		flen;
	bytea	   *dst;
	Lz4cStatus	st;

	if (cap > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("raw batch of %zu bytes is too large", len)));
	dst = (bytea *) palloc(VARHDRSZ + cap);
	/*
	 * The fast level first.  Only when that finds the data compressible
	 * (at least 10 % saved) is it worth spending high-compression time on:
	 * text batches shrink further, float batches would not.
	 */
	st = lz4c_encode(VARDATA_ANY(src), len, 0, VARDATA(dst), cap, &flen);
	if (st == LZ4C_OK && ms_raw_compression_level > 0 && flen < len - len / 10)
		st = lz4c_encode(VARDATA_ANY(src), len, ms_raw_compression_level,
						 VARDATA(dst), cap, &flen);
	if (st != LZ4C_OK)
		ereport(ERROR,
				(errcode(st == LZ4C_NOMEM ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compress raw batch: %s", lz4c_status_message(st))));
	SET_VARSIZE(dst, VARHDRSZ + flen);
	PG_RETURN_BYTEA_P(dst);
}

/* See raw_store.h: any damage is data_corrupted (XX001), naming the batch. */
bytea *
ms_raw_decode(bytea *frame, int64 raw_bytes, int64 batch_id)
{
	bytea	   *dst;
	size_t		outlen;
	Lz4cStatus	st;

	if (raw_bytes < 0 || (Size) raw_bytes > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raw batch " INT64_FORMAT " is corrupt: recorded size " INT64_FORMAT " is impossible",
						batch_id, raw_bytes)));
	dst = (bytea *) palloc(VARHDRSZ + raw_bytes);
	st = lz4c_decode(VARDATA_ANY(frame), VARSIZE_ANY_EXHDR(frame),
					 VARDATA(dst), (size_t) raw_bytes, &outlen);
	if (st == LZ4C_NOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory decoding raw batch " INT64_FORMAT, batch_id)));
	if (st == LZ4C_OK && outlen != (size_t) raw_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raw batch " INT64_FORMAT " is corrupt", batch_id),
				 errdetail("The frame holds %zu bytes; " INT64_FORMAT " were stored.", outlen, raw_bytes)));
	if (st != LZ4C_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raw batch " INT64_FORMAT " is corrupt", batch_id),
				 errdetail("%s.", lz4c_status_message(st)),
				 errhint("Restore the batch from a backup; the stored frame fails its checks.")));
	SET_VARSIZE(dst, VARHDRSZ + outlen);
	return dst;
}

/* ms._lz4_decode(frame bytea, raw_bytes bigint, batch_id bigint) → bytea */
Datum
ms_lz4_decode(PG_FUNCTION_ARGS)
{
	bytea	   *frame = PG_GETARG_BYTEA_PP(0);
	int64		raw_bytes = PG_GETARG_INT64(1);
	int64		batch_id = PG_GETARG_INT64(2);

	PG_RETURN_BYTEA_P(ms_raw_decode(frame, raw_bytes, batch_id));
}
