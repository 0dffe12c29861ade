/*-------------------------------------------------------------------------
 *
 * proportion.c
 *		kpi.proportion: a count of hits among trials (SPEC 4.3), its rate and
 *		Wilson score interval, and kpi.proportion_agg with combine and exact
 *		inverse transition functions for rolling windows.
 *
 * Representation.  A proportion is two int64 counts, always both present, so
 * the type is fixed-length and passed by reference: 16 bytes, double
 * alignment, no varlena header.  A varlena would buy nothing here: there is
 * nothing variable to describe, no TOAST to worry about, and a version byte
 * would only matter if the layout could change, which a pair of bigints will
 * not (a richer value would be a new type).  Fixed length also lets the
 * aggregate state be the value itself, updated in place.  Every path that
 * builds a value (text, binary, constructor, aggregate rows) goes through
 * kpi_proportion_check(), so a stored value always has 0 <= hits <= trials.
 *
 * Aggregate state.  The state type is kpi.proportion itself, not internal
 * (SPEC 1: Citus combines only real types, shipping them as text, which
 * round-trips exactly).  The transition functions are strict with initial
 * condition '0/0': rows with a NULL argument are skipped by the executor, an
 * empty group yields 0/0 (whose rate and bounds are NULL), and the state is
 * always a value the executor copied into the aggregate context, so it may be
 * updated in place there.  Sums are checked with pg_add_s64_overflow; the
 * inverse subtracts integers and is therefore exact.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "common/int.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "proportion.h"

StaticAssertDecl(sizeof(Proportion) == PROPORTION_SIZE,
				 "kpi.proportion must be exactly INTERNALLENGTH bytes");

/* The z of the Wilson score interval (SPEC 3.6): a two-sided 95 % interval. */
#define WILSON_Z 1.96

PG_FUNCTION_INFO_V1(kpi_proportion_in);
PG_FUNCTION_INFO_V1(kpi_proportion_out);
PG_FUNCTION_INFO_V1(kpi_proportion_recv);
PG_FUNCTION_INFO_V1(kpi_proportion_send);
PG_FUNCTION_INFO_V1(kpi_proportion_make);
PG_FUNCTION_INFO_V1(kpi_proportion_hits);
PG_FUNCTION_INFO_V1(kpi_proportion_trials);
PG_FUNCTION_INFO_V1(kpi_proportion_rate);
PG_FUNCTION_INFO_V1(kpi_proportion_wilson_lower);
PG_FUNCTION_INFO_V1(kpi_proportion_wilson_upper);
PG_FUNCTION_INFO_V1(kpi_proportion_eq);
PG_FUNCTION_INFO_V1(kpi_proportion_ne);
PG_FUNCTION_INFO_V1(kpi_proportion_hash);
PG_FUNCTION_INFO_V1(kpi_proportion_hash_extended);
PG_FUNCTION_INFO_V1(kpi_proportion_accum);
PG_FUNCTION_INFO_V1(kpi_proportion_retract);
PG_FUNCTION_INFO_V1(kpi_proportion_combine);
PG_FUNCTION_INFO_V1(kpi_proportion_uncombine);

/*
 * The one gate for every (hits, trials) pair that becomes a value or enters
 * an aggregate.
 */
void
kpi_proportion_check(int64 hits, int64 trials)
{
	if (hits >= 0 && trials >= 0 && hits <= trials)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 hits < 0 ?
			 errmsg("invalid proportion: negative hits " INT64_FORMAT, hits) :
			 trials < 0 ?
			 errmsg("invalid proportion: negative trials " INT64_FORMAT, trials) :
			 errmsg("invalid proportion: hits " INT64_FORMAT " exceed trials " INT64_FORMAT,
					hits, trials),
			 errdetail("A proportion counts hits among trials, so 0 <= hits <= trials; got hits "
					   INT64_FORMAT " and trials " INT64_FORMAT ".", hits, trials)));
}

static Proportion *
proportion_new(int64 hits, int64 trials)
{
	Proportion *p = (Proportion *) palloc(sizeof(Proportion));

	p->hits = hits;
	p->trials = trials;
	return p;
}

/*
 * The value a transition function may write its result into: the state
 * itself when called as an aggregate (the executor keeps it in the aggregate
 * context, and PostgreSQL documents that it may then be modified in place),
 * a fresh copy when called as a plain function.
 */
static Proportion *
proportion_target(FunctionCallInfo fcinfo, Proportion *state)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return state;
	return proportion_new(state->hits, state->trials);
}

/*
 * state += (hits, trials), or an error naming the overflowing count.  With
 * both pairs valid only trials can overflow; the hits check is a guard.
 */
static void
proportion_add(Proportion *state, int64 hits, int64 trials)
{
	int64		newhits;
	int64		newtrials;

	if (pg_add_s64_overflow(state->trials, trials, &newtrials))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("proportion trials out of range"),
				 errdetail("Adding " INT64_FORMAT " trials to " INT64_FORMAT " exceeds the bigint range.",
						   trials, state->trials)));
	if (pg_add_s64_overflow(state->hits, hits, &newhits))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("proportion hits out of range"),
				 errdetail("Adding " INT64_FORMAT " hits to " INT64_FORMAT " exceeds the bigint range.",
						   hits, state->hits)));
	state->hits = newhits;
	state->trials = newtrials;
}

/*
 * state -= (hits, trials): the inverse of proportion_add.  Inside a moving
 * aggregate it only removes what was added, so it cannot fail; called by hand
 * it can ask for more than the state holds, which is refused.
 */
static void
proportion_sub(Proportion *state, int64 hits, int64 trials)
{
	int64		newhits = state->hits - hits;
	int64		newtrials = state->trials - trials;

	/* Both operands are non-negative, so the differences cannot overflow. */
	if (newhits < 0 || newtrials < 0 || newhits > newtrials)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot remove hits " INT64_FORMAT " and trials " INT64_FORMAT " from proportion " INT64_FORMAT "/" INT64_FORMAT,
						hits, trials, state->hits, state->trials),
				 errdetail("The result would not satisfy 0 <= hits <= trials.")));
	state->hits = newhits;
	state->trials = newtrials;
}

/* ---------------------------------------------------------------------
 * Text and binary I/O
 * ---------------------------------------------------------------------
 */

/* What the text parser expected where it stopped. */
typedef enum ProportionSyntax
{
	EXPECT_HITS,
	EXPECT_SLASH,
	EXPECT_TRIALS,
	EXPECT_END
} ProportionSyntax;

static void
proportion_syntax_error(const char *str, ProportionSyntax expected, const char *at)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type kpi.proportion: \"%s\"", str),
			 *at == '\0' ? errdetail("The input ends too early.") :
			 expected == EXPECT_HITS ? errdetail("Expected the hits, an integer, at \"%s\".", at) :
			 expected == EXPECT_SLASH ? errdetail("Expected \"/\" after the hits at \"%s\".", at) :
			 expected == EXPECT_TRIALS ? errdetail("Expected the trials, an integer, at \"%s\".", at) :
			 errdetail("Unexpected \"%s\" after the trials.", at),
			 errhint("Write hits/trials as two non-negative integers, e.g. \"3/10\".")));
}

/* The six ASCII white-space characters, as C's isspace() in the C locale. */
static inline bool
proportion_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Read one count at *pp: an optional sign and one or more ASCII digits.
 * Overflow of bigint is an error; a negative value is returned as such and
 * refused later by kpi_proportion_check with both numbers in the message.
 */
static int64
proportion_parse_count(const char *str, const char **pp, bool is_hits)
{
	const char *what = is_hits ? "hits" : "trials";
	const char *p = *pp;
	bool		negative = false;
	int64		value = 0;

	if (*p == '+' || *p == '-')
	{
		negative = (*p == '-');
		p++;
	}
	if (*p < '0' || *p > '9')
		proportion_syntax_error(str, is_hits ? EXPECT_HITS : EXPECT_TRIALS, p);
	while (*p >= '0' && *p <= '9')
	{
		if (pg_mul_s64_overflow(value, 10, &value) ||
			pg_add_s64_overflow(value, *p - '0', &value))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s in \"%s\" is out of range for type bigint", what, str),
					 errdetail("kpi.proportion counts are bigint: at most " INT64_FORMAT ".",
							   PG_INT64_MAX)));
		p++;
	}
	*pp = p;
	return negative ? -value : value;
}

/*
 * Text form: hits/trials, e.g. "3/10".  Grammar (ws: space, tab, newline,
 * carriage return, form feed, vertical tab; digits: ASCII 0-9):
 *
 *		[ws] [+|-] digits [ws] "/" [ws] [+|-] digits [ws]
 *
 * Output is always the canonical form, digits without sign, leading zeros or
 * spaces, so output -> input -> output is the identity.
 */
Datum
kpi_proportion_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	const char *p = str;
	int64		hits;
	int64		trials;

	while (proportion_isspace(*p))
		p++;
	if (*p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type kpi.proportion: \"%s\"", str),
				 errdetail("The input is empty."),
				 errhint("Write hits/trials as two non-negative integers, e.g. \"3/10\".")));
	hits = proportion_parse_count(str, &p, true);
	while (proportion_isspace(*p))
		p++;
	if (*p != '/')
		proportion_syntax_error(str, EXPECT_SLASH, p);
	p++;
	while (proportion_isspace(*p))
		p++;
	trials = proportion_parse_count(str, &p, false);
	while (proportion_isspace(*p))
		p++;
	if (*p != '\0')
		proportion_syntax_error(str, EXPECT_END, p);

	kpi_proportion_check(hits, trials);
	PG_RETURN_PROPORTION_P(proportion_new(hits, trials));
}

Datum
kpi_proportion_out(PG_FUNCTION_ARGS)
{
	Proportion *p = PG_GETARG_PROPORTION_P(0);
	char	   *buf = palloc(2 * MAXINT8LEN + 2);
	int			len;

	len = pg_lltoa(p->hits, buf);
	buf[len++] = '/';
	pg_lltoa(p->trials, buf + len);
	PG_RETURN_CSTRING(buf);
}

/*
 * Binary form: hits then trials, each a big-endian int64 (as bigint's).
 * Exactly 16 bytes; anything else, or a pair that breaks 0 <= hits <=
 * trials, is refused.
 */
Datum
kpi_proportion_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			remaining = buf->len - buf->cursor;
	int64		hits;
	int64		trials;

	if (remaining != PROPORTION_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary kpi.proportion: %d bytes", remaining),
				 errdetail("A binary kpi.proportion is exactly %d bytes: hits and trials as big-endian bigints.",
						   PROPORTION_SIZE)));
	hits = pq_getmsgint64(buf);
	trials = pq_getmsgint64(buf);
	kpi_proportion_check(hits, trials);
	PG_RETURN_PROPORTION_P(proportion_new(hits, trials));
}

Datum
kpi_proportion_send(PG_FUNCTION_ARGS)
{
	Proportion *p = PG_GETARG_PROPORTION_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, p->hits);
	pq_sendint64(&buf, p->trials);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Constructor and accessors
 * ---------------------------------------------------------------------
 */

Datum
kpi_proportion_make(PG_FUNCTION_ARGS)
{
	int64		hits = PG_GETARG_INT64(0);
	int64		trials = PG_GETARG_INT64(1);

	kpi_proportion_check(hits, trials);
	PG_RETURN_PROPORTION_P(proportion_new(hits, trials));
}

Datum
kpi_proportion_hits(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_PROPORTION_P(0)->hits);
}

Datum
kpi_proportion_trials(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_PROPORTION_P(0)->trials);
}

/* hits / trials; NULL for 0/0 (SPEC 3.4: a rate over nothing is unknown). */
Datum
kpi_proportion_rate(PG_FUNCTION_ARGS)
{
	Proportion *p = PG_GETARG_PROPORTION_P(0);

	if (p->trials == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8((double) p->hits / (double) p->trials);
}

/*
 * The Wilson score interval of hits among trials (trials > 0), z = 1.96:
 *
 *		centre = (p + z^2/2n) / a,  half = z/a * sqrt(p q / n + z^2/4n^2),
 *		a = 1 + z^2/n,  p = hits/n,  q = (trials - hits)/n
 *
 * The bounds are the roots of a x^2 - (2p + z^2/n) x + p^2 = 0.  The upper
 * root, centre + half, is a sum of positive terms; the lower one is taken as
 * p^2 / (a * upper) (the product of the roots) rather than centre - half,
 * which cancels catastrophically when p is small and n huge.  q comes from
 * the exact integer trials - hits, not 1 - p.  The ends are exact: lower is
 * 0 when hits = 0 and upper is 1 when hits = trials.
 */
static void
proportion_wilson(const Proportion *prop, double *lower, double *upper)
{
	const double z = WILSON_Z;
	const double zz = WILSON_Z * WILSON_Z;
	double		n = (double) prop->trials;
	double		p = (double) prop->hits / n;
	double		q = (double) (prop->trials - prop->hits) / n;
	double		a = 1.0 + zz / n;
	double		centre = (p + zz / (2.0 * n)) / a;
	double		half = z / a * sqrt(p * q / n + zz / (4.0 * n * n));
	double		hi = centre + half;

	*upper = (prop->hits == prop->trials) ? 1.0 : Min(hi, 1.0);
	*lower = (prop->hits == 0) ? 0.0 : p * p / (a * hi);
}

Datum
kpi_proportion_wilson_lower(PG_FUNCTION_ARGS)
{
	Proportion *p = PG_GETARG_PROPORTION_P(0);
	double		lower;
	double		upper;

	if (p->trials == 0)
		PG_RETURN_NULL();
	proportion_wilson(p, &lower, &upper);
	PG_RETURN_FLOAT8(lower);
}

Datum
kpi_proportion_wilson_upper(PG_FUNCTION_ARGS)
{
	Proportion *p = PG_GETARG_PROPORTION_P(0);
	double		lower;
	double		upper;

	if (p->trials == 0)
		PG_RETURN_NULL();
	proportion_wilson(p, &lower, &upper);
	PG_RETURN_FLOAT8(upper);
}

/* ---------------------------------------------------------------------
 * Equality and hashing: (hits, trials) pairs are equal when both counts
 * are, so 1/2 <> 2/4 (the same rate on different evidence).  There is no
 * ordering: neither by pair nor by rate is obviously right, so there is no
 * btree class; order by kpi.rate(p) instead.
 * ---------------------------------------------------------------------
 */

Datum
kpi_proportion_eq(PG_FUNCTION_ARGS)
{
	Proportion *a = PG_GETARG_PROPORTION_P(0);
	Proportion *b = PG_GETARG_PROPORTION_P(1);

	PG_RETURN_BOOL(a->hits == b->hits && a->trials == b->trials);
}

Datum
kpi_proportion_ne(PG_FUNCTION_ARGS)
{
	Proportion *a = PG_GETARG_PROPORTION_P(0);
	Proportion *b = PG_GETARG_PROPORTION_P(1);

	PG_RETURN_BOOL(a->hits != b->hits || a->trials != b->trials);
}

/*
 * Hash the two counts in a fixed (little-endian) byte order, so the hash,
 * like bigint's, does not depend on the machine (it can be used for hash
 * partitioning).
 */
static void
proportion_hash_bytes(const Proportion *p, unsigned char *bytes)
{
	uint64		h = (uint64) p->hits;
	uint64		t = (uint64) p->trials;
	int			i;

	for (i = 0; i < 8; i++)
	{
		bytes[i] = (unsigned char) (h >> (8 * i));
		bytes[8 + i] = (unsigned char) (t >> (8 * i));
	}
}

Datum
kpi_proportion_hash(PG_FUNCTION_ARGS)
{
	unsigned char bytes[PROPORTION_SIZE];

	proportion_hash_bytes(PG_GETARG_PROPORTION_P(0), bytes);
	return hash_any(bytes, PROPORTION_SIZE);
}

Datum
kpi_proportion_hash_extended(PG_FUNCTION_ARGS)
{
	unsigned char bytes[PROPORTION_SIZE];

	proportion_hash_bytes(PG_GETARG_PROPORTION_P(0), bytes);
	return hash_any_extended(bytes, PROPORTION_SIZE, (uint64) PG_GETARG_INT64(1));
}

/* ---------------------------------------------------------------------
 * Aggregate support.  All four are strict: the executor skips rows with a
 * NULL argument, and the state (initial condition '0/0') is never NULL.
 * ---------------------------------------------------------------------
 */

/* kpi.proportion_agg(hits, trials) transition: add one checked row. */
Datum
kpi_proportion_accum(PG_FUNCTION_ARGS)
{
	Proportion *state = proportion_target(fcinfo, PG_GETARG_PROPORTION_P(0));
	int64		hits = PG_GETARG_INT64(1);
	int64		trials = PG_GETARG_INT64(2);

	kpi_proportion_check(hits, trials);
	proportion_add(state, hits, trials);
	PG_RETURN_PROPORTION_P(state);
}

/* Inverse of kpi_proportion_accum for moving (window) aggregates. */
Datum
kpi_proportion_retract(PG_FUNCTION_ARGS)
{
	Proportion *state = proportion_target(fcinfo, PG_GETARG_PROPORTION_P(0));
	int64		hits = PG_GETARG_INT64(1);
	int64		trials = PG_GETARG_INT64(2);

	kpi_proportion_check(hits, trials);
	proportion_sub(state, hits, trials);
	PG_RETURN_PROPORTION_P(state);
}

/*
 * Combine function of both aggregates, and transition function of
 * kpi.proportion_agg(kpi.proportion).  Only the first argument is written.
 */
Datum
kpi_proportion_combine(PG_FUNCTION_ARGS)
{
	Proportion *state = proportion_target(fcinfo, PG_GETARG_PROPORTION_P(0));
	Proportion *other = PG_GETARG_PROPORTION_P(1);

	proportion_add(state, other->hits, other->trials);
	PG_RETURN_PROPORTION_P(state);
}

/* Inverse of kpi_proportion_combine for moving (window) aggregates. */
Datum
kpi_proportion_uncombine(PG_FUNCTION_ARGS)
{
	Proportion *state = proportion_target(fcinfo, PG_GETARG_PROPORTION_P(0));
	Proportion *other = PG_GETARG_PROPORTION_P(1);

	proportion_sub(state, other->hits, other->trials);
	PG_RETURN_PROPORTION_P(state);
}
