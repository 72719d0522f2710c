/*
 * batch_parse.h
 *		Strict parsers for the built-in raw batch formats.
 *
 *	CSV (batch_csv.c): one record per line, "point_id,x1,...,xD", fields
 *	separated by ',' with nothing else around them; point_id a decimal
 *	int64, each x a finite decimal float4.  Lines end with '\n' (the last
 *	one may omit it).  Empty lines, '\r' (CRLF files), NUL bytes, NaN,
 *	Infinity, values outside float4 and a field count other than D+1 are
 *	errors naming the line.
 *
 *	float32 (batch_float32.c): fixed records of an int64 id followed by D
 *	float32, all little-endian, no header.  A partial last record and a
 *	non-finite element are errors naming the record.
 *
 *	float16 (batch_float32.c): the same with D IEEE binary16 values, handed
 *	back as their bits; Infinity and NaN are errors.
 *
 *	sparse (batch_csv.c): CSV lines "point_id,<rest>", split at the first
 *	',' with the line rules of CSV; the rest (an svec's text) is handed
 *	back for the caller's svec parser.
 *
 * Plain C so it can be fuzzed without a server.  Parsing is a cursor: the
 * caller asks for one record at a time into an id and a float[dims]
 * buffer; nothing is allocated and nothing is read past the input.
 */
#ifndef MS_BATCH_PARSE_H
#define MS_BATCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define BATCH_MAX_DIMS 16000
/* longest CSV number accepted; real float4 text needs far fewer */
#define BATCH_CSV_MAX_FIELD 128

typedef enum BatchStatus
{
	BATCH_OK = 0,				/* a record was returned */
	BATCH_END,					/* no more records */
	BATCH_BAD_DIMS,				/* dims outside 1..BATCH_MAX_DIMS */
	BATCH_EMPTY,				/* the batch holds no record at all */
	BATCH_EMPTY_LINE,			/* csv: an empty line */
	BATCH_CR,					/* csv: a carriage return (CRLF line end) */
	BATCH_NUL,					/* csv: a NUL byte */
	BATCH_FIELD_COUNT,			/* csv: not dims + 1 fields */
	BATCH_BAD_ID,				/* csv: point id is not a decimal integer */
	BATCH_ID_RANGE,				/* csv: point id outside int64 */
	BATCH_BAD_NUMBER,			/* csv: a coordinate is not a decimal number */
	BATCH_FIELD_TOO_LONG,		/* csv: a field longer than BATCH_CSV_MAX_FIELD */
	BATCH_NOT_FINITE,			/* NaN or Infinity */
	BATCH_OUT_OF_RANGE,			/* csv: overflows, or underflows to 0, in float4 */
	BATCH_TRUNCATED				/* float32: the batch ends inside a record */
} BatchStatus;

typedef struct BatchCursor
{
	const unsigned char *data;
	size_t		len;
	size_t		pos;			/* next byte to read */
	int			dims;
	/* position of the last record returned or of the error */
	int64_t		record;			/* 1-based line (csv) or record (float32) */
	int			field;			/* 1-based field: 1 is the id, 2.. the coordinates */
	int			found;			/* csv FIELD_COUNT: fields on the line */
} BatchCursor;

extern void batch_csv_begin(BatchCursor *c, const void *data, size_t len, int dims);
extern BatchStatus batch_csv_next(BatchCursor *c, int64_t *id, float *vec);

/* bytes of one float32 record: 8 + 4 * dims */
extern size_t batch_float32_record_size(int dims);
extern void batch_float32_begin(BatchCursor *c, const void *data, size_t len, int dims);
extern BatchStatus batch_float32_next(BatchCursor *c, int64_t *id, float *vec);

/* bytes of one float16 record: 8 + 2 * dims */
extern size_t batch_float16_record_size(int dims);
extern void batch_float16_begin(BatchCursor *c, const void *data, size_t len, int dims);
extern BatchStatus batch_float16_next(BatchCursor *c, int64_t *id, uint16_t *half_bits);

/* dims is not used: the rest of the line is not parsed here */
extern void batch_sparse_begin(BatchCursor *c, const void *data, size_t len);
extern BatchStatus batch_sparse_next(BatchCursor *c, int64_t *id, const char **rest,
									 size_t *restlen);

/* A short English description of a status, for error messages. */
extern const char *batch_status_message(BatchStatus status);

#endif							/* MS_BATCH_PARSE_H */
