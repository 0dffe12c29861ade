-- Change capture for the incremental refresh.
--
-- Statement-level triggers with transition tables copy every changed row of the canonical
-- tables, in its old and its new version, into a change log kpi.changes_<table>. kpi.refresh()
-- consumes the log: from the old and new versions it works out which (shop, agent, day) cells
-- and shop days the change can have moved, and recomputes only those. For messages only the
-- conversation is logged (its turns are recomputed whole). A change that moves every day or
-- every definition (the settings, a shop's time zone, a TRUNCATE) is not logged row by row: it
-- marks the next refresh as a full rebuild instead.
--
-- The triggers run with the rights of whoever changes the data, so kpi.grant_writer grants
-- INSERT on the log. They only copy rows (the calendar trigger looks up the calendar's
-- agents): loading stays cheap, and the refresh does the work.

-- A row here makes the next refresh a full rebuild; CREATE EXTENSION leaves the first one.
CREATE TABLE kpi.changes_full (reason text NOT NULL);
COMMENT ON TABLE kpi.changes_full IS
	'change log: reasons for the next kpi.refresh() to rebuild everything (settings changed, ...)';
INSERT INTO kpi.changes_full VALUES ('first refresh');

-- The logs. For the tables below a row holds one version of a changed row (old or new), the
-- number of the statement that logged it, and which side it was. The refresh needs only the
-- first version of each key since the last refresh (the state the facts were built from) and
-- the current row, so a row updated ten times costs no more than one updated once. (A version
-- column has its table's row type: an upgrade that changes a column's type drops and re-creates
-- the log, after a refresh has emptied it.)
CREATE SEQUENCE kpi.change_numbers;
COMMENT ON SEQUENCE kpi.change_numbers IS 'numbers the statements that log changes, in order';
CREATE TABLE kpi.changes_conversations (change_no bigint NOT NULL, is_new boolean NOT NULL, version kpi.conversations NOT NULL);
CREATE TABLE kpi.changes_orders (change_no bigint NOT NULL, is_new boolean NOT NULL, version kpi.orders NOT NULL);
CREATE TABLE kpi.changes_refunds (change_no bigint NOT NULL, is_new boolean NOT NULL, version kpi.refunds NOT NULL);
CREATE TABLE kpi.changes_complaints (change_no bigint NOT NULL, is_new boolean NOT NULL, version kpi.complaints NOT NULL);
CREATE TABLE kpi.changes_ratings (change_no bigint NOT NULL, is_new boolean NOT NULL, version kpi.ratings NOT NULL);
CREATE TABLE kpi.changes_agent_sessions (change_no bigint NOT NULL, is_new boolean NOT NULL, version kpi.agent_sessions NOT NULL);
-- Messages: only the conversation matters (its turns are recomputed whole).
CREATE TABLE kpi.changes_messages (conversation_id bigint NOT NULL);
CREATE TABLE kpi.changes_agents (agent_id int NOT NULL);
COMMENT ON TABLE kpi.changes_conversations IS 'change log: versions of changed conversations (old: is_new false)';
COMMENT ON TABLE kpi.changes_orders IS 'change log: versions of changed orders (old: is_new false)';
COMMENT ON TABLE kpi.changes_refunds IS 'change log: versions of changed refunds (old: is_new false)';
COMMENT ON TABLE kpi.changes_complaints IS 'change log: versions of changed complaints (old: is_new false)';
COMMENT ON TABLE kpi.changes_ratings IS 'change log: versions of changed ratings (old: is_new false)';
COMMENT ON TABLE kpi.changes_agent_sessions IS 'change log: versions of changed online sessions (old: is_new false)';
COMMENT ON TABLE kpi.changes_messages IS 'change log: conversations whose messages changed since the last refresh';
COMMENT ON TABLE kpi.changes_agents IS
	'change log: agents whose business hours changed (their calendar, or its hours), so their replies are re-timed';

-- One trigger function for the tables whose log holds row versions: it appends the old and
-- the new versions of the statement's rows to kpi.changes_<table>.
CREATE FUNCTION kpi.log_changed_rows() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	change_no bigint := nextval('kpi.change_numbers');
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		EXECUTE format('INSERT INTO kpi.%I SELECT $1, false, ROW(o.*)::kpi.%I FROM old_rows o', 'changes_' || TG_TABLE_NAME, TG_TABLE_NAME)
			USING change_no;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		EXECUTE format('INSERT INTO kpi.%I SELECT $1, true, ROW(n.*)::kpi.%I FROM new_rows n', 'changes_' || TG_TABLE_NAME, TG_TABLE_NAME)
			USING change_no;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.log_changed_rows() IS
	'trigger: append the old and new versions of the changed rows to the table''s change log';

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['conversations', 'orders', 'refunds', 'complaints', 'ratings', 'agent_sessions'] LOOP
		EXECUTE format('CREATE TRIGGER log_inserts AFTER INSERT ON kpi.%I '
					   'REFERENCING NEW TABLE AS new_rows '
					   'FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_rows()', t);
		EXECUTE format('CREATE TRIGGER log_updates AFTER UPDATE ON kpi.%I '
					   'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
					   'FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_rows()', t);
		EXECUTE format('CREATE TRIGGER log_deletes AFTER DELETE ON kpi.%I '
					   'REFERENCING OLD TABLE AS old_rows '
					   'FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_rows()', t);
	END LOOP;
END
$$;

-- Messages: only the conversations matter, once each per statement.
CREATE FUNCTION kpi.log_changed_messages() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO kpi.changes_messages SELECT DISTINCT conversation_id FROM new_rows;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO kpi.changes_messages SELECT DISTINCT conversation_id FROM old_rows;
	ELSE
		INSERT INTO kpi.changes_messages
		SELECT conversation_id FROM old_rows UNION SELECT conversation_id FROM new_rows;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.log_changed_messages() IS
	'trigger: log the conversations whose messages changed';
CREATE TRIGGER log_inserts AFTER INSERT ON kpi.messages REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_messages();
CREATE TRIGGER log_updates AFTER UPDATE ON kpi.messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_messages();
CREATE TRIGGER log_deletes AFTER DELETE ON kpi.messages REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_messages();

-- Agents and calendars: a reply's business-hours time depends on the answering agent's calendar.
CREATE FUNCTION kpi.log_changed_agents() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO kpi.changes_agents
	SELECT o.agent_id
	  FROM old_rows o JOIN new_rows n ON n.agent_id = o.agent_id
	 WHERE n.calendar_id IS DISTINCT FROM o.calendar_id;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.log_changed_agents() IS 'trigger: log agents whose calendar changed';
CREATE TRIGGER log_updates AFTER UPDATE ON kpi.agents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agents();

CREATE FUNCTION kpi.log_changed_calendars() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO kpi.changes_agents
	SELECT a.agent_id
	  FROM kpi.agents a
	 WHERE a.calendar_id IN (SELECT calendar_id FROM old_rows UNION SELECT calendar_id FROM new_rows);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.log_changed_calendars() IS 'trigger: log the agents of calendars that changed';
CREATE TRIGGER log_updates AFTER UPDATE ON kpi.calendars REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_calendars();

-- Changes that move everything: the next refresh rebuilds.
CREATE FUNCTION kpi.request_full_refresh() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	reason text;
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		reason := TG_TABLE_NAME || ' truncated';
	ELSIF TG_TABLE_NAME = 'shops' THEN
		-- Only a new time zone moves a shop's days; a renamed shop changes no fact.
		IF NOT EXISTS (SELECT FROM old_rows o JOIN new_rows n ON n.shop_id = o.shop_id
						WHERE n.timezone IS DISTINCT FROM o.timezone) THEN
			RETURN NULL;
		END IF;
		reason := 'a shop''s time zone changed';
	ELSE
		reason := 'settings changed';
	END IF;
	INSERT INTO kpi.changes_full VALUES (reason);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.request_full_refresh() IS
	'trigger: the settings, a shop''s time zone or a truncated table changed: the next refresh rebuilds';
CREATE TRIGGER request_full_refresh AFTER UPDATE ON kpi.settings
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.request_full_refresh();
CREATE TRIGGER request_full_refresh AFTER UPDATE ON kpi.shops
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.request_full_refresh();
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['shops', 'calendars', 'agents', 'conversations', 'messages', 'orders',
							 'refunds', 'complaints', 'ratings', 'agent_sessions'] LOOP
		EXECUTE format('CREATE TRIGGER request_full_refresh_truncate AFTER TRUNCATE ON kpi.%I '
					   'FOR EACH STATEMENT EXECUTE FUNCTION kpi.request_full_refresh()', t);
	END LOOP;
END
$$;
