-- kpi: customer-service KPIs inside PostgreSQL.
--
-- This install script is assembled by the Makefile from the ordered files in sql/parts/:
-- 10 shared types and helpers, 1x the C building blocks, 20 the canonical tables, 30 and later
-- the derived facts, refresh, reports and scorecards.

\echo Use "CREATE EXTENSION kpi" to load this file. \quit

CREATE SCHEMA kpi;
COMMENT ON SCHEMA kpi IS 'kpi: customer-service agent KPIs, daily facts and scorecards';
