/*
 * msivfutils.c
 *		The msivf access method's handler, options, settings, and the helpers
 *		that build, insert, scan and vacuum share: page initialisation and
 *		checks, the cached metapage + centroids, encoding of entries.
 */
#include "postgres.h"

#include <math.h>

#include <cblas.h>

#include "access/reloptions.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "msivf.h"
#include "quantizer.h"
#include "kmeans.h"
#include "vec_kernels.h"

PG_FUNCTION_INFO_V1(msivf_handler);
PG_FUNCTION_INFO_V1(msivf_l2_metric);
PG_FUNCTION_INFO_V1(msivf_ip_metric);
PG_FUNCTION_INFO_V1(msivf_cosine_metric);

int			msivf_probes = 0;
double		msivf_target_recall = 0.95;

static relopt_kind msivf_relopt_kind;

void
ms_msivf_init(void)
{
	quant_init();
	kmeans_single_thread_blas();

	msivf_relopt_kind = add_reloption_kind();
	add_int_reloption(msivf_relopt_kind, "lists",
					  "Number of inverted lists; 0 chooses from the row count",
					  0, 0, MSIVF_MAX_LISTS, AccessExclusiveLock);

	DefineCustomIntVariable("machinesoup.probes",
							"Number of msivf lists a scan probes first.",
							"0 picks the smallest number whose recall, as calibrated when the index was built, reaches machinesoup.target_recall.",
							&msivf_probes,
							0, 0, MSIVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("machinesoup.target_recall",
							 "Recall@10 an msivf scan aims for when machinesoup.probes is 0.",
							 NULL,
							 &msivf_target_recall,
							 0.95, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

Datum
msivf_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = 1;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = true;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = msivf_build;
	am->ambuildempty = msivf_buildempty;
	am->aminsert = msivf_insert;
	am->ambulkdelete = msivf_bulkdelete;
	am->amvacuumcleanup = msivf_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = msivf_costestimate;
	am->amoptions = msivf_options;
	am->amproperty = NULL;
	am->ambuildphasename = msivf_buildphasename;
	am->amvalidate = msivf_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = msivf_beginscan;
	am->amrescan = msivf_rescan;
	am->amgettuple = msivf_gettuple;
	am->amgetbitmap = NULL;
	am->amendscan = msivf_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/* Support function 1 of each opclass: which metric it indexes. */
Datum
msivf_l2_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_L2);
}

Datum
msivf_ip_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_IP);
}

Datum
msivf_cosine_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_COSINE);
}

bytea *
msivf_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(MsivfOptions, lists)},
	};

	return (bytea *) build_reloptions(reloptions, validate, msivf_relopt_kind,
									  sizeof(MsivfOptions), tab, lengthof(tab));
}

bool
msivf_validate(Oid opclassoid)
{
	/* the opclasses are created by the extension script only */
	return true;
}

char *
msivf_buildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case MSIVF_PHASE_SAMPLE:
			return "sampling table";
		case MSIVF_PHASE_TRAIN:
			return "training centroids";
		case MSIVF_PHASE_ASSIGN:
			return "assigning tuples";
		case MSIVF_PHASE_WRITE:
			return "writing index";
		default:
			return NULL;
	}
}

int
msivf_metric(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, MSIVF_METRIC_PROC);
	int			metric = DatumGetInt32(FunctionCall1(proc, Int32GetDatum(0)));

	if (metric < MSIVF_METRIC_L2 || metric > MSIVF_METRIC_COSINE)
		elog(ERROR, "msivf: unknown metric %d", metric);
	return metric;
}

int
msivf_code_bits(int dims)
{
	return dims <= MSIVF_MAX_DIM_8BIT ? 8 : 4;
}

Size
msivf_entry_size(int dims, int code_bits)
{
	return MAXALIGN(MSIVF_ENTRY_HEADER + quant_code_bytes(dims, code_bits));
}

void
msivf_check_dims(int dims)
{
	if (dims < MSIVF_MIN_DIM || dims > MSIVF_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("msivf indexes vecs of %d to %d dimensions, not %d",
						MSIVF_MIN_DIM, MSIVF_MAX_DIM, dims)));
}

Vec *
msivf_datum_vec(Datum d)
{
	return DatumGetVec(d);
}

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

MsivfListInfo *
msivf_dir_entries(Page page)
{
	return (MsivfListInfo *) PageGetContents(page);
}

/* ---- validation of what is read from pages ---------------------------
 *
 * Every number read from an msivf page is checked where it is read, by one
 * of the helpers below (one per page kind, shared by build, insert, scan
 * and VACUUM), before it sizes a loop, indexes an array or names a page:
 * a damaged index is an ERRCODE_INDEX_CORRUPTED error asking for REINDEX,
 * never a wild read or write.
 */

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

	*ncentroid = (meta->flags & MSIVF_FLAG_ZERO_CENTROID) ? 0 :
		(BlockNumber) (((Size) meta->nlists * meta->dims + fpp - 1) / fpp);
	*ndir = (BlockNumber) (((Size) meta->nlists + lpdp - 1) / lpdp);
}

/*
 * Checks every field of the metapage (magic and version already matched)
 * against what a build or insert can write, and the page layout it
 * implies against the index's size nblocks.
 */
static void
msivf_check_meta(Relation index, const MsivfMetaPageData *meta, BlockNumber nblocks)
{
	const char *what = "metapage";
	BlockNumber ncentroid;
	BlockNumber ndir;
	int			lpdp = MSIVF_PAGE_CAPACITY / sizeof(MsivfListInfo);

	if (meta->dims != 0 && (meta->dims < MSIVF_MIN_DIM || meta->dims > MSIVF_MAX_DIM))
		corrupted(index, what, "Field dims is %lld, not 0 or %lld to %lld.",
				  meta->dims, MSIVF_MIN_DIM, MSIVF_MAX_DIM);
	if (meta->nlists < 1 || meta->nlists > MSIVF_MAX_LISTS)
		corrupted(index, what, "Field nlists is %lld, not %lld to %lld.",
				  meta->nlists, 1, MSIVF_MAX_LISTS);
	if (meta->metric < MSIVF_METRIC_L2 || meta->metric > MSIVF_METRIC_COSINE)
		corrupted(index, what, "Field metric is %lld, not %lld to %lld.",
				  meta->metric, MSIVF_METRIC_L2, MSIVF_METRIC_COSINE);
	if (meta->code_bits != (meta->dims == 0 ? 0 : msivf_code_bits(meta->dims)))
		corrupted(index, what, "Field code_bits is %lld, not %lld for %lld dimensions.",
				  meta->code_bits, meta->dims == 0 ? 0 : msivf_code_bits(meta->dims),
				  meta->dims);
	/* one list is always at the origin; more lists always have centroids */
	if ((meta->flags & ~MSIVF_FLAG_ZERO_CENTROID) != 0 ||
		((meta->flags & MSIVF_FLAG_ZERO_CENTROID) != 0) != (meta->nlists == 1))
		corrupted(index, what, "Field flags is 0x%llx with %lld lists.",
				  meta->flags, meta->nlists, MSIVF_FLAG_ZERO_CENTROID);
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
	if ((uint64) meta->directory_start + ndir + meta->nlists > nblocks)
		corrupted(index, what, "Its layout needs %lld pages, the index has %lld.",
				  (int64) meta->directory_start + ndir + meta->nlists, nblocks, nblocks);
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
}

/*
 * A directory page, locked by the caller: of the right type, holding as
 * many lists as the metapage gives it.
 */
void
msivf_check_dir_page(Relation index, const MsivfState *st, Page page, BlockNumber blkno)
{
	int64		first = (int64) (blkno - st->directory_start) * st->lists_per_dir_page;
	int64		n = Min(st->lists_per_dir_page, st->nlists - first);

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
 * the chain or another list page.
 */
void
msivf_check_list_page(Relation index, const MsivfState *st, Page page, BlockNumber blkno,
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

BlockNumber
msivf_dir_block(const MsivfState *st, int list, int *slot)
{
	*slot = list % st->lists_per_dir_page;
	return st->directory_start + list / st->lists_per_dir_page;
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
	Buffer		buf;
	Page		page;
	MsivfMetaPage meta;
	MsivfState *st = (MsivfState *) index->rd_amcache;
	MsivfState	tmp;
	MemoryContext cxt;
	int			floats_per_page;
	Size		total;

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

	if (st != NULL && st->build_id == meta->build_id && st->dims == meta->dims &&
		st->dims > 0)
	{
		UnlockReleaseBuffer(buf);
		return st;
	}

	msivf_check_meta(index, meta, RelationGetNumberOfBlocks(index));
	memset(&tmp, 0, sizeof(tmp));
	tmp.build_id = meta->build_id;
	tmp.dims = meta->dims;
	tmp.nlists = meta->nlists;
	tmp.metric = meta->metric;
	tmp.code_bits = meta->code_bits;
	tmp.flags = meta->flags;
	tmp.directory_start = meta->directory_start;
	tmp.lists_per_dir_page = meta->lists_per_dir_page;
	{
		BlockNumber ncentroid;
		BlockNumber ndir;

		meta_page_counts(meta, &ncentroid, &ndir);
		tmp.first_list_block = meta->directory_start + ndir;
	}
	tmp.calib_queries = meta->calib_queries;
	memcpy(tmp.calib_probes, meta->calib_probes, sizeof(tmp.calib_probes));
	{
		BlockNumber centroid_start = meta->centroid_start;

		UnlockReleaseBuffer(buf);

		if (tmp.dims > 0)
		{
			tmp.entry_size = msivf_entry_size(tmp.dims, tmp.code_bits);
			tmp.entries_per_page = MSIVF_PAGE_CAPACITY / tmp.entry_size;
		}

		/* a state whose dims are still unknown is not cached */
		cxt = tmp.dims > 0 ? index->rd_indexcxt : CurrentMemoryContext;
		total = sizeof(MsivfState);
		if (tmp.dims > 0 && !(tmp.flags & MSIVF_FLAG_ZERO_CENTROID))
			total += sizeof(float) * ((Size) tmp.nlists * tmp.dims + tmp.nlists);
		st = MemoryContextAllocHuge(cxt, total);
		memcpy(st, &tmp, sizeof(tmp));
		st->centroids = NULL;
		st->centroid_norms = NULL;

		if (tmp.dims > 0 && !(tmp.flags & MSIVF_FLAG_ZERO_CENTROID))
		{
			Size		nfloats = (Size) tmp.nlists * tmp.dims;
			Size		done = 0;
			BlockNumber blkno = centroid_start;

			st->centroids = (float *) (st + 1);
			st->centroid_norms = st->centroids + nfloats;
			floats_per_page = MSIVF_PAGE_CAPACITY / sizeof(float);
			while (done < nfloats)
			{
				Size		n = Min((Size) floats_per_page, nfloats - done);

				buf = ReadBuffer(index, blkno);
				LockBuffer(buf, BUFFER_LOCK_SHARE);
				page = BufferGetPage(buf);
				msivf_check_page(index, page, blkno, MSIVF_PAGE_CENTROID);
				memcpy(st->centroids + done, PageGetContents(page), n * sizeof(float));
				UnlockReleaseBuffer(buf);
				done += n;
				blkno++;
			}
			kmeans_row_norms(st->centroids, st->nlists, st->dims, st->centroid_norms);
		}
	}

	if (tmp.dims > 0)
	{
		if (index->rd_amcache)
			pfree(index->rd_amcache);
		index->rd_amcache = st;
	}
	return st;
}

/*
 * The vector as the index sees it: a copy, unit length for cosine.  False
 * when it cannot be indexed (a zero vector has no cosine direction).
 */
bool
msivf_prepare_vector(int metric, const float *x, int dims, float *out)
{
	memcpy(out, x, sizeof(float) * dims);
	if (metric == MSIVF_METRIC_COSINE)
	{
		double		s = 0;

		for (int i = 0; i < dims; i++)
			s += (double) x[i] * x[i];
		if (s == 0 || !isfinite(s))
			return false;
		s = 1.0 / sqrt(s);
		for (int i = 0; i < dims; i++)
			out[i] = (float) (x[i] * s);
	}
	return true;
}

/*
 * Score of a list for a prepared query (lower is nearer): the squared
 * distance to the centroid for L2, minus the inner product otherwise.
 */
float
msivf_centroid_score(const MsivfState *st, const float *q, float qnorm2, int list)
{
	const float *c;
	float		ip;

	if (st->centroids == NULL)
		return 0;
	c = st->centroids + (Size) list * st->dims;
	ip = vec_kernels->inner_product(q, c, st->dims);
	if (st->metric == MSIVF_METRIC_L2)
		return qnorm2 - 2 * ip + st->centroid_norms[list];
	return -ip;
}

/*
 * qsort_arg comparator of list numbers by their scores (the arg), lowest
 * first and NaN (a score that overflowed float32) last: a total order
 * whatever the scores.
 */
int
msivf_cmp_list_score(const void *a, const void *b, void *arg)
{
	const float *scores = (const float *) arg;
	float		x = scores[*(const int *) a];
	float		y = scores[*(const int *) b];

	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return (x > y) - (x < y);
}

int
msivf_nearest_list(const MsivfState *st, const float *x)
{
	int			best = 0;
	float		best_score;
	float		xn2;

	if (st->centroids == NULL || st->nlists == 1)
		return 0;
	xn2 = vec_kernels->norm_squared(x, st->dims);
	best_score = msivf_centroid_score(st, x, xn2, 0);
	for (int j = 1; j < st->nlists; j++)
	{
		float		s = msivf_centroid_score(st, x, xn2, j);

		if (s < best_score)
		{
			best_score = s;
			best = j;
		}
	}
	return best;
}

/* Fills entry (entry_size bytes) for prepared vector x in list; work: dims floats. */
void
msivf_encode_entry(const MsivfState *st, const float *x, int list,
				   ItemPointer tid, MsivfEntry *entry, float *work)
{
	const float *c = st->centroids ? st->centroids + (Size) list * st->dims : NULL;
	double		rn = 0;

	memset(entry, 0, st->entry_size);
	for (int i = 0; i < st->dims; i++)
	{
		work[i] = c ? x[i] - c[i] : x[i];
		rn += (double) work[i] * work[i];
	}
	quant_encode(work, st->dims, st->code_bits, entry->code, &entry->scale, &entry->err);
	entry->rnorm2 = (float) rn;
	entry->tid = *tid;
}

/* Probes to start a scan with: the GUC, or the calibrated count for the target recall. */
int
msivf_probes_for(const MsivfState *st)
{
	int			p;

	if (msivf_probes > 0)
		p = msivf_probes;
	else if (st->calib_queries > 0)
	{
		/*
		 * The curve was measured on calib_queries * 10 neighbours: aim a
		 * one-sided 95 % confidence margin above the target, so the target
		 * is met on new queries and not just on the calibration sample.
		 */
		double		t = msivf_target_recall;
		double		margin = 1.645 * sqrt(t * (1 - t) / (st->calib_queries * 10.0));
		int			level = (int) ceil((t + margin) * 100 - 1e-9);

		level = Max(0, Min(MSIVF_CALIB_LEVELS - 1, level));
		p = st->calib_probes[level];
	}
	else
		p = Max(1, st->nlists / 10);
	return Max(1, Min(p, st->nlists));
}

PG_FUNCTION_INFO_V1(msivf_index_info);

/*
 * Refuses, as PostgreSQL refuses a SELECT, a caller without SELECT on the
 * table of index relid: an index's shape (dims, list count, metric) tells
 * about the data of its table, which may be another tenant's.  Checked
 * before the index is locked, so that a caller without the privilege
 * cannot queue a lock on it either; relid not being an index is left to
 * the caller's index_open.
 */
static void
msivf_check_table_select(Oid relid)
{
	Oid			heapid = IndexGetRelation(relid, true);
	AclResult	aclresult;

	if (!OidIsValid(heapid))
		return;
	aclresult = pg_class_aclcheck(heapid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(heapid));
}

/*
 * msivf_index_info(index regclass): what the index looks like and what a
 * scan would do under the current settings.  Needs SELECT on the index's
 * table.
 */
Datum
msivf_index_info(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	MsivfState *st;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	static const char *const metrics[] = {"", "l2", "ip", "cosine"};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	msivf_check_table_select(relid);
	index = index_open(relid, AccessShareLock);
	/* again once locked: the OID may have been dropped and reused meanwhile */
	msivf_check_table_select(relid);
	if (index->rd_rel->relam != get_index_am_oid("msivf", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an msivf index", RelationGetRelationName(index))));
	st = msivf_get_state(index);
	values[0] = Int32GetDatum(st->dims);
	values[1] = Int32GetDatum(st->nlists);
	values[2] = CStringGetTextDatum(metrics[st->metric]);
	values[3] = Int32GetDatum(st->code_bits);
	values[4] = Int32GetDatum(st->calib_queries);
	values[5] = Int32GetDatum(st->dims > 0 ? msivf_probes_for(st) : 1);
	/* calibrated probes for the target recall, independent of machinesoup.probes */
	if (st->calib_queries > 0)
	{
		int			saved = msivf_probes;

		msivf_probes = 0;
		values[6] = Int32GetDatum(msivf_probes_for(st));
		msivf_probes = saved;
	}
	else
		nulls[6] = true;
	index_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
