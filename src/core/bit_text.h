/*
 * bit_text.h
 *		Parser and formatter for the text form of a bvec: a string of '0'
 *		and '1' characters, first character = most significant bit of the
 *		first byte (the bit order of PostgreSQL's bit type).
 *
 * Plain C so it can be fuzzed without a server.  The parser never writes
 * more than (max_bits + 7) / 8 bytes, never reads past the NUL, and names
 * the offset of the first bad character.
 */
#ifndef MS_BIT_TEXT_H
#define MS_BIT_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef enum BitParseStatus
{
	BIT_PARSE_OK = 0,
	BIT_PARSE_EMPTY,			/* no bit at all ("" or only spaces) */
	BIT_PARSE_BAD_CHAR,			/* a character other than 0 and 1 */
	BIT_PARSE_TOO_MANY			/* more than max_bits bits */
} BitParseStatus;

typedef struct BitParseResult
{
	BitParseStatus status;
	int			nbits;			/* bits stored (at most max_bits) */
	size_t		error_offset;	/* byte offset of a bad character */
} BitParseResult;

/*
 * Parse the NUL-terminated str into out[0 .. (max_bits + 7) / 8 - 1],
 * padding bits zero.  Space is allowed before and after the digits, not
 * between them.  A bad character is reported even past max_bits digits.
 */
extern BitParseResult bit_text_parse(const char *str, uint8_t *out, int max_bits);

/* Write nbits characters '0'/'1' and a NUL to out[nbits + 1]. */
extern void bit_text_format(const uint8_t *bits, int nbits, char *out);

#endif							/* MS_BIT_TEXT_H */
