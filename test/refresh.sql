-- The incremental refresh: after batches of inserts, updates and deletes on every base table,
-- kpi.refresh() (incremental) leaves exactly the facts kpi.refresh(full => true) builds, row
-- for row, in every derived table; it recomputes only a few cells for a small change; changes
-- that move everything make it rebuild.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(61);

\set QUIET on
\set seed 7
\set agents 8
\set days 12
\set per_day 6
\set last_day 2026-11-10
\i test/sample_shop.psql
\set QUIET off
-- Ids for the rows the batches add.
CREATE TEMP SEQUENCE new_ids START 100000000;

-- After an incremental refresh, rebuild in full and compare every derived row (as text, so
-- sketches compare byte for byte). Returns 'incremental, equal' or what differs.
CREATE FUNCTION pg_temp.incremental_equals_full() RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	how text;
	tab text;
	bad text := '';
	n bigint;
BEGIN
	SELECT r.mode INTO how FROM kpi.refresh() r WHERE r.step = 'changes';
	FOREACH tab IN ARRAY ARRAY['turns', 'order_attribution', 'feedback_charges', 'agent_days', 'shop_days', 'scorecard_history'] LOOP
		IF to_regclass('pg_temp.inc_' || tab) IS NOT NULL THEN
			EXECUTE format('DROP TABLE pg_temp.%I', 'inc_' || tab);
		END IF;
		EXECUTE format('CREATE TEMP TABLE %I AS SELECT x::text AS r FROM kpi.%I x', 'inc_' || tab, tab);
	END LOOP;
	PERFORM kpi.refresh(full => true);
	FOREACH tab IN ARRAY ARRAY['turns', 'order_attribution', 'feedback_charges', 'agent_days', 'shop_days', 'scorecard_history'] LOOP
		EXECUTE format('SELECT count(*) FROM ((SELECT r FROM %1$I EXCEPT ALL SELECT x::text FROM kpi.%2$I x) '
					   'UNION ALL (SELECT x::text FROM kpi.%2$I x EXCEPT ALL SELECT r FROM %1$I)) d',
					   'inc_' || tab, tab) INTO n;
		IF n > 0 THEN
			bad := bad || format(', %s rows of %s differ', n, tab);
		END IF;
	END LOOP;
	RETURN how || CASE WHEN bad = '' THEN ', equal' ELSE bad END;
END
$$;

-- How many cells the last incremental refresh recomputed.
CREATE FUNCTION pg_temp.cells_of_refresh() RETURNS bigint
	LANGUAGE sql AS $$SELECT recomputed FROM kpi.refresh() WHERE step = 'agent_days'$$;

SELECT results_eq($$SELECT step, mode, detail FROM kpi.refresh()$$,
	$$VALUES ('changes', 'full', 'a shop''s time zone changed, first refresh'),
			 ('turns', 'full', NULL), ('order_attribution', 'full', NULL),
			 ('feedback_charges', 'full', NULL), ('agent_days', 'full', NULL), ('shop_days', 'full', NULL),
			 ('scorecard_history', 'full', NULL)$$,
	'the first refresh rebuilds, and says why');
SELECT cmp_ok((SELECT count(*) FROM kpi.agent_days), '>', 50::bigint, 'the generated shop has agent days');
CREATE TEMP TABLE agent_days_copy AS SELECT * FROM kpi.agent_days;
SELECT cmp_ok(pg_relation_size('kpi.agent_days'), '<=', 2 * pg_relation_size('agent_days_copy'),
	'a rebuild writes each agent day once: the table is no bigger than two plain copies of it');
SELECT results_eq($$SELECT step, mode, recomputed, rows FROM kpi.refresh() WHERE step <> 'scorecard_history'$$,
	$$VALUES ('changes', 'incremental', NULL, 0::bigint), ('turns', 'incremental', 0::bigint, 0::bigint),
			 ('order_attribution', 'incremental', 0, 0), ('feedback_charges', 'incremental', 0, 0),
			 ('agent_days', 'incremental', 0, 0), ('shop_days', 'incremental', 0, 0)$$,
	'with nothing changed, a refresh recomputes nothing');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'and the facts are those of a rebuild');

-- Messages ---------------------------------------------------------------------------------------
-- New questions and replies at the end of some conversations, a reply removed, a reply moved
-- before its question, an auto reply that becomes a system message.
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id)
SELECT nextval('new_ids'), c.shop_id, c.conversation_id,
	   c.opened_at + interval '3 hours' + k * interval '40 s',
	   CASE k WHEN 0 THEN 'customer' ELSE 'agent' END::kpi.sender,
	   CASE k WHEN 1 THEN c.agent_id END
  FROM kpi.conversations c CROSS JOIN generate_series(0, 1) k
 WHERE c.conversation_id % 13 = 1 AND c.agent_id IS NOT NULL;
DELETE FROM kpi.messages WHERE message_id IN (
	SELECT min(message_id) FROM kpi.messages WHERE sender = 'agent' GROUP BY conversation_id
	 ORDER BY conversation_id LIMIT 6);
UPDATE kpi.messages m SET sent_at = m.sent_at - interval '2 hours'
 WHERE m.message_id IN (SELECT max(message_id) FROM kpi.messages WHERE sender = 'agent'
						 GROUP BY conversation_id ORDER BY conversation_id DESC LIMIT 5);
UPDATE kpi.messages SET sender = 'system' WHERE sender = 'auto' AND conversation_id % 17 = 3;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'messages added, deleted, moved, retyped');

-- A single new reply recomputes the cells of its conversation's turns only.
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id)
SELECT 91000000, c.shop_id, c.conversation_id, c.opened_at + interval '5 hours', 'customer', NULL
  FROM kpi.conversations c WHERE c.agent_id IS NOT NULL ORDER BY c.conversation_id LIMIT 1;
SELECT cmp_ok(pg_temp.cells_of_refresh(), '<=', 3::bigint, 'one new question: only the cells of its conversation recomputed');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'and it is right');

-- Conversations ----------------------------------------------------------------------------------
-- New conversations of returning customers just before their orders (attribution moves) and
-- just after a resolved conversation (its first-contact resolution is lost), with messages.
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at, closed_at, resolved_at)
SELECT nextval('new_ids'), o.shop_id, o.customer_id,
	   (SELECT a.agent_id FROM kpi.agents a ORDER BY (a.agent_id * 7 + o.order_id) % 5, a.agent_id LIMIT 1),
	   o.placed_at - interval '10 minutes', o.placed_at, NULL::timestamptz
  FROM kpi.orders o WHERE o.order_id % 9 = 2
UNION ALL
SELECT nextval('new_ids'), c.shop_id, c.customer_id, c.agent_id,
	   c.resolved_at + interval '2 days', NULL, NULL
  FROM kpi.conversations c WHERE c.resolved_at IS NOT NULL AND c.conversation_id % 11 = 4;
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id)
SELECT nextval('new_ids'), c.shop_id, c.conversation_id,
	   c.opened_at + k * interval '25 s', CASE k WHEN 0 THEN 'customer' ELSE 'agent' END::kpi.sender,
	   CASE k WHEN 1 THEN c.agent_id END
  FROM kpi.conversations c CROSS JOIN generate_series(0, 1) k
 WHERE c.conversation_id >= 100000000 AND (k = 0 OR c.agent_id IS NOT NULL);
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'new conversations move attribution and FCR');

-- Reassigned, unassigned, reopened, resolved later, moved to another customer, deleted (their
-- messages go with them; their ratings and complaints fall back to the next charging rule).
UPDATE kpi.conversations SET agent_id = CASE WHEN agent_id % 2 = 0 THEN agent_id - 1 ELSE NULL END
 WHERE conversation_id % 10 = 3 AND agent_id IS NOT NULL;
UPDATE kpi.conversations SET resolved_at = NULL WHERE conversation_id % 10 = 5;
UPDATE kpi.conversations SET resolved_at = coalesce(closed_at, opened_at) + interval '9 days'
 WHERE conversation_id % 10 = 6;
UPDATE kpi.conversations SET customer_id = customer_id + 1 WHERE conversation_id % 10 = 7;
UPDATE kpi.conversations SET opened_at = opened_at - interval '20 hours'
 WHERE conversation_id % 10 = 8 AND closed_at IS NULL AND resolved_at IS NULL;
DELETE FROM kpi.conversations WHERE conversation_id IN (
	SELECT conversation_id FROM kpi.ratings WHERE conversation_id IS NOT NULL
	UNION SELECT conversation_id FROM kpi.order_attribution
	UNION SELECT conversation_id FROM kpi.complaints WHERE conversation_id IS NOT NULL)
   AND conversation_id % 4 = 1;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'conversations reassigned, re-resolved, moved, deleted');

-- Orders -----------------------------------------------------------------------------------------
-- New orders (credited and silent), payments cancelled and made, orders placed earlier, deleted
-- orders (their refunds go with them).
INSERT INTO kpi.orders (order_id, shop_id, customer_id, placed_at, paid_at, amount, items)
SELECT nextval('new_ids'), c.shop_id, c.customer_id, c.opened_at + interval '3 hours',
	   CASE WHEN c.conversation_id % 2 = 0 THEN c.opened_at + interval '4 hours' END, 99.5, 2
  FROM kpi.conversations c WHERE c.conversation_id % 15 = 2
UNION ALL
SELECT nextval('new_ids'), 1, 424242, '2026-11-05 12:00+08', '2026-11-05 12:30+08', 10, 1
  FROM generate_series(1, 3) g;
UPDATE kpi.orders SET paid_at = NULL WHERE order_id % 7 = 1 AND paid_at IS NOT NULL
   AND NOT EXISTS (SELECT FROM kpi.refunds r WHERE r.order_id = orders.order_id);
UPDATE kpi.orders SET paid_at = placed_at + interval '3 days' WHERE paid_at IS NULL AND order_id % 7 = 2;
UPDATE kpi.orders SET placed_at = placed_at - interval '26 hours', paid_at = paid_at - interval '1 hour'
 WHERE order_id % 7 = 3 AND (paid_at IS NULL OR paid_at - interval '1 hour' >= placed_at - interval '26 hours');
UPDATE kpi.orders SET amount = amount + 1, items = items + 1 WHERE order_id % 7 = 4;
DELETE FROM kpi.orders WHERE order_id IN (SELECT order_id FROM kpi.refunds UNION SELECT order_id FROM kpi.ratings)
   AND order_id % 5 = 0;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'orders added, paid, unpaid, moved, deleted');

-- Refunds: the late data of after-sale ------------------------------------------------------------
-- Completed weeks after the request, by the platform; escalated to disputes; handed to another
-- agent; new requests on old orders; withdrawn requests.
UPDATE kpi.refunds SET completed_at = requested_at + interval '21 days', outcome = 'refunded', completed_by = 'platform'
 WHERE completed_at IS NULL;
UPDATE kpi.refunds SET disputed = NOT disputed WHERE refund_id % 3 = 0;
UPDATE kpi.refunds SET agent_id = CASE WHEN agent_id IS NULL THEN 2 WHEN refund_id % 2 = 0 THEN NULL ELSE agent_id END
 WHERE refund_id % 3 = 1;
INSERT INTO kpi.refunds (refund_id, shop_id, order_id, agent_id, requested_at, disputed)
SELECT nextval('new_ids'), o.shop_id, o.order_id, CASE WHEN o.order_id % 2 = 0 THEN 3 END,
	   o.paid_at + interval '6 days', o.order_id % 4 = 0
  FROM kpi.orders o
 WHERE o.paid_at IS NOT NULL AND o.order_id % 6 = 5
   AND NOT EXISTS (SELECT FROM kpi.refunds r WHERE r.order_id = o.order_id);
DELETE FROM kpi.refunds WHERE refund_id % 3 = 2;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'refunds completed late, disputed, reassigned, added, withdrawn');

-- One refund completed weeks later touches its completion day (handling agent) and nothing else.
UPDATE kpi.refunds SET completed_at = requested_at + interval '15 days', outcome = 'rejected', completed_by = 'merchant'
 WHERE refund_id = (SELECT min(refund_id) FROM kpi.refunds WHERE agent_id IS NOT NULL);
SELECT cmp_ok(pg_temp.cells_of_refresh(), '<=', 4::bigint, 'one late refund completion: a few cells recomputed');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'and it is right');

-- Complaints and ratings ---------------------------------------------------------------------------
INSERT INTO kpi.complaints (complaint_id, shop_id, agent_id, order_id, conversation_id, filed_at, category)
SELECT nextval('new_ids'), o.shop_id, NULL, o.order_id, NULL, o.placed_at + interval '2 days', 'delivery'
  FROM kpi.orders o WHERE o.order_id % 8 = 3
UNION ALL
SELECT nextval('new_ids'), c.shop_id, CASE WHEN c.conversation_id % 2 = 0 THEN 1 END,
	   NULL, c.conversation_id, c.opened_at + interval '1 hour', 'rude'
  FROM kpi.conversations c WHERE c.conversation_id % 23 = 5;
INSERT INTO kpi.ratings (rating_id, shop_id, agent_id, conversation_id, order_id, rated_at, kind, score)
SELECT nextval('new_ids'), c.shop_id, NULL, c.conversation_id, NULL,
	   c.opened_at + interval '30 minutes', (ARRAY['csat', 'review', 'dsr_service'])[1 + c.conversation_id % 3],
	   1 + c.conversation_id % 5
  FROM kpi.conversations c WHERE c.conversation_id % 19 = 7;
UPDATE kpi.ratings SET score = 6 - score WHERE rating_id % 4 = 1;
UPDATE kpi.ratings SET kind = 'review' WHERE rating_id % 4 = 2 AND kind = 'csat';
UPDATE kpi.ratings SET agent_id = NULL WHERE rating_id % 4 = 3;
UPDATE kpi.complaints SET agent_id = 3 WHERE complaint_id % 3 = 1;
UPDATE kpi.complaints SET filed_at = filed_at + interval '1 day' WHERE complaint_id % 3 = 2;
DELETE FROM kpi.ratings WHERE rating_id % 5 = 0;
DELETE FROM kpi.complaints WHERE complaint_id % 5 = 0;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'complaints and ratings added, edited, recharged, deleted');

-- Online sessions ---------------------------------------------------------------------------------
INSERT INTO kpi.agent_sessions (shop_id, agent_id, online)
SELECT s.shop_id, s.agent_id, tstzrange(lower(s.online) + interval '30 minutes', upper(s.online) + interval '20 hours')
  FROM kpi.agent_sessions s WHERE (s.agent_id + extract(day FROM lower(s.online))::int) % 5 = 0;
DELETE FROM kpi.agent_sessions WHERE (agent_id + extract(day FROM lower(online))::int) % 7 = 1;
UPDATE kpi.agent_sessions SET online = tstzrange(lower(online) - interval '3 hours', upper(online))
 WHERE (agent_id + extract(day FROM lower(online))::int) % 7 = 2;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'online sessions added across midnight, deleted, stretched');

-- Business hours: an agent moves to another calendar; a calendar's hours change ---------------------
UPDATE kpi.agents SET calendar_id = 2 WHERE agent_id = (SELECT min(agent_id) FROM kpi.agents WHERE calendar_id = 1);
UPDATE kpi.agents SET calendar_id = 1 WHERE agent_id = (SELECT min(agent_id) FROM kpi.agents WHERE calendar_id IS NULL);
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'agents change calendars');
UPDATE kpi.calendars SET hours = 'Mon-Fri 10:00-12:00; tz=Asia/Shanghai' WHERE calendar_id = 1;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a calendar''s hours change');
UPDATE kpi.agents SET team = 'renamed', display_name = 'x' WHERE agent_id = 1;
SELECT is(pg_temp.cells_of_refresh(), 0::bigint, 'a renamed team recomputes nothing');

-- Everything at once, in several statements and transactions' worth of changes ----------------------
SELECT nextval('new_ids') AS mixed_from \gset
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at)
SELECT nextval('new_ids'), o.shop_id, o.customer_id, 1 + o.order_id::int % 4, o.placed_at - interval '1 hour'
  FROM kpi.orders o WHERE o.order_id % 10 = 7;
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id)
SELECT nextval('new_ids'), c.shop_id, c.conversation_id, c.opened_at, 'customer', NULL
  FROM kpi.conversations c WHERE c.conversation_id > :mixed_from;
UPDATE kpi.orders SET paid_at = placed_at + interval '1 minute' WHERE paid_at IS NULL AND order_id % 3 = 0;
UPDATE kpi.refunds SET requested_at = requested_at + interval '1 day'
 WHERE completed_at IS NULL OR completed_at >= requested_at + interval '1 day';
UPDATE kpi.ratings SET conversation_id = NULL WHERE rating_id % 6 = 1;
DELETE FROM kpi.messages WHERE message_id % 29 = 0;
INSERT INTO kpi.agent_sessions (shop_id, agent_id, online) VALUES (1, 1, '[2026-11-09 22:00+08, 2026-11-10 02:00+08)')
	ON CONFLICT DO NOTHING;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a mixed batch on every table');

-- One change at a time, each moving a cell that only one rule of the refresh finds -----------------
-- A reply re-credited to another agent: the old agent's cell is found through the old turns.
SELECT m.message_id AS reply, m.agent_id AS old_agent
  FROM kpi.messages m JOIN kpi.turns t ON t.conversation_id = m.conversation_id AND t.answered_at = m.sent_at
 WHERE m.sender = 'agent' ORDER BY m.message_id LIMIT 1 \gset
UPDATE kpi.messages SET agent_id = (SELECT min(agent_id) FROM kpi.agents WHERE agent_id <> :old_agent)
 WHERE message_id = :reply;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a reply credited to another agent');

-- An unassigned conversation two days after a first-contact resolution spoils it: the earlier
-- conversation's cell is found through the customer.
SELECT c.conversation_id AS resolved, c.shop_id AS fcr_shop, c.customer_id AS fcr_customer, c.resolved_at AS fcr_resolved
  FROM kpi.conversations c
 WHERE c.resolved_at IS NOT NULL AND c.agent_id IS NOT NULL
   AND NOT EXISTS (SELECT FROM kpi.conversations n WHERE n.shop_id = c.shop_id AND n.customer_id = c.customer_id
					  AND n.opened_at > c.resolved_at AND n.opened_at <= c.resolved_at + interval '8 days')
 ORDER BY c.conversation_id LIMIT 1 \gset
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at)
VALUES (nextval('new_ids'), :fcr_shop, :fcr_customer, NULL, :'fcr_resolved'::timestamptz + interval '2 days');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a return visit spoils an earlier first-contact resolution');

-- A new refund without a handling agent on a credited order: only the credited agent's cell.
SELECT a.order_id AS credited_order, a.shop_id AS credited_shop, o.paid_at AS credited_paid
  FROM kpi.order_attribution a JOIN kpi.orders o USING (order_id)
 WHERE a.agent_id IS NOT NULL AND o.paid_at IS NOT NULL
   AND NOT EXISTS (SELECT FROM kpi.refunds r WHERE r.order_id = a.order_id)
 ORDER BY a.order_id LIMIT 1 \gset
INSERT INTO kpi.refunds (refund_id, shop_id, order_id, agent_id, requested_at)
VALUES (nextval('new_ids'), :credited_shop, :credited_order, NULL, :'credited_paid'::timestamptz + interval '5 days');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a refund on a credited order, no handling agent');

-- The payment of a credited order moves three days later: its old paid day is in the log.
UPDATE kpi.orders SET paid_at = paid_at + interval '3 days' WHERE order_id = :credited_order;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a credited order paid three days later');

-- A conversation of another agent opens just before that order: the credit, the paid day, the
-- refund's day and a rating charged through the order all move to the new agent.
INSERT INTO kpi.ratings (rating_id, shop_id, agent_id, conversation_id, order_id, rated_at, kind, score)
VALUES (nextval('new_ids'), :credited_shop, NULL, NULL, :credited_order, :'credited_paid'::timestamptz + interval '9 days', 'review', 2);
SELECT kpi.refresh();
SELECT a.agent_id AS credited_agent, o.customer_id AS credited_customer, o.placed_at AS credited_placed
  FROM kpi.order_attribution a JOIN kpi.orders o USING (order_id) WHERE order_id = :credited_order \gset
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at)
VALUES (nextval('new_ids'), :credited_shop, :credited_customer,
		(SELECT min(agent_id) FROM kpi.agents WHERE agent_id <> :credited_agent),
		:'credited_placed'::timestamptz - interval '1 minute');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a new conversation takes over an order''s credit');

-- The agent of a conversation changes: a rating in it, three days later, is recharged.
SELECT c.conversation_id AS rated_conversation, c.shop_id AS rated_shop, c.opened_at AS rated_opened
  FROM kpi.conversations c WHERE c.agent_id IS NOT NULL ORDER BY c.conversation_id DESC LIMIT 1 \gset
INSERT INTO kpi.ratings (rating_id, shop_id, agent_id, conversation_id, order_id, rated_at, kind, score)
VALUES (nextval('new_ids'), :rated_shop, NULL, :rated_conversation, NULL, :'rated_opened'::timestamptz + interval '3 days', 'csat', 5);
SELECT kpi.refresh();
UPDATE kpi.conversations SET agent_id = (SELECT max(agent_id) FROM kpi.agents WHERE agent_id <> conversations.agent_id)
 WHERE conversation_id = :rated_conversation;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a rating follows its conversation''s new agent');

-- A local midnight that happens twice: Havana falls back from 01:00 to 00:00 on 2026-11-01, and
-- PostgreSQL reads '2026-11-01 00:00' there as the second one. A conversation at the first
-- 00:30 (04:30 UTC) still belongs to the day 11-01.
INSERT INTO kpi.shops (shop_id, name, platform, timezone) VALUES (9, 'havana', 'other', 'America/Havana');
SELECT kpi.refresh();
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at)
VALUES (nextval('new_ids'), 9, 1, 1, '2026-11-01 04:30+00');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a conversation in a repeated local midnight');
SELECT is((SELECT day FROM kpi.agent_days WHERE shop_id = 9), '2026-11-01'::date, 'counted on 11-01');

-- Two refreshes in one transaction, with a change between them.
UPDATE kpi.refunds SET disputed = NOT disputed WHERE refund_id % 4 = 1;
SELECT lives_ok('SELECT kpi.refresh()', 'a refresh');
UPDATE kpi.ratings SET score = 5 WHERE rating_id % 4 = 1;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'a second refresh in the same transaction');

-- A shop renamed stays incremental; its new time zone rebuilds ---------------------------------------
UPDATE kpi.shops SET name = 'renamed shop' WHERE shop_id = 2;
SELECT is((SELECT mode FROM kpi.refresh() WHERE step = 'changes'), 'incremental', 'a renamed shop: incremental');
UPDATE kpi.shops SET timezone = 'Europe/Paris' WHERE shop_id = 2;
SELECT results_eq($$SELECT mode, detail FROM kpi.refresh() WHERE step = 'changes'$$,
	$$VALUES ('full', 'a shop''s time zone changed')$$, 'a shop''s new time zone: full rebuild');
UPDATE kpi.settings SET fcr_window = '3 days';
SELECT results_eq($$SELECT mode, detail FROM kpi.refresh() WHERE step = 'changes'$$,
	$$VALUES ('full', 'settings changed')$$, 'new settings: full rebuild');
TRUNCATE kpi.agent_sessions;
SELECT results_eq($$SELECT mode, detail FROM kpi.refresh() WHERE step = 'changes'$$,
	$$VALUES ('full', 'agent_sessions truncated')$$, 'a truncated table: full rebuild');
SELECT is((SELECT sum(online_us) FROM kpi.agent_days), 0::numeric, 'and the sessions are gone from the facts');
SELECT results_eq($$SELECT mode, detail FROM kpi.refresh(full => true) WHERE step = 'changes'$$,
	$$VALUES ('full', 'requested')$$, 'full => true rebuilds');

-- The session's time zone does not change the facts (windows count hours in UTC) -----------------------
UPDATE kpi.settings SET fcr_window = '2 days', attribution_window = '1 day';
SELECT kpi.refresh();
CREATE TEMP TABLE utc_facts AS SELECT d::text AS r FROM kpi.agent_days d;
SET TimeZone = 'America/New_York';
SELECT kpi.refresh(full => true);
SELECT is((SELECT count(*) FROM ((SELECT r FROM utc_facts EXCEPT SELECT d::text FROM kpi.agent_days d)
								  UNION ALL (SELECT d::text FROM kpi.agent_days d EXCEPT SELECT r FROM utc_facts)) x),
	0::bigint, 'a refresh from a New York session gives the facts of a UTC session');
RESET TimeZone;

-- Change logs: filled by loads, emptied by refresh --------------------------------------------------
UPDATE kpi.refunds SET disputed = NOT disputed WHERE refund_id % 5 = 1;
SELECT cmp_ok((SELECT count(*) FROM kpi.changes_refunds), '>', 0::bigint, 'an update is logged, old and new');
SELECT is((SELECT count(*) FROM kpi.changes_refunds) % 2, 0::bigint, 'in pairs');
SELECT kpi.refresh();
SELECT is((SELECT count(*) FROM kpi.changes_refunds), 0::bigint, 'the refresh consumes the log');
DELETE FROM kpi.messages WHERE conversation_id = (SELECT min(conversation_id) FROM kpi.messages);
SELECT is((SELECT count(*) FROM kpi.changes_messages), 1::bigint, 'deleting a conversation''s messages logs it once');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'and the refresh is right');

-- A DST day: Paris falls back on 2026-10-25 (25 hours); changes on that day --------------------------
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at, resolved_at) VALUES
	(83000001, 2, 2000000001, 2, '2026-10-25 02:30+02', '2026-10-25 02:10+01'),
	(83000002, 2, 2000000001, 2, '2026-10-25 02:30+01', NULL),
	(83000003, 2, 2000000001, 2, '2026-10-25 23:59:59+01', NULL),
	(83000004, 2, 2000000001, 2, '2026-10-24 23:59:59+02', NULL);
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id) VALUES
	(94000001, 2, 83000001, '2026-10-25 02:30+02', 'customer', NULL),
	(94000002, 2, 83000001, '2026-10-25 02:05+01', 'agent', 2),
	(94000003, 2, 83000002, '2026-10-25 02:30+01', 'customer', NULL),
	(94000004, 2, 83000003, '2026-10-25 23:59:59+01', 'customer', NULL),
	(94000005, 2, 83000004, '2026-10-24 23:59:59+02', 'customer', NULL);
INSERT INTO kpi.agent_sessions (shop_id, agent_id, online) VALUES
	(2, 2, '[2026-10-24 23:00+02, 2026-10-26 01:00+01)');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'changes on a 25-hour DST day');
SELECT results_eq($$SELECT day, conversations, turns, online_us FROM kpi.agent_days
	WHERE shop_id = 2 AND agent_id = 2 AND day BETWEEN '2026-10-24' AND '2026-10-26' ORDER BY day$$,
	$$VALUES ('2026-10-24'::date, 1::bigint, 1::bigint, 3600000000::bigint),
			 ('2026-10-25', 3, 3, 90000000000), ('2026-10-26', 0, 0, 3600000000)$$,
	'the DST day has its 3 conversations and 25 online hours');
DELETE FROM kpi.conversations WHERE conversation_id BETWEEN 83000001 AND 83000004;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'and deleting them again');

-- Scorecard history -----------------------------------------------------------------------------------
-- The history redoes only the snapshots whose two 28-day windows hold a changed day of the facts
-- (that day to 55 days later, up to yesterday), every snapshot after an edit of the agents or the
-- scorecards, and none when nothing changed; incremental_equals_full compares it with a rebuild.
CREATE FUNCTION pg_temp.history_days() RETURNS bigint
	LANGUAGE sql AS $$SELECT recomputed FROM kpi.refresh() WHERE step = 'scorecard_history'$$;
SELECT is(pg_temp.history_days(), 0::bigint, 'history: nothing changed, no snapshot recomputed');
INSERT INTO kpi.ratings (rating_id, shop_id, agent_id, rated_at, kind, score)
	VALUES (95000001, 1, 1, (date '2026-11-05' + time '12:00') AT TIME ZONE (SELECT z.timezone FROM kpi.shop_zones z WHERE z.shop_id = 1), 'csat', 1);
SELECT is(pg_temp.history_days(), (least(date '2026-11-05' + 55, current_date - 1) - date '2026-11-05' + 1)::bigint,
	'history: one changed day recomputes the snapshots of that day to 55 days later (or yesterday)');
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'history: and they equal a rebuild');
UPDATE kpi.ratings SET score = 5 WHERE rating_id = 95000001;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'history: the rating edited');
UPDATE kpi.scorecard_items SET weight = weight * 3 WHERE scorecard = 'general' AND metric = 'csat_rate';
SELECT is(pg_temp.history_days(), ((current_date - 1) - (SELECT min(day) FROM kpi.agent_days) + 1)::bigint,
	'history: a scorecard edit recomputes every snapshot, from the first day of the facts to yesterday');
UPDATE kpi.grade_bands SET min_score = min_score + 1 WHERE scorecard = 'general' AND min_score > 0;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'history: grade bands edited');
UPDATE kpi.agents SET team = 'night' WHERE agent_id IN (1, 2);
UPDATE kpi.agents SET role = 'presale' WHERE agent_id = 3;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'history: teams and roles edited');
SELECT is((SELECT count(*) FROM kpi.scorecard_history WHERE team = 'night' AND day = current_date - 1), 2::bigint,
	'history: the new teams show');
SELECT is((SELECT min(day) FROM kpi.scorecard_history), (SELECT min(day) FROM kpi.agent_days),
	'history: from the first day of the facts...');
SELECT is((SELECT max(day) FROM kpi.scorecard_history), current_date - 1, '...to yesterday');

-- Deleting everything incrementally leaves no facts ----------------------------------------------------
DELETE FROM kpi.agent_sessions; DELETE FROM kpi.ratings; DELETE FROM kpi.complaints;
DELETE FROM kpi.refunds; DELETE FROM kpi.orders; DELETE FROM kpi.conversations;
SELECT is(pg_temp.incremental_equals_full(), 'incremental, equal', 'everything deleted');
SELECT is((SELECT count(*) FROM kpi.agent_days), 0::bigint, 'no agent days are left');
SELECT is((SELECT count(*) FROM kpi.shop_days), 0::bigint, 'no shop days');
SELECT is((SELECT count(*) FROM kpi.turns) + (SELECT count(*) FROM kpi.feedback_charges)
		  + (SELECT count(*) FROM kpi.order_attribution), 0::bigint, 'and no event facts');

-- Writers may refresh incrementally; the log takes their changes ------------------------------------------
CREATE ROLE kpi_refresh_writer;
SELECT kpi.grant_writer('kpi_refresh_writer');
SET ROLE kpi_refresh_writer;
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at)
	VALUES (1, 1, 1, 1, '2026-11-01 10:00+08');
INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender, agent_id)
	VALUES (1, 1, 1, '2026-11-01 10:00+08', 'customer', NULL), (2, 1, 1, '2026-11-01 10:00:12+08', 'agent', 1);
SELECT results_eq($$SELECT step, mode, rows FROM kpi.refresh() WHERE step IN ('turns', 'agent_days')$$,
	$$VALUES ('turns', 'incremental', 1::bigint), ('agent_days', 'incremental', 1::bigint)$$,
	'a writer loads and refreshes incrementally');
RESET ROLE;
SELECT results_eq($$SELECT turns, answered_turns, response_us, conversations FROM kpi.agent_days$$,
	$$VALUES (1::bigint, 1::bigint, 12000000::bigint, 1::bigint)$$, 'with the right facts');

SELECT * FROM finish();
ROLLBACK;
