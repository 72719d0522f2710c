/*
 * msivfbuild.h
 *		The state CREATE INDEX for msivf carries through its passes, shared
 *		by msivfbuild.c (the steps and the pages of the structure),
 *		msivftrain.c (pass 1: sample and k-means) and msivfassign.c (pass 2:
 *		assignment, serial or with parallel workers).
 */
#ifndef MS_MSIVFBUILD_H
#define MS_MSIVFBUILD_H

#include "access/genam.h"
#include "common/pg_prng.h"
#include "nodes/execnodes.h"
#include "port/atomics.h"

#include "msivf.h"

/* true neighbours kept per calibration query: recall@10 */
#define CALIB_K			10

/* one of a calibration query's nearest rows, and the list it went to */
typedef struct CalibNeighbour
{
	float		dist;
	int32		list;
} CalibNeighbour;

typedef struct MsivfBuildState
{
	Relation	index;
	ForkNumber	fork;
	int			metric;
	int			dims;
	Size		budget;			/* bytes of maintenance_work_mem */
	MemoryContext cxt;			/* holds everything below */

	/* pass 1: reservoir sample of prepared vectors */
	int64		seen;			/* indexable rows seen */
	int			sample_cap;
	int			nsample;
	float	   *sample;
	ItemPointerData *sample_tids;
	pg_prng_state prng;

	/* the trained structure */
	MsivfState	st;
	int			nlists;

	/* pass 2 */
	int			block_cap;
	int			nblock;
	float	   *block;
	ItemPointerData *block_tids;
	int32	   *block_assign;
	float	   *block_norms;
	float	   *work;
	size_t		work_floats;
	MsivfEntry *entry;
	float	   *entry_work;
	pg_atomic_uint32 *tails;	/* last page of each list (shared when parallel) */
	BlockNumber *heads;
	int64		heap_tuples;
	int64		index_tuples;

	/* calibration */
	int			nqueries;
	float	   *queries;
	ItemPointerData *query_tids;
	CalibNeighbour *neigh;		/* nqueries * CALIB_K, a max-heap each */
	int		   *nneigh;
	float	   *calib_block;	/* nqueries * block_cap */

	bool		is_worker;		/* a parallel worker: no progress reports */
} MsivfBuildState;

/* msivfbuild.c */
extern int	msivf_calib_curve(const MsivfState *st, const float *queries, int nqueries,
							  const CalibNeighbour *neigh, const int *nneigh,
							  uint16 *calib_probes);
extern void msivf_build_init_state(MsivfBuildState *bs, Relation index, ForkNumber fork);
extern void msivf_build_check_row_dims(MsivfBuildState *bs, const Vec *v);

/* msivftrain.c */
extern void msivf_build_sample(MsivfBuildState *bs, Relation heap, Relation index,
							   IndexInfo *indexInfo);
extern void msivf_build_train(MsivfBuildState *bs, int requested);

/* msivfassign.c */
extern void msivf_calib_offer(CalibNeighbour *h, int *n, float dist, int32 list);
extern void msivf_build_assign(MsivfBuildState *bs, Relation heap, Relation index,
							   IndexInfo *indexInfo);

#endif							/* MS_MSIVFBUILD_H */
