# Makefile for MachineSoup (PGXS)
#
#   make && make install          build and install the extension
#   make installcheck             pg_regress suites (+ TAP tests in test/t)
#   make unit                     C unit tests of src/core, no server needed
#   make fuzz FUZZ_SECONDS=30     libFuzzer harnesses under AddressSanitizer
#   make bench-kernels            SIMD kernel benchmark table

EXTENSION = machinesoup
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" machinesoup.control)

MODULE_big = machinesoup
CORE_SRCS = $(sort $(wildcard src/core/*.c))
GLUE_SRCS = $(sort $(wildcard src/*.c))
OBJS = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

# The install script of the current version is assembled from one fragment
# per concern, so each capability keeps its SQL next to nothing else's.
# Every version that has landed stays installable and updatable: its
# script is kept, frozen, as sql/machinesoup--<old>.sql, beside the update
# scripts sql/machinesoup--<old>--<new>.sql (test/t/060_upgrade.pl checks
# that each updates to exactly what a fresh install creates).  To move on
# to a new version: commit the generated script under the old version's
# name, raise default_version, and write the update script.
EXT_SCRIPT = sql/$(EXTENSION)--$(EXTVERSION).sql
EXT_FRAGMENTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = $(EXT_SCRIPT)
DATA = $(filter-out $(EXT_SCRIPT),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS = $(sort $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%.sql,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

ifneq ($(wildcard test/t/*.pl),)
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
endif

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/core
# No -march: one binary runs on every x86-64 and picks its SIMD at load.
PG_CFLAGS = -O3
# A backend must not run threads behind PostgreSQL's back, and the pthread
# OpenBLAS starts its pool as soon as the library loads: link the serial
# build (Debian's libopenblas0-serial) when it is installed.
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
OPENBLAS_SERIAL_DIR := $(firstword $(wildcard /usr/lib/$(MULTIARCH)/openblas-serial))
ifneq ($(OPENBLAS_SERIAL_DIR),)
BLAS_LINK = -L$(OPENBLAS_SERIAL_DIR) -Wl,-rpath,$(OPENBLAS_SERIAL_DIR) -lopenblas
else
BLAS_LINK = -lopenblas
endif
SHLIB_LINK = $(BLAS_LINK) -llz4 -lm

EXTRA_CLEAN = test/unit/*.bin test/fuzz/*.bin test/bench/*.bin

# Bitcode for JIT inlining needs clang at install time; not worth the
# dependency for an extension whose hot loops are hand-vectorised.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXT_SCRIPT): $(EXT_FRAGMENTS) machinesoup.control
	cat $(EXT_FRAGMENTS) > $@

# --- server-free tests of src/core -------------------------------------

CORE_CC ?= cc
CORE_CFLAGS = -O2 -g -std=c99 -Wall -Wextra -Isrc/core
UNIT_SRCS = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=.bin)

test/unit/%.bin: test/unit/%.c $(CORE_SRCS) $(wildcard src/core/*.h) test/unit/unit.h
	$(CORE_CC) $(CORE_CFLAGS) -o $@ $< $(CORE_SRCS) -lm -lopenblas -llz4

.PHONY: unit fuzz bench-kernels
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SRCS = $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS = $(FUZZ_SRCS:.c=.bin)

test/fuzz/%.bin: test/fuzz/%.c $(CORE_SRCS) $(wildcard src/core/*.h) test/fuzz/fuzz.h
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Isrc/core -o $@ $< $(CORE_SRCS) -lm -lopenblas -llz4

fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		mkdir -p test/fuzz/corpus/$$(basename $$f .bin); \
		./$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			test/fuzz/corpus/$$(basename $$f .bin) test/fuzz/seeds/$$(basename $$f .bin); \
	done

test/bench/bench_kernels.bin: test/bench/bench_kernels.c $(CORE_SRCS) $(wildcard src/core/*.h)
	$(CORE_CC) -O3 -g -std=c99 -Wall -Isrc/core -o $@ $< $(CORE_SRCS) -lm -lopenblas -llz4

bench-kernels: test/bench/bench_kernels.bin
	./test/bench/bench_kernels.bin
