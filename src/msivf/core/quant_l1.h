/*
 * quant_l1.h
 *		L1 (Manhattan) estimates from msivf's residual codes (quantizer.h).
 *
 * L1 does not split into dot products, so its estimate is computed from
 * the codes directly: for a query-side vector v = q - c and an entry whose
 * residual r is coded as scale * code,
 *
 *		est = sum |v[i] - scale * code[i]|
 *
 * and by the triangle inequality, component by component,
 *
 *		|sum |v[i] - r[i]| - est| <= sum |r[i] - scale * code[i]| = err1
 *
 * the L1 norm of the quantization error, which the index stores for L1 in
 * place of the L2 error norm.  So est - err1 and est + err1 bound the true
 * distance, up to float rounding (quant_l1_rounding).
 *
 * Plain C (no postgres.h).
 */
#ifndef MS_QUANT_L1_H
#define MS_QUANT_L1_H

#include <stdint.h>

/*
 * The L1 norm of r - scale * code for codes written by quant_encode,
 * computed in double and rounded up, so it bounds the error the scan's
 * float arithmetic sees.
 */
extern float quant_l1_error(const float *r, const uint8_t *code, int d, int bits,
							float scale);

/* sum |v[i] - scale * code[i]| in float, for 8- or 4-bit codes */
extern float quant_l1_estimate(const float *v, const uint8_t *code, int d, int bits,
							   float scale);

/*
 * A relative bound on the float rounding of an L1 distance of d terms,
 * summed in any order by the estimate or a distance kernel: every partial
 * sum rounds once per addition, and no sum chains more than d of them.
 * What it multiplies must bound the magnitudes involved (see msivfscan.c).
 */
extern float quant_l1_rounding(int d);

#endif							/* MS_QUANT_L1_H */
