-- Daily facts and every non-response metric, on a small two-shop data set whose figures are
-- worked out by hand in the comments; then the rolling views against agent_metrics over every
-- window of a generated shop.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(24);

-- Shop 1 on Shanghai time (+08, no DST); shop 2 on Paris time, which falls back from 03:00 CEST
-- to 02:00 CET on 2026-10-25, a 25-hour day.
INSERT INTO kpi.shops VALUES (1, 'tmall', 'tmall', 'Asia/Shanghai'), (2, 'paris', 'shopify', 'Europe/Paris');
INSERT INTO kpi.agents (agent_id, login, team, role) VALUES
	(1, 'pre', 'A', 'presale'), (2, 'after', 'A', 'aftersale'), (3, 'fr', 'B', 'general');

INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at, closed_at, resolved_at) VALUES
	-- customer 1001 comes back on the 5th, within 7 days: c1 is not first-contact resolved
	(1, 1, 1001, 1, '2026-11-02 10:00+08', '2026-11-02 10:30+08', '2026-11-02 10:20+08'),
	(2, 1, 1001, 1, '2026-11-05 09:00+08', '2026-11-05 09:10+08', NULL),
	-- resolved and never back: first-contact resolved
	(3, 1, 1002, 1, '2026-11-02 20:00+08', '2026-11-02 21:00+08', '2026-11-02 21:00+08'),
	(4, 1, 1003, 2, '2026-11-02 11:00+08', NULL, NULL),
	-- two conversations of customer 1004 at the same instant: orders go to the larger id, 6
	(5, 1, 1004, 1, '2026-11-03 10:00+08', NULL, NULL),
	(6, 1, 1004, 2, '2026-11-03 10:00+08', NULL, NULL),
	-- unassigned
	(7, 1, 1005, NULL, '2026-11-03 12:00+08', NULL, NULL),
	-- Paris: 01:30 CEST (23:30 UTC the day before) is shop day 10-25; closed 02:40 CET, 130
	-- real minutes later; resolved 02:30 CET (120 min). Customer back at 23:30 CET: not FCR.
	(8, 2, 2001, 3, '2026-10-25 01:30+02', '2026-10-25 02:40+01', '2026-10-25 02:30+01'),
	(9, 2, 2001, 3, '2026-10-25 23:30+01', NULL, '2026-10-26 00:30+01');

INSERT INTO kpi.orders (order_id, shop_id, customer_id, placed_at, paid_at, amount, items) VALUES
	-- exactly 24 h after c1 opened: attributed to c1 (agent 1, day 11-02)
	(1, 1, 1001, '2026-11-03 10:00+08', '2026-11-03 10:05+08', 100, 2),
	-- 24 h + 1 us after c3: silent
	(2, 1, 1002, '2026-11-03 20:00:00.000001+08', '2026-11-03 20:10+08', 50, 1),
	-- the tie: both to c6 (agent 2, day 11-03); o3 is never paid
	(3, 1, 1004, '2026-11-03 11:00+08', NULL, 80, 1),
	(4, 1, 1004, '2026-11-03 12:00+08', '2026-11-03 12:30+08', 200, 3),
	-- to the unassigned c7: credits nobody
	(5, 1, 1005, '2026-11-03 13:00+08', '2026-11-03 13:05+08', 70, 1),
	-- to c2 (agent 1, day 11-05): c1 is too old by then
	(6, 1, 1001, '2026-11-05 09:30+08', '2026-11-05 09:40+08', 30, 1),
	-- Paris: to c8 (agent 3, day 10-25); c9 opens after it
	(7, 2, 2001, '2026-10-25 10:00+01', '2026-10-25 10:05+01', 40, 1),
	-- a customer who never wrote: silent
	(8, 1, 9999, '2026-11-04 10:00+08', '2026-11-04 10:01+08', 10, 1);

INSERT INTO kpi.refunds (refund_id, shop_id, order_id, agent_id, requested_at, completed_at, outcome, completed_by, disputed) VALUES
	-- on agent 1's sale, handled by agent 2, completed 16 days later by the merchant
	(1, 1, 1, 2, '2026-11-04 09:00+08', '2026-11-20 09:00+08', 'refunded', 'merchant', false),
	-- on agent 2's sale, handled by agent 2, disputed, completed by the platform in 2 h
	(2, 1, 4, 2, '2026-11-04 10:00+08', '2026-11-04 12:00+08', 'refunded', 'platform', true),
	-- on a silent order, no handling agent, disputed, pending
	(3, 1, 2, NULL, '2026-11-04 11:00+08', NULL, NULL, NULL, true),
	-- Paris, agent 3's sale and handling, 1 h
	(4, 2, 7, 3, '2026-10-26 10:00+01', '2026-10-26 11:00+01', 'rejected', 'merchant', false);

INSERT INTO kpi.complaints (complaint_id, shop_id, agent_id, conversation_id, order_id, filed_at) VALUES
	(1, 1, 1, 4, NULL, '2026-11-04 09:00+08'),		-- names agent 1 although c4 is agent 2's
	(2, 1, NULL, 4, NULL, '2026-11-04 10:00+08'),	-- through c4: agent 2
	(3, 1, NULL, 7, 4, '2026-11-05 10:00+08'),		-- c7 has no agent; order 4: agent 2
	(4, 1, NULL, NULL, 8, '2026-11-05 11:00+08');	-- silent order: shop level only

INSERT INTO kpi.ratings (rating_id, shop_id, agent_id, conversation_id, order_id, rated_at, kind, score) VALUES
	(1, 1, NULL, 1, NULL, '2026-11-02 11:00+08', 'csat', 5),	-- agent 1 through c1
	(2, 1, NULL, 3, NULL, '2026-11-02 22:00+08', 'csat', 3),	-- agent 1 through c3, not positive
	(3, 1, 2, 1, NULL, '2026-11-03 09:00+08', 'csat', 4),		-- names agent 2
	(4, 1, NULL, NULL, 4, '2026-11-06 09:00+08', 'review', 5),	-- agent 2 through order 4
	(5, 1, NULL, NULL, 2, '2026-11-06 10:00+08', 'review', 1),	-- silent order: shop only
	(6, 1, NULL, NULL, 1, '2026-11-06 11:00+08', 'dsr_service', 4),	-- agent 1 through order 1
	(7, 1, NULL, NULL, 6, '2026-11-07 11:00+08', 'dsr_service', 5),	-- agent 1 through order 6
	(8, 1, NULL, NULL, 8, '2026-11-07 12:00+08', 'dsr_service', 2);	-- shop only

INSERT INTO kpi.agent_sessions (shop_id, agent_id, online) VALUES
	-- overlapping, across midnight: 08:00 to 01:00 is 16 h on the 2nd and 1 h on the 3rd
	(1, 1, '[2026-11-02 08:00+08, 2026-11-02 12:00+08)'),
	(1, 1, '[2026-11-02 11:00+08, 2026-11-03 01:00+08)'),
	(1, 1, '[2026-11-03 09:00+08, 2026-11-03 10:30+08)'),	-- 1.5 h more on the 3rd
	-- the whole 25-hour Paris day
	(2, 3, '[2026-10-25 00:00+02, 2026-10-26 00:00+01)');

SELECT results_eq($$SELECT step FROM kpi.refresh()$$,
	$$VALUES ('changes'), ('turns'), ('order_attribution'), ('feedback_charges'), ('agent_days'), ('shop_days'), ('scorecard_history')$$, 'refresh runs every step');

SELECT results_eq($$SELECT order_id, conversation_id, agent_id, day FROM kpi.order_attribution ORDER BY 1$$,
	$$VALUES (1::bigint, 1::bigint, 1, '2026-11-02'::date), (3, 6, 2, '2026-11-03'), (4, 6, 2, '2026-11-03'),
			 (5, 7, NULL, '2026-11-03'), (6, 2, 1, '2026-11-05'), (7, 8, 3, '2026-10-25')$$,
	'attribution: 24 h in, 24 h + 1 us out, ties to the larger id, silent orders have no row');

SELECT results_eq($$
	SELECT shop_id, agent_id, day, conversations, closed_conversations, handle_us,
		   resolved_conversations, resolution_us, fcr_conversations, inquiries
	  FROM kpi.agent_days WHERE conversations > 0 ORDER BY 1, 2, 3$$,
	$$VALUES (1, 1, '2026-11-02'::date, 2::bigint, 2::bigint, 5400000000::bigint, 2::bigint, 4800000000::bigint, 1::bigint, 2::bigint),
			 (1, 1, '2026-11-03', 1, 0, 0, 0, 0, 0, 1),
			 (1, 1, '2026-11-05', 1, 1, 600000000, 0, 0, 0, 1),
			 (1, 2, '2026-11-02', 1, 0, 0, 0, 0, 0, 1),
			 (1, 2, '2026-11-03', 1, 0, 0, 0, 0, 0, 1),
			 (2, 3, '2026-10-25', 2, 1, 7800000000, 2, 10800000000, 1, 1)$$,
	'conversation facts: handling and resolution in real time across DST, FCR, distinct inquiries');

SELECT results_eq($$
	SELECT shop_id, agent_id, day, ordering_customers, paying_customers, attributed_orders,
		   attributed_paid_orders, paid_amount, paid_items
	  FROM kpi.agent_days WHERE attributed_orders > 0 ORDER BY 1, 2, 3$$,
	$$VALUES (1, 1, '2026-11-02'::date, 1::bigint, 1::bigint, 1::bigint, 1::bigint, 100::numeric, 2::bigint),
			 (1, 1, '2026-11-05', 1, 1, 1, 1, 30, 1),
			 (1, 2, '2026-11-03', 1, 1, 2, 1, 200, 3),
			 (2, 3, '2026-10-25', 1, 1, 1, 1, 40, 1)$$,
	'conversion facts on the day the attributed conversation opened');

SELECT results_eq($$
	SELECT shop_id, agent_id, day, sales_refunds, sales_paid_orders, handled_refunds, handled_disputes,
		   completed_refunds, merchant_completed_refunds, completion_us
	  FROM kpi.agent_days
	 WHERE sales_refunds + sales_paid_orders + handled_refunds + completed_refunds > 0 ORDER BY 1, 2, 3$$,
	$$VALUES (1, 1, '2026-11-03'::date, 0::bigint, 1::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint),
			 (1, 1, '2026-11-04', 1, 0, 0, 0, 0, 0, 0),
			 (1, 1, '2026-11-05', 0, 1, 0, 0, 0, 0, 0),
			 (1, 2, '2026-11-03', 0, 1, 0, 0, 0, 0, 0),
			 (1, 2, '2026-11-04', 1, 0, 2, 1, 1, 0, 7200000000),
			 (1, 2, '2026-11-20', 0, 0, 0, 0, 1, 1, 1382400000000),
			 (2, 3, '2026-10-25', 0, 1, 0, 0, 0, 0, 0),
			 (2, 3, '2026-10-26', 1, 0, 1, 0, 1, 1, 3600000000)$$,
	'refund facts: sales by request and payment day, handling by request day, completions by completion day');

SELECT results_eq($$
	SELECT agent_id, day, complaints, csat_ratings, csat_positive, csat_score_sum, review_ratings,
		   review_positive, dsr_ratings, dsr_score_sum
	  FROM kpi.agent_days WHERE complaints + csat_ratings + review_ratings + dsr_ratings > 0 ORDER BY 1, 2$$,
	$$VALUES (1, '2026-11-02'::date, 0::bigint, 2::bigint, 1::bigint, 8::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint),
			 (1, '2026-11-04', 1, 0, 0, 0, 0, 0, 0, 0),
			 (1, '2026-11-06', 0, 0, 0, 0, 0, 0, 1, 4),
			 (1, '2026-11-07', 0, 0, 0, 0, 0, 0, 1, 5),
			 (2, '2026-11-03', 0, 1, 1, 4, 0, 0, 0, 0),
			 (2, '2026-11-04', 1, 0, 0, 0, 0, 0, 0, 0),
			 (2, '2026-11-05', 1, 0, 0, 0, 0, 0, 0, 0),
			 (2, '2026-11-06', 0, 0, 0, 0, 1, 1, 0, 0)$$,
	'complaints and ratings charged: named agent, else conversation''s, else the order''s attributed agent');

SELECT results_eq($$SELECT agent_id, day, online_us FROM kpi.agent_days WHERE online_us > 0 ORDER BY 1, 2$$,
	$$VALUES (1, '2026-11-02'::date, 57600000000::bigint), (1, '2026-11-03', 9000000000),
			 (3, '2026-10-25', 90000000000)$$,
	'online time: overlaps counted once, cut at the shop''s midnight, 25 h on the DST day');

SELECT results_eq($$
	SELECT agent_id, conversations, avg_handle_s, resolution_rate, avg_resolution_s, fcr_rate,
		   inquiries, inquiry_conversion_rate, order_conversion_rate, payment_rate, inquiry_aov, items_per_buyer
	  FROM kpi.agent_metrics('2026-11-01', '2026-11-07')$$,
	$$VALUES (1, 4::bigint, 2000::float8, 0.5::float8, 2400::float8, 0.25::float8, 4::bigint, 0.5::float8, 0.5::float8, 1::float8, 65.00::numeric, 1.5::float8),
			 (2, 2, NULL, 0, NULL, 0, 2, 0.5, 0.5, 0.5, 200.00, 3),
			 (3, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL)$$,
	'conversation and conversion metrics over a week; zero denominators give NULL');

SELECT results_eq($$
	SELECT agent_id, refund_rate, dispute_share, self_completion_rate, avg_refund_completion_s, complaint_rate
	  FROM kpi.agent_metrics('2026-11-01', '2026-11-07')$$,
	$$VALUES (1, 0.5::float8, NULL::float8, NULL::float8, NULL::float8, 0.25::float8),
			 (2, 1, 0.5, 0, 7200, 1),
			 (3, NULL, NULL, NULL, NULL, NULL)$$,
	'after-sale metrics over the first week: the 16-day completion is not in it yet');
SELECT results_eq($$
	SELECT agent_id, dispute_share, self_completion_rate, avg_refund_completion_s
	  FROM kpi.agent_metrics('2026-11-01', '2026-11-30') WHERE agent_id = 2$$,
	$$VALUES (2, 0.5::float8, 0.5::float8, 694800::float8)$$,
	'over the month the late completion counts');

SELECT results_eq($$
	SELECT agent_id, csat_rate, good_review_rate, dsr_service, online_hours
	  FROM kpi.agent_metrics('2026-11-01', '2026-11-07')$$,
	$$VALUES (1, 0.5::float8, NULL::float8, 4.5::float8, 18.5::float8), (2, 1, 1, NULL, 0), (3, NULL, NULL, NULL, 0)$$,
	'ratings and presence');

SELECT results_eq($$
	SELECT agent_id, conversations, avg_handle_s, avg_resolution_s, fcr_rate, inquiries, refund_rate,
		   dispute_share, online_hours
	  FROM kpi.agent_metrics('2026-10-25', '2026-10-26', 2)$$,
	$$VALUES (1, 0::bigint, NULL::float8, NULL::float8, NULL::float8, 0::bigint, NULL::float8, NULL::float8, 0::float8),
			 (2, 0, NULL, NULL, NULL, 0, NULL, NULL, 0),
			 (3, 2, 7800, 5400, 0.5, 1, 1, 0, 25)$$,
	'the Paris shop alone, over its DST weekend');

SELECT results_eq($$
	SELECT shop_id, day, orders_paid, refunds_requested, disputed_refunds, complaints, refunds_completed,
		   merchant_completed_refunds, completion_us, dsr_ratings, dsr_score_sum
	  FROM kpi.shop_days ORDER BY 1, 2$$,
	$$VALUES (1, '2026-11-03'::date, 4::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint),
			 (1, '2026-11-04', 1, 3, 2, 2, 1, 0, 7200000000, 0, 0),
			 (1, '2026-11-05', 1, 0, 0, 2, 0, 0, 0, 0, 0),
			 (1, '2026-11-06', 0, 0, 0, 0, 0, 0, 0, 1, 4),
			 (1, '2026-11-07', 0, 0, 0, 0, 0, 0, 0, 2, 7),
			 (1, '2026-11-20', 0, 0, 0, 0, 1, 1, 1382400000000, 0, 0),
			 (2, '2026-10-25', 1, 0, 0, 0, 0, 0, 0, 0, 0),
			 (2, '2026-10-26', 0, 1, 0, 0, 1, 1, 3600000000, 0, 0)$$,
	'shop days count everything, silent orders and shop-level complaints included');

SELECT results_eq($$
	SELECT day, orders_paid_28d, refund_rate_28d, dispute_rate_28d, complaint_rate_28d,
		   self_completion_rate_28d, avg_refund_completion_s_28d, dsr_service_180d
	  FROM kpi.shop_rolling WHERE shop_id = 1 AND day IN ('2026-11-03', '2026-11-07', '2026-11-20')$$,
	$$VALUES ('2026-11-03'::date, 4::bigint, 0::float8, 0::float8, 0::float8, NULL::float8, NULL::float8, NULL::float8),
			 ('2026-11-07', 6, 0.5, 2/6::float8, 4/6::float8, 0, 7200, 11/3::float8),
			 ('2026-11-20', 6, 0.5, 2/6::float8, 4/6::float8, 0.5, 694800, 11/3::float8)$$,
	'shop rolling 28-day rates, the platforms'' definitions');
SELECT is((SELECT count(*)::int FROM kpi.shop_rolling WHERE shop_id = 1), 18,
	'the shop series is dense: every day from 11-03 to 11-20');
SELECT results_eq($$
	SELECT day, orders_paid_28d, refund_rate_28d FROM kpi.shop_rolling
	 WHERE shop_id = 1 AND day IN ('2026-11-10', '2026-11-30')$$,
	$$VALUES ('2026-11-10'::date, 6::bigint, 0.5::float8)$$,
	'a quiet day carries the window; days past the last fact are not invented');

SELECT results_eq($$
	SELECT day, dispute_share_28d, self_completion_rate_28d, avg_refund_completion_s_28d, complaint_rate_28d
	  FROM kpi.agent_rolling WHERE agent_id = 2 AND day IN ('2026-11-02', '2026-11-04', '2026-11-20')$$,
	$$VALUES ('2026-11-02'::date, NULL::float8, NULL::float8, NULL::float8, 0::float8),
			 ('2026-11-04', 0.5, 0, 7200, 0.5),
			 ('2026-11-20', 0.5, 0.5, 694800, 1)$$,
	'agent rolling 28-day after-sale figures');

-- Rolling windows equal period metrics, on a generated shop ----------------------------------
DELETE FROM kpi.agent_sessions; DELETE FROM kpi.ratings; DELETE FROM kpi.complaints;
DELETE FROM kpi.refunds; DELETE FROM kpi.orders; DELETE FROM kpi.conversations;
DELETE FROM kpi.agents; DELETE FROM kpi.shops WHERE shop_id > 1;
\set QUIET on
\i test/sample_shop.psql
\set QUIET off
SELECT lives_ok('SELECT kpi.refresh()', 'refresh of the generated shop');
SELECT cmp_ok((SELECT count(*)::int FROM kpi.agent_rolling), '>', 100, 'the rolling series has rows');
SELECT is_empty($$
	SELECT r.agent_id, r.day
	  FROM kpi.agent_rolling r
	 CROSS JOIN LATERAL kpi.agent_metrics(r.day - 27, r.day) m
	 WHERE m.agent_id = r.agent_id
	   AND ((r.refund_rate_28d, r.dispute_share_28d, r.self_completion_rate_28d, r.complaint_rate_28d,
			r.response_sla_rate_28d, r.csat_rate_28d, r.p90_response_s_28d)
		   IS DISTINCT FROM
		   (m.refund_rate, m.dispute_share, m.self_completion_rate, m.complaint_rate,
			m.response_sla_rate, m.csat_rate, m.p90_response_s)
		OR abs(r.avg_response_s_28d - m.avg_response_s) > 1e-9 * m.avg_response_s
		OR abs(r.avg_refund_completion_s_28d - m.avg_refund_completion_s) > 1e-9 * m.avg_refund_completion_s
		OR (r.avg_response_s_28d IS NULL) <> (m.avg_response_s IS NULL))$$,
	'every agent and day: the 28-day figure as of D equals agent_metrics(D - 27, D)');
SELECT is_empty($$
	SELECT r.agent_id, r.day
	  FROM kpi.agent_rolling r
	 CROSS JOIN LATERAL kpi.agent_metrics(r.day - 179, r.day) m
	 WHERE m.agent_id = r.agent_id AND r.dsr_service_180d IS DISTINCT FROM m.dsr_service$$,
	'and the 180-day DSR equals agent_metrics(D - 179, D)');
SELECT is_empty($$
	SELECT agent_id FROM kpi.agent_rolling GROUP BY agent_id
	HAVING count(*) <> max(day) - min(day) + 1$$,
	'each agent''s series is dense');
SELECT ok((SELECT count(*) FROM kpi.agent_rolling WHERE p90_response_s_28d IS NOT NULL) > 0
		  AND (SELECT count(*) FROM kpi.agent_rolling WHERE refund_rate_28d IS NOT NULL) > 0
		  AND (SELECT count(*) FROM kpi.agent_rolling WHERE dsr_service_180d IS NOT NULL) > 0,
	'and the compared figures are not all NULL');
SELECT is_empty($$
	SELECT s.shop_id, s.day FROM kpi.shop_rolling s
	 WHERE s.refund_rate_28d IS DISTINCT FROM (
		SELECT sum(refunds_requested)::float8 / nullif(sum(orders_paid), 0) FROM kpi.shop_days d
		 WHERE d.shop_id = s.shop_id AND d.day BETWEEN s.day - 27 AND s.day)$$,
	'shop rolling refund rate equals a recomputation of each window');

SELECT * FROM finish();
ROLLBACK;
