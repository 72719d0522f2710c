-- Every object that belongs to the extension has a description, so that
-- psql explains it (\dT+, \df+, \do+, \dC+, \dA+, \dn+, \dt+, \ds+, \dy+):
-- types, functions and aggregates, operators, operator classes and
-- families, the access method, casts, the schema, tables, sequences and
-- the event trigger.  The update scripts carry the same comments:
-- test/t/060_upgrade.pl compares an updated database with a fresh one,
-- comments included.

-- the extension's members (pg_depend's 'e' entries) and their descriptions
CREATE TEMP VIEW members AS
SELECT d.classid::regclass AS catalog,
	   pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
	   c.description
  FROM pg_depend d
  LEFT JOIN pg_description c
	ON c.classoid = d.classid AND c.objoid = d.objid AND c.objsubid = d.objsubid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'machinesoup')
   AND d.deptype = 'e';

-- every class of object the extension creates, and whether all are described
SELECT catalog, count(*) > 0 AS has_members, count(*) = count(description) AS all_described
  FROM members GROUP BY catalog ORDER BY catalog::text;

-- objects without a description: none
SELECT object FROM members WHERE coalesce(description, '') = '' ORDER BY object COLLATE "C";

-- each description is one line
SELECT object FROM members WHERE description ~ '\n' ORDER BY object COLLATE "C";

-- The check sees a missing comment of each class: without one object's
-- comment per class, exactly those objects are listed.
BEGIN;
COMMENT ON TYPE vbox IS NULL;
COMMENT ON FUNCTION msivf_handler(internal) IS NULL;
COMMENT ON AGGREGATE avg(vec) IS NULL;
COMMENT ON OPERATOR <+> (vec, vec) IS NULL;
COMMENT ON OPERATOR CLASS vec_l2_ops USING msivf IS NULL;
COMMENT ON OPERATOR FAMILY vec_hash_ops USING hash IS NULL;
COMMENT ON ACCESS METHOD msivf IS NULL;
COMMENT ON CAST (vec AS real[]) IS NULL;
COMMENT ON SCHEMA ms IS NULL;
COMMENT ON TABLE ms.points IS NULL;
COMMENT ON SEQUENCE ms.raw_batches_batch_id_seq IS NULL;
COMMENT ON EVENT TRIGGER machinesoup_processor_drop_guard IS NULL;
SELECT object FROM members WHERE coalesce(description, '') = '' ORDER BY object COLLATE "C";
ROLLBACK;
SELECT count(*) AS undescribed FROM members WHERE coalesce(description, '') = '';

DROP VIEW members;
