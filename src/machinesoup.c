/*
 * machinesoup.c
 *		Module entry point: library load, settings that belong to no single
 *		concern, and the SQL-visible report of the SIMD level in use.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "audit.h"
#include "bit_kernels.h"
#include "half.h"
#include "msivf.h"
#include "raw_store.h"
#include "vbox.h"
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

/* refuses a level this CPU (or build) has no kernels for */
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
	SimdLevel	level = newval == SIMD_AUTO ? vec_best_simd_level() : (SimdLevel) newval;

	vec_use_simd_level(level);
	/* bvec's popcount kernels follow the same level (bit_kernels.h) */
	bit_use_simd_level(level);
	/* hvec's conversions follow, at the best level below it they have */
	half_use_simd_level(level);
}

/* machinesoup.simd, whose assign hook installs the kernels of its level */
static void
define_simd_setting(void)
{
	DefineCustomEnumVariable("machinesoup.simd",
							 "Selects the SIMD kernels for vec and bvec distances.",
							 "\"auto\" uses the best the CPU supports; other values force a level, for comparisons.",
							 &simd_setting,
							 SIMD_AUTO,
							 simd_options,
							 PGC_USERSET,
							 0,
							 simd_check_hook,
							 simd_assign_hook,
							 NULL);
}

/*
 * Everything the library sets up when it loads, in this order.  The audit
 * log's shared memory and DROP DATABASE hook exist only when the library
 * is in shared_preload_libraries; the audit writers are background workers
 * registered on demand, one per database, by the first audited action.
 */
void
_PG_init(void)
{
	/* vec distances: the best SIMD kernels this CPU supports */
	vec_kernels_init();
	half_kernels_init();
	/* machinesoup.simd, to force another SIMD level */
	define_simd_setting();
	/* GiST and SP-GiST indexes: CREATE INDEX checks the declared dimensions */
	ms_vec_index_dims_init();
	/* msivf: the lists reloption, its scan settings, single-threaded BLAS */
	ms_msivf_init();
	/* audit log: the machinesoup.audit_* settings */
	ms_audit_define_settings();
	/* audit log: the shared request table backends fill and writers serve */
	ms_audit_shmem_init();
	/* audit log: DROP DATABASE sends its database's audit writer away */
	ms_audit_drop_database_hook_init();
	/* raw store: its settings; access sessions end on a role change */
	ms_raw_init();
	/* user processors' sandbox: the hooks that refuse what they may not do */
	ms_sandbox_init();
	/* a machinesoup.* name not defined above is an error, not a placeholder */
	MarkGUCPrefixReserved("machinesoup");
}

Datum
vec_simd_level(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(vec_kernels->name));
}
