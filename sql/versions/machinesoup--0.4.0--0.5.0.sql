-- machinesoup 0.4.0 -> 0.5.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.5.0'" to load this file. \quit

-- sum(vec) and avg(vec) keep their state in a double precision[] instead of
-- internal, so that Citus can aggregate each shard on its worker and
-- combine the partial states on the coordinator.  An aggregate's state
-- type cannot be altered: both are created anew (a view that uses one of
-- them must be dropped before the update and created again after it).
DROP AGGREGATE sum(vec);
DROP AGGREGATE avg(vec);
DROP FUNCTION vec_agg_accum(internal, vec);
DROP FUNCTION vec_agg_combine(internal, internal);
DROP FUNCTION vec_agg_serialize(internal);
DROP FUNCTION vec_agg_deserialize(bytea, internal);
DROP FUNCTION vec_agg_sum_final(internal);
DROP FUNCTION vec_agg_avg_final(internal);

CREATE FUNCTION vec_accum(double precision[], vec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_accum_combine(double precision[], double precision[])
	RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_accum_sum(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_accum_avg(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE sum(vec) (
	SFUNC = vec_accum,
	STYPE = double precision[],
	FINALFUNC = vec_accum_sum,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE avg(vec) (
	SFUNC = vec_accum,
	STYPE = double precision[],
	FINALFUNC = vec_accum_avg,
	COMBINEFUNC = vec_accum_combine,
	PARALLEL = SAFE
);
