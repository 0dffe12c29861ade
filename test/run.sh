#!/usr/bin/env bash
# The test suite, run inside test/cluster.sh by `make test`: pg_regress (sql/*.sql against
# expected/*.out), then every pgTAP file test/*.sql through pg_prove, then every executable TAP
# script test/*.t through prove. Ends with the line "N passed, N failed" (regression files plus
# TAP assertions; a TAP file that dies or misses its plan counts as one failure more) and exits
# non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== pg_regress"
make -s installcheck >"$log" 2>&1
regress_status=$?
cat "$log"
ok=$(grep -cE '^(ok|[[:space:]]*test|parallel group).* \.\.\. ok|^ok [0-9]' "$log")
bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]' "$log")
if [ "$regress_status" -ne 0 ] && [ "$bad" -eq 0 ]; then
	bad=1
	[ -f regression.diffs ] || echo "pg_regress failed before comparing any output"
fi
[ -f regression.diffs ] && [ "$bad" -gt 0 ] && head -n 200 regression.diffs
passed=$((passed + ok))
failed=$((failed + bad))

# One TAP file at a time, so a file that dies is charged to itself.
run_tap() {
	local runner=$1 file=$2 status ok bad
	"$runner" --verbose "$file" >"$log" 2>&1
	status=$?
	ok=$(grep -cE '^ok [0-9]' "$log")
	bad=$(grep -cE '^not ok [0-9]' "$log")
	if [ "$status" -ne 0 ] || [ "$bad" -gt 0 ]; then
		cat "$log"
		[ "$bad" -eq 0 ] && bad=1
	else
		echo "$file .. $ok ok"
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
}

echo "== pgTAP"
psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE kpi_tap" -d postgres &&
	psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pgtap" -d kpi_tap || failed=$((failed + 1))
export PGDATABASE=kpi_tap
for f in test/*.sql; do
	[ -e "$f" ] || continue
	run_tap pg_prove "$f"
done
for f in test/*.t; do
	[ -e "$f" ] || continue
	run_tap prove "$f"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
