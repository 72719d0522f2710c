/*
 * bitkmeans.c
 *		k-medians of packed bit strings: per-bit majority-vote centroids,
 *		nearest-centroid assignment by popcount (see bitkmeans.h).
 *
 * The majority vote is the centroid that minimises the summed Hamming
 * distance of a list's rows, so each iteration can only lower the total,
 * as a Lloyd step does under L2; under Jaccard it is a good enough
 * centre for routing (the index's distances come from the entries, never
 * from the centroids).
 */
#include <string.h>

#include "bit_kernels.h"
#include "bitkmeans.h"

double
bitkm_distance(BitkmMetric metric, const uint8_t *a, const uint8_t *b, size_t nbytes)
{
	uint64_t	and_count;
	uint64_t	or_count;

	if (metric == BITKM_HAMMING)
		return (double) bit_kernels->hamming(a, b, nbytes);
	bit_kernels->and_or(a, b, nbytes, &and_count, &or_count);
	return bit_jaccard_from_counts(and_count, or_count);
}

int
bitkm_nearest(BitkmMetric metric, const uint8_t *x, const uint8_t *centroids,
			  int k, size_t nbytes, double *dist)
{
	int			best = 0;
	double		best_d = bitkm_distance(metric, x, centroids, nbytes);

	for (int j = 1; j < k; j++)
	{
		double		d = bitkm_distance(metric, x, centroids + (size_t) j * nbytes, nbytes);

		if (d < best_d)
		{
			best_d = d;
			best = j;
		}
	}
	if (dist)
		*dist = best_d;
	return best;
}

/* xorshift64*: the reseeding draws, deterministic for a seed */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

int
bitkm_train(BitkmMetric metric, const uint8_t *rows, int n, int nbits, int k,
			int max_iter, uint64_t seed, uint8_t *centroids,
			int32_t *assign, int32_t *order, int32_t *start, uint32_t *bitcount,
			BitkmTick tick, void *tick_arg)
{
	size_t		nbytes = ((size_t) nbits + 7) / 8;
	uint64_t	rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
	int			iter;

	/* seeds spread over the (random) input, so distinct rows when n >= k */
	for (int j = 0; j < k; j++)
		memcpy(centroids + (size_t) j * nbytes,
			   rows + (size_t) ((int64_t) j * n / k) * nbytes, nbytes);
	for (int i = 0; i < n; i++)
		assign[i] = -1;

	for (iter = 0; iter < max_iter; iter++)
	{
		int			changed = 0;

		if (tick)
			tick(tick_arg);
		for (int i = 0; i < n; i++)
		{
			int			c = bitkm_nearest(metric, rows + (size_t) i * nbytes, centroids,
										  k, nbytes, NULL);

			changed += c != assign[i];
			assign[i] = c;
		}
		if (changed == 0)
			break;

		/* rows grouped by list: a counting sort on assign */
		memset(start, 0, sizeof(int32_t) * (k + 1));
		for (int i = 0; i < n; i++)
			start[assign[i] + 1]++;
		for (int j = 0; j < k; j++)
			start[j + 1] += start[j];
		for (int i = 0; i < n; i++)
			order[start[assign[i]]++] = i;
		/* start[j] is now the end of list j: shift back */
		for (int j = k; j > 0; j--)
			start[j] = start[j - 1];
		start[0] = 0;

		for (int j = 0; j < k; j++)
		{
			int			size = start[j + 1] - start[j];
			uint8_t    *c = centroids + (size_t) j * nbytes;

			if (size == 0)
			{
				/* an empty list takes a random row, to split a crowded one */
				memcpy(c, rows + (size_t) (next_rand(&rng) % (uint64_t) n) * nbytes, nbytes);
				continue;
			}
			memset(bitcount, 0, sizeof(uint32_t) * nbits);
			for (int r = start[j]; r < start[j + 1]; r++)
			{
				const uint8_t *x = rows + (size_t) order[r] * nbytes;

				for (int b = 0; b < nbits; b++)
					bitcount[b] += (x[b >> 3] >> (7 - (b & 7))) & 1;
			}
			memset(c, 0, nbytes);
			for (int b = 0; b < nbits; b++)
				if (2 * (uint64_t) bitcount[b] > (uint64_t) size)
					c[b >> 3] |= (uint8_t) (0x80 >> (b & 7));
		}
	}
	return iter;
}

void
bitkm_signs(const uint8_t *x, int nbits, float *out)
{
	for (int b = 0; b < nbits; b++)
		out[b] = ((x[b >> 3] >> (7 - (b & 7))) & 1) ? 1.0f : -1.0f;
}

int
bitkm_nearest_signs(const float *s, const float *centroids, int k, int nbits,
					float (*dot) (const float *a, const float *b, int n))
{
	int			best = 0;
	float		best_d = dot(s, centroids, nbits);

	for (int j = 1; j < k; j++)
	{
		float		d = dot(s, centroids + (size_t) j * nbits, nbits);

		if (d > best_d)
		{
			best_d = d;
			best = j;
		}
	}
	return best;
}
