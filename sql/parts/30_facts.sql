-- Derived data: reply turns and the daily facts per shop, agent and day, filled by kpi.refresh().
--
-- Sums of durations are kept as integer microseconds, so a day's facts are exact whatever order
-- the rows were added in, and a period's figures are sums of days.

CREATE FUNCTION kpi.microseconds(duration interval) RETURNS bigint
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN (extract(epoch FROM duration) * 1000000)::bigint;
COMMENT ON FUNCTION kpi.microseconds(interval) IS
	'an interval as whole microseconds (days count as 24 hours: only use it on differences of timestamptz)';

CREATE TABLE kpi.turns (
	shop_id int NOT NULL,
	conversation_id bigint NOT NULL,
	turn_no int NOT NULL,
	opened_at timestamptz NOT NULL,
	answered_at timestamptz,
	agent_id int,
	answered boolean NOT NULL,
	is_first boolean NOT NULL,
	response_s double precision,
	business_response_s double precision,
	day date NOT NULL,
	PRIMARY KEY (conversation_id, turn_no)
);
COMMENT ON TABLE kpi.turns IS
	'one row per response turn (响应): a customer question and the first agent reply to it; filled by kpi.refresh()';
COMMENT ON COLUMN kpi.turns.turn_no IS 'position of the turn in its conversation, from 1';
COMMENT ON COLUMN kpi.turns.opened_at IS 'the first customer message of the turn';
COMMENT ON COLUMN kpi.turns.answered_at IS 'the first agent message after it; NULL when unanswered';
COMMENT ON COLUMN kpi.turns.agent_id IS
	'the agent credited: who answered, or for an unanswered turn the conversation''s agent (NULL if none)';
COMMENT ON COLUMN kpi.turns.answered IS 'an agent replied (auto replies never count)';
COMMENT ON COLUMN kpi.turns.is_first IS 'the first turn of its conversation: gives the first response time';
COMMENT ON COLUMN kpi.turns.response_s IS 'answered_at - opened_at in seconds; NULL when unanswered';
COMMENT ON COLUMN kpi.turns.business_response_s IS
	'the same interval counted in the answering agent''s business hours; equals response_s without a calendar';
COMMENT ON COLUMN kpi.turns.day IS 'the day of opened_at in the shop''s time zone';
CREATE INDEX turns_agent_day ON kpi.turns (agent_id, day);

CREATE VIEW kpi.shop_zones WITH (security_invoker = true) AS
SELECT s.shop_id, coalesce(s.timezone, (SELECT st.timezone FROM kpi.settings st)) AS timezone
  FROM kpi.shops s;
COMMENT ON VIEW kpi.shop_zones IS 'the time zone that defines each shop''s days';
COMMENT ON COLUMN kpi.shop_zones.timezone IS 'shops.timezone, else settings.timezone';

CREATE TABLE kpi.order_attribution (
	order_id bigint PRIMARY KEY,
	shop_id int NOT NULL,
	conversation_id bigint NOT NULL,
	agent_id int,
	day date NOT NULL
);
COMMENT ON TABLE kpi.order_attribution IS
	'orders credited to a conversation (询单): the customer''s latest conversation in the shop opened within '
	'settings.attribution_window before the order (ties: the larger conversation_id); silent orders have no row';
COMMENT ON COLUMN kpi.order_attribution.agent_id IS 'that conversation''s agent; NULL credits nobody';
COMMENT ON COLUMN kpi.order_attribution.day IS 'the day the conversation opened, in the shop''s time zone';
CREATE INDEX order_attribution_agent ON kpi.order_attribution (agent_id, day);

CREATE TABLE kpi.agent_days (
	shop_id int NOT NULL,
	agent_id int NOT NULL,
	day date NOT NULL,
	-- response (day of the turn's first customer message)
	turns bigint NOT NULL DEFAULT 0,
	answered_turns bigint NOT NULL DEFAULT 0,
	response_sla_hits bigint NOT NULL DEFAULT 0,
	response_us bigint NOT NULL DEFAULT 0,
	business_response_us bigint NOT NULL DEFAULT 0,
	first_turns bigint NOT NULL DEFAULT 0,
	first_answered bigint NOT NULL DEFAULT 0,
	first_response_sla_hits bigint NOT NULL DEFAULT 0,
	first_response_us bigint NOT NULL DEFAULT 0,
	response_sketch kpi.sketch,
	-- conversations (day opened)
	conversations bigint NOT NULL DEFAULT 0,
	closed_conversations bigint NOT NULL DEFAULT 0,
	handle_us bigint NOT NULL DEFAULT 0,
	resolved_conversations bigint NOT NULL DEFAULT 0,
	resolution_us bigint NOT NULL DEFAULT 0,
	fcr_conversations bigint NOT NULL DEFAULT 0,
	-- conversion (day the attributed conversation opened)
	inquiries bigint NOT NULL DEFAULT 0,
	ordering_customers bigint NOT NULL DEFAULT 0,
	paying_customers bigint NOT NULL DEFAULT 0,
	attributed_orders bigint NOT NULL DEFAULT 0,
	attributed_paid_orders bigint NOT NULL DEFAULT 0,
	paid_amount numeric NOT NULL DEFAULT 0,
	paid_items bigint NOT NULL DEFAULT 0,
	-- sales quality (refunds by day requested, attributed orders by day paid)
	sales_refunds bigint NOT NULL DEFAULT 0,
	sales_paid_orders bigint NOT NULL DEFAULT 0,
	-- after-sale handling (day requested; completions by day completed)
	handled_refunds bigint NOT NULL DEFAULT 0,
	handled_disputes bigint NOT NULL DEFAULT 0,
	completed_refunds bigint NOT NULL DEFAULT 0,
	merchant_completed_refunds bigint NOT NULL DEFAULT 0,
	completion_us bigint NOT NULL DEFAULT 0,
	-- complaints and ratings charged to the agent (day filed / rated)
	complaints bigint NOT NULL DEFAULT 0,
	csat_ratings bigint NOT NULL DEFAULT 0,
	csat_positive bigint NOT NULL DEFAULT 0,
	csat_score_sum bigint NOT NULL DEFAULT 0,
	review_ratings bigint NOT NULL DEFAULT 0,
	review_positive bigint NOT NULL DEFAULT 0,
	review_score_sum bigint NOT NULL DEFAULT 0,
	dsr_ratings bigint NOT NULL DEFAULT 0,
	dsr_score_sum bigint NOT NULL DEFAULT 0,
	-- presence (the part of the day inside the union of the agent's sessions)
	online_us bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (shop_id, agent_id, day)
);
COMMENT ON TABLE kpi.agent_days IS
	'daily facts: additive counts and sums per shop, agent and day; every period metric is a ratio of their sums';
COMMENT ON COLUMN kpi.agent_days.turns IS 'turns charged to the agent (answered by them, or unanswered in their conversations)';
COMMENT ON COLUMN kpi.agent_days.answered_turns IS 'turns the agent answered';
COMMENT ON COLUMN kpi.agent_days.response_sla_hits IS 'answered within settings.response_sla';
COMMENT ON COLUMN kpi.agent_days.response_us IS 'sum of response times of answered turns, microseconds';
COMMENT ON COLUMN kpi.agent_days.business_response_us IS 'sum of business-hours response times, microseconds';
COMMENT ON COLUMN kpi.agent_days.first_turns IS 'first turns of conversations charged to the agent';
COMMENT ON COLUMN kpi.agent_days.first_answered IS 'first turns the agent answered';
COMMENT ON COLUMN kpi.agent_days.first_response_sla_hits IS 'first turns answered within settings.first_response_sla';
COMMENT ON COLUMN kpi.agent_days.first_response_us IS 'sum of first response times, microseconds';
COMMENT ON COLUMN kpi.agent_days.response_sketch IS 'latency sketch of the answered turns'' response times (NULL if none)';
COMMENT ON COLUMN kpi.agent_days.conversations IS 'conversations assigned to the agent, opened that day (接待量)';
COMMENT ON COLUMN kpi.agent_days.closed_conversations IS 'of those, closed ones';
COMMENT ON COLUMN kpi.agent_days.handle_us IS 'sum of closed_at - opened_at of closed ones, microseconds';
COMMENT ON COLUMN kpi.agent_days.resolved_conversations IS 'of those, resolved ones';
COMMENT ON COLUMN kpi.agent_days.resolution_us IS 'sum of resolved_at - opened_at of resolved ones, microseconds';
COMMENT ON COLUMN kpi.agent_days.fcr_conversations IS
	'resolved ones after which the customer opened no other conversation in the shop within settings.fcr_window';
COMMENT ON COLUMN kpi.agent_days.inquiries IS 'distinct customers with a conversation of the agent opened that day (询单人数)';
COMMENT ON COLUMN kpi.agent_days.ordering_customers IS 'distinct customers with an order attributed to the agent and day';
COMMENT ON COLUMN kpi.agent_days.paying_customers IS 'distinct customers with a paid order attributed to the agent and day';
COMMENT ON COLUMN kpi.agent_days.attributed_orders IS 'orders attributed to the agent and day';
COMMENT ON COLUMN kpi.agent_days.attributed_paid_orders IS 'of those, paid ones';
COMMENT ON COLUMN kpi.agent_days.paid_amount IS 'amount of the paid ones';
COMMENT ON COLUMN kpi.agent_days.paid_items IS 'items of the paid ones';
COMMENT ON COLUMN kpi.agent_days.sales_refunds IS 'refunds requested that day on orders attributed to the agent';
COMMENT ON COLUMN kpi.agent_days.sales_paid_orders IS 'orders attributed to the agent and paid that day';
COMMENT ON COLUMN kpi.agent_days.handled_refunds IS 'refunds requested that day with the agent as handling agent';
COMMENT ON COLUMN kpi.agent_days.handled_disputes IS 'of those, disputed ones';
COMMENT ON COLUMN kpi.agent_days.completed_refunds IS 'refunds completed that day with the agent as handling agent';
COMMENT ON COLUMN kpi.agent_days.merchant_completed_refunds IS 'of those, completed by the merchant (自主完结)';
COMMENT ON COLUMN kpi.agent_days.completion_us IS 'sum of completed_at - requested_at of those, microseconds';
COMMENT ON COLUMN kpi.agent_days.complaints IS 'complaints charged to the agent, filed that day';
COMMENT ON COLUMN kpi.agent_days.csat_ratings IS 'csat ratings charged to the agent, rated that day';
COMMENT ON COLUMN kpi.agent_days.csat_positive IS 'of those, score 4 or 5';
COMMENT ON COLUMN kpi.agent_days.csat_score_sum IS 'sum of their scores';
COMMENT ON COLUMN kpi.agent_days.review_ratings IS 'review ratings charged to the agent, rated that day';
COMMENT ON COLUMN kpi.agent_days.review_positive IS 'of those, score 4 or 5 (好评)';
COMMENT ON COLUMN kpi.agent_days.review_score_sum IS 'sum of their scores';
COMMENT ON COLUMN kpi.agent_days.dsr_ratings IS 'dsr_service ratings charged to the agent, rated that day';
COMMENT ON COLUMN kpi.agent_days.dsr_score_sum IS 'sum of their scores';
COMMENT ON COLUMN kpi.agent_days.online_us IS 'microseconds of the day inside the union of the agent''s sessions in the shop';

CREATE TABLE kpi.shop_days (
	shop_id int NOT NULL,
	day date NOT NULL,
	orders_paid bigint NOT NULL DEFAULT 0,
	refunds_requested bigint NOT NULL DEFAULT 0,
	disputed_refunds bigint NOT NULL DEFAULT 0,
	complaints bigint NOT NULL DEFAULT 0,
	refunds_completed bigint NOT NULL DEFAULT 0,
	merchant_completed_refunds bigint NOT NULL DEFAULT 0,
	completion_us bigint NOT NULL DEFAULT 0,
	dsr_ratings bigint NOT NULL DEFAULT 0,
	dsr_score_sum bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (shop_id, day)
);
COMMENT ON TABLE kpi.shop_days IS 'daily facts per shop for the shop-level definitions (the platforms'' own)';
COMMENT ON COLUMN kpi.shop_days.orders_paid IS 'orders paid that day';
COMMENT ON COLUMN kpi.shop_days.refunds_requested IS 'refunds requested that day';
COMMENT ON COLUMN kpi.shop_days.disputed_refunds IS 'of those, disputed ones';
COMMENT ON COLUMN kpi.shop_days.complaints IS 'complaints filed that day';
COMMENT ON COLUMN kpi.shop_days.refunds_completed IS 'refunds completed that day';
COMMENT ON COLUMN kpi.shop_days.merchant_completed_refunds IS 'of those, completed by the merchant';
COMMENT ON COLUMN kpi.shop_days.completion_us IS 'sum of their completed_at - requested_at, microseconds';
COMMENT ON COLUMN kpi.shop_days.dsr_ratings IS 'dsr_service ratings rated that day';
COMMENT ON COLUMN kpi.shop_days.dsr_score_sum IS 'sum of their scores';

-- Refresh ----------------------------------------------------------------------------------------

CREATE FUNCTION kpi.refresh(full boolean DEFAULT false)
	RETURNS TABLE (step text, rows bigint, seconds double precision)
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz;
	n bigint;
BEGIN
	-- One refresh at a time: a second one waits here; readers keep reading the old facts
	-- until this transaction commits.
	LOCK TABLE kpi.agent_days IN SHARE ROW EXCLUSIVE MODE;

	-- Turns ---------------------------------------------------------------------------------
	started := clock_timestamp();
	DELETE FROM kpi.turns;
	INSERT INTO kpi.turns (shop_id, conversation_id, turn_no, opened_at, answered_at, agent_id,
						   answered, is_first, response_s, business_response_s, day)
	SELECT g.shop_id, g.conversation_id, t.turn_no, t.opened_at, t.answered_at,
		   CASE WHEN t.answered THEN t.agent_id ELSE c.agent_id END,
		   t.answered, t.is_first, t.response_s,
		   CASE WHEN t.answered THEN
				coalesce(kpi.business_seconds(t.opened_at, t.answered_at, cal.hours), t.response_s)
		   END,
		   (t.opened_at AT TIME ZONE z.timezone)::date
	  FROM (SELECT m.shop_id, m.conversation_id,
				   kpi.reply_turns(m.message_id, m.sent_at, m.sender, m.agent_id) AS turns
			  FROM kpi.messages m
			 GROUP BY m.shop_id, m.conversation_id) g
	 CROSS JOIN LATERAL unnest(g.turns) WITH ORDINALITY
			AS t(opened_at, answered_at, agent_id, answered, is_first, response_s, turn_no)
	  JOIN kpi.conversations c ON c.conversation_id = g.conversation_id
	  JOIN kpi.shop_zones z ON z.shop_id = g.shop_id
	  LEFT JOIN kpi.agents a ON a.agent_id = t.agent_id AND t.answered
	  LEFT JOIN kpi.calendars cal ON cal.calendar_id = a.calendar_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'kpi.turns'::regclass), 'MEMBER') THEN
		ANALYZE kpi.turns;	-- only the owner may; a writer's refresh simply skips it
	END IF;
	step := 'turns'; rows := n; seconds := extract(epoch FROM clock_timestamp() - started);
	RETURN NEXT;

	-- Order attribution ---------------------------------------------------------------------
	started := clock_timestamp();
	DELETE FROM kpi.order_attribution;
	INSERT INTO kpi.order_attribution (order_id, shop_id, conversation_id, agent_id, day)
	SELECT o.order_id, o.shop_id, c.conversation_id, c.agent_id,
		   (c.opened_at AT TIME ZONE z.timezone)::date
	  FROM kpi.orders o
	  JOIN kpi.shop_zones z ON z.shop_id = o.shop_id
	 CROSS JOIN LATERAL (
			SELECT c.conversation_id, c.agent_id, c.opened_at
			  FROM kpi.conversations c
			 WHERE c.shop_id = o.shop_id AND c.customer_id = o.customer_id
			   AND c.opened_at >= o.placed_at - (SELECT st.attribution_window FROM kpi.settings st)
			   AND c.opened_at <= o.placed_at
			 ORDER BY c.opened_at DESC, c.conversation_id DESC
			 LIMIT 1) c;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'kpi.order_attribution'::regclass), 'MEMBER') THEN
		ANALYZE kpi.order_attribution;	-- only the owner may; a writer's refresh simply skips it
	END IF;
	step := 'order_attribution'; rows := n; seconds := extract(epoch FROM clock_timestamp() - started);
	RETURN NEXT;

	-- Agent days: each source adds its own columns to the (shop, agent, day) cell ------------
	started := clock_timestamp();
	DELETE FROM kpi.agent_days;

	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, turns, answered_turns,
		response_sla_hits, response_us, business_response_us, first_turns, first_answered,
		first_response_sla_hits, first_response_us, response_sketch)
	SELECT t.shop_id, t.agent_id, t.day,
		   count(*),
		   count(*) FILTER (WHERE t.answered),
		   count(*) FILTER (WHERE t.response_s <= (SELECT extract(epoch FROM st.response_sla) FROM kpi.settings st)),
		   coalesce(sum(round(t.response_s * 1e6)::bigint), 0),
		   coalesce(sum(round(t.business_response_s * 1e6)::bigint), 0),
		   count(*) FILTER (WHERE t.is_first),
		   count(*) FILTER (WHERE t.is_first AND t.answered),
		   count(*) FILTER (WHERE t.is_first AND t.response_s <=
						   (SELECT extract(epoch FROM st.first_response_sla) FROM kpi.settings st)),
		   coalesce(sum(round(t.response_s * 1e6)::bigint) FILTER (WHERE t.is_first), 0),
		   kpi.sketch_agg(t.response_s)
	  FROM kpi.turns t
	 WHERE t.agent_id IS NOT NULL
	 GROUP BY t.shop_id, t.agent_id, t.day;

	-- Conversations, resolution, first-contact resolution and inquiries (day opened).
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, conversations, closed_conversations,
		handle_us, resolved_conversations, resolution_us, fcr_conversations, inquiries)
	SELECT c.shop_id, c.agent_id, (c.opened_at AT TIME ZONE z.timezone)::date,
		   count(*),
		   count(c.closed_at),
		   coalesce(sum(kpi.microseconds(c.closed_at - c.opened_at)), 0),
		   count(c.resolved_at),
		   coalesce(sum(kpi.microseconds(c.resolved_at - c.opened_at)), 0),
		   count(*) FILTER (WHERE c.resolved_at IS NOT NULL AND NOT EXISTS (
				SELECT FROM kpi.conversations n
				 WHERE n.shop_id = c.shop_id AND n.customer_id = c.customer_id
				   AND n.opened_at > c.resolved_at
				   AND n.opened_at <= c.resolved_at + (SELECT st.fcr_window FROM kpi.settings st))),
		   count(DISTINCT c.customer_id)
	  FROM kpi.conversations c
	  JOIN kpi.shop_zones z ON z.shop_id = c.shop_id
	 WHERE c.agent_id IS NOT NULL
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET conversations = excluded.conversations,
		   closed_conversations = excluded.closed_conversations,
		   handle_us = excluded.handle_us,
		   resolved_conversations = excluded.resolved_conversations,
		   resolution_us = excluded.resolution_us,
		   fcr_conversations = excluded.fcr_conversations,
		   inquiries = excluded.inquiries;

	-- Conversion: attributed orders on the day their conversation opened.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, ordering_customers, paying_customers,
		attributed_orders, attributed_paid_orders, paid_amount, paid_items)
	SELECT a.shop_id, a.agent_id, a.day,
		   count(DISTINCT o.customer_id),
		   count(DISTINCT o.customer_id) FILTER (WHERE o.paid_at IS NOT NULL),
		   count(*),
		   count(o.paid_at),
		   coalesce(sum(o.amount) FILTER (WHERE o.paid_at IS NOT NULL), 0),
		   coalesce(sum(o.items) FILTER (WHERE o.paid_at IS NOT NULL), 0)
	  FROM kpi.order_attribution a
	  JOIN kpi.orders o ON o.order_id = a.order_id
	 WHERE a.agent_id IS NOT NULL
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET ordering_customers = excluded.ordering_customers,
		   paying_customers = excluded.paying_customers,
		   attributed_orders = excluded.attributed_orders,
		   attributed_paid_orders = excluded.attributed_paid_orders,
		   paid_amount = excluded.paid_amount,
		   paid_items = excluded.paid_items;

	-- Sales quality: refunds on attributed orders by the day requested, attributed orders by
	-- the day paid.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, sales_refunds, sales_paid_orders)
	SELECT shop_id, agent_id, day, sum(refunds), sum(paid)
	  FROM (SELECT a.shop_id, a.agent_id, (r.requested_at AT TIME ZONE z.timezone)::date AS day,
				   1 AS refunds, 0 AS paid
			  FROM kpi.refunds r
			  JOIN kpi.order_attribution a ON a.order_id = r.order_id
			  JOIN kpi.shop_zones z ON z.shop_id = r.shop_id
			 WHERE a.agent_id IS NOT NULL
			UNION ALL
			SELECT a.shop_id, a.agent_id, (o.paid_at AT TIME ZONE z.timezone)::date, 0, 1
			  FROM kpi.orders o
			  JOIN kpi.order_attribution a ON a.order_id = o.order_id
			  JOIN kpi.shop_zones z ON z.shop_id = o.shop_id
			 WHERE a.agent_id IS NOT NULL AND o.paid_at IS NOT NULL) x
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET sales_refunds = excluded.sales_refunds,
		   sales_paid_orders = excluded.sales_paid_orders;

	-- After-sale handling: requests by the day requested, completions by the day completed.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, handled_refunds, handled_disputes,
		completed_refunds, merchant_completed_refunds, completion_us)
	SELECT shop_id, agent_id, day, sum(requested), sum(disputed), sum(completed), sum(merchant),
		   sum(completion_us)
	  FROM (SELECT r.shop_id, r.agent_id, (r.requested_at AT TIME ZONE z.timezone)::date AS day,
				   1 AS requested, r.disputed::int AS disputed, 0 AS completed, 0 AS merchant,
				   0::bigint AS completion_us
			  FROM kpi.refunds r
			  JOIN kpi.shop_zones z ON z.shop_id = r.shop_id
			 WHERE r.agent_id IS NOT NULL
			UNION ALL
			SELECT r.shop_id, r.agent_id, (r.completed_at AT TIME ZONE z.timezone)::date, 0, 0, 1,
				   (r.completed_by = 'merchant')::int, kpi.microseconds(r.completed_at - r.requested_at)
			  FROM kpi.refunds r
			  JOIN kpi.shop_zones z ON z.shop_id = r.shop_id
			 WHERE r.agent_id IS NOT NULL AND r.completed_at IS NOT NULL) x
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET handled_refunds = excluded.handled_refunds,
		   handled_disputes = excluded.handled_disputes,
		   completed_refunds = excluded.completed_refunds,
		   merchant_completed_refunds = excluded.merchant_completed_refunds,
		   completion_us = excluded.completion_us;

	-- Complaints and ratings, charged to their agent, else their conversation's, else the agent
	-- their order is attributed to.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, complaints, csat_ratings,
		csat_positive, csat_score_sum, review_ratings, review_positive, review_score_sum,
		dsr_ratings, dsr_score_sum)
	SELECT x.shop_id, x.agent_id, x.day,
		   count(*) FILTER (WHERE x.kind = 'complaint'),
		   count(*) FILTER (WHERE x.kind = 'csat'),
		   count(*) FILTER (WHERE x.kind = 'csat' AND x.score >= 4),
		   coalesce(sum(x.score) FILTER (WHERE x.kind = 'csat'), 0),
		   count(*) FILTER (WHERE x.kind = 'review'),
		   count(*) FILTER (WHERE x.kind = 'review' AND x.score >= 4),
		   coalesce(sum(x.score) FILTER (WHERE x.kind = 'review'), 0),
		   count(*) FILTER (WHERE x.kind = 'dsr_service'),
		   coalesce(sum(x.score) FILTER (WHERE x.kind = 'dsr_service'), 0)
	  FROM (SELECT e.shop_id, coalesce(e.agent_id, c.agent_id, a.agent_id) AS agent_id,
				   (e.at AT TIME ZONE z.timezone)::date AS day, e.kind, e.score
			  FROM (SELECT shop_id, agent_id, conversation_id, order_id, filed_at AS at,
						   'complaint' AS kind, NULL::smallint AS score
					  FROM kpi.complaints
					UNION ALL
					SELECT shop_id, agent_id, conversation_id, order_id, rated_at, kind, score
					  FROM kpi.ratings) e
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
			  LEFT JOIN kpi.conversations c ON c.conversation_id = e.conversation_id
			  LEFT JOIN kpi.order_attribution a ON a.order_id = e.order_id) x
	 WHERE x.agent_id IS NOT NULL
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET complaints = excluded.complaints,
		   csat_ratings = excluded.csat_ratings,
		   csat_positive = excluded.csat_positive,
		   csat_score_sum = excluded.csat_score_sum,
		   review_ratings = excluded.review_ratings,
		   review_positive = excluded.review_positive,
		   review_score_sum = excluded.review_score_sum,
		   dsr_ratings = excluded.dsr_ratings,
		   dsr_score_sum = excluded.dsr_score_sum;

	-- Online time: the union of each agent's sessions in a shop, cut at the shop's midnights.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, online_us)
	SELECT u.shop_id, u.agent_id, p.day,
		   sum(kpi.microseconds(least(upper(u.r), p.day_end) - greatest(lower(u.r), p.day_start)))
	  FROM (SELECT s.shop_id, s.agent_id, unnest(range_agg(s.online)) AS r
			  FROM kpi.agent_sessions s
			 GROUP BY 1, 2) u
	  JOIN kpi.shop_zones z ON z.shop_id = u.shop_id
	 CROSS JOIN LATERAL (
			SELECT day::date AS day,
				   day::date::timestamp AT TIME ZONE z.timezone AS day_start,
				   (day::date + 1)::timestamp AT TIME ZONE z.timezone AS day_end
			  FROM generate_series((lower(u.r) AT TIME ZONE z.timezone)::date::timestamp,
								   (upper(u.r) AT TIME ZONE z.timezone)::date::timestamp,
								   interval '1 day') day) p
	 WHERE upper(u.r) > p.day_start AND lower(u.r) < p.day_end
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET online_us = excluded.online_us;

	SELECT count(*) INTO n FROM kpi.agent_days;
	step := 'agent_days'; rows := n; seconds := extract(epoch FROM clock_timestamp() - started);
	RETURN NEXT;

	-- Shop days -----------------------------------------------------------------------------
	started := clock_timestamp();
	DELETE FROM kpi.shop_days;
	INSERT INTO kpi.shop_days (shop_id, day, orders_paid, refunds_requested, disputed_refunds,
		complaints, refunds_completed, merchant_completed_refunds, completion_us, dsr_ratings,
		dsr_score_sum)
	SELECT x.shop_id, (x.at AT TIME ZONE z.timezone)::date,
		   count(*) FILTER (WHERE x.what = 'paid'),
		   count(*) FILTER (WHERE x.what = 'requested'),
		   count(*) FILTER (WHERE x.what = 'requested' AND x.flag),
		   count(*) FILTER (WHERE x.what = 'complaint'),
		   count(*) FILTER (WHERE x.what = 'completed'),
		   count(*) FILTER (WHERE x.what = 'completed' AND x.flag),
		   coalesce(sum(x.us) FILTER (WHERE x.what = 'completed'), 0),
		   count(*) FILTER (WHERE x.what = 'dsr'),
		   coalesce(sum(x.us) FILTER (WHERE x.what = 'dsr'), 0)
	  FROM (SELECT shop_id, paid_at AS at, 'paid' AS what, NULL::boolean AS flag, NULL::bigint AS us
			  FROM kpi.orders WHERE paid_at IS NOT NULL
			UNION ALL
			SELECT shop_id, requested_at, 'requested', disputed, NULL FROM kpi.refunds
			UNION ALL
			SELECT shop_id, completed_at, 'completed', completed_by = 'merchant',
				   kpi.microseconds(completed_at - requested_at)
			  FROM kpi.refunds WHERE completed_at IS NOT NULL
			UNION ALL
			SELECT shop_id, filed_at, 'complaint', NULL, NULL FROM kpi.complaints
			UNION ALL
			SELECT shop_id, rated_at, 'dsr', NULL, score FROM kpi.ratings WHERE kind = 'dsr_service') x
	  JOIN kpi.shop_zones z ON z.shop_id = x.shop_id
	 GROUP BY 1, 2;
	GET DIAGNOSTICS n = ROW_COUNT;
	step := 'shop_days'; rows := n; seconds := extract(epoch FROM clock_timestamp() - started);
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION kpi.refresh(boolean) IS
	'derive kpi.turns, kpi.order_attribution, kpi.agent_days and kpi.shop_days from the base tables; '
	'returns one row per step (rows, seconds). This version always rebuilds everything';

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
