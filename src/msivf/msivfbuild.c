/*
 * msivfbuild.c
 *		CREATE INDEX for msivf: one pass over the table draws a reservoir
 *		sample into maintenance_work_mem, k-means trains the centroids on it
 *		(msivftrain.c), a second pass assigns every row to its nearest list
 *		with blocked sgemm and appends its quantized entry to that list's
 *		pages (msivfassign.c).  The same pass measures, for held-out sample
 *		rows used as queries, where their true ten nearest neighbours live,
 *		which gives the recall each probe count reaches (the calibration
 *		stored in the metapage).  This file holds the steps in order and
 *		the pages of the structure: their layout, and the centroids,
 *		directory and metapage written once the lists are filled.
 *
 * Pages are written through shared buffers without WAL and logged as full
 * images at the end (log_newpage_range), as GiST does for sorted builds.
 */
#include "postgres.h"

#include <math.h>

#include "access/xloginsert.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "msivfbuild.h"

/*
 * The first row's dimensions fix the index's when its column has no
 * typmod; a row of other dimensions than the index's is an error.
 */
void
msivf_build_check_row_dims(MsivfBuildState *bs, const Vec *v)
{
	if (bs->dims == 0)
	{
		msivf_check_dims(v->dim);
		bs->dims = v->dim;
	}
	else if (v->dim != bs->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", bs->dims, v->dim),
				 errdetail("The msivf index \"%s\" holds vecs of %d dimensions.",
						   RelationGetRelationName(bs->index), bs->dims)));
}

/*
 * A fresh build state for index's fork, in the current memory context,
 * with the dimensions of the column's typmod when it has one.
 */
void
msivf_build_init_state(MsivfBuildState *bs, Relation index, ForkNumber fork)
{
	memset(bs, 0, sizeof(*bs));
	bs->index = index;
	bs->fork = fork;
	bs->metric = msivf_metric(index);
	bs->budget = (Size) maintenance_work_mem * 1024;
	bs->dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	if (bs->dims == -1)
		bs->dims = 0;
	else
		msivf_check_dims(bs->dims);
	bs->st.metric = bs->metric;
	bs->cxt = CurrentMemoryContext;
	pg_prng_seed(&bs->prng, 0x6d73697666ULL);
}

/* the lists reloption, 0 when unset */
static int
option_lists(Relation index)
{
	MsivfOptions *opts = (MsivfOptions *) index->rd_options;

	return opts ? opts->lists : 0;
}

/* Allocates a fresh page at the end of the fork (no WAL yet). */
static Buffer
build_new_page(MsivfBuildState *bs, uint8 page_type)
{
	Buffer		buf = ReadBufferExtended(bs->index, bs->fork, P_NEW, RBM_NORMAL, NULL);

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	msivf_init_page(BufferGetPage(buf), page_type);
	MarkBufferDirty(buf);
	return buf;
}

/* Reserves metapage, centroid and directory pages, and each list's first page. */
static void
layout_pages(MsivfBuildState *bs, BlockNumber *centroid_start, int *ncentroid_pages,
			 BlockNumber *dir_start, int *ndir_pages)
{
	int			fpp = MSIVF_PAGE_CAPACITY / sizeof(float);
	int			lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);
	Buffer		buf;

	buf = build_new_page(bs, MSIVF_PAGE_META);
	Assert(BufferGetBlockNumber(buf) == MSIVF_METAPAGE_BLKNO);
	UnlockReleaseBuffer(buf);

	*centroid_start = MSIVF_METAPAGE_BLKNO + 1;
	*ncentroid_pages = bs->st.centroids ?
		(int) (((Size) bs->nlists * bs->dims + fpp - 1) / fpp) : 0;
	for (int i = 0; i < *ncentroid_pages; i++)
		UnlockReleaseBuffer(build_new_page(bs, MSIVF_PAGE_CENTROID));

	*dir_start = *centroid_start + *ncentroid_pages;
	*ndir_pages = (bs->nlists + lpdp - 1) / lpdp;
	for (int i = 0; i < *ndir_pages; i++)
		UnlockReleaseBuffer(build_new_page(bs, MSIVF_PAGE_DIRECTORY));

	bs->st.directory_start = *dir_start;
	bs->st.lists_per_dir_page = lpdp;
	bs->heads = palloc(sizeof(BlockNumber) * bs->nlists);
	bs->tails = palloc(sizeof(pg_atomic_uint32) * bs->nlists);
	for (int i = 0; i < bs->nlists; i++)
	{
		buf = build_new_page(bs, MSIVF_PAGE_LIST);
		bs->heads[i] = BufferGetBlockNumber(buf);
		pg_atomic_init_u32(&bs->tails[i], bs->heads[i]);
		UnlockReleaseBuffer(buf);
	}
}

/* qsort comparator of ints, ascending */
static int
cmp_int(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

/*
 * The calibration the metapage keeps: calib_probes[r] is the fewest probes
 * that reached recall@10 >= r/100 over the queries, from the rank (by
 * centroid score for the query, among st's lists) of the list that holds
 * each of their true neighbours.  Returns the number of queries it was
 * measured on: 0, and no calibration, without neighbours or centroids.
 * The build's held-out queries and VACUUM's recalibration (msivfcalib.c)
 * both come here.
 */
int
msivf_calib_curve(const MsivfState *st, const float *queries, int nqueries,
				  const CalibNeighbour *neigh, const int *nneigh, uint16 *calib_probes)
{
	int			nlists = st->nlists;
	int		   *ranks;
	int			nranks = 0;
	int		   *list_rank;
	float	   *scores;
	int		   *order;

	memset(calib_probes, 0, sizeof(uint16) * MSIVF_CALIB_LEVELS);
	if (nqueries == 0 || st->centroids == NULL)
		return 0;

	list_rank = palloc(sizeof(int) * nlists);
	scores = palloc(sizeof(float) * nlists);
	order = palloc(sizeof(int) * nlists);
	ranks = palloc(sizeof(int) * nqueries * CALIB_K);
	for (int q = 0; q < nqueries; q++)
	{
		const float *qv = queries + (Size) q * st->dims;
		float		qn2 = 0;

		for (int i = 0; i < st->dims; i++)
			qn2 += qv[i] * qv[i];
		for (int j = 0; j < nlists; j++)
		{
			scores[j] = msivf_centroid_score(st, qv, qn2, j);
			order[j] = j;
		}
		qsort_arg(order, nlists, sizeof(int), msivf_cmp_list_score, scores);
		for (int j = 0; j < nlists; j++)
			list_rank[order[j]] = j;
		for (int i = 0; i < nneigh[q]; i++)
			ranks[nranks++] = list_rank[neigh[(Size) q * CALIB_K + i].list];
	}
	pfree(list_rank);
	pfree(scores);
	pfree(order);
	if (nranks == 0)
	{
		pfree(ranks);
		return 0;
	}
	qsort(ranks, nranks, sizeof(int), cmp_int);
	for (int level = 0; level < MSIVF_CALIB_LEVELS; level++)
	{
		int			need = (int) ceil(level / 100.0 * nranks - 1e-9);
		int			p = need <= 0 ? 1 : ranks[need - 1] + 1;

		calib_probes[level] = (uint16) Min(p, nlists);
	}
	pfree(ranks);
	return nqueries;
}

/* the build's calibration: its held-out queries */
static void
finish_calibration(MsivfBuildState *bs, uint16 *calib_probes, int32 *calib_queries)
{
	MsivfState	st = bs->st;

	st.nlists = bs->nlists;
	*calib_queries = msivf_calib_curve(&st, bs->queries, bs->nqueries, bs->neigh,
									   bs->nneigh, calib_probes);
}

/*
 * Writes what pass 2 leaves to fill into the reserved pages: the centroids,
 * each list's head, insert hint and tail in the directory, and last the
 * metapage, with a new build_id (which invalidates every cached state).
 */
static void
write_structure(MsivfBuildState *bs, BlockNumber centroid_start, int ncentroid_pages,
				BlockNumber dir_start, int ndir_pages)
{
	Buffer		buf;
	Page		page;
	MsivfMetaPage meta;
	int			fpp = MSIVF_PAGE_CAPACITY / sizeof(float);
	int			lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);

	for (int i = 0; i < ncentroid_pages; i++)
	{
		Size		total = (Size) bs->nlists * bs->dims;
		Size		start = (Size) i * fpp;
		Size		n = Min((Size) fpp, total - start);

		buf = ReadBufferExtended(bs->index, bs->fork, centroid_start + i, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		memcpy(PageGetContents(page), bs->st.centroids + start, n * sizeof(float));
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + n * sizeof(float);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	for (int i = 0; i < ndir_pages; i++)
	{
		int			first = i * lpdp;
		int			n = Min(lpdp, bs->nlists - first);
		MsivfListInfo *info;

		buf = ReadBufferExtended(bs->index, bs->fork, dir_start + i, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		info = msivf_dir_entries(page);
		for (int j = 0; j < n; j++)
		{
			info[j].head = bs->heads[first + j];
			info[j].insert = pg_atomic_read_u32(&bs->tails[first + j]);
			info[j].tail = info[j].insert;
		}
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + n * sizeof(MsivfListInfo);
		MsivfPageGetOpaque(page)->nentries = n;
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	buf = ReadBufferExtended(bs->index, bs->fork, MSIVF_METAPAGE_BLKNO, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	meta = MsivfPageGetMeta(page);
	memset(meta, 0, sizeof(MsivfMetaPageData));
	meta->magic = MSIVF_MAGIC;
	meta->version = MSIVF_VERSION;
	meta->dims = bs->dims;
	meta->nlists = bs->nlists;
	meta->metric = bs->metric;
	meta->code_bits = bs->dims > 0 ? msivf_index_code_bits(bs->index, bs->dims) : 0;
	meta->flags = bs->st.centroids ? 0 : MSIVF_FLAG_ZERO_CENTROID;
	meta->build_id = pg_prng_uint64(&pg_global_prng_state);
	meta->centroid_start = centroid_start;
	meta->directory_start = dir_start;
	meta->lists_per_dir_page = lpdp;
	meta->built_tuples = bs->index_tuples;
	finish_calibration(bs, meta->calib_probes, &meta->calib_queries);
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(MsivfMetaPageData);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/*
 * ambuild: samples, trains, assigns, then writes the structure and logs
 * every page of the index as a full image.
 */
IndexBuildResult *
msivf_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	MsivfBuildState bs;
	MemoryContext cxt,
				old;
	BlockNumber centroid_start,
				dir_start;
	int			ncentroid_pages,
				ndir_pages;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	if (msivf_index_is_bits(index))
		return msivf_bits_build(heap, index, indexInfo);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf build", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	msivf_build_init_state(&bs, index, MAIN_FORKNUM);

	msivf_build_sample(&bs, heap, index, indexInfo);
	msivf_build_train(&bs, option_lists(index));
	layout_pages(&bs, &centroid_start, &ncentroid_pages, &dir_start, &ndir_pages);
	msivf_build_assign(&bs, heap, index, indexInfo);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_WRITE);
	write_structure(&bs, centroid_start, ncentroid_pages, dir_start, ndir_pages);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	result = palloc(sizeof(IndexBuildResult));
	MemoryContextSwitchTo(old);
	result->heap_tuples = bs.heap_tuples;
	result->index_tuples = bs.index_tuples;
	MemoryContextDelete(cxt);
	return result;
}

/* The init fork of an unlogged index: empty, one list, centroid at the origin. */
void
msivf_buildempty(Relation index)
{
	MsivfBuildState bs;
	BlockNumber centroid_start,
				dir_start;
	int			ncentroid_pages,
				ndir_pages;

	if (msivf_index_is_bits(index))
	{
		msivf_bits_buildempty(index);
		return;
	}
	msivf_build_init_state(&bs, index, INIT_FORKNUM);
	bs.nlists = 1;
	bs.st.nlists = 1;
	layout_pages(&bs, &centroid_start, &ncentroid_pages, &dir_start, &ndir_pages);
	write_structure(&bs, centroid_start, ncentroid_pages, dir_start, ndir_pages);
	log_newpage_range(index, INIT_FORKNUM, 0,
					  RelationGetNumberOfBlocksInFork(index, INIT_FORKNUM), true);
}
