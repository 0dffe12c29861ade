#!/usr/bin/env bash
# `make demo`, run inside test/cluster.sh: load the sample shop into a fresh database and print
# what kpi makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
createdb kpi_demo
export PGDATABASE=kpi_demo
psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION kpi"
echo "Loading the sample shop (2 shops, 12 agents, 28 days, ending yesterday)..."
psql -qX -v ON_ERROR_STOP=1 -v days=28 -f test/sample_shop.psql
psql -X -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
SELECT s.shop_id, s.name, s.platform, coalesce(s.timezone, st.timezone) AS timezone,
	   (SELECT count(*) FROM kpi.conversations c WHERE c.shop_id = s.shop_id) AS conversations,
	   (SELECT count(*) FROM kpi.messages m WHERE m.shop_id = s.shop_id) AS messages,
	   (SELECT count(*) FROM kpi.orders o WHERE o.shop_id = s.shop_id) AS orders
  FROM kpi.shops s, kpi.settings st ORDER BY 1;

\echo 'Refreshing the daily facts...'
SELECT step, rows, round(seconds::numeric, 2) AS seconds FROM kpi.refresh();

\echo 'Per agent, the last 28 days (kpi.agent_metrics)'
SELECT agent_id, login, display_name, role, turns,
	   round(reply_rate::numeric, 3) AS reply_rate,
	   round(avg_response_s::numeric, 1) AS avg_resp_s,
	   round(p90_response_s::numeric, 1) AS p90_resp_s,
	   round(response_sla_rate::numeric, 3) AS sla_rate,
	   conversations, round(fcr_rate::numeric, 3) AS fcr,
	   round(inquiry_conversion_rate::numeric, 3) AS conversion,
	   inquiry_aov,
	   round(refund_rate::numeric, 3) AS refund_rate,
	   round(complaint_rate::numeric, 4) AS complaint_rate,
	   round(csat_rate::numeric, 3) AS csat,
	   round(online_hours::numeric, 1) AS online_h
  FROM kpi.agent_metrics(current_date - 28, current_date - 1)
  JOIN kpi.agents USING (agent_id, login, team, role);

\echo 'Per shop, the 28 days ending yesterday (kpi.shop_rolling)'
SELECT shop_id, day, orders_paid_28d, round(refund_rate_28d::numeric, 4) AS refund_rate,
	   round(dispute_rate_28d::numeric, 4) AS dispute_rate,
	   round(complaint_rate_28d::numeric, 4) AS complaint_rate,
	   round(self_completion_rate_28d::numeric, 3) AS self_completion,
	   round(avg_refund_completion_s_28d::numeric / 3600, 1) AS completion_h,
	   round(dsr_service_180d::numeric, 2) AS dsr
  FROM kpi.shop_rolling WHERE day = current_date - 1 ORDER BY shop_id;
SQL
