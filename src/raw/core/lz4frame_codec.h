/*
 * lz4frame_codec.h
 *		LZ4 frame encoding and defensive decoding of raw batches.
 *
 * Plain C (no postgres.h) so it can be unit-tested and fuzzed without a
 * server.  Frames are written with block checksums, a content checksum and
 * the content size in the header.  Decoding treats its input as untrusted:
 * the caller bounds the output size, the frame must be exactly one LZ4
 * frame with both checksums present and valid, and every failure is a
 * status code, never a crash and never partial output handed back as good.
 */
#ifndef MS_LZ4FRAME_CODEC_H
#define MS_LZ4FRAME_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef enum Lz4cStatus
{
	LZ4C_OK = 0,
	LZ4C_NOMEM,					/* allocation failed */
	LZ4C_DST_TOO_SMALL,			/* encode: destination below the bound */
	LZ4C_BAD_MAGIC,				/* not an LZ4 frame */
	LZ4C_BAD_HEADER,			/* frame header unreadable or checksum wrong */
	LZ4C_NO_CHECKSUM,			/* frame lacks content or block checksums */
	LZ4C_TOO_LARGE,				/* content larger than the caller's bound */
	LZ4C_SIZE_MISMATCH,			/* content size differs from the header's */
	LZ4C_TRUNCATED,				/* input ends inside the frame */
	LZ4C_TRAILING_DATA,			/* bytes after the end of the frame */
	LZ4C_BLOCK_CHECKSUM,		/* a block checksum does not match */
	LZ4C_CONTENT_CHECKSUM,		/* the content checksum does not match */
	LZ4C_CORRUPT,				/* any other decoding failure */
	LZ4C_INTERNAL				/* liblz4 failed in an unexpected way */
} Lz4cStatus;

/* Largest frame lz4c_encode can produce for srclen bytes. */
extern size_t lz4c_encode_bound(size_t srclen);

/*
 * Encode src[0..srclen) as one frame into dst (capacity dstcap, at least
 * lz4c_encode_bound(srclen)); *dstlen receives the frame length.  level is
 * liblz4's compression level: 0 is the fast default, 3..12 high compression.
 */
extern Lz4cStatus lz4c_encode(const void *src, size_t srclen, int level,
							  void *dst, size_t dstcap, size_t *dstlen);

/*
 * Read the content size recorded in the frame header, checking the header
 * (magic, header checksum, required flags) but not the blocks.  Useful to
 * size the output buffer; the size is still verified while decoding.
 */
extern Lz4cStatus lz4c_content_size(const void *src, size_t srclen,
									uint64_t *size);

/*
 * Decode the frame src[0..srclen) into dst (capacity dstcap).  Fails with
 * LZ4C_TOO_LARGE rather than writing past dstcap.  On success *dstlen is
 * the content length, which equals the header's content size.  On failure
 * dst may hold partial output that must not be used.
 */
extern Lz4cStatus lz4c_decode(const void *src, size_t srclen,
							  void *dst, size_t dstcap, size_t *dstlen);

/* A short English description of a status, for error details. */
extern const char *lz4c_status_message(Lz4cStatus status);

#endif							/* MS_LZ4FRAME_CODEC_H */
