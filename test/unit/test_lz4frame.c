/*
 * test_lz4frame.c
 *		Unit tests for the LZ4 frame codec (src/raw/core/lz4frame_codec.c):
 *		round trips, and every way a stored frame can be damaged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lz4frame_codec.h"
#include "unit.h"


static unsigned char *
encode(const void *src, size_t len, int level, size_t *flen)
{
	size_t		cap = lz4c_encode_bound(len);
	unsigned char *dst = malloc(cap);
	Lz4cStatus	st = lz4c_encode(src, len, level, dst, cap, flen);

	CHECK(st == LZ4C_OK, "encode %zu bytes: %s", len, lz4c_status_message(st));
	return dst;
}

static Lz4cStatus
decode(const unsigned char *frame, size_t flen, size_t cap, size_t *outlen)
{
	unsigned char *out = malloc(cap ? cap : 1);
	Lz4cStatus	st = lz4c_decode(frame, flen, out, cap, outlen);

	free(out);
	return st;
}

static void
round_trip(const unsigned char *src, size_t len, int level)
{
	size_t		flen,
				olen;
	unsigned char *frame = encode(src, len, level, &flen);
	unsigned char *out = malloc(len ? len : 1);
	uint64_t	csize;
	Lz4cStatus	st;

	st = lz4c_content_size(frame, flen, &csize);
	CHECK(st == LZ4C_OK && csize == len, "content size %llu, want %zu (%s)",
			(unsigned long long) csize, len, lz4c_status_message(st));
	st = lz4c_decode(frame, flen, out, len, &olen);
	CHECK(st == LZ4C_OK, "decode %zu bytes: %s", len, lz4c_status_message(st));
	CHECK(olen == len && memcmp(out, src, len) == 0, "round trip of %zu bytes differs", len);
	/* one byte less room than needed must fail, not truncate */
	if (len > 0)
	{
		st = decode(frame, flen, len - 1, &olen);
		CHECK(st == LZ4C_TOO_LARGE, "bound %zu: %s", len - 1, lz4c_status_message(st));
	}
	free(out);
	free(frame);
}

int
main(void)
{
	size_t		big = 3 * 1024 * 1024 + 17;	/* several 256 kB blocks */
	unsigned char *text = malloc(big);
	unsigned char *noise = malloc(big);
	unsigned char *frame;
	size_t		flen,
				olen;
	Lz4cStatus	st;
	uint32_t	seed = 12345;

	for (size_t i = 0; i < big; i++)
	{
		text[i] = "0123456789,.-\n"[i * 7 % 14];
		seed = seed * 1103515245 + 12345;
		noise[i] = (unsigned char) (seed >> 16);
	}

	round_trip((const unsigned char *) "", 0, 0);
	round_trip((const unsigned char *) "a", 1, 0);
	round_trip(text, 1000, 0);
	round_trip(text, big, 0);
	round_trip(text, big, 9);
	round_trip(noise, big, 0);

	/* compressible input actually shrinks */
	frame = encode(text, big, 0, &flen);
	CHECK(flen < big / 4, "text compressed to %zu of %zu", flen, big);

	/* every single flipped byte is detected (header, blocks, checksums) */
	{
		int			undetected = 0;
		size_t		step = flen / 4000 + 1;

		for (size_t i = 0; i < flen; i += (i < 64 || i + 64 > flen) ? 1 : step)
		{
			unsigned char *copy = malloc(flen);

			memcpy(copy, frame, flen);
			copy[i] ^= 0x5a;
			st = decode(copy, flen, big, &olen);
			if (st == LZ4C_OK)
				undetected++;
			free(copy);
		}
		CHECK(undetected == 0, "%d flipped bytes went undetected", undetected);
	}

	/* truncated at every prefix length near the ends and some in between */
	for (size_t n = 0; n < flen; n += (n < 40 || n + 40 > flen) ? 1 : flen / 50)
	{
		st = decode(frame, n, big, &olen);
		CHECK(st != LZ4C_OK, "prefix of %zu bytes accepted", n);
		if (n >= 4)
			CHECK(st == LZ4C_TRUNCATED || st == LZ4C_BAD_HEADER,
					"prefix of %zu: %s", n, lz4c_status_message(st));
	}

	/* trailing data after a complete frame */
	{
		unsigned char *longer = malloc(flen + 3);

		memcpy(longer, frame, flen);
		memcpy(longer + flen, "xyz", 3);
		st = decode(longer, flen + 3, big, &olen);
		CHECK(st == LZ4C_TRAILING_DATA, "trailing data: %s", lz4c_status_message(st));
		/* two frames back to back are refused too */
		free(longer);
		longer = malloc(2 * flen);
		memcpy(longer, frame, flen);
		memcpy(longer + flen, frame, flen);
		st = decode(longer, 2 * flen, 2 * big, &olen);
		CHECK(st == LZ4C_TRAILING_DATA, "two frames: %s", lz4c_status_message(st));
		free(longer);
	}

	/* specific damages */
	{
		unsigned char *copy = malloc(flen);

		memcpy(copy, frame, flen);
		copy[0] ^= 1;
		CHECK(decode(copy, flen, big, &olen) == LZ4C_BAD_MAGIC, "bad magic");
		memcpy(copy, frame, flen);
		copy[flen - 1] ^= 1;
		st = decode(copy, flen, big, &olen);
		CHECK(st == LZ4C_CONTENT_CHECKSUM, "last byte: %s", lz4c_status_message(st));
		memcpy(copy, frame, flen);
		copy[flen / 2] ^= 0x80;
		st = decode(copy, flen, big, &olen);
		CHECK(st == LZ4C_BLOCK_CHECKSUM || st == LZ4C_CORRUPT,
				"middle byte: %s", lz4c_status_message(st));
		free(copy);
	}
	CHECK(decode((const unsigned char *) "", 0, 10, &olen) == LZ4C_BAD_MAGIC, "empty input");
	CHECK(decode((const unsigned char *) "\x04\x22", 2, 10, &olen) == LZ4C_TRUNCATED, "2 bytes");
	/* skippable frame magic */
	CHECK(decode((const unsigned char *) "\x50\x2a\x4d\x18\0\0\0\0", 8, 10, &olen) == LZ4C_BAD_MAGIC,
			"skippable frame");

	/* a frame without checksums (as another tool might write) is refused */
	{
		/* magic, FLG=0x60 (v01, block independence), BD=0x40, HC, end mark */
		const unsigned char nock[] = {0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0};

		st = decode(nock, sizeof(nock), 10, &olen);
		CHECK(st == LZ4C_NO_CHECKSUM || st == LZ4C_BAD_HEADER, "no checksums: %s",
				lz4c_status_message(st));
	}
	/* destination below the bound */
	CHECK(lz4c_encode(text, 1000, 0, noise, 10, &olen) == LZ4C_DST_TOO_SMALL, "small dst");
	for (int s = 0; s <= LZ4C_INTERNAL; s++)
		CHECK(lz4c_status_message((Lz4cStatus) s)[0] != '\0', "message %d", s);

	free(frame);
	free(text);
	free(noise);
	return unit_finish("test_lz4frame");
}
