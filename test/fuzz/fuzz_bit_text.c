/*
 * fuzz_bit_text.c
 *		libFuzzer harness for the bvec text parser (src/core/bit_text.c).
 *
 * Beyond "does not crash": the parser stays inside its buffer (sized
 * exactly, so AddressSanitizer sees an overrun), leaves the padding bits
 * zero, reports offsets inside the input, and a successful parse formats
 * back to the same bits.
 */
#include <stdlib.h>
#include <string.h>

#include "bit_kernels.h"
#include "bit_text.h"
#include "fuzz.h"

/* small, so that the too-many path is reached often */
#define MAX_BITS 300

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	uint8_t    *out = malloc((MAX_BITS + 7) / 8);
	BitParseResult r;

	memcpy(str, data, size);
	str[size] = '\0';
	r = bit_text_parse(str, out, MAX_BITS);

	if (r.nbits < 0 || r.nbits > MAX_BITS)
		fail("nbits outside [0, MAX_BITS]");
	if (r.status == BIT_PARSE_BAD_CHAR && r.error_offset >= strlen(str))
		fail("error offset past the input");
	if (r.status == BIT_PARSE_OK)
	{
		char	   *text = malloc((size_t) r.nbits + 1);
		uint8_t    *again = malloc((MAX_BITS + 7) / 8);
		BitParseResult r2;

		if (r.nbits < 1)
			fail("successful parse of no bits");
		if (!bit_padding_is_zero(out, r.nbits))
			fail("padding bits set");
		bit_text_format(out, r.nbits, text);
		if (strspn(text, "01") != (size_t) r.nbits || strstr(str, text) == NULL)
			fail("formatted text is not the digits of the input");
		r2 = bit_text_parse(text, again, MAX_BITS);
		if (r2.status != BIT_PARSE_OK || r2.nbits != r.nbits ||
			memcmp(out, again, ((size_t) r.nbits + 7) / 8) != 0)
			fail("round trip changes the bits");
		free(text);
		free(again);
	}
	free(out);
	free(str);
	return 0;
}
