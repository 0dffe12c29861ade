/*-------------------------------------------------------------------------
 *
 * turns.h
 *		The reply-turn aggregate kpi.reply_turns (SPEC 3.1, 4.1): its state
 *		and the byte format of that state between parallel workers.
 *
 * A group is one conversation.  The state keeps one fixed-size record per
 * message and nothing else, so its memory is bounded by the group's size
 * (24 bytes a message) and a transition never allocates per message.  The
 * turns are only derived in the final function, from the records sorted by
 * (sent_at, message_id).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KPI_TURNS_H
#define KPI_TURNS_H

#include "datatype/timestamp.h"

/*
 * Sender codes kept in the records.  They are fixed by this file, not by
 * the OIDs of the kpi.sender labels, so combine, serialize and deserialize
 * never need a catalog lookup.
 */
#define TURN_SENDER_CUSTOMER	0
#define TURN_SENDER_AGENT		1
#define TURN_SENDER_AUTO		2
#define TURN_SENDER_SYSTEM		3
#define TURN_SENDER_COUNT		4

/* TurnMsg.flags: the message's agent_id was NULL (or was not an agent's). */
#define TURN_MSG_AGENT_NULL		0x01
#define TURN_MSG_FLAGS_ALL		TURN_MSG_AGENT_NULL

/* One message of the conversation: 24 bytes with padding. */
typedef struct TurnMsg
{
	TimestampTz sent_at;
	int64		message_id;
	int32		agent_id;		/* 0 unless an agent's message with an id */
	uint8		sender;			/* TURN_SENDER_* */
	uint8		flags;			/* TURN_MSG_* */
} TurnMsg;

/*
 * The aggregate state: a growable array of records in one allocation in the
 * aggregate memory context.  "sorted" says the records are already in
 * (sent_at, message_id, ...) order, which is what an ORDER BY or an index
 * scan delivers; the final function sorts only when it is false.
 */
typedef struct TurnsState
{
	int64		nmsgs;			/* records in use */
	int64		capacity;		/* records allocated */
	bool		sorted;			/* msgs[0 .. nmsgs) in order */
	TurnMsg		msgs[FLEXIBLE_ARRAY_MEMBER];
} TurnsState;

/*
 * Serialized state (bytea, between parallel workers), all integers in
 * network byte order:
 *
 *	uint8	format version (TURNS_SERIAL_VERSION)
 *	int64	number of records (at least 1)
 *	then per record: int64 sent_at, int64 message_id, int32 agent_id,
 *		uint8 sender code, uint8 flags
 *
 * The order flag is not sent: the receiver recomputes it.
 */
#define TURNS_SERIAL_VERSION	1
#define TURNS_SERIAL_HEADER		(1 + 8)
#define TURNS_SERIAL_RECORD		(8 + 8 + 4 + 1 + 1)

#endif							/* KPI_TURNS_H */
