-- Reports over the daily facts: period metrics per agent, and rolling windows per agent and shop.

-- Reports ----------------------------------------------------------------------------------------

CREATE FUNCTION kpi.agent_metrics("from" date, "to" date, shop_id int DEFAULT NULL)
	RETURNS TABLE (
		agent_id int, login text, team text, role text,
		turns bigint, answered_turns bigint, unanswered_turns bigint, reply_rate double precision,
		avg_response_s double precision, avg_first_response_s double precision,
		response_sla_rate double precision, first_response_sla_rate double precision,
		p50_response_s double precision, p90_response_s double precision,
		avg_business_response_s double precision,
		conversations bigint, avg_handle_s double precision, resolution_rate double precision,
		avg_resolution_s double precision, fcr_rate double precision,
		inquiries bigint, inquiry_conversion_rate double precision,
		order_conversion_rate double precision, payment_rate double precision,
		inquiry_aov numeric, items_per_buyer double precision,
		refund_rate double precision, dispute_share double precision,
		self_completion_rate double precision, avg_refund_completion_s double precision,
		complaint_rate double precision,
		csat_rate double precision, good_review_rate double precision, dsr_service double precision,
		online_hours double precision)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT a.agent_id, a.login, a.team, a.role,
		   coalesce(sum(d.turns), 0)::bigint,
		   coalesce(sum(d.answered_turns), 0)::bigint,
		   coalesce(sum(d.turns - d.answered_turns), 0)::bigint,
		   sum(d.answered_turns)::double precision / nullif(sum(d.turns), 0),
		   sum(d.response_us)::double precision / 1e6 / nullif(sum(d.answered_turns), 0),
		   sum(d.first_response_us)::double precision / 1e6 / nullif(sum(d.first_answered), 0),
		   sum(d.response_sla_hits)::double precision / nullif(sum(d.turns), 0),
		   sum(d.first_response_sla_hits)::double precision / nullif(sum(d.first_turns), 0),
		   kpi.approx_percentile(0.5, kpi.rollup(d.response_sketch)),
		   kpi.approx_percentile(0.9, kpi.rollup(d.response_sketch)),
		   sum(d.business_response_us)::double precision / 1e6 / nullif(sum(d.answered_turns), 0),
		   coalesce(sum(d.conversations), 0)::bigint,
		   sum(d.handle_us)::double precision / 1e6 / nullif(sum(d.closed_conversations), 0),
		   sum(d.resolved_conversations)::double precision / nullif(sum(d.conversations), 0),
		   sum(d.resolution_us)::double precision / 1e6 / nullif(sum(d.resolved_conversations), 0),
		   sum(d.fcr_conversations)::double precision / nullif(sum(d.conversations), 0),
		   coalesce(sum(d.inquiries), 0)::bigint,
		   sum(d.paying_customers)::double precision / nullif(sum(d.inquiries), 0),
		   sum(d.ordering_customers)::double precision / nullif(sum(d.inquiries), 0),
		   sum(d.attributed_paid_orders)::double precision / nullif(sum(d.attributed_orders), 0),
		   round(sum(d.paid_amount) / nullif(sum(d.paying_customers), 0), 2),
		   sum(d.paid_items)::double precision / nullif(sum(d.paying_customers), 0),
		   sum(d.sales_refunds)::double precision / nullif(sum(d.sales_paid_orders), 0),
		   sum(d.handled_disputes)::double precision / nullif(sum(d.handled_refunds), 0),
		   sum(d.merchant_completed_refunds)::double precision / nullif(sum(d.completed_refunds), 0),
		   sum(d.completion_us)::double precision / 1e6 / nullif(sum(d.completed_refunds), 0),
		   sum(d.complaints)::double precision / nullif(sum(d.conversations), 0),
		   sum(d.csat_positive)::double precision / nullif(sum(d.csat_ratings), 0),
		   sum(d.review_positive)::double precision / nullif(sum(d.review_ratings), 0),
		   sum(d.dsr_score_sum)::double precision / nullif(sum(d.dsr_ratings), 0),
		   coalesce(sum(d.online_us), 0)::double precision / 3.6e9
	  FROM kpi.agents a
	  LEFT JOIN kpi.agent_days d
			 ON d.agent_id = a.agent_id
			AND d.day BETWEEN agent_metrics."from" AND agent_metrics."to"
			AND (agent_metrics.shop_id IS NULL OR d.shop_id = agent_metrics.shop_id)
	 GROUP BY a.agent_id
	HAVING a.active OR count(d.agent_id) > 0
	 ORDER BY a.agent_id;
END;
COMMENT ON FUNCTION kpi.agent_metrics(date, date, int) IS
	'one row per agent (active, or with activity in the period): every metric over days from..to inclusive, '
	'rates over the whole period (sums over sums), NULL where the denominator is 0; all shops unless one is named';

-- Rolling windows --------------------------------------------------------------------------------
-- A dense day series per agent (or shop) from its first to its last day with facts, and window
-- frames over it: sum() has an inverse transition, so each row costs O(1), not O(window).

CREATE VIEW kpi.agent_rolling WITH (security_invoker = true) AS
WITH days AS (
	SELECT d.agent_id, d.day,
		   sum(d.sales_refunds) AS sales_refunds, sum(d.sales_paid_orders) AS sales_paid_orders,
		   sum(d.handled_disputes) AS handled_disputes, sum(d.handled_refunds) AS handled_refunds,
		   sum(d.merchant_completed_refunds) AS merchant_completed_refunds,
		   sum(d.completed_refunds) AS completed_refunds, sum(d.completion_us) AS completion_us,
		   sum(d.complaints) AS complaints, sum(d.conversations) AS conversations,
		   sum(d.response_us) AS response_us, sum(d.answered_turns) AS answered_turns,
		   sum(d.response_sla_hits) AS response_sla_hits, sum(d.turns) AS turns,
		   kpi.rollup(d.response_sketch) AS response_sketch,
		   sum(d.csat_positive) AS csat_positive, sum(d.csat_ratings) AS csat_ratings,
		   sum(d.dsr_score_sum) AS dsr_score_sum, sum(d.dsr_ratings) AS dsr_ratings
	  FROM kpi.agent_days d
	 GROUP BY d.agent_id, d.day
), series AS (
	SELECT b.agent_id, g.day::date AS day
	  FROM (SELECT agent_id, min(day) AS first_day, max(day) AS last_day FROM days GROUP BY 1) b
	 CROSS JOIN LATERAL generate_series(b.first_day::timestamp, b.last_day::timestamp, interval '1 day') g(day)
)
SELECT s.agent_id, s.day,
	   (sum(x.sales_refunds) OVER w28)::double precision / nullif(sum(x.sales_paid_orders) OVER w28, 0)
		   AS refund_rate_28d,
	   (sum(x.handled_disputes) OVER w28)::double precision / nullif(sum(x.handled_refunds) OVER w28, 0)
		   AS dispute_share_28d,
	   (sum(x.merchant_completed_refunds) OVER w28)::double precision / nullif(sum(x.completed_refunds) OVER w28, 0)
		   AS self_completion_rate_28d,
	   (sum(x.completion_us) OVER w28)::double precision / 1e6 / nullif(sum(x.completed_refunds) OVER w28, 0)
		   AS avg_refund_completion_s_28d,
	   (sum(x.complaints) OVER w28)::double precision / nullif(sum(x.conversations) OVER w28, 0)
		   AS complaint_rate_28d,
	   (sum(x.response_us) OVER w28)::double precision / 1e6 / nullif(sum(x.answered_turns) OVER w28, 0)
		   AS avg_response_s_28d,
	   kpi.approx_percentile(0.9, kpi.rollup(x.response_sketch) OVER w28)
		   AS p90_response_s_28d,
	   (sum(x.response_sla_hits) OVER w28)::double precision / nullif(sum(x.turns) OVER w28, 0)
		   AS response_sla_rate_28d,
	   (sum(x.csat_positive) OVER w28)::double precision / nullif(sum(x.csat_ratings) OVER w28, 0)
		   AS csat_rate_28d,
	   (sum(x.dsr_score_sum) OVER w180)::double precision / nullif(sum(x.dsr_ratings) OVER w180, 0)
		   AS dsr_service_180d
  FROM series s
  LEFT JOIN days x USING (agent_id, day)
WINDOW w28 AS (PARTITION BY s.agent_id ORDER BY s.day ROWS BETWEEN 27 PRECEDING AND CURRENT ROW),
	   w180 AS (PARTITION BY s.agent_id ORDER BY s.day ROWS BETWEEN 179 PRECEDING AND CURRENT ROW);
COMMENT ON VIEW kpi.agent_rolling IS
	'per agent and day (every day from the agent''s first to last day with facts, all shops together): '
	'after-sale, response and rating figures over the 28 (or 180) days ending that day';
COMMENT ON COLUMN kpi.agent_rolling.refund_rate_28d IS
	'refunds requested on orders attributed to the agent / attributed orders paid (退款率)';
COMMENT ON COLUMN kpi.agent_rolling.dispute_share_28d IS 'disputed / refunds requested that the agent handled (纠纷)';
COMMENT ON COLUMN kpi.agent_rolling.self_completion_rate_28d IS
	'refunds the agent handled completed by the merchant / completed (自主完结率)';
COMMENT ON COLUMN kpi.agent_rolling.avg_refund_completion_s_28d IS 'mean completed_at - requested_at of those (退款完结时长)';
COMMENT ON COLUMN kpi.agent_rolling.complaint_rate_28d IS 'complaints charged to the agent / the agent''s conversations (投诉率)';
COMMENT ON COLUMN kpi.agent_rolling.avg_response_s_28d IS 'mean response time of answered turns (平均响应时间)';
COMMENT ON COLUMN kpi.agent_rolling.p90_response_s_28d IS '90th percentile response time (within the sketch''s 1 % bound)';
COMMENT ON COLUMN kpi.agent_rolling.response_sla_rate_28d IS 'turns answered within settings.response_sla / turns';
COMMENT ON COLUMN kpi.agent_rolling.csat_rate_28d IS 'csat ratings 4 or 5 / csat ratings (满意度)';
COMMENT ON COLUMN kpi.agent_rolling.dsr_service_180d IS 'mean dsr_service score over 180 days (服务态度DSR)';

CREATE VIEW kpi.shop_rolling WITH (security_invoker = true) AS
WITH series AS (
	SELECT b.shop_id, g.day::date AS day
	  FROM (SELECT shop_id, min(day) AS first_day, max(day) AS last_day
			  FROM kpi.shop_days GROUP BY 1) b
	 CROSS JOIN LATERAL generate_series(b.first_day::timestamp, b.last_day::timestamp, interval '1 day') g(day)
)
SELECT s.shop_id, s.day,
	   coalesce(sum(x.orders_paid) OVER w28, 0)::bigint AS orders_paid_28d,
	   (sum(x.refunds_requested) OVER w28)::double precision / nullif(sum(x.orders_paid) OVER w28, 0) AS refund_rate_28d,
	   (sum(x.disputed_refunds) OVER w28)::double precision / nullif(sum(x.orders_paid) OVER w28, 0) AS dispute_rate_28d,
	   (sum(x.complaints) OVER w28)::double precision / nullif(sum(x.orders_paid) OVER w28, 0) AS complaint_rate_28d,
	   (sum(x.merchant_completed_refunds) OVER w28)::double precision / nullif(sum(x.refunds_completed) OVER w28, 0)
		   AS self_completion_rate_28d,
	   (sum(x.completion_us) OVER w28)::double precision / 1e6 / nullif(sum(x.refunds_completed) OVER w28, 0)
		   AS avg_refund_completion_s_28d,
	   (sum(x.dsr_score_sum) OVER w180)::double precision / nullif(sum(x.dsr_ratings) OVER w180, 0) AS dsr_service_180d
  FROM series s
  LEFT JOIN kpi.shop_days x USING (shop_id, day)
WINDOW w28 AS (PARTITION BY s.shop_id ORDER BY s.day ROWS BETWEEN 27 PRECEDING AND CURRENT ROW),
	   w180 AS (PARTITION BY s.shop_id ORDER BY s.day ROWS BETWEEN 179 PRECEDING AND CURRENT ROW);
COMMENT ON VIEW kpi.shop_rolling IS
	'per shop and day (dense): the platforms'' own after-sale figures over the 28 (or 180) days ending that day';
COMMENT ON COLUMN kpi.shop_rolling.orders_paid_28d IS 'orders paid in the window';
COMMENT ON COLUMN kpi.shop_rolling.refund_rate_28d IS 'refunds requested / orders paid (退款率)';
COMMENT ON COLUMN kpi.shop_rolling.dispute_rate_28d IS 'disputed refunds requested / orders paid (退款纠纷率)';
COMMENT ON COLUMN kpi.shop_rolling.complaint_rate_28d IS 'complaints filed / orders paid (投诉率)';
COMMENT ON COLUMN kpi.shop_rolling.self_completion_rate_28d IS 'refunds completed by the merchant / completed (退款自主完结率)';
COMMENT ON COLUMN kpi.shop_rolling.avg_refund_completion_s_28d IS 'mean completed_at - requested_at of refunds completed (退款完结时长)';
COMMENT ON COLUMN kpi.shop_rolling.dsr_service_180d IS 'mean dsr_service score over 180 days (服务态度DSR)';
