/*
 * test_batch_parsers.c
 *		Unit tests for the CSV and float32 batch parsers
 *		(src/raw/core/batch_csv.c, src/raw/core/batch_float32.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parse.h"
#include "unit.h"


/* parse a whole CSV batch; returns the final status, counting records */
static BatchStatus
csv_all(const char *s, int dims, int *records, BatchCursor *c)
{
	float		v[16];
	int64_t		id;
	BatchStatus st;

	*records = 0;
	batch_csv_begin(c, s, strlen(s), dims);
	while ((st = batch_csv_next(c, &id, v)) == BATCH_OK)
		(*records)++;
	return st;
}

static void
csv_ok(const char *s, int dims, int want)
{
	BatchCursor c;
	int			n;
	BatchStatus st = csv_all(s, dims, &n, &c);

	CHECK(st == BATCH_END && n == want, "\"%s\": %s after %d records, want end after %d",
			s, batch_status_message(st), n, want);
}

static void
csv_err(const char *s, int dims, BatchStatus want, int line, int field)
{
	BatchCursor c;
	int			n;
	BatchStatus st = csv_all(s, dims, &n, &c);

	CHECK(st == want, "\"%s\": %s, want %s", s, batch_status_message(st), batch_status_message(want));
	CHECK(c.record == line && c.field == field, "\"%s\": line %lld field %d, want line %d field %d",
			s, (long long) c.record, c.field, line, field);
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

static void
put_le_float(unsigned char *p, float f)
{
	uint32_t	b;

	memcpy(&b, &f, 4);
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char) (b >> (8 * i));
}

int
main(void)
{
	BatchCursor c;
	float		v[16];
	int64_t		id;
	BatchStatus st;

	/* values come back exactly */
	{
		const char *s = "7,1.5,-2e3\n-9223372036854775808,0,.25";

		batch_csv_begin(&c, s, strlen(s), 2);
	}
	st = batch_csv_next(&c, &id, v);
	CHECK(st == BATCH_OK && id == 7 && v[0] == 1.5f && v[1] == -2000.0f, "first record");
	st = batch_csv_next(&c, &id, v);
	CHECK(st == BATCH_OK && id == INT64_MIN && v[0] == 0.0f && v[1] == 0.25f, "second record");
	CHECK(batch_csv_next(&c, &id, v) == BATCH_END, "end");
	CHECK(batch_csv_next(&c, &id, v) == BATCH_END, "end again");

	csv_ok("1,2\n", 1, 1);
	csv_ok("1,2", 1, 1);
	csv_ok("1,2\n3,4\n", 1, 2);
	csv_ok("+1,+2.\n9223372036854775807,1e-3\n", 1, 2);
	csv_ok("1,3.4028235e38\n2,1.4e-45\n", 1, 2);

	csv_err("", 1, BATCH_EMPTY, 0, 0);
	csv_err("\n", 1, BATCH_EMPTY_LINE, 1, 0);
	csv_err("1,2\n\n", 1, BATCH_EMPTY_LINE, 2, 0);
	csv_err("1,2\n\n3,4\n", 1, BATCH_EMPTY_LINE, 2, 0);
	csv_err("1,2\r\n", 1, BATCH_CR, 1, 0);
	csv_err("1,2\n3,4\r\n", 1, BATCH_CR, 2, 0);
	csv_err("1,2,3\n", 1, BATCH_FIELD_COUNT, 1, 0);
	csv_err("1\n", 1, BATCH_FIELD_COUNT, 1, 0);
	csv_err("1,2\n2,3\n3,4,5\n", 1, BATCH_FIELD_COUNT, 3, 0);
	csv_err("1,2,\n", 2, BATCH_BAD_NUMBER, 1, 3);
	csv_err(",2\n", 1, BATCH_BAD_ID, 1, 1);
	csv_err("x,2\n", 1, BATCH_BAD_ID, 1, 1);
	csv_err("1.5,2\n", 1, BATCH_BAD_ID, 1, 1);
	csv_err(" 1,2\n", 1, BATCH_BAD_ID, 1, 1);
	csv_err("-,2\n", 1, BATCH_BAD_ID, 1, 1);
	csv_err("9223372036854775808,2\n", 1, BATCH_ID_RANGE, 1, 1);
	csv_err("-9223372036854775809,2\n", 1, BATCH_ID_RANGE, 1, 1);
	csv_err("99999999999999999999999,2\n", 1, BATCH_ID_RANGE, 1, 1);
	csv_err("1,abc\n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1, 2\n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1,2 \n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1,0x10\n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1,1e\n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1,.\n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1,\"2\"\n", 1, BATCH_BAD_NUMBER, 1, 2);
	csv_err("1,2,NaN\n", 2, BATCH_NOT_FINITE, 1, 3);
	csv_err("1,-inf\n", 1, BATCH_NOT_FINITE, 1, 2);
	csv_err("1,Infinity\n", 1, BATCH_NOT_FINITE, 1, 2);
	csv_err("1,1e39\n", 1, BATCH_OUT_OF_RANGE, 1, 2);
	csv_err("1,-1e39\n", 1, BATCH_OUT_OF_RANGE, 1, 2);
	csv_err("1,1e-50\n", 1, BATCH_OUT_OF_RANGE, 1, 2);
	{
		char		longf[300];

		strcpy(longf, "1,");
		memset(longf + 2, '1', 200);
		strcpy(longf + 202, "\n");
		csv_err(longf, 1, BATCH_FIELD_TOO_LONG, 1, 2);
	}
	/* NUL inside a line, with an explicit length */
	batch_csv_begin(&c, "1,2\n3\0,4\n", 9, 1);
	batch_csv_next(&c, &id, v);
	CHECK(batch_csv_next(&c, &id, v) == BATCH_NUL && c.record == 2, "NUL byte");
	/* dims out of range */
	batch_csv_begin(&c, "1,2", 3, 0);
	CHECK(batch_csv_next(&c, &id, v) == BATCH_BAD_DIMS, "dims 0");
	batch_csv_begin(&c, "1,2", 3, BATCH_MAX_DIMS + 1);
	CHECK(batch_csv_next(&c, &id, v) == BATCH_BAD_DIMS, "dims too large");

	/* float32 records */
	{
		int			dims = 3;
		size_t		rs = batch_float32_record_size(dims);
		unsigned char buf[3 * 20 + 5];

		CHECK(rs == 20, "record size %zu", rs);
		for (int r = 0; r < 3; r++)
		{
			put_le64(buf + r * rs, (uint64_t) (r == 2 ? -5 : r + 100));
			for (int i = 0; i < dims; i++)
				put_le_float(buf + r * rs + 8 + 4 * i, (float) (r * 10 + i) + 0.5f);
		}
		batch_float32_begin(&c, buf, 3 * rs, dims);
		for (int r = 0; r < 3; r++)
		{
			st = batch_float32_next(&c, &id, v);
			CHECK(st == BATCH_OK && id == (r == 2 ? -5 : r + 100) &&
					v[0] == r * 10 + 0.5f && v[2] == r * 10 + 2.5f, "float32 record %d", r);
		}
		CHECK(batch_float32_next(&c, &id, v) == BATCH_END, "float32 end");

		/* truncated: every length that is not a whole number of records */
		for (size_t len = 1; len < 3 * rs; len++)
		{
			int			n = 0;

			if (len % rs == 0)
				continue;
			batch_float32_begin(&c, buf, len, dims);
			while ((st = batch_float32_next(&c, &id, v)) == BATCH_OK)
				n++;
			CHECK(st == BATCH_TRUNCATED && c.record == (int64_t) (len / rs) + 1 && n == (int) (len / rs),
					"length %zu: %s at record %lld", len, batch_status_message(st), (long long) c.record);
		}
		batch_float32_begin(&c, buf, 0, dims);
		CHECK(batch_float32_next(&c, &id, v) == BATCH_EMPTY, "float32 empty");
		put_le_float(buf + rs + 8 + 4, NAN);
		batch_float32_begin(&c, buf, 3 * rs, dims);
		batch_float32_next(&c, &id, v);
		st = batch_float32_next(&c, &id, v);
		CHECK(st == BATCH_NOT_FINITE && c.record == 2 && c.field == 3, "NaN: %s at %lld/%d",
				batch_status_message(st), (long long) c.record, c.field);
		put_le_float(buf + rs + 8 + 4, -INFINITY);
		batch_float32_begin(&c, buf, 3 * rs, dims);
		batch_float32_next(&c, &id, v);
		CHECK(batch_float32_next(&c, &id, v) == BATCH_NOT_FINITE, "-Inf");
		batch_float32_begin(&c, buf, 3 * rs, 0);
		CHECK(batch_float32_next(&c, &id, v) == BATCH_BAD_DIMS, "float32 dims 0");
	}
	/* float16 records: bits handed back, Infinity refused, truncation */
	{
		unsigned char f16[2 * 12] = {0};
		uint16_t	h[2];

		f16[0] = 7;				/* id 7, halves 0x3c00 (1.0) and 0xc000 (-2.0) */
		f16[9] = 0x3c;
		f16[11] = 0xc0;
		f16[12] = 8;			/* id 8, second half 0x7c00 (Infinity) */
		f16[23] = 0x7c;
		batch_float16_begin(&c, f16, sizeof(f16), 2);
		st = batch_float16_next(&c, &id, h);
		CHECK(st == BATCH_OK && id == 7 && h[0] == 0x3c00 && h[1] == 0xc000, "float16 record");
		st = batch_float16_next(&c, &id, h);
		CHECK(st == BATCH_NOT_FINITE && c.record == 2 && c.field == 3, "float16 Inf");
		batch_float16_begin(&c, f16, 11, 2);
		CHECK(batch_float16_next(&c, &id, h) == BATCH_TRUNCATED, "float16 truncated");
		CHECK(batch_float16_record_size(2) == 12, "float16 record size");
	}
	/* sparse lines: the id, and the rest of the line as it is */
	{
		const char *text = "12,{1:0.5}/3\n-4,{}/3";
		const char *rest;
		size_t		restlen;

		batch_sparse_begin(&c, text, strlen(text));
		st = batch_sparse_next(&c, &id, &rest, &restlen);
		CHECK(st == BATCH_OK && id == 12 && restlen == 9 && memcmp(rest, "{1:0.5}/3", 9) == 0, "sparse line 1");
		st = batch_sparse_next(&c, &id, &rest, &restlen);
		CHECK(st == BATCH_OK && id == -4 && restlen == 4 && memcmp(rest, "{}/3", 4) == 0, "sparse line 2");
		CHECK(batch_sparse_next(&c, &id, &rest, &restlen) == BATCH_END, "sparse end");
		batch_sparse_begin(&c, "x,{}/3", 6);
		CHECK(batch_sparse_next(&c, &id, &rest, &restlen) == BATCH_BAD_ID, "sparse bad id");
		batch_sparse_begin(&c, "5{}/3", 5);
		CHECK(batch_sparse_next(&c, &id, &rest, &restlen) == BATCH_FIELD_COUNT, "sparse no comma");
		batch_sparse_begin(&c, "", 0);
		CHECK(batch_sparse_next(&c, &id, &rest, &restlen) == BATCH_EMPTY, "sparse empty");
	}
	for (int s = 0; s <= BATCH_TRUNCATED; s++)
		CHECK(batch_status_message((BatchStatus) s)[0] != '\0', "message %d", s);

	return unit_finish("test_batch_parsers");
}
