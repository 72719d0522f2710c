/*
 * msivfinsert.c
 *		aminsert for msivf: a new row goes to the list of its nearest
 *		centroid, into the first page of that list with room (after VACUUM
 *		that may be an earlier page), or onto a new page chained at the end.
 *
 * Inserters of lists sharing a directory page serialise on it: the
 * directory lock is taken first, then page locks in chain order, so
 * inserters and VACUUM (which holds one page lock at a time, and the
 * directory lock alone) cannot deadlock.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "msivf.h"

/* The first vector of an index built on an empty, untyped column fixes its dims. */
static void
set_meta_dims(Relation index, int dims)
{
	Buffer		buf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;
	MsivfMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	meta = MsivfPageGetMeta(page);
	if (meta->dims == 0)
	{
		meta->dims = dims;
		meta->code_bits = msivf_code_bits(dims);
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
}

static void
put_entry(Page page, const MsivfState *st, const MsivfEntry *entry)
{
	MsivfPageOpaque opaque = MsivfPageGetOpaque(page);

	memcpy(PageGetContents(page) + (Size) opaque->nentries * st->entry_size,
		   entry, st->entry_size);
	opaque->nentries++;
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) +
		opaque->nentries * st->entry_size;
}

void
msivf_append_entry(Relation index, const MsivfState *st, int list,
				   const MsivfEntry *entry)
{
	int			slot;
	BlockNumber dirblk = msivf_dir_block(st, list, &slot);
	Buffer		dbuf = ReadBuffer(index, dirblk);
	BlockNumber blkno;
	BlockNumber start;

	LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
	msivf_check_page(index, BufferGetPage(dbuf), dirblk, MSIVF_PAGE_DIRECTORY);
	start = blkno = msivf_dir_entries(BufferGetPage(dbuf))[slot].insert;

	for (;;)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		MsivfPageOpaque opaque;
		GenericXLogState *state;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		msivf_check_page(index, page, blkno, MSIVF_PAGE_LIST);
		opaque = MsivfPageGetOpaque(page);

		if (opaque->nentries < st->entries_per_page)
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			put_entry(page, st, entry);
			if (blkno != start)
			{
				Page		dpage = GenericXLogRegisterBuffer(state, dbuf, 0);

				msivf_dir_entries(dpage)[slot].insert = blkno;
			}
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			break;
		}
		if (opaque->next != InvalidBlockNumber)
		{
			blkno = opaque->next;
			UnlockReleaseBuffer(buf);
			continue;
		}

		/* the last page is full: chain a new one */
		{
			Buffer		nbuf = msivf_new_buffer(index, MAIN_FORKNUM);
			BlockNumber nblkno = BufferGetBlockNumber(nbuf);
			Page		npage;
			Page		dpage;
			MsivfListInfo *info;

			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);
			dpage = GenericXLogRegisterBuffer(state, dbuf, 0);
			msivf_init_page(npage, MSIVF_PAGE_LIST);
			put_entry(npage, st, entry);
			MsivfPageGetOpaque(page)->next = nblkno;
			info = &msivf_dir_entries(dpage)[slot];
			info->insert = nblkno;
			info->tail = nblkno;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(nbuf);
			UnlockReleaseBuffer(buf);
			break;
		}
	}
	UnlockReleaseBuffer(dbuf);
}

bool
msivf_insert(Relation index, Datum *values, bool *isnull,
			 ItemPointer heap_tid, Relation heap,
			 IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
			 bool indexUnchanged,
#endif
			 IndexInfo *indexInfo)
{
	MemoryContext cxt;
	MemoryContext old;
	Vec		   *v;
	MsivfState *st;
	MsivfState	copy;
	float	   *x;
	float	   *work;
	MsivfEntry *entry;
	int			list;

	if (isnull[0])
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf insert", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);

	v = msivf_datum_vec(values[0]);
	st = msivf_get_state(index);
	if (st->dims == 0)
	{
		msivf_check_dims(v->dim);
		set_meta_dims(index, v->dim);
		st = msivf_get_state(index);
	}
	if (v->dim != st->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", st->dims, v->dim),
				 errdetail("The msivf index \"%s\" holds vecs of %d dimensions.",
						   RelationGetRelationName(index), st->dims)));

	x = palloc(sizeof(float) * st->dims);
	if (msivf_prepare_vector(st->metric, v->x, st->dims, x))
	{
		work = palloc(sizeof(float) * st->dims);
		entry = palloc(st->entry_size);
		list = msivf_nearest_list(st, x);
		msivf_encode_entry(st, x, list, heap_tid, entry, work);
		/* st may go stale once locks are taken: keep the scalars only */
		copy = *st;
		copy.centroids = NULL;
		copy.centroid_norms = NULL;
		msivf_append_entry(index, &copy, list, entry);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
