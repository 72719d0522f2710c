/*
 * vbox_text.h
 *		Parser for the text form of a vbox: "([1,2],[3,4])", the low corner
 *		then the high corner, each in vec's text form.
 *
 * Plain C so it can be fuzzed without a server.  Each corner is handed to
 * vec_text_parse(), so a corner accepts exactly what a vec accepts.
 */
#ifndef MS_VBOX_TEXT_H
#define MS_VBOX_TEXT_H

#include <stddef.h>

#include "vec_text.h"

typedef enum VBoxParseStatus
{
	VBOX_PARSE_OK = 0,
	VBOX_PARSE_NO_OPEN_PAREN,	/* input does not start with '(' */
	VBOX_PARSE_BAD_CORNER,		/* a corner is not a valid vec (see vec_status) */
	VBOX_PARSE_NO_COMMA,		/* no ',' between the corners */
	VBOX_PARSE_NO_CLOSE_PAREN,	/* no ')' after the second corner */
	VBOX_PARSE_TRAILING_JUNK,	/* something after the closing ')' */
	VBOX_PARSE_DIMS_MISMATCH	/* corners of different dimensions */
} VBoxParseStatus;

typedef struct VBoxParseResult
{
	VBoxParseStatus status;
	VecParseStatus vec_status;	/* for VBOX_PARSE_BAD_CORNER */
	int			corner;			/* 0 = low, 1 = high (for BAD_CORNER) */
	int			dims;			/* dimensions (when OK); lo dims on mismatch */
	int			hi_dims;		/* dimensions of the high corner on mismatch */
	size_t		error_offset;	/* byte offset of the problem in the input */
} VBoxParseResult;

/*
 * Parse the NUL-terminated str.  lo and hi each have room for capacity
 * floats; scratch must have room for strlen(str) + 1 bytes.  The corners
 * are returned as written: vbox_normalize() orders them.
 */
extern VBoxParseResult vbox_text_parse(const char *str, float *lo, float *hi,
									   int capacity, char *scratch);

/* Swap lo[i] and hi[i] wherever lo[i] > hi[i]. */
extern void vbox_normalize(float *lo, float *hi, int dims);

/* A short English description of a status, for error details. */
extern const char *vbox_parse_status_message(VBoxParseStatus status);

#endif							/* MS_VBOX_TEXT_H */
