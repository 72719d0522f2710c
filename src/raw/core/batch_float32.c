/*
 * batch_float32.c
 *		Parsers of binary float32 and float16 raw batches: records of an
 *		int64 id and dims float32 (or IEEE binary16), little-endian, no
 *		header.
 *
 * Bytes are assembled explicitly so the result does not depend on the
 * host's byte order or on the input's alignment.
 */
#include <math.h>
#include <string.h>

#include "batch_parse.h"

size_t
batch_float32_record_size(int dims)
{
	return 8 + 4 * (size_t) dims;
}

void
batch_float32_begin(BatchCursor *c, const void *data, size_t len, int dims)
{
	memset(c, 0, sizeof(*c));
	c->data = data;
	c->len = len;
	c->dims = dims;
}

/* The little-endian 64-bit integer at p, whatever the host and alignment. */
static uint64_t
le64(const unsigned char *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The little-endian float32 at p. */
static float
le_float(const unsigned char *p)
{
	uint32_t	bits = (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
	float		f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

BatchStatus
batch_float32_next(BatchCursor *c, int64_t *id, float *vec)
{
	size_t		recsize;
	const unsigned char *p;

	c->field = 0;
	if (c->dims < 1 || c->dims > BATCH_MAX_DIMS)
		return BATCH_BAD_DIMS;
	if (c->pos >= c->len)
		return c->record == 0 ? BATCH_EMPTY : BATCH_END;

	recsize = batch_float32_record_size(c->dims);
	c->record++;
	if (c->len - c->pos < recsize)
		return BATCH_TRUNCATED;

	p = c->data + c->pos;
	*id = (int64_t) le64(p);
	for (int i = 0; i < c->dims; i++)
	{
		float		v = le_float(p + 8 + 4 * (size_t) i);

		if (!isfinite(v))
		{
			c->field = i + 2;
			return BATCH_NOT_FINITE;
		}
		vec[i] = v;
	}
	c->pos += recsize;
	return BATCH_OK;
}

size_t
batch_float16_record_size(int dims)
{
	return 8 + 2 * (size_t) dims;
}

void
batch_float16_begin(BatchCursor *c, const void *data, size_t len, int dims)
{
	batch_float32_begin(c, data, len, dims);
}

BatchStatus
batch_float16_next(BatchCursor *c, int64_t *id, uint16_t *half_bits)
{
	size_t		recsize;
	const unsigned char *p;

	c->field = 0;
	if (c->dims < 1 || c->dims > BATCH_MAX_DIMS)
		return BATCH_BAD_DIMS;
	if (c->pos >= c->len)
		return c->record == 0 ? BATCH_EMPTY : BATCH_END;

	recsize = batch_float16_record_size(c->dims);
	c->record++;
	if (c->len - c->pos < recsize)
		return BATCH_TRUNCATED;

	p = c->data + c->pos;
	*id = (int64_t) le64(p);
	for (int i = 0; i < c->dims; i++)
	{
		uint16_t	h = (uint16_t) (p[8 + 2 * (size_t) i] |
									(p[9 + 2 * (size_t) i] << 8));

		/* exponent all ones: Infinity or NaN */
		if ((h & 0x7c00) == 0x7c00)
		{
			c->field = i + 2;
			return BATCH_NOT_FINITE;
		}
		half_bits[i] = h;
	}
	c->pos += recsize;
	return BATCH_OK;
}
