-- The business calendar: kpi.business_hours (a weekly schedule, holidays and a time zone) and
-- kpi.business_seconds (the working time between two instants). The session time zone is UTC.
SET timezone = 'UTC';

-- The SPEC example is already in canonical form.
SELECT 'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07'::kpi.business_hours;

-- Every grammar feature and the canonical text it becomes.
SELECT input, input::kpi.business_hours AS canonical
  FROM (VALUES
	('mon-FRI 9:00-18:00'),                              -- day names in any case, one-digit hours
	('Monday,Wednesday 09:00-12:00'),                    -- names spelt out, a comma list of days
	('Fri-Mon 10:00-16:00'),                             -- a day range that wraps the week
	('Mon,Wed 09:00-12:00, Fri 10:00-11:00'),            -- a comma after a time range starts a new group
	('Mon 09:00-12:00, 13:00-18:00'),                    -- ... unless a time follows it
	('Mon-Fri 09:00-12:00 13:00-18:00'),                 -- split shift
	('Sat 20:00-24:00'),                                 -- 24:00 as an end
	('Fri 22:00-06:00'),                                 -- overnight: belongs to the day it starts
	('Sun 22:00-06:00'),                                 -- ... also from Sunday into Monday
	('Sat-Sun 24h'),                                     -- whole days
	('Sun-Sat 00:00-24:00'),                             -- the whole week
	('Mon 09:00-12:00 11:00-14:00'),                     -- overlapping ranges merge
	('Mon-Fri 09:00-18:00, Wed 17:00-20:00'),            -- ... also across groups
	('Mon 22:00-06:00, Tue 06:00-08:00'),                -- an overnight range merging into the next day
	('closed'),                                          -- no working time at all
	('Mon 09:00-10:00; holidays=2026-10-07, 2026-10-01..2026-10-05; tz=europe/paris')
  ) v(input);

-- The canonical text parses back to the same value.
SELECT kpi.business_hours_send(h) = kpi.business_hours_send(h::text::kpi.business_hours) AS same_bytes
  FROM (SELECT 'Fri-Mon 22:00-06:00, Wed 24h; tz=America/New_York; holidays=2026-12-24..2026-12-26'::kpi.business_hours AS h) s;

-- Errors name the offending token and its character position.
SELECT 'Mnd 09:00-18:00'::kpi.business_hours;
SELECT 'Mon-Fri 9am-6pm'::kpi.business_hours;
SELECT 'Mon 09:00-09:00'::kpi.business_hours;
SELECT 'Mon 09:00-12:00 Tue 10:00-11:00'::kpi.business_hours;
SELECT 'Mon 09:00-18:00; tz=Asia/Shanghia'::kpi.business_hours;
SELECT 'Mon 09:00-18:00; holidays=2026-02-30'::kpi.business_hours;
SELECT 'Mon 09:00-18:00; holidays=2026-10-07..2026-10-01'::kpi.business_hours;
SELECT 'Mon 09:00-18:00; vacation=2026-08-01'::kpi.business_hours;
SELECT 'Mon 09:00-18:00, 周二 10:00-11:00'::kpi.business_hours;

-- business_seconds. A question sent Friday 18:30 and answered Monday 09:05 waited 5 business
-- minutes at a shop that works Mon-Fri 09:00-18:00 (2026-01-09 is a Friday).
SELECT kpi.business_seconds('2026-01-09 18:30', '2026-01-12 09:05', 'Mon-Fri 09:00-18:00') AS business_s,
	   extract(epoch FROM timestamptz '2026-01-12 09:05' - timestamptz '2026-01-09 18:30') AS calendar_s;

-- Zero-length, reversed, microseconds, nothing but non-working time.
SELECT kpi.business_seconds('2026-01-05 10:00', '2026-01-05 10:00', 'Mon 09:00-18:00') AS zero_length,
	   kpi.business_seconds('2026-01-12 09:05', '2026-01-09 18:30', 'Mon-Fri 09:00-18:00') AS reversed,
	   kpi.business_seconds('2026-01-05 08:59:59.999999', '2026-01-05 09:00:00.000250', 'Mon 09:00-18:00') AS micro,
	   kpi.business_seconds('2026-01-10 00:00', '2026-01-12 00:00', 'Mon-Fri 09:00-18:00') AS weekend;

-- Split and overnight shifts. Overnight hours belong to the day the range starts, but a holiday
-- is judged by the local date of each instant: with Saturday a holiday, Friday 22:00-24:00
-- counts and Saturday 00:00-06:00 does not.
SELECT kpi.business_seconds('2026-01-05 10:00', '2026-01-05 14:00', 'Mon 09:00-12:00 13:00-18:00') AS split,
	   kpi.business_seconds('2026-01-09 20:00', '2026-01-10 12:00', 'Fri 22:00-06:00') AS overnight,
	   kpi.business_seconds('2026-01-09 20:00', '2026-01-10 12:00', 'Fri 22:00-06:00; holidays=2026-01-10') AS into_holiday;

-- Holidays are whole local dates: Golden Week takes 1-7 October out of a Shanghai office week.
SELECT kpi.business_seconds('2026-09-30 00:00+08', '2026-10-11 00:00+08',
	'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07') / 3600 AS hours;

-- DST counts real time. Paris falls back on Sunday 2026-10-25 (03:00 -> 02:00) and springs
-- forward on Sunday 2026-03-29 (02:00 -> 03:00).
SELECT kpi.business_seconds('2026-10-25 00:00+02', '2026-10-26 00:00+01', 'Sun 24h; tz=Europe/Paris') / 3600 AS fall_back_sunday_h,
	   kpi.business_seconds('2026-10-24 00:00', '2026-10-27 00:00', 'Sun 02:00-03:00; tz=Europe/Paris') / 3600 AS repeated_hour_h,
	   kpi.business_seconds('2026-03-28 00:00', '2026-03-31 00:00', 'Sun 02:00-03:00; tz=Europe/Paris') / 3600 AS skipped_hour_h;

-- New York falls back on 2026-11-01 at 06:00 UTC: 01:30 EDT to 01:30 EST is one real hour.
SELECT kpi.business_seconds('2026-11-01 05:30', '2026-11-01 06:30', 'Sun 01:00-02:00; tz=America/New_York') AS inside_repeated_hour;

-- Far from UTC: Monday 09:00 in Kiritimati (+14) is Sunday 19:00 UTC; in Kolkata (+05:30) 03:30 UTC.
SELECT kpi.business_seconds('2026-01-04 19:00', '2026-01-04 20:00', 'Mon 09:00-10:00; tz=Pacific/Kiritimati') AS kiritimati,
	   kpi.business_seconds('2026-01-05 04:00', '2026-01-05 05:00', 'Mon 09:00-10:00; tz=Asia/Kolkata') AS kolkata;

-- A calendar with no working time gives 0; an open end gives Infinity.
SELECT kpi.business_seconds('2026-01-01', '2027-01-01', 'closed') AS closed,
	   kpi.business_seconds('2026-01-01', 'infinity', 'Mon 09:00-10:00') AS open_end;

-- Calendars in a table, one per agent team.
CREATE TABLE calendar_demo (team text PRIMARY KEY, hours kpi.business_hours NOT NULL);
INSERT INTO calendar_demo VALUES
	('day', 'Mon-Fri 09:00-18:00; tz=Europe/Paris; holidays=2026-12-25'),
	('night', 'Sun-Thu 22:00-06:00; tz=Europe/Paris'),
	('weekend', 'Sat-Sun 10:00-16:00; tz=Europe/Paris');
SELECT team, hours, kpi.business_seconds('2026-12-21 00:00+01', '2026-12-28 00:00+01', hours) / 3600 AS hours_in_christmas_week
  FROM calendar_demo ORDER BY team;
DROP TABLE calendar_demo;
