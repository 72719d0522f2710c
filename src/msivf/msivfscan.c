/*
 * msivfscan.c
 *		Index scans of msivf: ORDER BY emb <op> query.
 *
 * The scan ranks the lists by their centroid's distance to the query and
 * visits them in batches, nearest first: the first batch is the probe
 * count (machinesoup.probes, or the calibrated count for
 * machinesoup.target_recall), and each later batch doubles it, until every
 * list has been visited.  For each entry of a visited list the quantized
 * code gives an estimated distance and, from the stored error norm, a
 * lower bound on the true one.  Candidates wait in a heap ordered by that
 * bound; a row is returned once its exact distance (computed from the heap
 * row, fetched with the scan's snapshot) is no larger than the bound of
 * every candidate not yet verified.
 *
 * Guarantee: within the lists visited so far, rows come back in exact
 * distance order, each row at most once.  A later batch can hold a row
 * nearer than some already returned (as with pgvector's iterative scans),
 * which is the approximation; with machinesoup.probes >= the number of
 * lists the whole result is exact.  A scan that keeps being asked for rows
 * (a selective WHERE, a cursor) reaches every list, so it returns every
 * indexed row.  Rows whose vec is NULL, and zero vecs under cosine, are not
 * in the index.
 *
 * A scan asked for more than 10 rows (a filter above it discarding rows)
 * widens its lists as the rows returned double (machinesoup.scan_deepen,
 * relaxed order only), because the probe count is calibrated for 10 rows
 * and deeper results spread over more lists; the new lists' entries join
 * the candidates still waiting (merge_begin).
 *
 * machinesoup.scan_order = strict makes the first batch every list, so the
 * whole result is exact (see start_scan for why there is no cheaper bound).
 * machinesoup.max_probes and machinesoup.max_scan_tuples cap the lists a
 * scan visits and the entries it examines: a scan that reaches a cap
 * returns the rows of what it examined, in order, and ends.  The caps are
 * checked per list and per page, never per entry.
 *
 * The scan's state and its candidate heaps are in msivfscan.h; the design
 * as a whole in README.md.
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "msivf.h"
#include "msivfscan.h"
#include "quant_l1.h"
#include "quantizer.h"
#include "vec_distance.h"

/* ---- scan ------------------------------------------------------------ */

/*
 * ambeginscan: the scan's memory contexts; the work waits for the first
 * gettuple, when the query is known.
 */
IndexScanDesc
msivf_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan;
	MsivfScanOpaque so;

	if (msivf_index_is_bits(index))
		return msivf_bits_beginscan(index, nkeys, norderbys);
	scan = RelationGetIndexScan(index, nkeys, norderbys);
	so = palloc0(sizeof(MsivfScanOpaqueData));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf scan", ALLOCSET_DEFAULT_SIZES);
	so->tmpcxt = AllocSetContextCreate(so->cxt, "msivf rerank", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	/* the executor reads these; the AM provides them */
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(1, norderbys));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(1, norderbys));
	memset(scan->xs_orderbynulls, true, sizeof(bool) * Max(1, norderbys));
	return scan;
}

/* forgets the previous query's progress; keeps the buffers for reuse */
static void
reset_scan(MsivfScanOpaque so)
{
	so->started = false;
	so->no_rows = false;
	so->null_query = false;
	so->served = 0;
	so->npool = 0;
	so->nhot = 0;
	so->cold_start = 0;
	so->nready = 0;
	so->visited = 0;
	so->capped = false;
	so->returned = 0;
}

/*
 * amrescan: keeps a copy of the ORDER BY argument (NULL: every row comes
 * back, with a NULL distance); the scan itself starts at the next gettuple.
 */
void
msivf_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
			 ScanKey orderbys, int norderbys)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	MemoryContext old;

	if (msivf_index_is_bits(scan->indexRelation))
	{
		msivf_bits_rescan(scan, orderbys);
		return;
	}
	reset_scan(so);
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	old = MemoryContextSwitchTo(so->cxt);
	if (so->query)
		pfree(so->query);
	so->query = NULL;
	if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		Vec		   *v = msivf_datum_vec(scan->orderByData[0].sk_argument);

		so->query = palloc(VARSIZE(v));
		memcpy(so->query, v, VARSIZE(v));
	}
	MemoryContextSwitchTo(old);
}

/*
 * so->order: the lists by their centroid's score for the query, nearest
 * first.  Every list is scored, but only the first lists are put in order,
 * as many as the first batch reads; visit_batch sorts further when a scan
 * goes on (list_order.h: with thousands of lists, sorting them all cost a
 * query more than scoring them).
 */
static void
order_lists(MsivfScanOpaque so, const MsivfState *st, int first)
{
	for (int j = 0; j < st->nlists; j++)
		so->scores[j] = msivf_centroid_score(st, so->q, so->qnorm2, j);
	list_order_init(&so->lorder, so->order, so->scores, st->nlists);
	list_order_extend(&so->lorder, first);
}

/*
 * What rerank needs to read a row's vec from the heap, set up once per
 * scan (kept across rescans).
 */
static void
begin_heap_access(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;

	if (so->fetch != NULL)
		return;
	if (scan->heapRelation == NULL)
		elog(ERROR, "msivf scans need the heap relation");
	so->fetch = table_index_fetch_begin(scan->heapRelation);
	so->slot = table_slot_create(scan->heapRelation, NULL);
	so->indexInfo = BuildIndexInfo(scan->indexRelation);
	so->attno = so->indexInfo->ii_IndexAttrNumbers[0];
	if (so->attno == 0)
		so->estate = CreateExecutorState();
}

/*
 * The first gettuple of a scan: prepares the query, ranks the lists and
 * sets the first batch's size; so->no_rows when nothing can come back.
 * Everything it allocates lives in so->cxt, across rescans.
 */
static void
start_scan(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	MsivfState *st;
	MemoryContext old;

	so->started = true;
	/* shows in pg_stat_user_indexes.idx_scan, as for the built-in AMs */
	pgstat_count_index_scan(index);
	msivf_stats_begin();
	old = MemoryContextSwitchTo(so->cxt);

	/* no list splits under the scan (msivfsplit.c): held to endscan */
	if (!so->split_locked)
	{
		msivf_scan_lock(index);
		so->split_locked = true;
	}
	st = msivf_get_state(index);
	so->st = *st;
	so->st.centroids = NULL;
	so->st.centroid_norms = NULL;
	so->list_limit = msivf_list_limit(st);
	so->tuples_left = msivf_max_scan_tuples > 0 ? msivf_max_scan_tuples : PG_INT64_MAX;
	if (st->dims == 0)
	{
		so->no_rows = true;
		MemoryContextSwitchTo(old);
		return;
	}

	/* both scans below collect list entries into the pool */
	if (so->pool == NULL)
	{
		so->pool_cap = 1024;
		so->pool = palloc(sizeof(Candidate) * so->pool_cap);
		so->ready_cap = 64;
		so->ready = palloc(sizeof(Ready) * so->ready_cap);
	}

	/*
	 * A strict operator's distance to NULL is NULL for every row: the rows
	 * all tie, so any order is right, and all of them must come back, as
	 * from a sequential scan or GiST (a LATERAL subquery whose outer vec is
	 * NULL, or a NULL parameter of a generic plan, gets its LIMIT's rows).
	 */
	if (so->query == NULL)
	{
		so->null_query = true;
		MemoryContextSwitchTo(old);
		return;
	}
	if (so->query->dim != st->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vec dimensions %d and %d", st->dims, so->query->dim),
				 errdetail("The msivf index \"%s\" holds vecs of %d dimensions.",
						   RelationGetRelationName(index), st->dims)));

	if (so->q == NULL || so->st.dims != st->dims)
	{
		so->q = palloc(sizeof(float) * st->dims);
		so->v = palloc(sizeof(float) * st->dims);
		so->qq.q = palloc(st->dims);
		so->qq.q4 = palloc(2 * quant_code_bytes(st->dims, 4));
		so->order = palloc(sizeof(int) * st->nlists);
		so->scores = palloc(sizeof(float) * st->nlists);
	}
	so->zero_cosine = !msivf_prepare_vector(st->metric, so->query->x, st->dims, so->q);
	if (so->zero_cosine)
		memset(so->q, 0, sizeof(float) * st->dims);
	so->qnorm2 = vec_kernels->norm_squared(so->q, st->dims);
	so->qnorm = sqrtf(so->qnorm2);
	/* the query the codes of every list are dotted with, but under L2 and L1 */
	if (!MSIVF_METRIC_EUCLIDEAN_LISTS(st->metric))
	{
		quant_query8(so->q, st->dims, &so->qq);
		if (st->code_bits == 4)
			quant_query_split4(&so->qq, st->dims);
	}
	so->code4_kappa = msivf_scan_order == MSIVF_SCAN_STRICT ? 1.0f :
		Min(1.0f, MSIVF_CODE4_SIGMAS / sqrtf((float) st->dims));

	/*
	 * Strict order: a row may come back only once no unvisited list can
	 * hold a nearer one.  Bounding what a list holds from its centroid
	 * alone needs the list's radius (its farthest entry from the
	 * centroid), which the index does not store; the bisector between two
	 * centroids would bound it under L2 only if every entry sat in its
	 * nearest centroid's cell, which float rounding in the build's
	 * assignment does not promise.  So the only exact bound is to have read
	 * every list: the first batch is all of them (up to max_probes).  The
	 * cost is reading every entry's code; the rerank still fetches only the
	 * rows whose lower bound could beat the rows returned.
	 */
	if (msivf_scan_order == MSIVF_SCAN_STRICT)
		so->batch = so->list_limit;
	else
		so->batch = msivf_probes_for(st);

	if (msivf_scan_timing)
	{
		instr_time	t0,
					t1;

		INSTR_TIME_SET_CURRENT(t0);
		order_lists(so, st, so->batch);
		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_ACCUM_DIFF(msivf_stats_last.centroid_time, t1, t0);
	}
	else
		order_lists(so, st, so->batch);

	so->first_batch = so->batch;
	so->returned = 0;
	/* strict order reads every list first: nothing to widen */
	so->deepen_at = msivf_scan_deepen && msivf_scan_order == MSIVF_SCAN_RELAXED ? 10 : PG_INT64_MAX;

	begin_heap_access(scan);
	MemoryContextSwitchTo(old);
}

/*
 * What the estimate of every entry of one list shares (see visit_batch):
 * v, the vector the codes are dotted with; lc, the part of the distance
 * key that comes from the centroid; factor, the weight of the dot product;
 * bmul, what multiplies an entry's error norm to bound the key's error;
 * qbmul, for 8-bit codes, what multiplies |r| + err to bound the share of
 * the key's error that comes from quantizing v (so->qq, see quantizer.h);
 * v1, under L1 only, the L1 norm of v, which bounds the float rounding of
 * the estimate (quant_l1.h).
 */
typedef struct ListTerms
{
	const float *v;
	float		lc;
	float		factor;
	float		bmul;
	float		qbmul;
	float		v1;
} ListTerms;

/*
 * The terms of list's estimates.  Under L2 the key is |q - c - r|^2 =
 * |q - c|^2 - 2 (q - c).r + |r|^2, with r the residual the code
 * approximates; under IP and cosine it is -q.c - q.r (plus 1 for cosine);
 * under L1 it is |q - c - r|_1, whose estimate from the codes takes the
 * place of the dot product (quant_l1.h).
 * Called once per list; static inline so that the terms stay in registers
 * for the entry loop.
 */
static inline ListTerms
list_terms(MsivfScanOpaque so, const MsivfState *st, int list)
{
	int			d = so->st.dims;
	const float *c = st->centroids ? st->centroids + (Size) list * d : NULL;
	ListTerms	t;

	t.v1 = 0;
	if (so->st.metric == MSIVF_METRIC_L1)
	{
		for (int i = 0; i < d; i++)
		{
			so->v[i] = c ? so->q[i] - c[i] : so->q[i];
			t.v1 += fabsf(so->v[i]);
		}
		t.v = so->v;
		t.lc = 0;
		t.factor = 1.0f;
		t.bmul = 1.0f;
		t.qbmul = 0;
		return t;
	}
	if (so->st.metric == MSIVF_METRIC_L2)
	{
		float		s = 0;

		for (int i = 0; i < d; i++)
		{
			so->v[i] = c ? so->q[i] - c[i] : so->q[i];
			s += so->v[i] * so->v[i];
		}
		t.v = so->v;
		t.lc = s;
		t.factor = -2.0f;
		t.bmul = 2.0f * sqrtf(s);
		quant_query8(so->v, d, &so->qq);
		if (so->st.code_bits == 4)
			quant_query_split4(&so->qq, d);
	}
	else
	{
		float		qc = c ? vec_kernels->inner_product(so->q, c, d) : 0;

		t.v = so->q;
		t.lc = so->st.metric == MSIVF_METRIC_IP ? -qc : 1.0f - qc;
		t.factor = -1.0f;
		t.bmul = so->qnorm;
	}
	t.qbmul = fabsf(t.factor) * so->qq.qerr;
	return t;
}

/*
 * ReadBuffer of an index block through the buffer this backend last found
 * it in: ReadRecentBuffer pins that buffer when it still holds the block,
 * without the buffer mapping table's lookup and partition lock, which cost
 * a tenth of a warm scan's cycles (one per list page).  The hints come with
 * the cached index state (msivf_get_state), for the blocks the index had
 * then and a quarter more; a block past them is read the usual way, and
 * one whose buffer was reused is read so and remembered.
 */
static inline Buffer
read_hinted(Relation index, MsivfState *hints, BlockNumber blkno)
{
	Buffer		buf;

	if (blkno >= hints->nrecent)
		return ReadBuffer(index, blkno);
	buf = hints->recent_buffers[blkno];
	if (BufferIsValid(buf) && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, buf))
		return buf;
	buf = ReadBuffer(index, blkno);
	hints->recent_buffers[blkno] = buf;
	return buf;
}

/*
 * The first page of list, from its directory entry (checked).  The
 * directory lock is released before the list is read: the scan holds one
 * page lock at a time.
 */
static BlockNumber
list_first_page(Relation index, const MsivfState *st, MsivfState *hints, int list,
				BlockNumber *nblocks)
{
	int			slot;
	BlockNumber blkno = msivf_dir_block(st, list, &slot);
	Buffer		buf = read_hinted(index, hints, blkno);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	msivf_check_dir_page(index, st, BufferGetPage(buf), blkno);
	blkno = msivf_list_info(index, st, BufferGetPage(buf), slot, nblocks).head;
	UnlockReleaseBuffer(buf);
	return blkno;
}

/*
 * Share-locks list page blkno into *buf (pinned already when *buf is
 * valid: see pin_next_page), checked, and makes room in the pool for its
 * entries.  Once per page; static inline like list_terms.
 */
static inline Page
lock_list_page(IndexScanDesc scan, MsivfState *hints, BlockNumber blkno, BlockNumber *nblocks,
			   Buffer *buf)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	Page		page;
	int			n;

	if (!BufferIsValid(*buf))
		*buf = read_hinted(index, hints, blkno);
	LockBuffer(*buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(*buf);
	msivf_check_list_page(index, &so->st, page, blkno, nblocks);
	n = MsivfPageGetOpaque(page)->nentries;
	msivf_stats_last.pages++;
	if (so->npool + n > so->pool_cap)
	{
		while (so->npool + n > so->pool_cap)
			so->pool_cap *= 2;
		so->pool = repalloc_huge(so->pool, sizeof(Candidate) * so->pool_cap);
	}
	return page;
}

/*
 * Pins the next page of a chain (next, checked with the current page) and
 * asks the CPU to bring its contents into cache while the current page's
 * entries are estimated: the hardware prefetcher cannot see an 8 kB list
 * page coming (its buffer is anywhere in shared memory), and reading the
 * codes from memory, not computing with them, is what a high-dimensional
 * scan waits on.  Only a pin: the page is locked and checked
 * (lock_list_page) before any of it is used, and a prefetch of memory
 * that changes meanwhile is harmless.
 */
static inline Buffer
pin_next_page(Relation index, MsivfState *hints, BlockNumber next)
{
	Buffer		buf;
	const char *p;

	if (next == InvalidBlockNumber)
		return InvalidBuffer;
	buf = read_hinted(index, hints, next);
	p = (const char *) BufferGetPage(buf);
	for (int off = 0; off < BLCKSZ; off += 64)
		__builtin_prefetch(p + off, 0, 2);
	return buf;
}

/*
 * The cached index state, checked to be of the build the scan started on.
 */
static MsivfState *
current_state(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	MsivfState *st = msivf_get_state(index);

	/* a rebuild takes a lock the scan's own excludes: only damage gets here */
	if (st->build_id != so->st.build_id)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("msivf index \"%s\" changed its build during a scan",
						RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
	return st;
}

/*
 * The state a batch starts from: the cached index state, checked to be of
 * the build the scan started on, and an empty candidate pool.
 */
static MsivfState *
batch_begin(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	MsivfState *st = current_state(scan);

	/* the previous batch is used up */
	Assert(so->nhot == 0 && so->npool == so->cold_start);
	so->npool = so->nhot = so->cold_start = 0;
	return st;
}

/*
 * The state more lists are read with while candidates of earlier ones are
 * still waiting (deepening): hot and cold candidates are made one unsorted
 * run at the start of the pool, to be partitioned again with the new
 * lists' entries.  Any partition limit is right (a cold candidate is
 * promoted whenever a row to return is beyond hot_limit), so the new
 * batch's limit serves the old candidates as well.
 */
static MsivfState *
merge_begin(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	MsivfState *st = current_state(scan);
	int			ncold = so->npool - so->cold_start;

	memmove(so->pool + so->nhot, so->pool + so->cold_start, sizeof(Candidate) * ncold);
	so->npool = so->nhot + ncold;
	so->nhot = so->cold_start = 0;
	return st;
}

/*
 * Ends a batch: the candidates whose lower bound is at most limit (the
 * batch's HOT_K-th smallest upper bound) go first in the pool, as a heap;
 * the cold rest wait behind them unsorted.
 */
static void
batch_partition(MsivfScanOpaque so, float limit)
{
	int			h = 0;

	for (int i = 0; i < so->npool; i++)
	{
		if (so->pool[i].lb <= limit)
		{
			Candidate	t = so->pool[h];

			so->pool[h++] = so->pool[i];
			so->pool[i] = t;
		}
	}
	so->nhot = h;
	so->cold_start = h;
	so->hot_limit = limit;
	pool_heapify(so->pool, so->nhot);
}

/*
 * Reads the next batch of lists into the candidate pool, each entry with
 * the lower bound of its key; the pool's hot part is a heap on return.
 * This is the hot path of every query: the entry loop stays here, in one
 * function, with nothing called per entry but the dot-product kernel
 * (once a page for 4-bit codes) and hot_offer when an entry may be among
 * the batch's HOT_K nearest.  That is why it runs past 80 lines: its setup
 * is in helpers already, and what is left is the loop and the comments on
 * what each of its tests costs.
 */
static void
visit_batch(IndexScanDesc scan, int end, bool merge)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	MsivfState *st = merge ? merge_begin(scan) : batch_begin(scan);
	int			d = so->st.dims;
	int			metric = so->st.metric;
	int			bits = so->st.code_bits;
	Size		esz = so->st.entry_size;
	float		ubheap[HOT_K];
	int			nub = 0;
	float		l1round = quant_l1_rounding(d);
	float		sqrtd = sqrtf((float) d);
	float		limit = INFINITY;
	BlockNumber nblocks = 0;
	float		dots[MSIVF_MAX_PAGE_ENTRIES];
	int32		idots[MSIVF_MAX_PAGE_ENTRIES];

	Assert(so->st.entries_per_page <= MSIVF_MAX_PAGE_ENTRIES);
	list_order_extend(&so->lorder, end);
	for (; so->visited < end; so->visited++)
	{
		int			list = so->order[so->visited];
		ListTerms	terms = list_terms(so, st, list);
		const float *v = terms.v;
		float		lc = terms.lc;
		float		factor = terms.factor;
		float		bmul = terms.bmul;
		float		qbmul = terms.qbmul;
		float		v1 = terms.v1;
		const int8_t *qv = so->qq.q;
		const int8_t *qv4 = so->qq.q4;
		int			m4 = (int) quant_code_bytes(d, 4);
		/* L1's bound is a triangle inequality, not a dot product's: kept whole */
		float		kappa = bits == 4 && metric != MSIVF_METRIC_L1 ? so->code4_kappa : 1.0f;
		float		qscale = so->qq.qscale;
		int32		qsum = so->qq.qsum;
		BlockNumber blkno = list_first_page(index, &so->st, st, list, &nblocks);
		BlockNumber followed = 0;
		Buffer		nextbuf = InvalidBuffer;

		msivf_stats_last.lists++;
		while (blkno != InvalidBlockNumber)
		{
			Buffer		buf = nextbuf;
			Page		page = lock_list_page(scan, st, blkno, &nblocks, &buf);
			MsivfPageOpaque opaque = MsivfPageGetOpaque(page);
			char	   *p = PageGetContents(page);

			/*
			 * The pool, its count and the page's entry count in locals: the
			 * kernel is called through a pointer, so the compiler would
			 * otherwise reload (and store) them through memory per entry.
			 */
			Candidate  *pool = so->pool;
			int			npool = so->npool;
			int			nentries = opaque->nentries;

			/* machinesoup.max_scan_tuples, per page: the entry loop has no test */
			if (unlikely(nentries >= so->tuples_left))
			{
				nentries = (int) so->tuples_left;
				so->capped = true;
			}
			so->tuples_left -= nentries;
			msivf_stats_last.codes += nentries;
			nextbuf = pin_next_page(index, st, so->capped ? InvalidBlockNumber : opaque->next);

			/*
			 * Two passes over the page: the estimates' dot products first,
			 * then the bounds.  In one loop each entry's bound waited on
			 * its own kernel call, a chain of float operations the CPU
			 * could not overlap with the next entry's call; apart, the
			 * first pass is the kernel back to back and the second has
			 * independent iterations.
			 */
			if (metric == MSIVF_METRIC_L1)
				for (int i = 0; i < nentries; i++)
				{
					const MsivfEntry *e = (const MsivfEntry *) (p + i * esz);

					dots[i] = quant_l1_estimate(v, e->code, d, bits, e->scale);
				}
			else if (bits == 8)
				for (int i = 0; i < nentries; i++)
				{
					const MsivfEntry *e = (const MsivfEntry *) (p + i * esz);

					dots[i] = e->scale * (qscale * (float) quant_idot8(qv, (const int8 *) e->code, d, qsum));
				}
			else
			{
				quant_idot4_many(qv4, ((const MsivfEntry *) p)->code, esz, nentries, m4, qsum, idots);
				for (int i = 0; i < nentries; i++)
				{
					const MsivfEntry *e = (const MsivfEntry *) (p + i * esz);

					dots[i] = e->scale * (qscale * (float) idots[i]);
				}
			}

			for (int i = 0; i < nentries; i++, p += esz)
			{
				MsivfEntry *e = (MsivfEntry *) p;
				float		dot = dots[i];
				float		est;
				float		slack;
				float		lb;
				float		ub;

				/*
				 * 8-bit codes: an exact integer dot product with the
				 * quantized v, whose error |v - qscale * q| times |s * c|
				 * <= |r| + err widens the bound.  4-bit codes: the same,
				 * but both bounds times kappa.  Under strict order kappa
				 * is 1; under relaxed order it makes them statistical:
				 * the two errors are sums of d roundings, each about
				 * independent of the other vector's components, so their
				 * dot product with it spreads like the worst case over
				 * sqrt(d), and MSIVF_CODE4_SIGMAS of that spread bounds
				 * it but for rows so near the edge that the rerank order
				 * barely moves.  The worst case of a 4-bit code is too
				 * loose to be of use: at 768 dimensions it reranks about
				 * 200 rows a query where this reranks 14 (8-bit codes:
				 * 12), with the same recall.  L1: the estimate
				 * from the codes, bounded by the error's L1 norm
				 * (quant_l1.h, list_terms), its float rounding (of the
				 * estimate, v and the residual) relative to est + |v|_1 +
				 * |r|_1 + err, with |r|_1 <= sqrt(d) |r|.
				 */
				if (metric == MSIVF_METRIC_L1)
					slack = l1round * (dot + v1 + sqrtd * sqrtf(e->rnorm2) + e->err);
				else
					slack = kappa * qbmul * (sqrtf(e->rnorm2) + e->err);
				est = lc + factor * dot;
				if (metric == MSIVF_METRIC_L2)
					est += e->rnorm2;
				/* float rounding of the estimate, on the safe side */
				slack += 1e-5f * (fabsf(lc) + fabsf(dot) * 2 + e->rnorm2) + 1e-30f;
				lb = est - kappa * bmul * e->err - slack;
				ub = est + kappa * bmul * e->err + slack;

				/*
				 * Where float32 overflowed (components beyond ~1e19 square
				 * past FLT_MAX) the bounds are Inf or NaN and bound
				 * nothing: such an entry is reranked before any row is
				 * returned (lower bound -Inf) and limits nothing.  The
				 * exact key is computed in double by rerank().  Underflow
				 * needs nothing: what it loses is far below the 1e-30
				 * in the slack.  Every entry of a visited list passes
				 * here: written with "&", GCC keeps the two tests as
				 * compares and never-taken branches, where "||" was
				 * if-converted into a cmov chain through integer
				 * registers (5 % more instructions per 100-d query).
				 */
				if (unlikely(!(isfinite(lb) & isfinite(ub))))
				{
					lb = -INFINITY;
					ub = INFINITY;
				}
				pool[npool].lb = lb;
				pool[npool].tid = e->tid;
				npool++;
				if (ub < limit)
					limit = hot_offer(ubheap, &nub, ub);
			}
			so->npool = npool;
			blkno = so->capped ? InvalidBlockNumber : opaque->next;
			UnlockReleaseBuffer(buf);
			CHECK_FOR_INTERRUPTS();
			if (blkno != InvalidBlockNumber)
				msivf_chain_step(index, &followed, &nblocks);
		}
		if (so->capped)
		{
			/* this list, cut short, counts as visited; no other will be */
			so->visited++;
			break;
		}
	}

	batch_partition(so, limit);
	if (!merge)
		so->batch = Min(so->st.nlists, so->batch * 2);
}

/*
 * Fetches the row with the scan's snapshot and computes its exact key and
 * operator value; false if the row is not visible.  tid stays the index
 * entry's: the fetch follows a HOT chain and reports the member it found
 * in the TID it is given, but the executor fetches the row again from the
 * TID we return, which must be the chain's root.
 */
static bool
rerank(IndexScanDesc scan, const ItemPointerData *entry_tid, double *key, double *value)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	ItemPointerData tid_copy = *entry_tid;
	ItemPointer tid = &tid_copy;
	bool		call_again = false;
	bool		all_dead = false;
	bool		found;
	Datum		d;
	bool		isnull;
	Vec		   *x;
	MemoryContext old;
	int			n = so->st.dims;
	const float *a;
	const float *b;

	old = MemoryContextSwitchTo(so->tmpcxt);
	found = table_index_fetch_tuple(so->fetch, tid, scan->xs_snapshot, so->slot,
									&call_again, &all_dead);
	if (!found)
	{
		MemoryContextSwitchTo(old);
		MemoryContextReset(so->tmpcxt);
		return false;
	}
	if (so->attno != 0)
		d = slot_getattr(so->slot, so->attno, &isnull);
	else
	{
		ExprContext *econtext = GetPerTupleExprContext(so->estate);
		Datum		values[INDEX_MAX_KEYS];
		bool		nulls[INDEX_MAX_KEYS];

		ResetExprContext(econtext);
		econtext->ecxt_scantuple = so->slot;
		FormIndexDatum(so->indexInfo, so->slot, so->estate, values, nulls);
		d = values[0];
		isnull = nulls[0];
	}
	if (isnull)
	{
		ExecClearTuple(so->slot);
		MemoryContextSwitchTo(old);
		MemoryContextReset(so->tmpcxt);
		return false;
	}
	x = msivf_datum_vec(d);
	if (x->dim != n)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("msivf index \"%s\" points to a row of %d dimensions, not %d",
						RelationGetRelationName(scan->indexRelation), x->dim, n),
				 errhint("REINDEX the index.")));
	a = x->x;
	b = so->query->x;

	switch (so->st.metric)
	{
		case MSIVF_METRIC_L2:
			*key = vec_distance_l2_squared(a, b, n);
			*value = sqrt(*key);
			break;
		case MSIVF_METRIC_IP:
			*key = *value = 0.0 - vec_distance_inner_product(a, b, n);
			break;
		case MSIVF_METRIC_L1:
			*key = *value = vec_distance_l1(a, b, n);
			break;
		default:
			*value = vec_distance_cosine(a, b, n);
			*key = isnan(*value) ? INFINITY : *value;
			break;
	}
	ExecClearTuple(so->slot);
	MemoryContextSwitchTo(old);
	MemoryContextReset(so->tmpcxt);
	return true;
}

/*
 * A NULL query's scan: the entries of list "list", every page of it, into
 * the pool, to be returned in the order they are stored.
 */
static void
collect_list(IndexScanDesc scan, int list)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	Size		esz = so->st.entry_size;
	BlockNumber nblocks = 0;
	BlockNumber followed = 0;
	BlockNumber blkno;
	MsivfState *st = current_state(scan);

	so->npool = so->served = 0;
	blkno = list_first_page(index, &so->st, st, list, &nblocks);
	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = InvalidBuffer;
		Page		page = lock_list_page(scan, st, blkno, &nblocks, &buf);
		MsivfPageOpaque opaque = MsivfPageGetOpaque(page);
		char	   *p = PageGetContents(page);
		int			nentries = opaque->nentries;

		if (nentries >= so->tuples_left)
		{
			nentries = (int) so->tuples_left;
			so->capped = true;
		}
		so->tuples_left -= nentries;
		for (int i = 0; i < nentries; i++, p += esz)
			so->pool[so->npool++].tid = ((MsivfEntry *) p)->tid;
		blkno = so->capped ? InvalidBlockNumber : opaque->next;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
		if (blkno != InvalidBlockNumber)
			msivf_chain_step(index, &followed, &nblocks);
	}
}

/* gettuple for a NULL query: the next row of the lists, distance NULL */
static bool
next_null_query_row(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;

	while (so->served >= so->npool)
	{
		if (so->visited >= so->list_limit || so->capped)
			return false;
		collect_list(scan, so->visited++);
	}
	msivf_return_row(scan, &so->pool[so->served++].tid, 0, true);
	return true;
}

/*
 * rerank and visit_batch, counted in msivf_stats_last and, with
 * machinesoup.scan_timing on, timed (msivfstats.c).
 */
static bool
rerank_counted(IndexScanDesc scan, const ItemPointerData *tid, double *key, double *value)
{
	instr_time	t0,
				t1;
	bool		found;

	if (!msivf_scan_timing)
		found = rerank(scan, tid, key, value);
	else
	{
		INSTR_TIME_SET_CURRENT(t0);
		found = rerank(scan, tid, key, value);
		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_ACCUM_DIFF(msivf_stats_last.rerank_time, t1, t0);
	}
	msivf_stats_last.reranks++;
	msivf_stats_last.heap_rows += found;
	return found;
}

static void
visit_batch_timed(IndexScanDesc scan, int end, bool merge)
{
	instr_time	t0,
				t1;

	if (!msivf_scan_timing)
	{
		visit_batch(scan, end, merge);
		return;
	}
	INSTR_TIME_SET_CURRENT(t0);
	visit_batch(scan, end, merge);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_ACCUM_DIFF(msivf_stats_last.list_time, t1, t0);
}

/*
 * amgettuple: the next row in order of exact distance within the lists
 * visited so far (see the file header), with its distance as the ORDER BY
 * value, which needs no recheck.  Visits another batch of lists when
 * nothing verified can come first any more, and ends after the last list.
 */
bool
msivf_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("msivf indexes answer only ORDER BY <vec> <distance operator> <constant>")));
	if (msivf_index_is_bits(scan->indexRelation))
		return msivf_bits_gettuple(scan);

	if (!so->started)
		start_scan(scan);
	if (so->no_rows)
		return false;
	if (so->null_query)
		return next_null_query_row(scan);

	for (;;)
	{
		/* verify candidates until none could beat the best verified row */
		while (so->nhot > 0 &&
			   (so->nready == 0 || (double) so->pool[0].lb <= so->ready[0].key))
		{
			Candidate	c = pool_pop(so);
			double		key,
						value;

			if (rerank_counted(scan, &c.tid, &key, &value))
				ready_push(so, key, value, &c.tid);
		}
		/* a cold candidate could still come first: bring them in */
		if (so->npool > so->cold_start &&
			(so->nready == 0 || so->ready[0].key > (double) so->hot_limit))
		{
			pool_promote_cold(so);
			continue;
		}
		if (so->nready > 0)
		{
			Ready		r;

			/*
			 * Asked for deepen_at rows and more: widen the lists visited to
			 * what twice as many rows need, before returning any more, so
			 * that the rows still to come are drawn from them.
			 */
			if (unlikely(so->returned >= so->deepen_at))
			{
				int			want = msivf_deepen_probes(so->first_batch, so->deepen_at * 2,
													   so->st.nlists);

				so->deepen_at *= 2;
				want = Min(want, so->list_limit);
				if (want > so->visited && !so->capped)
				{
					visit_batch_timed(scan, want, true);
					continue;
				}
			}
			r = ready_pop(so);
			so->returned++;
			msivf_return_row(scan, &r.tid, r.value, false);
			return true;
		}
		/* the last list, or a cap: what was examined is all returned */
		if (so->visited >= so->list_limit || so->capped)
			return false;
		visit_batch_timed(scan, Min(so->list_limit, so->visited + so->batch), false);
	}
}

/* amendscan: ends heap access and frees everything the scan allocated */
void
msivf_endscan(IndexScanDesc scan)
{
	MsivfScanOpaque so = (MsivfScanOpaque) scan->opaque;

	if (msivf_index_is_bits(scan->indexRelation))
	{
		msivf_bits_endscan(scan);
		return;
	}
	if (so->fetch)
		table_index_fetch_end(so->fetch);
	if (so->slot)
		ExecDropSingleTupleTableSlot(so->slot);
	if (so->estate)
		FreeExecutorState(so->estate);
	if (so->split_locked)
		msivf_scan_unlock(scan->indexRelation);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
