/*
 * half.c
 *		Scalar conversions between half and float/double, the shortest
 *		decimal text of a half, and the choice of the array conversions'
 *		SIMD level.
 *
 * The scalar conversions work on the bits, so they round exactly as IEEE
 * 754 says (to nearest, ties to even, gradual underflow) on any CPU, and
 * they are the reference the F16C and AVX-512 versions are tested against.
 */
#include "half.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

uint16_t
half_from_double(double d)
{
	uint64_t	bits;
	uint16_t	sign;
	int			exp;
	uint64_t	mant;
	int			shift;
	uint64_t	r,
				rem,
				halfway;

	memcpy(&bits, &d, sizeof(bits));
	sign = (uint16_t) ((bits >> 48) & 0x8000);
	exp = (int) ((bits >> 52) & 0x7ff);
	mant = bits & ((UINT64_C(1) << 52) - 1);

	if (exp == 0x7ff)
		return sign | 0x7c00 | (mant ? 0x200 : 0);
	/* doubles below 2^-1022 are far below half's smallest subnormal */
	if (exp == 0)
		return sign;
	exp -= 1023;
	if (exp > 15)
		return sign | 0x7c00;

	/*
	 * value = m * 2^(exp - 52) with the implicit bit in m; keep the 11 bits
	 * a normal half holds (shift 42), or fewer below 2^-14, where a half's
	 * unit is 2^-24.
	 */
	mant |= UINT64_C(1) << 52;
	shift = exp >= -14 ? 42 : 42 + (-14 - exp);
	if (shift > 60)
		return sign;
	r = mant >> shift;
	rem = mant & ((UINT64_C(1) << shift) - 1);
	halfway = UINT64_C(1) << (shift - 1);
	if (rem > halfway || (rem == halfway && (r & 1)))
		r++;

	/*
	 * A normal r holds the implicit 1024, which adds one to the exponent
	 * field: (exp + 15) << 10 | (r - 1024) == ((exp + 14) << 10) + r.  A
	 * carry out of the fraction (r == 2048) moves on to the next binade,
	 * or to infinity (0x7c00) past 65504, as it should.  A subnormal that
	 * rounds up to 1024 becomes the smallest normal the same way.
	 */
	if (exp >= -14)
		return sign | (uint16_t) (((unsigned) (exp + 14) << 10) + r);
	return sign | (uint16_t) r;
}

float
half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	mant = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: mant units of 2^-24, exact in float */
		f = (float) mant * 0x1p-24f;
		return sign ? -f : f;
	}
	if (exp == 0x1f)
		bits = sign | 0x7f800000 | (mant << 13);
	else
		bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/*
 * Lay out the digits of a "%.*e" text (d.ddde[+-]XX) in fixed notation
 * when the exponent is -4 or more, as PostgreSQL prints floats: a half is
 * below 65520, so that form never needs more than 11 characters.
 */
static int
format_fixed(const char *sci, char *buf)
{
	char		digits[8];
	int			nd = 0;
	int			x;
	const char *p = sci;
	char	   *out = buf;

	if (*p == '-')
		*out++ = *p++;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	x = atoi(p + 1);
	if (x < -4)
		return (int) strlen(strcpy(buf, sci));
	if (x < 0)
	{
		*out++ = '0';
		*out++ = '.';
		for (int i = 0; i < -x - 1; i++)
			*out++ = '0';
		memcpy(out, digits, nd);
		out += nd;
	}
	else
	{
		for (int i = 0; i < nd || i <= x; i++)
		{
			if (i == x + 1)
				*out++ = '.';
			*out++ = i < nd ? digits[i] : '0';
		}
	}
	*out = '\0';
	return (int) (out - buf);
}

int
half_to_shortest(uint16_t h, char *buf)
{
	double		v = half_to_float(h);
	char		sci[HALF_SHORTEST_LEN];

	if ((h & 0x7fff) == 0)
		return (int) strlen(strcpy(buf, h ? "-0" : "0"));

	/*
	 * Whole numbers exactly: "8192", not the equally short "8190" that
	 * also reads back as 8192 but looks exact and is not.
	 */
	if (v == floor(v))
		return snprintf(buf, HALF_SHORTEST_LEN, "%.0f", v);

	/* 5 significant digits tell every pair of halves apart */
	for (int digits = 1; digits <= 5; digits++)
	{
		snprintf(sci, sizeof(sci), "%.*e", digits - 1, v);
		if (half_from_double(strtod(sci, NULL)) == h)
			break;
	}
	return format_fixed(sci, buf);
}

static void
to_float_scalar(const uint16_t *in, float *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = half_to_float(in[i]);
}

static void
from_float_scalar(const float *in, uint16_t *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = half_from_double(in[i]);
}

const HalfKernels half_kernels_scalar_table = {
	.level = SIMD_SCALAR,
	.to_float = to_float_scalar,
	.from_float = from_float_scalar,
};

const HalfKernels *half_kernels = &half_kernels_scalar_table;
static bool half_kernels_initialized = false;

#if defined(__x86_64__) || defined(_M_X64)
/*
 * F16C is a feature bit of its own beside AVX2 (CPUID leaf 1, ECX bit
 * 29), asked directly: clang's __builtin_cpu_supports has no name for it.
 * The AVX state it needs is the one the AVX2 check has already verified.
 */
static bool
cpu_has_f16c(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	return (ecx & (1u << 29)) != 0;
}
#endif

const HalfKernels *
half_kernels_for_level(SimdLevel level)
{
	switch (level)
	{
		case SIMD_SCALAR:
			return &half_kernels_scalar_table;
#if defined(__x86_64__) || defined(_M_X64)
		case SIMD_AVX2:
			return vec_kernels_for_level(SIMD_AVX2) && cpu_has_f16c() ?
				&half_kernels_f16c_table : NULL;
		case SIMD_AVX512:
			return vec_kernels_for_level(SIMD_AVX512) ? &half_kernels_avx512_table : NULL;
#endif
		default:
			return NULL;
	}
}

SimdLevel
half_use_simd_level(SimdLevel level)
{
	int			l;

	for (l = (int) level; l > SIMD_SCALAR; l--)
	{
		const HalfKernels *k = half_kernels_for_level((SimdLevel) l);

		if (k != NULL)
		{
			half_kernels = k;
			half_kernels_initialized = true;
			return (SimdLevel) l;
		}
	}
	half_kernels = &half_kernels_scalar_table;
	half_kernels_initialized = true;
	return SIMD_SCALAR;
}

void
half_kernels_init(void)
{
	if (half_kernels_initialized)
		return;
	half_use_simd_level(vec_best_simd_level());
}
