-- Scorecards: kpi.scorecard for all agents from the materialized facts, against the same scoring
-- written by hand over agent_metrics (CASE per item, the previous period, rank() and grades),
-- and the history: every snapshot against calling kpi.scorecard once per day and role, and a
-- night's few changed days against recomputing every snapshot (what a materialized view did).

-- @job kpi.scorecard for 28 days and all agents from materialized facts
-- @setup
SELECT count(*) FROM kpi.refresh();
-- @rows
SELECT count(*) FROM kpi.agents;
-- @ours
SELECT count(*), sum(composite), sum(prev_composite) FROM kpi.scorecard(:'last_day'::date - 27, :'last_day', 'presale');
-- @alternative plain SQL: the presale items as CASE expressions over agent_metrics, both periods
WITH m AS (
	SELECT p.period, a.*
	  FROM (VALUES ('cur', :'last_day'::date - 27, :'last_day'::date), ('prev', :'last_day'::date - 55, :'last_day'::date - 28)) p(period, f, t)
	 CROSS JOIN LATERAL kpi.agent_metrics(p.f, p.t) a
), s AS (
	SELECT m.period, m.agent_id, m.team, x.weight, x.score
	  FROM m CROSS JOIN LATERAL (VALUES
		(40, CASE WHEN m.inquiry_conversion_rate >= 0.45 THEN 100 WHEN m.inquiry_conversion_rate >= 0.40 THEN 80
				  WHEN m.inquiry_conversion_rate >= 0.35 THEN 60 WHEN m.inquiry_conversion_rate IS NOT NULL THEN 0 END),
		(20, CASE WHEN m.avg_response_s <= 35 THEN 100 WHEN m.avg_response_s <= 45 THEN 80
				  WHEN m.avg_response_s <= 60 THEN 60 WHEN m.avg_response_s IS NOT NULL THEN 0 END),
		(10, greatest(0, least(100, 100 * (m.reply_rate - 0.90) / 0.10))),
		(10, greatest(0, least(100, 100 * (m.payment_rate - 0.60) / 0.30))),
		(10, greatest(0, least(100, 100 * (m.csat_rate - 0.80) / 0.15))),
		(10, greatest(0, least(100, 100 * (m.refund_rate - 0.15) / -0.10)))) x(weight, score)
), c AS (
	SELECT period, agent_id, team,
		   sum(weight * score) / nullif(sum(weight) FILTER (WHERE score IS NOT NULL), 0) AS composite
	  FROM s GROUP BY 1, 2, 3
)
SELECT count(*), sum(cur.composite), sum(prev.composite)
  FROM (SELECT c.*, rank() OVER (ORDER BY composite DESC NULLS LAST) AS rank,
			   rank() OVER (PARTITION BY team ORDER BY composite DESC NULLS LAST) AS team_rank,
			   CASE WHEN composite >= 90 THEN 'A' WHEN composite >= 75 THEN 'B' WHEN composite >= 60 THEN 'C' ELSE 'D' END AS grade
		  FROM c WHERE period = 'cur') cur
  LEFT JOIN c prev ON prev.period = 'prev' AND prev.agent_id = cur.agent_id;
-- @floor agent_metrics over the two periods
SELECT count(*), sum(a.turns) FROM kpi.agent_metrics(:'last_day'::date - 27, :'last_day') a, kpi.agent_metrics(:'last_day'::date - 55, :'last_day'::date - 28) b
 WHERE a.agent_id = b.agent_id;
-- @runs 9

-- @job kpi.refresh_scorecard_history, every snapshot (after an edit of the agents or scorecards): one per day and agent on its role scorecard (28 days)
-- @setup
SELECT kpi.refresh_scorecard_history();
-- @each
INSERT INTO kpi.changes_agent_days VALUES ('-infinity');
-- @rows
SELECT count(*) FROM kpi.scorecard_history;
-- @ours
SELECT kpi.refresh_scorecard_history();
-- @alternative kpi.scorecard once per day and role, as a loop over days would (ranks over all agents)
SELECT count(*), sum(s.composite)
  FROM generate_series((SELECT min(day) FROM kpi.agent_days)::timestamp, (current_date - 1)::timestamp, interval '1 day') g(day)
 CROSS JOIN unnest(ARRAY['presale', 'aftersale', 'general']) r(role)
 CROSS JOIN LATERAL kpi.scorecard(g.day::date - 27, g.day::date, r.role) s
  JOIN kpi.agents a ON a.agent_id = s.agent_id AND a.role = r.role;
-- @floor agent_metrics once per day (the 28-day windows alone, no scoring)
SELECT count(*), sum(m.turns)
  FROM generate_series((SELECT min(day) FROM kpi.agent_days)::timestamp - interval '28 days', (current_date - 1)::timestamp, interval '1 day') g(day)
 CROSS JOIN LATERAL kpi.agent_metrics(g.day::date - 27, g.day::date) m;
-- @runs 3

-- @job kpi.refresh_scorecard_history, a night's snapshots: facts changed on the last 8 days (a new day and the first-contact resolution of the 7 before)
-- @setup
SELECT kpi.refresh_scorecard_history();
-- @each
INSERT INTO kpi.changes_agent_days SELECT current_date - k FROM generate_series(1, 8) k;
-- @rows
SELECT count(*) FROM kpi.scorecard_history WHERE day >= current_date - 8;
-- @ours
SELECT kpi.refresh_scorecard_history();
-- @alternative every snapshot, as a materialized view's refresh recomputes them
SELECT count(*), sum(s.composite) FROM kpi.scorecard_snapshots(
	ARRAY(SELECT g.day::date FROM generate_series((SELECT min(day) FROM kpi.agent_days)::timestamp,
												   (current_date - 1)::timestamp, interval '1 day') g(day)), 28, NULL) s;
-- @floor agent_metrics for the same 8 days' two windows (no scoring)
SELECT count(*), sum(m.turns)
  FROM generate_series(1, 8) k
 CROSS JOIN unnest(ARRAY[0, 28]) w(back)
 CROSS JOIN LATERAL kpi.agent_metrics(current_date - k - w.back - 27, current_date - k - w.back) m;
-- @runs 5
