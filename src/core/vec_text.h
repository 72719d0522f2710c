/*
 * vec_text.h
 *		Parser for the text form of a vec: "[1, 2.5, -3e4]".
 *
 * Plain C so it can be fuzzed without a server.  The parser never writes
 * past the capacity it is given, never reads past the terminating NUL, and
 * reports the first problem with its byte offset so the caller can raise a
 * precise error.
 */
#ifndef MS_VEC_TEXT_H
#define MS_VEC_TEXT_H

#include <stddef.h>

typedef enum VecParseStatus
{
	VEC_PARSE_OK = 0,
	VEC_PARSE_NO_OPEN_BRACKET,	/* input does not start with '[' */
	VEC_PARSE_EMPTY,			/* "[]" */
	VEC_PARSE_BAD_NUMBER,		/* an element is not a number ("[1,,2]") */
	VEC_PARSE_BAD_SEPARATOR,	/* neither ',' nor ']' after an element */
	VEC_PARSE_UNTERMINATED,		/* end of input before ']' */
	VEC_PARSE_TRAILING_JUNK,	/* something after the closing ']' */
	VEC_PARSE_NOT_FINITE,		/* NaN or Infinity */
	VEC_PARSE_OUT_OF_RANGE,		/* overflows or underflows float4 */
	VEC_PARSE_TOO_MANY			/* more elements than the capacity */
} VecParseStatus;

typedef struct VecParseResult
{
	VecParseStatus status;
	int			dims;			/* elements stored in out[] */
	size_t		error_offset;	/* byte offset of the problem */
} VecParseResult;

/*
 * An upper bound on the number of elements in str (commas + 1), capped at
 * cap so a caller can size its buffer before parsing.
 */
extern int	vec_text_max_elements(const char *str, int cap);

/*
 * Parse the NUL-terminated str into out[0..capacity-1].  On success
 * status is VEC_PARSE_OK and dims the element count.
 */
extern VecParseResult vec_text_parse(const char *str, float *out, int capacity);

/* A short English description of a status, for error details. */
extern const char *vec_parse_status_message(VecParseStatus status);

#endif							/* MS_VEC_TEXT_H */
