-- The canonical tables: the company loads these; everything else is derived from them.
--
-- Ids are bigint except agent_id and shop_id (int); all times are timestamptz. Every event table
-- carries shop_id (default 1, the shipped 'default' shop), and an event belongs to the shop of
-- its conversation or order: composite foreign keys on (shop_id, conversation_id) and
-- (shop_id, order_id) enforce it.
--
-- ON DELETE, decided once for all tables:
--   messages -> conversation   CASCADE: a message means nothing without its conversation.
--   refunds -> order           CASCADE: a refund is part of its order.
--   ratings, complaints -> conversation or order   SET NULL on that column only: the rating or
--                              complaint stays and is charged by the next rule of its chain.
--   anything -> agent, shop, calendar   NO ACTION: history is not deleted by accident; retire
--                              an agent with active = false instead.
--
-- Impossible rows are refused by named CHECK constraints (SQLSTATE 23514); nothing is dropped
-- silently. Times must be finite: 'infinity' has no day and no duration.

-- Configuration ------------------------------------------------------------------------------

CREATE TABLE kpi.settings (
	singleton boolean NOT NULL DEFAULT true PRIMARY KEY
		CONSTRAINT settings_single_row CHECK (singleton),
	timezone text NOT NULL DEFAULT 'UTC'
		CONSTRAINT settings_timezone_valid CHECK (kpi.timezone_check(timezone)),
	attribution_window interval NOT NULL DEFAULT '24 hours'
		CONSTRAINT settings_attribution_window_positive CHECK (attribution_window > interval '0'),
	fcr_window interval NOT NULL DEFAULT '7 days'
		CONSTRAINT settings_fcr_window_not_negative CHECK (fcr_window >= interval '0'),
	response_sla interval NOT NULL DEFAULT '30 seconds'
		CONSTRAINT settings_response_sla_positive CHECK (response_sla > interval '0'),
	first_response_sla interval NOT NULL DEFAULT '15 seconds'
		CONSTRAINT settings_first_response_sla_positive CHECK (first_response_sla > interval '0')
);
COMMENT ON TABLE kpi.settings IS
	'kpi configuration: exactly one row; an INSERT replaces it (that is how a restore brings it back)';
COMMENT ON COLUMN kpi.settings.singleton IS 'always true: keeps the table at one row';
COMMENT ON COLUMN kpi.settings.timezone IS
	'time zone that defines a fact''s day for shops without their own (e.g. Asia/Shanghai)';
COMMENT ON COLUMN kpi.settings.attribution_window IS
	'an order is credited to the latest conversation opened within this long before it';
COMMENT ON COLUMN kpi.settings.fcr_window IS
	'a resolved conversation is first-contact resolved if the customer opens no other within this long';
COMMENT ON COLUMN kpi.settings.response_sla IS 'a reply within this long counts as fast (快速响应)';
COMMENT ON COLUMN kpi.settings.first_response_sla IS 'the same for the first reply of a conversation';
INSERT INTO kpi.settings DEFAULT VALUES;

CREATE TABLE kpi.shops (
	shop_id int PRIMARY KEY,
	name text NOT NULL UNIQUE,
	platform text NOT NULL DEFAULT 'other'
		CONSTRAINT shops_platform_known CHECK (platform IN
			('taobao', 'tmall', 'jd', 'pdd', 'ebay', 'shopify', 'amazon', 'other')),
	timezone text
		CONSTRAINT shops_timezone_valid CHECK (kpi.timezone_check(timezone))
);
COMMENT ON TABLE kpi.shops IS
	'one row per store; shop 1 (''default'') ships, so a single-shop company never names a shop';
COMMENT ON COLUMN kpi.shops.platform IS 'taobao, tmall, jd, pdd, ebay, shopify, amazon or other';
COMMENT ON COLUMN kpi.shops.timezone IS
	'time zone of the store''s days; NULL means kpi.settings.timezone';
INSERT INTO kpi.shops (shop_id, name) VALUES (1, 'default');

CREATE TABLE kpi.calendars (
	calendar_id int PRIMARY KEY,
	name text NOT NULL UNIQUE,
	hours kpi.business_hours NOT NULL
);
COMMENT ON TABLE kpi.calendars IS 'business hours that agents are judged by (see kpi.agents.calendar_id)';
COMMENT ON COLUMN kpi.calendars.hours IS
	'working hours, e.g. ''Mon-Fri 09:00-18:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07''';

CREATE TABLE kpi.agents (
	agent_id int PRIMARY KEY,
	login text NOT NULL UNIQUE,
	display_name text,
	team text,
	role text NOT NULL DEFAULT 'general'
		CONSTRAINT agents_role_known CHECK (role IN ('presale', 'aftersale', 'general')),
	calendar_id int REFERENCES kpi.calendars,
	active boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE kpi.agents IS 'one row per customer-service account (客服账号/子账号)';
COMMENT ON COLUMN kpi.agents.login IS 'the account name; also the database role name an agent may log in as';
COMMENT ON COLUMN kpi.agents.team IS 'team (组) for team ranks and team leads';
COMMENT ON COLUMN kpi.agents.role IS 'presale (售前), aftersale (售后) or general: picks the default scorecard';
COMMENT ON COLUMN kpi.agents.calendar_id IS 'business hours of the agent; NULL means calendar time';
COMMENT ON COLUMN kpi.agents.active IS 'false for a retired account: its history stays';

-- Events -------------------------------------------------------------------------------------

CREATE TABLE kpi.conversations (
	conversation_id bigint PRIMARY KEY,
	shop_id int NOT NULL DEFAULT 1 REFERENCES kpi.shops,
	customer_id bigint NOT NULL,
	agent_id int REFERENCES kpi.agents,
	channel text NOT NULL DEFAULT 'chat',
	opened_at timestamptz NOT NULL,
	closed_at timestamptz,
	resolved_at timestamptz,
	CONSTRAINT conversations_shop_conversation_unique UNIQUE (shop_id, conversation_id),
	CONSTRAINT conversations_times_finite
		CHECK (isfinite(opened_at) AND isfinite(closed_at) AND isfinite(resolved_at)),
	CONSTRAINT conversations_closed_after_opened CHECK (closed_at >= opened_at),
	CONSTRAINT conversations_resolved_after_opened CHECK (resolved_at >= opened_at)
);
COMMENT ON TABLE kpi.conversations IS 'one customer contact (会话/工单)';
COMMENT ON COLUMN kpi.conversations.agent_id IS 'the assigned agent; charged with unanswered turns; may be NULL';
COMMENT ON COLUMN kpi.conversations.channel IS 'chat, email, phone, ...';
COMMENT ON COLUMN kpi.conversations.resolved_at IS 'when the problem was solved; NULL if never';
CREATE INDEX conversations_customer_opened ON kpi.conversations (shop_id, customer_id, opened_at);
CREATE INDEX conversations_agent_opened ON kpi.conversations (agent_id, opened_at);

CREATE TABLE kpi.messages (
	message_id bigint PRIMARY KEY,
	shop_id int NOT NULL DEFAULT 1,
	conversation_id bigint NOT NULL,
	sent_at timestamptz NOT NULL,
	sender kpi.sender NOT NULL,
	agent_id int REFERENCES kpi.agents,
	CONSTRAINT messages_conversation_fkey FOREIGN KEY (shop_id, conversation_id)
		REFERENCES kpi.conversations (shop_id, conversation_id) ON DELETE CASCADE,
	CONSTRAINT messages_sent_at_finite CHECK (isfinite(sent_at)),
	CONSTRAINT messages_agent_has_agent_id CHECK (sender <> 'agent' OR agent_id IS NOT NULL),
	CONSTRAINT messages_only_agent_has_agent_id CHECK (sender = 'agent' OR agent_id IS NULL)
);
COMMENT ON TABLE kpi.messages IS 'every message of a conversation; auto replies never count as replies';
COMMENT ON COLUMN kpi.messages.sender IS 'customer, agent, auto (auto-reply, bot) or system';
COMMENT ON COLUMN kpi.messages.agent_id IS 'the agent who wrote it: set exactly when sender = agent';
-- In turn order, carrying what kpi.reply_turns reads, so the refresh can read the index alone.
CREATE INDEX messages_conversation_sent ON kpi.messages (conversation_id, sent_at, message_id)
	INCLUDE (sender, agent_id, shop_id);

CREATE TABLE kpi.orders (
	order_id bigint PRIMARY KEY,
	shop_id int NOT NULL DEFAULT 1 REFERENCES kpi.shops,
	customer_id bigint NOT NULL,
	placed_at timestamptz NOT NULL,
	paid_at timestamptz,
	amount numeric NOT NULL DEFAULT 0,
	items int NOT NULL DEFAULT 1,
	CONSTRAINT orders_shop_order_unique UNIQUE (shop_id, order_id),
	CONSTRAINT orders_times_finite CHECK (isfinite(placed_at) AND isfinite(paid_at)),
	CONSTRAINT orders_paid_after_placed CHECK (paid_at >= placed_at),
	CONSTRAINT orders_amount_not_negative CHECK (amount >= 0),
	CONSTRAINT orders_items_not_negative CHECK (items >= 0)
);
COMMENT ON TABLE kpi.orders IS 'orders (下单); paid_at set once paid (付款)';
COMMENT ON COLUMN kpi.orders.amount IS 'order value in the shop''s currency';
COMMENT ON COLUMN kpi.orders.items IS 'number of items (件数)';
CREATE INDEX orders_customer_placed ON kpi.orders (shop_id, customer_id, placed_at);
-- The incremental refresh finds a day's events by time.
CREATE INDEX orders_paid ON kpi.orders (shop_id, paid_at);

CREATE TABLE kpi.refunds (
	refund_id bigint PRIMARY KEY,
	shop_id int NOT NULL DEFAULT 1,
	order_id bigint NOT NULL,
	agent_id int REFERENCES kpi.agents,
	requested_at timestamptz NOT NULL,
	completed_at timestamptz,
	outcome text
		CONSTRAINT refunds_outcome_known CHECK (outcome IN ('refunded', 'rejected', 'cancelled')),
	completed_by text
		CONSTRAINT refunds_completed_by_known CHECK (completed_by IN ('merchant', 'platform')),
	disputed boolean NOT NULL DEFAULT false,
	CONSTRAINT refunds_order_fkey FOREIGN KEY (shop_id, order_id)
		REFERENCES kpi.orders (shop_id, order_id) ON DELETE CASCADE,
	CONSTRAINT refunds_times_finite CHECK (isfinite(requested_at) AND isfinite(completed_at)),
	CONSTRAINT refunds_completed_after_requested CHECK (completed_at >= requested_at),
	CONSTRAINT refunds_outcome_when_completed CHECK ((completed_at IS NULL) = (outcome IS NULL)),
	CONSTRAINT refunds_completed_by_when_completed CHECK (completed_by IS NULL OR completed_at IS NOT NULL)
);
COMMENT ON TABLE kpi.refunds IS 'refund requests (退款) and whether they became disputes (纠纷)';
COMMENT ON COLUMN kpi.refunds.agent_id IS 'the handling (after-sale) agent; may be NULL';
COMMENT ON COLUMN kpi.refunds.outcome IS 'refunded, rejected or cancelled: set exactly when completed';
COMMENT ON COLUMN kpi.refunds.completed_by IS 'merchant (自主完结) or platform (小二介入)';
COMMENT ON COLUMN kpi.refunds.disputed IS 'the customer escalated to the platform (退款纠纷)';
CREATE INDEX refunds_order ON kpi.refunds (shop_id, order_id);
CREATE INDEX refunds_requested ON kpi.refunds (shop_id, requested_at);
CREATE INDEX refunds_completed ON kpi.refunds (shop_id, completed_at);

CREATE TABLE kpi.complaints (
	complaint_id bigint PRIMARY KEY,
	shop_id int NOT NULL DEFAULT 1 REFERENCES kpi.shops,
	agent_id int REFERENCES kpi.agents,
	order_id bigint,
	conversation_id bigint,
	filed_at timestamptz NOT NULL,
	category text,
	resolved_at timestamptz,
	CONSTRAINT complaints_conversation_fkey FOREIGN KEY (shop_id, conversation_id)
		REFERENCES kpi.conversations (shop_id, conversation_id) ON DELETE SET NULL (conversation_id),
	CONSTRAINT complaints_order_fkey FOREIGN KEY (shop_id, order_id)
		REFERENCES kpi.orders (shop_id, order_id) ON DELETE SET NULL (order_id),
	CONSTRAINT complaints_times_finite CHECK (isfinite(filed_at) AND isfinite(resolved_at)),
	CONSTRAINT complaints_resolved_after_filed CHECK (resolved_at >= filed_at)
);
COMMENT ON TABLE kpi.complaints IS 'complaints (投诉); charged to agent_id, else the conversation''s, else the order''s attributed agent';
CREATE INDEX complaints_conversation ON kpi.complaints (shop_id, conversation_id);
CREATE INDEX complaints_order ON kpi.complaints (shop_id, order_id);

CREATE TABLE kpi.ratings (
	rating_id bigint PRIMARY KEY,
	shop_id int NOT NULL DEFAULT 1 REFERENCES kpi.shops,
	agent_id int REFERENCES kpi.agents,
	conversation_id bigint,
	order_id bigint,
	rated_at timestamptz NOT NULL,
	kind text NOT NULL
		CONSTRAINT ratings_kind_known CHECK (kind IN ('csat', 'review', 'dsr_service')),
	score smallint NOT NULL
		CONSTRAINT ratings_score_between_1_and_5 CHECK (score BETWEEN 1 AND 5),
	CONSTRAINT ratings_rated_at_finite CHECK (isfinite(rated_at)),
	CONSTRAINT ratings_conversation_fkey FOREIGN KEY (shop_id, conversation_id)
		REFERENCES kpi.conversations (shop_id, conversation_id) ON DELETE SET NULL (conversation_id),
	CONSTRAINT ratings_order_fkey FOREIGN KEY (shop_id, order_id)
		REFERENCES kpi.orders (shop_id, order_id) ON DELETE SET NULL (order_id)
);
COMMENT ON TABLE kpi.ratings IS 'ratings: csat (满意度), review (好评) and dsr_service (服务态度DSR), score 1..5';
COMMENT ON COLUMN kpi.ratings.agent_id IS 'the rated agent; NULL: the conversation''s, else the order''s attributed agent';
CREATE INDEX ratings_conversation ON kpi.ratings (shop_id, conversation_id);
CREATE INDEX ratings_order ON kpi.ratings (shop_id, order_id);

CREATE TABLE kpi.agent_sessions (
	shop_id int NOT NULL DEFAULT 1 REFERENCES kpi.shops,
	agent_id int NOT NULL REFERENCES kpi.agents,
	online tstzrange NOT NULL,
	PRIMARY KEY (shop_id, agent_id, online),
	CONSTRAINT agent_sessions_online_not_empty CHECK (NOT isempty(online)),
	CONSTRAINT agent_sessions_online_bounded CHECK (NOT lower_inf(online) AND NOT upper_inf(online))
);
COMMENT ON TABLE kpi.agent_sessions IS
	'periods an agent was online (在线); overlapping periods are counted once';

-- Row replacement for restores -----------------------------------------------------------------

-- CREATE EXTENSION ships the settings row and shop 1; pg_dump then dumps them as user data, and
-- a restore inserts them into tables that already hold them. An INSERT of these rows therefore
-- replaces the shipped row instead of failing.
CREATE FUNCTION kpi.settings_insert_replaces() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM kpi.settings) THEN
		RETURN NEW;
	END IF;
	UPDATE kpi.settings
	   SET timezone = NEW.timezone,
		   attribution_window = NEW.attribution_window,
		   fcr_window = NEW.fcr_window,
		   response_sla = NEW.response_sla,
		   first_response_sla = NEW.first_response_sla;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.settings_insert_replaces() IS
	'trigger: an INSERT into kpi.settings replaces its one row (so a restore brings the settings back)';
CREATE TRIGGER settings_insert_replaces BEFORE INSERT ON kpi.settings
	FOR EACH ROW EXECUTE FUNCTION kpi.settings_insert_replaces();

CREATE FUNCTION kpi.settings_keep_row() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'kpi.settings must keep its one row'
		USING ERRCODE = 'integrity_constraint_violation',
			  HINT = 'Change the settings with UPDATE kpi.settings SET ...';
END
$$;
COMMENT ON FUNCTION kpi.settings_keep_row() IS 'trigger: kpi.settings may not lose its row';
CREATE TRIGGER settings_keep_row BEFORE DELETE ON kpi.settings
	FOR EACH ROW EXECUTE FUNCTION kpi.settings_keep_row();
CREATE TRIGGER settings_keep_row_truncate BEFORE TRUNCATE ON kpi.settings
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.settings_keep_row();

CREATE FUNCTION kpi.shops_insert_replaces_default() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.shop_id <> 1 OR NOT EXISTS (SELECT FROM kpi.shops WHERE shop_id = 1) THEN
		RETURN NEW;
	END IF;
	UPDATE kpi.shops
	   SET name = NEW.name, platform = NEW.platform, timezone = NEW.timezone
	 WHERE shop_id = 1;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.shops_insert_replaces_default() IS
	'trigger: an INSERT of shop 1 replaces the shipped default shop (so a restore brings its edits back)';
CREATE TRIGGER shops_insert_replaces_default BEFORE INSERT ON kpi.shops
	FOR EACH ROW EXECUTE FUNCTION kpi.shops_insert_replaces_default();

-- pg_dump keeps every row of these tables.
SELECT pg_catalog.pg_extension_config_dump('kpi.settings', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.shops', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.calendars', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.agents', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.conversations', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.messages', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.orders', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.refunds', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.complaints', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.ratings', '');
SELECT pg_catalog.pg_extension_config_dump('kpi.agent_sessions', '');
