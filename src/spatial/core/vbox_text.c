/*
 * vbox_text.c
 *		Parser for the text form of a vbox.
 *
 * Grammar (whitespace allowed around every token):
 *		vbox := '(' vec ',' vec ')'
 *
 * A vec's number never contains ']', so the extent of each corner is the
 * span from its '[' to the next ']'; that span is copied into the caller's
 * scratch buffer and parsed by vec_text_parse(), so both types accept the
 * same numbers with the same rules.
 */
#include "vbox_text.h"

#include <string.h>

#include "text_scan.h"

/* The result that reports status at byte offset at - start, all else 0. */
static VBoxParseResult
failure(VBoxParseStatus status, const char *start, const char *at)
{
	VBoxParseResult r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.error_offset = (size_t) (at - start);
	return r;
}

/*
 * Parse one corner starting at *pp (which points at '[' or at whatever
 * stands there instead).  On success *pp moves past the ']'.
 */
static int
parse_corner(const char *str, const char **pp, float *out, int capacity,
			 char *scratch, VBoxParseResult *r, int corner)
{
	const char *p = *pp;
	const char *close;
	VecParseResult vr;
	size_t		len;

	close = (*p == '[') ? strchr(p, ']') : NULL;
	if (close == NULL)
	{
		/* let the vec parser name the problem on the rest of the input */
		len = strlen(p);
	}
	else
		len = (size_t) (close - p) + 1;
	memcpy(scratch, p, len);
	scratch[len] = '\0';

	vr = vec_text_parse(scratch, out, capacity);
	if (vr.status != VEC_PARSE_OK)
	{
		*r = failure(VBOX_PARSE_BAD_CORNER, str, p + vr.error_offset);
		r->vec_status = vr.status;
		r->corner = corner;
		r->dims = vr.dims;
		return -1;
	}
	*pp = p + len;
	return vr.dims;
}

VBoxParseResult
vbox_text_parse(const char *str, float *lo, float *hi, int capacity, char *scratch)
{
	const char *p = text_skip_space(str);
	VBoxParseResult r;
	int			lo_dims;
	int			hi_dims;

	if (*p != '(')
		return failure(VBOX_PARSE_NO_OPEN_PAREN, str, p);
	p = text_skip_space(p + 1);

	lo_dims = parse_corner(str, &p, lo, capacity, scratch, &r, 0);
	if (lo_dims < 0)
		return r;

	p = text_skip_space(p);
	if (*p != ',')
		return failure(VBOX_PARSE_NO_COMMA, str, p);
	p = text_skip_space(p + 1);

	hi_dims = parse_corner(str, &p, hi, capacity, scratch, &r, 1);
	if (hi_dims < 0)
		return r;

	p = text_skip_space(p);
	if (*p != ')')
		return failure(VBOX_PARSE_NO_CLOSE_PAREN, str, p);
	p = text_skip_space(p + 1);
	if (*p != '\0')
		return failure(VBOX_PARSE_TRAILING_JUNK, str, p);

	if (lo_dims != hi_dims)
	{
		r = failure(VBOX_PARSE_DIMS_MISMATCH, str, str);
		r.dims = lo_dims;
		r.hi_dims = hi_dims;
		return r;
	}

	memset(&r, 0, sizeof(r));
	r.status = VBOX_PARSE_OK;
	r.dims = lo_dims;
	return r;
}

void
vbox_normalize(float *lo, float *hi, int dims)
{
	for (int i = 0; i < dims; i++)
	{
		if (lo[i] > hi[i])
		{
			float		t = lo[i];

			lo[i] = hi[i];
			hi[i] = t;
		}
	}
}

const char *
vbox_parse_status_message(VBoxParseStatus status)
{
	switch (status)
	{
		case VBOX_PARSE_OK:
			return "no error";
		case VBOX_PARSE_NO_OPEN_PAREN:
			return "Vbox contents must start with \"(\".";
		case VBOX_PARSE_BAD_CORNER:
			return "A corner is not a valid vec.";
		case VBOX_PARSE_NO_COMMA:
			return "Expected \",\" between the two corners.";
		case VBOX_PARSE_NO_CLOSE_PAREN:
			return "Expected \")\" after the second corner.";
		case VBOX_PARSE_TRAILING_JUNK:
			return "Junk after closing \")\".";
		case VBOX_PARSE_DIMS_MISMATCH:
			return "The corners have different dimensions.";
	}
	return "unknown error";
}
