/*
 * fuzz_batch_binary_quantize.c
 *		libFuzzer harness for ms.proc_binary_quantize's path: float32
 *		records (src/raw/core/batch_float32.c) quantized to their sign bits
 *		by bit_quantize_floats (src/core/bit_kernels.c).
 *
 * The first byte picks dims (1..72, so most lengths end inside a byte);
 * the rest is the batch.  Checks: bit i of each accepted record is set
 * exactly when element i of the input is > 0, the padding bits of the
 * last byte are zero (bvec's invariant), and the quantizer writes nothing
 * past its (dims + 7) / 8 bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parse.h"
#include "bit_kernels.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			dims;
	size_t		rs;
	size_t		nbytes;
	BatchCursor c;
	BatchStatus st;
	int64_t		id;
	float	   *v;
	uint8_t    *bits;
	unsigned char *copy;
	size_t		n = 0;

	if (size < 1)
		return 0;
	dims = data[0] % 72 + 1;
	data++;
	size--;
	rs = batch_float32_record_size(dims);
	nbytes = ((size_t) dims + 7) / 8;
	v = malloc(sizeof(float) * dims);
	bits = malloc(nbytes);
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);

	batch_float32_begin(&c, copy, size, dims);
	while ((st = batch_float32_next(&c, &id, v)) == BATCH_OK)
	{
		const unsigned char *rec = copy + n * rs;

		memset(bits, 0xa5, nbytes);
		bit_quantize_floats(v, dims, bits);
		for (int i = 0; i < dims; i++)
		{
			uint32_t	raw = (uint32_t) rec[8 + 4 * i] | ((uint32_t) rec[9 + 4 * i] << 8) |
				((uint32_t) rec[10 + 4 * i] << 16) | ((uint32_t) rec[11 + 4 * i] << 24);
			float		x;
			int			bit = (bits[i / 8] >> (7 - i % 8)) & 1;

			memcpy(&x, &raw, 4);
			if (!isfinite(x))
				fail("non-finite element accepted");
			if (bit != (x > 0.0f))
				fail("bit is not the element's sign");
		}
		if (!bit_padding_is_zero(bits, dims))
			fail("padding bits set");
		n++;
	}
	if (st == BATCH_END && size % rs != 0)
		fail("partial record accepted");
	if (st == BATCH_TRUNCATED && (size % rs == 0 || n != size / rs))
		fail("truncation misreported");
	free(copy);
	free(bits);
	free(v);
	return 0;
}
