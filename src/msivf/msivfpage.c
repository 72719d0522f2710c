/*
 * msivfpage.c
 *		The pages of an msivf index as every operation reads them: page
 *		initialisation, the checks of every number read from a page before
 *		it is used, the directory's addressing, extension of the index, and
 *		the metapage and centroids cached in rd_amcache (MsivfState).
 */
#include "postgres.h"

#include "access/transam.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "kmeans.h"
#include "msivf.h"

/* An empty page of page_type, its chain link unset. */
void
msivf_init_page(Page page, uint8 page_type)
{
	MsivfPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(MsivfPageOpaqueData));
	opaque = MsivfPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->nentries = 0;
	opaque->page_type = page_type;
	opaque->page_id = MSIVF_PAGE_ID;
}

/*
 * A page the caller has locked is an initialised msivf page of page_type,
 * or a corruption error.
 */
void
msivf_check_page(Relation index, Page page, BlockNumber blkno, uint8 page_type)
{
	MsivfPageOpaque opaque;

	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(MsivfPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("msivf index \"%s\" has a corrupted page %u",
						RelationGetRelationName(index), blkno),
				 errhint("REINDEX the index.")));
	opaque = MsivfPageGetOpaque(page);
	if (opaque->page_id != MSIVF_PAGE_ID || opaque->page_type != page_type)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("msivf index \"%s\" has a page %u of unexpected type",
						RelationGetRelationName(index), blkno),
				 errhint("REINDEX the index.")));
}

/*
 * Count one step along a list's chain of pages, and ERROR once a list has
 * taken more steps than the index has pages: its chain was damaged into a
 * loop.  *nblocks caches the index's size (0 until first needed) and is
 * read again before giving up, since the index may have grown meanwhile.
 */
void
msivf_chain_step(Relation index, BlockNumber *followed, BlockNumber *nblocks)
{
	if (++*followed <= *nblocks)
		return;
	*nblocks = RelationGetNumberOfBlocks(index);
	if (*followed > *nblocks)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("msivf index \"%s\" has a list whose pages form a loop",
						RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
}

/*
 * A new page at the end of fork, exclusively locked.  The extension lock
 * is held only while the relation grows; the caller initialises the page.
 */
Buffer
msivf_new_buffer(Relation index, ForkNumber fork)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/*
 * Whether a page is a list page VACUUM freed that no snapshot can be older
 * than: no backend, nor a standby reporting through hot_standby_feedback,
 * can still be reading it as a page of the chain it was freed from.
 */
bool
msivf_page_is_recyclable(Page page)
{
	MsivfPageOpaque opaque;

	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(MsivfPageOpaqueData)))
		return false;
	opaque = MsivfPageGetOpaque(page);
	if (opaque->page_id != MSIVF_PAGE_ID || opaque->page_type != MSIVF_PAGE_LIST ||
		!(opaque->flags & MSIVF_LIST_FREED) || opaque->nentries != 0)
		return false;
	return GlobalVisCheckRemovableXid(NULL, ((PageHeader) page)->pd_prune_xid);
}

/*
 * A page for a chain or growth page of an insert or a split, exclusively
 * locked: a freed page the free space map offers, or else a new one.  The
 * map is only a hint: a page is taken only if, under its lock, it still
 * is a recyclable freed page (VACUUM may record a page twice, another
 * backend may have taken it).  The lock is tried, never waited for: the
 * caller holds other pages.  The caller initialises the page and logs it
 * whole (GENERIC_XLOG_FULL_IMAGE).
 */
Buffer
msivf_alloc_buffer(Relation index)
{
	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;

		if (blkno == InvalidBlockNumber)
			break;
		buf = ReadBuffer(index, blkno);
		if (ConditionalLockBuffer(buf))
		{
			if (msivf_page_is_recyclable(BufferGetPage(buf)))
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}
	return msivf_new_buffer(index, MAIN_FORKNUM);
}

/*
 * The metapage's tail (MsivfMetaTail): zeros when the page was last
 * written before it existed (its pd_lower ends before the tail).
 */
void
msivf_meta_read_tail(Page page, MsivfMetaTail *tail)
{
	Size		lower = ((PageHeader) page)->pd_lower;

	if (lower < (Size) (PageGetContents(page) - (char *) page) + MSIVF_META_SIZE)
		memset(tail, 0, sizeof(*tail));
	else
		memcpy(tail, MsivfMetaGetTail(MsivfPageGetMeta(page)), sizeof(*tail));
}

/*
 * Makes a metapage about to be written cover its tail: what lies past
 * pd_lower is the hole, which generic WAL neither logs nor keeps.
 */
void
msivf_meta_cover_tail(Page page)
{
	Size		end = (Size) (PageGetContents(page) - (char *) page) + MSIVF_META_SIZE;

	StaticAssertStmt(MSIVF_META_SIZE <= MSIVF_PAGE_CAPACITY, "the msivf metapage does not fit a page");
	if (((PageHeader) page)->pd_lower < end)
	{
		/*
		 * A tail the page did not cover starts as zeros (the caller may
		 * have written growth fields before it, in the hole too)
		 */
		Size		from = Max((Size) ((PageHeader) page)->pd_lower,
							   (Size) (PageGetContents(page) - (char *) page) + MSIVF_META_TAIL_OFFSET);

		memset((char *) page + from, 0, end - from);
		((PageHeader) page)->pd_lower = end;
	}
}

/* The list entries of a directory page. */
MsivfListInfo *
msivf_dir_entries(Page page)
{
	return (MsivfListInfo *) PageGetContents(page);
}

/*
 * The directory page of list, and its slot there in *slot: a page of the
 * build's directory, or the growth page of a list a split created.
 */
BlockNumber
msivf_dir_block(const MsivfState *st, int list, int *slot)
{
	if (list >= st->built_lists)
	{
		int			g = list - st->built_lists;

		*slot = g % st->growth_per_page;
		return st->growth_pages[g / st->growth_per_page];
	}
	*slot = list % st->lists_per_dir_page;
	return st->directory_start + list / st->lists_per_dir_page;
}

/* ---- validation of what is read from pages ---------------------------
 *
 * Every number read from an msivf page is checked where it is read, by one
 * of the helpers below (one per page kind, shared by build, insert, scan
 * and VACUUM), before it sizes a loop, indexes an array or names a page:
 * a damaged index is an ERRCODE_INDEX_CORRUPTED error asking for REINDEX,
 * never a wild read or write.
 */

/* The error for a field out of range: what it is, its value, the range [lo, hi]. */
static void
corrupted(Relation index, const char *what, const char *detail_fmt, int64 value,
		  int64 lo, int64 hi)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("msivf index \"%s\" has a corrupted %s",
					RelationGetRelationName(index), what),
			 errdetail(detail_fmt, (long long) value, (long long) lo, (long long) hi),
			 errhint("REINDEX the index.")));
}

/* number of centroid pages and directory pages of a metapage's shape */
static void
meta_page_counts(const MsivfMetaPageData *meta, BlockNumber *ncentroid, BlockNumber *ndir)
{
	Size		fpp = MSIVF_PAGE_CAPACITY / sizeof(float);
	Size		lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);
	Size		built = meta->built_lists ? meta->built_lists : meta->nlists;

	if (MSIVF_METRIC_IS_BITS(meta->metric) && !(meta->flags & MSIVF_FLAG_SIGN_CENTROIDS))
	{
		/* packed binary centroids, as a stream of bytes */
		Size		nbytes = built * (((Size) meta->dims + 7) / 8);

		*ncentroid = (meta->flags & MSIVF_FLAG_ZERO_CENTROID) ? 0 :
			(BlockNumber) ((nbytes + MSIVF_PAGE_CAPACITY - 1) / MSIVF_PAGE_CAPACITY);
	}
	else
		*ncentroid = (meta->flags & MSIVF_FLAG_ZERO_CENTROID) ? 0 :
			(BlockNumber) ((built * meta->dims + fpp - 1) / fpp);
	*ndir = (BlockNumber) ((built + lpdp - 1) / lpdp);
}

/*
 * Checks every field of the metapage (magic and version already matched)
 * against what a build or insert can write, and the page layout it
 * implies against the index's size nblocks.
 */
static void
msivf_check_meta(Relation index, const MsivfMetaPageData *meta, const MsivfMetaTail *tail,
				 BlockNumber nblocks)
{
	const char *what = "metapage";
	BlockNumber ncentroid;
	BlockNumber ndir;
	int			lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);
	bool		bits = MSIVF_METRIC_IS_BITS(meta->metric);
	int			built = meta->built_lists ? meta->built_lists : meta->nlists;

	if (bits)
	{
		/* a bvec index: dims counts bits, and an entry holds them all (code_bits 1) */
		if (meta->dims < 0 || meta->dims > MSIVF_MAX_BITS)
			corrupted(index, what, "Field dims is %lld, not %lld to %lld.",
					  meta->dims, 0, MSIVF_MAX_BITS);
		if (meta->code_bits != (meta->dims == 0 ? 0 : 1))
			corrupted(index, what, "Field code_bits is %lld, not %lld for %lld bits.",
					  meta->code_bits, meta->dims == 0 ? 0 : 1, meta->dims);
	}
	if (!bits && meta->dims != 0 && (meta->dims < MSIVF_MIN_DIM || meta->dims > MSIVF_MAX_DIM))
		corrupted(index, what, "Field dims is %lld, not 0 or %lld to %lld.",
				  meta->dims, MSIVF_MIN_DIM, MSIVF_MAX_DIM);
	if (meta->nlists < 1 || meta->nlists > MSIVF_MAX_LISTS)
		corrupted(index, what, "Field nlists is %lld, not %lld to %lld.",
				  meta->nlists, 1, MSIVF_MAX_LISTS);
	if ((meta->metric < MSIVF_METRIC_L2 || meta->metric > MSIVF_METRIC_L1) && !bits)
		corrupted(index, what, "Field metric is %lld, not %lld to %lld.",
				  meta->metric, MSIVF_METRIC_L2, MSIVF_METRIC_L1);
	if (!bits && meta->dims == 0 && meta->code_bits != 0)
		corrupted(index, what, "Field code_bits is %lld, not %lld to %lld before the first row.",
				  meta->code_bits, 0, 0);
	if (!bits && meta->dims != 0 && meta->code_bits != 4 &&
		!(meta->code_bits == 8 && meta->dims <= MSIVF_MAX_DIM_8BIT))
		corrupted(index, what, "Field code_bits is %lld, not 4, or 8 up to %lld dimensions (here %lld).",
				  meta->code_bits, MSIVF_MAX_DIM_8BIT, meta->dims);
	if (meta->built_lists < 0 || meta->built_lists > meta->nlists)
		corrupted(index, what, "Field built_lists is %lld, not %lld to %lld.",
				  meta->built_lists, 0, meta->nlists);
	if (meta->calib_lists < 0 || meta->calib_lists > MSIVF_MAX_LISTS)
		corrupted(index, what, "Field calib_lists is %lld, not %lld to %lld.",
				  meta->calib_lists, 0, MSIVF_MAX_LISTS);
	if (meta->leaked_pages < 0 || meta->leaked_pages > nblocks)
		corrupted(index, what, "Field leaked_pages is %lld, not %lld to %lld.",
				  meta->leaked_pages, 0, nblocks);
	if (meta->ngrowth_pages < 0 || meta->ngrowth_pages > MSIVF_MAX_GROWTH_PAGES)
		corrupted(index, what, "Field ngrowth_pages is %lld, not %lld to %lld.",
				  meta->ngrowth_pages, 0, MSIVF_MAX_GROWTH_PAGES);
	if (meta->nlists > built &&
		(meta->dims == 0 || msivf_growth_per_page(meta->dims) == 0 ||
		 meta->nlists - built > (int64) meta->ngrowth_pages * msivf_growth_per_page(meta->dims)))
		corrupted(index, what, "Field nlists is %lld, more than the %lld growth pages hold (%lld).",
				  meta->nlists, meta->ngrowth_pages,
				  meta->dims ? (int64) meta->ngrowth_pages * msivf_growth_per_page(meta->dims) + built : 0);
	/* one built list is always at the origin; more always have centroids */
	if ((meta->flags & ~(MSIVF_FLAG_ZERO_CENTROID | MSIVF_FLAG_SIGN_CENTROIDS)) != 0 ||
		((meta->flags & MSIVF_FLAG_ZERO_CENTROID) != 0) != (built == 1))
		corrupted(index, what, "Field flags is 0x%llx with %lld lists.",
				  meta->flags, built, MSIVF_FLAG_ZERO_CENTROID);
	/* float sign centroids: Hamming indexes of more than one list only */
	if ((meta->flags & MSIVF_FLAG_SIGN_CENTROIDS) != 0 &&
		(meta->metric != MSIVF_METRIC_HAMMING || built == 1))
		corrupted(index, what, "Field flags is 0x%llx with %lld lists.",
				  meta->flags, built, MSIVF_FLAG_ZERO_CENTROID);
	if (meta->lists_per_dir_page != lpdp)
		corrupted(index, what, "Field lists_per_dir_page is %lld, not %lld.",
				  meta->lists_per_dir_page, lpdp, lpdp);
	meta_page_counts(meta, &ncentroid, &ndir);
	if (meta->centroid_start != MSIVF_METAPAGE_BLKNO + 1)
		corrupted(index, what, "Field centroid_start is %lld, not %lld.",
				  meta->centroid_start, MSIVF_METAPAGE_BLKNO + 1, MSIVF_METAPAGE_BLKNO + 1);
	if (meta->directory_start != meta->centroid_start + ncentroid)
		corrupted(index, what, "Field directory_start is %lld, not %lld.",
				  meta->directory_start, meta->centroid_start + ncentroid,
				  meta->centroid_start + ncentroid);
	/* the structure and one first page per list */
	if ((uint64) meta->directory_start + ndir + built > nblocks)
		corrupted(index, what, "Its layout needs %lld pages, the index has %lld.",
				  (int64) meta->directory_start + ndir + built, nblocks, nblocks);
	for (int i = 0; i < meta->ngrowth_pages; i++)
		if (meta->growth_pages[i] < meta->directory_start + ndir ||
			meta->growth_pages[i] >= nblocks)
			corrupted(index, what, "Field growth_pages holds %lld, not %lld to %lld.",
					  meta->growth_pages[i], meta->directory_start + ndir, (int64) nblocks - 1);
	if (meta->calib_queries < 0 || meta->calib_queries > MSIVF_CALIB_QUERIES)
		corrupted(index, what, "Field calib_queries is %lld, not %lld to %lld.",
				  meta->calib_queries, 0, MSIVF_CALIB_QUERIES);
	if (meta->built_tuples < 0)
		corrupted(index, what, "Field built_tuples is %lld, not %lld to %lld.",
				  meta->built_tuples, 0, PG_INT64_MAX);
	for (int i = 0; i < MSIVF_CALIB_LEVELS; i++)
		if (meta->calib_probes[i] > meta->nlists)
			corrupted(index, what, "Field calib_probes holds %lld, not %lld to %lld.",
					  meta->calib_probes[i], 0, meta->nlists);
	if (tail->freed_pages < 0)
		corrupted(index, what, "Field freed_pages is %lld, not %lld to %lld.",
				  tail->freed_pages, 0, PG_INT64_MAX);
	if (tail->npending < 0 || tail->npending > MSIVF_MAX_PENDING_CHAINS)
		corrupted(index, what, "Field npending is %lld, not %lld to %lld.",
				  tail->npending, 0, MSIVF_MAX_PENDING_CHAINS);
	for (int i = 0; i < tail->npending; i++)
		if (tail->pending[i] < meta->directory_start + ndir || tail->pending[i] >= nblocks)
			corrupted(index, what, "Field pending holds %lld, not %lld to %lld.",
					  tail->pending[i], meta->directory_start + ndir, (int64) nblocks - 1);
}

/*
 * A directory page, locked by the caller: of the right type, holding as
 * many lists as the metapage gives it.
 */
void
msivf_check_dir_page(Relation index, const MsivfState *st, Page page, BlockNumber blkno)
{
	int64		first = (int64) (blkno - st->directory_start) * st->lists_per_dir_page;
	int64		n = Min(st->lists_per_dir_page, st->built_lists - first);

	if (blkno >= st->first_list_block)
	{
		/* a growth page: the slots a split filled, so far */
		msivf_check_page(index, page, blkno, MSIVF_PAGE_GROWTH);
		if (MsivfPageGetOpaque(page)->nentries > st->growth_per_page)
			corrupted(index, "growth page",
					  "It holds %lld lists, not %lld to %lld.",
					  MsivfPageGetOpaque(page)->nentries, 0, st->growth_per_page);
		return;
	}
	msivf_check_page(index, page, blkno, MSIVF_PAGE_DIRECTORY);
	if (MsivfPageGetOpaque(page)->nentries != n)
		corrupted(index, "directory page",
				  "It holds %lld lists, not %lld.",
				  MsivfPageGetOpaque(page)->nentries, n, n);
}

/*
 * A list page number read from the directory or a chain: one of the
 * index's list pages, never the metapage, a centroid or directory page
 * (an insert would wait forever on the directory lock it holds) nor past
 * the end.  *nblocks caches the index's size as msivf_chain_step's does.
 */
void
msivf_check_list_blkno(Relation index, const MsivfState *st, BlockNumber blkno,
					   BlockNumber *nblocks)
{
	if (blkno >= st->first_list_block && blkno < *nblocks)
		return;
	if (blkno >= st->first_list_block && blkno != InvalidBlockNumber)
	{
		*nblocks = RelationGetNumberOfBlocks(index);
		if (blkno < *nblocks)
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("msivf index \"%s\" has a list pointing to page %u",
					RelationGetRelationName(index), blkno),
			 errdetail("Its list pages are %u and up, below its size.",
					   st->first_list_block),
			 errhint("REINDEX the index.")));
}

/*
 * The directory entry of a list, from its directory page (checked with
 * msivf_check_dir_page), with its three page numbers checked.
 */
MsivfListInfo
msivf_list_info(Relation index, const MsivfState *st, Page page, int slot,
				BlockNumber *nblocks)
{
	MsivfListInfo info = msivf_dir_entries(page)[slot];

	Assert(slot < MsivfPageGetOpaque(page)->nentries);
	msivf_check_list_blkno(index, st, info.head, nblocks);
	msivf_check_list_blkno(index, st, info.insert, nblocks);
	msivf_check_list_blkno(index, st, info.tail, nblocks);
	return info;
}

/*
 * A list page, locked by the caller: of the right type, no more entries
 * than fit, pd_lower where they end, and a next link that is the end of
 * the chain or another list page.  msivf_check_list_page (msivf.h) makes
 * the same tests inline and calls this only when one fails, or when the
 * next link is past the size it has cached: here each test has its own
 * error, and the size is read again.
 */
void
msivf_check_list_page_slow(Relation index, const MsivfState *st, Page page, BlockNumber blkno,
					  BlockNumber *nblocks)
{
	MsivfPageOpaque opaque;
	Size		end;

	msivf_check_page(index, page, blkno, MSIVF_PAGE_LIST);
	opaque = MsivfPageGetOpaque(page);
	if (opaque->nentries > st->entries_per_page)
		corrupted(index, "list page",
				  "It claims %lld entries, not %lld to %lld.",
				  opaque->nentries, 0, st->entries_per_page);
	end = (PageGetContents(page) - (char *) page) + (Size) opaque->nentries * st->entry_size;
	if (((PageHeader) page)->pd_lower != end)
		corrupted(index, "list page",
				  "Its entries end at %lld, not %lld.",
				  ((PageHeader) page)->pd_lower, end, end);
	if (opaque->next != InvalidBlockNumber)
		msivf_check_list_blkno(index, st, opaque->next, nblocks);
}

/*
 * Reads the metapage.  False when cached (the state in rd_amcache, or
 * NULL) is still the index's: same build, dimensions known.  Otherwise
 * checks every field, copies the scalars into *tmp, sets *centroid_start
 * and *nblocks (the index's size, which the checks measured),
 * and returns true.  An index of another on-disk format version is an
 * error asking for REINDEX.
 */
static bool
read_meta(Relation index, const MsivfState *cached, MsivfState *tmp,
		  BlockNumber *centroid_start, BlockNumber *nblocks)
{
	Buffer		buf;
	Page		page;
	MsivfMetaPage meta;
	BlockNumber ncentroid;
	BlockNumber ndir;
	MsivfMetaTail mtail;

	buf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	msivf_check_page(index, page, MSIVF_METAPAGE_BLKNO, MSIVF_PAGE_META);
	meta = MsivfPageGetMeta(page);
	if (meta->magic != MSIVF_MAGIC || meta->version != MSIVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("msivf index \"%s\" has on-disk format version %u, this build of machinesoup reads version %d",
						RelationGetRelationName(index),
						meta->magic == MSIVF_MAGIC ? meta->version : 0, MSIVF_VERSION),
				 errhint("REINDEX the index.")));

	if (cached != NULL && cached->build_id == meta->build_id && cached->dims == meta->dims &&
		cached->generation == meta->generation && cached->dims > 0)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}

	msivf_meta_read_tail(page, &mtail);
	*nblocks = RelationGetNumberOfBlocks(index);
	msivf_check_meta(index, meta, &mtail, *nblocks);
	memset(tmp, 0, sizeof(*tmp));
	tmp->build_id = meta->build_id;
	tmp->dims = meta->dims;
	tmp->nlists = meta->nlists;
	tmp->metric = meta->metric;
	tmp->code_bits = meta->code_bits;
	tmp->flags = meta->flags;
	tmp->directory_start = meta->directory_start;
	tmp->lists_per_dir_page = meta->lists_per_dir_page;
	meta_page_counts(meta, &ncentroid, &ndir);
	tmp->first_list_block = meta->directory_start + ndir;
	tmp->calib_queries = meta->calib_queries;
	memcpy(tmp->calib_probes, meta->calib_probes, sizeof(tmp->calib_probes));
	tmp->generation = meta->generation;
	tmp->built_lists = meta->built_lists ? meta->built_lists : meta->nlists;
	tmp->calib_lists = meta->calib_lists ? meta->calib_lists : tmp->built_lists;
	tmp->growth_per_page = meta->dims ? msivf_growth_per_page(meta->dims) : 0;
	tmp->ngrowth_pages = meta->ngrowth_pages;
	memcpy(tmp->growth_pages, meta->growth_pages, sizeof(BlockNumber) * meta->ngrowth_pages);
	*centroid_start = meta->centroid_start;
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Reads st->nlists * st->dims floats of centroids from the consecutive
 * centroid pages from centroid_start into st->centroids, and their squared
 * norms into st->centroid_norms.
 */
static void
read_centroids(Relation index, MsivfState *st, BlockNumber centroid_start)
{
	Size		nfloats = (Size) st->built_lists * st->dims;
	Size		done = 0;
	BlockNumber blkno = centroid_start;
	int			floats_per_page = MSIVF_PAGE_CAPACITY / sizeof(float);

	while (done < nfloats)
	{
		Size		n = Min((Size) floats_per_page, nfloats - done);
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		msivf_check_page(index, page, blkno, MSIVF_PAGE_CENTROID);
		memcpy(st->centroids + done, PageGetContents(page), n * sizeof(float));
		UnlockReleaseBuffer(buf);
		done += n;
		blkno++;
	}
}

/*
 * A bvec index's binary centroids, nlists * BYTES(dims) bytes streamed over
 * the consecutive centroid pages from centroid_start.
 */
static void
read_bit_centroids(Relation index, MsivfState *st, BlockNumber centroid_start)
{
	Size		nbytes = (Size) st->nlists * ((st->dims + 7) / 8);
	Size		done = 0;
	BlockNumber blkno = centroid_start;

	while (done < nbytes)
	{
		Size		n = Min((Size) MSIVF_PAGE_CAPACITY, nbytes - done);
		Buffer		buf = ReadBuffer(index, blkno);

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		msivf_check_page(index, BufferGetPage(buf), blkno, MSIVF_PAGE_CENTROID);
		memcpy(st->bit_centroids + done, PageGetContents(BufferGetPage(buf)), n);
		UnlockReleaseBuffer(buf);
		done += n;
		blkno++;
	}
}

/*
 * The metapage and centroids, from rd_amcache when its build_id still
 * matches the metapage.  The result is valid until the next point where
 * relcache invalidations may be processed (taking a heavyweight lock, e.g.
 * opening a TOAST table): callers copy what they need to keep.
 */
MsivfState *
msivf_get_state(Relation index)
{
	MsivfState *st = (MsivfState *) index->rd_amcache;
	MsivfState	tmp;
	BlockNumber centroid_start;
	BlockNumber nblocks;
	MemoryContext cxt;
	Size		total;
	Size		hints_at;
	Size		nhints;
	bool		has_centroids;

	if (!read_meta(index, st, &tmp, &centroid_start, &nblocks))
		return st;

	if (tmp.dims > 0 && MSIVF_METRIC_IS_BITS(tmp.metric))
	{
		tmp.entry_size = MAXALIGN(MSIVF_BITS_OFFSET + ((Size) tmp.dims + 7) / 8);
		tmp.entries_per_page = MSIVF_PAGE_CAPACITY / tmp.entry_size;
	}
	else if (tmp.dims > 0)
	{
		tmp.entry_size = msivf_entry_size(tmp.dims, tmp.code_bits);
		tmp.entries_per_page = MSIVF_PAGE_CAPACITY / tmp.entry_size;
	}

	/* a state whose dims are still unknown is not cached */
	cxt = tmp.dims > 0 ? index->rd_indexcxt : CurrentMemoryContext;
	has_centroids = tmp.dims > 0 &&
		(!(tmp.flags & MSIVF_FLAG_ZERO_CENTROID) || tmp.nlists > 1);
	total = sizeof(MsivfState);
	if (has_centroids && (tmp.flags & MSIVF_FLAG_SIGN_CENTROIDS))
		total += sizeof(float) * (Size) tmp.nlists * tmp.dims;
	else if (has_centroids && MSIVF_METRIC_IS_BITS(tmp.metric))
		total += (Size) tmp.nlists * ((tmp.dims + 7) / 8);
	else if (has_centroids)
		total += sizeof(float) * ((Size) tmp.nlists * tmp.dims + tmp.nlists);

	/*
	 * The scans' buffer hints (msivfscan.c, read_hinted) for the blocks the
	 * index has now and a quarter more, at most MSIVF_MAX_HINTS (4 bytes a
	 * block: as much as the centroids of a large index), in the same
	 * allocation: the relcache frees rd_amcache, and only it, when it
	 * flushes the entry.  Not for a state that is not cached, nor for a
	 * temporary index, whose local buffers are found without a shared
	 * table or its locks.
	 */
	hints_at = MAXALIGN(total);
	nhints = 0;
	if (tmp.dims > 0 && !RelationUsesLocalBuffers(index))
		nhints = Min((Size) nblocks + nblocks / 4 + 16, MSIVF_MAX_HINTS);
	total = hints_at + sizeof(Buffer) * nhints;
	st = MemoryContextAllocHuge(cxt, total);
	memcpy(st, &tmp, sizeof(tmp));
	st->centroids = NULL;
	st->centroid_norms = NULL;
	st->bit_centroids = NULL;
	st->recent_buffers = nhints > 0 ? (Buffer *) ((char *) st + hints_at) : NULL;
	st->nrecent = (BlockNumber) nhints;
	if (nhints > 0)
		memset(st->recent_buffers, 0, sizeof(Buffer) * nhints);
	if (has_centroids && (tmp.flags & MSIVF_FLAG_SIGN_CENTROIDS))
	{
		/* unit-length floats, ranked by inner product: no norms needed */
		st->centroids = (float *) (st + 1);
		read_centroids(index, st, centroid_start);
	}
	else if (has_centroids && MSIVF_METRIC_IS_BITS(tmp.metric))
	{
		st->bit_centroids = (uint8 *) (st + 1);
		read_bit_centroids(index, st, centroid_start);
	}
	else if (has_centroids)
	{
		st->centroids = (float *) (st + 1);
		st->centroid_norms = st->centroids + (Size) tmp.nlists * tmp.dims;
		if (tmp.flags & MSIVF_FLAG_ZERO_CENTROID)
			memset(st->centroids, 0, sizeof(float) * tmp.dims);
		else
			read_centroids(index, st, centroid_start);
		/* the lists splits made, and the new centroids of the lists split */
		if (tmp.nlists > tmp.built_lists)
			msivf_read_growth(index, st);
		kmeans_row_norms(st->centroids, st->nlists, st->dims, st->centroid_norms);
	}

	if (tmp.dims > 0)
	{
		if (index->rd_amcache)
			pfree(index->rd_amcache);
		index->rd_amcache = st;
	}
	return st;
}
