-- pgTAP tests of kpi.sketch (SPEC 4.2): accuracy against percentile_disc, exact count, sum,
-- min, max and mean, determinism (input order, merges, parallel plans), text and binary round
-- trips, corrupt inputs, sliding windows against recomputation, NULLs and errors.
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(234);

-- Deterministic data ----------------------------------------------------------------------------
-- Every value is kept as the exact decimal it was generated as (x) and as float8 (v = x::float8),
-- so exact nanosecond sums can be computed independently in numeric.
SELECT setseed(0.4242);
CREATE TEMP TABLE dist (name text, x numeric, v float8);
INSERT INTO dist (name, x)
SELECT 'lognormal', round(exp(ln(20) + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 6)
  FROM generate_series(1, 20000);
INSERT INTO dist (name, x)
SELECT 'uniform', round((random() * 300)::numeric, 6) FROM generate_series(1, 20000);
INSERT INTO dist (name, x)
SELECT 'bimodal', round(CASE WHEN i % 2 = 0
		THEN abs(2 + 0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
		ELSE abs(600 + 60 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END::numeric, 6)
  FROM generate_series(1, 20000) i;
INSERT INTO dist (name, x) SELECT 'constant', 42.5 FROM generate_series(1, 5000);
-- below 1 ms, with nanosecond digits
INSERT INTO dist (name, x)
SELECT 'tiny', round((0.000001 + random() * 0.000998)::numeric, 9) FROM generate_series(1, 20000);
-- log-uniform over the whole promised range, 1 ms .. 1 year
-- (multiples of 2^-20 s, exact in float8, so the exact ns sum is known beyond 2^23 s too)
INSERT INTO dist (name, x)
SELECT 'wide', round(exp(ln(0.001) + random() * ln(31536000 / 0.001)) * 1048576)::numeric * 0.00000095367431640625
  FROM generate_series(1, 20000);
UPDATE dist SET v = x::float8;

CREATE TEMP TABLE sk AS SELECT name, kpi.sketch_agg(v) AS s FROM dist GROUP BY name;

CREATE TEMP TABLE qs (q float8);
INSERT INTO qs VALUES (0), (0.01), (0.25), (0.5), (0.9), (0.99), (1);

-- Accuracy: every quantile within kpi.error of percentile_disc (7 q x 6 data sets) ---------------
CREATE TEMP TABLE acc AS
SELECT d.name, qs.q,
	   (SELECT percentile_disc(qs.q) WITHIN GROUP (ORDER BY v) FROM dist WHERE name = d.name) AS exact,
	   kpi.approx_percentile(qs.q, sk.s) AS est,
	   kpi.error(sk.s) AS err
  FROM (SELECT DISTINCT name FROM dist) d JOIN sk USING (name) CROSS JOIN qs;

SELECT ok(abs(est - exact) <= err * exact,
		  format('%s q=%s: estimate %s vs percentile_disc %s', name, q, est, exact))
  FROM acc ORDER BY name, q;

-- q = 0 and q = 1 are the exact min and max.
SELECT is((SELECT count(*) FROM acc WHERE q IN (0, 1) AND est <> exact), 0::bigint,
		  'q = 0 and q = 1 give percentile_disc exactly');

-- The same on a dense grid of 1001 quantiles per data set, through approx_percentiles.
CREATE TEMP TABLE grid AS SELECT array_agg(i / 1000.0::float8 ORDER BY i) AS qa FROM generate_series(0, 1000) i;
SELECT is((SELECT count(*)
			 FROM (SELECT unnest(percentile_disc(g.qa) WITHIN GROUP (ORDER BY d.v)) AS exact,
						  unnest(kpi.approx_percentiles(g.qa, kpi.sketch_agg(d.v))) AS est
					 FROM dist d, grid g WHERE d.name = n.name GROUP BY g.qa) t
			WHERE abs(est - exact) > 0.0099017789530032 * exact), 0::bigint,
		  format('%s: all 1001 quantiles q = 0, 0.001 .. 1 within the bound', n.name))
  FROM (SELECT DISTINCT name FROM dist) n ORDER BY n.name;

SELECT is(kpi.error(s), 0.0099017789530032::float8, 'kpi.error is the proven bound 0.99018 %')
  FROM sk WHERE name = 'uniform';
SELECT ok(kpi.error(s) < 0.01, 'the bound is below 1 %') FROM sk WHERE name = 'uniform';

-- Exact count, sum, min, max, mean against plain SQL --------------------------------------------
CREATE TEMP TABLE exact AS
SELECT name, count(*) AS n, min(v) AS mn, max(v) AS mx, sum(round(x * 1000000000)) AS sum_ns,
	   (sum(round(x * 1000000000))::numeric(1000, 60) / (count(*) * 1000000000))::float8 AS mean
  FROM dist GROUP BY name;

SELECT is(kpi.num_vals(s), e.n, name || ': num_vals = count(*)') FROM sk JOIN exact e USING (name) ORDER BY name;
SELECT is(kpi.min_val(s), e.mn, name || ': min_val = min(v)') FROM sk JOIN exact e USING (name) ORDER BY name;
SELECT is(kpi.max_val(s), e.mx, name || ': max_val = max(v)') FROM sk JOIN exact e USING (name) ORDER BY name;
SELECT is(substring(s::text FROM 'sum_ns=(\d+)')::numeric, e.sum_ns, name || ': sum_ns = exact sum in ns')
  FROM sk JOIN exact e USING (name) ORDER BY name;
SELECT is(kpi.mean(s), e.mean, name || ': mean = exact sum / count, correctly rounded')
  FROM sk JOIN exact e USING (name) ORDER BY name;

-- Sums beyond 2^53 ns take the long-division path of mean(); it must still be correctly rounded.
CREATE TEMP TABLE big_dist AS
SELECT i % 5 AS g, round((1e6 + random() * 7e6)::numeric, 6) AS x FROM generate_series(1, 5000) i;
SELECT is((SELECT count(*) FROM (
			SELECT kpi.mean(kpi.sketch_agg(x::float8)) AS m,
				   (sum(x)::numeric(1000, 60) / count(*))::float8 AS e
			  FROM big_dist GROUP BY g) t WHERE m <> e), 0::bigint,
		  'mean is correctly rounded for sums of about 4.5e18 ns');
SELECT is((SELECT substring(kpi.sketch_agg(x::float8)::text FROM 'sum_ns=(\d+)')::numeric FROM big_dist),
		  (SELECT sum(x * 1000000000) FROM big_dist), 'sum_ns exact beyond 2^64 ns (5000 values of 12 to 92 days)');

-- A single value, and a constant one.
SELECT is(kpi.sketch_agg(v)::text, 'v1;n=1;sum_ns=1500000000;min=1.5;max=1.5;b=1071:1',
		  'one value: its bucket, exact sum, min = max') FROM (VALUES (1.5::float8)) t(v);
SELECT is(kpi.approx_percentiles('{0,0.5,1}', s), '{42.5,42.5,42.5}'::float8[],
		  'constant data: every quantile is the value (clamped to min = max)') FROM sk WHERE name = 'constant';

-- Zero and the bucket below 2^-30 s
SELECT is(kpi.sketch_agg(v)::text, 'v1;n=3;sum_ns=0;min=0;max=0;b=0:3',
		  'zeros (and -0) go to bucket 0, -0 stored as 0') FROM (VALUES (0::float8), ('-0'::float8), (0)) t(v);
SELECT is(kpi.approx_percentiles('{0,0.5,1}', kpi.sketch_agg(v)), '{1e-12,1e-12,1}'::float8[],
		  'a quantile in bucket 0 answers the exact min') FROM (VALUES (1e-12::float8), (1e-11), (1)) t(v);

-- Determinism -----------------------------------------------------------------------------------
SELECT is((SELECT kpi.sketch_agg(v ORDER BY random())::text FROM dist WHERE name = 'lognormal'),
		  (SELECT s::text FROM sk WHERE name = 'lognormal'), 'shuffled input gives the same sketch');
SELECT is((SELECT kpi.sketch_send(kpi.sketch_agg(v ORDER BY v DESC)) FROM dist WHERE name = 'bimodal'),
		  (SELECT kpi.sketch_send(kpi.sketch_agg(v ORDER BY v)) FROM dist WHERE name = 'bimodal'),
		  'descending and ascending input give the same bytes');
SELECT is((SELECT kpi.rollup(p ORDER BY random())::text
			 FROM (SELECT kpi.sketch_agg(v) AS p FROM dist WHERE name = 'wide' GROUP BY (hashfloat8(v) % 37)) t),
		  (SELECT s::text FROM sk WHERE name = 'wide'), 'rollup of 37 partial sketches = sketch of all');
SELECT is((SELECT kpi.rollup(p)::text
			 FROM (SELECT kpi.sketch_agg(v) AS p FROM dist GROUP BY name) t),
		  (SELECT kpi.sketch_agg(v)::text FROM dist), 'rollup across data sets = sketch of the union');
SELECT is(kpi.sketch_merge(a.s, b.s)::text, kpi.sketch_merge(b.s, a.s)::text,
		  'sketch_merge called directly is commutative')
  FROM sk a, sk b WHERE a.name = 'tiny' AND b.name = 'wide';
SELECT is(kpi.sketch_add(kpi.sketch_add(NULL, 2.0::float8), 1.0::float8)::text,
		  (SELECT kpi.sketch_agg(v)::text FROM (VALUES (1.0::float8), (2.0)) t(v)),
		  'sketch_add called directly builds the same sketch');
SELECT is(pg_column_size(kpi.sketch_add(NULL, 2.0::float8)), 51,
		  'a one-value sketch takes 51 bytes (48 header + one 3-byte bucket)');

-- Counts that outgrow a byte, then two bytes: widths grow and the final form is still canonical.
SELECT is(kpi.sketch_agg(v)::text, 'v1;n=70001;sum_ns=70002000000000;min=1;max=2;b=1051:70000,1086:1',
		  'bucket counts wider than 16 bits')
  FROM (SELECT 1::float8 AS v FROM generate_series(1, 70000) UNION ALL SELECT 2) t;

-- Over 64 buckets the aggregate state switches to its occupancy index; counts then outgrow 16 bits.
CREATE TEMP TABLE many AS
SELECT v FROM (SELECT i / 7.0::float8 AS v FROM generate_series(1, 200) i
			   UNION ALL SELECT 3::float8 FROM generate_series(1, 70000)) t;
SELECT is((SELECT kpi.sketch_agg(v ORDER BY random())::text FROM many),
		  (SELECT kpi.sketch_agg(v ORDER BY v)::text FROM many), 'indexed state: any input order gives the same sketch');
SELECT is((SELECT kpi.sketch_agg(v ORDER BY random())::text FROM many),
		  (SELECT kpi.rollup(s ORDER BY random())::text FROM (SELECT kpi.sketch_agg(v) AS s FROM many GROUP BY v) t),
		  'indexed state: the same as the rollup of one-bucket sketches');
SELECT ok((SELECT kpi.sketch_agg(v)::text FROM many) ~ ',1106:70001,' AND
		  (SELECT length(regexp_replace(kpi.sketch_agg(v)::text, '[^,]', '', 'g')) FROM many) > 64,
		  'indexed state: more than 64 buckets, 3 s counted 70001 times');

-- Parallel plans give the same bytes ------------------------------------------------------------
CREATE TABLE sketch_big AS SELECT (hashfloat8(d.v)::bigint + i + 2147483648) % 50 AS g, d.v FROM dist d, generate_series(1, 3) i;
ANALYZE sketch_big;
CREATE TEMP TABLE serial AS
SELECT kpi.sketch_send(kpi.sketch_agg(v)) AS one, NULL::bytea AS dummy FROM sketch_big;
CREATE TEMP TABLE serial_g AS SELECT g, kpi.sketch_agg(v)::text AS s FROM sketch_big GROUP BY g;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END
$$;
SELECT matches(pg_temp.plan_of('SELECT kpi.sketch_agg(v) FROM sketch_big'),
			   'Workers Launched: [12].*Partial Aggregate', 'sketch_agg runs as a parallel partial aggregate');
SELECT is((SELECT kpi.sketch_send(kpi.sketch_agg(v)) FROM sketch_big), one,
		  'parallel sketch_agg gives the same bytes as the serial plan') FROM serial;
SELECT matches(pg_temp.plan_of('SELECT g, kpi.sketch_agg(v) FROM sketch_big GROUP BY g'),
			   'Partial (Hash|Group)Aggregate', 'grouped sketch_agg runs as a parallel partial aggregate');
SELECT is((SELECT count(*) FROM (SELECT g, kpi.sketch_agg(v)::text AS s FROM sketch_big GROUP BY g) p
			 JOIN serial_g USING (g) WHERE p.s = serial_g.s), 50::bigint,
		  'parallel grouped sketch_agg equals the serial one in all 50 groups');
CREATE TABLE sketch_parts AS
SELECT g, kpi.sketch_agg(v) AS s FROM sketch_big GROUP BY g, (hashfloat8(v)::bigint + 2147483648) % 40;
ANALYZE sketch_parts;
SELECT matches(pg_temp.plan_of('SELECT kpi.rollup(s) FROM sketch_parts'),
			   'Partial Aggregate', 'rollup runs as a parallel partial aggregate');
SELECT is((SELECT kpi.sketch_send(kpi.rollup(s)) FROM sketch_parts), one,
		  'parallel rollup of parts gives the bytes of the whole') FROM serial;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;

-- Hash aggregation that spills to disk gives the same sketches as sorted grouping.
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL work_mem = '64kB';
SELECT matches(pg_temp.plan_of('SELECT g, kpi.sketch_agg(v) FROM (SELECT (hashfloat8(v)::bigint + 2147483648) % 3000 AS g, v FROM dist) t GROUP BY g'),
			   'HashAggregate.*Disk Usage', 'grouping into 3000 sketches with 64kB of work_mem spills to disk');
CREATE TEMP TABLE spilled AS
SELECT g, kpi.sketch_agg(v)::text AS s FROM (SELECT (hashfloat8(v)::bigint + 2147483648) % 3000 AS g, v FROM dist) t GROUP BY g;
SET LOCAL enable_hashagg = off;
SELECT is((SELECT count(*) FROM spilled JOIN
			 (SELECT g, kpi.sketch_agg(v)::text AS s FROM (SELECT (hashfloat8(v)::bigint + 2147483648) % 3000 AS g, v FROM dist) t GROUP BY g) sorted
			 USING (g) WHERE spilled.s = sorted.s), 3000::bigint, 'spilled hash aggregation = sorted aggregation in all 3000 groups');
RESET enable_hashagg;
RESET work_mem;

-- Text and binary round trips -------------------------------------------------------------------
SELECT is((s::text)::kpi.sketch::text, s::text, name || ': text round trip') FROM sk ORDER BY name;
SELECT is(kpi.sketch_send((s::text)::kpi.sketch), kpi.sketch_send(s), name || ': text round trip keeps the bytes')
  FROM sk ORDER BY name;
CREATE TEMP TABLE copy_out AS SELECT name, s FROM sk;
CREATE TEMP TABLE copy_in (name text, s kpi.sketch);
-- COPY to a file of the server's data directory and back.
DO $$
DECLARE
	path text := current_setting('data_directory') || '/kpi_sketch_test.bin';
BEGIN
	EXECUTE format('COPY copy_out TO %L (FORMAT binary)', path);
	EXECUTE format('COPY copy_in FROM %L (FORMAT binary)', path);
END
$$;
SELECT is((SELECT count(*) FROM copy_in JOIN copy_out USING (name) WHERE copy_in.s::text = copy_out.s::text),
		  6::bigint, 'binary COPY round trip of all six sketches');

-- Binary input goes through kpi.sketch_recv: write crafted bytes with COPY (FORMAT binary) from a
-- bytea column and read them back into a kpi.sketch column.
CREATE TEMP TABLE recv_bytes (b bytea);
CREATE TEMP TABLE recv_sketch (s kpi.sketch);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
	path text := current_setting('data_directory') || '/kpi_sketch_recv.bin';
BEGIN
	TRUNCATE recv_bytes, recv_sketch;
	INSERT INTO recv_bytes VALUES (b);
	EXECUTE format('COPY recv_bytes TO %L (FORMAT binary)', path);
	EXECUTE format('COPY recv_sketch FROM %L (FORMAT binary)', path);
	SELECT s::text INTO result FROM recv_sketch;
	RETURN result;
END
$$;
-- The reference sketch: 3 values, 2 buckets.  Offsets (0-based): 0 version, 1 n, 9 sum high,
-- 17 sum low, 25 min, 33 max, 41 bucket count, 45 + 10 i bucket index (2) and count (8).
CREATE TEMP TABLE ref AS
SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1'::kpi.sketch AS s;
CREATE TEMP TABLE rb AS SELECT kpi.sketch_send(s) AS b FROM ref;
SELECT is(length(b), 65, 'binary form: 45-byte header and 10 bytes per bucket') FROM rb;
SELECT is(pg_temp.recv(b), 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1', 'binary round trip through sketch_recv') FROM rb;

SELECT throws_ok(format('SELECT pg_temp.recv(%L)', ''::bytea), '22P03', 'kpi.sketch binary value is empty', 'binary: empty');
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', substr(b, 1, 64)), '22P03', 'kpi.sketch binary value is truncated', 'binary: last byte missing') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', substr(b, 1, 30)), '22P03', 'kpi.sketch binary value is truncated', 'binary: header cut short') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', b || '\x00'::bytea), '22P03', 'kpi.sketch binary value is followed by extra bytes', 'binary: trailing garbage') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', set_byte(b, 0, 2)), '22P03', 'unsupported kpi.sketch binary format version 2', 'binary: wrong version') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int4send(5000) FROM 42)), '22P03', 'kpi.sketch binary value claims 5000 buckets', 'binary: oversized bucket count') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int4send(0) FROM 42)), '22P03', 'kpi.sketch binary value claims 0 buckets', 'binary: no buckets') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int2send(9999::int2) FROM 56)), '22P03', 'kpi.sketch bucket index 9999 is out of range', 'binary: bucket index out of range') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int2send(1000::int2) FROM 56)), '22P03', 'kpi.sketch buckets are not in strictly increasing order', 'binary: unsorted buckets') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int2send(1051::int2) FROM 56)), '22P03', 'kpi.sketch buckets are not in strictly increasing order', 'binary: duplicate bucket') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int8send(0) FROM 58)), '22P03', 'kpi.sketch bucket 1086 has count 0', 'binary: zero count') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int8send(-1) FROM 58)), '22P03', 'kpi.sketch bucket 1086 has count -1', 'binary: negative count') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int8send(4) FROM 2)), '22P03', 'kpi.sketch bucket counts add up to 3, not n = 4', 'binary: counts do not add up to n') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)',
					  overlay(overlay(b PLACING int8send(9223372036854775807) FROM 48) PLACING int8send(9223372036854775807) FROM 58)),
				 '22003', 'kpi.sketch bucket counts overflow bigint', 'binary: count overflow') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING float8send(3) FROM 26)), '22P03', 'kpi.sketch min 3 is greater than max 2', 'binary: min > max') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING float8send('NaN') FROM 26)), '22P03', 'kpi.sketch min and max must lie in [0, 2^33) s, not NaN and 2', 'binary: NaN min') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING float8send('-1') FROM 26)), '22P03', 'kpi.sketch min and max must lie in [0, 2^33) s, not -1 and 2', 'binary: negative min') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING float8send(1.5) FROM 26)), '22P03', 'kpi.sketch min 1.5 does not lie in its lowest bucket 1051', 'binary: min outside its bucket') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING float8send(1.9) FROM 34)), '22P03', 'kpi.sketch max 1.9 does not lie in its highest bucket 1086', 'binary: max outside its bucket') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int8send(3999999999) FROM 18)), '22P03', 'kpi.sketch sum_ns 3999999999 does not fit its buckets', 'binary: sum 1 ns below the smallest possible') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int8send(-1) FROM 10)), '22P03', 'kpi.sketch binary value has a negative sum', 'binary: negative sum') FROM rb;
SELECT throws_ok(format('SELECT pg_temp.recv(%L)', overlay(b PLACING int8send(1) FROM 10)), '22P03', NULL, 'binary: sum beyond 2^64 ns') FROM rb;

-- Text input refuses every corruption with a SQLSTATE -------------------------------------------
SELECT throws_ok($$SELECT ''::kpi.sketch$$, '22P02', NULL, 'text: empty');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,'::kpi.sketch$$, '22P02', NULL, 'text: truncated after a comma');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2'::kpi.sketch$$, '22P02', 'kpi.sketch bucket counts add up to 2, not n = 3', 'text: a bucket missing');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1'::kpi.sketch$$, '22P02', NULL, 'text: truncated in the header');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1;'::kpi.sketch$$, '22P02', NULL, 'text: trailing semicolon');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1 junk'::kpi.sketch$$, '22P02', NULL, 'text: trailing garbage');
SELECT throws_ok($$SELECT 'v2;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', 'unsupported kpi.sketch format version 2', 'text: wrong version');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,2206:1'::kpi.sketch$$, '22P02', 'kpi.sketch bucket index 2206 is out of range', 'text: bucket index out of range');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1086:1,1051:2'::kpi.sketch$$, '22P02', 'kpi.sketch buckets are not in strictly increasing order', 'text: unsorted buckets');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1051:1'::kpi.sketch$$, '22P02', 'kpi.sketch buckets are not in strictly increasing order', 'text: duplicate bucket');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:3,1060:0,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch bucket 1060 has count 0', 'text: zero count');
SELECT throws_ok($$SELECT 'v1;n=4;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch bucket counts add up to 3, not n = 4', 'text: counts do not add up to n');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:9223372036854775808'::kpi.sketch$$, '22003', NULL, 'text: a count beyond bigint');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:9223372036854775807,1086:9223372036854775807'::kpi.sketch$$, '22003', 'kpi.sketch bucket counts overflow bigint', 'text: counts overflow when added');
SELECT throws_ok($$SELECT 'v1;n=99999999999999999999;sum_ns=1;min=1;max=2;b=1051:2'::kpi.sketch$$, '22003', NULL, 'text: n beyond bigint');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=999999999999999999999999999999999999999999;min=1;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22003', NULL, 'text: sum beyond 128 bits');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=2;max=1;b=1051:2,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch min 2 is greater than max 1', 'text: min > max');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=nan;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', NULL, 'text: NaN min');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=-1;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', NULL, 'text: negative min');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=0x1p0;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', NULL, 'text: hexadecimal float');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=1e999;b=1051:2,1086:1'::kpi.sketch$$, '22003', NULL, 'text: infinite max');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=9e9;b=1051:2,1086:1'::kpi.sketch$$, '22P02', NULL, 'text: max beyond 2^33 s');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1.5;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch min 1.5 does not lie in its lowest bucket 1051', 'text: min outside its bucket');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=4010000000;min=1;max=3;b=1051:2,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch max 3 does not lie in its highest bucket 1086', 'text: max outside its bucket');
SELECT throws_ok($$SELECT 'v1;n=2;sum_ns=3000000001;min=1;max=2;b=1051:1,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch sum_ns 3000000001 does not fit its buckets', 'text: sum 1 ns more than min + max with n = 2');
SELECT throws_ok($$SELECT 'v1;n=3;sum_ns=3999999999;min=1;max=2;b=1051:2,1086:1'::kpi.sketch$$, '22P02', 'kpi.sketch sum_ns 3999999999 does not fit its buckets', 'text: sum 1 ns too small');
SELECT throws_ok($$SELECT 'v1;n=1;sum_ns=1000000000;min=1;max=1.01;b=1051:1'::kpi.sketch$$, '22P02', 'kpi.sketch of one value has min 1 and max 1.01', 'text: one value with min <> max');
SELECT throws_ok($$SELECT 'v1;n=0;sum_ns=0;min=1;max=1;b=1051:0'::kpi.sketch$$, '22P02', NULL, 'text: n = 0');
SELECT throws_ok($$SELECT 'v1;n=1;sum_ns=1000000000;min=1;max=1;b='::kpi.sketch$$, '22P02', NULL, 'text: no buckets');
SELECT throws_ok($$SELECT 'v1;n=1;sum_ns=1000000000;min=1;max=1;b=1051:+1'::kpi.sketch$$, '22P02', NULL, 'text: signed count');
SELECT throws_ok($$SELECT ('v1;n=2206;sum_ns=0;min=0;max=0;b=' || string_agg(i || ':1', ',' ORDER BY i))::kpi.sketch
					 FROM generate_series(0, 2206) i$$, '22P02', 'kpi.sketch bucket index 2206 is out of range', 'text: oversized (more buckets than exist)');
SELECT lives_ok($$SELECT '  v1;n=3;sum_ns=4010000000;min=1;max=2;b=1051:2,1086:1  '::kpi.sketch$$, 'text: surrounding spaces are fine');
SELECT is('v1;n=3;sum_ns=4000000000;min=1;max=2;b=1051:2,1086:1'::kpi.sketch::text,
		  'v1;n=3;sum_ns=4000000000;min=1;max=2;b=1051:2,1086:1', 'text: the smallest possible sum is accepted');

-- Bad values for the aggregates and accessors ---------------------------------------------------
SELECT throws_ok($$SELECT kpi.sketch_agg(v) FROM (VALUES (1::float8), ('NaN')) t(v)$$, '22023', 'kpi.sketch cannot hold NaN', 'NaN input');
SELECT throws_ok($$SELECT kpi.sketch_agg('Infinity'::float8)$$, '22023', 'kpi.sketch cannot hold an infinite duration', 'infinite input');
SELECT throws_ok($$SELECT kpi.sketch_agg('-Infinity'::float8)$$, '22023', 'kpi.sketch cannot hold an infinite duration', '-infinite input');
SELECT throws_ok($$SELECT kpi.sketch_agg(-0.001::float8)$$, '22023', 'kpi.sketch cannot hold a negative duration: -0.001 s', 'negative input');
SELECT throws_ok($$SELECT kpi.sketch_agg(8589934592::float8)$$, '22003', 'duration 8.58993e+09 s is out of range for kpi.sketch', '2^33 s is out of range');
SELECT lives_ok($$SELECT kpi.sketch_agg(8589934591.999::float8)$$, 'just below 2^33 s is accepted');
SELECT throws_ok($$SELECT kpi.sketch_agg(interval '-1 second')$$, '22023', 'kpi.sketch cannot hold a negative duration: -00:00:01', 'negative interval');
SELECT throws_ok($$SELECT kpi.sketch_agg(interval '300 years')$$, '22003', 'duration 300 years is out of range for kpi.sketch', 'interval out of range');
SELECT throws_ok($$SELECT kpi.approx_percentile(-0.1, s) FROM sk$$, '22003', 'percentile value -0.1 is not between 0 and 1', 'q < 0');
SELECT throws_ok($$SELECT kpi.approx_percentile(1.5, s) FROM sk$$, '22003', 'percentile value 1.5 is not between 0 and 1', 'q > 1');
SELECT throws_ok($$SELECT kpi.approx_percentile('NaN', s) FROM sk$$, '22003', 'percentile value NaN is not between 0 and 1', 'q NaN');
SELECT throws_ok($$SELECT kpi.approx_percentiles('{0.5,2}', s) FROM sk$$, '22003', 'percentile value 2 is not between 0 and 1', 'q[] element > 1');
SELECT throws_ok($$SELECT kpi.share_within(s, 'NaN') FROM sk$$, '22023', 'share_within threshold must not be NaN', 'share_within NaN');
SELECT throws_ok($$SELECT kpi.rollup(s) FROM (VALUES ('v1;n=9223372036854775807;sum_ns=9223372036854775807000000000;min=1;max=1;b=1051:9223372036854775807'::kpi.sketch), ('v1;n=1;sum_ns=1000000000;min=1;max=1;b=1051:1')) t(s)$$,
				 '22003', NULL, 'rollup beyond 2^63 values');
SELECT throws_ok($$SELECT kpi.sketch_add('v1;n=9223372036854775807;sum_ns=9223372036854775807000000000;min=1;max=1;b=1051:9223372036854775807', 1::float8)$$,
				 '22003', NULL, 'adding a value to a full sketch');
SELECT is(kpi.mean('v1;n=9223372036854775807;sum_ns=9223372036854775807000000000;min=1;max=1;b=1051:9223372036854775807'), 1::float8,
		  'mean of 2^63 - 1 values of 1 s');

-- NULLs, empty groups, accessors on small data ---------------------------------------------------
SELECT is((SELECT kpi.sketch_agg(v)::text FROM (VALUES (1::float8), (NULL), (3), (NULL)) t(v)),
		  (SELECT kpi.sketch_agg(v)::text FROM (VALUES (1::float8), (3)) t(v)), 'NULL inputs are ignored');
SELECT ok((SELECT kpi.sketch_agg(v) FROM (VALUES (NULL::float8), (NULL)) t(v)) IS NULL, 'all-NULL group gives NULL');
SELECT ok((SELECT kpi.sketch_agg(v) FROM dist WHERE false) IS NULL, 'empty group gives NULL');
SELECT ok((SELECT kpi.sketch_agg(i) FROM (VALUES (NULL::interval)) t(i)) IS NULL, 'NULL interval gives NULL');
SELECT is((SELECT kpi.rollup(s)::text FROM (VALUES (NULL::kpi.sketch), ('v1;n=1;sum_ns=1000000000;min=1;max=1;b=1051:1'), (NULL)) t(s)),
		  'v1;n=1;sum_ns=1000000000;min=1;max=1;b=1051:1', 'rollup ignores NULL sketches');
SELECT ok((SELECT kpi.rollup(s) FROM (VALUES (NULL::kpi.sketch)) t(s)) IS NULL, 'rollup of NULLs gives NULL');
SELECT ok(kpi.approx_percentile(NULL, s) IS NULL, 'NULL q gives NULL') FROM sk WHERE name = 'tiny';
SELECT is(kpi.approx_percentiles('{{0.5,NULL},{1,0}}', kpi.sketch_agg(v)), '{{2.0198035579060063,NULL},{4,1}}'::float8[],
		  'approx_percentiles keeps the array shape and NULL elements')
  FROM (VALUES (1::float8), (2), (3), (4)) t(v);
SELECT is(kpi.approx_percentiles('{}', s), '{}'::float8[], 'empty q array') FROM sk WHERE name = 'tiny';
SELECT is(kpi.approx_percentiles(ARRAY[0.9, 0.1, 0.5, 0.9]::float8[], s),
		  ARRAY[kpi.approx_percentile(0.9, s), kpi.approx_percentile(0.1, s), kpi.approx_percentile(0.5, s), kpi.approx_percentile(0.9, s)],
		  'approx_percentiles, unsorted with repeats, equals approx_percentile per element') FROM sk WHERE name = 'lognormal';

-- share_within: exact outside [min, max); the threshold's bucket counts as within.
CREATE TEMP TABLE sw AS SELECT kpi.sketch_agg(v) AS s FROM (VALUES (10::float8), (20), (20), (30), (45), (60)) t(v);
SELECT is(kpi.share_within(s, 9.99), 0::float8, 'share_within below min is 0') FROM sw;
SELECT is(kpi.share_within(s, 60), 1::float8, 'share_within at max is 1') FROM sw;
SELECT is(kpi.share_within(s, 1e9), 1::float8, 'share_within far above max is 1') FROM sw;
SELECT is(kpi.share_within(s, -5), 0::float8, 'share_within of a negative threshold is 0') FROM sw;
SELECT is(kpi.share_within(s, 20), 0.5::float8, 'values equal to the threshold count as within') FROM sw;
SELECT is(kpi.share_within(s, 30), 4 / 6.0::float8, 'share_within 30 s') FROM sw;
SELECT is(kpi.share_within(s, 29.6), 4 / 6.0::float8, '29.6 s lies in the bucket of 30 s, [29.565, 30.157): 30 s counts') FROM sw;
SELECT is(kpi.share_within(s, 29.56), 0.5::float8, '29.56 s lies below the bucket of 30 s') FROM sw;
SELECT ok((SELECT bool_and(kpi.share_within(sk.s, t) BETWEEN
		(SELECT count(*) FILTER (WHERE v <= t) / count(*)::float8 FROM dist WHERE dist.name = sk.name)
	AND (SELECT count(*) FILTER (WHERE v < t * 1.0200016094211992) / count(*)::float8 FROM dist WHERE dist.name = sk.name))
	FROM sk, (VALUES (0.0005::float8), (1), (5), (15), (20), (30), (60), (120), (600), (86400)) th(t)),
	'share_within lies between the exact share <= t and the share < 1.02 t (all data sets, 10 thresholds)');

-- Interval input equals float8 seconds -----------------------------------------------------------
CREATE TEMP TABLE iv AS
SELECT make_interval(months => i % 3, days => i % 30, secs => round((random() * 100000)::numeric, 6)) AS i
  FROM generate_series(1, 3000) i;
SELECT is((SELECT kpi.sketch_agg(i)::text FROM iv), (SELECT kpi.sketch_agg(extract(epoch FROM i)::float8)::text FROM iv),
		  'sketch_agg(interval) = sketch_agg(extract(epoch)::float8), byte for byte');
SELECT is((SELECT substring(kpi.sketch_agg(i)::text FROM 'sum_ns=(\d+)')::numeric FROM iv),
		  (SELECT sum(extract(epoch FROM i)) * 1000000000 FROM iv), 'interval sums are exact microseconds');
SELECT is((SELECT kpi.sketch_agg(i)::text FROM (VALUES (interval '1 year 1 month 1 day 00:00:00.000001')) t(i)),
		  (SELECT kpi.sketch_agg(34236000.000001::float8)::text), 'a year is 365.25 days and a month 30 days, as extract(epoch)');

-- Sliding 28-day windows = recomputation ---------------------------------------------------------
-- 4 agents x 120 days with gaps (no row), days whose row holds a NULL sketch, and agent 4 with a
-- 40-day hole, so some frames are empty.
CREATE TEMP TABLE daily AS
SELECT g, day, kpi.sketch_agg(v) AS s
  FROM (SELECT g, date '2026-01-01' + d AS day,
			   round(exp(ln(10 + g) + (0.8 + d % 5 / 10.0) * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 6)::float8 AS v
		  FROM generate_series(1, 4) g, generate_series(0, 119) d, generate_series(1, 5 + (g * 7 + 0) % 23) k
		 WHERE (d * g) % 11 <> 3 AND NOT (g = 4 AND d BETWEEN 30 AND 69)) t
 GROUP BY g, day;
INSERT INTO daily
SELECT gg.g, date '2026-01-01' + n.d, NULL FROM generate_series(1, 4) gg(g), (VALUES (3), (50), (51), (60), (100)) n(d)
 WHERE NOT EXISTS (SELECT FROM daily x WHERE x.g = gg.g AND x.day = date '2026-01-01' + n.d);
-- An extra value far below/above everything on a few days, so the window min and max change
-- as those days leave the frame.
UPDATE daily SET s = kpi.sketch_merge(s, kpi.sketch_add(kpi.sketch_add(NULL, 0.001::float8 * g), 5000::float8 + g))
 WHERE s IS NOT NULL AND extract(day FROM day)::int % 9 = 0;

CREATE TEMP TABLE win AS
SELECT g, day,
	   kpi.rollup(s) OVER (PARTITION BY g ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW) AS w,
	   (SELECT kpi.rollup(d2.s) FROM daily d2 WHERE d2.g = d.g AND d2.day BETWEEN d.day - 27 AND d.day) AS r,
	   kpi.rollup(s) OVER (PARTITION BY g ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND INTERVAL '1 day' PRECEDING) AS w_prev,
	   (SELECT kpi.rollup(d2.s) FROM daily d2 WHERE d2.g = d.g AND d2.day BETWEEN d.day - 27 AND d.day - 1) AS r_prev
  FROM daily d;

SELECT ok((SELECT count(*) FROM win) > 400, 'the window test has over 400 frames');
SELECT is((SELECT count(*) FROM win WHERE w::text IS DISTINCT FROM r::text), 0::bigint,
		  'sliding 28-day rollup = recomputed rollup, sketch for sketch');
SELECT is((SELECT count(*) FROM win WHERE kpi.approx_percentile(0.9, w) IS DISTINCT FROM kpi.approx_percentile(0.9, r)), 0::bigint,
		  'sliding p90 = recomputed p90');
SELECT is((SELECT count(*) FROM win WHERE kpi.num_vals(w) IS DISTINCT FROM kpi.num_vals(r)), 0::bigint,
		  'sliding num_vals = recomputed');
SELECT is((SELECT count(*) FROM win WHERE kpi.mean(w) IS DISTINCT FROM kpi.mean(r)), 0::bigint,
		  'sliding mean = recomputed mean, bit for bit');
SELECT is((SELECT count(*) FROM win WHERE kpi.min_val(w) IS DISTINCT FROM kpi.min_val(r)), 0::bigint,
		  'sliding min_val = recomputed min');
SELECT is((SELECT count(*) FROM win WHERE kpi.max_val(w) IS DISTINCT FROM kpi.max_val(r)), 0::bigint,
		  'sliding max_val = recomputed max');
SELECT ok((SELECT count(DISTINCT kpi.min_val(w)) FROM win WHERE g = 1) > 3, 'the window min changes as days leave the frame');
SELECT is((SELECT count(*) FROM win WHERE w_prev::text IS DISTINCT FROM r_prev::text), 0::bigint,
		  'frame ending 1 day before: sliding = recomputed, empty frames included');
SELECT ok((SELECT count(*) FROM win WHERE w_prev IS NULL) >= 5, 'some frames are empty (NULL)');
SELECT is((SELECT count(*) FROM win WHERE w IS NULL), (SELECT count(*) FROM win WHERE r IS NULL),
		  'frames holding only NULL sketches give NULL');
SELECT ok((SELECT count(*) FROM win WHERE w IS NULL) >= 1, 'there is such a frame');
SELECT is((SELECT count(*) FROM win WHERE w IS NOT NULL
			AND NOT kpi.approx_percentile(0.5, w) BETWEEN kpi.min_val(w) AND kpi.max_val(w)), 0::bigint,
		  'sliding quantiles lie within [min, max]');

-- Min and max leave exactly with their row; ties keep the value.
CREATE TEMP TABLE mm (pos int, s kpi.sketch);
INSERT INTO mm VALUES
	(1, kpi.sketch_add(kpi.sketch_add(NULL, 1::float8), 50::float8)),
	(2, kpi.sketch_add(kpi.sketch_add(NULL, 5::float8), 40::float8)),
	(3, kpi.sketch_add(kpi.sketch_add(NULL, 3::float8), 60::float8)),
	(4, kpi.sketch_add(kpi.sketch_add(NULL, 3::float8), 10::float8)),
	(5, NULL),
	(6, kpi.sketch_add(kpi.sketch_add(NULL, 7::float8), 8::float8)),
	(7, kpi.sketch_add(kpi.sketch_add(NULL, 9::float8), 9::float8));
SELECT is(array_agg(kpi.min_val(w) ORDER BY pos), '{1,1,1,3,3,3,7}'::float8[], 'sliding min over 2 preceding rows')
  FROM (SELECT pos, kpi.rollup(s) OVER (ORDER BY pos ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM mm) t;
SELECT is(array_agg(kpi.max_val(w) ORDER BY pos), '{50,50,60,60,60,10,9}'::float8[], 'sliding max over 2 preceding rows')
  FROM (SELECT pos, kpi.rollup(s) OVER (ORDER BY pos ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM mm) t;
SELECT is(array_agg(kpi.num_vals(w) ORDER BY pos), '{2,4,6,6,4,4,4}'::bigint[], 'sliding num_vals, NULL rows skipped')
  FROM (SELECT pos, kpi.rollup(s) OVER (ORDER BY pos ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM mm) t;
SELECT is(array_agg(kpi.min_val(w) ORDER BY pos), '{1,1,1,1,3,3,3}'::float8[], 'sliding min over 3 preceding rows')
  FROM (SELECT pos, kpi.rollup(s) OVER (ORDER BY pos ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS w FROM mm) t;
SELECT is(array_agg(kpi.min_val(w) ORDER BY pos), '{NULL,NULL,1,1,3,3,3}'::float8[], 'frame of the 2 rows before the one before')
  FROM (SELECT pos, kpi.rollup(s) OVER (ORDER BY pos ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING) AS w FROM mm) t;
SELECT is(array_agg(kpi.max_val(w) ORDER BY pos), '{50,50,60,60,60,60,60}'::float8[], 'running max (frame from the start)')
  FROM (SELECT pos, kpi.rollup(s) OVER (ORDER BY pos) AS w FROM mm) t;
-- The same window with a FILTER: filtered rows are neither added nor removed.
SELECT is(array_agg(kpi.min_val(w) ORDER BY pos), '{1,1,1,3,3,7,7}'::float8[], 'sliding min with FILTER')
  FROM (SELECT pos, kpi.rollup(s) FILTER (WHERE pos <> 4) OVER (ORDER BY pos ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM mm) t;

SELECT * FROM finish();
ROLLBACK;
