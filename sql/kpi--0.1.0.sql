-- kpi: customer-service KPIs inside PostgreSQL.
--
-- This install script is assembled by the Makefile from the ordered files in sql/parts/:
-- 10 shared types and helpers, 1x the C building blocks, 20 the canonical tables, 30 and later
-- the derived facts, refresh, reports and scorecards.

\echo Use "CREATE EXTENSION kpi" to load this file. \quit

CREATE SCHEMA kpi;
COMMENT ON SCHEMA kpi IS 'kpi: customer-service agent KPIs, daily facts and scorecards';
-- Shared types and helpers used by the tables and building blocks below.

CREATE TYPE kpi.sender AS ENUM ('customer', 'agent', 'auto', 'system');
COMMENT ON TYPE kpi.sender IS
	'who sent a message: customer, agent (a person), auto (auto-reply or bot: never a reply), system';

CREATE FUNCTION kpi.timezone_check(name text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'kpi_timezone_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.timezone_check(text) IS
	'true for a time zone name PostgreSQL knows; raises an error naming the zone otherwise';
-- The latency sketch (SPEC 4.2, src/sketch.c): a log-bucketed histogram of durations with a
-- guaranteed relative error on quantiles (kpi.error, 0.99 %) and exact count, sum, min and max.
--
-- Two steps, as in Timescale Toolkit: build sketches with kpi.sketch_agg (float8 seconds or
-- interval), merge them with kpi.rollup (also in sliding windows: it has an exact inverse), then
-- read them with the accessors.  The state type of both aggregates is kpi.sketch itself, whose
-- text form round-trips exactly, so a distributed planner can combine partial sketches.

CREATE TYPE kpi.sketch;

CREATE FUNCTION kpi.sketch_in(cstring) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_in(cstring) IS
	'kpi.sketch text input: v1;n=<count>;sum_ns=<integer>;min=<s>;max=<s>;b=<bucket>:<count>,... (every field checked)';

CREATE FUNCTION kpi.sketch_out(kpi.sketch) RETURNS cstring
	AS 'MODULE_PATHNAME', 'kpi_sketch_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_out(kpi.sketch) IS
	'kpi.sketch text output; kpi.sketch_in reads it back exactly';

CREATE FUNCTION kpi.sketch_recv(internal) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_recv(internal) IS
	'kpi.sketch binary input (COPY BINARY, binary protocol); every byte checked';

CREATE FUNCTION kpi.sketch_send(kpi.sketch) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_sketch_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_send(kpi.sketch) IS
	'kpi.sketch binary output: version byte, n, sum, min, max, then (bucket, count) pairs';

CREATE TYPE kpi.sketch (
	INPUT = kpi.sketch_in,
	OUTPUT = kpi.sketch_out,
	RECEIVE = kpi.sketch_recv,
	SEND = kpi.sketch_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE kpi.sketch IS
	'latency sketch: log-bucketed durations (seconds) with quantiles within 0.99 % and exact count, sum, min, max';

-- Aggregate support ---------------------------------------------------------------------------

CREATE FUNCTION kpi.sketch_add(state kpi.sketch, seconds float8) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_add'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_add(kpi.sketch, float8) IS
	'transition of kpi.sketch_agg(float8): adds a duration in seconds; a NULL duration is skipped';

CREATE FUNCTION kpi.sketch_add(state kpi.sketch, duration interval) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_add_interval'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_add(kpi.sketch, interval) IS
	'transition of kpi.sketch_agg(interval): adds a duration (as extract(epoch from ...)); NULL is skipped';

CREATE FUNCTION kpi.sketch_merge(state kpi.sketch, other kpi.sketch) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_merge'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_merge(kpi.sketch, kpi.sketch) IS
	'merges two sketches (bucket-wise sum): transition of kpi.rollup, combine function of both aggregates';

CREATE FUNCTION kpi.sketch_final(state kpi.sketch) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_final(kpi.sketch) IS
	'final function of kpi.sketch_agg and kpi.rollup: the canonical (compact, deterministic) form';

CREATE FUNCTION kpi.sketch_window_add(state internal, other kpi.sketch) RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_sketch_window_add'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_window_add(internal, kpi.sketch) IS
	'moving-aggregate transition of kpi.rollup (sliding window frames)';

CREATE FUNCTION kpi.sketch_window_remove(state internal, other kpi.sketch) RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_sketch_window_remove'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_window_remove(internal, kpi.sketch) IS
	'inverse transition of kpi.rollup: removes the oldest sketch of the frame exactly (never gives up)';

CREATE FUNCTION kpi.sketch_window_final(state internal) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_window_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_window_final(internal) IS
	'final function of kpi.rollup in a sliding window: the frame''s sketch, NULL for an empty frame';

-- Aggregates ----------------------------------------------------------------------------------

CREATE AGGREGATE kpi.sketch_agg(seconds float8) (
	SFUNC = kpi.sketch_add,
	STYPE = kpi.sketch,
	FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.sketch_agg(float8) IS
	'latency sketch of durations in seconds; NULLs are ignored, an empty group gives NULL';

CREATE AGGREGATE kpi.sketch_agg(duration interval) (
	SFUNC = kpi.sketch_add,
	STYPE = kpi.sketch,
	FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.sketch_agg(interval) IS
	'latency sketch of intervals (as extract(epoch from ...) seconds); NULLs are ignored, an empty group gives NULL';

CREATE AGGREGATE kpi.rollup(kpi.sketch) (
	SFUNC = kpi.sketch_merge,
	STYPE = kpi.sketch,
	FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge,
	MSFUNC = kpi.sketch_window_add,
	MINVFUNC = kpi.sketch_window_remove,
	MSTYPE = internal,
	MSSPACE = 18000,
	MFINALFUNC = kpi.sketch_window_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.rollup(kpi.sketch) IS
	'merges sketches; in a sliding window frame each step adds and removes one row exactly';

-- Accessors -----------------------------------------------------------------------------------

CREATE FUNCTION kpi.approx_percentile(q float8, sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_approx_percentile'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.approx_percentile(float8, kpi.sketch) IS
	'nearest-rank quantile q (0..1) in seconds, like percentile_disc, within kpi.error relative; q = 0 and 1 give min and max exactly';

CREATE FUNCTION kpi.approx_percentiles(q float8[], sketch kpi.sketch) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'kpi_sketch_approx_percentiles'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.approx_percentiles(float8[], kpi.sketch) IS
	'approx_percentile for each element of q, in one pass; NULL elements give NULL';

CREATE FUNCTION kpi.share_within(sketch kpi.sketch, seconds float8) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_share_within'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.share_within(kpi.sketch, float8) IS
	'share (0..1) of values <= seconds; the bucket holding the threshold counts as within, so values up to 2 % above it may be included';

CREATE FUNCTION kpi.num_vals(sketch kpi.sketch) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_sketch_num_vals'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.num_vals(kpi.sketch) IS 'number of values in the sketch (exact)';

CREATE FUNCTION kpi.mean(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_mean'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.mean(kpi.sketch) IS
	'mean in seconds: the exact nanosecond sum over the count, correctly rounded';

CREATE FUNCTION kpi.min_val(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_min_val'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.min_val(kpi.sketch) IS 'smallest value in seconds (exact)';

CREATE FUNCTION kpi.max_val(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_max_val'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.max_val(kpi.sketch) IS 'largest value in seconds (exact)';

CREATE FUNCTION kpi.error(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_error'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.error(kpi.sketch) IS
	'relative error bound of the sketch''s quantiles (0.0099018 for format v1)';
-- The business calendar (src/calendar.c): kpi.business_hours and kpi.business_seconds.

CREATE TYPE kpi.business_hours;

CREATE FUNCTION kpi.business_hours_in(cstring) RETURNS kpi.business_hours
	AS 'MODULE_PATHNAME', 'kpi_business_hours_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_in(cstring) IS
	'parses business hours such as ''Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07''';

CREATE FUNCTION kpi.business_hours_out(kpi.business_hours) RETURNS cstring
	AS 'MODULE_PATHNAME', 'kpi_business_hours_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_out(kpi.business_hours) IS
	'canonical text of business hours; it parses back to the same value';

CREATE FUNCTION kpi.business_hours_recv(internal) RETURNS kpi.business_hours
	AS 'MODULE_PATHNAME', 'kpi_business_hours_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_recv(internal) IS
	'binary input of business hours; refuses any value that is not canonical';

CREATE FUNCTION kpi.business_hours_send(kpi.business_hours) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_business_hours_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_send(kpi.business_hours) IS
	'binary output of business hours (format version 1)';

CREATE TYPE kpi.business_hours (
	INPUT = kpi.business_hours_in,
	OUTPUT = kpi.business_hours_out,
	RECEIVE = kpi.business_hours_recv,
	SEND = kpi.business_hours_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE kpi.business_hours IS
	'a weekly working schedule with holidays in one time zone, e.g. ''Mon-Fri 09:00-12:00 13:00-18:00; tz=Europe/Paris; holidays=2026-12-25''';

CREATE FUNCTION kpi.business_seconds(from_ts timestamptz, to_ts timestamptz, hours kpi.business_hours)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_business_hours_seconds'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_seconds(timestamptz, timestamptz, kpi.business_hours) IS
	'real seconds of [from_ts, to_ts) whose local time is working time on a non-holiday date (negative when from_ts > to_ts)';
-- kpi.proportion (SPEC 4.3): hits among trials, its rate and Wilson interval, and the
-- aggregate kpi.proportion_agg with combine and exact inverse functions for rolling windows.
-- The C side and the choice of a fixed 16-byte value are explained in src/proportion.c.

CREATE TYPE kpi.proportion;

CREATE FUNCTION kpi.proportion_in(cstring) RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_in(cstring) IS
	'text input of kpi.proportion: hits/trials, e.g. ''3/10''';

CREATE FUNCTION kpi.proportion_out(kpi.proportion) RETURNS cstring
	AS 'MODULE_PATHNAME', 'kpi_proportion_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_out(kpi.proportion) IS
	'text output of kpi.proportion: hits/trials';

CREATE FUNCTION kpi.proportion_recv(internal) RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_recv(internal) IS
	'binary input of kpi.proportion: hits and trials as big-endian bigints, validated';

CREATE FUNCTION kpi.proportion_send(kpi.proportion) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_proportion_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_send(kpi.proportion) IS
	'binary output of kpi.proportion: hits and trials as big-endian bigints';

CREATE TYPE kpi.proportion (
	INPUT = kpi.proportion_in,
	OUTPUT = kpi.proportion_out,
	RECEIVE = kpi.proportion_recv,
	SEND = kpi.proportion_send,
	INTERNALLENGTH = 16,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE kpi.proportion IS
	'hits among trials (0 <= hits <= trials), written hits/trials; see kpi.rate, kpi.wilson_lower, kpi.wilson_upper';

-- Constructor and accessors ------------------------------------------------------------------

CREATE FUNCTION kpi.proportion(hits bigint, trials bigint) RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_make'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion(bigint, bigint) IS
	'the proportion hits/trials; an error unless 0 <= hits <= trials';

CREATE FUNCTION kpi.hits(p kpi.proportion) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_proportion_hits'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.hits(kpi.proportion) IS 'the hits (numerator) of a proportion';

CREATE FUNCTION kpi.trials(p kpi.proportion) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_proportion_trials'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.trials(kpi.proportion) IS 'the trials (denominator) of a proportion';

CREATE FUNCTION kpi.rate(p kpi.proportion) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_proportion_rate'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.rate(kpi.proportion) IS
	'hits / trials as float8; NULL when trials = 0';

CREATE FUNCTION kpi.wilson_lower(p kpi.proportion) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_proportion_wilson_lower'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.wilson_lower(kpi.proportion) IS
	'lower end of the Wilson score interval (z = 1.96); 0 when hits = 0; NULL when trials = 0';

CREATE FUNCTION kpi.wilson_upper(p kpi.proportion) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_proportion_wilson_upper'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.wilson_upper(kpi.proportion) IS
	'upper end of the Wilson score interval (z = 1.96); 1 when hits = trials; NULL when trials = 0';

-- Equality -----------------------------------------------------------------------------------
-- Two proportions are equal when both counts are (1/2 <> 2/4: same rate, different evidence).
-- A hash class makes DISTINCT, GROUP BY, UNION and hash joins work. There is deliberately no
-- btree class: neither pair order nor rate order is obviously right; ORDER BY kpi.rate(p).
-- The two operators live in pg_catalog, as a built-in type's would: `p = q`, IS DISTINCT FROM,
-- NULLIF and IN then work whatever the search_path (reports never put kpi on it), and no schema
-- earlier on a search_path can shadow them. Their argument types are kpi's own, so they cannot
-- collide with anything, and DROP EXTENSION removes them.

CREATE FUNCTION kpi.proportion_eq(kpi.proportion, kpi.proportion) RETURNS boolean
	AS 'MODULE_PATHNAME', 'kpi_proportion_eq'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION kpi.proportion_eq(kpi.proportion, kpi.proportion) IS
	'true when both hits and trials are equal (support of =)';

CREATE FUNCTION kpi.proportion_ne(kpi.proportion, kpi.proportion) RETURNS boolean
	AS 'MODULE_PATHNAME', 'kpi_proportion_ne'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION kpi.proportion_ne(kpi.proportion, kpi.proportion) IS
	'true when hits or trials differ (support of <>)';

CREATE FUNCTION kpi.proportion_hash(kpi.proportion) RETURNS integer
	AS 'MODULE_PATHNAME', 'kpi_proportion_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_hash(kpi.proportion) IS
	'hash of a proportion (hash operator class support)';

CREATE FUNCTION kpi.proportion_hash_extended(kpi.proportion, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_proportion_hash_extended'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_hash_extended(kpi.proportion, bigint) IS
	'seeded 64-bit hash of a proportion (hash operator class support)';

CREATE OPERATOR pg_catalog.= (
	LEFTARG = kpi.proportion,
	RIGHTARG = kpi.proportion,
	FUNCTION = kpi.proportion_eq,
	COMMUTATOR = OPERATOR(pg_catalog.=),
	NEGATOR = OPERATOR(pg_catalog.<>),
	RESTRICT = eqsel,
	JOIN = eqjoinsel,
	HASHES
);
COMMENT ON OPERATOR pg_catalog.= (kpi.proportion, kpi.proportion) IS 'equal hits and equal trials';

CREATE OPERATOR pg_catalog.<> (
	LEFTARG = kpi.proportion,
	RIGHTARG = kpi.proportion,
	FUNCTION = kpi.proportion_ne,
	COMMUTATOR = OPERATOR(pg_catalog.<>),
	NEGATOR = OPERATOR(pg_catalog.=),
	RESTRICT = neqsel,
	JOIN = neqjoinsel
);
COMMENT ON OPERATOR pg_catalog.<> (kpi.proportion, kpi.proportion) IS 'different hits or different trials';

CREATE OPERATOR CLASS kpi.proportion_hash_ops
	DEFAULT FOR TYPE kpi.proportion USING hash AS
		OPERATOR 1 pg_catalog.= (kpi.proportion, kpi.proportion),
		FUNCTION 1 kpi.proportion_hash(kpi.proportion),
		FUNCTION 2 kpi.proportion_hash_extended(kpi.proportion, bigint);
COMMENT ON OPERATOR CLASS kpi.proportion_hash_ops USING hash IS
	'equality of kpi.proportion for DISTINCT, GROUP BY and hash joins';

-- Aggregates ---------------------------------------------------------------------------------
-- State type kpi.proportion (not internal, SPEC 1), initial condition '0/0' and strict support
-- functions: a row with a NULL argument is skipped, an empty group or window gives 0/0, whose
-- rate and Wilson bounds are NULL. A sum beyond bigint is an error, never a wraparound.

CREATE FUNCTION kpi.proportion_accum(state kpi.proportion, hits bigint, trials bigint)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_accum'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_accum(kpi.proportion, bigint, bigint) IS
	'transition function of kpi.proportion_agg(bigint, bigint): adds one checked row';

CREATE FUNCTION kpi.proportion_retract(state kpi.proportion, hits bigint, trials bigint)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_retract'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_retract(kpi.proportion, bigint, bigint) IS
	'exact inverse of kpi.proportion_accum (moving-aggregate support): removes one row';

CREATE FUNCTION kpi.proportion_combine(state kpi.proportion, other kpi.proportion)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_combine'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_combine(kpi.proportion, kpi.proportion) IS
	'adds two proportions (hits + hits, trials + trials): combine function of kpi.proportion_agg';

CREATE FUNCTION kpi.proportion_uncombine(state kpi.proportion, other kpi.proportion)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_uncombine'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_uncombine(kpi.proportion, kpi.proportion) IS
	'exact inverse of kpi.proportion_combine (moving-aggregate support): subtracts a proportion';

CREATE AGGREGATE kpi.proportion_agg(hits bigint, trials bigint) (
	SFUNC = kpi.proportion_accum,
	STYPE = kpi.proportion,
	INITCOND = '0/0',
	COMBINEFUNC = kpi.proportion_combine,
	MSFUNC = kpi.proportion_accum,
	MINVFUNC = kpi.proportion_retract,
	MSTYPE = kpi.proportion,
	MINITCOND = '0/0',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.proportion_agg(bigint, bigint) IS
	'sum(hits)/sum(trials) as a kpi.proportion; rows with a NULL are skipped; no rows give 0/0; exact inverse for window frames';

CREATE AGGREGATE kpi.proportion_agg(kpi.proportion) (
	SFUNC = kpi.proportion_combine,
	STYPE = kpi.proportion,
	INITCOND = '0/0',
	COMBINEFUNC = kpi.proportion_combine,
	MSFUNC = kpi.proportion_combine,
	MINVFUNC = kpi.proportion_uncombine,
	MSTYPE = kpi.proportion,
	MINITCOND = '0/0',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.proportion_agg(kpi.proportion) IS
	'merges proportions (sums hits and trials); NULLs are skipped; no rows give 0/0; exact inverse for window frames';
-- Reply turns (SPEC 3.1, 4.1): the composite kpi.turn and the aggregate kpi.reply_turns, which
-- turns one conversation's messages into its response turns. C code in src/turns.c.

CREATE TYPE kpi.turn AS (
	opened_at timestamptz,
	answered_at timestamptz,
	agent_id int,
	answered boolean,
	is_first boolean,
	response_s double precision
);
COMMENT ON TYPE kpi.turn IS
	'one response turn (响应): opened by a customer message, answered by the next agent message; '
	'answered_at, agent_id and response_s are NULL for an unanswered turn';
COMMENT ON COLUMN kpi.turn.opened_at IS 'the first customer message of the turn';
COMMENT ON COLUMN kpi.turn.answered_at IS 'the agent message that answered it; NULL if unanswered';
COMMENT ON COLUMN kpi.turn.agent_id IS
	'the answering agent; NULL if unanswered (the refresh charges the conversation''s agent) '
	'or if the answering message had no agent_id';
COMMENT ON COLUMN kpi.turn.answered IS 'true when an agent message answered the turn';
COMMENT ON COLUMN kpi.turn.is_first IS 'true for the first turn of the conversation (首次响应)';
COMMENT ON COLUMN kpi.turn.response_s IS
	'answered_at - opened_at in seconds, exact to the microsecond; NULL if unanswered';

CREATE FUNCTION kpi.reply_turns_trans(internal, bigint, timestamptz, kpi.sender, int)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_turns_trans'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.reply_turns_trans(internal, bigint, timestamptz, kpi.sender, int) IS
	'transition function of kpi.reply_turns: appends one message record (not strict: NULL '
	'message_id, sent_at or sender is an error)';

CREATE FUNCTION kpi.reply_turns_final(internal) RETURNS kpi.turn[]
	AS 'MODULE_PATHNAME', 'kpi_turns_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.reply_turns_final(internal) IS
	'final function of kpi.reply_turns: sorts the messages if they arrived out of order and walks '
	'them once into the turns';

CREATE FUNCTION kpi.reply_turns_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_turns_combine'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.reply_turns_combine(internal, internal) IS
	'combine function of kpi.reply_turns: appends the second state''s messages to the first';

CREATE FUNCTION kpi.reply_turns_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_turns_serialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.reply_turns_serialize(internal) IS
	'serial function of kpi.reply_turns: the state as bytes (format version 1, see src/turns.h)';

CREATE FUNCTION kpi.reply_turns_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_turns_deserialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.reply_turns_deserialize(bytea, internal) IS
	'deserial function of kpi.reply_turns: checks every byte of a state and rebuilds it';

CREATE AGGREGATE kpi.reply_turns(message_id bigint, sent_at timestamptz, sender kpi.sender,
								 agent_id int) (
	SFUNC = kpi.reply_turns_trans,
	STYPE = internal,
	SSPACE = 512,
	FINALFUNC = kpi.reply_turns_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = kpi.reply_turns_combine,
	SERIALFUNC = kpi.reply_turns_serialize,
	DESERIALFUNC = kpi.reply_turns_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.reply_turns(bigint, timestamptz, kpi.sender, int) IS
	'the response turns of one conversation''s messages (SPEC 3.1), in order, as kpi.turn[]: a '
	'customer message opens a turn when none is open, the next agent message answers and closes '
	'it; auto and system messages never open, answer or close one; an agent message with no open '
	'turn is ignored; a turn still open at the end is unanswered. Input in any order: messages are '
	'ordered by (sent_at, message_id). A conversation without turns gives an empty array, no rows '
	'give NULL. A NULL message_id, sent_at or sender, or an infinite sent_at, is an error '
	'(SQLSTATE 22004 or 22008), never dropped silently. An agent message with a NULL agent_id '
	'still answers its turn, credited to NULL (kpi.messages refuses such rows: '
	'messages_agent_has_agent_id); agent_id on any other message is ignored.';

CREATE FUNCTION kpi.reply_turns_decode(state bytea) RETURNS kpi.turn[]
	AS 'MODULE_PATHNAME', 'kpi_turns_decode'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.reply_turns_decode(bytea) IS
	'the turns held by a serialized kpi.reply_turns state (the bytes parallel workers pass on), '
	'after checking every byte; for tests and debugging';
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
-- Derived data, filled by kpi.refresh(): reply turns, order attribution and the charged agent of
-- complaints and ratings (one row per event), and the daily facts per shop, agent and day.
--
-- Sums of durations are kept as integer microseconds, so a day's facts are exact whatever order
-- the rows were added in, and a period's figures are sums of days.

CREATE FUNCTION kpi.microseconds(duration interval) RETURNS bigint
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN (extract(epoch FROM duration) * 1000000)::bigint;
COMMENT ON FUNCTION kpi.microseconds(interval) IS
	'an interval as whole microseconds (days count as 24 hours: only use it on differences of timestamptz)';

CREATE TABLE kpi.turns (
	shop_id int NOT NULL,
	conversation_id bigint NOT NULL,
	turn_no int NOT NULL,
	opened_at timestamptz NOT NULL,
	answered_at timestamptz,
	agent_id int,
	answered boolean NOT NULL,
	is_first boolean NOT NULL,
	response_s double precision,
	business_response_s double precision,
	day date NOT NULL,
	PRIMARY KEY (conversation_id, turn_no)
);
COMMENT ON TABLE kpi.turns IS
	'one row per response turn (响应): a customer question and the first agent reply to it; filled by kpi.refresh()';
COMMENT ON COLUMN kpi.turns.turn_no IS 'position of the turn in its conversation, from 1';
COMMENT ON COLUMN kpi.turns.opened_at IS 'the first customer message of the turn';
COMMENT ON COLUMN kpi.turns.answered_at IS 'the first agent message after it; NULL when unanswered';
COMMENT ON COLUMN kpi.turns.agent_id IS
	'the agent credited: who answered, or for an unanswered turn the conversation''s agent (NULL if none)';
COMMENT ON COLUMN kpi.turns.answered IS 'an agent replied (auto replies never count)';
COMMENT ON COLUMN kpi.turns.is_first IS 'the first turn of its conversation: gives the first response time';
COMMENT ON COLUMN kpi.turns.response_s IS 'answered_at - opened_at in seconds; NULL when unanswered';
COMMENT ON COLUMN kpi.turns.business_response_s IS
	'the same interval counted in the answering agent''s business hours; equals response_s without a calendar';
COMMENT ON COLUMN kpi.turns.day IS 'the day of opened_at in the shop''s time zone';
CREATE INDEX turns_agent_day ON kpi.turns (agent_id, day);

CREATE VIEW kpi.shop_zones WITH (security_invoker = true) AS
SELECT s.shop_id, coalesce(s.timezone, (SELECT st.timezone FROM kpi.settings st)) AS timezone
  FROM kpi.shops s;
COMMENT ON VIEW kpi.shop_zones IS 'the time zone that defines each shop''s days';
COMMENT ON COLUMN kpi.shop_zones.timezone IS 'shops.timezone, else settings.timezone';

CREATE TABLE kpi.order_attribution (
	order_id bigint PRIMARY KEY,
	shop_id int NOT NULL,
	conversation_id bigint NOT NULL,
	agent_id int,
	day date NOT NULL
);
COMMENT ON TABLE kpi.order_attribution IS
	'orders credited to a conversation (询单): the customer''s latest conversation in the shop opened within '
	'settings.attribution_window before the order (ties: the larger conversation_id); silent orders have no row';
COMMENT ON COLUMN kpi.order_attribution.agent_id IS 'that conversation''s agent; NULL credits nobody';
COMMENT ON COLUMN kpi.order_attribution.day IS 'the day the conversation opened, in the shop''s time zone';
CREATE INDEX order_attribution_agent ON kpi.order_attribution (agent_id, day);

CREATE TABLE kpi.feedback_charges (
	source text NOT NULL,
	id bigint NOT NULL,
	shop_id int NOT NULL,
	agent_id int,
	day date NOT NULL,
	kind text NOT NULL,
	score smallint,
	PRIMARY KEY (source, id)
);
COMMENT ON TABLE kpi.feedback_charges IS
	'every complaint and rating with the agent it is charged to: its own agent_id, else its conversation''s '
	'agent, else the agent its order is attributed to; NULL counts at shop level only';
COMMENT ON COLUMN kpi.feedback_charges.source IS 'complaint or rating';
COMMENT ON COLUMN kpi.feedback_charges.id IS 'complaint_id or rating_id';
COMMENT ON COLUMN kpi.feedback_charges.day IS 'the day filed or rated, in the shop''s time zone';
COMMENT ON COLUMN kpi.feedback_charges.kind IS 'complaint, csat, review or dsr_service';
COMMENT ON COLUMN kpi.feedback_charges.score IS 'the rating''s score 1..5; NULL for a complaint';
CREATE INDEX feedback_charges_agent_day ON kpi.feedback_charges (agent_id, day);
CREATE INDEX feedback_charges_shop_day ON kpi.feedback_charges (shop_id, day);

CREATE TABLE kpi.agent_days (
	shop_id int NOT NULL,
	agent_id int NOT NULL,
	day date NOT NULL,
	-- response (day of the turn's first customer message)
	turns bigint NOT NULL DEFAULT 0,
	answered_turns bigint NOT NULL DEFAULT 0,
	response_sla_hits bigint NOT NULL DEFAULT 0,
	response_us bigint NOT NULL DEFAULT 0,
	business_response_us bigint NOT NULL DEFAULT 0,
	first_turns bigint NOT NULL DEFAULT 0,
	first_answered bigint NOT NULL DEFAULT 0,
	first_response_sla_hits bigint NOT NULL DEFAULT 0,
	first_response_us bigint NOT NULL DEFAULT 0,
	response_sketch kpi.sketch,
	-- conversations (day opened)
	conversations bigint NOT NULL DEFAULT 0,
	closed_conversations bigint NOT NULL DEFAULT 0,
	handle_us bigint NOT NULL DEFAULT 0,
	resolved_conversations bigint NOT NULL DEFAULT 0,
	resolution_us bigint NOT NULL DEFAULT 0,
	fcr_conversations bigint NOT NULL DEFAULT 0,
	-- conversion (day the attributed conversation opened)
	inquiries bigint NOT NULL DEFAULT 0,
	ordering_customers bigint NOT NULL DEFAULT 0,
	paying_customers bigint NOT NULL DEFAULT 0,
	attributed_orders bigint NOT NULL DEFAULT 0,
	attributed_paid_orders bigint NOT NULL DEFAULT 0,
	paid_amount numeric NOT NULL DEFAULT 0,
	paid_items bigint NOT NULL DEFAULT 0,
	-- sales quality (refunds by day requested, attributed orders by day paid)
	sales_refunds bigint NOT NULL DEFAULT 0,
	sales_paid_orders bigint NOT NULL DEFAULT 0,
	-- after-sale handling (day requested; completions by day completed)
	handled_refunds bigint NOT NULL DEFAULT 0,
	handled_disputes bigint NOT NULL DEFAULT 0,
	completed_refunds bigint NOT NULL DEFAULT 0,
	merchant_completed_refunds bigint NOT NULL DEFAULT 0,
	completion_us bigint NOT NULL DEFAULT 0,
	-- complaints and ratings charged to the agent (day filed / rated)
	complaints bigint NOT NULL DEFAULT 0,
	csat_ratings bigint NOT NULL DEFAULT 0,
	csat_positive bigint NOT NULL DEFAULT 0,
	csat_score_sum bigint NOT NULL DEFAULT 0,
	review_ratings bigint NOT NULL DEFAULT 0,
	review_positive bigint NOT NULL DEFAULT 0,
	review_score_sum bigint NOT NULL DEFAULT 0,
	dsr_ratings bigint NOT NULL DEFAULT 0,
	dsr_score_sum bigint NOT NULL DEFAULT 0,
	-- presence (the part of the day inside the union of the agent's sessions)
	online_us bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (shop_id, agent_id, day)
);
-- Reports read an agent's days across shops (kpi.agent_metrics over a period).
CREATE INDEX agent_days_agent_day ON kpi.agent_days (agent_id, day);
COMMENT ON TABLE kpi.agent_days IS
	'daily facts: additive counts and sums per shop, agent and day; every period metric is a ratio of their sums';
COMMENT ON COLUMN kpi.agent_days.turns IS 'turns charged to the agent (answered by them, or unanswered in their conversations)';
COMMENT ON COLUMN kpi.agent_days.answered_turns IS 'turns the agent answered';
COMMENT ON COLUMN kpi.agent_days.response_sla_hits IS 'answered within settings.response_sla';
COMMENT ON COLUMN kpi.agent_days.response_us IS 'sum of response times of answered turns, microseconds';
COMMENT ON COLUMN kpi.agent_days.business_response_us IS 'sum of business-hours response times, microseconds';
COMMENT ON COLUMN kpi.agent_days.first_turns IS 'first turns of conversations charged to the agent';
COMMENT ON COLUMN kpi.agent_days.first_answered IS 'first turns the agent answered';
COMMENT ON COLUMN kpi.agent_days.first_response_sla_hits IS 'first turns answered within settings.first_response_sla';
COMMENT ON COLUMN kpi.agent_days.first_response_us IS 'sum of first response times, microseconds';
COMMENT ON COLUMN kpi.agent_days.response_sketch IS 'latency sketch of the answered turns'' response times (NULL if none)';
COMMENT ON COLUMN kpi.agent_days.conversations IS 'conversations assigned to the agent, opened that day (接待量)';
COMMENT ON COLUMN kpi.agent_days.closed_conversations IS 'of those, closed ones';
COMMENT ON COLUMN kpi.agent_days.handle_us IS 'sum of closed_at - opened_at of closed ones, microseconds';
COMMENT ON COLUMN kpi.agent_days.resolved_conversations IS 'of those, resolved ones';
COMMENT ON COLUMN kpi.agent_days.resolution_us IS 'sum of resolved_at - opened_at of resolved ones, microseconds';
COMMENT ON COLUMN kpi.agent_days.fcr_conversations IS
	'resolved ones after which the customer opened no other conversation in the shop within settings.fcr_window';
COMMENT ON COLUMN kpi.agent_days.inquiries IS 'distinct customers with a conversation of the agent opened that day (询单人数)';
COMMENT ON COLUMN kpi.agent_days.ordering_customers IS 'distinct customers with an order attributed to the agent and day';
COMMENT ON COLUMN kpi.agent_days.paying_customers IS 'distinct customers with a paid order attributed to the agent and day';
COMMENT ON COLUMN kpi.agent_days.attributed_orders IS 'orders attributed to the agent and day';
COMMENT ON COLUMN kpi.agent_days.attributed_paid_orders IS 'of those, paid ones';
COMMENT ON COLUMN kpi.agent_days.paid_amount IS 'amount of the paid ones';
COMMENT ON COLUMN kpi.agent_days.paid_items IS 'items of the paid ones';
COMMENT ON COLUMN kpi.agent_days.sales_refunds IS 'refunds requested that day on orders attributed to the agent';
COMMENT ON COLUMN kpi.agent_days.sales_paid_orders IS 'orders attributed to the agent and paid that day';
COMMENT ON COLUMN kpi.agent_days.handled_refunds IS 'refunds requested that day with the agent as handling agent';
COMMENT ON COLUMN kpi.agent_days.handled_disputes IS 'of those, disputed ones';
COMMENT ON COLUMN kpi.agent_days.completed_refunds IS 'refunds completed that day with the agent as handling agent';
COMMENT ON COLUMN kpi.agent_days.merchant_completed_refunds IS 'of those, completed by the merchant (自主完结)';
COMMENT ON COLUMN kpi.agent_days.completion_us IS 'sum of completed_at - requested_at of those, microseconds';
COMMENT ON COLUMN kpi.agent_days.complaints IS 'complaints charged to the agent, filed that day';
COMMENT ON COLUMN kpi.agent_days.csat_ratings IS 'csat ratings charged to the agent, rated that day';
COMMENT ON COLUMN kpi.agent_days.csat_positive IS 'of those, score 4 or 5';
COMMENT ON COLUMN kpi.agent_days.csat_score_sum IS 'sum of their scores';
COMMENT ON COLUMN kpi.agent_days.review_ratings IS 'review ratings charged to the agent, rated that day';
COMMENT ON COLUMN kpi.agent_days.review_positive IS 'of those, score 4 or 5 (好评)';
COMMENT ON COLUMN kpi.agent_days.review_score_sum IS 'sum of their scores';
COMMENT ON COLUMN kpi.agent_days.dsr_ratings IS 'dsr_service ratings charged to the agent, rated that day';
COMMENT ON COLUMN kpi.agent_days.dsr_score_sum IS 'sum of their scores';
COMMENT ON COLUMN kpi.agent_days.online_us IS 'microseconds of the day inside the union of the agent''s sessions in the shop';

CREATE TABLE kpi.shop_days (
	shop_id int NOT NULL,
	day date NOT NULL,
	orders_paid bigint NOT NULL DEFAULT 0,
	refunds_requested bigint NOT NULL DEFAULT 0,
	disputed_refunds bigint NOT NULL DEFAULT 0,
	complaints bigint NOT NULL DEFAULT 0,
	refunds_completed bigint NOT NULL DEFAULT 0,
	merchant_completed_refunds bigint NOT NULL DEFAULT 0,
	completion_us bigint NOT NULL DEFAULT 0,
	dsr_ratings bigint NOT NULL DEFAULT 0,
	dsr_score_sum bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (shop_id, day)
);
COMMENT ON TABLE kpi.shop_days IS 'daily facts per shop for the shop-level definitions (the platforms'' own)';
COMMENT ON COLUMN kpi.shop_days.orders_paid IS 'orders paid that day';
COMMENT ON COLUMN kpi.shop_days.refunds_requested IS 'refunds requested that day';
COMMENT ON COLUMN kpi.shop_days.disputed_refunds IS 'of those, disputed ones';
COMMENT ON COLUMN kpi.shop_days.complaints IS 'complaints filed that day';
COMMENT ON COLUMN kpi.shop_days.refunds_completed IS 'refunds completed that day';
COMMENT ON COLUMN kpi.shop_days.merchant_completed_refunds IS 'of those, completed by the merchant';
COMMENT ON COLUMN kpi.shop_days.completion_us IS 'sum of their completed_at - requested_at, microseconds';
COMMENT ON COLUMN kpi.shop_days.dsr_ratings IS 'dsr_service ratings rated that day';
COMMENT ON COLUMN kpi.shop_days.dsr_score_sum IS 'sum of their scores';

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
			pg_temp.refresh_shop_ranges;
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
		 WHERE a.order_id IN (SELECT r.order_id FROM pg_temp.refresh_orders r);
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
			 ELSE 'WHERE o.order_id IN (SELECT r.order_id FROM pg_temp.refresh_orders r)' END);
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
			 WHERE (f.source, f.id) IN (SELECT r.source, r.id FROM pg_temp.refresh_feedback r)
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
			 ELSE 'WHERE x.complaint_id IN (SELECT r.id FROM pg_temp.refresh_feedback r WHERE r.source = ''complaint'')' END,
		CASE WHEN rebuild THEN ''
			 ELSE 'WHERE x.rating_id IN (SELECT r.id FROM pg_temp.refresh_feedback r WHERE r.source = ''rating'')' END)
		INTO n USING rebuild;
	RETURN n;
END
$$;
COMMENT ON FUNCTION kpi.refresh_feedback_charges(boolean) IS
	'refresh step: recompute kpi.feedback_charges for the events in pg_temp.refresh_feedback (internal)';

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
BEGIN
	IF rebuild THEN
		DELETE FROM kpi.agent_days d
		 USING pg_temp.refresh_ranges r
		 WHERE r.grp = 'turns' AND d.shop_id = r.shop_id AND d.agent_id = r.agent_id
		   AND d.day BETWEEN r.first_day AND r.last_day;
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
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, turns, answered_turns,
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
	  JOIN kpi.turns t ON t.shop_id = r.shop_id AND t.agent_id = r.agent_id
					  AND t.day BETWEEN r.first_day AND r.last_day
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
		   response_sketch = excluded.response_sketch;

	-- Conversations, resolution, first-contact resolution and inquiries (day opened).
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, conversations, closed_conversations,
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
			  JOIN kpi.conversations c ON c.shop_id = r.shop_id AND c.agent_id = r.agent_id
									  AND c.opened_at >= r.lo AND c.opened_at < r.hi
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
		   inquiries = excluded.inquiries;

	-- Conversion: attributed orders on the day their conversation opened.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, ordering_customers, paying_customers,
		attributed_orders, attributed_paid_orders, paid_amount, paid_items)
	SELECT a.shop_id, a.agent_id, a.day,
		   count(DISTINCT o.customer_id),
		   count(DISTINCT o.customer_id) FILTER (WHERE o.paid_at IS NOT NULL),
		   count(*),
		   count(o.paid_at),
		   coalesce(sum(o.amount) FILTER (WHERE o.paid_at IS NOT NULL), 0),
		   coalesce(sum(o.items) FILTER (WHERE o.paid_at IS NOT NULL), 0)
	  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'conversion') r
	  JOIN kpi.order_attribution a ON a.shop_id = r.shop_id AND a.agent_id = r.agent_id
								  AND a.day BETWEEN r.first_day AND r.last_day
	  JOIN kpi.orders o ON o.order_id = a.order_id
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET ordering_customers = excluded.ordering_customers,
		   paying_customers = excluded.paying_customers,
		   attributed_orders = excluded.attributed_orders,
		   attributed_paid_orders = excluded.attributed_paid_orders,
		   paid_amount = excluded.paid_amount,
		   paid_items = excluded.paid_items;

	-- Sales quality: refunds on attributed orders by the day requested, attributed orders by
	-- the day paid.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, sales_refunds, sales_paid_orders)
	SELECT x.shop_id, x.agent_id, x.day, sum(x.refunds), sum(x.paid)
	  FROM (SELECT a.shop_id, a.agent_id, (e.requested_at AT TIME ZONE z.timezone)::date AS day,
				   r.first_day, r.last_day, 1 AS refunds, 0 AS paid
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'sales') r
			  JOIN kpi.refunds e ON e.shop_id = r.shop_id
								AND e.requested_at >= r.lo AND e.requested_at < r.hi
			  JOIN kpi.order_attribution a ON a.order_id = e.order_id AND a.agent_id = r.agent_id
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
			UNION ALL
			SELECT a.shop_id, a.agent_id, (o.paid_at AT TIME ZONE z.timezone)::date,
				   r.first_day, r.last_day, 0, 1
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'sales') r
			  JOIN kpi.orders o ON o.shop_id = r.shop_id AND o.paid_at >= r.lo AND o.paid_at < r.hi
			  JOIN kpi.order_attribution a ON a.order_id = o.order_id AND a.agent_id = r.agent_id
			  JOIN kpi.shop_zones z ON z.shop_id = o.shop_id) x
	 WHERE x.day BETWEEN x.first_day AND x.last_day
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET sales_refunds = excluded.sales_refunds,
		   sales_paid_orders = excluded.sales_paid_orders;

	-- After-sale handling: requests by the day requested, completions by the day completed.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, handled_refunds, handled_disputes,
		completed_refunds, merchant_completed_refunds, completion_us)
	SELECT x.shop_id, x.agent_id, x.day, sum(x.requested), sum(x.disputed), sum(x.completed),
		   sum(x.merchant), sum(x.completion_us)
	  FROM (SELECT e.shop_id, e.agent_id, (e.requested_at AT TIME ZONE z.timezone)::date AS day,
				   r.first_day, r.last_day, 1 AS requested, e.disputed::int AS disputed,
				   0 AS completed, 0 AS merchant, 0::bigint AS completion_us
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'handling') r
			  JOIN kpi.refunds e ON e.shop_id = r.shop_id AND e.agent_id = r.agent_id
								AND e.requested_at >= r.lo AND e.requested_at < r.hi
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
			UNION ALL
			SELECT e.shop_id, e.agent_id, (e.completed_at AT TIME ZONE z.timezone)::date,
				   r.first_day, r.last_day, 0, 0, 1, (e.completed_by = 'merchant')::int,
				   kpi.microseconds(e.completed_at - e.requested_at)
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'handling') r
			  JOIN kpi.refunds e ON e.shop_id = r.shop_id AND e.agent_id = r.agent_id
								AND e.completed_at >= r.lo AND e.completed_at < r.hi
			  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id) x
	 WHERE x.day BETWEEN x.first_day AND x.last_day
	 GROUP BY 1, 2, 3
	ON CONFLICT (shop_id, agent_id, day) DO UPDATE
	   SET handled_refunds = excluded.handled_refunds,
		   handled_disputes = excluded.handled_disputes,
		   completed_refunds = excluded.completed_refunds,
		   merchant_completed_refunds = excluded.merchant_completed_refunds,
		   completion_us = excluded.completion_us;

	-- Complaints and ratings charged to the agent (day filed or rated).
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, complaints, csat_ratings,
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
	  JOIN kpi.feedback_charges f ON f.shop_id = r.shop_id AND f.agent_id = r.agent_id
								 AND f.day BETWEEN r.first_day AND r.last_day
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
		   dsr_score_sum = excluded.dsr_score_sum;

	-- Online time: the union of the agent's sessions in the shop, cut at the shop's midnights.
	-- Only sessions that reach into the range matter to its days.
	INSERT INTO kpi.agent_days AS d (shop_id, agent_id, day, online_us)
	SELECT u.shop_id, u.agent_id, p.day,
		   sum(kpi.microseconds(least(upper(u.online), p.day_end) - greatest(lower(u.online), p.day_start)))
	  FROM (SELECT r.shop_id, r.agent_id, r.first_day, r.last_day,
				   unnest(range_agg(s.online)) AS online
			  FROM (SELECT * FROM pg_temp.refresh_ranges WHERE grp = 'online') r
			  JOIN kpi.agent_sessions s ON s.shop_id = r.shop_id AND s.agent_id = r.agent_id
									   AND s.online && tstzrange(r.lo, r.hi)
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
	   SET online_us = excluded.online_us;

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

	-- The scorecards' daily snapshots (50_scorecards.sql): a materialized view, refreshed
	-- concurrently so readers are never blocked. It is recomputed whole, so a caller that
	-- refreshes the facts often may leave it to a later call (history => false).
	IF NOT refresh.history THEN
		RETURN;
	END IF;
	started := clock_timestamp();
	n := kpi.refresh_scorecard_history();
	RETURN QUERY SELECT 'scorecard_history'::text,
						CASE WHEN reason IS NULL THEN 'incremental' ELSE 'full' END, NULL::bigint, n,
						extract(epoch FROM clock_timestamp() - started)::double precision, NULL::text;
END
$$;
COMMENT ON FUNCTION kpi.refresh(boolean, boolean) IS
	'derive kpi.turns, kpi.order_attribution, kpi.feedback_charges, kpi.agent_days and kpi.shop_days from '
	'the base tables: by default only what changed since the last refresh, all of it with full => true '
	'(or after a settings change); then, unless history => false, refresh kpi.scorecard_history; returns one row per step (events or '
	'cells recomputed, rows, seconds)';

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
		  JOIN kpi.orders o ON o.shop_id = c.shop_id AND o.customer_id = c.customer_id
						   AND o.placed_at >= c.opened_at
						   AND o.placed_at - (SELECT st.attribution_window FROM kpi.settings st) <= c.opened_at;
		INSERT INTO pg_temp.refresh_old_attribution
		SELECT a.* FROM kpi.order_attribution a
		 WHERE a.order_id IN (SELECT r.order_id FROM pg_temp.refresh_orders r);
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
		  LEFT JOIN kpi.order_attribution a ON a.order_id = r.order_id
		 WHERE (b.conversation_id, b.agent_id, b.day, b.shop_id) IS DISTINCT FROM
			   (a.conversation_id, a.agent_id, a.day, a.shop_id);
		INSERT INTO pg_temp.refresh_cells
		SELECT d.grp, a.shop_id, a.agent_id, d.day
		  FROM (SELECT b.* FROM pg_temp.refresh_old_attribution b
				 WHERE b.order_id IN (SELECT m.order_id FROM pg_temp.refresh_moved_orders m)
				UNION ALL
				SELECT a.* FROM kpi.order_attribution a
				 WHERE a.order_id IN (SELECT m.order_id FROM pg_temp.refresh_moved_orders m)) a
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
			SELECT o.shop_id, o.order_id FROM pg_temp.refresh_moved_orders m
			  JOIN kpi.orders o ON o.order_id = m.order_id)
		INSERT INTO pg_temp.refresh_feedback
		SELECT 'complaint', x.complaint_id FROM pg_temp.refresh_log_complaints x
		UNION
		SELECT 'rating', x.rating_id FROM pg_temp.refresh_log_ratings x
		UNION
		SELECT 'complaint', x.complaint_id
		  FROM recharged c
		  JOIN kpi.complaints x ON x.shop_id = c.shop_id AND x.conversation_id = c.conversation_id
		UNION
		SELECT 'rating', x.rating_id
		  FROM recharged c
		  JOIN kpi.ratings x ON x.shop_id = c.shop_id AND x.conversation_id = c.conversation_id
		UNION
		SELECT 'complaint', x.complaint_id
		  FROM recredited o
		  JOIN kpi.complaints x ON x.shop_id = o.shop_id AND x.order_id = o.order_id
		UNION
		SELECT 'rating', x.rating_id
		  FROM recredited o
		  JOIN kpi.ratings x ON x.shop_id = o.shop_id AND x.order_id = o.order_id;
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
		-- and the earlier conversations of the customer whose first-contact resolution they
		-- decide: those resolved within fcr_window before it, unless another conversation that
		-- did not change falls in that window too (then it was and stays unresolved at first contact)
		SELECT 'conversations', e.shop_id, e.agent_id, (e.opened_at AT TIME ZONE z.timezone)::date
		  FROM (SELECT c.* FROM pg_temp.refresh_log_conversations c
				 WHERE c.conversation_id IN (
						SELECT g.conversation_id FROM pg_temp.refresh_log_conversations g
						 GROUP BY g.conversation_id
						HAVING count(*) = 1 OR count(DISTINCT (g.shop_id, g.customer_id, g.opened_at)) > 1)) c
		  JOIN kpi.conversations e ON e.shop_id = c.shop_id AND e.customer_id = c.customer_id
								  AND e.resolved_at < c.opened_at
								  AND e.resolved_at + (SELECT st.fcr_window FROM kpi.settings st) >= c.opened_at
		  JOIN kpi.shop_zones z ON z.shop_id = e.shop_id
		  -- (a lateral probe per conversation, through the customer index)
		  LEFT JOIN LATERAL (
				SELECT true AS found FROM kpi.conversations u
				 WHERE u.shop_id = e.shop_id AND u.customer_id = e.customer_id
				   AND u.opened_at > e.resolved_at
				   AND u.opened_at <= e.resolved_at + (SELECT st.fcr_window FROM kpi.settings st)
				   AND NOT EXISTS (SELECT FROM pg_temp.refresh_log_conversations l
									WHERE l.conversation_id = u.conversation_id)
				 LIMIT 1) u ON true
		 WHERE u.found IS NULL
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
	END IF;
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
-- Reports over the daily facts: period metrics per agent, and rolling windows per agent and shop.

-- Reports ----------------------------------------------------------------------------------------

CREATE FUNCTION kpi.agent_metrics("from" date, "to" date, shop_id int DEFAULT NULL)
	RETURNS TABLE (
		agent_id int, login text, team text, role text,
		turns bigint, answered_turns bigint, unanswered_turns bigint, reply_rate double precision,
		avg_response_s double precision, avg_first_response_s double precision,
		response_sla_rate double precision, first_response_sla_rate double precision,
		p50_response_s double precision, p90_response_s double precision,
		avg_business_response_s double precision,
		conversations bigint, avg_handle_s double precision, resolution_rate double precision,
		avg_resolution_s double precision, fcr_rate double precision,
		inquiries bigint, inquiry_conversion_rate double precision,
		order_conversion_rate double precision, payment_rate double precision,
		inquiry_aov numeric, items_per_buyer double precision,
		refund_rate double precision, dispute_share double precision,
		self_completion_rate double precision, avg_refund_completion_s double precision,
		complaint_rate double precision,
		csat_rate double precision, good_review_rate double precision, dsr_service double precision,
		online_hours double precision)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT a.agent_id, a.login, a.team, a.role,
		   coalesce(sum(d.turns), 0)::bigint,
		   coalesce(sum(d.answered_turns), 0)::bigint,
		   coalesce(sum(d.turns - d.answered_turns), 0)::bigint,
		   sum(d.answered_turns)::double precision / nullif(sum(d.turns), 0),
		   sum(d.response_us)::double precision / 1e6 / nullif(sum(d.answered_turns), 0),
		   sum(d.first_response_us)::double precision / 1e6 / nullif(sum(d.first_answered), 0),
		   sum(d.response_sla_hits)::double precision / nullif(sum(d.turns), 0),
		   sum(d.first_response_sla_hits)::double precision / nullif(sum(d.first_turns), 0),
		   kpi.approx_percentile(0.5, kpi.rollup(d.response_sketch)),
		   kpi.approx_percentile(0.9, kpi.rollup(d.response_sketch)),
		   sum(d.business_response_us)::double precision / 1e6 / nullif(sum(d.answered_turns), 0),
		   coalesce(sum(d.conversations), 0)::bigint,
		   sum(d.handle_us)::double precision / 1e6 / nullif(sum(d.closed_conversations), 0),
		   sum(d.resolved_conversations)::double precision / nullif(sum(d.conversations), 0),
		   sum(d.resolution_us)::double precision / 1e6 / nullif(sum(d.resolved_conversations), 0),
		   sum(d.fcr_conversations)::double precision / nullif(sum(d.conversations), 0),
		   coalesce(sum(d.inquiries), 0)::bigint,
		   sum(d.paying_customers)::double precision / nullif(sum(d.inquiries), 0),
		   sum(d.ordering_customers)::double precision / nullif(sum(d.inquiries), 0),
		   sum(d.attributed_paid_orders)::double precision / nullif(sum(d.attributed_orders), 0),
		   round(sum(d.paid_amount) / nullif(sum(d.paying_customers), 0), 2),
		   sum(d.paid_items)::double precision / nullif(sum(d.paying_customers), 0),
		   sum(d.sales_refunds)::double precision / nullif(sum(d.sales_paid_orders), 0),
		   sum(d.handled_disputes)::double precision / nullif(sum(d.handled_refunds), 0),
		   sum(d.merchant_completed_refunds)::double precision / nullif(sum(d.completed_refunds), 0),
		   sum(d.completion_us)::double precision / 1e6 / nullif(sum(d.completed_refunds), 0),
		   sum(d.complaints)::double precision / nullif(sum(d.conversations), 0),
		   sum(d.csat_positive)::double precision / nullif(sum(d.csat_ratings), 0),
		   sum(d.review_positive)::double precision / nullif(sum(d.review_ratings), 0),
		   sum(d.dsr_score_sum)::double precision / nullif(sum(d.dsr_ratings), 0),
		   coalesce(sum(d.online_us), 0)::double precision / 3.6e9
	  FROM kpi.agents a
	  LEFT JOIN kpi.agent_days d
			 ON d.agent_id = a.agent_id
			AND d.day BETWEEN agent_metrics."from" AND agent_metrics."to"
			AND (agent_metrics.shop_id IS NULL OR d.shop_id = agent_metrics.shop_id)
	 GROUP BY a.agent_id
	HAVING a.active OR count(d.agent_id) > 0
	 ORDER BY a.agent_id;
END;
COMMENT ON FUNCTION kpi.agent_metrics(date, date, int) IS
	'one row per agent (active, or with activity in the period): every metric over days from..to inclusive, '
	'rates over the whole period (sums over sums), NULL where the denominator is 0; all shops unless one is named';

-- Rolling windows --------------------------------------------------------------------------------
-- A dense day series per agent (or shop) from its first to its last day with facts, and window
-- frames over it: sum() has an inverse transition, so each row costs O(1), not O(window).

CREATE VIEW kpi.agent_rolling WITH (security_invoker = true) AS
WITH days AS (
	SELECT d.agent_id, d.day,
		   sum(d.sales_refunds) AS sales_refunds, sum(d.sales_paid_orders) AS sales_paid_orders,
		   sum(d.handled_disputes) AS handled_disputes, sum(d.handled_refunds) AS handled_refunds,
		   sum(d.merchant_completed_refunds) AS merchant_completed_refunds,
		   sum(d.completed_refunds) AS completed_refunds, sum(d.completion_us) AS completion_us,
		   sum(d.complaints) AS complaints, sum(d.conversations) AS conversations,
		   sum(d.response_us) AS response_us, sum(d.answered_turns) AS answered_turns,
		   sum(d.response_sla_hits) AS response_sla_hits, sum(d.turns) AS turns,
		   kpi.rollup(d.response_sketch) AS response_sketch,
		   sum(d.csat_positive) AS csat_positive, sum(d.csat_ratings) AS csat_ratings,
		   sum(d.dsr_score_sum) AS dsr_score_sum, sum(d.dsr_ratings) AS dsr_ratings
	  FROM kpi.agent_days d
	 GROUP BY d.agent_id, d.day
), series AS (
	SELECT b.agent_id, g.day::date AS day
	  FROM (SELECT agent_id, min(day) AS first_day, max(day) AS last_day FROM days GROUP BY 1) b
	 CROSS JOIN LATERAL generate_series(b.first_day::timestamp, b.last_day::timestamp, interval '1 day') g(day)
)
SELECT s.agent_id, s.day,
	   (sum(x.sales_refunds) OVER w28)::double precision / nullif(sum(x.sales_paid_orders) OVER w28, 0)
		   AS refund_rate_28d,
	   (sum(x.handled_disputes) OVER w28)::double precision / nullif(sum(x.handled_refunds) OVER w28, 0)
		   AS dispute_share_28d,
	   (sum(x.merchant_completed_refunds) OVER w28)::double precision / nullif(sum(x.completed_refunds) OVER w28, 0)
		   AS self_completion_rate_28d,
	   (sum(x.completion_us) OVER w28)::double precision / 1e6 / nullif(sum(x.completed_refunds) OVER w28, 0)
		   AS avg_refund_completion_s_28d,
	   (sum(x.complaints) OVER w28)::double precision / nullif(sum(x.conversations) OVER w28, 0)
		   AS complaint_rate_28d,
	   (sum(x.response_us) OVER w28)::double precision / 1e6 / nullif(sum(x.answered_turns) OVER w28, 0)
		   AS avg_response_s_28d,
	   kpi.approx_percentile(0.9, kpi.rollup(x.response_sketch) OVER w28)
		   AS p90_response_s_28d,
	   (sum(x.response_sla_hits) OVER w28)::double precision / nullif(sum(x.turns) OVER w28, 0)
		   AS response_sla_rate_28d,
	   (sum(x.csat_positive) OVER w28)::double precision / nullif(sum(x.csat_ratings) OVER w28, 0)
		   AS csat_rate_28d,
	   (sum(x.dsr_score_sum) OVER w180)::double precision / nullif(sum(x.dsr_ratings) OVER w180, 0)
		   AS dsr_service_180d
  FROM series s
  LEFT JOIN days x USING (agent_id, day)
WINDOW w28 AS (PARTITION BY s.agent_id ORDER BY s.day ROWS BETWEEN 27 PRECEDING AND CURRENT ROW),
	   w180 AS (PARTITION BY s.agent_id ORDER BY s.day ROWS BETWEEN 179 PRECEDING AND CURRENT ROW);
COMMENT ON VIEW kpi.agent_rolling IS
	'per agent and day (every day from the agent''s first to last day with facts, all shops together): '
	'after-sale, response and rating figures over the 28 (or 180) days ending that day';
COMMENT ON COLUMN kpi.agent_rolling.refund_rate_28d IS
	'refunds requested on orders attributed to the agent / attributed orders paid (退款率)';
COMMENT ON COLUMN kpi.agent_rolling.dispute_share_28d IS 'disputed / refunds requested that the agent handled (纠纷)';
COMMENT ON COLUMN kpi.agent_rolling.self_completion_rate_28d IS
	'refunds the agent handled completed by the merchant / completed (自主完结率)';
COMMENT ON COLUMN kpi.agent_rolling.avg_refund_completion_s_28d IS 'mean completed_at - requested_at of those (退款完结时长)';
COMMENT ON COLUMN kpi.agent_rolling.complaint_rate_28d IS 'complaints charged to the agent / the agent''s conversations (投诉率)';
COMMENT ON COLUMN kpi.agent_rolling.avg_response_s_28d IS 'mean response time of answered turns (平均响应时间)';
COMMENT ON COLUMN kpi.agent_rolling.p90_response_s_28d IS '90th percentile response time (within the sketch''s 1 % bound)';
COMMENT ON COLUMN kpi.agent_rolling.response_sla_rate_28d IS 'turns answered within settings.response_sla / turns';
COMMENT ON COLUMN kpi.agent_rolling.csat_rate_28d IS 'csat ratings 4 or 5 / csat ratings (满意度)';
COMMENT ON COLUMN kpi.agent_rolling.dsr_service_180d IS 'mean dsr_service score over 180 days (服务态度DSR)';

CREATE VIEW kpi.shop_rolling WITH (security_invoker = true) AS
WITH series AS (
	SELECT b.shop_id, g.day::date AS day
	  FROM (SELECT shop_id, min(day) AS first_day, max(day) AS last_day
			  FROM kpi.shop_days GROUP BY 1) b
	 CROSS JOIN LATERAL generate_series(b.first_day::timestamp, b.last_day::timestamp, interval '1 day') g(day)
)
SELECT s.shop_id, s.day,
	   coalesce(sum(x.orders_paid) OVER w28, 0)::bigint AS orders_paid_28d,
	   (sum(x.refunds_requested) OVER w28)::double precision / nullif(sum(x.orders_paid) OVER w28, 0) AS refund_rate_28d,
	   (sum(x.disputed_refunds) OVER w28)::double precision / nullif(sum(x.orders_paid) OVER w28, 0) AS dispute_rate_28d,
	   (sum(x.complaints) OVER w28)::double precision / nullif(sum(x.orders_paid) OVER w28, 0) AS complaint_rate_28d,
	   (sum(x.merchant_completed_refunds) OVER w28)::double precision / nullif(sum(x.refunds_completed) OVER w28, 0)
		   AS self_completion_rate_28d,
	   (sum(x.completion_us) OVER w28)::double precision / 1e6 / nullif(sum(x.refunds_completed) OVER w28, 0)
		   AS avg_refund_completion_s_28d,
	   (sum(x.dsr_score_sum) OVER w180)::double precision / nullif(sum(x.dsr_ratings) OVER w180, 0) AS dsr_service_180d
  FROM series s
  LEFT JOIN kpi.shop_days x USING (shop_id, day)
WINDOW w28 AS (PARTITION BY s.shop_id ORDER BY s.day ROWS BETWEEN 27 PRECEDING AND CURRENT ROW),
	   w180 AS (PARTITION BY s.shop_id ORDER BY s.day ROWS BETWEEN 179 PRECEDING AND CURRENT ROW);
COMMENT ON VIEW kpi.shop_rolling IS
	'per shop and day (dense): the platforms'' own after-sale figures over the 28 (or 180) days ending that day';
COMMENT ON COLUMN kpi.shop_rolling.orders_paid_28d IS 'orders paid in the window';
COMMENT ON COLUMN kpi.shop_rolling.refund_rate_28d IS 'refunds requested / orders paid (退款率)';
COMMENT ON COLUMN kpi.shop_rolling.dispute_rate_28d IS 'disputed refunds requested / orders paid (退款纠纷率)';
COMMENT ON COLUMN kpi.shop_rolling.complaint_rate_28d IS 'complaints filed / orders paid (投诉率)';
COMMENT ON COLUMN kpi.shop_rolling.self_completion_rate_28d IS 'refunds completed by the merchant / completed (退款自主完结率)';
COMMENT ON COLUMN kpi.shop_rolling.avg_refund_completion_s_28d IS 'mean completed_at - requested_at of refunds completed (退款完结时长)';
COMMENT ON COLUMN kpi.shop_rolling.dsr_service_180d IS 'mean dsr_service score over 180 days (服务态度DSR)';
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

CREATE MATERIALIZED VIEW kpi.scorecard_history AS
SELECT s.period_end AS day, s.agent_id, s.login, s.team, s.scorecard, s.composite, s.coverage, s.grade,
	   s.rank, s.team_rank, s.percentile, s.top30, s.prev_composite, s.composite_change
  FROM (SELECT min(d.day) AS first_day, current_date - 1 AS last_day FROM kpi.agent_days d) r
 CROSS JOIN LATERAL kpi.scorecard_snapshots(
		ARRAY(SELECT g.day::date
				FROM generate_series(r.first_day::timestamp, r.last_day::timestamp, interval '1 day') g(day)),
		28, NULL) s;
CREATE UNIQUE INDEX scorecard_history_day_agent ON kpi.scorecard_history (day, agent_id);

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
COMMENT ON MATERIALIZED VIEW kpi.scorecard_history IS
	'daily snapshots: for each day from the first day of kpi.agent_days to yesterday, each agent scored with its role '
	'scorecard over the 28 days ending that day; refreshed by kpi.refresh_scorecard_history()';
COMMENT ON COLUMN kpi.scorecard_history.day IS 'the snapshot''s day: the last of its 28 days';

CREATE FUNCTION kpi.refresh_scorecard_history() RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	-- SECURITY DEFINER because PostgreSQL 15 lets only a materialized view's owner refresh it,
	-- and the writer's kpi.refresh() calls this; it runs one fixed statement. EXECUTE is
	-- revoked from PUBLIC and granted by kpi.grant_writer.
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	REFRESH MATERIALIZED VIEW CONCURRENTLY kpi.scorecard_history;
	SELECT count(*) INTO n FROM kpi.scorecard_history;
	RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION kpi.refresh_scorecard_history() FROM PUBLIC;
COMMENT ON FUNCTION kpi.refresh_scorecard_history() IS
	'recompute kpi.scorecard_history from the daily facts without blocking its readers (REFRESH ... CONCURRENTLY); '
	'returns its rows';
-- Access for the company's own roles. The extension creates no roles and grants nothing to
-- PUBLIC: without a grant a role cannot use schema kpi at all. Report functions run with the
-- caller's rights and views are security_invoker, so row-level security on the tables applies.

CREATE FUNCTION kpi.grant_reader(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('GRANT USAGE ON SCHEMA kpi TO %s', role);
	-- The reports, the derived facts they read and the configuration they name; not the raw
	-- events (messages, orders, ...), which a report reader does not need.
	EXECUTE format('GRANT SELECT ON kpi.settings, kpi.shops, kpi.calendars, kpi.agents, '
				   'kpi.turns, kpi.order_attribution, kpi.feedback_charges, kpi.agent_days, kpi.shop_days, '
				   'kpi.shop_zones, kpi.agent_rolling, kpi.shop_rolling TO %s', role);
	-- Scorecards: the catalog, the configuration and the scorecard views.
	EXECUTE format('GRANT SELECT ON kpi.metrics, kpi.scorecards, kpi.scorecard_items, kpi.grade_bands, '
				   'kpi.benchmarks, kpi.agent_scorecard, kpi.scorecard_history TO %s', role);
END
$$;
COMMENT ON FUNCTION kpi.grant_reader(regrole) IS
	'let a role read the reports: kpi.agent_metrics, the rolling views, the scorecards, the daily facts and the configuration';

CREATE FUNCTION kpi.grant_writer(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM kpi.grant_reader(role);
	-- Load and correct the canonical tables.
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON kpi.settings, kpi.shops, kpi.calendars, '
				   'kpi.agents, kpi.conversations, kpi.messages, kpi.orders, kpi.refunds, '
				   'kpi.complaints, kpi.ratings, kpi.agent_sessions TO %s', role);
	-- The triggers on those tables append to the change logs as the role that loads.
	EXECUTE format('GRANT SELECT, INSERT, DELETE ON kpi.changes_full, kpi.changes_messages, '
				   'kpi.changes_conversations, kpi.changes_orders, kpi.changes_refunds, '
				   'kpi.changes_complaints, kpi.changes_ratings, kpi.changes_agent_sessions, '
				   'kpi.changes_agents TO %s', role);
	EXECUTE format('GRANT USAGE ON SEQUENCE kpi.change_numbers TO %s', role);
	-- Run kpi.refresh(), which consumes the logs and rewrites the derived tables.
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON kpi.turns, kpi.order_attribution, '
				   'kpi.feedback_charges, kpi.agent_days, kpi.shop_days TO %s', role);
	-- Edit the scorecards and refresh their history (kpi.refresh() does).
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON kpi.scorecards, kpi.scorecard_items, '
				   'kpi.grade_bands, kpi.benchmarks TO %s', role);
	EXECUTE format('GRANT EXECUTE ON FUNCTION kpi.refresh_scorecard_history() TO %s', role);
END
$$;
COMMENT ON FUNCTION kpi.grant_writer(regrole) IS
	'let a role load the canonical tables, edit the scorecards and run kpi.refresh(), besides reading the reports';
