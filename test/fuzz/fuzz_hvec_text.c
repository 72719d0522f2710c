/*
 * fuzz_hvec_text.c
 *		libFuzzer harness for the hvec text parser (src/hvec/core/hvec_text.c)
 *		and the shortest text of a half (src/core/half.c).
 *
 * Beyond "does not crash", it checks the parser's promises: it never stores
 * more than its capacity, every stored half is finite, an error offset lies
 * inside the input, and a successful parse printed with half_to_shortest
 * parses back to the same bits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "hvec_text.h"
#include "fuzz.h"

#define CAPACITY_LIMIT 16001

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	int			capacity;
	uint16_t   *out;
	VecParseResult r;

	memcpy(str, data, size);
	str[size] = '\0';

	capacity = vec_text_max_elements(str, CAPACITY_LIMIT);
	if (capacity < 1 || capacity > CAPACITY_LIMIT)
		fail("capacity out of bounds");
	/* exact-size buffer so AddressSanitizer sees any overrun */
	out = malloc(sizeof(uint16_t) * capacity);
	r = hvec_text_parse(str, out, capacity);

	if (r.dims < 0 || r.dims > capacity)
		fail("dims outside [0, capacity]");
	if (r.status != VEC_PARSE_OK && r.error_offset > strlen(str))
		fail("error offset past the end of the input");

	if (r.status == VEC_PARSE_OK)
	{
		size_t		buflen = (size_t) r.dims * (HALF_SHORTEST_LEN + 1) + 3;
		char	   *text = malloc(buflen);
		size_t		len = 0;
		uint16_t   *again = malloc(sizeof(uint16_t) * r.dims);
		VecParseResult r2;

		if (r.dims < 1)
			fail("successful parse of zero elements");
		text[len++] = '[';
		for (int i = 0; i < r.dims; i++)
		{
			if (half_is_special(out[i]))
				fail("non-finite element accepted");
			if (i > 0)
				text[len++] = ',';
			len += half_to_shortest(out[i], text + len);
		}
		text[len++] = ']';
		text[len] = '\0';

		r2 = hvec_text_parse(text, again, r.dims);
		if (r2.status != VEC_PARSE_OK || r2.dims != r.dims)
			fail("round trip does not parse");
		if (memcmp(out, again, sizeof(uint16_t) * r.dims) != 0)
			fail("round trip changes values");
		free(text);
		free(again);
	}

	free(out);
	free(str);
	return 0;
}
