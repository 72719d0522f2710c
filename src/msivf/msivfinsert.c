/*
 * msivfinsert.c
 *		aminsert for msivf: a new row goes to the list of its nearest
 *		centroid, into the first page of that list with room (after VACUUM
 *		that may be an earlier page), or onto a new page chained at the end;
 *		and msivf_insert_batch, the same for many rows at once.
 *
 * Inserters of lists sharing a directory page serialise on it: the
 * directory lock is taken first, then page locks in chain order, so
 * inserters and VACUUM (which holds one page lock at a time, and the
 * directory lock alone) cannot deadlock.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/table.h"
#include "catalog/index.h"
#include "access/rmgr.h"
#include "access/xloginsert.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "kmeans.h"
#include "msivf.h"

/* The first vector of an index built on an empty, untyped column fixes its dims. */
static void
set_meta_dims(Relation index, int dims)
{
	/* before any lock: the bits option may refuse the dimensions */
	int			code_bits = msivf_index_code_bits(index, dims);
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
		meta->code_bits = code_bits;
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
}

/* Adds entry after the page's own (the caller has checked there is room). */
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

/* one fragment of a generic WAL record's block data: where, how long, what */
typedef struct GenericFragment
{
	OffsetNumber offset;
	OffsetNumber length;
} GenericFragment;

/*
 * Registers the len bytes at at (on page) as one fragment of block
 * block_id's data, in the generic WAL format; frag must live until the
 * record is inserted.
 */
static void
register_fragment(uint8 block_id, GenericFragment *frag, Page page, const char *at, Size len)
{
	frag->offset = (OffsetNumber) (at - (char *) page);
	frag->length = (OffsetNumber) len;
	XLogRegisterBufData(block_id, (char *) frag, sizeof(GenericFragment));
	XLogRegisterBufData(block_id, (char *) at, len);
}

/* Put k entries after a list page's own; returns where they went. */
static char *
apply_append(Page page, const MsivfState *st, int k, const char *entries)
{
	PageHeader	ph = (PageHeader) page;
	MsivfPageOpaque opaque = MsivfPageGetOpaque(page);
	char	   *dst = PageGetContents(page) + (Size) opaque->nentries * st->entry_size;
	Size		len = (Size) k * st->entry_size;

	Assert(opaque->nentries + k <= st->entries_per_page);
	Assert(dst == (char *) page + ph->pd_lower);
	memcpy(dst, entries, len);
	opaque->nentries += k;
	ph->pd_lower = (LocationIndex) (dst + len - (char *) page);
	return dst;
}

/*
 * The block data of an append that apply_append made at dst: the three
 * ranges it changed (frags has room for their three headers).
 */
static void
register_append(uint8 block_id, GenericFragment *frags, Page page, const char *dst, Size len)
{
	register_fragment(block_id, &frags[0], page, (char *) &((PageHeader) page)->pd_lower,
					  sizeof(LocationIndex));
	register_fragment(block_id, &frags[1], page, dst, len);
	register_fragment(block_id, &frags[2], page, (char *) &MsivfPageGetOpaque(page)->nentries,
					  sizeof(uint16));
}

/*
 * Append k entries to a list page that has room for them (and point the
 * list's insert hint at it when dbuf is valid).  This is the hot path of
 * every insert, so instead of GenericXLog's copy and byte-wise diff of
 * the whole page (which costs in proportion to how full the page is),
 * the record is built from the three ranges known to change: pd_lower,
 * the new entries, the entry count.  The record is the one
 * GenericXLogFinish would write, in the generic WAL format that
 * generic_redo replays (access/transam/generic_xlog.c: per block, a run
 * of fragments, each an OffsetNumber offset and length followed by the
 * bytes), which PostgreSQL has kept unchanged since 9.6; redo zeroes the
 * hole between pd_lower and pd_upper, which the append leaves untouched
 * and GenericXLog keeps zeroed.
 */
static void
append_on_page(Relation index, const MsivfState *st, Buffer buf, int k,
			   const char *entries, Buffer dbuf, int slot, BlockNumber blkno)
{
	Page		page = BufferGetPage(buf);
	Page		dpage = BufferIsValid(dbuf) ? BufferGetPage(dbuf) : NULL;
	MsivfListInfo *info = dpage ? &msivf_dir_entries(dpage)[slot] : NULL;
	GenericFragment frags[4];
	char	   *dst;

	START_CRIT_SECTION();
	dst = apply_append(page, st, k, entries);
	MarkBufferDirty(buf);
	if (info)
	{
		info->insert = blkno;
		MarkBufferDirty(dbuf);
	}
	if (RelationNeedsWAL(index))
	{
		XLogRecPtr	lsn;

		XLogBeginInsert();
		XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
		register_append(0, frags, page, dst, (Size) k * st->entry_size);
		if (info)
		{
			XLogRegisterBuffer(1, dbuf, REGBUF_STANDARD);
			register_fragment(1, &frags[3], dpage, (char *) &info->insert, sizeof(info->insert));
		}
		lsn = XLogInsert(RM_GENERIC_ID, 0);
		PageSetLSN(page, lsn);
		if (info)
			PageSetLSN(dpage, lsn);
	}
	END_CRIT_SECTION();
}

/*
 * Append n entries (back to back in entries) to one list, whose directory
 * page dbuf the caller holds locked exclusively: each into the first page
 * of the list with room, from the directory's insert hint on, chaining new
 * pages at the end as needed.  The entries that go onto one page take one
 * lock and one WAL record: a batch of rows for the same list pays those
 * once per page rather than once per row.
 */
static void
append_entries_locked(Relation index, const MsivfState *st, Buffer dbuf, int slot,
					  const char *entries, int n)
{
	BlockNumber blkno;
	BlockNumber start;
	int			done = 0;
	BlockNumber nblocks = 0;
	BlockNumber followed = 0;

	start = blkno = msivf_list_info(index, st, BufferGetPage(dbuf), slot, &nblocks).insert;

	while (done < n)
	{
		Buffer		buf;
		Page		page;
		MsivfPageOpaque opaque;
		GenericXLogState *state;

		/* checked as read: the hint above, the next links below */
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		msivf_check_list_page(index, st, page, blkno, &nblocks);
		opaque = MsivfPageGetOpaque(page);

		if (opaque->nentries < st->entries_per_page)
		{
			int			k = Min(st->entries_per_page - opaque->nentries, n - done);

			append_on_page(index, st, buf, k, entries + (Size) done * st->entry_size,
						   blkno != start ? dbuf : InvalidBuffer, slot, blkno);
			start = blkno;
			done += k;
			if (done == n)
			{
				UnlockReleaseBuffer(buf);
				break;
			}
		}
		/* the page is full (now): on along the chain */
		if (opaque->next != InvalidBlockNumber)
		{
			/*
			 * Interrupts wait while the directory is locked, so a chain
			 * damaged into a loop must end here, not spin forever.
			 */
			msivf_chain_step(index, &followed, &nblocks);
			blkno = opaque->next;
			UnlockReleaseBuffer(buf);
			continue;
		}

		/* the last page is full: chain a new one */
		{
			Buffer		nbuf = msivf_alloc_buffer(index);
			BlockNumber nblkno = BufferGetBlockNumber(nbuf);
			Page		npage;
			Page		dpage;
			MsivfListInfo *info;
			int			k = Min(st->entries_per_page, n - done);

			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);
			dpage = GenericXLogRegisterBuffer(state, dbuf, 0);
			msivf_init_page(npage, MSIVF_PAGE_LIST);
			for (int i = 0; i < k; i++)
				put_entry(npage, st, (const MsivfEntry *) (entries + (Size) (done + i) * st->entry_size));
			MsivfPageGetOpaque(page)->next = nblkno;
			info = &msivf_dir_entries(dpage)[slot];
			info->insert = nblkno;
			info->tail = nblkno;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(nbuf);
			UnlockReleaseBuffer(buf);
			done += k;
			/* more to go: the new page is full, the next one chains onto it */
			start = blkno = nblkno;
		}
	}
}

/* append_entries_locked, taking the list's directory lock for it */
void
msivf_append_entries(Relation index, const MsivfState *st, int list,
					 const char *entries, int n)
{
	int			slot;
	BlockNumber dirblk = msivf_dir_block(st, list, &slot);
	Buffer		dbuf = ReadBuffer(index, dirblk);

	LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
	msivf_check_dir_page(index, st, BufferGetPage(dbuf), dirblk);
	append_entries_locked(index, st, dbuf, slot, entries, n);
	UnlockReleaseBuffer(dbuf);
}

/* msivf_append_entries for a single entry */
void
msivf_append_entry(Relation index, const MsivfState *st, int list,
				   const MsivfEntry *entry)
{
	msivf_append_entries(index, st, list, (const char *) entry, 1);
}

/* A vec of another dimension than the index's is an error, not skipped. */
static void
check_entry_dims(Relation index, const MsivfState *st, int dim)
{
	if (dim != st->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", st->dims, dim),
				 errdetail("The msivf index \"%s\" holds vecs of %d dimensions.",
						   RelationGetRelationName(index), st->dims)));
}

/*
 * aminsert: the row's entry goes to its nearest list.  A NULL and, under
 * cosine, a zero vec are not indexed; the first vec of an index built
 * without dimensions fixes them.
 */
bool
msivf_insert(Relation index, Datum *values, bool *isnull,
			 ItemPointer heap_tid, Relation heap,
			 IndexUniqueCheck checkUnique, bool indexUnchanged,
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
	int			list = -1;

	if (isnull[0])
		return false;
	if (msivf_index_is_bits(index))
		return msivf_bits_insert(index, values[0], heap_tid);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf insert", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);

	v = msivf_datum_vec(values[0]);
	/* no split while the entry is placed and encoded (msivfsplit.c) */
	msivf_scan_lock(index);
	st = msivf_get_state(index);
	if (st->dims == 0)
	{
		msivf_check_dims(v->dim);
		set_meta_dims(index, v->dim);
		st = msivf_get_state(index);
	}
	check_entry_dims(index, st, v->dim);

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
	msivf_scan_unlock(index);
	if (list >= 0)
		msivf_maybe_split(index, heap, list);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}

/*
 * List pages with room for a batch's entries, locked and waiting to be
 * appended to under one WAL record: a batch spreads over many lists with
 * an entry or two each, and one record for up to MAX_GENERIC_XLOG_PAGES
 * pages (what generic_redo replays at most) costs far less than one each.
 */
typedef struct PageAppends
{
	Relation	index;
	const MsivfState *st;
	int			npages;
	Buffer		bufs[MAX_GENERIC_XLOG_PAGES];
	int			counts[MAX_GENERIC_XLOG_PAGES];
	const char *entries[MAX_GENERIC_XLOG_PAGES];
	GenericFragment frags[MAX_GENERIC_XLOG_PAGES][3];
} PageAppends;

/*
 * Appends every pending page's entries under one WAL record (the hand-built
 * generic record of append_on_page, one block per page) and unlocks the
 * pages.
 */
static void
flush_page_appends(PageAppends *pa)
{
	char	   *dst[MAX_GENERIC_XLOG_PAGES];

	if (pa->npages == 0)
		return;
	START_CRIT_SECTION();
	for (int i = 0; i < pa->npages; i++)
	{
		dst[i] = apply_append(BufferGetPage(pa->bufs[i]), pa->st, pa->counts[i], pa->entries[i]);
		MarkBufferDirty(pa->bufs[i]);
	}
	if (RelationNeedsWAL(pa->index))
	{
		XLogRecPtr	lsn;

		XLogBeginInsert();
		for (int i = 0; i < pa->npages; i++)
		{
			XLogRegisterBuffer(i, pa->bufs[i], REGBUF_STANDARD);
			register_append(i, pa->frags[i], BufferGetPage(pa->bufs[i]), dst[i],
							(Size) pa->counts[i] * pa->st->entry_size);
		}
		lsn = XLogInsert(RM_GENERIC_ID, 0);
		for (int i = 0; i < pa->npages; i++)
			PageSetLSN(BufferGetPage(pa->bufs[i]), lsn);
	}
	END_CRIT_SECTION();
	for (int i = 0; i < pa->npages; i++)
		UnlockReleaseBuffer(pa->bufs[i]);
	pa->npages = 0;
}

typedef struct PendingEntry
{
	int			list;
	int			seq;			/* arrival order, kept within a list */
	char	   *entry;
} PendingEntry;

/* qsort comparator: by list, then arrival order */
static int
cmp_pending(const void *a, const void *b)
{
	const PendingEntry *x = (const PendingEntry *) a;
	const PendingEntry *y = (const PendingEntry *) b;

	if (x->list != y->list)
		return x->list < y->list ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The rows of a batch detoasted, NULL for a NULL row, before anything is
 * read from the index: detoasting may take locks, which may invalidate
 * the cached state.  Returns the dimensions of the first non-NULL row, 0
 * when every row is NULL.
 */
static int
batch_detoast(int n, Datum *values, bool *isnull, Vec **vecs)
{
	int			dims = 0;

	for (int i = 0; i < n; i++)
	{
		vecs[i] = isnull[i] ? NULL : msivf_datum_vec(values[i]);
		if (vecs[i] && dims == 0)
			dims = vecs[i]->dim;
	}
	return dims;
}

/*
 * The rows to index, prepared (normalised under cosine), back to back in
 * x, with their positions in the batch in rows; returns how many.  Rows
 * of another dimension are an error; NULL rows and zero vecs under cosine
 * are left out.
 */
static int
batch_prepare(Relation index, const MsivfState *st, int n, Vec **vecs,
			  float *x, int *rows)
{
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		Vec		   *v = vecs[i];

		if (v == NULL)
			continue;
		check_entry_dims(index, st, v->dim);
		if (!msivf_prepare_vector(st->metric, v->x, st->dims, x + (Size) m * st->dims))
			continue;
		rows[m++] = i;
	}
	return m;
}

/*
 * The list of each of the m prepared rows: one sgemm against all
 * centroids rather than a kernel call per (row, centroid).  A near tie may
 * go the other way than msivf_nearest_list's; either list is a correct
 * home for the entry.
 */
static int32 *
batch_assign(const MsivfState *st, const float *x, int m)
{
	int32	   *assign = palloc(sizeof(int32) * Max(m, 1));

	if (st->centroids == NULL || st->nlists == 1 || m == 0)
		memset(assign, 0, sizeof(int32) * Max(m, 1));
	else
	{
		size_t		work_floats = (size_t) st->nlists * Min(m, 256);
		float	   *work = palloc(sizeof(float) * work_floats);

		kmeans_assign(x, m, st->dims, st->centroids, st->centroid_norms, st->nlists,
					  MSIVF_METRIC_EUCLIDEAN_LISTS(st->metric) ? KMEANS_L2 : KMEANS_IP,
					  assign, NULL, work, work_floats);
		pfree(work);
	}
	return assign;
}

/*
 * The entries of the m prepared rows, encoded for their lists and grouped
 * by list (in list order, arrival order within a list) back to back in
 * *grouped; *pending says which list each belongs to, in the same order.
 */
static void
batch_encode(const MsivfState *st, const float *x, int m, const int *rows,
			 const int32 *assign, ItemPointer heap_tids,
			 PendingEntry **pending, char **grouped)
{
	float	   *work = palloc(sizeof(float) * st->dims);
	PendingEntry *pe = palloc(sizeof(PendingEntry) * Max(m, 1));
	char	   *entries = palloc((Size) Max(m, 1) * st->entry_size);
	char	   *out;

	for (int j = 0; j < m; j++)
	{
		PendingEntry *p = &pe[j];

		p->list = assign[j];
		p->seq = j;
		p->entry = entries + (Size) j * st->entry_size;
		msivf_encode_entry(st, x + (Size) j * st->dims, p->list, &heap_tids[rows[j]],
						   (MsivfEntry *) p->entry, work);
	}
	qsort(pe, m, sizeof(PendingEntry), cmp_pending);
	out = palloc((Size) Max(m, 1) * st->entry_size);
	for (int i = 0; i < m; i++)
		memcpy(out + (Size) i * st->entry_size, pe[i].entry, st->entry_size);
	*pending = pe;
	*grouped = out;
}

/*
 * Appends the m grouped entries to their lists.  Each list's entries go
 * onto the page its insert hint names when they fit there (the common
 * case: a few entries per list), several lists' pages to a WAL record;
 * otherwise along the list's chain as msivf_append_entries goes.  A
 * directory page stays locked while its lists take their entries: the
 * lists are in order, so that is once.
 */
static void
batch_append(Relation index, const MsivfState *st, const PendingEntry *pending,
			 const char *grouped, int m)
{
	PageAppends pa;
	BlockNumber dirblk = InvalidBlockNumber;
	Buffer		dbuf = InvalidBuffer;
	BlockNumber nblocks = 0;

	if (RelationNeedsWAL(index))
		XLogEnsureRecordSpace(0, MAX_GENERIC_XLOG_PAGES * 3 * 2);
	pa.index = index;
	pa.st = st;
	pa.npages = 0;
	for (int i = 0; i < m;)
	{
		int			j = i + 1;
		int			slot;
		BlockNumber blkno;
		Buffer		buf;
		Page		page;
		const char *list_entries = grouped + (Size) i * st->entry_size;

		while (j < m && pending[j].list == pending[i].list)
			j++;
		blkno = msivf_dir_block(st, pending[i].list, &slot);
		if (blkno != dirblk)
		{
			flush_page_appends(&pa);
			if (BufferIsValid(dbuf))
				UnlockReleaseBuffer(dbuf);
			dirblk = blkno;
			dbuf = ReadBuffer(index, dirblk);
			LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
			msivf_check_dir_page(index, st, BufferGetPage(dbuf), dirblk);
		}
		blkno = msivf_list_info(index, st, BufferGetPage(dbuf), slot, &nblocks).insert;
		/* a damaged hint must not make us wait on a lock we hold */
		for (int q = 0; q < pa.npages; q++)
			if (BufferGetBlockNumber(pa.bufs[q]) == blkno)
				flush_page_appends(&pa);
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		msivf_check_list_page(index, st, page, blkno, &nblocks);
		if (MsivfPageGetOpaque(page)->nentries + (j - i) <= st->entries_per_page)
		{
			pa.bufs[pa.npages] = buf;
			pa.counts[pa.npages] = j - i;
			pa.entries[pa.npages] = list_entries;
			if (++pa.npages == MAX_GENERIC_XLOG_PAGES)
				flush_page_appends(&pa);
		}
		else
		{
			/* no page locks held while the chain grows (extension lock) */
			UnlockReleaseBuffer(buf);
			flush_page_appends(&pa);
			append_entries_locked(index, st, dbuf, slot, list_entries, j - i);
		}
		i = j;
	}
	flush_page_appends(&pa);
	if (BufferIsValid(dbuf))
		UnlockReleaseBuffer(dbuf);
}

/* msivf_maybe_split for every list a batch appended to */
static void
split_batch_lists(Relation index, const PendingEntry *pending, int m)
{
	Relation	heap = NULL;

	for (int i = 0; i < m; i++)
	{
		if (i > 0 && pending[i].list == pending[i - 1].list)
			continue;
		if (heap == NULL)
			heap = table_open(IndexGetRelation(RelationGetRelid(index), false), NoLock);
		msivf_maybe_split(index, heap, pending[i].list);
	}
	if (heap)
		table_close(heap, NoLock);
}

/*
 * Index n heap rows at once (values[i] at heap_tids[i]), as n calls of
 * msivf_insert would, but appending the entries of each list together, so
 * that a page takes one WAL record per batch rather than one per row.  For
 * bulk loaders that insert many rows and then index them (ms.ingest).
 */
void
msivf_insert_batch(Relation index, int n, Datum *values, bool *isnull,
				   ItemPointer heap_tids)
{
	MemoryContext cxt;
	MemoryContext old;
	Vec		  **vecs;
	MsivfState *st;
	MsivfState	copy;
	PendingEntry *pending;
	char	   *grouped;
	float	   *x;
	int		   *rows;
	int32	   *assign;
	int			m;
	int			dims;

	if (n <= 0)
		return;
	if (msivf_index_is_bits(index))
	{
		/* a bvec index takes its rows one by one */
		for (int i = 0; i < n; i++)
			if (!isnull[i])
				msivf_bits_insert(index, values[i], &heap_tids[i]);
		return;
	}
	cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf batch insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	vecs = palloc(sizeof(Vec *) * n);
	dims = batch_detoast(n, values, isnull, vecs);
	if (dims > 0)
	{
		msivf_scan_lock(index);
		st = msivf_get_state(index);
		if (st->dims == 0)
		{
			msivf_check_dims(dims);
			set_meta_dims(index, dims);
			st = msivf_get_state(index);
		}
		x = palloc(sizeof(float) * (Size) n * st->dims);
		rows = palloc(sizeof(int) * n);
		m = batch_prepare(index, st, n, vecs, x, rows);
		assign = batch_assign(st, x, m);
		batch_encode(st, x, m, rows, assign, heap_tids, &pending, &grouped);

		/* st may go stale once locks are taken: keep the scalars only */
		copy = *st;
		copy.centroids = NULL;
		copy.centroid_norms = NULL;
		batch_append(index, &copy, pending, grouped, m);
		msivf_scan_unlock(index);
		split_batch_lists(index, pending, m);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
