/*
 * citus_table.c
 *		Whether a table is managed by Citus, asked by the functions that read
 *		a table's heap themselves (vec_knn_exact, vec_index_recall: a Citus
 *		table's rows are in shards elsewhere) and by the model store, whose
 *		data tables are distributed by org once ms.enable_citus() has run.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "citus_table.h"

PG_FUNCTION_INFO_V1(ms_is_citus_table);
PG_FUNCTION_INFO_V1(ms_in_transaction_block);

/*
 * Is relid a Citus table (distributed, reference or Citus-managed local)?
 * Read from Citus's catalog pg_dist_partition when the citus extension is
 * installed, so nothing here depends on Citus at build time.  The catalog
 * is read directly rather than through SPI: whether a table is distributed
 * is needed before any privilege on Citus's catalogs is.
 */
bool
ms_relation_is_citus_table(Oid relid)
{
	Oid			catalogid;
	AttrNumber	attnum;
	Relation	catalog;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	catalogid = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	if (!OidIsValid(catalogid))
		return false;
	attnum = get_attnum(catalogid, "logicalrelid");
	if (attnum == InvalidAttrNumber)
		return false;

	catalog = table_open(catalogid, AccessShareLock);
	ScanKeyInit(&key, attnum, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(catalog, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	return found;
}

/* ms._is_citus_table(regclass) → boolean */
Datum
ms_is_citus_table(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ms_relation_is_citus_table(PG_GETARG_OID(0)));
}

/*
 * ms._in_transaction_block() → boolean: whether the statement runs inside
 * BEGIN ... COMMIT (a procedure's or a function's own statements count as
 * their caller's).  A routed call that Citus delegates to a worker arrives
 * there as a statement of its own, never in a block; the model store
 * writes a local shard directly only then (ms._local_shard), since in a
 * block Citus may already have written it through a connection of its own.
 */
Datum
ms_in_transaction_block(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(IsTransactionBlock());
}
