/*
 * raw_store.h
 *		Raw batches: LZ4 frame glue, processors and audited access
 *		(raw_codec.c, raw_proc.c, raw_insert.c, raw_access.c).
 */
#ifndef MS_RAW_STORE_H
#define MS_RAW_STORE_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "utils/tuplestore.h"

/* GUC machinesoup.processor_role */
extern char *ms_processor_role;

extern void ms_raw_init(void);

/*
 * Decode a stored frame, expecting exactly raw_bytes of content; any
 * damage is an ERROR with SQLSTATE XX001 naming the batch.
 */
extern bytea *ms_raw_decode(bytea *frame, int64 raw_bytes, int64 batch_id);

/*
 * Run a processor (InvalidOid: ms.proc_csv) on a batch into store as rows
 * (point_id bigint, embedding vec, payload jsonb), checked against the
 * model: no NULL id or embedding, dims, no zero vector when cosine, no id
 * twice (raw_proc.c).
 */
extern void ms_processor_rows(Oid procoid, bytea *batch, int dims, bool cosine,
							  Tuplestorestate *store, TupleDesc desc);

#endif							/* MS_RAW_STORE_H */
