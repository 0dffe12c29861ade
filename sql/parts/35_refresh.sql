-- kpi.refresh(): derive the facts from the canonical tables, incrementally by default.
--
-- The refresh works in two layers, each step one function below:
--   per event   kpi.turns (per conversation), kpi.order_attribution (per order) and
--               kpi.feedback_charges (per complaint and rating) are recomputed for the events
--               that changed or whose inputs changed, listed in pg_temp work tables;
--   per cell    kpi.agent_days (shop, agent, day) and kpi.shop_days (shop, day) are recomputed
--               for every cell any changed event was counted in before or is counted in now,
--               one group of columns at a time. The cells are passed as ranges of consecutive
--               days per group, shop and agent in pg_temp.refresh_ranges (per shop in
--               pg_temp.refresh_shop_ranges).
-- A full rebuild runs the same statements: the per-event steps without their filter (all
-- events), the per-cell steps over one unbounded range per shop and agent. So incremental and
-- full refreshes cannot drift apart, and test/refresh.sql compares them row for row.
--
-- Interval arithmetic (attribution and FCR windows) runs with TimeZone UTC, so a window of
-- '1 day' always means 24 hours whatever the caller's session time zone is.

-- Work tables of one refresh: the change log rows it consumed, the events and cells to redo.
-- The refresh drops them when it is done, so the next one (maybe as another role, in the same
-- transaction) starts afresh; ON COMMIT DROP covers a refresh that failed.
CREATE FUNCTION kpi.refresh_drop_work_tables() RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF to_regclass('pg_temp.refresh_ranges') IS NOT NULL THEN
		DROP TABLE pg_temp.refresh_log_conversations, pg_temp.refresh_log_orders,
			pg_temp.refresh_log_refunds, pg_temp.refresh_log_complaints, pg_temp.refresh_log_ratings,
			pg_temp.refresh_log_sessions, pg_temp.refresh_conversations, pg_temp.refresh_orders,
			pg_temp.refresh_old_attribution, pg_temp.refresh_moved_orders, pg_temp.refresh_feedback,
			pg_temp.refresh_cells, pg_temp.refresh_shop_cells, pg_temp.refresh_ranges,
			pg_temp.refresh_shop_ranges, pg_temp.refresh_windows, pg_temp.refresh_fcr;
	END IF;
END
$$;
COMMENT ON FUNCTION kpi.refresh_drop_work_tables() IS
	'refresh step: drop the temporary work tables of a refresh (internal)';

CREATE FUNCTION kpi.refresh_work_tables() RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM kpi.refresh_drop_work_tables();
	CREATE TEMP TABLE refresh_log_conversations (LIKE kpi.conversations, is_new boolean) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_log_orders (LIKE kpi.orders, is_new boolean) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_log_refunds (LIKE kpi.refunds, is_new boolean) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_log_complaints (LIKE kpi.complaints, is_new boolean) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_log_ratings (LIKE kpi.ratings, is_new boolean) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_log_sessions (LIKE kpi.agent_sessions, is_new boolean) ON COMMIT DROP;
	CREATE INDEX ON refresh_log_conversations (conversation_id);
	CREATE INDEX ON refresh_log_conversations (shop_id, customer_id, opened_at);
	CREATE INDEX ON refresh_log_orders (order_id);
	CREATE INDEX ON refresh_log_refunds (order_id);
	CREATE TEMP TABLE refresh_conversations (conversation_id bigint PRIMARY KEY) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_orders (order_id bigint PRIMARY KEY) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_old_attribution (LIKE kpi.order_attribution) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_moved_orders (order_id bigint PRIMARY KEY) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_feedback (source text, id bigint, PRIMARY KEY (source, id)) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_cells (grp text, shop_id int, agent_id int, day date) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_shop_cells (shop_id int, day date) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_ranges (grp text, shop_id int, agent_id int, first_day date, last_day date,
									  lo timestamptz, hi timestamptz) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_shop_ranges (shop_id int, first_day date, last_day date,
										   lo timestamptz, hi timestamptz) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_windows (grp text, shop_id int, lo timestamptz, hi timestamptz) ON COMMIT DROP;
	CREATE TEMP TABLE refresh_fcr (shop_id int, agent_id int, day date, delta int) ON COMMIT DROP;
END
$$;
COMMENT ON FUNCTION kpi.refresh_work_tables() IS
	'refresh step: create the temporary work tables of one refresh (internal)';

-- Turns of the conversations in pg_temp.refresh_conversations, or of all (rebuild). Otherwise
-- the cells their old and new turns count in go to pg_temp.refresh_cells. The one statement
-- is built with or without its filter: a rebuild must read the messages in index order (one
-- pass, no sort, no hash of all conversations), which a filter, even one that keeps every
-- row, would prevent.
CREATE FUNCTION kpi.refresh_turns(rebuild boolean) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF rebuild THEN
		DELETE FROM kpi.turns;
	ELSE
		WITH gone AS (
			DELETE FROM kpi.turns t
			 WHERE t.conversation_id = ANY (ARRAY(SELECT r.conversation_id FROM pg_temp.refresh_conversations r))
			RETURNING t.shop_id, t.agent_id, t.day)
		INSERT INTO pg_temp.refresh_cells
		SELECT DISTINCT 'turns', g.shop_id, g.agent_id, g.day FROM gone g;
	END IF;

	EXECUTE format($sql$
	WITH made AS (
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
				 %s
				 GROUP BY m.shop_id, m.conversation_id) g
		 CROSS JOIN LATERAL unnest(g.turns) WITH ORDINALITY
				AS t(opened_at, answered_at, agent_id, answered, is_first, response_s, turn_no)
		  JOIN kpi.conversations c ON c.conversation_id = g.conversation_id
		  JOIN kpi.shop_zones z ON z.shop_id = g.shop_id
		  LEFT JOIN kpi.agents a ON a.agent_id = t.agent_id AND t.answered
		  LEFT JOIN kpi.calendars cal ON cal.calendar_id = a.calendar_id
		RETURNING shop_id, agent_id, day),
	cells AS (
		INSERT INTO pg_temp.refresh_cells
		SELECT DISTINCT 'turns', m.shop_id, m.agent_id, m.day FROM made m WHERE NOT $1)
	SELECT count(*) FROM made$sql$,
		CASE WHEN rebuild THEN ''
			 ELSE 'WHERE m.conversation_id IN (SELECT r.conversation_id FROM pg_temp.refresh_conversations r)' END)
		INTO n USING rebuild;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_turns(boolean) IS
	'refresh step: recompute kpi.turns for the conversations in pg_temp.refresh_conversations (internal)';

-- Attribution of the orders in pg_temp.refresh_orders.
CREATE FUNCTION kpi.refresh_order_attribution(rebuild boolean) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $$
DECLARE
	n bigint;
BEGIN
	IF rebuild THEN
		DELETE FROM kpi.order_attribution;
	ELSE
		DELETE FROM kpi.order_attribution a
		 WHERE a.order_id = ANY (ARRAY(SELECT r.order_id FROM pg_temp.refresh_orders r));
	END IF;
	-- Without its filter in a rebuild, as in kpi.refresh_turns.
	EXECUTE format($sql$
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
			 LIMIT 1) c
	 %s$sql$,
		CASE WHEN rebuild THEN ''
			 ELSE 'WHERE o.order_id = ANY (ARRAY(SELECT r.order_id FROM pg_temp.refresh_orders r))' END);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_order_attribution(boolean) IS
	'refresh step: recompute kpi.order_attribution for the orders in pg_temp.refresh_orders (internal)';

-- Charged agent of the complaints and ratings in pg_temp.refresh_feedback. With collect, the
-- cells and shop days they counted in before and count in now go to pg_temp.refresh_cells
-- and pg_temp.refresh_shop_cells.
CREATE FUNCTION kpi.refresh_feedback_charges(rebuild boolean) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF rebuild THEN
		DELETE FROM kpi.feedback_charges;
	ELSE
		WITH gone AS (
			DELETE FROM kpi.feedback_charges f
			 WHERE (f.source = 'complaint' AND f.id = ANY (ARRAY(
						SELECT r.id FROM pg_temp.refresh_feedback r WHERE r.source = 'complaint')))
				OR (f.source = 'rating' AND f.id = ANY (ARRAY(
						SELECT r.id FROM pg_temp.refresh_feedback r WHERE r.source = 'rating')))
			RETURNING f.shop_id, f.agent_id, f.day),
		shop_cells AS (
			INSERT INTO pg_temp.refresh_shop_cells
			SELECT DISTINCT g.shop_id, g.day FROM gone g)
		INSERT INTO pg_temp.refresh_cells
		SELECT DISTINCT 'feedback', g.shop_id, g.agent_id, g.day FROM gone g;
	END IF;

	-- Without its filters in a rebuild, as in kpi.refresh_turns.
	EXECUTE format($sql$
	WITH made AS (
		INSERT INTO kpi.feedback_charges (source, id, shop_id, agent_id, day, kind, score)
		SELECT e.source, e.id, e.shop_id, coalesce(e.agent_id, c.agent_id, a.agent_id),
			   (e.at AT TIME ZONE z.timezone)::date, e.kind, e.score
		  FROM (SELECT 'complaint' AS source, x.complaint_id AS id, x.shop_id, x.agent_id,
					   x.conversation_id, x.order_id, x.filed_at AS at, 'complaint' AS kind,
					   NULL::smallint AS score
				  FROM kpi.complaints x
				 %s
				UNION ALL
				SELECT 'rating', x.rating_id, x.shop_id, x.agent_id, x.conversation_id, x.order_id,
					   x.rated_at, x.kind, x.score
				  FROM kpi.ratings x
				 %s) e
		  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
		  LEFT JOIN kpi.conversations c ON c.conversation_id = e.conversation_id
		  LEFT JOIN kpi.order_attribution a ON a.order_id = e.order_id
		RETURNING shop_id, agent_id, day),
	shop_cells AS (
		INSERT INTO pg_temp.refresh_shop_cells
		SELECT DISTINCT m.shop_id, m.day FROM made m WHERE NOT $1),
	cells AS (
		INSERT INTO pg_temp.refresh_cells
		SELECT DISTINCT 'feedback', m.shop_id, m.agent_id, m.day FROM made m WHERE NOT $1)
	SELECT count(*) FROM made$sql$,
		CASE WHEN rebuild THEN ''
			 ELSE 'WHERE x.complaint_id = ANY (ARRAY(SELECT r.id FROM pg_temp.refresh_feedback r WHERE r.source = ''complaint''))' END,
		CASE WHEN rebuild THEN ''
			 ELSE 'WHERE x.rating_id = ANY (ARRAY(SELECT r.id FROM pg_temp.refresh_feedback r WHERE r.source = ''rating''))' END)
		INTO n USING rebuild;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_feedback_charges(boolean) IS
	'refresh step: recompute kpi.feedback_charges for the events in pg_temp.refresh_feedback (internal)';

-- How a refresh step reads the sources of one group of agent-day columns: '' (a join left to
-- the planner) or 'OFFSET 0', which makes it probe the source's index once per range or window.
-- The planner misjudges range conditions against a work table and often scans a whole table
-- for a few days' rows; but when the ranges cover much of the facts (a rebuild, or edits spread
-- over many days) one scan is cheaper than many probes. The line is a tenth of the table.
CREATE FUNCTION kpi.refresh_fence(grp text) RETURNS text
	LANGUAGE plpgsql STABLE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	unbounded boolean;
	days bigint;
	cells double precision;
BEGIN
	SELECT coalesce(bool_or(NOT isfinite(r.first_day) OR NOT isfinite(r.last_day)), false),
		   coalesce(sum(CASE WHEN isfinite(r.first_day) AND isfinite(r.last_day)
							 THEN r.last_day - r.first_day + 1 END), 0)
	  INTO unbounded, days
	  FROM pg_temp.refresh_ranges r
	 WHERE r.grp = refresh_fence.grp;
	SELECT greatest(c.reltuples, 0) INTO cells FROM pg_class c WHERE c.oid = 'kpi.agent_days'::regclass;
	IF unbounded OR days * 10 > cells THEN
		RETURN '';
	END IF;
	RETURN 'OFFSET 0';
END
$$;
COMMENT ON FUNCTION kpi.refresh_fence(text) IS
	'refresh step: whether to probe the sources of a column group per range (OFFSET 0) or leave the join to the planner (internal)';

-- The agent-day cells in pg_temp.refresh_ranges. The columns of agent_days come in groups, one
-- per source (turns, conversations, conversion, sales, handling, feedback, online), and a range
-- names the group whose columns it redoes: a return visit that spoils an old conversation's
-- first-contact resolution redoes that day's conversation columns, not its turns. A range covers
-- the days first_day..last_day of one shop and agent; lo..hi bound their instants with a day to
-- spare on each side (a local midnight can repeat across a DST change), and the exact day is
-- then checked. Ranges of one group, shop and agent never overlap. A rebuild (ranges without
-- bounds for every group) starts from an empty table; otherwise a group's columns are reset in
-- its ranges, recomputed, and rows left with no facts at all are deleted.
CREATE FUNCTION kpi.refresh_agent_days(rebuild boolean) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $$
DECLARE
	n bigint;
	group_name text;
	group_columns text;
	-- Where the column groups are written: a rebuild assembles its rows in a temporary table
	-- and inserts each once, where upserting group after group would leave six dead versions
	-- of every row behind in kpi.agent_days (which reports then read past).
	target text := CASE WHEN rebuild THEN 'pg_temp.refresh_agent_days_stage' ELSE 'kpi.agent_days' END;
BEGIN
	IF rebuild THEN
		DELETE FROM kpi.agent_days d
		 USING pg_temp.refresh_ranges r
		 WHERE r.grp = 'turns' AND d.shop_id = r.shop_id AND d.agent_id = r.agent_id
		   AND d.day BETWEEN r.first_day AND r.last_day;
		IF to_regclass('pg_temp.refresh_agent_days_stage') IS NOT NULL THEN
			DROP TABLE pg_temp.refresh_agent_days_stage;
		END IF;
		CREATE TEMP TABLE refresh_agent_days_stage
			(LIKE kpi.agent_days INCLUDING DEFAULTS INCLUDING INDEXES) ON COMMIT DROP;
	END IF;
	-- Reset the columns of each group in its ranges (the sources below add what remains).
	FOR group_name, group_columns IN
		SELECT * FROM (VALUES
			('turns', 'turns = 0, answered_turns = 0, response_sla_hits = 0, response_us = 0, business_response_us = 0, first_turns = 0, first_answered = 0, first_response_sla_hits = 0, first_response_us = 0, response_sketch = NULL'),
			('conversations', 'conversations = 0, closed_conversations = 0, handle_us = 0, resolved_conversations = 0, resolution_us = 0, fcr_conversations = 0, inquiries = 0'),
			('conversion', 'ordering_customers = 0, paying_customers = 0, attributed_orders = 0, attributed_paid_orders = 0, paid_amount = 0, paid_items = 0'),
			('sales', 'sales_refunds = 0, sales_paid_orders = 0'),
			('handling', 'handled_refunds = 0, handled_disputes = 0, completed_refunds = 0, merchant_completed_refunds = 0, completion_us = 0'),
			('feedback', 'complaints = 0, csat_ratings = 0, csat_positive = 0, csat_score_sum = 0, review_ratings = 0, review_positive = 0, review_score_sum = 0, dsr_ratings = 0, dsr_score_sum = 0'),
			('online', 'online_us = 0')) g
	LOOP
		EXECUTE format('UPDATE kpi.agent_days d SET %s FROM pg_temp.refresh_ranges r '
					   'WHERE r.grp = %L AND d.shop_id = r.shop_id AND d.agent_id = r.agent_id '
					   'AND d.day BETWEEN r.first_day AND r.last_day', group_columns, group_name);
	END LOOP;

	-- Response (day of the turn's first customer message).
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, turns, answered_turns,
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
	  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'turns') r
	 CROSS JOIN LATERAL (
			SELECT t.* FROM kpi.turns t
			 WHERE t.shop_id = r.shop_id AND t.agent_id = r.agent_id
			   AND t.day BETWEEN r.first_day AND r.last_day %1$s) t
	 GROUP BY t.shop_id, t.agent_id, t.day
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET turns = excluded.turns,
		   answered_turns = excluded.answered_turns,
		   response_sla_hits = excluded.response_sla_hits,
		   response_us = excluded.response_us,
		   business_response_us = excluded.business_response_us,
		   first_turns = excluded.first_turns,
		   first_answered = excluded.first_answered,
		   first_response_sla_hits = excluded.first_response_sla_hits,
		   first_response_us = excluded.first_response_us,
		   response_sketch = excluded.response_sketch$sql$, kpi.refresh_fence('turns'), target);

	-- Conversations, resolution, first-contact resolution and inquiries (day opened).
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, conversations, closed_conversations,
		handle_us, resolved_conversations, resolution_us, fcr_conversations, inquiries)
	SELECT c.shop_id, c.agent_id, c.day,
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
	  FROM (SELECT c.*, (c.opened_at AT TIME ZONE z.timezone)::date AS day, r.first_day, r.last_day
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'conversations') r
			 CROSS JOIN LATERAL (
					SELECT c.* FROM kpi.conversations c
					 WHERE c.shop_id = r.shop_id AND c.agent_id = r.agent_id
					   AND c.opened_at >= r.lo AND c.opened_at < r.hi %1$s) c
			  JOIN kpi.shop_zones z ON z.shop_id = c.shop_id) c
	 WHERE c.day BETWEEN c.first_day AND c.last_day
	 GROUP BY c.shop_id, c.agent_id, c.day
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET conversations = excluded.conversations,
		   closed_conversations = excluded.closed_conversations,
		   handle_us = excluded.handle_us,
		   resolved_conversations = excluded.resolved_conversations,
		   resolution_us = excluded.resolution_us,
		   fcr_conversations = excluded.fcr_conversations,
		   inquiries = excluded.inquiries$sql$, kpi.refresh_fence('conversations'), target);

	-- First-contact resolution of unchanged conversations whose return visit came, went or
	-- moved (pg_temp.refresh_fcr, incremental only): adjusted by the difference, unless their
	-- cell was recomputed just above.
	UPDATE kpi.agent_days d
	   SET fcr_conversations = d.fcr_conversations + f.delta
	  FROM (SELECT x.shop_id, x.agent_id, x.day, sum(x.delta) AS delta
			  FROM pg_temp.refresh_fcr x
			 GROUP BY 1, 2, 3
			HAVING sum(x.delta) <> 0) f
	 WHERE d.shop_id = f.shop_id AND d.agent_id = f.agent_id AND d.day = f.day
	   AND NOT EXISTS (SELECT FROM pg_temp.refresh_ranges r
					    WHERE r.grp = 'conversations' AND r.shop_id = f.shop_id
						  AND r.agent_id = f.agent_id AND f.day BETWEEN r.first_day AND r.last_day);

	-- Conversion: attributed orders on the day their conversation opened.
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, ordering_customers, paying_customers,
		attributed_orders, attributed_paid_orders, paid_amount, paid_items)
	SELECT a.shop_id, a.agent_id, a.day,
		   count(DISTINCT o.customer_id),
		   count(DISTINCT o.customer_id) FILTER (WHERE o.paid_at IS NOT NULL),
		   count(*),
		   count(o.paid_at),
		   coalesce(sum(o.amount) FILTER (WHERE o.paid_at IS NOT NULL), 0),
		   coalesce(sum(o.items) FILTER (WHERE o.paid_at IS NOT NULL), 0)
	  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'conversion') r
	 CROSS JOIN LATERAL (
			SELECT a.* FROM kpi.order_attribution a
			 WHERE a.shop_id = r.shop_id AND a.agent_id = r.agent_id
			   AND a.day BETWEEN r.first_day AND r.last_day %1$s) a
	 CROSS JOIN LATERAL (SELECT o.* FROM kpi.orders o WHERE o.order_id = a.order_id %1$s) o
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET ordering_customers = excluded.ordering_customers,
		   paying_customers = excluded.paying_customers,
		   attributed_orders = excluded.attributed_orders,
		   attributed_paid_orders = excluded.attributed_paid_orders,
		   paid_amount = excluded.paid_amount,
		   paid_items = excluded.paid_items$sql$, kpi.refresh_fence('conversion'), target);

	-- Sales quality: refunds on attributed orders by the day requested, attributed orders by
	-- the day paid. Orders and refunds carry no agent, so they are read per shop window (the
	-- union of the shop's ranges) and then matched to the ranges of their credited agent.
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, sales_refunds, sales_paid_orders)
	SELECT x.shop_id, x.agent_id, x.day, sum(x.refunds), sum(x.paid)
	  FROM (SELECT a.shop_id, a.agent_id, (e.requested_at AT TIME ZONE z.timezone)::date AS day,
				   1 AS refunds, 0 AS paid
			  FROM (SELECT * FROM pg_temp.refresh_windows WHERE grp = 'sales') w
			 CROSS JOIN LATERAL (
					SELECT e.shop_id, e.order_id, e.requested_at FROM kpi.refunds e
					 WHERE e.shop_id = w.shop_id
					   AND e.requested_at >= w.lo AND e.requested_at < w.hi %1$s) e
			 CROSS JOIN LATERAL (
					SELECT a.* FROM kpi.order_attribution a WHERE a.order_id = e.order_id %1$s) a
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
			UNION ALL
			SELECT a.shop_id, a.agent_id, (o.paid_at AT TIME ZONE z.timezone)::date, 0, 1
			  FROM (SELECT * FROM pg_temp.refresh_windows WHERE grp = 'sales') w
			 CROSS JOIN LATERAL (
					SELECT o.shop_id, o.order_id, o.paid_at FROM kpi.orders o
					 WHERE o.shop_id = w.shop_id AND o.paid_at >= w.lo AND o.paid_at < w.hi %1$s) o
			 CROSS JOIN LATERAL (
					SELECT a.* FROM kpi.order_attribution a WHERE a.order_id = o.order_id %1$s) a
			  JOIN kpi.shop_zones z ON z.shop_id = o.shop_id) x
	  JOIN pg_temp.refresh_ranges r ON r.grp = 'sales' AND r.shop_id = x.shop_id
								   AND r.agent_id = x.agent_id
								   AND x.day BETWEEN r.first_day AND r.last_day
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET sales_refunds = excluded.sales_refunds,
		   sales_paid_orders = excluded.sales_paid_orders$sql$, kpi.refresh_fence('sales'), target);

	-- After-sale handling: requests by the day requested, completions by the day completed
	-- (read per shop window as above: the refund indexes lead with the shop, not the agent).
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, handled_refunds, handled_disputes,
		completed_refunds, merchant_completed_refunds, completion_us)
	SELECT x.shop_id, x.agent_id, x.day, sum(x.requested), sum(x.disputed), sum(x.completed),
		   sum(x.merchant), sum(x.completion_us)
	  FROM (SELECT e.shop_id, e.agent_id, (e.requested_at AT TIME ZONE z.timezone)::date AS day,
				   1 AS requested, e.disputed::int AS disputed,
				   0 AS completed, 0 AS merchant, 0::bigint AS completion_us
			  FROM (SELECT * FROM pg_temp.refresh_windows WHERE grp = 'handling') w
			 CROSS JOIN LATERAL (
					SELECT e.* FROM kpi.refunds e
					 WHERE e.shop_id = w.shop_id
					   AND e.requested_at >= w.lo AND e.requested_at < w.hi %1$s) e
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
			UNION ALL
			SELECT e.shop_id, e.agent_id, (e.completed_at AT TIME ZONE z.timezone)::date,
				   0, 0, 1, (e.completed_by = 'merchant')::int,
				   kpi.microseconds(e.completed_at - e.requested_at)
			  FROM (SELECT * FROM pg_temp.refresh_windows WHERE grp = 'handling') w
			 CROSS JOIN LATERAL (
					SELECT e.* FROM kpi.refunds e
					 WHERE e.shop_id = w.shop_id
					   AND e.completed_at >= w.lo AND e.completed_at < w.hi %1$s) e
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id) x
	  JOIN pg_temp.refresh_ranges r ON r.grp = 'handling' AND r.shop_id = x.shop_id
								   AND r.agent_id = x.agent_id
								   AND x.day BETWEEN r.first_day AND r.last_day
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET handled_refunds = excluded.handled_refunds,
		   handled_disputes = excluded.handled_disputes,
		   completed_refunds = excluded.completed_refunds,
		   merchant_completed_refunds = excluded.merchant_completed_refunds,
		   completion_us = excluded.completion_us$sql$, kpi.refresh_fence('handling'), target);

	-- Complaints and ratings charged to the agent (day filed or rated).
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, complaints, csat_ratings,
		csat_positive, csat_score_sum, review_ratings, review_positive, review_score_sum,
		dsr_ratings, dsr_score_sum)
	SELECT f.shop_id, f.agent_id, f.day,
		   count(*) FILTER (WHERE f.kind = 'complaint'),
		   count(*) FILTER (WHERE f.kind = 'csat'),
		   count(*) FILTER (WHERE f.kind = 'csat' AND f.score >= 4),
		   coalesce(sum(f.score) FILTER (WHERE f.kind = 'csat'), 0),
		   count(*) FILTER (WHERE f.kind = 'review'),
		   count(*) FILTER (WHERE f.kind = 'review' AND f.score >= 4),
		   coalesce(sum(f.score) FILTER (WHERE f.kind = 'review'), 0),
		   count(*) FILTER (WHERE f.kind = 'dsr_service'),
		   coalesce(sum(f.score) FILTER (WHERE f.kind = 'dsr_service'), 0)
	  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'feedback') r
	 CROSS JOIN LATERAL (
			SELECT f.* FROM kpi.feedback_charges f
			 WHERE f.shop_id = r.shop_id AND f.agent_id = r.agent_id
			   AND f.day BETWEEN r.first_day AND r.last_day %1$s) f
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
		   dsr_score_sum = excluded.dsr_score_sum$sql$, kpi.refresh_fence('feedback'), target);

	-- Online time: the union of the agent's sessions in the shop, cut at the shop's midnights.
	-- Only sessions that reach into the range matter to its days.
	EXECUTE format($sql$
	INSERT INTO %2$s AS d (shop_id, agent_id, day, online_us)
	SELECT u.shop_id, u.agent_id, p.day,
		   sum(kpi.microseconds(least(upper(u.online), p.day_end) - greatest(lower(u.online), p.day_start)))
	  FROM (SELECT r.shop_id, r.agent_id, r.first_day, r.last_day,
				   unnest(range_agg(s.online)) AS online
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'online') r
			 CROSS JOIN LATERAL (
					SELECT s.online FROM kpi.agent_sessions s
					 WHERE s.shop_id = r.shop_id AND s.agent_id = r.agent_id
					   AND s.online && tstzrange(r.lo, r.hi) %1$s) s
			 GROUP BY 1, 2, 3, 4) u
	  JOIN kpi.shop_zones z ON z.shop_id = u.shop_id
	 CROSS JOIN LATERAL (
			SELECT day::date AS day,
				   day::date::timestamp AT TIME ZONE z.timezone AS day_start,
				   (day::date + 1)::timestamp AT TIME ZONE z.timezone AS day_end
			  FROM generate_series((lower(u.online) AT TIME ZONE z.timezone)::date::timestamp,
								   (upper(u.online) AT TIME ZONE z.timezone)::date::timestamp,
								   interval '1 day') day) p
	 WHERE upper(u.online) > p.day_start AND lower(u.online) < p.day_end
	   AND p.day BETWEEN u.first_day AND u.last_day
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET online_us = excluded.online_us$sql$, kpi.refresh_fence('online'), target);

	IF rebuild THEN
		INSERT INTO kpi.agent_days
		SELECT s.* FROM pg_temp.refresh_agent_days_stage s ORDER BY s.shop_id, s.agent_id, s.day;
		DROP TABLE pg_temp.refresh_agent_days_stage;
	END IF;

	-- A cell whose every group is empty has no facts left: a full rebuild would have no row.
	IF NOT rebuild THEN
		DELETE FROM kpi.agent_days d
		 USING pg_temp.refresh_ranges r
		 WHERE d.shop_id = r.shop_id AND d.agent_id = r.agent_id
		   AND d.day BETWEEN r.first_day AND r.last_day
		   AND d.turns = 0 AND d.conversations = 0 AND d.attributed_orders = 0
		   AND d.sales_refunds = 0 AND d.sales_paid_orders = 0 AND d.handled_refunds = 0
		   AND d.completed_refunds = 0 AND d.complaints = 0 AND d.csat_ratings = 0
		   AND d.review_ratings = 0 AND d.dsr_ratings = 0 AND d.online_us = 0;
	END IF;

	SELECT count(*) INTO n
	  FROM (SELECT DISTINCT d.shop_id, d.agent_id, d.day
			  FROM pg_temp.refresh_ranges r
			  JOIN kpi.agent_days d ON d.shop_id = r.shop_id AND d.agent_id = r.agent_id
								   AND d.day BETWEEN r.first_day AND r.last_day) x;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_agent_days(boolean) IS
	'refresh step: recompute the kpi.agent_days cells of pg_temp.refresh_ranges (internal)';

-- The shop days in pg_temp.refresh_shop_ranges, recomputed whole (same ranges as above).
CREATE FUNCTION kpi.refresh_shop_days() RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM kpi.shop_days d
	 USING pg_temp.refresh_shop_ranges r
	 WHERE d.shop_id = r.shop_id AND d.day BETWEEN r.first_day AND r.last_day;
	INSERT INTO kpi.shop_days (shop_id, day, orders_paid, refunds_requested, disputed_refunds,
		complaints, refunds_completed, merchant_completed_refunds, completion_us, dsr_ratings,
		dsr_score_sum)
	SELECT x.shop_id, x.day,
		   count(*) FILTER (WHERE x.what = 'paid'),
		   count(*) FILTER (WHERE x.what = 'requested'),
		   count(*) FILTER (WHERE x.what = 'requested' AND x.flag),
		   count(*) FILTER (WHERE x.what = 'complaint'),
		   count(*) FILTER (WHERE x.what = 'completed'),
		   count(*) FILTER (WHERE x.what = 'completed' AND x.flag),
		   coalesce(sum(x.us) FILTER (WHERE x.what = 'completed'), 0),
		   count(*) FILTER (WHERE x.what = 'dsr'),
		   coalesce(sum(x.us) FILTER (WHERE x.what = 'dsr'), 0)
	  FROM (SELECT e.shop_id, (e.at AT TIME ZONE z.timezone)::date AS day, r.first_day, r.last_day,
				   e.what, e.flag, e.us
			  FROM pg_temp.refresh_shop_ranges r
			 CROSS JOIN LATERAL (
					SELECT o.shop_id, o.paid_at AS at, 'paid' AS what, NULL::boolean AS flag,
						   NULL::bigint AS us
					  FROM kpi.orders o
					 WHERE o.shop_id = r.shop_id AND o.paid_at >= r.lo AND o.paid_at < r.hi
					UNION ALL
					SELECT x.shop_id, x.requested_at, 'requested', x.disputed, NULL
					  FROM kpi.refunds x
					 WHERE x.shop_id = r.shop_id AND x.requested_at >= r.lo AND x.requested_at < r.hi
					UNION ALL
					SELECT x.shop_id, x.completed_at, 'completed', x.completed_by = 'merchant',
						   kpi.microseconds(x.completed_at - x.requested_at)
					  FROM kpi.refunds x
					 WHERE x.shop_id = r.shop_id AND x.completed_at >= r.lo AND x.completed_at < r.hi) e
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
			UNION ALL
			SELECT f.shop_id, f.day, r.first_day, r.last_day,
				   CASE f.kind WHEN 'complaint' THEN 'complaint' ELSE 'dsr' END, NULL, f.score
			  FROM pg_temp.refresh_shop_ranges r
			  JOIN kpi.feedback_charges f ON f.shop_id = r.shop_id
										 AND f.day BETWEEN r.first_day AND r.last_day
			 WHERE f.kind IN ('complaint', 'dsr_service')) x
	 WHERE x.day BETWEEN x.first_day AND x.last_day
	 GROUP BY 1, 2;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_shop_days() IS
	'refresh step: recompute the kpi.shop_days of pg_temp.refresh_shop_ranges (internal)';

-- The dirty cells as ranges of consecutive days (islands) per shop and agent, and per shop.
CREATE FUNCTION kpi.refresh_cells_to_ranges() RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $$
BEGIN
	INSERT INTO pg_temp.refresh_ranges (grp, shop_id, agent_id, first_day, last_day, lo, hi)
	SELECT i.grp, i.shop_id, i.agent_id, min(i.day), max(i.day),
		   min(i.day)::timestamp AT TIME ZONE z.timezone - interval '24 hours',
		   (max(i.day) + 1)::timestamp AT TIME ZONE z.timezone + interval '24 hours'
	  FROM (SELECT c.grp, c.shop_id, c.agent_id, c.day,
				   c.day - (row_number() OVER (PARTITION BY c.grp, c.shop_id, c.agent_id ORDER BY c.day))::int AS island
			  FROM (SELECT DISTINCT grp, shop_id, agent_id, day FROM pg_temp.refresh_cells
					 WHERE agent_id IS NOT NULL AND day IS NOT NULL) c) i
	  JOIN kpi.shop_zones z ON z.shop_id = i.shop_id
	 GROUP BY i.grp, i.shop_id, i.agent_id, i.island, z.timezone;

	INSERT INTO pg_temp.refresh_shop_ranges (shop_id, first_day, last_day, lo, hi)
	SELECT i.shop_id, min(i.day), max(i.day),
		   min(i.day)::timestamp AT TIME ZONE z.timezone - interval '24 hours',
		   (max(i.day) + 1)::timestamp AT TIME ZONE z.timezone + interval '24 hours'
	  FROM (SELECT c.shop_id, c.day,
				   c.day - (row_number() OVER (PARTITION BY c.shop_id ORDER BY c.day))::int AS island
			  FROM (SELECT DISTINCT shop_id, day FROM pg_temp.refresh_shop_cells
					 WHERE day IS NOT NULL) c) i
	  JOIN kpi.shop_zones z ON z.shop_id = i.shop_id
	 GROUP BY i.shop_id, i.island, z.timezone;
END
$$;
COMMENT ON FUNCTION kpi.refresh_cells_to_ranges() IS
	'refresh step: turn the dirty cells into ranges of consecutive days (internal)';

-- Move one change log into its work table pg_temp.refresh_log_<name>: for every key whose row
-- changed since the last refresh, the version the facts were built from (is_new false; none if
-- the row is new) and the current row (is_new true; none if it is gone). Keys whose row ended
-- up as it was are dropped. Returns the log rows consumed.
CREATE FUNCTION kpi.refresh_consume(base text, work text, keys text[]) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
	key_of_version text;
	key_match text;
BEGIN
	SELECT string_agg(format('(x.version).%I', k), ', '),
		   string_agg(format('c.%1$I = (f.version).%1$I', k), ' AND ')
	  INTO key_of_version, key_match
	  FROM unnest(keys) k;
	EXECUTE format($sql$
		WITH x AS (DELETE FROM kpi.%1$I RETURNING change_no, is_new, version),
		counted AS (SELECT count(*) AS n FROM x),
		first AS (SELECT DISTINCT ON (%3$s) x.is_new, x.version FROM x ORDER BY %3$s, x.change_no, x.is_new),
		pairs AS (SELECT CASE WHEN NOT f.is_new THEN f.version END AS old_version, c AS new_version
					FROM first f LEFT JOIN kpi.%2$I c ON %4$s),
		moved AS (SELECT * FROM pairs p WHERE p.old_version IS DISTINCT FROM p.new_version),
		ins AS (INSERT INTO pg_temp.%5$I
				SELECT (m.old_version).*, false FROM moved m WHERE m.old_version IS DISTINCT FROM NULL
				UNION ALL
				SELECT (m.new_version).*, true FROM moved m WHERE m.new_version IS DISTINCT FROM NULL)
		SELECT n FROM counted$sql$,
		'changes_' || base, base, key_of_version, key_match, work) INTO n;
	IF n > 0 THEN
		EXECUTE format('ANALYZE pg_temp.%I', work);
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_consume(text, text, text[]) IS
	'refresh step: read a change log into the net old and current versions of its changed rows (internal)';

CREATE FUNCTION kpi.refresh(full boolean DEFAULT false, history boolean DEFAULT true)
	RETURNS TABLE (step text, mode text, recomputed bigint, rows bigint, seconds double precision,
				   detail text)
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $$
DECLARE
	started timestamptz;
	n bigint;
	logged bigint := 0;
	reason text;
BEGIN
	-- One refresh at a time: a second one waits here; readers keep reading the old facts
	-- until this transaction commits.
	LOCK TABLE kpi.agent_days IN SHARE ROW EXCLUSIVE MODE;
	started := clock_timestamp();
	PERFORM kpi.refresh_work_tables();

	-- Consume the change logs. A change committed after these deletes stays in the log for
	-- the next refresh (which may redo a cell this one already got right: that is harmless).
	WITH x AS (DELETE FROM kpi.changes_full RETURNING changes_full.reason)
	SELECT string_agg(DISTINCT x.reason, ', ') INTO reason FROM x;
	IF refresh.full THEN
		reason := coalesce(reason, 'requested');
	END IF;
	WITH x AS (DELETE FROM kpi.changes_messages RETURNING conversation_id)
	INSERT INTO pg_temp.refresh_conversations SELECT DISTINCT conversation_id FROM x;
	GET DIAGNOSTICS n = ROW_COUNT; logged := logged + n;
	logged := logged + kpi.refresh_consume('conversations', 'refresh_log_conversations', '{conversation_id}');
	logged := logged + kpi.refresh_consume('orders', 'refresh_log_orders', '{order_id}');
	logged := logged + kpi.refresh_consume('refunds', 'refresh_log_refunds', '{refund_id}');
	logged := logged + kpi.refresh_consume('complaints', 'refresh_log_complaints', '{complaint_id}');
	logged := logged + kpi.refresh_consume('ratings', 'refresh_log_ratings', '{rating_id}');
	logged := logged + kpi.refresh_consume('agent_sessions', 'refresh_log_sessions', '{shop_id,agent_id,online}');
	-- Agents whose business hours changed: re-time every turn they answered.
	WITH x AS (DELETE FROM kpi.changes_agents RETURNING agent_id)
	INSERT INTO pg_temp.refresh_conversations
	SELECT DISTINCT t.conversation_id
	  FROM kpi.turns t
	 WHERE t.answered AND t.agent_id IN (SELECT agent_id FROM x)
	ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT; logged := logged + n;

	IF reason IS NOT NULL THEN
		RETURN QUERY SELECT 'changes'::text, 'full'::text, NULL::bigint, logged,
							extract(epoch FROM clock_timestamp() - started)::double precision, reason;
		RETURN QUERY SELECT * FROM kpi.refresh_run(true);
	ELSE
		RETURN QUERY SELECT 'changes'::text, 'incremental'::text, NULL::bigint, logged,
							extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;
		RETURN QUERY SELECT * FROM kpi.refresh_run(false);
	END IF;
	PERFORM kpi.refresh_drop_work_tables();

	-- The scorecards' daily snapshots (50_scorecards.sql): the days whose windows hold a
	-- changed day of the facts, and the new ones. A caller that refreshes the facts several
	-- times a day may leave them to a later call (history => false): the changes wait in
	-- kpi.changes_agent_days.
	IF NOT refresh.history THEN
		RETURN;
	END IF;
	started := clock_timestamp();
	n := kpi.refresh_scorecard_history();
	RETURN QUERY SELECT 'scorecard_history'::text,
						CASE WHEN reason IS NULL THEN 'incremental' ELSE 'full' END,
						current_setting('kpi.history_days_recomputed', true)::bigint, n,
						extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;
END
$$;
COMMENT ON FUNCTION kpi.refresh(boolean, boolean) IS
	'derive kpi.turns, kpi.order_attribution, kpi.feedback_charges, kpi.agent_days and kpi.shop_days from '
	'the base tables: by default only what changed since the last refresh, all of it with full => true '
	'(or after a settings change); then, unless history => false, bring kpi.scorecard_history up to date; returns one row per step (events, '
	'cells or snapshot days recomputed, rows, seconds)';

-- The steps of a refresh after the change logs were read into the work tables.
CREATE FUNCTION kpi.refresh_run(rebuild boolean)
	RETURNS TABLE (step text, mode text, recomputed bigint, rows bigint, seconds double precision,
				   detail text)
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $$
DECLARE
	started timestamptz;
	n bigint;
	k bigint;
	how text := CASE WHEN rebuild THEN 'full' ELSE 'incremental' END;
BEGIN
	-- In the work tables each changed row has its old version (is_new false) and its current
	-- one (is_new true); a row with one version only was added or deleted. What a change moves
	-- depends on which columns changed, hence the GROUP BY ... HAVING count(DISTINCT ...) below.

	-- Turns ---------------------------------------------------------------------------------
	started := clock_timestamp();
	IF NOT rebuild THEN
		-- Besides changed messages: a conversation with a new agent (its unanswered turns) or shop.
		INSERT INTO pg_temp.refresh_conversations
		SELECT c.conversation_id FROM pg_temp.refresh_log_conversations c
		 GROUP BY c.conversation_id
		HAVING count(*) = 1 OR count(DISTINCT (c.shop_id, c.agent_id)) > 1
		ON CONFLICT DO NOTHING;
	END IF;
	ANALYZE pg_temp.refresh_conversations;
	n := kpi.refresh_turns(rebuild);
	SELECT count(*) INTO k FROM pg_temp.refresh_conversations WHERE NOT rebuild;
	IF rebuild THEN
		SELECT count(*) INTO k FROM kpi.conversations;
	END IF;
	IF rebuild AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'kpi.turns'::regclass), 'MEMBER') THEN
		ANALYZE kpi.turns;	-- only the owner may; a writer's refresh simply skips it
	END IF;
	RETURN QUERY SELECT 'turns'::text, how, k, n, extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;

	-- Order attribution ---------------------------------------------------------------------
	-- An order's credit moves when the order changes, or when a conversation of its customer
	-- in its shop opens, moves or closes within the window before it, or changes agent.
	started := clock_timestamp();
	IF NOT rebuild THEN
		INSERT INTO pg_temp.refresh_orders
		SELECT o.order_id FROM pg_temp.refresh_log_orders o
		UNION
		SELECT o.order_id
		  FROM (SELECT c.* FROM pg_temp.refresh_log_conversations c
				 WHERE c.conversation_id IN (
						SELECT g.conversation_id FROM pg_temp.refresh_log_conversations g
						 GROUP BY g.conversation_id
						HAVING count(*) = 1
							OR count(DISTINCT (g.shop_id, g.customer_id, g.opened_at, g.agent_id)) > 1)) c
		 CROSS JOIN LATERAL (
				SELECT o.order_id FROM kpi.orders o
				 WHERE o.shop_id = c.shop_id AND o.customer_id = c.customer_id
				   AND o.placed_at >= c.opened_at
				   AND o.placed_at - (SELECT st.attribution_window FROM kpi.settings st) <= c.opened_at
				OFFSET 0) o;
		INSERT INTO pg_temp.refresh_old_attribution
		SELECT a.* FROM kpi.order_attribution a
		 WHERE a.order_id = ANY (ARRAY(SELECT r.order_id FROM pg_temp.refresh_orders r));
	END IF;
	ANALYZE pg_temp.refresh_orders;
	n := kpi.refresh_order_attribution(rebuild);
	IF NOT rebuild THEN
		-- Orders whose credit moved, or that changed themselves, move their conversion, paid
		-- and refund counts: the cells of the old and of the new credit.
		INSERT INTO pg_temp.refresh_moved_orders
		SELECT o.order_id FROM pg_temp.refresh_log_orders o
		UNION
		SELECT r.order_id
		  FROM pg_temp.refresh_orders r
		  LEFT JOIN pg_temp.refresh_old_attribution b ON b.order_id = r.order_id
		  LEFT JOIN LATERAL (SELECT a.* FROM kpi.order_attribution a
							  WHERE a.order_id = r.order_id OFFSET 0) a ON true
		 WHERE (b.conversation_id, b.agent_id, b.day, b.shop_id) IS DISTINCT FROM
			   (a.conversation_id, a.agent_id, a.day, a.shop_id);
		INSERT INTO pg_temp.refresh_cells
		SELECT d.grp, a.shop_id, a.agent_id, d.day
		  FROM (SELECT b.* FROM pg_temp.refresh_old_attribution b
				 WHERE b.order_id IN (SELECT m.order_id FROM pg_temp.refresh_moved_orders m)
				UNION ALL
				SELECT a.* FROM kpi.order_attribution a
				 WHERE a.order_id = ANY (ARRAY(SELECT m.order_id FROM pg_temp.refresh_moved_orders m))) a
		  JOIN kpi.shop_zones z ON z.shop_id = a.shop_id
		 CROSS JOIN LATERAL (
				SELECT 'conversion' AS grp, a.day
				UNION
				SELECT 'sales', (e.at AT TIME ZONE z.timezone)::date
				  FROM (SELECT o.paid_at AS at FROM pg_temp.refresh_log_orders o
						 WHERE o.order_id = a.order_id
						UNION ALL
						SELECT o.paid_at FROM kpi.orders o
						 WHERE o.order_id = a.order_id
						   AND a.order_id NOT IN (SELECT l.order_id FROM pg_temp.refresh_log_orders l)
						UNION ALL
						SELECT x.requested_at FROM kpi.refunds x
						 WHERE x.shop_id = a.shop_id AND x.order_id = a.order_id
						UNION ALL
						SELECT x.requested_at FROM pg_temp.refresh_log_refunds x
						 WHERE x.order_id = a.order_id) e
				 WHERE e.at IS NOT NULL) d
		 WHERE a.agent_id IS NOT NULL;
	END IF;
	SELECT count(*) INTO k FROM pg_temp.refresh_orders WHERE NOT rebuild;
	IF rebuild THEN
		SELECT count(*) INTO k FROM kpi.orders;
	END IF;
	IF rebuild AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'kpi.order_attribution'::regclass), 'MEMBER') THEN
		ANALYZE kpi.order_attribution;
	END IF;
	RETURN QUERY SELECT 'order_attribution'::text, how, k, n, extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;

	-- Charged agent of complaints and ratings -------------------------------------------------
	-- It moves with the event itself, with its conversation's agent, or with its order's credit.
	started := clock_timestamp();
	IF NOT rebuild THEN
		WITH recharged AS (
			SELECT c.shop_id, c.conversation_id FROM pg_temp.refresh_log_conversations c
			 WHERE c.conversation_id IN (
					SELECT g.conversation_id FROM pg_temp.refresh_log_conversations g
					 GROUP BY g.conversation_id
					HAVING count(*) = 1 OR count(DISTINCT (g.shop_id, g.agent_id)) > 1)),
		recredited AS (
			SELECT o.shop_id, o.order_id FROM kpi.orders o
			 WHERE o.order_id = ANY (ARRAY(SELECT m.order_id FROM pg_temp.refresh_moved_orders m)))
		INSERT INTO pg_temp.refresh_feedback
		SELECT 'complaint', x.complaint_id FROM pg_temp.refresh_log_complaints x
		UNION
		SELECT 'rating', x.rating_id FROM pg_temp.refresh_log_ratings x
		UNION
		SELECT 'complaint', x.complaint_id
		  FROM recharged c
		 CROSS JOIN LATERAL (SELECT x.complaint_id FROM kpi.complaints x
							  WHERE x.shop_id = c.shop_id AND x.conversation_id = c.conversation_id OFFSET 0) x
		UNION
		SELECT 'rating', x.rating_id
		  FROM recharged c
		 CROSS JOIN LATERAL (SELECT x.rating_id FROM kpi.ratings x
							  WHERE x.shop_id = c.shop_id AND x.conversation_id = c.conversation_id OFFSET 0) x
		UNION
		SELECT 'complaint', x.complaint_id
		  FROM recredited o
		 CROSS JOIN LATERAL (SELECT x.complaint_id FROM kpi.complaints x
							  WHERE x.shop_id = o.shop_id AND x.order_id = o.order_id OFFSET 0) x
		UNION
		SELECT 'rating', x.rating_id
		  FROM recredited o
		 CROSS JOIN LATERAL (SELECT x.rating_id FROM kpi.ratings x
							  WHERE x.shop_id = o.shop_id AND x.order_id = o.order_id OFFSET 0) x;
	END IF;
	ANALYZE pg_temp.refresh_feedback;
	n := kpi.refresh_feedback_charges(rebuild);
	SELECT count(*) INTO k FROM pg_temp.refresh_feedback WHERE NOT rebuild;
	IF rebuild THEN
		SELECT (SELECT count(*) FROM kpi.complaints) + (SELECT count(*) FROM kpi.ratings) INTO k;
	END IF;
	IF rebuild AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'kpi.feedback_charges'::regclass), 'MEMBER') THEN
		ANALYZE kpi.feedback_charges;
	END IF;
	RETURN QUERY SELECT 'feedback_charges'::text, how, k, n, extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;

	-- Agent days ----------------------------------------------------------------------------
	started := clock_timestamp();
	IF rebuild THEN
		-- Every shop and agent, over all days.
		INSERT INTO pg_temp.refresh_ranges (grp, shop_id, agent_id, first_day, last_day, lo, hi)
		SELECT g.grp, p.shop_id, p.agent_id, '-infinity', 'infinity', '-infinity', 'infinity'
		  FROM (SELECT s.shop_id, a.agent_id FROM kpi.shops s CROSS JOIN kpi.agents a
				UNION
				SELECT d.shop_id, d.agent_id FROM kpi.agent_days d) p
		 CROSS JOIN unnest('{turns,conversations,conversion,sales,handling,feedback,online}'::text[]) g(grp);
		INSERT INTO pg_temp.refresh_shop_ranges (shop_id, first_day, last_day, lo, hi)
		SELECT p.shop_id, '-infinity', 'infinity', '-infinity', 'infinity'
		  FROM (SELECT s.shop_id FROM kpi.shops s UNION SELECT d.shop_id FROM kpi.shop_days d) p;
	ELSE
		-- The cells of the changed rows themselves, old and new versions.
		INSERT INTO pg_temp.refresh_cells
		-- conversations: the day they opened
		SELECT 'conversations', c.shop_id, c.agent_id, (c.opened_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_conversations c
		  JOIN kpi.shop_zones z ON z.shop_id = c.shop_id
		UNION
		-- refunds: the handling agent on the day requested, if the request changed ...
		SELECT 'handling', x.shop_id, x.agent_id, (x.requested_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_refunds x
		  JOIN kpi.shop_zones z ON z.shop_id = x.shop_id
		 WHERE x.refund_id IN (
				SELECT g.refund_id FROM pg_temp.refresh_log_refunds g
				 GROUP BY g.refund_id
				HAVING count(*) = 1
					OR count(DISTINCT (g.shop_id, g.order_id, g.agent_id, g.requested_at, g.disputed)) > 1)
		UNION
		-- ... and on the day completed, if the completion changed
		SELECT 'handling', x.shop_id, x.agent_id, (x.completed_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_refunds x
		  JOIN kpi.shop_zones z ON z.shop_id = x.shop_id
		 WHERE x.refund_id IN (
				SELECT g.refund_id FROM pg_temp.refresh_log_refunds g
				 GROUP BY g.refund_id
				HAVING count(*) = 1
					OR count(DISTINCT (g.shop_id, g.agent_id, g.requested_at, g.completed_at, g.completed_by)) > 1)
		UNION
		-- and the agent its order is credited to, on the day requested (a moved credit is above)
		SELECT 'sales', a.shop_id, a.agent_id, (x.requested_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_refunds x
		  JOIN kpi.order_attribution a ON a.order_id = x.order_id
		  JOIN kpi.shop_zones z ON z.shop_id = a.shop_id
		 WHERE x.refund_id IN (
				SELECT g.refund_id FROM pg_temp.refresh_log_refunds g
				 GROUP BY g.refund_id
				HAVING count(*) = 1 OR count(DISTINCT (g.shop_id, g.order_id, g.requested_at)) > 1)
		UNION
		-- sessions: every day they touch
		SELECT 'online', s.shop_id, s.agent_id, g.day::date
		  FROM pg_temp.refresh_log_sessions s
		  JOIN kpi.shop_zones z ON z.shop_id = s.shop_id
		 CROSS JOIN LATERAL generate_series((lower(s.online) AT TIME ZONE z.timezone)::date::timestamp,
											(upper(s.online) AT TIME ZONE z.timezone)::date::timestamp,
											interval '1 day') g(day);
		-- Shop days: payments, requests and completions of the changed rows.
		INSERT INTO pg_temp.refresh_shop_cells
		SELECT o.shop_id, (o.paid_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_orders o
		  JOIN kpi.shop_zones z ON z.shop_id = o.shop_id
		 WHERE o.order_id IN (
				SELECT g.order_id FROM pg_temp.refresh_log_orders g
				 GROUP BY g.order_id
				HAVING count(*) = 1 OR count(DISTINCT (g.shop_id, g.paid_at)) > 1)
		UNION
		SELECT x.shop_id, (x.requested_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_refunds x
		  JOIN kpi.shop_zones z ON z.shop_id = x.shop_id
		 WHERE x.refund_id IN (
				SELECT g.refund_id FROM pg_temp.refresh_log_refunds g
				 GROUP BY g.refund_id
				HAVING count(*) = 1 OR count(DISTINCT (g.shop_id, g.requested_at, g.disputed)) > 1)
		UNION
		SELECT x.shop_id, (x.completed_at AT TIME ZONE z.timezone)::date
		  FROM pg_temp.refresh_log_refunds x
		  JOIN kpi.shop_zones z ON z.shop_id = x.shop_id
		 WHERE x.refund_id IN (
				SELECT g.refund_id FROM pg_temp.refresh_log_refunds g
				 GROUP BY g.refund_id
				HAVING count(*) = 1
					OR count(DISTINCT (g.shop_id, g.requested_at, g.completed_at, g.completed_by)) > 1);
		PERFORM kpi.refresh_cells_to_ranges();

		-- The earlier conversations of a customer whose first-contact resolution a changed
		-- conversation decides: those resolved within fcr_window before it opened (or opens).
		-- If another conversation that did not change falls in that window too, it was and
		-- stays unresolved at first contact. Otherwise only the changed conversations decide
		-- it, and the facts built from their old versions are corrected by the difference
		-- (+1 or -1) instead of recomputing the whole cell. One that changed itself is redone
		-- with its own cells above.
		INSERT INTO pg_temp.refresh_fcr (shop_id, agent_id, day, delta)
		SELECT e.shop_id, e.agent_id, (e.opened_at AT TIME ZONE z.timezone)::date,
			   (NOT EXISTS (SELECT FROM pg_temp.refresh_log_conversations l
							 WHERE l.is_new AND l.shop_id = e.shop_id AND l.customer_id = e.customer_id
							   AND l.opened_at > e.resolved_at
							   AND l.opened_at <= e.resolved_at + (SELECT st.fcr_window FROM kpi.settings st)))::int
			 - (NOT EXISTS (SELECT FROM pg_temp.refresh_log_conversations l
							 WHERE NOT l.is_new AND l.shop_id = e.shop_id AND l.customer_id = e.customer_id
							   AND l.opened_at > e.resolved_at
							   AND l.opened_at <= e.resolved_at + (SELECT st.fcr_window FROM kpi.settings st)))::int
		  FROM (SELECT DISTINCT e.conversation_id, e.shop_id, e.agent_id, e.customer_id,
						e.opened_at, e.resolved_at
				  FROM (SELECT c.* FROM pg_temp.refresh_log_conversations c
						 WHERE c.conversation_id IN (
								SELECT g.conversation_id FROM pg_temp.refresh_log_conversations g
								 GROUP BY g.conversation_id
								HAVING count(*) = 1
									OR count(DISTINCT (g.shop_id, g.customer_id, g.opened_at)) > 1)) c
				 CROSS JOIN LATERAL (
						SELECT e.* FROM kpi.conversations e
						 WHERE e.shop_id = c.shop_id AND e.customer_id = c.customer_id
						   AND e.resolved_at < c.opened_at
						   AND e.resolved_at + (SELECT st.fcr_window FROM kpi.settings st) >= c.opened_at
						OFFSET 0) e
				 WHERE e.agent_id IS NOT NULL
				   AND NOT EXISTS (SELECT FROM pg_temp.refresh_log_conversations l
									WHERE l.conversation_id = e.conversation_id)) e
		  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
		 WHERE NOT EXISTS (
				SELECT FROM kpi.conversations u
				 WHERE u.shop_id = e.shop_id AND u.customer_id = e.customer_id
				   AND u.opened_at > e.resolved_at
				   AND u.opened_at <= e.resolved_at + (SELECT st.fcr_window FROM kpi.settings st)
				   AND NOT EXISTS (SELECT FROM pg_temp.refresh_log_conversations l
									WHERE l.conversation_id = u.conversation_id));
		ANALYZE pg_temp.refresh_fcr;
	END IF;
	-- The shop windows: per group and shop, the union of the ranges' instants, for the
	-- sources read by shop rather than by agent (orders and refunds).
	INSERT INTO pg_temp.refresh_windows (grp, shop_id, lo, hi)
	SELECT w.grp, w.shop_id, min(w.lo), max(w.hi)
	  FROM (SELECT v.*, count(*) FILTER (WHERE v.starts) OVER (PARTITION BY v.grp, v.shop_id ORDER BY v.lo, v.hi) AS island
			  FROM (SELECT r.grp, r.shop_id, r.lo, r.hi,
						   r.lo > max(r.hi) OVER (PARTITION BY r.grp, r.shop_id ORDER BY r.lo, r.hi
												 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
						   IS NOT FALSE AS starts
					  FROM pg_temp.refresh_ranges r
					 WHERE r.grp IN ('sales', 'handling')) v) w
	 GROUP BY w.grp, w.shop_id, w.island;
	ANALYZE pg_temp.refresh_windows;
	ANALYZE pg_temp.refresh_ranges;
	ANALYZE pg_temp.refresh_shop_ranges;
	SELECT count(DISTINCT (c.shop_id, c.agent_id, c.day)) INTO k
	  FROM pg_temp.refresh_cells c WHERE c.agent_id IS NOT NULL AND c.day IS NOT NULL;
	n := kpi.refresh_agent_days(rebuild);
	IF rebuild THEN
		k := n;
	END IF;
	RETURN QUERY SELECT 'agent_days'::text, how, k, n, extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;

	-- Shop days -----------------------------------------------------------------------------
	started := clock_timestamp();
	SELECT coalesce(sum(r.last_day - r.first_day + 1), 0) INTO k
	  FROM pg_temp.refresh_shop_ranges r WHERE NOT rebuild;
	n := kpi.refresh_shop_days();
	IF rebuild THEN
		k := n;
	END IF;
	RETURN QUERY SELECT 'shop_days'::text, how, k, n, extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;
END
$$;
COMMENT ON FUNCTION kpi.refresh_run(boolean) IS
	'refresh step: run the refresh steps over the change logs read by kpi.refresh() (internal)';
