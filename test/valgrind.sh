#!/usr/bin/env bash
# `make valgrind`: the pg_regress suite against a server running under valgrind's memcheck,
# then a report of every valgrind error whose stack passes through kpi.so. PostgreSQL itself is
# not built for valgrind here, so its own reports (e.g. uninitialised WAL padding) are counted
# but not judged; an error in kpi's code fails the run. KPI_VALGRIND_SUITE=test/run.sh runs the
# whole test suite instead (pgTAP and fuzzing included; much slower).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kpi-valgrind.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/logs"
chmod 755 "$work"
chmod 777 "$work/logs"
postgres=$("${PG_CONFIG:-pg_config}" --bindir)/postgres
cat >"$work/postgres" <<WRAP
#!/bin/sh
exec valgrind --quiet --tool=memcheck --trace-children=no --error-limit=no --leak-check=no \\
	--read-var-info=no --num-callers=30 --log-file=$work/logs/vg.%p.log "$postgres" "\$@"
WRAP
chmod 755 "$work/postgres"

status=0
KPI_POSTGRES="$work/postgres" test/cluster.sh ${KPI_VALGRIND_SUITE:-make -s installcheck} || status=$?
[ -n "${KPI_VALGRIND_KEEP:-}" ] && cp -r "$work/logs" "$KPI_VALGRIND_KEEP"

total=$(cat "$work"/logs/vg.*.log 2>/dev/null | grep -c '^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|Conditional\|Mismatched\|overlap\)' || true)
# A frame of ours: kpi.so itself, one of our source files, or a kpi_ function.
mine='kpi\\.so|[( ](kpi|turns|sketch|proportion|calendar)\\.c:[0-9]+|: kpi_[a-z_]+ '
ours=$(awk -v ours="$mine" '/^==[0-9]+== [A-Z]/ { if (rec != "" && rec ~ ours) n++; rec = $0; next }
			/^==[0-9]+==    (at|by) / { rec = rec "\n" $0; next }
			END { if (rec ~ ours) n++; print n + 0 }' "$work"/logs/vg.*.log 2>/dev/null)
echo "valgrind: $(ls "$work"/logs | wc -l) processes, $total error records in all, $ours through kpi's code"
if [ "$ours" -gt 0 ]; then
	awk -v ours="$mine" '/^==[0-9]+== [A-Z]/ { if (rec ~ ours) print rec "\n"; rec = $0; next }
		 /^==[0-9]+==    (at|by) / { rec = rec "\n" $0 }
		 END { if (rec ~ ours) print rec }' "$work"/logs/vg.*.log | head -n 200
	status=1
fi
[ $status -eq 0 ] && echo "valgrind: clean in kpi's code"
exit $status
