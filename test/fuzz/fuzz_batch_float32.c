/*
 * fuzz_batch_float32.c
 *		libFuzzer harness for the float32 batch parser
 *		(src/raw/core/batch_float32.c).
 *
 * The first byte picks dims (1..16); the rest is the batch.  Checks: the
 * number of records accepted and the final status follow from the input
 * length alone (unless a non-finite element stops it first), and every
 * accepted element is finite and equal to the input's bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parse.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			dims;
	size_t		rs;
	BatchCursor c;
	BatchStatus st;
	int64_t		id;
	float	   *v;
	unsigned char *copy;
	size_t		n = 0;

	if (size < 1)
		return 0;
	dims = data[0] % 16 + 1;
	data++;
	size--;
	rs = batch_float32_record_size(dims);
	v = malloc(sizeof(float) * dims);
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);

	batch_float32_begin(&c, copy, size, dims);
	while ((st = batch_float32_next(&c, &id, v)) == BATCH_OK)
	{
		const unsigned char *rec = copy + n * rs;

		for (int i = 0; i < dims; i++)
		{
			uint32_t	bits = (uint32_t) rec[8 + 4 * i] | ((uint32_t) rec[9 + 4 * i] << 8) |
				((uint32_t) rec[10 + 4 * i] << 16) | ((uint32_t) rec[11 + 4 * i] << 24);
			uint32_t	got;

			memcpy(&got, &v[i], 4);
			if (!isfinite(v[i]) || got != bits)
				fail("element differs from input or is not finite");
		}
		n++;
	}
	if (st == BATCH_EMPTY && size != 0)
		fail("non-empty batch reported empty");
	if (st == BATCH_END && size % rs != 0)
		fail("partial record accepted");
	if (st == BATCH_TRUNCATED && (size % rs == 0 || n != size / rs || (size_t) c.record != n + 1))
		fail("truncation misreported");
	if (st == BATCH_NOT_FINITE && (c.record != (int64_t) n + 1 || c.field < 2 || c.field > dims + 1))
		fail("non-finite position misreported");
	free(copy);
	free(v);
	return 0;
}
