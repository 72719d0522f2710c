/*
 * bit_text.c
 *		The bvec text form, "0101...": parse and format.
 */
#include <string.h>

#include "bit_text.h"
#include "text_scan.h"

BitParseResult
bit_text_parse(const char *str, uint8_t *out, int max_bits)
{
	BitParseResult r = {BIT_PARSE_OK, 0, 0};
	const char *p = text_skip_space(str);
	long		count = 0;

	memset(out, 0, ((size_t) max_bits + 7) / 8);
	for (; *p == '0' || *p == '1'; p++)
	{
		if (count < max_bits && *p == '1')
			out[count / 8] |= (uint8_t) (0x80u >> (count % 8));
		/* counting stops just past the limit: no overflow on huge input */
		if (count <= max_bits)
			count++;
	}
	if (*text_skip_space(p) != '\0')
	{
		/* the first character that ends the digits: "01 01" names the space */
		r.status = BIT_PARSE_BAD_CHAR;
		r.error_offset = (size_t) (p - str);
	}
	else if (count == 0)
		r.status = BIT_PARSE_EMPTY;
	else if (count > max_bits)
		r.status = BIT_PARSE_TOO_MANY;
	r.nbits = count > max_bits ? max_bits : (int) count;
	return r;
}

void
bit_text_format(const uint8_t *bits, int nbits, char *out)
{
	for (int i = 0; i < nbits; i++)
		out[i] = (bits[i / 8] & (0x80u >> (i % 8))) ? '1' : '0';
	out[nbits] = '\0';
}
