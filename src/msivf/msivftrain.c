/*
 * msivftrain.c
 *		Pass 1 of CREATE INDEX for msivf: a reservoir sample of the table in
 *		maintenance_work_mem, the number of lists, the held-out rows that
 *		calibrate probes against recall, and k-means on the rest of the
 *		sample.
 *
 * The sample is held prepared (unit length under cosine), so training and
 * calibration see the vectors the index will see.  What cannot be trained
 * in maintenance_work_mem is an error asking for more, not a silently
 * worse index.
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "kmeans.h"
#include "msivfbuild.h"

#define KMEANS_ITERS	10
#define TRAIN_PER_LIST	64		/* training rows per list, at most */
#define TRAIN_MIN		4096
#define SAMPLE_MAX		200000

/* whether a vec has a direction (cosine cannot index a zero vec) */
static bool
vec_is_nonzero(const Vec *v)
{
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] != 0)
			return true;
	return false;
}

/*
 * Table scan callback of pass 1: counts the indexable rows and keeps each
 * in the reservoir with equal chance.  The reservoir is sized, once the
 * first row gives the dimensions, to half of maintenance_work_mem (what a
 * smaller table leaves unused is given back before training).
 */
static void
sample_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool tupleIsAlive, void *state)
{
	MsivfBuildState *bs = (MsivfBuildState *) state;
	Vec		   *v;
	int			slot;

	if (isnull[0])
		return;
	v = msivf_datum_vec(values[0]);
	msivf_build_check_row_dims(bs, v);

	if (bs->sample == NULL)
	{
		Size		row = sizeof(float) * bs->dims + sizeof(ItemPointerData);

		/* at most half the budget: training needs room of its own */
		bs->sample_cap = (int) Min((Size) SAMPLE_MAX, bs->budget / 2 / row);
		if (bs->sample_cap < 1)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("maintenance_work_mem is too small to build an msivf index on vecs of %d dimensions",
							bs->dims),
					 errhint("Raise maintenance_work_mem.")));
		bs->sample = MemoryContextAllocHuge(bs->cxt,
											sizeof(float) * bs->dims * (Size) bs->sample_cap);
		bs->sample_tids = MemoryContextAlloc(bs->cxt, sizeof(ItemPointerData) * bs->sample_cap);
	}

	/* zero vectors under cosine have no direction: not indexed */
	if (bs->metric == MSIVF_METRIC_COSINE && !vec_is_nonzero(v))
		return;

	/* reservoir sampling (Algorithm R): every row kept with equal chance */
	if (bs->nsample < bs->sample_cap)
		slot = bs->nsample++;
	else
	{
		uint64		j = pg_prng_uint64_range(&bs->prng, 0, (uint64) bs->seen);

		slot = j < (uint64) bs->sample_cap ? (int) j : -1;
	}
	if (slot >= 0)
	{
		msivf_prepare_vector(bs->metric, v->x, bs->dims,
							 bs->sample + (Size) slot * bs->dims);
		bs->sample_tids[slot] = *tid;
	}
	bs->seen++;
	if ((Pointer) v != DatumGetPointer(values[0]))
		pfree(v);
}

/* Pass 1: draws the sample and reports the table's indexable rows. */
void
msivf_build_sample(MsivfBuildState *bs, Relation heap, Relation index,
				   IndexInfo *indexInfo)
{
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_SAMPLE);
	table_index_build_scan(heap, index, indexInfo, true, true, sample_callback, bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->seen);
}

/* the lists option's default: the square root of the row count */
static int
default_lists(int64 rows)
{
	double		l = sqrt((double) rows);

	return (int) Max(1, Min(MSIVF_MAX_LISTS, l));
}

/*
 * Bytes k-means on ntrain sample rows into k lists takes beside the
 * sample, with an sgemm block of block_floats.
 */
static Size
train_bytes(int ntrain, int dims, int k, size_t block_floats)
{
	return sizeof(float) * ((Size) ntrain * dims + (Size) k * dims +
							kmeans_train_work_floats(ntrain, dims, k, block_floats)) +
		sizeof(int32) * ntrain;
}

/*
 * The sgemm block for training ntrain rows into k lists in avail bytes:
 * k-means's default when it fits (the same block, so the same centroids,
 * as when memory is plenty), else as large as fits, down to one row (k
 * floats); 0 when not even that fits.
 */
static size_t
train_block(int ntrain, int dims, int k, Size avail)
{
	size_t		block = kmeans_default_block_floats(ntrain, k);
	Size		need = train_bytes(ntrain, dims, k, block);
	Size		least = train_bytes(ntrain, dims, k, k);

	if (need <= avail)
		return block;
	if (least > avail)
		return 0;
	/* whole rows of k distances */
	block = k + (avail - least) / sizeof(float) / k * k;
	return block;
}

/*
 * Sets bs->nlists (requested, or the default for the rows seen, never more
 * than there are rows to train on) and how many sample rows to train on
 * (*ntrain) in sgemm blocks of *block_floats: as many as TRAIN_PER_LIST
 * per list, in k-means's default block, the block shrunk first and then
 * the rows halved until training fits maintenance_work_mem beside the
 * sample.  One list needs no training.  An error when training on one row
 * per list does not fit, or when a requested list count has fewer sample
 * rows than lists although the table has enough; its hint is an amount of
 * maintenance_work_mem that is enough, not a guess.
 */
static void
choose_lists(MsivfBuildState *bs, int requested, int *ntrain, size_t *block_floats)
{
	int			k = requested > 0 ? requested : default_lists(bs->seen);
	Size		sample = sizeof(float) * (Size) bs->nsample * bs->dims;
	Size		avail = bs->budget > sample ? bs->budget - sample : 0;
	int			n;
	size_t		block = 0;

	k = (int) Min((int64) k, bs->seen);
	k = Min(k, bs->nsample);
	n = Min(bs->nsample, Max(k * TRAIN_PER_LIST, TRAIN_MIN));
	if (k > 1)
	{
		for (;;)
		{
			block = train_block(n, bs->dims, k, avail);
			if (block > 0 || n <= k)
				break;
			n = Max(k, n / 2);
		}
	}
	if ((k > 1 && block == 0) ||
		(requested > 0 && bs->seen >= requested && bs->nsample < requested))
	{
		int			lists = Max(k, requested);
		Size		row = sizeof(float) * bs->dims + sizeof(ItemPointerData);

		/*
		 * Enough: a sample of lists rows (half the budget holds the sample)
		 * and, beside it, one training row per list in blocks of one row.
		 * The sample never takes more than half, so twice the training
		 * memory covers both.
		 */
		Size		needed = Max(2 * train_bytes(lists, bs->dims, lists, lists),
								 2 * (Size) lists * row);
		Size		mb = (needed + 1024 * 1024 - 1) / (1024 * 1024);

		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg_plural("maintenance_work_mem is too small to train an msivf index of %d list on vecs of %d dimensions",
							   "maintenance_work_mem is too small to train an msivf index of %d lists on vecs of %d dimensions",
							   lists, lists, bs->dims),
				 requested > 0 ?
				 errhint("Raise maintenance_work_mem to at least %zu MB, or lower the lists option.", mb) :
				 errhint("Raise maintenance_work_mem to at least %zu MB, or set the lists option below %d.", mb, lists)));
	}
	bs->nlists = k;
	*ntrain = n;
	*block_floats = block;
}

/*
 * Hold-out queries for calibration: random rows of the sample, moved to
 * its end (bs->queries points there), each with an empty neighbour heap.
 * (A reservoir that never filled is in table order, so its last rows alone
 * would be a biased choice.)  None when the sample is too small or there
 * is one list: nothing to calibrate.
 */
static void
hold_out_queries(MsivfBuildState *bs)
{
	float	   *tmp;

	bs->nqueries = Min(MSIVF_CALIB_QUERIES, bs->nsample / 2);
	if (bs->nqueries < 5 || bs->nlists <= 1)
	{
		bs->nqueries = 0;
		return;
	}
	tmp = palloc(sizeof(float) * bs->dims);
	for (int i = 0; i < bs->nqueries; i++)
	{
		int			last = bs->nsample - 1 - i;
		int			j = (int) pg_prng_uint64_range(&bs->prng, 0, last);
		ItemPointerData t;

		memcpy(tmp, bs->sample + (Size) j * bs->dims, sizeof(float) * bs->dims);
		memcpy(bs->sample + (Size) j * bs->dims, bs->sample + (Size) last * bs->dims,
			   sizeof(float) * bs->dims);
		memcpy(bs->sample + (Size) last * bs->dims, tmp, sizeof(float) * bs->dims);
		t = bs->sample_tids[j];
		bs->sample_tids[j] = bs->sample_tids[last];
		bs->sample_tids[last] = t;
	}
	pfree(tmp);
	bs->queries = bs->sample + (Size) (bs->nsample - bs->nqueries) * bs->dims;
	bs->query_tids = bs->sample_tids + (bs->nsample - bs->nqueries);
	bs->neigh = palloc(sizeof(CalibNeighbour) * bs->nqueries * CALIB_K);
	bs->nneigh = palloc0(sizeof(int) * bs->nqueries);
}

/* between k-means blocks and iterations: CREATE INDEX can be cancelled */
static void
build_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * Inner product's centroids (kmeans_train_cones says why cones around the
 * rows' mean), trained on a copy of the rows, which it projects.
 */
static void
train_ip_centroids(MsivfBuildState *bs, int ntrain, float *work,
				   size_t block_floats, int32 *assign)
{
	int			d = bs->dims;
	float	   *x = MemoryContextAllocHuge(bs->cxt, sizeof(float) * (Size) ntrain * d);
	float	   *scratch = palloc(sizeof(float) * 2 * d);

	memcpy(x, bs->sample, sizeof(float) * (Size) ntrain * d);
	kmeans_train_cones(x, ntrain, d, bs->nlists, KMEANS_ITERS, 0x5eed,
					   bs->st.centroids, work, block_floats, assign, scratch,
					   build_tick, NULL);
	pfree(x);
	pfree(scratch);
}

/*
 * k-means on the first ntrain rows of the sample, with a fixed seed: the
 * same sample trains the same centroids.  The held-out queries at the
 * sample's end are left out of training unless the sample is too small to
 * spare them.
 */
static void
train_centroids(MsivfBuildState *bs, int ntrain, size_t block_floats)
{
	int			k = bs->nlists;
	float	   *work;
	int32	   *assign;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_TRAIN);
	bs->st.centroids = MemoryContextAllocHuge(bs->cxt, sizeof(float) * (Size) k * bs->dims);
	bs->st.centroid_norms = palloc(sizeof(float) * k);
	work = MemoryContextAllocHuge(bs->cxt, sizeof(float) *
								  kmeans_train_work_floats(ntrain, bs->dims, k, block_floats));
	assign = MemoryContextAllocHuge(bs->cxt, sizeof(int32) * ntrain);
	if (bs->metric == MSIVF_METRIC_IP)
		train_ip_centroids(bs, ntrain, work, block_floats, assign);
	else
		kmeans_train(bs->sample, ntrain, bs->dims, k, KMEANS_ITERS, 0x5eed,
					 bs->metric == MSIVF_METRIC_COSINE, bs->st.centroids,
					 work, block_floats, assign, build_tick, NULL);
	kmeans_row_norms(bs->st.centroids, k, bs->dims, bs->st.centroid_norms);
	pfree(work);
	pfree(assign);
}

/*
 * After pass 1: the number of lists, the calibration queries and the
 * centroids.  An empty sample gives one list at the origin (no
 * centroids), as does a sample that asks for one list.
 */
void
msivf_build_train(MsivfBuildState *bs, int requested)
{
	if (bs->nsample == 0)
		bs->nlists = 1;
	else
	{
		int			ntrain;
		size_t		block_floats;

		/*
		 * A table smaller than the reservoir leaves part of it unused: give
		 * that back, so training counts only the rows kept.
		 */
		if (bs->nsample < bs->sample_cap)
		{
			bs->sample = repalloc_huge(bs->sample,
									   sizeof(float) * bs->dims * (Size) bs->nsample);
			bs->sample_tids = repalloc(bs->sample_tids,
									   sizeof(ItemPointerData) * bs->nsample);
			bs->sample_cap = bs->nsample;
		}
		choose_lists(bs, requested, &ntrain, &block_floats);
		hold_out_queries(bs);
		if (bs->nlists > 1)
			train_centroids(bs, ntrain, block_floats);
	}
	bs->st.nlists = bs->nlists;
}
