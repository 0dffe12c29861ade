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
