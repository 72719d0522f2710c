/*
 * fuzz_batch_sparse.c
 *		libFuzzer harness for the sparse batch parser
 *		(src/raw/core/batch_csv.c), the one ms.proc_sparse runs, with each
 *		line's rest handed to the svec text parser (src/core/svec_text.c)
 *		as the server's svec input does.
 *
 * Checks: a line's rest lies inside the input, right after the first ','
 * of the line, up to the line's end, and holds no newline, carriage
 * return or NUL; the id is the decimal before that comma; line numbers
 * count the input's lines; a batch read to its end had one record a line;
 * an svec the rest parses to has increasing indices below its dims and
 * finite non-zero values.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parse.h"
#include "svec_text.h"
#include "fuzz.h"

/* the svec input's use of svec_text_parse (src/svec/svec_io.c) */
static void
check_svec(const char *rest, size_t restlen)
{
	char	   *str = malloc(restlen + 1);
	int			capacity;
	SvecEntry  *out;
	SvecParseResult r;

	memcpy(str, rest, restlen);
	str[restlen] = '\0';
	capacity = svec_text_max_entries(str, (int) (restlen / 4 + 1));
	out = malloc(sizeof(SvecEntry) * capacity);
	r = svec_text_parse(str, out, capacity, SVEC_MAX_NNZ);
	if (r.status != SVEC_PARSE_OK && r.error_offset > restlen)
		fail("svec error offset past the end of the line");
	if (r.status == SVEC_PARSE_OK)
	{
		if (r.dims < 1 || r.dims > SVEC_MAX_DIMS || r.nnz < 0 || r.nnz > capacity)
			fail("svec dims or nnz out of range");
		for (int i = 0; i < r.nnz; i++)
			if (out[i].index < 0 || out[i].index >= r.dims ||
				(i > 0 && out[i].index <= out[i - 1].index) ||
				!isfinite(out[i].value) || out[i].value == 0.0f)
				fail("svec entries out of order, out of range or zero");
	}
	free(out);
	free(str);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);
	BatchCursor c;
	BatchStatus st;
	int64_t		id;
	const char *rest;
	size_t		restlen;
	size_t		lines = 0;
	size_t		line_start = 0;
	int64_t		n = 0;

	memcpy(copy, data, size);
	for (size_t i = 0; i < size; i++)
		lines += copy[i] == '\n';
	if (size > 0 && copy[size - 1] != '\n')
		lines++;

	batch_sparse_begin(&c, copy, size);
	while ((st = batch_sparse_next(&c, &id, &rest, &restlen)) == BATCH_OK)
	{
		const unsigned char *r = (const unsigned char *) rest;
		const unsigned char *comma;
		size_t		idlen;
		char	   *idtext;
		char	   *end;
		long long	parsed;

		n++;
		if (c.record != n)
			fail("line number out of step");
		if (r < copy + line_start + 1 || r + restlen > copy + size)
			fail("rest outside the line");
		comma = memchr(copy + line_start, ',', size - line_start);
		if (comma == NULL || r != comma + 1)
			fail("rest does not start after the first comma");
		if (memchr(r, '\n', restlen) || memchr(r, '\r', restlen) || memchr(r, '\0', restlen))
			fail("newline, carriage return or NUL in a line's rest");
		if (r + restlen != copy + size && r[restlen] != '\n')
			fail("rest stops before the end of its line");
		if (c.pos != (size_t) (r + restlen - copy) + (r + restlen < copy + size))
			fail("cursor not at the next line");

		idlen = (size_t) (comma - (copy + line_start));
		if (idlen == 0)
			fail("empty id accepted");
		/* leading zeros are allowed: any length */
		idtext = malloc(idlen + 1);
		memcpy(idtext, copy + line_start, idlen);
		idtext[idlen] = '\0';
		if (idtext[0] == ' ' || strchr(idtext, 'x') || strchr(idtext, 'X'))
			fail("id with blanks or hex accepted");
		errno = 0;
		parsed = strtoll(idtext, &end, 10);
		if (*end != '\0' || errno != 0 || parsed != id)
			fail("id is not the decimal int64 before the comma");
		free(idtext);

		check_svec(rest, restlen);
		line_start = c.pos;
	}
	if (st == BATCH_OK || st == BATCH_BAD_DIMS)
		fail("unexpected status");
	if (st == BATCH_EMPTY && (size != 0 || n != 0))
		fail("non-empty batch reported empty");
	if (st == BATCH_END && (size_t) n != lines)
		fail("a line was skipped");
	if (st != BATCH_END && st != BATCH_EMPTY && (c.record != n + 1 || (size_t) c.record > lines))
		fail("error line misreported");
	free(copy);
	return 0;
}
