/*-------------------------------------------------------------------------
 *
 * sketch.c
 *		kpi.sketch: a mergeable, invertible latency histogram whose quantiles
 *		carry a guaranteed relative error, with exact count, sum, min and max
 *		(SPEC 4.2).
 *
 * Layout.  A value x (seconds) falls in bucket 0 when x < 2^-30 s (about
 * 0.93 ns; this includes 0).  Otherwise write x = 2^e m with 1 <= m < 2 and
 * -30 <= e <= 32.  The octave [2^e, 2^(e+1)) is cut at 2^e T[j], where
 * T[j] = 2^(j/35) rounded to double (T[0] = 1, T[35] = 2), and x falls in
 * bucket 1 + 35 (e + 30) + j for T[j] <= m < T[j+1].  The 2206 buckets cover
 * 0 .. 2^33 s (272 years) with the same guarantee, well beyond the 1 ms ..
 * 1 year the SPEC asks for.  The index comes from the bits of the double
 * alone (the exponent; the top 8 mantissa bits pick the only candidate cut
 * and one integer compare settles it), so it is exact and identical on every
 * platform: no log() and no libm rounding at bucket edges.
 *
 * Error bound.  A quantile whose value lies in bucket [L, U) = 2^e [T[j],
 * T[j+1]) is reported as R = 2^e M[j], where M[j] = 2 T[j] T[j+1] / (T[j] +
 * T[j+1]) rounded to double (the scaling by 2^e is exact).  For any x in
 * [L, U): |R - x| / x <= max((R - L) / L, (U - R) / U), which for the exact
 * M is (rho - 1) / (rho + 1) with rho = U / L = 2^(1/35): 0.0099018.
 * Evaluating that maximum over the 35 actual doubles T and M with exact
 * rational arithmetic gives SKETCH_ERROR = 0.0099017789530032 < 1 %.
 * Clamping R into [min, max], which contains x, only moves it closer to x.
 * Rank 1 and rank n return the exact min and max.  In bucket 0 the answer is
 * the exact min, off by less than 2^-30 s (absolute).
 *
 * Quantiles are nearest rank, as percentile_disc: the value of rank
 * r = max(1, ceil(q * n)) in ascending order, with q * n computed in float8
 * exactly as percentile_disc does it.  Hence |estimate - percentile_disc| <=
 * SKETCH_ERROR * percentile_disc for every q.
 *
 * Inputs.  NaN, infinite and negative values are errors (22023); values of
 * 2^33 s and more are errors (22003), because the sum below must stay exact.
 * -0 is stored as 0.  An interval is converted to float8 seconds as
 * extract(epoch from ...) does (a month is 30 days, a year 365.25 days), so
 * sketch_agg(i) and sketch_agg(extract(epoch from i)::float8) give the same
 * bytes.
 *
 * Exact fields.  count is an int64; min and max are the exact float8 inputs;
 * the sum is a 128-bit integer of nanoseconds, each input rounded to the
 * nearest ns (ties up) with integer arithmetic.  So float8 seconds keep 1 ns
 * resolution, and microsecond data (timestamps, intervals) sums exactly for
 * durations below 2^23 s (97 days; above that a float8 has less than 1 ns
 * resolution anyway).  It cannot overflow: fewer than 2^63 values, each
 * below 2^63 ns.  Merging and un-merging add and subtract integers, so a
 * sliding window's mean equals a recomputation bit for bit; mean() is the
 * correctly rounded quotient sum / (n * 1e9).
 *
 * Forms.  A stored sketch is canonical (sketch.h): 48 header bytes and 3 to
 * 10 bytes per occupied bucket, about 180 bytes for a day of 50 response
 * times.  Inside an aggregate the state may carry spare entries after its
 * last one (within its varlena length, so the room survives the executor's
 * copies), a wider count than needed, and from 64 buckets on an occupancy
 * index (a bitmap of the buckets with running counts, 352 bytes) so that
 * adding a value finds its entry with two loads and a popcount rather than
 * a binary search.  Readers go by nbuckets and width, never by the length;
 * the final functions restore the canonical form.  So the bytes depend only
 * on the multiset of inputs, not on input order or parallel plan.
 *
 * Aggregates.  sketch_agg and rollup keep a kpi.sketch as their state (not
 * internal: Citus 13 combines only real types, sent as text) and update it
 * in place inside the aggregate context.  Growing it means returning a new,
 * larger value, which the executor copies into its context; capacity
 * doubles, so that stays rare.  In moving-aggregate mode (sliding window
 * frames) rollup keeps an internal state: dense integer counts and, for min
 * and max, two monotone queues keyed by arrival order.  The executor removes
 * rows from a moving frame in the order it added them, so the queue heads
 * are the exact min and max of what remains, and the inverse transition
 * never has to give up (return NULL) and force a recomputation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "libpq/pqformat.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "sketch.h"

#ifndef HAVE_INT128
#error "kpi.sketch needs a compiler with a 128-bit integer type"
#endif

/* The largest relative error of a reported quantile (head comment). */
#define SKETCH_ERROR		0.0099017789530032

#define SKETCH_FRAC_BITS	52
#define SKETCH_FRAC_MASK	((UINT64CONST(1) << SKETCH_FRAC_BITS) - 1)
#define SKETCH_EXP_BIAS		1023
#define SKETCH_MIN_CAPACITY 8
#define SKETCH_BITMAP_WORDS ((SKETCH_NBUCKETS + 63) / 64)
#define SKETCH_BIN_HEADER	(1 + 5 * 8 + 4) /* binary form before entries */
#define SKETCH_BIN_ENTRY	(2 + 8)

/* Mantissa bits of T[j] = 2^(j/35), j = 0 .. 35 (T[35] = 2 is 2^52). */
static const uint64 sketch_thresholds[SKETCH_SUB + 1] = {
	UINT64CONST(0x0000000000000), UINT64CONST(0x051ed35254d7b), UINT64CONST(0x0a57de9c16bc7),
	UINT64CONST(0x0faba81d4e5df), UINT64CONST(0x151ab8c56eea2), UINT64CONST(0x1aa59c4115e7d),
	UINT64CONST(0x204ce10811781), UINT64CONST(0x2611186bae675), UINT64CONST(0x2bf2d6a54f7da),
	UINT64CONST(0x31f2b2e54f85d), UINT64CONST(0x381147622f886), UINT64CONST(0x3e4f316812c30),
	UINT64CONST(0x44ad116889e7b), UINT64CONST(0x4b2b8b0aaf3c7), UINT64CONST(0x51cb453b9536c),
	UINT64CONST(0x588cea3f093be), UINT64CONST(0x5f7127c0ac32a), UINT64CONST(0x6678aee5629f8),
	UINT64CONST(0x6da4345d1e0ad), UINT64CONST(0x74f47075017a0), UINT64CONST(0x7c6a1f29e2ce6),
	UINT64CONST(0x8406003b2ae5c), UINT64CONST(0x8bc8d73e16610), UINT64CONST(0x93b36bb158fff),
	UINT64CONST(0x9bc68911258c0), UINT64CONST(0xa402feeb9c533), UINT64CONST(0xac69a0f5a241c),
	UINT64CONST(0xb4fb472022b1a), UINT64CONST(0xbdb8cdadbe120), UINT64CONST(0xc6a31548e794d),
	UINT64CONST(0xcfbb031a741a5), UINT64CONST(0xd90180e09c9e4), UINT64CONST(0xe2777d0676770),
	UINT64CONST(0xec1deabbe3c14), UINT64CONST(0xf5f5c20dfe5f2), UINT64CONST(0x10000000000000),
};

/* M[j] = 2 T[j] T[j+1] / (T[j] + T[j+1]): the reported value of a bucket. */
static const double sketch_midpoints[SKETCH_SUB] = {
	0x1.0288ec48c67eap+0, 0x1.07b4ba5be330cp+0, 0x1.0cfb02dc4a483p+0,
	0x1.125c4d5e5273bp+0, 0x1.17d9242c8b609p+0, 0x1.1d721455a06f1p+0,
	0x1.2327adba82811p+0, 0x1.28fa831cda4d8p+0, 0x1.2eeb2a2dc4adcp+0,
	0x1.34fa3b9cda5ddp+0, 0x1.3b28532784b30p+0, 0x1.41760fa8a0d2fp+0,
	0x1.47e4132872fc7p+0, 0x1.4e7302eceb7c6p+0, 0x1.5523878a3ef12p+0,
	0x1.5bf64cf3d386ap+0, 0x1.62ec028d84deap+0, 0x1.6a055b3d40606p+0,
	0x1.71430d7cfbb54p+0, 0x1.78a5d36d073ebp+0, 0x1.802e6ae6be5e1p+0,
	0x1.87dd958f976d8p+0, 0x1.8fb418ec95548p+0, 0x1.97b2be761cab7p+0,
	0x1.9fda53ac2e6c9p+0, 0x1.a82baa2b0a39dp+0, 0x1.b0a797c03a49cp+0,
	0x1.b94ef6800b198p+0, 0x1.c222a4db710a8p+0, 0x1.cb2385b65e1f3p+0,
	0x1.d452807e8a157p+0, 0x1.ddb08142af271p+0, 0x1.e73e78ca3dc70p+0,
	0x1.f0fd5cad89bb8p+0, 0x1.faee276e7302dp+0,
};

/*
 * For each slice [1 + s/256, 1 + (s+1)/256) of the mantissa, the last cut at
 * or below its start.  Cuts are more than 1/256 apart, so at most one more
 * cut lies inside a slice.
 */
static const uint8 sketch_slice_first[256] = {
	0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2,
	3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5,
	5, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 8, 8, 8, 8,
	8, 8, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 11,
	11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13,
	13, 13, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15,
	16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 18, 18,
	18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19, 20, 20, 20,
	20, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21, 21, 22, 22, 22, 22,
	22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24,
	24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 25, 26, 26, 26,
	26, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 27, 28, 28,
	28, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29,
	30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 31, 31, 31, 31, 31, 31,
	31, 31, 31, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 33, 33, 33,
	33, 33, 33, 33, 33, 33, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
};

/*
 * Aggregate states past SKETCH_INDEX_FROM buckets carry an occupancy index
 * between the header and the entries (flag bit in the width byte), so that
 * adding a value finds its entry in constant time.  Stored values never do.
 */
#define SKETCH_INDEX_FROM	64
#define SKETCH_INDEXED_FLAG 0x80

typedef struct SketchIndex
{
	uint64		bits[SKETCH_BITMAP_WORDS];	/* occupied buckets */
	uint16		before[SKETCH_BITMAP_WORDS];	/* occupied in earlier words */
} SketchIndex;

#define SKETCH_WIDTH(s)		((s)->width & ~SKETCH_INDEXED_FLAG)
#define SKETCH_INDEXED(s)	(((s)->width & SKETCH_INDEXED_FLAG) != 0)
#define SKETCH_INDEX(s)		((SketchIndex *) ((char *) (s) + SKETCH_HDRSZ))
#define SKETCH_ENTRIES(s) \
	((char *) (s) + SKETCH_HDRSZ + (SKETCH_INDEXED(s) ? sizeof(SketchIndex) : 0))
#define SKETCH_ENTRY(s, i) \
	(SKETCH_ENTRIES(s) + (Size) (i) * SKETCH_STRIDE(SKETCH_WIDTH(s)))

/* The fields of a sketch read from text or binary input, before checks. */
typedef struct SketchFields
{
	int64		count;
	int128		sum;
	double		min;
	double		max;
	int			nbuckets;
	uint16	   *index;
	int64	   *counts;
} SketchFields;

/* Monotone queue of (value, arrival number) for a sliding min or max. */
typedef struct SketchQueue
{
	double	   *value;
	int64	   *seq;
	int			head;
	int			len;
	int			cap;
} SketchQueue;

/* Moving-aggregate state of kpi.rollup. */
typedef struct SketchWindow
{
	int64		count;
	int128		sum;
	int			nbuckets;		/* occupied buckets */
	int64		added;			/* non-NULL sketches added so far */
	int64		removed;		/* and removed */
	SketchQueue mins;			/* increasing values: head is the min */
	SketchQueue maxs;			/* decreasing values: head is the max */
	uint64		occupied[SKETCH_BITMAP_WORDS];
	int64		counts[SKETCH_NBUCKETS];
} SketchWindow;

/* Walks a sketch's buckets once for ranks in increasing order. */
typedef struct SketchCursor
{
	const Sketch *sketch;
	int			pos;			/* entries consumed */
	int64		cum;			/* their total count */
} SketchCursor;

typedef struct SketchRank
{
	int64		rank;
	int			pos;			/* element of the q array */
} SketchRank;

PG_FUNCTION_INFO_V1(kpi_sketch_in);
PG_FUNCTION_INFO_V1(kpi_sketch_out);
PG_FUNCTION_INFO_V1(kpi_sketch_recv);
PG_FUNCTION_INFO_V1(kpi_sketch_send);
PG_FUNCTION_INFO_V1(kpi_sketch_add);
PG_FUNCTION_INFO_V1(kpi_sketch_add_interval);
PG_FUNCTION_INFO_V1(kpi_sketch_merge);
PG_FUNCTION_INFO_V1(kpi_sketch_final);
PG_FUNCTION_INFO_V1(kpi_sketch_window_add);
PG_FUNCTION_INFO_V1(kpi_sketch_window_remove);
PG_FUNCTION_INFO_V1(kpi_sketch_window_final);
PG_FUNCTION_INFO_V1(kpi_sketch_approx_percentile);
PG_FUNCTION_INFO_V1(kpi_sketch_approx_percentiles);
PG_FUNCTION_INFO_V1(kpi_sketch_share_within);
PG_FUNCTION_INFO_V1(kpi_sketch_num_vals);
PG_FUNCTION_INFO_V1(kpi_sketch_mean);
PG_FUNCTION_INFO_V1(kpi_sketch_min_val);
PG_FUNCTION_INFO_V1(kpi_sketch_max_val);
PG_FUNCTION_INFO_V1(kpi_sketch_error);


/* ---------------------------------------------------------------------
 * Buckets and exact arithmetic
 * ---------------------------------------------------------------------
 */

/* Bucket of v, for 0 <= v < SKETCH_LIMIT_SECONDS (-0 included). */
static inline int
sketch_bucket(double v)
{
	uint64		bits;
	uint64		frac;
	int			e;
	int			j;

	memcpy(&bits, &v, sizeof(bits));
	e = (int) ((bits >> SKETCH_FRAC_BITS) & 0x7FF) - SKETCH_EXP_BIAS;
	if (e < SKETCH_MIN_EXP)
		return 0;
	frac = bits & SKETCH_FRAC_MASK;
	j = sketch_slice_first[frac >> (SKETCH_FRAC_BITS - 8)];
	if (frac >= sketch_thresholds[j + 1])
		j++;
	return 1 + (e - SKETCH_MIN_EXP) * SKETCH_SUB + j;
}

/*
 * Lower edge of bucket i, for 0 <= i <= SKETCH_NBUCKETS; the upper edge of
 * bucket i is the lower edge of i + 1.  Exact.
 */
static double
sketch_edge(int i)
{
	if (i == 0)
		return 0.0;
	return ldexp(1.0 + (double) sketch_thresholds[(i - 1) % SKETCH_SUB] / 4503599627370496.0,
				 (i - 1) / SKETCH_SUB + SKETCH_MIN_EXP);
}

/* The value reported for a quantile in bucket i >= 1 (before clamping). */
static inline double
sketch_midpoint(int i)
{
	return ldexp(sketch_midpoints[(i - 1) % SKETCH_SUB],
				 (i - 1) / SKETCH_SUB + SKETCH_MIN_EXP);
}

/*
 * v seconds rounded to the nearest nanosecond, ties up, computed exactly
 * from the bits: v = mant * 2^(e - 52) with a 53-bit integer mant.
 * 0 <= v < 2^33.
 */
static inline int64
sketch_nanoseconds(double v)
{
	uint64		bits;
	uint64		mant;
	int			shift;

	if (v < 0x1p-31)			/* less than half a nanosecond */
		return 0;
	memcpy(&bits, &v, sizeof(bits));
	mant = (bits & SKETCH_FRAC_MASK) | (UINT64CONST(1) << SKETCH_FRAC_BITS);
	shift = SKETCH_FRAC_BITS + SKETCH_EXP_BIAS - (int) (bits >> SKETCH_FRAC_BITS); /* 20 .. 83 */
	return (int64) (((uint128) mant * 1000000000 + ((uint128) 1 << (shift - 1))) >> shift);
}

static inline int
sketch_bitlen128(uint128 x)
{
	uint64		hi = (uint64) (x >> 64);

	if (hi != 0)
		return 65 + pg_leftmost_one_pos64(hi);
	if ((uint64) x != 0)
		return 1 + pg_leftmost_one_pos64((uint64) x);
	return 0;
}

/*
 * num / den correctly rounded to double (round half to even), for
 * 0 <= num < 2^127 and 0 < den < 2^127.  Long division yields 55 quotient
 * bits and a sticky bit; mean() needs this because num and den may exceed
 * 2^53, where the plain float8 division would round twice.
 */
static double
sketch_divide(uint128 num, uint128 den)
{
	uint128		r = num;
	uint128		d = den;
	uint64		q = 0;
	int			k;
	int			low;

	if (num == 0)
		return 0.0;
	if (num < ((uint128) 1 << 53) && den < ((uint128) 1 << 53))
		return (double) (uint64) num / (double) (uint64) den;

	/* Scale so that d <= r < 2d; then num / den = (r / d) 2^k. */
	k = sketch_bitlen128(num) - sketch_bitlen128(den);
	if (k >= 0)
		d <<= k;
	else
		r <<= -k;
	if (r < d)
	{
		k--;
		if (k >= 0)
			d >>= 1;
		else
			r <<= 1;
	}
	for (int i = 0; i < 55; i++)
	{
		q <<= 1;
		if (r >= d)
		{
			q |= 1;
			r -= d;
		}
		r <<= 1;
	}
	/* q has 55 bits; keep 53 and round on the two dropped bits + sticky. */
	low = (int) (q & 3);
	q >>= 2;
	if (low == 3 || (low == 2 && (r != 0 || (q & 1))))
		q++;
	return ldexp((double) q, k - 52);
}

/* Decimal digits of a non-negative 128-bit integer into buf[40]. */
static char *
sketch_int128_out(int128 value, char *buf)
{
	char	   *p = buf + 39;
	uint128		v = (uint128) value;

	*p = '\0';
	do
	{
		*--p = '0' + (int) (v % 10);
		v /= 10;
	} while (v != 0);
	return p;
}

/* ---------------------------------------------------------------------
 * Entries and the in-memory forms
 * ---------------------------------------------------------------------
 */

static inline uint16
sketch_entry_index(const char *entry)
{
	uint16		idx;

	memcpy(&idx, entry, sizeof(idx));
	return idx;
}

static inline uint64
sketch_entry_count(const char *entry, int width)
{
	const char *p = entry + sizeof(uint16);

	switch (width)
	{
		case 1:
			return (uint8) *p;
		case 2:
			{
				uint16		c;

				memcpy(&c, p, sizeof(c));
				return c;
			}
		case 4:
			{
				uint32		c;

				memcpy(&c, p, sizeof(c));
				return c;
			}
		default:
			{
				uint64		c;

				memcpy(&c, p, sizeof(c));
				return c;
			}
	}
}

static inline void
sketch_entry_set(char *entry, int width, uint16 idx, uint64 count)
{
	char	   *p = entry + sizeof(uint16);

	memcpy(entry, &idx, sizeof(idx));
	switch (width)
	{
		case 1:
			*p = (char) (uint8) count;
			break;
		case 2:
			{
				uint16		c = (uint16) count;

				memcpy(p, &c, sizeof(c));
				break;
			}
		case 4:
			{
				uint32		c = (uint32) count;

				memcpy(p, &c, sizeof(c));
				break;
			}
		default:
			memcpy(p, &count, sizeof(count));
			break;
	}
}

/* Smallest count width (bytes) that holds c. */
static inline int
sketch_width_for(uint64 c)
{
	if (c <= PG_UINT8_MAX)
		return 1;
	if (c <= PG_UINT16_MAX)
		return 2;
	if (c <= PG_UINT32_MAX)
		return 4;
	return 8;
}

static inline int128
sketch_get_sum(const Sketch *s)
{
	return (int128) (((uint128) (uint64) s->sum_hi << 64) | s->sum_lo);
}

static inline void
sketch_set_sum(Sketch *s, int128 sum)
{
	s->sum_lo = (uint64) sum;
	s->sum_hi = (int64) (sum >> 64);
}

/* Entries that fit in s's varlena: nbuckets plus any spare room. */
static inline int
sketch_capacity(const Sketch *s)
{
	return (VARSIZE(s) - (SKETCH_ENTRIES(s) - (const char *) s)) /
		SKETCH_STRIDE(SKETCH_WIDTH(s));
}

/* Recompute the occupancy index of an indexed sketch from its entries. */
static void
sketch_index_build(Sketch *s)
{
	SketchIndex *ix = SKETCH_INDEX(s);
	int			before = 0;

	memset(ix, 0, sizeof(SketchIndex));
	for (int i = 0; i < s->nbuckets; i++)
	{
		int			idx = sketch_entry_index(SKETCH_ENTRY(s, i));

		ix->bits[idx / 64] |= UINT64CONST(1) << (idx % 64);
	}
	for (int w = 0; w < SKETCH_BITMAP_WORDS; w++)
	{
		ix->before[w] = (uint16) before;
		before += pg_popcount64(ix->bits[w]);
	}
}

/*
 * A zeroed sketch with room for capacity entries of the given count width,
 * and an (empty) occupancy index if asked for.
 */
static Sketch *
sketch_alloc(int width, int capacity, bool indexed)
{
	Size		size = SKETCH_HDRSZ + (indexed ? sizeof(SketchIndex) : 0) +
		(Size) capacity * SKETCH_STRIDE(width);
	Sketch	   *s = (Sketch *) palloc0(size);

	SET_VARSIZE(s, size);
	s->version = SKETCH_VERSION;
	s->width = (uint8) (width | (indexed ? SKETCH_INDEXED_FLAG : 0));
	return s;
}

/*
 * A copy of s with another count width, room for capacity entries, and with
 * or without the occupancy index.
 */
static Sketch *
sketch_reshape(const Sketch *s, int width, int capacity, bool indexed)
{
	Sketch	   *r = sketch_alloc(width, capacity, indexed);

	Assert(capacity >= s->nbuckets);
	memcpy(VARDATA(r), VARDATA(s), SKETCH_HDRSZ - VARHDRSZ);
	r->width = (uint8) (width | (indexed ? SKETCH_INDEXED_FLAG : 0));
	if (width == SKETCH_WIDTH(s))
		memcpy(SKETCH_ENTRIES(r), SKETCH_ENTRIES(s),
			   (Size) s->nbuckets * SKETCH_STRIDE(width));
	else
	{
		for (int i = 0; i < s->nbuckets; i++)
		{
			const char *e = SKETCH_ENTRY(s, i);

			sketch_entry_set(SKETCH_ENTRY(r, i), width, sketch_entry_index(e),
							 sketch_entry_count(e, SKETCH_WIDTH(s)));
		}
	}
	if (indexed)
	{
		if (SKETCH_INDEXED(s))
			memcpy(SKETCH_INDEX(r), SKETCH_INDEX(s), sizeof(SketchIndex));
		else
			sketch_index_build(r);
	}
	return r;
}

/* A canonical copy of s: narrowest width, no index, no spare room. */
static Sketch *
sketch_canonical(const Sketch *s)
{
	uint64		maxc = 0;

	for (int i = 0; i < s->nbuckets; i++)
		maxc = Max(maxc, sketch_entry_count(SKETCH_ENTRY(s, i), SKETCH_WIDTH(s)));
	return sketch_reshape(s, sketch_width_for(maxc), s->nbuckets, false);
}

static void sketch_too_many_values(void) pg_attribute_noreturn();

static void
sketch_too_many_values(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("kpi.sketch cannot hold more than %lld values",
					(long long) PG_INT64_MAX)));
}

/*
 * Add one value (already checked) to s, in place when there is room; NULL s
 * starts a new sketch.  Returns s or its larger replacement.  Finding the
 * bucket's entry is the hot path: a branch-free binary search while the
 * sketch is small, then the occupancy index (two loads and a popcount).
 */
static Sketch *
sketch_add_value(Sketch *s, double v)
{
	int			idx = sketch_bucket(v);
	uint64		bit = UINT64CONST(1) << (idx % 64);
	int			word = idx / 64;
	int			width;
	int			lo;
	bool		found;
	char	   *entry;

	if (s == NULL)
	{
		s = sketch_alloc(1, SKETCH_MIN_CAPACITY, false);
		s->min = s->max = v;
	}
	if (s->count == PG_INT64_MAX)
		sketch_too_many_values();
	width = SKETCH_WIDTH(s);

	if (SKETCH_INDEXED(s))
	{
		SketchIndex *ix = SKETCH_INDEX(s);

		lo = ix->before[word] + pg_popcount64(ix->bits[word] & (bit - 1));
		found = (ix->bits[word] & bit) != 0;
	}
	else
	{
		/* lo ends at the first entry >= idx */
		lo = 0;
		for (int n = s->nbuckets; n > 1;)
		{
			int			half = n / 2;

			lo = sketch_entry_index(SKETCH_ENTRY(s, lo + half)) < idx ? lo + half : lo;
			n -= half;
		}
		if (s->nbuckets > 0 && sketch_entry_index(SKETCH_ENTRY(s, lo)) < idx)
			lo++;
		found = lo < s->nbuckets && sketch_entry_index(SKETCH_ENTRY(s, lo)) == idx;
	}

	if (found)
	{
		uint64		c = sketch_entry_count(SKETCH_ENTRY(s, lo), width) + 1;

		if (sketch_width_for(c) > width)
		{
			width *= 2;
			s = sketch_reshape(s, width, sketch_capacity(s), SKETCH_INDEXED(s));
		}
		sketch_entry_set(SKETCH_ENTRY(s, lo), width, (uint16) idx, c);
	}
	else
	{
		bool		indexed = SKETCH_INDEXED(s) || s->nbuckets + 1 >= SKETCH_INDEX_FROM;

		if (s->nbuckets == sketch_capacity(s) || indexed != SKETCH_INDEXED(s))
			s = sketch_reshape(s, width, Max(2 * s->nbuckets, SKETCH_MIN_CAPACITY), indexed);
		entry = SKETCH_ENTRY(s, lo);
		memmove(entry + SKETCH_STRIDE(width), entry,
				(s->nbuckets - lo) * SKETCH_STRIDE(width));
		sketch_entry_set(entry, width, (uint16) idx, 1);
		s->nbuckets++;
		if (indexed)
		{
			SketchIndex *ix = SKETCH_INDEX(s);

			ix->bits[word] |= bit;
			for (int w = word + 1; w < SKETCH_BITMAP_WORDS; w++)
				ix->before[w]++;
		}
	}

	s->count++;
	sketch_set_sum(s, sketch_get_sum(s) + sketch_nanoseconds(v));
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	return s;
}

/*
 * Merge o into s, in place when s has room and a wide enough count.
 * Returns s or its replacement.
 */
static Sketch *
sketch_merge_into(Sketch *s, const Sketch *o)
{
	int			k = s->nbuckets;
	int			ko = o->nbuckets;
	int			added = 0;
	int			width;
	int			i;
	int			j;
	int			out;
	int64		count;
	uint64		maxc = 0;

	/* Every bucket count is at most the total, so this guards them all. */
	if (pg_add_s64_overflow(s->count, o->count, &count))
		sketch_too_many_values();

	/* Pass 1: how many new buckets, how wide the largest count. */
	i = 0;
	for (j = 0; j < ko; j++)
	{
		const char *eo = SKETCH_ENTRY(o, j);
		uint16		idx = sketch_entry_index(eo);
		uint64		c = sketch_entry_count(eo, SKETCH_WIDTH(o));

		while (i < k && sketch_entry_index(SKETCH_ENTRY(s, i)) < idx)
			i++;
		if (i < k && sketch_entry_index(SKETCH_ENTRY(s, i)) == idx)
			c += sketch_entry_count(SKETCH_ENTRY(s, i), SKETCH_WIDTH(s));
		else
			added++;
		maxc = Max(maxc, c);
	}
	width = Max(SKETCH_WIDTH(s), sketch_width_for(maxc));
	if (width != SKETCH_WIDTH(s) || k + added > sketch_capacity(s))
		s = sketch_reshape(s, width, Max(k + added, 2 * k), SKETCH_INDEXED(s));

	/* Pass 2: merge from the back, so no entry is overwritten unread. */
	i = k - 1;
	out = k + added - 1;
	for (j = ko - 1; j >= 0; j--, out--)
	{
		const char *eo = SKETCH_ENTRY(o, j);
		uint16		idx = sketch_entry_index(eo);
		uint64		c = sketch_entry_count(eo, SKETCH_WIDTH(o));

		while (i >= 0 && sketch_entry_index(SKETCH_ENTRY(s, i)) > idx)
		{
			memmove(SKETCH_ENTRY(s, out), SKETCH_ENTRY(s, i), SKETCH_STRIDE(width));
			i--;
			out--;
		}
		if (i >= 0 && sketch_entry_index(SKETCH_ENTRY(s, i)) == idx)
		{
			c += sketch_entry_count(SKETCH_ENTRY(s, i), width);
			i--;
		}
		sketch_entry_set(SKETCH_ENTRY(s, out), width, idx, c);
	}
	s->nbuckets = (uint16) (k + added);
	if (added > 0 && SKETCH_INDEXED(s))
		sketch_index_build(s);
	s->count = count;
	sketch_set_sum(s, sketch_get_sum(s) + sketch_get_sum(o));
	if (o->min < s->min)
		s->min = o->min;
	if (o->max > s->max)
		s->max = o->max;
	return s;
}

/*
 * The transition state in a form we may modify: inside an aggregate the
 * executor owns a plain copy we can change in place; otherwise (a direct
 * SQL call) or when the state is still a packed or toasted input, work on a
 * private copy.
 */
static Sketch *
sketch_for_update(Datum d, bool in_aggregate)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(d);

	if (in_aggregate && !VARATT_IS_EXTENDED(raw))
		return (Sketch *) raw;
	return (Sketch *) PG_DETOAST_DATUM_COPY(d);
}

/* ---------------------------------------------------------------------
 * Checking inputs
 * ---------------------------------------------------------------------
 */

/* A duration in seconds as the sketch stores it, or an error. */
static double
sketch_check_seconds(double v)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kpi.sketch cannot hold NaN"),
				 errhint("Filter out NaN durations or map them to NULL, which is ignored.")));
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kpi.sketch cannot hold an infinite duration")));
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kpi.sketch cannot hold a negative duration: %g s", v),
				 errhint("A duration is an end minus a start; check the order of the timestamps.")));
	if (v >= SKETCH_LIMIT_SECONDS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("duration %g s is out of range for kpi.sketch", v),
				 errdetail("Durations must be below 2^33 s (about 272 years).")));
	return v == 0 ? 0.0 : v;	/* -0 is stored as 0 */
}

/* An interval as float8 seconds, exactly as extract(epoch from ...). */
static double
sketch_interval_seconds(Interval *span)
{
	int128		usecs;

	usecs = ((int128) (span->month / MONTHS_PER_YEAR) * (int64) (DAYS_PER_YEAR * SECS_PER_DAY) +
			 (int128) (span->month % MONTHS_PER_YEAR) * (DAYS_PER_MONTH * SECS_PER_DAY) +
			 (int128) span->day * SECS_PER_DAY) * USECS_PER_SEC + span->time;
	if (usecs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kpi.sketch cannot hold a negative duration: %s",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(span)))),
				 errhint("A duration is an end minus a start; check the order of the timestamps.")));
	if (usecs >= (int128) SKETCH_LIMIT_SECONDS * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("duration %s is out of range for kpi.sketch",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(span)))),
				 errdetail("Durations must be below 2^33 s (about 272 years).")));
	/* usecs < 2^53: exact, and the division is correctly rounded. */
	return (double) (int64) usecs / 1000000.0;
}

/* Shortest text that reads back as exactly v. */
static char *
sketch_double_out(double v, char *buf)
{
	double_to_shortest_decimal_buf(v, buf);
	return buf;
}

/*
 * Check the fields of an incoming sketch (text or binary) against every
 * invariant a sketch built here satisfies, and build its canonical form.
 * code is 22P02 for text, 22P03 for binary; overflow is always 22003.
 */
static Sketch *
sketch_build(const SketchFields *f, int code)
{
	char		b1[DOUBLE_SHORTEST_DECIMAL_LEN];
	char		b2[DOUBLE_SHORTEST_DECIMAL_LEN];
	char		n1[40];
	char		n2[40];
	int64		total = 0;
	int128		lower = 0;
	int128		upper = 0;
	uint64		maxc = 0;
	int			k = f->nbuckets;
	Sketch	   *s;

	if (k < 1 || k > SKETCH_NBUCKETS)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch has %d buckets", k),
				 errdetail("A sketch lists 1 to %d occupied buckets.", SKETCH_NBUCKETS)));
	if (f->count < 1)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch n must be at least 1, not %lld", (long long) f->count),
				 errdetail("An empty group has no sketch: its aggregate is NULL.")));
	for (int i = 0; i < k; i++)
	{
		if (f->index[i] >= SKETCH_NBUCKETS)
			ereport(ERROR,
					(errcode(code),
					 errmsg("kpi.sketch bucket index %d is out of range", (int) f->index[i]),
					 errdetail("Bucket indexes run from 0 to %d.", SKETCH_NBUCKETS - 1)));
		if (i > 0 && f->index[i] <= f->index[i - 1])
			ereport(ERROR,
					(errcode(code),
					 errmsg("kpi.sketch buckets are not in strictly increasing order"),
					 errdetail("Bucket %d follows bucket %d.",
							   (int) f->index[i], (int) f->index[i - 1])));
		if (f->counts[i] < 1)
			ereport(ERROR,
					(errcode(code),
					 errmsg("kpi.sketch bucket %d has count %lld",
							(int) f->index[i], (long long) f->counts[i]),
					 errdetail("Every listed bucket holds at least one value.")));
		if (pg_add_s64_overflow(total, f->counts[i], &total))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("kpi.sketch bucket counts overflow bigint")));
		maxc = Max(maxc, (uint64) f->counts[i]);
	}
	if (total != f->count)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch bucket counts add up to %lld, not n = %lld",
						(long long) total, (long long) f->count)));

	if (isnan(f->min) || isnan(f->max) || isinf(f->min) || isinf(f->max) ||
		signbit(f->min) || signbit(f->max) ||
		f->min >= SKETCH_LIMIT_SECONDS || f->max >= SKETCH_LIMIT_SECONDS)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch min and max must lie in [0, 2^33) s, not %s and %s",
						sketch_double_out(f->min, b1), sketch_double_out(f->max, b2))));
	if (f->min > f->max)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch min %s is greater than max %s",
						sketch_double_out(f->min, b1), sketch_double_out(f->max, b2))));
	if (f->count == 1 && f->min != f->max)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch of one value has min %s and max %s",
						sketch_double_out(f->min, b1), sketch_double_out(f->max, b2)),
				 errdetail("With n = 1, min and max are the same value.")));
	if (sketch_bucket(f->min) != f->index[0])
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch min %s does not lie in its lowest bucket %d",
						sketch_double_out(f->min, b1), (int) f->index[0]),
				 errdetail("Bucket %d holds [%s, %s).", (int) f->index[0],
						   sketch_double_out(sketch_edge(f->index[0]), b1),
						   sketch_double_out(sketch_edge(f->index[0] + 1), b2))));
	if (sketch_bucket(f->max) != f->index[k - 1])
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch max %s does not lie in its highest bucket %d",
						sketch_double_out(f->max, b1), (int) f->index[k - 1]),
				 errdetail("Bucket %d holds [%s, %s).", (int) f->index[k - 1],
						   sketch_double_out(sketch_edge(f->index[k - 1]), b1),
						   sketch_double_out(sketch_edge(f->index[k - 1] + 1), b2))));

	/*
	 * One value is exactly min and (if n > 1) another exactly max; every
	 * other value x of bucket [L, U) has max(L, min) <= x <= min(U, max), and
	 * rounding to ns is monotone: that bounds the sum.  (Below 2^126.)
	 */
	lower = upper = sketch_nanoseconds(f->min);
	if (f->count > 1)
	{
		lower += sketch_nanoseconds(f->max);
		upper += sketch_nanoseconds(f->max);
	}
	for (int i = 0; i < k; i++)
	{
		double		lo = Max(sketch_edge(f->index[i]), f->min);
		double		hi = Min(sketch_edge(f->index[i] + 1), f->max);
		int64		others = f->counts[i] - (i == 0) - (i == k - 1 && f->count > 1);

		lower += (int128) others * sketch_nanoseconds(lo);
		upper += (int128) others * sketch_nanoseconds(hi);
	}
	if (f->sum < lower || f->sum > upper)
		ereport(ERROR,
				(errcode(code),
				 errmsg("kpi.sketch sum_ns %s does not fit its buckets",
						f->sum < 0 ? "(negative)" : sketch_int128_out(f->sum, n1)),
				 errdetail("These buckets, min and max allow a sum from %s to %s ns.",
						   sketch_int128_out(lower, n1), sketch_int128_out(upper, n2))));

	s = sketch_alloc(sketch_width_for(maxc), k, false);
	s->nbuckets = (uint16) k;
	s->count = f->count;
	sketch_set_sum(s, f->sum);
	s->min = f->min;
	s->max = f->max;
	for (int i = 0; i < k; i++)
		sketch_entry_set(SKETCH_ENTRY(s, i), SKETCH_WIDTH(s), f->index[i], (uint64) f->counts[i]);
	return s;
}

/* ---------------------------------------------------------------------
 * Text and binary I/O
 * ---------------------------------------------------------------------
 */

typedef struct SketchParser
{
	const char *input;
	const char *p;
} SketchParser;

static void sketch_syntax_error(SketchParser *ps, const char *expected) pg_attribute_noreturn();

static void
sketch_syntax_error(SketchParser *ps, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type kpi.sketch: \"%s\"", ps->input),
			 errdetail("Expected %s at character %d.", expected,
					   (int) (ps->p - ps->input) + 1),
			 errhint("The form is v1;n=<count>;sum_ns=<integer>;min=<seconds>;max=<seconds>;b=<bucket>:<count>,...")));
}

static void
sketch_expect(SketchParser *ps, const char *literal)
{
	size_t		len = strlen(literal);

	if (strncmp(ps->p, literal, len) != 0)
	{
		char	   *quoted = psprintf("\"%s\"", literal);

		sketch_syntax_error(ps, quoted);
	}
	ps->p += len;
}

/* Unsigned decimal integer up to max; what names it in messages. */
static uint128
sketch_parse_uint(SketchParser *ps, const char *what, uint128 max)
{
	uint128		v = 0;
	const char *start = ps->p;

	if (!isdigit((unsigned char) *ps->p))
	{
		char	   *expected = psprintf("a non-negative integer (%s)", what);

		sketch_syntax_error(ps, expected);
	}
	while (isdigit((unsigned char) *ps->p))
	{
		v = v * 10 + (*ps->p - '0');
		if (v > max)
		{
			while (isdigit((unsigned char) *ps->p))
				ps->p++;
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s %.*s is out of range in kpi.sketch value \"%s\"",
							what, (int) (ps->p - start), start, ps->input)));
		}
		ps->p++;
	}
	return v;
}

/* Plain decimal float (digits, point, exponent): no sign, NaN, inf or hex. */
static double
sketch_parse_double(SketchParser *ps, const char *what)
{
	size_t		span = strspn(ps->p, "0123456789.eE+-");
	char	   *end;
	double		v;

	if (!isdigit((unsigned char) *ps->p))
	{
		char	   *expected = psprintf("a non-negative number of seconds (%s)", what);

		sketch_syntax_error(ps, expected);
	}
	errno = 0;
	v = strtod(ps->p, &end);
	if (end != ps->p + span)
	{
		char	   *expected = psprintf("a plain decimal number (%s)", what);

		sketch_syntax_error(ps, expected);
	}
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s %.*s is out of range in kpi.sketch value \"%s\"",
						what, (int) span, ps->p, ps->input)));
	ps->p = end;
	return v;
}

/*
 * kpi.sketch text input:
 *   v1;n=<count>;sum_ns=<integer>;min=<s>;max=<s>;b=<bucket>:<count>,...
 * Buckets are listed in increasing order; every field is checked.
 */
Datum
kpi_sketch_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	SketchParser ps;
	SketchFields f;
	uint128		version;

	ps.input = str;
	ps.p = str;
	while (isspace((unsigned char) *ps.p))
		ps.p++;
	sketch_expect(&ps, "v");
	version = sketch_parse_uint(&ps, "version", PG_INT32_MAX);
	if (version != SKETCH_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("unsupported kpi.sketch format version %d", (int) version),
				 errdetail("This kpi reads version %d.", SKETCH_VERSION)));
	sketch_expect(&ps, ";n=");
	f.count = (int64) sketch_parse_uint(&ps, "n", PG_INT64_MAX);
	sketch_expect(&ps, ";sum_ns=");
	f.sum = (int128) sketch_parse_uint(&ps, "sum_ns", (((uint128) 1) << 127) - 1);
	sketch_expect(&ps, ";min=");
	f.min = sketch_parse_double(&ps, "min");
	sketch_expect(&ps, ";max=");
	f.max = sketch_parse_double(&ps, "max");
	sketch_expect(&ps, ";b=");

	f.index = palloc(SKETCH_NBUCKETS * sizeof(uint16));
	f.counts = palloc(SKETCH_NBUCKETS * sizeof(int64));
	f.nbuckets = 0;
	for (;;)
	{
		uint128		idx = sketch_parse_uint(&ps, "bucket index", PG_INT32_MAX);

		if (idx >= SKETCH_NBUCKETS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("kpi.sketch bucket index %d is out of range", (int) idx),
					 errdetail("Bucket indexes run from 0 to %d.", SKETCH_NBUCKETS - 1)));
		/* Order is checked here too: it bounds the arrays. */
		if (f.nbuckets > 0 && idx <= f.index[f.nbuckets - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("kpi.sketch buckets are not in strictly increasing order"),
					 errdetail("Bucket %d follows bucket %d.",
							   (int) idx, (int) f.index[f.nbuckets - 1])));
		f.index[f.nbuckets] = (uint16) idx;
		sketch_expect(&ps, ":");
		f.counts[f.nbuckets] = (int64) sketch_parse_uint(&ps, "bucket count", PG_INT64_MAX);
		f.nbuckets++;
		if (*ps.p != ',')
			break;
		ps.p++;
	}
	while (isspace((unsigned char) *ps.p))
		ps.p++;
	if (*ps.p != '\0')
		sketch_syntax_error(&ps, "\",\" or the end of the value");

	PG_RETURN_POINTER(sketch_build(&f, ERRCODE_INVALID_TEXT_REPRESENTATION));
}

/* kpi.sketch text output: the form kpi_sketch_in reads, exactly. */
Datum
kpi_sketch_out(PG_FUNCTION_ARGS)
{
	Sketch	   *s = PG_GETARG_SKETCH_P(0);
	StringInfoData buf;
	char		num[40];
	char		dbl[DOUBLE_SHORTEST_DECIMAL_LEN];

	initStringInfo(&buf);
	appendStringInfo(&buf, "v%d;n=" INT64_FORMAT ";sum_ns=%s", SKETCH_VERSION,
					 s->count, sketch_int128_out(sketch_get_sum(s), num));
	appendStringInfo(&buf, ";min=%s", sketch_double_out(s->min, dbl));
	appendStringInfo(&buf, ";max=%s;b=", sketch_double_out(s->max, dbl));
	for (int i = 0; i < s->nbuckets; i++)
	{
		const char *e = SKETCH_ENTRY(s, i);

		appendStringInfo(&buf, "%s%d:" UINT64_FORMAT, i > 0 ? "," : "",
						 (int) sketch_entry_index(e), sketch_entry_count(e, SKETCH_WIDTH(s)));
	}
	PG_RETURN_CSTRING(buf.data);
}

/*
 * kpi.sketch binary input: version byte, n, sum (high, low 64 bits), min,
 * max, bucket count (int32), then per bucket its index (int16) and count
 * (int64), all in network order.
 */
Datum
kpi_sketch_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	SketchFields f;
	int			version;
	int			rest;
	int64		sum_hi;
	uint64		sum_lo;

	if (buf->len - buf->cursor < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.sketch binary value is empty")));
	version = pq_getmsgbyte(buf);
	if (version != SKETCH_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported kpi.sketch binary format version %d", version),
				 errdetail("This kpi reads version %d.", SKETCH_VERSION)));
	rest = buf->len - buf->cursor;
	if (rest < SKETCH_BIN_HEADER - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.sketch binary value is truncated"),
				 errdetail("Its header needs %d bytes, %d are left.", SKETCH_BIN_HEADER, rest + 1)));
	f.count = pq_getmsgint64(buf);
	sum_hi = pq_getmsgint64(buf);
	sum_lo = (uint64) pq_getmsgint64(buf);
	f.sum = (int128) (((uint128) (uint64) sum_hi << 64) | sum_lo);
	f.min = pq_getmsgfloat8(buf);
	f.max = pq_getmsgfloat8(buf);
	f.nbuckets = (int32) pq_getmsgint(buf, 4);
	if (f.nbuckets < 1 || f.nbuckets > SKETCH_NBUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.sketch binary value claims %d buckets", f.nbuckets),
				 errdetail("A sketch lists 1 to %d occupied buckets.", SKETCH_NBUCKETS)));
	rest = buf->len - buf->cursor;
	if (rest != f.nbuckets * SKETCH_BIN_ENTRY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.sketch binary value is %s", rest < f.nbuckets * SKETCH_BIN_ENTRY ?
						"truncated" : "followed by extra bytes"),
				 errdetail("%d buckets take %d bytes, %d are left.", f.nbuckets,
						   f.nbuckets * SKETCH_BIN_ENTRY, rest)));
	if (f.sum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.sketch binary value has a negative sum")));

	f.index = palloc(f.nbuckets * sizeof(uint16));
	f.counts = palloc(f.nbuckets * sizeof(int64));
	for (int i = 0; i < f.nbuckets; i++)
	{
		f.index[i] = (uint16) pq_getmsgint(buf, 2);
		f.counts[i] = pq_getmsgint64(buf);
	}
	PG_RETURN_POINTER(sketch_build(&f, ERRCODE_INVALID_BINARY_REPRESENTATION));
}

/* kpi.sketch binary output (see kpi_sketch_recv). */
Datum
kpi_sketch_send(PG_FUNCTION_ARGS)
{
	Sketch	   *s = PG_GETARG_SKETCH_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, SKETCH_VERSION);
	pq_sendint64(&buf, s->count);
	pq_sendint64(&buf, s->sum_hi);
	pq_sendint64(&buf, (int64) s->sum_lo);
	pq_sendfloat8(&buf, s->min);
	pq_sendfloat8(&buf, s->max);
	pq_sendint32(&buf, s->nbuckets);
	for (int i = 0; i < s->nbuckets; i++)
	{
		const char *e = SKETCH_ENTRY(s, i);

		pq_sendint16(&buf, sketch_entry_index(e));
		pq_sendint64(&buf, (int64) sketch_entry_count(e, SKETCH_WIDTH(s)));
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Aggregates: sketch_agg(float8), sketch_agg(interval), rollup(sketch)
 * ---------------------------------------------------------------------
 */

/* Shared body of the two sketch_agg transitions (not strict). */
static Datum
sketch_transition(FunctionCallInfo fcinfo, double v)
{
	bool		in_aggregate = AggCheckCallContext(fcinfo, NULL) != 0;
	Sketch	   *s = NULL;

	if (!PG_ARGISNULL(0))
		s = sketch_for_update(PG_GETARG_DATUM(0), in_aggregate);
	s = sketch_add_value(s, v);
	if (!in_aggregate)
		s = sketch_canonical(s);
	PG_RETURN_POINTER(s);
}

/* sketch_agg(float8) transition: add a duration in seconds; NULL is skipped. */
Datum
kpi_sketch_add(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	return sketch_transition(fcinfo, sketch_check_seconds(PG_GETARG_FLOAT8(1)));
}

/* sketch_agg(interval) transition: the same with an interval. */
Datum
kpi_sketch_add_interval(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	return sketch_transition(fcinfo,
							 sketch_interval_seconds(PG_GETARG_INTERVAL_P(1)));
}

/*
 * rollup transition and the combine function of both aggregates: merge the
 * second sketch into the first (strict: NULLs are skipped).
 */
Datum
kpi_sketch_merge(PG_FUNCTION_ARGS)
{
	bool		in_aggregate = AggCheckCallContext(fcinfo, NULL) != 0;
	Sketch	   *s = sketch_for_update(PG_GETARG_DATUM(0), in_aggregate);
	Sketch	   *o = PG_GETARG_SKETCH_P(1);

	s = sketch_merge_into(s, o);
	if (!in_aggregate)
		s = sketch_canonical(s);
	PG_RETURN_POINTER(s);
}

/*
 * Final function of both aggregates: a canonical copy of the state, so the
 * result bytes do not depend on how the state grew, and never alias it.
 */
Datum
kpi_sketch_final(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(sketch_canonical(PG_GETARG_SKETCH_P(0)));
}

/* ---------------------------------------------------------------------
 * Moving aggregate of rollup (sliding window frames)
 * ---------------------------------------------------------------------
 */

/*
 * Append (v, seq) after dropping the entries it dominates: for a min queue
 * those >= v, for a max queue those <= v.  They arrived earlier, so they
 * leave earlier, and cannot be the extreme while v is in the frame.
 */
static void
sketch_queue_push(SketchQueue *q, double v, int64 seq, bool is_min,
				  MemoryContext cxt)
{
	int			slot;

	while (q->len > 0)
	{
		int			back = (q->head + q->len - 1) % q->cap;

		if (is_min ? q->value[back] < v : q->value[back] > v)
			break;
		q->len--;
	}
	if (q->len == q->cap)
	{
		int			cap = Max(16, 2 * q->cap);
		double	   *value = MemoryContextAlloc(cxt, cap * sizeof(double));
		int64	   *seqs = MemoryContextAlloc(cxt, cap * sizeof(int64));

		for (int i = 0; i < q->len; i++)
		{
			value[i] = q->value[(q->head + i) % q->cap];
			seqs[i] = q->seq[(q->head + i) % q->cap];
		}
		if (q->cap > 0)
		{
			pfree(q->value);
			pfree(q->seq);
		}
		q->value = value;
		q->seq = seqs;
		q->head = 0;
		q->cap = cap;
	}
	slot = (q->head + q->len) % q->cap;
	q->value[slot] = v;
	q->seq[slot] = seq;
	q->len++;
}

/* The sketch that arrived as number seq leaves: drop it if it is the head. */
static void
sketch_queue_expire(SketchQueue *q, int64 seq)
{
	if (q->len == 0 || q->seq[q->head] < seq)
		elog(ERROR, "kpi.rollup: window rows were removed out of arrival order");
	if (q->seq[q->head] == seq)
	{
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
}

static SketchWindow *
sketch_window_state(FunctionCallInfo fcinfo, MemoryContext *cxt)
{
	if (!AggCheckCallContext(fcinfo, cxt))
		elog(ERROR, "kpi.rollup moving-aggregate function called in non-aggregate context");
	if (PG_ARGISNULL(0))
		return (SketchWindow *) MemoryContextAllocZero(*cxt, sizeof(SketchWindow));
	return (SketchWindow *) PG_GETARG_POINTER(0);
}

/* Moving rollup, forward: add a sketch to the frame (NULL is skipped). */
Datum
kpi_sketch_window_add(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	SketchWindow *w = sketch_window_state(fcinfo, &cxt);
	Sketch	   *s;

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(w);
	s = PG_GETARG_SKETCH_P(1);
	if (pg_add_s64_overflow(w->count, s->count, &w->count))
		sketch_too_many_values();
	for (int i = 0; i < s->nbuckets; i++)
	{
		const char *e = SKETCH_ENTRY(s, i);
		int			idx = sketch_entry_index(e);

		if (w->counts[idx] == 0)
		{
			w->occupied[idx / 64] |= UINT64CONST(1) << (idx % 64);
			w->nbuckets++;
		}
		w->counts[idx] += (int64) sketch_entry_count(e, SKETCH_WIDTH(s));
	}
	w->sum += sketch_get_sum(s);
	sketch_queue_push(&w->mins, s->min, w->added, true, cxt);
	sketch_queue_push(&w->maxs, s->max, w->added, false, cxt);
	w->added++;
	PG_RETURN_POINTER(w);
}

/*
 * Moving rollup, inverse: remove the oldest sketch of the frame, exactly
 * (integer counts and sum; min and max from the queues).  Never gives up.
 */
Datum
kpi_sketch_window_remove(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	SketchWindow *w;
	Sketch	   *s;

	if (PG_ARGISNULL(0))
		elog(ERROR, "kpi.rollup: inverse transition without a state");
	w = sketch_window_state(fcinfo, &cxt);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(w);
	s = PG_GETARG_SKETCH_P(1);
	if (w->removed >= w->added || s->count > w->count)
		elog(ERROR, "kpi.rollup: inverse transition removes a sketch that was not added");
	for (int i = 0; i < s->nbuckets; i++)
	{
		const char *e = SKETCH_ENTRY(s, i);
		int			idx = sketch_entry_index(e);
		int64		c = (int64) sketch_entry_count(e, SKETCH_WIDTH(s));

		if (w->counts[idx] < c)
			elog(ERROR, "kpi.rollup: inverse transition removes a sketch that was not added");
		w->counts[idx] -= c;
		if (w->counts[idx] == 0)
		{
			w->occupied[idx / 64] &= ~(UINT64CONST(1) << (idx % 64));
			w->nbuckets--;
		}
	}
	w->count -= s->count;
	w->sum -= sketch_get_sum(s);
	sketch_queue_expire(&w->mins, w->removed);
	sketch_queue_expire(&w->maxs, w->removed);
	w->removed++;
	PG_RETURN_POINTER(w);
}

/* Moving rollup, final: the frame's canonical sketch, NULL when empty. */
Datum
kpi_sketch_window_final(PG_FUNCTION_ARGS)
{
	SketchWindow *w = (SketchWindow *) PG_GETARG_POINTER(0);
	uint64		maxc = 0;
	Sketch	   *s;
	int			n = 0;

	if (w->count == 0)
		PG_RETURN_NULL();
	for (int word = 0; word < SKETCH_BITMAP_WORDS; word++)
	{
		for (uint64 bits = w->occupied[word]; bits != 0; bits &= bits - 1)
			maxc = Max(maxc, (uint64) w->counts[word * 64 + pg_rightmost_one_pos64(bits)]);
	}
	s = sketch_alloc(sketch_width_for(maxc), w->nbuckets, false);
	s->nbuckets = (uint16) w->nbuckets;
	s->count = w->count;
	sketch_set_sum(s, w->sum);
	s->min = w->mins.value[w->mins.head];
	s->max = w->maxs.value[w->maxs.head];
	for (int word = 0; word < SKETCH_BITMAP_WORDS; word++)
	{
		for (uint64 bits = w->occupied[word]; bits != 0; bits &= bits - 1)
		{
			int			idx = word * 64 + pg_rightmost_one_pos64(bits);

			sketch_entry_set(SKETCH_ENTRY(s, n), SKETCH_WIDTH(s), (uint16) idx,
							 (uint64) w->counts[idx]);
			n++;
		}
	}
	Assert(n == w->nbuckets);
	PG_RETURN_POINTER(s);
}

/* ---------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------
 */

static void
sketch_check_quantile(double q)
{
	if (isnan(q) || q < 0 || q > 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile value %g is not between 0 and 1", q)));
}

/* Rank of quantile q among n values, computed as percentile_disc does. */
static int64
sketch_rank(double q, int64 n)
{
	double		r = ceil(q * (double) n);

	if (r <= 1.0)
		return 1;
	if (r >= (double) n)
		return n;
	return (int64) r;
}

/* Estimate of the value of the given rank; ranks must not decrease. */
static double
sketch_cursor_value(SketchCursor *c, int64 rank)
{
	const Sketch *s = c->sketch;
	int			idx;
	double		v;

	if (rank <= 1)
		return s->min;
	if (rank >= s->count)
		return s->max;
	while (c->cum < rank)
	{
		c->cum += (int64) sketch_entry_count(SKETCH_ENTRY(s, c->pos), SKETCH_WIDTH(s));
		c->pos++;
	}
	idx = sketch_entry_index(SKETCH_ENTRY(s, c->pos - 1));
	if (idx == 0)
		return s->min;
	v = sketch_midpoint(idx);
	if (v < s->min)
		v = s->min;
	if (v > s->max)
		v = s->max;
	return v;
}

/* approx_percentile(q, sketch): nearest-rank quantile within kpi.error. */
Datum
kpi_sketch_approx_percentile(PG_FUNCTION_ARGS)
{
	double		q = PG_GETARG_FLOAT8(0);
	SketchCursor c;

	sketch_check_quantile(q);
	c.sketch = PG_GETARG_SKETCH_P(1);
	c.pos = 0;
	c.cum = 0;
	PG_RETURN_FLOAT8(sketch_cursor_value(&c, sketch_rank(q, c.sketch->count)));
}

static int
sketch_rank_cmp(const void *a, const void *b)
{
	int64		ra = ((const SketchRank *) a)->rank;
	int64		rb = ((const SketchRank *) b)->rank;

	return (ra > rb) - (ra < rb);
}

/*
 * approx_percentiles(q[], sketch): each element as approx_percentile, in one
 * pass over the buckets; NULL elements give NULL; the shape is kept.
 */
Datum
kpi_sketch_approx_percentiles(PG_FUNCTION_ARGS)
{
	ArrayType  *qs = PG_GETARG_ARRAYTYPE_P(0);
	SketchCursor c;
	Datum	   *elems;
	bool	   *nulls;
	int			nq;
	int			m = 0;
	SketchRank *ranks;

	c.sketch = PG_GETARG_SKETCH_P(1);
	c.pos = 0;
	c.cum = 0;
	deconstruct_array(qs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &nq);
	ranks = palloc(Max(nq, 1) * sizeof(SketchRank));
	for (int i = 0; i < nq; i++)
	{
		if (nulls[i])
			continue;
		sketch_check_quantile(DatumGetFloat8(elems[i]));
		ranks[m].rank = sketch_rank(DatumGetFloat8(elems[i]), c.sketch->count);
		ranks[m].pos = i;
		m++;
	}
	qsort(ranks, m, sizeof(SketchRank), sketch_rank_cmp);
	for (int i = 0; i < m; i++)
		elems[ranks[i].pos] = Float8GetDatum(sketch_cursor_value(&c, ranks[i].rank));
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, ARR_NDIM(qs), ARR_DIMS(qs),
											 ARR_LBOUND(qs), FLOAT8OID, sizeof(float8),
											 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * share_within(sketch, seconds): share of values <= seconds.  Exact below
 * min (0) and from max on (1); otherwise the whole bucket holding the
 * threshold counts as within, so values up to 2.0 % above it (the bucket
 * width) may be counted too, never values below it left out.
 */
Datum
kpi_sketch_share_within(PG_FUNCTION_ARGS)
{
	Sketch	   *s = PG_GETARG_SKETCH_P(0);
	double		t = PG_GETARG_FLOAT8(1);
	int			b;
	int64		within = 0;

	if (isnan(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("share_within threshold must not be NaN")));
	if (t < s->min)
		PG_RETURN_FLOAT8(0.0);
	if (t >= s->max)
		PG_RETURN_FLOAT8(1.0);
	b = sketch_bucket(t);
	for (int i = 0; i < s->nbuckets; i++)
	{
		const char *e = SKETCH_ENTRY(s, i);

		if (sketch_entry_index(e) > b)
			break;
		within += (int64) sketch_entry_count(e, SKETCH_WIDTH(s));
	}
	PG_RETURN_FLOAT8((double) within / (double) s->count);
}

/* num_vals(sketch): exact number of values. */
Datum
kpi_sketch_num_vals(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_SKETCH_P(0)->count);
}

/* mean(sketch): exact sum / count, correctly rounded to float8 seconds. */
Datum
kpi_sketch_mean(PG_FUNCTION_ARGS)
{
	Sketch	   *s = PG_GETARG_SKETCH_P(0);

	PG_RETURN_FLOAT8(sketch_divide((uint128) sketch_get_sum(s),
								   (uint128) s->count * 1000000000));
}

/* min_val(sketch): the exact smallest value. */
Datum
kpi_sketch_min_val(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(PG_GETARG_SKETCH_P(0)->min);
}

/* max_val(sketch): the exact largest value. */
Datum
kpi_sketch_max_val(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(PG_GETARG_SKETCH_P(0)->max);
}

/* error(sketch): the relative error bound of its quantiles. */
Datum
kpi_sketch_error(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(SKETCH_ERROR);
}
