-- kpi.proportion (SPEC 4.3): hits among trials, its rate and Wilson interval, and the
-- aggregate kpi.proportion_agg with combine and exact inverse functions for rolling windows.
-- The C side and the choice of a fixed 16-byte value are explained in src/proportion.c.

CREATE TYPE kpi.proportion;

CREATE FUNCTION kpi.proportion_in(cstring) RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_in(cstring) IS
	'text input of kpi.proportion: hits/trials, e.g. ''3/10''';

CREATE FUNCTION kpi.proportion_out(kpi.proportion) RETURNS cstring
	AS 'MODULE_PATHNAME', 'kpi_proportion_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_out(kpi.proportion) IS
	'text output of kpi.proportion: hits/trials';

CREATE FUNCTION kpi.proportion_recv(internal) RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_recv(internal) IS
	'binary input of kpi.proportion: hits and trials as big-endian bigints, validated';

CREATE FUNCTION kpi.proportion_send(kpi.proportion) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_proportion_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_send(kpi.proportion) IS
	'binary output of kpi.proportion: hits and trials as big-endian bigints';

CREATE TYPE kpi.proportion (
	INPUT = kpi.proportion_in,
	OUTPUT = kpi.proportion_out,
	RECEIVE = kpi.proportion_recv,
	SEND = kpi.proportion_send,
	INTERNALLENGTH = 16,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE kpi.proportion IS
	'hits among trials (0 <= hits <= trials), written hits/trials; see kpi.rate, kpi.wilson_lower, kpi.wilson_upper';

-- Constructor and accessors ------------------------------------------------------------------

CREATE FUNCTION kpi.proportion(hits bigint, trials bigint) RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_make'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion(bigint, bigint) IS
	'the proportion hits/trials; an error unless 0 <= hits <= trials';

CREATE FUNCTION kpi.hits(p kpi.proportion) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_proportion_hits'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.hits(kpi.proportion) IS 'the hits (numerator) of a proportion';

CREATE FUNCTION kpi.trials(p kpi.proportion) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_proportion_trials'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.trials(kpi.proportion) IS 'the trials (denominator) of a proportion';

CREATE FUNCTION kpi.rate(p kpi.proportion) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_proportion_rate'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.rate(kpi.proportion) IS
	'hits / trials as float8; NULL when trials = 0';

CREATE FUNCTION kpi.wilson_lower(p kpi.proportion) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_proportion_wilson_lower'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.wilson_lower(kpi.proportion) IS
	'lower end of the Wilson score interval (z = 1.96); 0 when hits = 0; NULL when trials = 0';

CREATE FUNCTION kpi.wilson_upper(p kpi.proportion) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_proportion_wilson_upper'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.wilson_upper(kpi.proportion) IS
	'upper end of the Wilson score interval (z = 1.96); 1 when hits = trials; NULL when trials = 0';

-- Equality -----------------------------------------------------------------------------------
-- Two proportions are equal when both counts are (1/2 <> 2/4: same rate, different evidence).
-- A hash class makes DISTINCT, GROUP BY, UNION and hash joins work. There is deliberately no
-- btree class: neither pair order nor rate order is obviously right; ORDER BY kpi.rate(p).
-- The two operators live in pg_catalog, as a built-in type's would: `p = q`, IS DISTINCT FROM,
-- NULLIF and IN then work whatever the search_path (reports never put kpi on it), and no schema
-- earlier on a search_path can shadow them. Their argument types are kpi's own, so they cannot
-- collide with anything, and DROP EXTENSION removes them.

CREATE FUNCTION kpi.proportion_eq(kpi.proportion, kpi.proportion) RETURNS boolean
	AS 'MODULE_PATHNAME', 'kpi_proportion_eq'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION kpi.proportion_eq(kpi.proportion, kpi.proportion) IS
	'true when both hits and trials are equal (support of =)';

CREATE FUNCTION kpi.proportion_ne(kpi.proportion, kpi.proportion) RETURNS boolean
	AS 'MODULE_PATHNAME', 'kpi_proportion_ne'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION kpi.proportion_ne(kpi.proportion, kpi.proportion) IS
	'true when hits or trials differ (support of <>)';

CREATE FUNCTION kpi.proportion_hash(kpi.proportion) RETURNS integer
	AS 'MODULE_PATHNAME', 'kpi_proportion_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_hash(kpi.proportion) IS
	'hash of a proportion (hash operator class support)';

CREATE FUNCTION kpi.proportion_hash_extended(kpi.proportion, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_proportion_hash_extended'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_hash_extended(kpi.proportion, bigint) IS
	'seeded 64-bit hash of a proportion (hash operator class support)';

CREATE OPERATOR pg_catalog.= (
	LEFTARG = kpi.proportion,
	RIGHTARG = kpi.proportion,
	FUNCTION = kpi.proportion_eq,
	COMMUTATOR = OPERATOR(pg_catalog.=),
	NEGATOR = OPERATOR(pg_catalog.<>),
	RESTRICT = eqsel,
	JOIN = eqjoinsel,
	HASHES
);
COMMENT ON OPERATOR pg_catalog.= (kpi.proportion, kpi.proportion) IS 'equal hits and equal trials';

CREATE OPERATOR pg_catalog.<> (
	LEFTARG = kpi.proportion,
	RIGHTARG = kpi.proportion,
	FUNCTION = kpi.proportion_ne,
	COMMUTATOR = OPERATOR(pg_catalog.<>),
	NEGATOR = OPERATOR(pg_catalog.=),
	RESTRICT = neqsel,
	JOIN = neqjoinsel
);
COMMENT ON OPERATOR pg_catalog.<> (kpi.proportion, kpi.proportion) IS 'different hits or different trials';

CREATE OPERATOR CLASS kpi.proportion_hash_ops
	DEFAULT FOR TYPE kpi.proportion USING hash AS
		OPERATOR 1 pg_catalog.= (kpi.proportion, kpi.proportion),
		FUNCTION 1 kpi.proportion_hash(kpi.proportion),
		FUNCTION 2 kpi.proportion_hash_extended(kpi.proportion, bigint);
COMMENT ON OPERATOR CLASS kpi.proportion_hash_ops USING hash IS
	'equality of kpi.proportion for DISTINCT, GROUP BY and hash joins';

-- Aggregates ---------------------------------------------------------------------------------
-- State type kpi.proportion (not internal, SPEC 1), initial condition '0/0' and strict support
-- functions: a row with a NULL argument is skipped, an empty group or window gives 0/0, whose
-- rate and Wilson bounds are NULL. A sum beyond bigint is an error, never a wraparound.

CREATE FUNCTION kpi.proportion_accum(state kpi.proportion, hits bigint, trials bigint)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_accum'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_accum(kpi.proportion, bigint, bigint) IS
	'transition function of kpi.proportion_agg(bigint, bigint): adds one checked row';

CREATE FUNCTION kpi.proportion_retract(state kpi.proportion, hits bigint, trials bigint)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_retract'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_retract(kpi.proportion, bigint, bigint) IS
	'exact inverse of kpi.proportion_accum (moving-aggregate support): removes one row';

CREATE FUNCTION kpi.proportion_combine(state kpi.proportion, other kpi.proportion)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_combine'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_combine(kpi.proportion, kpi.proportion) IS
	'adds two proportions (hits + hits, trials + trials): combine function of kpi.proportion_agg';

CREATE FUNCTION kpi.proportion_uncombine(state kpi.proportion, other kpi.proportion)
	RETURNS kpi.proportion
	AS 'MODULE_PATHNAME', 'kpi_proportion_uncombine'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.proportion_uncombine(kpi.proportion, kpi.proportion) IS
	'exact inverse of kpi.proportion_combine (moving-aggregate support): subtracts a proportion';

CREATE AGGREGATE kpi.proportion_agg(hits bigint, trials bigint) (
	SFUNC = kpi.proportion_accum,
	STYPE = kpi.proportion,
	INITCOND = '0/0',
	COMBINEFUNC = kpi.proportion_combine,
	MSFUNC = kpi.proportion_accum,
	MINVFUNC = kpi.proportion_retract,
	MSTYPE = kpi.proportion,
	MINITCOND = '0/0',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.proportion_agg(bigint, bigint) IS
	'sum(hits)/sum(trials) as a kpi.proportion; rows with a NULL are skipped; no rows give 0/0; exact inverse for window frames';

CREATE AGGREGATE kpi.proportion_agg(kpi.proportion) (
	SFUNC = kpi.proportion_combine,
	STYPE = kpi.proportion,
	INITCOND = '0/0',
	COMBINEFUNC = kpi.proportion_combine,
	MSFUNC = kpi.proportion_combine,
	MINVFUNC = kpi.proportion_uncombine,
	MSTYPE = kpi.proportion,
	MINITCOND = '0/0',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.proportion_agg(kpi.proportion) IS
	'merges proportions (sums hits and trials); NULLs are skipped; no rows give 0/0; exact inverse for window frames';
