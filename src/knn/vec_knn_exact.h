/*
 * vec_knn_exact.h
 *		Server side of batched exact kNN: argument checks, the table scan
 *		that feeds src/knn/core/knn_block.c, shared by vec_knn_exact() and
 *		vec_index_recall().
 */
#ifndef MS_VEC_KNN_EXACT_H
#define MS_VEC_KNN_EXACT_H

#include "postgres.h"

#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/relcache.h"

#include "knn_block.h"

/* A heap TID as the int64 row id the core works with, and back. */
static inline int64
knn_tid_to_id(ItemPointer tid)
{
	return ((int64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline void
knn_id_to_tid(int64 id, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (id >> 16), (OffsetNumber) (id & 0xFFFF));
}

/*
 * The queries of a vec[] as one row-major float array; ERROR when the array
 * is empty, holds a NULL, or mixes dimensions.
 */
extern float *knn_exact_unpack_queries(ArrayType *queries, int *nqueries,
									   int *dim);

/* The metric named by a text argument; ERROR when unknown. */
extern KnnMetric knn_exact_metric(const char *name);

/*
 * The column's number, after checking that the caller may scan it: a
 * table, materialized view or (allow_partitioned) partitioned table, the
 * column exists, SELECT on the table or the column, no row-level security
 * in force, the column of type vectype (vec, or bvec) with a typmod (if
 * any) that agrees with dim (not checked when dim < 0).  caller names the SQL function in messages.  A partitioned table is refused unless
 * allow_partitioned (the caller then scans its partitions); a Citus table,
 * whose rows are on other nodes, always.
 */
extern AttrNumber knn_exact_check_relation(Relation rel, const char *colname,
										   Oid vectype, int dim,
										   const char *caller,
										   bool allow_partitioned);

/*
 * One pass over the relation under the active snapshot: the exact top k
 * of every query, finished (see knn_block_finish), ids being heap TIDs.
 * Memory: the row block within work_mem, the heaps nqueries x k.
 */
extern KnnBlock *knn_exact_search(Relation rel, AttrNumber attnum,
								  KnnMetric metric, const float *queries,
								  int nqueries, int dim, int k);

#endif							/* MS_VEC_KNN_EXACT_H */
