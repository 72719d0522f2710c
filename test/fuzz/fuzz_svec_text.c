/*
 * fuzz_svec_text.c
 *		libFuzzer harness for the svec text parser (src/core/svec_text.c).
 *
 * Beyond "does not crash", it checks the parser's promises: it never
 * stores more than its capacity; a successful parse has dims in range, at
 * most max_nnz entries, strictly increasing indices below dims and finite
 * non-zero values; an error offset lies inside the input; and a
 * successful parse survives a round trip through printf("%.9g"), with the
 * entries written in reverse order (the parser sorts), unchanged.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svec_text.h"
#include "fuzz.h"

/* small enough that the fuzzer reaches the limits */
#define CAPACITY_LIMIT 64
#define MAX_NNZ 32

static void
check_stored_form(const SvecParseResult *r, const SvecEntry *out, int capacity)
{
	if (r->nnz < 0 || r->nnz > capacity || r->nnz > MAX_NNZ)
		fail("nnz outside [0, min(capacity, max_nnz)]");
	if (r->dims < 1 || r->dims > SVEC_MAX_DIMS)
		fail("dims out of range accepted");
	for (int i = 0; i < r->nnz; i++)
	{
		if (out[i].index < 0 || out[i].index >= r->dims)
			fail("index outside [0, dims)");
		if (i > 0 && out[i].index <= out[i - 1].index)
			fail("indices not strictly increasing");
		if (!isfinite(out[i].value) || out[i].value == 0.0f)
			fail("zero or non-finite value stored");
	}
}

static void
check_round_trip(const SvecParseResult *r, const SvecEntry *out)
{
	size_t		buflen = (size_t) r->nnz * 32 + 32;
	char	   *text = malloc(buflen);
	size_t		len = 0;
	SvecEntry  *again = malloc(sizeof(SvecEntry) * (r->nnz + 1));
	SvecParseResult r2;

	text[len++] = '{';
	for (int i = r->nnz - 1; i >= 0; i--)
		len += snprintf(text + len, buflen - len, "%s%d:%.9g",
						i < r->nnz - 1 ? "," : "", out[i].index + 1, out[i].value);
	len += snprintf(text + len, buflen - len, "}/%lld", (long long) r->dims);

	r2 = svec_text_parse(text, again, r->nnz + 1, MAX_NNZ);
	if (r2.status != SVEC_PARSE_OK || r2.nnz != r->nnz || r2.dims != r->dims)
		fail("round trip does not parse");
	if (r->nnz > 0 && memcmp(out, again, sizeof(SvecEntry) * r->nnz) != 0)
		fail("round trip changes entries");
	free(text);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	int			capacity;
	SvecEntry  *out;
	SvecParseResult r;

	memcpy(str, data, size);
	str[size] = '\0';

	capacity = svec_text_max_entries(str, CAPACITY_LIMIT);
	if (capacity < 1 || capacity > CAPACITY_LIMIT)
		fail("capacity out of bounds");
	/* exact-size buffer so AddressSanitizer sees any overrun */
	out = malloc(sizeof(SvecEntry) * capacity);
	r = svec_text_parse(str, out, capacity, MAX_NNZ);

	if (r.status != SVEC_PARSE_OK && r.error_offset > strlen(str))
		fail("error offset past the end of the input");
	if (r.nnz < 0 || r.nnz > capacity)
		fail("nnz outside [0, capacity]");
	if (r.status == SVEC_PARSE_OK)
	{
		check_stored_form(&r, out, capacity);
		check_round_trip(&r, out);
	}
	free(out);
	free(str);
	return 0;
}
