/*
 * msivfhandler.c
 *		What the msivf access method shows PostgreSQL and its users: the
 *		handler, the opclasses' support functions, the lists reloption, the
 *		scan settings (machinesoup.probes, target_recall, scan_order,
 *		max_probes, max_scan_tuples) and the probe count they give a scan,
 *		msivf_index_info, msivf_index_calibration and msivf_index_growth.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/reloptions.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "commands/defrem.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "kmeans.h"
#include "msivf.h"
#include "quantizer.h"

PG_FUNCTION_INFO_V1(msivf_handler);
PG_FUNCTION_INFO_V1(msivf_l2_metric);
PG_FUNCTION_INFO_V1(msivf_ip_metric);
PG_FUNCTION_INFO_V1(msivf_cosine_metric);
PG_FUNCTION_INFO_V1(msivf_l1_metric);

int			msivf_probes = 0;
double		msivf_target_recall = 0.95;
int			msivf_scan_order = MSIVF_SCAN_RELAXED;
int			msivf_max_probes = 0;
int			msivf_max_scan_tuples = 0;
bool		msivf_scan_deepen = true;

static const struct config_enum_entry scan_order_options[] = {
	{"relaxed", MSIVF_SCAN_RELAXED, false},
	{"strict", MSIVF_SCAN_STRICT, false},
	{NULL, 0, false}
};

static relopt_kind msivf_relopt_kind;

/*
 * Called from _PG_init: picks the quantizer's kernel for the CPU, keeps
 * OpenBLAS on the calling thread, and defines the reloption and settings.
 */
void
ms_msivf_init(void)
{
	quant_init();
	kmeans_single_thread_blas();

	msivf_relopt_kind = add_reloption_kind();
	add_int_reloption(msivf_relopt_kind, "lists",
					  "Number of inverted lists; 0 chooses from the row count",
					  0, 0, MSIVF_MAX_LISTS, AccessExclusiveLock);
	add_int_reloption(msivf_relopt_kind, "bits",
					  "Bits per dimension of the list codes, 4 or 8; 0 chooses 4 from 64 dimensions on (8 below, and under L1)",
					  0, 0, 8, AccessExclusiveLock);

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
	DefineCustomEnumVariable("machinesoup.scan_order",
							 "Whether an msivf scan returns rows in exact distance order over the whole index.",
							 "relaxed: exact order within the lists visited so far; strict: exact order over every list, which reads every list before the first row.",
							 &msivf_scan_order,
							 MSIVF_SCAN_RELAXED, scan_order_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.max_probes",
							"Most msivf lists one scan visits, over all its batches.",
							"0 means no limit.  A scan that reaches it returns the rows of the lists it visited, then ends.",
							&msivf_max_probes,
							0, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("machinesoup.max_scan_tuples",
							"Most msivf index entries one scan examines.",
							"0 means no limit.  A scan that reaches it returns the rows of the entries it examined, then ends.",
							&msivf_max_scan_tuples,
							0, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("machinesoup.scan_deepen",
							 "Whether a relaxed msivf scan asked for more than 10 rows visits more lists.",
							 "The probe count is sized for 10 rows; a scan that keeps being asked for rows (a WHERE clause that discards them, a larger LIMIT) widens it as the rows returned double.",
							 &msivf_scan_deepen,
							 true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	msivf_stats_init();
}

/* The access method's handler: what msivf can do and its callbacks. */
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

/* support function 1 of the inner-product opclass */
Datum
msivf_ip_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_IP);
}

/* support function 1 of the cosine opclass */
Datum
msivf_cosine_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_COSINE);
}

/* support function 1 of the L1 opclasses */
Datum
msivf_l1_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MSIVF_METRIC_L1);
}

/*
 * The metric of index, from its opclass's support function 1: the one
 * fact about an opclass that msivf needs.
 */
int
msivf_metric(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, MSIVF_METRIC_PROC);
	int			metric = DatumGetInt32(FunctionCall1(proc, Int32GetDatum(0)));

	if ((metric < MSIVF_METRIC_L2 || metric > MSIVF_METRIC_L1) &&
		!MSIVF_METRIC_IS_BITS(metric))
		elog(ERROR, "msivf: unknown metric %d", metric);
	return metric;
}

/* amoptions: parses the lists and bits reloptions */
bytea *
msivf_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(MsivfOptions, lists)},
		{"bits", RELOPT_TYPE_INT, offsetof(MsivfOptions, bits)},
	};
	MsivfOptions *opts = build_reloptions(reloptions, validate, msivf_relopt_kind,
										  sizeof(MsivfOptions), tab, lengthof(tab));

	if (validate && opts && opts->bits != 0 && opts->bits != 4 && opts->bits != 8)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for msivf option \"bits\": %d", opts->bits),
				 errdetail("Valid values are 4 and 8.")));
	return (bytea *) opts;
}

/* amvalidate: nothing to check (the comment inside says why) */
bool
msivf_validate(Oid opclassoid)
{
	/* the opclasses are created by the extension script only */
	return true;
}

/* ambuildphasename: the names pg_stat_progress_create_index shows */
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

/*
 * A probe count of the calibration curve, for the lists the index has now:
 * when lists have split since it was measured, the same share of them
 * (msivfsplit.c); at least one, at most all.
 */
static int
calibrated_for_lists(const MsivfState *st, int p)
{
	if (st->calib_lists > 0 && st->nlists != st->calib_lists)
		p = (int) ceil((double) p * st->nlists / st->calib_lists);
	return Max(1, Min(p, st->nlists));
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
		double		level = Max(0.0, Min(MSIVF_CALIB_LEVELS - 1.0, (t + margin) * 100));
		int			below = (int) floor(level + 1e-9);
		int			above = Min(MSIVF_CALIB_LEVELS - 1, below + 1);

		/*
		 * Between the two whole percents around the level, linearly: rounding
		 * the level up to the next percent took 0.99 (0.9937 with its margin)
		 * to 100 %, the probes that reach a query's farthest neighbour's list,
		 * 4-5 times what 0.99 needs.
		 */
		p = st->calib_probes[below];
		if (level - below > 1e-9 && above > below)
			p += (int) ceil((st->calib_probes[above] - st->calib_probes[below]) * (level - below) - 1e-9);
		p = calibrated_for_lists(st, p);
	}
	else
		p = Max(1, st->nlists / 10);
	return Max(1, Min(p, st->nlists));
}

/*
 * The lists a scan that started with first probes visits once it has
 * returned depth rows (machinesoup.scan_deepen).  The probes are calibrated
 * for recall@10; the nearest k rows spread over more lists, but slowly: an
 * IVF index of GloVe-100 (575 lists) needs 32 probes for recall 0.95 at
 * k = 10 and 96 at k = 1000, 768-d L2 a similar ratio, a growth close to
 * (k / 10)^(1/4).  A filter that keeps 1 % of the rows needs ~1000 rows
 * for its 10, so it sees the recall of the nearest 1000: the scan widens
 * by that rule to keep it.
 */
int
msivf_deepen_probes(int first, int64 depth, int nlists)
{
	double		p;

	if (depth <= 10)
		return Min(first, nlists);
	p = ceil((double) first * pow((double) depth / 10.0, 0.25));
	return (int) Min(p, (double) nlists);
}

/*
 * The lists one scan may visit under machinesoup.max_probes: every list
 * when it is 0.
 */
int
msivf_list_limit(const MsivfState *st)
{
	if (msivf_max_probes > 0 && msivf_max_probes < st->nlists)
		return msivf_max_probes;
	return st->nlists;
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
 * The msivf index relid, share-locked, for the introspection functions,
 * which need SELECT on its table: checked before the lock and again once
 * locked (the OID may have been dropped and reused meanwhile).
 */
static Relation
open_msivf_index(Oid relid)
{
	Relation	index;

	msivf_check_table_select(relid);
	index = index_open(relid, AccessShareLock);
	msivf_check_table_select(relid);
	if (index->rd_rel->relam != get_index_am_oid("msivf", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an msivf index", RelationGetRelationName(index))));
	return index;
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
	static const char *const metrics[] = {"", "l2", "ip", "cosine", "l1"};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	index = open_msivf_index(relid);
	st = msivf_get_state(index);
	values[0] = Int32GetDatum(st->dims);
	values[1] = Int32GetDatum(st->nlists);
	if (MSIVF_METRIC_IS_BITS(st->metric))
		values[2] = CStringGetTextDatum(st->metric == MSIVF_METRIC_HAMMING ? "hamming" : "jaccard");
	else
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

PG_FUNCTION_INFO_V1(msivf_index_calibration);

/*
 * msivf_index_calibration(index regclass): the calibration curve, one row
 * per recall level r = 0.00 .. 1.00: the fewest probes with which recall@10
 * over the held-out queries reached r when it was measured, scaled as
 * scans scale it when lists have split since.  No rows for an index
 * without calibration (built empty, not yet vacuumed after growing).
 * Needs SELECT on the index's table.
 */
Datum
msivf_index_calibration(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index;
	MsivfState *st;

	InitMaterializedSRF(fcinfo, 0);
	index = open_msivf_index(PG_GETARG_OID(0));
	st = msivf_get_state(index);
	for (int level = 0; st->calib_queries > 0 && level < MSIVF_CALIB_LEVELS; level++)
	{
		Datum		values[2];
		bool		nulls[2] = {0};

		values[0] = Float8GetDatum(level / 100.0);
		values[1] = Int32GetDatum(calibrated_for_lists(st, st->calib_probes[level]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	index_close(index, AccessShareLock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(msivf_index_growth);

/*
 * msivf_index_growth(index regclass): what growth did to the index: its
 * lists (built, and when the calibration was last measured), its pages,
 * and the pages of old chains: still to be freed by VACUUM (leaked_pages),
 * freed since the build, freed and not yet reused.  Reads every page for
 * the last count.  Needs SELECT on the index's table.
 */
Datum
msivf_index_growth(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	MsivfState *st;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	Buffer		buf;
	MsivfMetaTail tail;
	int64		leaked;
	int64		free_now = 0;
	BlockNumber nblocks;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	index = open_msivf_index(relid);
	st = msivf_get_state(index);
	values[0] = Int32GetDatum(st->nlists);
	values[1] = Int32GetDatum(st->built_lists);
	values[2] = Int32GetDatum(st->calib_lists);

	buf = ReadBuffer(index, MSIVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	leaked = MsivfPageGetMeta(BufferGetPage(buf))->leaked_pages;
	msivf_meta_read_tail(BufferGetPage(buf), &tail);
	UnlockReleaseBuffer(buf);

	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = st->first_list_block; tail.freed_pages > 0 && blkno < nblocks; blkno++)
	{
		Page		page;
		MsivfPageOpaque opaque;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = MsivfPageGetOpaque(page);
		if (!PageIsNew(page) &&
			PageGetSpecialSize(page) == MAXALIGN(sizeof(MsivfPageOpaqueData)) &&
			opaque->page_type == MSIVF_PAGE_LIST && (opaque->flags & MSIVF_LIST_FREED))
			free_now++;
		UnlockReleaseBuffer(buf);
	}
	values[3] = Int64GetDatum((int64) nblocks);
	values[4] = Int64GetDatum(leaked);
	values[5] = Int64GetDatum(tail.freed_pages);
	values[6] = Int64GetDatum(free_now);
	index_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
