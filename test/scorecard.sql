-- Scorecards (SPEC 6): scoring rules, composites, ranks, the Wilson option, the shipped Taobao-style
-- presale scorecard on an example worked out by hand, the role view, the history, every
-- validation error, the ownership of shipped rows, and the values against kpi.agent_metrics.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(91);

-- The scoring rule alone ---------------------------------------------------------------------------

SELECT results_eq($$
	SELECT kpi.item_score(v, 0.5, 1.0, NULL, 'higher') FROM unnest(ARRAY[0.25, 0.5, 0.6, 0.75, 1.0, 1.2]::float8[]) v$$,
	$$VALUES (0::numeric), (0), (20), (50), (100), (100)$$,
	'linear, higher is better: 0 at floor, 100 at target, linear between, clamped both sides');
SELECT results_eq($$
	SELECT kpi.item_score(v, 600, 300, NULL, 'lower') FROM unnest(ARRAY[900, 600, 540, 450, 300, 200]::float8[]) v$$,
	$$VALUES (0::numeric), (0), (20), (50), (100), (100)$$,
	'linear, lower is better (floor > target): clamped both sides');
SELECT is(kpi.item_score(450, 600, 300, NULL, 'higher'), 50::numeric,
	'the linear direction follows floor and target, not the metric');
SELECT results_eq($$
	SELECT kpi.item_score(v, NULL, NULL, '[[0.45, 100], [0.40, 80], [0.35, 60]]', 'higher')
	  FROM unnest(ARRAY[0.5, 0.45, 0.44999, 0.40, 0.35, 0.34999, 0]::float8[]) v$$,
	$$VALUES (100::numeric), (100), (80), (80), (60), (0), (0)$$,
	'bands, higher is better: a value exactly on a threshold reaches it; below the last band scores 0');
SELECT results_eq($$
	SELECT kpi.item_score(v, NULL, NULL, '[[35, 100], [45, 80], [60, 60]]', 'lower')
	  FROM unnest(ARRAY[10, 35, 35.001, 45, 60, 60.001]::float8[]) v$$,
	$$VALUES (100::numeric), (100), (80), (80), (60), (0)$$,
	'bands, lower is better: <= each threshold, exactly on it included');
SELECT is(kpi.item_score(NULL, 0, 1, NULL, 'higher'), NULL::numeric, 'no value, no score');

-- Hand-made data -------------------------------------------------------------------------------------
-- Period P = 2025-03-08 .. 2025-03-14 (7 days), far from today so the current-window views do
-- not see it; the previous period is 2025-03-01 .. 2025-03-07. Shop 1, UTC.
-- Every conversation of an agent on a day has the same handling time, so the mean is that time.
INSERT INTO kpi.agents (agent_id, login, team, role, active) VALUES
	(1, 'a1', 'A', 'presale', true), (2, 'a2', 'A', 'presale', true), (3, 'a3', 'A', 'aftersale', true),
	(4, 'a4', 'A', 'presale', true), (5, 'b5', 'B', 'general', true), (6, 'b6', 'B', 'general', true),
	(7, 'b7', 'B', 'general', false);

CREATE TEMP TABLE spec (agent_id int, day date, conversations int, resolved int, handle_s int,
						complaints int, csat_pos int, csat_neg int);
INSERT INTO spec VALUES
	(1, '2025-03-10', 4, 4,  300, 0, 9, 1),
	(2, '2025-03-10', 4, 3,  450, 1, 4, 1),
	(3, '2025-03-10', 4, 2, 1000, 0, 1, 1),
	(4, '2025-03-10', 4, 3,  540, 1, 4, 1),
	(5, '2025-03-10', 4, 4,  200, 0, 0, 0),
	(1, '2025-03-03', 4, 2,  300, 0, 9, 1);	-- agent 1's previous period
INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at, closed_at, resolved_at)
SELECT s.agent_id * 10000 + extract(day FROM s.day)::int * 100 + i, s.agent_id * 10000 + extract(day FROM s.day)::int * 100 + i,
	   s.agent_id, s.day + time '10:00' + i * interval '1 minute',
	   s.day + time '10:00' + i * interval '1 minute' + s.handle_s * interval '1 second',
	   CASE WHEN i <= s.resolved THEN s.day + time '10:00' + i * interval '1 minute' + interval '1 minute' END
  FROM spec s, generate_series(1, s.conversations) i;
INSERT INTO kpi.complaints (complaint_id, agent_id, filed_at)
SELECT s.agent_id * 10000 + extract(day FROM s.day)::int * 100 + i, s.agent_id, s.day + time '12:00'
  FROM spec s, generate_series(1, s.complaints) i;
INSERT INTO kpi.ratings (rating_id, agent_id, rated_at, kind, score)
SELECT s.agent_id * 10000 + extract(day FROM s.day)::int * 100 + i, s.agent_id, s.day + time '13:00', 'csat',
	   CASE WHEN i <= s.csat_pos THEN 5 ELSE 2 END
  FROM spec s, generate_series(1, s.csat_pos + s.csat_neg) i;
-- Agent 3 handles two refunds on silent orders, one disputed: dispute_share 1/2.
INSERT INTO kpi.orders (order_id, customer_id, placed_at, paid_at, amount) VALUES
	(1, 99001, '2025-03-09 09:00+00', '2025-03-09 09:05+00', 10), (2, 99002, '2025-03-09 09:00+00', '2025-03-09 09:05+00', 10);
INSERT INTO kpi.refunds (refund_id, order_id, agent_id, requested_at, disputed) VALUES
	(1, 1, 3, '2025-03-11 09:00+00', true), (2, 2, 3, '2025-03-11 09:00+00', false);

-- A test scorecard: linear both ways, banded both ways; weights 1, 1, 2, 1 (sum 5).
INSERT INTO kpi.scorecards (scorecard, description) VALUES ('test', 'hand-made');
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, floor, target, bands) VALUES
	('test', 'resolution_rate', 1, 0.5, 1.0, NULL),
	('test', 'avg_handle_s', 1, 600, 300, NULL),
	('test', 'csat_rate', 2, NULL, NULL, '[[0.9, 100], [0.8, 80], [0.6, 50]]'),
	('test', 'complaint_rate', 1, NULL, NULL, '[[0, 100], [0.1, 60]]');
INSERT INTO kpi.grade_bands VALUES ('test', 90, '金牌'), ('test', 50, '银牌'), ('test', 0, '铜牌');
-- One metric alone, where agents 2 and 4 tie.
INSERT INTO kpi.scorecards (scorecard) VALUES ('res');
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, floor, target) VALUES ('res', 'resolution_rate', 1, 0.5, 1.0);

SELECT lives_ok('SELECT kpi.refresh()', 'refresh of the hand-made data');

-- Agent 1: resolution 4/4 = 1 -> 100; handling 300 s = target -> 100; csat 9/10 = 0.9, exactly
--   the first band -> 100; complaints 0/4 = 0, exactly the first (<=) band -> 100. Composite 100.
-- Agent 2: 3/4 = 0.75 -> 50; 450 s -> (600 - 450) / 300 = 50; csat 4/5 = 0.8, exactly on the
--   second band -> 80; complaints 1/4 = 0.25 > 0.1 -> 0. (50 + 50 + 2 x 80 + 0) / 5 = 52.
-- Agent 3: 2/4 = 0.5 = floor -> 0; 1000 s, beyond the floor -> 0 (clamped); csat 1/2 below the
--   last band -> 0; no complaint -> 100. 100 / 5 = 20.
-- Agent 4: as agent 2 but 540 s -> 20: (50 + 20 + 160 + 0) / 5 = 46.
-- Agent 5: 4/4 -> 100; 200 s, better than target -> 100 (clamped); no csat rating: no value, no
--   score; no complaint -> 100. Composite 300 / 3 = 100 over weight 3 of 5: coverage 0.6.
-- Agent 6: active, no data at all: composite NULL, coverage 0. Agent 7: retired, no data: absent.
SELECT results_eq($$
	SELECT agent_id, metric, value, score FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'test')
	 WHERE agent_id IN (2, 3, 5) ORDER BY agent_id, metric$$,
	$$VALUES (2, 'avg_handle_s', 450::float8, 50::numeric), (2, 'complaint_rate', 0.25, 0),
			 (2, 'csat_rate', 0.8, 80), (2, 'resolution_rate', 0.75, 50),
			 (3, 'avg_handle_s', 1000, 0), (3, 'complaint_rate', 0, 100),
			 (3, 'csat_rate', 0.5, 0), (3, 'resolution_rate', 0.5, 0),
			 (5, 'avg_handle_s', 200, 100), (5, 'complaint_rate', 0, 100),
			 (5, 'csat_rate', NULL, NULL), (5, 'resolution_rate', 1, 100)$$,
	'detail: linear and banded scores, on and beyond the bounds, and a missing metric');
SELECT results_eq($$
	SELECT agent_id, weight, floor, target, bands FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'test')
	 WHERE agent_id = 1 ORDER BY metric$$,
	$$VALUES (1, 1::numeric, 600::numeric, 300::numeric, NULL::jsonb), (1, 1, NULL, NULL, '[[0, 100], [0.1, 60]]'),
			 (1, 2, NULL, NULL, '[[0.9, 100], [0.8, 80], [0.6, 50]]'), (1, 1, 0.5, 1.0, NULL)$$,
	'detail carries each item''s rule');
SELECT is((SELECT count(*)::int FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'test')), 24,
	'one detail row per agent of agent_metrics (6: the retired one without data is not) and item (4)');

SELECT results_eq($$
	SELECT agent_id, login, team, composite, coverage, grade, rank, team_rank, percentile, top30
	  FROM kpi.scorecard('2025-03-08', '2025-03-14', 'test')$$,
	$$VALUES (1, 'a1', 'A', 100::numeric, 1::numeric, '金牌', 1::bigint, 1::bigint, 100::numeric, true),
			 (5, 'b5', 'B', 100, 0.6, '金牌', 1, 1, 100, true),
			 (2, 'a2', 'A', 52, 1, '银牌', 3, 2, 60, true),
			 (4, 'a4', 'A', 46, 1, '铜牌', 4, 3, 40, false),
			 (3, 'a3', 'A', 20, 1, '铜牌', 5, 4, 20, false),
			 (6, 'b6', 'B', NULL, 0, NULL, NULL, NULL, NULL, false)$$,
	'composite, coverage, the scorecard''s own grades, rank (tied 1, 1, then 3), team ranks, percentile, '
	'top 30 % of each team (team A of 4: 2; team B of 1 ranked: 1); no data sorts last, unranked');

-- Previous period: agent 1 had 2/4 resolved -> 0, 300 s -> 100, csat 0.9 -> 100 (x 2), no
-- complaint -> 100: (0 + 100 + 200 + 100) / 5 = 80; change +20. Nobody else had data then.
SELECT results_eq($$
	SELECT agent_id, prev_composite, composite_change FROM kpi.scorecard('2025-03-08', '2025-03-14', 'test')
	 WHERE agent_id IN (1, 2) ORDER BY agent_id$$,
	$$VALUES (1, 80::numeric, 20::numeric), (2, NULL, NULL)$$,
	'the previous equal period''s composite and the change');
SELECT results_eq($$
	SELECT metric, value, prev_value, change FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'test')
	 WHERE agent_id = 1 ORDER BY metric$$,
	$$VALUES ('avg_handle_s', 300::float8, 300::float8, 0::float8), ('complaint_rate', 0, 0, 0),
			 ('csat_rate', 0.9, 0.9, 0), ('resolution_rate', 1, 0.5, 0.5)$$,
	'detail: the value over the previous period and the change');
SELECT results_eq($$
	SELECT agent_id, prev_composite FROM kpi.scorecard('2025-03-11', '2025-03-14', 'test') WHERE agent_id = 1$$,
	$$VALUES (1, 100::numeric)$$,
	'a 4-day period is compared with the 4 days before it (03-07 .. 03-10)');

-- Ties at the top-30 % cut: on resolution alone team A scores 100, 50, 50, 0. 30 % of 4 is 1.2:
-- agent 1 is in; agents 2 and 4 have one agent above them (25 % < 30 %), so both are in.
SELECT results_eq($$
	SELECT agent_id, composite, rank, team_rank, top30 FROM kpi.scorecard('2025-03-08', '2025-03-14', 'res')
	 WHERE team = 'A' ORDER BY agent_id$$,
	$$VALUES (1, 100::numeric, 1::bigint, 1::bigint, true), (2, 50, 3, 2, true), (3, 0, 5, 4, false), (4, 50, 3, 2, true)$$,
	'ties at the top-30 % cut are all in; tied agents share rank and team rank');

-- The Wilson option ---------------------------------------------------------------------------------
-- Agent 8 has a single csat rating, a 5: rate 1/1. Agent 1 has 9/10.
INSERT INTO kpi.agents (agent_id, login, team, role) VALUES (8, 'c8', 'C', 'general');
INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at) VALUES (800, 800, 8, '2025-03-10 10:00+00');
INSERT INTO kpi.ratings (rating_id, agent_id, rated_at, kind, score) VALUES (800, 8, '2025-03-10 13:00+00', 'csat', 5);
INSERT INTO kpi.scorecards (scorecard, score_on) VALUES ('val', 'value'), ('wil', 'wilson');
INSERT INTO kpi.scorecard_items (scorecard, metric, weight, floor, target)
SELECT c, m, 1, f, t
  FROM (VALUES ('val'), ('wil')) s(c),
	   (VALUES ('csat_rate', 0.5, 1.0), ('complaint_rate', 0.5, 0.0), ('dispute_share', 1.0, 0.0)) i(m, f, t);
SELECT lives_ok('SELECT kpi.refresh()', 'refresh with agent 8');
-- On the rate agent 8 (csat 1 -> 100, complaints 0/1 -> 100) beats agent 1 (0.9 -> 80, 0 -> 100).
-- On the Wilson lower bound 1/1 is only 0.2065 (below the floor: 0) and 9/10 is 0.5958 (19.17).
SELECT results_eq($$SELECT agent_id, composite FROM kpi.scorecard('2025-03-08', '2025-03-14', 'val') WHERE agent_id IN (1, 8)$$,
	$$VALUES (8, 100::numeric), (1, 90::numeric)$$, 'scored on the rate, the single 5-star rating wins');
SELECT results_eq($$SELECT agent_id FROM kpi.scorecard('2025-03-08', '2025-03-14', 'wil') WHERE agent_id IN (1, 8)$$,
	$$VALUES (1), (8)$$, 'scored on the Wilson lower bound, 9 of 10 ranks above 1 of 1');
SELECT results_eq($$
	SELECT agent_id, value, round(scored_value::numeric, 4), round(score, 2)
	  FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'wil') WHERE metric = 'csat_rate' AND agent_id IN (1, 8)$$,
	$$VALUES (1, 0.9::float8, 0.5958::numeric, 19.17::numeric), (8, 1, 0.2065, 0)$$,
	'csat is scored on its Wilson lower bound; value stays the rate');
SELECT is((SELECT scored_value FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'wil') WHERE metric = 'csat_rate' AND agent_id = 1),
	kpi.wilson_lower(kpi.proportion(9, 10)), 'the bound is kpi.wilson_lower of hits/trials');
SELECT results_eq($$
	SELECT value, scored_value FROM kpi.scorecard_detail('2025-03-08', '2025-03-14', 'wil')
	 WHERE agent_id = 3 AND metric IN ('dispute_share', 'complaint_rate') ORDER BY metric$$,
	$$SELECT 0::float8, 0::float8 UNION ALL SELECT 0.5, kpi.wilson_upper(kpi.proportion(1, 2))$$,
	'lower is better: the upper bound (dispute_share 1/2); complaint_rate is not a proportion and stays its value');

-- A Taobao-style pre-sale example on the shipped presale scorecard -----------------------------------
-- Agent 10, last week: 50 customers ask (询单人数 50), one conversation each; 48 get an answer
-- after 38 s, 2 none. 25 of them order an hour later, 21 pay; one paid order is refunded; 18 of
-- 20 csat ratings are 4 or 5.
--   询单转化率 21/50 = 0.42: band >= 0.40                        ->  80 x 40
--   平均响应时间 38 s: band <= 45 s                                 ->  80 x 20
--   回复率 48/50 = 0.96: (0.96 - 0.90) / (1.00 - 0.90) = 0.6      ->  60 x 10
--   支付率 21/25 = 0.84: (0.84 - 0.60) / (0.90 - 0.60) = 0.8      ->  80 x 10
--   满意度 18/20 = 0.90: (0.90 - 0.80) / (0.95 - 0.80) = 2/3      ->  66.67 x 10
--   退款率 1/21 = 0.048, better than the 0.05 target              -> 100 x 10
--   composite = (3200 + 1600 + 600 + 800 + 666.67 + 1000) / 100 = 78.67: grade B (>= 75)
INSERT INTO kpi.agents (agent_id, login, team, role) VALUES (10, 't10', 'T', 'presale');
INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at)
SELECT 1000 + i, 1000 + i, 10, current_date - 3 + time '09:00' + i * interval '5 minutes' FROM generate_series(1, 50) i;
INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
SELECT 20000 + 2 * i, 1000 + i, current_date - 3 + time '09:00' + i * interval '5 minutes', 'customer'::kpi.sender, NULL
  FROM generate_series(1, 50) i
UNION ALL
SELECT 20001 + 2 * i, 1000 + i, current_date - 3 + time '09:00' + i * interval '5 minutes' + interval '38 seconds', 'agent', 10
  FROM generate_series(1, 48) i;
INSERT INTO kpi.orders (order_id, customer_id, placed_at, paid_at, amount)
SELECT 1000 + i, 1000 + i, current_date - 3 + time '10:00' + i * interval '5 minutes',
	   CASE WHEN i <= 21 THEN current_date - 3 + time '10:30' + i * interval '5 minutes' END, 100
  FROM generate_series(1, 25) i;
INSERT INTO kpi.refunds (refund_id, order_id, requested_at) VALUES (1001, 1001, current_date - 2 + time '09:00');
INSERT INTO kpi.ratings (rating_id, agent_id, rated_at, kind, score)
SELECT 1000 + i, 10, current_date - 2 + time '12:00', 'csat', CASE WHEN i <= 18 THEN 4 ELSE 3 END FROM generate_series(1, 20) i;
SELECT lives_ok('SELECT kpi.refresh()', 'refresh with the pre-sale example');

SELECT results_eq($$
	SELECT metric, round(value::numeric, 4), round(score, 2), benchmark
	  FROM kpi.scorecard_detail(current_date - 28, current_date - 1, 'presale') WHERE agent_id = 10$$,
	$$VALUES ('inquiry_conversion_rate', 0.42, 80.00, 0.40), ('avg_response_s', 38, 80.00, 20),
			 ('csat_rate', 0.9, 66.67, NULL), ('payment_rate', 0.84, 80.00, NULL),
			 ('refund_rate', 0.0476, 100.00, NULL), ('reply_rate', 0.96, 60.00, 1.00)$$,
	'the Taobao-style example: each item''s score and the taobao benchmark');
SELECT results_eq($$
	SELECT round(composite, 2), coverage, grade, rank FROM kpi.scorecard(current_date - 28, current_date - 1, 'presale')
	 WHERE agent_id = 10$$,
	$$VALUES (78.67::numeric, 1::numeric, 'B', 1::bigint)$$, 'its composite 78.67, grade B');

-- The role view ---------------------------------------------------------------------------------
SELECT set_eq('SELECT agent_id, scorecard FROM kpi.agent_scorecard',
	'SELECT agent_id, role FROM kpi.agents WHERE active', 'agent_scorecard: each active agent with its role''s scorecard');
SELECT results_eq($$
	SELECT agent_id, period_start, period_end, round(composite, 2), grade, rank, top30 FROM kpi.agent_scorecard
	 WHERE scorecard = 'presale' ORDER BY rank NULLS LAST, agent_id$$,
	$$VALUES (10, current_date - 28, current_date - 1, 78.67::numeric, 'B', 1::bigint, true),
			 (1, current_date - 28, current_date - 1, NULL, NULL, NULL, false),
			 (2, current_date - 28, current_date - 1, NULL, NULL, NULL, false),
			 (4, current_date - 28, current_date - 1, NULL, NULL, NULL, false)$$,
	'over the 28 days ending yesterday, ranked among the agents of the role');
SELECT is_empty($$
	SELECT v.agent_id FROM kpi.agent_scorecard v
	  JOIN kpi.agents a USING (agent_id)
	 CROSS JOIN LATERAL kpi.scorecard(current_date - 28, current_date - 1, a.role) s
	 WHERE s.agent_id = v.agent_id
	   AND (s.composite, s.coverage, s.grade, s.prev_composite) IS DISTINCT FROM (v.composite, v.coverage, v.grade, v.prev_composite)$$,
	'each agent''s figures equal kpi.scorecard with its role''s scorecard');
SELECT ok((SELECT reloptions @> ARRAY['security_invoker=true'] FROM pg_class WHERE oid = 'kpi.agent_scorecard'::regclass),
	'agent_scorecard is a security_invoker view');

-- History ---------------------------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM kpi.scorecard_history), 8 * (current_date - '2025-03-03')::int,
	'kpi.refresh() refreshed the history');
SELECT is(kpi.refresh_scorecard_history(), 8 * (current_date - '2025-03-03'::date)::bigint,
	'refresh_scorecard_history returns its rows: the 8 active agents for every day from the first fact (03-03) to yesterday');
SELECT ok((SELECT indisunique FROM pg_index WHERE indexrelid = 'kpi.scorecard_history_day_agent'::regclass),
	'one snapshot per day and agent: a unique index on (day, agent_id)');
SELECT is_empty($$
	SELECT h.agent_id FROM kpi.scorecard_history h
	  JOIN kpi.agents a USING (agent_id)
	 CROSS JOIN LATERAL kpi.scorecard('2025-02-15', '2025-03-14', a.role) s
	 WHERE h.day = '2025-03-14' AND s.agent_id = h.agent_id
	   AND (h.scorecard, h.composite, h.coverage, h.grade, h.prev_composite)
		   IS DISTINCT FROM (a.role, s.composite, s.coverage, s.grade, s.prev_composite)$$,
	'the snapshot of 2025-03-14 equals kpi.scorecard over its 28 days with each agent''s role scorecard');
SELECT results_eq($$SELECT agent_id, rank FROM kpi.scorecard_history WHERE day = '2025-03-14' AND scorecard = 'presale' ORDER BY agent_id$$,
	$$SELECT s.agent_id, CASE WHEN s.composite IS NOT NULL THEN rank() OVER (PARTITION BY s.composite IS NULL ORDER BY s.composite DESC) END
		FROM kpi.scorecard('2025-02-15', '2025-03-14', 'presale') s JOIN kpi.agents a USING (agent_id)
	   WHERE a.role = 'presale' ORDER BY 1$$,
	'and its presale ranks are among the presale agents only');
SELECT set_eq('SELECT agent_id, scorecard, composite, coverage, grade, rank, team_rank, percentile, top30, prev_composite FROM kpi.scorecard_history WHERE day = current_date - 1',
	'SELECT agent_id, scorecard, composite, coverage, grade, rank, team_rank, percentile, top30, prev_composite FROM kpi.agent_scorecard',
	'yesterday''s snapshot is kpi.agent_scorecard');
INSERT INTO kpi.ratings (rating_id, agent_id, rated_at, kind, score) VALUES (1100, 10, current_date - 2 + time '12:00', 'csat', 5);
SELECT lives_ok('SELECT kpi.refresh()', 'refresh with one more rating');
SELECT lives_ok('SELECT kpi.refresh_scorecard_history()', 'a second refresh (over existing rows)');
SELECT is((SELECT round(composite, 2) FROM kpi.scorecard_history WHERE day = current_date - 1 AND agent_id = 10),
	(SELECT round(composite, 2) FROM kpi.agent_scorecard WHERE agent_id = 10), 'and it follows the new facts');
SELECT cmp_ok((SELECT composite FROM kpi.agent_scorecard WHERE agent_id = 10), '>', 78.67, 'which did change');

-- Validation errors ---------------------------------------------------------------------------------
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'speed', 1, 0, 1, NULL)$$,
	'23503', 'metric "speed" is not in kpi.metrics', 'unknown metric');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('nope', 'reply_rate', 1, 0, 1, NULL)$$,
	'23503', 'scorecard "nope" does not exist', 'unknown scorecard');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'dispute_rate', 1, 0.1, 0, NULL)$$,
	'23514', 'metric "dispute_rate" is reported per shop, not per agent', 'a shop-level metric');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 0, 0, 1, NULL)$$,
	'23514', 'weight of metric "reply_rate" in scorecard "test" must be positive', 'weight 0');
SELECT throws_ok($$UPDATE kpi.scorecard_items SET weight = -1 WHERE scorecard = 'test' AND metric = 'csat_rate'$$,
	'23514', 'weight of metric "csat_rate" in scorecard "test" must be positive', 'a negative weight, by UPDATE');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, NULL)$$,
	'23514', 'metric "reply_rate" in scorecard "test" needs floor and target, or bands', 'neither floor/target nor bands');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, 0.8, NULL, NULL)$$,
	'23514', 'metric "reply_rate" in scorecard "test" needs both floor and target', 'a floor without target');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, 0.8, 1, '[[1, 100]]')$$,
	'23514', 'metric "reply_rate" in scorecard "test" has both floor/target and bands', 'both floor/target and bands');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, 0.9, 0.9, NULL)$$,
	'23514', 'floor and target of metric "reply_rate" in scorecard "test" must differ', 'floor = target');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[]')$$,
	'23514', 'bands of metric "reply_rate" in scorecard "test" must be a non-empty array of [threshold, score] pairs', 'empty bands');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '{"0.9": 100}')$$,
	'23514', 'bands of metric "reply_rate" in scorecard "test" must be a non-empty array of [threshold, score] pairs', 'bands not an array');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[[0.9, 100], [0.8]]')$$,
	'23514', 'bands of metric "reply_rate" in scorecard "test" must be a non-empty array of [threshold, score] pairs', 'a band that is not a pair');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[["0.9", 100]]')$$,
	'23514', 'bands of metric "reply_rate" in scorecard "test" must be a non-empty array of [threshold, score] pairs', 'a threshold that is not a number');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[[0.8, 80], [0.9, 100]]')$$,
	'23514', 'bands of metric "reply_rate" in scorecard "test" must list the best threshold first', 'higher is better: thresholds must fall');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'avg_response_s', 1, NULL, NULL, '[[45, 80], [35, 100]]')$$,
	'23514', 'bands of metric "avg_response_s" in scorecard "test" must list the best threshold first', 'lower is better: thresholds must rise');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'avg_response_s', 1, NULL, NULL, '[[35, 100], [35, 80]]')$$,
	'23514', 'bands of metric "avg_response_s" in scorecard "test" must list the best threshold first', 'equal thresholds');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[[0.9, 120]]')$$,
	'23514', 'band scores of metric "reply_rate" in scorecard "test" must be between 0 and 100', 'a score above 100');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[[0.9, 100], [0.8, -5]]')$$,
	'23514', 'band scores of metric "reply_rate" in scorecard "test" must be between 0 and 100', 'a negative score');
SELECT throws_ok($$INSERT INTO kpi.scorecard_items VALUES ('test', 'reply_rate', 1, NULL, NULL, '[[0.9, 80], [0.8, 100]]')$$,
	'23514', 'bands of metric "reply_rate" in scorecard "test" must not score a worse threshold higher', 'scores rising down the list');
SELECT throws_ok($$INSERT INTO kpi.scorecards (scorecard, score_on) VALUES ('x', 'median')$$,
	'23514', NULL, 'score_on is value or wilson');
SELECT throws_ok($$INSERT INTO kpi.grade_bands VALUES ('test', 101, 'S')$$, '23514', NULL, 'a grade band above 100');
SELECT throws_ok($$DELETE FROM kpi.scorecards WHERE scorecard = 'presale'$$,
	'23001', 'scorecard "presale" cannot be deleted', 'a role''s scorecard cannot be deleted');
SELECT throws_ok($$UPDATE kpi.scorecards SET scorecard = 'sales' WHERE scorecard = 'general'$$,
	'23001', 'scorecard "general" cannot be renamed', 'nor renamed');
SET client_min_messages = warning;	-- not the notices of the cascade
SELECT throws_ok('TRUNCATE kpi.scorecards CASCADE', '23001', 'kpi.scorecards cannot be truncated', 'nor truncated');
RESET client_min_messages;
SELECT throws_ok($$UPDATE kpi.benchmarks SET value = 30 WHERE metric = 'avg_response_s' AND scope = 'taobao'$$,
	'23001', 'the shipped benchmark of avg_response_s for scope taobao is read-only', 'shipped benchmarks are read-only');
SELECT throws_ok($$SELECT * FROM kpi.scorecard('2025-03-08', '2025-03-14', 'nope')$$,
	'42704', 'scorecard "nope" does not exist', 'kpi.scorecard: unknown scorecard');
SELECT throws_ok($$SELECT * FROM kpi.scorecard_detail('2025-03-14', '2025-03-08', 'test')$$,
	'22023', 'period from 2025-03-14 to 2025-03-08 is empty', 'kpi.scorecard_detail: from after to');
SELECT is((SELECT count(*)::int FROM kpi.scorecard(NULL, '2025-03-14', 'test')), 0, 'NULL arguments give no rows (STRICT)');

-- The catalog ----------------------------------------------------------------------------------------
SELECT set_eq($$SELECT name FROM kpi.metrics WHERE level = 'agent'$$,
	$$SELECT a.name FROM pg_proc p, unnest(p.proargnames, p.proargmodes::text[]) a(name, mode)
	   WHERE p.oid = 'kpi.agent_metrics(date, date, int)'::regprocedure AND a.mode = 't'
		 AND a.name NOT IN ('agent_id', 'login', 'team', 'role')$$,
	'the agent-level catalog names exactly the metric columns of kpi.agent_metrics');
SELECT is_empty($$SELECT name FROM kpi.metrics WHERE label_zh = '' OR label_en = '' OR definition = ''$$,
	'every metric has both labels and a definition');

-- Values against kpi.agent_metrics, on a generated shop ------------------------------------------------
DELETE FROM kpi.agent_sessions; DELETE FROM kpi.ratings; DELETE FROM kpi.complaints; DELETE FROM kpi.refunds;
DELETE FROM kpi.orders; DELETE FROM kpi.messages; DELETE FROM kpi.conversations; DELETE FROM kpi.agents;
\set QUIET on
\i test/sample_shop.psql
SELECT lives_ok('SELECT kpi.refresh()', 'refresh of the generated shop');
SELECT is_empty($$
	SELECT d.agent_id, d.metric
	  FROM (VALUES ('presale'), ('aftersale'), ('general')) c(card)
	 CROSS JOIN LATERAL kpi.scorecard_detail(current_date - 14, current_date - 1, c.card) d
	  JOIN kpi.agent_metrics(current_date - 14, current_date - 1) m USING (agent_id)
	 WHERE d.value IS DISTINCT FROM CASE d.metric
			WHEN 'inquiry_conversion_rate' THEN m.inquiry_conversion_rate WHEN 'avg_response_s' THEN m.avg_response_s
			WHEN 'reply_rate' THEN m.reply_rate WHEN 'payment_rate' THEN m.payment_rate
			WHEN 'csat_rate' THEN m.csat_rate WHEN 'refund_rate' THEN m.refund_rate
			WHEN 'dispute_share' THEN m.dispute_share WHEN 'self_completion_rate' THEN m.self_completion_rate
			WHEN 'avg_refund_completion_s' THEN m.avg_refund_completion_s WHEN 'complaint_rate' THEN m.complaint_rate
			WHEN 'resolution_rate' THEN m.resolution_rate WHEN 'fcr_rate' THEN m.fcr_rate
			WHEN 'good_review_rate' THEN m.good_review_rate END
		OR d.prev_value IS DISTINCT FROM (SELECT (to_jsonb(p) ->> d.metric)::float8
											FROM kpi.agent_metrics(current_date - 28, current_date - 15) p
										   WHERE p.agent_id = d.agent_id)$$,
	'every value of the shipped scorecards is agent_metrics'' figure, bit for bit, and prev_value the previous period''s');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.scorecard_detail(current_date - 14, current_date - 1, 'aftersale') WHERE value IS NOT NULL), '>', 20,
	'and those values are not all NULL');
SELECT is_empty($$
	SELECT p.agent_id, p.metric
	  FROM (VALUES (current_date - 14, current_date - 1), (current_date - 3, current_date - 3), (current_date - 60, current_date)) w(f, t)
	 CROSS JOIN LATERAL kpi.agent_proportions(w.f, w.t) p
	  JOIN kpi.agent_metrics(w.f, w.t) m USING (agent_id)
	 WHERE p.rate IS DISTINCT FROM (to_jsonb(m) ->> p.metric)::float8$$,
	'hits / trials of kpi.agent_proportions equal agent_metrics'' rate for every proportion metric, agent and window');
SELECT set_eq('SELECT DISTINCT metric FROM kpi.agent_proportions(current_date - 14, current_date - 1)',
	'SELECT name FROM kpi.metrics WHERE proportion', 'agent_proportions covers exactly the catalog''s proportion metrics');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.agent_proportions(current_date - 14, current_date - 1) WHERE trials > 0 AND hits > 0 AND hits < trials),
	'>', 50, 'with real counts');

-- Ownership of the shipped rows (what pg_dump keeps) ---------------------------------------------------
SELECT results_eq('SELECT scorecard, shipped FROM kpi.scorecards WHERE scorecard IN (''presale'', ''aftersale'', ''general'', ''test'') ORDER BY 1',
	$$VALUES ('aftersale', true), ('general', true), ('presale', true), ('test', false)$$,
	'shipped scorecards are marked shipped, the company''s are not');
UPDATE kpi.scorecard_items SET weight = 30 WHERE scorecard = 'presale' AND metric = 'inquiry_conversion_rate';
DELETE FROM kpi.grade_bands WHERE scorecard = 'aftersale' AND grade = 'C';
SELECT results_eq('SELECT scorecard, shipped FROM kpi.scorecards WHERE scorecard IN (''presale'', ''aftersale'', ''general'') ORDER BY 1',
	$$VALUES ('aftersale', false), ('general', true), ('presale', false)$$,
	'editing an item or a grade band makes the scorecard the company''s');
INSERT INTO kpi.scorecards (scorecard, description, shipped) VALUES ('general', 'ours', true);
SELECT results_eq($$SELECT description, shipped, (SELECT count(*)::int FROM kpi.scorecard_items WHERE scorecard = 'general'),
		(SELECT count(*)::int FROM kpi.grade_bands WHERE scorecard = 'general') FROM kpi.scorecards WHERE scorecard = 'general'$$,
	$$VALUES ('ours', false, 0, 0)$$,
	'inserting a still-shipped scorecard replaces it whole (as a restore does); shipped cannot be set');
SELECT throws_ok($$INSERT INTO kpi.scorecards (scorecard) VALUES ('presale')$$, '23505', NULL,
	'a scorecard the company owns is not replaced: a duplicate is an error');
INSERT INTO kpi.benchmarks (metric, scope, value, source, shipped) VALUES ('avg_response_s', 'ours', 25, 'our target', true);
SELECT is((SELECT shipped FROM kpi.benchmarks WHERE scope = 'ours'), false, 'a benchmark the company adds is its own');
SELECT results_eq($$
	SELECT c::regclass::text, e.extcondition[array_position(e.extconfig, c)] COLLATE "default"
	  FROM pg_extension e, unnest(e.extconfig) c
	 WHERE e.extname = 'kpi' AND c::regclass::text IN ('kpi.scorecards', 'kpi.scorecard_items', 'kpi.grade_bands', 'kpi.benchmarks')
	 ORDER BY 1$$,
	$$VALUES ('kpi.benchmarks', 'WHERE NOT shipped'),
			 ('kpi.grade_bands', 'WHERE scorecard IN (SELECT s.scorecard FROM kpi.scorecards s WHERE NOT s.shipped)'),
			 ('kpi.scorecard_items', 'WHERE scorecard IN (SELECT s.scorecard FROM kpi.scorecards s WHERE NOT s.shipped)'),
			 ('kpi.scorecards', 'WHERE NOT shipped')$$,
	'pg_dump keeps the company''s scorecards whole and its own benchmarks');


-- Access -------------------------------------------------------------------------------------------
CREATE ROLE kpi_sc_nobody;
CREATE ROLE kpi_sc_reader;
CREATE ROLE kpi_sc_writer;
SELECT kpi.grant_reader('kpi_sc_reader');
SELECT kpi.grant_writer('kpi_sc_writer');
GRANT USAGE ON SCHEMA public TO kpi_sc_nobody, kpi_sc_reader, kpi_sc_writer;
SET ROLE kpi_sc_nobody;
SELECT throws_ok('SELECT count(*) FROM kpi.agent_scorecard', '42501', NULL, 'without a grant no scorecards');
RESET ROLE;
SET ROLE kpi_sc_reader;
SELECT cmp_ok((SELECT count(*)::int FROM kpi.agent_scorecard WHERE composite IS NOT NULL), '>', 0,
	'a reader reads agent_scorecard');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.scorecard(current_date - 28, current_date - 1, 'aftersale') s
				JOIN kpi.scorecard_history h ON h.day = current_date - 1 AND h.agent_id = s.agent_id), '>', 0,
	'and runs kpi.scorecard and reads the history');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.scorecard_detail(current_date - 28, current_date - 1, 'presale') d
				JOIN kpi.metrics m ON m.name = d.metric), '>', 0, 'and the detail with the catalog''s labels');
SELECT throws_ok($$UPDATE kpi.scorecard_items SET weight = 1$$, '42501', NULL, 'but does not edit scorecards');
SELECT throws_ok('SELECT kpi.refresh_scorecard_history()', '42501', NULL, 'nor refresh the history');
RESET ROLE;
SET ROLE kpi_sc_writer;
SELECT lives_ok($$UPDATE kpi.scorecard_items SET weight = 25 WHERE scorecard = 'aftersale' AND metric = 'csat_rate'$$,
	'a writer edits scorecards');
SELECT lives_ok($$INSERT INTO kpi.benchmarks (metric, scope, value, source) VALUES ('csat_rate', 'w', 0.9, 'w')$$,
	'and benchmarks');
SELECT cmp_ok(kpi.refresh_scorecard_history(), '>', 0::bigint,
	'and refreshes the history, which only its owner could do by hand');
RESET ROLE;


-- Row-level security (the README's recipe, reduced): an agent sees only its own scorecard row,
-- ranked among what it may see.
UPDATE kpi.agents SET login = 'kpi_sc_agent' WHERE agent_id = 1;
CREATE ROLE kpi_sc_agent IN ROLE kpi_sc_reader;
ALTER TABLE kpi.agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY sc_self ON kpi.agents FOR SELECT USING (current_user <> 'kpi_sc_agent' OR login = current_user);
ALTER TABLE kpi.agent_days ENABLE ROW LEVEL SECURITY;
CREATE POLICY sc_self ON kpi.agent_days FOR SELECT USING (agent_id IN (SELECT a.agent_id FROM kpi.agents a));
SET ROLE kpi_sc_agent;
SELECT results_eq('SELECT agent_id, rank FROM kpi.agent_scorecard', 'VALUES (1, 1::bigint)',
	'under row-level security an agent sees only its own row of agent_scorecard, ranked among what it sees');
SELECT results_eq($$SELECT agent_id FROM kpi.scorecard_detail(current_date - 28, current_date - 1, 'presale') GROUP BY 1$$,
	'VALUES (1)', 'and of scorecard_detail');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
