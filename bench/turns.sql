-- Reply turns (SPEC 4.1, issue 3): kpi.reply_turns against the plain-SQL formulation and the
-- floor, one worker as in the issue's figures.
--
-- The timed queries consume the aggregate's result (sum(cardinality(...))): with a bare
-- count(*) over the grouped subquery the planner drops the unused aggregate and times only the
-- grouping. The floor likewise sums its counts, and the alternative consumes every turn column.

-- @job reply turns, kpi.messages (sample shop, heap in conversation order)
-- @rows
SELECT count(*) FROM kpi.messages;
-- @ours kpi.reply_turns
SET max_parallel_workers_per_gather = 1;
SELECT sum(cardinality(ts))
  FROM (SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id) AS ts
		  FROM kpi.messages GROUP BY 1) s;
-- @alternative plain SQL: segments numbered by agent messages before
SET max_parallel_workers_per_gather = 1;
SELECT count(*), count(*) FILTER (WHERE is_first), count(agent_id), sum(response_s)
  FROM (SELECT conversation_id, opened_at, answered_at, agent_id, answered_at IS NOT NULL AS answered,
			   row_number() OVER (PARTITION BY conversation_id ORDER BY seg) = 1 AS is_first,
			   extract(epoch FROM answered_at - opened_at)::float8 AS response_s
		  FROM (SELECT conversation_id, seg,
					   min(sent_at) FILTER (WHERE sender = 'customer') AS opened_at,
					   min(sent_at) FILTER (WHERE sender = 'agent') AS answered_at,
					   min(agent_id) FILTER (WHERE sender = 'agent') AS agent_id
				  FROM (SELECT conversation_id, sent_at, sender, agent_id,
							   count(*) FILTER (WHERE sender = 'agent')
								 OVER (PARTITION BY conversation_id ORDER BY sent_at, message_id
									   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seg
						  FROM kpi.messages) m
				 GROUP BY conversation_id, seg
				HAVING count(*) FILTER (WHERE sender = 'customer') > 0) g) t;
-- @floor grouped count
SET max_parallel_workers_per_gather = 1;
SELECT sum(n) FROM (SELECT conversation_id, count(*) AS n FROM kpi.messages GROUP BY 1) s;

-- @job reply turns, the same messages with the heap in random order
-- @setup
CREATE TABLE public.turns_bench_shuffled AS
SELECT * FROM kpi.messages ORDER BY hashint8(message_id);
CREATE INDEX ON public.turns_bench_shuffled (conversation_id, sent_at, message_id);
VACUUM ANALYZE public.turns_bench_shuffled;
-- @rows
SELECT count(*) FROM public.turns_bench_shuffled;
-- @ours kpi.reply_turns
SET max_parallel_workers_per_gather = 1;
SELECT sum(cardinality(ts))
  FROM (SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id) AS ts
		  FROM public.turns_bench_shuffled GROUP BY 1) s;
-- @alternative plain SQL: segments numbered by agent messages before
SET max_parallel_workers_per_gather = 1;
SELECT count(*), count(*) FILTER (WHERE is_first), count(agent_id), sum(response_s)
  FROM (SELECT conversation_id, opened_at, answered_at, agent_id, answered_at IS NOT NULL AS answered,
			   row_number() OVER (PARTITION BY conversation_id ORDER BY seg) = 1 AS is_first,
			   extract(epoch FROM answered_at - opened_at)::float8 AS response_s
		  FROM (SELECT conversation_id, seg,
					   min(sent_at) FILTER (WHERE sender = 'customer') AS opened_at,
					   min(sent_at) FILTER (WHERE sender = 'agent') AS answered_at,
					   min(agent_id) FILTER (WHERE sender = 'agent') AS agent_id
				  FROM (SELECT conversation_id, sent_at, sender, agent_id,
							   count(*) FILTER (WHERE sender = 'agent')
								 OVER (PARTITION BY conversation_id ORDER BY sent_at, message_id
									   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seg
						  FROM public.turns_bench_shuffled) m
				 GROUP BY conversation_id, seg
				HAVING count(*) FILTER (WHERE sender = 'customer') > 0) g) t;
-- @floor grouped count
SET max_parallel_workers_per_gather = 1;
SELECT sum(n) FROM (SELECT conversation_id, count(*) AS n FROM public.turns_bench_shuffled GROUP BY 1) s;
-- @teardown
DROP TABLE public.turns_bench_shuffled;

-- @job reply turns, one conversation of 1M messages (memory per group), fed in reverse
-- @rows
SELECT 1000000;
-- @ours kpi.reply_turns
SELECT cardinality(kpi.reply_turns(i, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
								   (ARRAY['system', 'customer', 'auto', 'agent']::kpi.sender[])[i % 4 + 1],
								   CASE WHEN i % 4 = 3 THEN 1 END))
  FROM generate_series(1000000, 1, -1) i;
-- @floor count
SELECT count(i + 1) FROM generate_series(1000000, 1, -1) i;
-- @runs 3
