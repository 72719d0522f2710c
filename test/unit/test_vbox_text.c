/*
 * test_vbox_text.c
 *		Unit tests for the vbox text parser (src/spatial/core/vbox_text.c).
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "vbox_text.h"


static void
expect_ok(const char *input, int dims, const float *lo, const float *hi)
{
	float		l[8], h[8];
	char		scratch[256];
	VBoxParseResult r = vbox_text_parse(input, l, h, 8, scratch);

	CHECK(r.status == VBOX_PARSE_OK, "\"%s\": status %d", input, (int) r.status);
	CHECK(r.dims == dims, "\"%s\": %d dims, want %d", input, r.dims, dims);
	if (r.status == VBOX_PARSE_OK && r.dims == dims)
		CHECK(memcmp(l, lo, sizeof(float) * dims) == 0 &&
			  memcmp(h, hi, sizeof(float) * dims) == 0, "\"%s\": values", input);
}

static void
expect_error(const char *input, VBoxParseStatus status, size_t offset)
{
	float		l[4], h[4];
	char		scratch[256];
	VBoxParseResult r = vbox_text_parse(input, l, h, 4, scratch);

	CHECK(r.status == status, "\"%s\": status %d, want %d", input, (int) r.status, (int) status);
	CHECK(r.error_offset == offset, "\"%s\": offset %zu, want %zu", input, r.error_offset, offset);
}

int
main(void)
{
	expect_ok("([1,2],[3,4])", 2, (float[]) {1, 2}, (float[]) {3, 4});
	expect_ok("  ( [ 1 ] ,\t[ -2.5e1 ] )  ", 1, (float[]) {1}, (float[]) {-25});
	expect_ok("([5,2,0],[3,4,0])", 3, (float[]) {5, 2, 0}, (float[]) {3, 4, 0});

	expect_error("", VBOX_PARSE_NO_OPEN_PAREN, 0);
	expect_error("[1],[2]", VBOX_PARSE_NO_OPEN_PAREN, 0);
	expect_error("(1,[2])", VBOX_PARSE_BAD_CORNER, 1);
	expect_error("([1],2)", VBOX_PARSE_BAD_CORNER, 5);
	expect_error("([1] [2])", VBOX_PARSE_NO_COMMA, 5);
	expect_error("([1],[2]", VBOX_PARSE_NO_CLOSE_PAREN, 8);
	expect_error("([1],[2]) x", VBOX_PARSE_TRAILING_JUNK, 10);
	expect_error("([1,2],[2])", VBOX_PARSE_DIMS_MISMATCH, 0);
	expect_error("([1,nan],[2,3])", VBOX_PARSE_BAD_CORNER, 4);
	expect_error("([1,2],[2,3)", VBOX_PARSE_BAD_CORNER, 11);
	expect_error("([1,2,3,4,5],[1])", VBOX_PARSE_BAD_CORNER, 10);
	expect_error("([],[])", VBOX_PARSE_BAD_CORNER, 2);

	{
		float		l[8], h[8];
		char		scratch[64];
		VBoxParseResult r = vbox_text_parse("([1,nan],[2,3])", l, h, 8, scratch);

		CHECK(r.vec_status == VEC_PARSE_NOT_FINITE && r.corner == 0, "NaN reported in the low corner");
		r = vbox_text_parse("([1],[inf])", l, h, 8, scratch);
		CHECK(r.vec_status == VEC_PARSE_NOT_FINITE && r.corner == 1, "Infinity reported in the high corner");
	}
	{
		float		lo[3] = {5, 1, -1}, hi[3] = {3, 4, -1};

		vbox_normalize(lo, hi, 3);
		CHECK(lo[0] == 3 && hi[0] == 5 && lo[1] == 1 && hi[1] == 4 && lo[2] == -1 && hi[2] == -1,
			  "normalize swaps reversed bounds only");
	}

	return unit_finish("test_vbox_text");
}
