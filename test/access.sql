-- Access: nothing for PUBLIC, readers read reports but not raw events, writers load and refresh.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(14);

\set QUIET on
\i test/sample_shop.psql
\set QUIET off
SELECT kpi.refresh();

CREATE ROLE kpi_test_nobody;
CREATE ROLE kpi_test_reader;
CREATE ROLE kpi_test_writer;
SELECT lives_ok($$SELECT kpi.grant_reader('kpi_test_reader')$$, 'grant_reader runs');
SELECT lives_ok($$SELECT kpi.grant_writer('kpi_test_writer')$$, 'grant_writer runs');
SELECT throws_ok($$SELECT kpi.grant_reader('no_such_role')$$, '42704', NULL, 'an unknown role is an error');
-- pgTAP's own functions live in public; let the test roles reach them.
GRANT USAGE ON SCHEMA public TO kpi_test_nobody, kpi_test_reader, kpi_test_writer;

SET ROLE kpi_test_nobody;
SELECT throws_ok($$SELECT count(*) FROM kpi.agent_metrics(current_date - 28, current_date)$$, '42501', NULL,
	'a role without a grant cannot use the reports');
SELECT throws_ok('SELECT count(*) FROM kpi.agent_days', '42501', NULL, 'nor read the facts');
RESET ROLE;

SET ROLE kpi_test_reader;
SELECT cmp_ok((SELECT count(*)::int FROM kpi.agent_metrics(current_date - 28, current_date)), '>', 0,
	'a reader runs agent_metrics');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.agent_rolling), '>', 0, 'a reader reads agent_rolling');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.shop_rolling), '>', 0, 'and shop_rolling');
SELECT throws_ok('SELECT count(*) FROM kpi.messages', '42501', NULL, 'a reader does not read raw messages');
SELECT throws_ok($$UPDATE kpi.settings SET response_sla = '1 s'$$, '42501', NULL, 'nor change settings');
SELECT throws_ok('SELECT kpi.refresh()', '42501', NULL, 'nor refresh');
RESET ROLE;

SET ROLE kpi_test_writer;
SELECT lives_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at)
	VALUES (-1, 1, 1, now() - interval '1 day')$$, 'a writer loads conversations');
SELECT lives_ok($$UPDATE kpi.settings SET response_sla = '20 s'$$, 'and changes settings');
SELECT results_eq($$SELECT step FROM kpi.refresh()$$,
	$$VALUES ('changes'), ('turns'), ('order_attribution'), ('feedback_charges'), ('agent_days'), ('shop_days'), ('scorecard_history')$$,
	'and runs the refresh, without owning the tables');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
