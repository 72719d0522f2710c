/*
 * raw_store.h
 *		Raw batches: LZ4 frame glue (raw_codec.c), processors (raw_proc.c,
 *		raw_sandbox.c, raw_insert.c), who may reach raw data (raw_access.c)
 *		and the audited access sessions (raw_session.c).
 */
#ifndef MS_RAW_STORE_H
#define MS_RAW_STORE_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "utils/tuplestore.h"

/* settings (raw_access.c): machinesoup.processor_role, ... */
extern char *ms_processor_role;
extern int	ms_raw_compression_level;
extern int	ms_access_idle_timeout_s;
extern int	ms_access_tokens_per_role;

extern void ms_raw_init(void);

/*
 * raw_access.c: raise unless the client's network and the caller's
 * raw_read admit it to (org, model, label), recording a refusal as
 * refusal_action; and one audit record of raw access, durable whatever
 * the transaction then does.
 */
extern void ms_raw_require_access(const char *org, const char *model,
								  const char *label, const char *reason,
								  const char *refusal_action, bool has_batch,
								  int64 batch_id);
extern void ms_raw_audit_access(const char *action, const char *org,
								const char *model, const char *label,
								const char *reason, TimestampTz at,
								bool has_batch, int64 batch_id);

/* raw_session.c: the session's hooks, installed by ms_raw_init */
extern void ms_raw_session_init(void);
extern void ms_raw_check_reason(const char *reason);
extern bytea *ms_raw_fetch_batch(int64 batch_id, const char *org, const char *model,
								 const char *want_label, char **label, int64 *raw_bytes);
extern void ms_raw_batch_not_in_session(int64 batch_id, const char *org, const char *model,
										const char *label) pg_attribute_noreturn();

/* raw_token.c: the shared table of token sessions, reserved by ms_raw_init */
extern void ms_raw_token_shmem_init(void);

/*
 * Decode a stored frame, expecting exactly raw_bytes of content; any
 * damage is an ERROR with SQLSTATE XX001 naming the batch.
 */
extern bytea *ms_raw_decode(bytea *frame, int64 raw_bytes, int64 batch_id);

/*
 * Which processor a version runs, and how: procoid (InvalidOid: ms.proc_csv),
 * the digest of its definition approved by ms.set_processor, and the role
 * a user processor runs as (its organization's processor role).
 */
typedef struct ProcessorSpec
{
	Oid			procoid;
	bytea	   *pinned;
	Oid			run_as;
} ProcessorSpec;

/* Checks one processor row (point_id, embedding, payload) or raises. */
typedef void (*ProcessorRowCheck) (void *arg, Datum *values, bool *nulls);

/*
 * Run a version's processor on a batch into store as rows (point_id
 * bigint, embedding vec, payload jsonb), checked against the model: no
 * NULL id or embedding, dims, no zero vector when cosine, no id twice
 * (raw_proc.c).
 */
extern void ms_processor_rows(const ProcessorSpec *spec, bytea *batch, int dims,
							  bool cosine, Tuplestorestate *store, TupleDesc desc);

/* The spec from SQL arguments (processor regprocedure, pinned bytea, run_as regrole). */
extern void ms_processor_spec_from_args(FunctionCallInfo fcinfo, int proc_arg,
										int pinned_arg, int run_as_arg,
										ProcessorSpec *spec);

/* raw_sandbox.c: user processors' sandbox */
extern void ms_sandbox_init(void);
extern bool ms_sandbox_suspend(void);
extern void ms_sandbox_resume(bool was);
extern void ms_run_sandboxed(Oid procoid, bytea *pinned, Oid run_as, bytea *batch,
							 int dims, Tuplestorestate *store, TupleDesc desc,
							 ProcessorRowCheck check, void *check_arg);

#endif							/* MS_RAW_STORE_H */
