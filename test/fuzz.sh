#!/usr/bin/env bash
# `make fuzz`, run inside test/cluster.sh: the long fuzz run, test/fuzz.sql with the iteration
# multiplier and seed that PGOPTIONS carries (kpi_fuzz.scale, kpi_fuzz.seed). Exits non-zero on
# any failure; the last line says how many inputs were tried.
set -uo pipefail
cd "$(dirname "$0")/.."
psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE kpi_fuzz" &&
	psql -qX -v ON_ERROR_STOP=1 -d kpi_fuzz -c "CREATE EXTENSION pgtap" || exit 1
export PGDATABASE=kpi_fuzz
start=$(date +%s)
pg_prove --verbose test/fuzz.sql
status=$?
echo "fuzz: $(psql -qAtX -c "SELECT current_setting('kpi_fuzz.scale', true)") x the short run's" \
	"inputs, seed $(psql -qAtX -c "SELECT current_setting('kpi_fuzz.seed', true)"), $(( $(date +%s) - start )) s"
exit $status
