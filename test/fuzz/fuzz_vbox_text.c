/*
 * fuzz_vbox_text.c
 *		libFuzzer harness for the vbox text parser (src/spatial/core/vbox_text.c).
 *
 * Beyond "does not crash", it checks the parser's promises: it never
 * stores more than its capacity in either corner, an error offset lies
 * inside the input, and a successful parse has equal, finite corners that
 * survive a round trip through printf("%.9g") unchanged.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vbox_text.h"
#include "fuzz.h"

#define CAPACITY_LIMIT 16001

static size_t
print_corner(char *buf, size_t cap, const float *x, int dims)
{
	size_t		len = 0;

	buf[len++] = '[';
	for (int i = 0; i < dims; i++)
		len += snprintf(buf + len, cap - len, "%s%.9g", i ? "," : "", x[i]);
	buf[len++] = ']';
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	char	   *scratch = malloc(size + 1);
	int			capacity;
	float	   *lo,
			   *hi;
	VBoxParseResult r;

	memcpy(str, data, size);
	str[size] = '\0';

	capacity = vec_text_max_elements(str, CAPACITY_LIMIT);
	/* exact-size buffers so AddressSanitizer sees any overrun */
	lo = malloc(sizeof(float) * capacity);
	hi = malloc(sizeof(float) * capacity);
	r = vbox_text_parse(str, lo, hi, capacity, scratch);

	if (r.status != VBOX_PARSE_OK && r.error_offset > strlen(str))
		fail("error offset past the end of the input");
	if (r.dims < 0 || r.dims > capacity)
		fail("dims outside [0, capacity]");

	if (r.status == VBOX_PARSE_OK)
	{
		size_t		cap = (size_t) r.dims * 40 + 16;
		char	   *text = malloc(cap);
		char	   *scratch2 = malloc(cap);
		float	   *lo2 = malloc(sizeof(float) * r.dims);
		float	   *hi2 = malloc(sizeof(float) * r.dims);
		size_t		len = 0;
		VBoxParseResult r2;

		if (r.dims < 1)
			fail("successful parse of zero dimensions");
		for (int i = 0; i < r.dims; i++)
			if (!isfinite(lo[i]) || !isfinite(hi[i]))
				fail("non-finite corner accepted");
		text[len++] = '(';
		len += print_corner(text + len, cap - len, lo, r.dims);
		text[len++] = ',';
		len += print_corner(text + len, cap - len, hi, r.dims);
		text[len++] = ')';
		text[len] = '\0';

		r2 = vbox_text_parse(text, lo2, hi2, r.dims, scratch2);
		if (r2.status != VBOX_PARSE_OK || r2.dims != r.dims)
			fail("round trip does not parse");
		if (memcmp(lo, lo2, sizeof(float) * r.dims) != 0 ||
			memcmp(hi, hi2, sizeof(float) * r.dims) != 0)
			fail("round trip changes values");

		vbox_normalize(lo, hi, r.dims);
		for (int i = 0; i < r.dims; i++)
			if (lo[i] > hi[i])
				fail("normalize left lo > hi");
		free(text);
		free(scratch2);
		free(lo2);
		free(hi2);
	}

	free(lo);
	free(hi);
	free(scratch);
	free(str);
	return 0;
}
