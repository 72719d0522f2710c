/*
 * hvec_text.c
 *		Parser for the text form of an hvec.
 *
 * Grammar (whitespace allowed around every token), as for vec:
 *		hvec   := '[' number ( ',' number )* ']'
 *		number := what strtod() accepts, finite, below 65520 in magnitude
 *
 * strtod() follows LC_NUMERIC, which PostgreSQL backends keep at "C".
 */
#include "hvec_text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "half.h"
#include "text_scan.h"

static VecParseResult
parse_failure(VecParseStatus status, int dims, const char *start, const char *at)
{
	VecParseResult r;

	r.status = status;
	r.dims = dims;
	r.error_offset = (size_t) (at - start);
	return r;
}

/*
 * One number at p into *out; *end past it.  VEC_PARSE_OK or the status of
 * what is wrong with it.
 */
static VecParseStatus
parse_number(const char *p, char **end, uint16_t *out)
{
	double		value;

	/* strtod skips leading space and accepts a sign; nothing else odd */
	if (*p == ',' || *p == ']')
		return VEC_PARSE_BAD_NUMBER;
	errno = 0;
	value = strtod(p, end);
	if (*end == p)
		return VEC_PARSE_BAD_NUMBER;
	if (isnan(value) || (isinf(value) && errno != ERANGE))
		return VEC_PARSE_NOT_FINITE;
	/* overflow of double (ERANGE, HUGE_VAL) is beyond half's range too */
	*out = half_from_double(value);
	if (half_is_special(*out))
		return VEC_PARSE_OUT_OF_RANGE;
	return VEC_PARSE_OK;
}

VecParseResult
hvec_text_parse(const char *str, uint16_t *out, int capacity)
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
		uint16_t	h;
		VecParseStatus s;

		p = text_skip_space(p);
		if (*p == '\0')
			return parse_failure(VEC_PARSE_UNTERMINATED, dims, str, p);
		s = parse_number(p, &end, &h);
		if (s != VEC_PARSE_OK)
			return parse_failure(s, dims, str, p);
		if (dims >= capacity)
			return parse_failure(VEC_PARSE_TOO_MANY, dims, str, p);
		out[dims++] = h;

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
