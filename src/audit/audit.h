/*
 * audit.h
 *		The durable, tamper-evident audit log of raw-data access and
 *		governance actions (see audit.c).
 */
#ifndef MS_AUDIT_H
#define MS_AUDIT_H

#include "postgres.h"
#include "utils/timestamp.h"

/* longest reason kept in an audit record, in bytes */
#define AUDIT_REASON_MAX 1000

/*
 * One audit record as a backend submits it.  NULL pointers (or empty
 * strings) are stored as SQL NULL; at = 0 means "now".
 */
typedef struct AuditRecord
{
	const char *action;
	const char *org;
	const char *model;
	const char *label;
	bool		has_batch;
	int64		batch_id;
	const char *reason;
	TimestampTz at;
} AuditRecord;

extern void ms_audit_init(void);

/*
 * Write one record and wait until the audit writer has committed it;
 * returns its id.  A refusal (action "refuse_...") over its role's rate
 * limit is only counted, for a later refusals_suppressed record: 0.  Raises an ERROR (and writes nothing the caller may rely
 * on) when the record cannot be made durable: library not preloaded,
 * writer not starting, timeout, or failure of the writer's transaction.
 */
extern int64 ms_audit_write(const AuditRecord *rec);

/* queue a record from an exiting backend, without waiting or raising */
extern bool ms_audit_enqueue_at_exit(const AuditRecord *rec, const char *role,
									 const char *client_addr);

/* client IP address as text, "" for Unix sockets */
extern void ms_client_address(char *buf, size_t cap);

/* ERROR with a hint unless the audit writer machinery is available */
extern void ms_audit_require(void);

#endif							/* MS_AUDIT_H */
