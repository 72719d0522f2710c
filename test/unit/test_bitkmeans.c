/*
 * test_bitkmeans.c
 *		Unit tests for msivf's clustering of bit strings
 *		(src/msivf/core/bitkmeans.c): its distances against a bit-at-a-time
 *		reference, nearest-centroid ties, and training that recovers
 *		well-separated clusters with zero padding bits.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "bit_kernels.h"
#include "bitkmeans.h"

static void
ref_counts(const uint8_t *a, const uint8_t *b, int nbits, int *x, int *and_c, int *or_c)
{
	*x = *and_c = *or_c = 0;
	for (int i = 0; i < nbits; i++)
	{
		int			p = (a[i / 8] >> (7 - i % 8)) & 1;
		int			q = (b[i / 8] >> (7 - i % 8)) & 1;

		*x += p ^ q;
		*and_c += p & q;
		*or_c += p | q;
	}
}

static void
random_bits(uint8_t *p, int nbits)
{
	size_t		nbytes = ((size_t) nbits + 7) / 8;

	for (size_t i = 0; i < nbytes; i++)
		p[i] = (uint8_t) unit_rng64();
	if (nbits % 8)
		p[nbytes - 1] &= (uint8_t) (0xFF << (8 - nbits % 8));
}

static void
test_distances(void)
{
	uint8_t		a[64],
				b[64];

	for (int nbits = 1; nbits <= 500; nbits += 7)
	{
		int			x,
					and_c,
					or_c;
		size_t		nbytes = ((size_t) nbits + 7) / 8;
		double		j;

		random_bits(a, nbits);
		random_bits(b, nbits);
		ref_counts(a, b, nbits, &x, &and_c, &or_c);
		CHECK(bitkm_distance(BITKM_HAMMING, a, b, nbytes) == x, "hamming %d bits", nbits);
		j = or_c == 0 ? 0.0 : 1.0 - (double) and_c / or_c;
		CHECK(bitkm_distance(BITKM_JACCARD, a, b, nbytes) == j, "jaccard %d bits", nbits);
	}
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	CHECK(bitkm_distance(BITKM_JACCARD, a, b, 8) == 0.0, "jaccard of two zero strings is 0");
	b[0] = 1;
	CHECK(bitkm_distance(BITKM_JACCARD, a, b, 8) == 1.0, "jaccard of zero and non-zero is 1");
}

static void
test_nearest(void)
{
	uint8_t		c[3 * 2] = {0xF0, 0x00, 0x0F, 0x00, 0xF0, 0x00};
	uint8_t		x[2] = {0xF1, 0x00};
	double		d;

	/* lists 0 and 2 are equal: the first wins */
	CHECK(bitkm_nearest(BITKM_HAMMING, x, c, 3, 2, &d) == 0 && d == 1.0, "nearest, first of equal");
	x[0] = 0x0F;
	CHECK(bitkm_nearest(BITKM_HAMMING, x, c, 3, 2, &d) == 1 && d == 0.0, "nearest exact");
	CHECK(bitkm_nearest(BITKM_JACCARD, x, c, 3, 2, &d) == 1 && d == 0.0, "nearest jaccard");
}

static void
test_train(BitkmMetric metric)
{
	enum
	{
		K = 5, PER = 200, NBITS = 203, N = K * PER
	};
	size_t		nbytes = (NBITS + 7) / 8;
	uint8_t    *bases = malloc(K * nbytes);
	uint8_t    *rows = malloc(N * nbytes);
	uint8_t    *cent = malloc(K * nbytes);
	int32_t    *assign = malloc(sizeof(int32_t) * N);
	int32_t    *order = malloc(sizeof(int32_t) * N);
	int32_t    *start = malloc(sizeof(int32_t) * (K + 1));
	uint32_t   *bitcount = malloc(sizeof(uint32_t) * NBITS);
	int			iters;
	int			list_of[K];
	int			ok = 1;

	for (int k = 0; k < K; k++)
		random_bits(bases + k * nbytes, NBITS);
	/* rows interleaved over the clusters; each flips about 5% of its base */
	for (int i = 0; i < N; i++)
	{
		uint8_t    *r = rows + (size_t) i * nbytes;

		memcpy(r, bases + (i % K) * nbytes, nbytes);
		for (int f = 0; f < NBITS / 20; f++)
		{
			int			b = (int) (unit_rng64() % NBITS);

			r[b / 8] ^= (uint8_t) (0x80 >> (b % 8));
		}
	}
	iters = bitkm_train(metric, rows, N, NBITS, K, 20, 42, cent, assign, order, start,
						bitcount, NULL, NULL);
	CHECK(iters >= 1 && iters < 20, "training converges (%d iterations)", iters);
	for (int k = 0; k < K; k++)
		list_of[k] = assign[k];
	for (int i = 0; i < N; i++)
		ok &= assign[i] == list_of[i % K];
	CHECK(ok, "every cluster in one list (metric %d)", (int) metric);
	for (int k = 0; k < K; k++)
	{
		CHECK(memcmp(cent + list_of[k] * nbytes, bases + k * nbytes, nbytes) == 0,
			  "centroid %d is its cluster's base (metric %d)", k, (int) metric);
		CHECK((cent[list_of[k] * nbytes + nbytes - 1] & 0x1F) == 0, "padding bits zero");
	}
	/* k = n: every row its own list */
	iters = bitkm_train(metric, rows, K, NBITS, K, 5, 1, cent, assign, order, start,
						bitcount, NULL, NULL);
	for (int i = 0; i < K; i++)
		CHECK(assign[i] == i, "k = n: row %d in its own list", i);
	free(bases);
	free(rows);
	free(cent);
	free(assign);
	free(order);
	free(start);
	free(bitcount);
}

static float
plain_dot(const float *a, const float *b, int n)
{
	float		s = 0;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* sign vectors: bit order, and inner product = nbits - 2 * Hamming */
static void
test_signs(void)
{
	enum
	{
		NBITS = 77, K = 4
	};
	size_t		nbytes = (NBITS + 7) / 8;
	uint8_t		a[10],
				b[10];
	float		sa[NBITS],
				sb[NBITS];
	float		cent[K * NBITS];
	const uint8_t one[2] = {0xA0, 0x80};

	bitkm_signs(one, 9, sa);
	CHECK(sa[0] == 1.0f && sa[1] == -1.0f && sa[2] == 1.0f && sa[3] == -1.0f &&
		  sa[7] == -1.0f && sa[8] == 1.0f, "signs follow bvec's bit order");
	for (int t = 0; t < 20; t++)
	{
		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		random_bits(a, NBITS);
		random_bits(b, NBITS);
		bitkm_signs(a, NBITS, sa);
		bitkm_signs(b, NBITS, sb);
		CHECK(plain_dot(sa, sb, NBITS) ==
			  (float) NBITS - 2.0f * (float) bitkm_distance(BITKM_HAMMING, a, b, nbytes),
			  "inner product of signs is nbits - 2 * hamming");
	}
	/* centroid 2 is a's signs scaled, the others b's or zero: 2 wins */
	for (int j = 0; j < K; j++)
		for (int i = 0; i < NBITS; i++)
			cent[j * NBITS + i] = j == 2 ? 0.1f * sa[i] : j == 1 ? 0.1f * sb[i] : 0.0f;
	CHECK(bitkm_nearest_signs(sa, cent, K, NBITS, plain_dot) == 2, "nearest sign centroid");
	/* all ties: the first */
	memset(cent, 0, sizeof(cent));
	CHECK(bitkm_nearest_signs(sa, cent, K, NBITS, plain_dot) == 0, "first of equal");
}

int
main(void)
{
	test_distances();
	test_nearest();
	test_train(BITKM_HAMMING);
	test_train(BITKM_JACCARD);
	test_signs();
	return unit_finish("test_bitkmeans");
}
