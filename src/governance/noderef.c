/*
 * noderef.c
 *		ms.roleref and ms.procref: a role and a function as the governance
 *		tables store them, an OID of this node that travels by name.
 *
 * ms.grants.role and ms.versions.processor were regrole and regprocedure,
 * whose text form is a name but whose binary form is the bare OID.  On a
 * Citus cluster the governance tables are reference tables, and Citus
 * copies them to a node added later with COPY, in binary by default
 * (citus.enable_binary_protocol): the new node got the OIDs of the node
 * copied from, which there name other roles and functions, or none.  So a
 * routed call could judge a caller by another role's grants, or find
 * another function under a version's processor.
 *
 * These types hold the same OID (on disk and in memory, binary-coercible
 * to oid, regrole and regprocedure), so everything on one node is as it
 * was: a renamed role keeps its grants, a dropped one's grants name
 * nobody and a role created again under its name gets none of them.  What
 * leaves the node is a name: text output is regrole's and regprocedure's,
 * and binary output is the role's name or the function's qualified
 * signature, which the receiving node looks up in its own catalogs.  An
 * OID that names nothing here goes out as the empty string and comes in
 * as InvalidOid, which names no one there either: it must not become
 * whatever that node has under the number.  For the same reason the text
 * input takes no bare OID: digits name nobody.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/namespace.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(ms_roleref_in);
PG_FUNCTION_INFO_V1(ms_roleref_out);
PG_FUNCTION_INFO_V1(ms_roleref_send);
PG_FUNCTION_INFO_V1(ms_roleref_recv);
PG_FUNCTION_INFO_V1(ms_procref_in);
PG_FUNCTION_INFO_V1(ms_procref_out);
PG_FUNCTION_INFO_V1(ms_procref_send);
PG_FUNCTION_INFO_V1(ms_procref_recv);

/*
 * A bare number, or regrole's "-": an OID is no identity outside its node,
 * and a number in text comes from another node's output of an OID that
 * named nothing there.
 */
static bool
names_nothing(const char *s)
{
	if (strcmp(s, "-") == 0)
		return true;
	if (*s == '\0')
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char) *p))
			return false;
	return true;
}

Datum
ms_roleref_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	if (names_nothing(s))
		PG_RETURN_OID(InvalidOid);
	return DirectFunctionCall1(regrolein, CStringGetDatum(s));
}

Datum
ms_roleref_out(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(regroleout, PG_GETARG_DATUM(0));
}

Datum
ms_roleref_send(PG_FUNCTION_ARGS)
{
	Oid			roleid = PG_GETARG_OID(0);
	char	   *name = OidIsValid(roleid) ? GetUserNameFromId(roleid, true) : NULL;
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendtext(&buf, name ? name : "", name ? strlen(name) : 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
ms_roleref_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len;
	char	   *name = pq_getmsgtext(buf, buf->len - buf->cursor, &len);

	if (*name == '\0')
		PG_RETURN_OID(InvalidOid);
	PG_RETURN_OID(get_role_oid(name, true));
}

Datum
ms_procref_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	if (names_nothing(s))
		PG_RETURN_OID(InvalidOid);
	return DirectFunctionCall1(regprocedurein, CStringGetDatum(s));
}

Datum
ms_procref_out(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(regprocedureout, PG_GETARG_DATUM(0));
}

Datum
ms_procref_send(PG_FUNCTION_ARGS)
{
	Oid			procoid = PG_GETARG_OID(0);
	char	   *sig = NULL;
	StringInfoData buf;

	/* qualified: the receiver's search_path must not pick the function */
	if (OidIsValid(procoid) && SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(procoid)))
		sig = format_procedure_qualified(procoid);
	pq_begintypsend(&buf);
	pq_sendtext(&buf, sig ? sig : "", sig ? strlen(sig) : 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
ms_procref_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len;
	char	   *sig = pq_getmsgtext(buf, buf->len - buf->cursor, &len);
	LOCAL_FCINFO(lookup, 1);
	Datum		oid;

	if (*sig == '\0')
		PG_RETURN_OID(InvalidOid);
	/* to_regprocedure answers NULL when no such function exists here */
	InitFunctionCallInfoData(*lookup, NULL, 1, InvalidOid, NULL, NULL);
	lookup->args[0].value = PointerGetDatum(cstring_to_text(sig));
	lookup->args[0].isnull = false;
	oid = to_regprocedure(lookup);
	PG_RETURN_OID(lookup->isnull ? InvalidOid : DatumGetObjectId(oid));
}
