/*
 * msivfbuild.c
 *		CREATE INDEX for msivf: one pass over the table draws a reservoir
 *		sample into maintenance_work_mem, k-means trains the centroids on it,
 *		a second pass assigns every row to its nearest list with blocked
 *		sgemm and appends its quantized entry to that list's pages.  The same
 *		pass measures, for held-out sample rows used as queries, where their
 *		true ten nearest neighbours live, which gives the recall each probe
 *		count reaches (the calibration stored in the metapage).
 *
 * Pages are written through shared buffers without WAL and logged as full
 * images at the end (log_newpage_range), as GiST does for sorted builds.
 */
#include "postgres.h"

#include <math.h>

#include <cblas.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/table.h"
#include "access/xloginsert.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/rel.h"

#include "kmeans.h"
#include "msivf.h"
#include "quantizer.h"

#define KMEANS_ITERS	10
#define TRAIN_PER_LIST	64		/* training rows per list, at most */
#define TRAIN_MIN		4096
#define SAMPLE_MAX		200000
#define CALIB_K			10
#define BLOCK_ROWS		4096

typedef struct CalibNeighbour
{
	float		dist;
	int32		list;
} CalibNeighbour;

typedef struct MsivfBuildState
{
	Relation	index;
	ForkNumber	fork;
	int			metric;
	int			dims;
	Size		budget;			/* bytes of maintenance_work_mem */
	MemoryContext cxt;			/* holds everything below */

	/* pass 1: reservoir sample of prepared vectors */
	int64		seen;			/* indexable rows seen */
	int			sample_cap;
	int			nsample;
	float	   *sample;
	ItemPointerData *sample_tids;
	pg_prng_state prng;

	/* the trained structure */
	MsivfState	st;
	int			nlists;

	/* pass 2 */
	int			block_cap;
	int			nblock;
	float	   *block;
	ItemPointerData *block_tids;
	int32	   *block_assign;
	float	   *block_norms;
	float	   *work;
	size_t		work_floats;
	MsivfEntry *entry;
	float	   *entry_work;
	pg_atomic_uint32 *tails;	/* last page of each list (shared when parallel) */
	BlockNumber *heads;
	int64		heap_tuples;
	int64		index_tuples;

	/* calibration */
	int			nqueries;
	float	   *queries;
	ItemPointerData *query_tids;
	CalibNeighbour *neigh;		/* nqueries * CALIB_K, a max-heap each */
	int		   *nneigh;
	float	   *calib_block;	/* nqueries * block_cap */

	bool		is_worker;		/* a parallel worker: no progress reports */
} MsivfBuildState;

/* what the leader shares with the workers of a parallel assignment */
#define PARALLEL_KEY_SHARED		UINT64CONST(0x4D53495646000001)
#define PARALLEL_KEY_SCAN		UINT64CONST(0x4D53495646000002)
/* below this many sampled rows the workers cost more than they save */
#define PARALLEL_MIN_ROWS		10000

typedef struct MsivfShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			dims;
	int			nlists;
	int			nqueries;
	int			nparticipants;
	BlockNumber directory_start;
	int			lists_per_dir_page;
	slock_t		mutex;
	int64		heap_tuples;	/* summed over the workers */
	int64		index_tuples;
	/* then the arrays laid out by shared_layout() */
} MsivfShared;

typedef struct MsivfSharedArrays
{
	float	   *centroids;
	float	   *centroid_norms;
	float	   *queries;
	ItemPointerData *query_tids;
	pg_atomic_uint32 *tails;
	CalibNeighbour *neigh;		/* per participant: nqueries * CALIB_K */
	int		   *nneigh;			/* per participant: nqueries */
} MsivfSharedArrays;

static bool
vec_is_nonzero(const Vec *v)
{
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] != 0)
			return true;
	return false;
}

static int
cmp_int(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

static void
build_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

static void
check_row_dims(MsivfBuildState *bs, const Vec *v)
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
	check_row_dims(bs, v);

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

static int
default_lists(int64 rows)
{
	double		l = sqrt((double) rows);

	return (int) Max(1, Min(MSIVF_MAX_LISTS, l));
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

/*
 * Appends an entry to its list's last page, chaining a new page when it is
 * full.  Safe with several build processes: the last page's buffer lock
 * serialises appends to a list, and a process that read a stale tail
 * follows the chain.
 */
static void
build_append(MsivfBuildState *bs, int list, const MsivfEntry *entry)
{
	BlockNumber blkno = pg_atomic_read_u32(&bs->tails[list]);
	BlockNumber nblocks = 0;

	for (;;)
	{
		Buffer		buf = ReadBufferExtended(bs->index, bs->fork, blkno, RBM_NORMAL, NULL);
		Page		page;
		MsivfPageOpaque opaque;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		msivf_check_list_page(bs->index, &bs->st, page, blkno, &nblocks);
		opaque = MsivfPageGetOpaque(page);
		if (opaque->next != InvalidBlockNumber)
		{
			blkno = opaque->next;
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (opaque->nentries >= bs->st.entries_per_page)
		{
			Buffer		nbuf = msivf_new_buffer(bs->index, bs->fork);

			msivf_init_page(BufferGetPage(nbuf), MSIVF_PAGE_LIST);
			opaque->next = BufferGetBlockNumber(nbuf);
			pg_atomic_write_u32(&bs->tails[list], opaque->next);
			MarkBufferDirty(buf);
			UnlockReleaseBuffer(buf);
			buf = nbuf;
			page = BufferGetPage(buf);
			opaque = MsivfPageGetOpaque(page);
		}
		memcpy(PageGetContents(page) + (Size) opaque->nentries * bs->st.entry_size,
			   entry, bs->st.entry_size);
		opaque->nentries++;
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) +
			opaque->nentries * bs->st.entry_size;
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		return;
	}
}

/* keeps the CALIB_K nearest (a max-heap on dist) */
static void
calib_offer(CalibNeighbour *h, int *n, float dist, int32 list)
{
	int			i;

	if (*n < CALIB_K)
	{
		i = (*n)++;
		while (i > 0 && h[(i - 1) / 2].dist < dist)
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i].dist = dist;
		h[i].list = list;
		return;
	}
	if (dist >= h[0].dist)
		return;
	i = 0;
	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= CALIB_K)
			break;
		if (c + 1 < CALIB_K && h[c + 1].dist > h[c].dist)
			c++;
		if (h[c].dist <= dist)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i].dist = dist;
	h[i].list = list;
}

static void
flush_block(MsivfBuildState *bs)
{
	int			n = bs->nblock;
	int			d = bs->dims;

	if (n == 0)
		return;

	if (bs->st.centroids)
		kmeans_assign(bs->block, n, d, bs->st.centroids, bs->st.centroid_norms,
					  bs->nlists, bs->metric == MSIVF_METRIC_L2 ? KMEANS_L2 : KMEANS_IP,
					  bs->block_assign, NULL, bs->work, bs->work_floats);
	else
		memset(bs->block_assign, 0, sizeof(int32) * n);

	/* calibration: the true neighbours of every held-out query */
	if (bs->nqueries > 0)
	{
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
					bs->nqueries, n, d, 1.0f, bs->queries, d, bs->block, d,
					0.0f, bs->calib_block, n);
		if (bs->metric == MSIVF_METRIC_L2)
			kmeans_row_norms(bs->block, n, d, bs->block_norms);
		for (int q = 0; q < bs->nqueries; q++)
		{
			const float *g = bs->calib_block + (Size) q * n;
			CalibNeighbour *h = bs->neigh + (Size) q * CALIB_K;

			for (int i = 0; i < n; i++)
			{
				float		dist = bs->metric == MSIVF_METRIC_L2 ?
					bs->block_norms[i] - 2 * g[i] : -g[i];

				if (ItemPointerEquals(&bs->query_tids[q], &bs->block_tids[i]))
					continue;	/* a query is not its own neighbour */
				calib_offer(h, &bs->nneigh[q], dist, bs->block_assign[i]);
			}
		}
	}

	for (int i = 0; i < n; i++)
	{
		msivf_encode_entry(&bs->st, bs->block + (Size) i * d, bs->block_assign[i],
						   &bs->block_tids[i], bs->entry, bs->entry_work);
		build_append(bs, bs->block_assign[i], bs->entry);
	}
	bs->index_tuples += n;
	bs->nblock = 0;
	if (!bs->is_worker)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->index_tuples);
	CHECK_FOR_INTERRUPTS();
}

static void setup_lists(MsivfBuildState *bs);

static void
assign_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool tupleIsAlive, void *state)
{
	MsivfBuildState *bs = (MsivfBuildState *) state;
	Vec		   *v;

	bs->heap_tuples++;
	if (isnull[0])
		return;
	v = msivf_datum_vec(values[0]);
	check_row_dims(bs, v);
	if (bs->block == NULL)
		setup_lists(bs);		/* dims first known in this pass */
	if (msivf_prepare_vector(bs->metric, v->x, bs->dims,
							 bs->block + (Size) bs->nblock * bs->dims))
	{
		bs->block_tids[bs->nblock] = *tid;
		if (++bs->nblock == bs->block_cap)
			flush_block(bs);
	}
	if ((Pointer) v != DatumGetPointer(values[0]))
		pfree(v);
}

/*
 * Once dims and centroids are known: per-pass buffers and the first page of
 * every list (placed after the metapage, centroid and directory pages, which
 * are reserved first so that they are consecutive).
 */
static void
setup_lists(MsivfBuildState *bs)
{
	int			d = bs->dims;
	Size		rowbytes = sizeof(float) * d;
	MemoryContext old = MemoryContextSwitchTo(bs->cxt);

	bs->st.dims = d;
	bs->st.code_bits = msivf_code_bits(d);
	bs->st.entry_size = msivf_entry_size(d, bs->st.code_bits);
	bs->st.entries_per_page = MSIVF_PAGE_CAPACITY / bs->st.entry_size;
	Assert(bs->st.entries_per_page >= 1);
	bs->st.first_list_block = bs->st.directory_start +
		(bs->nlists + bs->st.lists_per_dir_page - 1) / bs->st.lists_per_dir_page;

	bs->block_cap = (int) Max(16, Min((Size) BLOCK_ROWS, bs->budget / 8 / rowbytes));
	bs->block = MemoryContextAllocHuge(CurrentMemoryContext, rowbytes * bs->block_cap);
	bs->block_tids = palloc(sizeof(ItemPointerData) * bs->block_cap);
	bs->block_assign = palloc(sizeof(int32) * bs->block_cap);
	bs->block_norms = palloc(sizeof(float) * bs->block_cap);
	bs->work_floats = Max((size_t) bs->nlists, (size_t) 1 << 18);
	bs->work = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * bs->work_floats);
	bs->entry = palloc0(bs->st.entry_size);
	bs->entry_work = palloc(rowbytes);
	if (bs->nqueries > 0)
		bs->calib_block = MemoryContextAllocHuge(CurrentMemoryContext,
												 sizeof(float) * (Size) bs->nqueries * bs->block_cap);
	MemoryContextSwitchTo(old);
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

/* recall@10 per probe count, from the lists that hold each query's neighbours */
static void
finish_calibration(MsivfBuildState *bs, uint16 *calib_probes, int32 *calib_queries)
{
	int		   *ranks;
	int			nranks = 0;
	int		   *list_rank = palloc(sizeof(int) * bs->nlists);
	float	   *scores = palloc(sizeof(float) * bs->nlists);
	int		   *order = palloc(sizeof(int) * bs->nlists);

	*calib_queries = 0;
	memset(calib_probes, 0, sizeof(uint16) * MSIVF_CALIB_LEVELS);
	if (bs->nqueries == 0 || bs->st.centroids == NULL)
		return;

	ranks = palloc(sizeof(int) * bs->nqueries * CALIB_K);
	for (int q = 0; q < bs->nqueries; q++)
	{
		const float *qv = bs->queries + (Size) q * bs->dims;
		float		qn2 = 0;

		for (int i = 0; i < bs->dims; i++)
			qn2 += qv[i] * qv[i];
		for (int j = 0; j < bs->nlists; j++)
		{
			scores[j] = msivf_centroid_score(&bs->st, qv, qn2, j);
			order[j] = j;
		}
		qsort_arg(order, bs->nlists, sizeof(int), msivf_cmp_list_score, scores);
		for (int j = 0; j < bs->nlists; j++)
			list_rank[order[j]] = j;
		for (int i = 0; i < bs->nneigh[q]; i++)
			ranks[nranks++] = list_rank[bs->neigh[(Size) q * CALIB_K + i].list];
	}
	if (nranks == 0)
		return;
	qsort(ranks, nranks, sizeof(int), cmp_int);
	for (int level = 0; level < MSIVF_CALIB_LEVELS; level++)
	{
		int			need = (int) ceil(level / 100.0 * nranks - 1e-9);
		int			p = need <= 0 ? 1 : ranks[need - 1] + 1;

		calib_probes[level] = (uint16) Min(p, bs->nlists);
	}
	*calib_queries = bs->nqueries;
}

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
	meta->code_bits = bs->dims > 0 ? msivf_code_bits(bs->dims) : 0;
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

static void
init_build_state(MsivfBuildState *bs, Relation index, ForkNumber fork)
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

static int
option_lists(Relation index)
{
	MsivfOptions *opts = (MsivfOptions *) index->rd_options;

	return opts ? opts->lists : 0;
}

/* ---- parallel assignment ------------------------------------------- */

static Size
shared_layout(MsivfShared *sh, int dims, int nlists, int nqueries, int nparticipants,
			  MsivfSharedArrays *arr)
{
	Size		off = MAXALIGN(sizeof(MsivfShared));
	char	   *base = (char *) sh;

#define PLACE(field, bytes) \
	do { if (arr) arr->field = (void *) (base + off); off += MAXALIGN(bytes); } while (0)
	PLACE(centroids, sizeof(float) * (Size) nlists * dims);
	PLACE(centroid_norms, sizeof(float) * nlists);
	PLACE(queries, sizeof(float) * (Size) nqueries * dims);
	PLACE(query_tids, sizeof(ItemPointerData) * Max(nqueries, 1));
	PLACE(tails, sizeof(pg_atomic_uint32) * nlists);
	PLACE(neigh, sizeof(CalibNeighbour) * (Size) nparticipants * Max(nqueries, 1) * CALIB_K);
	PLACE(nneigh, sizeof(int) * (Size) nparticipants * Max(nqueries, 1));
#undef PLACE
	return off;
}

/* Points a build state at the shared structure, as participant p. */
static void
attach_shared(MsivfBuildState *bs, MsivfShared *sh, MsivfSharedArrays *arr, int p)
{
	bs->dims = sh->dims;
	bs->nlists = sh->nlists;
	bs->st.nlists = sh->nlists;
	bs->st.centroids = arr->centroids;
	bs->st.centroid_norms = arr->centroid_norms;
	bs->st.directory_start = sh->directory_start;
	bs->st.lists_per_dir_page = sh->lists_per_dir_page;
	bs->nqueries = sh->nqueries;
	bs->queries = arr->queries;
	bs->query_tids = arr->query_tids;
	bs->tails = arr->tails;
	if (sh->nqueries > 0)
	{
		bs->neigh = arr->neigh + (Size) p * sh->nqueries * CALIB_K;
		bs->nneigh = arr->nneigh + (Size) p * sh->nqueries;
	}
}

PGDLLEXPORT void msivf_parallel_build_main(dsm_segment *seg, shm_toc *toc);

/* Entry point of a parallel worker: assign its share of the table. */
void
msivf_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	MsivfShared *sh = shm_toc_lookup(toc, PARALLEL_KEY_SHARED, false);
	ParallelTableScanDesc pscan = shm_toc_lookup(toc, PARALLEL_KEY_SCAN, false);
	MsivfSharedArrays arr;
	MsivfBuildState bs;
	LOCKMODE	heap_lock = sh->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	Relation	heap;
	Relation	index;
	IndexInfo  *indexInfo;
	TableScanDesc scan;

	heap = table_open(sh->heaprelid, heap_lock);
	index = index_open(sh->indexrelid, RowExclusiveLock);
	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = sh->isconcurrent;

	shared_layout(sh, sh->dims, sh->nlists, sh->nqueries, sh->nparticipants, &arr);
	init_build_state(&bs, index, MAIN_FORKNUM);
	bs.is_worker = true;
	attach_shared(&bs, sh, &arr, ParallelWorkerNumber + 1);
	setup_lists(&bs);

	scan = table_beginscan_parallel(heap, pscan);
	table_index_build_scan(heap, index, indexInfo, true, false, assign_callback, &bs, scan);
	flush_block(&bs);

	SpinLockAcquire(&sh->mutex);
	sh->heap_tuples += bs.heap_tuples;
	sh->index_tuples += bs.index_tuples;
	SpinLockRelease(&sh->mutex);

	index_close(index, RowExclusiveLock);
	table_close(heap, heap_lock);
}

/*
 * Pass 2 with parallel workers: each participant (the leader too) scans a
 * share of the table, assigns and encodes its rows and appends them to the
 * lists; the leader then merges the calibration neighbours.  False when no
 * worker could be set up (the caller runs the pass alone).
 */
static bool
parallel_assign(MsivfBuildState *bs, Relation heap, Relation index,
				IndexInfo *indexInfo, int nworkers)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		shared_size;
	Size		scan_size;
	MsivfShared *sh;
	MsivfSharedArrays arr;
	ParallelTableScanDesc pscan;
	TableScanDesc scan;
	int			nparticipants = nworkers + 1;
	pg_atomic_uint32 *local_tails = bs->tails;
	CalibNeighbour *local_neigh = bs->neigh;
	int		   *local_nneigh = bs->nneigh;

	EnterParallelMode();
	pcxt = CreateParallelContext("machinesoup", "msivf_parallel_build_main", nworkers);

	snapshot = indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;
	shared_size = shared_layout(NULL, bs->dims, bs->nlists, bs->nqueries, nparticipants, NULL);
	scan_size = table_parallelscan_estimate(heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, shared_size);
	shm_toc_estimate_chunk(&pcxt->estimator, scan_size);
	shm_toc_estimate_keys(&pcxt->estimator, 2);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	sh = shm_toc_allocate(pcxt->toc, shared_size);
	memset(sh, 0, sizeof(MsivfShared));
	sh->heaprelid = RelationGetRelid(heap);
	sh->indexrelid = RelationGetRelid(index);
	sh->isconcurrent = indexInfo->ii_Concurrent;
	sh->dims = bs->dims;
	sh->nlists = bs->nlists;
	sh->nqueries = bs->nqueries;
	sh->nparticipants = nparticipants;
	sh->directory_start = bs->st.directory_start;
	sh->lists_per_dir_page = bs->st.lists_per_dir_page;
	SpinLockInit(&sh->mutex);
	shared_layout(sh, bs->dims, bs->nlists, bs->nqueries, nparticipants, &arr);
	memcpy(arr.centroids, bs->st.centroids, sizeof(float) * (Size) bs->nlists * bs->dims);
	memcpy(arr.centroid_norms, bs->st.centroid_norms, sizeof(float) * bs->nlists);
	if (bs->nqueries > 0)
	{
		memcpy(arr.queries, bs->queries, sizeof(float) * (Size) bs->nqueries * bs->dims);
		memcpy(arr.query_tids, bs->query_tids, sizeof(ItemPointerData) * bs->nqueries);
		memset(arr.nneigh, 0, sizeof(int) * (Size) nparticipants * bs->nqueries);
	}
	for (int i = 0; i < bs->nlists; i++)
		pg_atomic_init_u32(&arr.tails[i], pg_atomic_read_u32(&local_tails[i]));
	pscan = shm_toc_allocate(pcxt->toc, scan_size);
	table_parallelscan_initialize(heap, pscan, snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_SHARED, sh);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_SCAN, pscan);

	LaunchParallelWorkers(pcxt);
	ereport(DEBUG1,
			(errmsg_internal("msivf build of \"%s\": assignment with %d parallel workers",
							 RelationGetRelationName(index), pcxt->nworkers_launched)));

	/* the leader is participant 0 */
	attach_shared(bs, sh, &arr, 0);
	scan = table_beginscan_parallel(heap, pscan);
	table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, bs, scan);
	flush_block(bs);
	WaitForParallelWorkersToFinish(pcxt);

	/* gather: counts, list tails, calibration neighbours */
	bs->heap_tuples += sh->heap_tuples;
	bs->index_tuples += sh->index_tuples;
	for (int i = 0; i < bs->nlists; i++)
		pg_atomic_write_u32(&local_tails[i], pg_atomic_read_u32(&arr.tails[i]));
	bs->tails = local_tails;
	if (bs->nqueries > 0)
	{
		memcpy(local_nneigh, arr.nneigh, sizeof(int) * bs->nqueries);
		memcpy(local_neigh, arr.neigh, sizeof(CalibNeighbour) * bs->nqueries * CALIB_K);
		for (int p = 1; p < nparticipants; p++)
		{
			for (int q = 0; q < bs->nqueries; q++)
			{
				CalibNeighbour *src = arr.neigh + ((Size) p * bs->nqueries + q) * CALIB_K;
				int			n = arr.nneigh[(Size) p * bs->nqueries + q];

				for (int i = 0; i < n; i++)
					calib_offer(local_neigh + (Size) q * CALIB_K, &local_nneigh[q],
								src[i].dist, src[i].list);
			}
		}
		bs->neigh = local_neigh;
		bs->nneigh = local_nneigh;
		bs->queries = MemoryContextAlloc(bs->cxt, sizeof(float) * (Size) bs->nqueries * bs->dims);
		memcpy(bs->queries, arr.queries, sizeof(float) * (Size) bs->nqueries * bs->dims);
	}
	/* centroids back to local memory before the segment goes */
	bs->st.centroids = MemoryContextAllocHuge(bs->cxt, sizeof(float) * (Size) bs->nlists * bs->dims);
	memcpy(bs->st.centroids, arr.centroids, sizeof(float) * (Size) bs->nlists * bs->dims);
	bs->st.centroid_norms = MemoryContextAlloc(bs->cxt, sizeof(float) * bs->nlists);
	memcpy(bs->st.centroid_norms, arr.centroid_norms, sizeof(float) * bs->nlists);

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return true;
}

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
	int			requested;
	int			nworkers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf build", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	init_build_state(&bs, index, MAIN_FORKNUM);
	requested = option_lists(index);

	/* pass 1: sample */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_SAMPLE);
	table_index_build_scan(heap, index, indexInfo, true, true, sample_callback, &bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs.seen);

	/* how many lists, and can we train them in maintenance_work_mem? */
	if (bs.nsample == 0)
		bs.nlists = 1;
	else
	{
		int			k = requested > 0 ? requested : default_lists(bs.seen);
		int			ntrain;
		Size		fixed;

		k = (int) Min((int64) k, bs.seen);
		k = Min(k, bs.nsample);
		ntrain = Min(bs.nsample, Max(k * TRAIN_PER_LIST, TRAIN_MIN));
		for (;;)
		{
			fixed = sizeof(float) * ((Size) ntrain * bs.dims + (Size) k * bs.dims +
									 kmeans_train_work_floats(ntrain, bs.dims, k)) +
				sizeof(int32) * ntrain;
			if (fixed + sizeof(float) * (Size) bs.sample_cap * bs.dims <= bs.budget || ntrain <= k)
				break;
			ntrain = Max(k, ntrain / 2);
		}
		if (fixed + sizeof(float) * (Size) bs.sample_cap * bs.dims > bs.budget ||
			(requested > 0 && bs.seen >= requested && bs.nsample < requested))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("maintenance_work_mem is too small to train an msivf index of %d lists on vecs of %d dimensions",
							Max(k, requested), bs.dims),
					 errhint("Raise maintenance_work_mem to at least %zu MB, or lower the lists option.",
							 (fixed + sizeof(float) * (Size) Max(k, requested) * bs.dims) * 2 / (1024 * 1024) + 1)));
		bs.nlists = k;

		/*
		 * Hold-out queries for calibration: random rows of the sample, moved
		 * to its end.  (A reservoir that never filled is in table order, so
		 * its last rows alone would be a biased choice.)
		 */
		bs.nqueries = Min(MSIVF_CALIB_QUERIES, bs.nsample / 2);
		if (bs.nqueries >= 5 && k > 1)
		{
			float	   *tmp = palloc(sizeof(float) * bs.dims);

			for (int i = 0; i < bs.nqueries; i++)
			{
				int			last = bs.nsample - 1 - i;
				int			j = (int) pg_prng_uint64_range(&bs.prng, 0, last);
				ItemPointerData t;

				memcpy(tmp, bs.sample + (Size) j * bs.dims, sizeof(float) * bs.dims);
				memcpy(bs.sample + (Size) j * bs.dims, bs.sample + (Size) last * bs.dims,
					   sizeof(float) * bs.dims);
				memcpy(bs.sample + (Size) last * bs.dims, tmp, sizeof(float) * bs.dims);
				t = bs.sample_tids[j];
				bs.sample_tids[j] = bs.sample_tids[last];
				bs.sample_tids[last] = t;
			}
			pfree(tmp);
			bs.queries = bs.sample + (Size) (bs.nsample - bs.nqueries) * bs.dims;
			bs.query_tids = bs.sample_tids + (bs.nsample - bs.nqueries);
			bs.neigh = palloc(sizeof(CalibNeighbour) * bs.nqueries * CALIB_K);
			bs.nneigh = palloc0(sizeof(int) * bs.nqueries);
		}
		else
			bs.nqueries = 0;

		if (k > 1)
		{
			float	   *work;
			int32	   *assign;

			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_TRAIN);
			bs.st.centroids = MemoryContextAllocHuge(cxt, sizeof(float) * (Size) k * bs.dims);
			bs.st.centroid_norms = palloc(sizeof(float) * k);
			work = MemoryContextAllocHuge(cxt, sizeof(float) * kmeans_train_work_floats(ntrain, bs.dims, k));
			assign = MemoryContextAllocHuge(cxt, sizeof(int32) * ntrain);
			kmeans_train(bs.sample, ntrain, bs.dims, k, KMEANS_ITERS, 0x5eed,
						 bs.metric == MSIVF_METRIC_COSINE, bs.st.centroids,
						 work, assign, build_tick, NULL);
			kmeans_row_norms(bs.st.centroids, k, bs.dims, bs.st.centroid_norms);
			pfree(work);
			pfree(assign);
		}
	}
	bs.st.nlists = bs.nlists;

	layout_pages(&bs, &centroid_start, &ncentroid_pages, &dir_start, &ndir_pages);
	if (bs.dims > 0)
		setup_lists(&bs);

	/* pass 2: assign and write every row, with parallel workers if allowed */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_ASSIGN);
	nworkers = 0;
	if (bs.dims > 0 && bs.st.centroids != NULL && bs.seen >= PARALLEL_MIN_ROWS &&
		max_parallel_maintenance_workers > 0 && !IsInParallelMode())
		nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	if (nworkers == 0 || !parallel_assign(&bs, heap, index, indexInfo, nworkers))
	{
		table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, &bs, NULL);
		flush_block(&bs);
	}

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

	init_build_state(&bs, index, INIT_FORKNUM);
	bs.nlists = 1;
	bs.st.nlists = 1;
	layout_pages(&bs, &centroid_start, &ncentroid_pages, &dir_start, &ndir_pages);
	write_structure(&bs, centroid_start, ncentroid_pages, dir_start, ndir_pages);
	log_newpage_range(index, INIT_FORKNUM, 0,
					  RelationGetNumberOfBlocksInFork(index, INIT_FORKNUM), true);
}
