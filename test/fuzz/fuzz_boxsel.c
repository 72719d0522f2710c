/*
 * fuzz_boxsel.c
 *		libFuzzer harness for the point statistics behind the "v <@ box"
 *		estimate (src/spatial/core/boxsel.c).
 *
 * The stats come back from pg_statistic, where anything may have been
 * written, so the estimate must take any array of floats: the answer is -1
 * or a share from 0 to 1, never a crash or a read past the array.  Stats
 * built from the input's own points must also give the whole space every
 * row, and an inverted box none.
 *
 * Input: byte 0 picks the dimension count (1 to BOXSEL_MAX_DIMS + 1) and
 * the mode (bit 7: build from points; bit 6: raw stats with a well-formed
 * header); then 2 * d floats of box corners; then floats, either points
 * or raw stats.
 */
#include <math.h>
#include <string.h>

#include "boxsel.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			d;
	float		lo[BOXSEL_MAX_DIMS + 1];
	float		hi[BOXSEL_MAX_DIMS + 1];
	size_t		nfloats;
	const uint8_t *rest;
	double		share;

	if (size < 1)
		return 0;
	d = 1 + (data[0] & 0x1F) % (BOXSEL_MAX_DIMS + 1);
	if (size < 1 + sizeof(float) * 2 * d)
		return 0;
	memcpy(lo, data + 1, sizeof(float) * d);
	memcpy(hi, data + 1 + sizeof(float) * d, sizeof(float) * d);
	rest = data + 1 + sizeof(float) * 2 * d;
	nfloats = (size - (rest - data)) / sizeof(float);

	if (data[0] & 0x80)
	{
		/* stats of the input's finite points */
		size_t		stats_size = boxsel_stats_size(d);
		int			n = 0;
		float	   *points;
		float	   *stats;
		void	   *work;
		float		all_lo[BOXSEL_MAX_DIMS + 1];
		float		all_hi[BOXSEL_MAX_DIMS + 1];

		if (stats_size == 0)
			return 0;
		points = malloc(sizeof(float) * (nfloats + 1));
		for (size_t i = 0; i + d <= nfloats; i += d)
		{
			float		p[BOXSEL_MAX_DIMS];
			int			j;

			memcpy(p, rest + sizeof(float) * i, sizeof(float) * d);
			for (j = 0; j < d; j++)
				if (!isfinite(p[j]))
					break;
			if (j == d)
				memcpy(points + (size_t) n++ * d, p, sizeof(float) * d);
		}
		stats = malloc(sizeof(float) * stats_size);
		work = malloc(boxsel_work_size(n > 0 ? n : 1, d));
		if (boxsel_build(points, n, d, work, stats) == stats_size)
		{
			for (int j = 0; j < d; j++)
			{
				all_lo[j] = -INFINITY;
				all_hi[j] = INFINITY;
			}
			share = boxsel_fraction(stats, stats_size, lo, hi, d);
			if (!(share >= 0 && share <= 1))
				fail("a share outside 0..1 from built stats");
			if (boxsel_fraction(stats, stats_size, all_lo, all_hi, d) < 0.999)
				fail("the whole space does not hold every row");
			if (boxsel_fraction(stats, stats_size, all_hi, all_lo, d) != 0)
				fail("an inverted box holds rows");
		}
		else if (n > 0)
			fail("no stats built from points");
		free(points);
		free(stats);
		free(work);
	}
	else
	{
		/* raw stats, exactly as long as the input gives */
		float	   *stats = malloc(sizeof(float) * (nfloats + 4));

		memcpy(stats, rest, sizeof(float) * nfloats);
		if ((data[0] & 0x40) && nfloats >= BOXSEL_HEADER)
		{
			size_t		want = boxsel_stats_size(d);

			stats[0] = BOXSEL_FORMAT;
			stats[1] = (float) d;
			/* bins and grid flag as the builder writes them, when it would */
			if (want > 0 && want <= nfloats)
			{
				float	   *built = malloc(sizeof(float) * want);
				float		pt[BOXSEL_MAX_DIMS] = {0};
				void	   *work = malloc(boxsel_work_size(1, d));

				boxsel_build(pt, 1, d, work, built);
				stats[2] = built[2];
				stats[3] = built[3];
				nfloats = want;
				free(built);
				free(work);
			}
		}
		share = boxsel_fraction(stats, nfloats, lo, hi, d);
		if (!(share == -1 || (share >= 0 && share <= 1)))
			fail("a share outside 0..1 (or -1) from raw stats");
		free(stats);
	}
	return 0;
}
