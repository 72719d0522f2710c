/*
 * unit.h
 *		A minimal check-and-report helper for the server-free unit tests,
 *		and the deterministic random numbers they draw their cases from.
 *
 * Header-only so that each test/unit/test_*.c builds into its own binary
 * with nothing else to link.  A failed CHECK prints where it failed and
 * carries on, so one run shows every broken case; unit_finish() prints the
 * one summary line the test runner looks for and gives the exit status.
 */
#ifndef MS_UNIT_H
#define MS_UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Beyond this many, failures are still counted but no longer printed. */
#define UNIT_MAX_REPORTED 50

#if defined(__GNUC__)
#define UNIT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define UNIT_PRINTF(f, a)
#endif

typedef struct UnitCounts
{
	long		passed;
	long		failed;
} UnitCounts;

/* One instance per test binary: every test is a single translation unit. */
static UnitCounts unit_counts;

static inline bool unit_check_(bool ok, const char *file, int line,
							   const char *fmt,...) UNIT_PRINTF(4, 5);

static inline bool
unit_check_(bool ok, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		unit_counts.passed++;
		return true;
	}
	unit_counts.failed++;
	if (unit_counts.failed <= UNIT_MAX_REPORTED)
	{
		/* keep a failure after whatever the test printed before it */
		fflush(stdout);
		fprintf(stderr, "%s:%d: FAILED: ", file, line);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		if (unit_counts.failed == UNIT_MAX_REPORTED)
			fprintf(stderr, "(further failures are counted but not shown)\n");
	}
	return false;
}

/*
 * CHECK(cond, fmt, ...): count a check, print file:line and the message when
 * it fails.  It is an expression worth the outcome, so a test can skip what
 * would only fail again: "if (CHECK(p != NULL, "alloc")) use(p);".
 */
#define CHECK(cond, ...) \
	unit_check_((cond) ? true : false, __FILE__, __LINE__, __VA_ARGS__)

/* Print "<suite>: N passed, M failed"; the exit status for main(). */
static inline int
unit_finish(const char *suite)
{
	fflush(stdout);
	printf("%s: %ld passed, %ld failed\n", suite,
		   unit_counts.passed, unit_counts.failed);
	fflush(stdout);
	return unit_counts.failed > 0 ? 1 : 0;
}

/*
 * xorshift64 from a fixed seed: every run of a test sees the same cases,
 * so a failure reproduces.
 */
static uint64_t unit_rng_state = 0x9E3779B97F4A7C15ULL;

static inline uint64_t
unit_rng64(void)
{
	unit_rng_state ^= unit_rng_state << 13;
	unit_rng_state ^= unit_rng_state >> 7;
	unit_rng_state ^= unit_rng_state << 17;
	return unit_rng_state;
}

#endif							/* MS_UNIT_H */
