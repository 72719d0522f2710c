/*
 * fuzz_batch_float16.c
 *		libFuzzer harness for the float16 batch parser
 *		(src/raw/core/batch_float32.c), the one ms.proc_float16 runs.
 *
 * The first byte picks dims (1..16); the rest is the batch.  Checks: the
 * records accepted and the final status follow from the input length
 * alone (unless an Infinity or NaN stops it first, at the element that
 * holds it); every accepted element is the input's bits, a finite half
 * that survives the trip through float unchanged (what the server's hvec
 * stores and prints).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parse.h"
#include "half.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			dims;
	size_t		rs;
	BatchCursor c;
	BatchStatus st;
	int64_t		id;
	uint16_t   *h;
	unsigned char *copy;
	size_t		n = 0;

	if (size < 1)
		return 0;
	dims = data[0] % 16 + 1;
	data++;
	size--;
	rs = batch_float16_record_size(dims);
	if (rs != 8 + 2 * (size_t) dims)
		fail("record size");
	/* exact sizes, so AddressSanitizer sees a read or write past either */
	h = malloc(sizeof(uint16_t) * dims);
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);

	batch_float16_begin(&c, copy, size, dims);
	while ((st = batch_float16_next(&c, &id, h)) == BATCH_OK)
	{
		const unsigned char *rec = copy + n * rs;
		uint64_t	want_id = 0;

		for (int i = 7; i >= 0; i--)
			want_id = (want_id << 8) | rec[i];
		if ((uint64_t) id != want_id)
			fail("id differs from the input");
		for (int i = 0; i < dims; i++)
		{
			uint16_t	bits = (uint16_t) (rec[8 + 2 * i] | (rec[9 + 2 * i] << 8));
			float		f = half_to_float(h[i]);

			if (h[i] != bits)
				fail("element differs from the input");
			if (half_is_special(h[i]) || !isfinite(f))
				fail("Infinity or NaN accepted");
			if (half_from_double(f) != h[i])
				fail("half does not survive the trip through float");
		}
		n++;
		if (c.pos != n * rs || c.record != (int64_t) n)
			fail("cursor out of step with the records");
	}
	if (st == BATCH_OK || st == BATCH_BAD_DIMS)
		fail("unexpected status");
	if (st == BATCH_EMPTY && (size != 0 || n != 0))
		fail("non-empty batch reported empty");
	if (st == BATCH_END && (size % rs != 0 || n != size / rs))
		fail("partial record accepted, or records lost");
	if (st == BATCH_TRUNCATED && (size % rs == 0 || n != size / rs || (size_t) c.record != n + 1))
		fail("truncation misreported");
	if (st == BATCH_NOT_FINITE)
	{
		const unsigned char *rec = copy + n * rs;
		uint16_t	bits;

		if (c.record != (int64_t) n + 1 || c.field < 2 || c.field > dims + 1 || (n + 1) * rs > size)
			fail("non-finite position misreported");
		bits = (uint16_t) (rec[8 + 2 * (c.field - 2)] | (rec[9 + 2 * (c.field - 2)] << 8));
		if (!half_is_special(bits))
			fail("a finite element reported non-finite");
	}
	if (st != BATCH_EMPTY && st != BATCH_END && st != BATCH_TRUNCATED && st != BATCH_NOT_FINITE)
		fail("status the float16 parser never gives");
	free(copy);
	free(h);
	return 0;
}
