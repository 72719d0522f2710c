/*
 * vec_text.c
 *		Parser for the text form of a vec.
 *
 * Grammar (whitespace allowed around every token):
 *		vec    := '[' number ( ',' number )* ']'
 *		number := what strtof() accepts, and must be finite in float4
 *
 * strtof() follows LC_NUMERIC; PostgreSQL backends keep that at "C", which
 * is what the text form assumes.
 */
#include "vec_text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "text_scan.h"

int
vec_text_max_elements(const char *str, int cap)
{
	int			n = 1;

	for (; *str; str++)
	{
		if (*str == ',' && ++n >= cap)
			return cap;
	}
	return n < cap ? n : cap;
}

/* The result that reports status at byte offset at - start. */
static VecParseResult
parse_failure(VecParseStatus status, int dims, const char *start, const char *at)
{
	VecParseResult r;

	r.status = status;
	r.dims = dims;
	r.error_offset = (size_t) (at - start);
	return r;
}

VecParseResult
vec_text_parse(const char *str, float *out, int capacity)
{
	const char *p = text_skip_space(str);
	int			dims = 0;
	VecParseResult ok;

	if (*p != '[')
		return parse_failure(VEC_PARSE_NO_OPEN_BRACKET, 0, str, p);
	p = text_skip_space(p + 1);
	if (*p == ']')
		return parse_failure(VEC_PARSE_EMPTY, 0, str, p);

	for (;;)
	{
		char	   *end;
		float		value;

		p = text_skip_space(p);
		if (*p == '\0')
			return parse_failure(VEC_PARSE_UNTERMINATED, dims, str, p);
		/* strtof skips leading space and accepts a sign; nothing else odd */
		if (*p == ',' || *p == ']')
			return parse_failure(VEC_PARSE_BAD_NUMBER, dims, str, p);

		errno = 0;
		value = strtof(p, &end);
		if (end == p)
			return parse_failure(VEC_PARSE_BAD_NUMBER, dims, str, p);
		if (isnan(value) || (isinf(value) && errno != ERANGE))
			return parse_failure(VEC_PARSE_NOT_FINITE, dims, str, p);
		/* like float4in: overflow, or a nonzero value that rounds to 0 */
		if (errno == ERANGE && (isinf(value) || value == 0.0f))
			return parse_failure(VEC_PARSE_OUT_OF_RANGE, dims, str, p);
		if (dims >= capacity)
			return parse_failure(VEC_PARSE_TOO_MANY, dims, str, p);
		out[dims++] = value;

		p = text_skip_space(end);
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == ']')
			break;
		if (*p == '\0')
			return parse_failure(VEC_PARSE_UNTERMINATED, dims, str, p);
		return parse_failure(VEC_PARSE_BAD_SEPARATOR, dims, str, p);
	}

	p = text_skip_space(p + 1);
	if (*p != '\0')
		return parse_failure(VEC_PARSE_TRAILING_JUNK, dims, str, p);

	ok.status = VEC_PARSE_OK;
	ok.dims = dims;
	ok.error_offset = 0;
	return ok;
}

const char *
vec_parse_status_message(VecParseStatus status)
{
	switch (status)
	{
		case VEC_PARSE_OK:
			return "no error";
		case VEC_PARSE_NO_OPEN_BRACKET:
			return "Vec contents must start with \"[\".";
		case VEC_PARSE_EMPTY:
			return "Vec must have at least 1 dimension.";
		case VEC_PARSE_BAD_NUMBER:
			return "Expected a number.";
		case VEC_PARSE_BAD_SEPARATOR:
			return "Expected \",\" or \"]\" after an element.";
		case VEC_PARSE_UNTERMINATED:
			return "Unexpected end of input: missing \"]\".";
		case VEC_PARSE_TRAILING_JUNK:
			return "Junk after closing \"]\".";
		case VEC_PARSE_NOT_FINITE:
			return "NaN and Infinity are not allowed in vec.";
		case VEC_PARSE_OUT_OF_RANGE:
			return "Value is out of range for type real.";
		case VEC_PARSE_TOO_MANY:
			return "Too many elements.";
	}
	return "unknown error";
}
