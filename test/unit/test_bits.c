/*
 * test_bits.c
 *		Unit tests for the popcount kernels (src/core/bit_kernels*.c), the
 *		bit helpers and the bvec text form (src/core/bit_text.c).
 *
 * Every kernel the CPU can run is compared with a bit-at-a-time reference
 * on random strings of every length from 0 to 300 bytes and some longer
 * ones, at every byte offset 0..7 so unaligned loads and odd tails are
 * covered; inputs sit at the very end of their allocation so a read past
 * the end would be caught under AddressSanitizer.
 */
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "unit.h"
#include "bit_kernels.h"
#include "bit_text.h"

static uint64_t
ref_count(const uint8_t *a, const uint8_t *b, size_t n, int op)
{
	uint64_t	c = 0;

	for (size_t i = 0; i < n * 8; i++)
	{
		int			x = (a[i / 8] >> (7 - i % 8)) & 1;
		int			y = b ? (b[i / 8] >> (7 - i % 8)) & 1 : 0;

		c += op == 0 ? (x ^ y) : op == 1 ? (x & y) : (x | y);
	}
	return c;
}

static void
fill(uint8_t *p, size_t n, int density)
{
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	r = unit_rng64();

		p[i] = density == 0 ? 0 : density == 2 ? 0xFF : (uint8_t) r;
	}
}

static void
check_kernel(const BitKernels *k, size_t n, size_t offset, int density)
{
	/* n bytes ending exactly at the end of each buffer */
	uint8_t    *ba = calloc(n + offset + 1, 1);
	uint8_t    *bb = calloc(n + offset + 1, 1);
	uint8_t    *a = ba + 1 + offset;
	uint8_t    *b = bb + 1 + offset;
	uint64_t	ac,
				oc;

	fill(a, n, density);
	fill(b, n, density == 2 ? 1 : density);
	CHECK(k->hamming(a, b, n) == ref_count(a, b, n, 0),
		  "%s hamming n=%zu off=%zu", k->name, n, offset);
	k->and_or(a, b, n, &ac, &oc);
	CHECK(ac == ref_count(a, b, n, 1) && oc == ref_count(a, b, n, 2),
		  "%s and_or n=%zu off=%zu", k->name, n, offset);
	CHECK(k->popcount(a, n) == ref_count(a, NULL, n, 2),
		  "%s popcount n=%zu off=%zu", k->name, n, offset);
	free(ba);
	free(bb);
}

/*
 * The table's quantize against the scalar one on every length to 300 and
 * some long ones, over values around zero with both zeros, NaN and the
 * infinities mixed in; the byte past the output stays untouched.
 */
static void
check_quantize(const BitKernels *k)
{
	static float x[4100];
	static uint8_t want[520];
	static uint8_t got[520];
	uint32_t	r = 12345;

	for (int i = 0; i < 4100; i++)
	{
		r = r * 1103515245u + 12345u;
		switch ((r >> 16) % 11)
		{
			case 0:
				x[i] = 0.0f;
				break;
			case 1:
				x[i] = -0.0f;
				break;
			case 2:
				x[i] = NAN;
				break;
			case 3:
				x[i] = (r & 1) ? INFINITY : -INFINITY;
				break;
			default:
				x[i] = ((float) ((r >> 8) % 2001) - 1000.0f) * 1e-3f;
		}
	}
	for (int n = 0; n <= 4096; n = n < 300 ? n + 1 : n + 37 * 8 + 5)
	{
		int			nbytes = (n + 7) / 8;

		memset(want, 0x5A, sizeof(want));
		memset(got, 0x5A, sizeof(got));
		bit_quantize_floats_scalar(x + (n % 3), n, want);
		k->quantize(x + (n % 3), n, got);
		CHECK(memcmp(want, got, nbytes + 1) == 0, "%s quantize of %d floats", k->name, n);
	}
}

static void
test_kernels(void)
{
	const BitKernels *tables[SIMD_NUM_LEVELS];
	int			ntables = 0;

	for (int l = 0; l < SIMD_NUM_LEVELS; l++)
	{
		const BitKernels *k = bit_kernels_for_level((SimdLevel) l);

		if (k != NULL)
			tables[ntables++] = k;
	}
	CHECK(bit_kernels_for_level(SIMD_SCALAR) == &bit_kernels_scalar_table, "scalar table");
	CHECK(bit_kernels_for_level((SimdLevel) -1) == NULL, "no table for level -1");
	for (int t = 0; t < ntables; t++)
	{
		printf("bit kernels: %s\n", tables[t]->name);
		for (size_t n = 0; n <= 300; n++)
			check_kernel(tables[t], n, n % 8, 1);
		for (size_t n = 1000; n <= 8000; n += 1000 + (n % 7))
			check_kernel(tables[t], n, n % 5, 1);
		/* all ones: 8 * n bits, the most each lane accumulates */
		check_kernel(tables[t], 8000, 0, 2);
		check_kernel(tables[t], 127, 3, 0);
		check_quantize(tables[t]);
	}
	CHECK(bit_use_simd_level(SIMD_SCALAR) && bit_kernels == &bit_kernels_scalar_table,
		  "bit_use_simd_level(scalar)");
}

static void
test_helpers(void)
{
	const float x[11] = {1.0f, -1.0f, 0.0f, -0.0f, 0.5f, 3.0f, -2.0f, 1e-30f,
	1.0f, 0.0f, 2.0f};
	uint8_t		q[2] = {0xAA, 0xAA};

	bit_quantize_floats(x, 11, q);
	/* 1 0 0 0 1 1 0 1 | 1 0 1 (00000) */
	CHECK(q[0] == 0x8D && q[1] == 0xA0, "quantize gives %02x %02x", q[0], q[1]);
	CHECK(bit_jaccard_from_counts(0, 0) == 0.0, "jaccard of two empty sets is 0");
	CHECK(bit_jaccard_from_counts(1, 4) == 0.75, "jaccard 1/4");
	CHECK(bit_jaccard_from_counts(3, 3) == 0.0, "jaccard of equal sets");
	CHECK(bit_padding_is_zero((const uint8_t[]) {0xA0}, 3), "padding zero");
	CHECK(!bit_padding_is_zero((const uint8_t[]) {0xA1}, 3), "padding set");
	CHECK(bit_padding_is_zero((const uint8_t[]) {0xFF}, 8), "no padding");
	CHECK(!bit_padding_is_zero((const uint8_t[]) {0xFF, 0x01}, 15), "last padding bit");
}

static void
expect_parse(const char *in, BitParseStatus st, int nbits, size_t offset, int max)
{
	uint8_t		out[16];
	BitParseResult r = bit_text_parse(in, out, max);

	CHECK(r.status == st, "\"%s\": status %d, want %d", in, (int) r.status, (int) st);
	if (st == BIT_PARSE_OK)
		CHECK(r.nbits == nbits, "\"%s\": %d bits, want %d", in, r.nbits, nbits);
	if (st == BIT_PARSE_BAD_CHAR)
		CHECK(r.error_offset == offset, "\"%s\": offset %zu, want %zu", in, r.error_offset, offset);
}

static void
test_text(void)
{
	uint8_t		out[16];
	char		text[129];
	BitParseResult r;

	expect_parse("0", BIT_PARSE_OK, 1, 0, 64);
	expect_parse("  0101 \n", BIT_PARSE_OK, 4, 0, 64);
	expect_parse("", BIT_PARSE_EMPTY, 0, 0, 64);
	expect_parse("   ", BIT_PARSE_EMPTY, 0, 0, 64);
	expect_parse("01 01", BIT_PARSE_BAD_CHAR, 0, 2, 64);
	expect_parse(" 1\t0", BIT_PARSE_BAD_CHAR, 0, 2, 64);
	expect_parse("012", BIT_PARSE_BAD_CHAR, 0, 2, 64);
	expect_parse("x", BIT_PARSE_BAD_CHAR, 0, 0, 64);
	expect_parse("B101", BIT_PARSE_BAD_CHAR, 0, 0, 64);
	expect_parse("1111", BIT_PARSE_OK, 4, 0, 4);
	expect_parse("11111", BIT_PARSE_TOO_MANY, 0, 0, 4);
	expect_parse("11111a", BIT_PARSE_BAD_CHAR, 0, 5, 4);

	r = bit_text_parse("1010000011", out, 16);
	CHECK(r.status == BIT_PARSE_OK && out[0] == 0xA0 && out[1] == 0xC0,
		  "packing gives %02x %02x", out[0], out[1]);
	bit_text_format(out, r.nbits, text);
	CHECK(strcmp(text, "1010000011") == 0, "format gives %s", text);
}

int
main(void)
{
	test_kernels();
	test_helpers();
	test_text();
	return unit_finish("test_bits");
}
