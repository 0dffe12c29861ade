-- kpi.sketch: a latency sketch whose quantiles are within 0.99 % of percentile_disc, with exact
-- count, sum, min and max; built with kpi.sketch_agg, merged with kpi.rollup (also in sliding
-- windows), read with the accessors.
\pset null '(null)'

CREATE TABLE sketch_demo (agent int, day date, response_s float8);
INSERT INTO sketch_demo VALUES
	(1, '2026-03-01', 4.2), (1, '2026-03-01', 12), (1, '2026-03-01', 30), (1, '2026-03-01', 31.5),
	(1, '2026-03-01', NULL),
	(1, '2026-03-02', 2.5), (1, '2026-03-02', 45), (1, '2026-03-02', 300),
	(1, '2026-03-04', 8), (1, '2026-03-04', 20), (1, '2026-03-05', 15), (1, '2026-03-05', 16),
	(2, '2026-03-01', 0.0004), (2, '2026-03-01', 60), (2, '2026-03-02', 7200);

-- The text form: format version, count, exact sum in nanoseconds, exact min and max (seconds),
-- then bucket:count for each occupied bucket.  NULLs are ignored.
SELECT agent, kpi.sketch_agg(response_s) FROM sketch_demo GROUP BY agent ORDER BY agent;

-- Exact count, mean, min and max; quantiles within kpi.error of percentile_disc.
SELECT agent, kpi.num_vals(s), kpi.mean(s), kpi.min_val(s), kpi.max_val(s), kpi.error(s)
  FROM (SELECT agent, kpi.sketch_agg(response_s) AS s FROM sketch_demo GROUP BY agent) t
 ORDER BY agent;
SELECT agent,
	   kpi.approx_percentile(0.5, kpi.sketch_agg(response_s)) AS p50,
	   percentile_disc(0.5) WITHIN GROUP (ORDER BY response_s) AS exact_p50,
	   kpi.approx_percentile(0.9, kpi.sketch_agg(response_s)) AS p90,
	   percentile_disc(0.9) WITHIN GROUP (ORDER BY response_s) AS exact_p90
  FROM sketch_demo GROUP BY agent ORDER BY agent;

-- Several quantiles in one pass; q = 0 and q = 1 are the exact min and max.
SELECT kpi.approx_percentiles('{0, 0.25, 0.5, 0.75, 1}', kpi.sketch_agg(response_s))
  FROM sketch_demo WHERE agent = 1;

-- Share answered within 30 s: 30 s itself counts.  Values less than 2 % above the threshold
-- share its bucket and count as within too (31.5 s is not that close).
SELECT kpi.share_within(s, 30) AS within_30s, kpi.share_within(s, 29) AS within_29s,
	   kpi.share_within(s, 1) AS within_1s, kpi.share_within(s, 1000) AS within_1000s
  FROM (SELECT kpi.sketch_agg(response_s) AS s FROM sketch_demo WHERE agent = 1) t;

-- Intervals are durations too: the same sketch as their epoch seconds.
SELECT kpi.sketch_agg(d) AS from_intervals,
	   kpi.sketch_agg(extract(epoch FROM d)::float8)::text = kpi.sketch_agg(d)::text AS same_as_seconds
  FROM (VALUES (interval '4.2 seconds'), (interval '12 s'), (interval '1 min 30 s')) t(d);

-- Daily sketches, merged with kpi.rollup.
CREATE TABLE sketch_days AS
SELECT agent, day, kpi.sketch_agg(response_s) AS s FROM sketch_demo GROUP BY agent, day;
SELECT agent, kpi.rollup(s) AS all_days,
	   kpi.rollup(s)::text = (SELECT kpi.sketch_agg(response_s)::text FROM sketch_demo d
							   WHERE d.agent = sketch_days.agent) AS same_as_one_sketch
  FROM sketch_days GROUP BY agent ORDER BY agent;

-- A sliding 3-day window (2026-03-03 has no row): each step adds the new day and removes the
-- one that left, exactly.  On 03-05 the day holding both min and max (03-02) leaves.
SELECT agent, day, kpi.num_vals(w), kpi.min_val(w), kpi.max_val(w), kpi.mean(w),
	   kpi.approx_percentile(0.9, w) AS p90
  FROM (SELECT agent, day,
			   kpi.rollup(s) OVER (PARTITION BY agent ORDER BY day
								   RANGE BETWEEN INTERVAL '2 days' PRECEDING AND CURRENT ROW) AS w
		  FROM sketch_days) t
 ORDER BY agent, day;

-- The frame of the day before only: empty on each agent's first day, so NULL.
SELECT agent, day, kpi.rollup(s) OVER (PARTITION BY agent ORDER BY day
									   RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '1 day' PRECEDING) AS yesterday
  FROM sketch_days ORDER BY agent, day;

-- Empty and all-NULL groups give NULL.
SELECT kpi.sketch_agg(response_s) FROM sketch_demo WHERE agent = 3;
SELECT kpi.sketch_agg(response_s) FROM sketch_demo WHERE response_s IS NULL;

-- Text and binary forms round-trip exactly.
SELECT s::text::kpi.sketch::text = s::text AS text_round_trip, kpi.sketch_send(s)
  FROM sketch_days WHERE agent = 2 AND day = '2026-03-01';

-- Values from 0 to 2^33 s are kept; the zero bucket holds everything below 2^-30 s.
SELECT kpi.sketch_agg(v) FROM (VALUES (0::float8), (1e-12), (86400 * 365.25)) t(v);

-- Errors.
SELECT kpi.sketch_agg(v) FROM (VALUES (-1::float8)) t(v);
SELECT kpi.sketch_agg('NaN'::float8);
SELECT kpi.sketch_agg(1e10::float8);
SELECT kpi.approx_percentile(1.5, s) FROM sketch_days LIMIT 1;
SELECT 'v1;n=2;sum_ns=3000000000;min=1;max=2;b=1051:1'::kpi.sketch;
SELECT 'v1;n=2;sum_ns=3000000000;min=1;max=2;b=1086:1,1051:1'::kpi.sketch;
SELECT 'v2;n=2;sum_ns=3000000000;min=1;max=2;b=1051:1,1086:1'::kpi.sketch;
SELECT 'v1;n=2;sum_ns=3000000001;min=1;max=2;b=1051:1,1086:1'::kpi.sketch;

DROP TABLE sketch_days;
DROP TABLE sketch_demo;
