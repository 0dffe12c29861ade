#!/usr/bin/env bash
# Scorecards outside one transaction: a pg_dump -> pg_restore round trip keeps the company's
# edits of the shipped scorecards (changed, added and deleted items, grade bands), its own
# scorecards and benchmarks, without duplicates; and the history refreshes while a reader holds
# it open. Runs inside test/cluster.sh (PGHOST etc. are set).
set -uo pipefail
cd "$(dirname "$0")/.."
src=kpi_sc_src
dst=kpi_sc_dst
dump=$(mktemp)
err=$(mktemp)
trap 'rm -f "$dump" "$err"; dropdb --if-exists $src 2>/dev/null; dropdb --if-exists $dst 2>/dev/null' EXIT
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$@"; }
n=0
ok() {	# ok DESCRIPTION CONDITION-STATUS [DIAGNOSTIC]
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; [ -n "${3:-}" ] && echo "$3" | sed 's/^/# /'; fi
}
config() {	# every row of the scorecard configuration, in a fixed order
	q "$1" -c "SELECT 'scorecards', s::text FROM kpi.scorecards s UNION ALL
		SELECT 'items', i::text FROM kpi.scorecard_items i UNION ALL
		SELECT 'grades', g::text FROM kpi.grade_bands g UNION ALL
		SELECT 'benchmarks', b::text FROM kpi.benchmarks b ORDER BY 1, 2"
}

echo "1..9"
dropdb --if-exists $src 2>/dev/null; dropdb --if-exists $dst 2>/dev/null
createdb $src && createdb $dst
q $src -c "CREATE EXTENSION kpi" >/dev/null
q $src -v seed=3 -v shops=1 -v agents=6 -v days=40 -v per_day=5 -f test/sample_shop.psql >/dev/null
q $src >/dev/null <<'SQL'
-- presale: a weight changed, an item deleted, an item added
UPDATE kpi.scorecard_items SET weight = 35 WHERE scorecard = 'presale' AND metric = 'inquiry_conversion_rate';
DELETE FROM kpi.scorecard_items WHERE scorecard = 'presale' AND metric = 'refund_rate';
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, bands)
VALUES ('presale', 'first_response_sla_rate', 5, '[[0.95, 100], [0.90, 60]]');
-- aftersale: grades renamed and one removed; Wilson scoring
UPDATE kpi.grade_bands SET grade = CASE grade WHEN 'A' THEN '金牌' WHEN 'B' THEN '银牌' WHEN 'C' THEN '铜牌' ELSE grade END
 WHERE scorecard = 'aftersale';
DELETE FROM kpi.grade_bands WHERE scorecard = 'aftersale' AND grade = '铜牌';
UPDATE kpi.scorecards SET score_on = 'wilson' WHERE scorecard = 'aftersale';
-- general stays as shipped; a scorecard and a benchmark of the company's own
INSERT INTO kpi.scorecards (scorecard, description, benchmark_scope) VALUES ('vip', 'VIP desk', 'ours');
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, floor, target) VALUES
	('vip', 'csat_rate', 2, 0.9, 1.0), ('vip', 'avg_first_response_s', 1, 30, 5);
INSERT INTO kpi.grade_bands VALUES ('vip', 0, 'ok'), ('vip', 95, 'star');
INSERT INTO kpi.benchmarks (metric, scope, value, source) VALUES ('csat_rate', 'ours', 0.93, 'our 2026 average');
SELECT kpi.refresh();
SQL
before=$(config $src)

pg_dump -Fc -f "$dump" $src 2>"$err"
ok "pg_dump succeeds" $? "$(cat "$err")"
pg_restore -d $dst --exit-on-error "$dump" 2>"$err"
ok "pg_restore into a fresh database succeeds (no duplicate of a shipped row)" $? "$(cat "$err")"
after=$(config $dst)
[ "$before" = "$after" ]
ok "every scorecard, item, grade band and benchmark is restored as it was" $? "$(diff <(echo "$before") <(echo "$after"))"
s=$(q $dst -c "SELECT string_agg(scorecard || ':' || shipped, ',' ORDER BY scorecard) FROM kpi.scorecards")
[ "$s" = "aftersale:false,general:true,presale:false,vip:false" ]
ok "the untouched shipped scorecard is still the shipped one, the edited ones are the company's ($s)" $? "got $s"
s=$(q $dst -c "SELECT count(*) FROM kpi.scorecard_items WHERE scorecard = 'presale' AND metric = 'refund_rate'")
[ "$s" = "0" ]
ok "an item deleted from a shipped scorecard stays deleted" $? "got $s"

# The same reports on both sides once the facts are rebuilt.
report() {
	q "$1" -c "SELECT kpi.refresh()" >/dev/null
	q "$1" -c "SELECT md5(string_agg(s::text, '|' ORDER BY s::text)) FROM (
		SELECT * FROM kpi.scorecard(current_date - 28, current_date - 1, 'presale')
		UNION ALL SELECT * FROM kpi.scorecard(current_date - 28, current_date - 1, 'aftersale')
		UNION ALL SELECT * FROM kpi.scorecard(current_date - 28, current_date - 1, 'vip')) s"
}
a=$(report $src)
b=$(report $dst)
[ -n "$a" ] && [ "$a" = "$b" ]
ok "after a refresh both sides give the same scorecards" $? "'$a' vs '$b'"

# The history refreshes concurrently: a reader holding it open does not block the refresh
# (a plain REFRESH would wait for the reader's lock and hit the lock timeout).
q $src -c "SELECT kpi.refresh_scorecard_history()" >/dev/null
q $src -c "BEGIN; SELECT count(*) FROM kpi.scorecard_history; SELECT pg_sleep(6); COMMIT;" >/dev/null 2>&1 &
reader=$!
sleep 1
rows=$(PGOPTIONS="-c lock_timeout=3s" q $src -c "SELECT kpi.refresh_scorecard_history()" 2>"$err")
ok "refresh_scorecard_history runs while a reader holds the history open" $? "$(cat "$err")"
expected=$(q $src -c "SELECT count(*) FROM kpi.scorecard_history")
[ -n "$rows" ] && [ "$rows" = "$expected" ]
ok "and returns the rows of the history ($rows)" $? "got '$rows', the view has '$expected'"
wait $reader
s=$(q $src -c "SELECT count(*) = count(DISTINCT (day, agent_id)) AND min(day) = (SELECT min(day) FROM kpi.agent_days)
	AND max(day) = current_date - 1 FROM kpi.scorecard_history")
[ "$s" = "t" ]
ok "one snapshot per day and agent, from the first day of facts to yesterday" $? "got $s"
