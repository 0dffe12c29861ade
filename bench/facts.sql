-- Daily facts: the rolling views (window frames over a dense day series
-- with inverse transitions) against recomputing every window the way an analyst would.

-- @job agent_rolling: 28-day after-sale, response and rating figures for every agent and day
-- @setup
SELECT count(*) FROM kpi.refresh(full => true);
-- @rows
SELECT count(*) FROM kpi.agent_rolling;
-- @ours
SELECT count(*), sum(refund_rate_28d), sum(complaint_rate_28d), sum(avg_response_s_28d), sum(p90_response_s_28d)
  FROM kpi.agent_rolling;
-- @alternative recompute each window: agent_metrics(D - 27, D) once per day
SELECT count(*), sum(m.refund_rate), sum(m.complaint_rate), sum(m.avg_response_s), sum(m.p90_response_s)
  FROM (SELECT min(day) AS first_day, max(day) AS last_day FROM kpi.agent_days) r
 CROSS JOIN LATERAL generate_series(r.first_day, r.last_day, interval '1 day') g(day)
 CROSS JOIN LATERAL kpi.agent_metrics(g.day::date - 27, g.day::date) m
  JOIN (SELECT agent_id, min(day) AS first_day, max(day) AS last_day FROM kpi.agent_days GROUP BY 1) b
	ON b.agent_id = m.agent_id AND g.day BETWEEN b.first_day AND b.last_day;
-- @floor the same rows without windows
SELECT count(*), sum(sales_refunds), sum(complaints), sum(response_us) FROM kpi.agent_days;
-- @runs 3

-- @job shop_rolling: 28-day platform rates per shop and day
-- @rows
SELECT count(*) FROM kpi.shop_rolling;
-- @ours
SELECT count(*), sum(refund_rate_28d), sum(dispute_rate_28d) FROM kpi.shop_rolling;
-- @alternative recompute each window with a correlated subquery
SELECT count(*), sum(r.refund_rate), sum(r.dispute_rate)
  FROM (SELECT shop_id, min(day) AS first_day, max(day) AS last_day FROM kpi.shop_days GROUP BY 1) b
 CROSS JOIN LATERAL generate_series(b.first_day, b.last_day, interval '1 day') g(day)
 CROSS JOIN LATERAL (
		SELECT sum(d.refunds_requested)::float8 / nullif(sum(d.orders_paid), 0) AS refund_rate,
			   sum(d.disputed_refunds)::float8 / nullif(sum(d.orders_paid), 0) AS dispute_rate
		  FROM kpi.shop_days d
		 WHERE d.shop_id = b.shop_id AND d.day BETWEEN g.day::date - 27 AND g.day::date) r;
