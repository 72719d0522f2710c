/*
 * test_quant_l1.c
 *		Unit tests for msivf's L1 estimates (src/msivf/core/quant_l1.c): the
 *		stored error bounds the true L1 error of the codes, and the estimate
 *		widened by it and by quant_l1_rounding brackets the true distance,
 *		computed in double, at 8 and 4 bits, at every scale from 1e-38 to
 *		1e19.
 */
#include <math.h>
#include <stdlib.h>

#include "quant_l1.h"
#include "quantizer.h"
#include "unit.h"

static uint64_t rng = 777;

static double
uniform(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (rng >> 11) / 9007199254740992.0;
}

/*
 * Rows x = c + r and queries q at magnitude scale: the scan's inputs are
 * v = fl(q - c) and r = fl(x - c), the true key is sum |q - x| in double.
 */
static void
check_bracket(int d, int bits, double scale, int trials)
{
	float	   *c = malloc(sizeof(float) * d);
	float	   *x = malloc(sizeof(float) * d);
	float	   *q = malloc(sizeof(float) * d);
	float	   *r = malloc(sizeof(float) * d);
	float	   *v = malloc(sizeof(float) * d);
	uint8_t    *code = malloc(quant_code_bytes(d, bits));
	int			bad_err = 0,
				bad_bound = 0;
	double		sqrtd = sqrt((double) d);

	for (int t = 0; t < trials; t++)
	{
		float		s,
					e2,
					e1,
					est,
					slack;
		double		truth = 0,
					actual_e1 = 0,
					v1 = 0,
					rn2 = 0;

		for (int i = 0; i < d; i++)
		{
			c[i] = (float) ((uniform() * 2 - 1) * scale);
			x[i] = (float) (c[i] + (uniform() * 2 - 1) * scale * (t % 2 ? 0.01 : 1));
			q[i] = (float) ((uniform() * 2 - 1) * scale * 1.5);
			r[i] = x[i] - c[i];
			v[i] = q[i] - c[i];
			truth += fabs((double) q[i] - x[i]);
			v1 += fabsf(v[i]);
			rn2 += (double) r[i] * r[i];
		}
		if (t == 0)
			r[d / 3] *= 50;		/* an outlier sets the scale */
		if (t == 0)
		{
			truth = 0;
			rn2 = 0;
			for (int i = 0; i < d; i++)
			{
				truth += fabs((double) v[i] - r[i]);
				rn2 += (double) r[i] * r[i];
			}
		}
		quant_encode(r, d, bits, code, &s, &e2);
		e1 = quant_l1_error(r, code, d, bits, s);
		for (int i = 0; i < d; i++)
		{
			int			ci = bits == 8 ? ((int8_t *) code)[i] :
				(int) ((code[i / 2] >> ((i & 1) * 4)) & 0x0F) - 8;

			actual_e1 += fabs((double) r[i] - (double) s * ci);
		}
		if (!(actual_e1 <= e1))
			bad_err++;
		est = quant_l1_estimate(v, code, d, bits, s);
		/* as msivfscan.c widens it (its 1e-5 term left out: the test is stricter) */
		slack = quant_l1_rounding(d) * (est + (float) v1 + (float) (sqrtd * sqrt(rn2)) + e1) + 1e-30f;
		if (!(est - e1 - slack <= truth && truth <= est + e1 + slack))
			bad_bound++;
	}
	CHECK(bad_err == 0, "d=%d bits=%d scale=%g: %d L1 error norms below the actual error",
		  d, bits, scale, bad_err);
	CHECK(bad_bound == 0, "d=%d bits=%d scale=%g: %d distances outside the bounds",
		  d, bits, scale, bad_bound);
	free(c);
	free(x);
	free(q);
	free(r);
	free(v);
	free(code);
}

int
main(void)
{
	const int	dims[] = {1, 7, 32, 100, 768, 4001};
	const double scales[] = {1e-38, 1e-3, 1, 1e4, 1e19};

	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 5; b++)
		{
			check_bracket(dims[a], 8, scales[b], 200);
			check_bracket(dims[a], 4, scales[b], 100);
		}
	/* the estimate of a zero residual against itself is exact */
	{
		float		z[40] = {0};
		uint8_t		code[40];
		float		s,
					e;

		quant_encode(z, 40, 8, code, &s, &e);
		CHECK(quant_l1_estimate(z, code, 40, 8, s) == 0, "zero estimate");
		CHECK(quant_l1_error(z, code, 40, 8, s) == 0, "zero error");
	}
	return unit_finish("quant_l1");
}
