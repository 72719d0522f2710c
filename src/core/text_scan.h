/*
 * text_scan.h
 *		What the text parsers of vec and vbox share: the whitespace they
 *		allow around every token, and how they step over it.
 *
 * One definition keeps the two types agreeing on what counts as space
 * (the six ASCII characters isspace() accepts in the "C" locale, spelled
 * out so LC_CTYPE cannot change them).  Header-only and inline: the
 * parsers call these once per token.
 */
#ifndef MS_TEXT_SCAN_H
#define MS_TEXT_SCAN_H

#include <stdbool.h>

/* Is c one of the space characters the text forms allow between tokens? */
static inline bool
text_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The first character at or after p that is not space (maybe the NUL). */
static inline const char *
text_skip_space(const char *p)
{
	while (text_is_space(*p))
		p++;
	return p;
}

#endif							/* MS_TEXT_SCAN_H */
