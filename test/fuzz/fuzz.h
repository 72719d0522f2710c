/*
 * fuzz.h
 *		What every libFuzzer harness in test/fuzz shares: the entry point's
 *		prototype and the way a broken property is reported (an abort, so
 *		libFuzzer saves the input as a crash).
 */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void
fail(const char *why)
{
	fprintf(stderr, "property violated: %s\n", why);
	abort();
}

#endif							/* MS_FUZZ_H */
