/*
 * msivfcalib.c
 *		VACUUM's refresh of the calibration curve of a grown msivf index:
 *		once splits have changed the list count by more than
 *		MSIVF_RECALIBRATE_FRACTION since the last calibration, the curve
 *		(probes needed for each recall@10) is measured again the way the
 *		build measures it, on up to MSIVF_CALIB_QUERIES rows of the index
 *		and their true ten nearest rows among its entries.
 *
 * The build's calibration queries are rows held out of its sample, their
 * neighbours found while the rows are assigned.  Here the index's entries
 * are the rows: a walk of every list collects each entry's heap TID and
 * list (a reservoir when there are more than maintenance_work_mem holds),
 * random ones of them are the queries, and their neighbours are found by
 * reading the vectors of the collected rows from the heap in blocks, with
 * the lists they are actually in, which is what a scan's recall depends
 * on.  The new curve is written to the metapage in one generic WAL record
 * that also bumps the generation, so every backend rereads its cached
 * state (and with it the curve) at its next use.
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "access/generic_xlog.h"
#include "access/table.h"
#include "catalog/index.h"
#include "commands/vacuum.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "kmeans.h"
#include "msivf.h"
#include "msivfbuild.h"
#include "vec_kernels.h"

/* rows whose vectors are read from the heap at a time */
#define CALIB_BLOCK		1024

typedef struct CalibEntry
{
	ItemPointerData tid;
	int32		list;
} CalibEntry;

/*
 * Whether VACUUM should measure the curve again: the list count has moved
 * by more than MSIVF_RECALIBRATE_FRACTION of the count it was measured at
 * (built_lists for a build's curve, or an index built empty).  bvec
 * indexes have no curve and do not split.
 */
bool
msivf_calibration_due(const MsivfState *st)
{
	if (st->dims == 0 || MSIVF_METRIC_IS_BITS(st->metric) || st->nlists < 2)
		return false;
	return fabs((double) st->nlists - st->calib_lists) >
		MSIVF_RECALIBRATE_FRACTION * st->calib_lists;
}

/*
 * Every entry's TID and list, from a walk of the lists under share locks;
 * a uniform reservoir of at most cap of them, *n of them filled.
 */
static CalibEntry *
collect_entries(Relation index, const MsivfState *st, BufferAccessStrategy strategy,
				int cap, int *n, pg_prng_state *prng)
{
	CalibEntry *ents = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CalibEntry) * (Size) cap);
	int64		seen = 0;
	BlockNumber nblocks = 0;

	*n = 0;
	for (int list = 0; list < st->nlists; list++)
	{
		int			slot;
		BlockNumber dirblk = msivf_dir_block(st, list, &slot);
		Buffer		buf;
		BlockNumber blkno;
		BlockNumber followed = 0;

		buf = ReadBufferExtended(index, MAIN_FORKNUM, dirblk, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		msivf_check_dir_page(index, st, BufferGetPage(buf), dirblk);
		blkno = msivf_list_info(index, st, BufferGetPage(buf), slot, &nblocks).head;
		UnlockReleaseBuffer(buf);

		while (blkno != InvalidBlockNumber)
		{
			Page		page;
			int			m;

			vacuum_delay_point();
			buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			msivf_check_list_page(index, st, page, blkno, &nblocks);
			m = MsivfPageGetOpaque(page)->nentries;
			for (int i = 0; i < m; i++)
			{
				MsivfEntry *e = (MsivfEntry *) (PageGetContents(page) + (Size) i * st->entry_size);
				int64		pos = seen++;

				if (pos >= cap)
				{
					pos = (int64) pg_prng_uint64_range(prng, 0, (uint64) pos);
					if (pos >= cap)
						continue;
				}
				else
					(*n)++;
				ents[pos].tid = e->tid;
				ents[pos].list = list;
			}
			blkno = MsivfPageGetOpaque(page)->next;
			UnlockReleaseBuffer(buf);
			if (blkno != InvalidBlockNumber)
				msivf_chain_step(index, &followed, &nblocks);
		}
	}
	return ents;
}

/*
 * Measures the calibration curve again and writes it to the metapage.
 * The caller (VACUUM) holds the split lock in share mode, so the lists do
 * not change meanwhile.  Returns whether a new curve was written; none
 * when the index has fewer than ten rows to measure on.
 */
bool
msivf_recalibrate(Relation index, BufferAccessStrategy strategy)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf calibration",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Relation	heap;
	MsivfState *cached;
	MsivfState	st;
	int			d;
	int			cap;
	int			n;
	int			nq;
	CalibEntry *ents;
	pg_prng_state prng;
	MsivfHeapVecs hv;
	float	   *queries;
	ItemPointerData *qtids;
	CalibNeighbour *neigh;
	int		   *nneigh;
	float	   *block;
	float	   *norms;
	int32	   *blists;
	ItemPointerData *btids;
	float	   *g;
	uint16		probes[MSIVF_CALIB_LEVELS];
	int			calib_queries;
	bool		written = false;

	/* the heap first: locking it may process invalidations */
	heap = table_open(IndexGetRelation(RelationGetRelid(index), false), AccessShareLock);
	cached = msivf_get_state(index);
	st = *cached;
	d = st.dims;
	if (!msivf_calibration_due(&st) || cached->centroids == NULL)
		goto done;
	st.centroids = palloc(sizeof(float) * (Size) st.nlists * d);
	memcpy(st.centroids, cached->centroids, sizeof(float) * (Size) st.nlists * d);
	st.centroid_norms = palloc(sizeof(float) * st.nlists);
	memcpy(st.centroid_norms, cached->centroid_norms, sizeof(float) * st.nlists);

	/* a quarter of maintenance_work_mem for the entries, at least 10,000 */
	cap = (int) Min((Size) MaxAllocHugeSize / sizeof(CalibEntry),
					Max((Size) 10000, (Size) maintenance_work_mem * 1024 / 4 / sizeof(CalibEntry)));
	cap = Min(cap, INT_MAX / 2);
	pg_prng_seed(&prng, (uint64) st.build_id ^ ((uint64) st.nlists << 32));
	ents = collect_entries(index, &st, strategy, cap, &n, &prng);

	/* the queries: random entries, moved to the front */
	nq = Min(MSIVF_CALIB_QUERIES, n / 2);
	if (nq < 5)
		goto done;
	for (int i = 0; i < nq; i++)
	{
		int			j = (int) pg_prng_uint64_range(&prng, i, n - 1);
		CalibEntry	t = ents[i];

		ents[i] = ents[j];
		ents[j] = t;
	}
	queries = palloc(sizeof(float) * (Size) nq * d);
	qtids = palloc(sizeof(ItemPointerData) * nq);
	msivf_heap_vecs_begin(&hv, heap, index);
	{
		int			k = 0;

		for (int i = 0; i < nq; i++)
			if (msivf_heap_vec(&hv, &st, &ents[i].tid, queries + (Size) k * d))
				qtids[k++] = ents[i].tid;
		nq = k;
	}
	if (nq < 5)
	{
		msivf_heap_vecs_end(&hv);
		goto done;
	}

	/* their true neighbours among the collected rows, with those rows' lists */
	neigh = palloc(sizeof(CalibNeighbour) * nq * CALIB_K);
	nneigh = palloc0(sizeof(int) * nq);
	block = palloc(sizeof(float) * (Size) CALIB_BLOCK * d);
	norms = palloc(sizeof(float) * CALIB_BLOCK);
	blists = palloc(sizeof(int32) * CALIB_BLOCK);
	btids = palloc(sizeof(ItemPointerData) * CALIB_BLOCK);
	g = palloc(sizeof(float) * (Size) nq * CALIB_BLOCK);
	for (int start = 0; start < n; start += CALIB_BLOCK)
	{
		int			m = 0;

		vacuum_delay_point();
		for (int i = start; i < Min(n, start + CALIB_BLOCK); i++)
			if (msivf_heap_vec(&hv, &st, &ents[i].tid, block + (Size) m * d))
			{
				btids[m] = ents[i].tid;
				blists[m++] = ents[i].list;
			}
		if (m == 0)
			continue;
		if (st.metric == MSIVF_METRIC_L1)
		{
			for (int q = 0; q < nq; q++)
				for (int i = 0; i < m; i++)
					g[(Size) q * m + i] = vec_kernels->l1(queries + (Size) q * d,
														  block + (Size) i * d, d);
		}
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, m, d, 1.0f,
						queries, d, block, d, 0.0f, g, m);
		if (st.metric == MSIVF_METRIC_L2)
			kmeans_row_norms(block, m, d, norms);
		for (int q = 0; q < nq; q++)
		{
			const float *gq = g + (Size) q * m;

			for (int i = 0; i < m; i++)
			{
				float		dist = st.metric == MSIVF_METRIC_L2 ? norms[i] - 2 * gq[i] :
					st.metric == MSIVF_METRIC_L1 ? gq[i] : -gq[i];

				if (ItemPointerEquals(&qtids[q], &btids[i]))
					continue;	/* a query is not its own neighbour */
				msivf_calib_offer(neigh + (Size) q * CALIB_K, &nneigh[q], dist, blists[i]);
			}
		}
	}
	msivf_heap_vecs_end(&hv);

	calib_queries = msivf_calib_curve(&st, queries, nq, neigh, nneigh, probes);
	if (calib_queries == 0)
		goto done;

	/* the new curve, and a new generation for every backend's cache */
	{
		Buffer		mbuf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
		GenericXLogState *state;
		Page		mpage;
		MsivfMetaPage meta;

		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		mpage = GenericXLogRegisterBuffer(state, mbuf, 0);
		meta = MsivfPageGetMeta(mpage);
		if (meta->nlists != st.nlists || meta->build_id != st.build_id)
			GenericXLogAbort(state);	/* cannot happen under the split lock */
		else
		{
			memcpy(meta->calib_probes, probes, sizeof(probes));
			meta->calib_queries = calib_queries;
			if (meta->built_lists == 0)
				meta->built_lists = meta->nlists;
			meta->calib_lists = meta->nlists;
			meta->generation++;
			msivf_meta_cover_tail(mpage);
			GenericXLogFinish(state);
			written = true;
		}
		UnlockReleaseBuffer(mbuf);
	}

done:
	table_close(heap, AccessShareLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return written;
}
