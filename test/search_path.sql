-- A hostile search_path cannot hijack kpi (the CVE-2018-1058 class): with a schema of trap
-- operators placed ahead of pg_catalog, refresh, reports and views give the same results as
-- with a clean search_path, and no trap fires.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(13);

\set QUIET on
\i test/sample_shop.psql
\set QUIET off

-- Operators that raise, for the types kpi compares most.
CREATE SCHEMA trap;
DO $$
DECLARE
	t text;
	op text;
BEGIN
	FOREACH t IN ARRAY ARRAY['integer', 'bigint', 'text', 'date', 'timestamptz', 'interval', 'double precision'] LOOP
		EXECUTE format('CREATE FUNCTION trap.fire(%s, %s) RETURNS boolean LANGUAGE plpgsql '
					   'AS $f$BEGIN RAISE EXCEPTION ''trap operator fired''; END$f$', t, t);
		FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>', '>='] LOOP
			EXECUTE format('CREATE OPERATOR trap.%s (leftarg = %s, rightarg = %s, function = trap.fire)',
						   op, t, t);
		END LOOP;
	END LOOP;
END
$$;

-- The reference: a clean search_path.
SELECT kpi.refresh();
CREATE TEMP TABLE clean_metrics AS SELECT * FROM kpi.agent_metrics(current_date - 28, current_date - 1);
CREATE TEMP TABLE clean_rolling AS SELECT * FROM kpi.agent_rolling;
CREATE TEMP TABLE clean_shop AS SELECT * FROM kpi.shop_rolling;
CREATE TEMP TABLE clean_days AS SELECT * FROM kpi.agent_days;
CREATE TEMP TABLE trap_days (LIKE kpi.agent_days);
UPDATE kpi.scorecards SET score_on = 'wilson' WHERE scorecard = 'aftersale';	-- the Wilson path too
CREATE TEMP TABLE clean_scorecard AS
	SELECT c.card, s.* FROM unnest(ARRAY['presale', 'aftersale', 'general']) c(card),
		   kpi.scorecard(current_date - 14, current_date - 1, c.card) s;
CREATE TEMP TABLE clean_detail AS
	SELECT c.card, s.* FROM unnest(ARRAY['presale', 'aftersale', 'general']) c(card),
		   kpi.scorecard_detail(current_date - 14, current_date - 1, c.card) s;
CREATE TEMP TABLE clean_agent_scorecard AS SELECT * FROM kpi.agent_scorecard;
SELECT kpi.refresh_scorecard_history();
CREATE TEMP TABLE clean_history AS SELECT * FROM kpi.scorecard_history;

-- The trap is armed: it fires for an unqualified comparison in this session.
SET search_path = trap, pg_catalog, public;
CREATE TEMP TABLE armed (fired boolean);
DO $$
BEGIN
	PERFORM 1 = 1;
	INSERT INTO armed VALUES (false);
EXCEPTION WHEN raise_exception THEN
	INSERT INTO armed VALUES (true);
END
$$;

-- Everything kpi does, under the trap.
SELECT kpi.refresh();
CREATE TEMP TABLE trap_metrics AS SELECT * FROM kpi.agent_metrics(current_date - 28, current_date - 1);
CREATE TEMP TABLE trap_rolling AS SELECT * FROM kpi.agent_rolling;
CREATE TEMP TABLE trap_shop AS SELECT * FROM kpi.shop_rolling;
INSERT INTO trap_days SELECT * FROM kpi.agent_days;
INSERT INTO kpi.settings (timezone) VALUES ('UTC');
UPDATE kpi.settings SET response_sla = '20 s';
CREATE TEMP TABLE trap_scorecard AS
	SELECT c.card, s.* FROM unnest(ARRAY['presale', 'aftersale', 'general']) c(card),
		   kpi.scorecard(current_date - 14, current_date - 1, c.card) s;
CREATE TEMP TABLE trap_detail AS
	SELECT c.card, s.* FROM unnest(ARRAY['presale', 'aftersale', 'general']) c(card),
		   kpi.scorecard_detail(current_date - 14, current_date - 1, c.card) s;
CREATE TEMP TABLE trap_agent_scorecard AS SELECT * FROM kpi.agent_scorecard;
SELECT kpi.refresh_scorecard_history();
CREATE TEMP TABLE trap_history AS SELECT * FROM kpi.scorecard_history;
-- The scorecard triggers: validation, ownership and the replacement of a shipped scorecard.
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, bands) VALUES ('general', 'p90_response_s', 5, '[[60, 100], [120, 50]]');
INSERT INTO kpi.scorecards (scorecard) VALUES ('presale');
CREATE TEMP TABLE trap_items AS SELECT scorecard, count(*) AS n FROM kpi.scorecard_items GROUP BY 1;
RESET search_path;

SELECT ok((SELECT count(*) FROM pg_operator WHERE oprnamespace = 'trap'::regnamespace) = 42,
	'42 trap operators are in place ahead of pg_catalog');
SELECT ok((SELECT bool_and(fired) FROM armed), 'an unqualified comparison in the session fires the trap');
SELECT ok((SELECT count(*) FROM clean_days) > 100, 'the clean refresh produced facts');
SELECT set_eq('SELECT d::text FROM trap_days d', 'SELECT d::text FROM clean_days d',
	'refresh under the trap gives the same daily facts, sketches included');
SELECT set_eq('SELECT * FROM trap_metrics', 'SELECT * FROM clean_metrics',
	'agent_metrics under the trap equals the clean result');
SELECT set_eq('SELECT * FROM trap_rolling', 'SELECT * FROM clean_rolling',
	'agent_rolling under the trap equals the clean result');
SELECT set_eq('SELECT * FROM trap_shop', 'SELECT * FROM clean_shop',
	'shop_rolling under the trap equals the clean result');
SELECT set_eq('SELECT * FROM trap_scorecard', 'SELECT * FROM clean_scorecard',
	'kpi.scorecard under the trap equals the clean result');
SELECT set_eq('SELECT * FROM trap_detail', 'SELECT * FROM clean_detail',
	'kpi.scorecard_detail under the trap equals the clean result (Wilson bounds included)');
SELECT set_eq('SELECT * FROM trap_agent_scorecard', 'SELECT * FROM clean_agent_scorecard',
	'kpi.agent_scorecard under the trap equals the clean result');
SELECT set_eq('SELECT * FROM trap_history', 'SELECT * FROM clean_history',
	'the history refreshed under the trap equals the clean one');
SELECT results_eq('SELECT scorecard, n::int FROM trap_items ORDER BY 1',
	$$VALUES ('aftersale', 6), ('general', 8)$$,
	'the scorecard triggers ran under the trap: an item added, a shipped scorecard replaced');
SELECT results_eq('SELECT count(*)::int, min(response_sla) FROM kpi.settings',
	$$VALUES (1, interval '20 seconds')$$, 'the settings triggers ran under the trap too');

SELECT * FROM finish();
ROLLBACK;
