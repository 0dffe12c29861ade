-- Scorecards (绩效考核): a readable example on the shipped presale scorecard, worked out by hand.
\pset null '(null)'
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- The shipped presale scorecard: a Taobao-style step table for conversion and response time,
-- linear items for the rest (floor scores 0, target 100).
SELECT i.metric, m.label_zh, i.weight, i.floor, i.target, i.bands
  FROM kpi.scorecard_items i JOIN kpi.metrics m ON m.name = i.metric
 WHERE i.scorecard = 'presale' ORDER BY i.weight DESC, i.metric;
SELECT min_score, grade FROM kpi.grade_bands WHERE scorecard = 'presale' ORDER BY min_score DESC;

-- Three pre-sale agents of one team; March 2026 is the period, February the one before.
INSERT INTO kpi.agents (agent_id, login, display_name, team, role) VALUES
	(10, 'tb:xiaomei', '小美', 'presale A', 'presale'),
	(11, 'tb:ahua', '阿华', 'presale A', 'presale'),
	(12, 'tb:new', '新人', 'presale A', 'presale');

-- Agent 10 in March: 50 customers ask, one conversation each; 48 are answered after 38 s, 2 not;
-- 25 order an hour later, 21 pay; one paid order is refunded; 18 of 20 csat ratings are 4 or 5.
-- In February: 50 customers, all answered after 50 s, 18 pay of 20 orders, no rating.
-- Agent 11 in March: 20 customers, all answered after 30 s, 5 order and pay, no rating.
CREATE TEMP TABLE spec (agent_id int, day date, customers int, answered int, response_s int,
						orders int, paid int, base int);
INSERT INTO spec VALUES (10, '2026-03-10', 50, 48, 38, 25, 21, 1000), (10, '2026-02-10', 50, 50, 50, 20, 18, 2000),
						(11, '2026-03-12', 20, 20, 30, 5, 5, 3000);
INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at)
SELECT s.base + i, s.base + i, s.agent_id, s.day + time '09:00' + i * interval '5 minutes'
  FROM spec s, generate_series(1, s.customers) i;
INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
SELECT 2 * (s.base + i), s.base + i, s.day + time '09:00' + i * interval '5 minutes', 'customer'::kpi.sender, NULL
  FROM spec s, generate_series(1, s.customers) i
UNION ALL
SELECT 2 * (s.base + i) + 1, s.base + i, s.day + time '09:00' + i * interval '5 minutes' + s.response_s * interval '1 second',
	   'agent', s.agent_id
  FROM spec s, generate_series(1, s.answered) i;
INSERT INTO kpi.orders (order_id, customer_id, placed_at, paid_at, amount)
SELECT s.base + i, s.base + i, s.day + time '10:00' + i * interval '5 minutes',
	   CASE WHEN i <= s.paid THEN s.day + time '10:30' + i * interval '5 minutes' END, 100
  FROM spec s, generate_series(1, s.orders) i;
INSERT INTO kpi.refunds (refund_id, order_id, requested_at) VALUES (1, 1001, '2026-03-11 09:00+00');
INSERT INTO kpi.ratings (rating_id, agent_id, rated_at, kind, score)
SELECT i, 10, '2026-03-11 12:00+00', 'csat', CASE WHEN i <= 18 THEN 4 ELSE 3 END FROM generate_series(1, 20) i;
SELECT step FROM kpi.refresh();

-- Agent 10, item by item:
--   询单转化率 21/50 = 0.42: band >= 0.40                        ->  80 x 40
--   平均响应时间 38 s: band <= 45 s                                 ->  80 x 20
--   回复率 48/50 = 0.96: (0.96 - 0.90) / (1.00 - 0.90) = 0.6      ->  60 x 10
--   支付率 21/25 = 0.84: (0.84 - 0.60) / (0.90 - 0.60) = 0.8      ->  80 x 10
--   满意度 18/20 = 0.90: (0.90 - 0.80) / (0.95 - 0.80) = 2/3      ->  66.67 x 10
--   退款率 1/21 = 0.048, better than the 0.05 target              -> 100 x 10
--   composite (3200 + 1600 + 600 + 800 + 666.67 + 1000) / 100 = 78.67: grade B
-- February: 18/50 = 0.36 -> 60; 50 s -> 60; reply 1 -> 100; payment 0.9 -> 100; no csat; no
-- refund (0/18 -> 100): (2400 + 1200 + 1000 + 1000 + 1000) / 90 = 73.33, so +5.33.
SELECT d.metric, m.label_zh, round(d.value::numeric, 4) AS value, d.weight, round(d.score, 2) AS score,
	   d.benchmark, round(d.prev_value::numeric, 4) AS prev_value, round(d.change::numeric, 4) AS change
  FROM kpi.scorecard_detail('2026-03-01', '2026-03-28', 'presale') d JOIN kpi.metrics m ON m.name = d.metric
 WHERE d.agent_id = 10 ORDER BY d.weight DESC, d.metric;

-- Agent 11: conversion 5/20 = 0.25 -> 0; 30 s -> 100; reply 1 -> 100; payment 1 -> 100;
-- no csat rating (no value: weight 10 missing, coverage 0.9); refund 0/5 -> 100:
-- (0 + 2000 + 1000 + 1000 + 1000) / 90 = 55.56, grade D. Agent 12 has no data: last, unranked.
SELECT agent_id, login, round(composite, 2) AS composite, round(coverage, 2) AS coverage, grade, rank,
	   team_rank, percentile, top30, round(prev_composite, 2) AS prev_composite,
	   round(composite_change, 2) AS change
  FROM kpi.scorecard('2026-03-01', '2026-03-28', 'presale');

-- On the Wilson bound (score_on = 'wilson') proportions are scored on their pessimistic bound:
-- agent 10's csat 18/20 scores its lower bound 0.699 (below the 0.80 floor: 0).
INSERT INTO kpi.scorecards (scorecard, description, score_on) VALUES ('presale_wilson', 'presale on Wilson bounds', 'wilson');
INSERT INTO kpi.scorecard_items SELECT 'presale_wilson', metric, weight, floor, target, bands
  FROM kpi.scorecard_items WHERE scorecard = 'presale';
SELECT d.metric, round(d.value::numeric, 4) AS value, round(d.scored_value::numeric, 4) AS scored_value,
	   round(d.score, 2) AS score
  FROM kpi.scorecard_detail('2026-03-01', '2026-03-28', 'presale_wilson') d WHERE d.agent_id = 10
 ORDER BY d.weight DESC, d.metric;

-- A mistake in a step table is refused with a clear error.
\set SHOW_CONTEXT never
INSERT INTO kpi.scorecard_items VALUES ('presale_wilson', 'avg_first_response_s', 5, NULL, NULL, '[[30, 60], [10, 100]]');
