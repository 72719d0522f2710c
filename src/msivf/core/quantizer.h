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
 * Plain C (no postgres.h); the dot-product kernel is chosen once for the
 * CPU (AVX-512, AVX2+FMA or scalar).
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

/* Picks the best kernel for this CPU.  Idempotent. */
extern void quant_init(void);

/* Name of the kernel in use. */
extern const char *quant_kernel_name(void);

#endif							/* MS_QUANTIZER_H */
