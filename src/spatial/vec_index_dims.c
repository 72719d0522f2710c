/*
 * vec_index_dims.c
 *		CREATE INDEX refuses a GiST or SP-GiST index of vec_gist_ops or
 *		vec_spgist_ops on a column declared wider than the opclass can
 *		index.
 *
 * Both opclasses have a dimension limit that only their leaf keys meet:
 * GiST's inner boxes must fit four to a page (vec_gist_max_dim), SP-GiST's
 * leaf tuples must fit a page (vec_spgist_max_dim).  No support function
 * of either sees the index relation before the first row arrives, so an
 * index built on an empty vec(300) column was accepted and then failed
 * every INSERT.  The declared dimensions (the typmod) are known when the
 * index is created: PostgreSQL's object access hook runs right after the
 * catalog rows of a new index are written and before it is built, and is
 * where this check lives (msivf's build checks the typmod itself).  A
 * column without a typmod is still checked row by row by the opclasses.
 *
 * The hook is installed whenever the library loads, which a session has
 * done before it creates such an index whenever the library is in
 * shared_preload_libraries, or once any vec value was read or written.
 * The catalog rows of the new index are read with SnapshotSelf: the
 * command counter has not been advanced yet when the hook runs.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "vbox.h"

static object_access_hook_type prev_object_access_hook = NULL;

/* whether type typid is named typname and lives in schema nsp */
static bool
is_type_in(Oid typid, Oid nsp, const char *typname)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	bool		res;

	if (!HeapTupleIsValid(tup))
		return false;
	res = ((Form_pg_type) GETSTRUCT(tup))->typnamespace == nsp &&
		strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), typname) == 0;
	ReleaseSysCache(tup);
	return res;
}

/*
 * The dimension limit of opclass when it is this extension's vec_gist_ops
 * or vec_spgist_ops (for the vec type of the opclass's schema), or
 * hvec_gist_ops or hvec_spgist_ops (whose keys and leaves are the same
 * floats), with its name in *name; else 0.
 */
static int
opclass_dim_limit(Oid opclass, const char **name)
{
	HeapTuple	tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
	Form_pg_opclass opc;
	int			limit = 0;

	if (!HeapTupleIsValid(tup))
		return 0;
	opc = (Form_pg_opclass) GETSTRUCT(tup);
	for (int h = 0; h < 2 && limit == 0; h++)
	{
		const char *typname = h ? "hvec" : "vec";

		if (opc->opcmethod == GIST_AM_OID &&
			strcmp(NameStr(opc->opcname), h ? "hvec_gist_ops" : "vec_gist_ops") == 0)
		{
			limit = vec_gist_max_dim();
			*name = h ? "hvec_gist_ops" : "vec_gist_ops";
		}
		else if (opc->opcmethod == SPGIST_AM_OID &&
				 strcmp(NameStr(opc->opcname), h ? "hvec_spgist_ops" : "vec_spgist_ops") == 0)
		{
			limit = vec_spgist_max_dim();
			*name = h ? "hvec_spgist_ops" : "vec_spgist_ops";
		}
		if (limit > 0 && !is_type_in(opc->opcintype, opc->opcnamespace, typname))
			limit = 0;
	}
	ReleaseSysCache(tup);
	return limit;
}

/*
 * The declared typmod of key column i of the index whose pg_index row is
 * tup: the table column's, or the expression's.
 */
static int32
key_typmod(HeapTuple tup, TupleDesc desc, int i)
{
	Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);
	AttrNumber	attnum = index->indkey.values[i];
	Datum		d;
	bool		isnull;
	List	   *exprs;
	int			nth = 0;

	if (attnum != 0)
	{
		HeapTuple	att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(index->indrelid),
										  Int16GetDatum(attnum));
		int32		typmod = -1;

		if (HeapTupleIsValid(att))
		{
			typmod = ((Form_pg_attribute) GETSTRUCT(att))->atttypmod;
			ReleaseSysCache(att);
		}
		return typmod;
	}

	/* the expressions are stored in key order, one per key column 0 */
	for (int j = 0; j < i; j++)
		if (index->indkey.values[j] == 0)
			nth++;
	d = heap_getattr(tup, Anum_pg_index_indexprs, desc, &isnull);
	if (isnull)
		return -1;
	exprs = (List *) stringToNode(TextDatumGetCString(d));
	if (nth >= list_length(exprs))
		return -1;
	return exprTypmod((Node *) list_nth(exprs, nth));
}

/* ERROR when new index indexoid declares more dimensions than its opclass takes */
static void
check_new_index(Oid indexoid)
{
	Relation	rel = table_open(IndexRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_pg_index_indexrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(indexoid));
	scan = systable_beginscan(rel, IndexRelidIndexId, true, SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);
		bool		isnull;
		oidvector  *classes = (oidvector *) DatumGetPointer(heap_getattr(tup, Anum_pg_index_indclass,
																		 RelationGetDescr(rel), &isnull));

		for (int i = 0; !isnull && i < index->indnkeyatts; i++)
		{
			const char *opcname = NULL;
			int			limit = opclass_dim_limit(classes->values[i], &opcname);
			int32		typmod;

			if (limit == 0)
				continue;
			typmod = key_typmod(tup, RelationGetDescr(rel), i);
			if (typmod > limit)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("%s supports at most %d dimensions, not %d",
								opcname, limit, typmod),
						 errhint("Use an msivf index for high-dimensional vectors.")));
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* the object access hook: new indexes only */
static void
vec_index_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_POST_CREATE && classId == RelationRelationId && subId == 0)
		check_new_index(objectId);
}

/* Called from _PG_init. */
void
ms_vec_index_dims_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = vec_index_object_access;
}
