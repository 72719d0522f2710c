/*
 * svec_text.h
 *		Parser for the text form of an svec (sparse vector):
 *		"{1:0.5,7:-2}/30000", indices 1-based as users write them.
 *
 * Plain C so it can be fuzzed without a server.  Besides the grammar it
 * enforces what the stored form promises: indices within 1..dims, no index
 * twice, finite values, and at most max_nnz non-zeros; on success the
 * entries are sorted by index, 0-based, with explicit zeros dropped.  It
 * never writes past the capacity it is given and never reads past the
 * terminating NUL.
 */
#ifndef MS_SVEC_TEXT_H
#define MS_SVEC_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The limits of the svec type, shared by the parser and the SQL glue. */
#define SVEC_MAX_DIMS	1000000000
#define SVEC_MAX_NNZ	16000

/* One stored element: its 0-based index and its (non-zero) value. */
typedef struct SvecEntry
{
	int32_t		index;
	float		value;
} SvecEntry;

typedef enum SvecParseStatus
{
	SVEC_PARSE_OK = 0,
	SVEC_PARSE_NO_OPEN_BRACE,	/* input does not start with '{' */
	SVEC_PARSE_BAD_INDEX,		/* an index is not an integer */
	SVEC_PARSE_NO_COLON,		/* no ':' after an index */
	SVEC_PARSE_BAD_NUMBER,		/* a value is not a number */
	SVEC_PARSE_BAD_SEPARATOR,	/* neither ',' nor '}' after an entry */
	SVEC_PARSE_UNTERMINATED,	/* end of input before '}' */
	SVEC_PARSE_NO_DIMS,			/* no "/dims" after '}' */
	SVEC_PARSE_BAD_DIMS,		/* the dimensions are not an integer */
	SVEC_PARSE_TRAILING_JUNK,	/* something after the dimensions */
	SVEC_PARSE_DIMS_OUT_OF_RANGE,	/* dims outside 1..SVEC_MAX_DIMS */
	SVEC_PARSE_INDEX_OUT_OF_RANGE,	/* an index outside 1..dims */
	SVEC_PARSE_DUPLICATE,		/* the same index twice */
	SVEC_PARSE_NOT_FINITE,		/* NaN or Infinity */
	SVEC_PARSE_OUT_OF_RANGE,	/* a value overflows or underflows float4 */
	SVEC_PARSE_TOO_MANY_ENTRIES,	/* more entries than the capacity */
	SVEC_PARSE_TOO_MANY_NONZEROS	/* more non-zeros than max_nnz */
} SvecParseStatus;

#define SVEC_PARSE_LAST SVEC_PARSE_TOO_MANY_NONZEROS

typedef struct SvecParseResult
{
	SvecParseStatus status;
	int			nnz;			/* OK: entries in out[]; else entries read */
	int64_t		dims;			/* the dimensions, once read (else 0) */
	int64_t		bad_index;		/* the 1-based index at fault (range, duplicate) */
	size_t		error_offset;	/* byte offset of the problem */
} SvecParseResult;

/*
 * An upper bound on the number of entries in str (commas + 1), capped at
 * cap so a caller can size its buffer before parsing.
 */
extern int	svec_text_max_entries(const char *str, int cap);

/*
 * Parse the NUL-terminated str into out[0..capacity-1], allowing at most
 * max_nnz non-zero values.  On success status is SVEC_PARSE_OK, nnz the
 * number of non-zero entries, sorted by their 0-based index, and dims the
 * dimensions.
 */
extern SvecParseResult svec_text_parse(const char *str, SvecEntry *out,
									   int capacity, int max_nnz);

/* A short English description of a status, for error details. */
extern const char *svec_parse_status_message(SvecParseStatus status);

#endif							/* MS_SVEC_TEXT_H */
