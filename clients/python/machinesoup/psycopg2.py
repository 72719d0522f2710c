"""psycopg2 adapters for vec: numpy arrays and Vec in, numpy arrays out.

``register_vec(conn_or_cursor)`` looks the vec type up through the
machinesoup extension and registers

* an adapter for ``numpy.ndarray`` and ``machinesoup.Vec`` that inlines
  the text form with a cast, ``'[1,2,3]'::"public".vec``.  psycopg2's
  adapters are global (every connection of the process), as are those of
  pgvector-python: every ndarray parameter becomes a vec.  The cast names
  the schema of the connection registered last.
* typecasters for vec and vec[] on that connection or cursor only,
  returning float32 numpy arrays (lists of them for vec[]).
"""

import numpy as np
import psycopg2
import psycopg2.extensions as ext

from . import _catalog, _wire
from ._wire import Vec


class _VecAdapter:
    type_name = "vec"

    def __init__(self, value):
        self._value = value

    def getquoted(self):
        return ("'%s'::%s" % (_wire.to_text(self._value), self.type_name)).encode("ascii")


def _cast_vec(value, cursor):
    if value is None:
        return None
    return _wire.from_text(value)


def register_vec(conn_or_cursor):
    """Register the vec adapters; conn_or_cursor scopes the typecasters.

    Raises machinesoup.VecTypeNotFound when the database has no
    machinesoup extension.
    """
    if isinstance(conn_or_cursor, ext.cursor):
        cur = conn_or_cursor.connection.cursor()
    else:
        cur = conn_or_cursor.cursor()
    try:
        oid, array_oid, schema = _catalog.lookup(cur)
    finally:
        cur.close()
    adapter = type("VecAdapter", (_VecAdapter,),
                   {"type_name": "%s.vec" % _catalog.quote_ident(schema)})
    ext.register_adapter(np.ndarray, adapter)
    ext.register_adapter(Vec, adapter)
    vectype = ext.new_type((oid,), "VEC", _cast_vec)
    ext.register_type(vectype, conn_or_cursor)
    ext.register_type(ext.new_array_type((array_oid,), "VEC[]", vectype), conn_or_cursor)
