-- The nightly refresh: a full rebuild, the incremental refresh after one new day of data, and
-- after a day of late edits to old data, each against the full rebuild on the same data.

-- @job full refresh (turns, attribution, charges, agent and shop days, scorecard history)
-- @rows
SELECT count(*) FROM kpi.messages;
-- @ours
SELECT count(*) FROM kpi.refresh(full => true);
-- @floor one grouped pass over messages
SELECT count(*) FROM (SELECT conversation_id, count(*) FROM kpi.messages GROUP BY 1) s;
-- @runs 3

-- @job incremental refresh after one new day (yesterday, the last of the 50), against a full rebuild
-- @setup
-- The last day D of each shop, as a nightly refresh sees it: nothing after D exists yet (the
-- generator's later refund completions, ratings, ... are dropped for good), and the day's own
-- events, plus the columns of older rows that D filled in (closed, resolved, paid, completed),
-- are held aside to be loaded again before each timed refresh.
CREATE TABLE kpi_bench_cut AS
SELECT z.shop_id, d.day::timestamp AT TIME ZONE z.timezone AS cut,
	   (d.day + 1)::timestamp AT TIME ZONE z.timezone AS ends
  FROM kpi.shop_zones z
 CROSS JOIN LATERAL (SELECT max((c.opened_at AT TIME ZONE z.timezone)::date) AS day
					   FROM kpi.conversations c WHERE c.shop_id = z.shop_id) d
 WHERE d.day IS NOT NULL;
DELETE FROM kpi.ratings x USING kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.rated_at >= b.ends;
DELETE FROM kpi.complaints x USING kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.filed_at >= b.ends;
UPDATE kpi.complaints x SET resolved_at = NULL FROM kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.resolved_at >= b.ends;
DELETE FROM kpi.refunds x USING kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.requested_at >= b.ends;
UPDATE kpi.refunds x SET completed_at = NULL, outcome = NULL, completed_by = NULL
  FROM kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.completed_at >= b.ends;
DELETE FROM kpi.orders x USING kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.placed_at >= b.ends;
UPDATE kpi.orders x SET paid_at = NULL FROM kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.paid_at >= b.ends;
DELETE FROM kpi.messages x USING kpi_bench_cut b WHERE b.shop_id = x.shop_id AND x.sent_at >= b.ends;
UPDATE kpi.conversations x SET closed_at = CASE WHEN x.closed_at < b.ends THEN x.closed_at END,
							  resolved_at = CASE WHEN x.resolved_at < b.ends THEN x.resolved_at END
  FROM kpi_bench_cut b WHERE b.shop_id = x.shop_id AND (x.closed_at >= b.ends OR x.resolved_at >= b.ends);
DELETE FROM kpi.agent_sessions x USING kpi_bench_cut b WHERE b.shop_id = x.shop_id AND lower(x.online) >= b.ends;
-- The day itself.
CREATE TABLE kpi_bench_conversations AS
SELECT x.* FROM kpi.conversations x JOIN kpi_bench_cut b USING (shop_id) WHERE x.opened_at >= b.cut;
CREATE TABLE kpi_bench_messages AS
SELECT x.* FROM kpi.messages x JOIN kpi_bench_cut b USING (shop_id) WHERE x.sent_at >= b.cut;
CREATE TABLE kpi_bench_closed AS
SELECT x.conversation_id, x.closed_at, x.resolved_at FROM kpi.conversations x JOIN kpi_bench_cut b USING (shop_id)
 WHERE x.opened_at < b.cut AND (x.closed_at >= b.cut OR x.resolved_at >= b.cut);
CREATE TABLE kpi_bench_orders AS
SELECT x.* FROM kpi.orders x JOIN kpi_bench_cut b USING (shop_id) WHERE x.placed_at >= b.cut;
CREATE TABLE kpi_bench_paid AS
SELECT x.order_id, x.paid_at FROM kpi.orders x JOIN kpi_bench_cut b USING (shop_id)
 WHERE x.placed_at < b.cut AND x.paid_at >= b.cut;
CREATE TABLE kpi_bench_refunds AS
SELECT x.* FROM kpi.refunds x JOIN kpi_bench_cut b USING (shop_id) WHERE x.requested_at >= b.cut;
CREATE TABLE kpi_bench_completed AS
SELECT x.refund_id, x.completed_at, x.outcome, x.completed_by FROM kpi.refunds x JOIN kpi_bench_cut b USING (shop_id)
 WHERE x.requested_at < b.cut AND x.completed_at >= b.cut;
CREATE TABLE kpi_bench_complaints AS
SELECT x.* FROM kpi.complaints x JOIN kpi_bench_cut b USING (shop_id) WHERE x.filed_at >= b.cut;
CREATE TABLE kpi_bench_ratings AS
SELECT x.* FROM kpi.ratings x JOIN kpi_bench_cut b USING (shop_id) WHERE x.rated_at >= b.cut;
CREATE TABLE kpi_bench_sessions AS
SELECT x.* FROM kpi.agent_sessions x JOIN kpi_bench_cut b USING (shop_id) WHERE lower(x.online) >= b.cut;
-- Two functions: take the day out again, and load it.
CREATE FUNCTION kpi_bench_unload() RETURNS void LANGUAGE sql BEGIN ATOMIC
	DELETE FROM kpi.ratings WHERE rating_id IN (SELECT rating_id FROM kpi_bench_ratings);
	DELETE FROM kpi.complaints WHERE complaint_id IN (SELECT complaint_id FROM kpi_bench_complaints);
	DELETE FROM kpi.refunds WHERE refund_id IN (SELECT refund_id FROM kpi_bench_refunds);
	UPDATE kpi.refunds SET completed_at = NULL, outcome = NULL, completed_by = NULL
	 WHERE refund_id IN (SELECT refund_id FROM kpi_bench_completed);
	DELETE FROM kpi.orders WHERE order_id IN (SELECT order_id FROM kpi_bench_orders);
	UPDATE kpi.orders SET paid_at = NULL WHERE order_id IN (SELECT order_id FROM kpi_bench_paid);
	DELETE FROM kpi.messages WHERE message_id IN (SELECT message_id FROM kpi_bench_messages);
	DELETE FROM kpi.conversations WHERE conversation_id IN (SELECT conversation_id FROM kpi_bench_conversations);
	UPDATE kpi.conversations SET closed_at = NULL, resolved_at = NULL
	 WHERE conversation_id IN (SELECT conversation_id FROM kpi_bench_closed);
	DELETE FROM kpi.agent_sessions s USING kpi_bench_sessions b
	 WHERE (s.shop_id, s.agent_id, s.online) = (b.shop_id, b.agent_id, b.online);
END;
CREATE FUNCTION kpi_bench_load() RETURNS void LANGUAGE sql BEGIN ATOMIC
	INSERT INTO kpi.conversations SELECT * FROM kpi_bench_conversations;
	UPDATE kpi.conversations c SET closed_at = b.closed_at, resolved_at = b.resolved_at
	  FROM kpi_bench_closed b WHERE b.conversation_id = c.conversation_id;
	INSERT INTO kpi.messages SELECT * FROM kpi_bench_messages;
	INSERT INTO kpi.orders SELECT * FROM kpi_bench_orders;
	UPDATE kpi.orders o SET paid_at = b.paid_at FROM kpi_bench_paid b WHERE b.order_id = o.order_id;
	INSERT INTO kpi.refunds SELECT * FROM kpi_bench_refunds;
	UPDATE kpi.refunds r SET completed_at = b.completed_at, outcome = b.outcome, completed_by = b.completed_by
	  FROM kpi_bench_completed b WHERE b.refund_id = r.refund_id;
	INSERT INTO kpi.complaints SELECT * FROM kpi_bench_complaints;
	INSERT INTO kpi.ratings SELECT * FROM kpi_bench_ratings;
	INSERT INTO kpi.agent_sessions SELECT * FROM kpi_bench_sessions;
END;
SELECT kpi_bench_unload();
VACUUM ANALYZE;
SELECT count(*) FROM kpi.refresh(full => true);
-- @each
-- (the history too, so that every timed refresh starts from an up-to-date one)
SELECT kpi_bench_unload();
SELECT count(*) FROM kpi.refresh();
SELECT kpi_bench_load();
-- @rows
SELECT (SELECT count(*) FROM kpi_bench_messages) + (SELECT count(*) FROM kpi_bench_conversations)
	   + (SELECT count(*) FROM kpi_bench_orders) + (SELECT count(*) FROM kpi_bench_refunds);
-- @ours the nightly kpi.refresh(): facts and scorecard history, incremental
SELECT count(*) FROM kpi.refresh();
-- @alternative full rebuild: kpi.refresh(full => true), facts and history
SELECT count(*) FROM kpi.refresh(full => true);
-- @alternative incremental refresh of the facts alone (history => false)
SELECT count(*) FROM kpi.refresh(history => false);
-- @alternative full rebuild of the facts alone
SELECT count(*) FROM kpi.refresh(full => true, history => false);
-- @runs 3
-- @teardown
-- The data stays as the bench left it: without the generator's tail after the last day.
SELECT count(*) FROM kpi.refresh(full => true);
DROP FUNCTION kpi_bench_load(), kpi_bench_unload();
DROP TABLE kpi_bench_cut, kpi_bench_conversations, kpi_bench_messages, kpi_bench_closed,
	kpi_bench_orders, kpi_bench_paid, kpi_bench_refunds, kpi_bench_completed, kpi_bench_complaints,
	kpi_bench_ratings, kpi_bench_sessions;

-- @job incremental refresh after a day of late edits (1 % of refunds and ratings, 0.2 % of conversations), against a full rebuild
-- @setup
SELECT count(*) FROM kpi.refresh(full => true);
-- @each
-- Disputes escalated or withdrawn, ratings revised, conversations handed to a colleague
-- (agents 1<->2, 3<->4, ...; every run toggles the same rows, so each does the same work).
UPDATE kpi.refunds SET disputed = NOT disputed WHERE refund_id % 100 = 7;
UPDATE kpi.ratings SET score = 6 - score WHERE rating_id % 100 = 7;
UPDATE kpi.conversations SET agent_id = agent_id + 1 - 2 * ((agent_id + 1) % 2)
 WHERE conversation_id % 500 = 7 AND agent_id IS NOT NULL
   AND agent_id + 1 - 2 * ((agent_id + 1) % 2) IN (SELECT agent_id FROM kpi.agents);
-- @rows
SELECT (SELECT count(*) FROM kpi.refunds WHERE refund_id % 100 = 7)
	   + (SELECT count(*) FROM kpi.ratings WHERE rating_id % 100 = 7)
	   + (SELECT count(*) FROM kpi.conversations WHERE conversation_id % 500 = 7);
-- @ours incremental refresh of the facts
SELECT count(*) FROM kpi.refresh(history => false);
-- @alternative full rebuild of the facts
SELECT count(*) FROM kpi.refresh(full => true, history => false);
-- @runs 3
-- @teardown
SELECT count(*) FROM kpi.refresh();
