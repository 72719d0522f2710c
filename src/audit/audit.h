/*
 * audit.h
 *		The durable, tamper-evident audit log of raw-data access and
 *		governance actions: what the rest of the extension may call.
 *
 * A backend hands each record to the audit writer of its database (a
 * background worker) and waits until the writer has committed it, so a
 * record survives the caller's ROLLBACK and crash and is durable before
 * the audited action goes on.  The writer chains the rows by
 * HMAC-SHA-256 under a key kept outside the table, and keeps the chain's
 * head outside it too; ms.verify_audit() recomputes the chain.  The files
 * of src/audit/:
 *	 audit_init.c	settings and the shared-memory request table
 *	 audit_queue.c	the backend side: queueing a record, waiting for it,
 *					the refusal rate limit
 *	 audit_writer.c	the writer's lifecycle and main loop
 *	 audit_append.c	the writer's append transaction
 *	 audit_chain.c	canonical row text, the hash, the key and head files
 *	 audit_verify.c	ms.verify_audit()
 *	 audit_guard.c	the append-only trigger and the DROP DATABASE hook
 *	 audit_relay.c	a standby's records, written by the primary
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

/* defines the machinesoup.audit_* settings */
extern void ms_audit_define_settings(void);

/*
 * Under shared_preload_libraries only (otherwise nothing): reserves the
 * shared-memory request table that backends fill and writers serve.
 */
extern void ms_audit_shmem_init(void);

/*
 * Under shared_preload_libraries only (otherwise nothing): installs the
 * object-access hook by which DROP DATABASE sends its database's writer
 * away.
 */
extern void ms_audit_drop_database_hook_init(void);

/*
 * Write one record and wait until the audit writer has committed it;
 * returns its id.  A refusal (action "refuse_...") over its role's rate
 * limit is only counted, for a later refusals_suppressed record: 0.
 * Raises an ERROR (and writes nothing the caller may rely on) when the
 * record cannot be made durable: library not preloaded, writer not
 * starting, timeout, or failure of the writer's transaction.
 */
extern int64 ms_audit_write(const AuditRecord *rec);

/*
 * ms_audit_write of a record relayed by a standby: role, login, pid and
 * address are the standby's (audit_relay.c).
 */
extern int64 ms_audit_write_relayed(const AuditRecord *rec, const char *role,
									const char *login, int pid,
									const char *client_addr);

/* queue a record from an exiting backend, without waiting or raising */
extern bool ms_audit_enqueue_at_exit(const AuditRecord *rec, const char *role,
									 const char *client_addr);

/* client IP address as text, "" for Unix sockets */
extern void ms_client_address(char *buf, size_t cap);

/* ERROR with a hint unless the audit writer machinery is available */
extern void ms_audit_require(void);

#endif							/* MS_AUDIT_H */
