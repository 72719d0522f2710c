/*
 * quant_l1.c
 *		L1 estimates and error norms from msivf's residual codes (see
 *		quant_l1.h for the bound they give).
 */
#include "quant_l1.h"

#include <float.h>
#include <math.h>

/* the i-th of a vector's 4-bit codes (offset by 8, low nibble first) */
static inline int
code4_at(const uint8_t *code, int i)
{
	return (int) ((code[i / 2] >> ((i & 1) * 4)) & 0x0F) - 8;
}

float
quant_l1_error(const float *r, const uint8_t *code, int d, int bits, float scale)
{
	double		e[4] = {0, 0, 0, 0};

	for (int i = 0; i < d; i++)
	{
		int			c = bits == 8 ? ((const int8_t *) code)[i] : code4_at(code, i);

		e[i & 3] += fabs((double) r[i] - (double) scale * (double) c);
	}
	/* rounded up, as quant_encode rounds its L2 error norm */
	return (float) (((e[0] + e[1]) + (e[2] + e[3])) * (1.0 + 1e-5));
}

/*
 * Eight independent sums, so that the compiler vectorises the 8-bit loop
 * (one 256-bit register, or two 128-bit ones) without reassociating.
 */
float
quant_l1_estimate(const float *v, const uint8_t *code, int d, int bits, float scale)
{
	float		s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	int			i = 0;

	if (bits == 8)
	{
		const int8_t *c8 = (const int8_t *) code;

		for (; i + 8 <= d; i += 8)
			for (int j = 0; j < 8; j++)
				s[j] += fabsf(v[i + j] - scale * (float) c8[i + j]);
		for (; i < d; i++)
			s[0] += fabsf(v[i] - scale * (float) c8[i]);
	}
	else
	{
		for (; i + 8 <= d; i += 8)
			for (int j = 0; j < 8; j++)
				s[j] += fabsf(v[i + j] - scale * (float) code4_at(code, i + j));
		for (; i < d; i++)
			s[0] += fabsf(v[i] - scale * (float) code4_at(code, i));
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

float
quant_l1_rounding(int d)
{
	/* d additions, a subtraction and a product per term, with room to spare */
	return (float) (d + 16) * FLT_EPSILON;
}
