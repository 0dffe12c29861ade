-- Reply turns through kpi.refresh() into kpi.turns, kpi.agent_days and kpi.agent_metrics, on a
-- small shop whose every figure is worked out by hand in the comments.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(16);

UPDATE kpi.settings SET timezone = 'Asia/Shanghai';		-- shop 1 has no zone of its own
INSERT INTO kpi.shops VALUES (2, 'NY store', 'shopify', 'America/New_York');
INSERT INTO kpi.calendars VALUES (1, 'office', 'Mon-Fri 09:00-18:00; tz=Asia/Shanghai');
INSERT INTO kpi.agents (agent_id, login, role, calendar_id) VALUES
	(7, 'seven', 'presale', NULL), (8, 'eight', 'aftersale', 1), (9, 'nine', 'general', NULL);
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at) VALUES
	(1, 1, 101, 7, '2026-11-02 10:00:00+08'),
	(2, 1, 102, 7, '2026-11-02 23:50:00+08'),
	(3, 1, 103, NULL, '2026-11-02 12:00:00+08'),
	(4, 2, 104, 9, '2026-11-01 05:30:00+00'),
	(5, 1, 105, 7, '2026-11-04 09:00:00+08'),
	(6, 1, 106, 7, '2026-11-04 10:00:00+08');
-- Loaded in scrambled order on purpose.
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id) VALUES
	-- 5: the agent's message 50 at the very instant of the customer's 51 comes first (by id),
	--    so it is a follow-up; 52 answers after 5 s.
	(52, 1, 5, '2026-11-04 09:00:05+08', 'agent', 7),
	(51, 1, 5, '2026-11-04 09:00:00+08', 'customer', NULL),
	(50, 1, 5, '2026-11-04 09:00:00+08', 'agent', 7),
	-- 1: the worked example of the spec: 45 s first response, then an unanswered turn.
	(7, 1, 1, '2026-11-02 10:05:10+08', 'system', NULL),
	(1, 1, 1, '2026-11-02 10:00:00+08', 'customer', NULL),
	(4, 1, 1, '2026-11-02 10:00:45+08', 'agent', 7),
	(2, 1, 1, '2026-11-02 10:00:02+08', 'auto', NULL),
	(6, 1, 1, '2026-11-02 10:05:00+08', 'customer', NULL),
	(3, 1, 1, '2026-11-02 10:00:20+08', 'customer', NULL),
	(5, 1, 1, '2026-11-02 10:01:00+08', 'agent', 7),
	-- 2: 10 s by agent 7 before midnight; after midnight agent 8 takes over and answers in
	--    exactly 30 s (an SLA hit: <= 30 s), at 00:10 on a Tuesday: 0 business seconds.
	(11, 1, 2, '2026-11-02 23:50:00+08', 'customer', NULL),
	(12, 1, 2, '2026-11-02 23:50:10+08', 'agent', 7),
	(13, 1, 2, '2026-11-03 00:10:00+08', 'customer', NULL),
	(14, 1, 2, '2026-11-03 00:10:30+08', 'agent', 8),
	-- 3: unassigned; agent 8 answers in 60 s inside office hours; the last turn is charged to nobody.
	(21, 1, 3, '2026-11-02 12:00:00+08', 'customer', NULL),
	(22, 1, 3, '2026-11-02 12:01:00+08', 'agent', 8),
	(23, 1, 3, '2026-11-02 12:05:00+08', 'customer', NULL),
	-- 4: New York falls back at 02:00 EDT on 2026-11-01: 01:30 EDT to 01:40 EST is 70 minutes.
	(31, 2, 4, '2026-11-01 05:30:00+00', 'customer', NULL),
	(32, 2, 4, '2026-11-01 06:40:00+00', 'agent', 9),
	-- 6: only auto replies: no turn at all.
	(41, 1, 6, '2026-11-04 10:00:00+08', 'auto', NULL),
	(42, 1, 6, '2026-11-04 10:00:01+08', 'auto', NULL);

SELECT results_eq($$SELECT step, rows FROM kpi.refresh() WHERE step NOT IN ('changes', 'scorecard_history')$$,
	$$VALUES ('turns', 8::bigint), ('order_attribution', 0::bigint), ('feedback_charges', 0::bigint),
			 ('agent_days', 5::bigint), ('shop_days', 0::bigint)$$,
	'refresh reports 8 turns and 5 agent-days (and no orders)');

SELECT results_eq($$
	SELECT conversation_id, turn_no, agent_id, answered, is_first, response_s, business_response_s, day
	  FROM kpi.turns ORDER BY 1, 2$$,
	$$VALUES (1::bigint, 1, 7, true, true, 45::float8, 45::float8, '2026-11-02'::date),
			 (1, 2, 7, false, false, NULL, NULL, '2026-11-02'),
			 (2, 1, 7, true, true, 10, 10, '2026-11-02'),
			 (2, 2, 8, true, false, 30, 0, '2026-11-03'),
			 (3, 1, 8, true, true, 60, 60, '2026-11-02'),
			 (3, 2, NULL, false, false, NULL, NULL, '2026-11-02'),
			 (4, 1, 9, true, true, 4200, 4200, '2026-11-01'),
			 (5, 1, 7, true, true, 5, 5, '2026-11-04')$$,
	'every turn, its credited agent, response and business response, and its shop-local day');
SELECT results_eq($$SELECT opened_at, answered_at FROM kpi.turns WHERE conversation_id = 1 ORDER BY turn_no$$,
	$$VALUES ('2026-11-02 10:00:00+08'::timestamptz, '2026-11-02 10:00:45+08'::timestamptz),
			 ('2026-11-02 10:05:00+08', NULL)$$,
	'the worked example: a turn opens at the first unanswered customer message');
SELECT is((SELECT shop_id FROM kpi.turns WHERE conversation_id = 4), 2, 'turns carry their shop');

SELECT results_eq($$
	SELECT shop_id, agent_id, day, turns, answered_turns, response_sla_hits, response_us,
		   business_response_us, first_turns, first_answered, first_response_sla_hits, first_response_us
	  FROM kpi.agent_days ORDER BY 1, 2, 3$$,
	$$VALUES (1, 7, '2026-11-02'::date, 3::bigint, 2::bigint, 1::bigint, 55000000::bigint, 55000000::bigint, 2::bigint, 2::bigint, 1::bigint, 55000000::bigint),
			 (1, 7, '2026-11-04', 1, 1, 1, 5000000, 5000000, 1, 1, 1, 5000000),
			 (1, 8, '2026-11-02', 1, 1, 0, 60000000, 60000000, 1, 1, 0, 60000000),
			 (1, 8, '2026-11-03', 1, 1, 1, 30000000, 0, 0, 0, 0, 0),
			 (2, 9, '2026-11-01', 1, 1, 0, 4200000000, 4200000000, 1, 1, 0, 4200000000)$$,
	'daily facts per shop, agent and day');

SELECT results_eq($$
	SELECT agent_id, turns, answered_turns, unanswered_turns, reply_rate, avg_response_s,
		   avg_first_response_s, response_sla_rate, first_response_sla_rate, avg_business_response_s
	  FROM kpi.agent_metrics('2026-11-01', '2026-11-04')$$,
	$$VALUES (7, 4::bigint, 3::bigint, 1::bigint, 0.75::float8, 20::float8, 20::float8, 0.5::float8, 2/3::float8, 20::float8),
			 (8, 2, 2, 0, 1, 45, 60, 0.5, 0, 30),
			 (9, 1, 1, 0, 1, 4200, 4200, 0, 0, 4200)$$,
	'period metrics are sums over sums (7: 60 s over 3 answered of 4 turns; 8: first SLA 0 of 1)');
SELECT results_eq($$SELECT agent_id, login, role FROM kpi.agent_metrics('2026-11-01', '2026-11-04')$$,
	$$VALUES (7, 'seven'::text, 'presale'::text), (8, 'eight', 'aftersale'), (9, 'nine', 'general')$$,
	'agent_metrics names the agents');
SELECT results_eq($$
	SELECT agent_id, turns, reply_rate, avg_response_s, response_sla_rate
	  FROM kpi.agent_metrics('2026-11-01', '2026-11-04', shop_id => 2)$$,
	$$VALUES (7, 0::bigint, NULL::float8, NULL::float8, NULL::float8), (8, 0, NULL, NULL, NULL),
			 (9, 1, 1, 4200, 0)$$,
	'one shop: active agents without turns there get 0 turns and NULL rates, not 0');
SELECT results_eq($$
	SELECT agent_id, turns, avg_response_s FROM kpi.agent_metrics('2026-11-03', '2026-11-03')$$,
	$$VALUES (7, 0::bigint, NULL::float8), (8, 1, 30), (9, 0, NULL)$$,
	'a single day');
SELECT is((SELECT count(*)::int FROM kpi.agent_metrics('2026-11-05', '2026-11-01')), 3,
	'an empty period still lists the active agents');

-- An inactive agent without turns in the period is left out; with turns it stays.
UPDATE kpi.agents SET active = false WHERE agent_id IN (8, 9);
SELECT results_eq($$SELECT agent_id FROM kpi.agent_metrics('2026-11-02', '2026-11-02')$$,
	$$VALUES (7), (8)$$, 'inactive agents appear only where they have activity');
UPDATE kpi.agents SET active = true;

-- The SLA thresholds come from the settings.
UPDATE kpi.settings SET response_sla = '45 s', first_response_sla = '45 s';
SELECT * FROM kpi.refresh();
SELECT results_eq($$
	SELECT agent_id, response_sla_rate, first_response_sla_rate FROM kpi.agent_metrics('2026-11-01', '2026-11-04')$$,
	$$VALUES (7, 0.75::float8, 1::float8), (8, 0.5, 0), (9, 0, 0)$$,
	'a 45 s SLA counts the 45 s reply as a hit');

-- A refresh replaces everything: deleting a conversation removes its turns.
DELETE FROM kpi.conversations WHERE conversation_id = 4;
SELECT * FROM kpi.refresh();
SELECT is((SELECT count(*)::int FROM kpi.turns WHERE conversation_id = 4), 0, 'deleted conversations lose their turns');
SELECT is((SELECT count(*)::int FROM kpi.agent_days WHERE agent_id = 9), 0, 'and their daily facts');

-- The full form is accepted and gives the same facts.
CREATE TEMP TABLE before AS SELECT * FROM kpi.agent_days;
SELECT * FROM kpi.refresh(full => true);
SELECT set_eq('SELECT d::text FROM kpi.agent_days d', 'SELECT b::text FROM before b',
	'refresh(full => true) gives the same facts, sketches included');
SELECT is((SELECT count(*)::int FROM kpi.agent_days), 4, 'four agent-days remain');

SELECT * FROM finish();
ROLLBACK;
