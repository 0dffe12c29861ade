-- Access for the company's own roles. The extension creates no roles and grants nothing to
-- PUBLIC: without a grant a role cannot use schema kpi at all. Report functions run with the
-- caller's rights and views are security_invoker, so row-level security on the tables applies.

CREATE FUNCTION kpi.grant_reader(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('GRANT USAGE ON SCHEMA kpi TO %s', role);
	-- The reports, the derived facts they read and the configuration they name; not the raw
	-- events (messages, orders, ...), which a report reader does not need.
	EXECUTE format('GRANT SELECT ON kpi.settings, kpi.shops, kpi.calendars, kpi.agents, '
				   'kpi.turns, kpi.order_attribution, kpi.feedback_charges, kpi.agent_days, kpi.shop_days, '
				   'kpi.shop_zones, kpi.agent_rolling, kpi.shop_rolling TO %s', role);
	-- Scorecards: the catalog, the configuration and the scorecard views.
	EXECUTE format('GRANT SELECT ON kpi.metrics, kpi.scorecards, kpi.scorecard_items, kpi.grade_bands, '
				   'kpi.benchmarks, kpi.agent_scorecard, kpi.scorecard_history TO %s', role);
END
$$;
COMMENT ON FUNCTION kpi.grant_reader(regrole) IS
	'let a role read the reports: kpi.agent_metrics, the rolling views, the scorecards, the daily facts and the configuration';

CREATE FUNCTION kpi.grant_writer(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM kpi.grant_reader(role);
	-- Load and correct the canonical tables.
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON kpi.settings, kpi.shops, kpi.calendars, '
				   'kpi.agents, kpi.conversations, kpi.messages, kpi.orders, kpi.refunds, '
				   'kpi.complaints, kpi.ratings, kpi.agent_sessions TO %s', role);
	-- The triggers on those tables append to the change logs as the role that loads.
	EXECUTE format('GRANT SELECT, INSERT, DELETE ON kpi.changes_full, kpi.changes_messages, '
				   'kpi.changes_conversations, kpi.changes_orders, kpi.changes_refunds, '
				   'kpi.changes_complaints, kpi.changes_ratings, kpi.changes_agent_sessions, '
				   'kpi.changes_agents TO %s', role);
	EXECUTE format('GRANT USAGE ON SEQUENCE kpi.change_numbers TO %s', role);
	-- Run kpi.refresh(), which consumes the logs and rewrites the derived tables.
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON kpi.turns, kpi.order_attribution, '
				   'kpi.feedback_charges, kpi.agent_days, kpi.shop_days TO %s', role);
	-- Edit the scorecards and refresh their history (kpi.refresh() does).
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON kpi.scorecards, kpi.scorecard_items, '
				   'kpi.grade_bands, kpi.benchmarks TO %s', role);
	EXECUTE format('GRANT EXECUTE ON FUNCTION kpi.refresh_scorecard_history() TO %s', role);
END
$$;
COMMENT ON FUNCTION kpi.grant_writer(regrole) IS
	'let a role load the canonical tables, edit the scorecards and run kpi.refresh(), besides reading the reports';
