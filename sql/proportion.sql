-- kpi.proportion: hits among trials, rates with Wilson intervals, and a rolling-window aggregate.
-- Every value below was checked by hand or by an independent query (see the comments).
\pset null '(null)'

-- Text form hits/trials; spaces are allowed around the numbers and the slash, and the output
-- is canonical.
SELECT '3/10'::kpi.proportion AS p, ' 3 / 10 '::kpi.proportion AS spaced,
	   '007/010'::kpi.proportion AS zeros, '0/0'::kpi.proportion AS empty;
SELECT kpi.proportion(3, 10) AS made, kpi.hits('3/10'), kpi.trials('3/10');

-- rate = hits / trials, NULL when there are no trials. Wilson score interval, z = 1.96,
-- rounded to 12 places. Hand check for 1/3 (n = 3, p = 1/3, z^2 = 3.8416):
--   a = 1 + 3.8416/3 = 2.2805333...; centre = (1/3 + 3.8416/6) / a = 0.4269185...
--   half = 1.96/a * sqrt(2/27 + 3.8416/36) = 0.3654282...; bounds 0.0614903 and 0.7923450
-- (50-digit values: 0.0614903152761605079, 0.7923450448735120943).
SELECT p, round(kpi.rate(p)::numeric, 12) AS rate,
	   round(kpi.wilson_lower(p)::numeric, 12) AS wilson_lower,
	   round(kpi.wilson_upper(p)::numeric, 12) AS wilson_upper
  FROM (VALUES ('1/3'::kpi.proportion), ('0/10'), ('10/10'), ('45/100'), ('1/2'), ('0/0')) v(p);
-- The ends are exact: lower is 0 when hits = 0 and upper is 1 when hits = trials.
SELECT kpi.wilson_lower('0/10') = 0 AS lower_is_0, kpi.wilson_upper('10/10') = 1 AS upper_is_1;
-- Huge counts stay accurate (50-digit values: 1.9138338297e-20 and 6.1420920278e-19).
SELECT to_char(kpi.wilson_lower('1/9223372036854775807'), '9.9999999999EEEE') AS lower,
	   to_char(kpi.wilson_upper('1/9223372036854775807'), '9.9999999999EEEE') AS upper;

-- Equality compares both counts: the same rate on more evidence is a different value.
SELECT '1/2'::kpi.proportion = '1/2' AS same, '1/2'::kpi.proportion = '2/4' AS same_rate,
	   '1/2'::kpi.proportion <> '2/4' AS differ;
SELECT p FROM (SELECT DISTINCT p FROM (VALUES ('1/2'::kpi.proportion), ('2/4'), ('1/2')) v(p)) d ORDER BY kpi.trials(p);

-- Bad input: syntax (22P02), numbers beyond bigint (22003), impossible pairs (22023).
SELECT ''::kpi.proportion;
SELECT 'abc'::kpi.proportion;
SELECT '3/10 apples'::kpi.proportion;
SELECT '3 10'::kpi.proportion;
SELECT '3/'::kpi.proportion;
SELECT '99999999999999999999/1'::kpi.proportion;
SELECT '5/3'::kpi.proportion;
SELECT '-1/3'::kpi.proportion;
SELECT kpi.proportion(4, -1);
-- There is no ordering (neither pair order nor rate order is obviously right).
SELECT p FROM (VALUES ('1/2'::kpi.proportion)) v(p) ORDER BY p;

-- Binary form: hits then trials as big-endian bigints; COPY (FORMAT binary) round-trips.
SELECT kpi.proportion_send('3/10');
CREATE TEMP TABLE props (id int, p kpi.proportion);
INSERT INTO props VALUES (1, '0/0'), (2, '3/10'), (3, '9223372036854775807/9223372036854775807'), (4, NULL);
CREATE TEMP TABLE props_back (LIKE props);
SELECT current_setting('data_directory') || '/proportion_regress.bin' AS binfile \gset
COPY props TO :'binfile' (FORMAT binary);
COPY props_back FROM :'binfile' (FORMAT binary);
SELECT a.id, a.p, b.p AS back, a.p IS NOT DISTINCT FROM b.p AS same FROM props a JOIN props_back b USING (id) ORDER BY id;
-- Hand-written bytes are validated: 5/3 and a 15-byte value are refused.
CREATE TEMP TABLE raw (id int, b bytea);
INSERT INTO raw VALUES (1, '\x00000000000000050000000000000003');
COPY raw TO :'binfile' (FORMAT binary);
COPY props_back FROM :'binfile' (FORMAT binary);
UPDATE raw SET b = '\x000000000000000300000000000000';
COPY raw TO :'binfile' (FORMAT binary);
COPY props_back FROM :'binfile' (FORMAT binary);

-- The aggregate: proportion_agg(hits, trials) = sum(hits)/sum(trials). A row with a NULL
-- argument is skipped; no rows give 0/0, whose rate is NULL.
CREATE TEMP TABLE daily (agent int, day date, hits bigint, trials bigint);
INSERT INTO daily VALUES
	(1, '2025-03-01', 1, 4), (1, '2025-03-02', 0, 2), (1, '2025-03-05', 2, 3), (1, '2025-03-06', NULL, 5),
	(2, '2025-03-01', 3, 3), (2, '2025-03-04', 1, 6);
SELECT agent, kpi.proportion_agg(hits, trials) AS p, sum(hits) FILTER (WHERE trials IS NOT NULL) AS sum_hits,
	   sum(trials) FILTER (WHERE hits IS NOT NULL) AS sum_trials
  FROM daily GROUP BY agent ORDER BY agent;
SELECT kpi.proportion_agg(hits, trials) AS no_rows, kpi.rate(kpi.proportion_agg(hits, trials)) AS rate
  FROM daily WHERE agent = 99;
-- Merging proportions: per-agent values roll up to the total 7/18.
SELECT kpi.proportion_agg(p) FROM (SELECT kpi.proportion_agg(hits, trials) p FROM daily GROUP BY agent) s;

-- A rolling 3-day window over a dense calendar (every agent, every day); the inverse
-- transition removes the day that leaves the frame. Agent 2 on 03-07 has had no rows for
-- 3 days: 0/0 and a NULL rate. Hand check for agent 1 on 03-05: days 03-03..03-05 hold
-- only 2/3.
SELECT c.agent, c.day, kpi.proportion_agg(d.hits, d.trials) OVER w AS last_3_days,
	   round(kpi.rate(kpi.proportion_agg(d.hits, d.trials) OVER w)::numeric, 4) AS rate
  FROM (SELECT a AS agent, day::date FROM generate_series(1, 2) a,
			   generate_series(date '2025-03-01', date '2025-03-07', interval '1 day') day) c
  LEFT JOIN daily d USING (agent, day)
WINDOW w AS (PARTITION BY c.agent ORDER BY c.day RANGE BETWEEN INTERVAL '2 days' PRECEDING AND CURRENT ROW)
 ORDER BY c.agent, c.day;

-- Errors in the aggregate name the offending values; sums beyond bigint are refused.
SELECT kpi.proportion_agg(h, t) FROM (VALUES (1, 2), (5, 3)) v(h, t);
SELECT kpi.proportion_agg(h, t) FROM (VALUES (9223372036854775807, 9223372036854775807), (1, 1)) v(h, t);

-- Parallel plans combine partial states with the combine function.
CREATE TABLE proportion_par AS
SELECT i % 7 AS g, (i * 37 % 11)::bigint AS h, (10 + i % 3)::bigint AS t FROM generate_series(1, 20000) i;
ANALYZE proportion_par;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT kpi.proportion_agg(h, t) FROM proportion_par;
SELECT kpi.proportion_agg(h, t) AS parallel, (SELECT sum(h) || '/' || sum(t) FROM proportion_par) AS by_sum
  FROM proportion_par;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE proportion_par;
