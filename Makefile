# Makefile for MachineSoup (PGXS)
#
#   make && make install          build and install the extension
#   make installcheck             pg_regress suites (sql/*.sql, expected/*.out)
#   make installcheck REGRESS=vec_io              one pg_regress suite
#   make prove_installcheck       TAP tests (test/t/*.pl)
#   make prove_installcheck PROVE_TESTS=test/t/040_audit.pl   one TAP file
#   make unit                     C unit tests of the core/ folders, no server
#   make fuzz FUZZ_SECONDS=30     libFuzzer harnesses under AddressSanitizer
#   make bench-kernels            SIMD kernel benchmark table
#   make deb                      Debian package postgresql-15-machinesoup_<version>_amd64.deb
#   make dist                     PGXN release machinesoup-<version>.zip from git HEAD

EXTENSION = machinesoup
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" machinesoup.control)

MODULE_big = machinesoup

# One folder per subsystem under src/, in install order: each holds its C
# glue, its install fragment <name>.sql and, where it has one, the pure C
# of its algorithms in core/ (no postgres.h: unit-tested and fuzzed on its
# own).  src/core holds what several subsystems share (SIMD kernels,
# distances, the vec text parser); src/machinesoup.c loads the module.

SUBSYSTEMS = vec hvec bvec svec spatial knn msivf governance audit raw
CORE_DIRS = src/core $(wildcard $(addsuffix /core,$(addprefix src/,$(SUBSYSTEMS))))
CORE_SRCS = $(sort $(wildcard $(addsuffix /*.c,$(CORE_DIRS))))
CORE_HDRS = $(wildcard $(addsuffix /*.h,$(CORE_DIRS)))
CORE_INCLUDES = $(addprefix -I,$(CORE_DIRS))
GLUE_SRCS = src/machinesoup.c $(sort $(wildcard $(addsuffix /*.c,$(addprefix src/,$(SUBSYSTEMS)))))
OBJS = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

# The install script of the current version is generated from the
# subsystems' fragments, concatenated in dependency order.  Older versions
# are installed by PostgreSQL from the frozen script of the oldest one
# still supported, sql/versions/machinesoup--0.1.0.sql, and the chain of
# update scripts sql/versions/machinesoup--<old>--<new>.sql after it
# (test/t/060_upgrade.pl checks that every version updates to exactly what
# a fresh install creates).  To move on to a new version: raise
# default_version and write the update script from the previous one.
EXT_SCRIPT = $(EXTENSION)--$(EXTVERSION).sql
EXT_FRAGMENTS = $(foreach s,$(SUBSYSTEMS),src/$(s)/$(s).sql)
DATA_built = $(EXT_SCRIPT)
DATA = $(wildcard sql/versions/$(EXTENSION)--*.sql)

# sql/*.sql are the pg_regress suites, and nothing else.
REGRESS = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# The TAP tests start clusters of their own and take minutes; they run
# from their own target, prove_installcheck below, not from installcheck.
# (PGXS's TAP_TESTS would chain them to installcheck, so it stays unset.)
PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = $(addprefix -I$(srcdir)/,src $(addprefix src/,$(SUBSYSTEMS)) $(CORE_DIRS)) \
	-I$(libpq_srcdir)
# No -march: one binary runs on every x86-64 and picks its SIMD at load.
# Warnings: PostgreSQL's own (pg_config --cflags) plus -Wextra, except
# -Wunused-parameter: index-AM, fmgr and hook callbacks have signatures
# fixed by the server and many ignore some of their arguments.  WERROR=1
# (on the command line or in the environment; scripts/test.sh, and so CI,
# sets it) turns every warning into an error; a developer's build only
# warns.
WARNINGS = -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
PG_CFLAGS = -O3 $(WARNINGS)
# A backend must not run threads behind PostgreSQL's back, and the pthread
# OpenBLAS starts its pool as soon as the library loads: link the serial
# build (Debian's libopenblas0-serial) when it is installed.
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
OPENBLAS_SERIAL_DIR := $(firstword $(wildcard /usr/lib/$(MULTIARCH)/openblas-serial))
# The library's RUNPATH, where the dynamic linker looks for libopenblas.so.0
# first.  The Debian package sets it to a directory of its own that holds
# a link to the same serial library (debian/rules says why).
BLAS_RUNPATH ?= $(OPENBLAS_SERIAL_DIR)
ifneq ($(OPENBLAS_SERIAL_DIR),)
BLAS_LINK = -L$(OPENBLAS_SERIAL_DIR) -Wl,-rpath,$(BLAS_RUNPATH) -lopenblas
else
BLAS_LINK = -lopenblas
endif
# One link line for the module and for every unit, fuzz and bench program.
LIBS_LINK = $(BLAS_LINK) -llz4 -lm
# libpq: a standby's audit records are written by the primary, through a
# connection to it (src/audit/audit_relay.c)
SHLIB_LINK = $(LIBS_LINK) $(libpq)

EXTRA_CLEAN = test/unit/*.bin test/fuzz/*.bin test/bench/*.bin tmp_check \
	$(EXTENSION)-*.zip

# Bitcode for JIT inlining needs clang at install time; not worth the
# dependency for an extension whose hot loops are hand-vectorised.
override with_llvm = no

# Rebuild an object when a header it includes changes: PGXS tracks header
# dependencies (gcc -MMD into .deps/) only when asked.  Every source file
# has a name of its own, as the one .deps directory needs.
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXT_SCRIPT): $(EXT_FRAGMENTS) machinesoup.control
	cat $(EXT_FRAGMENTS) > $@

# PGXS defines how to run prove against the installed server, but as a
# recipe of installcheck only; this gives it a target of its own.
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)

# --- server-free tests of src/core -------------------------------------

CORE_CC ?= cc
CORE_CFLAGS = -O2 -g -std=c99 -Wall $(WARNINGS) $(CORE_INCLUDES)
UNIT_SRCS = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=.bin)

test/unit/%.bin: test/unit/%.c $(CORE_SRCS) $(CORE_HDRS) test/unit/unit.h
	$(CORE_CC) $(CORE_CFLAGS) -o $@ $< $(CORE_SRCS) $(LIBS_LINK)

.PHONY: unit fuzz bench-kernels
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SRCS = $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS = $(FUZZ_SRCS:.c=.bin)

test/fuzz/%.bin: test/fuzz/%.c $(CORE_SRCS) $(CORE_HDRS) test/fuzz/fuzz.h
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$(CORE_INCLUDES) -o $@ $< $(CORE_SRCS) $(LIBS_LINK)

fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		mkdir -p test/fuzz/corpus/$$(basename $$f .bin); \
		./$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			test/fuzz/corpus/$$(basename $$f .bin) test/fuzz/seeds/$$(basename $$f .bin); \
	done

test/bench/bench_kernels.bin: test/bench/bench_kernels.c $(CORE_SRCS) $(CORE_HDRS)
	$(CORE_CC) -O3 -g -std=c99 -Wall $(WARNINGS) $(CORE_INCLUDES) -o $@ $< $(CORE_SRCS) $(LIBS_LINK)

bench-kernels: test/bench/bench_kernels.bin
	./test/bench/bench_kernels.bin

# --- releases ------------------------------------------------------------

# The PGXN release: the committed tree (git HEAD, not the working tree)
# under one top directory named after the version, META.json at its top.
# test/dist_check.sh checks what it holds.
DIST = $(EXTENSION)-$(EXTVERSION)

.PHONY: dist deb
dist:
	@git diff --quiet HEAD -- 2>/dev/null || \
		echo "make dist: uncommitted changes are not in $(DIST).zip (it is made from HEAD)" >&2
	git archive --format=zip --prefix=$(DIST)/ -o $(DIST).zip HEAD

# The Debian package, built by dpkg-buildpackage in a clean copy of the
# tree; the .deb lands here.  scripts/build_deb.sh says what it needs.
deb:
	bash scripts/build_deb.sh .
