/*
 * quantizer.c
 *		Per-vector-scaled scalar quantization of residuals (8 or 4 bits) and
 *		the SIMD dot products that estimate distances from the codes.
 */
#include "quantizer.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define QUANT_X86 1
#include <immintrin.h>
#endif

/* one byte per component at 8 bits, two components per byte at 4 */
size_t
quant_code_bytes(int d, int bits)
{
	return bits == 8 ? (size_t) d : (size_t) (d + 1) / 2;
}

/*
 * Adding and then subtracting 1.5 * 2^23 rounds a float of magnitude below
 * 2^22 to an integer, to nearest even, exactly as lrintf does in the
 * default rounding mode; unlike lrintf, the compiler vectorises it.  The
 * values rounded here are bounded by qmax.
 */
#define ROUND_MAGIC 12582912.0f

/* x rounded to an integer in [-qmax, qmax], as a float */
static inline float
round_clamped(float x, float qmax)
{
	float		q = (x + ROUND_MAGIC) - ROUND_MAGIC;

	q = q > qmax ? qmax : q;
	return q < -qmax ? -qmax : q;
}

/* the i-th code of a vector's codes */
static inline int
code_at(const uint8_t *code, int i, int bits)
{
	if (bits == 8)
		return ((const int8_t *) code)[i];
	return (int) ((code[i / 2] >> ((i & 1) * 4)) & 0x0F) - 8;
}

/*
 * The scale maps the largest component to qmax, so no code clips; the
 * error norm is measured on the codes as stored and rounded up, so the
 * bound in quantizer.h holds for the scan's float arithmetic.
 */
void
quant_encode(const float *r, int d, int bits, uint8_t *code,
			 float *scale, float *err_norm)
{
	const float qmax = bits == 8 ? 127.0f : 7.0f;
	float		amax = 0;
	float		s;
	float		inv;
	double		err[4] = {0, 0, 0, 0};
	int			i;

	for (i = 0; i < d; i++)
	{
		float		a = fabsf(r[i]);

		amax = a > amax ? a : amax;
	}
	s = amax / qmax;
	inv = s > 0 ? 1.0f / s : 0.0f;

	if (bits == 8)
	{
		int8_t	   *c8 = (int8_t *) code;

		for (i = 0; i < d; i++)
			c8[i] = (int8_t) round_clamped(r[i] * inv, qmax);
	}
	else
	{
		memset(code, 0, quant_code_bytes(d, 4));
		for (i = 0; i < d; i++)
			code[i / 2] |= (uint8_t) (((int) round_clamped(r[i] * inv, qmax) + 8) << ((i & 1) * 4));
	}
	*scale = s;

	/*
	 * The error of the codes as stored, in double, in four independent
	 * sums (a single one is a chain of dependent additions).
	 */
	for (i = 0; i < d; i++)
	{
		double		e = (double) r[i] - (double) s * (double) code_at(code, i, bits);

		err[i & 3] += e * e;
	}

	/*
	 * Round the bound up a little: the scan computes the estimate in float
	 * and must stay on the safe side of the true distance.
	 */
	*err_norm = (float) (sqrt((err[0] + err[1]) + (err[2] + err[3])) * (1.0 + 1e-5));
}

/* scale * code, component by component (for tests: the index never decodes) */
void
quant_decode(const uint8_t *code, int d, int bits, float scale, float *out)
{
	for (int i = 0; i < d; i++)
		out[i] = scale * (float) code_at(code, i, bits);
}

/* the portable 8-bit kernel: four independent sums, vectorisable */
static float
dot8_scalar(const float *v, const int8_t *code, int d)
{
	float		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	int			i = 0;

	for (; i + 4 <= d; i += 4)
	{
		s0 += v[i] * code[i];
		s1 += v[i + 1] * code[i + 1];
		s2 += v[i + 2] * code[i + 2];
		s3 += v[i + 3] * code[i + 3];
	}
	for (; i < d; i++)
		s0 += v[i] * code[i];
	return (s0 + s1) + (s2 + s3);
}

/* the 4-bit kernel: codes are stored offset by 8, low nibble first */
float
quant_dot4(const float *v, const uint8_t *code, int d)
{
	float		s0 = 0,
				s1 = 0;
	int			i = 0;

	for (; i + 2 <= d; i += 2)
	{
		uint8_t		b = code[i / 2];

		s0 += v[i] * (float) ((int) (b & 0x0F) - 8);
		s1 += v[i + 1] * (float) ((int) (b >> 4) - 8);
	}
	if (i < d)
		s0 += v[i] * (float) ((int) (code[i / 2] & 0x0F) - 8);
	return s0 + s1;
}

#ifdef QUANT_X86
/* 8-bit kernel for AVX2 + FMA: 16 codes widened to floats per step */
__attribute__((target("avx2,fma")))
static float
dot8_avx2(const float *v, const int8_t *code, int d)
{
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	__m128		lo,
				hi;
	float		s;
	int			i = 0;

	for (; i + 16 <= d; i += 16)
	{
		__m128i		c = _mm_loadu_si128((const __m128i *) (code + i));
		__m256		c0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c));
		__m256		c1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(c, 8)));

		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + i), c0, acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + i + 8), c1, acc1);
	}
	for (; i + 8 <= d; i += 8)
	{
		__m128i		c = _mm_loadl_epi64((const __m128i *) (code + i));
		__m256		c0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c));

		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + i), c0, acc0);
	}
	acc0 = _mm256_add_ps(acc0, acc1);
	lo = _mm256_castps256_ps128(acc0);
	hi = _mm256_extractf128_ps(acc0, 1);
	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
	s = _mm_cvtss_f32(lo);
	for (; i < d; i++)
		s += v[i] * code[i];
	return s;
}

/* 8-bit kernel for AVX-512: 32 codes per step, a masked tail */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static float
dot8_avx512(const float *v, const int8_t *code, int d)
{
	__m512		acc0 = _mm512_setzero_ps();
	__m512		acc1 = _mm512_setzero_ps();
	int			i = 0;
	float		s;

	for (; i + 32 <= d; i += 32)
	{
		__m512		c0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (code + i))));
		__m512		c1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (code + i + 16))));

		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + i), c0, acc0);
		acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + i + 16), c1, acc1);
	}
	for (; i + 16 <= d; i += 16)
	{
		__m512		c0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (code + i))));

		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + i), c0, acc0);
	}
	if (i < d)
	{
		/* masked tail: no scalar loop, no read past the end */
		__mmask16	m = (__mmask16) ((1u << (d - i)) - 1);
		__m128i		cb = _mm_maskz_loadu_epi8(m, code + i);
		__m512		c0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(cb));

		acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + i), c0, acc1);
	}
	s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
	return s;
}
#endif

/* ---- integer estimates: the query quantized to int8 ------------------ */

/*
 * Like quant_encode at 8 bits, for a query: one scale, codes in
 * [-127, 127] (never -128, which the AVX2 kernel's sign trick could not
 * negate within a byte), and the error norm rounded up.  A NaN component
 * gets code 0 and makes the error norm NaN, so the bound of every
 * estimate made with it is NaN: the scan reranks those entries exactly.
 */
void
quant_query8(const float *v, int d, QuantQuery8 *qq)
{
	float		amax = 0;
	float		s;
	float		inv;
	int32_t		sum = 0;
	double		err[4] = {0, 0, 0, 0};

	for (int i = 0; i < d; i++)
	{
		float		a = fabsf(v[i]);

		amax = a > amax ? a : amax;
	}
	s = amax / 127.0f;
	inv = s > 0 ? 1.0f / s : 0.0f;
	for (int i = 0; i < d; i++)
	{
		float		x = v[i] * inv;
		int			q = x == x ? (int) round_clamped(x, 127.0f) : 0;
		double		e = (double) v[i] - (double) s * q;

		qq->q[i] = (int8_t) q;
		sum += q;
		err[i & 3] += e * e;
	}
	qq->qscale = s;
	qq->qerr = (float) (sqrt((err[0] + err[1]) + (err[2] + err[3])) * (1.0 + 1e-5));
	qq->qsum = sum;
}

/* the portable integer kernel (GCC vectorises it) */
static int32_t
idot8_scalar(const int8_t *q, const int8_t *code, int d, int32_t qsum)
{
	int32_t		s = 0;

	(void) qsum;
	for (int i = 0; i < d; i++)
		s += (int32_t) q[i] * code[i];
	return s;
}

#ifdef QUANT_X86
/*
 * AVX2: vpmaddubsw multiplies unsigned by signed bytes into pairwise
 * 16-bit sums, which saturate past 32767.  So the unsigned side is |code|
 * (at most 128) and the signed side the query with code's sign folded in
 * (|q| <= 127): a pair sums to at most 2 * 128 * 127 = 32512, exact.
 * vpmaddwd by ones widens the pairs to 32-bit sums.
 */
__attribute__((target("avx2")))
static int32_t
idot8_avx2(const int8_t *q, const int8_t *code, int d, int32_t qsum)
{
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i		acc = _mm256_setzero_si256();
	__m128i		s4;
	int32_t		s;
	int			i = 0;

	(void) qsum;
	for (; i + 32 <= d; i += 32)
	{
		__m256i		c = _mm256_loadu_si256((const __m256i *) (code + i));
		__m256i		v = _mm256_loadu_si256((const __m256i *) (q + i));
		__m256i		p = _mm256_maddubs_epi16(_mm256_sign_epi8(c, c), _mm256_sign_epi8(v, c));

		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
	}
	s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
	s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
	s = _mm_cvtsi128_si32(s4);
	for (; i < d; i++)
		s += (int32_t) q[i] * code[i];
	return s;
}

/*
 * AVX-512 VNNI: vpdpbusd adds four unsigned-by-signed byte products to
 * each 32-bit lane, 64 bytes a step, without saturation.  The unsigned
 * side is the code offset by 128 (a flip of its top bit), which adds
 * 128 * sum(q) to the result: qsum takes it back off.  A masked tail
 * loads zeros, whose offset code 128 meets a zero query byte.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static int32_t
idot8_avx512vnni(const int8_t *q, const int8_t *code, int d, int32_t qsum)
{
	const __m512i flip = _mm512_set1_epi8((char) 0x80);
	__m512i		acc0 = _mm512_setzero_si512();
	__m512i		acc1 = _mm512_setzero_si512();
	int			i = 0;

	for (; i + 128 <= d; i += 128)
	{
		acc0 = _mm512_dpbusd_epi32(acc0,
								   _mm512_xor_si512(_mm512_loadu_si512(code + i), flip),
								   _mm512_loadu_si512(q + i));
		acc1 = _mm512_dpbusd_epi32(acc1,
								   _mm512_xor_si512(_mm512_loadu_si512(code + i + 64), flip),
								   _mm512_loadu_si512(q + i + 64));
	}
	for (; i + 64 <= d; i += 64)
		acc0 = _mm512_dpbusd_epi32(acc0,
								   _mm512_xor_si512(_mm512_loadu_si512(code + i), flip),
								   _mm512_loadu_si512(q + i));
	if (i < d)
	{
		__mmask64	m = (__mmask64) ((1ULL << (d - i)) - 1);

		acc1 = _mm512_dpbusd_epi32(acc1,
								   _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, code + i), flip),
								   _mm512_maskz_loadu_epi8(m, q + i));
	}
	return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) - 128 * qsum;
}
#endif

/* ---- integer estimates for 4-bit codes --------------------------------- */

void
quant_query_split4(QuantQuery8 *qq, int d)
{
	int			m = (int) quant_code_bytes(d, 4);

	for (int j = 0; j < m; j++)
	{
		qq->q4[j] = qq->q[2 * j];
		qq->q4[m + j] = 2 * j + 1 < d ? qq->q[2 * j + 1] : 0;
	}
}

/*
 * The nibbles are the unsigned side of every kernel (0 to 15, the code
 * plus 8); the offset comes back off as 8 * qsum.
 */
static int32_t
idot4_scalar(const int8_t *q4, const uint8_t *code, int m, int32_t qsum)
{
	const int8_t *qodd = q4 + m;
	int32_t		s = 0;

	for (int j = 0; j < m; j++)
		s += (int32_t) q4[j] * (code[j] & 0x0F) + (int32_t) qodd[j] * (code[j] >> 4);
	return s - 8 * qsum;
}

/*
 * quant_idot4_many's kernels: idot4 of n codes stride bytes apart, into
 * out.  One call per list page instead of one per entry, and the query's
 * bytes loaded once per page where they fit in registers.
 */
static void
idot4_many_scalar(const int8_t *q4, const uint8_t *code, size_t stride, int n, int m,
				  int32_t qsum, int32_t *out)
{
	for (int i = 0; i < n; i++, code += stride)
		out[i] = idot4_scalar(q4, code, m, qsum);
}

#ifdef QUANT_X86
/*
 * AVX2: vpmaddubsw of nibbles (at most 15) by query bytes (|q| <= 127)
 * sums pairs to at most 3810, and the even and odd halves together to
 * 7620: far from 16-bit saturation.
 */
__attribute__((target("avx2")))
static int32_t
idot4_avx2(const int8_t *q4, const uint8_t *code, int m, int32_t qsum)
{
	const int8_t *qodd = q4 + m;
	const __m256i low = _mm256_set1_epi8(0x0F);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i		acc = _mm256_setzero_si256();
	__m128i		s4;
	int32_t		s;
	int			j = 0;

	for (; j + 32 <= m; j += 32)
	{
		__m256i		c = _mm256_loadu_si256((const __m256i *) (code + j));
		__m256i		lo = _mm256_and_si256(c, low);
		__m256i		hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), low);
		__m256i		p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *) (q4 + j))),
										 _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *) (qodd + j))));

		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
	}
	s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
	s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
	s = _mm_cvtsi128_si32(s4);
	for (; j < m; j++)
		s += (int32_t) q4[j] * (code[j] & 0x0F) + (int32_t) qodd[j] * (code[j] >> 4);
	return s - 8 * qsum;
}

__attribute__((target("avx2")))
static void
idot4_many_avx2(const int8_t *q4, const uint8_t *code, size_t stride, int n, int m,
				int32_t qsum, int32_t *out)
{
	for (int i = 0; i < n; i++, code += stride)
		out[i] = idot4_avx2(q4, code, m, qsum);
}

/*
 * AVX-512 VNNI: 64 code bytes (128 components) a step, each nibble half
 * through its own vpdpbusd; a masked tail loads zero codes and zero query
 * bytes.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static int32_t
idot4_avx512vnni(const int8_t *q4, const uint8_t *code, int m, int32_t qsum)
{
	const int8_t *qodd = q4 + m;
	const __m512i low = _mm512_set1_epi8(0x0F);
	__m512i		acc0 = _mm512_setzero_si512();
	__m512i		acc1 = _mm512_setzero_si512();
	int			j = 0;

	for (; j + 64 <= m; j += 64)
	{
		__m512i		c = _mm512_loadu_si512(code + j);

		acc0 = _mm512_dpbusd_epi32(acc0, _mm512_and_si512(c, low), _mm512_loadu_si512(q4 + j));
		acc1 = _mm512_dpbusd_epi32(acc1, _mm512_and_si512(_mm512_srli_epi16(c, 4), low),
								   _mm512_loadu_si512(qodd + j));
	}
	if (j < m)
	{
		__mmask64	k = (__mmask64) ((1ULL << (m - j)) - 1);
		__m512i		c = _mm512_maskz_loadu_epi8(k, code + j);

		acc0 = _mm512_dpbusd_epi32(acc0, _mm512_and_si512(c, low), _mm512_maskz_loadu_epi8(k, q4 + j));
		acc1 = _mm512_dpbusd_epi32(acc1, _mm512_and_si512(_mm512_srli_epi16(c, 4), low),
								   _mm512_maskz_loadu_epi8(k, qodd + j));
	}
	return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) - 8 * qsum;
}

/*
 * Up to 64 code bytes (128 components, the common case of d <= 128): the
 * query's two halves stay in registers for the whole page and each code
 * is one masked load; wider codes go through idot4_avx512vnni.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void
idot4_many_avx512vnni(const int8_t *q4, const uint8_t *code, size_t stride, int n, int m,
					  int32_t qsum, int32_t *out)
{
	if (m <= 64)
	{
		const __m512i low = _mm512_set1_epi8(0x0F);
		__mmask64	k = m == 64 ? ~(__mmask64) 0 : (__mmask64) ((1ULL << m) - 1);
		__m512i		qe = _mm512_maskz_loadu_epi8(k, q4);
		__m512i		qo = _mm512_maskz_loadu_epi8(k, q4 + m);

		for (int i = 0; i < n; i++, code += stride)
		{
			__m512i		c = _mm512_maskz_loadu_epi8(k, code);
			__m512i		acc = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(c, low), qe);

			acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi16(c, 4), low), qo);
			out[i] = _mm512_reduce_add_epi32(acc) - 8 * qsum;
		}
		return;
	}
	for (int i = 0; i < n; i++, code += stride)
		out[i] = idot4_avx512vnni(q4, code, m, qsum);
}
#endif

QuantIDot4ManyFn quant_idot4_many = idot4_many_scalar;

/* the 4-bit integer kernel named, if this CPU runs it (see quantizer.h) */
QuantIDot4Fn
quant_idot4_kernel(const char *name)
{
	if (strcmp(name, "scalar") == 0)
		return idot4_scalar;
#ifdef QUANT_X86
	__builtin_cpu_init();
	if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2"))
		return idot4_avx2;
	if (strcmp(name, "avx512vnni") == 0 &&
		__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vnni"))
		return idot4_avx512vnni;
#endif
	return NULL;
}

/* the page kernel of the 4-bit kernel named, if this CPU runs it */
QuantIDot4ManyFn
quant_idot4_many_kernel(const char *name)
{
	QuantIDot4Fn one = quant_idot4_kernel(name);

	if (one == idot4_scalar)
		return idot4_many_scalar;
#ifdef QUANT_X86
	if (one == idot4_avx2)
		return idot4_many_avx2;
	if (one == idot4_avx512vnni)
		return idot4_many_avx512vnni;
#endif
	return NULL;
}

int32_t		(*quant_idot8) (const int8_t *q, const int8_t *code, int d, int32_t qsum) = idot8_scalar;
static const char *ikernel_name = "scalar";

/* the integer kernel named, if this CPU runs it (see quantizer.h) */
QuantIDot8Fn
quant_idot8_kernel(const char *name)
{
	if (strcmp(name, "scalar") == 0)
		return idot8_scalar;
#ifdef QUANT_X86
	__builtin_cpu_init();
	if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2"))
		return idot8_avx2;
	if (strcmp(name, "avx512vnni") == 0 &&
		__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vnni"))
		return idot8_avx512vnni;
#endif
	return NULL;
}

const char *
quant_ikernel_name(void)
{
	return ikernel_name;
}

/* ---- dispatch ---------------------------------------------------------- */

float		(*quant_dot8) (const float *v, const int8_t *code, int d) = dot8_scalar;
static const char *kernel_name = "scalar";

/* the kernel named, if this CPU runs it (see quantizer.h) */
QuantDot8Fn
quant_dot8_kernel(const char *name)
{
	if (strcmp(name, "scalar") == 0)
		return dot8_scalar;
#ifdef QUANT_X86
	__builtin_cpu_init();
	if (strcmp(name, "avx2") == 0 &&
		__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return dot8_avx2;
	if (strcmp(name, "avx512") == 0 &&
		__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl"))
		return dot8_avx512;
#endif
	return NULL;
}

/*
 * quant_dot8 and quant_idot8 become the widest kernels the CPU runs;
 * scalar otherwise
 */
void
quant_init(void)
{
	static const char *const order[] = {"avx512", "avx2"};
	static const char *const iorder[] = {"avx512vnni", "avx2"};

	for (int i = 0; i < 2; i++)
	{
		QuantDot8Fn f = quant_dot8_kernel(order[i]);

		if (f)
		{
			quant_dot8 = f;
			kernel_name = order[i];
			break;
		}
	}
	for (int i = 0; i < 2; i++)
	{
		QuantIDot8Fn f = quant_idot8_kernel(iorder[i]);

		if (f)
		{
			quant_idot8 = f;
			quant_idot4_many = quant_idot4_many_kernel(iorder[i]);
			ikernel_name = iorder[i];
			break;
		}
	}
}

const char *
quant_kernel_name(void)
{
	return kernel_name;
}
