/*
 * msivf.h
 *		The msivf index access method: on-disk layout and the functions its
 *		files share.
 *
 * Block 0 is the metapage.  Then come the centroid pages (the nlists
 * centroids as one stream of floats across consecutive pages), the
 * directory pages (one MsivfListInfo per list: first page, the page where
 * inserts look for room, last page), and the posting-list pages, chained
 * per list through the opaque "next" link.  A posting-list page holds
 * fixed-size entries back to back: the heap TID, the scale and the error
 * norm of the quantized residual, the squared residual norm (L2), and the
 * code (under L1 the error norm is the quantization error's L1 norm:
 * quant_l1.h).  The full vectors stay in the heap: candidates are
 * reranked by fetching them with the scan's snapshot, which is what lets
 * the index take any dimension up to 16000.
 */
#ifndef MS_MSIVF_H
#define MS_MSIVF_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

#include "vec.h"

#define MSIVF_MAGIC			0x4D534956	/* "MSIV" */
#define MSIVF_VERSION		1
#define MSIVF_PAGE_ID		0xFF8D		/* last 2 bytes of every page */

#define MSIVF_METAPAGE_BLKNO	0

/* page types */
#define MSIVF_PAGE_META		1
#define MSIVF_PAGE_CENTROID	2
#define MSIVF_PAGE_DIRECTORY 3
#define MSIVF_PAGE_LIST		4
#define MSIVF_PAGE_GROWTH	5		/* directory and centroids of split lists */

/*
 * A list page VACUUM freed (msivfvacuum.c): an empty last page of a list
 * (so a standby scan still on the old chain ends there), flagged in
 * opaque->flags, with the next transaction ID of when it was freed in
 * pd_prune_xid; reused once no snapshot can be older.
 */
#define MSIVF_LIST_FREED	0x01

#define MSIVF_MIN_DIM		32
#define MSIVF_MAX_DIM		16000
#define MSIVF_MAX_LISTS		32768
/* above this, 4-bit codes so an entry still fits a page */
#define MSIVF_MAX_DIM_8BIT	4000

/*
 * Standard deviations of a 4-bit code's rounding error that bound its
 * estimate in a relaxed-order scan (msivfscan.c, visit_batch).
 */
#define MSIVF_CODE4_SIGMAS	4.0f

/* From this many dimensions on, codes are 4-bit unless the bits option says */
#define MSIVF_CODE4_MIN_DIM	64

/* metrics, as the opclass support function 1 reports them */
#define MSIVF_METRIC_L2		1
#define MSIVF_METRIC_IP		2
#define MSIVF_METRIC_COSINE	3
#define MSIVF_METRIC_L1		4

/*
 * Whether a metric's lists are Euclidean cells: L1 reuses L2's k-means,
 * assignment and list ranking (msivfvector.c says why that is enough);
 * only its codes' error norm, estimate and rerank differ.
 */
#define MSIVF_METRIC_EUCLIDEAN_LISTS(m) \
	((m) == MSIVF_METRIC_L2 || (m) == MSIVF_METRIC_L1)

/*
 * Whether a metric's lists are cones: centroids of one length, rows
 * assigned and lists ranked by inner product, so by angle (spherical
 * k-means; under inner product around the rows' mean, msivftrain.c).
 * With centroids of unequal length the long ones draw the rows of others.
 */
#define MSIVF_METRIC_ANGULAR_LISTS(m) \
	((m) == MSIVF_METRIC_COSINE || (m) == MSIVF_METRIC_IP)

/*
 * bvec opclasses (msivfbits*.c): entries hold the bits themselves, the
 * centroid pages packed binary centroids, dims is the number of bits
 */
#define MSIVF_METRIC_HAMMING	11
#define MSIVF_METRIC_JACCARD	12
#define MSIVF_METRIC_IS_BITS(m) ((m) == MSIVF_METRIC_HAMMING || (m) == MSIVF_METRIC_JACCARD)
#define MSIVF_MAX_BITS		64000	/* BVEC_MAX_BITS */
/* a bit entry: the heap TID, two bytes of padding, then the bits */
#define MSIVF_BITS_OFFSET	8

#define MSIVF_METRIC_PROC	1

/* build subphases in pg_stat_progress_create_index (msivf_buildphasename) */
#define MSIVF_PHASE_SAMPLE	2
#define MSIVF_PHASE_TRAIN	3
#define MSIVF_PHASE_ASSIGN	4
#define MSIVF_PHASE_WRITE	5

/* meta flags */
#define MSIVF_FLAG_ZERO_CENTROID 0x0001	/* one list, centroid at the origin */
/* bvec Hamming: float centroids of the rows' +-1 sign vectors, not bits */
#define MSIVF_FLAG_SIGN_CENTROIDS 0x0002

/* calibration: probes needed for recall@10 >= r/100, r = 0..100 */
#define MSIVF_CALIB_LEVELS	101
#define MSIVF_CALIB_QUERIES	200		/* held-out queries, at most */

typedef struct MsivfPageOpaqueData
{
	BlockNumber next;			/* next page of the chain, or Invalid */
	uint16		nentries;		/* list pages: entries on the page */
	uint8		page_type;
	uint8		flags;			/* list pages: MSIVF_LIST_FREED */
	uint16		pad;
	uint16		page_id;		/* MSIVF_PAGE_ID */
} MsivfPageOpaqueData;

typedef MsivfPageOpaqueData *MsivfPageOpaque;

#define MsivfPageGetOpaque(page) ((MsivfPageOpaque) PageGetSpecialPointer(page))

typedef struct MsivfMetaPageData
{
	uint32		magic;
	uint32		version;
	int32		dims;			/* 0 until the first vector is seen */
	int32		nlists;
	int16		metric;
	int16		code_bits;		/* 8 or 4 */
	uint32		flags;
	uint64		build_id;		/* changes at every build: cache key */
	BlockNumber centroid_start;
	BlockNumber directory_start;
	int32		lists_per_dir_page;
	int32		calib_queries;	/* 0: not calibrated */
	int64		built_tuples;
	uint16		calib_probes[MSIVF_CALIB_LEVELS];
	/* growth by splits (msivfsplit.c); all 0 in an index that never split */
	uint32		generation;		/* bumped by every split: cache key */
	int32		built_lists;	/* lists of the build's layout, 0: nlists */
	int32		calib_lists;	/* lists when calibrated, 0: built_lists */
	int32		ngrowth_pages;
	int64		leaked_pages;	/* old chains of split lists */
	BlockNumber growth_pages[FLEXIBLE_ARRAY_MEMBER];	/* MSIVF_MAX_GROWTH_PAGES */
} MsivfMetaPageData;

/*
 * Growth pages: the lists a split creates, from built_lists on, slot
 * (list - built_lists) of page growth_pages[slot / per page].  A growth
 * page starts with the MsivfListInfo of its slots, as a directory page
 * does, then per slot a MsivfGrowthSlot: the list's centroid and, when the
 * split that created it gave its parent a new centroid, the parent's.
 * Where two centroids do not fit a page (above about 1,000 dimensions) a
 * slot holds the list's own alone, and a split leaves its parent's
 * centroid where it was (MSIVF_GROWTH_MOVES_PARENT false).
 */
#define MSIVF_MAX_GROWTH_PAGES	1024

typedef struct MsivfGrowthSlot
{
	int32		parent;			/* the list split, or -1 */
	float4		c[FLEXIBLE_ARRAY_MEMBER];	/* own centroid, then the parent's */
} MsivfGrowthSlot;

#define MSIVF_GROWTH_SLOT_SIZE_N(dims, ncentroids) \
	(sizeof(MsivfListInfo) + offsetof(MsivfGrowthSlot, c) + (ncentroids) * sizeof(float4) * (Size) (dims))
#define MSIVF_GROWTH_MOVES_PARENT(dims) \
	(MSIVF_GROWTH_SLOT_SIZE_N(dims, 2) <= MSIVF_PAGE_CAPACITY)
#define MSIVF_GROWTH_SLOT_SIZE(dims) \
	MSIVF_GROWTH_SLOT_SIZE_N(dims, MSIVF_GROWTH_MOVES_PARENT(dims) ? 2 : 1)

typedef MsivfMetaPageData *MsivfMetaPage;

/*
 * After growth_pages, the metapage holds the old chains of split lists
 * that VACUUM has still to free (their heads), and how many pages VACUUM
 * has freed since the build.  An index written before these fields has
 * them as zeros (its pd_lower ends before them: the hole is zeros).
 */
#define MSIVF_MAX_PENDING_CHAINS	256

typedef struct MsivfMetaTail
{
	int64		freed_pages;	/* pages of old chains VACUUM freed, ever */
	int32		npending;
	BlockNumber pending[MSIVF_MAX_PENDING_CHAINS];	/* heads of old chains */
} MsivfMetaTail;

#define MSIVF_META_TAIL_OFFSET \
	MAXALIGN(offsetof(MsivfMetaPageData, growth_pages) + sizeof(BlockNumber) * MSIVF_MAX_GROWTH_PAGES)
#define MSIVF_META_SIZE		(MSIVF_META_TAIL_OFFSET + sizeof(MsivfMetaTail))
#define MsivfMetaGetTail(meta) ((MsivfMetaTail *) ((char *) (meta) + MSIVF_META_TAIL_OFFSET))

#define MsivfPageGetMeta(page) ((MsivfMetaPage) PageGetContents(page))

typedef struct MsivfListInfo
{
	BlockNumber head;			/* first page: never changes */
	BlockNumber insert;			/* first page that may have room */
	BlockNumber tail;			/* last page */
} MsivfListInfo;

/* posting entry header; the code follows */
typedef struct MsivfEntry
{
	ItemPointerData tid;
	uint16		pad;
	float4		scale;
	float4		err;			/* norm of the quantization error */
	float4		rnorm2;			/* squared norm of the residual */
	uint8		code[FLEXIBLE_ARRAY_MEMBER];
} MsivfEntry;

#define MSIVF_ENTRY_HEADER	offsetof(MsivfEntry, code)

#define MSIVF_PAGE_CAPACITY \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(MsivfPageOpaqueData)))

/* at most this many entries fit a list page: each has a code of a byte or more */
#define MSIVF_MAX_PAGE_ENTRIES	(MSIVF_PAGE_CAPACITY / (MSIVF_ENTRY_HEADER + 1))

/* reloptions */
typedef struct MsivfOptions
{
	int32		vl_len_;
	int			lists;			/* 0: from the row count */
	int			bits;			/* of a code component: 4, 8, or 0 to choose */
} MsivfOptions;

/*
 * What every scan and insert needs from the metapage and centroid pages,
 * cached in rd_amcache and checked against the metapage's build_id.
 */
typedef struct MsivfState
{
	uint64		build_id;
	int			dims;
	int			nlists;
	int			metric;
	int			code_bits;
	uint32		flags;
	Size		entry_size;
	int			entries_per_page;
	BlockNumber directory_start;
	int			lists_per_dir_page;
	BlockNumber first_list_block;	/* blocks before it: meta, centroids, directory */
	int			calib_queries;
	uint16		calib_probes[MSIVF_CALIB_LEVELS];
	uint32		generation;
	int			built_lists;
	int			calib_lists;
	int			growth_per_page;	/* slots of a growth page, 0: no growth */
	int			ngrowth_pages;
	BlockNumber growth_pages[MSIVF_MAX_GROWTH_PAGES];
	float	   *centroids;		/* nlists * dims, or NULL for ZERO_CENTROID */
	float	   *centroid_norms; /* squared norms */
	uint8	   *bit_centroids;	/* bit metrics: nlists * BYTES(dims), or NULL */
	/* scans' hints: the buffer each block was last read from (msivfscan.c) */
	Buffer	   *recent_buffers; /* in the same allocation, or NULL */
	BlockNumber nrecent;		/* blocks they cover */
} MsivfState;

/* blocks a cached state holds scan hints for, at most (8 GB of index) */
#define MSIVF_MAX_HINTS		((Size) 1 << 20)

/* GUCs */
extern int	msivf_probes;
extern double msivf_target_recall;

/* machinesoup.scan_order */
typedef enum MsivfScanOrder
{
	MSIVF_SCAN_RELAXED = 0,		/* exact order within the lists visited */
	MSIVF_SCAN_STRICT			/* exact order over the whole index */
} MsivfScanOrder;

extern int	msivf_scan_order;
extern int	msivf_max_probes;
extern int	msivf_max_scan_tuples;
extern bool msivf_scan_deepen;

/*
 * What msivf scans did (msivfstats.c): the last scan's counters, bumped
 * per list, page and rerank, and its phase times when
 * machinesoup.scan_timing is on.
 */
typedef struct MsivfScanStats
{
	int64		scans;
	int64		lists;			/* lists probed */
	int64		pages;			/* list pages read */
	int64		codes;			/* entries estimated from their codes */
	int64		reranks;		/* heap fetches for an exact distance */
	int64		heap_rows;		/* of those, rows visible to the snapshot */
	instr_time	centroid_time;	/* ranking the lists */
	instr_time	list_time;		/* reading lists, estimating codes */
	instr_time	rerank_time;	/* fetching rows, exact distances */
} MsivfScanStats;

extern bool msivf_scan_timing;
extern MsivfScanStats msivf_stats_last;
extern void msivf_stats_init(void);
extern void msivf_stats_begin(void);

/* msivfhandler.c */
extern void ms_msivf_init(void);
extern bytea *msivf_options(Datum reloptions, bool validate);
extern bool msivf_validate(Oid opclassoid);
extern char *msivf_buildphasename(int64 phasenum);
extern int	msivf_metric(Relation index);
extern int	msivf_probes_for(const MsivfState *st);
extern int	msivf_list_limit(const MsivfState *st);
extern int	msivf_deepen_probes(int first, int64 depth, int nlists);

/* msivfpage.c */
extern void msivf_init_page(Page page, uint8 page_type);
extern void msivf_check_page(Relation index, Page page, BlockNumber blkno, uint8 page_type);
extern MsivfState *msivf_get_state(Relation index);
extern BlockNumber msivf_dir_block(const MsivfState *st, int list, int *slot);
extern MsivfListInfo *msivf_dir_entries(Page page);
extern void msivf_check_dir_page(Relation index, const MsivfState *st, Page page,
								 BlockNumber blkno);
extern MsivfListInfo msivf_list_info(Relation index, const MsivfState *st, Page page,
									 int slot, BlockNumber *nblocks);
extern void msivf_check_list_blkno(Relation index, const MsivfState *st, BlockNumber blkno,
								   BlockNumber *nblocks);
extern void msivf_check_list_page_slow(Relation index, const MsivfState *st, Page page,
									   BlockNumber blkno, BlockNumber *nblocks);

/*
 * A list page, locked by the caller, checked as msivf_check_list_page_slow
 * (msivfpage.c) describes, every field a reader uses: type and page id,
 * entry count, pd_lower, next link.  Every scan, insert and VACUUM checks
 * every list page it reads, so the common case is here, inline: the same
 * tests in one expression of "&" (no branch per test; the special space is
 * found at its fixed place, not through pd_special, so its load need not
 * wait for the header's).  Any failure, or a next link past the cached
 * size, goes to the slow path, which rereads the size and raises the
 * error that names what is wrong.
 */
static inline void
msivf_check_list_page(Relation index, const MsivfState *st, Page page,
					  BlockNumber blkno, BlockNumber *nblocks)
{
	PageHeader	ph = (PageHeader) page;
	MsivfPageOpaque opaque = (MsivfPageOpaque)
		((char *) page + BLCKSZ - MAXALIGN(sizeof(MsivfPageOpaqueData)));
	Size		end = MAXALIGN(SizeOfPageHeaderData) + (Size) opaque->nentries * st->entry_size;
	bool		ok;

	ok = (ph->pd_upper != 0) &
		(ph->pd_special == BLCKSZ - MAXALIGN(sizeof(MsivfPageOpaqueData))) &
		(opaque->page_id == MSIVF_PAGE_ID) &
		(opaque->page_type == MSIVF_PAGE_LIST) &
		(opaque->nentries <= st->entries_per_page) &
		(ph->pd_lower == end) &
		((opaque->next == InvalidBlockNumber) |
		 ((opaque->next >= st->first_list_block) & (opaque->next < *nblocks)));
	if (unlikely(!ok))
		msivf_check_list_page_slow(index, st, page, blkno, nblocks);
}
extern void msivf_chain_step(Relation index, BlockNumber *followed, BlockNumber *nblocks);
extern Buffer msivf_new_buffer(Relation index, ForkNumber fork);
extern Buffer msivf_alloc_buffer(Relation index);
extern bool msivf_page_is_recyclable(Page page);
extern void msivf_meta_read_tail(Page page, MsivfMetaTail *tail);
extern void msivf_meta_cover_tail(Page page);

/* msivfsplit.c */
extern int	msivf_growth_per_page(int dims);
extern void msivf_scan_lock(Relation index);
extern void msivf_scan_unlock(Relation index);
extern void msivf_maybe_split(Relation index, Relation heap, int list);
extern void msivf_read_growth(Relation index, MsivfState *st);

/* the indexed vec of heap rows, any version (msivfsplit.c) */
typedef struct MsivfHeapVecs
{
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	IndexInfo  *indexInfo;
	EState	   *estate;
	AttrNumber	attno;
} MsivfHeapVecs;

extern void msivf_heap_vecs_begin(MsivfHeapVecs *hv, Relation heap, Relation index);
extern bool msivf_heap_vec(MsivfHeapVecs *hv, const MsivfState *st, ItemPointer tid, float *x);
extern void msivf_heap_vecs_end(MsivfHeapVecs *hv);

/* msivfcalib.c */
/* VACUUM recalibrates once the list count moved more than this share */
#define MSIVF_RECALIBRATE_FRACTION	0.25
extern bool msivf_calibration_due(const MsivfState *st);
extern bool msivf_recalibrate(Relation index, BufferAccessStrategy strategy);

/* msivfvector.c */
extern Size msivf_entry_size(int dims, int code_bits);
extern int	msivf_code_bits(int dims);
extern int	msivf_index_code_bits(Relation index, int dims);
extern void msivf_check_dims(int dims);
extern Vec *msivf_datum_vec(Datum d);
extern bool msivf_prepare_vector(int metric, const float *x, int dims, float *out);
extern float msivf_centroid_score(const MsivfState *st, const float *q, float qnorm2, int list);
extern int	msivf_cmp_list_score(const void *a, const void *b, void *arg);
extern int	msivf_nearest_list(const MsivfState *st, const float *x);
extern void msivf_encode_entry(const MsivfState *st, const float *x, int list,
							   ItemPointer tid, MsivfEntry *entry, float *work);

/* msivfbuild.c (with msivftrain.c and msivfassign.c: see msivfbuild.h) */
extern IndexBuildResult *msivf_build(Relation heap, Relation index, IndexInfo *indexInfo);
extern void msivf_buildempty(Relation index);

/* msivfinsert.c */
extern bool msivf_insert(Relation index, Datum *values, bool *isnull,
						 ItemPointer heap_tid, Relation heap,
						 IndexUniqueCheck checkUnique, bool indexUnchanged,
						 IndexInfo *indexInfo);
extern void msivf_append_entry(Relation index, const MsivfState *st, int list,
							   const MsivfEntry *entry);
extern void msivf_append_entries(Relation index, const MsivfState *st, int list,
								 const char *entries, int n);
extern void msivf_insert_batch(Relation index, int n, Datum *values, bool *isnull,
							   ItemPointer heap_tids);

/* msivfscan.c */
extern IndexScanDesc msivf_beginscan(Relation index, int nkeys, int norderbys);
extern void msivf_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
						 ScanKey orderbys, int norderbys);
extern bool msivf_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void msivf_endscan(IndexScanDesc scan);

/* msivfbitsbuild.c, msivfbitsscan.c: the bvec opclasses */
extern bool msivf_index_is_bits(Relation index);
extern IndexBuildResult *msivf_bits_build(Relation heap, Relation index, IndexInfo *indexInfo);
extern void msivf_bits_buildempty(Relation index);
extern bool msivf_bits_insert(Relation index, Datum value, ItemPointer heap_tid);
extern IndexScanDesc msivf_bits_beginscan(Relation index, int nkeys, int norderbys);
extern void msivf_bits_rescan(IndexScanDesc scan, ScanKey orderbys);
extern bool msivf_bits_gettuple(IndexScanDesc scan);

/*
 * Hands one row to the executor: the distance msivf computed is exact (no
 * recheck of the row or its order); a NULL distance for a NULL query.
 */
static inline void
msivf_return_row(IndexScanDesc scan, ItemPointer tid, double distance, bool isnull)
{
	scan->xs_heaptid = *tid;
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	scan->xs_orderbyvals[0] = isnull ? (Datum) 0 : Float8GetDatum(distance);
	scan->xs_orderbynulls[0] = isnull;
}
extern void msivf_bits_endscan(IndexScanDesc scan);

/* msivfvacuum.c */
extern IndexBulkDeleteResult *msivf_bulkdelete(IndexVacuumInfo *info,
											   IndexBulkDeleteResult *stats,
											   IndexBulkDeleteCallback callback,
											   void *callback_state);
extern IndexBulkDeleteResult *msivf_vacuumcleanup(IndexVacuumInfo *info,
												  IndexBulkDeleteResult *stats);

/* msivfcost.c */
extern void msivf_costestimate(PlannerInfo *root, IndexPath *path,
							   double loop_count, Cost *indexStartupCost,
							   Cost *indexTotalCost, Selectivity *indexSelectivity,
							   double *indexCorrelation, double *indexPages);

#endif							/* MS_MSIVF_H */
