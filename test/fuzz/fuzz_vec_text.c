/*
 * fuzz_vec_text.c
 *		libFuzzer harness for the vec text parser (src/core/vec_text.c).
 *
 * Beyond "does not crash", it checks the parser's promises: it never stores
 * more than its capacity, every stored element is finite, an error offset
 * lies inside the input, and a successful parse survives a round trip
 * through printf("%.9g") unchanged.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec_text.h"
#include "fuzz.h"

#define CAPACITY_LIMIT 16001

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	int			capacity;
	float	   *out;
	VecParseResult r;

	memcpy(str, data, size);
	str[size] = '\0';

	capacity = vec_text_max_elements(str, CAPACITY_LIMIT);
	if (capacity < 1 || capacity > CAPACITY_LIMIT)
		fail("capacity out of bounds");
	/* exact-size buffer so AddressSanitizer sees any overrun */
	out = malloc(sizeof(float) * capacity);
	r = vec_text_parse(str, out, capacity);

	if (r.dims < 0 || r.dims > capacity)
		fail("dims outside [0, capacity]");
	if (r.status != VEC_PARSE_OK && r.error_offset > strlen(str))
		fail("error offset past the end of the input");

	if (r.status == VEC_PARSE_OK)
	{
		size_t		buflen = (size_t) r.dims * 20 + 3;
		char	   *text = malloc(buflen);
		size_t		len = 0;
		float	   *again = malloc(sizeof(float) * r.dims);
		VecParseResult r2;

		if (r.dims < 1)
			fail("successful parse of zero elements");
		text[len++] = '[';
		for (int i = 0; i < r.dims; i++)
		{
			if (!isfinite(out[i]))
				fail("non-finite element accepted");
			len += snprintf(text + len, buflen - len, "%s%.9g", i ? "," : "", out[i]);
		}
		text[len++] = ']';
		text[len] = '\0';

		r2 = vec_text_parse(text, again, r.dims);
		if (r2.status != VEC_PARSE_OK || r2.dims != r.dims)
			fail("round trip does not parse");
		if (memcmp(out, again, sizeof(float) * r.dims) != 0)
			fail("round trip changes values");
		free(text);
		free(again);
	}

	free(out);
	free(str);
	return 0;
}
