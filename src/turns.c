/*-------------------------------------------------------------------------
 *
 * turns.c
 *		kpi.reply_turns(message_id, sent_at, sender, agent_id) -> kpi.turn[]:
 *		the response turns of one conversation (SPEC 3.1 and 4.1).
 *
 * The transition function appends one 24-byte record per message to a
 * growable array in the aggregate context and notes whether the input
 * arrived in (sent_at, message_id) order.  The final function sorts only
 * when it did not, then walks the messages once: a customer message opens a
 * turn when none is open, the next agent message answers and closes it, auto
 * and system messages are passed over, an agent message with no open turn is
 * a follow-up and ignored, and a turn still open at the end is unanswered.
 * Combine, serialize and deserialize functions let it run in parallel plans.
 *
 * A group is one conversation and never spans shards, so the state is
 * "internal" (SPEC 1).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "turns.h"

/* Labels of kpi.sender, indexed by TURN_SENDER_* code. */
static const char *const turn_sender_labels[TURN_SENDER_COUNT] = {
	"customer", "agent", "auto", "system"
};

/* Position of the sender argument of the transition function (0 = state). */
#define TURNS_ARG_SENDER	3

/*
 * Bytes of the state before its records, its first allocation, and the size
 * above which it grows by half instead of doubling (less slack in memory for
 * huge conversations, still amortized O(1) per message).
 */
#define TURNS_STATE_HEADER	offsetof(TurnsState, msgs)
#define TURNS_FIRST_BYTES	256
#define TURNS_DOUBLE_BELOW	((Size) 1024 * 1024)

/* The most records one state may hold (its allocation must stay valid). */
#define TURNS_MAX_MSGS \
	((int64) ((MaxAllocHugeSize / 2 - TURNS_STATE_HEADER) / sizeof(TurnMsg)))

/* Per-call-site cache of the transition function: the sender label OIDs. */
typedef struct TurnsSenderCache
{
	Oid			label_oids[TURN_SENDER_COUNT];
} TurnsSenderCache;

/*
 * The three shapes a kpi.turn value can take, by which fields are NULL.
 * Values of one shape have the same length and header, so the final
 * function forms one template per shape and copies it.
 */
#define TURN_SHAPE_ANSWERED			0	/* no NULL field */
#define TURN_SHAPE_ANSWERED_NOBODY	1	/* agent_id NULL */
#define TURN_SHAPE_UNANSWERED		2	/* answered_at, agent_id, response_s NULL */
#define TURN_SHAPE_COUNT			3

/* Columns of kpi.turn, in order. */
#define TURN_NATTS	6
static const Oid turn_column_types[TURN_NATTS] = {
	TIMESTAMPTZOID,				/* opened_at */
	TIMESTAMPTZOID,				/* answered_at */
	INT4OID,					/* agent_id */
	BOOLOID,					/* answered */
	BOOLOID,					/* is_first */
	FLOAT8OID					/* response_s */
};

/* Per-call-site cache of the final function: the result type. */
typedef struct TurnsFinalCache
{
	Oid			elemtype;		/* kpi.turn */
	char		elemalign;
	TupleDesc	tupdesc;		/* of kpi.turn, owned by this cache */
	HeapTupleHeader template[TURN_SHAPE_COUNT];
	Size		len[TURN_SHAPE_COUNT];	/* datum length of each shape */
	Size		stride[TURN_SHAPE_COUNT];	/* the same, aligned for arrays */
} TurnsFinalCache;

/* One turn found by the walk, before it becomes a kpi.turn value. */
typedef struct TurnOut
{
	TimestampTz opened_at;
	TimestampTz answered_at;
	int32		agent_id;
	uint8		shape;			/* TURN_SHAPE_* */
} TurnOut;

PG_FUNCTION_INFO_V1(kpi_turns_trans);
PG_FUNCTION_INFO_V1(kpi_turns_final);
PG_FUNCTION_INFO_V1(kpi_turns_combine);
PG_FUNCTION_INFO_V1(kpi_turns_serialize);
PG_FUNCTION_INFO_V1(kpi_turns_deserialize);
PG_FUNCTION_INFO_V1(kpi_turns_decode);

/*
 * Message order: (sent_at, message_id), then the remaining fields, so that
 * even duplicate (sent_at, message_id) pairs sort the same way whatever the
 * input order and the result never depends on it.
 */
static inline int
turn_msg_cmp(const TurnMsg *a, const TurnMsg *b)
{
	if (a->sent_at != b->sent_at)
		return a->sent_at < b->sent_at ? -1 : 1;
	if (a->message_id != b->message_id)
		return a->message_id < b->message_id ? -1 : 1;
	if (a->sender != b->sender)
		return a->sender < b->sender ? -1 : 1;
	if (a->flags != b->flags)
		return a->flags < b->flags ? -1 : 1;
	if (a->agent_id != b->agent_id)
		return a->agent_id < b->agent_id ? -1 : 1;
	return 0;
}

#define ST_SORT turn_msg_sort
#define ST_ELEMENT_TYPE TurnMsg
#define ST_COMPARE(a, b) turn_msg_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static void
turns_not_in_aggregate(const char *fname)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s called in non-aggregate context", fname),
			 errdetail("It is a support function of the aggregate kpi.reply_turns.")));
}

static void
turns_null_argument(const char *argname)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s must not be null in kpi.reply_turns", argname),
			 errdetail("A message with a null %s cannot be placed in its conversation, and it is not dropped silently.",
					   argname),
			 errhint("Filter such rows out or fix them before aggregating.")));
}

/* Allocation size of a state holding capacity records. */
static inline Size
turns_state_bytes(int64 capacity)
{
	return TURNS_STATE_HEADER + (Size) capacity * sizeof(TurnMsg);
}

/*
 * Capacity to allocate for at least needed records: the first size of the
 * sequence 256 B, doubling up to 1 MB (small chunks are rounded up to powers
 * of two anyway), then growing by half, that holds them.
 */
static int64
turns_capacity_for(int64 needed)
{
	Size		bytes = TURNS_FIRST_BYTES;

	if (needed > TURNS_MAX_MSGS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many messages in one conversation for kpi.reply_turns"),
				 errdetail("The limit is " INT64_FORMAT " messages per group.",
						   TURNS_MAX_MSGS)));
	while (bytes < turns_state_bytes(needed))
		bytes = bytes < TURNS_DOUBLE_BELOW ? bytes * 2 : bytes + bytes / 2;
	return (int64) ((bytes - TURNS_STATE_HEADER) / sizeof(TurnMsg));
}

/* A new empty state with room for at least needed records. */
static TurnsState *
turns_state_new(MemoryContext context, int64 needed)
{
	int64		capacity = turns_capacity_for(needed);
	TurnsState *state;

	state = (TurnsState *) MemoryContextAllocHuge(context,
												  turns_state_bytes(capacity));
	state->nmsgs = 0;
	state->capacity = capacity;
	state->sorted = true;
	return state;
}

/* Grow state, in its own memory context, to hold at least needed records. */
static TurnsState *
turns_state_grow(TurnsState *state, int64 needed)
{
	int64		capacity = turns_capacity_for(needed);

	state = (TurnsState *) repalloc_huge(state, turns_state_bytes(capacity));
	state->capacity = capacity;
	return state;
}

/*
 * The OIDs of the labels customer, agent, auto and system of the enum type
 * the sender argument actually has at this call site, looked up once per
 * call site.  No enum OID is ever assumed.
 */
static TurnsSenderCache *
turns_sender_cache(FunctionCallInfo fcinfo)
{
	TurnsSenderCache *cache = (TurnsSenderCache *) fcinfo->flinfo->fn_extra;
	Oid			enumtype;

	if (cache != NULL)
		return cache;

	enumtype = get_fn_expr_argtype(fcinfo->flinfo, TURNS_ARG_SENDER);
	if (!OidIsValid(enumtype))
	{
		/* No call expression: the declared type of the argument. */
		Oid		   *argtypes;
		int			nargs;

		get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
		if (nargs <= TURNS_ARG_SENDER)
			elog(ERROR, "function %u has %d arguments, not at least %d",
				 fcinfo->flinfo->fn_oid, nargs, TURNS_ARG_SENDER + 1);
		enumtype = argtypes[TURNS_ARG_SENDER];
		pfree(argtypes);
	}
	enumtype = getBaseType(enumtype);

	cache = (TurnsSenderCache *) MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
													sizeof(TurnsSenderCache));
	for (int code = 0; code < TURN_SENDER_COUNT; code++)
	{
		HeapTuple	tup;

		tup = SearchSysCache2(ENUMTYPOIDNAME,
							  ObjectIdGetDatum(enumtype),
							  CStringGetDatum(turn_sender_labels[code]));
		if (!HeapTupleIsValid(tup))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("type %s has no label \"%s\"",
							format_type_be(enumtype), turn_sender_labels[code]),
					 errdetail("kpi.reply_turns needs the senders customer, agent, auto and system.")));
		cache->label_oids[code] = ((Form_pg_enum) GETSTRUCT(tup))->oid;
		ReleaseSysCache(tup);
	}
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/* The TURN_SENDER_* code of a sender label OID. */
static inline uint8
turns_sender_code(const TurnsSenderCache *cache, Oid label)
{
	for (int code = 0; code < TURN_SENDER_COUNT; code++)
	{
		if (cache->label_oids[code] == label)
			return (uint8) code;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("sender with enum OID %u is not customer, agent, auto or system", label),
			 errdetail("kpi.reply_turns knows only these four senders."),
			 errhint("A label added to kpi.sender needs a rule in kpi.reply_turns first.")));
	return 0;					/* keep compiler quiet */
}

/*
 * kpi.reply_turns_trans(internal, message_id bigint, sent_at timestamptz,
 *		sender kpi.sender, agent_id int) -> internal
 *
 * Not strict: a NULL message_id, sent_at or sender is an error (a message
 * must never vanish silently), and a NULL agent_id is a value.
 */
Datum
kpi_turns_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TurnsState *state;
	TurnMsg    *msg;
	TimestampTz sent_at;
	uint8		sender;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		turns_not_in_aggregate("kpi.reply_turns_trans");

	if (PG_ARGISNULL(1))
		turns_null_argument("message_id");
	if (PG_ARGISNULL(2))
		turns_null_argument("sent_at");
	if (PG_ARGISNULL(3))
		turns_null_argument("sender");

	sent_at = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(sent_at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("sent_at must be finite in kpi.reply_turns"),
				 errdetail("A message sent at %s has no place in time, so no response time can be measured from or to it.",
						   TIMESTAMP_IS_NOBEGIN(sent_at) ? "-infinity" : "infinity")));
	sender = turns_sender_code(turns_sender_cache(fcinfo), PG_GETARG_OID(3));

	if (PG_ARGISNULL(0))
		state = turns_state_new(aggcontext, 1);
	else
	{
		state = (TurnsState *) PG_GETARG_POINTER(0);
		if (state->nmsgs == state->capacity)
			state = turns_state_grow(state, state->nmsgs + 1);
	}

	msg = &state->msgs[state->nmsgs];
	msg->sent_at = sent_at;
	msg->message_id = PG_GETARG_INT64(1);
	msg->sender = sender;
	if (sender == TURN_SENDER_AGENT && !PG_ARGISNULL(4))
	{
		msg->agent_id = PG_GETARG_INT32(4);
		msg->flags = 0;
	}
	else
	{
		/* NULL, or not an agent's message: the agent_id is not used. */
		msg->agent_id = 0;
		msg->flags = TURN_MSG_AGENT_NULL;
	}

	if (state->sorted && state->nmsgs > 0 && turn_msg_cmp(msg - 1, msg) > 0)
		state->sorted = false;
	state->nmsgs++;

	PG_RETURN_POINTER(state);
}

/*
 * kpi.reply_turns_combine(internal, internal) -> internal
 *
 * Appends the second state's records to the first.  Not strict: when the
 * first state is NULL the second is copied into the aggregate context,
 * since it may live in a shorter-lived one (after deserialization).
 */
Datum
kpi_turns_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TurnsState *state1;
	TurnsState *state2;
	int64		total;
	bool		sorted;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		turns_not_in_aggregate("kpi.reply_turns_combine");

	state1 = PG_ARGISNULL(0) ? NULL : (TurnsState *) PG_GETARG_POINTER(0);
	state2 = PG_ARGISNULL(1) ? NULL : (TurnsState *) PG_GETARG_POINTER(1);

	if (state2 == NULL || state2->nmsgs == 0)
	{
		if (state1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state1);
	}
	if (state1 == NULL)
	{
		state1 = turns_state_new(aggcontext, state2->nmsgs);
		memcpy(state1->msgs, state2->msgs, state2->nmsgs * sizeof(TurnMsg));
		state1->nmsgs = state2->nmsgs;
		state1->sorted = state2->sorted;
		PG_RETURN_POINTER(state1);
	}

	if (pg_add_s64_overflow(state1->nmsgs, state2->nmsgs, &total))
		total = PG_INT64_MAX;	/* turns_capacity_for refuses it */
	sorted = state1->sorted && state2->sorted &&
		(state1->nmsgs == 0 ||
		 turn_msg_cmp(&state1->msgs[state1->nmsgs - 1], &state2->msgs[0]) <= 0);
	if (total > state1->capacity)
		state1 = turns_state_grow(state1, total);
	memcpy(&state1->msgs[state1->nmsgs], state2->msgs,
		   state2->nmsgs * sizeof(TurnMsg));
	state1->nmsgs = total;
	state1->sorted = sorted;

	PG_RETURN_POINTER(state1);
}

/*
 * kpi.reply_turns_serialize(internal) -> bytea, in the format of turns.h.
 */
Datum
kpi_turns_serialize(PG_FUNCTION_ARGS)
{
	TurnsState *state;
	StringInfoData buf;

	if (!AggCheckCallContext(fcinfo, NULL))
		turns_not_in_aggregate("kpi.reply_turns_serialize");
	state = (TurnsState *) PG_GETARG_POINTER(0);

	if (state->nmsgs > (int64) ((MaxAllocSize - VARHDRSZ - TURNS_SERIAL_HEADER - 1) /
								TURNS_SERIAL_RECORD))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many messages in one conversation to pass between parallel workers"),
				 errdetail("The conversation has " INT64_FORMAT " messages here.",
						   state->nmsgs),
				 errhint("Run the query without parallelism (SET max_parallel_workers_per_gather = 0).")));

	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, TURNS_SERIAL_HEADER + state->nmsgs * TURNS_SERIAL_RECORD);
	pq_sendbyte(&buf, TURNS_SERIAL_VERSION);
	pq_sendint64(&buf, state->nmsgs);
	for (int64 i = 0; i < state->nmsgs; i++)
	{
		const TurnMsg *msg = &state->msgs[i];

		pq_sendint64(&buf, msg->sent_at);
		pq_sendint64(&buf, msg->message_id);
		pq_sendint32(&buf, msg->agent_id);
		pq_sendbyte(&buf, msg->sender);
		pq_sendbyte(&buf, msg->flags);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
turns_corrupt(const char *detail_fmt, int64 value)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid kpi.reply_turns state"),
			 errdetail_internal(detail_fmt, value)));
}

/*
 * Parse and check serialized state bytes; the state is allocated in the
 * current memory context.  Every byte is validated: version, length against
 * the record count, sender codes, flags, agent_id of non-agent records and
 * finite timestamps.  The order flag is recomputed, never trusted.
 */
static TurnsState *
turns_state_from_bytes(bytea *bytes)
{
	StringInfoData buf;
	Size		len = VARSIZE_ANY_EXHDR(bytes);
	int			version;
	int64		nmsgs;
	TurnsState *state;

	if (len < TURNS_SERIAL_HEADER)
		turns_corrupt("The state has " INT64_FORMAT " bytes, fewer than its header.",
					  (int64) len);

	buf.data = VARDATA_ANY(bytes);
	buf.len = (int) len;
	buf.maxlen = (int) len;
	buf.cursor = 0;

	version = pq_getmsgbyte(&buf);
	if (version != TURNS_SERIAL_VERSION)
		turns_corrupt("Its format version is " INT64_FORMAT ", not 1.", version);
	nmsgs = pq_getmsgint64(&buf);
	if (nmsgs < 1)
		turns_corrupt("It claims " INT64_FORMAT " messages; a state has at least one.",
					  nmsgs);
	if (nmsgs > (int64) ((len - TURNS_SERIAL_HEADER) / TURNS_SERIAL_RECORD) ||
		len - TURNS_SERIAL_HEADER != (Size) nmsgs * TURNS_SERIAL_RECORD)
		turns_corrupt("Its length does not match its " INT64_FORMAT " messages.",
					  nmsgs);

	state = turns_state_new(CurrentMemoryContext, nmsgs);
	for (int64 i = 0; i < nmsgs; i++)
	{
		TurnMsg    *msg = &state->msgs[i];

		msg->sent_at = pq_getmsgint64(&buf);
		msg->message_id = pq_getmsgint64(&buf);
		msg->agent_id = (int32) pq_getmsgint(&buf, 4);
		msg->sender = (uint8) pq_getmsgbyte(&buf);
		msg->flags = (uint8) pq_getmsgbyte(&buf);

		if (!IS_VALID_TIMESTAMP(msg->sent_at))
			turns_corrupt("Message " INT64_FORMAT " has a sent_at out of range.", i + 1);
		if (msg->sender >= TURN_SENDER_COUNT)
			turns_corrupt("Message " INT64_FORMAT " has an unknown sender code.", i + 1);
		if ((msg->flags & ~TURN_MSG_FLAGS_ALL) != 0)
			turns_corrupt("Message " INT64_FORMAT " has unknown flags.", i + 1);
		if (msg->sender != TURN_SENDER_AGENT && !(msg->flags & TURN_MSG_AGENT_NULL))
			turns_corrupt("Message " INT64_FORMAT " is not an agent's but carries an agent_id.",
						  i + 1);
		if ((msg->flags & TURN_MSG_AGENT_NULL) && msg->agent_id != 0)
			turns_corrupt("Message " INT64_FORMAT " has a null agent_id with a value.", i + 1);

		if (state->sorted && i > 0 && turn_msg_cmp(msg - 1, msg) > 0)
			state->sorted = false;
	}
	state->nmsgs = nmsgs;
	pq_getmsgend(&buf);
	return state;
}

/*
 * kpi.reply_turns_deserialize(bytea, internal) -> internal
 */
Datum
kpi_turns_deserialize(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		turns_not_in_aggregate("kpi.reply_turns_deserialize");
	PG_RETURN_POINTER(turns_state_from_bytes(PG_GETARG_BYTEA_PP(0)));
}

/*
 * The result type of the final function and one template value per shape,
 * cached per call site.  The composite's descriptor comes from the type
 * cache (so it carries the row type's current version) and is checked
 * against the layout this file writes.
 */
static TurnsFinalCache *
turns_final_cache(FunctionCallInfo fcinfo)
{
	TurnsFinalCache *cache = (TurnsFinalCache *) fcinfo->flinfo->fn_extra;
	MemoryContext oldcontext;
	Oid			rettype;
	int16		elemlen;
	bool		elembyval;
	TupleDesc	tupdesc;

	if (cache != NULL)
		return cache;

	rettype = get_fn_expr_rettype(fcinfo->flinfo);
	if (!OidIsValid(rettype))
		rettype = get_func_rettype(fcinfo->flinfo->fn_oid);

	oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache = (TurnsFinalCache *) palloc0(sizeof(TurnsFinalCache));
	cache->elemtype = get_element_type(rettype);
	if (!OidIsValid(cache->elemtype) || get_typtype(cache->elemtype) != TYPTYPE_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("kpi.reply_turns must return an array of kpi.turn, not %s",
						format_type_be(rettype))));
	get_typlenbyvalalign(cache->elemtype, &elemlen, &elembyval, &cache->elemalign);

	tupdesc = lookup_rowtype_tupdesc_copy(cache->elemtype, -1);
	if (tupdesc->natts != TURN_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("type %s has %d columns, kpi.reply_turns writes %d",
						format_type_be(cache->elemtype), tupdesc->natts, TURN_NATTS),
				 errhint("Reinstall the kpi extension.")));
	for (int i = 0; i < TURN_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || att->atttypid != turn_column_types[i])
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column %d of type %s is not of type %s",
							i + 1, format_type_be(cache->elemtype),
							format_type_be(turn_column_types[i])),
					 errhint("Reinstall the kpi extension.")));
	}
	cache->tupdesc = tupdesc;

	for (int shape = 0; shape < TURN_SHAPE_COUNT; shape++)
	{
		Datum		values[TURN_NATTS] = {0};
		bool		nulls[TURN_NATTS] = {0};
		HeapTuple	tuple;

		values[0] = TimestampTzGetDatum(0);
		values[1] = TimestampTzGetDatum(0);
		values[2] = Int32GetDatum(0);
		values[3] = BoolGetDatum(false);
		values[4] = BoolGetDatum(false);
		values[5] = Float8GetDatum(0.0);
		if (shape == TURN_SHAPE_ANSWERED_NOBODY)
			nulls[2] = true;
		else if (shape == TURN_SHAPE_UNANSWERED)
			nulls[1] = nulls[2] = nulls[5] = true;

		tuple = heap_form_tuple(tupdesc, values, nulls);
		cache->template[shape] = tuple->t_data;
		cache->len[shape] = tuple->t_len;
		cache->stride[shape] = att_align_nominal(tuple->t_len, cache->elemalign);
	}
	MemoryContextSwitchTo(oldcontext);

	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/* Seconds from one timestamp to a later one, exact to the microsecond. */
static inline double
turn_seconds(TimestampTz from, TimestampTz to)
{
	int64		usecs;

	if (pg_sub_s64_overflow(to, from, &usecs))
		return ((double) to - (double) from) / USECS_PER_SEC;
	return (double) usecs / USECS_PER_SEC;
}

/*
 * The turns found by the walk: on the stack for the usual few, in palloc'd
 * memory doubled as needed beyond that.
 */
#define TURNS_LOCAL 32
typedef struct TurnBuf
{
	TurnOut    *turns;
	int64		nturns;
	int64		capacity;
	TurnOut		local[TURNS_LOCAL];
} TurnBuf;

static inline void
turns_emit(TurnBuf *buf, TimestampTz opened_at, TimestampTz answered_at,
		   int32 agent_id, uint8 shape)
{
	TurnOut    *turn;

	if (buf->nturns == buf->capacity)
	{
		Size		bytes = buf->capacity * 2 * sizeof(TurnOut);

		if (buf->turns == buf->local)
		{
			buf->turns = (TurnOut *) MemoryContextAllocHuge(CurrentMemoryContext, bytes);
			memcpy(buf->turns, buf->local, sizeof(buf->local));
		}
		else
			buf->turns = (TurnOut *) repalloc_huge(buf->turns, bytes);
		buf->capacity *= 2;
	}
	turn = &buf->turns[buf->nturns++];
	turn->opened_at = opened_at;
	turn->answered_at = answered_at;
	turn->agent_id = agent_id;
	turn->shape = shape;
}

/*
 * The turns of a state as a kpi.turn[] (an empty array if there are none).
 * Sorts the records in place if they arrived out of order; the state stays
 * a valid state of the same messages, so the final function may be called
 * again and more rows may follow (window aggregates).
 */
static ArrayType *
turns_build(FunctionCallInfo fcinfo, TurnsState *state)
{
	TurnsFinalCache *cache = turns_final_cache(fcinfo);
	TurnBuf		buf;
	TurnOut    *turns;
	int64		nturns;
	bool		open = false;
	TimestampTz opened_at = 0;
	Size		nbytes;
	ArrayType  *result;
	char	   *p;

	if (!state->sorted)
	{
		turn_msg_sort(state->msgs, state->nmsgs);
		state->sorted = true;
	}

	/* The one walk over the messages (SPEC 3.1). */
	buf.turns = buf.local;
	buf.nturns = 0;
	buf.capacity = TURNS_LOCAL;
	for (int64 i = 0; i < state->nmsgs; i++)
	{
		const TurnMsg *msg = &state->msgs[i];

		if (msg->sender == TURN_SENDER_CUSTOMER)
		{
			if (!open)
			{
				open = true;
				opened_at = msg->sent_at;
			}
		}
		else if (msg->sender == TURN_SENDER_AGENT)
		{
			if (open)
			{
				turns_emit(&buf, opened_at, msg->sent_at, msg->agent_id,
						   (msg->flags & TURN_MSG_AGENT_NULL) ?
						   TURN_SHAPE_ANSWERED_NOBODY : TURN_SHAPE_ANSWERED);
				open = false;
			}
			/* else a follow-up: ignored */
		}
		/* auto and system messages neither open, answer nor close */
	}
	if (open)
		turns_emit(&buf, opened_at, 0, 0, TURN_SHAPE_UNANSWERED);
	turns = buf.turns;
	nturns = buf.nturns;

	if (nturns == 0)
		return construct_empty_array(cache->elemtype);

	/* Size the one-dimensional array without NULL elements, then fill it. */
	nbytes = ARR_OVERHEAD_NONULLS(1);
	for (int64 i = 0; i < nturns; i++)
	{
		nbytes += cache->stride[turns[i].shape];
		if (nbytes > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many turns in one conversation for kpi.reply_turns"),
					 errdetail("The conversation has " INT64_FORMAT " turns; their array would exceed the maximum size of a value (1 GB).",
							   nturns)));
	}

	result = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(result, nbytes);
	result->ndim = 1;
	result->dataoffset = 0;
	result->elemtype = cache->elemtype;
	ARR_DIMS(result)[0] = (int) nturns;
	ARR_LBOUND(result)[0] = 1;

	/*
	 * Each value is its shape's template (length, row type and its version,
	 * null bitmap) with the data filled in by heap_fill_tuple, which is
	 * exactly what heap_form_tuple would produce.
	 */
	p = ARR_DATA_PTR(result);
	for (int64 i = 0; i < nturns; i++)
	{
		const TurnOut *turn = &turns[i];
		HeapTupleHeader td = (HeapTupleHeader) p;
		HeapTupleHeader template = cache->template[turn->shape];
		Datum		values[TURN_NATTS];
		bool		nulls[TURN_NATTS] = {0};
		bool		answered = turn->shape != TURN_SHAPE_UNANSWERED;

		values[0] = TimestampTzGetDatum(turn->opened_at);
		values[1] = TimestampTzGetDatum(turn->answered_at);
		values[2] = Int32GetDatum(turn->agent_id);
		values[3] = BoolGetDatum(answered);
		values[4] = BoolGetDatum(i == 0);
		values[5] = Float8GetDatum(answered ?
								   turn_seconds(turn->opened_at, turn->answered_at) : 0.0);
		if (turn->shape == TURN_SHAPE_ANSWERED_NOBODY)
			nulls[2] = true;
		else if (turn->shape == TURN_SHAPE_UNANSWERED)
			nulls[1] = nulls[2] = nulls[5] = true;

		memcpy(td, template, template->t_hoff);
		heap_fill_tuple(cache->tupdesc, values, nulls,
						p + template->t_hoff,
						cache->len[turn->shape] - template->t_hoff,
						&td->t_infomask,
						turn->shape == TURN_SHAPE_ANSWERED ? NULL : td->t_bits);
		p += cache->stride[turn->shape];
	}
	Assert(p == (char *) result + nbytes);
	if (turns != buf.local)
		pfree(turns);
	return result;
}

/*
 * kpi.reply_turns_final(internal) -> kpi.turn[]
 *
 * Strict: an empty group has no state and gives NULL, as aggregates do.
 */
Datum
kpi_turns_final(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		turns_not_in_aggregate("kpi.reply_turns_final");
	PG_RETURN_ARRAYTYPE_P(turns_build(fcinfo, (TurnsState *) PG_GETARG_POINTER(0)));
}

/*
 * kpi.reply_turns_decode(state bytea) -> kpi.turn[]
 *
 * The turns held by a serialized state, the bytes parallel workers pass to
 * the leader: for checking those bytes and for debugging.
 */
Datum
kpi_turns_decode(PG_FUNCTION_ARGS)
{
	TurnsState *state = turns_state_from_bytes(PG_GETARG_BYTEA_PP(0));

	PG_RETURN_ARRAYTYPE_P(turns_build(fcinfo, state));
}
