/*
 * test_vec_text.c
 *		Unit tests for the vec text parser (src/core/vec_text.c).
 */
#include <math.h>
#include <string.h>

#include "unit.h"
#include "vec_text.h"

static void
expect_ok(const char *input, int dims, const float *values)
{
	float		out[64];
	VecParseResult r = vec_text_parse(input, out, 64);

	CHECK(r.status == VEC_PARSE_OK, "\"%s\": status %d, want OK", input, (int) r.status);
	CHECK(r.dims == dims, "\"%s\": %d dims, want %d", input, r.dims, dims);
	if (r.status == VEC_PARSE_OK && r.dims == dims)
	{
		for (int i = 0; i < dims; i++)
			CHECK(memcmp(&out[i], &values[i], sizeof(float)) == 0,
				  "\"%s\": element %d is %g, want %g", input, i, out[i], values[i]);
	}
}

static void
expect_error(const char *input, VecParseStatus status, size_t offset)
{
	float		out[4];
	VecParseResult r = vec_text_parse(input, out, 4);

	CHECK(r.status == status, "\"%s\": status %d, want %d", input, (int) r.status, (int) status);
	CHECK(r.error_offset == offset, "\"%s\": error offset %zu, want %zu",
		  input, r.error_offset, offset);
}

int
main(void)
{
	expect_ok("[1,2.5,-3]", 3, (float[]) {1.0f, 2.5f, -3.0f});
	expect_ok("  [ 1 ,\t2\n,3 ]  ", 3, (float[]) {1, 2, 3});
	expect_ok("[-0]", 1, (float[]) {-0.0f});
	expect_ok("[3.4028235e38]", 1, (float[]) {3.4028235e38f});
	expect_ok("[1.4e-45]", 1, (float[]) {1.4e-45f});
	expect_ok("[+4,0x10]", 2, (float[]) {4, 16});
	expect_ok("[0.1]", 1, (float[]) {0.1f});

	expect_error("", VEC_PARSE_NO_OPEN_BRACKET, 0);
	expect_error("1,2]", VEC_PARSE_NO_OPEN_BRACKET, 0);
	expect_error("[]", VEC_PARSE_EMPTY, 1);
	expect_error("[ ]", VEC_PARSE_EMPTY, 2);
	expect_error("[1,,2]", VEC_PARSE_BAD_NUMBER, 3);
	expect_error("[,1]", VEC_PARSE_BAD_NUMBER, 1);
	expect_error("[1,]", VEC_PARSE_BAD_NUMBER, 3);
	expect_error("[a]", VEC_PARSE_BAD_NUMBER, 1);
	expect_error("[1 2]", VEC_PARSE_BAD_SEPARATOR, 3);
	expect_error("[1;2]", VEC_PARSE_BAD_SEPARATOR, 2);
	expect_error("[1,2", VEC_PARSE_UNTERMINATED, 4);
	expect_error("[", VEC_PARSE_UNTERMINATED, 1);
	expect_error("[1,", VEC_PARSE_UNTERMINATED, 3);
	expect_error("[1,2]x", VEC_PARSE_TRAILING_JUNK, 5);
	expect_error("[1] ]", VEC_PARSE_TRAILING_JUNK, 4);
	expect_error("[nan]", VEC_PARSE_NOT_FINITE, 1);
	expect_error("[1,-Infinity]", VEC_PARSE_NOT_FINITE, 3);
	expect_error("[1e999]", VEC_PARSE_OUT_OF_RANGE, 1);
	expect_error("[-1e39]", VEC_PARSE_OUT_OF_RANGE, 1);
	expect_error("[1e-50]", VEC_PARSE_OUT_OF_RANGE, 1);
	expect_error("[1,2,3,4,5]", VEC_PARSE_TOO_MANY, 9);

	/* the capacity bound counts commas, capped */
	CHECK(vec_text_max_elements("[1]", 100) == 1, "one element");
	CHECK(vec_text_max_elements("[1,2,3]", 100) == 3, "three elements");
	CHECK(vec_text_max_elements("[1,2,3]", 2) == 2, "capped at 2");
	CHECK(vec_text_max_elements(",,,,,,", 4) == 4, "capped commas");

	/* the capacity is never exceeded, even by one */
	{
		float		out[3] = {0, 0, 0};
		float		guard = 42.0f;
		VecParseResult r;

		(void) guard;
		r = vec_text_parse("[1,2,3]", out, 2);
		CHECK(r.status == VEC_PARSE_TOO_MANY && r.dims == 2, "capacity 2 refuses 3 elements");
		CHECK(out[2] == 0.0f, "nothing written past the capacity");
	}

	for (int s = VEC_PARSE_OK; s <= VEC_PARSE_TOO_MANY; s++)
		CHECK(strlen(vec_parse_status_message((VecParseStatus) s)) > 0, "message for %d", s);

	return unit_finish("vec_text");
}
