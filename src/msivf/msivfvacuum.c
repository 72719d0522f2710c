/*
 * msivfvacuum.c
 *		VACUUM for msivf: remove the entries of dead rows, compacting each
 *		page in place so inserts reuse the room, and point each list's
 *		insert position at its first page with room again.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
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

/* amvacuumcleanup: counts the entries when no bulkdelete pass did */
IndexBulkDeleteResult *
msivf_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulkdelete pass ran: count the entries */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		msivf_walk(info, stats, NULL, NULL);
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	stats->estimated_count = false;
	return stats;
}
