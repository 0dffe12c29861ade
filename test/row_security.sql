-- The row-level-security recipe of the README, as a test: an agent's login sees only its own
-- rows of the reports, a team lead sees the team, the shop manager everything, and a writer's
-- refresh still works under the policies.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(15);

\set QUIET on
\i test/sample_shop.psql
\set QUIET off
SELECT kpi.refresh();
CREATE TEMP TABLE all_days AS SELECT * FROM kpi.agent_days;
CREATE TEMP TABLE all_metrics AS SELECT * FROM kpi.agent_metrics(current_date - 60, current_date);
GRANT SELECT ON all_metrics TO PUBLIC;
CREATE TEMP TABLE all_history AS SELECT * FROM kpi.scorecard_history;
GRANT SELECT ON all_history TO PUBLIC;

-- Roles: agents log in with their kpi.agents.login; a team lead; a manager; the loader.
CREATE ROLE kpi_rls_agents NOLOGIN;
CREATE ROLE "shop1:cs0001" LOGIN IN ROLE kpi_rls_agents;
CREATE ROLE "shop2:cs0002" LOGIN IN ROLE kpi_rls_agents;
CREATE ROLE kpi_rls_lead LOGIN;
CREATE ROLE kpi_rls_manager LOGIN;
CREATE ROLE kpi_rls_loader LOGIN;
SELECT kpi.grant_reader('kpi_rls_agents');
SELECT kpi.grant_reader('kpi_rls_lead');
SELECT kpi.grant_reader('kpi_rls_manager');
SELECT kpi.grant_writer('kpi_rls_loader');
GRANT USAGE ON SCHEMA public TO kpi_rls_agents, kpi_rls_lead, kpi_rls_manager, kpi_rls_loader;

-- The recipe.
CREATE TABLE public.kpi_team_leads (role_name name, team text);
GRANT SELECT ON public.kpi_team_leads TO PUBLIC;
INSERT INTO public.kpi_team_leads VALUES ('kpi_rls_lead', 'shop1 presale 1');
ALTER TABLE kpi.agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_sees_self ON kpi.agents FOR SELECT USING (
	login = current_user
	OR team IN (SELECT team FROM public.kpi_team_leads WHERE role_name = current_user)
	OR pg_has_role('kpi_rls_manager', 'MEMBER'));
CREATE POLICY loader_all ON kpi.agents TO kpi_rls_loader USING (true) WITH CHECK (true);
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['agent_days', 'turns', 'scorecard_history'] LOOP
		EXECUTE format('ALTER TABLE kpi.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY visible_agents ON kpi.%I FOR SELECT '
					   'USING (agent_id IN (SELECT agent_id FROM kpi.agents))', t);
		EXECUTE format('CREATE POLICY loader_all ON kpi.%I TO kpi_rls_loader USING (true) WITH CHECK (true)', t);
	END LOOP;
END
$$;

SET ROLE "shop1:cs0001";
SELECT results_eq($$SELECT agent_id FROM kpi.agent_metrics(current_date - 60, current_date)$$,
	$$VALUES (1)$$, 'an agent sees only its own row of agent_metrics');
SELECT results_eq($$SELECT DISTINCT agent_id FROM kpi.agent_rolling$$, $$VALUES (1)$$,
	'and of agent_rolling (a security_invoker view does not bypass the policies)');
SELECT results_eq($$SELECT DISTINCT agent_id FROM kpi.turns WHERE agent_id IS NOT NULL$$, $$VALUES (1)$$,
	'and of the turns');
SELECT cmp_ok((SELECT turns FROM kpi.agent_metrics(current_date - 60, current_date)), '>', 0::bigint,
	'with its real figures');
SELECT set_eq($$SELECT h::text FROM kpi.scorecard_history h$$,
	$$SELECT h::text FROM all_history h WHERE h.agent_id = 1$$,
	'and only its own scorecard history, with the ranks among all agents of its role');
RESET ROLE;

SET ROLE "shop2:cs0002";
SELECT results_eq($$SELECT agent_id FROM kpi.agent_metrics(current_date - 60, current_date)$$,
	$$VALUES (2)$$, 'another agent sees only itself');
RESET ROLE;

SET ROLE kpi_rls_lead;
SELECT set_eq($$SELECT agent_id FROM kpi.agent_metrics(current_date - 60, current_date)$$,
	$$SELECT agent_id FROM kpi.agents WHERE team = 'shop1 presale 1'$$, 'a team lead sees the team');
SELECT set_eq($$SELECT DISTINCT agent_id FROM kpi.agent_rolling$$,
	$$SELECT agent_id FROM kpi.agents WHERE team = 'shop1 presale 1'$$, 'in the rolling view too');
RESET ROLE;

SET ROLE kpi_rls_manager;
SELECT set_eq($$SELECT agent_id, turns, reply_rate FROM kpi.agent_metrics(current_date - 60, current_date)$$,
	$$SELECT agent_id, turns, reply_rate FROM all_metrics$$, 'the manager sees every agent, with the same figures');
RESET ROLE;

SET ROLE kpi_rls_loader;
SELECT lives_ok('SELECT kpi.refresh()', 'the loader refreshes under the policies');
RESET ROLE;
SELECT set_eq('SELECT d::text FROM kpi.agent_days d', 'SELECT a::text FROM all_days a',
	'and its refresh wrote every agent''s facts, the same as before');
SET ROLE kpi_rls_loader;
SELECT lives_ok('SELECT kpi.refresh(full => true)', 'and rebuilds them');
RESET ROLE;
SELECT set_eq('SELECT h::text FROM kpi.scorecard_history h', 'SELECT h::text FROM all_history h',
	'with every agent''s scorecard history, the same as before');

SET ROLE "shop1:cs0001";
SELECT throws_ok('SELECT kpi.refresh()', '42501', NULL, 'an agent cannot refresh');
SELECT is((SELECT count(*)::int FROM kpi.shop_rolling) > 0, true,
	'shop-level figures stay visible to everyone with reader access');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
