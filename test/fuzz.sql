-- A short, deterministic fuzz run of every C input path through the real server: mutated text
-- of kpi.sketch, kpi.business_hours and kpi.proportion, mutated binary input of the same three
-- types (through COPY ... (FORMAT binary), which calls their receive functions), and mutated
-- bytes of serialized kpi.reply_turns states. Every input is either refused with a
-- data-exception SQLSTATE (class 22, never an internal error) or accepted and then round-trips
-- to the same canonical form; the server never crashes (the plan completes).
-- `make fuzz` is the long run: it sets kpi_fuzz.scale (a multiplier of every iteration count,
-- 1 here) and kpi_fuzz.seed (another sequence of mutations).
BEGIN;
CREATE EXTENSION kpi;
SELECT plan(19);
SELECT setseed(coalesce(nullif(current_setting('kpi_fuzz.seed', true), ''), '0.4242')::float8);
CREATE FUNCTION pg_temp.iterations(base int) RETURNS int LANGUAGE sql AS
$$ SELECT base * coalesce(nullif(current_setting('kpi_fuzz.scale', true), ''), '1')::int $$;

CREATE TEMP TABLE fuzz (kind text, input text, accepted boolean, sqlstate text, message text,
						canonical boolean);

-- Apply k random edits: delete, insert, replace, truncate, repeat a fragment, or insert digits.
CREATE FUNCTION pg_temp.mutate(s text, k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	alphabet text := '0123456789-+.,;:=_eEvVnNbsumaxiMoTuWFShtzrd/ ' || chr(9) || 'é∞';
	pos int;
	c text;
BEGIN
	FOR i IN 1..k LOOP
		pos := 1 + floor(random() * greatest(length(s), 1))::int;
		c := substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1);
		CASE floor(random() * 6)::int
			WHEN 0 THEN s := overlay(s PLACING '' FROM pos FOR 1);
			WHEN 1 THEN s := overlay(s PLACING c FROM pos FOR 0);
			WHEN 2 THEN s := overlay(s PLACING c FROM pos FOR 1);
			WHEN 3 THEN s := left(s, pos - 1);
			WHEN 4 THEN s := s || substr(s, pos, 1 + floor(random() * 12)::int);
			ELSE s := overlay(s PLACING repeat('9', 1 + floor(random() * 25)::int) FROM pos FOR 0);
		END CASE;
	END LOOP;
	RETURN s;
END
$$;

-- Cast mutated seeds to the type; record the outcome, and for accepted ones whether the output
-- parses back to the same text.
CREATE FUNCTION pg_temp.fuzz_text(kind text, typ text, seeds text[], iterations int)
	RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s text;
	out1 text;
	out2 text;
	st text;
	msg text;
BEGIN
	FOR i IN 1..iterations LOOP
		s := pg_temp.mutate(seeds[1 + floor(random() * cardinality(seeds))::int],
							1 + floor(random() * 3)::int);
		BEGIN
			EXECUTE format('SELECT $1::%s::text', typ) INTO out1 USING s;
			EXECUTE format('SELECT $1::%s::text', typ) INTO out2 USING out1;
			INSERT INTO fuzz VALUES (kind, s, true, NULL, NULL, out1 = out2);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			INSERT INTO fuzz VALUES (kind, s, false, st, msg, NULL);
		END;
	END LOOP;
END
$$;

SELECT pg_temp.fuzz_text('sketch', 'kpi.sketch', ARRAY(
	SELECT kpi.sketch_agg(v)::text FROM (VALUES
		(1, 0.0), (2, 0.25), (2, 17.5), (2, 3600), (3, 1e-7), (3, 2.5e-4), (3, 86400 * 400.0)) x(g, v)
	 GROUP BY g
	UNION ALL
	SELECT kpi.sketch_agg(exp(ln(12) + sin(i) * 2))::text FROM generate_series(1, 300) i), pg_temp.iterations(3000));
SELECT pg_temp.fuzz_text('business_hours', 'kpi.business_hours', ARRAY[
	'Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07',
	'Mon-Fri 09:00-12:00 13:00-18:00; tz=America/New_York',
	'Fri-Mon 22:00-06:00; holidays=2026-12-25, 2027-01-01',
	'mon,wed,fri 24h; tz=Europe/Paris',
	'Sun 00:00-24:00',
	'closed; tz=UTC'], pg_temp.iterations(3000));
SELECT pg_temp.fuzz_text('proportion', 'kpi.proportion', ARRAY[
	'3/10', '0/0', ' 5 / 7 ', '9223372036854775807/9223372036854775807', '1/3'], pg_temp.iterations(2000));

SELECT cmp_ok((SELECT count(*) FROM fuzz WHERE kind = 'sketch' AND NOT accepted), '>', 1000::bigint,
	'sketch: most mutations are refused...');
SELECT cmp_ok((SELECT count(*) FROM fuzz WHERE kind = 'sketch' AND accepted), '>', 10::bigint,
	'...and some still parse');
SELECT is((SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ') FROM fuzz
			WHERE kind = 'sketch' AND NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'sketch: every refusal is a data exception (class 22)');
SELECT is((SELECT count(*) FROM fuzz WHERE kind = 'sketch' AND accepted AND NOT canonical), 0::bigint,
	'sketch: every accepted text round-trips');
SELECT cmp_ok((SELECT count(*) FROM fuzz WHERE kind = 'business_hours' AND NOT accepted), '>', 1000::bigint,
	'business_hours: most mutations are refused...');
SELECT cmp_ok((SELECT count(*) FROM fuzz WHERE kind = 'business_hours' AND accepted), '>', 100::bigint,
	'...and many still parse');
SELECT is((SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ') FROM fuzz
			WHERE kind = 'business_hours' AND NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'business_hours: every refusal is a data exception (class 22)');
SELECT is((SELECT count(*) FROM fuzz WHERE kind = 'business_hours' AND accepted AND NOT canonical), 0::bigint,
	'business_hours: every accepted text round-trips to its canonical form');
SELECT is((SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ') FROM fuzz
			WHERE kind = 'proportion' AND NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'proportion: every refusal is a data exception (class 22)');
SELECT ok((SELECT count(*) FILTER (WHERE accepted) > 50 AND count(*) FILTER (WHERE NOT accepted) > 500
			 AND count(*) FILTER (WHERE accepted AND NOT canonical) = 0
			 FROM fuzz WHERE kind = 'proportion'),
	'proportion: both paths exercised, accepted texts round-trip');

-- Binary input: real values' send bytes, mutated (byte flips, truncation, extension, and
-- 1, 2, 4 or 8 bytes overwritten with an edge value: 0, -1, the type's maximum, NaN, infinity),
-- written to a file with COPY from a bytea column and read back into a column of the type,
-- which runs its receive function on exactly those bytes. Each COPY is its own attempt.
CREATE TEMP TABLE recv_bytes (b bytea);
CREATE TEMP TABLE binary_fuzz (kind text, input bytea, accepted boolean, sqlstate text, message text,
							   canonical boolean);
CREATE FUNCTION pg_temp.mutate_bytes(b bytea, k int) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	pos int;
	edge bytea;
BEGIN
	FOR i IN 1..k LOOP
		pos := floor(random() * greatest(length(b), 1))::int;
		CASE floor(random() * 5)::int
			WHEN 0 THEN
				IF length(b) > 0 THEN
					b := set_byte(b, pos, floor(random() * 256)::int);
				END IF;
			WHEN 1 THEN b := substr(b, 1, pos);
			WHEN 2 THEN b := b || substr(b, 1 + pos, 1 + floor(random() * 16)::int);
			ELSE
				edge := (ARRAY[int2send(0::int2), int2send(-1::int2), int2send(32767::int2),
							   int4send(0), int4send(-1), int4send(2147483647), int4send(100000),
							   int8send(0), int8send(-1), int8send(9223372036854775807),
							   float8send('NaN'), float8send('Infinity'), float8send(-0.0),
							   float8send(1e300), '\x00'::bytea, '\xff'::bytea, '\x02'::bytea]
						)[1 + floor(random() * 17)::int];
				b := overlay(b PLACING edge FROM 1 + pos FOR length(edge));
		END CASE;
	END LOOP;
	RETURN b;
END
$$;
CREATE FUNCTION pg_temp.fuzz_binary(kind text, typ text, seeds bytea[], iterations int)
	RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	path text := current_setting('data_directory') || '/kpi_fuzz_' || kind || '.bin';
	b bytea;
	out1 text;
	out2 text;
	st text;
	msg text;
BEGIN
	EXECUTE format('CREATE TEMP TABLE recv_value (v %s)', typ);
	FOR i IN 1..iterations LOOP
		b := pg_temp.mutate_bytes(seeds[1 + floor(random() * cardinality(seeds))::int],
								  1 + floor(random() * 3)::int);
		TRUNCATE recv_bytes;
		INSERT INTO recv_bytes VALUES (b);
		EXECUTE format('COPY recv_bytes TO %L (FORMAT binary)', path);
		BEGIN
			TRUNCATE recv_value;
			EXECUTE format('COPY recv_value FROM %L (FORMAT binary)', path);
			SELECT v::text INTO out1 FROM recv_value;
			EXECUTE format('SELECT $1::%s::text', typ) INTO out2 USING out1;
			INSERT INTO binary_fuzz VALUES (kind, b, true, NULL, NULL, out1 = out2);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			INSERT INTO binary_fuzz VALUES (kind, b, false, st, msg, NULL);
		END;
	END LOOP;
	DROP TABLE recv_value;
END
$$;
SELECT pg_temp.fuzz_binary('sketch', 'kpi.sketch', ARRAY(
	SELECT kpi.sketch_send(kpi.sketch_agg(v)) FROM (VALUES
		(1, 0.0), (2, 0.25), (2, 17.5), (2, 3600), (3, 1e-7), (3, 86400 * 400.0)) x(g, v)
	 GROUP BY g
	UNION ALL
	SELECT kpi.sketch_send(kpi.sketch_agg(exp(ln(12) + sin(i) * 2))) FROM generate_series(1, 300) i),
	pg_temp.iterations(800));
SELECT pg_temp.fuzz_binary('business_hours', 'kpi.business_hours', ARRAY[
	kpi.business_hours_send('Mon-Fri 09:00-18:00, Sat 10:00-14:00; tz=Asia/Shanghai; holidays=2026-10-01..2026-10-07'),
	kpi.business_hours_send('Fri-Mon 22:00-06:00; holidays=2026-12-25, 2027-01-01'),
	kpi.business_hours_send('mon,wed,fri 24h; tz=Europe/Paris'),
	kpi.business_hours_send('closed; tz=UTC')], pg_temp.iterations(800));
SELECT pg_temp.fuzz_binary('proportion', 'kpi.proportion', ARRAY[
	kpi.proportion_send('3/10'), kpi.proportion_send('0/0'),
	kpi.proportion_send('9223372036854775807/9223372036854775807')], pg_temp.iterations(400));

SELECT ok((SELECT bool_and(refused > iterations / 4) FROM (
			SELECT count(*) FILTER (WHERE NOT accepted) AS refused, count(*) AS iterations
			  FROM binary_fuzz GROUP BY kind) x)
		  AND (SELECT count(DISTINCT kind) FROM binary_fuzz) = 3,
	'binary input: every type refuses many of its mutated values');
SELECT ok((SELECT count(*) FILTER (WHERE accepted) > 0 FROM binary_fuzz WHERE kind = 'sketch')
		  AND (SELECT count(*) FILTER (WHERE accepted) > 0 FROM binary_fuzz WHERE kind = 'business_hours'),
	'binary input: some mutated sketches and calendars are still valid and accepted');
SELECT is((SELECT string_agg(DISTINCT kind || ': ' || sqlstate || ' ' || message, '; ') FROM binary_fuzz
			WHERE kind = 'sketch' AND NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'binary sketch: every refusal is a data exception (class 22)');
SELECT is((SELECT string_agg(DISTINCT kind || ': ' || sqlstate || ' ' || message, '; ') FROM binary_fuzz
			WHERE kind = 'business_hours' AND NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'binary business_hours: every refusal is a data exception (class 22)');
SELECT is((SELECT string_agg(DISTINCT kind || ': ' || sqlstate || ' ' || message, '; ') FROM binary_fuzz
			WHERE kind = 'proportion' AND NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'binary proportion: every refusal is a data exception (class 22)');
SELECT is((SELECT count(*) FROM binary_fuzz WHERE accepted AND NOT canonical), 0::bigint,
	'binary input: every accepted value''s text parses back to the same value');

-- Serialized reply_turns states (what parallel workers exchange): real states of random
-- conversations, then random byte flips, truncations and extensions.
CREATE TEMP TABLE states AS
SELECT c, '\x01'::bytea || int8send(count(*)) ||
		  string_agg(timestamptz_send(timestamptz '2026-11-01' + m * interval '7 seconds')
					 || int8send(c * 100 + m) || int4send(CASE WHEN s = 1 THEN 7 ELSE 0 END)
					 || set_byte('\x00'::bytea, 0, s) || set_byte('\x00'::bytea, 0, (s <> 1)::int),
					 '' ORDER BY m) AS good
  FROM (SELECT c, m, floor(random() * 4)::int AS s
		  FROM generate_series(1, 40) c, generate_series(1, 1 + (c % 9)) m) x
 GROUP BY c;
CREATE TEMP TABLE decoded (accepted boolean, sqlstate text, message text);
DO $$
DECLARE
	b bytea;
	st text;
	msg text;
	pos int;
BEGIN
	FOR i IN 1..pg_temp.iterations(3000) LOOP
		SELECT good INTO b FROM states ORDER BY random() LIMIT 1;
		pos := floor(random() * length(b))::int;
		CASE floor(random() * 4)::int
			WHEN 0 THEN b := set_byte(b, pos, floor(random() * 256)::int);
			WHEN 1 THEN b := substr(b, 1, pos);
			WHEN 2 THEN b := b || substr(b, 10, 1 + floor(random() * 30)::int);
			ELSE b := set_byte(set_byte(b, pos, floor(random() * 256)::int),
							   floor(random() * length(b))::int, 255);
		END CASE;
		BEGIN
			PERFORM kpi.reply_turns_decode(b);
			INSERT INTO decoded VALUES (true, NULL, NULL);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			INSERT INTO decoded VALUES (false, st, msg);
		END;
	END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM states s
			WHERE kpi.reply_turns_decode(s.good) IS DISTINCT FROM (
				SELECT kpi.reply_turns(c * 100 + m, timestamptz '2026-11-01' + m * interval '7 seconds',
									   (ARRAY['customer', 'agent', 'auto', 'system']::kpi.sender[])[get_byte(s.good, 9 + 22 * (m - 1) + 20) + 1],
									   CASE WHEN get_byte(s.good, 9 + 22 * (m - 1) + 20) = 1 THEN 7 END)
				  FROM generate_series(1, (length(s.good) - 9) / 22) m)), 0::bigint,
	'unmutated states decode to the turns of the same messages');
SELECT ok((SELECT count(*) FILTER (WHERE NOT accepted) > 1000 AND count(*) FILTER (WHERE accepted) > 100
			 FROM decoded), 'turns states: both refusals and survivable mutations (timestamps, ids) occur');
SELECT is((SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ') FROM decoded
			WHERE NOT accepted AND left(sqlstate, 2) <> '22'), NULL,
	'turns states: every refusal is a data exception (class 22)');

SELECT * FROM finish();
ROLLBACK;
