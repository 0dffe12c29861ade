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

\echo 'Per agent, last 28 days (raw counts from the tables)'
SELECT a.agent_id, a.login, a.display_name, a.team, a.role,
	   count(DISTINCT c.conversation_id) AS conversations,
	   (SELECT count(*) FROM kpi.messages m WHERE m.agent_id = a.agent_id) AS replies_sent,
	   (SELECT count(*) FROM kpi.refunds r WHERE r.agent_id = a.agent_id) AS refunds_handled,
	   (SELECT count(*) FROM kpi.complaints k WHERE k.agent_id = a.agent_id) AS complaints_naming,
	   (SELECT round(sum(extract(epoch FROM upper(x) - lower(x))) / 3600, 1)
		  FROM unnest((SELECT range_agg(online) FROM kpi.agent_sessions s WHERE s.agent_id = a.agent_id)) x)
		   AS online_hours
  FROM kpi.agents a
  LEFT JOIN kpi.conversations c ON c.agent_id = a.agent_id
 GROUP BY a.agent_id ORDER BY a.agent_id;
SQL
