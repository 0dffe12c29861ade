-- Benchmarks of kpi.sketch (SPEC 4.2, issue 4).  Targets: per-group p90 in at most 1.5x the time
-- of avg() over the same groups and at least 2.5x faster than percentile_disc; a sliding 28-day
-- p90 over daily sketches at least 10x faster than recomputing each window.

-- @job sketch: p90 per group, 200 groups (scale values)
-- @setup
SET client_min_messages = warning;
DROP TABLE IF EXISTS sketch_bench_values;
SELECT setseed(0.1);
CREATE TABLE sketch_bench_values AS
SELECT (i % 200)::int AS g,
	   round(exp(ln(20) + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 3)::float8 AS v
  FROM generate_series(1, :scale) i;
VACUUM ANALYZE sketch_bench_values;
-- @rows
SELECT count(*) FROM sketch_bench_values;
-- @ours
SELECT sum(p) FROM (SELECT g, kpi.approx_percentile(0.9, kpi.sketch_agg(v)) AS p FROM sketch_bench_values GROUP BY g) t;
-- @alternative percentile_disc
SELECT sum(p) FROM (SELECT g, percentile_disc(0.9) WITHIN GROUP (ORDER BY v) AS p FROM sketch_bench_values GROUP BY g) t;
-- @floor avg
SELECT sum(p) FROM (SELECT g, avg(v) AS p FROM sketch_bench_values GROUP BY g) t;
-- @teardown
DROP TABLE sketch_bench_values;

-- @job sketch: sliding 28-day p90, 200 agents x 180 days of daily sketches
-- @setup
SET client_min_messages = warning;
DROP TABLE IF EXISTS sketch_bench_days;
DROP AGGREGATE IF EXISTS public.sketch_bench_rollup_noinv(kpi.sketch);
SELECT setseed(0.2);
-- Values per agent-day follow the scale (about 55 at 2M, never fewer than 10).
CREATE TABLE sketch_bench_days AS
SELECT agent_id, day, kpi.sketch_agg(v) AS s
  FROM (SELECT a AS agent_id, date '2026-01-01' + d AS day,
			   round(exp(ln(15 + a % 20) + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 3)::float8 AS v
		  FROM generate_series(1, 200) a, generate_series(0, 179) d,
			   generate_series(1, greatest(10, :scale / 36000)) k) t
 GROUP BY agent_id, day;
ALTER TABLE sketch_bench_days ADD PRIMARY KEY (agent_id, day);
VACUUM ANALYZE sketch_bench_days;
-- kpi.rollup without its moving-aggregate functions: every frame is recomputed from its rows.
CREATE AGGREGATE public.sketch_bench_rollup_noinv(kpi.sketch) (
	SFUNC = kpi.sketch_merge, STYPE = kpi.sketch, FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge, PARALLEL = SAFE);
-- @rows
SELECT count(*) FROM sketch_bench_days;
-- @ours
SELECT sum(p) FROM (
	SELECT kpi.approx_percentile(0.9, kpi.rollup(s) OVER w) AS p
	  FROM sketch_bench_days
	WINDOW w AS (PARTITION BY agent_id ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)) t;
-- @alternative no-inverse twin
SELECT sum(p) FROM (
	SELECT kpi.approx_percentile(0.9, public.sketch_bench_rollup_noinv(s) OVER w) AS p
	  FROM sketch_bench_days
	WINDOW w AS (PARTITION BY agent_id ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)) t;
-- @alternative recompute each window
SELECT sum(p) FROM (
	SELECT (SELECT kpi.approx_percentile(0.9, kpi.rollup(d2.s))
			  FROM sketch_bench_days d2
			 WHERE d2.agent_id = d.agent_id AND d2.day BETWEEN d.day - 27 AND d.day) AS p
	  FROM sketch_bench_days d) t;
-- @runs 3
-- @teardown
DROP AGGREGATE public.sketch_bench_rollup_noinv(kpi.sketch);

-- @job sketch: on-disk size of a day's sketch (timed: avg(pg_column_size); about 180 bytes at 55 values)
-- @rows
SELECT count(*) FROM sketch_bench_days;
-- @ours
SELECT avg(pg_column_size(s)) FROM sketch_bench_days;
-- @teardown
DROP TABLE sketch_bench_days;
