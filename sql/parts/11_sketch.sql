-- The latency sketch (SPEC 4.2, src/sketch.c): a log-bucketed histogram of durations with a
-- guaranteed relative error on quantiles (kpi.error, 0.99 %) and exact count, sum, min and max.
--
-- Two steps, as in Timescale Toolkit: build sketches with kpi.sketch_agg (float8 seconds or
-- interval), merge them with kpi.rollup (also in sliding windows: it has an exact inverse), then
-- read them with the accessors.  The state type of both aggregates is kpi.sketch itself, whose
-- text form round-trips exactly, so a distributed planner can combine partial sketches.

CREATE TYPE kpi.sketch;

CREATE FUNCTION kpi.sketch_in(cstring) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_in(cstring) IS
	'kpi.sketch text input: v1;n=<count>;sum_ns=<integer>;min=<s>;max=<s>;b=<bucket>:<count>,... (every field checked)';

CREATE FUNCTION kpi.sketch_out(kpi.sketch) RETURNS cstring
	AS 'MODULE_PATHNAME', 'kpi_sketch_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_out(kpi.sketch) IS
	'kpi.sketch text output; kpi.sketch_in reads it back exactly';

CREATE FUNCTION kpi.sketch_recv(internal) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_recv(internal) IS
	'kpi.sketch binary input (COPY BINARY, binary protocol); every byte checked';

CREATE FUNCTION kpi.sketch_send(kpi.sketch) RETURNS bytea
	AS 'MODULE_PATHNAME', 'kpi_sketch_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_send(kpi.sketch) IS
	'kpi.sketch binary output: version byte, n, sum, min, max, then (bucket, count) pairs';

CREATE TYPE kpi.sketch (
	INPUT = kpi.sketch_in,
	OUTPUT = kpi.sketch_out,
	RECEIVE = kpi.sketch_recv,
	SEND = kpi.sketch_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE kpi.sketch IS
	'latency sketch: log-bucketed durations (seconds) with quantiles within 0.99 % and exact count, sum, min, max';

-- Aggregate support ---------------------------------------------------------------------------

CREATE FUNCTION kpi.sketch_add(state kpi.sketch, seconds float8) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_add'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_add(kpi.sketch, float8) IS
	'transition of kpi.sketch_agg(float8): adds a duration in seconds; a NULL duration is skipped';

CREATE FUNCTION kpi.sketch_add(state kpi.sketch, duration interval) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_add_interval'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_add(kpi.sketch, interval) IS
	'transition of kpi.sketch_agg(interval): adds a duration (as extract(epoch from ...)); NULL is skipped';

CREATE FUNCTION kpi.sketch_merge(state kpi.sketch, other kpi.sketch) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_merge'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_merge(kpi.sketch, kpi.sketch) IS
	'merges two sketches (bucket-wise sum): transition of kpi.rollup, combine function of both aggregates';

CREATE FUNCTION kpi.sketch_final(state kpi.sketch) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_final(kpi.sketch) IS
	'final function of kpi.sketch_agg and kpi.rollup: the canonical (compact, deterministic) form';

CREATE FUNCTION kpi.sketch_window_add(state internal, other kpi.sketch) RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_sketch_window_add'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_window_add(internal, kpi.sketch) IS
	'moving-aggregate transition of kpi.rollup (sliding window frames)';

CREATE FUNCTION kpi.sketch_window_remove(state internal, other kpi.sketch) RETURNS internal
	AS 'MODULE_PATHNAME', 'kpi_sketch_window_remove'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_window_remove(internal, kpi.sketch) IS
	'inverse transition of kpi.rollup: removes the oldest sketch of the frame exactly (never gives up)';

CREATE FUNCTION kpi.sketch_window_final(state internal) RETURNS kpi.sketch
	AS 'MODULE_PATHNAME', 'kpi_sketch_window_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.sketch_window_final(internal) IS
	'final function of kpi.rollup in a sliding window: the frame''s sketch, NULL for an empty frame';

-- Aggregates ----------------------------------------------------------------------------------

CREATE AGGREGATE kpi.sketch_agg(seconds float8) (
	SFUNC = kpi.sketch_add,
	STYPE = kpi.sketch,
	FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.sketch_agg(float8) IS
	'latency sketch of durations in seconds; NULLs are ignored, an empty group gives NULL';

CREATE AGGREGATE kpi.sketch_agg(duration interval) (
	SFUNC = kpi.sketch_add,
	STYPE = kpi.sketch,
	FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.sketch_agg(interval) IS
	'latency sketch of intervals (as extract(epoch from ...) seconds); NULLs are ignored, an empty group gives NULL';

CREATE AGGREGATE kpi.rollup(kpi.sketch) (
	SFUNC = kpi.sketch_merge,
	STYPE = kpi.sketch,
	FINALFUNC = kpi.sketch_final,
	COMBINEFUNC = kpi.sketch_merge,
	MSFUNC = kpi.sketch_window_add,
	MINVFUNC = kpi.sketch_window_remove,
	MSTYPE = internal,
	MSSPACE = 18000,
	MFINALFUNC = kpi.sketch_window_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE kpi.rollup(kpi.sketch) IS
	'merges sketches; in a sliding window frame each step adds and removes one row exactly';

-- Accessors -----------------------------------------------------------------------------------

CREATE FUNCTION kpi.approx_percentile(q float8, sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_approx_percentile'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.approx_percentile(float8, kpi.sketch) IS
	'nearest-rank quantile q (0..1) in seconds, like percentile_disc, within kpi.error relative; q = 0 and 1 give min and max exactly';

CREATE FUNCTION kpi.approx_percentiles(q float8[], sketch kpi.sketch) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'kpi_sketch_approx_percentiles'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.approx_percentiles(float8[], kpi.sketch) IS
	'approx_percentile for each element of q, in one pass; NULL elements give NULL';

CREATE FUNCTION kpi.share_within(sketch kpi.sketch, seconds float8) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_share_within'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.share_within(kpi.sketch, float8) IS
	'share (0..1) of values <= seconds; the bucket holding the threshold counts as within, so values up to 2 % above it may be included';

CREATE FUNCTION kpi.num_vals(sketch kpi.sketch) RETURNS bigint
	AS 'MODULE_PATHNAME', 'kpi_sketch_num_vals'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.num_vals(kpi.sketch) IS 'number of values in the sketch (exact)';

CREATE FUNCTION kpi.mean(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_mean'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.mean(kpi.sketch) IS
	'mean in seconds: the exact nanosecond sum over the count, correctly rounded';

CREATE FUNCTION kpi.min_val(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_min_val'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.min_val(kpi.sketch) IS 'smallest value in seconds (exact)';

CREATE FUNCTION kpi.max_val(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_max_val'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.max_val(kpi.sketch) IS 'largest value in seconds (exact)';

CREATE FUNCTION kpi.error(sketch kpi.sketch) RETURNS float8
	AS 'MODULE_PATHNAME', 'kpi_sketch_error'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION kpi.error(kpi.sketch) IS
	'relative error bound of the sketch''s quantiles (0.0099018 for format v1)';
