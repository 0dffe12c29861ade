#!/usr/bin/env bash
# pg_dump -> pg_restore round trip: every base row, the settings and the shipped shop's edits
# survive into a fresh database. Runs inside test/cluster.sh (PGHOST etc. are set).
set -uo pipefail
cd "$(dirname "$0")/.."
src=kpi_dump_src
dst=kpi_dump_dst
dump=$(mktemp)
trap 'rm -f "$dump"; dropdb --if-exists -q $src; dropdb --if-exists -q $dst' EXIT
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$@"; }

echo "1..7"
dropdb --if-exists -q $src; dropdb --if-exists -q $dst
createdb $src && createdb $dst
q $src -c "CREATE EXTENSION kpi" >/dev/null
q $src -v seed=7 -v shops=2 -v agents=6 -v days=3 -v per_day=4 -v last_day=2026-11-20 \
	-f test/sample_shop.psql >/dev/null
q $src -c "UPDATE kpi.settings SET fcr_window = '3 days', response_sla = '20 s'" >/dev/null

fingerprint() { q "$1" -f test/fingerprint.psql; }
before=$(fingerprint $src)
rows=$(q $src -c "SELECT count(*) FROM kpi.messages")

pg_dump -Fc -f "$dump" $src 2>/dev/null && echo "ok 1 - pg_dump succeeds" || echo "not ok 1 - pg_dump succeeds"
if pg_restore -d $dst --exit-on-error "$dump" 2>/tmp/kpi_restore.err; then
	echo "ok 2 - pg_restore into a fresh database succeeds"
else
	echo "not ok 2 - pg_restore into a fresh database succeeds"; sed 's/^/# /' /tmp/kpi_restore.err
fi
after=$(fingerprint $dst)
[ "$rows" -gt 100 ] && echo "ok 3 - the sample shop has data ($rows messages)" || echo "not ok 3 - the sample shop has data"
if [ "$before" = "$after" ]; then
	echo "ok 4 - every table has the same rows after the round trip"
else
	echo "not ok 4 - every table has the same rows after the round trip"
	diff <(echo "$before") <(echo "$after") | sed 's/^/# /'
fi
s=$(q $dst -c "SELECT count(*) || ' ' || min(fcr_window) || ' ' || min(response_sla) FROM kpi.settings")
[ "$s" = "1 3 days 00:00:20" ] && echo "ok 5 - settings are restored, still one row" ||
	echo "not ok 5 - settings are restored, still one row # got '$s'"
s=$(q $dst -c "SELECT string_agg(shop_id || ':' || name || ':' || coalesce(timezone, '-'), ',' ORDER BY shop_id) FROM kpi.shops")
[ "$s" = "$(q $src -c "SELECT string_agg(shop_id || ':' || name || ':' || coalesce(timezone, '-'), ',' ORDER BY shop_id) FROM kpi.shops")" ] &&
	echo "ok 6 - the edited shipped shop and added shops are restored ($s)" ||
	echo "not ok 6 - the edited shipped shop and added shops are restored # got '$s'"

# Derived facts are not dumped; a refresh on each side must give the same ones.
facts() {
	q "$1" -c "SELECT kpi.refresh()" >/dev/null
	q "$1" -c "SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM kpi.turns t) ||
		(SELECT md5(string_agg(d::text, '|' ORDER BY d::text)) FROM kpi.agent_days d) ||
		(SELECT md5(string_agg(d::text, '|' ORDER BY d::text)) FROM kpi.shop_days d)"
}
a=$(facts $src)
b=$(facts $dst)
[ -n "$a" ] && [ "$a" = "$b" ] && echo "ok 7 - after a refresh both sides have identical turns and daily facts" ||
	echo "not ok 7 - after a refresh both sides have identical turns and daily facts # '$a' vs '$b'"
