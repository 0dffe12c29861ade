-- kpi 0.1.0 -> 0.2.0.
--
-- A faster nightly refresh:
-- - kpi.scorecard_history becomes a table kept up to date day by day (it was a materialized
--   view recomputed whole): a refresh redoes only the snapshots whose windows hold a changed
--   day of kpi.agent_days, and the new days. Its privileges are carried over, and it is filled
--   at the end of this script, so readers see the same rows as before.
-- - The first-contact resolution of conversations that did not change is corrected by the
--   difference their changed return visits make (+1 or -1) instead of recomputing their cells,
--   and the sources of a column group are probed per range when the ranges are few
--   (kpi.refresh_fence).
-- - A full rebuild assembles the agent days in a temporary table and writes each row of
--   kpi.agent_days once, instead of once per column group (which bloated the table).
-- The facts stay the same: test/upgrade.t compares an upgraded database with a fresh install,
-- object by object and fact by fact.
--
-- Changed functions are dropped and created again; the one with privileges of its own
-- (kpi.refresh_scorecard_history, granted by kpi.grant_writer) gets them back.

\echo Use "ALTER EXTENSION kpi UPDATE TO '0.2.0'" to load this file. \quit

-- Privileges given since 0.1.0 was installed, restored at the end.
SELECT pg_catalog.set_config('kpi.upgrade_history_acl',
		coalesce((SELECT c.relacl::text FROM pg_catalog.pg_class c
				   WHERE c.oid = 'kpi.scorecard_history'::regclass), ''), true),
	   pg_catalog.set_config('kpi.upgrade_refresh_history_acl',
		coalesce((SELECT p.proacl::text FROM pg_catalog.pg_proc p
				   WHERE p.oid = 'kpi.refresh_scorecard_history()'::regprocedure), ''), true);

-- The refresh -------------------------------------------------------------------------------------
DROP FUNCTION kpi.refresh_drop_work_tables;
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

DROP FUNCTION kpi.refresh_work_tables;
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

DROP FUNCTION kpi.refresh_order_attribution;
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

DROP FUNCTION kpi.refresh_feedback_charges;
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

DROP FUNCTION kpi.refresh_agent_days;
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

DROP FUNCTION kpi.refresh;
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

DROP FUNCTION kpi.refresh_run;
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

CREATE FUNCTION kpi.log_changed_agent_days() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO kpi.changes_agent_days SELECT DISTINCT n.day FROM new_rows n;
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO kpi.changes_agent_days
		SELECT n.day FROM new_rows n UNION SELECT o.day FROM old_rows o;
	ELSE
		INSERT INTO kpi.changes_agent_days SELECT DISTINCT o.day FROM old_rows o;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.log_changed_agent_days() IS
	'statement trigger on kpi.agent_days: log the days it changed for kpi.refresh_scorecard_history() (internal)';

CREATE FUNCTION kpi.log_history_rescore() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO kpi.changes_agent_days VALUES ('-infinity');
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.log_history_rescore() IS
	'statement trigger on the agents and the scorecard configuration: every snapshot of kpi.scorecard_history must be '
	'recomputed (internal)';

DROP FUNCTION kpi.refresh_scorecard_history;
CREATE FUNCTION kpi.refresh_scorecard_history() RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	-- SECURITY DEFINER so that a writer's kpi.refresh() can rewrite the history, which no role
	-- is granted to write, with the owner's view of the facts (as a materialized view's refresh
	-- would have). It runs fixed statements. EXECUTE is revoked from PUBLIC and granted by
	-- kpi.grant_writer.
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	changed date[];
	first_day date;
	last_day date := current_date - 1;
	ends date[];
	n bigint;
BEGIN
	-- One history refresh at a time; readers keep reading.
	LOCK TABLE kpi.scorecard_history IN SHARE ROW EXCLUSIVE MODE;
	WITH x AS (DELETE FROM kpi.changes_agent_days RETURNING day)
	SELECT array_agg(DISTINCT x.day) INTO changed FROM x;
	SELECT min(d.day) INTO first_day FROM kpi.agent_days d;

	-- The history runs from the first day of the facts to yesterday.
	DELETE FROM kpi.scorecard_history h
	 WHERE first_day IS NULL OR h.day < first_day OR h.day > last_day;
	-- A snapshot reads its 28 days and the 28 before (the previous composite), so a changed
	-- day d redoes the snapshots of d .. d + 55; a day without snapshots is new.
	ends := ARRAY(
		SELECT g.day::date
		  FROM generate_series(first_day::timestamp, last_day::timestamp, interval '1 day') g(day)
		 WHERE '-infinity' = ANY (changed)
			OR EXISTS (SELECT FROM unnest(changed) c(day) WHERE c.day BETWEEN g.day::date - 55 AND g.day::date)
			OR NOT EXISTS (SELECT FROM kpi.scorecard_history h WHERE h.day = g.day::date));
	IF cardinality(ends) > 0 THEN
		DELETE FROM kpi.scorecard_history h WHERE h.day = ANY (ends);
		INSERT INTO kpi.scorecard_history
		SELECT s.period_end, s.agent_id, s.login, s.team, s.scorecard, s.composite, s.coverage, s.grade,
			   s.rank, s.team_rank, s.percentile, s.top30, s.prev_composite, s.composite_change
		  FROM kpi.scorecard_snapshots(ends, 28, NULL) s;
	END IF;
	-- For kpi.refresh()'s report of what it did.
	PERFORM set_config('kpi.history_days_recomputed', coalesce(cardinality(ends), 0)::text, true);
	SELECT count(*) INTO n FROM kpi.scorecard_history;
	RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION kpi.refresh_scorecard_history() FROM PUBLIC;
COMMENT ON FUNCTION kpi.refresh_scorecard_history() IS
	'bring kpi.scorecard_history up to date: recompute the days whose windows hold a change of kpi.agent_days (every '
	'day after an edit of the agents or the scorecard configuration) and the new days up to yesterday, drop days '
	'outside the facts; returns the rows of the history';

-- The scorecard history: a table, its change log and the triggers that feed it ---------------------
DROP MATERIALIZED VIEW kpi.scorecard_history;
CREATE TABLE kpi.scorecard_history (
	day date NOT NULL,
	agent_id int NOT NULL,
	login text,
	team text,
	scorecard text,
	composite numeric,
	coverage numeric,
	grade text,
	rank bigint,
	team_rank bigint,
	percentile numeric,
	top30 boolean,
	prev_composite numeric,
	composite_change numeric,
	CONSTRAINT scorecard_history_day_agent PRIMARY KEY (day, agent_id)
);
DO $$
DECLARE
	rel text;
BEGIN
	FOREACH rel IN ARRAY ARRAY['kpi.scorecard_history'] LOOP
		EXECUTE format($c$
			COMMENT ON COLUMN %1$s.agent_id IS 'the agent (kpi.agents)';
			COMMENT ON COLUMN %1$s.login IS 'the agent''s login';
			COMMENT ON COLUMN %1$s.team IS 'the agent''s team';
			COMMENT ON COLUMN %1$s.scorecard IS 'the scorecard named like the agent''s role';
			COMMENT ON COLUMN %1$s.composite IS 'sum of weight x score / sum of weight over the items with a value (0..100); NULL without any value';
			COMMENT ON COLUMN %1$s.coverage IS 'share of the scorecard''s weight whose metric had a value';
			COMMENT ON COLUMN %1$s.grade IS 'grade of kpi.grade_bands: the highest min_score the composite reaches';
			COMMENT ON COLUMN %1$s.rank IS 'rank by composite among the agents of the same role scorecard (rank(): ties share a rank, 1, 1, 3); NULL without composite';
			COMMENT ON COLUMN %1$s.team_rank IS 'the same within the team';
			COMMENT ON COLUMN %1$s.percentile IS '100 x share of the ranked agents whose composite is at or below the agent''s, to 0.01 (the best has 100)';
			COMMENT ON COLUMN %1$s.top30 IS 'bonus pool: fewer than 30 %% of the team''s ranked agents score strictly higher (at least one per team; ties at the cut are all in)';
			COMMENT ON COLUMN %1$s.prev_composite IS 'composite over the 28 days just before';
			COMMENT ON COLUMN %1$s.composite_change IS 'composite - prev_composite (环比)';
			$c$, rel);
	END LOOP;
END
$$;
COMMENT ON TABLE kpi.scorecard_history IS
	'daily snapshots: for each day from the first day of kpi.agent_days to yesterday, each agent scored with its role '
	'scorecard over the 28 days ending that day; kept up to date by kpi.refresh_scorecard_history() (kpi.refresh() '
	'calls it), which redoes only the days that changed';
COMMENT ON COLUMN kpi.scorecard_history.day IS 'the snapshot''s day: the last of its 28 days';
CREATE TABLE kpi.changes_agent_days (day date NOT NULL);
COMMENT ON TABLE kpi.changes_agent_days IS
	'change log of kpi.scorecard_history: days of kpi.agent_days that changed since the history was last refreshed; '
	'-infinity means every day (internal)';
CREATE TRIGGER log_inserts AFTER INSERT ON kpi.agent_days REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agent_days();
CREATE TRIGGER log_updates AFTER UPDATE ON kpi.agent_days REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agent_days();
CREATE TRIGGER log_deletes AFTER DELETE ON kpi.agent_days REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agent_days();
CREATE TRIGGER log_history_rescore_truncate AFTER TRUNCATE ON kpi.agent_days
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_history_rescore();
DO $$
DECLARE
	rel text;
BEGIN
	FOREACH rel IN ARRAY ARRAY['agents', 'metrics', 'scorecards', 'scorecard_items', 'grade_bands'] LOOP
		EXECUTE format('CREATE TRIGGER log_history_rescore AFTER INSERT OR UPDATE OR DELETE ON kpi.%I '
					   'FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_history_rescore()', rel);
		EXECUTE format('CREATE TRIGGER log_history_rescore_truncate AFTER TRUNCATE ON kpi.%I '
					   'FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_history_rescore()', rel);
	END LOOP;
END
$$;

-- Privileges back: those of the materialized view on the table, and those of the old
-- kpi.refresh_scorecard_history() on the new one (the owner's own come with the objects).
DO $$
DECLARE
	g record;
BEGIN
	FOR g IN
		SELECT 'TABLE kpi.scorecard_history' AS object, a.grantee, a.privilege_type, a.is_grantable
		  FROM pg_catalog.aclexplode(nullif(pg_catalog.current_setting('kpi.upgrade_history_acl'), '')::pg_catalog.aclitem[]) a
		 WHERE a.grantee <> (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = 'kpi.scorecard_history'::regclass)
		UNION ALL
		SELECT 'FUNCTION kpi.refresh_scorecard_history()', a.grantee, a.privilege_type, a.is_grantable
		  FROM pg_catalog.aclexplode(nullif(pg_catalog.current_setting('kpi.upgrade_refresh_history_acl'), '')::pg_catalog.aclitem[]) a
		 WHERE a.grantee <> (SELECT p.proowner FROM pg_catalog.pg_proc p
							  WHERE p.oid = 'kpi.refresh_scorecard_history()'::regprocedure)
	LOOP
		EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s', g.privilege_type, g.object,
			CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
			CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
	END LOOP;
END
$$;

-- Fill the history from the facts as they are, as the materialized view held them.
SELECT kpi.refresh_scorecard_history();
