-- The canonical tables: shape, constraints that refuse impossible rows, the one-row settings,
-- the shipped shop, and pg_dump registration.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(81);

-- Shape -----------------------------------------------------------------------------------------
SELECT tables_are('kpi', ARRAY['settings', 'shops', 'calendars', 'agents', 'conversations',
	'messages', 'orders', 'refunds', 'complaints', 'ratings', 'agent_sessions',
	'turns', 'order_attribution', 'feedback_charges', 'agent_days', 'shop_days',
	'changes_full', 'changes_messages', 'changes_conversations', 'changes_orders', 'changes_refunds',
	'changes_complaints', 'changes_ratings', 'changes_agent_sessions', 'changes_agents', 'changes_agent_days',
	'metrics', 'scorecards', 'scorecard_items', 'grade_bands', 'benchmarks', 'scorecard_history'],
	'the canonical tables of the spec, the derived ones, the change logs, the scorecards'' catalog and configuration '
	'and their history, and no others');
SELECT enum_has_labels('kpi', 'sender', ARRAY['customer', 'agent', 'auto', 'system'],
	'kpi.sender has the four senders in order');
SELECT col_type_is('kpi', 'agents', 'agent_id', 'integer', 'agent_id is int');
SELECT col_type_is('kpi', 'shops', 'shop_id', 'integer', 'shop_id is int');
SELECT col_type_is('kpi', 'messages', 'message_id', 'bigint', 'message_id is bigint');
SELECT col_type_is('kpi', 'messages', 'sent_at', 'timestamp with time zone', 'times are timestamptz');
SELECT col_type_is('kpi', 'agent_sessions', 'online', 'tstzrange', 'online is a tstzrange');
SELECT is(
	(SELECT count(*)::int FROM information_schema.columns
	  WHERE table_schema = 'kpi' AND column_name = 'shop_id' AND column_default = '1'
		AND is_nullable = 'NO'),
	7, 'every event table has shop_id not null default 1');
SELECT fk_ok('kpi', 'messages', ARRAY['shop_id', 'conversation_id'],
	'kpi', 'conversations', ARRAY['shop_id', 'conversation_id'],
	'a message belongs to the shop of its conversation');
SELECT fk_ok('kpi', 'refunds', ARRAY['shop_id', 'order_id'],
	'kpi', 'orders', ARRAY['shop_id', 'order_id'], 'a refund belongs to the shop of its order');
SELECT has_index('kpi', 'messages', 'messages_conversation_sent',
	ARRAY['conversation_id', 'sent_at', 'message_id', 'sender', 'agent_id', 'shop_id'],
	'messages are indexed in turn order, carrying what the turns need');
SELECT has_index('kpi', 'conversations', 'conversations_customer_opened',
	ARRAY['shop_id', 'customer_id', 'opened_at'], 'conversations by customer and time');
SELECT has_index('kpi', 'orders', 'orders_customer_placed',
	ARRAY['shop_id', 'customer_id', 'placed_at'], 'orders by customer and time');

-- pg_dump keeps every table that holds user data or configuration.
SELECT set_eq(
	$$SELECT c::regclass::text FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'kpi'$$,
	$$SELECT 'kpi.' || t FROM unnest(ARRAY['settings', 'shops', 'calendars', 'agents', 'conversations',
		'messages', 'orders', 'refunds', 'complaints', 'ratings', 'agent_sessions',
		'scorecards', 'scorecard_items', 'grade_bands', 'benchmarks']) t$$,
	'every table of user data or configuration is registered with pg_extension_config_dump '
	'(derived tables are rebuilt by kpi.refresh() instead)');
SELECT is(
	(SELECT array_agg(DISTINCT x.cond) FROM pg_extension e, unnest(e.extconfig, e.extcondition) x(tab, cond)
	  WHERE e.extname = 'kpi'
		AND x.tab::regclass::text NOT IN ('kpi.scorecards', 'kpi.scorecard_items', 'kpi.grade_bands', 'kpi.benchmarks')),
	ARRAY[''], 'and every row of the canonical tables is dumped (the scorecards'': see test/scorecard.sql)');

-- Settings --------------------------------------------------------------------------------------
SELECT results_eq(
	'SELECT timezone, attribution_window, fcr_window, response_sla, first_response_sla FROM kpi.settings',
	$$VALUES ('UTC'::text, interval '24 hours', interval '7 days', interval '30 seconds', interval '15 seconds')$$,
	'settings ship with the defaults of the spec');
SELECT lives_ok($$UPDATE kpi.settings SET timezone = 'Asia/Shanghai'$$, 'a real time zone is accepted');
SELECT throws_ok($$UPDATE kpi.settings SET timezone = 'Asia/Shangai'$$, '22023',
	'time zone "Asia/Shangai" is not recognized', 'a misspelt time zone is refused when set');
SELECT throws_ok($$UPDATE kpi.settings SET timezone = 'right/UTC'$$, '22023', NULL,
	'a leap-second zone is refused');
SELECT throws_ok($$UPDATE kpi.settings SET attribution_window = '0'$$, '23514', NULL,
	'a zero attribution window is refused');
SELECT throws_ok($$UPDATE kpi.settings SET response_sla = '-1 s'$$, '23514', NULL,
	'a negative SLA is refused');
SELECT throws_ok($$UPDATE kpi.settings SET fcr_window = NULL$$, '23502', NULL,
	'settings may not be NULL');
SELECT throws_ok('DELETE FROM kpi.settings', '23000', 'kpi.settings must keep its one row',
	'the settings row cannot be deleted');
SELECT throws_ok('TRUNCATE kpi.settings', '23000', 'kpi.settings must keep its one row',
	'nor truncated');
SELECT throws_ok($$UPDATE kpi.settings SET singleton = false$$, '23514', NULL,
	'the singleton key cannot change');
SELECT lives_ok($$INSERT INTO kpi.settings (timezone, fcr_window) VALUES ('Europe/Paris', '3 days')$$,
	'an INSERT (as a restore does) is accepted...');
SELECT results_eq('SELECT count(*)::int, min(timezone), min(fcr_window) FROM kpi.settings',
	$$VALUES (1, 'Europe/Paris'::text, interval '3 days')$$,
	'...and replaces the one row');
SELECT throws_ok($$INSERT INTO kpi.settings (timezone) VALUES ('Nowhere/City')$$, '22023', NULL,
	'a replacing INSERT is validated too');

-- Shops -----------------------------------------------------------------------------------------
SELECT results_eq('SELECT shop_id, name, platform, timezone FROM kpi.shops',
	$$VALUES (1, 'default'::text, 'other'::text, NULL::text)$$, 'shop 1 ships');
SELECT lives_ok($$INSERT INTO kpi.shops VALUES (1, 'Tmall flagship', 'tmall', 'Asia/Shanghai')$$,
	'inserting shop 1 (a restore) replaces the shipped row');
SELECT lives_ok($$INSERT INTO kpi.shops VALUES (2, 'US store', 'shopify', 'America/Los_Angeles')$$,
	'a second shop');
SELECT results_eq('SELECT shop_id, name FROM kpi.shops ORDER BY 1',
	$$VALUES (1, 'Tmall flagship'::text), (2, 'US store'::text)$$, 'two shops, no duplicate');
SELECT throws_ok($$INSERT INTO kpi.shops VALUES (2, 'again', 'other', NULL)$$, '23505', NULL,
	'other shop ids stay unique');
SELECT throws_ok($$INSERT INTO kpi.shops VALUES (3, 'x', 'aliexpress', NULL)$$, '23514', NULL,
	'an unknown platform is refused');
SELECT throws_ok($$INSERT INTO kpi.shops VALUES (3, 'x', 'jd', 'Beijing')$$, '22023',
	'time zone "Beijing" is not recognized', 'a shop''s bad time zone is refused');

-- Agents and calendars --------------------------------------------------------------------------
INSERT INTO kpi.calendars VALUES (1, 'office', 'Mon-Fri 09:00-18:00');
INSERT INTO kpi.agents (agent_id, login, team, role, calendar_id) VALUES
	(7, 'xiaomei', 'pre-sale A', 'presale', 1),
	(8, 'ahua', 'after-sale', 'aftersale', NULL);
SELECT throws_ok($$INSERT INTO kpi.agents (agent_id, login, role) VALUES (9, 'xiaomei', 'general')$$,
	'23505', NULL, 'logins are unique');
SELECT throws_ok($$INSERT INTO kpi.agents (agent_id, login, role) VALUES (9, 'x', 'manager')$$,
	'23514', NULL, 'an unknown role is refused');
SELECT throws_ok($$INSERT INTO kpi.agents (agent_id, login, calendar_id) VALUES (9, 'x', 42)$$,
	'23503', NULL, 'an agent''s calendar must exist');
SELECT is((SELECT role FROM kpi.agents WHERE agent_id = 7), 'presale', 'role is stored');

-- Conversations ---------------------------------------------------------------------------------
INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at, closed_at, resolved_at)
	VALUES (100, 5001, 7, '2026-11-02 10:00+08', '2026-11-02 10:30+08', '2026-11-02 10:20+08');
INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, agent_id, opened_at)
	VALUES (200, 2, 6001, 8, '2026-11-02 10:00-08');
SELECT throws_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, opened_at, closed_at)
	VALUES (101, 1, '2026-11-02 10:00+08', '2026-11-02 09:59+08')$$, '23514',
	'new row for relation "conversations" violates check constraint "conversations_closed_after_opened"',
	'closed before opened is refused');
SELECT throws_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, opened_at, resolved_at)
	VALUES (101, 1, '2026-11-02 10:00+08', '2026-11-01 10:00+08')$$, '23514',
	'new row for relation "conversations" violates check constraint "conversations_resolved_after_opened"',
	'resolved before opened is refused');
SELECT throws_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, opened_at)
	VALUES (101, 1, NULL)$$, '23502', NULL, 'a conversation needs opened_at');
SELECT throws_ok($$INSERT INTO kpi.conversations (conversation_id, shop_id, customer_id, opened_at)
	VALUES (101, 9, 1, now())$$, '23503', NULL, 'the shop must exist');
SELECT throws_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at)
	VALUES (101, 1, 99, now())$$, '23503', NULL, 'the agent must exist');
SELECT lives_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, opened_at, closed_at, resolved_at)
	VALUES (101, 1, '2026-11-02 10:00+08', '2026-11-02 10:00+08', '2026-11-02 10:00+08')$$,
	'closing and resolving at the opening instant is fine; agent_id may be NULL');

-- Messages --------------------------------------------------------------------------------------
SELECT lives_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id) VALUES
	(1, 100, '2026-11-02 10:00:00+08', 'customer', NULL),
	(2, 100, '2026-11-02 10:00:02+08', 'auto', NULL),
	(3, 100, '2026-11-02 10:00:45+08', 'agent', 7),
	(4, 100, '2026-11-02 10:05:10+08', 'system', NULL)$$, 'good messages load');
SELECT throws_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender)
	VALUES (5, 100, now(), 'agent')$$, '23514',
	'new row for relation "messages" violates check constraint "messages_agent_has_agent_id"',
	'an agent message without agent_id is refused');
SELECT throws_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
	VALUES (5, 100, now(), 'customer', 7)$$, '23514',
	'new row for relation "messages" violates check constraint "messages_only_agent_has_agent_id"',
	'a customer message with an agent_id is refused');
SELECT throws_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
	VALUES (5, 100, now(), 'auto', 7)$$, '23514', NULL, 'so is an auto reply with an agent_id');
SELECT throws_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender)
	VALUES (5, 100, now(), 'bot')$$, '22P02', 'invalid input value for enum kpi.sender: "bot"',
	'an unknown sender is refused');
SELECT throws_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender)
	VALUES (5, 200, now(), 'customer')$$, '23503', NULL,
	'a message in shop 1 of a shop-2 conversation is refused');
SELECT lives_ok($$INSERT INTO kpi.messages (message_id, shop_id, conversation_id, sent_at, sender)
	VALUES (5, 2, 200, now(), 'customer')$$, 'with the right shop it loads');
SELECT throws_ok($$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender)
	VALUES (6, 100, 'infinity', 'customer')$$, '23514',
	'new row for relation "messages" violates check constraint "messages_sent_at_finite"',
	'a message sent at infinity is refused');
SELECT throws_ok($$INSERT INTO kpi.conversations (conversation_id, customer_id, opened_at, closed_at)
	VALUES (102, 1, now(), 'infinity')$$, '23514', NULL, 'a conversation closed at infinity is refused');
SELECT throws_ok($$INSERT INTO kpi.orders (order_id, customer_id, placed_at)
	VALUES (902, 1, '-infinity')$$, '23514', NULL, 'an order placed at -infinity is refused');
SELECT is((SELECT count(*)::int FROM kpi.messages), 5, 'the refused rows did not disturb the good ones');

-- Orders and refunds ----------------------------------------------------------------------------
INSERT INTO kpi.orders (order_id, customer_id, placed_at, paid_at, amount, items)
	VALUES (900, 5001, '2026-11-02 11:00+08', '2026-11-02 11:05+08', 199.00, 2);
SELECT throws_ok($$INSERT INTO kpi.orders (order_id, customer_id, placed_at, amount)
	VALUES (901, 1, now(), -0.01)$$, '23514',
	'new row for relation "orders" violates check constraint "orders_amount_not_negative"',
	'a negative amount is refused');
SELECT throws_ok($$INSERT INTO kpi.orders (order_id, customer_id, placed_at, items)
	VALUES (901, 1, now(), -1)$$, '23514',
	'new row for relation "orders" violates check constraint "orders_items_not_negative"',
	'negative items are refused');
SELECT throws_ok($$INSERT INTO kpi.orders (order_id, customer_id, placed_at, paid_at)
	VALUES (901, 1, '2026-11-02 11:00+08', '2026-11-02 10:00+08')$$, '23514', NULL,
	'paid before placed is refused');
SELECT lives_ok($$INSERT INTO kpi.refunds (refund_id, order_id, agent_id, requested_at, completed_at, outcome, completed_by, disputed)
	VALUES (50, 900, 8, '2026-11-03 09:00+08', '2026-11-20 09:00+08', 'refunded', 'merchant', true)$$,
	'a refund completed weeks later loads');
SELECT throws_ok($$INSERT INTO kpi.refunds (refund_id, order_id, requested_at, completed_at, outcome)
	VALUES (51, 900, '2026-11-03 09:00+08', '2026-11-03 08:59+08', 'refunded')$$, '23514',
	'new row for relation "refunds" violates check constraint "refunds_completed_after_requested"',
	'completed before requested is refused');
SELECT throws_ok($$INSERT INTO kpi.refunds (refund_id, order_id, requested_at, outcome)
	VALUES (51, 900, now(), 'refunded')$$, '23514', NULL, 'an outcome without completion is refused');
SELECT throws_ok($$INSERT INTO kpi.refunds (refund_id, order_id, requested_at, completed_at)
	VALUES (51, 900, now(), now())$$, '23514', NULL, 'a completion without outcome is refused');
SELECT throws_ok($$INSERT INTO kpi.refunds (refund_id, order_id, requested_at, completed_at, outcome)
	VALUES (51, 900, now(), now(), 'lost')$$, '23514', NULL, 'an unknown outcome is refused');
SELECT throws_ok($$INSERT INTO kpi.refunds (refund_id, order_id, requested_at, completed_by)
	VALUES (51, 900, now(), 'merchant')$$, '23514', NULL, 'completed_by needs a completion');
SELECT throws_ok($$INSERT INTO kpi.refunds (refund_id, order_id, requested_at)
	VALUES (51, 12345, now())$$, '23503', NULL, 'a refund needs its order');

-- Ratings, complaints, sessions -----------------------------------------------------------------
SELECT lives_ok($$INSERT INTO kpi.ratings (rating_id, conversation_id, rated_at, kind, score)
	VALUES (1, 100, now(), 'csat', 5), (2, NULL, now(), 'review', 1)$$,
	'ratings with score 1 and 5 load, with or without a conversation');
SELECT throws_ok($$INSERT INTO kpi.ratings (rating_id, rated_at, kind, score) VALUES (3, now(), 'csat', 6)$$,
	'23514', 'new row for relation "ratings" violates check constraint "ratings_score_between_1_and_5"',
	'score 6 is refused');
SELECT throws_ok($$INSERT INTO kpi.ratings (rating_id, rated_at, kind, score) VALUES (3, now(), 'csat', 0)$$,
	'23514', NULL, 'score 0 is refused');
SELECT throws_ok($$INSERT INTO kpi.ratings (rating_id, rated_at, kind, score) VALUES (3, now(), 'nps', 3)$$,
	'23514', NULL, 'an unknown rating kind is refused');
SELECT lives_ok($$INSERT INTO kpi.complaints (complaint_id, conversation_id, order_id, filed_at, category)
	VALUES (1, 100, 900, '2026-11-04 12:00+08', 'rude')$$, 'a complaint loads');
SELECT throws_ok($$INSERT INTO kpi.complaints (complaint_id, filed_at, resolved_at)
	VALUES (2, '2026-11-04 12:00+08', '2026-11-04 11:00+08')$$, '23514', NULL,
	'a complaint resolved before it was filed is refused');
SELECT lives_ok($$INSERT INTO kpi.agent_sessions (agent_id, online) VALUES
	(7, '[2026-11-02 08:00+08, 2026-11-02 12:00+08)'), (7, '[2026-11-02 11:00+08, 2026-11-02 13:00+08)')$$,
	'overlapping sessions load (they are counted once later)');
SELECT throws_ok($$INSERT INTO kpi.agent_sessions (agent_id, online)
	VALUES (7, '[2026-11-02 08:00+08, 2026-11-02 08:00+08)')$$, '23514',
	'new row for relation "agent_sessions" violates check constraint "agent_sessions_online_not_empty"',
	'an empty session is refused');
SELECT throws_ok($$INSERT INTO kpi.agent_sessions (agent_id, online)
	VALUES (7, tstzrange('2026-11-02 09:00+08', '2026-11-02 08:00+08'))$$, '22000', NULL,
	'an inverted session is refused');
SELECT throws_ok($$INSERT INTO kpi.agent_sessions (agent_id, online)
	VALUES (7, '[2026-11-02 08:00+08,)')$$, '23514', NULL, 'an endless session is refused');

-- ON DELETE behaviour ---------------------------------------------------------------------------
DELETE FROM kpi.conversations WHERE conversation_id = 100;
SELECT is((SELECT count(*)::int FROM kpi.messages WHERE conversation_id = 100), 0,
	'deleting a conversation deletes its messages');
SELECT results_eq('SELECT rating_id, conversation_id FROM kpi.ratings ORDER BY 1',
	$$VALUES (1::bigint, NULL::bigint), (2, NULL)$$,
	'its ratings stay, detached from it');
SELECT results_eq('SELECT complaint_id, conversation_id, order_id, shop_id FROM kpi.complaints',
	$$VALUES (1::bigint, NULL::bigint, 900::bigint, 1)$$,
	'its complaints stay, still on their order and shop');
SELECT throws_ok('DELETE FROM kpi.agents WHERE agent_id = 7', '23503', NULL,
	'an agent with history cannot be deleted');
DELETE FROM kpi.orders WHERE order_id = 900;
SELECT is((SELECT count(*)::int FROM kpi.refunds), 0, 'deleting an order deletes its refunds');

SELECT * FROM finish();
ROLLBACK;
