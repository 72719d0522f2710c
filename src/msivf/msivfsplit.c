/*
 * msivfsplit.c
 *		Online growth of an msivf index: a list that outgrows its share is
 *		split in two by a local 2-means, the new list's directory entry and
 *		centroid going to a growth page, so that an index built on an empty
 *		or small table keeps its recall and speed as rows arrive, without
 *		REINDEX.  Also the lock that keeps splits away from scans, inserts
 *		and VACUUM, and the reading of growth pages into the cached state.
 *
 * A split never changes a page anyone can reach before its last record:
 * both halves are written to new chains, then one GenericXLog record of
 * at most three pages (the split list's directory page, the new list's
 * growth page, the metapage) points the old list at its new chain, gives
 * the new list its chain and centroid, and bumps the list count and the
 * generation that keys every backend's cached centroids.  The old chain
 * is left as it was, its head recorded in the metapage for VACUUM to free
 * its pages (msivfvacuum.c); until then they count in leaked_pages.
 * See README.md, "Growth".
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "kmeans.h"
#include "msivf.h"

/* a list's share is at least this many entries: tiny lists are not split */
#define MSIVF_SPLIT_MIN_SHARE	100
/* a list splits once it holds more than this many times its share */
#define MSIVF_SPLIT_FACTOR		2
#define MSIVF_SPLIT_ITERS		10

/* Slots of a growth page for dims dimensions; 0 when one does not fit. */
int
msivf_growth_per_page(int dims)
{
	return (int) (MSIVF_PAGE_CAPACITY / MSIVF_GROWTH_SLOT_SIZE(dims));
}

/* slot i of a growth page of k slots: centroids after the k directory entries */
static MsivfGrowthSlot *
growth_slot(Page page, int k, int dims, int i)
{
	return (MsivfGrowthSlot *) (PageGetContents(page) + sizeof(MsivfListInfo) * k +
								(MSIVF_GROWTH_SLOT_SIZE(dims) - sizeof(MsivfListInfo)) * i);
}

/*
 * Splits and the readers of lists they would disturb exclude each other
 * through a heavyweight lock on the metapage's page tag: scans, inserts
 * and VACUUM hold it in share mode for their duration, a split takes it
 * exclusively only when it is free (never waiting).  So no scan sees a
 * list change under it, no insert encodes against a centroid that moved,
 * and no VACUUM misses entries a split copied.
 */
void
msivf_scan_lock(Relation index)
{
	LockPage(index, MSIVF_METAPAGE_BLKNO, ShareLock);
}

void
msivf_scan_unlock(Relation index)
{
	UnlockPage(index, MSIVF_METAPAGE_BLKNO, ShareLock);
}

/*
 * The lists splits created (st->built_lists up to st->nlists) and the new
 * centroids of the lists they split, into st->centroids.  A slot below
 * nlists never changes but its directory entry, so this reads a state
 * consistent with the metapage read before, whatever splits follow.
 */
void
msivf_read_growth(Relation index, MsivfState *st)
{
	int			k = st->growth_per_page;
	int			ngrown = st->nlists - st->built_lists;
	int			d = st->dims;

	for (int p = 0; p * k < ngrown; p++)
	{
		BlockNumber blkno = st->growth_pages[p];
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		int			n = Min(k, ngrown - p * k);

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		msivf_check_page(index, page, blkno, MSIVF_PAGE_GROWTH);
		if (MsivfPageGetOpaque(page)->nentries < n)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("msivf index \"%s\" has a corrupted growth page %u",
							RelationGetRelationName(index), blkno),
					 errdetail("It holds %d lists, not %d.",
							   MsivfPageGetOpaque(page)->nentries, n),
					 errhint("REINDEX the index.")));
		for (int i = 0; i < n; i++)
		{
			MsivfGrowthSlot *s = growth_slot(page, k, d, i);
			int			list = st->built_lists + p * k + i;

			memcpy(st->centroids + (Size) list * d, s->c, sizeof(float) * d);
			if (s->parent >= 0)
			{
				if (s->parent >= list)
					ereport(ERROR,
							(errcode(ERRCODE_INDEX_CORRUPTED),
							 errmsg("msivf index \"%s\" has a corrupted growth page %u",
									RelationGetRelationName(index), blkno),
							 errdetail("List %d names list %d as its parent.", list, s->parent),
							 errhint("REINDEX the index.")));
				if (MSIVF_GROWTH_MOVES_PARENT(d))
					memcpy(st->centroids + (Size) s->parent * d, s->c + d, sizeof(float) * d);
			}
		}
		UnlockReleaseBuffer(buf);
	}
}

/* entries of the index's list pages, estimated from its size */
static double
estimated_entries(Relation index, const MsivfState *st, int64 leaked)
{
	double		pages = (double) RelationGetNumberOfBlocks(index) - st->first_list_block -
		st->ngrowth_pages - leaked - st->nlists / 2.0;

	return Max(0.0, pages) * st->entries_per_page;
}

/* the entries a list may hold before it splits */
static double
split_threshold(const MsivfState *st, double n, int64 built_tuples)
{
	double		share = Max(sqrt(n), (double) built_tuples / Max(1, st->built_lists));

	return MSIVF_SPLIT_FACTOR * Max(share, MSIVF_SPLIT_MIN_SHARE);
}

/* the metapage's built_tuples and leaked_pages */
static void
read_meta_counts(Relation index, int64 *built_tuples, int64 *leaked)
{
	Buffer		buf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	MsivfMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	meta = MsivfPageGetMeta(BufferGetPage(buf));
	*built_tuples = meta->built_tuples;
	*leaked = meta->leaked_pages;
	UnlockReleaseBuffer(buf);
}

/*
 * Readers of the indexed vec of heap rows by TID, any version: a split
 * reads its list's rows, VACUUM's recalibration its queries' and their
 * neighbours'.
 */
void
msivf_heap_vecs_begin(MsivfHeapVecs *hv, Relation heap, Relation index)
{
	hv->fetch = table_index_fetch_begin(heap);
	hv->slot = table_slot_create(heap, NULL);
	hv->indexInfo = BuildIndexInfo(index);
	hv->attno = hv->indexInfo->ii_IndexAttrNumbers[0];
	hv->estate = hv->attno == 0 ? CreateExecutorState() : NULL;
}

void
msivf_heap_vecs_end(MsivfHeapVecs *hv)
{
	table_index_fetch_end(hv->fetch);
	ExecDropSingleTupleTableSlot(hv->slot);
	if (hv->estate)
		FreeExecutorState(hv->estate);
}

/*
 * The indexed vec of the heap row at tid (any version), prepared into x;
 * false when the row has no version left, or its vec is not indexed.
 */
bool
msivf_heap_vec(MsivfHeapVecs *hv, const MsivfState *st, ItemPointer tid, float *x)
{
	bool		call_again = false;
	bool		all_dead = false;
	Datum		d;
	bool		isnull;
	Vec		   *v;
	bool		ok;

	/*
	 * Any version of the row will do: every version an index entry can
	 * reach holds the same indexed value (HOT).  A row with no version left
	 * is dead to every snapshot, so its entry may go.
	 */
	if (!table_index_fetch_tuple(hv->fetch, tid, SnapshotAny, hv->slot, &call_again, &all_dead))
		return false;
	if (hv->attno != 0)
		d = slot_getattr(hv->slot, hv->attno, &isnull);
	else
	{
		ExprContext *econtext = GetPerTupleExprContext(hv->estate);
		Datum		values[INDEX_MAX_KEYS];
		bool		nulls[INDEX_MAX_KEYS];

		ResetExprContext(econtext);
		econtext->ecxt_scantuple = hv->slot;
		FormIndexDatum(hv->indexInfo, hv->slot, hv->estate, values, nulls);
		d = values[0];
		isnull = nulls[0];
	}
	ok = !isnull;
	if (ok)
	{
		v = msivf_datum_vec(d);
		ok = v->dim == st->dims && msivf_prepare_vector(st->metric, v->x, st->dims, x);
	}
	ExecClearTuple(hv->slot);
	return ok;
}

/*
 * Under inner product the two unit centroids of a split take the length of
 * the list's centroid, which the build gave every centroid, so that they
 * compete with the other lists by angle alone; the common length of the
 * split's rows when the list's centroid is the origin (an index that had
 * one list).
 */
static void
scale_split_centroids(const float *x, int n, int d, float *c2,
					  const int32 *assign, const float *parent)
{
	double		norm2 = 0;
	float		s;

	for (int j = 0; j < d; j++)
		norm2 += (double) parent[j] * parent[j];
	if (!(norm2 > 0) || !isfinite(norm2))
	{
		kmeans_common_scale(x, n, d, c2, 2, assign);
		return;
	}
	s = (float) sqrt(norm2);
	for (int j = 0; j < 2 * d; j++)
		c2[j] *= s;
}

/*
 * Where a growth slot has no room for the parent's moved centroid: the
 * parent keeps its centroid (c2's first), the new list starts from the
 * trained centre farther from it (c2's second) and moves to the mean of
 * the rows it takes, with the length the trained centres had under
 * inner product and cosine.  assign gets each row's side.
 */
static void
split_around_parent(const float *x, int n, int d, const MsivfState *st, int list,
					float *c2, KmeansMetric km, int32 *assign, float *work, size_t wf)
{
	const float *parent = st->centroids + (Size) list * d;
	double		far[2] = {0, 0};
	double		len2 = 0;
	int			start;

	for (int s = 0; s < 2; s++)
		for (int j = 0; j < d; j++)
			far[s] += ((double) c2[s * d + j] - parent[j]) * ((double) c2[s * d + j] - parent[j]);
	start = far[1] >= far[0] ? 1 : 0;
	if (start == 0)
		memcpy(c2 + d, c2, sizeof(float) * d);
	memcpy(c2, parent, sizeof(float) * d);
	for (int j = 0; j < d; j++)
		len2 += (double) c2[d + j] * c2[d + j];
	kmeans_split_from_fixed(x, n, d, c2, MSIVF_SPLIT_ITERS, km,
							MSIVF_METRIC_ANGULAR_LISTS(st->metric) ? (float) sqrt(len2) : 0.0f,
							assign, palloc(sizeof(double) * d), work, wf);
}

/*
 * Writes n entries as a new chain, last page first so that each page is
 * written once, whole, in one record.  Returns the head; *tail the last
 * page (the only one with room).
 */
static BlockNumber
write_chain(Relation index, const MsivfState *st, const char *entries, int n,
			BlockNumber *tail)
{
	int			epp = st->entries_per_page;
	int			npages = Max(1, (n + epp - 1) / epp);
	BlockNumber next = InvalidBlockNumber;

	*tail = InvalidBlockNumber;
	for (int p = npages - 1; p >= 0; p--)
	{
		int			first = p * epp;
		int			cnt = Min(epp, n - first);
		Buffer		buf = msivf_alloc_buffer(index);
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

		msivf_init_page(page, MSIVF_PAGE_LIST);
		if (cnt > 0)
			memcpy(PageGetContents(page), entries + (Size) first * st->entry_size,
				   (Size) cnt * st->entry_size);
		MsivfPageGetOpaque(page)->nentries = cnt;
		MsivfPageGetOpaque(page)->next = next;
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) +
			(Size) cnt * st->entry_size;
		GenericXLogFinish(state);
		next = BufferGetBlockNumber(buf);
		if (*tail == InvalidBlockNumber)
			*tail = next;
		UnlockReleaseBuffer(buf);
	}
	return next;
}

/*
 * Splits list under the exclusive split lock, if it still outgrows its
 * share.  Returns nothing: a split that cannot be made (no room for
 * another list, one side empty) is skipped, to be tried again later.
 */
static void
split_list(Relation index, Relation heap, int list)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf split",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MsivfState *cached = msivf_get_state(index);
	MsivfState *st = palloc(sizeof(MsivfState));
	MsivfState	enc;
	int			d;
	int			child;
	int			g;
	int64		built_tuples;
	int64		leaked;
	int			slot;
	BlockNumber dirblk;
	Buffer		dbuf;
	MsivfListInfo info;
	BlockNumber nblocks = 0;
	BlockNumber blkno;
	BlockNumber followed = 0;
	int64		old_pages = 0;
	ItemPointerData *tids = NULL;
	int			ntids = 0;
	int			cap = 256;
	float	   *x;
	int			n = 0;
	MsivfHeapVecs hv;
	float	   *c2;
	int32	   *assign;
	float	   *work;
	size_t		block;
	char	   *ent[2];
	int			cnt[2] = {0, 0};
	float	   *scratch;
	BlockNumber heads[2];
	BlockNumber tails[2];
	Buffer		gbuf = InvalidBuffer;
	bool		new_gpage = false;
	Buffer		mbuf;
	GenericXLogState *state;
	Page		dpage;
	Page		gpage;
	Page		mpage;
	MsivfMetaPage meta;
	MsivfGrowthSlot *gs;
	int			gpos;
	MsivfMetaTail *tail;

	*st = *cached;
	st->centroids = palloc(sizeof(float) * (Size) cached->nlists * cached->dims);
	if (cached->centroids)
		memcpy(st->centroids, cached->centroids, sizeof(float) * (Size) cached->nlists * cached->dims);
	else
		memset(st->centroids, 0, sizeof(float) * (Size) cached->nlists * cached->dims);
	st->centroid_norms = NULL;
	d = st->dims;
	child = st->nlists;
	g = child - st->built_lists;
	if (d == 0 || st->growth_per_page == 0 || child >= MSIVF_MAX_LISTS ||
		list >= st->nlists || g / st->growth_per_page >= MSIVF_MAX_GROWTH_PAGES)
		goto done;
	read_meta_counts(index, &built_tuples, &leaked);

	/* the list, under its directory lock: no one appends meanwhile */
	dirblk = msivf_dir_block(st, list, &slot);
	dbuf = ReadBuffer(index, dirblk);
	LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
	msivf_check_dir_page(index, st, BufferGetPage(dbuf), dirblk);
	info = msivf_list_info(index, st, BufferGetPage(dbuf), slot, &nblocks);
	tids = palloc(sizeof(ItemPointerData) * cap);
	for (blkno = info.head; blkno != InvalidBlockNumber;)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		int			m;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		msivf_check_list_page(index, st, page, blkno, &nblocks);
		m = MsivfPageGetOpaque(page)->nentries;
		if (ntids + m > cap)
		{
			while (ntids + m > cap)
				cap *= 2;
			tids = repalloc_huge(tids, sizeof(ItemPointerData) * cap);
		}
		for (int i = 0; i < m; i++)
			tids[ntids++] = ((MsivfEntry *) (PageGetContents(page) + (Size) i * st->entry_size))->tid;
		old_pages++;
		blkno = MsivfPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		if (blkno != InvalidBlockNumber)
			msivf_chain_step(index, &followed, &nblocks);
	}
	if (ntids <= split_threshold(st, estimated_entries(index, st, leaked), built_tuples))
	{
		UnlockReleaseBuffer(dbuf);
		goto done;
	}

	/* the exact vectors, from the heap */
	x = palloc(sizeof(float) * (Size) ntids * d);
	msivf_heap_vecs_begin(&hv, heap, index);
	for (int i = 0; i < ntids; i++)
	{
		if (msivf_heap_vec(&hv, st, &tids[i], x + (Size) n * d))
			tids[n++] = tids[i];
	}
	msivf_heap_vecs_end(&hv);

	/* a local 2-means */
	c2 = palloc(sizeof(float) * 2 * d);
	assign = palloc(sizeof(int32) * Max(n, 1));
	if (n < 2)
	{
		UnlockReleaseBuffer(dbuf);
		goto done;
	}
	block = kmeans_default_block_floats(n, 2);
	work = palloc(sizeof(float) * kmeans_train_work_floats(n, d, 2, block));
	kmeans_train(x, n, d, 2, MSIVF_SPLIT_ITERS, (uint64) list * 7919 + child,
				 MSIVF_METRIC_ANGULAR_LISTS(st->metric), c2, work, block, assign, NULL, NULL);
	if (st->metric == MSIVF_METRIC_IP)
		scale_split_centroids(x, n, d, c2, assign, st->centroids + (Size) list * d);
	{
		KmeansMetric km = MSIVF_METRIC_EUCLIDEAN_LISTS(st->metric) ? KMEANS_L2 : KMEANS_IP;
		size_t		wf = (size_t) 2 * Min(n, 256);
		float	   *aw = palloc(sizeof(float) * wf);

		if (MSIVF_GROWTH_MOVES_PARENT(d))
		{
			float		norms[2];

			kmeans_row_norms(c2, 2, d, norms);
			kmeans_assign(x, n, d, c2, norms, 2, km, assign, NULL, aw, wf);
		}
		else
			split_around_parent(x, n, d, st, list, c2, km, assign, aw, wf);
	}
	for (int i = 0; i < n; i++)
		cnt[assign[i]]++;
	if (cnt[0] == 0 || cnt[1] == 0)
	{
		UnlockReleaseBuffer(dbuf);
		goto done;
	}

	/* both halves encoded against their new centroids, as new chains */
	enc = *st;
	enc.centroids = c2;
	scratch = palloc(sizeof(float) * d);
	for (int s = 0; s < 2; s++)
	{
		int			k = 0;

		ent[s] = palloc((Size) cnt[s] * st->entry_size);
		for (int i = 0; i < n; i++)
			if (assign[i] == s)
				msivf_encode_entry(&enc, x + (Size) i * d, s, &tids[i],
								   (MsivfEntry *) (ent[s] + (Size) k++ * st->entry_size), scratch);
		heads[s] = write_chain(index, st, ent[s], cnt[s], &tails[s]);
	}

	/* the new list's growth page, a new one when the last is full */
	gpos = g % st->growth_per_page;
	if (gpos == 0 && g / st->growth_per_page == st->ngrowth_pages)
	{
		GenericXLogState *gstate;
		Page		p;

		gbuf = msivf_alloc_buffer(index);
		gstate = GenericXLogStart(index);
		p = GenericXLogRegisterBuffer(gstate, gbuf, GENERIC_XLOG_FULL_IMAGE);
		msivf_init_page(p, MSIVF_PAGE_GROWTH);
		((PageHeader) p)->pd_lower = (PageGetContents(p) - (char *) p) +
			MSIVF_GROWTH_SLOT_SIZE(d) * st->growth_per_page;
		GenericXLogFinish(gstate);
		new_gpage = true;
	}
	else if (st->growth_pages[g / st->growth_per_page] != dirblk)
	{
		gbuf = ReadBuffer(index, st->growth_pages[g / st->growth_per_page]);
		LockBuffer(gbuf, BUFFER_LOCK_EXCLUSIVE);
		msivf_check_page(index, BufferGetPage(gbuf), BufferGetBlockNumber(gbuf), MSIVF_PAGE_GROWTH);
	}

	/* the switch: one record */
	mbuf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	dpage = GenericXLogRegisterBuffer(state, dbuf, 0);
	gpage = BufferIsValid(gbuf) ? GenericXLogRegisterBuffer(state, gbuf, 0) : dpage;
	mpage = GenericXLogRegisterBuffer(state, mbuf, 0);
	meta = MsivfPageGetMeta(mpage);
	if (meta->generation != st->generation || meta->nlists != child ||
		MsivfPageGetOpaque(gpage)->nentries != gpos)
	{
		/* cannot happen under the split lock; but never write over a slot */
		GenericXLogAbort(state);
		UnlockReleaseBuffer(mbuf);
		if (BufferIsValid(gbuf))
			UnlockReleaseBuffer(gbuf);
		UnlockReleaseBuffer(dbuf);
		elog(ERROR, "msivf index \"%s\" changed during a split", RelationGetRelationName(index));
	}
	msivf_dir_entries(dpage)[slot].head = heads[0];
	msivf_dir_entries(dpage)[slot].insert = tails[0];
	msivf_dir_entries(dpage)[slot].tail = tails[0];
	msivf_dir_entries(gpage)[gpos].head = heads[1];
	msivf_dir_entries(gpage)[gpos].insert = tails[1];
	msivf_dir_entries(gpage)[gpos].tail = tails[1];
	gs = growth_slot(gpage, st->growth_per_page, d, gpos);
	gs->parent = list;
	memcpy(gs->c, c2 + d, sizeof(float) * d);
	if (MSIVF_GROWTH_MOVES_PARENT(d))
		memcpy(gs->c + d, c2, sizeof(float) * d);
	MsivfPageGetOpaque(gpage)->nentries = gpos + 1;
	if (meta->built_lists == 0)
		meta->built_lists = child;
	if (meta->calib_lists == 0)
		meta->calib_lists = meta->built_lists;
	meta->nlists = child + 1;
	meta->generation++;
	meta->leaked_pages += old_pages;
	if (new_gpage)
		meta->growth_pages[meta->ngrowth_pages++] = BufferGetBlockNumber(gbuf);
	msivf_meta_cover_tail(mpage);
	/* the old chain, for VACUUM to free (left leaked when the list is full) */
	tail = MsivfMetaGetTail(meta);
	if (tail->npending < MSIVF_MAX_PENDING_CHAINS)
		tail->pending[tail->npending++] = info.head;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(mbuf);
	if (BufferIsValid(gbuf))
		UnlockReleaseBuffer(gbuf);
	UnlockReleaseBuffer(dbuf);

done:
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * After an insert into list (the split lock released): when the list has
 * just started a new page, and so may have outgrown its share, splits it
 * if the split lock is free.  A list passed over (a scan or insert was
 * running) is looked at again when its next page starts, or at the next
 * insert when its last page is its only one.
 */
void
msivf_maybe_split(Relation index, Relation heap, int list)
{
	MsivfState *st;
	MsivfState	copy;
	int			slot;
	BlockNumber dirblk;
	Buffer		buf;
	MsivfListInfo info;
	BlockNumber nblocks = 0;
	int			nentries;
	LOCKTAG		tag;

	st = msivf_get_state(index);
	/* a bvec index's lists do not split: that needs a 2-medians of bits */
	if (MSIVF_METRIC_IS_BITS(st->metric))
		return;
	if (st->dims == 0 || st->growth_per_page == 0 || st->nlists >= MSIVF_MAX_LISTS ||
		list >= st->nlists || heap == NULL)
		return;
	copy = *st;
	copy.centroids = NULL;
	copy.centroid_norms = NULL;

	dirblk = msivf_dir_block(&copy, list, &slot);
	buf = ReadBuffer(index, dirblk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	msivf_check_dir_page(index, &copy, BufferGetPage(buf), dirblk);
	info = msivf_list_info(index, &copy, BufferGetPage(buf), slot, &nblocks);
	UnlockReleaseBuffer(buf);
	if (info.head == info.tail)
		return;
	buf = ReadBuffer(index, info.tail);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	msivf_check_list_page(index, &copy, BufferGetPage(buf), info.tail, &nblocks);
	nentries = MsivfPageGetOpaque(BufferGetPage(buf))->nentries;
	UnlockReleaseBuffer(buf);
	/*
	 * (Read without the split lock: the list may have split meanwhile and
	 * VACUUM freed this page, which then reads as an empty last page.)
	 */
	/* one entry on the last page: a page was just chained */
	if (nentries != 1)
		return;

	/* not under a scan of this backend's (a cursor, INSERT ... SELECT) */
	SET_LOCKTAG_PAGE(tag, MyDatabaseId, RelationGetRelid(index), MSIVF_METAPAGE_BLKNO);
	if (LockHeldByMe(&tag, ShareLock))
		return;
	if (!ConditionalLockPage(index, MSIVF_METAPAGE_BLKNO, ExclusiveLock))
		return;
	split_list(index, heap, list);
	UnlockPage(index, MSIVF_METAPAGE_BLKNO, ExclusiveLock);
}
