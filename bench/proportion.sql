-- Benchmarks of kpi.proportion_agg (SPEC 4.3). The data lives in its own schema rather than
-- pg_temp, so the jobs work whether or not the harness keeps one session from setup to
-- teardown, which drops the schema.

-- @job proportion: rolling 28-day rate, 200 agents x 365 days (inverse transition)
-- @setup
CREATE SCHEMA kpi_bench_proportion;
SELECT setseed(0.42);
CREATE TABLE kpi_bench_proportion.days AS
SELECT agent, day::date AS day, least(h, t)::bigint AS h, t::bigint AS t
  FROM (SELECT a AS agent, day, floor(random() * 40)::int AS t, floor(random() * 4)::int AS h
		  FROM generate_series(1, 200) a,
			   generate_series(date '2025-01-01', date '2025-12-31', interval '1 day') day) s;
CREATE INDEX ON kpi_bench_proportion.days (agent, day);
ANALYZE kpi_bench_proportion.days;
-- The same aggregate without moving-aggregate support: every frame is summed from scratch.
CREATE AGGREGATE kpi_bench_proportion.proportion_agg_no_inverse(bigint, bigint) (
	SFUNC = kpi.proportion_accum,
	STYPE = kpi.proportion,
	INITCOND = '0/0',
	COMBINEFUNC = kpi.proportion_combine,
	PARALLEL = SAFE
);
-- @rows
SELECT count(*) FROM kpi_bench_proportion.days;
-- @ours
SELECT count(*), sum(kpi.rate(p))
  FROM (SELECT kpi.proportion_agg(h, t) OVER w AS p
		  FROM kpi_bench_proportion.days
		WINDOW w AS (PARTITION BY agent ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)) s;
-- @alternative same aggregate without an inverse (twin)
SELECT count(*), sum(kpi.rate(p))
  FROM (SELECT kpi_bench_proportion.proportion_agg_no_inverse(h, t) OVER w AS p
		  FROM kpi_bench_proportion.days
		WINDOW w AS (PARTITION BY agent ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)) s;
-- @alternative correlated subquery per window
SELECT count(*), sum(r)
  FROM (SELECT (SELECT sum(x.h)::float8 / nullif(sum(x.t), 0)
				  FROM kpi_bench_proportion.days x
				 WHERE x.agent = d.agent AND x.day BETWEEN d.day - 27 AND d.day) AS r
		  FROM kpi_bench_proportion.days d) s;
-- @floor sum(h)/sum(t) over the same frame
SELECT count(*), sum(sh / nullif(st, 0))
  FROM (SELECT sum(h) OVER w AS sh, sum(t) OVER w AS st
		  FROM kpi_bench_proportion.days
		WINDOW w AS (PARTITION BY agent ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)) s;
-- @runs 5
-- @teardown
DROP SCHEMA kpi_bench_proportion CASCADE;

-- @job proportion: grouped proportion_agg over :scale rows vs two sums
-- @setup
CREATE SCHEMA kpi_bench_proportion_grouped;
CREATE TABLE kpi_bench_proportion_grouped.rows AS
SELECT (i % 200)::int AS agent, (i % 3 = 0)::int::bigint AS h, 1::bigint AS t
  FROM generate_series(1, :scale) i;
ANALYZE kpi_bench_proportion_grouped.rows;
-- @rows
SELECT count(*) FROM kpi_bench_proportion_grouped.rows;
-- @ours
SELECT count(*), sum(kpi.rate(p))
  FROM (SELECT agent, kpi.proportion_agg(h, t) AS p FROM kpi_bench_proportion_grouped.rows GROUP BY agent) s;
-- @alternative sum(h), sum(t)
SELECT count(*), sum(sh / st)
  FROM (SELECT agent, sum(h) AS sh, sum(t) AS st FROM kpi_bench_proportion_grouped.rows GROUP BY agent) s;
-- @floor grouped count(*)
SELECT count(*), sum(n)
  FROM (SELECT agent, count(*) AS n FROM kpi_bench_proportion_grouped.rows GROUP BY agent) s;
-- @runs 5
-- @teardown
DROP SCHEMA kpi_bench_proportion_grouped CASCADE;
