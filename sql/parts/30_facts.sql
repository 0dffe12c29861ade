-- Derived data, filled by kpi.refresh(): reply turns, order attribution and the charged agent of
-- complaints and ratings (one row per event), and the daily facts per shop, agent and day.
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

CREATE TABLE kpi.feedback_charges (
	source text NOT NULL,
	id bigint NOT NULL,
	shop_id int NOT NULL,
	agent_id int,
	day date NOT NULL,
	kind text NOT NULL,
	score smallint,
	PRIMARY KEY (source, id)
);
COMMENT ON TABLE kpi.feedback_charges IS
	'every complaint and rating with the agent it is charged to: its own agent_id, else its conversation''s '
	'agent, else the agent its order is attributed to; NULL counts at shop level only';
COMMENT ON COLUMN kpi.feedback_charges.source IS 'complaint or rating';
COMMENT ON COLUMN kpi.feedback_charges.id IS 'complaint_id or rating_id';
COMMENT ON COLUMN kpi.feedback_charges.day IS 'the day filed or rated, in the shop''s time zone';
COMMENT ON COLUMN kpi.feedback_charges.kind IS 'complaint, csat, review or dsr_service';
COMMENT ON COLUMN kpi.feedback_charges.score IS 'the rating''s score 1..5; NULL for a complaint';
CREATE INDEX feedback_charges_agent_day ON kpi.feedback_charges (agent_id, day);
CREATE INDEX feedback_charges_shop_day ON kpi.feedback_charges (shop_id, day);

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
-- Reports read an agent's days across shops (kpi.agent_metrics over a period).
CREATE INDEX agent_days_agent_day ON kpi.agent_days (agent_id, day);
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

