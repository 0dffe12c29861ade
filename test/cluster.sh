#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster.
#
#   test/cluster.sh COMMAND [ARG...]
#
# initdb in a fresh temp dir (as the postgres OS user when run as root), listen on a Unix socket
# in that dir only, run COMMAND with PGHOST, PGPORT, PGUSER and PGDATABASE pointing at the
# cluster, then stop it and remove the dir, also when COMMAND or the start-up fails. The exit
# status is COMMAND's. Binaries come from $PG_CONFIG (default pg_config). Extra server settings
# may be passed as lines in $KPI_CLUSTER_CONF (e.g. shared_preload_libraries = 'pg_cron'), and
# $KPI_POSTGRES may name a program to start instead of postgres (test/valgrind.sh uses it).
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: test/cluster.sh COMMAND [ARG...]" >&2
	exit 2
fi

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
dir=$(mktemp -d "${TMPDIR:-/tmp}/kpi-cluster.XXXXXX")

# initdb refuses to run as root, so a root caller runs the server as postgres.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cleanup() {
	status=$?
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 ||
			as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [ $status -ne 0 ] && [ -f "$dir/server.log" ] && grep -q 'PANIC\|terminated by signal' "$dir/server.log"; then
		echo "kpi: the server crashed; the end of its log:" >&2
		tail -n 40 "$dir/server.log" >&2
	fi
	rm -rf "$dir"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"

as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
	>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

# With listen_addresses empty no TCP port is bound; the port only names the socket, which lives
# in our own dir, so any number is free. A random one keeps stray clients from guessing it.
port=$((20000 + RANDOM % 20000))
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
lc_messages = 'C'
max_worker_processes = 8
${KPI_CLUSTER_CONF:-}
CONF

as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 180 \
	${KPI_POSTGRES:+-p "$KPI_POSTGRES"} start >/dev/null ||
	{ cat "$dir/server.log" >&2; exit 1; }

export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export KPI_SERVER_LOG="$dir/server.log"
"$@"
