-- kpi.reply_turns: the response turns of a conversation (SPEC 3.1, 4.1), by example.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\pset null '(null)'

CREATE TEMP TABLE m (conversation_id bigint, message_id bigint, sent_at timestamptz,
					 sender kpi.sender, agent_id int);

-- The worked example of SPEC 3.1 (agent 7 assigned), rows in no particular order.
INSERT INTO m VALUES
	(1, 105, '2026-03-02 10:01:00', 'agent', 7),
	(1, 101, '2026-03-02 10:00:00', 'customer', NULL),
	(1, 107, '2026-03-02 10:05:10', 'system', NULL),
	(1, 102, '2026-03-02 10:00:02', 'auto', NULL),
	(1, 104, '2026-03-02 10:00:45', 'agent', 7),
	(1, 106, '2026-03-02 10:05:00', 'customer', NULL),
	(1, 103, '2026-03-02 10:00:20', 'customer', NULL);

-- The turns: 10:00:00 -> 10:00:45 (45 s, agent 7, first); the auto-reply at 10:00:02 does not
-- answer, the customer message at 10:00:20 does not open a second turn, the agent message at
-- 10:01:00 is a follow-up; 10:05:00 stays unanswered (the system message does not answer).
SELECT t.*
  FROM (SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id) AS turns
		  FROM m GROUP BY conversation_id) g,
	   unnest(g.turns) t;

-- Turns 2, answered 1, first response 45 s, average 45 s, 30 s SLA share 0/2.
SELECT count(*) AS turns,
	   count(*) FILTER (WHERE answered) AS answered,
	   max(response_s) FILTER (WHERE is_first) AS first_response_s,
	   avg(response_s) AS avg_response_s,
	   count(*) FILTER (WHERE response_s <= 30) || '/' || count(*) AS sla_30s
  FROM unnest((SELECT kpi.reply_turns(message_id, sent_at, sender, agent_id) FROM m)) t;

-- The array itself.
SELECT kpi.reply_turns(message_id, sent_at, sender, agent_id) FROM m;

-- Ties at the same instant are decided by message_id.
INSERT INTO m VALUES
	(2, 10, '2026-03-02 11:00:00', 'customer', NULL),
	(2, 11, '2026-03-02 11:00:00', 'agent', 3),
	(3, 10, '2026-03-02 11:00:00', 'agent', 3),
	(3, 11, '2026-03-02 11:00:00', 'customer', NULL);
SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id)
  FROM m WHERE conversation_id IN (2, 3) GROUP BY 1 ORDER BY 1;

-- Agent first (a follow-up, ignored), then a transfer: agents 4 and 5 answer different turns.
INSERT INTO m VALUES
	(4, 1, '2026-03-02 12:00:00', 'agent', 4),
	(4, 2, '2026-03-02 12:01:00', 'customer', NULL),
	(4, 3, '2026-03-02 12:01:00', 'auto', NULL),
	(4, 4, '2026-03-02 12:01:09.25', 'agent', 4),
	(4, 5, '2026-03-02 12:03:00', 'customer', NULL),
	(4, 6, '2026-03-02 12:03:30', 'customer', NULL),
	(4, 7, '2026-03-02 12:04:00', 'agent', 5);
SELECT t.*
  FROM unnest((SELECT kpi.reply_turns(message_id, sent_at, sender, agent_id)
				 FROM m WHERE conversation_id = 4)) t;

-- No customer message: no turns, an empty array. No rows at all: NULL.
INSERT INTO m VALUES
	(5, 1, '2026-03-02 13:00:00', 'agent', 4),
	(5, 2, '2026-03-02 13:00:05', 'auto', NULL),
	(6, 1, '2026-03-02 13:00:00', 'auto', NULL);
SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id)
  FROM m WHERE conversation_id IN (5, 6) GROUP BY 1 ORDER BY 1;
SELECT kpi.reply_turns(message_id, sent_at, sender, agent_id) FROM m WHERE false;

-- An agent message without agent_id still answers, credited to NULL.
SELECT kpi.reply_turns(id, ts, s::kpi.sender, a)
  FROM (VALUES (1, timestamptz '2026-03-02 14:00:00', 'customer', NULL::int),
			   (2, timestamptz '2026-03-02 14:00:03', 'agent', NULL)) v(id, ts, s, a);

-- NULL message_id, sent_at or sender, and an infinite sent_at, are errors, not dropped rows.
SELECT kpi.reply_turns(NULL, now(), 'customer', NULL);
SELECT kpi.reply_turns(1, NULL, 'customer', NULL);
SELECT kpi.reply_turns(1, now(), NULL, NULL);
SELECT kpi.reply_turns(1, 'infinity', 'customer', NULL);

-- A serialized state (what parallel workers pass on) is checked byte by byte.
SELECT kpi.reply_turns_decode('\x01'::bytea || int8send(1)
	|| timestamptz_send('2026-03-02 15:00:00') || int8send(1) || int4send(0) || '\x0001'::bytea);
SELECT kpi.reply_turns_decode('\x01'::bytea || int8send(1)
	|| timestamptz_send('2026-03-02 15:00:00') || int8send(1) || int4send(0) || '\x0701'::bytea);

DROP TABLE m;
