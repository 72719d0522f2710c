/*
 * msivfvacuum.c
 *		VACUUM for msivf: remove the entries of dead rows, compacting each
 *		page in place so inserts reuse the room, and point each list's
 *		insert position at its first page with room again.  At cleanup,
 *		free the pages of the old chains of split lists and record them in
 *		the free space map, and refresh the calibration of a grown index
 *		(msivfcalib.c).
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/transam.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "utils/rel.h"

#include "msivf.h"

/*
 * One list page of a walk: counts its entries, and with a callback
 * removes those it reports dead, compacting the page under one generic
 * WAL record.  Returns how many entries the page keeps and sets *next to
 * the next page of the chain.
 */
static int
vacuum_list_page(IndexVacuumInfo *info, const MsivfState *st, BlockNumber blkno,
				 BlockNumber *nblocks, IndexBulkDeleteResult *stats,
				 IndexBulkDeleteCallback callback, void *callback_state,
				 BlockNumber *next)
{
	Relation	index = info->index;
	Buffer		buf;
	Page		page;
	int			n;
	int			keep = 0;
	bool	   *dead = NULL;

	buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	msivf_check_list_page(index, st, page, blkno, nblocks);
	n = MsivfPageGetOpaque(page)->nentries;

	if (callback)
	{
		dead = palloc(sizeof(bool) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			MsivfEntry *e = (MsivfEntry *) (PageGetContents(page) + (Size) i * st->entry_size);

			dead[i] = callback(&e->tid, callback_state);
			if (!dead[i])
				keep++;
		}
	}
	else
		keep = n;

	if (keep < n)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		wpage = GenericXLogRegisterBuffer(state, buf, 0);
		char	   *base = PageGetContents(wpage);
		int			o = 0;

		for (int i = 0; i < n; i++)
		{
			if (dead[i])
				continue;
			if (o != i)
				memmove(base + (Size) o * st->entry_size,
						base + (Size) i * st->entry_size, st->entry_size);
			o++;
		}
		MsivfPageGetOpaque(wpage)->nentries = keep;
		((PageHeader) wpage)->pd_lower = (base - (char *) wpage) + keep * st->entry_size;
		GenericXLogFinish(state);
		stats->tuples_removed += n - keep;
	}
	stats->num_index_tuples += keep;
	*next = MsivfPageGetOpaque(page)->next;
	UnlockReleaseBuffer(buf);
	if (dead)
		pfree(dead);
	return keep;
}

/*
 * Points the insert hint of the list at directory slot slot of dirblk at
 * first_room, under one generic WAL record.  The hint is only where
 * inserts start looking for room: any page of the list's chain is a
 * correct value, so a race with an insert that filled the page meanwhile
 * costs that insert a step along the chain, nothing more.
 */
static void
set_insert_hint(IndexVacuumInfo *info, BlockNumber dirblk, int slot,
				BlockNumber first_room)
{
	Relation	index = info->index;
	Buffer		buf;
	GenericXLogState *state;
	Page		dpage;

	buf = ReadBufferExtended(index, MAIN_FORKNUM, dirblk, RBM_NORMAL, info->strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	dpage = GenericXLogRegisterBuffer(state, buf, 0);
	msivf_dir_entries(dpage)[slot].insert = first_room;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Walks every list; with a callback, removes what it reports dead and
 * points each list's insert hint at its first page with room.  One page
 * lock at a time, the directory's alone: see msivfinsert.c for why that
 * cannot deadlock with inserters.
 */
static void
msivf_walk(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
		   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	MsivfState *cached;
	MsivfState	st;
	BlockNumber nblocks = 0;

	/* no split moves entries past the walk (msivfsplit.c) */
	msivf_scan_lock(index);
	cached = msivf_get_state(index);
	st = *cached;
	st.centroids = NULL;
	st.centroid_norms = NULL;
	if (st.dims == 0)
	{
		msivf_scan_unlock(index);
		return;
	}

	for (int list = 0; list < st.nlists; list++)
	{
		int			slot;
		BlockNumber dirblk = msivf_dir_block(&st, list, &slot);
		Buffer		buf;
		BlockNumber blkno;
		BlockNumber insert;
		BlockNumber first_room = InvalidBlockNumber;
		BlockNumber followed = 0;

		buf = ReadBufferExtended(index, MAIN_FORKNUM, dirblk, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		msivf_check_dir_page(index, &st, BufferGetPage(buf), dirblk);
		{
			MsivfListInfo li = msivf_list_info(index, &st, BufferGetPage(buf), slot, &nblocks);

			blkno = li.head;
			insert = li.insert;
		}
		UnlockReleaseBuffer(buf);

		while (blkno != InvalidBlockNumber)
		{
			BlockNumber next;
			int			keep;

			vacuum_delay_point();
			keep = vacuum_list_page(info, &st, blkno, &nblocks, stats,
									callback, callback_state, &next);
			if (keep < st.entries_per_page && first_room == InvalidBlockNumber)
				first_room = blkno;
			blkno = next;
			if (blkno != InvalidBlockNumber)
				msivf_chain_step(index, &followed, &nblocks);
		}

		/* inserts look for room from the first page that has some */
		if (callback && first_room != InvalidBlockNumber && first_room != insert)
			set_insert_hint(info, dirblk, slot, first_room);
	}
	msivf_scan_unlock(index);
}

/* ambulkdelete: removes the entries of dead rows; counts the ones left */
IndexBulkDeleteResult *
msivf_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				 IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;
	msivf_walk(info, stats, callback, callback_state);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

/*
 * Frees the pages of the old chains of split lists that the metapage
 * lists, a few pages to a record: each record turns up to three pages of
 * a chain into freed pages (empty last pages of a list, flagged, with the
 * next transaction ID) and, in the same record, moves the chain's entry in
 * the metapage past them (removes it at the chain's end).  So a crash
 * leaves every page either freed or still reachable from the metapage,
 * never both, and none is freed twice.
 *
 * No one can be reading these pages: a split switches a list to its new
 * chain holding the split lock exclusively, so no scan, insert or VACUUM
 * was in the lists then, and every later one reads the new chain.  A
 * standby replays without that lock: a standby scan still on an old chain
 * finds a freed page empty and ends there; the page is reused only once
 * no snapshot is older than its freeing (msivf_page_is_recyclable), which
 * covers standby queries under hot_standby_feedback.
 */
static int64
free_old_chains(IndexVacuumInfo *info, const MsivfState *st)
{
	Relation	index = info->index;
	int64		freed = 0;

	for (;;)
	{
		Buffer		mbuf;
		MsivfMetaTail tail;
		BlockNumber head;
		BlockNumber next;
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		Buffer		bufs[MAX_GENERIC_XLOG_PAGES - 1];
		int			nb = 0;
		GenericXLogState *state;
		Page		mpage;
		MsivfMetaPage meta;
		MsivfMetaTail *mt;
		TransactionId xid;

		vacuum_delay_point();
		mbuf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
		LockBuffer(mbuf, BUFFER_LOCK_SHARE);
		msivf_meta_read_tail(BufferGetPage(mbuf), &tail);
		UnlockReleaseBuffer(mbuf);
		if (tail.npending == 0)
			break;
		head = tail.pending[tail.npending - 1];

		/* up to three pages of the chain, exclusively */
		next = head;
		while (nb < (int) lengthof(bufs) && next != InvalidBlockNumber)
		{
			Buffer		buf;
			Page		page;
			MsivfPageOpaque opaque;

			if (next < st->first_list_block || next >= nblocks)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("msivf index \"%s\" has an old chain naming page %u",
								RelationGetRelationName(index), next),
						 errhint("REINDEX the index.")));
			buf = ReadBufferExtended(index, MAIN_FORKNUM, next, RBM_NORMAL, info->strategy);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			msivf_check_page(index, page, next, MSIVF_PAGE_LIST);
			opaque = MsivfPageGetOpaque(page);
			if (opaque->flags & MSIVF_LIST_FREED)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("msivf index \"%s\" has an old chain through the freed page %u",
								RelationGetRelationName(index), next),
						 errhint("REINDEX the index.")));
			bufs[nb++] = buf;
			next = opaque->next;
		}

		mbuf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		mpage = GenericXLogRegisterBuffer(state, mbuf, 0);
		msivf_meta_cover_tail(mpage);
		meta = MsivfPageGetMeta(mpage);
		mt = MsivfMetaGetTail(meta);
		if (mt->npending != tail.npending || mt->pending[mt->npending - 1] != head)
		{
			/* cannot happen: splits wait for VACUUM, and one VACUUM at a time */
			GenericXLogAbort(state);
			UnlockReleaseBuffer(mbuf);
			for (int i = 0; i < nb; i++)
				UnlockReleaseBuffer(bufs[i]);
			elog(ERROR, "msivf index \"%s\" changed while VACUUM freed an old chain",
				 RelationGetRelationName(index));
		}
		xid = ReadNextTransactionId();
		for (int i = 0; i < nb; i++)
		{
			Page		p = GenericXLogRegisterBuffer(state, bufs[i], 0);

			msivf_init_page(p, MSIVF_PAGE_LIST);
			MsivfPageGetOpaque(p)->flags = MSIVF_LIST_FREED;
			((PageHeader) p)->pd_prune_xid = xid;
		}
		if (next == InvalidBlockNumber)
			mt->npending--;
		else
			mt->pending[mt->npending - 1] = next;
		meta->leaked_pages = Max(0, meta->leaked_pages - nb);
		mt->freed_pages += nb;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(mbuf);
		for (int i = 0; i < nb; i++)
			UnlockReleaseBuffer(bufs[i]);
		freed += nb;
	}
	return freed;
}

/*
 * Records in the free space map every freed page that no snapshot can
 * still need (and counts the freed pages), reading every page past the
 * build's structure, as nbtree's VACUUM does; skipped in an index that
 * never freed a page.  The map is a hint that a crash may lose: this
 * finds the pages again.
 */
static void
record_free_pages(IndexVacuumInfo *info, const MsivfState *st, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	Buffer		mbuf;
	MsivfMetaTail tail;
	BlockNumber nblocks;

	mbuf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_SHARE);
	msivf_meta_read_tail(BufferGetPage(mbuf), &tail);
	UnlockReleaseBuffer(mbuf);
	if (tail.freed_pages == 0)
		return;

	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = st->first_list_block; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		MsivfPageOpaque opaque;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = MsivfPageGetOpaque(page);
		if (!PageIsNew(page) &&
			PageGetSpecialSize(page) == MAXALIGN(sizeof(MsivfPageOpaqueData)) &&
			opaque->page_type == MSIVF_PAGE_LIST && (opaque->flags & MSIVF_LIST_FREED))
		{
			stats->pages_deleted++;
			if (msivf_page_is_recyclable(page))
			{
				RecordFreeIndexPage(index, blkno);
				stats->pages_free++;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	IndexFreeSpaceMapVacuum(index);
}

/*
 * amvacuumcleanup: counts the entries when no bulkdelete pass did; frees
 * the pages of old chains and offers the freed ones to inserts and
 * splits; refreshes the calibration once the list count has moved by
 * more than MSIVF_RECALIBRATE_FRACTION.  All under the split lock in
 * share mode: no split runs meanwhile.
 */
IndexBulkDeleteResult *
msivf_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	MsivfState	st;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulkdelete pass ran: count the entries */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		msivf_walk(info, stats, NULL, NULL);
	}

	msivf_scan_lock(index);
	st = *msivf_get_state(index);
	st.centroids = NULL;
	st.centroid_norms = NULL;
	if (st.dims > 0 && !MSIVF_METRIC_IS_BITS(st.metric))
	{
		stats->pages_newly_deleted = free_old_chains(info, &st);
		record_free_pages(info, &st, stats);
		if (msivf_calibration_due(&st))
			msivf_recalibrate(index, info->strategy);
	}
	msivf_scan_unlock(index);

	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->estimated_count = false;
	return stats;
}
