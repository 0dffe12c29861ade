#!/usr/bin/env bash
# `make bench`, run inside test/cluster.sh: load the sample shop at the given scale, then run
# every job of bench/*.sql (or of the files named after the scale) and print, per job, each
# query's median time, rows/s, the backend's peak memory, and the ratio of ours to the
# alternatives and to the floor.
#
#   bench/run.sh [SCALE] [bench/file.sql ...]     SCALE: messages, e.g. 500k, 2M (default), 10M
#
# Job files are psql SQL split into sections by marker lines:
#   -- @job <title>            starts a job
#   -- @setup                  run once before the job (untimed); may use :scale (messages)
#   -- @each                   run before every timed run, warm-up included (untimed): e.g.
#                              the load that a refresh then works through
#   -- @rows                   one query giving the job's input rows (for rows/s)
#   -- @ours [label]           the kpi query
#   -- @alternative <label>    a plain-SQL alternative (any number)
#   -- @floor <label>          the cheapest query of the same shape
#   -- @runs <N>               timed runs per query after one warm-up (default 5)
#   -- @teardown               run once after the job
# A timed section holds exactly one statement, optionally preceded by SET lines (untimed).
# Its result is discarded. Peak memory is VmHWM of the backend that ran the query (it counts
# the shared buffers it touched, and not the memory of parallel workers).
set -euo pipefail
cd "$(dirname "$0")/.."

scale_arg=${1:-2M}
shift || true
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(bench/*.sql)

case "$scale_arg" in
	*[kK]) scale=$(( ${scale_arg%[kK]} * 1000 )) ;;
	*[mM]) scale=$(( ${scale_arg%[mM]} * 1000000 )) ;;
	*) scale=$scale_arg ;;
esac
# agents * days * per_day * 10 messages, with 50 days of 100 conversations per agent.
agents=$(( scale / 50000 ))
[ "$agents" -lt 2 ] && agents=2

export PGDATABASE=kpi_bench
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
createdb kpi_bench
q() { psql -qAtX -v ON_ERROR_STOP=1 -v scale="$scale" -v last_day="$last_day" "$@"; }
# The sample shop ends yesterday, as a shop's data does the morning after: a nightly refresh
# then adds the newest day of the facts and of the scorecard history (which runs to yesterday).
# Job files name its days relative to :'last_day'.
last_day=$(psql -qAtX -c "SELECT current_date - 1")
q -c "CREATE EXTENSION kpi"

now_ms() { date +%s%3N; }
t0=$(now_ms)
q -v seed=1 -v shops=2 -v agents="$agents" -v days=50 -v per_day=100 -v last_day="$last_day" \
	-f test/sample_shop.psql
t1=$(now_ms)
messages=$(q -c "SELECT count(*) FROM kpi.messages")
q -c "VACUUM ANALYZE"

echo "# kpi bench: $(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB," \
	"$(q -c 'SHOW server_version' | cut -d' ' -f1)"
echo "# scale $scale_arg: $messages messages, $agents agents x 50 days; sample shop generated in" \
	"$(( (t1 - t0) / 1000 )).$(( (t1 - t0) % 1000 / 100 )) s"
echo
echo "| job | query | median ms | rows/s | peak MB | ours against it |"
echo "|---|---|---:|---:|---:|---:|"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Split a job file into one directory per job holding one file per section.
split_jobs() {
	awk -v dir="$1" '
		function section(name, label) {
			if (out != "") close(out)
			out = dir "/" job "/" name
			if (label != "") { print label > (out ".label"); close(out ".label") }
			printf "" > out
		}
		/^-- @job / { job++; system("mkdir -p " dir "/" job); out = "";
					  t = $0; sub(/^-- @job /, "", t); print t > (dir "/" job "/title");
					  close(dir "/" job "/title"); next }
		/^-- @(setup|each|rows|teardown)/ { section(substr($2, 2), ""); next }
		/^-- @ours/ { l = $0; sub(/^-- @ours ?/, "", l); section("q1_ours", l == "" ? "kpi" : l); next }
		/^-- @alternative / { alt++; l = $0; sub(/^-- @alternative /, "", l);
							  section("q2_alt" alt, l); next }
		/^-- @floor/ { l = $0; sub(/^-- @floor ?/, "", l); section("q3_floor", l == "" ? "floor" : l); next }
		/^-- @runs / { print $3 > (dir "/" job "/runs"); close(dir "/" job "/runs"); next }
		out != "" { print > out }
	' "$2"
}

# Time one section, each run after the job's @each script if it has one: prints
# "median_ms peak_kb".
time_query() {
	local file=$1 runs=$2 each=$3 script="$work/script.psql"
	{
		grep -E '^[[:space:]]*SET ' "$file" || true
		echo '\o /dev/null'
		for _ in $(seq 0 "$runs"); do
			echo '\timing off'
			[ -s "$each" ] && cat "$each" && echo
			echo '\timing on'
			grep -vE '^[[:space:]]*SET ' "$file"; echo
		done
		echo '\o'
		echo '\timing off'
		echo "SELECT 'hwm ' || substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s*(\\d+) kB');"
	} >"$script"
	q -f "$script" | awk '
		/^Time: / { t[n++] = $2 }
		/^hwm / { hwm = $2 }
		END {
			m = 0; for (i = 1; i < n; i++) v[m++] = t[i]	# drop the warm-up
			for (i = 0; i < m; i++) for (j = i + 1; j < m; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
			med = (m % 2) ? v[int(m / 2)] : (v[m / 2 - 1] + v[m / 2]) / 2
			printf "%.1f %d\n", med, hwm
		}'
}

for f in "${files[@]}"; do
	rm -rf "${work:?}"/jobs && mkdir -p "$work/jobs"
	split_jobs "$work/jobs" "$f"
	for jobdir in $(ls -d "$work"/jobs/*/ 2>/dev/null | sort -V); do
		title=$(cat "$jobdir/title")
		runs=$(cat "$jobdir/runs" 2>/dev/null || echo 5)
		if [ -s "$jobdir/setup" ]; then q -f "$jobdir/setup" >/dev/null; fi
		rows=""
		if [ -s "$jobdir/rows" ]; then rows=$(q -f "$jobdir/rows" | tail -n 1); fi
		ours_ms=""
		for qf in $(ls "$jobdir" | grep -E '^q[0-9]_[a-z0-9]+$' | sort); do
			label=$(cat "$jobdir/$qf.label")
			read -r ms kb < <(time_query "$jobdir/$qf" "$runs" "$jobdir/each")
			if [ -z "$ours_ms" ]; then ours_ms=$ms; fi
			rate="-"
			[ -z "$rows" ] || rate=$(awk -v r="$rows" -v ms="$ms" 'BEGIN { if (ms > 0) printf "%.3g", r / (ms / 1000); else print "-" }')
			ratio=$(awk -v o="$ours_ms" -v t="$ms" -v q="$qf" 'BEGIN {
				if (q ~ /ours/ || t <= 0) print "-";
				else if (q ~ /floor/) printf "ours = %.2fx the floor", o / t;
				else printf "ours = %.2fx (%.1fx faster)", o / t, t / o }')
			printf '| %s | %s | %s | %s | %.0f | %s |\n' "$title" "$label" "$ms" "$rate" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$ratio"
		done
		if [ -s "$jobdir/teardown" ]; then q -f "$jobdir/teardown" >/dev/null; fi
	done
done
