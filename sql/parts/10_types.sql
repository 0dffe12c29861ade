-- Shared types and helpers used by the tables and building blocks below.

CREATE TYPE kpi.sender AS ENUM ('customer', 'agent', 'auto', 'system');
COMMENT ON TYPE kpi.sender IS
	'who sent a message: customer, agent (a person), auto (auto-reply or bot: never a reply), system';

CREATE FUNCTION kpi.timezone_check(name text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'kpi_timezone_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.timezone_check(text) IS
	'true for a time zone name PostgreSQL knows; raises an error naming the zone otherwise';
