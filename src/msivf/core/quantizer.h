/*
 * quantizer.h
 *		Scalar quantization of residual vectors for the msivf index, and the
 *		kernels that estimate distances from the codes.
 *
 * A residual r (a vector minus its list's centroid) is stored as signed
 * integer codes with one scale per vector: r ~ scale * code, with codes in
 * [-127, 127] (8 bits, one byte each) or [-7, 7] (4 bits, two per byte, for
 * dimensions too large for byte codes to fit a page).  The encoder also
 * returns |r - scale * code|, the norm of the quantization error, so that
 * for any query vector v, by Cauchy-Schwarz,
 *
 *		|v.r - scale * (v.code)| <= |v| * err_norm
 *
 * which bounds every estimated distance and lets a scan rerank exactly the
 * candidates that could still beat the rows it has already verified.
 *
 * Plain C (no postgres.h); the dot-product kernels are chosen once for the
 * CPU (AVX-512, AVX2+FMA or scalar; for the integer kernel AVX-512 VNNI,
 * AVX2 or scalar).
 */
#ifndef MS_QUANTIZER_H
#define MS_QUANTIZER_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of code for d dimensions at 8 or 4 bits. */
extern size_t quant_code_bytes(int d, int bits);

/*
 * Encodes r (d floats).  Writes quant_code_bytes(d, bits) bytes to code and
 * the scale and the error norm to *scale and *err_norm.
 */
extern void quant_encode(const float *r, int d, int bits, uint8_t *code,
						 float *scale, float *err_norm);

/* Reconstructs scale * code into out (d floats). */
extern void quant_decode(const uint8_t *code, int d, int bits, float scale,
						 float *out);

/* sum(v[i] * code[i]) for 8-bit codes, with the kernel picked for the CPU. */
extern float (*quant_dot8) (const float *v, const int8_t *code, int d);

/* sum(v[i] * code[i]) for packed 4-bit codes. */
extern float quant_dot4(const float *v, const uint8_t *code, int d);

/* Dot product for either width. */
static inline float
quant_dot(const float *v, const uint8_t *code, int d, int bits)
{
	return bits == 8 ? quant_dot8(v, (const int8_t *) code, d)
		: quant_dot4(v, code, d);
}

/* 8-bit kernels by name, for tests: "scalar", "avx2", "avx512"; NULL if unsupported. */
typedef float (*QuantDot8Fn) (const float *v, const int8_t *code, int d);
extern QuantDot8Fn quant_dot8_kernel(const char *name);

/*
 * Integer estimates for 8-bit codes.  A query vector v (per list, or per
 * query) is quantized once to int8: v ~ qscale * q with q in [-127, 127],
 * and its error norm |v - qscale * q| (rounded up) is returned too, so
 * that for an entry with code c, scale s and error norm err of a residual
 * r,
 *
 *		|v.r - s * qscale * (q.c)| <= |v| * err + qerr * (|r| + err)
 *
 * (the code's error bounded as above, and |s * c| <= |r| + err bounds the
 * query's error's share).  q.c is an exact integer: every kernel returns
 * the same value.  qsum, the sum of q's components, is what a kernel that
 * multiplies unsigned bytes needs to undo its offset; quant_query8 sets it.
 */
typedef struct QuantQuery8
{
	int8_t	   *q;				/* d components, filled by quant_query8 */
	int8_t	   *q4;				/* for 4-bit codes: 2 * quant_code_bytes(d, 4)
								 * bytes, filled by quant_query_split4 */
	float		qscale;
	float		qerr;			/* |v - qscale * q|, rounded up */
	int32_t		qsum;
} QuantQuery8;

/* Quantizes v (d floats) into qq (qq->q has room for d bytes). */
extern void quant_query8(const float *v, int d, QuantQuery8 *qq);

/* sum(q[i] * code[i]), exactly, with the kernel picked for the CPU. */
extern int32_t (*quant_idot8) (const int8_t *q, const int8_t *code, int d, int32_t qsum);

/* integer kernels by name, for tests: "scalar", "avx2", "avx512vnni"; NULL if unsupported */
typedef int32_t (*QuantIDot8Fn) (const int8_t *q, const int8_t *code, int d, int32_t qsum);
extern QuantIDot8Fn quant_idot8_kernel(const char *name);

/*
 * The same integer estimate for packed 4-bit codes.  A code byte holds
 * components 2j (low nibble) and 2j+1 (high nibble), each offset by 8, so
 * a kernel that splits a byte's nibbles needs the query's even and odd
 * components apart: quant_query_split4 copies qq->q into qq->q4 as the m =
 * quant_code_bytes(d, 4) even components, then the m odd ones (a zero
 * where d is odd, which meets the unused high nibble).  A 4-bit kernel
 * returns sum(q[i] * code[i]) over the d components, exactly, from q4, m
 * and qsum; quant_idot4_kernel names one, for tests.
 */
extern void quant_query_split4(QuantQuery8 *qq, int d);

typedef int32_t (*QuantIDot4Fn) (const int8_t *q4, const uint8_t *code, int m, int32_t qsum);
extern QuantIDot4Fn quant_idot4_kernel(const char *name);

/*
 * What scans call: the 4-bit estimate of n codes, each stride bytes after
 * the one before (the entries of a list page), into out[0 .. n-1], in one
 * call, with the query's bytes loaded once where they fit in registers.
 */
typedef void (*QuantIDot4ManyFn) (const int8_t *q4, const uint8_t *code, size_t stride, int n,
								  int m, int32_t qsum, int32_t *out);
extern QuantIDot4ManyFn quant_idot4_many;
extern QuantIDot4ManyFn quant_idot4_many_kernel(const char *name);

/* Name of the integer kernel in use. */
extern const char *quant_ikernel_name(void);

/* Picks the best kernel for this CPU.  Idempotent. */
extern void quant_init(void);

/* Name of the kernel in use. */
extern const char *quant_kernel_name(void);

#endif							/* MS_QUANTIZER_H */
