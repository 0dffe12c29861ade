/*-------------------------------------------------------------------------
 *
 * calendar.h
 *		The business calendar: the kpi.business_hours type and the working
 *		time between two instants.
 *
 * The on-disk value is a weekly schedule (merged spans of minutes of the
 * week, Monday 00:00 = 0), merged holiday date ranges and a time zone name.
 * Other C files (the reply-turn refresh) may prepare a calendar once and ask
 * for business seconds of many intervals without going through fmgr.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KPI_CALENDAR_H
#define KPI_CALENDAR_H

#include "datatype/timestamp.h"
#include "fmgr.h"

/* Format version of the on-disk and binary forms. */
#define BH_FORMAT_VERSION	1

#define BH_MINUTES_PER_DAY	1440
#define BH_MINUTES_PER_WEEK (7 * BH_MINUTES_PER_DAY)

/*
 * On-disk layout, 4-byte aligned, all integers in host byte order:
 *
 *	int32	vl_len_
 *	uint8	version			BH_FORMAT_VERSION
 *	uint8	tzlen			bytes of the zone name, 1 .. TZ_STRLEN_MAX - 1
 *	uint16	nspans			weekly working spans, 0 .. BH_MINUTES_PER_WEEK / 2
 *	int32	nholidays		holiday date ranges, >= 0
 *	int32	holidays[2 * nholidays]		first, last (DateADT, inclusive)
 *	uint16	spans[2 * nspans]			start, end (minutes of the week, end exclusive)
 *	char	tzname[tzlen]				canonical zone name, no terminator
 *
 * Canonical means: spans sorted, each 0 <= start < end <= 10080, with a gap
 * before the next one (a span crossing Sunday midnight is stored as two);
 * holiday ranges sorted, first <= last, with a gap of at least one day
 * before the next; the zone name is the one PostgreSQL reports for it.  Equal
 * calendars therefore have equal bytes.
 */
typedef struct BusinessHours
{
	int32		vl_len_;
	uint8		version;
	uint8		tzlen;
	uint16		nspans;
	int32		nholidays;
	int32		data[FLEXIBLE_ARRAY_MEMBER];
} BusinessHours;

#define BH_HEADER_SIZE			offsetof(BusinessHours, data)
#define BH_HOLIDAYS(bh)			((bh)->data)
#define BH_SPANS(bh)			((uint16 *) ((bh)->data + 2 * (bh)->nholidays))
#define BH_TZNAME(bh)			((char *) (BH_SPANS(bh) + 2 * (bh)->nspans))

#define DatumGetBusinessHoursP(X)	((BusinessHours *) PG_DETOAST_DATUM(X))
#define PG_GETARG_BUSINESS_HOURS_P(n) DatumGetBusinessHoursP(PG_GETARG_DATUM(n))

/* A calendar prepared for computing (opaque). */
typedef struct KpiCalendar KpiCalendar;

/*
 * Validate a value (detoasted, 4-byte header, size bytes in all) read from
 * disk or built by a caller (ERROR if it is not canonical), then prepare it
 * in mcxt.  Preparing costs O(size); computing
 * then costs O(pieces of constant UTC offset + log spans + log holidays).
 */
extern KpiCalendar *kpi_calendar_prepare(const BusinessHours *bh, Size size,
										 MemoryContext mcxt);

/*
 * Working microseconds of [from, to) (negative when from > to).  Both ends
 * must be finite; ERROR if the result does not fit in int64.
 */
extern int64 kpi_calendar_usecs(KpiCalendar *cal, TimestampTz from,
								TimestampTz to);

/*
 * Working seconds of [from, to) (negative when from > to), exact to the
 * microsecond as far as a double holds it.  An infinite end gives +/-Infinity
 * when the calendar has working time, else 0.
 */
extern double kpi_calendar_seconds(KpiCalendar *cal, TimestampTz from,
								   TimestampTz to);

/* True when the calendar has some working time in its week. */
extern bool kpi_calendar_has_working_time(const KpiCalendar *cal);

#endif							/* KPI_CALENDAR_H */
