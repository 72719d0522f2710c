/*
 * lz4frame_codec.c
 *		LZ4 frame encoding and defensive decoding of raw batches.
 *
 * Stored frames are untrusted when read back (a disk, a backup or a
 * superuser may have altered them), so the decoder insists on the exact
 * shape the encoder produces: one frame, both checksums on, no dictionary,
 * nothing after the end mark, content no larger than the caller allows.
 */
#define LZ4F_STATIC_LINKING_ONLY	/* LZ4F_getErrorCode */
#include <lz4frame.h>
#include <string.h>

#include "lz4frame_codec.h"

#define LZ4_FRAME_MAGIC 0x184D2204U

/* The frame settings of every batch: both checksums, the size in the header. */
static LZ4F_preferences_t
encode_prefs(size_t srclen, int level)
{
	LZ4F_preferences_t prefs;

	memset(&prefs, 0, sizeof(prefs));
	/* 256 kB linked blocks: good ratio, modest decoder memory */
	prefs.frameInfo.blockSizeID = LZ4F_max256KB;
	prefs.frameInfo.blockMode = LZ4F_blockLinked;
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
	prefs.frameInfo.frameType = LZ4F_frame;
	prefs.frameInfo.contentSize = (unsigned long long) srclen;
	prefs.compressionLevel = level;
	return prefs;
}

size_t
lz4c_encode_bound(size_t srclen)
{
	LZ4F_preferences_t prefs = encode_prefs(srclen, 0);

	return LZ4F_compressFrameBound(srclen, &prefs);
}

Lz4cStatus
lz4c_encode(const void *src, size_t srclen, int level,
			void *dst, size_t dstcap, size_t *dstlen)
{
	LZ4F_preferences_t prefs = encode_prefs(srclen, level);
	size_t		r;

	*dstlen = 0;
	if (dstcap < LZ4F_compressFrameBound(srclen, &prefs))
		return LZ4C_DST_TOO_SMALL;
	r = LZ4F_compressFrame(dst, dstcap, src, srclen, &prefs);
	if (LZ4F_isError(r))
		return LZ4F_getErrorCode(r) == LZ4F_ERROR_allocation_failed ? LZ4C_NOMEM : LZ4C_INTERNAL;
	*dstlen = r;
	return LZ4C_OK;
}

/* The status of a liblz4 decoding error r. */
static Lz4cStatus
map_error(size_t r)
{
	switch (LZ4F_getErrorCode(r))
	{
		case LZ4F_ERROR_allocation_failed:
			return LZ4C_NOMEM;
		case LZ4F_ERROR_contentChecksum_invalid:
			return LZ4C_CONTENT_CHECKSUM;
		case LZ4F_ERROR_blockChecksum_invalid:
			return LZ4C_BLOCK_CHECKSUM;
		case LZ4F_ERROR_frameSize_wrong:
			return LZ4C_SIZE_MISMATCH;
		case LZ4F_ERROR_headerChecksum_invalid:
		case LZ4F_ERROR_headerVersion_wrong:
		case LZ4F_ERROR_maxBlockSize_invalid:
		case LZ4F_ERROR_reservedFlag_set:
		case LZ4F_ERROR_frameType_unknown:
		case LZ4F_ERROR_blockMode_invalid:
		case LZ4F_ERROR_contentChecksumFlag_invalid:
			return LZ4C_BAD_HEADER;
		case LZ4F_ERROR_frameHeader_incomplete:
			return LZ4C_TRUNCATED;
		default:
			return LZ4C_CORRUPT;
	}
}

/*
 * Parse and check the frame header with a fresh context; on success the
 * context has consumed *consumed header bytes and *info is filled in.
 */
static Lz4cStatus
read_header(LZ4F_dctx *dctx, const void *src, size_t srclen,
			LZ4F_frameInfo_t *info, size_t *consumed)
{
	const unsigned char *p = src;
	uint32_t	magic;
	size_t		r;

	if (srclen < 4)
		return srclen == 0 ? LZ4C_BAD_MAGIC : LZ4C_TRUNCATED;
	magic = (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
	/* skippable frames and legacy frames are refused along with the rest */
	if (magic != LZ4_FRAME_MAGIC)
		return LZ4C_BAD_MAGIC;

	*consumed = srclen;
	r = LZ4F_getFrameInfo(dctx, info, src, consumed);
	if (LZ4F_isError(r))
		return map_error(r);
	if (info->contentChecksumFlag != LZ4F_contentChecksumEnabled ||
		info->blockChecksumFlag != LZ4F_blockChecksumEnabled)
		return LZ4C_NO_CHECKSUM;
	if (info->dictID != 0 || info->frameType != LZ4F_frame)
		return LZ4C_BAD_HEADER;
	return LZ4C_OK;
}

Lz4cStatus
lz4c_content_size(const void *src, size_t srclen, uint64_t *size)
{
	LZ4F_dctx  *dctx;
	LZ4F_frameInfo_t info;
	size_t		consumed;
	Lz4cStatus	st;

	*size = 0;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return LZ4C_NOMEM;
	st = read_header(dctx, src, srclen, &info, &consumed);
	if (st == LZ4C_OK)
		*size = info.contentSize;
	LZ4F_freeDecompressionContext(dctx);
	return st;
}

Lz4cStatus
lz4c_decode(const void *src, size_t srclen,
			void *dst, size_t dstcap, size_t *dstlen)
{
	LZ4F_dctx  *dctx;
	LZ4F_frameInfo_t info;
	LZ4F_decompressOptions_t opts;
	const unsigned char *in = src;
	unsigned char *out = dst;
	size_t		inpos;
	size_t		outpos = 0;
	Lz4cStatus	st;

	*dstlen = 0;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return LZ4C_NOMEM;

	st = read_header(dctx, src, srclen, &info, &inpos);
	if (st != LZ4C_OK)
		goto done;
	/* a header that promises more than the caller accepts fails early */
	if (info.contentSize > (unsigned long long) dstcap)
	{
		st = LZ4C_TOO_LARGE;
		goto done;
	}

	memset(&opts, 0, sizeof(opts));
	opts.stableDst = 1;
	for (;;)
	{
		size_t		insz = srclen - inpos;
		size_t		outsz = dstcap - outpos;
		size_t		r;

		r = LZ4F_decompress(dctx, out + outpos, &outsz, in + inpos, &insz, &opts);
		if (LZ4F_isError(r))
		{
			st = map_error(r);
			goto done;
		}
		inpos += insz;
		outpos += outsz;
		if (r == 0)
			break;				/* end mark and content checksum verified */
		if (insz == 0 && outsz == 0)
		{
			/* no progress: out of room, or out of input */
			if (outpos == dstcap)
				st = LZ4C_TOO_LARGE;
			else if (inpos == srclen)
				st = LZ4C_TRUNCATED;
			else
				st = LZ4C_INTERNAL;
			goto done;
		}
	}

	if (inpos != srclen)
		st = LZ4C_TRAILING_DATA;
	else if (info.contentSize != 0 && info.contentSize != (unsigned long long) outpos)
		st = LZ4C_SIZE_MISMATCH;
	else
		*dstlen = outpos;

done:
	LZ4F_freeDecompressionContext(dctx);
	return st;
}

const char *
lz4c_status_message(Lz4cStatus status)
{
	switch (status)
	{
		case LZ4C_OK:
			return "no error";
		case LZ4C_NOMEM:
			return "out of memory in the LZ4 codec";
		case LZ4C_DST_TOO_SMALL:
			return "destination buffer below the LZ4 frame bound";
		case LZ4C_BAD_MAGIC:
			return "not an LZ4 frame (bad magic number)";
		case LZ4C_BAD_HEADER:
			return "invalid LZ4 frame header";
		case LZ4C_NO_CHECKSUM:
			return "LZ4 frame lacks block or content checksums";
		case LZ4C_TOO_LARGE:
			return "LZ4 frame content exceeds the allowed size";
		case LZ4C_SIZE_MISMATCH:
			return "LZ4 frame content size differs from its header";
		case LZ4C_TRUNCATED:
			return "LZ4 frame is truncated";
		case LZ4C_TRAILING_DATA:
			return "data after the end of the LZ4 frame";
		case LZ4C_BLOCK_CHECKSUM:
			return "LZ4 block checksum mismatch";
		case LZ4C_CONTENT_CHECKSUM:
			return "LZ4 content checksum mismatch";
		case LZ4C_CORRUPT:
			return "LZ4 frame data is corrupt";
		case LZ4C_INTERNAL:
			return "internal LZ4 codec failure";
	}
	return "unknown LZ4 codec status";
}
