"""psycopg 3 adapters for vec: numpy arrays and Vec in, numpy arrays out.

``register_vec(conn)`` (or a cursor) registers, on that connection's or
cursor's adapters only:

* dumpers for ``numpy.ndarray`` and ``machinesoup.Vec``, text and binary;
  a ``%s`` placeholder sends the binary form (4 + 4 * dim bytes, no float
  formatting), ``%t`` the text form.  Every ndarray passed as a parameter
  becomes a vec, as with pgvector-python; plain lists are left alone (they
  stay PostgreSQL arrays): wrap one in ``Vec`` to send it as a vec.
* dumpers by oid, so that binary COPY with ``copy.set_types(["vec"])`` (or
  the schema-qualified name) takes arrays, Vec objects or lists;
* loaders, text and binary, returning float32 numpy arrays; vec[] columns
  load as lists of arrays.
"""

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo

from . import _catalog, _wire
from ._wire import Vec


class _VecTextDumper(Dumper):
    format = Format.TEXT

    def dump(self, obj):
        return _wire.to_text(obj).encode("ascii")


class _VecBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj):
        return _wire.to_binary(obj)


class _VecTextLoader(Loader):
    format = Format.TEXT

    def load(self, data):
        return _wire.from_text(data)


class _VecBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data):
        return _wire.from_binary(data)


def vec_type_info(conn):
    """The TypeInfo of the machinesoup extension's vec, wherever it lives."""
    with conn.cursor() as cur:
        oid, array_oid, schema = _catalog.lookup(cur)
    regtype = "%s.vec" % _catalog.quote_ident(schema)
    return TypeInfo("vec", oid, array_oid, regtype=regtype)


def register_vec(context):
    """Register the vec adapters on a psycopg 3 connection or cursor.

    Raises machinesoup.VecTypeNotFound when the database has no
    machinesoup extension.
    """
    conn = context if isinstance(context, psycopg.BaseConnection) else context.connection
    info = vec_type_info(conn)
    adapters = context.adapters
    # name and qualified name both resolve in copy.set_types() and arrays
    info.register(context)
    adapters.types.add(TypeInfo(info.regtype, info.oid, info.array_oid, regtype=info.regtype))

    text_dumper = type("VecTextDumper", (_VecTextDumper,), {"oid": info.oid})
    binary_dumper = type("VecBinaryDumper", (_VecBinaryDumper,), {"oid": info.oid})
    for cls in (np.ndarray, Vec):
        # binary last: the default for %s
        adapters.register_dumper(cls, text_dumper)
        adapters.register_dumper(cls, binary_dumper)
    adapters.register_loader(info.oid, _VecTextLoader)
    adapters.register_loader(info.oid, _VecBinaryLoader)
    return info
