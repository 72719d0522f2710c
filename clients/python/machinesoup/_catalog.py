"""Finding the vec type of the installed machinesoup extension."""

# The type is found through the extension that owns it, not by name on the
# search_path: a "vec" some other role created in a schema earlier on the
# path must not receive the adapters, and the extension's own schema need
# not be on the path at all.
VEC_TYPE_QUERY = """
SELECT t.oid, t.typarray, n.nspname
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_depend d
    ON d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND d.refobjid = e.oid AND d.deptype = 'e'
   AND d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
  JOIN pg_catalog.pg_type t ON t.oid = d.objid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE e.extname = 'machinesoup' AND t.typname = 'vec'
"""


class VecTypeNotFound(LookupError):
    """The database has no machinesoup extension (CREATE EXTENSION machinesoup)."""


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def lookup(cursor):
    """(oid, array oid, schema) of vec, through a DB-API cursor."""
    cursor.execute(VEC_TYPE_QUERY)
    row = cursor.fetchone()
    if row is None:
        raise VecTypeNotFound(
            "type vec not found: the machinesoup extension is not installed in this database")
    return int(row[0]), int(row[1]), row[2]
