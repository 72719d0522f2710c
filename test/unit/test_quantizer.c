/*
 * test_quantizer.c
 *		Unit tests for the msivf residual quantizer (src/msivf/core/quantizer.c):
 *		round trips, the error bounds the scan relies on (with the query in
 *		float and quantized), and agreement of every SIMD kernel, float and
 *		integer, with the scalar one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantizer.h"
#include "unit.h"

static uint64_t rng = 12345;

static double
uniform(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (rng >> 11) / 9007199254740992.0;
}

static float
gauss(void)
{
	double		u = uniform() + 1e-12,
				v = uniform();

	return (float) (sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static void
check_bound(int d, int bits, int trials)
{
	float	   *r = malloc(sizeof(float) * d);
	float	   *v = malloc(sizeof(float) * d);
	float	   *back = malloc(sizeof(float) * d);
	uint8_t    *code = malloc(quant_code_bytes(d, bits));
	int			violations = 0;
	double		worst_rel = 0;

	for (int t = 0; t < trials; t++)
	{
		float		scale,
					err;
		double		exact = 0,
					recon_err = 0,
					vnorm = 0,
					est;

		for (int i = 0; i < d; i++)
		{
			r[i] = gauss() * (t % 3 == 0 ? 100.0f : 0.01f);
			v[i] = gauss();
		}
		if (t == 0)
			r[d / 2] = 1e4f;	/* one outlier dominates the scale */
		quant_encode(r, d, bits, code, &scale, &err);
		quant_decode(code, d, bits, scale, back);
		for (int i = 0; i < d; i++)
		{
			recon_err += ((double) r[i] - back[i]) * ((double) r[i] - back[i]);
			exact += (double) v[i] * r[i];
			vnorm += (double) v[i] * v[i];
			if (fabs((double) r[i] - back[i]) > scale * 0.5 * (1 + 1e-5) + 1e-30)
				violations++;
		}
		CHECK(sqrt(recon_err) <= err, "d=%d bits=%d: reported error norm %g below actual %g",
			  d, bits, err, sqrt(recon_err));
		est = (double) scale * quant_dot(v, code, d, bits);
		if (fabs(est - exact) > sqrt(vnorm) * err * 1.0001 + 1e-3 * fabs(exact) * 1e-3)
			violations++;
		if (fabs(exact) > 0)
			worst_rel = fmax(worst_rel, fabs(est - exact) / (sqrt(vnorm) * sqrt((double) d)));
	}
	CHECK(violations == 0, "d=%d bits=%d: %d bound violations", d, bits, violations);
	free(r);
	free(v);
	free(back);
	free(code);
}

static void
check_kernels(void)
{
	const char *names[] = {"avx2", "avx512"};
	QuantDot8Fn scalar = quant_dot8_kernel("scalar");

	CHECK(scalar != NULL, "scalar kernel exists");
	for (int k = 0; k < 2; k++)
	{
		QuantDot8Fn f = quant_dot8_kernel(names[k]);
		int			bad = 0;

		if (!f)
		{
			printf("(kernel %s not supported here, skipped)\n", names[k]);
			continue;
		}
		for (int d = 0; d <= 200; d++)
		{
			float		v[200];
			int8_t		c[200];
			float		a,
						b;

			for (int i = 0; i < d; i++)
			{
				v[i] = gauss();
				c[i] = (int8_t) ((int) (uniform() * 255) - 127);
			}
			a = scalar(v, c, d);
			b = f(v, c, d);
			if (fabsf(a - b) > 1e-4f * (1 + fabsf(a)) * (1 + d / 16))
				bad++;
		}
		CHECK(bad == 0, "kernel %s disagrees with scalar in %d lengths", names[k], bad);
	}
}

/*
 * Every integer kernel returns exactly the scalar one's sum, for every
 * length up to 300 and at 768 and 4000, for quantized queries and codes
 * over the whole int8 range (-128 included: a damaged page may hold it).
 */
static void
check_ikernels(void)
{
	const char *names[] = {"avx2", "avx512vnni"};
	QuantIDot8Fn scalar = quant_idot8_kernel("scalar");
	int			lens[303];

	CHECK(scalar != NULL, "scalar integer kernel exists");
	for (int d = 0; d <= 300; d++)
		lens[d] = d;
	lens[301] = 768;
	lens[302] = 4000;
	for (int k = 0; k < 2; k++)
	{
		QuantIDot8Fn f = quant_idot8_kernel(names[k]);
		int			bad = 0;

		if (!f)
		{
			printf("(integer kernel %s not supported here, skipped)\n", names[k]);
			continue;
		}
		for (int t = 0; t < 303; t++)
		{
			int			d = lens[t];
			float	   *v = malloc(sizeof(float) * (d + 1));
			int8_t	   *q = malloc(d + 1);
			int8_t	   *c = malloc(d + 1);
			QuantQuery8 qq = {.q = q};

			for (int i = 0; i < d; i++)
			{
				v[i] = gauss();
				c[i] = (int8_t) ((int) (uniform() * 256) - 128);
			}
			if (d > 3)
				c[d - 1] = -128, c[0] = 127, v[1] = -1e3f;	/* the extremes */
			quant_query8(v, d, &qq);
			if (f(q, c, d, qq.qsum) != scalar(q, c, d, qq.qsum))
				bad++;
			free(v);
			free(q);
			free(c);
		}
		CHECK(bad == 0, "integer kernel %s disagrees with scalar in %d lengths", names[k], bad);
	}
}

/*
 * The 4-bit integer kernels return sum(q[i] * code[i]) exactly, the code
 * as quant_decode reads it, at every length (odd ones leave a high nibble
 * unused; the tails are masked or scalar), for every nibble value.
 */
static void
check_ikernels4(void)
{
	const char *names[] = {"scalar", "avx2", "avx512vnni"};
	int			lens[304];

	for (int d = 0; d <= 300; d++)
		lens[d] = d + 1;
	lens[301] = 768;
	lens[302] = 1537;
	lens[303] = 16000;
	for (int k = 0; k < 3; k++)
	{
		QuantIDot4Fn f = quant_idot4_kernel(names[k]);
		int			bad = 0;

		if (!f)
		{
			printf("(4-bit integer kernel %s not supported here, skipped)\n", names[k]);
			continue;
		}
		for (int t = 0; t < 304; t++)
		{
			int			d = lens[t];
			int			m = (int) quant_code_bytes(d, 4);
			float	   *v = malloc(sizeof(float) * d);
			float	   *r = malloc(sizeof(float) * d);
			float	   *dec = malloc(sizeof(float) * d);
			int8_t	   *q = malloc(d);
			int8_t	   *q4 = malloc(2 * m);
			uint8_t    *code = malloc(m);
			QuantQuery8 qq = {.q = q,.q4 = q4};
			float		scale,
						err;
			int64_t		want = 0;

			for (int i = 0; i < d; i++)
			{
				v[i] = gauss();
				r[i] = gauss();
			}
			if (d > 3)
				r[0] = 1e3f, r[1] = -1e3f;	/* the extreme codes, 7 and -7 */
			quant_encode(r, d, 4, code, &scale, &err);
			quant_decode(code, d, 4, 1.0f, dec);
			quant_query8(v, d, &qq);
			quant_query_split4(&qq, d);
			for (int i = 0; i < d; i++)
				want += (int64_t) q[i] * (int64_t) dec[i];
			if (f(q4, code, m, qq.qsum) != want)
				bad++;
			free(v);
			free(r);
			free(dec);
			free(q);
			free(q4);
			free(code);
		}
		CHECK(bad == 0, "4-bit integer kernel %s wrong in %d lengths", names[k], bad);
	}
}

/*
 * quant_idot4_many gives each of a page's codes what the scalar kernel
 * gives it alone, at every code length (64 bytes, the widest the
 * AVX-512 kernel keeps in one register, and past it) and with bytes that
 * are not codes between the codes, as a page's entry headers are.
 */
static void
check_ikernels4_many(void)
{
	const char *names[] = {"scalar", "avx2", "avx512vnni"};
	QuantIDot4Fn scalar = quant_idot4_kernel("scalar");
	enum
	{
		NCODES = 9, GAP = 20
	};

	for (int k = 0; k < 3; k++)
	{
		QuantIDot4ManyFn f = quant_idot4_many_kernel(names[k]);
		int			bad = 0;

		if (!f)
		{
			printf("(4-bit page kernel %s not supported here, skipped)\n", names[k]);
			continue;
		}
		for (int d = 1; d <= 800; d += (d < 300 ? 1 : 67))
		{
			int			m = (int) quant_code_bytes(d, 4);
			size_t		stride = (size_t) m + GAP;
			int8_t	   *q4 = malloc(2 * m);
			uint8_t    *page = malloc(stride * NCODES);
			int32_t		out[NCODES];
			int32_t		qsum = 0;

			for (int i = 0; i < 2 * m; i++)
			{
				q4[i] = (int8_t) ((int) (uniform() * 255) - 127);
				qsum += q4[i];
			}
			for (size_t i = 0; i < stride * NCODES; i++)
				page[i] = (uint8_t) (uniform() * 256);
			f(q4, page, stride, NCODES, m, qsum, out);
			for (int c = 0; c < NCODES; c++)
				if (out[c] != scalar(q4, page + c * stride, m, qsum))
					bad++;
			free(q4);
			free(page);
		}
		CHECK(bad == 0, "4-bit page kernel %s wrong for %d codes", names[k], bad);
	}
}

/*
 * The bound of quantizer.h for an estimate made with a quantized query:
 * |v.r - s * qscale * (q.c)| <= |v| * err + qerr * (|r| + err), on
 * queries and residuals of very different scales; the query's codes stay
 * in [-127, 127], its qsum is their sum, and a NaN makes qerr NaN.
 */
static void
check_query_bound(int d, int trials)
{
	float	   *r = malloc(sizeof(float) * d);
	float	   *v = malloc(sizeof(float) * d);
	int8_t	   *q = malloc(d);
	uint8_t    *code = malloc(d);
	QuantQuery8 qq = {.q = q};
	int			violations = 0;

	for (int t = 0; t < trials; t++)
	{
		float		scale,
					err;
		double		exact = 0,
					vnorm = 0,
					rnorm = 0,
					qerr = 0,
					est,
					bound;
		int32_t		sum = 0;

		for (int i = 0; i < d; i++)
		{
			r[i] = gauss() * (t % 3 == 0 ? 100.0f : 0.01f);
			v[i] = gauss() * (t % 2 == 0 ? 1e3f : 1e-3f);
		}
		if (t == 1)
			v[d / 3] = 1e6f;	/* one outlier dominates the query's scale */
		quant_encode(r, d, 8, code, &scale, &err);
		quant_query8(v, d, &qq);
		for (int i = 0; i < d; i++)
		{
			double		e = (double) v[i] - (double) qq.qscale * q[i];

			exact += (double) v[i] * r[i];
			vnorm += (double) v[i] * v[i];
			rnorm += (double) r[i] * r[i];
			qerr += e * e;
			sum += q[i];
			if (q[i] == -128)
				violations++;
		}
		CHECK(sqrt(qerr) <= qq.qerr && sum == qq.qsum,
			  "d=%d: query error norm %g reported %g, qsum %d reported %d",
			  d, sqrt(qerr), qq.qerr, sum, qq.qsum);
		est = (double) scale * qq.qscale * quant_idot8(q, (int8_t *) code, d, qq.qsum);
		bound = sqrt(vnorm) * err + qq.qerr * (sqrt(rnorm) + err);
		if (fabs(est - exact) > bound * 1.0001 + 1e-9 * sqrt(vnorm * rnorm))
			violations++;
	}
	CHECK(violations == 0, "d=%d: %d violations of the quantized-query bound", d, violations);
	v[0] = NAN;
	quant_query8(v, d, &qq);
	CHECK(isnan(qq.qerr) && q[0] == 0, "a NaN component: qerr %g, code %d", qq.qerr, q[0]);
	free(r);
	free(v);
	free(q);
	free(code);
}

/*
 * The codes are the residual over the scale rounded to nearest, ties to
 * even, and clamped to +-qmax: what lrintf gives, whatever way the
 * encoder rounds.  Halves are the ties.
 */
static void
check_rounding(int bits)
{
	int			qmax = bits == 8 ? 127 : 7;
	int			d = 4 * qmax + 3;
	float	   *r = malloc(sizeof(float) * d);
	uint8_t    *code = malloc(quant_code_bytes(d, bits));
	float		scale,
				err;
	int			bad = 0;

	for (int t = 0; t < 200; t++)
	{
		float		unit = t == 0 ? 1.0f : (float) (uniform() * 10 + 1e-3);

		/* the first entry fixes the scale at unit; the rest sweep -qmax..qmax in halves */
		r[0] = (float) qmax * unit;
		for (int i = 1; i < d; i++)
			r[i] = t % 2 == 0 ? (float) ((i - 1) * 0.5 - qmax) * unit : (float) (gauss() * qmax) * unit;
		quant_encode(r, d, bits, code, &scale, &err);
		for (int i = 0; i < d; i++)
		{
			long		want = lrintf(r[i] * (1.0f / scale));
			int			got = bits == 8 ? ((int8_t *) code)[i]
				: (int) ((code[i / 2] >> ((i & 1) * 4)) & 0x0F) - 8;

			want = want > qmax ? qmax : want < -qmax ? -qmax : want;
			if (got != want)
				bad++;
		}
	}
	CHECK(bad == 0, "bits=%d: %d codes differ from lrintf's rounding", bits, bad);
	free(r);
	free(code);
}

int
main(void)
{
	quant_init();
	printf("kernel in use: %s\n", quant_kernel_name());

	CHECK(quant_code_bytes(100, 8) == 100, "8-bit code bytes");
	CHECK(quant_code_bytes(101, 4) == 51, "4-bit code bytes");

	/* a zero residual encodes to zero scale and zero error */
	{
		float		r[40] = {0};
		uint8_t		code[40];
		float		scale,
					err;

		quant_encode(r, 40, 8, code, &scale, &err);
		CHECK(scale == 0 && err == 0, "zero vector: scale %g err %g", scale, err);
	}

	/* exactly representable values round-trip */
	{
		float		r[33];
		float		back[33];
		uint8_t		code[33];
		float		scale,
					err;

		for (int i = 0; i < 33; i++)
			r[i] = (float) (i - 16) * 0.5f;
		r[0] = -63.5f;			/* = 127 * 0.5 */
		quant_encode(r, 33, 8, code, &scale, &err);
		quant_decode(code, 33, 8, scale, back);
		CHECK(memcmp(r, back, sizeof(r)) == 0 && err < 1e-6, "exact grid round-trips (err %g)", err);
	}

	check_rounding(8);
	check_rounding(4);

	for (int bits = 8; bits >= 4; bits -= 4)
	{
		check_bound(32, bits, 300);
		check_bound(100, bits, 300);
		check_bound(777, bits, 50);
		check_bound(16000, bits, 5);
	}

	/* accuracy: 8-bit estimates of unit-vector dot products are tight */
	{
		int			d = 128;
		float		r[128],
					v[128];
		uint8_t		code[128];
		double		worst = 0;

		for (int t = 0; t < 200; t++)
		{
			float		scale,
						err;
			double		exact = 0;

			for (int i = 0; i < d; i++)
			{
				r[i] = gauss() / sqrtf((float) d);
				v[i] = gauss() / sqrtf((float) d);
				exact += (double) r[i] * v[i];
			}
			quant_encode(r, d, 8, code, &scale, &err);
			worst = fmax(worst, fabs(scale * quant_dot8(v, (int8_t *) code, d) - exact));
		}
		CHECK(worst < 0.003, "8-bit dot error on unit vectors %g", worst);
	}

	check_kernels();
	printf("integer kernel in use: %s\n", quant_ikernel_name());
	check_ikernels();
	check_ikernels4();
	check_ikernels4_many();
	check_query_bound(32, 300);
	check_query_bound(768, 100);
	check_query_bound(4000, 20);
	return unit_finish("quantizer");
}
