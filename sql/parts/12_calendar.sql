-- The business calendar (src/calendar.c): kpi.business_hours and kpi.business_seconds.

CREATE TYPE kpi.business_hours;

CREATE FUNCTION kpi.business_hours_in(cstring) RETURNS kpi.business_hours
	AS 'MODULE_PATHNAME', 'kpi_business_hours_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_in(cstring) IS
	'parses business hours such as ''Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07''';

CREATE FUNCTION kpi.business_hours_out(kpi.business_hours) RETURNS cstring
	AS 'MODULE_PATHNAME', 'kpi_business_hours_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_out(kpi.business_hours) IS
	'canonical text of business hours; it parses back to the same value';

CREATE FUNCTION kpi.business_hours_recv(internal) RETURNS kpi.business_hours
	AS 'MODULE_PATHNAME', 'kpi_business_hours_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_recv(internal) IS
	'binary input of business hours; refuses any value that is not canonical';

CREATE FUNCTION kpi.business_hours_send(kpi.business_hours) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_business_hours_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_hours_send(kpi.business_hours) IS
	'binary output of business hours (format version 1)';

CREATE TYPE kpi.business_hours (
	INPUT = kpi.business_hours_in,
	OUTPUT = kpi.business_hours_out,
	RECEIVE = kpi.business_hours_recv,
	SEND = kpi.business_hours_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE kpi.business_hours IS
	'a weekly working schedule with holidays in one time zone, e.g. ''Mon-Fri 09:00-12:00 13:00-18:00; tz=Europe/Paris; holidays=2026-12-25''';

CREATE FUNCTION kpi.business_seconds(from_ts timestamptz, to_ts timestamptz, hours kpi.business_hours)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_business_hours_seconds'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.business_seconds(timestamptz, timestamptz, kpi.business_hours) IS
	'real seconds of [from_ts, to_ts) whose local time is working time on a non-holiday date (negative when from_ts > to_ts)';
