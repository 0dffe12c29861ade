-- pgTAP: kpi.proportion and kpi.proportion_agg (SPEC 4.3, 3.4, 3.6).
--
-- Expected values are hand-computed (small cases), computed with 50-digit decimal arithmetic
-- outside PostgreSQL (Wilson bounds; the Python used is in the comments), or recomputed here by
-- independent plain SQL (sum(), correlated subqueries, the textbook Wilson formula).
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION kpi;
SELECT plan(171);

-- Catalog: the declarations the rest of kpi and Citus rely on --------------------------------

SELECT has_type('kpi', 'proportion', 'type kpi.proportion exists');
SELECT is((SELECT typlen::int FROM pg_type WHERE oid = 'kpi.proportion'::regtype), 16,
	'kpi.proportion is a fixed 16-byte value');
SELECT is((SELECT typbyval FROM pg_type WHERE oid = 'kpi.proportion'::regtype), false,
	'kpi.proportion is passed by reference');
SELECT is((SELECT aggtranstype::regtype::text FROM pg_aggregate
			WHERE aggfnoid = 'kpi.proportion_agg(bigint,bigint)'::regprocedure),
	'kpi.proportion', 'proportion_agg(bigint, bigint) has state type kpi.proportion, not internal');
SELECT is((SELECT aggtranstype::regtype::text FROM pg_aggregate
			WHERE aggfnoid = 'kpi.proportion_agg(kpi.proportion)'::regprocedure),
	'kpi.proportion', 'proportion_agg(kpi.proportion) has state type kpi.proportion');
SELECT is((SELECT (aggcombinefn::text, aggmtransfn::text, aggminvtransfn::text, agginitval, aggminitval)::text
			 FROM pg_aggregate WHERE aggfnoid = 'kpi.proportion_agg(bigint,bigint)'::regprocedure),
	'(kpi.proportion_combine,kpi.proportion_accum,kpi.proportion_retract,0/0,0/0)',
	'proportion_agg(bigint, bigint) has combine, moving and inverse functions, start 0/0');
SELECT is((SELECT (aggcombinefn::text, aggmtransfn::text, aggminvtransfn::text, agginitval, aggminitval)::text
			 FROM pg_aggregate WHERE aggfnoid = 'kpi.proportion_agg(kpi.proportion)'::regprocedure),
	'(kpi.proportion_combine,kpi.proportion_combine,kpi.proportion_uncombine,0/0,0/0)',
	'proportion_agg(kpi.proportion) has combine, moving and inverse functions, start 0/0');
SELECT is((SELECT count(*)::int FROM pg_proc p
			WHERE p.pronamespace = 'kpi'::regnamespace
			  AND (p.proname LIKE 'proportion%' OR p.proname IN ('hits', 'trials', 'rate', 'wilson_lower', 'wilson_upper'))
			  AND p.prokind = 'f' AND (p.proparallel <> 's' OR NOT p.proisstrict OR p.provolatile <> 'i')),
	0, 'every proportion function is IMMUTABLE STRICT PARALLEL SAFE');
SELECT is((SELECT count(*)::int FROM pg_proc p
			WHERE p.pronamespace = 'kpi'::regnamespace AND p.proname = 'proportion_agg' AND p.proparallel = 's'),
	2, 'both proportion_agg aggregates are PARALLEL SAFE');
SELECT is((SELECT count(*)::int FROM pg_proc p
			WHERE p.pronamespace = 'kpi'::regnamespace
			  AND (p.proname LIKE 'proportion%' OR p.proname IN ('hits', 'trials', 'rate', 'wilson_lower', 'wilson_upper'))
			  AND obj_description(p.oid, 'pg_proc') IS NULL),
	0, 'every proportion function and aggregate has a comment');

-- Text input and output ------------------------------------------------------------------------

SELECT is('3/10'::kpi.proportion::text, '3/10', 'text 3/10 round-trips');
SELECT is('0/0'::kpi.proportion::text, '0/0', 'text 0/0 round-trips');
SELECT is('9223372036854775807/9223372036854775807'::kpi.proportion::text,
	'9223372036854775807/9223372036854775807', 'the largest counts round-trip');
SELECT is('0/9223372036854775807'::kpi.proportion::text, '0/9223372036854775807', '0 of the largest count round-trips');
SELECT is(' 3 / 10 '::kpi.proportion::text, '3/10', 'spaces around the numbers and the slash are allowed');
SELECT is((E'\t3\n/\r10\f' || chr(11))::kpi.proportion::text, '3/10', 'tab, newline, CR, FF and VT are whitespace');
SELECT is('007/010'::kpi.proportion::text, '7/10', 'leading zeros are read and dropped');
SELECT is('+3/+10'::kpi.proportion::text, '3/10', 'an explicit plus sign is allowed');
SELECT is('-0/-0'::kpi.proportion::text, '0/0', 'minus zero is zero');
SELECT is((SELECT count(*)::int FROM generate_series(0, 40) n, generate_series(0, 40) h
			WHERE h <= n AND (h || '/' || n)::kpi.proportion::text <> h || '/' || n),
	0, 'every h/n with 0 <= h <= n <= 40 round-trips through text');
SELECT is((SELECT count(*)::int FROM (VALUES ('1/2'), ('12345678901234/98765432109876'), ('9223372036854775806/9223372036854775807')) v(s)
			WHERE s::kpi.proportion::text::kpi.proportion::text <> s),
	0, 'output -> input -> output is the identity');

SELECT throws_ok($$SELECT ''::kpi.proportion$$, '22P02',
	'invalid input syntax for type kpi.proportion: ""', 'empty text is refused');
SELECT throws_ok($$SELECT '   '::kpi.proportion$$, '22P02', NULL, 'blank text is refused');
SELECT throws_ok($$SELECT 'garbage'::kpi.proportion$$, '22P02',
	'invalid input syntax for type kpi.proportion: "garbage"', 'garbage is refused');
SELECT throws_ok($$SELECT '3'::kpi.proportion$$, '22P02', NULL, 'a number without slash is refused');
SELECT throws_ok($$SELECT '3/'::kpi.proportion$$, '22P02', NULL, 'a missing trials count is refused');
SELECT throws_ok($$SELECT '/3'::kpi.proportion$$, '22P02', NULL, 'a missing hits count is refused');
SELECT throws_ok($$SELECT '3/10x'::kpi.proportion$$, '22P02',
	'invalid input syntax for type kpi.proportion: "3/10x"', 'trailing characters are refused');
SELECT throws_ok($$SELECT '3/10 x'::kpi.proportion$$, '22P02', NULL, 'trailing words are refused');
SELECT throws_ok($$SELECT '3/10;'::kpi.proportion$$, '22P02', NULL, 'trailing punctuation is refused');
SELECT throws_ok($$SELECT '3//10'::kpi.proportion$$, '22P02', NULL, 'a double slash is refused');
SELECT throws_ok($$SELECT '3 10'::kpi.proportion$$, '22P02', NULL, 'a missing slash is refused');
SELECT throws_ok($$SELECT '3/10/20'::kpi.proportion$$, '22P02', NULL, 'three numbers are refused');
SELECT throws_ok($$SELECT '3.5/10'::kpi.proportion$$, '22P02', NULL, 'a decimal point is refused');
SELECT throws_ok($$SELECT '1e3/1e4'::kpi.proportion$$, '22P02', NULL, 'exponent notation is refused');
SELECT throws_ok($$SELECT '0x3/0x10'::kpi.proportion$$, '22P02', NULL, 'hex notation is refused');
SELECT throws_ok($$SELECT '- 3/10'::kpi.proportion$$, '22P02', NULL, 'a sign apart from its digits is refused');
SELECT throws_ok($$SELECT '+-3/10'::kpi.proportion$$, '22P02', NULL, 'two signs are refused');
SELECT throws_ok($$SELECT '３/10'::kpi.proportion$$, '22P02', NULL, 'non-ASCII digits are refused');
SELECT throws_ok($$SELECT '(3,10)'::kpi.proportion$$, '22P02', NULL, 'the record notation is refused');
SELECT throws_ok($$SELECT '-1/3'::kpi.proportion$$, '22023',
	'invalid proportion: negative hits -1', 'negative hits are refused');
SELECT throws_ok($$SELECT '3/-10'::kpi.proportion$$, '22023',
	'invalid proportion: negative trials -10', 'negative trials are refused');
SELECT throws_ok($$SELECT '-3/-1'::kpi.proportion$$, '22023', NULL, 'both negative is refused');
SELECT throws_ok($$SELECT '5/3'::kpi.proportion$$, '22023',
	'invalid proportion: hits 5 exceed trials 3', 'hits above trials are refused');
SELECT throws_ok($$SELECT '1/0'::kpi.proportion$$, '22023', NULL, '1/0 is refused');
SELECT throws_ok($$SELECT '9223372036854775808/9223372036854775808'::kpi.proportion$$, '22003',
	'hits in "9223372036854775808/9223372036854775808" is out of range for type bigint',
	'hits beyond bigint are refused');
SELECT throws_ok($$SELECT '1/99999999999999999999'::kpi.proportion$$, '22003',
	'trials in "1/99999999999999999999" is out of range for type bigint', 'trials beyond bigint are refused');
SELECT throws_ok($$SELECT '-9223372036854775808/0'::kpi.proportion$$, '22003', NULL,
	'the smallest bigint as hits is out of range');

-- Binary I/O through COPY (FORMAT binary) ------------------------------------------------------

CREATE TEMP TABLE bin_src (id int, p kpi.proportion);
INSERT INTO bin_src VALUES (1, '0/0'), (2, '3/10'), (3, '9223372036854775807/9223372036854775807'),
	(4, '0/9223372036854775807'), (5, '1/2'), (6, NULL);
CREATE TEMP TABLE bin_dst (id int, p kpi.proportion);
CREATE TEMP TABLE bin_raw (id int, b bytea);
CREATE FUNCTION pg_temp.binfile() RETURNS text LANGUAGE sql STABLE
	AS $$SELECT current_setting('data_directory') || '/kpi_proportion_test_' || pg_backend_pid() || '.bin'$$;
-- Copy arbitrary bytes into a proportion column: a binary COPY of a bytea column carries the
-- raw bytes, which kpi.proportion_recv then reads.
CREATE FUNCTION pg_temp.recv_hex(hex text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM bin_raw;
	INSERT INTO bin_raw VALUES (1, decode(hex, 'hex'));
	EXECUTE format('COPY bin_raw TO %L (FORMAT binary)', pg_temp.binfile());
	DELETE FROM bin_dst;
	EXECUTE format('COPY bin_dst FROM %L (FORMAT binary)', pg_temp.binfile());
	RETURN (SELECT p::text FROM bin_dst);
END
$$;

DO $$BEGIN EXECUTE format('COPY bin_src TO %L (FORMAT binary)', pg_temp.binfile()); END$$;
DO $$BEGIN EXECUTE format('COPY bin_dst FROM %L (FORMAT binary)', pg_temp.binfile()); END$$;
SELECT is((SELECT count(*)::int FROM bin_dst), 6, 'binary COPY brought back every row');
SELECT is((SELECT count(*)::int FROM bin_src s JOIN bin_dst d USING (id)
			WHERE s.p IS NOT DISTINCT FROM d.p), 6, 'binary COPY round-trips every value exactly (and NULL)');
SELECT is(encode(kpi.proportion_send('3/10'), 'hex'), '0000000000000003000000000000000a',
	'the binary form is hits then trials as big-endian bigints');
SELECT is(pg_temp.recv_hex('0000000000000003000000000000000a'), '3/10', 'hand-written binary 3/10 is read');
SELECT is(pg_temp.recv_hex('7fffffffffffffff7fffffffffffffff'), '9223372036854775807/9223372036854775807',
	'hand-written binary largest counts are read');
SELECT throws_ok($$SELECT pg_temp.recv_hex('00000000000000050000000000000003')$$, '22023',
	'invalid proportion: hits 5 exceed trials 3', 'binary hits above trials are refused');
SELECT throws_ok($$SELECT pg_temp.recv_hex('ffffffffffffffff0000000000000003')$$, '22023',
	'invalid proportion: negative hits -1', 'binary negative hits are refused');
SELECT throws_ok($$SELECT pg_temp.recv_hex('0000000000000000ffffffffffffffff')$$, '22023',
	'invalid proportion: negative trials -1', 'binary negative trials are refused');
SELECT throws_ok($$SELECT pg_temp.recv_hex('80000000000000008000000000000000')$$, '22023', NULL,
	'binary smallest bigints are refused');
SELECT throws_ok($$SELECT pg_temp.recv_hex('000000000000000300000000000000')$$, '22P03',
	'invalid binary kpi.proportion: 15 bytes', 'a short binary value is refused');
SELECT throws_ok($$SELECT pg_temp.recv_hex('0000000000000003000000000000000a00')$$, '22P03',
	'invalid binary kpi.proportion: 17 bytes', 'a long binary value is refused');
SELECT throws_ok($$SELECT pg_temp.recv_hex('')$$, '22P03',
	'invalid binary kpi.proportion: 0 bytes', 'an empty binary value is refused');

-- Constructor and accessors --------------------------------------------------------------------

SELECT is(kpi.proportion(3, 10)::text, '3/10', 'kpi.proportion(3, 10) is 3/10');
SELECT is(kpi.proportion(0, 0)::text, '0/0', 'kpi.proportion(0, 0) is 0/0');
SELECT is(kpi.proportion(NULL, 10), NULL, 'kpi.proportion(NULL, 10) is NULL');
SELECT is(kpi.proportion(3, NULL), NULL, 'kpi.proportion(3, NULL) is NULL');
SELECT throws_ok($$SELECT kpi.proportion(11, 10)$$, '22023',
	'invalid proportion: hits 11 exceed trials 10', 'constructor refuses hits above trials');
SELECT throws_ok($$SELECT kpi.proportion(-1, 10)$$, '22023',
	'invalid proportion: negative hits -1', 'constructor refuses negative hits');
SELECT throws_ok($$SELECT kpi.proportion(0, -10)$$, '22023',
	'invalid proportion: negative trials -10', 'constructor refuses negative trials');
SELECT is(kpi.hits('3/10'), 3::bigint, 'kpi.hits');
SELECT is(kpi.trials('3/10'), 10::bigint, 'kpi.trials');
SELECT is(kpi.hits('9223372036854775807/9223372036854775807'), 9223372036854775807, 'kpi.hits of the largest');
SELECT is(kpi.rate('3/10'), 0.3::float8, 'rate of 3/10 is 0.3');
SELECT is(kpi.rate('1/3'), 1::float8 / 3, 'rate of 1/3 is 1/3 in float8');
SELECT is(kpi.rate('0/7'), 0::float8, 'rate of 0/7 is 0');
SELECT is(kpi.rate('7/7'), 1::float8, 'rate of 7/7 is 1');
SELECT is(kpi.rate('0/0'), NULL, 'rate of 0/0 is NULL, not an error, not 0');
SELECT is(kpi.rate('9223372036854775807/9223372036854775807'), 1::float8, 'rate of the largest n/n is 1');
SELECT is(kpi.rate(NULL), NULL, 'rate of NULL is NULL');

-- Wilson score interval, z = 1.96 ----------------------------------------------------------------
-- Reference values from Python with 50 significant digits:
--   p=h/n; q=(n-h)/n; a=1+z*z/n; c=(p+z*z/(2n))/a; d=z/a*sqrt(p*q/n+z*z/(4n*n)); c-d, c+d

CREATE TEMP TABLE wilson_ref (h bigint, n bigint, lower numeric, upper numeric);
INSERT INTO wilson_ref VALUES
	(1, 3, 0.0614903152761605079069, 0.792345044873512094341),
	(0, 10, 0, 0.277540168766616579532),
	(10, 10, 0.722459831233383420468, 1),
	(45, 100, 0.356143751064034619347, 0.547555729683565584054),
	(1, 1, 0.206543291473892914878, 1),
	(0, 1, 0, 0.793456708526107057367),
	(1, 2, 0.0945286548008661270392, 0.905471345199133859083),
	(3, 10, 0.107789287486211832201, 0.603226780020434838470),
	(999999, 1000000, 0.999994334942477136607, 0.999999823479963856343),
	(4611686018427387904, 9223372036854775807, 0.499999999677313178292, 0.500000000322686766197);
SELECT is((SELECT string_agg(h || '/' || n, ', ' ORDER BY n, h) FROM wilson_ref
			WHERE abs(kpi.wilson_lower(kpi.proportion(h, n)) - lower) > 1e-12), NULL,
	'wilson_lower matches the 50-digit reference to 1e-12 (1/3, 0/10, 10/10, 45/100, ...)');
SELECT is((SELECT string_agg(h || '/' || n, ', ' ORDER BY n, h) FROM wilson_ref
			WHERE abs(kpi.wilson_upper(kpi.proportion(h, n)) - upper) > 1e-12), NULL,
	'wilson_upper matches the 50-digit reference to 1e-12');
SELECT ok(abs(kpi.wilson_lower('1/3') - 0.0614903152761605079069) < 1e-12, 'wilson_lower(1/3) = 0.061490315276...');
SELECT ok(abs(kpi.wilson_upper('1/3') - 0.792345044873512094341) < 1e-12, 'wilson_upper(1/3) = 0.792345044873...');
SELECT ok(abs(kpi.wilson_lower('45/100') - 0.356143751064034619347) < 1e-12, 'wilson_lower(45/100) = 0.356143751064...');
SELECT ok(abs(kpi.wilson_upper('45/100') - 0.547555729683565584054) < 1e-12, 'wilson_upper(45/100) = 0.547555729683...');
SELECT is(kpi.wilson_lower('0/10'), 0::float8, 'wilson_lower is exactly 0 when hits = 0');
SELECT is(kpi.wilson_upper('10/10'), 1::float8, 'wilson_upper is exactly 1 when hits = trials');
SELECT is(kpi.wilson_lower('0/9223372036854775807'), 0::float8, 'wilson_lower is exactly 0 for 0 of the largest n');
SELECT is(kpi.wilson_upper('9223372036854775807/9223372036854775807'), 1::float8,
	'wilson_upper is exactly 1 for the largest n/n');
SELECT is(kpi.wilson_lower('0/0'), NULL, 'wilson_lower of 0/0 is NULL');
SELECT is(kpi.wilson_upper('0/0'), NULL, 'wilson_upper of 0/0 is NULL');
-- Huge counts: relative accuracy where the bounds are tiny (absolute 1e-12 would prove nothing).
SELECT ok(abs(kpi.wilson_lower('1/9223372036854775807') / 1.91383382974163424006e-20 - 1) < 1e-12,
	'wilson_lower(1/(2^63-1)) = 1.9138338297e-20 to 1e-12 relative');
SELECT ok(abs(kpi.wilson_upper('1/9223372036854775807') / 6.14209202781715923349e-19 - 1) < 1e-12,
	'wilson_upper(1/(2^63-1)) = 6.1420920278e-19 to 1e-12 relative');
SELECT ok(abs(kpi.wilson_upper('0/9223372036854775807') / 4.16507106582031397004e-19 - 1) < 1e-12,
	'wilson_upper(0/(2^63-1)) = 4.1650710658e-19 to 1e-12 relative');
SELECT ok(abs(kpi.wilson_lower('1/1000000000000') / 1.76520014284278559713e-13 - 1) < 1e-12,
	'wilson_lower(1/10^12) = 1.7652001428e-13 to 1e-12 relative');
SELECT ok(abs(kpi.wilson_upper('1/1000000000000') / 5.66507998569328034826e-12 - 1) < 1e-12,
	'wilson_upper(1/10^12) = 5.6650799857e-12 to 1e-12 relative');

-- Against the textbook formula written independently in SQL, over every h/n with n <= 60.
CREATE TEMP TABLE grid AS
SELECT h, n, kpi.proportion(h, n) AS p,
	   (h::float8 / n + 1.96 ^ 2 / (2 * n) - 1.96 * sqrt(h::float8 / n * (1 - h::float8 / n) / n + 1.96 ^ 2 / (4 * n ^ 2)))
		 / (1 + 1.96 ^ 2 / n) AS lo,
	   (h::float8 / n + 1.96 ^ 2 / (2 * n) + 1.96 * sqrt(h::float8 / n * (1 - h::float8 / n) / n + 1.96 ^ 2 / (4 * n ^ 2)))
		 / (1 + 1.96 ^ 2 / n) AS hi
  FROM generate_series(1, 60) n, generate_series(0, 60) h
 WHERE h <= n;
SELECT is((SELECT count(*)::int FROM grid), 1890, 'the grid has every h/n with 1 <= n <= 60');
SELECT cmp_ok((SELECT max(abs(kpi.wilson_lower(p) - lo)) FROM grid), '<', 1e-12::float8,
	'wilson_lower equals the textbook formula to 1e-12 on the whole grid');
SELECT cmp_ok((SELECT max(abs(kpi.wilson_upper(p) - hi)) FROM grid), '<', 1e-12::float8,
	'wilson_upper equals the textbook formula to 1e-12 on the whole grid');
SELECT is((SELECT count(*)::int FROM grid
			WHERE NOT (0 <= kpi.wilson_lower(p) AND kpi.wilson_lower(p) <= kpi.rate(p)
					   AND kpi.rate(p) <= kpi.wilson_upper(p) AND kpi.wilson_upper(p) <= 1)),
	0, '0 <= lower <= rate <= upper <= 1 on the whole grid');
SELECT is((SELECT count(*)::int FROM grid g
			WHERE abs(kpi.wilson_lower(g.p) - (1 - kpi.wilson_upper(kpi.proportion(g.n - g.h, g.n)))) > 1e-15),
	0, 'symmetry: lower(h/n) = 1 - upper((n-h)/n)');
SELECT is((SELECT count(*)::int FROM grid a JOIN grid b ON b.n = a.n AND b.h = a.h + 1
			WHERE kpi.wilson_lower(b.p) <= kpi.wilson_lower(a.p) OR kpi.wilson_upper(b.p) <= kpi.wilson_upper(a.p)),
	0, 'both bounds rise strictly with hits at fixed trials');
SELECT is((SELECT count(*)::int FROM (VALUES
			('1/9223372036854775807'::kpi.proportion), ('2/9223372036854775807'), ('9223372036854775806/9223372036854775807'),
			('4611686018427387903/9223372036854775807'), ('3/9223372036854775806'), ('1/4611686018427387904')) v(p)
			WHERE NOT (0 <= kpi.wilson_lower(p) AND kpi.wilson_lower(p) <= kpi.rate(p)
					   AND kpi.rate(p) <= kpi.wilson_upper(p) AND kpi.wilson_upper(p) <= 1
					   AND kpi.wilson_lower(p) < kpi.wilson_upper(p) OR kpi.wilson_lower(p) = 1)),
	0, 'huge counts keep 0 <= lower <= rate <= upper <= 1 and a non-empty interval');

-- Equality, DISTINCT, GROUP BY, hash joins -------------------------------------------------------

SELECT ok('3/10'::kpi.proportion = '3/10'::kpi.proportion, '3/10 = 3/10');
SELECT ok(NOT ('1/2'::kpi.proportion = '2/4'::kpi.proportion), '1/2 = 2/4 is false: same rate, other evidence');
SELECT ok('1/2'::kpi.proportion <> '2/4'::kpi.proportion, '1/2 <> 2/4');
SELECT ok(NOT ('0/0'::kpi.proportion <> kpi.proportion(0, 0)), '0/0 <> 0/0 is false');
SELECT is(('1/2'::kpi.proportion = NULL::kpi.proportion), NULL, 'equality with NULL is NULL');
SELECT is((SELECT count(*)::int FROM (SELECT DISTINCT p FROM (VALUES ('1/2'::kpi.proportion), ('1/2'), ('2/4'), ('0/0'), (NULL), ('0/0')) v(p)) d),
	4, 'SELECT DISTINCT p keeps 1/2, 2/4, 0/0 and NULL');
SELECT throws_ok($$SELECT count(DISTINCT p) FROM (VALUES ('1/2'::kpi.proportion)) v(p)$$, '42883', NULL,
	'count(DISTINCT p) needs an ordering, which kpi.proportion deliberately lacks (use p::text)');
SELECT is((SELECT string_agg(p::text || ':' || c, ',' ORDER BY kpi.rate(p) NULLS FIRST, kpi.trials(p))
			 FROM (SELECT p, count(*) c FROM (VALUES ('1/2'::kpi.proportion), ('1/2'), ('2/4'), ('0/0'), ('0/0'), ('0/0')) v(p) GROUP BY p) g),
	'0/0:3,1/2:2,2/4:1', 'GROUP BY p groups equal pairs');
SELECT is((SELECT count(*)::int FROM (SELECT '1/2'::kpi.proportion UNION SELECT '1/2' UNION SELECT '3/4') u), 2,
	'UNION removes duplicate proportions');
SELECT is(kpi.proportion_hash('3/10'), kpi.proportion_hash(kpi.proportion(3, 10)), 'equal values hash alike');
SELECT isnt(kpi.proportion_hash('3/10'), kpi.proportion_hash('10/10'), 'different values hash differently here');
SELECT is(kpi.proportion_hash_extended('3/10', 0) & 4294967295, kpi.proportion_hash('3/10')::bigint & 4294967295,
	'extended hash with seed 0 agrees with the 32-bit hash in its low bits');
SELECT isnt(kpi.proportion_hash_extended('3/10', 1), kpi.proportion_hash_extended('3/10', 0), 'the seed changes the extended hash');
CREATE TEMP TABLE ja AS SELECT i, kpi.proportion(i % 7, 10) p FROM generate_series(1, 200) i;
CREATE TEMP TABLE jb AS SELECT i, kpi.proportion(i % 5, 10) p FROM generate_series(1, 50) i;
ANALYZE ja;
ANALYZE jb;
SET LOCAL enable_mergejoin = off;
SET LOCAL enable_nestloop = off;
SELECT is((SELECT count(*)::int FROM ja JOIN jb ON ja.p = jb.p),
	(SELECT count(*)::int FROM ja JOIN jb ON kpi.hits(ja.p) = kpi.hits(jb.p) AND kpi.trials(ja.p) = kpi.trials(jb.p)),
	'a hash join on = finds the same pairs as joining on the counts');
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT throws_ok($$SELECT p FROM ja ORDER BY p$$, '42883', NULL,
	'there is no ordering: ORDER BY p is refused (use kpi.rate(p))');

-- The aggregate: sums, NULLs, empty groups, errors ----------------------------------------------

CREATE TEMP TABLE rows_ (g int, h bigint, t bigint);
INSERT INTO rows_
SELECT i % 5, CASE WHEN i % 17 = 0 THEN NULL ELSE (i * 7) % 4 END, CASE WHEN i % 23 = 0 THEN NULL ELSE 3 + i % 5 END
  FROM generate_series(1, 1000) i;
SELECT is((SELECT count(*)::int FROM (
			SELECT g, kpi.proportion_agg(h, t) p FROM rows_ GROUP BY g) a
			JOIN (SELECT g, sum(h) sh, sum(t) st FROM rows_ WHERE h IS NOT NULL AND t IS NOT NULL GROUP BY g) b USING (g)
			WHERE kpi.hits(a.p) = b.sh AND kpi.trials(a.p) = b.st),
	5, 'per group, proportion_agg(h, t) = sum(h)/sum(t) over rows without NULLs');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM rows_),
	(SELECT sum(h) || '/' || sum(t) FROM rows_ WHERE h IS NOT NULL AND t IS NOT NULL),
	'over all rows, proportion_agg(h, t) = sum(h)/sum(t)');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM (VALUES (1, 2), (NULL, 5), (2, NULL), (3, 4)) v(h, t)),
	'4/6', 'a row with a NULL hits or trials is skipped');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM (VALUES (NULL::bigint, NULL::bigint), (NULL, 1)) v(h, t)),
	'0/0', 'only NULL rows give 0/0');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM rows_ WHERE false), '0/0', 'no rows give 0/0');
SELECT is((SELECT kpi.rate(kpi.proportion_agg(h, t)) FROM rows_ WHERE false), NULL, 'the rate of no rows is NULL');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM (VALUES (0, 0), (0, 0)) v(h, t)), '0/0', 'rows of 0/0 sum to 0/0');
SELECT is((SELECT kpi.proportion_agg(h::int, t::smallint)::text FROM (VALUES (1, 2), (3, 4)) v(h, t)), '4/6',
	'int and smallint arguments are accepted');
SELECT is((SELECT kpi.proportion_agg(p)::text FROM (VALUES ('1/2'::kpi.proportion), (NULL), ('3/4'), ('0/0')) v(p)),
	'4/6', 'proportion_agg(p) merges proportions and skips NULL');
SELECT is((SELECT kpi.proportion_agg(p)::text FROM (VALUES (NULL::kpi.proportion)) v(p)), '0/0',
	'proportion_agg(p) of only NULLs is 0/0');
SELECT is((SELECT kpi.proportion_agg(p)::text FROM (SELECT g, kpi.proportion_agg(h, t) p FROM rows_ GROUP BY g) s),
	(SELECT kpi.proportion_agg(h, t)::text FROM rows_), 'merging per-group proportions gives the total');
SELECT is((SELECT kpi.proportion_agg(h, t)::text::kpi.proportion::text FROM rows_),
	(SELECT kpi.proportion_agg(h, t)::text FROM rows_), 'the state round-trips through text (as Citus ships it)');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM (VALUES (4611686018427387904, 4611686018427387904),
												 (4611686018427387903, 4611686018427387903)) v(h, t)),
	'9223372036854775807/9223372036854775807', 'sums up to the largest bigint are exact');
SELECT throws_ok($$SELECT kpi.proportion_agg(h, t) FROM (VALUES (9223372036854775807, 9223372036854775807), (1, 1)) v(h, t)$$,
	'22003', 'proportion trials out of range', 'a sum beyond bigint is an error, not a wraparound');
SELECT throws_ok($$SELECT kpi.proportion_agg(h, t) FROM (VALUES (0, 9223372036854775807), (0, 1)) v(h, t)$$,
	'22003', 'proportion trials out of range', 'trials overflow alone is an error');
SELECT throws_ok($$SELECT kpi.proportion_agg(p) FROM (VALUES ('0/9223372036854775807'::kpi.proportion), ('1/1')) v(p)$$,
	'22003', 'proportion trials out of range', 'proportion_agg(p) overflow is an error');
SELECT throws_ok($$SELECT kpi.proportion_agg(h, t) FROM (VALUES (1, 2), (5, 3)) v(h, t)$$,
	'22023', 'invalid proportion: hits 5 exceed trials 3', 'a row with hits above trials is an error naming it');
SELECT throws_ok($$SELECT kpi.proportion_agg(h, t) FROM (VALUES (1, 2), (-1, 3)) v(h, t)$$,
	'22023', 'invalid proportion: negative hits -1', 'a row with negative hits is an error naming it');
SELECT throws_ok($$SELECT kpi.proportion_agg(h, t) FROM (VALUES (1, 2), (0, -3)) v(h, t)$$,
	'22023', 'invalid proportion: negative trials -3', 'a row with negative trials is an error naming it');

SELECT is((SELECT (kpi.proportion_agg(h, t)::text, kpi.proportion_agg(h, t)::text)::text FROM rows_),
	(SELECT (s, s)::text FROM (SELECT sum(h) || '/' || sum(t) s FROM rows_ WHERE h IS NOT NULL AND t IS NOT NULL) x),
	'the same aggregate twice in one query: both right (shared state is not double-counted)');
SELECT is((SELECT (kpi.proportion_agg(h, t) FILTER (WHERE g = 1))::text || ' ' || kpi.proportion_agg(h, t)::text FROM rows_),
	(SELECT (SELECT sum(h) || '/' || sum(t) FROM rows_ WHERE g = 1 AND h IS NOT NULL AND t IS NOT NULL) || ' ' ||
			(SELECT sum(h) || '/' || sum(t) FROM rows_ WHERE h IS NOT NULL AND t IS NOT NULL)),
	'a FILTERed and an unfiltered copy keep separate states');
SELECT is((SELECT count(DISTINCT p::text)::int FROM (SELECT DISTINCT kpi.proportion(h, t) p FROM rows_ WHERE h IS NOT NULL AND t IS NOT NULL) d),
	(SELECT count(*)::int FROM (SELECT DISTINCT h, t FROM rows_ WHERE h IS NOT NULL AND t IS NOT NULL) d),
	'hashed DISTINCT on proportions finds as many values as DISTINCT on the two counts');

-- The support functions called directly (outside an aggregate they must not write their input).
SELECT is(kpi.proportion_accum('1/2', 3, 4)::text, '4/6', 'proportion_accum adds a row');
SELECT is(kpi.proportion_retract('4/6', 3, 4)::text, '1/2', 'proportion_retract removes it again');
SELECT is(kpi.proportion_combine('1/2', '3/4')::text, '4/6', 'proportion_combine adds');
SELECT is(kpi.proportion_uncombine('4/6', '3/4')::text, '1/2', 'proportion_uncombine subtracts');
SELECT is((SELECT (p::text, kpi.proportion_combine(p, p)::text, p::text)::text FROM (SELECT '1/2'::kpi.proportion p) s),
	'(1/2,2/4,1/2)', 'a direct call leaves its argument unchanged');
SELECT throws_ok($$SELECT kpi.proportion_combine('9223372036854775807/9223372036854775807', '0/1')$$, '22003',
	'proportion trials out of range', 'proportion_combine overflow is an error');
SELECT throws_ok($$SELECT kpi.proportion_retract('1/2', 2, 2)$$, '22023',
	'cannot remove hits 2 and trials 2 from proportion 1/2', 'proportion_retract cannot go below zero');
SELECT throws_ok($$SELECT kpi.proportion_uncombine('1/2', '0/2')$$, '22023',
	'cannot remove hits 0 and trials 2 from proportion 1/2', 'proportion_uncombine cannot leave hits above trials');
SELECT throws_ok($$SELECT kpi.proportion_retract('5/9', 4, 3)$$, '22023',
	'invalid proportion: hits 4 exceed trials 3', 'proportion_retract checks the row');

-- Parallel plans: Partial Aggregate + combine equal the serial answer -------------------------

CREATE TABLE par (g int, h bigint, t bigint);
INSERT INTO par
SELECT i % 7, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 37) % 11 END, 10 + i % 3
  FROM generate_series(1, 60000) i;
ANALYZE par;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		plan := plan || line || E'\n';
	END LOOP;
	RETURN plan;
END
$$;
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_total AS SELECT kpi.proportion_agg(h, t) p FROM par;
CREATE TEMP TABLE serial_groups AS SELECT g, kpi.proportion_agg(h, t) p FROM par GROUP BY g;
CREATE TEMP TABLE serial_merge AS SELECT kpi.proportion_agg(kpi.proportion(h, t)) p FROM par;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL parallel_leader_participation = off;
SELECT matches(pg_temp.plan_of('SELECT kpi.proportion_agg(h, t) FROM par'), 'Partial Aggregate',
	'the forced plan has a Partial Aggregate');
SELECT matches(pg_temp.plan_of('SELECT kpi.proportion_agg(h, t) FROM par'), 'Finalize Aggregate',
	'the forced plan has a Finalize Aggregate (combinefunc)');
SELECT is((SELECT kpi.proportion_agg(h, t) FROM par), (SELECT p FROM serial_total), 'parallel total = serial total');
SELECT is((SELECT kpi.proportion_agg(h, t)::text FROM par),
	(SELECT sum(h) || '/' || sum(t) FROM par WHERE h IS NOT NULL), 'parallel total = sum(h)/sum(t)');
SELECT matches(pg_temp.plan_of('SELECT g, kpi.proportion_agg(h, t) FROM par GROUP BY g'), 'Partial',
	'the grouped forced plan is partial too');
SELECT is((SELECT count(*)::int FROM (SELECT g, kpi.proportion_agg(h, t) p FROM par GROUP BY g) x
			JOIN serial_groups s USING (g) WHERE x.p = s.p), 7, 'parallel groups = serial groups');
SELECT matches(pg_temp.plan_of('SELECT kpi.proportion_agg(kpi.proportion(h, t)) FROM par'), 'Partial Aggregate',
	'proportion_agg(p) also runs as a partial aggregate');
SELECT is((SELECT kpi.proportion_agg(kpi.proportion(h, t)) FROM par), (SELECT p FROM serial_merge),
	'parallel proportion_agg(p) = serial');
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- Rolling windows: the inverse gives exactly what recomputing every window gives ---------------

-- Sparse daily rows with gaps (some agents skip days, some rows carry NULLs).
CREATE TEMP TABLE daily (g int, day date, h bigint, t bigint);
INSERT INTO daily
SELECT g, date '2025-01-01' + d, CASE WHEN (g + d) % 13 = 0 THEN NULL ELSE (g * d * 7) % 5 END, 5 + (g + d) % 4
  FROM generate_series(1, 4) g, generate_series(0, 119) d
 WHERE (g * 31 + d * 17) % 7 <> 0 AND NOT (g = 2 AND d BETWEEN 40 AND 75);
-- Agent 4 has nothing after day 60 but its own late rows at day 100+.
DELETE FROM daily WHERE g = 4 AND day BETWEEN date '2025-01-01' + 61 AND date '2025-01-01' + 99;

CREATE TEMP TABLE roll AS
SELECT g, day, kpi.proportion_agg(h, t) OVER (PARTITION BY g ORDER BY day
										RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW) p
  FROM daily;
CREATE TEMP TABLE recomputed AS
SELECT d.g, d.day,
	   (SELECT kpi.proportion(coalesce(sum(x.h), 0)::bigint, coalesce(sum(x.t), 0)::bigint) FROM daily x
		 WHERE x.g = d.g AND x.day BETWEEN d.day - 27 AND d.day AND x.h IS NOT NULL AND x.t IS NOT NULL) p
  FROM daily d;
SELECT cmp_ok((SELECT count(*)::int FROM roll), '>', 300, 'the sparse series has a few hundred rows');
SELECT is((SELECT count(*)::int FROM roll r JOIN recomputed c USING (g, day) WHERE r.p = c.p),
	(SELECT count(*)::int FROM daily), 'RANGE 27 days PRECEDING: every window equals its recomputation');
SELECT is((SELECT count(*)::int FROM roll r JOIN recomputed c USING (g, day)
			WHERE kpi.rate(r.p) IS NOT DISTINCT FROM kpi.rate(c.p)
			  AND kpi.wilson_lower(r.p) IS NOT DISTINCT FROM kpi.wilson_lower(c.p)),
	(SELECT count(*)::int FROM daily), 'and so do its rate and Wilson bound');

-- A dense calendar (every agent, every day), as the rolling views use: days without data and
-- windows that hold no data at all give 0/0, whose rate is NULL.
CREATE TEMP TABLE dense AS
SELECT c.g, c.day, d.h, d.t
  FROM (SELECT g, date '2025-01-01' + d AS day FROM generate_series(1, 4) g, generate_series(0, 139) d) c
  LEFT JOIN daily d USING (g, day);
CREATE TEMP TABLE dense_roll AS
SELECT g, day, kpi.proportion_agg(h, t) OVER w p,
	   kpi.proportion_agg(kpi.proportion(h, t)) OVER w pm,
	   sum(h) FILTER (WHERE t IS NOT NULL) OVER w sh,
	   sum(t) FILTER (WHERE h IS NOT NULL) OVER w st
  FROM dense
WINDOW w AS (PARTITION BY g ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW);
SELECT is((SELECT count(*)::int FROM dense_roll), 560, 'the dense series has 4 x 140 rows');
SELECT is((SELECT count(*)::int FROM dense_roll
			WHERE kpi.hits(p) = coalesce(sh, 0) AND kpi.trials(p) = coalesce(st, 0)), 560,
	'dense: every window equals sum(h)/sum(t) over the same frame');
SELECT is((SELECT count(*)::int FROM dense_roll WHERE p = pm), 560,
	'dense: proportion_agg(p) over the frame equals proportion_agg(h, t)');
SELECT is((SELECT count(*)::int FROM dense_roll r WHERE r.p = (
			SELECT kpi.proportion(coalesce(sum(x.h), 0)::bigint, coalesce(sum(x.t), 0)::bigint) FROM daily x
			 WHERE x.g = r.g AND x.day BETWEEN r.day - 27 AND r.day AND x.h IS NOT NULL AND x.t IS NOT NULL)),
	560, 'dense: every window equals its recomputation');
SELECT cmp_ok((SELECT count(*)::int FROM dense_roll WHERE p = '0/0'), '>=', 20,
	'dense: windows without data exist (agent 4 after its gap, days after the data ends)');
SELECT is((SELECT count(*)::int FROM dense_roll WHERE p = '0/0' AND kpi.rate(p) IS NULL
			AND kpi.wilson_lower(p) IS NULL AND kpi.wilson_upper(p) IS NULL),
	(SELECT count(*)::int FROM dense_roll WHERE p = '0/0'), 'dense: an empty window has NULL rate and bounds');
SELECT is((SELECT p::text FROM dense_roll WHERE g = 4 AND day = date '2025-01-01' + 95), '0/0',
	'agent 4, day 95 (28 days without rows) is 0/0');

SELECT is((SELECT count(*)::int FROM (
			SELECT kpi.proportion_agg(h, t) OVER w28 p28, kpi.proportion_agg(h, t) OVER w7 p7,
				   sum(h) FILTER (WHERE t IS NOT NULL) OVER w28 h28, sum(t) FILTER (WHERE h IS NOT NULL) OVER w28 t28,
				   sum(h) FILTER (WHERE t IS NOT NULL) OVER w7 h7, sum(t) FILTER (WHERE h IS NOT NULL) OVER w7 t7
			  FROM dense
			WINDOW w28 AS (PARTITION BY g ORDER BY day RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW),
				   w7 AS (PARTITION BY g ORDER BY day RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW)) s
			WHERE kpi.hits(p28) = coalesce(h28, 0) AND kpi.trials(p28) = coalesce(t28, 0)
			  AND kpi.hits(p7) = coalesce(h7, 0) AND kpi.trials(p7) = coalesce(t7, 0)),
	560, 'a 28-day and a 7-day window in one query each equal their sums');

-- ROWS frames that can be empty, and a frame that moves both ends.
SELECT is((SELECT string_agg(p::text, ' ' ORDER BY d) FROM (
			SELECT d, kpi.proportion_agg(h, t) OVER (ORDER BY d ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) p
			  FROM (VALUES (1, 1, 2), (2, 3, 4), (3, 0, 5), (4, 2, 2), (5, 1, 1)) v(d, h, t)) s),
	'0/0 1/2 4/6 3/9 2/7', 'ROWS 2 PRECEDING .. 1 PRECEDING, hand-computed (empty first frame is 0/0)');
SELECT is((SELECT string_agg(p::text, ' ' ORDER BY d) FROM (
			SELECT d, kpi.proportion_agg(h, t) OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) p
			  FROM (VALUES (1, 1, 2), (2, 3, 4), (3, 0, 5), (4, 2, 2), (5, 1, 1), (6, NULL, 9)) v(d, h, t)) s),
	'4/6 4/11 5/11 3/8 3/3 1/1', 'ROWS 1 PRECEDING .. 1 FOLLOWING, hand-computed, a NULL row skipped');
SELECT is((SELECT string_agg(p::text, ' ' ORDER BY d) FROM (
			SELECT d, kpi.proportion_agg(h, t) OVER (ORDER BY d RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) p
			  FROM (VALUES (1, 1, 2), (1, 1, 1), (2, 3, 4), (4, 0, 5)) v(d, h, t)) s),
	'2/3 2/3 5/7 0/5', 'RANGE with ties and a gap, hand-computed');
SELECT throws_ok($$SELECT kpi.proportion_agg(h, t) OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
					 FROM (VALUES (1, 9223372036854775807, 9223372036854775807), (2, 1, 1)) v(d, h, t)$$,
	'22003', 'proportion trials out of range', 'a window whose sum passes bigint is an error');
SELECT is((SELECT string_agg(p::text, ' ' ORDER BY d) FROM (
			SELECT d, kpi.proportion_agg(h, t) OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) p
			  FROM (VALUES (1, 9223372036854775807, 9223372036854775807), (2, 0, 0), (3, 1, 1)) v(d, h, t)) s),
	'9223372036854775807/9223372036854775807 9223372036854775807/9223372036854775807 1/1',
	'a huge row leaves the frame before the next is added: no false overflow');

SELECT * FROM finish();
ROLLBACK;
