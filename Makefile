# kpi: customer-service KPIs inside PostgreSQL, built with PGXS.
#
#   make demo    install what is missing, build, run the sample shop on a throwaway cluster
#   make test    the same set-up, then pg_regress (sql/ + expected/) and pgTAP (test/)
#   make bench   benchmarks on a throwaway cluster (SCALE=2M by default, SCALE=10M for the big run)
#
# The install script of the version in development, sql/kpi--$(EXTVERSION).sql, is assembled from
# the ordered parts in sql/parts/, so each building block keeps its SQL beside the others in one
# obvious place. Shipped versions are frozen: their install script sql/kpi--<version>.sql is
# committed as it shipped and never edited, and each later version has an upgrade script
# sql/kpi--<old>--<new>.sql (test/upgrade.t steps through them all).

EXTENSION  = kpi
EXTVERSION = 0.2.0
SHIPPED    = 0.1.0

MODULE_big = kpi
OBJS       = src/kpi.o src/calendar.o src/proportion.o src/sketch.o src/turns.o

DATA_built = sql/kpi--$(EXTVERSION).sql
DATA       = $(foreach v,$(SHIPPED),sql/kpi--$(v).sql) $(sort $(wildcard sql/kpi--*--*.sql))
SQL_PARTS  = $(sort $(wildcard sql/parts/*.sql))

# pg_regress tests: every sql/<name>.sql except the install scripts.
REGRESS      = $(sort $(filter-out kpi--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=kpi

PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
			-Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

# No LLVM bitcode: JIT inlining of our few functions is not worth a clang dependency.
override with_llvm = no

.DEFAULT_GOAL := all

# Before the server headers are installed (a fresh machine) only demo/test/bench can run:
# they install them first and then call make again.
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

sql/kpi--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

.PHONY: deps demo test bench fuzz

deps:
	test/deps.sh

demo: deps
	$(MAKE) all
	$(MAKE) install
	test/cluster.sh test/demo.sh

test: deps
	$(MAKE) all
	$(MAKE) install
	test/cluster.sh test/run.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	test/cluster.sh bench/run.sh $(SCALE)

# The long fuzz run: test/fuzz.sql with every iteration count multiplied by FUZZ_SCALE and
# mutations drawn from FUZZ_SEED (a number between -1 and 1).
FUZZ_SCALE ?= 50
FUZZ_SEED  ?= 0.1717
fuzz: deps
	$(MAKE) all
	$(MAKE) install
	PGOPTIONS="-c kpi_fuzz.scale=$(FUZZ_SCALE) -c kpi_fuzz.seed=$(FUZZ_SEED)" test/cluster.sh test/fuzz.sh

.PHONY: valgrind
valgrind: deps
	$(MAKE) all
	$(MAKE) install
	test/valgrind.sh
