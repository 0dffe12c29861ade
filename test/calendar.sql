-- pgTAP: the business calendar, kpi.business_hours and kpi.business_seconds.
--
-- Values are checked against hand computations (the comment beside each says how) and against
-- two independent plain-SQL references defined below: one steps through every UTC minute of the
-- interval and asks AT TIME ZONE for its local time (exact by definition, slow), the other steps
-- day by day with generate_series like the bench alternative (exact unless a working boundary
-- falls inside a DST gap or overlap, which the calendars it checks avoid).
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(204);

CREATE FUNCTION pg_temp.canon(t text) RETURNS text LANGUAGE sql AS $$ SELECT t::kpi.business_hours::text $$;
CREATE FUNCTION pg_temp.bs(f timestamptz, t timestamptz, h text) RETURNS float8 LANGUAGE sql
	AS $$ SELECT kpi.business_seconds(f, t, h::kpi.business_hours) $$;

-- ============================================================================================
-- Grammar: every feature, checked through the canonical text
-- ============================================================================================
SELECT is(pg_temp.canon('Mon 09:00-18:00'), 'Mon 09:00-18:00; tz=UTC', 'a single day; tz defaults to UTC');
SELECT is(pg_temp.canon('mOn 09:00-18:00'), 'Mon 09:00-18:00; tz=UTC', 'day names in any case');
SELECT is(pg_temp.canon('MONDAY 09:00-18:00, saturday 10:00-11:00'), 'Mon 09:00-18:00, Sat 10:00-11:00; tz=UTC', 'day names spelt out');
SELECT is(pg_temp.canon('Mon-Fri 09:00-18:00'), 'Mon-Fri 09:00-18:00; tz=UTC', 'a day range');
SELECT is(pg_temp.canon('Fri-Mon 10:00-16:00'), 'Fri-Mon 10:00-16:00; tz=UTC', 'a day range that wraps the week');
SELECT is(pg_temp.canon('Sat-Tue 10:00-16:00'), 'Sat-Tue 10:00-16:00; tz=UTC', 'another wrapping range');
SELECT is(pg_temp.canon('Wed-Wed 10:00-16:00'), 'Wed 10:00-16:00; tz=UTC', 'a range from a day to itself is that day');
SELECT is(pg_temp.canon('Mon,Wed 09:00-12:00'), 'Mon,Wed 09:00-12:00; tz=UTC', 'a comma list of days');
SELECT is(pg_temp.canon('Mon , wed,FRI-sat 09:00-12:00'), 'Mon,Wed,Fri-Sat 09:00-12:00; tz=UTC', 'comma list with ranges and spaces');
SELECT is(pg_temp.canon('Mon,Wed 09:00-12:00, Fri 10:00-11:00'), 'Mon,Wed 09:00-12:00, Fri 10:00-11:00; tz=UTC',
	'a comma before any time range continues the day list; after one it starts a new group');
SELECT is(pg_temp.canon('Mon 09:00-12:00, 13:00-18:00'), 'Mon 09:00-12:00 13:00-18:00; tz=UTC',
	'a comma followed by a time adds a range to the same group');
SELECT is(pg_temp.canon('Mon-Fri 09:00-12:00 13:00-18:00'), 'Mon-Fri 09:00-12:00 13:00-18:00; tz=UTC', 'split shift');
SELECT is(pg_temp.canon('Mon-Fri 13:00-18:00 09:00-12:00 19:00-20:00'), 'Mon-Fri 09:00-12:00 13:00-18:00 19:00-20:00; tz=UTC',
	'ranges are printed in order of start');
SELECT is(pg_temp.canon('Sat 20:00-24:00'), 'Sat 20:00-24:00; tz=UTC', '24:00 as an end');
SELECT is(pg_temp.canon('Sat 20:00-00:00'), 'Sat 20:00-24:00; tz=UTC', 'an end of 00:00 means midnight at the end of the day');
SELECT is(pg_temp.canon('Fri 22:00-06:00'), 'Fri 22:00-06:00; tz=UTC', 'an overnight range');
SELECT is(pg_temp.canon('Sun 22:00-06:00'), 'Sun 22:00-06:00; tz=UTC', 'an overnight range from Sunday into Monday');
SELECT is(pg_temp.canon('Fri-Mon 22:00-06:00'), 'Fri-Mon 22:00-06:00; tz=UTC', 'night shifts on a wrapping range');
SELECT is(pg_temp.canon('Sat 24h'), 'Sat 24h; tz=UTC', '24h');
SELECT is(pg_temp.canon('Sat 24H, Sun 00:00-24:00'), 'Sat-Sun 24h; tz=UTC', '24H and 00:00-24:00 are 24h');
SELECT is(pg_temp.canon('Mon-Sun 24h'), 'Mon-Sun 24h; tz=UTC', 'the whole week');
SELECT is(pg_temp.canon('Sun-Sat 00:00-24:00'), 'Mon-Sun 24h; tz=UTC', 'the whole week written otherwise');
SELECT is(pg_temp.canon('Mon 9:00-9:30'), 'Mon 09:00-09:30; tz=UTC', 'one-digit hours');
SELECT is(pg_temp.canon('Mon 09:00-12:00 11:00-14:00'), 'Mon 09:00-14:00; tz=UTC', 'overlapping ranges merge');
SELECT is(pg_temp.canon('Mon 09:00-12:00 12:00-14:00'), 'Mon 09:00-14:00; tz=UTC', 'touching ranges merge');
SELECT is(pg_temp.canon('Mon-Fri 09:00-18:00, Wed 17:00-20:00'), 'Mon-Tue,Thu-Fri 09:00-18:00, Wed 09:00-20:00; tz=UTC',
	'overlaps merge across groups; days with the same hours are grouped again');
SELECT is(pg_temp.canon('Mon 22:00-06:00, Tue 06:00-08:00'), 'Mon 22:00-08:00; tz=UTC', 'an overnight range merges into the next day');
SELECT is(pg_temp.canon('Mon 24h, Tue 00:00-06:00, Wed 22:00-24:00, Thu 24h, Fri 00:00-01:00'),
	'Mon,Thu 24h, Tue 00:00-06:00, Wed 22:00-24:00, Fri 00:00-01:00; tz=UTC', 'runs longer than a day are cut at midnight');
SELECT is(pg_temp.canon('Mon 22:00-06:00, Tue 06:00-22:00'), 'Mon 22:00-24:00, Tue 00:00-22:00; tz=UTC',
	'a run of exactly a day that starts late is cut at midnight');
SELECT is(pg_temp.canon('closed'), 'closed; tz=UTC', 'closed: no working time');
SELECT is(pg_temp.canon('CLOSED ; tz=Europe/Paris; holidays=2026-01-01'), 'closed; tz=Europe/Paris; holidays=2026-01-01',
	'closed with options');
SELECT is(pg_temp.canon('  Mon - Fri   09:00 - 18:00 ;  TZ = asia/shanghai ; '), 'Mon-Fri 09:00-18:00; tz=Asia/Shanghai',
	'whitespace around tokens; option names in any case; zone name canonicalised; empty trailing section');
SELECT is(pg_temp.canon(E'Mon\t09:00-10:00\n09:30-11:00'), 'Mon 09:00-11:00; tz=UTC', 'tabs and newlines are whitespace');
SELECT is(pg_temp.canon('Mon 09:00-10:00; tz=Asia/Kolkata'), 'Mon 09:00-10:00; tz=Asia/Kolkata', 'tz=');
SELECT is(pg_temp.canon('Mon 09:00-10:00; tz=EST5EDT'), 'Mon 09:00-10:00; tz=EST5EDT', 'tz= any zone PostgreSQL knows');
SELECT is(pg_temp.canon('Mon 09:00-10:00; holidays=2026-10-07, 2026-10-01..2026-10-03,2026-10-04..2026-10-05'),
	'Mon 09:00-10:00; tz=UTC; holidays=2026-10-01..2026-10-05, 2026-10-07', 'holidays: dates and ranges, sorted, touching ranges merged');
SELECT is(pg_temp.canon('Mon 09:00-10:00; holidays=2026-12-25, 2026-12-20..2026-12-31, 2026-12-24 .. 2027-01-01'),
	'Mon 09:00-10:00; tz=UTC; holidays=2026-12-20..2027-01-01', 'overlapping holidays merge');
SELECT is(pg_temp.canon('Mon 09:00-10:00; holidays=2026-01-01..2026-01-01'), 'Mon 09:00-10:00; tz=UTC; holidays=2026-01-01',
	'a one-day range prints as a date');
SELECT is(pg_temp.canon('Mon 09:00-10:00; holidays=2026-10-01; tz=Europe/Paris'), 'Mon 09:00-10:00; tz=Europe/Paris; holidays=2026-10-01',
	'options in any order');
SELECT is(pg_temp.canon('Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07'),
	'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07', 'the SPEC example is already canonical');

-- ============================================================================================
-- Canonical round trip: the output parses back to the same bytes
-- ============================================================================================
SELECT is(kpi.business_hours_send(pg_temp.canon(x)::kpi.business_hours), kpi.business_hours_send(x::kpi.business_hours),
	'round trip of ' || x)
  FROM (VALUES ('Mon-Fri 09:00-12:00 13:00-18:00, Sat 10:00-14:00; tz=asia/shanghai; holidays=2026-10-01..2026-10-07, 2026-01-01'),
			   ('Fri-Mon 22:00-06:00, Wed 24h'),
			   ('Sun 23:00-01:00, Mon 00:30-02:00, Sat 23:59-00:01'),
			   ('closed; holidays=2026-02-17'),
			   ('Mon-Sun 00:00-23:59')) v(x);
-- 400 generated calendars (ranges of days, overnight ranges, 24h, odd minutes).
CREATE TEMP TABLE gen_cal AS
SELECT k, format('%s-%s %s-%s, %s %s-%s %s; tz=%s; holidays=%s..%s, %s',
		(ARRAY['Mon','Tue','Wed','Thu','Fri','Sat','Sun'])[k % 7 + 1],
		(ARRAY['Mon','Tue','Wed','Thu','Fri','Sat','Sun'])[(k / 7) % 7 + 1],
		to_char(time '00:00' + (k * 37 % 1440) * interval '1 minute', 'HH24:MI'),
		to_char(time '00:00' + ((k * 37 + 1 + k * 53 % 1439) % 1440) * interval '1 minute', 'HH24:MI'),
		(ARRAY['mon','tue','wed','thu','fri','sat','sun'])[(k / 3) % 7 + 1],
		to_char(time '00:00' + (k * 11 % 1440) * interval '1 minute', 'HH24:MI'),
		to_char(time '00:00' + ((k * 11 + 1 + k * 7 % 1439) % 1440) * interval '1 minute', 'HH24:MI'),
		CASE WHEN k % 5 = 0 THEN '24h' ELSE '03:00-04:00' END,
		(ARRAY['UTC','Europe/Paris','America/New_York','Asia/Kolkata'])[k % 4 + 1],
		date '2026-01-01' + k, date '2026-01-01' + k + k % 9, date '2026-01-01' + (k * 7 % 400)) AS txt
  FROM generate_series(1, 400) k;
SELECT is((SELECT count(*) FROM gen_cal
			WHERE kpi.business_hours_send(pg_temp.canon(pg_temp.canon(txt))::kpi.business_hours)
				  IS DISTINCT FROM kpi.business_hours_send(txt::kpi.business_hours)
			   OR pg_temp.canon(pg_temp.canon(txt)) IS DISTINCT FROM pg_temp.canon(txt)), 0::bigint,
	'400 generated calendars: canonical text is a fixed point and parses back to the same bytes');
SELECT is(kpi.business_hours_send('Mon 09:00-18:00; tz=UTC; holidays=2026-01-01'),
	'\x01035554430001021c0438000000010000251900002519'::bytea,
	'binary form: version 1, zone, spans in minutes of the week, holidays as days since 2000-01-01');

-- ============================================================================================
-- Errors: SQLSTATE and the offending token with its character position
-- ============================================================================================
SELECT throws_ok($$SELECT 'Mnd 09:00-10:00'::kpi.business_hours$$, '22P02',
	'invalid day name "Mnd" at position 1', 'a misspelt day');
SELECT throws_ok($$SELECT 'Mon-Frx 09:00-10:00'::kpi.business_hours$$, '22P02',
	'invalid day name "Frx" at position 5', 'a misspelt day ending a range');
SELECT throws_ok($$SELECT 'Mon,Wdn 09:00-10:00'::kpi.business_hours$$, '22P02',
	'invalid day name "Wdn" at position 5', 'a misspelt day in a list');
SELECT throws_ok($$SELECT '09:00-18:00'::kpi.business_hours$$, '22P02',
	'expected a day name at position 1, found "09:00-18:00"', 'hours without days');
SELECT throws_ok($$SELECT 'Mon,,Tue 09:00-10:00'::kpi.business_hours$$, '22P02',
	'expected a day name at position 5, found ","', 'an empty item in a day list');
SELECT throws_ok($$SELECT ''::kpi.business_hours$$, '22P02',
	'expected a schedule such as "Mon-Fri 09:00-18:00" or "closed" at position 1, found end of input', 'empty text');
SELECT throws_ok($$SELECT '  ; tz=UTC'::kpi.business_hours$$, '22P02',
	'expected a schedule such as "Mon-Fri 09:00-18:00" or "closed" at position 3, found ";"', 'options without a schedule');
SELECT throws_ok($$SELECT 'Mon'::kpi.business_hours$$, '22P02',
	'expected a time range such as 09:00-18:00 or 24h at position 4, found end of input', 'a day without hours');
SELECT throws_ok($$SELECT 'Mon; tz=UTC'::kpi.business_hours$$, '22P02',
	'expected a time range such as 09:00-18:00 or 24h at position 4, found ";"', 'a day without hours before options');
SELECT throws_ok($$SELECT 'Mon 25:00-26:00'::kpi.business_hours$$, '22P02',
	'invalid time "25:00" at position 5', 'an hour past 24');
SELECT throws_ok($$SELECT 'Mon 09:60-10:00'::kpi.business_hours$$, '22P02',
	'invalid time "09:60" at position 5', 'a minute past 59');
SELECT throws_ok($$SELECT 'Mon 09:00-24:01'::kpi.business_hours$$, '22P02',
	'invalid time "24:01" at position 11', 'past 24:00');
SELECT throws_ok($$SELECT 'Mon 9am-5pm'::kpi.business_hours$$, '22P02',
	'invalid time "9am" at position 5', 'not HH:MM');
SELECT throws_ok($$SELECT 'Mon 09:00-12:00x'::kpi.business_hours$$, '22P02',
	'invalid time "12:00x" at position 11', 'junk after a time');
SELECT throws_ok($$SELECT 'Mon 24hx'::kpi.business_hours$$, '22P02',
	'invalid time "24hx" at position 5', 'junk after 24h');
SELECT throws_ok($$SELECT 'Mon 900-1000'::kpi.business_hours$$, '22P02',
	'invalid time "900" at position 5', 'a time without a colon');
SELECT throws_ok($$SELECT 'Mon 09:00'::kpi.business_hours$$, '22P02',
	'expected "-" and the end of the time range at position 10, found end of input', 'a range without an end');
SELECT throws_ok($$SELECT 'Mon 09:00-'::kpi.business_hours$$, '22P02',
	'expected a time such as 09:00 at position 11, found end of input', 'a range with a dash and no end');
SELECT throws_ok($$SELECT 'Mon 09:00-12:00-14:00'::kpi.business_hours$$, '22P02',
	'expected whitespace, "," or ";" after the time range at position 16, found "-14:00"', 'a range with two dashes');
SELECT throws_ok($$SELECT 'Mon 24:00-06:00'::kpi.business_hours$$, '22023',
	'invalid start time "24:00" at position 5', '24:00 cannot start a range');
SELECT throws_ok($$SELECT 'Mon 09:00-09:00'::kpi.business_hours$$, '22023',
	'empty time range "09:00-09:00" at position 5', 'a range that starts where it ends');
SELECT throws_ok($$SELECT 'Mon 00:00-00:00'::kpi.business_hours$$, '22023',
	'empty time range "00:00-00:00" at position 5', '00:00-00:00 is refused (write 24h)');
SELECT throws_ok($$SELECT 'Mon 09:00-12:00 Tue 10:00-11:00'::kpi.business_hours$$, '22P02',
	'expected a time range, "," or ";" at position 17, found "Tue"', 'groups need a comma between them');
SELECT throws_ok($$SELECT 'Mon 09:00-12:00,'::kpi.business_hours$$, '22P02',
	'expected a day name at position 17, found end of input', 'a trailing comma');
SELECT throws_ok($$SELECT 'Mon 09:00-12:00, ; tz=UTC'::kpi.business_hours$$, '22P02',
	'expected a day name at position 18, found ";"', 'a comma before the options');
SELECT throws_ok($$SELECT 'closed Mon 09:00-10:00'::kpi.business_hours$$, '22P02',
	'expected ";" after "closed" at position 8, found "Mon"', 'closed takes no hours');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; tz=Mars/Olympus_Mons'::kpi.business_hours$$, '22023',
	'unknown time zone "Mars/Olympus_Mons" at position 21', 'an unknown zone');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; tz=right/UTC'::kpi.business_hours$$, '22023',
	'time zone "right/UTC" appears to use leap seconds', 'a zone with leap seconds');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; tz=  '::kpi.business_hours$$, '22P02',
	'expected a time zone name such as Asia/Shanghai at position 23, found end of input', 'an empty zone');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; tz=UTC; tz=UTC'::kpi.business_hours$$, '22023',
	'duplicate option "tz" at position 26', 'tz= twice');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-01-01; HOLIDAYS=2026-01-02'::kpi.business_hours$$, '22023',
	'duplicate option "HOLIDAYS" at position 39', 'holidays= twice');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; timezone=UTC'::kpi.business_hours$$, '22P02',
	'unknown option "timezone" at position 18', 'an unknown option');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; Tue 10:00-11:00'::kpi.business_hours$$, '22P02',
	'expected an option tz= or holidays= at position 18, found "Tue"', 'a second schedule after ";"');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-02-30'::kpi.business_hours$$, '22P02',
	'invalid date "2026-02-30" at position 27', 'a date that does not exist');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2025-02-29'::kpi.business_hours$$, '22P02',
	'invalid date "2025-02-29" at position 27', 'no 29 February outside leap years');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-1-01'::kpi.business_hours$$, '22P02',
	'invalid date "2026-1-01" at position 27', 'a date not in YYYY-MM-DD');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=0000-01-01'::kpi.business_hours$$, '22P02',
	'invalid date "0000-01-01" at position 27', 'year 0');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-10-07..2026-10-01'::kpi.business_hours$$, '22023',
	'reversed holiday range "2026-10-07..2026-10-01" at position 27', 'a holiday range ending before it starts');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-10-01.2026-10-02'::kpi.business_hours$$, '22P02',
	'expected ".." between the dates of a range at position 37, found ".2026-10-02"', 'one dot');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-10-01,'::kpi.business_hours$$, '22P02',
	'expected a date such as 2026-10-01 at position 38, found end of input', 'a trailing comma in holidays');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-10-01 2026-10-02'::kpi.business_hours$$, '22P02',
	'expected "," or ";" after the holiday at position 38, found "2026-10-02"', 'holidays need commas');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays='::kpi.business_hours$$, '22P02',
	'expected a date such as 2026-10-01 at position 27, found end of input', 'an empty holiday list');
SELECT throws_ok($$SELECT '周一 09:00-10:00'::kpi.business_hours$$, '22P02',
	'invalid day name "周一" at position 1', 'a non-ASCII day name');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00, 周二 10:00-11:00'::kpi.business_hours$$, '22P02',
	'invalid day name "周二" at position 18', 'positions count characters');
SELECT throws_ok($$SELECT '星期一至五 09:00-10:00, Mnd 10:00-11:00'::kpi.business_hours$$, '22P02',
	'invalid day name "星期一至五" at position 1', 'the first bad token is reported');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; tz=亚洲/上海'::kpi.business_hours$$, '22023',
	'unknown time zone "亚洲/上海" at position 21', 'a non-ASCII zone name');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00, 周二 10:00-11:00; holidays=2026-13-01'::kpi.business_hours$$, '22P02',
	'invalid day name "周二" at position 18', 'the schedule is read before the options');
SELECT throws_ok($$SELECT 'Mon 09:00-10:00; holidays=2026-01-01, 二〇二六-01-02'::kpi.business_hours$$, '22P02',
	'invalid date "二〇二六-01-02" at position 39', 'character positions after multibyte text too');
SELECT throws_ok($$SELECT ('Mon 09:00-10:00 ' || repeat('x', 100))::kpi.business_hours$$, '22P02',
	'expected a time range, "," or ";" at position 17, found "' || repeat('x', 40) || '..."', 'long tokens are clipped');

-- ============================================================================================
-- Binary receive refuses corrupt input (COPY BINARY of a bytea into a business_hours column)
-- ============================================================================================
CREATE TEMP TABLE recv_box (h kpi.business_hours);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := current_setting('data_directory') || '/kpi_calendar_test.bin';
	r text;
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
	DELETE FROM recv_box;
	EXECUTE format('COPY recv_box FROM %L (FORMAT binary)', path);
	SELECT h::text INTO r FROM recv_box;
	RETURN r;
END $$;
CREATE FUNCTION pg_temp.recv_error(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	mt text;
	dt text;
BEGIN
	PERFORM pg_temp.recv(b);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, mt = MESSAGE_TEXT, dt = PG_EXCEPTION_DETAIL;
	RETURN st || ' ' || mt || coalesce(': ' || nullif(dt, ''), '');
END $$;
-- valid: Mon 09:00-18:00 (540..1080), UTC, holiday 2026-01-01 (day 9497 = 0x2519)
SELECT is(pg_temp.recv('\x01035554430001021c0438000000010000251900002519'),
	'Mon 09:00-18:00; tz=UTC; holidays=2026-01-01', 'binary receive of a valid value');
SELECT is(pg_temp.recv(kpi.business_hours_send(x::kpi.business_hours)), pg_temp.canon(x), 'send then receive: ' || x)
  FROM (VALUES ('Mon-Fri 09:00-12:00 13:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07, 2027-01-01'),
			   ('Sun 22:00-06:00; tz=America/New_York'), ('closed'), ('Mon-Sun 24h; tz=Pacific/Kiritimati')) v(x);
SELECT throws_ok($$SELECT pg_temp.recv('\x02035554430001021c0438000000010000251900002519')$$, '22P03',
	'unsupported business hours format version 2', 'receive refuses an unknown version');
SELECT is(pg_temp.recv_error(x), y, 'receive refuses: ' || y)
  FROM (VALUES
	('\x01005554430001021c0438000000010000251900002519'::bytea, '22P03 invalid business hours value: The time zone name length is out of range.'),
	('\x01037574630001021c0438000000010000251900002519', '22P03 invalid business hours value: The time zone name is not in its canonical spelling.'),
	('\x0103466f6f0001021c0438000000010000251900002519', '22P03 invalid business hours value: The time zone is not known to this server.'),
	('\x01035500430001021c0438000000010000251900002519', '22P03 invalid business hours value: The time zone name contains a zero byte.'),
	('\x010972696768742f5554430001021c0438000000010000251900002519', '22023 time zone "right/UTC" appears to use leap seconds: PostgreSQL does not support leap seconds.'),
	('\x010355544300010438021c000000010000251900002519', '22P03 invalid business hours value: A working span is empty or outside the week.'),
	('\x01035554430001021c021c000000010000251900002519', '22P03 invalid business hours value: A working span is empty or outside the week.'),
	('\x01035554430001021c2761000000010000251900002519', '22P03 invalid business hours value: A working span is empty or outside the week.'),
	('\x0103555443000204380500021c0300000000010000251900002519', '22P03 invalid business hours value: Working spans are not sorted and merged.'),
	('\x010355544300020200043804380500000000010000251900002519', '22P03 invalid business hours value: Working spans are not sorted and merged.'),
	('\x010355544313b1', '22P03 invalid business hours value: There are more working spans than a week can hold.'),
	('\x01035554430001021c0438000000010000251900002518', '22P03 invalid business hours value: A holiday range ends before it starts.'),
	('\x01035554430001021c04380000000200002519000025190000251a0000251a', '22P03 invalid business hours value: Holiday ranges are not sorted and merged.'),
	('\x01035554430001021c04380000000200002519000025190000251000002510', '22P03 invalid business hours value: Holiday ranges are not sorted and merged.'),
	('\x01035554430001021c04380000000100002519002c95d4', '22P03 invalid business hours value: A holiday lies outside the years 0001 to 9999.'),
	('\x01035554430001021c043800000001fff4dbf8fff4dbf8', '22P03 invalid business hours value: A holiday lies outside the years 0001 to 9999.'),
	('\x01035554430001021c0438ffffffff', '22P03 invalid business hours value: The holiday count does not match the data.'),
	('\x01035554430001021c043800000002000025190000251900', '22P03 invalid business hours value: The holiday count does not match the data.'),
	('\x01035554430001021c0438000000010000251900002519ff', '22P03 kpi.business_hours binary value is followed by extra bytes: The value ends at byte 23 of 24.'),
	('\x01035554430001021c04380000000100002519', '22P03 invalid business hours value: The holiday count does not match the data.'),
	('\x0103555443', '22P03 kpi.business_hours binary value is truncated: The value ends after 5 bytes, inside the field that starts at byte 2.'),
	('\x0103555443000100', '22P03 kpi.business_hours binary value is truncated: The value ends after 8 bytes, inside the field that starts at byte 7.'),
	('\x01', '22P03 kpi.business_hours binary value is truncated: The value ends after 1 bytes, inside the field that starts at byte 1.'),
	('\x', '22P03 kpi.business_hours binary value is truncated: The value ends after 0 bytes, inside the field that starts at byte 0.')) v(x, y);

-- ============================================================================================
-- business_seconds: hand-computed values (2026-01-05 is a Monday)
-- ============================================================================================
SELECT is(pg_temp.bs('2026-01-09 18:30 UTC', '2026-01-12 09:05 UTC', 'Mon-Fri 09:00-18:00'), 300::float8,
	'Friday 18:30 to Monday 09:05 is 5 business minutes (the issue''s example)');
SELECT is(pg_temp.bs('2026-01-05 08:00 UTC', '2026-01-12 08:00 UTC', 'Mon-Fri 09:00-18:00'), 162000::float8,
	'a whole week of Mon-Fri 09:00-18:00 is 5 x 9 h');
SELECT is(pg_temp.bs('2026-01-05 07:00 UTC', '2026-01-05 20:00 UTC', 'Mon-Fri 09:00-18:00'), 32400::float8,
	'endpoints outside working hours are clamped');
SELECT is(pg_temp.bs('2026-01-10 10:00 UTC', '2026-01-11 20:00 UTC', 'Mon-Fri 09:00-18:00'), 0::float8,
	'an interval entirely outside working hours gives 0');
SELECT is(pg_temp.bs('2026-01-05 12:00 UTC', '2026-01-05 12:00 UTC', 'Mon-Fri 09:00-18:00'), 0::float8,
	'a zero-length interval inside working hours gives 0');
SELECT is(pg_temp.bs('2026-01-05 12:00 UTC', '2026-01-05 12:00 UTC', 'closed'), 0::float8, 'zero-length, closed calendar');
SELECT is(pg_temp.bs('2026-01-12 09:05 UTC', '2026-01-09 18:30 UTC', 'Mon-Fri 09:00-18:00'), -300::float8,
	'a reversed interval gives the negative');
SELECT is(pg_temp.bs('2027-06-01 10:00 Europe/Paris', '2019-03-04 16:20:00.5 Europe/Paris', 'Mon-Fri 09:00-18:00; tz=Europe/Paris; holidays=2020-01-01..2020-12-31'),
	-pg_temp.bs('2019-03-04 16:20:00.5 Europe/Paris', '2027-06-01 10:00 Europe/Paris', 'Mon-Fri 09:00-18:00; tz=Europe/Paris; holidays=2020-01-01..2020-12-31'),
	'a reversed multi-year interval gives exactly the negative');
SELECT is(pg_temp.bs('2026-01-05 09:00:00.000001 UTC', '2026-01-05 09:00:00.000003 UTC', 'Mon 09:00-10:00'), 0.000002::float8,
	'microseconds inside working hours');
SELECT is(pg_temp.bs('2026-01-05 08:59:59.999999 UTC', '2026-01-05 09:00:00.000001 UTC', 'Mon 09:00-10:00'), 0.000001::float8,
	'microseconds across the start of working hours');
SELECT is(pg_temp.bs('2026-01-05 09:59:59.999999 UTC', '2026-01-05 10:00:00.5 UTC', 'Mon 09:00-10:00'), 0.000001::float8,
	'microseconds across the end of working hours');
SELECT is(pg_temp.bs('2026-01-05 08:00:00.123457 UTC', '2026-01-12 09:30:00.654321 UTC', 'Mon 09:00-10:00'), 5400.654321::float8,
	'microseconds over a week');
SELECT is(pg_temp.bs('2026-01-05 00:00 UTC', '2027-01-05 00:00 UTC', 'closed; holidays=2026-05-01'), 0::float8,
	'a closed calendar gives 0 over a year');
SELECT is(pg_temp.bs('2026-01-01 UTC', 'infinity', 'Mon 09:00-10:00'), 'Infinity'::float8, 'an open end gives Infinity');
SELECT is(pg_temp.bs('infinity', '2026-01-01 UTC', 'Mon 09:00-10:00'), '-Infinity'::float8, 'reversed: -Infinity');
SELECT is(pg_temp.bs('-infinity', 'infinity', 'closed'), 0::float8, 'infinite interval, closed calendar: 0');
SELECT is(kpi.business_seconds(NULL, '2026-01-01', 'Mon 09:00-10:00'), NULL::float8, 'NULL in, NULL out');
SELECT is(kpi.business_seconds('2026-01-01', '2026-01-02', NULL), NULL::float8, 'NULL calendar, NULL out');

-- split and overnight shifts
SELECT is(pg_temp.bs('2026-01-05 10:00 UTC', '2026-01-05 14:00 UTC', 'Mon-Fri 09:00-12:00 13:00-18:00'), 10800::float8,
	'split shift: 10:00-14:00 holds 2 h + 1 h');
SELECT is(pg_temp.bs('2026-01-09 20:00 UTC', '2026-01-10 12:00 UTC', 'Fri 22:00-06:00'), 28800::float8,
	'overnight Fri 22:00-06:00 covers Friday night into Saturday');
SELECT is(pg_temp.bs('2026-01-10 05:00 UTC', '2026-01-10 07:00 UTC', 'Fri 22:00-06:00'), 3600::float8,
	'Saturday 05:00-06:00 belongs to Friday''s overnight range');
SELECT is(pg_temp.bs('2026-01-10 20:00 UTC', '2026-01-11 12:00 UTC', 'Fri 22:00-06:00'), 0::float8,
	'Saturday night is not Friday night');
SELECT is(pg_temp.bs('2026-01-11 23:00 UTC', '2026-01-12 01:00 UTC', 'Sun 22:00-06:00'), 7200::float8,
	'Sunday''s overnight range continues into Monday across the week boundary');
SELECT is(pg_temp.bs('2026-01-09 20:00 UTC', '2026-01-10 12:00 UTC', 'Fri 22:00-06:00; holidays=2026-01-10'), 7200::float8,
	'an overnight shift into a holiday: the hours on the holiday''s local date do not count');
SELECT is(pg_temp.bs('2026-01-09 20:00 UTC', '2026-01-10 12:00 UTC', 'Fri 22:00-06:00; holidays=2026-01-09'), 21600::float8,
	'an overnight shift starting on a holiday: the hours after midnight count');

-- holidays
SELECT is(pg_temp.bs('2026-01-05 00:00 UTC', '2026-01-07 00:00 UTC', 'Mon-Fri 09:00-18:00; holidays=2026-01-05'), 32400::float8,
	'a holiday at the start of the interval');
SELECT is(pg_temp.bs('2026-01-05 00:00 UTC', '2026-01-08 00:00 UTC', 'Mon-Fri 09:00-18:00; holidays=2026-01-07'), 64800::float8,
	'a holiday at the end of the interval');
SELECT is(pg_temp.bs('2026-01-05 00:00 UTC', '2026-01-08 00:00 UTC', 'Mon-Fri 09:00-18:00; holidays=2026-01-06'), 64800::float8,
	'a holiday in the middle of the interval');
SELECT is(pg_temp.bs('2026-01-05 12:00 UTC', '2026-01-06 12:00 UTC', 'Mon-Fri 09:00-18:00; holidays=2026-01-05..2026-01-06'), 0::float8,
	'an interval inside a holiday range');
SELECT is(pg_temp.bs('2026-01-08 00:00 UTC', '2026-01-14 00:00 UTC', 'Mon-Fri 09:00-18:00; holidays=2026-01-09..2026-01-12'), 64800::float8,
	'a holiday range spanning a weekend (Fri..Mon): only Thursday and Tuesday count');
SELECT is(pg_temp.bs('2026-09-30 00:00 Asia/Shanghai', '2026-10-11 00:00 Asia/Shanghai',
	'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07'), 111600::float8,
	'Golden Week: Wed 30 Sep, Thu 8 and Fri 9 Oct (9 h each) plus Sat 10 Oct (4 h) = 31 h');
SELECT is(pg_temp.bs('2026-01-01 00:00 UTC', '2027-01-01 00:00 UTC', 'Mon-Sun 24h; holidays=2026-02-01..2026-02-28, 2026-12-25'),
	(365 - 29) * 86400::float8, 'a year of 24h work less 29 holiday days');

-- DST, Europe/Paris: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00 (both Sundays)
SELECT is(pg_temp.bs('2026-10-25 00:00 Europe/Paris', '2026-10-26 00:00 Europe/Paris', 'Sun 24h; tz=Europe/Paris'), 90000::float8,
	'Paris: a 24h Sunday on the fall-back day is 25 h');
SELECT is(pg_temp.bs('2026-10-24 00:00 UTC', '2026-10-27 00:00 UTC', 'Sun 24h; tz=Europe/Paris'), 90000::float8,
	'Paris: the same from a wider interval');
SELECT is(pg_temp.bs('2026-03-28 00:00 UTC', '2026-03-31 00:00 UTC', 'Sun 24h; tz=Europe/Paris'), 82800::float8,
	'Paris: a 24h Sunday on the spring-forward day is 23 h');
SELECT is(pg_temp.bs('2026-03-28 00:00 UTC', '2026-03-31 00:00 UTC', 'Sun 02:00-03:00; tz=Europe/Paris'), 0::float8,
	'Paris: a working range that is exactly the skipped hour gives 0');
SELECT is(pg_temp.bs('2026-03-28 00:00 UTC', '2026-03-31 00:00 UTC', 'Sun 02:15-02:45; tz=Europe/Paris'), 0::float8,
	'Paris: a working range inside the skipped hour gives 0');
SELECT is(pg_temp.bs('2026-03-28 00:00 UTC', '2026-03-31 00:00 UTC', 'Sun 01:30-03:30; tz=Europe/Paris'), 3600::float8,
	'Paris: 01:30-03:30 on spring-forward day is 30 min + 30 min');
SELECT is(pg_temp.bs('2026-03-21 00:00 UTC', '2026-03-24 00:00 UTC', 'Sun 02:00-03:00; tz=Europe/Paris'), 3600::float8,
	'Paris: the same range a week earlier is 1 h');
SELECT is(pg_temp.bs('2026-10-24 00:00 UTC', '2026-10-27 00:00 UTC', 'Sun 02:00-03:00; tz=Europe/Paris'), 7200::float8,
	'Paris: a range covering the repeated hour counts it twice');
SELECT is(pg_temp.bs('2026-10-24 00:00 Europe/Paris', '2026-10-26 00:00 Europe/Paris', 'Sat-Sun 01:00-04:00; tz=Europe/Paris'), 25200::float8,
	'Paris: Saturday 3 h plus Sunday 01:00-04:00 which lasts 4 h');
SELECT is(pg_temp.bs('2026-03-28 00:00 Europe/Paris', '2026-03-30 00:00 Europe/Paris', 'Sat 22:00-06:00; tz=Europe/Paris'), 25200::float8,
	'Paris: an overnight shift through the spring-forward night lasts 7 h');
SELECT is(pg_temp.bs('2026-03-23 00:00 Europe/Paris', '2026-04-06 00:00 Europe/Paris', 'Mon-Fri 09:00-18:00; tz=Europe/Paris'), 324000::float8,
	'Paris: office hours are not touched by the DST weekend');

-- DST, America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00 (both Sundays)
SELECT is(pg_temp.bs('2026-10-31 00:00 UTC', '2026-11-03 00:00 UTC', 'Sun 24h; tz=America/New_York'), 90000::float8,
	'New York: a 24h Sunday on the fall-back day is 25 h');
SELECT is(pg_temp.bs('2026-03-07 00:00 UTC', '2026-03-10 00:00 UTC', 'Sun 24h; tz=America/New_York'), 82800::float8,
	'New York: a 24h Sunday on the spring-forward day is 23 h');
SELECT is(pg_temp.bs('2026-03-07 00:00 UTC', '2026-03-10 00:00 UTC', 'Sun 02:00-03:00; tz=America/New_York'), 0::float8,
	'New York: the skipped hour gives 0');
SELECT is(pg_temp.bs('2026-10-31 00:00 UTC', '2026-11-03 00:00 UTC', 'Sun 01:00-02:00; tz=America/New_York'), 7200::float8,
	'New York: the repeated hour counts twice');
SELECT is(pg_temp.bs('2026-11-01 05:30 UTC', '2026-11-01 06:30 UTC', 'Sun 01:00-02:00; tz=America/New_York'), 3600::float8,
	'New York: 01:30 EDT to 01:30 EST is an hour, all of it inside 01:00-02:00');
SELECT is(pg_temp.bs('2026-11-01 05:30 UTC', '2026-11-01 06:30 UTC', 'Sun 01:30-02:00; tz=America/New_York'), 1800::float8,
	'New York: of that hour only 01:30-02:00 EDT is inside 01:30-02:00');
SELECT is(pg_temp.bs('2026-11-01 05:30 UTC', '2026-11-01 07:00 UTC', 'Sun 01:30-02:00; tz=America/New_York'), 3600::float8,
	'New York: ... and 01:30-02:00 EST when the interval reaches it');
SELECT is(pg_temp.bs('2026-01-01 00:00 America/New_York', '2027-01-01 00:00 America/New_York', 'Mon-Sun 24h; tz=America/New_York'),
	31536000::float8, 'New York: a 24h calendar over a local year is 365 days: the DST hours cancel');
SELECT is(pg_temp.bs('2026-03-01 00:00 America/New_York', '2026-04-01 00:00 America/New_York', 'Mon-Sun 24h; tz=America/New_York'),
	(31 * 24 - 1) * 3600::float8, 'New York: a local March has 743 real hours');
SELECT is(pg_temp.bs('2026-11-01 00:00 America/New_York', '2026-11-02 00:00 America/New_York', 'Mon-Sun 09:00-18:00; tz=America/New_York'),
	32400::float8, 'New York: 09:00-18:00 on the fall-back day is 9 h');

-- far zones
SELECT is(pg_temp.bs('2026-01-04 19:00 UTC', '2026-01-04 20:00 UTC', 'Mon 09:00-10:00; tz=Pacific/Kiritimati'), 3600::float8,
	'Kiritimati (+14): Monday 09:00 is Sunday 19:00 UTC');
SELECT is(pg_temp.bs('2026-01-05 09:00 UTC', '2026-01-05 10:00 UTC', 'Mon 09:00-10:00; tz=Pacific/Kiritimati'), 0::float8,
	'Kiritimati: Monday 09:00 UTC is Monday 23:00 local');
SELECT is(pg_temp.bs('1994-12-26 00:00 UTC', '1995-01-05 00:00 UTC', 'Sat 24h; tz=Pacific/Kiritimati'), 0::float8,
	'Kiritimati skipped Saturday 1994-12-31 when it moved from -10 to +14');
SELECT is(pg_temp.bs('1994-12-26 00:00 UTC', '1995-01-05 00:00 UTC', 'Fri 24h; tz=Pacific/Kiritimati'), 86400::float8,
	'Kiritimati: Friday 1994-12-30 was a whole day');
SELECT is(pg_temp.bs('2026-01-05 04:00 UTC', '2026-01-05 05:00 UTC', 'Mon 09:00-10:00; tz=Asia/Kolkata'), 1800::float8,
	'Kolkata (+05:30): Monday 09:00-10:00 is 03:30-04:30 UTC');
SELECT is(pg_temp.bs('2026-01-04 18:30 UTC', '2026-01-11 18:30 UTC', 'Mon-Fri 09:00-18:00; tz=Asia/Kolkata; holidays=2026-01-07'), 129600::float8,
	'Kolkata: a local week less a holiday is 4 x 9 h');

-- the extremes of the timestamp range
SELECT is(pg_temp.bs('4713-01-01 00:00 UTC BC', '294276-12-31 00:00 UTC', 'Mon-Sun 24h; tz=Europe/Paris')::numeric,
	extract(epoch FROM timestamptz '294276-12-31 00:00 UTC') - extract(epoch FROM timestamptz '4713-01-01 00:00 UTC BC'),
	'a 24h calendar over the whole timestamp range is the whole range (more microseconds than a bigint holds)');
SELECT is(pg_temp.bs('1800-01-01 00:00 UTC', '1800-01-08 00:00 UTC', 'Mon 24h; tz=Europe/Paris'), 86400::float8,
	'Paris local mean time (+00:09:21) in 1800: a Monday is still a day');

-- ============================================================================================
-- Independent references
-- ============================================================================================
CREATE TEMP TABLE ref_cal (cal int PRIMARY KEY, tz text NOT NULL, hours kpi.business_hours NOT NULL);
CREATE TEMP TABLE ref_week (cal int NOT NULL, isodow int NOT NULL, s interval NOT NULL, e interval NOT NULL);
CREATE TEMP TABLE ref_hol (cal int NOT NULL, first date NOT NULL, last date NOT NULL);
INSERT INTO ref_cal VALUES
	(1, 'Europe/Paris', 'Mon-Fri 09:00-12:30 13:30-18:00, Sat 10:00-14:00; tz=Europe/Paris; holidays=2020-12-25, 2021-05-13..2021-05-14, 2024-07-29..2024-08-16, 2026-01-01'),
	(2, 'Asia/Shanghai', 'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-01-01..2026-01-03, 2026-02-15..2026-02-23, 2026-04-04..2026-04-06, 2026-05-01..2026-05-05, 2026-06-19..2026-06-21, 2026-09-25..2026-09-27, 2026-10-01..2026-10-07'),
	(3, 'America/New_York', 'Mon-Thu 22:00-06:00, Sat 24h; tz=America/New_York; holidays=2025-12-24..2026-01-02, 2026-07-03'),
	(4, 'Asia/Kolkata', 'Mon-Fri 08:00-20:00; tz=Asia/Kolkata; holidays=2026-01-26, 2026-08-15, 2026-10-02'),
	(5, 'Pacific/Kiritimati', 'Sat-Sun 10:00-16:00; tz=Pacific/Kiritimati; holidays=2026-12-26'),
	(6, 'Europe/Paris', 'Sun 01:30-03:30, Sat 22:00-02:30; tz=Europe/Paris; holidays=2026-10-26'),
	(7, 'America/New_York', 'Sun 00:30-02:30 23:00-01:15; tz=America/New_York; holidays=2026-11-02'),
	(8, 'Australia/Lord_Howe', 'Sun 01:00-03:00, Sat 23:45-02:15; tz=Australia/Lord_Howe');
INSERT INTO ref_week
SELECT 1, d, interval '09:00', interval '12:30' FROM generate_series(1, 5) d
UNION ALL SELECT 1, d, interval '13:30', interval '18:00' FROM generate_series(1, 5) d
UNION ALL SELECT 1, 6, interval '10:00', interval '14:00'
UNION ALL SELECT 2, d, interval '09:00', interval '18:00' FROM generate_series(1, 5) d
UNION ALL SELECT 2, 6, interval '10:00', interval '14:00'
UNION ALL SELECT 3, d, interval '22:00', interval '24:00' FROM generate_series(1, 4) d
UNION ALL SELECT 3, d, interval '00:00', interval '06:00' FROM generate_series(2, 5) d
UNION ALL SELECT 3, 6, interval '00:00', interval '24:00'
UNION ALL SELECT 4, d, interval '08:00', interval '20:00' FROM generate_series(1, 5) d
UNION ALL SELECT 5, d, interval '10:00', interval '16:00' FROM generate_series(6, 7) d
UNION ALL VALUES (6, 7, interval '00:00', interval '03:30'), (6, 6, interval '22:00', interval '24:00'),
	(7, 7, interval '00:30', interval '02:30'), (7, 7, interval '23:00', interval '24:00'), (7, 1, interval '00:00', interval '01:15'),
	(8, 7, interval '00:00', interval '03:00'), (8, 6, interval '23:45', interval '24:00');
INSERT INTO ref_hol VALUES
	(1, '2020-12-25', '2020-12-25'), (1, '2021-05-13', '2021-05-14'), (1, '2024-07-29', '2024-08-16'), (1, '2026-01-01', '2026-01-01'),
	(2, '2026-01-01', '2026-01-03'), (2, '2026-02-15', '2026-02-23'), (2, '2026-04-04', '2026-04-06'), (2, '2026-05-01', '2026-05-05'),
	(2, '2026-06-19', '2026-06-21'), (2, '2026-09-25', '2026-09-27'), (2, '2026-10-01', '2026-10-07'),
	(3, '2025-12-24', '2026-01-02'), (3, '2026-07-03', '2026-07-03'),
	(4, '2026-01-26', '2026-01-26'), (4, '2026-08-15', '2026-08-15'), (4, '2026-10-02', '2026-10-02'),
	(5, '2026-12-26', '2026-12-26'), (6, '2026-10-26', '2026-10-26'), (7, '2026-11-02', '2026-11-02');
SELECT is((SELECT hours::text FROM ref_cal WHERE cal = 6), 'Sat 22:00-03:30; tz=Europe/Paris; holidays=2026-10-26',
	'Sun 01:30-03:30 and Sat 22:00-02:30 merge into one overnight range');

-- Day-stepping reference: the plain SQL a user would write (also the bench alternative).
CREATE FUNCTION pg_temp.ref_days(c int, f timestamptz, t timestamptz) RETURNS numeric LANGUAGE sql AS $$
	SELECT coalesce(sum(extract(epoch FROM
			least(t, (d + w.e) AT TIME ZONE z.tz) - greatest(f, (d + w.s) AT TIME ZONE z.tz))), 0)
	  FROM ref_cal z,
		   generate_series((f AT TIME ZONE z.tz)::date::timestamp, (t AT TIME ZONE z.tz)::date::timestamp, interval '1 day') AS d
	  JOIN ref_week w ON w.isodow = extract(isodow FROM d)::int
	 WHERE z.cal = c AND w.cal = c
	   AND (d + w.e) AT TIME ZONE z.tz > f
	   AND (d + w.s) AT TIME ZONE z.tz < t
	   AND NOT EXISTS (SELECT FROM ref_hol h WHERE h.cal = c AND d::date BETWEEN h.first AND h.last)
$$;
-- Minute-stepping reference: every UTC minute of [f, t) whose local time is working time on a
-- local date that is not a holiday (f and t on whole minutes).
CREATE FUNCTION pg_temp.ref_minutes(c int, f timestamptz, t timestamptz) RETURNS numeric LANGUAGE sql AS $$
	SELECT 60 * count(*)
	  FROM ref_cal z, generate_series(f, t - interval '1 minute', interval '1 minute') m
	 WHERE z.cal = c
	   AND EXISTS (SELECT FROM ref_week w
				    WHERE w.cal = c AND w.isodow = extract(isodow FROM m AT TIME ZONE z.tz)
					  AND (m AT TIME ZONE z.tz)::time >= w.s AND (m AT TIME ZONE z.tz)::time < w.e)
	   AND NOT EXISTS (SELECT FROM ref_hol h WHERE h.cal = c AND (m AT TIME ZONE z.tz)::date BETWEEN h.first AND h.last)
$$;
-- ours to whole microseconds, for exact comparison with the numeric references
CREATE FUNCTION pg_temp.us(x float8) RETURNS bigint LANGUAGE sql AS $$ SELECT round(x * 1000000)::bigint $$;

SELECT is(pg_temp.us(kpi.business_seconds('2019-06-15 10:17:23.456789+02', '2027-02-03 16:45:00.000001+01', hours)),
	(pg_temp.ref_days(1, '2019-06-15 10:17:23.456789+02', '2027-02-03 16:45:00.000001+01') * 1000000)::bigint,
	'Paris split shifts and holidays over eight years = day-stepping SQL, to the microsecond')
  FROM ref_cal WHERE cal = 1;
SELECT is(pg_temp.us(kpi.business_seconds('1990-01-01 00:00 UTC', '2030-01-01 00:00 UTC', hours)),
	(pg_temp.ref_days(3, '1990-01-01 00:00 UTC', '2030-01-01 00:00 UTC') * 1000000)::bigint,
	'New York night shifts over forty years = day-stepping SQL')
  FROM ref_cal WHERE cal = 3;
SELECT is(kpi.business_seconds('1990-01-01 00:00 UTC', '2040-01-01 00:00 UTC', 'Mon-Sun 24h; tz=Europe/Paris'),
	extract(epoch FROM timestamptz '2040-01-01 00:00 UTC' - timestamptz '1990-01-01 00:00 UTC')::float8,
	'a 24h calendar over fifty DST years is the elapsed time');

-- Multi-year intervals (up to three years) on five calendars, the calendars interleaved row by
-- row so the per-call cache of prepared calendars is exercised too.
CREATE TEMP TABLE ref_iv AS
SELECT k, f, f + (k::bigint * 15485863 % (3 * 365 * 86400)) * interval '1 second' + (k * 7 % 1000000) * interval '1 microsecond' AS t
  FROM (SELECT k, timestamptz '2019-01-01 00:00 UTC' + (k * 7919 % 2000) * interval '1 day'
				  + (k::bigint * 104729 % 86400000000) * interval '1 microsecond' AS f
		  FROM generate_series(1, 12) k) s;
SELECT is((SELECT count(*) FROM ref_iv i CROSS JOIN ref_cal c WHERE c.cal <= 5
			 AND pg_temp.us(kpi.business_seconds(i.f, i.t, c.hours)) <> (pg_temp.ref_days(c.cal, i.f, i.t) * 1000000)::bigint), 0::bigint,
	'60 multi-year intervals on calendars 1-5 (Paris, Shanghai, New York, Kolkata, Kiritimati) = day-stepping SQL');
SELECT is((SELECT count(*) FROM ref_iv i CROSS JOIN ref_cal c WHERE c.cal <= 5
			 AND kpi.business_seconds(i.t, i.f, c.hours) <> -kpi.business_seconds(i.f, i.t, c.hours)), 0::bigint,
	'the same intervals reversed give exactly the negative');
SELECT ok((SELECT min(kpi.business_seconds(i.f, i.t, c.hours)) FROM ref_iv i CROSS JOIN ref_cal c WHERE c.cal <= 5) > 0,
	'... and they all hold working time');

-- Around DST transitions the day-stepping SQL cannot be trusted; the minute reference can.
-- Twenty intervals near each transition and twenty that straddle it.
CREATE TEMP TABLE dst_iv AS
SELECT c.cal, f, t
  FROM ref_cal c
  JOIN (VALUES (6, timestamptz '2026-03-29 01:00 UTC'), (6, '2026-10-25 01:00 UTC'),
			   (7, '2026-03-08 07:00 UTC'), (7, '2026-11-01 06:00 UTC'),
			   (8, '2026-04-04 15:00 UTC'), (8, '2026-10-03 15:30 UTC')) v(cal, tr) ON v.cal = c.cal
 CROSS JOIN generate_series(1, 20) k
 CROSS JOIN LATERAL (VALUES (tr + (k * 37 - 400) * interval '1 minute', tr + (k * 37 - 400 + k * 53 % 600 + 1) * interval '1 minute'),
							(tr - (k * 31 % 400 + 1) * interval '1 minute', tr + (k * 19 % 300 + 1) * interval '1 minute')) w(f, t);
SELECT is((SELECT count(*) FROM dst_iv i JOIN ref_cal c USING (cal)
			WHERE pg_temp.us(kpi.business_seconds(i.f, i.t, c.hours)) <> (pg_temp.ref_minutes(i.cal, i.f, i.t) * 1000000)::bigint), 0::bigint,
	'240 intervals near or across the DST transitions of Paris, New York and Lord Howe (30-minute DST) = minute-stepping SQL');
SELECT ok((SELECT count(DISTINCT kpi.business_seconds(i.f, i.t, c.hours)) FROM dst_iv i JOIN ref_cal c USING (cal)) > 60,
	'... and the answers vary (over 60 distinct values)');
SELECT is((SELECT count(*) FROM ref_cal c CROSS JOIN (VALUES (timestamptz '2026-03-27 00:00 UTC', timestamptz '2026-03-31 00:00 UTC'),
			('2026-10-23 00:00 UTC', '2026-10-27 00:00 UTC'), ('2026-03-06 00:00 UTC', '2026-03-10 00:00 UTC'),
			('2026-10-30 00:00 UTC', '2026-11-03 00:00 UTC'), ('2026-04-03 00:00 UTC', '2026-04-06 00:00 UTC'),
			('2026-10-02 00:00 UTC', '2026-10-05 00:00 UTC')) v(f, t)
			WHERE pg_temp.us(kpi.business_seconds(v.f, v.t, c.hours)) <> (pg_temp.ref_minutes(c.cal, v.f, v.t) * 1000000)::bigint), 0::bigint,
	'every reference calendar over six DST weekends = minute-stepping SQL');

-- The bench's day-stepping alternative gives the same answers as kpi.business_seconds on a
-- sample of the bench's own intervals (calendar 2 is the bench calendar).
CREATE TEMP TABLE bench_sample AS
SELECT i, f, f + ((i::bigint * 104729) % 1440001) * interval '1 second' AS t
  FROM (SELECT i, to_timestamp(1767225600 + (i::bigint * 7919) % 31536000 + (i % 997) / 1000.0) AS f
		  FROM generate_series(1, 200000, 997) i) s;
SELECT is((SELECT count(*) FROM bench_sample b, ref_cal c
			WHERE c.cal = 2 AND pg_temp.us(kpi.business_seconds(b.f, b.t, c.hours)) <> (pg_temp.ref_days(2, b.f, b.t) * 1000000)::bigint), 0::bigint,
	'201 bench intervals: kpi.business_seconds = the bench''s day-stepping SQL');
SELECT is((SELECT round(sum(kpi.business_seconds(b.f, b.t, c.hours))::numeric, 3) FROM bench_sample b, ref_cal c WHERE c.cal = 2),
	(SELECT round(sum(pg_temp.ref_days(2, b.f, b.t)), 3) FROM bench_sample b),
	'... and so do their sums');

-- Many holidays: one every third day for ten years, binary-searched.
SELECT is(pg_temp.us(kpi.business_seconds('2020-02-03 11:11:11.111111 UTC', '2029-11-17 03:04:05.060708 UTC',
			('Mon-Fri 09:00-17:00, Sun 12:00-13:00; holidays=' ||
			 (SELECT string_agg(to_char(d, 'YYYY-MM-DD'), ', ') FROM generate_series(timestamp '2020-01-01', '2029-12-31', interval '3 days') d))::kpi.business_hours)),
	(WITH days AS (SELECT d::date AS d FROM generate_series(timestamp '2020-02-03', '2029-11-17', interval '1 day') d
				   WHERE (d::date - date '2020-01-01') % 3 <> 0),
		  w AS (SELECT d, CASE WHEN extract(isodow FROM d) <= 5 THEN d + time '09:00' WHEN extract(isodow FROM d) = 7 THEN d + time '12:00' END AS s,
					   CASE WHEN extract(isodow FROM d) <= 5 THEN d + time '17:00' WHEN extract(isodow FROM d) = 7 THEN d + time '13:00' END AS e
				  FROM days)
	 SELECT (sum(extract(epoch FROM least(e, timestamp '2029-11-17 03:04:05.060708') - greatest(s, timestamp '2020-02-03 11:11:11.111111')))
			 * 1000000)::bigint
	   FROM w WHERE s IS NOT NULL AND e > timestamp '2020-02-03 11:11:11.111111' AND s < timestamp '2029-11-17 03:04:05.060708'),
	'1218 holidays over ten years = a day-by-day sum');

-- ============================================================================================
-- Catalog: volatility, strictness, parallel safety, comments
-- ============================================================================================
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'kpi'::regnamespace
			AND proname IN ('business_hours_in', 'business_hours_out', 'business_hours_recv', 'business_hours_send', 'business_seconds')
			AND provolatile = 'i' AND proisstrict AND proparallel = 's'), 5::bigint,
	'all five functions are IMMUTABLE, STRICT and PARALLEL SAFE');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'kpi'::regnamespace
			AND proname IN ('business_hours_in', 'business_hours_out', 'business_hours_recv', 'business_hours_send', 'business_seconds')
			AND obj_description(oid, 'pg_proc') IS NOT NULL), 5::bigint, 'all five functions have a comment');
SELECT ok(obj_description('kpi.business_hours'::regtype, 'pg_type') IS NOT NULL, 'the type has a comment');
SELECT is((SELECT typalign::text || typstorage::text FROM pg_type WHERE oid = 'kpi.business_hours'::regtype), 'ix', 'int4-aligned, extended storage');

SELECT * FROM finish();
ROLLBACK;
