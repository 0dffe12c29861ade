/*-------------------------------------------------------------------------
 *
 * calendar.c
 *		kpi.business_hours, a weekly schedule with holidays and a time zone,
 *		and kpi.business_seconds, the working time between two instants.
 *
 * Business seconds are real elapsed seconds whose local wall-clock time is
 * inside working hours on a local date that is not a holiday.  The interval
 * is cut at the zone's UTC-offset transitions; inside one piece local time
 * is real time plus a constant, so the working time of the piece is the
 * difference of a cumulative function of local time, computed from whole
 * weeks and a prefix sum over the week's spans, minus the same for holidays
 * (again a prefix sum, found by binary search).  Nothing steps through days.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "calendar.h"
#include "kpi.h"

#define USECS_PER_WEEK		(7 * USECS_PER_DAY)
/* Local time of Monday 2000-01-03 00:00, the origin of our weeks. */
#define MONDAY_ORIGIN		(2 * USECS_PER_DAY)
/* Seconds from the Unix epoch to the PostgreSQL epoch (2000-01-01). */
#define PG_EPOCH_UNIX_SECS	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* Holidays are dates of years 1 to 9999. */
#define HOLIDAY_MIN_YEAR	1
#define HOLIDAY_MAX_YEAR	9999

/* Longest token quoted back in an error message, in bytes. */
#define BH_TOKEN_QUOTE_MAX	40

/* Calendars remembered per call site, and UTC-offset pieces per calendar. */
#define BH_FN_CACHE_SIZE	4
#define BH_MAX_SEGMENTS		512

/* ------------------------------------------------------------------------
 * Parsing the text form
 * ------------------------------------------------------------------------
 */

/* The state of parsing one text value. */
typedef struct BhParser
{
	const char *str;			/* the whole input, for positions */
	int32	   *spans;			/* start, end pairs in minutes of the week */
	int			nspans;
	int			maxspans;
	int32	   *hols;			/* first, last pairs (DateADT) */
	int			nhols;
	int			maxhols;
	const char *tzname;			/* canonical zone name */
} BhParser;

static void bh_fail(const BhParser *ps, int sqlstate, const char *what,
					const char *at, int len, const char *detail) pg_attribute_noreturn();
static void bh_expected(const BhParser *ps, const char *what, const char *p,
						const char *end, const char *detail) pg_attribute_noreturn();
static void bh_corrupt(const char *detail) pg_attribute_noreturn();

static const char *const day_abbrev[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const day_full[7] = {"monday", "tuesday", "wednesday", "thursday",
"friday", "saturday", "sunday"};

static inline bool
bh_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Bytes that make up a word: letters, digits, '_' and any non-ASCII byte. */
static inline bool
bh_is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || IS_HIGHBIT_SET(c);
}

static inline bool
bh_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *
bh_skip_space(const char *p, const char *end)
{
	while (p < end && bh_is_space(*p))
		p++;
	return p;
}

/* 1-based character position of *at in the input. */
static int
bh_position(const BhParser *ps, const char *at)
{
	return pg_mbstrlen_with_len(ps->str, (int) (at - ps->str)) + 1;
}

/* A token for an error message, clipped on a character boundary. */
static char *
bh_quote(const char *at, int len)
{
	int			clip;

	if (len <= BH_TOKEN_QUOTE_MAX)
		return pnstrdup(at, len);
	clip = pg_mbcliplen(at, len, BH_TOKEN_QUOTE_MAX);
	return psprintf("%.*s...", clip, at);
}

/* Length of the token at p: up to whitespace, ',', ';' or the end. */
static int
bh_token_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && !bh_is_space(*q) && *q != ',' && *q != ';')
		q++;
	return (int) (q - p);
}

/*
 * Report a bad token: '<what> "<token>" at position N'.
 */
static void
bh_fail(const BhParser *ps, int sqlstate, const char *what,
		const char *at, int len, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s \"%s\" at position %d", what, bh_quote(at, len),
					bh_position(ps, at)),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Report that something else was expected at p: 'expected <what> at position
 * N, found "<token>"' (or "found end of input").
 */
static void
bh_expected(const BhParser *ps, const char *what, const char *p,
			const char *end, const char *detail)
{
	if (*p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("expected %s at position %d, found end of input",
						what, bh_position(ps, p)),
				 detail ? errdetail("%s", detail) : 0));
	else
	{
		int			len = (p < end) ? bh_token_len(p, end) : 1;

		if (len == 0)
			len = 1;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("expected %s at position %d, found \"%s\"",
						what, bh_position(ps, p), bh_quote(p, len)),
				 detail ? errdetail("%s", detail) : 0));
	}
}

static void
bh_add_span(BhParser *ps, int32 start, int32 end)
{
	if (ps->nspans == ps->maxspans)
	{
		ps->maxspans *= 2;
		ps->spans = repalloc(ps->spans, sizeof(int32) * 2 * ps->maxspans);
	}
	ps->spans[2 * ps->nspans] = start;
	ps->spans[2 * ps->nspans + 1] = end;
	ps->nspans++;
}

/*
 * Add working time on day (Monday = 0) from start to end minutes of that
 * day; end may exceed a day (an overnight range) and is cut at the end of the
 * week, the rest going to the start of the week.
 */
static void
bh_add_day_range(BhParser *ps, int day, int start, int end)
{
	int32		s = day * BH_MINUTES_PER_DAY + start;
	int32		e = day * BH_MINUTES_PER_DAY + end;

	if (e <= BH_MINUTES_PER_WEEK)
		bh_add_span(ps, s, e);
	else
	{
		bh_add_span(ps, s, BH_MINUTES_PER_WEEK);
		bh_add_span(ps, 0, e - BH_MINUTES_PER_WEEK);
	}
}

/* The day named by the word [p, p + len), or -1. */
static int
bh_day_number(const char *p, int len)
{
	int			d;

	for (d = 0; d < 7; d++)
	{
		if (len == 3 && pg_strncasecmp(p, day_abbrev[d], 3) == 0)
			return d;
		if (len == strlen(day_full[d]) && pg_strncasecmp(p, day_full[d], len) == 0)
			return d;
	}
	return -1;
}

/* Parse one day name at *pp; advance past it. */
static int
bh_parse_day(BhParser *ps, const char **pp, const char *end)
{
	const char *p = *pp;
	const char *q = p;
	int			day;

	while (q < end && bh_is_word(*q))
		q++;
	if (q == p || bh_is_digit(*p))
		bh_expected(ps, "a day name", p, end,
					"A schedule group starts with day names such as \"Mon-Fri\" or \"Sat,Sun\".");
	day = bh_day_number(p, (int) (q - p));
	if (day < 0)
		bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid day name",
				p, (int) (q - p),
				"Day names are Mon, Tue, Wed, Thu, Fri, Sat and Sun (or spelt out), in any case.");
	*pp = q;
	return day;
}

/*
 * Parse a time of day H:MM or HH:MM at *pp, in minutes (24:00 = 1440).  The
 * token runs up to whitespace, '-', ',', ';' or the end.
 */
static int
bh_parse_time(BhParser *ps, const char **pp, const char *end)
{
	const char *p = *pp;
	const char *q = p;
	int			len;
	int			hour;
	int			minute;

	while (q < end && !bh_is_space(*q) && *q != '-' && *q != ',' && *q != ';')
		q++;
	len = (int) (q - p);
	if (len == 0)
		bh_expected(ps, "a time such as 09:00", p, end, NULL);
	if (!((len == 4 && bh_is_digit(p[0]) && p[1] == ':' &&
		   bh_is_digit(p[2]) && bh_is_digit(p[3])) ||
		  (len == 5 && bh_is_digit(p[0]) && bh_is_digit(p[1]) && p[2] == ':' &&
		   bh_is_digit(p[3]) && bh_is_digit(p[4]))))
		bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid time", p, len,
				"Write times as HH:MM, from 00:00 to 24:00.");
	if (len == 4)
	{
		hour = p[0] - '0';
		minute = (p[2] - '0') * 10 + (p[3] - '0');
	}
	else
	{
		hour = (p[0] - '0') * 10 + (p[1] - '0');
		minute = (p[3] - '0') * 10 + (p[4] - '0');
	}
	if (hour > 24 || minute > 59 || (hour == 24 && minute != 0))
		bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid time", p, len,
				"Write times as HH:MM, from 00:00 to 24:00.");
	*pp = q;
	return hour * 60 + minute;
}

/*
 * Parse one time range (or 24h) at *pp and add it to every day in daymask.
 */
static void
bh_parse_time_range(BhParser *ps, const char **pp, const char *end, int daymask)
{
	const char *p = *pp;
	const char *start_at = p;
	int			start;
	int			stop;
	int			d;

	/* 24h: the whole day */
	if (end - p >= 3 && p[0] == '2' && p[1] == '4' && (p[2] == 'h' || p[2] == 'H') &&
		(end - p == 3 || bh_is_space(p[3]) || p[3] == ',' || p[3] == ';'))
	{
		start = 0;
		stop = BH_MINUTES_PER_DAY;
		p += 3;
	}
	else
	{
		start = bh_parse_time(ps, &p, end);
		if (start == BH_MINUTES_PER_DAY)
			bh_fail(ps, ERRCODE_INVALID_PARAMETER_VALUE, "invalid start time",
					start_at, (int) (p - start_at),
					"24:00 may only end a time range; write 00:00 to start at midnight.");
		p = bh_skip_space(p, end);
		if (p >= end || *p != '-')
			bh_expected(ps, "\"-\" and the end of the time range", p, end,
						"A time range looks like 09:00-18:00.");
		p = bh_skip_space(p + 1, end);
		stop = bh_parse_time(ps, &p, end);
		if (stop == start)
			bh_fail(ps, ERRCODE_INVALID_PARAMETER_VALUE, "empty time range",
					start_at, (int) (p - start_at),
					"A range must not start and end at the same time; write 24h for a whole day.");
		/* An end before the start is an overnight range into the next day. */
		if (stop < start)
		{
			if (stop == 0)
				stop = BH_MINUTES_PER_DAY;	/* 22:00-00:00 is 22:00-24:00 */
			else
				stop += BH_MINUTES_PER_DAY;
		}
	}
	for (d = 0; d < 7; d++)
		if (daymask & (1 << d))
			bh_add_day_range(ps, d, start, stop);
	*pp = p;
}

/*
 * Parse the schedule section [p, end).
 *
 * schedule := "closed" | group ("," group)*
 * group    := days range+
 * days     := day ["-" day] ("," day ["-" day])*
 * range    := "24h" | time "-" time
 *
 * A comma is read as part of the day list while the group has no time range
 * yet; after a range, a comma followed by a day name starts a new group, and
 * a comma followed by a time adds another range to the same group.  Ranges
 * are separated by whitespace (or such a comma).
 */
static void
bh_parse_schedule(BhParser *ps, const char *p, const char *end)
{
	p = bh_skip_space(p, end);
	if (p >= end)
		bh_expected(ps, "a schedule such as \"Mon-Fri 09:00-18:00\" or \"closed\"", p, end,
					"The text starts with the schedule; options such as tz= follow after \";\".");

	/* "closed": no working time at all */
	if (end - p >= 6 && pg_strncasecmp(p, "closed", 6) == 0 &&
		(end - p == 6 || !bh_is_word(p[6])))
	{
		const char *q = bh_skip_space(p + 6, end);

		if (q < end)
			bh_expected(ps, "\";\" after \"closed\"", q, end, NULL);
		return;
	}

	for (;;)
	{
		int			daymask = 0;
		int			nranges = 0;

		/* the day list */
		for (;;)
		{
			int			first = bh_parse_day(ps, &p, end);
			int			last = first;
			int			d;

			p = bh_skip_space(p, end);
			if (p < end && *p == '-')
			{
				p = bh_skip_space(p + 1, end);
				last = bh_parse_day(ps, &p, end);
				p = bh_skip_space(p, end);
			}
			/* a range runs forward through the week: Fri-Mon is Fri..Mon */
			for (d = first;; d = (d + 1) % 7)
			{
				daymask |= 1 << d;
				if (d == last)
					break;
			}
			if (p < end && *p == ',')
			{
				p = bh_skip_space(p + 1, end);
				continue;
			}
			break;
		}

		/* one or more time ranges */
		for (;;)
		{
			if (p >= end || !bh_is_digit(*p))
			{
				if (nranges == 0)
					bh_expected(ps, "a time range such as 09:00-18:00 or 24h", p, end,
								"Each group of days needs its hours, as in \"Sat 10:00-14:00\".");
				bh_expected(ps, "a time range, \",\" or \";\"", p, end,
							"Separate groups of days with a comma, as in \"Mon-Fri 09:00-18:00, Sat 10:00-14:00\".");
			}
			bh_parse_time_range(ps, &p, end, daymask);
			nranges++;
			if (p < end && !bh_is_space(*p) && *p != ',')
				bh_expected(ps, "whitespace, \",\" or \";\" after the time range", p, end, NULL);
			p = bh_skip_space(p, end);
			if (p >= end)
				return;
			if (*p == ',')
			{
				p = bh_skip_space(p + 1, end);
				if (p < end && bh_is_digit(*p))
					continue;	/* another range of this group */
				break;			/* a new group */
			}
		}
	}
}

/*
 * Parse a date YYYY-MM-DD at *pp.  The token runs up to whitespace, ',', ';',
 * '.' or the end.
 */
static DateADT
bh_parse_date(BhParser *ps, const char **pp, const char *end)
{
	const char *p = *pp;
	const char *q = p;
	int			len;
	int			i;
	int			year;
	int			month;
	int			day;

	while (q < end && !bh_is_space(*q) && *q != ',' && *q != ';' && *q != '.')
		q++;
	len = (int) (q - p);
	if (len == 0)
		bh_expected(ps, "a date such as 2026-10-01", p, end, NULL);
	if (len != 10 || p[4] != '-' || p[7] != '-')
		bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid date", p, len,
				"Write holidays as YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD.");
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !bh_is_digit(p[i]))
			bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid date", p, len,
					"Write holidays as YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD.");
	year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	month = (p[5] - '0') * 10 + (p[6] - '0');
	day = (p[8] - '0') * 10 + (p[9] - '0');
	if (year < HOLIDAY_MIN_YEAR || month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1])
		bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid date", p, len,
				"The date does not exist; holidays are dates of the years 0001 to 9999.");
	*pp = q;
	return date2j(year, month, day) - POSTGRES_EPOCH_JDATE;
}

/* Parse the value of holidays= in [p, end): dates and ranges. */
static void
bh_parse_holidays(BhParser *ps, const char *p, const char *end)
{
	for (;;)
	{
		const char *at;
		DateADT		first;
		DateADT		last;

		p = bh_skip_space(p, end);
		at = p;
		first = bh_parse_date(ps, &p, end);
		last = first;
		p = bh_skip_space(p, end);
		if (p < end && *p == '.')
		{
			if (end - p < 2 || p[1] != '.')
				bh_expected(ps, "\"..\" between the dates of a range", p, end, NULL);
			p = bh_skip_space(p + 2, end);
			last = bh_parse_date(ps, &p, end);
			if (last < first)
				bh_fail(ps, ERRCODE_INVALID_PARAMETER_VALUE, "reversed holiday range",
						at, (int) (p - at),
						"Write the earlier date first, as in 2026-10-01..2026-10-07.");
			p = bh_skip_space(p, end);
		}
		if (ps->nhols == ps->maxhols)
		{
			ps->maxhols *= 2;
			ps->hols = repalloc(ps->hols, sizeof(int32) * 2 * ps->maxhols);
		}
		ps->hols[2 * ps->nhols] = first;
		ps->hols[2 * ps->nhols + 1] = last;
		ps->nhols++;
		if (p >= end)
			return;
		if (*p != ',')
			bh_expected(ps, "\",\" or \";\" after the holiday", p, end, NULL);
		p++;
	}
}

/* Parse the value of tz= in [p, end). */
static void
bh_parse_tz(BhParser *ps, const char *p, const char *end)
{
	const char *q;
	char	   *name;
	pg_tz	   *tz = NULL;

	p = bh_skip_space(p, end);
	q = end;
	while (q > p && bh_is_space(q[-1]))
		q--;
	if (q == p)
		bh_expected(ps, "a time zone name such as Asia/Shanghai", p, end, NULL);
	name = pnstrdup(p, q - p);
	if (strlen(name) < TZ_STRLEN_MAX)
		tz = pg_tzset(name);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown time zone \"%s\" at position %d",
						bh_quote(p, (int) (q - p)), bh_position(ps, p)),
				 errhint("Use a name from pg_timezone_names, such as \"Asia/Shanghai\" or \"UTC\".")));
	/* refuses zones with leap seconds */
	tz = kpi_lookup_timezone(name);
	ps->tzname = pstrdup(pg_get_timezone_name(tz));
}

/*
 * Parse a whole text: the schedule, then options "tz=" and "holidays="
 * separated by ";".  Empty sections after the schedule are ignored.
 */
static void
bh_parse(BhParser *ps)
{
	const char *p = ps->str;
	const char *sec_end;
	bool		seen_tz = false;
	bool		seen_holidays = false;

	sec_end = strchr(p, ';');
	if (sec_end == NULL)
		sec_end = p + strlen(p);
	bh_parse_schedule(ps, p, sec_end);

	while (*sec_end == ';')
	{
		const char *key;
		const char *q;
		int			keylen;

		p = bh_skip_space(sec_end + 1, sec_end + 1 + strlen(sec_end + 1));
		sec_end = strchr(p, ';');
		if (sec_end == NULL)
			sec_end = p + strlen(p);
		if (p >= sec_end)
			continue;			/* an empty section */

		key = p;
		q = p;
		while (q < sec_end && bh_is_word(*q))
			q++;
		keylen = (int) (q - key);
		q = bh_skip_space(q, sec_end);
		if (keylen == 0 || q >= sec_end || *q != '=')
			bh_expected(ps, "an option tz= or holidays=", key, sec_end,
						"The schedule comes first; after it only \"; tz=Zone/Name\" and \"; holidays=...\" may follow.");
		if (keylen == 2 && pg_strncasecmp(key, "tz", 2) == 0)
		{
			if (seen_tz)
				bh_fail(ps, ERRCODE_INVALID_PARAMETER_VALUE, "duplicate option", key, keylen,
						"Give tz= at most once.");
			seen_tz = true;
			bh_parse_tz(ps, q + 1, sec_end);
		}
		else if (keylen == 8 && pg_strncasecmp(key, "holidays", 8) == 0)
		{
			if (seen_holidays)
				bh_fail(ps, ERRCODE_INVALID_PARAMETER_VALUE, "duplicate option", key, keylen,
						"List all holidays in one holidays= option, separated by commas.");
			seen_holidays = true;
			bh_parse_holidays(ps, q + 1, sec_end);
		}
		else
			bh_fail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, "unknown option", key, keylen,
					"The options are tz= and holidays=.");
	}
}

static int
bh_cmp_pairs(const void *a, const void *b)
{
	const int32 *x = (const int32 *) a;
	const int32 *y = (const int32 *) b;

	if (x[0] != y[0])
		return (x[0] < y[0]) ? -1 : 1;
	if (x[1] != y[1])
		return (x[1] < y[1]) ? -1 : 1;
	return 0;
}

/*
 * Sort (first, last) pairs and merge those that overlap or touch; gap is 0
 * for half-open spans and 1 for inclusive date ranges.  Returns the count.
 */
static int
bh_merge_pairs(int32 *pairs, int n, int32 gap)
{
	int			out = 0;
	int			i;

	if (n == 0)
		return 0;
	qsort(pairs, n, 2 * sizeof(int32), bh_cmp_pairs);
	for (i = 1; i < n; i++)
	{
		int32		s = pairs[2 * i];
		int32		e = pairs[2 * i + 1];

		if ((int64) s <= (int64) pairs[2 * out + 1] + gap)
		{
			if (e > pairs[2 * out + 1])
				pairs[2 * out + 1] = e;
		}
		else
		{
			out++;
			pairs[2 * out] = s;
			pairs[2 * out + 1] = e;
		}
	}
	return out + 1;
}

/* ------------------------------------------------------------------------
 * The stored form
 * ------------------------------------------------------------------------
 */

/* Build a value from merged spans, merged holidays and a zone name. */
static BusinessHours *
bh_build(const int32 *spans, int nspans, const int32 *hols, int nhols,
		 const char *tzname, int tzlen)
{
	Size		size;
	BusinessHours *bh;
	uint16	   *sp;
	int			i;

	size = BH_HEADER_SIZE + (Size) nhols * 2 * sizeof(int32) +
		(Size) nspans * 2 * sizeof(uint16) + tzlen;
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("business hours value is too large")));
	bh = palloc0(size);
	SET_VARSIZE(bh, size);
	bh->version = BH_FORMAT_VERSION;
	bh->tzlen = (uint8) tzlen;
	bh->nspans = (uint16) nspans;
	bh->nholidays = nhols;
	for (i = 0; i < 2 * nhols; i++)
		BH_HOLIDAYS(bh)[i] = hols[i];
	sp = BH_SPANS(bh);
	for (i = 0; i < 2 * nspans; i++)
		sp[i] = (uint16) spans[i];
	memcpy(BH_TZNAME(bh), tzname, tzlen);
	return bh;
}

static void
bh_corrupt(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid business hours value"),
			 errdetail("%s", detail)));
}

/*
 * Check every byte of a value of the given total size: version, counts,
 * lengths, ranges, ordering and the zone name.  ERROR if anything is off.
 */
static void
bh_validate(const BusinessHours *bh, Size size)
{
	const int32 *hol;
	const uint16 *sp;
	const char *tzname;
	Size		expect;
	int			i;
	DateADT		min_date = date2j(HOLIDAY_MIN_YEAR, 1, 1) - POSTGRES_EPOCH_JDATE;
	DateADT		max_date = date2j(HOLIDAY_MAX_YEAR, 12, 31) - POSTGRES_EPOCH_JDATE;
	char		name[TZ_STRLEN_MAX + 1];
	pg_tz	   *tz;

	if (size < BH_HEADER_SIZE)
		bh_corrupt("The value is shorter than its header.");
	if (bh->version != BH_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported business hours format version %d", bh->version),
				 errdetail("This build of kpi reads version %d.", BH_FORMAT_VERSION)));
	if (bh->tzlen == 0 || bh->tzlen >= TZ_STRLEN_MAX)
		bh_corrupt("The time zone name length is out of range.");
	if (bh->nspans > BH_MINUTES_PER_WEEK / 2)
		bh_corrupt("There are more working spans than a week can hold.");
	if (bh->nholidays < 0 || (Size) bh->nholidays > MaxAllocSize / (2 * sizeof(int32)))
		bh_corrupt("The holiday count is out of range.");
	expect = BH_HEADER_SIZE + (Size) bh->nholidays * 2 * sizeof(int32) +
		(Size) bh->nspans * 2 * sizeof(uint16) + bh->tzlen;
	if (expect != size)
		bh_corrupt("The length does not match the counts in the header.");

	hol = BH_HOLIDAYS(bh);
	for (i = 0; i < bh->nholidays; i++)
	{
		if (hol[2 * i] < min_date || hol[2 * i + 1] > max_date)
			bh_corrupt("A holiday lies outside the years 0001 to 9999.");
		if (hol[2 * i] > hol[2 * i + 1])
			bh_corrupt("A holiday range ends before it starts.");
		if (i > 0 && (int64) hol[2 * i] <= (int64) hol[2 * i - 1] + 1)
			bh_corrupt("Holiday ranges are not sorted and merged.");
	}
	sp = BH_SPANS(bh);
	for (i = 0; i < bh->nspans; i++)
	{
		if (sp[2 * i] >= sp[2 * i + 1] || sp[2 * i + 1] > BH_MINUTES_PER_WEEK)
			bh_corrupt("A working span is empty or outside the week.");
		if (i > 0 && sp[2 * i] <= sp[2 * i - 1])
			bh_corrupt("Working spans are not sorted and merged.");
	}
	tzname = BH_TZNAME(bh);
	memcpy(name, tzname, bh->tzlen);
	name[bh->tzlen] = '\0';
	if (strlen(name) != bh->tzlen)
		bh_corrupt("The time zone name contains a zero byte.");
	tz = pg_tzset(name);
	if (tz == NULL)
		bh_corrupt("The time zone is not known to this server.");
	tz = kpi_lookup_timezone(name);
	if (strcmp(pg_get_timezone_name(tz), name) != 0)
		bh_corrupt("The time zone name is not in its canonical spelling.");
}

PG_FUNCTION_INFO_V1(kpi_business_hours_in);

/* Text to kpi.business_hours: parse, merge, store. */
Datum
kpi_business_hours_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	BhParser	ps;
	int			nspans;
	int			nhols;
	BusinessHours *bh;

	memset(&ps, 0, sizeof(ps));
	ps.str = str;
	ps.maxspans = 16;
	ps.spans = palloc(sizeof(int32) * 2 * ps.maxspans);
	ps.maxhols = 8;
	ps.hols = palloc(sizeof(int32) * 2 * ps.maxhols);
	ps.tzname = "UTC";

	bh_parse(&ps);
	nspans = bh_merge_pairs(ps.spans, ps.nspans, 0);
	nhols = bh_merge_pairs(ps.hols, ps.nhols, 1);
	if (strlen(ps.tzname) == 0 || strlen(ps.tzname) >= TZ_STRLEN_MAX)
		elog(ERROR, "unexpected time zone name length");
	bh = bh_build(ps.spans, nspans, ps.hols, nhols, ps.tzname, (int) strlen(ps.tzname));
	bh_validate(bh, VARSIZE(bh));
	PG_RETURN_POINTER(bh);
}

/* ------------------------------------------------------------------------
 * The canonical text form
 * ------------------------------------------------------------------------
 */

/* One printed range: day, start minute, end minute (end < start: overnight). */
typedef struct BhSpec
{
	int			day;
	int			start;
	int			end;
} BhSpec;

static int
bh_cmp_specs(const void *a, const void *b)
{
	const BhSpec *x = (const BhSpec *) a;
	const BhSpec *y = (const BhSpec *) b;

	if (x->day != y->day)
		return x->day - y->day;
	return x->start - y->start;
}

static void
bh_append_time(StringInfo buf, int minutes)
{
	appendStringInfo(buf, "%02d:%02d", minutes / 60, minutes % 60);
}

/*
 * Cut a continuous run of working time (start minute of the week, length in
 * minutes, possibly wrapping the week) into printed ranges: a run starting at
 * midnight prints a day at a time (24h or 00:00-HH:MM); a run starting later
 * prints as one overnight range if it lasts less than a day, else up to 24:00
 * and continues from midnight.
 */
static int
bh_cut_run(int start, int length, BhSpec *out)
{
	int			n = 0;
	int			cur = start;
	int			left = length;

	while (left > 0)
	{
		int			day = (cur / BH_MINUTES_PER_DAY) % 7;
		int			tod = cur % BH_MINUTES_PER_DAY;
		int			take;

		out[n].day = day;
		out[n].start = tod;
		if (tod == 0)
		{
			take = Min(left, BH_MINUTES_PER_DAY);
			out[n].end = take;
		}
		else if (left < BH_MINUTES_PER_DAY)
		{
			take = left;
			out[n].end = (tod + left <= BH_MINUTES_PER_DAY) ? tod + left
				: tod + left - BH_MINUTES_PER_DAY;
		}
		else
		{
			take = BH_MINUTES_PER_DAY - tod;
			out[n].end = BH_MINUTES_PER_DAY;
		}
		n++;
		cur = (cur + take) % BH_MINUTES_PER_WEEK;
		left -= take;
	}
	return n;
}

/* Print a set of days (bit d = day d), compressing runs, wrapping the week. */
static void
bh_append_days(StringInfo buf, int mask)
{
	int			first;
	int			i;
	bool		need_comma = false;

	if (mask == 0x7f)
	{
		appendStringInfoString(buf, "Mon-Sun");
		return;
	}
	/* start at a day whose previous day is not in the set */
	for (first = 0; first < 7; first++)
		if ((mask & (1 << first)) && !(mask & (1 << ((first + 6) % 7))))
			break;
	i = 0;
	while (i < 7)
	{
		int			d = (first + i) % 7;
		int			len = 0;

		if (!(mask & (1 << d)))
		{
			i++;
			continue;
		}
		while (i + len < 7 && (mask & (1 << ((first + i + len) % 7))))
			len++;
		if (need_comma)
			appendStringInfoChar(buf, ',');
		appendStringInfoString(buf, day_abbrev[d]);
		if (len > 1)
			appendStringInfo(buf, "-%s", day_abbrev[(d + len - 1) % 7]);
		need_comma = true;
		i += len;
	}
}

/* The first day printed by bh_append_days, for ordering groups. */
static int
bh_first_printed_day(int mask)
{
	int			first;

	if (mask == 0x7f)
		return 0;
	for (first = 0; first < 7; first++)
		if ((mask & (1 << first)) && !(mask & (1 << ((first + 6) % 7))))
			return first;
	return 0;
}

static void
bh_append_schedule(StringInfo buf, const BusinessHours *bh)
{
	const uint16 *sp = BH_SPANS(bh);
	int			n = bh->nspans;
	BhSpec	   *specs;
	int			nspecs = 0;
	int			lo = 0;
	int			hi = n;
	int			day_first[8];
	int			group_mask[7];
	int			group_day[7];
	int			ngroups = 0;
	int			d;
	int			g;

	if (n == 0)
	{
		appendStringInfoString(buf, "closed");
		return;
	}
	if (n == 1 && sp[0] == 0 && sp[1] == BH_MINUTES_PER_WEEK)
	{
		appendStringInfoString(buf, "Mon-Sun 24h");
		return;
	}

	/* each run yields at most 2 + length / 1440 ranges */
	specs = palloc(sizeof(BhSpec) * (3 * n + 16));
	if (n >= 2 && sp[0] == 0 && sp[2 * n - 1] == BH_MINUTES_PER_WEEK)
	{
		/* the last and first spans are one run across Sunday midnight */
		nspecs += bh_cut_run(sp[2 * n - 2],
							 BH_MINUTES_PER_WEEK - sp[2 * n - 2] + sp[1],
							 specs + nspecs);
		lo = 1;
		hi = n - 1;
	}
	for (; lo < hi; lo++)
		nspecs += bh_cut_run(sp[2 * lo], sp[2 * lo + 1] - sp[2 * lo], specs + nspecs);
	qsort(specs, nspecs, sizeof(BhSpec), bh_cmp_specs);

	/* day_first[d] .. day_first[d + 1] are the ranges of day d */
	for (d = 0, g = 0; d <= 7; d++)
	{
		while (g < nspecs && specs[g].day < d)
			g++;
		day_first[d] = g;
	}

	/* group days with identical ranges */
	for (d = 0; d < 7; d++)
	{
		int			cnt = day_first[d + 1] - day_first[d];
		bool		found = false;

		if (cnt == 0)
			continue;
		for (g = 0; g < ngroups && !found; g++)
		{
			int			e = group_day[g];
			int			k;

			if (day_first[e + 1] - day_first[e] != cnt)
				continue;
			for (k = 0; k < cnt; k++)
			{
				BhSpec	   *x = &specs[day_first[d] + k];
				BhSpec	   *y = &specs[day_first[e] + k];

				if (x->start != y->start || x->end != y->end)
					break;
			}
			if (k == cnt)
			{
				group_mask[g] |= 1 << d;
				found = true;
			}
		}
		if (!found)
		{
			group_mask[ngroups] = 1 << d;
			group_day[ngroups] = d;
			ngroups++;
		}
	}

	/* print groups in the order of their first printed day */
	for (;;)
	{
		int			best = -1;
		int			k;

		for (g = 0; g < ngroups; g++)
			if (group_mask[g] != 0 &&
				(best < 0 || bh_first_printed_day(group_mask[g]) <
				 bh_first_printed_day(group_mask[best])))
				best = g;
		if (best < 0)
			break;
		if (buf->len > 0)
			appendStringInfoString(buf, ", ");
		bh_append_days(buf, group_mask[best]);
		d = group_day[best];
		for (k = day_first[d]; k < day_first[d + 1]; k++)
		{
			appendStringInfoChar(buf, ' ');
			if (specs[k].start == 0 && specs[k].end == BH_MINUTES_PER_DAY)
				appendStringInfoString(buf, "24h");
			else
			{
				bh_append_time(buf, specs[k].start);
				appendStringInfoChar(buf, '-');
				bh_append_time(buf, specs[k].end);
			}
		}
		group_mask[best] = 0;
	}
	pfree(specs);
}

static void
bh_append_date(StringInfo buf, DateADT d)
{
	int			year;
	int			month;
	int			day;

	j2date(d + POSTGRES_EPOCH_JDATE, &year, &month, &day);
	appendStringInfo(buf, "%04d-%02d-%02d", year, month, day);
}

PG_FUNCTION_INFO_V1(kpi_business_hours_out);

/*
 * kpi.business_hours to its canonical text, which parses back to the same
 * bytes: "<schedule>; tz=<zone>[; holidays=<dates>]".
 */
Datum
kpi_business_hours_out(PG_FUNCTION_ARGS)
{
	BusinessHours *bh = PG_GETARG_BUSINESS_HOURS_P(0);
	StringInfoData buf;
	int			i;

	bh_validate(bh, VARSIZE(bh));
	initStringInfo(&buf);
	bh_append_schedule(&buf, bh);
	appendStringInfo(&buf, "; tz=%.*s", bh->tzlen, BH_TZNAME(bh));
	if (bh->nholidays > 0)
	{
		const int32 *hol = BH_HOLIDAYS(bh);

		appendStringInfoString(&buf, "; holidays=");
		for (i = 0; i < bh->nholidays; i++)
		{
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			bh_append_date(&buf, hol[2 * i]);
			if (hol[2 * i + 1] != hol[2 * i])
			{
				appendStringInfoString(&buf, "..");
				bh_append_date(&buf, hol[2 * i + 1]);
			}
		}
	}
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Binary form, network byte order:
 *	byte version, byte tzlen, tzname, int16 nspans, (int16 start, int16 end)*,
 *	int32 nholidays, (int32 first, int32 last)*
 */
PG_FUNCTION_INFO_V1(kpi_business_hours_send);

Datum
kpi_business_hours_send(PG_FUNCTION_ARGS)
{
	BusinessHours *bh = PG_GETARG_BUSINESS_HOURS_P(0);
	StringInfoData buf;
	const uint16 *sp = BH_SPANS(bh);
	const int32 *hol = BH_HOLIDAYS(bh);
	int			i;

	bh_validate(bh, VARSIZE(bh));
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, bh->version);
	pq_sendbyte(&buf, bh->tzlen);
	pq_sendbytes(&buf, BH_TZNAME(bh), bh->tzlen);
	pq_sendint16(&buf, bh->nspans);
	for (i = 0; i < 2 * bh->nspans; i++)
		pq_sendint16(&buf, sp[i]);
	pq_sendint32(&buf, bh->nholidays);
	for (i = 0; i < 2 * bh->nholidays; i++)
		pq_sendint32(&buf, hol[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(kpi_business_hours_recv);

/*
 * Refuse binary input that ends before the next field of n bytes.  pq_getmsg*
 * would say "insufficient data left in message" with a protocol-violation code,
 * which names neither the type nor what is wrong.
 */
static void
bh_recv_need(StringInfo msg, int n)
{
	if (msg->len - msg->cursor < n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.business_hours binary value is truncated"),
				 errdetail("The value ends after %d bytes, inside the field that starts at byte %d.",
						   msg->len, msg->cursor)));
}

/* Binary form to kpi.business_hours; refuses anything not canonical. */
Datum
kpi_business_hours_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	int			version;
	int			tzlen;
	const char *tzname;
	int			nspans;
	int32		nhols;
	int32	   *spans;
	int32	   *hols;
	int			i;
	BusinessHours *bh;

	bh_recv_need(msg, 1);
	version = pq_getmsgbyte(msg);
	if (version != BH_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported business hours format version %d", version),
				 errdetail("This build of kpi reads version %d.", BH_FORMAT_VERSION)));
	bh_recv_need(msg, 1);
	tzlen = pq_getmsgbyte(msg);
	if (tzlen == 0 || tzlen >= TZ_STRLEN_MAX)
		bh_corrupt("The time zone name length is out of range.");
	bh_recv_need(msg, tzlen + 2);
	tzname = pq_getmsgbytes(msg, tzlen);
	nspans = (uint16) pq_getmsgint(msg, 2);
	if (nspans > BH_MINUTES_PER_WEEK / 2)
		bh_corrupt("There are more working spans than a week can hold.");
	bh_recv_need(msg, 4 * nspans + 4);
	spans = palloc(sizeof(int32) * 2 * (nspans + 1));
	for (i = 0; i < 2 * nspans; i++)
		spans[i] = (uint16) pq_getmsgint(msg, 2);
	nhols = (int32) pq_getmsgint(msg, 4);
	if (nhols < 0 || nhols > (msg->len - msg->cursor) / 8)
		bh_corrupt("The holiday count does not match the data.");
	hols = palloc(sizeof(int32) * 2 * (nhols + 1));
	for (i = 0; i < 2 * nhols; i++)
		hols[i] = (int32) pq_getmsgint(msg, 4);
	if (msg->cursor != msg->len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("kpi.business_hours binary value is followed by extra bytes"),
				 errdetail("The value ends at byte %d of %d.", msg->cursor, msg->len)));

	bh = bh_build(spans, nspans, hols, nhols, tzname, tzlen);
	bh_validate(bh, VARSIZE(bh));
	PG_RETURN_POINTER(bh);
}

/* ------------------------------------------------------------------------
 * Computing business time
 * ------------------------------------------------------------------------
 */

/* A stretch [lo, hi) of Unix seconds with one UTC offset; hi is a transition. */
typedef struct BhSegment
{
	pg_time_t	lo;
	pg_time_t	hi;				/* PG_INT64_MAX: no later transition */
	int64		offset;			/* local minus UTC, microseconds */
} BhSegment;

struct KpiCalendar
{
	pg_tz	   *tz;
	int64		week_total;		/* working microseconds per week */
	int			nspans;
	int64	   *sp_start;		/* microseconds from Monday 00:00 */
	int64	   *sp_end;
	int64	   *sp_cum;			/* working microseconds before span i */
	int			nhols;
	int64	   *h_start;		/* local microseconds since 2000-01-01 */
	int64	   *h_end;
	int64	   *h_wstart;		/* W(h_start[i]) */
	int64	   *h_cum;			/* working microseconds on holidays before i */
	int			nsegs;
	BhSegment	segs[BH_MAX_SEGMENTS];	/* sorted by hi */
};

/* Working microseconds of the week in [Monday 00:00, Monday 00:00 + pos). */
static inline int64
bh_week_prefix(const KpiCalendar *cal, int64 pos)
{
	int			lo = 0;
	int			hi = cal->nspans;

	/* find the first span starting after pos */
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cal->sp_start[mid] <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	lo--;
	return cal->sp_cum[lo] + Min(pos, cal->sp_end[lo]) - cal->sp_start[lo];
}

/*
 * W(x): working microseconds of the weekly schedule from the origin week to
 * local time x (microseconds since 2000-01-01 00:00 local), ignoring
 * holidays.  Differences of W give the working time between two local times.
 */
static inline int64
bh_working_before(const KpiCalendar *cal, int64 x)
{
	int64		rel = x - MONDAY_ORIGIN;
	int64		weeks = rel / USECS_PER_WEEK;
	int64		pos = rel - weeks * USECS_PER_WEEK;

	if (pos < 0)
	{
		pos += USECS_PER_WEEK;
		weeks--;
	}
	return weeks * cal->week_total + bh_week_prefix(cal, pos);
}

/* F(x) = W(x) minus the working microseconds on holidays before x. */
static inline int64
bh_cumulative(const KpiCalendar *cal, int64 x)
{
	int64		w = bh_working_before(cal, x);
	int			lo = 0;
	int			hi = cal->nhols;

	if (hi == 0)
		return w;
	/* the last holiday range starting at or before x */
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cal->h_start[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return w;
	lo--;
	if (x >= cal->h_end[lo])
		return w - cal->h_cum[lo + 1];
	return w - cal->h_cum[lo] - (w - cal->h_wstart[lo]);
}

KpiCalendar *
kpi_calendar_prepare(const BusinessHours *bh, Size size, MemoryContext mcxt)
{
	MemoryContext old;
	KpiCalendar *cal;
	const uint16 *sp;
	const int32 *hol;
	char		name[TZ_STRLEN_MAX + 1];
	int			i;

	bh_validate(bh, size);
	old = MemoryContextSwitchTo(mcxt);
	cal = palloc0(sizeof(KpiCalendar));
	memcpy(name, BH_TZNAME(bh), bh->tzlen);
	name[bh->tzlen] = '\0';
	cal->tz = kpi_lookup_timezone(name);

	sp = BH_SPANS(bh);
	cal->nspans = bh->nspans;
	cal->sp_start = palloc(sizeof(int64) * (cal->nspans + 1));
	cal->sp_end = palloc(sizeof(int64) * (cal->nspans + 1));
	cal->sp_cum = palloc(sizeof(int64) * (cal->nspans + 1));
	cal->week_total = 0;
	for (i = 0; i < cal->nspans; i++)
	{
		cal->sp_start[i] = sp[2 * i] * USECS_PER_MINUTE;
		cal->sp_end[i] = sp[2 * i + 1] * USECS_PER_MINUTE;
		cal->sp_cum[i] = cal->week_total;
		cal->week_total += cal->sp_end[i] - cal->sp_start[i];
	}

	hol = BH_HOLIDAYS(bh);
	cal->nhols = bh->nholidays;
	cal->h_start = palloc(sizeof(int64) * (cal->nhols + 1));
	cal->h_end = palloc(sizeof(int64) * (cal->nhols + 1));
	cal->h_wstart = palloc(sizeof(int64) * (cal->nhols + 1));
	cal->h_cum = palloc(sizeof(int64) * (cal->nhols + 1));
	cal->h_cum[0] = 0;
	for (i = 0; i < cal->nhols; i++)
	{
		cal->h_start[i] = (int64) hol[2 * i] * USECS_PER_DAY;
		cal->h_end[i] = ((int64) hol[2 * i + 1] + 1) * USECS_PER_DAY;
		cal->h_wstart[i] = bh_working_before(cal, cal->h_start[i]);
		cal->h_cum[i + 1] = cal->h_cum[i] +
			bh_working_before(cal, cal->h_end[i]) - cal->h_wstart[i];
	}
	cal->nsegs = 0;
	MemoryContextSwitchTo(old);
	return cal;
}

bool
kpi_calendar_has_working_time(const KpiCalendar *cal)
{
	return cal->week_total > 0;
}

/*
 * The stretch of constant UTC offset that contains Unix second t, from the
 * calendar's small cache or from the zone data.  The offset is the one
 * pg_localtime() reports, as AT TIME ZONE uses; the end is the zone's next
 * transition as pg_next_dst_boundary() finds it.
 */
static BhSegment
bh_segment(KpiCalendar *cal, pg_time_t t)
{
	int			lo = 0;
	int			hi = cal->nsegs;
	long int	before_gmtoff;
	int			before_isdst;
	pg_time_t	boundary;
	long int	after_gmtoff;
	int			after_isdst;
	int			r;
	struct pg_tm *tm;
	BhSegment	seg;

	/* the first cached stretch ending after t */
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cal->segs[mid].hi <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cal->nsegs && cal->segs[lo].lo <= t)
		return cal->segs[lo];

	r = pg_next_dst_boundary(&t, &before_gmtoff, &before_isdst, &boundary,
							 &after_gmtoff, &after_isdst, cal->tz);
	if (r < 0 || (r == 1 && boundary <= t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot find the UTC offset transitions of time zone \"%s\"",
						pg_get_timezone_name(cal->tz))));
	tm = pg_localtime(&t, cal->tz);
	if (tm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for time zone \"%s\"",
						pg_get_timezone_name(cal->tz))));
	seg.lo = t;
	seg.hi = (r == 1) ? boundary : PG_INT64_MAX;
	seg.offset = (int64) tm->tm_gmtoff * USECS_PER_SEC;

	if (lo < cal->nsegs && cal->segs[lo].hi == seg.hi &&
		cal->segs[lo].offset == seg.offset)
		cal->segs[lo].lo = t;	/* the same stretch, known from earlier */
	else if (cal->nsegs < BH_MAX_SEGMENTS &&
			 !(lo < cal->nsegs && cal->segs[lo].hi == seg.hi))
	{
		memmove(&cal->segs[lo + 1], &cal->segs[lo],
				sizeof(BhSegment) * (cal->nsegs - lo));
		cal->segs[lo] = seg;
		cal->nsegs++;
	}
	return seg;
}

/* Unix seconds of a timestamp, rounded down. */
static inline pg_time_t
bh_unix_seconds(TimestampTz ts)
{
	int64		s = ts / USECS_PER_SEC;

	if (ts % USECS_PER_SEC < 0)
		s--;
	return s + PG_EPOCH_UNIX_SECS;
}

/*
 * Working time of [from, to), from < to, both finite: the sum over the
 * pieces of constant UTC offset of F(local end) - F(local start).  Sums in
 * int64 microseconds and returns false if that overflows (only a calendar
 * working nearly all week over most of the timestamp range can); the sum in
 * double seconds is always returned in *seconds.
 */
static bool
bh_forward(KpiCalendar *cal, TimestampTz from, TimestampTz to,
		   int64 *usecs, double *seconds)
{
	int64		total = 0;
	double		approx = 0;
	bool		exact = true;
	TimestampTz cur = from;

	while (cur < to)
	{
		BhSegment	seg = bh_segment(cal, bh_unix_seconds(cur));
		TimestampTz stop = to;
		int64		a;
		int64		b;
		int64		fa;
		int64		fb;
		int64		piece;

		/* the transition as a timestamp, if it comes before to */
		if (seg.hi != PG_INT64_MAX &&
			seg.hi - PG_EPOCH_UNIX_SECS < to / USECS_PER_SEC + 1)
		{
			TimestampTz tr = (seg.hi - PG_EPOCH_UNIX_SECS) * USECS_PER_SEC;

			if (tr < to)
				stop = tr;
		}
		if (stop <= cur)
			elog(ERROR, "time zone transition does not advance");
		if (pg_add_s64_overflow(cur, seg.offset, &a) ||
			pg_add_s64_overflow(stop, seg.offset, &b))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		fa = bh_cumulative(cal, a);
		fb = bh_cumulative(cal, b);
		if (pg_sub_s64_overflow(fb, fa, &piece) ||
			pg_add_s64_overflow(total, piece, &total))
			exact = false;
		approx += ((double) fb - (double) fa) / (double) USECS_PER_SEC;
		cur = stop;
		CHECK_FOR_INTERRUPTS();
	}
	*usecs = total;
	*seconds = exact ? (double) total / (double) USECS_PER_SEC : approx;
	return exact;
}

int64
kpi_calendar_usecs(KpiCalendar *cal, TimestampTz from, TimestampTz to)
{
	int64		usecs;
	double		seconds;
	bool		negate = false;

	if (from == to || cal->week_total == 0)
		return 0;
	if (from > to)
	{
		TimestampTz swap = from;

		from = to;
		to = swap;
		negate = true;
	}
	if (!bh_forward(cal, from, to, &usecs, &seconds))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("business time in microseconds is out of range for bigint")));
	return negate ? -usecs : usecs;
}

double
kpi_calendar_seconds(KpiCalendar *cal, TimestampTz from, TimestampTz to)
{
	int64		usecs;
	double		seconds;

	if (from == to || cal->week_total == 0)
		return 0.0;
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to))
		return from < to ? (double) INFINITY : -(double) INFINITY;
	if (from > to)
	{
		(void) bh_forward(cal, to, from, &usecs, &seconds);
		return -seconds;
	}
	(void) bh_forward(cal, from, to, &usecs, &seconds);
	return seconds;
}

/* Calendars prepared for one call site, keyed by their bytes. */
typedef struct BhCacheEntry
{
	MemoryContext cxt;
	char	   *bytes;			/* the value without its header */
	Size		len;
	KpiCalendar *cal;
} BhCacheEntry;

typedef struct BhFnCache
{
	int			next;			/* round-robin victim */
	BhCacheEntry entries[BH_FN_CACHE_SIZE];
} BhFnCache;

/*
 * The prepared calendar for a datum, reusing one prepared earlier in this
 * query for the same bytes: preparing looks the zone up and builds the
 * prefix sums; comparing bytes costs a memcmp of a few dozen bytes.
 */
static KpiCalendar *
bh_cached_calendar(FunctionCallInfo fcinfo, Datum datum)
{
	struct varlena *packed = PG_DETOAST_DATUM_PACKED(datum);
	const char *bytes = VARDATA_ANY(packed);
	Size		len = VARSIZE_ANY_EXHDR(packed);
	BhFnCache  *cache = (BhFnCache *) fcinfo->flinfo->fn_extra;
	BhCacheEntry *e;
	BusinessHours *bh;
	MemoryContext cxt;
	KpiCalendar *cal;
	int			i;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BhFnCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	for (i = 0; i < BH_FN_CACHE_SIZE; i++)
	{
		e = &cache->entries[i];
		if (e->cal != NULL && e->len == len && memcmp(e->bytes, bytes, len) == 0)
		{
			if ((Pointer) packed != DatumGetPointer(datum))
				pfree(packed);
			return e->cal;
		}
	}

	/* prepare in a fresh context, then take the round-robin victim's place */
	cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "kpi business hours",
								ALLOCSET_SMALL_SIZES);
	bh = MemoryContextAlloc(cxt, VARHDRSZ + len);
	SET_VARSIZE(bh, VARHDRSZ + len);
	memcpy(VARDATA(bh), bytes, len);
	/* an error leaves cxt behind in fn_mcxt, which the aborted query frees */
	cal = kpi_calendar_prepare(bh, VARHDRSZ + len, cxt);
	e = &cache->entries[cache->next];
	cache->next = (cache->next + 1) % BH_FN_CACHE_SIZE;
	if (e->cxt != NULL)
		MemoryContextDelete(e->cxt);
	e->cxt = cxt;
	e->bytes = VARDATA(bh);
	e->len = len;
	e->cal = cal;
	if ((Pointer) packed != DatumGetPointer(datum))
		pfree(packed);
	return e->cal;
}

PG_FUNCTION_INFO_V1(kpi_business_hours_seconds);

/*
 * kpi.business_seconds(from, to, hours): working seconds of [from, to), or
 * minus those of [to, from).  An infinite end gives +/-Infinity when the
 * calendar has any working time, else 0.
 */
Datum
kpi_business_hours_seconds(PG_FUNCTION_ARGS)
{
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(1);
	KpiCalendar *cal = bh_cached_calendar(fcinfo, PG_GETARG_DATUM(2));

	PG_RETURN_FLOAT8(kpi_calendar_seconds(cal, from, to));
}
