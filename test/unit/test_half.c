/*
 * test_half.c
 *		Unit tests for half conversion (src/core/half.c, half_x86.c), the
 *		hvec text parser (src/hvec/core/hvec_text.c) and the hvec distances
 *		(src/hvec/core/hvec_distance.h).
 *
 * Every one of the 65536 bit patterns goes through the scalar
 * conversions, the shortest text, and each SIMD level the CPU has; float
 * to half is checked at and next to every tie between two halves, where
 * rounding goes wrong if it is going to, and on random floats.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "hvec_distance.h"
#include "hvec_text.h"
#include "unit.h"

static float
float_from_bits(uint32_t b)
{
	float		f;

	memcpy(&f, &b, sizeof(f));
	return f;
}

/* Every half: value, back to half, shortest text back to half. */
static void
test_every_pattern(void)
{
	for (uint32_t i = 0; i < 65536; i++)
	{
		uint16_t	h = (uint16_t) i;
		float		f = half_to_float(h);
		char		buf[HALF_SHORTEST_LEN];
		int			len;

		if (half_is_special(h))
		{
			CHECK((h & 0x3ff) ? isnan(f) : isinf(f), "0x%04x special", h);
			continue;
		}
		CHECK(half_from_double(f) == h, "0x%04x -> %g -> 0x%04x", h, f, half_from_double(f));
		len = half_to_shortest(h, buf);
		CHECK(len == (int) strlen(buf) && len < HALF_SHORTEST_LEN, "0x%04x length", h);
		CHECK(half_from_double(strtod(buf, NULL)) == h, "0x%04x text \"%s\"", h, buf);
	}
}

/* The value of a half computed another way: (-1)^s 2^(e-15) (1 + m/1024). */
static void
test_values(void)
{
	CHECK(half_to_float(0x3c00) == 1.0f, "1");
	CHECK(half_to_float(0xc000) == -2.0f, "-2");
	CHECK(half_to_float(0x7bff) == 65504.0f, "max");
	CHECK(half_to_float(0x0001) == 0x1p-24f, "least subnormal");
	CHECK(half_to_float(0x03ff) == 1023 * 0x1p-24f, "greatest subnormal");
	CHECK(half_to_float(0x0400) == 0x1p-14f, "least normal");
	CHECK(signbit(half_to_float(0x8000)) && half_to_float(0x8000) == 0, "-0");
	for (uint32_t i = 0; i < 0x7c00; i++)
	{
		int			e = (int) (i >> 10);
		double		m = (double) (i & 0x3ff);
		double		want = e ? ldexp(1.0 + m / 1024, e - 15) : ldexp(m, -24);

		CHECK(half_to_float((uint16_t) i) == want, "value of 0x%04x", i);
	}
}

/* Rounding: ties to even, overflow, underflow, double rounding avoided. */
static void
test_rounding(void)
{
	CHECK(half_from_double(1 + 0x1p-11) == 0x3c00, "tie down to even");
	CHECK(half_from_double(1 + 3 * 0x1p-11) == 0x3c02, "tie up to even");
	CHECK(half_from_double(1 + 0x1p-11 + 0x1p-40) == 0x3c01, "just above a tie");
	CHECK(half_from_double(65504) == 0x7bff, "max");
	CHECK(half_from_double(65519.99) == 0x7bff, "below the overflow tie");
	CHECK(half_from_double(HALF_OVERFLOW_AT) == 0x7c00, "overflow tie");
	CHECK(half_from_double(-1e300) == 0xfc00, "-huge");
	CHECK(half_from_double(0x1p-25) == 0x0000, "tie to zero");
	CHECK(half_from_double(0x1p-25 * 1.0000001) == 0x0001, "above tie to zero");
	CHECK(half_from_double(3 * 0x1p-25) == 0x0002, "subnormal tie to even");
	CHECK(half_from_double(0x1p-14 - 0x1p-25) == 0x0400, "tie to least normal");
	CHECK(half_from_double(-1e-30) == 0x8000, "underflow keeps the sign");
	CHECK(half_from_double(5e-324) == 0x0000, "double subnormal");
	CHECK(half_from_double(-1.5) == 0xbe00, "-1.5");
	CHECK(half_is_special(half_from_double(NAN)) && (half_from_double(NAN) & 0x3ff), "NaN");
	CHECK(half_from_double(INFINITY) == 0x7c00, "inf");

	/* at, just below and just above every tie, against the bit algorithm */
	for (uint32_t i = 0; i < 0x7bff; i++)
	{
		double		lo = half_to_float((uint16_t) i);
		double		hi = half_to_float((uint16_t) (i + 1));
		double		mid = (lo + hi) / 2;
		uint16_t	even = (i & 1) ? (uint16_t) (i + 1) : (uint16_t) i;

		CHECK(half_from_double(mid) == even, "tie after 0x%04x", i);
		CHECK(half_from_double(nextafter(mid, 0)) == i, "below tie after 0x%04x", i);
		CHECK(half_from_double(nextafter(mid, 1e9)) == i + 1, "above tie after 0x%04x", i);
		CHECK(half_from_double(-mid) == (even | 0x8000), "negative tie after 0x%04x", i);
	}
}

/* Each level's array conversions against the scalar ones. */
static void
test_level(SimdLevel level)
{
	const HalfKernels *k = half_kernels_for_level(level);
	static uint16_t h[65536 + 32];
	static float f[65536 + 32];
	static uint16_t back[65536 + 32];
	int			n = 0;

	if (k == NULL)
	{
		printf("level %s: not on this CPU\n", vec_simd_level_name(level));
		return;
	}
	printf("level %s\n", vec_simd_level_name(level));
	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t) i;
	k->to_float(h, f, 65536);
	for (uint32_t i = 0; i < 65536; i++)
	{
		float		want = half_to_float((uint16_t) i);

		if (half_is_special((uint16_t) i) && (i & 0x3ff))
			CHECK(isnan(f[i]), "%s to_float 0x%04x NaN", k == NULL ? "" : vec_simd_level_name(level), i);
		else
			CHECK(memcmp(&f[i], &want, 4) == 0, "%s to_float 0x%04x", vec_simd_level_name(level), i);
	}

	/* ties, neighbours of ties, and random floats of every exponent */
	for (uint32_t i = 0; i < 0x7bff && n + 3 <= 65536; i += 3)
	{
		float		mid = (half_to_float((uint16_t) i) + half_to_float((uint16_t) (i + 1))) / 2;

		f[n++] = mid;
		f[n++] = nextafterf(mid, 0);
		f[n++] = -nextafterf(mid, 1e9f);
	}
	while (n < 65536)
	{
		float		x = float_from_bits((uint32_t) unit_rng64());

		if (!isnan(x))
			f[n++] = x;
	}
	for (int len = 0; len <= 65536; len = len < 100 ? len + 1 : len * 2 + 7)
	{
		int			off = len % 5;

		if (off + len > 65536)
			break;
		memset(back, 0xAB, sizeof(back));
		k->from_float(f + off, back, len);
		for (int i = 0; i < len; i++)
			CHECK(back[i] == half_from_double(f[off + i]), "%s from_float %a len %d",
				  vec_simd_level_name(level), f[off + i], len);
		CHECK(back[len] == 0xABAB, "%s from_float wrote past %d", vec_simd_level_name(level), len);
	}
	k->from_float(f, back, 65536);
	for (int i = 0; i < 65536; i++)
		CHECK(back[i] == half_from_double(f[i]), "%s from_float %a", vec_simd_level_name(level), f[i]);
}

static void
expect_parse(const char *input, VecParseStatus status, int dims, const uint16_t *values)
{
	uint16_t	out[8];
	VecParseResult r = hvec_text_parse(input, out, 8);

	CHECK(r.status == status, "\"%s\": status %d, want %d", input, (int) r.status, (int) status);
	if (status == VEC_PARSE_OK && r.status == VEC_PARSE_OK && CHECK(r.dims == dims, "\"%s\" dims", input))
		CHECK(memcmp(out, values, sizeof(uint16_t) * dims) == 0, "\"%s\" values", input);
}

static void
test_parse(void)
{
	expect_parse("[1, 2.5 ,-3]", VEC_PARSE_OK, 3, (uint16_t[]) {0x3c00, 0x4100, 0xc200});
	/* 1.00048829 lies above the tie 1 + 2^-11; float would round it onto it */
	expect_parse("[1.00048829]", VEC_PARSE_OK, 1, (uint16_t[]) {0x3c01});
	expect_parse("[1.00048828125]", VEC_PARSE_OK, 1, (uint16_t[]) {0x3c00});
	expect_parse("[65504,-65519.9]", VEC_PARSE_OK, 2, (uint16_t[]) {0x7bff, 0xfbff});
	expect_parse("[1e-9,-0]", VEC_PARSE_OK, 2, (uint16_t[]) {0x0000, 0x8000});
	expect_parse("[65520]", VEC_PARSE_OUT_OF_RANGE, 0, NULL);
	expect_parse("[1,1e999]", VEC_PARSE_OUT_OF_RANGE, 0, NULL);
	expect_parse("[nan]", VEC_PARSE_NOT_FINITE, 0, NULL);
	expect_parse("[-inf]", VEC_PARSE_NOT_FINITE, 0, NULL);
	expect_parse("[]", VEC_PARSE_EMPTY, 0, NULL);
	expect_parse("[1,,2]", VEC_PARSE_BAD_NUMBER, 0, NULL);
	expect_parse("[1 2]", VEC_PARSE_BAD_SEPARATOR, 0, NULL);
	expect_parse("[1,2", VEC_PARSE_UNTERMINATED, 0, NULL);
	expect_parse("[1]x", VEC_PARSE_TRAILING_JUNK, 0, NULL);
	expect_parse("1]", VEC_PARSE_NO_OPEN_BRACKET, 0, NULL);
	expect_parse("[1,2,3,4,5,6,7,8,9]", VEC_PARSE_TOO_MANY, 0, NULL);
}

/* hvec distances against a double reference computed from the halves. */
static void
test_distances(void)
{
	static uint16_t a[2000],
				b[2000];
	float		fa[2000],
				fb[2000];

	for (int i = 0; i < 2000; i++)
	{
		a[i] = half_from_double(((double) (unit_rng64() % 20001) - 10000) / 997);
		b[i] = half_from_double(((double) (unit_rng64() % 20001) - 10000) / 1009);
	}
	for (int n = 1; n <= 2000; n = n < 40 ? n + 1 : n * 3)
	{
		double		l2 = 0,
					ip = 0,
					l1 = 0,
					na = 0,
					nb = 0;

		for (int i = 0; i < n; i++)
		{
			double		x = half_to_float(a[i]),
						y = half_to_float(b[i]);

			l2 += (x - y) * (x - y);
			ip += x * y;
			l1 += fabs(x - y);
			na += x * x;
			nb += y * y;
		}
		CHECK(fabs(hvec_distance_l2_squared(a, b, n, fa, fb) - l2) <= 1e-5 * l2, "l2 n=%d", n);
		CHECK(fabs(hvec_distance_inner_product(a, b, n, fa, fb) - ip) <= 1e-5 * sqrt(na * nb), "ip n=%d", n);
		CHECK(fabs(hvec_distance_l1(a, b, n, fa, fb) - l1) <= 1e-5 * l1, "l1 n=%d", n);
		CHECK(fabs(hvec_distance_cosine(a, b, n, fa, fb) - (1 - ip / sqrt(na * nb))) <= 1e-5,
			  "cosine n=%d", n);
		CHECK(fabs(hvec_distance_norm_squared(a, n, fa) - na) <= 1e-5 * na, "norm n=%d", n);
		/* the same answer as vec's distance on the converted values */
		half_kernels->to_float(a, fa, n);
		half_kernels->to_float(b, fb, n);
		CHECK(vec_distance_l2_squared(fa, fb, n) == hvec_distance_l2_squared(a, b, n, fa, fb),
			  "l2 as vec n=%d", n);
	}
}

int
main(void)
{
	test_every_pattern();
	test_values();
	test_rounding();
	for (int l = SIMD_SCALAR; l < SIMD_NUM_LEVELS; l++)
		if (l != SIMD_NEON)
			test_level((SimdLevel) l);
	test_parse();
	for (int l = SIMD_SCALAR; l < SIMD_NUM_LEVELS; l++)
	{
		if (vec_use_simd_level((SimdLevel) l))
		{
			half_use_simd_level((SimdLevel) l);
			test_distances();
		}
	}
	return unit_finish("test_half");
}
