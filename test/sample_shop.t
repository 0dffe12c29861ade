#!/usr/bin/env bash
# The sample-shop generator: the same seed gives the same rows, another seed other rows, and the
# data has every shape the metrics must cope with. Runs inside test/cluster.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
dbs=(kpi_gen_a kpi_gen_b kpi_gen_c)
trap 'for d in "${dbs[@]}"; do dropdb --if-exists -q $d; done' EXIT
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$@"; }
args=(-v shops=2 -v agents=10 -v days=4 -v per_day=12 -v last_day=2026-11-02)

n=0
check() {	# check DESCRIPTION SQL-returning-true
	n=$((n + 1))
	local got
	got=$(q kpi_gen_a -c "$2" 2>&1)
	if [ "$got" = "t" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# got: $got"; fi
}

echo "1..23"
for d in "${dbs[@]}"; do
	dropdb --if-exists -q $d; createdb $d && q $d -c "CREATE EXTENSION kpi" >/dev/null
done
q kpi_gen_a -v seed=11 "${args[@]}" -f test/sample_shop.psql >/dev/null
q kpi_gen_b -v seed=11 "${args[@]}" -f test/sample_shop.psql >/dev/null
q kpi_gen_c -v seed=12 "${args[@]}" -f test/sample_shop.psql >/dev/null
a=$(q kpi_gen_a -f test/fingerprint.psql)
b=$(q kpi_gen_b -f test/fingerprint.psql)
c=$(q kpi_gen_c -f test/fingerprint.psql)
n=$((n + 1))
if [ "$a" = "$b" ]; then echo "ok $n - the same seed gives the same md5 for every table"
else echo "not ok $n - the same seed gives the same md5 for every table"; diff <(echo "$a") <(echo "$b") | sed 's/^/# /'; fi
n=$((n + 1))
same=$(comm -12 <(echo "$a" | grep -v -e '^kpi.settings ' -e '^kpi.shops ' -e '^kpi.agents ' -e '^kpi.calendars ' \
	-e '^kpi.scorecards ' -e '^kpi.scorecard_items ' -e '^kpi.grade_bands ' -e '^kpi.benchmarks ') <(echo "$c"))
if [ -z "$same" ]; then echo "ok $n - another seed gives other events in every table"
else echo "not ok $n - another seed gives other events in every table"; echo "# same: $same"; fi

check 'two shops in their own time zones' \
	"SELECT array_agg(timezone ORDER BY shop_id) = '{Asia/Shanghai,America/Los_Angeles}' FROM kpi.shops"
check 'presale, aftersale and general agents' "SELECT count(DISTINCT role) = 3 FROM kpi.agents"
check 'one inactive agent' "SELECT count(*) = 1 FROM kpi.agents WHERE NOT active"
check 'about ten messages per conversation' \
	"SELECT (SELECT count(*) FROM kpi.messages)::float / (SELECT count(*) FROM kpi.conversations) BETWEEN 8 AND 12"
check 'every sender occurs' "SELECT count(DISTINCT sender) = 4 FROM kpi.messages"
check 'auto-replies at the very instant of a customer message' \
	"SELECT count(*) > 0 FROM kpi.messages m JOIN kpi.messages n USING (conversation_id, sent_at)
	  WHERE m.sender = 'customer' AND n.sender = 'auto'"
check 'message ids against time order' \
	"SELECT count(*) > 0 FROM kpi.messages m JOIN kpi.messages n USING (conversation_id)
	  WHERE m.sent_at < n.sent_at AND m.message_id > n.message_id"
check 'agent-initiated conversations' \
	"SELECT count(*) > 0 FROM (SELECT DISTINCT ON (conversation_id) sender FROM kpi.messages
	  ORDER BY conversation_id, sent_at, message_id) f WHERE sender = 'agent'"
check 'transfers: two agents answer in one conversation' \
	"SELECT count(*) > 0 FROM (SELECT conversation_id FROM kpi.messages WHERE sender = 'agent'
	  GROUP BY 1 HAVING count(DISTINCT agent_id) > 1) t"
check 'conversations ending on an unanswered customer message' \
	"SELECT count(*) > 0 FROM (SELECT DISTINCT ON (conversation_id) sender FROM kpi.messages
	  ORDER BY conversation_id, sent_at DESC, message_id DESC) l WHERE sender = 'customer'"
check 'unassigned conversations' "SELECT count(*) > 0 FROM kpi.conversations WHERE agent_id IS NULL"
check 'returning customers' \
	"SELECT count(*) > 0 FROM (SELECT customer_id FROM kpi.conversations GROUP BY 1 HAVING count(*) > 1) r"
check 'orders inside and outside 24 h of a conversation' \
	"SELECT count(*) FILTER (WHERE x) > 0 AND count(*) FILTER (WHERE NOT x) > 0
	   FROM (SELECT o.placed_at - c.opened_at <= interval '24 hours' AS x
			   FROM kpi.orders o JOIN kpi.conversations c ON c.conversation_id = o.order_id) s"
check 'silent orders with no conversation at all' \
	"SELECT count(*) > 0 FROM kpi.orders o WHERE NOT EXISTS (SELECT FROM kpi.conversations c
	  WHERE c.shop_id = o.shop_id AND c.customer_id = o.customer_id)"
check 'unpaid orders' "SELECT count(*) > 0 FROM kpi.orders WHERE paid_at IS NULL"
check 'refunds completed more than a week later, pending ones, disputes, platform completions' \
	"SELECT count(*) FILTER (WHERE completed_at > requested_at + interval '7 days') > 0
		AND count(*) FILTER (WHERE completed_at IS NULL) > 0 AND count(*) FILTER (WHERE disputed) > 0
		AND count(*) FILTER (WHERE completed_by = 'platform') > 0
		AND count(*) FILTER (WHERE agent_id IS NULL) > 0 FROM kpi.refunds"
check 'complaints charged directly, through the conversation and through the order' \
	"SELECT count(*) FILTER (WHERE agent_id IS NOT NULL) > 0
		AND count(*) FILTER (WHERE agent_id IS NULL AND conversation_id IS NOT NULL) > 0
		AND count(*) FILTER (WHERE agent_id IS NULL AND conversation_id IS NULL AND order_id IS NOT NULL) > 0
	   FROM kpi.complaints"
check 'ratings of every kind and score' \
	"SELECT count(DISTINCT kind) = 3 AND count(DISTINCT score) = 5 FROM kpi.ratings"
check 'overlapping online sessions' \
	"SELECT count(*) > 0 FROM kpi.agent_sessions s JOIN kpi.agent_sessions t
	  ON s.agent_id = t.agent_id AND s.online && t.online AND s.online < t.online"
check 'sessions across midnight in the shop''s time zone' \
	"SELECT count(*) > 0 FROM kpi.agent_sessions a JOIN kpi.shops s USING (shop_id)
	  WHERE (lower(a.online) AT TIME ZONE s.timezone)::date <> (upper(a.online) AT TIME ZONE s.timezone)::date"
check 'the last day is the one asked for' \
	"SELECT max((c.opened_at AT TIME ZONE s.timezone)::date) = '2026-11-02' FROM kpi.conversations c JOIN kpi.shops s USING (shop_id)"
