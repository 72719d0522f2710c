/*
 * citus_table.h
 *		Whether a table is managed by Citus (citus_table.c).
 */
#ifndef MS_CITUS_TABLE_H
#define MS_CITUS_TABLE_H

#include "postgres.h"

/*
 * Is relid a Citus table (distributed, reference or Citus-managed local)?
 * false when the citus extension is not installed.
 */
extern bool ms_relation_is_citus_table(Oid relid);

#endif							/* MS_CITUS_TABLE_H */
