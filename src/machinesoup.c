/*
 * machinesoup.c
 *		Module entry point: library load, settings that belong to no single
 *		concern, and the SQL-visible report of the SIMD level in use.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "msivf.h"
#include "raw_store.h"
#include "vec_kernels.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(vec_simd_level);

/* machinesoup.simd: "auto" or a level to force, for benchmarks and triage */
#define SIMD_AUTO (-1)

static int	simd_setting = SIMD_AUTO;

static const struct config_enum_entry simd_options[] = {
	{"auto", SIMD_AUTO, false},
	{"scalar", SIMD_SCALAR, false},
	{"neon", SIMD_NEON, false},
	{"avx2", SIMD_AVX2, false},
	{"avx512", SIMD_AVX512, false},
	{NULL, 0, false}
};

static bool
simd_check_hook(int *newval, void **extra, GucSource source)
{
	if (*newval != SIMD_AUTO && vec_kernels_for_level((SimdLevel) *newval) == NULL)
	{
		GUC_check_errdetail("This CPU (or this build) does not support SIMD level \"%s\"; the best available is \"%s\".",
							vec_simd_level_name((SimdLevel) *newval),
							vec_simd_level_name(vec_best_simd_level()));
		return false;
	}
	return true;
}

static void
simd_assign_hook(int newval, void *extra)
{
	vec_use_simd_level(newval == SIMD_AUTO ? vec_best_simd_level() : (SimdLevel) newval);
}

void
_PG_init(void)
{
	vec_kernels_init();

	DefineCustomEnumVariable("machinesoup.simd",
							 "Selects the SIMD kernels for vec distances.",
							 "\"auto\" uses the best the CPU supports; other values force a level, for comparisons.",
							 &simd_setting,
							 SIMD_AUTO,
							 simd_options,
							 PGC_USERSET,
							 0,
							 simd_check_hook,
							 simd_assign_hook,
							 NULL);

	ms_msivf_init();
	ms_raw_init();
	ms_sandbox_init();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("machinesoup");
#else
	EmitWarningsOnPlaceholders("machinesoup");
#endif
}

Datum
vec_simd_level(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(vec_kernels->name));
}
