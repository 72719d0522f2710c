/*
 * governance.h
 *		What other files use of governance.c: the check of org, model and
 *		label names that every entry point makes before anything else; and,
 *		for the queries (governance_query.c), the cached authorisation.
 */
#ifndef MS_GOVERNANCE_H
#define MS_GOVERNANCE_H

#include "fmgr.h"
#include "executor/spi.h"

/* longest org, model or label name */
#define MS_IDENT_MAX 63
/* bytes of a metric name buffer ("l2", "ip", "cosine") */
#define MS_METRIC_SIZE 8

extern void ms_check_names(const char *org, const char *model, const char *label);

extern Oid	ms_extension_schema(void);
extern void ms_check_not_null(FunctionCallInfo fcinfo, int argno, const char *what);
extern SPIPlanPtr ms_prepare_kept(const char *sql, int nargs, Oid *argtypes);
extern void ms_authorise_caller(const char *org, const char *model, const char *label,
								const char *privilege, const char *action,
								int64 *version_id, int *dims, char *metric,
								char *resolved_label,
								char *element_type);

#endif
