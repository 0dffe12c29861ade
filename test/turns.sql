-- pgTAP: kpi.reply_turns and kpi.turn (SPEC 3.1, 4.1). Every expected value is computed by hand
-- (written out below) or by an independent plain-SQL formulation of the turns.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(87);

SET LOCAL timezone = 'UTC';

-- Hand-written conversations: (conv, message id, sent_at, sender, agent_id).
CREATE TEMP TABLE msgs (conv int, id bigint, ts timestamptz, s kpi.sender, a int);

-- The turns of one conversation of msgs, one row per turn, in order.
CREATE FUNCTION pg_temp.turns_of(c int)
	RETURNS TABLE (n bigint, opened_at timestamptz, answered_at timestamptz, agent_id int,
				   answered boolean, is_first boolean, response_s float8)
	LANGUAGE sql STABLE
AS $$
	SELECT t.n, t.opened_at, t.answered_at, t.agent_id, t.answered, t.is_first, t.response_s
	  FROM unnest((SELECT kpi.reply_turns(id, ts, s, a) FROM msgs WHERE conv = c))
		   WITH ORDINALITY AS t(opened_at, answered_at, agent_id, answered, is_first, response_s, n)
$$;

CREATE FUNCTION pg_temp.agg_of(c int) RETURNS kpi.turn[]
	LANGUAGE sql STABLE
AS $$ SELECT kpi.reply_turns(id, ts, s, a) FROM msgs WHERE conv = c $$;

-- 1: the worked example of SPEC 3.1 (agent 7 assigned), rows inserted out of order.
INSERT INTO msgs VALUES
	(1, 106, '2026-03-02 10:05:00', 'customer', NULL),
	(1, 101, '2026-03-02 10:00:00', 'customer', NULL),
	(1, 104, '2026-03-02 10:00:45', 'agent', 7),
	(1, 102, '2026-03-02 10:00:02', 'auto', NULL),
	(1, 107, '2026-03-02 10:05:10', 'system', NULL),
	(1, 103, '2026-03-02 10:00:20', 'customer', NULL),
	(1, 105, '2026-03-02 10:01:00', 'agent', 7);

SELECT results_eq(
	'SELECT * FROM pg_temp.turns_of(1)',
	$$VALUES (1::bigint, '2026-03-02 10:00:00+00'::timestamptz, '2026-03-02 10:00:45+00'::timestamptz,
			  7, true, true, 45::float8),
			 (2, '2026-03-02 10:05:00+00', NULL, NULL, false, false, NULL)$$,
	'worked example: [10:00:00 -> 10:00:45, 45 s, agent 7, first], [10:05:00 -> unanswered]');
SELECT is((SELECT count(*) FROM pg_temp.turns_of(1)), 2::bigint, 'worked example: 2 turns');
SELECT is((SELECT count(*) FILTER (WHERE answered) FROM pg_temp.turns_of(1)), 1::bigint,
		  'worked example: 1 answered');
SELECT is((SELECT response_s FROM pg_temp.turns_of(1) WHERE is_first), 45::float8,
		  'worked example: first response 45 s');
SELECT is((SELECT avg(response_s) FROM pg_temp.turns_of(1) WHERE answered), 45::float8,
		  'worked example: average response 45 s');
SELECT is((SELECT count(*) FILTER (WHERE answered AND response_s <= 30) || '/' || count(*)
			 FROM pg_temp.turns_of(1)), '0/2', 'worked example: 30 s SLA share 0/2');
SELECT is((SELECT count(*) FILTER (WHERE answered)::float8 / count(*) FROM pg_temp.turns_of(1)),
		  0.5::float8, 'worked example: reply rate 1/2');
SELECT is(pg_temp.agg_of(1),
		  (SELECT kpi.reply_turns(id, ts, s, a ORDER BY ts, id) FROM msgs WHERE conv = 1),
		  'worked example: out-of-order rows give the same array as ordered rows');
SELECT is((pg_temp.agg_of(1))[1].response_s, 45::float8, 'field access on the array element');

-- 2, 3: ties at the same instant are decided by message_id.
INSERT INTO msgs VALUES
	(2, 10, '2026-03-02 11:00:00', 'customer', NULL),
	(2, 11, '2026-03-02 11:00:00', 'agent', 3),
	(3, 11, '2026-03-02 11:00:00', 'customer', NULL),
	(3, 10, '2026-03-02 11:00:00', 'agent', 3);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(2)',
	$$VALUES (1::bigint, '2026-03-02 11:00:00+00'::timestamptz, '2026-03-02 11:00:00+00'::timestamptz,
			  3, true, true, 0::float8)$$,
	'tie, customer id 10 before agent id 11: answered in 0 s');
SELECT results_eq('SELECT * FROM pg_temp.turns_of(3)',
	$$VALUES (1::bigint, '2026-03-02 11:00:00+00'::timestamptz, NULL::timestamptz, NULL::int,
			  false, true, NULL::float8)$$,
	'tie, agent id 10 before customer id 11: the agent message is a follow-up, the turn unanswered');
SELECT is((SELECT kpi.reply_turns(id, ts, s, a ORDER BY id DESC) FROM msgs WHERE conv = 2),
		  pg_temp.agg_of(2), 'tie: input order does not matter (customer first by id)');
SELECT is((SELECT kpi.reply_turns(id, ts, s, a ORDER BY id DESC) FROM msgs WHERE conv = 3),
		  pg_temp.agg_of(3), 'tie: input order does not matter (agent first by id)');

-- 4, 5: an auto-reply at the very instant of the customer message, before or after it by id.
INSERT INTO msgs VALUES
	(4, 1, '2026-03-02 12:00:00', 'customer', NULL),
	(4, 2, '2026-03-02 12:00:00', 'auto', NULL),
	(4, 3, '2026-03-02 12:00:12.5', 'agent', 5),
	(5, 1, '2026-03-02 12:00:00', 'auto', NULL),
	(5, 2, '2026-03-02 12:00:00', 'customer', NULL),
	(5, 3, '2026-03-02 12:00:12.5', 'agent', 5);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(4)',
	$$VALUES (1::bigint, '2026-03-02 12:00:00+00'::timestamptz, '2026-03-02 12:00:12.5+00'::timestamptz,
			  5, true, true, 12.5::float8)$$,
	'auto-reply at the same instant after the customer: not a reply, the agent answers in 12.5 s');
SELECT results_eq('SELECT * FROM pg_temp.turns_of(5)', 'SELECT * FROM pg_temp.turns_of(4)',
	'auto-reply at the same instant before the customer: the same turn');

-- 6: system messages between the customer and the agent.
INSERT INTO msgs VALUES
	(6, 1, '2026-03-02 13:00:00', 'customer', NULL),
	(6, 2, '2026-03-02 13:00:01', 'system', NULL),
	(6, 3, '2026-03-02 13:00:02', 'system', NULL),
	(6, 4, '2026-03-02 13:00:03', 'auto', NULL),
	(6, 5, '2026-03-02 13:00:20', 'agent', 2),
	(6, 6, '2026-03-02 13:00:21', 'system', NULL);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(6)',
	$$VALUES (1::bigint, '2026-03-02 13:00:00+00'::timestamptz, '2026-03-02 13:00:20+00'::timestamptz,
			  2, true, true, 20::float8)$$,
	'system and auto messages neither answer nor close: one turn of 20 s');

-- 7: agent-initiated conversation: agent, agent, customer, agent, customer, agent.
INSERT INTO msgs VALUES
	(7, 1, '2026-03-02 14:00:00', 'agent', 4),
	(7, 2, '2026-03-02 14:00:05', 'agent', 4),
	(7, 3, '2026-03-02 14:01:00', 'customer', NULL),
	(7, 4, '2026-03-02 14:01:30', 'agent', 4),
	(7, 5, '2026-03-02 14:02:00', 'customer', NULL),
	(7, 6, '2026-03-02 14:02:07', 'agent', 4);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(7)',
	$$VALUES (1::bigint, '2026-03-02 14:01:00+00'::timestamptz, '2026-03-02 14:01:30+00'::timestamptz,
			  4, true, true, 30::float8),
			 (2, '2026-03-02 14:02:00+00', '2026-03-02 14:02:07+00', 4, true, false, 7)$$,
	'agent-initiated: the opening agent messages are follow-ups; the first turn starts at the customer');

-- 8: a transfer: two agents answer different turns; follow-ups ignored.
INSERT INTO msgs VALUES
	(8, 1, '2026-03-02 15:00:00', 'customer', NULL),
	(8, 2, '2026-03-02 15:00:10', 'agent', 7),
	(8, 3, '2026-03-02 15:00:40', 'agent', 7),
	(8, 4, '2026-03-02 15:01:00', 'system', NULL),
	(8, 5, '2026-03-02 15:02:00', 'customer', NULL),
	(8, 6, '2026-03-02 15:02:33', 'agent', 8),
	(8, 7, '2026-03-02 15:03:00', 'customer', NULL),
	(8, 8, '2026-03-02 15:03:01', 'agent', 8);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(8)',
	$$VALUES (1::bigint, '2026-03-02 15:00:00+00'::timestamptz, '2026-03-02 15:00:10+00'::timestamptz,
			  7, true, true, 10::float8),
			 (2, '2026-03-02 15:02:00+00', '2026-03-02 15:02:33+00', 8, true, false, 33),
			 (3, '2026-03-02 15:03:00+00', '2026-03-02 15:03:01+00', 8, true, false, 1)$$,
	'transfer: agent 7 answers the first turn, agent 8 the later ones');

-- 9, 10, 11: consecutive customer messages make one turn, measured from the first.
INSERT INTO msgs VALUES
	(9, 1, '2026-03-02 16:00:00', 'customer', NULL),
	(9, 2, '2026-03-02 16:00:30', 'customer', NULL),
	(9, 3, '2026-03-02 16:01:00', 'customer', NULL),
	(10, 1, '2026-03-02 16:00:00', 'customer', NULL),
	(10, 2, '2026-03-02 16:00:30', 'system', NULL),
	(10, 3, '2026-03-02 16:01:00', 'customer', NULL),
	(10, 4, '2026-03-02 16:01:05', 'auto', NULL),
	(11, 1, '2026-03-02 16:00:00', 'customer', NULL),
	(11, 2, '2026-03-02 16:00:30', 'customer', NULL),
	(11, 3, '2026-03-02 16:02:00', 'agent', 1),
	(11, 4, '2026-03-02 16:03:00', 'customer', NULL),
	(11, 5, '2026-03-02 16:03:10', 'auto', NULL),
	(11, 6, '2026-03-02 16:03:20', 'customer', NULL);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(9)',
	$$VALUES (1::bigint, '2026-03-02 16:00:00+00'::timestamptz, NULL::timestamptz, NULL::int,
			  false, true, NULL::float8)$$,
	'customer, customer, customer: one unanswered turn from the first');
SELECT results_eq('SELECT * FROM pg_temp.turns_of(10)', 'SELECT * FROM pg_temp.turns_of(9)',
	'customer, system, customer, auto: still one unanswered turn');
SELECT results_eq('SELECT * FROM pg_temp.turns_of(11)',
	$$VALUES (1::bigint, '2026-03-02 16:00:00+00'::timestamptz, '2026-03-02 16:02:00+00'::timestamptz,
			  1, true, true, 120::float8),
			 (2, '2026-03-02 16:03:00+00', NULL, NULL, false, false, NULL)$$,
	'two customer messages answered once (120 s from the first), then one unanswered turn');

-- 12 to 15: conversations without turns give an empty array, not NULL.
INSERT INTO msgs VALUES
	(12, 1, '2026-03-02 17:00:00', 'agent', 1),
	(12, 2, '2026-03-02 17:00:09', 'agent', 2),
	(13, 1, '2026-03-02 17:00:00', 'auto', NULL),
	(13, 2, '2026-03-02 17:00:00', 'auto', NULL),
	(14, 1, '2026-03-02 17:00:00', 'system', NULL),
	(15, 1, '2026-03-02 17:00:00', 'agent', 1),
	(15, 2, '2026-03-02 17:00:01', 'auto', NULL),
	(15, 3, '2026-03-02 17:00:02', 'system', NULL);
SELECT is(pg_temp.agg_of(12), '{}'::kpi.turn[], 'only agent messages: empty array');
SELECT is(pg_temp.agg_of(13), '{}'::kpi.turn[], 'only auto messages: empty array');
SELECT is(pg_temp.agg_of(14), '{}'::kpi.turn[], 'only a system message: empty array');
SELECT is(pg_temp.agg_of(15), '{}'::kpi.turn[], 'agent, auto and system only: empty array');
SELECT is(cardinality(pg_temp.agg_of(15)), 0, 'empty array has cardinality 0');
SELECT is(pg_temp.agg_of(999), NULL::kpi.turn[], 'no rows at all: NULL, as aggregates give');
SELECT is((SELECT count(*) FROM (SELECT kpi.reply_turns(id, ts, s, a) FROM msgs WHERE false
								 GROUP BY conv) g), 0::bigint, 'no rows, grouped: no groups');

-- 16: NULL agent_id on an agent message: answered, credited to NULL; agent_id elsewhere ignored.
INSERT INTO msgs VALUES
	(16, 1, '2026-03-02 18:00:00', 'customer', 9),
	(16, 2, '2026-03-02 18:00:03', 'auto', 9),
	(16, 3, '2026-03-02 18:00:04', 'agent', NULL),
	(16, 4, '2026-03-02 18:00:10', 'customer', NULL),
	(16, 5, '2026-03-02 18:00:11', 'system', 9),
	(16, 6, '2026-03-02 18:00:12', 'agent', 6);
SELECT results_eq('SELECT * FROM pg_temp.turns_of(16)',
	$$VALUES (1::bigint, '2026-03-02 18:00:00+00'::timestamptz, '2026-03-02 18:00:04+00'::timestamptz,
			  NULL::int, true, true, 4::float8),
			 (2, '2026-03-02 18:00:10+00', '2026-03-02 18:00:12+00', 6, true, false, 2)$$,
	'agent message without agent_id answers, credited to NULL; agent_id on other senders ignored');

-- 17: microsecond precision, and the same (sent_at, message_id) twice decided by sender.
INSERT INTO msgs VALUES
	(17, 1, '2026-03-02 19:00:00.000001', 'customer', NULL),
	(17, 2, '2026-03-02 19:00:00.5', 'agent', 1),
	(18, 5, '2026-03-02 19:00:00', 'agent', 1),
	(18, 5, '2026-03-02 19:00:00', 'customer', NULL);
SELECT is((pg_temp.agg_of(17))[1].response_s, 0.499999::float8, 'response_s exact to the microsecond');
SELECT is((SELECT kpi.reply_turns(id, ts, s, a ORDER BY s DESC) FROM msgs WHERE conv = 18),
		  (SELECT kpi.reply_turns(id, ts, s, a ORDER BY s) FROM msgs WHERE conv = 18),
		  'duplicate (sent_at, message_id): the result does not depend on input order');
SELECT is((pg_temp.agg_of(18))[1].answered, true,
		  'duplicate (sent_at, message_id): customer sorts before agent, so it is answered');

-- 19: a turn spanning more than 2^63 microseconds (no overflow, a sensible number).
SELECT ok(abs((kpi.reply_turns(id, ts, s::kpi.sender, 1))[1].response_s
			  / ((extract(epoch FROM timestamptz '294000-01-01 00:00:00+00')
				  - extract(epoch FROM timestamptz '4713-01-01 00:00:00+00 BC'))::float8) - 1) < 1e-12,
		  'a turn from 4713 BC to 294000 AD: response_s right to 1e-12')
  FROM (VALUES (1, timestamptz '4713-01-01 00:00:00+00 BC', 'customer'),
			   (2, timestamptz '294000-01-01 00:00:00+00', 'agent')) v(id, ts, s);

-- SPEC 4.1's query shape over kpi.messages, and the table's refusal of an agent without id.
INSERT INTO kpi.agents (agent_id, login) VALUES (1, 'a1'), (2, 'a2'), (7, 'a7'), (8, 'a8');
INSERT INTO kpi.conversations (conversation_id, customer_id, agent_id, opened_at)
VALUES (501, 1, 7, '2026-03-02 10:00:00'), (502, 2, 8, '2026-03-02 11:00:00'),
	   (503, 3, NULL, '2026-03-02 12:00:00');
INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
SELECT id + 500 * 10, 501, ts, s, a FROM msgs WHERE conv = 1
UNION ALL
SELECT id + 502 * 10, 502, ts, s, a FROM msgs WHERE conv = 8
UNION ALL
SELECT id + 503 * 10, 503, ts, s, a FROM msgs WHERE conv = 12;
SELECT results_eq(
	$$SELECT g.conversation_id, t.opened_at, t.agent_id, t.response_s
		FROM (SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id) ts
				FROM kpi.messages GROUP BY 1) g, unnest(g.ts) t
	   ORDER BY 1, 2$$,
	$$VALUES (501::bigint, '2026-03-02 10:00:00+00'::timestamptz, 7, 45::float8),
			 (501, '2026-03-02 10:05:00+00', NULL, NULL),
			 (502, '2026-03-02 15:00:00+00', 7, 10),
			 (502, '2026-03-02 15:02:00+00', 8, 33),
			 (502, '2026-03-02 15:03:00+00', 8, 1)$$,
	'SPEC 4.1 query over kpi.messages: turns of every conversation, none for the agent-only one');
SELECT throws_ok(
	$$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
	  VALUES (9001, 501, '2026-03-02 10:10:00', 'agent', NULL)$$,
	'23514',
	'new row for relation "messages" violates check constraint "messages_agent_has_agent_id"',
	'kpi.messages refuses an agent message without agent_id');
SELECT throws_ok(
	$$INSERT INTO kpi.messages (message_id, conversation_id, sent_at, sender, agent_id)
	  VALUES (9002, 501, '2026-03-02 10:10:00', 'customer', 7)$$,
	'23514',
	'new row for relation "messages" violates check constraint "messages_only_agent_has_agent_id"',
	'kpi.messages refuses a customer message with an agent_id');

-- NULL handling and bad input.
SELECT throws_ok($$SELECT kpi.reply_turns(NULL, now(), 'customer', NULL)$$,
	'22004', 'message_id must not be null in kpi.reply_turns', 'NULL message_id is an error');
SELECT throws_ok($$SELECT kpi.reply_turns(1, NULL, 'customer', NULL)$$,
	'22004', 'sent_at must not be null in kpi.reply_turns', 'NULL sent_at is an error');
SELECT throws_ok($$SELECT kpi.reply_turns(1, now(), NULL, NULL)$$,
	'22004', 'sender must not be null in kpi.reply_turns', 'NULL sender is an error');
SELECT throws_ok(
	$$SELECT kpi.reply_turns(id, ts, s, a) FROM (SELECT * FROM msgs WHERE conv = 1
		UNION ALL SELECT 1, 1, NULL, 'system', NULL) m$$,
	'22004', 'sent_at must not be null in kpi.reply_turns',
	'one NULL sent_at among good rows: an error, not a silently shorter conversation');
SELECT throws_ok($$SELECT kpi.reply_turns(1, 'infinity', 'customer', NULL)$$,
	'22008', 'sent_at must be finite in kpi.reply_turns', 'infinite sent_at is an error');
SELECT throws_ok($$SELECT kpi.reply_turns(1, '-infinity', 'agent', 1)$$,
	'22008', 'sent_at must be finite in kpi.reply_turns', '-infinite sent_at is an error');
SELECT is(kpi.reply_turns(1, '2026-03-02 10:00', 'customer', NULL),
		  ARRAY[ROW('2026-03-02 10:00+00', NULL, NULL, false, true, NULL)::kpi.turn],
		  'one customer message: one unanswered first turn');
-- The support functions take internal arguments, so SQL cannot call them directly at all.

-- A domain over kpi.sender works: the labels are looked up in the argument's base type.
CREATE DOMAIN public.turns_test_sender AS kpi.sender;
SELECT is((SELECT kpi.reply_turns(id, ts, s::public.turns_test_sender, a) FROM msgs WHERE conv = 1),
		  pg_temp.agg_of(1), 'a domain over kpi.sender gives the same turns');

-- Catalog: parallel safe, with combine/serial/deserial functions, and documented.
SELECT is((SELECT aggcombinefn::text || ' ' || aggserialfn::text || ' ' || aggdeserialfn::text
				  || ' ' || aggfinalfn::text || ' ' || aggtranstype::regtype::text || ' ' || aggfinalmodify::text
			 FROM pg_aggregate WHERE aggfnoid = 'kpi.reply_turns'::regproc),
		  'kpi.reply_turns_combine kpi.reply_turns_serialize kpi.reply_turns_deserialize '
		  'kpi.reply_turns_final internal r',
		  'aggregate support functions and read-only final function');
SELECT is((SELECT string_agg(DISTINCT proparallel::text, '') FROM pg_proc
			WHERE pronamespace = 'kpi'::regnamespace AND proname LIKE 'reply_turns%'),
		  's', 'kpi.reply_turns and all its support functions are PARALLEL SAFE');
SELECT is((SELECT count(*) FROM pg_proc
			WHERE pronamespace = 'kpi'::regnamespace AND proname LIKE 'reply_turns%'
			  AND obj_description(oid, 'pg_proc') IS NULL), 0::bigint,
		  'every reply_turns function has a comment');
SELECT ok(obj_description('kpi.turn'::regtype, 'pg_type') IS NOT NULL, 'kpi.turn has a comment');
SELECT is((SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
			 FROM pg_attribute WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'kpi.turn'::regtype) AND attnum > 0),
		  'opened_at timestamp with time zone, answered_at timestamp with time zone, agent_id integer, '
		  'answered boolean, is_first boolean, response_s double precision',
		  'kpi.turn columns');

-- Random conversations: shuffled input = ordered input = an independent plain-SQL formulation.
-- Every draw is a hash of (conversation, message, salt), so the data is the same on every run.
-- Times fall on a coarse grid so ties at the same instant are common; ids are not in time order.
CREATE FUNCTION pg_temp.u(k bigint, salt int) RETURNS float8
	LANGUAGE sql IMMUTABLE STRICT
	RETURN (hashint8extended(k, salt) & 4503599627370495)::float8 / 4503599627370496;

CREATE TEMP TABLE rnd AS
SELECT conv, conv::bigint * 100 + (i * 37 + conv) % 97 AS id,
	   timestamptz '2026-03-01 00:00:00+00' + conv * interval '1 hour'
		 + floor(pg_temp.u(conv * 100 + i, 1) * 20) * interval '1 second'
		 + CASE WHEN pg_temp.u(conv * 100 + i, 2) < 0.1 THEN interval '0.000001 second'
				ELSE interval '0' END AS ts,
	   (CASE WHEN pg_temp.u(conv * 100 + i, 3) < 0.40 THEN 'customer'
			 WHEN pg_temp.u(conv * 100 + i, 3) < 0.72 THEN 'agent'
			 WHEN pg_temp.u(conv * 100 + i, 3) < 0.86 THEN 'auto'
			 ELSE 'system' END)::kpi.sender AS s,
	   CASE WHEN pg_temp.u(conv * 100 + i, 4) < 0.05 THEN NULL
			ELSE 1 + floor(pg_temp.u(conv * 100 + i, 5) * 6)::int END AS a
  FROM generate_series(1, 4000) conv,
	   generate_series(1, 1 + floor(pg_temp.u(conv, 6) * 14)::int) i
 ORDER BY pg_temp.u(conv * 100 + i, 7);
ANALYZE rnd;

CREATE TEMP TABLE rnd_ours AS
SELECT conv,
	   kpi.reply_turns(id, ts, s, a) AS heap,
	   kpi.reply_turns(id, ts, s, a ORDER BY ts, id) AS sorted,
	   kpi.reply_turns(id, ts, s, a ORDER BY hashint8(id)) AS shuffled,
	   kpi.reply_turns(id, ts, s, a ORDER BY ts DESC, id DESC) AS reversed
  FROM rnd GROUP BY conv;

-- The plain-SQL formulation: number each message by the count of agent messages before it;
-- a segment with a customer message is a turn, answered by the agent message that ends it.
CREATE TEMP VIEW rnd_plain AS
WITH numbered AS (
	SELECT conv, id, ts, s, a,
		   count(*) FILTER (WHERE s = 'agent')
			 OVER (PARTITION BY conv ORDER BY ts, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
			 AS seg
	  FROM rnd),
segments AS (
	SELECT conv, seg,
		   min(ts) FILTER (WHERE s = 'customer') AS opened_at,
		   min(ts) FILTER (WHERE s = 'agent') AS answered_at,
		   min(a) FILTER (WHERE s = 'agent') AS agent_id,
		   bool_or(s = 'agent') AS answered
	  FROM numbered
	 GROUP BY conv, seg
	HAVING bool_or(s = 'customer'))
SELECT conv, row_number() OVER (PARTITION BY conv ORDER BY seg) AS n,
	   opened_at, answered_at, agent_id, answered,
	   row_number() OVER (PARTITION BY conv ORDER BY seg) = 1 AS is_first,
	   extract(epoch FROM answered_at - opened_at)::float8 AS response_s
  FROM segments;

SELECT is((SELECT count(*) FROM rnd), (SELECT sum(1 + floor(pg_temp.u(conv, 6) * 14)::int)
										 FROM generate_series(1, 4000) conv)::bigint,
		  'random conversations: all messages generated');
SELECT cmp_ok((SELECT count(*) FROM rnd r1 JOIN rnd r2 USING (conv, ts)
				WHERE r1.id < r2.id AND r1.s <> r2.s), '>', 1000::bigint,
			  'random conversations: many ties at the same instant between different senders');
SELECT is((SELECT count(*) FROM rnd_ours WHERE heap IS DISTINCT FROM sorted), 0::bigint,
		  'random conversations: heap order = ORDER BY (sent_at, message_id)');
SELECT is((SELECT count(*) FROM rnd_ours WHERE shuffled IS DISTINCT FROM sorted), 0::bigint,
		  'random conversations: shuffled input = ordered input');
SELECT is((SELECT count(*) FROM rnd_ours WHERE reversed IS DISTINCT FROM sorted), 0::bigint,
		  'random conversations: reversed input = ordered input');
SELECT bag_eq(
	$$SELECT o.conv, t.n, t.opened_at, t.answered_at, t.agent_id, t.answered, t.is_first, t.response_s
		FROM rnd_ours o,
			 unnest(o.shuffled) WITH ORDINALITY
			   AS t(opened_at, answered_at, agent_id, answered, is_first, response_s, n)$$,
	'SELECT * FROM rnd_plain',
	'random conversations: every turn equals the plain-SQL formulation');
SELECT is((SELECT count(*) FROM rnd_ours WHERE cardinality(sorted) = 0),
		  (SELECT count(*) FROM (SELECT conv FROM rnd GROUP BY conv
								 HAVING NOT bool_or(s = 'customer')) x),
		  'random conversations: exactly those without a customer message have no turns');
SELECT is((SELECT count(*) FROM rnd_ours WHERE sorted IS NULL), 0::bigint,
		  'random conversations: no NULL arrays');
SELECT cmp_ok((SELECT count(*) FROM rnd_plain WHERE answered AND agent_id IS NULL), '>', 0::bigint,
			  'random conversations: some turns answered by an agent message without agent_id');
SELECT cmp_ok((SELECT count(*) FROM rnd_plain WHERE NOT answered), '>', 100::bigint,
			  'random conversations: many unanswered turns');
SELECT cmp_ok((SELECT count(*) FROM rnd_plain WHERE response_s = 0), '>', 10::bigint,
			  'random conversations: some turns answered at the same instant');

-- Running turns as a window aggregate over rows that arrive out of time order: the final
-- function sorts the state in place and more rows follow; each frame must match a fresh
-- aggregate over the same rows.
SELECT is((SELECT count(*) FROM (
			SELECT r.conv, r.id,
				   kpi.reply_turns(r.id, r.ts, r.s, r.a) OVER (PARTITION BY r.conv ORDER BY r.id DESC)
					 AS running
			  FROM rnd r WHERE r.conv <= 300) w
			WHERE running IS DISTINCT FROM
				  (SELECT kpi.reply_turns(x.id, x.ts, x.s, x.a) FROM rnd x
					WHERE x.conv = w.conv AND x.id >= w.id)), 0::bigint,
		  'window aggregate over out-of-order rows: every running frame is right');

-- Forced parallel plan equals the serial plan. A real table (workers cannot read temp ones)
-- with each conversation's rows spread over many pages, so groups are split between
-- processes and the combine, serialize and deserialize functions all run.
CREATE TABLE public.turns_par AS
SELECT conv + k * 4000 AS conv, id, ts, s, a
  FROM rnd, generate_series(0, 4) k
 ORDER BY pg_temp.u(id * 10 + k, 8);
ANALYZE public.turns_par;

CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END
$$;
CREATE FUNCTION pg_temp.workers_launched(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
		IF line ~ 'Workers Launched: ' THEN
			RETURN substring(line FROM 'Workers Launched: (\d+)')::int;
		END IF;
	END LOOP;
	RETURN 0;
END
$$;

SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE par_serial AS
SELECT conv, kpi.reply_turns(id, ts, s, a) AS turns FROM public.turns_par GROUP BY conv;

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL enable_sort = off;

SELECT matches(pg_temp.plan_of('SELECT conv, kpi.reply_turns(id, ts, s, a) FROM public.turns_par GROUP BY conv'),
			   'Partial (Hash|Group)?Aggregate',
			   'forced parallel: the plan has a Partial Aggregate');
SELECT matches(pg_temp.plan_of('SELECT conv, kpi.reply_turns(id, ts, s, a) FROM public.turns_par GROUP BY conv'),
			   'Gather', 'forced parallel: the plan has a Gather');
SELECT cmp_ok(pg_temp.workers_launched('SELECT conv, kpi.reply_turns(id, ts, s, a) FROM public.turns_par GROUP BY conv'),
			  '>=', 1, 'forced parallel: workers were launched');
CREATE TEMP TABLE par_parallel AS
SELECT conv, kpi.reply_turns(id, ts, s, a) AS turns FROM public.turns_par GROUP BY conv;
SELECT is((SELECT count(*) FROM par_parallel), 20000::bigint, 'forced parallel: every conversation');
SELECT is((SELECT count(*) FROM par_serial s FULL JOIN par_parallel p USING (conv)
			WHERE s.turns IS DISTINCT FROM p.turns), 0::bigint,
		  'forced parallel: every array equals the serial plan''s');
SELECT is((SELECT count(*) FROM par_serial s JOIN rnd_ours o ON o.conv = (s.conv - 1) % 4000 + 1
			WHERE s.turns IS DISTINCT FROM o.sorted), 0::bigint,
		  'forced parallel table: each copy of a conversation has the original turns');
RESET enable_sort;
SET LOCAL max_parallel_workers_per_gather = 0;

-- Hash aggregation that spills to disk (states of all groups live at once, and the groups that
-- do not fit are aggregated in later batches) gives the same arrays.
SET LOCAL work_mem = '64kB';
SET LOCAL enable_sort = off;
CREATE FUNCTION pg_temp.analyzed_plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END
$$;
SELECT matches(pg_temp.analyzed_plan('SELECT conv, kpi.reply_turns(id, ts, s, a) FROM rnd GROUP BY conv'),
			   'HashAggregate.*Batches: ([2-9]|[1-9][0-9]+).*Disk Usage',
			   'spilling hash aggregate: the plan is a HashAggregate that wrote batches to disk');
SELECT is((SELECT count(*) FROM (SELECT conv, kpi.reply_turns(id, ts, s, a) AS turns FROM rnd GROUP BY conv) h
			 FULL JOIN rnd_ours o USING (conv)
			WHERE h.turns IS DISTINCT FROM o.sorted), 0::bigint,
		  'spilling hash aggregate: every array equals the ordered aggregate');
RESET work_mem;
RESET enable_sort;

-- A 1M-message conversation: customer, auto, agent, system repeated, one second apart, fed in
-- descending order (so it is sorted) and ascending order: 250000 turns of 2 s each.
SELECT is((SELECT array_agg(x) FROM (
			SELECT cardinality(t) AS x FROM (SELECT kpi.reply_turns(i, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
								   (ARRAY['system', 'customer', 'auto', 'agent']::kpi.sender[])[i % 4 + 1],
								   CASE WHEN i % 4 = 3 THEN 1 + i % 7 END) AS t
					FROM generate_series(1000000, 1, -1) i) g
			UNION ALL
			SELECT count(*) FILTER (WHERE answered AND response_s = 2) FROM unnest((
				SELECT kpi.reply_turns(i, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
									   (ARRAY['system', 'customer', 'auto', 'agent']::kpi.sender[])[i % 4 + 1],
									   CASE WHEN i % 4 = 3 THEN 1 + i % 7 END)
				  FROM generate_series(1, 1000000) i)) u) y),
		  ARRAY[250000::bigint, 250000],
		  '1M messages, descending and ascending input: 250000 turns, all answered in 2 s');

-- The serialized state, read back by kpi.reply_turns_decode: good bytes, then every kind of
-- corruption. Format: version byte, int8 count, then per message int8 sent_at (timestamptz_send),
-- int8 message_id, int4 agent_id, sender code byte (0 customer, 1 agent, 2 auto, 3 system),
-- flags byte (1 = agent_id NULL).
CREATE FUNCTION pg_temp.rec(ts timestamptz, id bigint, agent int, sender int, flags int)
	RETURNS bytea LANGUAGE sql IMMUTABLE
	RETURN timestamptz_send(ts) || int8send(id) || int4send(agent)
		   || set_byte('\x00'::bytea, 0, sender) || set_byte('\x00'::bytea, 0, flags);
CREATE FUNCTION pg_temp.state(n bigint, body bytea) RETURNS bytea LANGUAGE sql IMMUTABLE
	RETURN '\x01'::bytea || int8send(n) || body;

SELECT is(kpi.reply_turns_decode(pg_temp.state(7,
			pg_temp.rec('2026-03-02 10:05:10', 107, 0, 3, 1) || pg_temp.rec('2026-03-02 10:00:00', 101, 0, 0, 1)
			|| pg_temp.rec('2026-03-02 10:00:02', 102, 0, 2, 1) || pg_temp.rec('2026-03-02 10:00:20', 103, 0, 0, 1)
			|| pg_temp.rec('2026-03-02 10:00:45', 104, 7, 1, 0) || pg_temp.rec('2026-03-02 10:01:00', 105, 7, 1, 0)
			|| pg_temp.rec('2026-03-02 10:05:00', 106, 0, 0, 1))),
		  pg_temp.agg_of(1), 'decode: the worked example''s state bytes, out of order, give its turns');
SELECT is(kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('2026-03-02 10:00:00', 1, 0, 1, 1))),
		  '{}'::kpi.turn[], 'decode: a lone agent message without agent_id: no turns');
SELECT throws_ok($$SELECT kpi.reply_turns_decode('\x')$$, '22P03', 'invalid kpi.reply_turns state',
	'decode: empty bytes');
SELECT throws_ok($$SELECT kpi.reply_turns_decode('\x0100')$$, '22P03', 'invalid kpi.reply_turns state',
	'decode: truncated header');
SELECT throws_ok($$SELECT kpi.reply_turns_decode('\x02'::bytea || int8send(1) || pg_temp.rec('2026-03-02', 1, 0, 0, 1))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: unknown format version');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(0, ''))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: zero messages');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(-1, pg_temp.rec('2026-03-02', 1, 0, 0, 1)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: negative count');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(2, pg_temp.rec('2026-03-02', 1, 0, 0, 1)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: count larger than the records');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('2026-03-02', 1, 0, 0, 1) || '\x00'))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: trailing byte');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(9223372036854775807, pg_temp.rec('2026-03-02', 1, 0, 0, 1)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: absurd count');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('2026-03-02', 1, 0, 4, 1)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: unknown sender code');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('2026-03-02', 1, 0, 0, 3)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: unknown flag');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('2026-03-02', 1, 5, 0, 0)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: a customer message carrying an agent_id');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('2026-03-02', 1, 5, 1, 1)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: NULL agent_id flag with a value');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, pg_temp.rec('infinity', 1, 0, 0, 1)))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: infinite sent_at');
SELECT throws_ok($$SELECT kpi.reply_turns_decode(pg_temp.state(1, int8send(-9223372036854775807) || int8send(1) || int4send(0) || '\x0001'::bytea))$$,
	'22P03', 'invalid kpi.reply_turns state', 'decode: sent_at below the timestamp range');
SELECT is(kpi.reply_turns_decode(pg_temp.state(2, pg_temp.rec('2026-03-02 10:00:00', 1, 0, 0, 1)
											   || pg_temp.rec('2026-03-02 10:00:03', 2, 0, 1, 1))),
		  ARRAY[ROW('2026-03-02 10:00:00+00', '2026-03-02 10:00:03+00', NULL, true, true, 3)::kpi.turn],
		  'decode: an agent message with NULL agent_id answers, credited to NULL');

SELECT * FROM finish();
ROLLBACK;
