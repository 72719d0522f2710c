/*
 * raw_store.h
 *		Raw batches: LZ4 frame glue, processors and audited access
 *		(raw_codec.c, raw_proc.c, raw_access.c).
 */
#ifndef MS_RAW_STORE_H
#define MS_RAW_STORE_H

#include "postgres.h"

/* GUC machinesoup.processor_role */
extern char *ms_processor_role;

extern void ms_raw_init(void);

/*
 * Decode a stored frame, expecting exactly raw_bytes of content; any
 * damage is an ERROR with SQLSTATE XX001 naming the batch.
 */
extern bytea *ms_raw_decode(bytea *frame, int64 raw_bytes, int64 batch_id);

#endif							/* MS_RAW_STORE_H */
