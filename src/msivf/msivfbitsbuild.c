/*
 * msivfbitsbuild.c
 *		msivf over bvec (bvec_hamming_ops, bvec_jaccard_ops): the support
 *		functions, CREATE INDEX, the init fork of an unlogged index, and
 *		inserts.
 *
 * The same pages as for vec (msivf.h, README.md), with what they hold
 * changed: the metapage's dims counts bits and code_bits is 1; the
 * centroid pages hold nlists packed binary centroids as one stream of
 * bytes; an entry is the heap TID, two bytes of padding and the row's bits
 * themselves, so the distance a scan computes from an entry is the exact
 * one (msivfbitsscan.c) and nothing is reranked.  Centroids are trained by
 * k-medians on a sample (core/bitkmeans.c); every row goes to the list of
 * its nearest centroid by the opclass's own distance.  Directory pages,
 * list chains, WAL, locks and VACUUM are vec's, unchanged.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "bitkmeans.h"
#include "bvec.h"
#include "kmeans.h"
#include "msivf.h"
#include "vec_kernels.h"

PG_FUNCTION_INFO_V1(msivf_hamming_metric);
PG_FUNCTION_INFO_V1(msivf_jaccard_metric);

/* the sample k-medians trains on: rows per list, and at most this many rows */
#define BITS_TRAIN_PER_LIST	64
#define BITS_TRAIN_MIN		4096
#define BITS_SAMPLE_MAX		200000
#define BITS_TRAIN_ITERS	10
/* Lloyd iterations of the float k-means of sign vectors (Hamming) */
#define SIGNS_TRAIN_ITERS	10

/* support function 1 of bvec_hamming_ops */
Datum
msivf_hamming_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_HAMMING);
}

/* support function 1 of bvec_jaccard_ops */
Datum
msivf_jaccard_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_JACCARD);
}

/* Is index one of the bvec opclasses'?  Its support function says. */
bool
msivf_index_is_bits(Relation index)
{
	return MSIVF_METRIC_IS_BITS(msivf_metric(index));
}

static BitkmMetric
km_metric(int metric)
{
	return metric == MSIVF_METRIC_HAMMING ? BITKM_HAMMING : BITKM_JACCARD;
}

/* A bvec of other length than the index's is an error, as for vec. */
static void
check_nbits(Relation index, int index_bits, int nbits)
{
	if (nbits != index_bits)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bvec lengths %d and %d", index_bits, nbits),
				 errdetail("The msivf index \"%s\" holds bvecs of %d bits.",
						   RelationGetRelationName(index), index_bits)));
}

/*
 * The list of the nearest centroid to bits (list 0 without centroids):
 * the float centroid with the largest inner product with the bits' sign
 * vector (Hamming; signs holds st->dims floats of scratch), or the binary
 * centroid nearest by the opclass's distance.
 */
static int
nearest_list(const MsivfState *st, const uint8 *bits, float *signs)
{
	if (st->nlists == 1)
		return 0;
	if (st->centroids != NULL)
	{
		bitkm_signs(bits, st->dims, signs);
		return bitkm_nearest_signs(signs, st->centroids, st->nlists, st->dims,
								   vec_kernels->inner_product);
	}
	if (st->bit_centroids == NULL)
		return 0;
	return bitkm_nearest(km_metric(st->metric), bits, st->bit_centroids, st->nlists,
						 BVEC_BYTES(st->dims), NULL);
}

/* An entry (st->entry_size bytes at entry) for bits at tid. */
static void
fill_entry(const MsivfState *st, char *entry, ItemPointer tid, const uint8 *bits)
{
	memset(entry, 0, st->entry_size);
	memcpy(entry, tid, sizeof(ItemPointerData));
	memcpy(entry + MSIVF_BITS_OFFSET, bits, BVEC_BYTES(st->dims));
}

/* ---- build ------------------------------------------------------------ */

typedef struct BitsBuildState
{
	Relation	index;
	ForkNumber	fork;
	int			metric;
	int			nbits;			/* 0 until the first row when the column has no typmod */
	Size		nbytes;
	Size		budget;

	/* pass 1: a reservoir sample of rows' bits */
	int64		seen;
	int			sample_cap;
	int			nsample;
	uint8	   *sample;
	pg_prng_state prng;

	/* the structure */
	int			nlists;
	uint8	   *centroids;		/* binary (Jaccard); NULL with one list */
	float	   *sign_centroids; /* float, unit length (Hamming); NULL with one list */
	float	   *signs;			/* a row's sign vector, nbits floats */
	MsivfState	st;				/* what nearest_list and fill_entry read */
	BlockNumber *heads;
	BlockNumber *tails;
	char	   *entry;

	int64		heap_tuples;
	int64		index_tuples;
} BitsBuildState;

/* the first row's length fixes an untyped index's; other lengths are errors */
static void
build_row_bits(BitsBuildState *bs, const Bvec *b)
{
	if (bs->nbits == 0)
	{
		bs->nbits = b->nbits;
		bs->nbytes = BVEC_BYTES(b->nbits);
	}
	else
		check_nbits(bs->index, bs->nbits, b->nbits);
}

/* pass 1's callback: the row joins the reservoir sample */
static void
sample_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool tupleIsAlive, void *state)
{
	BitsBuildState *bs = (BitsBuildState *) state;
	Bvec	   *b;
	int64		slot;

	bs->heap_tuples++;
	if (isnull[0])
		return;
	b = DatumGetBvec(values[0]);
	build_row_bits(bs, b);
	if (bs->sample == NULL)
	{
		/* half of maintenance_work_mem, as vec's sample takes */
		bs->sample_cap = (int) Min((Size) BITS_SAMPLE_MAX, Max((Size) 1, bs->budget / 2 / bs->nbytes));
		bs->sample = palloc_extended(bs->sample_cap * bs->nbytes, MCXT_ALLOC_HUGE);
	}
	bs->seen++;
	if (bs->nsample < bs->sample_cap)
		slot = bs->nsample++;
	else
	{
		slot = (int64) pg_prng_uint64_range(&bs->prng, 0, bs->seen - 1);
		if (slot >= bs->sample_cap)
			slot = -1;
	}
	if (slot >= 0)
		memcpy(bs->sample + slot * bs->nbytes, b->data, bs->nbytes);
	if ((Pointer) b != DatumGetPointer(values[0]))
		pfree(b);
}

static void
train_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * A reservoir that did not fill is in table order: its first n rows would
 * be a biased choice to train on, so random rows are shuffled in first.
 */
static void
shuffle_front(BitsBuildState *bs, int n)
{
	for (int i = 0; i < n && bs->nsample > n; i++)
	{
		int			j = (int) pg_prng_uint64_range(&bs->prng, i, bs->nsample - 1);
		uint8		tmp[64];

		for (Size off = 0; off < bs->nbytes; off += sizeof(tmp))
		{
			Size		len = Min(sizeof(tmp), bs->nbytes - off);
			uint8	   *a = bs->sample + (Size) i * bs->nbytes + off;
			uint8	   *b = bs->sample + (Size) j * bs->nbytes + off;

			memcpy(tmp, a, len);
			memcpy(a, b, len);
			memcpy(b, tmp, len);
		}
	}
}

/*
 * Hamming: spherical k-means (core/kmeans.c, with its rebalancing of
 * crowded lists) of the first n sample rows' sign vectors.  A float
 * centroid weighs each bit by how strongly its list leans, where a
 * majority-vote one counts a 51 % bit as much as a 100 % one, so the lists
 * a query's Hamming neighbours fall in rank higher.  The floats take 32
 * times the bits: n shrinks to what the other half of
 * maintenance_work_mem holds, never below one row per list.
 */
static void
train_signs(BitsBuildState *bs, int k, int n)
{
	Size		avail = bs->budget / 2;
	Size		fixed = sizeof(float) * (Size) k * bs->nbits;
	size_t		block;
	float	   *x;
	float	   *work;
	int32	   *assign;

	for (;;)
	{
		Size		per_row = sizeof(float) * (Size) bs->nbits + sizeof(int32);

		block = kmeans_default_block_floats(n, k);
		if (n <= k || fixed + (Size) n * per_row +
			sizeof(float) * kmeans_train_work_floats(n, bs->nbits, k, block) <= avail)
			break;
		n = Max(k, n / 2);
	}
	if (n > bs->nsample)
		n = bs->nsample;
	shuffle_front(bs, n);
	x = palloc_extended(sizeof(float) * (Size) n * bs->nbits, MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
		bitkm_signs(bs->sample + (Size) i * bs->nbytes, bs->nbits, x + (Size) i * bs->nbits);
	work = palloc_extended(sizeof(float) * kmeans_train_work_floats(n, bs->nbits, k, block),
						   MCXT_ALLOC_HUGE);
	assign = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
	bs->sign_centroids = palloc_extended(fixed, MCXT_ALLOC_HUGE);
	kmeans_train(x, n, bs->nbits, k, SIGNS_TRAIN_ITERS, 0x6d73697662ULL, true,
				 bs->sign_centroids, work, block, assign, train_tick, NULL);
	pfree(x);
	pfree(work);
	pfree(assign);
}

/*
 * The list count (the lists option, or the square root of the rows seen,
 * never more than the sample) and, for more than one list, the centroids
 * trained by k-medians on up to BITS_TRAIN_PER_LIST sample rows per list.
 */
static void
train(BitsBuildState *bs, int requested)
{
	int			k = requested > 0 ? requested : (int) Max(1, (int64) sqrt((double) bs->seen));
	int			n;

	k = (int) Min((int64) k, Max(bs->seen, 1));
	k = Min(k, Max(bs->nsample, 1));
	k = Min(k, MSIVF_MAX_LISTS);
	if (requested > 0 && bs->seen >= requested && bs->nsample < requested)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("maintenance_work_mem is too small to train an msivf index of %d lists on bvecs of %d bits",
						requested, bs->nbits),
				 errhint("Raise maintenance_work_mem to at least %zu MB, or lower the lists option.",
						 (2 * (Size) requested * bs->nbytes + 1024 * 1024 - 1) / (1024 * 1024))));
	bs->nlists = k;
	bs->centroids = NULL;
	bs->sign_centroids = NULL;
	if (k == 1)
		return;

	n = Min(bs->nsample, Max(k * BITS_TRAIN_PER_LIST, BITS_TRAIN_MIN));
	if (bs->metric == MSIVF_METRIC_HAMMING)
	{
		train_signs(bs, k, n);
		return;
	}
	bs->centroids = palloc_extended((Size) k * bs->nbytes, MCXT_ALLOC_HUGE);
	{
		int32	   *assign = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
		int32	   *order = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
		int32	   *start = palloc_extended(sizeof(int32) * (k + 1), MCXT_ALLOC_HUGE);
		uint32	   *bitcount = palloc_extended(sizeof(uint32) * bs->nbits, MCXT_ALLOC_HUGE);

		shuffle_front(bs, n);
		bitkm_train(km_metric(bs->metric), bs->sample, n, bs->nbits, k, BITS_TRAIN_ITERS,
					0x6d73697662ULL, bs->centroids, assign, order, start, bitcount,
					train_tick, NULL);
		pfree(assign);
		pfree(order);
		pfree(start);
		pfree(bitcount);
	}
}

/* A fresh page at the end of the fork, locked (no WAL: the build logs every page at the end). */
static Buffer
build_new_page(BitsBuildState *bs, uint8 page_type)
{
	Buffer		buf = ReadBufferExtended(bs->index, bs->fork, P_NEW, RBM_NORMAL, NULL);

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	msivf_init_page(BufferGetPage(buf), page_type);
	MarkBufferDirty(buf);
	return buf;
}

/*
 * Reserves the metapage, the centroid and directory pages and each list's
 * first page, consecutive as msivfpage.c's checks expect.
 */
static void
layout_pages(BitsBuildState *bs, int *ncentroid_pages, int *ndir_pages)
{
	int			lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);
	Buffer		buf;

	buf = build_new_page(bs, MSIVF_PAGE_META);
	Assert(BufferGetBlockNumber(buf) == MSIVF_METAPAGE_BLKNO);
	UnlockReleaseBuffer(buf);
	if (bs->sign_centroids)
	{
		Size		fpp = MSIVF_PAGE_CAPACITY / sizeof(float);

		*ncentroid_pages = (int) (((Size) bs->nlists * bs->nbits + fpp - 1) / fpp);
	}
	else
		*ncentroid_pages = bs->centroids ?
			(int) (((Size) bs->nlists * bs->nbytes + MSIVF_PAGE_CAPACITY - 1) / MSIVF_PAGE_CAPACITY) : 0;
	for (int i = 0; i < *ncentroid_pages; i++)
		UnlockReleaseBuffer(build_new_page(bs, MSIVF_PAGE_CENTROID));
	*ndir_pages = (bs->nlists + lpdp - 1) / lpdp;
	for (int i = 0; i < *ndir_pages; i++)
		UnlockReleaseBuffer(build_new_page(bs, MSIVF_PAGE_DIRECTORY));
	bs->heads = palloc(sizeof(BlockNumber) * bs->nlists);
	bs->tails = palloc(sizeof(BlockNumber) * bs->nlists);
	for (int i = 0; i < bs->nlists; i++)
	{
		buf = build_new_page(bs, MSIVF_PAGE_LIST);
		bs->heads[i] = bs->tails[i] = BufferGetBlockNumber(buf);
		UnlockReleaseBuffer(buf);
	}

	/* what nearest_list and fill_entry need */
	memset(&bs->st, 0, sizeof(bs->st));
	bs->st.dims = bs->nbits;
	bs->st.nlists = bs->nlists;
	bs->st.metric = bs->metric;
	bs->st.bit_centroids = bs->centroids;
	bs->st.centroids = bs->sign_centroids;
	if (bs->nbits > 0)
	{
		bs->st.entry_size = MAXALIGN(MSIVF_BITS_OFFSET + bs->nbytes);
		bs->st.entries_per_page = MSIVF_PAGE_CAPACITY / bs->st.entry_size;
		bs->entry = palloc(bs->st.entry_size);
		bs->signs = palloc(sizeof(float) * bs->nbits);
	}
}

/* Appends the build's entry to the list's last page, or a new one after it. */
static void
build_append(BitsBuildState *bs, int list)
{
	Buffer		buf = ReadBufferExtended(bs->index, bs->fork, bs->tails[list], RBM_NORMAL, NULL);
	Page		page;
	MsivfPageOpaque opaque;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (MsivfPageGetOpaque(page)->nentries >= bs->st.entries_per_page)
	{
		Buffer		nbuf = build_new_page(bs, MSIVF_PAGE_LIST);

		MsivfPageGetOpaque(page)->next = BufferGetBlockNumber(nbuf);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		buf = nbuf;
		page = BufferGetPage(buf);
		bs->tails[list] = BufferGetBlockNumber(buf);
	}
	opaque = MsivfPageGetOpaque(page);
	memcpy(PageGetContents(page) + (Size) opaque->nentries * bs->st.entry_size,
		   bs->entry, bs->st.entry_size);
	opaque->nentries++;
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) +
		(Size) opaque->nentries * bs->st.entry_size;
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* pass 2's callback: the row's entry goes to its nearest list */
static void
assign_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool tupleIsAlive, void *state)
{
	BitsBuildState *bs = (BitsBuildState *) state;
	Bvec	   *b;

	if (isnull[0])
		return;
	b = DatumGetBvec(values[0]);
	check_nbits(bs->index, bs->nbits, b->nbits);
	fill_entry(&bs->st, bs->entry, tid, b->data);
	build_append(bs, nearest_list(&bs->st, b->data, bs->signs));
	bs->index_tuples++;
	if ((Pointer) b != DatumGetPointer(values[0]))
		pfree(b);
}

/*
 * Writes the centroids, every list's head, hint and tail in the directory,
 * and last the metapage with a new build_id.
 */
static void
write_structure(BitsBuildState *bs, int ncentroid_pages, int ndir_pages)
{
	BlockNumber centroid_start = MSIVF_METAPAGE_BLKNO + 1;
	BlockNumber dir_start = centroid_start + ncentroid_pages;
	int			lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);
	Buffer		buf;
	Page		page;
	MsivfMetaPage meta;

	for (int i = 0; i < ncentroid_pages; i++)
	{
		/* sign centroids: whole floats per page, as vec's centroids */
		Size		per_page = bs->sign_centroids ?
			MSIVF_PAGE_CAPACITY / sizeof(float) * sizeof(float) : MSIVF_PAGE_CAPACITY;
		Size		total = bs->sign_centroids ?
			sizeof(float) * (Size) bs->nlists * bs->nbits : (Size) bs->nlists * bs->nbytes;
		const char *src = bs->sign_centroids ?
			(const char *) bs->sign_centroids : (const char *) bs->centroids;
		Size		start = (Size) i * per_page;
		Size		n = Min(per_page, total - start);

		buf = ReadBufferExtended(bs->index, bs->fork, centroid_start + i, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		memcpy(PageGetContents(page), src + start, n);
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + n;
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
			info[j].insert = bs->tails[first + j];
			info[j].tail = bs->tails[first + j];
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
	meta->dims = bs->nbits;
	meta->nlists = bs->nlists;
	meta->metric = bs->metric;
	meta->code_bits = bs->nbits > 0 ? 1 : 0;
	meta->flags = bs->sign_centroids ? MSIVF_FLAG_SIGN_CENTROIDS :
		bs->centroids ? 0 : MSIVF_FLAG_ZERO_CENTROID;
	meta->build_id = pg_prng_uint64(&pg_global_prng_state);
	meta->centroid_start = centroid_start;
	meta->directory_start = dir_start;
	meta->lists_per_dir_page = lpdp;
	meta->built_tuples = bs->index_tuples;
	/* no calibration: probes default to a tenth of the lists (README) */
	meta->calib_queries = 0;
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(MsivfMetaPageData);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

static void
init_build_state(BitsBuildState *bs, Relation index, ForkNumber fork)
{
	memset(bs, 0, sizeof(*bs));
	bs->index = index;
	bs->fork = fork;
	bs->metric = msivf_metric(index);
	bs->budget = (Size) maintenance_work_mem * 1024;
	/* bvec's typmod is its length, already checked to be 1..64000 */
	bs->nbits = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	if (bs->nbits < 0)
		bs->nbits = 0;
	bs->nbytes = BVEC_BYTES(bs->nbits);
	pg_prng_seed(&bs->prng, 0x6d73697662ULL);
}

/* ambuild of a bvec index: sample, train, assign, write, log every page */
IndexBuildResult *
msivf_bits_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BitsBuildState bs;
	MemoryContext cxt,
				old;
	int			ncentroid_pages,
				ndir_pages;
	MsivfOptions *opts = (MsivfOptions *) index->rd_options;

	/* a bvec entry holds its bits as they are: there is no code to size */
	if (opts && opts->bits != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("msivf option \"bits\" does not apply to an index over bvec")));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf bvec build", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	init_build_state(&bs, index, MAIN_FORKNUM);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_SAMPLE);
	table_index_build_scan(heap, index, indexInfo, true, true, sample_callback, &bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_TRAIN);
	train(&bs, opts ? opts->lists : 0);
	if (bs.sample)
		pfree(bs.sample);
	bs.sample = NULL;

	layout_pages(&bs, &ncentroid_pages, &ndir_pages);
	if (bs.seen > 0)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_ASSIGN);
		table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, &bs, NULL);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_WRITE);
	write_structure(&bs, ncentroid_pages, ndir_pages);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextSwitchTo(old);
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.heap_tuples;
	result->index_tuples = bs.index_tuples;
	MemoryContextDelete(cxt);
	return result;
}

/* ambuildempty of a bvec index: the init fork holds one empty list */
void
msivf_bits_buildempty(Relation index)
{
	BitsBuildState bs;
	int			ncentroid_pages,
				ndir_pages;

	init_build_state(&bs, index, INIT_FORKNUM);
	bs.nlists = 1;
	layout_pages(&bs, &ncentroid_pages, &ndir_pages);
	write_structure(&bs, ncentroid_pages, ndir_pages);
	log_newpage_range(index, INIT_FORKNUM, 0,
					  RelationGetNumberOfBlocksInFork(index, INIT_FORKNUM), true);
}

/* ---- insert ----------------------------------------------------------- */

/* The first bvec of an index without a length fixes it (one generic record). */
static void
set_meta_bits(Relation index, int nbits)
{
	Buffer		buf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	GenericXLogState *state;
	MsivfMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = MsivfPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	if (meta->dims == 0)
	{
		meta->dims = nbits;
		meta->code_bits = 1;
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
}

/*
 * aminsert of a bvec index (NULLs are never indexed: msivf_insert skips
 * them): the row's bits go to the list of its nearest centroid, through
 * vec's append, so the WAL and locks are the same.
 */
bool
msivf_bits_insert(Relation index, Datum value, ItemPointer heap_tid)
{
	MemoryContext cxt;
	MemoryContext old;
	Bvec	   *b;
	MsivfState *st;
	MsivfState	copy;
	char	   *entry;
	int			list;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf bvec insert", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	b = DatumGetBvec(value);
	st = msivf_get_state(index);
	if (st->dims == 0)
	{
		set_meta_bits(index, b->nbits);
		st = msivf_get_state(index);
	}
	check_nbits(index, st->dims, b->nbits);
	entry = palloc(st->entry_size);
	fill_entry(st, entry, heap_tid, b->data);
	list = nearest_list(st, b->data, palloc(sizeof(float) * st->dims));
	/* st may go stale once locks are taken: keep the scalars only */
	copy = *st;
	copy.centroids = NULL;
	copy.centroid_norms = NULL;
	copy.bit_centroids = NULL;
	msivf_append_entry(index, &copy, list, (const MsivfEntry *) entry);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
