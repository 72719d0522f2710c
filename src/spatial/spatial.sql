-- Spatial querying of vecs: the vbox type, vec_dwithin(), and the exact
-- GiST (R-tree) and SP-GiST (k-d tree) opclasses.

-- vbox: axis-aligned n-dimensional box, bounds inclusive, text ([lo],[hi])

CREATE TYPE vbox;

CREATE FUNCTION vbox_in(cstring) RETURNS vbox
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_in(cstring) IS 'vbox input function: text ([lo],[hi]), reversed bounds swapped';
CREATE FUNCTION vbox_out(vbox) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_out(vbox) IS 'vbox output function: text ([lo],[hi])';
CREATE FUNCTION vbox_recv(internal) RETURNS vbox
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_recv(internal) IS 'vbox binary input: int16 dim, int16 0, dim float4 lo, dim float4 hi';
CREATE FUNCTION vbox_send(vbox) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_send(vbox) IS 'vbox binary output: int16 dim, int16 0, dim float4 lo, dim float4 hi';

CREATE TYPE vbox (
	INPUT = vbox_in,
	OUTPUT = vbox_out,
	RECEIVE = vbox_recv,
	SEND = vbox_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = external
);

COMMENT ON TYPE vbox IS 'axis-aligned box of float32 bounds, ([lo],[hi]), bounds inclusive';

CREATE FUNCTION vbox(vec, vec) RETURNS vbox
	AS 'MODULE_PATHNAME', 'vbox_from_corners' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox(vec, vec) IS 'box with corners lo and hi; reversed bounds are swapped';
CREATE FUNCTION vbox(vec, double precision) RETURNS vbox
	AS 'MODULE_PATHNAME', 'vbox_from_center' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox(vec, double precision) IS 'cube [center - radius, center + radius] that bounds the ball, rounded outward';
CREATE FUNCTION vbox_lo(vbox) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_lo(vbox) IS 'the low corner of the box';
CREATE FUNCTION vbox_hi(vbox) RETURNS vec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_hi(vbox) IS 'the high corner of the box';
CREATE FUNCTION vbox_dims(vbox) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_dims(vbox) IS 'number of dimensions of the box';

CREATE FUNCTION vec_contained_in_vbox(vec, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_contained_in_vbox(vec, vbox) IS 'vec inside the box, bounds inclusive, as the operator <@';
CREATE FUNCTION vbox_contains_vec(vbox, vec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_contains_vec(vbox, vec) IS 'box contains the vec, bounds inclusive, as the operator @>';
CREATE FUNCTION vbox_overlaps(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_overlaps(vbox, vbox) IS 'boxes share a point, as the operator &&';
CREATE FUNCTION vbox_contains(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_contains(vbox, vbox) IS 'first box contains the second, as the operator @>';
CREATE FUNCTION vbox_contained(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_contained(vbox, vbox) IS 'first box inside the second, as the operator <@';
CREATE FUNCTION vbox_eq(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_eq(vbox, vbox) IS 'same bounds, as the operator =';
CREATE FUNCTION vbox_ne(vbox, vbox) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vbox_ne(vbox, vbox) IS 'different bounds, as the operator <>';

-- The share of rows in a constant box, from the column's ANALYZE stats
-- (vec_typanalyze); contsel's 0.1 % without them.
CREATE FUNCTION vec_contained_in_vbox_sel(internal, oid, internal, integer) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_contained_in_vbox_sel(internal, oid, internal, integer) IS 'selectivity of vec <@ vbox and vbox @> vec from the column''s ANALYZE statistics (0.1 % without them)';

CREATE OPERATOR <@ (
	LEFTARG = vec, RIGHTARG = vbox, FUNCTION = vec_contained_in_vbox,
	COMMUTATOR = '@>', RESTRICT = vec_contained_in_vbox_sel, JOIN = contjoinsel
);
COMMENT ON OPERATOR <@ (vec, vbox) IS 'vec inside the box, bounds inclusive; can use a GiST or SP-GiST index';
CREATE OPERATOR @> (
	LEFTARG = vbox, RIGHTARG = vec, FUNCTION = vbox_contains_vec,
	COMMUTATOR = '<@', RESTRICT = vec_contained_in_vbox_sel, JOIN = contjoinsel
);
COMMENT ON OPERATOR @> (vbox, vec) IS 'box contains the vec, bounds inclusive; can use a GiST or SP-GiST index';
CREATE OPERATOR && (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_overlaps,
	COMMUTATOR = '&&', RESTRICT = areasel, JOIN = areajoinsel
);
COMMENT ON OPERATOR && (vbox, vbox) IS 'boxes overlap (share a point)';
CREATE OPERATOR @> (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_contains,
	COMMUTATOR = '<@', RESTRICT = contsel, JOIN = contjoinsel
);
COMMENT ON OPERATOR @> (vbox, vbox) IS 'first box contains the second';
CREATE OPERATOR <@ (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_contained,
	COMMUTATOR = '@>', RESTRICT = contsel, JOIN = contjoinsel
);
COMMENT ON OPERATOR <@ (vbox, vbox) IS 'first box inside the second';
CREATE OPERATOR = (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_eq,
	COMMUTATOR = '=', NEGATOR = '<>', RESTRICT = eqsel, JOIN = eqjoinsel
);
COMMENT ON OPERATOR = (vbox, vbox) IS 'same bounds';
CREATE OPERATOR <> (
	LEFTARG = vbox, RIGHTARG = vbox, FUNCTION = vbox_ne,
	COMMUTATOR = '<>', NEGATOR = '=', RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR <> (vbox, vbox) IS 'different bounds';

-- vec_dwithin: a box prefilter an index can use, then the exact distance.
-- The box is vbox(b, r) widened by the float32 rounding of <-> so it never
-- drops a point the distance test would keep.  Kept a single SELECT of an
-- IMMUTABLE expression, and not STRICT (AND is not strict), so the planner
-- inlines it.

CREATE FUNCTION vec_dwithin_box(vec, double precision) RETURNS vbox
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_dwithin_box(vec, double precision) IS 'internal: the box vec_dwithin() searches, vbox(b, r) widened by the float32 rounding of <->';

CREATE FUNCTION vec_dwithin(vec, vec, double precision) RETURNS boolean
	AS 'SELECT $1 OPERATOR(@extschema@.<@) @extschema@.vec_dwithin_box($2, $3) AND $1 OPERATOR(@extschema@.<->) $2 <= $3'
	LANGUAGE sql IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION vec_dwithin(vec, vec, double precision) IS 'true when a <-> b <= r; uses a GiST or SP-GiST index on a';

-- GiST: R-tree (vec_gist_ops).  Keys are boxes stored plain so the index
-- reads them in place; leaf keys hold their point once.

CREATE TYPE vec_gistkey;
CREATE FUNCTION vec_gistkey_in(cstring) RETURNS vec_gistkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gistkey_in(cstring) IS 'vec_gistkey input: always an error, the key type is never read back';
CREATE FUNCTION vec_gistkey_out(vec_gistkey) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vbox_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gistkey_out(vec_gistkey) IS 'vec_gistkey output, written like a vbox';
CREATE TYPE vec_gistkey (
	INPUT = vec_gistkey_in,
	OUTPUT = vec_gistkey_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = plain
);
COMMENT ON TYPE vec_gistkey IS 'GiST key of vec_gist_ops (internal)';

CREATE FUNCTION vec_gist_consistent(internal, vbox, smallint, oid, internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_consistent(internal, vbox, smallint, oid, internal) IS 'GiST support 1 of vec_gist_ops, consistent: may the entry hold a vec inside the query box (exact for a leaf)';
CREATE FUNCTION vec_gist_union(internal, internal) RETURNS vec_gistkey
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_union(internal, internal) IS 'GiST support 2 of vec_gist_ops, union: the bounding box of keys';
CREATE FUNCTION vec_gist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_compress(internal) IS 'GiST support 3 of vec_gist_ops, compress: a leaf vec becomes a point key (at most 252 dimensions)';
CREATE FUNCTION vec_gist_penalty(internal, internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_penalty(internal, internal, internal) IS 'GiST support 5 of vec_gist_ops, penalty: growth of a box to take a key';
CREATE FUNCTION vec_gist_picksplit(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_picksplit(internal, internal) IS 'GiST support 6 of vec_gist_ops, picksplit: R*-style split of a full page';
CREATE FUNCTION vec_gist_same(vec_gistkey, vec_gistkey, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_same(vec_gistkey, vec_gistkey, internal) IS 'GiST support 7 of vec_gist_ops, same: equal keys';
CREATE FUNCTION vec_gist_distance(internal, vec, smallint, oid, internal) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_distance(internal, vec, smallint, oid, internal) IS 'GiST support 8 of vec_gist_ops, distance: exact <-> or <+> for a leaf, a lower bound for a box';
CREATE FUNCTION vec_gist_fetch(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_fetch(internal) IS 'GiST support 9 of vec_gist_ops, fetch: the vec of a leaf key, for index-only scans';
CREATE FUNCTION vec_gist_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_gist_sortsupport(internal) IS 'GiST support 11 of vec_gist_ops, sortsupport: Hilbert order of the points for sorted builds';

-- Strategies: 8 = vec <@ vbox; 15 = ORDER BY <->; 16 = ORDER BY <+>.
CREATE OPERATOR CLASS vec_gist_ops
	DEFAULT FOR TYPE vec USING gist AS
	OPERATOR 8 <@ (vec, vbox),
	OPERATOR 15 <-> (vec, vec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 vec_gist_consistent(internal, vbox, smallint, oid, internal),
	FUNCTION 2 vec_gist_union(internal, internal),
	FUNCTION 3 vec_gist_compress(internal),
	FUNCTION 5 vec_gist_penalty(internal, internal, internal),
	FUNCTION 6 vec_gist_picksplit(internal, internal),
	FUNCTION 7 vec_gist_same(vec_gistkey, vec_gistkey, internal),
	FUNCTION 8 vec_gist_distance(internal, vec, smallint, oid, internal),
	FUNCTION 9 vec_gist_fetch(internal),
	STORAGE vec_gistkey;
COMMENT ON OPERATOR CLASS vec_gist_ops USING gist IS 'default GiST opclass of vec: exact R-tree for <@ vbox, vec_dwithin and ORDER BY <-> or <+>, up to 252 dimensions';
COMMENT ON OPERATOR FAMILY vec_gist_ops USING gist IS 'GiST operator family of vec_gist_ops';

-- Sorted builds (support function 11) exist from PostgreSQL 14 on.
DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 140000 THEN
		ALTER OPERATOR FAMILY vec_gist_ops USING gist
			ADD FUNCTION 11 (vec, vec) vec_gist_sortsupport(internal);
	END IF;
END $$;

-- SP-GiST: k-d tree (vec_spgist_ops), same strategy numbers.

CREATE FUNCTION vec_spgist_config(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_spgist_config(internal, internal) IS 'SP-GiST support 1 of vec_spgist_ops, config';
CREATE FUNCTION vec_spgist_choose(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_spgist_choose(internal, internal) IS 'SP-GiST support 2 of vec_spgist_ops, choose: the child a vec descends to';
CREATE FUNCTION vec_spgist_picksplit(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_spgist_picksplit(internal, internal) IS 'SP-GiST support 3 of vec_spgist_ops, picksplit: splits at the median of the widest dimension';
CREATE FUNCTION vec_spgist_inner_consistent(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_spgist_inner_consistent(internal, internal) IS 'SP-GiST support 4 of vec_spgist_ops, inner_consistent: the children that may hold matches, with distance lower bounds for ORDER BY';
CREATE FUNCTION vec_spgist_leaf_consistent(internal, internal) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec_spgist_leaf_consistent(internal, internal) IS 'SP-GiST support 5 of vec_spgist_ops, leaf_consistent: exact test and distance of a vec';

CREATE OPERATOR CLASS vec_spgist_ops
	DEFAULT FOR TYPE vec USING spgist AS
	OPERATOR 8 <@ (vec, vbox),
	OPERATOR 15 <-> (vec, vec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (vec, vec) FOR ORDER BY float_ops,
	FUNCTION 1 vec_spgist_config(internal, internal),
	FUNCTION 2 vec_spgist_choose(internal, internal),
	FUNCTION 3 vec_spgist_picksplit(internal, internal),
	FUNCTION 4 vec_spgist_inner_consistent(internal, internal),
	FUNCTION 5 vec_spgist_leaf_consistent(internal, internal);
COMMENT ON OPERATOR CLASS vec_spgist_ops USING spgist IS 'default SP-GiST opclass of vec: exact k-d tree for <@ vbox, vec_dwithin and ORDER BY <-> or <+>';
COMMENT ON OPERATOR FAMILY vec_spgist_ops USING spgist IS 'SP-GiST operator family of vec_spgist_ops';

-- hvec: GiST and SP-GiST for ORDER BY <-> and <+> (src/spatial/hvec_spatial.c).
-- The vec opclasses' code on the hvec's float values: keys and leaves are
-- the floats, so the order is exactly that of the hvec operators.
CREATE FUNCTION hvec_gist_distance(internal, hvec, smallint, oid, internal) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_gist_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_gist_distance(internal, hvec, smallint, oid, internal) IS 'GiST support 8 of hvec_gist_ops, distance: exact <-> or <+> for a leaf, a lower bound for a box';
CREATE FUNCTION hvec_gist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'vec_gist_compress' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_gist_compress(internal) IS 'GiST support 3 of hvec_gist_ops, compress: a leaf hvec becomes the point of its float values (at most 252 dimensions)';

-- Strategies as vec_gist_ops: 15 = ORDER BY <->; 16 = ORDER BY <+>.
CREATE OPERATOR CLASS hvec_gist_ops
	DEFAULT FOR TYPE hvec USING gist AS
	OPERATOR 15 <-> (hvec, hvec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 vec_gist_consistent(internal, vbox, smallint, oid, internal),
	FUNCTION 2 vec_gist_union(internal, internal),
	FUNCTION 3 hvec_gist_compress(internal),
	FUNCTION 5 vec_gist_penalty(internal, internal, internal),
	FUNCTION 6 vec_gist_picksplit(internal, internal),
	FUNCTION 7 vec_gist_same(vec_gistkey, vec_gistkey, internal),
	FUNCTION 8 hvec_gist_distance(internal, hvec, smallint, oid, internal),
	STORAGE vec_gistkey;
COMMENT ON OPERATOR CLASS hvec_gist_ops USING gist IS 'default GiST opclass of hvec: exact R-tree for ORDER BY <-> or <+>, up to 252 dimensions (no index-only scans)';
COMMENT ON OPERATOR FAMILY hvec_gist_ops USING gist IS 'GiST operator family of hvec_gist_ops';

DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 140000 THEN
		ALTER OPERATOR FAMILY hvec_gist_ops USING gist
			ADD FUNCTION 11 (hvec, hvec) vec_gist_sortsupport(internal);
	END IF;
END $$;

CREATE FUNCTION hvec_spgist_config(internal, internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_spgist_config(internal, internal) IS 'SP-GiST support 1 of hvec_spgist_ops, config: vec leaves, no index-only scans';
CREATE FUNCTION hvec_spgist_compress(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvec_spgist_compress(internal) IS 'SP-GiST support 6 of hvec_spgist_ops, compress: the leaf of an hvec is the vec of its values';

CREATE OPERATOR CLASS hvec_spgist_ops
	DEFAULT FOR TYPE hvec USING spgist AS
	OPERATOR 15 <-> (hvec, hvec) FOR ORDER BY float_ops,
	OPERATOR 16 <+> (hvec, hvec) FOR ORDER BY float_ops,
	FUNCTION 1 hvec_spgist_config(internal, internal),
	FUNCTION 2 vec_spgist_choose(internal, internal),
	FUNCTION 3 vec_spgist_picksplit(internal, internal),
	FUNCTION 4 vec_spgist_inner_consistent(internal, internal),
	FUNCTION 5 vec_spgist_leaf_consistent(internal, internal),
	FUNCTION 6 hvec_spgist_compress(internal);
COMMENT ON OPERATOR CLASS hvec_spgist_ops USING spgist IS 'default SP-GiST opclass of hvec: exact k-d tree for ORDER BY <-> or <+> (leaves stored as vec, no index-only scans)';
COMMENT ON OPERATOR FAMILY hvec_spgist_ops USING spgist IS 'SP-GiST operator family of hvec_spgist_ops';
