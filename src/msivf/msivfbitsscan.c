/*
 * msivfbitsscan.c
 *		Index scans of msivf over bvec: ORDER BY b <~> query (Hamming) or
 *		b <%> query (Jaccard).
 *
 * The lists are ranked by their centroid's nearness to the query (Hamming:
 * the inner product of a float centroid with the query's +-1 sign vector;
 * Jaccard: the binary centroid's distance) and visited in batches, nearest first, as for vec (msivfscan.c): the
 * probe count first (machinesoup.probes, else a tenth of the lists: a bvec
 * index has no calibration), then twice as many lists per batch until
 * every list is visited.  An entry holds the row's bits, so its distance,
 * computed with the popcount kernels, is the exact one the operator
 * returns: no heap row is read and nothing needs a recheck.  Each batch's
 * rows come back in exact order (a heap on the distance, ties by TID), so
 * the promise is vec's: exact order within the lists visited so far, and
 * an exact result once every list is visited (probes >= lists, or
 * machinesoup.scan_order = strict).  The caps (max_probes,
 * max_scan_tuples) are checked per list and per page.  A NULL query
 * returns every row, list by list, with a NULL distance, as a sequential
 * scan does.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "bit_kernels.h"
#include "bitkmeans.h"
#include "bvec.h"
#include "msivf.h"
#include "vec_kernels.h"

/* a row of a visited list: its exact distance */
typedef struct BitsHit
{
	double		key;
	ItemPointerData tid;
} BitsHit;

typedef struct BitsScanOpaqueData
{
	MemoryContext cxt;			/* lives as long as the scan */
	bool		started;
	bool		no_rows;		/* nothing indexed */
	bool		null_query;		/* every row, list order, NULL distance */
	MsivfState	st;				/* scalars of the index state */
	Bvec	   *query;			/* the ORDER BY argument, or NULL */
	int		   *order;			/* lists, nearest first */
	int			visited;
	int			batch;
	int			list_limit;
	int64		tuples_left;
	bool		capped;
	BitsHit    *hits;			/* the batch's rows: a min-heap, or in list order */
	int			nhits;
	int			served;			/* null query: hits[0..served) returned */
	int			cap;

	/*
	 * Hamming: the batch sorted by distance (a counting sort: distances are
	 * integers 0..nbits), each run of equal distances put in TID order only
	 * when the scan reaches it.  sorted has cap rows, count nbits + 2.
	 */
	bool		counting;
	BitsHit    *sorted;
	int			nsorted;
	int			next;			/* sorted[next] is returned next */
	int			run_end;		/* sorted[next..run_end) is in TID order */
	int		   *count;
} BitsScanOpaqueData;

typedef BitsScanOpaqueData *BitsScanOpaque;

/*
 * The hit arrays of the backend's last scan, kept for the next one: a
 * query's arrays grow to the rows of its lists (hundreds of kB), and
 * allocating them anew for every execution of a prepared query cost more
 * in page faults and copies than the distances themselves.  Arrays of more
 * than SPARE_MAX_HITS rows are freed instead.
 */
#define SPARE_MAX_HITS	(1 << 20)
static BitsHit *spare_hits;
static BitsHit *spare_sorted;
static int	spare_cap;

/* The scan's context is going (endscan or an error): its arrays become the spares. */
static void
release_hits(void *arg)
{
	BitsScanOpaque so = (BitsScanOpaque) arg;

	if (so->hits == NULL)
		return;
	if (spare_hits == NULL && so->cap <= SPARE_MAX_HITS)
	{
		spare_hits = so->hits;
		spare_sorted = so->sorted;
		spare_cap = so->cap;
	}
	else
	{
		pfree(so->hits);
		if (so->sorted)
			pfree(so->sorted);
	}
	so->hits = so->sorted = NULL;
}

static inline bool
hit_less(const BitsHit *a, const BitsHit *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

static void
hit_sift_down(BitsHit *h, int n, int i)
{
	BitsHit		x = h[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && hit_less(&h[c + 1], &h[c]))
			c++;
		if (!hit_less(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* ambeginscan for a bvec index */
IndexScanDesc
msivf_bits_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	BitsScanOpaque so = palloc0(sizeof(BitsScanOpaqueData));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "msivf bvec scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(1, norderbys));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(1, norderbys));
	memset(scan->xs_orderbynulls, true, sizeof(bool) * Max(1, norderbys));
	return scan;
}

/* amrescan: a copy of the ORDER BY argument (NULL: every row, NULL distance) */
void
msivf_bits_rescan(IndexScanDesc scan, ScanKey orderbys)
{
	BitsScanOpaque so = (BitsScanOpaque) scan->opaque;
	MemoryContext old;

	so->started = so->no_rows = so->null_query = so->capped = false;
	so->visited = so->nhits = so->served = 0;
	so->nsorted = so->next = so->run_end = 0;
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	old = MemoryContextSwitchTo(so->cxt);
	if (so->query)
		pfree(so->query);
	so->query = NULL;
	if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		Bvec	   *b = DatumGetBvec(scan->orderByData[0].sk_argument);

		so->query = palloc(VARSIZE(b));
		memcpy(so->query, b, VARSIZE(b));
	}
	MemoryContextSwitchTo(old);
}

/* qsort_arg comparator of lists by their centroid's distance (the arg), then number */
static int
cmp_list_dist(const void *a, const void *b, void *arg)
{
	const double *d = (const double *) arg;
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	if (d[x] != d[y])
		return d[x] < d[y] ? -1 : 1;
	return (x > y) - (x < y);
}

/* The first gettuple: the index state, the lists in order, the first batch. */
static void
start_scan(IndexScanDesc scan)
{
	BitsScanOpaque so = (BitsScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	MsivfState *st;
	MemoryContext old;

	so->started = true;
	pgstat_count_index_scan(index);
	msivf_stats_begin();
	old = MemoryContextSwitchTo(so->cxt);

	st = msivf_get_state(index);
	so->st = *st;
	so->st.centroids = NULL;
	so->st.centroid_norms = NULL;
	so->st.bit_centroids = NULL;
	so->list_limit = msivf_list_limit(st);
	so->tuples_left = msivf_max_scan_tuples > 0 ? msivf_max_scan_tuples : PG_INT64_MAX;
	if (st->dims == 0)
	{
		so->no_rows = true;
		MemoryContextSwitchTo(old);
		return;
	}
	if (so->order == NULL || so->cap == 0)
	{
		MemoryContextCallback *cb = MemoryContextAlloc(so->cxt, sizeof(MemoryContextCallback));

		so->order = MemoryContextAlloc(so->cxt, sizeof(int) * st->nlists);
		/* the arrays outlive the scan (release_hits): TopMemoryContext's */
		if (spare_hits != NULL)
		{
			so->hits = spare_hits;
			so->sorted = spare_sorted;
			so->cap = spare_cap;
			spare_hits = spare_sorted = NULL;
		}
		else
		{
			so->cap = 1024;
			so->hits = MemoryContextAllocHuge(TopMemoryContext, sizeof(BitsHit) * so->cap);
			so->sorted = NULL;
		}
		cb->func = release_hits;
		cb->arg = so;
		MemoryContextRegisterResetCallback(so->cxt, cb);
	}
	else
		so->order = repalloc(so->order, sizeof(int) * st->nlists);
	for (int j = 0; j < st->nlists; j++)
		so->order[j] = j;

	/* a strict operator's distance to NULL is NULL: every row ties */
	if (so->query == NULL)
	{
		so->null_query = true;
		so->batch = 1;
		MemoryContextSwitchTo(old);
		return;
	}
	if (so->query->nbits != st->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bvec lengths %d and %d", st->dims, so->query->nbits),
				 errdetail("The msivf index \"%s\" holds bvecs of %d bits.",
						   RelationGetRelationName(index), st->dims)));

	if (st->centroids != NULL && st->nlists > 1)
	{
		/* sign centroids: the largest inner product with the query's signs first */
		double	   *d = palloc(sizeof(double) * st->nlists);
		float	   *signs = palloc(sizeof(float) * st->dims);

		bitkm_signs(so->query->data, st->dims, signs);
		for (int j = 0; j < st->nlists; j++)
			d[j] = -(double) vec_kernels->inner_product(signs, st->centroids + (Size) j * st->dims,
														 st->dims);
		qsort_arg(so->order, st->nlists, sizeof(int), cmp_list_dist, d);
		pfree(d);
		pfree(signs);
	}
	else if (st->bit_centroids != NULL && st->nlists > 1)
	{
		double	   *d = palloc(sizeof(double) * st->nlists);
		BitkmMetric km = st->metric == MSIVF_METRIC_HAMMING ? BITKM_HAMMING : BITKM_JACCARD;
		Size		nbytes = BVEC_BYTES(st->dims);

		for (int j = 0; j < st->nlists; j++)
			d[j] = bitkm_distance(km, so->query->data, st->bit_centroids + j * nbytes, nbytes);
		qsort_arg(so->order, st->nlists, sizeof(int), cmp_list_dist, d);
		pfree(d);
	}
	so->batch = msivf_scan_order == MSIVF_SCAN_STRICT ? so->list_limit : msivf_probes_for(st);
	so->counting = st->metric == MSIVF_METRIC_HAMMING;
	if (so->counting && so->count == NULL)
		so->count = MemoryContextAlloc(so->cxt, sizeof(int) * ((Size) st->dims + 2));
	if (so->counting && so->sorted == NULL)
		so->sorted = MemoryContextAllocHuge(TopMemoryContext, sizeof(BitsHit) * so->cap);
	MemoryContextSwitchTo(old);
}

/* qsort comparator of hits by TID (one run of equal distances) */
static int
cmp_hit_tid(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const BitsHit *) a)->tid,
							  (ItemPointer) &((const BitsHit *) b)->tid);
}

/*
 * The batch's Hamming hits into so->sorted by distance, stable (list
 * order within a distance): two linear passes, where a heap of the same
 * rows spent most of a scan's time in sift-downs.
 */
static void
counting_sort(BitsScanOpaque so)
{
	int			nbits = so->st.dims;
	int		   *count = so->count;
	int			sum = 0;

	memset(count, 0, sizeof(int) * (nbits + 2));
	for (int i = 0; i < so->nhits; i++)
		count[(int) so->hits[i].key]++;
	for (int d = 0; d <= nbits; d++)
	{
		int			c = count[d];

		count[d] = sum;
		sum += c;
	}
	for (int i = 0; i < so->nhits; i++)
		so->sorted[count[(int) so->hits[i].key]++] = so->hits[i];
	so->nsorted = so->nhits;
	so->nhits = 0;
	so->next = so->run_end = 0;
}

/* The first page of list, from its directory entry (checked). */
static BlockNumber
bits_list_head(Relation index, const MsivfState *st, int list, BlockNumber *nblocks)
{
	int			slot;
	BlockNumber blkno = msivf_dir_block(st, list, &slot);
	Buffer		buf = ReadBuffer(index, blkno);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	msivf_check_dir_page(index, st, BufferGetPage(buf), blkno);
	blkno = msivf_list_info(index, st, BufferGetPage(buf), slot, nblocks).head;
	UnlockReleaseBuffer(buf);
	return blkno;
}

/*
 * Every entry of list, page by page, joins so->hits with its exact
 * distance to the query (none for a NULL query).  One share lock at a
 * time; the entry cap is checked per page.
 */
static void
visit_list(IndexScanDesc scan, int list)
{
	BitsScanOpaque so = (BitsScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	const MsivfState *st = &so->st;
	Size		esz = st->entry_size;
	Size		nbytes = BVEC_BYTES(st->dims);
	const uint8 *q = so->query ? so->query->data : NULL;
	bool		hamming = st->metric == MSIVF_METRIC_HAMMING;
	BlockNumber nblocks = 0;
	BlockNumber followed = 0;
	BlockNumber blkno;

	msivf_stats_last.lists++;
	blkno = bits_list_head(index, st, list, &nblocks);
	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		MsivfPageOpaque opaque;
		const char *p;
		int			n;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		msivf_check_list_page(index, st, page, blkno, &nblocks);
		opaque = MsivfPageGetOpaque(page);
		n = opaque->nentries;
		msivf_stats_last.pages++;
		if (n >= so->tuples_left)
		{
			n = (int) so->tuples_left;
			so->capped = true;
		}
		so->tuples_left -= n;
		msivf_stats_last.codes += n;
		if (so->nhits + n > so->cap)
		{
			while (so->nhits + n > so->cap)
				so->cap *= 2;
			so->hits = repalloc_huge(so->hits, sizeof(BitsHit) * so->cap);
			/* the last batch's sorted rows are all returned: nothing to keep */
			if (so->sorted)
			{
				pfree(so->sorted);
				so->sorted = MemoryContextAllocHuge(TopMemoryContext, sizeof(BitsHit) * so->cap);
			}
		}
		p = PageGetContents(page);
		for (int i = 0; i < n; i++, p += esz)
		{
			BitsHit    *h = &so->hits[so->nhits++];
			const uint8 *bits = (const uint8 *) p + MSIVF_BITS_OFFSET;

			memcpy(&h->tid, p, sizeof(ItemPointerData));
			if (q == NULL)
				h->key = 0;
			else if (hamming)
				h->key = (double) bit_kernels->hamming(q, bits, nbytes);
			else
			{
				uint64		and_count,
							or_count;

				bit_kernels->and_or(q, bits, nbytes, &and_count, &or_count);
				h->key = bit_jaccard_from_counts(and_count, or_count);
			}
		}
		blkno = so->capped ? InvalidBlockNumber : opaque->next;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
		if (blkno != InvalidBlockNumber)
			msivf_chain_step(index, &followed, &nblocks);
	}
}

/* The next batch of lists into so->hits, as a heap unless the query is NULL. */
static void
visit_batch(IndexScanDesc scan)
{
	BitsScanOpaque so = (BitsScanOpaque) scan->opaque;
	int			end = (int) Min((int64) so->visited + so->batch, (int64) so->list_limit);

	/* a rebuild takes a lock the scan's own excludes: only damage gets here */
	if (msivf_get_state(scan->indexRelation)->build_id != so->st.build_id)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("msivf index \"%s\" changed its build during a scan",
						RelationGetRelationName(scan->indexRelation)),
				 errhint("REINDEX the index.")));
	so->nhits = so->served = 0;
	while (so->visited < end && !so->capped)
		visit_list(scan, so->order[so->visited++]);
	if (!so->null_query && so->counting)
	{
		counting_sort(so);
		so->batch = (int) Min((int64) so->batch * 2, (int64) MSIVF_MAX_LISTS);
	}
	else if (!so->null_query)
	{
		for (int i = so->nhits / 2 - 1; i >= 0; i--)
			hit_sift_down(so->hits, so->nhits, i);
		so->batch = (int) Min((int64) so->batch * 2, (int64) MSIVF_MAX_LISTS);
	}
}

/* amgettuple for a bvec index: the next row, its exact distance the ORDER BY value */
bool
msivf_bits_gettuple(IndexScanDesc scan)
{
	BitsScanOpaque so = (BitsScanOpaque) scan->opaque;

	if (!so->started)
		start_scan(scan);
	if (so->no_rows)
		return false;
	for (;;)
	{
		if (so->null_query && so->served < so->nhits)
		{
			msivf_return_row(scan, &so->hits[so->served++].tid, 0, true);
			return true;
		}
		if (so->next < so->nsorted)
		{
			BitsHit    *h;

			if (so->next == so->run_end)
			{
				/* the next run of equal distances, in TID order */
				double		key = so->sorted[so->next].key;
				int			end = so->next + 1;

				while (end < so->nsorted && so->sorted[end].key == key)
					end++;
				if (end - so->next > 1)
					qsort(so->sorted + so->next, end - so->next, sizeof(BitsHit), cmp_hit_tid);
				so->run_end = end;
			}
			h = &so->sorted[so->next++];
			msivf_return_row(scan, &h->tid, h->key, false);
			return true;
		}
		if (!so->null_query && so->nhits > 0)
		{
			BitsHit		top = so->hits[0];

			so->hits[0] = so->hits[--so->nhits];
			if (so->nhits > 0)
				hit_sift_down(so->hits, so->nhits, 0);
			msivf_return_row(scan, &top.tid, top.key, false);
			return true;
		}
		/* the last list, or a cap: what was examined is all returned */
		if (so->visited >= so->list_limit || so->capped)
			return false;
		visit_batch(scan);
	}
}

/* amendscan for a bvec index */
void
msivf_bits_endscan(IndexScanDesc scan)
{
	BitsScanOpaque so = (BitsScanOpaque) scan->opaque;

	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
