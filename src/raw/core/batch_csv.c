/*
 * batch_csv.c
 *		Strict parser of CSV raw batches ("point_id,x1,...,xD" lines).
 *
 * Producers' bytes are untrusted: the parser validates each field's
 * characters itself before handing a bounded, NUL-terminated copy to
 * strtof(), so strtof's leniencies (leading blanks, hex floats, "nan",
 * "inf") never let odd input through.  strtof() follows LC_NUMERIC, which
 * PostgreSQL backends keep at "C".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parse.h"

void
batch_csv_begin(BatchCursor *c, const void *data, size_t len, int dims)
{
	memset(c, 0, sizeof(*c));
	c->data = data;
	c->len = len;
	c->dims = dims;
}

/* Report status st at field of the current line. */
static BatchStatus
fail(BatchCursor *c, BatchStatus st, int field)
{
	c->field = field;
	return st;
}

/* case-insensitive match of the whole field against word */
static int
field_is(const unsigned char *f, size_t n, const char *word)
{
	size_t		wl = strlen(word);

	if (n > 0 && (f[0] == '+' || f[0] == '-'))
	{
		f++;
		n--;
	}
	if (n != wl)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tolower(f[i]) != word[i])
			return 0;
	return 1;
}

/* [+-]? (digits ('.' digits*)? | '.' digits) ([eE] [+-]? digits)? */
static int
is_decimal(const unsigned char *f, size_t n)
{
	size_t		i = 0;
	size_t		mant = 0;

	if (i < n && (f[i] == '+' || f[i] == '-'))
		i++;
	while (i < n && isdigit(f[i]))
		i++, mant++;
	if (i < n && f[i] == '.')
	{
		i++;
		while (i < n && isdigit(f[i]))
			i++, mant++;
	}
	if (mant == 0)
		return 0;
	if (i < n && (f[i] == 'e' || f[i] == 'E'))
	{
		size_t		exp = 0;

		i++;
		if (i < n && (f[i] == '+' || f[i] == '-'))
			i++;
		while (i < n && isdigit(f[i]))
			i++, exp++;
		if (exp == 0)
			return 0;
	}
	return i == n;
}

/*
 * The decimal int64 field f[0..n), optionally signed; BATCH_BAD_ID for
 * anything else, BATCH_ID_RANGE when it overflows int64.
 */
static BatchStatus
parse_id(const unsigned char *f, size_t n, int64_t *id)
{
	size_t		i = 0;
	int			neg = 0;
	uint64_t	v = 0;
	uint64_t	limit;

	if (n > 0 && (f[0] == '+' || f[0] == '-'))
	{
		neg = f[0] == '-';
		i++;
	}
	if (i == n)
		return BATCH_BAD_ID;
	limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; i < n; i++)
	{
		if (!isdigit(f[i]))
			return BATCH_BAD_ID;
		if (v > (limit - (uint64_t) (f[i] - '0')) / 10)
			return BATCH_ID_RANGE;
		v = v * 10 + (uint64_t) (f[i] - '0');
	}
	if (neg)
		*id = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
	else
		*id = (int64_t) v;
	return BATCH_OK;
}

/*
 * The finite float4 field f[0..n): checked character by character before
 * strtof sees it, and refused, as float4in refuses it, when it overflows or
 * underflows to zero.
 */
static BatchStatus
parse_float(const unsigned char *f, size_t n, float *out)
{
	char		buf[BATCH_CSV_MAX_FIELD + 1];
	char	   *end;
	float		v;

	if (field_is(f, n, "nan") || field_is(f, n, "inf") || field_is(f, n, "infinity"))
		return BATCH_NOT_FINITE;
	if (!is_decimal(f, n))
		return BATCH_BAD_NUMBER;
	if (n > BATCH_CSV_MAX_FIELD)
		return BATCH_FIELD_TOO_LONG;
	memcpy(buf, f, n);
	buf[n] = '\0';
	errno = 0;
	v = strtof(buf, &end);
	if (end != buf + n)
		return BATCH_BAD_NUMBER;
	/* like float4in: overflow, or a nonzero value that rounds to 0 */
	if (errno == ERANGE && (isinf(v) || v == 0.0f))
		return BATCH_OUT_OF_RANGE;
	if (!isfinite(v))
		return BATCH_NOT_FINITE;
	*out = v;
	return BATCH_OK;
}

BatchStatus
batch_csv_next(BatchCursor *c, int64_t *id, float *vec)
{
	const unsigned char *line;
	const unsigned char *eol;
	size_t		linelen;
	size_t		start;
	int			field;

	c->field = 0;
	c->found = 0;
	if (c->dims < 1 || c->dims > BATCH_MAX_DIMS)
		return BATCH_BAD_DIMS;
	if (c->pos >= c->len)
		return c->record == 0 ? fail(c, BATCH_EMPTY, 0) : BATCH_END;

	c->record++;
	line = c->data + c->pos;
	eol = memchr(line, '\n', c->len - c->pos);
	linelen = eol ? (size_t) (eol - line) : c->len - c->pos;
	c->pos += linelen + (eol ? 1 : 0);

	if (linelen == 0)
		return fail(c, BATCH_EMPTY_LINE, 0);
	if (memchr(line, '\r', linelen))
		return fail(c, BATCH_CR, 0);
	if (memchr(line, '\0', linelen))
		return fail(c, BATCH_NUL, 0);

	/* count fields first so a short or long line is reported as such */
	field = 1;
	for (size_t i = 0; i < linelen; i++)
		if (line[i] == ',')
			field++;
	if (field != c->dims + 1)
	{
		c->found = field;
		return fail(c, BATCH_FIELD_COUNT, 0);
	}

	start = 0;
	for (field = 1; field <= c->dims + 1; field++)
	{
		const unsigned char *f = line + start;
		const unsigned char *comma = memchr(f, ',', linelen - start);
		size_t		n = comma ? (size_t) (comma - f) : linelen - start;
		BatchStatus st;

		if (field == 1)
			st = parse_id(f, n, id);
		else
			st = parse_float(f, n, &vec[field - 2]);
		if (st != BATCH_OK)
			return fail(c, st, field);
		start += n + 1;
	}
	return BATCH_OK;
}

const char *
batch_status_message(BatchStatus status)
{
	switch (status)
	{
		case BATCH_OK:
			return "no error";
		case BATCH_END:
			return "end of batch";
		case BATCH_BAD_DIMS:
			return "dimension count out of range";
		case BATCH_EMPTY:
			return "batch holds no records";
		case BATCH_EMPTY_LINE:
			return "empty line";
		case BATCH_CR:
			return "carriage return in line (CRLF line endings are not accepted)";
		case BATCH_NUL:
			return "NUL byte in line";
		case BATCH_FIELD_COUNT:
			return "wrong number of fields";
		case BATCH_BAD_ID:
			return "point id is not an integer";
		case BATCH_ID_RANGE:
			return "point id is out of range for type bigint";
		case BATCH_BAD_NUMBER:
			return "value is not a number";
		case BATCH_FIELD_TOO_LONG:
			return "field is too long";
		case BATCH_NOT_FINITE:
			return "NaN or Infinity not allowed";
		case BATCH_OUT_OF_RANGE:
			return "value is out of range for type real";
		case BATCH_TRUNCATED:
			return "batch ends inside a record";
	}
	return "unknown batch status";
}

void
batch_sparse_begin(BatchCursor *c, const void *data, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->data = data;
	c->len = len;
	c->dims = 1;
}

BatchStatus
batch_sparse_next(BatchCursor *c, int64_t *id, const char **rest, size_t *restlen)
{
	const unsigned char *line;
	const unsigned char *eol;
	const unsigned char *comma;
	size_t		linelen;
	BatchStatus st;

	c->field = 0;
	c->found = 0;
	if (c->pos >= c->len)
		return c->record == 0 ? fail(c, BATCH_EMPTY, 0) : BATCH_END;

	c->record++;
	line = c->data + c->pos;
	eol = memchr(line, '\n', c->len - c->pos);
	linelen = eol ? (size_t) (eol - line) : c->len - c->pos;
	c->pos += linelen + (eol ? 1 : 0);

	if (linelen == 0)
		return fail(c, BATCH_EMPTY_LINE, 0);
	if (memchr(line, '\r', linelen))
		return fail(c, BATCH_CR, 0);
	if (memchr(line, '\0', linelen))
		return fail(c, BATCH_NUL, 0);
	comma = memchr(line, ',', linelen);
	if (comma == NULL)
	{
		c->found = 1;
		return fail(c, BATCH_FIELD_COUNT, 0);
	}
	st = parse_id(line, (size_t) (comma - line), id);
	if (st != BATCH_OK)
		return fail(c, st, 1);
	c->field = 2;
	*rest = (const char *) comma + 1;
	*restlen = linelen - (size_t) (comma - line) - 1;
	return BATCH_OK;
}
