/*
 * msivfassign.c
 *		Pass 2 of CREATE INDEX for msivf: every row to the list of its
 *		nearest centroid (blocked sgemm over a block of rows), its quantized
 *		entry appended to that list's pages, and, for the held-out
 *		calibration queries, the lists that hold their true ten nearest
 *		neighbours.  With parallel maintenance workers each participant
 *		(the leader too) scans a share of the table.
 *
 * Pages are written through shared buffers without WAL: msivf_build logs
 * them all once the pass is over.  Participants append to the same lists;
 * the last page's buffer lock serialises appends to a list, and the
 * relation extension lock the new pages.
 */
#include "postgres.h"

#include <cblas.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "kmeans.h"
#include "msivfbuild.h"
#include "vec_kernels.h"

#define BLOCK_ROWS		4096	/* rows assigned per sgemm, at most */

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
void
msivf_calib_offer(CalibNeighbour *h, int *n, float dist, int32 list)
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

/*
 * The calibration queries' L1 distances to the block's n rows, in the
 * layout the sgemm of the other metrics gives (a row per query): L1 has
 * no matrix product, and its calibration must count L1 neighbours, the
 * ones its scans are asked for.
 */
static void
calib_l1_distances(MsivfBuildState *bs, int n)
{
	int			d = bs->dims;

	for (int q = 0; q < bs->nqueries; q++)
	{
		const float *qv = bs->queries + (Size) q * d;
		float	   *g = bs->calib_block + (Size) q * n;

		for (int i = 0; i < n; i++)
			g[i] = vec_kernels->l1(qv, bs->block + (Size) i * d, d);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Assigns the rows of the block to their lists, offers them to every
 * calibration query's neighbour heap (a query is not its own neighbour),
 * and appends their entries.  Leaves the block empty.
 */
static void
flush_block(MsivfBuildState *bs)
{
	int			n = bs->nblock;
	int			d = bs->dims;

	if (n == 0)
		return;

	if (bs->st.centroids)
		kmeans_assign(bs->block, n, d, bs->st.centroids, bs->st.centroid_norms,
					  bs->nlists, MSIVF_METRIC_EUCLIDEAN_LISTS(bs->metric) ? KMEANS_L2 : KMEANS_IP,
					  bs->block_assign, NULL, bs->work, bs->work_floats);
	else
		memset(bs->block_assign, 0, sizeof(int32) * n);

	/* calibration: the true neighbours of every held-out query */
	if (bs->nqueries > 0)
	{
		if (bs->metric == MSIVF_METRIC_L1)
			calib_l1_distances(bs, n);
		else
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
					bs->block_norms[i] - 2 * g[i] :
					bs->metric == MSIVF_METRIC_L1 ? g[i] : -g[i];

				if (ItemPointerEquals(&bs->query_tids[q], &bs->block_tids[i]))
					continue;	/* a query is not its own neighbour */
				msivf_calib_offer(h, &bs->nneigh[q], dist, bs->block_assign[i]);
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

/*
 * Once dims and centroids are known (and the pages laid out): the entry
 * layout in bs->st, and pass 2's buffers: a block of rows sized to an
 * eighth of maintenance_work_mem, and with its calibration distances to at
 * most half of it; an sgemm scratch of a quarter million floats, or an
 * eighth of maintenance_work_mem when that is less (never less than one
 * row of distances).  Below about 9 MB the sizes shrink; above, they are
 * what they always were, so an index is built the same way.
 */
static void
setup_lists(MsivfBuildState *bs)
{
	int			d = bs->dims;
	Size		rowbytes = sizeof(float) * d;
	MemoryContext old = MemoryContextSwitchTo(bs->cxt);

	bs->st.dims = d;
	bs->st.code_bits = msivf_index_code_bits(bs->index, d);
	bs->st.entry_size = msivf_entry_size(d, bs->st.code_bits);
	bs->st.entries_per_page = MSIVF_PAGE_CAPACITY / bs->st.entry_size;
	Assert(bs->st.entries_per_page >= 1);
	bs->st.first_list_block = bs->st.directory_start +
		(bs->nlists + bs->st.lists_per_dir_page - 1) / bs->st.lists_per_dir_page;

	bs->block_cap = (int) Max(16, Min((Size) BLOCK_ROWS, bs->budget / 8 / rowbytes));
	{
		Size		per_row = rowbytes + sizeof(float) * bs->nqueries;

		if ((Size) bs->block_cap * per_row > bs->budget / 2)
			bs->block_cap = (int) Max(16, bs->budget / 2 / per_row);
	}
	bs->block = MemoryContextAllocHuge(CurrentMemoryContext, rowbytes * bs->block_cap);
	bs->block_tids = palloc(sizeof(ItemPointerData) * bs->block_cap);
	bs->block_assign = palloc(sizeof(int32) * bs->block_cap);
	bs->block_norms = palloc(sizeof(float) * bs->block_cap);
	bs->work_floats = Max((size_t) bs->nlists,
						  Min((size_t) 1 << 18, bs->budget / 8 / sizeof(float)));
	bs->work = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * bs->work_floats);
	bs->entry = palloc0(bs->st.entry_size);
	bs->entry_work = palloc(rowbytes);
	if (bs->nqueries > 0)
		bs->calib_block = MemoryContextAllocHuge(CurrentMemoryContext,
												 sizeof(float) * (Size) bs->nqueries * bs->block_cap);
	MemoryContextSwitchTo(old);
}

/* Table scan callback of pass 2: rows go into the block, a full block is flushed. */
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
	msivf_build_check_row_dims(bs, v);
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

/* ---- parallel assignment ------------------------------------------- */

/*
 * The size of the shared segment for these counts; with arr, also where
 * each array lies in the segment at sh.  Leader and workers lay it out
 * with the same call, so they agree.
 */
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
	msivf_build_init_state(&bs, index, MAIN_FORKNUM);
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
 * Fills the shared segment: the build's shape, the centroids, the
 * calibration queries, the list tails as they stand, and the parallel
 * table scan over snapshot.  Returns the shared struct, arr pointing at
 * its arrays and *pscan at the scan.
 */
static MsivfShared *
parallel_share(MsivfBuildState *bs, ParallelContext *pcxt, Relation heap,
			   Relation index, IndexInfo *indexInfo, Snapshot snapshot,
			   Size shared_size, Size scan_size, int nparticipants,
			   MsivfSharedArrays *arr, ParallelTableScanDesc *pscan)
{
	MsivfShared *sh;

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
	shared_layout(sh, bs->dims, bs->nlists, bs->nqueries, nparticipants, arr);
	memcpy(arr->centroids, bs->st.centroids, sizeof(float) * (Size) bs->nlists * bs->dims);
	memcpy(arr->centroid_norms, bs->st.centroid_norms, sizeof(float) * bs->nlists);
	if (bs->nqueries > 0)
	{
		memcpy(arr->queries, bs->queries, sizeof(float) * (Size) bs->nqueries * bs->dims);
		memcpy(arr->query_tids, bs->query_tids, sizeof(ItemPointerData) * bs->nqueries);
		memset(arr->nneigh, 0, sizeof(int) * (Size) nparticipants * bs->nqueries);
	}
	for (int i = 0; i < bs->nlists; i++)
		pg_atomic_init_u32(&arr->tails[i], pg_atomic_read_u32(&bs->tails[i]));
	*pscan = shm_toc_allocate(pcxt->toc, scan_size);
	table_parallelscan_initialize(heap, *pscan, snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_SHARED, sh);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_SCAN, *pscan);
	return sh;
}

/*
 * Once every participant is done: the counts, the list tails and every
 * participant's calibration neighbours (merged into the leader's heaps)
 * back into the local build state, with the centroids and queries copied
 * out of the segment before it goes.
 */
static void
parallel_gather(MsivfBuildState *bs, MsivfShared *sh, MsivfSharedArrays *arr,
				int nparticipants, pg_atomic_uint32 *local_tails,
				CalibNeighbour *local_neigh, int *local_nneigh)
{
	bs->heap_tuples += sh->heap_tuples;
	bs->index_tuples += sh->index_tuples;
	for (int i = 0; i < bs->nlists; i++)
		pg_atomic_write_u32(&local_tails[i], pg_atomic_read_u32(&arr->tails[i]));
	bs->tails = local_tails;
	if (bs->nqueries > 0)
	{
		memcpy(local_nneigh, arr->nneigh, sizeof(int) * bs->nqueries);
		memcpy(local_neigh, arr->neigh, sizeof(CalibNeighbour) * bs->nqueries * CALIB_K);
		for (int p = 1; p < nparticipants; p++)
		{
			for (int q = 0; q < bs->nqueries; q++)
			{
				CalibNeighbour *src = arr->neigh + ((Size) p * bs->nqueries + q) * CALIB_K;
				int			n = arr->nneigh[(Size) p * bs->nqueries + q];

				for (int i = 0; i < n; i++)
					msivf_calib_offer(local_neigh + (Size) q * CALIB_K, &local_nneigh[q],
								src[i].dist, src[i].list);
			}
		}
		bs->neigh = local_neigh;
		bs->nneigh = local_nneigh;
		bs->queries = MemoryContextAlloc(bs->cxt, sizeof(float) * (Size) bs->nqueries * bs->dims);
		memcpy(bs->queries, arr->queries, sizeof(float) * (Size) bs->nqueries * bs->dims);
	}
	/* centroids back to local memory before the segment goes */
	bs->st.centroids = MemoryContextAllocHuge(bs->cxt, sizeof(float) * (Size) bs->nlists * bs->dims);
	memcpy(bs->st.centroids, arr->centroids, sizeof(float) * (Size) bs->nlists * bs->dims);
	bs->st.centroid_norms = MemoryContextAlloc(bs->cxt, sizeof(float) * bs->nlists);
	memcpy(bs->st.centroid_norms, arr->centroid_norms, sizeof(float) * bs->nlists);
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
	sh = parallel_share(bs, pcxt, heap, index, indexInfo, snapshot,
						shared_size, scan_size, nparticipants, &arr, &pscan);

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

	parallel_gather(bs, sh, &arr, nparticipants, local_tails, local_neigh, local_nneigh);

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return true;
}

/*
 * Pass 2: every row assigned, encoded and appended, with parallel workers
 * when the table is large enough and the settings allow them.  The pages
 * (metapage, centroid, directory and each list's first) are laid out.
 */
void
msivf_build_assign(MsivfBuildState *bs, Relation heap, Relation index,
				   IndexInfo *indexInfo)
{
	int			nworkers = 0;

	if (bs->dims > 0)
		setup_lists(bs);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, MSIVF_PHASE_ASSIGN);
	if (bs->dims > 0 && bs->st.centroids != NULL && bs->seen >= PARALLEL_MIN_ROWS &&
		max_parallel_maintenance_workers > 0 && !IsInParallelMode())
		nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	if (nworkers == 0 || !parallel_assign(bs, heap, index, indexInfo, nworkers))
	{
		table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, bs, NULL);
		flush_block(bs);
	}
}
