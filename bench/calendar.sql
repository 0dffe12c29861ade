-- Business calendar (src/calendar.c): kpi.business_seconds against the plain-SQL way of stepping
-- through the local days of each interval with generate_series, and against the floor, the bare
-- elapsed time of the same rows. The calendar is a Shanghai office week with a split Saturday and
-- the 2026 public holidays. The test file test/calendar.sql checks on a sample that the
-- day-stepping query gives the same answers as kpi.business_seconds.

-- @job business_seconds, 200k intervals of up to 400 hours
-- @setup
CREATE TABLE bench_cal_week (isodow int NOT NULL, s interval NOT NULL, e interval NOT NULL);
INSERT INTO bench_cal_week
SELECT d, interval '09:00', interval '18:00' FROM generate_series(1, 5) d
UNION ALL SELECT 6, interval '10:00', interval '14:00';
CREATE TABLE bench_cal_hol (first date NOT NULL, last date NOT NULL);
INSERT INTO bench_cal_hol VALUES
	('2026-01-01', '2026-01-03'), ('2026-02-15', '2026-02-23'), ('2026-04-04', '2026-04-06'),
	('2026-05-01', '2026-05-05'), ('2026-06-19', '2026-06-21'), ('2026-09-25', '2026-09-27'),
	('2026-10-01', '2026-10-07');
-- Starts spread over 2026 with millisecond parts, lengths 0 .. 400 h, all deterministic.
CREATE TABLE bench_cal_iv AS
SELECT i, f, f + ((i::bigint * 104729) % 1440001) * interval '1 second' AS t
  FROM (SELECT i, to_timestamp(1767225600 + (i::bigint * 7919) % 31536000 + (i % 997) / 1000.0) AS f
		  FROM generate_series(1, 200000) i) s;
ANALYZE bench_cal_iv;
-- @rows
SELECT count(*) FROM bench_cal_iv;
-- @ours
SELECT sum(kpi.business_seconds(f, t,
	'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-01-01..2026-01-03, 2026-02-15..2026-02-23, 2026-04-04..2026-04-06, 2026-05-01..2026-05-05, 2026-06-19..2026-06-21, 2026-09-25..2026-09-27, 2026-10-01..2026-10-07'))
  FROM bench_cal_iv;
-- @alternative day-stepping SQL (generate_series over local dates)
SELECT sum(b) FROM bench_cal_iv i CROSS JOIN LATERAL (
	SELECT coalesce(sum(extract(epoch FROM
			least(i.t, (d + w.e) AT TIME ZONE 'Asia/Shanghai')
			- greatest(i.f, (d + w.s) AT TIME ZONE 'Asia/Shanghai'))), 0) AS b
	  FROM generate_series((i.f AT TIME ZONE 'Asia/Shanghai')::date::timestamp,
						   (i.t AT TIME ZONE 'Asia/Shanghai')::date::timestamp, interval '1 day') AS d
	  JOIN bench_cal_week w ON w.isodow = extract(isodow FROM d)::int
	 WHERE (d + w.e) AT TIME ZONE 'Asia/Shanghai' > i.f
	   AND (d + w.s) AT TIME ZONE 'Asia/Shanghai' < i.t
	   AND NOT EXISTS (SELECT FROM bench_cal_hol h WHERE d::date BETWEEN h.first AND h.last)) x;
-- @floor elapsed seconds sum(extract(epoch from t - f))
SELECT sum(extract(epoch FROM t - f)) FROM bench_cal_iv;
-- @runs 5
-- @teardown
DROP TABLE bench_cal_iv;
DROP TABLE bench_cal_week;
DROP TABLE bench_cal_hol;

-- @job business_seconds, 20k intervals of up to 5000 hours (the gap widens with length)
-- @setup
CREATE TABLE bench_cal_week (isodow int NOT NULL, s interval NOT NULL, e interval NOT NULL);
INSERT INTO bench_cal_week
SELECT d, interval '09:00', interval '18:00' FROM generate_series(1, 5) d
UNION ALL SELECT 6, interval '10:00', interval '14:00';
CREATE TABLE bench_cal_hol (first date NOT NULL, last date NOT NULL);
INSERT INTO bench_cal_hol VALUES
	('2026-01-01', '2026-01-03'), ('2026-02-15', '2026-02-23'), ('2026-04-04', '2026-04-06'),
	('2026-05-01', '2026-05-05'), ('2026-06-19', '2026-06-21'), ('2026-09-25', '2026-09-27'),
	('2026-10-01', '2026-10-07');
CREATE TABLE bench_cal_long AS
SELECT i, f, f + ((i::bigint * 104729) % 18000001) * interval '1 second' AS t
  FROM (SELECT i, to_timestamp(1767225600 + (i::bigint * 7919) % 31536000 + (i % 997) / 1000.0) AS f
		  FROM generate_series(1, 20000) i) s;
ANALYZE bench_cal_long;
-- @rows
SELECT count(*) FROM bench_cal_long;
-- @ours
SELECT sum(kpi.business_seconds(f, t,
	'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-01-01..2026-01-03, 2026-02-15..2026-02-23, 2026-04-04..2026-04-06, 2026-05-01..2026-05-05, 2026-06-19..2026-06-21, 2026-09-25..2026-09-27, 2026-10-01..2026-10-07'))
  FROM bench_cal_long;
-- @alternative day-stepping SQL (generate_series over local dates)
SELECT sum(b) FROM bench_cal_long i CROSS JOIN LATERAL (
	SELECT coalesce(sum(extract(epoch FROM
			least(i.t, (d + w.e) AT TIME ZONE 'Asia/Shanghai')
			- greatest(i.f, (d + w.s) AT TIME ZONE 'Asia/Shanghai'))), 0) AS b
	  FROM generate_series((i.f AT TIME ZONE 'Asia/Shanghai')::date::timestamp,
						   (i.t AT TIME ZONE 'Asia/Shanghai')::date::timestamp, interval '1 day') AS d
	  JOIN bench_cal_week w ON w.isodow = extract(isodow FROM d)::int
	 WHERE (d + w.e) AT TIME ZONE 'Asia/Shanghai' > i.f
	   AND (d + w.s) AT TIME ZONE 'Asia/Shanghai' < i.t
	   AND NOT EXISTS (SELECT FROM bench_cal_hol h WHERE d::date BETWEEN h.first AND h.last)) x;
-- @floor elapsed seconds sum(extract(epoch from t - f))
SELECT sum(extract(epoch FROM t - f)) FROM bench_cal_long;
-- @runs 5
-- @teardown
DROP TABLE bench_cal_long;
DROP TABLE bench_cal_week;
DROP TABLE bench_cal_hol;
