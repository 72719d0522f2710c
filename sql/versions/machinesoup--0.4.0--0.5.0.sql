-- machinesoup 0.4.0 -> 0.5.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.5.0'" to load this file. \quit

-- Every object of the extension has a description, so that psql's \dT+,
-- \df+, \do+, \dC+, \dA+, \dt+ and \dy+ explain it: those added here, and
-- the ones of 0.4.0 that now say who may call a function or that a table
-- is not for direct access.  The same COMMENTs stand next to each object
-- in the install fragments (src/<subsystem>/<subsystem>.sql).

-- vec
COMMENT ON FUNCTION vec_in(cstring, oid, integer) IS 'vec input function: text [x1,x2,...], finite float32 values';
COMMENT ON FUNCTION vec_out(vec) IS 'vec output function: text [x1,x2,...], shortest digits that read back the same float32';
COMMENT ON FUNCTION vec_typmod_in(cstring[]) IS 'vec type modifier input: the n of vec(n), 1 to 16000';
COMMENT ON FUNCTION vec_typmod_out(integer) IS 'vec type modifier output: (n)';
COMMENT ON FUNCTION vec_recv(internal, oid, integer) IS 'vec binary input: int16 dim, int16 0, dim float4, network byte order';
COMMENT ON FUNCTION vec_send(vec) IS 'vec binary output: int16 dim, int16 0, dim float4, network byte order';
COMMENT ON FUNCTION vec_typanalyze(internal) IS 'vec ANALYZE function: per-dimension histograms (a joint grid up to 3 dimensions) for vecs of up to 16 dimensions, from which vec <@ vbox is estimated';
COMMENT ON FUNCTION vec(vec, integer, boolean) IS 'cast to vec(n): checks that the vec has n dimensions';
COMMENT ON FUNCTION array_to_vec(real[], integer, boolean) IS 'cast real[] to vec: one-dimensional, non-empty, no NULLs, finite values';
COMMENT ON FUNCTION array_to_vec(double precision[], integer, boolean) IS 'cast double precision[] to vec: one-dimensional, non-empty, no NULLs, finite values that fit float4';
COMMENT ON FUNCTION array_to_vec(integer[], integer, boolean) IS 'cast integer[] to vec: one-dimensional, non-empty, no NULLs';
COMMENT ON FUNCTION array_to_vec(numeric[], integer, boolean) IS 'cast numeric[] to vec: one-dimensional, non-empty, no NULLs, finite values that fit float4';
COMMENT ON FUNCTION vec_to_real_array(vec, integer, boolean) IS 'cast vec to real[]';
COMMENT ON CAST (vec AS vec) IS 'implicit: to vec(n), checking the number of dimensions';
COMMENT ON CAST (real[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec';
COMMENT ON CAST (double precision[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec (values must fit float4)';
COMMENT ON CAST (integer[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec';
COMMENT ON CAST (numeric[] AS vec) IS 'assignment: a one-dimensional array without NULLs to a vec (values must fit float4)';
COMMENT ON CAST (vec AS real[]) IS 'assignment: a vec to an array of its elements';
COMMENT ON FUNCTION vec_dims(vec) IS 'number of dimensions';
COMMENT ON FUNCTION vec_norm(vec) IS 'Euclidean (L2) norm';
COMMENT ON FUNCTION l2_normalize(vec) IS 'the unit vector of the same direction (a zero vector stays zero)';
COMMENT ON FUNCTION subvec(vec, integer, integer) IS 'count elements from the 1-based start, clipped like substring';
COMMENT ON FUNCTION l2_distance(vec, vec) IS 'Euclidean (L2) distance, as the operator <->';
COMMENT ON FUNCTION vec_l2_squared_distance(vec, vec) IS 'squared Euclidean distance';
COMMENT ON FUNCTION inner_product(vec, vec) IS 'inner (dot) product';
COMMENT ON FUNCTION vec_negative_inner_product(vec, vec) IS 'negative inner product, as the operator <#>';
COMMENT ON FUNCTION cosine_distance(vec, vec) IS '1 - cos θ, in [0, 2]; NaN when either vector is zero; as the operator <=>';
COMMENT ON FUNCTION l1_distance(vec, vec) IS 'Manhattan (L1) distance, as the operator <+>';
COMMENT ON FUNCTION vec_add(vec, vec) IS 'element-wise sum, as the operator +';
COMMENT ON FUNCTION vec_sub(vec, vec) IS 'element-wise difference, as the operator -';
COMMENT ON FUNCTION vec_mul(vec, vec) IS 'element-wise product, as the operator *';
COMMENT ON FUNCTION vec_concat(vec, vec) IS 'concatenation (at most 16000 dimensions), as the operator ||';
COMMENT ON OPERATOR <-> (vec, vec) IS 'L2 (Euclidean) distance; ORDER BY it can use a GiST, SP-GiST or msivf vec_l2_ops index';
COMMENT ON OPERATOR <#> (vec, vec) IS 'negative inner product (smaller is more similar); ORDER BY it can use an msivf vec_ip_ops index';
COMMENT ON OPERATOR <=> (vec, vec) IS 'cosine distance, 1 - cos θ; ORDER BY it can use an msivf vec_cosine_ops index';
COMMENT ON OPERATOR <+> (vec, vec) IS 'L1 (Manhattan) distance; ORDER BY it can use a GiST or SP-GiST index';
COMMENT ON OPERATOR + (vec, vec) IS 'element-wise sum (overflow is an error)';
COMMENT ON OPERATOR - (vec, vec) IS 'element-wise difference (overflow is an error)';
COMMENT ON OPERATOR * (vec, vec) IS 'element-wise product (overflow is an error)';
COMMENT ON OPERATOR || (vec, vec) IS 'concatenation (at most 16000 dimensions)';
COMMENT ON FUNCTION vec_lt(vec, vec) IS 'true when a < b in element-wise lexicographic order, then length; the operator <';
COMMENT ON FUNCTION vec_le(vec, vec) IS 'true when a <= b in element-wise lexicographic order, then length; the operator <=';
COMMENT ON FUNCTION vec_eq(vec, vec) IS 'true when a and b have the same elements (-0 equals 0); the operator =';
COMMENT ON FUNCTION vec_ne(vec, vec) IS 'true when a and b differ; the operator <>';
COMMENT ON FUNCTION vec_ge(vec, vec) IS 'true when a >= b in element-wise lexicographic order, then length; the operator >=';
COMMENT ON FUNCTION vec_gt(vec, vec) IS 'true when a > b in element-wise lexicographic order, then length; the operator >';
COMMENT ON FUNCTION vec_cmp(vec, vec) IS 'btree comparison of vec_ops: -1, 0 or 1 in element-wise lexicographic order, then length';
COMMENT ON FUNCTION vec_hash(vec) IS 'hash of a vec for vec_hash_ops (-0 and 0 hash alike)';
COMMENT ON FUNCTION vec_hash_extended(vec, bigint) IS '64-bit seeded hash of a vec for vec_hash_ops';
COMMENT ON OPERATOR < (vec, vec) IS 'less than, in element-wise lexicographic order, then length';
COMMENT ON OPERATOR <= (vec, vec) IS 'less than or equal, in element-wise lexicographic order, then length';
COMMENT ON OPERATOR = (vec, vec) IS 'equal: the same elements (-0 equals 0)';
COMMENT ON OPERATOR <> (vec, vec) IS 'not equal';
COMMENT ON OPERATOR >= (vec, vec) IS 'greater than or equal, in element-wise lexicographic order, then length';
COMMENT ON OPERATOR > (vec, vec) IS 'greater than, in element-wise lexicographic order, then length';
COMMENT ON OPERATOR CLASS vec_ops USING btree IS 'default btree opclass of vec: ORDER BY, DISTINCT, GROUP BY, unique indexes, merge joins';
COMMENT ON OPERATOR FAMILY vec_ops USING btree IS 'btree operator family of vec_ops';
COMMENT ON OPERATOR CLASS vec_hash_ops USING hash IS 'default hash opclass of vec: hash joins, hash aggregation, hash indexes';
COMMENT ON OPERATOR FAMILY vec_hash_ops USING hash IS 'hash operator family of vec_hash_ops';
COMMENT ON AGGREGATE sum(vec) IS 'element-wise sum, accumulated in double precision; skips NULLs, NULL for no rows, refuses mixed dimensions';
COMMENT ON AGGREGATE avg(vec) IS 'element-wise mean, accumulated in double precision; skips NULLs, NULL for no rows, refuses mixed dimensions';

-- spatial
COMMENT ON FUNCTION vbox_in(cstring) IS 'vbox input function: text ([lo],[hi]), reversed bounds swapped';
COMMENT ON FUNCTION vbox_out(vbox) IS 'vbox output function: text ([lo],[hi])';
COMMENT ON FUNCTION vbox_recv(internal) IS 'vbox binary input: int16 dim, int16 0, dim float4 lo, dim float4 hi';
COMMENT ON FUNCTION vbox_send(vbox) IS 'vbox binary output: int16 dim, int16 0, dim float4 lo, dim float4 hi';
COMMENT ON FUNCTION vbox_lo(vbox) IS 'the low corner of the box';
COMMENT ON FUNCTION vbox_hi(vbox) IS 'the high corner of the box';
COMMENT ON FUNCTION vbox_dims(vbox) IS 'number of dimensions of the box';
COMMENT ON FUNCTION vec_contained_in_vbox(vec, vbox) IS 'vec inside the box, bounds inclusive, as the operator <@';
COMMENT ON FUNCTION vbox_contains_vec(vbox, vec) IS 'box contains the vec, bounds inclusive, as the operator @>';
COMMENT ON FUNCTION vbox_overlaps(vbox, vbox) IS 'boxes share a point, as the operator &&';
COMMENT ON FUNCTION vbox_contains(vbox, vbox) IS 'first box contains the second, as the operator @>';
COMMENT ON FUNCTION vbox_contained(vbox, vbox) IS 'first box inside the second, as the operator <@';
COMMENT ON FUNCTION vbox_eq(vbox, vbox) IS 'same bounds, as the operator =';
COMMENT ON FUNCTION vbox_ne(vbox, vbox) IS 'different bounds, as the operator <>';
COMMENT ON FUNCTION vec_contained_in_vbox_sel(internal, oid, internal, integer) IS 'selectivity of vec <@ vbox and vbox @> vec from the column''s ANALYZE statistics (0.1 % without them)';
COMMENT ON OPERATOR <@ (vec, vbox) IS 'vec inside the box, bounds inclusive; can use a GiST or SP-GiST index';
COMMENT ON OPERATOR @> (vbox, vec) IS 'box contains the vec, bounds inclusive; can use a GiST or SP-GiST index';
COMMENT ON OPERATOR && (vbox, vbox) IS 'boxes overlap (share a point)';
COMMENT ON OPERATOR @> (vbox, vbox) IS 'first box contains the second';
COMMENT ON OPERATOR <@ (vbox, vbox) IS 'first box inside the second';
COMMENT ON OPERATOR = (vbox, vbox) IS 'same bounds';
COMMENT ON OPERATOR <> (vbox, vbox) IS 'different bounds';
COMMENT ON FUNCTION vec_dwithin_box(vec, double precision) IS 'internal: the box vec_dwithin() searches, vbox(b, r) widened by the float32 rounding of <->';
COMMENT ON FUNCTION vec_gistkey_in(cstring) IS 'vec_gistkey input: always an error, the key type is never read back';
COMMENT ON FUNCTION vec_gistkey_out(vec_gistkey) IS 'vec_gistkey output, written like a vbox';
COMMENT ON FUNCTION vec_gist_consistent(internal, vbox, smallint, oid, internal) IS 'GiST support 1 of vec_gist_ops, consistent: may the entry hold a vec inside the query box (exact for a leaf)';
COMMENT ON FUNCTION vec_gist_union(internal, internal) IS 'GiST support 2 of vec_gist_ops, union: the bounding box of keys';
COMMENT ON FUNCTION vec_gist_compress(internal) IS 'GiST support 3 of vec_gist_ops, compress: a leaf vec becomes a point key (at most 252 dimensions)';
COMMENT ON FUNCTION vec_gist_penalty(internal, internal, internal) IS 'GiST support 5 of vec_gist_ops, penalty: growth of a box to take a key';
COMMENT ON FUNCTION vec_gist_picksplit(internal, internal) IS 'GiST support 6 of vec_gist_ops, picksplit: R*-style split of a full page';
COMMENT ON FUNCTION vec_gist_same(vec_gistkey, vec_gistkey, internal) IS 'GiST support 7 of vec_gist_ops, same: equal keys';
COMMENT ON FUNCTION vec_gist_distance(internal, vec, smallint, oid, internal) IS 'GiST support 8 of vec_gist_ops, distance: exact <-> or <+> for a leaf, a lower bound for a box';
COMMENT ON FUNCTION vec_gist_fetch(internal) IS 'GiST support 9 of vec_gist_ops, fetch: the vec of a leaf key, for index-only scans';
COMMENT ON FUNCTION vec_gist_sortsupport(internal) IS 'GiST support 11 of vec_gist_ops, sortsupport: Hilbert order of the points for sorted builds';
COMMENT ON OPERATOR CLASS vec_gist_ops USING gist IS 'default GiST opclass of vec: exact R-tree for <@ vbox, vec_dwithin and ORDER BY <-> or <+>, up to 252 dimensions';
COMMENT ON OPERATOR FAMILY vec_gist_ops USING gist IS 'GiST operator family of vec_gist_ops';
COMMENT ON FUNCTION vec_spgist_config(internal, internal) IS 'SP-GiST support 1 of vec_spgist_ops, config';
COMMENT ON FUNCTION vec_spgist_choose(internal, internal) IS 'SP-GiST support 2 of vec_spgist_ops, choose: the child a vec descends to';
COMMENT ON FUNCTION vec_spgist_picksplit(internal, internal) IS 'SP-GiST support 3 of vec_spgist_ops, picksplit: splits at the median of the widest dimension';
COMMENT ON FUNCTION vec_spgist_inner_consistent(internal, internal) IS 'SP-GiST support 4 of vec_spgist_ops, inner_consistent: the children that may hold matches, with distance lower bounds for ORDER BY';
COMMENT ON FUNCTION vec_spgist_leaf_consistent(internal, internal) IS 'SP-GiST support 5 of vec_spgist_ops, leaf_consistent: exact test and distance of a vec';
COMMENT ON OPERATOR CLASS vec_spgist_ops USING spgist IS 'default SP-GiST opclass of vec: exact k-d tree for <@ vbox, vec_dwithin and ORDER BY <-> or <+>';
COMMENT ON OPERATOR FAMILY vec_spgist_ops USING spgist IS 'SP-GiST operator family of vec_spgist_ops';

-- msivf
COMMENT ON FUNCTION msivf_handler(internal) IS 'msivf index access method handler';
COMMENT ON FUNCTION msivf_l2_metric(internal) IS 'msivf support 1 of vec_l2_ops: the metric it indexes (L2)';
COMMENT ON FUNCTION msivf_ip_metric(internal) IS 'msivf support 1 of vec_ip_ops: the metric it indexes (inner product)';
COMMENT ON FUNCTION msivf_cosine_metric(internal) IS 'msivf support 1 of vec_cosine_ops: the metric it indexes (cosine)';
COMMENT ON OPERATOR CLASS vec_l2_ops USING msivf IS 'msivf opclass for ORDER BY <-> (L2 distance) ... LIMIT k';
COMMENT ON OPERATOR FAMILY vec_l2_ops USING msivf IS 'msivf operator family of vec_l2_ops';
COMMENT ON OPERATOR CLASS vec_ip_ops USING msivf IS 'msivf opclass for ORDER BY <#> (negative inner product) ... LIMIT k';
COMMENT ON OPERATOR FAMILY vec_ip_ops USING msivf IS 'msivf operator family of vec_ip_ops';
COMMENT ON OPERATOR CLASS vec_cosine_ops USING msivf IS 'msivf opclass for ORDER BY <=> (cosine distance) ... LIMIT k; zero vectors are not indexed';
COMMENT ON OPERATOR FAMILY vec_cosine_ops USING msivf IS 'msivf operator family of vec_cosine_ops';

-- governance
COMMENT ON FUNCTION ms._caller() IS 'internal: the role whose code called the current ms entry point (GetUserId() at entry)';
COMMENT ON FUNCTION ms._caller_name() IS 'internal: the name of the role ms._caller() returns';
COMMENT ON FUNCTION ms._role_is_privileged(oid) IS 'internal: ms._is_privileged() of the given role';
COMMENT ON FUNCTION ms._processor_digest(regprocedure) IS 'internal: digest of a function''s definition (body, owner, language, settings, signature), pinned when it is approved as a processor';
COMMENT ON FUNCTION ms._is_privileged() IS 'internal: true when the caller is a superuser or has the privileges of the extension owner (the owner of schema ms)';
COMMENT ON FUNCTION ms._check_ident(text, text) IS 'internal: raises 22023 unless value matches ^[a-z0-9][a-z0-9._-]{0,62}$ (22004 when NULL)';
COMMENT ON TABLE ms.orgs IS 'organisations (tenants) and their processor roles; internal, not for direct access: use the ms functions';
COMMENT ON TABLE ms.models IS 'models: dimension, distance metric and default label; internal, not for direct access: use the ms functions';
COMMENT ON SEQUENCE ms.versions_version_id_seq IS 'internal: ids of ms.versions (the partition of version N is ms.points_N)';
COMMENT ON TABLE ms.versions IS 'model versions, one per label, and their processors; points in ms.points_<version_id>; internal, not for direct access: use the ms functions';
COMMENT ON SEQUENCE ms.promotions_promotion_id_seq IS 'internal: ids of ms.promotions';
COMMENT ON TABLE ms.promotions IS 'append-only history of default-label changes (who, when, from, to); internal, not for direct access: written by ms.promote and ms.rollback';
COMMENT ON TABLE ms.grants IS 'who may do what, per org and optionally per model and label; internal, not for direct access: use ms.grant and ms.revoke';
COMMENT ON TABLE ms.points IS 'model store: points of every version, one partition per version; internal, not for direct access: load with ms.upsert_points or ms.ingest, query with ms.knn, ms.within or ms.in_box';
COMMENT ON FUNCTION ms._append_only() IS 'internal: trigger keeping ms.promotions append-only (UPDATE, DELETE and TRUNCATE refused to all but superusers)';
COMMENT ON FUNCTION ms._governance_changed() IS 'internal: trigger telling every backend, on commit, that its cached authorisation answers may be stale';
COMMENT ON FUNCTION ms._access(oid, boolean, text, text, text, text) IS 'internal: what a role may do with a model and label (visible, all_labels, allowed) and the version resolved; where grants are interpreted';
COMMENT ON FUNCTION ms._resolve(text, text, text, text, boolean, text) IS 'internal: resolve org, model and label for an action; raises 42501 unless the caller may perform it';
COMMENT ON FUNCTION ms._authorise(text, text, text, text, text) IS 'internal: ms._resolve of a version, answered from the backend''s authorisation cache (for ms.ingest)';
COMMENT ON FUNCTION ms._may_administer(text) IS 'internal: whether the caller holds admin on the org or is privileged';
COMMENT ON FUNCTION ms._is_builtin_processor(regprocedure) IS 'internal: whether the processor is NULL, ms.proc_csv or ms.proc_float32 (trusted C, run without the sandbox)';
COMMENT ON FUNCTION ms._processor_role(text) IS 'internal: the role the org''s user processors run as (random name, no login), created on first need';
COMMENT ON FUNCTION ms._check_processor(regprocedure, text, text, text) IS 'internal: approve a processor for a version (signature, EXECUTE, not SECURITY DEFINER, owner holds stage); returns the digest to pin';
COMMENT ON FUNCTION ms._create_version_index(bigint) IS 'internal: create the index of a version''s partition (GiST up to 64 dims, msivf above); false when that access method is missing';
COMMENT ON FUNCTION ms._version_index_min_rows() IS 'internal: points a version above 64 dims holds before its msivf index is built';
COMMENT ON FUNCTION ms._index_if_grown(bigint) IS 'internal: build a version''s msivf index once its partition holds ms._version_index_min_rows() points';
COMMENT ON FUNCTION ms._create_model(text, text, integer, text) IS 'internal: the body of ms.create_model, run as the extension owner by it';
COMMENT ON FUNCTION ms._create_version(text, text, text, regprocedure) IS 'internal: the body of ms.create_version, run as the extension owner by it';
COMMENT ON FUNCTION ms._set_processor(text, text, text, regprocedure) IS 'internal: the body of ms.set_processor, run as the extension owner by it';
COMMENT ON FUNCTION ms.__processor_drop_guard() IS 'internal: the body of ms._processor_drop_guard, run as the extension owner by it';
COMMENT ON FUNCTION ms._processor_drop_guard() IS 'internal: function of the event trigger machinesoup_processor_drop_guard';
COMMENT ON EVENT TRIGGER machinesoup_processor_drop_guard IS 'refuses to drop a function that is the processor of a model version (2BP01): set another with ms.set_processor first';
COMMENT ON FUNCTION ms._default_label(text, text) IS 'internal: the body of ms.default_label, run as the extension owner by it';
COMMENT ON FUNCTION ms.default_label(text, text) IS 'the label NULL-label queries of the model resolve to, NULL when none (needs any grant on the model)';
COMMENT ON FUNCTION ms._promote(text, text, text) IS 'internal: the body of ms.promote, run as the extension owner by it';
COMMENT ON FUNCTION ms._rollback(text, text) IS 'internal: the body of ms.rollback, run as the extension owner by it';
COMMENT ON FUNCTION ms._check_grant_args(regrole, text, text, text, text, text) IS 'internal: argument and admin checks of ms.grant and ms.revoke';
COMMENT ON FUNCTION ms._grant(regrole, text, text, text, text) IS 'internal: the body of ms.grant, run as the extension owner by it';
COMMENT ON FUNCTION ms._revoke(regrole, text, text, text, text) IS 'internal: the body of ms.revoke, run as the extension owner by it';
COMMENT ON FUNCTION ms.revoke(regrole, text, text, text, text) IS 'revoke a grant made with ms.grant, same arguments (needs admin on the org)';
COMMENT ON FUNCTION ms._upsert_points(text, text, text, bigint[], @extschema@.vec[], jsonb[]) IS 'internal: the body of ms.upsert_points, run as the extension owner by it';
COMMENT ON FUNCTION ms._reindex_version(text, text, text) IS 'internal: the body of ms.reindex_version, run as the extension owner by it';

-- audit
COMMENT ON TABLE ms.audit_log IS 'append-only, hash-chained record of raw-data access and governance actions, written by the audit writer only; read it with ms.access_report';
COMMENT ON FUNCTION ms._audit_log_guard() IS 'internal: trigger on ms.audit_log: INSERT by the audit writer only, UPDATE, DELETE and TRUNCATE by superusers only';
COMMENT ON FUNCTION ms._audit(text, text, text, text, bigint, text) IS 'internal: write an audit record through the audit writer; returns its id once committed';
COMMENT ON FUNCTION ms.verify_audit() IS 'recompute the audit log hash chain and check it reaches its recorded head; first_bad is the first row that does not match (EXECUTE is not granted to PUBLIC)';
COMMENT ON FUNCTION ms.verify_audit(bigint, bytea) IS 'verify_audit(), and that row since_id still has expected_hash, a head kept from ms.access_report (EXECUTE is not granted to PUBLIC)';
COMMENT ON FUNCTION ms._audit_begin_epoch() IS 'internal: run by the update to 0.4.0, records the head of the unkeyed audit chain (superuser only)';
COMMENT ON FUNCTION ms._audit_new_log() IS 'internal: run by the install script, starts a new audit chain and sets aside the head of a dropped log';

-- raw
COMMENT ON SEQUENCE ms.raw_batches_batch_id_seq IS 'internal: ids of ms.raw_batches (what ms.ingest returns)';
COMMENT ON TABLE ms.raw_batches IS 'raw data batches as LZ4 frames, keyed by (org, model, received_at); internal, not for direct access: use ms.ingest, ms.batches and ms.read_batch';
COMMENT ON FUNCTION ms._lz4_encode(bytea) IS 'internal: a raw batch as an LZ4 frame with block and content checksums';
COMMENT ON FUNCTION ms._lz4_decode(bytea, bigint, bigint) IS 'internal: the raw bytes of a batch''s LZ4 frame, checked (XX001 when corrupt)';
COMMENT ON FUNCTION ms._run_processor(regprocedure, bytea, integer, text, bytea, regrole) IS 'internal: run a processor on one batch (user code sandboxed as run_as, only with its pinned digest) and check its rows against the model';
COMMENT ON FUNCTION ms._insert_points(text, bigint, regprocedure, integer, text, bytea, bytea, regrole) IS 'internal: run a processor on one batch and insert its rows into the version''s partition; NULL when INSERT ... SELECT must do it';
COMMENT ON FUNCTION ms._process_batch(text, bigint, regprocedure, integer, text, bytea, bytea) IS 'internal: feed one decoded batch through a version''s processor into its points; returns how many';
COMMENT ON FUNCTION ms._require_raw_network() IS 'internal: raises unless machinesoup.raw_access_networks admits the client';
COMMENT ON FUNCTION ms._ingest(text, text, bytea, text) IS 'internal: the body of ms.ingest, run as the extension owner by it';
COMMENT ON FUNCTION ms._batches(text, text, timestamptz, timestamptz) IS 'internal: the body of ms.batches, run as the extension owner by it';
COMMENT ON FUNCTION ms._replay(text, text, text, timestamptz, timestamptz, text) IS 'internal: the body of ms.replay, run as the extension owner by it';
COMMENT ON FUNCTION ms._require_raw_read(text, text, text) IS 'internal: raises unless the caller may read the raw batches of the label (of every label when NULL)';
COMMENT ON FUNCTION ms._access_report(text, timestamptz, timestamptz) IS 'internal: the body of ms.access_report, run as the extension owner by it';
COMMENT ON FUNCTION ms._called_from(text) IS 'internal: whether one of the given API bodies is on the call stack (audit triggers skip rows a restore writes)';
COMMENT ON FUNCTION ms._audit_promotion() IS 'internal: trigger auditing the promotions and rollbacks made by ms.promote and ms.rollback';
COMMENT ON FUNCTION ms._audit_grant() IS 'internal: trigger auditing the grants and revokes made by ms.grant and ms.revoke';

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

-- the new support functions of sum(vec) and avg(vec)
COMMENT ON FUNCTION vec_accum(double precision[], vec) IS 'transition function of sum(vec) and avg(vec): adds a vec to the count and double precision sums';
COMMENT ON FUNCTION vec_accum_combine(double precision[], double precision[]) IS 'combine function of sum(vec) and avg(vec): adds two partial states (parallel and Citus aggregation)';
COMMENT ON FUNCTION vec_accum_sum(double precision[]) IS 'final function of sum(vec)';
COMMENT ON FUNCTION vec_accum_avg(double precision[]) IS 'final function of avg(vec)';
