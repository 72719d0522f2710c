/*
 * test_svec.c
 *		Unit tests for the svec text parser (src/core/svec_text.c) and the
 *		sparse distances and order (src/core/svec_distance.c), the latter
 *		against dense double-precision references on random vectors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "svec_distance.h"
#include "svec_text.h"
#include "unit.h"

static void
expect_ok(const char *input, int64_t dims, int nnz, const int32_t *indices,
		  const float *values)
{
	SvecEntry	out[64];
	SvecParseResult r = svec_text_parse(input, out, 64, 16);

	CHECK(r.status == SVEC_PARSE_OK, "\"%s\": status %d, want OK", input, (int) r.status);
	CHECK(r.dims == dims, "\"%s\": dims %lld, want %lld", input,
		  (long long) r.dims, (long long) dims);
	CHECK(r.nnz == nnz, "\"%s\": %d entries, want %d", input, r.nnz, nnz);
	if (r.status != SVEC_PARSE_OK || r.nnz != nnz)
		return;
	for (int i = 0; i < nnz; i++)
	{
		CHECK(out[i].index == indices[i], "\"%s\": index %d is %d, want %d",
			  input, i, out[i].index, indices[i]);
		CHECK(memcmp(&out[i].value, &values[i], sizeof(float)) == 0,
			  "\"%s\": value %d is %g, want %g", input, i, out[i].value, values[i]);
	}
}

static void
expect_error(const char *input, SvecParseStatus status, size_t offset, int64_t bad_index)
{
	SvecEntry	out[4];
	SvecParseResult r = svec_text_parse(input, out, 4, 3);

	CHECK(r.status == status, "\"%s\": status %d, want %d", input, (int) r.status, (int) status);
	CHECK(r.error_offset == offset, "\"%s\": error offset %zu, want %zu",
		  input, r.error_offset, offset);
	if (bad_index != 0)
		CHECK(r.bad_index == bad_index, "\"%s\": bad index %lld, want %lld",
			  input, (long long) r.bad_index, (long long) bad_index);
}

static void
test_parser(void)
{
	expect_ok("{1:0.5,3:-2}/5", 5, 2, (int32_t[]) {0, 2}, (float[]) {0.5f, -2});
	expect_ok("  { 3 : 1 ,\t1:2\n}  /  4 ", 4, 2, (int32_t[]) {0, 2}, (float[]) {2, 1});
	expect_ok("{}/7", 7, 0, NULL, NULL);
	expect_ok("{ }/1", 1, 0, NULL, NULL);
	expect_ok("{1:0,2:-0,3:4}/3", 3, 1, (int32_t[]) {2}, (float[]) {4});
	expect_ok("{1000000000:1}/1000000000", 1000000000, 1, (int32_t[]) {999999999}, (float[]) {1});
	expect_ok("{+2:0x10}/+2", 2, 1, (int32_t[]) {1}, (float[]) {16});
	expect_ok("{5:5,4:4,3:3,2:2,1:1}/5", 5, 5, (int32_t[]) {0, 1, 2, 3, 4},
			  (float[]) {1, 2, 3, 4, 5});
	expect_ok("{1:1.4e-45}/1", 1, 1, (int32_t[]) {0}, (float[]) {1.4e-45f});

	expect_error("", SVEC_PARSE_NO_OPEN_BRACE, 0, 0);
	expect_error("[1,2]", SVEC_PARSE_NO_OPEN_BRACE, 0, 0);
	expect_error("{a:1}/3", SVEC_PARSE_BAD_INDEX, 1, 0);
	expect_error("{1:2,}/3", SVEC_PARSE_BAD_INDEX, 5, 0);
	expect_error("{,}/3", SVEC_PARSE_BAD_INDEX, 1, 0);
	expect_error("{1.5:2}/3", SVEC_PARSE_NO_COLON, 2, 0);
	expect_error("{1 2}/3", SVEC_PARSE_NO_COLON, 3, 0);
	expect_error("{1:}/3", SVEC_PARSE_BAD_NUMBER, 3, 0);
	expect_error("{1:x}/3", SVEC_PARSE_BAD_NUMBER, 3, 0);
	expect_error("{1:2 3:4}/5", SVEC_PARSE_BAD_SEPARATOR, 5, 0);
	expect_error("{1:2", SVEC_PARSE_UNTERMINATED, 4, 0);
	expect_error("{", SVEC_PARSE_UNTERMINATED, 1, 0);
	expect_error("{1:", SVEC_PARSE_UNTERMINATED, 3, 0);
	expect_error("{1:2}", SVEC_PARSE_NO_DIMS, 5, 0);
	expect_error("{1:2}3", SVEC_PARSE_NO_DIMS, 5, 0);
	expect_error("{1:2}/", SVEC_PARSE_BAD_DIMS, 6, 0);
	expect_error("{1:2}/x", SVEC_PARSE_BAD_DIMS, 6, 0);
	expect_error("{1:2}/3.0", SVEC_PARSE_TRAILING_JUNK, 7, 0);
	expect_error("{1:2}/3 x", SVEC_PARSE_TRAILING_JUNK, 8, 0);
	expect_error("{}/0", SVEC_PARSE_DIMS_OUT_OF_RANGE, 3, 0);
	expect_error("{}/-1", SVEC_PARSE_DIMS_OUT_OF_RANGE, 3, 0);
	expect_error("{}/1000000001", SVEC_PARSE_DIMS_OUT_OF_RANGE, 3, 0);
	expect_error("{}/99999999999999999999999", SVEC_PARSE_DIMS_OUT_OF_RANGE, 3, 0);
	expect_error("{0:1}/3", SVEC_PARSE_INDEX_OUT_OF_RANGE, 1, 0);
	expect_error("{-2:1}/3", SVEC_PARSE_INDEX_OUT_OF_RANGE, 1, -2);
	expect_error("{1000000001:1}/3", SVEC_PARSE_INDEX_OUT_OF_RANGE, 1, 1000000001);
	expect_error("{1:1,4:1}/3", SVEC_PARSE_INDEX_OUT_OF_RANGE, 10, 4);
	expect_error("{2:1,2:1}/3", SVEC_PARSE_DUPLICATE, 10, 2);
	expect_error("{3:1,1:1,3:0}/3", SVEC_PARSE_DUPLICATE, 14, 3);
	expect_error("{1:nan}/3", SVEC_PARSE_NOT_FINITE, 3, 0);
	expect_error("{1:-Infinity}/3", SVEC_PARSE_NOT_FINITE, 3, 0);
	expect_error("{1:1e999}/3", SVEC_PARSE_OUT_OF_RANGE, 3, 0);
	expect_error("{1:1e-50}/3", SVEC_PARSE_OUT_OF_RANGE, 3, 0);
	expect_error("{1:1,2:2,3:3,4:4,5:5}/9", SVEC_PARSE_TOO_MANY_ENTRIES, 17, 0);
	/* four entries fit the buffer, but only three may be non-zero */
	expect_error("{1:1,2:2,3:3,4:4}/9", SVEC_PARSE_TOO_MANY_NONZEROS, 18, 0);
	expect_ok("{1:1,2:0,3:3,4:4}/9", 9, 3, (int32_t[]) {0, 2, 3}, (float[]) {1, 3, 4});

	CHECK(svec_text_max_entries("{}/3", 100) == 1, "no comma");
	CHECK(svec_text_max_entries("{1:1,2:2}/3", 100) == 2, "two entries");
	CHECK(svec_text_max_entries(",,,,,,", 4) == 4, "capped");

	/* the capacity is never exceeded */
	{
		SvecEntry	out[3] = {{0, 0}, {0, 0}, {0, 0}};
		SvecParseResult r = svec_text_parse("{1:1,2:2,3:3}/3", out, 2, 16);

		CHECK(r.status == SVEC_PARSE_TOO_MANY_ENTRIES && r.nnz == 2, "capacity 2 refuses 3");
		CHECK(out[2].index == 0 && out[2].value == 0, "nothing written past the capacity");
	}
	for (int s = SVEC_PARSE_OK; s <= SVEC_PARSE_LAST; s++)
		CHECK(strlen(svec_parse_status_message((SvecParseStatus) s)) > 0, "message for %d", s);
}

/* A random sparse vector of dims dimensions, about density * dims non-zeros. */
static int
random_sparse(int dims, double density, int32_t *indices, float *values, float *dense)
{
	int			nnz = 0;

	for (int i = 0; i < dims; i++)
	{
		dense[i] = 0.0f;
		if ((double) (unit_rng64() % 1000000) < density * 1000000.0)
		{
			float		v = (float) ((int64_t) (unit_rng64() % 2001) - 1000) / 100.0f;

			if (v == 0.0f)
				continue;
			indices[nnz] = i;
			values[nnz++] = v;
			dense[i] = v;
		}
	}
	return nnz;
}

static int
dense_compare(const float *a, int na, const float *b, int nb)
{
	int			n = na < nb ? na : nb;

	for (int i = 0; i < n; i++)
	{
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return na == nb ? 0 : (na < nb ? -1 : 1);
}

static void
check_pair(const SvecView *a, const float *da, const SvecView *b, const float *db)
{
	double		ip = 0,
				l2 = 0,
				l1 = 0,
				na = 0,
				nb = 0;
	double		dot,
				pna,
				pnb;

	for (int i = 0; i < a->dims; i++)
	{
		ip += (double) da[i] * db[i];
		l2 += ((double) da[i] - db[i]) * ((double) da[i] - db[i]);
		l1 += fabs((double) da[i] - db[i]);
		na += (double) da[i] * da[i];
		nb += (double) db[i] * db[i];
	}
	CHECK(fabs(svec_dist_inner_product(a, b) - ip) <= 1e-9 * (1 + fabs(ip)), "inner product");
	CHECK(fabs(svec_dist_l2_squared(a, b) - l2) <= 1e-9 * (1 + l2), "l2 squared");
	CHECK(fabs(svec_dist_l1(a, b) - l1) <= 1e-9 * (1 + l1), "l1");
	CHECK(fabs(svec_dist_norm_squared(a) - na) <= 1e-9 * (1 + na), "norm");
	svec_dist_cosine_parts(a, b, &dot, &pna, &pnb);
	CHECK(dot == svec_dist_inner_product(a, b) && pna == svec_dist_norm_squared(a) &&
		  pnb == svec_dist_norm_squared(b), "cosine parts");
	CHECK(svec_compare(a, b) == dense_compare(da, a->dims, db, b->dims), "compare");
	CHECK(svec_compare(b, a) == -svec_compare(a, b), "compare antisymmetric");
	CHECK(svec_compare(a, a) == 0, "compare reflexive");
}

static void
test_distances(void)
{
	enum
	{
		DIMS = 300
	};
	static int32_t ia[DIMS],
				ib[DIMS];
	static float va[DIMS],
				vb[DIMS],
				da[DIMS],
				db[DIMS];
	const double densities[] = {0.0, 0.01, 0.05, 0.3, 1.0};

	for (int round = 0; round < 400; round++)
	{
		double		dens_a = densities[round % 5];
		double		dens_b = densities[(round / 5) % 5];
		int			dims = 1 + (int) (unit_rng64() % DIMS);
		SvecView	a = {dims, 0, ia, va};
		SvecView	b = {dims, 0, ib, vb};

		a.nnz = random_sparse(dims, dens_a, ia, va, da);
		b.nnz = random_sparse(dims, dens_b, ib, vb, db);
		check_pair(&a, da, &b, db);
		/* the order over different dimensions: a prefix of b */
		if (dims > 1)
		{
			SvecView	shorter = b;

			shorter.dims = dims - 1;
			while (shorter.nnz > 0 && ib[shorter.nnz - 1] >= dims - 1)
				shorter.nnz--;
			CHECK(svec_compare(&shorter, &b) == dense_compare(db, dims - 1, db, dims),
				  "prefix compares first");
			CHECK(svec_compare(&shorter, &a) == dense_compare(db, dims - 1, da, dims),
				  "compare across dimensions");
		}
	}
}

/*
 * The fast L2 and L1 subtract shared parts from the norms; close vectors
 * and wide ranges of magnitude must still come out exact.
 */
static void
test_cancellation(void)
{
	int32_t		ia[] = {0, 5, 9};
	float		va[] = {1e30f, 1.0f, 2.5f};
	int32_t		ib[] = {0, 9};
	float		vb[] = {1e30f, 2.5f};
	SvecView	a = {10, 3, ia, va};
	SvecView	b = {10, 2, ib, vb};
	float		vc[] = {1e30f, 1.0f, 2.5000002f};
	SvecView	c = {10, 3, ia, vc};

	CHECK(svec_dist_l2_squared(&a, &b) == 1.0, "l2: a 1 beside 1e30 is not lost (%g)",
		  svec_dist_l2_squared(&a, &b));
	CHECK(svec_dist_l1(&a, &b) == 1.0, "l1: a 1 beside 1e30 is not lost (%g)", svec_dist_l1(&a, &b));
	CHECK(svec_dist_l2_squared(&a, &a) == 0.0 && svec_dist_l1(&a, &a) == 0.0,
		  "identical vectors are at distance 0");
	CHECK(fabs(svec_dist_l2_squared(&a, &c) - pow(2.5000002f - 2.5f, 2)) < 1e-20,
		  "l2 of near-identical vectors (%g)", svec_dist_l2_squared(&a, &c));
}

int
main(void)
{
	test_parser();
	test_distances();
	test_cancellation();
	return unit_finish("svec");
}
