/*
 * fuzz_lz4_decode.c
 *		libFuzzer harness for the LZ4 frame decoder (src/raw/core/lz4frame_codec.c).
 *
 * The first input byte picks the output bound (so both "fits" and "too
 * large" paths are exercised); the rest is the frame.  Beyond "does not
 * crash": a successful decode stays within the bound and matches the
 * header's content size, and re-encoding its output decodes back the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lz4frame_codec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		cap;
	unsigned char *out;
	size_t		outlen = 12345;
	uint64_t	csize;
	Lz4cStatus	st;

	if (size < 1)
		return 0;
	cap = (size_t) data[0] * 257;	/* 0 .. 65535 */
	data++;
	size--;

	/* exact-size buffer so AddressSanitizer sees any overrun */
	out = malloc(cap ? cap : 1);
	st = lz4c_decode(data, size, out, cap, &outlen);
	if (st != LZ4C_OK)
	{
		if (outlen != 0)
			fail("failed decode reports a length");
	}
	else
	{
		size_t		fcap = lz4c_encode_bound(outlen);
		unsigned char *frame = malloc(fcap);
		unsigned char *again = malloc(outlen ? outlen : 1);
		size_t		flen,
					len2;

		if (outlen > cap)
			fail("decoded past the bound");
		if (lz4c_content_size(data, size, &csize) != LZ4C_OK)
			fail("decodable frame has an unreadable header");
		if (csize != 0 && csize != outlen)
			fail("content size differs from the header");
		if (lz4c_encode(out, outlen, 0, frame, fcap, &flen) != LZ4C_OK)
			fail("re-encode failed");
		if (lz4c_decode(frame, flen, again, outlen, &len2) != LZ4C_OK ||
			len2 != outlen || memcmp(again, out, outlen) != 0)
			fail("re-encoded frame does not round-trip");
		free(frame);
		free(again);
	}
	lz4c_content_size(data, size, &csize);
	free(out);
	return 0;
}
