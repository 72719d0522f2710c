/*
 * fuzz_batch_csv.c
 *		libFuzzer harness for the CSV batch parser (src/raw/core/batch_csv.c).
 *
 * The first byte picks dims (1..8); the rest is the batch.  Checks: the
 * cursor never runs past the input, every accepted value is finite, the
 * line number of the result is within the input's line count, and an
 * accepted batch reprinted with %.9g parses to the same values.
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
	BatchCursor c;
	BatchStatus st;
	int64_t		id;
	float	   *v;
	size_t		lines = 1;
	char	   *text;
	size_t		tlen = 0,
				tcap;
	int64_t		records = 0;

	if (size < 1)
		return 0;
	dims = data[0] % 8 + 1;
	data++;
	size--;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	v = malloc(sizeof(float) * dims);
	tcap = 64 + size * 40;
	text = malloc(tcap);
	/* parse from an exact-size copy so reads past the end are caught */
	{
		unsigned char *copy = malloc(size ? size : 1);

		memcpy(copy, data, size);
		batch_csv_begin(&c, copy, size, dims);
		while ((st = batch_csv_next(&c, &id, v)) == BATCH_OK)
		{
			records++;
			if (c.pos > size)
				fail("cursor past the end");
			tlen += snprintf(text + tlen, tcap - tlen, "%lld", (long long) id);
			for (int i = 0; i < dims; i++)
			{
				if (!isfinite(v[i]))
					fail("non-finite value accepted");
				tlen += snprintf(text + tlen, tcap - tlen, ",%.9g", v[i]);
			}
			text[tlen++] = '\n';
		}
		free(copy);
	}
	if (c.record < 0 || (size_t) c.record > lines)
		fail("line number outside the input");
	if (st != BATCH_END && st != BATCH_EMPTY && c.field > dims + 1)
		fail("field number past the last field");

	if (st == BATCH_END)
	{
		BatchCursor c2;
		float	   *w = malloc(sizeof(float) * dims);
		int64_t		n = 0;
		BatchCursor c1;
		unsigned char *copy = malloc(size ? size : 1);

		memcpy(copy, data, size);
		batch_csv_begin(&c1, copy, size, dims);
		batch_csv_begin(&c2, text, tlen, dims);
		for (;;)
		{
			int64_t		id1,
						id2;
			BatchStatus s1 = batch_csv_next(&c1, &id1, v);
			BatchStatus s2 = batch_csv_next(&c2, &id2, w);

			if (s1 != s2)
				fail("reprinted batch parses differently");
			if (s1 != BATCH_OK)
				break;
			n++;
			if (id1 != id2 || memcmp(v, w, sizeof(float) * dims) != 0)
				fail("reprinted values differ");
		}
		if (n != records)
			fail("record count differs");
		free(w);
		free(copy);
	}
	free(text);
	free(v);
	return 0;
}
