/*
 * hvec_text.h
 *		Parser for the text form of an hvec: "[1, 2.5, -3e4]", each element
 *		rounded once to the nearest half.
 *
 * The grammar, the statuses and the error offsets are those of the vec
 * parser (vec_text.h); what differs is the rounding: each number is read
 * as a double and rounded straight to half, not through float, whose
 * rounding first could move a value that lies just off a tie between two
 * halves onto it.
 */
#ifndef MS_HVEC_TEXT_H
#define MS_HVEC_TEXT_H

#include <stdint.h>

#include "vec_text.h"

/*
 * Parse the NUL-terminated str into out[0..capacity-1] (half bits).  A
 * value whose rounding overflows half (65520 or more in magnitude) is
 * VEC_PARSE_OUT_OF_RANGE; one too small for the least subnormal rounds to
 * a signed zero.
 */
extern VecParseResult hvec_text_parse(const char *str, uint16_t *out, int capacity);

#endif							/* MS_HVEC_TEXT_H */
