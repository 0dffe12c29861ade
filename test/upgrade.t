#!/usr/bin/env bash
# Upgrades: install the oldest shipped version of kpi, fill it (a sample shop, edited settings
# and shipped rows, a company scorecard, a reader and a writer role, a first refresh), then step through
# every ALTER EXTENSION kpi UPDATE TO the next version up to the default one. The result must
# equal a fresh install of the default version object for object (test/catalog.psql), keep
# every stored row, and refresh to the same facts as the fresh install given the same data
# and the same later changes. Runs inside test/cluster.sh (PGHOST etc. are set).
set -uo pipefail
cd "$(dirname "$0")/.."
old=kpi_upgrade_old
new=kpi_upgrade_new
role=kpi_upgrade_reader
writer=kpi_upgrade_writer
work=$(mktemp -d)
drop_all() {
	dropdb --if-exists $old 2>/dev/null; dropdb --if-exists $new 2>/dev/null
	psql -qAtX -d postgres -c "DROP ROLE IF EXISTS $role" -c "DROP ROLE IF EXISTS $writer" >/dev/null 2>&1
}
trap 'rm -rf "$work"; drop_all' EXIT
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$@"; }
n=0
check() { # check DESCRIPTION COMMAND...: one TAP line from a command's exit status
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$work/out" 2>&1; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		head -n 60 "$work/out" | sed 's/^/# /'
	fi
}
same() { # same FILE FILE
	diff -U3 "$1" "$2"
}

drop_all
createdb $old && createdb $new || exit 1
psql -qAtX -d postgres -c "CREATE ROLE $role NOLOGIN" -c "CREATE ROLE $writer NOLOGIN" >/dev/null

default=$(q postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'kpi'")
# The oldest version is the one with the longest update path to the default one.
path=$(q postgres -c "SELECT path FROM pg_extension_update_paths('kpi')
					   WHERE target = '$default' AND path IS NOT NULL
					   ORDER BY length(path) - length(replace(path, '--', '')) DESC, source LIMIT 1")
if [ -z "$path" ]; then
	echo "1..1"
	echo "ok 1 - # SKIP no older version of kpi has an update path to $default"
	exit 0
fi
IFS=' ' read -r -a versions <<<"$(echo "$path" | sed 's/--/ /g')"
oldest=${versions[0]}
steps=$(( ${#versions[@]} - 1 ))
echo "1..$((steps + 10))"
echo "# update path: $path"

# The same data on both sides: a sample shop, edited settings and shipped rows, a company
# scorecard, a reader and a writer, a first refresh.
fill() {
	q "$1" -v seed=11 -v shops=2 -v agents=8 -v days=10 -v per_day=6 -v last_day="$(date -u -d '2 days ago' +%F)" \
		-f test/sample_shop.psql >/dev/null &&
	q "$1" >/dev/null <<SQL
UPDATE kpi.settings SET fcr_window = '3 days', response_sla = '20 s';
UPDATE kpi.shops SET name = 'flagship' WHERE shop_id = 1;
UPDATE kpi.scorecard_items SET weight = weight + 1 WHERE scorecard = 'general' AND metric = 'reply_rate';
INSERT INTO kpi.scorecards (scorecard, description) VALUES ('night', 'night shift');
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, floor, target)
VALUES ('night', 'reply_rate', 2, 0.5, 0.95), ('night', 'avg_response_s', 1, 120, 20);
SELECT kpi.grant_reader('$role');
SELECT kpi.grant_writer('$writer');
SELECT count(*) FROM kpi.refresh();
SQL
}
install_old() { q $old -c "CREATE EXTENSION kpi VERSION '$oldest'" && fill $old; }
install_new() { q $new -c "CREATE EXTENSION kpi" && fill $new; }
check "CREATE EXTENSION kpi VERSION '$oldest' (the oldest) and fill it" install_old
q $old -f test/fingerprint.psql >"$work/rows_before"
history() { q "$1" -c "SELECT count(*) || ' ' || md5(string_agg(h::text, '|' ORDER BY h::text)) FROM kpi.scorecard_history h"; }
history $old >"$work/history_before"

for ((i = 1; i <= steps; i++)); do
	check "ALTER EXTENSION kpi UPDATE TO '${versions[$i]}'" \
		q $old -c "ALTER EXTENSION kpi UPDATE TO '${versions[$i]}'"
done
q $old -c "SELECT extversion FROM pg_extension WHERE extname = 'kpi'" >"$work/version"
check "the upgraded extension is at the default version $default" \
	test "$(cat "$work/version")" = "$default"

check "a fresh CREATE EXTENSION kpi ($default) with the same data" install_new

# Both catalogs must be read without error and hold the whole extension, else the comparison
# proves nothing.
catalogs() {
	q $old -f test/catalog.psql >"$work/catalog_old" && q $new -f test/catalog.psql >"$work/catalog_new" &&
		[ "$(grep -c '^member ' "$work/catalog_new")" -gt 100 ] && same "$work/catalog_old" "$work/catalog_new"
}
check "upgraded and fresh install have the same objects, definitions, privileges and comments" catalogs
echo "# $(grep -c '^member ' "$work/catalog_new") member objects, $(wc -l <"$work/catalog_new") lines compared"

rows_kept() {
	q $old -f test/fingerprint.psql >"$work/rows_after" && [ "$(wc -l <"$work/rows_after")" -gt 10 ] &&
		same "$work/rows_before" "$work/rows_after"
}
check "the upgrade keeps every stored row of every table pg_dump keeps" rows_kept
history_kept() {
	history $old >"$work/history_after" && [ "$(cut -d' ' -f1 "$work/history_before")" -gt 0 ] &&
		same "$work/history_before" "$work/history_after"
}
check "the scorecard history holds the same snapshots right after the upgrade ($(cut -d' ' -f1 "$work/history_before") rows)" history_kept

# Facts: the same later changes on both sides, then an incremental refresh (on the upgraded
# side it starts from facts and change logs the old version left), then a full one.
facts() {
	q "$1" -c "SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM kpi.turns t) || ' ' ||
		(SELECT md5(string_agg(a::text, '|' ORDER BY a::text)) FROM kpi.order_attribution a) || ' ' ||
		(SELECT md5(string_agg(f::text, '|' ORDER BY f::text)) FROM kpi.feedback_charges f) || ' ' ||
		(SELECT md5(string_agg(d::text, '|' ORDER BY d::text)) FROM kpi.agent_days d) || ' ' ||
		(SELECT md5(string_agg(d::text, '|' ORDER BY d::text)) FROM kpi.shop_days d) || ' ' ||
		(SELECT md5(string_agg(h::text, '|' ORDER BY h::text)) FROM kpi.scorecard_history h) || ' ' ||
		(SELECT count(*) FROM kpi.agent_days)"
}
later() {
	q "$1" >/dev/null <<'SQL'
UPDATE kpi.conversations SET agent_id = (SELECT min(agent_id) FROM kpi.agents)
 WHERE conversation_id % 7 = 0;
DELETE FROM kpi.ratings WHERE rating_id % 5 = 0;
UPDATE kpi.refunds SET disputed = NOT disputed WHERE refund_id % 3 = 0;
DELETE FROM kpi.messages WHERE message_id % 11 = 0;
DELETE FROM kpi.orders WHERE order_id % 13 = 0;
SQL
	q "$1" -c "SELECT count(*) FROM kpi.refresh()" >/dev/null
}
same_facts() {
	later $old && later $new && facts $old >"$work/facts_old" && facts $new >"$work/facts_new" &&
		[ "$(wc -w <"$work/facts_new")" -eq 7 ] && same "$work/facts_old" "$work/facts_new"
}
check "after the same changes, an incremental refresh gives the same facts and history" same_facts
echo "# facts: $(cat "$work/facts_new")"
full_agrees() {
	q $old -c "SELECT count(*) FROM kpi.refresh(full => true)" >/dev/null && facts $old >"$work/facts_full" &&
		same "$work/facts_full" "$work/facts_new"
}
check "and the upgraded side's full rebuild agrees" full_agrees
check "the reader still reads the upgraded reports" \
	q $old -c "SET ROLE $role; SELECT count(*) FROM kpi.agent_metrics(current_date - 28, current_date); SELECT count(*) FROM kpi.scorecard_history"
check "the writer still loads and refreshes" \
	q $old -c "SET ROLE $writer; DELETE FROM kpi.ratings WHERE rating_id % 4 = 1; SELECT count(*) FROM kpi.refresh(); SELECT kpi.refresh_scorecard_history()"
