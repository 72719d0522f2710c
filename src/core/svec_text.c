/*
 * svec_text.c
 *		Parser for the text form of an svec.
 *
 * Grammar (whitespace allowed around every token):
 *		svec   := '{' [ entry ( ',' entry )* ] '}' '/' dims
 *		entry  := index ':' number
 *		index  := integer, 1 <= index <= dims
 *		dims   := integer, 1 <= dims <= SVEC_MAX_DIMS
 *		number := what strtof() accepts, and must be finite in float4
 *
 * Entries may come in any order; they are sorted, an index given twice is
 * an error even when one of its values is zero, and zeros are then
 * dropped, so equal vectors have one stored form.  strtof() follows
 * LC_NUMERIC, which PostgreSQL backends keep at "C".
 */
#include "svec_text.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "text_scan.h"

/* integers beyond this are all "too large": saturate, never overflow */
#define SVEC_INT_SATURATE	((int64_t) 1 << 40)

int
svec_text_max_entries(const char *str, int cap)
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
static SvecParseResult
parse_failure(SvecParseStatus status, int nnz, const char *start, const char *at)
{
	SvecParseResult r;

	r.status = status;
	r.nnz = nnz;
	r.dims = 0;
	r.bad_index = 0;
	r.error_offset = (size_t) (at - start);
	return r;
}

/*
 * An optionally signed decimal integer at p, saturated at
 * +-SVEC_INT_SATURATE.  Returns where it ends, or NULL when p holds no
 * digit.
 */
static const char *
parse_integer(const char *p, int64_t *value)
{
	bool		negative = false;
	int64_t		v = 0;
	const char *digits;

	if (*p == '+' || *p == '-')
		negative = (*p++ == '-');
	digits = p;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (v < SVEC_INT_SATURATE)
			v = v * 10 + (*p - '0');
	}
	if (p == digits)
		return NULL;
	if (v > SVEC_INT_SATURATE)
		v = SVEC_INT_SATURATE;
	*value = negative ? -v : v;
	return p;
}

/*
 * One "index:value" at p (space skipped); stores it in *entry with the
 * index made 0-based.  On success returns true with *p past the value;
 * otherwise fills *r.
 */
static bool
parse_entry(const char *str, const char **pp, int nnz, SvecEntry *entry,
			SvecParseResult *r)
{
	const char *p = text_skip_space(*pp);
	const char *end;
	char	   *fend;
	int64_t		index;
	float		value;

	end = parse_integer(p, &index);
	if (end == NULL)
	{
		*r = parse_failure(*p ? SVEC_PARSE_BAD_INDEX : SVEC_PARSE_UNTERMINATED, nnz, str, p);
		return false;
	}
	if (index < 1 || index > SVEC_MAX_DIMS)
	{
		*r = parse_failure(SVEC_PARSE_INDEX_OUT_OF_RANGE, nnz, str, p);
		r->bad_index = index;
		return false;
	}
	p = text_skip_space(end);
	if (*p != ':')
	{
		*r = parse_failure(*p ? SVEC_PARSE_NO_COLON : SVEC_PARSE_UNTERMINATED, nnz, str, p);
		return false;
	}
	p = text_skip_space(p + 1);
	/* strtof accepts a sign and leading space; nothing else odd */
	if (*p == ',' || *p == '}' || *p == ':')
	{
		*r = parse_failure(SVEC_PARSE_BAD_NUMBER, nnz, str, p);
		return false;
	}
	errno = 0;
	value = strtof(p, &fend);
	if (fend == p)
	{
		*r = parse_failure(*p ? SVEC_PARSE_BAD_NUMBER : SVEC_PARSE_UNTERMINATED, nnz, str, p);
		return false;
	}
	if (isnan(value) || (isinf(value) && errno != ERANGE))
	{
		*r = parse_failure(SVEC_PARSE_NOT_FINITE, nnz, str, p);
		return false;
	}
	/* like float4in: overflow, or a nonzero value that rounds to 0 */
	if (errno == ERANGE && (isinf(value) || value == 0.0f))
	{
		*r = parse_failure(SVEC_PARSE_OUT_OF_RANGE, nnz, str, p);
		return false;
	}
	entry->index = (int32_t) (index - 1);
	entry->value = value;
	*pp = fend;
	return true;
}

/*
 * The "{...}" part: entries into out[], their count in *n.  Returns true
 * with *pp just past the '}', or false with *r filled.
 */
static bool
parse_entries(const char *str, const char **pp, SvecEntry *out, int capacity,
			  int *n, SvecParseResult *r)
{
	const char *p = text_skip_space(*pp);

	*n = 0;
	if (*p != '{')
	{
		*r = parse_failure(SVEC_PARSE_NO_OPEN_BRACE, 0, str, p);
		return false;
	}
	p = text_skip_space(p + 1);
	if (*p == '}')
	{
		*pp = p + 1;
		return true;
	}
	for (;;)
	{
		SvecEntry	entry;

		p = text_skip_space(p);
		if (*n >= capacity)
		{
			*r = parse_failure(SVEC_PARSE_TOO_MANY_ENTRIES, *n, str, p);
			return false;
		}
		if (!parse_entry(str, &p, *n, &entry, r))
			return false;
		out[(*n)++] = entry;
		p = text_skip_space(p);
		if (*p == ',')
			p++;
		else if (*p == '}')
			break;
		else
		{
			*r = parse_failure(*p ? SVEC_PARSE_BAD_SEPARATOR : SVEC_PARSE_UNTERMINATED,
							   *n, str, p);
			return false;
		}
	}
	*pp = p + 1;
	return true;
}

static int
compare_entries(const void *a, const void *b)
{
	int32_t		x = ((const SvecEntry *) a)->index;
	int32_t		y = ((const SvecEntry *) b)->index;

	return (x > y) - (x < y);
}

/*
 * Sort out[0..n-1] by index (in place; already sorted input, the usual
 * case, is only checked), refuse an index given twice, drop zeros.
 * Returns the number of entries kept, or -1 with *dup the 0-based index
 * given twice.
 */
static int
normalise_entries(SvecEntry *out, int n, int32_t *dup)
{
	int			kept = 0;

	for (int i = 1; i < n; i++)
	{
		if (out[i].index <= out[i - 1].index)
		{
			qsort(out, (size_t) n, sizeof(SvecEntry), compare_entries);
			break;
		}
	}
	for (int i = 1; i < n; i++)
	{
		if (out[i].index == out[i - 1].index)
		{
			*dup = out[i].index;
			return -1;
		}
	}
	for (int i = 0; i < n; i++)
	{
		if (out[i].value != 0.0f)
			out[kept++] = out[i];
	}
	return kept;
}

/*
 * Check the entries against dims and max_nnz, then normalise them.  Errors
 * found here are reported at the dimensions, which they depend on.
 */
static SvecParseResult
finish_entries(const char *str, const char *dims_at, SvecEntry *out, int n,
			   int64_t dims, int max_nnz)
{
	SvecParseResult r = parse_failure(SVEC_PARSE_OK, n, str, str);
	int			nonzeros = 0;
	int32_t		dup = 0;

	r.dims = dims;
	r.error_offset = (size_t) (dims_at - str);
	for (int i = 0; i < n; i++)
	{
		if (out[i].index >= dims)
		{
			r.status = SVEC_PARSE_INDEX_OUT_OF_RANGE;
			r.bad_index = (int64_t) out[i].index + 1;
			return r;
		}
		nonzeros += (out[i].value != 0.0f);
	}
	/* before sorting: a flood of entries is refused without that work */
	if (nonzeros > max_nnz)
	{
		r.status = SVEC_PARSE_TOO_MANY_NONZEROS;
		return r;
	}
	r.nnz = normalise_entries(out, n, &dup);
	if (r.nnz < 0)
	{
		r.status = SVEC_PARSE_DUPLICATE;
		r.bad_index = (int64_t) dup + 1;
		r.nnz = 0;
		return r;
	}
	r.error_offset = 0;
	return r;
}

SvecParseResult
svec_text_parse(const char *str, SvecEntry *out, int capacity, int max_nnz)
{
	const char *p = str;
	const char *dims_at;
	const char *end;
	int64_t		dims;
	int			n;
	SvecParseResult r;

	if (!parse_entries(str, &p, out, capacity, &n, &r))
		return r;
	p = text_skip_space(p);
	if (*p != '/')
		return parse_failure(SVEC_PARSE_NO_DIMS, n, str, p);
	dims_at = text_skip_space(p + 1);
	end = parse_integer(dims_at, &dims);
	if (end == NULL)
		return parse_failure(SVEC_PARSE_BAD_DIMS, n, str, dims_at);
	p = text_skip_space(end);
	if (*p != '\0')
		return parse_failure(SVEC_PARSE_TRAILING_JUNK, n, str, p);
	if (dims < 1 || dims > SVEC_MAX_DIMS)
	{
		r = parse_failure(SVEC_PARSE_DIMS_OUT_OF_RANGE, n, str, dims_at);
		r.dims = dims;
		return r;
	}
	return finish_entries(str, dims_at, out, n, dims, max_nnz);
}

const char *
svec_parse_status_message(SvecParseStatus status)
{
	switch (status)
	{
		case SVEC_PARSE_OK:
			return "no error";
		case SVEC_PARSE_NO_OPEN_BRACE:
			return "Svec contents must start with \"{\".";
		case SVEC_PARSE_BAD_INDEX:
			return "Expected an integer index.";
		case SVEC_PARSE_NO_COLON:
			return "Expected \":\" after an index.";
		case SVEC_PARSE_BAD_NUMBER:
			return "Expected a number after \":\".";
		case SVEC_PARSE_BAD_SEPARATOR:
			return "Expected \",\" or \"}\" after an element.";
		case SVEC_PARSE_UNTERMINATED:
			return "Unexpected end of input: missing \"}\".";
		case SVEC_PARSE_NO_DIMS:
			return "Expected \"/\" and the number of dimensions after \"}\".";
		case SVEC_PARSE_BAD_DIMS:
			return "The number of dimensions must be an integer.";
		case SVEC_PARSE_TRAILING_JUNK:
			return "Junk after the number of dimensions.";
		case SVEC_PARSE_DIMS_OUT_OF_RANGE:
			return "The number of dimensions is out of range.";
		case SVEC_PARSE_INDEX_OUT_OF_RANGE:
			return "An index is out of range.";
		case SVEC_PARSE_DUPLICATE:
			return "An index appears more than once.";
		case SVEC_PARSE_NOT_FINITE:
			return "NaN and Infinity are not allowed in svec.";
		case SVEC_PARSE_OUT_OF_RANGE:
			return "Value is out of range for type real.";
		case SVEC_PARSE_TOO_MANY_ENTRIES:
			return "Too many entries.";
		case SVEC_PARSE_TOO_MANY_NONZEROS:
			return "Too many non-zero elements.";
	}
	return "unknown error";
}
