/*
 * hvec_spatial.c
 *		GiST and SP-GiST over hvec (hvec_gist_ops, hvec_spgist_ops): the vec
 *		opclasses' code, run on the hvec's float values.
 *
 * A half converts to a float exactly, and the hvec distance operators
 * convert and then run the vec kernels: so an index whose keys are the
 * converted floats orders rows exactly as the hvec operators do.  GiST's
 * compress (vec_gist.c) turns an hvec leaf into the point of its floats,
 * and ORDER BY arguments are converted where they are read
 * (ms_cached_query_vec).  SP-GiST reads the leaf value in every support
 * function, so its leaves are stored as vecs, made by the compress
 * function here: twice the bytes of the hvec, the price of reusing the
 * k-d tree unchanged, and no index-only scans (the leaf is not an hvec).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/spgist.h"
#include "catalog/pg_type.h"
#include "utils/syscache.h"

#include "hvec.h"
#include "vec.h"

PG_FUNCTION_INFO_V1(hvec_spgist_config);
PG_FUNCTION_INFO_V1(hvec_spgist_compress);

/* The OID of type vec in the schema of type typid (hvec). */
static Oid
vec_type_beside(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	Oid			nsp;
	Oid			vec;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
	ReleaseSysCache(tup);
	vec = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						  CStringGetDatum("vec"), ObjectIdGetDatum(nsp));
	if (!OidIsValid(vec))
		elog(ERROR, "type vec not found beside type %u", typid);
	return vec;
}

/* vec_spgist_ops's configuration, with vec leaves and no index-only scans */
Datum
hvec_spgist_config(PG_FUNCTION_ARGS)
{
	spgConfigIn *in = (spgConfigIn *) PG_GETARG_POINTER(0);
	spgConfigOut *cfg = (spgConfigOut *) PG_GETARG_POINTER(1);

	cfg->prefixType = INT8OID;
	cfg->labelType = INT8OID;
	cfg->leafType = vec_type_beside(in->attType);
	cfg->canReturnData = false;
	cfg->longValuesOK = false;
	PG_RETURN_VOID();
}

/* the leaf of an hvec: the vec of its values (exact) */
Datum
hvec_spgist_compress(PG_FUNCTION_ARGS)
{
	HVec	   *h = PG_GETARG_HVEC_P(0);

	PG_RETURN_POINTER(hvec_to_vec(h));
}
