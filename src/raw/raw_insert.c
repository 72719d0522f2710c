/*
 * raw_insert.c
 *		ms._insert_points: run a version's processor on one batch and put its
 *		rows straight into the version's partition of ms.points, the way COPY
 *		does it: heap_multi_insert (one WAL record per heap page rather than
 *		per row), then the index entries, an msivf index's a batch at a time
 *		(one WAL record per list page rather than per row).
 *
 * It does what
 *		INSERT INTO ms.points SELECT org, version_id, r.*
 *		  FROM ms._run_processor(processor, batch, dims, metric) r
 * does, and gives way to that statement (returns NULL before running the
 * processor) whenever the statement would do more than insert rows and
 * their index entries: triggers on ms.points or on the partition (which
 * covers foreign keys and deferrable constraints), rules or row-level
 * security on ms.points, a partition that is not a plain table, columns
 * other than ms.points' own.
 * NOT NULL and CHECK constraints are checked as the INSERT checks them,
 * and an id already in the partition is a unique_violation as there
 * (ms._process_batch turns that into an upsert).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/execPartition.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "msivf.h"
#include "raw_store.h"

PG_FUNCTION_INFO_V1(ms_insert_points);
PG_FUNCTION_INFO_V1(ms_insert_shard_points);

/* rows per heap_multi_insert, and their bytes (COPY's limits) */
#define MAX_BUFFERED_ROWS	1000
#define MAX_BUFFERED_BYTES	65536

enum
{
	COL_ORG,
	COL_VERSION,
	COL_POINT,
	COL_EMBEDDING,
	COL_PAYLOAD,
	NCOLS
};

static const char *const col_names[NCOLS] = {
	"org", "version_id", "point_id", "embedding", "payload"
};

/*
 * The 0-based positions of ms.points' columns in desc (a partition's may
 * differ from the parent's after dropped columns); false when one is
 * missing, has another type than the parent's, or there is any other
 * column (whose default the INSERT would fill in).
 */
static bool
find_columns(TupleDesc desc, const Oid *types, int *cols)
{
	int			live = 0;

	for (int c = 0; c < NCOLS; c++)
		cols[c] = -1;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		live++;
		for (int c = 0; c < NCOLS; c++)
			if (strcmp(NameStr(att->attname), col_names[c]) == 0)
				cols[c] = i;
	}
	if (live != NCOLS)
		return false;
	for (int c = 0; c < NCOLS; c++)
		if (cols[c] < 0 || (types && TupleDescAttr(desc, cols[c])->atttypid != types[c]))
			return false;
	return true;
}

/* Is typid a type named vec, as ms.points' embedding must be? */
static bool
is_vec_type(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	bool		result;

	if (!HeapTupleIsValid(tup))
		return false;
	result = strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), "vec") == 0;
	ReleaseSysCache(tup);
	return result;
}

/* The state of one call: the partition, its indexes, the rows buffered. */
typedef struct PointInserter
{
	EState	   *estate;
	ResultRelInfo *part;		/* the version's partition */
	Relation	partrel;
	TupleDesc	slotdesc;		/* unpinned copy of the partition's */
	int			cols[NCOLS];	/* in the partition */
	CommandId	cid;
	BulkInsertState bistate;
	/* msivf indexes, indexed here a batch at a time */
	int			nbulk;
	Relation   *bulk;
	AttrNumber *bulk_attno;
	/* buffered rows */
	TupleTableSlot **slots;
	int			nslots;			/* created */
	int			nbuffered;
	Size		bytes;
	Datum	   *values;			/* for msivf_insert_batch */
	bool	   *isnull;
	ItemPointerData *tids;
	int64		inserted;
} PointInserter;

/*
 * Take the partition's simple msivf indexes out of the ResultRelInfo's
 * list, which ExecInsertIndexTuples walks row by row, to index them a
 * batch at a time.  An index that is not ready for inserts (CREATE INDEX
 * CONCURRENTLY) stays where ExecInsertIndexTuples skips it.
 */
static void
split_indexes(PointInserter *pi, RelationPtr *saved_descs, IndexInfo ***saved_infos,
			  int *saved_n)
{
	ResultRelInfo *rri = pi->part;
	int			n = rri->ri_NumIndices;
	RelationPtr descs;
	IndexInfo **infos;
	int			kept = 0;

	*saved_descs = rri->ri_IndexRelationDescs;
	*saved_infos = rri->ri_IndexRelationInfo;
	*saved_n = n;
	pi->nbulk = 0;
	if (n == 0)
		return;
	descs = palloc(sizeof(Relation) * n);
	infos = palloc(sizeof(IndexInfo *) * n);
	pi->bulk = palloc(sizeof(Relation) * n);
	pi->bulk_attno = palloc(sizeof(AttrNumber) * n);
	for (int i = 0; i < n; i++)
	{
		Relation	index = rri->ri_IndexRelationDescs[i];
		IndexInfo  *info = rri->ri_IndexRelationInfo[i];

		if (index->rd_indam->aminsert == msivf_insert &&
			info->ii_ReadyForInserts && info->ii_NumIndexAttrs == 1 &&
			info->ii_IndexAttrNumbers[0] > 0 &&
			info->ii_Expressions == NIL && info->ii_Predicate == NIL)
		{
			pi->bulk[pi->nbulk] = index;
			pi->bulk_attno[pi->nbulk] = info->ii_IndexAttrNumbers[0];
			pi->nbulk++;
		}
		else
		{
			descs[kept] = index;
			infos[kept] = info;
			kept++;
		}
	}
	rri->ri_IndexRelationDescs = descs;
	rri->ri_IndexRelationInfo = infos;
	rri->ri_NumIndices = kept;
}

/* Insert the buffered rows and their index entries. */
static void
flush_rows(PointInserter *pi)
{
	int			n = pi->nbuffered;
	EState	   *estate = pi->estate;

	if (n == 0)
		return;
	table_multi_insert(pi->partrel, pi->slots, n, pi->cid, 0, pi->bistate);

	if (pi->part->ri_NumIndices > 0)
	{
		for (int i = 0; i < n; i++)
		{
			List	   *recheck;

			ResetPerTupleExprContext(estate);
			recheck = ExecInsertIndexTuples(pi->part, pi->slots[i], estate,
											false, false, NULL, NIL);
			/* deferred checks come with triggers, which took the SQL path */
			if (recheck != NIL)
				elog(ERROR, "unexpected deferred index check on \"%s\"",
					 RelationGetRelationName(pi->partrel));
		}
	}
	for (int b = 0; b < pi->nbulk; b++)
	{
		for (int i = 0; i < n; i++)
		{
			pi->values[i] = slot_getattr(pi->slots[i], pi->bulk_attno[b], &pi->isnull[i]);
			pi->tids[i] = pi->slots[i]->tts_tid;
		}
		msivf_insert_batch(pi->bulk[b], n, pi->values, pi->isnull, pi->tids);
	}

	for (int i = 0; i < n; i++)
		ExecClearTuple(pi->slots[i]);
	pi->inserted += n;
	pi->nbuffered = 0;
	pi->bytes = 0;
}

/* Buffer one processor row (point_id, embedding, payload). */
static void
add_row(PointInserter *pi, Datum org, Datum version_id, TupleTableSlot *row)
{
	TupleTableSlot *slot;
	Datum	   *values;
	bool	   *isnull;
	Datum		emb;
	Datum		payload;
	bool		emb_null;
	bool		payload_null;
	bool		id_null;
	Datum		id;

	if (pi->nbuffered == pi->nslots)
		pi->slots[pi->nslots++] = MakeSingleTupleTableSlot(pi->slotdesc,
														   table_slot_callbacks(pi->partrel));
	slot = pi->slots[pi->nbuffered];
	ExecClearTuple(slot);
	values = slot->tts_values;
	isnull = slot->tts_isnull;
	memset(isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);

	id = slot_getattr(row, 1, &id_null);
	emb = slot_getattr(row, 2, &emb_null);
	payload = slot_getattr(row, 3, &payload_null);
	values[pi->cols[COL_ORG]] = org;
	isnull[pi->cols[COL_ORG]] = false;
	values[pi->cols[COL_VERSION]] = version_id;
	isnull[pi->cols[COL_VERSION]] = false;
	values[pi->cols[COL_POINT]] = id;
	isnull[pi->cols[COL_POINT]] = id_null;
	values[pi->cols[COL_EMBEDDING]] = emb;
	isnull[pi->cols[COL_EMBEDDING]] = emb_null;
	values[pi->cols[COL_PAYLOAD]] = payload;
	isnull[pi->cols[COL_PAYLOAD]] = payload_null;
	ExecStoreVirtualTuple(slot);
	/* the row's datums live in the tuplestore's read buffer: copy them */
	ExecMaterializeSlot(slot);

	if (pi->partrel->rd_att->constr)
	{
		ResetPerTupleExprContext(pi->estate);
		ExecConstraints(pi->part, slot, pi->estate);
	}

	pi->bytes += (emb_null ? 0 : VARSIZE_ANY(DatumGetPointer(emb))) +
		(payload_null ? 0 : VARSIZE_ANY(DatumGetPointer(payload)));
	if (++pi->nbuffered == MAX_BUFFERED_ROWS || pi->bytes >= MAX_BUFFERED_BYTES)
		flush_rows(pi);
}

/*
 * ms.points opened for the INSERT, and the executor state COPY FROM sets up
 * on it: the partition routing, the result relations, their indexes.
 */
typedef struct PointsTarget
{
	Relation	rel;
	Oid			types[NCOLS];	/* of ms.points' columns */
	int			cols[NCOLS];	/* their positions in ms.points */
	EState	   *estate;
	ModifyTableState *mtstate;
	PartitionTupleRouting *proute;
	ResultRelInfo *root;
} PointsTarget;

/*
 * The caller's INSERT privilege on rel checked (an error, as the INSERT
 * would raise), and rel's columns learnt into types and cols: false when
 * an INSERT into rel would do more than insert rows (see the top): a
 * relkind other than want, triggers, rules, row security in force, other
 * columns, or an embedding that is not a vec.
 */
static bool
plain_insert_target(Relation rel, char want, Oid *types, int *cols)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	AclResult	aclresult;

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	types[COL_ORG] = TEXTOID;
	types[COL_VERSION] = INT8OID;
	types[COL_POINT] = INT8OID;
	types[COL_PAYLOAD] = JSONBOID;
	types[COL_EMBEDDING] = InvalidOid;
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), "embedding") == 0)
			types[COL_EMBEDDING] = TupleDescAttr(desc, i)->atttypid;
	return rel->rd_rel->relkind == want && rel->trigdesc == NULL &&
		rel->rd_rules == NULL &&
		check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED &&
		OidIsValid(types[COL_EMBEDDING]) && is_vec_type(types[COL_EMBEDDING]) &&
		find_columns(desc, types, cols);
}

/*
 * Open ms.points for the INSERT (the caller's privilege checked, as the
 * INSERT would) and learn its columns; false, with the table closed again,
 * when the INSERT would do more than insert rows (see the top).
 */
static bool
open_points(PointsTarget *t)
{
	Oid			pointsoid;

	pointsoid = RangeVarGetRelid(makeRangeVar("ms", "points", -1), RowExclusiveLock, false);
	t->rel = table_open(pointsoid, NoLock);
	if (!plain_insert_target(t->rel, RELKIND_PARTITIONED_TABLE, t->types, t->cols))
	{
		table_close(t->rel, NoLock);
		return false;
	}
	return true;
}

/* The executor state COPY FROM sets up, for routing and the indexes. */
static void
begin_routing(PointsTarget *t)
{
	RangeTblEntry *rte;

	t->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(t->rel);
	rte->relkind = t->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(t->estate, list_make1(rte), NIL);
#else
	rte->requiredPerms = ACL_INSERT;	/* checked in open_points */
	ExecInitRangeTable(t->estate, list_make1(rte));
#endif
	t->root = makeNode(ResultRelInfo);
	ExecInitResultRelation(t->estate, t->root, 1);
	CheckValidResultRel(t->root, CMD_INSERT);
	t->mtstate = makeNode(ModifyTableState);
	t->mtstate->ps.plan = NULL;
	t->mtstate->ps.state = t->estate;
	t->mtstate->operation = CMD_INSERT;
	t->mtstate->mt_nrels = 1;
	t->mtstate->resultRelInfo = t->root;
	t->mtstate->rootResultRelInfo = t->root;
	t->proute = ExecSetupPartitionTupleRouting(t->estate, t->rel);
}

/*
 * The partition of (org, version_id), created by the routing if needed:
 * every row goes to the same one, so a row of the key alone is routed.
 */
static ResultRelInfo *
route_version(PointsTarget *t, Datum org, Datum version_id)
{
	TupleDesc	rdesc = RelationGetDescr(t->rel);
	TupleTableSlot *rslot = ExecInitExtraTupleSlot(t->estate, rdesc, &TTSOpsVirtual);

	ExecClearTuple(rslot);
	memset(rslot->tts_isnull, true, sizeof(bool) * rdesc->natts);
	rslot->tts_values[t->cols[COL_ORG]] = org;
	rslot->tts_isnull[t->cols[COL_ORG]] = false;
	rslot->tts_values[t->cols[COL_VERSION]] = version_id;
	rslot->tts_isnull[t->cols[COL_VERSION]] = false;
	ExecStoreVirtualTuple(rslot);
	return ExecFindPartition(t->mtstate, t->root, t->proute, rslot, t->estate);
}

/* Undo begin_routing and open_points. */
static void
end_routing(PointsTarget *t)
{
	ExecResetTupleTable(t->estate->es_tupleTable, false);
	ExecCleanupTupleRouting(t->mtstate, t->proute);
	ExecCloseResultRelations(t->estate);
	ExecCloseRangeTableRelations(t->estate);
	FreeExecutorState(t->estate);
	table_close(t->rel, NoLock);
}

/*
 * Run the processor on batch, then insert its rows into pi's partition,
 * a buffer at a time.  The whole batch is parsed and checked before the
 * first row goes in.
 */
static void
insert_batch_rows(PointInserter *pi, const ProcessorSpec *spec, bytea *batch,
				  int32 dims, bool cosine, Oid embtype, Datum org, Datum version_id)
{
	RelationPtr saved_descs;
	IndexInfo **saved_infos;
	int			saved_n;
	TupleDesc	pdesc;
	Tuplestorestate *store;
	TupleTableSlot *row;

	split_indexes(pi, &saved_descs, &saved_infos, &saved_n);

	/* the processor's rows, checked (and the whole batch parsed) first */
	pdesc = CreateTemplateTupleDesc(3);
	TupleDescInitEntry(pdesc, 1, "point_id", INT8OID, -1, 0);
	TupleDescInitEntry(pdesc, 2, "embedding", embtype, -1, 0);
	TupleDescInitEntry(pdesc, 3, "payload", JSONBOID, -1, 0);
	store = tuplestore_begin_heap(false, false, work_mem);
	ms_processor_rows(spec, batch, dims, cosine, store, pdesc);

	pi->cid = GetCurrentCommandId(true);
	/* slots of a descriptor copy need no pin each (resource owner work) */
	pi->slotdesc = CreateTupleDescCopy(RelationGetDescr(pi->partrel));
	pi->bistate = GetBulkInsertState();
	pi->slots = palloc(sizeof(TupleTableSlot *) * MAX_BUFFERED_ROWS);
	pi->values = palloc(sizeof(Datum) * MAX_BUFFERED_ROWS);
	pi->isnull = palloc(sizeof(bool) * MAX_BUFFERED_ROWS);
	pi->tids = palloc(sizeof(ItemPointerData) * MAX_BUFFERED_ROWS);
	row = MakeSingleTupleTableSlot(pdesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(store, true, false, row))
	{
		CHECK_FOR_INTERRUPTS();
		add_row(pi, org, version_id, row);
	}
	flush_rows(pi);

	ExecDropSingleTupleTableSlot(row);
	for (int i = 0; i < pi->nslots; i++)
		ExecDropSingleTupleTableSlot(pi->slots[i]);
	FreeBulkInsertState(pi->bistate);
	tuplestore_end(store);
	pi->part->ri_IndexRelationDescs = saved_descs;
	pi->part->ri_IndexRelationInfo = saved_infos;
	pi->part->ri_NumIndices = saved_n;
}

/*
 * Is the version's points table a table of its own rather than a partition
 * of ms.points?  So on Citus (ms.enable_citus): a distributed table, whose
 * rows only an INSERT that Citus routes to the org's shard may write.
 */
static bool
version_is_own_table(Datum version_id)
{
	char		relname[NAMEDATALEN];
	Oid			relid;

	snprintf(relname, sizeof(relname), "points_" INT64_FORMAT, DatumGetInt64(version_id));
	relid = get_relname_relid(relname, get_namespace_oid("ms", false));
	return OidIsValid(relid) && !get_rel_relispartition(relid);
}

/*
 * ms._insert_points(org text, version_id bigint, processor regprocedure,
 *					 dims integer, metric text, batch bytea, pinned bytea,
 *					 run_as regrole) RETURNS bigint
 *
 * The number of points inserted, or NULL when the caller is to run the
 * INSERT ... SELECT FROM ms._run_processor(...) instead (see the top).
 * NULL processor means ms.proc_csv.  Internal: the caller has resolved
 * and authorised the version, and passes the model's dims and metric.
 */
Datum
ms_insert_points(PG_FUNCTION_ARGS)
{
	Datum		org;
	Datum		version_id;
	ProcessorSpec spec;
	int32		dims;
	bool		cosine;
	bytea	   *batch;
	PointsTarget target;
	PointInserter pi;
	bool		direct;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("org, version_id, dims and batch must not be null")));
	org = PG_GETARG_DATUM(0);
	version_id = PG_GETARG_DATUM(1);
	ms_processor_spec_from_args(fcinfo, 2, 6, 7, &spec);
	dims = PG_GETARG_INT32(3);
	cosine = !PG_ARGISNULL(4) && strcmp(text_to_cstring(PG_GETARG_TEXT_PP(4)), "cosine") == 0;
	batch = PG_GETARG_BYTEA_PP(5);

	if (version_is_own_table(version_id) || !open_points(&target))
		PG_RETURN_NULL();
	begin_routing(&target);

	memset(&pi, 0, sizeof(pi));
	pi.estate = target.estate;
	pi.part = route_version(&target, org, version_id);
	pi.partrel = pi.part->ri_RelationDesc;
	direct = pi.partrel->rd_rel->relkind == RELKIND_RELATION &&
		pi.part->ri_TrigDesc == NULL && pi.part->ri_FdwRoutine == NULL &&
		find_columns(RelationGetDescr(pi.partrel), target.types, pi.cols);
	if (direct)
		insert_batch_rows(&pi, &spec, batch, dims, cosine,
						  target.types[COL_EMBEDDING], org, version_id);

	end_routing(&target);
	if (!direct)
		PG_RETURN_NULL();
	PG_RETURN_INT64(pi.inserted);
}

/*
 * ms._insert_shard_points(shard regclass, org text, version_id bigint,
 *						   processor regprocedure, dims integer, metric text,
 *						   batch bytea, pinned bytea, run_as regrole)
 *	RETURNS bigint
 *
 * ms._insert_points for a version of a store on Citus, whose points are a
 * distributed table: the rows go straight into shard, the org's shard of
 * that table on this node (ms._local_shard found it, and holds Citus's
 * lock that keeps a shard move from completing meanwhile).  Through Citus
 * the INSERT ... SELECT FROM ms._run_processor(...) costs a routed
 * one-record ms.ingest twice its own work: Citus collects the rows into an
 * intermediate result file, deparses and re-plans the shard's INSERT, and
 * removes the file's directory at commit.  NULL, as ms._insert_points,
 * when the INSERT must run instead: a shard with triggers, rules, row
 * security in force, other columns or an embedding that is not a vec.
 */
Datum
ms_insert_shard_points(PG_FUNCTION_ARGS)
{
	Oid			shardoid;
	Datum		org;
	Datum		version_id;
	ProcessorSpec spec;
	int32		dims;
	bool		cosine;
	bytea	   *batch;
	Relation	rel;
	Oid			types[NCOLS];
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	PointInserter pi;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4) ||
		PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("shard, org, version_id, dims and batch must not be null")));
	shardoid = PG_GETARG_OID(0);
	org = PG_GETARG_DATUM(1);
	version_id = PG_GETARG_DATUM(2);
	ms_processor_spec_from_args(fcinfo, 3, 7, 8, &spec);
	dims = PG_GETARG_INT32(4);
	cosine = !PG_ARGISNULL(5) && strcmp(text_to_cstring(PG_GETARG_TEXT_PP(5)), "cosine") == 0;
	batch = PG_GETARG_BYTEA_PP(6);

	rel = table_open(shardoid, RowExclusiveLock);
	memset(&pi, 0, sizeof(pi));
	if (!plain_insert_target(rel, RELKIND_RELATION, types, pi.cols))
	{
		table_close(rel, NoLock);
		PG_RETURN_NULL();
	}

	/* COPY FROM's executor state for one plain table and its indexes */
	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = shardoid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(estate, list_make1(rte), NIL);
#else
	rte->requiredPerms = ACL_INSERT;	/* checked above */
	ExecInitRangeTable(estate, list_make1(rte));
#endif
	rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, rri, 1);
	CheckValidResultRel(rri, CMD_INSERT);
	ExecOpenIndices(rri, false);

	pi.estate = estate;
	pi.part = rri;
	pi.partrel = rri->ri_RelationDesc;
	insert_batch_rows(&pi, &spec, batch, dims, cosine, types[COL_EMBEDDING], org, version_id);

	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseResultRelations(estate);	/* and its indexes */
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	PG_RETURN_INT64(pi.inserted);
}
