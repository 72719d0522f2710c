-- machinesoup 0.4.0 -> 0.5.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.5.0'" to load this file. \quit

-- sum(vec) and avg(vec) keep their state in a double precision[] instead
-- of internal, so that Citus can aggregate each shard on its worker and
-- combine the partial states on the coordinator (it ships a state in its
-- text form, which internal lacks).
CREATE FUNCTION vec_accum(double precision[], vec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_accum_combine(double precision[], double precision[])
	RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_accum_sum(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_accum_avg(double precision[]) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ALTER AGGREGATE cannot change a state type, and dropping the aggregates
-- would fail for every database with a view that uses them.  So the two
-- aggregates are repointed in place, with exactly what CREATE AGGREGATE
-- records for the definitions in vec.sql (test/t/060_upgrade.pl compares
-- the result with a fresh install, and keeps a view on them across the
-- update): their catalog row, and their dependencies on their support
-- functions.  Stored queries do not record a state type.
UPDATE pg_catalog.pg_aggregate
   SET aggtransfn = 'vec_accum(double precision[], vec)'::pg_catalog.regprocedure::pg_catalog.oid::pg_catalog.regproc,
	   aggfinalfn = (CASE aggfnoid::pg_catalog.oid
					 WHEN 'sum(vec)'::pg_catalog.regprocedure::pg_catalog.oid
					 THEN 'vec_accum_sum(double precision[])'::pg_catalog.regprocedure::pg_catalog.oid
					 ELSE 'vec_accum_avg(double precision[])'::pg_catalog.regprocedure::pg_catalog.oid
					 END)::pg_catalog.regproc,
	   aggcombinefn = 'vec_accum_combine(double precision[], double precision[])'::pg_catalog.regprocedure::pg_catalog.oid::pg_catalog.regproc,
	   aggserialfn = 0,
	   aggdeserialfn = 0,
	   aggtranstype = 'double precision[]'::pg_catalog.regtype
 WHERE aggfnoid::pg_catalog.oid IN ('sum(vec)'::pg_catalog.regprocedure::pg_catalog.oid,
									'avg(vec)'::pg_catalog.regprocedure::pg_catalog.oid);

DELETE FROM pg_catalog.pg_depend
 WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND objid IN ('sum(vec)'::pg_catalog.regprocedure::pg_catalog.oid,
				 'avg(vec)'::pg_catalog.regprocedure::pg_catalog.oid)
   AND refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND refobjid IN ('vec_agg_accum(internal, vec)'::pg_catalog.regprocedure::pg_catalog.oid,
					'vec_agg_combine(internal, internal)'::pg_catalog.regprocedure::pg_catalog.oid,
					'vec_agg_serialize(internal)'::pg_catalog.regprocedure::pg_catalog.oid,
					'vec_agg_deserialize(bytea, internal)'::pg_catalog.regprocedure::pg_catalog.oid,
					'vec_agg_sum_final(internal)'::pg_catalog.regprocedure::pg_catalog.oid,
					'vec_agg_avg_final(internal)'::pg_catalog.regprocedure::pg_catalog.oid);

INSERT INTO pg_catalog.pg_depend
SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, a.agg, 0,
	   'pg_catalog.pg_proc'::pg_catalog.regclass, f.fn, 0, 'n'
  FROM (VALUES ('sum(vec)'::pg_catalog.regprocedure::pg_catalog.oid,
				'vec_accum_sum(double precision[])'::pg_catalog.regprocedure::pg_catalog.oid),
			   ('avg(vec)'::pg_catalog.regprocedure::pg_catalog.oid,
				'vec_accum_avg(double precision[])'::pg_catalog.regprocedure::pg_catalog.oid)) a(agg, final),
	   LATERAL (VALUES ('vec_accum(double precision[], vec)'::pg_catalog.regprocedure::pg_catalog.oid),
					   (a.final),
					   ('vec_accum_combine(double precision[], double precision[])'::pg_catalog.regprocedure::pg_catalog.oid)) f(fn);

-- 0.4.0's support functions, no longer used (the library keeps them for
-- databases not yet updated)
DROP FUNCTION vec_agg_accum(internal, vec);
DROP FUNCTION vec_agg_combine(internal, internal);
DROP FUNCTION vec_agg_serialize(internal);
DROP FUNCTION vec_agg_deserialize(bytea, internal);
DROP FUNCTION vec_agg_sum_final(internal);
DROP FUNCTION vec_agg_avg_final(internal);
