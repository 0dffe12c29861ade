-- Scorecards (绩效考核, SPEC 6): the metric catalog, weighted scorecards with linear or banded
-- items, grade bands, industry benchmarks, and the reports built on kpi.agent_metrics:
--
--   kpi.agent_metrics(from, to)              the one definition of every metric (30_facts.sql)
--     -> kpi.scorecard_item_scores(...)       each agent's value and 0..100 score per item, for
--                                             any number of windows at once
--     -> kpi.scorecard_snapshots(...)         composite, coverage, grade, ranks, previous period
--     -> kpi.scorecard_detail, kpi.scorecard, kpi.agent_scorecard, kpi.scorecard_history
--
-- Values are never derived a second way: an item's value is the agent_metrics column of the
-- same name (read through to_jsonb, so the catalog's names are the columns' names). Only the
-- Wilson option needs hits and trials; kpi.agent_proportions sums them from kpi.agent_days
-- exactly as agent_metrics does, and test/scorecard.sql checks that both agree.
--
-- Shipped configuration and pg_dump. The default scorecards, their items and grade bands ship
-- with the extension (kpi.scorecards.shipped = true). A scorecard is the unit of ownership: the
-- first edit of a shipped scorecard, of one of its items or of its grade bands (insert, update
-- or delete) makes it the company's (shipped = false). pg_dump keeps exactly the company's
-- scorecards with all their items and bands; on restore CREATE EXTENSION re-creates the shipped
-- ones, and inserting a scorecard whose name is still shipped replaces it, items and bands
-- included. So edits, additions and deletions of items all survive, and nothing is duplicated.
-- Shipped benchmarks are read-only (the company adds rows under its own scope), so dumping the
-- company's rows alone is exact.

-- Metric catalog ---------------------------------------------------------------------------------

CREATE TABLE kpi.metrics (
	name text PRIMARY KEY,
	category text NOT NULL
		CONSTRAINT metrics_category_known CHECK (category IN
			('response', 'conversations', 'conversion', 'after-sale', 'ratings', 'presence')),
	label_en text NOT NULL,
	label_zh text NOT NULL,
	unit text NOT NULL
		CONSTRAINT metrics_unit_known CHECK (unit IN
			('count', 'rate', 's', 'currency', 'items', 'score', 'hours')),
	direction text NOT NULL
		CONSTRAINT metrics_direction_known CHECK (direction IN ('higher', 'lower')),
	proportion boolean NOT NULL,
	level text NOT NULL DEFAULT 'agent'
		CONSTRAINT metrics_level_known CHECK (level IN ('agent', 'shop')),
	definition text NOT NULL
);
COMMENT ON TABLE kpi.metrics IS
	'catalog of every metric (SPEC 5.1): its name is the column name in kpi.agent_metrics and the rolling views';
COMMENT ON COLUMN kpi.metrics.name IS 'the metric''s name: a column of kpi.agent_metrics (agent level) or of kpi.shop_rolling (shop level, with _28d)';
COMMENT ON COLUMN kpi.metrics.category IS 'response, conversations, conversion, after-sale, ratings or presence';
COMMENT ON COLUMN kpi.metrics.label_en IS 'English label for reports';
COMMENT ON COLUMN kpi.metrics.label_zh IS 'Chinese label for reports (the term Taobao/Tmall shops use)';
COMMENT ON COLUMN kpi.metrics.unit IS 'count, rate (fraction 0..1), s (seconds), currency, items, score (1..5) or hours';
COMMENT ON COLUMN kpi.metrics.direction IS 'higher or lower: which is better; decides how bands are read';
COMMENT ON COLUMN kpi.metrics.proportion IS
	'true when the metric is hits among trials (each trial a hit at most once), so its Wilson bounds apply; '
	'refund_rate and complaint_rate are not (a day can have 2 refunds and 1 paid order)';
COMMENT ON COLUMN kpi.metrics.level IS 'agent (scorable, in kpi.agent_metrics) or shop (kpi.shop_rolling only)';
COMMENT ON COLUMN kpi.metrics.definition IS 'one-line definition (the README has the full rules)';

INSERT INTO kpi.metrics (name, category, label_en, label_zh, unit, direction, proportion, level, definition) VALUES
	('turns', 'response', 'Turns', '咨询轮次', 'count', 'higher', false, 'agent',
		'customer questions charged to the agent: answered by them, or unanswered in their conversations'),
	('answered_turns', 'response', 'Answered turns', '已回复轮次', 'count', 'higher', false, 'agent',
		'turns the agent answered'),
	('unanswered_turns', 'response', 'Unanswered turns', '未回复轮次', 'count', 'lower', false, 'agent',
		'turns of the agent''s conversations that no agent answered'),
	('reply_rate', 'response', 'Reply rate', '回复率', 'rate', 'higher', true, 'agent',
		'answered turns / turns'),
	('avg_response_s', 'response', 'Average response time', '平均响应时间', 's', 'lower', false, 'agent',
		'mean seconds from a customer question to the first agent reply, over answered turns'),
	('avg_first_response_s', 'response', 'First response time', '首次响应时间', 's', 'lower', false, 'agent',
		'the same over the first turn of each conversation'),
	('response_sla_rate', 'response', 'Fast response rate', '快速响应率', 'rate', 'higher', true, 'agent',
		'turns answered within settings.response_sla / turns (unanswered turns are breaches)'),
	('first_response_sla_rate', 'response', 'Fast first response rate', '首次快速响应率', 'rate', 'higher', true, 'agent',
		'first turns answered within settings.first_response_sla / first turns'),
	('p50_response_s', 'response', 'Median response time', '响应时间中位数', 's', 'lower', false, 'agent',
		'median response time of answered turns (latency sketch, within 1 %)'),
	('p90_response_s', 'response', '90th percentile response time', '响应时间90分位', 's', 'lower', false, 'agent',
		'90th percentile response time of answered turns (latency sketch, within 1 %)'),
	('avg_business_response_s', 'response', 'Average response time in business hours', '工作时间平均响应时间', 's', 'lower', false, 'agent',
		'mean response time counted in the agent''s business hours'),
	('conversations', 'conversations', 'Conversations', '接待量', 'count', 'higher', false, 'agent',
		'conversations assigned to the agent'),
	('avg_handle_s', 'conversations', 'Average handling time', '平均接待时长', 's', 'lower', false, 'agent',
		'mean closed_at - opened_at of closed conversations'),
	('resolution_rate', 'conversations', 'Resolution rate', '问题解决率', 'rate', 'higher', true, 'agent',
		'resolved conversations / conversations'),
	('avg_resolution_s', 'conversations', 'Resolution time', '问题解决时长', 's', 'lower', false, 'agent',
		'mean resolved_at - opened_at of resolved conversations'),
	('fcr_rate', 'conversations', 'First-contact resolution', '一次性解决率', 'rate', 'higher', true, 'agent',
		'resolved conversations not followed by another of the customer within settings.fcr_window / conversations'),
	('inquiries', 'conversion', 'Inquiries', '询单人数', 'count', 'higher', false, 'agent',
		'distinct customers with a conversation of the agent, per day, added up'),
	('inquiry_conversion_rate', 'conversion', 'Inquiry conversion rate', '询单转化率', 'rate', 'higher', true, 'agent',
		'paying customers / inquiries'),
	('order_conversion_rate', 'conversion', 'Inquiry order rate', '询单下单率', 'rate', 'higher', true, 'agent',
		'ordering customers / inquiries'),
	('payment_rate', 'conversion', 'Payment rate', '支付率', 'rate', 'higher', true, 'agent',
		'attributed orders paid / attributed orders placed'),
	('inquiry_aov', 'conversion', 'Inquiry average order value', '询单客单价', 'currency', 'higher', false, 'agent',
		'paid amount of attributed orders / paying customers'),
	('items_per_buyer', 'conversion', 'Items per paying customer', '询单人均成交件数', 'items', 'higher', false, 'agent',
		'paid items of attributed orders / paying customers'),
	('refund_rate', 'after-sale', 'Refund rate', '退款率', 'rate', 'lower', false, 'agent',
		'refunds requested on orders attributed to the agent / attributed orders paid; shop level: refunds / orders paid'),
	('dispute_share', 'after-sale', 'Dispute share', '纠纷退款占比', 'rate', 'lower', true, 'agent',
		'disputed refunds / refunds requested that the agent handled'),
	('self_completion_rate', 'after-sale', 'Self-completion rate', '退款自主完结率', 'rate', 'higher', true, 'agent',
		'refunds the agent handled completed by the merchant / completed'),
	('avg_refund_completion_s', 'after-sale', 'Refund completion time', '退款完结时长', 's', 'lower', false, 'agent',
		'mean completed_at - requested_at of refunds the agent handled'),
	('complaint_rate', 'after-sale', 'Complaint rate', '投诉率', 'rate', 'lower', false, 'agent',
		'complaints charged to the agent / the agent''s conversations; shop level: complaints / orders paid'),
	('csat_rate', 'ratings', 'Satisfaction (CSAT)', '满意度', 'rate', 'higher', true, 'agent',
		'csat ratings of 4 or 5 / csat ratings'),
	('good_review_rate', 'ratings', 'Good-review rate', '好评率', 'rate', 'higher', true, 'agent',
		'review ratings of 4 or 5 / review ratings'),
	('dsr_service', 'ratings', 'DSR service score', '服务态度DSR', 'score', 'higher', false, 'agent',
		'mean dsr_service score (1..5)'),
	('online_hours', 'presence', 'Online hours', '在线时长', 'hours', 'higher', false, 'agent',
		'hours inside the union of the agent''s online sessions'),
	('dispute_rate', 'after-sale', 'Refund dispute rate', '退款纠纷率', 'rate', 'lower', false, 'shop',
		'shop level: disputed refunds requested / orders paid (the platforms'' definition)');

-- Configuration tables ---------------------------------------------------------------------------

CREATE TABLE kpi.scorecards (
	scorecard text PRIMARY KEY,
	description text,
	score_on text NOT NULL DEFAULT 'value'
		CONSTRAINT scorecards_score_on_known CHECK (score_on IN ('value', 'wilson')),
	benchmark_scope text NOT NULL DEFAULT 'taobao',
	shipped boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE kpi.scorecards IS
	'weighted scorecards (绩效考核); presale, aftersale and general ship, and kpi.agent_scorecard scores each agent with the one named like its role';
COMMENT ON COLUMN kpi.scorecards.scorecard IS 'the scorecard''s name; presale, aftersale and general are the roles'' (kpi.agents.role)';
COMMENT ON COLUMN kpi.scorecards.description IS 'what the scorecard is for';
COMMENT ON COLUMN kpi.scorecards.score_on IS
	'value: score every metric on its value; wilson: score proportion metrics (kpi.metrics.proportion) on their '
	'pessimistic Wilson bound (z = 1.96), the lower bound where higher is better and the upper where lower is better';
COMMENT ON COLUMN kpi.scorecards.benchmark_scope IS 'the kpi.benchmarks scope that scorecard_detail shows beside each value';
COMMENT ON COLUMN kpi.scorecards.shipped IS
	'true while the scorecard, its items and grade bands are exactly as the extension shipped them (pg_dump leaves '
	'those out; CREATE EXTENSION re-creates them); any edit sets it false for good';

CREATE TABLE kpi.scorecard_items (
	scorecard text NOT NULL REFERENCES kpi.scorecards ON UPDATE CASCADE ON DELETE CASCADE,
	metric text NOT NULL REFERENCES kpi.metrics,
	weight numeric NOT NULL
		CONSTRAINT scorecard_items_weight_positive CHECK (weight > 0),
	floor numeric,
	target numeric,
	bands jsonb
		CONSTRAINT scorecard_items_bands_array CHECK (jsonb_typeof(bands) = 'array'),
	PRIMARY KEY (scorecard, metric),
	CONSTRAINT scorecard_items_floor_target_or_bands CHECK (
		(floor IS NOT NULL AND target IS NOT NULL AND bands IS NULL)
		OR (floor IS NULL AND target IS NULL AND bands IS NOT NULL)),
	CONSTRAINT scorecard_items_floor_not_target CHECK (floor <> target)
);
COMMENT ON TABLE kpi.scorecard_items IS
	'the metrics of each scorecard: a weight, and either floor + target (linear) or bands (a step table)';
COMMENT ON COLUMN kpi.scorecard_items.scorecard IS 'the scorecard of kpi.scorecards';
COMMENT ON COLUMN kpi.scorecard_items.metric IS 'an agent-level metric of kpi.metrics';
COMMENT ON COLUMN kpi.scorecard_items.weight IS 'relative weight (> 0) in the composite';
COMMENT ON COLUMN kpi.scorecard_items.floor IS
	'value scoring 0; the score rises linearly to 100 at target and is clamped to 0..100 (floor > target: lower is better)';
COMMENT ON COLUMN kpi.scorecard_items.target IS 'value scoring 100';
COMMENT ON COLUMN kpi.scorecard_items.bands IS
	'step table [[threshold, score], ...] from the best threshold down: the score of the first threshold the value '
	'reaches (>= where higher is better, <= where lower is better), else 0';

CREATE TABLE kpi.grade_bands (
	scorecard text NOT NULL REFERENCES kpi.scorecards ON UPDATE CASCADE ON DELETE CASCADE,
	min_score numeric NOT NULL
		CONSTRAINT grade_bands_min_score_between_0_and_100 CHECK (min_score BETWEEN 0 AND 100),
	grade text NOT NULL,
	PRIMARY KEY (scorecard, min_score),
	CONSTRAINT grade_bands_grade_unique UNIQUE (scorecard, grade)
);
COMMENT ON TABLE kpi.grade_bands IS
	'grades of each scorecard: a composite gets the grade of the highest min_score it reaches (A >= 90, B >= 75, C >= 60, D shipped)';
COMMENT ON COLUMN kpi.grade_bands.scorecard IS 'the scorecard of kpi.scorecards';
COMMENT ON COLUMN kpi.grade_bands.min_score IS 'lowest composite (0..100) with this grade; keep a band at 0 so every composite has a grade';
COMMENT ON COLUMN kpi.grade_bands.grade IS 'the grade''s name: A, B, ... or 金牌/银牌/铜牌, gold/silver/bronze';

CREATE TABLE kpi.benchmarks (
	metric text NOT NULL REFERENCES kpi.metrics,
	scope text NOT NULL,
	value numeric NOT NULL,
	source text NOT NULL,
	shipped boolean NOT NULL DEFAULT false,
	PRIMARY KEY (metric, scope)
);
COMMENT ON TABLE kpi.benchmarks IS
	'reference values per metric and scope (platform, channel or the company''s own), shown beside each value by kpi.scorecard_detail';
COMMENT ON COLUMN kpi.benchmarks.metric IS 'a metric of kpi.metrics';
COMMENT ON COLUMN kpi.benchmarks.scope IS 'where the value holds: taobao, jd, ... or a scope of the company''s own';
COMMENT ON COLUMN kpi.benchmarks.value IS 'the reference value, in the metric''s unit';
COMMENT ON COLUMN kpi.benchmarks.source IS 'where the value comes from and how firm it is';
COMMENT ON COLUMN kpi.benchmarks.shipped IS 'true for the rows the extension ships: they are read-only and not dumped';

-- Scoring ----------------------------------------------------------------------------------------

CREATE FUNCTION kpi.item_score(value double precision, floor numeric, target numeric, bands jsonb, direction text)
	RETURNS numeric
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v numeric;
	threshold numeric;
BEGIN
	IF value IS NULL THEN
		RETURN NULL;
	END IF;
	v := value::numeric;
	IF bands IS NOT NULL THEN
		FOR i IN 0 .. jsonb_array_length(bands) - 1 LOOP
			threshold := (bands -> i ->> 0)::numeric;
			IF (direction = 'higher' AND v >= threshold) OR (direction = 'lower' AND v <= threshold) THEN
				RETURN (bands -> i ->> 1)::numeric;
			END IF;
		END LOOP;
		RETURN 0;
	END IF;
	RETURN greatest(0, least(100, 100 * (v - floor) / (target - floor)));
END
$$;
COMMENT ON FUNCTION kpi.item_score(double precision, numeric, numeric, jsonb, text) IS
	'score 0..100 of a value: with bands, the score of the first band it reaches (>= for direction higher, <= for '
	'lower), else 0; otherwise linear from floor (0) to target (100), clamped; NULL for a NULL value';

-- Validation of scorecard items: clear errors before the constraints (which stay as a backstop).
CREATE FUNCTION kpi.scorecard_items_check() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m kpi.metrics;
	item text;
	n int;
	band jsonb;
	threshold numeric;
	score numeric;
	prev_threshold numeric;
	prev_score numeric;
BEGIN
	IF NEW.scorecard IS NULL OR NEW.metric IS NULL OR NEW.weight IS NULL THEN
		RETURN NEW;	-- the NOT NULL constraints say which
	END IF;
	item := format('metric "%s" in scorecard "%s"', NEW.metric, NEW.scorecard);
	IF NOT EXISTS (SELECT FROM kpi.scorecards s WHERE s.scorecard = NEW.scorecard) THEN
		RAISE EXCEPTION 'scorecard "%" does not exist', NEW.scorecard
			USING ERRCODE = 'foreign_key_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'scorecard',
				  DETAIL = 'Every item belongs to a scorecard of kpi.scorecards.',
				  HINT = 'Create the scorecard first: INSERT INTO kpi.scorecards (scorecard, description) VALUES (...).';
	END IF;
	SELECT * INTO m FROM kpi.metrics WHERE name = NEW.metric;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'metric "%" is not in kpi.metrics', NEW.metric
			USING ERRCODE = 'foreign_key_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'metric',
				  DETAIL = 'A scorecard scores the metrics that kpi.agent_metrics reports, by their column names.',
				  HINT = 'SELECT name, label_en, label_zh FROM kpi.metrics WHERE level = ''agent'' lists them.';
	END IF;
	IF m.level <> 'agent' THEN
		RAISE EXCEPTION 'metric "%" is reported per shop, not per agent', NEW.metric
			USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'metric',
				  DETAIL = 'Scorecards score agents, with the metrics of kpi.agent_metrics.',
				  HINT = 'Score dispute_share, the share of the agent''s refunds that became disputes.';
	END IF;
	IF NEW.weight <= 0 THEN
		RAISE EXCEPTION 'weight of % must be positive', item
			USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'weight',
				  DETAIL = format('The weight is %s.', NEW.weight),
				  HINT = 'Weights are relative shares of the composite; delete the item to stop scoring the metric.';
	END IF;
	IF NEW.bands IS NULL THEN
		IF NEW.floor IS NULL AND NEW.target IS NULL THEN
			RAISE EXCEPTION '% needs floor and target, or bands', item
				USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items',
					  DETAIL = 'Floor, target and bands are all NULL.',
					  HINT = 'Give floor (scores 0) and target (scores 100), or a step table such as bands = ''[[0.45, 100], [0.40, 80]]''.';
		ELSIF NEW.floor IS NULL OR NEW.target IS NULL THEN
			RAISE EXCEPTION '% needs both floor and target', item
				USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items',
					  COLUMN = CASE WHEN NEW.floor IS NULL THEN 'floor' ELSE 'target' END,
					  DETAIL = format('Floor is %s and target is %s.', coalesce(NEW.floor::text, 'NULL'), coalesce(NEW.target::text, 'NULL')),
					  HINT = 'A linear item scores 0 at floor and 100 at target.';
		ELSIF NEW.floor = NEW.target THEN
			RAISE EXCEPTION 'floor and target of % must differ', item
				USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'target',
					  DETAIL = format('Both are %s, so there is no line from 0 to 100.', NEW.floor),
					  HINT = format('For a pass/fail step use bands = ''[[%s, 100]]''.', NEW.target);
		END IF;
		RETURN NEW;
	END IF;

	IF NEW.floor IS NOT NULL OR NEW.target IS NOT NULL THEN
		RAISE EXCEPTION '% has both floor/target and bands', item
			USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'bands',
				  DETAIL = 'An item is scored either linearly between floor and target or by a step table of bands, not both.',
				  HINT = 'Set floor and target to NULL to score by the bands, or bands to NULL.';
	END IF;
	n := CASE WHEN jsonb_typeof(NEW.bands) = 'array' THEN jsonb_array_length(NEW.bands) ELSE 0 END;
	FOR i IN 0 .. n - 1 LOOP
		band := NEW.bands -> i;
		IF jsonb_typeof(band) IS DISTINCT FROM 'array' OR jsonb_array_length(band) <> 2
		   OR jsonb_typeof(band -> 0) <> 'number' OR jsonb_typeof(band -> 1) <> 'number' THEN
			n := 0;
			EXIT;
		END IF;
	END LOOP;
	IF n = 0 THEN
		RAISE EXCEPTION 'bands of % must be a non-empty array of [threshold, score] pairs', item
			USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'bands',
				  DETAIL = format('The bands are %s.', NEW.bands),
				  HINT = 'For example ''[[0.45, 100], [0.40, 80], [0.35, 60]]'': numbers, the best threshold first.';
	END IF;
	FOR i IN 0 .. n - 1 LOOP
		threshold := (NEW.bands -> i ->> 0)::numeric;
		score := (NEW.bands -> i ->> 1)::numeric;
		IF score < 0 OR score > 100 THEN
			RAISE EXCEPTION 'band scores of % must be between 0 and 100', item
				USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'bands',
					  DETAIL = format('Band %s, %s, scores %s.', i + 1, NEW.bands -> i, score),
					  HINT = 'Scores are points out of 100; the weight sets the item''s share of the composite.';
		END IF;
		IF i > 0 AND ((m.direction = 'higher' AND threshold >= prev_threshold)
					  OR (m.direction = 'lower' AND threshold <= prev_threshold)) THEN
			RAISE EXCEPTION 'bands of % must list the best threshold first', item
				USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'bands',
					  DETAIL = format('%s is better when %s, so each threshold must be %s than the one before; band %s, %s, follows %s.',
									  NEW.metric, m.direction, CASE m.direction WHEN 'higher' THEN 'lower' ELSE 'higher' END,
									  i + 1, NEW.bands -> i, NEW.bands -> (i - 1)),
					  HINT = CASE m.direction
								WHEN 'higher' THEN 'List thresholds from the highest down, e.g. [[0.45, 100], [0.40, 80]].'
								ELSE 'List thresholds from the lowest up, e.g. [[35, 100], [45, 80]].' END;
		END IF;
		IF i > 0 AND score > prev_score THEN
			RAISE EXCEPTION 'bands of % must not score a worse threshold higher', item
				USING ERRCODE = 'check_violation', SCHEMA = 'kpi', TABLE = 'scorecard_items', COLUMN = 'bands',
					  DETAIL = format('Band %s, %s, scores more than band %s, %s.', i + 1, NEW.bands -> i, i, NEW.bands -> (i - 1)),
					  HINT = 'Scores must not rise down the list: a better value never scores less.';
		END IF;
		prev_threshold := threshold;
		prev_score := score;
	END LOOP;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION kpi.scorecard_items_check() IS
	'trigger: validates a scorecard item (metric, scorecard, weight, floor/target or bands in the metric''s order) with clear errors';
CREATE TRIGGER scorecard_items_check BEFORE INSERT OR UPDATE ON kpi.scorecard_items
	FOR EACH ROW EXECUTE FUNCTION kpi.scorecard_items_check();

-- Shipped defaults -------------------------------------------------------------------------------
-- Common practice of Taobao/Tmall shops' customer-service appraisal schemes (客服绩效考核方案) and
-- of support centres; the README lists the reasoning. Companies are expected to edit them.

INSERT INTO kpi.scorecards (scorecard, description, score_on, benchmark_scope, shipped) VALUES
	('presale', '售前 pre-sale agents: sales conversion and response speed, Taobao-style step tables', 'value', 'taobao', true),
	('aftersale', '售后 after-sale agents: disputes, refund handling, complaints and satisfaction', 'value', 'taobao', true),
	('general', '综合 general agents: response, resolution and satisfaction', 'value', 'taobao', true);

INSERT INTO kpi.scorecard_items (scorecard, metric, weight, floor, target, bands) VALUES
	('presale', 'inquiry_conversion_rate', 40, NULL, NULL, '[[0.45, 100], [0.40, 80], [0.35, 60]]'),
	('presale', 'avg_response_s', 20, NULL, NULL, '[[35, 100], [45, 80], [60, 60]]'),
	('presale', 'reply_rate', 10, 0.90, 1.00, NULL),
	('presale', 'payment_rate', 10, 0.60, 0.90, NULL),
	('presale', 'csat_rate', 10, 0.80, 0.95, NULL),
	('presale', 'refund_rate', 10, 0.15, 0.05, NULL),
	('aftersale', 'dispute_share', 25, NULL, NULL, '[[0.01, 100], [0.03, 80], [0.05, 60]]'),
	('aftersale', 'self_completion_rate', 20, 0.80, 0.98, NULL),
	('aftersale', 'avg_refund_completion_s', 15, 259200, 86400, NULL),
	('aftersale', 'complaint_rate', 15, 0.02, 0.005, NULL),
	('aftersale', 'csat_rate', 15, 0.80, 0.95, NULL),
	('aftersale', 'avg_response_s', 10, 120, 20, NULL),
	('general', 'avg_response_s', 20, 120, 20, NULL),
	('general', 'reply_rate', 10, 0.80, 1.00, NULL),
	('general', 'resolution_rate', 20, 0.60, 0.90, NULL),
	('general', 'fcr_rate', 15, 0.50, 0.80, NULL),
	('general', 'csat_rate', 20, 0.80, 0.95, NULL),
	('general', 'good_review_rate', 10, 0.80, 0.95, NULL),
	('general', 'complaint_rate', 5, 0.02, 0.005, NULL);

INSERT INTO kpi.grade_bands (scorecard, min_score, grade)
SELECT s.scorecard, g.min_score, g.grade
  FROM kpi.scorecards s, (VALUES (90, 'A'), (75, 'B'), (60, 'C'), (0, 'D')) g(min_score, grade);

INSERT INTO kpi.benchmarks (metric, scope, value, source, shipped) VALUES
	('avg_response_s', 'taobao', 20,
		'Taobao/Tmall chat (旺旺): shops aim at an average response of about 20 s; common practice in shop appraisal schemes, not a platform-published figure', true),
	('avg_first_response_s', 'taobao', 10,
		'Taobao/Tmall chat: first reply within about 10 s (auto-replies do not count); common practice, not a platform-published figure', true),
	('reply_rate', 'taobao', 1.00,
		'Taobao/Tmall chat: every question answered (回复率 100 %); common practice', true),
	('inquiry_conversion_rate', 'taobao', 0.40,
		'Taobao/Tmall pre-sale: 询单转化率 around 40 % is a usual target; it varies widely by category', true),
	('good_review_rate', 'taobao', 0.90,
		'Taobao/Tmall: good-review rate (好评率) of 90 % or more; common practice', true),
	('dsr_service', 'taobao', 4.8,
		'Taobao/Tmall: a service DSR (服务态度) of about 4.8 out of 5 is typical of healthy shops; common practice', true),
	('csat_rate', 'support', 0.80,
		'support centres: a CSAT (share of 4 and 5 ratings) of about 80 % is a common industry reference', true),
	('fcr_rate', 'support', 0.70,
		'support centres: first-contact resolution of about 70 % is a common industry reference', true);

-- Ownership and restores (see the top of this file) ----------------------------------------------
-- The triggers are created after the shipped rows, so those keep shipped = true.

CREATE FUNCTION kpi.scorecards_insert() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.shipped := false;	-- only CREATE EXTENSION ships scorecards
	IF NOT EXISTS (SELECT FROM kpi.scorecards s WHERE s.scorecard = NEW.scorecard AND s.shipped) THEN
		RETURN NEW;
	END IF;
	-- The company's version of a shipped scorecard (a restore brings it this way): it replaces
	-- the shipped one whole; its items and grade bands follow.
	DELETE FROM kpi.scorecard_items i WHERE i.scorecard = NEW.scorecard;
	DELETE FROM kpi.grade_bands g WHERE g.scorecard = NEW.scorecard;
	UPDATE kpi.scorecards s
	   SET description = NEW.description, score_on = NEW.score_on,
		   benchmark_scope = NEW.benchmark_scope, shipped = false
	 WHERE s.scorecard = NEW.scorecard;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.scorecards_insert() IS
	'trigger: a new scorecard is the company''s; one named like a still-shipped scorecard replaces it with its items '
	'and grade bands (so a restore brings the company''s edits back)';
CREATE TRIGGER scorecards_insert BEFORE INSERT ON kpi.scorecards
	FOR EACH ROW EXECUTE FUNCTION kpi.scorecards_insert();

CREATE FUNCTION kpi.scorecards_change() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- kpi.agent_scorecard scores each agent with the scorecard named like its role
	-- (kpi.agents.role); those three must stay.
	IF OLD.scorecard IN ('presale', 'aftersale', 'general')
	   AND (TG_OP = 'DELETE' OR NEW.scorecard IS DISTINCT FROM OLD.scorecard) THEN
		RAISE EXCEPTION 'scorecard "%" cannot be %', OLD.scorecard,
				CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'renamed' END
			USING ERRCODE = 'restrict_violation', SCHEMA = 'kpi', TABLE = 'scorecards', COLUMN = 'scorecard',
				  DETAIL = format('kpi.agent_scorecard scores the agents of role %s with it.', OLD.scorecard),
				  HINT = 'Edit its items in kpi.scorecard_items and its grades in kpi.grade_bands instead.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	NEW.shipped := false;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION kpi.scorecards_change() IS
	'trigger: an edited scorecard is the company''s (shipped = false); the role scorecards cannot be deleted or renamed';
CREATE TRIGGER scorecards_change BEFORE UPDATE OR DELETE ON kpi.scorecards
	FOR EACH ROW EXECUTE FUNCTION kpi.scorecards_change();

CREATE FUNCTION kpi.scorecards_keep() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION '%.% cannot be truncated', TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = 'restrict_violation',
			  DETAIL = CASE TG_TABLE_NAME
						WHEN 'scorecards' THEN 'kpi.agent_scorecard needs the scorecards presale, aftersale and general.'
						ELSE 'The benchmarks the extension ships are read-only.' END,
			  HINT = CASE TG_TABLE_NAME
						WHEN 'scorecards' THEN 'Delete the scorecards of your own with DELETE FROM kpi.scorecards WHERE ...'
						ELSE 'Delete your own rows with DELETE FROM kpi.benchmarks WHERE NOT shipped.' END;
END
$$;
COMMENT ON FUNCTION kpi.scorecards_keep() IS 'trigger: kpi.scorecards and kpi.benchmarks cannot be truncated';
CREATE TRIGGER scorecards_keep BEFORE TRUNCATE ON kpi.scorecards
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.scorecards_keep();

CREATE FUNCTION kpi.scorecard_edited() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_LEVEL = 'STATEMENT' THEN	-- TRUNCATE
		UPDATE kpi.scorecards s SET shipped = false WHERE s.shipped;
		RETURN NULL;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		UPDATE kpi.scorecards s SET shipped = false WHERE s.scorecard = NEW.scorecard AND s.shipped;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		UPDATE kpi.scorecards s SET shipped = false WHERE s.scorecard = OLD.scorecard AND s.shipped;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kpi.scorecard_edited() IS
	'trigger: an edit of a scorecard''s items or grade bands makes the scorecard the company''s (shipped = false)';
CREATE TRIGGER scorecard_items_edited AFTER INSERT OR UPDATE OR DELETE ON kpi.scorecard_items
	FOR EACH ROW EXECUTE FUNCTION kpi.scorecard_edited();
CREATE TRIGGER scorecard_items_truncated BEFORE TRUNCATE ON kpi.scorecard_items
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.scorecard_edited();
CREATE TRIGGER grade_bands_edited AFTER INSERT OR UPDATE OR DELETE ON kpi.grade_bands
	FOR EACH ROW EXECUTE FUNCTION kpi.scorecard_edited();
CREATE TRIGGER grade_bands_truncated BEFORE TRUNCATE ON kpi.grade_bands
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.scorecard_edited();

CREATE FUNCTION kpi.benchmarks_shipped_read_only() RETURNS trigger
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.shipped := false;	-- only CREATE EXTENSION ships benchmarks
		RETURN NEW;
	END IF;
	IF OLD.shipped THEN
		RAISE EXCEPTION 'the shipped benchmark of % for scope % is read-only', OLD.metric, OLD.scope
			USING ERRCODE = 'restrict_violation', SCHEMA = 'kpi', TABLE = 'benchmarks',
				  DETAIL = 'The extension ships it and re-creates it on restore.',
				  HINT = 'Add a row with a scope of your own, e.g. INSERT INTO kpi.benchmarks (metric, scope, value, source) '
						 'VALUES (''avg_response_s'', ''ours'', 25, ''our 2026 target''), and set kpi.scorecards.benchmark_scope to it.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	NEW.shipped := false;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION kpi.benchmarks_shipped_read_only() IS
	'trigger: shipped benchmarks cannot be changed or deleted; rows the company adds are its own (shipped = false)';
CREATE TRIGGER benchmarks_shipped_read_only BEFORE INSERT OR UPDATE OR DELETE ON kpi.benchmarks
	FOR EACH ROW EXECUTE FUNCTION kpi.benchmarks_shipped_read_only();
CREATE TRIGGER benchmarks_keep BEFORE TRUNCATE ON kpi.benchmarks
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.scorecards_keep();

-- pg_dump keeps the company's scorecards (whole) and benchmarks; CREATE EXTENSION ships the rest.
SELECT pg_catalog.pg_extension_config_dump('kpi.scorecards', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('kpi.scorecard_items',
	'WHERE scorecard IN (SELECT s.scorecard FROM kpi.scorecards s WHERE NOT s.shipped)');
SELECT pg_catalog.pg_extension_config_dump('kpi.grade_bands',
	'WHERE scorecard IN (SELECT s.scorecard FROM kpi.scorecards s WHERE NOT s.shipped)');
SELECT pg_catalog.pg_extension_config_dump('kpi.benchmarks', 'WHERE NOT shipped');

-- Proportions for the Wilson option ---------------------------------------------------------------

CREATE FUNCTION kpi.agent_proportions("from" date, "to" date, shop_id int DEFAULT NULL)
	RETURNS TABLE (agent_id int, metric text, hits bigint, trials bigint, rate double precision,
		wilson_lower double precision, wilson_upper double precision)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.agent_id, p.metric, p.hits, p.trials,
		   kpi.rate(kpi.proportion(p.hits, p.trials)),
		   kpi.wilson_lower(kpi.proportion(p.hits, p.trials)),
		   kpi.wilson_upper(kpi.proportion(p.hits, p.trials))
	  FROM (SELECT a.agent_id,
				   coalesce(sum(d.turns), 0)::bigint AS turns,
				   coalesce(sum(d.answered_turns), 0)::bigint AS answered_turns,
				   coalesce(sum(d.response_sla_hits), 0)::bigint AS response_sla_hits,
				   coalesce(sum(d.first_turns), 0)::bigint AS first_turns,
				   coalesce(sum(d.first_response_sla_hits), 0)::bigint AS first_response_sla_hits,
				   coalesce(sum(d.conversations), 0)::bigint AS conversations,
				   coalesce(sum(d.resolved_conversations), 0)::bigint AS resolved_conversations,
				   coalesce(sum(d.fcr_conversations), 0)::bigint AS fcr_conversations,
				   coalesce(sum(d.inquiries), 0)::bigint AS inquiries,
				   coalesce(sum(d.paying_customers), 0)::bigint AS paying_customers,
				   coalesce(sum(d.ordering_customers), 0)::bigint AS ordering_customers,
				   coalesce(sum(d.attributed_orders), 0)::bigint AS attributed_orders,
				   coalesce(sum(d.attributed_paid_orders), 0)::bigint AS attributed_paid_orders,
				   coalesce(sum(d.handled_refunds), 0)::bigint AS handled_refunds,
				   coalesce(sum(d.handled_disputes), 0)::bigint AS handled_disputes,
				   coalesce(sum(d.completed_refunds), 0)::bigint AS completed_refunds,
				   coalesce(sum(d.merchant_completed_refunds), 0)::bigint AS merchant_completed_refunds,
				   coalesce(sum(d.csat_ratings), 0)::bigint AS csat_ratings,
				   coalesce(sum(d.csat_positive), 0)::bigint AS csat_positive,
				   coalesce(sum(d.review_ratings), 0)::bigint AS review_ratings,
				   coalesce(sum(d.review_positive), 0)::bigint AS review_positive
			  FROM kpi.agents a
			  LEFT JOIN kpi.agent_days d
					 ON d.agent_id = a.agent_id
					AND d.day BETWEEN agent_proportions."from" AND agent_proportions."to"
					AND (agent_proportions.shop_id IS NULL OR d.shop_id = agent_proportions.shop_id)
			 GROUP BY a.agent_id
			HAVING a.active OR count(d.agent_id) > 0) s
	 CROSS JOIN LATERAL (VALUES
			('reply_rate', s.answered_turns, s.turns),
			('response_sla_rate', s.response_sla_hits, s.turns),
			('first_response_sla_rate', s.first_response_sla_hits, s.first_turns),
			('resolution_rate', s.resolved_conversations, s.conversations),
			('fcr_rate', s.fcr_conversations, s.conversations),
			('inquiry_conversion_rate', s.paying_customers, s.inquiries),
			('order_conversion_rate', s.ordering_customers, s.inquiries),
			('payment_rate', s.attributed_paid_orders, s.attributed_orders),
			('dispute_share', s.handled_disputes, s.handled_refunds),
			('self_completion_rate', s.merchant_completed_refunds, s.completed_refunds),
			('csat_rate', s.csat_positive, s.csat_ratings),
			('good_review_rate', s.review_positive, s.review_ratings)) p(metric, hits, trials)
	 ORDER BY 1, 2;
END;
COMMENT ON FUNCTION kpi.agent_proportions(date, date, int) IS
	'the proportion metrics of kpi.agent_metrics (kpi.metrics.proportion) as hits and trials over days from..to, with '
	'rate (equal to agent_metrics'') and Wilson bounds (z = 1.96; NULL when trials = 0): one row per agent and metric';

-- Scores ------------------------------------------------------------------------------------------

CREATE FUNCTION kpi.scorecard_item_scores(ends date[], days int, card text)
	RETURNS TABLE (period_end date, agent_id int, login text, team text, scorecard text, metric text,
		value double precision, scored_value double precision, weight numeric, score numeric)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH windows AS (
		SELECT DISTINCT e.day AS period_end
		  FROM unnest(scorecard_item_scores.ends) e(day)
		 WHERE e.day IS NOT NULL
	), facts AS MATERIALIZED (
		-- agent_metrics once per window, shared by every scorecard scored over it; materialized
		-- so that to_jsonb runs once per agent, not once per item
		SELECT w.period_end, m.agent_id, m.login, m.team, m.role, to_jsonb(m) AS metrics
		  FROM windows w
		 CROSS JOIN LATERAL kpi.agent_metrics(w.period_end - scorecard_item_scores.days + 1, w.period_end) m
	), props AS (
		-- hits and trials only when a scorecard in play scores on the Wilson bound
		SELECT w.period_end, p.agent_id, p.metric, p.wilson_lower, p.wilson_upper
		  FROM windows w
		 CROSS JOIN LATERAL kpi.agent_proportions(w.period_end - scorecard_item_scores.days + 1, w.period_end) p
		 WHERE EXISTS (SELECT FROM kpi.scorecards s
						WHERE s.score_on = 'wilson'
						  AND (scorecard_item_scores.card IS NULL OR s.scorecard = scorecard_item_scores.card))
	)
	SELECT f.period_end, f.agent_id, f.login, f.team, c.scorecard, i.metric, v.value, sv.scored_value, i.weight,
		   kpi.item_score(sv.scored_value, i.floor, i.target, i.bands, md.direction)
	  FROM facts f
	  JOIN kpi.scorecards c ON c.scorecard = coalesce(scorecard_item_scores.card, f.role)
	  LEFT JOIN kpi.scorecard_items i ON i.scorecard = c.scorecard
	  LEFT JOIN kpi.metrics md ON md.name = i.metric
	  LEFT JOIN props p
			 ON c.score_on = 'wilson' AND md.proportion
			AND p.period_end = f.period_end AND p.agent_id = f.agent_id AND p.metric = i.metric
	 CROSS JOIN LATERAL (SELECT (f.metrics ->> i.metric)::double precision AS value) v
	 CROSS JOIN LATERAL (
			SELECT CASE WHEN c.score_on = 'wilson' AND md.proportion
						THEN CASE md.direction WHEN 'higher' THEN p.wilson_lower ELSE p.wilson_upper END
						ELSE v.value END AS scored_value) sv;
END;
COMMENT ON FUNCTION kpi.scorecard_item_scores(date[], int, text) IS
	'building block of the scorecards: for each window of days ending on a date of ends and each agent of '
	'kpi.agent_metrics over it, one row per item of scorecard card (NULL: each agent''s role scorecard) with the '
	'metric''s value, the value scored (the Wilson bound under score_on = wilson) and the 0..100 score; '
	'an agent of a scorecard without items gets one row with NULL metric';

CREATE FUNCTION kpi.scorecard_snapshots(ends date[], days int, card text)
	RETURNS TABLE (period_end date, agent_id int, login text, team text, scorecard text,
		composite numeric, coverage numeric, grade text, rank bigint, team_rank bigint,
		percentile numeric, top30 boolean, prev_composite numeric, composite_change numeric)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH composites AS (
		-- every window of ends and the equal window just before each, scored in one call
		SELECT s.period_end, s.agent_id, s.login, s.team, s.scorecard,
			   sum(s.weight * s.score) / nullif(sum(s.weight) FILTER (WHERE s.score IS NOT NULL), 0) AS composite,
			   coalesce(sum(s.weight) FILTER (WHERE s.score IS NOT NULL), 0) / nullif(sum(s.weight), 0) AS coverage
		  FROM kpi.scorecard_item_scores(
				ARRAY(SELECT e.day FROM unnest(scorecard_snapshots.ends) e(day)
					  UNION
					  SELECT e.day - scorecard_snapshots.days FROM unnest(scorecard_snapshots.ends) e(day)),
				scorecard_snapshots.days, scorecard_snapshots.card) s
		 GROUP BY s.period_end, s.agent_id, s.login, s.team, s.scorecard
	), ranked AS (
		-- Ranks among the agents with a composite, per window and scorecard; rank() gives ties
		-- the same rank and skips the next ones (1, 1, 3).
		SELECT c.*,
			   rank() OVER (PARTITION BY c.period_end, c.scorecard, c.composite IS NULL
							ORDER BY c.composite DESC) AS rank,
			   rank() OVER (PARTITION BY c.period_end, c.scorecard, c.team, c.composite IS NULL
							ORDER BY c.composite DESC) AS team_rank,
			   cume_dist() OVER (PARTITION BY c.period_end, c.scorecard, c.composite IS NULL
								 ORDER BY c.composite) AS at_or_below,
			   count(*) OVER (PARTITION BY c.period_end, c.scorecard, c.team, c.composite IS NULL) AS team_size
		  FROM composites c
		 WHERE c.period_end = ANY (scorecard_snapshots.ends)
	)
	SELECT r.period_end, r.agent_id, r.login, r.team, r.scorecard, r.composite, r.coverage, g.grade,
		   CASE WHEN r.composite IS NOT NULL THEN r.rank END,
		   CASE WHEN r.composite IS NOT NULL THEN r.team_rank END,
		   CASE WHEN r.composite IS NOT NULL THEN round(100 * r.at_or_below::numeric, 2) END,
		   -- top 30 % of the team: fewer than 30 % of its ranked agents score strictly higher
		   r.composite IS NOT NULL AND 10 * (r.team_rank - 1) < 3 * r.team_size,
		   p.composite,
		   r.composite - p.composite
	  FROM ranked r
	  LEFT JOIN LATERAL (
			SELECT b.grade FROM kpi.grade_bands b
			 WHERE b.scorecard = r.scorecard AND b.min_score <= r.composite
			 ORDER BY b.min_score DESC LIMIT 1) g ON true
	  LEFT JOIN composites p
			 ON p.period_end = r.period_end - scorecard_snapshots.days
			AND p.agent_id = r.agent_id AND p.scorecard = r.scorecard
	 ORDER BY r.period_end, r.scorecard, r.composite DESC NULLS LAST, r.agent_id;
END;
COMMENT ON FUNCTION kpi.scorecard_snapshots(date[], int, text) IS
	'building block of the scorecards: for each window of days ending on a date of ends, one row per agent with the '
	'composite of scorecard card (NULL: each agent''s role scorecard, ranked among the agents of that role), coverage, '
	'grade, ranks, percentile, top30 and the composite of the equal window just before';

-- Reports ----------------------------------------------------------------------------------------

CREATE FUNCTION kpi.scorecard_check("from" date, "to" date, scorecard text) RETURNS void
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF "from" > "to" THEN
		RAISE EXCEPTION 'period from % to % is empty', "from", "to"
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A scorecard covers the days from "from" to "to", both included.',
				  HINT = 'Pass the first day first, e.g. kpi.scorecard(current_date - 28, current_date - 1, ''presale'').';
	END IF;
	IF NOT EXISTS (SELECT FROM kpi.scorecards s WHERE s.scorecard = scorecard_check.scorecard) THEN
		RAISE EXCEPTION 'scorecard "%" does not exist', scorecard
			USING ERRCODE = 'undefined_object',
				  HINT = 'SELECT scorecard, description FROM kpi.scorecards lists them.';
	END IF;
END
$$;
COMMENT ON FUNCTION kpi.scorecard_check(date, date, text) IS
	'raises a clear error for an empty period or an unknown scorecard (used by kpi.scorecard and kpi.scorecard_detail)';

CREATE FUNCTION kpi.scorecard_detail("from" date, "to" date, scorecard text)
	RETURNS TABLE (agent_id int, metric text, value double precision, weight numeric, floor numeric,
		target numeric, score numeric, benchmark numeric, prev_value double precision, change double precision,
		bands jsonb, scored_value double precision)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM kpi.scorecard_check("from", "to", scorecard);
	RETURN QUERY
	WITH both_periods AS MATERIALIZED (
		SELECT * FROM kpi.scorecard_item_scores(ARRAY["to", "from" - 1], "to" - "from" + 1, scorecard_detail.scorecard)
	)
	SELECT c.agent_id, c.metric, c.value, c.weight, i.floor, i.target, c.score, b.value,
		   p.value, c.value - p.value, i.bands, c.scored_value
	  FROM both_periods c
	  JOIN kpi.scorecards s ON s.scorecard = c.scorecard
	  JOIN kpi.scorecard_items i ON i.scorecard = c.scorecard AND i.metric = c.metric
	  LEFT JOIN kpi.benchmarks b ON b.metric = c.metric AND b.scope = s.benchmark_scope
	  LEFT JOIN both_periods p
			 ON p.period_end = "from" - 1 AND p.agent_id = c.agent_id AND p.metric = c.metric
	 WHERE c.period_end = "to"
	 ORDER BY c.agent_id, c.weight DESC, c.metric;
END
$$;
COMMENT ON FUNCTION kpi.scorecard_detail(date, date, text) IS
	'one row per agent (of kpi.agent_metrics) and item of the scorecard over days from..to: the metric''s value as '
	'agent_metrics reports it, weight, floor, target, score 0..100 (NULL without a value), the benchmark of the '
	'scorecard''s benchmark_scope, the value over the equal period just before and the change; then the item''s bands '
	'and the value scored (the Wilson bound for proportion metrics under score_on = wilson, else value)';

CREATE FUNCTION kpi.scorecard("from" date, "to" date, scorecard text)
	RETURNS TABLE (agent_id int, login text, team text, composite numeric, coverage numeric, grade text,
		rank bigint, team_rank bigint, percentile numeric, top30 boolean,
		prev_composite numeric, composite_change numeric)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM kpi.scorecard_check("from", "to", scorecard);
	RETURN QUERY
	SELECT s.agent_id, s.login, s.team, s.composite, s.coverage, s.grade, s.rank, s.team_rank,
		   s.percentile, s.top30, s.prev_composite, s.composite_change
	  FROM kpi.scorecard_snapshots(ARRAY["to"], "to" - "from" + 1, scorecard.scorecard) s
	 ORDER BY s.composite DESC NULLS LAST, s.agent_id;
END
$$;
COMMENT ON FUNCTION kpi.scorecard(date, date, text) IS
	'one row per agent (of kpi.agent_metrics) scored with the scorecard over days from..to, best first: composite '
	'(sum of weight x score / sum of weight over items with a value), coverage (that weight''s share), grade, rank '
	'and team_rank (rank(): ties share a rank), percentile, top30, and the composite over the equal period just before';

CREATE VIEW kpi.agent_scorecard WITH (security_invoker = true) AS
SELECT s.agent_id, s.login, s.team, s.scorecard, s.period_end - 27 AS period_start, s.period_end,
	   s.composite, s.coverage, s.grade, s.rank, s.team_rank, s.percentile, s.top30,
	   s.prev_composite, s.composite_change
  FROM kpi.scorecard_snapshots(ARRAY[current_date - 1], 28, NULL) s;

-- The daily snapshots. SPEC names a materialized view, but PostgreSQL can only recompute one
-- whole, which costs one window per day of history on every nightly refresh (about 55 ms a day
-- for 200 agents: a minute for three years). As a table it is kept up to date day by day:
-- kpi.refresh_scorecard_history() recomputes only the snapshots whose two 28-day windows hold
-- a changed day of kpi.agent_days, the days that are new (yesterday, once a day) and, after an
-- edit of the agents or the scorecards' configuration, every day. Readers see the same rows
-- as a recomputation would give, never a half-written day (one transaction).
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

-- What the history must redo: days of kpi.agent_days whose cells changed, or -infinity for
-- "everything" (agents or scorecard configuration edited). Appended by statement triggers,
-- consumed by kpi.refresh_scorecard_history().
CREATE TABLE kpi.changes_agent_days (day date NOT NULL);
COMMENT ON TABLE kpi.changes_agent_days IS
	'change log of kpi.scorecard_history: days of kpi.agent_days that changed since the history was last refreshed; '
	'-infinity means every day (internal)';

-- SECURITY DEFINER: these run as whoever writes agent_days (a writer's kpi.refresh()) or edits
-- the configuration, and append one fixed kind of row to a log that no role is granted.
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
CREATE TRIGGER log_inserts AFTER INSERT ON kpi.agent_days REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agent_days();
CREATE TRIGGER log_updates AFTER UPDATE ON kpi.agent_days REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agent_days();
CREATE TRIGGER log_deletes AFTER DELETE ON kpi.agent_days REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION kpi.log_changed_agent_days();

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

-- Comments of the two scorecard relations, column by column (their columns are the same).
DO $$
DECLARE
	rel text;
BEGIN
	FOREACH rel IN ARRAY ARRAY['kpi.agent_scorecard', 'kpi.scorecard_history'] LOOP
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
COMMENT ON VIEW kpi.agent_scorecard IS
	'each agent scored with the scorecard of its role over the 28 days ending yesterday (current_date - 28 .. current_date - 1)';
COMMENT ON COLUMN kpi.agent_scorecard.period_start IS 'first day of the period (current_date - 28)';
COMMENT ON COLUMN kpi.agent_scorecard.period_end IS 'last day of the period (yesterday)';
COMMENT ON TABLE kpi.scorecard_history IS
	'daily snapshots: for each day from the first day of kpi.agent_days to yesterday, each agent scored with its role '
	'scorecard over the 28 days ending that day; kept up to date by kpi.refresh_scorecard_history() (kpi.refresh() '
	'calls it), which redoes only the days that changed';
COMMENT ON COLUMN kpi.scorecard_history.day IS 'the snapshot''s day: the last of its 28 days';

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
