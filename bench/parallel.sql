-- The main aggregates with two parallel workers against none, on the sample shop. Parallel
-- plans are encouraged (no setup or tuple cost) so that the comparison is about the combine
-- and serialization paths, not about the planner's judgement.

-- @job parallel: reply turns over kpi.messages, 2 workers (ours) vs 0
-- @rows
SELECT count(*) FROM kpi.messages;
-- @ours 2 workers
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SELECT sum(cardinality(ts))
  FROM (SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id) AS ts
		  FROM kpi.messages GROUP BY 1) s;
-- @alternative 0 workers
SET max_parallel_workers_per_gather = 0;
SELECT sum(cardinality(ts))
  FROM (SELECT conversation_id, kpi.reply_turns(message_id, sent_at, sender, agent_id) AS ts
		  FROM kpi.messages GROUP BY 1) s;
-- @runs 3

-- @job parallel: p90 per agent and day from kpi.turns, 2 workers (ours) vs 0
-- @setup
SELECT count(*) FROM kpi.refresh();
-- @rows
SELECT count(*) FROM kpi.turns;
-- @ours 2 workers
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SELECT sum(kpi.approx_percentile(0.9, s))
  FROM (SELECT agent_id, day, kpi.sketch_agg(response_s) AS s FROM kpi.turns GROUP BY 1, 2) g;
-- @alternative 0 workers
SET max_parallel_workers_per_gather = 0;
SELECT sum(kpi.approx_percentile(0.9, s))
  FROM (SELECT agent_id, day, kpi.sketch_agg(response_s) AS s FROM kpi.turns GROUP BY 1, 2) g;
-- @runs 3

-- @job parallel: answered share per agent with proportion_agg, 2 workers (ours) vs 0
-- @rows
SELECT count(*) FROM kpi.turns;
-- @ours 2 workers
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SELECT sum(kpi.rate(p))
  FROM (SELECT agent_id, kpi.proportion_agg(answered::int, 1) AS p FROM kpi.turns GROUP BY 1) g;
-- @alternative 0 workers
SET max_parallel_workers_per_gather = 0;
SELECT sum(kpi.rate(p))
  FROM (SELECT agent_id, kpi.proportion_agg(answered::int, 1) AS p FROM kpi.turns GROUP BY 1) g;
-- @runs 3
