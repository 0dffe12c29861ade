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

\echo 'Scorecards: each agent on its role''s scorecard over the 28 days ending yesterday (kpi.agent_scorecard)'
SELECT scorecard, rank, team_rank, agent_id, login, team, round(composite, 1) AS composite,
	   round(coverage * 100) AS "coverage %", grade, percentile,
	   CASE WHEN top30 THEN 'yes' ELSE '' END AS top30, round(composite_change, 1) AS change
  FROM kpi.agent_scorecard
 ORDER BY scorecard, rank NULLS LAST, agent_id;

\echo 'The presale scorecard of the best pre-sale agent, item by item (kpi.scorecard_detail, labels from kpi.metrics)'
SELECT m.label_zh AS "指标", m.label_en AS metric,
	   CASE m.unit WHEN 'rate' THEN round(d.value::numeric * 100, 1) || ' %'
				   WHEN 's' THEN round(d.value::numeric, 1) || ' s'
				   ELSE round(d.value::numeric, 2)::text END AS value,
	   d.weight,
	   coalesce(d.floor || ' -> ' || d.target, d.bands::text) AS rule,
	   round(d.score, 1) AS score,
	   CASE m.unit WHEN 'rate' THEN round(d.benchmark * 100, 1) || ' %' WHEN 's' THEN d.benchmark || ' s'
				   ELSE d.benchmark::text END AS benchmark,
	   CASE m.unit WHEN 'rate' THEN round(d.change::numeric * 100, 1) || ' pt'
				   ELSE round(d.change::numeric, 1)::text END AS change
  FROM kpi.scorecard_detail(current_date - 28, current_date - 1, 'presale') d
  JOIN kpi.metrics m ON m.name = d.metric
 WHERE d.agent_id = (SELECT agent_id FROM kpi.agent_scorecard WHERE scorecard = 'presale' AND rank = 1 ORDER BY agent_id LIMIT 1)
 ORDER BY d.weight DESC, d.metric;

\echo 'Daily snapshots (kpi.scorecard_history, refreshed by kpi.refresh())'
SELECT day, scorecard, count(composite) AS scored, round(avg(composite), 1) AS avg_composite,
	   round(max(composite), 1) AS best, string_agg(grade, '' ORDER BY grade) AS grades
  FROM kpi.scorecard_history
 WHERE day IN (current_date - 22, current_date - 15, current_date - 8, current_date - 1)
 GROUP BY 1, 2 ORDER BY 2, 1;
SQL
